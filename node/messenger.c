/*
 * The messenger: 1:1 sessions, signed broadcasts, content, receipts and the
 * store hooks (node/messenger.h). Talkgroups are in messenger_group.c, the
 * control socket in messenger_control.c, tables and sealing in
 * messenger_db.c.
 *
 * Sessions. The first messages of a session (until the peer answers) are
 * PreKey messages: the sender's certificate, its ephemeral key and the id of
 * the recipient's signed prekey, so that any one of them, in any order,
 * starts the session at the recipient. When both sides start a session at
 * once, the one started by the lower node id wins at both ends; the other
 * is kept (archived) so its messages in flight still open.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/messenger_internal.h"

#define BROADCAST_CTX "guardmesh/broadcast/1"
#define SESSION_TAG "session"

void gm__msgr_log(gm_messenger_t *g, int level, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    gm_node_log(g->node, level, "%s", line);
}

static uint64_t wall(const gm_messenger_t *g)
{
    return gm_node_wall(g->node);
}

static const uint8_t *self_id(const gm_messenger_t *g)
{
    return gm_node_id(g->node);
}

/*
 * ---- padding: power-of-two buckets from 64 bytes to 1 KiB, then steps of
 * 256 bytes (short messages, whose kinds differ, hide among each other; a
 * long text would waste up to a KiB on whole-KiB steps) ----
 */

static size_t pad_bucket(size_t len)
{
    size_t b = 64;

    while (b <= len && b < GM_MSGR_PAD_MAX) {
        b *= 2;
    }
    return b > len ? b : (len / GM_MSGR_PAD_STEP + 1) * GM_MSGR_PAD_STEP;
}

int gm__msgr_pad(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
    size_t cap = pad_bucket(len);
    size_t padded;
    uint8_t *buf = malloc(cap);

    if (buf == NULL) {
        return GM_ENOMEM;
    }
    memcpy(buf, in, len);
    /* ISO/IEC 7816-4: 0x80 then zeros; there is always room for the 0x80 */
    if (sodium_pad(&padded, buf, len, cap, cap) != 0) {
        sodium_memzero(buf, cap);
        free(buf);
        return GM_ELIMIT;
    }
    *out = buf;
    *out_len = padded;
    return 0;
}

int gm__msgr_unpad(const uint8_t *in, size_t len, size_t *out_len)
{
    return len > 0 && sodium_unpad(out_len, in, len, len) == 0 ? 0 : GM_EPROTO;
}

/* ---- sessions ---- */

typedef struct {
    sqlite3_int64 rowid; /* 0: not stored yet */
    gm_dr_state_t dr;
    bool prekey; /* we started it and have not heard back: send PreKey messages */
    uint8_t ek[GM_X3DH_KEY_LEN];
    uint32_t spk_id;
} session_t;

/* A session row is sealed to its peer and its ephemeral key: rows cannot be swapped. */
static void session_key(uint8_t key[GM_ID_LEN + GM_X3DH_KEY_LEN], const uint8_t peer[GM_ID_LEN],
                        const uint8_t ek[GM_X3DH_KEY_LEN])
{
    memcpy(key, peer, GM_ID_LEN);
    memcpy(key + GM_ID_LEN, ek, GM_X3DH_KEY_LEN);
}

static int session_unseal(gm_messenger_t *g, const uint8_t peer[GM_ID_LEN],
                          const uint8_t ek[GM_X3DH_KEY_LEN], const void *sealed, size_t len,
                          gm_dr_state_t *dr)
{
    uint8_t *pt, key[GM_ID_LEN + GM_X3DH_KEY_LEN];
    size_t pt_len;
    int err;

    session_key(key, peer, ek);
    err = gm__msgr_open(g, SESSION_TAG, key, sizeof key, sealed, len, &pt, &pt_len);

    if (err == 0) {
        err = gm_dr_deserialize(dr, pt, pt_len);
        sodium_memzero(pt, pt_len);
        free(pt);
    }
    return err;
}

static int session_seal(gm_messenger_t *g, const uint8_t peer[GM_ID_LEN],
                        const uint8_t ek[GM_X3DH_KEY_LEN], const gm_dr_state_t *dr,
                        uint8_t **sealed, size_t *sealed_len)
{
    uint8_t *pt, key[GM_ID_LEN + GM_X3DH_KEY_LEN];
    size_t pt_len;
    int err = gm_dr_serialize(dr, &pt, &pt_len);

    session_key(key, peer, ek);
    if (err == 0) {
        err = gm__msgr_seal(g, SESSION_TAG, key, sizeof key, pt, pt_len, sealed, sealed_len);
        sodium_memzero(pt, pt_len);
        free(pt);
    }
    return err;
}

/* Writes s: a new row (active or archived), or its row's new state. */
static int session_save(gm_messenger_t *g, const uint8_t peer[GM_ID_LEN], session_t *s,
                        bool active)
{
    uint8_t *sealed;
    size_t sealed_len;
    sqlite3_stmt *st;
    static const uint8_t none[GM_DR_KEY_LEN];
    /* zeros while nothing came on it: the peer's first reply will bring a key of its own */
    const uint8_t *dhr = s->dr.has_ckr ? s->dr.dhr : none;
    int err = session_seal(g, peer, s->ek, &s->dr, &sealed, &sealed_len);

    if (err != 0) {
        return err;
    }
    if (s->rowid != 0) {
        st = gm__msgr_q(g, MQ_SESSION_UPDATE);
        if (st != NULL) {
            sqlite3_bind_int64(st, 1, s->rowid);
            gm__msgr_bind_blob(st, 2, sealed, sealed_len);
            sqlite3_bind_int(st, 3, s->prekey);
            sqlite3_bind_int64(st, 4, (sqlite3_int64)wall(g));
            gm__msgr_bind_blob(st, 5, dhr, GM_DR_KEY_LEN);
        }
        err = gm__msgr_run(g, st);
    } else {
        if (active) {
            st = gm__msgr_q(g, MQ_SESSION_DEMOTE);
            if (st != NULL) {
                gm__msgr_bind_blob(st, 1, peer, GM_ID_LEN);
            }
            err = gm__msgr_run(g, st);
        }
        st = err == 0 ? gm__msgr_q(g, MQ_SESSION_INSERT) : NULL;
        if (st != NULL) {
            gm__msgr_bind_blob(st, 1, peer, GM_ID_LEN);
            sqlite3_bind_int(st, 2, active);
            gm__msgr_bind_blob(st, 3, s->ek, sizeof s->ek);
            sqlite3_bind_int64(st, 4, s->spk_id);
            sqlite3_bind_int(st, 5, s->prekey);
            sqlite3_bind_int64(st, 6, (sqlite3_int64)wall(g));
            gm__msgr_bind_blob(st, 7, sealed, sealed_len);
            gm__msgr_bind_blob(st, 8, dhr, GM_DR_KEY_LEN);
            err = gm__msgr_run(g, st);
            s->rowid = err == 0 ? sqlite3_last_insert_rowid(g->db) : 0;
        } else if (err == 0) {
            err = GM_EIO;
        }
        st = err == 0 ? gm__msgr_q(g, MQ_SESSION_TRIM) : NULL;
        if (st != NULL) {
            gm__msgr_bind_blob(st, 1, peer, GM_ID_LEN);
            sqlite3_bind_int(st, 2, GM_MSGR_MAX_ARCHIVED);
            err = gm__msgr_run(g, st);
        }
    }
    free(sealed);
    return err;
}

static int session_active(gm_messenger_t *g, const uint8_t peer[GM_ID_LEN], session_t *s)
{
    sqlite3_stmt *st = gm__msgr_q(g, MQ_SESSION_ACTIVE);
    int err = GM_ENOENT;

    if (st == NULL) {
        return GM_EIO;
    }
    gm__msgr_bind_blob(st, 1, peer, GM_ID_LEN);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 3) == GM_X3DH_KEY_LEN) {
        s->rowid = sqlite3_column_int64(st, 0);
        s->prekey = sqlite3_column_int(st, 2) != 0;
        memcpy(s->ek, sqlite3_column_blob(st, 3), GM_X3DH_KEY_LEN);
        s->spk_id = (uint32_t)sqlite3_column_int64(st, 4);
        err = session_unseal(g, peer, s->ek, sqlite3_column_blob(st, 1),
                             (size_t)sqlite3_column_bytes(st, 1), &s->dr);
    }
    sqlite3_reset(st);
    return err;
}

/* A new session as Alice, from the peer's signed prekey. */
static int session_start(gm_messenger_t *g, const gm__msgr_peer_t *peer, session_t *s)
{
    const gm_node_keys_t *k = gm_node_keys(g->node);
    uint8_t ek_sk[GM_X3DH_KEY_LEN], seed[GM_X3DH_KEY_LEN], sk[GM_X3DH_KEY_LEN];
    uint8_t ad[GM_X3DH_AD_LEN];
    int err;

    if (!peer->has_spk) {
        return GM_ENOENT;
    }
    memset(s, 0, sizeof *s);
    randombytes_buf(seed, sizeof seed);
    gm_x25519_keypair(s->ek, ek_sk, seed);
    randombytes_buf(seed, sizeof seed);
    err = gm_x3dh_initiate(k->e2e_sk, ek_sk, peer->cert.body.e2e_pk, peer->spk.pk, GM_X3DH_INFO,
                           sk, sizeof sk);
    gm_x3dh_ad(ad, self_id(g), peer->cert.body.node_id, k->e2e_pk, peer->cert.body.e2e_pk,
               peer->spk.id);
    if (err == 0) {
        err = gm_dr_init_alice(&s->dr, sk, peer->spk.pk, seed, ad, sizeof ad);
    }
    sodium_memzero(ek_sk, sizeof ek_sk);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    s->prekey = true;
    s->spk_id = peer->spk.id;
    if (err == 0) {
        g->st.sessions_started++;
    }
    return err;
}

/* ---- sending ---- */

/* Encodes content, padded, for a ratchet or sender key. */
int gm__msgr_content_plaintext(const gm_content_t *c, uint8_t **out, size_t *out_len)
{
    size_t len = gm_wire_content_size(c);
    uint8_t *enc;
    int err;

    if (len == 0) {
        return GM_EPROTO;
    }
    enc = malloc(len);
    if (enc == NULL) {
        return GM_ENOMEM;
    }
    err = gm_wire_content_encode(c, enc, len, &len);
    if (err == 0) {
        err = gm__msgr_pad(enc, len, out, out_len);
    }
    sodium_memzero(enc, len);
    free(enc);
    return err;
}

/* Encodes env and hands it to the mesh. */
static int send_envelope(gm_messenger_t *g, const gm_dest_t *dst, gm_prio_t prio,
                         const gm_envelope_t *env, uint8_t bundle_id[GM_ID_LEN])
{
    size_t len = gm_wire_envelope_size(env);
    uint8_t *buf;
    int err;

    if (len == 0 || len > GM_MSGR_BODY_MAX) {
        return len == 0 ? GM_EPROTO : GM_ELIMIT;
    }
    buf = malloc(len);
    if (buf == NULL) {
        return GM_ENOMEM;
    }
    err = gm_wire_envelope_encode(env, buf, len, &len);
    if (err == 0) {
        err = gm_mesh_send(g->mesh, dst, prio, 0, 0, buf, len, bundle_id);
    }
    free(buf);
    if (err == 0) {
        g->st.sent++;
    }
    return err;
}

int gm__msgr_send_1to1(gm_messenger_t *g, const gm__msgr_peer_t *peer, const gm_content_t *c,
                       gm_prio_t prio, uint8_t bundle_id[GM_ID_LEN])
{
    const uint8_t *id = peer->cert.body.node_id;
    gm_dest_t dst = {.kind = GM_DST_NODE};
    gm_envelope_t env = {0};
    gm_dr_header_t h;
    session_t s;
    uint8_t *pt = NULL, *ct = NULL;
    size_t pt_len = 0;
    const gm_cert_t *own = gm_node_cert(g->node);
    int err = session_active(g, id, &s);

    if (err == 0 && s.prekey && peer->has_spk && peer->spk.id != s.spk_id) {
        /* never answered, and the peer has moved to a new prekey: it may have wiped ours */
        gm_dr_wipe(&s.dr);
        err = GM_ENOENT;
    }
    if (err == GM_ENOENT) {
        err = session_start(g, peer, &s);
    }
    if (err != 0) {
        return err;
    }
    err = gm__msgr_content_plaintext(c, &pt, &pt_len);
    ct = err == 0 ? malloc(pt_len + GM_DR_TAG_LEN) : NULL;
    err = err == 0 && ct == NULL ? GM_ENOMEM : err;
    if (err == 0) {
        err = gm_dr_encrypt(&s.dr, pt, pt_len, &h, ct);
    }
    if (err == 0) {
        gm_ratchet_msg_t *rm = s.prekey ? &env.prekey.message : &env.ratchet;
        gm_dr_header_encode(&h, rm->header);
        rm->ciphertext = ct;
        rm->ciphertext_len = pt_len + GM_DR_TAG_LEN;
        env.kind = s.prekey ? GM_ENVELOPE_PREKEY : GM_ENVELOPE_RATCHET;
        if (s.prekey) {
            env.prekey.cert = own->encoded;
            env.prekey.cert_len = own->encoded_len;
            memcpy(env.prekey.ephemeral, s.ek, sizeof s.ek);
            env.prekey.prekey_id = s.spk_id;
        }
        memcpy(dst.id, id, GM_ID_LEN);
        err = session_save(g, id, &s, true);
    }
    if (err == 0) {
        err = send_envelope(g, &dst, prio, &env, bundle_id);
    }
    if (pt != NULL) {
        sodium_memzero(pt, pt_len);
    }
    free(pt);
    free(ct);
    gm_dr_wipe(&s.dr);
    return err;
}

/* ---- receiving 1:1 ---- */

static int decrypt_with(gm_messenger_t *g, gm_dr_state_t *dr, const gm_ratchet_msg_t *rm,
                        uint8_t **pt, size_t *pt_len)
{
    gm_dr_header_t h;
    uint8_t seed[GM_DR_KEY_LEN];
    uint8_t *buf;
    size_t n = rm->ciphertext_len - GM_DR_TAG_LEN;
    int err;

    buf = malloc(n + 1);
    if (buf == NULL) {
        return GM_ENOMEM;
    }
    gm_dr_header_decode(&h, rm->header);
    randombytes_buf(seed, sizeof seed);
    err = gm_dr_decrypt(dr, &h, rm->ciphertext, rm->ciphertext_len, buf, wall(g),
                        GM_BUNDLE_LIFETIME_MAX, seed);
    sodium_memzero(seed, sizeof seed);
    if (err == 0) {
        err = gm__msgr_unpad(buf, n, pt_len);
    }
    if (err != 0) {
        sodium_memzero(buf, n);
        free(buf);
        return err;
    }
    *pt = buf;
    return 0;
}

/* Decodes a decrypted, unpadded plaintext and handles it. */
int gm__msgr_on_plaintext(gm_messenger_t *g, const uint8_t sender[GM_ID_LEN], const uint8_t *group,
                          bool broadcast, const uint8_t *pt, size_t len)
{
    gm_content_t c;
    int err = gm_wire_content_decode(pt, len, &c);

    if (err != 0) {
        g->st.dropped_malformed++;
        return 0; /* authentic but unreadable: nothing to keep, nothing to retry */
    }
    err = gm__msgr_on_content(g, sender, group, broadcast, &c);
    gm_content_free(&c);
    return err;
}

/* Whether an archived session may be the message's: its chain, or awaiting a first reply. */
static bool archived_may_match(sqlite3_stmt *st, const uint8_t dh[GM_DR_KEY_LEN])
{
    static const uint8_t none[GM_DR_KEY_LEN];
    const void *dhr = sqlite3_column_blob(st, 5);

    return sqlite3_column_bytes(st, 5) == GM_DR_KEY_LEN &&
           (memcmp(dhr, dh, GM_DR_KEY_LEN) == 0 || memcmp(dhr, none, GM_DR_KEY_LEN) == 0);
}

static int session_promote(gm_messenger_t *g, const uint8_t peer[GM_ID_LEN], sqlite3_int64 rowid)
{
    sqlite3_stmt *st = gm__msgr_q(g, MQ_SESSION_PROMOTE);

    if (st != NULL) {
        gm__msgr_bind_blob(st, 1, peer, GM_ID_LEN);
        sqlite3_bind_int64(st, 2, rowid);
    }
    return gm__msgr_run(g, st);
}

/*
 * Tries the active session with the peer, and archived ones whose current
 * ratchet key the message names (or that await a first reply): a forged
 * message (the source in a bundle header is not authenticated) costs a trial
 * or two, not one per archived session. An archived session on which the
 * peer starts a new chain is the one it uses now: it becomes the active one,
 * so that both ends settle on one session after crossing first messages.
 */
static int on_ratchet(gm_messenger_t *g, const uint8_t src[GM_ID_LEN], const gm_ratchet_msg_t *rm)
{
    sqlite3_stmt *st = gm__msgr_q(g, MQ_SESSION_EACH);
    session_t s = {0};
    uint8_t *pt = NULL, dhr_before[GM_DR_KEY_LEN];
    size_t pt_len = 0;
    bool promote = false;
    int err = GM_ENOENT, tried = 0;

    if (st == NULL) {
        return GM_EIO;
    }
    if (!gm__msgr_sender_ok(g, src)) {
        return 0;
    }
    gm__msgr_bind_blob(st, 1, src, GM_ID_LEN);
    while (err != 0 && err != GM_ENOMEM && sqlite3_step(st) == SQLITE_ROW) {
        bool active = sqlite3_column_int(st, 4) != 0;
        int e = GM_ENOENT;
        if (sqlite3_column_bytes(st, 3) != GM_X3DH_KEY_LEN ||
            (!active && !archived_may_match(st, rm->header))) {
            continue;
        }
        memcpy(s.ek, sqlite3_column_blob(st, 3), GM_X3DH_KEY_LEN);
        e = session_unseal(g, src, s.ek, sqlite3_column_blob(st, 1),
                           (size_t)sqlite3_column_bytes(st, 1), &s.dr);
        if (e == 0) {
            tried++;
            bool had_chain = s.dr.has_ckr;
            memcpy(dhr_before, s.dr.dhr, sizeof dhr_before);
            e = decrypt_with(g, &s.dr, rm, &pt, &pt_len);
            if (e == 0) {
                s.rowid = sqlite3_column_int64(st, 0);
                s.prekey = false; /* the peer answered: plain ratchet messages from now */
                promote = !active && (!had_chain || memcmp(dhr_before, s.dr.dhr,
                                                           sizeof dhr_before) != 0);
            } else {
                gm_dr_wipe(&s.dr);
            }
        }
        err = e == 0 || err == GM_ENOENT || e == GM_EREPLAY ? e : err;
    }
    sqlite3_reset(st);
    if (err == 0) {
        err = session_save(g, src, &s, false);
        err = err == 0 && promote ? session_promote(g, src, s.rowid) : err;
        err = err == 0 ? gm__msgr_on_plaintext(g, src, NULL, false, pt, pt_len) : err;
        sodium_memzero(pt, pt_len);
        free(pt);
        gm_dr_wipe(&s.dr);
        return err;
    }
    if (tried == 0) {
        g->st.dropped_no_session++;
    } else if (err == GM_EREPLAY) {
        g->st.dropped_replay++;
    } else {
        g->st.dropped_auth++;
    }
    return err == GM_ENOMEM ? err : 0; /* a drop, counted: the bundle is still delivered */
}

/* Whether a new session from the peer becomes the active one (see the top). */
static bool new_session_wins(gm_messenger_t *g, const uint8_t peer[GM_ID_LEN])
{
    session_t cur;

    if (session_active(g, peer, &cur) != 0) {
        return true;
    }
    gm_dr_wipe(&cur.dr);
    return !cur.prekey || memcmp(peer, self_id(g), GM_ID_LEN) < 0;
}

static int accept_session(gm_messenger_t *g, const gm_cert_t *cert, const gm_prekey_msg_t *pm,
                          session_t *s)
{
    const gm_node_keys_t *k = gm_node_keys(g->node);
    uint8_t spk_sk[GM_X3DH_KEY_LEN], spk_pk[GM_X3DH_KEY_LEN], sk[GM_X3DH_KEY_LEN];
    uint8_t ad[GM_X3DH_AD_LEN];
    int err = gm__msgr_spk_get(g, pm->prekey_id, spk_sk, spk_pk);

    if (err != 0) {
        return err == GM_ENOENT ? GM_ENOENT : err; /* unknown or wiped prekey */
    }
    memset(s, 0, sizeof *s);
    err = gm_x3dh_respond(k->e2e_sk, spk_sk, cert->body.e2e_pk, pm->ephemeral, GM_X3DH_INFO, sk,
                          sizeof sk);
    gm_x3dh_ad(ad, cert->body.node_id, self_id(g), cert->body.e2e_pk, k->e2e_pk, pm->prekey_id);
    if (err == 0) {
        err = gm_dr_init_bob(&s->dr, sk, spk_sk, spk_pk, ad, sizeof ad);
    }
    sodium_memzero(spk_sk, sizeof spk_sk);
    sodium_memzero(sk, sizeof sk);
    memcpy(s->ek, pm->ephemeral, sizeof s->ek);
    s->spk_id = pm->prekey_id;
    return err;
}

static int on_prekey(gm_messenger_t *g, const uint8_t src[GM_ID_LEN], const gm_prekey_msg_t *pm)
{
    gm_cert_t *cert = malloc(sizeof *cert);
    session_t s = {0};
    sqlite3_stmt *st;
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    bool known = false;
    int err;

    if (cert == NULL) {
        return GM_ENOMEM;
    }
    if (gm_trust_check_encoded(gm_node_trust(g->node), pm->cert, pm->cert_len, wall(g),
                               GM_ROLES_ALL, cert) != GM_CERT_OK) {
        g->st.dropped_untrusted++;
        free(cert);
        return 0;
    }
    if (memcmp(cert->body.node_id, src, GM_ID_LEN) != 0) {
        g->st.dropped_auth++; /* a certificate that is not the source's */
        free(cert);
        return 0;
    }
    /* a later first message of a session already started: it is an ordinary one */
    st = gm__msgr_q(g, MQ_SESSION_BY_EK);
    if (st == NULL) {
        free(cert);
        return GM_EIO;
    }
    gm__msgr_bind_blob(st, 1, src, GM_ID_LEN);
    gm__msgr_bind_blob(st, 2, pm->ephemeral, GM_KEY_LEN);
    known = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    if (known) {
        free(cert);
        return on_ratchet(g, src, &pm->message);
    }
    err = accept_session(g, cert, pm, &s);
    if (err == 0) {
        err = decrypt_with(g, &s.dr, &pm->message, &pt, &pt_len);
    }
    if (err != 0) {
        gm_dr_wipe(&s.dr);
        free(cert);
        if (err == GM_ENOENT) {
            g->st.dropped_no_session++;
        } else {
            g->st.dropped_auth++;
        }
        return err == GM_ENOMEM ? err : 0;
    }
    /* (prekey, ephemeral) once only: a replayed first message cannot start a session again */
    st = gm__msgr_q(g, MQ_SEEN_ADD);
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, pm->prekey_id);
        gm__msgr_bind_blob(st, 2, pm->ephemeral, GM_KEY_LEN);
        int rc = sqlite3_step(st);
        err = rc == SQLITE_DONE ? 0 : (rc & 0xff) == SQLITE_CONSTRAINT ? GM_EREPLAY : GM_EIO;
        sqlite3_reset(st);
    }
    if (st == NULL || err != 0) {
        g->st.dropped_replay += err == GM_EREPLAY;
        sodium_memzero(pt, pt_len);
        free(pt);
        gm_dr_wipe(&s.dr);
        free(cert);
        return st == NULL || err == GM_EIO ? GM_EIO : 0;
    }
    g->st.sessions_accepted++;
    err = gm__msgr_contact_put(g, cert, NULL, 0);
    if (err == 0) {
        err = session_save(g, src, &s, new_session_wins(g, src));
    }
    if (err == 0) {
        err = gm__msgr_on_plaintext(g, src, NULL, false, pt, pt_len);
    }
    sodium_memzero(pt, pt_len);
    free(pt);
    gm_dr_wipe(&s.dr);
    free(cert);
    return err;
}

/* ---- broadcasts: signed, readable by every certified node ---- */

int gm__msgr_send_broadcast(gm_messenger_t *g, const gm_content_t *c, gm_prio_t prio,
                            uint8_t bundle_id[GM_ID_LEN])
{
    const gm_cert_t *own = gm_node_cert(g->node);
    gm_envelope_t env = {.kind = GM_ENVELOPE_BROADCAST};
    gm_dest_t dst = {.kind = GM_DST_ALL};
    size_t len = gm_wire_content_size(c);
    uint8_t *buf;
    int err;

    if (len == 0) {
        return GM_EPROTO;
    }
    buf = malloc(len);
    if (buf == NULL) {
        return GM_ENOMEM;
    }
    err = gm_wire_content_encode(c, buf, len, &len);
    if (err == 0) {
        err = gm_node_keys_sign(gm_node_keys(g->node), BROADCAST_CTX, buf, len,
                                env.broadcast.signature);
    }
    if (err == 0) {
        env.broadcast.cert = own->encoded;
        env.broadcast.cert_len = own->encoded_len;
        env.broadcast.content = buf;
        env.broadcast.content_len = len;
        err = send_envelope(g, &dst, prio, &env, bundle_id);
    }
    free(buf);
    return err;
}

static int on_broadcast(gm_messenger_t *g, const uint8_t src[GM_ID_LEN], const gm_broadcast_t *bc)
{
    gm_cert_t *cert = malloc(sizeof *cert);
    int err = 0;

    if (cert == NULL) {
        return GM_ENOMEM;
    }
    if (gm_trust_check_encoded(gm_node_trust(g->node), bc->cert, bc->cert_len, wall(g),
                               GM_ROLES_ALL, cert) != GM_CERT_OK) {
        g->st.dropped_untrusted++;
    } else if (memcmp(cert->body.node_id, src, GM_ID_LEN) != 0 ||
               gm_sign_verify(cert->body.sign_pk, BROADCAST_CTX, bc->content, bc->content_len,
                              bc->signature) != 0) {
        g->st.dropped_auth++;
    } else {
        err = gm__msgr_contact_put(g, cert, NULL, 0);
        err = err == 0 ? gm__msgr_on_plaintext(g, src, NULL, true, bc->content, bc->content_len)
                       : err;
    }
    free(cert);
    return err;
}

/* ---- the mesh's hooks ---- */

static int on_receive(void *ctx, const gm_bundle_t *b)
{
    gm_messenger_t *g = ctx;
    gm_envelope_t env;
    int err;

    if (gm_wire_envelope_decode(b->body, b->body_len, &env) != 0) {
        g->st.dropped_malformed++;
        return 0; /* delivered, and dropped here: counted */
    }
    g->st.received++;
    if ((env.kind == GM_ENVELOPE_RATCHET || env.kind == GM_ENVELOPE_PREKEY) &&
        b->dst.kind != GM_DST_NODE) {
        g->st.dropped_malformed++; /* a 1:1 message flooded: no sender makes one */
        gm_envelope_free(&env);
        return 0;
    }
    if (gm_mesh_begin(g->mesh, NULL) != 0) {
        gm_envelope_free(&env);
        return GM_EIO;
    }
    switch (env.kind) {
    case GM_ENVELOPE_RATCHET:
        err = on_ratchet(g, b->src, &env.ratchet);
        break;
    case GM_ENVELOPE_PREKEY:
        err = on_prekey(g, b->src, &env.prekey);
        break;
    case GM_ENVELOPE_GROUP:
        err = gm__msgr_on_group_message(g, b, &env);
        break;
    default:
        err = on_broadcast(g, b->src, &env.broadcast);
        break;
    }
    gm_envelope_free(&env);
    if (err != 0) {
        /* the store failed: roll back, so that the bundle comes again and nothing is lost */
        gm__msgr_log(g, GM_LOG_ERROR, "messenger: cannot take a message: %s", gm_strerror(err));
        gm_mesh_abort(g->mesh);
    }
    return err;
}

static void on_own_event(void *ctx, const uint8_t id[GM_ID_LEN], gm_mesh_own_event_t ev)
{
    gm_messenger_t *g = ctx;
    sqlite3_stmt *st = gm__msgr_q(g, MQ_OUTBOX_BY_BUNDLE);
    uint8_t msg_id[16];
    bool found = false, delivered = false, relayed = false;

    if (st == NULL) {
        return;
    }
    gm__msgr_bind_blob(st, 1, id, GM_ID_LEN);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 16) {
        found = true;
        memcpy(msg_id, sqlite3_column_blob(st, 0), 16);
        relayed = sqlite3_column_int64(st, 1) != 0;
        delivered = sqlite3_column_int64(st, 2) != 0;
    }
    sqlite3_reset(st);
    if (!found || (ev == GM_MESH_OWN_RELAYED && relayed) ||
        (ev == GM_MESH_OWN_EXPIRED && delivered)) {
        return;
    }
    if (gm__msgr_outbox_event(g, msg_id, ev == GM_MESH_OWN_RELAYED ? "relayed" : "expired",
                              NULL) != 0) {
        gm__msgr_log(g, GM_LOG_WARN, "messenger: cannot update the outbox");
    }
}

/* Receipts queued by this turn go out together, one message per peer and kind. */
static void flush_receipts(gm_messenger_t *g)
{
    sqlite3_stmt *st = gm__msgr_q(g, MQ_RECEIPT_PEERS);
    struct {
        uint8_t peer[GM_ID_LEN];
        int kind;
    } todo[64];
    size_t n = 0;

    if (st == NULL) {
        return;
    }
    while (n < 64 && sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) == GM_ID_LEN) {
            memcpy(todo[n].peer, sqlite3_column_blob(st, 0), GM_ID_LEN);
            todo[n++].kind = sqlite3_column_int(st, 1);
        }
    }
    sqlite3_reset(st);
    g->receipts_waiting = n == 64;
    for (size_t i = 0; i < n; i++) {
        if (gm__msgr_send_receipts(g, todo[i].peer, todo[i].kind) != 0) {
            g->receipts_waiting = true; /* the store failed: next turn */
            return;
        }
    }
}

static void on_turn_end(void *ctx)
{
    gm_messenger_t *g = ctx;

    if (g->groups_joined) {
        gm__msgr_groups_catch_up(g);
    }
    if (g->receipts_waiting) {
        g->receipts_waiting = false;
        flush_receipts(g);
    }
}

static void on_tick(void *ctx)
{
    gm_messenger_t *g = ctx;
    uint64_t now = gm_node_now_ms(g->node);

    if (now - g->t_housekeeping < 10000 && g->t_housekeeping != 0) {
        return;
    }
    g->t_housekeeping = now;
    if (gm__msgr_spk_maintain(g) != 0) {
        gm__msgr_log(g, GM_LOG_WARN, "messenger: cannot renew the signed prekey");
    }
    gm__msgr_group_tick(g);
    flush_receipts(g);
}

static void on_counters(void *ctx, void (*fn)(void *fn_ctx, const char *name, uint64_t value),
                        void *fn_ctx)
{
    const gm_messenger_stats_t *s = &((gm_messenger_t *)ctx)->st;
    const struct {
        const char *name;
        uint64_t value;
    } c[] = {
        {"sent", s->sent},
        {"received", s->received},
        {"sessions_started", s->sessions_started},
        {"sessions_accepted", s->sessions_accepted},
        {"inbox_added", s->inbox_added},
        {"duplicates", s->duplicates},
        {"receipts_sent", s->receipts_sent},
        {"receipts_received", s->receipts_received},
        {"group_keys_sent", s->group_keys_sent},
        {"group_keys_received", s->group_keys_received},
        {"group_updates", s->group_updates},
        {"pending_group", s->pending_group},
        {"prekeys_made", s->prekeys_made},
        {"dropped_malformed", s->dropped_malformed},
        {"dropped_auth", s->dropped_auth},
        {"dropped_replay", s->dropped_replay},
        {"dropped_no_session", s->dropped_no_session},
        {"dropped_untrusted", s->dropped_untrusted},
        {"dropped_limit", s->dropped_limit},
        {"dropped_not_member", s->dropped_not_member},
    };

    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        fn(fn_ctx, c[i].name, c[i].value);
    }
}

int gm_messenger_new(gm_node_t *node, gm_mesh_t *mesh, gm_messenger_t **out, gm_why_t *why)
{
    static const gm_mesh_app_t app = {on_receive,  gm__msgr_in_group, on_own_event,
                                      on_turn_end, on_tick,           on_counters};
    gm_messenger_t *g = calloc(1, sizeof *g);
    int err;

    if (g == NULL) {
        gm_why_set(why, "out of memory");
        return GM_ENOMEM;
    }
    g->node = node;
    g->mesh = mesh;
    err = gm__msgr_db_open(g, why);
    if (err == 0 && (err = gm__msgr_spk_maintain(g)) != 0) {
        gm_why_set(why, "cannot make or publish a signed prekey: %s", gm_strerror(err));
    }
    if (err != 0) {
        gm__msgr_db_close(g);
        free(g);
        return err;
    }
    g->receipts_waiting = true; /* receipts left from before a restart */
    g->groups_joined = true;    /* and group bundles a crash kept from being handed over */
    gm_mesh_set_app(mesh, &app, g);
    gm__msgr_control_register(g);
    *out = g;
    return 0;
}

void gm_messenger_free(gm_messenger_t *g)
{
    if (g == NULL) {
        return;
    }
    gm_mesh_set_app(g->mesh, NULL, NULL);
    gm_node_set_control_ext(g->node, GM_OP_MESSENGER, NULL, NULL);
    gm__msgr_db_close(g);
    sodium_memzero(g, sizeof *g);
    free(g);
}

void gm_messenger_stats(const gm_messenger_t *g, gm_messenger_stats_t *out)
{
    *out = g->st;
}

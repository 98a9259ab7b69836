/*
 * 1:1 sessions: X3DH from the peer's signed prekey, then the Double Ratchet,
 * with the state sealed in the store (CRYPTO.md section 4).
 *
 * The first messages of a session (until the peer answers) are PreKey
 * messages: the sender's certificate, its ephemeral key and the id of the
 * recipient's signed prekey, so that any one of them, in any order, starts
 * the session at the recipient. When both sides start a session at once,
 * the one started by the lower node id wins at both ends; the other is kept
 * (archived) so its messages in flight still open.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/messenger_internal.h"

#define SESSION_TAG "session"

static const uint8_t *self_id(const gm_messenger_t *g)
{
    return gm_node_id(g->node);
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
            sqlite3_bind_int64(st, 4, (sqlite3_int64)gm__msgr_wall(g));
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
            sqlite3_bind_int64(st, 6, (sqlite3_int64)gm__msgr_wall(g));
            gm__msgr_bind_blob(st, 7, sealed, sealed_len);
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
        err = gm__msgr_send_envelope(g, &dst, prio, &env, bundle_id);
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
    err = gm_dr_decrypt(dr, &h, rm->ciphertext, rm->ciphertext_len, buf, gm__msgr_wall(g),
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

/*
 * Tries the active session with the peer, then its most recently used
 * archived ones (at most GM_MSGR_TRY_ARCHIVED: a forged message, whose
 * source no relay can check, costs that many trials at most). Each side
 * sends on its own active session; the other finds it among its archived
 * ones, so crossing first messages lose nothing even before both ends use
 * the same one.
 */
int gm__msgr_on_ratchet(gm_messenger_t *g, const uint8_t src[GM_ID_LEN], const gm_ratchet_msg_t *rm)
{
    sqlite3_stmt *st = gm__msgr_q(g, MQ_SESSION_EACH);
    session_t s = {0};
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    int err = GM_ENOENT, tried = 0, archived = 0;

    if (st == NULL) {
        return GM_EIO;
    }
    err = gm__msgr_sender_check(g, src);
    if (err != 0) {
        return err == GM_EAUTH ? 0 : err;
    }
    err = GM_ENOENT;
    gm__msgr_bind_blob(st, 1, src, GM_ID_LEN);
    while (err != 0 && err != GM_ENOMEM && sqlite3_step(st) == SQLITE_ROW) {
        int e = GM_ENOENT;
        if (sqlite3_column_int(st, 4) == 0 && archived++ == GM_MSGR_TRY_ARCHIVED) {
            break;
        }
        if (sqlite3_column_bytes(st, 3) != GM_X3DH_KEY_LEN) {
            continue;
        }
        memcpy(s.ek, sqlite3_column_blob(st, 3), GM_X3DH_KEY_LEN);
        e = session_unseal(g, src, s.ek, sqlite3_column_blob(st, 1),
                           (size_t)sqlite3_column_bytes(st, 1), &s.dr);
        if (e == 0) {
            tried++;
            e = decrypt_with(g, &s.dr, rm, &pt, &pt_len);
            if (e == 0) {
                s.rowid = sqlite3_column_int64(st, 0);
                s.prekey = false; /* the peer answered: plain ratchet messages from now */
            } else {
                gm_dr_wipe(&s.dr);
            }
        }
        err = e == 0 || err == GM_ENOENT || e == GM_EREPLAY ? e : err;
    }
    sqlite3_reset(st);
    if (err == 0) {
        err = session_save(g, src, &s, false);
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
        return err; /* GM_ENOENT: an unknown or wiped prekey */
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

int gm__msgr_on_prekey(gm_messenger_t *g, const uint8_t src[GM_ID_LEN], const gm_prekey_msg_t *pm)
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
    if (gm_trust_check_encoded(gm_node_trust(g->node), pm->cert, pm->cert_len, gm__msgr_wall(g),
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
        return gm__msgr_on_ratchet(g, src, &pm->message);
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

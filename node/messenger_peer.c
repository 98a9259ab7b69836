/*
 * Peers and prekeys: who a node id or a "callsign@org" is (the directory of
 * verified announcements first, then the contacts this node remembers), and
 * this node's own signed prekeys (made, rotated, published, wiped).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/messenger_internal.h"

/* ---- peers: the directory (verified announcements) and the contacts table ---- */

static int spk_from_announcement(gm_messenger_t *g, const gm_cert_t *cert, const uint8_t *buf,
                                 size_t len, gm_spk_t *out)
{
    gm_prekey_announcement_t a;

    if (gm_wire_prekey_announcement_decode(buf, len, &a) != 0 ||
        gm_sign_verify(cert->body.sign_pk, GM_SPK_CTX, a.prekey, a.prekey_len, a.signature) != 0 ||
        gm_wire_spk_decode(a.prekey, a.prekey_len, out) != 0 || !gm_x25519_pk_is_valid(out->pk)) {
        g->st.dropped_auth++;
        return GM_EAUTH;
    }
    /* past its validity its owner may have wiped it: a session on it would never open */
    return out->expires + GM_CERT_SKEW_SECONDS >= gm__msgr_wall(g) ? 0 : GM_EAUTH;
}

/*
 * The contact row of id, unsealed into *pt (free it): a 2-byte certificate
 * length, the certificate, then the prekey announcement (*ann_off .. *pt_len,
 * possibly empty). GM_ENOENT, GM_EIO, GM_EAUTH, GM_EPROTO.
 */
static int contact_read(gm_messenger_t *g, const uint8_t id[GM_ID_LEN], uint8_t **pt,
                        size_t *pt_len, size_t *ann_off)
{
    sqlite3_stmt *st = gm__msgr_q(g, MQ_CONTACT_GET);
    size_t cert_len;
    int err = GM_ENOENT;

    if (st == NULL) {
        return GM_EIO;
    }
    gm__msgr_bind_blob(st, 1, id, GM_ID_LEN);
    if (sqlite3_step(st) == SQLITE_ROW) {
        err = gm__msgr_open(g, "contact", id, GM_ID_LEN, sqlite3_column_blob(st, 0),
                            (size_t)sqlite3_column_bytes(st, 0), pt, pt_len);
    }
    sqlite3_reset(st);
    if (err != 0) {
        return err;
    }
    cert_len = *pt_len >= 2 ? (size_t)(*pt)[0] << 8 | (*pt)[1] : 0;
    if (cert_len == 0 || 2 + cert_len > *pt_len || *pt_len - 2 - cert_len > GM_E2E_PREKEY_ANN_MAX) {
        free(*pt);
        return GM_EPROTO;
    }
    *ann_off = 2 + cert_len;
    return 0;
}

/* The prekey announcement remembered for id, if any. GM_ENOENT. */
static int contact_ann(gm_messenger_t *g, const uint8_t id[GM_ID_LEN],
                       uint8_t out[GM_E2E_PREKEY_ANN_MAX], size_t *len)
{
    uint8_t *pt;
    size_t pt_len, off;
    int err = contact_read(g, id, &pt, &pt_len, &off);

    if (err == 0) {
        *len = pt_len - off;
        err = *len > 0 ? 0 : GM_ENOENT;
        memcpy(out, pt + off, *len);
        free(pt);
    }
    return err;
}

static int contact_get(gm_messenger_t *g, const uint8_t id[GM_ID_LEN], gm__msgr_peer_t *out,
                       bool want_spk);

/* Contacts: node id -> sealed (certificate, prekey announcement). */
int gm__msgr_contact_put(gm_messenger_t *g, const gm_cert_t *cert, const uint8_t *ann, size_t ann_len)
{
    char name[2 * GM_NAME_MAX + 2];
    uint8_t mac[16], *pt, *sealed, kept[GM_E2E_PREKEY_ANN_MAX];
    size_t pt_len, sealed_len;
    sqlite3_stmt *st;
    gm__msgr_peer_t *known = malloc(sizeof *known);
    bool older;
    int err;

    if (known == NULL) {
        return GM_ENOMEM;
    }
    older = contact_get(g, cert->body.node_id, known, false) == 0 &&
            known->cert.body.not_before > cert->body.not_before;
    free(known);
    if (older) {
        return 0; /* an old certificate (a replayed message's) never replaces a newer one */
    }
    if (ann_len == 0 && contact_ann(g, cert->body.node_id, kept, &ann_len) == 0) {
        ann = kept; /* a message that carries no prekey does not forget the one we know */
    }
    pt_len = 2 + cert->encoded_len + ann_len;
    pt = malloc(pt_len);
    if (pt == NULL) {
        return GM_ENOMEM;
    }
    pt[0] = (uint8_t)(cert->encoded_len >> 8);
    pt[1] = (uint8_t)cert->encoded_len;
    memcpy(pt + 2, cert->encoded, cert->encoded_len);
    if (ann_len > 0) {
        memcpy(pt + 2 + cert->encoded_len, ann, ann_len);
    }
    err = gm__msgr_seal(g, "contact", cert->body.node_id, GM_ID_LEN, pt, pt_len, &sealed,
                        &sealed_len);
    free(pt);
    if (err != 0) {
        return err;
    }
    snprintf(name, sizeof name, "%s@%s", cert->body.callsign, cert->body.org_name);
    gm__msgr_name_mac(g, name, mac);
    st = gm__msgr_q(g, MQ_CONTACT_PUT);
    if (st != NULL) {
        gm__msgr_bind_blob(st, 1, cert->body.node_id, GM_ID_LEN);
        gm__msgr_bind_blob(st, 2, mac, sizeof mac);
        gm__msgr_bind_blob(st, 3, sealed, sealed_len);
    }
    err = gm__msgr_run(g, st);
    free(sealed);
    return err;
}

/*
 * A contact's certificate (not judged here) and, with want_spk, its prekey
 * (verified: an Ed25519 check, so only for those that send to it).
 */
static int contact_get(gm_messenger_t *g, const uint8_t id[GM_ID_LEN], gm__msgr_peer_t *out,
                       bool want_spk)
{
    uint8_t *pt;
    size_t pt_len, off;
    int err = contact_read(g, id, &pt, &pt_len, &off);

    if (err != 0) {
        return err;
    }
    err = gm_cert_decode(pt + 2, off - 2, &out->cert);
    out->has_spk = err == 0 && want_spk && pt_len > off &&
                   spk_from_announcement(g, &out->cert, pt + off, pt_len - off, &out->spk) == 0;
    free(pt);
    return err;
}

/* From the directory; remembered in the contacts when its prekey is new. */
static int directory_get(gm_messenger_t *g, const uint8_t id[GM_ID_LEN], gm__msgr_peer_t *out)
{
    gm_router_node_t node;

    if (gm_router_lookup(gm_mesh_router(g->mesh), id, &node) != 0) {
        return GM_ENOENT;
    }
    out->cert = node.cert;
    out->has_spk = node.prekeys_len > 0 &&
                   spk_from_announcement(g, &node.cert, node.prekeys, node.prekeys_len,
                                         &out->spk) == 0;
    if (out->has_spk) { /* remembered, unless the very same announcement is already */
        uint8_t known[GM_E2E_PREKEY_ANN_MAX];
        size_t known_len;
        if ((contact_ann(g, id, known, &known_len) != 0 || known_len != node.prekeys_len ||
             memcmp(known, node.prekeys, known_len) != 0) &&
            gm__msgr_contact_put(g, &node.cert, node.prekeys, node.prekeys_len) != 0) {
            gm__msgr_log(g, GM_LOG_WARN, "messenger: cannot remember a contact");
        }
    }
    return 0;
}

int gm__msgr_peer(gm_messenger_t *g, const uint8_t id[GM_ID_LEN], gm__msgr_peer_t *out)
{
    int err = directory_get(g, id, out); /* the directory holds only acceptable certificates */

    if (err != 0 && (err = contact_get(g, id, out, true)) == 0 &&
        gm_trust_check(gm_node_trust(g->node), &out->cert, gm__msgr_wall(g), GM_ROLES_ALL) != GM_CERT_OK) {
        err = GM_EAUTH; /* revoked or expired since we met it */
    }
    return err;
}

int gm__msgr_sender_check(gm_messenger_t *g, const uint8_t id[GM_ID_LEN])
{
    gm_router_node_t node;
    gm__msgr_peer_t *p;
    int err;

    if (gm_router_lookup(gm_mesh_router(g->mesh), id, &node) == 0) {
        return 0; /* the directory holds only acceptable certificates: no more to check */
    }
    p = malloc(sizeof *p);
    err = p == NULL ? GM_ENOMEM : contact_get(g, id, p, false);
    if (err == 0 && gm_trust_check(gm_node_trust(g->node), &p->cert, gm__msgr_wall(g), GM_ROLES_ALL) !=
                        GM_CERT_OK) {
        err = GM_EAUTH;
    }
    free(p);
    if (err != 0 && err != GM_EIO && err != GM_ENOMEM) {
        g->st.dropped_untrusted++;
        err = GM_EAUTH;
    }
    return err;
}

void gm__msgr_peer_name(gm_messenger_t *g, const uint8_t id[GM_ID_LEN], char *out, size_t cap)
{
    gm__msgr_peer_t *p = malloc(sizeof *p);
    gm_cert_body_t body;

    /* the name only: no prekey to check, nothing to remember (listings call this per row) */
    if (gm_router_cert_body(gm_mesh_router(g->mesh), id, &body) == 0) {
        snprintf(out, cap, "%s@%s", body.callsign, body.org_name);
    } else if (p != NULL && contact_get(g, id, p, false) == 0) {
        snprintf(out, cap, "%s@%s", p->cert.body.callsign, p->cert.body.org_name);
    } else if (cap > 2 * GM_ID_LEN) {
        sodium_bin2hex(out, cap, id, GM_ID_LEN);
    } else if (cap > 0) {
        out[0] = 0;
    }
    free(p);
}

static bool names_match(const gm_cert_body_t *b, const char *name)
{
    char full[2 * GM_NAME_MAX + 2];

    snprintf(full, sizeof full, "%s@%s", b->callsign, b->org_name);
    return strcmp(full, name) == 0;
}

int gm__msgr_resolve(gm_messenger_t *g, const char *name, gm__msgr_peer_t *out, gm_why_t *why)
{
    const gm_router_t *r = gm_mesh_router(g->mesh);
    gm_route_info_t ri;
    uint8_t mac[16], cand[8][GM_ID_LEN];
    size_t n = 0;
    sqlite3_stmt *st;
    gm_cert_verdict_t v;
    int err = GM_ENOENT;

    for (size_t i = 0; gm_router_route_at(r, i, 0, &ri) == 0; i++) {
        gm_cert_body_t body;

        if (gm_router_cert_body(r, ri.dest, &body) == 0 && names_match(&body, name)) {
            err = directory_get(g, ri.dest, out);
            break;
        }
    }
    if (err == GM_ENOENT) { /* not announced lately: a contact from before? */
        gm__msgr_name_mac(g, name, mac);
        st = gm__msgr_q(g, MQ_CONTACT_BY_NAME);
        if (st == NULL) {
            return GM_EIO;
        }
        gm__msgr_bind_blob(st, 1, mac, sizeof mac);
        while (n < 8 && sqlite3_step(st) == SQLITE_ROW) {
            if (sqlite3_column_bytes(st, 0) == GM_ID_LEN) {
                memcpy(cand[n++], sqlite3_column_blob(st, 0), GM_ID_LEN);
            }
        }
        sqlite3_reset(st);
        /* a keyed hash could collide: the sealed certificate's name decides */
        for (size_t i = 0; err != 0 && i < n; i++) {
            err = contact_get(g, cand[i], out, true) == 0 && names_match(&out->cert.body, name)
                      ? 0
                      : GM_ENOENT;
        }
    }
    if (err != 0) {
        gm_why_set(why, "unknown recipient %s: no announcement from it has reached this node "
                        "(check the name, or wait until it is in `guardmesh routes`)", name);
        return GM_ENOENT;
    }
    v = gm_trust_check(gm_node_trust(g->node), &out->cert, gm__msgr_wall(g), GM_ROLES_ALL);
    if (v != GM_CERT_OK) {
        gm_why_set(why, "recipient %s refused: its certificate is %s", name,
                   gm_cert_verdict_str(v));
        return GM_EAUTH;
    }
    if (!out->has_spk) {
        gm_why_set(why, "recipient %s has published no usable prekey yet", name);
        return GM_ENOENT;
    }
    return 0;
}

/* ---- signed prekeys ---- */

static int spk_make(gm_messenger_t *g, uint32_t id)
{
    uint8_t seed[GM_X3DH_KEY_LEN], sk[GM_X3DH_KEY_LEN], *sealed, ann_buf[GM_E2E_PREKEY_ANN_MAX];
    size_t sealed_len, ann_len;
    uint8_t key[4];
    gm_spk_t spk = {.id = id, .created = gm__msgr_wall(g)};
    gm_prekey_announcement_t ann;
    sqlite3_stmt *st;
    int err;

    spk.expires = spk.created + GM_MSGR_SPK_VALID_S;
    randombytes_buf(seed, sizeof seed);
    gm_x25519_keypair(spk.pk, sk, seed);
    sodium_memzero(seed, sizeof seed);
    err = gm_wire_spk_encode(&spk, ann.prekey, sizeof ann.prekey, &ann.prekey_len);
    if (err == 0) {
        err = gm_node_keys_sign(gm_node_keys(g->node), GM_SPK_CTX, ann.prekey, ann.prekey_len,
                                ann.signature);
    }
    if (err == 0) {
        err = gm_wire_prekey_announcement_encode(&ann, ann_buf, sizeof ann_buf, &ann_len);
    }
    gm_store_u32_be(key, id);
    if (err == 0) {
        err = gm__msgr_seal(g, "spk", key, sizeof key, sk, sizeof sk, &sealed, &sealed_len);
    }
    sodium_memzero(sk, sizeof sk);
    if (err != 0) {
        return err;
    }
    st = gm__msgr_q(g, MQ_SPK_PUT);
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)spk.created);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)spk.expires);
        /* kept until every bundle that may use it has expired */
        sqlite3_bind_int64(st, 4, (sqlite3_int64)(spk.expires + GM_BUNDLE_LIFETIME_MAX));
        gm__msgr_bind_blob(st, 5, ann_buf, ann_len);
        gm__msgr_bind_blob(st, 6, sealed, sealed_len);
    }
    err = gm__msgr_run(g, st);
    free(sealed);
    if (err == 0) {
        g->st.prekeys_made++;
        gm__msgr_log(g, GM_LOG_DEBUG, "messenger: new signed prekey %u", id);
    }
    return err;
}

/* Makes a prekey when none is current, wipes old ones, and publishes the newest. */
int gm__msgr_spk_maintain(gm_messenger_t *g)
{
    sqlite3_stmt *st = gm__msgr_q(g, MQ_SPK_NEWEST);
    uint32_t id = 0;
    uint64_t created = 0;
    uint8_t ann[GM_E2E_PREKEY_ANN_MAX];
    size_t ann_len = 0;
    int err = 0;

    if (st == NULL) {
        return GM_EIO;
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
        id = (uint32_t)sqlite3_column_int64(st, 0);
        created = (uint64_t)sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (id == 0 || created + GM_MSGR_SPK_ROTATE_S <= gm__msgr_wall(g)) {
        err = gm_mesh_begin(g->mesh, NULL);
        err = err == 0 ? spk_make(g, id + 1) : err;
        st = err == 0 ? gm__msgr_q(g, MQ_SPK_WIPE) : NULL;
        if (st != NULL) {
            sqlite3_bind_int64(st, 1, (sqlite3_int64)gm__msgr_wall(g));
            err = gm__msgr_run(g, st);
        }
        st = err == 0 ? gm__msgr_q(g, MQ_SEEN_WIPE) : NULL;
        err = err == 0 ? gm__msgr_run(g, st) : err;
        err = err == 0 ? gm_mesh_commit(g->mesh) : err;
        if (err != 0) {
            gm_mesh_abort(g->mesh); /* no half-made prekey left for a later commit */
            return err;
        }
    }
    st = gm__msgr_q(g, MQ_SPK_NEWEST);
    if (st == NULL) {
        return GM_EIO;
    }
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 2) <= (int)sizeof ann) {
        ann_len = (size_t)sqlite3_column_bytes(st, 2);
        memcpy(ann, sqlite3_column_blob(st, 2), ann_len);
    }
    sqlite3_reset(st);
    return ann_len > 0 ? gm_mesh_set_prekeys(g->mesh, ann, ann_len) : GM_EIO;
}

/* Our prekey pair by id (kept until wiped). GM_ENOENT. */
int gm__msgr_spk_get(gm_messenger_t *g, uint32_t id, uint8_t sk[GM_X3DH_KEY_LEN],
                   uint8_t pk[GM_X3DH_KEY_LEN])
{
    sqlite3_stmt *st = gm__msgr_q(g, MQ_SPK_GET);
    uint8_t key[4], *pt = NULL;
    size_t pt_len = 0;
    int err = GM_ENOENT;

    if (st == NULL) {
        return GM_EIO;
    }
    gm_store_u32_be(key, id);
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        err = gm__msgr_open(g, "spk", key, sizeof key, sqlite3_column_blob(st, 0),
                            (size_t)sqlite3_column_bytes(st, 0), &pt, &pt_len);
        err = err == 0 && pt_len != GM_X3DH_KEY_LEN ? GM_EPROTO : err;
    }
    sqlite3_reset(st);
    if (err == 0) {
        memcpy(sk, pt, GM_X3DH_KEY_LEN);
        crypto_scalarmult_base(pk, sk);
    }
    if (pt != NULL) {
        sodium_memzero(pt, pt_len);
        free(pt);
    }
    return err;
}


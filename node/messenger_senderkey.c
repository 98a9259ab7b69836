/*
 * Sender keys and talkgroup messages (CRYPTO.md section 5): this node's own
 * key per group and the other members' keys, sealed in the store; their
 * distribution over 1:1 sessions; group messages sent, opened, or kept
 * (still encrypted) until their sender's key arrives.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/messenger_internal.h"


/* ---- sender keys ---- */

static int sk_own_get(gm_messenger_t *g, const uint8_t group[GM_ID_LEN], gm_sk_state_t *s)
{
    sqlite3_stmt *st = gm__msgr_q(g, MQ_SKOWN_GET);
    uint8_t *pt;
    size_t len;
    int err = GM_ENOENT;

    if (st == NULL) {
        return GM_EIO;
    }
    gm__msgr_bind_blob(st, 1, group, GM_ID_LEN);
    if (sqlite3_step(st) == SQLITE_ROW) {
        err = gm__msgr_open(g, "sk_own", group, GM_ID_LEN, sqlite3_column_blob(st, 0),
                            (size_t)sqlite3_column_bytes(st, 0), &pt, &len);
        if (err == 0) {
            err = gm_sk_deserialize(s, pt, len);
            sodium_memzero(pt, len);
            free(pt);
        }
    }
    sqlite3_reset(st);
    return err;
}

static int sk_put(gm_messenger_t *g, const gm_sk_state_t *s, const uint8_t *sender)
{
    uint8_t *pt, *sealed, key[2 * GM_ID_LEN + 4];
    size_t len, sealed_len;
    sqlite3_stmt *st;
    int err = gm_sk_serialize(s, &pt, &len);

    if (err != 0) {
        return err;
    }
    memcpy(key, s->group_id, GM_ID_LEN);
    memset(key + GM_ID_LEN, 0, GM_ID_LEN);
    if (sender != NULL) {
        memcpy(key + GM_ID_LEN, sender, GM_ID_LEN);
    }
    gm_store_u32_be(key + 2 * GM_ID_LEN, s->key_id);
    err = sender == NULL
              ? gm__msgr_seal(g, "sk_own", s->group_id, GM_ID_LEN, pt, len, &sealed, &sealed_len)
              : gm__msgr_seal(g, "sk_peer", key, sizeof key, pt, len, &sealed, &sealed_len);
    sodium_memzero(pt, len);
    free(pt);
    if (err != 0) {
        return err;
    }
    st = gm__msgr_q(g, sender == NULL ? MQ_SKOWN_PUT : MQ_SKPEER_PUT);
    if (st != NULL && sender == NULL) {
        gm__msgr_bind_blob(st, 1, s->group_id, GM_ID_LEN);
        gm__msgr_bind_blob(st, 2, sealed, sealed_len);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)gm__msgr_wall(g)); /* kept by later updates */
    } else if (st != NULL) {
        gm__msgr_bind_blob(st, 1, s->group_id, GM_ID_LEN);
        gm__msgr_bind_blob(st, 2, sender, GM_ID_LEN);
        sqlite3_bind_int64(st, 3, s->key_id);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)gm__msgr_wall(g));
        gm__msgr_bind_blob(st, 5, sealed, sealed_len);
    }
    err = gm__msgr_run(g, st);
    free(sealed);
    return err;
}

static int sk_peer_get(gm_messenger_t *g, const uint8_t group[GM_ID_LEN],
                       const uint8_t sender[GM_ID_LEN], uint32_t key_id, gm_sk_state_t *s)
{
    sqlite3_stmt *st = gm__msgr_q(g, MQ_SKPEER_GET);
    uint8_t *pt, key[2 * GM_ID_LEN + 4];
    size_t len;
    int err = GM_ENOENT;

    if (st == NULL) {
        return GM_EIO;
    }
    memcpy(key, group, GM_ID_LEN);
    memcpy(key + GM_ID_LEN, sender, GM_ID_LEN);
    gm_store_u32_be(key + 2 * GM_ID_LEN, key_id);
    gm__msgr_bind_blob(st, 1, group, GM_ID_LEN);
    gm__msgr_bind_blob(st, 2, sender, GM_ID_LEN);
    sqlite3_bind_int64(st, 3, key_id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        err = gm__msgr_open(g, "sk_peer", key, sizeof key, sqlite3_column_blob(st, 0),
                            (size_t)sqlite3_column_bytes(st, 0), &pt, &len);
        if (err == 0) {
            err = gm_sk_deserialize(s, pt, len);
            sodium_memzero(pt, len);
            free(pt);
        }
    }
    sqlite3_reset(st);
    return err;
}

/* The distribution message in its wire form, and back. */
static void dist_to_wire(const gm_sk_state_t *s, gm_sender_key_t *w)
{
    gm_sk_dist_t d;

    gm_sk_distribution(s, &d);
    memcpy(w->group_id, d.group_id, GM_ID_LEN);
    w->key_id = d.key_id;
    w->iteration = d.iteration;
    memcpy(w->chain_key, d.chain_key, GM_KEY_LEN);
    memcpy(w->sign_pk, d.sign_pk, GM_KEY_LEN);
    sodium_memzero(&d, sizeof d);
}

static int state_from_wire(gm_sk_state_t *s, const gm_sender_key_t *w)
{
    gm_sk_dist_t d;
    int err;

    memcpy(d.group_id, w->group_id, GM_ID_LEN);
    d.key_id = w->key_id;
    d.iteration = w->iteration;
    memcpy(d.chain_key, w->chain_key, GM_KEY_LEN);
    memcpy(d.sign_pk, w->sign_pk, GM_KEY_LEN);
    err = gm_sk_from_distribution(s, &d);
    sodium_memzero(&d, sizeof d);
    return err;
}

/* A fresh sender key of ours for group, replacing the old one. */
int gm__msgr_sk_rotate(gm_messenger_t *g, const uint8_t group[GM_ID_LEN])
{
    uint8_t chain[GM_SK_KEY_LEN], sign[GM_SK_KEY_LEN];
    gm_sk_state_t s;
    sqlite3_stmt *st;
    int err;

    randombytes_buf(chain, sizeof chain);
    randombytes_buf(sign, sizeof sign);
    gm_sk_create(&s, group, randombytes_random() | 1u, chain, sign);
    sodium_memzero(chain, sizeof chain);
    sodium_memzero(sign, sizeof sign);
    st = gm__msgr_q(g, MQ_SKOWN_DEL); /* a new row: its creation time is now */
    if (st != NULL) {
        gm__msgr_bind_blob(st, 1, group, GM_ID_LEN);
    }
    err = gm__msgr_run(g, st);
    err = err == 0 ? sk_put(g, &s, NULL) : err;
    gm_sk_wipe(&s);
    return err;
}

/* Whether id is in group's current state. */
static bool member_now(gm_messenger_t *g, const uint8_t group[GM_ID_LEN],
                       const uint8_t id[GM_ID_LEN])
{
    gm_group_state_t gs;
    bool in = false;

    if (gm__msgr_group_get(g, group, &gs, NULL, NULL) == 0) {
        in = gm__msgr_is_member(&gs, id);
        gm_group_state_free(&gs);
    }
    return in;
}

/* Owed to member: done now if a session is possible, else remembered for the tick. */
int gm__msgr_sk_send(gm_messenger_t *g, const uint8_t group[GM_ID_LEN],
                           const uint8_t member[GM_ID_LEN])
{
    gm_content_t *c = calloc(1, sizeof *c);
    gm__msgr_peer_t *p = malloc(sizeof *p);
    gm_sk_state_t s;
    sqlite3_stmt *st;
    int err = c == NULL || p == NULL ? GM_ENOMEM : 0;

    if (err == 0 && !member_now(g, group, member)) {
        free(c);
        free(p);
        return 0; /* removed since it was owed the key: it must never get it */
    }
    err = err == 0 ? sk_own_get(g, group, &s) : err;
    if (err == 0) {
        c->kind = GM_CONTENT_SENDER_KEY;
        randombytes_buf(c->msg_id, sizeof c->msg_id);
        c->sent = gm__msgr_wall(g);
        dist_to_wire(&s, &c->sender_key);
        gm_sk_wipe(&s);
        err = gm__msgr_peer(g, member, p);
        err = err == 0 ? gm__msgr_send_1to1(g, p, c, GM_PRIO_URGENT, NULL) : err;
        if (err == 0) {
            g->st.group_keys_sent++;
        }
    }
    if (err == GM_ENOENT) { /* no prekey from it yet: the tick tries again */
        st = gm__msgr_q(g, MQ_TODO_ADD);
        if (st != NULL) {
            gm__msgr_bind_blob(st, 1, group, GM_ID_LEN);
            gm__msgr_bind_blob(st, 2, member, GM_ID_LEN);
        }
        err = gm__msgr_run(g, st);
    } else if (err != 0 && err != GM_EIO && err != GM_ENOMEM) {
        /* this member only (revoked, expired, a bad prekey): it must not stop the others */
        gm__msgr_log(g, GM_LOG_WARN, "messenger: no sender key to a member: %s",
                     gm_strerror(err));
        err = 0;
    }
    if (c != NULL) {
        sodium_memzero(c, sizeof *c);
    }
    free(c);
    free(p);
    return err;
}

/* Sends state (signed) and then our sender key to every member but us. */
int gm__msgr_sk_distribute(gm_messenger_t *g, const gm_group_state_t *gs,
                      const gm_signed_group_state_t *sgs, bool send_state, bool send_key)
{
    gm_content_t *c = calloc(1, sizeof *c);
    gm__msgr_peer_t *p = malloc(sizeof *p);
    int err = c == NULL || p == NULL ? GM_ENOMEM : 0;

    for (size_t i = 0; err == 0 && i < gs->n_members; i++) {
        const uint8_t *id = gs->members[i].node_id;
        if (memcmp(id, gm_node_id(g->node), GM_ID_LEN) == 0) {
            continue;
        }
        if (send_state) {
            c->kind = GM_CONTENT_GROUP;
            randombytes_buf(c->msg_id, sizeof c->msg_id);
            c->sent = gm__msgr_wall(g);
            c->group = *sgs;
            err = gm__msgr_peer(g, id, p);
            err = err == 0 ? gm__msgr_send_1to1(g, p, c, GM_PRIO_URGENT, NULL) : err;
            if (err != 0 && err != GM_EIO && err != GM_ENOMEM) {
                /* no prekey here yet, or its certificate lapsed: the others still get it */
                gm__msgr_log(g, GM_LOG_WARN, "messenger: group %s: not sent to %s@%s (%s); "
                             "it gets the group when the owner changes it next", gs->name,
                             gs->members[i].callsign, gs->members[i].org, gm_strerror(err));
                err = 0;
            }
        }
        if (err == 0 && send_key) {
            err = gm__msgr_sk_send(g, gs->group_id, id);
        }
    }
    free(c);
    free(p);
    return err;
}

int gm__msgr_on_sender_key(gm_messenger_t *g, const uint8_t sender[GM_ID_LEN],
                           const gm_sender_key_t *d)
{
    gm_group_state_t gs;
    gm_sk_state_t s;
    sqlite3_stmt *st;
    int err;

    if (gm__msgr_group_get(g, d->group_id, &gs, NULL, NULL) == 0) {
        bool member = gm__msgr_is_member(&gs, sender);
        gm_group_state_free(&gs);
        if (!member) {
            g->st.dropped_not_member++;
            return 0;
        }
    } else if (gm__msgr_count_rows(g, MQ_SKPEER_UNKNOWN, NULL, sender) >= GM_MSGR_MAX_EARLY_KEYS) {
        g->st.dropped_limit++; /* keys for groups not seen yet: a few per sender */
        return 0;
    }
    if (sk_peer_get(g, d->group_id, sender, d->key_id, &s) == 0) {
        gm_sk_wipe(&s); /* held already: a late copy must not move the chain back */
        return 0;
    }
    /* a group not known yet: its state may come after the key (kept, bounded per sender) */
    if (state_from_wire(&s, d) != 0) {
        g->st.dropped_malformed++;
        return 0;
    }
    err = sk_put(g, &s, sender);
    gm_sk_wipe(&s);
    st = err == 0 ? gm__msgr_q(g, MQ_SKPEER_TRIM) : NULL;
    if (st != NULL) {
        gm__msgr_bind_blob(st, 1, d->group_id, GM_ID_LEN);
        gm__msgr_bind_blob(st, 2, sender, GM_ID_LEN);
        sqlite3_bind_int(st, 3, GM_MSGR_MAX_PEER_KEYS);
        err = gm__msgr_run(g, st);
    }
    if (err == 0) {
        g->st.group_keys_received++;
        err = gm__msgr_retry_pending(g, d->group_id, sender);
    }
    return err;
}

/* ---- group messages ---- */


static int keep_pending(gm_messenger_t *g, const gm_bundle_t *b, const gm_group_msg_t *gm)
{
    sqlite3_stmt *st;

    /* per sender too: a forged source must not crowd out everyone's early messages */
    if (gm__msgr_count_rows(g, MQ_PENDING_COUNT, NULL, NULL) >= GM_MSGR_MAX_PENDING ||
        gm__msgr_count_rows(g, MQ_PENDING_COUNT_FROM, gm->group_id, b->src) >= GM_MSGR_MAX_PENDING_FROM) {
        g->st.dropped_limit++;
        return 0;
    }
    st = gm__msgr_q(g, MQ_PENDING_ADD);
    if (st != NULL) {
        gm__msgr_bind_blob(st, 1, gm->group_id, GM_ID_LEN);
        gm__msgr_bind_blob(st, 2, b->src, GM_ID_LEN);
        sqlite3_bind_int64(st, 3, gm->key_id);
        /* the header's times are the sender's claim (a relay can write any): a day at most */
        uint64_t until = b->created + b->lifetime, cap = gm__msgr_wall(g) + GM_MSGR_PENDING_S;
        sqlite3_bind_int64(st, 4, (sqlite3_int64)(until < cap ? until : cap));
        gm__msgr_bind_blob(st, 5, b->body, b->body_len);
    }
    int err = gm__msgr_run(g, st);

    g->st.pending_group += err == 0;
    return err;
}

/* Verifies and decrypts with the sender's key; 1 when the key is not here yet. */
static int open_group_message(gm_messenger_t *g, const uint8_t src[GM_ID_LEN],
                              const gm_group_msg_t *gm, uint64_t lifetime)
{
    gm_group_state_t gs;
    gm_sk_state_t s;
    uint8_t *pt;
    size_t n = gm->ciphertext_len - GM_SK_TAG_LEN, len;
    bool member;
    int err;

    if (gm__msgr_group_get(g, gm->group_id, &gs, NULL, NULL) != 0) {
        return 1;
    }
    member = gm__msgr_is_member(&gs, src);
    gm_group_state_free(&gs);
    if (!member) {
        g->st.dropped_not_member++;
        return 0;
    }
    err = gm__msgr_sender_check(g, src);
    if (err != 0) {
        return err == GM_EAUTH ? 0 : err; /* revoked or expired since it joined: dropped */
    }
    err = sk_peer_get(g, gm->group_id, src, gm->key_id, &s);
    if (err != 0) {
        return err == GM_ENOENT ? 1 : err;
    }
    pt = malloc(n + 1);
    err = pt == NULL ? GM_ENOMEM
                     : gm_sk_decrypt(&s, src, gm->iteration, gm->ciphertext, gm->ciphertext_len,
                                     gm->signature, pt, gm__msgr_wall(g), lifetime);
    if (err == 0 && gm__msgr_unpad(pt, n, &len) == 0) {
        err = sk_put(g, &s, src); /* the used key is gone before the message shows */
        err = err == 0 ? gm__msgr_on_plaintext(g, src, gm->group_id, false, pt, len) : err;
    } else if (err == GM_EREPLAY) {
        g->st.dropped_replay++;
        err = 0;
    } else if (err != GM_ENOMEM) {
        g->st.dropped_auth++;
        err = 0;
    }
    if (pt != NULL) {
        sodium_memzero(pt, n);
    }
    free(pt);
    gm_sk_wipe(&s);
    return err;
}

int gm__msgr_on_group_message(gm_messenger_t *g, const gm_bundle_t *b, const gm_envelope_t *env)
{
    int err;

    if (b->dst.kind != GM_DST_GROUP ||
        memcmp(b->dst.id, env->group.group_id, GM_ID_LEN) != 0) {
        g->st.dropped_malformed++;
        return 0;
    }
    err = open_group_message(g, b->src, &env->group, GM_BUNDLE_LIFETIME_MAX);
    return err == 1 ? keep_pending(g, b, &env->group) : err;
}

/* Opens the messages from sender to group that waited for a key; those still without stay. */
int gm__msgr_retry_pending(gm_messenger_t *g, const uint8_t group[GM_ID_LEN],
                         const uint8_t sender[GM_ID_LEN])
{
    sqlite3_int64 after = 0;
    int err = 0;

    for (int guard = 0; err == 0 && guard < GM_MSGR_MAX_PENDING; guard++) {
        sqlite3_stmt *st = gm__msgr_q(g, MQ_PENDING_FOR);
        sqlite3_int64 seq = 0;
        gm_envelope_t env;
        bool got = false;

        if (st == NULL) {
            return GM_EIO;
        }
        gm__msgr_bind_blob(st, 1, group, GM_ID_LEN);
        gm__msgr_bind_blob(st, 2, sender, GM_ID_LEN);
        sqlite3_bind_int64(st, 3, after);
        if (sqlite3_step(st) == SQLITE_ROW) {
            seq = sqlite3_column_int64(st, 0);
            got = gm_wire_envelope_decode(sqlite3_column_blob(st, 1),
                                          (size_t)sqlite3_column_bytes(st, 1), &env) == 0;
        }
        sqlite3_reset(st);
        if (seq == 0) {
            break;
        }
        after = seq;
        if (got) {
            err = env.kind == GM_ENVELOPE_GROUP
                      ? open_group_message(g, sender, &env.group, GM_BUNDLE_LIFETIME_MAX)
                      : 0;
            gm_envelope_free(&env);
            if (err == 1) {
                err = 0;
                continue; /* still no key for it */
            }
        }
        st = err == 0 ? gm__msgr_q(g, MQ_PENDING_DEL) : NULL;
        if (st != NULL) {
            sqlite3_bind_int64(st, 1, seq);
            err = gm__msgr_run(g, st);
        }
    }
    return err;
}

/* A new sender key of ours for group, sent to every other member. */
int gm__msgr_sk_renew(gm_messenger_t *g, const uint8_t group[GM_ID_LEN])
{
    gm_group_state_t gs;
    int err = gm__msgr_group_get(g, group, &gs, NULL, NULL);

    if (err == 0) {
        err = gm__msgr_sk_rotate(g, group);
        err = err == 0 ? gm__msgr_sk_distribute(g, &gs, NULL, false, true) : err;
        gm_group_state_free(&gs);
    }
    return err;
}

int gm__msgr_send_group(gm_messenger_t *g, const uint8_t group[GM_ID_LEN], const gm_content_t *c,
                        gm_prio_t prio, uint8_t bundle_id[GM_ID_LEN])
{
    gm_envelope_t env = {.kind = GM_ENVELOPE_GROUP};
    gm_dest_t dst = {.kind = GM_DST_GROUP};
    gm_sk_state_t s;
    uint8_t *pt = NULL, *ct = NULL;
    size_t pt_len = 0;
    int err = sk_own_get(g, group, &s);

    if (err == 0 && s.iteration >= GM_MSGR_SK_ROTATE_MSGS) {
        gm_sk_wipe(&s); /* sender keys have no healing: a stolen one reads until renewed */
        err = gm__msgr_sk_renew(g, group);
        err = err == 0 ? sk_own_get(g, group, &s) : err;
    } else if (err == GM_ENOENT) {
        err = gm__msgr_sk_rotate(g, group);
        err = err == 0 ? sk_own_get(g, group, &s) : err;
    }
    if (err != 0) {
        return err;
    }
    err = gm__msgr_content_plaintext(c, &pt, &pt_len);
    ct = err == 0 ? malloc(pt_len + GM_SK_TAG_LEN) : NULL;
    err = err == 0 && ct == NULL ? GM_ENOMEM : err;
    memcpy(env.group.group_id, group, GM_ID_LEN);
    env.group.key_id = s.key_id;
    if (err == 0) {
        err = gm_sk_encrypt(&s, gm_node_id(g->node), pt, pt_len, &env.group.iteration, ct,
                            env.group.signature);
    }
    env.group.ciphertext = ct;
    env.group.ciphertext_len = pt_len + GM_SK_TAG_LEN;
    memcpy(dst.id, group, GM_ID_LEN);
    err = err == 0 ? sk_put(g, &s, NULL) : err;
    err = err == 0 ? gm__msgr_send_envelope(g, &dst, prio, &env, bundle_id) : err;
    if (pt != NULL) {
        sodium_memzero(pt, pt_len);
    }
    free(pt);
    free(ct);
    gm_sk_wipe(&s);
    return err;
}

/*
 * Talkgroups (CRYPTO.md section 5): membership signed by the group's owner,
 * one sender key per member and group, distributed over 1:1 sessions.
 *
 * Membership. Only the owner changes a group: each change is a GroupState
 * with a higher version, signed with the owner's node key over
 * "guardmesh/group/1\0" || state, sent over 1:1 sessions to every member
 * (and to those removed, so they stop). A member takes a state only from
 * its owner, only with a valid signature and a higher version; a relay can
 * neither add nor remove anyone.
 *
 * Keys. Each member encrypts to the group with its own sender key and sends
 * that key to every other member over their 1:1 sessions. When anyone is
 * removed, every remaining member makes a new sender key and sends it to
 * the remaining members only, so the removed member cannot read what comes
 * next. A member added later gets the current keys, not the past.
 * Group messages that arrive before their sender key wait (still encrypted)
 * until it comes, within their lifetime and GM_MSGR_MAX_PENDING.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/messenger_internal.h"

#define GROUP_CTX "guardmesh/group/1"

static uint64_t wall(const gm_messenger_t *g)
{
    return gm_node_wall(g->node);
}

static bool is_member(const gm_group_state_t *gs, const uint8_t id[GM_ID_LEN])
{
    for (size_t i = 0; i < gs->n_members; i++) {
        if (memcmp(gs->members[i].node_id, id, GM_ID_LEN) == 0) {
            return true;
        }
    }
    return false;
}

/* A COUNT(*) query with optional group (?1) and sender (?2) parameters; a large value if it fails. */
static int64_t count_rows(gm_messenger_t *g, gm__msgr_query_t q, const uint8_t *group,
                          const uint8_t *sender)
{
    sqlite3_stmt *st = gm__msgr_q(g, q);
    int64_t n = INT64_MAX;

    if (st == NULL) {
        return n;
    }
    if (group != NULL) {
        gm__msgr_bind_blob(st, 1, group, GM_ID_LEN);
    }
    if (sender != NULL) {
        gm__msgr_bind_blob(st, 2, sender, GM_ID_LEN);
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return n;
}

/* ---- group states: sealed as signature (64) || encoded state ---- */

static int group_put(gm_messenger_t *g, const gm_group_state_t *gs, const uint8_t *state,
                     size_t state_len, const uint8_t sig[GM_SIG_LEN])
{
    uint8_t mac[16], *pt = malloc(GM_SIG_LEN + state_len), *sealed;
    size_t sealed_len;
    sqlite3_stmt *st;
    int err;

    if (pt == NULL) {
        return GM_ENOMEM;
    }
    memcpy(pt, sig, GM_SIG_LEN);
    memcpy(pt + GM_SIG_LEN, state, state_len);
    err = gm__msgr_seal(g, "group", gs->group_id, GM_ID_LEN, pt, GM_SIG_LEN + state_len, &sealed,
                        &sealed_len);
    free(pt);
    if (err != 0) {
        return err;
    }
    gm__msgr_name_mac(g, gs->name, mac);
    st = gm__msgr_q(g, MQ_GROUP_PUT);
    if (st != NULL) {
        gm__msgr_bind_blob(st, 1, gs->group_id, GM_ID_LEN);
        gm__msgr_bind_blob(st, 2, mac, sizeof mac);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)gs->version);
        gm__msgr_bind_blob(st, 4, sealed, sealed_len);
    }
    err = gm__msgr_run(g, st);
    free(sealed);
    return err;
}

/* The group's state (gm_group_state_free it) and, if wanted, its signed bytes. GM_ENOENT. */
int gm__msgr_group_get(gm_messenger_t *g, const uint8_t id[GM_ID_LEN], gm_group_state_t *gs,
                       gm_signed_group_state_t *signed_out, uint8_t **state_buf)
{
    sqlite3_stmt *st = gm__msgr_q(g, MQ_GROUP_GET);
    uint8_t *pt = NULL;
    size_t len = 0;
    int err = GM_ENOENT;

    if (st == NULL) {
        return GM_EIO;
    }
    gm__msgr_bind_blob(st, 1, id, GM_ID_LEN);
    if (sqlite3_step(st) == SQLITE_ROW) {
        err = gm__msgr_open(g, "group", id, GM_ID_LEN, sqlite3_column_blob(st, 1),
                            (size_t)sqlite3_column_bytes(st, 1), &pt, &len);
    }
    sqlite3_reset(st);
    if (err == 0) {
        err = len > GM_SIG_LEN ? gm_wire_group_state_decode(pt + GM_SIG_LEN, len - GM_SIG_LEN, gs)
                               : GM_EPROTO;
    }
    if (err == 0 && signed_out != NULL) {
        memcpy(signed_out->signature, pt, GM_SIG_LEN);
        signed_out->state = pt + GM_SIG_LEN;
        signed_out->state_len = len - GM_SIG_LEN;
        *state_buf = pt; /* the caller frees it */
        return 0;
    }
    free(pt);
    return err;
}

int gm__msgr_group_by_name(gm_messenger_t *g, const char *name, uint8_t id[GM_ID_LEN])
{
    sqlite3_stmt *st = gm__msgr_q(g, MQ_GROUP_BY_NAME);
    uint8_t mac[16], cand[8][GM_ID_LEN];
    size_t n = 0;
    int err = GM_ENOENT;

    if (st == NULL) {
        return GM_EIO;
    }
    gm__msgr_name_mac(g, name, mac);
    gm__msgr_bind_blob(st, 1, mac, sizeof mac);
    while (n < 8 && sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) == GM_ID_LEN) {
            memcpy(cand[n++], sqlite3_column_blob(st, 0), GM_ID_LEN);
        }
    }
    sqlite3_reset(st);
    /* a keyed hash could collide: the sealed name decides */
    for (size_t i = 0; err != 0 && i < n; i++) {
        gm_group_state_t gs;
        if (gm__msgr_group_get(g, cand[i], &gs, NULL, NULL) == 0) {
            if (strcmp(gs.name, name) == 0) {
                memcpy(id, cand[i], GM_ID_LEN);
                err = 0;
            }
            gm_group_state_free(&gs);
        }
    }
    return err;
}

bool gm__msgr_in_group(void *ctx, const uint8_t group[GM_ID_LEN])
{
    gm_messenger_t *g = ctx;
    sqlite3_stmt *st = gm__msgr_q(g, MQ_GROUP_GET);
    bool in = false;

    if (st != NULL) {
        gm__msgr_bind_blob(st, 1, group, GM_ID_LEN);
        in = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_reset(st);
    }
    return in;
}

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
        sqlite3_bind_int64(st, 3, (sqlite3_int64)wall(g)); /* kept by later updates */
    } else if (st != NULL) {
        gm__msgr_bind_blob(st, 1, s->group_id, GM_ID_LEN);
        gm__msgr_bind_blob(st, 2, sender, GM_ID_LEN);
        sqlite3_bind_int64(st, 3, s->key_id);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)wall(g));
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
static int sk_rotate(gm_messenger_t *g, const uint8_t group[GM_ID_LEN])
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
        in = is_member(&gs, id);
        gm_group_state_free(&gs);
    }
    return in;
}

/* Owed to member: done now if a session is possible, else remembered for the tick. */
static int send_sender_key(gm_messenger_t *g, const uint8_t group[GM_ID_LEN],
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
        c->sent = wall(g);
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
    }
    if (c != NULL) {
        sodium_memzero(c, sizeof *c);
    }
    free(c);
    free(p);
    return err;
}

/* Sends state (signed) and then our sender key to every member but us. */
static int distribute(gm_messenger_t *g, const gm_group_state_t *gs,
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
            c->sent = wall(g);
            c->group = *sgs;
            err = gm__msgr_peer(g, id, p);
            err = err == 0 ? gm__msgr_send_1to1(g, p, c, GM_PRIO_URGENT, NULL) : err;
            if (err == GM_ENOENT) {
                gm__msgr_log(g, GM_LOG_WARN, "messenger: group %s: member %s@%s has no prekey "
                             "here yet: it gets the group when the owner changes it next",
                             gs->name, gs->members[i].callsign, gs->members[i].org);
                err = 0;
            }
        }
        if (err == 0 && send_key) {
            err = send_sender_key(g, gs->group_id, id);
        }
    }
    free(c);
    free(p);
    return err;
}

/* ---- membership ---- */

static int sign_and_store(gm_messenger_t *g, const gm_group_state_t *gs,
                          gm_signed_group_state_t *sgs, uint8_t *buf, size_t cap)
{
    int err = gm_wire_group_state_encode(gs, buf, cap, &sgs->state_len);

    sgs->state = buf;
    if (err == 0) {
        err = gm_node_keys_sign(gm_node_keys(g->node), GROUP_CTX, buf, sgs->state_len,
                                sgs->signature);
    }
    return err == 0 ? group_put(g, gs, buf, sgs->state_len, sgs->signature) : err;
}

/* Sends a state to members removed from it, so they drop the group. */
static int tell_removed(gm_messenger_t *g, const gm_group_state_t *old, const gm_group_state_t *gs,
                        const gm_signed_group_state_t *sgs, bool *removed)
{
    gm_group_state_t gone = {0};
    gm_group_member_t m;
    int err = 0;

    *removed = false;
    for (size_t i = 0; err == 0 && i < old->n_members; i++) {
        if (!is_member(gs, old->members[i].node_id)) {
            *removed = true;
            m = old->members[i];
            gone.members = &m;
            gone.n_members = 1;
            memcpy(gone.group_id, gs->group_id, GM_ID_LEN);
            snprintf(gone.name, sizeof gone.name, "%s", gs->name);
            err = distribute(g, &gone, sgs, true, false);
        }
    }
    return err;
}

static int key_to_new_members(gm_messenger_t *g, const gm_group_state_t *gs,
                              const gm_group_state_t *old);

int gm__msgr_group_change(gm_messenger_t *g, gm_group_state_t *gs, const gm_group_state_t *old)
{
    gm_signed_group_state_t sgs;
    uint8_t *buf = malloc(GM_E2E_GROUP_STATE_MAX);
    bool removed = false;
    int err = buf == NULL ? GM_ENOMEM : sign_and_store(g, gs, &sgs, buf, GM_E2E_GROUP_STATE_MAX);

    if (err == 0 && old != NULL) {
        err = tell_removed(g, old, gs, &sgs, &removed);
    }
    if (err == 0 && (old == NULL || removed)) {
        err = sk_rotate(g, gs->group_id);
    }
    if (err == 0) {
        g->st.group_updates++;
        err = distribute(g, gs, &sgs, true, old == NULL || removed);
    }
    if (err == 0 && old != NULL && !removed) {
        err = key_to_new_members(g, gs, old);
    }
    free(buf);
    return err;
}

/* Members of gs that were not in old (all of them if old is NULL) get our current key. */
static int key_to_new_members(gm_messenger_t *g, const gm_group_state_t *gs,
                              const gm_group_state_t *old)
{
    int err = 0;

    for (size_t i = 0; err == 0 && i < gs->n_members; i++) {
        const uint8_t *id = gs->members[i].node_id;
        if (memcmp(id, gm_node_id(g->node), GM_ID_LEN) != 0 && (old == NULL || !is_member(old, id))) {
            err = send_sender_key(g, gs->group_id, id);
        }
    }
    return err;
}

static int forget_group(gm_messenger_t *g, const uint8_t id[GM_ID_LEN])
{
    static const gm__msgr_query_t del[] = {MQ_GROUP_DEL, MQ_SKOWN_DEL, MQ_SKPEER_DEL_GROUP,
                                           MQ_TODO_DEL_GROUP};
    int err = 0;

    for (size_t i = 0; err == 0 && i < sizeof del / sizeof del[0]; i++) {
        sqlite3_stmt *st = gm__msgr_q(g, del[i]);
        if (st != NULL) {
            gm__msgr_bind_blob(st, 1, id, GM_ID_LEN);
        }
        err = gm__msgr_run(g, st);
    }
    return err;
}

static int retry_pending(gm_messenger_t *g, const uint8_t group[GM_ID_LEN],
                         const uint8_t sender[GM_ID_LEN]);

/*
 * A group this node has not seen: refused if its name is taken here (an
 * insider must not shadow a real talkgroup) or GM_MSGR_MAX_GROUPS are held.
 */
static bool new_group_allowed(gm_messenger_t *g, const gm_group_state_t *gs)
{
    sqlite3_stmt *st = gm__msgr_q(g, MQ_GROUP_COUNT);
    uint8_t id[GM_ID_LEN];
    int64_t n = GM_MSGR_MAX_GROUPS;

    if (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
    }
    if (st != NULL) {
        sqlite3_reset(st);
    }
    if (n >= GM_MSGR_MAX_GROUPS || gm__msgr_group_by_name(g, gs->name, id) == 0) {
        gm__msgr_log(g, GM_LOG_WARN, "messenger: group %s refused: %s", gs->name,
                     n >= GM_MSGR_MAX_GROUPS ? "too many groups" : "a group of that name exists");
        g->st.dropped_limit++;
        return false;
    }
    return true;
}

int gm__msgr_on_group_state(gm_messenger_t *g, const uint8_t sender[GM_ID_LEN],
                            const gm_signed_group_state_t *sgs)
{
    gm__msgr_peer_t *p = malloc(sizeof *p);
    gm_group_state_t gs, old;
    bool have_old = false, removed = false;
    int err;

    if (p == NULL) {
        return GM_ENOMEM;
    }
    /* only the owner, with its signature: never a relay or another member */
    if (gm__msgr_peer(g, sender, p) != 0 ||
        gm_sign_verify(p->cert.body.sign_pk, GROUP_CTX, sgs->state, sgs->state_len,
                       sgs->signature) != 0 ||
        gm_wire_group_state_decode(sgs->state, sgs->state_len, &gs) != 0) {
        g->st.dropped_auth++;
        free(p);
        return 0;
    }
    free(p);
    if (memcmp(gs.owner, sender, GM_ID_LEN) != 0) {
        g->st.dropped_auth++;
        gm_group_state_free(&gs);
        return 0;
    }
    have_old = gm__msgr_group_get(g, gs.group_id, &old, NULL, NULL) == 0;
    if (!have_old && !new_group_allowed(g, &gs)) {
        gm_group_state_free(&gs);
        return 0;
    }
    if (have_old && (old.version >= gs.version || memcmp(old.owner, gs.owner, GM_ID_LEN) != 0)) {
        g->st.dropped_replay++; /* an older or a foreign state */
        gm_group_state_free(&old);
        gm_group_state_free(&gs);
        return 0;
    }
    g->st.group_updates++;
    if (!is_member(&gs, gm_node_id(g->node))) {
        err = have_old ? forget_group(g, gs.group_id) : 0;
        gm__msgr_log(g, GM_LOG_INFO, "messenger: removed from group %s", gs.name);
    } else {
        err = group_put(g, &gs, sgs->state, sgs->state_len, sgs->signature);
        g->groups_joined |= !have_old; /* its messages may be here already */
        for (size_t i = 0; have_old && i < old.n_members; i++) {
            removed |= !is_member(&gs, old.members[i].node_id);
        }
        if (err == 0 && (!have_old || removed)) {
            err = sk_rotate(g, gs.group_id); /* removal: the removed member must not read on */
            err = err == 0 ? key_to_new_members(g, &gs, NULL) : err;
        } else if (err == 0) {
            err = key_to_new_members(g, &gs, &old);
        }
        for (size_t i = 0; err == 0 && i < gs.n_members; i++) {
            err = retry_pending(g, gs.group_id, gs.members[i].node_id);
        }
    }
    if (have_old) {
        gm_group_state_free(&old);
    }
    gm_group_state_free(&gs);
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
        bool member = is_member(&gs, sender);
        gm_group_state_free(&gs);
        if (!member) {
            g->st.dropped_not_member++;
            return 0;
        }
    } else if (count_rows(g, MQ_SKPEER_UNKNOWN, NULL, sender) >= GM_MSGR_MAX_EARLY_KEYS) {
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
        err = retry_pending(g, d->group_id, sender);
    }
    return err;
}

/* ---- group messages ---- */


static int keep_pending(gm_messenger_t *g, const gm_bundle_t *b, const gm_group_msg_t *gm)
{
    sqlite3_stmt *st;

    /* per sender too: a forged source must not crowd out everyone's early messages */
    if (count_rows(g, MQ_PENDING_COUNT, NULL, NULL) >= GM_MSGR_MAX_PENDING ||
        count_rows(g, MQ_PENDING_COUNT_FROM, gm->group_id, b->src) >= GM_MSGR_MAX_PENDING_FROM) {
        g->st.dropped_limit++;
        return 0;
    }
    st = gm__msgr_q(g, MQ_PENDING_ADD);
    if (st != NULL) {
        gm__msgr_bind_blob(st, 1, gm->group_id, GM_ID_LEN);
        gm__msgr_bind_blob(st, 2, b->src, GM_ID_LEN);
        sqlite3_bind_int64(st, 3, gm->key_id);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)(b->created + b->lifetime));
        gm__msgr_bind_blob(st, 5, b->body, b->body_len);
    }
    g->st.pending_group++;
    return gm__msgr_run(g, st);
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
    member = is_member(&gs, src);
    gm_group_state_free(&gs);
    if (!member) {
        g->st.dropped_not_member++;
        return 0;
    }
    err = sk_peer_get(g, gm->group_id, src, gm->key_id, &s);
    if (err != 0) {
        return err == GM_ENOENT ? 1 : err;
    }
    pt = malloc(n + 1);
    err = pt == NULL ? GM_ENOMEM
                     : gm_sk_decrypt(&s, src, gm->iteration, gm->ciphertext, gm->ciphertext_len,
                                     gm->signature, pt, wall(g), lifetime);
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
static int retry_pending(gm_messenger_t *g, const uint8_t group[GM_ID_LEN],
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
static int renew_key(gm_messenger_t *g, const uint8_t group[GM_ID_LEN])
{
    gm_group_state_t gs;
    int err = gm__msgr_group_get(g, group, &gs, NULL, NULL);

    if (err == 0) {
        err = sk_rotate(g, group);
        err = err == 0 ? distribute(g, &gs, NULL, false, true) : err;
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
    uint8_t *pt = NULL, *ct = NULL, *body = NULL;
    size_t pt_len = 0, len;
    int err = sk_own_get(g, group, &s);

    if (err == 0 && s.iteration >= GM_MSGR_SK_ROTATE_MSGS) {
        gm_sk_wipe(&s); /* sender keys have no healing: a stolen one reads until renewed */
        err = renew_key(g, group);
        err = err == 0 ? sk_own_get(g, group, &s) : err;
    } else if (err == GM_ENOENT) {
        err = sk_rotate(g, group);
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
    if (err == 0) {
        env.group.ciphertext = ct;
        env.group.ciphertext_len = pt_len + GM_SK_TAG_LEN;
        len = gm_wire_envelope_size(&env);
        body = len > 0 ? malloc(len) : NULL;
        err = body == NULL ? GM_ENOMEM : gm_wire_envelope_encode(&env, body, len, &len);
    }
    err = err == 0 ? sk_put(g, &s, NULL) : err;
    if (err == 0) {
        memcpy(dst.id, group, GM_ID_LEN);
        err = gm_mesh_send(g->mesh, &dst, prio, 0, 0, body, len, bundle_id);
        g->st.sent += err == 0;
    }
    if (pt != NULL) {
        sodium_memzero(pt, pt_len);
    }
    free(pt);
    free(ct);
    free(body);
    gm_sk_wipe(&s);
    return err;
}

void gm__msgr_groups_catch_up(gm_messenger_t *g)
{
    uint8_t ids[GM_MSGR_MAX_GROUPS][GM_ID_LEN];
    sqlite3_stmt *st = gm__msgr_q(g, MQ_GROUP_LIST);
    size_t n = 0;

    g->groups_joined = false;
    if (st == NULL) {
        return;
    }
    while (n < GM_MSGR_MAX_GROUPS && sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) == GM_ID_LEN) {
            memcpy(ids[n++], sqlite3_column_blob(st, 0), GM_ID_LEN);
        }
    }
    sqlite3_reset(st);
    for (size_t i = 0; i < n; i++) {
        if (gm_mesh_deliver_held(g->mesh, ids[i]) != 0) {
            g->groups_joined = true; /* the next turn tries again */
            return;
        }
    }
}

/* Sender keys owed to members that had no prekey here before, and old pending messages. */
void gm__msgr_group_tick(gm_messenger_t *g)
{
    uint8_t todo[64][2][GM_ID_LEN];
    size_t n = 0;
    sqlite3_stmt *st = gm__msgr_q(g, MQ_TODO_EACH);

    if (st == NULL || gm_mesh_begin(g->mesh, NULL) != 0) {
        return;
    }
    while (n < 64 && sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) == GM_ID_LEN && sqlite3_column_bytes(st, 1) == GM_ID_LEN) {
            memcpy(todo[n][0], sqlite3_column_blob(st, 0), GM_ID_LEN);
            memcpy(todo[n++][1], sqlite3_column_blob(st, 1), GM_ID_LEN);
        }
    }
    sqlite3_reset(st);
    for (size_t i = 0; i < n; i++) {
        gm__msgr_peer_t *p = malloc(sizeof *p);
        bool ready = p != NULL && gm__msgr_peer(g, todo[i][1], p) == 0 && p->has_spk;
        free(p);
        if (!ready) {
            continue;
        }
        st = gm__msgr_q(g, MQ_TODO_DEL);
        if (st != NULL) {
            gm__msgr_bind_blob(st, 1, todo[i][0], GM_ID_LEN);
            gm__msgr_bind_blob(st, 2, todo[i][1], GM_ID_LEN);
        }
        if (gm__msgr_run(g, st) != 0 || send_sender_key(g, todo[i][0], todo[i][1]) != 0) {
            gm_mesh_abort(g->mesh);
            return;
        }
    }
    st = gm__msgr_q(g, MQ_SKOWN_OLD);
    n = 0;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)(wall(g) - GM_MSGR_SK_ROTATE_S));
        while (n < 16 && sqlite3_step(st) == SQLITE_ROW) {
            if (sqlite3_column_bytes(st, 0) == GM_ID_LEN) {
                memcpy(todo[n++][0], sqlite3_column_blob(st, 0), GM_ID_LEN);
            }
        }
        sqlite3_reset(st);
    }
    for (size_t i = 0; i < n; i++) {
        if (renew_key(g, todo[i][0]) != 0) {
            gm_mesh_abort(g->mesh);
            return;
        }
    }
    st = gm__msgr_q(g, MQ_PENDING_EXPIRE);
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)wall(g));
        if (gm__msgr_run(g, st) != 0) {
            gm_mesh_abort(g->mesh);
        }
    }
}

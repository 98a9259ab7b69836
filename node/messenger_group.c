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

bool gm__msgr_is_member(const gm_group_state_t *gs, const uint8_t id[GM_ID_LEN])
{
    for (size_t i = 0; i < gs->n_members; i++) {
        if (memcmp(gs->members[i].node_id, id, GM_ID_LEN) == 0) {
            return true;
        }
    }
    return false;
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
        gm__msgr_bind_blob(st, 5, gs->owner, GM_ID_LEN);
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
        if (!gm__msgr_is_member(gs, old->members[i].node_id)) {
            *removed = true;
            m = old->members[i];
            gone.members = &m;
            gone.n_members = 1;
            memcpy(gone.group_id, gs->group_id, GM_ID_LEN);
            snprintf(gone.name, sizeof gone.name, "%s", gs->name);
            err = gm__msgr_sk_distribute(g, &gone, sgs, true, false);
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
        err = gm__msgr_sk_rotate(g, gs->group_id);
    }
    if (err == 0) {
        g->st.group_updates++;
        err = gm__msgr_sk_distribute(g, gs, &sgs, true, old == NULL || removed);
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
        if (memcmp(id, gm_node_id(g->node), GM_ID_LEN) != 0 && (old == NULL || !gm__msgr_is_member(old, id))) {
            err = gm__msgr_sk_send(g, gs->group_id, id);
        }
    }
    return err;
}

/* Removed from the group at version: its keys go, and the version stays (a tombstone). */
static int forget_group(gm_messenger_t *g, const uint8_t id[GM_ID_LEN], uint64_t version)
{
    static const gm__msgr_query_t del[] = {MQ_GROUP_DEL, MQ_SKOWN_DEL, MQ_SKPEER_DEL_GROUP,
                                           MQ_TODO_DEL_GROUP, MQ_GONE_PUT};
    int err = 0;

    for (size_t i = 0; err == 0 && i < sizeof del / sizeof del[0]; i++) {
        sqlite3_stmt *st = gm__msgr_q(g, del[i]);
        if (st != NULL) {
            gm__msgr_bind_blob(st, 1, id, GM_ID_LEN);
            if (del[i] == MQ_GONE_PUT) {
                sqlite3_bind_int64(st, 2, (sqlite3_int64)version);
            }
        }
        err = gm__msgr_run(g, st);
    }
    return err;
}

/* True if this node was removed from id at version or later: an older state is stale. */
static bool removed_since(gm_messenger_t *g, const uint8_t id[GM_ID_LEN], uint64_t version)
{
    sqlite3_stmt *st = gm__msgr_q(g, MQ_GONE_GET);
    bool stale = false;

    if (st != NULL) {
        gm__msgr_bind_blob(st, 1, id, GM_ID_LEN);
        stale = sqlite3_step(st) == SQLITE_ROW &&
                (uint64_t)sqlite3_column_int64(st, 0) >= version;
        sqlite3_reset(st);
    }
    return stale;
}

static bool name_free(gm_messenger_t *g, const char *name)
{
    uint8_t id[GM_ID_LEN];

    return gm__msgr_group_by_name(g, name, id) == GM_ENOENT;
}

/*
 * A group this node has not seen: refused if its name is taken here (an
 * insider must not shadow a real talkgroup) or GM_MSGR_MAX_GROUPS are held.
 */
static bool new_group_allowed(gm_messenger_t *g, const gm_group_state_t *gs)
{
    const char *why = NULL;

    if (gm__msgr_count_rows(g, MQ_GROUP_COUNT, NULL, NULL) >= GM_MSGR_MAX_GROUPS) {
        why = "too many groups";
    } else if (gm__msgr_count_rows(g, MQ_GROUP_COUNT_OWNER, NULL, gs->owner) >=
               GM_MSGR_MAX_GROUPS_PER_OWNER) {
        why = "too many groups from its owner";
    } else if (!name_free(g, gs->name)) {
        why = "a group of that name exists";
    }
    if (why != NULL) {
        gm__msgr_log(g, GM_LOG_WARN, "messenger: group %s refused: %s", gs->name, why);
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
    if (!have_old && removed_since(g, gs.group_id, gs.version)) {
        g->st.dropped_replay++; /* a delayed state from before our removal */
        gm_group_state_free(&gs);
        return 0;
    }
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
    if (have_old && strcmp(old.name, gs.name) != 0 && !name_free(g, gs.name)) {
        g->st.dropped_limit++; /* renamed onto another group's name: it would shadow it */
        gm_group_state_free(&old);
        gm_group_state_free(&gs);
        return 0;
    }
    g->st.group_updates++;
    if (!gm__msgr_is_member(&gs, gm_node_id(g->node))) {
        /* even if we never had it: an older state that comes later must not add us */
        err = forget_group(g, gs.group_id, gs.version);
        gm__msgr_log(g, GM_LOG_INFO, "messenger: removed from group %s", gs.name);
    } else {
        err = group_put(g, &gs, sgs->state, sgs->state_len, sgs->signature);
        g->groups_joined |= !have_old; /* its messages may be here already */
        gm_node_wake(g->node);
        for (size_t i = 0; have_old && i < old.n_members; i++) {
            removed |= !gm__msgr_is_member(&gs, old.members[i].node_id);
        }
        if (err == 0 && (!have_old || removed)) {
            err = gm__msgr_sk_rotate(g, gs.group_id); /* removal: the removed member must not read on */
            err = err == 0 ? key_to_new_members(g, &gs, NULL) : err;
        } else if (err == 0) {
            err = key_to_new_members(g, &gs, &old);
        }
        for (size_t i = 0; err == 0 && i < gs.n_members; i++) {
            err = gm__msgr_retry_pending(g, gs.group_id, gs.members[i].node_id);
        }
    }
    if (have_old) {
        gm_group_state_free(&old);
    }
    gm_group_state_free(&gs);
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
        if (gm__msgr_run(g, st) != 0 || gm__msgr_sk_send(g, todo[i][0], todo[i][1]) != 0) {
            gm_mesh_abort(g->mesh);
            return;
        }
    }
    st = gm__msgr_q(g, MQ_SKOWN_OLD);
    n = 0;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)(gm__msgr_wall(g) - GM_MSGR_SK_ROTATE_S));
        while (n < 16 && sqlite3_step(st) == SQLITE_ROW) {
            if (sqlite3_column_bytes(st, 0) == GM_ID_LEN) {
                memcpy(todo[n++][0], sqlite3_column_blob(st, 0), GM_ID_LEN);
            }
        }
        sqlite3_reset(st);
    }
    for (size_t i = 0; i < n; i++) {
        if (gm__msgr_sk_renew(g, todo[i][0]) != 0) {
            gm_mesh_abort(g->mesh);
            return;
        }
    }
    st = gm__msgr_q(g, MQ_PENDING_EXPIRE);
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)gm__msgr_wall(g));
        if (gm__msgr_run(g, st) != 0) {
            gm_mesh_abort(g->mesh);
        }
    }
}

/*
 * The custody store's operations: group commit, puts with quotas and
 * eviction, delivery, iteration and expiry. The rules are in node/store.h.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/store_internal.h"

#define NOW_MAX (UINT64_C(1) << 62) /* keeps created + lifetime + skew inside an SQLite integer */

/* A held bundle that may be evicted to make room, as Q_VICTIM reads it. */
typedef struct {
    uint8_t id[GM_ID_LEN];
    gm_prio_t prio;
    uint64_t size;
} victim_t;

/* ---- statements and failures ---- */

static sqlite3_stmt *stmt(gm_store_t *s, gm__store_query_t q)
{
    sqlite3_reset(s->q[q]);
    sqlite3_clear_bindings(s->q[q]);
    return s->q[q];
}

static void bind_id(sqlite3_stmt *st, int col, const uint8_t id[GM_ID_LEN])
{
    sqlite3_bind_blob(st, col, id, GM_ID_LEN, SQLITE_STATIC);
}

/*
 * An SQLite error: the open group is rolled back (SQLite may have done it
 * already) and the totals reloaded, so the store is what the last commit left.
 */
static int fail(gm_store_t *s)
{
    bool lost = s->in_txn;

    snprintf(s->errmsg, sizeof s->errmsg, "%s", sqlite3_errmsg(s->db));
    for (int i = 0; i < Q_COUNT; i++) {
        sqlite3_reset(s->q[i]);
    }
    if (s->in_txn && !sqlite3_get_autocommit(s->db)) {
        sqlite3_step(s->q[Q_ROLLBACK]);
        sqlite3_reset(s->q[Q_ROLLBACK]);
    }
    s->in_txn = false;
    s->pending = 0;
    s->n_drops = 0;
    s->next_expiry = 0; /* rolled-back deletes may have brought expired rows back */
    if (gm__store_load_totals(s) != 0) {
        s->st.bundles = s->st.bytes = 0; /* unknown; the next call fails the same way */
    }
    if (lost && s->on_lost != NULL) {
        s->on_lost(s->lost_ctx, s->gen); /* its acks and deliveries must never happen */
    }
    return GM_EIO;
}

/* Runs a statement that returns no rows. */
static int run(gm_store_t *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : fail(s);
}

/* Opens a group unless one is open: every change goes into it. */
static int begin(gm_store_t *s)
{
    if (s->in_txn) {
        return 0;
    }
    if (run(s, stmt(s, Q_BEGIN)) != 0) {
        return GM_EIO;
    }
    s->in_txn = true;
    s->gen++;
    s->pending = 0;
    return 0;
}

int gm_store_commit(gm_store_t *s)
{
    int n = s->pending;

    assert(!s->in_cb);
    if (!s->in_txn) {
        return 0;
    }
    if (run(s, stmt(s, Q_COMMIT)) != 0) {
        return GM_EIO;
    }
    s->in_txn = false;
    s->pending = 0;
    s->durable_gen = s->gen;
    s->st.commits++;
    return n;
}

uint64_t gm_store_durable_gen(const gm_store_t *s)
{
    return s->durable_gen;
}

int gm_store_begin(gm_store_t *s, uint64_t *gen)
{
    int err;

    assert(!s->in_cb);
    err = begin(s);
    if (err == 0 && gen != NULL) {
        *gen = s->gen;
    }
    return err;
}

void gm_store_abort(gm_store_t *s)
{
    if (s->in_txn) {
        (void)fail(s);
    }
}

sqlite3 *gm_store_db(gm_store_t *s)
{
    return s->db;
}

/* ---- dropped bundles: collected during a call, reported once it succeeded ---- */

static int keep_drop(gm_store_t *s, const uint8_t *data, size_t len)
{
    gm_bundle_t b;

    if (gm_wire_bundle_decode(data, len, len, &b) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "a stored bundle does not decode");
        return GM_EIO;
    }
    if (s->n_drops == s->cap_drops) {
        size_t cap = s->cap_drops ? 2 * s->cap_drops : 16;
        gm_bundle_t *p = realloc(s->drops, cap * sizeof *p);
        if (p == NULL) {
            return GM_ENOMEM;
        }
        s->drops = p;
        s->cap_drops = cap;
    }
    b.body = NULL;
    b.body_len = 0;
    s->drops[s->n_drops++] = b;
    return 0;
}

static void report_drops(gm_store_t *s, gm_store_drop_t why)
{
    s->in_cb = true;
    for (size_t i = 0; i < s->n_drops && s->on_drop != NULL; i++) {
        s->on_drop(s->drop_ctx, &s->drops[i], why);
    }
    s->in_cb = false;
    s->n_drops = 0;
}

void gm_store_set_on_drop(gm_store_t *s, gm_store_drop_cb cb, void *ctx)
{
    s->on_drop = cb;
    s->drop_ctx = ctx;
}

/* ---- quotas and eviction ---- */

/* Bytes held for the id bound to query q (an origin's or a link's total), 0 if none. */
static int bytes_of(gm_store_t *s, gm__store_query_t q, const uint8_t id[GM_ID_LEN],
                    uint64_t *out)
{
    sqlite3_stmt *st = stmt(s, q);
    int rc;

    bind_id(st, 1, id);
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(s);
}

static int origin_bytes(gm_store_t *s, const uint8_t src[GM_ID_LEN], uint64_t *out)
{
    return bytes_of(s, Q_ORIGIN_BYTES, src, out);
}

/* Steps a bound victim query (id, prio, size): *found false if it has no row. */
static int victim_row(gm_store_t *s, sqlite3_stmt *st, victim_t *v, bool *found)
{
    int rc = sqlite3_step(st);

    *found = rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == GM_ID_LEN;
    if (*found) {
        memcpy(v->id, sqlite3_column_blob(st, 0), GM_ID_LEN);
        v->prio = (gm_prio_t)sqlite3_column_int(st, 1);
        v->size = (uint64_t)sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(s);
}

/* The lowest-priority, oldest bundle of src (*found false if it holds none). */
static int lowest_of(gm_store_t *s, const void *src, int src_len, victim_t *v, bool *found)
{
    sqlite3_stmt *st = stmt(s, Q_VICTIM);

    sqlite3_bind_blob(st, 1, src, src_len, SQLITE_TRANSIENT);
    return victim_row(s, st, v, found);
}

/* Whether any non-emergency bundle is held. */
static int has_routine(gm_store_t *s, bool *out)
{
    sqlite3_stmt *st = stmt(s, Q_HAS_ROUTINE);
    int rc = sqlite3_step(st);

    *out = rc == SQLITE_ROW;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(s);
}

/* The total-quota rule of node/store.h for one candidate x of an origin holding v_bytes. */
static bool may_evict(const gm_bundle_t *b, uint64_t mine_after, const victim_t *x, bool same,
                      uint64_t v_bytes, bool routine_left)
{
    if (x->prio == GM_PRIO_EMERGENCY && routine_left) {
        return false;
    }
    if (x->prio > b->priority) {
        return true;
    }
    return x->prio == b->priority && !same && v_bytes > mine_after;
}

/* Drops v: its row and its seen entry, so the id is accepted again later. */
static int evict(gm_store_t *s, const victim_t *v)
{
    sqlite3_stmt *st = stmt(s, Q_GET);
    int rc, err;

    bind_id(st, 1, v->id);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        return fail(s);
    }
    err = keep_drop(s, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    sqlite3_reset(st);
    if (err != 0) {
        return err;
    }
    st = stmt(s, Q_DEL);
    bind_id(st, 1, v->id);
    if (run(s, st) != 0) {
        return GM_EIO;
    }
    /* an id delivered here stays remembered: an evicted flood must not come twice */
    st = stmt(s, Q_SEEN_DEL_UNDELIVERED);
    bind_id(st, 1, v->id);
    if (run(s, st) != 0) {
        return GM_EIO;
    }
    s->st.bundles--;
    s->st.bytes -= v->size;
    return 0;
}

/* Rule 1: room within b's origin, from its own lower-priority bundles only. */
static int fit_origin(gm_store_t *s, const gm_bundle_t *b, uint64_t n)
{
    uint64_t mine;
    victim_t v;
    bool found;
    int err = origin_bytes(s, b->src, &mine);

    while (err == 0 && mine + n > s->lim.max_per_origin) {
        err = lowest_of(s, b->src, GM_ID_LEN, &v, &found);
        if (err == 0 && (!found || v.prio <= b->priority)) {
            return GM_STORE_EQUOTA;
        }
        if (err == 0) {
            err = evict(s, &v);
            mine -= v.size;
        }
    }
    return err;
}

#define VICTIM_SCAN_ORIGINS 64 /* origins looked at one by one before a single query */

/* The lowest-priority, oldest bundle of any origin with a lower priority than b's. */
static int lowest_below(gm_store_t *s, gm_prio_t prio, victim_t *v, bool *found)
{
    sqlite3_stmt *st = stmt(s, Q_VICTIM_BELOW);

    sqlite3_bind_int(st, 1, (int)prio);
    return victim_row(s, st, v, found);
}

/*
 * Rule 2: finds the first origin, largest first, whose lowest bundle may go.
 * The walk stops once an origin holds no more than mine_after (then only a
 * lower priority qualifies, and one query finds it) or after
 * VICTIM_SCAN_ORIGINS origins: a flood of distinct sources cannot make a put
 * walk them all.
 */
static int pick_victim(gm_store_t *s, const gm_bundle_t *b, uint64_t mine_after, bool routine_left,
                       victim_t *v, bool *found)
{
    sqlite3_stmt *origins = stmt(s, Q_ORIGINS);
    int rc = SQLITE_DONE, err = 0;

    size_t walked = 0;
    bool cut_short = false;

    *found = false;
    while (err == 0 && !*found && (rc = sqlite3_step(origins)) == SQLITE_ROW) {
        const void *src = sqlite3_column_blob(origins, 0);
        int src_len = sqlite3_column_bytes(origins, 0);
        uint64_t v_bytes = (uint64_t)sqlite3_column_int64(origins, 1);
        bool same = src_len == GM_ID_LEN && memcmp(src, b->src, GM_ID_LEN) == 0;
        bool any;

        if (v_bytes <= mine_after || ++walked > VICTIM_SCAN_ORIGINS) {
            cut_short = true;
            break;
        }
        err = lowest_of(s, src, src_len, v, &any);
        *found = err == 0 && any && may_evict(b, mine_after, v, same, v_bytes, routine_left);
    }
    if (err == 0 && !*found && !cut_short && rc != SQLITE_DONE) {
        return fail(s);
    }
    sqlite3_reset(origins);
    if (err == 0 && !*found && cut_short) {
        err = lowest_below(s, b->priority, v, found); /* never emergency: prio > b's >= 0 */
    }
    return err;
}

static int fit_total(gm_store_t *s, const gm_bundle_t *b, uint64_t n)
{
    bool routine_left = true, found;
    uint64_t mine;
    victim_t v;
    int err = 0;

    while (err == 0 && s->st.bytes + n > s->lim.max_total) {
        err = origin_bytes(s, b->src, &mine);
        if (err == 0 && b->priority == GM_PRIO_EMERGENCY) {
            err = has_routine(s, &routine_left);
        }
        if (err == 0) {
            err = pick_victim(s, b, mine + n, routine_left, &v, &found);
        }
        if (err == 0 && !found) {
            return GM_STORE_EQUOTA;
        }
        if (err == 0) {
            err = evict(s, &v);
        }
    }
    return err;
}

/* ---- puts ---- */

static const uint8_t local_via[GM_ID_LEN]; /* zeros: put by this node itself */

static int insert(gm_store_t *s, const gm_bundle_t *b, const uint8_t *data, size_t len,
                  const uint8_t via[GM_ID_LEN])
{
    uint64_t expires = b->created + b->lifetime;
    sqlite3_stmt *st = stmt(s, Q_ADD);

    bind_id(st, 1, b->id);
    bind_id(st, 2, b->src);
    sqlite3_bind_int(st, 3, (int)b->dst.kind);
    if (b->dst.kind == GM_DST_ALL) {
        sqlite3_bind_zeroblob(st, 4, GM_ID_LEN); /* everyone: a zero id, as iteration asks */
    } else {
        bind_id(st, 4, b->dst.id);
    }
    sqlite3_bind_int(st, 5, (int)b->priority);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)b->created);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)expires);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)len);
    sqlite3_bind_blob(st, 9, data, (int)len, SQLITE_STATIC);
    bind_id(st, 10, via);
    if (run(s, st) != 0) {
        return GM_EIO;
    }
    st = stmt(s, Q_SEEN_ADD);
    bind_id(st, 1, b->id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)(expires + GM_STORE_SKEW_SECONDS));
    if (expires < s->next_expiry) {
        s->next_expiry = expires; /* the bundle goes first; its seen row later */
    }
    return run(s, st);
}

/* The checks that need no disk: size and time. */
static int check_put(gm_store_t *s, const gm_bundle_t *b, size_t len, uint64_t now)
{
    if (len > s->lim.max_bundle) {
        s->st.refused_too_large++;
        return GM_STORE_ETOOBIG;
    }
    if (b->created > now + GM_STORE_SKEW_SECONDS) {
        s->st.refused_future++;
        return GM_STORE_EFUTURE;
    }
    if (b->created + b->lifetime <= now) {
        s->st.refused_expired++;
        return GM_STORE_EEXPIRED;
    }
    return 0;
}

static int is_seen(gm_store_t *s, const uint8_t id[GM_ID_LEN], bool *seen, bool *delivered)
{
    sqlite3_stmt *st = stmt(s, Q_SEEN_GET);
    int rc;

    bind_id(st, 1, id);
    rc = sqlite3_step(st);
    *seen = rc == SQLITE_ROW;
    *delivered = *seen && sqlite3_column_int(st, 0) != 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(s);
}

/* Evicts what the rules allow and inserts, inside a savepoint: all or nothing. */
static int put_in_savepoint(gm_store_t *s, const gm_bundle_t *b, const uint8_t *data, size_t len,
                            const uint8_t via[GM_ID_LEN])
{
    uint64_t bundles = s->st.bundles, bytes = s->st.bytes;
    int err;

    if (run(s, stmt(s, Q_SAVEPOINT)) != 0) {
        return GM_EIO;
    }
    err = fit_origin(s, b, len);
    if (err == 0) {
        err = fit_total(s, b, len);
    }
    if (err == 0) {
        err = insert(s, b, data, len, via);
    }
    if (err == GM_EIO) {
        return err; /* fail() rolled the whole group back */
    }
    if (err != 0) {
        s->n_drops = 0;
        s->st.bundles = bundles;
        s->st.bytes = bytes;
        if (run(s, stmt(s, Q_ROLLBACK_TO)) != 0) {
            return GM_EIO;
        }
    }
    if (run(s, stmt(s, Q_RELEASE)) != 0) {
        return GM_EIO;
    }
    return err;
}

/* True if id is held now. */
static int is_held(gm_store_t *s, const uint8_t id[GM_ID_LEN], bool *held)
{
    sqlite3_stmt *st = stmt(s, Q_GET);
    int rc;

    bind_id(st, 1, id);
    rc = sqlite3_step(st);
    *held = rc == SQLITE_ROW;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(s);
}

static int put(gm_store_t *s, const gm_bundle_t *b, const uint8_t *data, size_t len, uint64_t now,
               uint64_t *gen, bool readmit, const uint8_t via[GM_ID_LEN])
{
    bool was_open = s->in_txn, seen, delivered, held = true;
    uint64_t via_bytes = 0;
    int err;

    assert(!s->in_cb && now < NOW_MAX);
    err = check_put(s, b, len, now);
    if (err == 0) {
        err = begin(s);
    }
    if (err == 0) {
        err = is_seen(s, b->id, &seen, &delivered);
    }
    if (err == 0 && seen && readmit && !delivered) {
        err = is_held(s, b->id, &held);
    }
    if (err == 0 && seen && readmit && !delivered && !held) {
        sqlite3_stmt *st = stmt(s, Q_SEEN_DEL); /* passed on once, back now: held again */
        bind_id(st, 1, b->id);
        err = run(s, st) != 0 ? GM_EIO : 0;
        seen = false;
        s->st.readmitted++;
    }
    if (err != 0) {
        return err;
    }
    if (seen) {
        s->st.duplicates++;
        /* The first put may be in the open group; if none was open, it is durable. */
        *gen = was_open ? s->gen : s->durable_gen;
        return GM_STORE_EDUPLICATE;
    }
    if (via != local_via && s->lim.max_per_link != 0) {
        err = bytes_of(s, Q_LINK_BYTES, via, &via_bytes);
        if (err != 0) {
            return err;
        }
        if (via_bytes + len > s->lim.max_per_link) {
            s->st.refused_quota++;
            return GM_STORE_EQUOTA; /* nothing is evicted for a neighbour over its share */
        }
    }
    err = put_in_savepoint(s, b, data, len, via);
    if (err == GM_STORE_EQUOTA) {
        s->st.refused_quota++;
    }
    if (err != 0) {
        return err;
    }
    s->st.evicted += s->n_drops;
    report_drops(s, GM_STORE_DROP_EVICTED);
    s->st.bundles++;
    s->st.bytes += len;
    s->st.puts++;
    s->pending++;
    *gen = s->gen;
    return 0;
}

int gm_store_put(gm_store_t *s, const gm_bundle_t *b, const uint8_t *data, size_t len, uint64_t now,
                 uint64_t *gen)
{
    return put(s, b, data, len, now, gen, false, local_via);
}

int gm_store_readmit(gm_store_t *s, const gm_bundle_t *b, const uint8_t *data, size_t len,
                     uint64_t now, uint64_t *gen)
{
    return put(s, b, data, len, now, gen, true, local_via);
}

int gm_store_put_from(gm_store_t *s, const uint8_t via[GM_ID_LEN], const gm_bundle_t *b,
                      const uint8_t *data, size_t len, uint64_t now, uint64_t *gen, bool readmit)
{
    return put(s, b, data, len, now, gen, readmit, via);
}

/* ---- custody handed on, delivery ---- */

static int delete_held(gm_store_t *s, const uint8_t id[GM_ID_LEN], uint64_t *size)
{
    sqlite3_stmt *st = stmt(s, Q_GET);
    int rc;

    bind_id(st, 1, id);
    rc = sqlite3_step(st);
    *size = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_bytes(st, 0) : 0;
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        return GM_ENOENT;
    }
    if (rc != SQLITE_ROW) {
        return fail(s);
    }
    st = stmt(s, Q_DEL);
    bind_id(st, 1, id);
    return run(s, st);
}

/* In the open group: a held bundle leaves the store (its id stays seen). */
static int drop_held(gm_store_t *s, const uint8_t id[GM_ID_LEN])
{
    uint64_t size;
    int err;

    assert(!s->in_cb);
    err = begin(s);
    err = err ? err : delete_held(s, id, &size);
    if (err == 0) {
        s->st.bundles--;
        s->st.bytes -= size;
    }
    return err;
}

int gm_store_remove(gm_store_t *s, const uint8_t id[GM_ID_LEN])
{
    int err = drop_held(s, id);

    if (err == 0) {
        s->st.removed++;
    }
    return err;
}

/* In the open group: id is remembered as delivered here (*gen: the group). */
static int set_delivered(gm_store_t *s, const uint8_t id[GM_ID_LEN], uint64_t *gen)
{
    sqlite3_stmt *st = stmt(s, Q_SEEN_DELIVERED);

    bind_id(st, 1, id);
    if (run(s, st) != 0) {
        return GM_EIO;
    }
    s->st.delivered++;
    *gen = s->gen;
    return 0;
}

int gm_store_note_delivered(gm_store_t *s, const uint8_t id[GM_ID_LEN], uint64_t *gen)
{
    int err;

    assert(!s->in_cb);
    err = begin(s);
    return err ? err : set_delivered(s, id, gen);
}

void gm_store_set_on_lost(gm_store_t *s, gm_store_lost_cb cb, void *ctx)
{
    s->on_lost = cb;
    s->lost_ctx = ctx;
}

int gm_store_mark_delivered(gm_store_t *s, const uint8_t id[GM_ID_LEN], uint64_t *gen)
{
    int err = drop_held(s, id);

    /* Same group as the delete: after any crash, both happened or neither did. */
    return err ? err : set_delivered(s, id, gen);
}

int gm_store_lookup(gm_store_t *s, const uint8_t id[GM_ID_LEN], gm_store_state_t *out)
{
    sqlite3_stmt *st;
    bool seen, delivered;
    int rc, err;

    assert(!s->in_cb);
    err = is_seen(s, id, &seen, &delivered);
    if (err != 0 || !seen || delivered) {
        if (err == 0) {
            *out = delivered ? GM_STORE_DELIVERED : GM_STORE_UNSEEN;
        }
        return err;
    }
    st = stmt(s, Q_GET);
    bind_id(st, 1, id);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return fail(s);
    }
    *out = rc == SQLITE_ROW ? GM_STORE_HELD : GM_STORE_SEEN;
    return 0;
}

/* ---- iteration ---- */

/* Steps st, handing each row's column 0 (an encoded bundle) to cb until done or stopped. */
static int each_row(gm_store_t *s, sqlite3_stmt *st, gm_store_each_cb cb, void *ctx, size_t *count)
{
    int rc = SQLITE_DONE, err = 0, stop = 0;

    *count = 0;
    while (err == 0 && stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const uint8_t *data = sqlite3_column_blob(st, 0);
        size_t len = (size_t)sqlite3_column_bytes(st, 0);
        gm_bundle_t b;

        if (gm_wire_bundle_decode(data, len, len, &b) != 0) {
            snprintf(s->errmsg, sizeof s->errmsg, "a stored bundle does not decode");
            err = GM_EIO;
            break;
        }
        (*count)++;
        s->in_cb = true;
        stop = cb(ctx, &b, data, len);
        s->in_cb = false;
    }
    if (err == 0 && stop == 0 && rc != SQLITE_DONE) {
        return fail(s);
    }
    sqlite3_reset(st);
    return err;
}

int gm_store_each(gm_store_t *s, const gm_dest_t *dst, size_t limit, gm_store_each_cb cb, void *ctx)
{
    sqlite3_int64 lim = limit == 0 || limit > INT64_MAX ? -1 : (sqlite3_int64)limit;
    sqlite3_stmt *st;
    size_t count;

    assert(!s->in_cb);
    if (dst == NULL) {
        st = stmt(s, Q_EACH_ALL);
        sqlite3_bind_int64(st, 1, lim);
    } else {
        static const uint8_t zero[GM_ID_LEN];

        st = stmt(s, Q_EACH_DST);
        sqlite3_bind_int(st, 1, (int)dst->kind);
        bind_id(st, 2, dst->kind == GM_DST_ALL ? zero : dst->id);
        sqlite3_bind_int64(st, 3, lim);
    }
    return each_row(s, st, cb, ctx, &count);
}

int gm_store_each_kind(gm_store_t *s, gm_dst_kind_t kind, size_t limit, gm_store_each_cb cb,
                       void *ctx)
{
    sqlite3_stmt *st = stmt(s, Q_EACH_KIND);
    size_t count;

    assert(!s->in_cb);
    sqlite3_bind_int(st, 1, (int)kind);
    sqlite3_bind_int64(st, 2, limit == 0 || limit > INT64_MAX ? -1 : (sqlite3_int64)limit);
    return each_row(s, st, cb, ctx, &count);
}

int gm_store_get(gm_store_t *s, const uint8_t id[GM_ID_LEN], gm_store_each_cb cb, void *ctx)
{
    sqlite3_stmt *st = stmt(s, Q_GET);
    size_t count;
    int err;

    assert(!s->in_cb);
    bind_id(st, 1, id);
    err = each_row(s, st, cb, ctx, &count);
    return err == 0 && count == 0 ? GM_ENOENT : err;
}

int gm_store_ids(gm_store_t *s, const uint8_t *after, size_t limit, uint8_t (*out)[GM_ID_LEN],
                 size_t *n)
{
    sqlite3_stmt *st = stmt(s, Q_IDS);
    size_t got = 0;
    int rc = SQLITE_DONE;

    assert(!s->in_cb);
    if (after != NULL) {
        bind_id(st, 1, after);
    } else {
        sqlite3_bind_zeroblob(st, 1, 0); /* the empty blob sorts before every id */
    }
    sqlite3_bind_int64(st, 2, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
    while (got < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) == GM_ID_LEN) {
            memcpy(out[got++], sqlite3_column_blob(st, 0), GM_ID_LEN);
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return fail(s);
    }
    *n = got;
    return 0;
}

/* ---- expiry ---- */

/* The earliest expiry left in the store (UINT64_MAX when empty). */
static int load_next_expiry(gm_store_t *s)
{
    sqlite3_stmt *st = stmt(s, Q_NEXT_EXPIRY);
    int rc = sqlite3_step(st);

    if (rc != SQLITE_ROW) {
        return GM_EIO;
    }
    s->next_expiry = sqlite3_column_type(st, 0) == SQLITE_NULL
                         ? UINT64_MAX
                         : (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

static int collect_expired(gm_store_t *s, sqlite3_int64 now)
{
    sqlite3_stmt *st = stmt(s, Q_EXPIRED);
    int rc = SQLITE_DONE, err = 0;

    sqlite3_bind_int64(st, 1, now);
    while (err == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        err = keep_drop(s, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    }
    sqlite3_reset(st);
    if (err == 0 && rc != SQLITE_DONE) {
        return fail(s);
    }
    if (err != 0) {
        s->n_drops = 0;
    }
    return err;
}

int gm_store_expire(gm_store_t *s, uint64_t now, size_t *n)
{
    sqlite3_stmt *st;
    size_t count;
    int err;

    assert(!s->in_cb && now < NOW_MAX);
    if (now < s->next_expiry) {
        if (n != NULL) {
            *n = 0;
        }
        return 0; /* nothing can have expired yet: no transaction, no scan */
    }
    err = begin(s);
    if (err == 0) {
        err = collect_expired(s, (sqlite3_int64)now);
    }
    if (err != 0) {
        return err;
    }
    st = stmt(s, Q_EXPIRE);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
    if (run(s, st) != 0) {
        return GM_EIO;
    }
    st = stmt(s, Q_SEEN_EXPIRE);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
    if (run(s, st) != 0) {
        return GM_EIO;
    }
    if (gm__store_load_totals(s) != 0 || load_next_expiry(s) != 0) {
        return fail(s);
    }
    count = s->n_drops;
    s->st.expired += count;
    report_drops(s, GM_STORE_DROP_EXPIRED);
    if (n != NULL) {
        *n = count;
    }
    return 0;
}

void gm_store_stats(const gm_store_t *s, gm_store_stats_t *out)
{
    *out = s->st;
}

const char *gm_store_errmsg(const gm_store_t *s)
{
    return s->errmsg;
}

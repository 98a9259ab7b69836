/* node/store: group commit, duplicates, delivery, expiry, quotas, eviction order, iteration. */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "node/store.h"
#include "tests/support/bundles.h"
#include "tests/support/ident.h"

#define NOW GM_TEST_NOW
#define BODY 100 /* every bundle of these tests: same body length, so the same size */

enum { A = 0x0a, B = 0x0b, C = 0x0c, D = 0x0d }; /* source nodes: A sorts first */

static char dir[GM_PATH_MAX];
static gm_store_t *store;
static size_t unit; /* encoded size of one test bundle */

/* What the drop callback saw, in order. */
static struct {
    uint32_t n[64]; /* bundle numbers */
    gm_store_drop_t why[64];
    size_t count;
} drops;

static void on_drop(void *ctx, const gm_bundle_t *hdr, gm_store_drop_t why)
{
    cr_assert_eq(ctx, &drops);
    cr_assert_null(hdr->body);
    cr_assert_lt(drops.count, 64);
    drops.n[drops.count] = ((uint32_t)hdr->id[0] << 24) | ((uint32_t)hdr->id[1] << 16) |
                           ((uint32_t)hdr->id[2] << 8) | hdr->id[3];
    drops.why[drops.count++] = why;
}

static void setup(void)
{
    gm_test_bundle_t t;

    gm_test_tmpdir(dir);
    gm_test_bundle(&t, 0, A, GM_PRIO_NORMAL, BODY);
    unit = t.len;
    memset(&drops, 0, sizeof drops);
}

static void teardown(void)
{
    gm_store_free(store);
    store = NULL;
    gm_test_rmdir(dir);
}

TestSuite(store, .init = setup, .fini = teardown);

/* Opens the store with room for total and per_origin bundles of the test size. */
static void open_units(uint64_t total, uint64_t per_origin)
{
    gm_store_limits_t lim = {
        .max_total = total * unit, .max_per_origin = per_origin * unit, .max_bundle = unit};

    store = gm_test_store(dir, &lim);
    gm_store_set_on_drop(store, on_drop, &drops);
}

static void reopen(void)
{
    gm_store_free(store);
    store = gm_test_store(dir, NULL);
    gm_store_set_on_drop(store, on_drop, &drops);
}

static int put_at(uint32_t n, uint8_t src, gm_prio_t prio, uint64_t now)
{
    gm_test_bundle_t t;
    uint64_t gen;

    gm_test_bundle(&t, n, src, prio, BODY);
    return gm_store_put(store, &t.b, t.enc, t.len, now, &gen);
}

static int put(uint32_t n, uint8_t src, gm_prio_t prio)
{
    return put_at(n, src, prio, NOW);
}

static gm_store_state_t state_of(uint32_t n)
{
    uint8_t id[GM_ID_LEN];
    gm_store_state_t st;

    gm_test_bundle_id(n, id);
    cr_assert_eq(gm_store_lookup(store, id, &st), 0);
    return st;
}

static bool held(uint32_t n)
{
    return state_of(n) == GM_STORE_HELD;
}

/* The numbers of the held bundles for dst (NULL: all), in iteration order. */
static struct {
    uint32_t n[256];
    size_t count;
    size_t stop_after; /* 0: never stop */
} seen;

static int on_each(void *ctx, const gm_bundle_t *b, const uint8_t *data, size_t len)
{
    gm_test_bundle_t t;
    uint32_t n = ((uint32_t)b->id[0] << 24) | ((uint32_t)b->id[1] << 16) |
                 ((uint32_t)b->id[2] << 8) | b->id[3];

    (void)ctx;
    /* The bytes are those put, and the header and body are decoded from them. */
    gm_test_bundle(&t, n, b->src[0], b->priority, b->body_len);
    t.b.dst = b->dst;
    gm_test_bundle_encode(&t);
    cr_assert_eq(len, t.len);
    cr_assert_arr_eq(data, t.enc, len);
    cr_assert(b->body >= data && b->body + b->body_len == data + len);
    cr_assert_lt(seen.count, 256);
    seen.n[seen.count++] = n;
    return seen.stop_after != 0 && seen.count >= seen.stop_after;
}

static size_t list(const gm_dest_t *dst, size_t limit)
{
    seen.count = 0;
    cr_assert_eq(gm_store_each(store, dst, limit, on_each, NULL), 0);
    return seen.count;
}

/* ---- group commit and durability ---- */

Test(store, commit_makes_the_group_durable_and_reports_its_size)
{
    gm_test_bundle_t t;
    uint64_t gen1, gen2;

    open_units(100, 100);
    cr_assert_eq(gm_store_commit(store), 0, "nothing open");
    cr_assert_eq(gm_store_durable_gen(store), 0);
    gm_test_bundle(&t, 1, A, GM_PRIO_NORMAL, BODY);
    cr_assert_eq(gm_store_put(store, &t.b, t.enc, t.len, NOW, &gen1), 0);
    gm_test_bundle(&t, 2, A, GM_PRIO_NORMAL, BODY);
    cr_assert_eq(gm_store_put(store, &t.b, t.enc, t.len, NOW, &gen2), 0);
    cr_assert_eq(gen1, gen2, "one group");
    cr_assert_gt(gen1, gm_store_durable_gen(store), "not durable before the commit");
    cr_assert_eq(gm_store_commit(store), 2);
    cr_assert_eq(gm_store_durable_gen(store), gen1);
    gm_test_bundle(&t, 3, A, GM_PRIO_NORMAL, BODY);
    cr_assert_eq(gm_store_put(store, &t.b, t.enc, t.len, NOW, &gen2), 0);
    cr_assert_gt(gen2, gen1, "a new group after a commit");
    cr_assert_eq(gm_store_commit(store), 1);
}

Test(store, committed_bundles_survive_reopen_and_uncommitted_ones_do_not)
{
    gm_store_stats_t st;

    open_units(100, 100);
    for (uint32_t n = 1; n <= 10; n++) {
        cr_assert_eq(put(n, A, GM_PRIO_NORMAL), 0);
    }
    cr_assert_eq(gm_store_commit(store), 10);
    cr_assert_eq(put(11, A, GM_PRIO_NORMAL), 0);
    cr_assert_eq(put(12, B, GM_PRIO_URGENT), 0);
    cr_assert_eq(list(NULL, 0), 12, "uncommitted puts are visible before the commit");
    reopen();
    cr_assert_eq(list(NULL, 0), 10);
    for (uint32_t n = 1; n <= 10; n++) {
        cr_assert_eq(seen.n[n - 1], n);
    }
    cr_assert_eq(state_of(11), GM_STORE_UNSEEN, "rolled back, id forgotten too");
    gm_store_stats(store, &st);
    cr_assert_eq(st.bundles, 10);
    cr_assert_eq(st.bytes, 10 * unit);
}

/* The simulator's stores: the same code in SQLite's memdb, kept across a crash by a hold. */
Test(store, memory_store_outlives_a_crash_while_held_and_writes_no_file)
{
    gm_store_limits_t lim = {.max_total = 100 * unit, .max_per_origin = 100 * unit,
                             .max_bundle = unit};
    char name[GM_PATH_MAX + 16];
    void *hold;
    gm_why_t why;

    snprintf(name, sizeof name, "%s/store.db", dir);
    cr_assert_eq(gm_store_memory_hold(name, &hold), 0);
    cr_assert_eq(gm_store_new_memory(name, &lim, &store, &why), 0, "%s", why.msg);
    for (uint32_t n = 1; n <= 3; n++) {
        cr_assert_eq(put(n, A, GM_PRIO_NORMAL), 0);
    }
    cr_assert_eq(gm_store_commit(store), 3);
    cr_assert_eq(put(4, A, GM_PRIO_NORMAL), 0);
    gm_store_free(store); /* a crash: the open group is lost */
    cr_assert_eq(gm_store_new_memory(name, &lim, &store, &why), 0, "%s", why.msg);
    cr_assert_eq(list(NULL, 0), 3);
    cr_assert_eq(state_of(4), GM_STORE_UNSEEN);
    cr_assert_eq(access(name, F_OK), -1, "a memory store made a file");
    gm_store_t *second = NULL;
    cr_assert_neq(gm_store_new_memory(name, &lim, &second, &why), 0, "a second node got it too");
    cr_assert_null(second);
    gm_store_free(store);
    gm_store_memory_release(hold);
    /* nothing holds it any more: the next one starts empty */
    cr_assert_eq(gm_store_new_memory(name, &lim, &store, &why), 0, "%s", why.msg);
    cr_assert_eq(list(NULL, 0), 0);
}

Test(store, memory_store_name_that_would_change_its_uri_or_a_size_beyond_memdb_is_refused)
{
    gm_store_limits_t lim = {.max_total = unit, .max_per_origin = unit, .max_bundle = unit};
    gm_store_t *s = NULL;
    gm_why_t why;

    cr_assert_eq(gm_store_new_memory("/x?vfs=unix", &lim, &s, &why), GM_EPROTO);
    cr_assert_null(s);
    cr_assert(strstr(why.msg, "memory store") != NULL, "%s", why.msg);
    lim.max_total = lim.max_per_origin = 1ull << 30; /* beyond what memdb holds */
    cr_assert_eq(gm_store_new_memory("/too-big", &lim, &s, &why), GM_EPROTO);
    cr_assert(strstr(why.msg, "at most") != NULL, "%s", why.msg);
}

/* ---- duplicates, custody handed on, delivery ---- */

Test(store, duplicate_is_refused_in_the_group_after_commit_and_after_reopen)
{
    gm_test_bundle_t t;
    gm_store_stats_t st;
    uint64_t gen, dup_gen;

    open_units(100, 100);
    gm_test_bundle(&t, 1, A, GM_PRIO_NORMAL, BODY);
    cr_assert_eq(gm_store_put(store, &t.b, t.enc, t.len, NOW, &gen), 0);
    cr_assert_eq(gm_store_put(store, &t.b, t.enc, t.len, NOW, &dup_gen), GM_STORE_EDUPLICATE);
    cr_assert_eq(dup_gen, gen, "ack the duplicate only once the first put is durable");
    cr_assert_eq(gm_store_commit(store), 1);
    cr_assert_eq(gm_store_put(store, &t.b, t.enc, t.len, NOW, &dup_gen), GM_STORE_EDUPLICATE);
    cr_assert_leq(dup_gen, gm_store_durable_gen(store), "already durable: ack at once");
    reopen();
    cr_assert_eq(gm_store_put(store, &t.b, t.enc, t.len, NOW, &dup_gen), GM_STORE_EDUPLICATE);
    gm_store_stats(store, &st);
    cr_assert_eq(st.duplicates, 1);
    cr_assert_eq(st.puts, 0);
    cr_assert_eq(st.bundles, 1);
}

Test(store, removed_bundle_is_no_longer_held_but_its_id_stays_seen)
{
    uint8_t id[GM_ID_LEN];

    open_units(100, 100);
    cr_assert_eq(put(1, A, GM_PRIO_NORMAL), 0);
    cr_assert_eq(put(2, A, GM_PRIO_NORMAL), 0);
    gm_test_bundle_id(1, id);
    cr_assert_eq(gm_store_remove(store, id), 0);
    cr_assert_eq(gm_store_remove(store, id), GM_ENOENT);
    cr_assert_eq(gm_store_commit(store), 2);
    reopen();
    cr_assert_eq(state_of(1), GM_STORE_SEEN);
    cr_assert_eq(put(1, A, GM_PRIO_NORMAL), GM_STORE_EDUPLICATE);
    cr_assert_eq(list(NULL, 0), 1);
    cr_assert_eq(seen.n[0], 2);
}

Test(store, delivered_id_is_refused_after_reopen)
{
    uint8_t id[GM_ID_LEN];
    uint64_t gen;

    open_units(100, 100);
    cr_assert_eq(put(1, A, GM_PRIO_NORMAL), 0);
    cr_assert_eq(gm_store_commit(store), 1);
    gm_test_bundle_id(1, id);
    cr_assert_eq(gm_store_mark_delivered(store, id, &gen), 0);
    cr_assert_gt(gen, gm_store_durable_gen(store), "deliver only after the next commit");
    cr_assert_eq(gm_store_commit(store), 0, "no put in this group");
    cr_assert_eq(gm_store_durable_gen(store), gen);
    reopen();
    cr_assert_eq(state_of(1), GM_STORE_DELIVERED);
    cr_assert_eq(list(NULL, 0), 0, "delivered bundles are not held");
    cr_assert_eq(put(1, A, GM_PRIO_NORMAL), GM_STORE_EDUPLICATE);
    cr_assert_eq(gm_store_mark_delivered(store, id, &gen), GM_ENOENT);
}

Test(store, uncommitted_delivery_is_undone_whole)
{
    uint8_t id[GM_ID_LEN];
    uint64_t gen;

    open_units(100, 100);
    cr_assert_eq(put(1, A, GM_PRIO_NORMAL), 0);
    cr_assert_eq(gm_store_commit(store), 1);
    gm_test_bundle_id(1, id);
    cr_assert_eq(gm_store_mark_delivered(store, id, &gen), 0);
    cr_assert_eq(state_of(1), GM_STORE_DELIVERED);
    reopen(); /* no commit: as after a crash */
    cr_assert_eq(state_of(1), GM_STORE_HELD, "neither delivered nor dropped");
    cr_assert_eq(list(NULL, 0), 1);
}

/* ---- time ---- */

Test(store, creation_time_beyond_the_skew_and_lifetime_over_are_refused)
{
    gm_test_bundle_t t;
    gm_store_stats_t st;
    uint64_t gen;

    open_units(100, 100);
    gm_test_bundle(&t, 1, A, GM_PRIO_NORMAL, BODY);
    t.b.created = NOW + GM_STORE_SKEW_SECONDS + 1;
    gm_test_bundle_encode(&t);
    cr_assert_eq(gm_store_put(store, &t.b, t.enc, t.len, NOW, &gen), GM_STORE_EFUTURE);
    t.b.created = NOW + GM_STORE_SKEW_SECONDS;
    gm_test_bundle_encode(&t);
    cr_assert_eq(gm_store_put(store, &t.b, t.enc, t.len, NOW, &gen), 0, "within the skew");

    gm_test_bundle(&t, 2, A, GM_PRIO_NORMAL, BODY);
    cr_assert_eq(gm_store_put(store, &t.b, t.enc, t.len, NOW + GM_TEST_LIFETIME, &gen),
                 GM_STORE_EEXPIRED);
    cr_assert_eq(gm_store_put(store, &t.b, t.enc, t.len, NOW + GM_TEST_LIFETIME - 1, &gen), 0);
    gm_store_stats(store, &st);
    cr_assert_eq(st.refused_future, 1);
    cr_assert_eq(st.refused_expired, 1);
    cr_assert_eq(st.puts, 2);
}

Test(store, expiry_reports_and_drops_bundles_then_forgets_their_ids_after_the_skew)
{
    gm_test_bundle_t t;
    uint64_t gen;
    size_t n;

    open_units(100, 100);
    cr_assert_eq(put(1, A, GM_PRIO_NORMAL), 0); /* lives until NOW + LIFETIME */
    gm_test_bundle(&t, 2, B, GM_PRIO_EMERGENCY, BODY);
    t.b.lifetime = 2 * GM_TEST_LIFETIME;
    gm_test_bundle_encode(&t);
    cr_assert_eq(gm_store_put(store, &t.b, t.enc, t.len, NOW, &gen), 0);
    cr_assert_eq(gm_store_commit(store), 2);

    cr_assert_eq(gm_store_expire(store, NOW + GM_TEST_LIFETIME - 1, &n), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(gm_store_expire(store, NOW + GM_TEST_LIFETIME, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(drops.count, 1);
    cr_assert_eq(drops.n[0], 1);
    cr_assert_eq(drops.why[0], GM_STORE_DROP_EXPIRED);
    cr_assert_eq(state_of(1), GM_STORE_SEEN, "the id is kept for the skew");
    cr_assert(held(2));
    cr_assert_eq(gm_store_commit(store), 0);
    reopen();
    cr_assert_eq(state_of(1), GM_STORE_SEEN);
    cr_assert_eq(gm_store_expire(store, NOW + GM_TEST_LIFETIME + GM_STORE_SKEW_SECONDS - 1, &n), 0);
    cr_assert_eq(state_of(1), GM_STORE_SEEN, "kept until created + lifetime + skew");
    cr_assert_eq(gm_store_expire(store, NOW + GM_TEST_LIFETIME + GM_STORE_SKEW_SECONDS, &n), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(state_of(1), GM_STORE_UNSEEN);
    cr_assert(held(2));
}

/* Passes are skipped until something can expire; a put that expires sooner, or an expiry
 * rolled back, is never missed. */
Test(store, expiry_skips_empty_passes_but_misses_nothing)
{
    gm_test_bundle_t t;
    uint64_t gen;
    size_t n;

    open_units(100, 100);
    gm_test_bundle(&t, 1, A, GM_PRIO_NORMAL, BODY);
    t.b.lifetime = 3 * GM_TEST_LIFETIME;
    gm_test_bundle_encode(&t);
    cr_assert_eq(gm_store_put(store, &t.b, t.enc, t.len, NOW, &gen), 0);
    cr_assert_geq(gm_store_commit(store), 0);
    cr_assert_eq(gm_store_expire(store, NOW + 1, &n), 0); /* learns the earliest expiry */
    cr_assert_eq(n, 0);
    cr_assert_eq(put(2, B, GM_PRIO_NORMAL), 0); /* expires sooner than bundle 1 */
    cr_assert_geq(gm_store_commit(store), 0);
    cr_assert_eq(gm_store_expire(store, NOW + GM_TEST_LIFETIME, &n), 0);
    cr_assert_eq(n, 1, "the later put's earlier expiry was missed");
    gm_store_abort(store); /* the expiry is rolled back: bundle 2 is held again */
    cr_assert(held(2));
    cr_assert_eq(gm_store_expire(store, NOW + GM_TEST_LIFETIME + 1, &n), 0);
    cr_assert_eq(n, 1, "an expiry rolled back was not done again");
    cr_assert_geq(gm_store_commit(store), 0);
    cr_assert_not(held(2));
    cr_assert(held(1));
    cr_assert_eq(gm_store_expire(store, NOW + 3 * GM_TEST_LIFETIME, &n), 0);
    cr_assert_eq(n, 1);
}

/* ---- quotas and eviction ---- */

Test(store, bundle_over_max_bundle_is_refused)
{
    gm_test_bundle_t t;
    uint64_t gen;

    open_units(10, 10);
    gm_test_bundle(&t, 1, A, GM_PRIO_EMERGENCY, BODY + 1);
    cr_assert_eq(gm_store_put(store, &t.b, t.enc, t.len, NOW, &gen), GM_STORE_ETOOBIG);
    cr_assert_eq(put(1, A, GM_PRIO_EMERGENCY), 0, "exactly max_bundle fits");
}

Test(store, origin_over_its_quota_evicts_only_its_own_lower_priority_bundles)
{
    gm_store_stats_t st;

    open_units(100, 3);
    cr_assert_eq(put(1, B, GM_PRIO_BULK), 0);
    cr_assert_eq(put(10, A, GM_PRIO_BULK), 0);
    cr_assert_eq(put(11, A, GM_PRIO_NORMAL), 0);
    cr_assert_eq(put(12, A, GM_PRIO_BULK), 0);
    cr_assert_eq(put(13, A, GM_PRIO_BULK), GM_STORE_EQUOTA, "same priority: refused");
    cr_assert_eq(drops.count, 0);
    cr_assert_eq(put(14, A, GM_PRIO_URGENT), 0);
    cr_assert_eq(put(15, A, GM_PRIO_URGENT), 0);
    cr_assert_eq(put(16, A, GM_PRIO_URGENT), 0);
    cr_assert_eq(drops.count, 3);
    cr_assert_eq(drops.n[0], 10, "lowest priority, oldest first");
    cr_assert_eq(drops.n[1], 12);
    cr_assert_eq(drops.n[2], 11);
    cr_assert_eq(drops.why[0], GM_STORE_DROP_EVICTED);
    cr_assert_eq(put(17, A, GM_PRIO_URGENT), GM_STORE_EQUOTA, "nothing lower left");
    cr_assert_eq(put(18, A, GM_PRIO_EMERGENCY), 0, "an emergency evicts the oldest urgent");
    cr_assert_eq(drops.count, 4);
    cr_assert_eq(drops.n[3], 14);
    cr_assert(held(1), "another origin's bulk bundle is untouched");
    cr_assert_eq(state_of(10), GM_STORE_UNSEEN, "an evicted id is forgotten");
    cr_assert_eq(put(10, A, GM_PRIO_BULK), GM_STORE_EQUOTA, "and offered again, judged anew");
    gm_store_stats(store, &st);
    cr_assert_eq(st.evicted, 4);
    cr_assert_eq(st.refused_quota, 3);
    cr_assert_eq(st.bytes, 4 * unit);
}

Test(store, full_store_evicts_lowest_priority_oldest_of_the_largest_origin_first)
{
    open_units(5, 5);
    cr_assert_eq(put(1, A, GM_PRIO_BULK), 0);
    cr_assert_eq(put(2, A, GM_PRIO_NORMAL), 0);
    cr_assert_eq(put(3, A, GM_PRIO_BULK), 0);
    cr_assert_eq(put(4, B, GM_PRIO_BULK), 0);
    cr_assert_eq(put(5, B, GM_PRIO_BULK), 0);
    /* A holds 3, B 2: A's oldest bulk goes, not B's older-looking bulk. */
    cr_assert_eq(put(6, C, GM_PRIO_NORMAL), 0);
    /* A 2 and B 2: the tie goes to the lower node id, A; its bulk bundle 3 goes. */
    cr_assert_eq(put(7, C, GM_PRIO_NORMAL), 0);
    /* A 1 (normal), B 2, C 2: B before C on the tie; B's oldest bulk goes. */
    cr_assert_eq(put(8, C, GM_PRIO_NORMAL), 0);
    cr_assert_eq(drops.count, 3);
    cr_assert_eq(drops.n[0], 1);
    cr_assert_eq(drops.n[1], 3);
    cr_assert_eq(drops.n[2], 4);
    cr_assert(held(2) && held(5) && held(6) && held(7) && held(8));
}

Test(store, same_priority_evicts_only_from_an_origin_holding_more)
{
    open_units(4, 4);
    for (uint32_t n = 1; n <= 4; n++) {
        cr_assert_eq(put(n, A, GM_PRIO_NORMAL), 0);
    }
    cr_assert_eq(put(11, B, GM_PRIO_NORMAL), 0); /* A 4 > B 1 after the put */
    cr_assert_eq(put(12, B, GM_PRIO_NORMAL), 0); /* A 3 > B 2 */
    cr_assert_eq(put(13, B, GM_PRIO_NORMAL), GM_STORE_EQUOTA, "A 2 < B 3: fair already");
    cr_assert_eq(put(5, A, GM_PRIO_NORMAL), GM_STORE_EQUOTA, "A 2 = B 2: no swing back");
    cr_assert_eq(drops.count, 2);
    cr_assert_eq(drops.n[0], 1);
    cr_assert_eq(drops.n[1], 2);
    cr_assert(held(3) && held(4) && held(11) && held(12));
}

Test(store, lower_priority_put_never_evicts_a_higher_priority_bundle)
{
    open_units(3, 3);
    for (uint32_t n = 1; n <= 3; n++) {
        cr_assert_eq(put(n, A, GM_PRIO_URGENT), 0);
    }
    cr_assert_eq(put(11, B, GM_PRIO_NORMAL), GM_STORE_EQUOTA);
    cr_assert_eq(put(12, B, GM_PRIO_BULK), GM_STORE_EQUOTA);
    cr_assert_eq(drops.count, 0);
    cr_assert_eq(put(13, B, GM_PRIO_URGENT), 0, "same priority from a smaller origin");
    cr_assert_eq(drops.count, 1);
    cr_assert_eq(drops.n[0], 1);
}

Test(store, emergency_bundles_go_only_when_nothing_else_is_left)
{
    open_units(4, 4);
    cr_assert_eq(put(1, A, GM_PRIO_EMERGENCY), 0);
    cr_assert_eq(put(2, A, GM_PRIO_EMERGENCY), 0);
    cr_assert_eq(put(3, A, GM_PRIO_EMERGENCY), 0);
    cr_assert_eq(put(4, B, GM_PRIO_BULK), 0);
    /* A is the largest origin, but B's bulk bundle goes first. */
    cr_assert_eq(put(5, C, GM_PRIO_EMERGENCY), 0);
    cr_assert_eq(drops.count, 1);
    cr_assert_eq(drops.n[0], 4);
    cr_assert(held(1) && held(2) && held(3));
    /* Only emergency bundles left: A (3) holds more than C would (2). */
    cr_assert_eq(put(6, C, GM_PRIO_EMERGENCY), 0);
    cr_assert_eq(drops.count, 2);
    cr_assert_eq(drops.n[1], 1);
    /* No origin holds more than C would: refused, and nothing else can evict them. */
    cr_assert_eq(put(7, C, GM_PRIO_EMERGENCY), GM_STORE_EQUOTA);
    cr_assert_eq(put(8, D, GM_PRIO_URGENT), GM_STORE_EQUOTA);
    cr_assert_eq(drops.count, 2);
}

Test(store, refused_put_evicts_nothing)
{
    gm_store_limits_t lim = {0};
    gm_test_bundle_t big;
    gm_store_stats_t st;
    uint64_t gen;

    gm_test_bundle(&big, 9, A, GM_PRIO_NORMAL, 2 * BODY);
    lim.max_bundle = big.len;
    lim.max_per_origin = 2 * unit;
    lim.max_total = 3 * unit;
    cr_assert_lt(big.len, 2 * unit);
    store = gm_test_store(dir, &lim);
    gm_store_set_on_drop(store, on_drop, &drops);
    cr_assert_eq(put(1, A, GM_PRIO_BULK), 0);
    cr_assert_eq(put(2, B, GM_PRIO_URGENT), 0);
    cr_assert_eq(put(3, B, GM_PRIO_URGENT), 0);
    /* A's quota is met by evicting its bulk bundle, but B's urgent ones cannot make room. */
    cr_assert_eq(gm_store_put(store, &big.b, big.enc, big.len, NOW, &gen), GM_STORE_EQUOTA);
    cr_assert_eq(drops.count, 0, "no eviction reported");
    cr_assert(held(1), "the eviction was undone");
    gm_store_stats(store, &st);
    cr_assert_eq(st.evicted, 0);
    cr_assert_eq(st.bundles, 3);
    cr_assert_eq(st.bytes, 3 * unit);
    cr_assert_eq(gm_store_commit(store), 3);
    reopen();
    cr_assert_eq(list(NULL, 0), 3);
}

/* ---- iteration and summaries ---- */

Test(store, iteration_is_emergency_first_then_oldest_and_filters_by_destination)
{
    static const struct {
        uint32_t n;
        gm_prio_t prio;
        gm_dst_kind_t kind;
    } puts[] = {
        {1, GM_PRIO_BULK, GM_DST_NODE},     {2, GM_PRIO_NORMAL, GM_DST_GROUP},
        {3, GM_PRIO_EMERGENCY, GM_DST_ALL}, {4, GM_PRIO_NORMAL, GM_DST_NODE},
        {5, GM_PRIO_URGENT, GM_DST_NODE},   {6, GM_PRIO_EMERGENCY, GM_DST_NODE},
    };
    static const uint32_t all[] = {3, 6, 5, 2, 4, 1}, node[] = {6, 5, 4, 1};
    gm_dest_t dst = {.kind = GM_DST_NODE};
    gm_dest_t everyone = {.kind = GM_DST_ALL};

    open_units(100, 100);
    for (size_t i = 0; i < sizeof puts / sizeof puts[0]; i++) {
        gm_test_bundle_t t;
        uint64_t gen;

        gm_test_bundle(&t, puts[i].n, A, puts[i].prio, BODY);
        t.b.dst.kind = puts[i].kind;
        gm_test_bundle_encode(&t);
        cr_assert_eq(gm_store_put(store, &t.b, t.enc, t.len, NOW, &gen), 0);
    }
    cr_assert_eq(list(NULL, 0), 6);
    cr_assert_arr_eq(seen.n, all, sizeof all);
    memset(dst.id, 0xd0, GM_ID_LEN);
    cr_assert_eq(list(&dst, 0), 4);
    cr_assert_arr_eq(seen.n, node, sizeof node);
    cr_assert_eq(list(&dst, 2), 2, "limit");
    cr_assert_eq(list(&everyone, 0), 1);
    cr_assert_eq(seen.n[0], 3);
    memset(dst.id, 0xd1, GM_ID_LEN);
    cr_assert_eq(list(&dst, 0), 0, "another node");
    seen.stop_after = 3;
    cr_assert_eq(list(NULL, 0), 3, "the callback stops it");
    seen.stop_after = 0;
}

static int on_get(void *ctx, const gm_bundle_t *b, const uint8_t *data, size_t len)
{
    gm_test_bundle_t *want = ctx;

    cr_assert_arr_eq(b->id, want->b.id, GM_ID_LEN);
    cr_assert_eq(len, want->len);
    cr_assert_arr_eq(data, want->enc, len);
    want->b.hops = 99; /* marks the call */
    return 0;
}

Test(store, get_returns_the_stored_bytes)
{
    gm_test_bundle_t t;
    uint64_t gen;

    open_units(100, 100);
    gm_test_bundle(&t, 7, B, GM_PRIO_URGENT, 33);
    cr_assert_eq(gm_store_put(store, &t.b, t.enc, t.len, NOW, &gen), 0);
    cr_assert_eq(gm_store_get(store, t.b.id, on_get, &t), 0);
    cr_assert_eq(t.b.hops, 99);
    t.b.id[0] ^= 1;
    cr_assert_eq(gm_store_get(store, t.b.id, on_get, &t), GM_ENOENT);
}

Test(store, ids_come_sorted_and_page_from_an_id)
{
    static const uint32_t order[] = {50, 3, 700, 12, 9, 1000, 1};
    uint8_t ids[8][GM_ID_LEN], want[GM_ID_LEN];
    size_t n;

    open_units(100, 100);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        cr_assert_eq(put(order[i], (uint8_t)(i + 1), GM_PRIO_BULK), 0);
    }
    cr_assert_eq(gm_store_ids(store, NULL, 3, ids, &n), 0);
    cr_assert_eq(n, 3);
    gm_test_bundle_id(1, want);
    cr_assert_arr_eq(ids[0], want, GM_ID_LEN);
    gm_test_bundle_id(3, want);
    cr_assert_arr_eq(ids[1], want, GM_ID_LEN);
    gm_test_bundle_id(9, want);
    cr_assert_arr_eq(ids[2], want, GM_ID_LEN);
    cr_assert_eq(gm_store_ids(store, ids[2], 8, ids, &n), 0);
    cr_assert_eq(n, 4);
    gm_test_bundle_id(12, want);
    cr_assert_arr_eq(ids[0], want, GM_ID_LEN);
    gm_test_bundle_id(1000, want);
    cr_assert_arr_eq(ids[3], want, GM_ID_LEN);
    cr_assert_eq(gm_store_ids(store, ids[3], 8, ids, &n), 0);
    cr_assert_eq(n, 0);
}

Test(store, error_names_cover_the_store_codes)
{
    cr_assert_str_eq(gm_store_strerror(GM_STORE_EDUPLICATE), "bundle already seen");
    cr_assert_str_eq(gm_store_strerror(GM_STORE_EQUOTA), "store quota reached");
    cr_assert_str_eq(gm_store_strerror(GM_EIO), gm_strerror(GM_EIO));
}

/* A flood delivered here and kept for later neighbours stays remembered as delivered when
 * it is evicted: offered again, it is a duplicate, not a second delivery. */
Test(store, delivered_flood_is_remembered_after_eviction)
{
    uint8_t id[GM_ID_LEN];
    uint64_t gen;

    open_units(100, 3);
    cr_assert_eq(put(10, A, GM_PRIO_BULK), 0);
    gm_test_bundle_id(10, id);
    cr_assert_eq(gm_store_note_delivered(store, id, &gen), 0);
    cr_assert_eq(gm_store_get(store, id, on_each, NULL), 0, "noting the delivery keeps it");
    cr_assert_eq(state_of(10), GM_STORE_DELIVERED);
    cr_assert_eq(put(11, A, GM_PRIO_URGENT), 0);
    cr_assert_eq(put(12, A, GM_PRIO_URGENT), 0);
    cr_assert_eq(put(13, A, GM_PRIO_URGENT), 0);
    cr_assert_eq(drops.count, 1, "the bulk flood was evicted");
    cr_assert_eq(drops.n[0], 10);
    cr_assert_eq(state_of(10), GM_STORE_DELIVERED);
    cr_assert_eq(put(10, A, GM_PRIO_BULK), GM_STORE_EDUPLICATE);
}

/* A store full of one-bundle origins (distinct sources): a put looks at a bounded number of
 * them, then takes the lowest-priority bundle of any origin, and still refuses rightly. */
Test(store, many_small_origins_do_not_make_a_put_walk_them_all)
{
    open_units(200, 200);
    for (uint32_t i = 0; i < 200; i++) {
        cr_assert_eq(put(100 + i, (uint8_t)(i + 1), i < 100 ? GM_PRIO_URGENT : GM_PRIO_BULK), 0);
    }
    cr_assert_eq(put(1, 0xF0, GM_PRIO_NORMAL), 0, "a bulk bundle makes room");
    cr_assert_eq(drops.count, 1);
    cr_assert_geq(drops.n[0], 200, "the victim is a bulk bundle (numbers 200-299)");
    cr_assert_eq(put(2, 0xF1, GM_PRIO_BULK), GM_STORE_EQUOTA,
                 "same priority, every origin holds one bundle: no fair share to take");
}

/* One neighbour's share: bundles it handed over stay within max_per_link (refused, nothing
 * evicted for them), while another neighbour and this node's own bundles still get in. */
Test(store, one_neighbour_cannot_fill_the_store)
{
    gm_store_limits_t lim = {.max_total = 10 * unit, .max_per_origin = 10 * unit,
                             .max_per_link = 3 * unit, .max_bundle = unit};
    static const uint8_t link_x[GM_ID_LEN] = {0x11}, link_y[GM_ID_LEN] = {0x22};
    gm_test_bundle_t t;
    uint64_t gen;

    store = gm_test_store(dir, &lim);
    for (uint32_t i = 0; i < 4; i++) {
        gm_test_bundle(&t, 100 + i, (uint8_t)(A + i), GM_PRIO_NORMAL, BODY);
        cr_assert_eq(gm_store_put_from(store, link_x, &t.b, t.enc, t.len, NOW, &gen, false),
                     i < 3 ? 0 : GM_STORE_EQUOTA, "bundle %u from x", i);
    }
    gm_test_bundle(&t, 200, B, GM_PRIO_NORMAL, BODY);
    cr_assert_eq(gm_store_put_from(store, link_y, &t.b, t.enc, t.len, NOW, &gen, false), 0);
    cr_assert_eq(put(300, A, GM_PRIO_NORMAL), 0, "this node's own bundle");
    gm_test_bundle(&t, 100, A, GM_PRIO_NORMAL, BODY);
    cr_assert_eq(gm_store_put_from(store, link_x, &t.b, t.enc, t.len, NOW, &gen, false),
                 GM_STORE_EDUPLICATE, "a duplicate is still answered as one (acked again)");
    cr_assert_eq(drops.count, 0);
}

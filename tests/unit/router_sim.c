/*
 * node/router's loop freedom as a property: for many seeds, a random
 * connected graph of routers passes updates through an in-process queue
 * while links fail and recover and nodes re-announce. Next hops never form a
 * loop, checked after every delivery and every event; once everything is
 * delivered and every node has announced again, every node reaches every node
 * of its component along shortest paths, and nothing outside it.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/router.h"
#include "tests/support/ident.h"

#define NOW 1767225600u
#define DAY 86400u
#define SIM_SEEDS 200
#define SIM_MIN_NODES 6
#define SIM_MAX_NODES 12
#define SIM_STEPS 30
#define SIM_EXTRA_EDGE_PCT 20 /* chance of each non-tree edge */
#define SIM_MAX_BURST 8       /* messages delivered between two events, at most */
#define SIM_INTERVAL_MS 30000 /* re-announcements (once per node per seed); a step is 1000 ms */

typedef struct {
    gm_node_keys_t keys;
    gm_cert_t cert;
} ident_t;

/* One message in flight: what `from` sent to `to` over the link's generation gen. */
typedef struct {
    int from, to;
    unsigned gen;
    size_t len;
    uint8_t data[GM_ROUTE_UPDATE_MAX];
} msg_t;

/* Identities and the trust store, made once and shared by every seed. */
static struct {
    gm_test_org_t org;
    gm_trust_t trust;
    ident_t id[SIM_MAX_NODES];
} pool;

static struct {
    uint64_t rng;
    int n;
    gm_router_t *r[SIM_MAX_NODES];
    bool edge[SIM_MAX_NODES][SIM_MAX_NODES]; /* in the graph */
    bool up[SIM_MAX_NODES][SIM_MAX_NODES];
    unsigned gen[SIM_MAX_NODES][SIM_MAX_NODES]; /* bumped when the link fails */
    msg_t *q;
    size_t head, tail, cap;
    uint64_t now_ms;
    gm_router_forward_t fwd;
    uint8_t buf[GM_ROUTE_UPDATE_MAX];
} sim;

static struct {
    uint64_t steps, deliveries, failures, recoveries, announcements, walks, lost;
} totals;

static uint64_t next_rand(void)
{
    uint64_t z = (sim.rng += 0x9e3779b97f4a7c15u); /* splitmix64 */

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static int rand_below(int n)
{
    return (int)(next_rand() % (uint64_t)n);
}

static void make_pool(void)
{
    cr_assert(sodium_init() >= 0);
    gm_test_org(&pool.org, "sim");
    gm_trust_init(&pool.trust);
    cr_assert_eq(gm_trust_add_root(&pool.trust, &pool.org.root), 0);
    for (int i = 0; i < SIM_MAX_NODES; i++) {
        gm_cert_body_t t;

        memset(&t, 0, sizeof t);
        gm_node_keys_generate(&pool.id[i].keys);
        snprintf(t.callsign, sizeof t.callsign, "n%d", i);
        t.role = GM_ROLE_RELAY;
        t.serial = pool.org.next_serial++;
        memcpy(t.sign_pk, pool.id[i].keys.sign_pk, GM_KEY_LEN);
        memcpy(t.link_pk, pool.id[i].keys.link_pk, GM_KEY_LEN);
        memcpy(t.e2e_pk, pool.id[i].keys.e2e_pk, GM_KEY_LEN);
        t.not_before = NOW - DAY;
        t.not_after = NOW + 30 * DAY;
        cr_assert_eq(gm_cert_issue(pool.org.seed, &pool.org.root, &t, &pool.id[i].cert), 0);
    }
}

static const uint8_t *id_of(int i)
{
    return pool.id[i].cert.body.node_id;
}

static int index_of(const uint8_t id[GM_ID_LEN])
{
    for (int i = 0; i < sim.n; i++) {
        if (memcmp(id_of(i), id, GM_ID_LEN) == 0) {
            return i;
        }
    }
    cr_assert_fail("a next hop that is no router of the graph");
    return -1;
}

static void send_to(int from, int to, const uint8_t *data, size_t len)
{
    msg_t *m;

    if (sim.tail == sim.cap) {
        sim.cap = sim.cap ? 2 * sim.cap : 256;
        sim.q = realloc(sim.q, sim.cap * sizeof *sim.q);
        cr_assert_not_null(sim.q);
    }
    m = &sim.q[sim.tail++];
    m->from = from;
    m->to = to;
    m->gen = sim.gen[from][to];
    m->len = len;
    memcpy(m->data, data, len);
}

/* To every neighbour of from whose link is up, but skip. */
static void send_all(int from, int skip, const uint8_t *data, size_t len)
{
    for (int j = 0; j < sim.n; j++) {
        if (j != skip && sim.up[from][j]) {
            send_to(from, j, data, len);
        }
    }
}

/*
 * Follows next hops from every node towards dest: each hop is a neighbour
 * over a link that is up, and no node comes twice. Returns how many nodes
 * reach dest.
 */
static int walk_to(int dest)
{
    int hop[SIM_MAX_NODES], reached = 0;
    uint8_t id[GM_ID_LEN];
    uint32_t metric;

    for (int i = 0; i < sim.n; i++) {
        hop[i] = -1;
        if (i != dest && gm_router_next_hop(sim.r[i], id_of(dest), id, &metric) == 0) {
            hop[i] = index_of(id);
            cr_assert(sim.up[i][hop[i]], "%d routes to %d over a link that is down", i, dest);
        }
    }
    for (int s = 0; s < sim.n; s++) {
        bool seen[SIM_MAX_NODES] = {false};
        int cur = s;

        while (cur != dest && cur >= 0) {
            cr_assert_not(seen[cur], "a routing loop towards %d through %d", dest, cur);
            seen[cur] = true;
            cur = hop[cur];
        }
        reached += cur == dest ? 1 : 0;
    }
    totals.walks++;
    return reached;
}

static void walk_all(void)
{
    for (int d = 0; d < sim.n; d++) {
        walk_to(d);
    }
}

/* Delivers the oldest message, forwards what the router says to, checks loops. */
static void deliver_one(void)
{
    msg_t *m = &sim.q[sim.head++];
    gm_router_verdict_t v;

    if (!sim.up[m->from][m->to] || m->gen != sim.gen[m->from][m->to]) {
        totals.lost++; /* in flight on a link that failed */
        return;
    }
    v = gm_router_on_update(sim.r[m->to], id_of(m->from), m->data, m->len, sim.now_ms, NOW,
                            &sim.fwd);
    cr_assert(v <= GM_ROUTER_DUPLICATE || v == GM_ROUTER_OLD_SEQ, "verdict %s",
              gm_router_verdict_str(v));
    totals.deliveries++;
    if (sim.fwd.len > 0) {
        send_all(m->to, m->from, sim.fwd.update, sim.fwd.len);
    }
    if (v != GM_ROUTER_DUPLICATE || sim.fwd.len > 0) {
        walk_to(index_of(sim.fwd.origin));
    }
}

static void deliver_some(int n)
{
    while (n-- > 0 && sim.head < sim.tail) {
        deliver_one();
    }
}

static void drain(void)
{
    deliver_some(1 << 30);
    sim.head = sim.tail = 0;
}

static void announce(int i)
{
    size_t len;

    cr_assert_eq(
        gm_router_make_announcement(sim.r[i], sim.now_ms, NOW, sim.buf, sizeof sim.buf, &len), 0);
    send_all(i, -1, sim.buf, len);
    totals.announcements++;
}

static void send_pending(int i)
{
    size_t len;

    while (gm_router_take_pending(sim.r[i], sim.buf, sizeof sim.buf, &len) == 0) {
        send_all(i, -1, sim.buf, len);
    }
}

/* What a node sends a neighbour whose link just came up. */
static void send_dump(int from, int to)
{
    size_t len;

    if (gm_router_encode_own(sim.r[from], sim.buf, sizeof sim.buf, &len) == 0) {
        send_to(from, to, sim.buf, len);
    }
    for (size_t k = 0; gm_router_encode_route(sim.r[from], k, sim.buf, sizeof sim.buf, &len) == 0;
         k++) {
        send_to(from, to, sim.buf, len);
    }
}

static void set_link(int a, int b, bool up)
{
    sim.up[a][b] = sim.up[b][a] = up;
    if (up) {
        cr_assert_eq(gm_router_link_up(sim.r[a], id_of(b)), 0);
        cr_assert_eq(gm_router_link_up(sim.r[b], id_of(a)), 0);
        send_dump(a, b);
        send_dump(b, a);
        return;
    }
    sim.gen[a][b]++;
    sim.gen[b][a]++;
    gm_router_link_down(sim.r[a], id_of(b));
    gm_router_link_down(sim.r[b], id_of(a));
    send_pending(a);
    send_pending(b);
    totals.failures++;
}

/* A random edge of the graph whose link is up (want_up) or down; false if none. */
static bool pick_edge(bool want_up, int *a, int *b)
{
    int cand[SIM_MAX_NODES * SIM_MAX_NODES][2], n = 0;

    for (int i = 0; i < sim.n; i++) {
        for (int j = i + 1; j < sim.n; j++) {
            if (sim.edge[i][j] && sim.up[i][j] == want_up) {
                cand[n][0] = i;
                cand[n++][1] = j;
            }
        }
    }
    if (n == 0) {
        return false;
    }
    n = rand_below(n);
    *a = cand[n][0];
    *b = cand[n][1];
    return true;
}

/* A random spanning tree plus some extra edges, all up, and fresh routers. */
static void build_graph(uint64_t seed)
{
    gm_router_config_t cfg;

    memset(sim.edge, 0, sizeof sim.edge);
    memset(sim.up, 0, sizeof sim.up);
    memset(sim.gen, 0, sizeof sim.gen);
    sim.rng = seed;
    sim.n = SIM_MIN_NODES + rand_below(SIM_MAX_NODES - SIM_MIN_NODES + 1);
    sim.now_ms = 0;
    gm_router_config_default(&cfg);
    cfg.announce_interval_ms = SIM_INTERVAL_MS;
    for (int i = 0; i < sim.n; i++) {
        cr_assert_eq(
            gm_router_new(&pool.id[i].keys, &pool.id[i].cert, &pool.trust, &cfg, &sim.r[i]), 0);
    }
    for (int i = 1; i < sim.n; i++) {
        int j = rand_below(i);

        sim.edge[i][j] = sim.edge[j][i] = true;
    }
    for (int i = 0; i < sim.n; i++) {
        for (int j = i + 1; j < sim.n; j++) {
            if (!sim.edge[i][j] && rand_below(100) < SIM_EXTRA_EDGE_PCT) {
                sim.edge[i][j] = sim.edge[j][i] = true;
            }
        }
    }
}

/* Hops from src over links that are up; -1 where unreachable. */
static void distances(int src, int dist[SIM_MAX_NODES])
{
    int queue[SIM_MAX_NODES], head = 0, tail = 0;

    for (int i = 0; i < sim.n; i++) {
        dist[i] = -1;
    }
    dist[src] = 0;
    queue[tail++] = src;
    while (head < tail) {
        int cur = queue[head++];

        for (int j = 0; j < sim.n; j++) {
            if (sim.up[cur][j] && dist[j] < 0) {
                dist[j] = dist[cur] + 1;
                queue[tail++] = j;
            }
        }
    }
}

/* Everything delivered and announced again: shortest paths inside components, nothing across. */
static void check_converged(void)
{
    for (int t = 0; t < sim.n; t++) {
        int dist[SIM_MAX_NODES], want = 0;

        distances(t, dist);
        for (int s = 0; s < sim.n; s++) {
            uint8_t hop[GM_ID_LEN];
            uint32_t metric;
            int err = s == t ? GM_ENOENT : gm_router_next_hop(sim.r[s], id_of(t), hop, &metric);

            want += dist[s] >= 0 ? 1 : 0;
            if (dist[s] > 0) {
                cr_assert_eq(err, 0, "%d cannot reach %d, %d hops away", s, t, dist[s]);
                cr_assert_eq(metric, (uint32_t)dist[s], "%d to %d: metric %u for %d hops", s, t,
                             metric, dist[s]);
            } else {
                cr_assert_eq(err, GM_ENOENT, "%d has a route to %d across a partition", s, t);
            }
        }
        cr_assert_eq(walk_to(t), want);
    }
}

/* One event (a link fails, one recovers, or none), due announcements, a few deliveries. */
static void step(void)
{
    int a, b, e = rand_below(100);

    sim.now_ms += 1000;
    if (e < 40 && pick_edge(true, &a, &b)) {
        set_link(a, b, false);
    } else if (e >= 40 && e < 75 && pick_edge(false, &a, &b)) {
        set_link(a, b, true);
        totals.recoveries++;
    }
    walk_all();
    for (int i = 0; i < sim.n; i++) {
        if (gm_router_announce_due(sim.r[i], sim.now_ms)) {
            announce(i);
        }
    }
    deliver_some(rand_below(SIM_MAX_BURST + 1));
    walk_all();
    totals.steps++;
}

static void run_seed(uint64_t seed)
{
    build_graph(seed);
    for (int i = 0; i < sim.n; i++) {
        for (int j = i + 1; j < sim.n; j++) {
            if (sim.edge[i][j]) {
                set_link(i, j, true);
            }
        }
    }
    /* First announcements at random phases of the interval, so later ones are staggered. */
    for (int i = 0; i < sim.n; i++) {
        size_t len;

        cr_assert_eq(gm_router_make_announcement(sim.r[i], (uint64_t)rand_below(SIM_INTERVAL_MS),
                                                 NOW, sim.buf, sizeof sim.buf, &len),
                     0);
        send_all(i, -1, sim.buf, len);
        totals.announcements++;
    }
    sim.now_ms = SIM_INTERVAL_MS;
    for (int k = 0; k < SIM_STEPS; k++) {
        step();
    }
    drain();
    for (int i = 0; i < sim.n; i++) {
        announce(i);
    }
    drain();
    check_converged();
    for (int i = 0; i < sim.n; i++) {
        gm_router_free(sim.r[i]);
    }
}

/* Seeds first .. last; the figures go to stderr. Two halves let --jobs 2 run them side by side. */
static void run_seeds(uint64_t first, uint64_t last)
{
    struct timespec t0, t1;
    double secs;

    make_pool();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t seed = first; seed <= last; seed++) {
        run_seed(seed);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr,
            "router_sim: seeds %llu-%llu, %llu steps, %llu link failures, %llu recoveries, "
            "%llu announcements, %llu deliveries (%llu lost with their link), %llu loop walks "
            "in %.2f s\n",
            (unsigned long long)first, (unsigned long long)last, (unsigned long long)totals.steps,
            (unsigned long long)totals.failures, (unsigned long long)totals.recoveries,
            (unsigned long long)totals.announcements, (unsigned long long)totals.deliveries,
            (unsigned long long)totals.lost, (unsigned long long)totals.walks, secs);
    /* Not vacuous: links did fail and recover, and updates were lost with them. */
    cr_assert_gt(totals.failures, last - first + 1);
    cr_assert_gt(totals.recoveries, (last - first + 1) / 2);
    cr_assert_gt(totals.lost, 0);
    free(sim.q);
    for (int i = 0; i < SIM_MAX_NODES; i++) {
        gm_node_keys_wipe(&pool.id[i].keys);
    }
    gm_trust_close(&pool.trust);
}

TestSuite(router_sim, .timeout = 120);

Test(router_sim, next_hops_never_loop_under_random_link_failures_seeds_1_to_100)
{
    run_seeds(1, SIM_SEEDS / 2);
}

Test(router_sim, next_hops_never_loop_under_random_link_failures_seeds_101_to_200)
{
    run_seeds(SIM_SEEDS / 2 + 1, SIM_SEEDS);
}

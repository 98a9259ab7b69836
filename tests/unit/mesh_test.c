/*
 * node/mesh: bundles across in-process meshes over the in-memory hub, with
 * link cuts (gm_mem_hub_cut: in-flight data lost, dials refused). Every test
 * checks that each bundle arrives exactly once and that relays hand custody on.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "node/mesh_internal.h"
#include "tests/support/bundles.h"
#include "tests/support/mesh.h"

#define FAR 4000000000u

static gm_test_mesh_t m;

static void setup(void)
{
    gm_test_mesh_init(&m);
}

static void teardown(void)
{
    gm_test_mesh_close(&m);
}

TestSuite(mesh, .init = setup, .fini = teardown, .timeout = 60);

/* Fast timers: routes in a few hundred ms, custody retries after 300 ms. */
static void mesh_config(gm_node_config_t *c, const char *name)
{
    char addr[GM_ADDR_LEN];

    snprintf(addr, sizeof addr, "mem:%s", name);
    gm_test_config(c, addr);
    c->announce_interval_ms = 300;
    c->route_expiry_ms = 1500;
    c->custody_timeout_ms = 300;
    c->commit_interval_ms = 2;
    c->sync_interval_ms = 1000;
    c->handshake_rate = 100000;
    c->handshake_burst = 1000;
}

static void dial(gm_node_config_t *c, const char *name)
{
    snprintf(c->peers[c->n_peers++], GM_ADDR_LEN, "mem:%s", name);
}

/* Starts node `name` (org A) with the mesh, dialling the names in peers (NULL-ended). */
static size_t node(const char *name, const char *const *peers)
{
    char dir[GM_PATH_MAX];
    gm_node_config_t c;

    gm_test_node_dir(&m.org_a, m.tmp, name, GM_ROLE_HANDHELD, 1000, FAR, dir, NULL);
    mesh_config(&c, name);
    for (size_t i = 0; peers != NULL && peers[i] != NULL; i++) {
        dial(&c, peers[i]);
    }
    return gm_test_mesh_start_mesh(&m, dir, &c);
}

static const uint8_t *id_of(size_t i)
{
    return gm_node_id(m.nodes[i]);
}

struct route_wait {
    size_t from, to;
};

static bool has_route(void *ctx)
{
    struct route_wait *w = ctx;
    uint8_t hop[GM_ID_LEN];
    uint32_t metric;

    return gm_router_next_hop(m.meshes[w->from]->router, id_of(w->to), hop, &metric) == 0;
}

static bool wait_route(size_t from, size_t to, uint64_t ms)
{
    struct route_wait w = {from, to};

    return gm_test_run_until(&m.loop, has_route, &w, ms);
}

struct delivery_wait {
    size_t at;
    uint64_t count;
};

static bool delivered(void *ctx)
{
    struct delivery_wait *w = ctx;

    return m.delivered[w->at] >= w->count;
}

static bool wait_delivered(size_t at, uint64_t count, uint64_t ms)
{
    struct delivery_wait w = {at, count};

    return gm_test_run_until(&m.loop, delivered, &w, ms);
}

static void send_to(size_t from, size_t to, gm_prio_t prio, size_t n)
{
    gm_dest_t dst = {.kind = GM_DST_NODE};
    uint8_t body[1024];

    memcpy(dst.id, id_of(to), GM_ID_LEN);
    for (size_t i = 0; i < n; i++) {
        randombytes_buf(body, sizeof body);
        cr_assert_eq(gm_mesh_send(m.meshes[from], &dst, prio, 0, 0, body, sizeof body, NULL), 0);
    }
}

static uint64_t held(size_t i)
{
    gm_store_stats_t s;

    gm_mesh_store_stats(m.meshes[i], &s);
    return s.bundles;
}

struct held_wait {
    size_t first, last;
};

static bool relays_empty(void *ctx)
{
    struct held_wait *w = ctx;

    for (size_t i = w->first; i <= w->last; i++) {
        if (m.nodes[i] != NULL && held(i) != 0) {
            return false;
        }
    }
    return true;
}

/* Custody handed on everywhere in first..last: no store holds a unicast bundle. */
static bool wait_stores_empty(size_t first, size_t last, uint64_t ms)
{
    struct held_wait w = {first, last};

    return gm_test_run_until(&m.loop, relays_empty, &w, ms);
}

static const char *const chain_names[] = {"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7"};

Test(mesh, chain_of_eight_delivers_every_bundle_exactly_once)
{
    size_t n[8];

    for (size_t i = 0; i < 8; i++) {
        const char *peers[] = {i > 0 ? chain_names[i - 1] : NULL, NULL};
        n[i] = node(chain_names[i], peers);
    }
    cr_assert(wait_route(n[0], n[7], 8000), "no route over 7 hops");
    send_to(n[0], n[7], GM_PRIO_NORMAL, 200);
    cr_assert(wait_delivered(n[7], 200, 15000), "delivered %llu of 200",
              (unsigned long long)m.delivered[n[7]]);
    gm_test_run_for(&m.loop, 300);
    cr_assert_eq(m.delivered[n[7]], 200);
    cr_assert_eq(m.delivered_twice[n[7]], 0);
    cr_assert(wait_stores_empty(n[0], n[6], 5000), "a relay kept custody");
    for (size_t i = 1; i < 7; i++) {
        gm_mesh_stats_t s;
        gm_mesh_stats(m.meshes[n[i]], &s);
        cr_assert_eq(s.forwarded, 200, "relay %zu handed on %llu", i,
                     (unsigned long long)s.forwarded);
        cr_assert_eq(s.delivered, 0);
    }
}

Test(mesh, bundle_waits_for_a_route_and_leaves_when_one_appears)
{
    const char *to_a[] = {"a", NULL};
    size_t a = node("a", NULL), b = node("b", to_a), c;
    gm_dest_t dst = {.kind = GM_DST_NODE};
    char dir_c[GM_PATH_MAX];
    gm_node_config_t cc;
    gm_cert_t cert;
    gm_why_t why;
    char path[GM_PATH_MAX + 16];
    uint8_t body[100] = {7};

    /* c exists (its directory and id) but is not running yet */
    gm_test_node_dir(&m.org_a, m.tmp, "c", GM_ROLE_HANDHELD, 1000, FAR, dir_c, NULL);
    snprintf(path, sizeof path, "%s/node.cert", dir_c);
    cr_assert_eq(gm_cert_load(path, &cert, &why), 0);
    memcpy(dst.id, cert.body.node_id, GM_ID_LEN);
    cr_assert(wait_route(a, b, 3000));
    cr_assert_eq(gm_mesh_send(m.meshes[a], &dst, GM_PRIO_URGENT, 0, 0, body, sizeof body, NULL),
                 0);
    gm_test_run_for(&m.loop, 500);
    cr_assert_eq(held(a), 1, "the bundle left without a route");

    mesh_config(&cc, "c");
    dial(&cc, "b");
    c = gm_test_mesh_start_mesh(&m, dir_c, &cc);
    cr_assert(wait_delivered(c, 1, 5000), "not delivered once a route appeared");
    cr_assert(wait_stores_empty(a, b, 3000));
    cr_assert_eq(m.delivered_twice[c], 0);
}

/* Next hops from `from` towards `to` never revisit a node. */
static void assert_loop_free(const size_t *nodes, size_t count, size_t from, size_t to)
{
    size_t at = from;

    for (size_t steps = 0; steps <= count; steps++) {
        uint8_t hop[GM_ID_LEN];
        uint32_t metric;
        size_t next = count;

        if (at == to || gm_router_next_hop(m.meshes[at]->router, id_of(to), hop, &metric) != 0) {
            return;
        }
        for (size_t k = 0; k < count; k++) {
            if (memcmp(id_of(nodes[k]), hop, GM_ID_LEN) == 0) {
                next = nodes[k];
            }
        }
        cr_assert_neq(next, count, "next hop is not a node of the mesh");
        at = next;
    }
    cr_assert_fail("routing loop from %zu to %zu", from, to);
}

/*
 * A 3x3 grid (each node dials its left and upper neighbour) with random link
 * cuts and restorations while bundles cross it corner to corner; at every
 * step routes are loop-free, and once every link is back each bundle arrives
 * exactly once. Several seeds.
 */
Test(mesh, grid_with_random_link_cuts_loses_nothing)
{
    static const char *const names[9] = {"g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8"};
    size_t g[9];
    uint64_t sent = 0;

    for (size_t i = 0; i < 9; i++) {
        const char *peers[3] = {NULL, NULL, NULL};
        size_t k = 0;
        if (i % 3 > 0) {
            peers[k++] = names[i - 1];
        }
        if (i >= 3) {
            peers[k++] = names[i - 3];
        }
        g[i] = node(names[i], peers);
    }
    cr_assert(wait_route(g[0], g[8], 5000));
    for (uint32_t seed = 1; seed <= 4; seed++) {
        uint32_t rng = seed * 2654435761u;
        for (int step = 0; step < 6; step++) {
            size_t i, j;
            rng = rng * 1103515245u + 12345u;
            i = (rng >> 8) % 9;
            j = (i % 3 < 2 && (rng >> 20) % 2) ? i + 1 : (i + 3 < 9 ? i + 3 : i - 3);
            cr_assert_eq(gm_mem_hub_cut(m.hub, names[i], names[j], (rng >> 24) % 3 != 0), 0);
            send_to(g[0], g[8], GM_PRIO_NORMAL, 10);
            sent += 10;
            gm_test_run_for(&m.loop, 150);
            assert_loop_free(g, 9, g[0], g[8]);
            assert_loop_free(g, 9, g[8], g[0]);
        }
        for (size_t i = 0; i < 9; i++) { /* every path back */
            if (i % 3 < 2) {
                cr_assert_eq(gm_mem_hub_cut(m.hub, names[i], names[i + 1], false), 0);
            }
            if (i + 3 < 9) {
                cr_assert_eq(gm_mem_hub_cut(m.hub, names[i], names[i + 3], false), 0);
            }
        }
    }
    cr_assert(wait_delivered(g[8], sent, 20000), "delivered %llu of %llu",
              (unsigned long long)m.delivered[g[8]], (unsigned long long)sent);
    gm_test_run_for(&m.loop, 500);
    cr_assert_eq(m.delivered[g[8]], sent);
    cr_assert_eq(m.delivered_twice[g[8]], 0);
    cr_assert(wait_stores_empty(g[0], g[7], 5000), "custody left behind");
}

/*
 * Two islands (a1-a2, b1-b2) and a vehicle v that is first with island A,
 * then drives to island B: an emergency broadcast from a1 reaches b2 through
 * v's store (anti-entropy on the new link), although no path ever joined the
 * islands. A unicast bundle from a1 to b2 waits until v links both at once.
 */
Test(mesh, islands_joined_later_by_a_moving_node)
{
    const char *to_a1[] = {"a1", NULL}, *to_b1[] = {"b1", NULL};
    const char *to_both[] = {"a2", "b1", NULL};
    size_t a1 = node("a1", NULL), a2 = node("a2", to_a1);
    size_t b1 = node("b1", NULL), b2 = node("b2", to_b1);
    size_t v;
    gm_dest_t all = {.kind = GM_DST_ALL};
    uint8_t alert[64] = {0x55};

    cr_assert_eq(gm_mem_hub_cut(m.hub, "v", "b1", true), 0); /* v starts with island A */
    v = node("v", to_both);
    cr_assert(wait_route(a1, v, 3000));
    cr_assert(wait_route(b2, b1, 3000));
    cr_assert_eq(gm_mesh_send(m.meshes[a1], &all, GM_PRIO_EMERGENCY, 0, 0, alert, sizeof alert,
                              NULL),
                 0);
    cr_assert(wait_delivered(v, 1, 3000), "the vehicle did not get the alert");
    cr_assert_eq(m.delivered[b2], 0);

    /* v drives away from A and reaches B */
    cr_assert_eq(gm_mem_hub_cut(m.hub, "v", "a2", true), 0);
    cr_assert_eq(gm_mem_hub_cut(m.hub, "v", "b1", false), 0);
    cr_assert(wait_delivered(b2, 1, 5000), "the alert did not cross with the vehicle");
    cr_assert(wait_delivered(b1, 1, 1000));
    cr_assert(wait_route(v, b2, 3000));

    /* now a unicast bundle from a1 to b2: it waits until v joins both islands */
    {
        gm_dest_t dst = {.kind = GM_DST_NODE};
        uint8_t body[32] = {1};
        memcpy(dst.id, id_of(b2), GM_ID_LEN);
        cr_assert_eq(gm_mesh_send(m.meshes[a1], &dst, GM_PRIO_NORMAL, 0, 0, body, sizeof body,
                                  NULL),
                     0);
    }
    gm_test_run_for(&m.loop, 500);
    cr_assert_eq(m.delivered[b2], 1, "the unicast bundle crossed a gap with no route");
    cr_assert_eq(gm_mem_hub_cut(m.hub, "v", "a2", false), 0);
    cr_assert(wait_delivered(b2, 2, 6000), "not delivered once the islands joined");
    gm_test_run_for(&m.loop, 300);
    cr_assert_eq(m.delivered[b2], 2);
    cr_assert_eq(m.delivered_twice[b2], 0);
    cr_assert_eq(m.delivered_twice[b1], 0);
    cr_assert_eq(m.delivered[a2], 1, "a2 should have the alert exactly once");
}

/*
 * A flooding node cannot crowd out another's traffic: the relay takes at most
 * origin_rate bundles a second from each origin, so a guard's 50 bundles get
 * through at once while 600 bulk bundles from a flooding node trickle behind
 * them, and still every one of those arrives in the end (not acknowledged is
 * not lost: the flooder keeps custody until the relay has room).
 */
Test(mesh, flooding_node_does_not_starve_others)
{
    const char *to_r[] = {"r", NULL};
    char dir[GM_PATH_MAX];
    gm_node_config_t c;
    size_t r, f, g, d1, d2;

    gm_test_node_dir(&m.org_a, m.tmp, "r", GM_ROLE_RELAY, 1000, FAR, dir, NULL);
    mesh_config(&c, "r");
    c.origin_rate = 200;
    r = gm_test_mesh_start_mesh(&m, dir, &c);
    f = node("f", to_r);
    g = node("g", to_r);
    d1 = node("d1", to_r);
    d2 = node("d2", to_r);
    cr_assert(wait_route(f, d2, 3000) && wait_route(g, d1, 3000));
    send_to(f, d2, GM_PRIO_BULK, 600);
    gm_test_run_for(&m.loop, 50);
    send_to(g, d1, GM_PRIO_NORMAL, 50);
    cr_assert(wait_delivered(d1, 50, 10000), "the guard's bundles never arrived");
    /* an order, not a time: when the guard's last bundle is in, the flood is far behind */
    cr_assert_lt(m.delivered[d2], 600, "the guard's bundles waited for the whole flood");
    {
        gm_mesh_stats_t s;
        gm_mesh_stats(m.meshes[r], &s);
        cr_assert_gt(s.dropped[GM_MDROP_RATE], 0);
    }
    cr_assert(wait_delivered(d2, 600, 20000), "the flood lost bundles: %llu of 600",
              (unsigned long long)m.delivered[d2]);
    cr_assert_eq(m.delivered_twice[d2], 0);
    cr_assert_eq(m.delivered_twice[d1], 0);
}

/* Slow links (every write arrives 25 ms later): bundles still arrive exactly once, and
 * no sooner than the three hops' delay allows. */
Test(mesh, delayed_links_deliver_exactly_once)
{
    const char *to0[] = {"d0", NULL}, *to1[] = {"d1", NULL}, *to2[] = {"d2", NULL};
    size_t d0, d3;
    uint64_t t0;

    gm_mem_hub_set_delay(m.hub, 25);
    d0 = node("d0", NULL);
    (void)node("d1", to0);
    (void)node("d2", to1);
    d3 = node("d3", to2);
    cr_assert(wait_route(d0, d3, 8000), "no route over delayed links");
    t0 = uv_now(&m.loop);
    send_to(d0, d3, GM_PRIO_URGENT, 20);
    cr_assert(wait_delivered(d3, 20, 8000));
    cr_assert_geq(uv_now(&m.loop) - t0, 75, "three 25 ms hops took less than 75 ms");
    gm_test_run_for(&m.loop, 300);
    cr_assert_eq(m.delivered[d3], 20);
    cr_assert_eq(m.delivered_twice[d3], 0);
}

/* Anti-entropy runs again on a link that stays up: a broadcast bundle that never went
 * out (put straight into x's store, as one a Bloom false positive held back would sit
 * there) reaches y at the next periodic sync. */
Test(mesh, periodic_sync_delivers_what_the_first_one_missed)
{
    const char *to_x[] = {"x", NULL};
    size_t x, y;
    gm_test_bundle_t t;
    uint64_t gen;
    gm_mesh_stats_t before, after;

    x = node("x", NULL);
    y = node("y", to_x);
    cr_assert(wait_route(x, y, 3000));
    gm_test_run_for(&m.loop, 200);
    gm_mesh_stats(m.meshes[y], &before);
    gm_test_bundle(&t, 77, 0x33, GM_PRIO_NORMAL, 32);
    t.b.dst.kind = GM_DST_ALL;
    memset(t.b.dst.id, 0, GM_ID_LEN);
    t.b.created = (uint64_t)time(NULL);
    gm_test_bundle_encode(&t);
    cr_assert_eq(gm_store_put(m.meshes[x]->store, &t.b, t.enc, t.len, t.b.created, &gen), 0);
    cr_assert_geq(gm_store_commit(m.meshes[x]->store), 1);
    gm_test_run_for(&m.loop, 200);
    cr_assert_eq(m.delivered[y], 0, "it went out without a sync");
    cr_assert(wait_delivered(y, 1, 5000), "the periodic sync did not bring it");
    gm_mesh_stats(m.meshes[y], &after);
    cr_assert_gt(after.sync_filters_sent, before.sync_filters_sent);
}

/*
 * A bundle this node made leaves only once its store group is durable: a
 * group the application rolls back (gm_mesh_abort) never reaches anyone,
 * so the application's state (a ratchet's message keys) and what is on the
 * wire cannot part ways.
 */
Test(mesh, own_bundles_leave_only_after_their_commit)
{
    const char *to_a[] = {"a", NULL};
    size_t a = node("a", NULL), b = node("b", to_a);

    cr_assert(wait_route(a, b, 3000));
    cr_assert_eq(gm_mesh_begin(m.meshes[a], NULL), 0);
    send_to(a, b, GM_PRIO_EMERGENCY, 3);
    gm_mesh_abort(m.meshes[a]);
    gm_test_run_for(&m.loop, 500);
    cr_assert_eq(m.delivered[b], 0, "a bundle of a rolled-back group reached its destination");
    cr_assert_eq(held(a), 0, "the rolled-back bundles are still held");

    send_to(a, b, GM_PRIO_EMERGENCY, 2);
    cr_assert(wait_delivered(b, 2, 3000), "bundles of a committed group did not leave");
    cr_assert_eq(m.delivered_twice[b], 0);
}

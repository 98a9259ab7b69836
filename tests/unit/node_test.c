/* node/: links between in-process nodes over the in-memory transport and loopback TCP. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tests/support/mesh.h"

#define DAY 86400
#define NOW_NB 1000
#define FAR 4000000000u

static gm_test_mesh_t m;
static void (*tweak)(gm_node_config_t *c);

static void setup(void)
{
    tweak = NULL;
    gm_test_mesh_init(&m);
}

static void teardown(void)
{
    gm_test_mesh_close(&m);
}

TestSuite(node, .init = setup, .fini = teardown, .timeout = 30);

static void node_dir(gm_test_org_t *org, const char *name, gm_role_t role, char dir[GM_PATH_MAX])
{
    gm_test_node_dir(org, m.tmp, name, role, NOW_NB, FAR, dir, NULL);
}

/* tweak, if a test sets it, is applied to both configurations by start_pair. */
/* Two nodes of org A over the hub: a listens on mem:a, b dials it. */
static char dir_a[GM_PATH_MAX], dir_b[GM_PATH_MAX]; /* start_pair's node directories */

static void start_pair(size_t *a, size_t *b, gm_node_config_t *ca, gm_node_config_t *cb)
{
    node_dir(&m.org_a, "relay", GM_ROLE_RELAY, dir_a);
    node_dir(&m.org_a, "guard", GM_ROLE_HANDHELD, dir_b);
    gm_test_config(ca, "mem:a");
    gm_test_config(cb, "mem:b");
    if (tweak != NULL) {
        tweak(ca);
        tweak(cb);
    }
    snprintf(cb->peers[0], GM_ADDR_LEN, "mem:a");
    cb->n_peers = 1;
    *a = gm_test_mesh_start(&m, dir_a, ca);
    *b = gm_test_mesh_start(&m, dir_b, cb);
}

Test(node, two_nodes_link_and_exchange_data_both_ways)
{
    gm_node_config_t ca, cb;
    size_t a, b;

    start_pair(&a, &b, &ca, &cb);
    cr_assert(gm_test_wait_linked(&m, a, b, 2000));
    cr_assert_eq(gm_node_send(m.nodes[a], gm_node_id(m.nodes[b]), 7, (const uint8_t *)"hi", 2),
                 0);
    cr_assert_eq(gm_node_send(m.nodes[b], gm_node_id(m.nodes[a]), 7, (const uint8_t *)"yo!", 3),
                 0);
    gm_test_run_for(&m.loop, 50);
    cr_assert_eq(m.received[b], 1);
    cr_assert_eq(m.received_bytes[b], 2);
    cr_assert_eq(m.received[a], 1);
    cr_assert(gm_test_log_has(&m, a, "link up: guard@acme-security"));
    cr_assert_eq(gm_node_events(m.nodes[a], GM_EVENT_LINK_UP), 1);
}

Test(node, sending_to_a_node_without_a_link_is_refused)
{
    gm_node_config_t ca, cb;
    size_t a, b;
    uint8_t nobody[GM_ID_LEN] = {9};

    start_pair(&a, &b, &ca, &cb);
    cr_assert(gm_test_wait_linked(&m, a, b, 2000));
    cr_assert_eq(gm_node_send(m.nodes[a], nobody, 1, (const uint8_t *)"x", 1), GM_ENOENT);
}

Test(node, organisations_that_trust_each_other_link)
{
    char da[GM_PATH_MAX], db[GM_PATH_MAX];
    gm_node_config_t ca, cb;
    size_t a, b;

    node_dir(&m.org_a, "bridge", GM_ROLE_BRIDGE, da);
    node_dir(&m.org_b, "officer", GM_ROLE_DISPATCH, db);
    gm_test_trust(da, &m.org_b);
    gm_test_trust(db, &m.org_a);
    gm_test_config(&ca, "mem:a");
    gm_test_config(&cb, NULL);
    snprintf(cb.peers[0], GM_ADDR_LEN, "mem:a");
    cb.n_peers = 1;
    a = gm_test_mesh_start(&m, da, &ca);
    b = gm_test_mesh_start(&m, db, &cb);
    cr_assert(gm_test_wait_linked(&m, a, b, 2000));
    cr_assert(gm_test_log_has(&m, a, "officer@metro-police"));
}

Test(node, restarted_peer_is_redialled_within_the_backoff_cap)
{
    gm_node_config_t ca, cb;
    size_t a, b;
    char dir[GM_PATH_MAX + 16];

    start_pair(&a, &b, &ca, &cb);
    cr_assert(gm_test_wait_linked(&m, a, b, 2000));
    snprintf(dir, sizeof dir, "%s/relay", m.tmp);
    gm_test_mesh_stop(&m, a);
    gm_test_run_for(&m.loop, 3 * cb.redial_max_ms); /* b fails to dial a few times */
    cr_assert_eq(gm_node_link_count(m.nodes[b]), 0);
    a = gm_test_mesh_start(&m, dir, &ca);
    /* the next attempt comes at most 1.5 x redial_max_ms later */
    cr_assert(gm_test_wait_linked(&m, a, b, 3 * cb.redial_max_ms / 2 + 500));
    cr_assert_geq(gm_node_events(m.nodes[b], GM_EVENT_DIAL_FAILED), 1);
}

Test(node, simultaneous_dials_leave_exactly_one_link)
{
    char da[GM_PATH_MAX], db[GM_PATH_MAX];
    gm_node_config_t ca, cb;
    size_t a, b;

    node_dir(&m.org_a, "one", GM_ROLE_RELAY, da);
    node_dir(&m.org_a, "two", GM_ROLE_RELAY, db);
    gm_test_config(&ca, "mem:a");
    gm_test_config(&cb, "mem:b");
    snprintf(ca.peers[0], GM_ADDR_LEN, "mem:b");
    snprintf(cb.peers[0], GM_ADDR_LEN, "mem:a");
    ca.n_peers = cb.n_peers = 1;
    a = gm_test_mesh_start(&m, da, &ca);
    b = gm_test_mesh_start(&m, db, &cb);
    cr_assert(gm_test_wait_linked(&m, a, b, 2000));
    /* well past the simultaneity window (the handshake timeout): no churn either */
    gm_test_run_for(&m.loop, 4 * ca.handshake_timeout_ms + 3 * ca.redial_max_ms);
    cr_assert_leq(gm_node_events(m.nodes[a], GM_EVENT_LINK_UP), 2, "links keep replacing each other");
    cr_assert_leq(gm_node_events(m.nodes[b], GM_EVENT_LINK_UP), 2);
    cr_assert_eq(gm_node_link_count(m.nodes[a]), 1);
    cr_assert_eq(gm_node_link_count(m.nodes[b]), 1);
    cr_assert(gm_node_has_link(m.nodes[a], gm_node_id(m.nodes[b])));
    /* and the link still carries data: both ends kept the same one */
    cr_assert_eq(gm_node_send(m.nodes[a], gm_node_id(m.nodes[b]), 1, (const uint8_t *)"z", 1), 0);
    gm_test_run_for(&m.loop, 50);
    cr_assert_eq(m.received[b], 1);
}

Test(node, chain_of_three_links_through_the_middle)
{
    char d[3][GM_PATH_MAX];
    gm_node_config_t c[3];
    size_t n[3];

    node_dir(&m.org_a, "guard", GM_ROLE_HANDHELD, d[0]);
    node_dir(&m.org_a, "car", GM_ROLE_RELAY, d[1]);
    node_dir(&m.org_b, "officer", GM_ROLE_DISPATCH, d[2]);
    gm_test_trust(d[1], &m.org_b);
    gm_test_trust(d[2], &m.org_a);
    for (int i = 0; i < 3; i++) {
        gm_test_config(&c[i], i == 1 ? "mem:car" : NULL);
    }
    snprintf(c[0].peers[0], GM_ADDR_LEN, "mem:car");
    snprintf(c[2].peers[0], GM_ADDR_LEN, "mem:car");
    c[0].n_peers = c[2].n_peers = 1;
    for (int i = 0; i < 3; i++) {
        n[i] = gm_test_mesh_start(&m, d[i], &c[i]);
    }
    cr_assert(gm_test_wait_linked(&m, n[0], n[1], 2000));
    cr_assert(gm_test_wait_linked(&m, n[2], n[1], 2000));
    cr_assert_eq(gm_node_link_count(m.nodes[n[1]]), 2);
    cr_assert(!gm_node_has_link(m.nodes[n[0]], gm_node_id(m.nodes[n[2]])));
}

Test(node, full_queue_pushes_back_and_loses_nothing)
{
    gm_node_config_t ca, cb;
    size_t a, b, accepted = 0;
    uint8_t msg[1024] = {1};
    int err = 0;

    start_pair(&a, &b, &ca, &cb);
    cr_assert(gm_test_wait_linked(&m, a, b, 2000));
    /* within one loop turn nothing is written: the queue fills up to its limit */
    while ((err = gm_node_send(m.nodes[a], gm_node_id(m.nodes[b]), 1, msg, sizeof msg)) == 0) {
        accepted++;
        cr_assert_lt(accepted, 100000, "no backpressure");
    }
    cr_assert_eq(err, GM_ELIMIT);
    cr_assert_geq(accepted * sizeof msg, ca.max_queued_bytes * 9 / 10);
    cr_assert_leq(accepted * sizeof msg, ca.max_queued_bytes + 2 * sizeof msg);
    gm_test_run_for(&m.loop, 300);
    cr_assert_eq(m.received[b], accepted, "accepted %zu, delivered %llu", accepted,
                 (unsigned long long)m.received[b]);
    cr_assert_eq(gm_node_send(m.nodes[a], gm_node_id(m.nodes[b]), 1, msg, sizeof msg), 0);
}

/* A message larger than a frame travels in pieces and arrives whole; above max_message it
 * is refused before anything is queued. */
Test(node, large_messages_travel_in_pieces_and_oversized_ones_are_refused)
{
    gm_node_config_t ca, cb;
    size_t a, b;
    static uint8_t big[(1u << 20) + 1];
    uint8_t want[32];

    for (size_t i = 0; i < 300000; i++) {
        big[i] = (uint8_t)(i * 7 + i / 251);
    }
    start_pair(&a, &b, &ca, &cb);
    cr_assert(gm_test_wait_linked(&m, a, b, 2000));
    cr_assert_eq(gm_node_send(m.nodes[a], gm_node_id(m.nodes[b]), 1, big, ca.max_message + 1),
                 GM_EPROTO);
    cr_assert_eq(gm_node_send(m.nodes[a], gm_node_id(m.nodes[b]), 1, big, 65000), 0);
    cr_assert_eq(gm_node_send(m.nodes[a], gm_node_id(m.nodes[b]), 1, big, 300000), 0);
    cr_assert_eq(gm_node_send(m.nodes[a], gm_node_id(m.nodes[b]), 1, big, 10), 0);
    gm_test_run_for(&m.loop, 100);
    cr_assert_eq(m.received[b], 3, "pieces were delivered as messages");
    cr_assert_eq(m.received_bytes[b], 65000 + 300000 + 10);
    cr_assert_eq(m.largest_len[b], 300000);
    crypto_generichash(want, sizeof want, big, 300000, NULL, 0);
    cr_assert_eq(memcmp(m.largest_hash[b], want, 32), 0, "the large message arrived altered");
}

static bool received_all(void *ctx)
{
    return m.received[*(size_t *)ctx] >= 200;
}

static void rekey_often(gm_node_config_t *c)
{
    c->rekey_frames = 16;
}

Test(node, deterministic_rekeys_keep_both_directions_working)
{
    gm_node_config_t ca, cb;
    size_t a, b;

    tweak = rekey_often;
    start_pair(&a, &b, &ca, &cb);
    cr_assert(gm_test_wait_linked(&m, a, b, 2000));
    for (int i = 0; i < 200; i++) {
        cr_assert_eq(gm_node_send(m.nodes[a], gm_node_id(m.nodes[b]), 1, (uint8_t *)"r", 1), 0);
        cr_assert_eq(gm_node_send(m.nodes[b], gm_node_id(m.nodes[a]), 1, (uint8_t *)"s", 1), 0);
        if (i % 10 == 0) {
            gm_test_run_for(&m.loop, 2);
        }
    }
    cr_assert(gm_test_run_until(&m.loop, received_all, &b, 2000));
    cr_assert(gm_test_run_until(&m.loop, received_all, &a, 2000));
    cr_assert_geq(gm_node_events(m.nodes[a], GM_EVENT_REKEY), 12);
    cr_assert_geq(gm_node_events(m.nodes[b], GM_EVENT_REKEY), 12);
    cr_assert_eq(gm_node_refusals(m.nodes[a], GM_REFUSE_BAD_FRAME), 0);
    cr_assert_eq(gm_node_events(m.nodes[a], GM_EVENT_LINK_UP), 1);
}

static bool rehandshook(void *ctx)
{
    size_t b = *(size_t *)ctx;

    return gm_node_events(m.nodes[b], GM_EVENT_LINK_UP) >= 2 && gm_node_link_count(m.nodes[b]);
}

static void short_lived_links(gm_node_config_t *c)
{
    c->max_link_age_s = 1;
}

Test(node, link_age_limit_triggers_a_fresh_handshake)
{
    gm_node_config_t ca, cb;
    size_t a, b;

    tweak = short_lived_links;
    start_pair(&a, &b, &ca, &cb);
    cr_assert(gm_test_wait_linked(&m, a, b, 2000));
    cr_assert(gm_test_run_until(&m.loop, rehandshook, &b, 4000));
    cr_assert_geq(gm_node_events(m.nodes[b], GM_EVENT_REHANDSHAKE) +
                      gm_node_events(m.nodes[a], GM_EVENT_REHANDSHAKE),
                  1);
}

Test(node, keepalives_keep_an_idle_link_up)
{
    gm_node_config_t ca, cb;
    size_t a, b;

    start_pair(&a, &b, &ca, &cb);
    cr_assert(gm_test_wait_linked(&m, a, b, 2000));
    gm_test_run_for(&m.loop, 3 * ca.dead_after_ms);
    cr_assert(gm_node_has_link(m.nodes[a], gm_node_id(m.nodes[b])));
    cr_assert_eq(gm_node_events(m.nodes[a], GM_EVENT_DEAD_PEER), 0);
    cr_assert_eq(gm_node_events(m.nodes[a], GM_EVENT_LINK_UP), 1);
}

Test(node, nodes_link_over_loopback_tcp_v4_and_v6)
{
    char d[3][GM_PATH_MAX];
    gm_node_config_t c[3];
    size_t n[3];

    node_dir(&m.org_a, "relay4", GM_ROLE_RELAY, d[0]);
    node_dir(&m.org_a, "relay6", GM_ROLE_RELAY, d[1]);
    node_dir(&m.org_a, "guard", GM_ROLE_HANDHELD, d[2]);
    gm_test_config(&c[0], "127.0.0.1:0");
    gm_test_config(&c[1], "[::1]:0");
    gm_test_config(&c[2], NULL);
    n[0] = gm_test_mesh_start(&m, d[0], &c[0]);
    n[1] = gm_test_mesh_start(&m, d[1], &c[1]);
    cr_assert_str_neq(gm_node_listen_addr(m.nodes[n[1]]), "");
    cr_assert_eq(gm_node_listen_addr(m.nodes[n[1]])[0], '[');
    snprintf(c[2].peers[0], GM_ADDR_LEN, "%s", gm_node_listen_addr(m.nodes[n[0]]));
    snprintf(c[2].peers[1], GM_ADDR_LEN, "%s", gm_node_listen_addr(m.nodes[n[1]]));
    c[2].n_peers = 2;
    n[2] = gm_test_mesh_start(&m, d[2], &c[2]);
    cr_assert(gm_test_wait_linked(&m, n[2], n[0], 3000));
    cr_assert(gm_test_wait_linked(&m, n[2], n[1], 3000));
    cr_assert(gm_test_log_has(&m, n[1], "link up: guard@acme-security ([::1]:"));
}

/* A revocation list dropped into a's directory, then a reload: the link to b closes. */
Test(node, reloading_trust_closes_links_to_revoked_peers)
{
    gm_node_config_t ca, cb;
    size_t a, b;
    gm_why_t why;
    uint64_t serial;

    start_pair(&a, &b, &ca, &cb);
    cr_assert(gm_test_wait_linked(&m, a, b, 2000));
    serial = gm_node_cert(m.nodes[b])->body.serial;
    cr_assert_eq(gm_node_reload_trust(m.nodes[a], &why), 0, "%s", why.msg);
    cr_assert(gm_node_has_link(m.nodes[a], gm_node_id(m.nodes[b])), "a reload alone closed it");

    gm_test_revoke(dir_a, &m.org_a, 1, &serial, 1);
    cr_assert_eq(gm_node_reload_trust(m.nodes[a], &why), 0, "%s", why.msg);
    cr_assert(!gm_node_has_link(m.nodes[a], gm_node_id(m.nodes[b])));
    cr_assert_eq(gm_node_refusals(m.nodes[a], GM_REFUSE_REVOKED), 1);
    cr_assert(gm_test_log_has(&m, a, "revoked"));
    /* b redials: refused at the handshake from now on */
    cr_assert(gm_test_wait_refusal(&m, a, GM_REFUSE_REVOKED, 3000) &&
                  gm_node_refusals(m.nodes[a], GM_REFUSE_REVOKED) >= 1);
    gm_test_run_for(&m.loop, 300);
    cr_assert_geq(gm_node_refusals(m.nodes[a], GM_REFUSE_REVOKED), 2, "b's redial not refused");
    cr_assert_eq(gm_node_link_count(m.nodes[a]), 0);
}

/* A reload that fails (a corrupt list) keeps the old store and the links. */
Test(node, failed_reload_keeps_the_current_trust)
{
    gm_node_config_t ca, cb;
    size_t a, b;
    gm_why_t why;
    char path[GM_PATH_MAX + 64];
    FILE *f;

    start_pair(&a, &b, &ca, &cb);
    cr_assert(gm_test_wait_linked(&m, a, b, 2000));
    snprintf(path, sizeof path, "%s/revocations", dir_a);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/revocations/broken.crl", dir_a);
    cr_assert_not_null(f = fopen(path, "w"));
    fputs("not a revocation list", f);
    fclose(f);
    cr_assert_neq(gm_node_reload_trust(m.nodes[a], &why), 0);
    cr_assert(strstr(why.msg, "broken.crl") != NULL, "reason does not name the file: %s",
              why.msg);
    cr_assert(gm_node_has_link(m.nodes[a], gm_node_id(m.nodes[b])));
}

/* A peer certificate that runs out while linked closes the link (a's clock moves on). */
Test(node, link_closes_when_the_peer_certificate_expires)
{
    gm_node_config_t ca, cb;
    size_t a, b;
    uint64_t now = (uint64_t)time(NULL);

    node_dir(&m.org_a, "relay", GM_ROLE_RELAY, dir_a);
    gm_test_node_dir(&m.org_a, m.tmp, "guard", GM_ROLE_HANDHELD, NOW_NB, now + DAY, dir_b, NULL);
    gm_test_config(&ca, "mem:a");
    gm_test_config(&cb, "mem:b");
    /* nothing else due on the link for 20 s: the wall clock's jump alone must be noticed */
    gm_test_config_quiet_links(&ca);
    gm_test_config_quiet_links(&cb);
    snprintf(cb.peers[0], GM_ADDR_LEN, "mem:a");
    cb.n_peers = 1;
    a = gm_test_mesh_start(&m, dir_a, &ca);
    b = gm_test_mesh_start(&m, dir_b, &cb);
    cr_assert(gm_test_wait_linked(&m, a, b, 2000));
    gm_test_run_for(&m.loop, 5 * ca.tick_ms); /* a tick has looked at the link since */
    m.clock_offset[a] = 2 * DAY;
    cr_assert(gm_test_wait_refusal(&m, a, GM_REFUSE_EXPIRED, 3000));
    cr_assert(gm_test_log_has(&m, a, "certificate expired while linked"));
    cr_assert(!gm_node_has_link(m.nodes[a], gm_node_id(m.nodes[b])));
}

/* A revocation list past its next update still applies, and the log says to renew it. */
Test(node, stale_revocation_list_is_reported_at_start)
{
    gm_node_config_t ca;
    uint64_t none = 999;
    size_t a;

    node_dir(&m.org_a, "relay", GM_ROLE_RELAY, dir_a);
    gm_test_revoke_until(dir_a, &m.org_a, 3, &none, 1, 2000);
    gm_test_config(&ca, "mem:a");
    a = gm_test_mesh_start(&m, dir_a, &ca);
    cr_assert(gm_test_log_has(&m, a, "revocation list 3 of acme-security"));
    cr_assert(gm_test_log_has(&m, a, "past its next update"));
}

/* The in-memory hub cuts the path between two nodes: the link breaks and stays down
 * until the path is restored, then the dialler links again. */
Test(node, hub_cuts_break_links_until_restored)
{
    gm_node_config_t ca, cb;
    size_t a, b;

    start_pair(&a, &b, &ca, &cb);
    cr_assert(gm_test_wait_linked(&m, a, b, 2000));
    cr_assert_eq(gm_mem_hub_cut(m.hub, "a", "b", true), 0);
    gm_test_run_for(&m.loop, 300);
    cr_assert(!gm_node_has_link(m.nodes[a], gm_node_id(m.nodes[b])));
    cr_assert(!gm_node_has_link(m.nodes[b], gm_node_id(m.nodes[a])));
    cr_assert_geq(gm_node_events(m.nodes[b], GM_EVENT_DIAL_FAILED), 1, "b did not redial");
    cr_assert_eq(gm_mem_hub_cut(m.hub, "a", "b", false), 0);
    cr_assert(gm_test_wait_linked(&m, a, b, 3000));
}

/* The simulator's radio on the hub: a pair it does not allow cannot link (and an open link
 * breaks on recheck); what it delays arrives late but in order; bytes are counted per channel. */
static struct {
    bool allow;
    uint32_t delay;
    uint64_t writes;
} radio;

static bool radio_reachable(void *ctx, const char *a, const char *b)
{
    (void)ctx;
    (void)a;
    (void)b;
    return radio.allow;
}

static uint32_t radio_delay(void *ctx, const char *from, const char *to, size_t len)
{
    (void)ctx;
    (void)from;
    (void)to;
    (void)len;
    radio.writes++;
    return radio.writes % 2 ? radio.delay : 0; /* every other write would overtake */
}

Test(node, hub_model_decides_reach_and_delay_and_keeps_streams_in_order)
{
    gm_node_config_t ca, cb;
    size_t a, b;
    uint8_t msg[4] = {0};

    memset(&radio, 0, sizeof radio);
    gm_mem_hub_set_model(m.hub, &(gm_mem_model_t){radio_reachable, radio_delay}, NULL);
    start_pair(&a, &b, &ca, &cb);
    gm_test_run_for(&m.loop, 300);
    cr_assert(!gm_node_has_link(m.nodes[b], gm_node_id(m.nodes[a])), "linked out of range");
    radio.allow = true;
    cr_assert(gm_test_wait_linked(&m, a, b, 3000));
    radio.delay = 120;
    for (uint8_t i = 0; i < 20; i++) {
        msg[0] = i;
        cr_assert_eq(gm_node_send(m.nodes[b], gm_node_id(m.nodes[a]), 70, msg, sizeof msg), 0);
        gm_test_run_for(&m.loop, 2);
    }
    gm_test_run_for(&m.loop, 60);
    cr_assert_lt(m.received[a], 20, "nothing was delayed");
    gm_test_run_for(&m.loop, 400);
    cr_assert_eq(m.received[a], 20);
    /* a reordered stream would not decrypt: the link would have closed */
    cr_assert(gm_node_has_link(m.nodes[b], gm_node_id(m.nodes[a])));
    cr_assert_eq(gm_node_refusals(m.nodes[a], GM_REFUSE_BAD_FRAME), 0);
    cr_assert_eq(gm_node_sent_bytes(m.nodes[b], 70), 20 * sizeof msg);
    radio.allow = false;
    gm_mem_hub_recheck(m.hub);
    gm_test_run_for(&m.loop, 100);
    cr_assert(!gm_node_has_link(m.nodes[b], gm_node_id(m.nodes[a])), "recheck left the link up");
    gm_mem_hub_set_model(m.hub, NULL, NULL);
}

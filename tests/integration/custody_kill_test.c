/*
 * Custody survives kill -9: three real guardmeshd processes on 127.0.0.1,
 * alpha -- relay -- delta. Delta takes bundles from alpha's origin at only
 * 1000 a second (mesh.origin_rate), so thousands pile up in the relay's
 * custody; the relay is killed with SIGKILL while it holds them, restarted
 * on the same directory and port, and every bundle still reaches delta
 * exactly once.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "tests/support/procs.h"

#define BUNDLES "3000"
#define N_BUNDLES 3000

#define FAST_INI                                                                                   \
    "[link]\n"                                                                                     \
    "tick_ms = 50\n"                                                                               \
    "keepalive_ms = 500\n"                                                                         \
    "dead_after_ms = 3000\n"                                                                       \
    "redial_min_ms = 100\n"                                                                        \
    "redial_max_ms = 500\n"                                                                        \
    "[mesh]\n"                                                                                     \
    "announce_interval_ms = 500\n"                                                                 \
    "route_expiry_ms = 5000\n"                                                                     \
    "custody_timeout_ms = 1000\n"

static char ca[64], dir_a[64], dir_r[64], dir_d[64], cfg[64], cfg_slow[64];

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    gm_proc_setup("gmk");
    gm_proc_path(ca, sizeof ca, "ca");
    gm_proc_path(dir_a, sizeof dir_a, "alpha");
    gm_proc_path(dir_r, sizeof dir_r, "relay");
    gm_proc_path(dir_d, sizeof dir_d, "delta");
    gm_proc_path(cfg, sizeof cfg, "fast.ini");
    gm_proc_path(cfg_slow, sizeof cfg_slow, "slow.ini");
    gm_proc_put_text(cfg, FAST_INI);
    gm_proc_put_text(cfg_slow, FAST_INI "origin_rate = 1000\n");
}

static void teardown(void)
{
    gm_proc_teardown();
}

TestSuite(custody, .init = setup, .fini = teardown, .timeout = 120);

/* Polls for up to ms; true once dir's counter name is at least min (at most max). */
static bool wait_counter(const char *dir, const char *name, double min, double max, unsigned ms)
{
    uint64_t end = gm_proc_now_ms() + ms;
    double v;

    while (!((v = gm_proc_mesh_counter(dir, name)) >= min && v <= max) && gm_proc_now_ms() < end) {
        gm_proc_sleep_ms(50);
    }
    return v >= min && v <= max;
}

Test(custody, relay_killed_while_holding_bundles_loses_none_and_duplicates_none)
{
    int port_d = gm_proc_free_port(), port_r = gm_proc_free_port();
    char id_d[33];
    double held_at_kill, acked_before_kill, delivered, dup_receptions;
    gm_daemon_t *relay;
    cJSON *j;

    while (port_r == port_d) {
        port_r = gm_proc_free_port();
    }
    GM_PROC_MUST("ca", "init", "--dir", ca, "--org", "acme-security");
    GM_PROC_MUST("ca", "issue", "--ca", ca, "--dir", dir_a, "--callsign", "alpha", "--role",
                 "handheld");
    GM_PROC_MUST("ca", "issue", "--ca", ca, "--dir", dir_r, "--callsign", "car-7", "--role",
                 "relay");
    GM_PROC_MUST("ca", "issue", "--ca", ca, "--dir", dir_d, "--callsign", "delta", "--role",
                 "dispatch");
    gm_proc_start_node("delta", dir_d, cfg_slow, port_d, 0);
    relay = gm_proc_start_node("relay", dir_r, cfg, port_r, port_d);
    gm_proc_start_node("alpha", dir_a, cfg, 0, port_r);
    GM_PROC_WAIT_FOR(gm_proc_routes_reach(dir_a, "delta", NULL), "alpha routes to delta");
    j = GM_PROC_JSON("--dir", dir_d, "status", "--json");
    snprintf(id_d, sizeof id_d, "%s", gm_proc_json_str(j, "node_id"));
    cJSON_Delete(j);

    j = GM_PROC_JSON("--dir", dir_a, "debug", "inject", "--to", id_d, "--count", BUNDLES, "--size",
                     "256", "--json");
    cr_assert_eq(gm_proc_json_num(j, "injected"), N_BUNDLES);
    cJSON_Delete(j);

    /* the relay holds a good part of them in custody: kill it there */
    cr_assert(wait_counter(dir_r, "store_bundles", 1000, 1e9, 15000),
              "the relay never held 1000 bundles (holds %.0f)",
              gm_proc_mesh_counter(dir_r, "store_bundles"));
    held_at_kill = gm_proc_mesh_counter(dir_r, "store_bundles");
    acked_before_kill = gm_proc_mesh_counter(dir_a, "forwarded");
    gm_proc_kill9(relay);

    relay = gm_proc_start_node("relay", dir_r, cfg, port_r, port_d);
    cr_assert(wait_counter(dir_d, "delivered", N_BUNDLES, 1e9, 60000),
              "delta has %.0f of %d bundles", gm_proc_mesh_counter(dir_d, "delivered"), N_BUNDLES);
    gm_proc_sleep_ms(2500); /* custody timeouts pass: retries must not deliver twice */
    delivered = gm_proc_mesh_counter(dir_d, "delivered");
    dup_receptions = gm_proc_mesh_counter(dir_d, "duplicates");
    cr_expect_eq(delivered, N_BUNDLES, "delivered %.0f, not exactly %d", delivered, N_BUNDLES);
    cr_expect(wait_counter(dir_a, "store_bundles", 0, 0, 10000) &&
                  wait_counter(dir_r, "store_bundles", 0, 0, 10000),
              "custody left behind: alpha %.0f, relay %.0f",
              gm_proc_mesh_counter(dir_a, "store_bundles"),
              gm_proc_mesh_counter(dir_r, "store_bundles"));
    fprintf(stderr,
            "kill -9 custody: sent %d, acknowledged by the relay before the kill %.0f, held by "
            "the relay at the kill %.0f, delivered %.0f, duplicate receptions %.0f\n",
            N_BUNDLES, acked_before_kill, held_at_kill, delivered, dup_receptions);
    gm_proc_finish();
}

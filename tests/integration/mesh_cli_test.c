/*
 * The mesh commands of the guardmesh CLI against real guardmeshd processes on
 * 127.0.0.1: `routes`, `status` with the mesh counters, `debug inject` and
 * `revocations add`. Three nodes of one organisation make a chain
 *
 *     alpha (handheld) -- bravo (relay) -- charlie (handheld)
 *
 * alpha listens, bravo listens and dials alpha, charlie dials bravo, so alpha
 * and charlie are two hops apart. tests/support/procs.c starts the processes;
 * every test ends with finish() (clean exits, no sanitizer report).
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "node/node.h"
#include "tests/support/procs.h"

#define ORG "acme-security"
#define OTHER_ORG "metro-police"
#define CUT_OFF_MS 5000 /* a revocation reaches the far end of the chain within this */

/* Fast link timers, and announcements often enough for a test. */
#define MESH_INI                                                                                   \
    "[link]\n"                                                                                     \
    "tick_ms = 50\n"                                                                               \
    "keepalive_ms = 300\n"                                                                         \
    "dead_after_ms = 1500\n"                                                                       \
    "handshake_timeout_ms = 1000\n"                                                                \
    "redial_min_ms = 100\n"                                                                        \
    "redial_max_ms = 1000\n"                                                                       \
    "[mesh]\n"                                                                                     \
    "announce_interval_ms = 1000\n"                                                                \
    "route_expiry_ms = 10000\n"

static char ca[64], ca_other[64], dir_a[64], dir_b[64], dir_c[64], cfg[64];
static char id_a[33], id_b[33], id_c[33];

static void make_identities(void)
{
    GM_PROC_MUST("ca", "init", "--dir", ca, "--org", ORG);
    GM_PROC_MUST("ca", "issue", "--ca", ca, "--dir", dir_a, "--callsign", "alpha", "--role",
                 "handheld");
    GM_PROC_MUST("ca", "issue", "--ca", ca, "--dir", dir_b, "--callsign", "bravo", "--role",
                 "relay");
    GM_PROC_MUST("ca", "issue", "--ca", ca, "--dir", dir_c, "--callsign", "charlie", "--role",
                 "handheld");
}

/* The node id of the running node in dir (status --json). */
static void node_id(const char *dir, char out[33])
{
    cJSON *j = GM_PROC_JSON("--dir", dir, "status", "--json");

    snprintf(out, 33, "%s", gm_proc_json_str(j, "node_id"));
    cr_assert_eq(strlen(out), 32, "status --json of %s has no node id", dir);
    cJSON_Delete(j);
}

/* Starts the chain alpha -- bravo -- charlie and waits until every link is up. */
static void start_chain(void)
{
    int port_a = gm_proc_free_port(), port_b = gm_proc_free_port();

    while (port_b == port_a) {
        port_b = gm_proc_free_port();
    }
    make_identities();
    gm_proc_start_node("alpha", dir_a, cfg, port_a, 0);
    gm_proc_start_node("bravo", dir_b, cfg, port_b, port_a);
    gm_proc_start_node("charlie", dir_c, cfg, 0, port_b);
    GM_PROC_WAIT_FOR(gm_proc_has_peer(dir_a, "bravo") && gm_proc_has_peer(dir_b, "alpha") &&
                         gm_proc_has_peer(dir_b, "charlie") && gm_proc_has_peer(dir_c, "bravo"),
                     "the chain alpha -- bravo -- charlie is linked");
    node_id(dir_a, id_a);
    node_id(dir_b, id_b);
    node_id(dir_c, id_c);
}

/* True if a file in dir has exactly the bytes of the file at path. */
static bool holds_copy(const char *dir, const char *path)
{
    static char want[GM_PROC_OUT_MAX], got[GM_PROC_OUT_MAX];
    char entry[512];
    struct dirent *e;
    bool found = false;
    DIR *d = opendir(dir);
    FILE *f = fopen(path, "rb");
    size_t want_len = f != NULL ? fread(want, 1, sizeof want, f) : 0;

    if (f != NULL) {
        fclose(f);
    }
    while (d != NULL && !found && want_len > 0 && (e = readdir(d)) != NULL) {
        snprintf(entry, sizeof entry, "%s/%s", dir, e->d_name);
        f = e->d_name[0] != '.' ? fopen(entry, "rb") : NULL;
        if (f != NULL) {
            found = fread(got, 1, sizeof got, f) == want_len && memcmp(got, want, want_len) == 0;
            fclose(f);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return found;
}

/* A file of len bytes that are no revocation list. */
static void put_bytes(const char *path, size_t len)
{
    FILE *f = fopen(path, "wb");

    cr_assert_not_null(f);
    for (size_t i = 0; i < len; i++) {
        cr_assert_neq(fputc((int)(i * 7 % 251), f), EOF);
    }
    cr_assert_eq(fclose(f), 0);
}

/* A command that must fail with status want and exactly one line on stderr holding what. */
#define EXPECT_ONE_LINE_ERROR(want, what, ...)                                                     \
    do {                                                                                           \
        static gm_cli_run_t o_;                                                                    \
        const char *nl_;                                                                           \
        GM_PROC_CLI(&o_, __VA_ARGS__);                                                             \
        nl_ = strchr(o_.err, '\n');                                                                \
        cr_expect_eq(o_.status, want, "guardmesh%s: status %d (want %d):\n%s", o_.cmd, o_.status,  \
                     want, o_.err);                                                                \
        cr_expect(nl_ != NULL && nl_[1] == 0, "guardmesh%s: stderr is not one line:\n%s", o_.cmd,  \
                  o_.err);                                                                         \
        cr_expect(strstr(o_.err, what) != NULL, "guardmesh%s: stderr does not say '%s':\n%s",      \
                  o_.cmd, what, o_.err);                                                           \
        cr_expect_str_empty(o_.out, "guardmesh%s printed:\n%s", o_.cmd, o_.out);                   \
    } while (0)

/* ---- fixture ---- */

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    gm_proc_setup("gmm");
    gm_proc_path(ca, sizeof ca, "acme-ca");
    gm_proc_path(ca_other, sizeof ca_other, "police-ca");
    gm_proc_path(dir_a, sizeof dir_a, "alpha");
    gm_proc_path(dir_b, sizeof dir_b, "bravo");
    gm_proc_path(dir_c, sizeof dir_c, "charlie");
    gm_proc_path(cfg, sizeof cfg, "mesh.ini");
    gm_proc_put_text(cfg, MESH_INI);
}

static void finish(void)
{
    gm_proc_finish();
}

static void teardown(void)
{
    gm_proc_teardown();
}

TestSuite(mesh_cli, .init = setup, .fini = teardown, .timeout = 90);

/* ---- routes and status ---- */

Test(mesh_cli, routes_list_the_other_nodes_with_their_next_hops)
{
    static gm_cli_run_t o;
    const cJSON *r;
    cJSON *j;

    start_chain();
    GM_PROC_WAIT_FOR(gm_proc_routes_reach(dir_a, "charlie", id_b) &&
                         gm_proc_routes_reach(dir_c, "alpha", id_b),
                     "alpha and charlie route to each other through bravo");

    j = GM_PROC_JSON("--dir", dir_a, "routes", "--json");
    cr_expect_eq(gm_proc_json_num(j, "directory"), 2, "alpha knows bravo and charlie only");
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "routes")), 2);
    cr_expect_null(gm_proc_route_to(j, "alpha"), "alpha lists a route to itself");
    r = gm_proc_route_to(j, "bravo");
    cr_assert(gm_proc_route_reachable(r), "alpha has no route to its neighbour bravo");
    cr_expect_str_eq(gm_proc_json_str(r, "dest"), id_b);
    cr_expect_str_eq(gm_proc_json_str(r, "next_hop"), id_b);
    cr_expect_str_eq(gm_proc_json_str(r, "next_hop_callsign"), "bravo");
    r = gm_proc_route_to(j, "charlie");
    cr_assert(gm_proc_route_reachable(r));
    cr_expect_str_eq(gm_proc_json_str(r, "dest"), id_c);
    cr_expect_gt(gm_proc_json_num(r, "metric"),
                 gm_proc_json_num(gm_proc_route_to(j, "bravo"), "metric"),
                 "two hops away is not farther than one");
    cr_expect_gt(gm_proc_json_num(r, "seq"), 0);
    cr_expect_geq(gm_proc_json_num(r, "age_ms"), 0);
    cJSON_Delete(j);

    /* the table for people: short ids, callsigns, the directory size */
    cr_assert_eq(GM_PROC_CLI(&o, "--dir", dir_a, "routes"), 0, "%s", o.err);
    cr_expect(gm_proc_has_line(o.out, "DESTINATION", "NEXT HOP"), "%s", o.out);
    cr_expect(strstr(o.out, "charlie") != NULL && strstr(o.out, "bravo") != NULL, "%s", o.out);
    char short_c[9];
    snprintf(short_c, sizeof short_c, "%.8s", id_c);
    cr_expect(gm_proc_has_line(o.out, short_c, "charlie"), "no line for charlie:\n%s", o.out);
    cr_expect(strstr(o.out, "directory: 2 nodes") != NULL, "%s", o.out);
    cr_expect_str_empty(o.err);
    finish();
}

Test(mesh_cli, status_adds_the_mesh_counters_and_keeps_the_node_fields)
{
    static gm_cli_run_t o;
    cJSON *j;
    const cJSON *mesh;

    start_chain();
    GM_PROC_WAIT_FOR(gm_proc_routes_reach(dir_b, "alpha", NULL) &&
                         gm_proc_routes_reach(dir_b, "charlie", NULL),
                     "bravo routes to both ends");
    j = GM_PROC_JSON("--dir", dir_b, "status", "--json");
    cr_expect_str_eq(gm_proc_json_str(j, "callsign"), "bravo");
    cr_expect_str_eq(gm_proc_json_str(j, "node_id"), id_b);
    cr_expect_eq(gm_proc_json_num(j, "links"), 2);
    cr_expect_geq(gm_proc_json_num2(j, "events", "links_up"), 2);
    mesh = cJSON_GetObjectItemCaseSensitive(j, "mesh");
    cr_assert_not_null(mesh, "status --json has no mesh object");
    cr_expect_eq(gm_proc_json_num(mesh, "directory"), 2);
    static const char *const names[] = {
        "accepted",      "originated",    "delivered",           "dropped_revoked_source",
        "store_bundles", "store_commits", "route_bad_signature", "route_old_sequence_number"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        cr_expect_geq(gm_proc_json_num2(mesh, "counters", names[i]), 0, "no counter %s", names[i]);
    }
    cJSON_Delete(j);

    cr_assert_eq(GM_PROC_CLI(&o, "--dir", dir_b, "status"), 0, "%s", o.err);
    cr_expect(gm_proc_has_line(o.out, "node", "bravo@" ORG), "%s", o.out);
    cr_expect(gm_proc_has_line(o.out, "directory", "2 nodes"), "%s", o.out);
    cr_expect(gm_proc_has_line(o.out, "mesh        ", NULL), "no mesh counters line:\n%s", o.out);
    finish();
}

/* ---- debug inject ---- */

Test(mesh_cli, inject_two_hops_away_is_delivered_exactly_count_times)
{
    const cJSON *ids, *id;
    double delivered, originated;
    cJSON *j;

    start_chain();
    GM_PROC_WAIT_FOR(gm_proc_routes_reach(dir_a, "charlie", id_b), "alpha routes to charlie");
    delivered = gm_proc_mesh_counter(dir_c, "delivered");
    originated = gm_proc_mesh_counter(dir_a, "originated");
    cr_assert_geq(delivered, 0, "charlie's status has no delivered counter");

    j = GM_PROC_JSON("--dir", dir_a, "debug", "inject", "--to", id_c, "--count", "7", "--size",
                     "300", "--priority", "urgent", "--lifetime", "600", "--json");
    cr_expect_eq(gm_proc_json_num(j, "injected"), 7);
    ids = cJSON_GetObjectItemCaseSensitive(j, "ids");
    cr_expect_eq(cJSON_GetArraySize(ids), 7);
    cJSON_ArrayForEach(id, ids)
    {
        cr_expect(cJSON_IsString(id) && strlen(id->valuestring) == 32, "bad id in the answer");
    }
    cJSON_Delete(j);

    GM_PROC_WAIT_FOR(gm_proc_mesh_counter(dir_c, "delivered") >= delivered + 7,
                     "charlie has the 7 bundles delivered");
    gm_proc_sleep_ms(1500); /* custody acks and retries settle: still exactly 7 */
    cr_expect_eq(gm_proc_mesh_counter(dir_c, "delivered"), delivered + 7);
    cr_expect_eq(gm_proc_mesh_counter(dir_a, "originated"), originated + 7);
    cr_expect_eq(gm_proc_mesh_counter(dir_b, "delivered"), 0,
                 "the relay delivered bundles to itself");
    cr_expect_geq(gm_proc_mesh_counter(dir_b, "accepted"), 7,
                  "bravo did not take custody on the way");

    /* without --json: the number only */
    static gm_cli_run_t o;
    cr_assert_eq(GM_PROC_CLI(&o, "--dir", dir_c, "debug", "inject", "--to", id_a), 0, "%s", o.err);
    cr_expect_str_eq(o.out, "injected 1 bundle\n");
    GM_PROC_WAIT_FOR(gm_proc_mesh_counter(dir_a, "delivered") >= 1, "alpha has charlie's bundle");
    finish();
}

/* ---- revocations ---- */

Test(mesh_cli, revocation_added_at_one_end_cuts_off_the_node_at_the_other_end)
{
    static gm_cli_run_t o;
    char crl[96], saved[96], cert_c[96];
    uint64_t revoked_before, t0;
    cJSON *j;

    start_chain();
    GM_PROC_WAIT_FOR(gm_proc_routes_reach(dir_a, "charlie", id_b), "alpha routes to charlie");
    revoked_before = gm_proc_node_counter(dir_b, "refusals", "revoked");
    snprintf(cert_c, sizeof cert_c, "%s/node.cert", dir_c);
    snprintf(crl, sizeof crl, "%s/revocations.crl", ca);
    GM_PROC_MUST("ca", "revoke", "--ca", ca, "--cert", cert_c);

    t0 = gm_proc_now_ms();
    cr_assert_eq(GM_PROC_CLI(&o, "--dir", dir_a, "revocations", "add", crl), 0,
                 "revocations add: %s", o.err);
    cr_expect(strncmp(o.out, "applied: revocation list ", 25) == 0 &&
                  strstr(o.out, " of " ORG "\n") != NULL,
              "revocations add printed:\n%s", o.out);
    cr_expect_str_empty(o.err);

    /* bravo has it by the flood and closes its link to charlie */
    GM_PROC_WAIT_FOR(gm_proc_node_counter(dir_b, "refusals", "revoked") > revoked_before &&
                         !gm_proc_has_peer(dir_b, "charlie"),
                     "bravo refuses charlie as revoked");
    cr_expect_leq(gm_proc_now_ms() - t0, CUT_OFF_MS, "the revocation took %llu ms to cut off",
                  (unsigned long long)(gm_proc_now_ms() - t0));
    GM_PROC_WAIT_FOR(gm_proc_node_links(dir_c) == 0, "charlie has no link left");
    cr_expect(gm_proc_has_peer(dir_b, "alpha"), "bravo lost its link to alpha too");
    snprintf(saved, sizeof saved, "%s/revocations", dir_b);
    cr_expect(holds_copy(saved, crl), "bravo did not keep the flooded list in %s", saved);

    /* alpha forgets charlie: no route to a revoked node */
    GM_PROC_WAIT_FOR(!gm_proc_routes_reach(dir_a, "charlie", NULL),
                     "alpha drops its route to charlie");
    j = GM_PROC_JSON("--dir", dir_a, "routes", "--json");
    cr_expect_eq(gm_proc_json_num(j, "directory"), 1);
    cJSON_Delete(j);

    /* the same list again: the node's one-line refusal */
    EXPECT_ONE_LINE_ERROR(1, "not newer", "--dir", dir_a, "revocations", "add", crl);
    EXPECT_ONE_LINE_ERROR(1, "not newer", "--dir", dir_b, "revocations", "add", crl);
    finish();
}

/* ---- bad inputs ---- */

Test(mesh_cli, bad_inputs_give_one_line_errors)
{
    char missing[96], garbage[96], big[96], foreign[96], nowhere[64], dir_x[64], cert_x[96];

    start_chain();
    gm_proc_path(missing, sizeof missing, "no-such.crl");
    gm_proc_path(garbage, sizeof garbage, "garbage.crl");
    gm_proc_path(big, sizeof big, "big.crl");
    gm_proc_path(nowhere, sizeof nowhere, "no-node-here");
    gm_proc_put_text(garbage, "this is not a revocation list\n");

    EXPECT_ONE_LINE_ERROR(2, "not a node id", "--dir", dir_a, "debug", "inject", "--to", "zz");
    EXPECT_ONE_LINE_ERROR(2, "not a node id", "--dir", dir_a, "debug", "inject", "--to",
                          "0123456789abcdef0123456789abcde");
    EXPECT_ONE_LINE_ERROR(2, "--to NODE_ID_HEX or --all", "--dir", dir_a, "debug", "inject");
    EXPECT_ONE_LINE_ERROR(2, "--to NODE_ID_HEX or --all", "--dir", dir_a, "debug", "inject", "--to",
                          id_c, "--all");
    EXPECT_ONE_LINE_ERROR(2, "--count", "--dir", dir_a, "debug", "inject", "--to", id_c, "--count",
                          "0");
    EXPECT_ONE_LINE_ERROR(2, "--count", "--dir", dir_a, "debug", "inject", "--to", id_c, "--count",
                          "100001");
    EXPECT_ONE_LINE_ERROR(2, "--priority", "--dir", dir_a, "debug", "inject", "--to", id_c,
                          "--priority", "fast");
    EXPECT_ONE_LINE_ERROR(2, "--size", "--dir", dir_a, "debug", "inject", "--to", id_c, "--size",
                          "-1");
    EXPECT_ONE_LINE_ERROR(2, "no value after", "--dir", dir_a, "debug", "inject", "--to");
    EXPECT_ONE_LINE_ERROR(2, "unexpected argument", "--dir", dir_a, "routes", "--bogus");
    EXPECT_ONE_LINE_ERROR(2, "debug inject", "--dir", dir_a, "debug", "explode");
    /* refused by the node: its own id, a body larger than a bundle */
    EXPECT_ONE_LINE_ERROR(1, "this node itself", "--dir", dir_a, "debug", "inject", "--to", id_a);
    EXPECT_ONE_LINE_ERROR(1, "does not fit", "--dir", dir_a, "debug", "inject", "--to", id_c,
                          "--size", "70000");
    /* revocation lists: unreadable, not one, from an organisation the node does not trust */
    EXPECT_ONE_LINE_ERROR(1, "cannot read", "--dir", dir_a, "revocations", "add", missing);
    EXPECT_ONE_LINE_ERROR(1, "revocation list refused", "--dir", dir_a, "revocations", "add",
                          garbage);
    /* near the 1 MiB request limit: it reaches the node (whose buffer grows), which refuses it */
    put_bytes(big, GM_MESH_CTL_CRL_MAX);
    EXPECT_ONE_LINE_ERROR(1, "revocation list refused", "--dir", dir_a, "revocations", "add", big);
    put_bytes(big, GM_MESH_CTL_CRL_MAX + 1);
    EXPECT_ONE_LINE_ERROR(1, "too large", "--dir", dir_a, "revocations", "add", big);
    gm_proc_path(dir_x, sizeof dir_x, "officer");
    snprintf(cert_x, sizeof cert_x, "%s/node.cert", dir_x);
    snprintf(foreign, sizeof foreign, "%s/revocations.crl", ca_other);
    GM_PROC_MUST("ca", "init", "--dir", ca_other, "--org", OTHER_ORG);
    GM_PROC_MUST("ca", "issue", "--ca", ca_other, "--dir", dir_x, "--callsign", "officer-12",
                 "--role", "dispatch");
    GM_PROC_MUST("ca", "revoke", "--ca", ca_other, "--cert", cert_x);
    EXPECT_ONE_LINE_ERROR(1, "not trusted", "--dir", dir_a, "revocations", "add", foreign);
    EXPECT_ONE_LINE_ERROR(2, "revocations add CRL_FILE", "--dir", dir_a, "revocations", "remove",
                          foreign);
    /* no daemon there */
    EXPECT_ONE_LINE_ERROR(1, "no node is running", "--dir", nowhere, "routes");
    EXPECT_ONE_LINE_ERROR(1, "no node is running", "--dir", nowhere, "debug", "inject", "--all");
    EXPECT_ONE_LINE_ERROR(1, "no node is running", "--dir", nowhere, "revocations", "add", garbage);
    /* nothing of that changed the nodes */
    cr_expect_eq(gm_proc_mesh_counter(dir_a, "originated"), 0);
    cr_expect(gm_proc_has_peer(dir_b, "charlie"));
    finish();
}

Test(mesh_cli, every_command_has_help)
{
    static const char *const cmds[][3] = {
        {"routes", "--help", NULL}, {"status", "--help", NULL},       {"debug", "inject", "--help"},
        {"debug", "--help", NULL},  {"revocations", "add", "--help"}, {"--help", NULL, NULL},
    };
    static gm_cli_run_t o;
    char nowhere[64];

    gm_proc_path(nowhere, sizeof nowhere, "no-node-here"); /* help needs no node */
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        GM_PROC_CLI(&o, "--dir", nowhere, cmds[i][0], cmds[i][1], cmds[i][2]);
        cr_expect_eq(o.status, 0, "guardmesh%s: status %d:\n%s", o.cmd, o.status, o.err);
        cr_expect(strncmp(o.out, "usage: guardmesh --dir NODE_DIR ", 32) == 0,
                  "guardmesh%s printed:\n%s", o.cmd, o.out);
        cr_expect_str_empty(o.err);
    }
    GM_PROC_CLI(&o, "--help");
    cr_expect(strstr(o.out, "routes [--json]") != NULL && strstr(o.out, "debug inject") != NULL &&
                  strstr(o.out, "revocations add CRL_FILE") != NULL,
              "guardmesh --help does not list the mesh commands:\n%s", o.out);
    finish();
}

/* ---- a node without a mesh layer ---- */

/* A node with no mesh layer, run in a child process until it is killed. */
static pid_t start_plain_node(const char *dir)
{
    pid_t parent = getpid(), pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        gm_node_env_t env = {0};
        gm_node_config_t c;
        gm_node_t *n;
        gm_why_t why;
        uv_loop_t loop;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
            _exit(126);
        }
        gm_config_defaults(&c);
        c.n_listen = 0; /* gm_config_set adds a listener: not the default 0.0.0.0:7300 too */
        uv_loop_init(&loop);
        env.loop = &loop;
        env.log = fopen("/dev/null", "w");
        if (gm_config_set(&c, "node", "listen", "127.0.0.1:0", &why) != 0 ||
            gm_node_new(&env, dir, &c, &n, &why) != 0 || gm_node_start(n, &why) != 0) {
            fprintf(stderr, "plain node: %s\n", why.msg);
            _exit(1);
        }
        uv_run(&loop, UV_RUN_DEFAULT);
        _exit(0);
    }
    return pid;
}

Test(mesh_cli, a_node_without_a_mesh_layer_says_so_and_status_still_works)
{
    gm_daemon_t plain = {.name = "plain"};
    cJSON *j;

    make_identities();
    plain.pid = start_plain_node(dir_a);
    snprintf(plain.dir, sizeof plain.dir, "%s", dir_a);
    snprintf(plain.log, sizeof plain.log, "/dev/null");
    gm_proc_wait_up(&plain);
    EXPECT_ONE_LINE_ERROR(1, "this node runs no mesh layer", "--dir", dir_a, "routes");
    EXPECT_ONE_LINE_ERROR(1, "this node runs no mesh layer", "--dir", dir_a, "debug", "inject",
                          "--all");
    j = GM_PROC_JSON("--dir", dir_a, "status", "--json");
    cr_expect_str_eq(gm_proc_json_str(j, "callsign"), "alpha");
    cr_expect_null(cJSON_GetObjectItemCaseSensitive(j, "mesh"));
    cJSON_Delete(j);
    gm_proc_kill9(&plain);
    finish();
}

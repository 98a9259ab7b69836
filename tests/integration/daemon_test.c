#define _XOPEN_SOURCE 700
/*
 * End-to-end tests of guardmeshd: every test runs real daemon processes on
 * 127.0.0.1 only, each node in its own directory under a fresh mkdtemp()
 * folder, with identities made by the real `guardmesh ca` and fast link timers
 * (a config file). Nodes are polled through their control sockets (the client
 * library) with short sleeps and a deadline, and inspected with
 * `guardmesh --dir D status|peers --json` as an operator would.
 * tests/support/procs.c starts and stops the processes.
 *
 * Every test ends with finish(): SIGTERM to every daemon still running, a
 * bounded wait, and expectations that each exited 0 and that no daemon's
 * stderr holds a sanitizer report. The fixture's .fini stops whatever is left
 * (SIGTERM, then SIGKILL) and removes the folder, so a failed assertion leaves
 * no process behind; daemons also get PR_SET_PDEATHSIG, so a test killed by
 * its timeout takes them with it.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/support/procs.h"

/* Link timers of every node: fast.ini (a format for the two redial delays). */
#define REDIAL_MIN_MS 100
#define REDIAL_MAX_MS 1000
#define FAST_INI                                                                                   \
    "[link]\n"                                                                                     \
    "tick_ms = 50\n"                                                                               \
    "keepalive_ms = 300\n"                                                                         \
    "dead_after_ms = 1500\n"                                                                       \
    "handshake_timeout_ms = 1000\n"                                                                \
    "redial_min_ms = %d\n"                                                                         \
    "redial_max_ms = %d\n"
/* docs/config.md: each redial delay is jittered by +-50% around the capped backoff. */
#define REDIAL_WORST_MS (REDIAL_MAX_MS * 3 / 2)
#define RECONNECT_MARGIN_MS 1000

#define ORG_A "acme-security"
#define ORG_B "metro-police"

#define FAILS(what, also_what, ...)                                                                \
    expect_start_failure(what, also_what, __VA_ARGS__, (const char *)NULL)

static char ca_a[64], ca_b[64], dir_guard[64], dir_relay[64], dir_officer[64], cfg[64];

/* `guardmesh --dir DIR what --json`, parsed (cJSON_Delete it). */
static cJSON *cli_json(const char *dir, const char *what)
{
    return GM_PROC_JSON("--dir", dir, what, "--json");
}

static const cJSON *json_peer(const cJSON *peers_doc, const char *callsign)
{
    const cJSON *p;

    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(peers_doc, "peers"))
    {
        if (strcmp(gm_proc_json_str(p, "callsign"), callsign) == 0) {
            return p;
        }
    }
    return NULL;
}

static bool is_hex(const char *s, size_t len)
{
    return strlen(s) == len && strspn(s, "0123456789abcdef") == len;
}

/* ---- identities and configuration ---- */

/*
 * Org A (acme-security): guard-1 (handheld), car-7 (relay, trusts org B).
 * Org B (metro-police): officer-12 (dispatch, trusts org A).
 * The guard trusts only its own organisation.
 */
static void make_identities(void)
{
    GM_PROC_MUST("ca", "init", "--dir", ca_a, "--org", ORG_A);
    GM_PROC_MUST("ca", "init", "--dir", ca_b, "--org", ORG_B);
    GM_PROC_MUST("ca", "issue", "--ca", ca_a, "--dir", dir_guard, "--callsign", "guard-1", "--role",
                 "handheld");
    GM_PROC_MUST("ca", "issue", "--ca", ca_a, "--dir", dir_relay, "--callsign", "car-7", "--role",
                 "relay");
    GM_PROC_MUST("ca", "issue", "--ca", ca_b, "--dir", dir_officer, "--callsign", "officer-12",
                 "--role", "dispatch");

    char b_cert[96], a_cert[96];
    snprintf(b_cert, sizeof b_cert, "%s/org.cert", ca_b);
    snprintf(a_cert, sizeof a_cert, "%s/org.cert", ca_a);
    GM_PROC_MUST("ca", "trust", "--dir", dir_relay, "--org-cert", b_cert);
    GM_PROC_MUST("ca", "trust", "--dir", dir_officer, "--org-cert", a_cert);
}

/* A node with fast.ini; see gm_proc_start_node. */
static gm_daemon_t *start_node(const char *name, const char *dir, int listen_port, int peer_port)
{
    return gm_proc_start_node(name, dir, cfg, listen_port, peer_port);
}

/* ---- startup failures ---- */

/*
 * Runs guardmeshd (all arguments given) and requires that it exits on its own,
 * with a non-zero status (not a signal), exactly one line on stderr containing
 * what and also_what (unless NULL). Returns the daemon for further checks.
 */
static gm_daemon_t *expect_start_failure(const char *what, const char *also_what, const char *arg,
                                         ...)
{
    static char text[GM_PROC_OUT_MAX];
    gm_daemon_t *d;
    const char *nl;
    va_list ap;

    va_start(ap, arg);
    d = gm_proc_vspawn("failing", NULL, arg, ap);
    va_end(ap);
    if (!gm_proc_reap(d, GM_PROC_DEADLINE_MS)) {
        cr_assert_fail("guardmeshd is still running %d ms after starting with a bad setup",
                       GM_PROC_DEADLINE_MS);
    }
    gm_proc_read_text(d->log, text, sizeof text);
    nl = strchr(text, '\n');
    cr_expect(d->status > 0 && d->status < 128,
              "guardmeshd exit status %d (want 1..127), stderr:\n%s", d->status, text);
    cr_expect(nl != NULL && nl[1] == 0, "guardmeshd stderr is not exactly one line:\n%s", text);
    cr_expect(strstr(text, what) != NULL, "guardmeshd stderr does not name '%s':\n%s", what, text);
    if (also_what != NULL) {
        cr_expect(strstr(text, also_what) != NULL, "guardmeshd stderr does not say '%s':\n%s",
                  also_what, text);
    }
    return d;
}

/* ---- fixture ---- */

static void setup(void)
{
    char ini[256];

    cr_assert(sodium_init() >= 0);
    gm_proc_setup("gmd");
    gm_proc_path(ca_a, sizeof ca_a, "acme-ca");
    gm_proc_path(ca_b, sizeof ca_b, "police-ca");
    gm_proc_path(dir_guard, sizeof dir_guard, "guard");
    gm_proc_path(dir_relay, sizeof dir_relay, "relay");
    gm_proc_path(dir_officer, sizeof dir_officer, "officer");
    gm_proc_path(cfg, sizeof cfg, "fast.ini");
    snprintf(ini, sizeof ini, FAST_INI, REDIAL_MIN_MS, REDIAL_MAX_MS);
    gm_proc_put_text(cfg, ini);
}

/* The last statement of every test: clean stops, no sanitizer report. */
static void finish(void)
{
    gm_proc_finish();
}

/* After a failed assertion too: no daemon outlives its test, nothing is left in /tmp. */
static void teardown(void)
{
    gm_proc_teardown();
}

TestSuite(daemon, .init = setup, .fini = teardown, .timeout = 60);

/* ---- a mesh of two organisations ---- */

Test(daemon, two_orgs_link_through_the_relay_and_report_peers_and_status)
{
    int port = gm_proc_free_port();
    char relay_addr[32];
    gm_cli_run_t o;
    cJSON *j;
    const cJSON *p, *item;

    make_identities();
    gm_proc_addr(relay_addr, port);
    start_node("relay", dir_relay, port, 0);
    start_node("guard", dir_guard, 0, port);
    start_node("officer", dir_officer, 0, port);
    GM_PROC_WAIT_FOR(
        gm_proc_has_peer(dir_relay, "guard-1") && gm_proc_has_peer(dir_relay, "officer-12") &&
            gm_proc_has_peer(dir_guard, "car-7") && gm_proc_has_peer(dir_officer, "car-7"),
        "the relay links with the guard and the officer");

    /* the relay sees both, inbound, with traffic */
    static const char *const want[][3] = {{"guard-1", ORG_A, "handheld"},
                                          {"officer-12", ORG_B, "dispatch"}};
    j = cli_json(dir_relay, "peers");
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "peers")), 2);
    for (size_t i = 0; i < 2; i++) {
        p = json_peer(j, want[i][0]);
        cr_assert_not_null(p, "relay's peers --json does not list %s", want[i][0]);
        cr_expect_str_eq(gm_proc_json_str(p, "org"), want[i][1]);
        cr_expect_str_eq(gm_proc_json_str(p, "role"), want[i][2]);
        cr_expect(strncmp(gm_proc_json_str(p, "address"), "127.0.0.1:", 10) == 0, "address %s",
                  gm_proc_json_str(p, "address"));
        cr_expect(is_hex(gm_proc_json_str(p, "node_id"), 32), "node_id %s",
                  gm_proc_json_str(p, "node_id"));
        cr_expect(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "inbound")));
        cr_expect_gt(gm_proc_json_num(p, "bytes_in"), 0);
        cr_expect_gt(gm_proc_json_num(p, "bytes_out"), 0);
        cr_expect_gt(gm_proc_json_num(p, "frames_in"), 0);
        cr_expect_gt(gm_proc_json_num(p, "frames_out"), 0);
    }
    cr_expect_eq(gm_proc_json_num2(j, "refusals", "untrusted_org"), 0);
    cJSON_Delete(j);

    /* the guard sees the relay, outbound, at the address it dialled */
    char relay_id[33] = "";
    j = cli_json(dir_guard, "peers");
    p = json_peer(j, "car-7");
    cr_assert_not_null(p, "guard's peers --json does not list car-7");
    cr_expect_str_eq(gm_proc_json_str(p, "org"), ORG_A);
    cr_expect_str_eq(gm_proc_json_str(p, "role"), "relay");
    cr_expect_str_eq(gm_proc_json_str(p, "address"), relay_addr);
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(p, "inbound")));
    snprintf(relay_id, sizeof relay_id, "%s", gm_proc_json_str(p, "node_id"));
    cJSON_Delete(j);

    /* the relay's own status */
    j = cli_json(dir_relay, "status");
    cr_expect(is_hex(gm_proc_json_str(j, "node_id"), 32));
    cr_expect_str_eq(gm_proc_json_str(j, "node_id"), relay_id);
    cr_expect_str_eq(gm_proc_json_str(j, "callsign"), "car-7");
    cr_expect_str_eq(gm_proc_json_str(j, "org"), ORG_A);
    cr_expect_str_eq(gm_proc_json_str(j, "role"), "relay");
    cr_expect_gt(gm_proc_json_num(j, "uptime_ms"), 0);
    cr_expect_eq(gm_proc_json_num(j, "links"), 2);
    item = cJSON_GetObjectItemCaseSensitive(j, "listening");
    cr_expect_eq(cJSON_GetArraySize(item), 1);
    cr_expect(cJSON_IsString(cJSON_GetArrayItem(item, 0)) &&
                  strcmp(cJSON_GetArrayItem(item, 0)->valuestring, relay_addr) == 0,
              "relay's status does not list %s as listening", relay_addr);
    cr_expect_geq(gm_proc_json_num2(j, "events", "links_up"), 2);
    cr_expect_eq(gm_proc_json_num2(j, "refusals", "untrusted_org"), 0);
    cJSON_Delete(j);

    /* a node told to listen on port 0 reports the port it got */
    j = cli_json(dir_officer, "status");
    cr_expect_str_eq(gm_proc_json_str(j, "org"), ORG_B);
    cr_expect_str_eq(gm_proc_json_str(j, "role"), "dispatch");
    item = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "listening"), 0);
    cr_expect(cJSON_IsString(item) && strncmp(item->valuestring, "127.0.0.1:", 10) == 0 &&
                  strcmp(item->valuestring, "127.0.0.1:0") != 0,
              "officer's listening address is not a real port");
    cJSON_Delete(j);

    /* the human-readable table */
    cr_assert_eq(GM_PROC_CLI(&o, "--dir", dir_relay, "peers"), 0, "%s", o.err);
    cr_expect(strstr(o.out, "guard-1@" ORG_A) != NULL && strstr(o.out, "officer-12@" ORG_B) != NULL,
              "peers table:\n%s", o.out);
    finish();
}

/* ---- restarts and stopping ---- */

Test(daemon, relay_killed_with_sigkill_is_redialled_within_the_backoff_cap)
{
    int port = gm_proc_free_port();
    gm_daemon_t *relay;
    gm_cli_run_t o;
    uint64_t t0, dt_guard = 0, dt_officer = 0;

    make_identities();
    relay = start_node("relay", dir_relay, port, 0);
    start_node("guard", dir_guard, 0, port);
    start_node("officer", dir_officer, 0, port);
    GM_PROC_WAIT_FOR(gm_proc_has_peer(dir_guard, "car-7") && gm_proc_has_peer(dir_officer, "car-7"),
                     "the guard and the officer link with the relay");

    gm_proc_kill9(relay);
    cr_expect_eq(relay->status, 128 + SIGKILL);
    /* a stale control.sock is left behind: the CLI still says nothing runs there */
    cr_expect_eq(GM_PROC_CLI(&o, "--dir", dir_relay, "status"), 1, "status %d", o.status);
    cr_expect(strstr(o.err, "no node is running") != NULL, "%s", o.err);

    /* let the guard's backoff climb to its cap: 100, 200, 400, 800, then 1000 ms */
    GM_PROC_WAIT_FOR(gm_proc_node_links(dir_guard) == 0 &&
                         gm_proc_node_counter(dir_guard, "events", "dials_failed") >= 4,
                     "the guard has failed to redial the relay 4 times");

    relay = start_node("relay-again", dir_relay, port, 0); /* same directory and port */
    t0 = gm_proc_now_ms();
    while ((dt_guard == 0 || dt_officer == 0) && gm_proc_now_ms() - t0 < GM_PROC_DEADLINE_MS) {
        if (dt_guard == 0 && gm_proc_has_peer(dir_guard, "car-7")) {
            dt_guard = gm_proc_now_ms() - t0 + 1;
        }
        if (dt_officer == 0 && gm_proc_has_peer(dir_officer, "car-7")) {
            dt_officer = gm_proc_now_ms() - t0 + 1;
        }
        gm_proc_sleep_ms(GM_PROC_POLL_MS / 2);
    }
    cr_assert_neq(dt_guard, 0, "the guard did not relink with the restarted relay in %d ms",
                  GM_PROC_DEADLINE_MS);
    cr_assert_neq(dt_officer, 0, "the officer did not relink with the restarted relay in %d ms",
                  GM_PROC_DEADLINE_MS);
    cr_expect_leq(dt_guard, REDIAL_WORST_MS + RECONNECT_MARGIN_MS,
                  "the guard took %llu ms to relink (redial_max_ms %d, +-50%% jitter)",
                  (unsigned long long)dt_guard, REDIAL_MAX_MS);
    cr_expect_leq(dt_officer, REDIAL_WORST_MS + RECONNECT_MARGIN_MS,
                  "the officer took %llu ms to relink", (unsigned long long)dt_officer);
    cr_expect_leq(dt_guard, 5000);
    GM_PROC_WAIT_FOR(gm_proc_has_peer(dir_relay, "guard-1") &&
                         gm_proc_has_peer(dir_relay, "officer-12"),
                     "the restarted relay lists both peers");
    cr_expect_geq(gm_proc_node_counter(dir_guard, "events", "links_down"), 1);
    cr_expect_geq(gm_proc_node_counter(dir_guard, "events", "links_up"), 2);
    cr_expect_eq(gm_proc_node_links(dir_guard), 1);
    finish();
}

Test(daemon, sigterm_stops_the_relay_cleanly_and_its_peer_sees_the_link_go_down)
{
    int port = gm_proc_free_port();
    char sock[96];
    gm_daemon_t *relay, *guard;
    gm_cli_run_t o;

    make_identities();
    relay = start_node("relay", dir_relay, port, 0);
    guard = start_node("guard", dir_guard, 0, port);
    GM_PROC_WAIT_FOR(gm_proc_has_peer(dir_guard, "car-7") && gm_proc_has_peer(dir_relay, "guard-1"),
                     "the guard links with the relay");
    snprintf(sock, sizeof sock, "%s/control.sock", dir_relay);
    cr_assert(gm_proc_exists(sock));

    cr_expect_eq(gm_proc_stop(relay), 0, "guardmeshd exit status after SIGTERM");
    cr_expect(!gm_proc_exists(sock), "%s is left behind after SIGTERM", sock);
    cr_expect(gm_proc_log_has_line(relay, "car-7@" ORG_A, "stopped"),
              "the relay did not log 'stopped'");

    GM_PROC_WAIT_FOR(gm_proc_node_links(dir_guard) == 0 &&
                         gm_proc_node_counter(dir_guard, "events", "links_down") >= 1,
                     "the guard counts the link to the relay as down");
    cr_expect(gm_proc_log_has_line(guard, "car-7@" ORG_A, "peer closed the link"),
              "the guard did not log the relay closing the link");
    cr_expect_eq(GM_PROC_CLI(&o, "--dir", dir_relay, "status"), 1);
    cr_expect(strstr(o.err, "no node is running") != NULL, "%s", o.err);
    finish();
}

Test(daemon, sigterm_with_a_control_client_connected_exits_cleanly)
{
    struct sockaddr_un sa;
    gm_daemon_t *guard;
    char sock[96];
    int fd;

    make_identities();
    guard = start_node("guard", dir_guard, 0, 0);
    snprintf(sock, sizeof sock, "%s/control.sock", dir_guard);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0, "%s: %s", sock,
                 strerror(errno));
    gm_proc_sleep_ms(100); /* accepted: an operator's `guardmesh status` that has not asked yet */

    cr_assert_gt(guard->pid, 0);
    kill(guard->pid, SIGTERM);
    if (!gm_proc_reap(guard, 3000)) {
        close(fd);
        gm_proc_kill9(guard); /* hung: no point in another SIGTERM from .fini */
        cr_assert_fail("guardmeshd did not exit within 3 s of SIGTERM while a control client "
                       "was connected");
    }
    close(fd);
    cr_expect_eq(guard->status, 0, "exit status %d after SIGTERM", guard->status);
    cr_expect(!gm_proc_exists(sock), "%s is left behind", sock);
    finish();
}

Test(daemon, status_and_peers_without_a_running_node_say_none_runs_there)
{
    static const char *const cmds[][2] = {
        {"status", NULL}, {"status", "--json"}, {"peers", NULL}, {"peers", "--json"}};
    char nowhere[64];
    gm_cli_run_t o;

    make_identities();
    gm_proc_path(nowhere, sizeof nowhere, "no-such-node");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        for (int k = 0; k < 2; k++) {
            const char *dir = k == 0 ? dir_guard : nowhere;
            const char *nl;
            GM_PROC_CLI(&o, "--dir", dir, cmds[i][0], cmds[i][1]);
            nl = strchr(o.err, '\n');
            cr_expect_eq(o.status, 1, "guardmesh%s: status %d", o.cmd, o.status);
            cr_expect(nl != NULL && nl[1] == 0, "guardmesh%s: stderr not one line:\n%s", o.cmd,
                      o.err);
            cr_expect(strstr(o.err, "no node is running") != NULL, "guardmesh%s:\n%s", o.cmd,
                      o.err);
            cr_expect_str_empty(o.out, "guardmesh%s printed:\n%s", o.cmd, o.out);
        }
    }
    finish();
}

/* ---- bad configuration: non-zero exit, one line on stderr naming the problem ---- */

Test(daemon, rejects_an_unknown_ini_key_naming_the_key_and_file_line)
{
    char bad[64], where[96];

    make_identities();
    gm_proc_path(bad, sizeof bad, "bad.ini");
    gm_proc_put_text(bad, "[link]\ntick_ms = 50\nbogus_key = 3\nkeepalive_ms = 300\n");
    snprintf(where, sizeof where, "%s:3", bad);
    FAILS(where, "bogus_key", "--dir", dir_guard, "--config", bad, "--listen", "127.0.0.1:0");
    finish();
}

Test(daemon, rejects_a_listen_port_out_of_range)
{
    make_identities();
    FAILS("127.0.0.1:99999", NULL, "--dir", dir_guard, "--config", cfg, "--listen",
          "127.0.0.1:99999");
    finish();
}

Test(daemon, rejects_a_listen_address_that_is_not_host_port)
{
    make_identities();
    FAILS("nonsense", NULL, "--dir", dir_guard, "--config", cfg, "--listen", "nonsense");
    finish();
}

Test(daemon, rejects_a_listen_port_in_use_naming_the_address)
{
    int port = gm_proc_free_port();
    char addr[32];

    make_identities();
    gm_proc_addr(addr, port);
    start_node("relay", dir_relay, port, 0);
    FAILS(addr, "in use", "--dir", dir_guard, "--config", cfg, "--listen", addr);
    cr_expect_geq(gm_proc_node_links(dir_relay), 0, "the first daemon no longer answers");
    cr_expect_eq(gm_proc_node_links(dir_guard), -1,
                 "the second daemon left a control socket that answers");
    finish();
}

Test(daemon, rejects_a_truncated_node_key)
{
    char key[96];
    FILE *f;

    make_identities();
    snprintf(key, sizeof key, "%s/node.key", dir_guard);
    cr_assert_eq(truncate(key, 20), 0, "%s: %s", key, strerror(errno));
    FAILS(key, NULL, "--dir", dir_guard, "--config", cfg, "--listen", "127.0.0.1:0");
    /* garbage of the right size */
    f = fopen(key, "wb");
    cr_assert_not_null(f);
    for (int i = 0; i < 102; i++) {
        fputc(0x5a, f);
    }
    cr_assert_eq(fclose(f), 0);
    FAILS(key, NULL, "--dir", dir_guard, "--config", cfg, "--listen", "127.0.0.1:0");
    finish();
}

Test(daemon, rejects_an_unreadable_node_key)
{
    char key[96];

    make_identities();
    snprintf(key, sizeof key, "%s/node.key", dir_guard);
    cr_assert_eq(unlink(key), 0);
    cr_assert_eq(mkdir(key, 0700), 0); /* unreadable as a file, even for root */
    FAILS(key, "cannot read", "--dir", dir_guard, "--config", cfg, "--listen", "127.0.0.1:0");
    cr_assert_eq(rmdir(key), 0); /* missing */
    FAILS(key, NULL, "--dir", dir_guard, "--config", cfg, "--listen", "127.0.0.1:0");
    finish();
}

Test(daemon, rejects_a_sealed_node_key_opened_with_the_wrong_passphrase)
{
    char pass_a[64], pass_b[64], dir[64], key[96];
    gm_daemon_t *d;

    make_identities();
    gm_proc_path(pass_a, sizeof pass_a, "pass-a");
    gm_proc_path(pass_b, sizeof pass_b, "pass-b");
    gm_proc_path(dir, sizeof dir, "sealed");
    snprintf(key, sizeof key, "%s/node.key", dir);
    gm_proc_put_text(pass_a, "correct horse battery staple\n");
    gm_proc_put_text(pass_b, "wrong horse battery staple\n");
    GM_PROC_MUST("ca", "issue", "--ca", ca_a, "--dir", dir, "--callsign", "guard-2", "--role",
                 "handheld", "--node-passphrase-file", pass_a);
    FAILS(key, "passphrase", "--dir", dir, "--config", cfg, "--listen", "127.0.0.1:0",
          "--passphrase-file", pass_b);
    /* none given */
    FAILS(key, "passphrase", "--dir", dir, "--config", cfg, "--listen", "127.0.0.1:0");
    /* the right one opens it */
    d = GM_PROC_SPAWN("sealed", dir, "--config", cfg, "--listen", "127.0.0.1:0",
                      "--passphrase-file", pass_a);
    gm_proc_wait_up(d);
    cr_expect_eq(gm_proc_stop(d), 0);
    finish();
}

Test(daemon, requires_dir)
{
    FAILS("--dir", NULL, "--config", cfg, "--listen", "127.0.0.1:0");
    finish();
}

Test(daemon, refuses_to_run_with_an_expired_certificate)
{
    char dir[64], cert[96];

    make_identities();
    gm_proc_path(dir, sizeof dir, "old");
    snprintf(cert, sizeof cert, "%s/node.cert", dir);
    GM_PROC_MUST("ca", "issue", "--ca", ca_a, "--dir", dir, "--callsign", "guard-old", "--role",
                 "handheld", "--valid-from", "2020-01-01T00:00:00Z", "--days", "1");
    FAILS(cert, "expired", "--dir", dir, "--config", cfg, "--listen", "127.0.0.1:0");
    finish();
}

Test(daemon, refuses_messenger_tables_of_another_version_and_exits_cleanly)
{
    int port = gm_proc_free_port();
    char db_path[96];
    sqlite3 *db;

    make_identities();
    cr_assert_eq(gm_proc_stop(start_node("relay", dir_relay, port, 0)), 0);
    snprintf(db_path, sizeof db_path, "%s/store.db", dir_relay);
    cr_assert_eq(sqlite3_open(db_path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "UPDATE e2e_meta SET v = 99 WHERE k = 'schema'", NULL, NULL, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_changes(db), 1);
    sqlite3_close(db);
    /* One line: no "handles left open" after it (the mesh was freed without a loop turn,
     * and leaked), and no sanitizer report. */
    FAILS("messenger tables are version 99", NULL, "--dir", dir_relay, "--config", cfg, "--listen",
          "127.0.0.1:0");
    finish();
}

/* ---- refusals over real TCP ---- */

Test(daemon, refuses_a_peer_from_an_untrusted_org_and_keeps_its_trusted_link)
{
    int port = gm_proc_free_port();
    gm_daemon_t *guard;
    cJSON *j;

    make_identities(); /* the guard does not trust metro-police */
    guard = start_node("guard", dir_guard, port, 0);
    start_node("relay", dir_relay, 0, port);
    GM_PROC_WAIT_FOR(gm_proc_has_peer(dir_guard, "car-7") && gm_proc_has_peer(dir_relay, "guard-1"),
                     "the relay links with the guard");

    start_node("officer", dir_officer, 0, port);
    GM_PROC_WAIT_FOR(gm_proc_node_counter(dir_guard, "refusals", "untrusted_org") >= 1,
                     "the guard refuses the officer as untrusted_org");
    GM_PROC_WAIT_FOR(gm_proc_log_has_line(guard, "refused", "untrusted_org"),
                     "the guard logs the refusal");

    j = cli_json(dir_guard, "status");
    cr_expect_geq(gm_proc_json_num2(j, "refusals", "untrusted_org"), 1);
    cr_expect_eq(gm_proc_json_num(j, "links"), 1);
    cr_expect_eq(gm_proc_json_num2(j, "events", "links_up"), 1);
    cr_expect_eq(gm_proc_json_num2(j, "events", "links_down"), 0);
    cJSON_Delete(j);

    j = cli_json(dir_guard, "peers");
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "peers")), 1);
    cr_expect_not_null(json_peer(j, "car-7"), "the trusted link to car-7 is gone");
    cr_expect_null(json_peer(j, "officer-12"), "the guard linked with an untrusted org");
    cr_expect_geq(gm_proc_json_num2(j, "refusals", "untrusted_org"), 1);
    cJSON_Delete(j);

    cr_expect(gm_proc_has_peer(dir_guard, "car-7"));
    finish();
}

/*
 * The guard refuses the officer only after the Noise handshake (its certificate
 * is from an untrusted org), so the officer's dialer saw a link come up and go.
 * Its backoff must still grow: redial_min_ms 100 doubling to 1000 with +-50%
 * jitter allows at most 7 attempts in the 2 s after the first refusal.
 */
Test(daemon, a_dialler_refused_after_the_handshake_backs_off)
{
    int port = gm_proc_free_port();
    uint64_t first, attempts;

    make_identities();
    start_node("guard", dir_guard, port, 0);
    start_node("officer", dir_officer, 0, port);
    GM_PROC_WAIT_FOR(gm_proc_node_counter(dir_guard, "refusals", "untrusted_org") >= 1,
                     "the guard refuses the officer");
    first = gm_proc_node_counter(dir_guard, "refusals", "untrusted_org") +
            gm_proc_node_counter(dir_guard, "refusals", "rate_limited");
    gm_proc_sleep_ms(2000); /* the measurement window */
    gm_proc_check_alive();
    attempts = gm_proc_node_counter(dir_guard, "refusals", "untrusted_org") +
               gm_proc_node_counter(dir_guard, "refusals", "rate_limited") - first;
    cr_expect_leq(attempts, 7,
                  "the refused officer dialled %llu times in 2 s (redial_min_ms %d, "
                  "redial_max_ms %d): its backoff does not grow",
                  (unsigned long long)attempts, REDIAL_MIN_MS, REDIAL_MAX_MS);
    finish();
}

Test(daemon, a_peer_that_vanishes_is_logged_with_a_reason)
{
    int port = gm_proc_free_port();
    gm_daemon_t *relay, *guard;
    static char text[GM_PROC_OUT_MAX];

    make_identities();
    relay = start_node("relay", dir_relay, port, 0);
    guard = start_node("guard", dir_guard, 0, port);
    GM_PROC_WAIT_FOR(gm_proc_has_peer(dir_guard, "car-7"), "the guard links with the relay");
    gm_proc_kill9(relay);
    GM_PROC_WAIT_FOR(gm_proc_log_has_line(guard, "car-7@" ORG_A, "connection closed"),
                     "the guard logs that the relay's connection closed");
    gm_proc_read_text(guard->log, text, sizeof text);
    cr_expect(!gm_proc_has_line(text, "connection closed", "unknown error"),
              "the guard logs the end of the connection as an unknown error:\n%s", text);
    finish();
}

/* ---- one daemon per directory ---- */

Test(daemon, second_daemon_on_the_same_directory_exits_saying_already_running)
{
    int port = gm_proc_free_port();
    char sock[96];
    gm_daemon_t *d;
    static char text[GM_PROC_OUT_MAX];

    make_identities();
    start_node("relay", dir_relay, port, 0);
    d = GM_PROC_SPAWN("relay-twice", dir_relay, "--config", cfg, "--listen", "127.0.0.1:0");
    cr_assert(gm_proc_reap(d, GM_PROC_DEADLINE_MS), "the second daemon is still running");
    gm_proc_read_text(d->log, text, sizeof text);
    cr_expect(d->status > 0 && d->status < 128, "exit status %d:\n%s", d->status, text);
    cr_expect(strstr(text, "already running") != NULL, "stderr:\n%s", text);
    snprintf(sock, sizeof sock, "%s/control.sock", dir_relay);
    cr_expect(gm_proc_exists(sock), "the first daemon's control socket was removed");
    cr_expect_geq(gm_proc_node_links(dir_relay), 0, "the first daemon no longer answers");
    finish();
}

Test(daemon, second_daemon_with_the_same_command_line_exits_saying_already_running)
{
    int port = gm_proc_free_port();
    char addr[32];
    gm_daemon_t *d;
    static char text[GM_PROC_OUT_MAX];

    make_identities();
    gm_proc_addr(addr, port);
    start_node("relay", dir_relay, port, 0);
    d = GM_PROC_SPAWN("relay-twice", dir_relay, "--config", cfg, "--listen", addr);
    cr_assert(gm_proc_reap(d, GM_PROC_DEADLINE_MS), "the second daemon is still running");
    gm_proc_read_text(d->log, text, sizeof text);
    cr_expect(d->status > 0 && d->status < 128, "exit status %d:\n%s", d->status, text);
    cr_expect(strstr(text, "already running") != NULL, "stderr:\n%s", text);
    cr_expect_geq(gm_proc_node_links(dir_relay), 0, "the first daemon no longer answers");
    finish();
}

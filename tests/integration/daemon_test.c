#define _XOPEN_SOURCE 700 /* nftw */
/*
 * End-to-end tests of guardmeshd: every test runs real daemon processes on
 * 127.0.0.1 only, each node in its own directory under a fresh mkdtemp()
 * folder, with identities made by the real `guardmesh ca` and fast link timers
 * (a config file). Nodes are polled through their control sockets (the client
 * library) with short sleeps and a deadline, and inspected with
 * `guardmesh --dir D status|peers --json` as an operator would.
 *
 * Every test ends with finish(): SIGTERM to every daemon still running, a
 * bounded wait, and expectations that each exited 0 and that no daemon's
 * stderr holds a sanitizer report. The fixture's .fini stops whatever is left
 * (SIGTERM, then SIGKILL) and removes the folder, so a failed assertion leaves
 * no process behind; daemons also get PR_SET_PDEATHSIG, so a test killed by
 * its timeout takes them with it.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "node/client.h"

#ifndef GM_BIN_DIR
#error "GM_BIN_DIR must name the directory that holds guardmesh and guardmeshd"
#endif

#define GM_BIN GM_BIN_DIR "/guardmesh"
#define GMD_BIN GM_BIN_DIR "/guardmeshd"

#define MAX_ARGS 24
#define MAX_DAEMONS 16
#define OUT_MAX 65536
#define DEADLINE_MS 10000    /* for anything the tests wait for */
#define STOP_TIMEOUT_MS 5000 /* SIGTERM to exit */
#define POLL_MS 20

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

static const char *const sanitizer_marks[] = {"ERROR: AddressSanitizer", "LeakSanitizer",
                                              "runtime error:"};

/* /tmp/gmd.XXXXXX: CA and node directories, the config, every captured stream. */
static char root[32];
static char ca_a[64], ca_b[64], dir_guard[64], dir_relay[64], dir_officer[64], cfg[64];

struct daemon {
    char name[24];
    char dir[64];
    char log[96]; /* its stderr */
    pid_t pid;    /* 0 once reaped */
    int status;   /* once reaped: exit status, or 128 + signal */
};

static struct daemon daemons[MAX_DAEMONS];
static size_t n_daemons;

/* What one run of the guardmesh CLI produced. */
struct out {
    char cmd[512];
    int status;
    char out[OUT_MAX];
    char err[OUT_MAX];
};

#define RUN(o, ...) run(o, __VA_ARGS__, (const char *)NULL)
#define MUST(...) must(__VA_ARGS__, (const char *)NULL)
#define SPAWN(name, dir, ...) spawn(name, dir, __VA_ARGS__, (const char *)NULL)
#define FAILS(what, also_what, ...)                                                                \
    expect_start_failure(what, also_what, __VA_ARGS__, (const char *)NULL)

/* ---- time ---- */

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- files ---- */

static void in_root(char *out, size_t cap, const char *name)
{
    cr_assert_lt(snprintf(out, cap, "%s/%s", root, name), (int)cap, "path too long: %s", name);
}

/* Reads up to cap - 1 bytes of path into buf (empty if it cannot be read). */
static void read_text(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t got = f != NULL ? fread(buf, 1, cap - 1, f) : 0;

    buf[got] = 0;
    if (f != NULL) {
        fclose(f);
    }
}

static void put_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fputs(text, f) >= 0, true);
    cr_assert_eq(fclose(f), 0);
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* True if one line of text contains both a and b (b may be NULL). */
static bool has_line(const char *text, const char *a, const char *b)
{
    for (const char *line = text; *line != 0;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        char buf[1024];

        snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
        if (strstr(buf, a) != NULL && (b == NULL || strstr(buf, b) != NULL)) {
            return true;
        }
        line += len + (nl != NULL);
    }
    return false;
}

static bool log_has_line(const struct daemon *d, const char *a, const char *b)
{
    static char text[OUT_MAX];

    read_text(d->log, text, sizeof text);
    return has_line(text, a, b);
}

/* ---- processes ---- */

/* Forks and execs argv with stdout and stderr sent to files; dies with the test process. */
static pid_t spawn_process(const char *const *argv, const char *out_path, const char *err_path)
{
    int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int fi = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t parent = getpid(), pid;

    cr_assert(fo >= 0 && fe >= 0 && fi >= 0, "cannot open capture files in %s", root);
    pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
            _exit(126);
        }
        if (dup2(fi, STDIN_FILENO) >= 0 && dup2(fo, STDOUT_FILENO) >= 0 &&
            dup2(fe, STDERR_FILENO) >= 0) {
            execv(argv[0], (char *const *)argv);
        }
        _exit(127);
    }
    close(fo);
    close(fe);
    close(fi);
    return pid;
}

static int decode_status(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Waits up to timeout_ms for d to exit; true (and d->status set) if it did. */
static bool reap(struct daemon *d, unsigned timeout_ms)
{
    uint64_t end = now_ms() + timeout_ms;
    int st;

    while (d->pid != 0) {
        pid_t r = waitpid(d->pid, &st, WNOHANG);
        if (r == d->pid || (r < 0 && errno == ECHILD)) {
            d->status = r == d->pid ? decode_status(st) : -1;
            d->pid = 0;
            break;
        }
        if (now_ms() >= end) {
            return false;
        }
        sleep_ms(5);
    }
    return true;
}

/* Starts guardmeshd [--dir DIR] ARG... (up to NULL); its stderr goes to d->log. */
static struct daemon *vspawn(const char *name, const char *dir, const char *arg, va_list ap)
{
    const char *argv[MAX_ARGS + 4] = {GMD_BIN};
    char out_path[96];
    struct daemon *d;
    int n = 1;

    cr_assert_lt(n_daemons, MAX_DAEMONS, "too many daemons");
    d = &daemons[n_daemons];
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name);
    snprintf(d->dir, sizeof d->dir, "%s", dir != NULL ? dir : "");
    snprintf(d->log, sizeof d->log, "%s/%02zu-%s.stderr", root, n_daemons, name);
    snprintf(out_path, sizeof out_path, "%s/%02zu-%s.stdout", root, n_daemons, name);
    if (dir != NULL) {
        argv[n++] = "--dir";
        argv[n++] = dir;
    }
    for (; arg != NULL; arg = va_arg(ap, const char *)) {
        cr_assert_lt(n, MAX_ARGS + 2, "too many arguments");
        argv[n++] = arg;
    }
    d->status = -1;
    d->pid = spawn_process(argv, out_path, d->log);
    n_daemons++;
    return d;
}

static struct daemon *spawn(const char *name, const char *dir, const char *arg, ...)
{
    struct daemon *d;
    va_list ap;

    va_start(ap, arg);
    d = vspawn(name, dir, arg, ap);
    va_end(ap);
    return d;
}

static void dump_logs(void)
{
    static char text[OUT_MAX];

    for (size_t i = 0; i < n_daemons; i++) {
        read_text(daemons[i].log, text, sizeof text);
        fprintf(stderr, "---- %s (%s) stderr ----\n%s", daemons[i].name, daemons[i].log, text);
    }
}

/*
 * Gives daemons a moment to finish with the control connections this test just
 * closed, so that SIGTERM does not land in the same loop turn. A daemon that
 * stops while a control client is connected hits a bug in node/control.c (see
 * the test sigterm_with_a_control_client_connected_exits_cleanly); that test
 * covers it deterministically, and the other tests are not made flaky by it.
 */
static void settle(void)
{
    sleep_ms(50);
}

/* SIGTERM, then waits; SIGKILL if it does not exit in time. Returns its exit status. */
static int stop_daemon(struct daemon *d)
{
    cr_assert_neq(d->pid, 0, "%s is not running", d->name);
    settle();
    kill(d->pid, SIGTERM);
    if (!reap(d, STOP_TIMEOUT_MS)) {
        kill(d->pid, SIGKILL);
        reap(d, STOP_TIMEOUT_MS);
        cr_assert_fail("%s did not exit within %d ms of SIGTERM", d->name, STOP_TIMEOUT_MS);
    }
    return d->status;
}

static void kill9(struct daemon *d)
{
    cr_assert_neq(d->pid, 0, "%s is not running", d->name);
    kill(d->pid, SIGKILL);
    cr_assert(reap(d, STOP_TIMEOUT_MS), "%s survived SIGKILL", d->name);
}

/* ---- the guardmesh CLI ---- */

static int vrun(struct out *o, const char *arg, va_list ap)
{
    const char *argv[MAX_ARGS + 2] = {GM_BIN};
    char out_path[64], err_path[64];
    struct daemon proc = {.pid = 0};
    int n = 1;

    o->cmd[0] = 0;
    for (; arg != NULL; arg = va_arg(ap, const char *)) {
        cr_assert_lt(n, MAX_ARGS + 1, "too many arguments");
        argv[n++] = arg;
        snprintf(o->cmd + strlen(o->cmd), sizeof o->cmd - strlen(o->cmd), " %s", arg);
    }
    in_root(out_path, sizeof out_path, "cli.stdout");
    in_root(err_path, sizeof err_path, "cli.stderr");
    snprintf(proc.name, sizeof proc.name, "guardmesh");
    proc.pid = spawn_process(argv, out_path, err_path);
    if (!reap(&proc, DEADLINE_MS)) {
        kill(proc.pid, SIGKILL);
        reap(&proc, STOP_TIMEOUT_MS);
        cr_assert_fail("guardmesh%s did not finish within %d ms", o->cmd, DEADLINE_MS);
    }
    o->status = proc.status;
    read_text(out_path, o->out, sizeof o->out);
    read_text(err_path, o->err, sizeof o->err);
    cr_assert_neq(o->status, 127, "cannot run %s", GM_BIN);
    for (size_t i = 0; i < sizeof sanitizer_marks / sizeof sanitizer_marks[0]; i++) {
        cr_expect(strstr(o->err, sanitizer_marks[i]) == NULL,
                  "sanitizer report from guardmesh%s:\n%s", o->cmd, o->err);
    }
    return o->status;
}

static int run(struct out *o, const char *arg, ...)
{
    va_list ap;
    int status;

    va_start(ap, arg);
    status = vrun(o, arg, ap);
    va_end(ap);
    return status;
}

/* Runs guardmesh and requires success with nothing on stderr. */
static void must(const char *arg, ...)
{
    static struct out o;
    va_list ap;

    va_start(ap, arg);
    vrun(&o, arg, ap);
    va_end(ap);
    cr_assert_eq(o.status, 0, "guardmesh%s failed (%d):\n%s", o.cmd, o.status, o.err);
    cr_assert_str_empty(o.err, "guardmesh%s wrote to stderr:\n%s", o.cmd, o.err);
}

/* `guardmesh --dir DIR what --json`, parsed (cJSON_Delete it). */
static cJSON *cli_json(const char *dir, const char *what)
{
    static struct out o;
    cJSON *j;

    RUN(&o, "--dir", dir, what, "--json");
    cr_assert_eq(o.status, 0, "guardmesh%s: status %d:\n%s", o.cmd, o.status, o.err);
    cr_assert_str_empty(o.err, "guardmesh%s wrote to stderr:\n%s", o.cmd, o.err);
    j = cJSON_Parse(o.out);
    cr_assert_not_null(j, "guardmesh%s printed no JSON:\n%s", o.cmd, o.out);
    return j;
}

static const char *json_str(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(item) ? item->valuestring : "(absent)";
}

/* A number member, or -1 when absent. */
static double json_num(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsNumber(item) ? item->valuedouble : -1;
}

static double json_num2(const cJSON *obj, const char *group, const char *key)
{
    return json_num(cJSON_GetObjectItemCaseSensitive(obj, group), key);
}

static const cJSON *json_peer(const cJSON *peers_doc, const char *callsign)
{
    const cJSON *p;

    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(peers_doc, "peers"))
    {
        if (strcmp(json_str(p, "callsign"), callsign) == 0) {
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
    MUST("ca", "init", "--dir", ca_a, "--org", ORG_A);
    MUST("ca", "init", "--dir", ca_b, "--org", ORG_B);
    MUST("ca", "issue", "--ca", ca_a, "--dir", dir_guard, "--callsign", "guard-1", "--role",
         "handheld");
    MUST("ca", "issue", "--ca", ca_a, "--dir", dir_relay, "--callsign", "car-7", "--role", "relay");
    MUST("ca", "issue", "--ca", ca_b, "--dir", dir_officer, "--callsign", "officer-12", "--role",
         "dispatch");

    char b_cert[96], a_cert[96];
    snprintf(b_cert, sizeof b_cert, "%s/org.cert", ca_b);
    snprintf(a_cert, sizeof a_cert, "%s/org.cert", ca_a);
    MUST("ca", "trust", "--dir", dir_relay, "--org-cert", b_cert);
    MUST("ca", "trust", "--dir", dir_officer, "--org-cert", a_cert);
}

/*
 * A free TCP port on 127.0.0.1 for a daemon to listen on. Candidates come from
 * below the kernel's ephemeral range, so the daemons' own outgoing connections
 * (redials while a peer is down) cannot take the port meanwhile; each candidate
 * is checked by binding it. Falls back to a kernel-chosen port.
 */
static int free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    unsigned lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    int fd, port = 0;

    if (f != NULL) {
        if (fscanf(f, "%u %u", &lo, &hi) != 2) {
            lo = 32768;
        }
        fclose(f);
    }
    for (int attempt = 0; attempt < 64; attempt++) {
        int candidate = lo > 12000 ? (int)(lo - 10000 + (unsigned)rand() % 10000) : 0;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sa.sin_port = htons((uint16_t)candidate);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(fd, 0);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
            getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
            port = ntohs(sa.sin_port);
        }
        close(fd);
        if (port != 0) {
            return port;
        }
    }
    cr_assert_fail("no free port on 127.0.0.1");
    return 0;
}

static void addr_of(char out[32], int port)
{
    snprintf(out, 32, "127.0.0.1:%d", port);
}

/* ---- asking a node (client library) ---- */

/* STATUS or PEERS from the node in dir; false if it does not answer. Free *r on success. */
static bool ask(const char *dir, gm_control_op_t op, gm_control_response_t *r)
{
    gm_why_t why;

    if (gm_client_request(dir, NULL, op, r, &why) != 0) {
        return false;
    }
    if (r->error != 0 || (op == GM_OP_STATUS && !r->has_status)) {
        gm_control_response_free(r);
        return false;
    }
    return true;
}

static uint64_t counter(const gm_counter_t *c, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(c[i].name, name) == 0) {
            return c[i].value;
        }
    }
    return 0;
}

/* A status counter ("refusals" or "events") of the node in dir; 0 if it does not answer. */
static uint64_t node_counter(const char *dir, const char *group, const char *name)
{
    gm_control_response_t r;
    uint64_t v;

    if (!ask(dir, GM_OP_STATUS, &r)) {
        return 0;
    }
    v = strcmp(group, "refusals") == 0 ? counter(r.status.refusals, r.status.n_refusals, name)
                                       : counter(r.status.events, r.status.n_events, name);
    gm_control_response_free(&r);
    return v;
}

static long node_links(const char *dir)
{
    gm_control_response_t r;
    long links;

    if (!ask(dir, GM_OP_STATUS, &r)) {
        return -1;
    }
    links = (long)r.status.links;
    gm_control_response_free(&r);
    return links;
}

/* True if the node in dir has a link up to callsign that carried frames both ways. */
static bool has_peer(const char *dir, const char *callsign)
{
    gm_control_response_t r;
    bool found = false;

    if (!ask(dir, GM_OP_PEERS, &r)) {
        return false;
    }
    for (size_t i = 0; i < r.n_peers; i++) {
        const gm_peer_info_t *p = &r.peers[i];
        found |= strcmp(p->callsign, callsign) == 0 && p->frames_in > 0 && p->frames_out > 0;
    }
    gm_control_response_free(&r);
    return found;
}

/* Every daemon not reaped yet is meant to be running: fails at once if one has exited. */
static void check_alive(void)
{
    static char text[OUT_MAX];

    for (size_t i = 0; i < n_daemons; i++) {
        struct daemon *d = &daemons[i];
        if (d->pid != 0 && reap(d, 0)) {
            read_text(d->log, text, sizeof text);
            cr_assert_fail("%s exited unexpectedly with status %d; its stderr:\n%s", d->name,
                           d->status, text);
        }
    }
}

/* Polls cond every POLL_MS until it holds; fails the test after DEADLINE_MS. */
#define WAIT_FOR(cond, what)                                                                       \
    do {                                                                                           \
        uint64_t wait_end_ = now_ms() + DEADLINE_MS;                                               \
        while (!(cond)) {                                                                          \
            check_alive();                                                                         \
            if (now_ms() >= wait_end_) {                                                           \
                dump_logs();                                                                       \
                cr_assert_fail("timed out after %d ms waiting until %s", DEADLINE_MS, what);       \
            }                                                                                      \
            sleep_ms(POLL_MS);                                                                     \
        }                                                                                          \
    } while (0)

/* Waits until d answers on its control socket; fails at once if it exited. */
static void wait_up(struct daemon *d)
{
    gm_control_response_t r;
    uint64_t end = now_ms() + DEADLINE_MS;
    static char text[OUT_MAX];

    for (;;) {
        if (ask(d->dir, GM_OP_STATUS, &r)) {
            gm_control_response_free(&r);
            return;
        }
        if (reap(d, 0)) {
            read_text(d->log, text, sizeof text);
            cr_assert_fail("%s exited with status %d before answering:\n%s", d->name, d->status,
                           text);
        }
        if (now_ms() >= end) {
            dump_logs();
            cr_assert_fail("%s did not answer on %s/control.sock within %d ms", d->name, d->dir,
                           DEADLINE_MS);
        }
        sleep_ms(POLL_MS);
    }
}

/* Starts a node with fast.ini, listening on 127.0.0.1:listen_port (0: any), dialling
 * 127.0.0.1:peer_port unless it is 0; returns once its control socket answers. */
static struct daemon *start_node(const char *name, const char *dir, int listen_port, int peer_port)
{
    char listen[32], peer[32];
    struct daemon *d;

    addr_of(listen, listen_port);
    addr_of(peer, peer_port);
    if (peer_port != 0) {
        d = SPAWN(name, dir, "--config", cfg, "--listen", listen, "--peer", peer);
    } else {
        d = SPAWN(name, dir, "--config", cfg, "--listen", listen);
    }
    wait_up(d);
    return d;
}

/* ---- startup failures ---- */

/*
 * Runs guardmeshd (all arguments given) and requires that it exits on its own,
 * with a non-zero status (not a signal), exactly one line on stderr containing
 * what and also_what (unless NULL). Returns the daemon for further checks.
 */
static struct daemon *expect_start_failure(const char *what, const char *also_what, const char *arg,
                                           ...)
{
    static char text[OUT_MAX];
    struct daemon *d;
    const char *nl;
    va_list ap;

    va_start(ap, arg);
    d = vspawn("failing", NULL, arg, ap);
    va_end(ap);
    if (!reap(d, DEADLINE_MS)) {
        cr_assert_fail("guardmeshd is still running %d ms after starting with a bad setup",
                       DEADLINE_MS);
    }
    read_text(d->log, text, sizeof text);
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
    srand((unsigned)getpid() ^ (unsigned)now_ms());
    snprintf(root, sizeof root, "/tmp/gmd.XXXXXX");
    cr_assert_not_null(mkdtemp(root), "mkdtemp: %s", strerror(errno));
    in_root(ca_a, sizeof ca_a, "acme-ca");
    in_root(ca_b, sizeof ca_b, "police-ca");
    in_root(dir_guard, sizeof dir_guard, "guard");
    in_root(dir_relay, sizeof dir_relay, "relay");
    in_root(dir_officer, sizeof dir_officer, "officer");
    in_root(cfg, sizeof cfg, "fast.ini");
    snprintf(ini, sizeof ini, FAST_INI, REDIAL_MIN_MS, REDIAL_MAX_MS);
    put_text(cfg, ini);
    n_daemons = 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/*
 * Stops every daemon still running: SIGTERM to all, a bounded wait, SIGKILL for
 * any that hangs. With check, expects each to exit 0 and every daemon's stderr
 * (also of those that exited earlier) to hold no sanitizer report.
 */
static void stop_all(bool check)
{
    static char text[OUT_MAX];
    bool running = false;
    uint64_t end;

    for (size_t i = 0; i < n_daemons; i++) {
        running |= daemons[i].pid != 0;
    }
    if (running) {
        settle();
    }
    end = now_ms() + STOP_TIMEOUT_MS;
    for (size_t i = 0; i < n_daemons; i++) {
        if (daemons[i].pid != 0) {
            kill(daemons[i].pid, SIGTERM);
        }
    }
    for (size_t i = 0; i < n_daemons; i++) {
        struct daemon *d = &daemons[i];
        uint64_t now = now_ms();
        if (d->pid == 0) {
            continue;
        }
        if (!reap(d, now < end ? (unsigned)(end - now) : 0)) {
            kill(d->pid, SIGKILL);
            reap(d, STOP_TIMEOUT_MS);
            if (check) {
                cr_expect_fail("%s did not exit within %d ms of SIGTERM (killed)", d->name,
                               STOP_TIMEOUT_MS);
            } else {
                fprintf(stderr, "daemon_test: %s ignored SIGTERM and was killed\n", d->name);
            }
            continue;
        }
        if (check) {
            cr_expect_eq(d->status, 0, "%s exited with status %d after SIGTERM", d->name,
                         d->status);
        }
    }
    for (size_t i = 0; check && i < n_daemons; i++) {
        read_text(daemons[i].log, text, sizeof text);
        for (size_t k = 0; k < sizeof sanitizer_marks / sizeof sanitizer_marks[0]; k++) {
            cr_expect(strstr(text, sanitizer_marks[k]) == NULL, "sanitizer report from %s:\n%s",
                      daemons[i].name, text);
        }
    }
}

/*
 * The last statement of every test. Criterion 2.4 prints a failed expectation
 * from .fini but still counts the test as passed, so the clean-stop and
 * sanitizer checks run here, in the test body.
 */
static void finish(void)
{
    stop_all(true);
}

/* After a failed assertion too: no daemon outlives its test, nothing is left in /tmp. */
static void teardown(void)
{
    stop_all(false);
    if (nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        fprintf(stderr, "daemon_test: cannot remove %s\n", root);
    }
}

TestSuite(daemon, .init = setup, .fini = teardown, .timeout = 60);

/* ---- a mesh of two organisations ---- */

Test(daemon, two_orgs_link_through_the_relay_and_report_peers_and_status)
{
    int port = free_port();
    char relay_addr[32];
    struct out o;
    cJSON *j;
    const cJSON *p, *item;

    make_identities();
    addr_of(relay_addr, port);
    start_node("relay", dir_relay, port, 0);
    start_node("guard", dir_guard, 0, port);
    start_node("officer", dir_officer, 0, port);
    WAIT_FOR(has_peer(dir_relay, "guard-1") && has_peer(dir_relay, "officer-12") &&
                 has_peer(dir_guard, "car-7") && has_peer(dir_officer, "car-7"),
             "the relay links with the guard and the officer");

    /* the relay sees both, inbound, with traffic */
    static const char *const want[][3] = {{"guard-1", ORG_A, "handheld"},
                                          {"officer-12", ORG_B, "dispatch"}};
    j = cli_json(dir_relay, "peers");
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "peers")), 2);
    for (size_t i = 0; i < 2; i++) {
        p = json_peer(j, want[i][0]);
        cr_assert_not_null(p, "relay's peers --json does not list %s", want[i][0]);
        cr_expect_str_eq(json_str(p, "org"), want[i][1]);
        cr_expect_str_eq(json_str(p, "role"), want[i][2]);
        cr_expect(strncmp(json_str(p, "address"), "127.0.0.1:", 10) == 0, "address %s",
                  json_str(p, "address"));
        cr_expect(is_hex(json_str(p, "node_id"), 32), "node_id %s", json_str(p, "node_id"));
        cr_expect(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "inbound")));
        cr_expect_gt(json_num(p, "bytes_in"), 0);
        cr_expect_gt(json_num(p, "bytes_out"), 0);
        cr_expect_gt(json_num(p, "frames_in"), 0);
        cr_expect_gt(json_num(p, "frames_out"), 0);
    }
    cr_expect_eq(json_num2(j, "refusals", "untrusted_org"), 0);
    cJSON_Delete(j);

    /* the guard sees the relay, outbound, at the address it dialled */
    char relay_id[33] = "";
    j = cli_json(dir_guard, "peers");
    p = json_peer(j, "car-7");
    cr_assert_not_null(p, "guard's peers --json does not list car-7");
    cr_expect_str_eq(json_str(p, "org"), ORG_A);
    cr_expect_str_eq(json_str(p, "role"), "relay");
    cr_expect_str_eq(json_str(p, "address"), relay_addr);
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(p, "inbound")));
    snprintf(relay_id, sizeof relay_id, "%s", json_str(p, "node_id"));
    cJSON_Delete(j);

    /* the relay's own status */
    j = cli_json(dir_relay, "status");
    cr_expect(is_hex(json_str(j, "node_id"), 32));
    cr_expect_str_eq(json_str(j, "node_id"), relay_id);
    cr_expect_str_eq(json_str(j, "callsign"), "car-7");
    cr_expect_str_eq(json_str(j, "org"), ORG_A);
    cr_expect_str_eq(json_str(j, "role"), "relay");
    cr_expect_gt(json_num(j, "uptime_ms"), 0);
    cr_expect_eq(json_num(j, "links"), 2);
    item = cJSON_GetObjectItemCaseSensitive(j, "listening");
    cr_expect_eq(cJSON_GetArraySize(item), 1);
    cr_expect(cJSON_IsString(cJSON_GetArrayItem(item, 0)) &&
                  strcmp(cJSON_GetArrayItem(item, 0)->valuestring, relay_addr) == 0,
              "relay's status does not list %s as listening", relay_addr);
    cr_expect_geq(json_num2(j, "events", "links_up"), 2);
    cr_expect_eq(json_num2(j, "refusals", "untrusted_org"), 0);
    cJSON_Delete(j);

    /* a node told to listen on port 0 reports the port it got */
    j = cli_json(dir_officer, "status");
    cr_expect_str_eq(json_str(j, "org"), ORG_B);
    cr_expect_str_eq(json_str(j, "role"), "dispatch");
    item = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "listening"), 0);
    cr_expect(cJSON_IsString(item) && strncmp(item->valuestring, "127.0.0.1:", 10) == 0 &&
                  strcmp(item->valuestring, "127.0.0.1:0") != 0,
              "officer's listening address is not a real port");
    cJSON_Delete(j);

    /* the human-readable table */
    cr_assert_eq(RUN(&o, "--dir", dir_relay, "peers"), 0, "%s", o.err);
    cr_expect(strstr(o.out, "guard-1@" ORG_A) != NULL && strstr(o.out, "officer-12@" ORG_B) != NULL,
              "peers table:\n%s", o.out);
    finish();
}

/* ---- restarts and stopping ---- */

Test(daemon, relay_killed_with_sigkill_is_redialled_within_the_backoff_cap)
{
    int port = free_port();
    struct daemon *relay;
    struct out o;
    uint64_t t0, dt_guard = 0, dt_officer = 0;

    make_identities();
    relay = start_node("relay", dir_relay, port, 0);
    start_node("guard", dir_guard, 0, port);
    start_node("officer", dir_officer, 0, port);
    WAIT_FOR(has_peer(dir_guard, "car-7") && has_peer(dir_officer, "car-7"),
             "the guard and the officer link with the relay");

    kill9(relay);
    cr_expect_eq(relay->status, 128 + SIGKILL);
    /* a stale control.sock is left behind: the CLI still says nothing runs there */
    cr_expect_eq(RUN(&o, "--dir", dir_relay, "status"), 1, "status %d", o.status);
    cr_expect(strstr(o.err, "no node is running") != NULL, "%s", o.err);

    /* let the guard's backoff climb to its cap: 100, 200, 400, 800, then 1000 ms */
    WAIT_FOR(node_links(dir_guard) == 0 && node_counter(dir_guard, "events", "dials_failed") >= 4,
             "the guard has failed to redial the relay 4 times");

    relay = start_node("relay-again", dir_relay, port, 0); /* same directory and port */
    t0 = now_ms();
    while ((dt_guard == 0 || dt_officer == 0) && now_ms() - t0 < DEADLINE_MS) {
        if (dt_guard == 0 && has_peer(dir_guard, "car-7")) {
            dt_guard = now_ms() - t0 + 1;
        }
        if (dt_officer == 0 && has_peer(dir_officer, "car-7")) {
            dt_officer = now_ms() - t0 + 1;
        }
        sleep_ms(POLL_MS / 2);
    }
    cr_assert_neq(dt_guard, 0, "the guard did not relink with the restarted relay in %d ms",
                  DEADLINE_MS);
    cr_assert_neq(dt_officer, 0, "the officer did not relink with the restarted relay in %d ms",
                  DEADLINE_MS);
    cr_expect_leq(dt_guard, REDIAL_WORST_MS + RECONNECT_MARGIN_MS,
                  "the guard took %llu ms to relink (redial_max_ms %d, +-50%% jitter)",
                  (unsigned long long)dt_guard, REDIAL_MAX_MS);
    cr_expect_leq(dt_officer, REDIAL_WORST_MS + RECONNECT_MARGIN_MS,
                  "the officer took %llu ms to relink", (unsigned long long)dt_officer);
    cr_expect_leq(dt_guard, 5000);
    WAIT_FOR(has_peer(dir_relay, "guard-1") && has_peer(dir_relay, "officer-12"),
             "the restarted relay lists both peers");
    cr_expect_geq(node_counter(dir_guard, "events", "links_down"), 1);
    cr_expect_geq(node_counter(dir_guard, "events", "links_up"), 2);
    cr_expect_eq(node_links(dir_guard), 1);
    finish();
}

Test(daemon, sigterm_stops_the_relay_cleanly_and_its_peer_sees_the_link_go_down)
{
    int port = free_port();
    char sock[96];
    struct daemon *relay, *guard;
    struct out o;

    make_identities();
    relay = start_node("relay", dir_relay, port, 0);
    guard = start_node("guard", dir_guard, 0, port);
    WAIT_FOR(has_peer(dir_guard, "car-7") && has_peer(dir_relay, "guard-1"),
             "the guard links with the relay");
    snprintf(sock, sizeof sock, "%s/control.sock", dir_relay);
    cr_assert(exists(sock));

    cr_expect_eq(stop_daemon(relay), 0, "guardmeshd exit status after SIGTERM");
    cr_expect(!exists(sock), "%s is left behind after SIGTERM", sock);
    cr_expect(log_has_line(relay, "car-7@" ORG_A, "stopped"), "the relay did not log 'stopped'");

    WAIT_FOR(node_links(dir_guard) == 0 && node_counter(dir_guard, "events", "links_down") >= 1,
             "the guard counts the link to the relay as down");
    cr_expect(log_has_line(guard, "car-7@" ORG_A, "peer closed the link"),
              "the guard did not log the relay closing the link");
    cr_expect_eq(RUN(&o, "--dir", dir_relay, "status"), 1);
    cr_expect(strstr(o.err, "no node is running") != NULL, "%s", o.err);
    finish();
}

Test(daemon, sigterm_with_a_control_client_connected_exits_cleanly)
{
    struct sockaddr_un sa;
    struct daemon *guard;
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
    sleep_ms(100); /* accepted: an operator's `guardmesh status` that has not asked yet */

    cr_assert_gt(guard->pid, 0);
    kill(guard->pid, SIGTERM);
    if (!reap(guard, 3000)) {
        close(fd);
        kill9(guard); /* hung: no point in another SIGTERM from .fini */
        cr_assert_fail("guardmeshd did not exit within 3 s of SIGTERM while a control client "
                       "was connected");
    }
    close(fd);
    cr_expect_eq(guard->status, 0, "exit status %d after SIGTERM", guard->status);
    cr_expect(!exists(sock), "%s is left behind", sock);
    finish();
}

Test(daemon, status_and_peers_without_a_running_node_say_none_runs_there)
{
    static const char *const cmds[][2] = {
        {"status", NULL}, {"status", "--json"}, {"peers", NULL}, {"peers", "--json"}};
    char nowhere[64];
    struct out o;

    make_identities();
    in_root(nowhere, sizeof nowhere, "no-such-node");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        for (int k = 0; k < 2; k++) {
            const char *dir = k == 0 ? dir_guard : nowhere;
            const char *nl;
            RUN(&o, "--dir", dir, cmds[i][0], cmds[i][1]);
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
    in_root(bad, sizeof bad, "bad.ini");
    put_text(bad, "[link]\ntick_ms = 50\nbogus_key = 3\nkeepalive_ms = 300\n");
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
    int port = free_port();
    char addr[32];

    make_identities();
    addr_of(addr, port);
    start_node("relay", dir_relay, port, 0);
    FAILS(addr, "in use", "--dir", dir_guard, "--config", cfg, "--listen", addr);
    cr_expect_geq(node_links(dir_relay), 0, "the first daemon no longer answers");
    cr_expect_eq(node_links(dir_guard), -1, "the second daemon left a control socket that answers");
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
    struct daemon *d;

    make_identities();
    in_root(pass_a, sizeof pass_a, "pass-a");
    in_root(pass_b, sizeof pass_b, "pass-b");
    in_root(dir, sizeof dir, "sealed");
    snprintf(key, sizeof key, "%s/node.key", dir);
    put_text(pass_a, "correct horse battery staple\n");
    put_text(pass_b, "wrong horse battery staple\n");
    MUST("ca", "issue", "--ca", ca_a, "--dir", dir, "--callsign", "guard-2", "--role", "handheld",
         "--node-passphrase-file", pass_a);
    FAILS(key, "passphrase", "--dir", dir, "--config", cfg, "--listen", "127.0.0.1:0",
          "--passphrase-file", pass_b);
    /* none given */
    FAILS(key, "passphrase", "--dir", dir, "--config", cfg, "--listen", "127.0.0.1:0");
    /* the right one opens it */
    d = SPAWN("sealed", dir, "--config", cfg, "--listen", "127.0.0.1:0", "--passphrase-file",
              pass_a);
    wait_up(d);
    cr_expect_eq(stop_daemon(d), 0);
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
    in_root(dir, sizeof dir, "old");
    snprintf(cert, sizeof cert, "%s/node.cert", dir);
    MUST("ca", "issue", "--ca", ca_a, "--dir", dir, "--callsign", "guard-old", "--role", "handheld",
         "--valid-from", "2020-01-01T00:00:00Z", "--days", "1");
    FAILS(cert, "expired", "--dir", dir, "--config", cfg, "--listen", "127.0.0.1:0");
    finish();
}

/* ---- refusals over real TCP ---- */

Test(daemon, refuses_a_peer_from_an_untrusted_org_and_keeps_its_trusted_link)
{
    int port = free_port();
    struct daemon *guard;
    cJSON *j;

    make_identities(); /* the guard does not trust metro-police */
    guard = start_node("guard", dir_guard, port, 0);
    start_node("relay", dir_relay, 0, port);
    WAIT_FOR(has_peer(dir_guard, "car-7") && has_peer(dir_relay, "guard-1"),
             "the relay links with the guard");

    start_node("officer", dir_officer, 0, port);
    WAIT_FOR(node_counter(dir_guard, "refusals", "untrusted_org") >= 1,
             "the guard refuses the officer as untrusted_org");
    WAIT_FOR(log_has_line(guard, "refused", "untrusted_org"), "the guard logs the refusal");

    j = cli_json(dir_guard, "status");
    cr_expect_geq(json_num2(j, "refusals", "untrusted_org"), 1);
    cr_expect_eq(json_num(j, "links"), 1);
    cr_expect_eq(json_num2(j, "events", "links_up"), 1);
    cr_expect_eq(json_num2(j, "events", "links_down"), 0);
    cJSON_Delete(j);

    j = cli_json(dir_guard, "peers");
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "peers")), 1);
    cr_expect_not_null(json_peer(j, "car-7"), "the trusted link to car-7 is gone");
    cr_expect_null(json_peer(j, "officer-12"), "the guard linked with an untrusted org");
    cr_expect_geq(json_num2(j, "refusals", "untrusted_org"), 1);
    cJSON_Delete(j);

    cr_expect(has_peer(dir_guard, "car-7"));
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
    int port = free_port();
    uint64_t first, attempts;

    make_identities();
    start_node("guard", dir_guard, port, 0);
    start_node("officer", dir_officer, 0, port);
    WAIT_FOR(node_counter(dir_guard, "refusals", "untrusted_org") >= 1,
             "the guard refuses the officer");
    first = node_counter(dir_guard, "refusals", "untrusted_org") +
            node_counter(dir_guard, "refusals", "rate_limited");
    sleep_ms(2000); /* the measurement window */
    check_alive();
    attempts = node_counter(dir_guard, "refusals", "untrusted_org") +
               node_counter(dir_guard, "refusals", "rate_limited") - first;
    cr_expect_leq(attempts, 7,
                  "the refused officer dialled %llu times in 2 s (redial_min_ms %d, "
                  "redial_max_ms %d): its backoff does not grow",
                  (unsigned long long)attempts, REDIAL_MIN_MS, REDIAL_MAX_MS);
    finish();
}

Test(daemon, a_peer_that_vanishes_is_logged_with_a_reason)
{
    int port = free_port();
    struct daemon *relay, *guard;
    static char text[OUT_MAX];

    make_identities();
    relay = start_node("relay", dir_relay, port, 0);
    guard = start_node("guard", dir_guard, 0, port);
    WAIT_FOR(has_peer(dir_guard, "car-7"), "the guard links with the relay");
    kill9(relay);
    WAIT_FOR(log_has_line(guard, "car-7@" ORG_A, "connection closed"),
             "the guard logs that the relay's connection closed");
    read_text(guard->log, text, sizeof text);
    cr_expect(!has_line(text, "connection closed", "unknown error"),
              "the guard logs the end of the connection as an unknown error:\n%s", text);
    finish();
}

/* ---- one daemon per directory ---- */

Test(daemon, second_daemon_on_the_same_directory_exits_saying_already_running)
{
    int port = free_port();
    char sock[96];
    struct daemon *d;
    static char text[OUT_MAX];

    make_identities();
    start_node("relay", dir_relay, port, 0);
    d = SPAWN("relay-twice", dir_relay, "--config", cfg, "--listen", "127.0.0.1:0");
    cr_assert(reap(d, DEADLINE_MS), "the second daemon is still running");
    read_text(d->log, text, sizeof text);
    cr_expect(d->status > 0 && d->status < 128, "exit status %d:\n%s", d->status, text);
    cr_expect(strstr(text, "already running") != NULL, "stderr:\n%s", text);
    snprintf(sock, sizeof sock, "%s/control.sock", dir_relay);
    cr_expect(exists(sock), "the first daemon's control socket was removed");
    cr_expect_geq(node_links(dir_relay), 0, "the first daemon no longer answers");
    finish();
}

Test(daemon, second_daemon_with_the_same_command_line_exits_saying_already_running)
{
    int port = free_port();
    char addr[32];
    struct daemon *d;
    static char text[OUT_MAX];

    make_identities();
    addr_of(addr, port);
    start_node("relay", dir_relay, port, 0);
    d = SPAWN("relay-twice", dir_relay, "--config", cfg, "--listen", addr);
    cr_assert(reap(d, DEADLINE_MS), "the second daemon is still running");
    read_text(d->log, text, sizeof text);
    cr_expect(d->status > 0 && d->status < 128, "exit status %d:\n%s", d->status, text);
    cr_expect(strstr(text, "already running") != NULL, "stderr:\n%s", text);
    cr_expect_geq(node_links(dir_relay), 0, "the first daemon no longer answers");
    finish();
}

#define _XOPEN_SOURCE 700 /* nftw */
#include "tests/support/procs.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef GM_BIN_DIR
#error "GM_BIN_DIR must name the directory that holds guardmesh and guardmeshd"
#endif

#define GM_BIN GM_BIN_DIR "/guardmesh"
#define GMD_BIN GM_BIN_DIR "/guardmeshd"

static const char *const sanitizer_marks[] = {"ERROR: AddressSanitizer", "LeakSanitizer",
                                              "runtime error:"};

/* Per test process (Criterion forks one per test). */
static char root[32];
static gm_daemon_t daemons[GM_PROC_MAX_DAEMONS];
static size_t n_daemons;

/* ---- time and files ---- */

uint64_t gm_proc_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void gm_proc_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

const char *gm_proc_root(void)
{
    return root;
}

void gm_proc_path(char *out, size_t cap, const char *name)
{
    cr_assert_lt(snprintf(out, cap, "%s/%s", root, name), (int)cap, "path too long: %s", name);
}

void gm_proc_read_text(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t got = f != NULL ? fread(buf, 1, cap - 1, f) : 0;

    buf[got] = 0;
    if (f != NULL) {
        fclose(f);
    }
}

void gm_proc_put_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fputs(text, f) >= 0, true);
    cr_assert_eq(fclose(f), 0);
}

bool gm_proc_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

bool gm_proc_has_line(const char *text, const char *a, const char *b)
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

bool gm_proc_log_has_line(const gm_daemon_t *d, const char *a, const char *b)
{
    static char text[GM_PROC_OUT_MAX];

    gm_proc_read_text(d->log, text, sizeof text);
    return gm_proc_has_line(text, a, b);
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

bool gm_proc_reap(gm_daemon_t *d, unsigned timeout_ms)
{
    uint64_t end = gm_proc_now_ms() + timeout_ms;
    int st;

    while (d->pid != 0) {
        pid_t r = waitpid(d->pid, &st, WNOHANG);
        if (r == d->pid || (r < 0 && errno == ECHILD)) {
            d->status = r == d->pid ? decode_status(st) : -1;
            d->pid = 0;
            break;
        }
        if (gm_proc_now_ms() >= end) {
            return false;
        }
        gm_proc_sleep_ms(5);
    }
    return true;
}

gm_daemon_t *gm_proc_vspawn(const char *name, const char *dir, const char *arg, va_list ap)
{
    const char *argv[GM_PROC_MAX_ARGS + 4] = {GMD_BIN};
    char out_path[96];
    gm_daemon_t *d;
    int n = 1;

    cr_assert_lt(n_daemons, GM_PROC_MAX_DAEMONS, "too many daemons");
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
        cr_assert_lt(n, GM_PROC_MAX_ARGS + 2, "too many arguments");
        argv[n++] = arg;
    }
    d->status = -1;
    d->pid = spawn_process(argv, out_path, d->log);
    n_daemons++;
    return d;
}

gm_daemon_t *gm_proc_spawn(const char *name, const char *dir, const char *arg, ...)
{
    gm_daemon_t *d;
    va_list ap;

    va_start(ap, arg);
    d = gm_proc_vspawn(name, dir, arg, ap);
    va_end(ap);
    return d;
}

void gm_proc_dump_logs(void)
{
    static char text[GM_PROC_OUT_MAX];

    for (size_t i = 0; i < n_daemons; i++) {
        gm_proc_read_text(daemons[i].log, text, sizeof text);
        fprintf(stderr, "---- %s (%s) stderr ----\n%s", daemons[i].name, daemons[i].log, text);
    }
}

/*
 * Gives daemons a moment to finish with the control connections the test just
 * closed, so that SIGTERM does not land in the same loop turn (the daemon
 * suite's sigterm_with_a_control_client_connected_exits_cleanly covers that
 * case deterministically).
 */
static void settle(void)
{
    gm_proc_sleep_ms(50);
}

int gm_proc_stop(gm_daemon_t *d)
{
    cr_assert_neq(d->pid, 0, "%s is not running", d->name);
    settle();
    kill(d->pid, SIGTERM);
    if (!gm_proc_reap(d, GM_PROC_STOP_MS)) {
        kill(d->pid, SIGKILL);
        gm_proc_reap(d, GM_PROC_STOP_MS);
        cr_assert_fail("%s did not exit within %d ms of SIGTERM", d->name, GM_PROC_STOP_MS);
    }
    return d->status;
}

void gm_proc_kill9(gm_daemon_t *d)
{
    cr_assert_neq(d->pid, 0, "%s is not running", d->name);
    kill(d->pid, SIGKILL);
    cr_assert(gm_proc_reap(d, GM_PROC_STOP_MS), "%s survived SIGKILL", d->name);
}

void gm_proc_check_alive(void)
{
    static char text[GM_PROC_OUT_MAX];

    for (size_t i = 0; i < n_daemons; i++) {
        gm_daemon_t *d = &daemons[i];
        if (d->pid != 0 && gm_proc_reap(d, 0)) {
            gm_proc_read_text(d->log, text, sizeof text);
            cr_assert_fail("%s exited unexpectedly with status %d; its stderr:\n%s", d->name,
                           d->status, text);
        }
    }
}

void gm_proc_wait_up(gm_daemon_t *d)
{
    gm_control_response_t r;
    uint64_t end = gm_proc_now_ms() + GM_PROC_DEADLINE_MS;
    static char text[GM_PROC_OUT_MAX];

    for (;;) {
        if (gm_proc_ask(d->dir, GM_OP_STATUS, &r)) {
            gm_control_response_free(&r);
            return;
        }
        if (gm_proc_reap(d, 0)) {
            gm_proc_read_text(d->log, text, sizeof text);
            cr_assert_fail("%s exited with status %d before answering:\n%s", d->name, d->status,
                           text);
        }
        if (gm_proc_now_ms() >= end) {
            gm_proc_dump_logs();
            cr_assert_fail("%s did not answer on %s/control.sock within %d ms", d->name, d->dir,
                           GM_PROC_DEADLINE_MS);
        }
        gm_proc_sleep_ms(GM_PROC_POLL_MS);
    }
}

gm_daemon_t *gm_proc_start_node(const char *name, const char *dir, const char *cfg, int listen_port,
                                int peer_port)
{
    char listen[32], peer[32];
    gm_daemon_t *d;

    gm_proc_addr(listen, listen_port);
    gm_proc_addr(peer, peer_port);
    if (peer_port != 0) {
        d = GM_PROC_SPAWN(name, dir, "--config", cfg, "--listen", listen, "--peer", peer);
    } else {
        d = GM_PROC_SPAWN(name, dir, "--config", cfg, "--listen", listen);
    }
    gm_proc_wait_up(d);
    return d;
}

/* ---- the folder ---- */

void gm_proc_setup(const char *prefix)
{
    cr_assert_lt(strlen(prefix), 9, "prefix too long");
    snprintf(root, sizeof root, "/tmp/%s.XXXXXX", prefix);
    cr_assert_not_null(mkdtemp(root), "mkdtemp: %s", strerror(errno));
    n_daemons = 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* SIGTERM to every daemon still running, then a bounded wait; with check, judges each. */
static void stop_all(bool check)
{
    static char text[GM_PROC_OUT_MAX];
    bool running = false;
    uint64_t end;

    for (size_t i = 0; i < n_daemons; i++) {
        running |= daemons[i].pid != 0;
    }
    if (running) {
        settle();
    }
    end = gm_proc_now_ms() + GM_PROC_STOP_MS;
    for (size_t i = 0; i < n_daemons; i++) {
        if (daemons[i].pid != 0) {
            kill(daemons[i].pid, SIGTERM);
        }
    }
    for (size_t i = 0; i < n_daemons; i++) {
        gm_daemon_t *d = &daemons[i];
        uint64_t now = gm_proc_now_ms();
        if (d->pid == 0) {
            continue;
        }
        if (!gm_proc_reap(d, now < end ? (unsigned)(end - now) : 0)) {
            kill(d->pid, SIGKILL);
            gm_proc_reap(d, GM_PROC_STOP_MS);
            if (check) {
                cr_expect_fail("%s did not exit within %d ms of SIGTERM (killed)", d->name,
                               GM_PROC_STOP_MS);
            } else {
                fprintf(stderr, "procs: %s ignored SIGTERM and was killed\n", d->name);
            }
            continue;
        }
        if (check) {
            cr_expect_eq(d->status, 0, "%s exited with status %d after SIGTERM", d->name,
                         d->status);
        }
    }
    for (size_t i = 0; check && i < n_daemons; i++) {
        gm_proc_read_text(daemons[i].log, text, sizeof text);
        for (size_t k = 0; k < sizeof sanitizer_marks / sizeof sanitizer_marks[0]; k++) {
            cr_expect(strstr(text, sanitizer_marks[k]) == NULL, "sanitizer report from %s:\n%s",
                      daemons[i].name, text);
        }
    }
}

void gm_proc_finish(void)
{
    stop_all(true);
}

void gm_proc_teardown(void)
{
    stop_all(false);
    if (root[0] != 0 && nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        fprintf(stderr, "procs: cannot remove %s\n", root);
    }
}

/* ---- the guardmesh CLI ---- */

static int vrun(gm_cli_run_t *o, const char *arg, va_list ap)
{
    const char *argv[GM_PROC_MAX_ARGS + 2] = {GM_BIN};
    char out_path[64], err_path[64];
    gm_daemon_t proc = {.pid = 0};
    int n = 1;

    o->cmd[0] = 0;
    for (; arg != NULL; arg = va_arg(ap, const char *)) {
        cr_assert_lt(n, GM_PROC_MAX_ARGS + 1, "too many arguments");
        argv[n++] = arg;
        snprintf(o->cmd + strlen(o->cmd), sizeof o->cmd - strlen(o->cmd), " %s", arg);
    }
    gm_proc_path(out_path, sizeof out_path, "cli.stdout");
    gm_proc_path(err_path, sizeof err_path, "cli.stderr");
    snprintf(proc.name, sizeof proc.name, "guardmesh");
    proc.pid = spawn_process(argv, out_path, err_path);
    if (!gm_proc_reap(&proc, GM_PROC_DEADLINE_MS)) {
        kill(proc.pid, SIGKILL);
        gm_proc_reap(&proc, GM_PROC_STOP_MS);
        cr_assert_fail("guardmesh%s did not finish within %d ms", o->cmd, GM_PROC_DEADLINE_MS);
    }
    o->status = proc.status;
    gm_proc_read_text(out_path, o->out, sizeof o->out);
    gm_proc_read_text(err_path, o->err, sizeof o->err);
    cr_assert_neq(o->status, 127, "cannot run %s", GM_BIN);
    for (size_t i = 0; i < sizeof sanitizer_marks / sizeof sanitizer_marks[0]; i++) {
        cr_expect(strstr(o->err, sanitizer_marks[i]) == NULL,
                  "sanitizer report from guardmesh%s:\n%s", o->cmd, o->err);
    }
    return o->status;
}

int gm_proc_cli(gm_cli_run_t *o, const char *arg, ...)
{
    va_list ap;
    int status;

    va_start(ap, arg);
    status = vrun(o, arg, ap);
    va_end(ap);
    return status;
}

void gm_proc_cli_must(const char *arg, ...)
{
    static gm_cli_run_t o;
    va_list ap;

    va_start(ap, arg);
    vrun(&o, arg, ap);
    va_end(ap);
    cr_assert_eq(o.status, 0, "guardmesh%s failed (%d):\n%s", o.cmd, o.status, o.err);
    cr_assert_str_empty(o.err, "guardmesh%s wrote to stderr:\n%s", o.cmd, o.err);
}

cJSON *gm_proc_cli_json(const char *arg, ...)
{
    static gm_cli_run_t o;
    va_list ap;
    cJSON *j;

    va_start(ap, arg);
    vrun(&o, arg, ap);
    va_end(ap);
    cr_assert_eq(o.status, 0, "guardmesh%s: status %d:\n%s", o.cmd, o.status, o.err);
    cr_assert_str_empty(o.err, "guardmesh%s wrote to stderr:\n%s", o.cmd, o.err);
    j = cJSON_Parse(o.out);
    cr_assert_not_null(j, "guardmesh%s printed no JSON:\n%s", o.cmd, o.out);
    return j;
}

const char *gm_proc_json_str(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(item) ? item->valuestring : "(absent)";
}

double gm_proc_json_num(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsNumber(item) ? item->valuedouble : -1;
}

double gm_proc_json_num2(const cJSON *obj, const char *group, const char *key)
{
    return gm_proc_json_num(cJSON_GetObjectItemCaseSensitive(obj, group), key);
}

/* ---- network ---- */

/*
 * Candidates come from below the kernel's ephemeral range, so the daemons' own
 * outgoing connections (redials while a peer is down) cannot take the port
 * meanwhile; each candidate is checked by binding it. Falls back to a
 * kernel-chosen port. The candidates come from libsodium, not rand(): test
 * processes started together by Criterion could seed rand() alike and pick
 * the same port.
 */
int gm_proc_free_port(void)
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
        int candidate = lo > 12000 ? (int)(lo - 10000 + randombytes_uniform(10000)) : 0;
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

void gm_proc_addr(char out[32], int port)
{
    snprintf(out, 32, "127.0.0.1:%d", port);
}

/* ---- asking a node ---- */

bool gm_proc_ask(const char *dir, gm_control_op_t op, gm_control_response_t *r)
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

uint64_t gm_proc_counter(const gm_counter_t *c, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(c[i].name, name) == 0) {
            return c[i].value;
        }
    }
    return 0;
}

uint64_t gm_proc_node_counter(const char *dir, const char *group, const char *name)
{
    gm_control_response_t r;
    uint64_t v;

    if (!gm_proc_ask(dir, GM_OP_STATUS, &r)) {
        return 0;
    }
    v = strcmp(group, "refusals") == 0
            ? gm_proc_counter(r.status.refusals, r.status.n_refusals, name)
            : gm_proc_counter(r.status.events, r.status.n_events, name);
    gm_control_response_free(&r);
    return v;
}

long gm_proc_node_links(const char *dir)
{
    gm_control_response_t r;
    long links;

    if (!gm_proc_ask(dir, GM_OP_STATUS, &r)) {
        return -1;
    }
    links = (long)r.status.links;
    gm_control_response_free(&r);
    return links;
}

bool gm_proc_has_peer(const char *dir, const char *callsign)
{
    gm_control_response_t r;
    bool found = false;

    if (!gm_proc_ask(dir, GM_OP_PEERS, &r)) {
        return false;
    }
    for (size_t i = 0; i < r.n_peers; i++) {
        const gm_peer_info_t *p = &r.peers[i];
        found |= strcmp(p->callsign, callsign) == 0 && p->frames_in > 0 && p->frames_out > 0;
    }
    gm_control_response_free(&r);
    return found;
}

/* ---- the mesh layer of a running node, through the CLI ---- */

double gm_proc_mesh_counter(const char *dir, const char *name)
{
    cJSON *j = GM_PROC_JSON("--dir", dir, "status", "--json");
    double v = gm_proc_json_num2(cJSON_GetObjectItemCaseSensitive(j, "mesh"), "counters", name);

    cJSON_Delete(j);
    return v;
}

const cJSON *gm_proc_route_to(const cJSON *doc, const char *callsign)
{
    const cJSON *r;

    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(doc, "routes"))
    {
        if (strcmp(gm_proc_json_str(r, "callsign"), callsign) == 0) {
            return r;
        }
    }
    return NULL;
}

bool gm_proc_route_reachable(const cJSON *route)
{
    return route != NULL && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(route, "reachable"));
}

bool gm_proc_routes_reach(const char *dir, const char *callsign, const char *next_hop)
{
    cJSON *j = GM_PROC_JSON("--dir", dir, "routes", "--json");
    const cJSON *r = gm_proc_route_to(j, callsign);
    bool ok = gm_proc_route_reachable(r) &&
              (next_hop == NULL || strcmp(gm_proc_json_str(r, "next_hop"), next_hop) == 0);

    cJSON_Delete(j);
    return ok;
}

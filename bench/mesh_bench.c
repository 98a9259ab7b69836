/*
 * mesh_bench: the mesh layer's custody path, on loopback only (127.0.0.1).
 *
 *   throughput  Three processes: the source A (this process), the relay R and
 *               the destination D. R and D are forked before anything else;
 *               each has its own libuv loop, node directory and store, and runs
 *               a node with the mesh layer as guardmeshd does, over TCP on a port
 *               picked by binding port 0 (sent back through a pipe). A dials R,
 *               R dials D: A -> R -> D, one relay hop, custody durable at every
 *               hop (SQLite group commit with fsync; custody acks wait for it).
 *               A sends N bundles of BODY_LEN bytes (the bundle's index and the
 *               phase in the first 12 bytes) with gm_mesh_send, at most BATCH
 *               per loop turn from a uv_idle handle. An array of send and
 *               delivery times (CLOCK_MONOTONIC, ns), mapped MAP_SHARED before
 *               the fork, gets the send time of bundle i from A when it calls
 *               gm_mesh_send and the delivery time from D's deliver callback.
 *               Rate: N / (last delivery - first send). A run ends when A's
 *               store is empty again (every bundle acknowledged by R) and R's
 *               too (acknowledged by D); R and D measure their CPU time
 *               (getrusage RUSAGE_SELF) and store commits from the start of the
 *               run to that point, and send them back through their pipe.
 *   latency     The same processes afterwards: one bundle at a time, the next
 *               sent when D has delivered the previous one (D wakes A through a
 *               pipe); end-to-end latency send -> delivery over two hops.
 *   sync        One process, two nodes X and Y over loopback TCP. Before their
 *               mesh layers start, each store gets S broadcast bundles (64-byte
 *               bodies, lifetime a week), C of them the same in both; then Y
 *               dials X, anti-entropy runs, and the run ends when both hold
 *               2S - C bundles, or when nothing has arrived for QUIET_MS (a
 *               Bloom filter's false positives are bundles one sync does not
 *               push). Filter bytes and pushes from the mesh counters; link
 *               bytes each way from the nodes' control sockets (GM_OP_PEERS).
 *
 * One unreported warm-up of WARMUP_BUNDLES bundles precedes the throughput
 * runs (it also waits for the routes). Identities are deterministic (fixed
 * seeds); bundle ids are random (gm_mesh_send) or fixed (sync). Temporary
 * directories go under /tmp and are removed at the end. The children die with
 * the parent (PR_SET_PDEATHSIG) and are killed and reaped on every error path.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "bench/bench_common.h"
#include "node/client.h"
#include "node/fileio.h"
#include "node/mesh.h"
#include "node/node.h"

#define BODY_LEN 1024u
#define SYNC_BODY_LEN 64u
#define SYNC_LIFETIME (7u * 86400u)
#define DEFAULT_BUNDLES 20000u
#define DEFAULT_RUNS 3u
#define DEFAULT_LAT_BUNDLES 2000u
#define DEFAULT_SYNC_BUNDLES 100000u
#define DEFAULT_SYNC_COMMON 99000u
#define WARMUP_BUNDLES 1000u
#define BATCH 256u
#define MAX_BUNDLES 2000000u
#define MAX_RUNS 101u
#define ORIGIN_RATE 10000000u
#define MIN_QUOTA (256ull << 20)
#define RUN_TIMEOUT_MS 120000u
#define SETUP_TIMEOUT_MS 20000u
#define QUIET_MS 1500u
#define SETTLE_MS 300u
#define ORG_NAME "bench-org"
#define ROOT_CREATED 1000u

/* ---- shared with the children: mapped before the fork ---- */

typedef struct {
    _Atomic uint64_t delivered;   /* bundles of the current phase delivered at D */
    _Atomic uint64_t expect;      /* bundles in the current phase */
    _Atomic uint32_t phase;       /* D counts bundles of this phase only */
    _Atomic uint32_t notify_each; /* D wakes A on every delivery, not only the last */
    _Atomic uint64_t stray;       /* deliveries D did not count: another phase, a duplicate */
    uint64_t cap;                 /* entries of each array */
    uint64_t ts[];                /* send_ns[cap], then deliver_ns[cap] */
} shared_t;

static uint64_t *send_ns(shared_t *sh)
{
    return sh->ts;
}

static uint64_t *deliver_ns(shared_t *sh)
{
    return sh->ts + sh->cap;
}

/* Parent -> child commands and child -> parent reports: fixed size, below PIPE_BUF. */
enum { CMD_PEER = 1, CMD_START, CMD_STOP, CMD_QUIT };
enum { MSG_READY = 1, MSG_STARTED, MSG_STOPPED, MSG_ERROR };
enum { ROLE_RELAY, ROLE_DEST, N_CHILDREN };
static const char *const role_names[N_CHILDREN] = {"relay", "destination"};

typedef struct {
    int32_t op;
    uint16_t port;
} cmd_t;

typedef struct {
    int32_t kind;
    uint16_t port;
    uint8_t id[GM_ID_LEN];
    double cpu_s;
    uint64_t commits;
    char text[256];
} report_t;

/* ---- one process's loop and failure ---- */

typedef struct {
    uv_loop_t loop;
    uv_timer_t tick; /* wakes run_until's checks */
    bool failed;
    char msg[512];
    int stopped;
} bench_t;

static void fail(bench_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(bench_t *b, const char *fmt, ...)
{
    va_list ap;

    if (b->failed) {
        return;
    }
    b->failed = true;
    va_start(ap, fmt);
    vsnprintf(b->msg, sizeof b->msg, fmt, ap);
    va_end(ap);
    uv_stop(&b->loop);
}

static uint64_t now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void on_tick(uv_timer_t *h)
{
    (void)h;
}

static int bench_init(bench_t *b)
{
    memset(b, 0, sizeof *b);
    if (uv_loop_init(&b->loop) != 0 || uv_timer_init(&b->loop, &b->tick) != 0) {
        return -1;
    }
    b->tick.data = b;
    return 0;
}

/* Closes the tick and runs the loop empty; -1 if handles were left open. */
static int bench_close(bench_t *b)
{
    uint64_t t0 = now_ns();

    uv_close((uv_handle_t *)&b->tick, NULL);
    /* not UV_RUN_DEFAULT: after a failure a node may still hold handles */
    while (uv_run(&b->loop, UV_RUN_NOWAIT) != 0 && now_ns() - t0 < 5000000000u) {
        usleep(1000);
    }
    return uv_loop_close(&b->loop) == 0 ? 0 : -1;
}

/* Runs the loop until pred(ctx) or the timeout (a failure naming what). */
static int run_until(bench_t *b, bool (*pred)(void *), void *ctx, uint32_t timeout_ms,
                     const char *what)
{
    uint64_t t0 = now_ns();

    uv_timer_start(&b->tick, on_tick, 2, 2);
    while (!b->failed && !pred(ctx)) {
        uv_run(&b->loop, UV_RUN_ONCE);
        if (now_ns() - t0 > (uint64_t)timeout_ms * 1000000u) {
            fail(b, "%s: not done within %u ms", what, timeout_ms);
        }
    }
    uv_timer_stop(&b->tick);
    return b->failed ? -1 : 0;
}

/* Runs the loop for ms milliseconds. */
static void run_for(bench_t *b, uint32_t ms)
{
    uint64_t t0 = now_ns();

    uv_timer_start(&b->tick, on_tick, 2, 2);
    while (!b->failed && now_ns() - t0 < (uint64_t)ms * 1000000u) {
        uv_run(&b->loop, UV_RUN_ONCE);
    }
    uv_timer_stop(&b->tick);
}

/* ---- nodes with a mesh layer ---- */

typedef struct {
    gm_node_t *node;
    gm_mesh_t *mesh;
    bool started;
    uint8_t id[GM_ID_LEN];
    char dir[GM_PATH_MAX];
} mnode_t;

/* base/name with node.key, node.cert and the organisation's root in trust/; fixed keys. */
static int make_node_dir(bench_t *b, const char *base, const char *name, uint64_t serial,
                         mnode_t *n)
{
    static const uint8_t org_seed[GM_SEED_LEN] = {'g', 'm', '-', 'm', 'e', 's', 'h',
                                                  '-', 'b', 'e', 'n', 'c', 'h'};
    uint64_t now = (uint64_t)time(NULL);
    uint8_t secret[GM_NODE_SECRET_LEN];
    char path[GM_PATH_MAX];
    gm_node_keys_t k;
    gm_cert_body_t t;
    gm_root_t root;
    gm_cert_t cert;
    gm_why_t why = {{0}};
    int err;

    for (size_t i = 0; i < sizeof secret; i++) {
        secret[i] = (uint8_t)(serial * 97u + i * 31u + 1u);
    }
    if (gm_root_create(org_seed, ORG_NAME, ROOT_CREATED, &root) != 0 ||
        gm_node_keys_from_secret(&k, secret) != 0) {
        fail(b, "%s: cannot make the root record or the keys", name);
        return -1;
    }
    memset(&t, 0, sizeof t);
    snprintf(t.callsign, sizeof t.callsign, "%s", name);
    t.role = GM_ROLE_RELAY;
    t.serial = serial;
    memcpy(t.sign_pk, k.sign_pk, GM_KEY_LEN);
    memcpy(t.link_pk, k.link_pk, GM_KEY_LEN);
    memcpy(t.e2e_pk, k.e2e_pk, GM_KEY_LEN);
    t.not_before = now - 3600;
    t.not_after = now + 86400;
    err = gm_cert_issue(org_seed, &root, &t, &cert);
    if (err == 0) {
        memcpy(n->id, cert.body.node_id, GM_ID_LEN);
        err = gm_path_join(n->dir, sizeof n->dir, base, name);
    }
    err = err ? err : gm_dir_ensure(n->dir);
    err = err ? err : gm_path_join(path, sizeof path, n->dir, GM_DIR_TRUST);
    err = err ? err : gm_dir_ensure(path);
    err = err ? err : gm_path_join(path, sizeof path, n->dir, GM_FILE_NODE_KEY);
    err = err ? err : gm_key_save(path, GM_KEY_NODE, secret, sizeof secret, NULL, 0, true, &why);
    err = err ? err : gm_path_join(path, sizeof path, n->dir, GM_FILE_NODE_CERT);
    err = err ? err : gm_blob_save(path, cert.encoded, cert.encoded_len, false, &why);
    err = err ? err : gm_trust_root_path(n->dir, &root, path, sizeof path);
    err = err ? err : gm_blob_save(path, root.encoded, root.encoded_len, false, &why);
    sodium_memzero(secret, sizeof secret);
    gm_node_keys_wipe(&k);
    if (err != 0) {
        fail(b, "%s/%s: %s", base, name, why.msg[0] != 0 ? why.msg : gm_strerror(err));
        return -1;
    }
    return 0;
}

static uint64_t quota_for(uint64_t bundles)
{
    uint64_t q = bundles * 2048u;

    return q > MIN_QUOTA ? q : MIN_QUOTA;
}

/* A node as guardmeshd runs it, with the mesh options of this benchmark. */
static void node_config(gm_node_config_t *c, uint64_t quota, bool listen, uint16_t peer_port)
{
    gm_config_defaults(c);
    c->n_listen = 0;
    c->n_peers = 0;
    if (listen) {
        snprintf(c->listen[0], GM_ADDR_LEN, "127.0.0.1:0");
        c->n_listen = 1;
    }
    if (peer_port != 0) {
        snprintf(c->peers[0], GM_ADDR_LEN, "127.0.0.1:%u", peer_port);
        c->n_peers = 1;
    }
    snprintf(c->control_socket, sizeof c->control_socket, "none");
    c->discovery = false;
    c->log_level = GM_LOG_WARN;
    c->origin_rate = ORIGIN_RATE;
    c->store_max_bytes = quota;
    c->store_max_per_origin = quota;
    c->store_max_per_link = quota;
}

/* gm_node_new and gm_mesh_new: the store opens here. */
static int mnode_open(bench_t *b, mnode_t *n, const gm_node_config_t *cfg)
{
    gm_node_env_t env = {.loop = &b->loop, .log = stderr};
    gm_why_t why = {{0}};

    if (gm_node_new(&env, n->dir, cfg, &n->node, &why) != 0 ||
        gm_mesh_new(n->node, &n->mesh, &why) != 0) {
        fail(b, "%s: %s", n->dir, why.msg);
        return -1;
    }
    return 0;
}

static int mnode_start(bench_t *b, mnode_t *n)
{
    gm_why_t why = {{0}};

    if (gm_node_start(n->node, &why) != 0) {
        fail(b, "%s: %s", n->dir, why.msg);
        return -1;
    }
    n->started = true;
    return 0;
}

static uint16_t mnode_port(const mnode_t *n)
{
    const char *a = gm_node_listen_addr(n->node), *c = strrchr(a, ':');

    if (strncmp(a, "127.0.0.1:", 10) != 0 || c == NULL) {
        return 0;
    }
    return (uint16_t)strtoul(c + 1, NULL, 10);
}

static void on_node_stopped(gm_node_t *node, void *arg)
{
    (void)node;
    ((bench_t *)arg)->stopped++;
}

/* Stops the started nodes, then frees every mesh and node (the loop is left to run them out). */
static void mnodes_close(bench_t *b, mnode_t *const *ns, size_t k)
{
    uint64_t t0 = now_ns();
    int want = 0;

    b->stopped = 0;
    for (size_t i = 0; i < k; i++) {
        if (ns[i]->started) {
            gm_node_stop(ns[i]->node, on_node_stopped, b);
            want++;
        }
    }
    uv_timer_start(&b->tick, on_tick, 2, 2);
    while (b->stopped < want && now_ns() - t0 < (uint64_t)SETUP_TIMEOUT_MS * 1000000u) {
        uv_run(&b->loop, UV_RUN_ONCE);
    }
    uv_timer_stop(&b->tick);
    if (b->stopped < want) {
        fail(b, "nodes did not stop within %u ms", SETUP_TIMEOUT_MS);
        return; /* their handles are still open: not freed */
    }
    for (size_t i = 0; i < k; i++) {
        gm_mesh_free(ns[i]->mesh);
        gm_node_free(ns[i]->node);
        ns[i]->mesh = NULL;
        ns[i]->node = NULL;
        ns[i]->started = false;
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* ---- pipes ---- */

/* Reads exactly len bytes within timeout_ms: 0, or -1 (timeout, EOF, error). */
static int read_full(int fd, void *buf, size_t len, uint32_t timeout_ms)
{
    uint8_t *p = buf;
    uint64_t t0 = now_ns();

    while (len > 0) {
        struct pollfd pfd = {fd, POLLIN, 0};
        uint64_t spent_ms = (now_ns() - t0) / 1000000u;
        ssize_t n;

        if (spent_ms >= timeout_ms) {
            return -1;
        }
        if (poll(&pfd, 1, (int)(timeout_ms - spent_ms)) < 0 && errno != EINTR) {
            return -1;
        }
        if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
            continue;
        }
        n = read(fd, p, len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Small records go in one write (below PIPE_BUF). */
static int write_all(int fd, const void *buf, size_t len)
{
    ssize_t n;

    do {
        n = write(fd, buf, len);
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)len ? 0 : -1;
}

/* ============ the children: relay R and destination D ============ */

typedef struct {
    bench_t b;
    int role;
    mnode_t n;
    shared_t *sh;
    int up, down, notify;
    uv_pipe_t cmds;
    uv_timer_t settle;
    uint8_t cbuf[sizeof(cmd_t)];
    size_t clen;
    struct rusage r0;
    uint64_t commits0, last_commits, quiet_since;
    bool cmds_open;
} proc_t;

static void proc_report(proc_t *p, report_t *r)
{
    if (write_all(p->up, r, sizeof *r) != 0) {
        fail(&p->b, "cannot report to the parent: %s", strerror(errno));
    }
}

/* D: the delivery time of bundle i of the current phase; wakes A when asked to. */
static void on_delivered(void *ctx, const gm_bundle_t *bd)
{
    proc_t *p = ctx;
    shared_t *sh = p->sh;
    uint64_t t = now_ns(), i, n;
    uint32_t phase;

    if (bd->body_len != BODY_LEN) {
        atomic_fetch_add(&sh->stray, 1);
        return;
    }
    memcpy(&i, bd->body, sizeof i);
    memcpy(&phase, bd->body + 8, sizeof phase);
    if (phase != atomic_load(&sh->phase) || i >= sh->cap || deliver_ns(sh)[i] != 0) {
        atomic_fetch_add(&sh->stray, 1);
        return;
    }
    deliver_ns(sh)[i] = t;
    n = atomic_fetch_add(&sh->delivered, 1) + 1;
    if (atomic_load(&sh->notify_each) || n == atomic_load(&sh->expect)) {
        if (write(p->notify, "d", 1) < 0 && errno != EAGAIN) {
            fail(&p->b, "cannot wake the source: %s", strerror(errno));
        }
    }
}

/* After CMD_STOP: the run ends once the store is empty and no commit came for 20 ms. */
static void on_settle(uv_timer_t *h)
{
    proc_t *p = h->data;
    gm_store_stats_t st;
    uint64_t t = now_ns();
    struct rusage r1;
    report_t r;

    gm_mesh_store_stats(p->n.mesh, &st);
    if (st.bundles != 0 || st.commits != p->last_commits) {
        p->last_commits = st.commits;
        p->quiet_since = t;
        return;
    }
    if (t - p->quiet_since < 20000000u) {
        return;
    }
    uv_timer_stop(h);
    getrusage(RUSAGE_SELF, &r1);
    memset(&r, 0, sizeof r);
    r.kind = MSG_STOPPED;
    r.cpu_s = bench_cpu_s(&p->r0, &r1);
    r.commits = st.commits - p->commits0;
    proc_report(p, &r);
}

static void proc_command(proc_t *p, const cmd_t *c)
{
    gm_store_stats_t st;
    report_t r;

    switch (c->op) {
    case CMD_START:
        gm_mesh_store_stats(p->n.mesh, &st);
        p->commits0 = st.commits;
        getrusage(RUSAGE_SELF, &p->r0);
        memset(&r, 0, sizeof r);
        r.kind = MSG_STARTED;
        proc_report(p, &r);
        break;
    case CMD_STOP:
        p->last_commits = UINT64_MAX;
        p->quiet_since = now_ns();
        uv_timer_start(&p->settle, on_settle, 2, 2);
        break;
    case CMD_QUIT:
        uv_stop(&p->b.loop);
        break;
    default:
        fail(&p->b, "unknown command %d", (int)c->op);
        break;
    }
}

static void on_cmd_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    proc_t *p = h->data;

    (void)suggested;
    *buf = uv_buf_init((char *)p->cbuf + p->clen, (unsigned)(sizeof p->cbuf - p->clen));
}

static void on_cmd_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    proc_t *p = s->data;
    cmd_t c;

    (void)buf;
    if (nread < 0) { /* the parent is gone: stop */
        uv_read_stop(s);
        uv_stop(&p->b.loop);
        return;
    }
    p->clen += (size_t)nread;
    if (p->clen == sizeof p->cbuf) {
        memcpy(&c, p->cbuf, sizeof c);
        p->clen = 0;
        proc_command(p, &c);
    }
}

/* Starts this child's node: D listens, R listens and dials D. */
static int proc_setup(proc_t *p, const char *base, uint64_t quota)
{
    gm_node_config_t cfg;
    report_t r;
    cmd_t c = {0, 0};

    if (p->role == ROLE_RELAY &&
        (read_full(p->down, &c, sizeof c, SETUP_TIMEOUT_MS) != 0 || c.op != CMD_PEER)) {
        fail(&p->b, "no address of the destination from the parent");
        return -1;
    }
    if (make_node_dir(&p->b, base, p->role == ROLE_RELAY ? "relay" : "dest",
                      p->role == ROLE_RELAY ? 2 : 3, &p->n) != 0) {
        return -1;
    }
    node_config(&cfg, quota, true, c.port);
    if (mnode_open(&p->b, &p->n, &cfg) != 0) {
        return -1;
    }
    if (p->role == ROLE_DEST) {
        gm_mesh_set_deliver_cb(p->n.mesh, on_delivered, p);
    }
    if (mnode_start(&p->b, &p->n) != 0) {
        return -1;
    }
    memset(&r, 0, sizeof r);
    r.kind = MSG_READY;
    r.port = mnode_port(&p->n);
    memcpy(r.id, p->n.id, GM_ID_LEN);
    if (r.port == 0) {
        fail(&p->b, "listens on \"%s\", not 127.0.0.1", gm_node_listen_addr(p->n.node));
        return -1;
    }
    proc_report(p, &r);
    if (uv_pipe_init(&p->b.loop, &p->cmds, 0) != 0) {
        fail(&p->b, "cannot read the parent's commands");
        return -1;
    }
    p->cmds_open = true;
    if (uv_pipe_open(&p->cmds, p->down) != 0 ||
        uv_read_start((uv_stream_t *)&p->cmds, on_cmd_alloc, on_cmd_read) != 0) {
        fail(&p->b, "cannot read the parent's commands");
        return -1;
    }
    return 0;
}

static int child_main(int role, const char *base, uint64_t quota, shared_t *sh, int up, int down,
                      int notify)
{
    static proc_t proc;
    proc_t *p = &proc;
    mnode_t *ns[1] = {&p->n};
    report_t r;

    if (sodium_init() < 0 || bench_init(&p->b) != 0) {
        return 1;
    }
    p->role = role;
    p->sh = sh;
    p->up = up;
    p->down = down;
    p->notify = notify;
    uv_timer_init(&p->b.loop, &p->settle);
    p->settle.data = p;
    p->cmds.data = p;
    if (proc_setup(p, base, quota) == 0) {
        uv_run(&p->b.loop, UV_RUN_DEFAULT); /* until CMD_QUIT, the parent's end, or a failure */
    }
    if (p->b.failed) {
        memset(&r, 0, sizeof r);
        r.kind = MSG_ERROR;
        snprintf(r.text, sizeof r.text, "%.250s", p->b.msg);
        (void)write_all(p->up, &r, sizeof r);
    }
    mnodes_close(&p->b, ns, 1);
    if (p->cmds_open) {
        uv_close((uv_handle_t *)&p->cmds, NULL);
    }
    uv_close((uv_handle_t *)&p->settle, NULL);
    if (bench_close(&p->b) != 0 || p->b.failed) {
        return 1;
    }
    return 0;
}

/* ============ the parent: source A ============ */

typedef struct {
    pid_t pid;
    int up, down; /* the parent's ends */
} child_ref_t;

typedef struct {
    double wall_s, relay_cpu_s, dest_cpu_s, src_cpu_s;
    uint64_t relay_commits, dest_commits;
    double lat_p50_us, lat_p99_us;
} tput_run_t;

typedef struct {
    double p50_us, p99_us, mean_us, max_us;
} lat_run_t;

typedef struct {
    bench_t b;
    mnode_t a;
    shared_t *sh;
    child_ref_t *kids;
    gm_dest_t dst;
    uv_pipe_t notify;
    uv_idle_t pump;
    uv_signal_t chld; /* a child that exits during the phases fails the benchmark at once */
    uint64_t n, sent;
    bool one_by_one;
    uint8_t body[BODY_LEN];
    char nbuf[64];
} src_t;

static int send_one(src_t *s)
{
    uint64_t i = s->sent;
    uint32_t phase = atomic_load(&s->sh->phase);
    int err;

    memcpy(s->body, &i, sizeof i);
    memcpy(s->body + 8, &phase, sizeof phase);
    send_ns(s->sh)[i] = now_ns();
    err = gm_mesh_send(s->a.mesh, &s->dst, GM_PRIO_NORMAL, 0, 0, s->body, BODY_LEN, NULL);
    if (err != 0) {
        fail(&s->b, "gm_mesh_send: %s", gm_store_strerror(err));
        return -1;
    }
    s->sent++;
    return 0;
}

/* At most BATCH bundles per loop turn. */
static void on_pump(uv_idle_t *h)
{
    src_t *s = h->data;

    for (unsigned k = 0; k < BATCH && s->sent < s->n; k++) {
        if (send_one(s) != 0) {
            break;
        }
    }
    if (s->sent == s->n || s->b.failed) {
        uv_idle_stop(h);
    }
}

static void on_notify_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    src_t *s = h->data;

    (void)suggested;
    *buf = uv_buf_init(s->nbuf, sizeof s->nbuf);
}

/* D delivered (the last bundle, or in the latency phase each one): send the next. */
static void on_notify(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    src_t *s = st->data;

    (void)buf;
    if (nread < 0) {
        uv_read_stop(st);
        fail(&s->b, "the destination closed its pipe: %s", uv_strerror((int)nread));
        return;
    }
    if (s->one_by_one && s->sent < s->n && atomic_load(&s->sh->delivered) == s->sent) {
        (void)send_one(s);
    }
}

static bool all_delivered(void *ctx)
{
    src_t *s = ctx;

    return atomic_load(&s->sh->delivered) >= s->n;
}

static bool store_empty(void *ctx)
{
    src_t *s = ctx;
    gm_store_stats_t st;

    gm_mesh_store_stats(s->a.mesh, &st);
    return st.bundles == 0;
}

static void phase_begin(src_t *s, uint64_t n, bool one_by_one)
{
    shared_t *sh = s->sh;

    memset(send_ns(sh), 0, n * sizeof(uint64_t));
    memset(deliver_ns(sh), 0, n * sizeof(uint64_t));
    atomic_store(&sh->delivered, 0);
    atomic_store(&sh->expect, n);
    atomic_store(&sh->notify_each, one_by_one ? 1u : 0u);
    atomic_fetch_add(&sh->phase, 1);
    s->n = n;
    s->sent = 0;
    s->one_by_one = one_by_one;
}

static int send_cmd(src_t *s, int role, int op, uint16_t port)
{
    cmd_t c = {op, port};

    if (write_all(s->kids[role].down, &c, sizeof c) != 0) {
        fail(&s->b, "%s: cannot send a command: %s", role_names[role], strerror(errno));
        return -1;
    }
    return 0;
}

static int read_report(bench_t *b, child_ref_t *k, int role, int kind, uint32_t timeout_ms,
                       report_t *r)
{
    if (read_full(k->up, r, sizeof *r, timeout_ms) != 0) {
        fail(b, "%s: no report within %u ms (did it exit?)", role_names[role], timeout_ms);
        return -1;
    }
    if (r->kind == MSG_ERROR) {
        r->text[sizeof r->text - 1] = 0;
        fail(b, "%s: %s", role_names[role], r->text);
        return -1;
    }
    if (r->kind != kind) {
        fail(b, "%s: report %d, expected %d", role_names[role], (int)r->kind, kind);
        return -1;
    }
    return 0;
}

/* One command to both children, then both answers. */
static int children_cmd(src_t *s, int op, int kind, report_t rep[N_CHILDREN])
{
    for (int c = 0; c < N_CHILDREN; c++) {
        if (send_cmd(s, c, op, 0) != 0) {
            return -1;
        }
    }
    for (int c = 0; c < N_CHILDREN; c++) {
        if (read_report(&s->b, &s->kids[c], c, kind, SETUP_TIMEOUT_MS, &rep[c]) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Nearest rank of a sorted array. */
static double pct(const double *v, size_t n, double p)
{
    size_t k = (size_t)(p * (double)n + 0.999999);

    return v[k == 0 ? 0 : k - 1];
}

/* Latencies (µs) of the phase's bundles, sorted; with their mean. */
static int latencies(src_t *s, uint64_t n, lat_run_t *out)
{
    double *v = malloc(n * sizeof *v), sum = 0;

    if (v == NULL) {
        fail(&s->b, "out of memory");
        return -1;
    }
    for (uint64_t i = 0; i < n; i++) {
        v[i] = (double)(deliver_ns(s->sh)[i] - send_ns(s->sh)[i]) / 1e3;
        sum += v[i];
    }
    qsort(v, n, sizeof *v, bench_cmp_double);
    out->p50_us = pct(v, n, 0.50);
    out->p99_us = pct(v, n, 0.99);
    out->max_us = v[n - 1];
    out->mean_us = sum / (double)n;
    free(v);
    return 0;
}

/* RUN_TIMEOUT_MS, and a millisecond per bundle beyond that. */
static uint32_t run_timeout(uint64_t n)
{
    return RUN_TIMEOUT_MS + (uint32_t)n;
}

/* A's store empties once R acknowledged custody of every bundle. */
static int drain(src_t *s)
{
    return run_until(&s->b, store_empty, s, run_timeout(s->n), "custody handed on by the source");
}

static int tput_run(src_t *s, uint64_t n, tput_run_t *out)
{
    report_t rep[N_CHILDREN];
    struct rusage r0, r1;
    uint64_t last = 0;
    lat_run_t lat;

    phase_begin(s, n, false);
    if (children_cmd(s, CMD_START, MSG_STARTED, rep) != 0) {
        return -1;
    }
    getrusage(RUSAGE_SELF, &r0);
    uv_idle_start(&s->pump, on_pump);
    if (run_until(&s->b, all_delivered, s, run_timeout(n), "throughput run") != 0 ||
        drain(s) != 0) {
        return -1;
    }
    getrusage(RUSAGE_SELF, &r1);
    if (children_cmd(s, CMD_STOP, MSG_STOPPED, rep) != 0 || latencies(s, n, &lat) != 0) {
        return -1;
    }
    for (uint64_t i = 0; i < n; i++) {
        last = deliver_ns(s->sh)[i] > last ? deliver_ns(s->sh)[i] : last;
    }
    out->wall_s = (double)(last - send_ns(s->sh)[0]) / 1e9;
    out->src_cpu_s = bench_cpu_s(&r0, &r1);
    out->relay_cpu_s = rep[ROLE_RELAY].cpu_s;
    out->relay_commits = rep[ROLE_RELAY].commits;
    out->dest_cpu_s = rep[ROLE_DEST].cpu_s;
    out->dest_commits = rep[ROLE_DEST].commits;
    out->lat_p50_us = lat.p50_us;
    out->lat_p99_us = lat.p99_us;
    return 0;
}

static int lat_run(src_t *s, uint64_t n, lat_run_t *out)
{
    phase_begin(s, n, true);
    if (send_one(s) != 0 ||
        run_until(&s->b, all_delivered, s, run_timeout(n), "latency run") != 0 || drain(s) != 0) {
        return -1;
    }
    return latencies(s, n, out);
}

/* ---- options and results ---- */

typedef struct {
    unsigned long bundles, runs, lat_bundles, lat_runs, sync_bundles, sync_common, sync_runs;
    bool json, tput, lat, sync;
} opts_t;

typedef struct {
    double time_s, time_up_s;
    uint64_t held_x, held_y, expect;
    uint64_t filter_xy, filter_yx, filters_x, filters_y, pushed_xy, pushed_yx;
    uint64_t link_xy, link_yx, dup_x, dup_y;
    double prefill_s;
} sync_run_t;

typedef struct {
    tput_run_t tput[MAX_RUNS];
    lat_run_t lat[MAX_RUNS];
    sync_run_t sync[MAX_RUNS];
    size_t encoded_len;
    uint64_t stray;
    char fs[32];
} results_t;

/* The source's side: waits for the children, starts A, runs every phase. */
static int source_run(src_t *s, const opts_t *o, const char *base, results_t *res)
{
    gm_node_config_t cfg;
    report_t rd, rr;
    tput_run_t warm;

    if (read_report(&s->b, &s->kids[ROLE_DEST], ROLE_DEST, MSG_READY, SETUP_TIMEOUT_MS, &rd) ||
        send_cmd(s, ROLE_RELAY, CMD_PEER, rd.port) != 0 ||
        read_report(&s->b, &s->kids[ROLE_RELAY], ROLE_RELAY, MSG_READY, SETUP_TIMEOUT_MS, &rr)) {
        return -1;
    }
    s->dst.kind = GM_DST_NODE;
    memcpy(s->dst.id, rd.id, GM_ID_LEN);
    if (make_node_dir(&s->b, base, "source", 1, &s->a) != 0) {
        return -1;
    }
    node_config(&cfg, quota_for(o->bundles + WARMUP_BUNDLES), false, rr.port);
    if (mnode_open(&s->b, &s->a, &cfg) != 0 || mnode_start(&s->b, &s->a) != 0) {
        return -1;
    }
    if (tput_run(s, WARMUP_BUNDLES, &warm) != 0) {
        return -1;
    }
    for (size_t r = 0; o->tput && r < o->runs; r++) {
        if (tput_run(s, o->bundles, &res->tput[r]) != 0) {
            return -1;
        }
        if (!o->json) {
            fprintf(stderr, "  throughput run %zu: %.0f bundles/s\n", r + 1,
                    (double)o->bundles / res->tput[r].wall_s);
        }
    }
    for (size_t r = 0; o->lat && r < o->lat_runs; r++) {
        if (lat_run(s, o->lat_bundles, &res->lat[r]) != 0) {
            return -1;
        }
        if (!o->json) {
            fprintf(stderr, "  latency run %zu: p50 %.0f us end to end\n", r + 1,
                    res->lat[r].p50_us);
        }
    }
    res->stray = atomic_load(&s->sh->stray);
    return 0;
}

/* A child exited while the phases run: its report says why, if it could send one. */
static void on_child_exit(uv_signal_t *h, int signum)
{
    src_t *s = h->data;
    report_t r;

    (void)signum;
    for (int c = 0; c < N_CHILDREN && !s->b.failed; c++) {
        struct pollfd pfd = {s->kids[c].up, POLLIN, 0};
        if (poll(&pfd, 1, 0) == 1 && read_full(s->kids[c].up, &r, sizeof r, 100) == 0 &&
            r.kind == MSG_ERROR) {
            r.text[sizeof r.text - 1] = 0;
            fail(&s->b, "%s: %s", role_names[c], r.text);
        }
    }
    fail(&s->b, "a child process exited during the benchmark");
}

static void kill_children(child_ref_t *kids)
{
    for (int c = 0; c < N_CHILDREN; c++) {
        if (kids[c].pid > 0) {
            kill(kids[c].pid, SIGKILL);
            (void)waitpid(kids[c].pid, NULL, 0);
            kids[c].pid = 0;
        }
    }
}

/* CMD_QUIT, up to SETUP_TIMEOUT_MS for each to exit, then SIGKILL. 0 if both exited 0. */
static int reap_children(src_t *s)
{
    int rc = 0;

    for (int c = 0; c < N_CHILDREN; c++) {
        cmd_t q = {CMD_QUIT, 0};
        if (s->kids[c].pid > 0) {
            (void)write_all(s->kids[c].down, &q, sizeof q);
        }
    }
    for (int c = 0; c < N_CHILDREN; c++) {
        uint64_t t0 = now_ns();
        int st = 0;
        pid_t w = 0;

        while (s->kids[c].pid > 0 && (w = waitpid(s->kids[c].pid, &st, WNOHANG)) == 0 &&
               now_ns() - t0 < (uint64_t)SETUP_TIMEOUT_MS * 1000000u) {
            usleep(5000);
        }
        if (s->kids[c].pid > 0 && w == s->kids[c].pid) {
            s->kids[c].pid = 0;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "mesh_bench: the %s exited with status %d\n", role_names[c], st);
                rc = -1;
            }
        }
    }
    kill_children(s->kids); /* those that did not exit */
    return rc;
}

/* ---- the throughput and latency phases: fork first ---- */

typedef struct {
    int up[2], down[2];
} child_pipes_t;

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* Forks R and D; returns in the parent with kids[] and the notify pipe's read end. */
static int spawn(child_ref_t kids[N_CHILDREN], int *notify_rd, shared_t *sh, const char *base,
                 uint64_t quota)
{
    child_pipes_t p[N_CHILDREN];
    int nfd[2] = {-1, -1}, all = 0;
    pid_t parent = getpid();

    memset(p, 0xff, sizeof p);
    for (int c = 0; c < N_CHILDREN; c++) {
        all |= pipe(p[c].up) | pipe(p[c].down);
    }
    all |= pipe(nfd);
    if (all != 0) {
        fprintf(stderr, "mesh_bench: pipe: %s\n", strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    for (int c = 0; c < N_CHILDREN; c++) {
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "mesh_bench: fork: %s\n", strerror(errno));
            kill_children(kids);
            return -1;
        }
        if (pid == 0) {
            int up = p[c].up[1], down = p[c].down[0], notify = c == ROLE_DEST ? nfd[1] : -1;
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
                _exit(1);
            }
            for (int k = 0; k < N_CHILDREN; k++) { /* every end but this child's own */
                for (int e = 0; e < 2; e++) {
                    if (p[k].up[e] != up) {
                        close(p[k].up[e]);
                    }
                    if (p[k].down[e] != down) {
                        close(p[k].down[e]);
                    }
                }
            }
            close(nfd[0]);
            if (notify < 0) {
                close(nfd[1]);
            } else {
                fcntl(notify, F_SETFL, fcntl(notify, F_GETFL) | O_NONBLOCK);
            }
            _exit(child_main(c, base, quota, sh, up, down, notify));
        }
        kids[c].pid = pid;
        kids[c].up = p[c].up[0];
        kids[c].down = p[c].down[1];
    }
    for (int c = 0; c < N_CHILDREN; c++) {
        close_fd(&p[c].up[1]);
        close_fd(&p[c].down[0]);
    }
    close_fd(&nfd[1]);
    *notify_rd = nfd[0];
    return 0;
}

/* The source's loop around source_run; the children are reaped (or killed) before it returns. */
static int source_main(src_t *s, const opts_t *o, const char *base, int notify_rd, results_t *res)
{
    mnode_t *ns[1] = {&s->a};
    int rc = -1;

    if (sodium_init() < 0 || bench_init(&s->b) != 0) {
        fprintf(stderr, "mesh_bench: cannot initialise libsodium or libuv\n");
        kill_children(s->kids);
        close(notify_rd);
        return -1;
    }
    uv_idle_init(&s->b.loop, &s->pump);
    uv_pipe_init(&s->b.loop, &s->notify, 0);
    uv_signal_init(&s->b.loop, &s->chld);
    s->pump.data = s->notify.data = s->chld.data = s;
    if (uv_pipe_open(&s->notify, notify_rd) != 0 ||
        uv_read_start((uv_stream_t *)&s->notify, on_notify_alloc, on_notify) != 0 ||
        uv_signal_start(&s->chld, on_child_exit, SIGCHLD) != 0) {
        fail(&s->b, "cannot watch the destination's pipe or the children");
    }
    if (!s->b.failed && source_run(s, o, base, res) == 0) {
        rc = 0;
    }
    uv_signal_stop(&s->chld);
    if (s->b.failed) {
        kill_children(s->kids); /* at once: whatever state they are in */
    }
    uv_idle_stop(&s->pump);
    uv_read_stop((uv_stream_t *)&s->notify);
    mnodes_close(&s->b, ns, 1);
    rc = reap_children(s) != 0 || s->b.failed ? -1 : rc;
    if (s->b.failed) {
        fprintf(stderr, "mesh_bench: %s\n", s->b.msg);
    }
    uv_close((uv_handle_t *)&s->pump, NULL);
    uv_close((uv_handle_t *)&s->notify, NULL); /* closes notify_rd */
    uv_close((uv_handle_t *)&s->chld, NULL);
    if (bench_close(&s->b) != 0) {
        fprintf(stderr, "mesh_bench: handles left open on the source's loop\n");
        rc = -1;
    }
    return rc;
}

/* The throughput and latency phases: the shared map, the children, then the source. */
static int procs_main(const opts_t *o, const char *base, results_t *res)
{
    static src_t src;
    child_ref_t kids[N_CHILDREN] = {{0, -1, -1}, {0, -1, -1}};
    uint64_t cap = o->bundles > o->lat_bundles ? o->bundles : o->lat_bundles;
    size_t map_len;
    shared_t *sh;
    int notify_rd = -1, rc;

    cap = cap > WARMUP_BUNDLES ? cap : WARMUP_BUNDLES;
    map_len = sizeof(shared_t) + 2 * cap * sizeof(uint64_t);
    sh = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        fprintf(stderr, "mesh_bench: mmap: %s\n", strerror(errno));
        return -1;
    }
    sh->cap = cap;
    rc = spawn(kids, &notify_rd, sh, base, quota_for(o->bundles + WARMUP_BUNDLES));
    if (rc == 0) {
        src.sh = sh;
        src.kids = kids;
        rc = source_main(&src, o, base, notify_rd, res);
    }
    for (int c = 0; c < N_CHILDREN; c++) {
        close_fd(&kids[c].up);
        close_fd(&kids[c].down);
    }
    munmap(sh, map_len);
    return rc;
}

/* ============ anti-entropy: two nodes in one process ============ */

typedef struct {
    bench_t b;
    mnode_t x, y;
    uv_check_t watch;
    uint64_t expect, t0, t_up, t_last, held_x, held_y;
    bool up;
} sync_t;

typedef struct {
    uv_work_t req;
    const char *dir;
    const uint8_t *peer;
    int err;
    bool done;
    gm_why_t why;
    uint64_t bytes_out, bytes_in;
} peers_query_t;

enum { TAG_COMMON = 0xc0, TAG_X = 0xa1, TAG_Y = 0xb2 };

/* Broadcast bundle i of a set (tag): its id is BLAKE2b(tag || i), its body 64 bytes. */
static void sync_bundle(gm_bundle_t *bd, uint8_t *body, uint8_t tag, uint64_t i,
                        const uint8_t src[GM_ID_LEN], uint64_t now)
{
    uint8_t in[9];

    in[0] = tag;
    memcpy(in + 1, &i, 8);
    memset(bd, 0, sizeof *bd);
    crypto_generichash(bd->id, GM_ID_LEN, in, sizeof in, NULL, 0);
    memcpy(bd->src, src, GM_ID_LEN);
    bd->dst.kind = GM_DST_ALL;
    bd->created = now;
    bd->lifetime = SYNC_LIFETIME;
    bd->hop_limit = 8;
    bd->priority = GM_PRIO_NORMAL;
    for (size_t k = 0; k < SYNC_BODY_LEN; k++) {
        body[k] = (uint8_t)(i * 131u + k + tag);
    }
    bd->body = body;
    bd->body_len = SYNC_BODY_LEN;
}

/* Puts count bundles of one set (tag, from src) into dir/store.db, committed every 20,000. */
static int prefill(bench_t *b, const char *dir, const gm_node_config_t *cfg, uint8_t tag,
                   const uint8_t src[GM_ID_LEN], uint64_t count, uint64_t now)
{
    gm_store_limits_t lim;
    uint8_t body[SYNC_BODY_LEN], enc[GM_BUNDLE_HEADER_MAX + SYNC_BODY_LEN + 16];
    char path[GM_PATH_MAX];
    gm_store_t *st = NULL;
    gm_why_t why = {{0}};
    gm_bundle_t bd;
    uint64_t gen;
    size_t len;
    int err;

    gm_store_limits_default(&lim); /* then the node's quotas, as gm_mesh_new opens it */
    lim.max_total = cfg->store_max_bytes;
    lim.max_per_origin = cfg->store_max_per_origin;
    lim.max_bundle = cfg->max_bundle;
    err = gm_path_join(path, sizeof path, dir, GM_FILE_STORE);
    err = err ? err : gm_store_new(path, &lim, &st, &why);
    for (uint64_t i = 0; err == 0 && i < count; i++) {
        sync_bundle(&bd, body, tag, i, src, now);
        err = gm_wire_bundle_encode(&bd, enc, sizeof enc, &len);
        err = err ? err : gm_store_put(st, &bd, enc, len, now, &gen);
        if (err == 0 && (i + 1) % 20000 == 0) {
            err = gm_store_commit(st) < 0 ? GM_EIO : 0;
        }
    }
    if (err == 0 && gm_store_commit(st) < 0) {
        err = GM_EIO;
    }
    gm_store_free(st);
    if (err != 0) {
        fail(b, "%s: prefill: %s", path, why.msg[0] ? why.msg : gm_store_strerror(err));
        return -1;
    }
    return 0;
}

/* Copies a closed store (store.db, and its WAL if one was left) to another node directory. */
static int copy_store(bench_t *b, const char *from, const char *to)
{
    static const char *const files[] = {GM_FILE_STORE, GM_FILE_STORE "-wal"};
    char src[GM_PATH_MAX], dst[GM_PATH_MAX];
    uint8_t *data;
    size_t len;
    int err = 0;

    for (size_t i = 0; err == 0 && i < sizeof files / sizeof files[0]; i++) {
        err = gm_path_join(src, sizeof src, from, files[i]);
        err = err ? err : gm_path_join(dst, sizeof dst, to, files[i]);
        err = err ? err : gm_file_read(src, 1u << 30, &data, &len);
        if (err == -ENOENT && i > 0) {
            err = 0; /* no WAL left: everything is in store.db */
            continue;
        }
        if (err == 0) {
            err = gm_file_write_atomic(dst, data, len, 0600, 1);
            free(data);
        }
    }
    if (err != 0) {
        fail(b, "copying %s to %s: %s", src, dst, gm_strerror(err));
        return -1;
    }
    return 0;
}

static void on_watch(uv_check_t *h)
{
    sync_t *s = h->data;
    gm_store_stats_t sx, sy;
    uint64_t t = now_ns();

    if (!s->up && gm_node_has_link(s->x.node, s->y.id) && gm_node_has_link(s->y.node, s->x.id)) {
        s->up = true;
        s->t_up = s->t_last = t;
    }
    gm_mesh_store_stats(s->x.mesh, &sx);
    gm_mesh_store_stats(s->y.mesh, &sy);
    if (sx.bundles != s->held_x || sy.bundles != s->held_y) {
        s->held_x = sx.bundles;
        s->held_y = sy.bundles;
        s->t_last = t;
    }
}

static bool sync_done(void *ctx)
{
    sync_t *s = ctx;

    return (s->held_x == s->expect && s->held_y == s->expect) ||
           (s->up && now_ns() - s->t_last >= (uint64_t)QUIET_MS * 1000000u);
}

static void do_query(uv_work_t *w)
{
    peers_query_t *q = w->data;
    gm_control_response_t resp;

    memset(&resp, 0, sizeof resp);
    q->err = gm_client_request(q->dir, NULL, GM_OP_PEERS, &resp, &q->why);
    if (q->err != 0) {
        return;
    }
    q->err = GM_ENOENT;
    for (size_t i = 0; i < resp.n_peers; i++) {
        if (memcmp(resp.peers[i].node_id, q->peer, GM_ID_LEN) == 0) {
            q->bytes_out = resp.peers[i].bytes_out;
            q->bytes_in = resp.peers[i].bytes_in;
            q->err = 0;
        }
    }
    gm_control_response_free(&resp);
}

static void after_query(uv_work_t *w, int status)
{
    peers_query_t *q = w->data;

    q->err = status != 0 ? status : q->err;
    q->done = true;
}

static bool queries_done(void *ctx)
{
    peers_query_t *q = ctx;

    return q[0].done && q[1].done;
}

/* The link's bytes each way, from both ends' control sockets (blocking clients on the pool). */
static int link_bytes(sync_t *s, sync_run_t *out)
{
    peers_query_t q[2];

    memset(q, 0, sizeof q);
    q[0].dir = s->x.dir;
    q[0].peer = s->y.id;
    q[1].dir = s->y.dir;
    q[1].peer = s->x.id;
    for (int i = 0; i < 2; i++) {
        q[i].req.data = &q[i];
        if (uv_queue_work(&s->b.loop, &q[i].req, do_query, after_query) != 0) {
            q[i].done = true;
            q[i].err = GM_EIO;
        }
    }
    (void)run_until(&s->b, queries_done, q, SETUP_TIMEOUT_MS, "control socket queries");
    for (int i = 0; i < 2 && !s->b.failed; i++) {
        if (q[i].err != 0) {
            fail(&s->b, "%s: peers: %s", q[i].dir,
                 q[i].why.msg[0] ? q[i].why.msg : gm_strerror(q[i].err));
        }
    }
    out->link_xy = q[0].bytes_out;
    out->link_yx = q[1].bytes_out;
    return s->b.failed ? -1 : 0;
}

/* Prefilled stores, then Y dials X: until both hold everything or nothing comes for QUIET_MS. */
static int sync_measure(sync_t *s, const opts_t *o, const char *dir, sync_run_t *out)
{
    static const uint8_t third[GM_ID_LEN] = {0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
                                             0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c};
    uint64_t quota = quota_for(o->sync_bundles * 2), now = (uint64_t)time(NULL);
    uint64_t own = o->sync_bundles - o->sync_common, t;
    gm_node_config_t cx, cy;
    gm_mesh_stats_t mx, my;

    if (make_node_dir(&s->b, dir, "x", 11, &s->x) != 0 ||
        make_node_dir(&s->b, dir, "y", 12, &s->y) != 0) {
        return -1;
    }
    node_config(&cx, quota, true, 0);
    cx.control_socket[0] = 0; /* NODE_DIR/control.sock: the link byte counters */
    t = now_ns();
    /* the common bundles (from a third origin) once, copied; then each node's own */
    if (prefill(&s->b, s->x.dir, &cx, TAG_COMMON, third, o->sync_common, now) != 0 ||
        copy_store(&s->b, s->x.dir, s->y.dir) != 0 ||
        prefill(&s->b, s->x.dir, &cx, TAG_X, s->x.id, own, now) != 0 ||
        prefill(&s->b, s->y.dir, &cx, TAG_Y, s->y.id, own, now) != 0) {
        return -1;
    }
    out->prefill_s = (double)(now_ns() - t) / 1e9;
    if (mnode_open(&s->b, &s->x, &cx) != 0 || mnode_start(&s->b, &s->x) != 0) {
        return -1;
    }
    node_config(&cy, quota, false, mnode_port(&s->x));
    cy.control_socket[0] = 0;
    if (mnode_open(&s->b, &s->y, &cy) != 0) {
        return -1;
    }
    s->expect = o->sync_bundles + own;
    s->held_x = s->held_y = 0;
    s->up = false;
    uv_check_start(&s->watch, on_watch);
    s->t0 = now_ns();
    if (mnode_start(&s->b, &s->y) != 0 ||
        run_until(&s->b, sync_done, s, RUN_TIMEOUT_MS + (uint32_t)s->expect, "anti-entropy") != 0) {
        return -1;
    }
    uv_check_stop(&s->watch);
    out->time_s = (double)(s->t_last - s->t0) / 1e9;
    out->time_up_s = (double)(s->t_last - s->t_up) / 1e9;
    out->held_x = s->held_x;
    out->held_y = s->held_y;
    out->expect = s->expect;
    run_for(&s->b, SETTLE_MS); /* the last commits and custody acks */
    gm_mesh_stats(s->x.mesh, &mx);
    gm_mesh_stats(s->y.mesh, &my);
    out->filter_xy = mx.sync_bytes_sent;
    out->filter_yx = my.sync_bytes_sent;
    out->filters_x = mx.sync_filters_sent;
    out->filters_y = my.sync_filters_sent;
    out->pushed_xy = mx.sync_pushed;
    out->pushed_yx = my.sync_pushed;
    out->dup_x = mx.duplicates;
    out->dup_y = my.duplicates;
    return link_bytes(s, out);
}

static int sync_run(const opts_t *o, const char *base, size_t run, sync_run_t *out)
{
    static sync_t sync;
    sync_t *s = &sync;
    mnode_t *ns[2] = {&s->x, &s->y};
    char dir[GM_PATH_MAX], name[32];
    int rc;

    memset(s, 0, sizeof *s);
    if (bench_init(&s->b) != 0) {
        return -1;
    }
    uv_check_init(&s->b.loop, &s->watch);
    s->watch.data = s;
    snprintf(name, sizeof name, "sync-%zu", run);
    if (gm_path_join(dir, sizeof dir, base, name) != 0 || gm_dir_ensure(dir) != 0) {
        fail(&s->b, "%s/%s: cannot create", base, name);
    }
    rc = s->b.failed ? -1 : sync_measure(s, o, dir, out);
    if (s->b.failed) {
        fprintf(stderr, "mesh_bench: %s\n", s->b.msg);
        rc = -1;
    }
    s->b.failed = false;
    mnodes_close(&s->b, ns, 2);
    uv_close((uv_handle_t *)&s->watch, NULL);
    if (s->b.failed || bench_close(&s->b) != 0) {
        fprintf(stderr, "mesh_bench: %s\n", s->b.failed ? s->b.msg : "handles left open");
        rc = -1;
    }
    return rc;
}

/* ============ statistics and output ============ */


typedef struct {
    const char *name, *label;
    int prec;
    double v[MAX_RUNS];
} series_t;

enum {
    T_RATE,
    T_MBPS,
    T_WALL,
    T_RELAY_CPU,
    T_RELAY_COMMITS,
    T_PER_COMMIT,
    T_SRC_CPU,
    T_DEST_CPU,
    T_DEST_COMMITS,
    T_LAT50,
    T_LAT99,
    N_TSERIES
};
enum { L_P50, L_P99, L_HOP50, L_HOP99, L_MEAN, L_MAX, N_LSERIES };
enum {
    S_TIME,
    S_TIME_UP,
    S_FILTER_XY,
    S_FILTER_YX,
    S_PUSHED_XY,
    S_PUSHED_YX,
    S_LINK_XY,
    S_LINK_YX,
    S_HELD_X,
    S_HELD_Y,
    S_FILTERS_X,
    S_FILTERS_Y,
    S_DUP_X,
    S_DUP_Y,
    S_PREFILL,
    N_SSERIES
};

static series_t tseries[N_TSERIES] = {
    [T_RATE] = {"bundles_per_s", "bundles/s", 0, {0}},
    [T_MBPS] = {"mb_per_s", "MB/s of bodies", 1, {0}},
    [T_WALL] = {"wall_s", "first send -> last delivery, s", 3, {0}},
    [T_RELAY_CPU] = {"relay_cpu_us_per_bundle", "relay CPU us/bundle", 2, {0}},
    [T_RELAY_COMMITS] = {"relay_commits", "relay store commits", 0, {0}},
    [T_PER_COMMIT] = {"relay_bundles_per_commit", "bundles per relay commit", 1, {0}},
    [T_SRC_CPU] = {"source_cpu_us_per_bundle", "source CPU us/bundle", 2, {0}},
    [T_DEST_CPU] = {"destination_cpu_us_per_bundle", "destination CPU us/bundle", 2, {0}},
    [T_DEST_COMMITS] = {"destination_commits", "destination store commits", 0, {0}},
    [T_LAT50] = {"loaded_latency_p50_ms", "latency under load p50, ms", 2, {0}},
    [T_LAT99] = {"loaded_latency_p99_ms", "latency under load p99, ms", 2, {0}},
};

static series_t lseries[N_LSERIES] = {
    [L_P50] = {"e2e_p50_us", "end to end p50, us", 0, {0}},
    [L_P99] = {"e2e_p99_us", "end to end p99, us", 0, {0}},
    [L_HOP50] = {"hop_p50_us", "per hop p50 (end to end / 2), us", 0, {0}},
    [L_HOP99] = {"hop_p99_us", "per hop p99 (end to end / 2), us", 0, {0}},
    [L_MEAN] = {"e2e_mean_us", "end to end mean, us", 0, {0}},
    [L_MAX] = {"e2e_max_us", "end to end max, us", 0, {0}},
};

static series_t sseries[N_SSERIES] = {
    [S_TIME] = {"time_s", "Y starts -> last bundle arrives, s", 3, {0}},
    [S_TIME_UP] = {"time_from_link_up_s", "link up -> last bundle arrives, s", 3, {0}},
    [S_FILTER_XY] = {"filter_bytes_x_to_y", "filter bytes X -> Y", 0, {0}},
    [S_FILTER_YX] = {"filter_bytes_y_to_x", "filter bytes Y -> X", 0, {0}},
    [S_PUSHED_XY] = {"pushed_x_to_y", "bundles pushed X -> Y", 0, {0}},
    [S_PUSHED_YX] = {"pushed_y_to_x", "bundles pushed Y -> X", 0, {0}},
    [S_LINK_XY] = {"link_bytes_x_to_y", "link bytes X -> Y", 0, {0}},
    [S_LINK_YX] = {"link_bytes_y_to_x", "link bytes Y -> X", 0, {0}},
    [S_HELD_X] = {"held_x", "bundles X holds at the end", 0, {0}},
    [S_HELD_Y] = {"held_y", "bundles Y holds at the end", 0, {0}},
    [S_FILTERS_X] = {"filters_x", "filters X sent", 0, {0}},
    [S_FILTERS_Y] = {"filters_y", "filters Y sent", 0, {0}},
    [S_DUP_X] = {"duplicates_x", "duplicates X received", 0, {0}},
    [S_DUP_Y] = {"duplicates_y", "duplicates Y received", 0, {0}},
    [S_PREFILL] = {"prefill_s", "filling both stores (not measured), s", 2, {0}},
};

static void fill_series(const opts_t *o, const results_t *r)
{
    for (size_t i = 0; o->tput && i < o->runs; i++) {
        const tput_run_t *t = &r->tput[i];
        double n = (double)o->bundles;
        tseries[T_RATE].v[i] = n / t->wall_s;
        tseries[T_MBPS].v[i] = n * BODY_LEN / t->wall_s / 1e6;
        tseries[T_WALL].v[i] = t->wall_s;
        tseries[T_RELAY_CPU].v[i] = t->relay_cpu_s * 1e6 / n;
        tseries[T_RELAY_COMMITS].v[i] = (double)t->relay_commits;
        tseries[T_PER_COMMIT].v[i] = n / (double)(t->relay_commits ? t->relay_commits : 1);
        tseries[T_SRC_CPU].v[i] = t->src_cpu_s * 1e6 / n;
        tseries[T_DEST_CPU].v[i] = t->dest_cpu_s * 1e6 / n;
        tseries[T_DEST_COMMITS].v[i] = (double)t->dest_commits;
        tseries[T_LAT50].v[i] = t->lat_p50_us / 1e3;
        tseries[T_LAT99].v[i] = t->lat_p99_us / 1e3;
    }
    for (size_t i = 0; o->lat && i < o->lat_runs; i++) {
        const lat_run_t *l = &r->lat[i];
        double v[N_LSERIES] = {l->p50_us,     l->p99_us,  l->p50_us / 2,
                               l->p99_us / 2, l->mean_us, l->max_us};
        for (int k = 0; k < N_LSERIES; k++) {
            lseries[k].v[i] = v[k];
        }
    }
    for (size_t i = 0; o->sync && i < o->sync_runs; i++) {
        const sync_run_t *s = &r->sync[i];
        double v[N_SSERIES] = {s->time_s,
                               s->time_up_s,
                               (double)s->filter_xy,
                               (double)s->filter_yx,
                               (double)s->pushed_xy,
                               (double)s->pushed_yx,
                               (double)s->link_xy,
                               (double)s->link_yx,
                               (double)s->held_x,
                               (double)s->held_y,
                               (double)s->filters_x,
                               (double)s->filters_y,
                               (double)s->dup_x,
                               (double)s->dup_y,
                               s->prefill_s};
        for (int k = 0; k < N_SSERIES; k++) {
            sseries[k].v[i] = v[k];
        }
    }
}

static void json_group(const series_t *s, size_t k, size_t runs)
{
    for (size_t i = 0; i < k; i++) {
        bench_print_json_stat(s[i].name, s[i].v, runs, s[i].prec, i + 1 == k);
    }
}

static void print_json(const opts_t *o, const results_t *r)
{
    gm_node_config_t d;

    gm_config_defaults(&d);
    printf("{\n  \"benchmark\": \"mesh\",\n  \"tmp_fs\": \"%s\",\n  \"body_bytes\": %u,\n"
           "  \"encoded_bundle_bytes\": %zu,\n  \"stray_deliveries\": %" PRIu64 "",
           r->fs, BODY_LEN, r->encoded_len, r->stray);
    if (o->tput) {
        printf(
            ",\n  \"throughput\": {\n    \"bundles\": %lu, \"runs\": %lu, \"warmup_bundles\": %u, "
            "\"batch\": %u, \"commit_interval_ms\": %u, \"origin_rate\": %u, "
            "\"store_max_bytes\": %" PRIu64 ", \"max_queued_bytes\": %u,\n",
            o->bundles, o->runs, WARMUP_BUNDLES, BATCH, d.commit_interval_ms, ORIGIN_RATE,
            quota_for(o->bundles + WARMUP_BUNDLES), d.max_queued_bytes);
        json_group(tseries, N_TSERIES, o->runs);
        printf("  }");
    }
    if (o->lat) {
        printf(",\n  \"latency\": {\n    \"bundles\": %lu, \"runs\": %lu,\n", o->lat_bundles,
               o->lat_runs);
        json_group(lseries, N_LSERIES, o->lat_runs);
        printf("  }");
    }
    if (o->sync) {
        printf(
            ",\n  \"sync\": {\n    \"bundles_each\": %lu, \"common\": %lu, \"expect_each\": %lu, "
            "\"body_bytes\": %u, \"runs\": %lu, \"quiet_ms\": %u, \"settle_ms\": %u, "
            "\"naive_id_bytes_each_way\": %lu,\n",
            o->sync_bundles, o->sync_common, 2 * o->sync_bundles - o->sync_common, SYNC_BODY_LEN,
            o->sync_runs, QUIET_MS, SETTLE_MS, o->sync_bundles * GM_ID_LEN);
        json_group(sseries, N_SSERIES, o->sync_runs);
        printf("  }");
    }
    printf("\n}\n");
}

static void text_group(const char *title, const series_t *s, size_t k, size_t runs)
{
    printf("%s\n", title);
    for (size_t i = 0; i < k; i++) {
        bench_stat_t st = bench_stat(s[i].v, runs);
        printf("  %-40s %14.*f  (%.*f - %.*f)\n", s[i].label, s[i].prec, st.median, s[i].prec,
               st.min, s[i].prec, st.max);
    }
}

static void print_text(const opts_t *o, const results_t *r)
{
    if (o->tput) {
        char t[160];
        snprintf(t, sizeof t,
                 "throughput A -> R -> D, %lu bundles of %u bytes, median (min - max) "
                 "of %lu runs:",
                 o->bundles, BODY_LEN, o->runs);
        text_group(t, tseries, N_TSERIES, o->runs);
        printf("  aim >= 100,000 bundles/s: %s\n",
               bench_stat(tseries[T_RATE].v, o->runs).median >= 100000 ? "met" : "not met");
    }
    if (o->lat) {
        char t[160];
        snprintf(t, sizeof t,
                 "latency, %lu bundles one at a time, median of %lu runs:", o->lat_bundles,
                 o->lat_runs);
        text_group(t, lseries, N_LSERIES, o->lat_runs);
    }
    if (o->sync) {
        char t[200];
        snprintf(t, sizeof t,
                 "anti-entropy, %lu bundles each, %lu in common (naive id list: %lu "
                 "bytes each way), median of %lu runs:",
                 o->sync_bundles, o->sync_common, o->sync_bundles * GM_ID_LEN, o->sync_runs);
        text_group(t, sseries, N_SSERIES, o->sync_runs);
    }
    printf("(stores under /tmp: %s; stray deliveries: %" PRIu64 ")\n", r->fs, r->stray);
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: mesh_bench [--bundles N] [--runs R] [--latency N] [--latency-runs R]\n"
        "                  [--sync N] [--sync-common C] [--sync-runs R] [--only PART] [--json]\n"
        "\n"
        "The mesh layer's custody path over loopback TCP (127.0.0.1 only), Release build.\n"
        "\n"
        "  throughput  source A (this process) -> relay R -> destination D (two forked\n"
        "              processes, each a node with the mesh layer and its own store):\n"
        "              N bundles of %u bytes, custody durable at each hop. Bundles/s\n"
        "              (N / (last delivery - first send)), MB/s of bodies, relay CPU per\n"
        "              bundle and its store commits (bundles per commit).\n"
        "  latency     the same processes, one bundle at a time: end-to-end p50 and p99\n"
        "              over the two hops, and per hop (end to end / 2).\n"
        "  sync        two nodes in one process whose stores hold N broadcast bundles\n"
        "              each, C in common: anti-entropy filter bytes, pushes, link bytes\n"
        "              each way and time until both hold 2N - C (or nothing arrives for\n"
        "              %u ms), beside the naive N x 16 bytes of ids each way.\n"
        "\n"
        "  --bundles N       throughput bundles per run (default %u, at most %u)\n"
        "  --runs R          throughput runs (default %u), after a warm-up of %u bundles\n"
        "  --latency N       bundles of a latency run (default %u)\n"
        "  --latency-runs R  (default 1)\n"
        "  --sync N          bundles in each store (default %u)\n"
        "  --sync-common C   of those, in both stores (default %u)\n"
        "  --sync-runs R     (default 1)\n"
        "  --only PART       throughput, latency or sync\n"
        "  --json            print the results as JSON\n"
        "  --help            this text\n",
        BODY_LEN, QUIET_MS, DEFAULT_BUNDLES, MAX_BUNDLES, DEFAULT_RUNS, WARMUP_BUNDLES,
        DEFAULT_LAT_BUNDLES, DEFAULT_SYNC_BUNDLES, DEFAULT_SYNC_COMMON);
}

/* 0: go on; 1: done (help); 2: usage error. */
static int parse_args(int argc, char **argv, opts_t *o)
{
    static const struct {
        const char *name;
        size_t off;
        unsigned long min, max;
    } nums[] = {
        {"--bundles", offsetof(opts_t, bundles), 1, MAX_BUNDLES},
        {"--runs", offsetof(opts_t, runs), 1, MAX_RUNS},
        {"--latency", offsetof(opts_t, lat_bundles), 1, MAX_BUNDLES},
        {"--latency-runs", offsetof(opts_t, lat_runs), 1, MAX_RUNS},
        {"--sync", offsetof(opts_t, sync_bundles), 1, MAX_BUNDLES},
        {"--sync-common", offsetof(opts_t, sync_common), 0, MAX_BUNDLES},
        {"--sync-runs", offsetof(opts_t, sync_runs), 1, MAX_RUNS},
    };

    *o = (opts_t){DEFAULT_BUNDLES,
                  DEFAULT_RUNS,
                  DEFAULT_LAT_BUNDLES,
                  1,
                  DEFAULT_SYNC_BUNDLES,
                  DEFAULT_SYNC_COMMON,
                  1,
                  false,
                  true,
                  true,
                  true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool known = false;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        if (strcmp(a, "--only") == 0) {
            o->tput = v != NULL && strcmp(v, "throughput") == 0;
            o->lat = v != NULL && strcmp(v, "latency") == 0;
            o->sync = v != NULL && strcmp(v, "sync") == 0;
            if (!o->tput && !o->lat && !o->sync) {
                fprintf(stderr, "mesh_bench: --only takes throughput, latency or sync\n");
                return 2;
            }
            i++;
            continue;
        }
        for (size_t k = 0; k < sizeof nums / sizeof nums[0] && !known; k++) {
            if (strcmp(a, nums[k].name) == 0) {
                known = true;
                if (bench_parse_num("mesh_bench", a, v, nums[k].min, nums[k].max,
                                    (unsigned long *)((char *)o + nums[k].off)) != 0) {
                    return 2;
                }
                i++;
            }
        }
        if (!known) {
            fprintf(stderr, "mesh_bench: unknown argument \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (o->sync_common > o->sync_bundles) {
        fprintf(stderr, "mesh_bench: --sync-common must not exceed --sync\n");
        return 2;
    }
    return 0;
}

/* The filesystem type of /tmp: fsync costs what it costs there. */
static void tmp_fs(char *out, size_t cap)
{
    struct statfs sf;
    unsigned long t;

    if (statfs("/tmp", &sf) != 0) {
        snprintf(out, cap, "unknown");
        return;
    }
    t = (unsigned long)sf.f_type;
    snprintf(out, cap, "%s",
             t == 0xEF53ul       ? "ext4"
             : t == 0x01021994ul ? "tmpfs"
             : t == 0x58465342ul ? "xfs"
             : t == 0x9123683Eul ? "btrfs"
             : t == 0x794c7630ul ? "overlayfs"
                                 : "other");
}

static size_t encoded_len(void)
{
    static const uint8_t body[BODY_LEN];
    gm_bundle_t bd;

    memset(&bd, 0, sizeof bd);
    memset(bd.id, 0xee, GM_ID_LEN);
    bd.dst.kind = GM_DST_NODE;
    memset(bd.dst.id, 0xdd, GM_ID_LEN);
    bd.created = (uint64_t)time(NULL);
    bd.lifetime = 86400;
    bd.hop_limit = 16;
    bd.hops = 1;
    bd.priority = GM_PRIO_NORMAL;
    bd.body = body;
    bd.body_len = BODY_LEN;
    return gm_wire_bundle_size(&bd);
}

int main(int argc, char **argv)
{
    static results_t res;
    char base[GM_PATH_MAX] = "/tmp/mesh_bench.XXXXXX";
    opts_t o;
    int rc = parse_args(argc, argv, &o);

    if (rc != 0) {
        return rc == 1 ? 0 : 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (mkdtemp(base) == NULL) {
        fprintf(stderr, "mesh_bench: %s: %s\n", base, strerror(errno));
        return 1;
    }
    tmp_fs(res.fs, sizeof res.fs);
    res.encoded_len = encoded_len();
    if (!o.json) {
        printf("mesh_bench: 127.0.0.1 only; stores under %s (%s)\n", base, res.fs);
    }
    /* the children are forked first, before this process has a loop or libsodium state */
    if ((o.tput || o.lat) && procs_main(&o, base, &res) != 0) {
        rc = 1;
    }
    if (rc == 0 && sodium_init() < 0) {
        rc = 1;
    }
    for (size_t r = 0; rc == 0 && o.sync && r < o.sync_runs; r++) {
        if (sync_run(&o, base, r, &res.sync[r]) != 0) {
            rc = 1;
        } else if (!o.json) {
            fprintf(stderr, "  sync run %zu: %.3f s, X holds %" PRIu64 ", Y holds %" PRIu64 "\n",
                    r + 1, res.sync[r].time_s, res.sync[r].held_x, res.sync[r].held_y);
        }
    }
    nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (rc != 0) {
        return rc;
    }
    fill_series(&o, &res);
    if (o.json) {
        print_json(&o, &res);
    } else {
        print_text(&o, &res);
    }
    return 0;
}

/*
 * link_bench: 1 KiB messages from one node to its neighbour over loopback
 * TCP, through the full link layer (Noise transport encryption, u16 framing,
 * protobuf LinkMsg), beside the same payloads over plain libuv TCP (u16
 * length + payload, no crypto, no protobuf) in the same process and run.
 *
 *   guardmesh   two gm_nodes on one loop; node A dials node B on 127.0.0.1;
 *               gm_node_send(channel 1) on A, receipts counted in B's data
 *               callback.
 *   plain       two uv_tcp_t on 127.0.0.1; the same payloads, framed, written
 *               and parsed the way node/link.c does it, without crypto. Both
 *               ends read, as a link's do.
 *   plain_aead  the plain part plus ChaCha20-Poly1305 on every frame, as the
 *               link's transport cipher does it: a reference that separates
 *               the cipher's cost from the rest of the link layer.
 *
 * Every part uses the same sending policy: a uv_prepare callback queues at
 * most --batch frames per loop turn and stops early at backpressure
 * (GM_ELIMIT, or more than MAX_QUEUED bytes not yet written for the others);
 * every frame queued in a loop turn leaves in one uv_write from a uv_check
 * handle; the receiver reads into a 64 KiB buffer and parses every whole
 * frame. Each received message is checked (length, sequence number).
 *
 * After one unreported warm-up of each part, the runs alternate between the
 * parts; wall time runs from the first send to the last receipt, CPU time is
 * getrusage (RUSAGE_SELF, user + system: both ends, one process) over the
 * same interval. Identities are deterministic (fixed seeds); only timing and
 * the handshake's ephemeral keys vary. Only 127.0.0.1; a run that takes more
 * than RUN_TIMEOUT_MS is aborted with an error.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <uv.h>

#include "bench/bench_common.h"
#include "node/fileio.h"
#include "node/node.h"

#define MSG_LEN 1024u
#define CHANNEL 1u
#define FRAME_HDR 2u
#define READ_CHUNK (64u * 1024u)
#define MAX_QUEUED (4u << 20) /* per link, before backpressure: both parts */
#define DEFAULT_MESSAGES 400000u
#define DEFAULT_RUNS 5u
#define DEFAULT_BATCH 256u
#define MAX_MESSAGES 100000000u
#define MAX_RUNS 101u
#define MAX_BATCH 65536u
#define RUN_TIMEOUT_MS 30000u
#define SETUP_TIMEOUT_MS 10000u
#define ORG_NAME "bench-org"

typedef struct {
    double wall_s, cpu_s;
    uint64_t msgs, turns;
} run_t;

typedef struct bench bench_t;

/* One part: how to queue a message, and (plain TCP parts) how to take a received frame. */
typedef struct {
    const char *name;  /* in the JSON */
    const char *label; /* in the table */
    /* Queues one message: 0, or GM_ELIMIT at backpressure; other codes are fatal. */
    int (*send)(bench_t *b, const uint8_t *msg, size_t len);
    void (*frame)(bench_t *b, const uint8_t *frame, size_t len);
} part_ops_t;

/* ---- the plain libuv baseline ---- */

typedef struct {
    uv_write_t req;
    bench_t *b;
    uint8_t *data;
    size_t len;
} plain_write_t;

typedef struct {
    uv_tcp_t listener, client, server; /* client sends, server (accepted) receives */
    uv_connect_t connect;
    uv_check_t flush;
    bool connected, accepted;
    int setup_err;
    /* sender: frames of this loop turn, as node/link.c's obuf */
    uint8_t *obuf;
    size_t olen, ocap, queued;
    /* receiver */
    uint8_t rbuf[READ_CHUNK];
    uint8_t carry[FRAME_HDR + 65535u];
    size_t carry_len;
    /* the AEAD reference part: ChaCha20-Poly1305 as the link uses it, nothing else */
    uint8_t key[crypto_aead_chacha20poly1305_ietf_KEYBYTES];
    uint64_t tx_n, rx_n;
    uint8_t plain[65536];
} plain_t;

/* ---- the whole benchmark ---- */

struct bench {
    uv_loop_t loop;
    uint64_t n;     /* messages of the current run */
    uint32_t batch; /* frames per loop turn at most */
    const part_ops_t *ops;
    uint64_t sent, received, turns; /* turns: loop turns that queued frames (one write each) */
    bool started, done, failed;
    char fail_msg[256];
    struct timespec t0, t1;
    struct rusage r0, r1;
    uv_prepare_t pump;
    uv_idle_t nudge; /* keeps the next poll from blocking while frames wait for the flush */
    uv_timer_t deadline;
    uint8_t payload[MSG_LEN];
    /* part A */
    char tmpdir[GM_PATH_MAX];
    gm_node_t *node_a, *node_b;
    uint8_t id_a[GM_ID_LEN], id_b[GM_ID_LEN];
    int stopped;
    /* part B */
    plain_t *plain;
};

static void fail(bench_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(bench_t *b, const char *fmt, ...)
{
    va_list ap;

    if (b->failed) {
        return;
    }
    b->failed = true;
    va_start(ap, fmt);
    vsnprintf(b->fail_msg, sizeof b->fail_msg, fmt, ap);
    va_end(ap);
    uv_stop(&b->loop);
}

static double ts_diff(const struct timespec *a, const struct timespec *z)
{
    return (double)(z->tv_sec - a->tv_sec) + (double)(z->tv_nsec - a->tv_nsec) / 1e9;
}

/* ---- receiving: both parts check length and sequence ---- */

static void got_message(bench_t *b, const uint8_t *data, size_t len)
{
    uint64_t seq = 0;

    if (!b->started || b->done || b->failed) {
        fail(b, "message outside a run");
        return;
    }
    if (len != MSG_LEN) {
        fail(b, "received %zu bytes, expected %u", len, MSG_LEN);
        return;
    }
    memcpy(&seq, data, sizeof seq);
    if (seq != b->received) {
        fail(b, "received message %" PRIu64 ", expected %" PRIu64, seq, b->received);
        return;
    }
    if (++b->received == b->n) {
        clock_gettime(CLOCK_MONOTONIC, &b->t1);
        getrusage(RUSAGE_SELF, &b->r1);
        b->done = true;
        uv_stop(&b->loop);
    }
}

/* ---- the sending pump: one batch per loop turn ---- */

static void on_nudge(uv_idle_t *h)
{
    uv_idle_stop(h);
}

static void on_pump(uv_prepare_t *h)
{
    bench_t *b = h->data;
    uint32_t k = 0;

    if (!b->started) {
        b->started = true;
        clock_gettime(CLOCK_MONOTONIC, &b->t0);
        getrusage(RUSAGE_SELF, &b->r0);
    }
    while (k < b->batch && b->sent < b->n) {
        int err;

        memcpy(b->payload, &b->sent, sizeof b->sent); /* sequence number, host order */
        err = b->ops->send(b, b->payload, MSG_LEN);
        if (err == GM_ELIMIT) {
            break; /* backpressure: a write completion wakes the loop */
        }
        if (err != 0) {
            fail(b, "%s: send failed: %s", b->ops->name, gm_strerror(err));
            return;
        }
        b->sent++;
        k++;
    }
    if (b->sent == b->n) {
        uv_prepare_stop(h);
    }
    if (k > 0) {
        b->turns++;
        uv_idle_start(&b->nudge, on_nudge); /* poll without blocking: the check flushes them */
    }
}

static void on_deadline(uv_timer_t *h)
{
    bench_t *b = h->data;

    fail(b, "%s: run did not finish within %u ms (%" PRIu64 " sent, %" PRIu64 " received)",
         b->ops != NULL ? b->ops->name : "setup", RUN_TIMEOUT_MS, b->sent, b->received);
}

/* Runs the loop until pred or the deadline; 0 on success. */
static int run_until(bench_t *b, bool (*pred)(bench_t *), uint32_t timeout_ms, const char *what)
{
    struct timespec t0, t;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!pred(b) && !b->failed) {
        uv_run(&b->loop, UV_RUN_ONCE);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (ts_diff(&t0, &t) * 1000.0 > timeout_ms) {
            fail(b, "%s: not done within %u ms", what, timeout_ms);
        }
    }
    return b->failed ? -1 : 0;
}

static bool is_done(bench_t *b)
{
    return b->done;
}

static int run_once(bench_t *b, const part_ops_t *ops, uint64_t n, run_t *out)
{
    b->ops = ops;
    b->n = n;
    b->sent = b->received = b->turns = 0;
    b->started = b->done = false;
    uv_prepare_start(&b->pump, on_pump);
    uv_timer_start(&b->deadline, on_deadline, RUN_TIMEOUT_MS, 0);
    (void)run_until(b, is_done, RUN_TIMEOUT_MS + 1000u, ops->name);
    uv_prepare_stop(&b->pump);
    uv_idle_stop(&b->nudge);
    uv_timer_stop(&b->deadline);
    if (b->failed) {
        return -1;
    }
    /* let the last write completions run so the next run starts from empty queues */
    for (int i = 0; i < 8; i++) {
        uv_run(&b->loop, UV_RUN_NOWAIT);
    }
    out->msgs = n;
    out->turns = b->turns;
    out->wall_s = ts_diff(&b->t0, &b->t1);
    out->cpu_s = bench_cpu_s(&b->r0, &b->r1);
    return 0;
}

/* ---- part A: Guardmesh ---- */

static int gm_part_send(bench_t *b, const uint8_t *msg, size_t len)
{
    return gm_node_send(b->node_a, b->id_b, CHANNEL, msg, len);
}

static const part_ops_t gm_ops = {"guardmesh", "guardmesh link", gm_part_send, NULL};

static void on_gm_data(void *ctx, const uint8_t node_id[GM_ID_LEN], uint32_t channel,
                       const uint8_t *data, size_t len)
{
    bench_t *b = ctx;

    if (channel != CHANNEL || memcmp(node_id, b->id_a, GM_ID_LEN) != 0) {
        fail(b, "data on channel %" PRIu32 " from an unexpected node", channel);
        return;
    }
    got_message(b, data, len);
}

/* NODE_DIR with node.key, node.cert and the organisation's root in trust/. Deterministic keys. */
static int make_node_dir(bench_t *b, const uint8_t org_seed[GM_SEED_LEN], const gm_root_t *root,
                         const char *name, uint64_t serial, uint64_t now, uint8_t id[GM_ID_LEN])
{
    char dir[GM_PATH_MAX], path[GM_PATH_MAX];
    uint8_t secret[GM_NODE_SECRET_LEN];
    gm_node_keys_t k;
    gm_cert_body_t t;
    gm_cert_t cert;
    gm_why_t why = {{0}};
    int err;

    for (size_t i = 0; i < sizeof secret; i++) {
        secret[i] = (uint8_t)(serial * 97u + i * 31u + 1u);
    }
    if (gm_node_keys_from_secret(&k, secret) != 0) {
        fail(b, "%s: unusable fixed key", name);
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
    err = gm_cert_issue(org_seed, root, &t, &cert);
    if (err != 0) {
        fail(b, "%s: cannot issue the certificate: %s", name, gm_strerror(err));
        return -1;
    }
    memcpy(id, cert.body.node_id, GM_ID_LEN);
    err = gm_path_join(dir, sizeof dir, b->tmpdir, name);
    err = err ? err : gm_dir_ensure(dir);
    err = err ? err : gm_path_join(path, sizeof path, dir, GM_DIR_TRUST);
    err = err ? err : gm_dir_ensure(path);
    if (err != 0) {
        fail(b, "%s/%s: cannot create: %s", b->tmpdir, name, gm_strerror(err));
        return -1;
    }
    err = gm_path_join(path, sizeof path, dir, GM_FILE_NODE_KEY);
    err = err ? err : gm_key_save(path, GM_KEY_NODE, secret, sizeof secret, NULL, 0, true, &why);
    err = err ? err : gm_path_join(path, sizeof path, dir, GM_FILE_NODE_CERT);
    err = err ? err : gm_blob_save(path, cert.encoded, cert.encoded_len, false, &why);
    if (err == 0 && gm_trust_root_path(dir, root, path, sizeof path) != 0) {
        gm_why_set(&why, "%s: path too long", dir);
        err = GM_ELIMIT;
    }
    if (err == 0) {
        err = gm_blob_save(path, root->encoded, root->encoded_len, false, &why);
    }
    sodium_memzero(secret, sizeof secret);
    gm_node_keys_wipe(&k);
    if (err != 0) {
        fail(b, "%s/%s: %s", b->tmpdir, name, why.msg[0] != 0 ? why.msg : gm_strerror(err));
        return -1;
    }
    return 0;
}

static void bench_config(gm_node_config_t *c)
{
    gm_config_defaults(c);
    c->n_listen = 0;
    c->n_peers = 0;
    snprintf(c->control_socket, sizeof c->control_socket, "none");
    c->discovery = false;
    c->log_level = GM_LOG_WARN;
    c->max_queued_bytes = MAX_QUEUED;
}

static bool gm_links_up(bench_t *b)
{
    return gm_node_has_link(b->node_a, b->id_b) && gm_node_has_link(b->node_b, b->id_a);
}

static int gm_setup(bench_t *b)
{
    static const uint8_t org_seed[GM_SEED_LEN] = {'g', 'm', '-', 'b', 'e', 'n', 'c', 'h'};
    uint64_t now = (uint64_t)time(NULL);
    gm_root_t root;
    gm_node_config_t cfg;
    gm_node_env_t env = {.loop = &b->loop, .log = stderr};
    gm_why_t why = {{0}};
    char dir[GM_PATH_MAX];
    const char *tmp = getenv("TMPDIR");

    if (gm_path_join(b->tmpdir, sizeof b->tmpdir, tmp != NULL && tmp[0] != 0 ? tmp : "/tmp",
                     "link_bench.XXXXXX") != 0 ||
        mkdtemp(b->tmpdir) == NULL) {
        fail(b, "%s: cannot create: %s", b->tmpdir, strerror(errno));
        b->tmpdir[0] = 0;
        return -1;
    }
    if (gm_root_create(org_seed, ORG_NAME, now - 7200, &root) != 0) {
        fail(b, "cannot create the root record");
        return -1;
    }
    if (make_node_dir(b, org_seed, &root, "bench-a", 1, now, b->id_a) != 0 ||
        make_node_dir(b, org_seed, &root, "bench-b", 2, now, b->id_b) != 0) {
        return -1;
    }

    bench_config(&cfg);
    snprintf(cfg.listen[0], GM_ADDR_LEN, "127.0.0.1:0");
    cfg.n_listen = 1;
    if (gm_path_join(dir, sizeof dir, b->tmpdir, "bench-b") != 0 ||
        gm_node_new(&env, dir, &cfg, &b->node_b, &why) != 0 ||
        gm_node_start(b->node_b, &why) != 0) {
        fail(b, "node B: %s", why.msg);
        return -1;
    }
    gm_node_set_data_cb(b->node_b, on_gm_data, b);

    bench_config(&cfg);
    snprintf(cfg.peers[0], GM_ADDR_LEN, "%s", gm_node_listen_addr(b->node_b));
    cfg.n_peers = 1;
    if (strncmp(cfg.peers[0], "127.0.0.1:", 10) != 0) {
        fail(b, "node B listens on \"%s\", not 127.0.0.1", cfg.peers[0]);
        return -1;
    }
    if (gm_path_join(dir, sizeof dir, b->tmpdir, "bench-a") != 0 ||
        gm_node_new(&env, dir, &cfg, &b->node_a, &why) != 0 ||
        gm_node_start(b->node_a, &why) != 0) {
        fail(b, "node A: %s", why.msg);
        return -1;
    }
    return run_until(b, gm_links_up, SETUP_TIMEOUT_MS, "link A -> B");
}

static void on_node_stopped(gm_node_t *n, void *arg)
{
    (void)n;
    ((bench_t *)arg)->stopped++;
}

static bool nodes_stopped(bench_t *b)
{
    return b->stopped == (b->node_a != NULL) + (b->node_b != NULL);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void gm_teardown(bench_t *b)
{
    bool failed = b->failed;

    b->stopped = 0;
    b->failed = false;
    if (b->node_a != NULL) {
        gm_node_stop(b->node_a, on_node_stopped, b);
    }
    if (b->node_b != NULL) {
        gm_node_stop(b->node_b, on_node_stopped, b);
    }
    if (run_until(b, nodes_stopped, SETUP_TIMEOUT_MS, "stopping the nodes") == 0) {
        gm_node_free(b->node_a);
        gm_node_free(b->node_b);
        b->node_a = b->node_b = NULL;
    }
    b->failed = b->failed || failed;
    if (b->tmpdir[0] != 0) {
        nftw(b->tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        b->tmpdir[0] = 0;
    }
}

/* ---- part B: plain libuv TCP ---- */

static void on_plain_written(uv_write_t *req, int status)
{
    plain_write_t *w = req->data;
    plain_t *p = w->b->plain;

    if (status != 0 && status != UV_ECANCELED) {
        fail(w->b, "plain: write failed: %s", uv_strerror(status));
    }
    p->queued -= w->len;
    free(w->data);
    free(w);
}

/* The same growth policy as node/link.c's reserve(). */
static int plain_reserve(plain_t *p, size_t len)
{
    size_t need = p->olen + FRAME_HDR + len;
    uint8_t *q;

    if (need <= p->ocap) {
        return 0;
    }
    need = need < 16384 ? 16384 : need * 2;
    q = realloc(p->obuf, need);
    if (q == NULL) {
        return GM_ENOMEM;
    }
    p->obuf = q;
    p->ocap = need;
    return 0;
}

static int plain_send(bench_t *b, const uint8_t *msg, size_t len)
{
    plain_t *p = b->plain;

    if (p->olen + p->queued > MAX_QUEUED) { /* as gm__link_send_data */
        return GM_ELIMIT;
    }
    if (plain_reserve(p, len) != 0) {
        return GM_ENOMEM;
    }
    p->obuf[p->olen] = (uint8_t)(len >> 8);
    p->obuf[p->olen + 1] = (uint8_t)len;
    memcpy(p->obuf + p->olen + FRAME_HDR, msg, len);
    p->olen += FRAME_HDR + len;
    return 0;
}

static void plain_frame(bench_t *b, const uint8_t *frame, size_t len)
{
    got_message(b, frame, len);
}

static const part_ops_t plain_ops = {"plain", "plain libuv TCP", plain_send, plain_frame};

/* The link's nonce layout: 32 zero bits || 64-bit little-endian counter. */
static void aead_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES], uint64_t n)
{
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++) {
        nonce[4 + i] = (uint8_t)(n >> (8 * i));
    }
}

static int aead_send(bench_t *b, const uint8_t *msg, size_t len)
{
    plain_t *p = b->plain;
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
    size_t flen = len + crypto_aead_chacha20poly1305_ietf_ABYTES;

    if (p->olen + p->queued > MAX_QUEUED) {
        return GM_ELIMIT;
    }
    if (plain_reserve(p, flen) != 0) {
        return GM_ENOMEM;
    }
    aead_nonce(nonce, p->tx_n++);
    p->obuf[p->olen] = (uint8_t)(flen >> 8);
    p->obuf[p->olen + 1] = (uint8_t)flen;
    crypto_aead_chacha20poly1305_ietf_encrypt(p->obuf + p->olen + FRAME_HDR, NULL, msg, len, NULL,
                                              0, NULL, nonce, p->key);
    p->olen += FRAME_HDR + flen;
    return 0;
}

static void aead_frame(bench_t *b, const uint8_t *frame, size_t len)
{
    plain_t *p = b->plain;
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
    unsigned long long plen;

    aead_nonce(nonce, p->rx_n++);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(p->plain, &plen, NULL, frame, len, NULL, 0, nonce,
                                                  p->key) != 0) {
        fail(b, "aead: frame %" PRIu64 " did not decrypt", p->rx_n - 1);
        return;
    }
    got_message(b, p->plain, (size_t)plen);
}

static const part_ops_t aead_ops = {"plain_aead", "plain TCP + AEAD", aead_send, aead_frame};

/* After the loop turn's I/O: everything queued this turn leaves in one uv_write. */
static void on_plain_flush(uv_check_t *h)
{
    bench_t *b = h->data;
    plain_t *p = b->plain;
    plain_write_t *w;
    uv_buf_t buf;
    int err;

    if (p->olen == 0) {
        return;
    }
    w = malloc(sizeof *w);
    if (w == NULL) {
        fail(b, "plain: out of memory");
        return;
    }
    w->b = b;
    w->data = p->obuf;
    w->len = p->olen;
    w->req.data = w;
    buf = uv_buf_init((char *)p->obuf, (unsigned)p->olen);
    p->obuf = NULL;
    p->olen = p->ocap = 0;
    err = uv_write(&w->req, (uv_stream_t *)&p->client, &buf, 1, on_plain_written);
    if (err != 0) {
        free(w->data);
        free(w);
        fail(b, "plain: uv_write: %s", uv_strerror(err));
        return;
    }
    p->queued += w->len;
}

static size_t plain_parse(bench_t *b, const uint8_t *d, size_t len)
{
    size_t off = 0;

    while (len - off >= FRAME_HDR && !b->failed) {
        size_t flen = ((size_t)d[off] << 8) | d[off + 1];

        if (len - off - FRAME_HDR < flen) {
            break;
        }
        b->ops->frame(b, d + off + FRAME_HDR, flen);
        off += FRAME_HDR + flen;
    }
    return off;
}

static void plain_keep(plain_t *p, const uint8_t *d, size_t len)
{
    memmove(p->carry + p->carry_len, d, len); /* len < one frame: always fits */
    p->carry_len += len;
}

static void on_plain_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    bench_t *b = h->data;

    (void)suggested;
    *buf = uv_buf_init((char *)b->plain->rbuf, READ_CHUNK);
}

static void on_plain_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    bench_t *b = s->data;
    plain_t *p = b->plain;
    const uint8_t *d = (const uint8_t *)buf->base;
    size_t len = nread > 0 ? (size_t)nread : 0;

    if (nread < 0) {
        uv_read_stop(s);
        if (b->started && !b->done) {
            fail(b, "plain: read: %s", uv_strerror((int)nread));
        }
        return;
    }
    while (len > 0 && !b->failed) {
        size_t used, want;

        if (p->carry_len == 0) { /* fast path: frames straight from the read buffer */
            used = plain_parse(b, d, len);
            plain_keep(p, d + used, len - used);
            return;
        }
        want = sizeof p->carry - p->carry_len < len ? sizeof p->carry - p->carry_len : len;
        memcpy(p->carry + p->carry_len, d, want);
        p->carry_len += want;
        d += want;
        len -= want;
        used = plain_parse(b, p->carry, p->carry_len);
        memmove(p->carry, p->carry + used, p->carry_len - used);
        p->carry_len -= used;
    }
}

static void on_plain_connection(uv_stream_t *server, int status)
{
    bench_t *b = server->data;
    plain_t *p = b->plain;
    int err = status;

    if (err == 0 && p->accepted) {
        return; /* only one: cannot happen, the port is ours */
    }
    err = err ? err : uv_tcp_init(&b->loop, &p->server);
    if (err == 0) {
        p->server.data = b;
        err = uv_accept(server, (uv_stream_t *)&p->server);
        p->accepted = true; /* the handle exists: teardown closes it */
        err = err ? err : uv_tcp_nodelay(&p->server, 1);
        err = err ? err : uv_read_start((uv_stream_t *)&p->server, on_plain_alloc, on_plain_read);
    }
    if (err != 0) {
        p->setup_err = err;
    }
}

/* The sending end reads too, as a link's does: nothing arrives. */
static void on_plain_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    bench_t *b = s->data;

    (void)buf;
    if (nread > 0) {
        fail(b, "plain: unexpected data on the sending end");
    } else if (nread < 0) {
        uv_read_stop(s);
    }
}

static void on_plain_connected(uv_connect_t *req, int status)
{
    bench_t *b = req->data;
    plain_t *p = b->plain;

    if (status == 0) {
        status = uv_tcp_nodelay(&p->client, 1);
    }
    if (status == 0) {
        /* A stream that reads pays libuv 1.44 one epoll_ctl per completed write, as a link does. */
        status = uv_read_start((uv_stream_t *)&p->client, on_plain_alloc, on_plain_client_read);
    }
    if (status != 0) {
        p->setup_err = status;
        return;
    }
    p->connected = true;
}

static bool plain_ready(bench_t *b)
{
    return b->plain->setup_err != 0 || (b->plain->connected && b->plain->accepted);
}

static int plain_setup(bench_t *b)
{
    plain_t *p = calloc(1, sizeof *p);
    struct sockaddr_storage ss;
    struct sockaddr_in addr;
    int len = sizeof ss, err;

    if (p == NULL) {
        fail(b, "plain: out of memory");
        return -1;
    }
    b->plain = p;
    for (size_t i = 0; i < sizeof p->key; i++) {
        p->key[i] = (uint8_t)(0xa5u ^ i);
    }
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(&b->loop, &p->listener);
    uv_tcp_init(&b->loop, &p->client);
    uv_check_init(&b->loop, &p->flush);
    p->listener.data = p->client.data = p->flush.data = b;
    p->connect.data = b;
    err = uv_tcp_bind(&p->listener, (const struct sockaddr *)&addr, 0);
    err = err ? err : uv_listen((uv_stream_t *)&p->listener, 4, on_plain_connection);
    err = err ? err : uv_tcp_getsockname(&p->listener, (struct sockaddr *)&ss, &len);
    err = err ? err
              : uv_tcp_connect(&p->connect, &p->client, (const struct sockaddr *)&ss,
                               on_plain_connected);
    if (err != 0) {
        fail(b, "plain: cannot connect on 127.0.0.1: %s", uv_strerror(err));
        return -1;
    }
    uv_check_start(&p->flush, on_plain_flush);
    if (run_until(b, plain_ready, SETUP_TIMEOUT_MS, "plain TCP connection") != 0) {
        return -1;
    }
    if (p->setup_err != 0) {
        fail(b, "plain: connection failed: %s", uv_strerror(p->setup_err));
        return -1;
    }
    return 0;
}

static void plain_teardown(bench_t *b)
{
    plain_t *p = b->plain;

    if (p == NULL) {
        return;
    }
    uv_close((uv_handle_t *)&p->listener, NULL);
    uv_close((uv_handle_t *)&p->client, NULL);
    uv_close((uv_handle_t *)&p->flush, NULL);
    if (p->accepted) {
        uv_close((uv_handle_t *)&p->server, NULL);
    }
    for (int i = 0; i < 16; i++) { /* close callbacks and cancelled writes */
        uv_run(&b->loop, UV_RUN_NOWAIT);
    }
}

static void plain_free(bench_t *b)
{
    if (b->plain != NULL) {
        free(b->plain->obuf);
        free(b->plain);
        b->plain = NULL;
    }
}

/* ---- statistics and output ---- */

enum { PART_GM, PART_PLAIN, PART_AEAD, N_PARTS };

static const part_ops_t *const parts[N_PARTS] = {&gm_ops, &plain_ops, &aead_ops};

typedef struct {
    double median, min, max;
} stat_t;

typedef struct {
    stat_t rate, mbps, cpu_us, wall_s, fpw;
    double rates[MAX_RUNS], mb[MAX_RUNS], cpu[MAX_RUNS], wall[MAX_RUNS], fpws[MAX_RUNS];
} summary_t;

typedef struct {
    unsigned long messages, runs, batch;
    bool json;
    bool on[N_PARTS];
} opts_t;

static stat_t stat_of(const double *v, size_t n)
{
    double s[MAX_RUNS];
    stat_t r;

    memcpy(s, v, n * sizeof *v);
    qsort(s, n, sizeof *s, bench_cmp_double);
    r.min = s[0];
    r.max = s[n - 1];
    r.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
    return r;
}

static void summarise(const run_t *runs, size_t n, summary_t *s)
{
    for (size_t i = 0; i < n; i++) {
        s->rates[i] = (double)runs[i].msgs / runs[i].wall_s;
        s->mb[i] = (double)runs[i].msgs * MSG_LEN / runs[i].wall_s / 1e6;
        s->cpu[i] = runs[i].cpu_s * 1e6 / (double)runs[i].msgs;
        s->wall[i] = runs[i].wall_s;
        s->fpws[i] = (double)runs[i].msgs / (double)(runs[i].turns ? runs[i].turns : 1);
    }
    s->rate = stat_of(s->rates, n);
    s->mbps = stat_of(s->mb, n);
    s->cpu_us = stat_of(s->cpu, n);
    s->wall_s = stat_of(s->wall, n);
    s->fpw = stat_of(s->fpws, n);
}

/* Guardmesh's rate over another part's: of the medians, and min-max of the per-run pairs. */
static void ratio_of(const summary_t *a, const summary_t *z, size_t n, double *of_medians,
                     stat_t *paired)
{
    double r[MAX_RUNS];

    for (size_t i = 0; i < n; i++) {
        r[i] = a->rates[i] / z->rates[i];
    }
    *of_medians = a->rate.median / z->rate.median;
    *paired = stat_of(r, n);
}

static void print_json_stat(const char *name, stat_t s, const double *v, size_t n, int prec,
                            bool last)
{
    printf("    \"%s\": {\"median\": %.*f, \"min\": %.*f, \"max\": %.*f, \"runs\": [", name, prec,
           s.median, prec, s.min, prec, s.max);
    for (size_t i = 0; i < n; i++) {
        printf("%s%.*f", i ? ", " : "", prec, v[i]);
    }
    printf("]}%s\n", last ? "" : ",");
}

static void print_json(const opts_t *o, const summary_t *sum)
{
    printf("{\n  \"benchmark\": \"link\",\n  \"message_bytes\": %u,\n  \"messages\": %lu,\n"
           "  \"runs\": %lu,\n  \"batch\": %lu,\n  \"max_queued_bytes\": %u",
           MSG_LEN, o->messages, o->runs, o->batch, MAX_QUEUED);
    for (int p = 0; p < N_PARTS; p++) {
        const summary_t *s = &sum[p];
        if (!o->on[p]) {
            continue;
        }
        printf(",\n  \"%s\": {\n", parts[p]->name);
        print_json_stat("msgs_per_s", s->rate, s->rates, o->runs, 0, false);
        print_json_stat("mb_per_s", s->mbps, s->mb, o->runs, 1, false);
        print_json_stat("cpu_us_per_msg", s->cpu_us, s->cpu, o->runs, 3, false);
        print_json_stat("wall_s", s->wall_s, s->wall, o->runs, 4, false);
        print_json_stat("frames_per_write", s->fpw, s->fpws, o->runs, 1, true);
        printf("  }");
    }
    for (int p = PART_PLAIN; p < N_PARTS; p++) {
        double med;
        stat_t paired;
        if (!o->on[PART_GM] || !o->on[p]) {
            continue;
        }
        ratio_of(&sum[PART_GM], &sum[p], o->runs, &med, &paired);
        printf(",\n  \"ratio_guardmesh_over_%s\": {\"of_medians\": %.3f, \"paired_median\": %.3f, "
               "\"paired_min\": %.3f, \"paired_max\": %.3f}",
               parts[p]->name, med, paired.median, paired.min, paired.max);
    }
    printf("\n}\n");
}

static void print_text(const opts_t *o, const summary_t *sum)
{
    printf("%-17s %-32s %-26s %-30s %s\n", "", "messages/s median (min - max)",
           "MB/s median (min - max)", "CPU us/message med (min - max)", "frames/write");
    for (int p = 0; p < N_PARTS; p++) {
        const summary_t *s = &sum[p];
        if (!o->on[p]) {
            continue;
        }
        printf("%-17s %9.0f (%9.0f - %9.0f)  %7.1f (%7.1f - %7.1f)  %6.2f (%6.2f - %6.2f)  "
               "%17.1f\n",
               parts[p]->label, s->rate.median, s->rate.min, s->rate.max, s->mbps.median,
               s->mbps.min, s->mbps.max, s->cpu_us.median, s->cpu_us.min, s->cpu_us.max,
               s->fpw.median);
    }
    for (int p = PART_PLAIN; p < N_PARTS; p++) {
        double med;
        stat_t paired;
        if (!o->on[PART_GM] || !o->on[p]) {
            continue;
        }
        ratio_of(&sum[PART_GM], &sum[p], o->runs, &med, &paired);
        printf("ratio guardmesh / %s, messages/s: %.3f (of the medians; per-run pairs %.3f - "
               "%.3f)\n",
               parts[p]->label, med, paired.min, paired.max);
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: link_bench [--messages N] [--runs R] [--batch B] [--only PART] [--json]\n"
            "\n"
            "Pushes N %u-byte messages from one Guardmesh node to a neighbour over\n"
            "loopback TCP through the full link layer (Noise, framing, protobuf), and the\n"
            "same payloads over plain libuv TCP (u16 length + payload, no crypto) with\n"
            "the same batching, in one process and one loop. A third part, plain TCP +\n"
            "AEAD, adds only the link's cipher (ChaCha20-Poly1305 per frame) to the plain\n"
            "part: what the link costs beyond its cipher. Reports messages/s, MB/s\n"
            "(payload, 10^6 bytes) and CPU microseconds per message (getrusage, user +\n"
            "system, both ends: one process), median and min-max over R runs of each\n"
            "part (run alternately, after one warm-up each), and the ratio\n"
            "Guardmesh/plain of the message rates. Only 127.0.0.1 is used; a run that\n"
            "takes more than %u s fails the benchmark.\n"
            "\n"
            "  --messages N  messages per run (default %u, at most %u)\n"
            "  --runs R      measured runs of each part (default %u, at most %u)\n"
            "  --batch B     frames queued per loop turn at most (default %u, at most %u);\n"
            "                backpressure at %u MiB not yet written ends a turn's batch earlier\n"
            "  --only PART   run one part: guardmesh, plain or aead (for profiling)\n"
            "  --json        print the results as JSON\n"
            "  --help        this text\n",
            MSG_LEN, RUN_TIMEOUT_MS / 1000u, DEFAULT_MESSAGES, MAX_MESSAGES, DEFAULT_RUNS, MAX_RUNS,
            DEFAULT_BATCH, MAX_BATCH, MAX_QUEUED >> 20);
}

/* 0: go on; 1: done (help); 2: usage error. */
static int parse_args(int argc, char **argv, opts_t *o)
{
    static const char *const only_names[N_PARTS] = {"guardmesh", "plain", "aead"};

    *o = (opts_t){DEFAULT_MESSAGES, DEFAULT_RUNS, DEFAULT_BATCH, false, {true, true, true}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int err = 0;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        } else if (strcmp(a, "--messages") == 0) {
            err = bench_parse_num("link_bench", a, v, 1, MAX_MESSAGES, &o->messages);
        } else if (strcmp(a, "--runs") == 0) {
            err = bench_parse_num("link_bench", a, v, 1, MAX_RUNS, &o->runs);
        } else if (strcmp(a, "--batch") == 0) {
            err = bench_parse_num("link_bench", a, v, 1, MAX_BATCH, &o->batch);
        } else if (strcmp(a, "--only") == 0) {
            int found = -1;
            for (int p = 0; v != NULL && p < N_PARTS; p++) {
                if (strcmp(v, only_names[p]) == 0) {
                    found = p;
                }
            }
            if (found < 0) {
                fprintf(stderr, "link_bench: --only takes guardmesh, plain or aead\n");
                return 2;
            }
            for (int p = 0; p < N_PARTS; p++) {
                o->on[p] = p == found;
            }
        } else {
            fprintf(stderr, "link_bench: unknown argument \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
        if (err != 0) {
            return 2;
        }
        i++; /* the option's value */
    }
    return 0;
}

static void run_all(bench_t *b, const opts_t *o, run_t runs[N_PARTS][MAX_RUNS])
{
    uint64_t n_warm = o->messages / 10 > 0 ? o->messages / 10 : 1;
    run_t warm;

    for (int p = 0; p < N_PARTS; p++) {
        if (o->on[p] && run_once(b, parts[p], n_warm, &warm) != 0) {
            return;
        }
    }
    for (size_t r = 0; r < o->runs; r++) {
        if (!o->json) {
            fprintf(stderr, "  run %zu:", r + 1);
        }
        for (int p = 0; p < N_PARTS; p++) {
            if (!o->on[p]) {
                continue;
            }
            if (run_once(b, parts[p], o->messages, &runs[p][r]) != 0) {
                return;
            }
            if (!o->json) {
                fprintf(stderr, " %s %.0f msgs/s", parts[p]->name,
                        (double)o->messages / runs[p][r].wall_s);
            }
        }
        if (!o->json) {
            fputc('\n', stderr);
        }
    }
}

int main(int argc, char **argv)
{
    static bench_t bench; /* large: keep it off the stack */
    static run_t runs[N_PARTS][MAX_RUNS];
    static summary_t sum[N_PARTS];
    bench_t *b = &bench;
    opts_t o;
    int rc = parse_args(argc, argv, &o);

    if (rc != 0) {
        return rc == 1 ? 0 : 2;
    }
    if (sodium_init() < 0 || uv_loop_init(&b->loop) != 0) {
        fprintf(stderr, "link_bench: cannot initialise libsodium or libuv\n");
        return 1;
    }
    b->batch = (uint32_t)o.batch;
    for (size_t i = 0; i < MSG_LEN; i++) {
        b->payload[i] = (uint8_t)(i * 131u + 7u);
    }
    uv_prepare_init(&b->loop, &b->pump);
    uv_idle_init(&b->loop, &b->nudge);
    uv_timer_init(&b->loop, &b->deadline);
    b->pump.data = b->nudge.data = b->deadline.data = b;

    if (!o.json) {
        printf("link_bench: %u-byte messages, %lu per run, %lu run(s) of each part after a "
               "warm-up, batch <= %lu frames per loop turn, queue limit %u MiB, 127.0.0.1\n",
               MSG_LEN, o.messages, o.runs, o.batch, MAX_QUEUED >> 20);
        fflush(stdout);
    }
    if (gm_setup(b) == 0 && plain_setup(b) == 0) {
        run_all(b, &o, runs);
    }
    if (b->failed) {
        fprintf(stderr, "link_bench: %s\n", b->fail_msg);
        rc = 1;
    }
    plain_teardown(b);
    gm_teardown(b);
    if (b->failed && rc == 0) {
        fprintf(stderr, "link_bench: %s\n", b->fail_msg);
        rc = 1;
    }
    uv_close((uv_handle_t *)&b->pump, NULL);
    uv_close((uv_handle_t *)&b->nudge, NULL);
    uv_close((uv_handle_t *)&b->deadline, NULL);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&b->loop) != 0 && rc == 0) {
        fprintf(stderr, "link_bench: handles left open on the loop\n");
        rc = 1;
    }
    plain_free(b);
    if (rc != 0) {
        return rc;
    }
    for (int p = 0; p < N_PARTS; p++) {
        if (o.on[p]) {
            summarise(runs[p], o.runs, &sum[p]);
        }
    }
    if (o.json) {
        print_json(&o, sum);
    } else {
        print_text(&o, sum);
    }
    return 0;
}

/*
 * Fuzzes the link layer: the proto/wire_link.h and proto/wire_control.h
 * codecs (decode -> encode -> decode gives the same value) and the frame
 * parser of node/link.c, fed through the in-memory transport to a node made
 * once and kept across inputs.
 *
 * Input: one flags byte, then the body (its first 64 KiB).
 *   bits 0-1  the node gets: 0 nothing; 1 the body raw from the first byte
 *             (handshake parser); 2 a Noise_XX handshake the harness completes
 *             as a trusted peer, then the body raw (frame parser); 3 the
 *             handshake, then each u16 len || piece of the body (big-endian,
 *             cut to what is there) as one encrypted transport frame
 *   bit 2     the bytes after the handshake go in writes of 2^(bits 4-6) bytes
 *   bit 3     the harness closes its end right after writing them
 *   bit 7     modes 2-3: the body's first u16 len || piece is the peer's hello
 *             in msg3 instead of the real one (the certificate checks)
 *   bits 4-7  also size a small second LinkMsg arena: 64 * bits 4-7 bytes
 * Every body also goes to the five decoders.
 *
 * libsodium's RNG is a fixed stream restarted for every input: the node's
 * ephemeral key, msg2 and session keys repeat, so inputs replay exactly and a
 * mode-1 seed can carry a whole handshake.
 */
#include "tests/fuzz/fuzz.h"
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "crypto/cert.h"
#include "crypto/keys.h"
#include "crypto/noise.h"
#include "node/fileio.h"
#include "node/node.h"
#include "proto/wire_control.h"
#include "proto/wire_link.h"

#define FUZZ_NOW 1767225600u /* 2026-01-01T00:00:00Z */
#define FUZZ_DAY 86400u
#define FUZZ_MAX_BODY 65536u
#define FUZZ_ARENA_LEN (2u * 65536u + 4096u) /* as the node's own arena */
#define FUZZ_REKEY_FRAMES 3u                 /* the node's rekey_frames: rekeys are reached */
#define FUZZ_MAX_TURNS 64                    /* loop turns before "it does not settle" */
#define FUZZ_MAX_WRITES 4096u
#define FUZZ_HS_MAX 2048u /* a handshake message and its payload */
/* The sealed body at its largest: 18 bytes of frame for every 2 bytes of input. */
#define FUZZ_WIRE_MAX (FUZZ_MAX_BODY + 8u * (FUZZ_MAX_BODY / 2u))

#define FUZZ_MODE_MASK 0x03u
#define FUZZ_SPLIT 0x04u
#define FUZZ_CLOSE_EARLY 0x08u
#define FUZZ_HIGH_SHIFT 4
#define FUZZ_CHUNK_MASK 0x07u
#define FUZZ_OWN_HELLO 0x80u
#define FUZZ_HELLO_MAX (FUZZ_HS_MAX - 64u) /* with msg3's s, tag and payload tag */

enum { MODE_CODECS, MODE_RAW, MODE_FRAMES, MODE_SEALED };


/* A seed generator that #includes this file may define it to record what the peer sends. */
#ifndef FUZZ_ON_SEND
#define FUZZ_ON_SEND(data, len) ((void)0)
#endif


static const uint8_t root_seed[GM_SEED_LEN] = "guardmesh/fuzz/link/root-seed/1";

/* The node, its loop and hub, and the trusted peer the harness plays; made once by fixture(). */
static struct {
    bool ready;
    uv_loop_t loop;
    gm_mem_hub_t *hub;
    gm_node_t *node;
    FILE *log;
    gm_root_t root;
    gm_noise_protocol_t proto;
    uint8_t prologue[32]; /* "guardmesh/link/1" || the node's mesh id (zero) */
    gm_node_keys_t peer_keys;
    gm_cert_t peer_cert;
    uint8_t peer_ephemeral[GM_NOISE_DH_LEN];
} fx;

/* The harness's end of one connection to the node. */
static struct {
    gm_conn_t *conn;
    bool dialed, ended, closed, overflow;
    uint8_t in[4096]; /* what the node sent */
    size_t in_len;
    gm_noise_handshake_t hs;
    gm_noise_cipher_t tx, rx;
} peer;

/* Data the node must deliver (mode 3) and what it did deliver, as a count and a hash. */
static struct {
    uint64_t want_count, got_count, want_hash, got_hash;
    size_t pend_len;       /* the model of the node's reassembly (Data.more) */
    uint32_t pend_channel;
} dat;
static uint8_t pend[1u << 20]; /* limits.max_message, the default */

static uint8_t arena1[FUZZ_ARENA_LEN], arena2[FUZZ_ARENA_LEN];
static uint8_t wire[FUZZ_WIRE_MAX]; /* what the peer sends after the handshake; then scratch */

/* ---- a fixed RNG for libsodium (splitmix64) ---- */

#define FUZZ_RNG_SEED 0x6775617264667a7aull

static uint64_t rng_state;

static const char *rng_name(void)
{
    return "guardmesh-link-fuzz";
}

static void rng_buf(void *const buf, const size_t size)
{
    uint8_t *p = buf;

    for (size_t i = 0; i < size; i++) {
        uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        p[i] = (uint8_t)(z ^ (z >> 31));
    }
}

static uint32_t rng_random(void)
{
    uint32_t x;

    rng_buf(&x, sizeof x);
    return x;
}

static randombytes_implementation rng_impl = {
    .implementation_name = rng_name,
    .random = rng_random,
    .buf = rng_buf,
};

/* ---- small helpers ---- */

/* FNV-1a over channel, length and every byte of the data. */
static uint64_t data_hash(uint64_t h, uint32_t channel, const uint8_t *data, size_t len)
{
    const uint64_t head[2] = {channel, len};

    for (size_t i = 0; i < sizeof head + len; i++) {
        h = (h ^ (i < sizeof head ? ((const uint8_t *)head)[i] : data[i - sizeof head])) *
            0x100000001b3ull;
    }
    return h;
}

/* Takes the next u16-length-prefixed piece of *p, cut to what is left and to one frame. */
static bool take_piece(const uint8_t **p, size_t *left, const uint8_t **piece, size_t *piece_len)
{
    size_t want;

    if (*left < 2) {
        return false;
    }
    want = ((size_t)(*p)[0] << 8) | (*p)[1];
    *p += 2;
    *left -= 2;
    want = want < *left ? want : *left;
    *piece = *p;
    *piece_len = want < GM_NOISE_MAX_MSG_LEN - GM_NOISE_TAG_LEN
                     ? want
                     : GM_NOISE_MAX_MSG_LEN - GM_NOISE_TAG_LEN;
    *p += *piece_len;
    *left -= *piece_len;
    return true;
}

/* Field comparisons for the *_equal() functions below, over a and b. */
#define SAME(f) (a->f == b->f)
#define SAME_STR(f) (strcmp(a->f, b->f) == 0)
#define SAME_MEM(f) (memcmp(a->f, b->f, sizeof a->f) == 0)

/* ---- (a) LinkMsg ---- */

static bool linkmsg_equal(const gm_linkmsg_t *a, const gm_linkmsg_t *b)
{
    return SAME(kind) && SAME(seq) && SAME(channel) && SAME(reason) && SAME_STR(text) &&
           same_bytes(a->payload, a->payload_len, b->payload, b->payload_len);
}

static void fuzz_linkmsg(uint8_t flags, const uint8_t *body, size_t len)
{
    gm_wire_arena_t a1 = {arena1, sizeof arena1, 0}, a2 = {arena2, sizeof arena2, 0};
    gm_wire_arena_t small = {arena2, 64u * (flags >> FUZZ_HIGH_SHIFT), 0};
    gm_linkmsg_t m1, m2;
    size_t size, enc_len;
    uint8_t *enc;

    if (gm_wire_linkmsg_decode(body, len, &a1, &m1) != 0) {
        return;
    }
    FUZZ_CHECK(m1.kind >= GM_LMSG_KEEPALIVE && m1.kind <= GM_LMSG_CLOSE);
    FUZZ_CHECK(a1.used <= a1.cap && strlen(m1.text) <= GM_CLOSE_TEXT_MAX);
    size = gm_wire_linkmsg_size(&m1);
    enc = malloc(size); /* exactly the size announced, so ASan sees an overrun */
    FUZZ_CHECK(size > 0 && enc != NULL);
    FUZZ_CHECK(gm_wire_linkmsg_encode(&m1, enc, size - 1, &enc_len) == GM_ELIMIT);
    FUZZ_CHECK(gm_wire_linkmsg_encode(&m1, enc, size, &enc_len) == 0 && enc_len == size);
    FUZZ_CHECK(gm_wire_linkmsg_decode(enc, enc_len, &a2, &m2) == 0);
    FUZZ_CHECK(linkmsg_equal(&m1, &m2));
    /* a small arena may refuse the message, never decode it otherwise */
    if (gm_wire_linkmsg_decode(body, len, &small, &m2) == 0) {
        FUZZ_CHECK(small.used <= small.cap && linkmsg_equal(&m1, &m2));
    }
    free(enc);
}

/* ---- (b) LinkHello, (c) Beacon ---- */

static bool hello_equal(const gm_hello_t *a, const gm_hello_t *b)
{
    return SAME(version) && same_bytes(a->cert, a->cert_len, b->cert, b->cert_len) &&
           SAME(listen_port) && SAME(time);
}

static bool beacon_equal(const gm_beacon_t *a, const gm_beacon_t *b)
{
    return SAME(version) && SAME(port) && SAME_MEM(mesh_id) && SAME_MEM(node_id);
}

/* Decode, encode, decode, compare; a second encoding gives the same bytes. CODEC: hello, beacon. */
#define ROUND_TRIP(CODEC, TYPE, buf, len)                                                          \
    do {                                                                                           \
        static TYPE v1, v2;                                                                        \
        uint8_t e1[GM_CERT_MAX_LEN + 64], e2[GM_CERT_MAX_LEN + 64];                                \
        size_t e1_len, e2_len;                                                                     \
        if (gm_wire_##CODEC##_decode(buf, len, &v1) == 0) {                                        \
            FUZZ_CHECK(gm_wire_##CODEC##_encode(&v1, e1, sizeof e1, &e1_len) == 0);                \
            FUZZ_CHECK(gm_wire_##CODEC##_decode(e1, e1_len, &v2) == 0);                            \
            FUZZ_CHECK(CODEC##_equal(&v1, &v2));                                                   \
            FUZZ_CHECK(gm_wire_##CODEC##_encode(&v2, e2, sizeof e2, &e2_len) == 0);                \
            FUZZ_CHECK(same_bytes(e1, e1_len, e2, e2_len));                                        \
        }                                                                                          \
    } while (0)

/* ---- (d) control requests and responses ---- */

static bool counters_equal(const gm_counter_t *a, const gm_counter_t *b, size_t n)
{
    bool same = true;

    for (size_t i = 0; same && i < n; i++, a++, b++) {
        same = SAME_STR(name) && SAME(value);
    }
    return same;
}

static bool status_equal(const gm_status_info_t *a, const gm_status_info_t *b)
{
    bool same = SAME_MEM(node_id) && SAME_MEM(mesh_id) && SAME_STR(callsign) && SAME_STR(org) &&
                SAME_STR(role) && SAME(uptime_ms) && SAME(n_listening) && SAME(links) &&
                SAME(handshakes) && SAME(n_refusals) && SAME(n_events) &&
                counters_equal(a->refusals, b->refusals, a->n_refusals) &&
                counters_equal(a->events, b->events, a->n_events);

    for (size_t i = 0; same && i < a->n_listening; i++) {
        same = SAME_STR(listening[i]);
    }
    return same;
}

static bool peer_info_equal(const gm_peer_info_t *a, const gm_peer_info_t *b)
{
    return SAME_MEM(node_id) && SAME_STR(callsign) && SAME_STR(org) && SAME_STR(role) &&
           SAME_STR(address) && SAME(inbound) && SAME(age_ms) && SAME(bytes_in) &&
           SAME(bytes_out) && SAME(frames_in) && SAME(frames_out) && SAME(last_seen_ms) &&
           SAME(rekeys);
}

static bool response_equal(const gm_control_response_t *a, const gm_control_response_t *b)
{
    bool same = SAME(error) && SAME_STR(message) && SAME(has_status) &&
                (!a->has_status || status_equal(&a->status, &b->status)) && SAME(n_peers) &&
                SAME(n_refusals) && counters_equal(a->refusals, b->refusals, a->n_refusals) &&
                same_bytes(a->answer, a->answer_len, b->answer, b->answer_len);

    for (size_t i = 0; same && i < a->n_peers; i++) {
        same = peer_info_equal(&a->peers[i], &b->peers[i]);
    }
    return same;
}

static void fuzz_control(const uint8_t *body, size_t len)
{
    static gm_control_response_t r1, r2;
    gm_control_request_t q1, q2;
    uint8_t *req, *e1, *e2;
    size_t req_len, e1_len, e2_len;

    if (gm_wire_control_request_decode(body, len, &q1) == 0) {
        FUZZ_CHECK(q1.op == GM_OP_STATUS || q1.op == GM_OP_PEERS || q1.op == GM_OP_MESH ||
                   q1.op == GM_OP_MESSENGER);
        req = malloc(gm_wire_control_request_size(&q1) + 1);
        FUZZ_CHECK(req != NULL);
        FUZZ_CHECK(gm_wire_control_request_encode(&q1, req, gm_wire_control_request_size(&q1),
                                                  &req_len) == 0);
        FUZZ_CHECK(gm_wire_control_request_decode(req, req_len, &q2) == 0 && q1.op == q2.op);
        FUZZ_CHECK(same_bytes(q1.arg, q1.arg_len, q2.arg, q2.arg_len));
        free(req);
        gm_control_request_free(&q1);
        gm_control_request_free(&q2);
    }
    if (gm_wire_control_response_decode(body, len, &r1) != 0) {
        return;
    }
    FUZZ_CHECK(r1.n_peers <= GM_CONTROL_MAX_PEERS && r1.n_refusals <= GM_CONTROL_MAX_COUNTERS);
    FUZZ_CHECK(gm_wire_control_response_encode(&r1, &e1, &e1_len) == 0);
    FUZZ_CHECK(gm_wire_control_response_decode(e1, e1_len, &r2) == 0);
    FUZZ_CHECK(response_equal(&r1, &r2));
    FUZZ_CHECK(gm_wire_control_response_encode(&r2, &e2, &e2_len) == 0);
    FUZZ_CHECK(same_bytes(e1, e1_len, e2, e2_len));
    free(e1);
    free(e2);
    gm_control_response_free(&r1);
    gm_control_response_free(&r2);
}

/* ---- the fixture: an organisation, a node listening on mem:fuzz, a trusted peer ---- */

static uint64_t fixed_wall_clock(void *ctx)
{
    (void)ctx;
    return FUZZ_NOW;
}

/* Keys from a fixed secret, and a certificate for them under the fixture root. */
static void make_identity(uint8_t tag, uint64_t serial, const char *callsign, gm_role_t role,
                          uint8_t secret[GM_NODE_SECRET_LEN], gm_node_keys_t *keys, gm_cert_t *cert)
{
    gm_cert_body_t t;

    for (size_t i = 0; i < GM_NODE_SECRET_LEN; i++) {
        secret[i] = (uint8_t)(tag + 13 * i);
    }
    FUZZ_CHECK(gm_node_keys_from_secret(keys, secret) == 0);
    memset(&t, 0, sizeof t);
    snprintf(t.callsign, sizeof t.callsign, "%s", callsign);
    t.serial = serial;
    t.role = role;
    memcpy(t.sign_pk, keys->sign_pk, GM_KEY_LEN);
    memcpy(t.link_pk, keys->link_pk, GM_KEY_LEN);
    memcpy(t.e2e_pk, keys->e2e_pk, GM_KEY_LEN);
    t.not_before = FUZZ_NOW - FUZZ_DAY;
    t.not_after = FUZZ_NOW + 30 * FUZZ_DAY;
    FUZZ_CHECK(gm_cert_issue(root_seed, &fx.root, &t, cert) == 0);
}

/* A failed step of the fixture, with the reason the project gives. */
static void check_why(int err, const gm_why_t *why)
{
    if (err != 0) {
        fprintf(stderr, "link_fuzz: fixture: %s\n", why->msg);
        abort();
    }
}

/*
 * Writes the node directory as `guardmesh ca issue` would, loads the node
 * from it and removes it: the node reads its files only when it is made.
 */
static void make_node(const gm_node_env_t *env, const gm_node_config_t *cfg)
{
    char dir[] = "/tmp/gm-link-fuzz.XXXXXX", key[GM_PATH_MAX], cert[GM_PATH_MAX];
    char trust[GM_PATH_MAX], root[GM_PATH_MAX];
    uint8_t secret[GM_NODE_SECRET_LEN];
    gm_node_keys_t keys;
    static gm_cert_t node_cert;
    gm_why_t why;

    make_identity(0x31, 1, "fuzz-node", GM_ROLE_RELAY, secret, &keys, &node_cert);
    FUZZ_CHECK(mkdtemp(dir) != NULL);
    FUZZ_CHECK(gm_path_join(key, sizeof key, dir, GM_FILE_NODE_KEY) == 0);
    FUZZ_CHECK(gm_path_join(cert, sizeof cert, dir, GM_FILE_NODE_CERT) == 0);
    FUZZ_CHECK(gm_path_join(trust, sizeof trust, dir, GM_DIR_TRUST) == 0);
    FUZZ_CHECK(gm_trust_root_path(dir, &fx.root, root, sizeof root) == 0);
    check_why(gm_key_save(key, GM_KEY_NODE, secret, sizeof secret, NULL, 0, true, &why), &why);
    check_why(gm_blob_save(cert, node_cert.encoded, node_cert.encoded_len, false, &why), &why);
    FUZZ_CHECK(gm_dir_ensure(trust) == 0);
    check_why(gm_blob_save(root, fx.root.encoded, fx.root.encoded_len, false, &why), &why);
    check_why(gm_node_new(env, dir, cfg, &fx.node, &why), &why);
    FUZZ_CHECK(unlink(key) == 0 && unlink(cert) == 0 && unlink(root) == 0);
    FUZZ_CHECK(rmdir(trust) == 0 && rmdir(dir) == 0);
    sodium_memzero(secret, sizeof secret);
    gm_node_keys_wipe(&keys);
}

static void on_node_data(void *ctx, const uint8_t node_id[GM_ID_LEN], uint32_t channel,
                         const uint8_t *data, size_t len)
{
    (void)ctx;
    FUZZ_CHECK(memcmp(node_id, fx.peer_cert.body.node_id, GM_ID_LEN) == 0);
    FUZZ_CHECK(len <= sizeof pend);
    dat.got_count++;
    dat.got_hash = data_hash(dat.got_hash, channel, data, len); /* reads every byte */
}

static void start_node(void)
{
    gm_node_config_t cfg;
    gm_node_env_t env;
    gm_why_t why;

    gm_config_defaults(&cfg);
    cfg.n_listen = 1;
    snprintf(cfg.listen[0], sizeof cfg.listen[0], "mem:fuzz");
    snprintf(cfg.control_socket, sizeof cfg.control_socket, "none");
    cfg.log_level = GM_LOG_ERROR;
    cfg.handshake_rate = 1000000;
    cfg.handshake_burst = 1000000;
    cfg.max_half_open = 100000;
    cfg.rekey_frames = FUZZ_REKEY_FRAMES;
    memset(&env, 0, sizeof env);
    env.loop = &fx.loop;
    env.hub = fx.hub;
    env.wall_clock = fixed_wall_clock;
    env.log = fx.log;
    make_node(&env, &cfg);
    gm_node_set_data_cb(fx.node, on_node_data, NULL);
    check_why(gm_node_start(fx.node, &why), &why);
}

static void on_node_stopped(gm_node_t *n, void *arg)
{
    (void)n;
    *(bool *)arg = true;
}

/* At exit: stop the node and check that the loop closes with nothing left on it. */
static void teardown(void)
{
    bool stopped = false;

    gm_node_stop(fx.node, on_node_stopped, &stopped);
    while (!stopped) {
        uv_run(&fx.loop, UV_RUN_ONCE);
    }
    gm_node_free(fx.node);
    gm_mem_hub_free(fx.hub);
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    FUZZ_CHECK(uv_loop_close(&fx.loop) == 0);
    fclose(fx.log);
}

static void fixture(void)
{
    uint8_t secret[GM_NODE_SECRET_LEN];

    if (fx.ready) {
        return;
    }
    FUZZ_CHECK(randombytes_set_implementation(&rng_impl) == 0); /* before sodium_init */
    rng_state = FUZZ_RNG_SEED;
    FUZZ_CHECK(sodium_init() >= 0);
    FUZZ_CHECK(gm_root_create(root_seed, "fuzz-org", FUZZ_NOW - 10 * FUZZ_DAY, &fx.root) == 0);
    make_identity(0x52, 2, "fuzz-peer", GM_ROLE_HANDHELD, secret, &fx.peer_keys, &fx.peer_cert);
    memset(fx.peer_ephemeral, 0x63, sizeof fx.peer_ephemeral);
    FUZZ_CHECK(gm_noise_protocol_parse("Noise_XX_25519_ChaChaPoly_SHA256", &fx.proto) == 0);
    memcpy(fx.prologue, "guardmesh/link/1", 16); /* then the default mesh id: 16 zero bytes */
    FUZZ_CHECK((fx.log = fopen("/dev/null", "w")) != NULL);
    FUZZ_CHECK(uv_loop_init(&fx.loop) == 0);
    FUZZ_CHECK(gm_mem_hub_new(&fx.loop, &fx.hub) == 0);
    start_node();
    FUZZ_CHECK(atexit(teardown) == 0);
    fx.ready = true;
}

/* ---- the loop ---- */

static void find_active_idle(uv_handle_t *h, void *arg)
{
    if (h->type == UV_IDLE && uv_is_active(h)) {
        *(bool *)arg = true;
    }
}

/* Runs the loop until the hub has nothing left to deliver (its idle handle stopped). */
static void run_until_quiet(void)
{
    for (int i = 0; i < FUZZ_MAX_TURNS; i++) {
        bool busy = false;

        uv_run(&fx.loop, UV_RUN_NOWAIT);
        uv_walk(&fx.loop, find_active_idle, &busy);
        if (!busy) {
            return;
        }
    }
    FUZZ_CHECK(!"the loop does not settle");
}

/* ---- the peer's connection ---- */

static void on_peer_data(void *ctx, const uint8_t *data, size_t len)
{
    size_t room = sizeof peer.in - peer.in_len;

    (void)ctx;
    if (len > room) {
        peer.overflow = true;
        len = room;
    }
    memcpy(peer.in + peer.in_len, data, len);
    peer.in_len += len;
}

static void on_peer_end(void *ctx, int err)
{
    (void)ctx;
    (void)err;
    peer.ended = true;
}

static void on_peer_dialed(void *ctx, gm_conn_t *conn, int status)
{
    (void)ctx;
    FUZZ_CHECK(status == 0 && conn != NULL); /* the node still listens */
    peer.dialed = true;
    peer.conn = conn;
    conn->cbs = (gm_conn_cbs_t){on_peer_data, on_peer_end, NULL};
    conn->ctx = &peer;
    conn->ops->read_start(conn);
}

static uint64_t accept_refusals(void)
{
    return gm_node_refusals(fx.node, GM_REFUSE_RATE_LIMITED) +
           gm_node_refusals(fx.node, GM_REFUSE_HALF_OPEN_LIMIT) +
           gm_node_refusals(fx.node, GM_REFUSE_LINK_LIMIT);
}

/* Dials the node, which must accept the connection: its limits never refuse the harness. */
static void peer_connect(void)
{
    uint64_t refused = accept_refusals();
    gm_dial_t *dial;

    memset(&peer, 0, sizeof peer);
    FUZZ_CHECK(gm_dial(&fx.loop, fx.hub, "mem:fuzz", on_peer_dialed, NULL, &dial) == 0);
    run_until_quiet();
    FUZZ_CHECK(peer.dialed && !peer.ended && accept_refusals() == refused);
}

/* Writes len bytes of data in writes of at most chunk bytes. */
static void peer_write(const uint8_t *data, size_t len, size_t chunk)
{
    while (len > 0) {
        size_t n = len < chunk ? len : chunk;
        uint8_t *copy = malloc(n);

        FUZZ_CHECK(copy != NULL);
        memcpy(copy, data, n);
        FUZZ_ON_SEND(data, n);
        FUZZ_CHECK(gm_conn_write(peer.conn, copy, n) == 0); /* the transport owns copy */
        data += n;
        len -= n;
    }
}

static void peer_write_frame(const uint8_t *msg, size_t len)
{
    uint8_t frame[2 + FUZZ_HS_MAX];

    FUZZ_CHECK(len <= FUZZ_HS_MAX);
    frame[0] = (uint8_t)(len >> 8);
    frame[1] = (uint8_t)len;
    memcpy(frame + 2, msg, len);
    peer_write(frame, len + 2, len + 2);
}

static void peer_close(void)
{
    if (!peer.closed) {
        gm_conn_close(peer.conn);
        peer.closed = true;
    }
}

/* ---- (e) the node ---- */

/* The genuine msg3 payload: the peer's certificate, signed over 0x02 || h (linkauth). */
static size_t genuine_hello(uint8_t *out, size_t cap)
{
    static gm_hello_t h;
    uint8_t auth[1 + GM_NOISE_MAX_HASH_LEN];
    size_t h_len, len;
    const uint8_t *hash = gm_noise_handshake_hash(&peer.hs, &h_len);

    memset(&h, 0, sizeof h);
    h.version = 1;
    memcpy(h.cert, fx.peer_cert.encoded, fx.peer_cert.encoded_len);
    h.cert_len = fx.peer_cert.encoded_len;
    h.time = FUZZ_NOW;
    h.rekey_frames = 65536;
    auth[0] = 0x02;
    memcpy(auth + 1, hash, h_len);
    FUZZ_CHECK(gm_node_keys_sign(&fx.peer_keys, "guardmesh/linkauth/1", auth, 1 + h_len,
                                 h.signature) == 0);
    FUZZ_CHECK(gm_wire_hello_encode(&h, out, cap, &len) == 0);
    return len;
}

/*
 * -> e; <- e, ee, s, es (read from the connection); -> s, se with hello as the
 * payload, or the genuine one if hello is NULL.
 */
static void peer_handshake(const uint8_t *hello, size_t hello_len)
{
    uint8_t genuine[FUZZ_HS_MAX];

    static const uint8_t version = 1;
    const gm_cert_t *cert = gm_node_cert(fx.node);
    uint8_t msg[FUZZ_HS_MAX], payload[FUZZ_HS_MAX];
    static gm_hello_t h;
    size_t n, flen;

    gm_noise_handshake_init(&peer.hs, &fx.proto, true, fx.prologue, sizeof fx.prologue, NULL, NULL);
    FUZZ_CHECK(gm_noise_handshake_set_static(&peer.hs, fx.peer_keys.link_sk) == 0);
    FUZZ_CHECK(gm_noise_handshake_set_ephemeral(&peer.hs, fx.peer_ephemeral) == 0);
    FUZZ_CHECK(gm_noise_handshake_start(&peer.hs) == 0);
    FUZZ_CHECK(gm_noise_handshake_write(&peer.hs, &version, 1, msg, sizeof msg, &n) == 0);
    peer_write_frame(msg, n);
    run_until_quiet();
    FUZZ_CHECK(!peer.ended && peer.in_len >= 2); /* the node answers msg1 */
    flen = ((size_t)peer.in[0] << 8) | peer.in[1];
    FUZZ_CHECK(peer.in_len == 2 + flen);
    FUZZ_CHECK(gm_noise_handshake_read(&peer.hs, peer.in + 2, flen, payload, sizeof payload, &n) ==
               0);
    FUZZ_CHECK(gm_wire_hello_decode(payload, n, &h) == 0 && h.version == 1); /* the node's */
    FUZZ_CHECK(same_bytes(h.cert, h.cert_len, cert->encoded, cert->encoded_len));
    peer.in_len = 0;
    if (hello == NULL) {
        hello_len = genuine_hello(genuine, sizeof genuine);
        hello = genuine;
    }
    FUZZ_CHECK(gm_noise_handshake_write(&peer.hs, hello, hello_len, msg, sizeof msg, &n) == 0);
    peer_write_frame(msg, n);
    FUZZ_CHECK(gm_noise_handshake_split(&peer.hs, &peer.tx, &peer.rx) == 0);
}

/* What the node does with one sealed piece; false once it stops reading. */
static bool predict_piece(const uint8_t *piece, size_t len)
{
    gm_wire_arena_t a = {arena1, sizeof arena1, 0};
    gm_linkmsg_t m;

    if (gm_wire_linkmsg_decode(piece, len, &a, &m) != 0 || m.kind == GM_LMSG_CLOSE) {
        return false; /* the node closes the link */
    }
    if (m.kind != GM_LMSG_DATA) {
        return true;
    }
    if (!m.more && dat.pend_len == 0) { /* a whole message in one piece */
        dat.want_count++;
        dat.want_hash = data_hash(dat.want_hash, m.channel, m.payload, m.payload_len);
        return true;
    }
    if ((dat.pend_len > 0 && m.channel != dat.pend_channel) ||
        dat.pend_len + m.payload_len > sizeof pend) {
        return false; /* pieces of two channels, or over the limit: the node closes */
    }
    if (m.payload_len > 0) {
        memcpy(pend + dat.pend_len, m.payload, m.payload_len);
    }
    dat.pend_len += m.payload_len;
    dat.pend_channel = m.channel;
    if (!m.more) {
        dat.want_count++;
        dat.want_hash = data_hash(dat.want_hash, m.channel, pend, dat.pend_len);
        dat.pend_len = 0;
    }
    return true;
}

/* Mode 3: every piece of the body as one transport frame in wire; returns its length. */
static size_t seal_pieces(const uint8_t *body, size_t len)
{
    const uint8_t *piece;
    size_t piece_len, n = 0, ct_len;
    uint64_t frames = 0;
    bool reading = true;

    while (take_piece(&body, &len, &piece, &piece_len)) {
        FUZZ_CHECK(gm_noise_encrypt(&peer.tx, NULL, 0, piece, piece_len, wire + n + 2,
                                    sizeof wire - n - 2, &ct_len) == 0);
        wire[n] = (uint8_t)(ct_len >> 8);
        wire[n + 1] = (uint8_t)ct_len;
        n += 2 + ct_len;
        if (++frames % FUZZ_REKEY_FRAMES == 0) {
            gm_noise_rekey(&peer.tx); /* as the node's receiver does */
        }
        reading = reading && predict_piece(piece, piece_len);
    }
    return n;
}

/*
 * What the node sent after the handshake: whole frames that decrypt to
 * LinkMsgs, never Data (nothing sends any), and a Close last if and only if
 * the node closed the link.
 */
static void check_node_output(void)
{
    gm_wire_arena_t a = {arena1, sizeof arena1, 0};
    gm_lmsg_kind_t last = GM_LMSG_KEEPALIVE;
    uint64_t frames = 0;
    size_t off = 0, flen, plen;
    gm_linkmsg_t m;

    while (!peer.overflow && peer.in_len - off >= 2) {
        flen = ((size_t)peer.in[off] << 8) | peer.in[off + 1];
        FUZZ_CHECK(peer.in_len - off - 2 >= flen);
        FUZZ_CHECK(gm_noise_decrypt(&peer.rx, NULL, 0, peer.in + off + 2, flen, wire, sizeof wire,
                                    &plen) == 0);
        FUZZ_CHECK(gm_wire_linkmsg_decode(wire, plen, &a, &m) == 0);
        FUZZ_CHECK(m.kind != GM_LMSG_DATA && last != GM_LMSG_CLOSE);
        last = m.kind;
        if (++frames % FUZZ_REKEY_FRAMES == 0) {
            gm_noise_rekey(&peer.rx);
        }
        off += 2 + flen;
    }
    FUZZ_CHECK(peer.overflow || off == peer.in_len);
    FUZZ_CHECK(peer.overflow || peer.closed || (last == GM_LMSG_CLOSE) == peer.ended);
}

/* Links up minus links down, which must be the links the node reports. */
static uint64_t links_open(void)
{
    uint64_t up = gm_node_events(fx.node, GM_EVENT_LINK_UP);
    uint64_t down = gm_node_events(fx.node, GM_EVENT_LINK_DOWN);

    FUZZ_CHECK(down <= up); /* a link count below zero */
    FUZZ_CHECK(gm_node_link_count(fx.node) == up - down);
    return up - down;
}

/* What the node's state must be once the body has been handled. */
static void check_after_body(unsigned mode, bool own_hello, uint64_t ups)
{
    uint64_t open = links_open(), up = gm_node_events(fx.node, GM_EVENT_LINK_UP) - ups;

    FUZZ_CHECK(open <= 1);
    if (peer.ended || peer.closed) {
        FUZZ_CHECK(open == 0); /* the node closed its end, or saw ours close */
    }
    if (mode == MODE_RAW) {
        return;
    }
    FUZZ_CHECK(up == 1 || (own_hello && up == 0)); /* the real hello is accepted */
    if (up == 0) { /* refused in the handshake: no frame, no data, the connection closed */
        FUZZ_CHECK(peer.in_len == 0 && dat.got_count == 0 && (peer.ended || peer.closed));
        return;
    }
    FUZZ_CHECK(peer.ended || peer.closed || open == 1);
    check_node_output();
    if (mode == MODE_SEALED) {
        FUZZ_CHECK(dat.got_count == dat.want_count && dat.got_hash == dat.want_hash);
    }
}

/* Modes 2 and 3: the handshake, with the hello taken from the body if the flags say so. */
static bool handshake_for(uint8_t flags, const uint8_t **body, size_t *len)
{
    const uint8_t *hello;
    size_t hello_len;

    if ((flags & FUZZ_OWN_HELLO) && take_piece(body, len, &hello, &hello_len)) {
        peer_handshake(hello, hello_len < FUZZ_HELLO_MAX ? hello_len : FUZZ_HELLO_MAX);
        return true;
    }
    peer_handshake(NULL, 0);
    return false;
}

static void fuzz_node(uint8_t flags, const uint8_t *body, size_t len)
{
    unsigned mode = flags & FUZZ_MODE_MASK;
    uint64_t ups = gm_node_events(fx.node, GM_EVENT_LINK_UP);
    size_t n, chunk = SIZE_MAX;
    bool own_hello = false;

    rng_state = FUZZ_RNG_SEED;
    memset(&dat, 0, sizeof dat);
    peer_connect();
    if (mode != MODE_RAW) {
        own_hello = handshake_for(flags, &body, &len);
    }
    n = len;
    if (mode == MODE_SEALED) {
        n = seal_pieces(body, len);
    } else {
        memcpy(wire, body, len);
    }
    if (flags & FUZZ_SPLIT) {
        chunk = (size_t)1 << ((flags >> FUZZ_HIGH_SHIFT) & FUZZ_CHUNK_MASK);
        chunk = n / chunk < FUZZ_MAX_WRITES ? chunk : n / FUZZ_MAX_WRITES + 1;
    }
    peer_write(wire, n, chunk);
    if (flags & FUZZ_CLOSE_EARLY) {
        peer_close();
    }
    run_until_quiet();
    check_after_body(mode, own_hello, ups);
    peer_close();
    run_until_quiet();
    FUZZ_CHECK(links_open() == 0);
    gm_noise_handshake_close(&peer.hs);
    gm_noise_cipher_close(&peer.tx);
    gm_noise_cipher_close(&peer.rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t flags = size > 0 ? data[0] : 0;
    const uint8_t *body = size > 0 ? data + 1 : data;
    size_t len = size > 0 ? size - 1 : 0;

    len = len < FUZZ_MAX_BODY ? len : FUZZ_MAX_BODY;
    fixture();
    fuzz_linkmsg(flags, body, len);
    ROUND_TRIP(hello, gm_hello_t, body, len);
    ROUND_TRIP(beacon, gm_beacon_t, body, len);
    fuzz_control(body, len);
    if ((flags & FUZZ_MODE_MASK) != MODE_CODECS) {
        fuzz_node(flags, body, len);
    }
    return 0;
}

/*
 * Fuzzes announcements: the proto/wire_announce.h codecs (decode -> encode ->
 * decode gives the same value, and encoding twice the same bytes) and
 * gm_router_on_update of a router made afresh for every input, whose
 * neighbours B and C are up.
 *
 * Input: one flags byte, then pieces, each a u16 length (big-endian) and that
 * many bytes (cut to what is there). Every piece goes to the three decoders
 * and, as a RouteUpdate, to the router.
 *   bit 0     the router first takes genuine announcements of B (from B) and
 *             D (from C), so that the known-bytes, replay and id-mismatch
 *             paths are reachable
 *   bits 1-2  the pieces come from 0 B, 1 C, 2 D (no link), 3 B and C in turn
 *   bit 3     afterwards B's link goes down, pending updates are taken, and
 *             the router ticks past the route expiry and rechecks its
 *             directory
 *
 * The fixture is deterministic (fixed seeds, fixed time), so seeds in
 * tests/fuzz/corpus/announce/ carry valid signatures. Built with
 * -DANNOUNCE_FUZZ_SEEDS (see the end of this file) it writes those seeds.
 */
#include "tests/fuzz/fuzz.h"
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cert.h"
#include "crypto/keys.h"
#include "node/router.h"
#include "proto/wire_announce.h"

#define FUZZ_NOW 1767225600u /* 2026-01-01T00:00:00Z */
#define FUZZ_DAY 86400u
#define FUZZ_MS 5000u /* the router's clock during the input */

#define FUZZ_PREFEED 0x01u
#define FUZZ_FROM_SHIFT 1
#define FUZZ_FROM_MASK 0x03u
#define FUZZ_AFTERMATH 0x08u



/* A program that #includes this file may define it to see each verdict (seed checks). */
#ifndef FUZZ_ON_VERDICT
#define FUZZ_ON_VERDICT(v) ((void)0)
#endif

enum { FA, FB, FC, FD, FR, F_IDS }; /* FR's certificate is revoked */

static const uint8_t root_seed[GM_SEED_LEN] = "guardmesh/fuzz/announce/root/1";

static struct {
    bool ready;
    gm_root_t root;
    gm_trust_t trust;
    gm_node_keys_t keys[F_IDS];
    gm_cert_t cert[F_IDS];
    gm_router_config_t cfg;
    uint8_t ann_b[GM_ROUTE_UPDATE_MAX], ann_d[GM_ROUTE_UPDATE_MAX];
    size_t ann_b_len, ann_d_len;
} fx;

static gm_router_forward_t fwd;

static void fixture_ident(int i)
{
    uint8_t secret[GM_NODE_SECRET_LEN];
    gm_cert_body_t t;

    for (size_t j = 0; j < sizeof secret; j++) {
        secret[j] = (uint8_t)(0x40 + 31 * i + j); /* three different 32-byte keys */
    }
    FUZZ_CHECK(gm_node_keys_from_secret(&fx.keys[i], secret) == 0);
    memset(&t, 0, sizeof t);
    snprintf(t.callsign, sizeof t.callsign, "node-%d", i);
    t.role = GM_ROLE_HANDHELD;
    t.serial = (uint64_t)i + 1;
    memcpy(t.sign_pk, fx.keys[i].sign_pk, GM_KEY_LEN);
    memcpy(t.link_pk, fx.keys[i].link_pk, GM_KEY_LEN);
    memcpy(t.e2e_pk, fx.keys[i].e2e_pk, GM_KEY_LEN);
    t.not_before = FUZZ_NOW - FUZZ_DAY;
    t.not_after = FUZZ_NOW + 30 * FUZZ_DAY;
    FUZZ_CHECK(gm_cert_issue(root_seed, &fx.root, &t, &fx.cert[i]) == 0);
}

static void fixture_revoke(uint64_t serial)
{
    gm_crl_body_t t;
    gm_crl_t crl;

    memset(&t, 0, sizeof t);
    t.seq = 1;
    t.issued_at = FUZZ_NOW - FUZZ_DAY;
    t.next_update = FUZZ_NOW + FUZZ_DAY;
    t.serials = &serial;
    t.n_serials = 1;
    FUZZ_CHECK(gm_crl_issue(root_seed, &fx.root, &t, &crl) == 0);
    FUZZ_CHECK(gm_trust_add_crl(&fx.trust, &crl) == 0);
}

/* who's announcement at FUZZ_NOW (seq FUZZ_NOW * 1000 + k for its k-th) into out. */
static size_t fixture_announce(int who, int k, uint8_t *out)
{
    gm_router_t *r;
    size_t len = 0;

    FUZZ_CHECK(gm_router_new(&fx.keys[who], &fx.cert[who], &fx.trust, &fx.cfg, &r) == 0);
    for (int i = 0; i <= k; i++) {
        FUZZ_CHECK(gm_router_make_announcement(r, 0, FUZZ_NOW, out, GM_ROUTE_UPDATE_MAX, &len) ==
                   0);
    }
    gm_router_free(r);
    return len;
}

static void fixture(void)
{
    if (fx.ready) {
        return;
    }
    FUZZ_CHECK(sodium_init() >= 0);
    FUZZ_CHECK(gm_root_create(root_seed, "fuzz-org", 1000, &fx.root) == 0);
    gm_trust_init(&fx.trust);
    FUZZ_CHECK(gm_trust_add_root(&fx.trust, &fx.root) == 0);
    for (int i = 0; i < F_IDS; i++) {
        fixture_ident(i);
    }
    fixture_revoke(fx.cert[FR].body.serial);
    gm_router_config_default(&fx.cfg);
    fx.cfg.max_nodes = 4;
    fx.ann_b_len = fixture_announce(FB, 0, fx.ann_b);
    fx.ann_d_len = fixture_announce(FD, 0, fx.ann_d);
    fx.ready = true;
}

/* ---- the codecs ---- */

#define ROUND_TRIP(name, type, buf, len)                                                           \
    do {                                                                                           \
        static type a_, b_;                                                                        \
        static uint8_t e1_[GM_ROUTE_UPDATE_MAX], e2_[GM_ROUTE_UPDATE_MAX];                         \
        size_t n1_, n2_;                                                                           \
        if (gm_wire_##name##_decode(buf, len, &a_) == 0) {                                         \
            FUZZ_CHECK(gm_wire_##name##_encode(&a_, e1_, sizeof e1_, &n1_) == 0);                  \
            FUZZ_CHECK(gm_wire_##name##_decode(e1_, n1_, &b_) == 0);                               \
            FUZZ_CHECK(gm_wire_##name##_encode(&b_, e2_, sizeof e2_, &n2_) == 0);                  \
            FUZZ_CHECK(n1_ == n2_ && memcmp(e1_, e2_, n1_) == 0);                                  \
        }                                                                                          \
    } while (0)

static void fuzz_codecs(const uint8_t *buf, size_t len)
{
    ROUND_TRIP(announce, gm_announce_t, buf, len);
    ROUND_TRIP(announce_signed, gm_announce_signed_t, buf, len);
    ROUND_TRIP(route_update, gm_route_update_t, buf, len);
}

/* ---- the router ---- */

static const uint8_t *id_of(int who)
{
    return fx.cert[who].body.node_id;
}

/* Every route goes through a neighbour whose link is up (B or C, or C alone after B's loss). */
static void check_routes(const gm_router_t *r, bool b_up)
{
    gm_route_info_t info;

    FUZZ_CHECK(gm_router_node_count(r) <= fx.cfg.max_nodes);
    for (size_t i = 0; gm_router_route_at(r, i, FUZZ_MS, &info) == 0; i++) {
        gm_router_node_t n;

        FUZZ_CHECK(gm_router_lookup(r, info.dest, &n) == 0);
        FUZZ_CHECK(memcmp(info.dest, id_of(FA), GM_ID_LEN) != 0);
        if (info.reachable) {
            FUZZ_CHECK((b_up && memcmp(info.next_hop, id_of(FB), GM_ID_LEN) == 0) ||
                       memcmp(info.next_hop, id_of(FC), GM_ID_LEN) == 0);
            FUZZ_CHECK(info.metric >= 1 && info.metric < fx.cfg.infinity);
        }
    }
}

/* One update: the verdict agrees with what is forwarded and what the directory holds. */
static void feed(gm_router_t *r, int from, const uint8_t *buf, size_t len)
{
    gm_router_verdict_t v = gm_router_on_update(r, id_of(from), buf, len, FUZZ_MS, FUZZ_NOW, &fwd);
    static gm_route_update_t u;
    gm_router_node_t n;

    FUZZ_CHECK((unsigned)v < GM_ROUTER_VERDICT_COUNT);
    FUZZ_ON_VERDICT(v);
    FUZZ_CHECK((fwd.len > 0) ==
               (v == GM_ROUTER_ACCEPTED_NEW || v == GM_ROUTER_ACCEPTED_ROUTE_ONLY));
    if (fwd.len > 0) {
        FUZZ_CHECK(gm_wire_route_update_decode(fwd.update, fwd.len, &u) == 0);
        FUZZ_CHECK(u.metric >= 1 && u.metric <= fx.cfg.infinity);
        FUZZ_CHECK(gm_router_lookup(r, fwd.origin, &n) == 0 && n.seq == fwd.seq);
    }
    if (v == GM_ROUTER_NO_LINK) {
        FUZZ_CHECK(from == FD);
    }
}

/* Takes every pending update: each decodes, and there is at most one per directory entry. */
static void drain_pending(gm_router_t *r)
{
    static gm_route_update_t u;
    uint8_t out[GM_ROUTE_UPDATE_MAX];
    size_t len, n = 0;

    while (gm_router_take_pending(r, out, sizeof out, &len) == 0) {
        FUZZ_CHECK(gm_wire_route_update_decode(out, len, &u) == 0);
        FUZZ_CHECK(++n <= fx.cfg.max_nodes);
    }
}

static void aftermath(gm_router_t *r)
{
    uint8_t out[GM_ROUTE_UPDATE_MAX];
    gm_route_info_t info;
    size_t len;

    gm_router_link_down(r, id_of(FB));
    drain_pending(r);
    check_routes(r, false);
    gm_router_tick(r, FUZZ_MS + fx.cfg.route_expiry_ms, FUZZ_NOW);
    drain_pending(r);
    gm_router_recheck(r, FUZZ_NOW);
    for (size_t i = 0; gm_router_route_at(r, i, FUZZ_MS, &info) == 0; i++) {
        FUZZ_CHECK(!info.reachable); /* every route expired */
        FUZZ_CHECK(gm_router_encode_route(r, i, out, sizeof out, &len) == 0);
    }
}

/* Every update was counted under exactly one verdict. */
static void check_counted(const gm_router_t *r, uint64_t calls)
{
    gm_router_stats_t st;
    uint64_t sum = 0;

    gm_router_stats(r, &st);
    for (int v = 0; v < GM_ROUTER_VERDICT_COUNT; v++) {
        sum += st.verdicts[v];
    }
    FUZZ_CHECK(sum == calls);
}

static bool take_piece(const uint8_t **data, size_t *size, const uint8_t **piece, size_t *len)
{
    size_t n;

    if (*size < 2) {
        return false;
    }
    n = ((size_t)(*data)[0] << 8) | (*data)[1];
    *data += 2;
    *size -= 2;
    n = n < *size ? n : *size;
    *piece = *data;
    *len = n;
    *data += n;
    *size -= n;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int from_of[4] = {FB, FC, FD, FB};
    uint8_t flags = size > 0 ? data[0] : 0;
    const uint8_t *piece;
    size_t len, calls = 0;
    gm_router_t *r;
    int k = 0;

    fixture();
    data += size > 0 ? 1 : 0;
    size -= size > 0 ? 1 : 0;
    FUZZ_CHECK(gm_router_new(&fx.keys[FA], &fx.cert[FA], &fx.trust, &fx.cfg, &r) == 0);
    FUZZ_CHECK(gm_router_link_up(r, id_of(FB)) == 0 && gm_router_link_up(r, id_of(FC)) == 0);
    if (flags & FUZZ_PREFEED) {
        feed(r, FB, fx.ann_b, fx.ann_b_len);
        feed(r, FC, fx.ann_d, fx.ann_d_len);
        calls += 2;
    }
    while (take_piece(&data, &size, &piece, &len)) {
        int mode = (flags >> FUZZ_FROM_SHIFT) & FUZZ_FROM_MASK;
        int from = mode == 3 ? (k++ % 2 ? FC : FB) : from_of[mode];

        fuzz_codecs(piece, len);
        feed(r, from, piece, len);
        calls++;
    }
    check_routes(r, true);
    check_counted(r, calls);
    if (flags & FUZZ_AFTERMATH) {
        aftermath(r);
    }
    gm_router_free(r);
    return 0;
}

#ifdef ANNOUNCE_FUZZ_SEEDS
/*
 * Writes the seed corpus into the directory argv[1]. Build it next to the
 * harness, e.g. with the static libraries of a build directory B:
 *   cc -std=c11 -D_DEFAULT_SOURCE -DANNOUNCE_FUZZ_SEEDS -I. -IB/gen/proto \
 *      tests/fuzz/announce_fuzz.c B/libgm_node.a B/libgm_crypto.a B/libgm_proto.a \
 *      -lsodium -lprotobuf-c -o /tmp/announce_seeds
 */
static uint8_t seed_buf[8 * GM_ROUTE_UPDATE_MAX];
static size_t seed_len;

static void seed_start(uint8_t flags)
{
    seed_buf[0] = flags;
    seed_len = 1;
}

static void seed_piece(const uint8_t *p, size_t len)
{
    seed_buf[seed_len] = (uint8_t)(len >> 8);
    seed_buf[seed_len + 1] = (uint8_t)len;
    memcpy(seed_buf + seed_len + 2, p, len);
    seed_len += 2 + len;
}

/* The update in/len with metric, as a piece. */
static void seed_relayed(const uint8_t *in, size_t len, uint32_t metric)
{
    static gm_route_update_t u;
    uint8_t out[GM_ROUTE_UPDATE_MAX];

    FUZZ_CHECK(gm_wire_route_update_decode(in, len, &u) == 0);
    u.metric = metric;
    FUZZ_CHECK(gm_wire_route_update_encode(&u, out, sizeof out, &len) == 0);
    seed_piece(out, len);
}

/* signer's signature over an announcement carrying cert_of's certificate, as a piece. */
static void seed_forged(int signer, int cert_of)
{
    static gm_announce_t a;
    static gm_announce_signed_t s;
    static gm_route_update_t u;
    uint8_t out[GM_ROUTE_UPDATE_MAX];
    size_t len;

    memset(&a, 0, sizeof a);
    memcpy(a.cert, fx.cert[cert_of].encoded, fx.cert[cert_of].encoded_len);
    a.cert_len = fx.cert[cert_of].encoded_len;
    a.seq = (uint64_t)FUZZ_NOW * 1000 + 7;
    a.time = FUZZ_NOW;
    FUZZ_CHECK(gm_wire_announce_encode(&a, s.body, sizeof s.body, &s.body_len) == 0);
    FUZZ_CHECK(
        gm_node_keys_sign(&fx.keys[signer], GM_ROUTER_CTX, s.body, s.body_len, s.signature) == 0);
    FUZZ_CHECK(gm_wire_announce_signed_encode(&s, u.announcement, sizeof u.announcement,
                                              &u.announcement_len) == 0);
    u.metric = 0;
    FUZZ_CHECK(gm_wire_route_update_encode(&u, out, sizeof out, &len) == 0);
    seed_piece(out, len);
}

static void seed_write(const char *dir, const char *name)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL && fwrite(seed_buf, 1, seed_len, f) == seed_len && fclose(f) == 0);
    LLVMFuzzerTestOneInput(seed_buf, seed_len); /* each seed runs clean */
}

/* The announcement in in/len without its RouteUpdate (inner = 1) or also without its signature. */
static void seed_inner(const uint8_t *in, size_t len, int inner)
{
    static gm_route_update_t u;
    static gm_announce_signed_t s;

    FUZZ_CHECK(gm_wire_route_update_decode(in, len, &u) == 0);
    FUZZ_CHECK(gm_wire_announce_signed_decode(u.announcement, u.announcement_len, &s) == 0);
    if (inner == 1) {
        seed_piece(u.announcement, u.announcement_len);
    } else {
        seed_piece(s.body, s.body_len);
    }
}

/* A short update for who's announcement number seq, as a piece. */
static void seed_short(int who, uint64_t seq, uint32_t metric)
{
    static gm_route_update_t u;
    uint8_t out[GM_ROUTE_SHORT_MAX];
    size_t len;

    memset(&u, 0, sizeof u);
    memcpy(u.origin, id_of(who), GM_ID_LEN);
    u.seq = seq;
    u.metric = metric;
    FUZZ_CHECK(gm_wire_route_update_encode(&u, out, sizeof out, &len) == 0);
    seed_piece(out, len);
}

/* The seeds that need a second announcement of D or the revoked node's. */
static void seed_more(const char *dir)
{
    uint8_t d2[GM_ROUTE_UPDATE_MAX], rv[GM_ROUTE_UPDATE_MAX];
    size_t d2_len = fixture_announce(FD, 1, d2), rv_len = fixture_announce(FR, 0, rv);

    seed_start(FUZZ_PREFEED);
    seed_piece(d2, d2_len);
    seed_piece(fx.ann_d, fx.ann_d_len);
    seed_write(dir, "newer_then_replayed.bin");
    seed_start(0x00);
    seed_piece(rv, rv_len);
    seed_write(dir, "revoked.bin");
    /* from C: D's held number with a better metric, a number not held, our own id */
    seed_start(FUZZ_PREFEED | (1u << FUZZ_FROM_SHIFT));
    seed_short(FD, (uint64_t)FUZZ_NOW * 1000, 0);
    seed_short(FD, (uint64_t)FUZZ_NOW * 1000 + 1, 1);
    seed_short(FA, 5, 1);
    seed_write(dir, "short_updates.bin");
}

int main(int argc, char **argv)
{
    FUZZ_CHECK(argc == 2);
    fixture();
    seed_more(argv[1]);
    seed_start(0x00);
    seed_relayed(fx.ann_d, fx.ann_d_len, 1);
    seed_write(argv[1], "relayed_from_b.bin");
    seed_start(FUZZ_PREFEED);
    seed_forged(FB, FD);
    seed_forged(FB, FA);
    seed_write(argv[1], "id_mismatch.bin");
    seed_start(FUZZ_PREFEED | (1u << FUZZ_FROM_SHIFT) | FUZZ_AFTERMATH);
    seed_relayed(fx.ann_d, fx.ann_d_len, fx.cfg.infinity);
    seed_relayed(fx.ann_b, fx.ann_b_len, 1);
    seed_write(argv[1], "retraction_then_link_down.bin");
    seed_start(3u << FUZZ_FROM_SHIFT);
    seed_relayed(fx.ann_d, fx.ann_d_len, 3);
    seed_relayed(fx.ann_d, fx.ann_d_len, 1);
    seed_write(argv[1], "better_route_from_c.bin");
    seed_start(2u << FUZZ_FROM_SHIFT);
    seed_piece(fx.ann_d, fx.ann_d_len);
    seed_write(argv[1], "no_link.bin");
    seed_start(0x00);
    seed_inner(fx.ann_d, fx.ann_d_len, 1);
    seed_inner(fx.ann_d, fx.ann_d_len, 2);
    seed_write(argv[1], "signed_and_body.bin");
    seed_start(0x00);
    seed_write(argv[1], "empty.bin");
    return 0;
}
#endif

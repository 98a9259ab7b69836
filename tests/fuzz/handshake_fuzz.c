/*
 * Fuzzes link handshake processing (crypto/noise.h) with fixed keys and a
 * deterministic RNG, so that every input replays the same way and the seeds
 * in tests/fuzz/corpus/handshake/ (real handshakes with these keys) stay valid.
 *
 * Input: one flags byte, then the body.
 *   bit 0    Noise_XXpsk3 with a fixed PSK instead of Noise_XX
 *   bit 1    BLAKE2b instead of SHA256
 *   bits 2-3 the transport CipherState: 0 key at nonce 0, 1 key at the last
 *            usable nonce, 2 key with the nonce exhausted, 3 no key
 *   bit 4    a transport output buffer smaller than the message
 * The body is read whole as msg1 by a responder, as msg2 by an initiator that
 * wrote msg1, and as a transport message. Then it is split as
 *   u16 len1 || msg1 || u16 len3 || msg3 || transport message
 * (lengths big-endian, cut to what is there) and a full responder is driven
 * through msg1, its own msg2, msg3, Split() and the transport message.
 */
#include "tests/fuzz/fuzz.h"
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/noise.h"

#define FUZZ_PSK 0x01u
#define FUZZ_BLAKE2B 0x02u
#define FUZZ_CS_SHIFT 2
#define FUZZ_CS_MASK 0x03u
#define FUZZ_SMALL_OUT 0x10u

enum { CS_NONCE_ZERO, CS_NONCE_LAST, CS_NONCE_SPENT, CS_NO_KEY };



static const char *const protocol_names[4] = {
    "Noise_XX_25519_ChaChaPoly_SHA256",
    "Noise_XXpsk3_25519_ChaChaPoly_SHA256",
    "Noise_XX_25519_ChaChaPoly_BLAKE2b",
    "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b",
};

/* "guardmesh/link/1" || 16-byte mesh id (CRYPTO.md section 2). */
static const char prologue[] = "guardmesh/link/1"
                               "fuzz-mesh-id-001";
#define PROLOGUE_LEN (sizeof prologue - 1)

/* msg1 carries a version byte (CRYPTO.md section 2); the others stand in for certificates. */
static const uint8_t msg1_payload[1] = {1};
static const uint8_t resp_payload[] = "responder certificate";
static const uint8_t init_payload[] = "initiator certificate";

static struct {
    bool ready;
    gm_noise_protocol_t protos[4];
    uint8_t init_static[GM_NOISE_DH_LEN], resp_static[GM_NOISE_DH_LEN];
    uint8_t init_ephemeral[GM_NOISE_DH_LEN];
    uint8_t psk[1][GM_NOISE_PSK_LEN];
    uint8_t transport_key[GM_NOISE_KEY_LEN];
} fx;

/* Handshake messages and payloads can reach 65535 bytes: static, not on the stack. */
static uint8_t msg[GM_NOISE_MAX_MSG_LEN], payload[GM_NOISE_MAX_MSG_LEN];

/* splitmix64: the same stream for every input, so responder ephemerals repeat. */
typedef struct {
    uint64_t state;
} fuzz_rng_t;

static void fuzz_rng(void *ctx, uint8_t *buf, size_t len)
{
    fuzz_rng_t *r = ctx;

    for (size_t i = 0; i < len; i++) {
        uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        buf[i] = (uint8_t)(z ^ (z >> 31));
    }
}

static void fixed_key(uint8_t key[32], uint8_t tag)
{
    for (size_t i = 0; i < 32; i++) {
        key[i] = (uint8_t)(tag + 7 * i);
    }
}

static void fixture(void)
{
    if (fx.ready) {
        return;
    }
    FUZZ_CHECK(sodium_init() >= 0);
    for (size_t i = 0; i < 4; i++) {
        FUZZ_CHECK(gm_noise_protocol_parse(protocol_names[i], &fx.protos[i]) == 0);
    }
    fixed_key(fx.init_static, 0x11);
    fixed_key(fx.resp_static, 0x22);
    fixed_key(fx.init_ephemeral, 0x33);
    fixed_key(fx.psk[0], 0x44);
    fixed_key(fx.transport_key, 0x55);
    fx.ready = true;
}

/* One side with the fixed keys; an initiator also gets its fixed ephemeral. */
static void side_init(gm_noise_handshake_t *hs, uint8_t flags, bool initiator, fuzz_rng_t *rng)
{
    const gm_noise_protocol_t *proto = &fx.protos[flags & (FUZZ_PSK | FUZZ_BLAKE2B)];

    rng->state = initiator ? 1 : 2;
    gm_noise_handshake_init(hs, proto, initiator, (const uint8_t *)prologue, PROLOGUE_LEN, fuzz_rng,
                            rng);
    FUZZ_CHECK(gm_noise_handshake_set_static(hs, initiator ? fx.init_static : fx.resp_static) == 0);
    if (initiator) {
        FUZZ_CHECK(gm_noise_handshake_set_ephemeral(hs, fx.init_ephemeral) == 0);
    }
    if (flags & FUZZ_PSK) {
        FUZZ_CHECK(gm_noise_handshake_set_psks(hs, (const uint8_t(*)[GM_NOISE_PSK_LEN])fx.psk, 1) ==
                   0);
    }
    FUZZ_CHECK(gm_noise_handshake_start(hs) == 0);
}

/* After a failed read the state must stay failed (noise.h: "any error leaves it failed"). */
static void check_failed(gm_noise_handshake_t *hs, const uint8_t *in, size_t in_len)
{
    size_t n;

    FUZZ_CHECK(!gm_noise_handshake_is_my_turn(hs) && !gm_noise_handshake_is_done(hs));
    FUZZ_CHECK(gm_noise_handshake_read(hs, in, in_len, payload, sizeof payload, &n) == GM_ESTATE);
    FUZZ_CHECK(gm_noise_handshake_write(hs, resp_payload, sizeof resp_payload, msg, sizeof msg,
                                        &n) == GM_ESTATE);
}

/* -> e: the responder reads the body as msg1 and, if it is accepted, answers. */
static void fuzz_msg1(uint8_t flags, const uint8_t *body, size_t len)
{
    gm_noise_handshake_t hs;
    fuzz_rng_t rng;
    size_t n;
    int err;

    side_init(&hs, flags, false, &rng);
    if (gm_noise_handshake_read(&hs, body, len, payload, sizeof payload, &n) != 0) {
        check_failed(&hs, body, len);
    } else {
        FUZZ_CHECK(n <= len && gm_noise_handshake_is_my_turn(&hs));
        /* <- e, ee, s, es: GM_EDH when the peer sent a low-order e, which read accepts. */
        err = gm_noise_handshake_write(&hs, resp_payload, sizeof resp_payload, msg, sizeof msg, &n);
        FUZZ_CHECK(err == 0 || err == GM_EDH);
    }
    gm_noise_handshake_close(&hs);
}

/* <- e, ee, s, es: the initiator wrote msg1 and reads the body as msg2. */
static void fuzz_msg2(uint8_t flags, const uint8_t *body, size_t len)
{
    gm_noise_handshake_t hs;
    gm_noise_cipher_t send, recv;
    fuzz_rng_t rng;
    size_t n;

    side_init(&hs, flags, true, &rng);
    /* -> e */
    FUZZ_CHECK(
        gm_noise_handshake_write(&hs, msg1_payload, sizeof msg1_payload, msg, sizeof msg, &n) == 0);
    if (gm_noise_handshake_read(&hs, body, len, payload, sizeof payload, &n) != 0) {
        check_failed(&hs, body, len);
    } else {
        FUZZ_CHECK(gm_noise_handshake_remote_static(&hs) != NULL);
        /* -> s, se */
        FUZZ_CHECK(gm_noise_handshake_write(&hs, init_payload, sizeof init_payload, msg, sizeof msg,
                                            &n) == 0);
        FUZZ_CHECK(gm_noise_handshake_is_done(&hs));
        FUZZ_CHECK(gm_noise_handshake_split(&hs, &send, &recv) == 0);
        gm_noise_cipher_close(&send);
        gm_noise_cipher_close(&recv);
    }
    gm_noise_handshake_close(&hs);
}

/* The transport CipherState the flags choose, with the fixed key. */
static void transport_cipher(uint8_t flags, gm_noise_cipher_t *cs)
{
    memset(cs, 0, sizeof *cs);
    memcpy(cs->k, fx.transport_key, sizeof cs->k);
    cs->has_key = true;
    switch ((flags >> FUZZ_CS_SHIFT) & FUZZ_CS_MASK) {
    case CS_NONCE_LAST:
        cs->n = GM_NOISE_NONCE_MAX - 1;
        break;
    case CS_NONCE_SPENT:
        cs->n = GM_NOISE_NONCE_MAX;
        break;
    case CS_NO_KEY:
        cs->has_key = false;
        break;
    default:
        break;
    }
}

static void fuzz_transport(uint8_t flags, const uint8_t *body, size_t len)
{
    unsigned variant = (flags >> FUZZ_CS_SHIFT) & FUZZ_CS_MASK;
    size_t cap = (flags & FUZZ_SMALL_OUT) ? len / 2 : sizeof payload;
    gm_noise_cipher_t cs;
    uint64_t n0;
    size_t n;
    int err;

    transport_cipher(flags, &cs);
    n0 = cs.n;
    err = gm_noise_decrypt(&cs, NULL, 0, body, len, payload, cap, &n);
    FUZZ_CHECK(variant != CS_NONCE_SPENT || err != 0);
    FUZZ_CHECK(cs.n == n0 + (err == 0 && cs.has_key ? 1 : 0)); /* spec 5.1 */
    if (err == 0) {
        FUZZ_CHECK(n <= cap && n + (cs.has_key ? GM_NOISE_TAG_LEN : 0) == len);
        FUZZ_CHECK(cs.has_key || memcmp(payload, body, len) == 0);
    }
    if (variant == CS_NO_KEY && cap >= len && len <= GM_NOISE_MAX_MSG_LEN) {
        FUZZ_CHECK(err == 0);
    }
    gm_noise_cipher_close(&cs);
}

/* The body as a plaintext: encrypt, decrypt, compare; then again after a rekey. */
static void fuzz_transport_round_trip(const uint8_t *body, size_t len)
{
    gm_noise_cipher_t tx, rx;
    size_t n, m;

    if (len + GM_NOISE_TAG_LEN > GM_NOISE_MAX_MSG_LEN) {
        return;
    }
    transport_cipher(0, &tx);
    transport_cipher(0, &rx);
    for (int round = 0; round < 2; round++) {
        FUZZ_CHECK(gm_noise_encrypt(&tx, NULL, 0, body, len, msg, sizeof msg, &n) == 0);
        FUZZ_CHECK(n == len + GM_NOISE_TAG_LEN);
        FUZZ_CHECK(gm_noise_decrypt(&rx, NULL, 0, msg, n, payload, sizeof payload, &m) == 0);
        FUZZ_CHECK(m == len && (len == 0 || memcmp(payload, body, len) == 0));
        gm_noise_rekey(&tx);
        gm_noise_rekey(&rx);
    }
    gm_noise_cipher_close(&tx);
    gm_noise_cipher_close(&rx);
}

/* Takes the next u16-length-prefixed piece of *p, cut to what is left. */
static bool take_piece(const uint8_t **p, size_t *left, const uint8_t **piece, size_t *piece_len)
{
    size_t want;

    if (*left < 2) {
        return false;
    }
    want = ((size_t)(*p)[0] << 8) | (*p)[1];
    *p += 2;
    *left -= 2;
    *piece = *p;
    *piece_len = want < *left ? want : *left;
    *p += *piece_len;
    *left -= *piece_len;
    return true;
}

/* After msg3: Split(), then the rest of the input as the initiator's first frame. */
static void full_transport(gm_noise_handshake_t *hs, const uint8_t *frame, size_t len)
{
    gm_noise_cipher_t send, recv;
    size_t n, hash_len;

    FUZZ_CHECK(gm_noise_handshake_is_done(hs));
    FUZZ_CHECK(gm_noise_handshake_remote_static(hs) != NULL);
    FUZZ_CHECK(gm_noise_handshake_hash(hs, &hash_len) != NULL && hash_len > 0);
    FUZZ_CHECK(gm_noise_handshake_split(hs, &send, &recv) == 0);
    FUZZ_CHECK(gm_noise_handshake_split(hs, &send, &recv) == GM_ESTATE);
    if (gm_noise_decrypt(&recv, NULL, 0, frame, len, payload, sizeof payload, &n) == 0) {
        FUZZ_CHECK(gm_noise_encrypt(&send, NULL, 0, payload, n, msg, sizeof msg, &n) == 0);
    }
    gm_noise_cipher_close(&send);
    gm_noise_cipher_close(&recv);
}

/* A responder through msg1, its own msg2, msg3 and the first transport frame. */
static void fuzz_full(uint8_t flags, const uint8_t *body, size_t len)
{
    const uint8_t *msg1, *msg3;
    size_t msg1_len, msg3_len, n;
    gm_noise_handshake_t hs;
    fuzz_rng_t rng;

    if (!take_piece(&body, &len, &msg1, &msg1_len) || !take_piece(&body, &len, &msg3, &msg3_len)) {
        return;
    }
    side_init(&hs, flags, false, &rng);
    if (gm_noise_handshake_read(&hs, msg1, msg1_len, payload, sizeof payload, &n) == 0 &&
        gm_noise_handshake_write(&hs, resp_payload, sizeof resp_payload, msg, sizeof msg, &n) ==
            0 &&
        gm_noise_handshake_read(&hs, msg3, msg3_len, payload, sizeof payload, &n) == 0) {
        full_transport(&hs, body, len);
    }
    gm_noise_handshake_close(&hs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t flags = size > 0 ? data[0] : 0;
    const uint8_t *body = size > 0 ? data + 1 : data;
    size_t len = size > 0 ? size - 1 : 0;

    fixture();
    fuzz_msg1(flags, body, len);
    fuzz_msg2(flags, body, len);
    fuzz_transport(flags, body, len);
    fuzz_transport_round_trip(body, len);
    fuzz_full(flags, body, len);
    return 0;
}

/*
 * Tests of crypto/ratchet.c: Signal's chain-key vector, the KDFs against
 * their definitions, conversations in and out of order, refusals (replay,
 * tampering, bounds, expiry) that leave the state exactly as it was, the
 * stored form, and a property test over random delivery schedules
 * (ratchet_prop_test.c).
 */
#include "tests/unit/ratchet_test.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kdf.h"
#include "crypto/x3dh.h"
#include "tools/util.h"

#ifndef GM_VECTORS_DIR
#error "GM_VECTORS_DIR must name the test vector directory"
#endif

#define SIGNAL_VECTORS GM_VECTORS_DIR "/signal/signal_x3dh_ratchet_kat.json"
#define K GM_DR_KEY_LEN
#define NOW 1767225600u
#define LIFE 86400u

static void suite_init(void)
{
    cr_assert(sodium_init() >= 0, "libsodium failed to initialise");
}

TestSuite(ratchet, .init = suite_init);

/* ---- helpers shared with ratchet_prop_test.c ---- */

void rt_seed(uint64_t *ctr, uint8_t out[K])
{
    uint8_t key[randombytes_SEEDBYTES] = {0};

    gm_store_u64_be(key, ++*ctr);
    randombytes_buf_deterministic(out, K, key);
}

void rt_pair_init(rt_pair_t *p, uint64_t seed_base)
{
    uint8_t ik_a[2][K], ek_a[2][K], ik_b[2][K], spk_b[2][K], sk[K], seed[K];
    uint8_t id_a[16], id_b[16], ad[GM_X3DH_AD_LEN];

    memset(p, 0, sizeof *p);
    p->ctr = seed_base << 32;
    rt_seed(&p->ctr, seed);
    gm_x25519_keypair(ik_a[0], ik_a[1], seed);
    rt_seed(&p->ctr, seed);
    gm_x25519_keypair(ek_a[0], ek_a[1], seed);
    rt_seed(&p->ctr, seed);
    gm_x25519_keypair(ik_b[0], ik_b[1], seed);
    rt_seed(&p->ctr, seed);
    gm_x25519_keypair(spk_b[0], spk_b[1], seed);
    cr_assert_eq(gm_x3dh_initiate(ik_a[1], ek_a[1], ik_b[0], spk_b[0], GM_X3DH_INFO, sk, K), 0);
    memset(id_a, 0xa1, sizeof id_a);
    memset(id_b, 0xb2, sizeof id_b);
    gm_x3dh_ad(ad, id_a, id_b, ik_a[0], ik_b[0], 7);
    rt_seed(&p->ctr, seed);
    cr_assert_eq(gm_dr_init_alice(&p->alice, sk, spk_b[0], seed, ad, sizeof ad), 0);
    cr_assert_eq(gm_dr_init_bob(&p->bob, sk, spk_b[1], spk_b[0], ad, sizeof ad), 0);
    p->now = NOW;
}

void rt_pair_wipe(rt_pair_t *p)
{
    gm_dr_wipe(&p->alice);
    gm_dr_wipe(&p->bob);
}

void rt_send(gm_dr_state_t *from, rt_msg_t *m, uint32_t tag)
{
    m->pt_len = 8 + tag % 23;
    memset(m->pt, 0x5a, sizeof m->pt);
    gm_store_u32_be(m->pt, tag);
    m->ct_len = m->pt_len + GM_DR_TAG_LEN;
    cr_assert_eq(gm_dr_encrypt(from, m->pt, m->pt_len, &m->h, m->ct), 0, "send %u", tag);
}

int rt_recv(rt_pair_t *p, gm_dr_state_t *to, const rt_msg_t *m)
{
    uint8_t pt[RT_PT_MAX], seed[K];
    int err;

    rt_seed(&p->ctr, seed);
    err = gm_dr_decrypt(to, &m->h, m->ct, m->ct_len, pt, p->now, LIFE, seed);
    if (err == 0) {
        cr_assert_eq(memcmp(pt, m->pt, m->pt_len), 0, "wrong plaintext");
    }
    return err;
}

rt_snap_t rt_snap(const gm_dr_state_t *s)
{
    rt_snap_t snap;

    cr_assert_eq(gm_dr_serialize(s, &snap.data, &snap.len), 0);
    return snap;
}

void rt_snap_free(rt_snap_t *snap)
{
    sodium_memzero(snap->data, snap->len);
    free(snap->data);
}

bool rt_snap_same(const gm_dr_state_t *s, const rt_snap_t *before)
{
    rt_snap_t now = rt_snap(s);
    bool same = now.len == before->len && memcmp(now.data, before->data, now.len) == 0;

    rt_snap_free(&now);
    return same;
}

/* Delivery must fail with want (or, if want2 is nonzero, with that) and leave the state as it was.
 */
static void expect_refused(rt_pair_t *p, gm_dr_state_t *to, const rt_msg_t *m, int want, int want2)
{
    rt_snap_t before = rt_snap(to);
    int err = rt_recv(p, to, m);

    cr_assert(err == want || (want2 != 0 && err == want2), "got %d (%s), want %d", err,
              gm_strerror(err), want);
    cr_assert(rt_snap_same(to, &before), "state changed by a refused message");
    rt_snap_free(&before);
}

static void expect_ok(rt_pair_t *p, gm_dr_state_t *to, const rt_msg_t *m)
{
    int err = rt_recv(p, to, m);

    cr_assert_eq(err, 0, "refused: %d (%s)", err, gm_strerror(err));
}

/* ---- vectors and KDF definitions ---- */

static void json_key(const cJSON *obj, const char *name, uint8_t *out, size_t len)
{
    gm_bytes_t b = {NULL, 0};

    cr_assert_eq(gm_json_hex(obj, name, &b), 0, "missing or bad hex field '%s'", name);
    cr_assert_eq(b.len, len, "field '%s' has %zu bytes", name, b.len);
    memcpy(out, b.data, len);
    gm_bytes_free(&b);
}

static void run_chain_step(const cJSON *v)
{
    uint8_t ck[K], mk[K], next[K], okm[80], want[K], iv[16];
    const cJSON *helper = cJSON_GetObjectItemCaseSensitive(v, "computed_by_helper");
    const char *id = gm_json_str(v, "id");

    cr_assert_not_null(id);
    json_key(v, "chain_key", ck, K);
    gm_dr_kdf_ck(ck, mk, next);
    json_key(helper, "message_key_seed", want, K);
    cr_assert_eq(memcmp(mk, want, K), 0, "%s: message key seed", id);
    json_key(v, "expected_next_chain_key", want, K);
    cr_assert_eq(memcmp(next, want, K), 0, "%s: next chain key", id);
    cr_assert_eq(gm_hkdf_sha256(okm, sizeof okm, NULL, 0, mk, K, "WhisperMessageKeys", 18), 0);
    json_key(v, "expected_cipher_key", want, K);
    cr_assert_eq(memcmp(okm, want, K), 0, "%s: cipher key", id);
    json_key(v, "expected_mac_key", want, K);
    cr_assert_eq(memcmp(okm + 32, want, K), 0, "%s: mac key", id);
    json_key(helper, "iv", iv, sizeof iv);
    cr_assert_eq(memcmp(okm + 64, iv, sizeof iv), 0, "%s: iv", id);
}

Test(ratchet, signal_chain_step_vectors_match)
{
    cJSON *root = gm_json_load(SIGNAL_VECTORS, stderr);
    const cJSON *list, *v;
    int run = 0;

    cr_assert_not_null(root, "cannot load %s", SIGNAL_VECTORS);
    list = cJSON_GetObjectItemCaseSensitive(root, "symmetric_chain_step");
    cr_assert(cJSON_IsArray(list));
    cJSON_ArrayForEach(v, list)
    {
        run_chain_step(v);
        run++;
    }
    cr_assert_gt(run, 0);
    cr_assert_eq(run, cJSON_GetArraySize(list));
    cJSON_Delete(root);
}

Test(ratchet, kdfs_follow_their_definitions)
{
    static const uint8_t one = 1, two = 2;
    uint8_t ck[K], rk[K], dh[K], mk[K], next[K], want[64], out_rk[K], out_ck[K];

    memset(ck, 0x42, K);
    memset(rk, 0x17, K);
    memset(dh, 0x99, K);
    gm_dr_kdf_ck(ck, mk, next);
    crypto_auth_hmacsha256(want, &one, 1, ck);
    cr_assert_eq(memcmp(mk, want, K), 0);
    crypto_auth_hmacsha256(want, &two, 1, ck);
    cr_assert_eq(memcmp(next, want, K), 0);
    gm_dr_kdf_ck(ck, mk, ck); /* stepping in place gives the same keys */
    cr_assert_eq(memcmp(ck, next, K), 0);

    cr_assert_eq(gm_hkdf_sha256(want, 64, rk, K, dh, K, "guardmesh/dr/rk/1", 17), 0);
    cr_assert_eq(gm_dr_kdf_rk(rk, dh, out_rk, out_ck), 0);
    cr_assert_eq(memcmp(out_rk, want, K), 0);
    cr_assert_eq(memcmp(out_ck, want + K, K), 0);
}

Test(ratchet, header_is_dh_then_big_endian_counters)
{
    gm_dr_header_t h, back;
    uint8_t enc[GM_DR_HEADER_LEN];

    memset(h.dh, 0xd1, K);
    h.pn = 0x01020304u;
    h.n = 0xa0b0c0d0u;
    gm_dr_header_encode(&h, enc);
    cr_assert_eq(memcmp(enc, h.dh, K), 0);
    cr_assert(enc[32] == 1 && enc[35] == 4 && enc[36] == 0xa0 && enc[39] == 0xd0);
    gm_dr_header_decode(&back, enc);
    cr_assert_eq(memcmp(&back.dh, h.dh, K), 0);
    cr_assert(back.pn == h.pn && back.n == h.n);
}

/* ---- conversations ---- */

Test(ratchet, in_order_conversation_both_ways)
{
    rt_pair_t p;
    rt_msg_t m;
    uint32_t tag = 0;

    rt_pair_init(&p, 1);
    cr_assert_eq(gm_dr_encrypt(&p.bob, m.pt, 1, &m.h, m.ct), GM_ESTATE, "Bob sent first");
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 3; i++) {
            rt_send(&p.alice, &m, tag++);
            expect_ok(&p, &p.bob, &m);
        }
        for (int i = 0; i < 2; i++) {
            rt_send(&p.bob, &m, tag++);
            expect_ok(&p, &p.alice, &m);
        }
    }
    cr_assert_eq(p.alice.n_skipped + p.bob.n_skipped, 0);
    rt_pair_wipe(&p);
}

Test(ratchet, out_of_order_within_a_chain)
{
    static const int order[] = {4, 0, 2, 1, 3};
    rt_pair_t p;
    rt_msg_t m[5];

    rt_pair_init(&p, 2);
    for (int i = 0; i < 5; i++) {
        rt_send(&p.alice, &m[i], (uint32_t)i);
    }
    for (int i = 0; i < 5; i++) {
        expect_ok(&p, &p.bob, &m[order[i]]);
    }
    cr_assert_eq(p.bob.n_skipped, 0, "used skipped keys are deleted");
    rt_pair_wipe(&p);
}

Test(ratchet, out_of_order_across_dh_steps)
{
    rt_pair_t p;
    rt_msg_t a[6], b[4];

    rt_pair_init(&p, 3);
    rt_send(&p.alice, &a[0], 0);
    rt_send(&p.alice, &a[1], 1);
    expect_ok(&p, &p.bob, &a[1]); /* a0 skipped */
    rt_send(&p.bob, &b[0], 100);
    rt_send(&p.bob, &b[1], 101);
    expect_ok(&p, &p.alice, &b[1]); /* Alice steps; b0 skipped */
    rt_send(&p.alice, &a[2], 2);    /* a new chain, pn = 2 */
    rt_send(&p.alice, &a[3], 3);
    expect_ok(&p, &p.bob, &a[3]); /* Bob steps; a2 skipped, a0 still stored */
    rt_send(&p.bob, &b[2], 102);
    expect_ok(&p, &p.alice, &b[2]);
    rt_send(&p.alice, &a[4], 4);
    expect_ok(&p, &p.bob, &a[4]);
    /* Now the stragglers of the older chains. */
    expect_ok(&p, &p.bob, &a[0]);
    expect_ok(&p, &p.bob, &a[2]);
    expect_ok(&p, &p.alice, &b[0]);
    cr_assert_eq(p.alice.n_skipped + p.bob.n_skipped, 0);
    rt_send(&p.bob, &b[3], 103);
    expect_ok(&p, &p.alice, &b[3]);
    rt_pair_wipe(&p);
}

Test(ratchet, lost_messages_do_not_stop_the_session)
{
    rt_pair_t p;
    rt_msg_t m;
    uint32_t tag = 0;

    rt_pair_init(&p, 4);
    for (int round = 0; round < 4; round++) {
        rt_send(&p.alice, &m, tag++); /* lost */
        rt_send(&p.alice, &m, tag++);
        expect_ok(&p, &p.bob, &m);
        rt_send(&p.bob, &m, tag++); /* lost */
        rt_send(&p.bob, &m, tag++);
        rt_send(&p.bob, &m, tag++);
        expect_ok(&p, &p.alice, &m);
    }
    cr_assert_eq(p.bob.n_skipped, 4);
    cr_assert_eq(p.alice.n_skipped, 8);
    rt_pair_wipe(&p);
}

/* ---- refusals ---- */

Test(ratchet, replay_of_every_earlier_message_is_refused)
{
    enum { N = 40 };
    rt_pair_t p;
    rt_msg_t *m = calloc(N, sizeof *m);
    bool to_bob[N];

    cr_assert_not_null(m);
    rt_pair_init(&p, 5);
    /* Senders switch every few messages: many chains, some of them older than GM_DR_PREV_CHAINS. */
    for (int i = 0; i < N; i++) {
        to_bob[i] = (i / 3) % 2 == 0;
        rt_send(to_bob[i] ? &p.alice : &p.bob, &m[i], (uint32_t)i);
        expect_ok(&p, to_bob[i] ? &p.bob : &p.alice, &m[i]);
    }
    for (int i = 0; i < N; i++) {
        expect_refused(&p, to_bob[i] ? &p.bob : &p.alice, &m[i], GM_EREPLAY, GM_EAUTH);
    }
    /* The current chain and the ones remembered name a replay as such. */
    expect_refused(&p, &p.bob, &m[N - 4], GM_EREPLAY, 0);
    expect_refused(&p, &p.alice, &m[N - 1], GM_EREPLAY, 0);
    expect_refused(&p, &p.alice, &m[N - 7], GM_EREPLAY, 0);
    rt_pair_wipe(&p);
    free(m);
}

Test(ratchet, replay_of_a_skipped_key_message_is_refused)
{
    rt_pair_t p;
    rt_msg_t m[3];

    rt_pair_init(&p, 6);
    for (int i = 0; i < 3; i++) {
        rt_send(&p.alice, &m[i], (uint32_t)i);
    }
    expect_ok(&p, &p.bob, &m[2]);
    expect_ok(&p, &p.bob, &m[0]);
    expect_refused(&p, &p.bob, &m[0], GM_EREPLAY, 0);
    expect_refused(&p, &p.bob, &m[2], GM_EREPLAY, 0);
    expect_ok(&p, &p.bob, &m[1]);
    rt_pair_wipe(&p);
}

/* Each tampering refused with the state untouched; then the genuine message still opens. */
Test(ratchet, tampered_header_ciphertext_or_ad_is_refused)
{
    rt_pair_t p;
    rt_msg_t m, bad;

    rt_pair_init(&p, 7);
    rt_send(&p.alice, &m, 1);
    expect_ok(&p, &p.bob, &m);
    rt_send(&p.bob, &m, 2);
    expect_ok(&p, &p.alice, &m);
    rt_send(&p.alice, &m, 3);

    bad = m;
    bad.h.dh[5] ^= 1;
    expect_refused(&p, &p.bob, &bad, GM_EAUTH, GM_EDH);
    bad = m;
    bad.h.n = m.h.n + 1;
    expect_refused(&p, &p.bob, &bad, GM_EAUTH, 0);
    bad = m;
    bad.h.pn = m.h.pn + 1;
    expect_refused(&p, &p.bob, &bad, GM_EAUTH, 0);
    bad = m;
    bad.ct[0] ^= 0x80;
    expect_refused(&p, &p.bob, &bad, GM_EAUTH, 0);
    bad = m;
    bad.ct[bad.ct_len - 1] ^= 1;
    expect_refused(&p, &p.bob, &bad, GM_EAUTH, 0);
    bad = m;
    bad.ct_len = GM_DR_TAG_LEN - 1;
    expect_refused(&p, &p.bob, &bad, GM_EAUTH, 0);

    /* A session with other associated data (another pair of nodes) cannot read it. */
    p.bob.ad[0] ^= 1;
    expect_refused(&p, &p.bob, &m, GM_EAUTH, 0);
    p.bob.ad[0] ^= 1;
    expect_ok(&p, &p.bob, &m);
    rt_pair_wipe(&p);
}

Test(ratchet, low_order_ratchet_keys_are_refused)
{
    static const uint8_t zero[K];
    rt_pair_t p;
    rt_msg_t m;
    gm_dr_state_t s;
    uint8_t sk[K] = {1}, seed[K] = {2};

    cr_assert_eq(gm_dr_init_alice(&s, sk, zero, seed, NULL, 0), GM_EDH);
    rt_pair_init(&p, 8);
    rt_send(&p.alice, &m, 1);
    memset(m.h.dh, 0, K);
    expect_refused(&p, &p.bob, &m, GM_EDH, 0);
    rt_pair_wipe(&p);
}

Test(ratchet, associated_data_is_bounded)
{
    uint8_t ad[GM_DR_AD_MAX + 1] = {0}, k[K] = {9}, seed[K] = {3};
    gm_dr_state_t s;

    cr_assert_eq(gm_dr_init_alice(&s, k, k, seed, ad, sizeof ad), GM_ELIMIT);
    cr_assert_eq(gm_dr_init_bob(&s, k, k, k, ad, sizeof ad), GM_ELIMIT);
    cr_assert_eq(gm_dr_init_bob(&s, k, k, k, ad, GM_DR_AD_MAX), 0);
    gm_dr_wipe(&s);
}

/* n = 1000 skips exactly GM_DR_MAX_SKIP keys; one more is refused, in a chain or across a step. */
Test(ratchet, skipping_beyond_max_skip_is_refused)
{
    rt_pair_t p;
    rt_msg_t *m = calloc(GM_DR_MAX_SKIP + 2, sizeof *m), r;

    cr_assert_not_null(m);
    rt_pair_init(&p, 9);
    for (uint32_t i = 0; i < GM_DR_MAX_SKIP + 2; i++) {
        rt_send(&p.alice, &m[i], i);
    }
    expect_refused(&p, &p.bob, &m[GM_DR_MAX_SKIP + 1], GM_ELIMIT, 0);
    expect_ok(&p, &p.bob, &m[0]);
    expect_ok(&p, &p.bob, &m[GM_DR_MAX_SKIP + 1]); /* nr is 1 now: 1000 skipped */
    cr_assert_eq(p.bob.n_skipped, GM_DR_MAX_SKIP);

    /* Across a step: pn says 1002 were sent, Bob's old chain got 1 of them. */
    rt_pair_wipe(&p);
    rt_pair_init(&p, 10);
    rt_send(&p.alice, &m[0], 0);
    expect_ok(&p, &p.bob, &m[0]);
    rt_send(&p.bob, &r, 50);
    for (uint32_t i = 1; i < GM_DR_MAX_SKIP + 2; i++) {
        rt_send(&p.alice, &m[i], i);
    }
    expect_ok(&p, &p.alice, &r);
    rt_send(&p.alice, &r, 51);
    expect_refused(&p, &p.bob, &r, GM_ELIMIT, 0);
    expect_ok(&p, &p.bob, &m[1]);
    expect_ok(&p, &p.bob, &r);
    rt_pair_wipe(&p);
    free(m);
}

Test(ratchet, exhausted_counters_are_refused)
{
    rt_pair_t p;
    rt_msg_t m;

    rt_pair_init(&p, 11);
    rt_send(&p.alice, &m, 1);
    m.h.n = UINT32_MAX; /* nr would wrap: never sent, refused before any work */
    expect_refused(&p, &p.bob, &m, GM_ELIMIT, 0);
    p.alice.ns = UINT32_MAX - 1;
    rt_send(&p.alice, &m, 2);
    cr_assert_eq(m.h.n, UINT32_MAX - 1);
    cr_assert_eq(gm_dr_encrypt(&p.alice, m.pt, 1, &m.h, m.ct), GM_ELIMIT);
    rt_pair_wipe(&p);
}

/*
 * Tests of crypto/x3dh.c: Signal's published X3DH vector (info "WhisperText",
 * L = 64), agreement between the two sides, refusal of low-order keys and
 * bad lengths, and the associated-data layout.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

#include "crypto/kdf.h"
#include "crypto/x3dh.h"
#include "tools/util.h"

#ifndef GM_VECTORS_DIR
#error "GM_VECTORS_DIR must name the test vector directory"
#endif

#define SIGNAL_VECTORS GM_VECTORS_DIR "/signal/signal_x3dh_ratchet_kat.json"
#define K GM_X3DH_KEY_LEN
#define CANARY 0xa5

typedef struct {
    uint8_t ik_a_sk[K], ik_a_pk[K], ek_a_sk[K], ek_a_pk[K];
    uint8_t ik_b_sk[K], ik_b_pk[K], spk_b_sk[K], spk_b_pk[K];
} parties_t;

/* Low-order X25519 points (RFC 7748 section 6.1 and Wycheproof ZeroSharedSecret). */
static const char *const low_order_hex[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

static void suite_init(void)
{
    cr_assert(sodium_init() >= 0, "libsodium failed to initialise");
}

TestSuite(x3dh, .init = suite_init);

static void key_from_byte(uint8_t pk[K], uint8_t sk[K], uint8_t b)
{
    uint8_t seed[K];

    memset(seed, b, sizeof seed);
    gm_x25519_keypair(pk, sk, seed);
}

static void make_parties(parties_t *p)
{
    key_from_byte(p->ik_a_pk, p->ik_a_sk, 0x11);
    key_from_byte(p->ek_a_pk, p->ek_a_sk, 0x22);
    key_from_byte(p->ik_b_pk, p->ik_b_sk, 0x33);
    key_from_byte(p->spk_b_pk, p->spk_b_sk, 0x44);
}

static void json_key(const cJSON *obj, const char *name, uint8_t out[K])
{
    gm_bytes_t b = {NULL, 0};

    cr_assert_eq(gm_json_hex(obj, name, &b), 0, "missing or bad hex field '%s'", name);
    cr_assert_eq(b.len, K, "field '%s' has %zu bytes", name, b.len);
    memcpy(out, b.data, K);
    gm_bytes_free(&b);
}

/* Bob's private keys must belong to the public keys the vector gives for him. */
static void check_public(const cJSON *v, const char *sk_name, const char *pk_name)
{
    uint8_t sk[K], pk[K], want[K];

    json_key(v, sk_name, sk);
    json_key(v, pk_name, want);
    gm_x25519_keypair(pk, sk, sk);
    cr_assert_eq(memcmp(pk, want, K), 0, "%s does not match %s", pk_name, sk_name);
}

static void run_initial_chain(const cJSON *v)
{
    uint8_t ik_b_sk[K], spk_b_sk[K], ik_a_pk[K], ek_a_pk[K], chain[K], root[K];
    uint8_t okm[2 * K];
    const char *info = gm_json_str(v, "info");
    const char *id = gm_json_str(v, "id");

    cr_assert_not_null(info);
    cr_assert_not_null(id);
    cr_assert_str_eq(gm_json_str(v, "role"), "responder");
    check_public(v, "bob_identity_private", "bob_identity_public");
    check_public(v, "bob_signed_prekey_private", "bob_signed_prekey_public");
    json_key(v, "bob_identity_private", ik_b_sk);
    json_key(v, "bob_signed_prekey_private", spk_b_sk);
    json_key(v, "alice_identity_public", ik_a_pk);
    json_key(v, "alice_base_public", ek_a_pk);
    json_key(v, "expected_chain_key", chain);
    json_key(cJSON_GetObjectItemCaseSensitive(v, "computed_by_helper"), "root_key", root);

    cr_assert_eq(gm_x3dh_respond(ik_b_sk, spk_b_sk, ik_a_pk, ek_a_pk, info, okm, sizeof okm), 0,
                 "%s: respond failed", id);
    cr_assert_eq(memcmp(okm, root, K), 0, "%s: root key differs", id);
    cr_assert_eq(memcmp(okm + K, chain, K), 0, "%s: chain key differs", id);
}

Test(x3dh, signal_initial_chain_vectors_match)
{
    cJSON *root = gm_json_load(SIGNAL_VECTORS, stderr);
    const cJSON *list, *v;
    int run = 0;

    cr_assert_not_null(root, "cannot load %s", SIGNAL_VECTORS);
    list = cJSON_GetObjectItemCaseSensitive(root, "x3dh_initial_chain");
    cr_assert(cJSON_IsArray(list));
    cJSON_ArrayForEach(v, list)
    {
        run_initial_chain(v);
        run++;
    }
    cr_assert_gt(run, 0);
    cr_assert_eq(run, cJSON_GetArraySize(list));
    cJSON_Delete(root);
}

Test(x3dh, both_sides_derive_the_same_secret)
{
    parties_t p;
    uint8_t sk_a[K], sk_b[K];

    make_parties(&p);
    cr_assert_eq(gm_x3dh_initiate(p.ik_a_sk, p.ek_a_sk, p.ik_b_pk, p.spk_b_pk, GM_X3DH_INFO, sk_a,
                                  sizeof sk_a),
                 0);
    cr_assert_eq(gm_x3dh_respond(p.ik_b_sk, p.spk_b_sk, p.ik_a_pk, p.ek_a_pk, GM_X3DH_INFO, sk_b,
                                 sizeof sk_b),
                 0);
    cr_assert_eq(memcmp(sk_a, sk_b, K), 0);
    cr_assert(!sodium_is_zero(sk_a, K));
}

Test(x3dh, secret_is_the_specified_hkdf)
{
    static const uint8_t zero_salt[32];
    parties_t p;
    uint8_t ikm[4 * K], want[K], got[K];

    make_parties(&p);
    memset(ikm, 0xff, K);
    cr_assert_eq(crypto_scalarmult(ikm + K, p.ik_a_sk, p.spk_b_pk), 0);
    cr_assert_eq(crypto_scalarmult(ikm + 2 * K, p.ek_a_sk, p.ik_b_pk), 0);
    cr_assert_eq(crypto_scalarmult(ikm + 3 * K, p.ek_a_sk, p.spk_b_pk), 0);
    cr_assert_eq(gm_hkdf_sha256(want, K, zero_salt, sizeof zero_salt, ikm, sizeof ikm, GM_X3DH_INFO,
                                strlen(GM_X3DH_INFO)),
                 0);
    cr_assert_eq(
        gm_x3dh_initiate(p.ik_a_sk, p.ek_a_sk, p.ik_b_pk, p.spk_b_pk, GM_X3DH_INFO, got, K), 0);
    cr_assert_eq(memcmp(got, want, K), 0);
}

Test(x3dh, info_and_wrong_keys_change_the_secret)
{
    parties_t p;
    uint8_t a[K], b[K];

    make_parties(&p);
    cr_assert_eq(gm_x3dh_initiate(p.ik_a_sk, p.ek_a_sk, p.ik_b_pk, p.spk_b_pk, GM_X3DH_INFO, a, K),
                 0);
    cr_assert_eq(gm_x3dh_initiate(p.ik_a_sk, p.ek_a_sk, p.ik_b_pk, p.spk_b_pk, "WhisperText", b, K),
                 0);
    cr_assert_neq(memcmp(a, b, K), 0);
    /* Bob answering with his identity and prekey swapped must not agree. */
    cr_assert_eq(gm_x3dh_respond(p.spk_b_sk, p.ik_b_sk, p.ik_a_pk, p.ek_a_pk, GM_X3DH_INFO, b, K),
                 0);
    cr_assert_neq(memcmp(a, b, K), 0);
}

static void assert_untouched(const uint8_t *sk, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        cr_assert_eq(sk[i], CANARY, "sk written at %zu on failure", i);
    }
}

/* Each public-key argument in turn replaced by a low-order point. */
static void check_low_order(const uint8_t bad[K])
{
    parties_t p;
    uint8_t sk[K];

    make_parties(&p);
    memset(sk, CANARY, sizeof sk);
    cr_assert_eq(gm_x3dh_initiate(p.ik_a_sk, p.ek_a_sk, bad, p.spk_b_pk, GM_X3DH_INFO, sk, K),
                 GM_EDH);
    cr_assert_eq(gm_x3dh_initiate(p.ik_a_sk, p.ek_a_sk, p.ik_b_pk, bad, GM_X3DH_INFO, sk, K),
                 GM_EDH);
    cr_assert_eq(gm_x3dh_respond(p.ik_b_sk, p.spk_b_sk, bad, p.ek_a_pk, GM_X3DH_INFO, sk, K),
                 GM_EDH);
    cr_assert_eq(gm_x3dh_respond(p.ik_b_sk, p.spk_b_sk, p.ik_a_pk, bad, GM_X3DH_INFO, sk, K),
                 GM_EDH);
    assert_untouched(sk, sizeof sk);
}

Test(x3dh, low_order_public_keys_are_refused)
{
    for (size_t i = 0; i < sizeof low_order_hex / sizeof low_order_hex[0]; i++) {
        uint8_t bad[K];

        cr_assert_eq(gm_hex_decode(low_order_hex[i], bad, K), 0);
        check_low_order(bad);
    }
}

Test(x3dh, output_length_is_bounded)
{
    static uint8_t big[GM_HKDF_SHA256_MAX_OUT + 1];
    parties_t p;

    make_parties(&p);
    memset(big, CANARY, sizeof big);
    cr_assert_eq(
        gm_x3dh_initiate(p.ik_a_sk, p.ek_a_sk, p.ik_b_pk, p.spk_b_pk, GM_X3DH_INFO, big, 0),
        GM_ELIMIT);
    cr_assert_eq(
        gm_x3dh_respond(p.ik_b_sk, p.spk_b_sk, p.ik_a_pk, p.ek_a_pk, GM_X3DH_INFO, big, sizeof big),
        GM_ELIMIT);
    assert_untouched(big, sizeof big);
    cr_assert_eq(gm_x3dh_respond(p.ik_b_sk, p.spk_b_sk, p.ik_a_pk, p.ek_a_pk, GM_X3DH_INFO, big,
                                 sizeof big - 1),
                 0);
}

Test(x3dh, associated_data_layout)
{
    uint8_t ad[GM_X3DH_AD_LEN + 1], id_a[16], id_b[16], ik_a[K], ik_b[K];

    memset(id_a, 0xa1, sizeof id_a);
    memset(id_b, 0xb2, sizeof id_b);
    memset(ik_a, 0xc3, sizeof ik_a);
    memset(ik_b, 0xd4, sizeof ik_b);
    memset(ad, CANARY, sizeof ad);
    gm_x3dh_ad(ad, id_a, id_b, ik_a, ik_b, 0x01020304u);

    cr_assert_eq(GM_X3DH_AD_LEN, 116);
    cr_assert_eq(memcmp(ad, "guardmesh/x3dh/1", 16), 0);
    cr_assert_eq(memcmp(ad + 16, id_a, 16), 0);
    cr_assert_eq(memcmp(ad + 32, id_b, 16), 0);
    cr_assert_eq(memcmp(ad + 48, ik_a, K), 0);
    cr_assert_eq(memcmp(ad + 80, ik_b, K), 0);
    cr_assert(ad[112] == 1 && ad[113] == 2 && ad[114] == 3 && ad[115] == 4,
              "spk_id is not big-endian");
    cr_assert_eq(ad[GM_X3DH_AD_LEN], CANARY, "written past GM_X3DH_AD_LEN");
}

Test(x3dh, keypair_is_x25519_of_the_seed)
{
    uint8_t seed[K], pk[K], sk[K], want[K];

    for (int i = 0; i < K; i++) {
        seed[i] = (uint8_t)(i * 7 + 1);
    }
    gm_x25519_keypair(pk, sk, seed);
    cr_assert_eq(memcmp(sk, seed, K), 0);
    cr_assert_eq(crypto_scalarmult_base(want, seed), 0);
    cr_assert_eq(memcmp(pk, want, K), 0);
}

/*
 * libsodium 1.0.18 primitives as Guardmesh uses them, against the public
 * vectors in tests/vectors with the behaviour tests/vectors/README.md states:
 * X25519, Ed25519, ChaCha20-Poly1305 and XChaCha20-Poly1305 (IETF), BLAKE2b
 * and the Ed25519 to X25519 key conversion.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/util.h"

#ifndef GM_VECTORS_DIR
#error "GM_VECTORS_DIR must name the test vector directory"
#endif

#define VECTOR(name) GM_VECTORS_DIR "/" name
#define AEAD_TAG_LEN 16
#define RFC7748_MAX_ITERATIONS 1000 /* the 1,000,000-iteration vector takes ~40 s */

typedef void (*wp_case_fn)(const cJSON *group, const cJSON *test, void *ctx);

static void suite_init(void)
{
    cr_assert(sodium_init() >= 0, "libsodium failed to initialise");
}

TestSuite(primitives, .init = suite_init);

/* ---- vector loading ---- */

static cJSON *load_vectors(const char *path)
{
    cJSON *root = gm_json_load(path, stderr);

    cr_assert_not_null(root, "cannot load %s", path);
    return root;
}

static const cJSON *json_array(const cJSON *obj, const char *key)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key);

    cr_assert(cJSON_IsArray(arr) && cJSON_GetArraySize(arr) > 0, "no array '%s'", key);
    return arr;
}

static int json_int(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

    cr_assert(cJSON_IsNumber(item), "missing number field '%s'", key);
    return item->valueint;
}

static const char *json_str(const cJSON *obj, const char *key)
{
    const char *s = gm_json_str(obj, key);

    cr_assert_not_null(s, "missing string field '%s'", key);
    return s;
}

/* obj[key] as hex of any length, in a new buffer (gm_bytes_free it). */
static gm_bytes_t json_bytes(const cJSON *obj, const char *key)
{
    gm_bytes_t b = {NULL, 0};

    cr_assert_eq(gm_json_hex(obj, key, &b), 0, "missing or bad hex field '%s'", key);
    return b;
}

/* obj[key] as hex of exactly len bytes. */
static void json_fixed(const cJSON *obj, const char *key, uint8_t *out, size_t len)
{
    cr_assert_eq(gm_hex_decode(json_str(obj, key), out, len), 0, "field '%s' is not %zu bytes",
                 key, len);
}

static int is_result(const cJSON *test, const char *want)
{
    return strcmp(json_str(test, "result"), want) == 0;
}

static int has_flag(const cJSON *test, const char *flag)
{
    const cJSON *f;

    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(test, "flags"))
    {
        if (cJSON_IsString(f) && strcmp(f->valuestring, flag) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Calls fn on every test of a Wycheproof file; asserts all numberOfTests ran. */
static int run_wycheproof(const char *path, wp_case_fn fn, void *ctx)
{
    cJSON *root = load_vectors(path);
    const cJSON *group;
    const cJSON *test;
    int expected = json_int(root, "numberOfTests");
    int run = 0;

    cJSON_ArrayForEach(group, json_array(root, "testGroups"))
    {
        cJSON_ArrayForEach(test, json_array(group, "tests"))
        {
            fn(group, test, ctx);
            run++;
        }
    }
    cJSON_Delete(root);
    cr_assert_gt(expected, 0, "%s: numberOfTests is %d", path, expected);
    cr_assert_eq(run, expected, "%s: ran %d of %d tests", path, run, expected);
    return run;
}

/* ---- X25519 ---- */

typedef struct {
    int run;
    int zero_flagged; /* tests flagged ZeroSharedSecret */
    int zero_refused; /* crypto_scalarmult() returned -1 */
} x25519_counts_t;

static void on_x25519_case(const cJSON *group, const cJSON *test, void *ctx)
{
    x25519_counts_t *counts = ctx;
    int tc = json_int(test, "tcId");
    uint8_t priv[32], pub[32], shared[32], got[32];
    int rc;

    (void)group;
    json_fixed(test, "private", priv, sizeof priv);
    json_fixed(test, "public", pub, sizeof pub);
    json_fixed(test, "shared", shared, sizeof shared);
    rc = crypto_scalarmult(got, priv, pub);
    counts->run++;
    if (rc != 0) {
        counts->zero_refused++;
    }
    if (has_flag(test, "ZeroSharedSecret")) {
        counts->zero_flagged++;
        cr_assert(is_result(test, "acceptable"), "tcId %d: ZeroSharedSecret not acceptable", tc);
        cr_assert_eq(rc, -1, "tcId %d: all-zero shared secret not refused", tc);
        return;
    }
    cr_assert(is_result(test, "valid") || is_result(test, "acceptable"), "tcId %d: result", tc);
    cr_assert_eq(rc, 0, "tcId %d: crypto_scalarmult failed", tc);
    cr_assert_eq(memcmp(got, shared, sizeof got), 0, "tcId %d: wrong shared secret", tc);
}

Test(primitives, x25519_matches_wycheproof_and_refuses_zero_shared_secret)
{
    x25519_counts_t counts = {0, 0, 0};

    run_wycheproof(VECTOR("wycheproof/x25519_test.json"), on_x25519_case, &counts);
    cr_log_info("x25519_test.json: %d run, %d ZeroSharedSecret returned -1", counts.run,
                counts.zero_refused);
    cr_assert_gt(counts.zero_flagged, 0, "no ZeroSharedSecret test found");
    cr_assert_eq(counts.zero_refused, counts.zero_flagged, "%d refused, %d flagged",
                 counts.zero_refused, counts.zero_flagged);
}

static void check_x25519_scalarmult(const cJSON *v)
{
    uint8_t scalar[32], u[32], want[32], got[32];

    json_fixed(v, "scalar", scalar, sizeof scalar);
    json_fixed(v, "u", u, sizeof u);
    json_fixed(v, "output", want, sizeof want);
    cr_assert_eq(crypto_scalarmult(got, scalar, u), 0, "%s", json_str(v, "id"));
    cr_assert_eq(memcmp(got, want, sizeof got), 0, "%s: wrong output", json_str(v, "id"));
}

/* k = u = 9; repeat (k, u) <- (X25519(k, u), k); the result is k. */
static void check_x25519_iterated(const cJSON *v, int iterations)
{
    uint8_t k[32] = {9}, u[32] = {9}, next[32], want[32];

    json_fixed(v, "result", want, sizeof want);
    for (int i = 0; i < iterations; i++) {
        cr_assert_eq(crypto_scalarmult(next, k, u), 0, "%s: step %d", json_str(v, "id"), i);
        memcpy(u, k, sizeof u);
        memcpy(k, next, sizeof k);
    }
    cr_assert_eq(memcmp(k, want, sizeof k), 0, "%s: wrong result", json_str(v, "id"));
}

static void check_x25519_dh(const cJSON *v)
{
    uint8_t a_priv[32], a_pub[32], b_priv[32], b_pub[32], shared[32], got[32];

    json_fixed(v, "alice_private", a_priv, sizeof a_priv);
    json_fixed(v, "alice_public", a_pub, sizeof a_pub);
    json_fixed(v, "bob_private", b_priv, sizeof b_priv);
    json_fixed(v, "bob_public", b_pub, sizeof b_pub);
    json_fixed(v, "shared", shared, sizeof shared);
    cr_assert_eq(crypto_scalarmult_base(got, a_priv), 0);
    cr_assert_eq(memcmp(got, a_pub, sizeof got), 0, "wrong Alice public key");
    cr_assert_eq(crypto_scalarmult_base(got, b_priv), 0);
    cr_assert_eq(memcmp(got, b_pub, sizeof got), 0, "wrong Bob public key");
    cr_assert_eq(crypto_scalarmult(got, a_priv, b_pub), 0);
    cr_assert_eq(memcmp(got, shared, sizeof got), 0, "wrong shared secret (Alice)");
    cr_assert_eq(crypto_scalarmult(got, b_priv, a_pub), 0);
    cr_assert_eq(memcmp(got, shared, sizeof got), 0, "wrong shared secret (Bob)");
}

Test(primitives, x25519_matches_rfc7748)
{
    cJSON *root = load_vectors(VECTOR("rfc/rfc7748_x25519.json"));
    const cJSON *v;
    int run = 0, skipped = 0, entries = 0;

    cJSON_ArrayForEach(v, json_array(root, "scalarmult"))
    {
        check_x25519_scalarmult(v);
        run++;
    }
    cJSON_ArrayForEach(v, json_array(root, "iterated"))
    {
        int iterations = json_int(v, "iterations");

        if (iterations > RFC7748_MAX_ITERATIONS) {
            skipped++;
            continue;
        }
        check_x25519_iterated(v, iterations);
        run++;
    }
    cJSON_ArrayForEach(v, json_array(root, "diffie_hellman"))
    {
        check_x25519_dh(v);
        run++;
    }
    entries = cJSON_GetArraySize(json_array(root, "scalarmult")) +
              cJSON_GetArraySize(json_array(root, "iterated")) +
              cJSON_GetArraySize(json_array(root, "diffie_hellman"));
    cJSON_Delete(root);
    cr_assert_eq(run + skipped, entries);
    cr_assert_eq(run, 4, "ran %d RFC 7748 vectors (5.2 #1, 1 and 1000 iterations, 6.1)", run);
}

/* ---- Ed25519 ---- */

typedef struct {
    int accepted;
    int valid;
    int bad_length; /* signature not 64 bytes: the caller rejects it */
} ed25519_counts_t;

static void on_ed25519_case(const cJSON *group, const cJSON *test, void *ctx)
{
    ed25519_counts_t *counts = ctx;
    int tc = json_int(test, "tcId");
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    gm_bytes_t msg = json_bytes(test, "msg"), sig = json_bytes(test, "sig");
    int ok = 0;

    json_fixed(cJSON_GetObjectItemCaseSensitive(group, "publicKey"), "pk", pk, sizeof pk);
    if (sig.len == crypto_sign_BYTES) {
        ok = crypto_sign_verify_detached(sig.data, msg.data, msg.len, pk) == 0;
    } else {
        counts->bad_length++;
    }
    if (is_result(test, "valid")) {
        cr_assert(ok, "tcId %d: valid signature rejected", tc);
        counts->valid++;
    } else {
        cr_assert(is_result(test, "invalid"), "tcId %d: unexpected result", tc);
        cr_assert(!ok, "tcId %d: invalid signature accepted", tc);
    }
    counts->accepted += ok;
    gm_bytes_free(&msg);
    gm_bytes_free(&sig);
}

Test(primitives, ed25519_verify_matches_wycheproof)
{
    ed25519_counts_t counts = {0, 0, 0};
    int run = run_wycheproof(VECTOR("wycheproof/ed25519_test.json"), on_ed25519_case, &counts);

    cr_assert_gt(counts.valid, 0);
    cr_assert_eq(counts.accepted, counts.valid);
    cr_assert_lt(counts.accepted + counts.bad_length, run);
}

/* Verifies the signature; when a secret key is given, also re-signs. 1 if it signed. */
static int check_rfc8032_case(const cJSON *v)
{
    const char *id = json_str(v, "id");
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES], seed[crypto_sign_SEEDBYTES];
    uint8_t got_pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    uint8_t got_sig[crypto_sign_BYTES];
    unsigned long long sig_len = 0;
    gm_bytes_t msg = json_bytes(v, "message");
    int has_secret = gm_json_str(v, "secret_key") != NULL;

    json_fixed(v, "public_key", pk, sizeof pk);
    json_fixed(v, "signature", sig, sizeof sig);
    cr_assert_eq(crypto_sign_verify_detached(sig, msg.data, msg.len, pk), 0, "%s: rejected", id);
    if (has_secret) {
        json_fixed(v, "secret_key", seed, sizeof seed);
        cr_assert_eq(crypto_sign_seed_keypair(got_pk, sk, seed), 0);
        cr_assert_eq(memcmp(got_pk, pk, sizeof pk), 0, "%s: wrong public key", id);
        cr_assert_eq(crypto_sign_detached(got_sig, &sig_len, msg.data, msg.len, sk), 0);
        cr_assert_eq(sig_len, crypto_sign_BYTES);
        cr_assert_eq(memcmp(got_sig, sig, sizeof sig), 0, "%s: wrong signature", id);
        sodium_memzero(sk, sizeof sk);
    }
    gm_bytes_free(&msg);
    return has_secret;
}

Test(primitives, ed25519_signs_and_verifies_rfc8032)
{
    cJSON *root = load_vectors(VECTOR("rfc/rfc8032_ed25519.json"));
    const cJSON *tests = json_array(root, "tests");
    const cJSON *v;
    int run = 0, resigned = 0, expected = cJSON_GetArraySize(tests);

    cJSON_ArrayForEach(v, tests)
    {
        resigned += check_rfc8032_case(v);
        run++;
    }
    cJSON_Delete(root);
    cr_assert_eq(run, expected);
    cr_assert_gt(resigned, 0, "no vector was re-signed from its secret key");
}

/* True when every flag is low_order_component_A or low_order_component_R (or none). */
static int has_only_low_order_component_flags(const cJSON *v)
{
    const cJSON *f;

    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(v, "flags"))
    {
        cr_assert(cJSON_IsString(f), "number %d: bad flag", json_int(v, "number"));
        if (strcmp(f->valuestring, "low_order_component_A") != 0 &&
            strcmp(f->valuestring, "low_order_component_R") != 0) {
            return 0;
        }
    }
    return 1;
}

static int verify_cctv_case(const cJSON *v)
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];
    const char *msg = json_str(v, "msg"); /* the message is the ASCII string itself */

    json_fixed(v, "key", pk, sizeof pk);
    json_fixed(v, "sig", sig, sizeof sig);
    return crypto_sign_verify_detached(sig, (const uint8_t *)msg, strlen(msg), pk) == 0;
}

Test(primitives, ed25519_cctv_accepts_only_low_order_component_flags)
{
    cJSON *root = load_vectors(VECTOR("cctv/ed25519vectors.json"));
    const cJSON *v;
    int run = 0, accepted = 0, expected_accepted = 0, expected_run = cJSON_GetArraySize(root);

    cr_assert(cJSON_IsArray(root) && expected_run > 0);
    cJSON_ArrayForEach(v, root)
    {
        int want = has_only_low_order_component_flags(v);
        int ok = verify_cctv_case(v);

        cr_assert_eq(ok, want, "number %d: %s", json_int(v, "number"),
                     want ? "rejected" : "accepted");
        accepted += ok;
        expected_accepted += want;
        run++;
    }
    cJSON_Delete(root);
    cr_log_info("ed25519vectors.json: %d run, %d accepted", run, accepted);
    cr_assert_eq(run, expected_run);
    cr_assert_gt(expected_accepted, 0);
    cr_assert_eq(accepted, expected_accepted);
}

/* ---- ChaCha20-Poly1305 and XChaCha20-Poly1305 (IETF) ---- */

typedef int (*aead_encrypt_fn)(unsigned char *c, unsigned long long *clen, const unsigned char *m,
                               unsigned long long mlen, const unsigned char *ad,
                               unsigned long long adlen, const unsigned char *nsec,
                               const unsigned char *npub, const unsigned char *k);
typedef int (*aead_decrypt_fn)(unsigned char *m, unsigned long long *mlen, unsigned char *nsec,
                               const unsigned char *c, unsigned long long clen,
                               const unsigned char *ad, unsigned long long adlen,
                               const unsigned char *npub, const unsigned char *k);

typedef struct {
    size_t key_len;
    size_t nonce_len;
    aead_encrypt_fn encrypt;
    aead_decrypt_fn decrypt;
    int valid;          /* valid tests that encrypted and decrypted correctly */
    int rejected;       /* invalid tests whose decryption failed */
    int bad_nonce_size; /* of those, rejected for the nonce size alone */
} aead_t;

static const aead_t chacha20poly1305_ietf = {
    .key_len = crypto_aead_chacha20poly1305_ietf_KEYBYTES,
    .nonce_len = crypto_aead_chacha20poly1305_ietf_NPUBBYTES,
    .encrypt = crypto_aead_chacha20poly1305_ietf_encrypt,
    .decrypt = crypto_aead_chacha20poly1305_ietf_decrypt,
};

static const aead_t xchacha20poly1305_ietf = {
    .key_len = crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
    .nonce_len = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
    .encrypt = crypto_aead_xchacha20poly1305_ietf_encrypt,
    .decrypt = crypto_aead_xchacha20poly1305_ietf_decrypt,
};

typedef struct {
    gm_bytes_t key, nonce, aad, msg, sealed; /* sealed = ct || tag */
} aead_case_t;

static void aead_case_load(aead_case_t *c, const cJSON *v, const char *nonce_key,
                           const char *msg_key, const char *ct_key)
{
    gm_bytes_t ct = json_bytes(v, ct_key), tag = json_bytes(v, "tag");

    c->key = json_bytes(v, "key");
    c->nonce = json_bytes(v, nonce_key);
    c->aad = json_bytes(v, "aad");
    c->msg = json_bytes(v, msg_key);
    c->sealed.len = ct.len + tag.len;
    c->sealed.data = malloc(c->sealed.len + 1);
    cr_assert_not_null(c->sealed.data);
    memcpy(c->sealed.data, ct.data, ct.len);
    memcpy(c->sealed.data + ct.len, tag.data, tag.len);
    gm_bytes_free(&ct);
    gm_bytes_free(&tag);
}

static void aead_case_free(aead_case_t *c)
{
    gm_bytes_free(&c->key);
    gm_bytes_free(&c->nonce);
    gm_bytes_free(&c->aad);
    gm_bytes_free(&c->msg);
    gm_bytes_free(&c->sealed);
}

/* Opens c->sealed; 1 when it authenticates and gives c->msg back, 0 when refused. */
static int aead_open(const aead_t *alg, const aead_case_t *c)
{
    uint8_t *out = malloc(c->sealed.len + 1);
    unsigned long long out_len = 0;
    int ok;

    cr_assert_not_null(out);
    ok = alg->decrypt(out, &out_len, NULL, c->sealed.data, c->sealed.len, c->aad.data,
                      c->aad.len, c->nonce.data, c->key.data) == 0;
    if (ok) {
        cr_assert_eq(out_len, c->msg.len);
        cr_assert_eq(memcmp(out, c->msg.data, c->msg.len), 0, "wrong plaintext");
    }
    free(out);
    return ok;
}

/* Seals c->msg and checks the result is c->sealed. */
static void aead_check_seal(const aead_t *alg, const aead_case_t *c, const char *id)
{
    uint8_t *out = malloc(c->msg.len + AEAD_TAG_LEN);
    unsigned long long out_len = 0;

    cr_assert_not_null(out);
    cr_assert_eq(alg->encrypt(out, &out_len, c->msg.data, c->msg.len, c->aad.data, c->aad.len,
                              NULL, c->nonce.data, c->key.data),
                 0, "%s: encrypt failed", id);
    cr_assert_eq(out_len, c->sealed.len, "%s: ciphertext length", id);
    cr_assert_eq(memcmp(out, c->sealed.data, c->sealed.len), 0, "%s: wrong ct || tag", id);
    free(out);
}

static void on_aead_case(const cJSON *group, const cJSON *test, void *ctx)
{
    aead_t *alg = ctx;
    char id[32];
    aead_case_t c;

    snprintf(id, sizeof id, "tcId %d", json_int(test, "tcId"));
    aead_case_load(&c, test, "iv", "msg", "ct");
    cr_assert_eq(c.key.len, alg->key_len, "%s: key size", id);
    cr_assert_eq(c.nonce.len * 8, (size_t)json_int(group, "ivSize"), "%s: iv size", id);
    if (is_result(test, "valid")) {
        cr_assert_eq(c.nonce.len, alg->nonce_len, "%s: valid with a bad nonce size", id);
        aead_check_seal(alg, &c, id);
        cr_assert(aead_open(alg, &c), "%s: valid ciphertext refused", id);
        alg->valid++;
    } else {
        cr_assert(is_result(test, "invalid"), "%s: unexpected result", id);
        if (c.nonce.len != alg->nonce_len) {
            /* The API takes a fixed-size nonce: the caller refuses any other. */
            cr_assert(has_flag(test, "InvalidNonceSize"), "%s: nonce size not flagged", id);
            alg->bad_nonce_size++;
        } else {
            cr_assert(!aead_open(alg, &c), "%s: invalid ciphertext accepted", id);
        }
        alg->rejected++;
    }
    aead_case_free(&c);
}

static void run_aead_file(const char *path, aead_t *alg)
{
    int run = run_wycheproof(path, on_aead_case, alg);

    cr_log_info("%s: %d run, %d valid, %d rejected (%d for nonce size)", path, run, alg->valid,
                alg->rejected, alg->bad_nonce_size);
    cr_assert_eq(alg->valid + alg->rejected, run);
    cr_assert(alg->valid > 0 && alg->rejected > alg->bad_nonce_size);
}

Test(primitives, chacha20poly1305_ietf_matches_wycheproof)
{
    aead_t alg = chacha20poly1305_ietf;

    run_aead_file(VECTOR("wycheproof/chacha20_poly1305_test.json"), &alg);
}

Test(primitives, xchacha20poly1305_ietf_matches_wycheproof)
{
    aead_t alg = xchacha20poly1305_ietf;

    run_aead_file(VECTOR("wycheproof/xchacha20_poly1305_test.json"), &alg);
}

Test(primitives, chacha20poly1305_ietf_matches_rfc8439)
{
    cJSON *root = load_vectors(VECTOR("rfc/rfc8439_chacha20_poly1305.json"));
    const cJSON *tests = json_array(root, "aead_chacha20_poly1305");
    const cJSON *v;
    const aead_t *alg = &chacha20poly1305_ietf;
    int run = 0, expected = cJSON_GetArraySize(tests);
    aead_case_t c;

    cJSON_ArrayForEach(v, tests)
    {
        aead_case_load(&c, v, "nonce", "plaintext", "ciphertext");
        cr_assert_eq(c.nonce.len, alg->nonce_len);
        cr_assert_eq(c.key.len, alg->key_len);
        aead_check_seal(alg, &c, json_str(v, "id"));
        cr_assert(aead_open(alg, &c), "%s: refused", json_str(v, "id"));
        c.sealed.data[c.sealed.len - 1] ^= 1;
        cr_assert(!aead_open(alg, &c), "%s: accepted with a modified tag", json_str(v, "id"));
        aead_case_free(&c);
        run++;
    }
    cJSON_Delete(root);
    cr_assert_eq(run, expected);
}

/* ---- BLAKE2b ---- */

static void check_blake2b_kat(const cJSON *v, int index)
{
    gm_bytes_t in = json_bytes(v, "in"), key = json_bytes(v, "key");
    uint8_t want[crypto_generichash_BYTES_MAX], got[crypto_generichash_BYTES_MAX];

    cr_assert_str_eq(json_str(v, "hash"), "blake2b", "entry %d", index);
    json_fixed(v, "out", want, sizeof want);
    cr_assert_eq(crypto_generichash(got, sizeof got, in.data, in.len,
                                    key.len > 0 ? key.data : NULL, key.len),
                 0, "entry %d: crypto_generichash failed", index);
    cr_assert_eq(memcmp(got, want, sizeof got), 0, "entry %d: wrong hash", index);
    gm_bytes_free(&in);
    gm_bytes_free(&key);
}

Test(primitives, blake2b_matches_kat)
{
    cJSON *root = load_vectors(VECTOR("blake2/blake2b-kat.json"));
    const cJSON *v;
    int run = 0, keyed = 0, expected = cJSON_GetArraySize(root);

    cr_assert(cJSON_IsArray(root) && expected > 0);
    cJSON_ArrayForEach(v, root)
    {
        check_blake2b_kat(v, run);
        keyed += json_str(v, "key")[0] != '\0';
        run++;
    }
    cJSON_Delete(root);
    cr_assert_eq(run, expected);
    cr_assert(keyed > 0 && keyed < run, "%d of %d keyed", keyed, run);
}

/* ---- Ed25519 to X25519 key conversion ---- */

static void check_convert_valid(const cJSON *v)
{
    uint8_t seed[crypto_sign_ed25519_SEEDBYTES], ed_pk[crypto_sign_ed25519_PUBLICKEYBYTES];
    uint8_t ed_sk[crypto_sign_ed25519_SECRETKEYBYTES], got_ed_pk[sizeof ed_pk];
    uint8_t x_pk[crypto_scalarmult_curve25519_BYTES], x_sk[crypto_scalarmult_curve25519_BYTES];
    uint8_t got[crypto_scalarmult_curve25519_BYTES];

    json_fixed(v, "ed25519_seed", seed, sizeof seed);
    json_fixed(v, "ed25519_public", ed_pk, sizeof ed_pk);
    json_fixed(v, "expected_x25519_public", x_pk, sizeof x_pk);
    json_fixed(v, "expected_x25519_private", x_sk, sizeof x_sk);
    cr_assert_eq(crypto_sign_ed25519_seed_keypair(got_ed_pk, ed_sk, seed), 0);
    cr_assert_eq(memcmp(got_ed_pk, ed_pk, sizeof ed_pk), 0, "wrong Ed25519 public key");
    cr_assert_eq(crypto_sign_ed25519_pk_to_curve25519(got, ed_pk), 0);
    cr_assert_eq(memcmp(got, x_pk, sizeof got), 0, "wrong X25519 public key");
    cr_assert_eq(crypto_sign_ed25519_sk_to_curve25519(got, ed_sk), 0);
    cr_assert_eq(memcmp(got, x_sk, sizeof got), 0, "wrong X25519 private key");
    cr_assert_eq(crypto_scalarmult_base(got, x_sk), 0);
    cr_assert_eq(memcmp(got, x_pk, sizeof got), 0, "converted keys do not form a pair");
    sodium_memzero(ed_sk, sizeof ed_sk);
}

static void check_convert_invalid(const cJSON *v)
{
    uint8_t ed_pk[crypto_sign_ed25519_PUBLICKEYBYTES], got[crypto_scalarmult_curve25519_BYTES];

    json_fixed(v, "ed25519_public", ed_pk, sizeof ed_pk);
    cr_assert_eq(crypto_sign_ed25519_pk_to_curve25519(got, ed_pk), -1, "%s: not refused",
                 json_str(v, "id"));
}

Test(primitives, ed25519_to_x25519_conversion_matches_libsodium_tests)
{
    cJSON *root = load_vectors(VECTOR("libsodium/ed25519_convert.json"));
    const cJSON *tests = json_array(root, "tests");
    const cJSON *v;
    int valid = 0, invalid = 0, expected = cJSON_GetArraySize(tests);

    cJSON_ArrayForEach(v, tests)
    {
        if (is_result(v, "valid")) {
            check_convert_valid(v);
            valid++;
        } else {
            cr_assert(is_result(v, "invalid"), "%s: unexpected result", json_str(v, "id"));
            check_convert_invalid(v);
            invalid++;
        }
    }
    cJSON_Delete(root);
    cr_assert_eq(valid + invalid, expected);
    cr_assert(valid > 0 && invalid > 0);
}

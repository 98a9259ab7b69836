/*
 * Tests of crypto/kdf.c: HKDF-SHA256 and HMAC-SHA256 against Wycheproof and
 * RFC 5869 vectors, HMAC-BLAKE2b against an independent RFC 2104 computation.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kdf.h"
#include "tools/util.h"

#ifndef GM_VECTORS_DIR
#error "GM_VECTORS_DIR must name the test vector directory"
#endif

#define B2_BLOCK 128
#define CANARY 0xa5
#define RFC_FIELD_MAX 512
#define RFC5869_CASES 2 /* rfc5869_hkdf_sha256.txt holds test cases 1 and 3 */

typedef void (*wp_case_fn)(const cJSON *group, const cJSON *test, void *ctx);

typedef struct {
    int valid;
    int invalid;
} result_counts_t;

static void suite_init(void)
{
    cr_assert(sodium_init() >= 0, "libsodium failed to initialise");
}

TestSuite(kdf, .init = suite_init);

/* ---- vector loading ---- */

static cJSON *load_vectors(const char *path)
{
    cJSON *root = gm_json_load(path, stderr);

    cr_assert_not_null(root, "cannot load %s", path);
    return root;
}

static int json_int(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

    cr_assert(cJSON_IsNumber(item), "missing number field '%s'", key);
    return item->valueint;
}

static gm_bytes_t json_bytes(const cJSON *obj, const char *key)
{
    gm_bytes_t b = {NULL, 0};

    cr_assert_eq(gm_json_hex(obj, key, &b), 0, "missing or bad hex field '%s'", key);
    return b;
}

static int is_result(const cJSON *test, const char *want)
{
    const char *result = gm_json_str(test, "result");

    cr_assert_not_null(result, "test without a result");
    return strcmp(result, want) == 0;
}

/* Calls fn on every test of a Wycheproof file; asserts all numberOfTests ran. */
static int run_wycheproof(const char *path, wp_case_fn fn, void *ctx)
{
    cJSON *root = load_vectors(path);
    const cJSON *groups = cJSON_GetObjectItemCaseSensitive(root, "testGroups");
    const cJSON *group;
    const cJSON *test;
    int expected = json_int(root, "numberOfTests");
    int run = 0;

    cr_assert(cJSON_IsArray(groups), "%s: no testGroups", path);
    cJSON_ArrayForEach(group, groups)
    {
        cJSON_ArrayForEach(test, cJSON_GetObjectItemCaseSensitive(group, "tests"))
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

/* ---- HKDF-SHA256, Wycheproof ---- */

static void check_hkdf_valid(const cJSON *test, int tc, size_t size)
{
    gm_bytes_t ikm = json_bytes(test, "ikm"), salt = json_bytes(test, "salt");
    gm_bytes_t info = json_bytes(test, "info"), okm = json_bytes(test, "okm");
    uint8_t *out = malloc(size + 1);

    cr_assert_not_null(out);
    cr_assert_eq(okm.len, size, "tcId %d: okm length %zu, size %zu", tc, okm.len, size);
    cr_assert_eq(gm_hkdf_sha256(out, size, salt.data, salt.len, ikm.data, ikm.len,
                                (const char *)info.data, info.len),
                 0, "tcId %d: gm_hkdf_sha256 failed", tc);
    cr_assert_eq(memcmp(out, okm.data, size), 0, "tcId %d: wrong okm", tc);
    free(out);
    gm_bytes_free(&ikm);
    gm_bytes_free(&salt);
    gm_bytes_free(&info);
    gm_bytes_free(&okm);
}

static void check_hkdf_too_long(const cJSON *test, int tc, size_t size)
{
    gm_bytes_t ikm = json_bytes(test, "ikm"), salt = json_bytes(test, "salt");
    gm_bytes_t info = json_bytes(test, "info");
    uint8_t *out = malloc(size);

    cr_assert_not_null(out);
    cr_assert_gt(size, GM_HKDF_SHA256_MAX_OUT, "tcId %d: invalid but size %zu", tc, size);
    memset(out, CANARY, size);
    cr_assert_eq(gm_hkdf_sha256(out, size, salt.data, salt.len, ikm.data, ikm.len,
                                (const char *)info.data, info.len),
                 GM_ELIMIT, "tcId %d: size %zu not refused with GM_ELIMIT", tc, size);
    for (size_t i = 0; i < size; i++) {
        cr_assert_eq(out[i], CANARY, "tcId %d: output byte %zu written on error", tc, i);
    }
    free(out);
    gm_bytes_free(&ikm);
    gm_bytes_free(&salt);
    gm_bytes_free(&info);
}

static void on_hkdf_case(const cJSON *group, const cJSON *test, void *ctx)
{
    result_counts_t *counts = ctx;
    int tc = json_int(test, "tcId");
    size_t size = (size_t)json_int(test, "size");

    (void)group;
    if (is_result(test, "valid")) {
        check_hkdf_valid(test, tc, size);
        counts->valid++;
    } else {
        cr_assert(is_result(test, "invalid"), "tcId %d: unexpected result", tc);
        check_hkdf_too_long(test, tc, size);
        counts->invalid++;
    }
}

Test(kdf, hkdf_matches_wycheproof_and_refuses_oversized_output)
{
    result_counts_t counts = {0, 0};
    int run = run_wycheproof(GM_VECTORS_DIR "/wycheproof/hkdf_sha256_test.json", on_hkdf_case,
                             &counts);

    cr_assert_eq(counts.valid + counts.invalid, run);
    cr_assert_gt(counts.invalid, 0, "no oversized-output case was run");
}

/* ---- HKDF-SHA256, RFC 5869 text vectors ---- */

typedef struct {
    char ikm[RFC_FIELD_MAX], salt[RFC_FIELD_MAX], info[RFC_FIELD_MAX];
    char prk[RFC_FIELD_MAX], okm[RFC_FIELD_MAX], len[RFC_FIELD_MAX];
    int count;
} rfc_case_t;

static char *trim(char *s)
{
    char *end = s + strlen(s);

    while (*s != '\0' && isspace((unsigned char)*s)) {
        s++;
    }
    while (end > s && isspace((unsigned char)end[-1])) {
        *--end = '\0';
    }
    return s;
}

static gm_bytes_t rfc_bytes(const char *hex)
{
    gm_bytes_t b = {NULL, 0};

    cr_assert_eq(gm_hex_decode_alloc(hex, &b), 0, "bad hex '%s'", hex);
    return b;
}

/* Empty fields are zero-length: pass NULL so the NULL-pointer paths are exercised too. */
static const uint8_t *or_null(const gm_bytes_t *b)
{
    return b->len > 0 ? b->data : NULL;
}

static void check_rfc_case(const rfc_case_t *c)
{
    gm_bytes_t ikm = rfc_bytes(c->ikm), salt = rfc_bytes(c->salt), info = rfc_bytes(c->info);
    gm_bytes_t prk = rfc_bytes(c->prk), okm = rfc_bytes(c->okm);
    uint8_t got_prk[GM_SHA256_LEN];
    uint8_t *got_okm = malloc(okm.len + 1);

    cr_assert_not_null(got_okm);
    cr_assert_eq(prk.len, GM_SHA256_LEN, "COUNT %d: PRK length", c->count);
    cr_assert_eq(okm.len, (size_t)strtoul(c->len, NULL, 10), "COUNT %d: L != |OKM|", c->count);
    gm_hkdf_sha256_extract(got_prk, or_null(&salt), salt.len, ikm.data, ikm.len);
    cr_assert_eq(memcmp(got_prk, prk.data, GM_SHA256_LEN), 0, "COUNT %d: wrong PRK", c->count);
    cr_assert_eq(gm_hkdf_sha256_expand(got_okm, okm.len, (const char *)or_null(&info), info.len,
                                       prk.data),
                 0, "COUNT %d: expand failed", c->count);
    cr_assert_eq(memcmp(got_okm, okm.data, okm.len), 0, "COUNT %d: wrong OKM", c->count);
    free(got_okm);
    gm_bytes_free(&ikm);
    gm_bytes_free(&salt);
    gm_bytes_free(&info);
    gm_bytes_free(&prk);
    gm_bytes_free(&okm);
}

/* Stores one `KEY = value` line in c; returns 1 when it was the case's last field (OKM). */
static int parse_rfc_line(char *line, rfc_case_t *c)
{
    static const char *const keys[] = {"IKM", "salt", "info", "PRK", "OKM", "L"};
    char *fields[] = {c->ikm, c->salt, c->info, c->prk, c->okm, c->len};
    char *eq = strchr(line, '=');
    const char *key, *value;

    if (eq == NULL) {
        return 0;
    }
    *eq = '\0';
    key = trim(line);
    value = trim(eq + 1);
    if (strcmp(key, "COUNT") == 0) {
        memset(c, 0, sizeof *c);
        c->count = atoi(value);
        return 0;
    }
    if (strcmp(key, "Hash") == 0) {
        cr_assert_str_eq(value, "SHA-256");
        return 0;
    }
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(key, keys[i]) == 0) {
            strcpy(fields[i], value); /* fits: the whole line fits in RFC_FIELD_MAX */
            return strcmp(key, "OKM") == 0;
        }
    }
    cr_assert_fail("unknown key '%s'", key);
    return 0;
}

Test(kdf, hkdf_extract_and_expand_match_rfc5869)
{
    const char *path = GM_VECTORS_DIR "/rfc/rfc5869_hkdf_sha256.txt";
    FILE *f = fopen(path, "r");
    char line[RFC_FIELD_MAX];
    rfc_case_t c;
    int run = 0;

    cr_assert_not_null(f, "cannot open %s", path);
    memset(&c, 0, sizeof c);
    while (fgets(line, sizeof line, f) != NULL) {
        cr_assert(strchr(line, '\n') != NULL || feof(f), "line too long in %s", path);
        if (line[0] == '#') {
            continue;
        }
        if (parse_rfc_line(line, &c)) {
            check_rfc_case(&c);
            run++;
        }
    }
    fclose(f);
    cr_assert_eq(run, RFC5869_CASES, "ran %d RFC 5869 cases", run);
}

/* ---- HKDF properties ---- */

Test(kdf, hkdf_absent_salt_equals_hashlen_zero_salt)
{
    static const uint8_t zeros[GM_SHA256_LEN];
    static const uint8_t ikm[] = {1, 2, 3, 4, 5};
    uint8_t a[GM_SHA256_LEN], b[GM_SHA256_LEN];

    gm_hkdf_sha256_extract(a, NULL, 0, ikm, sizeof ikm);
    gm_hkdf_sha256_extract(b, zeros, sizeof zeros, ikm, sizeof ikm);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
}

Test(kdf, hkdf_shorter_output_is_prefix_of_longer)
{
    static const uint8_t ikm[] = {9, 8, 7};
    uint8_t longer[100], shorter[33];

    cr_assert_eq(gm_hkdf_sha256(longer, sizeof longer, NULL, 0, ikm, sizeof ikm, "ctx", 3), 0);
    cr_assert_eq(gm_hkdf_sha256(shorter, sizeof shorter, NULL, 0, ikm, sizeof ikm, "ctx", 3), 0);
    cr_assert_eq(memcmp(longer, shorter, sizeof shorter), 0);
    cr_assert_eq(gm_hkdf_sha256(longer, 0, NULL, 0, ikm, sizeof ikm, "ctx", 3), 0);
}

/* ---- HMAC-SHA256, Wycheproof ---- */

static void on_hmac_case(const cJSON *group, const cJSON *test, void *ctx)
{
    result_counts_t *counts = ctx;
    int tc = json_int(test, "tcId");
    size_t tag_len = (size_t)json_int(group, "tagSize") / 8;
    gm_bytes_t key = json_bytes(test, "key"), msg = json_bytes(test, "msg");
    gm_bytes_t tag = json_bytes(test, "tag");
    uint8_t got[GM_SHA256_LEN];
    int same;

    cr_assert_eq(key.len * 8, (size_t)json_int(group, "keySize"), "tcId %d: key size", tc);
    cr_assert(tag_len <= GM_SHA256_LEN && tag.len == tag_len, "tcId %d: tag size", tc);
    gm_hmac_sha256(got, key.data, key.len, msg.data, msg.len, NULL, 0);
    same = memcmp(got, tag.data, tag_len) == 0;
    if (is_result(test, "valid")) {
        cr_assert(same, "tcId %d: valid tag not reproduced", tc);
        counts->valid++;
    } else {
        cr_assert(is_result(test, "invalid"), "tcId %d: unexpected result", tc);
        cr_assert(!same, "tcId %d: invalid tag matched", tc);
        counts->invalid++;
    }
    gm_bytes_free(&key);
    gm_bytes_free(&msg);
    gm_bytes_free(&tag);
}

Test(kdf, hmac_sha256_matches_wycheproof)
{
    result_counts_t counts = {0, 0};
    int run = run_wycheproof(GM_VECTORS_DIR "/wycheproof/hmac_sha256_test.json", on_hmac_case,
                             &counts);

    cr_assert_eq(counts.valid + counts.invalid, run);
    cr_assert(counts.valid > 0 && counts.invalid > 0);
}

/* The message split into a || b at several points gives the one-piece HMAC. */
static void on_hmac_split_case(const cJSON *group, const cJSON *test, void *ctx)
{
    int *splits = ctx;
    int tc = json_int(test, "tcId");
    gm_bytes_t key = json_bytes(test, "key"), msg = json_bytes(test, "msg");
    size_t points[] = {0, 1, msg.len / 2, msg.len > 0 ? msg.len - 1 : 0, msg.len};
    uint8_t whole[GM_SHA256_LEN], split[GM_SHA256_LEN];

    (void)group;
    gm_hmac_sha256(whole, key.data, key.len, msg.data, msg.len, NULL, 0);
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        size_t at = points[i] < msg.len ? points[i] : msg.len;

        gm_hmac_sha256(split, key.data, key.len, msg.data, at, msg.data + at, msg.len - at);
        cr_assert_eq(memcmp(whole, split, sizeof whole), 0, "tcId %d: split at %zu", tc, at);
        (*splits)++;
    }
    gm_bytes_free(&key);
    gm_bytes_free(&msg);
}

Test(kdf, hmac_sha256_is_independent_of_message_split)
{
    int splits = 0;
    int run = run_wycheproof(GM_VECTORS_DIR "/wycheproof/hmac_sha256_test.json",
                             on_hmac_split_case, &splits);

    cr_assert_eq(splits, 5 * run);
}

/* ---- HMAC-BLAKE2b ---- */

/*
 * RFC 2104 with BLAKE2b-512 (B = 128), written independently of crypto/kdf.c:
 * K0 = key, or BLAKE2b(key) when longer than B, zero-padded to B bytes;
 * HMAC = H((K0 ^ opad) || H((K0 ^ ipad) || msg)), each H a one-shot unkeyed hash.
 */
static void ref_hmac_blake2b(uint8_t out[GM_BLAKE2B_LEN], const uint8_t *key, size_t key_len,
                             const uint8_t *msg, size_t msg_len)
{
    uint8_t k0[B2_BLOCK] = {0};
    uint8_t outer[B2_BLOCK + GM_BLAKE2B_LEN];
    uint8_t *inner = malloc(B2_BLOCK + msg_len);

    cr_assert_not_null(inner);
    if (key_len > B2_BLOCK) {
        crypto_generichash(k0, GM_BLAKE2B_LEN, key, key_len, NULL, 0);
    } else if (key_len > 0) {
        memcpy(k0, key, key_len);
    }
    for (size_t i = 0; i < B2_BLOCK; i++) {
        inner[i] = k0[i] ^ 0x36;
        outer[i] = k0[i] ^ 0x5c;
    }
    if (msg_len > 0) {
        memcpy(inner + B2_BLOCK, msg, msg_len);
    }
    crypto_generichash(outer + B2_BLOCK, GM_BLAKE2B_LEN, inner, B2_BLOCK + msg_len, NULL, 0);
    crypto_generichash(out, GM_BLAKE2B_LEN, outer, sizeof outer, NULL, 0);
    free(inner);
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(i * 7 + seed);
    }
}

/* Checks one key/message pair, in one piece and split into a || b. */
static void check_hmac_blake2b(const uint8_t *key, size_t key_len, const uint8_t *msg,
                               size_t msg_len)
{
    uint8_t want[GM_BLAKE2B_LEN], got[GM_BLAKE2B_LEN];
    size_t at = msg_len / 3;

    ref_hmac_blake2b(want, key, key_len, msg, msg_len);
    gm_hmac_blake2b(got, key, key_len, msg, msg_len, NULL, 0);
    cr_assert_eq(memcmp(want, got, sizeof got), 0, "key %zu, msg %zu", key_len, msg_len);
    gm_hmac_blake2b(got, key, key_len, msg, at, msg + at, msg_len - at);
    cr_assert_eq(memcmp(want, got, sizeof got), 0, "key %zu, msg %zu split at %zu", key_len,
                 msg_len, at);
}

Test(kdf, hmac_blake2b_matches_rfc2104_reference)
{
    static const size_t key_lens[] = {0, 1, 64, 128, 129, 200};
    static const size_t msg_lens[] = {0, 1, 64, 127, 128, 129, 1000};
    uint8_t key[200], msg[1000];
    int run = 0;

    fill_pattern(key, sizeof key, 3);
    fill_pattern(msg, sizeof msg, 11);
    for (size_t k = 0; k < sizeof key_lens / sizeof key_lens[0]; k++) {
        for (size_t m = 0; m < sizeof msg_lens / sizeof msg_lens[0]; m++) {
            check_hmac_blake2b(key, key_lens[k], msg, msg_lens[m]);
            run++;
        }
    }
    cr_assert_eq(run, 6 * 7);
}

/* HMAC-BLAKE2b known answers from Python's hmac.new(key, msg, hashlib.blake2b). */
static const struct {
    size_t key_len; /* key = 00 01 02 ... */
    const char *msg;
    const char *mac;
} hmac_blake2b_kats[] = {
    {0, "",
     "198cd2006f66ff83fbbd913f78aca2251caf4f19fe9475aade8cf2091b99a684"
     "66775177424f58286886cbae8229644cec747237d4b721735485e17372fdf59c"},
    {64, "abc",
     "cfb7fadba5986a2320ddff615fe9386cf3927144d40c77320914b152bb06ab8e"
     "04e835035bab5ff0f4518528fe5ce4a190d75b7b4cc03337b78f8c9d8a0761e5"},
};

Test(kdf, hmac_blake2b_matches_known_answers)
{
    uint8_t key[64], want[GM_BLAKE2B_LEN], got[GM_BLAKE2B_LEN];
    size_t n = sizeof hmac_blake2b_kats / sizeof hmac_blake2b_kats[0];

    for (size_t i = 0; i < sizeof key; i++) {
        key[i] = (uint8_t)i;
    }
    for (size_t i = 0; i < n; i++) {
        const char *msg = hmac_blake2b_kats[i].msg;

        cr_assert_eq(gm_hex_decode(hmac_blake2b_kats[i].mac, want, sizeof want), 0);
        gm_hmac_blake2b(got, hmac_blake2b_kats[i].key_len > 0 ? key : NULL,
                        hmac_blake2b_kats[i].key_len, (const uint8_t *)msg, strlen(msg), NULL, 0);
        cr_assert_eq(memcmp(want, got, sizeof got), 0, "known answer %zu", i);
    }
    cr_assert_eq(n, 2);
}

Test(kdf, hmac_blake2b_is_not_keyed_blake2b)
{
    uint8_t key[64], hmac[GM_BLAKE2B_LEN], plain[GM_BLAKE2B_LEN];
    static const uint8_t msg[] = "abc";

    /* Empty key, empty message: differs from the unkeyed hash of nothing. */
    gm_hmac_blake2b(hmac, NULL, 0, NULL, 0, NULL, 0);
    crypto_generichash(plain, sizeof plain, NULL, 0, NULL, 0);
    cr_assert_neq(memcmp(hmac, plain, sizeof plain), 0);
    /* A 64-byte key: differs from BLAKE2b keyed with it. */
    fill_pattern(key, sizeof key, 5);
    gm_hmac_blake2b(hmac, key, sizeof key, msg, 3, NULL, 0);
    crypto_generichash(plain, sizeof plain, msg, 3, key, sizeof key);
    cr_assert_neq(memcmp(hmac, plain, sizeof plain), 0);
}

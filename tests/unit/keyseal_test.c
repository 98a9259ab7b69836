/* crypto/keyseal: plain and passphrase-sealed key files. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

#include "crypto/keys.h"
#include "crypto/keyseal.h"

/* The cheapest Argon2id cost keeps most tests fast; one test uses the default. */
#define OPS crypto_pwhash_OPSLIMIT_MIN
#define MEM crypto_pwhash_MEMLIMIT_MIN

static const char pass[] = "correct horse battery staple";
static uint8_t secret[GM_NODE_SECRET_LEN], back[GM_NODE_SECRET_LEN];
static uint8_t file[GM_KEYFILE_MAX_LEN];
static size_t file_len;

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    randombytes_buf(secret, sizeof secret);
    memset(back, 0, sizeof back);
}

TestSuite(keyseal, .init = setup);

static bool contains(const uint8_t *hay, size_t len, const uint8_t *needle, size_t n)
{
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(hay + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

static void seal_node(const char *p)
{
    cr_assert_eq(gm_keyseal_encode(GM_KEY_NODE, secret, sizeof secret, p, p ? strlen(p) : 0, OPS,
                                   MEM, file, sizeof file, &file_len),
                 0);
}

static int open_node(const char *p)
{
    return gm_keyseal_decode(file, file_len, GM_KEY_NODE, p, p ? strlen(p) : 0, back,
                             sizeof back);
}

Test(keyseal, plain_file_round_trips_and_holds_the_secret_in_clear)
{
    seal_node(NULL);
    cr_assert_eq(gm_keyseal_is_sealed(file, file_len), 0);
    cr_assert(contains(file, file_len, secret, 16));
    cr_assert_eq(open_node(NULL), 0);
    cr_assert_arr_eq(back, secret, sizeof secret);
}

Test(keyseal, sealed_file_round_trips_and_hides_the_secret)
{
    seal_node(pass);
    cr_assert_eq(gm_keyseal_is_sealed(file, file_len), 1);
    cr_assert(!contains(file, file_len, secret, 16));
    cr_assert_eq(open_node(pass), 0);
    cr_assert_arr_eq(back, secret, sizeof secret);
}

Test(keyseal, default_cost_round_trips)
{
    cr_assert_eq(gm_keyseal_encode(GM_KEY_ORG_ROOT, secret, GM_ORG_SECRET_LEN, pass, strlen(pass),
                                   GM_KEYSEAL_OPS_DEFAULT, GM_KEYSEAL_MEM_DEFAULT, file,
                                   sizeof file, &file_len),
                 0);
    cr_assert_eq(gm_keyseal_decode(file, file_len, GM_KEY_ORG_ROOT, pass, strlen(pass), back,
                                   GM_ORG_SECRET_LEN),
                 0);
    cr_assert_arr_eq(back, secret, GM_ORG_SECRET_LEN);
}

Test(keyseal, wrong_passphrase_is_refused_and_writes_nothing)
{
    static const uint8_t zero[GM_NODE_SECRET_LEN];

    seal_node(pass);
    cr_assert_eq(open_node("Correct horse battery staple"), GM_EPASS);
    cr_assert_arr_eq(back, zero, sizeof zero);
}

Test(keyseal, sealed_file_without_a_passphrase_says_so)
{
    seal_node(pass);
    cr_assert_eq(open_node(NULL), GM_EPASS);
}

Test(keyseal, every_flipped_byte_of_a_sealed_file_is_detected)
{
    seal_node(pass);
    for (size_t i = 0; i < file_len; i++) {
        file[i] ^= 0x01;
        int err = open_node(pass);
        cr_assert_neq(err, 0, "flip at byte %zu of %zu went unnoticed", i, file_len);
        file[i] ^= 0x01;
    }
    cr_assert_eq(open_node(pass), 0);
}

Test(keyseal, truncated_files_are_malformed)
{
    seal_node(pass);
    for (size_t cut = 0; cut < file_len; cut++) {
        size_t saved = file_len;
        file_len = cut;
        cr_assert_neq(open_node(pass), 0, "cut at %zu opened", cut);
        file_len = saved;
    }
}

Test(keyseal, excessive_argon2_cost_in_a_file_is_refused_before_any_work)
{
    cr_assert_eq(gm_keyseal_encode(GM_KEY_NODE, secret, sizeof secret, pass, strlen(pass),
                                   GM_KEYSEAL_OPS_MAX + 1, MEM, file, sizeof file, &file_len),
                 GM_ELIMIT);
    cr_assert_eq(gm_keyseal_encode(GM_KEY_NODE, secret, sizeof secret, pass, strlen(pass), OPS,
                                   (uint64_t)GM_KEYSEAL_MEM_MAX + 1, file, sizeof file,
                                   &file_len),
                 GM_ELIMIT);
}

Test(keyseal, cost_parameters_are_bound_to_the_ciphertext)
{
    gm_keyfile_wire_t k;

    seal_node(pass);
    cr_assert_eq(gm_wire_keyfile_decode(file, file_len, &k), 0);
    k.opslimit += 1; /* an attacker lowering or raising the cost */
    cr_assert_eq(gm_wire_keyfile_encode(&k, file, sizeof file, &file_len), 0);
    cr_assert_eq(open_node(pass), GM_EPASS);
}

Test(keyseal, wrong_kind_or_length_is_malformed)
{
    seal_node(NULL);
    cr_assert_eq(gm_keyseal_decode(file, file_len, GM_KEY_ORG_ROOT, NULL, 0, back,
                                   GM_ORG_SECRET_LEN),
                 GM_EPROTO);
    cr_assert_eq(gm_keyseal_encode(GM_KEY_ORG_ROOT, secret, sizeof secret, NULL, 0, OPS, MEM,
                                   file, sizeof file, &file_len),
                 GM_EPROTO);
}

Test(keyseal, node_keys_rebuild_from_their_secret)
{
    gm_node_keys_t k, r;
    uint8_t s[GM_NODE_SECRET_LEN];

    gm_node_keys_generate(&k);
    gm_node_keys_to_secret(&k, s);
    cr_assert_eq(gm_node_keys_from_secret(&r, s), 0);
    cr_assert_arr_eq(&k, &r, sizeof k);
    cr_assert(memcmp(k.link_pk, k.e2e_pk, 32) != 0);
    gm_node_keys_wipe(&k);
    for (size_t i = 0; i < sizeof k; i++) {
        cr_assert_eq(((const uint8_t *)&k)[i], 0);
    }
}

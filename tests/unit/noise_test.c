/* crypto/noise: public vectors, then what a hostile or broken peer can do. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

#include "crypto/noise.h"
#include "tools/noise_vectors.h"

#define XX "Noise_XX_25519_ChaChaPoly_SHA256"
#define XXPSK3 "Noise_XXpsk3_25519_ChaChaPoly_SHA256"
#define BUF 65600

static uint8_t prologue[32] = "guardmesh/link/1";
static uint8_t psk[1][32] = {{7, 7, 7}};

struct pair {
    gm_noise_handshake_t init, resp;
    uint8_t i_static[32], r_static[32];
};

static uint8_t msg[BUF], payload[BUF];

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
}

TestSuite(noise, .init = setup);

static void pair_init(struct pair *p, const char *name, bool with_psk)
{
    gm_noise_protocol_t proto;

    cr_assert_eq(gm_noise_protocol_parse(name, &proto), 0);
    randombytes_buf(p->i_static, 32);
    randombytes_buf(p->r_static, 32);
    gm_noise_handshake_init(&p->init, &proto, true, prologue, sizeof prologue, NULL, NULL);
    gm_noise_handshake_init(&p->resp, &proto, false, prologue, sizeof prologue, NULL, NULL);
    cr_assert_eq(gm_noise_handshake_set_static(&p->init, p->i_static), 0);
    cr_assert_eq(gm_noise_handshake_set_static(&p->resp, p->r_static), 0);
    if (with_psk) {
        cr_assert_eq(gm_noise_handshake_set_psks(&p->init, (const uint8_t(*)[32])psk, 1), 0);
        cr_assert_eq(gm_noise_handshake_set_psks(&p->resp, (const uint8_t(*)[32])psk, 1), 0);
    }
    cr_assert_eq(gm_noise_handshake_start(&p->init), 0);
    cr_assert_eq(gm_noise_handshake_start(&p->resp), 0);
}

/* Sends one handshake message from tx to rx; returns rx's read result. */
static int relay(gm_noise_handshake_t *tx, gm_noise_handshake_t *rx, size_t *len)
{
    size_t n, plen;

    cr_assert_eq(gm_noise_handshake_write(tx, (const uint8_t *)"hi", 2, msg, BUF, &n), 0);
    *len = n;
    return gm_noise_handshake_read(rx, msg, n, payload, BUF, &plen);
}

static void complete(struct pair *p, gm_noise_cipher_t cs[4])
{
    size_t n;

    cr_assert_eq(relay(&p->init, &p->resp, &n), 0);
    cr_assert_eq(relay(&p->resp, &p->init, &n), 0);
    cr_assert_eq(relay(&p->init, &p->resp, &n), 0);
    cr_assert(gm_noise_handshake_is_done(&p->init) && gm_noise_handshake_is_done(&p->resp));
    cr_assert_eq(gm_noise_handshake_split(&p->init, &cs[0], &cs[1]), 0);
    cr_assert_eq(gm_noise_handshake_split(&p->resp, &cs[2], &cs[3]), 0);
}

static void run_vector_file(const char *name, unsigned min_passed)
{
    gm_vector_counts_t c = {0, 0, 0};
    char path[512];

    snprintf(path, sizeof path, "%s/noise/%s", GM_VECTORS_DIR, name);
    cr_assert_eq(gm_noise_vectors_run_file(path, stderr, 0, &c), 0);
    cr_assert_eq(c.failed, 0, "%s: %u vectors failed", name, c.failed);
    cr_assert_geq(c.passed, min_passed, "%s: only %u passed", name, c.passed);
}

Test(noise, passes_every_cacophony_vector)
{
    run_vector_file("cacophony.json", 11);
}

Test(noise, passes_every_snow_vector)
{
    run_vector_file("snow.json", 11);
}

Test(noise, passes_every_noise_c_vector)
{
    run_vector_file("noise-c-basic.json", 4);
}

Test(noise, parses_supported_names_and_refuses_others)
{
    gm_noise_protocol_t p;

    cr_assert_eq(gm_noise_protocol_parse(XXPSK3, &p), 0);
    cr_assert_eq(p.n_psks, 1);
    cr_assert_eq(gm_noise_protocol_parse("Noise_IKpsk0+psk2_25519_ChaChaPoly_BLAKE2b", &p), 0);
    cr_assert_eq(p.n_psks, 2);
    cr_assert_eq(gm_noise_protocol_parse("Noise_XX_25519_AESGCM_SHA256", &p), GM_EPROTO);
    cr_assert_eq(gm_noise_protocol_parse("Noise_XX_448_ChaChaPoly_SHA256", &p), GM_EPROTO);
    cr_assert_eq(gm_noise_protocol_parse("Noise_XXpsk4_25519_ChaChaPoly_SHA256", &p), GM_EPROTO);
    cr_assert_eq(gm_noise_protocol_parse("Noise_XXpsk0+_25519_ChaChaPoly_SHA256", &p), GM_EPROTO);
    cr_assert_eq(gm_noise_protocol_parse("Noise_XXfallback_25519_ChaChaPoly_SHA256", &p),
                 GM_EPROTO);
    cr_assert_eq(gm_noise_protocol_parse("Noise_ZZ_25519_ChaChaPoly_SHA256", &p), GM_EPROTO);
}

Test(noise, repeated_descending_or_too_many_psk_modifiers_are_refused)
{
    gm_noise_protocol_t p;

    /* Ascending, distinct modifiers are fine, up to one per position. */
    cr_assert_eq(gm_noise_protocol_parse("Noise_XXpsk0+psk1+psk2+psk3_25519_ChaChaPoly_SHA256", &p),
                 0);
    cr_assert_eq(p.n_psks, GM_NOISE_MAX_PSKS);
    cr_assert_eq(gm_noise_protocol_parse("Noise_XXpsk0+psk0_25519_ChaChaPoly_SHA256", &p),
                 GM_EPROTO);
    cr_assert_eq(gm_noise_protocol_parse("Noise_NNpsk2+psk2_25519_ChaChaPoly_SHA256", &p),
                 GM_EPROTO);
    cr_assert_eq(gm_noise_protocol_parse("Noise_XXpsk2+psk0_25519_ChaChaPoly_SHA256", &p),
                 GM_EPROTO);
    cr_assert_eq(gm_noise_protocol_parse("Noise_XXpsk1+psk3+psk2_25519_ChaChaPoly_SHA256", &p),
                 GM_EPROTO);
    /* A fifth psk would index past psks[GM_NOISE_MAX_PSKS]. */
    cr_assert_eq(
        gm_noise_protocol_parse("Noise_XXpsk0+psk1+psk2+psk3+psk3_25519_ChaChaPoly_SHA256", &p),
        GM_ELIMIT);
    /* Six psk0 fit the token lists but repeat a position: refused at the second. */
    cr_assert_eq(
        gm_noise_protocol_parse("Noise_XXpsk0+psk0+psk0+psk0+psk0+psk0_25519_ChaChaPoly_SHA256",
                                &p),
        GM_EPROTO);
}

Test(noise, set_psks_refuses_more_than_the_state_holds)
{
    static uint8_t many[GM_NOISE_MAX_PSKS + 1][GM_NOISE_PSK_LEN];
    gm_noise_protocol_t p;
    gm_noise_handshake_t hs;
    uint8_t rng_before[sizeof hs.rng];

    /* A hand-built protocol claiming more psks than the state has room for. */
    cr_assert_eq(gm_noise_protocol_parse(XXPSK3, &p), 0);
    p.n_psks = GM_NOISE_MAX_PSKS + 1;
    gm_noise_handshake_init(&hs, &p, true, prologue, sizeof prologue, NULL, NULL);
    memcpy(rng_before, &hs.rng, sizeof rng_before);
    memset(many, 0xee, sizeof many);
    cr_assert_eq(gm_noise_handshake_set_psks(&hs, (const uint8_t(*)[GM_NOISE_PSK_LEN])many,
                                             GM_NOISE_MAX_PSKS + 1),
                 GM_ELIMIT);
    cr_assert_arr_eq(&hs.rng, rng_before, sizeof rng_before, "psks overran into the state");
    cr_assert_eq(gm_noise_handshake_start(&hs), GM_ESTATE); /* no psk was set */
    gm_noise_handshake_close(&hs);
}

Test(noise, xx_handshake_authenticates_both_static_keys)
{
    struct pair p;
    gm_noise_cipher_t cs[4];
    uint8_t pk[32];
    size_t hl_i, hl_r, n, m;

    pair_init(&p, XX, false);
    complete(&p, cs);
    crypto_scalarmult_base(pk, p.r_static);
    cr_assert_arr_eq(gm_noise_handshake_remote_static(&p.init), pk, 32);
    crypto_scalarmult_base(pk, p.i_static);
    cr_assert_arr_eq(gm_noise_handshake_remote_static(&p.resp), pk, 32);
    const uint8_t *hi = gm_noise_handshake_hash(&p.init, &hl_i);
    const uint8_t *hr = gm_noise_handshake_hash(&p.resp, &hl_r);
    cr_assert_eq(hl_i, 32);
    cr_assert_arr_eq(hi, hr, 32);
    /* transport both ways */
    cr_assert_eq(gm_noise_encrypt(&cs[0], NULL, 0, (const uint8_t *)"abc", 3, msg, BUF, &n), 0);
    cr_assert_eq(gm_noise_decrypt(&cs[3], NULL, 0, msg, n, payload, BUF, &m), 0);
    cr_assert_eq(m, 3);
    cr_assert_eq(gm_noise_encrypt(&cs[2], NULL, 0, (const uint8_t *)"xyz", 3, msg, BUF, &n), 0);
    cr_assert_eq(gm_noise_decrypt(&cs[1], NULL, 0, msg, n, payload, BUF, &m), 0);
    cr_assert_arr_eq(payload, "xyz", 3);
}

Test(noise, tampered_handshake_message_fails_and_poisons_the_state)
{
    struct pair p;
    size_t n, plen;

    pair_init(&p, XX, false);
    cr_assert_eq(relay(&p.init, &p.resp, &n), 0);
    cr_assert_eq(gm_noise_handshake_write(&p.resp, NULL, 0, msg, BUF, &n), 0);
    msg[40] ^= 1; /* inside the encrypted static key */
    cr_assert_eq(gm_noise_handshake_read(&p.init, msg, n, payload, BUF, &plen), GM_EAUTH);
    msg[40] ^= 1; /* even the genuine message is refused now */
    cr_assert_eq(gm_noise_handshake_read(&p.init, msg, n, payload, BUF, &plen), GM_ESTATE);
    cr_assert_eq(gm_noise_handshake_write(&p.init, NULL, 0, msg, BUF, &n), GM_ESTATE);
}

Test(noise, tampered_transport_frame_is_rejected_without_advancing_the_nonce)
{
    struct pair p;
    gm_noise_cipher_t cs[4];
    size_t n, m;

    pair_init(&p, XX, false);
    complete(&p, cs);
    cr_assert_eq(gm_noise_encrypt(&cs[0], NULL, 0, (const uint8_t *)"frame", 5, msg, BUF, &n), 0);
    msg[n - 1] ^= 0x80;
    cr_assert_eq(gm_noise_decrypt(&cs[3], NULL, 0, msg, n, payload, BUF, &m), GM_EAUTH);
    cr_assert_eq(cs[3].n, 0);
    msg[n - 1] ^= 0x80;
    cr_assert_eq(gm_noise_decrypt(&cs[3], NULL, 0, msg, n, payload, BUF, &m), 0);
}

Test(noise, replayed_and_reordered_transport_frames_are_rejected)
{
    struct pair p;
    gm_noise_cipher_t cs[4];
    uint8_t f1[64], f2[64];
    size_t n1, n2, m;

    pair_init(&p, XX, false);
    complete(&p, cs);
    cr_assert_eq(gm_noise_encrypt(&cs[0], NULL, 0, (const uint8_t *)"one", 3, f1, 64, &n1), 0);
    cr_assert_eq(gm_noise_encrypt(&cs[0], NULL, 0, (const uint8_t *)"two", 3, f2, 64, &n2), 0);
    /* reordered: frame 2 first */
    cr_assert_eq(gm_noise_decrypt(&cs[3], NULL, 0, f2, n2, payload, BUF, &m), GM_EAUTH);
    cr_assert_eq(gm_noise_decrypt(&cs[3], NULL, 0, f1, n1, payload, BUF, &m), 0);
    /* replayed: frame 1 again */
    cr_assert_eq(gm_noise_decrypt(&cs[3], NULL, 0, f1, n1, payload, BUF, &m), GM_EAUTH);
    cr_assert_eq(gm_noise_decrypt(&cs[3], NULL, 0, f2, n2, payload, BUF, &m), 0);
}

Test(noise, replayed_handshake_message_is_refused)
{
    struct pair p;
    uint8_t first[BUF];
    size_t n, plen;

    pair_init(&p, XX, false);
    cr_assert_eq(relay(&p.init, &p.resp, &n), 0);
    memcpy(first, msg, n);
    /* msg1 again at the responder: it is now the responder's turn to write */
    cr_assert_eq(gm_noise_handshake_read(&p.resp, first, n, payload, BUF, &plen), GM_ESTATE);
}

Test(noise, xx_reports_the_static_key_the_responder_actually_proved)
{
    struct pair p, q;
    uint8_t q_pk[32], p_pk[32];
    size_t n, plen;

    /* q's responder answers p's msg1: XX pins nobody, so the link layer must compare
     * the proven key with the certificate. The key reported must be q's, not p's. */
    pair_init(&p, XX, false);
    pair_init(&q, XX, false);
    cr_assert_eq(relay(&p.init, &p.resp, &n), 0);
    cr_assert_eq(gm_noise_handshake_read(&q.resp, msg, n, payload, BUF, &plen), 0);
    cr_assert_eq(gm_noise_handshake_write(&q.resp, NULL, 0, msg, BUF, &n), 0);
    cr_assert_eq(gm_noise_handshake_read(&p.init, msg, n, payload, BUF, &plen), 0);
    crypto_scalarmult_base(q_pk, q.r_static);
    crypto_scalarmult_base(p_pk, p.r_static);
    cr_assert_arr_eq(gm_noise_handshake_remote_static(&p.init), q_pk, 32);
    cr_assert(memcmp(gm_noise_handshake_remote_static(&p.init), p_pk, 32) != 0);
}

Test(noise, ik_with_the_wrong_remote_static_key_fails)
{
    gm_noise_protocol_t proto;
    gm_noise_handshake_t init, resp;
    uint8_t is[32], rs[32], wrong[32], wrong_pk[32];
    size_t n, plen;

    cr_assert_eq(gm_noise_protocol_parse("Noise_IK_25519_ChaChaPoly_SHA256", &proto), 0);
    randombytes_buf(is, 32);
    randombytes_buf(rs, 32);
    randombytes_buf(wrong, 32);
    crypto_scalarmult_base(wrong_pk, wrong);
    gm_noise_handshake_init(&init, &proto, true, NULL, 0, NULL, NULL);
    gm_noise_handshake_init(&resp, &proto, false, NULL, 0, NULL, NULL);
    cr_assert_eq(gm_noise_handshake_set_static(&init, is), 0);
    cr_assert_eq(gm_noise_handshake_set_static(&resp, rs), 0);
    gm_noise_handshake_set_remote_static(&init, wrong_pk); /* not the responder's key */
    cr_assert_eq(gm_noise_handshake_start(&init), 0);
    cr_assert_eq(gm_noise_handshake_start(&resp), 0);
    cr_assert_eq(gm_noise_handshake_write(&init, NULL, 0, msg, BUF, &n), 0);
    cr_assert_eq(gm_noise_handshake_read(&resp, msg, n, payload, BUF, &plen), GM_EAUTH);
}

Test(noise, different_prologue_or_mesh_id_fails_at_msg2)
{
    gm_noise_protocol_t proto;
    struct pair p;
    uint8_t other[32] = "guardmesh/link/1";
    size_t n;

    other[20] = 1; /* another mesh id */
    pair_init(&p, XX, false);
    cr_assert_eq(gm_noise_protocol_parse(XX, &proto), 0);
    gm_noise_handshake_close(&p.resp);
    gm_noise_handshake_init(&p.resp, &proto, false, other, sizeof other, NULL, NULL);
    cr_assert_eq(gm_noise_handshake_set_static(&p.resp, p.r_static), 0);
    cr_assert_eq(gm_noise_handshake_start(&p.resp), 0);
    cr_assert_eq(relay(&p.init, &p.resp, &n), 0); /* msg1 payload is cleartext */
    cr_assert_eq(relay(&p.resp, &p.init, &n), GM_EAUTH);
}

Test(noise, xxpsk3_with_a_wrong_psk_fails_at_msg3)
{
    struct pair p;
    uint8_t wrong[1][32] = {{8}};
    gm_noise_protocol_t proto;
    size_t n;

    pair_init(&p, XXPSK3, true);
    cr_assert_eq(gm_noise_protocol_parse(XXPSK3, &proto), 0);
    gm_noise_handshake_close(&p.resp);
    gm_noise_handshake_init(&p.resp, &proto, false, prologue, sizeof prologue, NULL, NULL);
    cr_assert_eq(gm_noise_handshake_set_static(&p.resp, p.r_static), 0);
    cr_assert_eq(gm_noise_handshake_set_psks(&p.resp, (const uint8_t(*)[32])wrong, 1), 0);
    cr_assert_eq(gm_noise_handshake_start(&p.resp), 0);
    cr_assert_eq(relay(&p.init, &p.resp, &n), 0);
    cr_assert_eq(relay(&p.resp, &p.init, &n), 0);
    cr_assert_eq(relay(&p.init, &p.resp, &n), GM_EAUTH);
}

Test(noise, psk_pattern_refuses_to_start_without_its_psk)
{
    gm_noise_protocol_t proto;
    gm_noise_handshake_t hs;
    uint8_t s[32] = {1};

    cr_assert_eq(gm_noise_protocol_parse(XXPSK3, &proto), 0);
    gm_noise_handshake_init(&hs, &proto, true, NULL, 0, NULL, NULL);
    cr_assert_eq(gm_noise_handshake_set_static(&hs, s), 0);
    cr_assert_eq(gm_noise_handshake_set_psks(&hs, (const uint8_t(*)[32])psk, 2), GM_EPROTO);
    cr_assert_eq(gm_noise_handshake_start(&hs), GM_ESTATE);
}

Test(noise, xx_refuses_to_start_without_a_static_key)
{
    gm_noise_protocol_t proto;
    gm_noise_handshake_t hs;

    cr_assert_eq(gm_noise_protocol_parse(XX, &proto), 0);
    gm_noise_handshake_init(&hs, &proto, false, NULL, 0, NULL, NULL);
    cr_assert_eq(gm_noise_handshake_start(&hs), GM_ESTATE);
}

Test(noise, low_order_ephemeral_from_the_peer_is_rejected)
{
    struct pair p;
    size_t n, plen;

    pair_init(&p, XX, false);
    cr_assert_eq(relay(&p.init, &p.resp, &n), 0);
    cr_assert_eq(gm_noise_handshake_write(&p.resp, NULL, 0, msg, BUF, &n), 0);
    memset(msg, 0, 32); /* the point of order 1 (u = 0): ee would be all zero */
    cr_assert_eq(gm_noise_handshake_read(&p.init, msg, n, payload, BUF, &plen), GM_EDH);
}

Test(noise, oversize_handshake_and_transport_messages_are_refused)
{
    struct pair p;
    gm_noise_cipher_t cs[4];
    size_t n, plen;

    pair_init(&p, XX, false);
    /* payload that would make msg1 exceed 65535 bytes */
    cr_assert_eq(gm_noise_handshake_write(&p.init, payload, GM_NOISE_MAX_MSG_LEN - 31, msg, BUF,
                                          &n),
                 GM_ELIMIT);
    pair_init(&p, XX, false);
    cr_assert_eq(gm_noise_handshake_read(&p.resp, msg, GM_NOISE_MAX_MSG_LEN + 1, payload, BUF,
                                         &plen),
                 GM_EPROTO);
    pair_init(&p, XX, false);
    complete(&p, cs);
    cr_assert_eq(gm_noise_encrypt(&cs[0], NULL, 0, payload, GM_NOISE_MAX_MSG_LEN - 15, msg, BUF,
                                  &n),
                 GM_ELIMIT);
    cr_assert_eq(gm_noise_encrypt(&cs[0], NULL, 0, payload, GM_NOISE_MAX_MSG_LEN - 16, msg, BUF,
                                  &n),
                 0);
    cr_assert_eq(n, GM_NOISE_MAX_MSG_LEN);
    cr_assert_eq(gm_noise_decrypt(&cs[3], NULL, 0, msg, GM_NOISE_MAX_MSG_LEN + 1, payload, BUF,
                                  &plen),
                 GM_EPROTO);
    cr_assert_eq(gm_noise_decrypt(&cs[3], NULL, 0, msg, 15, payload, BUF, &plen), GM_EPROTO);
}

Test(noise, output_buffer_too_small_is_an_error_not_an_overflow)
{
    struct pair p;
    gm_noise_cipher_t cs[4];
    size_t n;

    pair_init(&p, XX, false);
    cr_assert_eq(gm_noise_handshake_write(&p.init, NULL, 0, msg, 31, &n), GM_ELIMIT);
    pair_init(&p, XX, false);
    complete(&p, cs);
    cr_assert_eq(gm_noise_encrypt(&cs[0], NULL, 0, payload, 10, msg, 25, &n), GM_ELIMIT);
}

Test(noise, exhausted_nonce_is_refused)
{
    struct pair p;
    gm_noise_cipher_t cs[4];
    size_t n, m;

    pair_init(&p, XX, false);
    complete(&p, cs);
    cs[0].n = GM_NOISE_NONCE_MAX - 1;
    cs[3].n = GM_NOISE_NONCE_MAX - 1;
    cr_assert_eq(gm_noise_encrypt(&cs[0], NULL, 0, payload, 1, msg, BUF, &n), 0);
    cr_assert_eq(gm_noise_decrypt(&cs[3], NULL, 0, msg, n, payload, BUF, &m), 0);
    cr_assert_eq(gm_noise_encrypt(&cs[0], NULL, 0, payload, 1, msg, BUF, &n), GM_ELIMIT);
    cr_assert_eq(gm_noise_decrypt(&cs[3], NULL, 0, msg, 17, payload, BUF, &m), GM_ELIMIT);
}

Test(noise, rekey_on_both_sides_keeps_the_channel_and_changes_the_key)
{
    struct pair p;
    gm_noise_cipher_t cs[4];
    uint8_t old[32];
    size_t n, m;

    pair_init(&p, XX, false);
    complete(&p, cs);
    memcpy(old, cs[0].k, 32);
    gm_noise_rekey(&cs[0]);
    cr_assert(memcmp(old, cs[0].k, 32) != 0);
    cr_assert_eq(gm_noise_encrypt(&cs[0], NULL, 0, (const uint8_t *)"r", 1, msg, BUF, &n), 0);
    cr_assert_eq(gm_noise_decrypt(&cs[3], NULL, 0, msg, n, payload, BUF, &m), GM_EAUTH);
    gm_noise_rekey(&cs[3]);
    cr_assert_eq(gm_noise_decrypt(&cs[3], NULL, 0, msg, n, payload, BUF, &m), 0);
}

Test(noise, split_wipes_secrets_and_cannot_run_twice)
{
    struct pair p;
    gm_noise_cipher_t cs[4], again[2];
    uint8_t zero[GM_NOISE_MAX_HASH_LEN] = {0};

    pair_init(&p, XX, false);
    complete(&p, cs);
    cr_assert_arr_eq(p.init.ss.ck, zero, sizeof zero);
    cr_assert_arr_eq(p.init.s_sk, zero, 32);
    cr_assert_arr_eq(p.init.e_sk, zero, 32);
    cr_assert_eq(gm_noise_handshake_split(&p.init, &again[0], &again[1]), GM_ESTATE);
}

Test(noise, close_wipes_the_whole_state)
{
    struct pair p;
    gm_noise_cipher_t cs[4];
    static const gm_noise_handshake_t zero_hs;
    static const gm_noise_cipher_t zero_cs;

    pair_init(&p, XX, false);
    complete(&p, cs);
    gm_noise_handshake_close(&p.init);
    gm_noise_cipher_close(&cs[0]);
    cr_assert_arr_eq(&p.init, &zero_hs, sizeof zero_hs);
    cr_assert_arr_eq(&cs[0], &zero_cs, sizeof zero_cs);
}

Test(noise, writing_out_of_turn_is_refused)
{
    struct pair p;
    size_t n, plen;

    pair_init(&p, XX, false);
    cr_assert_eq(gm_noise_handshake_write(&p.resp, NULL, 0, msg, BUF, &n), GM_ESTATE);
    cr_assert_eq(gm_noise_handshake_read(&p.init, msg, 48, payload, BUF, &plen), GM_ESTATE);
}

Test(noise, truncated_handshake_messages_are_malformed)
{
    struct pair p;
    size_t n, plen;

    pair_init(&p, XX, false);
    cr_assert_eq(gm_noise_handshake_read(&p.resp, msg, 31, payload, BUF, &plen), GM_EPROTO);
    pair_init(&p, XX, false);
    cr_assert_eq(relay(&p.init, &p.resp, &n), 0);
    cr_assert_eq(gm_noise_handshake_write(&p.resp, NULL, 0, msg, BUF, &n), 0);
    cr_assert_eq(gm_noise_handshake_read(&p.init, msg, 32 + 47, payload, BUF, &plen), GM_EPROTO);
}

#include "crypto/keys.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static int derive_public(gm_node_keys_t *k)
{
    uint8_t sk[crypto_sign_SECRETKEYBYTES];

    crypto_sign_seed_keypair(k->sign_pk, sk, k->sign_seed);
    sodium_memzero(sk, sizeof sk);
    if (crypto_scalarmult_base(k->link_pk, k->link_sk) != 0 ||
        crypto_scalarmult_base(k->e2e_pk, k->e2e_sk) != 0) {
        return GM_EDH;
    }
    return 0;
}

void gm_node_keys_generate(gm_node_keys_t *k)
{
    do {
        randombytes_buf(k->sign_seed, sizeof k->sign_seed);
        randombytes_buf(k->link_sk, sizeof k->link_sk);
        randombytes_buf(k->e2e_sk, sizeof k->e2e_sk);
    } while (derive_public(k) != 0);
}

int gm_node_keys_from_secret(gm_node_keys_t *k, const uint8_t secret[GM_NODE_SECRET_LEN])
{
    memcpy(k->sign_seed, secret, GM_KEYS_LEN);
    memcpy(k->link_sk, secret + GM_KEYS_LEN, GM_KEYS_LEN);
    memcpy(k->e2e_sk, secret + 2 * GM_KEYS_LEN, GM_KEYS_LEN);
    if (derive_public(k) != 0) {
        gm_node_keys_wipe(k);
        return GM_EDH;
    }
    return 0;
}

void gm_node_keys_to_secret(const gm_node_keys_t *k, uint8_t secret[GM_NODE_SECRET_LEN])
{
    memcpy(secret, k->sign_seed, GM_KEYS_LEN);
    memcpy(secret + GM_KEYS_LEN, k->link_sk, GM_KEYS_LEN);
    memcpy(secret + 2 * GM_KEYS_LEN, k->e2e_sk, GM_KEYS_LEN);
}

void gm_node_keys_wipe(gm_node_keys_t *k)
{
    sodium_memzero(k, sizeof *k);
}

/* ctx (with its zero) || msg in one malloc'd buffer: Ed25519 signs one message. */
static uint8_t *with_context(const char *ctx, const uint8_t *msg, size_t len, size_t *out_len)
{
    size_t ctx_len = strlen(ctx) + 1;
    uint8_t *buf = malloc(ctx_len + len);

    if (buf != NULL) {
        memcpy(buf, ctx, ctx_len);
        if (len > 0) {
            memcpy(buf + ctx_len, msg, len);
        }
        *out_len = ctx_len + len;
    }
    return buf;
}

int gm_node_keys_sign(const gm_node_keys_t *k, const char *ctx, const uint8_t *msg,
                      size_t len, uint8_t sig[GM_SIGNATURE_LEN])
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    size_t mlen;
    uint8_t *m = with_context(ctx, msg, len, &mlen);

    if (m == NULL) {
        return GM_ENOMEM;
    }
    /* The secret key always comes from the seed, never from a stored public key. */
    crypto_sign_seed_keypair(pk, sk, k->sign_seed);
    crypto_sign_detached(sig, NULL, m, mlen, sk);
    sodium_memzero(sk, sizeof sk);
    free(m);
    return 0;
}

int gm_sign_verify(const uint8_t sign_pk[GM_KEYS_LEN], const char *ctx, const uint8_t *msg,
                   size_t len, const uint8_t sig[GM_SIGNATURE_LEN])
{
    size_t mlen;
    uint8_t *m = with_context(ctx, msg, len, &mlen);
    int err;

    if (m == NULL) {
        return GM_ENOMEM;
    }
    err = crypto_sign_verify_detached(sig, m, mlen, sign_pk) == 0 ? 0 : GM_EAUTH;
    free(m);
    return err;
}

#include "crypto/kdf.h"

#include <sodium.h>
#include <string.h>

#define BLAKE2B_BLOCK 128

void gm_hmac_sha256(uint8_t out[GM_SHA256_LEN], const uint8_t *key, size_t key_len,
                    const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    static const uint8_t no_key[1];
    crypto_auth_hmacsha256_state st;

    /* 1.0.18 rejects a NULL key even with length 0; an empty key is 32 zero bytes. */
    crypto_auth_hmacsha256_init(&st, key != NULL ? key : no_key, key_len);
    if (a_len > 0) {
        crypto_auth_hmacsha256_update(&st, a, a_len);
    }
    if (b_len > 0) {
        crypto_auth_hmacsha256_update(&st, b, b_len);
    }
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

void gm_hmac_blake2b(uint8_t out[GM_BLAKE2B_LEN], const uint8_t *key, size_t key_len,
                     const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    uint8_t k[BLAKE2B_BLOCK] = {0};
    uint8_t pad[BLAKE2B_BLOCK];
    uint8_t inner[GM_BLAKE2B_LEN];
    crypto_generichash_state st;

    if (key_len > BLAKE2B_BLOCK) {
        crypto_generichash(k, GM_BLAKE2B_LEN, key, key_len, NULL, 0);
    } else if (key_len > 0) {
        memcpy(k, key, key_len);
    }
    /* inner = H((K ^ ipad) || a || b) */
    for (size_t i = 0; i < BLAKE2B_BLOCK; i++) {
        pad[i] = k[i] ^ 0x36;
    }
    crypto_generichash_init(&st, NULL, 0, GM_BLAKE2B_LEN);
    crypto_generichash_update(&st, pad, sizeof pad);
    crypto_generichash_update(&st, a, a_len);
    crypto_generichash_update(&st, b, b_len);
    crypto_generichash_final(&st, inner, sizeof inner);
    /* out = H((K ^ opad) || inner) */
    for (size_t i = 0; i < BLAKE2B_BLOCK; i++) {
        pad[i] = k[i] ^ 0x5c;
    }
    crypto_generichash_init(&st, NULL, 0, GM_BLAKE2B_LEN);
    crypto_generichash_update(&st, pad, sizeof pad);
    crypto_generichash_update(&st, inner, sizeof inner);
    crypto_generichash_final(&st, out, GM_BLAKE2B_LEN);

    sodium_memzero(k, sizeof k);
    sodium_memzero(pad, sizeof pad);
    sodium_memzero(inner, sizeof inner);
    sodium_memzero(&st, sizeof st);
}

void gm_hkdf_sha256_extract(uint8_t prk[GM_SHA256_LEN], const uint8_t *salt, size_t salt_len,
                            const uint8_t *ikm, size_t ikm_len)
{
    gm_hmac_sha256(prk, salt, salt_len, ikm, ikm_len, NULL, 0);
}

int gm_hkdf_sha256_expand(uint8_t *out, size_t out_len, const char *info, size_t info_len,
                          const uint8_t prk[GM_SHA256_LEN])
{
    crypto_auth_hmacsha256_state st;
    uint8_t t[GM_SHA256_LEN];
    size_t done = 0;
    uint8_t counter = 1; /* RFC 5869 counts from 1 (Signal's legacy HKDFv2 from 0) */

    if (out_len > GM_HKDF_SHA256_MAX_OUT) {
        return GM_ELIMIT;
    }
    /* T(i) = HMAC(PRK, T(i-1) || info || i) */
    while (done < out_len) {
        size_t n = out_len - done < sizeof t ? out_len - done : sizeof t;

        crypto_auth_hmacsha256_init(&st, prk, GM_SHA256_LEN);
        if (counter > 1) {
            crypto_auth_hmacsha256_update(&st, t, sizeof t);
        }
        if (info_len > 0) {
            crypto_auth_hmacsha256_update(&st, (const uint8_t *)info, info_len);
        }
        crypto_auth_hmacsha256_update(&st, &counter, 1);
        crypto_auth_hmacsha256_final(&st, t);
        memcpy(out + done, t, n);
        done += n;
        counter++;
    }
    sodium_memzero(t, sizeof t);
    sodium_memzero(&st, sizeof st);
    return 0;
}

int gm_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *salt, size_t salt_len,
                   const uint8_t *ikm, size_t ikm_len, const char *info, size_t info_len)
{
    uint8_t prk[GM_SHA256_LEN];
    int err;

    gm_hkdf_sha256_extract(prk, salt, salt_len, ikm, ikm_len);
    err = gm_hkdf_sha256_expand(out, out_len, info, info_len, prk);
    sodium_memzero(prk, sizeof prk);
    return err;
}

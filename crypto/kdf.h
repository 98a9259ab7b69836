/*
 * HMAC and HKDF (RFC 2104, RFC 5869) built on libsodium 1.0.18, which has
 * HMAC-SHA256 but no HKDF and no HMAC over BLAKE2b.
 *
 * The HKDF functions keep the signatures of libsodium 1.0.19's
 * crypto_kdf_hkdf_sha256_* so they can be swapped for them later.
 */
#ifndef GM_KDF_H
#define GM_KDF_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"

#define GM_SHA256_LEN 32
#define GM_BLAKE2B_LEN 64
#define GM_HKDF_SHA256_MAX_OUT (255u * GM_SHA256_LEN)

/* HMAC-SHA256 over a || b with a key of any length (keys over 64 bytes are hashed). */
void gm_hmac_sha256(uint8_t out[GM_SHA256_LEN], const uint8_t *key, size_t key_len,
                    const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);

/* HMAC-BLAKE2b-512 over a || b (RFC 2104 with a 128-byte block): not keyed BLAKE2b. */
void gm_hmac_blake2b(uint8_t out[GM_BLAKE2B_LEN], const uint8_t *key, size_t key_len,
                     const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);

/* HKDF-Extract: prk = HMAC-SHA256(salt, ikm). An absent salt is salt_len 0. */
void gm_hkdf_sha256_extract(uint8_t prk[GM_SHA256_LEN], const uint8_t *salt, size_t salt_len,
                            const uint8_t *ikm, size_t ikm_len);

/*
 * HKDF-Expand. Returns 0, or GM_ELIMIT (out untouched) when out_len exceeds
 * 255 * 32 bytes.
 */
GM_MUST_CHECK int gm_hkdf_sha256_expand(uint8_t *out, size_t out_len, const char *info,
                                        size_t info_len, const uint8_t prk[GM_SHA256_LEN]);

/* Extract then expand. Same errors as gm_hkdf_sha256_expand(). */
GM_MUST_CHECK int gm_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *salt,
                                 size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                                 const char *info, size_t info_len);

#endif

/*
 * A node's three key pairs, one per purpose (CRYPTO.md 9.6): Ed25519 for
 * signing, X25519 for Noise links, X25519 for end-to-end sessions.
 */
#ifndef GM_KEYS_H
#define GM_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"
#include "crypto/keyseal.h"

#define GM_KEYS_LEN 32

typedef struct {
    uint8_t sign_seed[GM_KEYS_LEN]; /* the 64-byte Ed25519 key is always rebuilt from this */
    uint8_t link_sk[GM_KEYS_LEN];
    uint8_t e2e_sk[GM_KEYS_LEN];
    uint8_t sign_pk[GM_KEYS_LEN];
    uint8_t link_pk[GM_KEYS_LEN];
    uint8_t e2e_pk[GM_KEYS_LEN];
} gm_node_keys_t;

/* Fresh keys from libsodium's CSPRNG. */
void gm_node_keys_generate(gm_node_keys_t *k);

/* Rebuilds the keys from the 96-byte secret of a node key file. GM_EDH if unusable. */
GM_MUST_CHECK int gm_node_keys_from_secret(gm_node_keys_t *k,
                                           const uint8_t secret[GM_NODE_SECRET_LEN]);

/* The 96-byte secret: sign seed || link sk || e2e sk. */
void gm_node_keys_to_secret(const gm_node_keys_t *k, uint8_t secret[GM_NODE_SECRET_LEN]);

void gm_node_keys_wipe(gm_node_keys_t *k);

#define GM_SIGNATURE_LEN 64

/*
 * Ed25519 by the node's sign key over ctx (including its terminating zero) || msg.
 * Every context string is listed in CRYPTO.md; signatures never cover bare bytes.
 */
GM_MUST_CHECK int gm_node_keys_sign(const gm_node_keys_t *k, const char *ctx,
                                    const uint8_t *msg, size_t len,
                                    uint8_t sig[GM_SIGNATURE_LEN]);

/* 0 if sig is sign_pk's signature over ctx || msg, else GM_EAUTH. */
GM_MUST_CHECK int gm_sign_verify(const uint8_t sign_pk[GM_KEYS_LEN], const char *ctx,
                                 const uint8_t *msg, size_t len,
                                 const uint8_t sig[GM_SIGNATURE_LEN]);

#endif

/*
 * Sender keys for talkgroups (CRYPTO.md section 5). Pure: randomness and time
 * come in as arguments.
 *
 *   seed_i     = HMAC-SHA256(chain_key_i, 0x01); chain_key_{i+1} = HMAC-SHA256(chain_key_i, 0x02)
 *   key||nonce = HKDF-SHA256(salt = 32 zero bytes, IKM = seed_i, info = "guardmesh/sk/1", 44)
 *   ct         = ChaCha20-Poly1305-IETF(key, nonce,
 *                  AD = group_id || key_id (u32 BE) || iteration (u32 BE) || sender node id, pt)
 *   sig        = Ed25519(sign_sk, "guardmesh/skmsg/1\0" || group_id || key_id || iteration
 *                        || sender node id || ct)
 *
 * A receiver verifies the signature before it touches chain state; it keeps
 * up to GM_SK_MAX_SKIPPED skipped seeds (at most GM_SK_MAX_SKIP per gap),
 * each expiring; an iteration already used is a replay.
 */
#ifndef GM_SENDERKEY_H
#define GM_SENDERKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"

#define GM_SK_KEY_LEN 32
#define GM_SK_GROUP_LEN 16
#define GM_SK_NODE_LEN 16
#define GM_SK_SIG_LEN 64
#define GM_SK_TAG_LEN 16
#define GM_SK_MAX_SKIP 1000
#define GM_SK_MAX_SKIPPED 2000
#define GM_SK_INFO "guardmesh/sk/1"
#define GM_SK_CTX "guardmesh/skmsg/1" /* signed with its terminating zero */

/* What a member sends the others over their 1:1 sessions. */
typedef struct {
    uint8_t group_id[GM_SK_GROUP_LEN];
    uint32_t key_id;
    uint32_t iteration;
    uint8_t chain_key[GM_SK_KEY_LEN];
    uint8_t sign_pk[GM_SK_KEY_LEN];
} gm_sk_dist_t;

typedef struct {
    uint32_t iteration;
    uint8_t seed[GM_SK_KEY_LEN];
    uint64_t expires;
} gm_sk_skipped_t;

typedef struct {
    uint8_t group_id[GM_SK_GROUP_LEN];
    uint32_t key_id;
    uint32_t iteration; /* the next iteration to send or expect */
    uint8_t chain_key[GM_SK_KEY_LEN];
    uint8_t sign_pk[GM_SK_KEY_LEN];
    uint8_t sign_seed[GM_SK_KEY_LEN]; /* our own state only */
    bool own;
    gm_sk_skipped_t *skipped; /* malloc'd; receivers only */
    size_t n_skipped;
} gm_sk_state_t;

/* Our own new sender key: chain_seed and sign_seed are 32 fresh random bytes each. */
void gm_sk_create(gm_sk_state_t *s, const uint8_t group_id[GM_SK_GROUP_LEN], uint32_t key_id,
                  const uint8_t chain_seed[GM_SK_KEY_LEN], const uint8_t sign_seed[GM_SK_KEY_LEN]);

/* The distribution message for our state (its current iteration and chain key). */
void gm_sk_distribution(const gm_sk_state_t *s, gm_sk_dist_t *out);

/* A receiver's state from another member's distribution message. GM_EPROTO for a bad sign_pk. */
GM_MUST_CHECK int gm_sk_from_distribution(gm_sk_state_t *s, const gm_sk_dist_t *d);

/*
 * Encrypts and signs one message with our own state: ct gets pt_len +
 * GM_SK_TAG_LEN bytes, *iteration the iteration used. GM_ESTATE for a
 * receiver's state, GM_ELIMIT when the iteration counter is exhausted.
 */
GM_MUST_CHECK int gm_sk_encrypt(gm_sk_state_t *s, const uint8_t sender[GM_SK_NODE_LEN],
                                const uint8_t *pt, size_t pt_len, uint32_t *iteration,
                                uint8_t *ct, uint8_t sig[GM_SK_SIG_LEN]);

/*
 * Verifies and decrypts a message from the member whose state s is (state
 * untouched on any error): GM_EAUTH bad signature or does not decrypt,
 * GM_EREPLAY iteration already used or expired, GM_ELIMIT too far ahead,
 * GM_ESTATE our own state, GM_ENOMEM. pt gets ct_len - GM_SK_TAG_LEN bytes.
 */
GM_MUST_CHECK int gm_sk_decrypt(gm_sk_state_t *s, const uint8_t sender[GM_SK_NODE_LEN],
                                uint32_t iteration, const uint8_t *ct, size_t ct_len,
                                const uint8_t sig[GM_SK_SIG_LEN], uint8_t *pt, uint64_t now,
                                uint64_t skip_lifetime);

size_t gm_sk_expire(gm_sk_state_t *s, uint64_t now);
GM_MUST_CHECK int gm_sk_copy(gm_sk_state_t *dst, const gm_sk_state_t *src);
void gm_sk_wipe(gm_sk_state_t *s);

/* As gm_dr_serialize (proto/e2e_state.proto SenderKeyState). */
GM_MUST_CHECK int gm_sk_serialize(const gm_sk_state_t *s, uint8_t **out, size_t *len);
GM_MUST_CHECK int gm_sk_deserialize(gm_sk_state_t *s, const uint8_t *buf, size_t len);

#endif

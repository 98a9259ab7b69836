/*
 * The Double Ratchet (Signal's specification, CRYPTO.md section 4), without
 * header encryption. Pure: no I/O, no clock, no RNG. Fresh randomness and
 * the time come in as arguments so that tests are deterministic and the
 * caller decides when state is persisted.
 *
 *   KDF_RK(rk, dh) = HKDF-SHA256(salt = rk, IKM = dh, info = "guardmesh/dr/rk/1", 64) -> rk', ck
 *   KDF_CK(ck)     = mk = HMAC-SHA256(ck, 0x01), ck' = HMAC-SHA256(ck, 0x02)
 *   ENCRYPT(mk)    = HKDF-SHA256(salt = 32 zero bytes, IKM = mk, info = "guardmesh/dr/mk/1", 44)
 *                    -> key (32) || nonce (12); ChaCha20-Poly1305-IETF,
 *                    AD = session AD || encoded header (40 bytes)
 *   header         = dh_pub (32) || pn (u32 BE) || n (u32 BE)
 *
 * Bounds: at most GM_DR_MAX_SKIP message keys skipped in one chain step,
 * at most GM_DR_MAX_SKIPPED stored per session (oldest evicted first), each
 * dropped once its expiry (the time it was skipped + the lifetime the
 * caller gives) has passed.
 *
 * Transactions. gm_dr_decrypt() changes the state only when it returns 0;
 * on any error the state is exactly as before. The caller must persist the
 * new state (and so forget the used key) before it releases the plaintext.
 */
#ifndef GM_RATCHET_H
#define GM_RATCHET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"

#define GM_DR_KEY_LEN 32
#define GM_DR_HEADER_LEN 40
#define GM_DR_TAG_LEN 16
#define GM_DR_MAX_SKIP 1000
#define GM_DR_MAX_SKIPPED 2000
#define GM_DR_AD_MAX 128
#define GM_DR_PREV_CHAINS 5 /* old receiving chains remembered (libsignal MAX_RECEIVER_CHAINS) */
#define GM_DR_RK_INFO "guardmesh/dr/rk/1"
#define GM_DR_MK_INFO "guardmesh/dr/mk/1"

typedef struct {
    uint8_t dh[GM_DR_KEY_LEN]; /* the sender's ratchet public key */
    uint32_t pn;               /* messages in the sender's previous sending chain */
    uint32_t n;                /* this message's number in its chain */
} gm_dr_header_t;

typedef struct {
    uint8_t dh[GM_DR_KEY_LEN];
    uint32_t n;
    uint8_t mk[GM_DR_KEY_LEN];
    uint64_t expires; /* caller's time unit (seconds since the epoch in Guardmesh) */
} gm_dr_skipped_t;

typedef struct {
    uint8_t rk[GM_DR_KEY_LEN];
    uint8_t dhs_sk[GM_DR_KEY_LEN], dhs_pk[GM_DR_KEY_LEN]; /* our ratchet key pair */
    uint8_t dhr[GM_DR_KEY_LEN];                           /* their ratchet public key */
    bool has_dhr;
    uint8_t cks[GM_DR_KEY_LEN], ckr[GM_DR_KEY_LEN];
    bool has_cks, has_ckr;
    uint32_t ns, nr, pn;
    uint8_t ad[GM_DR_AD_MAX]; /* the session's associated data (X3DH AD) */
    size_t ad_len;
    gm_dr_skipped_t *skipped; /* malloc'd, oldest first; NULL when none */
    size_t n_skipped;
    /*
     * The ratchet keys of the receiving chains before dhr, oldest first: a
     * message on one of them with no stored key is a replay (GM_EREPLAY),
     * not a new DH ratchet step.
     */
    uint8_t prev_dhr[GM_DR_PREV_CHAINS][GM_DR_KEY_LEN];
    size_t n_prev_dhr;
} gm_dr_state_t;

void gm_dr_header_encode(const gm_dr_header_t *h, uint8_t out[GM_DR_HEADER_LEN]);
void gm_dr_header_decode(gm_dr_header_t *h, const uint8_t in[GM_DR_HEADER_LEN]);

/*
 * Alice, after X3DH: sk is the shared secret, bob_pk Bob's signed prekey,
 * seed 32 fresh random bytes for her first ratchet key pair.
 * GM_EDH for a low-order bob_pk, GM_ELIMIT for ad_len > GM_DR_AD_MAX.
 */
GM_MUST_CHECK int gm_dr_init_alice(gm_dr_state_t *s, const uint8_t sk[GM_DR_KEY_LEN],
                                   const uint8_t bob_pk[GM_DR_KEY_LEN],
                                   const uint8_t seed[GM_DR_KEY_LEN], const uint8_t *ad,
                                   size_t ad_len);

/* Bob: his signed prekey pair is his first ratchet key pair. GM_ELIMIT as above. */
GM_MUST_CHECK int gm_dr_init_bob(gm_dr_state_t *s, const uint8_t sk[GM_DR_KEY_LEN],
                                 const uint8_t spk_sk[GM_DR_KEY_LEN],
                                 const uint8_t spk_pk[GM_DR_KEY_LEN], const uint8_t *ad,
                                 size_t ad_len);

/*
 * Encrypts pt into ct (pt_len + GM_DR_TAG_LEN bytes) and writes the header.
 * GM_ESTATE if there is no sending chain yet (Bob before Alice's first
 * message), GM_ELIMIT when the chain's counter is exhausted.
 */
GM_MUST_CHECK int gm_dr_encrypt(gm_dr_state_t *s, const uint8_t *pt, size_t pt_len,
                                gm_dr_header_t *h, uint8_t *ct);

/*
 * Decrypts ct (ct_len >= GM_DR_TAG_LEN) into pt (ct_len - GM_DR_TAG_LEN
 * bytes). now and skip_lifetime set the expiry of keys skipped on the way;
 * seed is 32 fresh random bytes, used if the header starts a new DH ratchet
 * step. Errors, the state untouched:
 *   GM_EREPLAY a message number already used (or its key expired) in a
 *              known chain
 *   GM_ELIMIT  more than GM_DR_MAX_SKIP keys would be skipped
 *   GM_EAUTH   does not decrypt
 *   GM_EDH     a low-order ratchet key
 *   GM_ENOMEM
 */
GM_MUST_CHECK int gm_dr_decrypt(gm_dr_state_t *s, const gm_dr_header_t *h, const uint8_t *ct,
                                size_t ct_len, uint8_t *pt, uint64_t now, uint64_t skip_lifetime,
                                const uint8_t seed[GM_DR_KEY_LEN]);

/* Drops skipped keys whose expiry is before now. Returns how many went. */
size_t gm_dr_expire(gm_dr_state_t *s, uint64_t now);

/* A deep copy (dst is overwritten, not freed first). GM_ENOMEM. */
GM_MUST_CHECK int gm_dr_copy(gm_dr_state_t *dst, const gm_dr_state_t *src);

/* Wipes every key and frees the skipped keys. NULL is a no-op. */
void gm_dr_wipe(gm_dr_state_t *s);

/*
 * The state as bytes for the store (proto/e2e_state.proto RatchetState),
 * malloc'd into *out: the caller wipes (sodium_memzero) and frees it.
 * GM_ENOMEM, or GM_EPROTO for a state out of bounds (none this code makes).
 */
GM_MUST_CHECK int gm_dr_serialize(const gm_dr_state_t *s, uint8_t **out, size_t *len);

/* The reverse; GM_EPROTO for anything malformed or out of bounds. s is written only on success. */
GM_MUST_CHECK int gm_dr_deserialize(gm_dr_state_t *s, const uint8_t *buf, size_t len);

/* The KDFs on their own, for the vectors. */
void gm_dr_kdf_ck(const uint8_t ck[GM_DR_KEY_LEN], uint8_t mk[GM_DR_KEY_LEN],
                  uint8_t next_ck[GM_DR_KEY_LEN]);
GM_MUST_CHECK int gm_dr_kdf_rk(const uint8_t rk[GM_DR_KEY_LEN], const uint8_t dh_out[GM_DR_KEY_LEN],
                               uint8_t next_rk[GM_DR_KEY_LEN], uint8_t ck[GM_DR_KEY_LEN]);

#endif

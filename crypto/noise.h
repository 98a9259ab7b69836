/*
 * The Noise Protocol Framework (revision 34), no I/O: CipherState,
 * SymmetricState and a generic HandshakeState driven by token tables.
 *
 * Supported: DH 25519, cipher ChaChaPoly (RFC 8439, IETF nonce layout),
 * hashes SHA256 and BLAKE2b; the twelve interactive fundamental patterns
 * (NN NK NX KN KK KX XN XK XX IN IK IX) with any combination of pskN
 * modifiers. Guardmesh links use Noise_XX_25519_ChaChaPoly_SHA256 and
 * Noise_XXpsk3_25519_ChaChaPoly_SHA256.
 *
 * All states are fixed-size structs the caller owns; *_close() wipes them.
 */
#ifndef GM_NOISE_H
#define GM_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"

#define GM_NOISE_MAX_MSG_LEN 65535u
#define GM_NOISE_KEY_LEN 32u
#define GM_NOISE_DH_LEN 32u
#define GM_NOISE_TAG_LEN 16u
#define GM_NOISE_PSK_LEN 32u
#define GM_NOISE_MAX_HASH_LEN 64u
#define GM_NOISE_MAX_PSKS 4u
#define GM_NOISE_MAX_MESSAGES 3u
#define GM_NOISE_MAX_TOKENS 8u
#define GM_NOISE_MAX_NAME_LEN 64u

/* Nonce 2^64-1 is reserved for rekey; a CipherState refuses to go past it. */
#define GM_NOISE_NONCE_MAX UINT64_MAX

typedef enum { GM_NOISE_HASH_SHA256, GM_NOISE_HASH_BLAKE2B } gm_noise_hash_t;

typedef struct {
    uint8_t k[GM_NOISE_KEY_LEN];
    uint64_t n;
    bool has_key;
} gm_noise_cipher_t;

/* A parsed protocol name: its token lists with the psk tokens in place. */
typedef struct {
    char name[GM_NOISE_MAX_NAME_LEN];
    gm_noise_hash_t hash;
    uint8_t pre_init;  /* pre-message keys of the initiator: GM_NOISE_PRE_* bits */
    uint8_t pre_resp;  /* pre-message keys of the responder */
    uint8_t n_messages;
    uint8_t n_psks;
    uint8_t tokens[GM_NOISE_MAX_MESSAGES][GM_NOISE_MAX_TOKENS]; /* 0-terminated */
} gm_noise_protocol_t;

#define GM_NOISE_PRE_S 0x01u

typedef struct {
    gm_noise_cipher_t cs;
    gm_noise_hash_t hash;
    uint8_t ck[GM_NOISE_MAX_HASH_LEN];
    uint8_t h[GM_NOISE_MAX_HASH_LEN];
} gm_noise_symmetric_t;

/* Fills buf with len random bytes. The default is randombytes_buf(). */
typedef void (*gm_noise_rng_fn)(void *ctx, uint8_t *buf, size_t len);

typedef struct {
    gm_noise_symmetric_t ss;
    gm_noise_protocol_t proto;
    bool initiator;
    bool failed;
    uint8_t msg_index;
    uint8_t psk_index;
    uint8_t keys;  /* which of the keys below are set: KEY_* bits in noise.c */
    uint8_t s_sk[GM_NOISE_DH_LEN], s_pk[GM_NOISE_DH_LEN];
    uint8_t e_sk[GM_NOISE_DH_LEN], e_pk[GM_NOISE_DH_LEN];
    uint8_t rs[GM_NOISE_DH_LEN], re[GM_NOISE_DH_LEN];
    uint8_t psks[GM_NOISE_MAX_PSKS][GM_NOISE_PSK_LEN];
    gm_noise_rng_fn rng;
    void *rng_ctx;
} gm_noise_handshake_t;

/*
 * Parses a name such as "Noise_XXpsk3_25519_ChaChaPoly_SHA256".
 * Returns 0, GM_ELIMIT for more than GM_NOISE_MAX_PSKS psk modifiers, or
 * GM_EPROTO for anything this engine does not implement, including a
 * repeated modifier ("psk0+psk0") and modifiers not in ascending order
 * ("psk2+psk0").
 */
GM_MUST_CHECK int gm_noise_protocol_parse(const char *name, gm_noise_protocol_t *out);

/*
 * Starts a handshake: InitializeSymmetric(name), MixHash(prologue). Keys are
 * then given with the setters below and gm_noise_handshake_start() mixes the
 * pre-message keys. rng may be NULL (libsodium's CSPRNG).
 */
void gm_noise_handshake_init(gm_noise_handshake_t *hs, const gm_noise_protocol_t *proto,
                             bool initiator, const uint8_t *prologue, size_t prologue_len,
                             gm_noise_rng_fn rng, void *rng_ctx);

/* The local static key pair from its secret key. GM_EDH if the key is unusable. */
GM_MUST_CHECK int gm_noise_handshake_set_static(gm_noise_handshake_t *hs,
                                                const uint8_t sk[GM_NOISE_DH_LEN]);

/* The peer's static public key, known in advance (K and I patterns' "<- s"). */
void gm_noise_handshake_set_remote_static(gm_noise_handshake_t *hs,
                                          const uint8_t pk[GM_NOISE_DH_LEN]);

/* A fixed ephemeral key, for test vectors only; otherwise it is generated. */
GM_MUST_CHECK int gm_noise_handshake_set_ephemeral(gm_noise_handshake_t *hs,
                                                   const uint8_t sk[GM_NOISE_DH_LEN]);

/*
 * The pre-shared keys, used in the order their psk tokens occur. GM_ELIMIT
 * when count exceeds GM_NOISE_MAX_PSKS, GM_EPROTO on a count mismatch.
 */
GM_MUST_CHECK int gm_noise_handshake_set_psks(gm_noise_handshake_t *hs,
                                              const uint8_t (*psks)[GM_NOISE_PSK_LEN],
                                              size_t count);

/*
 * Checks that every key the pattern needs is present and mixes the
 * pre-message public keys. GM_ESTATE if a key is missing.
 */
GM_MUST_CHECK int gm_noise_handshake_start(gm_noise_handshake_t *hs);

/* True when it is this side's turn to write a handshake message. */
bool gm_noise_handshake_is_my_turn(const gm_noise_handshake_t *hs);
bool gm_noise_handshake_is_done(const gm_noise_handshake_t *hs);

/*
 * Writes the next handshake message with payload into out (capacity out_cap).
 * Errors: GM_ESTATE (not our turn, done or failed), GM_ELIMIT (message would
 * exceed 65535 bytes or out_cap), GM_EDH (a DH gave the all-zero result).
 * Any error leaves the handshake failed.
 */
GM_MUST_CHECK int gm_noise_handshake_write(gm_noise_handshake_t *hs, const uint8_t *payload,
                                           size_t payload_len, uint8_t *out, size_t out_cap,
                                           size_t *out_len);

/*
 * Reads the peer's next handshake message; its payload goes to payload_out
 * (capacity payload_cap), which must not overlap msg. Errors: GM_EPROTO
 * (length), GM_EAUTH (decryption),
 * GM_EDH, GM_ESTATE, GM_ELIMIT; any error leaves the handshake failed.
 */
GM_MUST_CHECK int gm_noise_handshake_read(gm_noise_handshake_t *hs, const uint8_t *msg,
                                          size_t msg_len, uint8_t *payload_out,
                                          size_t payload_cap, size_t *payload_len);

/*
 * After the last message: the transport CipherStates for this side. Wipes the
 * handshake's chaining key. GM_ESTATE if the handshake is not complete.
 */
GM_MUST_CHECK int gm_noise_handshake_split(gm_noise_handshake_t *hs, gm_noise_cipher_t *send,
                                           gm_noise_cipher_t *recv);

/* The handshake hash h (channel binding); its length in *len. */
const uint8_t *gm_noise_handshake_hash(const gm_noise_handshake_t *hs, size_t *len);

/* The peer's static public key once known (received or preset), else NULL. */
const uint8_t *gm_noise_handshake_remote_static(const gm_noise_handshake_t *hs);

/* Wipes every key and hash in the state. */
void gm_noise_handshake_close(gm_noise_handshake_t *hs);

/*
 * Transport encryption: out receives pt_len + 16 bytes. GM_ELIMIT when the
 * result would exceed 65535 bytes or out_cap, or the nonce is exhausted.
 * Without a key (not in transport) the plaintext is copied as the spec says.
 */
GM_MUST_CHECK int gm_noise_encrypt(gm_noise_cipher_t *cs, const uint8_t *ad, size_t ad_len,
                                   const uint8_t *pt, size_t pt_len, uint8_t *out,
                                   size_t out_cap, size_t *out_len);

/*
 * Transport decryption. GM_EAUTH on a bad tag (the nonce is not advanced and
 * out may hold garbage), GM_EPROTO on a length below the tag or above 65535.
 */
GM_MUST_CHECK int gm_noise_decrypt(gm_noise_cipher_t *cs, const uint8_t *ad, size_t ad_len,
                                   const uint8_t *ct, size_t ct_len, uint8_t *out,
                                   size_t out_cap, size_t *out_len);

/* REKEY(k): k = first 32 bytes of ENCRYPT(k, 2^64-1, "", 32 zero bytes). */
void gm_noise_rekey(gm_noise_cipher_t *cs);

void gm_noise_cipher_close(gm_noise_cipher_t *cs);

#endif

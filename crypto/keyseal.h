/*
 * Private key files: the secret, optionally sealed with a passphrase
 * (Argon2id + XChaCha20-Poly1305, CRYPTO.md section 0). Pure functions over
 * caller buffers; the files themselves are written by node/ and tools/.
 */
#ifndef GM_KEYSEAL_H
#define GM_KEYSEAL_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"
#include "proto/wire_keyfile.h"

#define GM_ORG_SECRET_LEN 32  /* Ed25519 seed */
#define GM_NODE_SECRET_LEN 96 /* sign seed || link X25519 sk || e2e X25519 sk */

/* Argon2id cost: interactive by default (2 passes, 64 MiB), bounded on read. */
#define GM_KEYSEAL_OPS_DEFAULT 2u
#define GM_KEYSEAL_MEM_DEFAULT (64u << 20)
#define GM_KEYSEAL_OPS_MAX 16u
#define GM_KEYSEAL_MEM_MAX (1024u << 20)

/*
 * Encodes a key file for secret (secret_len bytes, 32 or 96 as kind says).
 * With passphrase NULL the file is plain; otherwise it is sealed with the
 * given Argon2id cost. Errors: GM_EPROTO (length or kind), GM_ELIMIT (cost
 * out of bounds or out too small), GM_ENOMEM (Argon2id could not allocate).
 */
GM_MUST_CHECK int gm_keyseal_encode(gm_key_kind_t kind, const uint8_t *secret, size_t secret_len,
                                    const char *passphrase, size_t passphrase_len,
                                    uint64_t opslimit, uint64_t memlimit, uint8_t *out,
                                    size_t out_cap, size_t *out_len);

/*
 * Decodes a key file of the expected kind into secret (exactly secret_len
 * bytes; written only on success). Errors: GM_EPROTO (malformed, wrong kind
 * or length), GM_EPASS (sealed and no passphrase given, or the passphrase is
 * wrong, or the file was tampered with: the tag cannot tell these apart),
 * GM_ELIMIT (the file asks for an Argon2id cost above our bounds), GM_ENOMEM.
 */
GM_MUST_CHECK int gm_keyseal_decode(const uint8_t *buf, size_t len, gm_key_kind_t kind,
                                    const char *passphrase, size_t passphrase_len,
                                    uint8_t *secret, size_t secret_len);

/* 1 if buf is a sealed key file, 0 if plain, GM_EPROTO if not a key file. */
GM_MUST_CHECK int gm_keyseal_is_sealed(const uint8_t *buf, size_t len);

#endif

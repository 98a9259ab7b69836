/* Codec for proto/keyfile.proto. Secret bytes are wiped from every temporary. */
#ifndef GM_WIRE_KEYFILE_H
#define GM_WIRE_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"

#define GM_KEYFILE_SECRET_MAX 96
#define GM_KEYFILE_SALT_LEN 16
#define GM_KEYFILE_NONCE_LEN 24
#define GM_KEYFILE_TAG_LEN 16
#define GM_KEYFILE_MAX_LEN 512

typedef enum { GM_KEY_ORG_ROOT = 1, GM_KEY_NODE = 2 } gm_key_kind_t;

typedef struct {
    gm_key_kind_t kind;
    bool sealed;
    uint8_t secret[GM_KEYFILE_SECRET_MAX]; /* plain files */
    size_t secret_len;
    uint64_t opslimit, memlimit; /* sealed files */
    uint8_t salt[GM_KEYFILE_SALT_LEN];
    uint8_t nonce[GM_KEYFILE_NONCE_LEN];
    uint8_t ciphertext[GM_KEYFILE_SECRET_MAX + GM_KEYFILE_TAG_LEN];
    size_t ciphertext_len;
} gm_keyfile_wire_t;

/* Encodes into out (capacity cap, GM_KEYFILE_MAX_LEN is enough). GM_ELIMIT if too small. */
GM_MUST_CHECK int gm_wire_keyfile_encode(const gm_keyfile_wire_t *k, uint8_t *out, size_t cap,
                                         size_t *out_len);

/* GM_EPROTO when malformed (wrong version, kind, sizes; both or neither of secret and sealed). */
GM_MUST_CHECK int gm_wire_keyfile_decode(const uint8_t *buf, size_t len, gm_keyfile_wire_t *out);

#endif

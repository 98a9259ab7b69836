/* Codecs for proto/mesh.proto: custody acknowledgements and anti-entropy filters. */
#ifndef GM_WIRE_MESH_H
#define GM_WIRE_MESH_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"
#include "proto/wire_cert.h"

#define GM_ACK_MAX_IDS 4096
#define GM_SYNC_MAX_BITS_BYTES 262144u
#define GM_SYNC_MAX_HASHES 16u

typedef struct {
    uint32_t hashes;
    uint8_t seed[16];
    uint8_t *bits; /* decode: malloc'd, the caller frees it */
    size_t bits_len;
    uint32_t count;
} gm_sync_filter_t;

/* Encoded size of an ack of n ids. */
size_t gm_wire_ack_size(size_t n);
GM_MUST_CHECK int gm_wire_ack_encode(const uint8_t (*ids)[GM_ID_LEN], size_t n, uint8_t *out,
                                     size_t cap, size_t *out_len);
/* out has room for GM_ACK_MAX_IDS ids. GM_EPROTO if malformed or too many. */
GM_MUST_CHECK int gm_wire_ack_decode(const uint8_t *buf, size_t len,
                                     uint8_t (*out)[GM_ID_LEN], size_t *n);

size_t gm_wire_sync_size(const gm_sync_filter_t *f);
GM_MUST_CHECK int gm_wire_sync_encode(const gm_sync_filter_t *f, uint8_t *out, size_t cap,
                                      size_t *out_len);
/* GM_EPROTO if malformed or out of range; GM_ENOMEM. */
GM_MUST_CHECK int gm_wire_sync_decode(const uint8_t *buf, size_t len, gm_sync_filter_t *out);

#endif

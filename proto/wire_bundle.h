/*
 * Codec for proto/bundle.proto: the mesh layer's bundle, as a plain gm_ struct.
 *
 * The decoder treats its input as hostile: the length is capped, ids are
 * exactly 16 bytes, enums and counts are range-checked, unknown fields are
 * refused, and the body must be the last field on the wire (as every
 * protobuf encoder writes it), so the decoded body points into the input
 * without a copy.
 */
#ifndef GM_WIRE_BUNDLE_H
#define GM_WIRE_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"
#include "proto/wire_cert.h"

#define GM_BUNDLE_VERSION 1
#define GM_BUNDLE_MAX_LEN_DEFAULT 65536u      /* an encoded bundle, header and body */
#define GM_BUNDLE_LIFETIME_MAX (30u * 86400u) /* seconds: dedup entries live this long */
#define GM_BUNDLE_HEADER_MAX 128u             /* every field before the body, encoded */

typedef enum {
    GM_DST_NODE = 1,  /* one node: dst.id is its node id */
    GM_DST_GROUP = 2, /* a group: dst.id is the group id */
    GM_DST_ALL = 3,   /* every node: dst.id is ignored on encode, zero after decode */
} gm_dst_kind_t;

typedef struct {
    gm_dst_kind_t kind;
    uint8_t id[GM_ID_LEN];
} gm_dest_t;

/* Lower values go first on every queue; emergency bundles are flooded. */
typedef enum {
    GM_PRIO_EMERGENCY = 0,
    GM_PRIO_URGENT = 1,
    GM_PRIO_NORMAL = 2,
    GM_PRIO_BULK = 3,
} gm_prio_t;

#define GM_PRIO_COUNT 4

typedef struct {
    uint8_t id[GM_ID_LEN];  /* random, chosen by the source */
    uint8_t src[GM_ID_LEN]; /* source node id */
    gm_dest_t dst;
    uint64_t created;  /* seconds since the epoch, the source's clock */
    uint32_t lifetime; /* seconds after created; 1 .. GM_BUNDLE_LIFETIME_MAX */
    uint8_t hop_limit; /* at least 1 */
    uint8_t hops;      /* hops taken so far; at most hop_limit */
    gm_prio_t priority;
    const uint8_t *body; /* borrowed: the caller's (encode) or the input buffer (decode) */
    size_t body_len;
} gm_bundle_t;

/* Encoded size of b (0 if b is not a valid bundle). */
size_t gm_wire_bundle_size(const gm_bundle_t *b);

/*
 * Encodes b into out. GM_EPROTO if a field is out of range (as the decoder
 * would refuse it), GM_ELIMIT if the encoding does not fit in cap.
 */
GM_MUST_CHECK int gm_wire_bundle_encode(const gm_bundle_t *b, uint8_t *out, size_t cap,
                                        size_t *out_len);

/*
 * Decodes one bundle. out->body points into buf: keep buf alive while out is
 * used. GM_ELIMIT if len > max_len; GM_EPROTO if malformed (wrong id length,
 * unknown enum or field, version other than 1, lifetime 0 or too long,
 * hop_limit 0 or over 255, hops over hop_limit, body not last). *out is
 * written only on success. Time checks (expired, created in the future) are
 * the store's: they need the clock.
 */
GM_MUST_CHECK int gm_wire_bundle_decode(const uint8_t *buf, size_t len, size_t max_len,
                                        gm_bundle_t *out);

#endif

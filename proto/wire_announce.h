/*
 * Codecs for proto/announce.proto: the announcement body a node signs, the
 * signed envelope, and the route update that carries it hop by hop. Decoders
 * treat their input as hostile: lengths capped before parsing, every field
 * checked, the output written only on success. Encoders refuse what the
 * decoders would refuse, so decode -> encode -> decode is the identity.
 */
#ifndef GM_WIRE_ANNOUNCE_H
#define GM_WIRE_ANNOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"
#include "proto/wire_cert.h"

#define GM_ANNOUNCE_PREKEYS_MAX 1024
/* Largest encodings: the fields at their limits plus tags, length and varint bytes. */
#define GM_ANNOUNCE_BODY_MAX (GM_CERT_MAX_LEN + GM_ANNOUNCE_PREKEYS_MAX + 32)
#define GM_ANNOUNCE_SIGNED_MAX (GM_ANNOUNCE_BODY_MAX + GM_SIG_LEN + 8)
#define GM_ROUTE_UPDATE_MAX (GM_ANNOUNCE_SIGNED_MAX + 16)
#define GM_ROUTE_SHORT_MAX (GM_ID_LEN + 24) /* a short update (origin, seq, metric) */

typedef struct {
    uint8_t cert[GM_CERT_MAX_LEN]; /* an encoded certificate, 1 .. GM_CERT_MAX_LEN bytes */
    size_t cert_len;
    uint64_t seq; /* at least 1 */
    uint64_t time;
    uint8_t prekeys[GM_ANNOUNCE_PREKEYS_MAX];
    size_t prekeys_len;
} gm_announce_t;

typedef struct {
    uint8_t body[GM_ANNOUNCE_BODY_MAX]; /* an encoded gm_announce_t, 1 .. max bytes */
    size_t body_len;
    uint8_t signature[GM_SIG_LEN];
} gm_announce_signed_t;

typedef struct {
    uint8_t announcement[GM_ANNOUNCE_SIGNED_MAX]; /* an encoded gm_announce_signed_t */
    size_t announcement_len;                      /* 0: a short update */
    uint32_t metric;
    uint8_t origin[GM_ID_LEN]; /* a short update's announcement: origin's number seq */
    uint64_t seq;
} gm_route_update_t;

/*
 * Encoders write into out (cap bytes) and set *out_len. GM_EPROTO for a field
 * out of range (an empty or oversized certificate, seq 0, ...), GM_ELIMIT if
 * cap is too small.
 */
GM_MUST_CHECK int gm_wire_announce_encode(const gm_announce_t *a, uint8_t *out, size_t cap,
                                          size_t *out_len);
GM_MUST_CHECK int gm_wire_announce_signed_encode(const gm_announce_signed_t *s, uint8_t *out,
                                                 size_t cap, size_t *out_len);
GM_MUST_CHECK int gm_wire_route_update_encode(const gm_route_update_t *u, uint8_t *out, size_t cap,
                                              size_t *out_len);

/*
 * Decoders: 0 or GM_EPROTO (over the type's largest encoding, malformed, or a
 * field of the wrong size or out of range). Only the outer layer is decoded:
 * a route update's announcement and a signed announcement's body stay bytes.
 */
GM_MUST_CHECK int gm_wire_announce_decode(const uint8_t *buf, size_t len, gm_announce_t *out);
GM_MUST_CHECK int gm_wire_announce_signed_decode(const uint8_t *buf, size_t len,
                                                 gm_announce_signed_t *out);
GM_MUST_CHECK int gm_wire_route_update_decode(const uint8_t *buf, size_t len,
                                              gm_route_update_t *out);

#endif

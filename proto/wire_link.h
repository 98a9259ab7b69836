/* Codecs for proto/link.proto: handshake hello, per-frame LinkMsg, discovery beacon. */
#ifndef GM_WIRE_LINK_H
#define GM_WIRE_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"
#include "proto/wire_cert.h"

/* Largest encoded LinkHello: a certificate, a signature and a few varints. */
#define GM_HELLO_MAX (GM_CERT_MAX_LEN + GM_SIG_LEN + 64)

typedef struct {
    uint32_t version;
    uint8_t cert[GM_CERT_MAX_LEN];
    size_t cert_len;
    uint16_t listen_port;
    uint64_t time;
    uint8_t signature[GM_SIG_LEN];
    uint32_t rekey_frames; /* at least 1 */
} gm_hello_t;

typedef enum { GM_LMSG_KEEPALIVE = 1, GM_LMSG_DATA, GM_LMSG_CLOSE } gm_lmsg_kind_t;

#define GM_CLOSE_TEXT_MAX 120

typedef struct {
    gm_lmsg_kind_t kind;
    uint64_t seq;               /* keepalive */
    uint32_t channel;           /* data */
    const uint8_t *payload;     /* data: borrowed (encode) or in the arena (decode) */
    size_t payload_len;
    bool more;                  /* data: another piece of the same message follows */
    uint32_t reason;            /* close */
    char text[GM_CLOSE_TEXT_MAX + 1];
} gm_linkmsg_t;

typedef struct {
    uint8_t version;
    uint8_t mesh_id[16];
    uint8_t node_id[GM_ID_LEN];
    uint16_t port;
} gm_beacon_t;

/* A bump allocator for decoding without malloc; reset by every decode. */
typedef struct {
    uint8_t *buf;
    size_t cap, used;
} gm_wire_arena_t;

GM_MUST_CHECK int gm_wire_hello_encode(const gm_hello_t *h, uint8_t *out, size_t cap,
                                       size_t *out_len);
/* GM_EPROTO if malformed or the certificate is larger than GM_CERT_MAX_LEN. */
GM_MUST_CHECK int gm_wire_hello_decode(const uint8_t *buf, size_t len, gm_hello_t *out);

/* Encoded size of m, for sizing a frame before encoding. */
size_t gm_wire_linkmsg_size(const gm_linkmsg_t *m);
GM_MUST_CHECK int gm_wire_linkmsg_encode(const gm_linkmsg_t *m, uint8_t *out, size_t cap,
                                         size_t *out_len);
/*
 * Decodes one LinkMsg using only the arena's memory; out->payload points into
 * it until the next decode. GM_EPROTO if malformed, unknown or over the arena.
 */
GM_MUST_CHECK int gm_wire_linkmsg_decode(const uint8_t *buf, size_t len, gm_wire_arena_t *arena,
                                         gm_linkmsg_t *out);

GM_MUST_CHECK int gm_wire_beacon_encode(const gm_beacon_t *b, uint8_t *out, size_t cap,
                                        size_t *out_len);
GM_MUST_CHECK int gm_wire_beacon_decode(const uint8_t *buf, size_t len, gm_beacon_t *out);

#endif

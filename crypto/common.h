/* Guardmesh: error codes and small helpers shared by every module. */
#ifndef GM_COMMON_H
#define GM_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define GM_MUST_CHECK __attribute__((warn_unused_result))

/*
 * Error codes. Fallible functions return 0 or a negative code. Ours start at
 * -1000 so libuv's (negative errno) codes pass through unchanged.
 */
enum {
    GM_EPROTO = -1000, /* malformed or out-of-spec input */
    GM_EAUTH = -1001,  /* authentication failed (MAC, signature, key check) */
    GM_EREPLAY = -1002,
    GM_ESTATE = -1003, /* operation not valid in this state */
    GM_ENOMEM = -1004,
    GM_ELIMIT = -1005, /* a size, count or nonce limit was reached */
    GM_EDH = -1006,    /* X25519 produced the all-zero output */
    GM_EIO = -1007,
    GM_EEXIST = -1008,
    GM_ENOENT = -1009,
    GM_EPASS = -1010, /* wrong passphrase, or a passphrase is needed */
    GM_ECLOSED = -1011, /* the peer closed the connection (libuv's UV_EOF) */
    GM_ECONFLICT = -1012, /* a name already belongs to another key (e.g. organisation name) */
};

/* Names any Guardmesh or libuv (negative errno) error code. Never NULL. */
const char *gm_strerror(int err);

/* Big-endian and little-endian integer stores, for wire and nonce layouts. */
static inline void gm_store_u32_be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void gm_store_u64_le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline void gm_store_u64_be(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

#endif

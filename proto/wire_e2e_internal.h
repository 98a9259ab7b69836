/*
 * Private to proto/wire_e2e*.c and proto/wire_messenger_control.c: helpers the
 * end-to-end and messenger codecs share. Not for callers outside proto/
 * (tests excepted).
 */
#ifndef GM_WIRE_E2E_INTERNAL_H
#define GM_WIRE_E2E_INTERNAL_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A view of caller memory for a generated struct (protobuf-c never writes through it). */
static inline ProtobufCBinaryData gm__wire_bin(const uint8_t *p, size_t len)
{
    ProtobufCBinaryData b = {len, (uint8_t *)p};
    return b;
}

/*
 * An allocator for unpacking plaintext: it remembers each block's size and
 * wipes the block when protobuf-c frees it, so *__free_unpacked leaves no
 * plaintext behind, whatever the fields. Pass the same one to unpack and free.
 */
ProtobufCAllocator gm__wire_wiping_allocator(void);

/* Well-formed UTF-8: no overlong forms, surrogates or code points over U+10FFFF. */
bool gm__wire_utf8_is_valid(const uint8_t *s, size_t len);

/* s (NULL reads as "") is at most max bytes of well-formed UTF-8. */
bool gm__wire_text_is_valid(const char *s, size_t max);

/* lat -90 .. 90, lon -180 .. 180, accuracy finite and >= 0 (NaN is out of every range). */
bool gm__wire_position_is_valid(double lat, double lon, float accuracy);

#endif

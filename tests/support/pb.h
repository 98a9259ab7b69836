/*
 * Test support: a protobuf writer, to build by hand the messages our encoders
 * refuse to write (wrong sizes, out-of-range values, unknown fields). Every
 * field given is written, zeros included; a field left out is absent.
 */
#ifndef GM_TEST_PB_H
#define GM_TEST_PB_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *buf; /* malloc'd; gm_pb_free() */
    size_t len, cap;
} gm_pb_t;

#define GM_PB_INIT                                                                                 \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void gm_pb_free(gm_pb_t *pb);
/* Raw bytes, no key. */
void gm_pb_raw(gm_pb_t *pb, const void *data, size_t len);
void gm_pb_varint(gm_pb_t *pb, uint32_t field, uint64_t v);
void gm_pb_bytes(gm_pb_t *pb, uint32_t field, const void *data, size_t len);
/* len bytes of fill. */
void gm_pb_fill(gm_pb_t *pb, uint32_t field, uint8_t fill, size_t len);
void gm_pb_string(gm_pb_t *pb, uint32_t field, const char *s);
void gm_pb_double(gm_pb_t *pb, uint32_t field, double v);
void gm_pb_float(gm_pb_t *pb, uint32_t field, float v);
/* sub as an embedded message; sub is freed. */
void gm_pb_msg(gm_pb_t *pb, uint32_t field, gm_pb_t *sub);

#endif

#include "tests/support/pb.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define WIRE_VARINT 0u
#define WIRE_FIXED64 1u
#define WIRE_LEN 2u
#define WIRE_FIXED32 5u

void gm_pb_free(gm_pb_t *pb)
{
    free(pb->buf);
    *pb = (gm_pb_t)GM_PB_INIT;
}

static void reserve(gm_pb_t *pb, size_t more)
{
    size_t cap = pb->cap > 0 ? pb->cap : 64;

    if (pb->len + more <= pb->cap) {
        return;
    }
    while (cap < pb->len + more) {
        cap *= 2;
    }
    pb->buf = realloc(pb->buf, cap);
    cr_assert_not_null(pb->buf);
    pb->cap = cap;
}

void gm_pb_raw(gm_pb_t *pb, const void *data, size_t len)
{
    reserve(pb, len + 1);
    if (len > 0) {
        memcpy(pb->buf + pb->len, data, len);
    }
    pb->len += len;
}

static void put_varint(gm_pb_t *pb, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;

    do {
        b[n++] = (uint8_t)((v & 0x7fu) | (v > 0x7fu ? 0x80u : 0));
        v >>= 7;
    } while (v != 0);
    gm_pb_raw(pb, b, n);
}

static void put_key(gm_pb_t *pb, uint32_t field, uint32_t wire)
{
    put_varint(pb, ((uint64_t)field << 3) | wire);
}

void gm_pb_varint(gm_pb_t *pb, uint32_t field, uint64_t v)
{
    put_key(pb, field, WIRE_VARINT);
    put_varint(pb, v);
}

void gm_pb_bytes(gm_pb_t *pb, uint32_t field, const void *data, size_t len)
{
    put_key(pb, field, WIRE_LEN);
    put_varint(pb, len);
    gm_pb_raw(pb, data, len);
}

void gm_pb_fill(gm_pb_t *pb, uint32_t field, uint8_t fill, size_t len)
{
    put_key(pb, field, WIRE_LEN);
    put_varint(pb, len);
    reserve(pb, len + 1);
    memset(pb->buf + pb->len, fill, len);
    pb->len += len;
}

void gm_pb_string(gm_pb_t *pb, uint32_t field, const char *s)
{
    gm_pb_bytes(pb, field, s, strlen(s));
}

/* Little-endian, as protobuf puts fixed-width numbers. */
static void put_le(gm_pb_t *pb, uint64_t v, size_t n)
{
    uint8_t b[8];

    for (size_t i = 0; i < n; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    gm_pb_raw(pb, b, n);
}

void gm_pb_double(gm_pb_t *pb, uint32_t field, double v)
{
    uint64_t u;

    memcpy(&u, &v, sizeof u);
    put_key(pb, field, WIRE_FIXED64);
    put_le(pb, u, 8);
}

void gm_pb_float(gm_pb_t *pb, uint32_t field, float v)
{
    uint32_t u;

    memcpy(&u, &v, sizeof u);
    put_key(pb, field, WIRE_FIXED32);
    put_le(pb, u, 4);
}

void gm_pb_msg(gm_pb_t *pb, uint32_t field, gm_pb_t *sub)
{
    gm_pb_bytes(pb, field, sub->buf, sub->len);
    gm_pb_free(sub);
}

#include "proto/wire_bundle.h"

#include <stdbool.h>
#include <string.h>

#include "bundle.pb-c.h"

#define BODY_FIELD 15u
#define WIRE_VARINT 0u
#define WIRE_FIXED64 1u
#define WIRE_LEN 2u
#define WIRE_FIXED32 5u
#define VARINT_MAX_BYTES 10u
#define PREFIX_MAX_BYTES 5u /* keys and length prefixes, as protobuf-c reads them */
#define ARENA_LEN 2048u     /* the unpacked header: message, three ids, stray fields */

/* A bump allocator over a stack buffer: the header decodes without malloc. */
typedef struct {
    _Alignas(16) uint8_t buf[ARENA_LEN];
    size_t used;
} arena_t;

static void *arena_alloc(void *data, size_t size)
{
    arena_t *a = data;
    size_t at = (a->used + 15u) & ~(size_t)15u;

    if (at > sizeof a->buf || size > sizeof a->buf - at) {
        return NULL; /* protobuf-c then fails the unpack */
    }
    a->used = at + size;
    return a->buf + at;
}

static void arena_free(void *data, void *ptr)
{
    (void)data;
    (void)ptr;
}

/* Range checks shared by the encoder and the decoder (unsigned: a negative value is out too). */
static int check_fields(const gm_bundle_t *b)
{
    if ((unsigned)b->dst.kind < GM_DST_NODE || (unsigned)b->dst.kind > GM_DST_ALL ||
        (unsigned)b->priority > GM_PRIO_BULK) {
        return GM_EPROTO;
    }
    if (b->lifetime == 0 || b->lifetime > GM_BUNDLE_LIFETIME_MAX || b->hop_limit == 0 ||
        b->hops > b->hop_limit || (b->body_len > 0 && b->body == NULL)) {
        return GM_EPROTO;
    }
    return 0;
}

/* Fills a generated Bundle from b; every pointer borrows b's memory. */
static int to_proto(const gm_bundle_t *b, Gmwire__Bundle *m)
{
    if (check_fields(b) != 0) {
        return GM_EPROTO;
    }
    gmwire__bundle__init(m);
    m->version = GM_BUNDLE_VERSION;
    m->id.data = (uint8_t *)b->id;
    m->id.len = GM_ID_LEN;
    m->src.data = (uint8_t *)b->src;
    m->src.len = GM_ID_LEN;
    m->dst_kind = (Gmwire__DestKind)b->dst.kind;
    if (b->dst.kind != GM_DST_ALL) {
        m->dst.data = (uint8_t *)b->dst.id;
        m->dst.len = GM_ID_LEN;
    }
    m->created = b->created;
    m->lifetime = b->lifetime;
    m->hop_limit = b->hop_limit;
    m->hops = b->hops;
    m->priority = (Gmwire__Priority)(b->priority + 1); /* the wire keeps 0 for "unset" */
    m->body.data = (uint8_t *)b->body;
    m->body.len = b->body_len;
    return 0;
}

size_t gm_wire_bundle_size(const gm_bundle_t *b)
{
    Gmwire__Bundle m;

    if (to_proto(b, &m) != 0) {
        return 0;
    }
    return gmwire__bundle__get_packed_size(&m);
}

int gm_wire_bundle_encode(const gm_bundle_t *b, uint8_t *out, size_t cap, size_t *out_len)
{
    Gmwire__Bundle m;

    if (to_proto(b, &m) != 0) {
        return GM_EPROTO;
    }
    if (gmwire__bundle__get_packed_size(&m) > cap) {
        return GM_ELIMIT;
    }
    *out_len = gmwire__bundle__pack(&m, out);
    return 0;
}

/* Reads a varint of at most max_bytes at buf[*at], advancing *at. */
static int read_varint(const uint8_t *buf, size_t len, size_t *at, size_t max_bytes, uint64_t *out)
{
    uint64_t v = 0;

    for (size_t i = 0; i < max_bytes && *at < len; i++) {
        uint8_t byte = buf[(*at)++];

        v |= (uint64_t)(byte & 0x7fu) << (7u * i);
        if ((byte & 0x80u) == 0) {
            *out = v;
            return 0;
        }
    }
    return GM_EPROTO;
}

/* Skips the value of a field of the given wire type; *n gets a length-delimited one's length. */
static int skip_value(const uint8_t *buf, size_t len, size_t *at, uint32_t wire, uint64_t *n)
{
    uint64_t v;

    *n = 0;
    switch (wire) {
    case WIRE_VARINT:
        return read_varint(buf, len, at, VARINT_MAX_BYTES, &v);
    case WIRE_FIXED64:
    case WIRE_FIXED32:
        v = wire == WIRE_FIXED64 ? 8u : 4u;
        break;
    case WIRE_LEN:
        if (read_varint(buf, len, at, PREFIX_MAX_BYTES, &v) != 0) {
            return GM_EPROTO;
        }
        *n = v;
        break;
    default:
        return GM_EPROTO; /* groups and reserved wire types */
    }
    if (v > len - *at) {
        return GM_EPROTO;
    }
    *at += (size_t)v;
    return 0;
}

/*
 * Splits buf into the header (every field before the body) and the body,
 * which must be the last field: *hdr_len is where the body field starts
 * (len when there is no body).
 */
static int split_body(const uint8_t *buf, size_t len, size_t *hdr_len, const uint8_t **body,
                      size_t *body_len)
{
    size_t at = 0;

    while (at < len) {
        size_t start = at;
        uint64_t key, n;

        if (read_varint(buf, len, &at, PREFIX_MAX_BYTES, &key) != 0 || key > UINT32_MAX ||
            skip_value(buf, len, &at, (uint32_t)(key & 7u), &n) != 0) {
            return GM_EPROTO;
        }
        if ((key >> 3) == BODY_FIELD) {
            if ((key & 7u) != WIRE_LEN || at != len) {
                return GM_EPROTO;
            }
            *hdr_len = start;
            *body = buf + (len - (size_t)n);
            *body_len = (size_t)n;
            return 0;
        }
    }
    *hdr_len = len;
    *body = NULL;
    *body_len = 0;
    return 0;
}

static int from_proto(const Gmwire__Bundle *m, gm_bundle_t *b)
{
    bool has_dst = m->dst_kind != GMWIRE__DEST_KIND__DEST_KIND_ALL;

    /* Enums are range-checked before they are converted. */
    if (m->base.n_unknown_fields != 0 || m->version != GM_BUNDLE_VERSION ||
        m->id.len != GM_ID_LEN || m->src.len != GM_ID_LEN ||
        m->dst.len != (has_dst ? GM_ID_LEN : 0) || m->hop_limit > UINT8_MAX ||
        m->hops > UINT8_MAX || m->dst_kind < GMWIRE__DEST_KIND__DEST_KIND_NODE ||
        m->dst_kind > GMWIRE__DEST_KIND__DEST_KIND_ALL ||
        m->priority < GMWIRE__PRIORITY__PRIORITY_EMERGENCY ||
        m->priority > GMWIRE__PRIORITY__PRIORITY_BULK) {
        return GM_EPROTO;
    }
    memset(b, 0, sizeof *b);
    memcpy(b->id, m->id.data, GM_ID_LEN);
    memcpy(b->src, m->src.data, GM_ID_LEN);
    b->dst.kind = (gm_dst_kind_t)m->dst_kind;
    if (has_dst) {
        memcpy(b->dst.id, m->dst.data, GM_ID_LEN);
    }
    b->created = m->created;
    b->lifetime = m->lifetime;
    b->hop_limit = (uint8_t)m->hop_limit;
    b->hops = (uint8_t)m->hops;
    b->priority = (gm_prio_t)(m->priority - 1);
    return check_fields(b);
}

int gm_wire_bundle_decode(const uint8_t *buf, size_t len, size_t max_len, gm_bundle_t *out)
{
    arena_t arena = {.used = 0};
    ProtobufCAllocator alloc = {arena_alloc, arena_free, &arena};
    const uint8_t *body;
    size_t hdr_len, body_len;
    Gmwire__Bundle *m;
    gm_bundle_t b;
    int err;

    if (len > max_len) {
        return GM_ELIMIT;
    }
    if (split_body(buf, len, &hdr_len, &body, &body_len) != 0 || hdr_len > GM_BUNDLE_HEADER_MAX) {
        return GM_EPROTO;
    }
    /* The header alone goes through protobuf-c; the body is never copied. */
    m = gmwire__bundle__unpack(&alloc, hdr_len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    err = from_proto(m, &b);
    gmwire__bundle__free_unpacked(m, &alloc);
    if (err != 0) {
        return err;
    }
    b.body = body_len > 0 ? body : NULL;
    b.body_len = body_len;
    *out = b;
    return 0;
}

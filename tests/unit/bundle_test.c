/* proto/wire_bundle: encoding, decoding in place, and every refusal of the decoder. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/fileio.h"
#include "node/identity.h"
#include "proto/wire_bundle.h"

#define NOW 1767225600u /* 2026-01-01T00:00:00Z */
#define CORPUS_DIR GM_VECTORS_DIR "/../fuzz/corpus/bundle"

TestSuite(bundle);

static const uint8_t body40[40] = "forty bytes of end-to-end ciphertext...";

static gm_bundle_t sample(void)
{
    gm_bundle_t b;

    memset(&b, 0, sizeof b);
    memset(b.id, 0x11, sizeof b.id);
    memset(b.src, 0x22, sizeof b.src);
    b.dst.kind = GM_DST_NODE;
    memset(b.dst.id, 0x33, sizeof b.dst.id);
    b.created = NOW;
    b.lifetime = 3600;
    b.hop_limit = 8;
    b.hops = 2;
    b.priority = GM_PRIO_NORMAL;
    b.body = body40;
    b.body_len = sizeof body40;
    return b;
}

static void assert_same_header(const gm_bundle_t *a, const gm_bundle_t *b)
{
    cr_assert_arr_eq(a->id, b->id, GM_ID_LEN);
    cr_assert_arr_eq(a->src, b->src, GM_ID_LEN);
    cr_assert_eq(a->dst.kind, b->dst.kind);
    cr_assert_arr_eq(a->dst.id, b->dst.id, GM_ID_LEN);
    cr_assert_eq(a->created, b->created);
    cr_assert_eq(a->lifetime, b->lifetime);
    cr_assert_eq(a->hop_limit, b->hop_limit);
    cr_assert_eq(a->hops, b->hops);
    cr_assert_eq(a->priority, b->priority);
}

/* ---- a hand-written protobuf writer, to build what our encoder never would ---- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;

    do {
        p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v != 0);
    return n;
}

static size_t put_uint(uint8_t *p, uint32_t field, uint64_t v)
{
    size_t n;

    if (v == 0) {
        return 0; /* proto3 leaves zeros out */
    }
    n = put_varint(p, (uint64_t)field << 3);
    return n + put_varint(p + n, v);
}

static size_t put_bytes(uint8_t *p, uint32_t field, uint8_t fill, size_t len)
{
    size_t n = put_varint(p, ((uint64_t)field << 3) | 2u);

    n += put_varint(p + n, len);
    memset(p + n, fill, len);
    return n + len;
}

/* Every field of a Bundle message as it goes on the wire, and the ways to get it wrong. */
typedef struct {
    uint64_t version, id_len, src_len, dst_kind, dst_len, created, lifetime, hop_limit, hops;
    uint64_t priority, body_len;
    uint64_t body_first, body_twice, body_as_varint, unknown_field, long_unknown;
} spec_t;

static spec_t valid_spec(void)
{
    /* The wire form of sample(): priority NORMAL is 3 on the wire (0 means unset). */
    return (spec_t){.version = 1,
                    .id_len = 16,
                    .src_len = 16,
                    .dst_kind = 1,
                    .dst_len = 16,
                    .created = NOW,
                    .lifetime = 3600,
                    .hop_limit = 8,
                    .hops = 2,
                    .priority = 3,
                    .body_len = 40};
}

static size_t put_body(uint8_t *p, const spec_t *sp)
{
    size_t n;

    if (!sp->body_as_varint) {
        n = put_bytes(p, 15, 0, sp->body_len);
        memcpy(p + n - sp->body_len, body40, sp->body_len <= 40 ? sp->body_len : 40);
        return n;
    }
    n = put_varint(p, (uint64_t)15 << 3);
    return n + put_varint(p + n, 40);
}

static size_t build(const spec_t *sp, uint8_t *out)
{
    size_t n = sp->body_first ? put_body(out, sp) : 0;

    n += put_uint(out + n, 1, sp->version);
    n += sp->id_len ? put_bytes(out + n, 2, 0x11, sp->id_len) : 0;
    n += sp->src_len ? put_bytes(out + n, 3, 0x22, sp->src_len) : 0;
    n += put_uint(out + n, 4, sp->dst_kind);
    n += sp->dst_len ? put_bytes(out + n, 5, 0x33, sp->dst_len) : 0;
    n += put_uint(out + n, 6, sp->created);
    n += put_uint(out + n, 7, sp->lifetime);
    n += put_uint(out + n, 8, sp->hop_limit);
    n += put_uint(out + n, 9, sp->hops);
    n += put_uint(out + n, 10, sp->priority);
    n += sp->unknown_field ? put_uint(out + n, 11, 1) : 0;
    n += sp->long_unknown ? put_bytes(out + n, 12, 0x44, 200) : 0;
    n += sp->body_twice ? put_body(out + n, sp) : 0;
    n += !sp->body_first && sp->body_len > 0 ? put_body(out + n, sp) : 0;
    return n;
}

/* ---- round trips ---- */

Test(bundle, hand_built_wire_form_equals_encoder_output_and_decodes_in_place)
{
    gm_bundle_t b = sample(), d;
    spec_t sp = valid_spec();
    uint8_t enc[256], hand[256];
    size_t enc_len, hand_len = build(&sp, hand);

    cr_assert_eq(gm_wire_bundle_encode(&b, enc, sizeof enc, &enc_len), 0);
    cr_assert_eq(enc_len, gm_wire_bundle_size(&b));
    cr_assert_eq(enc_len, hand_len);
    cr_assert_arr_eq(enc, hand, enc_len, "the body is written last, after the header in order");
    cr_assert_eq(gm_wire_bundle_decode(enc, enc_len, enc_len, &d), 0);
    assert_same_header(&b, &d);
    cr_assert_eq(d.body_len, sizeof body40);
    cr_assert_eq(d.body, enc + enc_len - sizeof body40, "the body points into the input");
    cr_assert_arr_eq(d.body, body40, sizeof body40);
}

Test(bundle, every_destination_kind_and_priority_round_trips)
{
    for (int k = GM_DST_NODE; k <= GM_DST_ALL; k++) {
        for (int p = GM_PRIO_EMERGENCY; p <= GM_PRIO_BULK; p++) {
            gm_bundle_t b = sample(), d;
            uint8_t enc[256];
            size_t len;

            b.dst.kind = (gm_dst_kind_t)k;
            b.priority = (gm_prio_t)p;
            cr_assert_eq(gm_wire_bundle_encode(&b, enc, sizeof enc, &len), 0);
            cr_assert_eq(gm_wire_bundle_decode(enc, len, len, &d), 0);
            if (k == GM_DST_ALL) {
                cr_assert_eq(len, gm_wire_bundle_size(&b));
                memset(b.dst.id, 0, GM_ID_LEN); /* not on the wire for everyone */
            }
            assert_same_header(&b, &d);
        }
    }
}

Test(bundle, empty_body_and_extreme_valid_values_round_trip)
{
    gm_bundle_t b = sample(), d;
    uint8_t enc[256];
    size_t len;

    b.body = NULL;
    b.body_len = 0;
    b.lifetime = GM_BUNDLE_LIFETIME_MAX;
    b.hop_limit = 255;
    b.hops = 255;
    b.created = UINT64_MAX;
    cr_assert_eq(gm_wire_bundle_encode(&b, enc, sizeof enc, &len), 0);
    cr_assert_eq(gm_wire_bundle_decode(enc, len, len, &d), 0);
    assert_same_header(&b, &d);
    cr_assert_null(d.body);
    cr_assert_eq(d.body_len, 0);
}

static int encode_err(const gm_bundle_t *b)
{
    uint8_t enc[256];
    size_t len;

    return gm_wire_bundle_encode(b, enc, sizeof enc, &len);
}

Test(bundle, encoder_refuses_a_small_buffer_and_invalid_fields)
{
    gm_bundle_t b = sample();
    uint8_t enc[256];
    size_t len = 0, need = gm_wire_bundle_size(&b);

    cr_assert_gt(need, sizeof body40);
    cr_assert_eq(gm_wire_bundle_encode(&b, enc, need - 1, &len), GM_ELIMIT);
    cr_assert_eq(len, 0, "nothing written on failure");
    cr_assert_eq(gm_wire_bundle_encode(&b, enc, need, &len), 0);
    cr_assert_eq(len, need);

    b = sample();
    b.hop_limit = 0;
    cr_assert_eq(encode_err(&b), GM_EPROTO);
    b = sample();
    b.hops = 9;
    cr_assert_eq(encode_err(&b), GM_EPROTO);
    b = sample();
    b.lifetime = 0;
    cr_assert_eq(encode_err(&b), GM_EPROTO);
    b = sample();
    b.lifetime = GM_BUNDLE_LIFETIME_MAX + 1;
    cr_assert_eq(encode_err(&b), GM_EPROTO);
    b = sample();
    b.priority = (gm_prio_t)4;
    cr_assert_eq(encode_err(&b), GM_EPROTO);
    b = sample();
    b.dst.kind = (gm_dst_kind_t)0;
    cr_assert_eq(encode_err(&b), GM_EPROTO);
    cr_assert_eq(gm_wire_bundle_size(&b), 0);
}

/* ---- refusals ---- */

Test(bundle, decoder_refuses_each_malformed_field)
{
    static const struct {
        const char *what;
        size_t offset; /* of the spec_t field to change */
        uint64_t value;
    } cases[] = {
        {"version 0", offsetof(spec_t, version), 0},
        {"version 2", offsetof(spec_t, version), 2},
        {"no id", offsetof(spec_t, id_len), 0},
        {"15-byte id", offsetof(spec_t, id_len), 15},
        {"17-byte id", offsetof(spec_t, id_len), 17},
        {"15-byte source", offsetof(spec_t, src_len), 15},
        {"node destination without id", offsetof(spec_t, dst_len), 0},
        {"15-byte destination", offsetof(spec_t, dst_len), 15},
        {"destination kind unset", offsetof(spec_t, dst_kind), 0},
        {"destination kind 4", offsetof(spec_t, dst_kind), 4},
        {"lifetime 0", offsetof(spec_t, lifetime), 0},
        {"lifetime over 30 days", offsetof(spec_t, lifetime), GM_BUNDLE_LIFETIME_MAX + 1},
        {"hop limit 0", offsetof(spec_t, hop_limit), 0},
        {"hop limit 256", offsetof(spec_t, hop_limit), 256},
        {"hops over the limit", offsetof(spec_t, hops), 9},
        {"hops 258 (2 in a byte)", offsetof(spec_t, hops), 258},
        {"priority unset", offsetof(spec_t, priority), 0},
        {"priority 5", offsetof(spec_t, priority), 5},
        {"body before the header", offsetof(spec_t, body_first), 1},
        {"body twice", offsetof(spec_t, body_twice), 1},
        {"body as a varint", offsetof(spec_t, body_as_varint), 1},
        {"unknown field", offsetof(spec_t, unknown_field), 1},
        {"header over 128 bytes", offsetof(spec_t, long_unknown), 1},
    };
    uint8_t buf[512];
    gm_bundle_t d;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        spec_t sp = valid_spec();
        size_t len;

        memcpy((uint8_t *)&sp + cases[i].offset, &cases[i].value, sizeof(uint64_t));
        len = build(&sp, buf);
        memset(&d, 0xa5, sizeof d);
        cr_assert_eq(gm_wire_bundle_decode(buf, len, sizeof buf, &d), GM_EPROTO, "%s",
                     cases[i].what);
        cr_assert_eq(d.hops, 0xa5, "%s: output written on failure", cases[i].what);
    }
}

Test(bundle, destination_everyone_must_not_carry_an_id)
{
    spec_t sp = valid_spec();
    uint8_t buf[256];
    gm_bundle_t d;
    size_t len;

    sp.dst_kind = 3;
    len = build(&sp, buf);
    cr_assert_eq(gm_wire_bundle_decode(buf, len, len, &d), GM_EPROTO);
    sp.dst_len = 0;
    len = build(&sp, buf);
    cr_assert_eq(gm_wire_bundle_decode(buf, len, len, &d), 0);
    cr_assert_eq(d.dst.kind, GM_DST_ALL);
}

Test(bundle, decoder_refuses_truncation_and_oversize)
{
    gm_bundle_t b = sample(), d;
    uint8_t enc[256];
    size_t len;

    cr_assert_eq(gm_wire_bundle_encode(&b, enc, sizeof enc, &len), 0);
    cr_assert_eq(gm_wire_bundle_decode(enc, len, len - 1, &d), GM_ELIMIT);
    cr_assert_eq(gm_wire_bundle_decode(enc, len, len, &d), 0);
    for (size_t cut = 1; cut < len; cut++) {
        int err = gm_wire_bundle_decode(enc, len - cut, len, &d);
        /* Cutting exactly the body off leaves a valid empty-body bundle: not this one. */
        cr_assert(err == GM_EPROTO || (err == 0 && d.body_len == 0 && cut == 2 + sizeof body40),
                  "cut %zu: %d", cut, err);
    }
    cr_assert_eq(gm_wire_bundle_decode(enc, 0, len, &d), GM_EPROTO);
}

/* The seeds named valid_* decode and re-encode to the same bytes; the others are refused. */
Test(bundle, fuzz_seed_corpus_is_what_its_names_say)
{
    struct dirent *e;
    DIR *dir = opendir(CORPUS_DIR);
    int valid = 0, invalid = 0;

    cr_assert_not_null(dir, "%s", CORPUS_DIR);
    while ((e = readdir(dir)) != NULL) {
        char path[GM_PATH_MAX];
        uint8_t *buf, enc[GM_BUNDLE_MAX_LEN_DEFAULT];
        size_t len, enc_len;
        gm_bundle_t d;
        int err;

        if (e->d_name[0] == '.') {
            continue;
        }
        cr_assert_eq(gm_path_join(path, sizeof path, CORPUS_DIR, e->d_name), 0);
        cr_assert_eq(gm_file_read(path, GM_BUNDLE_MAX_LEN_DEFAULT, &buf, &len), 0, "%s", path);
        err = gm_wire_bundle_decode(buf, len, GM_BUNDLE_MAX_LEN_DEFAULT, &d);
        if (strncmp(e->d_name, "valid_", 6) == 0) {
            cr_assert_eq(err, 0, "%s", e->d_name);
            cr_assert_eq(gm_wire_bundle_encode(&d, enc, sizeof enc, &enc_len), 0);
            cr_assert_eq(enc_len, len, "%s", e->d_name);
            cr_assert_arr_eq(enc, buf, len, "%s", e->d_name);
            valid++;
        } else {
            cr_assert_neq(err, 0, "%s", e->d_name);
            invalid++;
        }
        free(buf);
    }
    closedir(dir);
    cr_assert_geq(valid, 3);
    cr_assert_geq(invalid, 2);
}

/*
 * proto/wire_e2e: every refusal of the decoders, on messages built by hand
 * (tests/support/pb.h). Each builder makes a valid message, or the same
 * message with exactly one thing wrong, named by a string: each case fails
 * if the check it names is taken out.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "proto/wire_e2e.h"
#include "tests/support/pb.h"

#define NOW 1767225600u /* 2026-01-01T00:00:00Z */
#define FILLER_FIELD 99 /* unknown to every message: ignored, but it counts in the length */

TestSuite(wire_e2e_refusal);

static bool is(const char *bad, const char *what)
{
    return bad != NULL && strcmp(bad, what) == 0;
}

static size_t varint_len(size_t v)
{
    size_t n = 1;

    while (v > 0x7f) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Appends an unknown field (2-byte key) so that pb is exactly total bytes long. */
static void pad_to(gm_pb_t *pb, size_t total)
{
    for (size_t prefix = 1; prefix <= 3; prefix++) {
        size_t fill = total - pb->len - 2 - prefix;

        if (varint_len(fill) == prefix) {
            gm_pb_fill(pb, FILLER_FIELD, 0xf1, fill);
            break;
        }
    }
    cr_assert_eq(pb->len, total, "pad_to: %zu != %zu", pb->len, total);
}

/* ---- Envelope ---- */

static void ratchet_pb(gm_pb_t *pb, const char *bad)
{
    if (!is(bad, "no header")) {
        gm_pb_fill(pb, 1, 0x11, is(bad, "header 39") ? 39 : is(bad, "header 41") ? 41 : 40);
    }
    gm_pb_fill(pb, 2, 0xc7, is(bad, "ciphertext 15") ? 15 : 64);
}

static void prekey_pb(gm_pb_t *pb, const char *bad)
{
    gm_pb_t msg = GM_PB_INIT;

    gm_pb_varint(pb, 1, is(bad, "version 0") ? 0 : is(bad, "version 2") ? 2 : 1);
    if (!is(bad, "no certificate")) {
        gm_pb_fill(pb, 2, 0xce, is(bad, "certificate 1025") ? 1025 : GM_CERT_MAX_LEN);
    }
    gm_pb_fill(pb, 3, 0xe0, is(bad, "ephemeral 31") ? 31 : is(bad, "ephemeral 33") ? 33 : 32);
    gm_pb_varint(pb, 4, 7);
    if (!is(bad, "no ratchet message")) {
        ratchet_pb(&msg, bad);
        gm_pb_msg(pb, 5, &msg);
    }
}

static void group_msg_pb(gm_pb_t *pb, const char *bad)
{
    gm_pb_fill(pb, 1, 0x6a, is(bad, "group id 15") ? 15 : is(bad, "group id 17") ? 17 : 16);
    gm_pb_varint(pb, 2, 3);
    gm_pb_varint(pb, 3, UINT32_MAX);
    gm_pb_fill(pb, 4, 0xc7, is(bad, "ciphertext 15") ? 15 : 16);
    if (!is(bad, "no signature")) {
        gm_pb_fill(pb, 5, 0x5e, is(bad, "signature 63") ? 63 : is(bad, "signature 65") ? 65 : 64);
    }
}

static void broadcast_pb(gm_pb_t *pb, const char *bad)
{
    if (!is(bad, "no certificate")) {
        gm_pb_fill(pb, 1, 0xce, is(bad, "certificate 1025") ? 1025 : 1);
    }
    if (!is(bad, "no content")) {
        gm_pb_fill(pb, 2, 0xbc, 1);
    }
    gm_pb_fill(pb, 3, 0xb5, is(bad, "signature 63") ? 63 : is(bad, "signature 65") ? 65 : 64);
}

/* An Envelope of kind 1 .. 4 (its oneof field number). */
static void envelope_pb(gm_pb_t *pb, int kind, const char *bad)
{
    gm_pb_t sub = GM_PB_INIT;

    if (kind == GM_ENVELOPE_RATCHET) {
        ratchet_pb(&sub, bad);
    } else if (kind == GM_ENVELOPE_PREKEY) {
        prekey_pb(&sub, bad);
    } else if (kind == GM_ENVELOPE_GROUP) {
        group_msg_pb(&sub, bad);
    } else {
        broadcast_pb(&sub, bad);
    }
    gm_pb_msg(pb, (uint32_t)kind, &sub);
}

static int envelope_decode(const gm_pb_t *pb)
{
    gm_envelope_t d;
    int err;

    memset(&d, 0xa5, sizeof d);
    err = gm_wire_envelope_decode(pb->buf, pb->len, &d);
    if (err == 0) {
        gm_envelope_free(&d);
    } else {
        cr_assert_eq(*(uint8_t *)&d.kind, 0xa5, "output written on failure");
    }
    return err;
}

Test(wire_e2e_refusal, envelope_decoder_refuses_each_malformed_field)
{
    static const struct {
        int kind;
        const char *bad;
    } cases[] = {
        {GM_ENVELOPE_RATCHET, "no header"},         {GM_ENVELOPE_RATCHET, "header 39"},
        {GM_ENVELOPE_RATCHET, "header 41"},         {GM_ENVELOPE_RATCHET, "ciphertext 15"},
        {GM_ENVELOPE_PREKEY, "version 0"},          {GM_ENVELOPE_PREKEY, "version 2"},
        {GM_ENVELOPE_PREKEY, "no certificate"},     {GM_ENVELOPE_PREKEY, "certificate 1025"},
        {GM_ENVELOPE_PREKEY, "ephemeral 31"},       {GM_ENVELOPE_PREKEY, "ephemeral 33"},
        {GM_ENVELOPE_PREKEY, "no ratchet message"}, {GM_ENVELOPE_PREKEY, "header 39"},
        {GM_ENVELOPE_PREKEY, "ciphertext 15"},      {GM_ENVELOPE_GROUP, "group id 15"},
        {GM_ENVELOPE_GROUP, "group id 17"},         {GM_ENVELOPE_GROUP, "ciphertext 15"},
        {GM_ENVELOPE_GROUP, "signature 63"},        {GM_ENVELOPE_GROUP, "no signature"},
        {GM_ENVELOPE_BROADCAST, "no certificate"},  {GM_ENVELOPE_BROADCAST, "certificate 1025"},
        {GM_ENVELOPE_BROADCAST, "no content"},      {GM_ENVELOPE_BROADCAST, "signature 65"},
        {GM_ENVELOPE_GROUP, "signature 65"},        {GM_ENVELOPE_BROADCAST, "signature 63"},
    };

    for (int k = GM_ENVELOPE_RATCHET; k <= GM_ENVELOPE_BROADCAST; k++) {
        gm_pb_t pb = GM_PB_INIT;

        envelope_pb(&pb, k, NULL);
        cr_assert_eq(envelope_decode(&pb), 0, "the valid kind %d", k);
        gm_pb_free(&pb);
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gm_pb_t pb = GM_PB_INIT;

        envelope_pb(&pb, cases[i].kind, cases[i].bad);
        cr_assert_eq(envelope_decode(&pb), GM_EPROTO, "kind %d: %s", cases[i].kind, cases[i].bad);
        gm_pb_free(&pb);
    }
}

Test(wire_e2e_refusal, envelope_without_a_known_kind_is_refused)
{
    gm_pb_t pb = GM_PB_INIT, sub = GM_PB_INIT;

    cr_assert_eq(envelope_decode(&pb), GM_EPROTO, "empty");
    gm_pb_varint(&sub, 1, 1);
    gm_pb_msg(&pb, 5, &sub); /* a kind from the future */
    cr_assert_eq(envelope_decode(&pb), GM_EPROTO, "unknown kind only");
    envelope_pb(&pb, GM_ENVELOPE_RATCHET, NULL);
    cr_assert_eq(envelope_decode(&pb), 0, "unknown fields beside a known kind are ignored");
    gm_pb_free(&pb);
    gm_pb_raw(&pb, "\x0b\x0c", 2); /* a group (wire type 3): protobuf-c refuses it */
    cr_assert_eq(envelope_decode(&pb), GM_EPROTO);
    gm_pb_free(&pb);
}

Test(wire_e2e_refusal, envelope_over_64_kib_or_truncated_is_refused)
{
    gm_pb_t pb = GM_PB_INIT;
    size_t full;

    envelope_pb(&pb, GM_ENVELOPE_PREKEY, NULL);
    full = pb.len;
    for (size_t cut = 1; cut <= full; cut++) {
        gm_pb_t part = GM_PB_INIT;

        gm_pb_raw(&part, pb.buf, full - cut);
        cr_assert_eq(envelope_decode(&part), GM_EPROTO, "cut %zu", cut);
        gm_pb_free(&part);
    }
    pad_to(&pb, GM_E2E_ENVELOPE_MAX);
    cr_assert_eq(envelope_decode(&pb), 0);
    gm_pb_free(&pb);
    envelope_pb(&pb, GM_ENVELOPE_PREKEY, NULL);
    pad_to(&pb, GM_E2E_ENVELOPE_MAX + 1);
    cr_assert_eq(envelope_decode(&pb), GM_EPROTO);
    gm_pb_free(&pb);
}

/* ---- Content ---- */

#define BODY_NONE 0
#define BODY_TEXT 3
#define BODY_POSITION 4
#define BODY_ALERT 5
#define BODY_RECEIPT 6
#define BODY_SENDER_KEY 7
#define BODY_GROUP 8
#define BODY_UNKNOWN 9

static double pick_d(const char *bad, const char *a, double va, const char *b, double vb, double v)
{
    return is(bad, a) ? va : is(bad, b) ? vb : v;
}

static void position_pb(gm_pb_t *pb, const char *bad)
{
    gm_pb_double(pb, 1, pick_d(bad, "lat 90.001", 90.001, "lat NaN", NAN, -33.5));
    gm_pb_double(pb, 2, pick_d(bad, "lon -180.001", -180.001, "lon inf", INFINITY, 151.25));
    gm_pb_float(pb, 3,
                (float)pick_d(bad, "accuracy -1", -1, "accuracy inf", INFINITY,
                              is(bad, "accuracy NaN") ? NAN : 5));
    gm_pb_float(pb, 4, (float)pick_d(bad, "heading 360.5", 360.5, "heading -0.5", -0.5, 90));
    gm_pb_float(pb, 5, (float)pick_d(bad, "speed -1", -1, "speed inf", INFINITY, 2));
    gm_pb_varint(pb, 6, NOW);
}

static void text_pb(gm_pb_t *pb, uint32_t field, size_t max, const char *bad)
{
    if (is(bad, "text too long")) {
        gm_pb_fill(pb, field, 'x', max + 1);
    } else if (is(bad, "text not UTF-8")) {
        gm_pb_string(pb, field, "caf\xc3");
    } else {
        gm_pb_fill(pb, field, 'x', max); /* the longest */
    }
}

static void alert_pb(gm_pb_t *pb, const char *bad)
{
    gm_pb_t pos = GM_PB_INIT;

    gm_pb_varint(pb, 1,
                 is(bad, "kind 0")    ? 0
                 : is(bad, "kind 4")  ? 4
                 : is(bad, "kind -1") ? UINT64_MAX
                                      : 3);
    text_pb(pb, 2, GM_E2E_ALERT_TEXT_MAX, bad);
    position_pb(&pos, bad);
    gm_pb_msg(pb, 3, &pos);
}

static void receipt_pb(gm_pb_t *pb, const char *bad)
{
    size_t n = is(bad, "no ids") ? 0 : is(bad, "257 ids") ? 257 : GM_E2E_RECEIPT_MAX;

    gm_pb_varint(pb, 1, is(bad, "kind 0") ? 0 : is(bad, "kind 3") ? 3 : 2);
    for (size_t i = 0; i < n; i++) {
        gm_pb_fill(pb, 2, (uint8_t)i,
                   i == 1 && is(bad, "id 15")   ? 15
                   : i == 1 && is(bad, "id 17") ? 17
                                                : 16);
    }
}

static void sender_key_pb(gm_pb_t *pb, const char *bad)
{
    gm_pb_fill(pb, 1, 0x6a, is(bad, "group id 15") ? 15 : is(bad, "group id 17") ? 17 : 16);
    gm_pb_varint(pb, 2, 9);
    gm_pb_varint(pb, 3, 1000);
    if (!is(bad, "no chain key")) {
        gm_pb_fill(pb, 4, 0xc4, is(bad, "chain key 31") ? 31 : is(bad, "chain key 33") ? 33 : 32);
    }
    gm_pb_fill(pb, 5, 0x5b, is(bad, "sign pk 31") ? 31 : is(bad, "sign pk 33") ? 33 : 32);
}

static void signed_state_pb(gm_pb_t *pb, const char *bad)
{
    if (!is(bad, "no state")) {
        gm_pb_fill(pb, 1, 0x57, is(bad, "state 16385") ? 16385 : GM_E2E_GROUP_STATE_MAX);
    }
    gm_pb_fill(pb, 2, 0x95, is(bad, "signature 63") ? 63 : is(bad, "signature 65") ? 65 : 64);
}

/* A Content whose body is the given oneof field (BODY_NONE: none). */
static void content_pb(gm_pb_t *pb, int body, const char *bad)
{
    gm_pb_t sub = GM_PB_INIT;

    if (!is(bad, "no msg id")) {
        gm_pb_fill(pb, 1, 0x1d, is(bad, "msg id 15") ? 15 : is(bad, "msg id 17") ? 17 : 16);
    }
    gm_pb_varint(pb, 2, NOW);
    if (body == BODY_TEXT) {
        text_pb(pb, BODY_TEXT, GM_E2E_TEXT_MAX, bad);
        return;
    }
    if (body == BODY_POSITION) {
        position_pb(&sub, bad);
    } else if (body == BODY_ALERT) {
        alert_pb(&sub, bad);
    } else if (body == BODY_RECEIPT) {
        receipt_pb(&sub, bad);
    } else if (body == BODY_SENDER_KEY) {
        sender_key_pb(&sub, bad);
    } else if (body == BODY_GROUP) {
        signed_state_pb(&sub, bad);
    } else if (body == BODY_UNKNOWN) {
        gm_pb_string(&sub, 1, "from a later version");
    } else {
        return;
    }
    gm_pb_msg(pb, (uint32_t)body, &sub);
}

static int content_decode(const gm_pb_t *pb)
{
    gm_content_t d;
    int err;

    memset(&d, 0xa5, sizeof d);
    err = gm_wire_content_decode(pb->buf, pb->len, &d);
    if (err == 0) {
        gm_content_free(&d);
    } else {
        cr_assert_eq(d.msg_id[0], 0xa5, "output written on failure");
    }
    return err;
}

Test(wire_e2e_refusal, content_decoder_refuses_each_malformed_field)
{
    static const struct {
        int body;
        const char *bad;
    } cases[] = {
        {BODY_TEXT, "no msg id"},
        {BODY_TEXT, "msg id 15"},
        {BODY_TEXT, "msg id 17"},
        {BODY_TEXT, "text too long"},
        {BODY_TEXT, "text not UTF-8"},
        {BODY_POSITION, "lat 90.001"},
        {BODY_POSITION, "lat NaN"},
        {BODY_POSITION, "lon -180.001"},
        {BODY_POSITION, "lon inf"},
        {BODY_POSITION, "accuracy -1"},
        {BODY_POSITION, "accuracy inf"},
        {BODY_POSITION, "accuracy NaN"},
        {BODY_POSITION, "heading 360.5"},
        {BODY_POSITION, "heading -0.5"},
        {BODY_POSITION, "speed -1"},
        {BODY_POSITION, "speed inf"},
        {BODY_ALERT, "kind 0"},
        {BODY_ALERT, "kind 4"},
        {BODY_ALERT, "kind -1"},
        {BODY_ALERT, "text too long"},
        {BODY_ALERT, "text not UTF-8"},
        {BODY_ALERT, "lat NaN"},
        {BODY_ALERT, "heading 360.5"},
        {BODY_RECEIPT, "kind 0"},
        {BODY_RECEIPT, "kind 3"},
        {BODY_RECEIPT, "no ids"},
        {BODY_RECEIPT, "257 ids"},
        {BODY_RECEIPT, "id 15"},
        {BODY_RECEIPT, "id 17"},
        {BODY_SENDER_KEY, "group id 15"},
        {BODY_SENDER_KEY, "chain key 33"},
        {BODY_SENDER_KEY, "sign pk 31"},
        {BODY_GROUP, "signature 65"},
        {BODY_SENDER_KEY, "group id 17"},
        {BODY_SENDER_KEY, "no chain key"},
        {BODY_SENDER_KEY, "chain key 31"},
        {BODY_SENDER_KEY, "sign pk 33"},
        {BODY_GROUP, "no state"},
        {BODY_GROUP, "state 16385"},
        {BODY_GROUP, "signature 63"},
        {BODY_NONE, NULL},
        {BODY_UNKNOWN, NULL},
    };

    for (int b = BODY_TEXT; b <= BODY_GROUP; b++) {
        gm_pb_t pb = GM_PB_INIT;

        content_pb(&pb, b, NULL);
        cr_assert_eq(content_decode(&pb), 0, "the valid body %d", b);
        gm_pb_free(&pb);
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gm_pb_t pb = GM_PB_INIT;

        content_pb(&pb, cases[i].body, cases[i].bad);
        cr_assert_eq(content_decode(&pb), GM_EPROTO, "body %d: %s", cases[i].body,
                     cases[i].bad != NULL ? cases[i].bad : "(as is)");
        gm_pb_free(&pb);
    }
}

Test(wire_e2e_refusal, content_over_64_kib_or_truncated_is_refused)
{
    gm_pb_t pb = GM_PB_INIT;
    size_t full;

    content_pb(&pb, BODY_ALERT, NULL);
    full = pb.len;
    for (size_t cut = 1; cut <= full; cut++) {
        gm_pb_t part = GM_PB_INIT;

        gm_pb_raw(&part, pb.buf, full - cut);
        cr_assert_eq(content_decode(&part), GM_EPROTO, "cut %zu", cut);
        gm_pb_free(&part);
    }
    pad_to(&pb, GM_E2E_CONTENT_MAX);
    cr_assert_eq(content_decode(&pb), 0);
    gm_pb_free(&pb);
    content_pb(&pb, BODY_ALERT, NULL);
    pad_to(&pb, GM_E2E_CONTENT_MAX + 1);
    cr_assert_eq(content_decode(&pb), GM_EPROTO);
    gm_pb_free(&pb);
}

Test(wire_e2e_refusal, sender_key_decodes_into_the_struct_only)
{
    gm_pb_t pb = GM_PB_INIT;
    gm_content_t d;
    uint8_t want[GM_KEY_LEN];

    content_pb(&pb, BODY_SENDER_KEY, NULL);
    cr_assert_eq(gm_wire_content_decode(pb.buf, pb.len, &d), 0);
    memset(want, 0xc4, sizeof want);
    cr_assert_arr_eq(d.sender_key.chain_key, want, GM_KEY_LEN);
    gm_content_free(&d);
    memset(want, 0, sizeof want);
    cr_assert_arr_eq(d.sender_key.chain_key, want, GM_KEY_LEN, "wiped by gm_content_free");
    gm_pb_free(&pb);
}

/* ---- GroupState ---- */

static void member_id(uint8_t id[GM_ID_LEN + 1], size_t i)
{
    memset(id, 0, GM_ID_LEN + 1);
    id[14] = (uint8_t)(i >> 8);
    id[15] = (uint8_t)i;
}

static void member_pb(gm_pb_t *pb, size_t i, const char *bad)
{
    gm_pb_t sub = GM_PB_INIT;
    uint8_t id[GM_ID_LEN + 1]; /* one more for "member id 17" */
    char callsign[64];

    member_id(id, i == 2 && is(bad, "duplicate member") ? 1 : i);
    gm_pb_bytes(&sub, 1, id,
                i == 1 && is(bad, "member id 15")   ? 15
                : i == 1 && is(bad, "member id 17") ? 17
                                                    : GM_ID_LEN);
    snprintf(callsign, sizeof callsign, "U%zu", i);
    if (i == 1 && is(bad, "callsign 33")) {
        snprintf(callsign, sizeof callsign, "%033d", 1);
    } else if (i == 1 && is(bad, "callsign with a space")) {
        snprintf(callsign, sizeof callsign, "U 1");
    }
    if (!(i == 1 && is(bad, "no callsign"))) {
        gm_pb_string(&sub, 2, callsign);
    }
    gm_pb_string(&sub, 3,
                 i == 1 && is(bad, "org 33")          ? "abcdefghijklmnopqrstuvwxyz0123456"
                 : i == 1 && is(bad, "org with an @") ? "pd@north"
                 : i == 1 && is(bad, "no org")        ? ""
                                                      : "pd.north");
    gm_pb_msg(pb, 5, &sub);
}

static void group_state_pb(gm_pb_t *pb, const char *bad)
{
    size_t n = is(bad, "no members") ? 0 : is(bad, "257 members") ? 257 : 3;
    uint8_t owner[GM_ID_LEN + 1] = {0}; /* one more for "owner 17" */

    gm_pb_fill(pb, 1, 0x6a, is(bad, "group id 15") ? 15 : is(bad, "group id 17") ? 17 : 16);
    if (is(bad, "name 65")) {
        gm_pb_fill(pb, 2, 'n', 65);
    } else if (!is(bad, "no name")) {
        gm_pb_string(pb, 2,
                     is(bad, "name with a control byte") ? "north\x01"
                     : is(bad, "name with DEL")          ? "north\x7f"
                     : is(bad, "name not ASCII")         ? "caf\xc3\xa9"
                                                         : "Dispatch ~ North (night)");
    }
    member_id(owner, is(bad, "owner not a member") ? 99 : 1);
    gm_pb_bytes(pb, 3, owner, is(bad, "owner 15") ? 15 : is(bad, "owner 17") ? 17 : GM_ID_LEN);
    gm_pb_varint(pb, 4, is(bad, "version 0") ? 0 : 3);
    for (size_t i = 0; i < n; i++) {
        member_pb(pb, i + 1, bad);
    }
}

static int group_state_decode(const gm_pb_t *pb)
{
    gm_group_state_t d;
    int err;

    memset(&d, 0xa5, sizeof d);
    err = gm_wire_group_state_decode(pb->buf, pb->len, &d);
    if (err == 0) {
        gm_group_state_free(&d);
    } else {
        cr_assert_eq(d.version, 0xa5a5a5a5a5a5a5a5u, "output written on failure");
    }
    return err;
}

Test(wire_e2e_refusal, group_state_decoder_refuses_each_malformed_field)
{
    static const char *const cases[] = {
        "group id 15",
        "no name",
        "name 65",
        "name with a control byte",
        "name with DEL",
        "name not ASCII",
        "owner 15",
        "owner 17",
        "group id 17",
        "member id 17",
        "owner not a member",
        "version 0",
        "no members",
        "257 members",
        "member id 15",
        "duplicate member",
        "callsign 33",
        "callsign with a space",
        "no callsign",
        "org 33",
        "org with an @",
        "no org",
    };
    gm_pb_t pb = GM_PB_INIT;

    group_state_pb(&pb, NULL);
    cr_assert_eq(group_state_decode(&pb), 0);
    gm_pb_free(&pb);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        group_state_pb(&pb, cases[i]);
        cr_assert_eq(group_state_decode(&pb), GM_EPROTO, "%s", cases[i]);
        gm_pb_free(&pb);
    }
}

Test(wire_e2e_refusal, group_state_over_16_kib_or_truncated_is_refused)
{
    gm_pb_t pb = GM_PB_INIT;
    size_t full;

    group_state_pb(&pb, NULL);
    full = pb.len;
    for (size_t cut = 1; cut <= full; cut++) {
        gm_group_state_t d;
        int err = gm_wire_group_state_decode(pb.buf, full - cut, &d);

        /* Cut after a member, it is a smaller group: never the same one. */
        cr_assert(err == GM_EPROTO || (err == 0 && d.n_members < 3), "cut %zu: %d", cut, err);
        if (err == 0) {
            gm_group_state_free(&d);
        }
    }
    pad_to(&pb, GM_E2E_GROUP_STATE_MAX);
    cr_assert_eq(group_state_decode(&pb), 0);
    gm_pb_free(&pb);
    group_state_pb(&pb, NULL);
    pad_to(&pb, GM_E2E_GROUP_STATE_MAX + 1);
    cr_assert_eq(group_state_decode(&pb), GM_EPROTO);
    gm_pb_free(&pb);
}

/* ---- SignedPrekey and PrekeyAnnouncement ---- */

static void spk_pb(gm_pb_t *pb, const char *bad)
{
    gm_pb_varint(pb, 1, 42);
    if (!is(bad, "no pk")) {
        gm_pb_fill(pb, 2, 0x9b, is(bad, "pk 31") ? 31 : is(bad, "pk 33") ? 33 : 32);
    }
    gm_pb_varint(pb, 3, NOW);
    gm_pb_varint(pb, 4, is(bad, "expires at creation") ? NOW : NOW + 86400);
}

static void prekey_ann_pb(gm_pb_t *pb, const char *bad)
{
    if (!is(bad, "no prekey")) {
        gm_pb_fill(pb, 1, 0x70, is(bad, "prekey 129") ? 129 : GM_E2E_PREKEY_MAX);
    }
    if (!is(bad, "no signature")) {
        gm_pb_fill(pb, 2, 0x51, is(bad, "signature 63") ? 63 : is(bad, "signature 65") ? 65 : 64);
    }
}

Test(wire_e2e_refusal, prekey_decoders_refuse_each_malformed_field)
{
    static const char *const spk_cases[] = {"no pk", "pk 31", "pk 33", "expires at creation"};
    static const char *const ann_cases[] = {"no prekey", "prekey 129", "no signature",
                                            "signature 63", "signature 65"};
    gm_prekey_announcement_t a;
    gm_pb_t pb = GM_PB_INIT;
    gm_spk_t s;

    spk_pb(&pb, NULL);
    cr_assert_eq(gm_wire_spk_decode(pb.buf, pb.len, &s), 0);
    pad_to(&pb, GM_E2E_PREKEY_MAX);
    cr_assert_eq(gm_wire_spk_decode(pb.buf, pb.len, &s), 0);
    gm_pb_free(&pb);
    spk_pb(&pb, NULL);
    pad_to(&pb, GM_E2E_PREKEY_MAX + 1);
    cr_assert_eq(gm_wire_spk_decode(pb.buf, pb.len, &s), GM_EPROTO);
    gm_pb_free(&pb);
    for (size_t i = 0; i < sizeof spk_cases / sizeof spk_cases[0]; i++) {
        spk_pb(&pb, spk_cases[i]);
        cr_assert_eq(gm_wire_spk_decode(pb.buf, pb.len, &s), GM_EPROTO, "%s", spk_cases[i]);
        gm_pb_free(&pb);
    }

    prekey_ann_pb(&pb, NULL);
    cr_assert_eq(gm_wire_prekey_announcement_decode(pb.buf, pb.len, &a), 0);
    pad_to(&pb, GM_E2E_PREKEY_ANN_MAX);
    cr_assert_eq(gm_wire_prekey_announcement_decode(pb.buf, pb.len, &a), 0);
    gm_pb_free(&pb);
    prekey_ann_pb(&pb, NULL);
    pad_to(&pb, GM_E2E_PREKEY_ANN_MAX + 1);
    cr_assert_eq(gm_wire_prekey_announcement_decode(pb.buf, pb.len, &a), GM_EPROTO);
    gm_pb_free(&pb);
    for (size_t i = 0; i < sizeof ann_cases / sizeof ann_cases[0]; i++) {
        prekey_ann_pb(&pb, ann_cases[i]);
        cr_assert_eq(gm_wire_prekey_announcement_decode(pb.buf, pb.len, &a), GM_EPROTO, "%s",
                     ann_cases[i]);
        gm_pb_free(&pb);
    }
    gm_pb_raw(&pb, "\xff", 1); /* a cut-short key: protobuf-c gives NULL */
    cr_assert_eq(gm_wire_spk_decode(pb.buf, pb.len, &s), GM_EPROTO);
    cr_assert_eq(gm_wire_prekey_announcement_decode(pb.buf, pb.len, &a), GM_EPROTO);
    gm_pb_free(&pb);
}

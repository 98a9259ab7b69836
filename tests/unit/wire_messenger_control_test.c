/*
 * proto/wire_messenger_control: the limits of requests and responses, each
 * refusal of the decoders on hand-built messages (tests/support/pb.h: one
 * thing wrong per case, named by a string) and what only the encoders can
 * be given. The plain round trip is in wire_e2e_test.c.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire_messenger_control.h"
#include "tests/support/pb.h"

#define NOW 1767225600u

TestSuite(wire_messenger_control);

static bool is(const char *bad, const char *what)
{
    return bad != NULL && strcmp(bad, what) == 0;
}

/* A string field of n bytes (a valid CALLSIGN@ORG shape does not matter here). */
static void str_n(gm_pb_t *pb, uint32_t field, size_t n)
{
    gm_pb_fill(pb, field, 'a', n);
}

/* ---- requests ---- */

/* The largest valid request, or it with one thing wrong. */
static void request_pb(gm_pb_t *pb, const char *bad)
{
    size_t n = is(bad, "257 members") ? 257 : GM_MESSENGER_MEMBERS_MAX;

    gm_pb_varint(pb, 1, is(bad, "op 0") ? 0 : is(bad, "op 8") ? 8 : GM_MESSENGER_OP_GROUP_LIST);
    str_n(pb, 2, is(bad, "to 66") ? 66 : GM_MESSENGER_ADDR_MAX);
    str_n(pb, 3, is(bad, "group 65") ? 65 : GM_MESSENGER_GROUP_NAME_MAX);
    gm_pb_varint(pb, 4, is(bad, "kind 4") ? 4 : is(bad, "kind -1") ? UINT64_MAX : 3);
    if (is(bad, "text not UTF-8")) {
        gm_pb_string(pb, 5, "\xed\xa0\x80");
    } else {
        str_n(pb, 5, is(bad, "text 4097") ? 4097 : GM_MESSENGER_TEXT_MAX);
    }
    gm_pb_varint(pb, 6, is(bad, "priority 5") ? 5 : GM_MESSENGER_PRIORITY_MAX);
    gm_pb_varint(pb, 7, 1);
    gm_pb_double(pb, 8, is(bad, "lat 90.5") ? 90.5 : 90);
    gm_pb_double(pb, 9, is(bad, "lon NaN") ? NAN : -180);
    gm_pb_float(pb, 10, is(bad, "accuracy -1") ? -1.0f : is(bad, "accuracy inf") ? INFINITY : 25);
    gm_pb_varint(pb, 11, is(bad, "alert kind 4") ? 4 : 3);
    gm_pb_varint(pb, 12, 1);
    for (size_t i = 0; i < n; i++) {
        str_n(pb, 13, i == 7 && is(bad, "member 66") ? 66 : GM_MESSENGER_ADDR_MAX);
    }
    gm_pb_varint(pb, 14, is(bad, "limit 10001") ? 10001 : GM_MESSENGER_LIST_MAX);
}

static int request_decode(const gm_pb_t *pb)
{
    gm_messenger_request_t q;
    int err;

    memset(&q, 0xa5, sizeof q);
    err = gm_wire_messenger_request_decode(pb->buf, pb->len, &q);
    if (err == 0) {
        gm_messenger_request_free(&q);
    } else {
        cr_assert_eq(q.limit, 0xa5a5a5a5u, "output written on failure");
    }
    return err;
}

Test(wire_messenger_control, request_decoder_refuses_each_field_out_of_range)
{
    static const char *const cases[] = {
        "op 0",         "op 8",           "to 66",       "group 65",  "kind 4",      "kind -1",
        "text 4097",    "text not UTF-8", "priority 5",  "lat 90.5",  "lon NaN",     "accuracy -1",
        "accuracy inf", "alert kind 4",   "257 members", "member 66", "limit 10001",
    };
    gm_messenger_request_t q;
    gm_pb_t pb = GM_PB_INIT;
    uint8_t *enc;
    size_t len;

    request_pb(&pb, NULL);
    cr_assert_eq(gm_wire_messenger_request_decode(pb.buf, pb.len, &q), 0, "the largest request");
    enc = malloc(pb.len);
    cr_assert_not_null(enc);
    cr_assert_eq(gm_wire_messenger_request_encode(&q, enc, pb.len, &len), 0);
    cr_assert_eq(len, pb.len);
    cr_assert_arr_eq(enc, pb.buf, len, "re-encodes to the same bytes");
    cr_assert_lt(len, 24 * 1024, "as the header says");
    cr_assert_eq(gm_wire_messenger_request_encode(&q, enc, len - 1, &len), GM_ELIMIT);
    free(enc);
    gm_messenger_request_free(&q);
    gm_messenger_request_free(NULL);
    gm_pb_free(&pb);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        request_pb(&pb, cases[i]);
        cr_assert_eq(request_decode(&pb), GM_EPROTO, "%s", cases[i]);
        gm_pb_free(&pb);
    }
}

Test(wire_messenger_control, request_over_the_limit_or_malformed_is_refused)
{
    gm_pb_t pb = GM_PB_INIT;

    gm_pb_varint(&pb, 1, GM_MESSENGER_OP_INBOX);
    cr_assert_eq(request_decode(&pb), 0);
    gm_pb_fill(&pb, 99, 0, GM_MESSENGER_REQUEST_MAX - pb.len - 5); /* 2-byte key, 3-byte length */
    cr_assert_eq(pb.len, GM_MESSENGER_REQUEST_MAX);
    cr_assert_eq(request_decode(&pb), 0);
    gm_pb_raw(&pb, "\x08\x02", 2);
    cr_assert_eq(request_decode(&pb), GM_EPROTO);
    gm_pb_free(&pb);
    gm_pb_raw(&pb,
              "\x12\x05"
              "ab",
              4); /* a string cut short */
    cr_assert_eq(request_decode(&pb), GM_EPROTO);
    gm_pb_free(&pb);
}

Test(wire_messenger_control, request_encoder_refuses_what_the_decoder_would)
{
    static const char *names[] = {"U1@pd", ""};
    gm_messenger_request_t q = {
        .op = GM_MESSENGER_OP_GROUP_ADD, .group = "north", .members = names, .n_members = 2};
    uint8_t buf[256];
    size_t len;

    cr_assert_eq(gm_wire_messenger_request_encode(&q, buf, sizeof buf, &len), 0);
    names[1] = NULL;
    cr_assert_eq(gm_wire_messenger_request_encode(&q, buf, sizeof buf, &len), GM_EPROTO);
    names[1] = "";
    q.members = NULL;
    cr_assert_eq(gm_wire_messenger_request_encode(&q, buf, sizeof buf, &len), GM_EPROTO);
    cr_assert_eq(gm_wire_messenger_request_size(&q), 0);
    q.members = names;
    q.op = 0;
    cr_assert_eq(gm_wire_messenger_request_encode(&q, buf, sizeof buf, &len), GM_EPROTO);
}

/* ---- responses ---- */

static void inbox_pb(gm_pb_t *pb, const char *bad)
{
    gm_pb_t e = GM_PB_INIT;

    gm_pb_fill(&e, 1, 0x01, is(bad, "inbox msg id 15") ? 15 : is(bad, "inbox msg id 17") ? 17 : 16);
    str_n(&e, 2, is(bad, "inbox from 66") ? 66 : GM_MESSENGER_ADDR_MAX);
    str_n(&e, 3, is(bad, "inbox group 65") ? 65 : GM_MESSENGER_GROUP_NAME_MAX);
    gm_pb_varint(&e, 4, 1);
    gm_pb_varint(&e, 5, is(bad, "inbox kind 0") ? 0 : is(bad, "inbox kind 4") ? 4 : 2);
    if (is(bad, "inbox text not UTF-8")) {
        gm_pb_string(&e, 6, "\xc0\x80");
    } else {
        str_n(&e, 6, is(bad, "inbox text 4097") ? 4097 : GM_MESSENGER_TEXT_MAX);
    }
    gm_pb_varint(&e, 7, 1);
    gm_pb_double(&e, 8, is(bad, "inbox lat -91") ? -91 : -90);
    gm_pb_double(&e, 9, 180);
    gm_pb_float(&e, 10, 3.5f);
    gm_pb_varint(&e, 11, is(bad, "inbox alert kind 4") ? 4 : 3);
    gm_pb_varint(&e, 12, NOW);
    gm_pb_varint(&e, 13, NOW + 1);
    gm_pb_varint(&e, 14, 1);
    gm_pb_msg(pb, 4, &e);
}

static void outbox_pb(gm_pb_t *pb, const char *bad)
{
    gm_pb_t e = GM_PB_INIT;

    gm_pb_fill(&e, 1, 0x02,
               is(bad, "outbox msg id 15")   ? 15
               : is(bad, "outbox msg id 17") ? 17
                                             : 16);
    str_n(&e, 2, is(bad, "outbox to 66") ? 66 : GM_MESSENGER_ADDR_MAX);
    str_n(&e, 3, is(bad, "outbox group 65") ? 65 : GM_MESSENGER_GROUP_NAME_MAX);
    gm_pb_varint(&e, 4, is(bad, "outbox kind 0") ? 0 : 1);
    if (is(bad, "outbox text not UTF-8")) {
        gm_pb_string(&e, 5, "\xf4\x90\x80\x80");
    } else {
        str_n(&e, 5, is(bad, "outbox text 4097") ? 4097 : GM_MESSENGER_TEXT_MAX);
    }
    str_n(&e, 6, is(bad, "outbox state 17") ? 17 : GM_MESSENGER_STATE_MAX);
    for (uint32_t f = 7; f <= 14; f++) {
        gm_pb_varint(&e, f, NOW + f);
    }
    gm_pb_msg(pb, 5, &e);
}

static void group_info_pb(gm_pb_t *pb, const char *bad)
{
    size_t n = is(bad, "group 257 members") ? 257 : GM_MESSENGER_MEMBERS_MAX;
    gm_pb_t e = GM_PB_INIT;

    gm_pb_fill(&e, 1, 0x03, is(bad, "group id 15") ? 15 : is(bad, "group id 17") ? 17 : 16);
    str_n(&e, 2, is(bad, "group name 65") ? 65 : is(bad, "group name empty") ? 0 : 64);
    str_n(&e, 3, is(bad, "group owner 66") ? 66 : GM_MESSENGER_ADDR_MAX);
    gm_pb_varint(&e, 4, 7);
    for (size_t i = 0; i < n; i++) {
        str_n(&e, 5, i == 9 && is(bad, "group member 66") ? 66 : 1);
    }
    gm_pb_varint(&e, 6, 1);
    gm_pb_msg(pb, 6, &e);
}

/* A response with one entry of each list at its limits, or with one thing wrong. */
static void response_pb(gm_pb_t *pb, const char *bad)
{
    gm_pb_varint(pb, 1, (uint64_t)(int64_t)-1000); /* int32 -1000, sign-extended */
    str_n(pb, 2, is(bad, "message 1025") ? 1025 : GM_MESSENGER_MESSAGE_MAX);
    gm_pb_fill(pb, 3, 0x04, is(bad, "msg id 15") ? 15 : is(bad, "msg id 17") ? 17 : 16);
    inbox_pb(pb, bad);
    outbox_pb(pb, bad);
    group_info_pb(pb, bad);
    gm_pb_varint(pb, 7, 12);
}

static int response_decode(const gm_pb_t *pb)
{
    gm_messenger_response_t r;
    int err;

    memset(&r, 0xa5, sizeof r);
    err = gm_wire_messenger_response_decode(pb->buf, pb->len, &r);
    if (err == 0) {
        gm_messenger_response_free(&r);
    } else {
        cr_assert_eq(r.unread, 0xa5a5a5a5u, "output written on failure");
    }
    return err;
}

Test(wire_messenger_control, response_decoder_refuses_each_field_out_of_range)
{
    static const char *const cases[] = {
        "message 1025",          "msg id 15",       "inbox msg id 15",    "inbox msg id 17",
        "outbox msg id 15",      "group id 17",     "msg id 17",          "inbox from 66",
        "inbox group 65",        "inbox kind 0",    "inbox kind 4",       "inbox text 4097",
        "inbox text not UTF-8",  "inbox lat -91",   "inbox alert kind 4", "outbox msg id 17",
        "outbox to 66",          "outbox group 65", "outbox kind 0",      "outbox text 4097",
        "outbox text not UTF-8", "outbox state 17", "group id 15",        "group name 65",
        "group name empty",      "group owner 66",  "group 257 members",  "group member 66",
    };
    gm_messenger_response_t r;
    gm_pb_t pb = GM_PB_INIT;
    uint8_t *enc;
    size_t len;

    response_pb(&pb, NULL);
    cr_assert_eq(gm_wire_messenger_response_decode(pb.buf, pb.len, &r), 0);
    cr_assert_eq(r.error, -1000);
    cr_assert(r.has_msg_id && r.n_inbox == 1 && r.n_outbox == 1 && r.n_groups == 1);
    cr_assert_eq(r.groups[0].n_members, GM_MESSENGER_MEMBERS_MAX);
    cr_assert_eq(gm_wire_messenger_response_encode(&r, &enc, &len), 0);
    cr_assert_eq(len, pb.len);
    cr_assert_arr_eq(enc, pb.buf, len, "re-encodes to the same bytes");
    free(enc);
    gm_messenger_response_free(&r);
    gm_messenger_response_free(NULL);
    gm_pb_free(&pb);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        response_pb(&pb, cases[i]);
        cr_assert_eq(response_decode(&pb), GM_EPROTO, "%s", cases[i]);
        gm_pb_free(&pb);
    }
}

/* n of the smallest valid entries of list 4 (inbox), 5 (outbox) or 6 (groups). */
static void entries_pb(gm_pb_t *pb, uint32_t list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        gm_pb_t e = GM_PB_INIT;

        gm_pb_fill(&e, 1, (uint8_t)i, 16);
        if (list == 6) {
            gm_pb_string(&e, 2, "g");
        } else {
            gm_pb_varint(&e, list == 4 ? 5 : 4, GM_MESSAGE_TEXT);
        }
        gm_pb_msg(pb, list, &e);
    }
}

Test(wire_messenger_control, response_lists_over_10000_entries_are_refused)
{
    for (uint32_t list = 4; list <= 6; list++) {
        gm_pb_t pb = GM_PB_INIT;

        entries_pb(&pb, list, GM_MESSENGER_LIST_MAX);
        cr_assert_eq(response_decode(&pb), 0, "list %u", list);
        entries_pb(&pb, list, 1);
        cr_assert_eq(response_decode(&pb), GM_EPROTO, "list %u", list);
        gm_pb_free(&pb);
    }
}

static int response_err(const gm_messenger_response_t *r)
{
    uint8_t *out = NULL;
    size_t len;
    int err = gm_wire_messenger_response_encode(r, &out, &len);

    free(out);
    return err;
}

Test(wire_messenger_control, response_encoder_refuses_what_the_decoder_would)
{
    static char text[4001];
    gm_inbox_entry_t *in = calloc(GM_MESSENGER_LIST_MAX + 1, sizeof *in);
    gm_outbox_entry_t *outs = calloc(GM_MESSENGER_LIST_MAX + 1, sizeof *outs);
    gm_group_info_t *groups = calloc(GM_MESSENGER_LIST_MAX + 1, sizeof *groups);
    gm_outbox_entry_t ob = {.kind = GM_MESSAGE_TEXT};
    gm_group_info_t gi = {.name = "north"};
    gm_messenger_response_t r = {.message = NULL, .inbox = in, .n_inbox = 1};

    cr_assert(in != NULL && outs != NULL && groups != NULL);
    memset(text, 'x', sizeof text - 1);
    for (size_t i = 0; i <= GM_MESSENGER_LIST_MAX; i++) { /* every entry valid */
        in[i].kind = GM_MESSAGE_TEXT;
        in[i].text = i < 1100 ? text : "";
        outs[i].kind = GM_MESSAGE_TEXT;
        groups[i].name = "g";
    }
    cr_assert_eq(response_err(&r), 0);
    r.inbox = NULL;
    cr_assert_eq(response_err(&r), GM_EPROTO);
    r = (gm_messenger_response_t){.outbox = &ob, .n_outbox = 1};
    cr_assert_eq(response_err(&r), 0);
    r.outbox = NULL;
    cr_assert_eq(response_err(&r), GM_EPROTO);
    r = (gm_messenger_response_t){.groups = &gi, .n_groups = 1};
    cr_assert_eq(response_err(&r), 0);
    r.groups = NULL;
    cr_assert_eq(response_err(&r), GM_EPROTO);
    r.groups = &gi;
    gi.name = NULL;
    cr_assert_eq(response_err(&r), GM_EPROTO);
    r = (gm_messenger_response_t){.inbox = in, .n_inbox = GM_MESSENGER_LIST_MAX + 1};
    cr_assert_eq(response_err(&r), GM_EPROTO);
    r = (gm_messenger_response_t){.outbox = outs, .n_outbox = GM_MESSENGER_LIST_MAX + 1};
    cr_assert_eq(response_err(&r), GM_EPROTO);
    r = (gm_messenger_response_t){.groups = groups, .n_groups = GM_MESSENGER_LIST_MAX + 1};
    cr_assert_eq(response_err(&r), GM_EPROTO);
    /* 1100 texts of 4000 bytes: each entry valid, the whole over the control socket's limit */
    r = (gm_messenger_response_t){.inbox = in, .n_inbox = 1100};
    cr_assert_eq(response_err(&r), GM_ELIMIT);
    r.n_inbox = 1000;
    cr_assert_eq(response_err(&r), 0);
    free(in);
    free(outs);
    free(groups);
}

Test(wire_messenger_control, response_over_the_limit_or_malformed_is_refused)
{
    gm_pb_t pb = GM_PB_INIT;

    gm_pb_varint(&pb, 7, 1);
    gm_pb_fill(&pb, 99, 0, GM_MESSENGER_RESPONSE_MAX - pb.len - 6); /* 2-byte key, 4-byte len */
    cr_assert_eq(pb.len, GM_MESSENGER_RESPONSE_MAX);
    cr_assert_eq(response_decode(&pb), 0);
    gm_pb_raw(&pb, "\x38\x01", 2);
    cr_assert_eq(response_decode(&pb), GM_EPROTO);
    gm_pb_free(&pb);
    gm_pb_raw(&pb, "\x22\x02\x0a", 3); /* an inbox entry cut short */
    cr_assert_eq(response_decode(&pb), GM_EPROTO);
    gm_pb_free(&pb);
}

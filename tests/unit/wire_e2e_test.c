/*
 * proto/wire_e2e: round trips of every message kind, ownership of decoded
 * messages, what the encoders refuse, the UTF-8 check, and the fuzz seed
 * corpus. The decoders' refusals of hand-built input are in
 * wire_e2e_refusal_test.c.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/ratchet.h"
#include "node/fileio.h"
#include "node/identity.h"
#include "proto/wire_e2e.h"
#include "proto/wire_e2e_internal.h"
#include "proto/wire_messenger_control.h"

#define NOW 1767225600u /* 2026-01-01T00:00:00Z */
#define CORPUS_DIR GM_VECTORS_DIR "/../fuzz/corpus/e2e"

TestSuite(wire_e2e);

static uint8_t cert[GM_CERT_MAX_LEN], ct[100], bcontent[80], state[200];
static uint8_t enc[GM_E2E_ENVELOPE_MAX + 1024];

static void fill_buffers(void)
{
    memset(cert, 0xce, sizeof cert);
    for (size_t i = 0; i < sizeof ct; i++) {
        ct[i] = (uint8_t)(i * 7);
    }
    memset(bcontent, 0xbc, sizeof bcontent);
    memset(state, 0x57, sizeof state);
}

static gm_envelope_t sample_envelope(gm_envelope_kind_t kind)
{
    gm_envelope_t e;

    fill_buffers();
    memset(&e, 0, sizeof e);
    e.kind = kind;
    if (kind == GM_ENVELOPE_RATCHET) {
        memset(e.ratchet.header, 0x11, sizeof e.ratchet.header);
        e.ratchet.ciphertext = ct;
        e.ratchet.ciphertext_len = sizeof ct;
    } else if (kind == GM_ENVELOPE_PREKEY) {
        e.prekey.cert = cert;
        e.prekey.cert_len = 300;
        memset(e.prekey.ephemeral, 0xe0, sizeof e.prekey.ephemeral);
        e.prekey.prekey_id = 7;
        memset(e.prekey.message.header, 0x12, sizeof e.prekey.message.header);
        e.prekey.message.ciphertext = ct;
        e.prekey.message.ciphertext_len = GM_E2E_TAG_LEN; /* the shortest */
    } else if (kind == GM_ENVELOPE_GROUP) {
        memset(e.group.group_id, 0x6a, sizeof e.group.group_id);
        e.group.key_id = 3;
        e.group.iteration = UINT32_MAX;
        e.group.ciphertext = ct;
        e.group.ciphertext_len = sizeof ct;
        memset(e.group.signature, 0x5e, sizeof e.group.signature);
    } else {
        e.broadcast.cert = cert;
        e.broadcast.cert_len = GM_CERT_MAX_LEN; /* the longest */
        e.broadcast.content = bcontent;
        e.broadcast.content_len = 1;
        memset(e.broadcast.signature, 0xb5, sizeof e.broadcast.signature);
    }
    return e;
}

static void assert_bytes(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    cr_assert_eq(a_len, b_len);
    cr_assert_arr_eq(a, b, a_len);
}

static void assert_ratchet_eq(const gm_ratchet_msg_t *a, const gm_ratchet_msg_t *b)
{
    cr_assert_arr_eq(a->header, b->header, GM_E2E_HEADER_LEN);
    assert_bytes(a->ciphertext, a->ciphertext_len, b->ciphertext, b->ciphertext_len);
}

static void assert_envelope_eq(const gm_envelope_t *a, const gm_envelope_t *b)
{
    cr_assert_eq(a->kind, b->kind);
    if (a->kind == GM_ENVELOPE_RATCHET) {
        assert_ratchet_eq(&a->ratchet, &b->ratchet);
    } else if (a->kind == GM_ENVELOPE_PREKEY) {
        assert_bytes(a->prekey.cert, a->prekey.cert_len, b->prekey.cert, b->prekey.cert_len);
        cr_assert_arr_eq(a->prekey.ephemeral, b->prekey.ephemeral, GM_KEY_LEN);
        cr_assert_eq(a->prekey.prekey_id, b->prekey.prekey_id);
        assert_ratchet_eq(&a->prekey.message, &b->prekey.message);
    } else if (a->kind == GM_ENVELOPE_GROUP) {
        cr_assert_arr_eq(a->group.group_id, b->group.group_id, GM_ID_LEN);
        cr_assert_eq(a->group.key_id, b->group.key_id);
        cr_assert_eq(a->group.iteration, b->group.iteration);
        assert_bytes(a->group.ciphertext, a->group.ciphertext_len, b->group.ciphertext,
                     b->group.ciphertext_len);
        cr_assert_arr_eq(a->group.signature, b->group.signature, GM_SIG_LEN);
    } else {
        assert_bytes(a->broadcast.cert, a->broadcast.cert_len, b->broadcast.cert,
                     b->broadcast.cert_len);
        assert_bytes(a->broadcast.content, a->broadcast.content_len, b->broadcast.content,
                     b->broadcast.content_len);
        cr_assert_arr_eq(a->broadcast.signature, b->broadcast.signature, GM_SIG_LEN);
    }
}

/* ---- the signed prekey and its announcement ---- */

Test(wire_e2e, header_length_is_the_ratchets)
{
    cr_assert_eq(GM_E2E_HEADER_LEN, GM_DR_HEADER_LEN);
    cr_assert_eq(GM_E2E_TAG_LEN, GM_DR_TAG_LEN);
}

Test(wire_e2e, signed_prekey_inside_its_announcement_round_trips)
{
    gm_spk_t s = {.id = 42, .created = NOW, .expires = NOW + 1}, d;
    gm_prekey_announcement_t a, da;
    uint8_t buf[GM_E2E_PREKEY_ANN_MAX];
    size_t len;

    memset(s.pk, 0x9b, sizeof s.pk);
    cr_assert_eq(gm_wire_spk_encode(&s, a.prekey, sizeof a.prekey, &a.prekey_len), 0);
    memset(a.signature, 0x51, sizeof a.signature);
    cr_assert_eq(gm_wire_prekey_announcement_encode(&a, buf, sizeof buf, &len), 0);
    cr_assert_eq(gm_wire_prekey_announcement_decode(buf, len, &da), 0);
    assert_bytes(da.prekey, da.prekey_len, a.prekey, a.prekey_len);
    cr_assert_arr_eq(da.signature, a.signature, GM_SIG_LEN);
    cr_assert_eq(gm_wire_spk_decode(da.prekey, da.prekey_len, &d), 0);
    cr_assert_eq(d.id, s.id);
    cr_assert_arr_eq(d.pk, s.pk, GM_KEY_LEN);
    cr_assert_eq(d.created, s.created);
    cr_assert_eq(d.expires, s.expires);

    s.id = UINT32_MAX;
    s.created = UINT64_MAX - 1;
    s.expires = UINT64_MAX;
    cr_assert_eq(gm_wire_spk_encode(&s, buf, sizeof buf, &len), 0);
    cr_assert_leq(len, GM_E2E_PREKEY_MAX, "the largest prekey fits its field");
    cr_assert_eq(gm_wire_spk_decode(buf, len, &d), 0);
    cr_assert_eq(d.expires, UINT64_MAX);
}

Test(wire_e2e, prekey_encoders_refuse_what_the_decoders_would)
{
    gm_spk_t s = {.id = 1, .created = NOW, .expires = NOW};
    gm_prekey_announcement_t a;
    uint8_t buf[GM_E2E_PREKEY_ANN_MAX];
    size_t len = 0;

    memset(&a, 0, sizeof a);
    cr_assert_eq(gm_wire_spk_encode(&s, buf, sizeof buf, &len), GM_EPROTO, "expires == created");
    s.expires = NOW + 1;
    cr_assert_eq(gm_wire_spk_encode(&s, buf, 10, &len), GM_ELIMIT);
    cr_assert_eq(len, 0);
    cr_assert_eq(gm_wire_prekey_announcement_encode(&a, buf, sizeof buf, &len), GM_EPROTO);
    a.prekey_len = GM_E2E_PREKEY_MAX + 1;
    cr_assert_eq(gm_wire_prekey_announcement_encode(&a, buf, sizeof buf, &len), GM_EPROTO);
    a.prekey_len = GM_E2E_PREKEY_MAX;
    cr_assert_eq(gm_wire_prekey_announcement_encode(&a, buf, sizeof buf, &len), 0);
    cr_assert_leq(len, GM_E2E_PREKEY_ANN_MAX);
    cr_assert_eq(gm_wire_prekey_announcement_encode(&a, buf, len - 1, &len), GM_ELIMIT);
}

/* ---- envelopes ---- */

Test(wire_e2e, every_envelope_kind_round_trips_and_owns_its_bytes)
{
    for (int k = GM_ENVELOPE_RATCHET; k <= GM_ENVELOPE_BROADCAST; k++) {
        gm_envelope_t e = sample_envelope((gm_envelope_kind_t)k), d;
        uint8_t *copy;
        size_t len;

        cr_assert_eq(gm_wire_envelope_encode(&e, enc, sizeof enc, &len), 0, "kind %d", k);
        cr_assert_eq(len, gm_wire_envelope_size(&e));
        copy = malloc(len);
        cr_assert_not_null(copy);
        memcpy(copy, enc, len);
        cr_assert_eq(gm_wire_envelope_decode(copy, len, &d), 0, "kind %d", k);
        cr_assert_not_null(d.owner);
        memset(copy, 0, len); /* the decoded envelope does not borrow the input */
        free(copy);
        assert_envelope_eq(&e, &d);
        gm_envelope_free(&d);
        cr_assert_null(d.owner);
        cr_assert_eq(d.kind, 0);
    }
    gm_envelope_free(NULL);
}

static int envelope_err(const gm_envelope_t *e)
{
    size_t len;
    int err = gm_wire_envelope_encode(e, enc, sizeof enc, &len);

    cr_assert_eq(gm_wire_envelope_size(e), 0);
    return err;
}

Test(wire_e2e, envelope_encoder_refuses_what_the_decoder_would)
{
    gm_envelope_t e = sample_envelope(GM_ENVELOPE_RATCHET);
    size_t len = 0, need = gm_wire_envelope_size(&e);
    static uint8_t big[GM_E2E_ENVELOPE_MAX];

    cr_assert_eq(gm_wire_envelope_encode(&e, enc, need - 1, &len), GM_ELIMIT);
    cr_assert_eq(len, 0, "nothing written on failure");
    memset(&e, 0, sizeof e); /* no kind: nothing else would stop it */
    cr_assert_eq(envelope_err(&e), GM_EPROTO);
    e.kind = 5;
    cr_assert_eq(envelope_err(&e), GM_EPROTO);
    e = sample_envelope(GM_ENVELOPE_RATCHET);
    e.ratchet.ciphertext_len = GM_E2E_TAG_LEN - 1;
    cr_assert_eq(envelope_err(&e), GM_EPROTO);
    e.ratchet.ciphertext_len = sizeof ct;
    e.ratchet.ciphertext = NULL;
    cr_assert_eq(envelope_err(&e), GM_EPROTO);
    e.ratchet.ciphertext = big;
    e.ratchet.ciphertext_len = sizeof big; /* fine alone, too long in an envelope */
    cr_assert_eq(envelope_err(&e), GM_EPROTO);
    e.ratchet.ciphertext_len = sizeof big - 64;
    cr_assert_eq(gm_wire_envelope_encode(&e, enc, sizeof enc, &len), 0);

    e = sample_envelope(GM_ENVELOPE_PREKEY);
    e.prekey.cert_len = 0;
    cr_assert_eq(envelope_err(&e), GM_EPROTO);
    e = sample_envelope(GM_ENVELOPE_PREKEY);
    e.prekey.cert_len = GM_CERT_MAX_LEN + 1;
    e.prekey.cert = big;
    cr_assert_eq(envelope_err(&e), GM_EPROTO);
    e = sample_envelope(GM_ENVELOPE_PREKEY);
    e.prekey.message.ciphertext_len = GM_E2E_TAG_LEN - 1;
    cr_assert_eq(envelope_err(&e), GM_EPROTO);

    e = sample_envelope(GM_ENVELOPE_GROUP);
    e.group.ciphertext_len = GM_E2E_TAG_LEN - 1;
    cr_assert_eq(envelope_err(&e), GM_EPROTO);

    e = sample_envelope(GM_ENVELOPE_BROADCAST);
    e.broadcast.content_len = 0;
    cr_assert_eq(envelope_err(&e), GM_EPROTO);
    e = sample_envelope(GM_ENVELOPE_BROADCAST);
    e.broadcast.cert = NULL;
    cr_assert_eq(envelope_err(&e), GM_EPROTO);
}

/* ---- content ---- */

static gm_position_t sample_position(void)
{
    return (gm_position_t){.lat = -33.8688,
                           .lon = 151.2093,
                           .accuracy = 4.5f,
                           .heading = 271.25f,
                           .speed = 1.5f,
                           .time = NOW - 3};
}

static gm_content_t sample_content(gm_content_kind_t kind)
{
    gm_content_t c;

    fill_buffers();
    memset(&c, 0, sizeof c);
    memset(c.msg_id, 0x1d, sizeof c.msg_id);
    c.sent = NOW;
    c.kind = kind;
    if (kind == GM_CONTENT_TEXT) {
        c.text = "Unit 4 at the gate \xe2\x80\x94 ETA 5 min \xf0\x9f\x9a\x93";
    } else if (kind == GM_CONTENT_POSITION) {
        c.position = sample_position();
    } else if (kind == GM_CONTENT_ALERT) {
        c.alert.kind = GM_ALERT_OFFICER_DOWN;
        c.alert.text = "shots fired";
        c.alert.has_position = true;
        c.alert.position = sample_position();
    } else if (kind == GM_CONTENT_RECEIPT) {
        c.receipt.kind = GM_RECEIPT_READ;
        c.receipt.n_ids = 3;
        memset(c.receipt.ids, 0xd1, sizeof c.receipt.ids);
        c.receipt.ids[2][0] = 2;
    } else if (kind == GM_CONTENT_SENDER_KEY) {
        memset(c.sender_key.group_id, 0x6a, GM_ID_LEN);
        c.sender_key.key_id = 9;
        c.sender_key.iteration = 1000;
        memset(c.sender_key.chain_key, 0xc4, GM_KEY_LEN);
        memset(c.sender_key.sign_pk, 0x5b, GM_KEY_LEN);
    } else {
        c.group.state = state;
        c.group.state_len = sizeof state;
        memset(c.group.signature, 0x95, GM_SIG_LEN);
    }
    return c;
}

static void assert_position_eq(const gm_position_t *a, const gm_position_t *b)
{
    cr_assert_eq(a->lat, b->lat);
    cr_assert_eq(a->lon, b->lon);
    cr_assert_eq(a->accuracy, b->accuracy);
    cr_assert_eq(a->heading, b->heading);
    cr_assert_eq(a->speed, b->speed);
    cr_assert_eq(a->time, b->time);
}

static void assert_content_eq(const gm_content_t *a, const gm_content_t *b)
{
    cr_assert_arr_eq(a->msg_id, b->msg_id, GM_ID_LEN);
    cr_assert_eq(a->sent, b->sent);
    cr_assert_eq(a->kind, b->kind);
    if (a->kind == GM_CONTENT_TEXT) {
        cr_assert_str_eq(a->text != NULL ? a->text : "", b->text);
    } else if (a->kind == GM_CONTENT_POSITION) {
        assert_position_eq(&a->position, &b->position);
    } else if (a->kind == GM_CONTENT_ALERT) {
        cr_assert_eq(a->alert.kind, b->alert.kind);
        cr_assert_str_eq(a->alert.text != NULL ? a->alert.text : "", b->alert.text);
        cr_assert_eq(a->alert.has_position, b->alert.has_position);
        if (a->alert.has_position) {
            assert_position_eq(&a->alert.position, &b->alert.position);
        }
    } else if (a->kind == GM_CONTENT_RECEIPT) {
        cr_assert_eq(a->receipt.kind, b->receipt.kind);
        cr_assert_eq(a->receipt.n_ids, b->receipt.n_ids);
        cr_assert_arr_eq(a->receipt.ids, b->receipt.ids, a->receipt.n_ids * GM_ID_LEN);
    } else if (a->kind == GM_CONTENT_SENDER_KEY) {
        cr_assert_arr_eq(&a->sender_key, &b->sender_key, sizeof a->sender_key);
    } else {
        assert_bytes(a->group.state, a->group.state_len, b->group.state, b->group.state_len);
        cr_assert_arr_eq(a->group.signature, b->group.signature, GM_SIG_LEN);
    }
}

static void content_round_trip(const gm_content_t *c)
{
    gm_content_t d;
    size_t len;

    cr_assert_eq(gm_wire_content_encode(c, enc, sizeof enc, &len), 0, "kind %d", c->kind);
    cr_assert_eq(len, gm_wire_content_size(c));
    cr_assert_eq(gm_wire_content_decode(enc, len, &d), 0, "kind %d", c->kind);
    memset(enc, 0, len); /* the decoded content does not borrow the input */
    assert_content_eq(c, &d);
    gm_content_free(&d);
    cr_assert_null(d.owner);
}

Test(wire_e2e, every_content_kind_round_trips)
{
    for (int k = GM_CONTENT_TEXT; k <= GM_CONTENT_GROUP; k++) {
        gm_content_t c = sample_content((gm_content_kind_t)k);
        content_round_trip(&c);
    }
    gm_content_free(NULL);
}

Test(wire_e2e, content_limits_are_inclusive)
{
    static char text[GM_E2E_TEXT_MAX + 1];
    static uint8_t big_state[GM_E2E_GROUP_STATE_MAX];
    gm_content_t c = sample_content(GM_CONTENT_TEXT);

    memset(text, 'x', GM_E2E_TEXT_MAX);
    c.text = text;
    content_round_trip(&c);
    c.text = ""; /* empty text, and NULL encodes as empty */
    content_round_trip(&c);
    c.text = NULL;
    content_round_trip(&c);
    c = sample_content(GM_CONTENT_POSITION);
    c.position = (gm_position_t){.lat = -90, .lon = 180, .heading = 360, .accuracy = 0};
    content_round_trip(&c);
    c.position = (gm_position_t){.lat = 90, .lon = -180, .heading = 0, .speed = 0};
    content_round_trip(&c);
    c = sample_content(GM_CONTENT_ALERT);
    c.alert.has_position = false;
    c.alert.kind = GM_ALERT_NEED_ASSISTANCE;
    text[GM_E2E_ALERT_TEXT_MAX] = '\0';
    c.alert.text = text;
    content_round_trip(&c);
    c.alert.kind = GM_ALERT_SOS;
    c.alert.text = NULL;
    c.alert.has_position = true;
    c.alert.position = (gm_position_t){0}; /* all zero, still present */
    content_round_trip(&c);
    c = sample_content(GM_CONTENT_RECEIPT);
    c.receipt.kind = GM_RECEIPT_DELIVERED;
    c.receipt.n_ids = GM_E2E_RECEIPT_MAX;
    content_round_trip(&c);
    c.receipt.n_ids = 1;
    content_round_trip(&c);
    c = sample_content(GM_CONTENT_GROUP);
    c.group.state = big_state;
    c.group.state_len = sizeof big_state;
    content_round_trip(&c);
}

static int content_err(const gm_content_t *c)
{
    size_t len;
    int err = gm_wire_content_encode(c, enc, sizeof enc, &len);

    cr_assert_eq(gm_wire_content_size(c), 0);
    return err;
}

Test(wire_e2e, content_encoder_refuses_what_the_decoder_would)
{
    static char text[GM_E2E_TEXT_MAX + 2];
    gm_content_t c = sample_content(GM_CONTENT_TEXT);
    size_t len = 0;

    cr_assert_eq(gm_wire_content_encode(&c, enc, gm_wire_content_size(&c) - 1, &len), GM_ELIMIT);
    cr_assert_eq(len, 0);
    memset(&c, 0, sizeof c); /* no kind: nothing else would stop it */
    cr_assert_eq(content_err(&c), GM_EPROTO);
    c.kind = 7;
    cr_assert_eq(content_err(&c), GM_EPROTO);
    c = sample_content(GM_CONTENT_TEXT);
    memset(text, 'x', GM_E2E_TEXT_MAX + 1);
    c.text = text;
    cr_assert_eq(content_err(&c), GM_EPROTO);
    c.text = "caf\xc3";
    cr_assert_eq(content_err(&c), GM_EPROTO);
    c = sample_content(GM_CONTENT_POSITION);
    c.position.lat = NAN;
    cr_assert_eq(content_err(&c), GM_EPROTO);
    c = sample_content(GM_CONTENT_ALERT);
    c.alert.position.heading = 361;
    cr_assert_eq(content_err(&c), GM_EPROTO);
    c.alert.has_position = false; /* not sent, not checked */
    cr_assert_eq(gm_wire_content_encode(&c, enc, sizeof enc, &len), 0);
    c = sample_content(GM_CONTENT_RECEIPT);
    c.receipt.n_ids = GM_E2E_RECEIPT_MAX + 1;
    cr_assert_eq(content_err(&c), GM_EPROTO);
    c.receipt.n_ids = 0;
    cr_assert_eq(content_err(&c), GM_EPROTO);
    c = sample_content(GM_CONTENT_GROUP);
    c.group.state = NULL;
    cr_assert_eq(content_err(&c), GM_EPROTO);
    c = sample_content(GM_CONTENT_GROUP);
    c.group.state_len = 0;
    cr_assert_eq(content_err(&c), GM_EPROTO);
}

/* ---- group state ---- */

static gm_group_member_t members[GM_E2E_GROUP_MEMBERS_MAX + 1];

static gm_group_state_t sample_group(size_t n)
{
    gm_group_state_t g;

    memset(&g, 0, sizeof g);
    memset(g.group_id, 0x6a, GM_ID_LEN);
    snprintf(g.name, sizeof g.name, "Dispatch ~ North (night)");
    memset(g.owner, 0, GM_ID_LEN);
    g.owner[15] = 1;
    g.version = 1;
    memset(members, 0, sizeof members);
    for (size_t i = 0; i < n; i++) {
        members[i].node_id[14] = (uint8_t)((i + 1) >> 8);
        members[i].node_id[15] = (uint8_t)(i + 1); /* the owner is the first */
        snprintf(members[i].callsign, sizeof members[i].callsign, "U%zu", i);
        snprintf(members[i].org, sizeof members[i].org, "pd.north");
    }
    g.members = members;
    g.n_members = n;
    return g;
}

static void group_round_trip(const gm_group_state_t *g)
{
    gm_group_state_t d;
    size_t len;

    cr_assert_eq(gm_wire_group_state_encode(g, enc, sizeof enc, &len), 0);
    cr_assert_eq(gm_wire_group_state_decode(enc, len, &d), 0);
    cr_assert_arr_eq(d.group_id, g->group_id, GM_ID_LEN);
    cr_assert_str_eq(d.name, g->name);
    cr_assert_arr_eq(d.owner, g->owner, GM_ID_LEN);
    cr_assert_eq(d.version, g->version);
    cr_assert_eq(d.n_members, g->n_members);
    cr_assert_arr_eq(d.members, g->members, g->n_members * sizeof *g->members);
    gm_group_state_free(&d);
    cr_assert_null(d.members);
    cr_assert_eq(d.n_members, 0);
}

Test(wire_e2e, group_state_round_trips_from_one_to_256_members)
{
    gm_group_state_t g = sample_group(1);

    group_round_trip(&g);
    g = sample_group(GM_E2E_GROUP_MEMBERS_MAX);
    g.version = UINT64_MAX;
    memset(g.name, '~', GM_E2E_GROUP_NAME_MAX);
    g.name[GM_E2E_GROUP_NAME_MAX] = '\0';
    g.owner[15] = 200; /* the owner need not come first */
    group_round_trip(&g);
    gm_group_state_free(NULL);
}

static int group_err(const gm_group_state_t *g)
{
    size_t len;
    return gm_wire_group_state_encode(g, enc, sizeof enc, &len);
}

Test(wire_e2e, group_state_encoder_refuses_what_the_decoder_would)
{
    gm_group_state_t g = sample_group(2);
    size_t len = 0;

    cr_assert_eq(gm_wire_group_state_encode(&g, enc, 20, &len), GM_ELIMIT);
    cr_assert_eq(len, 0);
    memset(g.name, 'x', sizeof g.name); /* not terminated */
    cr_assert_eq(group_err(&g), GM_EPROTO);
    g = sample_group(2);
    memset(members[1].callsign, 'x', sizeof members[1].callsign);
    cr_assert_eq(group_err(&g), GM_EPROTO);
    g = sample_group(2);
    g.members = malloc(2 * sizeof *g.members); /* exactly: ASan sees a read past the last org */
    cr_assert_not_null(g.members);
    memcpy(g.members, members, 2 * sizeof *g.members);
    memset(g.members[1].org, 'x', sizeof g.members[1].org);
    cr_assert_eq(group_err(&g), GM_EPROTO);
    free(g.members);
    g = sample_group(2);
    g.members = NULL;
    cr_assert_eq(group_err(&g), GM_EPROTO);
    g = sample_group(2);
    g.n_members = 0;
    cr_assert_eq(group_err(&g), GM_EPROTO);
    g = sample_group(GM_E2E_GROUP_MEMBERS_MAX + 1);
    cr_assert_eq(group_err(&g), GM_EPROTO);
    g = sample_group(GM_E2E_GROUP_MEMBERS_MAX);
    for (size_t i = 0; i < g.n_members; i++) { /* valid, but 256 long names are over 16 KiB */
        snprintf(members[i].callsign, sizeof members[i].callsign, "%032zu", i);
    }
    cr_assert_eq(group_err(&g), GM_EPROTO);
    for (size_t i = 0; i < g.n_members; i++) {
        members[i].callsign[20] = '\0';
    }
    cr_assert_eq(group_err(&g), 0, "names of 20 bytes fit");
}

/* ---- shared helpers ---- */

Test(wire_e2e, utf8_check_refuses_each_malformation)
{
    static const char *const good[] = {
        "",
        "plain",
        "caf\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x90\x8d\x88",
        "\xf4\x8f\xbf\xbf",
        "\xed\x9f\xbf",
        "\xee\x80\x80",
        "\x7f",
    };
    static const char *const bad[] = {
        "\x80",                 /* a continuation byte first */
        "\xbf",                 /* ditto */
        "\xc0\x80",             /* overlong NUL */
        "\xc1\xbf",             /* overlong */
        "\xe0\x80\x80",         /* overlong, 3 bytes */
        "\xf0\x80\x80\x80",     /* overlong, 4 bytes */
        "\xed\xa0\x80",         /* surrogate D800 */
        "\xed\xbf\xbf",         /* surrogate DFFF */
        "\xf4\x90\x80\x80",     /* over U+10FFFF */
        "\xf8\x88\x80\x80\x80", /* 5-byte form */
        "\xfc\x80\x80\x80",     /* 0xfc as a 4-byte lead would be U+100000 */
        "\xff",
        "x\xc3",            /* cut short */
        "\xe2\x82",         /* cut short */
        "\xc3\x28",         /* not a continuation */
        "\xe2\x28\xa1",     /* ditto, second byte */
        "\xf0\x90\x28\x88", /* ditto, third byte */
    };

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        cr_assert(gm__wire_utf8_is_valid((const uint8_t *)good[i], strlen(good[i])), "good %zu", i);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_not(gm__wire_utf8_is_valid((const uint8_t *)bad[i], strlen(bad[i])), "bad %zu",
                      i);
    }
    /* Cut short where the bytes after the end would complete the sequence. */
    cr_assert_not(gm__wire_utf8_is_valid((const uint8_t *)"\xc3\xa9", 1));
    cr_assert_not(gm__wire_utf8_is_valid((const uint8_t *)"\xe2\x82\xac", 2));
    cr_assert_not(gm__wire_utf8_is_valid((const uint8_t *)"\xf0\x90\x8d\x88", 3));
}

Test(wire_e2e, wiping_allocator_refuses_sizes_it_cannot_prefix)
{
    ProtobufCAllocator a = gm__wire_wiping_allocator();
    uint8_t *p;

    cr_assert_null(a.alloc(a.allocator_data, SIZE_MAX));
    p = a.alloc(a.allocator_data, 100);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % _Alignof(max_align_t), 0);
    memset(p, 0xaa, 100);
    a.free(a.allocator_data, p);
    a.free(a.allocator_data, NULL);
}

/* ---- the messenger's control messages ---- */

Test(wire_e2e, messenger_control_request_and_response_round_trip)
{
    static const char *const names[] = {"U1@pd.north", "U2@pd.north"};
    gm_messenger_request_t q = {.op = GM_MESSENGER_OP_SEND,
                                .to = "U1@pd.north",
                                .kind = GM_MESSAGE_ALERT,
                                .text = "need help",
                                .priority = 1,
                                .has_position = true,
                                .lat = 51.5,
                                .lon = -0.12,
                                .accuracy = 10,
                                .alert_kind = GM_ALERT_SOS,
                                .members = names,
                                .n_members = 2,
                                .limit = 10},
                           dq;
    gm_inbox_entry_t in = {.from = "U2@pd.north",
                           .group = "north",
                           .kind = GM_MESSAGE_TEXT,
                           .text = "ok",
                           .sent = NOW,
                           .received = NOW + 2,
                           .read = true};
    gm_outbox_entry_t ob = {.to = "U1@pd.north",
                            .kind = GM_MESSAGE_TEXT,
                            .text = "hi",
                            .state = "delivered",
                            .queued = NOW,
                            .delivered = NOW + 9,
                            .recipients = 1,
                            .delivered_count = 1};
    gm_group_info_t gi = {.name = "north",
                          .owner = "U1@pd.north",
                          .version = 3,
                          .members = names,
                          .n_members = 2,
                          .have_keys = true};
    gm_messenger_response_t r = {.error = 0,
                                 .message = "",
                                 .has_msg_id = true,
                                 .inbox = &in,
                                 .n_inbox = 1,
                                 .outbox = &ob,
                                 .n_outbox = 1,
                                 .groups = &gi,
                                 .n_groups = 1,
                                 .unread = 4},
                            dr;
    uint8_t buf[512], *out;
    size_t len;

    memset(in.msg_id, 0x01, GM_ID_LEN);
    memset(ob.msg_id, 0x02, GM_ID_LEN);
    memset(gi.group_id, 0x03, GM_ID_LEN);
    memset(r.msg_id, 0x04, GM_ID_LEN);
    cr_assert_eq(gm_wire_messenger_request_encode(&q, buf, sizeof buf, &len), 0);
    cr_assert_eq(len, gm_wire_messenger_request_size(&q));
    cr_assert_eq(gm_wire_messenger_request_decode(buf, len, &dq), 0);
    cr_assert_eq(dq.op, q.op);
    cr_assert_str_eq(dq.to, q.to);
    cr_assert_str_eq(dq.group, "");
    cr_assert_eq(dq.kind, q.kind);
    cr_assert_str_eq(dq.text, q.text);
    cr_assert(dq.priority == 1 && dq.has_position && dq.lat == 51.5 && dq.lon == -0.12);
    cr_assert(dq.accuracy == 10 && dq.alert_kind == GM_ALERT_SOS && !dq.peek && dq.limit == 10);
    cr_assert_eq(dq.n_members, 2);
    cr_assert_str_eq(dq.members[1], "U2@pd.north");
    gm_messenger_request_free(&dq);
    cr_assert_null(dq.owner);

    cr_assert_eq(gm_wire_messenger_response_encode(&r, &out, &len), 0);
    cr_assert_eq(gm_wire_messenger_response_decode(out, len, &dr), 0);
    free(out);
    cr_assert(dr.error == 0 && dr.has_msg_id && dr.unread == 4);
    cr_assert_arr_eq(dr.msg_id, r.msg_id, GM_ID_LEN);
    cr_assert(dr.n_inbox == 1 && dr.n_outbox == 1 && dr.n_groups == 1);
    cr_assert_arr_eq(dr.inbox[0].msg_id, in.msg_id, GM_ID_LEN);
    cr_assert_str_eq(dr.inbox[0].from, "U2@pd.north");
    cr_assert_str_eq(dr.inbox[0].text, "ok");
    cr_assert(dr.inbox[0].read && dr.inbox[0].received == NOW + 2);
    cr_assert_str_eq(dr.outbox[0].state, "delivered");
    cr_assert(dr.outbox[0].delivered == NOW + 9 && dr.outbox[0].delivered_count == 1);
    cr_assert_str_eq(dr.groups[0].name, "north");
    cr_assert_str_eq(dr.groups[0].members[0], "U1@pd.north");
    cr_assert(dr.groups[0].have_keys && dr.groups[0].version == 3);
    gm_messenger_response_free(&dr);
    cr_assert_null(dr.inbox);
}

/* ---- the fuzz seed corpus ---- */

/* Re-encodes what decoded from a seed (first byte: the harness's selector). */
static int reencode(uint8_t sel, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
    int err = GM_EPROTO;

    if (sel == 0) {
        gm_envelope_t e = {0};
        err = gm_wire_envelope_decode(in, len, &e);
        err = err != 0 ? err : gm_wire_envelope_encode(&e, out, sizeof enc, out_len);
        gm_envelope_free(&e);
    } else if (sel == 1) {
        gm_content_t c = {0};
        err = gm_wire_content_decode(in, len, &c);
        err = err != 0 ? err : gm_wire_content_encode(&c, out, sizeof enc, out_len);
        gm_content_free(&c);
    } else if (sel == 2) {
        gm_group_state_t g = {0};
        err = gm_wire_group_state_decode(in, len, &g);
        err = err != 0 ? err : gm_wire_group_state_encode(&g, out, sizeof enc, out_len);
        gm_group_state_free(&g);
    } else if (sel == 3) {
        gm_prekey_announcement_t a;
        err = gm_wire_prekey_announcement_decode(in, len, &a);
        err = err != 0 ? err : gm_wire_prekey_announcement_encode(&a, out, sizeof enc, out_len);
    } else if (sel == 4) {
        gm_spk_t s;
        err = gm_wire_spk_decode(in, len, &s);
        err = err != 0 ? err : gm_wire_spk_encode(&s, out, sizeof enc, out_len);
    } else if (sel == 5) {
        gm_messenger_request_t q = {0};
        err = gm_wire_messenger_request_decode(in, len, &q);
        err = err != 0 ? err : gm_wire_messenger_request_encode(&q, out, sizeof enc, out_len);
        gm_messenger_request_free(&q);
    } else {
        gm_messenger_response_t r = {0};
        uint8_t *o;
        err = gm_wire_messenger_response_decode(in, len, &r);
        err = err != 0 ? err : gm_wire_messenger_response_encode(&r, &o, out_len);
        if (err == 0) {
            cr_assert_leq(*out_len, sizeof enc);
            memcpy(out, o, *out_len);
            free(o);
        }
        gm_messenger_response_free(&r);
    }
    return err;
}

/* Seeds named valid_* decode and re-encode to the same bytes; invalid_* are refused. */
Test(wire_e2e, fuzz_seed_corpus_is_what_its_names_say)
{
    struct dirent *de;
    DIR *dir = opendir(CORPUS_DIR);
    int valid = 0, invalid = 0;

    cr_assert_not_null(dir, "%s", CORPUS_DIR);
    while ((de = readdir(dir)) != NULL) {
        char path[GM_PATH_MAX];
        uint8_t *buf;
        size_t len, out_len = 0;
        int err;

        if (strncmp(de->d_name, "valid_", 6) != 0 && strncmp(de->d_name, "invalid_", 8) != 0) {
            continue;
        }
        cr_assert_eq(gm_path_join(path, sizeof path, CORPUS_DIR, de->d_name), 0);
        cr_assert_eq(gm_file_read(path, sizeof enc, &buf, &len), 0, "%s", path);
        cr_assert_gt(len, 0, "%s", de->d_name);
        err = reencode(buf[0] % 7, buf + 1, len - 1, enc, &out_len);
        if (de->d_name[0] == 'v') {
            cr_assert_eq(err, 0, "%s", de->d_name);
            assert_bytes(enc, out_len, buf + 1, len - 1);
            valid++;
        } else {
            cr_assert_neq(err, 0, "%s", de->d_name);
            invalid++;
        }
        free(buf);
    }
    closedir(dir);
    cr_assert_geq(valid, 8);
    cr_assert_geq(invalid, 2);
}

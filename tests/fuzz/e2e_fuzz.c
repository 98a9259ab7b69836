/*
 * Fuzzes the end-to-end codecs (proto/wire_e2e.h) and the messenger's
 * control codec (proto/wire_messenger_control.h). The first input byte
 * (modulo 7) picks the decoder, the rest is its input:
 *   0 Envelope  1 Content  2 GroupState  3 PrekeyAnnouncement (then its
 *   prekey as a SignedPrekey)  4 SignedPrekey  5 MessengerRequest
 *   6 MessengerResponse
 * Whatever decodes must stay within the documented limits, encode into
 * exactly the announced size (one byte less: GM_ELIMIT) and, but for a
 * response's int32 error, never into more bytes than it came from, decode
 * again to the same value, and encode again to the same bytes.
 *
 * Seeds in tests/fuzz/corpus/e2e/ (valid_* decode and re-encode to the same
 * bytes, invalid_* are refused; wire_e2e_test checks both). Built with
 * -DE2E_FUZZ_SEEDS (see the end of this file) it writes them.
 */
#include "tests/fuzz/fuzz.h"
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire_e2e.h"
#include "proto/wire_messenger_control.h"

enum { SEL_ENVELOPE, SEL_CONTENT, SEL_GROUP, SEL_PREKEY_ANN, SEL_SPK, SEL_REQUEST, SEL_RESPONSE };
#define SEL_COUNT 7

/* Strings compare equal when both are NULL or "" (the decoders never give NULL). */
static bool same_str(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

/* A fresh buffer of exactly len bytes (at least one), so ASan sees any overrun. */
static uint8_t *exact(size_t len)
{
    uint8_t *p = malloc(len > 0 ? len : 1);

    FUZZ_CHECK(p != NULL);
    return p;
}

/*
 * The round trip of every fixed-buffer codec: d1 decoded from size bytes;
 * encodes it into exactly need bytes, decodes that into d2, checks
 * equal(d1, d2) and that d2 encodes to the same bytes. free may be empty.
 */
#define ROUND_TRIP(T, d1, need, encode, decode, equal, free_fn, size)                              \
    do {                                                                                           \
        T d2_;                                                                                     \
        uint8_t *e1_ = exact(need), *e2_ = exact(need);                                            \
        size_t n1_ = 0, n2_ = 0;                                                                   \
        FUZZ_CHECK((need) > 0 && (need) <= (size));                                                \
        FUZZ_CHECK(encode(d1, e1_, (need)-1, &n1_) == GM_ELIMIT);                                  \
        FUZZ_CHECK(encode(d1, e1_, need, &n1_) == 0 && n1_ == (need));                             \
        FUZZ_CHECK(decode(e1_, n1_, &d2_) == 0);                                                   \
        FUZZ_CHECK(equal(d1, &d2_));                                                               \
        FUZZ_CHECK(encode(&d2_, e2_, need, &n2_) == 0);                                            \
        FUZZ_CHECK(same_bytes(e1_, n1_, e2_, n2_));                                                \
        free_fn(&d2_);                                                                             \
        free(e1_);                                                                                 \
        free(e2_);                                                                                 \
    } while (0)

static void no_free(const void *p)
{
    (void)p;
}

/* ---- Envelope ---- */

static bool ratchet_equal(const gm_ratchet_msg_t *a, const gm_ratchet_msg_t *b)
{
    return memcmp(a->header, b->header, GM_E2E_HEADER_LEN) == 0 &&
           same_bytes(a->ciphertext, a->ciphertext_len, b->ciphertext, b->ciphertext_len);
}

static bool envelope_equal(const gm_envelope_t *a, const gm_envelope_t *b)
{
    const gm_prekey_msg_t *pa = &a->prekey, *pb = &b->prekey;
    const gm_group_msg_t *ga = &a->group, *gb = &b->group;
    const gm_broadcast_t *ba = &a->broadcast, *bb = &b->broadcast;

    if (a->kind != b->kind) {
        return false;
    }
    switch (a->kind) {
    case GM_ENVELOPE_RATCHET:
        return ratchet_equal(&a->ratchet, &b->ratchet);
    case GM_ENVELOPE_PREKEY:
        return same_bytes(pa->cert, pa->cert_len, pb->cert, pb->cert_len) &&
               memcmp(pa->ephemeral, pb->ephemeral, GM_KEY_LEN) == 0 &&
               pa->prekey_id == pb->prekey_id && ratchet_equal(&pa->message, &pb->message);
    case GM_ENVELOPE_GROUP:
        return memcmp(ga->group_id, gb->group_id, GM_ID_LEN) == 0 && ga->key_id == gb->key_id &&
               ga->iteration == gb->iteration &&
               same_bytes(ga->ciphertext, ga->ciphertext_len, gb->ciphertext, gb->ciphertext_len) &&
               memcmp(ga->signature, gb->signature, GM_SIG_LEN) == 0;
    default:
        return same_bytes(ba->cert, ba->cert_len, bb->cert, bb->cert_len) &&
               same_bytes(ba->content, ba->content_len, bb->content, bb->content_len) &&
               memcmp(ba->signature, bb->signature, GM_SIG_LEN) == 0;
    }
}

static void check_envelope(const gm_envelope_t *e)
{
    FUZZ_CHECK(e->kind >= GM_ENVELOPE_RATCHET && e->kind <= GM_ENVELOPE_BROADCAST);
    FUZZ_CHECK(e->owner != NULL);
    if (e->kind == GM_ENVELOPE_RATCHET) {
        FUZZ_CHECK(e->ratchet.ciphertext_len >= GM_E2E_TAG_LEN);
    } else if (e->kind == GM_ENVELOPE_PREKEY) {
        FUZZ_CHECK(e->prekey.cert_len >= 1 && e->prekey.cert_len <= GM_CERT_MAX_LEN);
        FUZZ_CHECK(e->prekey.message.ciphertext_len >= GM_E2E_TAG_LEN);
    } else if (e->kind == GM_ENVELOPE_GROUP) {
        FUZZ_CHECK(e->group.ciphertext_len >= GM_E2E_TAG_LEN);
    } else {
        FUZZ_CHECK(e->broadcast.cert_len >= 1 && e->broadcast.cert_len <= GM_CERT_MAX_LEN);
        FUZZ_CHECK(e->broadcast.content_len >= 1);
    }
}

static void fuzz_envelope(const uint8_t *data, size_t size)
{
    gm_envelope_t e;
    size_t need;

    if (gm_wire_envelope_decode(data, size, &e) != 0) {
        return;
    }
    check_envelope(&e);
    need = gm_wire_envelope_size(&e);
    ROUND_TRIP(gm_envelope_t, &e, need, gm_wire_envelope_encode, gm_wire_envelope_decode,
               envelope_equal, gm_envelope_free, size);
    gm_envelope_free(&e);
    FUZZ_CHECK(e.owner == NULL);
}

/* ---- Content ---- */

static bool position_equal(const gm_position_t *a, const gm_position_t *b)
{
    return a->lat == b->lat && a->lon == b->lon && a->accuracy == b->accuracy &&
           a->heading == b->heading && a->speed == b->speed && a->time == b->time;
}

static bool position_in_range(const gm_position_t *p)
{
    return p->lat >= -90 && p->lat <= 90 && p->lon >= -180 && p->lon <= 180 &&
           isfinite(p->accuracy) && p->accuracy >= 0 && p->heading >= 0 && p->heading <= 360 &&
           isfinite(p->speed) && p->speed >= 0;
}

static bool alert_equal(const gm_alert_t *a, const gm_alert_t *b)
{
    return a->kind == b->kind && same_str(a->text, b->text) && a->has_position == b->has_position &&
           (!a->has_position || position_equal(&a->position, &b->position));
}

static bool content_equal(const gm_content_t *a, const gm_content_t *b)
{
    if (memcmp(a->msg_id, b->msg_id, GM_ID_LEN) != 0 || a->sent != b->sent || a->kind != b->kind) {
        return false;
    }
    switch (a->kind) {
    case GM_CONTENT_TEXT:
        return same_str(a->text, b->text);
    case GM_CONTENT_POSITION:
        return position_equal(&a->position, &b->position);
    case GM_CONTENT_ALERT:
        return alert_equal(&a->alert, &b->alert);
    case GM_CONTENT_RECEIPT:
        return a->receipt.kind == b->receipt.kind && a->receipt.n_ids == b->receipt.n_ids &&
               memcmp(a->receipt.ids, b->receipt.ids, a->receipt.n_ids * GM_ID_LEN) == 0;
    case GM_CONTENT_SENDER_KEY:
        return memcmp(&a->sender_key, &b->sender_key, sizeof a->sender_key) == 0;
    default:
        return same_bytes(a->group.state, a->group.state_len, b->group.state, b->group.state_len) &&
               memcmp(a->group.signature, b->group.signature, GM_SIG_LEN) == 0;
    }
}

static void check_content(const gm_content_t *c)
{
    FUZZ_CHECK(c->kind >= GM_CONTENT_TEXT && c->kind <= GM_CONTENT_GROUP);
    if (c->kind == GM_CONTENT_TEXT) {
        FUZZ_CHECK(c->text != NULL && strlen(c->text) <= GM_E2E_TEXT_MAX);
    } else if (c->kind == GM_CONTENT_POSITION) {
        FUZZ_CHECK(position_in_range(&c->position));
    } else if (c->kind == GM_CONTENT_ALERT) {
        FUZZ_CHECK(c->alert.kind >= GM_ALERT_SOS && c->alert.kind <= GM_ALERT_NEED_ASSISTANCE);
        FUZZ_CHECK(c->alert.text != NULL && strlen(c->alert.text) <= GM_E2E_ALERT_TEXT_MAX);
        FUZZ_CHECK(!c->alert.has_position || position_in_range(&c->alert.position));
    } else if (c->kind == GM_CONTENT_RECEIPT) {
        FUZZ_CHECK(c->receipt.kind >= GM_RECEIPT_DELIVERED && c->receipt.kind <= GM_RECEIPT_READ);
        FUZZ_CHECK(c->receipt.n_ids >= 1 && c->receipt.n_ids <= GM_E2E_RECEIPT_MAX);
    } else if (c->kind == GM_CONTENT_GROUP) {
        FUZZ_CHECK(c->group.state_len >= 1 && c->group.state_len <= GM_E2E_GROUP_STATE_MAX);
    }
}

static void fuzz_content(const uint8_t *data, size_t size)
{
    static gm_content_t c; /* a receipt's ids make it large */
    size_t need;

    if (gm_wire_content_decode(data, size, &c) != 0) {
        return;
    }
    check_content(&c);
    need = gm_wire_content_size(&c);
    {
        static gm_content_t d2;
        uint8_t *e1 = exact(need), *e2 = exact(need);
        size_t n1 = 0, n2 = 0;

        FUZZ_CHECK(need > 0 && need <= size);
        FUZZ_CHECK(gm_wire_content_encode(&c, e1, need - 1, &n1) == GM_ELIMIT);
        FUZZ_CHECK(gm_wire_content_encode(&c, e1, need, &n1) == 0 && n1 == need);
        FUZZ_CHECK(gm_wire_content_decode(e1, n1, &d2) == 0);
        FUZZ_CHECK(content_equal(&c, &d2));
        FUZZ_CHECK(gm_wire_content_encode(&d2, e2, need, &n2) == 0);
        FUZZ_CHECK(same_bytes(e1, n1, e2, n2));
        gm_content_free(&d2);
        free(e1);
        free(e2);
    }
    gm_content_free(&c);
    FUZZ_CHECK(c.owner == NULL && c.kind == 0);
}

/* ---- GroupState ---- */

static bool group_equal(const gm_group_state_t *a, const gm_group_state_t *b)
{
    return memcmp(a->group_id, b->group_id, GM_ID_LEN) == 0 && strcmp(a->name, b->name) == 0 &&
           memcmp(a->owner, b->owner, GM_ID_LEN) == 0 && a->version == b->version &&
           a->n_members == b->n_members &&
           memcmp(a->members, b->members, a->n_members * sizeof *a->members) == 0;
}

static void fuzz_group(const uint8_t *data, size_t size)
{
    static uint8_t buf[GM_E2E_GROUP_STATE_MAX];
    gm_group_state_t g;
    size_t need;

    if (gm_wire_group_state_decode(data, size, &g) != 0) {
        return;
    }
    FUZZ_CHECK(g.n_members >= 1 && g.n_members <= GM_E2E_GROUP_MEMBERS_MAX && g.version >= 1);
    FUZZ_CHECK(strlen(g.name) >= 1 && strlen(g.name) <= GM_E2E_GROUP_NAME_MAX);
    for (size_t i = 0; i < g.n_members; i++) {
        FUZZ_CHECK(gm_name_is_valid(g.members[i].callsign) && gm_name_is_valid(g.members[i].org));
    }
    FUZZ_CHECK(gm_wire_group_state_encode(&g, buf, sizeof buf, &need) == 0);
    ROUND_TRIP(gm_group_state_t, &g, need, gm_wire_group_state_encode, gm_wire_group_state_decode,
               group_equal, gm_group_state_free, size);
    gm_group_state_free(&g);
}

/* ---- the prekey and its announcement ---- */

static bool spk_equal(const gm_spk_t *a, const gm_spk_t *b)
{
    return a->id == b->id && memcmp(a->pk, b->pk, GM_KEY_LEN) == 0 && a->created == b->created &&
           a->expires == b->expires;
}

static void fuzz_spk(const uint8_t *data, size_t size)
{
    uint8_t buf[GM_E2E_PREKEY_MAX];
    gm_spk_t s;
    size_t need;

    if (gm_wire_spk_decode(data, size, &s) != 0) {
        return;
    }
    FUZZ_CHECK(s.expires > s.created);
    FUZZ_CHECK(gm_wire_spk_encode(&s, buf, sizeof buf, &need) == 0);
    ROUND_TRIP(gm_spk_t, &s, need, gm_wire_spk_encode, gm_wire_spk_decode, spk_equal, no_free,
               size);
}

static bool prekey_ann_equal(const gm_prekey_announcement_t *a, const gm_prekey_announcement_t *b)
{
    return same_bytes(a->prekey, a->prekey_len, b->prekey, b->prekey_len) &&
           memcmp(a->signature, b->signature, GM_SIG_LEN) == 0;
}

static void fuzz_prekey_ann(const uint8_t *data, size_t size)
{
    uint8_t buf[GM_E2E_PREKEY_ANN_MAX];
    gm_prekey_announcement_t a;
    size_t need;

    if (gm_wire_prekey_announcement_decode(data, size, &a) != 0) {
        return;
    }
    FUZZ_CHECK(a.prekey_len >= 1 && a.prekey_len <= GM_E2E_PREKEY_MAX);
    FUZZ_CHECK(gm_wire_prekey_announcement_encode(&a, buf, sizeof buf, &need) == 0);
    ROUND_TRIP(gm_prekey_announcement_t, &a, need, gm_wire_prekey_announcement_encode,
               gm_wire_prekey_announcement_decode, prekey_ann_equal, no_free, size);
    fuzz_spk(a.prekey, a.prekey_len);
}

/* ---- the messenger's control messages ---- */

static bool names_equal(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    bool same = na == nb;

    for (size_t i = 0; same && i < na; i++) {
        same = strcmp(a[i], b[i]) == 0;
    }
    return same;
}

static bool request_equal(const gm_messenger_request_t *a, const gm_messenger_request_t *b)
{
    return a->op == b->op && same_str(a->to, b->to) && same_str(a->group, b->group) &&
           a->kind == b->kind && same_str(a->text, b->text) && a->priority == b->priority &&
           a->has_position == b->has_position && a->lat == b->lat && a->lon == b->lon &&
           a->accuracy == b->accuracy && a->alert_kind == b->alert_kind && a->peek == b->peek &&
           names_equal(a->members, a->n_members, b->members, b->n_members) && a->limit == b->limit;
}

static void fuzz_request(const uint8_t *data, size_t size)
{
    gm_messenger_request_t q;
    size_t need;

    if (gm_wire_messenger_request_decode(data, size, &q) != 0) {
        return;
    }
    FUZZ_CHECK(q.op >= GM_MESSENGER_OP_SEND && q.op <= GM_MESSENGER_OP_GROUP_LIST);
    FUZZ_CHECK(q.n_members <= GM_MESSENGER_MEMBERS_MAX && q.limit <= GM_MESSENGER_LIST_MAX);
    need = gm_wire_messenger_request_size(&q);
    ROUND_TRIP(gm_messenger_request_t, &q, need, gm_wire_messenger_request_encode,
               gm_wire_messenger_request_decode, request_equal, gm_messenger_request_free, size);
    gm_messenger_request_free(&q);
}

static bool inbox_equal(const gm_inbox_entry_t *a, const gm_inbox_entry_t *b)
{
    return memcmp(a->msg_id, b->msg_id, GM_ID_LEN) == 0 && same_str(a->from, b->from) &&
           same_str(a->group, b->group) && a->to_all == b->to_all && a->kind == b->kind &&
           same_str(a->text, b->text) && a->has_position == b->has_position && a->lat == b->lat &&
           a->lon == b->lon && a->accuracy == b->accuracy && a->alert_kind == b->alert_kind &&
           a->sent == b->sent && a->received == b->received && a->read == b->read;
}

static bool outbox_equal(const gm_outbox_entry_t *a, const gm_outbox_entry_t *b)
{
    return memcmp(a->msg_id, b->msg_id, GM_ID_LEN) == 0 && same_str(a->to, b->to) &&
           same_str(a->group, b->group) && a->kind == b->kind && same_str(a->text, b->text) &&
           same_str(a->state, b->state) && a->queued == b->queued && a->relayed == b->relayed &&
           a->delivered == b->delivered && a->read == b->read && a->expired == b->expired &&
           a->recipients == b->recipients && a->delivered_count == b->delivered_count &&
           a->read_count == b->read_count;
}

static bool group_info_equal(const gm_group_info_t *a, const gm_group_info_t *b)
{
    return memcmp(a->group_id, b->group_id, GM_ID_LEN) == 0 && same_str(a->name, b->name) &&
           same_str(a->owner, b->owner) && a->version == b->version &&
           names_equal(a->members, a->n_members, b->members, b->n_members) &&
           a->have_keys == b->have_keys;
}

static bool response_equal(const gm_messenger_response_t *a, const gm_messenger_response_t *b)
{
    bool same = a->error == b->error && same_str(a->message, b->message) &&
                a->has_msg_id == b->has_msg_id && memcmp(a->msg_id, b->msg_id, GM_ID_LEN) == 0 &&
                a->n_inbox == b->n_inbox && a->n_outbox == b->n_outbox &&
                a->n_groups == b->n_groups && a->unread == b->unread;

    for (size_t i = 0; same && i < a->n_inbox; i++) {
        same = inbox_equal(&a->inbox[i], &b->inbox[i]);
    }
    for (size_t i = 0; same && i < a->n_outbox; i++) {
        same = outbox_equal(&a->outbox[i], &b->outbox[i]);
    }
    for (size_t i = 0; same && i < a->n_groups; i++) {
        same = group_info_equal(&a->groups[i], &b->groups[i]);
    }
    return same;
}

static void fuzz_response(const uint8_t *data, size_t size)
{
    gm_messenger_response_t r1, r2;
    uint8_t *e1, *e2;
    size_t e1_len, e2_len;

    if (gm_wire_messenger_response_decode(data, size, &r1) != 0) {
        return;
    }
    FUZZ_CHECK(r1.n_inbox <= GM_MESSENGER_LIST_MAX && r1.n_outbox <= GM_MESSENGER_LIST_MAX &&
               r1.n_groups <= GM_MESSENGER_LIST_MAX);
    /* Not e1_len <= size: a negative int32 error may come in 5 varint bytes and go out in 10. */
    FUZZ_CHECK(gm_wire_messenger_response_encode(&r1, &e1, &e1_len) == 0);
    FUZZ_CHECK(gm_wire_messenger_response_decode(e1, e1_len, &r2) == 0);
    FUZZ_CHECK(response_equal(&r1, &r2));
    FUZZ_CHECK(gm_wire_messenger_response_encode(&r2, &e2, &e2_len) == 0);
    FUZZ_CHECK(same_bytes(e1, e1_len, e2, e2_len));
    free(e1);
    free(e2);
    gm_messenger_response_free(&r1);
    gm_messenger_response_free(&r2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static void (*const fuzz[SEL_COUNT])(const uint8_t *, size_t) = {
        fuzz_envelope, fuzz_content, fuzz_group,    fuzz_prekey_ann,
        fuzz_spk,      fuzz_request, fuzz_response,
    };
    uint8_t *copy;

    if (size == 0) {
        return 0;
    }
    /* The decoder's input in a buffer of its own size: ASan sees a read past its end. */
    copy = exact(size - 1);
    if (size > 1) {
        memcpy(copy, data + 1, size - 1);
    }
    fuzz[data[0] % SEL_COUNT](copy, size - 1);
    free(copy);
    return 0;
}

#ifdef E2E_FUZZ_SEEDS
/*
 * Writes the seed corpus into the directory argv[1]. Build it next to the
 * harness, e.g. with the static libraries of a build directory B:
 *   cc -std=c11 -D_DEFAULT_SOURCE -DE2E_FUZZ_SEEDS -I. -IB/gen/proto \
 *      tests/fuzz/e2e_fuzz.c B/libgm_proto.a -lsodium -lprotobuf-c -lm -o /tmp/e2e_seeds
 */
static const char *seed_dir;
static uint8_t seed_cert[300], seed_ct[48], seed_content[GM_E2E_CONTENT_MAX];
static uint8_t seed_state[GM_E2E_GROUP_STATE_MAX];
static size_t seed_content_len, seed_state_len;

/* Writes selector || bytes[0 .. len) as name, and runs the harness on it. */
static void seed_write(const char *name, uint8_t sel, const uint8_t *bytes, size_t len)
{
    static uint8_t buf[1 + GM_E2E_ENVELOPE_MAX];
    char path[512];
    FILE *f;

    buf[0] = sel;
    memcpy(buf + 1, bytes, len);
    snprintf(path, sizeof path, "%s/%s", seed_dir, name);
    f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL && fwrite(buf, 1, len + 1, f) == len + 1 && fclose(f) == 0);
    LLVMFuzzerTestOneInput(buf, len + 1);
}

static void seed_envelope(const char *name, const gm_envelope_t *e, size_t cut)
{
    static uint8_t buf[GM_E2E_ENVELOPE_MAX];
    size_t len;

    FUZZ_CHECK(gm_wire_envelope_encode(e, buf, sizeof buf, &len) == 0);
    seed_write(name, SEL_ENVELOPE, buf, len - cut);
}

static void seed_content_of(const char *name, const gm_content_t *c)
{
    FUZZ_CHECK(gm_wire_content_encode(c, seed_content, sizeof seed_content, &seed_content_len) ==
               0);
    seed_write(name, SEL_CONTENT, seed_content, seed_content_len);
}

static void seed_group(void)
{
    gm_group_member_t m[3] = {
        {{1}, "GUARD-1", "acme"}, {{2}, "GUARD-2", "acme"}, {{3}, "DISPATCH", "city.pd"}};
    gm_group_state_t g = {.name = "Night shift", .version = 4, .members = m, .n_members = 3};

    memset(g.group_id, 0x6a, GM_ID_LEN);
    g.owner[0] = 3;
    FUZZ_CHECK(gm_wire_group_state_encode(&g, seed_state, sizeof seed_state, &seed_state_len) == 0);
    seed_write("valid_group_state.bin", SEL_GROUP, seed_state, seed_state_len);
    g.owner[0] = 9; /* encoded by hand: the encoder refuses an owner who is not a member */
    for (size_t i = 0; i + GM_ID_LEN <= seed_state_len; i++) {
        if (seed_state[i] == 0x1a && seed_state[i + 1] == GM_ID_LEN && seed_state[i + 2] == 3) {
            seed_state[i + 2] = 9;
            break;
        }
    }
    seed_write("invalid_group_owner_not_member.bin", SEL_GROUP, seed_state, seed_state_len);
    g.owner[0] = 3;
    FUZZ_CHECK(gm_wire_group_state_encode(&g, seed_state, sizeof seed_state, &seed_state_len) == 0);
}

static void seed_contents(void)
{
    gm_content_t c = {
        .sent = 1767225600u, .kind = GM_CONTENT_TEXT, .text = "On my way \xe2\x9c\x93"};
    gm_position_t pos = {.lat = 48.8584,
                         .lon = 2.2945,
                         .accuracy = 8,
                         .heading = 90,
                         .speed = 1.25f,
                         .time = 1767225590u};

    memset(c.msg_id, 0x1d, GM_ID_LEN);
    seed_content_of("valid_content_text.bin", &c);
    c.kind = GM_CONTENT_POSITION;
    c.position = pos;
    seed_content_of("valid_content_position.bin", &c);
    c.kind = GM_CONTENT_ALERT;
    c.alert =
        (gm_alert_t){.kind = GM_ALERT_SOS, .text = "SOS", .has_position = true, .position = pos};
    seed_content_of("valid_content_alert.bin", &c);
    c.kind = GM_CONTENT_RECEIPT;
    c.receipt.kind = GM_RECEIPT_DELIVERED;
    c.receipt.n_ids = 2;
    memset(c.receipt.ids, 0x2e, sizeof c.receipt.ids);
    seed_content_of("valid_content_receipt.bin", &c);
    c.kind = GM_CONTENT_SENDER_KEY;
    c.sender_key = (gm_sender_key_t){.key_id = 1, .iteration = 0};
    memset(c.sender_key.group_id, 0x6a, GM_ID_LEN);
    memset(c.sender_key.chain_key, 0xc4, GM_KEY_LEN);
    memset(c.sender_key.sign_pk, 0x5b, GM_KEY_LEN);
    seed_content_of("valid_content_sender_key.bin", &c);
    c.kind = GM_CONTENT_GROUP;
    c.group = (gm_signed_group_state_t){.state = seed_state, .state_len = seed_state_len};
    memset(c.group.signature, 0x95, GM_SIG_LEN);
    seed_content_of("valid_content_group.bin", &c);
    c.kind = GM_CONTENT_TEXT;
    c.text = "ok";
    FUZZ_CHECK(gm_wire_content_encode(&c, seed_content, sizeof seed_content, &seed_content_len) ==
               0);
    seed_content[seed_content_len - 1] = 0xff; /* "o\xff": not UTF-8 */
    seed_write("invalid_content_text_not_utf8.bin", SEL_CONTENT, seed_content, seed_content_len);
    c.alert = (gm_alert_t){.kind = GM_ALERT_NEED_ASSISTANCE, .text = "fire"};
    c.kind = GM_CONTENT_ALERT;
    FUZZ_CHECK(gm_wire_content_encode(&c, seed_content, sizeof seed_content, &seed_content_len) ==
               0);
}

static void seed_envelopes(void)
{
    gm_envelope_t e = {.kind = GM_ENVELOPE_RATCHET};

    memset(seed_cert, 0xce, sizeof seed_cert);
    memset(seed_ct, 0xc7, sizeof seed_ct);
    memset(e.ratchet.header, 0x11, GM_E2E_HEADER_LEN);
    e.ratchet.ciphertext = seed_ct;
    e.ratchet.ciphertext_len = sizeof seed_ct;
    seed_envelope("valid_envelope_ratchet.bin", &e, 0);
    seed_envelope("invalid_envelope_truncated.bin", &e, 1);
    e = (gm_envelope_t){.kind = GM_ENVELOPE_PREKEY};
    e.prekey = (gm_prekey_msg_t){.cert = seed_cert, .cert_len = sizeof seed_cert, .prekey_id = 5};
    memset(e.prekey.ephemeral, 0xe0, GM_KEY_LEN);
    memset(e.prekey.message.header, 0x12, GM_E2E_HEADER_LEN);
    e.prekey.message.ciphertext = seed_ct;
    e.prekey.message.ciphertext_len = sizeof seed_ct;
    seed_envelope("valid_envelope_prekey.bin", &e, 0);
    e = (gm_envelope_t){.kind = GM_ENVELOPE_GROUP};
    e.group = (gm_group_msg_t){
        .key_id = 1, .iteration = 17, .ciphertext = seed_ct, .ciphertext_len = sizeof seed_ct};
    memset(e.group.group_id, 0x6a, GM_ID_LEN);
    memset(e.group.signature, 0x5e, GM_SIG_LEN);
    seed_envelope("valid_envelope_group.bin", &e, 0);
    e = (gm_envelope_t){.kind = GM_ENVELOPE_BROADCAST};
    e.broadcast = (gm_broadcast_t){.cert = seed_cert,
                                   .cert_len = sizeof seed_cert,
                                   .content = seed_content,
                                   .content_len = seed_content_len};
    memset(e.broadcast.signature, 0xb5, GM_SIG_LEN);
    seed_envelope("valid_envelope_broadcast.bin", &e, 0);
    seed_write("invalid_envelope_empty.bin", SEL_ENVELOPE, seed_ct, 0);
}

static void seed_prekeys(void)
{
    gm_spk_t s = {.id = 3, .created = 1767225600u, .expires = 1767225600u + 7 * 86400u};
    gm_prekey_announcement_t a;
    uint8_t buf[GM_E2E_PREKEY_ANN_MAX];
    size_t len;

    memset(s.pk, 0x9b, GM_KEY_LEN);
    FUZZ_CHECK(gm_wire_spk_encode(&s, a.prekey, sizeof a.prekey, &a.prekey_len) == 0);
    seed_write("valid_spk.bin", SEL_SPK, a.prekey, a.prekey_len);
    memset(a.signature, 0x51, GM_SIG_LEN);
    FUZZ_CHECK(gm_wire_prekey_announcement_encode(&a, buf, sizeof buf, &len) == 0);
    seed_write("valid_prekey_announcement.bin", SEL_PREKEY_ANN, buf, len);
}

static void seed_messenger(void)
{
    static const char *const members[] = {"GUARD-1@acme", "GUARD-2@acme"};
    gm_messenger_request_t q = {.op = GM_MESSENGER_OP_SEND,
                                .to = "GUARD-2@acme",
                                .kind = GM_MESSAGE_TEXT,
                                .text = "gate 3 clear",
                                .priority = 2};
    gm_inbox_entry_t in = {.from = "GUARD-2@acme",
                           .kind = GM_MESSAGE_ALERT,
                           .text = "SOS",
                           .has_position = true,
                           .lat = 1.5,
                           .lon = 2.5,
                           .accuracy = 3,
                           .alert_kind = 1,
                           .sent = 10,
                           .received = 11};
    gm_outbox_entry_t out = {.to = "GUARD-2@acme",
                             .kind = GM_MESSAGE_TEXT,
                             .text = "hi",
                             .state = "read",
                             .queued = 1,
                             .read = 5,
                             .read_count = 1};
    gm_group_info_t gi = {.name = "night",
                          .owner = "GUARD-1@acme",
                          .version = 2,
                          .members = members,
                          .n_members = 2,
                          .have_keys = true};
    gm_messenger_response_t r = {.message = "",
                                 .inbox = &in,
                                 .n_inbox = 1,
                                 .outbox = &out,
                                 .n_outbox = 1,
                                 .groups = &gi,
                                 .n_groups = 1,
                                 .unread = 1};
    uint8_t buf[512], *enc;
    size_t len;

    FUZZ_CHECK(gm_wire_messenger_request_encode(&q, buf, sizeof buf, &len) == 0);
    seed_write("valid_messenger_request.bin", SEL_REQUEST, buf, len);
    memset(in.msg_id, 0x01, GM_ID_LEN);
    memset(out.msg_id, 0x02, GM_ID_LEN);
    memset(gi.group_id, 0x03, GM_ID_LEN);
    FUZZ_CHECK(gm_wire_messenger_response_encode(&r, &enc, &len) == 0);
    seed_write("valid_messenger_response.bin", SEL_RESPONSE, enc, len);
    free(enc);
}

int main(int argc, char **argv)
{
    FUZZ_CHECK(argc == 2);
    seed_dir = argv[1];
    seed_group();
    seed_contents(); /* leaves an encoded alert in seed_content for the broadcast */
    seed_envelopes();
    seed_prekeys();
    seed_messenger();
    return 0;
}
#endif

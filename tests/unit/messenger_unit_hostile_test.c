/*
 * Hostile input to the messenger: envelopes a relay makes up or alters
 * (each one counted under its own reason, none shown, none fatal), and
 * requests the messenger must refuse with a reason.
 */
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/x3dh.h"
#include "node/identity.h"
#include "node/messenger_internal.h"
#include "tests/unit/messenger_unit_test.h"

#define ALICE "alice@" MU_ORG
#define BOB "bob@" MU_ORG
#define BROADCAST_CTX "guardmesh/broadcast/1"

static gm_dest_t dest(gm_dst_kind_t kind, const uint8_t *id)
{
    gm_dest_t d = {.kind = kind};

    if (id != NULL) {
        memcpy(d.id, id, GM_ID_LEN);
    }
    return d;
}

/* ---- the fixture: alice owns "watch", bob is in it, both dial the relay r ---- */

static struct {
    size_t r, a, b;
    uint8_t gid[GM_ID_LEN], other[GM_ID_LEN]; /* watch, and a group nobody is in */
    gm_dest_t to_b, to_all, to_grp, to_other;
    const mu_bundle_t *gm; /* alice's "group check" as bob got it */
    uint8_t body[4096];
} hx;

static void watch_group(size_t *r, size_t *a, size_t *b)
{
    const char *to_r[] = {"r", NULL}, *members[] = {BOB, NULL};
    size_t both[2];

    *r = mu_relay("r", NULL);
    *a = mu_node("alice", to_r);
    *b = mu_node("bob", to_r);
    both[0] = *a;
    both[1] = *b;
    cr_assert(mu_wait_directory(both, 2));
    mu_capture(*b);
    mu_group(*a, GM_MESSENGER_OP_GROUP_CREATE, "watch", members);
    mu_send_group(*a, "watch", "group check");
    cr_assert(mu_wait_text(*b, "group check", 1), "bob never read the group");
}

/* The last group message captured, or NULL. */
static const mu_bundle_t *last_group_message(void)
{
    for (size_t k = mu_n_captured; k > 0; k--) {
        const mu_bundle_t *x = &mu_captured[k - 1];
        if (mu_envelope_kind(x->b.body, x->b.body_len) == GM_ENVELOPE_GROUP) {
            return x;
        }
    }
    return NULL;
}

static void hostile_setup(void)
{
    gm_messenger_request_t req = {.op = GM_MESSENGER_OP_GROUP_LIST};
    gm_messenger_response_t resp;

    watch_group(&hx.r, &hx.a, &hx.b);
    hx.gm = last_group_message();
    cr_assert_not_null(hx.gm);
    mu_call(hx.b, &req, &resp);
    cr_assert_eq(resp.n_groups, 1);
    memcpy(hx.gid, resp.groups[0].group_id, GM_ID_LEN);
    gm_messenger_response_free(&resp);
    randombytes_buf(hx.other, sizeof hx.other);
    hx.to_b = dest(GM_DST_NODE, mu_id(hx.b));
    hx.to_all = dest(GM_DST_ALL, NULL);
    hx.to_grp = dest(GM_DST_GROUP, hx.gid);
    hx.to_other = dest(GM_DST_GROUP, hx.other);
}

/* mallory: certified by an organisation bob does not trust. */
static void untrusted_node(gm_cert_t *cert, gm_node_keys_t *keys)
{
    char dir[GM_PATH_MAX], path[GM_PATH_MAX + 16];
    gm_why_t why;

    gm_test_node_dir(&mu.org_b, mu.tmp, "mallory", GM_ROLE_HANDHELD, 1000, 4000000000u, dir, keys);
    snprintf(path, sizeof path, "%s/node.cert", dir);
    cr_assert_eq(gm_cert_load(path, cert, &why), 0, "%s", why.msg);
}

/* ---- hand-made protobuf, for what our encoders refuse to write ---- */

static size_t pb_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;

    do {
        out[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v != 0);
    return n;
}

static size_t pb_bytes(uint8_t *out, unsigned field, const void *data, size_t len)
{
    size_t n = pb_varint(out, (uint64_t)field << 3 | 2);

    n += pb_varint(out + n, len);
    memcpy(out + n, data, len);
    return n + len;
}

/* Envelope{ratchet: {header: 39 bytes, ciphertext: 32 bytes}}: the header one byte short. */
static size_t short_header_envelope(uint8_t *out)
{
    uint8_t inner[128], hdr[GM_E2E_HEADER_LEN - 1], ct[32];
    size_t n;

    memset(hdr, 0x11, sizeof hdr);
    memset(ct, 0x22, sizeof ct);
    n = pb_bytes(inner, 1, hdr, sizeof hdr);
    n += pb_bytes(inner + n, 2, ct, sizeof ct);
    return pb_bytes(out, 1, inner, n);
}

/* Envelope{group: {...signature: 63 bytes}}. */
static size_t short_signature_envelope(uint8_t *out, const uint8_t group[GM_ID_LEN])
{
    uint8_t inner[256], ct[32], sig[GM_SIG_LEN - 1];
    size_t n;

    memset(ct, 0x33, sizeof ct);
    memset(sig, 0x44, sizeof sig);
    n = pb_bytes(inner, 1, group, GM_ID_LEN);
    n += pb_varint(inner + n, 2 << 3);
    n += pb_varint(inner + n, 7);
    n += pb_varint(inner + n, 3 << 3);
    n += pb_varint(inner + n, 0);
    n += pb_bytes(inner + n, 4, ct, sizeof ct);
    n += pb_bytes(inner + n, 5, sig, sizeof sig);
    return pb_bytes(out, 3, inner, n);
}

/* ---- envelopes made with our encoders ---- */

static size_t encode_envelope(const gm_envelope_t *env, uint8_t *out, size_t cap)
{
    size_t len = 0;

    cr_assert_eq(gm_wire_envelope_encode(env, out, cap, &len), 0);
    return len;
}

/* A Broadcast of an alert, signed with keys (a wrong signature if keys is NULL). */
/* A signed alert to everyone, sent at the receiver's now plus age_s (negative: in the past). */
static size_t broadcast_at(const gm_cert_t *cert, const gm_node_keys_t *keys, const char *text,
                           int64_t age_s, uint8_t *out, size_t cap)
{
    gm_content_t c = {.kind = GM_CONTENT_ALERT,
                      .sent = (uint64_t)((int64_t)gm_node_wall(mu.nodes[hx.b]) + age_s)};
    gm_envelope_t env = {.kind = GM_ENVELOPE_BROADCAST};
    uint8_t content[512];
    size_t len;

    randombytes_buf(c.msg_id, sizeof c.msg_id);
    c.alert.kind = GM_ALERT_SOS;
    c.alert.text = text;
    cr_assert_eq(gm_wire_content_encode(&c, content, sizeof content, &len), 0);
    memset(env.broadcast.signature, 0x5a, GM_SIG_LEN);
    if (keys != NULL) {
        cr_assert_eq(gm_node_keys_sign(keys, BROADCAST_CTX, content, len, env.broadcast.signature),
                     0);
    }
    env.broadcast.cert = cert->encoded;
    env.broadcast.cert_len = cert->encoded_len;
    env.broadcast.content = content;
    env.broadcast.content_len = len;
    return encode_envelope(&env, out, cap);
}

static size_t broadcast(const gm_cert_t *cert, const gm_node_keys_t *keys, const char *text,
                        uint8_t *out, size_t cap)
{
    return broadcast_at(cert, keys, text, 0, out, cap);
}

/* A well-formed ratchet or group envelope whose ciphertext is noise. */
static size_t noise_envelope(gm_envelope_kind_t kind, const uint8_t *group, uint8_t *out,
                             size_t cap)
{
    gm_envelope_t env = {.kind = kind};
    uint8_t ct[48];

    randombytes_buf(ct, sizeof ct);
    if (kind == GM_ENVELOPE_GROUP) {
        memcpy(env.group.group_id, group, GM_ID_LEN);
        env.group.key_id = 7;
        env.group.ciphertext = ct;
        env.group.ciphertext_len = sizeof ct;
        randombytes_buf(env.group.signature, GM_SIG_LEN);
    } else {
        randombytes_buf(env.ratchet.header, GM_E2E_HEADER_LEN);
        env.ratchet.ciphertext = ct;
        env.ratchet.ciphertext_len = sizeof ct;
    }
    return encode_envelope(&env, out, cap);
}

/* A PreKey message carrying cert, with a noise ratchet message inside. */
static size_t prekey_envelope(const gm_cert_t *cert, uint32_t prekey_id, uint8_t *out, size_t cap)
{
    gm_envelope_t env = {.kind = GM_ENVELOPE_PREKEY};
    uint8_t ct[48], sk[GM_KEY_LEN], seed[GM_KEY_LEN];

    randombytes_buf(ct, sizeof ct);
    randombytes_buf(seed, sizeof seed);
    gm_x25519_keypair(env.prekey.ephemeral, sk, seed);
    env.prekey.cert = cert->encoded;
    env.prekey.cert_len = cert->encoded_len;
    env.prekey.prekey_id = prekey_id;
    randombytes_buf(env.prekey.message.header, GM_E2E_HEADER_LEN);
    env.prekey.message.ciphertext = ct;
    env.prekey.message.ciphertext_len = sizeof ct;
    return encode_envelope(&env, out, cap);
}

/* body with one bit of the group message's signature flipped. */
static size_t flip_group_signature(const mu_bundle_t *orig, uint8_t *out, size_t cap)
{
    gm_envelope_t env;
    size_t len;

    cr_assert_eq(gm_wire_envelope_decode(orig->b.body, orig->b.body_len, &env), 0);
    env.group.signature[0] ^= 1;
    len = encode_envelope(&env, out, cap);
    gm_envelope_free(&env);
    return len;
}

/* ---- one hostile bundle, one counter ---- */

static uint64_t stat_at(const gm_messenger_stats_t *s, size_t off)
{
    uint64_t v;

    memcpy(&v, (const char *)s + off, sizeof v);
    return v;
}

static const struct {
    const char *name;
    size_t off;
} drop_fields[] = {
    {"dropped_malformed", offsetof(gm_messenger_stats_t, dropped_malformed)},
    {"dropped_auth", offsetof(gm_messenger_stats_t, dropped_auth)},
    {"dropped_replay", offsetof(gm_messenger_stats_t, dropped_replay)},
    {"dropped_no_session", offsetof(gm_messenger_stats_t, dropped_no_session)},
    {"dropped_untrusted", offsetof(gm_messenger_stats_t, dropped_untrusted)},
    {"dropped_limit", offsetof(gm_messenger_stats_t, dropped_limit)},
    {"dropped_not_member", offsetof(gm_messenger_stats_t, dropped_not_member)},
};

/* The relay r sends body to b as from src: exactly the drop counter at offset field moves. */
static void expect_drop(size_t r, size_t b, const char *what, const uint8_t *src,
                        const gm_dest_t *dst, const uint8_t *body, size_t len, size_t field)
{
    gm_messenger_stats_t before = mu_stats(b), after;
    uint64_t delivered = mu_delivered(b);

    mu_inject_body(r, b, src, dst, body, len);
    cr_assert(mu_wait_delivered(b, delivered + 1), "%s: never reached the messenger", what);
    after = mu_stats(b);
    for (size_t k = 0; k < sizeof drop_fields / sizeof drop_fields[0]; k++) {
        size_t off = drop_fields[k].off;
        uint64_t want = stat_at(&before, off) + (off == field);
        cr_assert_eq(stat_at(&after, off), want, "%s: %s is %llu, expected %llu", what,
                     drop_fields[k].name, (unsigned long long)stat_at(&after, off),
                     (unsigned long long)want);
    }
    cr_assert_eq(after.inbox_added, before.inbox_added, "%s: shown in the inbox", what);
    cr_assert_eq(after.pending_group, before.pending_group, "%s: kept as pending", what);
}

/* expect_drop from the fixture's relay to bob, the counter named. */
#define DROP(what, src, dst, body, len, field)                                                     \
    expect_drop(hx.r, hx.b, what, src, dst, body, len, offsetof(gm_messenger_stats_t, field))

/* Alice writes to bob, who must still read it; his inbox then has shown + 1 entries. */
static void assert_bob_still_reads(size_t shown)
{
    mu_send(hx.a, BOB, "still here");
    cr_assert(mu_wait_text(hx.b, "still here", 1), "bob stopped taking messages");
    cr_assert_eq(mu_inbox_count(hx.b, NULL), shown + 1, "a hostile envelope was shown");
}

Test(messenger, malformed_envelopes_are_counted_and_dropped)
{
    uint8_t seed[32] = {42};
    size_t len;

    hostile_setup();
    randombytes_buf_deterministic(hx.body, 300, seed);
    cr_assert_eq(mu_envelope_kind(hx.body, 300), 0);
    DROP("random bytes", mu_id(hx.r), &hx.to_b, hx.body, 300, dropped_malformed);
    len = short_header_envelope(hx.body);
    cr_assert_eq(mu_envelope_kind(hx.body, len), 0);
    DROP("39-byte ratchet header", mu_id(hx.a), &hx.to_b, hx.body, len, dropped_malformed);
    len = short_signature_envelope(hx.body, hx.gid);
    cr_assert_eq(mu_envelope_kind(hx.body, len), 0);
    DROP("63-byte group signature", mu_id(hx.a), &hx.to_grp, hx.body, len, dropped_malformed);
    /* a group envelope outside its group, 1:1 envelopes flooded */
    len = noise_envelope(GM_ENVELOPE_GROUP, hx.other, hx.body, sizeof hx.body);
    DROP("group message for an unknown group, to bob", mu_id(hx.a), &hx.to_b, hx.body, len,
         dropped_malformed);
    DROP("group message for an unknown group, in watch", mu_id(hx.a), &hx.to_grp, hx.body, len,
         dropped_malformed);
    len = noise_envelope(GM_ENVELOPE_RATCHET, NULL, hx.body, sizeof hx.body);
    DROP("ratchet message to everyone", mu_id(hx.a), &hx.to_all, hx.body, len, dropped_malformed);
    len = prekey_envelope(gm_node_cert(mu.nodes[hx.a]), 1, hx.body, sizeof hx.body);
    DROP("prekey message to everyone", mu_id(hx.a), &hx.to_all, hx.body, len, dropped_malformed);
    assert_bob_still_reads(1);
}

Test(messenger, forged_senders_are_counted_and_dropped)
{
    const gm_cert_t *cert_a, *cert_r;
    const gm_node_keys_t *keys_r;
    gm_cert_t cert_m;
    gm_node_keys_t keys_m;
    size_t len;

    hostile_setup();
    cert_a = gm_node_cert(mu.nodes[hx.a]);
    cert_r = gm_node_cert(mu.nodes[hx.r]);
    keys_r = gm_node_keys(mu.nodes[hx.r]);
    len = broadcast(cert_a, NULL, "forged alert", hx.body, sizeof hx.body);
    DROP("broadcast with a bad signature", mu_id(hx.a), &hx.to_all, hx.body, len, dropped_auth);
    len = broadcast(cert_r, keys_r, "alert in alice's name", hx.body, sizeof hx.body);
    DROP("broadcast whose certificate is the relay's", mu_id(hx.a), &hx.to_all, hx.body, len,
         dropped_auth);
    len = prekey_envelope(cert_a, 1, hx.body, sizeof hx.body);
    DROP("prekey message with alice's certificate from the relay", mu_id(hx.r), &hx.to_b, hx.body,
         len, dropped_auth);
    untrusted_node(&cert_m, &keys_m);
    len = broadcast(&cert_m, &keys_m, "alert from an untrusted org", hx.body, sizeof hx.body);
    DROP("broadcast from an untrusted organisation", cert_m.body.node_id, &hx.to_all, hx.body, len,
         dropped_untrusted);
    len = prekey_envelope(&cert_m, 1, hx.body, sizeof hx.body);
    DROP("prekey message from an untrusted organisation", cert_m.body.node_id, &hx.to_b, hx.body,
         len, dropped_untrusted);
    gm_node_keys_wipe(&keys_m);
    /* signed and genuine, but from before the longest bundle lifetime: an old SOS replayed */
    len = broadcast_at(cert_r, keys_r, "old relay alert", -(int64_t)(GM_BUNDLE_LIFETIME_MAX + 3600),
                       hx.body, sizeof hx.body);
    DROP("a signed broadcast older than any bundle lifetime", mu_id(hx.r), &hx.to_all, hx.body,
         len, dropped_replay);

    /* the same path delivers what is genuine: the relay's own signed alert */
    len = broadcast(cert_r, keys_r, "genuine relay alert", hx.body, sizeof hx.body);
    mu_inject_body(hx.r, hx.b, mu_id(hx.r), &hx.to_all, hx.body, len);
    cr_assert(mu_wait_text(hx.b, "genuine relay alert", 1), "a genuine broadcast was refused");
    assert_bob_still_reads(2);
}

Test(messenger, replays_and_messages_without_keys_are_counted_and_dropped)
{
    uint64_t delivered, accepted;
    size_t len;

    hostile_setup();
    DROP("group message replayed", mu_id(hx.a), &hx.to_grp, hx.gm->b.body, hx.gm->b.body_len,
         dropped_replay);
    len = flip_group_signature(hx.gm, hx.body, sizeof hx.body);
    DROP("group message with an altered signature", mu_id(hx.a), &hx.to_grp, hx.body, len,
         dropped_auth);
    len = noise_envelope(GM_ENVELOPE_GROUP, hx.gid, hx.body, sizeof hx.body);
    DROP("group message from a non-member", mu_id(hx.r), &hx.to_grp, hx.body, len,
         dropped_not_member);
    len = noise_envelope(GM_ENVELOPE_RATCHET, NULL, hx.body, sizeof hx.body);
    DROP("ratchet message without a session", mu_id(hx.r), &hx.to_b, hx.body, len,
         dropped_no_session);
    len = prekey_envelope(gm_node_cert(mu.nodes[hx.r]), 999, hx.body, sizeof hx.body);
    DROP("prekey message for an unknown prekey", mu_id(hx.r), &hx.to_b, hx.body, len,
         dropped_no_session);

    /* a flood for a group bob is not in: held and passed on, never given to his messenger */
    delivered = mu_delivered(hx.b);
    accepted = mu_accepted(hx.b);
    len = noise_envelope(GM_ENVELOPE_GROUP, hx.other, hx.body, sizeof hx.body);
    mu_inject_body(hx.r, hx.b, mu_id(hx.a), &hx.to_other, hx.body, len);
    cr_assert(mu_wait_accepted(hx.b, accepted + 1), "the flood never reached bob");
    cr_assert_eq(mu_delivered(hx.b), delivered);
    cr_assert_eq(mu_inbox_count(hx.b, "group check"), 1);
    assert_bob_still_reads(1);
}

/* ---- refusals through gm_messenger_call ---- */

/* Sends req to node i; asserts it is refused with err and a message holding needle. */
static void expect_refusal(size_t i, const gm_messenger_request_t *req, int err, const char *needle)
{
    gm_messenger_response_t r;

    mu_call(i, req, &r);
    cr_assert_eq(r.error, err, "error %d (%s), expected %d", r.error, r.message, err);
    cr_assert_not_null(strstr(r.message, needle), "\"%s\" does not say \"%s\"", r.message, needle);
    cr_assert_not(r.has_msg_id);
    gm_messenger_response_free(&r);
}

static uint64_t group_version(size_t i)
{
    gm_messenger_request_t req = {.op = GM_MESSENGER_OP_GROUP_LIST};
    gm_messenger_response_t r;
    uint64_t v;

    mu_call(i, &req, &r);
    cr_assert_eq(r.n_groups, 1);
    v = r.groups[0].version;
    gm_messenger_response_free(&r);
    return v;
}

Test(messenger, refused_requests_say_why_and_queue_nothing)
{
    const char *nobody[] = {"nobody@" MU_ORG}, *alice[] = {ALICE}, *bob[] = {BOB};
    const char *carol[] = {"carol@" MU_ORG};
    gm_messenger_request_t req = {.kind = GM_MESSAGE_TEXT, .text = "hello"};
    size_t r, a, b;
    gm_mesh_stats_t ma0, ma1, mb0, mb1;

    watch_group(&r, &a, &b);
    gm_test_run_for(&mu.loop, 300); /* receipts and key distributions settle */
    gm_mesh_stats(mu.meshes[a], &ma0);
    gm_mesh_stats(mu.meshes[b], &mb0);
    cr_assert_eq(mu_outbox_count(b, NULL), 0);
    cr_assert_eq(mu_outbox_count(a, NULL), 1); /* the group check */

    req.op = GM_MESSENGER_OP_SEND;
    req.to = "nobody@" MU_ORG;
    expect_refusal(a, &req, GM_ENOENT, "unknown recipient nobody@" MU_ORG);
    req.to = NULL;
    req.group = "no-such-group";
    expect_refusal(a, &req, GM_ENOENT, "unknown group no-such-group");
    req.group = NULL;
    expect_refusal(a, &req, GM_EPROTO, "needs --to");

    /* bob is in watch but does not own it */
    req = (gm_messenger_request_t){
        .op = GM_MESSENGER_OP_GROUP_ADD, .group = "watch", .members = carol, .n_members = 1};
    expect_refusal(b, &req, GM_EAUTH, "only the owner of group watch");
    req.op = GM_MESSENGER_OP_GROUP_REMOVE;
    req.members = alice;
    expect_refusal(b, &req, GM_EAUTH, "only the owner of group watch");
    req.group = "no-such-group";
    expect_refusal(b, &req, GM_ENOENT, "unknown group no-such-group");

    /* the owner, with members that cannot be added or removed */
    req = (gm_messenger_request_t){
        .op = GM_MESSENGER_OP_GROUP_ADD, .group = "watch", .members = nobody, .n_members = 1};
    expect_refusal(a, &req, GM_ENOENT, "unknown recipient nobody@" MU_ORG);
    req.op = GM_MESSENGER_OP_GROUP_REMOVE;
    req.members = carol;
    expect_refusal(a, &req, GM_ENOENT, "not all of those are members of watch");
    req.op = GM_MESSENGER_OP_GROUP_CREATE;
    req.members = bob;
    expect_refusal(a, &req, GM_EEXIST, "group watch exists already");

    gm_test_run_for(&mu.loop, 300);
    cr_assert_eq(mu_outbox_count(a, NULL), 1, "a refused request was queued");
    cr_assert_eq(mu_outbox_count(b, NULL), 0, "a refused request was queued");
    cr_assert_eq(group_version(a), 1);
    cr_assert_eq(group_version(b), 1);
    gm_mesh_stats(mu.meshes[a], &ma1);
    gm_mesh_stats(mu.meshes[b], &mb1);
    cr_assert_eq(ma1.originated, ma0.originated, "a refused request sent bundles");
    cr_assert_eq(mb1.originated, mb0.originated, "a refused request sent bundles");
}

/*
 * A peer that sends without end cannot fill the disk the custody store needs:
 * past 50,000 inbox rows the oldest read ones go at housekeeping; unread
 * ones always stay.
 */
Test(messenger, inbox_keeps_unread_messages_and_prunes_the_oldest_read_ones)
{
    size_t a = mu_node("alice", NULL);
    sqlite3 *db = gm_mesh_db(mu.meshes[a]);
    static const char fill[] =
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < %d)"
        " INSERT INTO e2e_inbox(sender, msg_id, received, read, sealed)"
        " SELECT randomblob(16), randomblob(16), 0, %d, x'00' FROM n";
    char sql[512];

    cr_assert_eq(gm_mesh_begin(mu.meshes[a], NULL), 0);
    snprintf(sql, sizeof sql, fill, 5, 0); /* the oldest: unread */
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    snprintf(sql, sizeof sql, fill, GM_MSGR_KEEP_MESSAGES + 100, 1);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq(gm_mesh_commit(mu.meshes[a]), 0);
    cr_assert_eq(mu_rows(a, "e2e_inbox", "1"), GM_MSGR_KEEP_MESSAGES + 105);

    gm_test_run_for(&mu.loop, 10500); /* housekeeping runs every 10 s */
    cr_assert_eq(mu_rows(a, "e2e_inbox", "read = 0"), 5, "unread messages were pruned");
    cr_assert_eq(mu_rows(a, "e2e_inbox", "read = 1"), GM_MSGR_KEEP_MESSAGES,
                 "the read messages beyond the limit are still there");
}

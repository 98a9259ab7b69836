/*
 * 1:1 sessions under a store-and-forward mesh: replays by a relay, first
 * messages crossing, first messages out of order.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/messenger_unit_test.h"

#define ALICE "alice@" MU_ORG
#define BOB "bob@" MU_ORG

static gm_dest_t to_node(size_t i)
{
    gm_dest_t d = {.kind = GM_DST_NODE};

    memcpy(d.id, mu_id(i), GM_ID_LEN);
    return d;
}

static uint64_t drops(const gm_messenger_stats_t *s)
{
    return s->dropped_malformed + s->dropped_auth + s->dropped_replay + s->dropped_no_session +
           s->dropped_untrusted + s->dropped_limit + s->dropped_not_member;
}

/* The ephemeral key of node i's active session with peer j, as hex ("" if none). */
static void active_ek(size_t i, size_t j, char out[2 * GM_KEY_LEN + 1])
{
    sqlite3_stmt *st;
    long rows = 0;

    out[0] = 0;
    cr_assert_eq(sqlite3_prepare_v2(gm_mesh_db(mu.meshes[i]),
                                    "SELECT ek FROM e2e_session WHERE peer = ?1 AND active = 1", -1,
                                    &st, NULL),
                 SQLITE_OK);
    sqlite3_bind_blob(st, 1, mu_id(j), GM_ID_LEN, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        rows++;
        cr_assert_eq(sqlite3_column_bytes(st, 0), GM_KEY_LEN);
        sodium_bin2hex(out, 2 * GM_KEY_LEN + 1, sqlite3_column_blob(st, 0), GM_KEY_LEN);
    }
    sqlite3_finalize(st);
    cr_assert_eq(rows, 1, "%ld active sessions with one peer", rows);
}

/* alice and bob, both dialling the relay r; returns when each has the other's prekey. */
static void relay_pair(size_t *r, size_t *a, size_t *b)
{
    const char *to_r[] = {"r", NULL};
    size_t both[2];

    *r = mu_relay("r", NULL);
    *a = mu_node("alice", to_r);
    *b = mu_node("bob", to_r);
    both[0] = *a;
    both[1] = *b;
    cr_assert(mu_wait_directory(both, 2), "alice and bob never learnt each other's prekey");
}

/* Injects body into `to` from the relay as a new bundle from src; waits until it is handled. */
static void replay(size_t r, size_t to, size_t src, const mu_bundle_t *orig)
{
    gm_dest_t dst = to_node(to);
    uint64_t before = mu_delivered(to);

    mu_inject_body(r, to, mu_id(src), &dst, orig->b.body, orig->b.body_len);
    cr_assert(mu_wait_delivered(to, before + 1), "the replayed bundle never reached bob");
}

Test(messenger, relay_replaying_a_message_in_a_new_bundle_shows_it_once)
{
    size_t r, a, b;
    const mu_bundle_t *first, *second;
    gm_messenger_stats_t before, after;
    gm_mesh_stats_t ms0, ms1;

    relay_pair(&r, &a, &b);
    mu_capture(b);
    mu_send(a, BOB, "first");
    cr_assert(mu_wait_text(b, "first", 1));
    first = mu_last_from(a);
    cr_assert_not_null(first);
    cr_assert_eq(mu_envelope_kind(first->b.body, first->b.body_len), GM_ENVELOPE_PREKEY);
    /* bob's delivered receipt tells alice her session is answered: plain ratchet from now */
    cr_assert(mu_wait_outbox(a, "delivered", 1), "no receipt came back to alice");
    mu_send(a, BOB, "second");
    cr_assert(mu_wait_text(b, "second", 1));
    second = mu_last_from(a);
    cr_assert_neq(second, first);
    cr_assert_eq(mu_envelope_kind(second->b.body, second->b.body_len), GM_ENVELOPE_RATCHET);

    /* the relay sends both bodies again, each in a bundle with a new id */
    before = mu_stats(b);
    replay(r, b, a, second);
    replay(r, b, a, first);
    after = mu_stats(b);
    cr_assert_eq(after.dropped_replay, before.dropped_replay + 2, "replays counted: %llu",
                 (unsigned long long)(after.dropped_replay - before.dropped_replay));
    cr_assert_eq(after.inbox_added, before.inbox_added);
    cr_assert_eq(after.sessions_accepted, before.sessions_accepted);
    cr_assert_eq(mu_inbox_count(b, "first"), 1);
    cr_assert_eq(mu_inbox_count(b, "second"), 1);

    /* the very same bundle again: the mesh knows its id, the messenger never sees it */
    gm_mesh_stats(mu.meshes[b], &ms0);
    mu_inject(r, b, second->enc, second->len);
    gm_test_run_for(&mu.loop, 200);
    gm_mesh_stats(mu.meshes[b], &ms1);
    cr_assert_geq(ms1.duplicates, ms0.duplicates + 1, "the copy never reached bob");
    cr_assert_eq(ms1.delivered, ms0.delivered);

    /* the session is intact: the next message opens */
    mu_send(a, BOB, "third");
    cr_assert(mu_wait_text(b, "third", 1), "the replays broke bob's session");
    cr_assert_eq(mu_inbox_count(b, NULL), 3);
}

Test(messenger, first_message_replayed_after_the_session_moved_on_is_refused)
{
    size_t r, a, b;
    const mu_bundle_t *first;
    gm_messenger_stats_t before, after;
    char where[128], sql[192], hex[2 * GM_ID_LEN + 1];

    relay_pair(&r, &a, &b);
    mu_capture(b);
    mu_send(a, BOB, "hello");
    cr_assert(mu_wait_text(b, "hello", 1));
    first = mu_last_from(a);
    cr_assert_not_null(first);
    cr_assert_eq(mu_envelope_kind(first->b.body, first->b.body_len), GM_ENVELOPE_PREKEY);
    /* both sides take DH ratchet steps */
    mu_send(b, ALICE, "reply");
    cr_assert(mu_wait_text(a, "reply", 1));
    mu_send(a, BOB, "again");
    cr_assert(mu_wait_text(b, "again", 1));
    mu_send(b, ALICE, "reply again");
    cr_assert(mu_wait_text(a, "reply again", 1));

    before = mu_stats(b);
    replay(r, b, a, first);
    after = mu_stats(b);
    cr_assert_eq(after.dropped_replay + after.dropped_auth,
                 before.dropped_replay + before.dropped_auth + 1);
    cr_assert_eq(after.sessions_accepted, before.sessions_accepted, "a replay started a session");
    cr_assert_eq(after.inbox_added, before.inbox_added);
    cr_assert_eq(mu_inbox_count(b, "hello"), 1);
    cr_assert_eq(mu_inbox_count(b, NULL), 2);

    /*
     * Once the session itself is gone (trimmed after GM_MSGR_MAX_ARCHIVED newer
     * ones), the first message would open with bob's prekey all over again:
     * only the record of (prekey, ephemeral) pairs seen stops it.
     */
    sodium_bin2hex(hex, sizeof hex, mu_id(a), GM_ID_LEN);
    snprintf(where, sizeof where, "peer = x'%s'", hex);
    snprintf(sql, sizeof sql, "DELETE FROM e2e_session WHERE %s", where);
    cr_assert_eq(sqlite3_exec(gm_mesh_db(mu.meshes[b]), sql, NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq(mu_rows(b, "e2e_session", where), 0);
    before = mu_stats(b);
    replay(r, b, a, first);
    after = mu_stats(b);
    cr_assert_eq(after.dropped_replay, before.dropped_replay + 1);
    cr_assert_eq(after.sessions_accepted, before.sessions_accepted, "a replay started a session");
    cr_assert_eq(mu_rows(b, "e2e_session", where), 0, "the replay left a session behind");
    cr_assert_eq(mu_inbox_count(b, "hello"), 1);
    cr_assert_eq(mu_inbox_count(b, NULL), 2);
}

Test(messenger, first_messages_crossing_converge_on_one_session)
{
    const char *to_a[] = {"alice", NULL};
    size_t a = mu_node("alice", NULL), b = mu_node("bob", to_a);
    size_t both[] = {a, b};
    char text[32], ek_a[2 * GM_KEY_LEN + 1], ek_b[2 * GM_KEY_LEN + 1];
    gm_messenger_stats_t sa, sb;

    cr_assert(mu_wait_directory(both, 2));
    mu_cut("bob", "alice", true);
    cr_assert(mu_wait_link(a, b, false));
    /* each starts a session before it has heard anything from the other */
    for (int k = 1; k <= 2; k++) {
        snprintf(text, sizeof text, "a%d", k);
        mu_send(a, BOB, text);
        snprintf(text, sizeof text, "b%d", k);
        mu_send(b, ALICE, text);
    }
    cr_assert_eq(mu_stats(a).sessions_started, 1);
    cr_assert_eq(mu_stats(b).sessions_started, 1);
    mu_cut("bob", "alice", false);
    cr_assert(mu_wait_text(a, "b2", 1) && mu_wait_text(a, "b1", 1));
    cr_assert(mu_wait_text(b, "a2", 1) && mu_wait_text(b, "a1", 1));

    /* then both talk at once, several messages each way */
    for (int k = 3; k <= 7; k++) {
        snprintf(text, sizeof text, "a%d", k);
        mu_send(a, BOB, text);
        snprintf(text, sizeof text, "b%d", k);
        mu_send(b, ALICE, text);
    }
    cr_assert(mu_wait_text(b, "a7", 1) && mu_wait_text(a, "b7", 1));
    cr_assert(mu_wait_outbox(a, "delivered", 7), "alice's receipts: %zu of 7",
              mu_outbox_count(a, "delivered"));
    cr_assert(mu_wait_outbox(b, "delivered", 7), "bob's receipts: %zu of 7",
              mu_outbox_count(b, "delivered"));
    for (int k = 1; k <= 7; k++) {
        snprintf(text, sizeof text, "a%d", k);
        cr_assert_eq(mu_inbox_count(b, text), 1, "%s shown %zu times", text,
                     mu_inbox_count(b, text));
        snprintf(text, sizeof text, "b%d", k);
        cr_assert_eq(mu_inbox_count(a, text), 1, "%s shown %zu times", text,
                     mu_inbox_count(a, text));
    }
    cr_assert_eq(mu_inbox_count(a, NULL), 7);
    cr_assert_eq(mu_inbox_count(b, NULL), 7);
    sa = mu_stats(a);
    sb = mu_stats(b);
    cr_assert_eq(drops(&sa), 0);
    cr_assert_eq(drops(&sb), 0);
    cr_assert_eq(sa.sessions_started + sb.sessions_started, 2, "a session was started again");
    cr_assert_eq(sa.sessions_accepted + sb.sessions_accepted, 2);
    /* both ends hold the same session as the active one */
    active_ek(a, b, ek_a);
    active_ek(b, a, ek_b);
    cr_assert_str_eq(ek_a, ek_b, "alice and bob use different sessions");
}

Test(messenger, first_messages_out_of_order_each_show_once)
{
    size_t r, a, b, n;
    mu_bundle_t held[8];
    gm_dest_t to_b;
    gm_messenger_stats_t sb;
    static const char *const texts[3] = {"one", "two", "three"};
    static const size_t order[3] = {2, 0, 1};

    relay_pair(&r, &a, &b);
    to_b = to_node(b);
    mu_cut("alice", "r", true);
    cr_assert(mu_wait_link(a, r, false));
    for (size_t k = 0; k < 3; k++) {
        mu_send(a, BOB, texts[k]);
    }
    /* alice's store holds the three, oldest first: all PreKey messages of one session */
    n = mu_held(a, &to_b, held, 8);
    cr_assert_eq(n, 3);
    for (size_t k = 0; k < n; k++) {
        cr_assert_eq(mu_envelope_kind(held[k].b.body, held[k].b.body_len), GM_ENVELOPE_PREKEY);
    }
    /* a relay that carried them hands them on third, first, second */
    for (size_t k = 0; k < 3; k++) {
        mu_inject(r, b, held[order[k]].enc, held[order[k]].len);
    }
    for (size_t k = 0; k < 3; k++) {
        cr_assert(mu_wait_text(b, texts[k], 1), "%s never showed", texts[k]);
    }
    /* alice comes back and offers them again: the same bundles, nothing shown twice */
    mu_cut("alice", "r", false);
    cr_assert(mu_wait_outbox(a, "delivered", 3), "alice's receipts: %zu of 3",
              mu_outbox_count(a, "delivered"));
    gm_test_run_for(&mu.loop, 300);
    for (size_t k = 0; k < 3; k++) {
        cr_assert_eq(mu_inbox_count(b, texts[k]), 1);
    }
    cr_assert_eq(mu_inbox_count(b, NULL), 3);
    sb = mu_stats(b);
    cr_assert_eq(sb.sessions_accepted, 1, "one session, not one per first message");
    cr_assert_eq(drops(&sb), 0);
    mu_bundles_free(held, n);
}

/* The id of node i's newest signed prekey. */
static long newest_prekey(size_t i)
{
    sqlite3_stmt *st;
    long id = -1;

    cr_assert_eq(sqlite3_prepare_v2(gm_mesh_db(mu.meshes[i]), "SELECT MAX(id) FROM e2e_spk", -1,
                                    &st, NULL),
                 SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return id;
}

/*
 * A week on (both clocks moved: a node refuses announcements from the
 * future), each node makes a new signed prekey at its next housekeeping and
 * keeps the old one; the session already running goes on, and a node that
 * never talked to the other starts its session on the new prekey.
 */
Test(messenger, prekeys_rotate_weekly_and_running_sessions_go_on)
{
    size_t r, a, b, c;
    const char *to_r[] = {"r", NULL};
    size_t trio[3];

    relay_pair(&r, &a, &b);
    c = mu_node("carol", to_r); /* silent until bob has a new prekey */
    mu_send(a, BOB, "before the rotation");
    cr_assert(mu_wait_text(b, "before the rotation", 1));
    cr_assert_eq(newest_prekey(a), 1);
    cr_assert_eq(newest_prekey(b), 1);
    for (size_t i = 0; i < mu.n; i++) {
        mu.clock_offset[i] += 8u * 86400u;
    }
    /* housekeeping runs every 10 s of the node's monotonic clock */
    gm_test_run_for(&mu.loop, 10500);
    cr_assert_eq(newest_prekey(a), 2, "alice did not rotate her prekey");
    cr_assert_eq(newest_prekey(b), 2, "bob did not rotate his prekey");
    cr_assert_eq(mu_rows(b, "e2e_spk", "1"), 2, "bob wiped the old prekey too early");
    trio[0] = a;
    trio[1] = b;
    trio[2] = c;
    cr_assert(mu_wait_directory(trio, 3));

    mu_send(a, BOB, "after the rotation");
    cr_assert(mu_wait_text(b, "after the rotation", 1), "the running session broke");
    mu_send(c, BOB, "carol's first");
    cr_assert(mu_wait_text(b, "carol's first", 1), "a session on the new prekey failed");
    cr_assert_eq(mu_rows(c, "e2e_session", "spk_id = 2"), 1,
                 "carol's session is not on bob's new prekey");
    gm_messenger_stats_t sb = mu_stats(b);
    cr_assert_eq(drops(&sb), 0, "bob dropped messages");
}

static bool inbox_has_at_least(void *ctx)
{
    const size_t *w = ctx;

    return mu_stats(w[0]).inbox_added >= w[1];
}

/* The message id of node i's most recently received inbox row. */
static void newest_inbox_id(size_t i, uint8_t id[GM_ID_LEN])
{
    sqlite3_stmt *st;

    cr_assert_eq(sqlite3_prepare_v2(gm_mesh_db(mu.meshes[i]),
                                    "SELECT msg_id FROM e2e_inbox ORDER BY seq DESC LIMIT 1", -1,
                                    &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_bytes(st, 0), GM_ID_LEN);
    memcpy(id, sqlite3_column_blob(st, 0), GM_ID_LEN);
    sqlite3_finalize(st);
}

/*
 * More long texts than one control answer holds: `inbox` still answers,
 * with the newest arrivals that fit, the very newest last.
 */
Test(messenger, an_inbox_of_long_texts_lists_the_newest_that_fit)
{
    size_t r, a, b, wait[2];
    char *text = malloc(GM_E2E_TEXT_MAX + 1);
    gm_messenger_request_t req = {.op = GM_MESSENGER_OP_SEND, .to = BOB,
                                  .kind = GM_MESSAGE_TEXT, .count = 1200};
    gm_messenger_response_t resp;
    uint8_t newest[GM_ID_LEN];
    size_t n;

    cr_assert_not_null(text);
    memset(text, 'x', GM_E2E_TEXT_MAX);
    text[GM_E2E_TEXT_MAX] = 0;
    req.text = text;
    relay_pair(&r, &a, &b);
    mu_call(a, &req, &resp); /* 1,200 texts of 4 KiB: about 5 MB, beyond one answer */
    cr_assert_eq(resp.error, 0, "%s", resp.message);
    gm_messenger_response_free(&resp);
    free(text);
    wait[0] = b;
    wait[1] = 1200;
    /* a bound, not a timing: 5 MB through two hops takes a while under ASan on a busy box */
    cr_assert(gm_test_run_until(&mu.loop, inbox_has_at_least, wait, 240000),
              "bob has %llu of the 1,200 messages", (unsigned long long)mu_stats(b).inbox_added);

    newest_inbox_id(b, newest);
    req = (gm_messenger_request_t){.op = GM_MESSENGER_OP_INBOX, .peek = true, .limit = 10000};
    mu_call(b, &req, &resp);
    n = resp.n_inbox;
    bool listed = resp.error == 0, last_is_newest =
        n > 0 && memcmp(resp.inbox[n - 1].msg_id, newest, GM_ID_LEN) == 0;
    gm_messenger_response_free(&resp);
    cr_assert(listed, "the inbox did not list");
    cr_assert_gt(n, 100);
    cr_assert_lt(n, 1200, "all 1,200 fit in one answer: the test proves nothing");
    cr_assert(last_is_newest, "the newest arrival is not the last one listed");
}

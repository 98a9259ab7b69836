/*
 * The messenger end to end, with real guardmeshd processes on 127.0.0.1 and
 * the guardmesh CLI: two organisations in a chain
 *
 *     guard-1 (acme, handheld) -- car-7 (acme, relay) -- post (acme, bridge)
 *         -- officer-12 (metro-police, dispatch)
 *     guard-2 (acme, handheld) -- car-7
 *
 * car-7 listens; guard-1, guard-2 and post dial it; officer-12 dials post.
 * Every test ends with gm_proc_finish() (clean exits, no sanitizer report).
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/procs.h"

#define ACME "acme-security"
#define POLICE "metro-police"
#define GUARD "guard-1@" ACME
#define GUARD2 "guard-2@" ACME
#define OFFICER "officer-12@" POLICE

#define MESH_INI                                                                                   \
    "[link]\n"                                                                                     \
    "tick_ms = 50\n"                                                                               \
    "keepalive_ms = 300\n"                                                                         \
    "dead_after_ms = 1500\n"                                                                       \
    "handshake_timeout_ms = 1000\n"                                                                \
    "redial_min_ms = 100\n"                                                                        \
    "redial_max_ms = 1000\n"                                                                       \
    "[mesh]\n"                                                                                     \
    "announce_interval_ms = 500\n"                                                                 \
    "route_expiry_ms = 10000\n"                                                                    \
    "custody_timeout_ms = 1000\n"

static char acme_ca[64], police_ca[64], cfg[64];
static char guard[64], guard2[64], relay[64], post[64], officer[64];
static int relay_port, post_port;

static void make_identities(void)
{
    GM_PROC_MUST("ca", "init", "--dir", acme_ca, "--org", ACME);
    GM_PROC_MUST("ca", "init", "--dir", police_ca, "--org", POLICE);
    GM_PROC_MUST("ca", "issue", "--ca", acme_ca, "--dir", guard, "--callsign", "guard-1", "--role",
                 "handheld");
    GM_PROC_MUST("ca", "issue", "--ca", acme_ca, "--dir", guard2, "--callsign", "guard-2", "--role",
                 "handheld");
    GM_PROC_MUST("ca", "issue", "--ca", acme_ca, "--dir", relay, "--callsign", "car-7", "--role",
                 "relay");
    GM_PROC_MUST("ca", "issue", "--ca", acme_ca, "--dir", post, "--callsign", "post", "--role",
                 "bridge");
    GM_PROC_MUST("ca", "issue", "--ca", police_ca, "--dir", officer, "--callsign", "officer-12",
                 "--role", "dispatch");
    const char *acme_nodes[] = {guard, guard2, relay, post};
    char police_cert[96], acme_cert[96];
    snprintf(police_cert, sizeof police_cert, "%s/org.cert", police_ca);
    snprintf(acme_cert, sizeof acme_cert, "%s/org.cert", acme_ca);
    for (size_t i = 0; i < 4; i++) {
        GM_PROC_MUST("ca", "trust", "--dir", acme_nodes[i], "--org-cert", police_cert);
    }
    GM_PROC_MUST("ca", "trust", "--dir", officer, "--org-cert", acme_cert);
}

static gm_daemon_t *d_guard, *d_guard2, *d_relay, *d_post, *d_officer;

/* True once dir routes to callsign and the CLI can address it (its prekey is in). */
static bool reaches(const char *dir, const char *callsign)
{
    return gm_proc_routes_reach(dir, callsign, NULL);
}

static void start_mesh(void)
{
    relay_port = gm_proc_free_port();
    do {
        post_port = gm_proc_free_port();
    } while (post_port == relay_port);
    make_identities();
    d_relay = gm_proc_start_node("car-7", relay, cfg, relay_port, 0);
    d_post = gm_proc_start_node("post", post, cfg, post_port, relay_port);
    d_officer = gm_proc_start_node("officer-12", officer, cfg, 0, post_port);
    d_guard = gm_proc_start_node("guard-1", guard, cfg, 0, relay_port);
    d_guard2 = gm_proc_start_node("guard-2", guard2, cfg, 0, relay_port);
    GM_PROC_WAIT_FOR(reaches(guard, "officer-12") && reaches(officer, "guard-1") &&
                         reaches(guard, "guard-2") && reaches(guard2, "officer-12") &&
                         reaches(officer, "guard-2") && reaches(guard2, "guard-1"),
                     "every handheld and the officer route to each other");
}

/* ---- inbox and outbox, through --json ---- */

/* The node's inbox (peek: not marked read). Delete it. */
static cJSON *inbox(const char *dir)
{
    return GM_PROC_JSON("--dir", dir, "inbox", "--json", "--peek");
}

/* The inbox entry with this text, or NULL. */
static const cJSON *find_text(const cJSON *doc, const char *text)
{
    const cJSON *m;

    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(doc, "messages"))
    {
        if (strcmp(gm_proc_json_str(m, "text"), text) == 0) {
            return m;
        }
    }
    return NULL;
}

static int count_text(const char *dir, const char *text)
{
    cJSON *doc = inbox(dir);
    const cJSON *m;
    int n = 0;

    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(doc, "messages"))
    {
        n += strcmp(gm_proc_json_str(m, "text"), text) == 0;
    }
    cJSON_Delete(doc);
    return n;
}

static bool has_text(const char *dir, const char *text)
{
    return count_text(dir, text) > 0;
}

/* The state of the outbox entry with this text ("" if none). */
static const char *outbox_state(const char *dir, const char *text)
{
    static char state[32];
    cJSON *doc = GM_PROC_JSON("--dir", dir, "outbox", "--json");
    const cJSON *m;

    state[0] = 0;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(doc, "messages"))
    {
        if (strcmp(gm_proc_json_str(m, "text"), text) == 0) {
            snprintf(state, sizeof state, "%s", gm_proc_json_str(m, "state"));
        }
    }
    cJSON_Delete(doc);
    return state;
}

static bool outbox_is(const char *dir, const char *text, const char *state)
{
    return strcmp(outbox_state(dir, text), state) == 0;
}

/* True if any of the node's store files holds needle. */
static bool store_contains(const char *dir, const void *needle, size_t len)
{
    static const char *const files[] = {"store.db", "store.db-wal", "store.db-journal"};
    char path[128];
    bool found = false;

    for (size_t i = 0; i < 3 && !found; i++) {
        FILE *f;
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        f = fopen(path, "rb");
        if (f == NULL) {
            continue;
        }
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc(size > 0 ? (size_t)size : 1);
        cr_assert_not_null(buf);
        size_t n = fread(buf, 1, (size_t)size, f);
        fclose(f);
        for (size_t k = 0; !found && n >= len && k + len <= n; k++) {
            found = memcmp(buf + k, needle, len) == 0;
        }
        free(buf);
    }
    return found;
}

static int group_count(const char *dir)
{
    cJSON *doc = GM_PROC_JSON("--dir", dir, "group", "list", "--json");
    int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "groups"));

    cJSON_Delete(doc);
    return n;
}

/* ---- fixture ---- */

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    gm_proc_setup("gmmsg");
    gm_proc_path(acme_ca, sizeof acme_ca, "acme-ca");
    gm_proc_path(police_ca, sizeof police_ca, "police-ca");
    gm_proc_path(guard, sizeof guard, "guard-1");
    gm_proc_path(guard2, sizeof guard2, "guard-2");
    gm_proc_path(relay, sizeof relay, "car-7");
    gm_proc_path(post, sizeof post, "post");
    gm_proc_path(officer, sizeof officer, "officer-12");
    gm_proc_path(cfg, sizeof cfg, "mesh.ini");
    gm_proc_put_text(cfg, MESH_INI);
}

static void teardown(void)
{
    gm_proc_teardown();
}

TestSuite(messenger, .init = setup, .fini = teardown, .timeout = 120);

/* ---- 1:1 ---- */

Test(messenger, text_crosses_relay_and_bridge_then_delivered_and_read)
{
    static const char text[] = "Van parked at gate 3, engine running";
    cJSON *doc;
    const cJSON *m;

    start_mesh();
    GM_PROC_MUST("--dir", guard, "send", "--to", OFFICER, text);
    GM_PROC_WAIT_FOR(has_text(officer, text), "the officer has the text");
    doc = inbox(officer);
    m = find_text(doc, text);
    cr_assert_not_null(m);
    cr_expect_str_eq(gm_proc_json_str(m, "from"), GUARD);
    cr_expect_str_eq(gm_proc_json_str(m, "kind"), "text");
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(m, "read")));
    cJSON_Delete(doc);

    GM_PROC_WAIT_FOR(outbox_is(guard, text, "delivered"), "guard-1's outbox says delivered");
    GM_PROC_MUST("--dir", officer, "inbox"); /* lists, and marks read */
    GM_PROC_WAIT_FOR(outbox_is(guard, text, "read"), "guard-1's outbox says read");
    doc = inbox(officer);
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(find_text(doc, text), "read")));
    cr_expect_eq(gm_proc_json_num(doc, "unread"), 0);
    cJSON_Delete(doc);

    /* the officer answers on the same session */
    GM_PROC_MUST("--dir", officer, "send", "--to", GUARD, "Units on the way");
    GM_PROC_WAIT_FOR(has_text(guard, "Units on the way"), "guard-1 has the answer");

    /* the relay and the bridge carried ciphertext only */
    gm_proc_finish();
    cr_expect_not(store_contains(relay, text, strlen(text)), "car-7's store holds the plaintext");
    cr_expect_not(store_contains(post, text, strlen(text)), "the bridge's store holds the plaintext");
    cr_expect_not(store_contains(relay, "Units on the way", 16));
}

Test(messenger, alert_position_and_messages_sent_across_a_gap_arrive_later)
{
    start_mesh();
    gm_proc_stop(d_relay); /* the car drives off */
    GM_PROC_WAIT_FOR(gm_proc_node_links(guard) == 0, "guard-1 is cut off");
    GM_PROC_MUST("--dir", guard, "send", "--to", OFFICER, "Backlog one");
    GM_PROC_MUST("--dir", guard, "alert", "--to", OFFICER, "--lat", "51.5", "--lon", "-0.12",
                 "Backlog SOS");
    GM_PROC_MUST("--dir", guard, "position", "--to", OFFICER, "--lat", "51.25", "--lon", "-0.5",
                 "--accuracy", "12");
    cr_expect_str_eq(outbox_state(guard, "Backlog one"), "queued");
    d_relay = gm_proc_start_node("car-7", relay, cfg, relay_port, 0);
    GM_PROC_WAIT_FOR(has_text(officer, "Backlog one") && has_text(officer, "Backlog SOS") &&
                         has_text(officer, ""),
                     "the backlog reaches the officer");
    cJSON *doc = inbox(officer);
    const cJSON *sos = find_text(doc, "Backlog SOS"), *pos = find_text(doc, "");
    cr_assert_not_null(sos);
    cr_expect_str_eq(gm_proc_json_str(sos, "kind"), "alert");
    cr_expect_str_eq(gm_proc_json_str(sos, "alert"), "SOS");
    cr_expect_float_eq(gm_proc_json_num(sos, "lat"), 51.5, 1e-9);
    cr_assert_not_null(pos);
    cr_expect_str_eq(gm_proc_json_str(pos, "kind"), "position");
    cr_expect_float_eq(gm_proc_json_num(pos, "lon"), -0.5, 1e-9);
    cr_expect_float_eq(gm_proc_json_num(pos, "accuracy"), 12, 1e-6);
    cJSON_Delete(doc);
    gm_proc_finish();
}

Test(messenger, session_survives_kill_9_and_restart)
{
    start_mesh();
    GM_PROC_MUST("--dir", guard, "send", "--to", OFFICER, "before the crash");
    GM_PROC_WAIT_FOR(has_text(officer, "before the crash"), "the first message arrives");
    GM_PROC_MUST("--dir", officer, "send", "--to", GUARD, "ack before the crash");
    GM_PROC_WAIT_FOR(has_text(guard, "ack before the crash"), "the answer arrives");

    gm_proc_kill9(d_officer);
    gm_proc_kill9(d_guard);
    d_officer = gm_proc_start_node("officer-12", officer, cfg, 0, post_port);
    d_guard = gm_proc_start_node("guard-1", guard, cfg, 0, relay_port);
    GM_PROC_MUST("--dir", guard, "send", "--to", OFFICER, "after the crash");
    GM_PROC_WAIT_FOR(has_text(officer, "after the crash"), "a message after both crashed");
    GM_PROC_MUST("--dir", officer, "send", "--to", GUARD, "ack after the crash");
    GM_PROC_WAIT_FOR(has_text(guard, "ack after the crash"), "its answer");
    cr_expect_eq(count_text(officer, "before the crash"), 1, "shown twice after the restart");
    gm_proc_finish();
}

Test(messenger, store_alone_holds_no_plaintext_and_no_key)
{
    static const char secret_text[] = "Codeword BLUE HERON at the north gate";
    uint8_t key[96];
    char keyfile[96];
    FILE *f;

    start_mesh();
    GM_PROC_MUST("--dir", guard, "send", "--to", OFFICER, secret_text);
    GM_PROC_WAIT_FOR(has_text(officer, secret_text), "the officer has the text");
    GM_PROC_MUST("--dir", officer, "send", "--to", GUARD, "Copy BLUE HERON");
    GM_PROC_WAIT_FOR(has_text(guard, "Copy BLUE HERON"), "guard-1 has the answer");
    gm_proc_finish();

    const char *dirs[] = {guard, officer};
    for (size_t i = 0; i < 2; i++) {
        cr_expect_not(store_contains(dirs[i], "BLUE HERON", 10), "%s: plaintext in the store",
                      dirs[i]);
        cr_expect_not(store_contains(dirs[i], "north gate", 10));
        /* an unsealed key file is a protobuf whose secret is the last 96 bytes */
        snprintf(keyfile, sizeof keyfile, "%s/node.key", dirs[i]);
        f = fopen(keyfile, "rb");
        cr_assert_not_null(f);
        fseek(f, -96, SEEK_END);
        cr_assert_eq(fread(key, 1, sizeof key, f), sizeof key);
        fclose(f);
        for (size_t k = 0; k < 3; k++) {
            cr_expect_not(store_contains(dirs[i], key + 32 * k, 32),
                          "%s: node key part %zu in the store", dirs[i], k);
        }
    }
}

Test(messenger, unknown_recipient_or_group_and_revoked_node_are_refused)
{
    static gm_cli_run_t o;
    char crl[96];
    cJSON *doc;

    start_mesh();
    GM_PROC_CLI(&o, "--dir", guard, "send", "--to", "nobody@" ACME, "hello");
    cr_expect_eq(o.status, 1);
    cr_expect(strstr(o.err, "unknown recipient nobody@" ACME) != NULL, "%s", o.err);
    GM_PROC_CLI(&o, "--dir", guard, "send", "--group", "no-such-group", "hello");
    cr_expect_eq(o.status, 1);
    cr_expect(strstr(o.err, "unknown group no-such-group") != NULL, "%s", o.err);
    GM_PROC_CLI(&o, "--dir", guard, "send", "hello");
    cr_expect_eq(o.status, 2, "a text without a recipient is a usage error");

    /* guard-2's handset is lost: acme revokes it and guard-1 gets the list */
    GM_PROC_MUST("--dir", guard, "send", "--to", GUARD2, "still there?");
    GM_PROC_WAIT_FOR(has_text(guard2, "still there?"), "guard-2 has it");
    char cert[96];
    snprintf(cert, sizeof cert, "%s/node.cert", guard2);
    GM_PROC_MUST("ca", "revoke", "--ca", acme_ca, "--cert", cert);
    snprintf(crl, sizeof crl, "%s/revocations.crl", acme_ca);
    GM_PROC_MUST("--dir", guard, "revocations", "add", crl);
    GM_PROC_CLI(&o, "--dir", guard, "send", "--to", GUARD2, "you are revoked");
    cr_expect_eq(o.status, 1);
    cr_expect(strstr(o.err, "revoked") != NULL, "%s", o.err);

    doc = GM_PROC_JSON("--dir", guard, "outbox", "--json");
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "messages")), 1,
                 "a refused message was queued");
    cJSON_Delete(doc);
    gm_proc_stop(d_guard2); /* revoked: its links went down, its exit is its own business */
    gm_proc_finish();
}

/* ---- groups and alerts ---- */

Test(messenger, group_reaches_members_and_not_a_removed_one)
{
    cJSON *doc;

    start_mesh();
    GM_PROC_MUST("--dir", guard, "group", "create", "night-shift", GUARD2, OFFICER);
    GM_PROC_MUST("--dir", guard, "send", "--group", "night-shift", "Shift starts, radio check");
    GM_PROC_WAIT_FOR(has_text(guard2, "Shift starts, radio check") &&
                         has_text(officer, "Shift starts, radio check"),
                     "both members have the group message");
    doc = inbox(officer);
    cr_expect_str_eq(gm_proc_json_str(find_text(doc, "Shift starts, radio check"), "group"),
                     "night-shift");
    cJSON_Delete(doc);

    /* a member answers the group with its own sender key */
    GM_PROC_MUST("--dir", officer, "send", "--group", "night-shift", "Officer on channel");
    GM_PROC_WAIT_FOR(has_text(guard, "Officer on channel") && has_text(guard2, "Officer on channel"),
                     "the officer's group message reaches both guards");

    GM_PROC_MUST("--dir", guard, "group", "remove", "night-shift", GUARD2);
    GM_PROC_WAIT_FOR(group_count(guard2) == 0, "guard-2 learns it was removed");
    GM_PROC_MUST("--dir", guard, "send", "--group", "night-shift", "After the removal");
    GM_PROC_MUST("--dir", officer, "send", "--group", "night-shift", "Officer after the removal");
    GM_PROC_WAIT_FOR(has_text(officer, "After the removal") &&
                         has_text(guard, "Officer after the removal"),
                     "the remaining members have both messages");
    gm_proc_sleep_ms(1500); /* what guard-2 would get has had time to come */
    cr_expect_not(has_text(guard2, "After the removal"), "the removed member read on");
    cr_expect_not(has_text(guard2, "Officer after the removal"), "the removed member read on");
    cr_expect_eq(group_count(guard), 1);
    cr_expect_eq(group_count(officer), 1);
    gm_proc_finish();
}

Test(messenger, alert_to_everyone_reaches_every_node_within_a_second)
{
    const char *nodes[] = {guard2, relay, post, officer};
    uint64_t t0, elapsed;

    start_mesh();
    t0 = gm_proc_now_ms();
    GM_PROC_MUST("--dir", guard, "alert", "--kind", "officer-down", "Colleague down at gate 3");
    for (size_t i = 0; i < 4; i++) {
        GM_PROC_WAIT_FOR(has_text(nodes[i], "Colleague down at gate 3"),
                         "every node has the alert");
    }
    elapsed = gm_proc_now_ms() - t0;
    fprintf(stderr, "alert to everyone: every node had it after %llu ms\n",
            (unsigned long long)elapsed);
    cr_expect_lt(elapsed, 1000, "the alert took %llu ms to reach every node",
                 (unsigned long long)elapsed);
    cJSON *doc = inbox(officer);
    const cJSON *m = find_text(doc, "Colleague down at gate 3");
    cr_expect_str_eq(gm_proc_json_str(m, "alert"), "OFFICER DOWN");
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "to_all")));
    cJSON_Delete(doc);
    gm_proc_finish();
}

/*
 * Talkgroups when a member is away: the keys and the backlog reach it when
 * it comes back, whatever order a relay hands them on in.
 */
#include <string.h>

#include "tests/unit/messenger_unit_test.h"

#define BOB "bob@" MU_ORG
#define CAROL "carol@" MU_ORG

/* The id of node i's group name; false if i does not know the group. */
static bool group_id(size_t i, const char *name, uint8_t id[GM_ID_LEN])
{
    gm_messenger_request_t req = {.op = GM_MESSENGER_OP_GROUP_LIST};
    gm_messenger_response_t r;
    bool found = false;

    mu_call(i, &req, &r);
    cr_assert_eq(r.error, 0, "group list: %s", r.message);
    for (size_t k = 0; k < r.n_groups; k++) {
        if (strcmp(r.groups[k].name, name) == 0) {
            memcpy(id, r.groups[k].group_id, GM_ID_LEN);
            found = true;
        }
    }
    gm_messenger_response_free(&r);
    return found;
}

struct group_wait {
    size_t i;
    const char *name;
};

static bool knows_group(void *ctx)
{
    const struct group_wait *w = ctx;
    uint8_t id[GM_ID_LEN];

    return group_id(w->i, w->name, id);
}

static bool wait_group(size_t i, const char *name)
{
    struct group_wait w = {i, name};

    return gm_test_run_until(&mu.loop, knows_group, &w, MU_WAIT_MS);
}

struct pending_wait {
    size_t i;
    uint64_t n;
};

static bool has_pending(void *ctx)
{
    const struct pending_wait *w = ctx;

    return mu_stats(w->i).pending_group >= w->n;
}

/* Bundles held at i or j for dst, each id once, i's first; at most max. */
static size_t held_at(size_t i, size_t j, const gm_dest_t *dst, mu_bundle_t *out, size_t max)
{
    size_t n = mu_held(i, dst, out, max), m = mu_held(j, dst, out + n, max - n), k = n;

    for (size_t x = n; x < n + m; x++) {
        bool dup = false;
        for (size_t y = 0; y < k; y++) {
            dup |= memcmp(out[y].b.id, out[x].b.id, GM_ID_LEN) == 0;
        }
        if (dup) {
            mu_bundles_free(&out[x], 1);
        } else {
            out[k++] = out[x];
        }
    }
    return k;
}

/* The k-th (from 0) bundle in list from src, or NULL. */
static const mu_bundle_t *nth_from(const mu_bundle_t *list, size_t n, size_t src, size_t k)
{
    for (size_t x = 0; x < n; x++) {
        if (memcmp(list[x].b.src, mu_id(src), GM_ID_LEN) == 0 && k-- == 0) {
            return &list[x];
        }
    }
    return NULL;
}

/* alice owns "night" with bob and carol; carol, cut off, has only the relay h as neighbour. */
struct night {
    size_t a, b, c, h;
    gm_dest_t to_c, to_group;
};

/* Sets it up and has alice write "from alice" to the group (bob reads it, carol cannot). */
static void night_without_carol(struct night *n)
{
    const char *to_a[] = {"alice", NULL}, *to_ah[] = {"alice", "h", NULL};
    const char *members[] = {BOB, CAROL, NULL};
    size_t all[3];

    n->a = mu_node("alice", NULL);
    n->b = mu_node("bob", to_a);
    n->h = mu_relay("h", NULL);
    n->c = mu_node("carol", to_ah);
    all[0] = n->a;
    all[1] = n->b;
    all[2] = n->c;
    cr_assert(mu_wait_directory(all, 3));
    cr_assert(mu_wait_link(n->c, n->h, true));
    mu_cut("carol", "alice", true);
    cr_assert(mu_wait_link(n->a, n->c, false));
    mu_group(n->a, GM_MESSENGER_OP_GROUP_CREATE, "night", members);
    mu_send_group(n->a, "night", "from alice");
    cr_assert(mu_wait_text(n->b, "from alice", 1));
    n->to_c = (gm_dest_t){.kind = GM_DST_NODE};
    memcpy(n->to_c.id, mu_id(n->c), GM_ID_LEN);
    n->to_group = (gm_dest_t){.kind = GM_DST_GROUP};
    cr_assert(group_id(n->a, "night", n->to_group.id));
}

/*
 * alice (owner) and bob talk in "night" while carol, a member, is cut off.
 * Her only way back is a relay h that hands on what alice and bob hold for
 * her: first the group state, then both group messages (no sender key yet:
 * they wait in e2e_pending), then the two sender keys (they open). When her
 * link to alice is back, nothing shows twice and she talks to the group.
 */
Test(messenger, member_away_gets_keys_and_backlog_in_any_order)
{
    struct night n;
    size_t a, b, c, h, n_uni, n_grp;
    mu_bundle_t uni[8], grp[8];
    const mu_bundle_t *state, *key_a, *key_b;
    struct pending_wait pw;

    night_without_carol(&n);
    a = n.a;
    b = n.b;
    c = n.c;
    h = n.h;
    mu_send_group(b, "night", "from bob");
    cr_assert(mu_wait_text(a, "from bob", 1));

    /* what waits for carol: alice's state and key, bob's key; both group messages */
    n_uni = held_at(a, b, &n.to_c, uni, 8);
    n_grp = held_at(a, b, &n.to_group, grp, 8);
    cr_assert_eq(n_uni, 3, "%zu bundles held for carol", n_uni);
    cr_assert_eq(n_grp, 2, "%zu group bundles held", n_grp);
    state = nth_from(uni, n_uni, a, 0);
    key_a = nth_from(uni, n_uni, a, 1);
    key_b = nth_from(uni, n_uni, b, 0);
    cr_assert(state != NULL && key_a != NULL && key_b != NULL);
    cr_assert_eq(mu_inbox_count(c, NULL), 0);

    mu_inject(h, c, state->enc, state->len);
    cr_assert(wait_group(c, "night"), "carol never took the group state");
    for (size_t k = 0; k < n_grp; k++) {
        mu_inject(h, c, grp[k].enc, grp[k].len);
    }
    pw = (struct pending_wait){c, 2};
    cr_assert(gm_test_run_until(&mu.loop, has_pending, &pw, MU_WAIT_MS),
              "the group messages did not wait for their keys (pending %llu)",
              (unsigned long long)mu_stats(c).pending_group);
    cr_assert_eq(mu_rows(c, "e2e_pending", "1"), 2);
    cr_assert_eq(mu_inbox_count(c, NULL), 0, "a group message showed without its key");

    mu_inject(h, c, key_a->enc, key_a->len);
    mu_inject(h, c, key_b->enc, key_b->len);
    cr_assert(mu_wait_text(c, "from alice", 1), "alice's backlog did not open");
    cr_assert(mu_wait_text(c, "from bob", 1), "bob's backlog did not open");
    cr_assert_eq(mu_rows(c, "e2e_pending", "1"), 0, "pending messages left behind");

    /* carol back on her usual link: her key reaches both, nothing shows twice */
    mu_cut("carol", "alice", false);
    mu_send_group(c, "night", "from carol");
    cr_assert(mu_wait_text(a, "from carol", 1) && mu_wait_text(b, "from carol", 1),
              "carol's group message did not reach both");
    gm_test_run_for(&mu.loop, 500);
    cr_assert_eq(mu_inbox_count(c, "from alice"), 1);
    cr_assert_eq(mu_inbox_count(c, "from bob"), 1);
    cr_assert_eq(mu_inbox_count(c, NULL), 2);
    cr_assert_eq(mu_inbox_count(a, NULL), 2);
    cr_assert_eq(mu_inbox_count(b, NULL), 2);
    cr_assert_eq(mu_stats(c).dropped_auth + mu_stats(c).dropped_replay, 0,
                 "carol dropped %llu as forged and %llu as replays",
                 (unsigned long long)mu_stats(c).dropped_auth,
                 (unsigned long long)mu_stats(c).dropped_replay);
    mu_bundles_free(uni, n_uni);
    mu_bundles_free(grp, n_grp);
}

/*
 * A flood can overtake the unicast bundles that carry the group state (it
 * takes every path, and anti-entropy pushes it at link up): a member that
 * gets a group message before it knows the group must still read it once
 * the state and the key come.
 * The mesh asks the in_group hook once, when the flood arrives; carol is
 * not in "night" yet, so the bundle is only held. When she joins, the
 * messenger asks the mesh for what it held (gm_mesh_deliver_held).
 */
Test(messenger, group_message_before_the_group_state_still_opens)
{
    struct night n;
    size_t n_uni, n_grp;
    mu_bundle_t uni[8], grp[8];
    uint64_t accepted;

    night_without_carol(&n);
    n_uni = mu_held(n.a, &n.to_c, uni, 8);
    n_grp = mu_held(n.a, &n.to_group, grp, 8);
    cr_assert_eq(n_uni, 2, "alice's state and key for carol: %zu", n_uni);
    cr_assert_eq(n_grp, 1);
    accepted = mu_accepted(n.c);
    mu_inject(n.h, n.c, grp[0].enc, grp[0].len); /* the flood first */
    cr_assert(mu_wait_accepted(n.c, accepted + 1));
    for (size_t k = 0; k < n_uni; k++) {
        mu_inject(n.h, n.c, uni[k].enc, uni[k].len);
    }
    cr_assert(wait_group(n.c, "night"));
    mu_cut("carol", "alice", false);
    cr_assert(mu_wait_text(n.c, "from alice", 1), "the message that came before the state is lost");
    mu_bundles_free(uni, n_uni);
    mu_bundles_free(grp, n_grp);
}

/*
 * carol, removed from "night" while away, keeps the version she was removed
 * at: the state that added her, handed on after the one that removed her
 * (relays reorder), does not put the group back.
 */
Test(messenger, a_removed_member_does_not_take_an_older_state_again)
{
    struct night n;
    mu_bundle_t uni[8];
    size_t n_uni;
    struct group_wait w;
    uint64_t replays;
    const char *gone[] = {CAROL, NULL};

    night_without_carol(&n);
    mu_group(n.a, GM_MESSENGER_OP_GROUP_REMOVE, "night", gone);
    n_uni = mu_held(n.a, &n.to_c, uni, 8); /* oldest first: the state that adds her first */
    cr_assert_geq(n_uni, 2);
    w = (struct group_wait){n.c, "night"};
    mu_inject(n.h, n.c, uni[n_uni - 1].enc, uni[n_uni - 1].len); /* the removal, first */
    gm_test_run_for(&mu.loop, 500);
    cr_assert_not(knows_group(&w));
    cr_assert_eq(mu_rows(n.c, "e2e_group_gone", "1"), 1, "no tombstone for the removal");

    replays = mu_stats(n.c).dropped_replay;
    mu_inject(n.h, n.c, uni[0].enc, uni[0].len); /* the older state that added her */
    gm_test_run_for(&mu.loop, 500);
    cr_assert_not(knows_group(&w), "an older state put the group back");
    cr_assert_eq(mu_stats(n.c).dropped_replay, replays + 1, "the stale state was not counted");
    mu_bundles_free(uni, n_uni);
}

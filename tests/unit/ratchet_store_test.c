/*
 * The ratchet suite, continued: the bounds on stored skipped keys, their
 * expiry, and the stored form (gm_dr_serialize / gm_dr_deserialize).
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire_e2e_state.h"
#include "tests/unit/ratchet_test.h"

#define K GM_DR_KEY_LEN
#define NOW 1767225600u
#define LIFE 86400u
#define CANARY 0xa5

/* Alice sends GM_DR_MAX_SKIP + 1 messages; Bob gets the last. first gets message 0. */
static void send_long_chain(rt_pair_t *p, rt_msg_t *first)
{
    rt_msg_t last;

    rt_send(&p->alice, first, 0);
    for (uint32_t i = 1; i <= GM_DR_MAX_SKIP; i++) {
        rt_send(&p->alice, &last, i);
    }
    cr_assert_eq(rt_recv(p, &p->bob, &last), 0);
    /* Bob answers so that Alice's next message starts a new chain. */
    rt_send(&p->bob, &last, 7);
    cr_assert_eq(rt_recv(p, &p->alice, &last), 0);
}

Test(ratchet, stored_skipped_keys_are_bounded_oldest_evicted)
{
    rt_pair_t p;
    rt_msg_t first[3];

    rt_pair_init(&p, 20);
    send_long_chain(&p, &first[0]);
    cr_assert_eq(p.bob.n_skipped, GM_DR_MAX_SKIP);
    send_long_chain(&p, &first[1]);
    cr_assert_eq(p.bob.n_skipped, GM_DR_MAX_SKIPPED);
    send_long_chain(&p, &first[2]);
    cr_assert_eq(p.bob.n_skipped, GM_DR_MAX_SKIPPED, "over the bound");
    /* The first chain's keys went: the oldest left is the second chain's message 0. */
    cr_assert_eq(memcmp(p.bob.skipped[0].dh, first[1].h.dh, K), 0);
    cr_assert_eq(p.bob.skipped[0].n, 0);
    cr_assert_eq(rt_recv(&p, &p.bob, &first[0]), GM_EREPLAY);
    cr_assert_eq(rt_recv(&p, &p.bob, &first[1]), 0);
    cr_assert_eq(rt_recv(&p, &p.bob, &first[2]), 0);
    rt_pair_wipe(&p);
}

Test(ratchet, expired_skipped_keys_are_unusable_and_dropped)
{
    rt_pair_t p;
    rt_msg_t m[4];
    rt_snap_t before;

    rt_pair_init(&p, 21);
    for (int i = 0; i < 3; i++) {
        rt_send(&p.alice, &m[i], (uint32_t)i);
    }
    cr_assert_eq(rt_recv(&p, &p.bob, &m[2]), 0); /* skips 0 and 1 until NOW + LIFE */
    cr_assert_eq(gm_dr_expire(&p.bob, NOW + LIFE), 0, "dropped at its expiry, not after");
    cr_assert_eq(p.bob.n_skipped, 2);

    p.now = NOW + LIFE + 1;
    before = rt_snap(&p.bob);
    cr_assert_eq(rt_recv(&p, &p.bob, &m[0]), GM_EREPLAY, "an expired key was used");
    cr_assert(rt_snap_same(&p.bob, &before));
    rt_snap_free(&before);

    /* A later message that decrypts also drops them. */
    rt_send(&p.alice, &m[3], 3);
    cr_assert_eq(rt_recv(&p, &p.bob, &m[3]), 0);
    cr_assert_eq(p.bob.n_skipped, 0);
    cr_assert_null(p.bob.skipped);
    cr_assert_eq(rt_recv(&p, &p.bob, &m[1]), GM_EREPLAY);
    rt_pair_wipe(&p);
}

Test(ratchet, expire_counts_what_it_drops)
{
    rt_pair_t p;
    rt_msg_t m[3];

    rt_pair_init(&p, 22);
    for (int i = 0; i < 3; i++) {
        rt_send(&p.alice, &m[i], (uint32_t)i);
    }
    cr_assert_eq(rt_recv(&p, &p.bob, &m[2]), 0);
    cr_assert_eq(gm_dr_expire(&p.bob, NOW + LIFE + 1), 2);
    cr_assert_eq(p.bob.n_skipped, 0);
    cr_assert_null(p.bob.skipped);
    cr_assert_eq(gm_dr_expire(&p.bob, UINT64_MAX), 0);
    rt_pair_wipe(&p);
}

Test(ratchet, a_lifetime_past_the_end_of_time_saturates)
{
    rt_pair_t p;
    rt_msg_t m[2];
    uint8_t pt[RT_PT_MAX], seed[K] = {5};

    rt_pair_init(&p, 23);
    rt_send(&p.alice, &m[0], 0);
    rt_send(&p.alice, &m[1], 1);
    cr_assert_eq(gm_dr_decrypt(&p.bob, &m[1].h, m[1].ct, m[1].ct_len, pt, NOW, UINT64_MAX, seed),
                 0);
    cr_assert_eq(p.bob.skipped[0].expires, UINT64_MAX);
    rt_pair_wipe(&p);
}

/* ---- the stored form ---- */

static void restore(gm_dr_state_t *s)
{
    rt_snap_t snap = rt_snap(s), again;
    gm_dr_state_t copy;

    cr_assert_eq(gm_dr_deserialize(&copy, snap.data, snap.len), 0);
    again = rt_snap(&copy);
    cr_assert(again.len == snap.len && memcmp(again.data, snap.data, snap.len) == 0,
              "decode then encode changed the state");
    gm_dr_wipe(s);
    *s = copy;
    rt_snap_free(&snap);
    rt_snap_free(&again);
}

Test(ratchet, stored_state_round_trip_mid_conversation)
{
    rt_pair_t p;
    rt_msg_t a[4], b[3];

    rt_pair_init(&p, 24);
    restore(&p.bob); /* before its first chain */
    for (int i = 0; i < 4; i++) {
        rt_send(&p.alice, &a[i], (uint32_t)i);
    }
    cr_assert_eq(rt_recv(&p, &p.bob, &a[1]), 0);
    for (int i = 0; i < 3; i++) {
        rt_send(&p.bob, &b[i], (uint32_t)(10 + i));
    }
    cr_assert_eq(rt_recv(&p, &p.alice, &b[2]), 0);
    restore(&p.alice);
    restore(&p.bob);
    cr_assert_eq(p.bob.n_skipped, 1);
    cr_assert_eq(p.alice.n_skipped, 2);

    cr_assert_eq(rt_recv(&p, &p.bob, &a[0]), 0);
    cr_assert_eq(rt_recv(&p, &p.alice, &b[0]), 0);
    cr_assert_eq(rt_recv(&p, &p.bob, &a[3]), 0);
    cr_assert_eq(rt_recv(&p, &p.alice, &b[1]), 0);
    cr_assert_eq(rt_recv(&p, &p.bob, &a[0]), GM_EREPLAY, "a restored state forgot a used key");
    rt_send(&p.alice, &a[0], 20);
    restore(&p.alice);
    cr_assert_eq(rt_recv(&p, &p.bob, &a[0]), 0);
    rt_send(&p.bob, &b[0], 21);
    cr_assert_eq(rt_recv(&p, &p.alice, &b[0]), 0);
    rt_pair_wipe(&p);
}

static void expect_eproto(const uint8_t *buf, size_t len)
{
    gm_dr_state_t s;
    uint8_t canary[sizeof s];

    memset(&s, CANARY, sizeof s);
    memset(canary, CANARY, sizeof canary);
    cr_assert_eq(gm_dr_deserialize(&s, buf, len), GM_EPROTO, "accepted %zu bytes", len);
    cr_assert_eq(memcmp(&s, canary, sizeof s), 0, "state written on failure");
}

/* Bob's state with two skipped keys and a remembered chain. */
static rt_snap_t busy_state(rt_pair_t *p)
{
    rt_msg_t m[3];

    rt_pair_init(p, 25);
    rt_send(&p->alice, &m[0], 0);
    cr_assert_eq(rt_recv(p, &p->bob, &m[0]), 0);
    rt_send(&p->bob, &m[0], 1);
    cr_assert_eq(rt_recv(p, &p->alice, &m[0]), 0);
    for (int i = 0; i < 3; i++) {
        rt_send(&p->alice, &m[i], (uint32_t)(2 + i));
    }
    cr_assert_eq(rt_recv(p, &p->bob, &m[2]), 0);
    cr_assert_eq(p->bob.n_skipped, 2);
    cr_assert_eq(p->bob.n_prev_dhr, 1);
    return rt_snap(&p->bob);
}

Test(ratchet, truncated_stored_state_is_refused)
{
    rt_pair_t p;
    rt_snap_t snap = busy_state(&p);

    for (size_t len = 0; len < snap.len; len++) {
        expect_eproto(snap.data, len);
    }
    rt_snap_free(&snap);
    rt_pair_wipe(&p);
}

Test(ratchet, garbage_and_other_versions_are_refused)
{
    rt_pair_t p;
    rt_snap_t snap = busy_state(&p);
    uint8_t junk[512], key[randombytes_SEEDBYTES] = {0x77};
    uint8_t *big = calloc(GM_DR_STATE_MAX_LEN + 1, 1);

    for (size_t len = 1; len <= sizeof junk; len += 37) {
        key[1] = (uint8_t)len;
        randombytes_buf_deterministic(junk, len, key);
        expect_eproto(junk, len);
    }
    memset(junk, 0xff, sizeof junk);
    expect_eproto(junk, sizeof junk);
    cr_assert_not_null(big);
    memcpy(big, snap.data, snap.len);
    expect_eproto(big, GM_DR_STATE_MAX_LEN + 1);
    free(big);

    cr_assert(snap.data[0] == 0x08 && snap.data[1] == 1, "version is not the first field");
    snap.data[1] = 2;
    expect_eproto(snap.data, snap.len);
    rt_snap_free(&snap);
    rt_pair_wipe(&p);
}

/* One more skipped key appended to an encoding: field 12, {dh, n, mk}. */
static size_t append_skipped(uint8_t *out)
{
    size_t i = 0;

    out[i++] = 12 << 3 | 2;
    out[i++] = 2 + K + 2 + 2 + K;
    out[i++] = 1 << 3 | 2;
    out[i++] = K;
    memset(out + i, 0x11, K);
    i += K;
    out[i++] = 2 << 3;
    out[i++] = 5;
    out[i++] = 3 << 3 | 2;
    out[i++] = K;
    memset(out + i, 0x22, K);
    return i + K;
}

Test(ratchet, stored_skipped_keys_over_the_bound_are_refused)
{
    rt_pair_t p;
    gm_dr_skipped_t *keys = calloc(GM_DR_MAX_SKIPPED + 1, sizeof *keys);
    gm_dr_state_t s;
    rt_snap_t snap;
    uint8_t *buf;
    size_t len;

    cr_assert_not_null(keys);
    rt_pair_init(&p, 26);
    s = p.bob;
    s.skipped = keys;
    s.n_skipped = GM_DR_MAX_SKIPPED + 1;
    cr_assert_eq(gm_dr_serialize(&s, &buf, &len), GM_EPROTO, "encoder accepted 2001 keys");
    s.n_skipped = GM_DR_MAX_SKIPPED;
    snap = rt_snap(&s);
    buf = malloc(snap.len + 128);
    cr_assert_not_null(buf);
    memcpy(buf, snap.data, snap.len);
    len = snap.len + append_skipped(buf + snap.len);
    expect_eproto(buf, len);
    /* The same bytes with room for one more key decode. */
    cr_assert_eq(gm_dr_deserialize(&s, snap.data, snap.len), 0);
    cr_assert_eq(s.n_skipped, GM_DR_MAX_SKIPPED);
    gm_dr_wipe(&s);
    free(buf);
    free(keys);
    rt_snap_free(&snap);
    rt_pair_wipe(&p);
}

Test(ratchet, copy_is_deep_and_wipe_clears)
{
    rt_pair_t p;
    rt_snap_t snap = busy_state(&p);
    gm_dr_state_t copy;

    cr_assert_eq(gm_dr_copy(&copy, &p.bob), 0);
    cr_assert_neq(copy.skipped, p.bob.skipped);
    gm_dr_wipe(&p.bob);
    cr_assert(sodium_is_zero((const uint8_t *)&p.bob, sizeof p.bob));
    cr_assert(rt_snap_same(&copy, &snap));
    gm_dr_wipe(&copy);
    gm_dr_wipe(NULL);
    rt_snap_free(&snap);
    rt_pair_wipe(&p);
}

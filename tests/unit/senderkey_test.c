/*
 * Tests of crypto/senderkey.c: the construction against its definition,
 * distribution and decryption in and out of order, refusals that leave the
 * receiver's state as it was (replay, bad signature, forged sender, another
 * key), rotation, bounds, expiry and the stored form.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kdf.h"
#include "crypto/senderkey.h"
#include "tools/util.h"

#define K GM_SK_KEY_LEN
#define NOW 1767225600u
#define LIFE 86400u
#define PT_MAX 32
#define CANARY 0xa5

typedef struct {
    uint32_t iteration;
    uint8_t ct[PT_MAX + GM_SK_TAG_LEN];
    size_t ct_len;
    uint8_t sig[GM_SK_SIG_LEN];
    uint8_t pt[PT_MAX];
    size_t pt_len;
    uint8_t sender[GM_SK_NODE_LEN];
} sk_msg_t;

typedef struct {
    uint8_t *data;
    size_t len;
} snap_t;

static const uint8_t group[GM_SK_GROUP_LEN] = {0x67, 0x72, 0x70};
static const uint8_t alice_id[GM_SK_NODE_LEN] = {0xa1, 0xa1};
static const uint8_t mallory_id[GM_SK_NODE_LEN] = {0x3e, 0x3e};

static void suite_init(void)
{
    cr_assert(sodium_init() >= 0, "libsodium failed to initialise");
}

TestSuite(senderkey, .init = suite_init);

/* Alice's own state for key_id (seeds derived from it) and a member's copy from its distribution.
 */
static void make_key(gm_sk_state_t *own, gm_sk_state_t *member, uint32_t key_id)
{
    uint8_t chain[K], sign[K];
    gm_sk_dist_t d;

    memset(chain, (int)(0x10 + key_id), K);
    memset(sign, (int)(0x20 + key_id), K);
    gm_sk_create(own, group, key_id, chain, sign);
    if (member != NULL) {
        gm_sk_distribution(own, &d);
        cr_assert_eq(gm_sk_from_distribution(member, &d), 0);
        sodium_memzero(&d, sizeof d);
    }
}

static void send_as(gm_sk_state_t *own, const uint8_t sender[GM_SK_NODE_LEN], sk_msg_t *m,
                    uint32_t tag)
{
    m->pt_len = 6 + tag % 19;
    memset(m->pt, 0x3c, sizeof m->pt);
    gm_store_u32_be(m->pt, tag);
    m->ct_len = m->pt_len + GM_SK_TAG_LEN;
    memcpy(m->sender, sender, GM_SK_NODE_LEN);
    cr_assert_eq(gm_sk_encrypt(own, sender, m->pt, m->pt_len, &m->iteration, m->ct, m->sig), 0);
}

static void send(gm_sk_state_t *own, sk_msg_t *m, uint32_t tag)
{
    send_as(own, alice_id, m, tag);
}

static int recv_at(gm_sk_state_t *s, const sk_msg_t *m, uint64_t now)
{
    uint8_t pt[PT_MAX];
    int err = gm_sk_decrypt(s, m->sender, m->iteration, m->ct, m->ct_len, m->sig, pt, now, LIFE);

    if (err == 0) {
        cr_assert_eq(memcmp(pt, m->pt, m->pt_len), 0, "wrong plaintext");
    }
    return err;
}

static int recv(gm_sk_state_t *s, const sk_msg_t *m)
{
    return recv_at(s, m, NOW);
}

static snap_t snap(const gm_sk_state_t *s)
{
    snap_t out;

    cr_assert_eq(gm_sk_serialize(s, &out.data, &out.len), 0);
    return out;
}

static void snap_free(snap_t *sn)
{
    sodium_memzero(sn->data, sn->len);
    free(sn->data);
}

static void expect_refused(gm_sk_state_t *s, const sk_msg_t *m, int want)
{
    snap_t before = snap(s), after;
    int err = recv(s, m);

    cr_assert_eq(err, want, "got %d (%s), want %d", err, gm_strerror(err), want);
    after = snap(s);
    cr_assert(after.len == before.len && memcmp(after.data, before.data, after.len) == 0,
              "state changed by a refused message");
    snap_free(&before);
    snap_free(&after);
}

/* ---- the construction ---- */

Test(senderkey, construction_follows_the_specification)
{
    static const uint8_t zero_salt[32], one = 1, two = 2;
    gm_sk_state_t own;
    sk_msg_t m;
    uint8_t ck[K], seed[K], okm[44], pk[K], sk[64], ad[40], signed_bytes[18 + 40 + sizeof m.ct];
    uint8_t pt[PT_MAX];

    make_key(&own, NULL, 1);
    memcpy(ck, own.chain_key, K);
    send(&own, &m, 77);
    cr_assert_eq(m.iteration, 0);
    crypto_auth_hmacsha256(seed, &one, 1, ck);
    crypto_auth_hmacsha256(ck, &two, 1, ck);
    cr_assert_eq(memcmp(own.chain_key, ck, K), 0, "chain key step");
    cr_assert_eq(gm_hkdf_sha256(okm, 44, zero_salt, 32, seed, K, "guardmesh/sk/1", 14), 0);
    memcpy(ad, group, 16);
    gm_store_u32_be(ad + 16, 1);
    gm_store_u32_be(ad + 20, 0);
    memcpy(ad + 24, alice_id, 16);
    cr_assert_eq(crypto_aead_chacha20poly1305_ietf_decrypt(pt, NULL, NULL, m.ct, m.ct_len, ad, 40,
                                                           okm + 32, okm),
                 0);
    cr_assert_eq(memcmp(pt, m.pt, m.pt_len), 0);

    memcpy(signed_bytes, "guardmesh/skmsg/1", 18); /* with its zero byte */
    memcpy(signed_bytes + 18, ad, 40);
    memcpy(signed_bytes + 58, m.ct, m.ct_len);
    crypto_sign_seed_keypair(pk, sk, own.sign_seed);
    cr_assert_eq(memcmp(pk, own.sign_pk, K), 0);
    cr_assert_eq(crypto_sign_verify_detached(m.sig, signed_bytes, 58 + m.ct_len, pk), 0);
    gm_sk_wipe(&own);
}

Test(senderkey, distribution_carries_the_current_chain)
{
    gm_sk_state_t own, member;
    gm_sk_dist_t d;
    sk_msg_t m;

    make_key(&own, NULL, 3);
    send(&own, &m, 1);
    gm_sk_distribution(&own, &d);
    cr_assert_eq(memcmp(d.group_id, group, sizeof group), 0);
    cr_assert(d.key_id == 3 && d.iteration == 1);
    cr_assert_eq(memcmp(d.chain_key, own.chain_key, K), 0);
    cr_assert_eq(memcmp(d.sign_pk, own.sign_pk, K), 0);
    cr_assert_eq(gm_sk_from_distribution(&member, &d), 0);
    cr_assert(!member.own && sodium_is_zero(member.sign_seed, K), "a receiver got a sign key");
    /* A member who joins now reads from here on, not before. */
    cr_assert_eq(recv(&member, &m), GM_EREPLAY);
    send(&own, &m, 2);
    cr_assert_eq(recv(&member, &m), 0);
    gm_sk_wipe(&own);
    gm_sk_wipe(&member);
}

Test(senderkey, small_order_sign_keys_in_a_distribution_are_refused)
{
    static const char *const bad[] = {
        "0100000000000000000000000000000000000000000000000000000000000000", /* identity */
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* order 2 */
        "0000000000000000000000000000000000000000000000000000000000000000", /* order 4 */
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", /* order 8 */
    };
    gm_sk_state_t own, member;
    gm_sk_dist_t d;

    make_key(&own, NULL, 1);
    gm_sk_distribution(&own, &d);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(gm_hex_decode(bad[i], d.sign_pk, K), 0);
        memset(&member, CANARY, sizeof member);
        cr_assert_eq(gm_sk_from_distribution(&member, &d), GM_EPROTO, "sign_pk %s", bad[i]);
        cr_assert_eq(((uint8_t *)&member)[0], CANARY, "state written on failure");
    }
    gm_sk_wipe(&own);
}

/* ---- conversations ---- */

Test(senderkey, members_read_in_order_and_out_of_order)
{
    static const int order[] = {5, 0, 3, 1, 4, 2};
    gm_sk_state_t own, bob, carol;
    sk_msg_t m[6];

    make_key(&own, &bob, 1);
    make_key(&own, &carol, 1);
    for (int i = 0; i < 6; i++) {
        send(&own, &m[i], (uint32_t)i);
        cr_assert_eq(m[i].iteration, (uint32_t)i);
    }
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(recv(&bob, &m[i]), 0);
        cr_assert_eq(recv(&carol, &m[order[i]]), 0);
    }
    cr_assert_eq(bob.n_skipped + carol.n_skipped, 0, "used seeds are deleted");
    cr_assert_eq(bob.iteration, 6);
    gm_sk_wipe(&own);
    gm_sk_wipe(&bob);
    gm_sk_wipe(&carol);
}

Test(senderkey, replays_are_refused)
{
    gm_sk_state_t own, bob;
    sk_msg_t m[4];

    make_key(&own, &bob, 1);
    for (int i = 0; i < 4; i++) {
        send(&own, &m[i], (uint32_t)i);
    }
    cr_assert_eq(recv(&bob, &m[3]), 0);
    cr_assert_eq(recv(&bob, &m[1]), 0);
    for (int i = 0; i < 4; i += 2) {
        cr_assert_eq(recv(&bob, &m[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        expect_refused(&bob, &m[i], GM_EREPLAY);
    }
    gm_sk_wipe(&own);
    gm_sk_wipe(&bob);
}

/* Every part the signature covers, changed: refused before the chain moves. */
Test(senderkey, bad_signatures_are_refused_without_touching_state)
{
    gm_sk_state_t own, bob;
    sk_msg_t m, bad;

    make_key(&own, &bob, 1);
    send(&own, &m, 1);
    send(&own, &m, 2); /* iteration 1: a valid one would skip a seed */
    bad = m;
    bad.sig[10] ^= 1;
    expect_refused(&bob, &bad, GM_EAUTH);
    bad = m;
    bad.ct[0] ^= 1;
    expect_refused(&bob, &bad, GM_EAUTH);
    bad = m;
    bad.iteration = 5;
    expect_refused(&bob, &bad, GM_EAUTH);
    bad = m;
    bad.ct_len--;
    expect_refused(&bob, &bad, GM_EAUTH);
    bad = m;
    bad.ct_len = GM_SK_TAG_LEN - 1;
    expect_refused(&bob, &bad, GM_EAUTH);
    cr_assert_eq(recv(&bob, &m), 0);
    gm_sk_wipe(&own);
    gm_sk_wipe(&bob);
}

Test(senderkey, a_forged_sender_is_refused)
{
    gm_sk_state_t own, bob, forger;
    sk_msg_t m;
    uint8_t sign[K];

    make_key(&own, &bob, 1);
    send(&own, &m, 1);
    memcpy(m.sender, mallory_id, sizeof mallory_id); /* the bundle's source, rewritten */
    expect_refused(&bob, &m, GM_EAUTH);

    /* Mallory holds Alice's chain key (every member does) but not her sign key. */
    memset(sign, 0x66, K);
    gm_sk_create(&forger, group, own.key_id, own.chain_key, sign);
    forger.iteration = own.iteration;
    send(&forger, &m, 2);
    expect_refused(&bob, &m, GM_EAUTH);
    send(&own, &m, 3);
    cr_assert_eq(recv(&bob, &m), 0);
    gm_sk_wipe(&own);
    gm_sk_wipe(&bob);
    gm_sk_wipe(&forger);
}

/* After a removal Alice starts key 2 and gives it only to the members who stay. */
Test(senderkey, a_removed_member_cannot_read_the_new_key)
{
    gm_sk_state_t old_own, own, bob_old, bob_new, removed;
    sk_msg_t m;

    make_key(&old_own, &bob_old, 1);
    make_key(&old_own, &removed, 1);
    send(&old_own, &m, 1);
    cr_assert_eq(recv(&removed, &m), 0);
    cr_assert_eq(recv(&bob_old, &m), 0);

    make_key(&own, &bob_new, 2);
    send(&own, &m, 2);
    expect_refused(&removed, &m, GM_EAUTH);
    expect_refused(&bob_old, &m, GM_EAUTH);
    cr_assert_eq(recv(&bob_new, &m), 0);
    /* And the reverse: a message under key 1 does not open under key 2. */
    send(&old_own, &m, 3);
    expect_refused(&bob_new, &m, GM_EAUTH);
    cr_assert_eq(recv(&bob_old, &m), 0);
    gm_sk_wipe(&old_own);
    gm_sk_wipe(&own);
    gm_sk_wipe(&bob_old);
    gm_sk_wipe(&bob_new);
    gm_sk_wipe(&removed);
}

Test(senderkey, own_and_receiver_states_keep_to_their_roles)
{
    gm_sk_state_t own, bob;
    sk_msg_t m;

    make_key(&own, &bob, 1);
    send(&own, &m, 1);
    cr_assert_eq(recv(&own, &m), GM_ESTATE);
    cr_assert_eq(gm_sk_encrypt(&bob, alice_id, m.pt, 1, &m.iteration, m.ct, m.sig), GM_ESTATE);
    own.iteration = UINT32_MAX - 1;
    send(&own, &m, 2);
    cr_assert_eq(gm_sk_encrypt(&own, alice_id, m.pt, 1, &m.iteration, m.ct, m.sig), GM_ELIMIT);
    gm_sk_wipe(&own);
    gm_sk_wipe(&bob);
}

/* ---- bounds and expiry ---- */

Test(senderkey, skipping_beyond_max_skip_is_refused)
{
    gm_sk_state_t own, bob;
    sk_msg_t first, m;

    make_key(&own, &bob, 1);
    send(&own, &first, 0);
    for (uint32_t i = 1; i <= GM_SK_MAX_SKIP + 1; i++) {
        send(&own, &m, i);
    }
    expect_refused(&bob, &m, GM_ELIMIT);
    cr_assert_eq(recv(&bob, &first), 0);
    cr_assert_eq(recv(&bob, &m), 0); /* exactly GM_SK_MAX_SKIP skipped */
    cr_assert_eq(bob.n_skipped, GM_SK_MAX_SKIP);
    gm_sk_wipe(&own);
    gm_sk_wipe(&bob);
}

/* Sends GM_SK_MAX_SKIP + 1 messages; bob gets the last; first gets the first. */
static void send_gap(gm_sk_state_t *own, gm_sk_state_t *bob, sk_msg_t *first)
{
    sk_msg_t m;

    send(own, first, 0);
    for (uint32_t i = 1; i <= GM_SK_MAX_SKIP; i++) {
        send(own, &m, i);
    }
    cr_assert_eq(recv(bob, &m), 0);
}

Test(senderkey, stored_seeds_are_bounded_oldest_evicted)
{
    gm_sk_state_t own, bob;
    sk_msg_t first[3];

    make_key(&own, &bob, 1);
    for (int i = 0; i < 3; i++) {
        send_gap(&own, &bob, &first[i]);
    }
    cr_assert_eq(bob.n_skipped, GM_SK_MAX_SKIPPED);
    cr_assert_eq(bob.skipped[0].iteration, first[1].iteration);
    expect_refused(&bob, &first[0], GM_EREPLAY);
    cr_assert_eq(recv(&bob, &first[1]), 0);
    cr_assert_eq(recv(&bob, &first[2]), 0);
    gm_sk_wipe(&own);
    gm_sk_wipe(&bob);
}

Test(senderkey, expired_seeds_are_unusable_and_dropped)
{
    gm_sk_state_t own, bob;
    sk_msg_t m[4];

    make_key(&own, &bob, 1);
    for (int i = 0; i < 4; i++) {
        send(&own, &m[i], (uint32_t)i);
    }
    cr_assert_eq(recv(&bob, &m[2]), 0);
    cr_assert_eq(gm_sk_expire(&bob, NOW + LIFE), 0);
    cr_assert_eq(recv_at(&bob, &m[0], NOW + LIFE + 1), GM_EREPLAY);
    cr_assert_eq(bob.n_skipped, 2, "a refused message changed the state");
    cr_assert_eq(recv_at(&bob, &m[3], NOW + LIFE + 1), 0);
    cr_assert_eq(bob.n_skipped, 0);
    cr_assert_null(bob.skipped);
    cr_assert_eq(recv_at(&bob, &m[1], NOW + LIFE + 1), GM_EREPLAY);
    cr_assert_eq(gm_sk_expire(&bob, UINT64_MAX), 0);
    gm_sk_wipe(&own);
    gm_sk_wipe(&bob);
}

/* ---- the stored form ---- */

static void restore(gm_sk_state_t *s)
{
    snap_t a = snap(s), b;
    gm_sk_state_t copy;

    cr_assert_eq(gm_sk_deserialize(&copy, a.data, a.len), 0);
    b = snap(&copy);
    cr_assert(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    gm_sk_wipe(s);
    *s = copy;
    snap_free(&a);
    snap_free(&b);
}

Test(senderkey, stored_states_round_trip)
{
    gm_sk_state_t own, bob;
    sk_msg_t m[3];

    make_key(&own, &bob, 1);
    for (int i = 0; i < 3; i++) {
        send(&own, &m[i], (uint32_t)i);
    }
    cr_assert_eq(recv(&bob, &m[2]), 0);
    restore(&own);
    restore(&bob);
    cr_assert(own.own && !bob.own);
    cr_assert_eq(bob.n_skipped, 2);
    cr_assert_eq(recv(&bob, &m[0]), 0);
    cr_assert_eq(recv(&bob, &m[2]), GM_EREPLAY);
    send(&own, &m[0], 3);
    cr_assert_eq(recv(&bob, &m[0]), 0);
    cr_assert_eq(recv(&bob, &m[1]), 0);
    gm_sk_wipe(&own);
    gm_sk_wipe(&bob);
}

static void expect_eproto(const uint8_t *buf, size_t len)
{
    gm_sk_state_t s;
    uint8_t canary[sizeof s];

    memset(&s, CANARY, sizeof s);
    memset(canary, CANARY, sizeof canary);
    cr_assert_eq(gm_sk_deserialize(&s, buf, len), GM_EPROTO, "accepted %zu bytes", len);
    cr_assert_eq(memcmp(&s, canary, sizeof s), 0, "state written on failure");
}

Test(senderkey, malformed_stored_states_are_refused)
{
    gm_sk_state_t own, bob;
    sk_msg_t m[3];
    snap_t sn;
    uint8_t junk[300], key[randombytes_SEEDBYTES] = {0x55};

    make_key(&own, &bob, 1);
    for (int i = 0; i < 3; i++) {
        send(&own, &m[i], (uint32_t)i);
    }
    cr_assert_eq(recv(&bob, &m[2]), 0);
    sn = snap(&bob);
    for (size_t len = 0; len < sn.len; len++) {
        expect_eproto(sn.data, len);
    }
    for (size_t len = 1; len <= sizeof junk; len += 29) {
        key[1] = (uint8_t)len;
        randombytes_buf_deterministic(junk, len, key);
        expect_eproto(junk, len);
    }
    cr_assert(sn.data[0] == 0x08 && sn.data[1] == 1, "version is not the first field");
    sn.data[1] = 2;
    expect_eproto(sn.data, sn.len);
    snap_free(&sn);
    /* An own state with skipped seeds is no state this code makes. */
    own.skipped = bob.skipped;
    own.n_skipped = bob.n_skipped;
    cr_assert_eq(gm_sk_serialize(&own, &sn.data, &sn.len), GM_EPROTO);
    own.skipped = NULL;
    own.n_skipped = 0;
    gm_sk_wipe(&own);
    gm_sk_wipe(&bob);
}

Test(senderkey, copy_is_deep)
{
    gm_sk_state_t own, bob, copy;
    sk_msg_t m[2];

    make_key(&own, &bob, 1);
    send(&own, &m[0], 0);
    send(&own, &m[1], 1);
    cr_assert_eq(recv(&bob, &m[1]), 0);
    cr_assert_eq(gm_sk_copy(&copy, &bob), 0);
    cr_assert_neq(copy.skipped, bob.skipped);
    gm_sk_wipe(&bob);
    cr_assert(sodium_is_zero((const uint8_t *)&bob, sizeof bob));
    cr_assert_eq(recv(&copy, &m[0]), 0);
    gm_sk_wipe(&copy);
    gm_sk_wipe(&own);
    gm_sk_wipe(NULL);
}

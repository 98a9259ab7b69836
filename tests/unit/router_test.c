/*
 * node/router: announcements checked before use, duplicate suppression, the
 * directory, and the feasibility rule, link loss and expiry of the route
 * table. The many-seed loop-freedom property is in router_sim.c.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "node/router.h"
#include "proto/wire_announce.h"
#include "tests/support/ident.h"

#define NOW 1767225600u /* 2026-01-01T00:00:00Z */
#define DAY 86400u

/* Our router is A's; B and C are its neighbours; the others originate announcements. */
enum { A, B, C, D, REVOKED, EXPIRED, FOREIGN, N_IDS };

typedef struct {
    gm_node_keys_t keys;
    gm_cert_t cert;
} ident_t;

static struct {
    gm_test_org_t org, evil;
    gm_trust_t trust;
    ident_t id[N_IDS];
    gm_router_t *origin[N_IDS]; /* each node's own router, to make its announcements */
    gm_router_config_t cfg;
    gm_router_t *r; /* A's, with B and C up */
    gm_router_forward_t fwd;
    uint8_t buf[GM_ROUTE_UPDATE_MAX], buf2[GM_ROUTE_UPDATE_MAX];
    size_t len, len2;
} fx;

static void make_ident(gm_test_org_t *org, const char *name, uint64_t nb, uint64_t na, ident_t *out)
{
    gm_cert_body_t t;

    memset(&t, 0, sizeof t);
    gm_node_keys_generate(&out->keys);
    snprintf(t.callsign, sizeof t.callsign, "%s", name);
    t.role = GM_ROLE_HANDHELD;
    t.serial = org->next_serial++;
    memcpy(t.sign_pk, out->keys.sign_pk, GM_KEY_LEN);
    memcpy(t.link_pk, out->keys.link_pk, GM_KEY_LEN);
    memcpy(t.e2e_pk, out->keys.e2e_pk, GM_KEY_LEN);
    t.not_before = nb;
    t.not_after = na;
    cr_assert_eq(gm_cert_issue(org->seed, &org->root, &t, &out->cert), 0);
}

/* Adds a list of org revoking serial (sequence seq) to trust. */
static void revoke(gm_trust_t *trust, uint64_t seq, uint64_t serial)
{
    gm_crl_body_t t;
    gm_crl_t crl;

    memset(&t, 0, sizeof t);
    t.seq = seq;
    t.issued_at = NOW - DAY;
    t.next_update = NOW + DAY;
    t.serials = &serial;
    t.n_serials = 1;
    cr_assert_eq(gm_crl_issue(fx.org.seed, &fx.org.root, &t, &crl), 0);
    cr_assert_eq(gm_trust_add_crl(trust, &crl), 0);
}

static gm_router_t *router_of(int who, const gm_router_config_t *cfg)
{
    gm_router_t *r;

    cr_assert_eq(gm_router_new(&fx.id[who].keys, &fx.id[who].cert, &fx.trust, cfg, &r), 0);
    return r;
}

static void setup(void)
{
    static const char *const names[N_IDS] = {"alpha",   "bravo",   "charlie", "delta",
                                             "revoked", "expired", "foreign"};

    cr_assert(sodium_init() >= 0);
    memset(&fx, 0, sizeof fx);
    gm_test_org(&fx.org, "acme");
    gm_test_org(&fx.evil, "evil");
    gm_trust_init(&fx.trust);
    cr_assert_eq(gm_trust_add_root(&fx.trust, &fx.org.root), 0);
    for (int i = 0; i < N_IDS; i++) {
        gm_test_org_t *org = i == FOREIGN ? &fx.evil : &fx.org;
        uint64_t nb = i == EXPIRED ? NOW - 40 * DAY : NOW - DAY;

        make_ident(org, names[i], nb, nb + 30 * DAY, &fx.id[i]);
    }
    revoke(&fx.trust, 1, fx.id[REVOKED].cert.body.serial);
    gm_router_config_default(&fx.cfg);
    for (int i = 0; i < N_IDS; i++) {
        fx.origin[i] = router_of(i, &fx.cfg);
    }
    fx.r = router_of(A, &fx.cfg);
    cr_assert_eq(gm_router_link_up(fx.r, fx.id[B].cert.body.node_id), 0);
    cr_assert_eq(gm_router_link_up(fx.r, fx.id[C].cert.body.node_id), 0);
}

static void teardown(void)
{
    for (int i = 0; i < N_IDS; i++) {
        gm_router_free(fx.origin[i]);
        gm_node_keys_wipe(&fx.id[i].keys);
    }
    gm_router_free(fx.r);
    gm_trust_close(&fx.trust);
}

TestSuite(router, .init = setup, .fini = teardown);

static const uint8_t *id_of(int who)
{
    return fx.id[who].cert.body.node_id;
}

/* who's next announcement, made at wall time wall, into fx.buf. */
static void announce_at(int who, uint64_t wall)
{
    cr_assert_eq(
        gm_router_make_announcement(fx.origin[who], 0, wall, fx.buf, sizeof fx.buf, &fx.len), 0);
}

static void announce(int who)
{
    announce_at(who, NOW);
}

/* The RouteUpdate in in/len with another metric, into out. */
static size_t with_metric(const uint8_t *in, size_t len, uint32_t metric, uint8_t *out)
{
    static gm_route_update_t u;
    size_t n;

    cr_assert_eq(gm_wire_route_update_decode(in, len, &u), 0);
    u.metric = metric;
    cr_assert_eq(gm_wire_route_update_encode(&u, out, GM_ROUTE_UPDATE_MAX, &n), 0);
    return n;
}

/* fx.buf relayed with metric, into fx.buf2. */
static void relay(uint32_t metric)
{
    fx.len2 = with_metric(fx.buf, fx.len, metric, fx.buf2);
}

static gm_router_verdict_t deliver(gm_router_t *r, int from, const uint8_t *buf, size_t len)
{
    return gm_router_on_update(r, id_of(from), buf, len, 1000, NOW, &fx.fwd);
}

/* An announcement carrying cert_of's certificate, signed by signer, into fx.buf. */
static void forge(int signer, int cert_of, uint64_t seq)
{
    static gm_announce_t a;
    static gm_announce_signed_t s;
    static gm_route_update_t u;

    memset(&a, 0, sizeof a);
    memcpy(a.cert, fx.id[cert_of].cert.encoded, fx.id[cert_of].cert.encoded_len);
    a.cert_len = fx.id[cert_of].cert.encoded_len;
    a.seq = seq;
    a.time = NOW;
    cr_assert_eq(gm_wire_announce_encode(&a, s.body, sizeof s.body, &s.body_len), 0);
    cr_assert_eq(
        gm_node_keys_sign(&fx.id[signer].keys, GM_ROUTER_CTX, s.body, s.body_len, s.signature), 0);
    cr_assert_eq(gm_wire_announce_signed_encode(&s, u.announcement, sizeof u.announcement,
                                                &u.announcement_len),
                 0);
    u.metric = 0;
    cr_assert_eq(gm_wire_route_update_encode(&u, fx.buf, sizeof fx.buf, &fx.len), 0);
}

static uint64_t count(gm_router_verdict_t v)
{
    gm_router_stats_t st;

    gm_router_stats(fx.r, &st);
    return st.verdicts[v];
}

static void assert_hop(int dest, int hop, uint32_t metric)
{
    uint8_t got[GM_ID_LEN];
    uint32_t m;

    cr_assert_eq(gm_router_next_hop(fx.r, id_of(dest), got, &m), 0);
    cr_assert_arr_eq(got, id_of(hop), GM_ID_LEN);
    cr_assert_eq(m, metric);
}

static void assert_unreachable(int dest)
{
    uint8_t got[GM_ID_LEN];
    uint32_t m;

    cr_assert_eq(gm_router_next_hop(fx.r, id_of(dest), got, &m), GM_ENOENT);
}

/* fx.fwd carries the same announcement as in/len with metric. */
static void assert_forwarded(const uint8_t *in, size_t len, uint32_t metric)
{
    static gm_route_update_t got, want;

    cr_assert_gt(fx.fwd.len, 0);
    cr_assert_eq(gm_wire_route_update_decode(fx.fwd.update, fx.fwd.len, &got), 0);
    cr_assert_eq(gm_wire_route_update_decode(in, len, &want), 0);
    cr_assert_eq(got.announcement_len, want.announcement_len);
    cr_assert_arr_eq(got.announcement, want.announcement, want.announcement_len);
    cr_assert_eq(got.metric, metric);
}

/* ---- accepted updates ---- */

Test(router, new_announcement_is_accepted_forwarded_and_listed)
{
    static const uint8_t prekeys[40] = "prekey bundle for the next issue......";
    gm_router_node_t n;
    gm_route_info_t info;

    cr_assert_eq(gm_router_set_prekeys(fx.origin[D], prekeys, sizeof prekeys), 0);
    announce(D);
    relay(1); /* B heard it from D */
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_NEW);
    assert_forwarded(fx.buf, fx.len, 2);
    cr_assert_arr_eq(fx.fwd.origin, id_of(D), GM_ID_LEN);
    cr_assert_eq(fx.fwd.seq, gm_router_own_seq(fx.origin[D]));
    assert_hop(D, B, 2);
    cr_assert_eq(gm_router_node_count(fx.r), 1);
    cr_assert_eq(gm_router_lookup(fx.r, id_of(D), &n), 0);
    cr_assert_arr_eq(n.cert.body.sign_pk, fx.id[D].keys.sign_pk, GM_KEY_LEN);
    cr_assert_eq(n.prekeys_len, sizeof prekeys);
    cr_assert_arr_eq(n.prekeys, prekeys, sizeof prekeys);
    cr_assert_eq(n.time, NOW);
    cr_assert_eq(gm_router_route_at(fx.r, 0, 1500, &info), 0);
    cr_assert_str_eq(info.callsign, "delta");
    cr_assert(info.reachable);
    cr_assert_arr_eq(info.next_hop, id_of(B), GM_ID_LEN);
    cr_assert_eq(info.metric, 2);
    cr_assert_eq(info.age_ms, 500);
    cr_assert_eq(gm_router_route_at(fx.r, 1, 1500, &info), GM_ENOENT);
    cr_assert_eq(count(GM_ROUTER_ACCEPTED_NEW), 1);
}

Test(router, duplicate_is_suppressed_and_counted)
{
    announce(D);
    relay(1);
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_NEW);
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_DUPLICATE);
    cr_assert_eq(fx.fwd.len, 0);
    cr_assert_eq(deliver(fx.r, C, fx.buf2, fx.len2), GM_ROUTER_DUPLICATE); /* equal metric */
    cr_assert_eq(fx.fwd.len, 0);
    relay(4);
    cr_assert_eq(deliver(fx.r, C, fx.buf2, fx.len2), GM_ROUTER_DUPLICATE); /* worse */
    assert_hop(D, B, 2);
    cr_assert_eq(count(GM_ROUTER_DUPLICATE), 3);
}

Test(router, better_metric_for_the_same_seq_changes_the_route_and_is_forwarded)
{
    announce(D);
    relay(3);
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_NEW);
    assert_forwarded(fx.buf, fx.len, 4);
    relay(1);
    cr_assert_eq(deliver(fx.r, C, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_ROUTE_ONLY);
    assert_forwarded(fx.buf, fx.len, 2);
    assert_hop(D, C, 2);
    cr_assert_eq(count(GM_ROUTER_ACCEPTED_ROUTE_ONLY), 1);
}

Test(router, newer_seq_replaces_the_announcement_whatever_its_metric)
{
    announce(D);
    relay(1);
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_NEW);
    announce(D);
    relay(5);
    cr_assert_eq(deliver(fx.r, C, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_NEW);
    assert_hop(D, C, 6); /* the newer seq wins over B's shorter, older route */
    assert_forwarded(fx.buf, fx.len, 6);
}

/* ---- forged and replayed updates ---- */

Test(router, bad_signature_is_dropped_and_counted)
{
    static gm_route_update_t u;
    static gm_announce_signed_t s;

    announce(D);
    cr_assert_eq(gm_wire_route_update_decode(fx.buf, fx.len, &u), 0);
    cr_assert_eq(gm_wire_announce_signed_decode(u.announcement, u.announcement_len, &s), 0);
    s.signature[10] ^= 0x01;
    cr_assert_eq(gm_wire_announce_signed_encode(&s, u.announcement, sizeof u.announcement,
                                                &u.announcement_len),
                 0);
    cr_assert_eq(gm_wire_route_update_encode(&u, fx.buf2, sizeof fx.buf2, &fx.len2), 0);
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_BAD_SIGNATURE);
    cr_assert_eq(fx.fwd.len, 0);
    cr_assert_eq(gm_router_node_count(fx.r), 0);
    assert_unreachable(D);
    cr_assert_eq(count(GM_ROUTER_BAD_SIGNATURE), 1);
    cr_assert_eq(deliver(fx.r, B, fx.buf, fx.len), GM_ROUTER_ACCEPTED_NEW); /* the genuine one */
}

Test(router, replayed_older_seq_is_dropped_and_counted)
{
    uint8_t old[GM_ROUTE_UPDATE_MAX];
    size_t old_len;
    gm_router_node_t n;

    announce(D);
    memcpy(old, fx.buf, fx.len);
    old_len = fx.len;
    announce(D);
    cr_assert_eq(deliver(fx.r, B, fx.buf, fx.len), GM_ROUTER_ACCEPTED_NEW);
    cr_assert_eq(deliver(fx.r, B, old, old_len), GM_ROUTER_OLD_SEQ);
    cr_assert_eq(deliver(fx.r, C, old, old_len), GM_ROUTER_OLD_SEQ);
    cr_assert_eq(fx.fwd.len, 0);
    cr_assert_eq(gm_router_lookup(fx.r, id_of(D), &n), 0);
    cr_assert_eq(n.seq, gm_router_own_seq(fx.origin[D]));
    cr_assert_eq(count(GM_ROUTER_OLD_SEQ), 2);
}

Test(router, untrusted_revoked_and_expired_certificates_are_dropped_and_counted)
{
    announce(FOREIGN);
    cr_assert_eq(deliver(fx.r, B, fx.buf, fx.len), GM_ROUTER_UNTRUSTED);
    cr_assert_eq(fx.fwd.cert_verdict, GM_CERT_UNKNOWN_ISSUER);
    announce(REVOKED);
    cr_assert_eq(deliver(fx.r, B, fx.buf, fx.len), GM_ROUTER_REVOKED);
    cr_assert_arr_eq(fx.fwd.origin, id_of(REVOKED), GM_ID_LEN);
    announce(EXPIRED);
    cr_assert_eq(deliver(fx.r, B, fx.buf, fx.len), GM_ROUTER_EXPIRED);
    cr_assert_eq(fx.fwd.cert_verdict, GM_CERT_EXPIRED);
    cr_assert_eq(gm_router_node_count(fx.r), 0);
    cr_assert_eq(count(GM_ROUTER_UNTRUSTED), 1);
    cr_assert_eq(count(GM_ROUTER_REVOKED), 1);
    cr_assert_eq(count(GM_ROUTER_EXPIRED), 1);
    cr_assert_str_eq(gm_router_verdict_str(GM_ROUTER_REVOKED), "revoked certificate");
}

Test(router, announcement_for_another_nodes_certificate_is_an_id_mismatch)
{
    announce(B);
    cr_assert_eq(deliver(fx.r, B, fx.buf, fx.len), GM_ROUTER_ACCEPTED_NEW); /* B is known */
    forge(B, D, 5);
    cr_assert_eq(deliver(fx.r, B, fx.buf, fx.len), GM_ROUTER_ID_MISMATCH);
    forge(C, D, 5); /* C is not in the directory: only a bad signature to us */
    cr_assert_eq(deliver(fx.r, C, fx.buf, fx.len), GM_ROUTER_BAD_SIGNATURE);
    cr_assert_eq(gm_router_node_count(fx.r), 1);
    assert_unreachable(D);
    cr_assert_eq(count(GM_ROUTER_ID_MISMATCH), 1);
}

Test(router, update_claiming_our_own_id_is_an_id_mismatch_but_our_echo_is_a_duplicate)
{
    gm_router_t *again;

    forge(B, A, 7); /* our certificate, B's signature */
    cr_assert_eq(deliver(fx.r, B, fx.buf, fx.len), GM_ROUTER_ID_MISMATCH);
    cr_assert_eq(gm_router_make_announcement(fx.r, 0, NOW, fx.buf, sizeof fx.buf, &fx.len), 0);
    relay(2);
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_DUPLICATE); /* our own, back */
    cr_assert_eq(fx.fwd.len, 0);
    cr_assert_eq(gm_router_node_count(fx.r), 0);
    cr_assert_not(gm_router_announce_due(fx.r, 0));
    /* An echo from before a restart that lost our number: our next one goes past it. */
    again = router_of(A, &fx.cfg);
    gm_router_set_own_seq(again, gm_router_own_seq(fx.r) + 100);
    cr_assert_eq(gm_router_make_announcement(again, 0, NOW, fx.buf, sizeof fx.buf, &fx.len), 0);
    cr_assert_eq(deliver(fx.r, C, fx.buf, fx.len), GM_ROUTER_DUPLICATE);
    cr_assert_eq(gm_router_own_seq(fx.r), gm_router_own_seq(again));
    cr_assert(gm_router_announce_due(fx.r, 0));
    gm_router_free(again);
    cr_assert_eq(count(GM_ROUTER_ID_MISMATCH), 1);
}

Test(router, announcement_from_beyond_the_clock_skew_is_dropped)
{
    announce_at(D, NOW + GM_CERT_SKEW_SECONDS + 1);
    cr_assert_eq(deliver(fx.r, B, fx.buf, fx.len), GM_ROUTER_FROM_FUTURE);
    cr_assert_eq(count(GM_ROUTER_FROM_FUTURE), 1);
    cr_assert_eq(gm_router_node_count(fx.r), 0);
    announce_at(C, NOW + GM_CERT_SKEW_SECONDS); /* within the skew */
    cr_assert_eq(deliver(fx.r, C, fx.buf, fx.len), GM_ROUTER_ACCEPTED_NEW);
}

Test(router, malformed_and_linkless_updates_are_dropped_and_counted)
{
    static const uint8_t junk[] = {0x0a, 0x05, 1, 2, 3, 4, 5, 0x10, 0x01};

    cr_assert_eq(deliver(fx.r, B, junk, sizeof junk), GM_ROUTER_MALFORMED);
    cr_assert_eq(deliver(fx.r, B, junk, 3), GM_ROUTER_MALFORMED);
    announce(D);
    cr_assert_eq(deliver(fx.r, B, fx.buf, fx.len - 1), GM_ROUTER_MALFORMED);
    cr_assert_eq(deliver(fx.r, D, fx.buf, fx.len), GM_ROUTER_NO_LINK); /* D's link is not up */
    cr_assert_eq(count(GM_ROUTER_MALFORMED), 3);
    cr_assert_eq(count(GM_ROUTER_NO_LINK), 1);
    cr_assert_eq(gm_router_node_count(fx.r), 0);
}

Test(router, full_directory_refuses_new_nodes_and_counts_them)
{
    gm_router_config_t cfg = fx.cfg;
    gm_router_stats_t st;
    gm_router_t *small;

    cfg.max_nodes = 2;
    small = router_of(A, &cfg);
    cr_assert_eq(gm_router_link_up(small, id_of(B)), 0);
    announce(B);
    cr_assert_eq(deliver(small, B, fx.buf, fx.len), GM_ROUTER_ACCEPTED_NEW);
    announce(C);
    cr_assert_eq(deliver(small, B, fx.buf, fx.len), GM_ROUTER_ACCEPTED_NEW);
    announce(D);
    cr_assert_eq(deliver(small, B, fx.buf, fx.len), GM_ROUTER_DIRECTORY_FULL);
    announce(B); /* known nodes still update */
    cr_assert_eq(deliver(small, B, fx.buf, fx.len), GM_ROUTER_ACCEPTED_NEW);
    cr_assert_eq(gm_router_node_count(small), 2);
    gm_router_stats(small, &st);
    cr_assert_eq(st.verdicts[GM_ROUTER_DIRECTORY_FULL], 1);
    gm_router_free(small);
}

Test(router, revocation_after_acceptance_drops_the_node)
{
    gm_router_node_t n;

    announce(D);
    cr_assert_eq(deliver(fx.r, B, fx.buf, fx.len), GM_ROUTER_ACCEPTED_NEW);
    announce(C);
    cr_assert_eq(deliver(fx.r, C, fx.buf, fx.len), GM_ROUTER_ACCEPTED_NEW);
    revoke(&fx.trust, 2, fx.id[D].cert.body.serial);
    cr_assert_eq(gm_router_recheck(fx.r, NOW), 1);
    cr_assert_eq(gm_router_lookup(fx.r, id_of(D), &n), GM_ENOENT);
    cr_assert_eq(gm_router_lookup(fx.r, id_of(C), &n), 0);
    assert_unreachable(D);
    announce(D);
    cr_assert_eq(deliver(fx.r, B, fx.buf, fx.len), GM_ROUTER_REVOKED);
    cr_assert_eq(gm_router_node_count(fx.r), 1);
}

/* The same verified bytes again skip the signatures, not the revocation list. */
Test(router, known_bytes_are_still_refused_once_revoked)
{
    announce(D);
    cr_assert_eq(deliver(fx.r, B, fx.buf, fx.len), GM_ROUTER_ACCEPTED_NEW);
    revoke(&fx.trust, 2, fx.id[D].cert.body.serial);
    cr_assert_eq(deliver(fx.r, C, fx.buf, fx.len), GM_ROUTER_REVOKED);
    cr_assert_eq(gm_router_node_count(fx.r), 0);
}

/* ---- the route table ---- */

Test(router, worse_metric_for_the_same_seq_is_not_feasible_once_the_fd_is_lower)
{
    gm_router_stats_t st;

    announce(D);
    relay(1);
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_NEW); /* FD = 2 */
    relay(2);
    cr_assert_eq(deliver(fx.r, C, fx.buf2, fx.len2), GM_ROUTER_DUPLICATE); /* 2 is not < 2 */
    gm_router_stats(fx.r, &st);
    cr_assert_eq(st.infeasible, 1);
    /* B's route goes: C's is kept but infeasible, so D is unreachable rather than looping. */
    cr_assert_eq(gm_router_link_down(fx.r, id_of(B)), 1);
    assert_unreachable(D);
    cr_assert_eq(gm_router_take_pending(fx.r, fx.buf2, sizeof fx.buf2, &fx.len2), 0);
    fx.fwd.len = fx.len2;
    memcpy(fx.fwd.update, fx.buf2, fx.len2);
    assert_forwarded(fx.buf, fx.len, fx.cfg.infinity); /* "no route through me" */
    cr_assert_eq(gm_router_take_pending(fx.r, fx.buf2, sizeof fx.buf2, &fx.len2), GM_ENOENT);
    /* The origin's next announcement is feasible again through C. */
    announce(D);
    relay(2);
    cr_assert_eq(deliver(fx.r, C, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_NEW);
    assert_hop(D, C, 3);
}

Test(router, lost_link_removes_its_routes_at_once_and_reselects_a_feasible_one)
{
    gm_router_stats_t st;

    announce(D);
    relay(1);
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_NEW);
    cr_assert_eq(deliver(fx.r, C, fx.buf2, fx.len2), GM_ROUTER_DUPLICATE);
    announce(B);
    cr_assert_eq(deliver(fx.r, B, fx.buf, fx.len), GM_ROUTER_ACCEPTED_NEW);
    assert_hop(D, B, 2);
    assert_hop(B, B, 1);
    cr_assert_eq(gm_router_link_down(fx.r, id_of(B)), 1); /* only B itself changed */
    assert_hop(D, C, 2);
    assert_unreachable(B);
    gm_router_stats(fx.r, &st);
    cr_assert_eq(st.routes_lost, 2);
    cr_assert_eq(gm_router_link_down(fx.r, id_of(B)), 0);
    cr_assert_eq(deliver(fx.r, B, fx.buf, fx.len), GM_ROUTER_NO_LINK);
    cr_assert_eq(gm_router_link_up(fx.r, id_of(B)), 0);
    cr_assert_eq(gm_router_link_up(fx.r, id_of(A)), GM_EPROTO);
}

Test(router, retraction_from_the_next_hop_propagates)
{
    announce(D);
    relay(1);
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_NEW);
    relay(fx.cfg.infinity);
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_ROUTE_ONLY);
    assert_forwarded(fx.buf, fx.len, fx.cfg.infinity);
    assert_unreachable(D);
    relay(fx.cfg.infinity); /* from C, which never had a route: nothing changes */
    cr_assert_eq(deliver(fx.r, C, fx.buf2, fx.len2), GM_ROUTER_DUPLICATE);
}

Test(router, routes_expire_unless_refreshed)
{
    gm_router_stats_t st;

    announce(D);
    relay(1);
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_NEW); /* at 1000 ms */
    cr_assert_eq(gm_router_tick(fx.r, 1000 + fx.cfg.route_expiry_ms - 1, NOW), 0);
    assert_hop(D, B, 2);
    cr_assert_eq(gm_router_tick(fx.r, 1000 + fx.cfg.route_expiry_ms, NOW), 1);
    assert_unreachable(D);
    gm_router_stats(fx.r, &st);
    cr_assert_eq(st.routes_expired, 1);
    cr_assert_eq(gm_router_node_count(fx.r), 1); /* the directory keeps the announcement */
    cr_assert_eq(gm_router_take_pending(fx.r, fx.buf2, sizeof fx.buf2, &fx.len2), 0);
}

Test(router, directory_entry_goes_when_its_certificate_expires)
{
    uint64_t end = fx.id[D].cert.body.not_after + GM_CERT_SKEW_SECONDS;

    announce(D);
    cr_assert_eq(deliver(fx.r, B, fx.buf, fx.len), GM_ROUTER_ACCEPTED_NEW);
    gm_router_tick(fx.r, 2000, end);
    cr_assert_eq(gm_router_node_count(fx.r), 1);
    gm_router_tick(fx.r, 2000, end + 1);
    cr_assert_eq(gm_router_node_count(fx.r), 0);
    assert_unreachable(D);
}

/* A tick skips its pass until something can be due: an entry or a route that comes
 * after a pass found nothing to wait for must still go on time. */
Test(router, a_quiet_tick_does_not_keep_later_entries_from_expiring)
{
    uint64_t end = fx.id[D].cert.body.not_after + GM_CERT_SKEW_SECONDS;

    cr_assert_eq(gm_router_tick(fx.r, 500, NOW), 0); /* empty: nothing to wait for */
    announce(D);
    relay(1);
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_NEW); /* at 1000 ms */
    cr_assert_eq(gm_router_tick(fx.r, 1000 + fx.cfg.route_expiry_ms, NOW), 1);
    assert_unreachable(D);
    cr_assert_eq(gm_router_node_count(fx.r), 1);
    gm_router_tick(fx.r, 1000 + fx.cfg.route_expiry_ms + 1, end + 1);
    cr_assert_eq(gm_router_node_count(fx.r), 0);
}

Test(router, link_up_dump_carries_our_own_and_every_route)
{
    static gm_route_update_t u;

    cr_assert_eq(gm_router_encode_own(fx.r, fx.buf2, sizeof fx.buf2, &fx.len2), GM_ENOENT);
    cr_assert_eq(gm_router_make_announcement(fx.r, 0, NOW, fx.buf, sizeof fx.buf, &fx.len), 0);
    cr_assert_eq(gm_router_encode_own(fx.r, fx.buf2, sizeof fx.buf2, &fx.len2), 0);
    cr_assert_eq(fx.len2, fx.len);
    cr_assert_arr_eq(fx.buf2, fx.buf, fx.len);
    announce(D);
    relay(3);
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_NEW);
    cr_assert_eq(gm_router_encode_route(fx.r, 0, fx.buf2, sizeof fx.buf2, &fx.len2), 0);
    cr_assert_eq(gm_wire_route_update_decode(fx.buf2, fx.len2, &u), 0);
    cr_assert_eq(u.metric, 4);
    cr_assert_eq(gm_router_encode_route(fx.r, 1, fx.buf2, sizeof fx.buf2, &fx.len2), GM_ENOENT);
}

/* ---- our own announcements ---- */

Test(router, own_sequence_numbers_strictly_increase_and_survive_a_restart)
{
    gm_router_t *r = fx.origin[D];
    static gm_route_update_t u;
    static gm_announce_signed_t s;
    static gm_announce_t a;

    cr_assert(gm_router_announce_due(r, 0));
    announce(D);
    cr_assert_eq(gm_router_own_seq(r), (uint64_t)NOW * 1000); /* time-based at first */
    announce(D);
    cr_assert_eq(gm_router_own_seq(r), (uint64_t)NOW * 1000 + 1);
    announce_at(D, NOW - 3600); /* a clock set back does not go back */
    cr_assert_eq(gm_router_own_seq(r), (uint64_t)NOW * 1000 + 2);
    gm_router_set_own_seq(r, 5); /* restoring never lowers it */
    cr_assert_eq(gm_router_own_seq(r), (uint64_t)NOW * 1000 + 2);
    gm_router_set_own_seq(r, (uint64_t)NOW * 2000);
    announce(D);
    cr_assert_eq(gm_router_own_seq(r), (uint64_t)NOW * 2000 + 1);
    /* The announcement carries it, signed with the announce context by D's key. */
    cr_assert_eq(gm_wire_route_update_decode(fx.buf, fx.len, &u), 0);
    cr_assert_eq(u.metric, 0);
    cr_assert_eq(gm_wire_announce_signed_decode(u.announcement, u.announcement_len, &s), 0);
    cr_assert_eq(gm_sign_verify(fx.id[D].keys.sign_pk, "guardmesh/announce/1", s.body, s.body_len,
                                s.signature),
                 0);
    cr_assert_eq(gm_wire_announce_decode(s.body, s.body_len, &a), 0);
    cr_assert_eq(a.seq, (uint64_t)NOW * 2000 + 1);
    cr_assert_eq(a.cert_len, fx.id[D].cert.encoded_len);
}

Test(router, announcement_is_due_at_start_on_change_and_after_the_interval)
{
    gm_router_t *r = fx.origin[D];
    uint8_t big[GM_ANNOUNCE_PREKEYS_MAX + 1] = {0};

    cr_assert(gm_router_announce_due(r, 100));
    cr_assert_eq(gm_router_make_announcement(r, 100, NOW, fx.buf, sizeof fx.buf, &fx.len), 0);
    cr_assert_not(gm_router_announce_due(r, 100 + fx.cfg.announce_interval_ms - 1));
    cr_assert(gm_router_announce_due(r, 100 + fx.cfg.announce_interval_ms));
    cr_assert_eq(gm_router_set_prekeys(r, big, sizeof big), GM_ELIMIT);
    cr_assert_not(gm_router_announce_due(r, 200));
    cr_assert_eq(gm_router_set_prekeys(r, big, GM_ANNOUNCE_PREKEYS_MAX), 0);
    cr_assert(gm_router_announce_due(r, 200));
    cr_assert_eq(gm_router_make_announcement(r, 200, NOW, fx.buf, sizeof fx.buf - 1, &fx.len),
                 GM_ELIMIT);
    cr_assert_eq(gm_router_make_announcement(r, 200, NOW, fx.buf, sizeof fx.buf, &fx.len), 0);
    cr_assert_leq(fx.len, GM_ROUTE_UPDATE_MAX);
}

Test(router, configuration_and_keys_are_checked)
{
    gm_router_config_t cfg = fx.cfg;
    gm_router_t *r = NULL;

    cr_assert_eq(gm_router_new(&fx.id[A].keys, &fx.id[B].cert, &fx.trust, &cfg, &r), GM_EAUTH);
    cfg.infinity = 1;
    cr_assert_eq(gm_router_new(&fx.id[A].keys, &fx.id[A].cert, &fx.trust, &cfg, &r), GM_EPROTO);
    cfg = fx.cfg;
    cfg.max_neighbours = 2;
    cr_assert_eq(gm_router_new(&fx.id[A].keys, &fx.id[A].cert, &fx.trust, &cfg, &r), 0);
    cr_assert_eq(gm_router_link_up(r, id_of(B)), 0);
    cr_assert_eq(gm_router_link_up(r, id_of(C)), 0);
    cr_assert_eq(gm_router_link_up(r, id_of(B)), 0); /* already up */
    cr_assert_eq(gm_router_link_up(r, id_of(D)), GM_ELIMIT);
    gm_router_free(r);
    gm_router_free(NULL);
}

/* ---- the codecs ---- */

Test(router, codecs_round_trip_and_refuse_out_of_range_fields)
{
    static gm_announce_t a, back;
    static gm_announce_signed_t s;
    uint8_t enc[GM_ANNOUNCE_SIGNED_MAX + 1];
    size_t len;

    memset(&a, 0, sizeof a);
    a.cert_len = GM_CERT_MAX_LEN;
    memset(a.cert, 0x5a, a.cert_len);
    a.seq = UINT64_MAX;
    a.time = UINT64_MAX;
    a.prekeys_len = GM_ANNOUNCE_PREKEYS_MAX;
    memset(a.prekeys, 0xa5, a.prekeys_len);
    cr_assert_eq(gm_wire_announce_encode(&a, enc, sizeof enc, &len), 0);
    cr_assert_leq(len, GM_ANNOUNCE_BODY_MAX);
    cr_assert_eq(gm_wire_announce_decode(enc, len, &back), 0);
    cr_assert_eq(memcmp(&a, &back, sizeof a), 0);
    memcpy(s.body, enc, len);
    s.body_len = len;
    cr_assert_eq(gm_wire_announce_signed_encode(&s, enc, sizeof enc, &len), 0);
    cr_assert_leq(len, GM_ANNOUNCE_SIGNED_MAX);
    a.seq = 0;
    cr_assert_eq(gm_wire_announce_encode(&a, enc, sizeof enc, &len), GM_EPROTO);
    a.seq = 1;
    a.prekeys_len = GM_ANNOUNCE_PREKEYS_MAX + 1;
    cr_assert_eq(gm_wire_announce_encode(&a, enc, sizeof enc, &len), GM_EPROTO);
    a.prekeys_len = 0;
    a.cert_len = 0;
    cr_assert_eq(gm_wire_announce_encode(&a, enc, sizeof enc, &len), GM_EPROTO);
    a.cert_len = 1;
    cr_assert_eq(gm_wire_announce_encode(&a, enc, 3, &len), GM_ELIMIT);
    /* A 63-byte signature: body {0x08 0x01}, signature field of 63 bytes. */
    memset(enc, 0, sizeof enc);
    enc[0] = 0x0a, enc[1] = 0x02, enc[2] = 0x10, enc[3] = 0x01, enc[4] = 0x12, enc[5] = 63;
    cr_assert_eq(gm_wire_announce_signed_decode(enc, 6 + 63, &s), GM_EPROTO);
    enc[5] = 64;
    cr_assert_eq(gm_wire_announce_signed_decode(enc, 6 + 64, &s), 0);
    cr_assert_eq(gm_wire_announce_signed_decode(enc, GM_ANNOUNCE_SIGNED_MAX + 1, &s), GM_EPROTO);
}

/*
 * A relay claiming metric 0 for someone else's announcement (as if it were the
 * origin) would win every route to it and black-hole the traffic. Only the
 * origin's own link may say 0: from anyone else it counts as 1, so the honest
 * neighbour's equal route is not beaten by the claim.
 */
Test(router, relayed_metric_zero_counts_as_one)
{
    announce(D);
    relay(1); /* C honestly heard it from D */
    cr_assert_eq(deliver(fx.r, C, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_NEW);
    assert_hop(D, C, 2);
    /* B relays the same announcement claiming metric 0 */
    cr_assert_eq(deliver(fx.r, B, fx.buf, fx.len), GM_ROUTER_DUPLICATE,
                 "the claim did not beat the honest route");
    assert_hop(D, C, 2);
}

/* A full directory makes room by dropping the node unreachable for longest: a silent or
 * re-keyed device cannot keep a slot for good, a reachable one keeps it. */
Test(router, full_directory_drops_an_unreachable_node_for_a_new_one)
{
    gm_router_config_t cfg = fx.cfg;
    gm_router_t *small;
    uint8_t hop[GM_ID_LEN];
    uint32_t metric;

    cfg.max_nodes = 2;
    small = router_of(A, &cfg);
    cr_assert_eq(gm_router_link_up(small, id_of(B)), 0);
    cr_assert_eq(gm_router_link_up(small, id_of(C)), 0);
    announce(B);
    cr_assert_eq(deliver(small, B, fx.buf, fx.len), GM_ROUTER_ACCEPTED_NEW);
    announce(C);
    cr_assert_eq(deliver(small, C, fx.buf, fx.len), GM_ROUTER_ACCEPTED_NEW);
    (void)gm_router_link_down(small, id_of(C)); /* C is unreachable now */
    announce(D);
    cr_assert_eq(deliver(small, B, fx.buf, fx.len), GM_ROUTER_ACCEPTED_NEW);
    cr_assert_eq(gm_router_node_count(small), 2);
    cr_assert_eq(gm_router_next_hop(small, id_of(B), hop, &metric), 0, "B kept its slot");
    cr_assert_eq(gm_router_next_hop(small, id_of(D), hop, &metric), 0);
    cr_assert_neq(gm_router_next_hop(small, id_of(C), hop, &metric), 0);
    gm_router_free(small);
}

Test(router, the_same_prekeys_again_make_no_announcement)
{
    gm_router_t *r = fx.origin[D];
    uint8_t pk[40] = {1, 2, 3};

    cr_assert_eq(gm_router_set_prekeys(r, pk, sizeof pk), 0);
    cr_assert_eq(gm_router_make_announcement(r, 100, NOW, fx.buf, sizeof fx.buf, &fx.len), 0);
    cr_assert_eq(gm_router_set_prekeys(r, pk, sizeof pk), 0); /* the messenger's every 10 s */
    cr_assert_not(gm_router_announce_due(r, 200), "unchanged prekeys re-flooded the announcement");
    pk[0] = 9;
    cr_assert_eq(gm_router_set_prekeys(r, pk, sizeof pk), 0);
    cr_assert(gm_router_announce_due(r, 200));
}

/* Held updates come out once per turn; only the first for a number is withheld, and only from
 * a neighbour that advertised it no worse. */
Test(router, news_skips_neighbours_that_have_the_announcement_and_never_a_retraction)
{
    gm_router_news_t news;
    size_t cursor = 0;

    announce(D);
    relay(1);
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_NEW); /* ours: 2 */
    gm_router_hold(fx.r, id_of(D));
    relay(2);
    cr_assert_eq(deliver(fx.r, C, fx.buf2, fx.len2), GM_ROUTER_DUPLICATE);
    cr_assert_eq(gm_router_take_news(fx.r, &cursor, fx.buf2, sizeof fx.buf2, &fx.len2, &news), 0);
    cr_assert_arr_eq(news.origin, id_of(D), GM_ID_LEN);
    cr_assert(news.first);
    cr_assert_eq(news.metric, 2);
    cr_assert_not(gm_router_is_news(fx.r, &news, id_of(B)), "B is nearer: 1 <= 2");
    cr_assert_not(gm_router_is_news(fx.r, &news, id_of(C)), "C has it at 2 already");
    cr_assert(gm_router_is_news(fx.r, &news, id_of(EXPIRED)), "a neighbour that never advertised it");
    cr_assert_eq(gm_router_take_news(fx.r, &cursor, fx.buf2, sizeof fx.buf2, &fx.len2, &news),
                 GM_ENOENT);

    /* A second update for the same number is never withheld: C may route through us. */
    cr_assert_eq(gm_router_link_down(fx.r, id_of(B)), 1);
    cursor = 0;
    cr_assert_eq(gm_router_take_news(fx.r, &cursor, fx.buf2, sizeof fx.buf2, &fx.len2, &news), 0);
    cr_assert_not(news.first);
    cr_assert(gm_router_is_news(fx.r, &news, id_of(C)));
}

/* A short update for who's announcement number seq, with metric, into fx.buf2. */
static void short_update(int who, uint64_t seq, uint32_t metric)
{
    static gm_route_update_t u;

    memset(&u, 0, sizeof u);
    memcpy(u.origin, id_of(who), GM_ID_LEN);
    u.seq = seq;
    u.metric = metric;
    cr_assert_eq(gm_wire_route_update_encode(&u, fx.buf2, sizeof fx.buf2, &fx.len2), 0);
    cr_assert_leq(fx.len2, GM_ROUTE_SHORT_MAX);
}

/* A short update routes by an announcement already verified here, and by nothing else. */
Test(router, short_update_changes_a_route_only_for_the_announcement_held)
{
    uint64_t seq;

    announce(D);
    seq = gm_router_own_seq(fx.origin[D]);
    relay(3);
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_NEW);
    assert_hop(D, B, 4);
    short_update(D, seq, 1);
    cr_assert_eq(deliver(fx.r, C, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_ROUTE_ONLY);
    assert_hop(D, C, 2);
    assert_forwarded(fx.buf, fx.len, 2); /* passed on whole: the next hop may lack it */
    short_update(D, seq, 1);
    cr_assert_eq(deliver(fx.r, C, fx.buf2, fx.len2), GM_ROUTER_DUPLICATE);
    short_update(D, seq - 1, 0);
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_OLD_SEQ);
    short_update(D, seq + 1, 0); /* a number never verified here proves nothing */
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_NOT_HELD);
    short_update(C, 5, 0); /* an origin never heard of */
    cr_assert_eq(deliver(fx.r, C, fx.buf2, fx.len2), GM_ROUTER_NOT_HELD);
    assert_hop(D, C, 2);
    cr_assert_eq(count(GM_ROUTER_NOT_HELD), 2);
    short_update(A, 1000, 0); /* a route to this node itself */
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_DUPLICATE);
    short_update(D, seq, 0);
    cr_assert_eq(deliver(fx.r, D, fx.buf2, fx.len2), GM_ROUTER_NO_LINK);
}

/* hold (gm_router_hold or gm_router_hold_whole) D's route, then take it as news. */
static void take_d(void (*hold)(gm_router_t *, const uint8_t *), gm_router_news_t *news)
{
    size_t cursor = 0;

    hold(fx.r, id_of(D));
    cr_assert_eq(gm_router_take_news(fx.r, &cursor, fx.buf2, sizeof fx.buf2, &fx.len2, news), 0);
}

/* Short news goes only where the announcement is known to be: a neighbour that advertised
 * it, or every neighbour once news reached them all; a refused send undoes that. */
Test(router, news_goes_short_only_to_neighbours_holding_the_announcement)
{
    gm_router_news_t news;
    static gm_route_update_t u;

    cr_assert_eq(gm_router_link_up(fx.r, id_of(EXPIRED)), 0); /* a third neighbour */
    announce(D);
    relay(3);
    cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_NEW);
    take_d(gm_router_hold, &news);
    cr_assert_not(news.all_hold);
    cr_assert(gm_router_holds(fx.r, &news, id_of(B)), "B sent it");
    cr_assert_not(gm_router_holds(fx.r, &news, id_of(C)));
    cr_assert_not(gm_router_holds(fx.r, &news, id_of(EXPIRED)));
    cr_assert_eq(gm_wire_route_update_decode(news.short_update, news.short_len, &u), 0);
    cr_assert_eq(u.announcement_len, 0);
    cr_assert_arr_eq(u.origin, id_of(D), GM_ID_LEN);
    cr_assert_eq(u.seq, news.seq);
    cr_assert_eq(u.metric, 4);
    gm_router_told_all(fx.r, &news);

    /* a better route later: everyone holds the announcement now */
    relay(1);
    cr_assert_eq(deliver(fx.r, C, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_ROUTE_ONLY);
    take_d(gm_router_hold, &news);
    cr_assert(news.all_hold);
    cr_assert(gm_router_holds(fx.r, &news, id_of(EXPIRED)));

    cr_assert_not(gm_router_holds(fx.r, &news, id_of(FOREIGN)), "not a neighbour here");

    /* a link refused that one: the next goes whole to every neighbour, once */
    take_d(gm_router_hold_whole, &news);
    cr_assert(news.whole);
    cr_assert_not(news.all_hold);
    cr_assert_not(gm_router_holds(fx.r, &news, id_of(EXPIRED)));
    cr_assert_not(gm_router_holds(fx.r, &news, id_of(C)), "even C, which sent it");
    take_d(gm_router_hold, &news);
    cr_assert_not(news.whole);
    cr_assert(gm_router_holds(fx.r, &news, id_of(C)), "C sent it");

    /* a newer announcement is nobody's until told */
    gm_router_told_all(fx.r, &news);
    announce(D);
    relay(1);
    cr_assert_eq(deliver(fx.r, C, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_NEW);
    take_d(gm_router_hold, &news);
    cr_assert_not(news.all_hold);
    cr_assert_not(gm_router_holds(fx.r, &news, id_of(B)), "B had only the older number");
}

Test(router, short_form_codec_refuses_half_or_both_forms)
{
    static gm_route_update_t u, back;
    uint8_t enc[GM_ROUTE_UPDATE_MAX];
    size_t len;

    memset(&u, 0, sizeof u);
    memset(u.origin, 0x11, GM_ID_LEN);
    u.seq = UINT64_MAX;
    u.metric = 7;
    cr_assert_eq(gm_wire_route_update_encode(&u, enc, sizeof enc, &len), 0);
    cr_assert_leq(len, GM_ROUTE_SHORT_MAX);
    cr_assert_eq(gm_wire_route_update_decode(enc, len, &back), 0);
    cr_assert_eq(back.announcement_len, 0);
    cr_assert_arr_eq(back.origin, u.origin, GM_ID_LEN);
    cr_assert_eq(back.seq, UINT64_MAX);
    cr_assert_eq(back.metric, 7);
    u.seq = 0;
    cr_assert_eq(gm_wire_route_update_encode(&u, enc, sizeof enc, &len), GM_EPROTO);
    /* by hand: an origin a byte short; the whole id; no seq */
    memset(enc, 0, sizeof enc);
    enc[0] = 0x1a, enc[1] = GM_ID_LEN - 1, enc[GM_ID_LEN + 1] = 0x20, enc[GM_ID_LEN + 2] = 0x01;
    cr_assert_eq(gm_wire_route_update_decode(enc, GM_ID_LEN + 3, &back), GM_EPROTO);
    enc[1] = GM_ID_LEN, enc[GM_ID_LEN + 2] = 0x20, enc[GM_ID_LEN + 3] = 0x01;
    cr_assert_eq(gm_wire_route_update_decode(enc, GM_ID_LEN + 4, &back), 0);
    cr_assert_eq(gm_wire_route_update_decode(enc, GM_ID_LEN + 2, &back), GM_EPROTO, "no seq");
    announce(D);
    memcpy(enc + GM_ID_LEN + 4, fx.buf, fx.len); /* a whole update after the short fields */
    cr_assert_eq(gm_wire_route_update_decode(enc, GM_ID_LEN + 4 + fx.len, &back), GM_EPROTO,
                 "both forms");
}

/* The directory is kept in node id order; finding and dropping entries keeps it so. */
Test(router, many_nodes_are_found_after_entries_come_and_go)
{
    ident_t *ids = calloc(40, sizeof *ids);
    gm_router_node_t n;

    cr_assert_not_null(ids);
    for (int i = 0; i < 40; i++) {
        gm_router_t *o;
        char name[16];

        snprintf(name, sizeof name, "n%d", i);
        make_ident(&fx.org, name, NOW - DAY, NOW + DAY, &ids[i]);
        cr_assert_eq(gm_router_new(&ids[i].keys, &ids[i].cert, &fx.trust, &fx.cfg, &o), 0);
        cr_assert_eq(gm_router_make_announcement(o, 0, NOW, fx.buf, sizeof fx.buf, &fx.len), 0);
        relay(3);
        cr_assert_eq(deliver(fx.r, B, fx.buf2, fx.len2), GM_ROUTER_ACCEPTED_NEW);
        gm_router_free(o);
    }
    for (int i = 0; i < 40; i++) {
        cr_assert_eq(gm_router_lookup(fx.r, ids[i].cert.body.node_id, &n), 0, "n%d lost", i);
        cr_assert_arr_eq(n.cert.body.sign_pk, ids[i].keys.sign_pk, GM_KEY_LEN);
        gm_cert_body_t body;
        cr_assert_eq(gm_router_cert_body(fx.r, ids[i].cert.body.node_id, &body), 0);
        cr_assert_arr_eq(body.sign_pk, ids[i].keys.sign_pk, GM_KEY_LEN);
    }
    revoke(&fx.trust, 2, ids[7].cert.body.serial);
    cr_assert_eq(gm_router_recheck(fx.r, NOW), 1);
    for (int i = 0; i < 40; i++) {
        cr_assert_eq(gm_router_lookup(fx.r, ids[i].cert.body.node_id, &n), i == 7 ? GM_ENOENT : 0,
                     "n%d", i);
        gm_cert_body_t body;
        cr_assert_eq(gm_router_cert_body(fx.r, ids[i].cert.body.node_id, &body),
                     i == 7 ? GM_ENOENT : 0);
        gm_node_keys_wipe(&ids[i].keys);
    }
    free(ids);
}

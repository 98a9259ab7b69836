/*
 * Every way a peer is refused at the link: the reason is counted and logged,
 * and the node's existing links stay up.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "proto/wire_link.h"
#include "tests/support/hostile.h"

#define FAR 4000000000u
#define DAY 86400

static gm_test_mesh_t m;
static size_t a, b; /* a: relay listening on mem:a; b: a guard linked to it */
static gm_node_config_t cfg_a;
static uint8_t zero_mesh[16];

static void setup(void)
{
    char da[GM_PATH_MAX + 16], db[GM_PATH_MAX];
    gm_node_config_t cb;

    gm_test_mesh_init(&m);
    gm_test_node_dir(&m.org_a, m.tmp, "relay", GM_ROLE_RELAY, 1000, FAR, da, NULL);
    gm_test_node_dir(&m.org_a, m.tmp, "guard", GM_ROLE_HANDHELD, 1000, FAR, db, NULL);
    gm_test_config(&cfg_a, "mem:a");
    cfg_a.handshake_rate = 600; /* the flood test lowers it */
    cfg_a.handshake_burst = 100;
    gm_test_config(&cb, NULL);
    snprintf(cb.peers[0], GM_ADDR_LEN, "mem:a");
    cb.n_peers = 1;
    a = gm_test_mesh_start(&m, da, &cfg_a);
    b = gm_test_mesh_start(&m, db, &cb);
    cr_assert(gm_test_wait_linked(&m, a, b, 2000));
}

static void teardown(void)
{
    gm_test_mesh_close(&m);
}

TestSuite(refusal, .init = setup, .fini = teardown, .timeout = 30);

/* The reason is counted, named in a's log, and a's link to b still carries data. */
static void assert_refused_and_link_kept(size_t who, gm_refusal_t r)
{
    char want[64];
    uint64_t before = m.received[b];

    cr_assert(gm_test_wait_refusal(&m, who, r, 3000), "no %s refusal", gm_refusal_name(r));
    snprintf(want, sizeof want, ": %s (", gm_refusal_name(r));
    cr_assert(gm_test_log_has(&m, who, "refused"));
    cr_assert(gm_test_log_has(&m, who, want), "log lacks '%s'", want);
    cr_assert(gm_node_has_link(m.nodes[a], gm_node_id(m.nodes[b])), "existing link dropped");
    cr_assert_eq(gm_node_send(m.nodes[a], gm_node_id(m.nodes[b]), 1, (const uint8_t *)"k", 1), 0);
    gm_test_run_for(&m.loop, 30);
    cr_assert_eq(m.received[b], before + 1);
}

/* Starts another node x from dir, dialling a. */
static size_t start_x(const char *dir, int64_t clock_offset, void (*tweak)(gm_node_config_t *))
{
    gm_node_config_t cx;

    gm_test_config(&cx, NULL);
    snprintf(cx.peers[0], GM_ADDR_LEN, "mem:a");
    cx.n_peers = 1;
    if (tweak != NULL) {
        tweak(&cx);
    }
    return gm_test_mesh_start_at(&m, dir, &cx, clock_offset);
}

Test(refusal, certificate_of_an_untrusted_organisation)
{
    char dx[GM_PATH_MAX];

    gm_test_node_dir(&m.org_b, m.tmp, "officer", GM_ROLE_DISPATCH, 1000, FAR, dx, NULL);
    gm_test_trust(dx, &m.org_a); /* x trusts a, a does not trust x's organisation */
    start_x(dx, 0, NULL);
    assert_refused_and_link_kept(a, GM_REFUSE_UNTRUSTED_ORG);
}

Test(refusal, expired_certificate)
{
    char dx[GM_PATH_MAX];
    int64_t now = (int64_t)time(NULL);

    gm_test_node_dir(&m.org_a, m.tmp, "old", GM_ROLE_HANDHELD, 1000, 1000 + 30 * DAY, dx, NULL);
    start_x(dx, 1000 + DAY - now, NULL); /* x's clock is in its validity window */
    assert_refused_and_link_kept(a, GM_REFUSE_EXPIRED);
}

Test(refusal, certificate_not_yet_valid)
{
    char dx[GM_PATH_MAX];
    uint64_t now = (uint64_t)time(NULL);

    gm_test_node_dir(&m.org_a, m.tmp, "early", GM_ROLE_HANDHELD, now + 10 * DAY, FAR, dx, NULL);
    start_x(dx, 11 * DAY, NULL);
    assert_refused_and_link_kept(a, GM_REFUSE_NOT_YET_VALID);
}

Test(refusal, revoked_certificate)
{
    char dx[GM_PATH_MAX], da[GM_PATH_MAX + 16];
    uint64_t serial = m.org_a.next_serial;
    gm_node_config_t c = cfg_a;

    gm_test_node_dir(&m.org_a, m.tmp, "stolen", GM_ROLE_HANDHELD, 1000, FAR, dx, NULL);
    snprintf(da, sizeof da, "%s/relay", m.tmp);
    gm_test_revoke(da, &m.org_a, 1, &serial, 1);
    gm_test_mesh_stop(&m, a); /* a loads revocation lists at start */
    a = gm_test_mesh_start(&m, da, &c);
    cr_assert(gm_test_wait_linked(&m, a, b, 3000));
    start_x(dx, 0, NULL);
    assert_refused_and_link_kept(a, GM_REFUSE_REVOKED);
}

static void other_mesh(gm_node_config_t *c)
{
    c->mesh_id[0] = 0x42;
}

Test(refusal, other_mesh_id_fails_the_handshake)
{
    char dx[GM_PATH_MAX];
    size_t x;

    gm_test_node_dir(&m.org_a, m.tmp, "stranger", GM_ROLE_HANDHELD, 1000, FAR, dx, NULL);
    x = start_x(dx, 0, other_mesh);
    /* the dialler cannot decrypt msg2; the listener sees the handshake abandoned */
    cr_assert(gm_test_wait_refusal(&m, x, GM_REFUSE_HANDSHAKE_FAILED, 3000));
    cr_assert(gm_test_log_has(&m, x, "another mesh id or mesh key"));
    cr_assert_geq(gm_node_events(m.nodes[a], GM_EVENT_HANDSHAKE_ABORTED), 1);
    cr_assert(!gm_node_has_link(m.nodes[a], gm_node_id(m.nodes[x])));
    assert_refused_and_link_kept(x, GM_REFUSE_HANDSHAKE_FAILED);
}

static void mesh_key_1(gm_node_config_t *c)
{
    memset(c->mesh_key, 1, sizeof c->mesh_key);
    c->has_mesh_key = true;
}

static void mesh_key_2(gm_node_config_t *c)
{
    memset(c->mesh_key, 2, sizeof c->mesh_key);
    c->has_mesh_key = true;
}

Test(refusal, wrong_mesh_key_fails_at_msg3_and_the_right_one_links)
{
    char da[GM_PATH_MAX + 16], dx[GM_PATH_MAX], dy[GM_PATH_MAX];
    gm_node_config_t c = cfg_a;
    size_t y;

    mesh_key_1(&c);
    snprintf(da, sizeof da, "%s/relay", m.tmp);
    gm_test_mesh_stop(&m, a);
    a = gm_test_mesh_start(&m, da, &c); /* b has no mesh key: it no longer links */
    gm_test_node_dir(&m.org_a, m.tmp, "wrongkey", GM_ROLE_HANDHELD, 1000, FAR, dx, NULL);
    gm_test_node_dir(&m.org_a, m.tmp, "rightkey", GM_ROLE_HANDHELD, 1000, FAR, dy, NULL);
    start_x(dx, 0, mesh_key_2);
    y = start_x(dy, 0, mesh_key_1);
    cr_assert(gm_test_wait_refusal(&m, a, GM_REFUSE_HANDSHAKE_FAILED, 3000));
    cr_assert(gm_test_wait_linked(&m, a, y, 3000));
    cr_assert(!gm_node_has_link(m.nodes[a], gm_node_id(m.nodes[b])));
}

Test(refusal, certificate_whose_link_key_is_not_the_handshake_key)
{
    char dx[GM_PATH_MAX];
    gm_node_keys_t other;
    gm_hostile_t h;

    /* a valid, trusted certificate (b's), presented by a key that is not b's */
    gm_test_node_dir(&m.org_a, m.tmp, "thief", GM_ROLE_HANDHELD, 1000, FAR, dx, &other);
    gm_hostile_connect(&h, &m, "mem:a");
    gm_hostile_msg1(&h, zero_mesh, other.link_sk);
    gm_hostile_msg3(&h, gm_node_cert(m.nodes[b]), &other);
    assert_refused_and_link_kept(a, GM_REFUSE_KEY_MISMATCH);
    cr_assert(gm_hostile_wait_end(&h, 1000));
    gm_hostile_close(&h);
}

/*
 * Node-id takeover: a trusted CA (a partner organisation's, say) certifies b's
 * public sign key, from which b's node id derives, beside the attacker's own
 * link key. The Noise handshake proves only the link key; the hello must also be
 * signed with the sign key, which the attacker does not hold.
 */
Test(refusal, certificate_claiming_another_nodes_sign_key)
{
    char dx[GM_PATH_MAX];
    gm_node_keys_t attacker;
    gm_cert_body_t t;
    gm_cert_t forged;
    gm_hostile_t h;
    const gm_cert_t *victim = gm_node_cert(m.nodes[b]);

    gm_test_node_dir(&m.org_a, m.tmp, "mallory", GM_ROLE_HANDHELD, 1000, FAR, dx, &attacker);
    memset(&t, 0, sizeof t);
    snprintf(t.callsign, sizeof t.callsign, "guard");
    t.role = GM_ROLE_HANDHELD;
    t.serial = m.org_a.next_serial++;
    memcpy(t.sign_pk, victim->body.sign_pk, 32);
    memcpy(t.link_pk, attacker.link_pk, 32);
    memcpy(t.e2e_pk, attacker.e2e_pk, 32);
    t.not_before = 1000;
    t.not_after = FAR;
    cr_assert_eq(gm_cert_issue(m.org_a.seed, &m.org_a.root, &t, &forged), 0);
    cr_assert_eq(memcmp(forged.body.node_id, victim->body.node_id, GM_ID_LEN), 0);

    gm_hostile_connect(&h, &m, "mem:a");
    gm_hostile_msg1(&h, zero_mesh, attacker.link_sk);
    gm_hostile_msg3(&h, &forged, &attacker); /* signed with the attacker's own sign key */
    assert_refused_and_link_kept(a, GM_REFUSE_LINK_AUTH);
    cr_assert(gm_hostile_wait_end(&h, 1000));
    gm_hostile_close(&h);
}

Test(refusal, random_bytes_are_refused)
{
    gm_hostile_t h;
    uint8_t junk[600];

    randombytes_buf(junk, sizeof junk);
    junk[0] = 0x01; /* a plausible handshake length: the bytes reach the Noise code */
    junk[1] = 0x20;
    gm_hostile_connect(&h, &m, "mem:a");
    gm_hostile_send(&h, junk, sizeof junk);
    cr_assert(gm_hostile_wait_end(&h, 2000));
    cr_assert_eq(gm_node_refusals(m.nodes[a], GM_REFUSE_BAD_HELLO) +
                     gm_node_refusals(m.nodes[a], GM_REFUSE_HANDSHAKE_FAILED),
                 1);
    cr_assert(gm_test_log_has(&m, a, "refused"));
    cr_assert(gm_node_has_link(m.nodes[a], gm_node_id(m.nodes[b])));
    gm_hostile_close(&h);
}

Test(refusal, handshake_that_stalls_half_way_times_out)
{
    gm_hostile_t h;
    gm_node_keys_t k;
    char dx[GM_PATH_MAX];

    gm_test_node_dir(&m.org_a, m.tmp, "slow", GM_ROLE_HANDHELD, 1000, FAR, dx, &k);
    gm_hostile_connect(&h, &m, "mem:a");
    gm_hostile_msg1(&h, zero_mesh, k.link_sk); /* and never sends msg3 */
    assert_refused_and_link_kept(a, GM_REFUSE_HANDSHAKE_TIMEOUT);
    cr_assert(gm_hostile_wait_end(&h, 1000));
    gm_hostile_close(&h);
}

/* A node whose links are quiet for long looks at their timers rarely: a handshake
 * begun meanwhile still times out on time. */
Test(refusal, handshake_timeout_holds_while_the_other_links_are_quiet)
{
    char dc[GM_PATH_MAX], dd[GM_PATH_MAX], dx[GM_PATH_MAX];
    gm_node_config_t cc, cd;
    gm_hostile_t h;
    gm_node_keys_t k;
    size_t c, d;

    gm_test_node_dir(&m.org_a, m.tmp, "quiet", GM_ROLE_RELAY, 1000, FAR, dc, NULL);
    gm_test_node_dir(&m.org_a, m.tmp, "peer", GM_ROLE_HANDHELD, 1000, FAR, dd, NULL);
    gm_test_node_dir(&m.org_a, m.tmp, "slow", GM_ROLE_HANDHELD, 1000, FAR, dx, &k);
    gm_test_config(&cc, "mem:c");
    gm_test_config_quiet_links(&cc); /* its link to d has nothing due for 20 s */
    gm_test_config(&cd, NULL);
    gm_test_config_quiet_links(&cd); /* nor does d give up on c's silence */
    snprintf(cd.peers[0], GM_ADDR_LEN, "mem:c");
    cd.n_peers = 1;
    c = gm_test_mesh_start(&m, dc, &cc);
    d = gm_test_mesh_start(&m, dd, &cd);
    cr_assert(gm_test_wait_linked(&m, c, d, 2000));
    gm_test_run_for(&m.loop, 5 * cc.tick_ms); /* a tick has looked at the link since */
    gm_hostile_connect(&h, &m, "mem:c");
    gm_hostile_msg1(&h, zero_mesh, k.link_sk); /* and never sends msg3 */
    cr_assert(gm_test_wait_refusal(&m, c, GM_REFUSE_HANDSHAKE_TIMEOUT,
                                   cc.handshake_timeout_ms + 500),
              "the stalled handshake outlived its timeout");
    cr_assert(gm_node_has_link(m.nodes[c], gm_node_id(m.nodes[d])));
    gm_hostile_close(&h);
}

Test(refusal, frame_length_above_the_maximum)
{
    gm_hostile_t h;
    static const uint8_t huge[2] = {0xff, 0xff};

    gm_hostile_connect(&h, &m, "mem:a");
    gm_hostile_send(&h, huge, sizeof huge);
    assert_refused_and_link_kept(a, GM_REFUSE_FRAME_TOO_LARGE);
    cr_assert(gm_hostile_wait_end(&h, 1000));
    gm_hostile_close(&h);
}

/* Pieces of one message (Data.more) beyond max_message: refused, nothing buffered past it. */
Test(refusal, message_pieces_beyond_the_limit)
{
    gm_hostile_t h;
    gm_node_keys_t k;
    char dx[GM_PATH_MAX];
    gm_cert_t cert;
    gm_why_t why;
    char path[GM_PATH_MAX + 16];
    static uint8_t piece[3000], plain[3100];
    gm_linkmsg_t msg = {.kind = GM_LMSG_DATA, .channel = 5, .payload = piece,
                        .payload_len = sizeof piece, .more = true};
    size_t len;

    gm_test_node_dir(&m.org_a, m.tmp, "hoarder", GM_ROLE_HANDHELD, 1000, FAR, dx, &k);
    snprintf(path, sizeof path, "%s/node.cert", dx);
    cr_assert_eq(gm_cert_load(path, &cert, &why), 0);
    gm_hostile_connect(&h, &m, "mem:a");
    gm_hostile_msg1(&h, zero_mesh, k.link_sk);
    gm_hostile_msg3(&h, &cert, &k);
    gm_test_run_for(&m.loop, 30);
    cr_assert_eq(gm_node_link_count(m.nodes[a]), 2);
    cr_assert_eq(gm_wire_linkmsg_encode(&msg, plain, sizeof plain, &len), 0);
    for (size_t sent = 0; sent <= cfg_a.max_message; sent += sizeof piece) {
        gm_hostile_send_transport(&h, plain, len);
        gm_test_run_for(&m.loop, 1);
    }
    assert_refused_and_link_kept(a, GM_REFUSE_BAD_FRAME);
    cr_assert(gm_test_log_has(&m, a, "message pieces over the limit"));
    gm_hostile_close(&h);
}

Test(refusal, transport_frame_that_does_not_decrypt)
{
    gm_hostile_t h;
    gm_node_keys_t k;
    char dx[GM_PATH_MAX];
    gm_cert_t cert;
    gm_why_t why;
    char path[GM_PATH_MAX + 16];
    uint8_t garbage[40] = {1, 2, 3};

    gm_test_node_dir(&m.org_a, m.tmp, "liar", GM_ROLE_HANDHELD, 1000, FAR, dx, &k);
    snprintf(path, sizeof path, "%s/node.cert", dx);
    cr_assert_eq(gm_cert_load(path, &cert, &why), 0);
    gm_hostile_connect(&h, &m, "mem:a");
    gm_hostile_msg1(&h, zero_mesh, k.link_sk);
    gm_hostile_msg3(&h, &cert, &k); /* a genuine, accepted handshake */
    gm_test_run_for(&m.loop, 30);
    cr_assert_eq(gm_node_link_count(m.nodes[a]), 2);
    gm_hostile_send_frame(&h, garbage, sizeof garbage);
    assert_refused_and_link_kept(a, GM_REFUSE_BAD_FRAME);
    gm_hostile_close(&h);
}

Test(refusal, silent_peer_after_the_handshake_is_declared_dead)
{
    gm_hostile_t h;
    gm_node_keys_t k;
    char dx[GM_PATH_MAX], path[GM_PATH_MAX + 16];
    gm_cert_t cert;
    gm_why_t why;

    gm_test_node_dir(&m.org_a, m.tmp, "mute", GM_ROLE_HANDHELD, 1000, FAR, dx, &k);
    snprintf(path, sizeof path, "%s/node.cert", dx);
    cr_assert_eq(gm_cert_load(path, &cert, &why), 0);
    gm_hostile_connect(&h, &m, "mem:a");
    gm_hostile_msg1(&h, zero_mesh, k.link_sk);
    gm_hostile_msg3(&h, &cert, &k);
    cr_assert(gm_hostile_wait_end(&h, 3 * cfg_a.dead_after_ms));
    cr_assert_eq(gm_node_events(m.nodes[a], GM_EVENT_DEAD_PEER), 1);
    cr_assert(gm_node_has_link(m.nodes[a], gm_node_id(m.nodes[b]))); /* b sends keepalives */
    gm_hostile_close(&h);
}

Test(refusal, flood_of_connections_from_one_address_is_rate_limited)
{
    gm_hostile_t h[40];
    char da[GM_PATH_MAX + 16];
    gm_node_config_t c = cfg_a;

    c.handshake_rate = 30;
    c.handshake_burst = 10;
    snprintf(da, sizeof da, "%s/relay", m.tmp);
    gm_test_mesh_stop(&m, a);
    a = gm_test_mesh_start(&m, da, &c);
    cr_assert(gm_test_wait_linked(&m, a, b, 3000)); /* b's redial spends one token */
    for (int i = 0; i < 40; i++) {
        gm_hostile_connect(&h[i], &m, "mem:a");
    }
    assert_refused_and_link_kept(a, GM_REFUSE_RATE_LIMITED);
    cr_assert_geq(gm_node_refusals(m.nodes[a], GM_REFUSE_RATE_LIMITED), 40 - 10);
    for (int i = 0; i < 40; i++) {
        gm_hostile_close(&h[i]);
    }
}

Test(refusal, half_open_handshakes_are_capped)
{
    gm_hostile_t h[5];
    char da[GM_PATH_MAX + 16];
    gm_node_config_t c = cfg_a;

    c.max_half_open = 3;
    snprintf(da, sizeof da, "%s/relay", m.tmp);
    gm_test_mesh_stop(&m, a);
    a = gm_test_mesh_start(&m, da, &c);
    cr_assert(gm_test_wait_linked(&m, a, b, 3000));
    for (int i = 0; i < 5; i++) {
        gm_hostile_connect(&h[i], &m, "mem:a"); /* connect and say nothing */
    }
    assert_refused_and_link_kept(a, GM_REFUSE_HALF_OPEN_LIMIT);
    cr_assert_eq(gm_node_refusals(m.nodes[a], GM_REFUSE_HALF_OPEN_LIMIT), 2);
    for (int i = 0; i < 5; i++) {
        gm_hostile_close(&h[i]);
    }
}

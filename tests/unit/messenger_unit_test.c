/*
 * node/messenger*.c in one process: nodes with the mesh and the messenger on
 * the in-memory hub, driven through gm_messenger_call as the control socket
 * would drive them. These tests cover what real processes cannot: a relay
 * that replays or forges bundles, first messages crossing or arriving out of
 * order, group messages before their keys, hostile envelopes. The fixture
 * and the helpers shared by messenger_unit_*.c are here.
 */
#include "tests/unit/messenger_unit_test.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAR 4000000000u

gm_test_mesh_t mu;
mu_bundle_t mu_captured[MU_CAPTURE_MAX];
size_t mu_n_captured;

void mu_setup(void)
{
    gm_test_mesh_init(&mu);
    mu_n_captured = 0;
}

void mu_teardown(void)
{
    gm_test_mesh_close(&mu); /* the messengers go before their meshes */
    mu_bundles_free(mu_captured, mu_n_captured);
    mu_n_captured = 0;
}

TestSuite(messenger, .init = mu_setup, .fini = mu_teardown, .timeout = 300);

/* ---- nodes ---- */

/* Fast timers: routes in a few hundred ms, custody retries after 300 ms. */
static void config(gm_node_config_t *c, const char *name, const char *const *peers)
{
    char addr[GM_ADDR_LEN];

    snprintf(addr, sizeof addr, "mem:%s", name);
    gm_test_config(c, addr);
    c->announce_interval_ms = 300;
    c->route_expiry_ms = 3000;
    c->custody_timeout_ms = 300;
    c->commit_interval_ms = 2;
    c->sync_interval_ms = 1000;
    c->handshake_rate = 100000;
    c->handshake_burst = 1000;
    for (size_t i = 0; peers != NULL && peers[i] != NULL; i++) {
        snprintf(c->peers[c->n_peers++], GM_ADDR_LEN, "mem:%s", peers[i]);
    }
}

static size_t start(const char *name, const char *const *peers, bool messenger)
{
    char dir[GM_PATH_MAX];
    gm_node_config_t c;

    gm_test_node_dir(&mu.org_a, mu.tmp, name, GM_ROLE_HANDHELD, 1000, FAR, dir, NULL);
    config(&c, name, peers);
    return messenger ? gm_test_mesh_start_messenger(&mu, dir, &c)
                     : gm_test_mesh_start_mesh(&mu, dir, &c);
}

size_t mu_node(const char *name, const char *const *peers)
{
    return start(name, peers, true);
}

size_t mu_relay(const char *name, const char *const *peers)
{
    return start(name, peers, false);
}

const uint8_t *mu_id(size_t i)
{
    return gm_node_id(mu.nodes[i]);
}

struct nodes_wait {
    const size_t *nodes;
    size_t n;
};

static bool knows_all(void *ctx)
{
    const struct nodes_wait *w = ctx;

    for (size_t i = 0; i < w->n; i++) {
        for (size_t j = 0; j < w->n; j++) {
            gm_router_node_t rn;
            if (i != j && (gm_router_lookup(gm_mesh_router(mu.meshes[w->nodes[i]]),
                                            mu_id(w->nodes[j]), &rn) != 0 ||
                           rn.prekeys_len == 0)) {
                return false;
            }
        }
    }
    return true;
}

bool mu_wait_directory(const size_t *nodes, size_t n)
{
    struct nodes_wait w = {nodes, n};

    return gm_test_run_until(&mu.loop, knows_all, &w, MU_WAIT_MS);
}

struct link_wait {
    size_t i, j;
    bool up;
};

static bool link_is(void *ctx)
{
    const struct link_wait *w = ctx;

    return gm_node_has_link(mu.nodes[w->i], mu_id(w->j)) == w->up &&
           gm_node_has_link(mu.nodes[w->j], mu_id(w->i)) == w->up;
}

bool mu_wait_link(size_t i, size_t j, bool up)
{
    struct link_wait w = {i, j, up};

    return gm_test_run_until(&mu.loop, link_is, &w, MU_WAIT_MS);
}

void mu_cut(const char *a, const char *b, bool cut)
{
    cr_assert_eq(gm_mem_hub_cut(mu.hub, a, b, cut), 0);
}

/* ---- requests ---- */

void mu_call(size_t i, const gm_messenger_request_t *req, gm_messenger_response_t *out)
{
    uint8_t *buf = malloc(GM_MESSENGER_REQUEST_MAX), *resp = NULL;
    size_t len = 0, resp_len = 0;

    cr_assert_not_null(buf);
    cr_assert_eq(gm_wire_messenger_request_encode(req, buf, GM_MESSENGER_REQUEST_MAX, &len), 0);
    cr_assert_eq(gm_messenger_call(mu.messengers[i], buf, len, &resp, &resp_len), 0);
    cr_assert_eq(gm_wire_messenger_response_decode(resp, resp_len, out), 0);
    free(resp);
    free(buf);
}

static void send_ok(size_t i, const char *to, const char *group, const char *text)
{
    gm_messenger_request_t req = {.op = GM_MESSENGER_OP_SEND,
                                  .to = to,
                                  .group = group,
                                  .kind = GM_MESSAGE_TEXT,
                                  .text = text};
    gm_messenger_response_t r;

    mu_call(i, &req, &r);
    cr_assert_eq(r.error, 0, "send %s: %s", text, r.message);
    cr_assert(r.has_msg_id);
    gm_messenger_response_free(&r);
}

void mu_send(size_t i, const char *to, const char *text)
{
    send_ok(i, to, NULL, text);
}

void mu_send_group(size_t i, const char *group, const char *text)
{
    send_ok(i, NULL, group, text);
}

void mu_group(size_t i, gm_messenger_op_t op, const char *group, const char *const *members)
{
    gm_messenger_request_t req = {.op = op, .group = group, .members = members};
    gm_messenger_response_t r;

    while (members != NULL && members[req.n_members] != NULL) {
        req.n_members++;
    }
    mu_call(i, &req, &r);
    cr_assert_eq(r.error, 0, "group %s: %s", group, r.message);
    gm_messenger_response_free(&r);
}

size_t mu_inbox_count(size_t i, const char *text)
{
    gm_messenger_request_t req = {.op = GM_MESSENGER_OP_INBOX, .peek = true};
    gm_messenger_response_t r;
    size_t n = 0;

    mu_call(i, &req, &r);
    cr_assert_eq(r.error, 0, "inbox: %s", r.message);
    for (size_t k = 0; k < r.n_inbox; k++) {
        n += text == NULL || strcmp(r.inbox[k].text, text) == 0;
    }
    gm_messenger_response_free(&r);
    return n;
}

struct text_wait {
    size_t i, n;
    const char *text;
};

static bool has_text(void *ctx)
{
    const struct text_wait *w = ctx;

    return mu_inbox_count(w->i, w->text) >= w->n;
}

bool mu_wait_text(size_t i, const char *text, size_t n)
{
    struct text_wait w = {i, n, text};

    return gm_test_run_until(&mu.loop, has_text, &w, MU_WAIT_MS);
}

size_t mu_outbox_count(size_t i, const char *state)
{
    gm_messenger_request_t req = {.op = GM_MESSENGER_OP_OUTBOX};
    gm_messenger_response_t r;
    size_t n = 0;

    mu_call(i, &req, &r);
    cr_assert_eq(r.error, 0, "outbox: %s", r.message);
    for (size_t k = 0; k < r.n_outbox; k++) {
        n += state == NULL || strcmp(r.outbox[k].state, state) == 0;
    }
    gm_messenger_response_free(&r);
    return n;
}

static bool has_outbox(void *ctx)
{
    const struct text_wait *w = ctx;

    return mu_outbox_count(w->i, w->text) >= w->n;
}

bool mu_wait_outbox(size_t i, const char *state, size_t n)
{
    struct text_wait w = {i, n, state};

    return gm_test_run_until(&mu.loop, has_outbox, &w, MU_WAIT_MS);
}

gm_messenger_stats_t mu_stats(size_t i)
{
    gm_messenger_stats_t s;

    gm_messenger_stats(mu.messengers[i], &s);
    return s;
}

long mu_rows(size_t i, const char *table, const char *where)
{
    char sql[512];
    sqlite3_stmt *st;
    long n = -1;

    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s WHERE %s", table, where);
    cr_assert_eq(sqlite3_prepare_v2(gm_mesh_db(mu.meshes[i]), sql, -1, &st, NULL), SQLITE_OK, "%s",
                 sql);
    if (sqlite3_step(st) == SQLITE_ROW) {
        n = (long)sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return n;
}

/* ---- bundles ---- */

static void copy_bundle(mu_bundle_t *out, const uint8_t *data, size_t len)
{
    out->enc = malloc(len);
    cr_assert_not_null(out->enc);
    memcpy(out->enc, data, len);
    out->len = len;
    cr_assert_eq(gm_wire_bundle_decode(out->enc, len, len, &out->b), 0);
}

struct held_ctx {
    mu_bundle_t *out;
    size_t n, max;
};

static int on_held(void *ctx, const gm_bundle_t *b, const uint8_t *data, size_t len)
{
    struct held_ctx *h = ctx;

    (void)b;
    if (h->n == h->max) {
        return 1;
    }
    copy_bundle(&h->out[h->n++], data, len);
    return 0;
}

size_t mu_held(size_t i, const gm_dest_t *dst, mu_bundle_t *out, size_t max)
{
    struct held_ctx h = {out, 0, max};

    cr_assert_eq(gm_store_each(mu.meshes[i]->store, dst, 0, on_held, &h), 0);
    return h.n;
}

void mu_bundles_free(mu_bundle_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(b[i].enc);
        b[i].enc = NULL;
    }
}

static void on_capture(void *ctx, const gm_bundle_t *b)
{
    size_t len = gm_wire_bundle_size(b);
    uint8_t *enc = malloc(len);

    (void)ctx;
    cr_assert_not_null(enc);
    cr_assert_eq(gm_wire_bundle_encode(b, enc, len, &len), 0);
    cr_assert_lt(mu_n_captured, MU_CAPTURE_MAX);
    copy_bundle(&mu_captured[mu_n_captured++], enc, len);
    free(enc);
}

void mu_capture(size_t i)
{
    gm_mesh_set_deliver_cb(mu.meshes[i], on_capture, NULL);
}

const mu_bundle_t *mu_last_from(size_t src)
{
    for (size_t k = mu_n_captured; k > 0; k--) {
        if (memcmp(mu_captured[k - 1].b.src, mu_id(src), GM_ID_LEN) == 0) {
            return &mu_captured[k - 1];
        }
    }
    return NULL;
}

int mu_envelope_kind(const uint8_t *body, size_t len)
{
    gm_envelope_t env;
    int kind;

    if (gm_wire_envelope_decode(body, len, &env) != 0) {
        return 0;
    }
    kind = (int)env.kind;
    gm_envelope_free(&env);
    return kind;
}

void mu_inject(size_t relay, size_t to, const uint8_t *enc, size_t len)
{
    cr_assert_eq(gm_node_send(mu.nodes[relay], mu_id(to), GM_CH_BUNDLE, enc, len), 0);
}

void mu_inject_body(size_t relay, size_t to, const uint8_t src[GM_ID_LEN], const gm_dest_t *dst,
                    const uint8_t *body, size_t len)
{
    gm_bundle_t b;
    uint8_t *enc;
    size_t enc_len;

    memset(&b, 0, sizeof b);
    randombytes_buf(b.id, sizeof b.id); /* a new id: the mesh's duplicate check passes */
    memcpy(b.src, src, GM_ID_LEN);
    b.dst = *dst;
    b.created = gm_node_wall(mu.nodes[relay]);
    b.lifetime = 3600;
    b.hop_limit = 8;
    b.hops = 1;
    b.priority = GM_PRIO_NORMAL;
    b.body = body;
    b.body_len = len;
    enc_len = gm_wire_bundle_size(&b);
    cr_assert_gt(enc_len, 0);
    enc = malloc(enc_len);
    cr_assert_not_null(enc);
    cr_assert_eq(gm_wire_bundle_encode(&b, enc, enc_len, &enc_len), 0);
    mu_inject(relay, to, enc, enc_len);
    free(enc);
}

uint64_t mu_delivered(size_t i)
{
    gm_mesh_stats_t s;

    gm_mesh_stats(mu.meshes[i], &s);
    return s.delivered;
}

struct delivered_wait {
    size_t i;
    uint64_t n;
};

static bool has_delivered(void *ctx)
{
    const struct delivered_wait *w = ctx;

    return mu_delivered(w->i) >= w->n;
}

bool mu_wait_delivered(size_t i, uint64_t n)
{
    struct delivered_wait w = {i, n};

    return gm_test_run_until(&mu.loop, has_delivered, &w, MU_WAIT_MS);
}

uint64_t mu_accepted(size_t i)
{
    gm_mesh_stats_t s;

    gm_mesh_stats(mu.meshes[i], &s);
    return s.accepted;
}

static bool has_accepted(void *ctx)
{
    const struct delivered_wait *w = ctx;

    return mu_accepted(w->i) >= w->n;
}

bool mu_wait_accepted(size_t i, uint64_t n)
{
    struct delivered_wait w = {i, n};

    return gm_test_run_until(&mu.loop, has_accepted, &w, MU_WAIT_MS);
}

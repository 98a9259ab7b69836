/*
 * The messenger: padding, content, signed broadcasts and the store hooks
 * (node/messenger.h). 1:1 sessions are in messenger_session.c, talkgroups
 * in messenger_group.c and messenger_senderkey.c, peers and prekeys in
 * messenger_peer.c, the inbox, outbox and receipts in messenger_content.c,
 * the control socket in messenger_control.c, tables and sealing in
 * messenger_db.c.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/messenger_internal.h"

#define BROADCAST_CTX "guardmesh/broadcast/1"

void gm__msgr_log(gm_messenger_t *g, int level, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    gm_node_log(g->node, level, "%s", line);
}

/*
 * ---- padding: power-of-two buckets from 64 bytes to 1 KiB, then steps of
 * 256 bytes (short messages, whose kinds differ, hide among each other; a
 * long text would waste up to a KiB on whole-KiB steps) ----
 */

static size_t pad_bucket(size_t len)
{
    size_t b = 64;

    while (b <= len && b < GM_MSGR_PAD_MAX) {
        b *= 2;
    }
    return b > len ? b : (len / GM_MSGR_PAD_STEP + 1) * GM_MSGR_PAD_STEP;
}

int gm__msgr_pad(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
    size_t cap = pad_bucket(len);
    size_t padded;
    uint8_t *buf = malloc(cap);

    if (buf == NULL) {
        return GM_ENOMEM;
    }
    memcpy(buf, in, len);
    /* ISO/IEC 7816-4: 0x80 then zeros; there is always room for the 0x80 */
    if (sodium_pad(&padded, buf, len, cap, cap) != 0) {
        sodium_memzero(buf, cap);
        free(buf);
        return GM_ELIMIT;
    }
    *out = buf;
    *out_len = padded;
    return 0;
}

int gm__msgr_unpad(const uint8_t *in, size_t len, size_t *out_len)
{
    return len > 0 && sodium_unpad(out_len, in, len, len) == 0 ? 0 : GM_EPROTO;
}

/* ---- sending ---- */

/* Encodes content, padded, for a ratchet or sender key. */
int gm__msgr_content_plaintext(const gm_content_t *c, uint8_t **out, size_t *out_len)
{
    size_t len = gm_wire_content_size(c);
    uint8_t *enc;
    int err;

    if (len == 0) {
        return GM_EPROTO;
    }
    enc = malloc(len);
    if (enc == NULL) {
        return GM_ENOMEM;
    }
    err = gm_wire_content_encode(c, enc, len, &len);
    if (err == 0) {
        err = gm__msgr_pad(enc, len, out, out_len);
    }
    sodium_memzero(enc, len);
    free(enc);
    return err;
}

/* Encodes env and hands it to the mesh. */
int gm__msgr_send_envelope(gm_messenger_t *g, const gm_dest_t *dst, gm_prio_t prio,
                         const gm_envelope_t *env, uint8_t bundle_id[GM_ID_LEN])
{
    size_t len = gm_wire_envelope_size(env);
    uint8_t *buf;
    int err;

    if (len == 0 || len > GM_MSGR_BODY_MAX) {
        return len == 0 ? GM_EPROTO : GM_ELIMIT;
    }
    buf = malloc(len);
    if (buf == NULL) {
        return GM_ENOMEM;
    }
    err = gm_wire_envelope_encode(env, buf, len, &len);
    if (err == 0) {
        err = gm_mesh_send(g->mesh, dst, prio, 0, 0, buf, len, bundle_id);
    }
    free(buf);
    if (err == 0) {
        g->st.sent++;
    }
    return err;
}

int gm__msgr_on_plaintext(gm_messenger_t *g, const uint8_t sender[GM_ID_LEN], const uint8_t *group,
                          bool broadcast, const uint8_t *pt, size_t len)
{
    gm_content_t c;
    int err = gm_wire_content_decode(pt, len, &c);

    if (err != 0) {
        g->st.dropped_malformed++;
        return 0; /* authentic but unreadable: nothing to keep, nothing to retry */
    }
    err = gm__msgr_on_content(g, sender, group, broadcast, &c);
    gm_content_free(&c);
    return err;
}

/* ---- broadcasts: signed, readable by every certified node ---- */

int gm__msgr_send_broadcast(gm_messenger_t *g, const gm_content_t *c, gm_prio_t prio,
                            uint8_t bundle_id[GM_ID_LEN])
{
    const gm_cert_t *own = gm_node_cert(g->node);
    gm_envelope_t env = {.kind = GM_ENVELOPE_BROADCAST};
    gm_dest_t dst = {.kind = GM_DST_ALL};
    size_t len = gm_wire_content_size(c);
    uint8_t *buf;
    int err;

    if (len == 0) {
        return GM_EPROTO;
    }
    buf = malloc(len);
    if (buf == NULL) {
        return GM_ENOMEM;
    }
    err = gm_wire_content_encode(c, buf, len, &len);
    if (err == 0) {
        err = gm_node_keys_sign(gm_node_keys(g->node), BROADCAST_CTX, buf, len,
                                env.broadcast.signature);
    }
    if (err == 0) {
        env.broadcast.cert = own->encoded;
        env.broadcast.cert_len = own->encoded_len;
        env.broadcast.content = buf;
        env.broadcast.content_len = len;
        err = gm__msgr_send_envelope(g, &dst, prio, &env, bundle_id);
    }
    free(buf);
    return err;
}

static int on_broadcast(gm_messenger_t *g, const uint8_t src[GM_ID_LEN], const gm_broadcast_t *bc)
{
    gm_cert_t *cert = malloc(sizeof *cert);
    int err = 0;

    if (cert == NULL) {
        return GM_ENOMEM;
    }
    if (gm_trust_check_encoded(gm_node_trust(g->node), bc->cert, bc->cert_len, gm__msgr_wall(g),
                               GM_ROLES_ALL, cert) != GM_CERT_OK) {
        g->st.dropped_untrusted++;
    } else if (memcmp(cert->body.node_id, src, GM_ID_LEN) != 0 ||
               gm_sign_verify(cert->body.sign_pk, BROADCAST_CTX, bc->content, bc->content_len,
                              bc->signature) != 0) {
        g->st.dropped_auth++;
    } else {
        err = gm__msgr_contact_put(g, cert, NULL, 0);
        err = err == 0 ? gm__msgr_on_plaintext(g, src, NULL, true, bc->content, bc->content_len)
                       : err;
    }
    free(cert);
    return err;
}

/* ---- the mesh's hooks ---- */

static int on_receive(void *ctx, const gm_bundle_t *b)
{
    gm_messenger_t *g = ctx;
    gm_envelope_t env;
    int err;

    if (gm_wire_envelope_decode(b->body, b->body_len, &env) != 0) {
        g->st.dropped_malformed++;
        return 0; /* delivered, and dropped here: counted */
    }
    g->st.received++;
    if ((env.kind == GM_ENVELOPE_RATCHET || env.kind == GM_ENVELOPE_PREKEY) &&
        b->dst.kind != GM_DST_NODE) {
        g->st.dropped_malformed++; /* a 1:1 message flooded: no sender makes one */
        gm_envelope_free(&env);
        return 0;
    }
    if (gm_mesh_begin(g->mesh, NULL) != 0) {
        gm_envelope_free(&env);
        return GM_EIO;
    }
    switch (env.kind) {
    case GM_ENVELOPE_RATCHET:
        err = gm__msgr_on_ratchet(g, b->src, &env.ratchet);
        break;
    case GM_ENVELOPE_PREKEY:
        err = gm__msgr_on_prekey(g, b->src, &env.prekey);
        break;
    case GM_ENVELOPE_GROUP:
        err = gm__msgr_on_group_message(g, b, &env);
        break;
    default:
        err = on_broadcast(g, b->src, &env.broadcast);
        break;
    }
    gm_envelope_free(&env);
    if (err != 0) {
        /* the store failed: roll back, so that the bundle comes again and nothing is lost */
        gm__msgr_log(g, GM_LOG_ERROR, "messenger: cannot take a message: %s", gm_strerror(err));
        gm_mesh_abort(g->mesh);
    }
    return err;
}

static void on_own_event(void *ctx, const uint8_t id[GM_ID_LEN], gm_mesh_own_event_t ev)
{
    gm_messenger_t *g = ctx;
    sqlite3_stmt *st = gm__msgr_q(g, MQ_OUTBOX_BY_BUNDLE);
    uint8_t msg_id[16];
    bool found = false, delivered = false, relayed = false;

    if (st == NULL) {
        return;
    }
    gm__msgr_bind_blob(st, 1, id, GM_ID_LEN);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 16) {
        found = true;
        memcpy(msg_id, sqlite3_column_blob(st, 0), 16);
        relayed = sqlite3_column_int64(st, 1) != 0;
        delivered = sqlite3_column_int64(st, 2) != 0;
    }
    sqlite3_reset(st);
    if (!found || (ev == GM_MESH_OWN_RELAYED && relayed) ||
        (ev == GM_MESH_OWN_EXPIRED && delivered)) {
        return;
    }
    if (gm__msgr_outbox_event(g, msg_id, ev == GM_MESH_OWN_RELAYED ? "relayed" : "expired",
                              NULL) != 0) {
        gm__msgr_log(g, GM_LOG_WARN, "messenger: cannot update the outbox");
    }
}

/* Receipts queued by this turn go out together, one message per peer and kind. */
static void flush_receipts(gm_messenger_t *g)
{
    sqlite3_stmt *st = gm__msgr_q(g, MQ_RECEIPT_PEERS);
    struct {
        uint8_t peer[GM_ID_LEN];
        int kind;
    } todo[64];
    size_t n = 0;

    if (st == NULL) {
        return;
    }
    while (n < 64 && sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) == GM_ID_LEN) {
            memcpy(todo[n].peer, sqlite3_column_blob(st, 0), GM_ID_LEN);
            todo[n++].kind = sqlite3_column_int(st, 1);
        }
    }
    sqlite3_reset(st);
    g->receipts_waiting = n == 64;
    for (size_t i = 0; i < n; i++) {
        if (gm__msgr_send_receipts(g, todo[i].peer, todo[i].kind) != 0) {
            g->receipts_waiting = true; /* the store failed: next turn */
            return;
        }
    }
}

static bool on_turn_end(void *ctx)
{
    gm_messenger_t *g = ctx;

    if (g->groups_joined) {
        gm__msgr_groups_catch_up(g);
    }
    if (g->receipts_waiting) {
        g->receipts_waiting = false;
        flush_receipts(g);
    }
    return g->groups_joined || g->receipts_waiting; /* failed: the next turn tries again */
}

static void on_tick(void *ctx)
{
    gm_messenger_t *g = ctx;
    uint64_t now = gm_node_now_ms(g->node);

    if (now - g->t_housekeeping < 10000 && g->t_housekeeping != 0) {
        return;
    }
    g->t_housekeeping = now;
    if (gm__msgr_spk_maintain(g) != 0) {
        gm__msgr_log(g, GM_LOG_WARN, "messenger: cannot renew the signed prekey");
    }
    gm__msgr_group_tick(g);
    flush_receipts(g);
    gm__msgr_prune(g);
}

static void on_counters(void *ctx, void (*fn)(void *fn_ctx, const char *name, uint64_t value),
                        void *fn_ctx)
{
    const gm_messenger_stats_t *s = &((gm_messenger_t *)ctx)->st;
    const struct {
        const char *name;
        uint64_t value;
    } c[] = {
        {"sent", s->sent},
        {"received", s->received},
        {"sessions_started", s->sessions_started},
        {"sessions_accepted", s->sessions_accepted},
        {"inbox_added", s->inbox_added},
        {"duplicates", s->duplicates},
        {"receipts_sent", s->receipts_sent},
        {"receipts_received", s->receipts_received},
        {"group_keys_sent", s->group_keys_sent},
        {"group_keys_received", s->group_keys_received},
        {"group_updates", s->group_updates},
        {"pending_group", s->pending_group},
        {"prekeys_made", s->prekeys_made},
        {"dropped_malformed", s->dropped_malformed},
        {"dropped_auth", s->dropped_auth},
        {"dropped_replay", s->dropped_replay},
        {"dropped_no_session", s->dropped_no_session},
        {"dropped_untrusted", s->dropped_untrusted},
        {"dropped_limit", s->dropped_limit},
        {"dropped_not_member", s->dropped_not_member},
    };

    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        fn(fn_ctx, c[i].name, c[i].value);
    }
}

int gm_messenger_new(gm_node_t *node, gm_mesh_t *mesh, gm_messenger_t **out, gm_why_t *why)
{
    static const gm_mesh_app_t app = {on_receive,  gm__msgr_in_group, on_own_event,
                                      on_turn_end, on_tick,           on_counters};
    gm_messenger_t *g = calloc(1, sizeof *g);
    int err;

    if (g == NULL) {
        gm_why_set(why, "out of memory");
        return GM_ENOMEM;
    }
    g->node = node;
    g->mesh = mesh;
    err = gm__msgr_db_open(g, why);
    if (err == 0 && (err = gm__msgr_spk_maintain(g)) != 0) {
        gm_why_set(why, "cannot make or publish a signed prekey: %s", gm_strerror(err));
    }
    if (err != 0) {
        gm__msgr_db_close(g);
        free(g);
        return err;
    }
    g->receipts_waiting = true; /* receipts left from before a restart */
    g->groups_joined = true;    /* and group bundles a crash kept from being handed over */
    gm_node_wake(node);
    gm_mesh_set_app(mesh, &app, g);
    gm__msgr_control_register(g);
    *out = g;
    return 0;
}

void gm_messenger_free(gm_messenger_t *g)
{
    if (g == NULL) {
        return;
    }
    gm_mesh_set_app(g->mesh, NULL, NULL);
    gm_node_set_control_ext(g->node, GM_OP_MESSENGER, NULL, NULL);
    gm__msgr_db_close(g);
    sodium_memzero(g, sizeof *g);
    free(g);
}

void gm_messenger_stats(const gm_messenger_t *g, gm_messenger_stats_t *out)
{
    *out = g->st;
}

void gm_messenger_set_arrival_cb(gm_messenger_t *g,
                                 void (*fn)(void *ctx, const gm_messenger_arrival_t *a),
                                 void *ctx)
{
    g->on_arrival = fn;
    g->arrival_ctx = ctx;
}

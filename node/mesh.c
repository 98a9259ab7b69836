/*
 * The mesh layer: custody, forwarding and delivery of bundles over a node's
 * links (see mesh.h for the rules). Routes come from mesh_route.c, the
 * anti-entropy exchange from mesh_sync.c.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "node/fileio.h"
#include "node/mesh_internal.h"
#include "proto/wire_mesh.h"

static const char *const drop_names[GM_MDROP_COUNT] = {
    [GM_MDROP_MALFORMED] = "malformed",     [GM_MDROP_EXPIRED] = "expired",
    [GM_MDROP_FUTURE] = "from_the_future",  [GM_MDROP_TOO_LARGE] = "too_large",
    [GM_MDROP_QUOTA] = "quota",             [GM_MDROP_EVICTED] = "evicted",
    [GM_MDROP_HOP_LIMIT] = "hop_limit",     [GM_MDROP_REVOKED] = "revoked_source",
    [GM_MDROP_STORE_ERROR] = "store_error", [GM_MDROP_RATE] = "origin_rate",
};

const char *gm_mesh_drop_name(gm_mesh_drop_t d)
{
    return d < GM_MDROP_COUNT ? drop_names[d] : "unknown";
}

#define RESCAN_MIN_MS 20

static bool is_self(const gm_mesh_t *m, const uint8_t id[GM_ID_LEN])
{
    return memcmp(id, gm_node_id(m->node), GM_ID_LEN) == 0;
}

static void own_event(gm_mesh_t *m, const uint8_t id[GM_ID_LEN], gm_mesh_own_event_t ev)
{
    if (m->app.own_event != NULL) {
        m->app.own_event(m->app_ctx, id, ev);
    }
}

/* True while a bundle this node made waits for its group to be durable. */
static bool own_pending(const gm_mesh_t *m, const uint8_t id[GM_ID_LEN])
{
    for (size_t i = 0; i < m->n_own; i++) {
        if (memcmp(m->own[i].id, id, GM_ID_LEN) == 0) {
            return true;
        }
    }
    return false;
}

/* Flooded: to every neighbour, held until its lifetime ends. */
bool gm__mesh_is_flood(const gm_bundle_t *b)
{
    return b->dst.kind != GM_DST_NODE || b->priority == GM_PRIO_EMERGENCY;
}

/* ---- sending bundles ---- */

bool gm__mesh_can_go_on(const gm_bundle_t *b)
{
    return b->hops < b->hop_limit;
}

int gm__mesh_transmit(gm_mesh_t *m, const gm_bundle_t *b, const uint8_t hop[GM_ID_LEN])
{
    gm_bundle_t next = *b;
    size_t len;
    int err;

    if (!gm__mesh_can_go_on(b)) {
        return GM_ELIMIT; /* at its hop limit: it goes nowhere, ever */
    }
    if (is_self(m, b->src) && own_pending(m, b->id)) {
        return GM_ESTATE; /* not durable yet: it leaves after its commit (send_own) */
    }
    next.hops = (uint8_t)(b->hops + 1);
    err = gm_wire_bundle_encode(&next, m->frame, GM_MESH_FRAME_MAX, &len);
    /* emergency bundles may use the link's control allowance: a queue full of bulk
     * traffic does not hold them back */
    if (err == 0) {
        err = b->priority == GM_PRIO_EMERGENCY
                  ? gm_node_send_control(m->node, hop, GM_CH_BUNDLE, m->frame, len)
                  : gm_node_send(m->node, hop, GM_CH_BUNDLE, m->frame, len);
    }
    if (err == GM_ELIMIT) {
        m->blocked = true; /* a full queue: it drains, and we try again */
        return UV_EAGAIN;
    }
    if (err == 0) {
        m->stats.sent++;
        if (gm__mesh_is_flood(b) && is_self(m, b->src)) {
            own_event(m, b->id, GM_MESH_OWN_RELAYED); /* a flood has no one custodian */
        }
    }
    return err;
}

struct flood_ctx {
    gm_mesh_t *m;
    const gm_bundle_t *b;
    const uint8_t *except;
};

static void flood_to(void *ctx, const uint8_t peer[GM_ID_LEN])
{
    struct flood_ctx *f = ctx;

    if ((f->except == NULL || memcmp(peer, f->except, GM_ID_LEN) != 0) &&
        memcmp(peer, f->b->src, GM_ID_LEN) != 0) {
        (void)gm__mesh_transmit(f->m, f->b, peer);
    }
}

/*
 * Moves one held bundle on, if it can go: a flood to every neighbour but
 * except (the one it came from); a unicast bundle to its next hop unless it
 * is already waiting for that hop's acknowledgement.
 */
/*
 * Bundles a full link refused, in order: offered again when links drain, so
 * backpressure costs a look at those bundles, not a scan of the whole store.
 * Past the cap the periodic rescan finds the rest.
 */
static void wait_for_drain(gm_mesh_t *m, const uint8_t id[GM_ID_LEN])
{
    if (m->n_waiting == m->cap_waiting) {
        size_t cap = m->cap_waiting ? m->cap_waiting * 2 : 256;
        void *p = cap <= GM_MESH_MAX_WAITING ? realloc(m->waiting, cap * GM_ID_LEN) : NULL;
        if (p == NULL) {
            m->rescan_later = true;
            return;
        }
        m->waiting = p;
        m->cap_waiting = cap;
    }
    memcpy(m->waiting[m->n_waiting++], id, GM_ID_LEN);
}

void gm__mesh_forward(gm_mesh_t *m, const gm_bundle_t *b, const uint8_t *except)
{
    uint8_t hop[GM_ID_LEN];
    gm_inflight_entry_t *e;
    uint64_t now = gm_node_now_ms(m->node);
    int err;

    if (!gm__mesh_can_go_on(b)) {
        return;
    }
    if (gm__mesh_is_flood(b)) {
        struct flood_ctx f = {m, b, except};
        gm_node_each_peer(m->node, flood_to, &f);
        return;
    }
    if (is_self(m, b->dst.id) || !gm__mesh_next_hop(m, b->dst.id, hop)) {
        return; /* no route: it waits in custody */
    }
    e = gm_inflight_find(&m->inflight, b->id);
    if (e != NULL && memcmp(e->hop, hop, GM_ID_LEN) == 0 &&
        now - e->t_ms < m->cfg->custody_timeout_ms) {
        return;
    }
    err = gm__mesh_transmit(m, b, hop);
    if (err == UV_EAGAIN) {
        wait_for_drain(m, b->id); /* the link's queue is full: again when it drains */
    } else if (err == 0 && gm_inflight_put(&m->inflight, b->id, hop, now,
                                                is_self(m, b->src)) != 0) {
        gm_node_log(m->node, GM_LOG_WARN, "mesh: out of memory tracking a bundle in flight");
    }
}

static int forward_each(void *ctx, const gm_bundle_t *b, const uint8_t *data, size_t len)
{
    gm_mesh_t *m = ctx;

    (void)data;
    (void)len;
    if (!gm__mesh_is_flood(b)) { /* an emergency bundle to one node is flooded too */
        gm__mesh_forward(m, b, NULL);
    }
    return 0;
}

/*
 * Offers every held unicast bundle that has a route and is not waiting for an
 * ack. Floods are not read: they went out on arrival and new links get them by
 * sync, and a relay may hold many of them until their lifetime ends.
 */
static void rescan(gm_mesh_t *m)
{
    int err;

    m->rescan = false;
    m->t_rescan = gm_node_now_ms(m->node);
    err = gm_store_each_kind(m->store, GM_DST_NODE, 0, forward_each, m);
    if (err != 0) {
        gm_node_log(m->node, GM_LOG_ERROR, "mesh: store scan failed: %s",
                    gm_store_strerror(err));
    }
}

/* ---- custody acks and deliveries wait for the commit ---- */

static int queue_ack(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN], const uint8_t id[GM_ID_LEN],
                     uint64_t gen)
{
    if (m->n_acks == m->cap_acks) {
        size_t cap = m->cap_acks ? m->cap_acks * 2 : 256;
        struct gm_pending_ack *p = realloc(m->acks, cap * sizeof *p);
        if (p == NULL) {
            return GM_ENOMEM;
        }
        m->acks = p;
        m->cap_acks = cap;
    }
    memcpy(m->acks[m->n_acks].peer, peer, GM_ID_LEN);
    memcpy(m->acks[m->n_acks].id, id, GM_ID_LEN);
    m->acks[m->n_acks++].gen = gen;
    return 0;
}

static int queue_own(gm_mesh_t *m, const uint8_t id[GM_ID_LEN], uint64_t gen)
{
    if (m->n_own == m->cap_own) {
        size_t cap = m->cap_own ? m->cap_own * 2 : 64;
        struct gm_pending_ack *p = realloc(m->own, cap * sizeof *p);
        if (p == NULL) {
            return GM_ENOMEM;
        }
        m->own = p;
        m->cap_own = cap;
    }
    memcpy(m->own[m->n_own].id, id, GM_ID_LEN);
    m->own[m->n_own++].gen = gen;
    return 0;
}

/* A copy of one stored bundle's bytes: the application may send (and reuse m->frame) meanwhile. */
struct bundle_copy {
    uint8_t *data;
    size_t len;
};

static int copy_bundle(void *ctx, const gm_bundle_t *b, const uint8_t *data, size_t len)
{
    struct bundle_copy *c = ctx;

    (void)b;
    c->data = malloc(len);
    if (c->data == NULL) {
        return GM_ENOMEM;
    }
    memcpy(c->data, data, len);
    c->len = len;
    return 0;
}

static int queue_delivery(gm_mesh_t *m, const uint8_t *data, size_t len, uint64_t gen)
{
    struct gm_pending_delivery *d = malloc(sizeof *d + len);

    if (d == NULL) {
        return GM_ENOMEM;
    }
    d->gen = gen;
    d->len = len;
    memcpy(d->data, data, len);
    d->next = NULL;
    *m->deliveries_tail = d;
    m->deliveries_tail = &d->next;
    return 0;
}

static int by_peer(const void *a, const void *b)
{
    return memcmp(((const struct gm_pending_ack *)a)->peer,
                  ((const struct gm_pending_ack *)b)->peer, GM_ID_LEN);
}

/* One CustodyAck of up to GM_ACK_MAX_IDS ids to peer. */
static void send_ack_batch(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN],
                           const struct gm_pending_ack *acks, size_t n)
{
    size_t len;

    for (size_t i = 0; i < n; i++) {
        memcpy(m->ack_ids[i], acks[i].id, GM_ID_LEN);
    }
    if (gm_wire_ack_encode((const uint8_t(*)[GM_ID_LEN])m->ack_ids, n, m->frame,
                           GM_MESH_FRAME_MAX, &len) == 0 &&
        gm_node_send_control(m->node, peer, GM_CH_ACK, m->frame, len) == 0) {
        m->stats.acks_sent += n;
    } else {
        /* no link or a full queue: the neighbour offers the bundles again, acked then */
        gm_node_log(m->node, GM_LOG_DEBUG, "mesh: %zu custody acks not sent", n);
    }
}

/* Sends the acks whose generation is durable, batched per neighbour (sorted: no n^2). */
static void send_acks(gm_mesh_t *m)
{
    uint64_t durable = gm_store_durable_gen(m->store);
    size_t ready = 0, run;

    /* the durable ones to the front, the others stay queued behind them */
    for (size_t i = 0; i < m->n_acks; i++) {
        if (m->acks[i].gen <= durable) {
            struct gm_pending_ack t = m->acks[ready];
            m->acks[ready++] = m->acks[i];
            m->acks[i] = t;
        }
    }
    if (ready == 0) {
        return; /* (m->acks may still be NULL) */
    }
    qsort(m->acks, ready, sizeof *m->acks, by_peer);
    for (size_t i = 0; i < ready; i += run) {
        for (run = 1; i + run < ready && run < GM_ACK_MAX_IDS &&
                      memcmp(m->acks[i + run].peer, m->acks[i].peer, GM_ID_LEN) == 0;
             run++) {
        }
        send_ack_batch(m, m->acks[i].peer, m->acks + i, run);
    }
    memmove(m->acks, m->acks + ready, (m->n_acks - ready) * sizeof *m->acks);
    m->n_acks -= ready;
}

static void run_deliveries(gm_mesh_t *m)
{
    uint64_t durable = gm_store_durable_gen(m->store);

    while (m->deliveries != NULL && m->deliveries->gen <= durable) {
        struct gm_pending_delivery *d = m->deliveries;
        gm_bundle_t b;

        m->deliveries = d->next;
        if (m->deliveries == NULL) {
            m->deliveries_tail = &m->deliveries;
        }
        if (gm_wire_bundle_decode(d->data, d->len, d->len, &b) == 0) {
            m->stats.delivered++;
            if (m->deliver_cb != NULL) {
                m->deliver_cb(m->deliver_ctx, &b);
            }
        }
        free(d);
    }
}

/* A failure lost the store's open group: nothing that waited for it may happen. Its
 * bundles were never acknowledged, so the previous hops still hold them. */
static void on_group_lost(void *ctx, uint64_t gen)
{
    gm_mesh_t *m = ctx;
    struct gm_pending_delivery **p = &m->deliveries;
    size_t keep = 0;

    m->stats.dropped[GM_MDROP_STORE_ERROR]++;
    for (size_t i = 0; i < m->n_acks; i++) {
        if (m->acks[i].gen != gen) {
            m->acks[keep++] = m->acks[i];
        }
    }
    m->n_acks = keep;
    keep = 0;
    for (size_t i = 0; i < m->n_own; i++) {
        if (m->own[i].gen != gen) {
            m->own[keep++] = m->own[i];
        }
    }
    m->n_own = keep;
    while (*p != NULL) {
        if ((*p)->gen == gen) {
            struct gm_pending_delivery *d = *p;
            *p = d->next;
            free(d);
        } else {
            p = &(*p)->next;
        }
    }
    m->deliveries_tail = p;
}

static void mark_dirty(gm_mesh_t *m);

/*
 * This node's own bundles leave only once the group that made them is
 * durable: a group that is rolled back takes the application's state with
 * it (a ratchet's message keys), and what had left would then be made again
 * under the same keys.
 */
static void send_own(gm_mesh_t *m)
{
    uint64_t durable = gm_store_durable_gen(m->store);
    size_t keep = 0, n = m->n_own;
    struct gm_pending_ack *own = m->own;

    if (n == 0) {
        return;
    }
    m->own = NULL; /* forwarding may make new own bundles (the application's events) */
    m->n_own = m->cap_own = 0;
    if (gm_store_begin(m->store, NULL) == 0) { /* what forwarding writes joins a new group */
        mark_dirty(m);
    }
    for (size_t i = 0; i < n; i++) {
        struct bundle_copy c = {0};
        gm_bundle_t b;
        if (own[i].gen > durable) {
            own[keep++] = own[i];
            continue;
        }
        if (gm_store_get(m->store, own[i].id, copy_bundle, &c) == 0 &&
            gm_wire_bundle_decode(c.data, c.len, m->cfg->max_bundle, &b) == 0) {
            gm__mesh_forward(m, &b, NULL);
        }
        free(c.data);
    }
    for (size_t i = 0; i < keep; i++) {
        if (queue_own(m, own[i].id, own[i].gen) != 0) {
            m->rescan = true; /* out of memory: the next rescan sends it */
        }
    }
    free(own);
}

/* Group commit, then what waited for it. */
static void commit(gm_mesh_t *m)
{
    int n = gm_store_commit(m->store);

    m->t_commit = gm_node_now_ms(m->node);
    m->dirty = false;
    if (n < 0) {
        /* on_group_lost dropped the acks and deliveries of the lost group */
        gm_node_log(m->node, GM_LOG_ERROR, "mesh: store commit failed: %s",
                    gm_store_errmsg(m->store));
        return;
    }
    send_acks(m);
    run_deliveries(m);
    send_own(m);
}

static void on_commit_timer(uv_timer_t *t)
{
    gm_mesh_t *m = t->data;

    if (m->dirty) {
        commit(m);
    }
}

/* Something was put: commit at the end of this turn, or within commit_interval_ms. */
static void mark_dirty(gm_mesh_t *m)
{
    if (!m->dirty) {
        m->dirty = true;
        gm_node_wake(m->node); /* the commit is decided at the end of the turn */
        if (m->cfg->commit_interval_ms > 0) {
            uv_timer_start(&m->commit_timer, on_commit_timer, m->cfg->commit_interval_ms, 0);
        }
    }
}

/* ---- receiving ---- */

static gm_mesh_drop_t put_refusal(int err)
{
    switch (err) {
    case GM_STORE_EEXPIRED:
        return GM_MDROP_EXPIRED;
    case GM_STORE_EFUTURE:
        return GM_MDROP_FUTURE;
    case GM_STORE_ETOOBIG:
        return GM_MDROP_TOO_LARGE;
    case GM_STORE_EQUOTA:
        return GM_MDROP_QUOTA;
    default:
        return GM_MDROP_STORE_ERROR;
    }
}

static bool for_me(gm_mesh_t *m, const gm_bundle_t *b)
{
    return b->dst.kind == GM_DST_ALL || (b->dst.kind == GM_DST_NODE && is_self(m, b->dst.id)) ||
           (b->dst.kind == GM_DST_GROUP && gm__mesh_in_group(m, b->dst.id));
}

/* Delivers here if it is for us: marked in this group, handed over once durable. */
/*
 * Delivers b here if it is for us: marked in this group, handed over once
 * durable. Non-zero if the application or the store failed (the group was
 * rolled back: the bundle is not delivered, it comes again).
 */
static int maybe_deliver(gm_mesh_t *m, const gm_bundle_t *b, const uint8_t *data, size_t len)
{
    uint64_t gen;
    int err;

    if (!for_me(m, b) || is_self(m, b->src)) {
        return 0;
    }
    if (m->app.receive != NULL && (err = m->app.receive(m->app_ctx, b)) != 0) {
        return err; /* its writes join this store group; it failed, and aborted the group */
    }
    /* a unicast bundle leaves the store; a flood stays held for later neighbours, and its
     * id is remembered as delivered even if it is evicted */
    err = b->dst.kind == GM_DST_NODE && !gm__mesh_is_flood(b)
              ? gm_store_mark_delivered(m->store, b->id, &gen)
              : gm_store_note_delivered(m->store, b->id, &gen);
    if (err == 0 && queue_delivery(m, data, len, gen) != 0) {
        gm_node_log(m->node, GM_LOG_ERROR, "mesh: out of memory delivering a bundle");
    }
    return err;
}

/* Token bucket per id in table: rate per second, a second's worth at once. */
static bool rate_allows(gm_mesh_t *m, struct gm_origin_slot *table, const uint8_t id[GM_ID_LEN],
                        double rate)
{
    uint64_t now = gm_node_now_ms(m->node);
    struct gm_origin_slot *s = NULL, *oldest = &table[0];

    for (size_t i = 0; i < GM_MESH_ORIGIN_SLOTS && s == NULL; i++) {
        if (memcmp(table[i].id, id, GM_ID_LEN) == 0 && table[i].t_ms != 0) {
            s = &table[i];
        } else if (table[i].t_ms < oldest->t_ms) {
            oldest = &table[i];
        }
    }
    if (s == NULL) { /* a new id takes the least recently seen slot */
        s = oldest;
        memcpy(s->id, id, GM_ID_LEN);
        s->tokens = rate;
        s->t_ms = now;
    }
    s->tokens += (double)(now - s->t_ms) * rate / 1000.0;
    s->tokens = s->tokens > rate ? rate : s->tokens;
    s->t_ms = now != 0 ? now : 1;
    if (s->tokens < 1.0) {
        return false;
    }
    s->tokens -= 1.0;
    return true;
}

static void on_bundle(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN], const uint8_t *data,
                      size_t len)
{
    gm_bundle_t b;
    uint64_t gen = 0;
    int err = gm_wire_bundle_decode(data, len, m->cfg->max_bundle, &b);

    if (err != 0) {
        m->stats.dropped[err == GM_ELIMIT ? GM_MDROP_TOO_LARGE : GM_MDROP_MALFORMED]++;
        return;
    }
    if (gm__mesh_source_revoked(m, b.src)) {
        m->stats.dropped[GM_MDROP_REVOKED]++;
        return;
    }
    if (!gm__mesh_can_go_on(&b) && !for_me(m, &b)) {
        m->stats.dropped[GM_MDROP_HOP_LIMIT]++;
        return; /* not acknowledged: it could only stay here, undeliverable */
    }
    /* The source in the header is not signed (relays cannot check it): the neighbour,
     * which its link authenticates, has a budget of its own, emergency bundles included. */
    if (!rate_allows(m, m->neighbours, peer, m->cfg->neighbour_rate) ||
        (b.priority != GM_PRIO_EMERGENCY && !rate_allows(m, m->origins, b.src,
                                                        m->cfg->origin_rate))) {
        m->stats.dropped[GM_MDROP_RATE]++;
        return; /* not acknowledged: the previous hop keeps it and offers it again later */
    }
    /* readmit: a unicast bundle this node handed on and that came back is held again */
    err = gm_store_put_from(m->store, peer, &b, data, len, gm_node_wall(m->node), &gen,
                            !gm__mesh_is_flood(&b));
    if (err == GM_STORE_EDUPLICATE) {
        m->stats.duplicates++;
        (void)queue_ack(m, peer, b.id, gen); /* its ack may have been lost: again */
        mark_dirty(m);
        return;
    }
    if (err != 0) {
        /* not acknowledged, expired ones neither: this node's clock may be the wrong one,
         * and the previous hop drops the bundle when its own clock says so */
        m->stats.dropped[put_refusal(err)]++;
        return;
    }
    m->stats.accepted++;
    mark_dirty(m);
    if (queue_ack(m, peer, b.id, gen) != 0) {
        gm_node_log(m->node, GM_LOG_WARN, "mesh: out of memory queueing a custody ack");
    }
    (void)maybe_deliver(m, &b, data, len); /* a failure rolled back the ack too: it comes again */
    gm__mesh_forward(m, &b, peer);
}

static void on_ack(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN], const uint8_t *data, size_t len)
{
    size_t n;

    if (gm_wire_ack_decode(data, len, m->ack_ids, &n) != 0) {
        m->stats.dropped[GM_MDROP_MALFORMED]++;
        return;
    }
    m->stats.acks_received += n;
    for (size_t i = 0; i < n; i++) {
        gm_inflight_entry_t *e = gm_inflight_find(&m->inflight, m->ack_ids[i]);
        if (e == NULL || memcmp(e->hop, peer, GM_ID_LEN) != 0) {
            continue; /* a flood's ack, or a stale one */
        }
        bool own = e->own;
        gm_inflight_del(&m->inflight, m->ack_ids[i]);
        if (gm_store_remove(m->store, m->ack_ids[i]) == 0) {
            m->stats.forwarded++;
            mark_dirty(m);
            if (own) {
                own_event(m, m->ack_ids[i], GM_MESH_OWN_RELAYED);
            }
        }
    }
}

static void on_data(void *ctx, const uint8_t peer[GM_ID_LEN], uint32_t channel,
                    const uint8_t *data, size_t len)
{
    gm_mesh_t *m = ctx;

    switch (channel) {
    case GM_CH_BUNDLE:
        on_bundle(m, peer, data, len);
        break;
    case GM_CH_ACK:
        on_ack(m, peer, data, len);
        break;
    case GM_CH_ROUTE:
        gm__mesh_on_route(m, peer, data, len);
        break;
    case GM_CH_SYNC:
        gm__mesh_on_sync(m, peer, data, len);
        break;
    case GM_CH_CRL:
        gm__mesh_on_crl(m, peer, data, len);
        break;
    default:
        m->stats.dropped[GM_MDROP_MALFORMED]++;
        break;
    }
}

/* ---- link events and time ---- */

static void on_link_up(void *ctx, const uint8_t peer[GM_ID_LEN])
{
    gm_mesh_t *m = ctx;

    gm__mesh_crls_to(m, peer);   /* revocations first */
    gm__mesh_route_link_up(m, peer);
    gm__mesh_sync_start(m, peer);
    m->rescan = true;
}

static void on_link_down(void *ctx, const uint8_t peer[GM_ID_LEN])
{
    gm_mesh_t *m = ctx;

    /* this may run inside a send to another neighbour (a link failing mid-flood): only
     * state changes here; the route updates it causes go out at the end of the turn */
    gm_inflight_drop_hop(&m->inflight, peer); /* offered again through another route */
    gm__mesh_sync_forget(m, peer);
    gm__mesh_route_link_down(m, peer);
    m->rescan = true;
}

/* Offers the bundles full links refused, oldest first, until a link refuses again. */
static void retry_waiting(gm_mesh_t *m)
{
    size_t n = m->n_waiting, i;
    uint8_t(*ids)[GM_ID_LEN] = m->waiting;

    /* gm__mesh_forward may queue ids again: they go to a fresh list */
    m->waiting = NULL;
    m->n_waiting = m->cap_waiting = 0;
    m->blocked = false;
    for (i = 0; i < n && !m->blocked; i++) {
        int err = gm_store_get(m->store, ids[i], forward_each, m);
        if (err != 0 && err != GM_ENOENT) { /* GM_ENOENT: it left meanwhile */
            gm_node_log(m->node, GM_LOG_WARN, "mesh: store read failed: %s",
                        gm_store_strerror(err));
        }
    }
    for (; i < n; i++) { /* still blocked: keep their turn */
        wait_for_drain(m, ids[i]);
    }
    free(ids);
}

static void on_drained(void *ctx, const uint8_t peer[GM_ID_LEN])
{
    gm_mesh_t *m = ctx;

    gm__mesh_sync_resume(m, peer);
    if (m->n_waiting > 0) {
        retry_waiting(m);
    }
    if (m->rescan_later) {
        m->rescan_later = false;
        m->rescan = true;
    }
}

static bool on_turn_end(void *ctx)
{
    gm_mesh_t *m = ctx;
    bool again = false;

    if (m->app.turn_end != NULL) {
        again = m->app.turn_end(m->app_ctx); /* its writes make the group this commit closes */
    }
    gm__mesh_route_turn_end(m);
    if (m->dirty && (m->cfg->commit_interval_ms == 0 ||
                     gm_node_now_ms(m->node) - m->t_commit >= m->cfg->commit_interval_ms)) {
        commit(m);
    }
    /* a scan reads the whole store: at most one every RESCAN_MIN_MS, whatever neighbours
     * send; a flag left set is picked up by a later turn or the tick */
    if (m->rescan && gm_node_now_ms(m->node) - m->t_rescan >= RESCAN_MIN_MS) {
        rescan(m);
    }
    /* a rescan held back, or the application's, is for a later turn; a held commit has
     * its timer */
    return again || m->rescan;
}

static void on_dropped(void *ctx, const gm_bundle_t *hdr, gm_store_drop_t why)
{
    gm_mesh_t *m = ctx;
    char id[2 * GM_ID_LEN + 1];

    gm_inflight_del(&m->inflight, hdr->id);
    m->stats.dropped[why == GM_STORE_DROP_EXPIRED ? GM_MDROP_EXPIRED : GM_MDROP_EVICTED]++;
    if (is_self(m, hdr->src) && why == GM_STORE_DROP_EXPIRED) {
        m->stats.expired_own++;
        sodium_bin2hex(id, sizeof id, hdr->id, GM_ID_LEN);
        gm_node_log(m->node, GM_LOG_WARN, "mesh: own bundle %s expired undelivered", id);
        own_event(m, hdr->id, GM_MESH_OWN_EXPIRED);
    }
}

static void on_tick(void *ctx)
{
    gm_mesh_t *m = ctx;
    uint64_t now = gm_node_now_ms(m->node);
    size_t n;

    if (now - m->t_expire >= 1000) {
        m->t_expire = now;
        if (gm_store_expire(m->store, gm_node_wall(m->node), &n) == 0 && n > 0) {
            mark_dirty(m);
        }
    }
    if (now - m->t_rescan >= m->cfg->custody_timeout_ms) {
        m->rescan = true; /* bundles whose acks never came go again */
    }
    if (m->rescan && now - m->t_rescan >= RESCAN_MIN_MS) {
        rescan(m);
    }
    gm__mesh_route_tick(m);
    gm__mesh_sync_tick(m);
    if (m->app.tick != NULL) {
        m->app.tick(m->app_ctx);
    }
}

static void on_trust_changed(void *ctx)
{
    gm__mesh_crl_applied(ctx);
}

/* ---- the public side ---- */

int gm_mesh_send(gm_mesh_t *m, const gm_dest_t *dst, gm_prio_t prio, uint32_t lifetime,
                 uint8_t hop_limit, const uint8_t *body, size_t len, uint8_t id_out[GM_ID_LEN])
{
    gm_bundle_t b;
    size_t enc_len;
    uint64_t gen;
    int err;

    memset(&b, 0, sizeof b);
    randombytes_buf(b.id, sizeof b.id);
    memcpy(b.src, gm_node_id(m->node), GM_ID_LEN);
    b.dst = *dst;
    b.created = gm_node_wall(m->node);
    b.lifetime = lifetime != 0 ? lifetime : m->cfg->bundle_lifetime_s;
    b.hop_limit = hop_limit != 0 ? hop_limit : (uint8_t)m->cfg->bundle_hop_limit;
    b.priority = prio;
    b.body = body;
    b.body_len = len;
    err = gm_wire_bundle_encode(&b, m->frame, GM_MESH_FRAME_MAX, &enc_len);
    if (err != 0) {
        return err == GM_ELIMIT ? GM_STORE_ETOOBIG : err;
    }
    err = gm_store_put(m->store, &b, m->frame, enc_len, b.created, &gen);
    if (err != 0) {
        return err;
    }
    m->stats.originated++;
    mark_dirty(m);
    if (id_out != NULL) {
        memcpy(id_out, b.id, GM_ID_LEN);
    }
    if (queue_own(m, b.id, gen) != 0) {
        m->rescan = true; /* out of memory: a rescan after the commit sends it */
    }
    return 0;
}

int gm_mesh_new(gm_node_t *node, gm_mesh_t **out, gm_why_t *why)
{
    gm_mesh_t *m = calloc(1, sizeof *m);
    gm_store_limits_t lim;
    char path[GM_PATH_MAX];
    gm_node_hooks_t hooks = {on_data,     on_link_up, on_link_down,        on_drained,
                             on_turn_end, on_tick,    on_trust_changed};
    int err;

    if (m == NULL) {
        gm_why_set(why, "out of memory");
        return GM_ENOMEM;
    }
    m->node = node;
    m->cfg = gm_node_config(node);
    m->t_sync = gm_node_now_ms(node); /* the first sync is at link up */
    m->deliveries_tail = &m->deliveries;
    gm_inflight_init(&m->inflight);
    lim.max_total = m->cfg->store_max_bytes;
    lim.max_per_origin = m->cfg->store_max_per_origin;
    lim.max_per_link = m->cfg->store_max_per_link;
    lim.max_bundle = m->cfg->max_bundle;
    if (gm_path_join(path, sizeof path, gm_node_dir(node), GM_FILE_STORE) != 0) {
        gm_why_set(why, "%s: path too long", gm_node_dir(node));
        free(m);
        return GM_ELIMIT;
    }
    m->frame = malloc(GM_MESH_FRAME_MAX);
    m->ack_ids = malloc(GM_ACK_MAX_IDS * sizeof *m->ack_ids);
    err = m->frame == NULL || m->ack_ids == NULL ? GM_ENOMEM : 0;
    if (err != 0) {
        gm_why_set(why, "out of memory");
    }
    if (err == 0) {
        err = gm_node_store_in_memory(node) ? gm_store_new_memory(path, &lim, &m->store, why)
                                            : gm_store_new(path, &lim, &m->store, why);
    }
    err = err ? err : gm__mesh_route_init(m, why);
    if (err != 0) {
        gm_mesh_free(m);
        return err;
    }
    gm_store_set_on_drop(m->store, on_dropped, m);
    gm_store_set_on_lost(m->store, on_group_lost, m);
    uv_timer_init(gm_node_loop(node), &m->commit_timer);
    m->commit_timer.data = m;
    m->timer_open = true;
    gm_node_set_hooks(node, &hooks, m);
    gm__mesh_control_register(m);
    *out = m;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h->data); /* the mesh, freed once its timer handle is closed */
}

void gm_mesh_free(gm_mesh_t *m)
{
    if (m == NULL) {
        return;
    }
    if (m->store != NULL && m->dirty) {
        if (gm_store_commit(m->store) < 0) { /* what was put is kept; acks are never sent */
            gm_node_log(m->node, GM_LOG_ERROR, "mesh: final commit failed: %s",
                        gm_store_errmsg(m->store));
        }
        run_deliveries(m); /* durable now: the application gets them before we go */
    }
    gm_store_free(m->store);
    gm__mesh_sync_free(m);
    gm__mesh_route_free(m);
    gm_inflight_free(&m->inflight);
    free(m->acks);
    free(m->own);
    free(m->waiting);
    free(m->frame);
    free(m->ack_ids);
    while (m->deliveries != NULL) {
        struct gm_pending_delivery *d = m->deliveries;
        m->deliveries = d->next;
        free(d);
    }
    if (m->timer_open) {
        gm_node_hooks_t none = {0};
        gm_node_set_hooks(m->node, &none, NULL);
        gm_node_set_control_ext(m->node, GM_OP_MESH, NULL, NULL);
        m->commit_timer.data = m;
        uv_close((uv_handle_t *)&m->commit_timer, on_timer_closed);
        return;
    }
    free(m);
}

/* The ids of held bundles to a group, collected first: the store's callback must not re-enter. */
struct held_ids {
    uint8_t (*ids)[GM_ID_LEN];
    size_t n, cap;
    int err;
};

static int collect_id(void *ctx, const gm_bundle_t *b, const uint8_t *data, size_t len)
{
    struct held_ids *h = ctx;

    (void)data;
    (void)len;
    if (h->n == h->cap) {
        size_t cap = h->cap != 0 ? 2 * h->cap : 64;
        void *p = realloc(h->ids, cap * GM_ID_LEN);
        if (p == NULL) {
            h->err = GM_ENOMEM;
            return GM_ENOMEM;
        }
        h->ids = p;
        h->cap = cap;
    }
    memcpy(h->ids[h->n++], b->id, GM_ID_LEN);
    return 0;
}


int gm_mesh_deliver_held(gm_mesh_t *m, const uint8_t group[GM_ID_LEN])
{
    gm_dest_t dst = {.kind = GM_DST_GROUP};
    struct held_ids h = {0};
    gm_store_state_t state;
    int err;

    memcpy(dst.id, group, GM_ID_LEN);
    err = gm_store_each(m->store, &dst, 0, collect_id, &h);
    err = err != 0 ? err : h.err; /* a callback that stops the walk is no error to the store */
    for (size_t i = 0; err == 0 && i < h.n; i++) {
        /* a group bundle held here but never handed over: it came before we joined */
        struct bundle_copy c = {0};
        gm_bundle_t b;
        if (gm_store_lookup(m->store, h.ids[i], &state) != 0 || state != GM_STORE_HELD) {
            continue; /* gone meanwhile, or delivered already */
        }
        err = gm_store_get(m->store, h.ids[i], copy_bundle, &c);
        if (err == 0 && gm_wire_bundle_decode(c.data, c.len, m->cfg->max_bundle, &b) == 0) {
            err = maybe_deliver(m, &b, c.data, c.len);
        }
        err = err == GM_ENOENT ? 0 : err;
        free(c.data);
    }
    free(h.ids);
    if (err == 0 && h.n > 0) {
        mark_dirty(m);
    }
    return err;
}

void gm_mesh_set_app(gm_mesh_t *m, const gm_mesh_app_t *app, void *ctx)
{
    memset(&m->app, 0, sizeof m->app);
    if (app != NULL) {
        m->app = *app;
    }
    m->app_ctx = ctx;
}

sqlite3 *gm_mesh_db(gm_mesh_t *m)
{
    return gm_store_db(m->store);
}

int gm_mesh_begin(gm_mesh_t *m, uint64_t *gen)
{
    int err = gm_store_begin(m->store, gen);

    if (err == 0) {
        mark_dirty(m);
    }
    return err;
}

void gm_mesh_abort(gm_mesh_t *m)
{
    gm_store_abort(m->store);
}

int gm_mesh_commit(gm_mesh_t *m)
{
    uint64_t gen;
    int err = gm_store_begin(m->store, &gen);

    if (err == 0) {
        commit(m);
        err = gm_store_durable_gen(m->store) >= gen ? 0 : GM_EIO;
    }
    return err;
}

const char *gm_mesh_store_errmsg(const gm_mesh_t *m)
{
    return gm_store_errmsg(m->store);
}

const gm_router_t *gm_mesh_router(const gm_mesh_t *m)
{
    return m->router;
}

int gm_mesh_set_prekeys(gm_mesh_t *m, const uint8_t *prekeys, size_t len)
{
    return gm_router_set_prekeys(m->router, prekeys, len);
}

void gm_mesh_set_deliver_cb(gm_mesh_t *m, gm_mesh_deliver_cb cb, void *ctx)
{
    m->deliver_cb = cb;
    m->deliver_ctx = ctx;
}

void gm_mesh_stats(const gm_mesh_t *m, gm_mesh_stats_t *out)
{
    *out = m->stats;
}

void gm_mesh_store_stats(const gm_mesh_t *m, gm_store_stats_t *out)
{
    gm_store_stats(m->store, out);
}

uint64_t gm_mesh_durable_gen(const gm_mesh_t *m)
{
    return gm_store_durable_gen(m->store);
}

/*
 * The mesh layer's control plane: this node's announcement, route updates
 * between neighbours (node/router.c judges them), and revocation lists
 * flooded through the mesh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/fileio.h"
#include "node/mesh_internal.h"
#include "proto/wire_mesh.h"

#define FILE_SEQ "announce.seq" /* the last announcement number, so a restart never reuses one */

/* ---- the announcement number survives restarts ---- */

static void seq_path(const gm_mesh_t *m, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", gm_node_dir(m->node), FILE_SEQ);
}

static uint64_t load_seq(const gm_mesh_t *m)
{
    char path[GM_PATH_MAX + 16], text[32];
    uint8_t *buf;
    size_t len;
    uint64_t seq = 0;

    seq_path(m, path, sizeof path);
    if (gm_file_read(path, sizeof text - 1, &buf, &len) == 0) {
        memcpy(text, buf, len);
        text[len] = 0;
        seq = strtoull(text, NULL, 10);
        free(buf);
    }
    return seq;
}

static void save_seq(gm_mesh_t *m, uint64_t seq)
{
    char path[GM_PATH_MAX + 16], text[32];
    int n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)seq);
    gm_why_t why;

    seq_path(m, path, sizeof path);
    if (gm_blob_save(path, (const uint8_t *)text, (size_t)n, false, &why) != 0) {
        gm_node_log(m->node, GM_LOG_WARN, "mesh: %s", why.msg);
    }
}

/* ---- sending updates ---- */

static int send_ctl(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN], uint32_t channel,
                    const uint8_t *data, size_t len)
{
    int err = gm_node_send_control(m->node, peer, channel, data, len);

    if (err != 0) {
        gm_node_log(m->node, GM_LOG_DEBUG, "mesh: control message on channel %u not sent: %s",
                    channel, gm_strerror(err));
    }
    return err;
}

/*
 * A route update a full link refused is not dropped: it is held again and
 * goes out (to every neighbour) on a later tick, or a node could miss a route,
 * or keep one that was retracted, until the origin's next announcement.
 */
static void defer_route(gm_mesh_t *m, const uint8_t origin[GM_ID_LEN])
{
    gm_router_hold_whole(m->router, origin); /* the refused neighbour may lack it */
    m->stats.routes_deferred++;
}

struct flood {
    gm_mesh_t *m;
    const uint8_t *data;
    size_t len;
    uint32_t channel;
    const uint8_t *except;
};

static void send_to(void *ctx, const uint8_t peer[GM_ID_LEN])
{
    struct flood *f = ctx;

    if (f->except == NULL || memcmp(peer, f->except, GM_ID_LEN) != 0) {
        send_ctl(f->m, peer, f->channel, f->data, f->len);
    }
}

static void flood(gm_mesh_t *m, uint32_t channel, const uint8_t *data, size_t len,
                  const uint8_t *except)
{
    struct flood f = {m, data, len, channel, except};

    gm_node_each_peer(m->node, send_to, &f);
}

struct news {
    gm_mesh_t *m;
    const gm_router_news_t *news;
    size_t len;
    bool refused; /* a full link: again on a later tick */
    bool missed;  /* a neighbour was not sent it, for whatever reason */
};

/* The update whole, or short to a neighbour that holds its announcement already. */
static void send_news(void *ctx, const uint8_t peer[GM_ID_LEN])
{
    struct news *n = ctx;
    const gm_router_news_t *news = n->news;
    int err;

    if (!gm_router_is_news(n->m->router, news, peer)) {
        return;
    }
    if (gm_router_holds(n->m->router, news, peer)) {
        err = send_ctl(n->m, peer, GM_CH_ROUTE, news->short_update, news->short_len);
        n->m->stats.routes_short += err == 0;
    } else {
        err = send_ctl(n->m, peer, GM_CH_ROUTE, n->m->frame, n->len);
    }
    n->refused |= err == GM_ELIMIT;
    n->missed |= err != 0;
}

/*
 * Route changes of this turn (accepted updates, a lost link, an expiry), to
 * every neighbour that does not have them already: whole to a neighbour that
 * may lack the announcement, short (its origin and number) to the others.
 */
static void flood_pending(gm_mesh_t *m)
{
    gm_router_news_t news;
    struct news n = {m, &news, 0, false, false};
    size_t cursor = 0;

    while (gm_router_take_news(m->router, &cursor, m->frame, GM_MESH_FRAME_MAX, &n.len, &news) ==
           0) {
        n.refused = n.missed = false;
        n.missed = !gm_node_each_peer(m->node, send_news, &n);
        if (n.refused) {
            defer_route(m, news.origin);
        } else if (!n.missed) {
            gm_router_told_all(m->router, &news); /* else the next update goes whole */
        }
        m->rescan = true;
    }
}

static void announce(gm_mesh_t *m)
{
    size_t len;
    int err = gm_router_make_announcement(m->router, gm_node_now_ms(m->node),
                                          gm_node_wall(m->node), m->frame, GM_MESH_FRAME_MAX,
                                          &len);

    if (err != 0) {
        gm_node_log(m->node, GM_LOG_ERROR, "mesh: cannot make an announcement: %s",
                    gm_strerror(err));
        return;
    }
    save_seq(m, gm_router_own_seq(m->router));
    flood(m, GM_CH_ROUTE, m->frame, len, NULL);
}

/* ---- lifecycle ---- */

int gm__mesh_route_init(gm_mesh_t *m, gm_why_t *why)
{
    gm_router_config_t rc;
    int err;

    gm_router_config_default(&rc);
    rc.announce_interval_ms = m->cfg->announce_interval_ms;
    rc.route_expiry_ms = m->cfg->route_expiry_ms;
    rc.max_nodes = m->cfg->directory_max;
    m->fwd = malloc(sizeof *m->fwd);
    if (m->fwd == NULL) {
        gm_why_set(why, "out of memory");
        return GM_ENOMEM;
    }
    err = gm_router_new(gm_node_keys(m->node), gm_node_cert(m->node), gm_node_trust(m->node),
                        &rc, &m->router);
    if (err != 0) {
        gm_why_set(why, "mesh: cannot start the router: %s", gm_strerror(err));
        return err;
    }
    gm_router_set_own_seq(m->router, load_seq(m));
    return 0;
}

void gm__mesh_route_free(gm_mesh_t *m)
{
    gm_router_free(m->router);
    free(m->fwd);
}

/* ---- routes ---- */

bool gm__mesh_next_hop(gm_mesh_t *m, const uint8_t dest[GM_ID_LEN], uint8_t hop[GM_ID_LEN])
{
    uint32_t metric;

    return gm_router_next_hop(m->router, dest, hop, &metric) == 0;
}

bool gm__mesh_in_group(gm_mesh_t *m, const uint8_t group[GM_ID_LEN])
{
    return m->app.in_group != NULL && m->app.in_group(m->app_ctx, group);
}

bool gm__mesh_source_revoked(gm_mesh_t *m, const uint8_t src[GM_ID_LEN])
{
    const gm_trust_t *t = gm_node_trust(m->node);
    gm_cert_body_t body;
    const gm_crl_t *crl;

    /* by node id in every list held: the router forgets a node once it is revoked */
    for (size_t i = 0; i < t->n_roots; i++) {
        for (size_t k = 0; t->crls[i].encoded != NULL && k < t->crls[i].body.n_node_ids; k++) {
            if (memcmp(t->crls[i].body.node_ids[k], src, GM_ID_LEN) == 0) {
                return true;
            }
        }
    }
    /* by serial, for a node still in the directory */
    if (gm_router_cert_body(m->router, src, &body) != 0) {
        return false;
    }
    crl = gm_trust_find_crl(t, body.org_id);
    return crl != NULL && gm_crl_revokes(crl, &body);
}

void gm__mesh_on_route(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN], const uint8_t *data,
                       size_t len)
{
    gm_router_verdict_t v = gm_router_on_update(m->router, peer, data, len,
                                                gm_node_now_ms(m->node), gm_node_wall(m->node),
                                                m->fwd);

    if (gm_router_verdict_is_drop(v)) {
        gm_node_log(m->node, GM_LOG_DEBUG, "mesh: route update dropped: %s",
                    gm_router_verdict_str(v));
        return;
    }
    if (m->fwd->len > 0) {
        /* Told on the next tick: the copies that come meanwhile (a flood reaches a node
         * over several paths) are judged first, so one update carries the best route
         * and neighbours that have it already are skipped. */
        gm_router_hold(m->router, m->fwd->origin);
        m->rescan = true; /* a route may have appeared for bundles waiting in custody */
    }
}

void gm__mesh_route_link_up(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN])
{
    size_t len;

    /* A link that replaced another to the same peer (it restarted and dialled again
     * before the old one was found dead): what it said before may be gone with its
     * state, so its routes go, and their retractions at the end of the turn. */
    if (gm_router_link_down(m->router, peer) > 0) {
        m->route_news = true;
    }
    if (gm_router_link_up(m->router, peer) != 0) {
        gm_node_log(m->node, GM_LOG_WARN, "mesh: too many neighbours for the router");
        return;
    }
    if (gm_router_encode_own(m->router, m->frame, GM_MESH_FRAME_MAX, &len) == 0) {
        send_ctl(m, peer, GM_CH_ROUTE, m->frame, len);
    } else {
        announce(m); /* the first link: the first announcement */
    }
    for (size_t i = 0; gm_router_encode_route(m->router, i, m->frame, GM_MESH_FRAME_MAX,
                                              &len) == 0;
         i++) {
        gm_route_info_t ri;

        if (send_ctl(m, peer, GM_CH_ROUTE, m->frame, len) == GM_ELIMIT &&
            gm_router_route_at(m->router, i, 0, &ri) == 0) {
            defer_route(m, ri.dest); /* the link's queue is full: on a later tick */
        }
    }
}

void gm__mesh_route_link_down(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN])
{
    if (gm_router_link_down(m->router, peer) > 0) {
        m->route_news = true; /* flooded at the end of the turn (gm__mesh_route_turn_end) */
    }
}

void gm__mesh_route_turn_end(gm_mesh_t *m)
{
    if (m->route_news) {
        m->route_news = false;
        flood_pending(m);
    }
}

void gm__mesh_route_tick(gm_mesh_t *m)
{
    uint64_t now = gm_node_now_ms(m->node);

    if (gm_router_announce_due(m->router, now)) {
        announce(m);
    }
    /* A pass reads every route of every node known: a tenth of the expiry time apart,
     * between 1 and 10 s (it also drops nodes whose certificate lapsed). */
    uint64_t every = m->cfg->route_expiry_ms / 10;

    every = every < 1000 ? 1000 : every > 10000 ? 10000 : every;
    if (now - m->t_route_tick >= every) {
        m->t_route_tick = now;
        (void)gm_router_tick(m->router, now, gm_node_wall(m->node));
    }
    flood_pending(m);
}

/* ---- revocation lists ---- */

int gm__mesh_crl_add(gm_mesh_t *m, const uint8_t *except, const uint8_t *data, size_t len,
                     gm_why_t *why)
{
    int err = gm_node_add_crl(m->node, data, len, why);

    if (err == 0) {
        gm__mesh_crl_applied(m);
        flood(m, GM_CH_CRL, data, len, except);
    }
    return err;
}

void gm__mesh_on_crl(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN], const uint8_t *data,
                     size_t len)
{
    gm_why_t why;
    int err = gm__mesh_crl_add(m, peer, data, len, &why);

    if (err != 0 && err != GM_EREPLAY) { /* a list already held: the flood stops here */
        gm_node_log(m->node, GM_LOG_INFO, "mesh: %s", why.msg);
    }
}

void gm__mesh_crl_applied(gm_mesh_t *m)
{
    (void)gm_router_recheck(m->router, gm_node_wall(m->node));
    flood_pending(m);
}

void gm__mesh_crls_to(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN])
{
    const gm_trust_t *t = gm_node_trust(m->node);

    for (size_t i = 0; i < t->n_roots; i++) {
        if (t->crls[i].encoded != NULL) {
            send_ctl(m, peer, GM_CH_CRL, t->crls[i].encoded, t->crls[i].encoded_len);
        }
    }
}

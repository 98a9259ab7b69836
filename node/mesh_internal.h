/* Private to the mesh layer: node/mesh.c, mesh_route.c, mesh_sync.c. */
#ifndef GM_MESH_INTERNAL_H
#define GM_MESH_INTERNAL_H

#include <uv.h>

#include "node/mesh.h"
#include "node/mesh_inflight.h"
#include "node/router.h"

#define GM_MESH_FRAME_MAX (300u * 1024u) /* the largest mesh message: a sync filter */

struct gm_pending_ack {
    uint8_t peer[GM_ID_LEN];
    uint8_t id[GM_ID_LEN];
    uint64_t gen; /* the store group that must be durable first */
};

#define GM_MESH_ORIGIN_SLOTS 256
#define GM_MESH_MAX_SYNCED 256
#define GM_MESH_MAX_WAITING (1u << 20) /* ids waiting for a link to drain */

struct gm_origin_slot {
    uint8_t id[GM_ID_LEN];
    double tokens;
    uint64_t t_ms; /* 0: free */
};

struct gm_pending_delivery {
    struct gm_pending_delivery *next;
    uint64_t gen;
    size_t len;
    uint8_t data[]; /* the encoded bundle */
};

struct gm_mesh {
    gm_node_t *node;
    const gm_node_config_t *cfg;
    gm_store_t *store;
    gm_router_t *router;
    gm_router_forward_t *fwd; /* large: one per mesh, not on the stack */
    gm_mesh_stats_t stats;
    gm_mesh_deliver_cb deliver_cb;
    void *deliver_ctx;
    gm_mesh_app_t app;
    void *app_ctx;
    gm_inflight_t inflight;
    struct gm_pending_ack *acks;
    size_t n_acks, cap_acks;
    struct gm_pending_delivery *deliveries, **deliveries_tail;
    struct gm_pending_ack *own; /* this node's new bundles: sent once their group is durable */
    size_t n_own, cap_own;
    uint8_t (*ack_ids)[GM_ID_LEN]; /* GM_ACK_MAX_IDS of them */
    uv_timer_t commit_timer;
    bool timer_open, dirty, rescan, blocked, route_news, rescan_later;
    uint8_t (*waiting)[GM_ID_LEN]; /* refused by a full link: offered again on drain */
    size_t n_waiting, cap_waiting;
    uint64_t t_commit, t_rescan, t_expire, t_route_tick;
    uint8_t *frame; /* GM_MESH_FRAME_MAX: one outgoing mesh message */
    struct gm_sync *syncs; /* anti-entropy walks in progress, one per neighbour */
    struct {
        uint8_t peer[GM_ID_LEN];
        uint64_t t_ms;
    } synced[GM_MESH_MAX_SYNCED]; /* when each neighbour's last filter was taken */
    size_t n_synced;
    uint64_t t_sync; /* the last periodic sync */
    struct gm_origin_slot origins[GM_MESH_ORIGIN_SLOTS];    /* custody rate per origin */
    struct gm_origin_slot neighbours[GM_MESH_ORIGIN_SLOTS]; /* and per neighbour */
};

bool gm__mesh_is_flood(const gm_bundle_t *b);
/* True unless b is at its hop limit. */
bool gm__mesh_can_go_on(const gm_bundle_t *b);
/*
 * Sends b to hop with one more hop taken: 0, UV_EAGAIN if the link's queue is
 * full (try again when it drains), GM_ESTATE for this node's own bundle whose
 * group is not durable yet (it leaves after the commit), or another error if
 * it can never go (its hop limit, no link).
 */
int gm__mesh_transmit(gm_mesh_t *m, const gm_bundle_t *b, const uint8_t hop[GM_ID_LEN]);
void gm__mesh_forward(gm_mesh_t *m, const gm_bundle_t *b, const uint8_t *except);

/* mesh_route.c: announcements, routes, revocation lists */
GM_MUST_CHECK int gm__mesh_route_init(gm_mesh_t *m, gm_why_t *why);
void gm__mesh_route_free(gm_mesh_t *m);
bool gm__mesh_next_hop(gm_mesh_t *m, const uint8_t dest[GM_ID_LEN], uint8_t hop[GM_ID_LEN]);
bool gm__mesh_in_group(gm_mesh_t *m, const uint8_t group[GM_ID_LEN]);
bool gm__mesh_source_revoked(gm_mesh_t *m, const uint8_t src[GM_ID_LEN]);
void gm__mesh_on_route(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN], const uint8_t *data,
                       size_t len);
void gm__mesh_on_crl(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN], const uint8_t *data,
                     size_t len);
/*
 * Applies a revocation list (gm_node_add_crl) and, if it is new, drops the
 * revoked nodes' routes and floods it to every neighbour but except (NULL:
 * all). Its result and *why are gm_node_add_crl's.
 */
GM_MUST_CHECK int gm__mesh_crl_add(gm_mesh_t *m, const uint8_t *except, const uint8_t *data,
                                   size_t len, gm_why_t *why);
/* A new list holds: routes and directory entries of revoked nodes go. */
void gm__mesh_crl_applied(gm_mesh_t *m);
void gm__mesh_crls_to(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN]);
void gm__mesh_route_link_up(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN]);
void gm__mesh_route_link_down(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN]);
/* Floods the route changes a lost link left (deferred out of the link_down hook). */
void gm__mesh_route_turn_end(gm_mesh_t *m);
void gm__mesh_route_tick(gm_mesh_t *m);

/* mesh_sync.c: anti-entropy */
void gm__mesh_sync_start(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN]);
void gm__mesh_on_sync(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN], const uint8_t *data,
                      size_t len);
void gm__mesh_sync_resume(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN]);
/* Every sync_interval_ms: a fresh filter to every neighbour. */
void gm__mesh_sync_tick(gm_mesh_t *m);
void gm__mesh_sync_forget(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN]);
void gm__mesh_sync_free(gm_mesh_t *m);

/* mesh_control.c: answers the control socket's GM_OP_MESH requests (gm_node_set_control_ext) */
void gm__mesh_control_register(gm_mesh_t *m);

#endif

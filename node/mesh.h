/*
 * The mesh layer over a node's links: bundles in custody (node/store.c),
 * routes from signed announcements (node/router.c), forwarding, custody
 * acknowledgements, anti-entropy when links come up, and revocation lists
 * flooded through the mesh.
 *
 * Custody. A bundle received from a neighbour is put in the store; the
 * neighbour gets a custody acknowledgement only once the group commit that
 * holds it is durable, and only then drops its own copy. A unicast bundle
 * handed to the next hop stays in the store until that hop acknowledges
 * custody; without an acknowledgement within custody_timeout_ms, or when the
 * link goes down, it is offered again (the next hop's duplicate suppression
 * makes that safe). Group, broadcast and emergency bundles are flooded to every
 * neighbour and held until their lifetime ends, so that links coming up later
 * get them through anti-entropy.
 *
 * Fairness. Bundles from one origin are taken into custody at most at
 * mesh.origin_rate per second (emergency bundles are exempt), and from one
 * neighbour at most at mesh.neighbour_rate (the source in a header is not
 * signed, the link is); the rest are not acknowledged, so they stay with the
 * previous hop and come again later.
 * With the store's per-origin quota, a node flooding the mesh slows itself
 * down and cannot crowd out anyone else's traffic.
 *
 * Delivery. A bundle for this node is marked delivered in the same group as
 * it leaves the store, and handed to the application only once that group is
 * durable: after a crash it is neither lost from the sender's point of view
 * (no ack was sent before the commit) nor delivered twice.
 */
#ifndef GM_MESH_H
#define GM_MESH_H

#include <sqlite3.h>

#include "node/node.h"
#include "node/router.h"
#include "node/store.h"

/* Link channels of the mesh layer (LinkMsg Data.channel). */
enum {
    GM_CH_ROUTE = 64,  /* RouteUpdate (announce.proto) */
    GM_CH_BUNDLE = 65, /* Bundle (bundle.proto) */
    GM_CH_ACK = 66,    /* CustodyAck (mesh.proto) */
    GM_CH_SYNC = 67,   /* SyncFilter (mesh.proto) */
    GM_CH_CRL = 68,    /* a signed revocation list (cert.proto Signed) */
};

typedef enum {
    GM_MDROP_MALFORMED,   /* did not decode */
    GM_MDROP_EXPIRED,     /* lifetime over on arrival, or in the store */
    GM_MDROP_FUTURE,      /* created beyond the clock skew */
    GM_MDROP_TOO_LARGE,
    GM_MDROP_QUOTA,       /* no room for its origin or in the store: not acknowledged */
    GM_MDROP_EVICTED,     /* made room for a more important bundle */
    GM_MDROP_HOP_LIMIT,   /* would exceed its hop limit */
    GM_MDROP_REVOKED,     /* its source is revoked */
    GM_MDROP_STORE_ERROR, /* the store failed: not acknowledged, the sender keeps it */
    GM_MDROP_RATE,        /* its origin sends faster than origin_rate: not acknowledged */
    GM_MDROP_COUNT
} gm_mesh_drop_t;

const char *gm_mesh_drop_name(gm_mesh_drop_t d);

typedef struct {
    uint64_t accepted;    /* bundles taken into custody from neighbours */
    uint64_t originated;  /* bundles this node created */
    uint64_t forwarded;   /* custody handed on (acknowledged by the next hop) */
    uint64_t sent;        /* bundle transmissions, retries and floods included */
    uint64_t delivered;   /* to this node's application */
    uint64_t duplicates;
    uint64_t expired_own; /* this node's bundles whose lifetime ended undelivered */
    uint64_t acks_sent, acks_received;
    uint64_t routes_deferred; /* route updates a full link refused: sent again on a later tick */
    uint64_t routes_short;    /* route updates sent short, to a neighbour holding the announcement */
    uint64_t sync_filters_sent, sync_bytes_sent, sync_pushed;
    uint64_t dropped[GM_MDROP_COUNT];
} gm_mesh_stats_t;

typedef struct gm_mesh gm_mesh_t;

/* A bundle for this node, once durably marked delivered. b->body is borrowed. */
typedef void (*gm_mesh_deliver_cb)(void *ctx, const gm_bundle_t *b);

/*
 * Opens NODE_DIR/store.db (see gm_store_new: a corrupt store is an error,
 * never recreated) and takes over the node's hooks. Call before
 * gm_node_start, free after the node stopped.
 */
GM_MUST_CHECK int gm_mesh_new(gm_node_t *node, gm_mesh_t **out, gm_why_t *why);

/* Commits what is pending and closes the store. NULL is a no-op. */
void gm_mesh_free(gm_mesh_t *m);

void gm_mesh_set_deliver_cb(gm_mesh_t *m, gm_mesh_deliver_cb cb, void *ctx);

typedef enum {
    GM_MESH_OWN_RELAYED, /* a next hop took custody (unicast), or a flood went to a neighbour */
    GM_MESH_OWN_EXPIRED, /* its lifetime ended in this node's store */
} gm_mesh_own_event_t;

/*
 * The application on top of the mesh (node/messenger.c). Every hook may be NULL.
 *  receive    a bundle for this node, before it is marked delivered: whatever
 *             the hook writes to gm_mesh_db() joins the same store group, so
 *             it becomes durable together with the delivery, or not at all.
 *             Called once per bundle id; b->body is borrowed. Non-zero: the
 *             group was aborted (gm_mesh_abort), the bundle is not delivered.
 *  in_group   whether this node is a member of group (its bundles are delivered)
 *  own_event  news of a bundle this node made (may repeat for floods)
 *  turn_end   after the node read what arrived in a loop turn it was woken in
 *             (gm_node_wake), before the mesh decides whether to commit; true:
 *             work is left for the next turn
 *  tick       every node tick
 *  counters   the application's counters, listed by `status` after the mesh's
 */
typedef struct {
    int (*receive)(void *ctx, const gm_bundle_t *b);
    bool (*in_group)(void *ctx, const uint8_t group[GM_ID_LEN]);
    void (*own_event)(void *ctx, const uint8_t id[GM_ID_LEN], gm_mesh_own_event_t ev);
    bool (*turn_end)(void *ctx);
    void (*tick)(void *ctx);
    /* its counters for `status`: fn(fn_ctx, name, value) for each */
    void (*counters)(void *ctx, void (*fn)(void *fn_ctx, const char *name, uint64_t value),
                     void *fn_ctx);
} gm_mesh_app_t;

/* app is copied; NULL clears. */
void gm_mesh_set_app(gm_mesh_t *m, const gm_mesh_app_t *app, void *ctx);

/* The store's database, for the application's tables (they share its group commits). */
sqlite3 *gm_mesh_db(gm_mesh_t *m);

/*
 * Opens a store group (unless one is open) for the application's writes and
 * schedules its commit; gen (may be NULL) gets its number. GM_EIO.
 */
GM_MUST_CHECK int gm_mesh_begin(gm_mesh_t *m, uint64_t *gen);

/* Rolls the open group back: the application's writes, puts and deliveries in it. */
void gm_mesh_abort(gm_mesh_t *m);

/* Commits the open store group now (durable on return 0). GM_EIO: the group is lost. */
GM_MUST_CHECK int gm_mesh_commit(gm_mesh_t *m);

/* The store's message for its last GM_EIO (a failed commit, say), for the log. Never NULL. */
const char *gm_mesh_store_errmsg(const gm_mesh_t *m);

/*
 * Hands the application the held bundles to group it was never given (they
 * came before it joined the group: gm_mesh_app_t.in_group said no then).
 * Call it outside the mesh's hooks' receive (at turn end, say). GM_EIO, GM_ENOMEM.
 */
GM_MUST_CHECK int gm_mesh_deliver_held(gm_mesh_t *m, const uint8_t group[GM_ID_LEN]);

/* The directory of verified announcements (certificates and prekeys). */
const gm_router_t *gm_mesh_router(const gm_mesh_t *m);

/* The prekey bytes of this node's next announcements. GM_ELIMIT over 1 KiB. */
GM_MUST_CHECK int gm_mesh_set_prekeys(gm_mesh_t *m, const uint8_t *prekeys, size_t len);

/*
 * Creates a bundle from this node and takes it into custody; it leaves when a
 * route allows. lifetime 0 and hop_limit 0 take the configured defaults.
 * id_out (may be NULL) gets its id. Errors: those of gm_store_put.
 */
GM_MUST_CHECK int gm_mesh_send(gm_mesh_t *m, const gm_dest_t *dst, gm_prio_t prio,
                               uint32_t lifetime, uint8_t hop_limit, const uint8_t *body,
                               size_t len, uint8_t id_out[GM_ID_LEN]);

void gm_mesh_stats(const gm_mesh_t *m, gm_mesh_stats_t *out);
void gm_mesh_store_stats(const gm_mesh_t *m, gm_store_stats_t *out);

/* The last store group committed: what a group with a number up to this holds is durable. */
uint64_t gm_mesh_durable_gen(const gm_mesh_t *m);

#endif

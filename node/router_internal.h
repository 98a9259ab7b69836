/* Shared between node/router.c (announcements, directory) and node/router_table.c (routes). */
#ifndef GM_ROUTER_INTERNAL_H
#define GM_ROUTER_INTERNAL_H

#include "node/router.h"

/* The last (seq, metric) heard from one neighbour about one destination. */
typedef struct {
    uint8_t via[GM_ID_LEN];
    uint64_t seq;
    uint32_t adv; /* the metric the neighbour advertised, below the infinity */
    uint64_t heard_ms;
} gm__route_t;

/*
 * A directory entry and its routing state. Sized to what it holds (a
 * thousand-node mesh keeps a thousand of these in every node): the
 * announcement's bytes in one allocation, the routes in another that grows
 * with the neighbours that offer one.
 */
typedef struct {
    gm_cert_body_t body;       /* the verified certificate's body */
    uint8_t signer[GM_ID_LEN]; /* and its issuer */
    uint8_t *blob;             /* malloc'd: signed_ann, then cert, then prekeys */
    const uint8_t *signed_ann; /* the verified SignedAnnouncement, forwarded as is */
    size_t signed_len;
    const uint8_t *cert; /* the certificate's encoding, as verified */
    size_t cert_len;
    const uint8_t *prekeys;
    size_t prekeys_len;
    uint64_t seq, time, heard_ms;

    long sel; /* index of the selected route, -1 if unreachable */
    bool has_fd;
    uint64_t fd_seq; /* feasibility distance: the best (seq, metric) ever selected */
    uint32_t fd_metric;
    uint64_t adv_seq; /* what this node last advertised for it */
    uint32_t adv_metric;
    bool pending; /* the advertised route changed and no update went out yet */
    uint64_t told_seq; /* the newest number any neighbour was sent an update for */
    uint64_t all_hold_seq; /* every neighbour holds this number's announcement (0: unknown) */
    bool whole_next;       /* a link refused an update for it: the next goes whole to all */
    uint64_t sig_key;  /* the announcement's signature's first 8 bytes: its key in sig_index */
    void *sig_next;    /* the next entry with the same key bucket */
    size_t n_routes, cap_routes;
    gm__route_t *routes; /* malloc'd: one per neighbour that offered a route */
} gm__dest_t;

struct gm_router {
    const gm_node_keys_t *keys;
    const gm_trust_t *trust;
    gm_router_config_t cfg;
    gm_cert_t own;

    uint64_t own_seq;
    bool announced, changed;
    size_t n_pending; /* entries with pending set: most ticks have none to look for */
    /* the earliest a tick can find work: a route heard then plus route_expiry_ms, a
     * certificate's not_after plus the skew; 0 until the first pass (gm_router_tick) */
    uint64_t expire_due_ms, lapse_due_s;
    uint64_t last_announce_ms;
    uint8_t prekeys[GM_ANNOUNCE_PREKEYS_MAX];
    size_t prekeys_len;
    uint8_t own_signed[GM_ANNOUNCE_SIGNED_MAX]; /* the last announcement made */
    size_t own_signed_len;

    uint8_t (*neighbours)[GM_ID_LEN]; /* malloc'd, max_neighbours */
    size_t n_neighbours;
    gm__dest_t **dests; /* malloc'd, max_nodes, in node id order */
    /* entries by their announcement's signature: a copy of a known announcement (most
     * updates in a flood) is found without decoding its certificate */
    gm__dest_t **sig_index;
    size_t sig_mask;
    size_t n_dests;
    gm_router_stats_t stats;

    struct { /* decoding space for gm_router_on_update and the encoders, off the stack */
        gm_route_update_t u;
        gm_announce_signed_t s;
        gm_announce_t a;
        gm_cert_t cert;
    } scratch;
};

/*
 * Records what neighbour advertised for d (seq, metric as received) and
 * reselects. Returns true if the route this node advertises for d changed.
 * Without memory for a new neighbour's entry the update is not recorded
 * (counted in stats.no_memory); the neighbour's next one may be.
 */
bool gm__router_heard(gm_router_t *r, gm__dest_t *d, const uint8_t via[GM_ID_LEN], uint64_t seq,
                      uint32_t metric, uint64_t now_ms);

/* The metric this node advertises for d: its route's if current, else the infinity. */
uint32_t gm__router_adv_metric(const gm_router_t *r, const gm__dest_t *d);

/* Sets or clears d->pending, keeping r->n_pending. */
static inline void gm__router_set_pending(gm_router_t *r, gm__dest_t *d, bool on)
{
    if (d->pending != on) {
        d->pending = on;
        r->n_pending = on ? r->n_pending + 1 : r->n_pending - 1;
    }
}

/* Drops d's routes not refreshed within the expiry; true if its advertised route changed. */
bool gm__router_expire(gm_router_t *r, gm__dest_t *d, uint64_t now_ms);
/* Lowers what gm_router_tick waits for to one route heard at heard_ms. */
void gm__router_expire_due(gm_router_t *r, uint64_t heard_ms);

/* True if a link to id is up. */
bool gm__router_is_neighbour(const gm_router_t *r, const uint8_t id[GM_ID_LEN]);

/* Index of the directory entry for id, or -1. */
long gm__router_find(const gm_router_t *r, const uint8_t id[GM_ID_LEN]);

/* Encodes signed announcement bytes with metric as a RouteUpdate. GM_ELIMIT if cap is too small. */
int gm__router_encode(const uint8_t *signed_ann, size_t signed_len, uint32_t metric, uint8_t *out,
                      size_t cap, size_t *out_len);

#endif

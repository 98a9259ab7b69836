/*
 * Announcements and routes (DESIGN.md "Mesh layer", CRYPTO.md section 7).
 *
 * Every node floods a signed announcement: its certificate, a sequence
 * number, its wall time and an opaque prekey field, signed by the node's
 * sign key over "guardmesh/announce/1\0" || body. It travels inside a
 * RouteUpdate whose unsigned metric each relay sets to its own distance to
 * the origin. A router checks each update before it uses or forwards it,
 * keeps a directory (node id -> latest verified announcement) and a
 * distance-vector table kept loop-free by Babel's feasibility condition
 * (RFC 8966 section 3.5).
 *
 * Pure: no libuv, no sockets, no clock. Time comes in as arguments: now_ms
 * from a monotonic clock (route ages, expiry, announcement interval) and
 * wall_s in seconds since the epoch (certificate validity, announcement
 * times). Updates go out as encoded RouteUpdate bytes that the caller sends.
 *
 * Sequence numbers are plain uint64: strictly increasing per origin and
 * compared with <, never wrapping (at one announcement per microsecond
 * 2^64 lasts half a million years).
 */
#ifndef GM_ROUTER_H
#define GM_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cert.h"
#include "crypto/common.h"
#include "crypto/keys.h"
#include "proto/wire_announce.h"

#define GM_ROUTER_CTX "guardmesh/announce/1" /* signed with its terminating zero */
#define GM_ROUTER_METRIC_MAX 0xFFFFu         /* largest allowed infinity */

typedef struct {
    uint32_t announce_interval_ms; /* periodic re-announcement */
    uint32_t route_expiry_ms;      /* a route entry not refreshed for this long is dropped */
    uint32_t infinity;             /* the metric meaning "no route", 2 .. GM_ROUTER_METRIC_MAX */
    size_t max_nodes;              /* directory entries, this node not included */
    size_t max_neighbours;         /* links up at once */
} gm_router_config_t;

/* 60 s interval, 210 s expiry (3.5 intervals, as Babel), infinity 0xFFFF, 1024 nodes, 64 links. */
void gm_router_config_default(gm_router_config_t *cfg);

typedef enum {
    GM_ROUTER_ACCEPTED_NEW = 0,    /* a newer announcement: forward it */
    GM_ROUTER_ACCEPTED_ROUTE_ONLY, /* same announcement, our route changed: forward */
    GM_ROUTER_DUPLICATE,           /* nothing this node advertises changed: do not forward */
    GM_ROUTER_MALFORMED,           /* update, announcement, body or certificate undecodable */
    GM_ROUTER_BAD_SIGNATURE,       /* the signature is not the certificate's key's */
    GM_ROUTER_UNTRUSTED,           /* certificate: unknown issuer, bad signature, org, role */
    GM_ROUTER_REVOKED,             /* certificate revoked by a list in the trust store */
    GM_ROUTER_EXPIRED,             /* certificate outside its validity window (with skew) */
    GM_ROUTER_OLD_SEQ,             /* older than the directory's announcement: a replay */
    GM_ROUTER_ID_MISMATCH,         /* the neighbour signed for another node's certificate, or
                                      a claim to this node's id that is not its own */
    GM_ROUTER_FROM_FUTURE,         /* time beyond wall_s + GM_CERT_SKEW_SECONDS */
    GM_ROUTER_DIRECTORY_FULL,      /* a new node while max_nodes are known, all reachable
                                       (an unreachable one makes room) */
    GM_ROUTER_NO_LINK,             /* from a neighbour that is not up (gm_router_link_up) */
    GM_ROUTER_NOT_HELD,            /* a short update for an announcement not in the directory */
    GM_ROUTER_VERDICT_COUNT
} gm_router_verdict_t;

/* A short phrase, e.g. "old sequence number". Never NULL. */
const char *gm_router_verdict_str(gm_router_verdict_t v);

/* True for the verdicts from GM_ROUTER_MALFORMED on: the update was dropped. */
bool gm_router_verdict_is_drop(gm_router_verdict_t v);

/* What gm_router_on_update found, and what to send on. */
typedef struct {
    uint8_t origin[GM_ID_LEN];      /* the announcement's node once its certificate checked */
    uint64_t seq;                   /* its sequence number, from the same point */
    gm_cert_verdict_t cert_verdict; /* the certificate's verdict: why UNTRUSTED/REVOKED/EXPIRED */
    size_t len;                     /* > 0: a RouteUpdate for every other neighbour */
    uint8_t update[GM_ROUTE_UPDATE_MAX];
} gm_router_forward_t;

typedef struct {
    uint64_t verdicts[GM_ROUTER_VERDICT_COUNT]; /* updates received, by verdict */
    uint64_t announcements;                     /* made by this node */
    uint64_t routes_expired;                    /* (destination, neighbour) entries */
    uint64_t routes_lost;                       /* entries dropped by gm_router_link_down */
    uint64_t infeasible;                        /* updates kept but not selectable (FD) */
    uint64_t nodes_dropped;                     /* directory entries whose cert lapsed */
    uint64_t no_memory;                         /* updates not recorded for want of memory */
} gm_router_stats_t;

/* A directory entry; prekeys are borrowed until the next call that changes the router. */
typedef struct {
    gm_cert_t cert;
    const uint8_t *prekeys;
    size_t prekeys_len;
    uint64_t seq, time;
    uint64_t heard_ms; /* when a valid update for it last arrived */
} gm_router_node_t;

/* One line of `guardmesh routes`. */
typedef struct {
    uint8_t dest[GM_ID_LEN];
    const char *callsign; /* borrowed like gm_router_node_t */
    bool reachable;
    uint8_t next_hop[GM_ID_LEN]; /* zero when unreachable */
    uint32_t metric;             /* the infinity when unreachable */
    uint64_t seq;                /* of the selected route, else of the directory's announcement */
    uint64_t age_ms;             /* since the selected route was refreshed, else since heard */
} gm_route_info_t;

typedef struct gm_router gm_router_t;

/*
 * A router for the node with keys and certificate own, judging certificates
 * against trust. keys and trust are borrowed and must outlive the router (the
 * caller may add lists to trust; see gm_router_recheck); own is copied.
 * Errors: GM_EPROTO (a configuration value out of range), GM_EAUTH (own is not
 * for keys), GM_ENOMEM. Release with gm_router_free.
 */
GM_MUST_CHECK int gm_router_new(const gm_node_keys_t *keys, const gm_cert_t *own,
                                const gm_trust_t *trust, const gm_router_config_t *cfg,
                                gm_router_t **out);
void gm_router_free(gm_router_t *r);

/* ---- this node's announcements ---- */

/*
 * The last sequence number used, for the caller to persist; and restoring it
 * at start, which only ever raises it (a restart never reuses a number).
 */
uint64_t gm_router_own_seq(const gm_router_t *r);
void gm_router_set_own_seq(gm_router_t *r, uint64_t seq);

/* Opaque bytes for the next announcements (the end-to-end layer's). GM_ELIMIT over 1 KiB. */
GM_MUST_CHECK int gm_router_set_prekeys(gm_router_t *r, const uint8_t *prekeys, size_t len);

/*
 * True when an announcement is due: none made yet, the prekeys changed, an
 * echo showed a higher number of ours, or announce_interval_ms passed.
 */
bool gm_router_announce_due(const gm_router_t *r, uint64_t now_ms);

/*
 * Signs a new announcement and writes it to out as a RouteUpdate with metric
 * 0, for every neighbour. Its seq is max(own seq + 1, wall_s * 1000): strictly
 * increasing, and ahead of numbers used before a lost state if the clock is
 * right. Errors: GM_ELIMIT (cap below GM_ROUTE_UPDATE_MAX, or the sequence
 * exhausted), GM_EPROTO (own certificate does not fit), GM_EAUTH (signing).
 * Nothing changes on error.
 */
GM_MUST_CHECK int gm_router_make_announcement(gm_router_t *r, uint64_t now_ms, uint64_t wall_s,
                                              uint8_t *out, size_t cap, size_t *out_len);

/* The last announcement made (for a link that comes up). GM_ENOENT if none, GM_ELIMIT. */
GM_MUST_CHECK int gm_router_encode_own(const gm_router_t *r, uint8_t *out, size_t cap,
                                       size_t *out_len);

/* ---- updates from neighbours ---- */

/*
 * Judges one RouteUpdate from neighbour (the node id its link authenticated).
 * Checks, in order: link up; the update, announcement and body decode; the
 * certificate (gm_trust_check_encoded, every role); the announcement's
 * signature with the certificate's sign key (if that fails and the
 * neighbour's own key verifies, the neighbour claimed another node's id);
 * this node's own id; time not beyond the skew; sequence number not older
 * than the directory's; room for a new node. Bytes identical to the
 * directory's verified announcement, or a certificate identical to its
 * verified one, skip the Ed25519 checks but not the issuer, revocation and
 * validity checks.
 *
 * Accepted updates refresh the directory and the route via neighbour; fwd->len
 * > 0 then holds the RouteUpdate to send to every other neighbour (the same
 * announcement with this node's metric). Every call counts its verdict in the
 * stats. fwd is always written (len 0 on drops); it may be large: keep it off
 * small stacks.
 */
gm_router_verdict_t gm_router_on_update(gm_router_t *r, const uint8_t neighbour[GM_ID_LEN],
                                        const uint8_t *buf, size_t len, uint64_t now_ms,
                                        uint64_t wall_s, gm_router_forward_t *fwd);

/* ---- links and time ---- */

/*
 * Marks a link up; updates from it are taken from now on. The caller then
 * sends it gm_router_encode_own and every gm_router_encode_route. Idempotent.
 * GM_ELIMIT when max_neighbours are up, GM_EPROTO for this node's own id.
 */
GM_MUST_CHECK int gm_router_link_up(gm_router_t *r, const uint8_t neighbour[GM_ID_LEN]);

/*
 * A lost link: every route entry via neighbour goes at once and each
 * destination reselects among its remaining feasible entries, or becomes
 * unreachable (no count-to-infinity: an infeasible entry is never used; the
 * origin's next announcement, with a newer number, is feasible again).
 * Returns the destinations whose advertised route changed: fetch their
 * updates with gm_router_take_pending.
 */
size_t gm_router_link_down(gm_router_t *r, const uint8_t neighbour[GM_ID_LEN]);

/*
 * Drops route entries not refreshed within route_expiry_ms and directory
 * entries whose certificate expired (beyond the skew). Returns the
 * destinations whose advertised route changed (gm_router_take_pending).
 */
size_t gm_router_tick(gm_router_t *r, uint64_t now_ms, uint64_t wall_s);

/*
 * Judges every directory certificate again (after the trust store changed,
 * e.g. a new revocation list) and drops those that fail. Returns how many.
 */
size_t gm_router_recheck(gm_router_t *r, uint64_t wall_s);

/*
 * One RouteUpdate a route change left to send to every neighbour (a higher
 * metric, or the infinity: "no route through me any more"). GM_ENOENT when
 * none is left, GM_ELIMIT if cap is too small.
 */
GM_MUST_CHECK int gm_router_take_pending(gm_router_t *r, uint8_t *out, size_t cap, size_t *out_len);

/* ---- queries ---- */

/* The next hop towards dest and the route's metric. GM_ENOENT if unreachable or unknown. */
GM_MUST_CHECK int gm_router_next_hop(const gm_router_t *r, const uint8_t dest[GM_ID_LEN],
                                     uint8_t hop[GM_ID_LEN], uint32_t *metric);

/* The directory entry for id (certificate and prekeys for the end-to-end layer). GM_ENOENT. */
GM_MUST_CHECK int gm_router_lookup(const gm_router_t *r, const uint8_t id[GM_ID_LEN],
                                   gm_router_node_t *out);

/*
 * The body of id's certificate, as verified, without decoding it again (the
 * hot paths: a revocation check per bundle, a name per inbox row). GM_ENOENT.
 */
GM_MUST_CHECK int gm_router_cert_body(const gm_router_t *r, const uint8_t id[GM_ID_LEN],
                                      gm_cert_body_t *out);

/* Directory entries, for `status`. */
size_t gm_router_node_count(const gm_router_t *r);

/* Entry i (0 .. count - 1, in no particular order) as a route line. GM_ENOENT past the end. */
GM_MUST_CHECK int gm_router_route_at(const gm_router_t *r, size_t i, uint64_t now_ms,
                                     gm_route_info_t *out);

/*
 * Entry i's announcement as a RouteUpdate with this node's metric (the
 * infinity if unreachable), for a neighbour whose link just came up.
 * GM_ENOENT past the end, GM_ELIMIT if cap is too small.
 */
GM_MUST_CHECK int gm_router_encode_route(gm_router_t *r, size_t i, uint8_t *out, size_t cap,
                                         size_t *out_len);

/* ---- telling neighbours once per loop turn ---- */

/*
 * Instead of sending an accepted update's fwd->update at once, the caller may
 * hold origin's route for the end of the loop turn (fresh: the update was
 * ACCEPTED_NEW) and then take it with gm_router_take_news: by then the turn's
 * other copies of the same announcement have been judged, so neighbours that
 * already have it need not be sent it (gm_router_is_news).
 */
void gm_router_hold(gm_router_t *r, const uint8_t origin[GM_ID_LEN]);

/*
 * As gm_router_hold, for an update a link refused: that neighbour may lack the
 * announcement (a link replaced without its routes being dropped could still
 * say otherwise), so the next update for it goes whole to every neighbour.
 */
void gm_router_hold_whole(gm_router_t *r, const uint8_t origin[GM_ID_LEN]);

typedef struct {
    uint8_t origin[GM_ID_LEN];
    uint64_t seq;
    uint32_t metric; /* as advertised in the update; the infinity: a retraction */
    bool first;      /* no update for seq went to any neighbour before this one */
    bool all_hold;   /* every neighbour holds announcement seq (gm_router_told_all) */
    bool whole;      /* after gm_router_hold_whole: no neighbour is taken to hold it */
    uint8_t short_update[GM_ROUTE_SHORT_MAX]; /* the same update, naming the announcement */
    size_t short_len;
} gm_router_news_t;

/*
 * As gm_router_take_pending, resuming from *cursor (0 to begin; a turn's
 * pending updates cost one pass over the directory), and saying what the
 * update carries.
 */
GM_MUST_CHECK int gm_router_take_news(gm_router_t *r, size_t *cursor, uint8_t *out, size_t cap,
                                      size_t *out_len, gm_router_news_t *news);

/*
 * Whether neighbour needs news. Only the first update for a number can be
 * withheld (no neighbour routes through this node for a number it was never
 * told): from a neighbour that advertised the same number with a metric no
 * worse, for which this route cannot be feasible (Babel's condition). Every
 * other update, retractions included, is news.
 */
bool gm_router_is_news(const gm_router_t *r, const gm_router_news_t *news,
                       const uint8_t neighbour[GM_ID_LEN]);

/*
 * Whether neighbour holds the announcement of news, so that news->short_update
 * can stand for the whole one: every neighbour does once news went to all of
 * them (gm_router_told_all), and a neighbour that sent an update for that
 * number does (its updates on this link are in its routes here). Never after
 * gm_router_hold_whole, nor for a peer that is not a neighbour here
 * (gm_router_link_up). It cannot know that a neighbour dropped the entry since
 * (its directory full): that neighbour counts the short updates as not held
 * and has its route back with the origin's next announcement.
 */
bool gm_router_holds(const gm_router_t *r, const gm_router_news_t *news,
                     const uint8_t neighbour[GM_ID_LEN]);

/*
 * news reached every neighbour (whole, short, or withheld from one that had
 * it): from now on they all hold the announcement, and so does every neighbour
 * whose link comes up (gm_router_encode_route sends it whole), until
 * gm_router_hold_whole.
 */
void gm_router_told_all(gm_router_t *r, const gm_router_news_t *news);

void gm_router_stats(const gm_router_t *r, gm_router_stats_t *out);

#endif

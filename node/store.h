/*
 * The custody store: the bundles a node holds, the bundle ids it has seen,
 * and the quotas that keep one origin from filling it. One SQLite file in the
 * node directory (NODE_DIR/store.db, mode 0600, WAL, synchronous=FULL).
 *
 * Group commit. Every change goes into one open transaction; nothing is
 * durable until gm_store_commit(), which costs one fsync for the whole group.
 * The node acknowledges custody of a bundle to the previous hop only after
 * the commit that made its put durable (or after its own next hop has
 * acknowledged custody). A crash, a failed call (GM_EIO) or gm_store_free()
 * loses every change since the last commit, as if it never happened.
 *
 * Generations. Each group has a number: gm_store_put() says which group
 * holds the put, and gm_store_durable_gen() is the last group committed.
 * Custody of a bundle may be acknowledged once durable_gen >= its put's gen.
 * When a call returns GM_EIO the open group is lost: forget the acks that
 * were waiting for it (the previous hops still hold those bundles).
 *
 * Quotas and eviction, in bytes of encoded bundles. A put that does not fit
 * makes room by evicting held bundles, all or nothing (a put that is refused
 * evicts nothing):
 *  1. Per origin: when the source's bytes plus the new bundle exceed
 *     max_per_origin, only that source's bundles of strictly lower priority
 *     than the new one are evicted, lowest priority first, then oldest
 *     (earliest stored here) first. If that is not enough: GM_STORE_EQUOTA.
 *  2. Total: while the store's bytes plus the new bundle exceed max_total,
 *     origins are taken in decreasing order of bytes held (ties: lower node
 *     id first); the first whose lowest-priority, oldest bundle x may go is
 *     evicted from, and the order is computed again. x may go when
 *      - x has strictly lower priority than the new bundle, or
 *      - x has the same priority, comes from another origin, and that origin
 *        holds more bytes than the new bundle's origin would after the put
 *        (a fair share: it cannot swing back and forth);
 *     and in both cases x is not an emergency bundle while any non-emergency
 *     bundle remains in the store. So a non-emergency put never evicts an
 *     emergency bundle nor a higher-priority one; an emergency put evicts
 *     non-emergency bundles first, and another origin's emergency bundles
 *     only when nothing else is left. No such x: GM_STORE_EQUOTA.
 * An evicted bundle's id is forgotten with it, so it is accepted again if
 * offered later.
 *
 * Duplicates and delivery. Each accepted id is remembered until created +
 * lifetime + GM_STORE_SKEW_SECONDS, held or not; a put of a remembered id is
 * refused. An id marked delivered stays remembered the same way, so a bundle
 * is never handed to the application twice, across restarts too.
 *
 * Single-threaded: one store per node, used from the node's loop. Callbacks
 * must not call back into the store. Pointers passed to a callback are
 * borrowed until it returns.
 */
#ifndef GM_STORE_H
#define GM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "crypto/cert.h"
#include "crypto/common.h"
#include "node/identity.h"
#include "proto/wire_bundle.h"

#define GM_FILE_STORE "store.db"
#define GM_STORE_SKEW_SECONDS GM_CERT_SKEW_SECONDS
#define GM_STORE_SCHEMA_VERSION 2

/*
 * Refusals of gm_store_put(), beside the GM_E* codes. Negative, outside the
 * GM_E* and errno ranges; gm_store_strerror() names them and every other code.
 */
enum {
    GM_STORE_EDUPLICATE = -1100, /* id already seen (held, passed on or delivered) */
    GM_STORE_EEXPIRED = -1101,   /* created + lifetime is not after now */
    GM_STORE_EFUTURE = -1102,    /* created more than the skew after now */
    GM_STORE_EQUOTA = -1103,     /* no room, even after the evictions allowed */
    GM_STORE_ETOOBIG = -1104,    /* encoded bundle larger than max_bundle */
};

typedef struct {
    uint64_t max_total;      /* bytes of encoded bundles held */
    uint64_t max_per_origin; /* of those, bytes from one source node */
    uint64_t max_per_link;   /* of those, bytes one neighbour handed over (0: no limit) */
    size_t max_bundle;       /* one encoded bundle */
} gm_store_limits_t;

/* 64 MiB total, 16 MiB per origin, 64 KiB per bundle. */
void gm_store_limits_default(gm_store_limits_t *lim);

typedef struct gm_store gm_store_t;

typedef enum {
    GM_STORE_UNSEEN,    /* not remembered (never seen, evicted, or forgotten after expiry) */
    GM_STORE_HELD,      /* held now */
    GM_STORE_SEEN,      /* no longer held: handed on, removed or expired */
    GM_STORE_DELIVERED, /* delivered to the application here */
} gm_store_state_t;

typedef enum { GM_STORE_DROP_EXPIRED, GM_STORE_DROP_EVICTED } gm_store_drop_t;

/* Counters since gm_store_new(), except bundles and bytes (held now, uncommitted included). */
typedef struct {
    uint64_t bundles, bytes;
    uint64_t puts, duplicates, evicted, expired, removed, delivered, commits, readmitted;
    uint64_t refused_too_large, refused_expired, refused_future, refused_quota;
} gm_store_stats_t;

/*
 * Opens the store at path, creating it when absent (mode 0600; it appears
 * whole or not at all). A file that is not a Guardmesh store, has another
 * schema version, fails PRAGMA quick_check, or cannot be read or locked is
 * an error, *why says which, and the file is left as it was: never
 * recreated. Limits are checked (0 < max_bundle <= max_per_origin <=
 * max_total): GM_EPROTO. Other errors: GM_EIO, GM_ENOMEM, negative errno.
 * Release with gm_store_free().
 */
GM_MUST_CHECK int gm_store_new(const char *path, const gm_store_limits_t *lim, gm_store_t **out,
                               gm_why_t *why);

/*
 * The same store in this process's memory (SQLite's memdb), for the
 * simulator: name is any path-like text without '?', '#' or '%'. It is
 * created empty when no connection holds name, and dropped when the last one
 * closes: gm_store_memory_hold keeps one open so that the store outlives a
 * simulated crash (gm_store_free) and the node's restart finds it.
 */
GM_MUST_CHECK int gm_store_new_memory(const char *name, const gm_store_limits_t *lim,
                                      gm_store_t **out, gm_why_t *why);
/* Holds name's memory store until gm_store_memory_release(*hold). */
GM_MUST_CHECK int gm_store_memory_hold(const char *name, void **hold);
void gm_store_memory_release(void *hold);

/* Closes the store, rolling back what was not committed. NULL is a no-op. */
void gm_store_free(gm_store_t *s);

/*
 * Called for every bundle the store drops by itself: evicted by a put,
 * expired by gm_store_expire(). hdr is the header (hdr->body is NULL); the
 * drop, like every change, is durable only with the next commit.
 */
typedef void (*gm_store_drop_cb)(void *ctx, const gm_bundle_t *hdr, gm_store_drop_t why);
void gm_store_set_on_drop(gm_store_t *s, gm_store_drop_cb cb, void *ctx);

/*
 * Takes custody of a bundle: b is the decoded header of data[0..len), which
 * is stored as is. now is the node's clock (seconds). Goes into the open
 * group; *gen gets the group's number. Returns 0, or GM_STORE_ETOOBIG,
 * GM_STORE_EFUTURE, GM_STORE_EEXPIRED, GM_STORE_EDUPLICATE (then *gen is
 * still written: custody may be acknowledged again once that generation is
 * durable), GM_STORE_EQUOTA, GM_EIO, GM_ENOMEM.
 */
GM_MUST_CHECK int gm_store_put(gm_store_t *s, const gm_bundle_t *b, const uint8_t *data, size_t len,
                               uint64_t now, uint64_t *gen);

/*
 * As gm_store_put, except that an id seen here but no longer held (handed on
 * earlier, not delivered here) is taken into custody again: a bundle that
 * comes back (a route changed under it) must not be acknowledged and dropped,
 * or no node would hold it. Counted in readmitted.
 */
GM_MUST_CHECK int gm_store_readmit(gm_store_t *s, const gm_bundle_t *b, const uint8_t *data,
                                   size_t len, uint64_t now, uint64_t *gen);

/*
 * gm_store_put and gm_store_readmit for a bundle that neighbour via handed
 * over: on top of the other rules, the bytes held that came from via stay
 * within max_per_link, or the put is refused (GM_STORE_EQUOTA, nothing is
 * evicted for it): one neighbour cannot fill this node's store, whatever
 * sources its bundles claim (headers are not signed).
 */
GM_MUST_CHECK int gm_store_put_from(gm_store_t *s, const uint8_t via[GM_ID_LEN],
                                    const gm_bundle_t *b, const uint8_t *data, size_t len,
                                    uint64_t now, uint64_t *gen, bool readmit);

/*
 * Commits the open group with one fsync. Returns how many puts it made
 * durable (0 when nothing was open), or GM_EIO: the group is lost.
 */
GM_MUST_CHECK int gm_store_commit(gm_store_t *s);

/* The generation of the last successful commit (0 before the first one). */
uint64_t gm_store_durable_gen(const gm_store_t *s);

/*
 * Opens a group unless one is open, and says which (gen may be NULL): the
 * application's own writes to gm_store_db() then share it. GM_EIO.
 */
GM_MUST_CHECK int gm_store_begin(gm_store_t *s, uint64_t *gen);

/* Rolls the open group back as a failure would (the lost callback runs). */
void gm_store_abort(gm_store_t *s);

/* The database, for tables of the layers above that share the store's groups. */
sqlite3 *gm_store_db(gm_store_t *s);

/* Drops a held bundle: custody handed on. Its id stays seen. GM_ENOENT if not held. */
GM_MUST_CHECK int gm_store_remove(gm_store_t *s, const uint8_t id[GM_ID_LEN]);

/*
 * Marks a held bundle delivered and drops it, in one step of the open group
 * (*gen: its number). Hand the bundle to the application only once that
 * generation is durable, so a crash cannot deliver it twice. GM_ENOENT if
 * not held.
 */
GM_MUST_CHECK int gm_store_mark_delivered(gm_store_t *s, const uint8_t id[GM_ID_LEN],
                                          uint64_t *gen);

/*
 * Marks a held bundle delivered and keeps holding it (a flood, passed on to
 * later neighbours): its id is never accepted again, not even after it is
 * evicted. *gen as for gm_store_mark_delivered.
 */
GM_MUST_CHECK int gm_store_note_delivered(gm_store_t *s, const uint8_t id[GM_ID_LEN],
                                          uint64_t *gen);

/*
 * Called when a failure (GM_EIO from any call, commit included) loses the
 * open group gen: whatever waited for gen to be durable (custody acks,
 * deliveries) must be dropped, never carried out.
 */
typedef void (*gm_store_lost_cb)(void *ctx, uint64_t gen);
void gm_store_set_on_lost(gm_store_t *s, gm_store_lost_cb cb, void *ctx);

/* What the store knows of an id. */
GM_MUST_CHECK int gm_store_lookup(gm_store_t *s, const uint8_t id[GM_ID_LEN],
                                  gm_store_state_t *out);

/*
 * Receives one held bundle: b is its header, b->body and data point into the
 * stored bytes. Return 0 to go on, anything else to stop.
 */
typedef int (*gm_store_each_cb)(void *ctx, const gm_bundle_t *b, const uint8_t *data, size_t len);

/*
 * Calls cb for the held bundles addressed to dst (every held bundle when dst
 * is NULL), uncommitted ones included, emergency first, then oldest first;
 * at most limit of them (0: no limit). GM_EIO if a stored bundle does not
 * decode.
 */
GM_MUST_CHECK int gm_store_each(gm_store_t *s, const gm_dest_t *dst, size_t limit,
                                gm_store_each_cb cb, void *ctx);

/* As gm_store_each for the held bundles whose destination is of kind (all of them). */
GM_MUST_CHECK int gm_store_each_kind(gm_store_t *s, gm_dst_kind_t kind, size_t limit,
                                     gm_store_each_cb cb, void *ctx);

/* Calls cb once for the held bundle id. GM_ENOENT if not held. */
GM_MUST_CHECK int gm_store_get(gm_store_t *s, const uint8_t id[GM_ID_LEN], gm_store_each_cb cb,
                               void *ctx);

/*
 * The ids of held bundles greater than after (bytewise; NULL: from the
 * first), in increasing order, at most limit of them into out; *n gets how
 * many. For anti-entropy summaries.
 */
GM_MUST_CHECK int gm_store_ids(gm_store_t *s, const uint8_t *after, size_t limit,
                               uint8_t (*out)[GM_ID_LEN], size_t *n);

/*
 * Drops held bundles whose lifetime is over at now (created + lifetime <=
 * now), reporting each to the drop callback, and forgets seen ids past
 * created + lifetime + skew. *n (may be NULL) gets how many bundles expired.
 */
GM_MUST_CHECK int gm_store_expire(gm_store_t *s, uint64_t now, size_t *n);

void gm_store_stats(const gm_store_t *s, gm_store_stats_t *out);

/* SQLite's message for the last GM_EIO, for the log. Never NULL. */
const char *gm_store_errmsg(const gm_store_t *s);

/* Names the GM_STORE_E* codes, and any other code as gm_strerror() does. */
const char *gm_store_strerror(int err);

#endif

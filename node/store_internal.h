/* Private to node/store.c and node/store_file.c: the store's state and its statements. */
#ifndef GM_STORE_INTERNAL_H
#define GM_STORE_INTERNAL_H

#include <sqlite3.h>

#include "node/store.h"

/* Every statement the store runs, prepared once at open. Only ? parameters carry data. */
typedef enum {
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_SAVEPOINT,
    Q_RELEASE,
    Q_ROLLBACK_TO,
    Q_SEEN_GET,
    Q_SEEN_ADD,
    Q_SEEN_DELIVERED,
    Q_SEEN_DEL,
    Q_SEEN_DEL_UNDELIVERED,
    Q_SEEN_EXPIRE,
    Q_ADD,
    Q_DEL,
    Q_GET,
    Q_ORIGIN_BYTES,
    Q_LINK_BYTES,
    Q_ORIGINS,
    Q_VICTIM,
    Q_VICTIM_BELOW,
    Q_HAS_ROUTINE,
    Q_EACH_ALL,
    Q_EACH_DST,
    Q_EACH_KIND,
    Q_NEXT_EXPIRY,
    Q_IDS,
    Q_EXPIRED,
    Q_EXPIRE,
    Q_TOTALS,
    Q_COUNT
} gm__store_query_t;

struct gm_store {
    sqlite3 *db;
    sqlite3_stmt *q[Q_COUNT];
    gm_store_limits_t lim;
    bool in_txn;          /* a group is open */
    bool in_cb;           /* a callback runs: calls into the store are a caller bug */
    uint64_t gen;         /* the open group's generation, or the last one used */
    uint64_t durable_gen; /* the last generation committed */
    int pending;          /* puts in the open group */
    gm_bundle_t *drops;   /* headers dropped by the current call, reported once it succeeds */
    size_t n_drops, cap_drops;
    gm_store_drop_cb on_drop;
    void *drop_ctx;
    gm_store_lost_cb on_lost;
    void *lost_ctx;
    gm_store_stats_t st;
    char errmsg[256];
    /* no bundle or seen id expires before this (0: unknown); an expiry pass before it
     * would find nothing, so gm_store_expire skips it */
    uint64_t next_expiry;
};

/* The SQL of each statement, indexed by gm__store_query_t. */
extern const char *const gm__store_sql[Q_COUNT];

/* Recomputes st.bundles and st.bytes from the origin table. */
GM_MUST_CHECK int gm__store_load_totals(gm_store_t *s);

#endif

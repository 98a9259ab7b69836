/* Test support: bundles with predictable ids and sizes, and stores in temporary directories. */
#ifndef GM_TEST_BUNDLES_H
#define GM_TEST_BUNDLES_H

#include <stddef.h>
#include <stdint.h>

#include "node/store.h"
#include "proto/wire_bundle.h"

#define GM_TEST_NOW 1767225600u /* 2026-01-01T00:00:00Z */
#define GM_TEST_LIFETIME 3600u
#define GM_TEST_BODY_MAX 4096u

typedef struct {
    gm_bundle_t b; /* b.body points into body */
    uint8_t body[GM_TEST_BODY_MAX];
    uint8_t enc[GM_TEST_BODY_MAX + 256];
    size_t len;
} gm_test_bundle_t;

/*
 * Bundle number n: id = n (big-endian, first 4 bytes) then 0x5a bytes, so ids
 * sort as their numbers; source node id = 16 bytes of src; destination the
 * node 16 bytes of 0xd0; created GM_TEST_NOW, lifetime GM_TEST_LIFETIME, hop
 * limit 8; a body of body_len bytes derived from n. Bundles with the same
 * body_len have the same encoded size. Encoded into t->enc.
 */
void gm_test_bundle(gm_test_bundle_t *t, uint32_t n, uint8_t src, gm_prio_t prio, size_t body_len);

/* Encodes t->b again after a change. */
void gm_test_bundle_encode(gm_test_bundle_t *t);

/* The id of bundle number n, as gm_test_bundle() makes it. */
void gm_test_bundle_id(uint32_t n, uint8_t id[GM_ID_LEN]);

/* Opens (creating) dir/store.db with lim (NULL: defaults), asserting success. */
gm_store_t *gm_test_store(const char *dir, const gm_store_limits_t *lim);

/* dir/store.db */
void gm_test_store_path(const char *dir, char out[GM_PATH_MAX]);

#endif

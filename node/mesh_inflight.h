/*
 * Bundles handed to a next hop and not yet acknowledged: id -> (hop, time).
 * Open addressing with linear probing and backward-shift deletion; ids are
 * random, so their first bytes are the hash.
 */
#ifndef GM_MESH_INFLIGHT_H
#define GM_MESH_INFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/wire_cert.h"

typedef struct {
    uint8_t id[GM_ID_LEN];
    uint8_t hop[GM_ID_LEN];
    uint64_t t_ms;
    bool own; /* this node's own bundle: its ack means "relayed" to the application */
    bool used;
} gm_inflight_entry_t;

typedef struct {
    gm_inflight_entry_t *slots;
    size_t cap, n; /* cap: a power of two, or 0 */
} gm_inflight_t;

void gm_inflight_init(gm_inflight_t *t);
void gm_inflight_free(gm_inflight_t *t);
gm_inflight_entry_t *gm_inflight_find(const gm_inflight_t *t, const uint8_t id[GM_ID_LEN]);
/* Adds or replaces id's entry. GM_ENOMEM. */
int gm_inflight_put(gm_inflight_t *t, const uint8_t id[GM_ID_LEN], const uint8_t hop[GM_ID_LEN],
                    uint64_t t_ms, bool own);
void gm_inflight_del(gm_inflight_t *t, const uint8_t id[GM_ID_LEN]);
/* Removes every entry whose hop is hop. */
void gm_inflight_drop_hop(gm_inflight_t *t, const uint8_t hop[GM_ID_LEN]);

#endif

/* Test support: a loop, a hub and several nodes in one process. */
#ifndef GM_TEST_MESH_H
#define GM_TEST_MESH_H

#include <stdio.h>

#include "node/mesh.h"
#include "node/messenger.h"
#include "tests/support/ident.h"

#define GM_TEST_MAX_NODES 16

typedef struct {
    uv_loop_t loop;
    gm_mem_hub_t *hub;
    char tmp[GM_PATH_MAX];
    gm_test_org_t org_a, org_b;
    gm_node_t *nodes[GM_TEST_MAX_NODES];
    FILE *logs[GM_TEST_MAX_NODES];
    uint64_t clock_offset[GM_TEST_MAX_NODES]; /* seconds added to the wall clock */
    size_t n;
    unsigned stopped;
    /* data received by any node: counted per node index */
    uint64_t received[GM_TEST_MAX_NODES];
    uint64_t received_bytes[GM_TEST_MAX_NODES];
    gm_mesh_t *meshes[GM_TEST_MAX_NODES];          /* NULL for link-only nodes */
    uint64_t delivered[GM_TEST_MAX_NODES];         /* bundles the mesh delivered */
    uint64_t delivered_twice[GM_TEST_MAX_NODES];   /* a bundle id delivered again */
    uint8_t (*delivered_ids[GM_TEST_MAX_NODES])[GM_ID_LEN];
    size_t largest_len[GM_TEST_MAX_NODES];         /* the largest message received */
    uint8_t largest_hash[GM_TEST_MAX_NODES][32];   /* its BLAKE2b-256 */
    gm_messenger_t *messengers[GM_TEST_MAX_NODES]; /* NULL unless started with one */
} gm_test_mesh_t;

/* A loop, a hub, a temporary directory and two organisations (A: acme, B: police). */
void gm_test_mesh_init(gm_test_mesh_t *m);

/* Stops every node, frees everything and checks the loop closes cleanly. */
void gm_test_mesh_close(gm_test_mesh_t *m);

/* Starts the node in dir with cfg; its log goes to a temporary file. Returns its index. */
size_t gm_test_mesh_start(gm_test_mesh_t *m, const char *dir, const gm_node_config_t *cfg);

/* Starts a node with clock_offset seconds added to its wall clock. */
size_t gm_test_mesh_start_at(gm_test_mesh_t *m, const char *dir, const gm_node_config_t *cfg,
                             int64_t clock_offset);

/* Starts a node with the mesh layer (store, routes, bundles) on top. */
size_t gm_test_mesh_start_mesh(gm_test_mesh_t *m, const char *dir, const gm_node_config_t *cfg);

/*
 * Starts a node with the mesh layer and the messenger on top (the messenger
 * takes the mesh's application hooks; the delivery counters still count).
 */
size_t gm_test_mesh_start_messenger(gm_test_mesh_t *m, const char *dir, const gm_node_config_t *cfg);

/* Stops and frees node i (its slot becomes NULL). */
void gm_test_mesh_stop(gm_test_mesh_t *m, size_t i);

/* True once node i's log contains text. */
bool gm_test_log_has(gm_test_mesh_t *m, size_t i, const char *text);

/* Waits until nodes i and j have a link to each other. */
bool gm_test_wait_linked(gm_test_mesh_t *m, size_t i, size_t j, uint64_t timeout_ms);

/* Waits until node i has counted refusal r at least once. */
bool gm_test_wait_refusal(gm_test_mesh_t *m, size_t i, gm_refusal_t r, uint64_t timeout_ms);

#endif

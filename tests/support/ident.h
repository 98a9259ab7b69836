/* Test support: organisations, node directories and loop helpers, made in-process. */
#ifndef GM_TEST_IDENT_H
#define GM_TEST_IDENT_H

#include <stdbool.h>
#include <uv.h>

#include "crypto/cert.h"
#include "crypto/keys.h"
#include "node/node.h"

typedef struct {
    uint8_t seed[GM_SEED_LEN];
    gm_root_t root;
    uint64_t next_serial;
} gm_test_org_t;

/* A fresh organisation. */
void gm_test_org(gm_test_org_t *org, const char *name);

/*
 * Makes base/name as `guardmesh ca issue` would: node.key, node.cert (valid
 * from nb to na, seconds) and trust/ holding the organisation's root. keys
 * (may be NULL) receives the node's keys. Returns the directory (static storage
 * per call: copy it).
 */
void gm_test_node_dir(gm_test_org_t *org, const char *base, const char *name, gm_role_t role,
                      uint64_t nb, uint64_t na, char out[GM_PATH_MAX], gm_node_keys_t *keys);

/* Pins another organisation's root in a node directory. */
void gm_test_trust(const char *dir, const gm_test_org_t *other);

/* Writes a revocation list of org (serials) into dir/revocations/. */
void gm_test_revoke(const char *dir, gm_test_org_t *org, uint64_t seq, const uint64_t *serials,
                    size_t n);

/* The same with the list's next update at next_update (seconds). */
void gm_test_revoke_until(const char *dir, gm_test_org_t *org, uint64_t seq,
                          const uint64_t *serials, size_t n, uint64_t next_update);

/* A temporary directory, removed with gm_test_rmdir. */
void gm_test_tmpdir(char out[GM_PATH_MAX]);
/* 0, or -1 if something could not be removed. */
int gm_test_rmdir(const char *path);

/* Runs loop until pred(ctx) is true or timeout_ms passes; returns pred's last value. */
bool gm_test_run_until(uv_loop_t *loop, bool (*pred)(void *ctx), void *ctx, uint64_t timeout_ms);

/* Runs the loop for about ms milliseconds. */
void gm_test_run_for(uv_loop_t *loop, uint64_t ms);

/* Fast timers for tests; no control socket, no discovery, listening on addr. */
void gm_test_config(gm_node_config_t *cfg, const char *listen_addr);
/* Links with nothing due for 20 s: no keepalive, and no dead peer before a minute. */
void gm_test_config_quiet_links(gm_node_config_t *cfg);

#endif

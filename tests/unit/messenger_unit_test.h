/*
 * Helpers shared by the messenger suite's files (messenger_unit_*.c): nodes
 * with the mesh and the messenger on the in-memory hub, requests through
 * gm_messenger_call, and a hostile relay that re-sends or forges bundles as
 * a neighbour would (a bundle's source is not signed: a relay can write any).
 */
#ifndef GM_TEST_MESSENGER_UNIT_H
#define GM_TEST_MESSENGER_UNIT_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/mesh_internal.h"
#include "node/messenger.h"
#include "proto/wire_e2e.h"
#include "proto/wire_messenger_control.h"
#include "tests/support/mesh.h"

#define MU_ORG "acme-security"
#define MU_WAIT_MS 8000 /* a deadline, never an expectation: the loop stops sooner */

extern gm_test_mesh_t mu;

void mu_setup(void);
void mu_teardown(void);

/* Starts `name` (org A, callsign name) with the messenger, dialling peers (NULL-ended). */
size_t mu_node(const char *name, const char *const *peers);
/* The same with the mesh alone: a relay (the tests make it hostile). */
size_t mu_relay(const char *name, const char *const *peers);
const uint8_t *mu_id(size_t i);
/* Waits until each of nodes has every other's certificate and prekey in its directory. */
bool mu_wait_directory(const size_t *nodes, size_t n);
/* Waits until i and j are linked (up) or not (!up). */
bool mu_wait_link(size_t i, size_t j, bool up);
/* Cuts or restores the hub path between two names. */
void mu_cut(const char *a, const char *b, bool cut);

/* ---- requests through gm_messenger_call ---- */

/* Encodes req, calls node i, decodes the answer into *out (gm_messenger_response_free it). */
void mu_call(size_t i, const gm_messenger_request_t *req, gm_messenger_response_t *out);
/* A text to "callsign@org" (to) or a group; asserts it was accepted. */
void mu_send(size_t i, const char *to, const char *text);
void mu_send_group(size_t i, const char *group, const char *text);
/* A group request (create, add, remove) with members (NULL-ended); asserts it was accepted. */
void mu_group(size_t i, gm_messenger_op_t op, const char *group, const char *const *members);
/* The inbox entries of i (peek: nothing marked read) whose text is text (NULL: all). */
size_t mu_inbox_count(size_t i, const char *text);
/* Waits until i's inbox shows text at least n times. */
bool mu_wait_text(size_t i, const char *text, size_t n);
/* The outbox entries of i in state (NULL: all). */
size_t mu_outbox_count(size_t i, const char *state);
/* Waits until i's outbox has at least n entries in state. */
bool mu_wait_outbox(size_t i, const char *state, size_t n);
gm_messenger_stats_t mu_stats(size_t i);
/* Rows of a messenger table of node i matching an SQL condition (e.g. "1"). */
long mu_rows(size_t i, const char *table, const char *where);

/* ---- bundles: held, captured, re-injected ---- */

typedef struct {
    gm_bundle_t b; /* decoded: b.body points into enc */
    uint8_t *enc;
    size_t len;
} mu_bundle_t;

#define MU_CAPTURE_MAX 128

/* Copies of the bundles node i's store holds for dst, oldest first; returns how many. */
size_t mu_held(size_t i, const gm_dest_t *dst, mu_bundle_t *out, size_t max);
void mu_bundles_free(mu_bundle_t *b, size_t n);
/* Records every bundle node i delivers from now on (in mu_captured, oldest first). */
void mu_capture(size_t i);
extern mu_bundle_t mu_captured[MU_CAPTURE_MAX];
extern size_t mu_n_captured;
/* The last captured bundle from src, or NULL. */
const mu_bundle_t *mu_last_from(size_t src);
/* The envelope kind of a body, 0 if it does not decode. */
int mu_envelope_kind(const uint8_t *body, size_t len);

/* Relay sends an encoded bundle to its neighbour `to`, as it would forward it. */
void mu_inject(size_t relay, size_t to, const uint8_t *enc, size_t len);
/* Relay wraps body in a NEW bundle (fresh id) claiming to come from src, for dst. */
void mu_inject_body(size_t relay, size_t to, const uint8_t src[GM_ID_LEN], const gm_dest_t *dst,
                    const uint8_t *body, size_t len);
/* Bundles node i's mesh handed to the messenger so far. */
uint64_t mu_delivered(size_t i);
/* Waits until node i's mesh delivered at least n bundles in all. */
bool mu_wait_delivered(size_t i, uint64_t n);
/* Bundles node i's mesh took into custody from neighbours so far, and a wait for n in all. */
uint64_t mu_accepted(size_t i);
bool mu_wait_accepted(size_t i, uint64_t n);

#endif

/*
 * Codec for proto/mesh_control.proto: the mesh layer's requests and answers on
 * the control socket (inside ControlRequest.arg and ControlResponse.mesh).
 */
#ifndef GM_WIRE_MESH_CONTROL_H
#define GM_WIRE_MESH_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"
#include "proto/wire_control.h"

#define GM_MESH_CTL_MAX_COUNTERS 96
#define GM_MESH_CTL_MAX_ROUTES 65536
#define GM_MESH_CTL_MAX_IDS 1000       /* ids listed by INJECT */
#define GM_MESH_CTL_MAX_INJECT 100000u /* bundles per INJECT */
/* A revocation list file: the request and its envelope stay below GM_CONTROL_REQUEST_MAX. */
#define GM_MESH_CTL_CRL_MAX (GM_CONTROL_REQUEST_MAX - 64)

typedef enum {
    GM_MESH_OP_STATUS = 1,
    GM_MESH_OP_ROUTES = 2,
    GM_MESH_OP_INJECT = 3,
    GM_MESH_OP_CRL_ADD = 4,
} gm_mesh_op_t;

typedef struct {
    gm_mesh_op_t op;
    bool has_to;
    uint8_t to[GM_ID_LEN];
    uint32_t size, count, priority, dest_kind, lifetime;
    /* CRL_ADD: the list. Encode: borrowed; decode: malloc'd (gm_mesh_request_free) */
    uint8_t *crl;
    size_t crl_len;
} gm_mesh_request_t;

typedef struct {
    uint8_t dest[GM_ID_LEN];
    char callsign[GM_NAME_MAX + 1];
    bool reachable;
    uint8_t next_hop[GM_ID_LEN]; /* zero when unreachable */
    uint32_t metric;
    uint64_t seq, age_ms;
} gm_mesh_route_line_t;

typedef struct {
    int32_t error;
    char message[256];
    gm_counter_t counters[GM_MESH_CTL_MAX_COUNTERS];
    size_t n_counters;
    uint32_t directory;
    gm_mesh_route_line_t *routes; /* malloc'd (encoder: borrowed): gm_mesh_response_free */
    size_t n_routes;
    uint8_t (*ids)[GM_ID_LEN]; /* malloc'd (encoder: borrowed): gm_mesh_response_free */
    size_t n_ids;
} gm_mesh_response_t;

/* Encoded size of req. */
size_t gm_wire_mesh_request_size(const gm_mesh_request_t *req);
/* GM_ELIMIT if it does not fit in cap; GM_EPROTO if req->to is set for no op that takes it. */
GM_MUST_CHECK int gm_wire_mesh_request_encode(const gm_mesh_request_t *req, uint8_t *out,
                                              size_t cap, size_t *out_len);
/*
 * GM_EPROTO if malformed, of an unknown op, with a `to` that is not 16 bytes or
 * a list longer than GM_MESH_CTL_CRL_MAX; GM_ENOMEM. Ranges of size, count,
 * priority, dest_kind and lifetime are the handler's to judge (it says why).
 * *out is written only on success.
 */
GM_MUST_CHECK int gm_wire_mesh_request_decode(const uint8_t *buf, size_t len,
                                              gm_mesh_request_t *out);
void gm_mesh_request_free(gm_mesh_request_t *req);

/* Allocates *out (free() it). GM_EPROTO over the limits above, GM_ENOMEM. */
GM_MUST_CHECK int gm_wire_mesh_response_encode(const gm_mesh_response_t *r, uint8_t **out,
                                               size_t *out_len);
/*
 * GM_EPROTO if malformed or over GM_CONTROL_MAX_MSG (counters past the first
 * GM_MESH_CTL_MAX_COUNTERS, routes past GM_MESH_CTL_MAX_ROUTES and ids past
 * GM_MESH_CTL_MAX_IDS are skipped; ids and route ids that are not 16 bytes are
 * refused); GM_ENOMEM. *out is written only on success.
 */
GM_MUST_CHECK int gm_wire_mesh_response_decode(const uint8_t *buf, size_t len,
                                               gm_mesh_response_t *out);
void gm_mesh_response_free(gm_mesh_response_t *r);

#endif

/* Codec for proto/control.proto: the control socket's requests and responses. */
#ifndef GM_WIRE_CONTROL_H
#define GM_WIRE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"
#include "proto/wire_cert.h"

#define GM_CONTROL_MAX_MSG (4u << 20)     /* a response */
#define GM_CONTROL_REQUEST_MAX (1u << 20) /* a request: a revocation list fits */
#define GM_CONTROL_MAX_PEERS 4096
#define GM_CONTROL_MAX_COUNTERS 32
#define GM_CONTROL_MAX_LISTEN 16

typedef enum {
    GM_OP_STATUS = 1,
    GM_OP_PEERS = 2,
    GM_OP_MESH = 3,      /* answered by the mesh layer (mesh_control.proto) */
    GM_OP_MESSENGER = 4, /* answered by the messenger (messenger_control.proto) */
} gm_control_op_t;

#define GM_OP_COUNT 5

typedef struct {
    gm_control_op_t op;
    /* GM_OP_MESH, GM_OP_MESSENGER: the layer's encoded request. Encode: borrowed; decode: malloc'd (NULL when
       empty), release with gm_control_request_free() */
    uint8_t *arg;
    size_t arg_len;
} gm_control_request_t;

typedef struct {
    char name[32];
    uint64_t value;
} gm_counter_t;

typedef struct {
    uint8_t node_id[GM_ID_LEN];
    char callsign[GM_NAME_MAX + 1], org[GM_NAME_MAX + 1], role[16], address[80];
    bool inbound;
    uint64_t age_ms, bytes_in, bytes_out, frames_in, frames_out, last_seen_ms, rekeys;
} gm_peer_info_t;

typedef struct {
    uint8_t node_id[GM_ID_LEN];
    uint8_t mesh_id[16];
    char callsign[GM_NAME_MAX + 1], org[GM_NAME_MAX + 1], role[16];
    uint64_t uptime_ms;
    char listening[GM_CONTROL_MAX_LISTEN][80];
    size_t n_listening;
    uint32_t links, handshakes;
    gm_counter_t refusals[GM_CONTROL_MAX_COUNTERS], events[GM_CONTROL_MAX_COUNTERS];
    size_t n_refusals, n_events;
} gm_status_info_t;

typedef struct {
    int32_t error;
    char message[256];
    bool has_status;
    gm_status_info_t status;
    gm_peer_info_t *peers; /* malloc'd by the decoder: gm_control_response_free() */
    size_t n_peers;
    gm_counter_t refusals[GM_CONTROL_MAX_COUNTERS];
    size_t n_refusals;
    uint8_t *answer; /* GM_OP_MESH, GM_OP_MESSENGER: the layer's encoded response; malloc'd
                        by the decoder */
    size_t answer_len;
} gm_control_response_t;

/* Encoded size of req. */
size_t gm_wire_control_request_size(const gm_control_request_t *req);
/* GM_ELIMIT if it does not fit in cap. */
GM_MUST_CHECK int gm_wire_control_request_encode(const gm_control_request_t *req, uint8_t *out,
                                                 size_t cap, size_t *out_len);
/*
 * GM_EPROTO if malformed, longer than GM_CONTROL_REQUEST_MAX or of an unknown op;
 * GM_ENOMEM. *out is written only on success; release it with gm_control_request_free().
 */
GM_MUST_CHECK int gm_wire_control_request_decode(const uint8_t *buf, size_t len,
                                                 gm_control_request_t *out);
void gm_control_request_free(gm_control_request_t *req);
/* Allocates *out (free() it). r->answer is borrowed. */
GM_MUST_CHECK int gm_wire_control_response_encode(const gm_control_response_t *r, uint8_t **out,
                                                  size_t *out_len);
GM_MUST_CHECK int gm_wire_control_response_decode(const uint8_t *buf, size_t len,
                                                  gm_control_response_t *out);
/* Frees what the decoder allocated (peers, mesh). */
void gm_control_response_free(gm_control_response_t *r);

#endif

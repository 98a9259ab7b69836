/* Codec for proto/control.proto: the control socket's requests and responses. */
#ifndef GM_WIRE_CONTROL_H
#define GM_WIRE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"
#include "proto/wire_cert.h"

#define GM_CONTROL_MAX_MSG (4u << 20)
#define GM_CONTROL_MAX_PEERS 4096
#define GM_CONTROL_MAX_COUNTERS 32
#define GM_CONTROL_MAX_LISTEN 16

typedef enum { GM_OP_STATUS = 1, GM_OP_PEERS = 2 } gm_control_op_t;

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
} gm_control_response_t;

GM_MUST_CHECK int gm_wire_control_request_encode(gm_control_op_t op, uint8_t *out, size_t cap,
                                                 size_t *out_len);
GM_MUST_CHECK int gm_wire_control_request_decode(const uint8_t *buf, size_t len,
                                                 gm_control_op_t *op);
/* Allocates *out (free() it). */
GM_MUST_CHECK int gm_wire_control_response_encode(const gm_control_response_t *r, uint8_t **out,
                                                  size_t *out_len);
GM_MUST_CHECK int gm_wire_control_response_decode(const uint8_t *buf, size_t len,
                                                  gm_control_response_t *out);
void gm_control_response_free(gm_control_response_t *r);

#endif

/*
 * Codec for proto/messenger_control.proto: the messenger's requests and
 * answers on the control socket (local tools only).
 *
 * Ownership is as in proto/wire_e2e.h: strings and the members lists are
 * pointers. To encode, the caller points them at its own memory (NULL
 * strings encode as "", but a members entry must not be NULL) and leaves
 * owner NULL. After decoding they point into the unpacked message that owner
 * keeps alive, and a response's inbox, outbox and groups arrays are
 * malloc'd: gm_messenger_request_free() / gm_messenger_response_free()
 * release it all (free one copy of the struct, once). Texts are plaintext:
 * what the decoder allocated is wiped when freed.
 *
 * Decoders check every field: known op, kinds and alert kinds in range,
 * ids of exactly 16 bytes, string lengths, text well-formed UTF-8,
 * positions in range (lat -90 .. 90, lon -180 .. 180, accuracy finite and
 * >= 0; checked even without has_position, where they are 0), list sizes.
 * Encoders refuse the same. What the fields mean for an op (a SEND without a
 * recipient, a GROUP_ADD without members, ...) is the handler's to judge.
 */
#ifndef GM_WIRE_MESSENGER_CONTROL_H
#define GM_WIRE_MESSENGER_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"
#include "proto/wire_cert.h"
#include "proto/wire_control.h"
#include "proto/wire_e2e.h"

#define GM_MESSENGER_ADDR_MAX (2 * GM_NAME_MAX + 1) /* CALLSIGN@ORG */
#define GM_MESSENGER_GROUP_NAME_MAX GM_E2E_GROUP_NAME_MAX
#define GM_MESSENGER_TEXT_MAX GM_E2E_TEXT_MAX
#define GM_MESSENGER_MEMBERS_MAX GM_E2E_GROUP_MEMBERS_MAX
#define GM_MESSENGER_LIST_MAX 10000   /* inbox, outbox and group entries; a request's limit */
#define GM_MESSENGER_COUNT_MAX 100000 /* messages one SEND may make (test traffic) */
#define GM_MESSENGER_MESSAGE_MAX 1024 /* a response's message */
#define GM_MESSENGER_STATE_MAX 16     /* an outbox entry's state: "delivered", ... */
#define GM_MESSENGER_PRIORITY_MAX 4   /* 0 the kind's default, 1 emergency .. 4 bulk */
/* Each leaves room for the control message around it (ControlRequest / ControlResponse). */
#define GM_MESSENGER_REQUEST_MAX (GM_CONTROL_REQUEST_MAX - 64)
#define GM_MESSENGER_RESPONSE_MAX (GM_CONTROL_MAX_MSG - 4096)

typedef enum {
    GM_MESSENGER_OP_SEND = 1,
    GM_MESSENGER_OP_INBOX = 2,
    GM_MESSENGER_OP_OUTBOX = 3,
    GM_MESSENGER_OP_GROUP_CREATE = 4,
    GM_MESSENGER_OP_GROUP_ADD = 5,
    GM_MESSENGER_OP_GROUP_REMOVE = 6,
    GM_MESSENGER_OP_GROUP_LIST = 7,
} gm_messenger_op_t;

/* 0 (none) is valid in a request only. */
typedef enum {
    GM_MESSAGE_TEXT = 1,
    GM_MESSAGE_POSITION = 2,
    GM_MESSAGE_ALERT = 3,
} gm_message_kind_t;

typedef struct {
    gm_messenger_op_t op;
    const char *to;    /* CALLSIGN@ORG, at most GM_MESSENGER_ADDR_MAX bytes; "" none */
    const char *group; /* a group name, at most GM_MESSENGER_GROUP_NAME_MAX bytes */
    gm_message_kind_t kind;
    const char *text; /* UTF-8, at most GM_MESSENGER_TEXT_MAX bytes */
    uint32_t priority;
    bool has_position;
    double lat, lon;
    float accuracy;
    uint32_t alert_kind; /* 0 none, else a gm_alert_kind_t */
    bool peek;
    const char *const *members; /* n_members (at most 256) CALLSIGN@ORG */
    size_t n_members;
    uint32_t limit; /* at most GM_MESSENGER_LIST_MAX */
    uint32_t count; /* SEND: messages to make (0 means 1), at most GM_MESSENGER_COUNT_MAX */
    void *owner; /* the decoder's allocation the pointers borrow; NULL when built by the caller */
} gm_messenger_request_t;

typedef struct {
    uint8_t msg_id[GM_ID_LEN];
    const char *from;  /* CALLSIGN@ORG */
    const char *group; /* "" for 1:1 and everyone */
    bool to_all;
    gm_message_kind_t kind;
    const char *text;
    bool has_position;
    double lat, lon;
    float accuracy;
    uint32_t alert_kind;
    uint64_t sent, received;
    bool read;
} gm_inbox_entry_t;

typedef struct {
    uint8_t msg_id[GM_ID_LEN];
    const char *to, *group;
    gm_message_kind_t kind;
    const char *text;
    const char *state; /* at most GM_MESSENGER_STATE_MAX bytes */
    uint64_t queued, relayed, delivered, read, expired;
    uint32_t recipients, delivered_count, read_count;
} gm_outbox_entry_t;

typedef struct {
    uint8_t group_id[GM_ID_LEN];
    const char *name;  /* 1 .. GM_MESSENGER_GROUP_NAME_MAX bytes */
    const char *owner; /* CALLSIGN@ORG */
    uint64_t version;
    const char *const *members;
    size_t n_members;
    bool have_keys;
} gm_group_info_t;

typedef struct {
    int32_t error;
    const char *message; /* at most GM_MESSENGER_MESSAGE_MAX bytes */
    bool has_msg_id;     /* SEND */
    uint8_t msg_id[GM_ID_LEN];
    gm_inbox_entry_t *inbox; /* encode: borrowed; decode: malloc'd */
    size_t n_inbox;
    gm_outbox_entry_t *outbox;
    size_t n_outbox;
    gm_group_info_t *groups;
    size_t n_groups;
    uint32_t unread;
    void *owner; /* as in gm_messenger_request_t */
} gm_messenger_response_t;

/* Encoded size of req, 0 if the encoder would refuse it (a valid request is under 24 KiB). */
size_t gm_wire_messenger_request_size(const gm_messenger_request_t *req);
/* GM_EPROTO for a field out of range, GM_ELIMIT if it does not fit in cap. */
GM_MUST_CHECK int gm_wire_messenger_request_encode(const gm_messenger_request_t *req, uint8_t *out,
                                                   size_t cap, size_t *out_len);
/*
 * GM_EPROTO if malformed, over GM_MESSENGER_REQUEST_MAX or out of range.
 * *out is written only on success; release it with gm_messenger_request_free().
 */
GM_MUST_CHECK int gm_wire_messenger_request_decode(const uint8_t *buf, size_t len,
                                                   gm_messenger_request_t *out);
/* Releases what the decoder allocated and zeroes *req. NULL is a no-op. */
void gm_messenger_request_free(gm_messenger_request_t *req);

/*
 * Allocates *out (free() it). GM_EPROTO for a field out of range, GM_ELIMIT
 * if the encoding is over GM_MESSENGER_RESPONSE_MAX (answer with fewer
 * entries), GM_ENOMEM.
 */
GM_MUST_CHECK int gm_wire_messenger_response_encode(const gm_messenger_response_t *r, uint8_t **out,
                                                    size_t *out_len);
/*
 * GM_EPROTO if malformed, over GM_MESSENGER_RESPONSE_MAX or out of range;
 * GM_ENOMEM. *out is written only on success; release it with
 * gm_messenger_response_free().
 */
GM_MUST_CHECK int gm_wire_messenger_response_decode(const uint8_t *buf, size_t len,
                                                    gm_messenger_response_t *out);
/* Releases what the decoder allocated and zeroes *r. NULL is a no-op. */
void gm_messenger_response_free(gm_messenger_response_t *r);

#endif

/*
 * The end-to-end layer (DESIGN.md "End-to-end layer", CRYPTO.md sections 4
 * to 7): 1:1 sessions (X3DH without one-time prekeys, then the Double
 * Ratchet), talkgroups with sender keys, signed broadcasts for alerts and
 * positions to everyone, receipts, the inbox and the outbox.
 *
 * Everything lives in the node's store (NODE_DIR/store.db) in tables of its
 * own, and every change joins the store's group commit: a message received
 * is in the inbox, its session state moved on and its bundle marked
 * delivered in one transaction, or none of it happened (the previous hop
 * still holds the bundle and offers it again). Message bodies, session and
 * sender-key state are sealed at rest (XChaCha20-Poly1305) with a key derived
 * from the node key file; relays and the store file see only bundle headers,
 * node ids and ciphertext.
 */
#ifndef GM_MESSENGER_H
#define GM_MESSENGER_H

#include "node/mesh.h"

typedef struct gm_messenger gm_messenger_t;

typedef struct {
    uint64_t sent, received;           /* messages, receipts and key distributions included */
    uint64_t sessions_started, sessions_accepted;
    uint64_t inbox_added, duplicates;  /* a message already in the inbox */
    uint64_t receipts_sent, receipts_received;
    uint64_t group_keys_sent, group_keys_received, group_updates;
    uint64_t pending_group;            /* group messages waiting for their sender key */
    uint64_t dropped_malformed, dropped_auth, dropped_replay, dropped_no_session,
        dropped_untrusted, dropped_limit, dropped_not_member;
    uint64_t prekeys_made;
} gm_messenger_stats_t;

/*
 * Takes over the mesh's application hooks and the node's GM_OP_MESSENGER
 * requests, creates its tables in the store if needed and makes a signed
 * prekey if there is none. Call after gm_mesh_new, before gm_node_start.
 * Errors: GM_EIO (store), GM_ENOMEM; *why says what.
 */
GM_MUST_CHECK int gm_messenger_new(gm_node_t *node, gm_mesh_t *mesh, gm_messenger_t **out,
                                   gm_why_t *why);

/* Stops its timer (closes are asynchronous: free after the loop ran) and wipes its keys. */
void gm_messenger_free(gm_messenger_t *g);

void gm_messenger_stats(const gm_messenger_t *g, gm_messenger_stats_t *out);

/* A message that was just added to the inbox. Pointers are borrowed. */
typedef struct {
    const uint8_t *msg_id; /* GM_ID_LEN bytes, the sender's id for it */
    const uint8_t *sender; /* node id */
    const uint8_t *group;  /* group id, NULL for 1:1 and to everyone */
    bool broadcast;        /* to everyone, signed */
    int kind;              /* GM_CONTENT_TEXT, _POSITION or _ALERT */
} gm_messenger_arrival_t;

/*
 * Calls fn for every message added to the inbox (never for one already
 * there), on the loop, inside the store group that adds it: the message is
 * durable once gm_mesh_durable_gen() reaches that group's number
 * (gm_mesh_begin() gives it while fn runs). For the simulator; NULL clears.
 */
void gm_messenger_set_arrival_cb(gm_messenger_t *g,
                                 void (*fn)(void *ctx, const gm_messenger_arrival_t *a),
                                 void *ctx);

/*
 * Answers one encoded MessengerRequest (proto/wire_messenger_control.h) as
 * the control socket would, for callers in the same process (the simulator,
 * tests): *out is a malloc'd encoded MessengerResponse. GM_ENOMEM.
 */
GM_MUST_CHECK int gm_messenger_call(gm_messenger_t *g, const uint8_t *req, size_t len,
                                    uint8_t **out, size_t *out_len);

#endif

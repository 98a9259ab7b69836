/*
 * A Guardmesh node: one identity, its links, listeners, dialers, discovery and
 * control socket, all driven by one libuv loop. No global state: many nodes
 * can share one process and one loop (tests, simulator).
 */
#ifndef GM_NODE_H
#define GM_NODE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "crypto/keys.h"
#include "node/config.h"
#include "node/identity.h"
#include "node/transport.h"
#include "proto/wire_control.h"

typedef struct gm_node gm_node_t;

/* Why a link or handshake was refused or closed. Counted per node. */
typedef enum {
    GM_REFUSE_UNTRUSTED_ORG,
    GM_REFUSE_BAD_SIGNATURE,
    GM_REFUSE_WRONG_ORG,
    GM_REFUSE_REVOKED,
    GM_REFUSE_NOT_YET_VALID,
    GM_REFUSE_EXPIRED,
    GM_REFUSE_WRONG_ROLE,
    GM_REFUSE_MALFORMED_CERT,
    GM_REFUSE_KEY_MISMATCH,      /* certificate link key != Noise static key */
    GM_REFUSE_LINK_AUTH,         /* hello not signed by the certificate's sign key */
    GM_REFUSE_HANDSHAKE_FAILED,  /* did not decrypt: other mesh id, mesh key, or garbage */
    GM_REFUSE_BAD_HELLO,         /* handshake payload malformed or wrong version */
    GM_REFUSE_HANDSHAKE_TIMEOUT,
    GM_REFUSE_HALF_OPEN_LIMIT,
    GM_REFUSE_RATE_LIMITED,
    GM_REFUSE_FRAME_TOO_LARGE,
    GM_REFUSE_BAD_FRAME,         /* a transport frame that does not decrypt or decode */
    GM_REFUSE_SELF,
    GM_REFUSE_LINK_LIMIT,
    GM_REFUSE_COUNT
} gm_refusal_t;

/* Events worth counting that are not refusals. */
typedef enum {
    GM_EVENT_LINK_UP,
    GM_EVENT_LINK_DOWN,
    GM_EVENT_DEAD_PEER,
    GM_EVENT_DUPLICATE_LINK,
    GM_EVENT_HANDSHAKE_ABORTED, /* the peer closed during the handshake */
    GM_EVENT_REKEY,
    GM_EVENT_REHANDSHAKE,
    GM_EVENT_DIAL_FAILED,
    GM_EVENT_BACKPRESSURE,
    GM_EVENT_BEACON_SEEN,
    GM_EVENT_BEACON_DIAL_SKIPPED, /* a beacon while max_beacon_dials were in progress */
    GM_EVENT_COUNT
} gm_event_t;

/* Short snake_case names, as shown by `guardmesh status`. */
const char *gm_refusal_name(gm_refusal_t r);
const char *gm_event_name(gm_event_t e);

/* What a node needs from its host process. */
typedef struct {
    uv_loop_t *loop;
    gm_mem_hub_t *hub;                  /* for "mem:" addresses; may be NULL */
    uint64_t (*wall_clock)(void *ctx);  /* seconds since the epoch; NULL: time() */
    void *clock_ctx;
    FILE *log;                          /* NULL: stderr */
    /* the simulator: the mesh keeps its store in this process's memory, named by the
     * node directory (gm_store_new_memory), instead of a file in it */
    bool store_in_memory;
} gm_node_env_t;

/* Upper-layer data from a peer (LinkMsg Data); data is borrowed. */
typedef void (*gm_node_data_cb)(void *ctx, const uint8_t node_id[GM_ID_LEN], uint32_t channel,
                                const uint8_t *data, size_t len);
typedef void (*gm_node_stopped_cb)(gm_node_t *node, void *arg);

/*
 * Loads the node directory (node.key, node.cert, trust/, revocations/) and
 * checks that the certificate is acceptable now. On error *why names the
 * file and the reason. Release with gm_node_free().
 */
GM_MUST_CHECK int gm_node_new(const gm_node_env_t *env, const char *dir,
                              const gm_node_config_t *cfg, gm_node_t **out, gm_why_t *why);

/* Opens listeners, the control socket and discovery, and dials the configured peers. */
GM_MUST_CHECK int gm_node_start(gm_node_t *n, gm_why_t *why);

/* Closes links (telling peers), listeners and sockets; cb runs once every handle is closed. */
void gm_node_stop(gm_node_t *n, gm_node_stopped_cb cb, void *arg);

/* Frees a node that was never started or has stopped. NULL is a no-op. */
void gm_node_free(gm_node_t *n);

void gm_node_set_data_cb(gm_node_t *n, gm_node_data_cb cb, void *ctx);

/*
 * What the layer above the links (the mesh) hears from a node. Every member
 * may be NULL. Callbacks run on the node's loop and may call gm_node_send.
 */
typedef struct {
    gm_node_data_cb data;
    void (*link_up)(void *ctx, const uint8_t peer[GM_ID_LEN]);
    void (*link_down)(void *ctx, const uint8_t peer[GM_ID_LEN]);
    /* a link's queue was written out: sends refused with GM_ELIMIT may go again */
    void (*drained)(void *ctx, const uint8_t peer[GM_ID_LEN]);
    /* at the end of a loop turn in which the node was woken (gm_node_wake), before
     * the turn's frames are written; true: wake it again for the next turn */
    bool (*turn_end)(void *ctx);
    /* every tick_ms */
    void (*tick)(void *ctx);
    /* the trust store was reloaded (roots or revocation lists may have changed) */
    void (*trust_changed)(void *ctx);
} gm_node_hooks_t;

/* Replaces the hooks (and the data callback: hooks->data). */
void gm_node_set_hooks(gm_node_t *n, const gm_node_hooks_t *hooks, void *ctx);

/*
 * Asks for the end-of-turn pass (hooks.turn_end, then the frames queued
 * written) at the end of this loop turn, or of the next when called between
 * turns. The node wakes itself for its own links and ticks; the layer above
 * calls it when it leaves work for turn_end from anywhere else. A node that
 * was not woken costs nothing at the end of a turn: a process running a
 * thousand nodes on one loop (tools/gm_sim) pays only for those that had work.
 */
void gm_node_wake(gm_node_t *n);

/*
 * A signed revocation list from the mesh or the operator: checked against the
 * trusted roots (signature first), kept only if newer than the one held for
 * its organisation, then written to NODE_DIR/revocations/ and applied: links
 * to peers it revokes close. 0 if it was new and is applied (a failure to
 * save it is logged: revocation does not wait for the disk); GM_EREPLAY if
 * not newer; GM_ENOENT (organisation not trusted), GM_EAUTH, GM_EPROTO, with
 * *why.
 */
GM_MUST_CHECK int gm_node_add_crl(gm_node_t *n, const uint8_t *buf, size_t len, gm_why_t *why);

/*
 * An extension of the control socket: answers the requests of one op
 * (GM_OP_MESH, GM_OP_MESSENGER) for the layer above. arg is the request's
 * argument (borrowed); on success fn returns 0 with *out a malloc'd encoded
 * answer (the node frees it) that goes back as ControlResponse.answer.
 * Refusals belong inside that answer; a non-zero return (GM_ENOMEM...) makes
 * the node answer with that error instead. Runs on the node's loop.
 */
typedef int (*gm_node_control_ext)(void *ctx, const uint8_t *arg, size_t len, uint8_t **out,
                                   size_t *out_len);

/*
 * Sets (fn NULL: clears) the handler of op's requests. Without one the node
 * answers them with GM_ENOENT, "this node runs no ... layer".
 */
void gm_node_set_control_ext(gm_node_t *n, gm_control_op_t op, gm_node_control_ext fn,
                             void *ctx);

/*
 * Calls fn for every neighbour with a link up (once each). fn must not close
 * links. False if it could not (out of memory, logged): nobody was called.
 */
bool gm_node_each_peer(gm_node_t *n, void (*fn)(void *ctx, const uint8_t peer[GM_ID_LEN]),
                       void *ctx);

/* The node's directory, configuration, loop, clocks and log, for the layers above. */
const gm_node_config_t *gm_node_config(const gm_node_t *n);
const char *gm_node_dir(const gm_node_t *n);
bool gm_node_store_in_memory(const gm_node_t *n);
uv_loop_t *gm_node_loop(const gm_node_t *n);
uint64_t gm_node_now_ms(const gm_node_t *n);
uint64_t gm_node_wall(const gm_node_t *n);
const gm_node_keys_t *gm_node_keys(const gm_node_t *n);
const gm_trust_t *gm_node_trust(const gm_node_t *n);
void gm_node_log(gm_node_t *n, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Reads trust/ and revocations/ of the node directory again (guardmeshd does
 * on SIGHUP) and judges every up link's peer once more: links to peers now
 * revoked or no longer trusted close, counted as refusals. On error (*why says
 * which file) the node keeps its current trust store.
 */
GM_MUST_CHECK int gm_node_reload_trust(gm_node_t *n, gm_why_t *why);

/*
 * Queues data for the neighbour node_id. GM_ENOENT if no link is up to it,
 * GM_ELIMIT if its queue is full (backpressure: the caller keeps the data),
 * GM_EPROTO if it does not fit in a frame.
 */
/* As gm_node_send for small control messages: allowed up to twice max_queued_bytes. */
GM_MUST_CHECK int gm_node_send_control(gm_node_t *n, const uint8_t node_id[GM_ID_LEN],
                                       uint32_t channel, const uint8_t *data, size_t len);
GM_MUST_CHECK int gm_node_send(gm_node_t *n, const uint8_t node_id[GM_ID_LEN], uint32_t channel,
                               const uint8_t *data, size_t len);

/* Dials addr once more now (a beacon, a test). */
void gm_node_dial(gm_node_t *n, const char *addr);

const uint8_t *gm_node_id(const gm_node_t *n);
const gm_cert_t *gm_node_cert(const gm_node_t *n);
size_t gm_node_link_count(const gm_node_t *n); /* links that are up */
bool gm_node_has_link(const gm_node_t *n, const uint8_t node_id[GM_ID_LEN]);
uint64_t gm_node_refusals(const gm_node_t *n, gm_refusal_t r);
uint64_t gm_node_events(const gm_node_t *n, gm_event_t e);

/*
 * Bytes of upper-layer messages this node queued on links for channel, since
 * it started (framing and encryption not included). Channels from
 * GM_NODE_CHANNELS - 1 up are counted together.
 */
#define GM_NODE_CHANNELS 80
uint64_t gm_node_sent_bytes(const gm_node_t *n, uint32_t channel);
/* The first listening address ("127.0.0.1:40123"), or "" if none. */
const char *gm_node_listen_addr(const gm_node_t *n);

#endif

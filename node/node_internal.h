/* Private to node/: the node and link structures shared by node.c, link.c, control.c, discovery.c. */
#ifndef GM_NODE_INTERNAL_H
#define GM_NODE_INTERNAL_H

#include <stdarg.h>

#include "crypto/noise.h"
#include "node/node.h"

#define GM_LINK_VERSION 1
#define GM_FRAME_HDR 2
#define GM_DATA_OVERHEAD 24 /* LinkMsg + Data tags and lengths around a payload piece */

#define GM_RATE_SLOTS 256      /* per-address handshake rate table */

typedef struct gm_link gm_link_t;
typedef struct gm_dialer gm_dialer_t;
typedef struct gm_control gm_control_t;
typedef struct gm_discovery gm_discovery_t;

enum link_state { LINK_HANDSHAKE, LINK_UP, LINK_CLOSED };

struct gm_link {
    gm_node_t *node;
    gm_conn_t *conn;
    gm_link_t *next;
    gm_dialer_t *dialer;       /* the dialer that made it, NULL for inbound links */
    bool initiator;
    enum link_state state;
    gm_noise_handshake_t *hs;  /* during the handshake only */
    gm_noise_cipher_t tx, rx;
    uint64_t tx_since_rekey, rx_since_rekey;
    uint32_t rekey_frames;     /* the smaller of ours and the peer's */
    /* the peer, once its certificate is accepted */
    uint8_t peer_id[GM_ID_LEN];
    char peer_name[2 * GM_NAME_MAX + 2]; /* callsign@org */
    gm_role_t peer_role;
    uint16_t peer_listen_port;
    gm_cert_t peer_cert;       /* rechecked when the trust store changes; expiry by wall time */
    /* times in loop milliseconds */
    uint64_t t_created, t_up, t_last_rx, t_last_tx;
    uint64_t bytes_in, bytes_out, frames_in, frames_out, rekeys, keepalive_seq;
    /* receive buffer for partial frames */
    uint8_t *rbuf;
    size_t rlen, rcap;
    /* a message arriving in pieces (Data.more) */
    uint8_t *msg;
    size_t msg_len, msg_cap;
    uint32_t msg_channel;
    /* frames encrypted this loop turn, written in one go by the flush */
    uint8_t *obuf;
    size_t olen, ocap;
    gm_link_t *next_dirty;
    bool dirty, paused, in_callback, free_pending;
    bool announced;            /* the hooks heard link_up for it */
};

struct gm_dialer {
    gm_node_t *node;
    gm_dialer_t *next;
    char addr[GM_ADDR_LEN];
    bool persistent;           /* a configured peer: redialled forever */
    gm_dial_t *dial;           /* a connect in progress */
    gm_link_t *link;           /* its link to the peer, while it lives */
    uint8_t peer_id[GM_ID_LEN]; /* the node reached at addr, once known */
    bool has_peer;
    uv_timer_t timer;          /* backoff */
    uint32_t backoff_ms;
    bool closing;
};

struct rate_slot {
    char host[GM_ADDR_LEN];
    double tokens;
    uint64_t t_ms;
};

struct gm_node {
    gm_node_env_t env;
    gm_node_config_t cfg;
    char dir[GM_PATH_MAX];
    gm_node_keys_t *keys;      /* sodium_malloc'd */
    gm_cert_t cert;
    gm_trust_t *trust;
    char name[2 * GM_NAME_MAX + 2];
    uint64_t t_start;
    gm_listener_t *listeners[GM_MAX_ADDRS];
    char bound[GM_MAX_ADDRS][GM_ADDR_LEN];
    size_t n_listeners;
    gm_link_t *links;
    uint64_t links_due_ms;     /* no link's loop timer can run out before then */
    uint64_t links_lapse_s;    /* nor any peer certificate lapse before this wall second */
    gm_link_t *dirty;
    gm_link_t *dead;           /* closed links, freed after the loop turn */
    gm_dialer_t *dialers;
    gm_control_t *control;
    gm_discovery_t *discovery;
    uv_timer_t tick;
    uv_check_t flush;
    size_t open_handles;
    bool started, running, stopping; /* running: gm_node_start succeeded */
    gm_node_stopped_cb stopped_cb;
    void *stopped_arg;
    gm_node_hooks_t hooks;
    void *hooks_ctx;
    struct {
        gm_node_control_ext fn; /* GM_OP_MESH, GM_OP_MESSENGER: the layers above */
        void *ctx;
    } control_ext[GM_OP_COUNT];
    uint64_t refusals[GM_REFUSE_COUNT];
    uint64_t events[GM_EVENT_COUNT];
    uint64_t sent_bytes[GM_NODE_CHANNELS]; /* upper-layer bytes queued per channel */
    struct rate_slot rate[GM_RATE_SLOTS];
    uint64_t log_window_ms;
    unsigned log_lines_in_window, log_suppressed;
    uint8_t scratch[65536];            /* decrypted frame */
    uint8_t arena[2 * 65536 + 4096];   /* its decoded LinkMsg */
};

/* ---- node.c ---- */
#define gm__log gm_node_log
/* Logs a line caused by remote input: at most a few per second, the rest counted. */
void gm__log_remote(gm_node_t *n, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
uint64_t gm__now_ms(const gm_node_t *n);
uint64_t gm__wall(const gm_node_t *n);
void gm__refuse(gm_node_t *n, gm_refusal_t r, const char *who, const char *detail);
void gm__count(gm_node_t *n, gm_event_t e);
void gm__handle_closed(gm_node_t *n);
/* Called by a link once it is up: resolves duplicates; false if this link must close. */
bool gm__node_link_up(gm_node_t *n, gm_link_t *link);
void gm__node_link_gone(gm_node_t *n, gm_link_t *link);
void gm__mark_dirty(gm_link_t *link);

/* ---- node_trust.c ---- */
/* Logs the revocation lists held that are past their next update. */
void gm__warn_stale_crls(gm_node_t *n);

/* ---- dialer.c ---- */
/* Dials addr now; persistent dialers redial with backoff forever, others once. */
GM_MUST_CHECK int gm__dialer_add(gm_node_t *n, const char *addr, bool persistent);
/* After a failed dial or a lost link: redial later (reset: from the minimum delay). */
void gm__dialer_schedule(gm_dialer_t *d, bool reset);
void gm__dialers_stop(gm_node_t *n);
/* One-shot dials (beacons) still connecting or handshaking. */
size_t gm__dialers_oneshot_pending(const gm_node_t *n);

/* ---- link.c ---- */
GM_MUST_CHECK int gm__link_new(gm_node_t *n, gm_conn_t *conn, bool initiator, gm_dialer_t *d,
                               gm_link_t **out);
/* Closes the link: a Close message if it is up, then the connection. */
void gm__link_close(gm_link_t *link, gm_refusal_t reason, bool is_refusal, const char *text);
void gm__link_flush(gm_link_t *link);
/*
 * Closes the link if a timer ran out or its peer's certificate lapsed, sends
 * a keepalive if one is due, and returns the earliest loop time at which one
 * of its timers can run out next (UINT64_MAX once closed). Traffic only moves
 * that time later.
 */
uint64_t gm__link_tick(gm_link_t *link, uint64_t now);
/* The wall second from which an up link's peer certificate is past its validity and skew. */
uint64_t gm__link_lapse_s(const gm_link_t *link);
GM_MUST_CHECK int gm__link_send_data(gm_link_t *link, uint32_t channel, const uint8_t *data,
                                     size_t len, bool control);
void gm__link_free(gm_link_t *link);
/* Judges an up link's peer certificate again (trust reloaded); closes the link if refused. */
void gm__link_recheck(gm_link_t *link);
size_t gm__link_queued(const gm_link_t *link);

/* ---- control.c ---- */
GM_MUST_CHECK int gm__control_start(gm_node_t *n, const char *path, gm_why_t *why);
void gm__control_stop(gm_node_t *n);

/* ---- discovery.c ---- */
GM_MUST_CHECK int gm__discovery_start(gm_node_t *n, gm_why_t *why);
void gm__discovery_stop(gm_node_t *n);

#endif

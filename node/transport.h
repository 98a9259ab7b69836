/*
 * Transports: byte streams between two nodes. TCP (IPv4 and IPv6) for real
 * links; an in-memory transport with the same interface for tests and the
 * simulator, where many nodes share one loop. Trust never comes from here:
 * every stream runs the Noise handshake (node/link.c).
 */
#ifndef GM_TRANSPORT_H
#define GM_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "crypto/common.h"

#define GM_ADDR_LEN 80
#define GM_READ_CHUNK (64u * 1024u)

typedef struct gm_conn gm_conn_t;
typedef struct gm_listener gm_listener_t;
typedef struct gm_dial gm_dial_t;
typedef struct gm_mem_hub gm_mem_hub_t;

/* Callbacks of a connection, called on the loop thread. */
typedef struct {
    /* Bytes arrived; data is borrowed until the callback returns. */
    void (*on_data)(void *ctx, const uint8_t *data, size_t len);
    /* The peer closed the stream (GM_ECLOSED) or it failed (a negative errno). The owner
     * must still gm_conn_close(). */
    void (*on_end)(void *ctx, int err);
    /* Everything queued was written: the owner may queue more. */
    void (*on_drain)(void *ctx);
} gm_conn_cbs_t;

struct gm_conn_ops {
    /* Queues len bytes (malloc'd; the transport frees them once written or dropped). */
    int (*write)(gm_conn_t *c, uint8_t *data, size_t len);
    void (*read_start)(gm_conn_t *c);
    void (*read_stop)(gm_conn_t *c);
    /* Closes and frees the connection later; no callback runs after this call. */
    void (*close)(gm_conn_t *c);
};

struct gm_conn {
    const struct gm_conn_ops *ops;
    gm_conn_cbs_t cbs;
    void *ctx;
    size_t queued;             /* bytes accepted by write() and not yet written */
    char peer[GM_ADDR_LEN];    /* "ip:port", "[ip6]:port" or "mem:name#n" */
    char peer_host[GM_ADDR_LEN]; /* the address alone: the key of per-address limits */
};

static inline int gm_conn_write(gm_conn_t *c, uint8_t *data, size_t len)
{
    return c->ops->write(c, data, len);
}

static inline void gm_conn_close(gm_conn_t *c)
{
    c->ops->close(c);
}

/* A new inbound connection; the callee sets conn->cbs/ctx and starts reading. */
typedef void (*gm_accept_cb)(void *ctx, gm_conn_t *conn);
/* The outcome of a dial: conn on success (status 0), NULL with a negative status otherwise. */
typedef void (*gm_dial_cb)(void *ctx, gm_conn_t *conn, int status);

/*
 * Listens on "host:port" ("[::1]:port" for IPv6; port 0 picks one; "mem:name"
 * on an in-memory hub). bound receives the actual address. Errors are libuv
 * codes (UV_EADDRINUSE...) or GM_EPROTO for an unparsable address.
 */
GM_MUST_CHECK int gm_listen(uv_loop_t *loop, gm_mem_hub_t *hub, const char *addr,
                            gm_accept_cb cb, void *ctx, gm_listener_t **out,
                            char bound[GM_ADDR_LEN]);
void gm_listener_close(gm_listener_t *l);

/* Dials addr; cb runs exactly once unless gm_dial_cancel() is called first. */
GM_MUST_CHECK int gm_dial(uv_loop_t *loop, gm_mem_hub_t *hub, const char *addr, gm_dial_cb cb,
                          void *ctx, gm_dial_t **out);
/* As gm_dial; on a hub the connection is labelled with from ("mem:name"), so that the
 * far end sees it and gm_mem_hub_cut can cut it. */
GM_MUST_CHECK int gm_dial_from(uv_loop_t *loop, gm_mem_hub_t *hub, const char *addr,
                               const char *from, gm_dial_cb cb, void *ctx, gm_dial_t **out);
void gm_dial_cancel(gm_dial_t *d);

/* Splits "host:port" / "[v6]:port" into a sockaddr. GM_EPROTO if malformed. */
GM_MUST_CHECK int gm_addr_parse(const char *addr, struct sockaddr_storage *out);

/* Formats a sockaddr as "ip:port" / "[ip6]:port" (and the host alone, if host != NULL). */
void gm_addr_format(const struct sockaddr *sa, char out[GM_ADDR_LEN], char host[GM_ADDR_LEN]);

/* ---- in-memory transport ---- */

/* A hub joins in-memory endpoints of one loop. Free it after every node using it. */
GM_MUST_CHECK int gm_mem_hub_new(uv_loop_t *loop, gm_mem_hub_t **out);
void gm_mem_hub_free(gm_mem_hub_t *hub);

/*
 * Cuts (cut true) or restores the path between endpoints a and b (names
 * without "mem:"; a dialler is named by its gm_dial_from label): open
 * connections between them break at once, new dials between them fail until
 * restored. GM_ELIMIT when too many pairs are cut.
 */
GM_MUST_CHECK int gm_mem_hub_cut(gm_mem_hub_t *hub, const char *a, const char *b, bool cut);

/* Every write on the hub reaches its reader ms later (0: on the next loop turn). */
void gm_mem_hub_set_delay(gm_mem_hub_t *hub, uint32_t ms);

/*
 * The simulator's radio: which endpoints can reach each other and how long
 * data takes. Names are without "mem:" (a dialler's is its gm_dial_from
 * label). Either member may be NULL.
 *  reachable  may a and b connect now? false acts as a cut (gm_mem_hub_cut
 *             still applies on top)
 *  delay_ms   extra ms before len bytes written by from reach to, beside the
 *             hub's delay; a stream stays in order (a chunk never overtakes
 *             an earlier one), so a lost and resent packet delays what follows
 */
typedef struct {
    bool (*reachable)(void *ctx, const char *a, const char *b);
    uint32_t (*delay_ms)(void *ctx, const char *from, const char *to, size_t len);
} gm_mem_model_t;

/* model is copied; NULL clears it. */
void gm_mem_hub_set_model(gm_mem_hub_t *hub, const gm_mem_model_t *model, void *ctx);

/* Breaks every open connection the model or the cuts no longer allow (after a change). */
void gm_mem_hub_recheck(gm_mem_hub_t *hub);

#endif

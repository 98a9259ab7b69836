/* TCP transport on libuv (IPv4 and IPv6), and the address helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/transport.h"
#include "node/transport_internal.h"

typedef struct {
    gm_conn_t base;
    uv_tcp_t h;
    bool reading;
    char *rbuf; /* one chunk, reused for every read of this connection */
} tcp_conn_t;

typedef struct {
    uv_write_t req;
    tcp_conn_t *conn; /* NULL once the connection is closed */
    uint8_t *data;
    size_t len;
} tcp_write_t;

struct tcp_listener {
    gm_listener_t base;
    uv_tcp_t h;
    gm_accept_cb cb;
    void *ctx;
};

struct tcp_dial {
    gm_dial_t base;
    uv_connect_t req;
    tcp_conn_t *conn;
    gm_dial_cb cb;
    void *ctx;
    bool cancelled;
};

/* ---- addresses ---- */

int gm_addr_parse(const char *addr, struct sockaddr_storage *out)
{
    char host[GM_ADDR_LEN];
    const char *colon = strrchr(addr, ':');
    const char *h = addr;
    size_t hlen;
    char *end;
    long port;

    if (colon == NULL || colon == addr) {
        return GM_EPROTO;
    }
    hlen = (size_t)(colon - addr);
    if (addr[0] == '[') { /* [v6]:port */
        if (hlen < 3 || addr[hlen - 1] != ']') {
            return GM_EPROTO;
        }
        h = addr + 1;
        hlen -= 2;
    }
    if (hlen >= sizeof host) {
        return GM_EPROTO;
    }
    memcpy(host, h, hlen);
    host[hlen] = 0;
    port = strtol(colon + 1, &end, 10);
    if (colon[1] == 0 || *end != 0 || port < 0 || port > 65535) {
        return GM_EPROTO;
    }
    memset(out, 0, sizeof *out);
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) == 0) {
        return 0;
    }
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)out) == 0) {
        return 0;
    }
    return GM_EPROTO;
}

void gm_addr_format(const struct sockaddr *sa, char out[GM_ADDR_LEN], char host[GM_ADDR_LEN])
{
    char ip[64] = "?";
    int port = 0;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        uv_ip4_name(in, ip, sizeof ip);
        port = ntohs(in->sin_port);
        snprintf(out, GM_ADDR_LEN, "%s:%d", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        uv_ip6_name(in6, ip, sizeof ip);
        port = ntohs(in6->sin6_port);
        snprintf(out, GM_ADDR_LEN, "[%s]:%d", ip, port);
    } else {
        snprintf(out, GM_ADDR_LEN, "?");
    }
    if (host != NULL) {
        snprintf(host, GM_ADDR_LEN, "%s", ip);
    }
}

/* ---- connections ---- */

static void on_tcp_closed(uv_handle_t *h)
{
    tcp_conn_t *c = h->data;

    free(c->rbuf);
    free(c);
}

static void on_tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    tcp_conn_t *c = h->data;

    (void)suggested;
    if (c->rbuf == NULL) {
        c->rbuf = malloc(GM_READ_CHUNK);
    }
    *buf = uv_buf_init(c->rbuf, c->rbuf != NULL ? GM_READ_CHUNK : 0);
}

static void on_tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    tcp_conn_t *c = s->data;

    if (n > 0) {
        c->base.cbs.on_data(c->base.ctx, (const uint8_t *)buf->base, (size_t)n);
    } else if (n < 0) {
        uv_read_stop(s);
        c->reading = false;
        /* UV_EOF is libuv's own code; every other one is a negative errno */
        c->base.cbs.on_end(c->base.ctx, n == UV_EOF ? GM_ECLOSED : (int)n);
    }
}

static void on_tcp_written(uv_write_t *req, int status)
{
    tcp_write_t *w = req->data;
    tcp_conn_t *c = w->conn;

    (void)status; /* a failed write also shows as a read error or EOF */
    free(w->data);
    if (c != NULL && !uv_is_closing((uv_handle_t *)&c->h)) {
        c->base.queued -= w->len;
        if (c->base.queued == 0 && c->base.cbs.on_drain != NULL) {
            c->base.cbs.on_drain(c->base.ctx);
        }
    }
    free(w);
}

static int tcp_write(gm_conn_t *base, uint8_t *data, size_t len)
{
    tcp_conn_t *c = (tcp_conn_t *)base;
    tcp_write_t *w = malloc(sizeof *w);
    uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
    int err;

    if (w == NULL) {
        free(data);
        return GM_ENOMEM;
    }
    w->conn = c;
    w->data = data;
    w->len = len;
    w->req.data = w;
    err = uv_write(&w->req, (uv_stream_t *)&c->h, &buf, 1, on_tcp_written);
    if (err != 0) {
        free(data);
        free(w);
        return err;
    }
    c->base.queued += len;
    return 0;
}

static void tcp_read_start(gm_conn_t *base)
{
    tcp_conn_t *c = (tcp_conn_t *)base;

    if (!c->reading && !uv_is_closing((uv_handle_t *)&c->h) &&
        uv_read_start((uv_stream_t *)&c->h, on_tcp_alloc, on_tcp_read) == 0) {
        c->reading = true;
    }
}

static void tcp_read_stop(gm_conn_t *base)
{
    tcp_conn_t *c = (tcp_conn_t *)base;

    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->h);
        c->reading = false;
    }
}

static void tcp_close(gm_conn_t *base)
{
    tcp_conn_t *c = (tcp_conn_t *)base;

    /* Pending writes complete with UV_ECANCELED before on_tcp_closed frees c. */
    if (!uv_is_closing((uv_handle_t *)&c->h)) {
        uv_close((uv_handle_t *)&c->h, on_tcp_closed);
    }
}

static const struct gm_conn_ops tcp_ops = {
    .write = tcp_write,
    .read_start = tcp_read_start,
    .read_stop = tcp_read_stop,
    .close = tcp_close,
};

static tcp_conn_t *tcp_conn_new(uv_loop_t *loop)
{
    tcp_conn_t *c = calloc(1, sizeof *c);

    if (c == NULL) {
        return NULL;
    }
    if (uv_tcp_init(loop, &c->h) != 0) {
        free(c);
        return NULL;
    }
    c->base.ops = &tcp_ops;
    c->h.data = c;
    return c;
}

/* Fills peer and peer_host from the socket; disables Nagle (frames are batched already). */
static void tcp_conn_describe(tcp_conn_t *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;

    uv_tcp_nodelay(&c->h, 1);
    if (uv_tcp_getpeername(&c->h, (struct sockaddr *)&ss, &len) == 0) {
        gm_addr_format((struct sockaddr *)&ss, c->base.peer, c->base.peer_host);
    }
}

/* ---- listeners ---- */

static void on_tcp_connection(uv_stream_t *server, int status)
{
    struct tcp_listener *l = server->data;
    tcp_conn_t *c;

    if (status != 0) {
        return;
    }
    c = tcp_conn_new(server->loop);
    if (c == NULL) {
        return; /* the connection stays in the backlog and is retried */
    }
    if (uv_accept(server, (uv_stream_t *)&c->h) != 0) {
        uv_close((uv_handle_t *)&c->h, on_tcp_closed);
        return;
    }
    tcp_conn_describe(c);
    l->cb(l->ctx, &c->base);
}

static void on_listener_closed(uv_handle_t *h)
{
    free(h->data);
}

static void tcp_listener_close(gm_listener_t *base)
{
    struct tcp_listener *l = (struct tcp_listener *)base;

    uv_close((uv_handle_t *)&l->h, on_listener_closed);
}

static int bound_name(struct tcp_listener *l, char bound[GM_ADDR_LEN])
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    int err = uv_tcp_getsockname(&l->h, (struct sockaddr *)&ss, &len);

    if (err == 0) {
        gm_addr_format((struct sockaddr *)&ss, bound, NULL);
    }
    return err;
}

int gm__tcp_listen(uv_loop_t *loop, const char *addr, gm_accept_cb cb, void *ctx,
                   gm_listener_t **out, char bound[GM_ADDR_LEN])
{
    struct sockaddr_storage ss;
    struct tcp_listener *l;
    int err = gm_addr_parse(addr, &ss);

    if (err != 0) {
        return err;
    }
    l = calloc(1, sizeof *l);
    if (l == NULL) {
        return GM_ENOMEM;
    }
    l->base.close = tcp_listener_close;
    l->cb = cb;
    l->ctx = ctx;
    l->h.data = l;
    err = uv_tcp_init(loop, &l->h);
    if (err != 0) {
        free(l);
        return err;
    }
    err = uv_tcp_bind(&l->h, (struct sockaddr *)&ss, ss.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
    err = err ? err : uv_listen((uv_stream_t *)&l->h, 128, on_tcp_connection);
    err = err ? err : bound_name(l, bound);
    if (err != 0) {
        uv_close((uv_handle_t *)&l->h, on_listener_closed);
        return err;
    }
    *out = &l->base;
    return 0;
}

/* ---- dialling ---- */

static void on_tcp_connected(uv_connect_t *req, int status)
{
    struct tcp_dial *d = req->data;
    tcp_conn_t *c = d->conn;

    if (d->cancelled) {
        free(d); /* the handle is closing already: on_tcp_closed frees c */
        return;
    }
    if (status != 0) {
        uv_close((uv_handle_t *)&c->h, on_tcp_closed);
        d->cb(d->ctx, NULL, status);
        free(d);
        return;
    }
    tcp_conn_describe(c);
    d->cb(d->ctx, &c->base, 0);
    free(d);
}

static void tcp_dial_cancel(gm_dial_t *base)
{
    struct tcp_dial *d = (struct tcp_dial *)base;

    /* Closing the handle makes the connect callback run with UV_ECANCELED. */
    d->cancelled = true;
    if (!uv_is_closing((uv_handle_t *)&d->conn->h)) {
        uv_close((uv_handle_t *)&d->conn->h, on_tcp_closed);
    }
}

int gm__tcp_dial(uv_loop_t *loop, const char *addr, gm_dial_cb cb, void *ctx, gm_dial_t **out)
{
    struct sockaddr_storage ss;
    struct tcp_dial *d;
    int err = gm_addr_parse(addr, &ss);

    if (err != 0) {
        return err;
    }
    d = calloc(1, sizeof *d);
    d->conn = d != NULL ? tcp_conn_new(loop) : NULL;
    if (d == NULL || d->conn == NULL) {
        free(d);
        return GM_ENOMEM;
    }
    d->base.cancel = tcp_dial_cancel;
    d->cb = cb;
    d->ctx = ctx;
    d->req.data = d;
    err = uv_tcp_connect(&d->req, &d->conn->h, (struct sockaddr *)&ss, on_tcp_connected);
    if (err != 0) {
        uv_close((uv_handle_t *)&d->conn->h, on_tcp_closed);
        free(d);
        return err;
    }
    *out = &d->base;
    return 0;
}

/*
 * The control socket: a Unix socket in the node directory (mode 0600) that
 * answers length-prefixed protobuf requests (status, peers) from local tools,
 * and hands mesh requests to the extension the mesh layer registers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "node/node_internal.h"
#include "proto/wire_control.h"

#define REQUEST_MAX GM_CONTROL_REQUEST_MAX
#define RBUF_MIN 512 /* the first receive buffer; it grows up to 4 + REQUEST_MAX */

typedef struct client {
    uv_pipe_t h;
    struct client *next;
    gm_control_t *ctl;
    gm_node_t *node; /* the server (ctl) may be freed before this client's close callback */
    uint8_t *buf;    /* malloc'd, grown as a request needs */
    size_t len, cap;
} client_t;

struct gm_control {
    gm_node_t *node;
    uv_pipe_t server;
    client_t *clients;
    char path[GM_PATH_MAX];
};

/* ---- answering ---- */

static void fill_counters(const gm_node_t *n, gm_status_info_t *s)
{
    for (int r = 0; r < GM_REFUSE_COUNT; r++) {
        snprintf(s->refusals[r].name, sizeof s->refusals[r].name, "%s", gm_refusal_name(r));
        s->refusals[r].value = n->refusals[r];
    }
    s->n_refusals = GM_REFUSE_COUNT;
    for (int e = 0; e < GM_EVENT_COUNT; e++) {
        snprintf(s->events[e].name, sizeof s->events[e].name, "%s", gm_event_name(e));
        s->events[e].value = n->events[e];
    }
    s->n_events = GM_EVENT_COUNT;
}

static void fill_status(const gm_node_t *n, gm_status_info_t *s)
{
    memset(s, 0, sizeof *s);
    memcpy(s->node_id, n->cert.body.node_id, GM_ID_LEN);
    memcpy(s->mesh_id, n->cfg.mesh_id, sizeof s->mesh_id);
    snprintf(s->callsign, sizeof s->callsign, "%s", n->cert.body.callsign);
    snprintf(s->org, sizeof s->org, "%s", n->cert.body.org_name);
    snprintf(s->role, sizeof s->role, "%s", gm_role_name(n->cert.body.role));
    s->uptime_ms = gm__now_ms(n) - n->t_start;
    for (size_t i = 0; i < n->n_listeners && i < GM_CONTROL_MAX_LISTEN; i++) {
        snprintf(s->listening[i], sizeof s->listening[i], "%s", n->bound[i]);
        s->n_listening++;
    }
    for (const gm_link_t *l = n->links; l != NULL; l = l->next) {
        s->links += l->state == LINK_UP;
        s->handshakes += l->state == LINK_HANDSHAKE;
    }
    fill_counters(n, s);
}

static void fill_peer(const gm_node_t *n, const gm_link_t *l, gm_peer_info_t *p)
{
    uint64_t now = gm__now_ms(n);
    const char *at = strchr(l->peer_name, '@');

    memset(p, 0, sizeof *p);
    memcpy(p->node_id, l->peer_id, GM_ID_LEN);
    snprintf(p->callsign, sizeof p->callsign, "%.*s", (int)(at ? at - l->peer_name : 0),
             l->peer_name);
    snprintf(p->org, sizeof p->org, "%s", at ? at + 1 : "");
    snprintf(p->role, sizeof p->role, "%s", gm_role_name(l->peer_role));
    snprintf(p->address, sizeof p->address, "%s", l->conn->peer);
    p->inbound = !l->initiator;
    p->age_ms = now - l->t_up;
    p->bytes_in = l->bytes_in;
    p->bytes_out = l->bytes_out;
    p->frames_in = l->frames_in;
    p->frames_out = l->frames_out;
    p->last_seen_ms = now - l->t_last_rx;
    p->rekeys = l->rekeys;
}

/* GM_OP_MESH, GM_OP_MESSENGER: the extension's encoded answer, or why there is none. */
static void answer_ext(gm_node_t *n, const gm_control_request_t *req, gm_control_response_t *r)
{
    const char *layer = req->op == GM_OP_MESH ? "mesh" : "messenger";
    int err;

    if (n->control_ext[req->op].fn == NULL) {
        r->error = GM_ENOENT;
        snprintf(r->message, sizeof r->message, "this node runs no %s layer", layer);
        return;
    }
    err = n->control_ext[req->op].fn(n->control_ext[req->op].ctx, req->arg, req->arg_len,
                                     &r->answer, &r->answer_len);
    if (err != 0) {
        r->error = err;
        r->answer = NULL;
        r->answer_len = 0;
        snprintf(r->message, sizeof r->message, "the %s layer failed: %s", layer,
                 gm_strerror(err));
    }
}

static int answer(gm_node_t *n, const gm_control_request_t *req, uint8_t **out, size_t *out_len)
{
    gm_control_response_t *r = calloc(1, sizeof *r);
    size_t k = 0;
    int err;

    if (r == NULL) {
        return GM_ENOMEM;
    }
    if (req->op == GM_OP_MESH || req->op == GM_OP_MESSENGER) {
        answer_ext(n, req, r);
    } else if (req->op == GM_OP_STATUS) {
        r->has_status = true;
        fill_status(n, &r->status);
    } else {
        r->peers = calloc(gm_node_link_count(n) + 1, sizeof *r->peers);
        for (const gm_link_t *l = n->links; r->peers != NULL && l != NULL; l = l->next) {
            if (l->state == LINK_UP) {
                fill_peer(n, l, &r->peers[k++]);
            }
        }
        r->n_peers = k;
        fill_counters(n, &r->status);
        memcpy(r->refusals, r->status.refusals, sizeof r->refusals);
        r->n_refusals = r->status.n_refusals;
    }
    err = gm_wire_control_response_encode(r, out, out_len);
    free(r->peers);
    free(r->answer);
    free(r);
    return err;
}

/* ---- clients ---- */

static void on_client_closed(uv_handle_t *h)
{
    client_t *c = h->data;
    gm_node_t *n = c->node;

    free(c->buf);
    free(c);
    gm__handle_closed(n);
}

static void client_close(client_t *c)
{
    for (client_t **p = &c->ctl->clients; *p != NULL; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    uv_close((uv_handle_t *)&c->h, on_client_closed);
}

static void on_reply_written(uv_write_t *req, int status)
{
    (void)status;
    free(req->data);
    free(req);
}

static void reply(client_t *c, const gm_control_request_t *creq)
{
    uint8_t *body = NULL, *msg;
    size_t len = 0;
    uv_write_t *req = malloc(sizeof *req);
    int err = answer(c->ctl->node, creq, &body, &len);

    msg = err == 0 ? malloc(len + 4) : NULL;
    if (req == NULL || msg == NULL) {
        free(req);
        free(msg);
        free(body);
        client_close(c);
        return;
    }
    gm_store_u32_be(msg, (uint32_t)len);
    memcpy(msg + 4, body, len);
    free(body);
    req->data = msg;
    uv_buf_t buf = uv_buf_init((char *)msg, (unsigned)(len + 4));
    if (uv_write(req, (uv_stream_t *)&c->h, &buf, 1, on_reply_written) != 0) {
        free(msg);
        free(req);
        client_close(c);
    }
}

/* The buffer doubles when full, up to one whole request; none left (ENOMEM) closes the client. */
static void on_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    client_t *c = h->data;

    (void)suggested;
    if (c->len == c->cap && c->cap < 4 + REQUEST_MAX) {
        size_t cap = c->cap == 0 ? RBUF_MIN : c->cap * 2;
        uint8_t *p = realloc(c->buf, cap < 4 + REQUEST_MAX ? cap : 4 + REQUEST_MAX);
        if (p != NULL) {
            c->buf = p;
            c->cap = cap < 4 + REQUEST_MAX ? cap : 4 + REQUEST_MAX;
        }
    }
    if (c->buf == NULL) {
        *buf = uv_buf_init(NULL, 0); /* UV_ENOBUFS: the read callback closes the client */
        return;
    }
    *buf = uv_buf_init((char *)c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    client_t *c = s->data;
    gm_control_request_t req;
    size_t want;

    (void)buf;
    if (nread < 0) {
        client_close(c);
        return;
    }
    gm_node_wake(c->node); /* a request may leave work for the end of the turn */
    c->len += (size_t)nread;
    while (c->len >= 4) {
        want = ((size_t)c->buf[0] << 24) | ((size_t)c->buf[1] << 16) | ((size_t)c->buf[2] << 8) |
               c->buf[3];
        if (want > REQUEST_MAX) {
            client_close(c); /* not one of our tools */
            return;
        }
        if (c->len < 4 + want) {
            return;
        }
        if (gm_wire_control_request_decode(c->buf + 4, want, &req) != 0) {
            client_close(c);
            return;
        }
        reply(c, &req);
        gm_control_request_free(&req);
        memmove(c->buf, c->buf + 4 + want, c->len - 4 - want);
        c->len -= 4 + want;
    }
}

static void on_control_connection(uv_stream_t *server, int status)
{
    gm_control_t *ctl = server->data;
    client_t *c;

    if (status != 0 || (c = calloc(1, sizeof *c)) == NULL) {
        return;
    }
    uv_pipe_init(server->loop, &c->h, 0);
    c->h.data = c;
    c->ctl = ctl;
    c->node = ctl->node;
    ctl->node->open_handles++;
    if (uv_accept(server, (uv_stream_t *)&c->h) != 0 ||
        uv_read_start((uv_stream_t *)&c->h, on_client_alloc, on_client_read) != 0) {
        uv_close((uv_handle_t *)&c->h, on_client_closed);
        return;
    }
    c->next = ctl->clients;
    ctl->clients = c;
}

/* ---- the server ---- */

/* A socket file left by a node that died is removed; one that answers is not ours to take. */
static int clear_stale_socket(const char *path, gm_why_t *why)
{
    struct sockaddr_un sa;
    int fd, rc;

    if (access(path, F_OK) != 0) {
        return 0;
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path)); /* the caller checked the length */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    rc = fd >= 0 ? connect(fd, (struct sockaddr *)&sa, sizeof sa) : -1;
    if (fd >= 0) {
        close(fd);
    }
    if (rc == 0) {
        gm_why_set(why, "%s: another node is already running on this directory", path);
        return GM_EEXIST;
    }
    unlink(path);
    return 0;
}

static void on_server_closed(uv_handle_t *h)
{
    gm_control_t *ctl = h->data;
    gm_node_t *n = ctl->node;

    free(ctl);
    gm__handle_closed(n);
}

int gm__control_start(gm_node_t *n, const char *path, gm_why_t *why)
{
    gm_control_t *ctl;
    int err;

    if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        gm_why_set(why, "%s: control socket path too long (use node.control_socket)", path);
        return GM_ELIMIT;
    }
    err = clear_stale_socket(path, why);
    ctl = err == 0 ? calloc(1, sizeof *ctl) : NULL;
    if (ctl == NULL) {
        return err != 0 ? err : GM_ENOMEM;
    }
    ctl->node = n;
    snprintf(ctl->path, sizeof ctl->path, "%s", path);
    uv_pipe_init(n->env.loop, &ctl->server, 0);
    ctl->server.data = ctl;
    n->open_handles++;
    n->control = ctl;
    err = uv_pipe_bind(&ctl->server, path);
    if (err == 0 && chmod(path, 0600) != 0) {
        err = -errno;
    }
    err = err ? err : uv_listen((uv_stream_t *)&ctl->server, 16, on_control_connection);
    if (err != 0) {
        gm_why_set(why, "%s: cannot open the control socket: %s", path, gm_strerror(err));
        gm__control_stop(n);
    }
    return err;
}

void gm__control_stop(gm_node_t *n)
{
    gm_control_t *ctl = n->control;

    if (ctl == NULL) {
        return;
    }
    n->control = NULL;
    while (ctl->clients != NULL) {
        client_close(ctl->clients);
    }
    unlink(ctl->path);
    uv_close((uv_handle_t *)&ctl->server, on_server_closed);
}

void gm_node_set_control_ext(gm_node_t *n, gm_control_op_t op, gm_node_control_ext fn,
                             void *ctx)
{
    if (op == GM_OP_MESH || op == GM_OP_MESSENGER) {
        n->control_ext[op].fn = fn;
        n->control_ext[op].ctx = fn != NULL ? ctx : NULL;
    }
}

/*
 * In-memory transport: connected pairs of endpoints on one loop. Writes move
 * the buffer to the peer's inbox; a uv_idle handle delivers inboxes, dial
 * results and end-of-stream on a later loop turn, as TCP would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/transport.h"
#include "node/transport_internal.h"

#define MEM_NAME_MAX 60 /* "mem:" + name + "#" + a counter fit in GM_ADDR_LEN */

typedef struct mem_conn mem_conn_t;

typedef struct chunk {
    struct chunk *next;
    mem_conn_t *src; /* the writer, NULL once it has closed */
    uint8_t *data;
    size_t len;
    uint64_t due_ms; /* loop time it may be delivered (the hub's delay) */
} chunk_t;

struct mem_conn {
    gm_conn_t base;
    gm_mem_hub_t *hub;
    char self[MEM_NAME_MAX + 1]; /* this end's name: a listener's, or the dialler's label */
    char other[MEM_NAME_MAX + 1];
    mem_conn_t *all_next;        /* every open connection of the hub, for cuts */
    mem_conn_t *peer;           /* NULL once the peer has closed */
    chunk_t *inbox, *inbox_tail;
    bool reading, peer_gone, end_sent, closed;
    mem_conn_t *next_pending;   /* in hub->pending */
    bool pending;
    mem_conn_t *next_dead;      /* in hub->dead, freed on the next idle turn */
    size_t heap_at;             /* 1 + its place in hub->due_heap; 0: not there */
};

typedef struct mem_listener {
    gm_listener_t base;
    gm_mem_hub_t *hub;
    char name[GM_ADDR_LEN];
    gm_accept_cb cb;
    void *ctx;
    struct mem_listener *next;
} mem_listener_t;

typedef struct mem_dial {
    gm_dial_t base;
    gm_mem_hub_t *hub;
    char name[GM_ADDR_LEN];
    char from[MEM_NAME_MAX + 1];
    gm_dial_cb cb;
    void *ctx;
    bool cancelled;
    struct mem_dial *next;
} mem_dial_t;

#define MEM_MAX_CUTS 256

struct gm_mem_hub {
    uv_idle_t idle;
    uv_timer_t delay_timer; /* wakes the hub when delayed data falls due */
    uint32_t delay_ms;
    gm_mem_model_t model;   /* the simulator's links; members NULL when unset */
    void *model_ctx;
    /* connections whose next chunk is not due yet, earliest first (a binary heap) */
    mem_conn_t **due_heap;
    size_t n_due, cap_due;
    unsigned open_handles;
    mem_listener_t *listeners;
    mem_dial_t *dials;
    mem_conn_t *pending;
    mem_conn_t *dead;
    mem_conn_t *all;
    unsigned next_id;
    char cuts[MEM_MAX_CUTS][2][MEM_NAME_MAX + 1]; /* pairs that cannot connect */
    size_t n_cuts;
};

static bool is_cut(const gm_mem_hub_t *hub, const char *a, const char *b)
{
    if (hub->model.reachable != NULL && !hub->model.reachable(hub->model_ctx, a, b)) {
        return true;
    }
    for (size_t i = 0; i < hub->n_cuts; i++) {
        if ((strcmp(hub->cuts[i][0], a) == 0 && strcmp(hub->cuts[i][1], b) == 0) ||
            (strcmp(hub->cuts[i][0], b) == 0 && strcmp(hub->cuts[i][1], a) == 0)) {
            return true;
        }
    }
    return false;
}

static void on_hub_idle(uv_idle_t *h);
static void heap_remove(gm_mem_hub_t *hub, mem_conn_t *c);

static void kick(gm_mem_hub_t *hub)
{
    uv_idle_start(&hub->idle, on_hub_idle); /* no-op while already started */
}

static void mark_pending(mem_conn_t *c)
{
    if (!c->pending && !c->closed) {
        c->pending = true;
        c->next_pending = c->hub->pending;
        c->hub->pending = c;
    }
}

/* ---- connections ---- */

static int mem_write(gm_conn_t *base, uint8_t *data, size_t len)
{
    mem_conn_t *c = (mem_conn_t *)base;
    chunk_t *k;

    if (c->peer == NULL) {
        free(data);
        return UV_EPIPE;
    }
    k = malloc(sizeof *k);
    if (k == NULL) {
        free(data);
        return GM_ENOMEM;
    }
    *k = (chunk_t){NULL, c, data, len, uv_now(c->hub->idle.loop) + c->hub->delay_ms};
    if (c->hub->model.delay_ms != NULL) {
        k->due_ms += c->hub->model.delay_ms(c->hub->model_ctx, c->self, c->other, len);
    }
    if (c->peer->inbox_tail != NULL) {
        /* a stream: nothing overtakes what was written before it */
        if (k->due_ms < c->peer->inbox_tail->due_ms) {
            k->due_ms = c->peer->inbox_tail->due_ms;
        }
        c->peer->inbox_tail->next = k;
    } else {
        c->peer->inbox = k;
    }
    c->peer->inbox_tail = k;
    c->base.queued += len;
    mark_pending(c->peer);
    kick(c->hub);
    return 0;
}

static void mem_read_start(gm_conn_t *base)
{
    mem_conn_t *c = (mem_conn_t *)base;

    c->reading = true;
    mark_pending(c);
    kick(c->hub);
}

static void mem_read_stop(gm_conn_t *base)
{
    ((mem_conn_t *)base)->reading = false;
}

static void mem_close(gm_conn_t *base)
{
    mem_conn_t *c = (mem_conn_t *)base;

    if (c->closed) {
        return;
    }
    c->closed = true;
    heap_remove(c->hub, c);
    for (mem_conn_t **p = &c->hub->all; *p != NULL; p = &(*p)->all_next) {
        if (*p == c) {
            *p = c->all_next;
            break;
        }
    }
    if (c->peer != NULL) {
        for (chunk_t *k = c->peer->inbox; k != NULL; k = k->next) {
            if (k->src == c) {
                k->src = NULL;
            }
        }
        c->peer->peer = NULL;
        c->peer->peer_gone = true;
        mark_pending(c->peer);
        c->peer = NULL;
    }
    for (chunk_t *k = c->inbox; k != NULL; k = k->next) {
        if (k->src != NULL) {
            k->src->base.queued -= k->len;
        }
    }
    c->next_dead = c->hub->dead;
    c->hub->dead = c;
    kick(c->hub);
}

static const struct gm_conn_ops mem_ops = {
    .write = mem_write,
    .read_start = mem_read_start,
    .read_stop = mem_read_stop,
    .close = mem_close,
};

/* An end named self whose peer is name. */
static mem_conn_t *mem_conn_new(gm_mem_hub_t *hub, const char *self, const char *name)
{
    mem_conn_t *c = calloc(1, sizeof *c);

    if (c != NULL) {
        c->base.ops = &mem_ops;
        c->hub = hub;
        snprintf(c->self, sizeof c->self, "%s", self);
        snprintf(c->other, sizeof c->other, "%s", name);
        c->all_next = hub->all;
        hub->all = c;
        /* names are short (checked where listeners are made); the precision keeps the
         * compiler's truncation analysis quiet at every optimisation level */
        snprintf(c->base.peer, sizeof c->base.peer, "mem:%.*s#%u", MEM_NAME_MAX, name,
                 ++hub->next_id);
        snprintf(c->base.peer_host, sizeof c->base.peer_host, "mem:%.*s", MEM_NAME_MAX, name);
    }
    return c;
}

/* ---- data not due yet: a heap of connections by the due time of their next chunk ---- */

static uint64_t head_due(const mem_conn_t *c)
{
    return c->inbox->due_ms;
}

static void heap_place(gm_mem_hub_t *hub, size_t i, mem_conn_t *c)
{
    hub->due_heap[i] = c;
    c->heap_at = i + 1;
}

/* Moves the entry at i up or down until the heap order holds again. */
static void heap_fix(gm_mem_hub_t *hub, size_t i)
{
    mem_conn_t *c = hub->due_heap[i];

    while (i > 0 && head_due(hub->due_heap[(i - 1) / 2]) > head_due(c)) {
        heap_place(hub, i, hub->due_heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        uint64_t best = head_due(c);

        if (l < hub->n_due && head_due(hub->due_heap[l]) < best) {
            m = l;
            best = head_due(hub->due_heap[l]);
        }
        if (l + 1 < hub->n_due && head_due(hub->due_heap[l + 1]) < best) {
            m = l + 1;
        }
        if (m == i) {
            break;
        }
        heap_place(hub, i, hub->due_heap[m]);
        i = m;
    }
    heap_place(hub, i, c);
}

static void heap_remove(gm_mem_hub_t *hub, mem_conn_t *c)
{
    size_t i = c->heap_at - 1;

    if (c->heap_at == 0) {
        return;
    }
    c->heap_at = 0;
    if (i < --hub->n_due) {
        hub->due_heap[i] = hub->due_heap[hub->n_due];
        heap_fix(hub, i);
    }
}

/* Wakes the hub when the earliest waiting chunk falls due. */
static void arm_delay_timer(gm_mem_hub_t *hub);

static void on_delay_due(uv_timer_t *t)
{
    gm_mem_hub_t *hub = t->data;
    uint64_t now = uv_now(hub->idle.loop);

    while (hub->n_due > 0 && head_due(hub->due_heap[0]) <= now) {
        mem_conn_t *c = hub->due_heap[0];

        heap_remove(hub, c);
        mark_pending(c);
    }
    arm_delay_timer(hub);
    kick(hub);
}

static void arm_delay_timer(gm_mem_hub_t *hub)
{
    uint64_t now = uv_now(hub->idle.loop), due;

    if (hub->n_due == 0) {
        uv_timer_stop(&hub->delay_timer);
        return;
    }
    due = head_due(hub->due_heap[0]);
    uv_timer_start(&hub->delay_timer, on_delay_due, due > now ? due - now : 0, 0);
}

/*
 * Data not due yet waits in the heap for the hub's timer. If the heap cannot
 * grow the chunk is delivered now: early, never lost.
 */
static bool not_due(mem_conn_t *c, const chunk_t *k)
{
    gm_mem_hub_t *hub = c->hub;

    if (k->due_ms <= uv_now(hub->idle.loop)) {
        return false;
    }
    if (c->heap_at != 0) {
        return true;
    }
    if (hub->n_due == hub->cap_due) {
        size_t cap = hub->cap_due ? 2 * hub->cap_due : 64;
        mem_conn_t **p = realloc(hub->due_heap, cap * sizeof *p);

        if (p == NULL) {
            return false;
        }
        hub->due_heap = p;
        hub->cap_due = cap;
    }
    heap_place(hub, hub->n_due++, c);
    heap_fix(hub, hub->n_due - 1);
    if (hub->due_heap[0] == c) {
        arm_delay_timer(hub);
    }
    return true;
}

static void deliver(mem_conn_t *c)
{
    while (c->inbox != NULL && c->reading && !c->closed && !not_due(c, c->inbox)) {
        chunk_t *k = c->inbox;
        mem_conn_t *src = k->src;

        c->inbox = k->next;
        if (c->inbox == NULL) {
            c->inbox_tail = NULL;
        }
        if (src != NULL) {
            src->base.queued -= k->len;
        }
        c->base.cbs.on_data(c->base.ctx, k->data, k->len);
        free(k->data);
        free(k);
        if (src != NULL && !src->closed && src->base.queued == 0 && src->base.cbs.on_drain) {
            src->base.cbs.on_drain(src->base.ctx);
        }
    }
    if (c->peer_gone && c->inbox == NULL && !c->end_sent && !c->closed) {
        c->end_sent = true;
        c->base.cbs.on_end(c->base.ctx, GM_ECLOSED);
    }
}

static void free_conn(mem_conn_t *c)
{
    while (c->inbox != NULL) {
        chunk_t *k = c->inbox;
        c->inbox = k->next;
        free(k->data);
        free(k);
    }
    free(c);
}

/* ---- listeners and dials ---- */

static mem_listener_t *find_listener(gm_mem_hub_t *hub, const char *name)
{
    for (mem_listener_t *l = hub->listeners; l != NULL; l = l->next) {
        if (strcmp(l->name, name) == 0) {
            return l;
        }
    }
    return NULL;
}

static void complete_dial(mem_dial_t *d)
{
    mem_listener_t *l = find_listener(d->hub, d->name);
    mem_conn_t *a, *b;

    if (l == NULL || is_cut(d->hub, d->from, d->name)) {
        d->cb(d->ctx, NULL, UV_ECONNREFUSED);
        return;
    }
    a = mem_conn_new(d->hub, d->from, d->name);
    b = a != NULL ? mem_conn_new(d->hub, d->name, d->from) : NULL;
    if (a == NULL || b == NULL) {
        if (a != NULL) {
            d->hub->all = a->all_next;
            free(a);
        }
        d->cb(d->ctx, NULL, GM_ENOMEM);
        return;
    }
    a->peer = b;
    b->peer = a;
    l->cb(l->ctx, &b->base);
    d->cb(d->ctx, &a->base, 0);
}

static void on_hub_idle(uv_idle_t *h)
{
    gm_mem_hub_t *hub = h->data;
    mem_dial_t *dials = hub->dials;
    mem_conn_t *list = hub->pending;

    hub->dials = NULL;
    hub->pending = NULL;
    while (dials != NULL) {
        mem_dial_t *d = dials;
        dials = d->next;
        if (!d->cancelled) {
            complete_dial(d);
        }
        free(d);
    }
    for (mem_conn_t *c = list, *next; c != NULL; c = next) {
        next = c->next_pending;
        c->pending = false;
        deliver(c);
    }
    while (hub->dead != NULL) {
        mem_conn_t *c = hub->dead;
        hub->dead = c->next_dead;
        if (c->pending) {
            c->pending = false; /* still listed in hub->pending: unlink before freeing */
            for (mem_conn_t **p = &hub->pending; *p != NULL; p = &(*p)->next_pending) {
                if (*p == c) {
                    *p = c->next_pending;
                    break;
                }
            }
        }
        free_conn(c);
    }
    if (hub->pending == NULL && hub->dials == NULL && hub->dead == NULL) {
        uv_idle_stop(h);
    }
}

static void mem_listener_close(gm_listener_t *base)
{
    mem_listener_t *l = (mem_listener_t *)base;

    for (mem_listener_t **p = &l->hub->listeners; *p != NULL; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            break;
        }
    }
    free(l);
}

int gm__mem_listen(gm_mem_hub_t *hub, const char *name, gm_accept_cb cb, void *ctx,
                   gm_listener_t **out, char bound[GM_ADDR_LEN])
{
    mem_listener_t *l;

    if (strlen(name) > MEM_NAME_MAX) {
        return UV_EINVAL;
    }
    if (find_listener(hub, name) != NULL) {
        return UV_EADDRINUSE;
    }
    l = calloc(1, sizeof *l);
    if (l == NULL) {
        return GM_ENOMEM;
    }
    l->base.close = mem_listener_close;
    l->hub = hub;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->cb = cb;
    l->ctx = ctx;
    l->next = hub->listeners;
    hub->listeners = l;
    snprintf(bound, GM_ADDR_LEN, "mem:%.*s", MEM_NAME_MAX, name);
    *out = &l->base;
    return 0;
}

static void mem_dial_cancel(gm_dial_t *base)
{
    ((mem_dial_t *)base)->cancelled = true; /* freed by the idle callback */
}

int gm__mem_dial(gm_mem_hub_t *hub, const char *name, const char *from, gm_dial_cb cb, void *ctx,
                 gm_dial_t **out)
{
    mem_dial_t *d = calloc(1, sizeof *d);

    if (d == NULL) {
        return GM_ENOMEM;
    }
    d->base.cancel = mem_dial_cancel;
    d->hub = hub;
    snprintf(d->name, sizeof d->name, "%s", name);
    snprintf(d->from, sizeof d->from, "%s", from != NULL ? from : "peer");
    d->cb = cb;
    d->ctx = ctx;
    d->next = hub->dials;
    hub->dials = d;
    kick(hub);
    *out = &d->base;
    return 0;
}

/* ---- hub ---- */

/* Bytes in flight to c are lost (their writer's queue shrinks as if they were sent). */
static void lose_inbox(mem_conn_t *c)
{
    heap_remove(c->hub, c);
    while (c->inbox != NULL) {
        chunk_t *k = c->inbox;
        c->inbox = k->next;
        if (k->src != NULL) {
            k->src->base.queued -= k->len;
        }
        free(k->data);
        free(k);
    }
    c->inbox_tail = NULL;
}

/* Breaks a connection as a failing network would: data in flight is lost, both ends see
 * end-of-stream. */
static void sever(mem_conn_t *c)
{
    mem_conn_t *p = c->peer;

    if (p != NULL) {
        lose_inbox(p);
        p->peer = NULL;
        p->peer_gone = true;
        mark_pending(p);
    }
    lose_inbox(c);
    c->peer = NULL;
    c->peer_gone = true;
    mark_pending(c);
    kick(c->hub);
}

int gm_mem_hub_cut(gm_mem_hub_t *hub, const char *a, const char *b, bool cut)
{
    size_t i;

    for (i = 0; i < hub->n_cuts; i++) {
        if ((strcmp(hub->cuts[i][0], a) == 0 && strcmp(hub->cuts[i][1], b) == 0) ||
            (strcmp(hub->cuts[i][0], b) == 0 && strcmp(hub->cuts[i][1], a) == 0)) {
            break;
        }
    }
    if (!cut) {
        if (i < hub->n_cuts) {
            memcpy(hub->cuts[i], hub->cuts[--hub->n_cuts], sizeof hub->cuts[i]);
        }
        return 0;
    }
    if (i == hub->n_cuts) {
        if (hub->n_cuts == MEM_MAX_CUTS) {
            return GM_ELIMIT;
        }
        snprintf(hub->cuts[i][0], sizeof hub->cuts[i][0], "%s", a);
        snprintf(hub->cuts[i][1], sizeof hub->cuts[i][1], "%s", b);
        hub->n_cuts++;
    }
    gm_mem_hub_recheck(hub);
    return 0;
}

int gm_mem_hub_new(uv_loop_t *loop, gm_mem_hub_t **out)
{
    gm_mem_hub_t *hub = calloc(1, sizeof *hub);

    if (hub == NULL) {
        return GM_ENOMEM;
    }
    uv_idle_init(loop, &hub->idle);
    uv_timer_init(loop, &hub->delay_timer);
    hub->idle.data = hub->delay_timer.data = hub;
    hub->open_handles = 2;
    *out = hub;
    return 0;
}

void gm_mem_hub_set_delay(gm_mem_hub_t *hub, uint32_t ms)
{
    hub->delay_ms = ms;
}

void gm_mem_hub_set_model(gm_mem_hub_t *hub, const gm_mem_model_t *model, void *ctx)
{
    hub->model = model != NULL ? *model : (gm_mem_model_t){0};
    hub->model_ctx = ctx;
}

void gm_mem_hub_recheck(gm_mem_hub_t *hub)
{
    for (mem_conn_t *c = hub->all; c != NULL; c = c->all_next) {
        if (c->peer != NULL && is_cut(hub, c->self, c->other)) {
            sever(c);
        }
    }
}

static void on_hub_closed(uv_handle_t *h)
{
    gm_mem_hub_t *hub = h->data;

    if (--hub->open_handles > 0) {
        return;
    }
    /* Every node using the hub is gone: free what is left without callbacks. */
    while (hub->dials != NULL) {
        mem_dial_t *d = hub->dials;
        hub->dials = d->next;
        free(d);
    }
    while (hub->dead != NULL) {
        mem_conn_t *c = hub->dead;
        hub->dead = c->next_dead;
        free_conn(c);
    }
    free(hub->due_heap);
    free(hub);
}

void gm_mem_hub_free(gm_mem_hub_t *hub)
{
    if (hub != NULL) {
        uv_close((uv_handle_t *)&hub->idle, on_hub_closed);
        uv_close((uv_handle_t *)&hub->delay_timer, on_hub_closed);
    }
}

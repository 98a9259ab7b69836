/* Outbound links: dial, and redial with jittered exponential backoff (capped). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"

static void on_dialer_closed(uv_handle_t *h)
{
    gm_dialer_t *d = h->data;

    gm__handle_closed(d->node);
    free(d);
}

static void dialer_remove(gm_dialer_t *d)
{
    gm_node_t *n = d->node;

    for (gm_dialer_t **p = &n->dialers; *p != NULL; p = &(*p)->next) {
        if (*p == d) {
            *p = d->next;
            break;
        }
    }
    if (d->dial != NULL) {
        gm_dial_cancel(d->dial);
        d->dial = NULL;
    }
    if (d->link != NULL) {
        d->link->dialer = NULL;
    }
    d->closing = true;
    uv_close((uv_handle_t *)&d->timer, on_dialer_closed);
}

static void on_dialed(void *ctx, gm_conn_t *conn, int status)
{
    gm_dialer_t *d = ctx;
    gm_node_t *n = d->node;
    gm_link_t *l;

    d->dial = NULL;
    if (status != 0) {
        gm__count(n, GM_EVENT_DIAL_FAILED);
        gm__log(n, GM_LOG_DEBUG, "dial %s failed: %s", d->addr, gm_strerror(status));
        gm__dialer_schedule(d, false);
        return;
    }
    if (gm__link_new(n, conn, true, d, &l) != 0) {
        gm__dialer_schedule(d, false);
        return;
    }
    l->next = n->links;
    n->links = l;
    d->link = l;
}

static void dial_now(gm_dialer_t *d)
{
    gm_node_t *n = d->node;
    /* on a hub, connections carry this node's own address: tests cut them by name */
    const char *from = n->n_listeners > 0 ? n->bound[0] : NULL;
    int err = gm_dial_from(n->env.loop, n->env.hub, d->addr, from, on_dialed, d, &d->dial);

    if (err != 0) {
        d->dial = NULL;
        gm__log(d->node, GM_LOG_WARN, "cannot dial %s: %s", d->addr, gm_strerror(err));
        gm__dialer_schedule(d, false);
    }
}

static void on_redial(uv_timer_t *h)
{
    gm_dialer_t *d = h->data;
    gm_node_t *n = d->node;

    if (n->stopping || d->dial != NULL || d->link != NULL) {
        return;
    }
    if (d->has_peer && gm_node_has_link(n, d->peer_id)) {
        /* linked already (the peer dialled us): look again later */
        uv_timer_start(&d->timer, on_redial, n->cfg.redial_max_ms, 0);
        return;
    }
    dial_now(d);
}

void gm__dialer_schedule(gm_dialer_t *d, bool reset)
{
    gm_node_t *n = d->node;
    uint64_t delay;

    if (d->closing || n->stopping) {
        return;
    }
    if (!d->persistent) {
        dialer_remove(d); /* one-shot dials (beacons) are not retried */
        return;
    }
    if (reset) {
        d->backoff_ms = n->cfg.redial_min_ms;
    }
    /* uniform in [backoff/2, backoff*3/2): peers that lost each other do not redial in step */
    delay = d->backoff_ms / 2 + randombytes_uniform(d->backoff_ms + 1);
    d->backoff_ms = d->backoff_ms * 2 > n->cfg.redial_max_ms ? n->cfg.redial_max_ms
                                                             : d->backoff_ms * 2;
    uv_timer_start(&d->timer, on_redial, delay, 0);
}

int gm__dialer_add(gm_node_t *n, const char *addr, bool persistent)
{
    gm_dialer_t *d = calloc(1, sizeof *d);

    if (d == NULL) {
        return GM_ENOMEM;
    }
    d->node = n;
    d->persistent = persistent;
    d->backoff_ms = n->cfg.redial_min_ms;
    snprintf(d->addr, sizeof d->addr, "%s", addr);
    uv_timer_init(n->env.loop, &d->timer);
    d->timer.data = d;
    n->open_handles++;
    d->next = n->dialers;
    n->dialers = d;
    dial_now(d);
    return 0;
}

size_t gm__dialers_oneshot_pending(const gm_node_t *n)
{
    size_t k = 0;

    for (const gm_dialer_t *d = n->dialers; d != NULL; d = d->next) {
        k += !d->persistent && (d->link == NULL || d->link->state != LINK_UP);
    }
    return k;
}

void gm__dialers_stop(gm_node_t *n)
{
    while (n->dialers != NULL) {
        dialer_remove(n->dialers);
    }
}

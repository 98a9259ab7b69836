/*
 * The distance-vector table: per destination, the last (seq, metric) heard
 * from each neighbour, the selected route and the feasibility distance.
 *
 * Loop freedom is Babel's (RFC 8966 section 3.5). The feasibility distance
 * FD = (seq, metric) of a destination is the best route this node ever
 * selected for it, where a newer seq is better whatever the metric, and it
 * only ever gets better. An entry (seq, adv) from a neighbour, adv being the
 * metric that neighbour advertised, is feasible when seq > FD.seq, or seq ==
 * FD.seq and adv < FD.metric. A neighbour that advertised adv with seq had
 * then an FD of at most (seq, adv), and its FD only improves since; a
 * feasible entry therefore comes from a neighbour whose FD is strictly better
 * than ours, along every chain of next hops, so a chain never comes back.
 *
 * Selection takes the feasible entry with the newest seq, then the lowest
 * metric (each link costs 1), keeping the current one on a tie. The newest
 * seq first, because what this node forwards is the directory's newest
 * announcement, and the metric it puts on it must be that of a route for
 * that very seq (else the infinity) to keep the argument above true.
 */
#include <stdlib.h>
#include <string.h>

#include "node/router_internal.h"

static bool is_feasible(const gm__dest_t *d, const gm__route_t *rt)
{
    if (!d->has_fd || rt->seq > d->fd_seq) {
        return true;
    }
    return rt->seq == d->fd_seq && rt->adv < d->fd_metric;
}

/* Newer seq first, then the lower metric. */
static bool is_better(const gm__route_t *a, const gm__route_t *b)
{
    if (a->seq != b->seq) {
        return a->seq > b->seq;
    }
    return a->adv < b->adv;
}

static void update_fd(gm__dest_t *d, const gm__route_t *rt)
{
    uint32_t metric = rt->adv + 1;

    if (!d->has_fd || rt->seq > d->fd_seq) {
        d->has_fd = true;
        d->fd_seq = rt->seq;
        d->fd_metric = metric;
    } else if (metric < d->fd_metric) {
        d->fd_metric = metric;
    }
}

uint32_t gm__router_adv_metric(const gm_router_t *r, const gm__dest_t *d)
{
    if (d->sel < 0 || d->routes[d->sel].seq != d->seq) {
        return r->cfg.infinity;
    }
    return d->routes[d->sel].adv + 1;
}

/* Picks the route, moves the FD; true if what this node advertises for d changed. */
static bool reselect(const gm_router_t *r, gm__dest_t *d)
{
    long best = -1;
    uint32_t metric;

    for (size_t i = 0; i < d->n_routes; i++) {
        const gm__route_t *rt = &d->routes[i];

        if (!is_feasible(d, rt)) {
            continue;
        }
        if (best < 0 || is_better(rt, &d->routes[best]) ||
            ((long)i == d->sel && !is_better(&d->routes[best], rt))) {
            best = (long)i;
        }
    }
    d->sel = best;
    if (best >= 0) {
        update_fd(d, &d->routes[best]);
    }
    metric = gm__router_adv_metric(r, d);
    if (d->adv_seq == d->seq && d->adv_metric == metric) {
        return false;
    }
    d->adv_seq = d->seq;
    d->adv_metric = metric;
    return true;
}

static long find_route(const gm__dest_t *d, const uint8_t via[GM_ID_LEN])
{
    for (size_t i = 0; i < d->n_routes; i++) {
        if (memcmp(d->routes[i].via, via, GM_ID_LEN) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* Removes routes[i] by moving the last entry into its place; the selection follows. */
static void remove_route(gm__dest_t *d, size_t i)
{
    size_t last = d->n_routes - 1;

    if (d->sel == (long)i) {
        d->sel = -1;
    } else if (d->sel == (long)last) {
        d->sel = (long)i;
    }
    d->routes[i] = d->routes[last];
    d->n_routes = last;
}

bool gm__router_heard(gm_router_t *r, gm__dest_t *d, const uint8_t via[GM_ID_LEN], uint64_t seq,
                      uint32_t metric, uint64_t now_ms)
{
    long i = find_route(d, via);
    bool changed;

    if (metric >= r->cfg.infinity - 1) {
        /* No route through via (its metric plus our link reaches the infinity): a retraction. */
        if (i >= 0) {
            remove_route(d, (size_t)i);
        }
        return reselect(r, d);
    }
    if (i < 0) {
        /* The caller checked that via is an up neighbour: at most max_neighbours entries. */
        if (d->n_routes == d->cap_routes) {
            size_t cap = d->cap_routes ? 2 * d->cap_routes : 4;
            gm__route_t *p = realloc(d->routes, cap * sizeof *p);

            if (p == NULL) {
                r->stats.no_memory++;
                /* not recorded, but d->seq may have moved on: reselect, so that what we
                 * advertise is never a finite metric for a number we have no route for */
                return reselect(r, d);
            }
            d->routes = p;
            d->cap_routes = cap;
        }
        i = (long)d->n_routes++;
        memcpy(d->routes[i].via, via, GM_ID_LEN);
    }
    d->routes[i].seq = seq;
    d->routes[i].adv = metric;
    d->routes[i].heard_ms = now_ms;
    gm__router_expire_due(r, now_ms);
    changed = reselect(r, d);
    if (!is_feasible(d, &d->routes[i])) {
        r->stats.infeasible++;
    }
    return changed;
}

void gm__router_expire_due(gm_router_t *r, uint64_t heard_ms)
{
    uint64_t due = heard_ms + r->cfg.route_expiry_ms;

    if (due < heard_ms) {
        due = UINT64_MAX;
    }
    if (due < r->expire_due_ms) {
        r->expire_due_ms = due;
    }
}

bool gm__router_expire(gm_router_t *r, gm__dest_t *d, uint64_t now_ms)
{
    bool removed = false;
    size_t i = 0;

    while (i < d->n_routes) {
        uint64_t heard = d->routes[i].heard_ms;

        if (now_ms >= heard && now_ms - heard >= r->cfg.route_expiry_ms) {
            remove_route(d, i);
            r->stats.routes_expired++;
            removed = true;
        } else {
            gm__router_expire_due(r, heard);
            i++;
        }
    }
    return removed && reselect(r, d);
}

static long find_neighbour(const gm_router_t *r, const uint8_t id[GM_ID_LEN])
{
    for (size_t i = 0; i < r->n_neighbours; i++) {
        if (memcmp(r->neighbours[i], id, GM_ID_LEN) == 0) {
            return (long)i;
        }
    }
    return -1;
}

bool gm__router_is_neighbour(const gm_router_t *r, const uint8_t id[GM_ID_LEN])
{
    return find_neighbour(r, id) >= 0;
}

int gm_router_link_up(gm_router_t *r, const uint8_t neighbour[GM_ID_LEN])
{
    if (memcmp(neighbour, r->own.body.node_id, GM_ID_LEN) == 0) {
        return GM_EPROTO;
    }
    if (find_neighbour(r, neighbour) >= 0) {
        return 0;
    }
    if (r->n_neighbours == r->cfg.max_neighbours) {
        return GM_ELIMIT;
    }
    memcpy(r->neighbours[r->n_neighbours++], neighbour, GM_ID_LEN);
    return 0;
}

size_t gm_router_link_down(gm_router_t *r, const uint8_t neighbour[GM_ID_LEN])
{
    long n = find_neighbour(r, neighbour);
    size_t changed = 0;

    if (n < 0) {
        return 0;
    }
    memcpy(r->neighbours[n], r->neighbours[r->n_neighbours - 1], GM_ID_LEN);
    r->n_neighbours--;
    for (size_t i = 0; i < r->n_dests; i++) {
        gm__dest_t *d = r->dests[i];
        long k = find_route(d, neighbour);

        if (k < 0) {
            continue;
        }
        remove_route(d, (size_t)k);
        r->stats.routes_lost++;
        if (reselect(r, d)) {
            gm__router_set_pending(r, d, true);
            changed++;
        }
    }
    return changed;
}

int gm__router_encode(const uint8_t *signed_ann, size_t signed_len, uint32_t metric, uint8_t *out,
                      size_t cap, size_t *out_len)
{
    gm_route_update_t u;

    memcpy(u.announcement, signed_ann, signed_len);
    u.announcement_len = signed_len;
    u.metric = metric;
    return gm_wire_route_update_encode(&u, out, cap, out_len);
}

/* news as a short update: origin, number and metric. */
static int encode_short(const gm__dest_t *d, gm_router_news_t *news)
{
    gm_route_update_t u;

    u.announcement_len = 0;
    memcpy(u.origin, d->body.node_id, GM_ID_LEN);
    u.seq = d->seq;
    u.metric = d->adv_metric;
    return gm_wire_route_update_encode(&u, news->short_update, sizeof news->short_update,
                                       &news->short_len);
}

int gm_router_take_pending(gm_router_t *r, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t cursor = 0;
    gm_router_news_t news;

    return gm_router_take_news(r, &cursor, out, cap, out_len, &news);
}

int gm_router_take_news(gm_router_t *r, size_t *cursor, uint8_t *out, size_t cap,
                        size_t *out_len, gm_router_news_t *news)
{
    if (r->n_pending == 0) {
        return GM_ENOENT; /* most ticks: nothing to tell, no pass over the directory */
    }
    for (; *cursor < r->n_dests; (*cursor)++) {
        gm__dest_t *d = r->dests[*cursor];
        int err;

        if (!d->pending) {
            continue;
        }
        memcpy(news->origin, d->body.node_id, GM_ID_LEN);
        news->seq = d->seq;
        news->metric = d->adv_metric;
        err = gm__router_encode(d->signed_ann, d->signed_len, d->adv_metric, out, cap, out_len);
        err = err == 0 ? encode_short(d, news) : err;
        if (err == 0) {
            gm__router_set_pending(r, d, false);
            news->first = d->told_seq != d->seq;
            news->whole = d->whole_next;
            news->all_hold = d->all_hold_seq == d->seq; /* 0 after gm_router_hold_whole */
            d->told_seq = d->seq;
            d->whole_next = false;
            (*cursor)++;
        }
        return err;
    }
    return GM_ENOENT;
}

/* origin's entry, set pending; NULL if the directory has none. */
static gm__dest_t *hold(gm_router_t *r, const uint8_t origin[GM_ID_LEN])
{
    long i = gm__router_find(r, origin);

    if (i < 0) {
        return NULL;
    }
    gm__router_set_pending(r, r->dests[i], true);
    return r->dests[i];
}

void gm_router_hold(gm_router_t *r, const uint8_t origin[GM_ID_LEN])
{
    (void)hold(r, origin);
}

void gm_router_hold_whole(gm_router_t *r, const uint8_t origin[GM_ID_LEN])
{
    gm__dest_t *d = hold(r, origin);

    if (d != NULL) {
        d->all_hold_seq = 0;
        d->whole_next = true;
    }
}

bool gm_router_holds(const gm_router_t *r, const gm_router_news_t *news,
                     const uint8_t neighbour[GM_ID_LEN])
{
    long i, k;

    if (news->whole || !gm__router_is_neighbour(r, neighbour)) {
        return false;
    }
    if (news->all_hold) {
        return true;
    }
    i = gm__router_find(r, news->origin);
    k = i >= 0 ? find_route(r->dests[i], neighbour) : -1;
    return k >= 0 && r->dests[i]->routes[k].seq == news->seq;
}

void gm_router_told_all(gm_router_t *r, const gm_router_news_t *news)
{
    long i = gm__router_find(r, news->origin);

    if (i >= 0 && r->dests[i]->seq == news->seq) {
        r->dests[i]->all_hold_seq = news->seq;
    }
}

bool gm_router_is_news(const gm_router_t *r, const gm_router_news_t *news,
                       const uint8_t neighbour[GM_ID_LEN])
{
    long i = news->first && news->metric < r->cfg.infinity ? gm__router_find(r, news->origin) : -1;
    long k = i >= 0 ? find_route(r->dests[i], neighbour) : -1;

    if (k < 0) {
        return true;
    }
    return !(r->dests[i]->routes[k].seq == news->seq && r->dests[i]->routes[k].adv <= news->metric);
}

int gm_router_next_hop(const gm_router_t *r, const uint8_t dest[GM_ID_LEN], uint8_t hop[GM_ID_LEN],
                       uint32_t *metric)
{
    long i = gm__router_find(r, dest);
    const gm__dest_t *d;

    if (i < 0 || r->dests[i]->sel < 0) {
        return GM_ENOENT;
    }
    d = r->dests[i];
    memcpy(hop, d->routes[d->sel].via, GM_ID_LEN);
    *metric = d->routes[d->sel].adv + 1;
    return 0;
}

int gm_router_route_at(const gm_router_t *r, size_t i, uint64_t now_ms, gm_route_info_t *out)
{
    const gm__dest_t *d;
    uint64_t heard;

    if (i >= r->n_dests) {
        return GM_ENOENT;
    }
    d = r->dests[i];
    memset(out, 0, sizeof *out);
    memcpy(out->dest, d->body.node_id, GM_ID_LEN);
    out->callsign = d->body.callsign;
    out->reachable = d->sel >= 0;
    out->metric = r->cfg.infinity;
    out->seq = d->seq;
    heard = d->heard_ms;
    if (d->sel >= 0) {
        const gm__route_t *rt = &d->routes[d->sel];

        memcpy(out->next_hop, rt->via, GM_ID_LEN);
        out->metric = rt->adv + 1;
        out->seq = rt->seq;
        heard = rt->heard_ms;
    }
    out->age_ms = now_ms > heard ? now_ms - heard : 0;
    return 0;
}

int gm_router_encode_route(gm_router_t *r, size_t i, uint8_t *out, size_t cap, size_t *out_len)
{
    gm__dest_t *d;

    if (i >= r->n_dests) {
        return GM_ENOENT;
    }
    d = r->dests[i];
    d->told_seq = d->seq > d->told_seq ? d->seq : d->told_seq;
    return gm__router_encode(d->signed_ann, d->signed_len, gm__router_adv_metric(r, d), out, cap,
                             out_len);
}

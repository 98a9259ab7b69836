/*
 * The radio: where nodes are, which pairs are in range, vehicles moving
 * between clusters, cuts and partitions, and the convergence probe that
 * compares the nodes' routes with what the radio allows.
 */
#define _GNU_SOURCE /* M_PI */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "node/mesh.h"
#include "tools/sim/world_internal.h"

/* ---- placing nodes and linking them ---- */

static bool has_edge(const sim_node_t *a, uint32_t b)
{
    size_t lo = 0, hi = a->n_nbr;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a->nbr[mid] == b) {
            return true;
        }
        if (a->nbr[mid] < b) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return false;
}

static int add_edge(sim_world_t *w, uint32_t a, uint32_t b)
{
    sim_node_t *n[2] = {&w->nodes[a], &w->nodes[b]};
    uint32_t other[2] = {b, a};

    if (a == b || has_edge(n[0], b)) {
        return 0;
    }
    for (int k = 0; k < 2; k++) {
        uint32_t *p = realloc(n[k]->nbr, (n[k]->n_nbr + 1) * sizeof *p);
        size_t at = n[k]->n_nbr;

        if (p == NULL) {
            return GM_ENOMEM;
        }
        n[k]->nbr = p;
        while (at > 0 && p[at - 1] > other[k]) { /* kept sorted */
            p[at] = p[at - 1];
            at--;
        }
        p[at] = other[k];
        n[k]->n_nbr++;
    }
    w->st.links++;
    return 0;
}

static double dist2(const sim_node_t *a, const sim_node_t *b)
{
    return (a->x - b->x) * (a->x - b->x) + (a->y - b->y) * (a->y - b->y);
}

typedef struct {
    double d2;
    uint32_t j;
} cand_t;

static int by_distance(const void *a, const void *b)
{
    const cand_t *x = a, *y = b;

    return x->d2 < y->d2 ? -1 : x->d2 > y->d2 ? 1 : (x->j > y->j) - (x->j < y->j);
}

/*
 * Links every pair in range, nearest first, while both ends have fewer than
 * max_links (a node dials at most GM_MAX_ADDRS peers). Same cluster only when
 * there are clusters.
 */
static int link_in_range(sim_world_t *w)
{
    double r2 = w->sc->radius * w->sc->radius;
    cand_t *c = malloc(w->n_static * sizeof *c);
    int err = c == NULL ? GM_ENOMEM : 0;

    for (uint32_t i = 0; err == 0 && i < w->n_static; i++) {
        size_t k = 0;

        for (uint32_t j = 0; j < w->n_static; j++) {
            double d2 = dist2(&w->nodes[i], &w->nodes[j]);
            if (j != i && d2 <= r2 && w->nodes[i].cluster == w->nodes[j].cluster) {
                c[k++] = (cand_t){d2, j};
            }
        }
        qsort(c, k, sizeof *c, by_distance);
        for (size_t m = 0; err == 0 && m < k && w->nodes[i].n_nbr < w->sc->max_links; m++) {
            if (w->nodes[c[m].j].n_nbr < w->sc->max_links) {
                err = add_edge(w, i, c[m].j);
            }
        }
    }
    free(c);
    return err;
}

static uint32_t find(uint32_t *parent, uint32_t i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

/*
 * A random graph may fall apart. Each smaller piece is joined to the largest
 * piece of its cluster by one link between their nearest nodes, so every
 * message has a path (the report says how many links this added).
 */
static int join_components(sim_world_t *w)
{
    size_t n = w->n_static;
    uint32_t *parent = malloc(n * sizeof *parent), *size = calloc(n, sizeof *size);
    int err = parent == NULL || size == NULL ? GM_ENOMEM : 0;

    for (uint32_t i = 0; err == 0 && i < n; i++) {
        parent[i] = i;
    }
    for (uint32_t i = 0; err == 0 && i < n; i++) {
        for (size_t k = 0; k < w->nodes[i].n_nbr; k++) {
            parent[find(parent, i)] = find(parent, w->nodes[i].nbr[k]);
        }
    }
    for (uint32_t i = 0; err == 0 && i < n; i++) {
        size[find(parent, i)]++;
    }
    for (uint32_t i = 0; err == 0 && i < n; i++) {
        w->st.components += find(parent, i) == i;
    }
    for (int cl = -1; err == 0 && cl < (int)w->sc->clusters; cl++) {
        uint32_t big = UINT32_MAX;

        for (uint32_t i = 0; i < n; i++) {
            if (w->nodes[i].cluster == cl &&
                (big == UINT32_MAX || size[find(parent, i)] > size[big])) {
                big = find(parent, i);
            }
        }
        for (uint32_t i = 0; err == 0 && big != UINT32_MAX && i < n; i++) {
            uint32_t best = UINT32_MAX;
            double bd = INFINITY;

            if (w->nodes[i].cluster != cl || find(parent, i) == find(parent, big) ||
                find(parent, i) != i) {
                continue;
            }
            /* i is the root of another piece: its node nearest to the big piece */
            uint32_t from = 0;
            for (uint32_t a = 0; a < n; a++) {
                if (find(parent, a) != i) {
                    continue;
                }
                for (uint32_t b = 0; b < n; b++) {
                    if (find(parent, b) == find(parent, big) && dist2(&w->nodes[a], &w->nodes[b]) < bd) {
                        bd = dist2(&w->nodes[a], &w->nodes[b]);
                        best = b;
                        from = a;
                    }
                }
            }
            err = add_edge(w, from, best);
            w->st.links_added++;
            parent[i] = find(parent, big);
            size[find(parent, big)] += size[i];
        }
    }
    free(parent);
    free(size);
    return err;
}

static void place(sim_world_t *w)
{
    const sim_scenario_t *sc = w->sc;
    uint32_t side = (uint32_t)ceil(sqrt((double)w->n_static));

    for (uint32_t i = 0; i < w->n; i++) {
        sim_node_t *n = &w->nodes[i];

        n->cluster = -1;
        if (n->vehicle) {
            continue;
        }
        switch (sc->topo) {
        case TOPO_CHAIN:
            n->x = w->n_static > 1 ? (double)i / (double)(w->n_static - 1) : 0;
            n->y = 0.5;
            break;
        case TOPO_GRID:
            n->x = (double)(i % side) / side;
            n->y = (double)(i / side) / side;
            break;
        case TOPO_GEOMETRIC:
            n->x = sim_rng_unit(&w->rng);
            n->y = sim_rng_unit(&w->rng);
            break;
        case TOPO_CLUSTERS: {
            double a = 2 * M_PI * (i % sc->clusters) / sc->clusters;
            double r = 0.1 * sqrt(sim_rng_unit(&w->rng)), b = 2 * M_PI * sim_rng_unit(&w->rng);

            n->cluster = (int)(i % sc->clusters);
            n->x = 0.5 + 0.35 * cos(a) + r * cos(b);
            n->y = 0.5 + 0.35 * sin(a) + r * sin(b);
            break;
        }
        }
    }
}

/* A cluster's gates: its nodes nearest the centre, where vehicles stop. */
static int choose_gates(sim_world_t *w)
{
    w->n_gates = GM_MAX_ADDRS / w->sc->clusters < 2 ? 1 : 2;
    w->gates = calloc(w->sc->clusters, sizeof *w->gates);
    if (w->gates == NULL) {
        return GM_ENOMEM;
    }
    for (uint32_t c = 0; c < w->sc->clusters; c++) {
        double a = 2 * M_PI * c / w->sc->clusters, cx = 0.5 + 0.35 * cos(a), cy = 0.5 + 0.35 * sin(a);
        double best[2] = {INFINITY, INFINITY};

        for (uint32_t i = 0; i < w->n_static; i++) {
            const sim_node_t *n = &w->nodes[i];
            double d = (n->x - cx) * (n->x - cx) + (n->y - cy) * (n->y - cy);

            if (n->cluster != (int)c) {
                continue;
            }
            if (d < best[0]) {
                best[1] = best[0];
                w->gates[c][1] = w->gates[c][0];
                best[0] = d;
                w->gates[c][0] = i;
            } else if (d < best[1]) {
                best[1] = d;
                w->gates[c][1] = i;
            }
        }
    }
    return 0;
}

int sim__graph_build(sim_world_t *w)
{
    int err = 0;

    place(w);
    switch (w->sc->topo) {
    case TOPO_CHAIN:
        for (uint32_t i = 0; err == 0 && i + 1 < w->n_static; i++) {
            err = add_edge(w, i, i + 1);
        }
        break;
    case TOPO_GRID: {
        uint32_t side = (uint32_t)ceil(sqrt((double)w->n_static));
        for (uint32_t i = 0; err == 0 && i < w->n_static; i++) {
            if ((i + 1) % side != 0 && i + 1 < w->n_static) {
                err = add_edge(w, i, i + 1);
            }
            if (err == 0 && i + side < w->n_static) {
                err = add_edge(w, i, i + side);
            }
        }
        break;
    }
    case TOPO_GEOMETRIC:
    case TOPO_CLUSTERS:
        err = link_in_range(w);
        err = err == 0 ? join_components(w) : err;
        err = err == 0 && w->sc->topo == TOPO_CLUSTERS ? choose_gates(w) : err;
        break;
    }
    return err;
}

void sim__graph_free(sim_world_t *w)
{
    for (size_t i = 0; w->nodes != NULL && i < w->n; i++) {
        free(w->nodes[i].nbr);
    }
    free(w->gates);
    free(w->cuts);
    free(w->comp);
    free(w->queue);
}

/* ---- vehicles ---- */

/*
 * Vehicle v's cluster at t_ms; on the road (*to >= 0) it is between that
 * cluster and the next, and its radio reaches both. *next gets when that changes.
 */
static int vehicle_at(const sim_world_t *w, uint32_t v, uint64_t t_ms, int *to, uint64_t *next)
{
    const sim_scenario_t *sc = w->sc;
    uint64_t leg = (uint64_t)(sc->dwell_s + sc->travel_s) * 1000, period = leg * sc->clusters;
    uint64_t shift = period * v / (sc->vehicles ? sc->vehicles : 1);
    uint64_t phase = (t_ms + shift) % period, in_leg = phase % leg;
    int at = (int)(phase / leg);

    if (in_leg < (uint64_t)sc->dwell_s * 1000) {
        *next = t_ms + (uint64_t)sc->dwell_s * 1000 - in_leg;
        *to = -1;
        return at;
    }
    *next = t_ms + leg - in_leg;
    *to = (at + 1) % (int)sc->clusters;
    return at;
}

bool sim__graph_move_vehicles(sim_world_t *w, uint64_t t_ms)
{
    bool moved = false;
    uint64_t next;

    for (size_t i = w->n_static; i < w->n; i++) {
        sim_node_t *v = &w->nodes[i];
        int to, c = vehicle_at(w, (uint32_t)(i - w->n_static), t_ms, &to, &next);

        if (c != v->cluster || to != v->cluster2) {
            v->cluster = c;
            v->cluster2 = to;
            moved = true;
            v->x = w->nodes[w->gates[c][0]].x; /* for partitions: at its cluster's first gate */
            v->y = w->nodes[w->gates[c][0]].y;
        }
    }
    return moved;
}

uint64_t sim__graph_next_move(const sim_world_t *w, uint64_t t_ms)
{
    uint64_t best = UINT64_MAX, next;

    for (size_t i = w->n_static; i < w->n; i++) {
        int to;

        (void)vehicle_at(w, (uint32_t)(i - w->n_static), t_ms, &to, &next);
        best = next < best ? next : best;
    }
    return best;
}

/* ---- reachability ---- */

static bool is_gate(const sim_world_t *w, int cluster, uint32_t i)
{
    for (size_t g = 0; cluster >= 0 && g < w->n_gates; g++) {
        if (w->gates[cluster][g] == i) {
            return true;
        }
    }
    return false;
}

static bool in_radio(const sim_world_t *w, uint32_t a, uint32_t b)
{
    const sim_node_t *na = &w->nodes[a], *nb = &w->nodes[b];

    if (na->vehicle != nb->vehicle) {
        const sim_node_t *v = na->vehicle ? na : nb;
        uint32_t g = na->vehicle ? b : a;

        return is_gate(w, v->cluster, g) || is_gate(w, v->cluster2, g);
    }
    return !na->vehicle && has_edge(na, b);
}

bool sim__graph_reachable(const sim_world_t *w, uint32_t a, uint32_t b)
{
    uint64_t key = a < b ? (uint64_t)a << 32 | b : (uint64_t)b << 32 | a;

    if (a >= w->n || b >= w->n || !w->nodes[a].up || !w->nodes[b].up || !in_radio(w, a, b)) {
        return false;
    }
    if (w->partitioned && (w->nodes[a].x < w->part_x) != (w->nodes[b].x < w->part_x)) {
        return false;
    }
    for (size_t i = 0; i < w->n_cuts; i++) {
        if (w->cuts[i] == key) {
            return false;
        }
    }
    return true;
}

size_t sim__graph_dials(const sim_world_t *w, uint32_t i, uint32_t *out, size_t cap)
{
    const sim_node_t *n = &w->nodes[i];
    size_t k = 0;

    if (n->vehicle) {
        for (uint32_t c = 0; c < w->sc->clusters; c++) {
            for (size_t g = 0; g < w->n_gates && k < cap; g++) {
                out[k++] = w->gates[c][g];
            }
        }
        return k;
    }
    for (size_t m = 0; m < n->n_nbr && k < cap; m++) {
        if (n->nbr[m] > i) {
            out[k++] = n->nbr[m];
        }
    }
    return k;
}

/* ---- convergence ---- */

/* Labels each up node with its component in the graph the radio allows now. */
static void components(sim_world_t *w)
{
    for (size_t i = 0; i < w->n; i++) {
        w->comp[i] = UINT32_MAX;
    }
    for (uint32_t s = 0; s < w->n; s++) {
        size_t head = 0, tail = 0;

        if (w->comp[s] != UINT32_MAX || !w->nodes[s].up) {
            continue;
        }
        w->comp[s] = s;
        w->queue[tail++] = s;
        while (head < tail) {
            uint32_t a = w->queue[head++];
            const sim_node_t *na = &w->nodes[a];
            size_t deg = na->vehicle ? w->n_static : na->n_nbr;

            for (size_t k = 0; k < deg + (w->n - w->n_static); k++) {
                uint32_t b = k < deg ? (na->vehicle ? (uint32_t)k : na->nbr[k])
                                     : (uint32_t)(w->n_static + k - deg);
                if (w->comp[b] == UINT32_MAX && sim__graph_reachable(w, a, b)) {
                    w->comp[b] = s;
                    w->queue[tail++] = b;
                }
            }
        }
    }
}

void sim__graph_changed(sim_world_t *w, uint64_t now_ms)
{
    w->st.changes++;
    if (w->probing) {
        w->st.interrupted++;
    }
    w->probing = true;
    w->change_ms = now_ms;
    w->next_probe_ms = now_ms + 1000;
}

static int record_converged(sim_world_t *w, uint64_t ms)
{
    if (w->st.converged == w->conv_cap) {
        size_t cap = w->conv_cap ? 2 * w->conv_cap : 64;
        uint64_t *p = realloc(w->st.converge_ms, cap * sizeof *p);
        if (p == NULL) {
            return GM_ENOMEM;
        }
        w->st.converge_ms = p;
        w->conv_cap = cap;
    }
    w->st.converge_ms[w->st.converged++] = ms;
    return 0;
}

/* Do the sampled nodes have a route to exactly the nodes of their component? */
static bool routes_agree(sim_world_t *w)
{
    size_t step = w->n > SIM_PROBE_SAMPLE ? w->n / SIM_PROBE_SAMPLE : 1;

    components(w);
    for (size_t s = 0; s < w->n; s += step) {
        const sim_node_t *a = &w->nodes[s];

        for (size_t d = 0; a->up && d < w->n; d++) {
            uint8_t hop[GM_ID_LEN];
            uint32_t metric;
            bool route, want;

            if (d == s || !w->nodes[d].up) {
                continue;
            }
            route = gm_router_next_hop(gm_mesh_router(a->mesh), w->nodes[d].id, hop, &metric) == 0;
            want = w->comp[d] == w->comp[s];
            if (route != want) {
                return false;
            }
        }
    }
    return true;
}

void sim__graph_probe(sim_world_t *w, uint64_t now_ms)
{
    if (!w->probing || now_ms < w->next_probe_ms) {
        return;
    }
    w->next_probe_ms = now_ms + 1000;
    if (routes_agree(w)) {
        w->probing = false;
        if (record_converged(w, now_ms - w->change_ms) != 0) {
            w->st.not_converged++;
        }
    } else if (now_ms - w->change_ms >= SIM_CONVERGE_LIMIT_MS) {
        w->probing = false;
        w->st.not_converged++;
    }
}

/*
 * The simulated world: two organisations, a node directory per node (made as
 * `guardmesh ca issue` would), each node run as guardmeshd runs it (node,
 * mesh, messenger) on one loop and one in-memory hub, the radio model on the
 * hub, and the scenario's events: cuts, partitions, crashes and restarts.
 */
#define _GNU_SOURCE /* M_PI */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keys.h"
#include "node/fileio.h"
#include "node/identity.h"
#include "node/store.h"
#include "tools/sim/sim_clock.h"
#include "tools/sim/world_internal.h"

static const char *org_names[2] = {"acme-security", "metro-police"};

uint64_t sim_rng_next(sim_rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double sim_rng_unit(sim_rng_t *r)
{
    return (double)(sim_rng_next(r) >> 11) / 9007199254740992.0;
}

uint32_t sim_rng_below(sim_rng_t *r, uint32_t n)
{
    return n == 0 ? 0 : (uint32_t)(sim_rng_next(r) % n);
}

/* ---- the radio on the hub ---- */

static uint32_t parse_name(const char *name)
{
    /* "n42" (a listener) or "mem:n42" is never asked: the hub strips "mem:" */
    return name[0] == 'n' ? (uint32_t)strtoul(name + 1, NULL, 10) : UINT32_MAX;
}

static bool on_reachable(void *ctx, const char *a, const char *b)
{
    return sim__graph_reachable(ctx, parse_name(a), parse_name(b));
}

/* Base delay, plus a resend for every packet of the write that is lost (in order). */
static uint32_t on_delay(void *ctx, const char *from, const char *to, size_t len)
{
    sim_world_t *w = ctx;
    const sim_scenario_t *sc = w->sc;
    size_t packets = (len + sc->packet_bytes - 1) / sc->packet_bytes;
    uint32_t delay = sc->delay_ms;

    (void)from;
    (void)to;
    w->st.wire_bytes += len;
    w->st.air_bytes += len;
    w->st.air_packets += packets;
    for (size_t p = 0; p < packets; p++) {
        for (int tries = 0; tries < 16 && sim_rng_unit(&w->radio_rng) < sc->loss; tries++) {
            delay += sc->retransmit_ms << (tries < 4 ? tries : 4); /* backs off as TCP does */
            w->st.retransmits++;
            w->st.air_bytes += len < sc->packet_bytes ? len : sc->packet_bytes;
        }
    }
    return delay;
}

/* ---- identities ---- */

static int make_org(sim_org_t *o, const char *name, gm_why_t *why)
{
    randombytes_buf(o->seed, sizeof o->seed);
    o->next_serial = 1;
    if (gm_root_create(o->seed, name, SIM_EPOCH - 86400, &o->root) != 0) {
        gm_why_set(why, "cannot create the organisation %s", name);
        return GM_EPROTO;
    }
    return 0;
}

static int save_trust(const char *dir, const sim_org_t *o, gm_why_t *why)
{
    char path[GM_PATH_MAX];

    snprintf(path, sizeof path, "%s/%s", dir, GM_DIR_TRUST);
    if (gm_dir_ensure(path) != 0 || gm_trust_root_path(dir, &o->root, path, sizeof path) != 0) {
        gm_why_set(why, "%s: cannot make trust/", dir);
        return GM_EIO;
    }
    return gm_blob_save(path, o->root.encoded, o->root.encoded_len, false, why);
}

/* node.key, node.cert and both organisations' roots in trust/. */
static int make_node_dir(sim_world_t *w, sim_node_t *n, gm_why_t *why)
{
    sim_org_t *o = &w->orgs[n->index % 2];
    gm_node_keys_t k;
    gm_cert_body_t t;
    gm_cert_t cert;
    uint8_t secret[GM_NODE_SECRET_LEN];
    char path[GM_PATH_MAX];
    int err;

    if (gm_dir_ensure(n->dir) != 0) {
        gm_why_set(why, "%s: cannot create it", n->dir);
        return GM_EIO;
    }
    snprintf(path, sizeof path, "%s/%s", n->dir, GM_FILE_STORE);
    if (gm_store_memory_hold(path, &n->store_hold) != 0) {
        gm_why_set(why, "%s: cannot make its memory store", path);
        return GM_EIO;
    }
    gm_node_keys_generate(&k);
    memset(&t, 0, sizeof t);
    snprintf(t.callsign, sizeof t.callsign, "%s", n->name);
    t.role = n->vehicle ? GM_ROLE_RELAY : GM_ROLE_HANDHELD;
    t.serial = o->next_serial++;
    memcpy(t.sign_pk, k.sign_pk, 32);
    memcpy(t.link_pk, k.link_pk, 32);
    memcpy(t.e2e_pk, k.e2e_pk, 32);
    t.not_before = SIM_EPOCH - 86400;
    t.not_after = SIM_EPOCH + 90 * 86400;
    err = gm_cert_issue(o->seed, &o->root, &t, &cert);
    if (err != 0) {
        gm_why_set(why, "cannot issue %s's certificate", n->name);
        goto out;
    }
    memcpy(n->id, cert.body.node_id, GM_ID_LEN);
    gm_node_keys_to_secret(&k, secret);
    snprintf(path, sizeof path, "%s/%s", n->dir, GM_FILE_NODE_KEY);
    err = gm_key_save(path, GM_KEY_NODE, secret, sizeof secret, NULL, 0, true, why);
    snprintf(path, sizeof path, "%s/%s", n->dir, GM_FILE_NODE_CERT);
    err = err == 0 ? gm_blob_save(path, cert.encoded, cert.encoded_len, false, why) : err;
    err = err == 0 ? save_trust(n->dir, &w->orgs[0], why) : err;
    err = err == 0 ? save_trust(n->dir, &w->orgs[1], why) : err;
out:
    sodium_memzero(secret, sizeof secret);
    gm_node_keys_wipe(&k);
    return err;
}

/* ---- node lifecycle ---- */

static uint64_t sim_wall(void *ctx)
{
    sim_world_t *w = ctx;

    return SIM_EPOCH + (sim_clock_ms() - w->start_ms) / 1000;
}

static int node_start(sim_world_t *w, sim_node_t *n, gm_why_t *why)
{
    gm_node_config_t cfg = w->base;
    uint32_t peers[GM_MAX_ADDRS];
    /* the stores are SQLite memory databases: the same code and queries, without a
     * thousand write-ahead logs to write (docs/simulator.md) */
    gm_node_env_t env = {.loop = w->loop, .hub = w->hub, .wall_clock = sim_wall, .clock_ctx = w,
                         .log = w->log, .store_in_memory = true};
    int err;

    snprintf(cfg.listen[0], GM_ADDR_LEN, "mem:%s", n->name);
    cfg.n_listen = 1;
    cfg.n_peers = sim__graph_dials(w, n->index, peers, GM_MAX_ADDRS);
    for (size_t k = 0; k < cfg.n_peers; k++) {
        snprintf(cfg.peers[k], GM_ADDR_LEN, "mem:%s", w->nodes[peers[k]].name);
    }
    err = gm_node_new(&env, n->dir, &cfg, &n->node, why);
    err = err == 0 ? gm_mesh_new(n->node, &n->mesh, why) : err;
    err = err == 0 ? gm_messenger_new(n->node, n->mesh, &n->msgr, why) : err;
    if (err == 0) {
        n->up = true;
        if (w->traffic != NULL) {
            sim_traffic_attach(w->traffic, n);
        }
        err = gm_node_start(n->node, why);
    }
    return err;
}

static void on_stopped(gm_node_t *node, void *arg)
{
    sim_node_t *n = arg;

    (void)node;
    n->stopping = false;
}

/* Stops node n; crash: first breaks its links and rolls back what it had not committed. */
static void node_stop(sim_world_t *w, sim_node_t *n, bool crash)
{
    if (!n->up) {
        return;
    }
    if (crash) {
        if (w->traffic != NULL) {
            sim_traffic_crashed(w->traffic, n);
        }
        n->up = false; /* the radio no longer reaches it */
        gm_mesh_abort(n->mesh);
        gm_mem_hub_recheck(w->hub);
    }
    for (uint32_t c = 0; c < GM_NODE_CHANNELS; c++) {
        n->sent_bytes_base[c] += gm_node_sent_bytes(n->node, c);
    }
    n->stopping = true;
    gm_node_stop(n->node, on_stopped, n);
    for (unsigned turns = 1; n->stopping; turns++) {
        uv_run(w->loop, UV_RUN_NOWAIT);
        if (turns % 1000 == 0) { /* closing waits for a timer: let simulated time pass */
            sim_clock_set_ms(sim_clock_ms() + 10);
        }
    }
    n->up = false;
    gm_messenger_free(n->msgr);
    gm_mesh_free(n->mesh);
    gm_node_free(n->node);
    n->msgr = NULL;
    n->mesh = NULL;
    n->node = NULL;
}

/* ---- events ---- */

static void add_cut(sim_world_t *w, uint32_t a, uint32_t b, bool cut)
{
    uint64_t key = a < b ? (uint64_t)a << 32 | b : (uint64_t)b << 32 | a;

    for (size_t i = 0; i < w->n_cuts; i++) {
        if (w->cuts[i] == key) {
            if (!cut) {
                w->cuts[i] = w->cuts[--w->n_cuts];
            }
            return;
        }
    }
    if (cut) {
        uint64_t *p = realloc(w->cuts, (w->n_cuts + 1) * sizeof *p);
        if (p != NULL) {
            w->cuts = p;
            w->cuts[w->n_cuts++] = key;
            w->st.cuts++;
        }
    }
}

static void crash_random(sim_world_t *w, uint32_t count)
{
    for (uint32_t k = 0, tries = 0; k < count && tries < 100 * count; tries++) {
        sim_node_t *n = &w->nodes[sim_rng_below(&w->rng, (uint32_t)w->n)];

        if (n->up) {
            node_stop(w, n, true);
            w->st.crashes++;
            k++;
        }
    }
}

static void run_event(sim_world_t *w, const sim_event_t *e, uint64_t now_ms)
{
    gm_why_t why;

    switch (e->kind) {
    case EV_CUT:
    case EV_RESTORE:
        add_cut(w, e->a, e->b, e->kind == EV_CUT);
        break;
    case EV_PARTITION:
        w->partitioned = true;
        w->part_x = e->x;
        w->st.partitions++;
        break;
    case EV_HEAL:
        w->partitioned = false;
        break;
    case EV_CRASH:
        crash_random(w, e->a);
        break;
    case EV_CRASH_NODE:
        if (e->a < w->n && w->nodes[e->a].up) {
            node_stop(w, &w->nodes[e->a], true);
            w->st.crashes++;
        }
        break;
    case EV_RESTART:
        for (size_t i = 0; i < w->n; i++) {
            if (!w->nodes[i].up) {
                if (node_start(w, &w->nodes[i], &why) != 0) {
                    fprintf(w->log, "gm-sim: %s did not restart: %s\n", w->nodes[i].name, why.msg);
                } else {
                    w->st.restarts++;
                }
            }
        }
        break;
    }
    gm_mem_hub_recheck(w->hub);
    sim__graph_changed(w, now_ms);
}

/* Each node's store size: the peak over the run, sampled every simulated second. */
static void sample(sim_world_t *w)
{
    for (size_t i = 0; i < w->n; i++) {
        sim_node_t *n = &w->nodes[i];
        gm_store_stats_t s;

        if (!n->up) {
            continue;
        }
        gm_mesh_store_stats(n->mesh, &s);
        n->store_peak_bytes = s.bytes > n->store_peak_bytes ? s.bytes : n->store_peak_bytes;
        n->store_peak_bundles = s.bundles > n->store_peak_bundles ? s.bundles : n->store_peak_bundles;
        w->st.links_up_sum += gm_node_link_count(n->node);
    }
    w->st.link_samples++;
}

void sim_world_step(sim_world_t *w, uint64_t now_ms)
{
    uint64_t t = now_ms - w->start_ms;

    while (w->next_event < w->sc->n_events && w->sc->events[w->next_event].at_ms <= t) {
        run_event(w, &w->sc->events[w->next_event++], now_ms);
    }
    if (w->n > w->n_static && t >= w->next_vehicle_ms) {
        if (sim__graph_move_vehicles(w, t)) {
            w->st.vehicle_moves++;
            gm_mem_hub_recheck(w->hub);
            sim__graph_changed(w, now_ms);
        }
        w->next_vehicle_ms = sim__graph_next_move(w, t);
    }
    if (t >= w->next_sample_ms) {
        sample(w);
        w->next_sample_ms = t + 1000;
    }
    sim__graph_probe(w, now_ms);
}

uint64_t sim_world_next_ms(const sim_world_t *w)
{
    uint64_t next = w->start_ms + w->next_sample_ms;

    if (w->next_event < w->sc->n_events) {
        uint64_t e = w->start_ms + w->sc->events[w->next_event].at_ms;
        next = e < next ? e : next;
    }
    if (w->n > w->n_static && w->start_ms + w->next_vehicle_ms < next) {
        next = w->start_ms + w->next_vehicle_ms;
    }
    if (w->probing && w->next_probe_ms < next) {
        next = w->next_probe_ms;
    }
    return next;
}

/* ---- making and ending the world ---- */

static int apply_settings(sim_world_t *w, gm_why_t *why)
{
    gm_node_config_t *c = &w->base;

    gm_config_defaults(c);
    snprintf(c->control_socket, sizeof c->control_socket, "none");
    c->discovery = false;
    c->log_level = GM_LOG_WARN;
    for (size_t i = 0; i < w->sc->n_settings; i++) {
        char section[96];
        const char *key = w->sc->settings[i][0], *dot = strchr(key, '.');

        if (dot == NULL || (size_t)(dot - key) >= sizeof section) {
            gm_why_set(why, "[node] %s: want section.key", key);
            return GM_EPROTO;
        }
        snprintf(section, sizeof section, "%.*s", (int)(dot - key), key);
        if (gm_config_set(c, section, dot + 1, w->sc->settings[i][1], why) != 0) {
            return GM_EPROTO;
        }
    }
    return gm_config_validate(c, why);
}

static int make_nodes(sim_world_t *w, gm_why_t *why)
{
    int err = 0;

    w->n_static = w->sc->nodes;
    w->n = w->n_static + (w->sc->topo == TOPO_CLUSTERS ? w->sc->vehicles : 0);
    w->nodes = calloc(w->n, sizeof *w->nodes);
    w->comp = calloc(w->n, sizeof *w->comp);
    w->queue = calloc(w->n, sizeof *w->queue);
    if (w->nodes == NULL || w->comp == NULL || w->queue == NULL) {
        gm_why_set(why, "out of memory");
        return GM_ENOMEM;
    }
    for (uint32_t i = 0; i < w->n; i++) {
        sim_node_t *n = &w->nodes[i];

        n->index = i;
        n->vehicle = i >= w->n_static;
        n->cluster2 = -1;
        snprintf(n->name, sizeof n->name, "n%u", i);
        snprintf(n->dir, sizeof n->dir, "%s/%s", w->workdir, n->name);
        snprintf(n->address, sizeof n->address, "%s@%s", n->name, org_names[i % 2]);
    }
    err = sim__graph_build(w);
    if (err != 0) {
        gm_why_set(why, "cannot build the topology: out of memory");
        return err;
    }
    if (w->n > w->n_static) {
        sim__graph_move_vehicles(w, 0);
        w->next_vehicle_ms = sim__graph_next_move(w, 0);
    }
    for (size_t i = 0; err == 0 && i < w->n; i++) {
        err = make_node_dir(w, &w->nodes[i], why);
    }
    return err;
}

int sim_world_new(const sim_scenario_t *sc, const char *workdir, uv_loop_t *loop,
                  sim_world_t **out, gm_why_t *why)
{
    sim_world_t *w = calloc(1, sizeof *w);
    char path[GM_PATH_MAX];
    int err;

    if (w == NULL) {
        gm_why_set(why, "out of memory");
        return GM_ENOMEM;
    }
    w->sc = sc;
    w->loop = loop;
    w->rng.s = sc->seed;
    w->radio_rng.s = sc->seed ^ 0x5eed5eed5eed5eedull;
    snprintf(w->workdir, sizeof w->workdir, "%s", workdir);
    snprintf(path, sizeof path, "%s/nodes.log", workdir);
    w->log = fopen(path, "w");
    err = w->log == NULL ? GM_EIO : 0;
    if (err != 0) {
        gm_why_set(why, "%s: cannot create it", path);
    }
    err = err == 0 ? apply_settings(w, why) : err;
    err = err == 0 ? make_org(&w->orgs[0], org_names[0], why) : err;
    err = err == 0 ? make_org(&w->orgs[1], org_names[1], why) : err;
    err = err == 0 ? make_nodes(w, why) : err;
    err = err == 0 ? gm_mem_hub_new(loop, &w->hub) : err;
    if (err != 0) {
        sim_world_free(w);
        return err;
    }
    gm_mem_hub_set_model(w->hub, &(gm_mem_model_t){on_reachable, on_delay}, w);
    w->start_ms = sim_clock_ms();
    uv_update_time(loop);
    for (size_t i = 0; err == 0 && i < w->n; i++) {
        err = node_start(w, &w->nodes[i], why);
    }
    if (err != 0) {
        sim_world_stop(w);
        sim_world_free(w);
        return err;
    }
    sim__graph_changed(w, w->start_ms);
    *out = w;
    return 0;
}

void sim_world_stop(sim_world_t *w)
{
    for (size_t i = 0; i < w->n; i++) {
        node_stop(w, &w->nodes[i], false);
    }
}

void sim_world_free(sim_world_t *w)
{
    if (w == NULL) {
        return;
    }
    if (w->hub != NULL) {
        gm_mem_hub_free(w->hub);
        uv_run(w->loop, UV_RUN_DEFAULT);
    }
    sim__graph_free(w);
    for (size_t i = 0; w->nodes != NULL && i < w->n; i++) {
        gm_store_memory_release(w->nodes[i].store_hold);
    }
    free(w->st.converge_ms);
    free(w->nodes);
    if (w->log != NULL) {
        fclose(w->log);
    }
    sodium_memzero(w->orgs, sizeof w->orgs);
    free(w);
}

size_t sim_world_count(const sim_world_t *w)
{
    return w->n;
}

sim_node_t *sim_world_node(sim_world_t *w, size_t i)
{
    return &w->nodes[i];
}

uint64_t sim_world_start_ms(const sim_world_t *w)
{
    return w->start_ms;
}

void sim_world_set_traffic(sim_world_t *w, sim_traffic_t *t)
{
    w->traffic = t;
    for (size_t i = 0; i < w->n; i++) {
        if (w->nodes[i].up) {
            sim_traffic_attach(t, &w->nodes[i]);
        }
    }
}

void sim_world_stats(sim_world_t *w, sim_world_stats_t *out)
{
    sample(w);
    *out = w->st;
    for (size_t i = 0; i < w->n; i++) {
        const sim_node_t *n = &w->nodes[i];

        for (uint32_t c = 0; c < GM_NODE_CHANNELS; c++) {
            out->sent_by_channel[c] += n->sent_bytes_base[c] +
                                       (n->up ? gm_node_sent_bytes(n->node, c) : 0);
        }
        out->store_peak_bytes = n->store_peak_bytes > out->store_peak_bytes ? n->store_peak_bytes
                                                                             : out->store_peak_bytes;
        if (n->up) {
            gm_router_stats_t rs;

            gm_router_stats(gm_mesh_router(n->mesh), &rs);
            for (int v = 0; v < GM_ROUTER_VERDICT_COUNT; v++) {
                out->verdicts[v] += rs.verdicts[v];
            }
            out->link_downs += gm_node_events(n->node, GM_EVENT_LINK_DOWN);
            out->announcements += rs.announcements;
            gm_mesh_stats_t ms;
            gm_mesh_stats(n->mesh, &ms);
            out->routes_deferred += ms.routes_deferred;
            out->routes_short += ms.routes_short;
        }
        out->store_peak_bundles = n->store_peak_bundles > out->store_peak_bundles
                                      ? n->store_peak_bundles
                                      : out->store_peak_bundles;
    }
}

/* The simulated world, shared by world.c (nodes, events) and graph.c (the radio). */
#ifndef GM_SIM_WORLD_INTERNAL_H
#define GM_SIM_WORLD_INTERNAL_H

#include "crypto/cert.h"
#include "tools/sim/sim.h"

#define SIM_EPOCH 1767225600ull /* 2026-01-01T00:00:00Z: the simulated wall clock's start */

typedef struct {
    uint8_t seed[GM_SEED_LEN];
    gm_root_t root;
    uint64_t next_serial;
} sim_org_t;

struct sim_world {
    const sim_scenario_t *sc;
    uv_loop_t *loop;
    gm_mem_hub_t *hub;
    FILE *log;
    char workdir[400]; /* leaves room for a node's name in sim_node_t.dir */
    sim_org_t orgs[2];
    gm_node_config_t base;
    sim_rng_t rng;       /* topology, events */
    sim_rng_t radio_rng; /* losses */
    uint64_t start_ms;   /* loop time of simulated second 0 */
    sim_node_t *nodes;
    size_t n, n_static; /* vehicles come after the static nodes */
    uint32_t (*gates)[2]; /* clusters: the nodes of each cluster a vehicle can reach */
    size_t n_gates;       /* per cluster */
    uint64_t *cuts;       /* cut pairs, (low << 32 | high), unsorted */
    size_t n_cuts;
    bool partitioned;
    double part_x;
    size_t next_event;
    uint64_t next_vehicle_ms, next_sample_ms;
    /* a convergence probe after a change */
    bool probing;
    uint64_t change_ms, next_probe_ms;
    uint32_t *comp, *queue; /* scratch for components */
    size_t conv_cap;
    sim_traffic_t *traffic;
    sim_world_stats_t st;
};

/* ---- graph.c ---- */
/* Places the nodes and builds the radio graph (and the clusters' gates). */
GM_MUST_CHECK int sim__graph_build(sim_world_t *w);
void sim__graph_free(sim_world_t *w);
/* Where each vehicle is at t_ms (since start); true if any moved since the last call. */
bool sim__graph_move_vehicles(sim_world_t *w, uint64_t t_ms);
/* The next time (since start) a vehicle arrives or leaves; UINT64_MAX if none. */
uint64_t sim__graph_next_move(const sim_world_t *w, uint64_t t_ms);
/* Whether nodes a and b can reach each other now (graph, cuts, partition, up). */
bool sim__graph_reachable(const sim_world_t *w, uint32_t a, uint32_t b);
/* Nodes node i dials: its neighbours above it, and a vehicle's gates. */
size_t sim__graph_dials(const sim_world_t *w, uint32_t i, uint32_t *out, size_t cap);
/* Starts (or restarts) the convergence probe after a change at now_ms. */
void sim__graph_changed(sim_world_t *w, uint64_t now_ms);
/* Checks the sampled nodes' routes against the graph; ends the probe when they agree. */
void sim__graph_probe(sim_world_t *w, uint64_t now_ms);

#endif

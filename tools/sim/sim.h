/*
 * gm-sim: many real nodes (node, mesh, messenger: the production code) in one
 * process over the in-memory transport, on a simulated clock. The scenario
 * (scenario.c) says the topology, the radio, the events and the traffic;
 * world.c makes and runs the nodes; traffic.c sends and follows messages;
 * report.c prints what happened.
 */
#ifndef GM_SIM_H
#define GM_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "node/config.h"
#include "node/messenger.h"
#include "node/router.h"

#define SIM_MAX_NODES 5000
#define SIM_MAX_EVENTS 256
#define SIM_MAX_SETTINGS 32
#define SIM_MAX_GROUPS 64
#define SIM_MAX_GROUP_SIZE 32
#define SIM_PROBE_SAMPLE 32          /* nodes whose routes a convergence probe checks */
#define SIM_CONVERGE_LIMIT_MS 600000 /* a change not converged by then is reported so */

typedef struct sim_world sim_world_t;
typedef struct sim_traffic sim_traffic_t;

typedef enum { TOPO_CHAIN, TOPO_GRID, TOPO_GEOMETRIC, TOPO_CLUSTERS } sim_topo_t;

typedef enum { EV_CUT, EV_RESTORE, EV_PARTITION, EV_HEAL, EV_CRASH, EV_CRASH_NODE, EV_RESTART } sim_ev_kind_t;

typedef struct {
    uint64_t at_ms;
    sim_ev_kind_t kind;
    uint32_t a, b; /* nodes (cut, restore, crash node), a count (crash) */
    double x;      /* partition: nodes left of x cannot reach nodes right of it */
} sim_event_t;

typedef enum { CLASS_TEXT, CLASS_GROUP, CLASS_POSITION, CLASS_ALERT, CLASS_COUNT } sim_class_t;

typedef struct {
    char path[512];
    uint64_t seed;
    uint32_t duration_s;
    uint32_t nodes;
    sim_topo_t topo;
    double radius;       /* geometric, clusters: radio range in the unit square */
    uint32_t max_links;  /* links a node dials at most (nearest first) */
    uint32_t clusters, vehicles, dwell_s, travel_s;
    double loss;         /* chance a packet is lost and sent again */
    uint32_t delay_ms, retransmit_ms;
    uint32_t packet_bytes; /* writes are split into packets of this size for losses */
    /* traffic */
    uint32_t traffic_start_s, traffic_stop_s;
    double texts_per_min;
    uint32_t groups, group_size;
    uint32_t group_delay_s; /* from creating the groups to their first message */
    double group_msgs_per_min;
    uint32_t position_nodes, position_every_s;
    bool positions_to_all;
    uint32_t alerts;
    /* node configuration over the defaults: "section.key" = value */
    char settings[SIM_MAX_SETTINGS][2][96];
    size_t n_settings;
    sim_event_t events[SIM_MAX_EVENTS];
    size_t n_events;
} sim_scenario_t;

/* Reads a scenario file over the defaults; on error *why says "FILE:LINE: problem". */
int sim_scenario_load(sim_scenario_t *s, const char *path, gm_why_t *why);
void sim_scenario_defaults(sim_scenario_t *s);

/* A deterministic generator (splitmix64): the simulator's own choices. */
typedef struct {
    uint64_t s;
} sim_rng_t;

uint64_t sim_rng_next(sim_rng_t *r);
double sim_rng_unit(sim_rng_t *r); /* [0, 1) */
uint32_t sim_rng_below(sim_rng_t *r, uint32_t n);


/* One simulated node. */
typedef struct {
    uint32_t index;
    uint8_t id[GM_ID_LEN];
    sim_traffic_t *traffic; /* follows its arrivals */
    char name[16];     /* "n42": its mem: address and callsign */
    char dir[512];
    char address[32];  /* CALLSIGN@ORG */
    double x, y;
    bool vehicle;
    int cluster;       /* clusters topology: its cluster, or the one a vehicle is at */
    int cluster2;      /* a vehicle on the road: the cluster it drives to (-1 when parked) */
    uint32_t *nbr;     /* neighbours in the radio graph, sorted */
    size_t n_nbr;
    bool up, stopping;
    gm_node_t *node;
    gm_mesh_t *mesh;
    gm_messenger_t *msgr;
    uint64_t store_peak_bytes, store_peak_bundles;
    uint64_t sent_bytes_base[GM_NODE_CHANNELS]; /* counters of earlier lives */
    void *store_hold; /* keeps its memory store through crashes (gm_store_memory_hold) */
} sim_node_t;

/* ---- world.c ---- */
GM_MUST_CHECK int sim_world_new(const sim_scenario_t *sc, const char *workdir, uv_loop_t *loop,
                                sim_world_t **out, gm_why_t *why);
void sim_world_free(sim_world_t *w);
/* Runs the world's own actions due at now_ms (events, vehicles, probes, samples). */
void sim_world_step(sim_world_t *w, uint64_t now_ms);
uint64_t sim_world_next_ms(const sim_world_t *w);
/* Stops every node (a clean shutdown) and runs the loop until they are gone. */
void sim_world_stop(sim_world_t *w);
size_t sim_world_count(const sim_world_t *w);
sim_node_t *sim_world_node(sim_world_t *w, size_t i);
uint64_t sim_world_start_ms(const sim_world_t *w);
void sim_world_set_traffic(sim_world_t *w, sim_traffic_t *t);

typedef struct {
    uint64_t links, links_added;   /* radio graph edges; added to join components */
    uint64_t components;           /* of the radio graph before joining */
    uint64_t wire_bytes;           /* written by the nodes' links (frames, handshakes) */
    uint64_t air_bytes, air_packets, retransmits; /* with the packets sent again */
    uint64_t crashes, restarts, cuts, partitions, vehicle_moves;
    uint64_t changes, converged, not_converged, interrupted;
    uint64_t *converge_ms;         /* one per converged change */
    uint64_t sent_by_channel[GM_NODE_CHANNELS];
    uint64_t store_peak_bytes, store_peak_bundles; /* the largest of any node */
    uint64_t links_up_sum, link_samples;
    uint64_t same_instant_limit;   /* loop turns cut short at one instant (should be 0) */
    uint64_t verdicts[GM_ROUTER_VERDICT_COUNT]; /* route updates judged, all nodes, this life */
    uint64_t link_downs, announcements, routes_deferred, routes_short;
} sim_world_stats_t;

void sim_world_stats(sim_world_t *w, sim_world_stats_t *out);

/* ---- traffic.c ---- */
GM_MUST_CHECK int sim_traffic_new(const sim_scenario_t *sc, sim_world_t *w, sim_traffic_t **out);
void sim_traffic_free(sim_traffic_t *t);
void sim_traffic_step(sim_traffic_t *t, uint64_t now_ms);
uint64_t sim_traffic_next_ms(const sim_traffic_t *t);
/* A node was started (again): follow its arrivals. */
void sim_traffic_attach(sim_traffic_t *t, sim_node_t *n);
/* A node crashed: what it received but had not made durable is forgotten. */
void sim_traffic_crashed(sim_traffic_t *t, sim_node_t *n);

typedef struct {
    uint64_t messages, refused, sender_down;
    uint64_t expected, delivered, duplicates, unexpected, to_down_nodes;
    uint64_t *latency_ms; /* one per delivery */
    size_t n_latency;
    char first_refusal[160];
} sim_class_stats_t;

/* Messages sent and arrivals seen so far, for the progress line. */
void sim_traffic_progress(const sim_traffic_t *t, uint64_t *sent, uint64_t *arrived);

/* Lists up to max deliveries still missing (to nodes that are up). */
void sim_traffic_list_missing(sim_traffic_t *t, FILE *f, size_t max);

/* Takes stock at the end: deliveries to nodes that are up and durable. */
void sim_traffic_stats(sim_traffic_t *t, sim_class_stats_t out[CLASS_COUNT]);

const char *sim_class_name(sim_class_t c);

/* ---- report.c ---- */
typedef struct {
    const sim_scenario_t *sc;
    sim_world_stats_t world;
    sim_class_stats_t cls[CLASS_COUNT];
    double wall_s, cpu_s;
    uint64_t peak_rss_kib;
    uint64_t workdir_bytes;
    uint64_t sim_ms;
} sim_report_t;

void sim_report_table(FILE *f, const sim_report_t *r);
/* 0, or GM_ENOMEM */
GM_MUST_CHECK int sim_report_json(FILE *f, const sim_report_t *r);
/* The share of deliveries made, 1.0 when none was expected. */
double sim_report_ratio(const sim_class_stats_t *c);

#endif

/*
 * Scenario files: INI, parsed with inih like node configuration.
 *
 *   [sim]      seed, duration_s, nodes, topology (chain | grid | geometric |
 *              clusters), radius, max_links, clusters, vehicles, dwell_s,
 *              travel_s
 *   [radio]    loss, delay_ms, retransmit_ms, packet_bytes
 *   [traffic]  start_s, stop_s, texts_per_min, groups, group_size,
 *              group_delay_s, group_msgs_per_min, position_nodes, position_every_s,
 *              positions_to (group | all), alerts
 *   [node]     any node setting as "section.key = value" (docs/config.md)
 *   [events]   "at = SECONDS ACTION", ACTION one of: cut A B, restore A B,
 *              partition X, heal, crash N (N random nodes), crash node I,
 *              restart (every crashed node)
 */
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/sim/sim.h"

void sim_scenario_defaults(sim_scenario_t *s)
{
    memset(s, 0, sizeof *s);
    s->seed = 1;
    s->duration_s = 600;
    s->nodes = 20;
    s->topo = TOPO_CHAIN;
    s->radius = 0.1;
    s->max_links = 12;
    s->clusters = 3;
    s->vehicles = 1;
    s->dwell_s = 120;
    s->travel_s = 60;
    s->delay_ms = 10;
    s->retransmit_ms = 200;
    s->packet_bytes = 1400;
    s->traffic_start_s = 60;
    s->traffic_stop_s = 480;
    s->texts_per_min = 10;
    s->group_size = 8;
    s->group_delay_s = 60;
    s->position_every_s = 60;
}

typedef struct {
    sim_scenario_t *s;
    char error[200];
} load_ctx_t;

static bool parse_u32(const char *v, uint32_t max, uint32_t *out)
{
    char *end;
    unsigned long long x;

    errno = 0;
    x = strtoull(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || x > max || v[0] == '-') {
        return false;
    }
    *out = (uint32_t)x;
    return true;
}

static bool parse_double(const char *v, double lo, double hi, double *out)
{
    char *end;
    double x;

    errno = 0;
    x = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !isfinite(x) || x < lo || x > hi) {
        return false;
    }
    *out = x;
    return true;
}

static bool parse_topology(const char *v, sim_topo_t *out)
{
    static const char *names[] = {"chain", "grid", "geometric", "clusters"};

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(v, names[i]) == 0) {
            *out = (sim_topo_t)i;
            return true;
        }
    }
    return false;
}

typedef struct {
    const char *key;
    uint32_t *p, min, max;
} u32_key_t;

/* Sets the table's key k to v; false for another key or a value out of range. */
static bool set_u32(const u32_key_t *keys, size_t n, const char *k, const char *v)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(k, keys[i].key) == 0) {
            return parse_u32(v, keys[i].max, keys[i].p) && *keys[i].p >= keys[i].min;
        }
    }
    return false;
}

/* "SECONDS ACTION ARGS" */
static bool parse_event(sim_scenario_t *s, const char *v)
{
    sim_event_t e = {0};
    char action[16], arg1[16] = "";
    double at;
    unsigned a = 0, b = 0;
    int n = sscanf(v, "%lf %15s %15s %u", &at, action, arg1, &b);

    if (n < 2 || at < 0 || at > 30 * 86400.0 || s->n_events == SIM_MAX_EVENTS) {
        return false;
    }
    e.at_ms = (uint64_t)(at * 1000);
    if (strcmp(action, "cut") == 0 || strcmp(action, "restore") == 0) {
        e.kind = action[0] == 'c' ? EV_CUT : EV_RESTORE;
        if (n != 4 || sscanf(arg1, "%u", &a) != 1) {
            return false;
        }
    } else if (strcmp(action, "partition") == 0) {
        e.kind = EV_PARTITION;
        if (n != 3 || !parse_double(arg1, 0, 1, &e.x)) {
            return false;
        }
    } else if (strcmp(action, "heal") == 0 && n == 2) {
        e.kind = EV_HEAL;
    } else if (strcmp(action, "restart") == 0 && n == 2) {
        e.kind = EV_RESTART;
    } else if (strcmp(action, "crash") == 0 && n == 3 && sscanf(arg1, "%u", &a) == 1) {
        e.kind = EV_CRASH;
    } else if (strcmp(action, "crash") == 0 && n == 4 && strcmp(arg1, "node") == 0) {
        e.kind = EV_CRASH_NODE;
        a = b;
    } else {
        return false;
    }
    e.a = a;
    e.b = b;
    s->events[s->n_events++] = e;
    return true;
}

static bool set_sim(sim_scenario_t *s, const char *k, const char *v)
{
    uint32_t seed32 = 0;

    if (strcmp(k, "seed") == 0) {
        if (!parse_u32(v, UINT32_MAX, &seed32)) {
            return false;
        }
        s->seed = seed32;
        return true;
    }
    if (strcmp(k, "topology") == 0) {
        return parse_topology(v, &s->topo);
    }
    if (strcmp(k, "radius") == 0) {
        return parse_double(v, 0.001, 1.5, &s->radius);
    }
    const u32_key_t u[] = {
        {"duration_s", &s->duration_s, 1, 30 * 86400},
        {"nodes", &s->nodes, 2, SIM_MAX_NODES},
        {"max_links", &s->max_links, 1, GM_MAX_ADDRS},
        {"clusters", &s->clusters, 1, 16},
        {"vehicles", &s->vehicles, 0, 16},
        {"dwell_s", &s->dwell_s, 1, 86400},
        {"travel_s", &s->travel_s, 0, 86400},
    };
    return set_u32(u, sizeof u / sizeof u[0], k, v);
}

static bool set_radio(sim_scenario_t *s, const char *k, const char *v)
{
    if (strcmp(k, "loss") == 0) {
        return parse_double(v, 0, 0.5, &s->loss);
    }
    if (strcmp(k, "delay_ms") == 0) {
        return parse_u32(v, 60000, &s->delay_ms);
    }
    if (strcmp(k, "retransmit_ms") == 0) {
        return parse_u32(v, 60000, &s->retransmit_ms);
    }
    if (strcmp(k, "packet_bytes") == 0) {
        return parse_u32(v, 65536, &s->packet_bytes) && s->packet_bytes >= 64;
    }
    return false;
}

static bool set_traffic(sim_scenario_t *s, const char *k, const char *v)
{
    if (strcmp(k, "texts_per_min") == 0) {
        return parse_double(v, 0, 100000, &s->texts_per_min);
    }
    if (strcmp(k, "group_msgs_per_min") == 0) {
        return parse_double(v, 0, 100000, &s->group_msgs_per_min);
    }
    if (strcmp(k, "positions_to") == 0) {
        s->positions_to_all = strcmp(v, "all") == 0;
        return s->positions_to_all || strcmp(v, "group") == 0;
    }
    const u32_key_t u[] = {
        {"start_s", &s->traffic_start_s, 0, 30 * 86400},
        {"stop_s", &s->traffic_stop_s, 0, 30 * 86400},
        {"groups", &s->groups, 0, SIM_MAX_GROUPS},
        {"group_size", &s->group_size, 2, SIM_MAX_GROUP_SIZE},
        {"group_delay_s", &s->group_delay_s, 0, 86400},
        {"position_nodes", &s->position_nodes, 0, SIM_MAX_NODES},
        {"position_every_s", &s->position_every_s, 1, 86400},
        {"alerts", &s->alerts, 0, 10000},
    };
    return set_u32(u, sizeof u / sizeof u[0], k, v);
}

static int on_ini(void *user, const char *section, const char *key, const char *value)
{
    load_ctx_t *c = user;
    sim_scenario_t *s = c->s;
    bool ok;

    if (strcmp(section, "sim") == 0) {
        ok = set_sim(s, key, value);
    } else if (strcmp(section, "radio") == 0) {
        ok = set_radio(s, key, value);
    } else if (strcmp(section, "traffic") == 0) {
        ok = set_traffic(s, key, value);
    } else if (strcmp(section, "events") == 0) {
        ok = strcmp(key, "at") == 0 && parse_event(s, value);
    } else if (strcmp(section, "node") == 0) {
        ok = s->n_settings < SIM_MAX_SETTINGS && strlen(key) < sizeof s->settings[0][0] &&
             strlen(value) < sizeof s->settings[0][1];
        if (ok) {
            snprintf(s->settings[s->n_settings][0], sizeof s->settings[0][0], "%s", key);
            snprintf(s->settings[s->n_settings][1], sizeof s->settings[0][1], "%s", value);
            s->n_settings++;
        }
    } else {
        snprintf(c->error, sizeof c->error, "unknown section [%s]", section);
        return 0;
    }
    if (!ok) {
        snprintf(c->error, sizeof c->error, "[%s] %s = %s: unknown key or bad value", section,
                 key, value);
    }
    return ok;
}

int sim_scenario_load(sim_scenario_t *s, const char *path, gm_why_t *why)
{
    load_ctx_t c = {s, ""};
    int line = ini_parse(path, on_ini, &c);

    snprintf(s->path, sizeof s->path, "%s", path);
    if (line < 0) {
        gm_why_set(why, "%s: cannot read it", path);
        return GM_EIO;
    }
    if (line > 0) {
        gm_why_set(why, "%s:%d: %s", path, line, c.error[0] ? c.error : "syntax error");
        return GM_EPROTO;
    }
    if (s->traffic_stop_s > s->duration_s || s->traffic_start_s > s->traffic_stop_s ||
        (s->groups > 0 && s->traffic_start_s + s->group_delay_s > s->traffic_stop_s)) {
        gm_why_set(why, "%s: need traffic start_s + group_delay_s <= stop_s <= sim duration_s",
                   path);
        return GM_EPROTO;
    }
    if (s->topo == TOPO_CLUSTERS && s->vehicles + s->clusters * 2 > s->nodes) {
        gm_why_set(why, "%s: too few nodes for %u clusters and %u vehicles", path, s->clusters,
                   s->vehicles);
        return GM_EPROTO;
    }
    return 0;
}

/* The simulator's report: a table for people, JSON (cJSON) for scripts. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "tools/sim/sim.h"

/* Mesh channels (node/mesh.c): what each kind of upper-layer byte is. */
enum { CH_ROUTES = 64, CH_BUNDLES = 65, CH_ACKS = 66, CH_SYNC = 67, CH_CRL = 68 };

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* The p-th percentile (nearest rank) of v, sorted in place; 0 for none. */
static uint64_t percentile(uint64_t *v, size_t n, double p)
{
    size_t rank;

    if (n == 0) {
        return 0;
    }
    qsort(v, n, sizeof *v, cmp_u64);
    rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    return v[rank == 0 ? 0 : rank - 1];
}

double sim_report_ratio(const sim_class_stats_t *c)
{
    uint64_t want = c->expected - c->to_down_nodes;

    return want == 0 ? 1.0 : (double)c->delivered / (double)want;
}

typedef struct {
    uint64_t delivered, control, routes, sync, crl, bundles, acks, data;
    double minutes;
} totals_t;

static void totals(const sim_report_t *r, totals_t *t)
{
    const uint64_t *ch = r->world.sent_by_channel;

    memset(t, 0, sizeof *t);
    for (int c = 0; c < CLASS_COUNT; c++) {
        t->delivered += r->cls[c].delivered;
    }
    t->routes = ch[CH_ROUTES];
    t->sync = ch[CH_SYNC];
    t->crl = ch[CH_CRL];
    t->bundles = ch[CH_BUNDLES];
    t->acks = ch[CH_ACKS];
    t->control = t->routes + t->sync + t->crl;
    for (int c = 0; c < GM_NODE_CHANNELS; c++) {
        t->data += ch[c];
    }
    t->minutes = (double)r->sim_ms / 60000.0;
}

static uint64_t dropped(const sim_world_stats_t *w)
{
    uint64_t n = 0;

    for (int v = GM_ROUTER_MALFORMED; v < GM_ROUTER_VERDICT_COUNT; v++) {
        n += w->verdicts[v];
    }
    return n;
}

static double share(uint64_t part, uint64_t whole)
{
    return whole == 0 ? 0 : 100.0 * (double)part / (double)whole;
}

void sim_report_table(FILE *f, const sim_report_t *r)
{
    const sim_world_stats_t *w = &r->world;
    uint64_t n = r->sc->nodes;
    totals_t t;

    totals(r, &t);
    fprintf(f, "gm-sim: %s, seed %llu: %llu nodes, %.1f simulated minutes\n", r->sc->path,
            (unsigned long long)r->sc->seed, (unsigned long long)n, t.minutes);
    fprintf(f, "  radio graph: %llu links (%llu added to join %llu pieces), loss %.1f%%, "
               "delay %u ms, %llu packets sent again\n",
            (unsigned long long)w->links, (unsigned long long)w->links_added,
            (unsigned long long)w->components, 100 * r->sc->loss, r->sc->delay_ms,
            (unsigned long long)w->retransmits);
    fprintf(f, "\n  %-9s %8s %8s %10s %10s %8s %8s %8s %8s %5s\n", "class", "sent", "not sent",
            "expected", "delivered", "ratio", "p50 ms", "p95 ms", "p99 ms", "dup");
    for (int c = 0; c < CLASS_COUNT; c++) {
        sim_class_stats_t s = r->cls[c];

        fprintf(f, "  %-9s %8llu %8llu %10llu %10llu %8.4f %8llu %8llu %8llu %5llu\n",
                sim_class_name((sim_class_t)c), (unsigned long long)s.messages,
                (unsigned long long)(s.refused + s.sender_down),
                (unsigned long long)(s.expected - s.to_down_nodes),
                (unsigned long long)s.delivered, sim_report_ratio(&s),
                (unsigned long long)percentile(s.latency_ms, s.n_latency, 50),
                (unsigned long long)percentile(s.latency_ms, s.n_latency, 95),
                (unsigned long long)percentile(s.latency_ms, s.n_latency, 99),
                (unsigned long long)s.duplicates);
        if (s.first_refusal[0] != '\0') {
            fprintf(f, "  %-9s first refusal: %s\n", "", s.first_refusal);
        }
        if (s.unexpected + s.to_down_nodes + s.sender_down > 0) {
            fprintf(f, "  %-9s %llu unexpected arrivals, %llu to nodes down at the end, "
                       "%llu not sent (sender down)\n", "", (unsigned long long)s.unexpected,
                    (unsigned long long)s.to_down_nodes, (unsigned long long)s.sender_down);
        }
    }
    fprintf(f, "\n  bytes on air: %.1f MB, %.0f per delivered message\n", w->air_bytes / 1e6,
            t.delivered ? (double)w->air_bytes / (double)t.delivered : 0.0);
    fprintf(f, "  of the links' bytes: bundles %.1f%%, custody acks %.1f%%, announcements %.1f%%, "
               "sync %.1f%%, revocations %.1f%%, link layer %.1f%%\n",
            share(t.bundles, w->wire_bytes), share(t.acks, w->wire_bytes),
            share(t.routes, w->wire_bytes), share(t.sync, w->wire_bytes),
            share(t.crl, w->wire_bytes), share(w->wire_bytes - t.data, w->wire_bytes));
    fprintf(f, "  control (announcements, sync, revocations): %.1f%% of traffic, %.0f bytes per "
               "node per minute\n",
            share(t.control, w->wire_bytes), t.minutes > 0 ? t.control / (double)n / t.minutes : 0);
    fprintf(f, "  announcements made: %llu; route updates judged: %llu new, %llu route only, %llu duplicates, %llu dropped; "
               "%llu sent short; %llu links went down; %llu updates waited for a full link\n",
            (unsigned long long)w->announcements,
            (unsigned long long)w->verdicts[GM_ROUTER_ACCEPTED_NEW],
            (unsigned long long)w->verdicts[GM_ROUTER_ACCEPTED_ROUTE_ONLY],
            (unsigned long long)w->verdicts[GM_ROUTER_DUPLICATE], (unsigned long long)dropped(w),
            (unsigned long long)w->routes_short, (unsigned long long)w->link_downs,
            (unsigned long long)w->routes_deferred);
    fprintf(f, "  store peak per node: %llu bytes, %llu bundles (largest of any node)\n",
            (unsigned long long)w->store_peak_bytes, (unsigned long long)w->store_peak_bundles);
    fprintf(f, "  links up: %.1f per node on average\n",
            w->link_samples ? (double)w->links_up_sum / (double)w->link_samples / (double)n : 0);
    fprintf(f, "  changes: %llu (%llu crashes, %llu restarts, %llu cuts, %llu partitions, %llu "
               "vehicle moves); routes converged after %llu of them: p50 %.1f s, max %.1f s; "
               "%llu not within %d s, %llu overtaken by the next change\n",
            (unsigned long long)w->changes, (unsigned long long)w->crashes,
            (unsigned long long)w->restarts, (unsigned long long)w->cuts,
            (unsigned long long)w->partitions, (unsigned long long)w->vehicle_moves,
            (unsigned long long)w->converged, percentile(w->converge_ms, w->converged, 50) / 1e3,
            percentile(w->converge_ms, w->converged, 100) / 1e3,
            (unsigned long long)w->not_converged, SIM_CONVERGE_LIMIT_MS / 1000,
            (unsigned long long)w->interrupted);
    fprintf(f, "  simulator: %.1f s wall, %.1f s CPU, peak RSS %.0f MiB, node directories %.0f MiB\n",
            r->wall_s, r->cpu_s, r->peak_rss_kib / 1024.0, r->workdir_bytes / 1048576.0);
}

static cJSON *class_json(sim_class_stats_t s)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddNumberToObject(o, "sent", (double)s.messages);
    cJSON_AddNumberToObject(o, "refused", (double)s.refused);
    cJSON_AddNumberToObject(o, "sender_down", (double)s.sender_down);
    cJSON_AddNumberToObject(o, "expected", (double)(s.expected - s.to_down_nodes));
    cJSON_AddNumberToObject(o, "to_down_nodes", (double)s.to_down_nodes);
    cJSON_AddNumberToObject(o, "delivered", (double)s.delivered);
    cJSON_AddNumberToObject(o, "ratio", sim_report_ratio(&s));
    cJSON_AddNumberToObject(o, "duplicates", (double)s.duplicates);
    cJSON_AddNumberToObject(o, "unexpected", (double)s.unexpected);
    cJSON_AddNumberToObject(o, "latency_p50_ms", (double)percentile(s.latency_ms, s.n_latency, 50));
    cJSON_AddNumberToObject(o, "latency_p95_ms", (double)percentile(s.latency_ms, s.n_latency, 95));
    cJSON_AddNumberToObject(o, "latency_p99_ms", (double)percentile(s.latency_ms, s.n_latency, 99));
    if (s.first_refusal[0] != '\0') {
        cJSON_AddStringToObject(o, "first_refusal", s.first_refusal);
    }
    return o;
}

int sim_report_json(FILE *f, const sim_report_t *r)
{
    const sim_world_stats_t *w = &r->world;
    cJSON *root = cJSON_CreateObject(), *cls = cJSON_AddObjectToObject(root, "classes");
    cJSON *bytes = cJSON_AddObjectToObject(root, "bytes");
    cJSON *conv = cJSON_AddObjectToObject(root, "convergence");
    cJSON *sim = cJSON_AddObjectToObject(root, "simulator");
    totals_t t;
    char *text;

    totals(r, &t);
    cJSON_AddStringToObject(root, "scenario", r->sc->path);
    cJSON_AddNumberToObject(root, "seed", (double)r->sc->seed);
    cJSON_AddNumberToObject(root, "nodes", r->sc->nodes);
    cJSON_AddNumberToObject(root, "simulated_s", (double)r->sim_ms / 1000.0);
    cJSON_AddNumberToObject(root, "links", (double)w->links);
    cJSON_AddNumberToObject(root, "links_added", (double)w->links_added);
    for (int c = 0; c < CLASS_COUNT; c++) {
        cJSON_AddItemToObject(cls, sim_class_name((sim_class_t)c), class_json(r->cls[c]));
    }
    cJSON_AddNumberToObject(bytes, "on_air", (double)w->air_bytes);
    cJSON_AddNumberToObject(bytes, "per_delivered_message",
                            t.delivered ? (double)w->air_bytes / (double)t.delivered : 0);
    cJSON_AddNumberToObject(bytes, "links_wrote", (double)w->wire_bytes);
    cJSON_AddNumberToObject(bytes, "bundles", (double)t.bundles);
    cJSON_AddNumberToObject(bytes, "custody_acks", (double)t.acks);
    cJSON_AddNumberToObject(bytes, "announcements", (double)t.routes);
    cJSON_AddNumberToObject(bytes, "sync", (double)t.sync);
    cJSON_AddNumberToObject(bytes, "revocations", (double)t.crl);
    cJSON_AddNumberToObject(bytes, "link_layer", (double)(w->wire_bytes - t.data));
    cJSON_AddNumberToObject(bytes, "control_share", share(t.control, w->wire_bytes) / 100);
    cJSON_AddNumberToObject(bytes, "control_per_node_per_minute",
                            t.minutes > 0 ? t.control / (double)r->sc->nodes / t.minutes : 0);
    cJSON_AddNumberToObject(root, "routes_deferred", (double)w->routes_deferred);
    cJSON_AddNumberToObject(root, "routes_short", (double)w->routes_short);
    cJSON *verdicts = cJSON_AddObjectToObject(root, "route_verdicts");
    for (int v = 0; verdicts != NULL && v < GM_ROUTER_VERDICT_COUNT; v++) {
        cJSON_AddNumberToObject(verdicts, gm_router_verdict_str((gm_router_verdict_t)v),
                                (double)w->verdicts[v]);
    }
    cJSON_AddNumberToObject(root, "store_peak_bytes", (double)w->store_peak_bytes);
    cJSON_AddNumberToObject(root, "store_peak_bundles", (double)w->store_peak_bundles);
    cJSON_AddNumberToObject(conv, "changes", (double)w->changes);
    cJSON_AddNumberToObject(conv, "converged", (double)w->converged);
    cJSON_AddNumberToObject(conv, "p50_s", percentile(w->converge_ms, w->converged, 50) / 1e3);
    cJSON_AddNumberToObject(conv, "max_s", percentile(w->converge_ms, w->converged, 100) / 1e3);
    cJSON_AddNumberToObject(conv, "not_converged", (double)w->not_converged);
    cJSON_AddNumberToObject(conv, "interrupted", (double)w->interrupted);
    cJSON_AddNumberToObject(sim, "wall_s", r->wall_s);
    cJSON_AddNumberToObject(sim, "cpu_s", r->cpu_s);
    cJSON_AddNumberToObject(sim, "peak_rss_mib", r->peak_rss_kib / 1024.0);
    cJSON_AddNumberToObject(sim, "node_dirs_mib", r->workdir_bytes / 1048576.0);
    text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL) {
        return GM_ENOMEM;
    }
    fprintf(f, "%s\n", text);
    free(text);
    return 0;
}

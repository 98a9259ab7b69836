#define _GNU_SOURCE /* nftw, CLOCK_BOOTTIME, M_PI */
/*
 * gm-sim: runs a scenario (tools/sim/scenario.c) with real nodes on a
 * simulated clock and reports what reached whom, how fast, at what cost.
 * Exit 0 when every class was fully delivered with no duplicate, 1 when not,
 * 2 when the scenario or the setup failed.
 */
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/sim/sim.h"
#include "tools/sim/sim_clock.h"

#define SAME_INSTANT_TURNS 1000000 /* loop turns at one instant before time is forced on */

static volatile sig_atomic_t interrupted; /* SIGINT or SIGTERM: stop, report, clean up */

static void on_signal(int sig)
{
    interrupted = sig;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gm-sim [options] SCENARIO\n"
            "\n"
            "Runs many real Guardmesh nodes (node, mesh, messenger: the production code) in one\n"
            "process over the in-memory transport, on a simulated clock, as the scenario file\n"
            "says (topology, radio loss and delay, cuts, partitions, crashes and restarts,\n"
            "traffic); then reports delivery per class, latency, duplicates, bytes on air,\n"
            "control overhead, store peaks, route convergence, and its own CPU and memory.\n"
            "Deterministic for a seed. The scenario format is in docs/simulator.md;\n"
            "examples are in tools/sim/scenarios/.\n"
            "\n"
            "  --json           the report as JSON on stdout (the progress line stays on stderr)\n"
            "  --seed N         overrides the scenario's seed\n"
            "  --nodes N        overrides the scenario's node count\n"
            "  --duration S     overrides the scenario's simulated seconds\n"
            "  --workdir DIR    where node directories go (default: a new directory in\n"
            "                   /dev/shm, else $TMPDIR or /tmp); removed at the end unless --keep\n"
            "  --keep           keep the node directories (and nodes.log, the nodes' warnings)\n"
            "  --quiet          no progress line\n"
            "  --help           this text\n"
            "\n"
            "Exit status: 0 every message delivered exactly once, 1 not so, 2 error,\n"
            "130 interrupted (SIGINT, SIGTERM: it reports what it simulated and cleans up).\n");
}

typedef struct {
    const char *scenario, *workdir;
    bool json, keep, quiet;
    long long seed, nodes, duration;
} opts_t;

static int parse_opts(int argc, char **argv, opts_t *o)
{
    static const struct option longs[] = {
        {"json", no_argument, NULL, 'j'},        {"seed", required_argument, NULL, 's'},
        {"nodes", required_argument, NULL, 'n'}, {"duration", required_argument, NULL, 'd'},
        {"workdir", required_argument, NULL, 'w'}, {"keep", no_argument, NULL, 'k'},
        {"quiet", no_argument, NULL, 'q'},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    *o = (opts_t){.seed = -1, .nodes = -1, .duration = -1};
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        char *end = NULL;
        long long *num = c == 's' ? &o->seed : c == 'n' ? &o->nodes : c == 'd' ? &o->duration : NULL;

        if (num != NULL) {
            *num = strtoll(optarg, &end, 10);
            if (*end != '\0' || *num < 0 || *num > 100000000) {
                fprintf(stderr, "gm-sim: --%s wants a number, not '%s'\n", longs[c == 's' ? 1 : c == 'n' ? 2 : 3].name, optarg);
                return 2;
            }
            continue;
        }
        switch (c) {
        case 'j': o->json = true; break;
        case 'w': o->workdir = optarg; break;
        case 'k': o->keep = true; break;
        case 'q': o->quiet = true; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    o->scenario = argv[optind];
    return 0;
}

/* ---- the work directory ---- */

static uint64_t dir_bytes;

static int add_size(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)flag;
    (void)ftw;
    dir_bytes += (uint64_t)st->st_blocks * 512;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int make_workdir(const opts_t *o, char out[512])
{
    const char *base = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    struct stat st;

    if (o->workdir != NULL) {
        snprintf(out, 512, "%s", o->workdir);
        return mkdir(out, 0700) == 0 || errno == EEXIST ? 0 : -1;
    }
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0) {
        base = "/dev/shm";
    }
    snprintf(out, 512, "%s/gm-sim.XXXXXX", base);
    return mkdtemp(out) != NULL ? 0 : -1;
}

/* ---- running ---- */

typedef struct {
    const sim_scenario_t *sc;
    sim_world_t *w;
    sim_traffic_t *t;
    uv_loop_t *loop;
    bool quiet;
    double real0, last_progress;
    uint64_t same_instant_limit;
} run_t;

static void progress(run_t *r, uint64_t sim_ms, bool last)
{
    double now = sim_clock_real_s();
    bool tty = isatty(2);
    uint64_t sent, arrived, s = sim_ms / 1000, d = r->sc->duration_s;

    if (r->quiet || (!last && now - r->last_progress < (tty ? 1.0 : 10.0))) {
        return;
    }
    r->last_progress = now;
    sim_traffic_progress(r->t, &sent, &arrived);
    fprintf(stderr, "%sgm-sim: %02llu:%02llu:%02llu of %02llu:%02llu:%02llu simulated, %llu sent, "
                    "%llu arrivals, %.0f s wall%s",
            tty ? "\r" : "", (unsigned long long)(s / 3600), (unsigned long long)(s / 60 % 60),
            (unsigned long long)(s % 60), (unsigned long long)(d / 3600),
            (unsigned long long)(d / 60 % 60), (unsigned long long)(d % 60),
            (unsigned long long)sent, (unsigned long long)arrived, now - r->real0,
            tty && !last ? "   " : "\n");
}

/*
 * The loop runs without waiting; when nothing is left to do at this instant
 * the clock jumps to the next timer, event or message, whichever is first.
 */
static void run(run_t *r)
{
    uint64_t start = sim_world_start_ms(r->w), end = start + (uint64_t)r->sc->duration_s * 1000;
    uint64_t turns = 0, now = sim_clock_ms();

    while (now < end && !interrupted) {
        uint64_t next = end, n2;
        int timeout;

        uv_run(r->loop, UV_RUN_NOWAIT);
        timeout = uv_backend_timeout(r->loop);
        if (timeout == 0 && ++turns < SAME_INSTANT_TURNS) {
            continue;
        }
        r->same_instant_limit += turns >= SAME_INSTANT_TURNS;
        turns = 0;
        if (timeout > 0 && now + (uint64_t)timeout < next) {
            next = now + (uint64_t)timeout;
        }
        n2 = sim_world_next_ms(r->w);
        next = n2 < next ? n2 : next;
        n2 = sim_traffic_next_ms(r->t);
        next = n2 < next ? n2 : next;
        now = next > now ? next : now + 1;
        sim_clock_set_ms(now);
        uv_update_time(r->loop);
        sim_world_step(r->w, now);
        sim_traffic_step(r->t, now);
        progress(r, now - start, false);
    }
    progress(r, now - start, true);
}

static int report(run_t *r, const opts_t *o, const char *workdir)
{
    sim_report_t rep = {.sc = r->sc};
    struct rusage ru;
    bool ok = true;
    int err = 0;

    sim_world_stats(r->w, &rep.world);
    rep.world.same_instant_limit = r->same_instant_limit;
    sim_traffic_stats(r->t, rep.cls);
    rep.sim_ms = sim_clock_ms() - sim_world_start_ms(r->w);
    rep.wall_s = sim_clock_real_s() - r->real0;
    rep.cpu_s = sim_clock_cpu_s();
    getrusage(RUSAGE_SELF, &ru);
    rep.peak_rss_kib = (uint64_t)ru.ru_maxrss;
    dir_bytes = 0;
    nftw(workdir, add_size, 32, FTW_PHYS);
    rep.workdir_bytes = dir_bytes;
    if (o->json) {
        err = sim_report_json(stdout, &rep);
    } else {
        sim_report_table(stdout, &rep);
        sim_traffic_list_missing(r->t, stdout, 20);
    }
    for (int c = 0; c < CLASS_COUNT; c++) {
        ok = ok && sim_report_ratio(&rep.cls[c]) == 1.0 && rep.cls[c].duplicates == 0 &&
             rep.cls[c].unexpected == 0 && rep.cls[c].refused == 0;
        free(rep.cls[c].latency_ms);
    }
    return err != 0 ? 2 : ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    opts_t o;
    sim_scenario_t sc;
    run_t r = {0};
    uv_loop_t loop;
    gm_why_t why;
    char workdir[512];
    int rc = parse_opts(argc, argv, &o);

    if (rc != 0) {
        return rc;
    }
    sim_scenario_defaults(&sc);
    if (sim_scenario_load(&sc, o.scenario, &why) != 0) {
        fprintf(stderr, "gm-sim: %s\n", why.msg);
        return 2;
    }
    sc.seed = o.seed >= 0 ? (uint64_t)o.seed : sc.seed;
    sc.nodes = o.nodes >= 2 ? (uint32_t)o.nodes : sc.nodes;
    sc.duration_s = o.duration > 0 ? (uint32_t)o.duration : sc.duration_s;
    if (sc.nodes > SIM_MAX_NODES || sc.traffic_stop_s > sc.duration_s) {
        fprintf(stderr, "gm-sim: at most %d nodes, and traffic must stop within the duration\n",
                SIM_MAX_NODES);
        return 2;
    }
    if (sim_clock_seed(sc.seed) != 0 || uv_loop_init(&loop) != 0 || make_workdir(&o, workdir) != 0) {
        fprintf(stderr, "gm-sim: cannot set up (randomness, loop or work directory)\n");
        return 2;
    }
    sqlite3_soft_heap_limit64(512ll << 20); /* a thousand page caches share this */
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    r = (run_t){.sc = &sc, .loop = &loop, .quiet = o.quiet, .real0 = sim_clock_real_s()};
    if (!o.quiet) {
        fprintf(stderr, "gm-sim: making %u nodes in %s\n", sc.nodes, workdir);
    }
    rc = sim_world_new(&sc, workdir, &loop, &r.w, &why);
    rc = rc == 0 ? sim_traffic_new(&sc, r.w, &r.t) : rc;
    if (rc != 0) {
        fprintf(stderr, "gm-sim: %s\n", rc == GM_ENOMEM ? "out of memory" : why.msg);
        rc = 2;
    } else {
        sim_world_set_traffic(r.w, r.t);
        run(&r);
        if (interrupted) {
            fprintf(stderr, "gm-sim: interrupted; the report covers the time simulated so far\n");
        }
        rc = report(&r, &o, workdir);
        rc = interrupted ? 130 : rc;
        sim_world_stop(r.w);
    }
    sim_traffic_free(r.t);
    sim_world_free(r.w);
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "gm-sim: handles left open on the loop\n");
        rc = rc == 0 ? 2 : rc;
    }
    if (!o.keep) {
        nftw(workdir, remove_entry, 32, FTW_DEPTH | FTW_PHYS);
    } else {
        fprintf(stderr, "gm-sim: node directories kept in %s\n", workdir);
    }
    return rc;
}

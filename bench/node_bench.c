/*
 * node_bench: guardmeshd as a process, the figures bench/run sets beside Tox's.
 *
 *   start-up  the measured node A (guardmeshd, mesh and messenger as it always runs them) is
 *             started R times against a peer B that keeps running; from fork+exec to the
 *             control socket answering a status request, and to the first link up with B
 *             (status `links` >= 1, polled every millisecond through the control socket).
 *   idle RSS  A then idles with its one link for --idle-ms; VmRSS and VmHWM of A (and B)
 *             from /proc/PID/status.
 *   1:1       A and B over their direct link: N texts of 1 KiB in one `debug send` request
 *             (one store commit at A), the clock stopping when B's `msg_inbox_added` counter
 *             has grown by N (polled every 5 ms, so as not to load B); link bytes both ways
 *             from A's GM_OP_PEERS counters over the run plus 500 ms for receipts; then M
 *             texts one at a time, each sent when B holds the previous one (B polled every
 *             250 us).
 *
 * Every node listens on 127.0.0.1 only. The node directories and the config file come from
 * the caller (bench/run makes them with `guardmesh ca`). Output: JSON with --json.
 */
#include "bench/bench_common.h"
#include "node/client.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 50
#define MAX_LAT 10000
#define TEXT_LEN 1024

typedef struct {
    const char *gmd, *config, *dir, *peer_dir, *to;
    unsigned long runs, idle_ms, messages, lat_messages;
    bool json;
} opts_t;

typedef struct {
    double answer_ms[MAX_RUNS], link_ms[MAX_RUNS];
    double rss_kib[MAX_RUNS], hwm_kib[MAX_RUNS], peer_rss_kib[MAX_RUNS];
    double rate[MAX_RUNS], bytes_per_msg[MAX_RUNS], lat_p50_ms[MAX_RUNS], lat_p99_ms[MAX_RUNS];
    double end_rss_kib, end_hwm_kib;
    char peer_addr[80];
    pid_t peer;
} results_t;

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* fork + exec guardmeshd on dir, listening on 127.0.0.1 only, dialling peer if not NULL. */
static pid_t spawn(const opts_t *o, const char *dir, const char *peer)
{
    pid_t parent = getpid(), pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid != 0) {
        return pid;
    }
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) {
        _exit(1);
    }
    if (peer != NULL) {
        execl(o->gmd, "guardmeshd", "--dir", dir, "--config", o->config, "--log-level", "warn",
              "--listen", "127.0.0.1:0", "--peer", peer, (char *)NULL);
    } else {
        execl(o->gmd, "guardmeshd", "--dir", dir, "--config", o->config, "--log-level", "warn",
              "--listen", "127.0.0.1:0", (char *)NULL);
    }
    fprintf(stderr, "node_bench: exec %s: %s\n", o->gmd, strerror(errno));
    _exit(127);
}

static void stop(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        (void)waitpid(pid, NULL, 0);
    }
}

/* The node's status; 0 when it answered. */
static int status_of(const char *dir, gm_status_info_t *out)
{
    gm_control_response_t r;
    gm_why_t why;
    int ok;

    if (gm_client_request(dir, NULL, GM_OP_STATUS, &r, &why) != 0) {
        return -1;
    }
    ok = r.error == 0 && r.has_status;
    if (ok) {
        *out = r.status;
    }
    gm_control_response_free(&r);
    return ok ? 0 : -1;
}

/*
 * Polls dir's control socket every millisecond from t0 on: *answer_ms when it first answers,
 * *link_ms when it reports a link up (not waited for if link_ms is NULL). -1 if pid died or
 * 30 s passed.
 */
static int wait_up(pid_t pid, const char *dir, double t0, double *answer_ms, double *link_ms)
{
    gm_status_info_t st;
    bool answered = false;

    while (bench_now_s() - t0 < 30) {
        if (waitpid(pid, NULL, WNOHANG) != 0) {
            fprintf(stderr, "node_bench: guardmeshd in %s exited\n", dir);
            return -1;
        }
        if (status_of(dir, &st) == 0) {
            double ms = (bench_now_s() - t0) * 1e3;
            if (!answered) {
                answered = true;
                *answer_ms = ms;
            }
            if (link_ms == NULL || st.links >= 1) {
                if (link_ms != NULL) {
                    *link_ms = ms;
                }
                return 0;
            }
        }
        sleep_us(1000);
    }
    fprintf(stderr, "node_bench: %s did not come up within 30 s\n", dir);
    return -1;
}

/* A counter of the node's mesh layer (the messenger's msg_* among them); 0 when answered. */
static int counter(const char *dir, const char *name, uint64_t *out)
{
    gm_mesh_request_t q = {.op = GM_MESH_OP_STATUS};
    gm_mesh_response_t r;
    gm_why_t why;
    int err = -1;

    if (gm_client_mesh(dir, NULL, &q, &r, &why) != 0) {
        return -1;
    }
    *out = 0;
    for (size_t i = 0; i < r.n_counters; i++) {
        if (strcmp(r.counters[i].name, name) == 0) {
            *out = r.counters[i].value;
        }
    }
    err = r.error == 0 ? 0 : -1;
    gm_mesh_response_free(&r);
    return err;
}

/* Bytes in plus out over every link of the node (frames after the handshake). */
static int link_bytes(const char *dir, uint64_t *out)
{
    gm_control_response_t r;
    gm_why_t why;

    if (gm_client_request(dir, NULL, GM_OP_PEERS, &r, &why) != 0) {
        return -1;
    }
    *out = 0;
    for (size_t i = 0; i < r.n_peers; i++) {
        *out += r.peers[i].bytes_in + r.peers[i].bytes_out;
    }
    gm_control_response_free(&r);
    return 0;
}

/* count texts to o->to through A's messenger; 0 once queued (durable at A). */
static int send_texts(const opts_t *o, const char *text, uint32_t count, bool quiet)
{
    gm_messenger_request_t q = {.op = GM_MESSENGER_OP_SEND, .kind = GM_MESSAGE_TEXT};
    gm_messenger_response_t r;
    gm_why_t why;
    int err;

    q.to = o->to;
    q.text = text;
    q.count = count;
    if (gm_client_messenger(o->dir, NULL, &q, &r, &why) != 0) {
        fprintf(stderr, "node_bench: send: %s\n", why.msg);
        return -1;
    }
    err = r.error;
    if (err != 0 && !quiet) {
        fprintf(stderr, "node_bench: send refused: %s\n", r.message);
    }
    gm_messenger_response_free(&r);
    return err == 0 ? 0 : -1;
}

/* Polls B's msg_inbox_added every poll_us until it reaches target; the time then, or -1. */
static double wait_inbox(const opts_t *o, uint64_t target, long poll_us, double limit_s)
{
    double t0 = bench_now_s();
    uint64_t v;

    for (;;) {
        if (counter(o->peer_dir, "msg_inbox_added", &v) == 0 && v >= target) {
            return bench_now_s();
        }
        if (bench_now_s() - t0 > limit_s) {
            fprintf(stderr, "node_bench: B's inbox stayed at %llu of %llu\n", (unsigned long long)v,
                    (unsigned long long)target);
            return -1;
        }
        sleep_us(poll_us);
    }
}

/* ---- start-up and idle memory ---- */

static int startup_runs(const opts_t *o, results_t *res)
{
    for (unsigned long r = 0; r <= o->runs; r++) { /* run 0: warm-up (the store is made) */
        double t0 = bench_now_s(), answer = 0, link = 0;
        pid_t a = spawn(o, o->dir, res->peer_addr);
        if (a < 0 || wait_up(a, o->dir, t0, &answer, &link) != 0) {
            stop(a);
            return -1;
        }
        if (r > 0) {
            res->answer_ms[r - 1] = answer;
            res->link_ms[r - 1] = link;
            sleep_us((long)o->idle_ms * 1000);
            res->rss_kib[r - 1] = (double)bench_proc_kib(a, "VmRSS");
            res->hwm_kib[r - 1] = (double)bench_proc_kib(a, "VmHWM");
            res->peer_rss_kib[r - 1] = (double)bench_proc_kib(res->peer, "VmRSS");
        }
        stop(a);
    }
    return 0;
}

/* ---- 1:1 over the direct link ---- */

static int warm_up(const opts_t *o, const char *text)
{
    double t0 = bench_now_s();
    uint64_t v = 0;

    /* B becomes a known recipient once its signed announcement has reached A. */
    while (send_texts(o, text, 1, true) != 0) {
        if (bench_now_s() - t0 > 30) {
            fprintf(stderr, "node_bench: A never learnt the route to %s\n", o->to);
            return -1;
        }
        sleep_us(50000);
    }
    if (wait_inbox(o, 1, 1000, 30) < 0) {
        return -1;
    }
    while (counter(o->dir, "msg_receipts_received", &v) == 0 && v < 1) {
        if (bench_now_s() - t0 > 30) {
            return -1;
        }
        sleep_us(10000);
    }
    return 0;
}

static int throughput_run(const opts_t *o, const char *text, double *rate, double *bpm)
{
    uint64_t base, b0, b1;
    double t0, t1;

    if (counter(o->peer_dir, "msg_inbox_added", &base) != 0 || link_bytes(o->dir, &b0) != 0) {
        return -1;
    }
    t0 = bench_now_s();
    if (send_texts(o, text, (uint32_t)o->messages, false) != 0) {
        return -1;
    }
    t1 = wait_inbox(o, base + o->messages, 5000, 600);
    if (t1 < 0) {
        return -1;
    }
    *rate = (double)o->messages / (t1 - t0);
    sleep_us(500000); /* delivered receipts and custody acks go back */
    if (link_bytes(o->dir, &b1) != 0) {
        return -1;
    }
    *bpm = (double)(b1 - b0) / (double)o->messages;
    return 0;
}

static int latency_run(const opts_t *o, const char *text, double *p50, double *p99)
{
    static double lat[MAX_LAT];
    uint64_t base;

    if (counter(o->peer_dir, "msg_inbox_added", &base) != 0) {
        return -1;
    }
    for (unsigned long i = 0; i < o->lat_messages; i++) {
        double t0 = bench_now_s(), t1;
        if (send_texts(o, text, 1, false) != 0) {
            return -1;
        }
        t1 = wait_inbox(o, base + i + 1, 250, 30);
        if (t1 < 0) {
            return -1;
        }
        lat[i] = (t1 - t0) * 1e3;
    }
    *p50 = bench_quantile(lat, o->lat_messages, 0.5);
    *p99 = bench_quantile(lat, o->lat_messages, 0.99);
    return 0;
}

static int messaging_runs(const opts_t *o, results_t *res)
{
    static char text[TEXT_LEN + 1];
    double answer, link;
    int err = -1;
    pid_t a;

    memset(text, 'x', TEXT_LEN);
    a = spawn(o, o->dir, res->peer_addr);
    if (a < 0 || wait_up(a, o->dir, bench_now_s(), &answer, &link) != 0 || warm_up(o, text) != 0) {
        goto out;
    }
    for (unsigned long r = 0; r < o->runs; r++) {
        if (throughput_run(o, text, &res->rate[r], &res->bytes_per_msg[r]) != 0) {
            goto out;
        }
    }
    for (unsigned long r = 0; r < o->runs; r++) {
        if (latency_run(o, text, &res->lat_p50_ms[r], &res->lat_p99_ms[r]) != 0) {
            goto out;
        }
    }
    res->end_rss_kib = (double)bench_proc_kib(a, "VmRSS");
    res->end_hwm_kib = (double)bench_proc_kib(a, "VmHWM");
    err = 0;
out:
    stop(a);
    return err;
}

/* ---- output ---- */

static void print_json(const opts_t *o, const results_t *res)
{
    size_t n = o->runs;

    printf("{\n  \"benchmark\": \"node\",\n  \"runs\": %lu,\n  \"idle_ms\": %lu,\n"
           "  \"messages\": %lu,\n  \"latency_messages\": %lu,\n  \"text_bytes\": %d,\n",
           o->runs, o->idle_ms, o->messages, o->lat_messages, TEXT_LEN);
    printf("  \"startup\": {\n");
    bench_print_json_stat("exec_to_answer_ms", res->answer_ms, n, 1, false);
    bench_print_json_stat("exec_to_link_ms", res->link_ms, n, 1, true);
    printf("  },\n  \"idle\": {\n");
    bench_print_json_stat("rss_kib", res->rss_kib, n, 0, false);
    bench_print_json_stat("hwm_kib", res->hwm_kib, n, 0, false);
    bench_print_json_stat("peer_rss_kib", res->peer_rss_kib, n, 0, true);
    printf("  },\n  \"direct\": {\n");
    bench_print_json_stat("msgs_per_s", res->rate, n, 0, false);
    bench_print_json_stat("link_bytes_per_msg", res->bytes_per_msg, n, 1, false);
    bench_print_json_stat("latency_p50_ms", res->lat_p50_ms, n, 3, false);
    bench_print_json_stat("latency_p99_ms", res->lat_p99_ms, n, 3, true);
    printf("  },\n  \"after_messages\": {\"rss_kib\": %.0f, \"hwm_kib\": %.0f}\n}\n",
           res->end_rss_kib, res->end_hwm_kib);
}

static void print_text(const opts_t *o, const results_t *res)
{
    struct {
        const char *name;
        const double *v;
    } rows[] = {
        {"exec -> control answers, ms", res->answer_ms},
        {"exec -> link up, ms", res->link_ms},
        {"idle VmRSS, KiB", res->rss_kib},
        {"idle VmHWM, KiB", res->hwm_kib},
        {"1:1 direct, messages/s", res->rate},
        {"link bytes/message", res->bytes_per_msg},
        {"latency p50, ms", res->lat_p50_ms},
        {"latency p99, ms", res->lat_p99_ms},
    };

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bench_stat_t s = bench_stat(rows[i].v, o->runs);
        printf("%-28s %10.2f  (%.2f - %.2f)\n", rows[i].name, s.median, s.min, s.max);
    }
}

/* ---- options ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: node_bench --gmd GUARDMESHD --config INI --dir A --peer-dir B --to "
            "CALLSIGN@ORG\n"
            "                  [--runs R] [--idle-ms MS] [--messages N] [--latency-messages M] "
            "[--json]\n"
            "Starts B, then A dialling B (both on 127.0.0.1): start-up time and idle memory of A\n"
            "over R starts, then 1:1 texts of 1 KiB from A to B over their direct link.\n");
}

static int parse_args(int argc, char **argv, opts_t *o)
{
    static const char *const names[] = {"--runs", "--idle-ms", "--messages", "--latency-messages"};
    unsigned long *nums[] = {&o->runs, &o->idle_ms, &o->messages, &o->lat_messages};
    const unsigned long max[] = {MAX_RUNS, 600000, 100000, MAX_LAT};

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool done = false;
        for (size_t k = 0; k < 4 && !done; k++) {
            if (strcmp(a, names[k]) == 0) {
                if (bench_parse_num("node_bench", a, v, 1, max[k], nums[k]) != 0) {
                    return -1;
                }
                i++;
                done = true;
            }
        }
        if (done) {
            continue;
        }
        const char **s = strcmp(a, "--gmd") == 0        ? &o->gmd
                         : strcmp(a, "--config") == 0   ? &o->config
                         : strcmp(a, "--dir") == 0      ? &o->dir
                         : strcmp(a, "--peer-dir") == 0 ? &o->peer_dir
                         : strcmp(a, "--to") == 0       ? &o->to
                                                        : NULL;
        if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (s != NULL && v != NULL) {
            *s = v;
            i++;
        } else {
            usage(stderr);
            return -1;
        }
    }
    if (!o->gmd || !o->config || !o->dir || !o->peer_dir || !o->to) {
        usage(stderr);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o = {.runs = 5, .idle_ms = 3000, .messages = 2000, .lat_messages = 100};
    static results_t res;
    gm_status_info_t st;
    double answer;
    pid_t b;
    int rc = 1;

    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (parse_args(argc, argv, &o) != 0) {
        return 2;
    }
    b = spawn(&o, o.peer_dir, NULL);
    if (b < 0 || wait_up(b, o.peer_dir, bench_now_s(), &answer, NULL) != 0) {
        goto out;
    }
    res.peer = b;
    if (status_of(o.peer_dir, &st) != 0 || st.n_listening < 1) {
        goto out;
    }
    snprintf(res.peer_addr, sizeof res.peer_addr, "%s", st.listening[0]);
    if (startup_runs(&o, &res) != 0 || messaging_runs(&o, &res) != 0) {
        goto out;
    }
    o.json ? print_json(&o, &res) : print_text(&o, &res);
    rc = 0;
out:
    stop(b);
    return rc;
}

/*
 * tox_bench: the peer benchmark, c-toxcore doing what node_bench measures of Guardmesh.
 *
 * Each run starts two fresh worker processes (this program again, `--worker a|b`): B first,
 * then A, which the start-up times are taken of. Each worker makes one Tox instance (UDP on,
 * IPv6 off, LAN discovery off, hole punching off, DHT announcements off, no TCP relay, ports
 * from a high range), learns the other's public key, DHT key and UDP port through this
 * process, bootstraps to it at 127.0.0.1 and adds it with tox_friend_add_norequest; no other
 * bootstrap node exists. Then:
 *   start-up  fork+exec of A -> tox_new() returned (UDP bound), and -> A's friend connection
 *             status is UDP.
 *   idle RSS  --idle-ms after that, VmRSS and VmHWM of A (and B) from /proc/self/status.
 *   1:1       N friend messages of 1 KiB from A, queued as fast as tox_friend_send_message
 *             accepts them (TOX_ERR_FRIEND_SEND_MESSAGE_SENDQ: iterate, then retry); the clock
 *             runs from the first send to B's callback for the N-th message, and A waits for
 *             all N read receipts. Then M messages one at a time, each sent when B has
 *             received the previous one (B wakes A through a pipe: Tox acknowledges on its own
 *             schedule, up to a second later); latency is A's send -> B's message callback
 *             (CLOCK_MONOTONIC, carried in the message).
 *   bytes     sendto() is wrapped here: UDP payload bytes and packets each worker sent from
 *             the first message of the N to the last receipt plus 500 ms. The wrapper also
 *             refuses any destination outside 127.0.0.0/8 (counted), and bind() on the
 *             wildcard address is made a bind to 127.0.0.1, so Tox is reachable on loopback only.
 *
 * Each worker loops: tox_iterate(), then poll() on its UDP socket for at most
 * tox_iteration_interval() ms, so it wakes as soon as a packet arrives.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include "bench/bench_common.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <tox/tox.h>
#include <unistd.h>

#define MAX_RUNS 50
#define MAX_LAT 10000
#define TEXT_LEN 1024
#define PORT_LO 43000
#define PORT_HI 43999
#define SIGNAL_FD 3 /* B -> A: one byte per latency message B received */

/* ---- the socket wrappers (resolved before libc's for libtoxcore) ---- */

static uint64_t g_udp_bytes, g_udp_packets, g_refused;
static int g_udp_fd = -1;

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
               (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
    }
    return false;
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
               socklen_t tolen)
{
    static ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
    ssize_t n;

    if (real == NULL) {
        *(void **)&real = dlsym(RTLD_NEXT, "sendto");
    }
    if (to != NULL && !is_loopback(to)) {
        g_refused++;
        errno = ENETUNREACH;
        return -1;
    }
    n = real(fd, buf, len, flags, to, tolen);
    if (n > 0) {
        g_udp_bytes += (uint64_t)n;
        g_udp_packets++;
    }
    return n;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    static int (*real)(int, const struct sockaddr *, socklen_t);
    struct sockaddr_in lo;
    int type = 0, rc;
    socklen_t tl = sizeof type;

    if (real == NULL) {
        *(void **)&real = dlsym(RTLD_NEXT, "bind");
    }
    if (addr->sa_family == AF_INET && len >= sizeof lo) {
        memcpy(&lo, addr, sizeof lo);
        if (lo.sin_addr.s_addr == htonl(INADDR_ANY)) {
            lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            addr = (const struct sockaddr *)&lo;
        }
    }
    rc = real(fd, addr, len);
    if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_DGRAM) {
        g_udp_fd = fd;
    }
    return rc;
}

/* ---- a worker: one Tox instance ---- */

typedef struct {
    bool is_a;
    unsigned long messages, lat_messages, idle_ms;
    Tox *tox;
    uint32_t friend_no;
    bool connected;
    /* A */
    uint64_t receipts;
    /* B */
    uint64_t received;
    double first_recv, last_recv;
    double lat_ms[MAX_LAT];
} worker_t;

static void on_connection(Tox *tox, uint32_t fn, Tox_Connection st, void *ud)
{
    worker_t *w = ud;

    (void)tox;
    (void)fn;
    w->connected = st == TOX_CONNECTION_UDP;
}

static void on_receipt(Tox *tox, uint32_t fn, uint32_t id, void *ud)
{
    (void)tox;
    (void)fn;
    (void)id;
    ((worker_t *)ud)->receipts++;
}

static void on_message(Tox *tox, uint32_t fn, Tox_Message_Type type, const uint8_t *msg, size_t len,
                       void *ud)
{
    worker_t *w = ud;
    double now = bench_now_s();
    char head[32];
    unsigned long long ns;

    (void)tox;
    (void)fn;
    (void)type;
    if (len < 21) {
        return;
    }
    if (w->received == 0) {
        w->first_recv = now;
    }
    w->received++;
    if (w->received == w->messages) {
        w->last_recv = now;
    }
    if (w->received > w->messages && w->received - w->messages <= w->lat_messages) {
        memcpy(head, msg, 20);
        head[20] = 0;
        ns = strtoull(head, NULL, 10);
        w->lat_ms[w->received - w->messages - 1] = (now - (double)ns / 1e9) * 1e3;
        if (write(SIGNAL_FD, "x", 1) != 1) {
            fprintf(stderr, "tox_bench: B could not wake A\n");
            exit(1);
        }
    }
}

/* One turn: tox_iterate, then wait for a packet at most tox_iteration_interval() ms. */
static void pump(worker_t *w, int extra_fd)
{
    struct pollfd p[2] = {{.fd = g_udp_fd, .events = POLLIN}, {.fd = extra_fd, .events = POLLIN}};

    tox_iterate(w->tox, w);
    (void)poll(p, extra_fd >= 0 ? 2 : 1, (int)tox_iteration_interval(w->tox));
}

static void pump_for(worker_t *w, double seconds)
{
    double end = bench_now_s() + seconds;

    while (bench_now_s() < end) {
        pump(w, -1);
    }
}

static Tox *make_tox(void)
{
    struct Tox_Options *opt = tox_options_new(NULL);
    Tox_Err_New err;
    Tox *tox;

    if (opt == NULL) {
        return NULL;
    }
    tox_options_set_ipv6_enabled(opt, false);
    tox_options_set_udp_enabled(opt, true);
    tox_options_set_local_discovery_enabled(opt, false);
    tox_options_set_hole_punching_enabled(opt, false);
    tox_options_set_dht_announcements_enabled(opt, false);
    tox_options_set_tcp_port(opt, 0);
    tox_options_set_start_port(opt, PORT_LO);
    tox_options_set_end_port(opt, PORT_HI);
    tox = tox_new(opt, &err);
    tox_options_free(opt);
    if (tox == NULL) {
        fprintf(stderr, "tox_bench: tox_new: error %d\n", (int)err);
    }
    return tox;
}

static void hex(char *out, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sprintf(out + 2 * i, "%02x", b[i]);
    }
}

static int unhex(uint8_t *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) {
            return -1;
        }
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* Prints "addr PK DHT PORT"; reads the other's; bootstraps to it and adds it as a friend. */
static int meet(worker_t *w)
{
    uint8_t pk[TOX_PUBLIC_KEY_SIZE], dht[TOX_PUBLIC_KEY_SIZE];
    char pkh[2 * TOX_PUBLIC_KEY_SIZE + 1], dhth[2 * TOX_PUBLIC_KEY_SIZE + 1], line[256];
    unsigned port;
    Tox_Err_Friend_Add fe;

    tox_self_get_public_key(w->tox, pk);
    tox_self_get_dht_id(w->tox, dht);
    hex(pkh, pk, sizeof pk);
    hex(dhth, dht, sizeof dht);
    printf("addr %s %s %u\n", pkh, dhth, (unsigned)tox_self_get_udp_port(w->tox, NULL));
    fflush(stdout);
    if (fgets(line, sizeof line, stdin) == NULL ||
        sscanf(line, "addr %64s %64s %u", pkh, dhth, &port) != 3 ||
        unhex(pk, pkh, sizeof pk) != 0 || unhex(dht, dhth, sizeof dht) != 0) {
        fprintf(stderr, "tox_bench: no address from the other worker\n");
        return -1;
    }
    if (!tox_bootstrap(w->tox, "127.0.0.1", (uint16_t)port, dht, NULL)) {
        fprintf(stderr, "tox_bench: tox_bootstrap failed\n");
        return -1;
    }
    w->friend_no = tox_friend_add_norequest(w->tox, pk, &fe);
    if (fe != TOX_ERR_FRIEND_ADD_OK) {
        fprintf(stderr, "tox_bench: tox_friend_add_norequest: error %d\n", (int)fe);
        return -1;
    }
    return 0;
}

/* A: queues the next message; false if Tox's send queue is full. */
static bool send_one(worker_t *w, uint32_t idx)
{
    static uint8_t text[TEXT_LEN];
    struct timespec ts;
    Tox_Err_Friend_Send_Message err;
    char head[40];

    clock_gettime(CLOCK_MONOTONIC, &ts);
    memset(text, 'x', sizeof text);
    snprintf(head, sizeof head, "%020llu %010" PRIu32 " ",
             (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec, idx);
    memcpy(text, head, strlen(head));
    tox_friend_send_message(w->tox, w->friend_no, TOX_MESSAGE_TYPE_NORMAL, text, sizeof text, &err);
    if (err == TOX_ERR_FRIEND_SEND_MESSAGE_OK) {
        return true;
    }
    if (err != TOX_ERR_FRIEND_SEND_MESSAGE_SENDQ) {
        fprintf(stderr, "tox_bench: tox_friend_send_message: error %d\n", (int)err);
        exit(1);
    }
    return false;
}

static void run_a(worker_t *w, double connected)
{
    uint64_t bytes0, pkts0, sent = 0;
    double first_send, rss, hwm;

    pump_for(w, (double)w->idle_ms / 1e3);
    rss = (double)bench_proc_kib(0, "VmRSS");
    hwm = (double)bench_proc_kib(0, "VmHWM");
    pump_for(w, 0.25); /* B measures its own idle memory meanwhile */
    bytes0 = g_udp_bytes;
    pkts0 = g_udp_packets;
    first_send = bench_now_s();
    while (w->receipts < w->messages) {
        while (sent < w->messages && send_one(w, (uint32_t)sent)) {
            sent++;
        }
        pump(w, -1);
    }
    pump_for(w, 0.5);
    printf("result connected=%.6f rss=%.0f hwm=%.0f first_send=%.6f bytes=%" PRIu64
           " packets=%" PRIu64,
           connected, rss, hwm, first_send, g_udp_bytes - bytes0, g_udp_packets - pkts0);
    for (unsigned long i = 0; i < w->lat_messages; i++) {
        struct pollfd sig = {.fd = SIGNAL_FD, .events = POLLIN};
        char c;
        while (!send_one(w, (uint32_t)(w->messages + i))) {
            pump(w, -1);
        }
        while (poll(&sig, 1, 0) == 0) {
            pump(w, SIGNAL_FD);
        }
        if (read(SIGNAL_FD, &c, 1) != 1) {
            fprintf(stderr, "tox_bench: B's wake-up pipe closed\n");
            exit(1);
        }
    }
    printf(" end_rss=%ld end_hwm=%ld refused=%" PRIu64 "\n", bench_proc_kib(0, "VmRSS"),
           bench_proc_kib(0, "VmHWM"), g_refused);
    fflush(stdout);
}

static void run_b(worker_t *w, double connected)
{
    uint64_t bytes0 = 0, pkts0 = 0, bytes = 0, pkts = 0;
    double rss = -1, idle_end = connected + (double)w->idle_ms / 1e3;
    struct pollfd in = {.fd = STDIN_FILENO, .events = POLLIN};

    while (w->received < w->messages + w->lat_messages) {
        if (rss < 0 && bench_now_s() >= idle_end) {
            rss = (double)bench_proc_kib(0, "VmRSS");
        }
        if (w->received == 0) {
            bytes0 = g_udp_bytes;
            pkts0 = g_udp_packets;
        } else if (w->received <= w->messages) {
            bytes = g_udp_bytes - bytes0; /* until the first latency message */
            pkts = g_udp_packets - pkts0;
        }
        pump(w, -1);
    }
    printf("result connected=%.6f rss=%.0f first_recv=%.6f last_recv=%.6f bytes=%" PRIu64
           " packets=%" PRIu64 " lat_p50=%.4f lat_p99=%.4f refused=%" PRIu64 "\n",
           connected, rss, w->first_recv, w->last_recv, bytes, pkts,
           bench_quantile(w->lat_ms, w->lat_messages, 0.5),
           bench_quantile(w->lat_ms, w->lat_messages, 0.99), g_refused);
    fflush(stdout);
    /* Keep answering (A waits for the last receipt) until told to stop: stdin closes. */
    while (poll(&in, 1, 0) == 0) {
        pump(w, STDIN_FILENO);
    }
}

static int worker(bool is_a, unsigned long n, unsigned long m, unsigned long idle_ms)
{
    static worker_t w;
    double t_new, t_ready, rss_base = (double)bench_proc_kib(0, "VmRSS");

    w.is_a = is_a;
    w.messages = n;
    w.lat_messages = m;
    w.idle_ms = idle_ms;
    t_new = bench_now_s();
    w.tox = make_tox();
    t_ready = bench_now_s();
    if (w.tox == NULL || g_udp_fd < 0) {
        return 1;
    }
    printf("ready t=%.6f tox_new_ms=%.3f rss_base=%.0f\n", t_ready, (t_ready - t_new) * 1e3,
           rss_base);
    tox_callback_friend_connection_status(w.tox, on_connection);
    tox_callback_friend_read_receipt(w.tox, on_receipt);
    tox_callback_friend_message(w.tox, on_message);
    if (meet(&w) != 0) {
        return 1;
    }
    while (!w.connected) {
        pump(&w, -1);
    }
    is_a ? run_a(&w, bench_now_s()) : run_b(&w, bench_now_s());
    tox_kill(w.tox);
    return 0;
}

/* ---- the coordinator ---- */

typedef struct {
    pid_t pid;
    FILE *in, *out; /* its stdin (we write), its stdout (we read) */
} kid_t;

typedef struct {
    unsigned long runs, messages, lat_messages, idle_ms;
    bool json;
} opts_t;

/* Starts a worker: its stdin and stdout are pipes to us, sig becomes its SIGNAL_FD. */
static int spawn(const opts_t *o, const char *role, int sig, kid_t *k)
{
    int to[2], from[2];
    pid_t parent = getpid();
    char n[24], m[24], idle[24];

    if (pipe(to) != 0 || pipe(from) != 0) {
        return -1;
    }
    fflush(stdout);
    k->pid = fork();
    if (k->pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
            _exit(1);
        }
        sig = fcntl(sig, F_DUPFD, 10);
        if (sig < 0 || dup2(to[0], STDIN_FILENO) < 0 || dup2(from[1], STDOUT_FILENO) < 0 ||
            dup2(sig, SIGNAL_FD) < 0) {
            _exit(1);
        }
        close(to[0]), close(to[1]), close(from[0]), close(from[1]), close(sig);
        snprintf(n, sizeof n, "%lu", o->messages);
        snprintf(m, sizeof m, "%lu", o->lat_messages);
        snprintf(idle, sizeof idle, "%lu", o->idle_ms);
        execl("/proc/self/exe", "tox_bench", "--worker", role, n, m, idle, (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    k->in = fdopen(to[1], "w");
    k->out = fdopen(from[0], "r");
    return k->pid > 0 && k->in && k->out ? 0 : -1;
}

static void reap(kid_t *k)
{
    if (k->in != NULL) {
        fclose(k->in);
    }
    if (k->out != NULL) {
        fclose(k->out);
    }
    if (k->pid > 0) {
        kill(k->pid, SIGTERM);
        (void)waitpid(k->pid, NULL, 0);
    }
    memset(k, 0, sizeof *k);
}

/* The value of " key=" in line, or NAN-like -1 if absent. */
static double field(const char *line, const char *key)
{
    char pat[40];
    const char *p;

    snprintf(pat, sizeof pat, " %s=", key);
    p = strstr(line, pat);
    return p != NULL ? strtod(p + strlen(pat), NULL) : -1;
}

static int read_line(kid_t *k, const char *prefix, char *line, size_t cap)
{
    if (fgets(line, (int)cap, k->out) == NULL || strncmp(line, prefix, strlen(prefix)) != 0) {
        fprintf(stderr, "tox_bench: worker %ld: expected \"%s\"\n", (long)k->pid, prefix);
        return -1;
    }
    return 0;
}

typedef struct {
    double ready_ms[MAX_RUNS], tox_new_ms[MAX_RUNS], connected_ms[MAX_RUNS];
    double rss[MAX_RUNS], hwm[MAX_RUNS], rss_base[MAX_RUNS], peer_rss[MAX_RUNS];
    double rate[MAX_RUNS], bytes_per_msg[MAX_RUNS], a_bytes_per_msg[MAX_RUNS];
    double packets_per_msg[MAX_RUNS], lat_p50[MAX_RUNS], lat_p99[MAX_RUNS];
    double end_rss[MAX_RUNS], end_hwm[MAX_RUNS];
    double refused;
} results_t;

/* B first; then A, timed from its fork; their addresses cross here. */
static int one_run(const opts_t *o, results_t *res, size_t r)
{
    char la[512], lb[512], ra[1024], rb[1024];
    kid_t a = {0}, b = {0};
    int sig[2] = {-1, -1};
    double t0;
    int err = -1;

    if (pipe(sig) != 0 || spawn(o, "b", sig[1], &b) != 0 ||
        read_line(&b, "ready", lb, sizeof lb) != 0 || read_line(&b, "addr", lb, sizeof lb) != 0) {
        goto out;
    }
    t0 = bench_now_s();
    if (spawn(o, "a", sig[0], &a) != 0 || fputs(lb, a.in) < 0 || fflush(a.in) != 0 ||
        read_line(&a, "ready", ra, sizeof ra) != 0) {
        goto out;
    }
    res->ready_ms[r] = (field(ra, "t") - t0) * 1e3;
    res->tox_new_ms[r] = field(ra, "tox_new_ms");
    res->rss_base[r] = field(ra, "rss_base");
    if (read_line(&a, "addr", la, sizeof la) != 0 || fputs(la, b.in) < 0 || fflush(b.in) != 0 ||
        read_line(&a, "result", ra, sizeof ra) != 0 ||
        read_line(&b, "result", rb, sizeof rb) != 0) {
        goto out;
    }
    res->connected_ms[r] = (field(ra, "connected") - t0) * 1e3;
    res->rss[r] = field(ra, "rss");
    res->hwm[r] = field(ra, "hwm");
    res->peer_rss[r] = field(rb, "rss");
    res->rate[r] = (double)o->messages / (field(rb, "last_recv") - field(ra, "first_send"));
    res->bytes_per_msg[r] = (field(ra, "bytes") + field(rb, "bytes")) / (double)o->messages;
    res->a_bytes_per_msg[r] = field(ra, "bytes") / (double)o->messages;
    res->packets_per_msg[r] = (field(ra, "packets") + field(rb, "packets")) / (double)o->messages;
    res->lat_p50[r] = field(rb, "lat_p50");
    res->lat_p99[r] = field(rb, "lat_p99");
    res->end_rss[r] = field(ra, "end_rss");
    res->end_hwm[r] = field(ra, "end_hwm");
    res->refused += field(ra, "refused") + field(rb, "refused");
    err = 0;
out:
    for (int i = 0; i < 2; i++) {
        if (sig[i] >= 0) {
            close(sig[i]);
        }
    }
    reap(&a);
    reap(&b);
    return err;
}

static void print_json(const opts_t *o, const results_t *s)
{
    size_t n = o->runs;

    printf("{\n  \"benchmark\": \"tox\",\n  \"toxcore\": \"%u.%u.%u\",\n  \"runs\": %lu,\n"
           "  \"idle_ms\": %lu,\n  \"messages\": %lu,\n  \"latency_messages\": %lu,\n"
           "  \"text_bytes\": %d,\n  \"refused_non_loopback\": %.0f,\n",
           tox_version_major(), tox_version_minor(), tox_version_patch(), o->runs, o->idle_ms,
           o->messages, o->lat_messages, TEXT_LEN, s->refused);
    printf("  \"startup\": {\n");
    bench_print_json_stat("exec_to_ready_ms", s->ready_ms, n, 1, false);
    bench_print_json_stat("tox_new_ms", s->tox_new_ms, n, 2, false);
    bench_print_json_stat("exec_to_connected_ms", s->connected_ms, n, 1, true);
    printf("  },\n  \"idle\": {\n");
    bench_print_json_stat("rss_kib", s->rss, n, 0, false);
    bench_print_json_stat("hwm_kib", s->hwm, n, 0, false);
    bench_print_json_stat("rss_before_tox_new_kib", s->rss_base, n, 0, false);
    bench_print_json_stat("peer_rss_kib", s->peer_rss, n, 0, true);
    printf("  },\n  \"direct\": {\n");
    bench_print_json_stat("msgs_per_s", s->rate, n, 0, false);
    bench_print_json_stat("udp_bytes_per_msg", s->bytes_per_msg, n, 1, false);
    bench_print_json_stat("udp_bytes_per_msg_a_to_b", s->a_bytes_per_msg, n, 1, false);
    bench_print_json_stat("udp_packets_per_msg", s->packets_per_msg, n, 3, false);
    bench_print_json_stat("latency_p50_ms", s->lat_p50, n, 3, false);
    bench_print_json_stat("latency_p99_ms", s->lat_p99, n, 3, true);
    printf("  },\n  \"after_messages\": {\n");
    bench_print_json_stat("rss_kib", s->end_rss, n, 0, false);
    bench_print_json_stat("hwm_kib", s->end_hwm, n, 0, true);
    printf("  }\n}\n");
}

static void print_text(const opts_t *o, const results_t *s)
{
    struct {
        const char *name;
        const double *v;
    } rows[] = {
        {"exec -> tox_new returned, ms", s->ready_ms},
        {"tox_new, ms", s->tox_new_ms},
        {"exec -> friend UDP, ms", s->connected_ms},
        {"idle VmRSS, KiB", s->rss},
        {"idle VmHWM, KiB", s->hwm},
        {"1:1, messages/s", s->rate},
        {"UDP bytes/message", s->bytes_per_msg},
        {"latency p50, ms", s->lat_p50},
        {"latency p99, ms", s->lat_p99},
    };

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bench_stat_t st = bench_stat(rows[i].v, o->runs);
        printf("%-30s %10.2f  (%.2f - %.2f)\n", rows[i].name, st.median, st.min, st.max);
    }
    printf("sends refused (not loopback): %.0f\n", s->refused);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: tox_bench [--runs R] [--messages N] [--latency-messages M] [--idle-ms MS] "
               "[--json]\n"
               "Two c-toxcore instances in two processes on 127.0.0.1, friends of each other:\n"
               "start-up, idle memory, 1 KiB friend messages/s and latency (see the source).\n");
}

static int parse_args(int argc, char **argv, opts_t *o)
{
    static const char *const names[] = {"--runs", "--messages", "--latency-messages", "--idle-ms"};
    unsigned long *nums[] = {&o->runs, &o->messages, &o->lat_messages, &o->idle_ms};
    const unsigned long max[] = {MAX_RUNS, 100000, MAX_LAT, 600000};

    for (int i = 1; i < argc; i++) {
        size_t k = 0;
        if (strcmp(argv[i], "--json") == 0) {
            o->json = true;
            continue;
        }
        while (k < 4 && strcmp(argv[i], names[k]) != 0) {
            k++;
        }
        if (k == 4) {
            usage(stderr);
            return -1;
        }
        if (bench_parse_num("tox_bench", argv[i], i + 1 < argc ? argv[i + 1] : NULL, 1, max[k],
                            nums[k]) != 0) {
            return -1;
        }
        i++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o = {.runs = 5, .messages = 2000, .lat_messages = 100, .idle_ms = 3000};
    static results_t res;

    if (argc == 6 && strcmp(argv[1], "--worker") == 0) {
        alarm(300);
        return worker(strcmp(argv[2], "a") == 0, strtoul(argv[3], NULL, 10),
                      strtoul(argv[4], NULL, 10), strtoul(argv[5], NULL, 10));
    }
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (parse_args(argc, argv, &o) != 0) {
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    for (size_t r = 0; r < o.runs; r++) {
        if (one_run(&o, &res, r) != 0) {
            return 1;
        }
    }
    o.json ? print_json(&o, &res) : print_text(&o, &res);
    return res.refused > 0 ? 1 : 0;
}

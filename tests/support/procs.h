/*
 * Test support: real guardmeshd processes and guardmesh CLI runs, for the
 * integration suites. Each test works in one fresh mkdtemp() folder (node
 * directories, configs, every captured stream); daemons listen on 127.0.0.1
 * only and get PR_SET_PDEATHSIG, so a test killed by its timeout takes them
 * with it. Nodes are polled through their control sockets (the client
 * library) with short sleeps and a deadline.
 *
 * State (the folder, the daemons started) is per test process: Criterion
 * runs each test in its own process. Call gm_proc_setup() from the suite's
 * .init, gm_proc_finish() as the last statement of every test (Criterion 2.4
 * counts a test whose .fini expectation fails as passed, so the clean-stop
 * and sanitizer checks run in the body) and gm_proc_teardown() from .fini.
 */
#ifndef GM_TEST_PROCS_H
#define GM_TEST_PROCS_H

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "node/client.h"

#define GM_PROC_MAX_ARGS 24
#define GM_PROC_MAX_DAEMONS 16
#define GM_PROC_OUT_MAX 65536
#define GM_PROC_DEADLINE_MS 10000 /* for anything the tests wait for */
#define GM_PROC_STOP_MS 5000      /* SIGTERM to exit */
#define GM_PROC_POLL_MS 20

typedef struct {
    char name[24];
    char dir[64];
    char log[96]; /* its stderr */
    pid_t pid;    /* 0 once reaped */
    int status;   /* once reaped: exit status, or 128 + signal */
} gm_daemon_t;

/* What one run of the guardmesh CLI produced. */
typedef struct {
    char cmd[512];
    int status;
    char out[GM_PROC_OUT_MAX];
    char err[GM_PROC_OUT_MAX];
} gm_cli_run_t;

/* ---- the test's folder ---- */

/* Makes /tmp/<prefix>.XXXXXX (prefix at most 8 characters) and forgets earlier daemons. */
void gm_proc_setup(const char *prefix);
const char *gm_proc_root(void);
/* out = root/name; fails the test if it does not fit. */
void gm_proc_path(char *out, size_t cap, const char *name);
/* Stops every daemon (expecting clean exits and no sanitizer report). */
void gm_proc_finish(void);
/* Stops whatever is left without judging it and removes the folder. */
void gm_proc_teardown(void);

/* ---- time and files ---- */

uint64_t gm_proc_now_ms(void);
void gm_proc_sleep_ms(unsigned ms);
/* Up to cap - 1 bytes of path into buf (empty if it cannot be read). */
void gm_proc_read_text(const char *path, char *buf, size_t cap);
void gm_proc_put_text(const char *path, const char *text);
bool gm_proc_exists(const char *path);
/* True if one line of text contains both a and b (b may be NULL). */
bool gm_proc_has_line(const char *text, const char *a, const char *b);
bool gm_proc_log_has_line(const gm_daemon_t *d, const char *a, const char *b);

/* ---- daemons ---- */

/* Starts guardmeshd [--dir DIR] ARG... (up to a NULL); its stderr goes to d->log. */
gm_daemon_t *gm_proc_spawn(const char *name, const char *dir, const char *arg, ...);
gm_daemon_t *gm_proc_vspawn(const char *name, const char *dir, const char *arg, va_list ap);
#define GM_PROC_SPAWN(name, dir, ...) gm_proc_spawn(name, dir, __VA_ARGS__, (const char *)NULL)

/* Waits up to timeout_ms for d to exit; true (and d->status set) if it did. */
bool gm_proc_reap(gm_daemon_t *d, unsigned timeout_ms);
/* SIGTERM, then waits; SIGKILL (and a failed test) if it does not exit. Its exit status. */
int gm_proc_stop(gm_daemon_t *d);
void gm_proc_kill9(gm_daemon_t *d);
/* Every daemon's stderr, to the test's stderr. */
void gm_proc_dump_logs(void);
/* Fails at once if a daemon meant to be running has exited. */
void gm_proc_check_alive(void);
/* Waits until d answers on its control socket; fails at once if it exited. */
void gm_proc_wait_up(gm_daemon_t *d);
/*
 * Starts a node with config cfg, listening on 127.0.0.1:listen_port (0: any),
 * dialling 127.0.0.1:peer_port unless it is 0; returns once it answers.
 */
gm_daemon_t *gm_proc_start_node(const char *name, const char *dir, const char *cfg, int listen_port,
                                int peer_port);

/* Polls cond every GM_PROC_POLL_MS until it holds; fails after GM_PROC_DEADLINE_MS. */
#define GM_PROC_WAIT_FOR(cond, what)                                                               \
    do {                                                                                           \
        uint64_t wait_end_ = gm_proc_now_ms() + GM_PROC_DEADLINE_MS;                               \
        while (!(cond)) {                                                                          \
            gm_proc_check_alive();                                                                 \
            if (gm_proc_now_ms() >= wait_end_) {                                                   \
                gm_proc_dump_logs();                                                               \
                cr_assert_fail("timed out after %d ms waiting until %s", GM_PROC_DEADLINE_MS,      \
                               what);                                                              \
            }                                                                                      \
            gm_proc_sleep_ms(GM_PROC_POLL_MS);                                                     \
        }                                                                                          \
    } while (0)

/* ---- the guardmesh CLI ---- */

/* Runs guardmesh ARG... (up to a NULL); expects no sanitizer report. Its exit status. */
int gm_proc_cli(gm_cli_run_t *o, const char *arg, ...);
/* Runs guardmesh and requires success with nothing on stderr. */
void gm_proc_cli_must(const char *arg, ...);
/* Runs guardmesh, requires success and nothing on stderr; its stdout parsed (cJSON_Delete). */
cJSON *gm_proc_cli_json(const char *arg, ...);
#define GM_PROC_CLI(o, ...) gm_proc_cli(o, __VA_ARGS__, (const char *)NULL)
#define GM_PROC_MUST(...) gm_proc_cli_must(__VA_ARGS__, (const char *)NULL)
#define GM_PROC_JSON(...) gm_proc_cli_json(__VA_ARGS__, (const char *)NULL)

/* obj[key] as a string, "(absent)" if it is not one. */
const char *gm_proc_json_str(const cJSON *obj, const char *key);
/* A number member, or -1 when absent; obj[group][key]. */
double gm_proc_json_num(const cJSON *obj, const char *key);
double gm_proc_json_num2(const cJSON *obj, const char *group, const char *key);

/* ---- the mesh layer of a running node, through the CLI ---- */

/* A mesh counter of the node in dir (status --json: mesh.counters.name); -1 if absent. */
double gm_proc_mesh_counter(const char *dir, const char *name);
/* The route to callsign in a `routes --json` document, or NULL. */
const cJSON *gm_proc_route_to(const cJSON *doc, const char *callsign);
bool gm_proc_route_reachable(const cJSON *route);
/* True if dir's routing table reaches callsign (through next_hop, if not NULL). */
bool gm_proc_routes_reach(const char *dir, const char *callsign, const char *next_hop);

/* ---- network ---- */

/* A free TCP port on 127.0.0.1, below the kernel's ephemeral range when it can be. */
int gm_proc_free_port(void);
void gm_proc_addr(char out[32], int port);

/* ---- asking a node (client library) ---- */

/* STATUS or PEERS from the node in dir; false if it does not answer. Free *r on success. */
bool gm_proc_ask(const char *dir, gm_control_op_t op, gm_control_response_t *r);
/* The counter called name in c, 0 if absent. */
uint64_t gm_proc_counter(const gm_counter_t *c, size_t n, const char *name);
/* A status counter ("refusals" or "events") of the node in dir; 0 if it does not answer. */
uint64_t gm_proc_node_counter(const char *dir, const char *group, const char *name);
/* Links up, -1 if the node does not answer. */
long gm_proc_node_links(const char *dir);
/* True if the node in dir has a link up to callsign that carried frames both ways. */
bool gm_proc_has_peer(const char *dir, const char *callsign);

#endif

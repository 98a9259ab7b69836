/*
 * gm-sim as a user runs it: the example scenarios deliver everything exactly
 * once, the same seed gives the same report, another seed another one, and
 * bad scenario files are refused with the line at fault.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIM GM_BIN_DIR "/gm-sim"
#define SCENARIOS GM_SOURCE_DIR "/tools/sim/scenarios"
#define OUT_MAX (256 * 1024)

typedef struct {
    int status;
    char out[OUT_MAX];
    char err[4096];
} run_t;

/* Runs gm-sim with args (one shell word each, no quoting needed); stdout and stderr kept. */
static void run(run_t *r, const char *args)
{
    char cmd[1024], errfile[] = "/tmp/gmsimerr.XXXXXX";
    int fd = mkstemp(errfile);
    FILE *p, *e;
    size_t n;

    cr_assert_geq(fd, 0);
    close(fd);
    snprintf(cmd, sizeof cmd, "%s %s 2>%s", SIM, args, errfile);
    p = popen(cmd, "r");
    cr_assert_not_null(p, "cannot run %s", cmd);
    n = fread(r->out, 1, sizeof r->out - 1, p);
    r->out[n] = '\0';
    r->status = WEXITSTATUS(pclose(p));
    e = fopen(errfile, "r");
    cr_assert_not_null(e);
    n = fread(r->err, 1, sizeof r->err - 1, e);
    r->err[n] = '\0';
    fclose(e);
    unlink(errfile);
    cr_assert_eq(strstr(r->err, "Sanitizer") == NULL && strstr(r->err, "runtime error") == NULL,
                 true, "sanitizer report:\n%s", r->err);
}

static double num(const cJSON *o, const char *a, const char *b, const char *c)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);

    x = b != NULL ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
    x = c != NULL ? cJSON_GetObjectItemCaseSensitive(x, c) : x;
    cr_assert(cJSON_IsNumber(x), "no number at %s.%s.%s", a, b ? b : "", c ? c : "");
    return x->valuedouble;
}

static const char *classes[] = {"text", "group", "position", "alert"};

/* Every class sent something, and all of it arrived exactly once. */
static void expect_all_delivered(const cJSON *doc)
{
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        cr_expect_gt(num(doc, "classes", classes[i], "sent"), 0, "%s: nothing sent", classes[i]);
        cr_expect_eq(num(doc, "classes", classes[i], "ratio"), 1.0, "%s not all delivered",
                     classes[i]);
        cr_expect_eq(num(doc, "classes", classes[i], "duplicates"), 0, "%s duplicated",
                     classes[i]);
        cr_expect_eq(num(doc, "classes", classes[i], "unexpected"), 0, "%s", classes[i]);
    }
}

/* Runs an example scenario; it must succeed and deliver everything once. The report. */
static cJSON *run_example(const char *name)
{
    static run_t r;
    char args[512];
    cJSON *doc;

    snprintf(args, sizeof args, "--quiet --json %s/%s.ini", SCENARIOS, name);
    run(&r, args);
    cr_assert_eq(r.status, 0, "gm-sim failed (%d):\n%s\n%s", r.status, r.err, r.out);
    doc = cJSON_Parse(r.out);
    cr_assert_not_null(doc, "not JSON:\n%s", r.out);
    expect_all_delivered(doc);
    return doc;
}

Test(sim_cli, chain_with_cut_and_crash_delivers_everything_once, .timeout = 300)
{
    cJSON *doc = run_example("chain");

    cr_expect_eq(num(doc, "nodes", NULL, NULL), 10);
    cr_expect_gt(num(doc, "bytes", "on_air", NULL), 0);
    cr_expect_gt(num(doc, "bytes", "announcements", NULL), 0);
    cr_expect_gt(num(doc, "convergence", "converged", NULL), 1);
    cr_expect_eq(num(doc, "convergence", "not_converged", NULL), 0);
    cr_expect_gt(num(doc, "store_peak_bundles", NULL, NULL), 0);
    cJSON_Delete(doc);
}

Test(sim_cli, clusters_joined_by_a_vehicle_deliver_everything_once, .timeout = 300)
{
    cJSON *doc = run_example("clusters");

    cr_expect_gt(num(doc, "convergence", "changes", NULL), 3, "the vehicle never moved");
    cJSON_Delete(doc);
}

/* The report without the simulator's own CPU, memory and wall time. */
static char *outcome(const char *json)
{
    cJSON *doc = cJSON_Parse(json);
    char *text;

    cr_assert_not_null(doc, "not JSON:\n%s", json);
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "simulator");
    text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return text;
}

Test(sim_cli, the_same_seed_gives_the_same_run, .timeout = 300)
{
    static run_t a, b, c;
    char *x, *y, *z;

    run(&a, "--quiet --json --seed 7 --duration 300 " SCENARIOS "/small.ini");
    run(&b, "--quiet --json --seed 7 --duration 300 " SCENARIOS "/small.ini");
    run(&c, "--quiet --json --seed 8 --duration 300 " SCENARIOS "/small.ini");
    cr_assert_eq(a.status, 0, "%s", a.err);
    x = outcome(a.out);
    y = outcome(b.out);
    z = outcome(c.out);
    cr_expect_str_eq(x, y, "two runs of seed 7 differ");
    cr_expect_str_neq(x, z, "seeds 7 and 8 gave the same run");
    free(x);
    free(y);
    free(z);
}

Test(sim_cli, the_table_has_every_figure_and_a_progress_line, .timeout = 300)
{
    static run_t r;

    run(&r, "--duration 300 " SCENARIOS "/small.ini");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_not_null(strstr(r.err, "simulated"), "no progress line:\n%s", r.err);
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        cr_expect_not_null(strstr(r.out, classes[i]), "%s missing:\n%s", classes[i], r.out);
    }
    cr_expect_not_null(strstr(r.out, "bytes on air"));
    cr_expect_not_null(strstr(r.out, "control (announcements"));
    cr_expect_not_null(strstr(r.out, "store peak per node"));
    cr_expect_not_null(strstr(r.out, "routes converged"));
    cr_expect_not_null(strstr(r.out, "peak RSS"));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(sim_cli, bad_scenarios_are_refused_with_the_line_at_fault)
{
    static run_t r;
    char path[] = "/tmp/gmsimbad.XXXXXX";
    char args[256];
    int fd = mkstemp(path);

    cr_assert_geq(fd, 0);
    close(fd);
    snprintf(args, sizeof args, "--quiet %s", path);

    write_file(path, "[sim]\nnodes = 10\ntopology = torus\n");
    run(&r, args);
    cr_expect_eq(r.status, 2);
    cr_expect_not_null(strstr(r.err, ":3:"), "%s", r.err);
    cr_expect_not_null(strstr(r.err, "topology = torus"), "%s", r.err);

    write_file(path, "[events]\nat = 10 explode 3\n");
    run(&r, args);
    cr_expect_eq(r.status, 2);
    cr_expect_not_null(strstr(r.err, ":2:"), "%s", r.err);

    write_file(path, "[node]\nmesh.no_such_key = 1\n");
    run(&r, args);
    cr_expect_eq(r.status, 2);
    cr_expect_not_null(strstr(r.err, "no_such_key"), "%s", r.err);

    write_file(path, "[sim]\nnodes = 99999999\n");
    run(&r, args);
    cr_expect_eq(r.status, 2);

    run(&r, "--quiet /no/such/scenario.ini");
    cr_expect_eq(r.status, 2);
    cr_expect_not_null(strstr(r.err, "cannot read"), "%s", r.err);
    unlink(path);

    run(&r, "--help");
    cr_expect_eq(r.status, 0);
    cr_expect_not_null(strstr(r.out, "usage: gm-sim"));
}

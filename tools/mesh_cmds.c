/*
 * guardmesh --dir NODE_DIR routes | debug inject | revocations add: the mesh
 * layer of a running node, asked through its control socket (GM_OP_MESH).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/client.h"
#include "node/fileio.h"
#include "proto/wire_bundle.h"
#include "tools/cli.h"
#include "tools/util.h"

#define SHORT_ID 8 /* hex digits of a node id in tables */

static const char routes_usage[] = "usage: guardmesh --dir NODE_DIR routes [--json]\n"
                                   "Prints the routing table: every node the mesh announced, "
                                   "its next hop,\nmetric, sequence number and route age.\n";
static const char inject_usage[] =
    "usage: guardmesh --dir NODE_DIR debug inject --to NODE_ID_HEX|--all [--size N]\n"
    "                 [--count K] [--priority emergency|urgent|normal|bulk]\n"
    "                 [--lifetime SECONDS] [--json]\n"
    "Test traffic: K bundles (default 1, at most 100000) of N random bytes (default 64)\n"
    "from this node to the node with that id (32 hex digits) or to every node.\n"
    "Priority normal and the node's bundle lifetime unless given. Prints how many\n"
    "were made; --json also lists their ids (the first 1000).\n";
static const char revocations_usage[] =
    "usage: guardmesh --dir NODE_DIR revocations add CRL_FILE\n"
    "Gives the node a signed revocation list (guardmesh ca revoke writes one): it is\n"
    "checked against the organisations the node trusts, applied if newer than the one\n"
    "held (links to revoked nodes close) and flooded through the mesh.\n";

/* Asks the mesh layer. On any failure, its refusal included, prints why and returns 1. */
static int ask(const char *dir, const gm_mesh_request_t *q, gm_mesh_response_t *r)
{
    gm_why_t why;

    if (gm_client_mesh(dir, NULL, q, r, &why) != 0) {
        return gm_cli_fail("%s: %s", dir, why.msg);
    }
    if (r->error != 0) {
        gm_cli_fail("%s: %s", dir, r->message);
        gm_mesh_response_free(r);
        return GM_EXIT_FAIL;
    }
    return 0;
}

int gm_cli_mesh_status(const char *dir, gm_mesh_response_t *out)
{
    gm_mesh_request_t q = {.op = GM_MESH_OP_STATUS};
    gm_why_t why;
    int err = gm_client_mesh(dir, NULL, &q, out, &why);

    if (err == GM_ENOENT) {
        return -1; /* this node runs no mesh layer */
    }
    if (err != 0) {
        return gm_cli_fail("%s: %s", dir, why.msg);
    }
    if (out->error != 0) {
        gm_cli_fail("%s: %s", dir, out->message);
        gm_mesh_response_free(out);
        return GM_EXIT_FAIL;
    }
    return 0;
}

/* Options of a command that takes only --json and --help: -1 to go on, else an exit status. */
static int parse_json_only(int argc, char **argv, const char *usage, bool *json)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            *json = true;
        } else if (strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return GM_EXIT_OK;
        } else {
            fprintf(stderr, "guardmesh: %s: unexpected argument '%s'\n", argv[0], argv[i]);
            return GM_EXIT_USAGE;
        }
    }
    return -1;
}

/* ---- routes ---- */

static const char *callsign_of(const gm_mesh_response_t *r, const uint8_t id[GM_ID_LEN])
{
    for (size_t i = 0; i < r->n_routes; i++) {
        if (memcmp(r->routes[i].dest, id, GM_ID_LEN) == 0) {
            return r->routes[i].callsign;
        }
    }
    return "?";
}

static void routes_print(const gm_mesh_response_t *r)
{
    char hex[2 * GM_ID_LEN + 1], dest[48], hop[48], age[32];

    printf("%-30s %-30s %6s %-20s %s\n", "DESTINATION", "NEXT HOP", "METRIC", "SEQ", "AGE");
    for (size_t i = 0; i < r->n_routes; i++) {
        const gm_mesh_route_line_t *l = &r->routes[i];
        gm_hex_encode(hex, l->dest, GM_ID_LEN);
        snprintf(dest, sizeof dest, "%.*s %s", SHORT_ID, hex, l->callsign);
        if (l->reachable) {
            gm_hex_encode(hex, l->next_hop, GM_ID_LEN);
            snprintf(hop, sizeof hop, "%.*s %s", SHORT_ID, hex, callsign_of(r, l->next_hop));
        } else {
            snprintf(hop, sizeof hop, "unreachable");
        }
        gm_cli_fmt_age(l->age_ms, age);
        printf("%-30s %-30s %6u %-20llu %s\n", dest, hop, l->metric, (unsigned long long)l->seq,
               age);
    }
    printf("directory: %u node%s\n", r->directory, r->directory == 1 ? "" : "s");
}

static cJSON *routes_json(const gm_mesh_response_t *r)
{
    char hex[2 * GM_ID_LEN + 1];
    cJSON *o = cJSON_CreateObject(), *a;

    cJSON_AddNumberToObject(o, "directory", r->directory);
    a = cJSON_AddArrayToObject(o, "routes");
    for (size_t i = 0; i < r->n_routes; i++) {
        const gm_mesh_route_line_t *l = &r->routes[i];
        cJSON *e = cJSON_CreateObject();
        gm_hex_encode(hex, l->dest, GM_ID_LEN);
        cJSON_AddStringToObject(e, "dest", hex);
        cJSON_AddStringToObject(e, "callsign", l->callsign);
        cJSON_AddBoolToObject(e, "reachable", l->reachable);
        gm_hex_encode(hex, l->next_hop, GM_ID_LEN);
        cJSON_AddStringToObject(e, "next_hop", l->reachable ? hex : "");
        cJSON_AddStringToObject(e, "next_hop_callsign",
                                l->reachable ? callsign_of(r, l->next_hop) : "");
        cJSON_AddNumberToObject(e, "metric", l->metric);
        cJSON_AddNumberToObject(e, "seq", (double)l->seq);
        cJSON_AddNumberToObject(e, "age_ms", (double)l->age_ms);
        cJSON_AddItemToArray(a, e);
    }
    return o;
}

int gm_cli_routes(const char *dir, int argc, char **argv)
{
    gm_mesh_request_t q = {.op = GM_MESH_OP_ROUTES};
    gm_mesh_response_t r;
    bool json = false;
    int rc = parse_json_only(argc, argv, routes_usage, &json);

    if (rc >= 0) {
        return rc;
    }
    rc = ask(dir, &q, &r);
    if (rc != 0) {
        return rc;
    }
    json ? gm_cli_print_json(routes_json(&r)) : routes_print(&r);
    gm_mesh_response_free(&r);
    return 0;
}

/* ---- debug inject ---- */

/* A decimal number in [lo, hi] for option opt; false after saying why. */
static bool parse_u32(const char *opt, const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    char *end;
    unsigned long long v;

    if (s[0] < '0' || s[0] > '9') {
        end = (char *)s;
    } else {
        v = strtoull(s, &end, 10);
        if (*end == 0 && v >= lo && v <= hi) {
            *out = (uint32_t)v;
            return true;
        }
    }
    fprintf(stderr, "guardmesh: %s '%s': want a number from %u to %u\n", opt, s, lo, hi);
    return false;
}

static bool parse_priority(const char *s, uint32_t *out)
{
    static const char *const names[GM_PRIO_COUNT] = {"emergency", "urgent", "normal", "bulk"};

    for (uint32_t i = 0; i < GM_PRIO_COUNT; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return true;
        }
    }
    fprintf(stderr, "guardmesh: --priority '%s': want emergency, urgent, normal or bulk\n", s);
    return false;
}

struct inject_opts {
    gm_mesh_request_t q;
    bool json, all;
};

/* One option with its value (if any); false after saying why. */
static bool inject_opt(struct inject_opts *o, const char *opt, const char *val)
{
    if (strcmp(opt, "--to") == 0) {
        o->q.has_to = gm_hex_decode(val, o->q.to, GM_ID_LEN) == 0;
        if (!o->q.has_to) {
            fprintf(stderr, "guardmesh: --to '%s': not a node id (32 hex digits)\n", val);
        }
        return o->q.has_to;
    }
    if (strcmp(opt, "--size") == 0) {
        return parse_u32(opt, val, 0, 1u << 20, &o->q.size);
    }
    if (strcmp(opt, "--count") == 0) {
        return parse_u32(opt, val, 1, GM_MESH_CTL_MAX_INJECT, &o->q.count);
    }
    if (strcmp(opt, "--lifetime") == 0) {
        return parse_u32(opt, val, 1, GM_BUNDLE_LIFETIME_MAX, &o->q.lifetime);
    }
    return strcmp(opt, "--priority") == 0 && parse_priority(val, &o->q.priority);
}

/* argv[0] is "inject". -1 to go on, else an exit status. */
static int parse_inject(int argc, char **argv, struct inject_opts *o)
{
    static const char *const valued[] = {"--to", "--size", "--count", "--lifetime", "--priority"};

    memset(o, 0, sizeof *o);
    o->q.op = GM_MESH_OP_INJECT;
    o->q.size = 64;
    o->q.count = 1;
    o->q.priority = GM_PRIO_NORMAL;
    for (int i = 1; i < argc; i++) {
        bool known = false;
        if (strcmp(argv[i], "--help") == 0) {
            fputs(inject_usage, stdout);
            return GM_EXIT_OK;
        }
        if (strcmp(argv[i], "--json") == 0) {
            o->json = true;
            continue;
        }
        if (strcmp(argv[i], "--all") == 0) {
            o->all = true;
            continue;
        }
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++) {
            known |= strcmp(argv[i], valued[k]) == 0;
        }
        if (!known || i + 1 == argc) {
            fprintf(stderr, "guardmesh: debug inject: %s '%s' (see --help)\n",
                    known ? "no value after" : "unexpected argument", argv[i]);
            return GM_EXIT_USAGE;
        }
        if (!inject_opt(o, argv[i], argv[i + 1])) {
            return GM_EXIT_USAGE;
        }
        i++;
    }
    if (o->all == o->q.has_to) {
        fprintf(stderr, "guardmesh: debug inject: give either --to NODE_ID_HEX or --all\n");
        return GM_EXIT_USAGE;
    }
    o->q.dest_kind = o->all ? GM_DST_ALL : GM_DST_NODE;
    return -1;
}

static void inject_print(const gm_mesh_response_t *r, bool json)
{
    char hex[2 * GM_ID_LEN + 1];
    uint64_t n = 0;

    for (size_t i = 0; i < r->n_counters; i++) {
        if (strcmp(r->counters[i].name, "injected") == 0) {
            n = r->counters[i].value;
        }
    }
    if (!json) {
        printf("injected %llu bundle%s\n", (unsigned long long)n, n == 1 ? "" : "s");
        return;
    }
    cJSON *o = cJSON_CreateObject(), *a;
    cJSON_AddNumberToObject(o, "injected", (double)n);
    a = cJSON_AddArrayToObject(o, "ids");
    for (size_t i = 0; i < r->n_ids; i++) {
        gm_hex_encode(hex, r->ids[i], GM_ID_LEN);
        cJSON_AddItemToArray(a, cJSON_CreateString(hex));
    }
    gm_cli_print_json(o);
}

int gm_cli_debug(const char *dir, int argc, char **argv)
{
    struct inject_opts o;
    gm_mesh_response_t r;
    int rc;

    if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
        fputs(inject_usage, stdout);
        return GM_EXIT_OK;
    }
    if (argc >= 2 && strcmp(argv[1], "send") == 0) {
        return gm_cli_debug_send(dir, argc - 1, argv + 1);
    }
    if (argc < 2 || strcmp(argv[1], "inject") != 0) {
        fprintf(stderr, "guardmesh: debug: want 'debug inject' or 'debug send' (see their --help)\n");
        return GM_EXIT_USAGE;
    }
    rc = parse_inject(argc - 1, argv + 1, &o);
    if (rc >= 0) {
        return rc;
    }
    rc = ask(dir, &o.q, &r);
    if (rc != 0) {
        return rc;
    }
    inject_print(&r, o.json);
    gm_mesh_response_free(&r);
    return 0;
}

/* ---- revocations add ---- */

int gm_cli_revocations(const char *dir, int argc, char **argv)
{
    gm_mesh_request_t q = {.op = GM_MESH_OP_CRL_ADD};
    gm_mesh_response_t r;
    int err, rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            fputs(revocations_usage, stdout);
            return GM_EXIT_OK;
        }
    }
    if (argc != 3 || strcmp(argv[1], "add") != 0) {
        fprintf(stderr, "guardmesh: revocations: want 'revocations add CRL_FILE' (see --help)\n");
        return GM_EXIT_USAGE;
    }
    err = gm_file_read(argv[2], GM_MESH_CTL_CRL_MAX, &q.crl, &q.crl_len);
    if (err != 0) {
        return gm_cli_fail("%s: cannot read: %s", argv[2],
                           err == GM_ELIMIT ? "too large for a revocation list" : gm_strerror(err));
    }
    if (q.crl_len == 0) {
        free(q.crl);
        return gm_cli_fail("%s: empty file, not a revocation list", argv[2]);
    }
    rc = ask(dir, &q, &r);
    free(q.crl);
    if (rc != 0) {
        return rc;
    }
    printf("%s\n", r.message);
    gm_mesh_response_free(&r);
    return 0;
}

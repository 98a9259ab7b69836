/*
 * guardmesh --dir NODE_DIR status|peers [--json]: ask a running node; the
 * mesh commands (routes, debug, revocations) are in tools/mesh_cmds.c.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/client.h"
#include "tools/cli.h"
#include "tools/util.h"

void gm_cli_fmt_age(uint64_t ms, char out[32])
{
    uint64_t s = ms / 1000;

    if (s < 60) {
        snprintf(out, 32, "%llus", (unsigned long long)s);
    } else if (s < 3600) {
        snprintf(out, 32, "%llum%02llus", (unsigned long long)(s / 60),
                 (unsigned long long)(s % 60));
    } else {
        snprintf(out, 32, "%lluh%02llum", (unsigned long long)(s / 3600),
                 (unsigned long long)(s / 60 % 60));
    }
}

cJSON *gm_cli_counters_json(const gm_counter_t *c, size_t n)
{
    cJSON *o = cJSON_CreateObject();

    for (size_t i = 0; i < n; i++) {
        cJSON_AddNumberToObject(o, c[i].name, (double)c[i].value);
    }
    return o;
}

void gm_cli_counters_print(const char *label, const gm_counter_t *c, size_t n)
{
    int shown = 0;

    printf("%-11s ", label);
    for (size_t i = 0; i < n; i++) {
        if (c[i].value > 0) {
            printf("%s%s %llu", shown++ ? ", " : "", c[i].name, (unsigned long long)c[i].value);
        }
    }
    printf("%s\n", shown ? "" : "none");
}

static void status_print(const gm_status_info_t *s, const gm_mesh_response_t *mesh)
{
    char id[2 * GM_ID_LEN + 1], mesh_id[33], age[32];

    gm_hex_encode(id, s->node_id, GM_ID_LEN);
    gm_hex_encode(mesh_id, s->mesh_id, 16);
    gm_cli_fmt_age(s->uptime_ms, age);
    printf("node        %s@%s (%s)\n", s->callsign, s->org, s->role);
    printf("node id     %s\n", id);
    printf("mesh id     %s\n", mesh_id);
    printf("uptime      %s\n", age);
    printf("listening  ");
    for (size_t i = 0; i < s->n_listening; i++) {
        printf(" %s", s->listening[i]);
    }
    printf("%s\n", s->n_listening ? "" : " nothing");
    printf("links       %u up, %u in handshake\n", s->links, s->handshakes);
    gm_cli_counters_print("refusals", s->refusals, s->n_refusals);
    gm_cli_counters_print("events", s->events, s->n_events);
    if (mesh != NULL) {
        printf("directory   %u node%s\n", mesh->directory, mesh->directory == 1 ? "" : "s");
        gm_cli_counters_print("mesh", mesh->counters, mesh->n_counters);
    }
}

static cJSON *status_json(const gm_status_info_t *s, const gm_mesh_response_t *mesh)
{
    char hex[2 * GM_ID_LEN + 1];
    cJSON *o = cJSON_CreateObject(), *l = cJSON_AddArrayToObject(o, "listening");

    gm_hex_encode(hex, s->node_id, GM_ID_LEN);
    cJSON_AddStringToObject(o, "node_id", hex);
    gm_hex_encode(hex, s->mesh_id, 16);
    cJSON_AddStringToObject(o, "mesh_id", hex);
    cJSON_AddStringToObject(o, "callsign", s->callsign);
    cJSON_AddStringToObject(o, "org", s->org);
    cJSON_AddStringToObject(o, "role", s->role);
    cJSON_AddNumberToObject(o, "uptime_ms", (double)s->uptime_ms);
    for (size_t i = 0; i < s->n_listening; i++) {
        cJSON_AddItemToArray(l, cJSON_CreateString(s->listening[i]));
    }
    cJSON_AddNumberToObject(o, "links", s->links);
    cJSON_AddNumberToObject(o, "handshakes", s->handshakes);
    cJSON_AddItemToObject(o, "refusals", gm_cli_counters_json(s->refusals, s->n_refusals));
    cJSON_AddItemToObject(o, "events", gm_cli_counters_json(s->events, s->n_events));
    if (mesh != NULL) {
        cJSON *mo = cJSON_AddObjectToObject(o, "mesh");
        cJSON_AddNumberToObject(mo, "directory", mesh->directory);
        cJSON_AddItemToObject(mo, "counters",
                              gm_cli_counters_json(mesh->counters, mesh->n_counters));
    }
    return o;
}

static cJSON *peer_json(const gm_peer_info_t *p)
{
    char hex[2 * GM_ID_LEN + 1];
    cJSON *o = cJSON_CreateObject();

    gm_hex_encode(hex, p->node_id, GM_ID_LEN);
    cJSON_AddStringToObject(o, "node_id", hex);
    cJSON_AddStringToObject(o, "callsign", p->callsign);
    cJSON_AddStringToObject(o, "org", p->org);
    cJSON_AddStringToObject(o, "role", p->role);
    cJSON_AddStringToObject(o, "address", p->address);
    cJSON_AddBoolToObject(o, "inbound", p->inbound);
    cJSON_AddNumberToObject(o, "age_ms", (double)p->age_ms);
    cJSON_AddNumberToObject(o, "bytes_in", (double)p->bytes_in);
    cJSON_AddNumberToObject(o, "bytes_out", (double)p->bytes_out);
    cJSON_AddNumberToObject(o, "frames_in", (double)p->frames_in);
    cJSON_AddNumberToObject(o, "frames_out", (double)p->frames_out);
    cJSON_AddNumberToObject(o, "last_seen_ms", (double)p->last_seen_ms);
    cJSON_AddNumberToObject(o, "rekeys", (double)p->rekeys);
    return o;
}

static void peers_print(const gm_control_response_t *r)
{
    char age[32], seen[32], who[2 * GM_NAME_MAX + 2];

    printf("%-28s %-9s %-22s %-4s %-7s %-20s %-20s %s\n", "PEER", "ROLE", "ADDRESS", "DIR", "AGE",
           "IN bytes/frames", "OUT bytes/frames", "LAST SEEN");
    for (size_t i = 0; i < r->n_peers; i++) {
        const gm_peer_info_t *p = &r->peers[i];
        char in[32], out[32];
        gm_cli_fmt_age(p->age_ms, age);
        gm_cli_fmt_age(p->last_seen_ms, seen);
        snprintf(who, sizeof who, "%s@%s", p->callsign, p->org);
        snprintf(in, sizeof in, "%llu/%llu", (unsigned long long)p->bytes_in,
                 (unsigned long long)p->frames_in);
        snprintf(out, sizeof out, "%llu/%llu", (unsigned long long)p->bytes_out,
                 (unsigned long long)p->frames_out);
        printf("%-28s %-9s %-22s %-4s %-7s %-20s %-20s %s ago\n", who, p->role, p->address,
               p->inbound ? "in" : "out", age, in, out, seen);
    }
    if (r->n_peers == 0) {
        printf("(no links up)\n");
    }
    gm_cli_counters_print("refusals", r->refusals, r->n_refusals);
}

void gm_cli_print_json(cJSON *o)
{
    char *text = cJSON_Print(o);

    printf("%s\n", text != NULL ? text : "{}");
    free(text);
    cJSON_Delete(o);
}

static const char node_usage[] =
    "usage: guardmesh --dir NODE_DIR status [--json]\n"
    "       guardmesh --dir NODE_DIR peers [--json]\n"
    "       guardmesh --dir NODE_DIR routes [--json]\n"
    "       guardmesh --dir NODE_DIR debug inject --to NODE_ID_HEX|--all [--size N] [--count K]\n"
    "                                [--priority emergency|urgent|normal|bulk]\n"
    "                                [--lifetime SECONDS] [--json]\n"
    "       guardmesh --dir NODE_DIR revocations add CRL_FILE\n";

/* status: the node's own answer, and the mesh layer's counters when it runs one. */
static int status_cmd(const char *dir, bool json)
{
    gm_control_response_t r;
    gm_mesh_response_t mesh;
    gm_why_t why;
    int rc;

    if (gm_client_request(dir, NULL, GM_OP_STATUS, &r, &why) != 0) {
        return gm_cli_fail("%s: %s", dir, why.msg);
    }
    if (r.error != 0 || !r.has_status) {
        gm_control_response_free(&r);
        return gm_cli_fail("%s: %s", dir, r.error != 0 ? r.message : "no status in the answer");
    }
    rc = gm_cli_mesh_status(dir, &mesh); /* -1: no mesh layer there */
    if (rc <= 0) {
        json ? gm_cli_print_json(status_json(&r.status, rc == 0 ? &mesh : NULL))
             : status_print(&r.status, rc == 0 ? &mesh : NULL);
    }
    if (rc == 0) {
        gm_mesh_response_free(&mesh);
    }
    gm_control_response_free(&r);
    return rc < 0 ? 0 : rc;
}

static int peers_cmd(const char *dir, bool json)
{
    gm_control_response_t r;
    gm_why_t why;

    if (gm_client_request(dir, NULL, GM_OP_PEERS, &r, &why) != 0) {
        return gm_cli_fail("%s: %s", dir, why.msg);
    }
    if (r.error != 0) {
        gm_control_response_free(&r);
        return gm_cli_fail("%s: %s", dir, r.message);
    }
    if (json) {
        cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "peers");
        for (size_t i = 0; i < r.n_peers; i++) {
            cJSON_AddItemToArray(a, peer_json(&r.peers[i]));
        }
        cJSON_AddItemToObject(o, "refusals", gm_cli_counters_json(r.refusals, r.n_refusals));
        gm_cli_print_json(o);
    } else {
        peers_print(&r);
    }
    gm_control_response_free(&r);
    return 0;
}

int gm_cli_node(const char *dir, int argc, char **argv)
{
    bool json = false;

    if (argc >= 1 && gm_cli_is_messenger_cmd(argv[0])) {
        return gm_cli_messenger(dir, argc, argv);
    }
    if (argc >= 1 && strcmp(argv[0], "routes") == 0) {
        return gm_cli_routes(dir, argc, argv);
    }
    if (argc >= 1 && strcmp(argv[0], "debug") == 0) {
        return gm_cli_debug(dir, argc, argv);
    }
    if (argc >= 1 && strcmp(argv[0], "revocations") == 0) {
        return gm_cli_revocations(dir, argc, argv);
    }
    if (argc >= 1 && strcmp(argv[0], "--help") == 0) {
        fputs(node_usage, stdout);
        return 0;
    }
    if (argc < 1 || (strcmp(argv[0], "status") != 0 && strcmp(argv[0], "peers") != 0)) {
        if (argc >= 1) {
            fprintf(stderr, "guardmesh: unknown node command '%s'\n", argv[0]);
        }
        fputs(node_usage, stderr);
        return GM_EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: guardmesh --dir NODE_DIR %s [--json]\n", argv[0]);
            return 0;
        } else {
            fprintf(stderr, "guardmesh: unexpected argument '%s'\n", argv[i]);
            return GM_EXIT_USAGE;
        }
    }
    return strcmp(argv[0], "status") == 0 ? status_cmd(dir, json) : peers_cmd(dir, json);
}

/*
 * guardmesh --dir NODE_DIR send | alert | position | inbox | outbox | group:
 * the messenger of a running node, through its control socket
 * (GM_OP_MESSENGER).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "node/client.h"
#include "node/fileio.h"
#include "tools/cli.h"
#include "tools/util.h"

#define WAIT_MAX_S 86400

static const char send_usage[] =
    "usage: guardmesh --dir NODE_DIR send (--to CALLSIGN@ORG | --group NAME)\n"
    "                 [--priority emergency|urgent|normal|bulk] TEXT\n"
    "Sends TEXT end-to-end encrypted to one node or to a talkgroup. It waits in\n"
    "relays while no path exists. Prints the message id; `outbox` shows its state.\n";
static const char alert_usage[] =
    "usage: guardmesh --dir NODE_DIR alert [--kind sos|officer-down|assistance]\n"
    "                 [--lat L --lon L [--accuracy M]] [--to CALLSIGN@ORG | --group NAME]\n"
    "                 [TEXT]\n"
    "Sends an alert at emergency priority (SOS unless --kind says otherwise). To a\n"
    "node or group it is end-to-end encrypted; with neither it goes to every\n"
    "certified node, signed by this node.\n";
static const char position_usage[] =
    "usage: guardmesh --dir NODE_DIR position --lat L --lon L [--accuracy M]\n"
    "                 [--to CALLSIGN@ORG | --group NAME]\n"
    "Shares this node's position: with a node or group (encrypted), or with every\n"
    "certified node (signed) when neither is given.\n";
static const char debug_send_usage[] =
    "usage: guardmesh --dir NODE_DIR debug send (--to CALLSIGN@ORG | --group NAME)\n"
    "                 --count N [--priority emergency|urgent|normal|bulk] TEXT\n"
    "Test traffic: N text messages (at most 100000), each its own message, queued in\n"
    "one store commit. For benchmarks; they show in the outbox like any other.\n";
static const char inbox_usage[] =
    "usage: guardmesh --dir NODE_DIR inbox [--json] [--peek] [--wait SECONDS] [--limit N]\n"
    "Lists received messages, oldest first (the newest 1000, or --limit N, as many\n"
    "as fit one answer), and marks them read (read receipts go\n"
    "back to their senders); --peek shows them without marking. --wait blocks until\n"
    "an unread message is there, at most SECONDS (exit status 1 if none came).\n";
static const char outbox_usage[] =
    "usage: guardmesh --dir NODE_DIR outbox [--json] [--limit N]\n"
    "Lists sent messages with their state: queued (in this node's store), relayed\n"
    "(a next hop took custody), delivered, read, or expired; group messages count\n"
    "their members' receipts. The newest 1000 (--limit: at most 5000), oldest first.\n";
static const char group_usage[] =
    "usage: guardmesh --dir NODE_DIR group create NAME [CALLSIGN@ORG ...]\n"
    "       guardmesh --dir NODE_DIR group add NAME CALLSIGN@ORG ...\n"
    "       guardmesh --dir NODE_DIR group remove NAME CALLSIGN@ORG ...\n"
    "       guardmesh --dir NODE_DIR group list [--json]\n"
    "Talkgroups: this node owns the groups it creates and alone changes their\n"
    "members. Removing a member renews every member's keys.\n";

/* Asks the messenger; on any failure prints why and returns 1. */
static int ask(const char *dir, const gm_messenger_request_t *q, gm_messenger_response_t *r)
{
    gm_why_t why;

    if (gm_client_messenger(dir, NULL, q, r, &why) != 0) {
        return gm_cli_fail("%s: %s", dir, why.msg);
    }
    if (r->error != 0) {
        gm_cli_fail("%s", r->message);
        gm_messenger_response_free(r);
        return GM_EXIT_FAIL;
    }
    return 0;
}

static int usage_error(const char *usage, const char *what)
{
    fprintf(stderr, "guardmesh: %s\n%s", what, usage);
    return GM_EXIT_USAGE;
}

static int parse_priority(const char *s, uint32_t *out)
{
    static const char *const names[] = {"emergency", "urgent", "normal", "bulk"};

    for (uint32_t i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i + 1;
            return 0;
        }
    }
    return -1;
}

static int parse_double(const char *s, double *out)
{
    char *end;

    *out = strtod(s, &end);
    return end != s && *end == 0 ? 0 : -1;
}

/* send, alert and position: one request each. */
static int send_cmd(const char *dir, int argc, char **argv, gm_message_kind_t kind,
                    const char *usage)
{
    gm_messenger_request_t q = {.op = GM_MESSENGER_OP_SEND, .kind = kind};
    gm_messenger_response_t r;
    char hex[2 * GM_ID_LEN + 1];
    double acc = 0;
    bool lat = false, lon = false;
    int i;

    for (i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return GM_EXIT_OK;
        } else if (strcmp(argv[i], "--to") == 0 && v != NULL) {
            q.to = argv[++i];
        } else if (strcmp(argv[i], "--group") == 0 && v != NULL) {
            q.group = argv[++i];
        } else if (strcmp(argv[i], "--priority") == 0 && v != NULL) {
            if (parse_priority(argv[++i], &q.priority) != 0) {
                return usage_error(usage, "--priority takes emergency, urgent, normal or bulk");
            }
        } else if ((strcmp(argv[i], "--lat") == 0 || strcmp(argv[i], "--lon") == 0 ||
                    strcmp(argv[i], "--accuracy") == 0) &&
                   v != NULL) {
            double d;
            if (parse_double(argv[i + 1], &d) != 0) {
                return usage_error(usage, "--lat, --lon and --accuracy take numbers");
            }
            if (argv[i][2] == 'l' && argv[i][3] == 'a') {
                q.lat = d;
                lat = true;
            } else if (argv[i][2] == 'l') {
                q.lon = d;
                lon = true;
            } else {
                acc = d;
            }
            i++;
        } else if (strcmp(argv[i], "--count") == 0 && v != NULL && usage == debug_send_usage) {
            char *end;
            unsigned long n = strtoul(argv[++i], &end, 10);
            if (*end != 0 || n < 1 || n > GM_MESSENGER_COUNT_MAX) {
                return usage_error(usage, "--count takes 1 to 100000");
            }
            q.count = (uint32_t)n;
        } else if (strcmp(argv[i], "--kind") == 0 && v != NULL && kind == GM_MESSAGE_ALERT) {
            const char *k = argv[++i];
            q.alert_kind = strcmp(k, "sos") == 0             ? 1
                           : strcmp(k, "officer-down") == 0  ? 2
                           : strcmp(k, "assistance") == 0    ? 3
                                                             : 0;
            if (q.alert_kind == 0) {
                return usage_error(usage, "--kind takes sos, officer-down or assistance");
            }
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return usage_error(usage, "unknown or incomplete option");
        } else if (q.text == NULL) {
            q.text = argv[i];
        } else {
            return usage_error(usage, "one TEXT only (quote it)");
        }
    }
    if (lat != lon || (kind == GM_MESSAGE_POSITION && !lat)) {
        return usage_error(usage, "a position needs both --lat and --lon");
    }
    if (lat && (q.lat < -90 || q.lat > 90 || q.lon < -180 || q.lon > 180 || acc < 0)) {
        return gm_cli_fail("--lat must be -90..90, --lon -180..180, --accuracy >= 0");
    }
    if (kind == GM_MESSAGE_TEXT && (q.text == NULL || q.text[0] == 0)) {
        return usage_error(usage, "nothing to send");
    }
    if (kind == GM_MESSAGE_TEXT && q.to == NULL && q.group == NULL) {
        return usage_error(usage, "a text needs --to CALLSIGN@ORG or --group NAME");
    }
    if (q.to != NULL && q.group != NULL) {
        return usage_error(usage, "--to or --group, not both");
    }
    q.has_position = lat;
    q.accuracy = (float)acc;
    q.text = q.text != NULL ? q.text : "";
    if (ask(dir, &q, &r) != 0) {
        return GM_EXIT_FAIL;
    }
    gm_hex_encode(hex, r.msg_id, GM_ID_LEN);
    if (q.count > 1) {
        printf("queued %u messages, the last %s\n", q.count, hex);
    } else {
        printf("queued %s\n", hex);
    }
    gm_messenger_response_free(&r);
    return GM_EXIT_OK;
}

/* ---- inbox ---- */

static const char *kind_name(gm_message_kind_t k, uint32_t alert_kind)
{
    static const char *const alerts[] = {"alert", "SOS", "OFFICER DOWN", "NEED ASSISTANCE"};

    if (k == GM_MESSAGE_ALERT) {
        return alerts[alert_kind <= 3 ? alert_kind : 0];
    }
    return k == GM_MESSAGE_POSITION ? "position" : "text";
}

static cJSON *inbox_json(const gm_messenger_response_t *r)
{
    cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "messages");
    char hex[2 * GM_ID_LEN + 1];

    cJSON_AddNumberToObject(o, "unread", r->unread);
    for (size_t i = 0; i < r->n_inbox; i++) {
        const gm_inbox_entry_t *e = &r->inbox[i];
        cJSON *m = cJSON_CreateObject();
        gm_hex_encode(hex, e->msg_id, GM_ID_LEN);
        cJSON_AddStringToObject(m, "id", hex);
        cJSON_AddStringToObject(m, "from", e->from);
        cJSON_AddStringToObject(m, "group", e->group);
        cJSON_AddBoolToObject(m, "to_all", e->to_all);
        cJSON_AddStringToObject(m, "kind", e->kind == GM_MESSAGE_ALERT      ? "alert"
                                           : e->kind == GM_MESSAGE_POSITION ? "position"
                                                                            : "text");
        if (e->kind == GM_MESSAGE_ALERT) {
            cJSON_AddStringToObject(m, "alert", kind_name(e->kind, e->alert_kind));
        }
        cJSON_AddStringToObject(m, "text", e->text);
        if (e->has_position) {
            cJSON_AddNumberToObject(m, "lat", e->lat);
            cJSON_AddNumberToObject(m, "lon", e->lon);
            cJSON_AddNumberToObject(m, "accuracy", e->accuracy);
        }
        cJSON_AddNumberToObject(m, "sent", (double)e->sent);
        cJSON_AddNumberToObject(m, "received", (double)e->received);
        cJSON_AddBoolToObject(m, "read", e->read);
        cJSON_AddItemToArray(a, m);
    }
    return o;
}

static void inbox_print(const gm_messenger_response_t *r)
{
    char when[32];

    for (size_t i = 0; i < r->n_inbox; i++) {
        const gm_inbox_entry_t *e = &r->inbox[i];
        gm_cli_format_time(e->received, when);
        printf("%s %s %s%s%s%s", when, e->read ? " " : "*", e->from,
               e->group[0] != 0 ? " in " : (e->to_all ? " to everyone" : ""), e->group,
               e->kind == GM_MESSAGE_TEXT ? ": " : "");
        if (e->kind != GM_MESSAGE_TEXT) {
            printf(" [%s]%s", kind_name(e->kind, e->alert_kind), e->text[0] != 0 ? " " : "");
        }
        printf("%s", e->text);
        if (e->has_position) {
            printf(" (%.6f, %.6f", e->lat, e->lon);
            if (e->accuracy > 0) {
                printf(" ±%.0f m", e->accuracy);
            }
            printf(")");
        }
        printf("\n");
    }
    printf("%zu message%s, %u unread before this\n", r->n_inbox, r->n_inbox == 1 ? "" : "s",
           r->unread);
}

static int inbox_cmd(const char *dir, int argc, char **argv)
{
    gm_messenger_request_t q = {.op = GM_MESSENGER_OP_INBOX};
    gm_messenger_response_t r;
    bool json = false;
    long wait_s = -1;
    struct timespec t0, t;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            fputs(inbox_usage, stdout);
            return GM_EXIT_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--peek") == 0) {
            q.peek = true;
        } else if ((strcmp(argv[i], "--wait") == 0 || strcmp(argv[i], "--limit") == 0) &&
                   i + 1 < argc) {
            char *end;
            long v = strtol(argv[i + 1], &end, 10);
            if (*end != 0 || v < 0 || v > (argv[i][2] == 'w' ? WAIT_MAX_S : 10000)) {
                return usage_error(inbox_usage, "--wait and --limit take a number in range");
            }
            if (argv[i][2] == 'w') {
                wait_s = v;
            } else {
                q.limit = (uint32_t)v;
            }
            i++;
        } else {
            return usage_error(inbox_usage, "unknown option");
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        gm_messenger_request_t peek = q;
        peek.peek = true;
        peek.limit = 1;
        if (wait_s < 0) {
            break;
        }
        if (ask(dir, &peek, &r) != 0) {
            return GM_EXIT_FAIL;
        }
        bool unread = r.unread > 0;
        gm_messenger_response_free(&r);
        if (unread) {
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec >= wait_s) {
            return gm_cli_fail("no unread message within %ld s", wait_s);
        }
        usleep(100 * 1000);
    }
    if (ask(dir, &q, &r) != 0) {
        return GM_EXIT_FAIL;
    }
    if (json) {
        gm_cli_print_json(inbox_json(&r));
    } else {
        inbox_print(&r);
    }
    gm_messenger_response_free(&r);
    return GM_EXIT_OK;
}

/* ---- outbox ---- */

static void add_time(cJSON *o, const char *name, uint64_t t)
{
    char when[32];

    if (t == 0) {
        cJSON_AddNullToObject(o, name);
    } else {
        gm_cli_format_time(t, when);
        cJSON_AddStringToObject(o, name, when);
    }
}

static int outbox_cmd(const char *dir, int argc, char **argv)
{
    gm_messenger_request_t q = {.op = GM_MESSENGER_OP_OUTBOX};
    gm_messenger_response_t r;
    char hex[2 * GM_ID_LEN + 1], when[32];
    bool json = false;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            fputs(outbox_usage, stdout);
            return GM_EXIT_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
            q.limit = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else {
            return usage_error(outbox_usage, "unknown option");
        }
    }
    if (ask(dir, &q, &r) != 0) {
        return GM_EXIT_FAIL;
    }
    cJSON *o = json ? cJSON_CreateObject() : NULL;
    cJSON *a = json ? cJSON_AddArrayToObject(o, "messages") : NULL;
    for (size_t i = 0; i < r.n_outbox; i++) {
        const gm_outbox_entry_t *e = &r.outbox[i];
        const char *dest = e->group[0] != 0 ? e->group : e->to[0] != 0 ? e->to : "everyone";
        gm_hex_encode(hex, e->msg_id, GM_ID_LEN);
        if (json) {
            cJSON *m = cJSON_CreateObject();
            cJSON_AddStringToObject(m, "id", hex);
            cJSON_AddStringToObject(m, "to", e->to);
            cJSON_AddStringToObject(m, "group", e->group);
            cJSON_AddStringToObject(m, "kind", kind_name(e->kind, 0));
            cJSON_AddStringToObject(m, "text", e->text);
            cJSON_AddStringToObject(m, "state", e->state);
            add_time(m, "queued", e->queued);
            add_time(m, "relayed", e->relayed);
            add_time(m, "delivered", e->delivered);
            add_time(m, "read", e->read);
            add_time(m, "expired", e->expired);
            cJSON_AddNumberToObject(m, "recipients", e->recipients);
            cJSON_AddNumberToObject(m, "delivered_count", e->delivered_count);
            cJSON_AddNumberToObject(m, "read_count", e->read_count);
            cJSON_AddItemToArray(a, m);
            continue;
        }
        gm_cli_format_time(e->queued, when);
        printf("%s %.8s %-9s to %s", when, hex, e->state, dest);
        if (e->recipients > 1) {
            printf(" (%u/%u delivered, %u read)", e->delivered_count, e->recipients,
                   e->read_count);
        }
        if (e->kind != GM_MESSAGE_TEXT) {
            printf(" [%s]", kind_name(e->kind, 0));
        }
        printf("%s%s\n", e->kind == GM_MESSAGE_TEXT ? ": " : " ", e->text);
    }
    if (json) {
        gm_cli_print_json(o);
    }
    gm_messenger_response_free(&r);
    return GM_EXIT_OK;
}

/* ---- groups ---- */

static int group_list(const char *dir, bool json)
{
    gm_messenger_request_t q = {.op = GM_MESSENGER_OP_GROUP_LIST};
    gm_messenger_response_t r;
    char hex[2 * GM_ID_LEN + 1];

    if (ask(dir, &q, &r) != 0) {
        return GM_EXIT_FAIL;
    }
    cJSON *o = json ? cJSON_CreateObject() : NULL;
    cJSON *a = json ? cJSON_AddArrayToObject(o, "groups") : NULL;
    for (size_t i = 0; i < r.n_groups; i++) {
        const gm_group_info_t *gi = &r.groups[i];
        gm_hex_encode(hex, gi->group_id, GM_ID_LEN);
        if (json) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "id", hex);
            cJSON_AddStringToObject(e, "name", gi->name);
            cJSON_AddStringToObject(e, "owner", gi->owner);
            cJSON_AddNumberToObject(e, "version", (double)gi->version);
            cJSON *m = cJSON_AddArrayToObject(e, "members");
            for (size_t k = 0; k < gi->n_members; k++) {
                cJSON_AddItemToArray(m, cJSON_CreateString(gi->members[k]));
            }
            cJSON_AddItemToArray(a, e);
            continue;
        }
        printf("%s (owner %s, version %llu):", gi->name, gi->owner,
               (unsigned long long)gi->version);
        for (size_t k = 0; k < gi->n_members; k++) {
            printf(" %s", gi->members[k]);
        }
        printf("\n");
    }
    if (json) {
        gm_cli_print_json(o);
    } else if (r.n_groups == 0) {
        printf("no groups\n");
    }
    gm_messenger_response_free(&r);
    return GM_EXIT_OK;
}

static int group_cmd(const char *dir, int argc, char **argv)
{
    gm_messenger_request_t q = {0};
    gm_messenger_response_t r;
    const char *sub = argc >= 2 ? argv[1] : "";

    if (strcmp(sub, "--help") == 0) {
        fputs(group_usage, stdout);
        return GM_EXIT_OK;
    }
    if (strcmp(sub, "list") == 0) {
        bool json = argc == 3 && strcmp(argv[2], "--json") == 0;
        if (argc > 3 || (argc == 3 && !json)) {
            return usage_error(group_usage, "group list takes only --json");
        }
        return group_list(dir, json);
    }
    q.op = strcmp(sub, "create") == 0   ? GM_MESSENGER_OP_GROUP_CREATE
           : strcmp(sub, "add") == 0    ? GM_MESSENGER_OP_GROUP_ADD
           : strcmp(sub, "remove") == 0 ? GM_MESSENGER_OP_GROUP_REMOVE
                                        : 0;
    if (q.op == 0 || argc < 3 || (q.op != GM_MESSENGER_OP_GROUP_CREATE && argc < 4)) {
        return usage_error(group_usage, "group create|add|remove NAME [CALLSIGN@ORG ...] | list");
    }
    q.group = argv[2];
    q.members = (const char *const *)(argv + 3);
    q.n_members = (size_t)(argc - 3);
    if (ask(dir, &q, &r) != 0) {
        return GM_EXIT_FAIL;
    }
    printf("group %s: %s\n", q.group, sub[0] == 'c' ? "created" : sub[0] == 'a' ? "members added"
                                                                               : "members removed");
    gm_messenger_response_free(&r);
    return GM_EXIT_OK;
}

int gm_cli_debug_send(const char *dir, int argc, char **argv)
{
    return send_cmd(dir, argc, argv, GM_MESSAGE_TEXT, debug_send_usage);
}

int gm_cli_messenger(const char *dir, int argc, char **argv)
{
    const char *cmd = argv[0];

    if (strcmp(cmd, "send") == 0) {
        return send_cmd(dir, argc, argv, GM_MESSAGE_TEXT, send_usage);
    }
    if (strcmp(cmd, "alert") == 0) {
        return send_cmd(dir, argc, argv, GM_MESSAGE_ALERT, alert_usage);
    }
    if (strcmp(cmd, "position") == 0) {
        return send_cmd(dir, argc, argv, GM_MESSAGE_POSITION, position_usage);
    }
    if (strcmp(cmd, "inbox") == 0) {
        return inbox_cmd(dir, argc, argv);
    }
    if (strcmp(cmd, "outbox") == 0) {
        return outbox_cmd(dir, argc, argv);
    }
    return group_cmd(dir, argc, argv);
}

bool gm_cli_is_messenger_cmd(const char *cmd)
{
    static const char *const cmds[] = {"send", "alert", "position", "inbox", "outbox", "group"};

    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(cmd, cmds[i]) == 0) {
            return true;
        }
    }
    return false;
}

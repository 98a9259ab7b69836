#include "node/config.h"

#include <errno.h>
#include <ini.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "node/fileio.h"

enum opt_type { T_U32, T_U64, T_BOOL, T_STR, T_ADDRS, T_MESH_ID, T_MESH_KEY_FILE, T_LEVEL, T_PORT };

struct opt {
    const char *section, *key;
    enum opt_type type;
    size_t offset;
    uint64_t min, max;
};

#define OFF(f) offsetof(gm_node_config_t, f)
#define MAXU32 0xffffffffu

/* Every option of the INI file; docs/config.md describes each one. */
static const struct opt opts[] = {
    {"node", "listen", T_ADDRS, OFF(listen), 0, 0},
    {"node", "peer", T_ADDRS, OFF(peers), 0, 0},
    {"node", "passphrase_file", T_STR, OFF(passphrase_file), 0, GM_PATH_MAX},
    {"node", "control_socket", T_STR, OFF(control_socket), 0, GM_PATH_MAX},
    {"node", "log_level", T_LEVEL, OFF(log_level), 0, 0},
    {"mesh", "id", T_MESH_ID, OFF(mesh_id), 0, 0},
    {"mesh", "key_file", T_MESH_KEY_FILE, OFF(mesh_key), 0, 0},
    {"discovery", "enabled", T_BOOL, OFF(discovery), 0, 1},
    {"discovery", "group", T_STR, OFF(discovery_group), 0, 64},
    {"discovery", "port", T_PORT, OFF(discovery_port), 1, 65535},
    {"discovery", "interval_ms", T_U32, OFF(beacon_interval_ms), 100, 3600000},
    {"link", "tick_ms", T_U32, OFF(tick_ms), 10, 10000},
    {"link", "keepalive_ms", T_U32, OFF(keepalive_ms), 50, 3600000},
    {"link", "dead_after_ms", T_U32, OFF(dead_after_ms), 100, 3600000},
    {"link", "handshake_timeout_ms", T_U32, OFF(handshake_timeout_ms), 50, 600000},
    {"link", "rekey_frames", T_U64, OFF(rekey_frames), 1, UINT32_MAX},
    {"link", "max_link_age_s", T_U32, OFF(max_link_age_s), 1, MAXU32},
    {"link", "redial_min_ms", T_U32, OFF(redial_min_ms), 10, 3600000},
    {"link", "redial_max_ms", T_U32, OFF(redial_max_ms), 10, 3600000},
    {"limits", "max_frame", T_U32, OFF(max_frame), 64, 65535},
    {"limits", "max_message", T_U32, OFF(max_message), 1024, 16u << 20},
    {"limits", "max_queued_bytes", T_U32, OFF(max_queued_bytes), 65536, 1u << 30},
    {"limits", "max_half_open", T_U32, OFF(max_half_open), 1, 100000},
    {"limits", "max_half_open_per_address", T_U32, OFF(max_half_open_per_address), 1, 100000},
    {"limits", "max_beacon_dials", T_U32, OFF(max_beacon_dials), 1, 1000},
    {"limits", "max_links", T_U32, OFF(max_links), 1, 100000},
    {"limits", "handshake_rate", T_U32, OFF(handshake_rate), 1, 1000000},
    {"limits", "handshake_burst", T_U32, OFF(handshake_burst), 1, 1000000},
    {"mesh", "store_max_bytes", T_U64, OFF(store_max_bytes), 65536, UINT64_MAX},
    {"mesh", "store_max_per_origin", T_U64, OFF(store_max_per_origin), 65536, UINT64_MAX},
    {"mesh", "store_max_per_link", T_U64, OFF(store_max_per_link), 65536, UINT64_MAX},
    {"mesh", "max_bundle", T_U32, OFF(max_bundle), 256, 262144},
    {"mesh", "commit_interval_ms", T_U32, OFF(commit_interval_ms), 0, 10000},
    {"mesh", "custody_timeout_ms", T_U32, OFF(custody_timeout_ms), 100, 3600000},
    {"mesh", "bundle_lifetime_s", T_U32, OFF(bundle_lifetime_s), 1, 30u * 86400u},
    {"mesh", "bundle_hop_limit", T_U32, OFF(bundle_hop_limit), 1, 255},
    {"mesh", "announce_interval_ms", T_U32, OFF(announce_interval_ms), 100, 86400000},
    {"mesh", "route_expiry_ms", T_U32, OFF(route_expiry_ms), 300, MAXU32},
    {"mesh", "sync_interval_ms", T_U32, OFF(sync_interval_ms), 100, MAXU32},
    {"mesh", "directory_max", T_U32, OFF(directory_max), 1, 1u << 20},
    {"mesh", "origin_rate", T_U32, OFF(origin_rate), 1, 10000000},
    {"mesh", "neighbour_rate", T_U32, OFF(neighbour_rate), 1, 10000000},
};

void gm_config_defaults(gm_node_config_t *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen[0], GM_ADDR_LEN, "0.0.0.0:7300");
    c->n_listen = 1;
    c->log_level = GM_LOG_INFO;
    snprintf(c->discovery_group, sizeof c->discovery_group, "239.255.71.73");
    c->discovery_port = 7301;
    c->beacon_interval_ms = 5000;
    c->tick_ms = 250;
    c->keepalive_ms = 10000;
    c->dead_after_ms = 30000;
    c->handshake_timeout_ms = 10000;
    c->max_half_open = 64;
    c->max_half_open_per_address = 8;
    c->max_beacon_dials = 4;
    c->max_links = 256;
    c->handshake_rate = 30;
    c->handshake_burst = 10;
    c->max_frame = 65535;
    c->max_queued_bytes = 1u << 20;
    c->max_message = 1u << 20;
    c->redial_min_ms = 500;
    c->redial_max_ms = 30000;
    c->rekey_frames = 65536;
    c->max_link_age_s = 86400;
    c->store_max_bytes = 256ull << 20;
    c->store_max_per_origin = 64ull << 20;
    c->store_max_per_link = 128ull << 20;
    c->max_bundle = 65536;
    c->commit_interval_ms = 5;
    c->custody_timeout_ms = 10000;
    c->bundle_lifetime_s = 86400;
    c->bundle_hop_limit = 32;
    c->announce_interval_ms = 30000;
    c->route_expiry_ms = 100000;
    c->sync_interval_ms = 300000;
    c->directory_max = 4096;
    c->origin_rate = 20000;
    c->neighbour_rate = 50000;
}

int gm_log_level_parse(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};

    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

static int parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long x;

    if (v[0] < '0' || v[0] > '9') {
        return -1;
    }
    x = strtoull(v, &end, 10);
    if (*end != 0 || x < min || x > max) {
        return -1;
    }
    *out = x;
    return 0;
}

/* "a, b, c" appended to one of the address lists (listen or peers). */
static int set_addrs(gm_node_config_t *c, size_t offset, const char *v, gm_why_t *why)
{
    char (*list)[GM_ADDR_LEN] = offset == OFF(listen) ? c->listen : c->peers;
    size_t *n = offset == OFF(listen) ? &c->n_listen : &c->n_peers;
    char copy[1024], *save = NULL;

    if (snprintf(copy, sizeof copy, "%s", v) >= (int)sizeof copy) {
        gm_why_set(why, "address list too long");
        return GM_EPROTO;
    }
    for (char *tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
        struct sockaddr_storage ss;
        if (*n == GM_MAX_ADDRS) {
            gm_why_set(why, "at most %d addresses", GM_MAX_ADDRS);
            return GM_ELIMIT;
        }
        if (strncmp(tok, "mem:", 4) != 0 && gm_addr_parse(tok, &ss) != 0) {
            gm_why_set(why, "'%s' is not HOST:PORT (IPv6 as [ADDR]:PORT)", tok);
            return GM_EPROTO;
        }
        snprintf(list[(*n)++], GM_ADDR_LEN, "%s", tok);
    }
    return 0;
}

/* A mesh key file holds 64 hex digits (a newline may follow). */
static int load_mesh_key(gm_node_config_t *c, const char *path, gm_why_t *why)
{
    uint8_t *buf;
    size_t len, got = 0;
    int err = gm_file_read(path, 256, &buf, &len);

    if (err != 0) {
        gm_why_set(why, "mesh key file %s: %s", path, gm_strerror(err));
        return err;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) {
        len--;
    }
    if (len != 2 * GM_MESH_KEY_LEN ||
        sodium_hex2bin(c->mesh_key, GM_MESH_KEY_LEN, (const char *)buf, len, NULL, &got, NULL) !=
            0 ||
        got != GM_MESH_KEY_LEN) {
        gm_why_set(why, "mesh key file %s: expected 64 hex digits", path);
        err = GM_EPROTO;
    } else {
        c->has_mesh_key = true;
    }
    sodium_memzero(buf, len);
    free(buf);
    return err;
}

static int apply(gm_node_config_t *c, const struct opt *o, const char *v, gm_why_t *why)
{
    uint8_t *field = (uint8_t *)c + o->offset;
    uint64_t x;
    size_t got = 0;
    int level;

    switch (o->type) {
    case T_U32:
    case T_U64:
    case T_PORT:
        if (parse_u64(v, o->min, o->max, &x) != 0) {
            gm_why_set(why, "%s.%s = '%s': expected a whole number from %llu to %llu",
                       o->section, o->key, v, (unsigned long long)o->min,
                       (unsigned long long)o->max);
            return GM_EPROTO;
        }
        if (o->type == T_U32) {
            *(uint32_t *)field = (uint32_t)x;
        } else if (o->type == T_U64) {
            *(uint64_t *)field = x;
        } else {
            *(uint16_t *)field = (uint16_t)x;
        }
        return 0;
    case T_BOOL:
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
            gm_why_set(why, "%s.%s = '%s': expected true or false", o->section, o->key, v);
            return GM_EPROTO;
        }
        *(bool *)field = strcmp(v, "true") == 0;
        return 0;
    case T_STR:
        if (strlen(v) >= o->max) {
            gm_why_set(why, "%s.%s: value too long", o->section, o->key);
            return GM_EPROTO;
        }
        memcpy(field, v, strlen(v) + 1);
        return 0;
    case T_ADDRS:
        return set_addrs(c, o->offset, v, why);
    case T_MESH_ID:
        if (strlen(v) != 2 * GM_MESH_ID_LEN ||
            sodium_hex2bin(c->mesh_id, GM_MESH_ID_LEN, v, strlen(v), NULL, &got, NULL) != 0) {
            gm_why_set(why, "mesh.id = '%s': expected 32 hex digits", v);
            return GM_EPROTO;
        }
        return 0;
    case T_MESH_KEY_FILE:
        return load_mesh_key(c, v, why);
    case T_LEVEL:
        level = gm_log_level_parse(v);
        if (level < 0) {
            gm_why_set(why, "node.log_level = '%s': use error, warn, info or debug", v);
            return GM_EPROTO;
        }
        c->log_level = level;
        return 0;
    }
    return GM_EPROTO;
}

int gm_config_set(gm_node_config_t *c, const char *section, const char *key, const char *value,
                  gm_why_t *why)
{
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        if (strcmp(opts[i].section, section) == 0 && strcmp(opts[i].key, key) == 0) {
            return apply(c, &opts[i], value, why);
        }
    }
    gm_why_set(why, "unknown key '%s' in section [%s]", key, section);
    return GM_EPROTO;
}

struct ini_ctx {
    gm_node_config_t *c;
    gm_why_t why;
    bool listen_seen;
};

static int on_ini(void *user, const char *section, const char *key, const char *value)
{
    struct ini_ctx *ctx = user;

    if (strcmp(section, "node") == 0 && strcmp(key, "listen") == 0 && !ctx->listen_seen) {
        ctx->c->n_listen = 0; /* the file replaces the default listener */
        ctx->listen_seen = true;
    }
    return gm_config_set(ctx->c, section, key, value, &ctx->why) == 0 ? 1 : 0;
}

int gm_config_load(gm_node_config_t *c, const char *path, gm_why_t *why)
{
    struct ini_ctx ctx = {c, {{0}}, false};
    FILE *f = fopen(path, "r");
    int line;

    if (f == NULL) {
        gm_why_set(why, "%s: cannot read: %s", path, strerror(errno));
        return GM_EIO;
    }
    line = ini_parse_file(f, on_ini, &ctx);
    fclose(f);
    if (line != 0) {
        gm_why_set(why, "%s:%d: %s", path, line,
                   ctx.why.msg[0] != 0 ? ctx.why.msg : "not a valid INI line");
        return GM_EPROTO;
    }
    return 0;
}

int gm_config_validate(const gm_node_config_t *c, gm_why_t *why)
{
    if (c->redial_min_ms > c->redial_max_ms) {
        gm_why_set(why, "link.redial_min_ms is above link.redial_max_ms");
        return GM_EPROTO;
    }
    if (c->keepalive_ms >= c->dead_after_ms) {
        gm_why_set(why, "link.keepalive_ms must be below link.dead_after_ms");
        return GM_EPROTO;
    }
    if (c->discovery && c->n_listen == 0) {
        gm_why_set(why, "discovery needs a listening address to announce");
        return GM_EPROTO;
    }
    if (c->max_message < c->max_bundle + 1024 || c->max_message < 300000) {
        gm_why_set(why, "limits.max_message must be at least 300000 and mesh.max_bundle + 1024");
        return GM_EPROTO;
    }
    if (c->max_bundle > c->store_max_per_origin || c->store_max_per_origin > c->store_max_bytes ||
        c->max_bundle > c->store_max_per_link) {
        gm_why_set(why, "mesh: max_bundle <= store_max_per_origin <= store_max_bytes and "
                        "max_bundle <= store_max_per_link must hold");
        return GM_EPROTO;
    }
    if (c->announce_interval_ms >= c->route_expiry_ms) {
        gm_why_set(why, "mesh.announce_interval_ms must be below mesh.route_expiry_ms");
        return GM_EPROTO;
    }
    return 0;
}

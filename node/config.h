/*
 * Node configuration: defaults, an INI file (parsed with inih) and
 * command-line overrides. docs/config.md lists every key and its default.
 */
#ifndef GM_CONFIG_H
#define GM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/identity.h"
#include "node/transport.h"

#define GM_MAX_ADDRS 16
#define GM_MESH_ID_LEN 16
#define GM_MESH_KEY_LEN 32

enum { GM_LOG_ERROR, GM_LOG_WARN, GM_LOG_INFO, GM_LOG_DEBUG };

typedef struct {
    char listen[GM_MAX_ADDRS][GM_ADDR_LEN];
    size_t n_listen;
    char peers[GM_MAX_ADDRS][GM_ADDR_LEN];
    size_t n_peers;
    uint8_t mesh_id[GM_MESH_ID_LEN];
    bool has_mesh_key;
    uint8_t mesh_key[GM_MESH_KEY_LEN];
    char passphrase_file[GM_PATH_MAX]; /* for a sealed node.key; "" if plain */
    char control_socket[GM_PATH_MAX];  /* "" = NODE_DIR/control.sock; "none" = no socket */
    int log_level;
    bool discovery;
    char discovery_group[64];
    uint16_t discovery_port;
    uint32_t beacon_interval_ms;
    uint32_t tick_ms;               /* housekeeping period */
    uint32_t keepalive_ms;
    uint32_t dead_after_ms;
    uint32_t handshake_timeout_ms;
    uint32_t max_half_open;
    uint32_t max_half_open_per_address; /* inbound handshakes in progress from one host */
    uint32_t max_beacon_dials;          /* beacon-prompted dials in progress at once */
    uint32_t max_links;
    uint32_t handshake_rate;        /* handshakes per minute per address */
    uint32_t handshake_burst;
    uint32_t max_frame;             /* bytes of a frame's ciphertext, at most 65535 */
    uint32_t max_queued_bytes;      /* per link, before backpressure */
    uint32_t max_message;           /* bytes of one upper-layer message (in pieces) */
    uint32_t redial_min_ms;
    uint32_t redial_max_ms;
    uint64_t rekey_frames;          /* frames per direction between deterministic rekeys */
    uint32_t max_link_age_s;        /* then a fresh handshake */
    /* the mesh layer (node/mesh.c) */
    uint64_t store_max_bytes;       /* bundles held, all origins */
    uint64_t store_max_per_origin;  /* bundles held from one source node */
    uint64_t store_max_per_link;    /* bundles held that one neighbour handed over */
    uint32_t max_bundle;            /* bytes of one encoded bundle */
    uint32_t commit_interval_ms;    /* group commit: at most this long between commits */
    uint32_t custody_timeout_ms;    /* no custody ack by then: offer the bundle again */
    uint32_t bundle_lifetime_s;     /* default lifetime of bundles this node creates */
    uint32_t bundle_hop_limit;      /* default hop limit of bundles this node creates */
    uint32_t announce_interval_ms;  /* own announcement re-flooded this often */
    uint32_t route_expiry_ms;       /* a route not refreshed this long is dropped */
    uint32_t sync_interval_ms;      /* anti-entropy again on every link this often */
    uint32_t directory_max;         /* nodes the directory (and routing table) holds */
    uint32_t origin_rate;           /* bundles per second taken into custody from one origin */
    uint32_t neighbour_rate;        /* bundles per second taken into custody from one link */
} gm_node_config_t;

/* Fills every option with its documented default. */
void gm_config_defaults(gm_node_config_t *c);

/* Applies an INI file over c. On error *why says "FILE:LINE: problem". */
GM_MUST_CHECK int gm_config_load(gm_node_config_t *c, const char *path, gm_why_t *why);

/* Applies one "section.key = value" setting (the INI handler and tests use it). */
GM_MUST_CHECK int gm_config_set(gm_node_config_t *c, const char *section, const char *key,
                                const char *value, gm_why_t *why);

/* Checks ranges and addresses after all sources are applied. */
GM_MUST_CHECK int gm_config_validate(const gm_node_config_t *c, gm_why_t *why);

/* Parses a level name ("error", "warn", "info", "debug"); -1 if unknown. */
int gm_log_level_parse(const char *s);

#endif

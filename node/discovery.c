/*
 * LAN discovery: UDP multicast beacons (mesh id, node id, port). A beacon only
 * prompts a dial; trust comes from the handshake that follows.
 */
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "proto/wire_link.h"

#define RECENT_SLOTS 64

struct gm_discovery {
    gm_node_t *node;
    uv_udp_t sock;
    uv_timer_t timer;
    struct sockaddr_in group;
    uint16_t port; /* our TCP listener's */
    struct {
        uint8_t id[GM_ID_LEN];
        uint64_t t_ms;
    } recent[RECENT_SLOTS];
    int closing;
};

static void on_disc_closed(uv_handle_t *h)
{
    gm_discovery_t *d = h->data;
    gm_node_t *n = d->node;

    if (++d->closing == 2) {
        free(d);
    }
    gm__handle_closed(n);
}

static void on_beacon_sent(uv_udp_send_t *req, int status)
{
    (void)status;
    free(req);
}

static void on_beacon_timer(uv_timer_t *h)
{
    gm_discovery_t *d = h->data;
    gm_node_t *n = d->node;
    gm_beacon_t b = {.version = GM_LINK_VERSION, .port = d->port};
    struct {
        uv_udp_send_t req;
        uint8_t buf[128];
    } *s = malloc(sizeof *s);
    size_t len;

    memcpy(b.mesh_id, n->cfg.mesh_id, sizeof b.mesh_id);
    memcpy(b.node_id, n->cert.body.node_id, GM_ID_LEN);
    if (s == NULL || gm_wire_beacon_encode(&b, s->buf, sizeof s->buf, &len) != 0) {
        free(s);
        return;
    }
    uv_buf_t buf = uv_buf_init((char *)s->buf, (unsigned)len);
    if (uv_udp_send(&s->req, &d->sock, &buf, 1, (struct sockaddr *)&d->group, on_beacon_sent) !=
        0) {
        free(s);
    }
}

/* True if id was dialled because of a beacon within the last two intervals. */
static bool seen_recently(gm_discovery_t *d, const uint8_t id[GM_ID_LEN], uint64_t now)
{
    size_t oldest = 0;

    for (size_t i = 0; i < RECENT_SLOTS; i++) {
        if (memcmp(d->recent[i].id, id, GM_ID_LEN) == 0) {
            if (now - d->recent[i].t_ms < 2u * d->node->cfg.beacon_interval_ms) {
                return true;
            }
            oldest = i;
            break;
        }
        if (d->recent[i].t_ms < d->recent[oldest].t_ms) {
            oldest = i;
        }
    }
    memcpy(d->recent[oldest].id, id, GM_ID_LEN);
    d->recent[oldest].t_ms = now;
    return false;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    gm_discovery_t *d = h->data;

    (void)suggested;
    *buf = uv_buf_init((char *)d->node->scratch, 256);
}

static void on_beacon(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                      unsigned flags)
{
    gm_discovery_t *d = h->data;
    gm_node_t *n = d->node;
    gm_beacon_t b;
    char addr[GM_ADDR_LEN + 8], host[GM_ADDR_LEN];

    (void)flags;
    if (nread <= 0 || from == NULL || from->sa_family != AF_INET ||
        gm_wire_beacon_decode((const uint8_t *)buf->base, (size_t)nread, &b) != 0) {
        return; /* not a beacon: ignored, a hint is worth nothing */
    }
    if (memcmp(b.mesh_id, n->cfg.mesh_id, sizeof b.mesh_id) != 0 ||
        memcmp(b.node_id, n->cert.body.node_id, GM_ID_LEN) == 0) {
        return;
    }
    gm__count(n, GM_EVENT_BEACON_SEEN);
    if (gm_node_has_link(n, b.node_id) || seen_recently(d, b.node_id, gm__now_ms(n))) {
        return;
    }
    if (gm__dialers_oneshot_pending(n) >= n->cfg.max_beacon_dials) {
        gm__count(n, GM_EVENT_BEACON_DIAL_SKIPPED); /* a beacon flood must not become a dial flood */
        return;
    }
    gm_addr_format(from, addr, host);
    snprintf(addr, sizeof addr, "%s:%u", host, (unsigned)b.port);
    gm__log(n, GM_LOG_INFO, "beacon from %s: dialling", addr);
    gm_node_dial(n, addr);
}

static int join(gm_discovery_t *d, const gm_node_config_t *c, gm_why_t *why)
{
    struct sockaddr_in any;
    int err = uv_ip4_addr(c->discovery_group, c->discovery_port, &d->group);

    if (err != 0) {
        gm_why_set(why, "discovery.group '%s' is not an IPv4 address", c->discovery_group);
        return err;
    }
    uv_ip4_addr("0.0.0.0", c->discovery_port, &any);
    err = uv_udp_bind(&d->sock, (struct sockaddr *)&any, UV_UDP_REUSEADDR);
    err = err ? err : uv_udp_set_membership(&d->sock, c->discovery_group, NULL, UV_JOIN_GROUP);
    err = err ? err : uv_udp_set_multicast_loop(&d->sock, 1);
    err = err ? err : uv_udp_set_multicast_ttl(&d->sock, 1);
    err = err ? err : uv_udp_recv_start(&d->sock, on_alloc, on_beacon);
    if (err != 0) {
        gm_why_set(why, "discovery on %s:%u: %s", c->discovery_group, c->discovery_port,
                   gm_strerror(err));
    }
    return err;
}

int gm__discovery_start(gm_node_t *n, gm_why_t *why)
{
    gm_discovery_t *d = calloc(1, sizeof *d);
    const char *port = strrchr(gm_node_listen_addr(n), ':');
    int err;

    if (d == NULL) {
        return GM_ENOMEM;
    }
    d->node = n;
    d->port = port != NULL ? (uint16_t)atoi(port + 1) : 0;
    uv_udp_init(n->env.loop, &d->sock);
    uv_timer_init(n->env.loop, &d->timer);
    d->sock.data = d->timer.data = d;
    n->open_handles += 2;
    n->discovery = d;
    err = join(d, &n->cfg, why);
    if (err != 0) {
        gm__discovery_stop(n);
        return err;
    }
    uv_timer_start(&d->timer, on_beacon_timer, 0, n->cfg.beacon_interval_ms);
    return 0;
}

void gm__discovery_stop(gm_node_t *n)
{
    gm_discovery_t *d = n->discovery;

    if (d == NULL) {
        return;
    }
    n->discovery = NULL;
    uv_close((uv_handle_t *)&d->sock, on_disc_closed);
    uv_close((uv_handle_t *)&d->timer, on_disc_closed);
}

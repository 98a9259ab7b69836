/* The node: identity, listeners, dialers, links, housekeeping. One libuv loop drives it. */
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/fileio.h"
#include "node/node_internal.h"

#define LOG_LINES_PER_SECOND 20

static const char *const refusal_names[GM_REFUSE_COUNT] = {
    [GM_REFUSE_UNTRUSTED_ORG] = "untrusted_org",
    [GM_REFUSE_BAD_SIGNATURE] = "bad_signature",
    [GM_REFUSE_WRONG_ORG] = "wrong_org",
    [GM_REFUSE_REVOKED] = "revoked",
    [GM_REFUSE_NOT_YET_VALID] = "not_yet_valid",
    [GM_REFUSE_EXPIRED] = "expired",
    [GM_REFUSE_WRONG_ROLE] = "wrong_role",
    [GM_REFUSE_MALFORMED_CERT] = "malformed_cert",
    [GM_REFUSE_KEY_MISMATCH] = "key_mismatch",
    [GM_REFUSE_LINK_AUTH] = "link_auth",
    [GM_REFUSE_HANDSHAKE_FAILED] = "handshake_failed",
    [GM_REFUSE_BAD_HELLO] = "bad_hello",
    [GM_REFUSE_HANDSHAKE_TIMEOUT] = "handshake_timeout",
    [GM_REFUSE_HALF_OPEN_LIMIT] = "half_open_limit",
    [GM_REFUSE_RATE_LIMITED] = "rate_limited",
    [GM_REFUSE_FRAME_TOO_LARGE] = "frame_too_large",
    [GM_REFUSE_BAD_FRAME] = "bad_frame",
    [GM_REFUSE_SELF] = "self",
    [GM_REFUSE_LINK_LIMIT] = "link_limit",
};

static const char *const event_names[GM_EVENT_COUNT] = {
    [GM_EVENT_LINK_UP] = "links_up",
    [GM_EVENT_LINK_DOWN] = "links_down",
    [GM_EVENT_DEAD_PEER] = "dead_peers",
    [GM_EVENT_DUPLICATE_LINK] = "duplicate_links",
    [GM_EVENT_HANDSHAKE_ABORTED] = "handshakes_aborted",
    [GM_EVENT_REKEY] = "rekeys",
    [GM_EVENT_REHANDSHAKE] = "rehandshakes",
    [GM_EVENT_DIAL_FAILED] = "dials_failed",
    [GM_EVENT_BACKPRESSURE] = "backpressure",
    [GM_EVENT_BEACON_DIAL_SKIPPED] = "beacon_dials_skipped",
    [GM_EVENT_BEACON_SEEN] = "beacons_seen",
};

const char *gm_refusal_name(gm_refusal_t r)
{
    return r < GM_REFUSE_COUNT ? refusal_names[r] : "unknown";
}

const char *gm_event_name(gm_event_t e)
{
    return e < GM_EVENT_COUNT ? event_names[e] : "unknown";
}

/* ---- time, logs, counters ---- */

uint64_t gm__now_ms(const gm_node_t *n)
{
    return uv_now(n->env.loop);
}

uint64_t gm__wall(const gm_node_t *n)
{
    return n->env.wall_clock != NULL ? n->env.wall_clock(n->env.clock_ctx) : (uint64_t)time(NULL);
}

static void vlog(gm_node_t *n, int level, const char *fmt, va_list ap)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    char ts[32], line[1024];
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* Peers supply some of the text (a Close reason): control bytes are escaped so a
     * peer can neither split a line nor send escape sequences to a terminal. */
    vsnprintf(line, sizeof line, fmt, ap);
    fprintf(n->env.log, "%s %s %s: ", ts, n->name, names[level]);
    for (const unsigned char *p = (const unsigned char *)line; *p != 0; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            fprintf(n->env.log, "\\x%02x", *p);
        } else {
            fputc(*p, n->env.log);
        }
    }
    fputc('\n', n->env.log);
    fflush(n->env.log);
}

void gm__log_remote(gm_node_t *n, int level, const char *fmt, ...)
{
    uint64_t now = gm__now_ms(n);
    va_list ap;

    if (level > n->cfg.log_level) {
        return;
    }
    if (now - n->log_window_ms >= 1000) {
        if (n->log_suppressed > 0) {
            gm__log(n, GM_LOG_WARN, "%u log lines caused by peers suppressed", n->log_suppressed);
        }
        n->log_window_ms = now;
        n->log_lines_in_window = 0;
        n->log_suppressed = 0;
    }
    if (++n->log_lines_in_window > LOG_LINES_PER_SECOND) {
        n->log_suppressed++;
        return;
    }
    va_start(ap, fmt);
    vlog(n, level, fmt, ap);
    va_end(ap);
}

void gm__refuse(gm_node_t *n, gm_refusal_t r, const char *who, const char *detail)
{
    n->refusals[r]++;
    gm__log_remote(n, GM_LOG_WARN, "refused %s: %s (%s)", who, gm_refusal_name(r), detail);
}

void gm__count(gm_node_t *n, gm_event_t e)
{
    n->events[e]++;
}

/* ---- links ---- */

void gm__mark_dirty(gm_link_t *l)
{
    if (!l->dirty) {
        l->dirty = true;
        l->next_dirty = l->node->dirty;
        l->node->dirty = l;
        gm_node_wake(l->node);
    }
}

static void unlink_from(gm_link_t **head, gm_link_t *l)
{
    for (gm_link_t **p = head; *p != NULL; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            return;
        }
    }
}

static gm_link_t *find_up(gm_node_t *n, const uint8_t id[GM_ID_LEN], const gm_link_t *except);

/* Links leave the list at once and are freed after the loop turn (flush callback). */
void gm__node_link_gone(gm_node_t *n, gm_link_t *l)
{
    gm_dialer_t *d = l->dialer;

    unlink_from(&n->links, l);
    l->next = n->dead;
    n->dead = l;
    gm_node_wake(n); /* freed by the flush */
    if (l->t_up != 0) {
        gm__count(n, GM_EVENT_LINK_DOWN);
    }
    if (l->announced && n->hooks.link_down != NULL && find_up(n, l->peer_id, l) == NULL) {
        n->hooks.link_down(n->hooks_ctx, l->peer_id); /* no other link to it replaced this one */
    }
    if (d != NULL && d->link == l) {
        d->link = NULL;
        gm__dialer_schedule(d, l->t_up != 0 && gm__now_ms(n) - l->t_up > d->backoff_ms);
    }
}

static gm_link_t *find_up(gm_node_t *n, const uint8_t id[GM_ID_LEN], const gm_link_t *except)
{
    for (gm_link_t *l = n->links; l != NULL; l = l->next) {
        if (l != except && l->state == LINK_UP && memcmp(l->peer_id, id, GM_ID_LEN) == 0) {
            return l;
        }
    }
    return NULL;
}

/* Node id of a link's initiator. */
static const uint8_t *initiator_id(const gm_node_t *n, const gm_link_t *l)
{
    return l->initiator ? n->cert.body.node_id : l->peer_id;
}

/* The surviving link of a duplicate pair takes over the loser's dialer, so that the
 * dialer does not redial a node it is already linked to. */
static void hand_over_dialer(gm_link_t *loser, gm_link_t *winner)
{
    gm_dialer_t *d = loser->dialer;

    if (d == NULL || winner->dialer != NULL) {
        return;
    }
    loser->dialer = NULL;
    winner->dialer = d;
    d->link = winner;
}

bool gm__node_link_up(gm_node_t *n, gm_link_t *l)
{
    gm_link_t *old = find_up(n, l->peer_id, l);
    bool keep_new = true;

    if (l->dialer != NULL) {
        memcpy(l->dialer->peer_id, l->peer_id, GM_ID_LEN);
        l->dialer->has_peer = true;
    }
    if (old != NULL) {
        gm__count(n, GM_EVENT_DUPLICATE_LINK);
        /* Simultaneous dials (opposite directions, both up within one handshake timeout)
         * keep the link whose initiator has the lower node id, so both ends choose the
         * same one; otherwise the newest wins (the old one is most likely a dead link to
         * a restarted peer). */
        if (old->initiator != l->initiator &&
            gm__now_ms(n) - old->t_up < n->cfg.handshake_timeout_ms) {
            keep_new = memcmp(initiator_id(n, l), initiator_id(n, old), GM_ID_LEN) < 0;
        }
        if (keep_new) {
            hand_over_dialer(old, l);
            gm__link_close(old, GM_REFUSE_COUNT, false, "replaced by a newer link");
        } else {
            hand_over_dialer(l, old);
        }
    }
    if (keep_new) {
        gm__count(n, GM_EVENT_LINK_UP);
        gm__log(n, GM_LOG_INFO, "link up: %s (%s, %s, %s)", l->peer_name, l->conn->peer,
                gm_role_name(l->peer_role), l->initiator ? "outbound" : "inbound");
        l->announced = true;
        if (n->hooks.link_up != NULL) {
            n->hooks.link_up(n->hooks_ctx, l->peer_id);
        }
        /* The dialer's backoff is not reset here: an initiator is up once it sends msg3,
         * before the responder judges it. gm__node_link_gone resets it for a link that
         * lived longer than the backoff. */
    }
    return keep_new;
}

/* ---- accepting ---- */

/* Inbound handshakes in progress, from host only if it is not NULL. */
static size_t count_half_open(const gm_node_t *n, const char *host)
{
    size_t k = 0;

    for (const gm_link_t *l = n->links; l != NULL; l = l->next) {
        k += l->state == LINK_HANDSHAKE && !l->initiator &&
             (host == NULL || strcmp(l->conn->peer_host, host) == 0);
    }
    return k;
}

/* Token bucket per source address: handshake_rate per minute, handshake_burst at once. */
static bool rate_allows(gm_node_t *n, const char *host)
{
    uint64_t now = gm__now_ms(n);
    struct rate_slot *s = &n->rate[0], *oldest = &n->rate[0];

    for (size_t i = 0; i < GM_RATE_SLOTS; i++) {
        if (strcmp(n->rate[i].host, host) == 0) {
            s = &n->rate[i];
            break;
        }
        if (n->rate[i].t_ms < oldest->t_ms) {
            oldest = &n->rate[i];
        }
        s = NULL;
    }
    if (s == NULL) { /* a new address takes the least recently used slot */
        s = oldest;
        snprintf(s->host, sizeof s->host, "%s", host);
        s->tokens = n->cfg.handshake_burst;
        s->t_ms = now;
    }
    s->tokens += (double)(now - s->t_ms) * n->cfg.handshake_rate / 60000.0;
    if (s->tokens > n->cfg.handshake_burst) {
        s->tokens = n->cfg.handshake_burst;
    }
    s->t_ms = now;
    if (s->tokens < 1.0) {
        return false;
    }
    s->tokens -= 1.0;
    return true;
}

static void on_accept(void *ctx, gm_conn_t *conn)
{
    gm_node_t *n = ctx;
    gm_link_t *l;
    gm_refusal_t r = GM_REFUSE_COUNT;

    if (n->stopping) {
        gm_conn_close(conn);
        return;
    }
    if (!rate_allows(n, conn->peer_host)) {
        r = GM_REFUSE_RATE_LIMITED;
    } else if (count_half_open(n, NULL) >= n->cfg.max_half_open ||
               count_half_open(n, conn->peer_host) >= n->cfg.max_half_open_per_address) {
        r = GM_REFUSE_HALF_OPEN_LIMIT;
    } else if (gm_node_link_count(n) >= n->cfg.max_links) {
        r = GM_REFUSE_LINK_LIMIT;
    }
    if (r != GM_REFUSE_COUNT) {
        gm__refuse(n, r, conn->peer, "connection closed before the handshake");
        gm_conn_close(conn);
        return;
    }
    if (gm__link_new(n, conn, false, NULL, &l) == 0) {
        l->next = n->links;
        n->links = l;
    }
}

/* ---- housekeeping ---- */

static void free_dead_links(gm_node_t *n)
{
    while (n->dead != NULL) {
        gm_link_t *l = n->dead;
        n->dead = l->next;
        gm__link_free(l);
    }
}

/* After a loop turn's I/O: write what the turn queued, free closed links. */
static void on_flush(uv_check_t *h)
{
    gm_node_t *n = h->data;
    gm_link_t *l;

    uv_check_stop(h); /* until the next wake: may come from the hook, for the next turn */
    if (n->hooks.turn_end != NULL && n->hooks.turn_end(n->hooks_ctx)) { /* may queue frames */
        gm_node_wake(n);
    }
    l = n->dirty;
    n->dirty = NULL;
    while (l != NULL) {
        gm_link_t *next = l->next_dirty;
        l->dirty = false;
        gm__link_flush(l);
        l = next;
    }
    free_dead_links(n);
}

static void on_tick(uv_timer_t *h)
{
    gm_node_t *n = h->data;
    uint64_t now = gm__now_ms(n);
    gm_link_t *l = n->links;

    gm_node_wake(n);
    /* most ticks find nothing due on any link: a thousand-node simulation ticks 4,000
     * nodes a simulated second, and walking every link each time costs more than all
     * the rest of an idle tick. Certificates lapse by the wall clock, which may jump. */
    if (now >= n->links_due_ms || gm__wall(n) >= n->links_lapse_s) {
        uint64_t due = UINT64_MAX, lapse = UINT64_MAX;

        n->links_due_ms = UINT64_MAX; /* a link made meanwhile lowers it again */
        while (l != NULL) {
            gm_link_t *next = l->next; /* ticking may close l; it is freed after the turn */
            uint64_t d = gm__link_tick(l, now);
            if (d != UINT64_MAX) {
                uint64_t s = gm__link_lapse_s(l);
                due = d < due ? d : due;
                lapse = s < lapse ? s : lapse;
            }
            l = next;
        }
        n->links_due_ms = due < n->links_due_ms ? due : n->links_due_ms;
        n->links_lapse_s = lapse;
    }
    if (n->hooks.tick != NULL) {
        n->hooks.tick(n->hooks_ctx);
    }
}

/* ---- creation ---- */

/* node.key must hold the keys node.cert certifies. */
static int load_keys(gm_node_t *n, gm_why_t *why)
{
    char path[GM_PATH_MAX], pass[GM_PASSPHRASE_MAX + 1];
    uint8_t secret[GM_NODE_SECRET_LEN];
    size_t pass_len = 0;
    bool has_pass = n->cfg.passphrase_file[0] != 0;
    int err = 0;

    if (has_pass) {
        err = gm_passphrase_read(n->cfg.passphrase_file, pass, &pass_len, why);
    }
    if (err == 0 && gm_path_join(path, sizeof path, n->dir, GM_FILE_NODE_KEY) != 0) {
        gm_why_set(why, "%s: path too long", n->dir);
        err = GM_ELIMIT;
    }
    err = err ? err : gm_key_load(path, GM_KEY_NODE, has_pass ? pass : NULL, pass_len, secret,
                                  sizeof secret, why);
    if (err == 0 && gm_node_keys_from_secret(n->keys, secret) != 0) {
        gm_why_set(why, "%s: holds an unusable key", path);
        err = GM_EPROTO;
    }
    if (err == 0 && (memcmp(n->keys->sign_pk, n->cert.body.sign_pk, GM_KEY_LEN) != 0 ||
                     memcmp(n->keys->link_pk, n->cert.body.link_pk, GM_KEY_LEN) != 0 ||
                     memcmp(n->keys->e2e_pk, n->cert.body.e2e_pk, GM_KEY_LEN) != 0)) {
        gm_why_set(why, "%s: key does not belong to %s/%s", path, n->dir, GM_FILE_NODE_CERT);
        err = GM_EAUTH;
    }
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(pass, sizeof pass);
    return err;
}

/* The node's own certificate must be acceptable to its own trust store now. */
static int load_identity(gm_node_t *n, gm_why_t *why)
{
    char path[GM_PATH_MAX];
    gm_cert_verdict_t v;
    int err;

    if (gm_path_join(path, sizeof path, n->dir, GM_FILE_NODE_CERT) != 0) {
        gm_why_set(why, "%s: path too long", n->dir);
        return GM_ELIMIT;
    }
    err = gm_cert_load(path, &n->cert, why);
    err = err ? err : gm_trust_load_dir(n->dir, n->trust, why);
    if (err != 0) {
        return err;
    }
    v = gm_trust_check(n->trust, &n->cert, gm__wall(n), GM_ROLES_ALL);
    if (v != GM_CERT_OK) {
        gm_why_set(why, "%s: own certificate %s", path, gm_cert_verdict_str(v));
        return GM_EAUTH;
    }
    snprintf(n->name, sizeof n->name, "%s@%s", n->cert.body.callsign, n->cert.body.org_name);
    return load_keys(n, why);
}

int gm_node_new(const gm_node_env_t *env, const char *dir, const gm_node_config_t *cfg,
                gm_node_t **out, gm_why_t *why)
{
    gm_node_t *n;
    int err = gm_config_validate(cfg, why);

    if (err != 0) {
        return err;
    }
    n = calloc(1, sizeof *n);
    if (n == NULL || snprintf(n->dir, sizeof n->dir, "%s", dir) >= (int)sizeof n->dir) {
        free(n);
        gm_why_set(why, "%s: out of memory or path too long", dir);
        return GM_ENOMEM;
    }
    n->env = *env;
    n->env.log = env->log != NULL ? env->log : stderr;
    n->cfg = *cfg;
    snprintf(n->name, sizeof n->name, "%s", dir);
    n->keys = sodium_malloc(sizeof *n->keys);
    n->trust = malloc(sizeof *n->trust);
    if (n->keys == NULL || n->trust == NULL) {
        gm_why_set(why, "out of memory");
        err = GM_ENOMEM;
    } else {
        gm_trust_init(n->trust);
        err = load_identity(n, why);
    }
    if (err != 0) {
        gm_node_free(n);
        return err;
    }
    *out = n;
    return 0;
}

static int start_listeners(gm_node_t *n, gm_why_t *why)
{
    for (size_t i = 0; i < n->cfg.n_listen; i++) {
        int err = gm_listen(n->env.loop, n->env.hub, n->cfg.listen[i], on_accept, n,
                            &n->listeners[i], n->bound[i]);
        if (err != 0) {
            gm_why_set(why, "cannot listen on %s: %s", n->cfg.listen[i], gm_strerror(err));
            return err;
        }
        n->n_listeners = i + 1;
        gm__log(n, GM_LOG_INFO, "listening on %s", n->bound[i]);
    }
    return 0;
}

static int start_control(gm_node_t *n, gm_why_t *why)
{
    char path[GM_PATH_MAX];

    if (strcmp(n->cfg.control_socket, "none") == 0) {
        return 0;
    }
    if (n->cfg.control_socket[0] != 0) {
        snprintf(path, sizeof path, "%s", n->cfg.control_socket);
    } else if (gm_path_join(path, sizeof path, n->dir, GM_FILE_CONTROL_SOCKET) != 0) {
        gm_why_set(why, "%s: path too long", n->dir);
        return GM_ELIMIT;
    }
    return gm__control_start(n, path, why);
}

int gm_node_start(gm_node_t *n, gm_why_t *why)
{
    int err;

    uv_timer_init(n->env.loop, &n->tick);
    uv_check_init(n->env.loop, &n->flush);
    n->tick.data = n->flush.data = n;
    n->open_handles += 2;
    n->started = true;
    n->t_start = gm__now_ms(n);
    uv_timer_start(&n->tick, on_tick, n->cfg.tick_ms, n->cfg.tick_ms);
    gm_node_wake(n);
    /* the control socket first: a second daemon on this directory says "already running"
     * rather than tripping over the first one's ports */
    err = start_control(n, why);
    err = err ? err : start_listeners(n, why);
    if (err == 0 && n->cfg.discovery) {
        err = gm__discovery_start(n, why);
    }
    for (size_t i = 0; err == 0 && i < n->cfg.n_peers; i++) {
        err = gm__dialer_add(n, n->cfg.peers[i], true);
        if (err != 0) {
            gm_why_set(why, "cannot dial %s: %s", n->cfg.peers[i], gm_strerror(err));
        }
    }
    if (err == 0) {
        n->running = true;
        gm__warn_stale_crls(n);
        gm__log(n, GM_LOG_INFO, "started (%s, %zu listener(s), %zu peer(s)%s)",
                gm_role_name(n->cert.body.role), n->n_listeners, n->cfg.n_peers,
                n->cfg.has_mesh_key ? ", mesh key set" : "");
    }
    return err;
}

/* ---- stopping ---- */

void gm__handle_closed(gm_node_t *n)
{
    if (--n->open_handles == 0 && n->stopping) {
        free_dead_links(n);
        if (n->running) { /* a failed start already said why, in one line */
            gm__log(n, GM_LOG_INFO, "stopped");
        }
        if (n->stopped_cb != NULL) {
            n->stopped_cb(n, n->stopped_arg);
        }
    }
}

static void on_node_handle_closed(uv_handle_t *h)
{
    gm__handle_closed(h->data);
}

void gm_node_stop(gm_node_t *n, gm_node_stopped_cb cb, void *arg)
{
    if (n->stopping) {
        return;
    }
    n->stopping = true;
    n->stopped_cb = cb;
    n->stopped_arg = arg;
    while (n->links != NULL) {
        gm__link_close(n->links, GM_REFUSE_COUNT, false, "node stopping");
    }
    for (size_t i = 0; i < n->n_listeners; i++) {
        gm_listener_close(n->listeners[i]);
    }
    n->n_listeners = 0;
    gm__dialers_stop(n);
    gm__control_stop(n);
    gm__discovery_stop(n);
    if (!n->started) {
        n->open_handles = 1; /* nothing was opened: report at once */
        gm__handle_closed(n);
        return;
    }
    uv_close((uv_handle_t *)&n->tick, on_node_handle_closed);
    uv_close((uv_handle_t *)&n->flush, on_node_handle_closed);
}

void gm_node_free(gm_node_t *n)
{
    if (n == NULL) {
        return;
    }
    free_dead_links(n);
    if (n->keys != NULL) {
        sodium_free(n->keys); /* wipes */
    }
    if (n->trust != NULL) {
        gm_trust_close(n->trust);
        free(n->trust);
    }
    sodium_memzero(n, sizeof *n); /* the mesh key in cfg, the last frame's plaintext */
    free(n);
}

/* ---- queries and sending ---- */

void gm_node_wake(gm_node_t *n)
{
    if (n->started && !n->stopping) { /* not once the handle is closing */
        uv_check_start(&n->flush, on_flush); /* no-op while started */
    }
}

void gm_node_set_data_cb(gm_node_t *n, gm_node_data_cb cb, void *ctx)
{
    n->hooks.data = cb;
    n->hooks_ctx = ctx;
}

void gm_node_set_hooks(gm_node_t *n, const gm_node_hooks_t *hooks, void *ctx)
{
    n->hooks = *hooks;
    n->hooks_ctx = ctx;
}

bool gm_node_each_peer(gm_node_t *n, void (*fn)(void *ctx, const uint8_t peer[GM_ID_LEN]),
                       void *ctx)
{
    uint8_t(*ids)[GM_ID_LEN];
    size_t k = 0, count = gm_node_link_count(n);

    /* fn may close a link (a send failing half-way): walk a copy of the peer ids */
    ids = count > 0 ? malloc(count * GM_ID_LEN) : NULL;
    if (count > 0 && ids == NULL) {
        gm__log(n, GM_LOG_ERROR, "out of memory: a message to every neighbour was not sent");
        return false;
    }
    for (gm_link_t *l = n->links; ids != NULL && l != NULL; l = l->next) {
        /* a peer with two links up (a replacement in progress) is visited once */
        if (l->state == LINK_UP && find_up(n, l->peer_id, NULL) == l && k < count) {
            memcpy(ids[k++], l->peer_id, GM_ID_LEN);
        }
    }
    for (size_t i = 0; i < k; i++) {
        if (gm_node_has_link(n, ids[i])) {
            fn(ctx, ids[i]);
        }
    }
    free(ids);
    return true;
}

const gm_node_config_t *gm_node_config(const gm_node_t *n)
{
    return &n->cfg;
}

bool gm_node_store_in_memory(const gm_node_t *n)
{
    return n->env.store_in_memory;
}

const char *gm_node_dir(const gm_node_t *n)
{
    return n->dir;
}

uv_loop_t *gm_node_loop(const gm_node_t *n)
{
    return n->env.loop;
}

uint64_t gm_node_now_ms(const gm_node_t *n)
{
    return gm__now_ms(n);
}

uint64_t gm_node_wall(const gm_node_t *n)
{
    return gm__wall(n);
}

const gm_node_keys_t *gm_node_keys(const gm_node_t *n)
{
    return n->keys;
}

const gm_trust_t *gm_node_trust(const gm_node_t *n)
{
    return n->trust;
}

void gm_node_log(gm_node_t *n, int level, const char *fmt, ...)
{
    va_list ap;

    if (level > n->cfg.log_level) {
        return;
    }
    va_start(ap, fmt);
    vlog(n, level, fmt, ap);
    va_end(ap);
}

static int send_data(gm_node_t *n, const uint8_t node_id[GM_ID_LEN], uint32_t channel,
                     const uint8_t *data, size_t len, bool control)
{
    gm_link_t *l = find_up(n, node_id, NULL);
    int err = l == NULL ? GM_ENOENT : gm__link_send_data(l, channel, data, len, control);

    if (err == 0) {
        n->sent_bytes[channel < GM_NODE_CHANNELS ? channel : GM_NODE_CHANNELS - 1] += len;
    }
    return err;
}

int gm_node_send(gm_node_t *n, const uint8_t node_id[GM_ID_LEN], uint32_t channel,
                 const uint8_t *data, size_t len)
{
    return send_data(n, node_id, channel, data, len, false);
}

int gm_node_send_control(gm_node_t *n, const uint8_t node_id[GM_ID_LEN], uint32_t channel,
                 const uint8_t *data, size_t len)
{
    return send_data(n, node_id, channel, data, len, true);
}

void gm_node_dial(gm_node_t *n, const char *addr)
{
    if (!n->stopping && gm__dialer_add(n, addr, false) != 0) {
        gm__log(n, GM_LOG_WARN, "cannot dial %s", addr);
    }
}

const uint8_t *gm_node_id(const gm_node_t *n)
{
    return n->cert.body.node_id;
}

const gm_cert_t *gm_node_cert(const gm_node_t *n)
{
    return &n->cert;
}

size_t gm_node_link_count(const gm_node_t *n)
{
    size_t k = 0;

    for (const gm_link_t *l = n->links; l != NULL; l = l->next) {
        k += l->state == LINK_UP;
    }
    return k;
}

bool gm_node_has_link(const gm_node_t *n, const uint8_t node_id[GM_ID_LEN])
{
    return find_up((gm_node_t *)n, node_id, NULL) != NULL;
}

uint64_t gm_node_refusals(const gm_node_t *n, gm_refusal_t r)
{
    return r < GM_REFUSE_COUNT ? n->refusals[r] : 0;
}

uint64_t gm_node_events(const gm_node_t *n, gm_event_t e)
{
    return e < GM_EVENT_COUNT ? n->events[e] : 0;
}

uint64_t gm_node_sent_bytes(const gm_node_t *n, uint32_t channel)
{
    return n->sent_bytes[channel < GM_NODE_CHANNELS ? channel : GM_NODE_CHANNELS - 1];
}

const char *gm_node_listen_addr(const gm_node_t *n)
{
    return n->n_listeners > 0 ? n->bound[0] : "";
}

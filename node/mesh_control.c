/*
 * The mesh layer's side of the control socket (GM_OP_MESH requests): its
 * counters, the routing table, test traffic, and revocation lists from the
 * operator. Every refusal goes back in the answer (error and message); only a
 * failure to build the answer at all is returned to the node.
 */
#include <ctype.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/mesh_internal.h"
#include "proto/wire_mesh_control.h"

static void set_error(gm_mesh_response_t *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(gm_mesh_response_t *r, int err, const char *fmt, ...)
{
    va_list ap;

    r->error = err;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

/* ---- STATUS: counters ---- */

/* prefix + name as a snake_case counter name ("route_" "old sequence number"). */
static void add_counter(gm_mesh_response_t *r, const char *prefix, const char *name, uint64_t v)
{
    gm_counter_t *c;

    if (r->n_counters == GM_MESH_CTL_MAX_COUNTERS) {
        return;
    }
    c = &r->counters[r->n_counters++];
    snprintf(c->name, sizeof c->name, "%s%s", prefix, name);
    for (char *p = c->name; *p != 0; p++) {
        *p = isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p) : '_';
    }
    c->value = v;
}

static void add_app_counter(void *ctx, const char *name, uint64_t value)
{
    add_counter(ctx, "msg_", name, value);
}

static void fill_counters(const gm_mesh_t *m, gm_mesh_response_t *r)
{
    gm_mesh_stats_t s;
    gm_store_stats_t st;
    gm_router_stats_t rs;

    gm_mesh_stats(m, &s);
    gm_mesh_store_stats(m, &st);
    gm_router_stats(m->router, &rs);
    const struct {
        const char *name;
        uint64_t value;
    } plain[] = {
        {"accepted", s.accepted},
        {"originated", s.originated},
        {"forwarded", s.forwarded},
        {"sent", s.sent},
        {"delivered", s.delivered},
        {"duplicates", s.duplicates},
        {"expired_own", s.expired_own},
        {"acks_sent", s.acks_sent},
        {"routes_deferred", s.routes_deferred},
        {"routes_short", s.routes_short},
        {"acks_received", s.acks_received},
        {"sync_filters_sent", s.sync_filters_sent},
        {"sync_bytes_sent", s.sync_bytes_sent},
        {"sync_pushed", s.sync_pushed},
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        add_counter(r, "", plain[i].name, plain[i].value);
    }
    for (int d = 0; d < GM_MDROP_COUNT; d++) {
        add_counter(r, "dropped_", gm_mesh_drop_name((gm_mesh_drop_t)d), s.dropped[d]);
    }
    add_counter(r, "", "store_bundles", st.bundles);
    add_counter(r, "", "store_bytes", st.bytes);
    add_counter(r, "", "store_commits", st.commits);
    for (int v = 0; v < GM_ROUTER_VERDICT_COUNT; v++) {
        if (gm_router_verdict_is_drop((gm_router_verdict_t)v)) {
            add_counter(r, "route_", gm_router_verdict_str((gm_router_verdict_t)v), rs.verdicts[v]);
        }
    }
    r->directory = (uint32_t)gm_router_node_count(m->router);
    if (m->app.counters != NULL) {
        m->app.counters(m->app_ctx, add_app_counter, r);
    }
}

/* ---- ROUTES ---- */

/* Reachable first, nearest first, then by callsign. */
static int route_cmp(const void *a, const void *b)
{
    const gm_mesh_route_line_t *x = a, *y = b;

    if (x->reachable != y->reachable) {
        return x->reachable ? -1 : 1;
    }
    if (x->metric != y->metric) {
        return x->metric < y->metric ? -1 : 1;
    }
    return strcmp(x->callsign, y->callsign);
}

static int fill_routes(const gm_mesh_t *m, gm_mesh_response_t *r)
{
    size_t n = gm_router_node_count(m->router);
    uint64_t now = gm_node_now_ms(m->node);
    gm_route_info_t ri;

    n = n < GM_MESH_CTL_MAX_ROUTES ? n : GM_MESH_CTL_MAX_ROUTES;
    r->routes = calloc(n + 1, sizeof *r->routes);
    if (r->routes == NULL) {
        return GM_ENOMEM;
    }
    for (size_t i = 0; i < n && gm_router_route_at(m->router, i, now, &ri) == 0; i++) {
        gm_mesh_route_line_t *l = &r->routes[r->n_routes++];
        memcpy(l->dest, ri.dest, GM_ID_LEN);
        snprintf(l->callsign, sizeof l->callsign, "%s", ri.callsign ? ri.callsign : "");
        l->reachable = ri.reachable;
        memcpy(l->next_hop, ri.next_hop, GM_ID_LEN);
        l->metric = ri.metric;
        l->seq = ri.seq;
        l->age_ms = ri.age_ms;
    }
    qsort(r->routes, r->n_routes, sizeof *r->routes, route_cmp);
    r->directory = (uint32_t)gm_router_node_count(m->router);
    return 0;
}

/* ---- INJECT: test traffic ---- */

/* The destination and limits of an INJECT request; false (with r's error set) if refused. */
static bool check_inject(const gm_mesh_t *m, const gm_mesh_request_t *q, gm_dest_t *dst,
                         gm_mesh_response_t *r)
{
    memset(dst, 0, sizeof *dst);
    dst->kind = q->dest_kind == 0 ? GM_DST_NODE : (gm_dst_kind_t)q->dest_kind;
    if (q->dest_kind > GM_DST_ALL) {
        set_error(r, GM_EPROTO, "unknown destination kind %u", q->dest_kind);
    } else if (dst->kind != GM_DST_ALL && !q->has_to) {
        set_error(r, GM_EPROTO, "no destination id given");
    } else if (dst->kind == GM_DST_NODE && memcmp(q->to, gm_node_id(m->node), GM_ID_LEN) == 0) {
        set_error(r, GM_EPROTO, "the destination is this node itself");
    } else if (q->count == 0 || q->count > GM_MESH_CTL_MAX_INJECT) {
        set_error(r, GM_EPROTO, "count %u is not between 1 and %u", q->count,
                  GM_MESH_CTL_MAX_INJECT);
    } else if (q->priority >= GM_PRIO_COUNT) {
        set_error(r, GM_EPROTO, "priority %u is not between 0 and %d", q->priority,
                  GM_PRIO_COUNT - 1);
    } else if (q->lifetime > GM_BUNDLE_LIFETIME_MAX) {
        set_error(r, GM_EPROTO, "lifetime %u s is longer than %u s", q->lifetime,
                  GM_BUNDLE_LIFETIME_MAX);
    } else if (q->size > m->cfg->max_bundle) {
        set_error(r, GM_EPROTO, "a body of %u bytes does not fit in a bundle (mesh.max_bundle %u)",
                  q->size, m->cfg->max_bundle);
    }
    if (r->error != 0) {
        return false;
    }
    if (dst->kind != GM_DST_ALL) {
        memcpy(dst->id, q->to, GM_ID_LEN);
    }
    return true;
}

/* count bundles of size random bytes through gm_mesh_send; the first ids go back. */
static void inject(gm_mesh_t *m, const gm_mesh_request_t *q, gm_mesh_response_t *r)
{
    size_t n_ids = q->count < GM_MESH_CTL_MAX_IDS ? q->count : GM_MESH_CTL_MAX_IDS;
    uint8_t id[GM_ID_LEN], *body;
    gm_dest_t dst;
    uint32_t done = 0;
    int err = 0;

    if (!check_inject(m, q, &dst, r)) {
        return;
    }
    body = malloc((size_t)q->size + 1);
    r->ids = calloc(n_ids + 1, sizeof *r->ids);
    if (body == NULL || r->ids == NULL) {
        free(body);
        set_error(r, GM_ENOMEM, "out of memory");
        return;
    }
    for (; done < q->count; done++) {
        randombytes_buf(body, q->size);
        err = gm_mesh_send(m, &dst, (gm_prio_t)q->priority, q->lifetime, 0, body, q->size, id);
        if (err != 0) {
            break;
        }
        if (r->n_ids < n_ids) {
            memcpy(r->ids[r->n_ids++], id, GM_ID_LEN);
        }
    }
    free(body);
    add_counter(r, "", "injected", done);
    if (err != 0) {
        set_error(r, err, "injected %u of %u bundles: %s", done, q->count, gm_store_strerror(err));
    }
    gm_node_log(m->node, GM_LOG_INFO, "mesh: %u test bundles of %u bytes injected", done, q->size);
}

/* ---- CRL_ADD ---- */

/* The organisation's name as this node trusts it (its id in hex if, oddly, it is not). */
static const char *org_name(const gm_trust_t *t, const uint8_t org[GM_ID_LEN], char hex[33])
{
    const gm_root_t *root = gm_trust_find_root(t, org);

    if (root != NULL) {
        return root->body.org_name;
    }
    sodium_bin2hex(hex, 2 * GM_ID_LEN + 1, org, GM_ID_LEN);
    return hex;
}

/* Applied and flooded as a list from a neighbour would be; the operator hears the outcome. */
static void crl_add(gm_mesh_t *m, const gm_mesh_request_t *q, gm_mesh_response_t *r)
{
    const gm_trust_t *t = gm_node_trust(m->node);
    char hex[2 * GM_ID_LEN + 1];
    gm_why_t why;
    int err;

    if (q->crl_len == 0) {
        set_error(r, GM_EPROTO, "revocation list refused: empty");
        return;
    }
    err = gm__mesh_crl_add(m, NULL, q->crl, q->crl_len, &why);
    if (err != 0) {
        set_error(r, err, "%s", why.msg);
        return;
    }
    for (size_t i = 0; i < t->n_roots; i++) { /* the list now held with these bytes */
        const gm_crl_t *held = &t->crls[i];
        if (held->encoded_len == q->crl_len && memcmp(held->encoded, q->crl, q->crl_len) == 0) {
            snprintf(r->message, sizeof r->message, "applied: revocation list %llu of %s",
                     (unsigned long long)held->body.seq, org_name(t, held->body.org_id, hex));
            return;
        }
    }
    snprintf(r->message, sizeof r->message, "applied: revocation list");
}

/* ---- the handler ---- */

static int on_control(void *ctx, const uint8_t *arg, size_t len, uint8_t **out, size_t *out_len)
{
    gm_mesh_t *m = ctx;
    gm_mesh_request_t q = {0};
    gm_mesh_response_t *r = calloc(1, sizeof *r);
    int err;

    if (r == NULL) {
        return GM_ENOMEM;
    }
    err = gm_wire_mesh_request_decode(arg, len, &q);
    if (err != 0) {
        set_error(r, err, "malformed mesh request: %s", gm_strerror(err));
        err = 0;
    } else if (q.op == GM_MESH_OP_STATUS) {
        fill_counters(m, r);
    } else if (q.op == GM_MESH_OP_ROUTES) {
        err = fill_routes(m, r);
    } else if (q.op == GM_MESH_OP_INJECT) {
        inject(m, &q, r);
    } else {
        crl_add(m, &q, r);
    }
    if (err == 0) {
        err = gm_wire_mesh_response_encode(r, out, out_len);
    }
    gm_mesh_request_free(&q);
    gm_mesh_response_free(r);
    free(r);
    return err;
}

void gm__mesh_control_register(gm_mesh_t *m)
{
    gm_node_set_control_ext(m->node, GM_OP_MESH, on_control, m);
}

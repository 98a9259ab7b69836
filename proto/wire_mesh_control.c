#include "proto/wire_mesh_control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh_control.pb-c.h"

static ProtobufCBinaryData bin(const uint8_t *p, size_t len)
{
    ProtobufCBinaryData b = {len, (uint8_t *)p};
    return b;
}

static bool is_op(uint32_t op)
{
    return op >= GM_MESH_OP_STATUS && op <= GM_MESH_OP_CRL_ADD;
}

/* ---- requests ---- */

static void request_out(const gm_mesh_request_t *req, Gmwire__MeshRequest *m)
{
    gmwire__mesh_request__init(m);
    m->op = (Gmwire__MeshOp)req->op;
    if (req->has_to) {
        m->to = bin(req->to, GM_ID_LEN);
    }
    m->size = req->size;
    m->count = req->count;
    m->priority = req->priority;
    m->dest_kind = req->dest_kind;
    m->lifetime = req->lifetime;
    m->crl = bin(req->crl, req->crl_len);
}

size_t gm_wire_mesh_request_size(const gm_mesh_request_t *req)
{
    Gmwire__MeshRequest m;

    request_out(req, &m);
    return gmwire__mesh_request__get_packed_size(&m);
}

int gm_wire_mesh_request_encode(const gm_mesh_request_t *req, uint8_t *out, size_t cap,
                                size_t *out_len)
{
    Gmwire__MeshRequest m;

    if (!is_op(req->op) || req->crl_len > GM_MESH_CTL_CRL_MAX) {
        return GM_EPROTO;
    }
    request_out(req, &m);
    if (gmwire__mesh_request__get_packed_size(&m) > cap) {
        return GM_ELIMIT;
    }
    *out_len = gmwire__mesh_request__pack(&m, out);
    return 0;
}

int gm_wire_mesh_request_decode(const uint8_t *buf, size_t len, gm_mesh_request_t *out)
{
    Gmwire__MeshRequest *m;
    gm_mesh_request_t r;
    int err = GM_EPROTO;

    if (len > GM_CONTROL_REQUEST_MAX) {
        return GM_EPROTO;
    }
    m = gmwire__mesh_request__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    memset(&r, 0, sizeof r);
    if (is_op((uint32_t)m->op) && (m->to.len == 0 || m->to.len == GM_ID_LEN) &&
        m->crl.len <= GM_MESH_CTL_CRL_MAX) {
        r.op = (gm_mesh_op_t)m->op;
        r.has_to = m->to.len == GM_ID_LEN;
        if (r.has_to) {
            memcpy(r.to, m->to.data, GM_ID_LEN);
        }
        r.size = m->size;
        r.count = m->count;
        r.priority = m->priority;
        r.dest_kind = m->dest_kind;
        r.lifetime = m->lifetime;
        r.crl_len = m->crl.len;
        r.crl = r.crl_len > 0 ? malloc(r.crl_len) : NULL;
        err = r.crl_len > 0 && r.crl == NULL ? GM_ENOMEM : 0;
    }
    if (err == 0 && r.crl_len > 0) {
        memcpy(r.crl, m->crl.data, r.crl_len);
    }
    gmwire__mesh_request__free_unpacked(m, NULL);
    if (err == 0) {
        *out = r;
    }
    return err;
}

void gm_mesh_request_free(gm_mesh_request_t *req)
{
    free(req->crl);
    req->crl = NULL;
    req->crl_len = 0;
}

/* ---- responses ---- */

/* The generated structs of one response, pointing into the plain one. */
struct response_store {
    Gmwire__Counter counters[GM_MESH_CTL_MAX_COUNTERS], *cp[GM_MESH_CTL_MAX_COUNTERS];
    Gmwire__RouteInfo *routes, **rp;
    ProtobufCBinaryData *ids;
};

static void route_out(const gm_mesh_route_line_t *l, Gmwire__RouteInfo *m)
{
    gmwire__route_info__init(m);
    m->dest = bin(l->dest, GM_ID_LEN);
    m->callsign = (char *)l->callsign;
    m->reachable = l->reachable;
    if (l->reachable) {
        m->next_hop = bin(l->next_hop, GM_ID_LEN);
    }
    m->metric = l->metric;
    m->seq = l->seq;
    m->age_ms = l->age_ms;
}

static void response_out(const gm_mesh_response_t *r, struct response_store *st,
                         Gmwire__MeshResponse *m)
{
    gmwire__mesh_response__init(m);
    m->error = r->error;
    m->message = (char *)r->message;
    for (size_t i = 0; i < r->n_counters; i++) {
        gmwire__counter__init(&st->counters[i]);
        st->counters[i].name = (char *)r->counters[i].name;
        st->counters[i].value = r->counters[i].value;
        st->cp[i] = &st->counters[i];
    }
    m->n_counters = r->n_counters;
    m->counters = st->cp;
    m->directory = r->directory;
    for (size_t i = 0; i < r->n_routes; i++) {
        route_out(&r->routes[i], &st->routes[i]);
        st->rp[i] = &st->routes[i];
    }
    m->n_routes = r->n_routes;
    m->routes = st->rp;
    for (size_t i = 0; i < r->n_ids; i++) {
        st->ids[i] = bin(r->ids[i], GM_ID_LEN);
    }
    m->n_ids = r->n_ids;
    m->ids = st->ids;
}

int gm_wire_mesh_response_encode(const gm_mesh_response_t *r, uint8_t **out, size_t *out_len)
{
    Gmwire__MeshResponse m;
    struct response_store *st;
    int err = GM_ENOMEM;

    if (r->n_counters > GM_MESH_CTL_MAX_COUNTERS || r->n_routes > GM_MESH_CTL_MAX_ROUTES ||
        r->n_ids > GM_MESH_CTL_MAX_IDS) {
        return GM_EPROTO;
    }
    st = calloc(1, sizeof *st);
    if (st != NULL) {
        st->routes = calloc(r->n_routes + 1, sizeof *st->routes);
        st->rp = calloc(r->n_routes + 1, sizeof *st->rp);
        st->ids = calloc(r->n_ids + 1, sizeof *st->ids);
    }
    if (st != NULL && st->routes != NULL && st->rp != NULL && st->ids != NULL) {
        response_out(r, st, &m);
        *out_len = gmwire__mesh_response__get_packed_size(&m);
        *out = malloc(*out_len + 1);
        err = *out != NULL ? 0 : GM_ENOMEM;
    }
    if (err == 0) {
        gmwire__mesh_response__pack(&m, *out);
    }
    if (st != NULL) {
        free(st->routes);
        free(st->rp);
        free(st->ids);
    }
    free(st);
    return err;
}

static int route_in(gm_mesh_route_line_t *l, const Gmwire__RouteInfo *m)
{
    if (m->dest.len != GM_ID_LEN || (m->next_hop.len != 0 && m->next_hop.len != GM_ID_LEN)) {
        return GM_EPROTO;
    }
    memcpy(l->dest, m->dest.data, GM_ID_LEN);
    snprintf(l->callsign, sizeof l->callsign, "%s", m->callsign != NULL ? m->callsign : "");
    l->reachable = m->reachable;
    if (l->reachable && m->next_hop.len == GM_ID_LEN) { /* none without a route */
        memcpy(l->next_hop, m->next_hop.data, GM_ID_LEN);
    }
    l->metric = m->metric;
    l->seq = m->seq;
    l->age_ms = m->age_ms;
    return 0;
}

/* Routes and ids into r (allocated); the counters were copied by the caller. */
static int lists_in(gm_mesh_response_t *r, const Gmwire__MeshResponse *m)
{
    int err = 0;

    r->n_routes = m->n_routes < GM_MESH_CTL_MAX_ROUTES ? m->n_routes : GM_MESH_CTL_MAX_ROUTES;
    r->n_ids = m->n_ids < GM_MESH_CTL_MAX_IDS ? m->n_ids : GM_MESH_CTL_MAX_IDS;
    r->routes = calloc(r->n_routes + 1, sizeof *r->routes);
    r->ids = calloc(r->n_ids + 1, sizeof *r->ids);
    if (r->routes == NULL || r->ids == NULL) {
        return GM_ENOMEM;
    }
    for (size_t i = 0; err == 0 && i < r->n_routes; i++) {
        err = route_in(&r->routes[i], m->routes[i]);
    }
    for (size_t i = 0; err == 0 && i < r->n_ids; i++) {
        if (m->ids[i].len != GM_ID_LEN) {
            err = GM_EPROTO;
        } else {
            memcpy(r->ids[i], m->ids[i].data, GM_ID_LEN);
        }
    }
    return err;
}

int gm_wire_mesh_response_decode(const uint8_t *buf, size_t len, gm_mesh_response_t *out)
{
    Gmwire__MeshResponse *m;
    gm_mesh_response_t *r;
    int err;

    if (len > GM_CONTROL_MAX_MSG) {
        return GM_EPROTO;
    }
    r = calloc(1, sizeof *r);
    m = r != NULL ? gmwire__mesh_response__unpack(NULL, len, buf) : NULL;
    if (m == NULL) {
        free(r);
        return r == NULL ? GM_ENOMEM : GM_EPROTO;
    }
    r->error = m->error;
    snprintf(r->message, sizeof r->message, "%s", m->message != NULL ? m->message : "");
    r->n_counters =
        m->n_counters < GM_MESH_CTL_MAX_COUNTERS ? m->n_counters : GM_MESH_CTL_MAX_COUNTERS;
    for (size_t i = 0; i < r->n_counters; i++) {
        const char *name = m->counters[i]->name;
        snprintf(r->counters[i].name, sizeof r->counters[i].name, "%s", name ? name : "");
        r->counters[i].value = m->counters[i]->value;
    }
    r->directory = m->directory;
    err = lists_in(r, m);
    gmwire__mesh_response__free_unpacked(m, NULL);
    if (err == 0) {
        *out = *r;
    } else {
        gm_mesh_response_free(r);
    }
    free(r);
    return err;
}

void gm_mesh_response_free(gm_mesh_response_t *r)
{
    free(r->routes);
    free(r->ids);
    r->routes = NULL;
    r->ids = NULL;
    r->n_routes = 0;
    r->n_ids = 0;
}

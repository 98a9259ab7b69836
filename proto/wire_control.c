#include "proto/wire_control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.pb-c.h"

static ProtobufCBinaryData bin(const uint8_t *p, size_t len)
{
    ProtobufCBinaryData b = {len, (uint8_t *)p};
    return b;
}

static void request_out(const gm_control_request_t *req, Gmwire__ControlRequest *m)
{
    gmwire__control_request__init(m);
    m->op = (Gmwire__ControlOp)req->op;
    m->arg = bin(req->arg, req->arg_len);
}

size_t gm_wire_control_request_size(const gm_control_request_t *req)
{
    Gmwire__ControlRequest m;

    request_out(req, &m);
    return gmwire__control_request__get_packed_size(&m);
}

int gm_wire_control_request_encode(const gm_control_request_t *req, uint8_t *out, size_t cap,
                                   size_t *out_len)
{
    Gmwire__ControlRequest m;

    request_out(req, &m);
    if (gmwire__control_request__get_packed_size(&m) > cap) {
        return GM_ELIMIT;
    }
    *out_len = gmwire__control_request__pack(&m, out);
    return 0;
}

int gm_wire_control_request_decode(const uint8_t *buf, size_t len, gm_control_request_t *out)
{
    Gmwire__ControlRequest *m;
    gm_control_request_t r = {0};
    int err = GM_EPROTO;

    if (len > GM_CONTROL_REQUEST_MAX) {
        return GM_EPROTO;
    }
    m = gmwire__control_request__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    if (m->op == GMWIRE__CONTROL_OP__CONTROL_OP_STATUS ||
        m->op == GMWIRE__CONTROL_OP__CONTROL_OP_PEERS ||
        m->op == GMWIRE__CONTROL_OP__CONTROL_OP_MESH ||
        m->op == GMWIRE__CONTROL_OP__CONTROL_OP_MESSENGER) {
        r.op = (gm_control_op_t)m->op;
        r.arg_len = m->arg.len;
        r.arg = r.arg_len > 0 ? malloc(r.arg_len) : NULL;
        err = r.arg_len > 0 && r.arg == NULL ? GM_ENOMEM : 0;
    }
    if (err == 0 && r.arg_len > 0) {
        memcpy(r.arg, m->arg.data, r.arg_len);
    }
    gmwire__control_request__free_unpacked(m, NULL);
    if (err == 0) {
        *out = r;
    }
    return err;
}

void gm_control_request_free(gm_control_request_t *req)
{
    free(req->arg);
    req->arg = NULL;
    req->arg_len = 0;
}

/* Counters: the generated structs live in the caller's arrays. */
static void counters_out(const gm_counter_t *in, size_t n, Gmwire__Counter *store,
                         Gmwire__Counter **ptrs)
{
    for (size_t i = 0; i < n; i++) {
        gmwire__counter__init(&store[i]);
        store[i].name = (char *)in[i].name;
        store[i].value = in[i].value;
        ptrs[i] = &store[i];
    }
}

static void peer_out(const gm_peer_info_t *p, Gmwire__PeerInfo *m)
{
    gmwire__peer_info__init(m);
    m->node_id = bin(p->node_id, GM_ID_LEN);
    m->callsign = (char *)p->callsign;
    m->org = (char *)p->org;
    m->role = (char *)p->role;
    m->address = (char *)p->address;
    m->inbound = p->inbound;
    m->age_ms = p->age_ms;
    m->bytes_in = p->bytes_in;
    m->bytes_out = p->bytes_out;
    m->frames_in = p->frames_in;
    m->frames_out = p->frames_out;
    m->last_seen_ms = p->last_seen_ms;
    m->rekeys = p->rekeys;
}

struct status_store {
    Gmwire__StatusInfo m;
    Gmwire__Counter refusals[GM_CONTROL_MAX_COUNTERS], events[GM_CONTROL_MAX_COUNTERS];
    Gmwire__Counter *rp[GM_CONTROL_MAX_COUNTERS], *ep[GM_CONTROL_MAX_COUNTERS];
    char *listen[GM_CONTROL_MAX_LISTEN];
};

static void status_out(const gm_status_info_t *s, struct status_store *st)
{
    Gmwire__StatusInfo *m = &st->m;

    gmwire__status_info__init(m);
    m->node_id = bin(s->node_id, GM_ID_LEN);
    m->mesh_id = bin(s->mesh_id, sizeof s->mesh_id);
    m->callsign = (char *)s->callsign;
    m->org = (char *)s->org;
    m->role = (char *)s->role;
    m->uptime_ms = s->uptime_ms;
    for (size_t i = 0; i < s->n_listening; i++) {
        st->listen[i] = (char *)s->listening[i];
    }
    m->n_listening = s->n_listening;
    m->listening = st->listen;
    m->links = s->links;
    m->handshakes = s->handshakes;
    counters_out(s->refusals, s->n_refusals, st->refusals, st->rp);
    counters_out(s->events, s->n_events, st->events, st->ep);
    m->n_refusals = s->n_refusals;
    m->refusals = st->rp;
    m->n_events = s->n_events;
    m->events = st->ep;
}

int gm_wire_control_response_encode(const gm_control_response_t *r, uint8_t **out,
                                    size_t *out_len)
{
    Gmwire__ControlResponse m = GMWIRE__CONTROL_RESPONSE__INIT;
    struct status_store *st = calloc(1, sizeof *st);
    Gmwire__PeerInfo *peers = calloc(r->n_peers + 1, sizeof *peers);
    Gmwire__PeerInfo **pp = calloc(r->n_peers + 1, sizeof *pp);
    Gmwire__Counter refusals[GM_CONTROL_MAX_COUNTERS], *rp[GM_CONTROL_MAX_COUNTERS];
    int err = GM_ENOMEM;

    if (st != NULL && peers != NULL && pp != NULL) {
        m.error = r->error;
        m.message = (char *)r->message;
        if (r->has_status) {
            status_out(&r->status, st);
            m.status = &st->m;
        }
        for (size_t i = 0; i < r->n_peers; i++) {
            peer_out(&r->peers[i], &peers[i]);
            pp[i] = &peers[i];
        }
        m.n_peers = r->n_peers;
        m.peers = pp;
        counters_out(r->refusals, r->n_refusals, refusals, rp);
        m.n_refusals = r->n_refusals;
        m.refusals = rp;
        m.answer = bin(r->answer, r->answer_len);
        *out_len = gmwire__control_response__get_packed_size(&m);
        *out = malloc(*out_len + 1);
        err = *out != NULL ? 0 : GM_ENOMEM;
    }
    if (err == 0) {
        gmwire__control_response__pack(&m, *out);
    }
    free(st);
    free(peers);
    free(pp);
    return err;
}

static void str_in(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? src : "");
}

static size_t counters_in(gm_counter_t *dst, Gmwire__Counter **src, size_t n)
{
    size_t k = n < GM_CONTROL_MAX_COUNTERS ? n : GM_CONTROL_MAX_COUNTERS;

    for (size_t i = 0; i < k; i++) {
        str_in(dst[i].name, sizeof dst[i].name, src[i]->name);
        dst[i].value = src[i]->value;
    }
    return k;
}

static void status_in(gm_status_info_t *s, const Gmwire__StatusInfo *m)
{
    if (m->node_id.len == GM_ID_LEN) {
        memcpy(s->node_id, m->node_id.data, GM_ID_LEN);
    }
    if (m->mesh_id.len == sizeof s->mesh_id) {
        memcpy(s->mesh_id, m->mesh_id.data, sizeof s->mesh_id);
    }
    str_in(s->callsign, sizeof s->callsign, m->callsign);
    str_in(s->org, sizeof s->org, m->org);
    str_in(s->role, sizeof s->role, m->role);
    s->uptime_ms = m->uptime_ms;
    s->n_listening = m->n_listening < GM_CONTROL_MAX_LISTEN ? m->n_listening
                                                            : GM_CONTROL_MAX_LISTEN;
    for (size_t i = 0; i < s->n_listening; i++) {
        str_in(s->listening[i], sizeof s->listening[i], m->listening[i]);
    }
    s->links = m->links;
    s->handshakes = m->handshakes;
    s->n_refusals = counters_in(s->refusals, m->refusals, m->n_refusals);
    s->n_events = counters_in(s->events, m->events, m->n_events);
}

static void peer_in(gm_peer_info_t *p, const Gmwire__PeerInfo *m)
{
    if (m->node_id.len == GM_ID_LEN) {
        memcpy(p->node_id, m->node_id.data, GM_ID_LEN);
    }
    str_in(p->callsign, sizeof p->callsign, m->callsign);
    str_in(p->org, sizeof p->org, m->org);
    str_in(p->role, sizeof p->role, m->role);
    str_in(p->address, sizeof p->address, m->address);
    p->inbound = m->inbound;
    p->age_ms = m->age_ms;
    p->bytes_in = m->bytes_in;
    p->bytes_out = m->bytes_out;
    p->frames_in = m->frames_in;
    p->frames_out = m->frames_out;
    p->last_seen_ms = m->last_seen_ms;
    p->rekeys = m->rekeys;
}

int gm_wire_control_response_decode(const uint8_t *buf, size_t len, gm_control_response_t *out)
{
    Gmwire__ControlResponse *m;
    gm_control_response_t r;

    if (len > GM_CONTROL_MAX_MSG) {
        return GM_EPROTO;
    }
    m = gmwire__control_response__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    memset(&r, 0, sizeof r);
    r.error = m->error;
    str_in(r.message, sizeof r.message, m->message);
    r.has_status = m->status != NULL;
    if (r.has_status) {
        status_in(&r.status, m->status);
    }
    r.n_peers = m->n_peers < GM_CONTROL_MAX_PEERS ? m->n_peers : GM_CONTROL_MAX_PEERS;
    r.peers = calloc(r.n_peers + 1, sizeof *r.peers);
    for (size_t i = 0; r.peers != NULL && i < r.n_peers; i++) {
        peer_in(&r.peers[i], m->peers[i]);
    }
    r.n_refusals = counters_in(r.refusals, m->refusals, m->n_refusals);
    r.answer_len = m->answer.len;
    r.answer = malloc(r.answer_len + 1);
    if (r.answer != NULL && r.answer_len > 0) {
        memcpy(r.answer, m->answer.data, r.answer_len);
    }
    gmwire__control_response__free_unpacked(m, NULL);
    if (r.peers == NULL || r.answer == NULL) {
        free(r.peers);
        free(r.answer);
        return GM_ENOMEM;
    }
    *out = r;
    return 0;
}

void gm_control_response_free(gm_control_response_t *r)
{
    free(r->peers);
    r->peers = NULL;
    r->n_peers = 0;
    free(r->answer);
    r->answer = NULL;
    r->answer_len = 0;
}

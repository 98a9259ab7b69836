#include "proto/wire_link.h"

#include <stdio.h>
#include <string.h>

#include "link.pb-c.h"

#define BEACON_MAX_LEN 128

static void *arena_alloc(void *data, size_t size)
{
    gm_wire_arena_t *a = data;
    size_t at = (a->used + 15u) & ~(size_t)15u;

    if (at > a->cap || size > a->cap - at) {
        return NULL; /* protobuf-c then fails the unpack: a counted bad frame */
    }
    a->used = at + size;
    return a->buf + at;
}

static void arena_free(void *data, void *ptr)
{
    (void)data;
    (void)ptr;
}

int gm_wire_hello_encode(const gm_hello_t *h, uint8_t *out, size_t cap, size_t *out_len)
{
    Gmwire__LinkHello m = GMWIRE__LINK_HELLO__INIT;

    m.version = h->version;
    m.certificate.data = (uint8_t *)h->cert;
    m.certificate.len = h->cert_len;
    m.listen_port = h->listen_port;
    m.time = h->time;
    m.signature.data = (uint8_t *)h->signature;
    m.signature.len = GM_SIG_LEN;
    m.rekey_frames = h->rekey_frames;
    if (gmwire__link_hello__get_packed_size(&m) > cap) {
        return GM_ELIMIT;
    }
    *out_len = gmwire__link_hello__pack(&m, out);
    return 0;
}

int gm_wire_hello_decode(const uint8_t *buf, size_t len, gm_hello_t *out)
{
    Gmwire__LinkHello *m;
    int err = GM_EPROTO;

    if (len > GM_HELLO_MAX) {
        return GM_EPROTO;
    }
    m = gmwire__link_hello__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    if (m->certificate.len > 0 && m->certificate.len <= GM_CERT_MAX_LEN &&
        m->listen_port <= 65535 && m->signature.len == GM_SIG_LEN && m->rekey_frames > 0) {
        out->version = m->version;
        memcpy(out->cert, m->certificate.data, m->certificate.len);
        out->cert_len = m->certificate.len;
        out->listen_port = (uint16_t)m->listen_port;
        out->time = m->time;
        memcpy(out->signature, m->signature.data, GM_SIG_LEN);
        out->rekey_frames = m->rekey_frames;
        err = 0;
    }
    gmwire__link_hello__free_unpacked(m, NULL);
    return err;
}

/* Fills a generated LinkMsg from m; the sub-messages live in the caller's frame. */
static void to_proto(const gm_linkmsg_t *m, Gmwire__LinkMsg *p, Gmwire__Keepalive *k,
                     Gmwire__Data *d, Gmwire__Close *c)
{
    gmwire__link_msg__init(p);
    switch (m->kind) {
    case GM_LMSG_KEEPALIVE:
        gmwire__keepalive__init(k);
        k->seq = m->seq;
        p->body_case = GMWIRE__LINK_MSG__BODY_KEEPALIVE;
        p->keepalive = k;
        break;
    case GM_LMSG_DATA:
        gmwire__data__init(d);
        d->channel = m->channel;
        d->payload.data = (uint8_t *)m->payload;
        d->payload.len = m->payload_len;
        d->more = m->more;
        p->body_case = GMWIRE__LINK_MSG__BODY_DATA;
        p->data = d;
        break;
    case GM_LMSG_CLOSE:
        gmwire__close__init(c);
        c->reason = m->reason;
        c->text = (char *)m->text;
        p->body_case = GMWIRE__LINK_MSG__BODY_CLOSE;
        p->close = c;
        break;
    }
}

size_t gm_wire_linkmsg_size(const gm_linkmsg_t *m)
{
    Gmwire__LinkMsg p;
    Gmwire__Keepalive k;
    Gmwire__Data d;
    Gmwire__Close c;

    to_proto(m, &p, &k, &d, &c);
    return gmwire__link_msg__get_packed_size(&p);
}

int gm_wire_linkmsg_encode(const gm_linkmsg_t *m, uint8_t *out, size_t cap, size_t *out_len)
{
    Gmwire__LinkMsg p;
    Gmwire__Keepalive k;
    Gmwire__Data d;
    Gmwire__Close c;

    to_proto(m, &p, &k, &d, &c);
    if (gmwire__link_msg__get_packed_size(&p) > cap) {
        return GM_ELIMIT;
    }
    *out_len = gmwire__link_msg__pack(&p, out);
    return 0;
}

int gm_wire_linkmsg_decode(const uint8_t *buf, size_t len, gm_wire_arena_t *arena,
                           gm_linkmsg_t *out)
{
    ProtobufCAllocator alloc = {arena_alloc, arena_free, arena};
    Gmwire__LinkMsg *p;

    arena->used = 0;
    p = gmwire__link_msg__unpack(&alloc, len, buf);
    if (p == NULL) {
        return GM_EPROTO;
    }
    memset(out, 0, sizeof *out);
    switch (p->body_case) {
    case GMWIRE__LINK_MSG__BODY_KEEPALIVE:
        out->kind = GM_LMSG_KEEPALIVE;
        out->seq = p->keepalive->seq;
        return 0;
    case GMWIRE__LINK_MSG__BODY_DATA:
        out->kind = GM_LMSG_DATA;
        out->channel = p->data->channel;
        out->payload = p->data->payload.data;
        out->payload_len = p->data->payload.len;
        out->more = p->data->more;
        return 0;
    case GMWIRE__LINK_MSG__BODY_CLOSE:
        out->kind = GM_LMSG_CLOSE;
        out->reason = p->close->reason;
        snprintf(out->text, sizeof out->text, "%s", p->close->text ? p->close->text : "");
        return 0;
    default:
        return GM_EPROTO; /* no body, or one from a newer version */
    }
}

int gm_wire_beacon_encode(const gm_beacon_t *b, uint8_t *out, size_t cap, size_t *out_len)
{
    Gmwire__Beacon m = GMWIRE__BEACON__INIT;

    m.version = b->version;
    m.mesh_id.data = (uint8_t *)b->mesh_id;
    m.mesh_id.len = sizeof b->mesh_id;
    m.node_id.data = (uint8_t *)b->node_id;
    m.node_id.len = sizeof b->node_id;
    m.port = b->port;
    if (gmwire__beacon__get_packed_size(&m) > cap) {
        return GM_ELIMIT;
    }
    *out_len = gmwire__beacon__pack(&m, out);
    return 0;
}

int gm_wire_beacon_decode(const uint8_t *buf, size_t len, gm_beacon_t *out)
{
    Gmwire__Beacon *m;
    int err = GM_EPROTO;

    if (len > BEACON_MAX_LEN) {
        return GM_EPROTO;
    }
    m = gmwire__beacon__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    if (m->mesh_id.len == sizeof out->mesh_id && m->node_id.len == sizeof out->node_id &&
        m->port > 0 && m->port <= 65535 && m->version <= 255) {
        out->version = (uint8_t)m->version;
        memcpy(out->mesh_id, m->mesh_id.data, sizeof out->mesh_id);
        memcpy(out->node_id, m->node_id.data, sizeof out->node_id);
        out->port = (uint16_t)m->port;
        err = 0;
    }
    gmwire__beacon__free_unpacked(m, NULL);
    return err;
}

#include "proto/wire_announce.h"

#include <string.h>

#include "announce.pb-c.h"

static int check_announce(const gm_announce_t *a)
{
    if (a->cert_len == 0 || a->cert_len > GM_CERT_MAX_LEN || a->seq == 0 ||
        a->prekeys_len > GM_ANNOUNCE_PREKEYS_MAX) {
        return GM_EPROTO;
    }
    return 0;
}

int gm_wire_announce_encode(const gm_announce_t *a, uint8_t *out, size_t cap, size_t *out_len)
{
    Gmwire__Announcement m = GMWIRE__ANNOUNCEMENT__INIT;

    if (check_announce(a) != 0) {
        return GM_EPROTO;
    }
    m.certificate.data = (uint8_t *)a->cert;
    m.certificate.len = a->cert_len;
    m.seq = a->seq;
    m.time = a->time;
    m.prekeys.data = (uint8_t *)a->prekeys;
    m.prekeys.len = a->prekeys_len;
    if (gmwire__announcement__get_packed_size(&m) > cap) {
        return GM_ELIMIT;
    }
    *out_len = gmwire__announcement__pack(&m, out);
    return 0;
}

int gm_wire_announce_decode(const uint8_t *buf, size_t len, gm_announce_t *out)
{
    Gmwire__Announcement *m;
    gm_announce_t a;
    int err;

    if (len > GM_ANNOUNCE_BODY_MAX) {
        return GM_EPROTO;
    }
    m = gmwire__announcement__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    memset(&a, 0, sizeof a);
    a.cert_len = m->certificate.len;
    a.seq = m->seq;
    a.time = m->time;
    a.prekeys_len = m->prekeys.len;
    err = check_announce(&a);
    if (err == 0) {
        memcpy(a.cert, m->certificate.data, a.cert_len);
        if (a.prekeys_len > 0) {
            memcpy(a.prekeys, m->prekeys.data, a.prekeys_len);
        }
        memcpy(out, &a, sizeof a);
    }
    gmwire__announcement__free_unpacked(m, NULL);
    return err;
}

int gm_wire_announce_signed_encode(const gm_announce_signed_t *s, uint8_t *out, size_t cap,
                                   size_t *out_len)
{
    Gmwire__SignedAnnouncement m = GMWIRE__SIGNED_ANNOUNCEMENT__INIT;

    if (s->body_len == 0 || s->body_len > GM_ANNOUNCE_BODY_MAX) {
        return GM_EPROTO;
    }
    m.body.data = (uint8_t *)s->body;
    m.body.len = s->body_len;
    m.signature.data = (uint8_t *)s->signature;
    m.signature.len = GM_SIG_LEN;
    if (gmwire__signed_announcement__get_packed_size(&m) > cap) {
        return GM_ELIMIT;
    }
    *out_len = gmwire__signed_announcement__pack(&m, out);
    return 0;
}

int gm_wire_announce_signed_decode(const uint8_t *buf, size_t len, gm_announce_signed_t *out)
{
    Gmwire__SignedAnnouncement *m;
    int err = GM_EPROTO;

    if (len > GM_ANNOUNCE_SIGNED_MAX) {
        return GM_EPROTO;
    }
    m = gmwire__signed_announcement__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    if (m->body.len > 0 && m->body.len <= GM_ANNOUNCE_BODY_MAX && m->signature.len == GM_SIG_LEN) {
        memcpy(out->body, m->body.data, m->body.len);
        out->body_len = m->body.len;
        memcpy(out->signature, m->signature.data, GM_SIG_LEN);
        err = 0;
    }
    gmwire__signed_announcement__free_unpacked(m, NULL);
    return err;
}

int gm_wire_route_update_encode(const gm_route_update_t *u, uint8_t *out, size_t cap,
                                size_t *out_len)
{
    Gmwire__RouteUpdate m = GMWIRE__ROUTE_UPDATE__INIT;

    if (u->announcement_len > GM_ANNOUNCE_SIGNED_MAX || (u->announcement_len == 0 && u->seq == 0)) {
        return GM_EPROTO;
    }
    if (u->announcement_len > 0) {
        m.announcement.data = (uint8_t *)u->announcement;
        m.announcement.len = u->announcement_len;
    } else {
        m.origin.data = (uint8_t *)u->origin;
        m.origin.len = GM_ID_LEN;
        m.seq = u->seq;
    }
    m.metric = u->metric;
    if (gmwire__route_update__get_packed_size(&m) > cap) {
        return GM_ELIMIT;
    }
    *out_len = gmwire__route_update__pack(&m, out);
    return 0;
}

int gm_wire_route_update_decode(const uint8_t *buf, size_t len, gm_route_update_t *out)
{
    Gmwire__RouteUpdate *m;
    int err = GM_EPROTO;

    if (len > GM_ROUTE_UPDATE_MAX) {
        return GM_EPROTO;
    }
    m = gmwire__route_update__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    if (m->announcement.len > 0 && m->announcement.len <= GM_ANNOUNCE_SIGNED_MAX &&
        m->origin.len == 0 && m->seq == 0) {
        memcpy(out->announcement, m->announcement.data, m->announcement.len);
        out->announcement_len = m->announcement.len;
        out->metric = m->metric;
        memset(out->origin, 0, GM_ID_LEN);
        out->seq = 0;
        err = 0;
    } else if (m->announcement.len == 0 && m->origin.len == GM_ID_LEN && m->seq != 0) {
        out->announcement_len = 0; /* short */
        memcpy(out->origin, m->origin.data, GM_ID_LEN);
        out->seq = m->seq;
        out->metric = m->metric;
        err = 0;
    }
    gmwire__route_update__free_unpacked(m, NULL);
    return err;
}

#include "proto/wire_mesh.h"

#include <stdlib.h>
#include <string.h>

#include "mesh.pb-c.h"

size_t gm_wire_ack_size(size_t n)
{
    return n * (2 + GM_ID_LEN); /* tag, length, 16 bytes each */
}

int gm_wire_ack_encode(const uint8_t (*ids)[GM_ID_LEN], size_t n, uint8_t *out, size_t cap,
                       size_t *out_len)
{
    if (n > GM_ACK_MAX_IDS || gm_wire_ack_size(n) > cap) {
        return GM_ELIMIT;
    }
    /* field 1, wire type 2, length 16: written by hand, it is that simple */
    for (size_t i = 0; i < n; i++) {
        out[i * 18] = 0x0a;
        out[i * 18 + 1] = GM_ID_LEN;
        memcpy(out + i * 18 + 2, ids[i], GM_ID_LEN);
    }
    *out_len = gm_wire_ack_size(n);
    return 0;
}

int gm_wire_ack_decode(const uint8_t *buf, size_t len, uint8_t (*out)[GM_ID_LEN], size_t *n)
{
    Gmwire__CustodyAck *m;
    int err = GM_EPROTO;

    if (len > gm_wire_ack_size(GM_ACK_MAX_IDS)) {
        return GM_EPROTO;
    }
    m = gmwire__custody_ack__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    if (m->n_ids <= GM_ACK_MAX_IDS) {
        err = 0;
        for (size_t i = 0; i < m->n_ids && err == 0; i++) {
            if (m->ids[i].len != GM_ID_LEN) {
                err = GM_EPROTO;
            } else {
                memcpy(out[i], m->ids[i].data, GM_ID_LEN);
            }
        }
        *n = err == 0 ? m->n_ids : 0;
    }
    gmwire__custody_ack__free_unpacked(m, NULL);
    return err;
}

static void sync_to_proto(const gm_sync_filter_t *f, Gmwire__SyncFilter *m)
{
    gmwire__sync_filter__init(m);
    m->hashes = f->hashes;
    m->seed.data = (uint8_t *)f->seed;
    m->seed.len = sizeof f->seed;
    m->bits.data = f->bits;
    m->bits.len = f->bits_len;
    m->count = f->count;
}

size_t gm_wire_sync_size(const gm_sync_filter_t *f)
{
    Gmwire__SyncFilter m;

    sync_to_proto(f, &m);
    return gmwire__sync_filter__get_packed_size(&m);
}

int gm_wire_sync_encode(const gm_sync_filter_t *f, uint8_t *out, size_t cap, size_t *out_len)
{
    Gmwire__SyncFilter m;

    sync_to_proto(f, &m);
    if (gmwire__sync_filter__get_packed_size(&m) > cap) {
        return GM_ELIMIT;
    }
    *out_len = gmwire__sync_filter__pack(&m, out);
    return 0;
}

int gm_wire_sync_decode(const uint8_t *buf, size_t len, gm_sync_filter_t *out)
{
    Gmwire__SyncFilter *m;
    int err = GM_EPROTO;

    if (len > GM_SYNC_MAX_BITS_BYTES + 64) {
        return GM_EPROTO;
    }
    m = gmwire__sync_filter__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    if (m->hashes >= 1 && m->hashes <= GM_SYNC_MAX_HASHES && m->seed.len == 16 &&
        m->bits.len >= 1 && m->bits.len <= GM_SYNC_MAX_BITS_BYTES) {
        out->bits = malloc(m->bits.len);
        err = out->bits == NULL ? GM_ENOMEM : 0;
    }
    if (err == 0) {
        out->hashes = m->hashes;
        memcpy(out->seed, m->seed.data, 16);
        memcpy(out->bits, m->bits.data, m->bits.len);
        out->bits_len = m->bits.len;
        out->count = m->count;
    }
    gmwire__sync_filter__free_unpacked(m, NULL);
    return err;
}

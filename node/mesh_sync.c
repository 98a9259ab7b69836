/*
 * Anti-entropy. When a link comes up each side sends a Bloom filter of the
 * bundle ids it holds (about 10 bits per id for a 1% false-positive rate,
 * capped at GM_SYNC_MAX_BITS_BYTES, so the bytes per sync stay bounded when
 * stores are large). The receiver walks its own held ids in order and pushes
 * each bundle the filter lacks that is a flood, or that routes through the
 * sender. A push the link refuses (its queue is full) stops the walk, which
 * resumes from that id when the link drains.
 *
 * A false positive only means one bundle is not pushed by this sync; floods
 * reach a node by other links too, and unicast bundles move by routing anyway.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "node/mesh_internal.h"
#include "proto/wire_mesh.h"

#define SYNC_HASHES 7          /* probes per id: optimal for 10 bits per id */
#define SYNC_BITS_PER_ID 10
#define SYNC_PAGE 1024         /* ids read from the store at a time */

struct gm_sync {
    struct gm_sync *next;
    uint8_t peer[GM_ID_LEN];
    gm_sync_filter_t filter;
    uint8_t cursor[GM_ID_LEN]; /* the last id walked */
    bool started;
};

/* Bit positions of id in a filter of nbits: double hashing over SipHash-2-4 (128-bit). */
static bool probe(const gm_sync_filter_t *f, const uint8_t id[GM_ID_LEN], uint8_t *set_bits)
{
    uint8_t h[crypto_shorthash_siphashx24_BYTES];
    uint64_t h1, h2, nbits = (uint64_t)f->bits_len * 8;

    crypto_shorthash_siphashx24(h, id, GM_ID_LEN, f->seed);
    memcpy(&h1, h, 8);
    memcpy(&h2, h + 8, 8);
    h2 |= 1; /* odd: the probes cover the filter */
    for (uint32_t i = 0; i < f->hashes; i++) {
        uint64_t bit = (h1 + i * h2) % nbits;
        if (set_bits != NULL) {
            set_bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
        } else if ((f->bits[bit / 8] & (1u << (bit % 8))) == 0) {
            return false;
        }
    }
    return true;
}

void gm__mesh_sync_start(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN])
{
    gm_store_stats_t st;
    gm_sync_filter_t f;
    uint8_t(*ids)[GM_ID_LEN] = malloc(SYNC_PAGE * GM_ID_LEN);
    size_t n, len;
    const uint8_t *after = NULL;

    gm_store_stats(m->store, &st);
    f.hashes = SYNC_HASHES;
    f.count = (uint32_t)st.bundles;
    f.bits_len = (size_t)(st.bundles * SYNC_BITS_PER_ID + 7) / 8;
    f.bits_len = f.bits_len < 64 ? 64 : f.bits_len > GM_SYNC_MAX_BITS_BYTES
                                            ? GM_SYNC_MAX_BITS_BYTES : f.bits_len;
    f.bits = calloc(1, f.bits_len);
    randombytes_buf(f.seed, sizeof f.seed); /* a fresh seed: other false positives next time */
    if (ids == NULL || f.bits == NULL) {
        gm_node_log(m->node, GM_LOG_WARN, "mesh: out of memory for an anti-entropy filter");
        goto out;
    }
    do {
        if (gm_store_ids(m->store, after, SYNC_PAGE, ids, &n) != 0) {
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            (void)probe(&f, ids[i], f.bits);
        }
        after = n > 0 ? ids[n - 1] : NULL;
    } while (n == SYNC_PAGE);
    if (gm_wire_sync_encode(&f, m->frame, GM_MESH_FRAME_MAX, &len) == 0 &&
        gm_node_send(m->node, peer, GM_CH_SYNC, m->frame, len) == 0) {
        m->stats.sync_filters_sent++;
        m->stats.sync_bytes_sent += len;
    }
out:
    free(f.bits);
    free(ids);
}

static void sync_drop(gm_mesh_t *m, struct gm_sync *s)
{
    for (struct gm_sync **p = &m->syncs; *p != NULL; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    free(s->filter.bits);
    free(s);
}

struct push_ctx {
    gm_mesh_t *m;
    const uint8_t *peer;
    bool refused;
};

static int push_one(void *ctx, const gm_bundle_t *b, const uint8_t *data, size_t len)
{
    struct push_ctx *p = ctx;
    uint8_t hop[GM_ID_LEN];

    (void)data;
    (void)len;
    if (gm__mesh_is_flood(b) ||
        (gm__mesh_next_hop(p->m, b->dst.id, hop) && memcmp(hop, p->peer, GM_ID_LEN) == 0)) {
        int err = gm__mesh_transmit(p->m, b, p->peer);
        if (err == 0) {
            p->m->stats.sync_pushed++;
        } else if (err == UV_EAGAIN) {
            p->refused = true; /* a full queue: resume here when it drains */
        } /* else it can never go (its hop limit): the walk moves past it */
    }
    return 0;
}

/* Walks on from the cursor; the sync ends when every held id was looked at. */
static void sync_run(gm_mesh_t *m, struct gm_sync *s)
{
    uint8_t(*ids)[GM_ID_LEN] = malloc(SYNC_PAGE * GM_ID_LEN);
    struct push_ctx p = {m, s->peer, false};
    size_t n = 0;

    if (ids == NULL) {
        sync_drop(m, s);
        return;
    }
    do {
        if (gm_store_ids(m->store, s->started ? s->cursor : NULL, SYNC_PAGE, ids, &n) != 0) {
            n = 0;
            break;
        }
        for (size_t i = 0; i < n && !p.refused; i++) {
            if (!probe(&s->filter, ids[i], NULL)) {
                int err = gm_store_get(m->store, ids[i], push_one, &p);
                if (err != 0 && err != GM_ENOENT) { /* GM_ENOENT: it left meanwhile */
                    gm_node_log(m->node, GM_LOG_WARN, "mesh: store read failed: %s",
                                gm_store_strerror(err));
                }
            }
            if (!p.refused) { /* a refused id is tried again when the link drains */
                memcpy(s->cursor, ids[i], GM_ID_LEN);
                s->started = true;
            }
        }
    } while (n == SYNC_PAGE && !p.refused);
    free(ids);
    if (p.refused) {
        m->blocked = true;
    } else {
        sync_drop(m, s);
    }
}

/*
 * One filter per link and per half sync interval: a neighbour cannot make this
 * node walk its store again and again.
 */
static bool filter_allowed(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN])
{
    uint64_t now = gm_node_now_ms(m->node);

    for (size_t i = 0; i < m->n_synced; i++) {
        if (memcmp(m->synced[i].peer, peer, GM_ID_LEN) == 0) {
            if (now - m->synced[i].t_ms < m->cfg->sync_interval_ms / 2) {
                return false;
            }
            m->synced[i].t_ms = now;
            return true;
        }
    }
    if (m->n_synced < GM_MESH_MAX_SYNCED) {
        memcpy(m->synced[m->n_synced].peer, peer, GM_ID_LEN);
        m->synced[m->n_synced++].t_ms = now;
    }
    return true;
}

/* Every sync_interval_ms each link syncs again with a fresh filter key: what a false
 * positive kept from a neighbour reaches it then. */
static void sync_peer(void *ctx, const uint8_t peer[GM_ID_LEN])
{
    gm__mesh_sync_start(ctx, peer);
}

void gm__mesh_sync_tick(gm_mesh_t *m)
{
    uint64_t now = gm_node_now_ms(m->node);

    if (now - m->t_sync >= m->cfg->sync_interval_ms) {
        m->t_sync = now;
        gm_node_each_peer(m->node, sync_peer, m);
    }
}

void gm__mesh_on_sync(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN], const uint8_t *data,
                      size_t len)
{
    struct gm_sync *s;

    if (!filter_allowed(m, peer)) {
        m->stats.dropped[GM_MDROP_MALFORMED]++;
        return;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL || gm_wire_sync_decode(data, len, &s->filter) != 0) {
        free(s);
        m->stats.dropped[GM_MDROP_MALFORMED]++;
        return;
    }
    memcpy(s->peer, peer, GM_ID_LEN);
    s->next = m->syncs;
    m->syncs = s;
    sync_run(m, s);
}

void gm__mesh_sync_resume(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN])
{
    for (struct gm_sync *s = m->syncs; s != NULL; s = s->next) {
        if (memcmp(s->peer, peer, GM_ID_LEN) == 0) {
            sync_run(m, s);
            return;
        }
    }
}

void gm__mesh_sync_forget(gm_mesh_t *m, const uint8_t peer[GM_ID_LEN])
{
    for (size_t i = 0; i < m->n_synced; i++) { /* its next link may send a filter again */
        if (memcmp(m->synced[i].peer, peer, GM_ID_LEN) == 0) {
            m->synced[i] = m->synced[--m->n_synced];
            break;
        }
    }
    for (struct gm_sync *s = m->syncs; s != NULL; s = s->next) {
        if (memcmp(s->peer, peer, GM_ID_LEN) == 0) {
            sync_drop(m, s);
            return;
        }
    }
}

void gm__mesh_sync_free(gm_mesh_t *m)
{
    while (m->syncs != NULL) {
        sync_drop(m, m->syncs);
    }
}

#include "node/mesh_inflight.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/common.h"

static size_t home(const gm_inflight_t *t, const uint8_t id[GM_ID_LEN])
{
    uint64_t h;

    memcpy(&h, id, sizeof h); /* random bytes: already a hash */
    return (size_t)h & (t->cap - 1);
}

void gm_inflight_init(gm_inflight_t *t)
{
    memset(t, 0, sizeof *t);
}

void gm_inflight_free(gm_inflight_t *t)
{
    free(t->slots);
    memset(t, 0, sizeof *t);
}

gm_inflight_entry_t *gm_inflight_find(const gm_inflight_t *t, const uint8_t id[GM_ID_LEN])
{
    if (t->cap == 0) {
        return NULL;
    }
    for (size_t i = home(t, id);; i = (i + 1) & (t->cap - 1)) {
        gm_inflight_entry_t *e = &t->slots[i];
        if (!e->used) {
            return NULL;
        }
        if (memcmp(e->id, id, GM_ID_LEN) == 0) {
            return e;
        }
    }
}

static int grow(gm_inflight_t *t)
{
    gm_inflight_t bigger = {calloc(t->cap ? t->cap * 2 : 64, sizeof *t->slots), 0, 0};

    if (bigger.slots == NULL) {
        return GM_ENOMEM;
    }
    bigger.cap = t->cap ? t->cap * 2 : 64;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].used) {
            (void)gm_inflight_put(&bigger, t->slots[i].id, t->slots[i].hop, t->slots[i].t_ms,
                                  t->slots[i].own);
        }
    }
    free(t->slots);
    *t = bigger;
    return 0;
}

int gm_inflight_put(gm_inflight_t *t, const uint8_t id[GM_ID_LEN], const uint8_t hop[GM_ID_LEN],
                    uint64_t t_ms, bool own)
{
    gm_inflight_entry_t *e = gm_inflight_find(t, id);

    if (e == NULL) {
        if ((t->n + 1) * 2 > t->cap && grow(t) != 0) { /* load factor at most 1/2 */
            return GM_ENOMEM;
        }
        size_t i = home(t, id);
        while (t->slots[i].used) {
            i = (i + 1) & (t->cap - 1);
        }
        e = &t->slots[i];
        e->used = true;
        memcpy(e->id, id, GM_ID_LEN);
        t->n++;
    }
    memcpy(e->hop, hop, GM_ID_LEN);
    e->t_ms = t_ms;
    e->own = own;
    return 0;
}

/* Backward-shift deletion: later entries of the probe run move into the hole. */
static void remove_at(gm_inflight_t *t, size_t hole)
{
    size_t i = hole;

    t->slots[hole].used = false;
    t->n--;
    for (;;) {
        i = (i + 1) & (t->cap - 1);
        if (!t->slots[i].used) {
            return;
        }
        size_t want = home(t, t->slots[i].id);
        /* the entry may fill the hole if its home is not in (hole, i] cyclically */
        bool stays = hole <= i ? (want > hole && want <= i) : (want > hole || want <= i);
        if (!stays) {
            t->slots[hole] = t->slots[i];
            t->slots[i].used = false;
            hole = i;
        }
    }
}

void gm_inflight_del(gm_inflight_t *t, const uint8_t id[GM_ID_LEN])
{
    gm_inflight_entry_t *e = gm_inflight_find(t, id);

    if (e != NULL) {
        remove_at(t, (size_t)(e - t->slots));
    }
}

void gm_inflight_drop_hop(gm_inflight_t *t, const uint8_t hop[GM_ID_LEN])
{
    size_t i = 0;

    while (i < t->cap) {
        if (t->slots[i].used && memcmp(t->slots[i].hop, hop, GM_ID_LEN) == 0) {
            remove_at(t, i); /* may shift a later entry into i: look at i again */
        } else {
            i++;
        }
    }
}

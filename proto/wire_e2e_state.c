#include "proto/wire_e2e_state.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_state.pb-c.h"

static ProtobufCBinaryData bin(const uint8_t *p, size_t len)
{
    ProtobufCBinaryData b = {len, (uint8_t *)p};
    return b;
}

/* An optional key: empty when absent. */
static ProtobufCBinaryData opt_key(bool has, const uint8_t *p, size_t len)
{
    return has ? bin(p, len) : bin(NULL, 0);
}

/* Packs m into a new buffer, refusing what the decoder would refuse as too long. */
static int pack(const ProtobufCMessage *m, size_t max_len, uint8_t **out, size_t *out_len)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf;

    if (len > max_len) {
        return GM_EPROTO;
    }
    buf = malloc(len > 0 ? len : 1);
    if (buf == NULL) {
        return GM_ENOMEM;
    }
    protobuf_c_message_pack(m, buf);
    *out = buf;
    *out_len = len;
    return 0;
}

/* Copies a bytes field that must have exactly len bytes. */
static bool take_fixed(uint8_t *dst, const ProtobufCBinaryData *src, size_t len)
{
    if (src->len != len) {
        return false;
    }
    memcpy(dst, src->data, len);
    return true;
}

/* A bytes field that is either empty (*has false) or exactly len bytes. */
static bool take_optional(uint8_t *dst, bool *has, const ProtobufCBinaryData *src, size_t len)
{
    *has = src->len > 0;
    return !*has || take_fixed(dst, src, len);
}

/* protobuf-c copied the keys into its own buffers: wipe them before it frees them. */
static void wipe_bin(ProtobufCBinaryData *b)
{
    if (b->len > 0) {
        sodium_memzero(b->data, b->len);
    }
}

static void free_entries(void *items, size_t n, size_t size)
{
    if (items != NULL) {
        sodium_memzero(items, n * size);
        free(items);
    }
}

/* ---- RatchetState ---- */

static bool dr_in_bounds(const gm_dr_state_t *s)
{
    return s->ad_len <= GM_DR_AD_MAX && s->n_skipped <= GM_DR_MAX_SKIPPED &&
           s->n_prev_dhr <= GM_DR_PREV_CHAINS && (!s->has_ckr || s->has_dhr);
}

static void put_dr_fields(Gmwire__RatchetState *m, const gm_dr_state_t *s,
                          ProtobufCBinaryData prev[GM_DR_PREV_CHAINS])
{
    m->version = GM_E2E_STATE_VERSION;
    m->complete = true;
    m->rk = bin(s->rk, GM_DR_KEY_LEN);
    m->dhs_sk = bin(s->dhs_sk, GM_DR_KEY_LEN);
    m->dhs_pk = bin(s->dhs_pk, GM_DR_KEY_LEN);
    m->dhr = opt_key(s->has_dhr, s->dhr, GM_DR_KEY_LEN);
    m->cks = opt_key(s->has_cks, s->cks, GM_DR_KEY_LEN);
    m->ckr = opt_key(s->has_ckr, s->ckr, GM_DR_KEY_LEN);
    m->ns = s->ns;
    m->nr = s->nr;
    m->pn = s->pn;
    m->ad = bin(s->ad, s->ad_len);
    for (size_t i = 0; i < s->n_prev_dhr; i++) {
        prev[i] = bin(s->prev_dhr[i], GM_DR_KEY_LEN);
    }
    m->n_prev_dhr = s->n_prev_dhr;
    m->prev_dhr = prev;
}

int gm_wire_dr_state_encode(const gm_dr_state_t *s, uint8_t **out, size_t *out_len)
{
    static const Gmwire__SkippedMessageKey key_init = GMWIRE__SKIPPED_MESSAGE_KEY__INIT;
    Gmwire__RatchetState m = GMWIRE__RATCHET_STATE__INIT;
    ProtobufCBinaryData prev[GM_DR_PREV_CHAINS];
    Gmwire__SkippedMessageKey *keys, **key_ptrs;
    int err = GM_ENOMEM;

    if (!dr_in_bounds(s)) {
        return GM_EPROTO;
    }
    keys = calloc(s->n_skipped + 1, sizeof *keys);
    key_ptrs = calloc(s->n_skipped + 1, sizeof *key_ptrs);
    if (keys != NULL && key_ptrs != NULL) {
        put_dr_fields(&m, s, prev);
        for (size_t i = 0; i < s->n_skipped; i++) {
            keys[i] = key_init;
            keys[i].dh = bin(s->skipped[i].dh, GM_DR_KEY_LEN);
            keys[i].n = s->skipped[i].n;
            keys[i].mk = bin(s->skipped[i].mk, GM_DR_KEY_LEN);
            keys[i].expires = s->skipped[i].expires;
            key_ptrs[i] = &keys[i];
        }
        m.n_skipped = s->n_skipped;
        m.skipped = key_ptrs;
        err = pack(&m.base, GM_DR_STATE_MAX_LEN, out, out_len);
    }
    /* Only pointers into s: no key bytes to wipe. */
    free(keys);
    free(key_ptrs);
    return err;
}

static bool take_dr_fields(gm_dr_state_t *s, const Gmwire__RatchetState *m)
{
    if (m->version != GM_E2E_STATE_VERSION || !m->complete ||
        !take_fixed(s->rk, &m->rk, GM_DR_KEY_LEN) ||
        !take_fixed(s->dhs_sk, &m->dhs_sk, GM_DR_KEY_LEN) ||
        !take_fixed(s->dhs_pk, &m->dhs_pk, GM_DR_KEY_LEN) ||
        !take_optional(s->dhr, &s->has_dhr, &m->dhr, GM_DR_KEY_LEN) ||
        !take_optional(s->cks, &s->has_cks, &m->cks, GM_DR_KEY_LEN) ||
        !take_optional(s->ckr, &s->has_ckr, &m->ckr, GM_DR_KEY_LEN) || m->ad.len > GM_DR_AD_MAX ||
        m->n_prev_dhr > GM_DR_PREV_CHAINS) {
        return false;
    }
    s->ns = m->ns;
    s->nr = m->nr;
    s->pn = m->pn;
    if (m->ad.len > 0) {
        memcpy(s->ad, m->ad.data, m->ad.len);
    }
    s->ad_len = m->ad.len;
    for (size_t i = 0; i < m->n_prev_dhr; i++) {
        if (!take_fixed(s->prev_dhr[i], &m->prev_dhr[i], GM_DR_KEY_LEN)) {
            return false;
        }
    }
    s->n_prev_dhr = m->n_prev_dhr;
    return dr_in_bounds(s);
}

static int take_dr_skipped(gm_dr_state_t *s, const Gmwire__RatchetState *m)
{
    if (m->n_skipped > GM_DR_MAX_SKIPPED) {
        return GM_EPROTO;
    }
    if (m->n_skipped == 0) {
        return 0;
    }
    s->skipped = calloc(m->n_skipped, sizeof *s->skipped);
    if (s->skipped == NULL) {
        return GM_ENOMEM;
    }
    s->n_skipped = m->n_skipped; /* so that a failure below wipes every entry */
    for (size_t i = 0; i < m->n_skipped; i++) {
        const Gmwire__SkippedMessageKey *k = m->skipped[i];
        gm_dr_skipped_t *d = &s->skipped[i];

        if (!take_fixed(d->dh, &k->dh, GM_DR_KEY_LEN) ||
            !take_fixed(d->mk, &k->mk, GM_DR_KEY_LEN)) {
            return GM_EPROTO;
        }
        d->n = k->n;
        d->expires = k->expires;
    }
    return 0;
}

static void wipe_dr_message(Gmwire__RatchetState *m)
{
    wipe_bin(&m->rk);
    wipe_bin(&m->dhs_sk);
    wipe_bin(&m->cks);
    wipe_bin(&m->ckr);
    for (size_t i = 0; i < m->n_skipped; i++) {
        wipe_bin(&m->skipped[i]->mk);
    }
}

int gm_wire_dr_state_decode(const uint8_t *buf, size_t len, gm_dr_state_t *out)
{
    Gmwire__RatchetState *m;
    gm_dr_state_t s;
    int err;

    if (len > GM_DR_STATE_MAX_LEN) {
        return GM_EPROTO;
    }
    m = gmwire__ratchet_state__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    memset(&s, 0, sizeof s);
    err = take_dr_fields(&s, m) ? 0 : GM_EPROTO;
    err = err ? err : take_dr_skipped(&s, m);
    wipe_dr_message(m);
    gmwire__ratchet_state__free_unpacked(m, NULL);
    if (err == 0) {
        *out = s;
    } else {
        free_entries(s.skipped, s.n_skipped, sizeof *s.skipped);
    }
    sodium_memzero(&s, sizeof s);
    return err;
}

/* ---- SenderKeyState ---- */

static bool sk_in_bounds(const gm_sk_state_t *s)
{
    return s->n_skipped <= GM_SK_MAX_SKIPPED && (!s->own || s->n_skipped == 0);
}

int gm_wire_sk_state_encode(const gm_sk_state_t *s, uint8_t **out, size_t *out_len)
{
    static const Gmwire__SkippedSenderSeed seed_init = GMWIRE__SKIPPED_SENDER_SEED__INIT;
    Gmwire__SenderKeyState m = GMWIRE__SENDER_KEY_STATE__INIT;
    Gmwire__SkippedSenderSeed *seeds, **seed_ptrs;
    int err = GM_ENOMEM;

    if (!sk_in_bounds(s)) {
        return GM_EPROTO;
    }
    seeds = calloc(s->n_skipped + 1, sizeof *seeds);
    seed_ptrs = calloc(s->n_skipped + 1, sizeof *seed_ptrs);
    if (seeds != NULL && seed_ptrs != NULL) {
        m.version = GM_E2E_STATE_VERSION;
        m.complete = true;
        m.group_id = bin(s->group_id, GM_SK_GROUP_LEN);
        m.key_id = s->key_id;
        m.iteration = s->iteration;
        m.chain_key = bin(s->chain_key, GM_SK_KEY_LEN);
        m.sign_pk = bin(s->sign_pk, GM_SK_KEY_LEN);
        m.sign_seed = opt_key(s->own, s->sign_seed, GM_SK_KEY_LEN);
        for (size_t i = 0; i < s->n_skipped; i++) {
            seeds[i] = seed_init;
            seeds[i].iteration = s->skipped[i].iteration;
            seeds[i].seed = bin(s->skipped[i].seed, GM_SK_KEY_LEN);
            seeds[i].expires = s->skipped[i].expires;
            seed_ptrs[i] = &seeds[i];
        }
        m.n_skipped = s->n_skipped;
        m.skipped = seed_ptrs;
        err = pack(&m.base, GM_SK_STATE_MAX_LEN, out, out_len);
    }
    free(seeds);
    free(seed_ptrs);
    return err;
}

static int take_sk_fields(gm_sk_state_t *s, const Gmwire__SenderKeyState *m)
{
    if (m->version != GM_E2E_STATE_VERSION || !m->complete ||
        !take_fixed(s->group_id, &m->group_id, GM_SK_GROUP_LEN) ||
        !take_fixed(s->chain_key, &m->chain_key, GM_SK_KEY_LEN) ||
        !take_fixed(s->sign_pk, &m->sign_pk, GM_SK_KEY_LEN) ||
        !take_optional(s->sign_seed, &s->own, &m->sign_seed, GM_SK_KEY_LEN) ||
        m->n_skipped > GM_SK_MAX_SKIPPED || (s->own && m->n_skipped > 0)) {
        return GM_EPROTO;
    }
    s->key_id = m->key_id;
    s->iteration = m->iteration;
    if (m->n_skipped == 0) {
        return 0;
    }
    s->skipped = calloc(m->n_skipped, sizeof *s->skipped);
    if (s->skipped == NULL) {
        return GM_ENOMEM;
    }
    s->n_skipped = m->n_skipped; /* so that a failure below wipes every entry */
    for (size_t i = 0; i < m->n_skipped; i++) {
        const Gmwire__SkippedSenderSeed *k = m->skipped[i];

        if (!take_fixed(s->skipped[i].seed, &k->seed, GM_SK_KEY_LEN)) {
            return GM_EPROTO;
        }
        s->skipped[i].iteration = k->iteration;
        s->skipped[i].expires = k->expires;
    }
    return 0;
}

static void wipe_sk_message(Gmwire__SenderKeyState *m)
{
    wipe_bin(&m->chain_key);
    wipe_bin(&m->sign_seed);
    for (size_t i = 0; i < m->n_skipped; i++) {
        wipe_bin(&m->skipped[i]->seed);
    }
}

int gm_wire_sk_state_decode(const uint8_t *buf, size_t len, gm_sk_state_t *out)
{
    Gmwire__SenderKeyState *m;
    gm_sk_state_t s;
    int err;

    if (len > GM_SK_STATE_MAX_LEN) {
        return GM_EPROTO;
    }
    m = gmwire__sender_key_state__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    memset(&s, 0, sizeof s);
    err = take_sk_fields(&s, m);
    wipe_sk_message(m);
    gmwire__sender_key_state__free_unpacked(m, NULL);
    if (err == 0) {
        *out = s;
    } else {
        free_entries(s.skipped, s.n_skipped, sizeof *s.skipped);
    }
    sodium_memzero(&s, sizeof s);
    return err;
}

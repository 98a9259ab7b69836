/* proto/wire_e2e.h: shared helpers, the signed prekey, its announcement and the Envelope. */
#include "proto/wire_e2e.h"

#include <math.h>
#include <sodium.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.pb-c.h"
#include "proto/wire_e2e_internal.h"

/* ---- shared helpers ---- */

/* Each block starts with its size; the union keeps the block itself maximally aligned. */
typedef union {
    size_t size;
    max_align_t align;
} wipe_header_t;

static void *wiping_alloc(void *data, size_t size)
{
    wipe_header_t *h;

    (void)data;
    if (size > SIZE_MAX - sizeof *h) {
        return NULL;
    }
    h = malloc(sizeof *h + size);
    if (h == NULL) {
        return NULL;
    }
    h->size = size;
    return h + 1;
}

static void wiping_free(void *data, void *ptr)
{
    wipe_header_t *h;

    (void)data;
    if (ptr == NULL) {
        return;
    }
    h = (wipe_header_t *)ptr - 1;
    sodium_memzero(ptr, h->size);
    free(h);
}

ProtobufCAllocator gm__wire_wiping_allocator(void)
{
    ProtobufCAllocator a = {wiping_alloc, wiping_free, NULL};
    return a;
}

/* Decodes one multi-byte sequence at s[0] (a lead byte >= 0x80); its length, 0 if malformed. */
static size_t utf8_sequence(const uint8_t *s, size_t avail)
{
    static const uint32_t min_of[4] = {0, 0x80, 0x800, 0x10000}; /* by continuation count */
    size_t more;
    uint32_t cp;

    if ((s[0] & 0xe0u) == 0xc0u) {
        more = 1;
    } else if ((s[0] & 0xf0u) == 0xe0u) {
        more = 2;
    } else if ((s[0] & 0xf8u) == 0xf0u) {
        more = 3;
    } else {
        return 0; /* a continuation byte, or 0xf8 .. 0xff */
    }
    if (more >= avail) {
        return 0; /* cut short */
    }
    cp = s[0] & (0x3fu >> more);
    for (size_t i = 1; i <= more; i++) {
        if ((s[i] & 0xc0u) != 0x80u) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min_of[more] || cp > 0x10ffffu || (cp >= 0xd800u && cp <= 0xdfffu)) {
        return 0; /* overlong, out of Unicode, or a surrogate */
    }
    return more + 1;
}

bool gm__wire_utf8_is_valid(const uint8_t *s, size_t len)
{
    size_t at = 0;

    while (at < len) {
        size_t n = s[at] < 0x80u ? 1 : utf8_sequence(s + at, len - at);

        if (n == 0) {
            return false;
        }
        at += n;
    }
    return true;
}

bool gm__wire_text_is_valid(const char *s, size_t max)
{
    size_t len;

    if (s == NULL) {
        return true;
    }
    len = strnlen(s, max + 1);
    return len <= max && gm__wire_utf8_is_valid((const uint8_t *)s, len);
}

bool gm__wire_position_is_valid(double lat, double lon, float accuracy)
{
    /* Written so that NaN, failing every comparison, is out of range. */
    return lat >= -90.0 && lat <= 90.0 && lon >= -180.0 && lon <= 180.0 && isfinite(accuracy) &&
           accuracy >= 0.0f;
}

/* len bytes at p, min .. max of them: the checks every variable-length field gets. */
static bool bytes_ok(const uint8_t *p, size_t len, size_t min, size_t max)
{
    return len >= min && len <= max && p != NULL;
}

/* ---- SignedPrekey ---- */

static int check_spk(const gm_spk_t *s)
{
    return s->expires > s->created ? 0 : GM_EPROTO;
}

int gm_wire_spk_encode(const gm_spk_t *s, uint8_t *out, size_t cap, size_t *out_len)
{
    Gmwire__SignedPrekey m = GMWIRE__SIGNED_PREKEY__INIT;

    if (check_spk(s) != 0) {
        return GM_EPROTO;
    }
    m.id = s->id;
    m.pk = gm__wire_bin(s->pk, GM_KEY_LEN);
    m.created = s->created;
    m.expires = s->expires;
    if (gmwire__signed_prekey__get_packed_size(&m) > cap) {
        return GM_ELIMIT;
    }
    *out_len = gmwire__signed_prekey__pack(&m, out);
    return 0;
}

int gm_wire_spk_decode(const uint8_t *buf, size_t len, gm_spk_t *out)
{
    Gmwire__SignedPrekey *m;
    gm_spk_t s;
    int err = GM_EPROTO;

    if (len > GM_E2E_PREKEY_MAX) {
        return GM_EPROTO;
    }
    m = gmwire__signed_prekey__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    if (m->pk.len == GM_KEY_LEN) {
        s.id = m->id;
        memcpy(s.pk, m->pk.data, GM_KEY_LEN);
        s.created = m->created;
        s.expires = m->expires;
        err = check_spk(&s);
    }
    gmwire__signed_prekey__free_unpacked(m, NULL);
    if (err == 0) {
        *out = s;
    }
    return err;
}

/* ---- PrekeyAnnouncement ---- */

int gm_wire_prekey_announcement_encode(const gm_prekey_announcement_t *a, uint8_t *out, size_t cap,
                                       size_t *out_len)
{
    Gmwire__PrekeyAnnouncement m = GMWIRE__PREKEY_ANNOUNCEMENT__INIT;

    if (a->prekey_len == 0 || a->prekey_len > GM_E2E_PREKEY_MAX) {
        return GM_EPROTO;
    }
    m.prekey = gm__wire_bin(a->prekey, a->prekey_len);
    m.signature = gm__wire_bin(a->signature, GM_SIG_LEN);
    if (gmwire__prekey_announcement__get_packed_size(&m) > cap) {
        return GM_ELIMIT;
    }
    *out_len = gmwire__prekey_announcement__pack(&m, out);
    return 0;
}

int gm_wire_prekey_announcement_decode(const uint8_t *buf, size_t len,
                                       gm_prekey_announcement_t *out)
{
    Gmwire__PrekeyAnnouncement *m;
    int err = GM_EPROTO;

    if (len > GM_E2E_PREKEY_ANN_MAX) {
        return GM_EPROTO;
    }
    m = gmwire__prekey_announcement__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    if (m->prekey.len > 0 && m->prekey.len <= GM_E2E_PREKEY_MAX && m->signature.len == GM_SIG_LEN) {
        memcpy(out->prekey, m->prekey.data, m->prekey.len);
        out->prekey_len = m->prekey.len;
        memcpy(out->signature, m->signature.data, GM_SIG_LEN);
        err = 0;
    }
    gmwire__prekey_announcement__free_unpacked(m, NULL);
    return err;
}

/* ---- Envelope ---- */

static bool ratchet_ok(const gm_ratchet_msg_t *r)
{
    return bytes_ok(r->ciphertext, r->ciphertext_len, GM_E2E_TAG_LEN, SIZE_MAX);
}

/* Every check but the total size (which bounds the ciphertexts), which needs the encoding. */
static int check_envelope(const gm_envelope_t *e)
{
    bool ok;

    switch (e->kind) {
    case GM_ENVELOPE_RATCHET:
        ok = ratchet_ok(&e->ratchet);
        break;
    case GM_ENVELOPE_PREKEY:
        ok = bytes_ok(e->prekey.cert, e->prekey.cert_len, 1, GM_CERT_MAX_LEN) &&
             ratchet_ok(&e->prekey.message);
        break;
    case GM_ENVELOPE_GROUP:
        ok = bytes_ok(e->group.ciphertext, e->group.ciphertext_len, GM_E2E_TAG_LEN, SIZE_MAX);
        break;
    case GM_ENVELOPE_BROADCAST:
        ok = bytes_ok(e->broadcast.cert, e->broadcast.cert_len, 1, GM_CERT_MAX_LEN) &&
             bytes_ok(e->broadcast.content, e->broadcast.content_len, 1, SIZE_MAX);
        break;
    default:
        ok = false;
    }
    return ok ? 0 : GM_EPROTO;
}

/* The generated structs of one envelope, every pointer borrowing the plain one. */
typedef struct {
    Gmwire__Envelope env;
    Gmwire__RatchetMessage ratchet;
    Gmwire__PrekeyMessage prekey;
    Gmwire__GroupMessage group;
    Gmwire__Broadcast broadcast;
} envelope_store_t;

static void ratchet_out(const gm_ratchet_msg_t *r, Gmwire__RatchetMessage *m)
{
    gmwire__ratchet_message__init(m);
    m->header = gm__wire_bin(r->header, GM_E2E_HEADER_LEN);
    m->ciphertext = gm__wire_bin(r->ciphertext, r->ciphertext_len);
}

/* Fills st->env from e; the encoded size, or 0 if e is not a valid envelope. */
static size_t envelope_out(const gm_envelope_t *e, envelope_store_t *st)
{
    size_t size;

    if (check_envelope(e) != 0) {
        return 0;
    }
    gmwire__envelope__init(&st->env);
    if (e->kind == GM_ENVELOPE_RATCHET) {
        ratchet_out(&e->ratchet, &st->ratchet);
        st->env.kind_case = GMWIRE__ENVELOPE__KIND_RATCHET;
        st->env.ratchet = &st->ratchet;
    } else if (e->kind == GM_ENVELOPE_PREKEY) {
        gmwire__prekey_message__init(&st->prekey);
        st->prekey.version = GM_E2E_PREKEY_VERSION;
        st->prekey.certificate = gm__wire_bin(e->prekey.cert, e->prekey.cert_len);
        st->prekey.ephemeral = gm__wire_bin(e->prekey.ephemeral, GM_KEY_LEN);
        st->prekey.prekey_id = e->prekey.prekey_id;
        ratchet_out(&e->prekey.message, &st->ratchet);
        st->prekey.message = &st->ratchet;
        st->env.kind_case = GMWIRE__ENVELOPE__KIND_PREKEY;
        st->env.prekey = &st->prekey;
    } else if (e->kind == GM_ENVELOPE_GROUP) {
        gmwire__group_message__init(&st->group);
        st->group.group_id = gm__wire_bin(e->group.group_id, GM_ID_LEN);
        st->group.key_id = e->group.key_id;
        st->group.iteration = e->group.iteration;
        st->group.ciphertext = gm__wire_bin(e->group.ciphertext, e->group.ciphertext_len);
        st->group.signature = gm__wire_bin(e->group.signature, GM_SIG_LEN);
        st->env.kind_case = GMWIRE__ENVELOPE__KIND_GROUP;
        st->env.group = &st->group;
    } else {
        gmwire__broadcast__init(&st->broadcast);
        st->broadcast.certificate = gm__wire_bin(e->broadcast.cert, e->broadcast.cert_len);
        st->broadcast.content = gm__wire_bin(e->broadcast.content, e->broadcast.content_len);
        st->broadcast.signature = gm__wire_bin(e->broadcast.signature, GM_SIG_LEN);
        st->env.kind_case = GMWIRE__ENVELOPE__KIND_BROADCAST;
        st->env.broadcast = &st->broadcast;
    }
    size = gmwire__envelope__get_packed_size(&st->env);
    return size <= GM_E2E_ENVELOPE_MAX ? size : 0;
}

size_t gm_wire_envelope_size(const gm_envelope_t *e)
{
    envelope_store_t st;

    return envelope_out(e, &st);
}

int gm_wire_envelope_encode(const gm_envelope_t *e, uint8_t *out, size_t cap, size_t *out_len)
{
    envelope_store_t st;
    size_t size = envelope_out(e, &st);

    if (size == 0) {
        return GM_EPROTO;
    }
    if (size > cap) {
        return GM_ELIMIT;
    }
    *out_len = gmwire__envelope__pack(&st.env, out);
    return 0;
}

static int ratchet_in(const Gmwire__RatchetMessage *m, gm_ratchet_msg_t *r)
{
    if (m == NULL || m->header.len != GM_E2E_HEADER_LEN) {
        return GM_EPROTO;
    }
    memcpy(r->header, m->header.data, GM_E2E_HEADER_LEN);
    r->ciphertext = m->ciphertext.data;
    r->ciphertext_len = m->ciphertext.len;
    return 0;
}

static int prekey_in(const Gmwire__PrekeyMessage *m, gm_prekey_msg_t *p)
{
    if (m->version != GM_E2E_PREKEY_VERSION || m->ephemeral.len != GM_KEY_LEN) {
        return GM_EPROTO;
    }
    p->cert = m->certificate.data;
    p->cert_len = m->certificate.len;
    memcpy(p->ephemeral, m->ephemeral.data, GM_KEY_LEN);
    p->prekey_id = m->prekey_id;
    return ratchet_in(m->message, &p->message); /* NULL when absent */
}

static int group_in(const Gmwire__GroupMessage *m, gm_group_msg_t *g)
{
    if (m->group_id.len != GM_ID_LEN || m->signature.len != GM_SIG_LEN) {
        return GM_EPROTO;
    }
    memcpy(g->group_id, m->group_id.data, GM_ID_LEN);
    g->key_id = m->key_id;
    g->iteration = m->iteration;
    g->ciphertext = m->ciphertext.data;
    g->ciphertext_len = m->ciphertext.len;
    memcpy(g->signature, m->signature.data, GM_SIG_LEN);
    return 0;
}

static int broadcast_in(const Gmwire__Broadcast *m, gm_broadcast_t *b)
{
    if (m->signature.len != GM_SIG_LEN) {
        return GM_EPROTO;
    }
    b->cert = m->certificate.data;
    b->cert_len = m->certificate.len;
    b->content = m->content.data;
    b->content_len = m->content.len;
    memcpy(b->signature, m->signature.data, GM_SIG_LEN);
    return 0;
}

/* The fixed-size fields and the oneof case; check_envelope() does the rest. */
static int envelope_in(const Gmwire__Envelope *m, gm_envelope_t *e)
{
    switch (m->kind_case) {
    case GMWIRE__ENVELOPE__KIND_RATCHET:
        e->kind = GM_ENVELOPE_RATCHET;
        return ratchet_in(m->ratchet, &e->ratchet);
    case GMWIRE__ENVELOPE__KIND_PREKEY:
        e->kind = GM_ENVELOPE_PREKEY;
        return prekey_in(m->prekey, &e->prekey);
    case GMWIRE__ENVELOPE__KIND_GROUP:
        e->kind = GM_ENVELOPE_GROUP;
        return group_in(m->group, &e->group);
    case GMWIRE__ENVELOPE__KIND_BROADCAST:
        e->kind = GM_ENVELOPE_BROADCAST;
        return broadcast_in(m->broadcast, &e->broadcast);
    default:
        return 0; /* no case, or only one this version does not know: kind 0, which
                     check_envelope() refuses */
    }
}

int gm_wire_envelope_decode(const uint8_t *buf, size_t len, gm_envelope_t *out)
{
    Gmwire__Envelope *m;
    gm_envelope_t e;
    int err;

    if (len > GM_E2E_ENVELOPE_MAX) {
        return GM_EPROTO;
    }
    m = gmwire__envelope__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    memset(&e, 0, sizeof e);
    err = envelope_in(m, &e);
    if (err == 0) {
        err = check_envelope(&e);
    }
    if (err != 0) {
        gmwire__envelope__free_unpacked(m, NULL);
        return err;
    }
    e.owner = m; /* the pointers in e borrow from it */
    *out = e;
    return 0;
}

void gm_envelope_free(gm_envelope_t *e)
{
    if (e == NULL) {
        return;
    }
    if (e->owner != NULL) {
        gmwire__envelope__free_unpacked(e->owner, NULL);
    }
    memset(e, 0, sizeof *e);
}

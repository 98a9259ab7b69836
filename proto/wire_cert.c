#include "proto/wire_cert.h"

#include <stdlib.h>
#include <string.h>

#include "cert.pb-c.h"

static const char *const role_names[] = {
    [GM_ROLE_HANDHELD] = "handheld",
    [GM_ROLE_RELAY] = "relay",
    [GM_ROLE_BRIDGE] = "bridge",
    [GM_ROLE_DISPATCH] = "dispatch",
};

bool gm_name_is_valid(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > GM_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

const char *gm_role_name(gm_role_t role)
{
    if (role >= GM_ROLE_HANDHELD && role <= GM_ROLE_DISPATCH) {
        return role_names[role];
    }
    return "unknown";
}

int gm_role_parse(const char *name, gm_role_t *out)
{
    for (int r = GM_ROLE_HANDHELD; r <= GM_ROLE_DISPATCH; r++) {
        if (strcmp(name, role_names[r]) == 0) {
            *out = (gm_role_t)r;
            return 0;
        }
    }
    return GM_EPROTO;
}

/* Packs any generated message into a new buffer. */
static int pack(const ProtobufCMessage *m, uint8_t **out, size_t *out_len)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len > 0 ? len : 1);

    if (buf == NULL) {
        return GM_ENOMEM;
    }
    protobuf_c_message_pack(m, buf);
    *out = buf;
    *out_len = len;
    return 0;
}

static ProtobufCBinaryData bin(const uint8_t *p, size_t len)
{
    ProtobufCBinaryData b = {len, (uint8_t *)p};
    return b;
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

static bool take_name(char dst[GM_NAME_MAX + 1], const char *src)
{
    if (src == NULL || !gm_name_is_valid(src)) {
        return false;
    }
    memcpy(dst, src, strlen(src) + 1);
    return true;
}

int gm_wire_signed_encode(const gm_signed_t *s, uint8_t **out, size_t *out_len)
{
    Gmwire__Signed m = GMWIRE__SIGNED__INIT;

    m.kind = (Gmwire__SignedKind)s->kind;
    m.signer = bin(s->signer, GM_ID_LEN);
    m.body = bin(s->body, s->body_len);
    m.signature = bin(s->signature, GM_SIG_LEN);
    return pack(&m.base, out, out_len);
}

int gm_wire_signed_decode(const uint8_t *buf, size_t len, size_t max_len, gm_signed_t *out)
{
    Gmwire__Signed *m;
    gm_signed_t s;
    int err = GM_EPROTO;

    if (len > max_len) {
        return GM_EPROTO;
    }
    m = gmwire__signed__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    memset(&s, 0, sizeof s);
    s.kind = (gm_signed_kind_t)m->kind;
    if ((s.kind == GM_SIGNED_ROOT || s.kind == GM_SIGNED_CERT || s.kind == GM_SIGNED_CRL) &&
        take_fixed(s.signer, &m->signer, GM_ID_LEN) &&
        take_fixed(s.signature, &m->signature, GM_SIG_LEN) && m->body.len > 0) {
        s.body = malloc(m->body.len);
        err = s.body != NULL ? 0 : GM_ENOMEM;
    }
    if (err == 0) {
        memcpy(s.body, m->body.data, m->body.len);
        s.body_len = m->body.len;
        *out = s;
    }
    gmwire__signed__free_unpacked(m, NULL);
    return err;
}

void gm_signed_free(gm_signed_t *s)
{
    free(s->body);
    s->body = NULL;
    s->body_len = 0;
}

int gm_wire_root_body_encode(const gm_root_body_t *b, uint8_t **out, size_t *out_len)
{
    Gmwire__RootBody m = GMWIRE__ROOT_BODY__INIT;

    if (!gm_name_is_valid(b->org_name)) {
        return GM_EPROTO;
    }
    m.version = GM_WIRE_VERSION;
    m.org_id = bin(b->org_id, GM_ID_LEN);
    m.org_name = (char *)b->org_name;
    m.root_pk = bin(b->root_pk, GM_KEY_LEN);
    m.created = b->created;
    return pack(&m.base, out, out_len);
}

int gm_wire_root_body_decode(const uint8_t *buf, size_t len, gm_root_body_t *out)
{
    Gmwire__RootBody *m;
    gm_root_body_t b;
    bool ok;

    if (len > GM_CERT_MAX_LEN) {
        return GM_EPROTO;
    }
    m = gmwire__root_body__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    memset(&b, 0, sizeof b);
    ok = m->version == GM_WIRE_VERSION && take_fixed(b.org_id, &m->org_id, GM_ID_LEN) &&
         take_name(b.org_name, m->org_name) && take_fixed(b.root_pk, &m->root_pk, GM_KEY_LEN);
    b.created = m->created;
    gmwire__root_body__free_unpacked(m, NULL);
    if (!ok) {
        return GM_EPROTO;
    }
    *out = b;
    return 0;
}

int gm_wire_cert_body_encode(const gm_cert_body_t *b, uint8_t **out, size_t *out_len)
{
    Gmwire__CertificateBody m = GMWIRE__CERTIFICATE_BODY__INIT;

    if (!gm_name_is_valid(b->org_name) || !gm_name_is_valid(b->callsign) ||
        b->role < GM_ROLE_HANDHELD || b->role > GM_ROLE_DISPATCH) {
        return GM_EPROTO;
    }
    m.version = GM_WIRE_VERSION;
    m.org_id = bin(b->org_id, GM_ID_LEN);
    m.org_name = (char *)b->org_name;
    m.serial = b->serial;
    m.node_id = bin(b->node_id, GM_ID_LEN);
    m.callsign = (char *)b->callsign;
    m.role = (Gmwire__Role)b->role;
    m.sign_pk = bin(b->sign_pk, GM_KEY_LEN);
    m.link_pk = bin(b->link_pk, GM_KEY_LEN);
    m.e2e_pk = bin(b->e2e_pk, GM_KEY_LEN);
    m.not_before = b->not_before;
    m.not_after = b->not_after;
    return pack(&m.base, out, out_len);
}

int gm_wire_cert_body_decode(const uint8_t *buf, size_t len, gm_cert_body_t *out)
{
    Gmwire__CertificateBody *m;
    gm_cert_body_t b;
    bool ok;

    if (len > GM_CERT_MAX_LEN) {
        return GM_EPROTO;
    }
    m = gmwire__certificate_body__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    memset(&b, 0, sizeof b);
    ok = m->version == GM_WIRE_VERSION && take_fixed(b.org_id, &m->org_id, GM_ID_LEN) &&
         take_name(b.org_name, m->org_name) && take_fixed(b.node_id, &m->node_id, GM_ID_LEN) &&
         take_name(b.callsign, m->callsign) && m->role >= GMWIRE__ROLE__ROLE_HANDHELD &&
         m->role <= GMWIRE__ROLE__ROLE_DISPATCH &&
         take_fixed(b.sign_pk, &m->sign_pk, GM_KEY_LEN) &&
         take_fixed(b.link_pk, &m->link_pk, GM_KEY_LEN) &&
         take_fixed(b.e2e_pk, &m->e2e_pk, GM_KEY_LEN) && m->not_before < m->not_after;
    b.serial = m->serial;
    b.role = (gm_role_t)m->role;
    b.not_before = m->not_before;
    b.not_after = m->not_after;
    gmwire__certificate_body__free_unpacked(m, NULL);
    if (!ok) {
        return GM_EPROTO;
    }
    *out = b;
    return 0;
}

/* Node ids as protobuf bytes fields pointing into b (free() the array). */
static ProtobufCBinaryData *node_id_fields(const gm_crl_body_t *b)
{
    ProtobufCBinaryData *ids = calloc(b->n_node_ids + 1, sizeof *ids);

    for (size_t i = 0; ids != NULL && i < b->n_node_ids; i++) {
        ids[i] = bin(b->node_ids[i], GM_ID_LEN);
    }
    return ids;
}

int gm_wire_crl_body_encode(const gm_crl_body_t *b, uint8_t **out, size_t *out_len)
{
    Gmwire__RevocationBody m = GMWIRE__REVOCATION_BODY__INIT;
    ProtobufCBinaryData *ids;
    int err;

    if (b->n_serials + b->n_node_ids > GM_CRL_MAX_ENTRIES) {
        return GM_EPROTO;
    }
    ids = node_id_fields(b);
    if (ids == NULL) {
        return GM_ENOMEM;
    }
    m.version = GM_WIRE_VERSION;
    m.org_id = bin(b->org_id, GM_ID_LEN);
    m.seq = b->seq;
    m.issued_at = b->issued_at;
    m.next_update = b->next_update;
    m.n_serials = b->n_serials;
    m.serials = b->serials;
    m.n_node_ids = b->n_node_ids;
    m.node_ids = ids;
    err = pack(&m.base, out, out_len);
    free(ids);
    return err;
}

/* Copies decoded serials and node ids into b (allocating; gm_crl_body_free on any result). */
static int take_entries(gm_crl_body_t *b, size_t n_serials, const uint64_t *serials,
                        size_t n_node_ids, const ProtobufCBinaryData *node_ids)
{
    b->serials = malloc((n_serials + 1) * sizeof *b->serials);
    b->node_ids = malloc((n_node_ids + 1) * sizeof *b->node_ids);
    if (b->serials == NULL || b->node_ids == NULL) {
        return GM_ENOMEM;
    }
    if (n_serials > 0) {
        memcpy(b->serials, serials, n_serials * sizeof *b->serials);
    }
    b->n_serials = n_serials;
    for (size_t i = 0; i < n_node_ids; i++) {
        if (!take_fixed(b->node_ids[i], &node_ids[i], GM_ID_LEN)) {
            return GM_EPROTO;
        }
    }
    b->n_node_ids = n_node_ids;
    return 0;
}


int gm_wire_crl_body_decode(const uint8_t *buf, size_t len, gm_crl_body_t *out)
{
    Gmwire__RevocationBody *m;
    gm_crl_body_t b;
    int err = GM_EPROTO;

    if (len > GM_CRL_MAX_LEN) {
        return GM_EPROTO;
    }
    m = gmwire__revocation_body__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    memset(&b, 0, sizeof b);
    if (m->version == GM_WIRE_VERSION && take_fixed(b.org_id, &m->org_id, GM_ID_LEN) &&
        m->n_serials + m->n_node_ids <= GM_CRL_MAX_ENTRIES) {
        b.seq = m->seq;
        b.issued_at = m->issued_at;
        b.next_update = m->next_update;
        err = take_entries(&b, m->n_serials, m->serials, m->n_node_ids, m->node_ids);
    }
    gmwire__revocation_body__free_unpacked(m, NULL);
    if (err != 0) {
        gm_crl_body_free(&b);
        return err;
    }
    *out = b;
    return 0;
}

void gm_crl_body_free(gm_crl_body_t *b)
{
    free(b->serials);
    free(b->node_ids);
    b->serials = NULL;
    b->node_ids = NULL;
    b->n_serials = 0;
    b->n_node_ids = 0;
}

int gm_wire_ledger_encode(const gm_blob_t *items, size_t n, const gm_crl_body_t *revoked,
                          uint8_t **out, size_t *out_len)
{
    static const gm_crl_body_t none;
    Gmwire__CaLedger m = GMWIRE__CA_LEDGER__INIT;
    ProtobufCBinaryData *certs, *ids;
    int err = GM_ENOMEM;

    revoked = revoked != NULL ? revoked : &none;
    if (n > GM_LEDGER_MAX_ENTRIES ||
        revoked->n_serials + revoked->n_node_ids > GM_CRL_MAX_ENTRIES) {
        return GM_EPROTO;
    }
    certs = calloc(n + 1, sizeof *certs);
    ids = node_id_fields(revoked);
    for (size_t i = 0; certs != NULL && i < n; i++) {
        certs[i] = bin(items[i].data, items[i].len);
    }
    if (certs != NULL && ids != NULL) {
        m.n_certificates = n;
        m.certificates = certs;
        m.count = n;
        m.crl_seq = revoked->seq;
        m.n_revoked_serials = revoked->n_serials;
        m.revoked_serials = revoked->serials;
        m.n_revoked_node_ids = revoked->n_node_ids;
        m.revoked_node_ids = ids;
        m.revoked_count = revoked->n_serials + revoked->n_node_ids;
        err = pack(&m.base, out, out_len);
    }
    free(certs);
    free(ids);
    return err;
}

/* Checks the ledger's counts: too long, or truncated between two records. */
static bool ledger_is_whole(const Gmwire__CaLedger *m)
{
    return m->n_certificates <= GM_LEDGER_MAX_ENTRIES && m->count == m->n_certificates &&
           m->n_revoked_serials <= GM_CRL_MAX_ENTRIES &&
           m->n_revoked_node_ids <= GM_CRL_MAX_ENTRIES - m->n_revoked_serials &&
           m->revoked_count == m->n_revoked_serials + m->n_revoked_node_ids;
}

/* Copies the certificates of a decoded ledger (allocating *items). */
static int take_ledger_items(const Gmwire__CaLedger *m, gm_blob_t **items)
{
    gm_blob_t *list = calloc(m->n_certificates + 1, sizeof *list);
    size_t i;

    if (list == NULL) {
        return GM_ENOMEM;
    }
    for (i = 0; i < m->n_certificates; i++) {
        list[i].data = malloc(m->certificates[i].len + 1);
        if (list[i].data == NULL) {
            gm_blob_list_free(list, i);
            return GM_ENOMEM;
        }
        if (m->certificates[i].len > 0) { /* protobuf-c leaves data NULL for empty bytes */
            memcpy(list[i].data, m->certificates[i].data, m->certificates[i].len);
        }
        list[i].len = m->certificates[i].len;
    }
    *items = list;
    return 0;
}

int gm_wire_ledger_decode(const uint8_t *buf, size_t len, gm_blob_t **items, size_t *n,
                          gm_crl_body_t *revoked)
{
    Gmwire__CaLedger *m;
    gm_blob_t *list = NULL;
    gm_crl_body_t r;
    int err;

    if (len > GM_LEDGER_MAX_LEN) {
        return GM_EPROTO;
    }
    m = gmwire__ca_ledger__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    memset(&r, 0, sizeof r);
    err = ledger_is_whole(m) ? 0 : GM_EPROTO;
    if (err == 0) {
        r.seq = m->crl_seq;
        err = take_entries(&r, m->n_revoked_serials, m->revoked_serials, m->n_revoked_node_ids,
                           m->revoked_node_ids);
    }
    err = err ? err : take_ledger_items(m, &list);
    if (err == 0) {
        *items = list;
        *n = m->n_certificates;
        *revoked = r;
    } else {
        gm_crl_body_free(&r);
    }
    gmwire__ca_ledger__free_unpacked(m, NULL);
    return err;
}

void gm_blob_list_free(gm_blob_t *items, size_t n)
{
    for (size_t i = 0; i < n && items != NULL; i++) {
        free(items[i].data);
    }
    free(items);
}

/*
 * Codecs for proto/cert.proto: the Signed envelope and the root, certificate
 * and revocation-list bodies, as plain gm_ structs. Decoders treat their input
 * as hostile: lengths capped, every field checked, nothing left half-written.
 */
#ifndef GM_WIRE_CERT_H
#define GM_WIRE_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"

#define GM_ID_LEN 16
#define GM_KEY_LEN 32
#define GM_SIG_LEN 64
#define GM_NAME_MAX 32            /* callsigns and organisation names */
#define GM_CERT_MAX_LEN 1024      /* an encoded root record or certificate */
#define GM_CRL_MAX_ENTRIES 50000  /* serials plus node ids in one list */
#define GM_CRL_MAX_LEN (2u << 20) /* an encoded revocation list */
#define GM_WIRE_VERSION 1

typedef enum {
    GM_SIGNED_ROOT = 1,
    GM_SIGNED_CERT = 2,
    GM_SIGNED_CRL = 3,
} gm_signed_kind_t;

typedef enum {
    GM_ROLE_HANDHELD = 1,
    GM_ROLE_RELAY = 2,
    GM_ROLE_BRIDGE = 3,
    GM_ROLE_DISPATCH = 4,
} gm_role_t;

#define GM_ROLE_BIT(r) (1u << (r))
#define GM_ROLES_ALL                                                                     \
    (GM_ROLE_BIT(GM_ROLE_HANDHELD) | GM_ROLE_BIT(GM_ROLE_RELAY) |                          \
     GM_ROLE_BIT(GM_ROLE_BRIDGE) | GM_ROLE_BIT(GM_ROLE_DISPATCH))

typedef struct {
    gm_signed_kind_t kind;
    uint8_t signer[GM_ID_LEN];
    uint8_t *body; /* malloc'd by the decoder; gm_signed_free() */
    size_t body_len;
    uint8_t signature[GM_SIG_LEN];
} gm_signed_t;

typedef struct {
    uint8_t org_id[GM_ID_LEN];
    char org_name[GM_NAME_MAX + 1];
    uint8_t root_pk[GM_KEY_LEN];
    uint64_t created;
} gm_root_body_t;

typedef struct {
    uint8_t org_id[GM_ID_LEN];
    char org_name[GM_NAME_MAX + 1];
    uint64_t serial;
    uint8_t node_id[GM_ID_LEN];
    char callsign[GM_NAME_MAX + 1];
    gm_role_t role;
    uint8_t sign_pk[GM_KEY_LEN];
    uint8_t link_pk[GM_KEY_LEN];
    uint8_t e2e_pk[GM_KEY_LEN];
    uint64_t not_before, not_after;
} gm_cert_body_t;

typedef struct {
    uint8_t org_id[GM_ID_LEN];
    uint64_t seq, issued_at, next_update;
    size_t n_serials;
    uint64_t *serials; /* malloc'd by the decoder; gm_crl_body_free() */
    size_t n_node_ids;
    uint8_t (*node_ids)[GM_ID_LEN];
} gm_crl_body_t;

/* 1 to 32 characters of [A-Za-z0-9._-]: callsigns and organisation names. */
bool gm_name_is_valid(const char *name);

/* "handheld", "relay", "bridge", "dispatch"; parse returns 0 or GM_EPROTO. */
const char *gm_role_name(gm_role_t role);
GM_MUST_CHECK int gm_role_parse(const char *name, gm_role_t *out);

/* Encoders allocate *out (free() it). GM_ENOMEM, or GM_EPROTO for an invalid struct. */
GM_MUST_CHECK int gm_wire_signed_encode(const gm_signed_t *s, uint8_t **out, size_t *out_len);
GM_MUST_CHECK int gm_wire_root_body_encode(const gm_root_body_t *b, uint8_t **out,
                                           size_t *out_len);
GM_MUST_CHECK int gm_wire_cert_body_encode(const gm_cert_body_t *b, uint8_t **out,
                                           size_t *out_len);
GM_MUST_CHECK int gm_wire_crl_body_encode(const gm_crl_body_t *b, uint8_t **out,
                                          size_t *out_len);

/*
 * Decoders: 0, GM_EPROTO (malformed, over max_len / the type's limit, a field
 * of the wrong size or out of range) or GM_ENOMEM. Output written only on success.
 */
GM_MUST_CHECK int gm_wire_signed_decode(const uint8_t *buf, size_t len, size_t max_len,
                                        gm_signed_t *out);
GM_MUST_CHECK int gm_wire_root_body_decode(const uint8_t *buf, size_t len, gm_root_body_t *out);
GM_MUST_CHECK int gm_wire_cert_body_decode(const uint8_t *buf, size_t len, gm_cert_body_t *out);
GM_MUST_CHECK int gm_wire_crl_body_decode(const uint8_t *buf, size_t len, gm_crl_body_t *out);

#define GM_LEDGER_MAX_ENTRIES 100000
#define GM_LEDGER_MAX_LEN (64u << 20)

typedef struct {
    uint8_t *data;
    size_t len;
} gm_blob_t;

/*
 * The CA ledger: a list of encoded certificates, and what the CA revoked:
 * revoked->seq is the highest list sequence it signed, revoked->serials and
 * revoked->node_ids every entry it revoked (org_id, issued_at and next_update
 * are not stored). revoked may be NULL when encoding: nothing revoked.
 */
GM_MUST_CHECK int gm_wire_ledger_encode(const gm_blob_t *items, size_t n,
                                        const gm_crl_body_t *revoked, uint8_t **out,
                                        size_t *out_len);
/*
 * Allocates *items (free with gm_blob_list_free) and the arrays of *revoked
 * (free with gm_crl_body_free; zero and empty for a ledger written before
 * revocations were kept). GM_EPROTO, GM_ENOMEM; nothing written on failure.
 */
GM_MUST_CHECK int gm_wire_ledger_decode(const uint8_t *buf, size_t len, gm_blob_t **items,
                                        size_t *n, gm_crl_body_t *revoked);
void gm_blob_list_free(gm_blob_t *items, size_t n);

void gm_signed_free(gm_signed_t *s);
void gm_crl_body_free(gm_crl_body_t *b);

#endif

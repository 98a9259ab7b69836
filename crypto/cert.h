/*
 * Organisation PKI (CRYPTO.md section 3): root records, member certificates,
 * revocation lists, and the trust store that decides whether a certificate is
 * acceptable. Pure functions over caller memory; no I/O.
 *
 * Every signature is Ed25519 over context || exact body bytes, with the
 * contexts "guardmesh/root/1\0", "guardmesh/cert/1\0", "guardmesh/crl/1\0".
 */
#ifndef GM_CERT_H
#define GM_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"
#include "proto/wire_cert.h"

#define GM_SEED_LEN 32
#define GM_CERT_SKEW_SECONDS 600 /* accepted clock skew either way */
#define GM_TRUST_MAX_ORGS 32

typedef struct {
    gm_root_body_t body;
    uint8_t encoded[GM_CERT_MAX_LEN];
    size_t encoded_len;
} gm_root_t;

typedef struct {
    gm_cert_body_t body;
    uint8_t signer[GM_ID_LEN];
    uint8_t signature[GM_SIG_LEN];
    uint8_t raw_body[GM_CERT_MAX_LEN]; /* the exact signed bytes */
    size_t raw_body_len;
    uint8_t encoded[GM_CERT_MAX_LEN];
    size_t encoded_len;
} gm_cert_t;

typedef struct {
    gm_crl_body_t body;   /* owns its arrays */
    uint8_t *encoded;     /* malloc'd */
    size_t encoded_len;
    uint8_t signature[GM_SIG_LEN];
    uint8_t *raw_body;    /* malloc'd, the exact signed bytes */
    size_t raw_body_len;
} gm_crl_t;

typedef enum {
    GM_CERT_OK = 0,
    GM_CERT_MALFORMED,
    GM_CERT_UNKNOWN_ISSUER,
    GM_CERT_BAD_SIGNATURE,
    GM_CERT_WRONG_ORG, /* the body names another organisation than its signer */
    GM_CERT_REVOKED,
    GM_CERT_NOT_YET_VALID,
    GM_CERT_EXPIRED,
    GM_CERT_WRONG_ROLE,
} gm_cert_verdict_t;

/* A short phrase for each verdict, e.g. "expired". */
const char *gm_cert_verdict_str(gm_cert_verdict_t v);

/* The first wall second at which body counts as expired, the skew allowed; UINT64_MAX: never. */
uint64_t gm_cert_lapse_s(const gm_cert_body_t *body);

/* Which public keys two certificates share: GM_SHARED_* bits. */
#define GM_SHARED_SIGN 0x1u
#define GM_SHARED_LINK 0x2u
#define GM_SHARED_E2E 0x4u

typedef struct {
    gm_root_t roots[GM_TRUST_MAX_ORGS];
    gm_crl_t crls[GM_TRUST_MAX_ORGS]; /* crls[i] belongs to roots[i]; encoded NULL if none */
    size_t n_roots;
} gm_trust_t;

/* node id = SHA-256(sign_pk)[0..16]; org id = SHA-256(root_pk)[0..16]. */
void gm_id_from_pk(uint8_t id[GM_ID_LEN], const uint8_t pk[GM_KEY_LEN]);

/* True if pk is a canonical Ed25519 point that is not of small order. */
bool gm_ed25519_pk_is_valid(const uint8_t pk[GM_KEY_LEN]);
/* True if pk is an X25519 public key that is not of low order. */
bool gm_x25519_pk_is_valid(const uint8_t pk[GM_KEY_LEN]);

/* ---- root records ---- */

/* Self-signs a new root record for org_name from the root's Ed25519 seed. GM_EPROTO on a bad name. */
GM_MUST_CHECK int gm_root_create(const uint8_t seed[GM_SEED_LEN], const char *org_name,
                                 uint64_t now, gm_root_t *out);

/*
 * Decodes and checks a root record: GM_EPROTO malformed, GM_EAUTH bad
 * self-signature or id. Unlike certificates and lists, the body is parsed
 * before the signature is checked: the verifying key is inside it.
 */
GM_MUST_CHECK int gm_root_decode(const uint8_t *buf, size_t len, gm_root_t *out);

/* ---- certificates ---- */

/*
 * Signs a certificate. From *tmpl it takes serial, callsign, role, the three
 * public keys and the validity window; it fills the organisation and node id.
 * Errors: GM_EPROTO (bad name, role, window or public key), GM_EAUTH (seed
 * does not belong to root).
 */
GM_MUST_CHECK int gm_cert_issue(const uint8_t root_seed[GM_SEED_LEN], const gm_root_t *root,
                                const gm_cert_body_t *tmpl, gm_cert_t *out);

/*
 * Decodes a certificate without judging it (see gm_trust_check), for files
 * the caller already trusts (its own certificate, the CA ledger) and for
 * display. Bytes from a peer go to gm_trust_check_encoded, which verifies
 * the signature before it parses the body. GM_EPROTO when malformed.
 */
GM_MUST_CHECK int gm_cert_decode(const uint8_t *buf, size_t len, gm_cert_t *out);

/* GM_SHARED_* bits for the keys two different certificates share (0 for the same one). */
unsigned gm_cert_shared_keys(const gm_cert_t *a, const gm_cert_t *b);

/* ---- revocation lists ---- */

/* Signs a list. Errors: GM_EPROTO (too many entries), GM_EAUTH, GM_ENOMEM. Free with gm_crl_free. */
GM_MUST_CHECK int gm_crl_issue(const uint8_t root_seed[GM_SEED_LEN], const gm_root_t *root,
                               const gm_crl_body_t *tmpl, gm_crl_t *out);

/*
 * Decodes a list without verifying it (tests and display only: input goes
 * through gm_crl_open or gm_trust_open_crl). GM_EPROTO, GM_ENOMEM. Free with
 * gm_crl_free.
 */
GM_MUST_CHECK int gm_crl_decode(const uint8_t *buf, size_t len, gm_crl_t *out);

/*
 * Decodes a list signed by root: the envelope first, then the signature over
 * context || exact body bytes, and only then the body. Errors: GM_EPROTO
 * (malformed), GM_EAUTH (another signer or a bad signature), GM_ENOMEM.
 * *out is written only on success; free it with gm_crl_free.
 */
GM_MUST_CHECK int gm_crl_open(const uint8_t *buf, size_t len, const gm_root_t *root,
                              gm_crl_t *out);

/* 0 if root signed the list, else GM_EAUTH. */
GM_MUST_CHECK int gm_crl_verify(const gm_crl_t *crl, const gm_root_t *root);

/* True if the list names the certificate's serial or node id. */
bool gm_crl_revokes(const gm_crl_t *crl, const gm_cert_body_t *cert);

void gm_crl_free(gm_crl_t *crl);

/* ---- the trust store ---- */

void gm_trust_init(gm_trust_t *t);
void gm_trust_close(gm_trust_t *t);

/*
 * Adds a trusted root. GM_EEXIST if already there, GM_ECONFLICT if another
 * trusted organisation (another org id) already has this org_name, GM_ELIMIT
 * if full.
 */
GM_MUST_CHECK int gm_trust_add_root(gm_trust_t *t, const gm_root_t *root);

const gm_root_t *gm_trust_find_root(const gm_trust_t *t, const uint8_t org_id[GM_ID_LEN]);

/*
 * Adds a revocation list, taking ownership of *crl on success (it is zeroed).
 * Errors: GM_ENOENT (its organisation is not trusted), GM_EAUTH (bad
 * signature), GM_EREPLAY (not newer than the list held).
 */
GM_MUST_CHECK int gm_trust_add_crl(gm_trust_t *t, gm_crl_t *crl);

/*
 * gm_crl_open with the root of t that the envelope names as signer: GM_ENOENT
 * when t does not trust that organisation, else as gm_crl_open. The list is
 * not added: pass it to gm_trust_add_crl.
 */
GM_MUST_CHECK int gm_trust_open_crl(const gm_trust_t *t, const uint8_t *buf, size_t len,
                                    gm_crl_t *out);

/* The list held for an organisation, or NULL. */
const gm_crl_t *gm_trust_find_crl(const gm_trust_t *t, const uint8_t org_id[GM_ID_LEN]);

/*
 * THE acceptance decision: is cert acceptable at time now (seconds) for one
 * of the roles in role_mask (GM_ROLE_BIT bits)? Checks, in order: issuer
 * trusted, signature, organisation, revocation, validity window (with
 * GM_CERT_SKEW_SECONDS), role.
 */
gm_cert_verdict_t gm_trust_check(const gm_trust_t *t, const gm_cert_t *cert, uint64_t now,
                                 unsigned role_mask);

/*
 * The same from encoded bytes (a peer's): the envelope is decoded, the
 * issuer found by the envelope's signer and the signature checked over the
 * exact body bytes before the body is parsed. GM_CERT_MALFORMED if the
 * envelope, or the authenticated body, does not decode. *out gets the cert
 * only once its signature verified: for GM_CERT_OK and the verdicts from
 * GM_CERT_WRONG_ORG on; after GM_CERT_MALFORMED, GM_CERT_UNKNOWN_ISSUER or
 * GM_CERT_BAD_SIGNATURE it is left untouched.
 */
gm_cert_verdict_t gm_trust_check_encoded(const gm_trust_t *t, const uint8_t *buf, size_t len,
                                         uint64_t now, unsigned role_mask, gm_cert_t *out);

#endif

#include "crypto/cert.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* Context strings end in a zero byte; sizeof includes it. */
static const char CTX_ROOT[] = "guardmesh/root/1";
static const char CTX_CERT[] = "guardmesh/cert/1";
static const char CTX_CRL[] = "guardmesh/crl/1";

/* An encoded revocation list: the body limit plus room for the envelope. */
#define CRL_ENVELOPE_MAX (GM_CRL_MAX_LEN + 1024)

static const char *const verdicts[] = {
    [GM_CERT_OK] = "acceptable",
    [GM_CERT_MALFORMED] = "malformed",
    [GM_CERT_UNKNOWN_ISSUER] = "issued by an untrusted organisation",
    [GM_CERT_BAD_SIGNATURE] = "bad signature",
    [GM_CERT_WRONG_ORG] = "names another organisation than the one that signed it",
    [GM_CERT_REVOKED] = "revoked",
    [GM_CERT_NOT_YET_VALID] = "not yet valid",
    [GM_CERT_EXPIRED] = "expired",
    [GM_CERT_WRONG_ROLE] = "role not allowed here",
};

const char *gm_cert_verdict_str(gm_cert_verdict_t v)
{
    if ((size_t)v < sizeof verdicts / sizeof verdicts[0]) {
        return verdicts[v];
    }
    return "unknown verdict";
}

uint64_t gm_cert_lapse_s(const gm_cert_body_t *body)
{
    uint64_t at = body->not_after + GM_CERT_SKEW_SECONDS + 1;

    return at < body->not_after ? UINT64_MAX : at;
}

void gm_id_from_pk(uint8_t id[GM_ID_LEN], const uint8_t pk[GM_KEY_LEN])
{
    uint8_t h[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(h, pk, GM_KEY_LEN);
    memcpy(id, h, GM_ID_LEN);
}

bool gm_ed25519_pk_is_valid(const uint8_t pk[GM_KEY_LEN])
{
    uint8_t x[crypto_scalarmult_curve25519_BYTES];

    /* Fails for non-canonical and small-order points (CRYPTO.md 9.10). */
    return crypto_sign_ed25519_pk_to_curve25519(x, pk) == 0;
}

bool gm_x25519_pk_is_valid(const uint8_t pk[GM_KEY_LEN])
{
    /* A clamped scalar is a multiple of 8, so a low-order point gives zero (-1). */
    static const uint8_t scalar[crypto_scalarmult_SCALARBYTES] = {1};
    uint8_t out[crypto_scalarmult_BYTES];

    return crypto_scalarmult(out, scalar, pk) == 0;
}

/* Ed25519 over ctx || body, where ctx includes its terminating zero. */
static int sign_body(uint8_t sig[GM_SIG_LEN], const uint8_t seed[GM_SEED_LEN],
                     const uint8_t expect_pk[GM_KEY_LEN], const char *ctx, size_t ctx_len,
                     const uint8_t *body, size_t body_len)
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    uint8_t *msg = malloc(ctx_len + body_len);
    int err = 0;

    if (msg == NULL) {
        return GM_ENOMEM;
    }
    /* The secret key always comes from the seed, never from a stored public key. */
    crypto_sign_seed_keypair(pk, sk, seed);
    if (expect_pk != NULL && sodium_memcmp(pk, expect_pk, GM_KEY_LEN) != 0) {
        err = GM_EAUTH;
    } else {
        memcpy(msg, ctx, ctx_len);
        memcpy(msg + ctx_len, body, body_len);
        crypto_sign_detached(sig, NULL, msg, ctx_len + body_len, sk);
    }
    sodium_memzero(sk, sizeof sk);
    free(msg);
    return err;
}

static int verify_body(const uint8_t sig[GM_SIG_LEN], const uint8_t pk[GM_KEY_LEN],
                       const char *ctx, size_t ctx_len, const uint8_t *body, size_t body_len)
{
    uint8_t *msg = malloc(ctx_len + body_len);
    int err;

    if (msg == NULL) {
        return GM_ENOMEM;
    }
    memcpy(msg, ctx, ctx_len);
    memcpy(msg + ctx_len, body, body_len);
    err = crypto_sign_verify_detached(sig, msg, ctx_len + body_len, pk) == 0 ? 0 : GM_EAUTH;
    free(msg);
    return err;
}

/* Wraps a body in a Signed envelope and encodes it into out (capacity cap). */
static int envelope(gm_signed_kind_t kind, const uint8_t signer[GM_ID_LEN], uint8_t *body,
                    size_t body_len, const uint8_t sig[GM_SIG_LEN], uint8_t **out,
                    size_t *out_len)
{
    gm_signed_t s;

    s.kind = kind;
    memcpy(s.signer, signer, GM_ID_LEN);
    s.body = body;
    s.body_len = body_len;
    memcpy(s.signature, sig, GM_SIG_LEN);
    return gm_wire_signed_encode(&s, out, out_len);
}

/* Copies a malloc'd encoding into a fixed buffer and frees it. */
static int take_encoded(uint8_t *dst, size_t *dst_len, uint8_t *enc, size_t enc_len)
{
    int err = 0;

    if (enc_len > GM_CERT_MAX_LEN) {
        err = GM_EPROTO;
    } else {
        memcpy(dst, enc, enc_len);
        *dst_len = enc_len;
    }
    free(enc);
    return err;
}

/*
 * Decodes the outer Signed envelope of the expected kind. The body stays
 * opaque bytes: kind and signer are enough to pick the context and the key,
 * so the body parser only ever sees bytes whose signature has verified.
 */
static int open_envelope(const uint8_t *buf, size_t len, size_t max_len, gm_signed_kind_t kind,
                         gm_signed_t *s)
{
    int err = gm_wire_signed_decode(buf, len, max_len, s);

    if (err == 0 && s->kind != kind) {
        gm_signed_free(s);
        err = GM_EPROTO;
    }
    return err;
}

/* ---- roots ---- */

int gm_root_create(const uint8_t seed[GM_SEED_LEN], const char *org_name, uint64_t now,
                   gm_root_t *out)
{
    uint8_t sk[crypto_sign_SECRETKEYBYTES], sig[GM_SIG_LEN];
    uint8_t *body = NULL, *enc = NULL;
    size_t body_len, enc_len;
    gm_root_t r;
    int err;

    if (!gm_name_is_valid(org_name)) {
        return GM_EPROTO;
    }
    memset(&r, 0, sizeof r);
    crypto_sign_seed_keypair(r.body.root_pk, sk, seed);
    sodium_memzero(sk, sizeof sk);
    gm_id_from_pk(r.body.org_id, r.body.root_pk);
    memcpy(r.body.org_name, org_name, strlen(org_name) + 1);
    r.body.created = now;
    err = gm_wire_root_body_encode(&r.body, &body, &body_len);
    if (err == 0) {
        err = sign_body(sig, seed, NULL, CTX_ROOT, sizeof CTX_ROOT, body, body_len);
    }
    if (err == 0) {
        err = envelope(GM_SIGNED_ROOT, r.body.org_id, body, body_len, sig, &enc, &enc_len);
    }
    if (err == 0) {
        err = take_encoded(r.encoded, &r.encoded_len, enc, enc_len);
    }
    free(body);
    if (err == 0) {
        *out = r;
    }
    return err;
}

int gm_root_decode(const uint8_t *buf, size_t len, gm_root_t *out)
{
    gm_signed_t s;
    gm_root_t r;
    uint8_t id[GM_ID_LEN];
    int err;

    if (len > GM_CERT_MAX_LEN) {
        return GM_EPROTO;
    }
    err = open_envelope(buf, len, GM_CERT_MAX_LEN, GM_SIGNED_ROOT, &s);
    if (err != 0) {
        return err;
    }
    /*
     * The one record parsed before its signature is checked: a root is
     * self-signed, and the only key that can verify it is root_pk inside the
     * body (the envelope's signer is SHA-256(root_pk)[0..16], which cannot be
     * turned back into the key). Trust in a root comes from pinning its org
     * id out of band, not from this signature, which only proves possession.
     */
    memset(&r, 0, sizeof r);
    err = gm_wire_root_body_decode(s.body, s.body_len, &r.body);
    if (err == 0) {
        gm_id_from_pk(id, r.body.root_pk);
        if (memcmp(id, r.body.org_id, GM_ID_LEN) != 0 ||
            memcmp(s.signer, r.body.org_id, GM_ID_LEN) != 0 ||
            !gm_ed25519_pk_is_valid(r.body.root_pk)) {
            err = GM_EAUTH;
        }
    }
    if (err == 0) {
        err = verify_body(s.signature, r.body.root_pk, CTX_ROOT, sizeof CTX_ROOT, s.body,
                          s.body_len);
    }
    gm_signed_free(&s);
    if (err == 0) {
        memcpy(r.encoded, buf, len);
        r.encoded_len = len;
        *out = r;
    }
    return err;
}

/* ---- certificates ---- */

static bool cert_template_is_valid(const gm_cert_body_t *t)
{
    return gm_name_is_valid(t->callsign) && t->role >= GM_ROLE_HANDHELD &&
           t->role <= GM_ROLE_DISPATCH && t->not_before < t->not_after &&
           gm_ed25519_pk_is_valid(t->sign_pk) && gm_x25519_pk_is_valid(t->link_pk) &&
           gm_x25519_pk_is_valid(t->e2e_pk) && sodium_memcmp(t->link_pk, t->e2e_pk, 32) != 0;
}

int gm_cert_issue(const uint8_t root_seed[GM_SEED_LEN], const gm_root_t *root,
                  const gm_cert_body_t *tmpl, gm_cert_t *out)
{
    uint8_t *body = NULL, *enc = NULL;
    size_t body_len = 0, enc_len;
    gm_cert_t c;
    int err;

    if (!cert_template_is_valid(tmpl)) {
        return GM_EPROTO;
    }
    memset(&c, 0, sizeof c);
    c.body = *tmpl;
    memcpy(c.body.org_id, root->body.org_id, GM_ID_LEN);
    memcpy(c.body.org_name, root->body.org_name, sizeof c.body.org_name);
    gm_id_from_pk(c.body.node_id, c.body.sign_pk);
    memcpy(c.signer, root->body.org_id, GM_ID_LEN);
    err = gm_wire_cert_body_encode(&c.body, &body, &body_len);
    if (err == 0) {
        err = sign_body(c.signature, root_seed, root->body.root_pk, CTX_CERT, sizeof CTX_CERT,
                        body, body_len);
    }
    if (err == 0) {
        err = envelope(GM_SIGNED_CERT, c.signer, body, body_len, c.signature, &enc, &enc_len);
    }
    if (err == 0) {
        err = take_encoded(c.raw_body, &c.raw_body_len, body, body_len);
        body = NULL;
    }
    if (err == 0) {
        err = take_encoded(c.encoded, &c.encoded_len, enc, enc_len);
    }
    free(body);
    if (err == 0) {
        *out = c;
    }
    return err;
}

/* Parses an envelope's certificate body into *out (written only on success). */
static int cert_from_signed(const gm_signed_t *s, const uint8_t *buf, size_t len, gm_cert_t *out)
{
    gm_cert_t c;
    uint8_t id[GM_ID_LEN];
    int err;

    memset(&c, 0, sizeof c);
    err = gm_wire_cert_body_decode(s->body, s->body_len, &c.body);
    if (err == 0) {
        gm_id_from_pk(id, c.body.sign_pk);
        err = memcmp(id, c.body.node_id, GM_ID_LEN) == 0 ? 0 : GM_EPROTO;
    }
    if (err == 0) {
        memcpy(c.signer, s->signer, GM_ID_LEN);
        memcpy(c.signature, s->signature, GM_SIG_LEN);
        memcpy(c.raw_body, s->body, s->body_len); /* body_len < len <= GM_CERT_MAX_LEN */
        c.raw_body_len = s->body_len;
        memcpy(c.encoded, buf, len);
        c.encoded_len = len;
        *out = c;
    }
    return err;
}

int gm_cert_decode(const uint8_t *buf, size_t len, gm_cert_t *out)
{
    gm_signed_t s;
    int err;

    if (len > GM_CERT_MAX_LEN) {
        return GM_EPROTO;
    }
    err = open_envelope(buf, len, GM_CERT_MAX_LEN, GM_SIGNED_CERT, &s);
    if (err != 0) {
        return err;
    }
    err = cert_from_signed(&s, buf, len, out);
    gm_signed_free(&s);
    return err;
}

unsigned gm_cert_shared_keys(const gm_cert_t *a, const gm_cert_t *b)
{
    unsigned shared = 0;

    if (memcmp(a->body.org_id, b->body.org_id, GM_ID_LEN) == 0 &&
        a->body.serial == b->body.serial) {
        return 0; /* the same certificate */
    }
    shared |= memcmp(a->body.sign_pk, b->body.sign_pk, GM_KEY_LEN) == 0 ? GM_SHARED_SIGN : 0;
    shared |= memcmp(a->body.link_pk, b->body.link_pk, GM_KEY_LEN) == 0 ? GM_SHARED_LINK : 0;
    shared |= memcmp(a->body.e2e_pk, b->body.e2e_pk, GM_KEY_LEN) == 0 ? GM_SHARED_E2E : 0;
    return shared;
}

/* ---- revocation lists ---- */

void gm_crl_free(gm_crl_t *crl)
{
    gm_crl_body_free(&crl->body);
    free(crl->encoded);
    free(crl->raw_body);
    memset(crl, 0, sizeof *crl);
}

int gm_crl_issue(const uint8_t root_seed[GM_SEED_LEN], const gm_root_t *root,
                 const gm_crl_body_t *tmpl, gm_crl_t *out)
{
    gm_crl_body_t b = *tmpl;
    uint8_t *body = NULL, *enc = NULL;
    size_t body_len, enc_len;
    uint8_t sig[GM_SIG_LEN];
    int err;

    memcpy(b.org_id, root->body.org_id, GM_ID_LEN);
    err = gm_wire_crl_body_encode(&b, &body, &body_len);
    if (err == 0) {
        err = sign_body(sig, root_seed, root->body.root_pk, CTX_CRL, sizeof CTX_CRL, body,
                        body_len);
    }
    if (err == 0) {
        err = envelope(GM_SIGNED_CRL, b.org_id, body, body_len, sig, &enc, &enc_len);
    }
    free(body);
    if (err == 0) {
        err = gm_crl_decode(enc, enc_len, out); /* one owner of the arrays: the decoder */
    }
    free(enc);
    return err;
}

/* Parses an envelope's list body into *out; the body bytes move to the list. */
static int crl_from_signed(gm_signed_t *s, const uint8_t *buf, size_t len, gm_crl_t *out)
{
    gm_crl_t c;
    int err;

    memset(&c, 0, sizeof c);
    err = gm_wire_crl_body_decode(s->body, s->body_len, &c.body);
    if (err == 0 && memcmp(s->signer, c.body.org_id, GM_ID_LEN) != 0) {
        err = GM_EPROTO;
    }
    c.encoded = err == 0 ? malloc(len) : NULL;
    if (err == 0 && c.encoded == NULL) {
        err = GM_ENOMEM;
    }
    if (err == 0) {
        memcpy(c.encoded, buf, len);
        c.encoded_len = len;
        memcpy(c.signature, s->signature, GM_SIG_LEN);
        c.raw_body = s->body; /* ownership moves to the list */
        c.raw_body_len = s->body_len;
        s->body = NULL;
        *out = c;
    } else {
        gm_crl_free(&c);
    }
    return err;
}

int gm_crl_decode(const uint8_t *buf, size_t len, gm_crl_t *out)
{
    gm_signed_t s;
    int err = open_envelope(buf, len, CRL_ENVELOPE_MAX, GM_SIGNED_CRL, &s);

    if (err != 0) {
        return err;
    }
    err = crl_from_signed(&s, buf, len, out);
    gm_signed_free(&s);
    return err;
}

/* Verifies the envelope with root over context || raw body, and only then parses the body. */
static int crl_open_signed(gm_signed_t *s, const gm_root_t *root, const uint8_t *buf, size_t len,
                           gm_crl_t *out)
{
    int err;

    if (memcmp(s->signer, root->body.org_id, GM_ID_LEN) != 0) {
        return GM_EAUTH;
    }
    err = verify_body(s->signature, root->body.root_pk, CTX_CRL, sizeof CTX_CRL, s->body,
                      s->body_len);
    return err != 0 ? err : crl_from_signed(s, buf, len, out);
}

int gm_crl_open(const uint8_t *buf, size_t len, const gm_root_t *root, gm_crl_t *out)
{
    gm_signed_t s;
    int err = open_envelope(buf, len, CRL_ENVELOPE_MAX, GM_SIGNED_CRL, &s);

    if (err != 0) {
        return err;
    }
    err = crl_open_signed(&s, root, buf, len, out);
    gm_signed_free(&s);
    return err;
}

int gm_crl_verify(const gm_crl_t *crl, const gm_root_t *root)
{
    if (memcmp(crl->body.org_id, root->body.org_id, GM_ID_LEN) != 0) {
        return GM_EAUTH;
    }
    return verify_body(crl->signature, root->body.root_pk, CTX_CRL, sizeof CTX_CRL,
                       crl->raw_body, crl->raw_body_len);
}

bool gm_crl_revokes(const gm_crl_t *crl, const gm_cert_body_t *cert)
{
    if (memcmp(crl->body.org_id, cert->org_id, GM_ID_LEN) != 0) {
        return false;
    }
    for (size_t i = 0; i < crl->body.n_serials; i++) {
        if (crl->body.serials[i] == cert->serial) {
            return true;
        }
    }
    for (size_t i = 0; i < crl->body.n_node_ids; i++) {
        if (memcmp(crl->body.node_ids[i], cert->node_id, GM_ID_LEN) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- trust store ---- */

void gm_trust_init(gm_trust_t *t)
{
    memset(t, 0, sizeof *t);
}

void gm_trust_close(gm_trust_t *t)
{
    for (size_t i = 0; i < t->n_roots; i++) {
        gm_crl_free(&t->crls[i]);
    }
    memset(t, 0, sizeof *t);
}

static ssize_t find_root_index(const gm_trust_t *t, const uint8_t org_id[GM_ID_LEN])
{
    for (size_t i = 0; i < t->n_roots; i++) {
        if (memcmp(t->roots[i].body.org_id, org_id, GM_ID_LEN) == 0) {
            return (ssize_t)i;
        }
    }
    return -1;
}

int gm_trust_add_root(gm_trust_t *t, const gm_root_t *root)
{
    if (find_root_index(t, root->body.org_id) >= 0) {
        return GM_EEXIST;
    }
    /* Names are what people read ("g1@acme"): one name, one key, or a partner could pose as us. */
    for (size_t i = 0; i < t->n_roots; i++) {
        if (strcmp(t->roots[i].body.org_name, root->body.org_name) == 0) {
            return GM_ECONFLICT;
        }
    }
    if (t->n_roots == GM_TRUST_MAX_ORGS) {
        return GM_ELIMIT;
    }
    t->roots[t->n_roots++] = *root;
    return 0;
}

const gm_root_t *gm_trust_find_root(const gm_trust_t *t, const uint8_t org_id[GM_ID_LEN])
{
    ssize_t i = find_root_index(t, org_id);

    return i < 0 ? NULL : &t->roots[i];
}

int gm_trust_add_crl(gm_trust_t *t, gm_crl_t *crl)
{
    ssize_t i = find_root_index(t, crl->body.org_id);
    gm_crl_t *held;

    if (i < 0) {
        return GM_ENOENT;
    }
    if (gm_crl_verify(crl, &t->roots[i]) != 0) {
        return GM_EAUTH;
    }
    held = &t->crls[i];
    if (held->encoded != NULL && crl->body.seq <= held->body.seq) {
        return GM_EREPLAY;
    }
    gm_crl_free(held);
    *held = *crl;
    memset(crl, 0, sizeof *crl);
    return 0;
}

int gm_trust_open_crl(const gm_trust_t *t, const uint8_t *buf, size_t len, gm_crl_t *out)
{
    const gm_root_t *root;
    gm_signed_t s;
    int err = open_envelope(buf, len, CRL_ENVELOPE_MAX, GM_SIGNED_CRL, &s);

    if (err != 0) {
        return err;
    }
    root = gm_trust_find_root(t, s.signer);
    err = root == NULL ? GM_ENOENT : crl_open_signed(&s, root, buf, len, out);
    gm_signed_free(&s);
    return err;
}

const gm_crl_t *gm_trust_find_crl(const gm_trust_t *t, const uint8_t org_id[GM_ID_LEN])
{
    ssize_t i = find_root_index(t, org_id);

    return (i < 0 || t->crls[i].encoded == NULL) ? NULL : &t->crls[i];
}

/* Everything after the signature: organisation, revocation, validity window, role. */
static gm_cert_verdict_t judge_verified(const gm_trust_t *t, const gm_root_t *root,
                                        const gm_cert_t *cert, uint64_t now, unsigned role_mask)
{
    const gm_crl_t *crl;

    if (memcmp(cert->body.org_id, root->body.org_id, GM_ID_LEN) != 0 ||
        strcmp(cert->body.org_name, root->body.org_name) != 0) {
        return GM_CERT_WRONG_ORG;
    }
    crl = gm_trust_find_crl(t, root->body.org_id);
    if (crl != NULL && gm_crl_revokes(crl, &cert->body)) {
        return GM_CERT_REVOKED;
    }
    /* Written without additions so that hostile extremes cannot wrap around. */
    if (cert->body.not_before > now && cert->body.not_before - now > GM_CERT_SKEW_SECONDS) {
        return GM_CERT_NOT_YET_VALID;
    }
    if (now > cert->body.not_after && now - cert->body.not_after > GM_CERT_SKEW_SECONDS) {
        return GM_CERT_EXPIRED;
    }
    if (!(role_mask & GM_ROLE_BIT(cert->body.role))) {
        return GM_CERT_WRONG_ROLE;
    }
    return GM_CERT_OK;
}

gm_cert_verdict_t gm_trust_check(const gm_trust_t *t, const gm_cert_t *cert, uint64_t now,
                                 unsigned role_mask)
{
    const gm_root_t *root = gm_trust_find_root(t, cert->signer);

    if (root == NULL) {
        return GM_CERT_UNKNOWN_ISSUER;
    }
    if (verify_body(cert->signature, root->body.root_pk, CTX_CERT, sizeof CTX_CERT,
                    cert->raw_body, cert->raw_body_len) != 0) {
        return GM_CERT_BAD_SIGNATURE;
    }
    return judge_verified(t, root, cert, now, role_mask);
}

gm_cert_verdict_t gm_trust_check_encoded(const gm_trust_t *t, const uint8_t *buf, size_t len,
                                         uint64_t now, unsigned role_mask, gm_cert_t *out)
{
    const gm_root_t *root;
    gm_cert_verdict_t v;
    gm_signed_t s;

    if (len > GM_CERT_MAX_LEN || open_envelope(buf, len, GM_CERT_MAX_LEN, GM_SIGNED_CERT, &s) != 0) {
        return GM_CERT_MALFORMED;
    }
    /* The body is the peer's bytes until the issuer's signature over them verifies. */
    root = gm_trust_find_root(t, s.signer);
    if (root == NULL) {
        v = GM_CERT_UNKNOWN_ISSUER;
    } else if (verify_body(s.signature, root->body.root_pk, CTX_CERT, sizeof CTX_CERT, s.body,
                           s.body_len) != 0) {
        v = GM_CERT_BAD_SIGNATURE;
    } else if (cert_from_signed(&s, buf, len, out) != 0) {
        v = GM_CERT_MALFORMED;
    } else {
        v = judge_verified(t, root, out, now, role_mask);
    }
    gm_signed_free(&s);
    return v;
}

/*
 * Fuzzes the organisation PKI parsers: the bytes go to every decoder of
 * crypto/cert.h (certificate, root record, revocation list, the acceptance
 * decision against a trust store holding one real root and its list), to the
 * proto/wire_cert.h codecs (envelope, bodies, CA ledger: decode -> encode ->
 * decode must succeed and give the same value, and a second encoding the same
 * bytes) and to the key file decoder, never with a passphrase (Argon2id is
 * far too slow to fuzz).
 *
 * The fixture is made once, deterministically, from fixed seeds, so that the
 * seeds in tests/fuzz/corpus/cert/ carry valid signatures and reach the
 * checks behind signature verification.
 */
#include "tests/fuzz/fuzz.h"
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cert.h"
#include "crypto/keyseal.h"
#include "proto/wire_cert.h"
#include "proto/wire_keyfile.h"

#define FUZZ_NOW 1767225600u /* 2026-01-01T00:00:00Z */
#define FUZZ_DAY 86400u
#define FUZZ_REVOKED_SERIAL 2u
#define FUZZ_SIGNED_MAX (GM_CRL_MAX_LEN + 1024u)



static const uint8_t root_seed[GM_SEED_LEN] = "guardmesh/fuzz/cert/root-seed/1";
static const char org_name[] = "fuzz-org";

/* The trust store every input is judged against; made once by fixture(). */
static struct {
    bool ready;
    gm_root_t root;
    gm_cert_t cert;   /* serial 1, acceptable at FUZZ_NOW */
    gm_trust_t trust; /* fx.root, with a list revoking FUZZ_REVOKED_SERIAL */
} fx;

static gm_trust_t scratch; /* for decoded roots and lists; too large for the stack */

/* Deterministic node keys from tag: sign seed, link and e2e X25519 keys. */
static void node_public_keys(uint8_t tag, gm_cert_body_t *t)
{
    uint8_t seed[32], sk[64];

    memset(seed, tag, sizeof seed);
    crypto_sign_seed_keypair(t->sign_pk, sk, seed);
    memset(seed, tag ^ 0x5a, sizeof seed);
    FUZZ_CHECK(crypto_scalarmult_base(t->link_pk, seed) == 0);
    memset(seed, tag ^ 0xa5, sizeof seed);
    FUZZ_CHECK(crypto_scalarmult_base(t->e2e_pk, seed) == 0);
    sodium_memzero(sk, sizeof sk);
}

/* Issues a certificate under the fixture root, valid from a day before FUZZ_NOW for 30 days. */
static void fixture_issue(uint64_t serial, const char *callsign, gm_role_t role, gm_cert_t *out)
{
    gm_cert_body_t t;

    memset(&t, 0, sizeof t);
    node_public_keys((uint8_t)serial, &t);
    snprintf(t.callsign, sizeof t.callsign, "%s", callsign);
    t.serial = serial;
    t.role = role;
    t.not_before = FUZZ_NOW - FUZZ_DAY;
    t.not_after = FUZZ_NOW + 30 * FUZZ_DAY;
    FUZZ_CHECK(gm_cert_issue(root_seed, &fx.root, &t, out) == 0);
}

static void fixture_crl(uint64_t seq, gm_crl_t *out)
{
    uint64_t serials[1] = {FUZZ_REVOKED_SERIAL};
    gm_crl_body_t t;

    memset(&t, 0, sizeof t);
    t.seq = seq;
    t.issued_at = FUZZ_NOW - FUZZ_DAY;
    t.next_update = FUZZ_NOW + 7 * FUZZ_DAY;
    t.n_serials = 1;
    t.serials = serials;
    FUZZ_CHECK(gm_crl_issue(root_seed, &fx.root, &t, out) == 0);
}

static void fixture(void)
{
    gm_crl_t crl;

    if (fx.ready) {
        return;
    }
    FUZZ_CHECK(sodium_init() >= 0);
    FUZZ_CHECK(gm_root_create(root_seed, org_name, FUZZ_NOW - 10 * FUZZ_DAY, &fx.root) == 0);
    fixture_issue(1, "unit-1", GM_ROLE_RELAY, &fx.cert);
    gm_trust_init(&fx.trust);
    FUZZ_CHECK(gm_trust_add_root(&fx.trust, &fx.root) == 0);
    fixture_crl(1, &crl);
    FUZZ_CHECK(gm_trust_add_crl(&fx.trust, &crl) == 0);
    fx.ready = true;
}

/* ---- crypto/cert.h ---- */

static void fuzz_cert(const uint8_t *data, size_t size)
{
    const gm_crl_t *crl = gm_trust_find_crl(&fx.trust, fx.root.body.org_id);
    gm_cert_verdict_t v;
    gm_cert_t c;

    v = gm_trust_check_encoded(&fx.trust, data, size, FUZZ_NOW, GM_ROLES_ALL, &c);
    FUZZ_CHECK(gm_cert_verdict_str(v) != NULL);
    if (v == GM_CERT_MALFORMED || v == GM_CERT_UNKNOWN_ISSUER || v == GM_CERT_BAD_SIGNATURE) {
        return; /* the body was never parsed and c was not written */
    }
    FUZZ_CHECK(c.encoded_len == size && memcmp(c.encoded, data, size) == 0);
    FUZZ_CHECK(gm_cert_shared_keys(&c, &c) == 0);
    (void)gm_cert_shared_keys(&c, &fx.cert);
    if (v == GM_CERT_OK) {
        /* What acceptance promises, checked independently of gm_trust_check. */
        FUZZ_CHECK(memcmp(c.body.org_id, fx.root.body.org_id, GM_ID_LEN) == 0);
        FUZZ_CHECK(strcmp(c.body.org_name, fx.root.body.org_name) == 0);
        FUZZ_CHECK(!gm_crl_revokes(crl, &c.body));
        FUZZ_CHECK(c.body.not_before <= FUZZ_NOW + GM_CERT_SKEW_SECONDS);
        FUZZ_CHECK(c.body.not_after >= FUZZ_NOW - GM_CERT_SKEW_SECONDS);
    }
    if (v >= GM_CERT_REVOKED) {
        /* The signature verified: walk the rest of the decision at other times and roles. */
        (void)gm_trust_check(&fx.trust, &c, 0, GM_ROLES_ALL);
        (void)gm_trust_check(&fx.trust, &c, UINT64_MAX, GM_ROLES_ALL);
        (void)gm_trust_check(&fx.trust, &c, FUZZ_NOW, GM_ROLE_BIT(GM_ROLE_HANDHELD));
    }
}

static void fuzz_root(const uint8_t *data, size_t size)
{
    uint8_t id[GM_ID_LEN];
    gm_root_t r;

    if (gm_root_decode(data, size, &r) != 0) {
        return;
    }
    FUZZ_CHECK(r.encoded_len == size && memcmp(r.encoded, data, size) == 0);
    gm_id_from_pk(id, r.body.root_pk);
    FUZZ_CHECK(memcmp(id, r.body.org_id, GM_ID_LEN) == 0);
    FUZZ_CHECK(gm_name_is_valid(r.body.org_name));
    gm_trust_init(&scratch);
    FUZZ_CHECK(gm_trust_add_root(&scratch, &r) == 0);
    FUZZ_CHECK(gm_trust_add_root(&scratch, &r) == GM_EEXIST);
    FUZZ_CHECK(gm_trust_find_root(&scratch, r.body.org_id) != NULL);
    gm_trust_close(&scratch);
}

static void fuzz_crl(const uint8_t *data, size_t size)
{
    gm_crl_t crl, opened;
    int err;

    /* The verified path: what it accepts, the plain decoder reads the same way. */
    err = gm_trust_open_crl(&fx.trust, data, size, &opened);
    FUZZ_CHECK(err == 0 || err == GM_EPROTO || err == GM_ENOENT || err == GM_EAUTH ||
               err == GM_ENOMEM);
    if (err == 0) {
        FUZZ_CHECK(gm_crl_verify(&opened, &fx.root) == 0);
        FUZZ_CHECK(gm_crl_decode(data, size, &crl) == 0);
        FUZZ_CHECK(crl.body.seq == opened.body.seq && crl.raw_body_len == opened.raw_body_len);
        gm_crl_free(&crl);
        gm_crl_free(&opened);
    }
    if (gm_crl_decode(data, size, &crl) != 0) {
        return;
    }
    FUZZ_CHECK(crl.encoded_len == size && memcmp(crl.encoded, data, size) == 0);
    (void)gm_crl_revokes(&crl, &fx.cert.body);
    gm_trust_init(&scratch);
    FUZZ_CHECK(gm_trust_add_root(&scratch, &fx.root) == 0);
    err = gm_trust_add_crl(&scratch, &crl); /* takes crl on success */
    FUZZ_CHECK(err == 0 || err == GM_ENOENT || err == GM_EAUTH);
    FUZZ_CHECK((err == 0) == (gm_trust_find_crl(&scratch, fx.root.body.org_id) != NULL));
    if (err == 0) {
        FUZZ_CHECK(crl.encoded == NULL);
        (void)gm_trust_check(&scratch, &fx.cert, FUZZ_NOW, GM_ROLES_ALL);
    }
    gm_crl_free(&crl);
    gm_trust_close(&scratch);
}

/* ---- proto/wire_cert.h: decode -> encode -> decode ---- */

static bool root_body_equal(const gm_root_body_t *a, const gm_root_body_t *b)
{
    return memcmp(a->org_id, b->org_id, GM_ID_LEN) == 0 && strcmp(a->org_name, b->org_name) == 0 &&
           memcmp(a->root_pk, b->root_pk, GM_KEY_LEN) == 0 && a->created == b->created;
}

static bool cert_body_equal(const gm_cert_body_t *a, const gm_cert_body_t *b)
{
    return memcmp(a->org_id, b->org_id, GM_ID_LEN) == 0 && strcmp(a->org_name, b->org_name) == 0 &&
           a->serial == b->serial && memcmp(a->node_id, b->node_id, GM_ID_LEN) == 0 &&
           strcmp(a->callsign, b->callsign) == 0 && a->role == b->role &&
           memcmp(a->sign_pk, b->sign_pk, GM_KEY_LEN) == 0 &&
           memcmp(a->link_pk, b->link_pk, GM_KEY_LEN) == 0 &&
           memcmp(a->e2e_pk, b->e2e_pk, GM_KEY_LEN) == 0 && a->not_before == b->not_before &&
           a->not_after == b->not_after;
}

static bool crl_body_equal(const gm_crl_body_t *a, const gm_crl_body_t *b)
{
    return memcmp(a->org_id, b->org_id, GM_ID_LEN) == 0 && a->seq == b->seq &&
           a->issued_at == b->issued_at && a->next_update == b->next_update &&
           a->n_serials == b->n_serials && a->n_node_ids == b->n_node_ids &&
           (a->n_serials == 0 ||
            memcmp(a->serials, b->serials, a->n_serials * sizeof *a->serials) == 0) &&
           (a->n_node_ids == 0 ||
            memcmp(a->node_ids, b->node_ids, a->n_node_ids * sizeof *a->node_ids) == 0);
}

/*
 * The round trip of one body type: decode buf, encode, decode the encoding,
 * compare, and encode once more to the same bytes. CODEC is root, cert or crl.
 */
#define ROUND_TRIP(CODEC, TYPE, buf, len, free_body)                                               \
    do {                                                                                           \
        TYPE b1, b2;                                                                               \
        uint8_t *e1, *e2;                                                                          \
        size_t e1_len, e2_len;                                                                     \
        if (gm_wire_##CODEC##_body_decode(buf, len, &b1) == 0) {                                   \
            FUZZ_CHECK(gm_wire_##CODEC##_body_encode(&b1, &e1, &e1_len) == 0);                     \
            FUZZ_CHECK(gm_wire_##CODEC##_body_decode(e1, e1_len, &b2) == 0);                       \
            FUZZ_CHECK(CODEC##_body_equal(&b1, &b2));                                              \
            FUZZ_CHECK(gm_wire_##CODEC##_body_encode(&b2, &e2, &e2_len) == 0);                     \
            FUZZ_CHECK(same_bytes(e1, e1_len, e2, e2_len));                                        \
            free(e1);                                                                              \
            free(e2);                                                                              \
            free_body(&b1);                                                                        \
            free_body(&b2);                                                                        \
        }                                                                                          \
    } while (0)

static void free_nothing(const void *body)
{
    (void)body;
}

static void round_trip_bodies(const uint8_t *buf, size_t len)
{
    ROUND_TRIP(root, gm_root_body_t, buf, len, free_nothing);
    ROUND_TRIP(cert, gm_cert_body_t, buf, len, free_nothing);
    ROUND_TRIP(crl, gm_crl_body_t, buf, len, gm_crl_body_free);
}

/* The Signed envelope, then the bodies it carries. */
static void fuzz_envelope(const uint8_t *data, size_t size)
{
    gm_signed_t s1, s2;
    uint8_t *enc;
    size_t enc_len;

    if (gm_wire_signed_decode(data, size, FUZZ_SIGNED_MAX, &s1) != 0) {
        return;
    }
    FUZZ_CHECK(gm_wire_signed_encode(&s1, &enc, &enc_len) == 0);
    FUZZ_CHECK(gm_wire_signed_decode(enc, enc_len, FUZZ_SIGNED_MAX, &s2) == 0);
    FUZZ_CHECK(s1.kind == s2.kind && memcmp(s1.signer, s2.signer, GM_ID_LEN) == 0 &&
               memcmp(s1.signature, s2.signature, GM_SIG_LEN) == 0 &&
               same_bytes(s1.body, s1.body_len, s2.body, s2.body_len));
    free(enc);
    gm_signed_free(&s2);
    round_trip_bodies(s1.body, s1.body_len);
    gm_signed_free(&s1);
}

static void fuzz_ledger(const uint8_t *data, size_t size)
{
    gm_blob_t *l1, *l2;
    gm_crl_body_t r1, r2;
    size_t n1, n2;
    uint8_t *enc;
    size_t enc_len;

    if (gm_wire_ledger_decode(data, size, &l1, &n1, &r1) != 0) {
        return;
    }
    FUZZ_CHECK(gm_wire_ledger_encode(l1, n1, &r1, &enc, &enc_len) == 0);
    FUZZ_CHECK(gm_wire_ledger_decode(enc, enc_len, &l2, &n2, &r2) == 0);
    FUZZ_CHECK(n1 == n2);
    for (size_t i = 0; i < n1; i++) {
        FUZZ_CHECK(same_bytes(l1[i].data, l1[i].len, l2[i].data, l2[i].len));
    }
    FUZZ_CHECK(r1.seq == r2.seq && r1.n_serials == r2.n_serials &&
               r1.n_node_ids == r2.n_node_ids);
    FUZZ_CHECK(same_bytes((const uint8_t *)r1.serials, r1.n_serials * sizeof *r1.serials,
                          (const uint8_t *)r2.serials, r2.n_serials * sizeof *r2.serials));
    FUZZ_CHECK(same_bytes((const uint8_t *)r1.node_ids, r1.n_node_ids * GM_ID_LEN,
                          (const uint8_t *)r2.node_ids, r2.n_node_ids * GM_ID_LEN));
    free(enc);
    gm_blob_list_free(l1, n1);
    gm_blob_list_free(l2, n2);
    gm_crl_body_free(&r1);
    gm_crl_body_free(&r2);
}

/* ---- key files ---- */

static bool keyfile_equal(const gm_keyfile_wire_t *a, const gm_keyfile_wire_t *b)
{
    if (a->kind != b->kind || a->sealed != b->sealed) {
        return false;
    }
    if (!a->sealed) {
        return same_bytes(a->secret, a->secret_len, b->secret, b->secret_len);
    }
    return a->opslimit == b->opslimit && a->memlimit == b->memlimit &&
           memcmp(a->salt, b->salt, sizeof a->salt) == 0 &&
           memcmp(a->nonce, b->nonce, sizeof a->nonce) == 0 &&
           same_bytes(a->ciphertext, a->ciphertext_len, b->ciphertext, b->ciphertext_len);
}

static void fuzz_keyfile_wire(const uint8_t *data, size_t size)
{
    gm_keyfile_wire_t k1, k2;
    uint8_t enc[GM_KEYFILE_MAX_LEN];
    size_t enc_len;

    if (gm_wire_keyfile_decode(data, size, &k1) != 0) {
        return;
    }
    FUZZ_CHECK(gm_wire_keyfile_encode(&k1, enc, sizeof enc, &enc_len) == 0);
    FUZZ_CHECK(gm_wire_keyfile_decode(enc, enc_len, &k2) == 0);
    FUZZ_CHECK(keyfile_equal(&k1, &k2));
    sodium_memzero(&k1, sizeof k1);
    sodium_memzero(&k2, sizeof k2);
    sodium_memzero(enc, sizeof enc);
}

/* Decodes as one kind without a passphrase; a plain file must survive re-encoding. */
static void fuzz_keyfile_kind(const uint8_t *data, size_t size, gm_key_kind_t kind,
                              size_t secret_len, int sealed)
{
    uint8_t secret[GM_NODE_SECRET_LEN], again[GM_NODE_SECRET_LEN];
    uint8_t enc[GM_KEYFILE_MAX_LEN];
    size_t enc_len;
    int err = gm_keyseal_decode(data, size, kind, NULL, 0, secret, secret_len);

    FUZZ_CHECK(err != 0 || sealed == 0); /* no secret from a sealed or broken file */
    FUZZ_CHECK(sealed != 1 || err == GM_EPASS || err == GM_EPROTO);
    if (err == 0) {
        FUZZ_CHECK(gm_keyseal_encode(kind, secret, secret_len, NULL, 0, 0, 0, enc, sizeof enc,
                                     &enc_len) == 0);
        FUZZ_CHECK(gm_keyseal_decode(enc, enc_len, kind, NULL, 0, again, secret_len) == 0);
        FUZZ_CHECK(memcmp(secret, again, secret_len) == 0);
    }
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(again, sizeof again);
    sodium_memzero(enc, sizeof enc);
}

static void fuzz_keyfile(const uint8_t *data, size_t size)
{
    int sealed = gm_keyseal_is_sealed(data, size);

    FUZZ_CHECK(sealed == 0 || sealed == 1 || sealed == GM_EPROTO);
    fuzz_keyfile_kind(data, size, GM_KEY_ORG_ROOT, GM_ORG_SECRET_LEN, sealed);
    fuzz_keyfile_kind(data, size, GM_KEY_NODE, GM_NODE_SECRET_LEN, sealed);
    fuzz_keyfile_wire(data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fixture();
    fuzz_cert(data, size);
    fuzz_root(data, size);
    fuzz_crl(data, size);
    fuzz_envelope(data, size);
    round_trip_bodies(data, size);
    fuzz_ledger(data, size);
    fuzz_keyfile(data, size);
    return 0;
}

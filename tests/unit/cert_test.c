/* crypto/cert: roots, certificates, revocation lists and the acceptance decision. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cert.h"
#include "crypto/keys.h"

#define NOW 1800000000ull
#define DAY 86400ull

static uint8_t seed_a[32] = {1}, seed_b[32] = {2};
static gm_root_t root_a, root_b;
static gm_trust_t trust; /* trusts org A only */

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    cr_assert_eq(gm_root_create(seed_a, "acme-security", NOW - DAY, &root_a), 0);
    cr_assert_eq(gm_root_create(seed_b, "metro-police", NOW - DAY, &root_b), 0);
    gm_trust_init(&trust);
    cr_assert_eq(gm_trust_add_root(&trust, &root_a), 0);
}

static void teardown(void)
{
    gm_trust_close(&trust);
}

TestSuite(cert, .init = setup, .fini = teardown);

static void make_template(gm_cert_body_t *t, gm_node_keys_t *keys, const char *callsign,
                          uint64_t serial)
{
    gm_node_keys_generate(keys);
    memset(t, 0, sizeof *t);
    snprintf(t->callsign, sizeof t->callsign, "%s", callsign);
    t->role = GM_ROLE_HANDHELD;
    t->serial = serial;
    memcpy(t->sign_pk, keys->sign_pk, 32);
    memcpy(t->link_pk, keys->link_pk, 32);
    memcpy(t->e2e_pk, keys->e2e_pk, 32);
    t->not_before = NOW - DAY;
    t->not_after = NOW + 30 * DAY;
}

static void issue(gm_cert_t *c, const char *callsign, uint64_t serial)
{
    gm_cert_body_t t;
    gm_node_keys_t k;

    make_template(&t, &k, callsign, serial);
    cr_assert_eq(gm_cert_issue(seed_a, &root_a, &t, c), 0);
}

/* Signs an arbitrary body as a certificate of signer, the way a hostile CA could. */
static void forge(gm_cert_t *out, const gm_cert_body_t *body, const uint8_t seed[32],
                  const gm_root_t *signer)
{
    static const char ctx[] = "guardmesh/cert/1";
    uint8_t pk[32], sk[64], *raw, *msg, *enc;
    size_t raw_len, enc_len;
    gm_signed_t s;

    cr_assert_eq(gm_wire_cert_body_encode(body, &raw, &raw_len), 0);
    msg = malloc(sizeof ctx + raw_len);
    memcpy(msg, ctx, sizeof ctx);
    memcpy(msg + sizeof ctx, raw, raw_len);
    crypto_sign_seed_keypair(pk, sk, seed);
    crypto_sign_detached(s.signature, NULL, msg, sizeof ctx + raw_len, sk);
    s.kind = GM_SIGNED_CERT;
    memcpy(s.signer, signer->body.org_id, 16);
    s.body = raw;
    s.body_len = raw_len;
    cr_assert_eq(gm_wire_signed_encode(&s, &enc, &enc_len), 0);
    cr_assert_eq(gm_cert_decode(enc, enc_len, out), 0);
    free(msg);
    free(raw);
    free(enc);
}

static gm_cert_verdict_t check(const gm_cert_t *c, uint64_t at)
{
    return gm_trust_check(&trust, c, at, GM_ROLES_ALL);
}

Test(cert, issued_certificate_round_trips_and_is_acceptable)
{
    gm_cert_t c, d;
    uint8_t id[16];

    issue(&c, "guard-1", 1);
    cr_assert_eq(gm_cert_decode(c.encoded, c.encoded_len, &d), 0);
    cr_assert_str_eq(d.body.callsign, "guard-1");
    cr_assert_str_eq(d.body.org_name, "acme-security");
    cr_assert_arr_eq(d.body.org_id, root_a.body.org_id, 16);
    gm_id_from_pk(id, d.body.sign_pk);
    cr_assert_arr_eq(d.body.node_id, id, 16);
    cr_assert_eq(check(&d, NOW), GM_CERT_OK);
    cr_assert_lt(c.encoded_len, 400); /* about 270 bytes: fits a handshake payload easily */
}

Test(cert, garbage_and_truncated_bytes_are_malformed)
{
    gm_cert_t c, out;
    uint8_t junk[200];

    issue(&c, "guard-1", 1);
    randombytes_buf(junk, sizeof junk);
    cr_assert_eq(gm_trust_check_encoded(&trust, junk, sizeof junk, NOW, GM_ROLES_ALL, &out),
                 GM_CERT_MALFORMED);
    for (size_t cut = 0; cut < c.encoded_len; cut += 7) {
        cr_assert_eq(gm_trust_check_encoded(&trust, c.encoded, cut, NOW, GM_ROLES_ALL, &out),
                     GM_CERT_MALFORMED, "cut at %zu", cut);
    }
    cr_assert_eq(gm_trust_check_encoded(&trust, c.encoded, c.encoded_len, NOW, GM_ROLES_ALL,
                                        &out),
                 GM_CERT_OK);
}

Test(cert, a_root_record_is_not_a_certificate)
{
    gm_cert_t out;

    cr_assert_eq(gm_trust_check_encoded(&trust, root_a.encoded, root_a.encoded_len, NOW,
                                        GM_ROLES_ALL, &out),
                 GM_CERT_MALFORMED);
}

Test(cert, node_id_that_is_not_the_hash_of_the_signing_key_is_malformed)
{
    gm_cert_t c;
    uint8_t *raw, *enc;
    size_t raw_len, enc_len;
    gm_signed_t s;

    issue(&c, "guard-1", 1);
    c.body.node_id[0] ^= 1;
    cr_assert_eq(gm_wire_cert_body_encode(&c.body, &raw, &raw_len), 0);
    s.kind = GM_SIGNED_CERT;
    memcpy(s.signer, c.signer, 16);
    memcpy(s.signature, c.signature, 64);
    s.body = raw;
    s.body_len = raw_len;
    cr_assert_eq(gm_wire_signed_encode(&s, &enc, &enc_len), 0);
    cr_assert_eq(gm_cert_decode(enc, enc_len, &c), GM_EPROTO);
    free(raw);
    free(enc);
}

Test(cert, certificate_of_an_untrusted_organisation_is_refused)
{
    gm_cert_body_t t;
    gm_node_keys_t k;
    gm_cert_t c;

    make_template(&t, &k, "officer-7", 1);
    cr_assert_eq(gm_cert_issue(seed_b, &root_b, &t, &c), 0);
    cr_assert_eq(check(&c, NOW), GM_CERT_UNKNOWN_ISSUER);
    cr_assert_eq(gm_trust_add_root(&trust, &root_b), 0);
    cr_assert_eq(check(&c, NOW), GM_CERT_OK);
}

Test(cert, any_flipped_bit_in_body_or_signature_is_a_bad_signature)
{
    gm_cert_t c;

    issue(&c, "guard-1", 1);
    c.signature[10] ^= 4;
    cr_assert_eq(check(&c, NOW), GM_CERT_BAD_SIGNATURE);
    c.signature[10] ^= 4;
    c.raw_body[c.raw_body_len - 1] ^= 1; /* the body as received, not a re-encoding */
    cr_assert_eq(check(&c, NOW), GM_CERT_BAD_SIGNATURE);
}

Test(cert, signature_with_another_context_does_not_verify)
{
    gm_cert_t c;
    uint8_t pk[32], sk[64], *msg;
    static const char root_ctx[] = "guardmesh/root/1";

    issue(&c, "guard-1", 1);
    msg = malloc(sizeof root_ctx + c.raw_body_len);
    memcpy(msg, root_ctx, sizeof root_ctx);
    memcpy(msg + sizeof root_ctx, c.raw_body, c.raw_body_len);
    crypto_sign_seed_keypair(pk, sk, seed_a);
    crypto_sign_detached(c.signature, NULL, msg, sizeof root_ctx + c.raw_body_len, sk);
    cr_assert_eq(check(&c, NOW), GM_CERT_BAD_SIGNATURE);
    free(msg);
}

Test(cert, trusted_partner_cannot_issue_certificates_naming_our_organisation)
{
    gm_cert_body_t t;
    gm_node_keys_t k;
    gm_cert_t c;

    cr_assert_eq(gm_trust_add_root(&trust, &root_b), 0);
    make_template(&t, &k, "fake-guard", 9);
    memcpy(t.org_id, root_a.body.org_id, 16); /* claims to be acme-security's */
    strcpy(t.org_name, "acme-security");
    gm_id_from_pk(t.node_id, t.sign_pk);
    forge(&c, &t, seed_b, &root_b); /* but metro-police signed it */
    cr_assert_eq(check(&c, NOW), GM_CERT_WRONG_ORG);
}

Test(cert, validity_window_honours_ten_minutes_of_skew_both_ways)
{
    gm_cert_t c;

    issue(&c, "guard-1", 1);
    uint64_t nb = c.body.not_before, na = c.body.not_after;
    cr_assert_eq(check(&c, nb - GM_CERT_SKEW_SECONDS), GM_CERT_OK);
    cr_assert_eq(check(&c, nb - GM_CERT_SKEW_SECONDS - 1), GM_CERT_NOT_YET_VALID);
    cr_assert_eq(check(&c, na + GM_CERT_SKEW_SECONDS), GM_CERT_OK);
    cr_assert_eq(check(&c, na + GM_CERT_SKEW_SECONDS + 1), GM_CERT_EXPIRED);
}

Test(cert, extreme_validity_values_do_not_wrap_around)
{
    gm_cert_body_t t;
    gm_node_keys_t k;
    gm_cert_t c;

    make_template(&t, &k, "relay-1", 1);
    t.not_before = 0;
    t.not_after = UINT64_MAX;
    cr_assert_eq(gm_cert_issue(seed_a, &root_a, &t, &c), 0);
    cr_assert_eq(check(&c, NOW), GM_CERT_OK);
    cr_assert_eq(check(&c, UINT64_MAX), GM_CERT_OK);
    t.not_before = UINT64_MAX - 1;
    cr_assert_eq(gm_cert_issue(seed_a, &root_a, &t, &c), 0);
    cr_assert_eq(check(&c, NOW), GM_CERT_NOT_YET_VALID);
}

Test(cert, role_outside_the_allowed_set_is_refused)
{
    gm_cert_t c;

    issue(&c, "guard-1", 1);
    cr_assert_eq(gm_trust_check(&trust, &c, NOW, GM_ROLE_BIT(GM_ROLE_BRIDGE)),
                 GM_CERT_WRONG_ROLE);
    cr_assert_eq(gm_trust_check(&trust, &c, NOW, GM_ROLE_BIT(GM_ROLE_HANDHELD)), GM_CERT_OK);
}

static void make_crl(gm_crl_t *out, const uint8_t seed[32], const gm_root_t *root, uint64_t seq,
                     uint64_t serial, const uint8_t *node_id)
{
    gm_crl_body_t t;
    uint64_t serials[1] = {serial};
    uint8_t ids[1][16];

    memset(&t, 0, sizeof t);
    t.seq = seq;
    t.issued_at = NOW;
    t.next_update = NOW + 7 * DAY;
    t.serials = serials;
    t.n_serials = serial != 0 ? 1 : 0;
    if (node_id != NULL) {
        memcpy(ids[0], node_id, 16);
        t.node_ids = ids;
        t.n_node_ids = 1;
    }
    cr_assert_eq(gm_crl_issue(seed, root, &t, out), 0);
}

Test(cert, revoked_by_serial_or_by_node_id)
{
    gm_cert_t c1, c2, c3;
    gm_crl_t crl;

    issue(&c1, "guard-1", 1);
    issue(&c2, "guard-2", 2);
    issue(&c3, "guard-3", 3);
    make_crl(&crl, seed_a, &root_a, 1, 1, c2.body.node_id);
    cr_assert_eq(gm_trust_add_crl(&trust, &crl), 0);
    cr_assert_eq(check(&c1, NOW), GM_CERT_REVOKED);
    cr_assert_eq(check(&c2, NOW), GM_CERT_REVOKED);
    cr_assert_eq(check(&c3, NOW), GM_CERT_OK);
}

Test(cert, revocation_lists_must_be_newer_signed_and_trusted)
{
    gm_crl_t crl;

    make_crl(&crl, seed_a, &root_a, 5, 1, NULL);
    cr_assert_eq(gm_trust_add_crl(&trust, &crl), 0);
    make_crl(&crl, seed_a, &root_a, 5, 2, NULL);
    cr_assert_eq(gm_trust_add_crl(&trust, &crl), GM_EREPLAY); /* same sequence */
    gm_crl_free(&crl);
    make_crl(&crl, seed_a, &root_a, 4, 2, NULL);
    cr_assert_eq(gm_trust_add_crl(&trust, &crl), GM_EREPLAY); /* older */
    gm_crl_free(&crl);
    make_crl(&crl, seed_a, &root_a, 6, 2, NULL);
    crl.signature[0] ^= 1;
    cr_assert_eq(gm_trust_add_crl(&trust, &crl), GM_EAUTH);
    gm_crl_free(&crl);
    make_crl(&crl, seed_b, &root_b, 9, 2, NULL);
    cr_assert_eq(gm_trust_add_crl(&trust, &crl), GM_ENOENT); /* org B not trusted */
    gm_crl_free(&crl);
    make_crl(&crl, seed_a, &root_a, 6, 2, NULL);
    cr_assert_eq(gm_trust_add_crl(&trust, &crl), 0);
    cr_assert_eq(gm_trust_find_crl(&trust, root_a.body.org_id)->body.seq, 6);
}

Test(cert, revocation_list_round_trips_and_detects_truncation)
{
    gm_crl_t crl, back;

    make_crl(&crl, seed_a, &root_a, 3, 42, root_b.body.org_id);
    cr_assert_eq(gm_crl_decode(crl.encoded, crl.encoded_len, &back), 0);
    cr_assert_eq(back.body.seq, 3);
    cr_assert_eq(back.body.n_serials, 1);
    cr_assert_eq(back.body.serials[0], 42);
    cr_assert_eq(gm_crl_verify(&back, &root_a), 0);
    cr_assert_eq(gm_crl_verify(&back, &root_b), GM_EAUTH);
    gm_crl_free(&back);
    for (size_t cut = 1; cut < crl.encoded_len; cut += 5) {
        int err = gm_crl_decode(crl.encoded, cut, &back);
        cr_assert_neq(err, 0, "cut at %zu decoded", cut);
    }
    gm_crl_free(&crl);
}

Test(cert, root_record_self_signature_and_id_are_checked)
{
    gm_root_t r;
    uint8_t copy[GM_CERT_MAX_LEN];

    cr_assert_eq(gm_root_decode(root_a.encoded, root_a.encoded_len, &r), 0);
    cr_assert_str_eq(r.body.org_name, "acme-security");
    memcpy(copy, root_a.encoded, root_a.encoded_len);
    copy[root_a.encoded_len - 1] ^= 1; /* last signature byte */
    cr_assert_eq(gm_root_decode(copy, root_a.encoded_len, &r), GM_EAUTH);
    cr_assert_eq(gm_root_decode(copy, root_a.encoded_len / 2, &r), GM_EPROTO);
}

Test(cert, issue_refuses_weak_or_mixed_up_keys)
{
    gm_cert_body_t t;
    gm_node_keys_t k;
    gm_cert_t c;

    make_template(&t, &k, "guard-1", 1);
    memset(t.link_pk, 0, 32); /* low-order X25519 point */
    cr_assert_eq(gm_cert_issue(seed_a, &root_a, &t, &c), GM_EPROTO);
    make_template(&t, &k, "guard-1", 1);
    memset(t.sign_pk, 0, 32);
    t.sign_pk[0] = 1; /* the Ed25519 identity: small order */
    cr_assert_eq(gm_cert_issue(seed_a, &root_a, &t, &c), GM_EPROTO);
    make_template(&t, &k, "guard-1", 1);
    memcpy(t.e2e_pk, t.link_pk, 32); /* one key for two purposes */
    cr_assert_eq(gm_cert_issue(seed_a, &root_a, &t, &c), GM_EPROTO);
    make_template(&t, &k, "guard 1", 1);
    cr_assert_eq(gm_cert_issue(seed_a, &root_a, &t, &c), GM_EPROTO);
    make_template(&t, &k, "guard-1", 1);
    cr_assert_eq(gm_cert_issue(seed_b, &root_a, &t, &c), GM_EAUTH); /* wrong CA key */
}

Test(cert, certificates_sharing_any_key_are_reported)
{
    gm_cert_body_t t;
    gm_node_keys_t k;
    gm_cert_t a, b, c;

    make_template(&t, &k, "guard-1", 1);
    cr_assert_eq(gm_cert_issue(seed_a, &root_a, &t, &a), 0);
    t.serial = 2;
    strcpy(t.callsign, "guard-2");
    cr_assert_eq(gm_cert_issue(seed_a, &root_a, &t, &b), 0);
    cr_assert_eq(gm_cert_shared_keys(&a, &b), GM_SHARED_SIGN | GM_SHARED_LINK | GM_SHARED_E2E);
    cr_assert_eq(gm_cert_shared_keys(&a, &a), 0);
    issue(&c, "guard-3", 3);
    cr_assert_eq(gm_cert_shared_keys(&a, &c), 0);
    memcpy(t.e2e_pk, c.body.e2e_pk, 32);
    t.serial = 4;
    cr_assert_eq(gm_cert_issue(seed_a, &root_a, &t, &b), 0);
    cr_assert_eq(gm_cert_shared_keys(&c, &b), GM_SHARED_E2E);
}

Test(cert, every_verdict_has_a_distinct_phrase)
{
    for (int i = GM_CERT_OK; i <= GM_CERT_WRONG_ROLE; i++) {
        for (int j = i + 1; j <= GM_CERT_WRONG_ROLE; j++) {
            cr_assert_str_neq(gm_cert_verdict_str(i), gm_cert_verdict_str(j));
        }
    }
}

/*
 * A Signed envelope around arbitrary body bytes; signed over ctx || body with
 * seed, or with a random (invalid) signature when seed is NULL. free() it.
 */
static uint8_t *wrap(gm_signed_kind_t kind, const uint8_t signer[16], const uint8_t *body,
                     size_t body_len, const uint8_t *seed, const char *ctx, size_t *len)
{
    uint8_t pk[32], sk[64], *msg, *enc;
    size_t ctx_len = strlen(ctx) + 1;
    gm_signed_t s;

    s.kind = kind;
    memcpy(s.signer, signer, 16);
    s.body = (uint8_t *)body;
    s.body_len = body_len;
    randombytes_buf(s.signature, sizeof s.signature);
    if (seed != NULL) {
        msg = malloc(ctx_len + body_len);
        memcpy(msg, ctx, ctx_len);
        memcpy(msg + ctx_len, body, body_len);
        crypto_sign_seed_keypair(pk, sk, seed);
        crypto_sign_detached(s.signature, NULL, msg, ctx_len + body_len, sk);
        free(msg);
    }
    cr_assert_eq(gm_wire_signed_encode(&s, &enc, len), 0);
    return enc;
}

/* Not a CertificateBody or RevocationBody: a field 1 varint that never ends. */
static const uint8_t junk_body[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff};

Test(cert, certificate_signature_is_checked_before_its_body_is_parsed)
{
    gm_cert_t out;
    uint8_t *enc;
    size_t len;

    /* Unauthenticated junk never reaches the body parser: the verdict says why it stopped. */
    enc = wrap(GM_SIGNED_CERT, root_a.body.org_id, junk_body, sizeof junk_body, NULL,
               "guardmesh/cert/1", &len);
    cr_assert_eq(gm_trust_check_encoded(&trust, enc, len, NOW, GM_ROLES_ALL, &out),
                 GM_CERT_BAD_SIGNATURE);
    free(enc);
    enc = wrap(GM_SIGNED_CERT, root_b.body.org_id, junk_body, sizeof junk_body, NULL,
               "guardmesh/cert/1", &len);
    cr_assert_eq(gm_trust_check_encoded(&trust, enc, len, NOW, GM_ROLES_ALL, &out),
                 GM_CERT_UNKNOWN_ISSUER);
    free(enc);
    /* The same junk, really signed by the trusted root: parsed, and refused as malformed. */
    enc = wrap(GM_SIGNED_CERT, root_a.body.org_id, junk_body, sizeof junk_body, seed_a,
               "guardmesh/cert/1", &len);
    cr_assert_eq(gm_trust_check_encoded(&trust, enc, len, NOW, GM_ROLES_ALL, &out),
                 GM_CERT_MALFORMED);
    free(enc);
}

Test(cert, certificate_output_is_untouched_until_its_signature_verifies)
{
    gm_cert_t c, out, pattern;
    uint8_t enc[GM_CERT_MAX_LEN];

    issue(&c, "guard-1", 1);
    memcpy(enc, c.encoded, c.encoded_len);
    enc[c.encoded_len - 1] ^= 1; /* the last signature byte */
    memset(&pattern, 0xa5, sizeof pattern);
    out = pattern;
    cr_assert_eq(gm_trust_check_encoded(&trust, enc, c.encoded_len, NOW, GM_ROLES_ALL, &out),
                 GM_CERT_BAD_SIGNATURE);
    cr_assert_arr_eq(&out, &pattern, sizeof out, "an unauthenticated body was parsed into out");
    cr_assert_eq(gm_trust_check_encoded(&trust, c.encoded, c.encoded_len, NOW, GM_ROLES_ALL, &out),
                 GM_CERT_OK);
    cr_assert_str_eq(out.body.callsign, "guard-1");
}

Test(cert, revocation_list_signature_is_checked_before_its_body_is_parsed)
{
    gm_crl_t crl, out;
    uint8_t *enc;
    size_t len;

    enc = wrap(GM_SIGNED_CRL, root_a.body.org_id, junk_body, sizeof junk_body, NULL,
               "guardmesh/crl/1", &len);
    cr_assert_eq(gm_crl_open(enc, len, &root_a, &out), GM_EAUTH);
    cr_assert_eq(gm_trust_open_crl(&trust, enc, len, &out), GM_EAUTH);
    cr_assert_eq(gm_crl_open(enc, len, &root_b, &out), GM_EAUTH); /* another signer */
    free(enc);
    enc = wrap(GM_SIGNED_CRL, root_b.body.org_id, junk_body, sizeof junk_body, NULL,
               "guardmesh/crl/1", &len);
    cr_assert_eq(gm_trust_open_crl(&trust, enc, len, &out), GM_ENOENT); /* org B not trusted */
    free(enc);
    enc = wrap(GM_SIGNED_CRL, root_a.body.org_id, junk_body, sizeof junk_body, seed_a,
               "guardmesh/crl/1", &len);
    cr_assert_eq(gm_trust_open_crl(&trust, enc, len, &out), GM_EPROTO); /* signed, malformed */
    free(enc);

    make_crl(&crl, seed_a, &root_a, 4, 42, NULL);
    cr_assert_eq(gm_trust_open_crl(&trust, crl.encoded, crl.encoded_len, &out), 0);
    cr_assert_eq(out.body.seq, 4);
    cr_assert_eq(out.body.serials[0], 42);
    cr_assert_eq(gm_trust_add_crl(&trust, &out), 0);
    crl.encoded[crl.encoded_len - 1] ^= 1;
    cr_assert_eq(gm_crl_open(crl.encoded, crl.encoded_len, &root_a, &out), GM_EAUTH);
    cr_assert_eq(gm_crl_open(crl.encoded, crl.encoded_len / 2, &root_a, &out), GM_EPROTO);
    cr_assert_eq(gm_crl_open(root_a.encoded, root_a.encoded_len, &root_a, &out), GM_EPROTO);
    gm_crl_free(&crl);
}

Test(cert, trusted_organisation_name_cannot_be_taken_by_another_root)
{
    static const uint8_t seed_c[32] = {3}, seed_d[32] = {4};
    gm_root_t impostor, other;

    cr_assert_eq(gm_root_create(seed_c, "acme-security", NOW, &impostor), 0);
    cr_assert_eq(gm_trust_add_root(&trust, &impostor), GM_ECONFLICT);
    cr_assert_eq(trust.n_roots, 1);
    cr_assert_null(gm_trust_find_root(&trust, impostor.body.org_id));
    cr_assert_str_neq(gm_strerror(GM_ECONFLICT), "unknown error");
    cr_assert_eq(gm_trust_add_root(&trust, &root_a), GM_EEXIST); /* the same root again */
    cr_assert_eq(gm_root_create(seed_d, "acme-security-2", NOW, &other), 0);
    cr_assert_eq(gm_trust_add_root(&trust, &other), 0); /* a name that merely starts alike */
    cr_assert_eq(gm_trust_add_root(&trust, &root_b), 0);
}

#include "crypto/senderkey.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kdf.h"
#include "crypto/keylist_internal.h"
#include "proto/wire_e2e_state.h"

#define AEAD_KEY_LEN crypto_aead_chacha20poly1305_ietf_KEYBYTES
#define AEAD_NONCE_LEN crypto_aead_chacha20poly1305_ietf_NPUBBYTES
#define SEED_OKM_LEN (AEAD_KEY_LEN + AEAD_NONCE_LEN) /* 44 */
#define MSG_AD_LEN (GM_SK_GROUP_LEN + 4 + 4 + GM_SK_NODE_LEN)
#define CTX_LEN sizeof GM_SK_CTX /* with its terminating zero */
#define NOT_FOUND ((size_t)-1)

_Static_assert(GM_SK_TAG_LEN == crypto_aead_chacha20poly1305_ietf_ABYTES, "tag length");
_Static_assert(GM_SK_SIG_LEN == crypto_sign_BYTES, "signature length");
_Static_assert(GM_SK_KEY_LEN == crypto_sign_PUBLICKEYBYTES, "sign key length");

/* seed_i = HMAC(ck_i, 0x01), ck_{i+1} = HMAC(ck_i, 0x02); ck may be stepped in place. */
static void step_chain(uint8_t ck[GM_SK_KEY_LEN], uint8_t seed[GM_SK_KEY_LEN])
{
    static const uint8_t seed_byte = 0x01, ck_byte = 0x02;
    uint8_t next[GM_SK_KEY_LEN];

    gm_hmac_sha256(seed, ck, GM_SK_KEY_LEN, &seed_byte, 1, NULL, 0);
    gm_hmac_sha256(next, ck, GM_SK_KEY_LEN, &ck_byte, 1, NULL, 0);
    memcpy(ck, next, GM_SK_KEY_LEN);
    sodium_memzero(next, sizeof next);
}

/* AD = group_id || key_id || iteration || sender node id: what the signature also covers. */
static void build_ad(const gm_sk_state_t *s, uint32_t iteration,
                     const uint8_t sender[GM_SK_NODE_LEN], uint8_t ad[MSG_AD_LEN])
{
    memcpy(ad, s->group_id, GM_SK_GROUP_LEN);
    gm_store_u32_be(ad + GM_SK_GROUP_LEN, s->key_id);
    gm_store_u32_be(ad + GM_SK_GROUP_LEN + 4, iteration);
    memcpy(ad + GM_SK_GROUP_LEN + 8, sender, GM_SK_NODE_LEN);
}

/*
 * "guardmesh/skmsg/1\0" || ad || ct, malloc'd; NULL if out of memory. With
 * ct NULL the ciphertext's place is left for the caller to fill.
 */
static uint8_t *signed_bytes(const uint8_t ad[MSG_AD_LEN], const uint8_t *ct, size_t ct_len,
                             size_t *len)
{
    uint8_t *buf;

    if (ct_len > SIZE_MAX - CTX_LEN - MSG_AD_LEN) {
        return NULL;
    }
    *len = CTX_LEN + MSG_AD_LEN + ct_len;
    buf = malloc(*len);
    if (buf != NULL) {
        memcpy(buf, GM_SK_CTX, CTX_LEN);
        memcpy(buf + CTX_LEN, ad, MSG_AD_LEN);
        if (ct != NULL && ct_len > 0) {
            memcpy(buf + CTX_LEN + MSG_AD_LEN, ct, ct_len);
        }
    }
    return buf;
}

static int seed_key(const uint8_t seed[GM_SK_KEY_LEN], uint8_t okm[SEED_OKM_LEN])
{
    static const uint8_t zero_salt[GM_SHA256_LEN];

    return gm_hkdf_sha256(okm, SEED_OKM_LEN, zero_salt, sizeof zero_salt, seed, GM_SK_KEY_LEN,
                          GM_SK_INFO, strlen(GM_SK_INFO));
}

/* ---- set-up ---- */

void gm_sk_create(gm_sk_state_t *s, const uint8_t group_id[GM_SK_GROUP_LEN], uint32_t key_id,
                  const uint8_t chain_seed[GM_SK_KEY_LEN], const uint8_t sign_seed[GM_SK_KEY_LEN])
{
    uint8_t sk[crypto_sign_SECRETKEYBYTES];

    memset(s, 0, sizeof *s);
    memcpy(s->group_id, group_id, GM_SK_GROUP_LEN);
    s->key_id = key_id;
    memcpy(s->chain_key, chain_seed, GM_SK_KEY_LEN);
    memcpy(s->sign_seed, sign_seed, GM_SK_KEY_LEN);
    /* Only the seed is kept: the 64-byte key is always rebuilt from it (CRYPTO.md section 1). */
    crypto_sign_seed_keypair(s->sign_pk, sk, sign_seed);
    sodium_memzero(sk, sizeof sk);
    s->own = true;
}

void gm_sk_distribution(const gm_sk_state_t *s, gm_sk_dist_t *out)
{
    memcpy(out->group_id, s->group_id, GM_SK_GROUP_LEN);
    out->key_id = s->key_id;
    out->iteration = s->iteration;
    memcpy(out->chain_key, s->chain_key, GM_SK_KEY_LEN);
    memcpy(out->sign_pk, s->sign_pk, GM_SK_KEY_LEN);
}

int gm_sk_from_distribution(gm_sk_state_t *s, const gm_sk_dist_t *d)
{
    uint8_t curve[crypto_scalarmult_curve25519_BYTES];
    int ok;

    /* Refuses non-canonical and small-order Ed25519 keys (CRYPTO.md 9.10). */
    ok = crypto_sign_ed25519_pk_to_curve25519(curve, d->sign_pk) == 0;
    sodium_memzero(curve, sizeof curve);
    if (!ok) {
        return GM_EPROTO;
    }
    memset(s, 0, sizeof *s);
    memcpy(s->group_id, d->group_id, GM_SK_GROUP_LEN);
    s->key_id = d->key_id;
    s->iteration = d->iteration;
    memcpy(s->chain_key, d->chain_key, GM_SK_KEY_LEN);
    memcpy(s->sign_pk, d->sign_pk, GM_SK_KEY_LEN);
    return 0;
}

/* ---- sending ---- */

/* Encrypts into buf's ciphertext slot and signs the whole of buf. */
static int seal_and_sign(const gm_sk_state_t *s, const uint8_t seed[GM_SK_KEY_LEN], uint8_t *buf,
                         size_t len, const uint8_t *pt, size_t pt_len, uint8_t sig[GM_SK_SIG_LEN])
{
    uint8_t okm[SEED_OKM_LEN], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    int err = seed_key(seed, okm);

    if (err == 0) {
        crypto_aead_chacha20poly1305_ietf_encrypt(buf + CTX_LEN + MSG_AD_LEN, NULL, pt, pt_len,
                                                  buf + CTX_LEN, MSG_AD_LEN, NULL,
                                                  okm + AEAD_KEY_LEN, okm);
        crypto_sign_seed_keypair(pk, sk, s->sign_seed);
        crypto_sign_detached(sig, NULL, buf, len, sk);
    }
    sodium_memzero(okm, sizeof okm);
    sodium_memzero(sk, sizeof sk);
    return err;
}

int gm_sk_encrypt(gm_sk_state_t *s, const uint8_t sender[GM_SK_NODE_LEN], const uint8_t *pt,
                  size_t pt_len, uint32_t *iteration, uint8_t *ct, uint8_t sig[GM_SK_SIG_LEN])
{
    uint8_t ad[MSG_AD_LEN], seed[GM_SK_KEY_LEN], ck[GM_SK_KEY_LEN];
    size_t ct_len, len;
    uint8_t *buf;
    int err;

    if (!s->own) {
        return GM_ESTATE;
    }
    /* The last iteration is kept back so that a receiver's counter never wraps. */
    if (s->iteration == UINT32_MAX || pt_len > crypto_aead_chacha20poly1305_ietf_MESSAGEBYTES_MAX) {
        return GM_ELIMIT;
    }
    ct_len = pt_len + GM_SK_TAG_LEN;
    build_ad(s, s->iteration, sender, ad);
    buf = signed_bytes(ad, NULL, ct_len, &len);
    if (buf == NULL) {
        return GM_ENOMEM;
    }
    memcpy(ck, s->chain_key, GM_SK_KEY_LEN);
    step_chain(ck, seed);
    err = seal_and_sign(s, seed, buf, len, pt, pt_len, sig);
    if (err == 0) {
        memcpy(ct, buf + CTX_LEN + MSG_AD_LEN, ct_len);
        memcpy(s->chain_key, ck, GM_SK_KEY_LEN);
        *iteration = s->iteration++;
    }
    free(buf);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(ck, sizeof ck);
    return err;
}

/* ---- receiving ---- */

static int verify(const gm_sk_state_t *s, const uint8_t sender[GM_SK_NODE_LEN], uint32_t iteration,
                  const uint8_t *ct, size_t ct_len, const uint8_t sig[GM_SK_SIG_LEN])
{
    uint8_t ad[MSG_AD_LEN];
    size_t len;
    uint8_t *buf;
    int err;

    build_ad(s, iteration, sender, ad);
    buf = signed_bytes(ad, ct, ct_len, &len);
    if (buf == NULL) {
        return GM_ENOMEM;
    }
    err = crypto_sign_verify_detached(sig, buf, len, s->sign_pk) == 0 ? 0 : GM_EAUTH;
    free(buf);
    return err;
}

static int open_msg(const gm_sk_state_t *s, const uint8_t seed[GM_SK_KEY_LEN],
                    const uint8_t sender[GM_SK_NODE_LEN], uint32_t iteration, const uint8_t *ct,
                    size_t ct_len, uint8_t *pt)
{
    uint8_t okm[SEED_OKM_LEN], ad[MSG_AD_LEN];
    int err = seed_key(seed, okm);

    build_ad(s, iteration, sender, ad);
    if (err == 0 && crypto_aead_chacha20poly1305_ietf_decrypt(
                        pt, NULL, NULL, ct, ct_len, ad, sizeof ad, okm + AEAD_KEY_LEN, okm) != 0) {
        err = GM_EAUTH;
    }
    sodium_memzero(okm, sizeof okm);
    return err;
}

static size_t find_skipped(const gm_sk_state_t *s, uint32_t iteration, uint64_t now)
{
    for (size_t i = 0; i < s->n_skipped; i++) {
        if (s->skipped[i].iteration == iteration && s->skipped[i].expires >= now) {
            return i;
        }
    }
    return NOT_FOUND;
}

size_t gm_sk_expire(gm_sk_state_t *s, uint64_t now)
{
    size_t kept = 0, before = s->n_skipped;

    for (size_t i = 0; i < s->n_skipped; i++) {
        if (s->skipped[i].expires < now) {
            continue;
        }
        if (kept != i) {
            s->skipped[kept] = s->skipped[i];
        }
        kept++;
    }
    s->skipped = gm__keylist_truncate(s->skipped, &s->n_skipped, kept, sizeof *s->skipped);
    return before - kept;
}

/* Refuses, before any seed is derived or memory copied, what we hold no key for. */
static int check_iteration(const gm_sk_state_t *s, uint32_t iteration, uint64_t now)
{
    if (find_skipped(s, iteration, now) != NOT_FOUND) {
        return 0;
    }
    if (iteration < s->iteration) {
        return GM_EREPLAY;
    }
    if (iteration == UINT32_MAX || iteration - s->iteration > GM_SK_MAX_SKIP) {
        return GM_ELIMIT;
    }
    return 0;
}

/* Keeps the seeds of the iterations before until, for messages still on their way. */
static int skip_seeds(gm_sk_state_t *s, uint32_t until, uint64_t expires)
{
    gm_sk_skipped_t *grown;

    if (until <= s->iteration) {
        return 0;
    }
    grown = gm__keylist_grow(s->skipped, s->n_skipped, until - s->iteration, sizeof *s->skipped);
    if (grown == NULL) {
        return GM_ENOMEM;
    }
    s->skipped = grown;
    for (; s->iteration < until; s->iteration++) {
        gm_sk_skipped_t *k = &s->skipped[s->n_skipped++];

        k->iteration = s->iteration;
        k->expires = expires;
        step_chain(s->chain_key, k->seed);
    }
    return 0;
}

static int open_next(gm_sk_state_t *s, const uint8_t sender[GM_SK_NODE_LEN], uint32_t iteration,
                     const uint8_t *ct, size_t ct_len, uint8_t *pt, uint64_t expires)
{
    uint8_t seed[GM_SK_KEY_LEN];
    int err = skip_seeds(s, iteration, expires);

    if (err == 0) {
        step_chain(s->chain_key, seed);
        s->iteration++;
        err = open_msg(s, seed, sender, iteration, ct, ct_len, pt);
    }
    /* At most GM_SK_MAX_SKIPPED seeds are kept: the oldest make room. */
    if (err == 0 && s->n_skipped > GM_SK_MAX_SKIPPED) {
        s->skipped = gm__keylist_remove(s->skipped, &s->n_skipped, 0,
                                        s->n_skipped - GM_SK_MAX_SKIPPED, sizeof *s->skipped);
    }
    sodium_memzero(seed, sizeof seed);
    return err;
}

static int open_skipped(gm_sk_state_t *s, size_t i, const uint8_t sender[GM_SK_NODE_LEN],
                        uint32_t iteration, const uint8_t *ct, size_t ct_len, uint8_t *pt)
{
    int err = open_msg(s, s->skipped[i].seed, sender, iteration, ct, ct_len, pt);

    if (err == 0) {
        s->skipped = gm__keylist_remove(s->skipped, &s->n_skipped, i, 1, sizeof *s->skipped);
    }
    return err;
}

static uint64_t add_saturated(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int gm_sk_decrypt(gm_sk_state_t *s, const uint8_t sender[GM_SK_NODE_LEN], uint32_t iteration,
                  const uint8_t *ct, size_t ct_len, const uint8_t sig[GM_SK_SIG_LEN], uint8_t *pt,
                  uint64_t now, uint64_t skip_lifetime)
{
    gm_sk_state_t t;
    size_t i;
    int err;

    if (s->own) {
        return GM_ESTATE;
    }
    if (ct_len < GM_SK_TAG_LEN) {
        return GM_EAUTH;
    }
    /* Every member holds the chain key: only the signature says who wrote this. */
    err = verify(s, sender, iteration, ct, ct_len, sig);
    err = err ? err : check_iteration(s, iteration, now);
    err = err ? err : gm_sk_copy(&t, s);
    if (err != 0) {
        return err;
    }
    /* The rest on a scratch copy: s changes only if the message decrypts. */
    gm_sk_expire(&t, now);
    i = find_skipped(&t, iteration, now);
    if (i != NOT_FOUND) {
        err = open_skipped(&t, i, sender, iteration, ct, ct_len, pt);
    } else {
        err = open_next(&t, sender, iteration, ct, ct_len, pt, add_saturated(now, skip_lifetime));
    }
    if (err == 0) {
        gm_sk_wipe(s);
        *s = t;
        sodium_memzero(&t, sizeof t); /* s owns t.skipped now */
    } else {
        gm_sk_wipe(&t);
    }
    return err;
}

/* ---- copies and storage ---- */

int gm_sk_copy(gm_sk_state_t *dst, const gm_sk_state_t *src)
{
    gm_sk_skipped_t *items = gm__keylist_dup(src->skipped, src->n_skipped, sizeof *src->skipped);

    if (items == NULL && src->n_skipped > 0) {
        return GM_ENOMEM;
    }
    *dst = *src;
    dst->skipped = items;
    return 0;
}

void gm_sk_wipe(gm_sk_state_t *s)
{
    if (s == NULL) {
        return;
    }
    gm__keylist_free(s->skipped, s->n_skipped, sizeof *s->skipped);
    sodium_memzero(s, sizeof *s);
}

int gm_sk_serialize(const gm_sk_state_t *s, uint8_t **out, size_t *len)
{
    return gm_wire_sk_state_encode(s, out, len);
}

int gm_sk_deserialize(gm_sk_state_t *s, const uint8_t *buf, size_t len)
{
    return gm_wire_sk_state_decode(buf, len, s);
}

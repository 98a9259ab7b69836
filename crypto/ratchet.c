#include "crypto/ratchet.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>

#include "crypto/kdf.h"
#include "crypto/keylist_internal.h"
#include "crypto/x3dh.h"
#include "proto/wire_e2e_state.h"

#define AEAD_KEY_LEN crypto_aead_chacha20poly1305_ietf_KEYBYTES
#define AEAD_NONCE_LEN crypto_aead_chacha20poly1305_ietf_NPUBBYTES
#define MK_OKM_LEN (AEAD_KEY_LEN + AEAD_NONCE_LEN) /* 44 */
#define AEAD_AD_MAX (GM_DR_AD_MAX + GM_DR_HEADER_LEN)
#define NOT_FOUND ((size_t)-1)

_Static_assert(GM_DR_TAG_LEN == crypto_aead_chacha20poly1305_ietf_ABYTES, "tag length");

static uint32_t load_u32_be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void gm_dr_header_encode(const gm_dr_header_t *h, uint8_t out[GM_DR_HEADER_LEN])
{
    memcpy(out, h->dh, GM_DR_KEY_LEN);
    gm_store_u32_be(out + GM_DR_KEY_LEN, h->pn);
    gm_store_u32_be(out + GM_DR_KEY_LEN + 4, h->n);
}

void gm_dr_header_decode(gm_dr_header_t *h, const uint8_t in[GM_DR_HEADER_LEN])
{
    memcpy(h->dh, in, GM_DR_KEY_LEN);
    h->pn = load_u32_be(in + GM_DR_KEY_LEN);
    h->n = load_u32_be(in + GM_DR_KEY_LEN + 4);
}

/* ---- KDFs ---- */

void gm_dr_kdf_ck(const uint8_t ck[GM_DR_KEY_LEN], uint8_t mk[GM_DR_KEY_LEN],
                  uint8_t next_ck[GM_DR_KEY_LEN])
{
    static const uint8_t mk_byte = 0x01, ck_byte = 0x02;
    uint8_t m[GM_DR_KEY_LEN], c[GM_DR_KEY_LEN];

    /* Into temporaries first: callers step a chain in place (next_ck == ck). */
    gm_hmac_sha256(m, ck, GM_DR_KEY_LEN, &mk_byte, 1, NULL, 0);
    gm_hmac_sha256(c, ck, GM_DR_KEY_LEN, &ck_byte, 1, NULL, 0);
    memcpy(mk, m, GM_DR_KEY_LEN);
    memcpy(next_ck, c, GM_DR_KEY_LEN);
    sodium_memzero(m, sizeof m);
    sodium_memzero(c, sizeof c);
}

int gm_dr_kdf_rk(const uint8_t rk[GM_DR_KEY_LEN], const uint8_t dh_out[GM_DR_KEY_LEN],
                 uint8_t next_rk[GM_DR_KEY_LEN], uint8_t ck[GM_DR_KEY_LEN])
{
    uint8_t okm[2 * GM_DR_KEY_LEN];
    int err;

    err = gm_hkdf_sha256(okm, sizeof okm, rk, GM_DR_KEY_LEN, dh_out, GM_DR_KEY_LEN, GM_DR_RK_INFO,
                         strlen(GM_DR_RK_INFO));
    if (err == 0) {
        memcpy(next_rk, okm, GM_DR_KEY_LEN);
        memcpy(ck, okm + GM_DR_KEY_LEN, GM_DR_KEY_LEN);
    }
    sodium_memzero(okm, sizeof okm);
    return err;
}

static int dh_agree(uint8_t out[GM_DR_KEY_LEN], const uint8_t sk[GM_DR_KEY_LEN],
                    const uint8_t pk[GM_DR_KEY_LEN])
{
    /* -1 is the all-zero output of a low-order key: nothing secret, abort. */
    return crypto_scalarmult(out, sk, pk) == 0 ? 0 : GM_EDH;
}

/* ---- ENCRYPT / DECRYPT(mk, ..., AD || header) ---- */

static size_t build_ad(const gm_dr_state_t *s, const gm_dr_header_t *h, uint8_t ad[AEAD_AD_MAX])
{
    if (s->ad_len > 0) {
        memcpy(ad, s->ad, s->ad_len);
    }
    gm_dr_header_encode(h, ad + s->ad_len);
    return s->ad_len + GM_DR_HEADER_LEN;
}

/* Key and nonce for one message: each mk is used once, so a derived nonce never repeats. */
static int message_key(const uint8_t mk[GM_DR_KEY_LEN], uint8_t okm[MK_OKM_LEN])
{
    static const uint8_t zero_salt[GM_SHA256_LEN];

    return gm_hkdf_sha256(okm, MK_OKM_LEN, zero_salt, sizeof zero_salt, mk, GM_DR_KEY_LEN,
                          GM_DR_MK_INFO, strlen(GM_DR_MK_INFO));
}

static int seal_msg(const gm_dr_state_t *s, const uint8_t mk[GM_DR_KEY_LEN],
                    const gm_dr_header_t *h, const uint8_t *pt, size_t pt_len, uint8_t *ct)
{
    uint8_t okm[MK_OKM_LEN], ad[AEAD_AD_MAX];
    size_t ad_len = build_ad(s, h, ad);
    int err = message_key(mk, okm);

    if (err == 0) {
        crypto_aead_chacha20poly1305_ietf_encrypt(ct, NULL, pt, pt_len, ad, ad_len, NULL,
                                                  okm + AEAD_KEY_LEN, okm);
    }
    sodium_memzero(okm, sizeof okm);
    return err;
}

static int open_msg(const gm_dr_state_t *s, const uint8_t mk[GM_DR_KEY_LEN],
                    const gm_dr_header_t *h, const uint8_t *ct, size_t ct_len, uint8_t *pt)
{
    uint8_t okm[MK_OKM_LEN], ad[AEAD_AD_MAX];
    size_t ad_len = build_ad(s, h, ad);
    int err = message_key(mk, okm);

    if (err == 0 && crypto_aead_chacha20poly1305_ietf_decrypt(
                        pt, NULL, NULL, ct, ct_len, ad, ad_len, okm + AEAD_KEY_LEN, okm) != 0) {
        err = GM_EAUTH;
    }
    sodium_memzero(okm, sizeof okm);
    return err;
}

/* ---- set-up ---- */

static void start_state(gm_dr_state_t *st, const uint8_t *ad, size_t ad_len)
{
    memset(st, 0, sizeof *st);
    if (ad_len > 0) {
        memcpy(st->ad, ad, ad_len);
    }
    st->ad_len = ad_len;
}

int gm_dr_init_alice(gm_dr_state_t *s, const uint8_t sk[GM_DR_KEY_LEN],
                     const uint8_t bob_pk[GM_DR_KEY_LEN], const uint8_t seed[GM_DR_KEY_LEN],
                     const uint8_t *ad, size_t ad_len)
{
    gm_dr_state_t st;
    uint8_t dh[GM_DR_KEY_LEN];
    int err;

    if (ad_len > GM_DR_AD_MAX) {
        return GM_ELIMIT;
    }
    /* DR: RatchetInitAlice. DHs = GENERATE_DH(); RK, CKs = KDF_RK(SK, DH(DHs, DHr)) */
    start_state(&st, ad, ad_len);
    gm_x25519_keypair(st.dhs_pk, st.dhs_sk, seed);
    memcpy(st.dhr, bob_pk, GM_DR_KEY_LEN);
    st.has_dhr = true;
    err = dh_agree(dh, st.dhs_sk, st.dhr);
    if (err == 0) {
        err = gm_dr_kdf_rk(sk, dh, st.rk, st.cks);
    }
    if (err == 0) {
        st.has_cks = true;
        *s = st;
    }
    sodium_memzero(dh, sizeof dh);
    sodium_memzero(&st, sizeof st);
    return err;
}

int gm_dr_init_bob(gm_dr_state_t *s, const uint8_t sk[GM_DR_KEY_LEN],
                   const uint8_t spk_sk[GM_DR_KEY_LEN], const uint8_t spk_pk[GM_DR_KEY_LEN],
                   const uint8_t *ad, size_t ad_len)
{
    if (ad_len > GM_DR_AD_MAX) {
        return GM_ELIMIT;
    }
    /* DR: RatchetInitBob. Chains start when Alice's first message arrives. */
    start_state(s, ad, ad_len);
    memcpy(s->dhs_sk, spk_sk, GM_DR_KEY_LEN);
    memcpy(s->dhs_pk, spk_pk, GM_DR_KEY_LEN);
    memcpy(s->rk, sk, GM_DR_KEY_LEN);
    return 0;
}

/* ---- sending ---- */

int gm_dr_encrypt(gm_dr_state_t *s, const uint8_t *pt, size_t pt_len, gm_dr_header_t *h,
                  uint8_t *ct)
{
    uint8_t mk[GM_DR_KEY_LEN], next_ck[GM_DR_KEY_LEN];
    gm_dr_header_t hdr;
    int err;

    if (!s->has_cks) {
        return GM_ESTATE;
    }
    /* n travels as a u32; the last value is kept back so that nr never wraps either. */
    if (s->ns == UINT32_MAX || pt_len > crypto_aead_chacha20poly1305_ietf_MESSAGEBYTES_MAX) {
        return GM_ELIMIT;
    }
    /* DR: RatchetEncrypt */
    gm_dr_kdf_ck(s->cks, mk, next_ck);
    memcpy(hdr.dh, s->dhs_pk, GM_DR_KEY_LEN);
    hdr.pn = s->pn;
    hdr.n = s->ns;
    err = seal_msg(s, mk, &hdr, pt, pt_len, ct);
    if (err == 0) {
        memcpy(s->cks, next_ck, GM_DR_KEY_LEN);
        s->ns++;
        *h = hdr;
    }
    sodium_memzero(mk, sizeof mk);
    sodium_memzero(next_ck, sizeof next_ck);
    return err;
}

/* ---- skipped message keys ---- */

static size_t find_skipped(const gm_dr_state_t *s, const gm_dr_header_t *h, uint64_t now)
{
    for (size_t i = 0; i < s->n_skipped; i++) {
        const gm_dr_skipped_t *k = &s->skipped[i];

        if (k->n == h->n && k->expires >= now && memcmp(k->dh, h->dh, GM_DR_KEY_LEN) == 0) {
            return i;
        }
    }
    return NOT_FOUND;
}

size_t gm_dr_expire(gm_dr_state_t *s, uint64_t now)
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

/* DR: SkipMessageKeys. The bound was checked before any key was derived (check_header). */
static int skip_keys(gm_dr_state_t *s, uint32_t until, uint64_t expires)
{
    gm_dr_skipped_t *grown;

    if (!s->has_ckr || until <= s->nr) {
        return 0;
    }
    grown = gm__keylist_grow(s->skipped, s->n_skipped, until - s->nr, sizeof *s->skipped);
    if (grown == NULL) {
        return GM_ENOMEM;
    }
    s->skipped = grown;
    for (; s->nr < until; s->nr++) {
        gm_dr_skipped_t *k = &s->skipped[s->n_skipped++];

        memcpy(k->dh, s->dhr, GM_DR_KEY_LEN);
        k->n = s->nr;
        k->expires = expires;
        gm_dr_kdf_ck(s->ckr, k->mk, s->ckr);
    }
    return 0;
}

/* At most GM_DR_MAX_SKIPPED keys are kept: the oldest make room. */
static void evict_skipped(gm_dr_state_t *s)
{
    if (s->n_skipped > GM_DR_MAX_SKIPPED) {
        s->skipped = gm__keylist_remove(s->skipped, &s->n_skipped, 0,
                                        s->n_skipped - GM_DR_MAX_SKIPPED, sizeof *s->skipped);
    }
}

/* ---- receiving ---- */

static bool is_prev_chain(const gm_dr_state_t *s, const uint8_t dh[GM_DR_KEY_LEN])
{
    for (size_t i = 0; i < s->n_prev_dhr; i++) {
        if (memcmp(s->prev_dhr[i], dh, GM_DR_KEY_LEN) == 0) {
            return true;
        }
    }
    return false;
}

static bool is_current_chain(const gm_dr_state_t *s, const uint8_t dh[GM_DR_KEY_LEN])
{
    return s->has_dhr && memcmp(s->dhr, dh, GM_DR_KEY_LEN) == 0;
}

static int check_skip(uint32_t from, uint32_t until)
{
    return until > from && until - from > GM_DR_MAX_SKIP ? GM_ELIMIT : 0;
}

/*
 * Refuses, before any key is derived or memory copied, what cannot decrypt
 * with a key we hold or may derive within the bounds. 0 means go on.
 */
static int check_header(const gm_dr_state_t *s, const gm_dr_header_t *h, uint64_t now)
{
    if (find_skipped(s, h, now) != NOT_FOUND) {
        return 0;
    }
    if (h->n == UINT32_MAX) {
        return GM_ELIMIT; /* never sent (see gm_dr_encrypt); nr would wrap */
    }
    if (is_current_chain(s, h->dh)) {
        if (!s->has_ckr) {
            return GM_EAUTH; /* Alice's dhr is Bob's prekey: he never sends with it */
        }
        return h->n < s->nr ? GM_EREPLAY : check_skip(s->nr, h->n);
    }
    if (is_prev_chain(s, h->dh)) {
        return GM_EREPLAY;
    }
    /* A new ratchet key: the rest of the current chain, then the new chain from 0. */
    if (s->has_ckr && check_skip(s->nr, h->pn) != 0) {
        return GM_ELIMIT;
    }
    return check_skip(0, h->n);
}

static void remember_chain(gm_dr_state_t *s)
{
    if (s->n_prev_dhr == GM_DR_PREV_CHAINS) {
        memmove(s->prev_dhr[0], s->prev_dhr[1], (GM_DR_PREV_CHAINS - 1) * GM_DR_KEY_LEN);
        s->n_prev_dhr--;
    }
    memcpy(s->prev_dhr[s->n_prev_dhr++], s->dhr, GM_DR_KEY_LEN);
}

/* DR: DHRatchet */
static int dh_ratchet(gm_dr_state_t *s, const gm_dr_header_t *h, const uint8_t seed[GM_DR_KEY_LEN])
{
    uint8_t dh[GM_DR_KEY_LEN];
    int err;

    if (s->has_ckr) {
        remember_chain(s);
    }
    s->pn = s->ns;
    s->ns = 0;
    s->nr = 0;
    memcpy(s->dhr, h->dh, GM_DR_KEY_LEN);
    s->has_dhr = true;
    /* RK, CKr = KDF_RK(RK, DH(DHs, DHr)) */
    err = dh_agree(dh, s->dhs_sk, s->dhr);
    err = err ? err : gm_dr_kdf_rk(s->rk, dh, s->rk, s->ckr);
    s->has_ckr = err == 0;
    /* DHs = GENERATE_DH(); RK, CKs = KDF_RK(RK, DH(DHs, DHr)) */
    if (err == 0) {
        gm_x25519_keypair(s->dhs_pk, s->dhs_sk, seed);
        err = dh_agree(dh, s->dhs_sk, s->dhr);
    }
    err = err ? err : gm_dr_kdf_rk(s->rk, dh, s->rk, s->cks);
    s->has_cks = err == 0;
    sodium_memzero(dh, sizeof dh);
    return err;
}

/* DR: TrySkippedMessageKeys, found at index i. A used key is deleted. */
static int open_skipped(gm_dr_state_t *s, size_t i, const gm_dr_header_t *h, const uint8_t *ct,
                        size_t ct_len, uint8_t *pt)
{
    int err = open_msg(s, s->skipped[i].mk, h, ct, ct_len, pt);

    if (err == 0) {
        s->skipped = gm__keylist_remove(s->skipped, &s->n_skipped, i, 1, sizeof *s->skipped);
    }
    return err;
}

/* DR: the rest of RatchetDecrypt, on the scratch state. */
static int open_next(gm_dr_state_t *s, const gm_dr_header_t *h, const uint8_t *ct, size_t ct_len,
                     uint8_t *pt, uint64_t expires, const uint8_t seed[GM_DR_KEY_LEN])
{
    uint8_t mk[GM_DR_KEY_LEN];
    int err = 0;

    if (!is_current_chain(s, h->dh)) {
        err = skip_keys(s, h->pn, expires);
        err = err ? err : dh_ratchet(s, h, seed);
    }
    err = err ? err : skip_keys(s, h->n, expires);
    if (err == 0) {
        gm_dr_kdf_ck(s->ckr, mk, s->ckr);
        s->nr++;
        err = open_msg(s, mk, h, ct, ct_len, pt);
    }
    if (err == 0) {
        evict_skipped(s);
    }
    sodium_memzero(mk, sizeof mk);
    return err;
}

static uint64_t add_saturated(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int gm_dr_decrypt(gm_dr_state_t *s, const gm_dr_header_t *h, const uint8_t *ct, size_t ct_len,
                  uint8_t *pt, uint64_t now, uint64_t skip_lifetime,
                  const uint8_t seed[GM_DR_KEY_LEN])
{
    gm_dr_state_t t;
    size_t i;
    int err;

    if (ct_len < GM_DR_TAG_LEN) {
        return GM_EAUTH;
    }
    err = check_header(s, h, now);
    if (err != 0) {
        return err;
    }
    /* All work on a scratch copy: s changes only if the message decrypts. */
    err = gm_dr_copy(&t, s);
    if (err != 0) {
        return err;
    }
    gm_dr_expire(&t, now);
    i = find_skipped(&t, h, now);
    if (i != NOT_FOUND) {
        err = open_skipped(&t, i, h, ct, ct_len, pt);
    } else {
        err = open_next(&t, h, ct, ct_len, pt, add_saturated(now, skip_lifetime), seed);
    }
    if (err == 0) {
        gm_dr_wipe(s);
        *s = t;
        sodium_memzero(&t, sizeof t); /* s owns t.skipped now */
    } else {
        gm_dr_wipe(&t);
    }
    return err;
}

/* ---- copies and storage ---- */

int gm_dr_copy(gm_dr_state_t *dst, const gm_dr_state_t *src)
{
    gm_dr_skipped_t *items = gm__keylist_dup(src->skipped, src->n_skipped, sizeof *src->skipped);

    assert(dst != src);
    if (items == NULL && src->n_skipped > 0) {
        return GM_ENOMEM;
    }
    *dst = *src;
    dst->skipped = items;
    return 0;
}

void gm_dr_wipe(gm_dr_state_t *s)
{
    if (s == NULL) {
        return;
    }
    gm__keylist_free(s->skipped, s->n_skipped, sizeof *s->skipped);
    sodium_memzero(s, sizeof *s);
}

int gm_dr_serialize(const gm_dr_state_t *s, uint8_t **out, size_t *len)
{
    return gm_wire_dr_state_encode(s, out, len);
}

int gm_dr_deserialize(gm_dr_state_t *s, const uint8_t *buf, size_t len)
{
    return gm_wire_dr_state_decode(buf, len, s);
}

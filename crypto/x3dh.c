#include "crypto/x3dh.h"

#include <sodium.h>
#include <string.h>

#include "crypto/kdf.h"

#define X3DH_DH_COUNT 3
#define X3DH_IKM_LEN ((1 + X3DH_DH_COUNT) * GM_X3DH_KEY_LEN)
#define X3DH_AD_LABEL_LEN 16 /* "guardmesh/x3dh/1" without its zero byte */

_Static_assert(sizeof GM_X3DH_INFO - 1 == X3DH_AD_LABEL_LEN, "AD label length");
_Static_assert(GM_X3DH_AD_LEN == X3DH_AD_LABEL_LEN + 2 * 16 + 2 * GM_X3DH_KEY_LEN + 4, "AD layout");

/*
 * IKM = 0xFF*32 || DH1 || DH2 || DH3, then HKDF into sk. sks[i] and pks[i]
 * give DHi; the two sides pass their own private keys in the order that
 * makes both compute the same three values. The 0xFF prefix keeps the
 * input apart from a bare X25519 output (X3DH spec, section 2.2).
 */
static int derive(const uint8_t *const sks[X3DH_DH_COUNT], const uint8_t *const pks[X3DH_DH_COUNT],
                  const char *info, uint8_t *sk, size_t sk_len)
{
    static const uint8_t zero_salt[GM_SHA256_LEN];
    uint8_t ikm[X3DH_IKM_LEN];
    int err = 0;

    if (sk_len == 0 || sk_len > GM_HKDF_SHA256_MAX_OUT) {
        return GM_ELIMIT;
    }
    memset(ikm, 0xff, GM_X3DH_KEY_LEN);
    for (int i = 0; i < X3DH_DH_COUNT && err == 0; i++) {
        uint8_t *dh = ikm + (size_t)(i + 1) * GM_X3DH_KEY_LEN;

        /* -1 means an all-zero result: a low-order key contributes nothing secret. */
        if (crypto_scalarmult(dh, sks[i], pks[i]) != 0) {
            err = GM_EDH;
        }
    }
    if (err == 0) {
        err = gm_hkdf_sha256(sk, sk_len, zero_salt, sizeof zero_salt, ikm, sizeof ikm, info,
                             strlen(info));
    }
    sodium_memzero(ikm, sizeof ikm);
    return err;
}

int gm_x3dh_initiate(const uint8_t ik_a_sk[GM_X3DH_KEY_LEN], const uint8_t ek_a_sk[GM_X3DH_KEY_LEN],
                     const uint8_t ik_b_pk[GM_X3DH_KEY_LEN],
                     const uint8_t spk_b_pk[GM_X3DH_KEY_LEN], const char *info, uint8_t *sk,
                     size_t sk_len)
{
    /* DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B), DH3 = DH(EK_A, SPK_B) */
    const uint8_t *const sks[X3DH_DH_COUNT] = {ik_a_sk, ek_a_sk, ek_a_sk};
    const uint8_t *const pks[X3DH_DH_COUNT] = {spk_b_pk, ik_b_pk, spk_b_pk};

    return derive(sks, pks, info, sk, sk_len);
}

int gm_x3dh_respond(const uint8_t ik_b_sk[GM_X3DH_KEY_LEN], const uint8_t spk_b_sk[GM_X3DH_KEY_LEN],
                    const uint8_t ik_a_pk[GM_X3DH_KEY_LEN], const uint8_t ek_a_pk[GM_X3DH_KEY_LEN],
                    const char *info, uint8_t *sk, size_t sk_len)
{
    /* The same three values from Bob's side: DH(SPK_B, IK_A), DH(IK_B, EK_A), DH(SPK_B, EK_A). */
    const uint8_t *const sks[X3DH_DH_COUNT] = {spk_b_sk, ik_b_sk, spk_b_sk};
    const uint8_t *const pks[X3DH_DH_COUNT] = {ik_a_pk, ek_a_pk, ek_a_pk};

    return derive(sks, pks, info, sk, sk_len);
}

void gm_x3dh_ad(uint8_t ad[GM_X3DH_AD_LEN], const uint8_t node_id_a[16],
                const uint8_t node_id_b[16], const uint8_t ik_a_pk[GM_X3DH_KEY_LEN],
                const uint8_t ik_b_pk[GM_X3DH_KEY_LEN], uint32_t spk_id)
{
    uint8_t *p = ad;

    memcpy(p, GM_X3DH_INFO, X3DH_AD_LABEL_LEN);
    p += X3DH_AD_LABEL_LEN;
    memcpy(p, node_id_a, 16);
    p += 16;
    memcpy(p, node_id_b, 16);
    p += 16;
    memcpy(p, ik_a_pk, GM_X3DH_KEY_LEN);
    p += GM_X3DH_KEY_LEN;
    memcpy(p, ik_b_pk, GM_X3DH_KEY_LEN);
    p += GM_X3DH_KEY_LEN;
    gm_store_u32_be(p, spk_id);
}

void gm_x25519_keypair(uint8_t pk[GM_X3DH_KEY_LEN], uint8_t sk[GM_X3DH_KEY_LEN],
                       const uint8_t seed[GM_X3DH_KEY_LEN])
{
    if (sk != seed) {
        memcpy(sk, seed, GM_X3DH_KEY_LEN);
    }
    /* Cannot fail: a clamped scalar is never a multiple of the base point's order. */
    (void)crypto_scalarmult_base(pk, sk);
}

/*
 * X3DH without one-time prekeys ("3-DH", CRYPTO.md section 4) and the
 * signed prekey it rests on. Pure functions: randomness comes in as
 * arguments, nothing is kept between calls.
 *
 *   DH1 = X25519(IK_A, SPK_B)  DH2 = X25519(EK_A, IK_B)  DH3 = X25519(EK_A, SPK_B)
 *   SK  = HKDF-SHA256(salt = 32 zero bytes, IKM = 0xFF*32 || DH1 || DH2 || DH3, info, L)
 *   AD  = "guardmesh/x3dh/1" || node_id_A || node_id_B || IK_A || IK_B || spk_id_B (u32 BE)
 *
 * info is GM_X3DH_INFO in Guardmesh; it is a parameter so that Signal's
 * published vectors ("WhisperText", L = 64) run through the same code.
 */
#ifndef GM_X3DH_H
#define GM_X3DH_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"

#define GM_X3DH_KEY_LEN 32
#define GM_X3DH_INFO "guardmesh/x3dh/1"
#define GM_X3DH_AD_LEN (16 + 16 + 16 + 32 + 32 + 4)
#define GM_SPK_CTX "guardmesh/spk/1" /* signed with its terminating zero */

/*
 * Alice's side. sk_len 1 .. 255 * 32. GM_EDH if any X25519 result is all
 * zero (a low-order key), GM_ELIMIT for a bad sk_len; sk is untouched then.
 */
GM_MUST_CHECK int gm_x3dh_initiate(const uint8_t ik_a_sk[GM_X3DH_KEY_LEN],
                                   const uint8_t ek_a_sk[GM_X3DH_KEY_LEN],
                                   const uint8_t ik_b_pk[GM_X3DH_KEY_LEN],
                                   const uint8_t spk_b_pk[GM_X3DH_KEY_LEN], const char *info,
                                   uint8_t *sk, size_t sk_len);

/* Bob's side: the same SK from his private keys and Alice's public ones. Same errors. */
GM_MUST_CHECK int gm_x3dh_respond(const uint8_t ik_b_sk[GM_X3DH_KEY_LEN],
                                  const uint8_t spk_b_sk[GM_X3DH_KEY_LEN],
                                  const uint8_t ik_a_pk[GM_X3DH_KEY_LEN],
                                  const uint8_t ek_a_pk[GM_X3DH_KEY_LEN], const char *info,
                                  uint8_t *sk, size_t sk_len);

/* The session's associated data (layout above). */
void gm_x3dh_ad(uint8_t ad[GM_X3DH_AD_LEN], const uint8_t node_id_a[16],
                const uint8_t node_id_b[16], const uint8_t ik_a_pk[GM_X3DH_KEY_LEN],
                const uint8_t ik_b_pk[GM_X3DH_KEY_LEN], uint32_t spk_id);

/* An X25519 key pair from 32 random bytes (the secret is clamped by X25519 itself). */
void gm_x25519_keypair(uint8_t pk[GM_X3DH_KEY_LEN], uint8_t sk[GM_X3DH_KEY_LEN],
                       const uint8_t seed[GM_X3DH_KEY_LEN]);

#endif

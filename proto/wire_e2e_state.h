/*
 * Codecs for proto/e2e_state.proto: Double Ratchet and sender-key states for
 * the store. The bytes hold keys. Decoders treat their input as hostile
 * (a damaged or downgraded store): lengths capped, every field checked
 * against the state's bounds, protobuf-c's copies of the keys wiped, the
 * output written only on success. Encoders refuse what the decoders would.
 */
#ifndef GM_WIRE_E2E_STATE_H
#define GM_WIRE_E2E_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"
#include "crypto/ratchet.h"
#include "crypto/senderkey.h"

#define GM_E2E_STATE_VERSION 1
/* Above the largest encodings: about 88 bytes per skipped key, 2000 of them, plus the rest. */
#define GM_DR_STATE_MAX_LEN (256u << 10)
#define GM_SK_STATE_MAX_LEN (128u << 10)

/*
 * Encoders malloc *out: the caller wipes it (sodium_memzero) before free().
 * GM_ENOMEM, or GM_EPROTO for a state out of bounds.
 */
GM_MUST_CHECK int gm_wire_dr_state_encode(const gm_dr_state_t *s, uint8_t **out, size_t *out_len);
GM_MUST_CHECK int gm_wire_sk_state_encode(const gm_sk_state_t *s, uint8_t **out, size_t *out_len);

/*
 * Decoders: 0, GM_EPROTO (malformed, too long, wrong version, a field of the
 * wrong size, a count over its bound) or GM_ENOMEM. On success out->skipped
 * is malloc'd (gm_dr_wipe / gm_sk_wipe release it).
 */
GM_MUST_CHECK int gm_wire_dr_state_decode(const uint8_t *buf, size_t len, gm_dr_state_t *out);
GM_MUST_CHECK int gm_wire_sk_state_decode(const uint8_t *buf, size_t len, gm_sk_state_t *out);

#endif

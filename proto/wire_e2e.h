/*
 * Codecs for proto/e2e.proto, the end-to-end layer's wire formats, as plain
 * gm_ structs: the signed prekey a node announces, the Envelope every
 * end-to-end bundle body is, the Content inside its ciphertext, and a
 * talkgroup's GroupState.
 *
 * Decoders treat their input as hostile: the length is capped before
 * parsing, every field is checked (exact sizes, enums, ranges, counts, finite
 * numbers, UTF-8), a oneof must be set to a known case, and the output is
 * written only on success. Unknown fields are ignored (proto3). Encoders run
 * the same checks, so they refuse what the decoders would refuse and
 * decode -> encode -> decode is the identity. Strings end at their first NUL
 * (protobuf-c reads them so).
 *
 * Ownership. gm_spk_t, gm_prekey_announcement_t and gm_group_state_t (apart
 * from its members array) hold copies. gm_envelope_t and gm_content_t hold
 * pointers for their variable-length fields (ciphertexts, certificates,
 * texts, group state bytes):
 *   - to encode, the caller points them at its own memory and sets owner to
 *     NULL; nothing is taken over;
 *   - after decoding, they point into the unpacked message, which the
 *     struct's owner keeps alive: gm_envelope_free() / gm_content_free()
 *     release it (and the pointers dangle). Copying the struct copies the
 *     borrow, not the memory: free exactly one copy, once.
 * A decoded Content is plaintext: everything the decoder allocated is wiped
 * when it is freed (or when decoding fails), and gm_content_free() wipes the
 * struct itself, sender key included.
 */
#ifndef GM_WIRE_E2E_H
#define GM_WIRE_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/common.h"
#include "proto/wire_cert.h"

#define GM_E2E_HEADER_LEN 40 /* a Double Ratchet header: dh (32) || pn || n (GM_DR_HEADER_LEN) */
#define GM_E2E_TAG_LEN 16    /* an AEAD tag: every ciphertext is at least this long */
#define GM_E2E_PREKEY_VERSION 1
#define GM_E2E_PREKEY_MAX 128         /* PrekeyAnnouncement.prekey: an encoded SignedPrekey */
#define GM_E2E_PREKEY_ANN_MAX 256     /* an encoded PrekeyAnnouncement (Announcement.prekeys) */
#define GM_E2E_ENVELOPE_MAX 65536u    /* an encoded Envelope: at most a bundle */
#define GM_E2E_CONTENT_MAX 65536u     /* an encoded Content: inside an envelope's ciphertext */
#define GM_E2E_TEXT_MAX 4096          /* bytes of UTF-8 in a text message */
#define GM_E2E_ALERT_TEXT_MAX 1024    /* bytes of UTF-8 in an alert */
#define GM_E2E_RECEIPT_MAX 256        /* message ids in one receipt */
#define GM_E2E_GROUP_STATE_MAX 16384u /* an encoded GroupState */
#define GM_E2E_GROUP_NAME_MAX 64      /* printable ASCII bytes */
#define GM_E2E_GROUP_MEMBERS_MAX 256

/* ---- the prekey a node publishes (Announcement.prekeys) ---- */

typedef struct {
    uint32_t id;
    uint8_t pk[GM_KEY_LEN]; /* X25519 */
    uint64_t created;       /* seconds since the epoch */
    uint64_t expires;       /* after created */
} gm_spk_t;

typedef struct {
    uint8_t prekey[GM_E2E_PREKEY_MAX]; /* an encoded gm_spk_t: the signed bytes, 1 .. max */
    size_t prekey_len;
    uint8_t signature[GM_SIG_LEN]; /* over "guardmesh/spk/1\0" || prekey */
} gm_prekey_announcement_t;

/* ---- the Envelope: a bundle body ---- */

typedef enum {
    GM_ENVELOPE_RATCHET = 1,
    GM_ENVELOPE_PREKEY = 2,
    GM_ENVELOPE_GROUP = 3,
    GM_ENVELOPE_BROADCAST = 4,
} gm_envelope_kind_t;

typedef struct {
    uint8_t header[GM_E2E_HEADER_LEN];
    const uint8_t *ciphertext; /* at least GM_E2E_TAG_LEN bytes */
    size_t ciphertext_len;
} gm_ratchet_msg_t;

/* Version GM_E2E_PREKEY_VERSION: the only one, written by the encoder, required by the decoder. */
typedef struct {
    const uint8_t *cert; /* the sender's encoded certificate, 1 .. GM_CERT_MAX_LEN bytes */
    size_t cert_len;
    uint8_t ephemeral[GM_KEY_LEN];
    uint32_t prekey_id;
    gm_ratchet_msg_t message;
} gm_prekey_msg_t;

typedef struct {
    uint8_t group_id[GM_ID_LEN];
    uint32_t key_id, iteration;
    const uint8_t *ciphertext; /* at least GM_E2E_TAG_LEN bytes */
    size_t ciphertext_len;
    uint8_t signature[GM_SIG_LEN];
} gm_group_msg_t;

typedef struct {
    const uint8_t *cert; /* 1 .. GM_CERT_MAX_LEN bytes */
    size_t cert_len;
    const uint8_t *content; /* an encoded Content (not decoded here), at least 1 byte */
    size_t content_len;
    uint8_t signature[GM_SIG_LEN];
} gm_broadcast_t;

typedef struct {
    gm_envelope_kind_t kind; /* which member of the union */
    union {
        gm_ratchet_msg_t ratchet;
        gm_prekey_msg_t prekey;
        gm_group_msg_t group;
        gm_broadcast_t broadcast;
    };
    void *owner; /* the decoder's allocation the pointers borrow; NULL when the caller built it */
} gm_envelope_t;

/* ---- Content: inside the ciphertext ---- */

typedef enum {
    GM_CONTENT_TEXT = 1,
    GM_CONTENT_POSITION = 2,
    GM_CONTENT_ALERT = 3,
    GM_CONTENT_RECEIPT = 4,
    GM_CONTENT_SENDER_KEY = 5,
    GM_CONTENT_GROUP = 6,
} gm_content_kind_t;

/* lat -90 .. 90, lon -180 .. 180, heading 0 .. 360, accuracy and speed >= 0; all finite. */
typedef struct {
    double lat, lon;
    float accuracy; /* metres, 0 unknown */
    float heading;  /* degrees from north */
    float speed;    /* metres per second */
    uint64_t time;  /* when measured, seconds since the epoch */
} gm_position_t;

typedef enum {
    GM_ALERT_SOS = 1,
    GM_ALERT_OFFICER_DOWN = 2,
    GM_ALERT_NEED_ASSISTANCE = 3,
} gm_alert_kind_t;

typedef struct {
    gm_alert_kind_t kind;
    const char *text; /* UTF-8, at most GM_E2E_ALERT_TEXT_MAX bytes; NULL encodes as "" */
    bool has_position;
    gm_position_t position;
} gm_alert_t;

typedef enum {
    GM_RECEIPT_DELIVERED = 1,
    GM_RECEIPT_READ = 2,
} gm_receipt_kind_t;

typedef struct {
    gm_receipt_kind_t kind;
    size_t n_ids; /* 1 .. GM_E2E_RECEIPT_MAX */
    uint8_t ids[GM_E2E_RECEIPT_MAX][GM_ID_LEN];
} gm_receipt_t;

/* A SenderKeyDistribution. chain_key is a secret. */
typedef struct {
    uint8_t group_id[GM_ID_LEN];
    uint32_t key_id, iteration;
    uint8_t chain_key[GM_KEY_LEN];
    uint8_t sign_pk[GM_KEY_LEN];
} gm_sender_key_t;

typedef struct {
    const uint8_t *state; /* an encoded GroupState, 1 .. GM_E2E_GROUP_STATE_MAX bytes */
    size_t state_len;
    uint8_t signature[GM_SIG_LEN]; /* the owner's, over "guardmesh/group/1\0" || state */
} gm_signed_group_state_t;

typedef struct {
    uint8_t msg_id[GM_ID_LEN];
    uint64_t sent;
    gm_content_kind_t kind; /* which member of the union */
    union {
        const char *text; /* UTF-8, at most GM_E2E_TEXT_MAX bytes; NULL encodes as "" */
        gm_position_t position;
        gm_alert_t alert;
        gm_receipt_t receipt;
        gm_sender_key_t sender_key;
        gm_signed_group_state_t group;
    };
    void *owner; /* as in gm_envelope_t */
} gm_content_t;

/* ---- GroupState: a talkgroup's membership, signed by its owner ---- */

typedef struct {
    uint8_t node_id[GM_ID_LEN];
    char callsign[GM_NAME_MAX + 1]; /* gm_name_is_valid() */
    char org[GM_NAME_MAX + 1];      /* gm_name_is_valid() */
} gm_group_member_t;

/*
 * name: 1 .. GM_E2E_GROUP_NAME_MAX printable ASCII bytes; version at least 1;
 * 1 .. GM_E2E_GROUP_MEMBERS_MAX members with distinct node ids, the owner one
 * of them. The encoding must fit in GM_E2E_GROUP_STATE_MAX bytes: with 256
 * members, names average under about 20 bytes.
 */
typedef struct {
    uint8_t group_id[GM_ID_LEN];
    char name[GM_E2E_GROUP_NAME_MAX + 1];
    uint8_t owner[GM_ID_LEN];
    uint64_t version;
    gm_group_member_t *members; /* encode: borrowed; decode: malloc'd, gm_group_state_free() */
    size_t n_members;
} gm_group_state_t;

/*
 * Encoders write into out (cap bytes) and set *out_len; nothing is allocated.
 * GM_EPROTO for a field the decoder would refuse (wrong range, missing or
 * oversized bytes, an encoding over the type's maximum), GM_ELIMIT if the
 * encoding does not fit in cap. The _size functions give the exact encoded
 * size, or 0 for what the encoder would refuse with GM_EPROTO.
 *
 * Decoders: 0, GM_EPROTO (over the type's maximum, malformed, a field of the
 * wrong size or out of range, no or an unknown oneof case) or GM_ENOMEM.
 * *out is written only on success. Only one layer is decoded: a prekey
 * announcement's prekey, a broadcast's content and a signed group state's
 * state stay bytes, to be verified before they are decoded.
 */
GM_MUST_CHECK int gm_wire_spk_encode(const gm_spk_t *s, uint8_t *out, size_t cap, size_t *out_len);
GM_MUST_CHECK int gm_wire_spk_decode(const uint8_t *buf, size_t len, gm_spk_t *out);

GM_MUST_CHECK int gm_wire_prekey_announcement_encode(const gm_prekey_announcement_t *a,
                                                     uint8_t *out, size_t cap, size_t *out_len);
GM_MUST_CHECK int gm_wire_prekey_announcement_decode(const uint8_t *buf, size_t len,
                                                     gm_prekey_announcement_t *out);

size_t gm_wire_envelope_size(const gm_envelope_t *e);
GM_MUST_CHECK int gm_wire_envelope_encode(const gm_envelope_t *e, uint8_t *out, size_t cap,
                                          size_t *out_len);
/* On success *out owns the unpacked message: release it with gm_envelope_free(). */
GM_MUST_CHECK int gm_wire_envelope_decode(const uint8_t *buf, size_t len, gm_envelope_t *out);
/* Releases what the decoder allocated and zeroes *e. NULL is a no-op. */
void gm_envelope_free(gm_envelope_t *e);

size_t gm_wire_content_size(const gm_content_t *c);
GM_MUST_CHECK int gm_wire_content_encode(const gm_content_t *c, uint8_t *out, size_t cap,
                                         size_t *out_len);
/* On success *out owns the unpacked message: release it with gm_content_free(). */
GM_MUST_CHECK int gm_wire_content_decode(const uint8_t *buf, size_t len, gm_content_t *out);
/* Wipes and releases what the decoder allocated, and wipes *c. NULL is a no-op. */
void gm_content_free(gm_content_t *c);

GM_MUST_CHECK int gm_wire_group_state_encode(const gm_group_state_t *g, uint8_t *out, size_t cap,
                                             size_t *out_len);
/* On success out->members is malloc'd: release it with gm_group_state_free(). */
GM_MUST_CHECK int gm_wire_group_state_decode(const uint8_t *buf, size_t len, gm_group_state_t *out);
/* Frees the decoder's members array. NULL is a no-op. */
void gm_group_state_free(gm_group_state_t *g);

#endif

/* Private to the messenger: node/messenger*.c. */
#ifndef GM_MESSENGER_INTERNAL_H
#define GM_MESSENGER_INTERNAL_H

#include <sqlite3.h>

#include "crypto/ratchet.h"
#include "crypto/senderkey.h"
#include "crypto/x3dh.h"
#include "node/messenger.h"
#include "proto/wire_e2e.h"

#define GM_MSGR_KEY_LEN 32
#define GM_MSGR_SPK_ROTATE_S (7u * 86400u)     /* a new signed prekey weekly */
#define GM_MSGR_SPK_VALID_S (14u * 86400u)     /* senders may use one this long */
#define GM_MSGR_MAX_ARCHIVED 40                /* old sessions per peer, for messages in flight */
#define GM_MSGR_TRY_ARCHIVED 8                 /* of those, tried on a message (most recent first) */
#define GM_MSGR_MAX_PENDING 4096               /* group messages waiting for a sender key */
#define GM_MSGR_MAX_PEER_KEYS 5                /* sender key states kept per member and group */
#define GM_MSGR_MAX_PENDING_FROM 64            /* of the pending ones, from one sender and group */
#define GM_MSGR_PENDING_S 86400u               /* how long one waits for its key at most */
#define GM_MSGR_MAX_EARLY_KEYS 8               /* sender keys per sender for groups not seen yet */
#define GM_MSGR_SK_ROTATE_S (7u * 86400u)      /* our sender keys are renewed at least weekly */
#define GM_MSGR_SK_ROTATE_MSGS 10000u          /* or after this many messages */
#define GM_MSGR_MAX_GROUPS 256
#define GM_MSGR_MAX_GROUPS_PER_OWNER 32        /* groups another node can put this one in */
#define GM_MSGR_KEEP_MESSAGES 50000            /* inbox and outbox rows kept (unread ones always) */
#define GM_MSGR_PAD_MAX 1024                   /* power-of-two buckets up to here, */
#define GM_MSGR_PAD_STEP 256                   /* then multiples of this */
#define GM_MSGR_BODY_MAX (60u * 1024u)         /* an envelope: fits a bundle */

/* Cached statements, indexed by gm__msgr_query_t (messenger_db.c). */
typedef enum {
    MQ_META_GET,
    MQ_META_PUT,
    MQ_SPK_PUT,
    MQ_SPK_GET,
    MQ_SPK_NEWEST,
    MQ_SPK_WIPE,
    MQ_SEEN_ADD,
    MQ_SEEN_WIPE,
    MQ_CONTACT_PUT,
    MQ_CONTACT_GET,
    MQ_CONTACT_BY_NAME,
    MQ_SESSION_ACTIVE,
    MQ_SESSION_BY_EK,
    MQ_SESSION_EACH,
    MQ_SESSION_INSERT,
    MQ_SESSION_UPDATE,
    MQ_SESSION_DEMOTE,
    MQ_SESSION_TRIM,
    MQ_INBOX_ADD,
    MQ_INBOX_LIST,
    MQ_INBOX_WINDOW,
    MQ_INBOX_UNREAD,
    MQ_INBOX_MARK_READ,
    MQ_INBOX_COUNT,
    MQ_OUTBOX_COUNT,
    MQ_INBOX_PRUNE,
    MQ_OUTBOX_PRUNE,
    MQ_RCPT_PRUNE,
    MQ_OUTBOX_ADD,
    MQ_OUTBOX_BY_BUNDLE,
    MQ_OUTBOX_BY_MSG,
    MQ_OUTBOX_SET,
    MQ_OUTBOX_LIST,
    MQ_RCPT_ADD,
    MQ_RCPT_SET,
    MQ_RECEIPT_QUEUE,
    MQ_RECEIPT_PEERS,
    MQ_RECEIPT_TAKE,
    MQ_RECEIPT_DEL,
    MQ_GROUP_PUT,
    MQ_GROUP_GET,
    MQ_GROUP_BY_NAME,
    MQ_GROUP_DEL,
    MQ_GROUP_LIST,
    MQ_SKOWN_PUT,
    MQ_SKOWN_GET,
    MQ_SKOWN_DEL,
    MQ_SKPEER_PUT,
    MQ_SKPEER_GET,
    MQ_SKPEER_TRIM,
    MQ_SKPEER_DEL_GROUP,
    MQ_TODO_ADD,
    MQ_TODO_EACH,
    MQ_TODO_DEL,
    MQ_TODO_DEL_GROUP,
    MQ_GROUP_COUNT,
    MQ_GONE_PUT,
    MQ_GONE_GET,
    MQ_GROUP_COUNT_OWNER,
    MQ_SKPEER_UNKNOWN,
    MQ_PENDING_COUNT_FROM,
    MQ_SKOWN_OLD,
    MQ_PENDING_ADD,
    MQ_PENDING_COUNT,
    MQ_PENDING_FOR,
    MQ_PENDING_DEL,
    MQ_PENDING_EXPIRE,
    MQ_COUNT
} gm__msgr_query_t;

struct gm_messenger {
    gm_node_t *node;
    gm_mesh_t *mesh;
    sqlite3 *db;
    sqlite3_stmt *q[MQ_COUNT];
    uint8_t store_key[GM_MSGR_KEY_LEN]; /* seals rows; from the node key file */
    uint8_t name_key[GM_MSGR_KEY_LEN];  /* keyed hashes of names, for lookups */
    gm_messenger_stats_t st;
    uint64_t t_housekeeping;
    bool receipts_waiting;
    bool groups_joined; /* a group was joined: hand over what the mesh held for it */
    void (*on_arrival)(void *ctx, const gm_messenger_arrival_t *a);
    void *arrival_ctx;
};

/* A peer as the messenger knows it: from the directory or its contacts table. */
typedef struct {
    gm_cert_t cert;
    bool has_spk;
    gm_spk_t spk;
} gm__msgr_peer_t;

/* An inbox row opened: the content (gm_content_free it) and where it came by. */
typedef struct {
    gm_content_t content;
    bool broadcast, has_group;
    uint8_t group[GM_ID_LEN];
} gm__msgr_inbox_rec_t;

/* What the outbox shows of a message, sealed as it is. */
typedef struct {
    uint8_t kind; /* MessageKind */
    uint8_t alert_kind;
    char to[2 * GM_NAME_MAX + 2];
    char group[GM_E2E_GROUP_NAME_MAX + 1];
    char text[256]; /* the start of the text */
} gm__msgr_outbox_rec_t;

/* The node's wall clock, seconds since the epoch (the simulator and tests move it). */
static inline uint64_t gm__msgr_wall(const gm_messenger_t *g)
{
    return gm_node_wall(g->node);
}

/* ---- messenger_db.c: tables, statements, sealing ---- */
GM_MUST_CHECK int gm__msgr_db_open(gm_messenger_t *g, gm_why_t *why);
void gm__msgr_db_close(gm_messenger_t *g);
/* The statement, reset and unbound; NULL if it could not be prepared (logged). */
sqlite3_stmt *gm__msgr_q(gm_messenger_t *g, gm__msgr_query_t which);
/* Steps a statement that returns no rows, then resets it: 0 or GM_EIO (logged). */
GM_MUST_CHECK int gm__msgr_run(gm_messenger_t *g, sqlite3_stmt *st);
/*
 * Seals plaintext for row (table tag and key, bound as AD) into a malloc'd
 * nonce || ciphertext || tag. GM_ENOMEM.
 */
GM_MUST_CHECK int gm__msgr_seal(const gm_messenger_t *g, const char *tag, const uint8_t *key,
                                size_t key_len, const uint8_t *pt, size_t pt_len, uint8_t **out,
                                size_t *out_len);
/* The reverse into a malloc'd buffer (caller wipes and frees). GM_EAUTH, GM_ENOMEM. */
GM_MUST_CHECK int gm__msgr_open(const gm_messenger_t *g, const char *tag, const uint8_t *key,
                                size_t key_len, const uint8_t *ct, size_t ct_len, uint8_t **out,
                                size_t *out_len);
/* A keyed hash of a name ("callsign@org", a group name) for indexed lookups. */
void gm__msgr_name_mac(const gm_messenger_t *g, const char *name, uint8_t mac[16]);
void gm__msgr_bind_blob(sqlite3_stmt *st, int col, const void *p, size_t len);
/* A COUNT(*) query with optional ?1 (group) and ?2 (sender or owner); INT64_MAX if it fails. */
int64_t gm__msgr_count_rows(gm_messenger_t *g, gm__msgr_query_t q, const uint8_t *group,
                            const uint8_t *sender);

/* ---- messenger_peer.c ---- */
/* Remembers a peer's certificate (and prekey announcement, ann_len 0 for none). */
GM_MUST_CHECK int gm__msgr_contact_put(gm_messenger_t *g, const gm_cert_t *cert,
                                       const uint8_t *ann, size_t ann_len);
/* Makes a prekey when none is current, wipes expired ones, publishes the newest. */
GM_MUST_CHECK int gm__msgr_spk_maintain(gm_messenger_t *g);
/* Our prekey pair by id, kept until wiped. GM_ENOENT. */
GM_MUST_CHECK int gm__msgr_spk_get(gm_messenger_t *g, uint32_t id, uint8_t sk[GM_X3DH_KEY_LEN],
                                   uint8_t pk[GM_X3DH_KEY_LEN]);

/* ---- messenger.c ---- */
void gm__msgr_log(gm_messenger_t *g, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Finds a peer by node id: directory first, then contacts. GM_ENOENT. */
GM_MUST_CHECK int gm__msgr_peer(gm_messenger_t *g, const uint8_t id[GM_ID_LEN],
                                gm__msgr_peer_t *out);
/*
 * 0 if id is a peer we accept messages from now; GM_EAUTH if not (counted as
 * untrusted: drop the message); GM_EIO or GM_ENOMEM if the store failed
 * (roll back: the message comes again).
 */
GM_MUST_CHECK int gm__msgr_sender_check(gm_messenger_t *g, const uint8_t id[GM_ID_LEN]);
/* "callsign@org" of a node id, or its hex id if unknown. */
void gm__msgr_peer_name(gm_messenger_t *g, const uint8_t id[GM_ID_LEN], char *out, size_t cap);
/*
 * Resolves "callsign@org" to a usable peer: GM_ENOENT unknown, GM_EAUTH its
 * certificate is no longer acceptable (*why says revoked, expired, ...).
 */
GM_MUST_CHECK int gm__msgr_resolve(gm_messenger_t *g, const char *name, gm__msgr_peer_t *out,
                                   gm_why_t *why);
/*
 * Encrypts content for peer over its session (made if needed) and sends it
 * as a bundle of priority prio. bundle_id (may be NULL) gets the bundle's id.
 * Errors: GM_ENOENT no prekey known for it, the ratchet's and the mesh's.
 */
GM_MUST_CHECK int gm__msgr_send_1to1(gm_messenger_t *g, const gm__msgr_peer_t *peer,
                                     const gm_content_t *c, gm_prio_t prio,
                                     uint8_t bundle_id[GM_ID_LEN]);
/* Handles a decrypted content from sender (verified). group: its group, or NULL. */
GM_MUST_CHECK int gm__msgr_on_content(gm_messenger_t *g, const uint8_t sender[GM_ID_LEN],
                                      const uint8_t *group, bool broadcast,
                                      const gm_content_t *c);
/* Signs content and floods it to every node. */
GM_MUST_CHECK int gm__msgr_send_broadcast(gm_messenger_t *g, const gm_content_t *c,
                                          gm_prio_t prio, uint8_t bundle_id[GM_ID_LEN]);
/* Decodes an authentic plaintext and handles it (a malformed one is counted, not an error). */
GM_MUST_CHECK int gm__msgr_on_plaintext(gm_messenger_t *g, const uint8_t sender[GM_ID_LEN],
                                        const uint8_t *group, bool broadcast, const uint8_t *pt,
                                        size_t len);
/* Encodes content and pads it: the plaintext of a ratchet or sender-key message. */
GM_MUST_CHECK int gm__msgr_content_plaintext(const gm_content_t *c, uint8_t **out,
                                             size_t *out_len);
/* Pads an encoded content to its bucket (messenger.c). */
GM_MUST_CHECK int gm__msgr_pad(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len);
GM_MUST_CHECK int gm__msgr_unpad(const uint8_t *in, size_t len, size_t *out_len);
/* Queues a delivered or read receipt for msg_id to sender (sent at the turn's end). */
GM_MUST_CHECK int gm__msgr_queue_receipt(gm_messenger_t *g, const uint8_t sender[GM_ID_LEN],
                                         const uint8_t msg_id[16], int kind);

/* ---- messenger_session.c ---- */
/* A ratchet message from src: tried on its sessions; drops are counted, not errors. */
GM_MUST_CHECK int gm__msgr_on_ratchet(gm_messenger_t *g, const uint8_t src[GM_ID_LEN],
                                      const gm_ratchet_msg_t *rm);
/* A first message from src: starts a session (or continues the one it started). */
GM_MUST_CHECK int gm__msgr_on_prekey(gm_messenger_t *g, const uint8_t src[GM_ID_LEN],
                                     const gm_prekey_msg_t *pm);
/* Encodes env and hands it to the mesh (messenger.c). */
GM_MUST_CHECK int gm__msgr_send_envelope(gm_messenger_t *g, const gm_dest_t *dst,
                                         gm_prio_t prio, const gm_envelope_t *env,
                                         uint8_t bundle_id[GM_ID_LEN]);

/* ---- messenger_content.c ---- */
GM_MUST_CHECK int gm__msgr_inbox_open(gm_messenger_t *g, const uint8_t sender[GM_ID_LEN],
                                      const uint8_t msg_id[GM_ID_LEN], const void *sealed,
                                      size_t sealed_len, gm__msgr_inbox_rec_t *out);
/* Sends up to a receipt's worth of queued receipts of kind to peer. */
GM_MUST_CHECK int gm__msgr_send_receipts(gm_messenger_t *g, const uint8_t peer[GM_ID_LEN],
                                         int kind);
/* A message sent: its outbox row, and one recipient row per member it went to. */
GM_MUST_CHECK int gm__msgr_outbox_add(gm_messenger_t *g, const uint8_t msg_id[GM_ID_LEN],
                                      const uint8_t bundle_id[GM_ID_LEN],
                                      const uint8_t (*members)[GM_ID_LEN], size_t n_members,
                                      const gm__msgr_outbox_rec_t *rec);
GM_MUST_CHECK int gm__msgr_outbox_open(const gm_messenger_t *g, const uint8_t msg_id[GM_ID_LEN],
                                       const void *sealed, size_t len,
                                       gm__msgr_outbox_rec_t *out);
/*
 * "relayed" or "expired" (member NULL), or a receipt "delivered" / "read"
 * from member. GM_ENOENT no such message, GM_EAUTH member is not a recipient.
 */
GM_MUST_CHECK int gm__msgr_outbox_event(gm_messenger_t *g, const uint8_t msg_id[GM_ID_LEN],
                                        const char *what, const uint8_t *member);

/* Drops the oldest read inbox rows and finished outbox rows beyond GM_MSGR_KEEP_MESSAGES. */
void gm__msgr_prune(gm_messenger_t *g);

/* ---- messenger_group.c ---- */
bool gm__msgr_in_group(void *ctx, const uint8_t group[GM_ID_LEN]);
/* A group's state (gm_group_state_free it); with signed_out, its signed bytes in *state_buf. */
GM_MUST_CHECK int gm__msgr_group_get(gm_messenger_t *g, const uint8_t id[GM_ID_LEN],
                                     gm_group_state_t *gs, gm_signed_group_state_t *signed_out,
                                     uint8_t **state_buf);
GM_MUST_CHECK int gm__msgr_group_by_name(gm_messenger_t *g, const char *name,
                                         uint8_t id[GM_ID_LEN]);
/*
 * The owner's change: gs (version already raised, or 1 for a new group) is
 * signed, stored and sent to every member and to those removed since old
 * (NULL for a new group); our sender key is renewed on creation and removal.
 */
GM_MUST_CHECK int gm__msgr_group_change(gm_messenger_t *g, gm_group_state_t *gs,
                                        const gm_group_state_t *old);
/* Encrypts content with our sender key for group and floods it. */
GM_MUST_CHECK int gm__msgr_send_group(gm_messenger_t *g, const uint8_t group[GM_ID_LEN],
                                      const gm_content_t *c, gm_prio_t prio,
                                      uint8_t bundle_id[GM_ID_LEN]);
GM_MUST_CHECK int gm__msgr_on_group_message(gm_messenger_t *g, const gm_bundle_t *b,
                                            const gm_envelope_t *env);
GM_MUST_CHECK int gm__msgr_on_sender_key(gm_messenger_t *g, const uint8_t sender[GM_ID_LEN],
                                         const gm_sender_key_t *d);
GM_MUST_CHECK int gm__msgr_on_group_state(gm_messenger_t *g, const uint8_t sender[GM_ID_LEN],
                                          const gm_signed_group_state_t *s);
/* Sends our sender keys still owed to members (those whose sessions could not start). */
void gm__msgr_group_tick(gm_messenger_t *g);
/* Asks the mesh for group bundles it held before this node joined their groups. */
void gm__msgr_groups_catch_up(gm_messenger_t *g);

/* ---- messenger_senderkey.c ---- */
bool gm__msgr_is_member(const gm_group_state_t *gs, const uint8_t id[GM_ID_LEN]);
/* A fresh sender key of ours for group, replacing the old one (not sent). */
GM_MUST_CHECK int gm__msgr_sk_rotate(gm_messenger_t *g, const uint8_t group[GM_ID_LEN]);
/* A new sender key of ours for group, sent to every other member. */
GM_MUST_CHECK int gm__msgr_sk_renew(gm_messenger_t *g, const uint8_t group[GM_ID_LEN]);
/* Our key to member, if it is a member now: sent, or owed until its prekey is known. */
GM_MUST_CHECK int gm__msgr_sk_send(gm_messenger_t *g, const uint8_t group[GM_ID_LEN],
                                   const uint8_t member[GM_ID_LEN]);
/* Sends sgs (if send_state) and our key (if send_key) to every member of gs but us. */
GM_MUST_CHECK int gm__msgr_sk_distribute(gm_messenger_t *g, const gm_group_state_t *gs,
                                         const gm_signed_group_state_t *sgs, bool send_state,
                                         bool send_key);
/* Opens what waited for a key from sender in group; what still has none stays. */
GM_MUST_CHECK int gm__msgr_retry_pending(gm_messenger_t *g, const uint8_t group[GM_ID_LEN],
                                         const uint8_t sender[GM_ID_LEN]);

/* ---- messenger_control.c ---- */
void gm__msgr_control_register(gm_messenger_t *g);

#endif

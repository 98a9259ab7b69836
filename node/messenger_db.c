/*
 * The messenger's tables in the node's store, their statements, and the
 * sealing of rows at rest.
 *
 * What stays in clear: node ids (bundle headers show them to every relay
 * anyway), public keys, counters and times. What is sealed: message bodies,
 * certificates of contacts, session and sender-key state, group states.
 * Names are looked up by a keyed hash, so the file does not list callsigns.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kdf.h"
#include "node/messenger_internal.h"

#define SEAL_CTX "guardmesh/rest/1"
#define STORE_KEY_INFO "guardmesh/store-key/1"
#define NAME_KEY_INFO "guardmesh/name-key/1"
#define MSGR_SCHEMA_VERSION 3

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS e2e_meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
    /* our signed prekeys: the current one and those kept for messages in flight */
    "CREATE TABLE IF NOT EXISTS e2e_spk (id INTEGER PRIMARY KEY, created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL, wipe_at INTEGER NOT NULL, announcement BLOB NOT NULL,"
    " sealed BLOB NOT NULL);"
    /* first messages seen, per prekey: a replayed one cannot start a second session */
    "CREATE TABLE IF NOT EXISTS e2e_seen (spk_id INTEGER NOT NULL, ek BLOB NOT NULL,"
    " PRIMARY KEY (spk_id, ek)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS e2e_contact (node_id BLOB PRIMARY KEY, name_mac BLOB NOT NULL,"
    " sealed BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS e2e_contact_name ON e2e_contact(name_mac);"
    /* sessions: one active per peer, older ones kept for messages still in flight */
    "CREATE TABLE IF NOT EXISTS e2e_session (rowid INTEGER PRIMARY KEY, peer BLOB NOT NULL,"
    " active INTEGER NOT NULL, ek BLOB NOT NULL, spk_id INTEGER NOT NULL,"
    " prekey INTEGER NOT NULL, updated INTEGER NOT NULL, sealed BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS e2e_session_peer ON e2e_session(peer, active DESC, updated DESC);"
    "CREATE TABLE IF NOT EXISTS e2e_inbox (seq INTEGER PRIMARY KEY, sender BLOB NOT NULL,"
    " msg_id BLOB NOT NULL, received INTEGER NOT NULL, read INTEGER NOT NULL,"
    " sealed BLOB NOT NULL, UNIQUE (sender, msg_id));"
    "CREATE INDEX IF NOT EXISTS e2e_inbox_unread ON e2e_inbox(read, seq);"
    "CREATE TABLE IF NOT EXISTS e2e_outbox (seq INTEGER PRIMARY KEY, msg_id BLOB NOT NULL UNIQUE,"
    " bundle_id BLOB NOT NULL, recipients INTEGER NOT NULL, queued INTEGER NOT NULL,"
    " relayed INTEGER NOT NULL, delivered INTEGER NOT NULL, read INTEGER NOT NULL,"
    " expired INTEGER NOT NULL, delivered_count INTEGER NOT NULL, read_count INTEGER NOT NULL,"
    " sealed BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS e2e_outbox_bundle ON e2e_outbox(bundle_id);"
    /* who a message went to (1:1: one row; group: every other member): receipts count once */
    "CREATE TABLE IF NOT EXISTS e2e_rcpt (msg_id BLOB NOT NULL, member BLOB NOT NULL,"
    " delivered INTEGER NOT NULL, read INTEGER NOT NULL, PRIMARY KEY (msg_id, member))"
    " WITHOUT ROWID;"
    /* receipts to send at the end of the loop turn, in batches per peer */
    "CREATE TABLE IF NOT EXISTS e2e_receipt (peer BLOB NOT NULL, kind INTEGER NOT NULL,"
    " msg_id BLOB NOT NULL, PRIMARY KEY (peer, kind, msg_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS e2e_group (group_id BLOB PRIMARY KEY, name_mac BLOB NOT NULL,"
    " version INTEGER NOT NULL, owner BLOB NOT NULL, sealed BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS e2e_group_name ON e2e_group(name_mac);"
    /* groups this node was removed from, and at which version: older states are stale */
    "CREATE TABLE IF NOT EXISTS e2e_group_gone (group_id BLOB PRIMARY KEY,"
    " version INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS e2e_sk_own (group_id BLOB PRIMARY KEY, sealed BLOB NOT NULL,"
    " created INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS e2e_sk_peer (group_id BLOB NOT NULL, sender BLOB NOT NULL,"
    " key_id INTEGER NOT NULL, updated INTEGER NOT NULL, sealed BLOB NOT NULL,"
    " PRIMARY KEY (group_id, sender, key_id)) WITHOUT ROWID;"
    /* members still owed our sender key (their session could not start yet) */
    "CREATE TABLE IF NOT EXISTS e2e_sk_todo (group_id BLOB NOT NULL, member BLOB NOT NULL,"
    " PRIMARY KEY (group_id, member)) WITHOUT ROWID;"
    /* group messages that came before their sender key: the envelope, still encrypted */
    "CREATE TABLE IF NOT EXISTS e2e_pending (seq INTEGER PRIMARY KEY, group_id BLOB NOT NULL,"
    " sender BLOB NOT NULL, key_id INTEGER NOT NULL, expires INTEGER NOT NULL,"
    " bundle BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS e2e_pending_key ON e2e_pending(group_id, sender, key_id);";

static const char *const query_sql[MQ_COUNT] = {
    [MQ_META_GET] = "SELECT v FROM e2e_meta WHERE k = ?1",
    [MQ_META_PUT] = "INSERT OR REPLACE INTO e2e_meta(k, v) VALUES (?1, ?2)",
    [MQ_SPK_PUT] = "INSERT INTO e2e_spk(id, created, expires, wipe_at, announcement, sealed)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [MQ_SPK_GET] = "SELECT sealed, announcement FROM e2e_spk WHERE id = ?1",
    [MQ_SPK_NEWEST] = "SELECT id, created, announcement FROM e2e_spk ORDER BY id DESC LIMIT 1",
    [MQ_SPK_WIPE] = "DELETE FROM e2e_spk WHERE wipe_at <= ?1",
    [MQ_SEEN_ADD] = "INSERT INTO e2e_seen(spk_id, ek) VALUES (?1, ?2)",
    [MQ_SEEN_WIPE] = "DELETE FROM e2e_seen WHERE spk_id NOT IN (SELECT id FROM e2e_spk)",
    [MQ_CONTACT_PUT] = "INSERT OR REPLACE INTO e2e_contact(node_id, name_mac, sealed)"
                       " VALUES (?1, ?2, ?3)",
    [MQ_CONTACT_GET] = "SELECT sealed FROM e2e_contact WHERE node_id = ?1",
    [MQ_CONTACT_BY_NAME] = "SELECT node_id FROM e2e_contact WHERE name_mac = ?1",
    [MQ_SESSION_ACTIVE] = "SELECT rowid, sealed, prekey, ek, spk_id FROM e2e_session"
                          " WHERE peer = ?1 AND active = 1",
    [MQ_SESSION_BY_EK] = "SELECT rowid, sealed, active FROM e2e_session WHERE peer = ?1 AND ek = ?2",
    [MQ_SESSION_EACH] = "SELECT rowid, sealed, prekey, ek, active FROM e2e_session"
                        " WHERE peer = ?1 ORDER BY active DESC, updated DESC, rowid DESC",
    [MQ_SESSION_INSERT] = "INSERT INTO e2e_session(peer, active, ek, spk_id, prekey, updated,"
                          " sealed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [MQ_SESSION_UPDATE] = "UPDATE e2e_session SET sealed = ?2, prekey = ?3, updated = ?4"
                          " WHERE rowid = ?1",
    [MQ_SESSION_DEMOTE] = "UPDATE e2e_session SET active = 0 WHERE peer = ?1",
    [MQ_SESSION_TRIM] = "DELETE FROM e2e_session WHERE peer = ?1 AND active = 0 AND rowid NOT IN"
                        " (SELECT rowid FROM e2e_session WHERE peer = ?1 AND active = 0"
                        "  ORDER BY updated DESC LIMIT ?2)",
    [MQ_INBOX_ADD] = "INSERT OR IGNORE INTO e2e_inbox(sender, msg_id, received, read, sealed)"
                     " VALUES (?1, ?2, ?3, 0, ?4)",
    [MQ_INBOX_LIST] = "SELECT seq, sender, msg_id, received, read, sealed FROM e2e_inbox"
                      " WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
    [MQ_INBOX_WINDOW] = "SELECT seq, length(sealed) FROM e2e_inbox ORDER BY seq DESC LIMIT ?1",
    [MQ_INBOX_UNREAD] = "SELECT COUNT(*) FROM e2e_inbox WHERE read = 0",
    [MQ_INBOX_COUNT] = "SELECT COUNT(*) FROM e2e_inbox",
    [MQ_OUTBOX_COUNT] = "SELECT COUNT(*) FROM e2e_outbox",
    [MQ_INBOX_PRUNE] = "DELETE FROM e2e_inbox WHERE read = 1 AND seq <= (SELECT MAX(seq) FROM"
                       " e2e_inbox) - ?1",
    [MQ_OUTBOX_PRUNE] = "DELETE FROM e2e_outbox WHERE (read > 0 OR expired > 0 OR"
                        " delivered_count >= recipients) AND seq <= (SELECT MAX(seq) FROM"
                        " e2e_outbox) - ?1",
    [MQ_RCPT_PRUNE] = "DELETE FROM e2e_rcpt WHERE msg_id NOT IN (SELECT msg_id FROM e2e_outbox)",
    [MQ_INBOX_MARK_READ] = "UPDATE e2e_inbox SET read = 1 WHERE seq = ?1",
    [MQ_OUTBOX_ADD] = "INSERT INTO e2e_outbox(msg_id, bundle_id, recipients, queued, relayed,"
                      " delivered, read, expired, delivered_count, read_count, sealed)"
                      " VALUES (?1, ?2, ?3, ?4, 0, 0, 0, 0, 0, 0, ?5)",
    [MQ_OUTBOX_BY_BUNDLE] = "SELECT msg_id, relayed, delivered FROM e2e_outbox WHERE bundle_id = ?1",
    [MQ_OUTBOX_BY_MSG] = "SELECT delivered, read FROM e2e_outbox WHERE msg_id = ?1",
    [MQ_OUTBOX_SET] = "UPDATE e2e_outbox SET relayed = MAX(relayed, ?2), expired = ?3,"
                      " delivered = ?4, read = ?5,"
                      " delivered_count = (SELECT COUNT(*) FROM e2e_rcpt WHERE msg_id = ?1"
                      "  AND delivered > 0),"
                      " read_count = (SELECT COUNT(*) FROM e2e_rcpt WHERE msg_id = ?1 AND read > 0)"
                      " WHERE msg_id = ?1",
    [MQ_OUTBOX_LIST] = "SELECT msg_id, recipients, queued, relayed, delivered, read, expired,"
                       " delivered_count, read_count, sealed FROM e2e_outbox"
                       " WHERE seq > (SELECT COALESCE(MAX(seq), 0) FROM e2e_outbox) - ?1"
                       " ORDER BY seq",
    [MQ_RCPT_ADD] = "INSERT OR IGNORE INTO e2e_rcpt(msg_id, member, delivered, read)"
                    " VALUES (?1, ?2, 0, 0)",
    [MQ_RCPT_SET] = "UPDATE e2e_rcpt SET delivered = CASE WHEN delivered = 0 THEN ?3 ELSE"
                    " delivered END, read = CASE WHEN ?4 > 0 AND read = 0 THEN ?4 ELSE read END"
                    " WHERE msg_id = ?1 AND member = ?2",
    [MQ_RECEIPT_QUEUE] = "INSERT OR IGNORE INTO e2e_receipt(peer, kind, msg_id) VALUES (?1, ?2, ?3)",
    [MQ_RECEIPT_PEERS] = "SELECT DISTINCT peer, kind FROM e2e_receipt LIMIT 64",
    [MQ_RECEIPT_TAKE] = "SELECT msg_id FROM e2e_receipt WHERE peer = ?1 AND kind = ?2 LIMIT ?3",
    [MQ_RECEIPT_DEL] = "DELETE FROM e2e_receipt WHERE peer = ?1 AND kind = ?2 AND msg_id = ?3",
    [MQ_GROUP_PUT] = "INSERT OR REPLACE INTO e2e_group(group_id, name_mac, version, sealed, owner)"
                     " VALUES (?1, ?2, ?3, ?4, ?5)",
    [MQ_GROUP_GET] = "SELECT version, sealed FROM e2e_group WHERE group_id = ?1",
    [MQ_GROUP_BY_NAME] = "SELECT group_id FROM e2e_group WHERE name_mac = ?1",
    [MQ_GROUP_DEL] = "DELETE FROM e2e_group WHERE group_id = ?1",
    [MQ_GROUP_LIST] = "SELECT group_id FROM e2e_group",
    [MQ_SKOWN_PUT] = "INSERT INTO e2e_sk_own(group_id, sealed, created) VALUES (?1, ?2, ?3)"
                     " ON CONFLICT(group_id) DO UPDATE SET sealed = excluded.sealed",
    [MQ_SKOWN_GET] = "SELECT sealed FROM e2e_sk_own WHERE group_id = ?1",
    [MQ_SKOWN_DEL] = "DELETE FROM e2e_sk_own WHERE group_id = ?1",
    [MQ_SKPEER_PUT] = "INSERT OR REPLACE INTO e2e_sk_peer(group_id, sender, key_id, updated,"
                      " sealed) VALUES (?1, ?2, ?3, ?4, ?5)",
    [MQ_SKPEER_GET] = "SELECT sealed FROM e2e_sk_peer WHERE group_id = ?1 AND sender = ?2"
                      " AND key_id = ?3",
    [MQ_SKPEER_TRIM] = "DELETE FROM e2e_sk_peer WHERE group_id = ?1 AND sender = ?2 AND key_id"
                       " NOT IN (SELECT key_id FROM e2e_sk_peer WHERE group_id = ?1 AND"
                       " sender = ?2 ORDER BY updated DESC LIMIT ?3)",
    [MQ_SKPEER_DEL_GROUP] = "DELETE FROM e2e_sk_peer WHERE group_id = ?1",
    [MQ_TODO_ADD] = "INSERT OR IGNORE INTO e2e_sk_todo(group_id, member) VALUES (?1, ?2)",
    [MQ_TODO_EACH] = "SELECT group_id, member FROM e2e_sk_todo ORDER BY random() LIMIT 64",
    [MQ_TODO_DEL] = "DELETE FROM e2e_sk_todo WHERE group_id = ?1 AND member = ?2",
    [MQ_TODO_DEL_GROUP] = "DELETE FROM e2e_sk_todo WHERE group_id = ?1",
    [MQ_GROUP_COUNT] = "SELECT COUNT(*) FROM e2e_group",
    [MQ_GONE_PUT] = "INSERT OR REPLACE INTO e2e_group_gone(group_id, version) VALUES (?1, ?2)",
    [MQ_GONE_GET] = "SELECT version FROM e2e_group_gone WHERE group_id = ?1",
    [MQ_GROUP_COUNT_OWNER] = "SELECT COUNT(*) FROM e2e_group WHERE owner = ?2",
    [MQ_SKPEER_UNKNOWN] = "SELECT COUNT(*) FROM e2e_sk_peer WHERE sender = ?2"
                          " AND group_id NOT IN (SELECT group_id FROM e2e_group)",
    [MQ_PENDING_COUNT_FROM] = "SELECT COUNT(*) FROM e2e_pending WHERE group_id = ?1 AND sender = ?2",
    [MQ_SKOWN_OLD] = "SELECT group_id FROM e2e_sk_own WHERE created <= ?1 LIMIT 16",
    [MQ_PENDING_ADD] = "INSERT INTO e2e_pending(group_id, sender, key_id, expires, bundle)"
                       " VALUES (?1, ?2, ?3, ?4, ?5)",
    [MQ_PENDING_COUNT] = "SELECT COUNT(*) FROM e2e_pending",
    [MQ_PENDING_FOR] = "SELECT seq, bundle FROM e2e_pending WHERE group_id = ?1 AND sender = ?2"
                       " AND seq > ?3 ORDER BY seq LIMIT 1",
    [MQ_PENDING_DEL] = "DELETE FROM e2e_pending WHERE seq = ?1",
    [MQ_PENDING_EXPIRE] = "DELETE FROM e2e_pending WHERE expires <= ?1",
};

sqlite3_stmt *gm__msgr_q(gm_messenger_t *g, gm__msgr_query_t which)
{
    if (g->q[which] == NULL &&
        sqlite3_prepare_v3(g->db, query_sql[which], -1, SQLITE_PREPARE_PERSISTENT, &g->q[which],
                           NULL) != SQLITE_OK) {
        gm__msgr_log(g, GM_LOG_ERROR, "messenger: cannot prepare statement %d: %s", (int)which,
                     sqlite3_errmsg(g->db));
        return NULL;
    }
    sqlite3_reset(g->q[which]);
    sqlite3_clear_bindings(g->q[which]);
    return g->q[which];
}

int gm__msgr_run(gm_messenger_t *g, sqlite3_stmt *st)
{
    int rc;

    if (st == NULL) {
        return GM_EIO;
    }
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        gm__msgr_log(g, GM_LOG_ERROR, "messenger: store write failed: %s", sqlite3_errmsg(g->db));
        return GM_EIO;
    }
    return 0;
}

/* A COUNT(*) query with optional group (?1) and sender (?2) parameters; a large value if it fails. */
int64_t gm__msgr_count_rows(gm_messenger_t *g, gm__msgr_query_t q, const uint8_t *group,
                            const uint8_t *sender)
{
    sqlite3_stmt *st = gm__msgr_q(g, q);
    int64_t n = INT64_MAX;

    if (st == NULL) {
        return n;
    }
    if (group != NULL) {
        gm__msgr_bind_blob(st, 1, group, GM_ID_LEN);
    }
    if (sender != NULL) {
        gm__msgr_bind_blob(st, 2, sender, GM_ID_LEN);
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return n;
}

void gm__msgr_bind_blob(sqlite3_stmt *st, int col, const void *p, size_t len)
{
    static const uint8_t none = 0; /* SQLite reads a NULL blob as NULL: bind an empty one */

    sqlite3_bind_blob(st, col, len > 0 ? p : &none, (int)len, SQLITE_STATIC);
}

static int derive_keys(gm_messenger_t *g)
{
    const gm_node_keys_t *k = gm_node_keys(g->node);
    uint8_t ikm[3 * GM_KEYS_LEN];
    int err;

    memcpy(ikm, k->sign_seed, GM_KEYS_LEN);
    memcpy(ikm + GM_KEYS_LEN, k->link_sk, GM_KEYS_LEN);
    memcpy(ikm + 2 * GM_KEYS_LEN, k->e2e_sk, GM_KEYS_LEN);
    err = gm_hkdf_sha256(g->store_key, sizeof g->store_key, NULL, 0, ikm, sizeof ikm,
                         STORE_KEY_INFO, strlen(STORE_KEY_INFO));
    if (err == 0) {
        err = gm_hkdf_sha256(g->name_key, sizeof g->name_key, NULL, 0, ikm, sizeof ikm,
                             NAME_KEY_INFO, strlen(NAME_KEY_INFO));
    }
    sodium_memzero(ikm, sizeof ikm);
    return err;
}

/* Creates the tables if needed and checks or writes their version, in the open group. */
static int make_tables(gm_messenger_t *g, gm_why_t *why)
{
    char *msg = NULL;
    sqlite3_stmt *st;
    int version = 0;

    if (sqlite3_exec(g->db, schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
        gm_why_set(why, "cannot create the messenger's tables in the store: %s",
                   msg != NULL ? msg : sqlite3_errmsg(g->db));
        sqlite3_free(msg);
        return GM_EIO;
    }
    st = gm__msgr_q(g, MQ_META_GET);
    if (st == NULL) {
        gm_why_set(why, "cannot read the messenger's tables: %s", sqlite3_errmsg(g->db));
        return GM_EIO;
    }
    sqlite3_bind_text(st, 1, "schema", -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        version = sqlite3_column_int(st, 0);
    }
    sqlite3_reset(st);
    if (version != 0 && version != MSGR_SCHEMA_VERSION) {
        gm_why_set(why, "the store's messenger tables are version %d, this build reads %d",
                   version, MSGR_SCHEMA_VERSION);
        return GM_EPROTO;
    }
    if (version == MSGR_SCHEMA_VERSION) {
        return 0; /* nothing to write: a node restarted on a full disk still starts */
    }
    st = gm__msgr_q(g, MQ_META_PUT);
    if (st != NULL) {
        sqlite3_bind_text(st, 1, "schema", -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, MSGR_SCHEMA_VERSION);
    }
    if (gm__msgr_run(g, st) != 0) {
        gm_why_set(why, "cannot write the messenger's tables: %s", sqlite3_errmsg(g->db));
        return GM_EIO;
    }
    return 0;
}

int gm__msgr_db_open(gm_messenger_t *g, gm_why_t *why)
{
    int err;

    g->db = gm_mesh_db(g->mesh);
    if (derive_keys(g) != 0) {
        gm_why_set(why, "cannot derive the store key");
        return GM_EAUTH;
    }
    /* deleted rows (old sealed states) are overwritten, not left in free pages */
    if (sqlite3_exec(g->db, "PRAGMA secure_delete = FAST", NULL, NULL, NULL) != SQLITE_OK ||
        gm_mesh_begin(g->mesh, NULL) != 0) {
        gm_why_set(why, "cannot open the store for the messenger: %s", sqlite3_errmsg(g->db));
        return GM_EIO;
    }
    err = make_tables(g, why);
    if (err == 0 && gm_mesh_commit(g->mesh) != 0) {
        /* the failed commit was rolled back: the connection's own message is gone by now */
        gm_why_set(why, "cannot write the messenger's tables: %s", gm_mesh_store_errmsg(g->mesh));
        err = GM_EIO;
    }
    if (err != 0) {
        gm_mesh_abort(g->mesh); /* nothing half-made stays in the store's open group */
    }
    return err;
}

void gm__msgr_db_close(gm_messenger_t *g)
{
    for (int i = 0; i < MQ_COUNT; i++) {
        sqlite3_finalize(g->q[i]);
        g->q[i] = NULL;
    }
    sodium_memzero(g->store_key, sizeof g->store_key);
    sodium_memzero(g->name_key, sizeof g->name_key);
}

/* AD = SEAL_CTX \0 || tag \0 || key: a row cannot be moved to another row or table. */
static uint8_t *seal_ad(const char *tag, const uint8_t *key, size_t key_len, size_t *ad_len)
{
    size_t ctx_len = sizeof SEAL_CTX, tag_len = strlen(tag) + 1;
    uint8_t *ad = malloc(ctx_len + tag_len + key_len + 1);

    if (ad != NULL) {
        memcpy(ad, SEAL_CTX, ctx_len);
        memcpy(ad + ctx_len, tag, tag_len);
        if (key_len > 0) {
            memcpy(ad + ctx_len + tag_len, key, key_len);
        }
        *ad_len = ctx_len + tag_len + key_len;
    }
    return ad;
}

int gm__msgr_seal(const gm_messenger_t *g, const char *tag, const uint8_t *key, size_t key_len,
                  const uint8_t *pt, size_t pt_len, uint8_t **out, size_t *out_len)
{
    const size_t npub = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    size_t ad_len;
    uint8_t *ad = seal_ad(tag, key, key_len, &ad_len);
    uint8_t *buf = malloc(npub + pt_len + crypto_aead_xchacha20poly1305_ietf_ABYTES);
    unsigned long long clen;

    if (ad == NULL || buf == NULL) {
        free(ad);
        free(buf);
        return GM_ENOMEM;
    }
    randombytes_buf(buf, npub);
    crypto_aead_xchacha20poly1305_ietf_encrypt(buf + npub, &clen, pt, pt_len, ad, ad_len, NULL,
                                               buf, g->store_key);
    free(ad);
    *out = buf;
    *out_len = npub + (size_t)clen;
    return 0;
}

int gm__msgr_open(const gm_messenger_t *g, const char *tag, const uint8_t *key, size_t key_len,
                  const uint8_t *ct, size_t ct_len, uint8_t **out, size_t *out_len)
{
    const size_t npub = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    const size_t abytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
    size_t ad_len;
    uint8_t *ad, *buf;
    unsigned long long plen;

    if (ct == NULL || ct_len < npub + abytes) {
        return GM_EAUTH;
    }
    ad = seal_ad(tag, key, key_len, &ad_len);
    buf = malloc(ct_len - npub - abytes + 1);
    if (ad == NULL || buf == NULL) {
        free(ad);
        free(buf);
        return GM_ENOMEM;
    }
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(buf, &plen, NULL, ct + npub, ct_len - npub, ad,
                                                   ad_len, ct, g->store_key) != 0) {
        free(ad);
        free(buf);
        return GM_EAUTH;
    }
    free(ad);
    *out = buf;
    *out_len = (size_t)plen;
    return 0;
}

void gm__msgr_name_mac(const gm_messenger_t *g, const char *name, uint8_t mac[16])
{
    crypto_generichash(mac, 16, (const uint8_t *)name, strlen(name), g->name_key,
                       sizeof g->name_key);
}

/*
 * What the messenger does with content once it is authentic: the inbox, the
 * outbox and its states, and receipts both ways.
 *
 * Inbox rows are unique by (sender, message id), so a message the mesh or a
 * replaying relay brings twice shows once. Receipts name message ids inside
 * the ciphertext, and count only from the members a message went to.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/messenger_internal.h"

/* ---- inbox ---- */

/* Sealed inbox record: flags (1) || group id (16) || encoded content. */
enum { INBOX_BROADCAST = 1, INBOX_GROUP = 2 };

static int inbox_add(gm_messenger_t *g, const uint8_t sender[GM_ID_LEN], const uint8_t *group,
                     bool broadcast, const gm_content_t *c, bool *added)
{
    size_t len = gm_wire_content_size(c), sealed_len;
    uint8_t *rec = malloc(1 + GM_ID_LEN + len), *sealed = NULL, key[2 * GM_ID_LEN];
    sqlite3_stmt *st;
    int err;

    if (rec == NULL || len == 0) {
        free(rec);
        return len == 0 ? GM_EPROTO : GM_ENOMEM;
    }
    rec[0] = (uint8_t)((broadcast ? INBOX_BROADCAST : 0) | (group != NULL ? INBOX_GROUP : 0));
    memset(rec + 1, 0, GM_ID_LEN);
    if (group != NULL) {
        memcpy(rec + 1, group, GM_ID_LEN);
    }
    err = gm_wire_content_encode(c, rec + 1 + GM_ID_LEN, len, &len);
    memcpy(key, sender, GM_ID_LEN);
    memcpy(key + GM_ID_LEN, c->msg_id, GM_ID_LEN);
    if (err == 0) {
        err = gm__msgr_seal(g, "inbox", key, sizeof key, rec, 1 + GM_ID_LEN + len, &sealed,
                            &sealed_len);
    }
    sodium_memzero(rec, 1 + GM_ID_LEN + len);
    free(rec);
    if (err != 0) {
        return err;
    }
    st = gm__msgr_q(g, MQ_INBOX_ADD);
    if (st != NULL) {
        gm__msgr_bind_blob(st, 1, sender, GM_ID_LEN);
        gm__msgr_bind_blob(st, 2, c->msg_id, GM_ID_LEN);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)gm__msgr_wall(g));
        gm__msgr_bind_blob(st, 4, sealed, sealed_len);
    }
    err = gm__msgr_run(g, st);
    free(sealed);
    *added = err == 0 && sqlite3_changes(g->db) > 0;
    return err;
}

int gm__msgr_inbox_open(gm_messenger_t *g, const uint8_t sender[GM_ID_LEN],
                        const uint8_t msg_id[GM_ID_LEN], const void *sealed, size_t sealed_len,
                        gm__msgr_inbox_rec_t *out)
{
    uint8_t key[2 * GM_ID_LEN], *rec;
    size_t len;
    int err;

    memcpy(key, sender, GM_ID_LEN);
    memcpy(key + GM_ID_LEN, msg_id, GM_ID_LEN);
    err = gm__msgr_open(g, "inbox", key, sizeof key, sealed, sealed_len, &rec, &len);
    if (err != 0) {
        return err;
    }
    err = len > 1 + GM_ID_LEN ? gm_wire_content_decode(rec + 1 + GM_ID_LEN, len - 1 - GM_ID_LEN,
                                                       &out->content)
                              : GM_EPROTO;
    if (err == 0) {
        out->broadcast = (rec[0] & INBOX_BROADCAST) != 0;
        out->has_group = (rec[0] & INBOX_GROUP) != 0;
        memcpy(out->group, rec + 1, GM_ID_LEN);
    }
    sodium_memzero(rec, len);
    free(rec);
    return err;
}

/* ---- receipts ---- */

int gm__msgr_queue_receipt(gm_messenger_t *g, const uint8_t peer[GM_ID_LEN],
                           const uint8_t msg_id[GM_ID_LEN], int kind)
{
    sqlite3_stmt *st = gm__msgr_q(g, MQ_RECEIPT_QUEUE);

    if (st != NULL) {
        gm__msgr_bind_blob(st, 1, peer, GM_ID_LEN);
        sqlite3_bind_int(st, 2, kind);
        gm__msgr_bind_blob(st, 3, msg_id, GM_ID_LEN);
    }
    g->receipts_waiting = true;
    gm_node_wake(g->node);
    return gm__msgr_run(g, st);
}

int gm__msgr_send_receipts(gm_messenger_t *g, const uint8_t peer[GM_ID_LEN], int kind)
{
    gm_content_t *c = calloc(1, sizeof *c);
    gm__msgr_peer_t *p = malloc(sizeof *p);
    sqlite3_stmt *st;
    int err = c == NULL || p == NULL ? GM_ENOMEM : gm_mesh_begin(g->mesh, NULL);

    st = err == 0 ? gm__msgr_q(g, MQ_RECEIPT_TAKE) : NULL;
    if (st != NULL) {
        c->kind = GM_CONTENT_RECEIPT;
        c->receipt.kind = (gm_receipt_kind_t)kind;
        gm__msgr_bind_blob(st, 1, peer, GM_ID_LEN);
        sqlite3_bind_int(st, 2, kind);
        sqlite3_bind_int(st, 3, GM_E2E_RECEIPT_MAX);
        while (sqlite3_step(st) == SQLITE_ROW && c->receipt.n_ids < GM_E2E_RECEIPT_MAX) {
            if (sqlite3_column_bytes(st, 0) == GM_ID_LEN) {
                memcpy(c->receipt.ids[c->receipt.n_ids++], sqlite3_column_blob(st, 0), GM_ID_LEN);
            }
        }
        sqlite3_reset(st);
    }
    if (err == 0 && c->receipt.n_ids > 0) {
        randombytes_buf(c->msg_id, sizeof c->msg_id);
        c->sent = gm__msgr_wall(g);
        err = gm__msgr_peer(g, peer, p);
        /* a peer without a usable prekey cannot get receipts: they would wait forever */
        err = err == 0 ? gm__msgr_send_1to1(g, p, c, GM_PRIO_NORMAL, NULL) : err;
        if (err == 0) {
            g->st.receipts_sent++;
        } else if (err != GM_EIO && err != GM_ENOMEM) {
            char name[80];
            gm__msgr_peer_name(g, peer, name, sizeof name);
            gm__msgr_log(g, GM_LOG_WARN, "messenger: receipts to %s dropped: %s", name,
                         gm_strerror(err));
            err = 0;
        }
        for (size_t i = 0; err == 0 && i < c->receipt.n_ids; i++) {
            st = gm__msgr_q(g, MQ_RECEIPT_DEL);
            if (st != NULL) {
                gm__msgr_bind_blob(st, 1, peer, GM_ID_LEN);
                sqlite3_bind_int(st, 2, kind);
                gm__msgr_bind_blob(st, 3, c->receipt.ids[i], GM_ID_LEN);
            }
            err = gm__msgr_run(g, st);
        }
        g->receipts_waiting |= c->receipt.n_ids == GM_E2E_RECEIPT_MAX;
    }
    if (err == GM_EIO) {
        gm_mesh_abort(g->mesh);
    }
    free(c);
    free(p);
    return err;
}

/* ---- outbox ---- */

int gm__msgr_outbox_add(gm_messenger_t *g, const uint8_t msg_id[GM_ID_LEN],
                        const uint8_t bundle_id[GM_ID_LEN], const uint8_t (*members)[GM_ID_LEN],
                        size_t n_members, const gm__msgr_outbox_rec_t *rec)
{
    uint8_t *sealed;
    size_t sealed_len;
    sqlite3_stmt *st;
    int err = gm__msgr_seal(g, "outbox", msg_id, GM_ID_LEN, (const uint8_t *)rec, sizeof *rec,
                            &sealed, &sealed_len);

    if (err != 0) {
        return err;
    }
    st = gm__msgr_q(g, MQ_OUTBOX_ADD);
    if (st != NULL) {
        gm__msgr_bind_blob(st, 1, msg_id, GM_ID_LEN);
        gm__msgr_bind_blob(st, 2, bundle_id, GM_ID_LEN);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)n_members);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)gm__msgr_wall(g));
        gm__msgr_bind_blob(st, 5, sealed, sealed_len);
    }
    err = gm__msgr_run(g, st);
    free(sealed);
    for (size_t i = 0; err == 0 && i < n_members; i++) {
        st = gm__msgr_q(g, MQ_RCPT_ADD);
        if (st != NULL) {
            gm__msgr_bind_blob(st, 1, msg_id, GM_ID_LEN);
            gm__msgr_bind_blob(st, 2, members[i], GM_ID_LEN);
        }
        err = gm__msgr_run(g, st);
    }
    return err;
}

int gm__msgr_outbox_open(const gm_messenger_t *g, const uint8_t msg_id[GM_ID_LEN],
                         const void *sealed, size_t len, gm__msgr_outbox_rec_t *out)
{
    uint8_t *pt;
    size_t pt_len;
    int err = gm__msgr_open(g, "outbox", msg_id, GM_ID_LEN, sealed, len, &pt, &pt_len);

    if (err == 0) {
        err = pt_len == sizeof *out ? 0 : GM_EPROTO;
        if (err == 0) {
            memcpy(out, pt, sizeof *out);
            out->to[sizeof out->to - 1] = 0;
            out->group[sizeof out->group - 1] = 0;
            out->text[sizeof out->text - 1] = 0;
        }
        sodium_memzero(pt, pt_len);
        free(pt);
    }
    return err;
}

/*
 * Applies an event to msg_id's outbox row: "relayed", "expired", or a
 * receipt ("delivered", "read") from member (NULL for the others). A receipt
 * from someone the message did not go to changes nothing.
 */
int gm__msgr_outbox_event(gm_messenger_t *g, const uint8_t msg_id[GM_ID_LEN], const char *what,
                          const uint8_t *member)
{
    uint64_t now = gm__msgr_wall(g), delivered = 0, read = 0;
    bool is_read = strcmp(what, "read") == 0, is_receipt = member != NULL;
    sqlite3_stmt *st = gm__msgr_q(g, MQ_OUTBOX_BY_MSG);
    int err;

    if (st == NULL) {
        return GM_EIO;
    }
    gm__msgr_bind_blob(st, 1, msg_id, GM_ID_LEN);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return GM_ENOENT;
    }
    delivered = (uint64_t)sqlite3_column_int64(st, 0);
    read = (uint64_t)sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    if (is_receipt) {
        st = gm__msgr_q(g, MQ_RCPT_SET);
        if (st != NULL) {
            gm__msgr_bind_blob(st, 1, msg_id, GM_ID_LEN);
            gm__msgr_bind_blob(st, 2, member, GM_ID_LEN);
            sqlite3_bind_int64(st, 3, (sqlite3_int64)now); /* read implies delivered */
            sqlite3_bind_int64(st, 4, is_read ? (sqlite3_int64)now : 0);
        }
        err = gm__msgr_run(g, st);
        if (err != 0 || sqlite3_changes(g->db) == 0) {
            return err != 0 ? err : GM_EAUTH; /* not one of its recipients */
        }
        delivered = delivered != 0 ? delivered : now;
        read = is_read && read == 0 ? now : read;
    }
    st = gm__msgr_q(g, MQ_OUTBOX_SET);
    if (st != NULL) {
        gm__msgr_bind_blob(st, 1, msg_id, GM_ID_LEN);
        sqlite3_bind_int64(st, 2, strcmp(what, "relayed") == 0 || is_receipt ? (sqlite3_int64)now
                                                                             : 0);
        sqlite3_bind_int64(st, 3, strcmp(what, "expired") == 0 && delivered == 0
                                      ? (sqlite3_int64)now
                                      : 0);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)delivered);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)read);
    }
    return gm__msgr_run(g, st);
}

/* ---- content from a verified sender ---- */

int gm__msgr_on_content(gm_messenger_t *g, const uint8_t sender[GM_ID_LEN], const uint8_t *group,
                        bool broadcast, const gm_content_t *c)
{
    bool added = false;
    int err = 0;

    uint64_t now = gm__msgr_wall(g);

    if (broadcast && (c->kind == GM_CONTENT_TEXT ||
                      c->sent + GM_BUNDLE_LIFETIME_MAX + GM_CERT_SKEW_SECONDS < now ||
                      c->sent > now + GM_CERT_SKEW_SECONDS)) {
        /* everyone gets alerts and positions only; an old signed one replayed is not news */
        g->st.dropped_replay++;
        return 0;
    }
    switch (c->kind) {
    case GM_CONTENT_TEXT:
    case GM_CONTENT_POSITION:
    case GM_CONTENT_ALERT:
        err = inbox_add(g, sender, group, broadcast, c, &added);
        if (err == 0 && added) {
            g->st.inbox_added++;
            if (g->on_arrival != NULL) {
                g->on_arrival(g->arrival_ctx,
                              &(gm_messenger_arrival_t){c->msg_id, sender, group, broadcast,
                                                        (int)c->kind});
            }
            /* not for a broadcast: the whole mesh would answer the one who called for help */
            err = broadcast ? 0 : gm__msgr_queue_receipt(g, sender, c->msg_id,
                                                           GM_RECEIPT_DELIVERED);
        } else if (err == 0) {
            g->st.duplicates++;
        }
        break;
    case GM_CONTENT_RECEIPT:
        g->st.receipts_received += !broadcast && group == NULL;
        for (size_t i = 0; !broadcast && group == NULL && i < c->receipt.n_ids && err == 0; i++) {
            err = gm__msgr_outbox_event(
                g, c->receipt.ids[i],
                c->receipt.kind == GM_RECEIPT_READ ? "read" : "delivered", sender);
            err = err == GM_ENOENT || err == GM_EAUTH ? 0 : err;
        }
        break;
    case GM_CONTENT_SENDER_KEY:
        if (!broadcast && group == NULL) { /* only over a 1:1 session */
            err = gm__msgr_on_sender_key(g, sender, &c->sender_key);
        }
        break;
    case GM_CONTENT_GROUP:
        if (!broadcast && group == NULL) {
            err = gm__msgr_on_group_state(g, sender, &c->group);
        }
        break;
    }
    return err;
}

/*
 * Keeps the inbox and the outbox within GM_MSGR_KEEP_MESSAGES rows each: the
 * oldest read (inbox) or finished (outbox) ones go, never an unread message.
 * A peer that sends without end cannot fill the disk the custody store needs.
 */
void gm__msgr_prune(gm_messenger_t *g)
{
    static const gm__msgr_query_t prune[] = {MQ_INBOX_PRUNE, MQ_OUTBOX_PRUNE, MQ_RCPT_PRUNE};
    int err = 0;

    if (gm__msgr_count_rows(g, MQ_INBOX_COUNT, NULL, NULL) <= GM_MSGR_KEEP_MESSAGES &&
        gm__msgr_count_rows(g, MQ_OUTBOX_COUNT, NULL, NULL) <= GM_MSGR_KEEP_MESSAGES) {
        return;
    }
    err = gm_mesh_begin(g->mesh, NULL);
    for (size_t i = 0; err == 0 && i < sizeof prune / sizeof prune[0]; i++) {
        sqlite3_stmt *st = gm__msgr_q(g, prune[i]);
        if (st != NULL && prune[i] != MQ_RCPT_PRUNE) {
            sqlite3_bind_int64(st, 1, GM_MSGR_KEEP_MESSAGES);
        }
        err = gm__msgr_run(g, st);
    }
    if (err != 0) {
        gm_mesh_abort(g->mesh);
    }
}

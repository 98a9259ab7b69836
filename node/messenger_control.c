/*
 * The messenger's side of the control socket (GM_OP_MESSENGER): send, inbox,
 * outbox and groups. Every refusal goes back in the answer, with a reason a
 * guard can act on; nothing is queued when a request is refused.
 *
 * A send is answered once the message is durable in the store (its commit
 * done). The inbox commits first too, so that nothing shows that a crash
 * could still take back.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/messenger_internal.h"
#include "proto/wire_messenger_control.h"

typedef struct {
    gm_messenger_response_t r;
    char message[GM_MESSENGER_MESSAGE_MAX];
    void *strings; /* what the answer's texts point into: wiped and freed after encoding */
    size_t strings_len;
} answer_t;

static void refuse(answer_t *a, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void refuse(answer_t *a, int err, const char *fmt, ...)
{
    va_list ap;

    a->r.error = err != 0 ? err : GM_EPROTO;
    va_start(ap, fmt);
    vsnprintf(a->message, sizeof a->message, fmt, ap);
    va_end(ap);
}

static gm_prio_t priority_of(const gm_messenger_request_t *req)
{
    if (req->priority >= 1 && req->priority <= 4) {
        return (gm_prio_t)(req->priority - 1);
    }
    return req->kind == GM_MESSAGE_ALERT      ? GM_PRIO_EMERGENCY
           : req->kind == GM_MESSAGE_POSITION ? GM_PRIO_URGENT
                                              : GM_PRIO_NORMAL;
}

/* The request's content; text points into req. */
static int build_content(gm_messenger_t *g, const gm_messenger_request_t *req, gm_content_t *c)
{
    gm_position_t pos = {.lat = req->lat,
                         .lon = req->lon,
                         .accuracy = req->accuracy,
                         .time = gm__msgr_wall(g)};

    memset(c, 0, sizeof *c);
    randombytes_buf(c->msg_id, sizeof c->msg_id);
    c->sent = gm__msgr_wall(g);
    switch (req->kind) {
    case GM_MESSAGE_TEXT:
        c->kind = GM_CONTENT_TEXT;
        c->text = req->text;
        break;
    case GM_MESSAGE_POSITION:
        if (!req->has_position) {
            return GM_EPROTO;
        }
        c->kind = GM_CONTENT_POSITION;
        c->position = pos;
        break;
    case GM_MESSAGE_ALERT:
        c->kind = GM_CONTENT_ALERT;
        c->alert.kind = req->alert_kind >= 1 && req->alert_kind <= 3
                            ? (gm_alert_kind_t)req->alert_kind
                            : GM_ALERT_SOS;
        c->alert.text = req->text;
        c->alert.has_position = req->has_position;
        c->alert.position = pos;
        break;
    default:
        return GM_EPROTO;
    }
    return gm_wire_content_size(c) > 0 ? 0 : GM_EPROTO;
}

static void outbox_rec(const gm_messenger_request_t *req, const gm_content_t *c,
                       gm__msgr_outbox_rec_t *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->kind = (uint8_t)req->kind;
    rec->alert_kind = c->kind == GM_CONTENT_ALERT ? (uint8_t)c->alert.kind : 0;
    snprintf(rec->to, sizeof rec->to, "%s", req->to != NULL ? req->to : "");
    snprintf(rec->group, sizeof rec->group, "%s", req->group != NULL ? req->group : "");
    snprintf(rec->text, sizeof rec->text, "%s", req->text != NULL ? req->text : "");
}

/* ---- SEND ---- */

/* Where a SEND goes, resolved once for all the messages it makes. */
typedef struct {
    enum { TO_PEER, TO_GROUP, TO_ALL } kind;
    gm__msgr_peer_t peer;
    uint8_t group[GM_ID_LEN];
    uint8_t (*members)[GM_ID_LEN]; /* who receipts may come from */
    size_t n_members;
} dest_t;

static int resolve_group(gm_messenger_t *g, const char *name, dest_t *d, answer_t *a)
{
    gm_group_state_t gs;
    int err = gm__msgr_group_by_name(g, name, d->group);

    if (err != 0) {
        refuse(a, err, "unknown group %s: see `guardmesh group list`", name);
        return err;
    }
    if (gm__msgr_group_get(g, d->group, &gs, NULL, NULL) != 0) {
        refuse(a, GM_EIO, "cannot read group %s", name);
        return GM_EIO;
    }
    d->kind = TO_GROUP;
    d->members = calloc(gs.n_members, GM_ID_LEN);
    for (size_t i = 0; d->members != NULL && i < gs.n_members; i++) {
        if (memcmp(gs.members[i].node_id, gm_node_id(g->node), GM_ID_LEN) != 0) {
            memcpy(d->members[d->n_members++], gs.members[i].node_id, GM_ID_LEN);
        }
    }
    gm_group_state_free(&gs);
    if (d->members == NULL) {
        refuse(a, GM_ENOMEM, "out of memory");
        return GM_ENOMEM;
    }
    return 0;
}

static int resolve_dest(gm_messenger_t *g, const gm_messenger_request_t *req, dest_t *d,
                        answer_t *a)
{
    gm_why_t why;
    int err;

    if (req->group != NULL && req->group[0] != 0) {
        return resolve_group(g, req->group, d, a);
    }
    if (req->to != NULL && req->to[0] != 0) {
        err = gm__msgr_resolve(g, req->to, &d->peer, &why);
        d->kind = TO_PEER;
        d->members = err == 0 ? malloc(GM_ID_LEN) : NULL;
        if (err == 0 && d->members == NULL) {
            err = GM_ENOMEM;
            snprintf(why.msg, sizeof why.msg, "out of memory");
        }
        if (err != 0) {
            refuse(a, err, "%s", why.msg);
            return err;
        }
        memcpy(d->members[0], d->peer.cert.body.node_id, GM_ID_LEN);
        d->n_members = 1;
        return 0;
    }
    if (req->kind == GM_MESSAGE_TEXT) {
        refuse(a, GM_EPROTO, "a text needs --to CALLSIGN@ORG or --group NAME");
        return GM_EPROTO;
    }
    d->kind = TO_ALL; /* an alert or a position to every certified node */
    return 0;
}

/* One message: its content, its bundle, its outbox row (in the open store group). */
static int send_one(gm_messenger_t *g, const gm_messenger_request_t *req, const dest_t *d,
                    answer_t *a)
{
    gm__msgr_outbox_rec_t rec;
    uint8_t bundle[GM_ID_LEN];
    gm_content_t c;
    int err = build_content(g, req, &c);

    if (err != 0) {
        refuse(a, err, "nothing to send: a text of at most %d bytes, or a valid position, is needed",
               GM_MESSENGER_TEXT_MAX);
        return err;
    }
    err = d->kind == TO_PEER    ? gm__msgr_send_1to1(g, &d->peer, &c, priority_of(req), bundle)
          : d->kind == TO_GROUP ? gm__msgr_send_group(g, d->group, &c, priority_of(req), bundle)
                                : gm__msgr_send_broadcast(g, &c, priority_of(req), bundle);
    if (err != 0) {
        refuse(a, err, "cannot send to %s: %s",
               d->kind == TO_PEER ? req->to : d->kind == TO_GROUP ? req->group : "everyone",
               gm_strerror(err));
        return err;
    }
    outbox_rec(req, &c, &rec);
    err = gm__msgr_outbox_add(g, c.msg_id, bundle, (const uint8_t(*)[GM_ID_LEN])d->members,
                              d->n_members, &rec);
    if (err != 0) {
        refuse(a, err, "the store failed: %s (nothing was queued)", gm_strerror(err));
        return err;
    }
    a->r.has_msg_id = true;
    memcpy(a->r.msg_id, c.msg_id, GM_ID_LEN);
    return 0;
}

/* SEND: count messages (1 unless asked for test traffic), durable before the answer. */
static void op_send(gm_messenger_t *g, const gm_messenger_request_t *req, answer_t *a)
{
    dest_t *d = calloc(1, sizeof *d);
    uint32_t count = req->count > 0 ? req->count : 1;
    int err = d == NULL ? GM_ENOMEM : gm_mesh_begin(g->mesh, NULL);

    if (err != 0) {
        refuse(a, err, "cannot send: %s", gm_strerror(err));
    }
    err = err == 0 ? resolve_dest(g, req, d, a) : err;
    for (uint32_t i = 0; err == 0 && i < count; i++) {
        err = send_one(g, req, d, a);
    }
    if (err == 0 && (err = gm_mesh_commit(g->mesh)) != 0) {
        refuse(a, err, "the store failed: %s (nothing was queued)", gm_strerror(err));
    }
    if (err != 0) {
        a->r.has_msg_id = false;
        gm_mesh_abort(g->mesh);
    }
    if (d != NULL) {
        free(d->members);
    }
    free(d);
}

/* ---- INBOX ---- */

typedef struct {
    char from[GM_MESSENGER_ADDR_MAX + 1];
    char group[GM_MESSENGER_GROUP_NAME_MAX + 1];
    char text[GM_MESSENGER_TEXT_MAX + 1];
} inbox_strings_t;

static void inbox_fill(gm_messenger_t *g, const gm__msgr_inbox_rec_t *rec, gm_inbox_entry_t *e,
                       inbox_strings_t *s)
{
    const gm_content_t *c = &rec->content;
    gm_group_state_t gs;

    s->group[0] = 0;
    if (rec->has_group && gm__msgr_group_get(g, rec->group, &gs, NULL, NULL) == 0) {
        snprintf(s->group, sizeof s->group, "%s", gs.name);
        gm_group_state_free(&gs);
    }
    memcpy(e->msg_id, c->msg_id, GM_ID_LEN);
    e->from = s->from;
    e->group = s->group;
    e->text = s->text;
    e->to_all = rec->broadcast;
    e->sent = c->sent;
    s->text[0] = 0;
    if (c->kind == GM_CONTENT_TEXT) {
        e->kind = GM_MESSAGE_TEXT;
        snprintf(s->text, sizeof s->text, "%s", c->text != NULL ? c->text : "");
    } else if (c->kind == GM_CONTENT_POSITION) {
        e->kind = GM_MESSAGE_POSITION;
        e->has_position = true;
        e->lat = c->position.lat;
        e->lon = c->position.lon;
        e->accuracy = c->position.accuracy;
    } else {
        e->kind = GM_MESSAGE_ALERT;
        e->alert_kind = c->alert.kind;
        snprintf(s->text, sizeof s->text, "%s", c->alert.text != NULL ? c->alert.text : "");
        e->has_position = c->alert.has_position;
        e->lat = c->alert.position.lat;
        e->lon = c->alert.position.lon;
        e->accuracy = c->alert.position.accuracy;
    }
}

/* Marks the listed unread entries read and queues their read receipts. */
static int mark_read(gm_messenger_t *g, const sqlite3_int64 *seqs, uint8_t (*senders)[GM_ID_LEN],
                     const gm_inbox_entry_t *entries, size_t n)
{
    int err = gm_mesh_begin(g->mesh, NULL);

    for (size_t i = 0; err == 0 && i < n; i++) {
        sqlite3_stmt *st;
        if (entries[i].read) {
            continue;
        }
        st = gm__msgr_q(g, MQ_INBOX_MARK_READ);
        if (st != NULL) {
            sqlite3_bind_int64(st, 1, seqs[i]);
        }
        err = gm__msgr_run(g, st);
        if (err == 0 && !entries[i].to_all) { /* no receipts for broadcasts */
            err = gm__msgr_queue_receipt(g, senders[i], entries[i].msg_id, GM_RECEIPT_READ);
        }
    }
    err = err == 0 ? gm_mesh_commit(g->mesh) : err;
    if (err != 0) {
        gm_mesh_abort(g->mesh);
    }
    return err;
}

/*
 * The oldest seq of the newest messages that fit one answer: at most *limit
 * of them (lowered to how many there are) and about half the largest answer
 * in bytes, so long texts never make the inbox unlistable.
 */
static sqlite3_int64 inbox_window(gm_messenger_t *g, uint32_t *limit)
{
    sqlite3_stmt *st = gm__msgr_q(g, MQ_INBOX_WINDOW);
    sqlite3_int64 first = INT64_MAX;
    size_t bytes = 0;
    uint32_t n = 0;

    if (st == NULL) {
        *limit = 0;
        return first;
    }
    sqlite3_bind_int64(st, 1, *limit);
    while (n < *limit && sqlite3_step(st) == SQLITE_ROW) {
        bytes += (size_t)sqlite3_column_int64(st, 1) + 256; /* names, times, field tags */
        if (n > 0 && bytes > GM_MESSENGER_RESPONSE_MAX / 2) {
            break;
        }
        first = sqlite3_column_int64(st, 0);
        n++;
    }
    sqlite3_reset(st);
    *limit = n;
    return first;
}

static void op_inbox(gm_messenger_t *g, const gm_messenger_request_t *req, answer_t *a)
{
    uint32_t limit = req->limit > 0 ? req->limit : 1000;
    sqlite3_int64 first;
    sqlite3_stmt *st;
    inbox_strings_t *strs;
    sqlite3_int64 *seqs;
    uint8_t (*senders)[GM_ID_LEN];
    size_t n = 0;

    if (gm_mesh_commit(g->mesh) != 0) { /* nothing shows that a crash could take back */
        refuse(a, GM_EIO, "the store failed: cannot list the inbox");
        return;
    }
    int64_t unread = gm__msgr_count_rows(g, MQ_INBOX_UNREAD, NULL, NULL);

    a->r.unread = unread >= 0 && unread <= UINT32_MAX ? (uint32_t)unread : 0;
    limit = limit > GM_MESSENGER_LIST_MAX ? GM_MESSENGER_LIST_MAX : limit;
    first = inbox_window(g, &limit);
    a->r.inbox = calloc(limit + 1, sizeof *a->r.inbox);
    strs = calloc(limit + 1, sizeof *strs);
    seqs = calloc(limit + 1, sizeof *seqs);
    senders = calloc(limit + 1, GM_ID_LEN);
    st = gm__msgr_q(g, MQ_INBOX_LIST);
    if (a->r.inbox == NULL || strs == NULL || seqs == NULL || senders == NULL || st == NULL) {
        refuse(a, GM_ENOMEM, "out of memory listing the inbox");
    } else {
        sqlite3_bind_int64(st, 1, first);
        sqlite3_bind_int64(st, 2, limit);
        while (n < limit && sqlite3_step(st) == SQLITE_ROW) {
            gm__msgr_inbox_rec_t rec;
            if (sqlite3_column_bytes(st, 1) != GM_ID_LEN || sqlite3_column_bytes(st, 2) != GM_ID_LEN ||
                gm__msgr_inbox_open(g, sqlite3_column_blob(st, 1), sqlite3_column_blob(st, 2),
                                    sqlite3_column_blob(st, 5),
                                    (size_t)sqlite3_column_bytes(st, 5), &rec) != 0) {
                continue; /* a row that does not open is skipped, not shown garbled */
            }
            seqs[n] = sqlite3_column_int64(st, 0);
            memcpy(senders[n], sqlite3_column_blob(st, 1), GM_ID_LEN);
            inbox_fill(g, &rec, &a->r.inbox[n], &strs[n]);
            gm__msgr_peer_name(g, senders[n], strs[n].from, sizeof strs[n].from);
            a->r.inbox[n].received = (uint64_t)sqlite3_column_int64(st, 3);
            a->r.inbox[n].read = sqlite3_column_int(st, 4) != 0;
            gm_content_free(&rec.content);
            n++;
        }
        sqlite3_reset(st);
        a->r.n_inbox = n;
        if (!req->peek && mark_read(g, seqs, senders, a->r.inbox, n) != 0) {
            refuse(a, GM_EIO, "the store failed: cannot mark messages read");
        }
    }
    free(seqs);
    free(senders);
    a->strings = strs; /* decrypted texts: kept until the answer is encoded, then wiped */
    a->strings_len = strs != NULL ? (limit + 1) * sizeof *strs : 0;
}

/* ---- OUTBOX ---- */

#define OUTBOX_MAX 5000 /* entries in one answer */

static const char *state_of(const gm_outbox_entry_t *e)
{
    return e->read != 0        ? "read"
           : e->delivered != 0 ? "delivered"
           : e->expired != 0   ? "expired"
           : e->relayed != 0   ? "relayed"
                               : "queued";
}

static void op_outbox(gm_messenger_t *g, const gm_messenger_request_t *req, answer_t *a)
{
    /* an entry is at most about 700 bytes encoded (its text is cut at 255): 5,000 fit */
    uint32_t limit = req->limit == 0 ? 1000 : req->limit < OUTBOX_MAX ? req->limit : OUTBOX_MAX;
    gm__msgr_outbox_rec_t *recs = calloc(limit, sizeof *recs);
    sqlite3_stmt *st = gm__msgr_q(g, MQ_OUTBOX_LIST);
    size_t n = 0;

    a->r.outbox = calloc(limit, sizeof *a->r.outbox);
    if (recs == NULL || a->r.outbox == NULL || st == NULL) {
        refuse(a, GM_ENOMEM, "out of memory listing the outbox");
        free(recs);
        return;
    }
    sqlite3_bind_int64(st, 1, limit);
    while (n < limit && sqlite3_step(st) == SQLITE_ROW) {
        gm_outbox_entry_t *e = &a->r.outbox[n];
        if (sqlite3_column_bytes(st, 0) != GM_ID_LEN ||
            gm__msgr_outbox_open(g, sqlite3_column_blob(st, 0), sqlite3_column_blob(st, 9),
                                 (size_t)sqlite3_column_bytes(st, 9), &recs[n]) != 0) {
            continue;
        }
        memcpy(e->msg_id, sqlite3_column_blob(st, 0), GM_ID_LEN);
        e->recipients = (uint32_t)sqlite3_column_int64(st, 1);
        e->queued = (uint64_t)sqlite3_column_int64(st, 2);
        e->relayed = (uint64_t)sqlite3_column_int64(st, 3);
        e->delivered = (uint64_t)sqlite3_column_int64(st, 4);
        e->read = (uint64_t)sqlite3_column_int64(st, 5);
        e->expired = (uint64_t)sqlite3_column_int64(st, 6);
        e->delivered_count = (uint32_t)sqlite3_column_int64(st, 7);
        e->read_count = (uint32_t)sqlite3_column_int64(st, 8);
        e->kind = (gm_message_kind_t)recs[n].kind;
        e->to = recs[n].to;
        e->group = recs[n].group;
        e->text = recs[n].text;
        e->state = state_of(e);
        n++;
    }
    sqlite3_reset(st);
    a->r.n_outbox = n;
    a->strings = recs;
    a->strings_len = limit * sizeof *recs;
}

/* ---- groups ---- */

/* Resolves names into members (after those already there); refuses with the reason. */
static int add_members(gm_messenger_t *g, const gm_messenger_request_t *req, gm_group_state_t *gs,
                       answer_t *a)
{
    gm__msgr_peer_t *p = malloc(sizeof *p);
    gm_why_t why;
    int err = p == NULL ? GM_ENOMEM : 0;

    for (size_t i = 0; err == 0 && i < req->n_members; i++) {
        err = gm__msgr_resolve(g, req->members[i], p, &why);
        if (err != 0) {
            refuse(a, err, "%s", why.msg);
        } else if (gs->n_members == GM_E2E_GROUP_MEMBERS_MAX) {
            err = GM_ELIMIT;
            refuse(a, err, "a group has at most %d members", GM_E2E_GROUP_MEMBERS_MAX);
        } else {
            bool dup = false;
            for (size_t k = 0; k < gs->n_members; k++) {
                dup |= memcmp(gs->members[k].node_id, p->cert.body.node_id, GM_ID_LEN) == 0;
            }
            if (!dup) {
                gm_group_member_t *m = &gs->members[gs->n_members++];
                memcpy(m->node_id, p->cert.body.node_id, GM_ID_LEN);
                snprintf(m->callsign, sizeof m->callsign, "%s", p->cert.body.callsign);
                snprintf(m->org, sizeof m->org, "%s", p->cert.body.org_name);
            }
        }
    }
    free(p);
    return err;
}

static void self_member(gm_messenger_t *g, gm_group_member_t *m)
{
    const gm_cert_t *c = gm_node_cert(g->node);

    memcpy(m->node_id, c->body.node_id, GM_ID_LEN);
    snprintf(m->callsign, sizeof m->callsign, "%s", c->body.callsign);
    snprintf(m->org, sizeof m->org, "%s", c->body.org_name);
}

/*
 * Ends a group request: commits what err == 0 left, else rolls it back and
 * refuses (with err's reason unless a more precise one was given already).
 */
static void finish_change(gm_messenger_t *g, answer_t *a, int err, const char *what,
                          const char *name)
{
    err = err == 0 ? gm_mesh_commit(g->mesh) : err;
    if (err != 0) {
        if (a->r.error == 0) {
            refuse(a, err, "cannot %s group %s: %s", what, name, gm_strerror(err));
        }
        gm_mesh_abort(g->mesh);
    }
}

static void op_group_create(gm_messenger_t *g, const gm_messenger_request_t *req, answer_t *a)
{
    gm_group_state_t gs = {.version = 1};
    uint8_t id[GM_ID_LEN];
    int err;

    if (req->group == NULL || req->group[0] == 0 || strlen(req->group) > GM_E2E_GROUP_NAME_MAX) {
        refuse(a, GM_EPROTO, "a group needs a name of 1 to %d characters", GM_E2E_GROUP_NAME_MAX);
        return;
    }
    if (gm__msgr_group_by_name(g, req->group, id) == 0) {
        refuse(a, GM_EEXIST, "group %s exists already", req->group);
        return;
    }
    gs.members = calloc(GM_E2E_GROUP_MEMBERS_MAX, sizeof *gs.members);
    if (gs.members == NULL) {
        refuse(a, GM_ENOMEM, "out of memory");
        return;
    }
    randombytes_buf(gs.group_id, sizeof gs.group_id);
    snprintf(gs.name, sizeof gs.name, "%s", req->group);
    memcpy(gs.owner, gm_node_id(g->node), GM_ID_LEN);
    self_member(g, &gs.members[gs.n_members++]);
    err = gm_mesh_begin(g->mesh, NULL);
    err = err == 0 ? add_members(g, req, &gs, a) : err;
    err = err == 0 ? gm__msgr_group_change(g, &gs, NULL) : err;
    finish_change(g, a, err, "create", req->group);
    free(gs.members);
}

static void op_group_change(gm_messenger_t *g, const gm_messenger_request_t *req, answer_t *a)
{
    gm_group_state_t old, gs;
    uint8_t id[GM_ID_LEN];
    int err = gm__msgr_group_by_name(g, req->group != NULL ? req->group : "", id);

    if (err != 0 || gm__msgr_group_get(g, id, &old, NULL, NULL) != 0) {
        refuse(a, GM_ENOENT, "unknown group %s: see `guardmesh group list`",
               req->group != NULL ? req->group : "");
        return;
    }
    if (memcmp(old.owner, gm_node_id(g->node), GM_ID_LEN) != 0) {
        refuse(a, GM_EAUTH, "only the owner of group %s can change its members", old.name);
        gm_group_state_free(&old);
        return;
    }
    gs = old;
    gs.version = old.version + 1;
    gs.members = calloc(GM_E2E_GROUP_MEMBERS_MAX, sizeof *gs.members);
    gs.n_members = 0;
    err = gs.members == NULL ? GM_ENOMEM : gm_mesh_begin(g->mesh, NULL);
    if (err == 0 && req->op == GM_MESSENGER_OP_GROUP_ADD) {
        memcpy(gs.members, old.members, old.n_members * sizeof *gs.members);
        gs.n_members = old.n_members;
        err = add_members(g, req, &gs, a);
    } else if (err == 0) {
        size_t removed = 0;
        for (size_t i = 0; i < old.n_members; i++) {
            char name[GM_MESSENGER_ADDR_MAX + 1];
            bool drop = false;
            snprintf(name, sizeof name, "%s@%s", old.members[i].callsign, old.members[i].org);
            for (size_t k = 0; k < req->n_members; k++) {
                drop |= strcmp(name, req->members[k]) == 0;
            }
            drop &= memcmp(old.members[i].node_id, gm_node_id(g->node), GM_ID_LEN) != 0;
            removed += drop;
            if (!drop) {
                gs.members[gs.n_members++] = old.members[i];
            }
        }
        if (removed != req->n_members) {
            err = GM_ENOENT;
            refuse(a, err, "not all of those are members of %s (the owner cannot be removed)",
                   old.name);
        }
    }
    err = err == 0 ? gm__msgr_group_change(g, &gs, &old) : err;
    finish_change(g, a, err, "change", old.name);
    free(gs.members);
    gm_group_state_free(&old);
}

typedef struct {
    char name[GM_MESSENGER_GROUP_NAME_MAX + 1];
    char owner[GM_MESSENGER_ADDR_MAX + 1];
    char members[GM_E2E_GROUP_MEMBERS_MAX][GM_MESSENGER_ADDR_MAX + 1];
    const char *ptrs[GM_E2E_GROUP_MEMBERS_MAX];
} group_strings_t;

static void op_group_list(gm_messenger_t *g, answer_t *a)
{
    sqlite3_stmt *st = gm__msgr_q(g, MQ_GROUP_LIST);
    uint8_t ids[GM_MSGR_MAX_GROUPS][GM_ID_LEN];
    group_strings_t *strs;
    size_t n = 0, k = 0;

    if (st == NULL) {
        refuse(a, GM_EIO, "cannot read the groups");
        return;
    }
    while (n < GM_MSGR_MAX_GROUPS && sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) == GM_ID_LEN) {
            memcpy(ids[n++], sqlite3_column_blob(st, 0), GM_ID_LEN);
        }
    }
    sqlite3_reset(st);
    strs = calloc(n + 1, sizeof *strs);
    a->r.groups = calloc(n + 1, sizeof *a->r.groups);
    if (strs == NULL || a->r.groups == NULL) {
        free(strs);
        refuse(a, GM_ENOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        gm_group_state_t gs;
        gm_group_info_t *gi = &a->r.groups[k];
        if (gm__msgr_group_get(g, ids[i], &gs, NULL, NULL) != 0) {
            continue;
        }
        memcpy(gi->group_id, gs.group_id, GM_ID_LEN);
        snprintf(strs[k].name, sizeof strs[k].name, "%s", gs.name);
        gm__msgr_peer_name(g, gs.owner, strs[k].owner, sizeof strs[k].owner);
        for (size_t m = 0; m < gs.n_members; m++) {
            snprintf(strs[k].members[m], sizeof strs[k].members[m], "%s@%s",
                     gs.members[m].callsign, gs.members[m].org);
            strs[k].ptrs[m] = strs[k].members[m];
        }
        gi->name = strs[k].name;
        gi->owner = strs[k].owner;
        gi->members = strs[k].ptrs;
        gi->n_members = gs.n_members;
        gi->version = gs.version;
        gi->have_keys = true;
        gm_group_state_free(&gs);
        k++;
    }
    a->r.n_groups = k;
    a->strings = strs;
    a->strings_len = (n + 1) * sizeof *strs;
}

static int on_control(void *ctx, const uint8_t *arg, size_t len, uint8_t **out, size_t *out_len)
{
    gm_messenger_t *g = ctx;
    gm_messenger_request_t req;
    answer_t *a = calloc(1, sizeof *a);
    int err;

    if (a == NULL) {
        return GM_ENOMEM;
    }
    a->r.message = a->message;
    if (gm_wire_messenger_request_decode(arg, len, &req) != 0) {
        refuse(a, GM_EPROTO, "a messenger request this node cannot read");
    } else {
        switch (req.op) {
        case GM_MESSENGER_OP_SEND:
            op_send(g, &req, a);
            break;
        case GM_MESSENGER_OP_INBOX:
            op_inbox(g, &req, a);
            break;
        case GM_MESSENGER_OP_OUTBOX:
            op_outbox(g, &req, a);
            break;
        case GM_MESSENGER_OP_GROUP_CREATE:
            op_group_create(g, &req, a);
            break;
        case GM_MESSENGER_OP_GROUP_ADD:
        case GM_MESSENGER_OP_GROUP_REMOVE:
            op_group_change(g, &req, a);
            break;
        default:
            op_group_list(g, a);
            break;
        }
        gm_messenger_request_free(&req);
    }
    err = gm_wire_messenger_response_encode(&a->r, out, out_len);
    if (a->strings != NULL) {
        sodium_memzero(a->strings, a->strings_len);
    }
    free(a->strings);
    free(a->r.inbox);
    free(a->r.outbox);
    free(a->r.groups);
    free(a);
    return err;
}

int gm_messenger_call(gm_messenger_t *g, const uint8_t *req, size_t len, uint8_t **out,
                      size_t *out_len)
{
    return on_control(g, req, len, out, out_len);
}

void gm__msgr_control_register(gm_messenger_t *g)
{
    gm_node_set_control_ext(g->node, GM_OP_MESSENGER, on_control, g);
}

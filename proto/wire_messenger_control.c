#include "proto/wire_messenger_control.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "messenger_control.pb-c.h"
#include "proto/wire_e2e_internal.h"

/* s (NULL reads as "") is at most max bytes. */
static bool string_ok(const char *s, size_t max)
{
    return s == NULL || strnlen(s, max + 1) <= max;
}

/* n names (none NULL: protobuf-c would read it), each a CALLSIGN@ORG at most. */
static bool names_ok(const char *const *names, size_t n, size_t max_n)
{
    if (n > max_n || (n > 0 && names == NULL)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (names[i] == NULL || !string_ok(names[i], GM_MESSENGER_ADDR_MAX)) {
            return false;
        }
    }
    return true;
}

static bool entry_kind_ok(gm_message_kind_t kind)
{
    return (unsigned)kind >= GM_MESSAGE_TEXT && (unsigned)kind <= GM_MESSAGE_ALERT;
}

/* Generated strings are never NULL; ours may be. */
static char *str_out(const char *s)
{
    return (char *)(s != NULL ? s : "");
}

/* ---- requests ---- */

static int check_request(const gm_messenger_request_t *q)
{
    bool ok = (unsigned)q->op >= GM_MESSENGER_OP_SEND &&
              (unsigned)q->op <= GM_MESSENGER_OP_GROUP_LIST &&
              (unsigned)q->kind <= GM_MESSAGE_ALERT && string_ok(q->to, GM_MESSENGER_ADDR_MAX) &&
              string_ok(q->group, GM_MESSENGER_GROUP_NAME_MAX) &&
              gm__wire_text_is_valid(q->text, GM_MESSENGER_TEXT_MAX) &&
              q->priority <= GM_MESSENGER_PRIORITY_MAX &&
              gm__wire_position_is_valid(q->lat, q->lon, q->accuracy) &&
              q->alert_kind <= GM_ALERT_NEED_ASSISTANCE &&
              names_ok(q->members, q->n_members, GM_MESSENGER_MEMBERS_MAX) &&
              q->limit <= GM_MESSENGER_LIST_MAX && q->count <= GM_MESSENGER_COUNT_MAX;

    return ok ? 0 : GM_EPROTO;
}

static void request_out(const gm_messenger_request_t *q, Gmwire__MessengerRequest *m)
{
    gmwire__messenger_request__init(m);
    m->op = (Gmwire__MessengerOp)q->op;
    m->to = str_out(q->to);
    m->group = str_out(q->group);
    m->kind = (Gmwire__MessageKind)q->kind;
    m->text = str_out(q->text);
    m->priority = q->priority;
    m->has_position = q->has_position;
    m->lat = q->lat;
    m->lon = q->lon;
    m->accuracy = q->accuracy;
    m->alert_kind = q->alert_kind;
    m->peek = q->peek;
    m->n_members = q->n_members;
    m->members = (char **)q->members;
    m->limit = q->limit;
    m->count = q->count;
}

size_t gm_wire_messenger_request_size(const gm_messenger_request_t *req)
{
    Gmwire__MessengerRequest m;

    if (check_request(req) != 0) {
        return 0;
    }
    request_out(req, &m);
    return gmwire__messenger_request__get_packed_size(&m);
}

int gm_wire_messenger_request_encode(const gm_messenger_request_t *req, uint8_t *out, size_t cap,
                                     size_t *out_len)
{
    Gmwire__MessengerRequest m;

    if (check_request(req) != 0) {
        return GM_EPROTO;
    }
    request_out(req, &m);
    if (gmwire__messenger_request__get_packed_size(&m) > cap) {
        return GM_ELIMIT;
    }
    *out_len = gmwire__messenger_request__pack(&m, out);
    return 0;
}

int gm_wire_messenger_request_decode(const uint8_t *buf, size_t len, gm_messenger_request_t *out)
{
    ProtobufCAllocator wiping = gm__wire_wiping_allocator();
    Gmwire__MessengerRequest *m;
    gm_messenger_request_t q;

    if (len > GM_MESSENGER_REQUEST_MAX) {
        return GM_EPROTO;
    }
    m = gmwire__messenger_request__unpack(&wiping, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    q = (gm_messenger_request_t){.op = (gm_messenger_op_t)m->op,
                                 .to = m->to,
                                 .group = m->group,
                                 .kind = (gm_message_kind_t)m->kind,
                                 .text = m->text,
                                 .priority = m->priority,
                                 .has_position = m->has_position,
                                 .lat = m->lat,
                                 .lon = m->lon,
                                 .accuracy = m->accuracy,
                                 .alert_kind = m->alert_kind,
                                 .peek = m->peek,
                                 .members = (const char *const *)m->members,
                                 .n_members = m->n_members,
                                 .limit = m->limit,
                                 .count = m->count,
                                 .owner = m};
    if (check_request(&q) != 0) {
        gmwire__messenger_request__free_unpacked(m, &wiping);
        return GM_EPROTO;
    }
    *out = q;
    return 0;
}

void gm_messenger_request_free(gm_messenger_request_t *req)
{
    ProtobufCAllocator wiping = gm__wire_wiping_allocator();

    if (req == NULL) {
        return;
    }
    if (req->owner != NULL) {
        gmwire__messenger_request__free_unpacked(req->owner, &wiping);
    }
    memset(req, 0, sizeof *req);
}

/* ---- responses ---- */

static bool inbox_ok(const gm_inbox_entry_t *e)
{
    return entry_kind_ok(e->kind) && string_ok(e->from, GM_MESSENGER_ADDR_MAX) &&
           string_ok(e->group, GM_MESSENGER_GROUP_NAME_MAX) &&
           gm__wire_text_is_valid(e->text, GM_MESSENGER_TEXT_MAX) &&
           gm__wire_position_is_valid(e->lat, e->lon, e->accuracy) &&
           e->alert_kind <= GM_ALERT_NEED_ASSISTANCE;
}

static bool outbox_ok(const gm_outbox_entry_t *e)
{
    return entry_kind_ok(e->kind) && string_ok(e->to, GM_MESSENGER_ADDR_MAX) &&
           string_ok(e->group, GM_MESSENGER_GROUP_NAME_MAX) &&
           gm__wire_text_is_valid(e->text, GM_MESSENGER_TEXT_MAX) &&
           string_ok(e->state, GM_MESSENGER_STATE_MAX);
}

static bool group_info_ok(const gm_group_info_t *g)
{
    return g->name != NULL && g->name[0] != '\0' &&
           string_ok(g->name, GM_MESSENGER_GROUP_NAME_MAX) &&
           string_ok(g->owner, GM_MESSENGER_ADDR_MAX) &&
           names_ok(g->members, g->n_members, GM_MESSENGER_MEMBERS_MAX);
}

/* n entries at list (not NULL when n > 0), at most GM_MESSENGER_LIST_MAX of them. */
static bool list_ok(const void *list, size_t n)
{
    return n <= GM_MESSENGER_LIST_MAX && (n == 0 || list != NULL);
}

/* Every check but the list sizes (the decoder's come before it allocates) and the total size. */
static int check_response(const gm_messenger_response_t *r)
{
    bool ok = string_ok(r->message, GM_MESSENGER_MESSAGE_MAX);

    for (size_t i = 0; ok && i < r->n_inbox; i++) {
        ok = inbox_ok(&r->inbox[i]);
    }
    for (size_t i = 0; ok && i < r->n_outbox; i++) {
        ok = outbox_ok(&r->outbox[i]);
    }
    for (size_t i = 0; ok && i < r->n_groups; i++) {
        ok = group_info_ok(&r->groups[i]);
    }
    return ok ? 0 : GM_EPROTO;
}

/* The generated structs of one response, every pointer borrowing the plain one. */
typedef struct {
    Gmwire__InboxEntry *inbox, **ip;
    Gmwire__OutboxEntry *outbox, **op;
    Gmwire__GroupInfo *groups, **gp;
} response_store_t;

static void inbox_out(const gm_inbox_entry_t *e, Gmwire__InboxEntry *m)
{
    gmwire__inbox_entry__init(m);
    m->msg_id = gm__wire_bin(e->msg_id, GM_ID_LEN);
    m->from = str_out(e->from);
    m->group = str_out(e->group);
    m->to_all = e->to_all;
    m->kind = (Gmwire__MessageKind)e->kind;
    m->text = str_out(e->text);
    m->has_position = e->has_position;
    m->lat = e->lat;
    m->lon = e->lon;
    m->accuracy = e->accuracy;
    m->alert_kind = e->alert_kind;
    m->sent = e->sent;
    m->received = e->received;
    m->read = e->read;
}

static void outbox_out(const gm_outbox_entry_t *e, Gmwire__OutboxEntry *m)
{
    gmwire__outbox_entry__init(m);
    m->msg_id = gm__wire_bin(e->msg_id, GM_ID_LEN);
    m->to = str_out(e->to);
    m->group = str_out(e->group);
    m->kind = (Gmwire__MessageKind)e->kind;
    m->text = str_out(e->text);
    m->state = str_out(e->state);
    m->queued = e->queued;
    m->relayed = e->relayed;
    m->delivered = e->delivered;
    m->read = e->read;
    m->expired = e->expired;
    m->recipients = e->recipients;
    m->delivered_count = e->delivered_count;
    m->read_count = e->read_count;
}

static void group_info_out(const gm_group_info_t *g, Gmwire__GroupInfo *m)
{
    gmwire__group_info__init(m);
    m->group_id = gm__wire_bin(g->group_id, GM_ID_LEN);
    m->name = str_out(g->name);
    m->owner = str_out(g->owner);
    m->version = g->version;
    m->n_members = g->n_members;
    m->members = (char **)g->members;
    m->have_keys = g->have_keys;
}

static void response_out(const gm_messenger_response_t *r, response_store_t *st,
                         Gmwire__MessengerResponse *m)
{
    gmwire__messenger_response__init(m);
    m->error = r->error;
    m->message = str_out(r->message);
    if (r->has_msg_id) {
        m->msg_id = gm__wire_bin(r->msg_id, GM_ID_LEN);
    }
    for (size_t i = 0; i < r->n_inbox; i++) {
        inbox_out(&r->inbox[i], &st->inbox[i]);
        st->ip[i] = &st->inbox[i];
    }
    for (size_t i = 0; i < r->n_outbox; i++) {
        outbox_out(&r->outbox[i], &st->outbox[i]);
        st->op[i] = &st->outbox[i];
    }
    for (size_t i = 0; i < r->n_groups; i++) {
        group_info_out(&r->groups[i], &st->groups[i]);
        st->gp[i] = &st->groups[i];
    }
    m->n_inbox = r->n_inbox;
    m->inbox = st->ip;
    m->n_outbox = r->n_outbox;
    m->outbox = st->op;
    m->n_groups = r->n_groups;
    m->groups = st->gp;
    m->unread = r->unread;
}

static void store_free(response_store_t *st)
{
    free(st->inbox);
    free(st->ip);
    free(st->outbox);
    free(st->op);
    free(st->groups);
    free(st->gp);
}

int gm_wire_messenger_response_encode(const gm_messenger_response_t *r, uint8_t **out,
                                      size_t *out_len)
{
    response_store_t st = {NULL, NULL, NULL, NULL, NULL, NULL};
    Gmwire__MessengerResponse m = GMWIRE__MESSENGER_RESPONSE__INIT;
    size_t size = 0;
    int err = GM_ENOMEM;

    if (!list_ok(r->inbox, r->n_inbox) || !list_ok(r->outbox, r->n_outbox) ||
        !list_ok(r->groups, r->n_groups) || check_response(r) != 0) {
        return GM_EPROTO;
    }
    st.inbox = calloc(r->n_inbox + 1, sizeof *st.inbox);
    st.ip = calloc(r->n_inbox + 1, sizeof *st.ip);
    st.outbox = calloc(r->n_outbox + 1, sizeof *st.outbox);
    st.op = calloc(r->n_outbox + 1, sizeof *st.op);
    st.groups = calloc(r->n_groups + 1, sizeof *st.groups);
    st.gp = calloc(r->n_groups + 1, sizeof *st.gp);
    if (st.inbox != NULL && st.ip != NULL && st.outbox != NULL && st.op != NULL &&
        st.groups != NULL && st.gp != NULL) {
        response_out(r, &st, &m);
        size = gmwire__messenger_response__get_packed_size(&m);
        err = size > GM_MESSENGER_RESPONSE_MAX ? GM_ELIMIT : 0;
    }
    if (err == 0) {
        *out = malloc(size + 1);
        err = *out == NULL ? GM_ENOMEM : 0;
    }
    if (err == 0) {
        *out_len = gmwire__messenger_response__pack(&m, *out);
    }
    store_free(&st);
    return err;
}

static int inbox_in(const Gmwire__InboxEntry *m, gm_inbox_entry_t *e)
{
    if (m->msg_id.len != GM_ID_LEN) {
        return GM_EPROTO;
    }
    *e = (gm_inbox_entry_t){.from = m->from,
                            .group = m->group,
                            .to_all = m->to_all,
                            .kind = (gm_message_kind_t)m->kind,
                            .text = m->text,
                            .has_position = m->has_position,
                            .lat = m->lat,
                            .lon = m->lon,
                            .accuracy = m->accuracy,
                            .alert_kind = m->alert_kind,
                            .sent = m->sent,
                            .received = m->received,
                            .read = m->read};
    memcpy(e->msg_id, m->msg_id.data, GM_ID_LEN);
    return 0;
}

static int outbox_in(const Gmwire__OutboxEntry *m, gm_outbox_entry_t *e)
{
    if (m->msg_id.len != GM_ID_LEN) {
        return GM_EPROTO;
    }
    *e = (gm_outbox_entry_t){.to = m->to,
                             .group = m->group,
                             .kind = (gm_message_kind_t)m->kind,
                             .text = m->text,
                             .state = m->state,
                             .queued = m->queued,
                             .relayed = m->relayed,
                             .delivered = m->delivered,
                             .read = m->read,
                             .expired = m->expired,
                             .recipients = m->recipients,
                             .delivered_count = m->delivered_count,
                             .read_count = m->read_count};
    memcpy(e->msg_id, m->msg_id.data, GM_ID_LEN);
    return 0;
}

static int group_info_in(const Gmwire__GroupInfo *m, gm_group_info_t *g)
{
    if (m->group_id.len != GM_ID_LEN) {
        return GM_EPROTO;
    }
    *g = (gm_group_info_t){.name = m->name,
                           .owner = m->owner,
                           .version = m->version,
                           .members = (const char *const *)m->members,
                           .n_members = m->n_members,
                           .have_keys = m->have_keys};
    memcpy(g->group_id, m->group_id.data, GM_ID_LEN);
    return 0;
}

/* Allocates r's lists (the counts checked first) and fills them from m. */
static int lists_in(const Gmwire__MessengerResponse *m, gm_messenger_response_t *r)
{
    int err = 0;

    if (m->n_inbox > GM_MESSENGER_LIST_MAX || m->n_outbox > GM_MESSENGER_LIST_MAX ||
        m->n_groups > GM_MESSENGER_LIST_MAX) {
        return GM_EPROTO;
    }
    r->inbox = calloc(m->n_inbox + 1, sizeof *r->inbox);
    r->outbox = calloc(m->n_outbox + 1, sizeof *r->outbox);
    r->groups = calloc(m->n_groups + 1, sizeof *r->groups);
    if (r->inbox == NULL || r->outbox == NULL || r->groups == NULL) {
        return GM_ENOMEM;
    }
    r->n_inbox = m->n_inbox;
    r->n_outbox = m->n_outbox;
    r->n_groups = m->n_groups;
    for (size_t i = 0; err == 0 && i < r->n_inbox; i++) {
        err = inbox_in(m->inbox[i], &r->inbox[i]);
    }
    for (size_t i = 0; err == 0 && i < r->n_outbox; i++) {
        err = outbox_in(m->outbox[i], &r->outbox[i]);
    }
    for (size_t i = 0; err == 0 && i < r->n_groups; i++) {
        err = group_info_in(m->groups[i], &r->groups[i]);
    }
    return err;
}

int gm_wire_messenger_response_decode(const uint8_t *buf, size_t len, gm_messenger_response_t *out)
{
    ProtobufCAllocator wiping = gm__wire_wiping_allocator();
    Gmwire__MessengerResponse *m;
    gm_messenger_response_t r;
    int err = GM_EPROTO;

    if (len > GM_MESSENGER_RESPONSE_MAX) {
        return GM_EPROTO;
    }
    m = gmwire__messenger_response__unpack(&wiping, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    memset(&r, 0, sizeof r);
    r.owner = m;
    r.error = m->error;
    r.message = m->message;
    r.unread = m->unread;
    r.has_msg_id = m->msg_id.len == GM_ID_LEN;
    if (r.has_msg_id) {
        memcpy(r.msg_id, m->msg_id.data, GM_ID_LEN);
    }
    if (m->msg_id.len == 0 || r.has_msg_id) {
        err = lists_in(m, &r);
    }
    if (err == 0) {
        err = check_response(&r);
    }
    if (err != 0) {
        gm_messenger_response_free(&r);
        return err;
    }
    *out = r;
    return 0;
}

void gm_messenger_response_free(gm_messenger_response_t *r)
{
    ProtobufCAllocator wiping = gm__wire_wiping_allocator();

    if (r == NULL) {
        return;
    }
    if (r->owner != NULL) {
        gmwire__messenger_response__free_unpacked(r->owner, &wiping);
    }
    /* Positions and times of messages: plaintext too. */
    if (r->inbox != NULL) {
        sodium_memzero(r->inbox, r->n_inbox * sizeof *r->inbox);
    }
    free(r->inbox);
    free(r->outbox);
    free(r->groups);
    sodium_memzero(r, sizeof *r);
}

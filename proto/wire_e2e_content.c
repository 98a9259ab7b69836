/* proto/wire_e2e.h: Content (the plaintext inside a ciphertext) and GroupState. */
#include "proto/wire_e2e.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.pb-c.h"
#include "proto/wire_e2e_internal.h"

/* ---- Content ---- */

static bool position_ok(const gm_position_t *p)
{
    /* NaN fails every comparison, so only infinite accuracy and speed need isfinite(). */
    return gm__wire_position_is_valid(p->lat, p->lon, p->accuracy) && p->heading >= 0.0f &&
           p->heading <= 360.0f && isfinite(p->speed) && p->speed >= 0.0f;
}

static bool alert_ok(const gm_alert_t *a)
{
    return (unsigned)a->kind >= GM_ALERT_SOS && (unsigned)a->kind <= GM_ALERT_NEED_ASSISTANCE &&
           gm__wire_text_is_valid(a->text, GM_E2E_ALERT_TEXT_MAX) &&
           (!a->has_position || position_ok(&a->position));
}

/* Every check but the total size, which needs the encoding. */
static int check_content(const gm_content_t *c)
{
    bool ok;

    switch (c->kind) {
    case GM_CONTENT_TEXT:
        ok = gm__wire_text_is_valid(c->text, GM_E2E_TEXT_MAX);
        break;
    case GM_CONTENT_POSITION:
        ok = position_ok(&c->position);
        break;
    case GM_CONTENT_ALERT:
        ok = alert_ok(&c->alert);
        break;
    case GM_CONTENT_RECEIPT:
        ok = (unsigned)c->receipt.kind >= GM_RECEIPT_DELIVERED &&
             (unsigned)c->receipt.kind <= GM_RECEIPT_READ && c->receipt.n_ids >= 1 &&
             c->receipt.n_ids <= GM_E2E_RECEIPT_MAX;
        break;
    case GM_CONTENT_SENDER_KEY:
        ok = true; /* fixed sizes only */
        break;
    case GM_CONTENT_GROUP:
        ok = c->group.state_len >= 1 && c->group.state_len <= GM_E2E_GROUP_STATE_MAX &&
             c->group.state != NULL;
        break;
    default:
        ok = false;
    }
    return ok ? 0 : GM_EPROTO;
}

/* The generated structs of one content, every pointer borrowing the plain one. */
typedef struct {
    Gmwire__Content content;
    Gmwire__Position position;
    Gmwire__Alert alert;
    Gmwire__Receipt receipt;
    ProtobufCBinaryData ids[GM_E2E_RECEIPT_MAX];
    Gmwire__SenderKeyDistribution sender_key;
    Gmwire__SignedGroupState group;
} content_store_t;

static void position_out(const gm_position_t *p, Gmwire__Position *m)
{
    gmwire__position__init(m);
    m->lat = p->lat;
    m->lon = p->lon;
    m->accuracy = p->accuracy;
    m->heading = p->heading;
    m->speed = p->speed;
    m->time = p->time;
}

/* The oneof body of c into st->content. */
static void body_out(const gm_content_t *c, content_store_t *st)
{
    Gmwire__Content *m = &st->content;

    m->body_case = (Gmwire__Content__BodyCase)(c->kind + 2); /* field numbers 3 .. 8 */
    if (c->kind == GM_CONTENT_TEXT) {
        m->text = (char *)(c->text != NULL ? c->text : "");
    } else if (c->kind == GM_CONTENT_POSITION) {
        position_out(&c->position, &st->position);
        m->position = &st->position;
    } else if (c->kind == GM_CONTENT_ALERT) {
        gmwire__alert__init(&st->alert);
        st->alert.kind = (Gmwire__AlertKind)c->alert.kind;
        st->alert.text = (char *)(c->alert.text != NULL ? c->alert.text : "");
        if (c->alert.has_position) {
            position_out(&c->alert.position, &st->position);
            st->alert.position = &st->position;
        }
        m->alert = &st->alert;
    } else if (c->kind == GM_CONTENT_RECEIPT) {
        gmwire__receipt__init(&st->receipt);
        st->receipt.kind = (Gmwire__ReceiptKind)c->receipt.kind;
        for (size_t i = 0; i < c->receipt.n_ids; i++) {
            st->ids[i] = gm__wire_bin(c->receipt.ids[i], GM_ID_LEN);
        }
        st->receipt.n_msg_ids = c->receipt.n_ids;
        st->receipt.msg_ids = st->ids;
        m->receipt = &st->receipt;
    } else if (c->kind == GM_CONTENT_SENDER_KEY) {
        gmwire__sender_key_distribution__init(&st->sender_key);
        st->sender_key.group_id = gm__wire_bin(c->sender_key.group_id, GM_ID_LEN);
        st->sender_key.key_id = c->sender_key.key_id;
        st->sender_key.iteration = c->sender_key.iteration;
        st->sender_key.chain_key = gm__wire_bin(c->sender_key.chain_key, GM_KEY_LEN);
        st->sender_key.sign_pk = gm__wire_bin(c->sender_key.sign_pk, GM_KEY_LEN);
        m->sender_key = &st->sender_key;
    } else {
        gmwire__signed_group_state__init(&st->group);
        st->group.state = gm__wire_bin(c->group.state, c->group.state_len);
        st->group.signature = gm__wire_bin(c->group.signature, GM_SIG_LEN);
        m->group = &st->group;
    }
}

/* Fills st->content from c; the encoded size, or 0 if c is not a valid content. */
static size_t content_out(const gm_content_t *c, content_store_t *st)
{
    size_t size;

    if (check_content(c) != 0) {
        return 0;
    }
    gmwire__content__init(&st->content);
    st->content.msg_id = gm__wire_bin(c->msg_id, GM_ID_LEN);
    st->content.sent = c->sent;
    body_out(c, st);
    size = gmwire__content__get_packed_size(&st->content);
    return size <= GM_E2E_CONTENT_MAX ? size : 0;
}

size_t gm_wire_content_size(const gm_content_t *c)
{
    content_store_t st;

    return content_out(c, &st);
}

int gm_wire_content_encode(const gm_content_t *c, uint8_t *out, size_t cap, size_t *out_len)
{
    content_store_t st;
    size_t size = content_out(c, &st);

    if (size == 0) {
        return GM_EPROTO;
    }
    if (size > cap) {
        return GM_ELIMIT;
    }
    *out_len = gmwire__content__pack(&st.content, out);
    return 0;
}

static void position_in(const Gmwire__Position *m, gm_position_t *p)
{
    p->lat = m->lat;
    p->lon = m->lon;
    p->accuracy = m->accuracy;
    p->heading = m->heading;
    p->speed = m->speed;
    p->time = m->time;
}

static int receipt_in(const Gmwire__Receipt *m, gm_receipt_t *r)
{
    if (m->n_msg_ids > GM_E2E_RECEIPT_MAX) {
        return GM_EPROTO;
    }
    r->kind = (gm_receipt_kind_t)m->kind; /* range-checked by check_content() */
    r->n_ids = m->n_msg_ids;
    for (size_t i = 0; i < r->n_ids; i++) {
        if (m->msg_ids[i].len != GM_ID_LEN) {
            return GM_EPROTO;
        }
        memcpy(r->ids[i], m->msg_ids[i].data, GM_ID_LEN);
    }
    return 0;
}

/* Copies the secret out and wipes it in m at once: the struct's copy is the only one. */
static int sender_key_in(Gmwire__SenderKeyDistribution *m, gm_sender_key_t *s)
{
    int err = GM_EPROTO;

    if (m->group_id.len == GM_ID_LEN && m->chain_key.len == GM_KEY_LEN &&
        m->sign_pk.len == GM_KEY_LEN) {
        memcpy(s->group_id, m->group_id.data, GM_ID_LEN);
        s->key_id = m->key_id;
        s->iteration = m->iteration;
        memcpy(s->chain_key, m->chain_key.data, GM_KEY_LEN);
        memcpy(s->sign_pk, m->sign_pk.data, GM_KEY_LEN);
        err = 0;
    }
    if (m->chain_key.len > 0) {
        sodium_memzero(m->chain_key.data, m->chain_key.len);
    }
    return err;
}

/* The fixed-size fields and the oneof case; check_content() does the rest. */
static int body_in(const Gmwire__Content *m, gm_content_t *c)
{
    switch (m->body_case) {
    case GMWIRE__CONTENT__BODY_TEXT:
        c->kind = GM_CONTENT_TEXT;
        c->text = m->text;
        return 0;
    case GMWIRE__CONTENT__BODY_POSITION:
        c->kind = GM_CONTENT_POSITION;
        position_in(m->position, &c->position);
        return 0;
    case GMWIRE__CONTENT__BODY_ALERT:
        c->kind = GM_CONTENT_ALERT;
        c->alert.kind = (gm_alert_kind_t)m->alert->kind; /* range-checked by check_content() */
        c->alert.text = m->alert->text;
        c->alert.has_position = m->alert->position != NULL;
        if (c->alert.has_position) {
            position_in(m->alert->position, &c->alert.position);
        }
        return 0;
    case GMWIRE__CONTENT__BODY_RECEIPT:
        c->kind = GM_CONTENT_RECEIPT;
        return receipt_in(m->receipt, &c->receipt);
    case GMWIRE__CONTENT__BODY_SENDER_KEY:
        c->kind = GM_CONTENT_SENDER_KEY;
        return sender_key_in(m->sender_key, &c->sender_key);
    case GMWIRE__CONTENT__BODY_GROUP:
        c->kind = GM_CONTENT_GROUP;
        if (m->group->signature.len != GM_SIG_LEN) {
            return GM_EPROTO;
        }
        c->group.state = m->group->state.data;
        c->group.state_len = m->group->state.len;
        memcpy(c->group.signature, m->group->signature.data, GM_SIG_LEN);
        return 0;
    default:
        return 0; /* no body, or only one this version does not know: kind 0, which
                     check_content() refuses */
    }
}

int gm_wire_content_decode(const uint8_t *buf, size_t len, gm_content_t *out)
{
    ProtobufCAllocator wiping = gm__wire_wiping_allocator();
    Gmwire__Content *m;
    gm_content_t c;
    int err = GM_EPROTO;

    if (len > GM_E2E_CONTENT_MAX) {
        return GM_EPROTO;
    }
    m = gmwire__content__unpack(&wiping, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    memset(&c, 0, sizeof c);
    if (m->msg_id.len == GM_ID_LEN) {
        memcpy(c.msg_id, m->msg_id.data, GM_ID_LEN);
        c.sent = m->sent;
        err = body_in(m, &c); /* wipes the sender key in m, even on failure */
    }
    if (err == 0) {
        err = check_content(&c);
    }
    if (err != 0) {
        gmwire__content__free_unpacked(m, &wiping);
    } else {
        c.owner = m; /* the pointers in c borrow from it */
        *out = c;
    }
    sodium_memzero(&c, sizeof c);
    return err;
}

void gm_content_free(gm_content_t *c)
{
    ProtobufCAllocator wiping = gm__wire_wiping_allocator();

    if (c == NULL) {
        return;
    }
    if (c->owner != NULL) {
        gmwire__content__free_unpacked(c->owner, &wiping);
    }
    sodium_memzero(c, sizeof *c);
}

/* ---- GroupState ---- */

static bool group_name_ok(const char *name)
{
    size_t len;

    if (memchr(name, '\0', GM_E2E_GROUP_NAME_MAX + 1) == NULL) {
        return false; /* not terminated: only a caller's struct can be so */
    }
    len = strlen(name);
    for (size_t i = 0; i < len; i++) {
        if (name[i] < 0x20 || name[i] > 0x7e) {
            return false;
        }
    }
    return len >= 1;
}

static bool member_ok(const gm_group_member_t *mb)
{
    return memchr(mb->callsign, '\0', sizeof mb->callsign) != NULL &&
           memchr(mb->org, '\0', sizeof mb->org) != NULL && gm_name_is_valid(mb->callsign) &&
           gm_name_is_valid(mb->org);
}

/* Members valid, with distinct node ids, the owner among them. */
static bool members_ok(const gm_group_state_t *g)
{
    bool has_owner = false;

    for (size_t i = 0; i < g->n_members; i++) {
        const gm_group_member_t *mb = &g->members[i];

        if (!member_ok(mb)) {
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            if (memcmp(g->members[j].node_id, mb->node_id, GM_ID_LEN) == 0) {
                return false;
            }
        }
        has_owner = has_owner || memcmp(mb->node_id, g->owner, GM_ID_LEN) == 0;
    }
    return has_owner;
}

/* At most GM_E2E_GROUP_MEMBERS_MAX; at least one, the owner, is members_ok()'s to check. */
static bool member_count_ok(size_t n)
{
    return n <= GM_E2E_GROUP_MEMBERS_MAX;
}

/* Every check but the member count (the decoder's comes before it allocates) and the size. */
static int check_group_state(const gm_group_state_t *g)
{
    if (!group_name_ok(g->name) || g->version == 0 || g->members == NULL || !members_ok(g)) {
        return GM_EPROTO;
    }
    return 0;
}

int gm_wire_group_state_encode(const gm_group_state_t *g, uint8_t *out, size_t cap, size_t *out_len)
{
    Gmwire__GroupState m = GMWIRE__GROUP_STATE__INIT;
    Gmwire__GroupMember mb[GM_E2E_GROUP_MEMBERS_MAX], *mp[GM_E2E_GROUP_MEMBERS_MAX];
    size_t size;

    if (!member_count_ok(g->n_members) || check_group_state(g) != 0) {
        return GM_EPROTO;
    }
    m.group_id = gm__wire_bin(g->group_id, GM_ID_LEN);
    m.name = (char *)g->name;
    m.owner = gm__wire_bin(g->owner, GM_ID_LEN);
    m.version = g->version;
    for (size_t i = 0; i < g->n_members; i++) {
        gmwire__group_member__init(&mb[i]);
        mb[i].node_id = gm__wire_bin(g->members[i].node_id, GM_ID_LEN);
        mb[i].callsign = (char *)g->members[i].callsign;
        mb[i].org = (char *)g->members[i].org;
        mp[i] = &mb[i];
    }
    m.n_members = g->n_members;
    m.members = mp;
    size = gmwire__group_state__get_packed_size(&m);
    if (size > GM_E2E_GROUP_STATE_MAX) {
        return GM_EPROTO;
    }
    if (size > cap) {
        return GM_ELIMIT;
    }
    *out_len = gmwire__group_state__pack(&m, out);
    return 0;
}

/* Copies src into dst (cap bytes), cut to fit; false if it had to be cut. */
static bool copy_string(char *dst, size_t cap, const char *src)
{
    size_t len = strnlen(src, cap - 1);

    memcpy(dst, src, len);
    dst[len] = '\0';
    return src[len] == '\0';
}

static int group_state_in(const Gmwire__GroupState *m, gm_group_state_t *g)
{
    if (m->group_id.len != GM_ID_LEN || m->owner.len != GM_ID_LEN ||
        !copy_string(g->name, sizeof g->name, m->name) || !member_count_ok(m->n_members)) {
        return GM_EPROTO;
    }
    memcpy(g->group_id, m->group_id.data, GM_ID_LEN);
    memcpy(g->owner, m->owner.data, GM_ID_LEN);
    g->version = m->version;
    g->members = calloc(m->n_members + 1, sizeof *g->members); /* + 1: never calloc(0) */
    if (g->members == NULL) {
        return GM_ENOMEM;
    }
    g->n_members = m->n_members;
    for (size_t i = 0; i < g->n_members; i++) {
        const Gmwire__GroupMember *mm = m->members[i];
        gm_group_member_t *mb = &g->members[i];

        if (mm->node_id.len != GM_ID_LEN ||
            !copy_string(mb->callsign, sizeof mb->callsign, mm->callsign) ||
            !copy_string(mb->org, sizeof mb->org, mm->org)) {
            return GM_EPROTO;
        }
        memcpy(mb->node_id, mm->node_id.data, GM_ID_LEN);
    }
    return check_group_state(g);
}

int gm_wire_group_state_decode(const uint8_t *buf, size_t len, gm_group_state_t *out)
{
    Gmwire__GroupState *m;
    gm_group_state_t g;
    int err;

    if (len > GM_E2E_GROUP_STATE_MAX) {
        return GM_EPROTO;
    }
    m = gmwire__group_state__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    memset(&g, 0, sizeof g);
    err = group_state_in(m, &g);
    gmwire__group_state__free_unpacked(m, NULL);
    if (err != 0) {
        gm_group_state_free(&g);
        return err;
    }
    *out = g;
    return 0;
}

void gm_group_state_free(gm_group_state_t *g)
{
    if (g == NULL) {
        return;
    }
    free(g->members);
    g->members = NULL;
    g->n_members = 0;
}

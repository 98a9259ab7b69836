/*
 * Announcements and the directory: making this node's announcements, judging
 * the updates neighbours send, and the directory of verified announcements.
 * The route table itself is node/router_table.c.
 */
#include <stdlib.h>
#include <string.h>

#include "node/router_internal.h"

#define SEQ_PER_SECOND 1000u /* time-based sequence numbers: wall_s * 1000 */

static const char *const verdict_names[GM_ROUTER_VERDICT_COUNT] = {
    [GM_ROUTER_ACCEPTED_NEW] = "accepted",
    [GM_ROUTER_ACCEPTED_ROUTE_ONLY] = "route changed",
    [GM_ROUTER_DUPLICATE] = "duplicate",
    [GM_ROUTER_MALFORMED] = "malformed",
    [GM_ROUTER_BAD_SIGNATURE] = "bad signature",
    [GM_ROUTER_UNTRUSTED] = "untrusted certificate",
    [GM_ROUTER_REVOKED] = "revoked certificate",
    [GM_ROUTER_EXPIRED] = "certificate not valid now",
    [GM_ROUTER_OLD_SEQ] = "old sequence number",
    [GM_ROUTER_ID_MISMATCH] = "claims another node's id",
    [GM_ROUTER_FROM_FUTURE] = "from the future",
    [GM_ROUTER_DIRECTORY_FULL] = "directory full",
    [GM_ROUTER_NO_LINK] = "no link to the sender",
    [GM_ROUTER_NOT_HELD] = "short update for an announcement not held",
};

const char *gm_router_verdict_str(gm_router_verdict_t v)
{
    if ((size_t)v < GM_ROUTER_VERDICT_COUNT) {
        return verdict_names[v];
    }
    return "unknown verdict";
}

bool gm_router_verdict_is_drop(gm_router_verdict_t v)
{
    return v >= GM_ROUTER_MALFORMED;
}

void gm_router_config_default(gm_router_config_t *cfg)
{
    cfg->announce_interval_ms = 60000;
    cfg->route_expiry_ms = 210000;
    cfg->infinity = GM_ROUTER_METRIC_MAX;
    cfg->max_nodes = 1024;
    cfg->max_neighbours = 64;
}

static bool config_is_valid(const gm_router_config_t *cfg)
{
    return cfg->announce_interval_ms > 0 && cfg->route_expiry_ms > 0 && cfg->infinity >= 2 &&
           cfg->infinity <= GM_ROUTER_METRIC_MAX && cfg->max_nodes > 0 &&
           cfg->max_nodes <= (1u << 20) && cfg->max_neighbours > 0 && cfg->max_neighbours <= 4096;
}

int gm_router_new(const gm_node_keys_t *keys, const gm_cert_t *own, const gm_trust_t *trust,
                  const gm_router_config_t *cfg, gm_router_t **out)
{
    gm_router_t *r;

    if (!config_is_valid(cfg)) {
        return GM_EPROTO;
    }
    if (memcmp(own->body.sign_pk, keys->sign_pk, GM_KEY_LEN) != 0) {
        return GM_EAUTH;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        return GM_ENOMEM;
    }
    r->neighbours = calloc(cfg->max_neighbours, sizeof *r->neighbours);
    r->dests = calloc(cfg->max_nodes, sizeof *r->dests);
    for (r->sig_mask = 15; r->sig_mask < cfg->max_nodes / 2; r->sig_mask = 2 * r->sig_mask + 1) {
    }
    r->sig_index = calloc(r->sig_mask + 1, sizeof *r->sig_index);
    if (r->neighbours == NULL || r->dests == NULL || r->sig_index == NULL) {
        gm_router_free(r);
        return GM_ENOMEM;
    }
    r->keys = keys;
    r->trust = trust;
    r->cfg = *cfg;
    r->own = *own;
    *out = r;
    return 0;
}

static void free_dest(gm__dest_t *d)
{
    free(d->blob);
    free(d->routes);
    free(d);
}

void gm_router_free(gm_router_t *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n_dests; i++) {
        free_dest(r->dests[i]);
    }
    free(r->dests);
    free(r->sig_index);
    free(r->neighbours);
    free(r);
}

/* ---- this node's announcements ---- */

uint64_t gm_router_own_seq(const gm_router_t *r)
{
    return r->own_seq;
}

void gm_router_set_own_seq(gm_router_t *r, uint64_t seq)
{
    if (seq > r->own_seq) {
        r->own_seq = seq;
    }
}

int gm_router_set_prekeys(gm_router_t *r, const uint8_t *prekeys, size_t len)
{
    if (len > GM_ANNOUNCE_PREKEYS_MAX) {
        return GM_ELIMIT;
    }
    if (len == r->prekeys_len && (len == 0 || memcmp(r->prekeys, prekeys, len) == 0)) {
        return 0; /* the same prekeys again: nothing to announce */
    }
    if (len > 0) {
        memcpy(r->prekeys, prekeys, len);
    }
    r->prekeys_len = len;
    r->changed = true;
    return 0;
}

bool gm_router_announce_due(const gm_router_t *r, uint64_t now_ms)
{
    if (!r->announced || r->changed || now_ms < r->last_announce_ms) {
        return true;
    }
    return now_ms - r->last_announce_ms >= r->cfg.announce_interval_ms;
}

/* The next number: one more than the last, or the time-based one if that is ahead. */
static int next_seq(const gm_router_t *r, uint64_t wall_s, uint64_t *seq)
{
    if (r->own_seq == UINT64_MAX) {
        return GM_ELIMIT;
    }
    *seq = r->own_seq + 1;
    if (wall_s <= UINT64_MAX / SEQ_PER_SECOND && wall_s * SEQ_PER_SECOND > *seq) {
        *seq = wall_s * SEQ_PER_SECOND;
    }
    return 0;
}

/* Signs an announcement with seq into r->scratch.s and encodes it into r->scratch.u. */
static int sign_announcement(gm_router_t *r, uint64_t seq, uint64_t wall_s)
{
    gm_announce_t *a = &r->scratch.a;
    gm_announce_signed_t *s = &r->scratch.s;
    gm_route_update_t *u = &r->scratch.u;
    int err;

    if (r->own.encoded_len > GM_CERT_MAX_LEN) {
        return GM_EPROTO;
    }
    memset(a, 0, sizeof *a);
    memcpy(a->cert, r->own.encoded, r->own.encoded_len);
    a->cert_len = r->own.encoded_len;
    a->seq = seq;
    a->time = wall_s;
    memcpy(a->prekeys, r->prekeys, r->prekeys_len);
    a->prekeys_len = r->prekeys_len;
    err = gm_wire_announce_encode(a, s->body, sizeof s->body, &s->body_len);
    if (err == 0) {
        err = gm_node_keys_sign(r->keys, GM_ROUTER_CTX, s->body, s->body_len, s->signature);
    }
    if (err == 0) {
        err = gm_wire_announce_signed_encode(s, u->announcement, sizeof u->announcement,
                                             &u->announcement_len);
    }
    u->metric = 0;
    return err;
}

int gm_router_make_announcement(gm_router_t *r, uint64_t now_ms, uint64_t wall_s, uint8_t *out,
                                size_t cap, size_t *out_len)
{
    const gm_route_update_t *u = &r->scratch.u;
    uint64_t seq;
    int err;

    if (cap < GM_ROUTE_UPDATE_MAX) {
        return GM_ELIMIT;
    }
    err = next_seq(r, wall_s, &seq);
    if (err == 0) {
        err = sign_announcement(r, seq, wall_s);
    }
    if (err == 0) {
        err = gm_wire_route_update_encode(u, out, cap, out_len);
    }
    if (err != 0) {
        return err;
    }
    r->own_seq = seq;
    memcpy(r->own_signed, u->announcement, u->announcement_len);
    r->own_signed_len = u->announcement_len;
    r->announced = true;
    r->changed = false;
    r->last_announce_ms = now_ms;
    r->stats.announcements++;
    return 0;
}

int gm_router_encode_own(const gm_router_t *r, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!r->announced) {
        return GM_ENOENT;
    }
    return gm__router_encode(r->own_signed, r->own_signed_len, 0, out, cap, out_len);
}

/* ---- the directory ---- */

/* Where id is in the directory (sorted by node id), or where it would go: *at. */
static bool find_at(const gm_router_t *r, const uint8_t id[GM_ID_LEN], size_t *at)
{
    size_t lo = 0, hi = r->n_dests;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(r->dests[mid]->body.node_id, id, GM_ID_LEN);

        if (c == 0) {
            *at = mid;
            return true;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *at = lo;
    return false;
}

long gm__router_find(const gm_router_t *r, const uint8_t id[GM_ID_LEN])
{
    size_t at;

    return find_at(r, id, &at) ? (long)at : -1;
}

static bool same_bytes(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    return a_len == b_len && memcmp(a, b, a_len) == 0;
}

static uint64_t sig_key(const uint8_t signature[GM_SIG_LEN])
{
    uint64_t k;

    memcpy(&k, signature, sizeof k);
    return k;
}

static void sig_unlink(gm_router_t *r, gm__dest_t *d)
{
    for (gm__dest_t **p = &r->sig_index[d->sig_key & r->sig_mask]; *p != NULL;
         p = (gm__dest_t **)&(*p)->sig_next) {
        if (*p == d) {
            *p = d->sig_next;
            return;
        }
    }
}

/* The entry whose verified announcement has these bytes (and this signature), or NULL. */
static gm__dest_t *find_by_signature(const gm_router_t *r, const uint8_t signature[GM_SIG_LEN],
                                     const uint8_t *ann, size_t len)
{
    uint64_t k = sig_key(signature);

    for (gm__dest_t *d = r->sig_index[k & r->sig_mask]; d != NULL; d = d->sig_next) {
        if (d->sig_key == k && same_bytes(ann, len, d->signed_ann, d->signed_len)) {
            return d;
        }
    }
    return NULL;
}

static void remove_dest(gm_router_t *r, size_t i)
{
    if (r->dests[i]->blob != NULL) {
        sig_unlink(r, r->dests[i]);
    }
    gm__router_set_pending(r, r->dests[i], false);
    free_dest(r->dests[i]);
    memmove(&r->dests[i], &r->dests[i + 1], (r->n_dests - i - 1) * sizeof r->dests[0]);
    r->n_dests--;
    r->stats.nodes_dropped++;
}

/* A new, empty entry (no announcement yet), or NULL when full. */
/*
 * When the directory is full, the node unreachable for the longest time makes
 * room (silent nodes and re-keyed devices must not fill it for good); none
 * unreachable: full.
 */
static bool make_room(gm_router_t *r)
{
    long oldest = -1;

    for (size_t i = 0; i < r->n_dests; i++) {
        if (r->dests[i]->sel < 0 &&
            (oldest < 0 || r->dests[i]->heard_ms < r->dests[oldest]->heard_ms)) {
            oldest = (long)i;
        }
    }
    if (oldest < 0) {
        return false;
    }
    remove_dest(r, (size_t)oldest);
    return true;
}

/* A new entry for id, no announcement yet, in its place; NULL when full or out of memory. */
static gm__dest_t *add_dest(gm_router_t *r, const uint8_t id[GM_ID_LEN])
{
    gm__dest_t *d;
    size_t at;

    if (r->n_dests == r->cfg.max_nodes && !make_room(r)) {
        return NULL;
    }
    d = calloc(1, sizeof *d);
    if (d == NULL) {
        r->stats.no_memory++;
        return NULL;
    }
    memcpy(d->body.node_id, id, GM_ID_LEN);
    d->sel = -1;
    d->adv_metric = r->cfg.infinity;
    (void)find_at(r, id, &at);
    memmove(&r->dests[at + 1], &r->dests[at], (r->n_dests - at) * sizeof r->dests[0]);
    r->dests[at] = d;
    r->n_dests++;
    return d;
}

static void lapse_due(gm_router_t *r, const gm_cert_body_t *body)
{
    uint64_t at = gm_cert_lapse_s(body);

    if (at < r->lapse_due_s) {
        r->lapse_due_s = at;
    }
}

/*
 * Takes the verified announcement in r->scratch (a, cert, the update's bytes)
 * into d. GM_ENOMEM leaves d as it was.
 */
static int store_announcement(gm_router_t *r, gm__dest_t *d)
{
    const gm_route_update_t *u = &r->scratch.u;
    const gm_announce_t *a = &r->scratch.a;
    uint8_t *blob = malloc(u->announcement_len + a->cert_len + a->prekeys_len);

    if (blob == NULL) {
        return GM_ENOMEM;
    }
    memcpy(blob, u->announcement, u->announcement_len);
    memcpy(blob + u->announcement_len, a->cert, a->cert_len);
    memcpy(blob + u->announcement_len + a->cert_len, a->prekeys, a->prekeys_len);
    if (d->blob != NULL) {
        sig_unlink(r, d);
    }
    free(d->blob);
    d->blob = blob;
    d->signed_ann = blob;
    d->signed_len = u->announcement_len;
    d->cert = blob + u->announcement_len;
    d->cert_len = a->cert_len;
    d->prekeys = blob + u->announcement_len + a->cert_len;
    d->prekeys_len = a->prekeys_len;
    d->body = r->scratch.cert.body;
    lapse_due(r, &d->body);
    memcpy(d->signer, r->scratch.cert.signer, GM_ID_LEN);
    d->seq = a->seq;
    d->time = a->time;
    d->sig_key = sig_key(r->scratch.s.signature);
    d->sig_next = r->sig_index[d->sig_key & r->sig_mask];
    r->sig_index[d->sig_key & r->sig_mask] = d;
    return 0;
}

int gm_router_lookup(const gm_router_t *r, const uint8_t id[GM_ID_LEN], gm_router_node_t *out)
{
    long i = gm__router_find(r, id);
    const gm__dest_t *d;

    if (i < 0) {
        return GM_ENOENT;
    }
    d = r->dests[i];
    if (gm_cert_decode(d->cert, d->cert_len, &out->cert) != 0) {
        return GM_EIO; /* cannot happen: these bytes were verified */
    }
    out->prekeys = d->prekeys;
    out->prekeys_len = d->prekeys_len;
    out->seq = d->seq;
    out->time = d->time;
    out->heard_ms = d->heard_ms;
    return 0;
}

int gm_router_cert_body(const gm_router_t *r, const uint8_t id[GM_ID_LEN], gm_cert_body_t *out)
{
    long i = gm__router_find(r, id);

    if (i < 0) {
        return GM_ENOENT;
    }
    *out = r->dests[i]->body;
    return 0;
}

size_t gm_router_node_count(const gm_router_t *r)
{
    return r->n_dests;
}

void gm_router_stats(const gm_router_t *r, gm_router_stats_t *out)
{
    *out = r->stats;
}

/*
 * For bytes verified before: what of gm_trust_check can have changed since,
 * without its signature check (issuer still trusted, not revoked since,
 * validity window, the same expressions as crypto/cert.c).
 */
static gm_cert_verdict_t recheck_verified(const gm_router_t *r, const uint8_t signer[GM_ID_LEN],
                                          const gm_cert_body_t *body, uint64_t wall_s)
{
    const gm_crl_t *crl;

    if (gm_trust_find_root(r->trust, signer) == NULL) {
        return GM_CERT_UNKNOWN_ISSUER;
    }
    crl = gm_trust_find_crl(r->trust, body->org_id);
    if (crl != NULL && gm_crl_revokes(crl, body)) {
        return GM_CERT_REVOKED;
    }
    if (body->not_before > wall_s && body->not_before - wall_s > GM_CERT_SKEW_SECONDS) {
        return GM_CERT_NOT_YET_VALID;
    }
    if (wall_s > body->not_after && wall_s - body->not_after > GM_CERT_SKEW_SECONDS) {
        return GM_CERT_EXPIRED;
    }
    return GM_CERT_OK;
}

/*
 * A pass reads every route of every entry, so it runs only once something can
 * have expired or lapsed: in a quiet mesh of a thousand nodes most ticks have
 * nothing to do. The pass recomputes both times from what stays.
 */
size_t gm_router_tick(gm_router_t *r, uint64_t now_ms, uint64_t wall_s)
{
    size_t changed = 0, i = 0;

    if (now_ms < r->expire_due_ms && wall_s < r->lapse_due_s) {
        return 0;
    }
    r->expire_due_ms = UINT64_MAX;
    r->lapse_due_s = UINT64_MAX;
    while (i < r->n_dests) {
        gm__dest_t *d = r->dests[i];

        if (wall_s >= gm_cert_lapse_s(&d->body)) {
            remove_dest(r, i);
            continue;
        }
        lapse_due(r, &d->body);
        if (gm__router_expire(r, d, now_ms)) {
            gm__router_set_pending(r, d, true);
            changed++;
        }
        i++;
    }
    return changed;
}

size_t gm_router_recheck(gm_router_t *r, uint64_t wall_s)
{
    size_t dropped = 0, i = 0;

    while (i < r->n_dests) {
        const gm__dest_t *d = r->dests[i];

        if (gm_trust_check_encoded(r->trust, d->cert, d->cert_len, wall_s, GM_ROLES_ALL,
                                   &r->scratch.cert) != GM_CERT_OK) {
            remove_dest(r, i);
            dropped++;
        } else {
            i++;
        }
    }
    return dropped;
}

/* ---- judging updates ---- */

static gm_router_verdict_t verdict_of_cert(gm_cert_verdict_t v)
{
    switch (v) {
    case GM_CERT_OK:
        return GM_ROUTER_ACCEPTED_NEW;
    case GM_CERT_MALFORMED:
        return GM_ROUTER_MALFORMED;
    case GM_CERT_REVOKED:
        return GM_ROUTER_REVOKED;
    case GM_CERT_NOT_YET_VALID:
    case GM_CERT_EXPIRED:
        return GM_ROUTER_EXPIRED;
    default:
        return GM_ROUTER_UNTRUSTED; /* unknown issuer, bad signature, wrong org or role */
    }
}

/* A whole update's SignedAnnouncement, into r->scratch; the body stays bytes. */
static int decode_signed(gm_router_t *r)
{
    return gm_wire_announce_signed_decode(r->scratch.u.announcement, r->scratch.u.announcement_len,
                                          &r->scratch.s);
}

static bool verify_with(const gm_router_t *r, const uint8_t sign_pk[GM_KEY_LEN])
{
    const gm_announce_signed_t *s = &r->scratch.s;

    return gm_sign_verify(sign_pk, GM_ROUTER_CTX, s->body, s->body_len, s->signature) == 0;
}


/*
 * This node's id in a verified certificate. Signed by this node: an echo of
 * its own flood (a higher number than ours means a state lost on restart:
 * move past it). Anything else claims our id.
 */
static gm_router_verdict_t judge_own_id(gm_router_t *r)
{
    if (!verify_with(r, r->keys->sign_pk)) {
        return GM_ROUTER_ID_MISMATCH;
    }
    if (r->scratch.a.seq > r->own_seq) {
        r->own_seq = r->scratch.a.seq;
        r->changed = true;
    }
    return GM_ROUTER_DUPLICATE;
}

/*
 * The signature of a verified certificate's node: BAD_SIGNATURE, or
 * ID_MISMATCH when the neighbour's own key made it (it originated an
 * announcement for another node's certificate).
 */
static gm_router_verdict_t judge_signature(gm_router_t *r, const uint8_t neighbour[GM_ID_LEN])
{
    long n;

    if (verify_with(r, r->scratch.cert.body.sign_pk)) {
        return GM_ROUTER_ACCEPTED_NEW;
    }
    n = gm__router_find(r, neighbour);
    if (n >= 0 && verify_with(r, r->dests[n]->body.sign_pk)) {
        return GM_ROUTER_ID_MISMATCH;
    }
    return GM_ROUTER_BAD_SIGNATURE;
}

/*
 * The certificate of an announcement not seen before: verified before its
 * body is parsed (gm_trust_check_encoded), unless it is byte for byte the one
 * in the directory entry known (-1: none), whose signature held before.
 * Leaves the certificate in r->scratch.cert; a known one that no longer
 * passes takes its entry with it.
 */
static gm_cert_verdict_t check_cert(gm_router_t *r, long known, uint64_t wall_s)
{
    const gm_announce_t *a = &r->scratch.a;
    gm_cert_verdict_t cv;

    if (known < 0 || !same_bytes(a->cert, a->cert_len, r->dests[known]->cert,
                                 r->dests[known]->cert_len)) {
        return gm_trust_check_encoded(r->trust, a->cert, a->cert_len, wall_s, GM_ROLES_ALL,
                                      &r->scratch.cert);
    }
    /* only the body and the signer are read from here on */
    r->scratch.cert.body = r->dests[known]->body;
    memcpy(r->scratch.cert.signer, r->dests[known]->signer, GM_ID_LEN);
    cv = recheck_verified(r, r->scratch.cert.signer, &r->scratch.cert.body, wall_s);
    if (cv != GM_CERT_OK) {
        remove_dest(r, (size_t)known);
    }
    return cv;
}

/*
 * The full check of an announcement not seen before: certificate, then the
 * announcement's signature with the certificate's key, then time. On success
 * r->scratch.cert holds the certificate.
 */
static gm_router_verdict_t judge_new(gm_router_t *r, const uint8_t neighbour[GM_ID_LEN], long known,
                                     uint64_t wall_s, gm_router_forward_t *fwd)
{
    const gm_announce_t *a = &r->scratch.a;
    gm_cert_verdict_t cv = check_cert(r, known, wall_s);
    gm_router_verdict_t v;

    fwd->cert_verdict = cv;
    if (cv == GM_CERT_OK || cv >= GM_CERT_WRONG_ORG) { /* the certificate's signature held */
        memcpy(fwd->origin, r->scratch.cert.body.node_id, GM_ID_LEN);
        fwd->seq = a->seq;
    }
    v = verdict_of_cert(cv);
    if (v != GM_ROUTER_ACCEPTED_NEW) {
        return v;
    }
    if (memcmp(r->scratch.cert.body.node_id, r->own.body.node_id, GM_ID_LEN) == 0) {
        return judge_own_id(r);
    }
    v = judge_signature(r, neighbour);
    if (v != GM_ROUTER_ACCEPTED_NEW) {
        return v;
    }
    if (a->time > wall_s && a->time - wall_s > GM_CERT_SKEW_SECONDS) {
        return GM_ROUTER_FROM_FUTURE;
    }
    return GM_ROUTER_ACCEPTED_NEW;
}

/* Records the route and tells what to forward: the verdict of an accepted update. */
static gm_router_verdict_t accept_route(gm_router_t *r, gm__dest_t *d, bool fresh,
                                        const uint8_t neighbour[GM_ID_LEN], uint64_t now_ms,
                                        gm_router_forward_t *fwd)
{
    bool changed;

    /* Metric 0 means "I am the origin", and only the origin's own link may say it: a
     * relay that forwards someone's announcement with metric 0 would win every route to
     * it (a black hole). The metric is not signed; this much can be checked. */
    uint32_t metric = r->scratch.u.metric;
    if (metric == 0 && memcmp(d->body.node_id, neighbour, GM_ID_LEN) != 0) {
        metric = 1;
    }
    d->heard_ms = now_ms;
    changed = gm__router_heard(r, d, neighbour, d->seq, metric, now_ms); /* = the update's */
    if (!fresh && !changed) {
        return GM_ROUTER_DUPLICATE;
    }
    if (gm__router_encode(d->signed_ann, d->signed_len, d->adv_metric, fwd->update,
                          sizeof fwd->update, &fwd->len) != 0) {
        fwd->len = 0; /* cannot happen: the bytes fitted when they came in */
    }
    gm__router_set_pending(r, d, false);
    return fresh ? GM_ROUTER_ACCEPTED_NEW : GM_ROUTER_ACCEPTED_ROUTE_ONLY;
}

/* Bytes identical to d's verified announcement: only what time or the trust store changes. */
static gm_router_verdict_t judge_known(gm_router_t *r, long i, const uint8_t neighbour[GM_ID_LEN],
                                       uint64_t now_ms, uint64_t wall_s, gm_router_forward_t *fwd)
{
    gm__dest_t *d = r->dests[i];
    gm_cert_verdict_t cv = recheck_verified(r, d->signer, &d->body, wall_s);

    fwd->cert_verdict = cv;
    memcpy(fwd->origin, d->body.node_id, GM_ID_LEN);
    fwd->seq = d->seq;
    if (cv != GM_CERT_OK) {
        remove_dest(r, (size_t)i);
        return verdict_of_cert(cv);
    }
    return accept_route(r, d, false, neighbour, now_ms, fwd);
}

/*
 * A short update: a route for an announcement the directory holds, named by
 * origin and number. It proves nothing a whole one would not (the metric is
 * nobody's signature either); the announcement it names was verified here.
 */
static gm_router_verdict_t judge_short(gm_router_t *r, const uint8_t neighbour[GM_ID_LEN],
                                       uint64_t now_ms, uint64_t wall_s, gm_router_forward_t *fwd)
{
    const gm_route_update_t *u = &r->scratch.u;
    long i;

    if (memcmp(u->origin, r->own.body.node_id, GM_ID_LEN) == 0) {
        memcpy(fwd->origin, u->origin, GM_ID_LEN);
        fwd->seq = r->own_seq;
        return GM_ROUTER_DUPLICATE; /* a route to this node: nothing to learn */
    }
    i = gm__router_find(r, u->origin);
    if (i < 0 || r->dests[i]->seq < u->seq) {
        return GM_ROUTER_NOT_HELD; /* sent only to a node known to hold it: rare, counted */
    }
    if (r->dests[i]->seq > u->seq) {
        return GM_ROUTER_OLD_SEQ;
    }
    return judge_known(r, i, neighbour, now_ms, wall_s, fwd);
}

/* A verified announcement: replay check, directory, route. */
static gm_router_verdict_t take_verified(gm_router_t *r, const uint8_t neighbour[GM_ID_LEN],
                                         uint64_t now_ms, gm_router_forward_t *fwd)
{
    long i = gm__router_find(r, r->scratch.cert.body.node_id);
    gm__dest_t *d = i >= 0 ? r->dests[i] : NULL;
    bool fresh = d == NULL || r->scratch.a.seq > d->seq;

    if (d != NULL && r->scratch.a.seq < d->seq) {
        return GM_ROUTER_OLD_SEQ;
    }
    if (d == NULL) {
        d = add_dest(r, r->scratch.cert.body.node_id);
        if (d == NULL) {
            return GM_ROUTER_DIRECTORY_FULL;
        }
    }
    if (fresh && store_announcement(r, d) != 0) {
        if (d->blob == NULL) { /* a new entry that never held an announcement */
            remove_dest(r, (size_t)gm__router_find(r, d->body.node_id));
            r->stats.nodes_dropped--;
        }
        r->stats.no_memory++;
        return GM_ROUTER_DIRECTORY_FULL;
    }
    /* Same number, other bytes (the origin signed twice): the first one stays. */
    return accept_route(r, d, fresh, neighbour, now_ms, fwd);
}

static gm_router_verdict_t judge(gm_router_t *r, const uint8_t neighbour[GM_ID_LEN],
                                 const uint8_t *buf, size_t len, uint64_t now_ms, uint64_t wall_s,
                                 gm_router_forward_t *fwd)
{
    const gm_route_update_t *u = &r->scratch.u;
    const gm__dest_t *d;
    gm_router_verdict_t v;
    long i;

    if (!gm__router_is_neighbour(r, neighbour)) {
        return GM_ROUTER_NO_LINK;
    }
    if (gm_wire_route_update_decode(buf, len, &r->scratch.u) != 0) {
        return GM_ROUTER_MALFORMED;
    }
    if (u->announcement_len == 0) {
        return judge_short(r, neighbour, now_ms, wall_s, fwd);
    }
    if (decode_signed(r) != 0) {
        return GM_ROUTER_MALFORMED;
    }
    if (same_bytes(u->announcement, u->announcement_len, r->own_signed, r->own_signed_len)) {
        memcpy(fwd->origin, r->own.body.node_id, GM_ID_LEN);
        fwd->seq = r->own_seq;
        return GM_ROUTER_DUPLICATE; /* our latest announcement, back from the flood */
    }
    /* Bytes identical to a verified announcement: most updates of a flood. */
    d = find_by_signature(r, r->scratch.s.signature, u->announcement, u->announcement_len);
    if (d != NULL) {
        return judge_known(r, gm__router_find(r, d->body.node_id), neighbour, now_ms, wall_s, fwd);
    }
    if (gm_wire_announce_decode(r->scratch.s.body, r->scratch.s.body_len, &r->scratch.a) != 0) {
        return GM_ROUTER_MALFORMED;
    }
    /* Only to find the entry: its certificate is trusted only if its bytes are the same. */
    i = -1;
    if (gm_cert_decode(r->scratch.a.cert, r->scratch.a.cert_len, &r->scratch.cert) == 0) {
        i = gm__router_find(r, r->scratch.cert.body.node_id);
    }
    v = judge_new(r, neighbour, i, wall_s, fwd);
    if (v != GM_ROUTER_ACCEPTED_NEW) {
        return v;
    }
    return take_verified(r, neighbour, now_ms, fwd);
}

gm_router_verdict_t gm_router_on_update(gm_router_t *r, const uint8_t neighbour[GM_ID_LEN],
                                        const uint8_t *buf, size_t len, uint64_t now_ms,
                                        uint64_t wall_s, gm_router_forward_t *fwd)
{
    gm_router_verdict_t v;

    memset(fwd->origin, 0, sizeof fwd->origin);
    fwd->seq = 0;
    fwd->cert_verdict = GM_CERT_OK;
    fwd->len = 0;
    v = judge(r, neighbour, buf, len, now_ms, wall_s, fwd);
    r->stats.verdicts[v]++;
    return v;
}

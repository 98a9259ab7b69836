/*
 * One link to one neighbour: Noise_XX(psk3) over a transport stream, the
 * certificate checks, then frames of u16 length + ciphertext, each holding
 * one LinkMsg. Frames queued in one loop turn leave in one write.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "proto/wire_link.h"

#define HANDSHAKE_FRAME_MAX 2048 /* msg2 with a certificate is about 420 bytes */
#define PROLOGUE_LABEL "guardmesh/link/1"
#define LINKAUTH_CONTEXT "guardmesh/linkauth/1"
#define LINKAUTH_RESPONDER 0x01 /* the hello in msg2 */
#define LINKAUTH_INITIATOR 0x02 /* the hello in msg3 */

static const char *const proto_xx = "Noise_XX_25519_ChaChaPoly_SHA256";
static const char *const proto_xxpsk3 = "Noise_XXpsk3_25519_ChaChaPoly_SHA256";

static const gm_refusal_t verdict_refusal[] = {
    [GM_CERT_MALFORMED] = GM_REFUSE_MALFORMED_CERT,
    [GM_CERT_UNKNOWN_ISSUER] = GM_REFUSE_UNTRUSTED_ORG,
    [GM_CERT_BAD_SIGNATURE] = GM_REFUSE_BAD_SIGNATURE,
    [GM_CERT_WRONG_ORG] = GM_REFUSE_WRONG_ORG,
    [GM_CERT_REVOKED] = GM_REFUSE_REVOKED,
    [GM_CERT_NOT_YET_VALID] = GM_REFUSE_NOT_YET_VALID,
    [GM_CERT_EXPIRED] = GM_REFUSE_EXPIRED,
    [GM_CERT_WRONG_ROLE] = GM_REFUSE_WRONG_ROLE,
};

static const char *who(const gm_link_t *l)
{
    return l->conn != NULL ? l->conn->peer : "?";
}

size_t gm__link_queued(const gm_link_t *l)
{
    return l->olen + (l->conn != NULL ? l->conn->queued : 0);
}

/* ---- output ---- */

/* Room for one more frame of up to len bytes after its header. */
static int reserve(gm_link_t *l, size_t len)
{
    size_t need = l->olen + GM_FRAME_HDR + len;
    uint8_t *p;

    if (need <= l->ocap) {
        return 0;
    }
    need = need < 16384 ? 16384 : need * 2;
    p = realloc(l->obuf, need);
    if (p == NULL) {
        return GM_ENOMEM;
    }
    l->obuf = p;
    l->ocap = need;
    return 0;
}

/* Commits a frame whose len bytes were written after the header at obuf + olen. */
static void commit_frame(gm_link_t *l, size_t len)
{
    l->obuf[l->olen] = (uint8_t)(len >> 8);
    l->obuf[l->olen + 1] = (uint8_t)len;
    l->olen += GM_FRAME_HDR + len;
    l->bytes_out += GM_FRAME_HDR + len;
    l->frames_out++;
    l->t_last_tx = gm__now_ms(l->node);
    gm__mark_dirty(l);
}

void gm__link_flush(gm_link_t *l)
{
    int err;

    if (l->olen == 0 || l->state == LINK_CLOSED) {
        return;
    }
    err = gm_conn_write(l->conn, l->obuf, l->olen); /* the transport owns obuf now */
    l->obuf = NULL;
    l->olen = l->ocap = 0;
    if (err != 0) {
        gm__log(l->node, GM_LOG_DEBUG, "%s: write failed: %s", who(l), gm_strerror(err));
    }
}

/* Encrypts one LinkMsg into a new frame. GM_ELIMIT if it exceeds the frame limit. */
static int send_msg(gm_link_t *l, const gm_linkmsg_t *m)
{
    size_t len = gm_wire_linkmsg_size(m), ct_len;
    uint8_t *at;
    int err;

    if (len + GM_NOISE_TAG_LEN > l->node->cfg.max_frame) {
        return GM_EPROTO;
    }
    err = reserve(l, len + GM_NOISE_TAG_LEN);
    if (err != 0) {
        return err;
    }
    at = l->obuf + l->olen + GM_FRAME_HDR;
    err = gm_wire_linkmsg_encode(m, at, len, &len);
    /* in place: libsodium encrypts over the plaintext */
    err = err ? err : gm_noise_encrypt(&l->tx, NULL, 0, at, len, at, len + GM_NOISE_TAG_LEN,
                                       &ct_len);
    if (err != 0) {
        return err;
    }
    commit_frame(l, ct_len);
    if (++l->tx_since_rekey == l->rekey_frames) {
        gm_noise_rekey(&l->tx); /* the peer does the same after as many frames */
        l->tx_since_rekey = 0;
        l->rekeys++;
        gm__count(l->node, GM_EVENT_REKEY);
    }
    return 0;
}

/* Stops reading from a peer whose queue is full; on_drain resumes. */
static void apply_backpressure(gm_link_t *l)
{
    if (!l->paused && gm__link_queued(l) > l->node->cfg.max_queued_bytes) {
        l->paused = true;
        l->conn->ops->read_stop(l->conn);
        gm__count(l->node, GM_EVENT_BACKPRESSURE);
    }
}

/* Payload bytes one Data frame carries: the frame less the tag and LinkMsg's own bytes. */
static size_t piece_max(const gm_link_t *l)
{
    return l->node->cfg.max_frame - GM_NOISE_TAG_LEN - GM_DATA_OVERHEAD;
}

int gm__link_send_data(gm_link_t *l, uint32_t channel, const uint8_t *data, size_t len,
                       bool control)
{
    /* control messages (routes, revocations) may use a second allowance: they are small,
     * and losing them costs more than queueing them */
    size_t limit = l->node->cfg.max_queued_bytes * (control ? 2u : 1u);
    gm_linkmsg_t m = {.kind = GM_LMSG_DATA, .channel = channel};
    size_t off = 0;
    int err = 0;

    if (l->state != LINK_UP) {
        return GM_ESTATE;
    }
    if (len > l->node->cfg.max_message) {
        return GM_EPROTO;
    }
    if (gm__link_queued(l) > limit) {
        return GM_ELIMIT;
    }
    /* every piece is queued now: a message is never half sent */
    do {
        m.payload = data + off;
        m.payload_len = len - off < piece_max(l) ? len - off : piece_max(l);
        off += m.payload_len;
        m.more = off < len;
        err = send_msg(l, &m);
    } while (err == 0 && off < len);
    if (err == 0) {
        apply_backpressure(l);
    } else if (off > m.payload_len) {
        gm__link_close(l, GM_REFUSE_COUNT, false, "cannot queue the rest of a message");
    }
    return err;
}

typedef enum { PIECE_MORE, PIECE_WHOLE, PIECE_BAD } piece_t;

/* Reassembles pieces: PIECE_WHOLE once *msg, *len hold a whole message (maybe empty). */
static piece_t reassemble(gm_link_t *l, const gm_linkmsg_t *m, const uint8_t **msg, size_t *len)
{
    size_t need = l->msg_len + m->payload_len;

    if (!m->more && l->msg_len == 0) {
        *msg = m->payload; /* the common case: one piece, no copy */
        *len = m->payload_len;
        return PIECE_WHOLE;
    }
    if ((l->msg_len > 0 && m->channel != l->msg_channel) || need > l->node->cfg.max_message) {
        return PIECE_BAD;
    }
    if (need > l->msg_cap) {
        size_t cap = need < 65536 ? 65536 : need * 2;
        uint8_t *p;
        cap = cap > l->node->cfg.max_message ? l->node->cfg.max_message : cap;
        p = realloc(l->msg, cap);
        if (p == NULL) {
            return PIECE_BAD;
        }
        l->msg = p;
        l->msg_cap = cap;
    }
    if (m->payload_len > 0) { /* an empty piece has no payload pointer */
        memcpy(l->msg + l->msg_len, m->payload, m->payload_len);
    }
    l->msg_len = need;
    l->msg_channel = m->channel;
    if (m->more) {
        return PIECE_MORE;
    }
    *msg = l->msg;
    *len = l->msg_len;
    l->msg_len = 0;
    return PIECE_WHOLE;
}

/* ---- closing ---- */

void gm__link_close(gm_link_t *l, gm_refusal_t reason, bool is_refusal, const char *text)
{
    if (l->state == LINK_CLOSED) {
        return;
    }
    if (is_refusal) {
        gm__refuse(l->node, reason, who(l), text);
    }
    if (l->state == LINK_UP) {
        gm_linkmsg_t m = {.kind = GM_LMSG_CLOSE, .reason = (uint32_t)reason};
        snprintf(m.text, sizeof m.text, "%s", text);
        if (send_msg(l, &m) == 0) {
            gm__link_flush(l); /* best effort: TCP delivers it before the FIN */
        }
    }
    l->state = LINK_CLOSED;
    gm_conn_close(l->conn); /* no transport callback runs after this */
    gm__node_link_gone(l->node, l);
}

void gm__link_free(gm_link_t *l)
{
    if (l->hs != NULL) {
        gm_noise_handshake_close(l->hs);
        free(l->hs);
    }
    gm_noise_cipher_close(&l->tx);
    gm_noise_cipher_close(&l->rx);
    free(l->rbuf);
    free(l->obuf);
    free(l->msg);
    free(l);
}

/* ---- handshake ---- */

static int write_handshake(gm_link_t *l, const uint8_t *payload, size_t len)
{
    size_t out_len;
    int err = reserve(l, HANDSHAKE_FRAME_MAX);

    err = err ? err : gm_noise_handshake_write(l->hs, payload, len,
                                               l->obuf + l->olen + GM_FRAME_HDR,
                                               HANDSHAKE_FRAME_MAX, &out_len);
    if (err == 0) {
        commit_frame(l, out_len);
    }
    return err;
}

/* What a hello's signature covers: the role byte || the handshake hash before its message. */
static size_t linkauth_message(uint8_t *out, bool by_initiator, const uint8_t *h, size_t h_len)
{
    out[0] = by_initiator ? LINKAUTH_INITIATOR : LINKAUTH_RESPONDER;
    memcpy(out + 1, h, h_len);
    return 1 + h_len;
}

static int write_hello(gm_link_t *l)
{
    gm_node_t *n = l->node;
    gm_hello_t h;
    uint8_t buf[GM_HELLO_MAX], auth[1 + GM_NOISE_MAX_HASH_LEN];
    size_t len, h_len;
    const uint8_t *hash = gm_noise_handshake_hash(l->hs, &h_len);
    const char *port = strrchr(gm_node_listen_addr(n), ':');
    int err;

    memset(&h, 0, sizeof h);
    h.version = GM_LINK_VERSION;
    memcpy(h.cert, n->cert.encoded, n->cert.encoded_len);
    h.cert_len = n->cert.encoded_len;
    h.listen_port = port != NULL ? (uint16_t)atoi(port + 1) : 0;
    h.time = gm__wall(n);
    h.rekey_frames = (uint32_t)n->cfg.rekey_frames; /* the config caps it at 2^32-1 */
    err = gm_node_keys_sign(n->keys, LINKAUTH_CONTEXT, auth,
                            linkauth_message(auth, l->initiator, hash, h_len), h.signature);
    if (err == 0 && gm_wire_hello_encode(&h, buf, sizeof buf, &len) != 0) {
        err = GM_ELIMIT;
    }
    return err ? err : write_handshake(l, buf, len);
}

/*
 * Judges the peer's hello: trusted certificate, its link key is the key just
 * proven, and its sign key signed this handshake (hash: the handshake hash
 * before the hello's message was read).
 */
static int check_peer(gm_link_t *l, const uint8_t *payload, size_t len, const uint8_t *hash,
                      size_t h_len)
{
    gm_node_t *n = l->node;
    gm_hello_t h;
    gm_cert_t cert;
    gm_cert_verdict_t v;
    const uint8_t *rs = gm_noise_handshake_remote_static(l->hs);

    if (gm_wire_hello_decode(payload, len, &h) != 0 || h.version != GM_LINK_VERSION) {
        gm__link_close(l, GM_REFUSE_BAD_HELLO, true, "handshake payload malformed");
        return GM_EPROTO;
    }
    v = gm_trust_check_encoded(n->trust, h.cert, h.cert_len, gm__wall(n), GM_ROLES_ALL, &cert);
    if (v != GM_CERT_OK) {
        gm__link_close(l, verdict_refusal[v], true, gm_cert_verdict_str(v));
        return GM_EAUTH;
    }
    if (rs == NULL || sodium_memcmp(rs, cert.body.link_pk, GM_KEY_LEN) != 0) {
        gm__link_close(l, GM_REFUSE_KEY_MISMATCH, true,
                       "certificate link key differs from the handshake key");
        return GM_EAUTH;
    }
    uint8_t auth[1 + GM_NOISE_MAX_HASH_LEN];
    size_t auth_len = linkauth_message(auth, !l->initiator, hash, h_len);
    if (gm_sign_verify(cert.body.sign_pk, LINKAUTH_CONTEXT, auth, auth_len, h.signature) != 0) {
        gm__link_close(l, GM_REFUSE_LINK_AUTH, true,
                       "hello not signed by the certificate's sign key");
        return GM_EAUTH;
    }
    if (memcmp(cert.body.node_id, n->cert.body.node_id, GM_ID_LEN) == 0) {
        gm__link_close(l, GM_REFUSE_SELF, true, "connected to itself");
        return GM_EAUTH;
    }
    memcpy(l->peer_id, cert.body.node_id, GM_ID_LEN);
    snprintf(l->peer_name, sizeof l->peer_name, "%s@%s", cert.body.callsign,
             cert.body.org_name);
    l->peer_role = cert.body.role;
    l->peer_listen_port = h.listen_port;
    l->rekey_frames = h.rekey_frames < n->cfg.rekey_frames ? h.rekey_frames
                                                           : n->cfg.rekey_frames;
    l->peer_cert = cert;
    return 0;
}

static void become_up(gm_link_t *l)
{
    int err = gm_noise_handshake_split(l->hs, &l->tx, &l->rx);

    gm_noise_handshake_close(l->hs);
    free(l->hs);
    l->hs = NULL;
    if (err != 0) {
        gm__link_close(l, GM_REFUSE_HANDSHAKE_FAILED, true, "split failed");
        return;
    }
    l->state = LINK_UP;
    l->t_up = l->t_last_rx = gm__now_ms(l->node);
    l->node->links_due_ms = 0; /* its timers are not the handshake's */
    if (!gm__node_link_up(l->node, l)) {
        gm__link_close(l, GM_REFUSE_COUNT, false, "duplicate link");
    }
}

static void handshake_refused(gm_link_t *l, int err)
{
    const char *why = err == GM_EAUTH  ? "did not decrypt: another mesh id or mesh key"
                      : err == GM_EDH  ? "low-order key"
                      : err == GM_ELIMIT ? "payload too large"
                                         : "malformed handshake message";

    gm__link_close(l, GM_REFUSE_HANDSHAKE_FAILED, true, why);
}

static void handshake_frame(gm_link_t *l, const uint8_t *frame, size_t len)
{
    uint8_t payload[GM_HELLO_MAX], hash[GM_NOISE_MAX_HASH_LEN];
    size_t plen, h_len;
    const uint8_t *h = gm_noise_handshake_hash(l->hs, &h_len);
    int err;

    memcpy(hash, h, h_len); /* the peer signed the hash before this message */
    err = gm_noise_handshake_read(l->hs, frame, len, payload, sizeof payload, &plen);
    if (err != 0) {
        handshake_refused(l, err);
        return;
    }
    if (!l->initiator && l->hs->msg_index == 1) { /* -> e: payload = version byte */
        if (plen != 1 || payload[0] != GM_LINK_VERSION) {
            gm__link_close(l, GM_REFUSE_BAD_HELLO, true, "unknown link protocol version");
        } else if (write_hello(l) != 0) {
            gm__link_close(l, GM_REFUSE_HANDSHAKE_FAILED, true, "cannot write msg2");
        }
        return;
    }
    if (check_peer(l, payload, plen, hash, h_len) != 0) {
        return;
    }
    if (l->initiator && write_hello(l) != 0) { /* -> s, se with our certificate */
        gm__link_close(l, GM_REFUSE_HANDSHAKE_FAILED, true, "cannot write msg3");
        return;
    }
    become_up(l);
}

/* ---- transport frames ---- */

static void transport_frame(gm_link_t *l, const uint8_t *frame, size_t len)
{
    gm_node_t *n = l->node;
    uint8_t *plain = n->scratch;
    gm_linkmsg_t m;
    size_t plen;
    gm_wire_arena_t arena = {n->arena, sizeof n->arena, 0};

    if (gm_noise_decrypt(&l->rx, NULL, 0, frame, len, plain, sizeof n->scratch, &plen) != 0 ||
        gm_wire_linkmsg_decode(plain, plen, &arena, &m) != 0) {
        sodium_memzero(n->scratch, sizeof n->scratch); /* rare: wipe it all */
        gm__link_close(l, GM_REFUSE_BAD_FRAME, true, "frame did not decrypt or decode");
        return;
    }
    if (++l->rx_since_rekey == l->rekey_frames) {
        gm_noise_rekey(&l->rx);
        l->rx_since_rekey = 0;
    }
    if (m.kind == GM_LMSG_DATA) {
        const uint8_t *msg = NULL;
        size_t mlen = 0;
        piece_t p = reassemble(l, &m, &msg, &mlen);
        if (p == PIECE_BAD) {
            gm__link_close(l, GM_REFUSE_BAD_FRAME, true, "message pieces over the limit");
        } else if (p == PIECE_WHOLE && n->hooks.data != NULL) {
            n->hooks.data(n->hooks_ctx, l->peer_id, m.channel, msg, mlen);
        }
    } else if (m.kind == GM_LMSG_CLOSE) {
        gm__log_remote(n, GM_LOG_INFO, "%s (%s): peer closed the link: %s", l->peer_name,
                       who(l), m.text);
        gm__link_close(l, GM_REFUSE_COUNT, false, "peer closed");
    }
    sodium_memzero(plain, plen); /* no plaintext outlives its frame */
    sodium_memzero(n->arena, arena.used);
}

/* Handles every whole frame in p; returns the bytes consumed. */
static size_t parse_frames(gm_link_t *l, const uint8_t *p, size_t len)
{
    size_t off = 0;

    while (l->state != LINK_CLOSED && len - off >= GM_FRAME_HDR) {
        size_t flen = ((size_t)p[off] << 8) | p[off + 1];
        size_t max = l->state == LINK_HANDSHAKE ? HANDSHAKE_FRAME_MAX : l->node->cfg.max_frame;

        if (flen > max) {
            gm__link_close(l, GM_REFUSE_FRAME_TOO_LARGE, true, "frame above the maximum size");
            break;
        }
        if (len - off - GM_FRAME_HDR < flen) {
            break;
        }
        l->bytes_in += GM_FRAME_HDR + flen;
        l->frames_in++;
        l->t_last_rx = gm__now_ms(l->node);
        if (l->state == LINK_HANDSHAKE) {
            handshake_frame(l, p + off + GM_FRAME_HDR, flen);
        } else {
            transport_frame(l, p + off + GM_FRAME_HDR, flen);
        }
        off += GM_FRAME_HDR + flen;
    }
    return off;
}

/* Keeps an incomplete frame's bytes for the next read. */
static int keep_tail(gm_link_t *l, const uint8_t *p, size_t len)
{
    if (len == 0) {
        return 0; /* the read ended on a frame boundary (rbuf may still be NULL) */
    }
    if (l->rlen + len > l->rcap) {
        size_t cap = GM_FRAME_HDR + 65535u;
        uint8_t *b = l->rcap >= cap ? NULL : realloc(l->rbuf, cap);
        if (b == NULL) {
            return GM_ENOMEM; /* cannot happen for a frame within the 16-bit limit */
        }
        l->rbuf = b;
        l->rcap = cap;
    }
    memmove(l->rbuf + l->rlen, p, len);
    l->rlen += len;
    return 0;
}

static void on_link_data(void *ctx, const uint8_t *data, size_t len)
{
    gm_link_t *l = ctx;
    size_t used;

    gm_node_wake(l->node); /* what the frames cause is finished at the end of the turn */
    while (len > 0 && l->state != LINK_CLOSED) {
        if (l->rlen == 0) { /* fast path: frames straight from the read buffer */
            used = parse_frames(l, data, len);
            if (l->state != LINK_CLOSED && keep_tail(l, data + used, len - used) != 0) {
                gm__link_close(l, GM_REFUSE_BAD_FRAME, true, "out of memory");
            }
            return;
        }
        /* complete the pending frame from the new bytes, then go on from there */
        size_t want = l->rcap - l->rlen < len ? l->rcap - l->rlen : len;
        memcpy(l->rbuf + l->rlen, data, want);
        l->rlen += want;
        data += want;
        len -= want;
        used = parse_frames(l, l->rbuf, l->rlen);
        memmove(l->rbuf, l->rbuf + used, l->rlen - used);
        l->rlen -= used;
        if (used == 0 && want == 0) {
            break; /* cannot happen: a full buffer always holds a whole frame */
        }
    }
}

static void on_link_end(void *ctx, int err)
{
    gm_link_t *l = ctx;

    if (l->state == LINK_HANDSHAKE) {
        gm__count(l->node, GM_EVENT_HANDSHAKE_ABORTED);
        gm__log_remote(l->node, GM_LOG_INFO, "%s: closed during the handshake (%s)", who(l),
                       gm_strerror(err));
    } else {
        gm__log(l->node, GM_LOG_INFO, "%s (%s): connection closed (%s)", l->peer_name, who(l),
                gm_strerror(err));
    }
    gm__link_close(l, GM_REFUSE_COUNT, false, "connection closed");
}

static void on_link_drain(void *ctx)
{
    gm_link_t *l = ctx;

    gm_node_wake(l->node);
    if (l->paused && l->state != LINK_CLOSED) {
        l->paused = false;
        l->conn->ops->read_start(l->conn);
    }
    if (l->state == LINK_UP && l->node->hooks.drained != NULL) {
        l->node->hooks.drained(l->node->hooks_ctx, l->peer_id);
    }
}

/* ---- lifecycle ---- */

static uint64_t earlier(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

uint64_t gm__link_lapse_s(const gm_link_t *l)
{
    return l->state == LINK_UP ? gm_cert_lapse_s(&l->peer_cert.body) : UINT64_MAX;
}

uint64_t gm__link_tick(gm_link_t *l, uint64_t now)
{
    const gm_node_config_t *c = &l->node->cfg;

    if (l->state == LINK_HANDSHAKE) {
        if (now - l->t_created > c->handshake_timeout_ms) {
            gm__link_close(l, GM_REFUSE_HANDSHAKE_TIMEOUT, true, "handshake timed out");
            return UINT64_MAX;
        }
        return l->t_created + c->handshake_timeout_ms + 1;
    }
    if (now - l->t_last_rx > c->dead_after_ms) {
        gm__count(l->node, GM_EVENT_DEAD_PEER);
        gm__log(l->node, GM_LOG_WARN, "%s (%s): no frame for %u ms: dead peer", l->peer_name,
                who(l), c->dead_after_ms);
        gm__link_close(l, GM_REFUSE_COUNT, false, "dead peer");
        return UINT64_MAX;
    }
    if (gm__wall(l->node) >= gm__link_lapse_s(l)) {
        gm__link_close(l, GM_REFUSE_EXPIRED, true, "certificate expired while linked");
        return UINT64_MAX;
    }
    if (now - l->t_up > (uint64_t)c->max_link_age_s * 1000u) {
        gm__count(l->node, GM_EVENT_REHANDSHAKE);
        gm__link_close(l, GM_REFUSE_COUNT, false, "link age limit: re-handshake");
        return UINT64_MAX;
    }
    if (now - l->t_last_tx >= c->keepalive_ms) {
        gm_linkmsg_t m = {.kind = GM_LMSG_KEEPALIVE, .seq = ++l->keepalive_seq};
        (void)send_msg(l, &m); /* a full queue needs no keepalive: due again next tick */
    }
    return earlier(earlier(l->t_last_rx + c->dead_after_ms + 1, l->t_last_tx + c->keepalive_ms),
                   l->t_up + (uint64_t)c->max_link_age_s * 1000u + 1);
}

void gm__link_recheck(gm_link_t *l)
{
    gm_cert_verdict_t v;

    if (l->state != LINK_UP) {
        return; /* a handshake in progress is judged against the new store anyway */
    }
    v = gm_trust_check(l->node->trust, &l->peer_cert, gm__wall(l->node), GM_ROLES_ALL);
    if (v != GM_CERT_OK) {
        gm__link_close(l, verdict_refusal[v], true, gm_cert_verdict_str(v));
    }
}

static int start_handshake(gm_link_t *l)
{
    gm_node_t *n = l->node;
    gm_noise_protocol_t proto;
    uint8_t prologue[sizeof PROLOGUE_LABEL - 1 + GM_MESH_ID_LEN];
    int err;

    memcpy(prologue, PROLOGUE_LABEL, sizeof PROLOGUE_LABEL - 1);
    memcpy(prologue + sizeof PROLOGUE_LABEL - 1, n->cfg.mesh_id, GM_MESH_ID_LEN);
    err = gm_noise_protocol_parse(n->cfg.has_mesh_key ? proto_xxpsk3 : proto_xx, &proto);
    l->hs = err == 0 ? malloc(sizeof *l->hs) : NULL;
    if (l->hs == NULL) {
        return GM_ENOMEM;
    }
    gm_noise_handshake_init(l->hs, &proto, l->initiator, prologue, sizeof prologue, NULL, NULL);
    err = gm_noise_handshake_set_static(l->hs, n->keys->link_sk);
    if (err == 0 && n->cfg.has_mesh_key) {
        err = gm_noise_handshake_set_psks(l->hs, (const uint8_t(*)[32])n->cfg.mesh_key, 1);
    }
    err = err ? err : gm_noise_handshake_start(l->hs);
    if (err == 0 && l->initiator) {
        static const uint8_t version = GM_LINK_VERSION;
        err = write_handshake(l, &version, 1); /* -> e */
    }
    return err;
}

int gm__link_new(gm_node_t *n, gm_conn_t *conn, bool initiator, gm_dialer_t *d, gm_link_t **out)
{
    gm_link_t *l = calloc(1, sizeof *l);
    int err;

    if (l == NULL) {
        gm_conn_close(conn);
        return GM_ENOMEM;
    }
    l->node = n;
    l->conn = conn;
    l->initiator = initiator;
    l->dialer = d;
    l->state = LINK_HANDSHAKE;
    l->t_created = l->t_last_rx = l->t_last_tx = gm__now_ms(n);
    n->links_due_ms = 0; /* its handshake timer: the next tick looks */
    snprintf(l->peer_name, sizeof l->peer_name, "?");
    conn->cbs = (gm_conn_cbs_t){on_link_data, on_link_end, on_link_drain};
    conn->ctx = l;
    err = start_handshake(l);
    if (err != 0) {
        gm_conn_close(conn);
        gm__link_free(l);
        return err;
    }
    conn->ops->read_start(conn);
    *out = l;
    return 0;
}

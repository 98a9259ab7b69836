/*
 * overhead: the bytes each layer adds to one message, measured with the real
 * encoders and the real ratchet (CRYPTO.md section 8 has the budget).
 *
 *   overhead [TEXT_BYTES]     (default 100)
 *
 * A text of TEXT_BYTES bytes to one node, as the messenger sends it: the
 * Content (message id, time, text), padded; a Double Ratchet message in an
 * Envelope; a Bundle (header in clear); a LinkMsg in one Noise frame. Prints
 * each layer's bytes, and the total overhead with and without the padding.
 * Also the first (PreKey) message, a talkgroup message and a signed broadcast.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/ratchet.h"
#include "crypto/senderkey.h"
#include "crypto/x3dh.h"
#include "node/messenger_internal.h"
#include "proto/wire_bundle.h"
#include "proto/wire_e2e.h"
#include "proto/wire_link.h"

#define NOISE_FRAME_OVERHEAD (2 + 16) /* u16 length + Poly1305 tag */
#define BODY_MAX 65536

static void die(const char *what)
{
    fprintf(stderr, "overhead: %s\n", what);
    exit(1);
}

/* Bundle and link sizes around an envelope of env_len bytes. */
static void outer(size_t env_len, gm_dst_kind_t kind, size_t *bundle_len, size_t *frame_len)
{
    static uint8_t body[BODY_MAX], buf[BODY_MAX + 256];
    gm_bundle_t b = {0};
    gm_linkmsg_t lm = {.kind = GM_LMSG_DATA, .channel = 65};

    randombytes_buf(b.id, sizeof b.id);
    randombytes_buf(b.src, sizeof b.src);
    b.dst.kind = kind;
    if (kind != GM_DST_ALL) {
        randombytes_buf(b.dst.id, sizeof b.dst.id);
    }
    b.created = 1795800000;
    b.lifetime = 86400;
    b.hop_limit = 32;
    b.hops = 1;
    b.priority = GM_PRIO_NORMAL;
    b.body = body;
    b.body_len = env_len;
    if (gm_wire_bundle_encode(&b, buf, sizeof buf, bundle_len) != 0) {
        die("bundle encode");
    }
    lm.payload = buf;
    lm.payload_len = *bundle_len;
    *frame_len = gm_wire_linkmsg_size(&lm) + NOISE_FRAME_OVERHEAD;
}

static size_t envelope_len(const gm_envelope_t *env)
{
    size_t n = gm_wire_envelope_size(env);

    if (n == 0) {
        die("envelope encode");
    }
    return n;
}

int main(int argc, char **argv)
{
    size_t text_len = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 100;
    char *text;
    gm_content_t c = {.kind = GM_CONTENT_TEXT, .sent = 1795800000};
    uint8_t *pt, *ct, ik_a[32], ik_a_pk[32], ik_b[32], ik_b_pk[32], spk[32], spk_pk[32], ek[32],
        ek_pk[32], seed[32], sk[32], ad[GM_X3DH_AD_LEN], cert[300];
    size_t content_len, pt_len, bundle_len, frame_len;
    gm_dr_state_t alice;
    gm_dr_header_t h;
    gm_envelope_t env = {.kind = GM_ENVELOPE_RATCHET};

    if (sodium_init() < 0 || text_len == 0 || text_len > GM_E2E_TEXT_MAX) {
        die("usage: overhead [TEXT_BYTES 1..4096]");
    }
    text = malloc(text_len + 1);
    memset(text, 'x', text_len);
    text[text_len] = 0;
    randombytes_buf(c.msg_id, sizeof c.msg_id);
    c.text = text;
    content_len = gm_wire_content_size(&c);
    if (gm__msgr_content_plaintext(&c, &pt, &pt_len) != 0) {
        die("content");
    }

    /* a real session: X3DH, then one ratchet message */
    for (uint8_t *k[] = {ik_a, ik_b, spk, ek}, *p[] = {ik_a_pk, ik_b_pk, spk_pk, ek_pk},
                 i = 0;
         i < 4; i++) {
        randombytes_buf(seed, sizeof seed);
        gm_x25519_keypair(p[i], k[i], seed);
    }
    randombytes_buf(seed, sizeof seed);
    memset(ad, 7, sizeof ad);
    if (gm_x3dh_initiate(ik_a, ek, ik_b_pk, spk_pk, GM_X3DH_INFO, sk, sizeof sk) != 0 ||
        gm_dr_init_alice(&alice, sk, spk_pk, seed, ad, sizeof ad) != 0) {
        die("session");
    }
    ct = malloc(pt_len + GM_DR_TAG_LEN);
    if (gm_dr_encrypt(&alice, pt, pt_len, &h, ct) != 0) {
        die("ratchet");
    }
    gm_dr_header_encode(&h, env.ratchet.header);
    env.ratchet.ciphertext = ct;
    env.ratchet.ciphertext_len = pt_len + GM_DR_TAG_LEN;
    size_t env_len = envelope_len(&env);
    outer(env_len, GM_DST_NODE, &bundle_len, &frame_len);

    size_t padding = pt_len - content_len;
    printf("A %zu-byte text to one node (each layer's bytes):\n", text_len);
    printf("  %-44s %6zu  (+%zu: message id, time, field tags)\n", "content (plaintext protobuf)",
           content_len, content_len - text_len);
    printf("  %-44s %6zu  (+%zu: padding to the size bucket)\n", "padded", pt_len, padding);
    printf("  %-44s %6zu  (+%zu: header 40, tag 16, field tags)\n", "ratchet message in an envelope",
           env_len, env_len - pt_len);
    printf("  %-44s %6zu  (+%zu: header in clear)\n", "bundle", bundle_len, bundle_len - env_len);
    printf("  %-44s %6zu  (+%zu: LinkMsg, length and tag)\n", "link frame (one bundle per frame)",
           frame_len, frame_len - bundle_len);
    printf("  %-44s %6zu\n", "total overhead, padding aside", frame_len - text_len - padding);
    printf("  %-44s %6zu\n", "total overhead, padding included", frame_len - text_len);

    /* the first message of a session also carries the sender's certificate */
    memset(cert, 1, sizeof cert);
    gm_envelope_t pre = {.kind = GM_ENVELOPE_PREKEY};
    pre.prekey.cert = cert;
    pre.prekey.cert_len = 250; /* about a certificate's size */
    memcpy(pre.prekey.ephemeral, ek_pk, 32);
    pre.prekey.prekey_id = 1;
    pre.prekey.message = env.ratchet;
    printf("  %-44s %6zu  (a 250-byte certificate included)\n",
           "first (PreKey) message envelope, extra", envelope_len(&pre) - env_len);

    /* a talkgroup message */
    gm_sk_state_t s;
    uint8_t group[16], chain[32], sign[32], sender[16];
    gm_envelope_t gm = {.kind = GM_ENVELOPE_GROUP};
    randombytes_buf(group, sizeof group);
    randombytes_buf(chain, sizeof chain);
    randombytes_buf(sign, sizeof sign);
    randombytes_buf(sender, sizeof sender);
    gm_sk_create(&s, group, 7, chain, sign);
    memcpy(gm.group.group_id, group, 16);
    gm.group.key_id = 7;
    if (gm_sk_encrypt(&s, sender, pt, pt_len, &gm.group.iteration, ct, gm.group.signature) != 0) {
        die("sender key");
    }
    gm.group.ciphertext = ct;
    gm.group.ciphertext_len = pt_len + GM_SK_TAG_LEN;
    size_t genv = envelope_len(&gm), gbundle, gframe;
    outer(genv, GM_DST_GROUP, &gbundle, &gframe);
    printf("\nThe same text to a talkgroup: envelope %zu, bundle %zu, frame %zu;"
           " overhead padding aside %zu\n",
           genv, gbundle, gframe, gframe - text_len - padding);

    gm_envelope_t bc = {.kind = GM_ENVELOPE_BROADCAST};
    bc.broadcast.cert = cert;
    bc.broadcast.cert_len = 250;
    uint8_t *enc = malloc(content_len);
    if (gm_wire_content_encode(&c, enc, content_len, &content_len) != 0) {
        die("content encode");
    }
    bc.broadcast.content = enc;
    bc.broadcast.content_len = content_len;
    size_t benv = envelope_len(&bc), bbundle, bframe;
    outer(benv, GM_DST_ALL, &bbundle, &bframe);
    printf("To everyone (signed, certificate included, not padded): frame %zu, overhead %zu\n",
           bframe, bframe - text_len);

    gm_sk_wipe(&s);
    gm_dr_wipe(&alice);
    free(enc);
    free(ct);
    free(pt);
    free(text);
    return 0;
}

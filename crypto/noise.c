/* Noise Protocol Framework, revision 34: sections 5 (processing rules) and 7-9. */
#include "crypto/noise.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kdf.h"

enum { T_END = 0, T_E, T_S, T_EE, T_ES, T_SE, T_SS, T_PSK };

/* Which keys a HandshakeState holds. */
enum {
    KEY_S = 0x01,
    KEY_E = 0x02,
    KEY_RS = 0x04,
    KEY_RE = 0x08,
    KEY_PSK = 0x10,
    KEY_STARTED = 0x20,
    KEY_SPLIT = 0x40,
};

struct pattern {
    const char *name;
    uint8_t pre_init, pre_resp, n_messages;
    uint8_t tokens[GM_NOISE_MAX_MESSAGES][6];
};

#define S GM_NOISE_PRE_S
/* Noise spec 7.4 and 7.5: the interactive fundamental patterns. */
static const struct pattern patterns[] = {
    {"NN", 0, 0, 2, {{T_E}, {T_E, T_EE}}},
    {"NK", 0, S, 2, {{T_E, T_ES}, {T_E, T_EE}}},
    {"NX", 0, 0, 2, {{T_E}, {T_E, T_EE, T_S, T_ES}}},
    {"KN", S, 0, 2, {{T_E}, {T_E, T_EE, T_SE}}},
    {"KK", S, S, 2, {{T_E, T_ES, T_SS}, {T_E, T_EE, T_SE}}},
    {"KX", S, 0, 2, {{T_E}, {T_E, T_EE, T_SE, T_S, T_ES}}},
    {"XN", 0, 0, 3, {{T_E}, {T_E, T_EE}, {T_S, T_SE}}},
    {"XK", 0, S, 3, {{T_E, T_ES}, {T_E, T_EE}, {T_S, T_SE}}},
    {"XX", 0, 0, 3, {{T_E}, {T_E, T_EE, T_S, T_ES}, {T_S, T_SE}}},
    {"IN", 0, 0, 2, {{T_E, T_S}, {T_E, T_EE, T_SE}}},
    {"IK", 0, S, 2, {{T_E, T_ES, T_S, T_SS}, {T_E, T_EE, T_SE}}},
    {"IX", 0, 0, 2, {{T_E, T_S}, {T_E, T_EE, T_SE, T_S, T_ES}}},
};
#undef S

/* ---- protocol names ---- */

static size_t token_count(const uint8_t *tokens)
{
    size_t n = 0;

    while (n < GM_NOISE_MAX_TOKENS && tokens[n] != T_END) {
        n++;
    }
    return n;
}

/*
 * Applies one "pskN" modifier: psk0 opens message 1, pskN closes message N.
 * *last is the previous modifier's N (-1 before the first): modifiers must be
 * strictly ascending (spec 9.2 names them in order; a repeated one would mix
 * the same position twice and overrun the psks array).
 */
static int apply_psk_modifier(gm_noise_protocol_t *p, const char *mod, size_t len, int *last)
{
    uint8_t *tokens;
    size_t n;
    unsigned pos;

    if (p->n_psks >= GM_NOISE_MAX_PSKS) {
        return GM_ELIMIT; /* checked first: nothing past the array is ever counted */
    }
    if (len != 4 || strncmp(mod, "psk", 3) != 0 || mod[3] < '0' || mod[3] > '9') {
        return GM_EPROTO;
    }
    pos = (unsigned)(mod[3] - '0');
    if (pos > p->n_messages || (int)pos <= *last) {
        return GM_EPROTO; /* out of range, repeated ("psk0+psk0") or descending */
    }
    *last = (int)pos;
    tokens = p->tokens[pos == 0 ? 0 : pos - 1];
    n = token_count(tokens);
    if (n + 1 >= GM_NOISE_MAX_TOKENS) {
        return GM_EPROTO;
    }
    if (pos == 0) {
        memmove(tokens + 1, tokens, n);
        tokens[0] = T_PSK;
    } else {
        tokens[n] = T_PSK;
    }
    p->n_psks++;
    return 0;
}

static int parse_pattern(gm_noise_protocol_t *p, const char *s, size_t len)
{
    const struct pattern *pat = NULL;
    size_t base = 0;
    int last = -1, err;

    while (base < len && s[base] >= 'A' && s[base] <= 'Z') {
        base++;
    }
    for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
        if (strlen(patterns[i].name) == base && strncmp(patterns[i].name, s, base) == 0) {
            pat = &patterns[i];
        }
    }
    if (pat == NULL) {
        return GM_EPROTO;
    }
    p->pre_init = pat->pre_init;
    p->pre_resp = pat->pre_resp;
    p->n_messages = pat->n_messages;
    for (size_t m = 0; m < pat->n_messages; m++) {
        memcpy(p->tokens[m], pat->tokens[m], sizeof pat->tokens[m]);
    }
    /* Modifiers: "psk0+psk2" */
    for (size_t i = base; i < len;) {
        size_t j = i;
        while (j < len && s[j] != '+') {
            j++;
        }
        err = apply_psk_modifier(p, s + i, j - i, &last);
        if (err != 0) {
            return err;
        }
        i = (j < len) ? j + 1 : j;
        if (j + 1 == len) {
            return GM_EPROTO; /* trailing '+' */
        }
    }
    return 0;
}

int gm_noise_protocol_parse(const char *name, gm_noise_protocol_t *out)
{
    static const char prefix[] = "Noise_";
    static const char middle[] = "_25519_ChaChaPoly_";
    gm_noise_protocol_t p;
    size_t len = strlen(name);
    const char *pat, *mid;
    int err;

    memset(&p, 0, sizeof p);
    if (len >= sizeof p.name || strncmp(name, prefix, sizeof prefix - 1) != 0) {
        return GM_EPROTO;
    }
    pat = name + sizeof prefix - 1;
    mid = strstr(pat, middle);
    if (mid == NULL) {
        return GM_EPROTO;
    }
    if (strcmp(mid + sizeof middle - 1, "SHA256") == 0) {
        p.hash = GM_NOISE_HASH_SHA256;
    } else if (strcmp(mid + sizeof middle - 1, "BLAKE2b") == 0) {
        p.hash = GM_NOISE_HASH_BLAKE2B;
    } else {
        return GM_EPROTO;
    }
    err = parse_pattern(&p, pat, (size_t)(mid - pat));
    if (err != 0) {
        return err;
    }
    memcpy(p.name, name, len + 1);
    *out = p;
    return 0;
}

/* ---- CipherState (spec 5.1) ---- */

static void make_nonce(uint8_t nonce[12], uint64_t n)
{
    memset(nonce, 0, 4);
    gm_store_u64_le(nonce + 4, n); /* ChaChaPoly: 32 zero bits || 64-bit little-endian */
}

int gm_noise_encrypt(gm_noise_cipher_t *cs, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                     size_t pt_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    uint8_t nonce[12];
    size_t need = pt_len + (cs->has_key ? GM_NOISE_TAG_LEN : 0);

    if (need > GM_NOISE_MAX_MSG_LEN || need > out_cap) {
        return GM_ELIMIT;
    }
    if (!cs->has_key) {
        if (pt_len > 0) { /* an empty payload may come as NULL */
            memmove(out, pt, pt_len);
        }
        *out_len = pt_len;
        return 0;
    }
    if (cs->n == GM_NOISE_NONCE_MAX) {
        return GM_ELIMIT;
    }
    make_nonce(nonce, cs->n);
    crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, pt_len, ad, ad_len, NULL, nonce,
                                              cs->k);
    cs->n++;
    *out_len = need;
    return 0;
}

int gm_noise_decrypt(gm_noise_cipher_t *cs, const uint8_t *ad, size_t ad_len, const uint8_t *ct,
                     size_t ct_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    uint8_t nonce[12];

    if (ct_len > GM_NOISE_MAX_MSG_LEN) {
        return GM_EPROTO;
    }
    if (!cs->has_key) {
        if (ct_len > out_cap) {
            return GM_ELIMIT;
        }
        if (ct_len > 0) {
            memmove(out, ct, ct_len);
        }
        *out_len = ct_len;
        return 0;
    }
    if (ct_len < GM_NOISE_TAG_LEN) {
        return GM_EPROTO;
    }
    if (ct_len - GM_NOISE_TAG_LEN > out_cap || cs->n == GM_NOISE_NONCE_MAX) {
        return GM_ELIMIT;
    }
    make_nonce(nonce, cs->n);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, ct_len, ad, ad_len, nonce,
                                                  cs->k) != 0) {
        return GM_EAUTH; /* the nonce is not advanced (spec 5.1) */
    }
    cs->n++;
    *out_len = ct_len - GM_NOISE_TAG_LEN;
    return 0;
}

void gm_noise_rekey(gm_noise_cipher_t *cs)
{
    static const uint8_t zeros[GM_NOISE_KEY_LEN];
    uint8_t nonce[12];
    uint8_t out[GM_NOISE_KEY_LEN + GM_NOISE_TAG_LEN];

    make_nonce(nonce, GM_NOISE_NONCE_MAX);
    crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, zeros, sizeof zeros, NULL, 0, NULL,
                                              nonce, cs->k);
    memcpy(cs->k, out, GM_NOISE_KEY_LEN);
    sodium_memzero(out, sizeof out);
}

void gm_noise_cipher_close(gm_noise_cipher_t *cs)
{
    sodium_memzero(cs, sizeof *cs);
}

static void cipher_init_key(gm_noise_cipher_t *cs, const uint8_t *k)
{
    memcpy(cs->k, k, GM_NOISE_KEY_LEN);
    cs->n = 0;
    cs->has_key = true;
}

/* ---- SymmetricState (spec 5.2) ---- */

static size_t hash_len(gm_noise_hash_t hash)
{
    return hash == GM_NOISE_HASH_SHA256 ? GM_SHA256_LEN : GM_BLAKE2B_LEN;
}

static void hmac(gm_noise_hash_t hash, uint8_t *out, const uint8_t *key, const uint8_t *a,
                 size_t a_len, const uint8_t *b, size_t b_len)
{
    if (hash == GM_NOISE_HASH_SHA256) {
        gm_hmac_sha256(out, key, GM_SHA256_LEN, a, a_len, b, b_len);
    } else {
        gm_hmac_blake2b(out, key, GM_BLAKE2B_LEN, a, a_len, b, b_len);
    }
}

/* HKDF(ck, ikm, n) of spec 4.3, n = 2 or 3; out3 may be NULL. */
static void noise_hkdf(const gm_noise_symmetric_t *ss, const uint8_t *ikm, size_t ikm_len,
                       uint8_t *out1, uint8_t *out2, uint8_t *out3)
{
    uint8_t temp[GM_NOISE_MAX_HASH_LEN];
    size_t hl = hash_len(ss->hash);
    uint8_t one = 1, two = 2, three = 3;

    hmac(ss->hash, temp, ss->ck, ikm, ikm_len, NULL, 0);
    hmac(ss->hash, out1, temp, &one, 1, NULL, 0);
    hmac(ss->hash, out2, temp, out1, hl, &two, 1);
    if (out3 != NULL) {
        hmac(ss->hash, out3, temp, out2, hl, &three, 1);
    }
    sodium_memzero(temp, sizeof temp);
}

static void mix_hash(gm_noise_symmetric_t *ss, const uint8_t *data, size_t len)
{
    if (ss->hash == GM_NOISE_HASH_SHA256) {
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, ss->h, GM_SHA256_LEN);
        crypto_hash_sha256_update(&st, data, len);
        crypto_hash_sha256_final(&st, ss->h);
    } else {
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, GM_BLAKE2B_LEN);
        crypto_generichash_update(&st, ss->h, GM_BLAKE2B_LEN);
        crypto_generichash_update(&st, data, len);
        crypto_generichash_final(&st, ss->h, GM_BLAKE2B_LEN);
    }
}

static void mix_key(gm_noise_symmetric_t *ss, const uint8_t *ikm, size_t ikm_len)
{
    uint8_t ck[GM_NOISE_MAX_HASH_LEN], k[GM_NOISE_MAX_HASH_LEN];

    noise_hkdf(ss, ikm, ikm_len, ck, k, NULL);
    memcpy(ss->ck, ck, sizeof ck);
    cipher_init_key(&ss->cs, k); /* truncated to 32 bytes when HASHLEN is 64 */
    sodium_memzero(ck, sizeof ck);
    sodium_memzero(k, sizeof k);
}

static void mix_key_and_hash(gm_noise_symmetric_t *ss, const uint8_t *ikm, size_t ikm_len)
{
    uint8_t ck[GM_NOISE_MAX_HASH_LEN], th[GM_NOISE_MAX_HASH_LEN], k[GM_NOISE_MAX_HASH_LEN];

    noise_hkdf(ss, ikm, ikm_len, ck, th, k);
    memcpy(ss->ck, ck, sizeof ck);
    mix_hash(ss, th, hash_len(ss->hash));
    cipher_init_key(&ss->cs, k);
    sodium_memzero(ck, sizeof ck);
    sodium_memzero(th, sizeof th);
    sodium_memzero(k, sizeof k);
}

static int encrypt_and_hash(gm_noise_symmetric_t *ss, const uint8_t *pt, size_t pt_len,
                            uint8_t *out, size_t out_cap, size_t *out_len)
{
    int err = gm_noise_encrypt(&ss->cs, ss->h, hash_len(ss->hash), pt, pt_len, out, out_cap,
                               out_len);
    if (err == 0) {
        mix_hash(ss, out, *out_len);
    }
    return err;
}

/* ct and out must not overlap: h is mixed with the ciphertext afterwards. */
static int decrypt_and_hash(gm_noise_symmetric_t *ss, const uint8_t *ct, size_t ct_len,
                            uint8_t *out, size_t out_cap, size_t *out_len)
{
    int err = gm_noise_decrypt(&ss->cs, ss->h, hash_len(ss->hash), ct, ct_len, out, out_cap,
                               out_len);
    if (err == 0) {
        mix_hash(ss, ct, ct_len);
    }
    return err;
}

static void initialize_symmetric(gm_noise_symmetric_t *ss, gm_noise_hash_t hash,
                                 const char *name)
{
    size_t len = strlen(name);
    size_t hl = hash_len(hash);

    memset(ss, 0, sizeof *ss);
    ss->hash = hash;
    if (len <= hl) {
        memcpy(ss->h, name, len); /* padded with zero bytes */
    } else if (hash == GM_NOISE_HASH_SHA256) {
        crypto_hash_sha256(ss->h, (const uint8_t *)name, len);
    } else {
        crypto_generichash(ss->h, GM_BLAKE2B_LEN, (const uint8_t *)name, len, NULL, 0);
    }
    memcpy(ss->ck, ss->h, hl);
}

/* ---- HandshakeState (spec 5.3) ---- */

static void default_rng(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    randombytes_buf(buf, len);
}

void gm_noise_handshake_init(gm_noise_handshake_t *hs, const gm_noise_protocol_t *proto,
                             bool initiator, const uint8_t *prologue, size_t prologue_len,
                             gm_noise_rng_fn rng, void *rng_ctx)
{
    memset(hs, 0, sizeof *hs);
    hs->proto = *proto;
    hs->initiator = initiator;
    hs->rng = rng != NULL ? rng : default_rng;
    hs->rng_ctx = rng_ctx;
    initialize_symmetric(&hs->ss, proto->hash, proto->name);
    mix_hash(&hs->ss, prologue, prologue_len);
}

static int keypair_from_secret(uint8_t pk[GM_NOISE_DH_LEN], const uint8_t sk[GM_NOISE_DH_LEN])
{
    return crypto_scalarmult_base(pk, sk) == 0 ? 0 : GM_EDH;
}

int gm_noise_handshake_set_static(gm_noise_handshake_t *hs, const uint8_t sk[GM_NOISE_DH_LEN])
{
    if (keypair_from_secret(hs->s_pk, sk) != 0) {
        return GM_EDH;
    }
    memcpy(hs->s_sk, sk, GM_NOISE_DH_LEN);
    hs->keys |= KEY_S;
    return 0;
}

void gm_noise_handshake_set_remote_static(gm_noise_handshake_t *hs,
                                          const uint8_t pk[GM_NOISE_DH_LEN])
{
    memcpy(hs->rs, pk, GM_NOISE_DH_LEN);
    hs->keys |= KEY_RS;
}

int gm_noise_handshake_set_ephemeral(gm_noise_handshake_t *hs, const uint8_t sk[GM_NOISE_DH_LEN])
{
    if (keypair_from_secret(hs->e_pk, sk) != 0) {
        return GM_EDH;
    }
    memcpy(hs->e_sk, sk, GM_NOISE_DH_LEN);
    hs->keys |= KEY_E;
    return 0;
}

int gm_noise_handshake_set_psks(gm_noise_handshake_t *hs, const uint8_t (*psks)[GM_NOISE_PSK_LEN],
                                size_t count)
{
    if (count > GM_NOISE_MAX_PSKS) {
        return GM_ELIMIT; /* a hand-built protocol must not overrun hs->psks */
    }
    if (count != hs->proto.n_psks) {
        return GM_EPROTO;
    }
    memcpy(hs->psks, psks, count * GM_NOISE_PSK_LEN);
    hs->keys |= KEY_PSK;
    return 0;
}

/* Does this side send its static key in some message of the pattern? */
static bool sends_static(const gm_noise_handshake_t *hs)
{
    for (size_t m = hs->initiator ? 0 : 1; m < hs->proto.n_messages; m += 2) {
        for (size_t t = 0; t < GM_NOISE_MAX_TOKENS && hs->proto.tokens[m][t] != T_END; t++) {
            if (hs->proto.tokens[m][t] == T_S) {
                return true;
            }
        }
    }
    return false;
}

int gm_noise_handshake_start(gm_noise_handshake_t *hs)
{
    uint8_t my_pre = hs->initiator ? hs->proto.pre_init : hs->proto.pre_resp;
    uint8_t peer_pre = hs->initiator ? hs->proto.pre_resp : hs->proto.pre_init;
    bool need_s = (my_pre & GM_NOISE_PRE_S) || sends_static(hs);

    if ((hs->keys & KEY_STARTED) || (need_s && !(hs->keys & KEY_S)) ||
        ((peer_pre & GM_NOISE_PRE_S) && !(hs->keys & KEY_RS)) ||
        (hs->proto.n_psks > 0 && !(hs->keys & KEY_PSK))) {
        hs->failed = true;
        return GM_ESTATE;
    }
    /* Pre-messages: the initiator's keys first, then the responder's. */
    if (hs->proto.pre_init & GM_NOISE_PRE_S) {
        mix_hash(&hs->ss, hs->initiator ? hs->s_pk : hs->rs, GM_NOISE_DH_LEN);
    }
    if (hs->proto.pre_resp & GM_NOISE_PRE_S) {
        mix_hash(&hs->ss, hs->initiator ? hs->rs : hs->s_pk, GM_NOISE_DH_LEN);
    }
    hs->keys |= KEY_STARTED;
    return 0;
}

bool gm_noise_handshake_is_done(const gm_noise_handshake_t *hs)
{
    return !hs->failed && hs->msg_index >= hs->proto.n_messages;
}

bool gm_noise_handshake_is_my_turn(const gm_noise_handshake_t *hs)
{
    return !hs->failed && (hs->keys & KEY_STARTED) && !gm_noise_handshake_is_done(hs) &&
           ((hs->msg_index % 2 == 0) == hs->initiator);
}

/* Performs a DH token; the keys it needs were checked at start or received. */
static int mix_dh(gm_noise_handshake_t *hs, uint8_t token)
{
    uint8_t dh[GM_NOISE_DH_LEN];
    const uint8_t *sk, *pk;
    bool local_e = (token == T_EE) || (token == T_ES && hs->initiator) ||
                   (token == T_SE && !hs->initiator);
    bool remote_e = (token == T_EE) || (token == T_ES && !hs->initiator) ||
                    (token == T_SE && hs->initiator);
    uint8_t need = (local_e ? KEY_E : KEY_S) | (remote_e ? KEY_RE : KEY_RS);
    int err = 0;

    if ((hs->keys & need) != need) {
        return GM_ESTATE;
    }
    sk = local_e ? hs->e_sk : hs->s_sk;
    pk = remote_e ? hs->re : hs->rs;
    if (crypto_scalarmult(dh, sk, pk) != 0) {
        err = GM_EDH; /* all-zero output: a low-order public key */
    } else {
        mix_key(&hs->ss, dh, sizeof dh);
    }
    sodium_memzero(dh, sizeof dh);
    return err;
}

static int mix_psk(gm_noise_handshake_t *hs)
{
    if (hs->psk_index >= hs->proto.n_psks || hs->psk_index >= GM_NOISE_MAX_PSKS) {
        return GM_ESTATE;
    }
    mix_key_and_hash(&hs->ss, hs->psks[hs->psk_index++], GM_NOISE_PSK_LEN);
    return 0;
}

static int write_ephemeral(gm_noise_handshake_t *hs, uint8_t *out, size_t cap, size_t *pos)
{
    if (!(hs->keys & KEY_E)) {
        uint8_t sk[GM_NOISE_DH_LEN];
        int err;

        hs->rng(hs->rng_ctx, sk, sizeof sk);
        err = gm_noise_handshake_set_ephemeral(hs, sk);
        sodium_memzero(sk, sizeof sk);
        if (err != 0) {
            return err;
        }
    }
    if (cap - *pos < GM_NOISE_DH_LEN) {
        return GM_ELIMIT;
    }
    memcpy(out + *pos, hs->e_pk, GM_NOISE_DH_LEN);
    *pos += GM_NOISE_DH_LEN;
    mix_hash(&hs->ss, hs->e_pk, GM_NOISE_DH_LEN);
    if (hs->proto.n_psks > 0) {
        mix_key(&hs->ss, hs->e_pk, GM_NOISE_DH_LEN); /* spec 9.2 */
    }
    return 0;
}

static int write_token(gm_noise_handshake_t *hs, uint8_t token, uint8_t *out, size_t cap,
                       size_t *pos)
{
    size_t n;
    int err;

    switch (token) {
    case T_E:
        return write_ephemeral(hs, out, cap, pos);
    case T_S:
        err = encrypt_and_hash(&hs->ss, hs->s_pk, GM_NOISE_DH_LEN, out + *pos, cap - *pos, &n);
        *pos += (err == 0) ? n : 0;
        return err;
    case T_PSK:
        return mix_psk(hs);
    default:
        return mix_dh(hs, token);
    }
}

int gm_noise_handshake_write(gm_noise_handshake_t *hs, const uint8_t *payload,
                             size_t payload_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    const uint8_t *tokens;
    size_t cap = out_cap < GM_NOISE_MAX_MSG_LEN ? out_cap : GM_NOISE_MAX_MSG_LEN;
    size_t pos = 0, n;
    int err = 0;

    if (!gm_noise_handshake_is_my_turn(hs)) {
        return GM_ESTATE;
    }
    tokens = hs->proto.tokens[hs->msg_index];
    for (size_t t = 0; err == 0 && t < GM_NOISE_MAX_TOKENS && tokens[t] != T_END; t++) {
        err = write_token(hs, tokens[t], out, cap, &pos);
    }
    if (err == 0) {
        err = encrypt_and_hash(&hs->ss, payload, payload_len, out + pos, cap - pos, &n);
    }
    if (err != 0) {
        hs->failed = true;
        return err;
    }
    hs->msg_index++;
    *out_len = pos + n;
    return 0;
}

static int read_token(gm_noise_handshake_t *hs, uint8_t token, const uint8_t *msg, size_t len,
                      size_t *pos)
{
    size_t need, n;
    int err;

    switch (token) {
    case T_E:
        if (len - *pos < GM_NOISE_DH_LEN) {
            return GM_EPROTO;
        }
        memcpy(hs->re, msg + *pos, GM_NOISE_DH_LEN);
        hs->keys |= KEY_RE;
        *pos += GM_NOISE_DH_LEN;
        mix_hash(&hs->ss, hs->re, GM_NOISE_DH_LEN);
        if (hs->proto.n_psks > 0) {
            mix_key(&hs->ss, hs->re, GM_NOISE_DH_LEN);
        }
        return 0;
    case T_S:
        need = GM_NOISE_DH_LEN + (hs->ss.cs.has_key ? GM_NOISE_TAG_LEN : 0);
        if (len - *pos < need) {
            return GM_EPROTO;
        }
        err = decrypt_and_hash(&hs->ss, msg + *pos, need, hs->rs, sizeof hs->rs, &n);
        if (err != 0) {
            return err;
        }
        hs->keys |= KEY_RS;
        *pos += need;
        return 0;
    case T_PSK:
        return mix_psk(hs);
    default:
        return mix_dh(hs, token);
    }
}

int gm_noise_handshake_read(gm_noise_handshake_t *hs, const uint8_t *msg, size_t msg_len,
                            uint8_t *payload_out, size_t payload_cap, size_t *payload_len)
{
    const uint8_t *tokens;
    size_t pos = 0;
    int err = 0;

    if (hs->failed || !(hs->keys & KEY_STARTED) || gm_noise_handshake_is_done(hs) ||
        gm_noise_handshake_is_my_turn(hs)) {
        return GM_ESTATE;
    }
    if (msg_len > GM_NOISE_MAX_MSG_LEN) {
        err = GM_EPROTO;
    }
    tokens = hs->proto.tokens[hs->msg_index];
    for (size_t t = 0; err == 0 && t < GM_NOISE_MAX_TOKENS && tokens[t] != T_END; t++) {
        err = read_token(hs, tokens[t], msg, msg_len, &pos);
    }
    if (err == 0) {
        err = decrypt_and_hash(&hs->ss, msg + pos, msg_len - pos, payload_out, payload_cap,
                               payload_len);
    }
    if (err != 0) {
        hs->failed = true;
        return err;
    }
    hs->msg_index++;
    return 0;
}

int gm_noise_handshake_split(gm_noise_handshake_t *hs, gm_noise_cipher_t *send,
                             gm_noise_cipher_t *recv)
{
    static const uint8_t empty[1];
    uint8_t k1[GM_NOISE_MAX_HASH_LEN], k2[GM_NOISE_MAX_HASH_LEN];

    if (!gm_noise_handshake_is_done(hs) || (hs->keys & KEY_SPLIT)) {
        return GM_ESTATE;
    }
    noise_hkdf(&hs->ss, empty, 0, k1, k2, NULL);
    memset(send, 0, sizeof *send);
    memset(recv, 0, sizeof *recv);
    cipher_init_key(hs->initiator ? send : recv, k1);
    cipher_init_key(hs->initiator ? recv : send, k2);
    sodium_memzero(k1, sizeof k1);
    sodium_memzero(k2, sizeof k2);
    /* Only h (channel binding) and the peer's public keys outlive the split. */
    sodium_memzero(hs->ss.ck, sizeof hs->ss.ck);
    gm_noise_cipher_close(&hs->ss.cs);
    sodium_memzero(hs->s_sk, sizeof hs->s_sk);
    sodium_memzero(hs->e_sk, sizeof hs->e_sk);
    sodium_memzero(hs->psks, sizeof hs->psks);
    hs->keys |= KEY_SPLIT;
    return 0;
}

const uint8_t *gm_noise_handshake_hash(const gm_noise_handshake_t *hs, size_t *len)
{
    *len = hash_len(hs->ss.hash);
    return hs->ss.h;
}

const uint8_t *gm_noise_handshake_remote_static(const gm_noise_handshake_t *hs)
{
    return (hs->keys & KEY_RS) ? hs->rs : NULL;
}

void gm_noise_handshake_close(gm_noise_handshake_t *hs)
{
    sodium_memzero(hs, sizeof *hs);
}

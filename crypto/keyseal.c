#include "crypto/keyseal.h"

#include <sodium.h>
#include <string.h>

static const char CTX_KEYFILE[] = "guardmesh/keyfile/1"; /* with its zero byte */

/* AD = context || kind || opslimit || memlimit || salt: the parameters cannot be swapped. */
static void make_ad(uint8_t ad[sizeof CTX_KEYFILE + 4 + 8 + 8 + GM_KEYFILE_SALT_LEN],
                    const gm_keyfile_wire_t *k)
{
    uint8_t *p = ad;

    memcpy(p, CTX_KEYFILE, sizeof CTX_KEYFILE);
    p += sizeof CTX_KEYFILE;
    gm_store_u32_be(p, (uint32_t)k->kind);
    gm_store_u64_be(p + 4, k->opslimit);
    gm_store_u64_be(p + 12, k->memlimit);
    memcpy(p + 20, k->salt, GM_KEYFILE_SALT_LEN);
}

static size_t secret_len_for(gm_key_kind_t kind)
{
    return kind == GM_KEY_ORG_ROOT ? GM_ORG_SECRET_LEN
                                   : (kind == GM_KEY_NODE ? GM_NODE_SECRET_LEN : 0);
}

static int derive_key(uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES],
                      const gm_keyfile_wire_t *k, const char *pass, size_t pass_len)
{
    if (k->opslimit < crypto_pwhash_OPSLIMIT_MIN || k->opslimit > GM_KEYSEAL_OPS_MAX ||
        k->memlimit < crypto_pwhash_MEMLIMIT_MIN || k->memlimit > GM_KEYSEAL_MEM_MAX) {
        return GM_ELIMIT;
    }
    if (crypto_pwhash(key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, pass, pass_len, k->salt,
                      k->opslimit, (size_t)k->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        return GM_ENOMEM; /* libsodium's only failure here is the memory allocation */
    }
    return 0;
}

static int seal(gm_keyfile_wire_t *k, const uint8_t *secret, size_t secret_len,
                const char *pass, size_t pass_len)
{
    uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    uint8_t ad[sizeof CTX_KEYFILE + 20 + GM_KEYFILE_SALT_LEN];
    int err;

    k->sealed = true;
    randombytes_buf(k->salt, sizeof k->salt);
    randombytes_buf(k->nonce, sizeof k->nonce); /* random nonces are safe with XChaCha */
    err = derive_key(key, k, pass, pass_len);
    if (err == 0) {
        make_ad(ad, k);
        crypto_aead_xchacha20poly1305_ietf_encrypt(k->ciphertext, NULL, secret, secret_len, ad,
                                                   sizeof ad, NULL, k->nonce, key);
        k->ciphertext_len = secret_len + GM_KEYFILE_TAG_LEN;
    }
    sodium_memzero(key, sizeof key);
    return err;
}

int gm_keyseal_encode(gm_key_kind_t kind, const uint8_t *secret, size_t secret_len,
                      const char *passphrase, size_t passphrase_len, uint64_t opslimit,
                      uint64_t memlimit, uint8_t *out, size_t out_cap, size_t *out_len)
{
    gm_keyfile_wire_t k;
    int err = 0;

    if (secret_len == 0 || secret_len != secret_len_for(kind)) {
        return GM_EPROTO;
    }
    memset(&k, 0, sizeof k);
    k.kind = kind;
    k.opslimit = opslimit;
    k.memlimit = memlimit;
    if (passphrase != NULL) {
        err = seal(&k, secret, secret_len, passphrase, passphrase_len);
    } else {
        memcpy(k.secret, secret, secret_len);
        k.secret_len = secret_len;
    }
    if (err == 0) {
        err = gm_wire_keyfile_encode(&k, out, out_cap, out_len);
    }
    sodium_memzero(&k, sizeof k);
    return err;
}

static int unseal(const gm_keyfile_wire_t *k, const char *pass, size_t pass_len,
                  uint8_t *secret, size_t secret_len)
{
    uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    uint8_t ad[sizeof CTX_KEYFILE + 20 + GM_KEYFILE_SALT_LEN];
    uint8_t plain[GM_KEYFILE_SECRET_MAX];
    int err;

    if (pass == NULL) {
        return GM_EPASS;
    }
    if (k->ciphertext_len != secret_len + GM_KEYFILE_TAG_LEN) {
        return GM_EPROTO;
    }
    err = derive_key(key, k, pass, pass_len);
    if (err == 0) {
        make_ad(ad, k);
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, k->ciphertext,
                                                       k->ciphertext_len, ad, sizeof ad,
                                                       k->nonce, key) != 0) {
            err = GM_EPASS;
        } else {
            memcpy(secret, plain, secret_len);
        }
    }
    sodium_memzero(key, sizeof key);
    sodium_memzero(plain, sizeof plain);
    return err;
}

int gm_keyseal_decode(const uint8_t *buf, size_t len, gm_key_kind_t kind, const char *passphrase,
                      size_t passphrase_len, uint8_t *secret, size_t secret_len)
{
    gm_keyfile_wire_t k;
    int err;

    if (secret_len != secret_len_for(kind) || secret_len == 0) {
        return GM_EPROTO;
    }
    err = gm_wire_keyfile_decode(buf, len, &k);
    if (err == 0 && k.kind != kind) {
        err = GM_EPROTO;
    }
    if (err == 0 && k.sealed) {
        err = unseal(&k, passphrase, passphrase_len, secret, secret_len);
    } else if (err == 0) {
        if (k.secret_len != secret_len) {
            err = GM_EPROTO;
        } else {
            memcpy(secret, k.secret, secret_len);
        }
    }
    sodium_memzero(&k, sizeof k);
    return err;
}

int gm_keyseal_is_sealed(const uint8_t *buf, size_t len)
{
    gm_keyfile_wire_t k;
    int err = gm_wire_keyfile_decode(buf, len, &k);
    int sealed;

    if (err != 0) {
        return err;
    }
    sealed = k.sealed ? 1 : 0;
    sodium_memzero(&k, sizeof k);
    return sealed;
}

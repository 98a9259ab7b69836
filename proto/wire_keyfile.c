#include "proto/wire_keyfile.h"

#include <sodium.h>
#include <string.h>

#include "keyfile.pb-c.h"

#define KEYFILE_VERSION 1

int gm_wire_keyfile_encode(const gm_keyfile_wire_t *k, uint8_t *out, size_t cap, size_t *out_len)
{
    Gmwire__KeyFile m = GMWIRE__KEY_FILE__INIT;
    Gmwire__SealedSecret s = GMWIRE__SEALED_SECRET__INIT;
    size_t len;

    m.version = KEYFILE_VERSION;
    m.kind = (Gmwire__KeyKind)k->kind;
    if (k->sealed) {
        s.opslimit = k->opslimit;
        s.memlimit = k->memlimit;
        s.salt.data = (uint8_t *)k->salt;
        s.salt.len = sizeof k->salt;
        s.nonce.data = (uint8_t *)k->nonce;
        s.nonce.len = sizeof k->nonce;
        s.ciphertext.data = (uint8_t *)k->ciphertext;
        s.ciphertext.len = k->ciphertext_len;
        m.sealed = &s;
    } else {
        m.secret.data = (uint8_t *)k->secret;
        m.secret.len = k->secret_len;
    }
    len = gmwire__key_file__get_packed_size(&m);
    if (len > cap) {
        return GM_ELIMIT;
    }
    *out_len = gmwire__key_file__pack(&m, out);
    return 0;
}

static bool take_sealed(gm_keyfile_wire_t *k, const Gmwire__SealedSecret *s)
{
    if (s->salt.len != GM_KEYFILE_SALT_LEN || s->nonce.len != GM_KEYFILE_NONCE_LEN ||
        s->ciphertext.len <= GM_KEYFILE_TAG_LEN || s->ciphertext.len > sizeof k->ciphertext) {
        return false;
    }
    k->sealed = true;
    k->opslimit = s->opslimit;
    k->memlimit = s->memlimit;
    memcpy(k->salt, s->salt.data, GM_KEYFILE_SALT_LEN);
    memcpy(k->nonce, s->nonce.data, GM_KEYFILE_NONCE_LEN);
    memcpy(k->ciphertext, s->ciphertext.data, s->ciphertext.len);
    k->ciphertext_len = s->ciphertext.len;
    return true;
}

int gm_wire_keyfile_decode(const uint8_t *buf, size_t len, gm_keyfile_wire_t *out)
{
    Gmwire__KeyFile *m;
    gm_keyfile_wire_t k;
    bool ok;

    if (len > GM_KEYFILE_MAX_LEN) {
        return GM_EPROTO;
    }
    m = gmwire__key_file__unpack(NULL, len, buf);
    if (m == NULL) {
        return GM_EPROTO;
    }
    memset(&k, 0, sizeof k);
    k.kind = (gm_key_kind_t)m->kind;
    ok = m->version == KEYFILE_VERSION &&
         (m->kind == GMWIRE__KEY_KIND__KEY_KIND_ORG_ROOT ||
          m->kind == GMWIRE__KEY_KIND__KEY_KIND_NODE) &&
         ((m->sealed != NULL) != (m->secret.len > 0));
    if (ok && m->sealed != NULL) {
        ok = take_sealed(&k, m->sealed);
    } else if (ok) {
        ok = m->secret.len <= sizeof k.secret;
        if (ok) {
            memcpy(k.secret, m->secret.data, m->secret.len);
            k.secret_len = m->secret.len;
        }
    }
    if (m->secret.len > 0) {
        sodium_memzero(m->secret.data, m->secret.len);
    }
    gmwire__key_file__free_unpacked(m, NULL);
    if (ok) {
        *out = k;
    }
    sodium_memzero(&k, sizeof k);
    return ok ? 0 : GM_EPROTO;
}

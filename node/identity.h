/*
 * The files of CA and node directories: key files, root records,
 * certificates, revocation lists and the trust store. Every failure comes
 * back as an error code plus a one-line reason that names the file.
 *
 *   CA_DIR/org.key  org.cert  issued.ledger  revocations.crl
 *   NODE_DIR/node.key  node.cert  trust/<org id>.cert  revocations/<org id>.crl
 */
#ifndef GM_IDENTITY_H
#define GM_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cert.h"
#include "crypto/keys.h"
#include "crypto/keyseal.h"

#define GM_FILE_ORG_KEY "org.key"
#define GM_FILE_ORG_CERT "org.cert"
#define GM_FILE_CA_LEDGER "issued.ledger"
#define GM_FILE_CA_CRL "revocations.crl"
#define GM_FILE_NODE_KEY "node.key"
#define GM_FILE_NODE_CERT "node.cert"
#define GM_DIR_TRUST "trust"
#define GM_DIR_CRLS "revocations"
#define GM_FILE_CONTROL_SOCKET "control.sock"

#define GM_PASSPHRASE_MAX 1024
#define GM_PATH_MAX 4096

/* A reason for the user: "path: what is wrong". */
typedef struct {
    char msg[GM_PATH_MAX + 256];
} gm_why_t;

void gm_why_set(gm_why_t *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads a passphrase file: its first line, without the newline; an empty one is refused. */
GM_MUST_CHECK int gm_passphrase_read(const char *path, char out[GM_PASSPHRASE_MAX + 1],
                                     size_t *len, gm_why_t *why);

/* Loads a key file (plain or sealed; pass may be NULL). */
GM_MUST_CHECK int gm_key_load(const char *path, gm_key_kind_t kind, const char *pass,
                              size_t pass_len, uint8_t *secret, size_t secret_len,
                              gm_why_t *why);

/* Writes a key file with mode 0600 (sealed when pass is not NULL). Refuses to replace one unless overwrite. */
GM_MUST_CHECK int gm_key_save(const char *path, gm_key_kind_t kind, const uint8_t *secret,
                              size_t secret_len, const char *pass, size_t pass_len,
                              bool overwrite, gm_why_t *why);

/* Writes a public file (mode 0644) atomically; exclusive refuses an existing one. */
GM_MUST_CHECK int gm_blob_save(const char *path, const uint8_t *data, size_t len, bool exclusive,
                               gm_why_t *why);

GM_MUST_CHECK int gm_root_load(const char *path, gm_root_t *out, gm_why_t *why);
GM_MUST_CHECK int gm_cert_load(const char *path, gm_cert_t *out, gm_why_t *why);
/*
 * Loads a revocation list signed by one of t's roots; the signature is checked
 * before the list is parsed (gm_trust_open_crl). GM_ENOENT (organisation not
 * in t), GM_EAUTH (bad signature), GM_EPROTO, or a read error; *why says which.
 */
GM_MUST_CHECK int gm_crl_load(const char *path, const gm_trust_t *t, gm_crl_t *out,
                              gm_why_t *why);

/*
 * Fills t from NODE_DIR/trust/ (every *.cert) and NODE_DIR/revocations/
 * (every *.crl). A file that does not load, or a list no trusted root
 * signed, is an error naming the file.
 */
GM_MUST_CHECK int gm_trust_load_dir(const char *node_dir, gm_trust_t *t, gm_why_t *why);

/* NODE_DIR/trust/<org id hex>.cert for a root. */
GM_MUST_CHECK int gm_trust_root_path(const char *node_dir, const gm_root_t *root, char *out,
                                     size_t cap);

#endif

#include "node/identity.h"

#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/fileio.h"

void gm_why_set(gm_why_t *why, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why->msg, sizeof why->msg, fmt, ap);
    va_end(ap);
}

/* Reads path (at most max bytes), naming it in *why on failure. */
static int load_file(const char *path, size_t max, uint8_t **buf, size_t *len, gm_why_t *why)
{
    int err = gm_file_read(path, max, buf, len);

    if (err == GM_ELIMIT) {
        gm_why_set(why, "%s: file too large (over %zu bytes): not a Guardmesh file", path, max);
    } else if (err != 0) {
        gm_why_set(why, "%s: cannot read: %s", path, gm_strerror(err));
    }
    return err;
}

int gm_passphrase_read(const char *path, char out[GM_PASSPHRASE_MAX + 1], size_t *len,
                       gm_why_t *why)
{
    uint8_t *buf;
    size_t n;
    int err = load_file(path, GM_PASSPHRASE_MAX + 2, &buf, &n, why);

    if (err != 0) {
        return err;
    }
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n' || buf[i] == '\r') {
            n = i; /* the first line only */
        }
    }
    if (n == 0 || n > GM_PASSPHRASE_MAX) {
        gm_why_set(why, "%s: passphrase file is empty or longer than %d bytes", path,
                   GM_PASSPHRASE_MAX);
        err = GM_EPASS;
    } else {
        memcpy(out, buf, n);
        out[n] = 0;
        *len = n;
    }
    sodium_memzero(buf, n);
    free(buf);
    return err;
}

int gm_key_load(const char *path, gm_key_kind_t kind, const char *pass, size_t pass_len,
                uint8_t *secret, size_t secret_len, gm_why_t *why)
{
    uint8_t *buf;
    size_t len;
    int err = load_file(path, GM_KEYFILE_MAX_LEN, &buf, &len, why);

    if (err != 0) {
        return err;
    }
    err = gm_keyseal_decode(buf, len, kind, pass, pass_len, secret, secret_len);
    if (err == GM_EPASS && pass == NULL) {
        gm_why_set(why, "%s: key file is sealed: give its passphrase with --passphrase-file",
                   path);
    } else if (err == GM_EPASS) {
        gm_why_set(why, "%s: wrong passphrase (or the key file was altered)", path);
    } else if (err == GM_ELIMIT) {
        gm_why_set(why, "%s: key file asks for an excessive Argon2id cost: refused", path);
    } else if (err != 0) {
        gm_why_set(why, "%s: not a valid %s key file (truncated or corrupted)", path,
                   kind == GM_KEY_NODE ? "node" : "organisation");
    }
    sodium_memzero(buf, len);
    free(buf);
    return err;
}

int gm_key_save(const char *path, gm_key_kind_t kind, const uint8_t *secret, size_t secret_len,
                const char *pass, size_t pass_len, bool overwrite, gm_why_t *why)
{
    uint8_t buf[GM_KEYFILE_MAX_LEN];
    size_t len;
    int err = gm_keyseal_encode(kind, secret, secret_len, pass, pass_len, GM_KEYSEAL_OPS_DEFAULT,
                                GM_KEYSEAL_MEM_DEFAULT, buf, sizeof buf, &len);

    if (err != 0) {
        gm_why_set(why, "%s: cannot seal key: %s", path, gm_strerror(err));
    } else {
        err = gm_file_write_atomic(path, buf, len, 0600, !overwrite);
        if (err == GM_EEXIST) {
            gm_why_set(why, "%s: a key already exists: refusing to overwrite it (use --force)",
                       path);
        } else if (err != 0) {
            gm_why_set(why, "%s: cannot write: %s", path, gm_strerror(err));
        }
    }
    sodium_memzero(buf, sizeof buf);
    return err;
}

int gm_blob_save(const char *path, const uint8_t *data, size_t len, bool exclusive, gm_why_t *why)
{
    int err = gm_file_write_atomic(path, data, len, 0644, exclusive);

    if (err == GM_EEXIST) {
        gm_why_set(why, "%s: already exists: refusing to overwrite it (use --force)", path);
    } else if (err != 0) {
        gm_why_set(why, "%s: cannot write: %s", path, gm_strerror(err));
    }
    return err;
}

int gm_root_load(const char *path, gm_root_t *out, gm_why_t *why)
{
    uint8_t *buf;
    size_t len;
    int err = load_file(path, GM_CERT_MAX_LEN, &buf, &len, why);

    if (err != 0) {
        return err;
    }
    err = gm_root_decode(buf, len, out);
    if (err == GM_EAUTH) {
        gm_why_set(why, "%s: organisation certificate has a bad signature (tampered)", path);
    } else if (err != 0) {
        gm_why_set(why, "%s: not a valid organisation certificate (truncated or corrupted)",
                   path);
    }
    free(buf);
    return err;
}

int gm_cert_load(const char *path, gm_cert_t *out, gm_why_t *why)
{
    uint8_t *buf;
    size_t len;
    int err = load_file(path, GM_CERT_MAX_LEN, &buf, &len, why);

    if (err != 0) {
        return err;
    }
    err = gm_cert_decode(buf, len, out);
    if (err != 0) {
        gm_why_set(why, "%s: not a valid node certificate (truncated or corrupted)", path);
    }
    free(buf);
    return err;
}

int gm_crl_load(const char *path, const gm_trust_t *t, gm_crl_t *out, gm_why_t *why)
{
    uint8_t *buf;
    size_t len;
    int err = load_file(path, GM_CRL_MAX_LEN + 1024, &buf, &len, why);

    if (err != 0) {
        return err;
    }
    err = gm_trust_open_crl(t, buf, len, out);
    if (err == GM_ENOENT) {
        gm_why_set(why, "%s: revocation list of an organisation this node does not trust", path);
    } else if (err == GM_EAUTH) {
        gm_why_set(why, "%s: revocation list has a bad signature (tampered)", path);
    } else if (err != 0) {
        gm_why_set(why, "%s: not a valid revocation list (truncated or corrupted)", path);
    }
    free(buf);
    return err;
}

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);

    return n > s && strcmp(name + n - s, suffix) == 0;
}

static int add_root_file(gm_trust_t *t, const char *path, gm_why_t *why)
{
    gm_root_t root;
    int err = gm_root_load(path, &root, why);

    if (err == 0) {
        err = gm_trust_add_root(t, &root);
        if (err == GM_EEXIST) {
            err = 0; /* the same organisation pinned twice is harmless */
        } else if (err == GM_ECONFLICT) {
            gm_why_set(why, "%s: organisation name %s is already used by another trusted "
                            "organisation: refused",
                       path, root.body.org_name);
        } else if (err != 0) {
            gm_why_set(why, "%s: trust store full (%d organisations)", path, GM_TRUST_MAX_ORGS);
        }
    }
    return err;
}

static int add_crl_file(gm_trust_t *t, const char *path, gm_why_t *why)
{
    gm_crl_t crl;
    int err = gm_crl_load(path, t, &crl, why); /* verified against t before it is parsed */

    if (err != 0) {
        return err;
    }
    err = gm_trust_add_crl(t, &crl);
    if (err == GM_EREPLAY) {
        err = 0; /* an older list beside a newer one: the newer stands */
    } else if (err != 0) {
        gm_why_set(why, "%s: revocation list not accepted: %s", path, gm_strerror(err));
    }
    gm_crl_free(&crl);
    return err;
}

/* Calls add() for every file in dir/sub ending in suffix. A missing folder is empty. */
static int load_each(gm_trust_t *t, const char *dir, const char *sub, const char *suffix,
                     int (*add)(gm_trust_t *, const char *, gm_why_t *), gm_why_t *why)
{
    char folder[GM_PATH_MAX], path[GM_PATH_MAX];
    struct dirent *e;
    DIR *d;
    int err = 0;

    if (gm_path_join(folder, sizeof folder, dir, sub) != 0) {
        gm_why_set(why, "%s: path too long", dir);
        return GM_ELIMIT;
    }
    d = opendir(folder);
    if (d == NULL) {
        if (errno == ENOENT) {
            return 0;
        }
        gm_why_set(why, "%s: cannot read: %s", folder, strerror(errno));
        return -errno;
    }
    while (err == 0 && (e = readdir(d)) != NULL) {
        if (!has_suffix(e->d_name, suffix)) {
            continue;
        }
        if (gm_path_join(path, sizeof path, folder, e->d_name) != 0) {
            gm_why_set(why, "%s: path too long", folder);
            err = GM_ELIMIT;
        } else {
            err = add(t, path, why);
        }
    }
    closedir(d);
    return err;
}

int gm_trust_load_dir(const char *node_dir, gm_trust_t *t, gm_why_t *why)
{
    int err = load_each(t, node_dir, GM_DIR_TRUST, ".cert", add_root_file, why);

    if (err == 0) {
        err = load_each(t, node_dir, GM_DIR_CRLS, ".crl", add_crl_file, why);
    }
    return err;
}

int gm_trust_root_path(const char *node_dir, const gm_root_t *root, char *out, size_t cap)
{
    char hex[2 * GM_ID_LEN + 1];
    int n;

    sodium_bin2hex(hex, sizeof hex, root->body.org_id, GM_ID_LEN);
    n = snprintf(out, cap, "%s/%s/%s.cert", node_dir, GM_DIR_TRUST, hex);
    return (n < 0 || (size_t)n >= cap) ? GM_ELIMIT : 0;
}

/* guardmesh ca: the organisation's certificate authority. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node/fileio.h"
#include "tools/cli.h"
#include "tools/util.h"

#define MAX_CERT_ARGS 16
#define DEFAULT_DAYS 30
#define MAX_DAYS 365
#define CRL_REFRESH_DAYS 7
#define DAY 86400u

enum { O_CA = 1, O_DIR, O_ORG, O_CALLSIGN, O_ROLE, O_DAYS, O_CERT, O_ORG_CERT, O_CRL, O_PASS,
       O_NODE_PASS, O_VALID_FROM, O_AT, O_FORCE, O_JSON, O_HELP };

#define BIT(o) (1u << (o))

struct ca_opts {
    const char *ca_dir, *dir, *org, *callsign, *role, *org_cert, *crl;
    const char *pass_file, *node_pass_file, *valid_from, *at;
    const char *certs[MAX_CERT_ARGS];
    int n_certs;
    long days;
    bool force, json;
};

/* A passphrase read from a file; wiped by pass_wipe(). */
struct pass {
    char buf[GM_PASSPHRASE_MAX + 1];
    size_t len;
    bool set;
};

struct command {
    const char *name;
    unsigned allowed; /* BIT(O_*) of the options it takes */
    const char *help;
    int (*run)(const struct ca_opts *o);
};

static const struct option long_opts[] = {
    {"ca", required_argument, NULL, O_CA},
    {"dir", required_argument, NULL, O_DIR},
    {"org", required_argument, NULL, O_ORG},
    {"callsign", required_argument, NULL, O_CALLSIGN},
    {"role", required_argument, NULL, O_ROLE},
    {"days", required_argument, NULL, O_DAYS},
    {"cert", required_argument, NULL, O_CERT},
    {"org-cert", required_argument, NULL, O_ORG_CERT},
    {"crl", required_argument, NULL, O_CRL},
    {"passphrase-file", required_argument, NULL, O_PASS},
    {"node-passphrase-file", required_argument, NULL, O_NODE_PASS},
    {"valid-from", required_argument, NULL, O_VALID_FROM},
    {"at", required_argument, NULL, O_AT},
    {"force", no_argument, NULL, O_FORCE},
    {"json", no_argument, NULL, O_JSON},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

static uint64_t now_seconds(void)
{
    return (uint64_t)time(NULL);
}

static void pass_wipe(struct pass *p)
{
    sodium_memzero(p, sizeof *p);
}

/* Reads --passphrase-file style options; a missing option leaves p unset. */
static int pass_load(const char *file, struct pass *p)
{
    gm_why_t why;

    p->set = false;
    if (file == NULL) {
        return 0;
    }
    if (gm_passphrase_read(file, p->buf, &p->len, &why) != 0) {
        return gm_cli_fail("%s", why.msg);
    }
    p->set = true;
    return 0;
}

static const char *pass_ptr(const struct pass *p)
{
    return p->set ? p->buf : NULL;
}

static void id_hex(char out[2 * GM_ID_LEN + 1], const uint8_t id[GM_ID_LEN])
{
    gm_hex_encode(out, id, GM_ID_LEN);
}

/* ---- CA state: root, key, ledger ---- */

static int ca_path(char *out, const char *ca_dir, const char *name)
{
    if (gm_path_join(out, GM_PATH_MAX, ca_dir, name) != 0) {
        return gm_cli_fail("%s: path too long", ca_dir);
    }
    return 0;
}

/* Loads the CA's root record and seed, and checks that they belong together. */
static int ca_load(const char *ca_dir, const char *pass_file, gm_root_t *root,
                   uint8_t seed[GM_SEED_LEN])
{
    char path[GM_PATH_MAX];
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    struct pass pass;
    gm_why_t why;
    int rc;

    if (ca_path(path, ca_dir, GM_FILE_ORG_CERT) != 0 || pass_load(pass_file, &pass) != 0) {
        return GM_EXIT_FAIL;
    }
    if (gm_root_load(path, root, &why) != 0) {
        pass_wipe(&pass);
        return gm_cli_fail("%s", why.msg);
    }
    rc = ca_path(path, ca_dir, GM_FILE_ORG_KEY);
    if (rc == 0 && gm_key_load(path, GM_KEY_ORG_ROOT, pass_ptr(&pass), pass.len, seed,
                               GM_SEED_LEN, &why) != 0) {
        rc = gm_cli_fail("%s", why.msg);
    }
    pass_wipe(&pass);
    if (rc == 0) {
        crypto_sign_seed_keypair(pk, sk, seed);
        sodium_memzero(sk, sizeof sk);
        if (memcmp(pk, root->body.root_pk, sizeof pk) != 0) {
            rc = gm_cli_fail("%s: key does not belong to %s/%s", path, ca_dir, GM_FILE_ORG_CERT);
        }
    }
    if (rc != 0) {
        sodium_memzero(seed, GM_SEED_LEN);
    }
    return rc;
}

struct ledger {
    gm_cert_t *certs;
    size_t n;
    gm_crl_body_t revoked; /* highest list sequence signed, every entry revoked */
};

static void ledger_free(struct ledger *l)
{
    free(l->certs);
    l->certs = NULL;
    l->n = 0;
    gm_crl_body_free(&l->revoked);
}

static int ledger_load(const char *ca_dir, struct ledger *l)
{
    char path[GM_PATH_MAX];
    uint8_t *buf = NULL;
    size_t len, n = 0;
    gm_blob_t *items = NULL;
    int err;

    memset(l, 0, sizeof *l);
    if (ca_path(path, ca_dir, GM_FILE_CA_LEDGER) != 0) {
        return GM_EXIT_FAIL;
    }
    err = gm_file_read(path, GM_LEDGER_MAX_LEN, &buf, &len);
    if (err != 0) {
        return gm_cli_fail("%s: cannot read the CA ledger: %s", path, gm_strerror(err));
    }
    err = gm_wire_ledger_decode(buf, len, &items, &n, &l->revoked);
    free(buf);
    l->certs = err == 0 ? calloc(n + 1, sizeof *l->certs) : NULL;
    for (size_t i = 0; l->certs != NULL && i < n && err == 0; i++) {
        err = gm_cert_decode(items[i].data, items[i].len, &l->certs[i]);
    }
    if (err == 0 && l->certs == NULL) {
        err = GM_ENOMEM;
    }
    gm_blob_list_free(items, n);
    if (err != 0) {
        ledger_free(l);
        return gm_cli_fail("%s: CA ledger is corrupted: %s", path, gm_strerror(err));
    }
    l->n = n;
    return 0;
}

/* Writes the ledger with one more certificate at the end. */
static int ledger_save(const char *ca_dir, const struct ledger *l, const gm_cert_t *extra)
{
    char path[GM_PATH_MAX];
    gm_blob_t *items = calloc(l->n + 2, sizeof *items);
    uint8_t *buf = NULL;
    size_t len, n = 0;
    gm_why_t why;
    int err;

    if (items == NULL || ca_path(path, ca_dir, GM_FILE_CA_LEDGER) != 0) {
        free(items);
        return GM_EXIT_FAIL;
    }
    for (size_t i = 0; i < l->n; i++) {
        items[n++] = (gm_blob_t){(uint8_t *)l->certs[i].encoded, l->certs[i].encoded_len};
    }
    if (extra != NULL) {
        items[n++] = (gm_blob_t){(uint8_t *)extra->encoded, extra->encoded_len};
    }
    err = gm_wire_ledger_encode(items, n, &l->revoked, &buf, &len);
    free(items);
    if (err != 0) {
        return gm_cli_fail("%s: cannot encode the CA ledger: %s", path, gm_strerror(err));
    }
    err = gm_blob_save(path, buf, len, false, &why);
    free(buf);
    return err != 0 ? gm_cli_fail("%s", why.msg) : 0;
}

/* ---- ca init ---- */

static int init_files(const struct ca_opts *o, const uint8_t seed[GM_SEED_LEN],
                      const struct pass *pass)
{
    char path[GM_PATH_MAX];
    gm_root_t root;
    struct ledger empty;
    gm_why_t why;
    int err = gm_root_create(seed, o->org, now_seconds(), &root);

    memset(&empty, 0, sizeof empty);
    if (err != 0) {
        return gm_cli_fail("cannot create the organisation: %s", gm_strerror(err));
    }
    if (ca_path(path, o->dir, GM_FILE_ORG_KEY) != 0 ||
        gm_key_save(path, GM_KEY_ORG_ROOT, seed, GM_SEED_LEN, pass_ptr(pass), pass->len,
                    o->force, &why) != 0) {
        return gm_cli_fail("%s", why.msg);
    }
    if (ca_path(path, o->dir, GM_FILE_ORG_CERT) != 0 ||
        gm_blob_save(path, root.encoded, root.encoded_len, false, &why) != 0) {
        return gm_cli_fail("%s", why.msg);
    }
    if (ledger_save(o->dir, &empty, NULL) != 0) {
        return GM_EXIT_FAIL;
    }
    if (ca_path(path, o->dir, GM_FILE_CA_CRL) == 0) {
        unlink(path); /* a replaced CA starts with no revocations */
    }
    char hex[2 * GM_ID_LEN + 1];
    id_hex(hex, root.body.org_id);
    printf("created organisation %s (org id %s) in %s%s\n", o->org, hex, o->dir,
           pass->set ? ", key sealed with the passphrase" : "");
    return 0;
}

static int cmd_init(const struct ca_opts *o)
{
    char path[GM_PATH_MAX];
    uint8_t seed[GM_SEED_LEN];
    struct pass pass;
    int rc, err;

    if (!gm_name_is_valid(o->org)) {
        return gm_cli_fail("--org '%s': use 1 to 32 letters, digits, '.', '_' or '-'", o->org);
    }
    if (ca_path(path, o->dir, GM_FILE_ORG_KEY) != 0) {
        return GM_EXIT_FAIL;
    }
    if (!o->force && access(path, F_OK) == 0) {
        return gm_cli_fail("%s: an organisation key already exists: refusing to overwrite it "
                           "(use --force to replace the whole CA)",
                           path);
    }
    if (pass_load(o->pass_file, &pass) != 0) {
        return GM_EXIT_FAIL;
    }
    err = gm_dir_ensure(o->dir); /* only once nothing else can refuse */
    if (err != 0) {
        pass_wipe(&pass);
        return gm_cli_fail("%s: cannot create directory: %s", o->dir, gm_strerror(err));
    }
    randombytes_buf(seed, sizeof seed);
    rc = init_files(o, seed, &pass);
    sodium_memzero(seed, sizeof seed);
    pass_wipe(&pass);
    return rc;
}

/* ---- ca issue ---- */

/* CA_DIR/revocations.crl, verified before it is parsed, if there is one (*have says). */
static int ca_load_crl(const char *ca_dir, const gm_root_t *root, gm_crl_t *crl, bool *have)
{
    char path[GM_PATH_MAX];
    gm_trust_t *own;
    gm_why_t why;
    int err;

    *have = false;
    if (ca_path(path, ca_dir, GM_FILE_CA_CRL) != 0) {
        return GM_EXIT_FAIL;
    }
    if (access(path, F_OK) != 0) {
        return 0;
    }
    own = malloc(sizeof *own); /* a trust store holding this CA's root only */
    if (own == NULL) {
        return gm_cli_fail("out of memory");
    }
    gm_trust_init(own);
    err = gm_trust_add_root(own, root);
    err = err ? err : gm_crl_load(path, own, crl, &why);
    gm_trust_close(own);
    free(own);
    if (err == GM_ENOENT || err == GM_EAUTH) {
        return gm_cli_fail("%s: revocation list not signed by this CA (tampered)", path);
    }
    if (err != 0) {
        return gm_cli_fail("%s", why.msg);
    }
    *have = true;
    return 0;
}

/* The node's keys: the ones already in NODE_DIR (made on the device), or new ones. */
static int node_keys_obtain(const struct ca_opts *o, const struct pass *pass, gm_node_keys_t *keys,
                            bool *fresh)
{
    char key_path[GM_PATH_MAX], cert_path[GM_PATH_MAX];
    uint8_t secret[GM_NODE_SECRET_LEN];
    gm_why_t why;
    int rc = 0;

    if (gm_path_join(key_path, sizeof key_path, o->dir, GM_FILE_NODE_KEY) != 0 ||
        gm_path_join(cert_path, sizeof cert_path, o->dir, GM_FILE_NODE_CERT) != 0) {
        return gm_cli_fail("%s: path too long", o->dir);
    }
    if (!o->force && access(cert_path, F_OK) == 0) {
        return gm_cli_fail("%s: already holds a node identity: refusing to overwrite it (use "
                           "--force to replace its keys and certificate)",
                           o->dir);
    }
    *fresh = o->force || access(key_path, F_OK) != 0;
    if (*fresh) {
        gm_node_keys_generate(keys);
        return 0;
    }
    if (gm_key_load(key_path, GM_KEY_NODE, pass_ptr(pass), pass->len, secret, sizeof secret,
                    &why) != 0) {
        rc = gm_cli_fail("%s", why.msg);
    } else if (gm_node_keys_from_secret(keys, secret) != 0) {
        rc = gm_cli_fail("%s: key file holds an unusable key", key_path);
    }
    sodium_memzero(secret, sizeof secret);
    return rc;
}

/* True if the ledger's record of revocations names the certificate's serial or node id. */
static bool ledger_revokes(const struct ledger *l, const gm_cert_body_t *b)
{
    for (size_t i = 0; i < l->revoked.n_serials; i++) {
        if (l->revoked.serials[i] == b->serial) {
            return true;
        }
    }
    for (size_t i = 0; i < l->revoked.n_node_ids; i++) {
        if (memcmp(l->revoked.node_ids[i], b->node_id, GM_ID_LEN) == 0) {
            return true;
        }
    }
    return false;
}

/* Refuses a key the CA certified before and a callsign still in use. Sets *serial. */
static int ledger_check(const struct ledger *l, const gm_crl_t *crl,
                        const gm_cert_t *cand, uint64_t *serial)
{
    uint64_t now = now_seconds(), max = 0;

    for (size_t i = 0; i < l->n; i++) {
        const gm_cert_body_t *b = &l->certs[i].body;
        bool live = now <= b->not_after && !ledger_revokes(l, b) &&
                    (crl == NULL || !gm_crl_revokes(crl, b));

        max = b->serial > max ? b->serial : max;
        if (gm_cert_shared_keys(&l->certs[i], cand) != 0) {
            return gm_cli_fail("refused: this CA already certified one of these public keys "
                               "(serial %llu, %s): a key is never certified twice",
                               (unsigned long long)b->serial, b->callsign);
        }
        if (live && strcmp(b->callsign, cand->body.callsign) == 0) {
            return gm_cli_fail("refused: callsign %s@%s is held by serial %llu until it expires "
                               "or is revoked (guardmesh ca revoke)",
                               b->callsign, b->org_name, (unsigned long long)b->serial);
        }
    }
    *serial = max + 1;
    return 0;
}

static void print_issued(const gm_cert_t *c, const char *dir)
{
    char node[2 * GM_ID_LEN + 1], until[32];

    id_hex(node, c->body.node_id);
    gm_cli_format_time(c->body.not_after, until);
    printf("issued %s@%s (%s, serial %llu, node id %s) valid until %s into %s\n",
           c->body.callsign, c->body.org_name, gm_role_name(c->body.role),
           (unsigned long long)c->body.serial, node, until, dir);
}

/* Writes node.key (when new), node.cert and the org's root into NODE_DIR/trust/. */
static int issue_write(const struct ca_opts *o, const gm_root_t *root, const gm_cert_t *c,
                       const gm_node_keys_t *keys, bool fresh, const struct pass *pass)
{
    char path[GM_PATH_MAX], trust[GM_PATH_MAX];
    uint8_t secret[GM_NODE_SECRET_LEN];
    gm_why_t why;
    int err = 0;

    if (fresh) {
        gm_node_keys_to_secret(keys, secret);
        err = gm_path_join(path, sizeof path, o->dir, GM_FILE_NODE_KEY);
        err = err ? err : gm_key_save(path, GM_KEY_NODE, secret, sizeof secret, pass_ptr(pass),
                                      pass->len, o->force, &why);
        sodium_memzero(secret, sizeof secret);
        if (err != 0) {
            return gm_cli_fail("%s", why.msg);
        }
    }
    if (gm_path_join(path, sizeof path, o->dir, GM_FILE_NODE_CERT) != 0 ||
        gm_path_join(trust, sizeof trust, o->dir, GM_DIR_TRUST) != 0 ||
        gm_blob_save(path, c->encoded, c->encoded_len, false, &why) != 0) {
        return gm_cli_fail("%s", why.msg);
    }
    err = gm_dir_ensure(trust);
    if (err != 0) {
        return gm_cli_fail("%s: cannot create directory: %s", trust, gm_strerror(err));
    }
    if (gm_trust_root_path(o->dir, root, path, sizeof path) != 0 ||
        gm_blob_save(path, root->encoded, root->encoded_len, false, &why) != 0) {
        return gm_cli_fail("%s", why.msg);
    }
    return 0;
}

static int issue_template(const struct ca_opts *o, const gm_node_keys_t *keys,
                          gm_cert_body_t *t)
{
    uint64_t from = now_seconds();

    memset(t, 0, sizeof *t);
    if (!gm_name_is_valid(o->callsign)) {
        return gm_cli_fail("--callsign '%s': use 1 to 32 letters, digits, '.', '_' or '-'",
                           o->callsign);
    }
    if (gm_role_parse(o->role, &t->role) != 0) {
        return gm_cli_fail("--role '%s': use handheld, relay, bridge or dispatch", o->role);
    }
    if (o->days < 1 || o->days > MAX_DAYS) {
        return gm_cli_fail("--days %ld: use 1 to %d (short lifetimes are what makes "
                           "revocation work in a partitioned mesh)",
                           o->days, MAX_DAYS);
    }
    if (o->valid_from != NULL && gm_cli_parse_time(o->valid_from, &from) != 0) {
        return gm_cli_fail("--valid-from '%s': use YYYY-MM-DDTHH:MM:SSZ", o->valid_from);
    }
    memcpy(t->callsign, o->callsign, strlen(o->callsign) + 1);
    memcpy(t->sign_pk, keys->sign_pk, GM_KEY_LEN);
    memcpy(t->link_pk, keys->link_pk, GM_KEY_LEN);
    memcpy(t->e2e_pk, keys->e2e_pk, GM_KEY_LEN);
    t->not_before = from;
    t->not_after = from + (uint64_t)o->days * DAY;
    return 0;
}

static int issue_with(const struct ca_opts *o, const gm_root_t *root,
                      const uint8_t seed[GM_SEED_LEN], const gm_node_keys_t *keys, bool fresh,
                      const struct pass *pass)
{
    struct ledger l;
    gm_crl_t crl;
    bool have_crl = false;
    gm_cert_body_t t;
    gm_cert_t cert;
    int rc, err;

    if (issue_template(o, keys, &t) != 0 || ledger_load(o->ca_dir, &l) != 0) {
        return GM_EXIT_FAIL;
    }
    rc = ca_load_crl(o->ca_dir, root, &crl, &have_crl);
    if (rc == 0) {
        err = gm_cert_issue(seed, root, &t, &cert); /* serial 0 for the key check */
        rc = err != 0 ? gm_cli_fail("cannot certify: %s", gm_strerror(err)) : 0;
    }
    rc = rc ? rc : ledger_check(&l, have_crl ? &crl : NULL, &cert, &t.serial);
    if (rc == 0) {
        err = gm_cert_issue(seed, root, &t, &cert);
        rc = err != 0 ? gm_cli_fail("cannot certify: %s", gm_strerror(err)) : 0;
    }
    if (rc == 0 && (err = gm_dir_ensure(o->dir)) != 0) {
        rc = gm_cli_fail("%s: cannot create directory: %s", o->dir, gm_strerror(err));
    }
    /* The ledger before the node's files: a serial or key is never handed out twice, even
     * after a crash; every refusal of the request has happened by now. */
    rc = rc ? rc : ledger_save(o->ca_dir, &l, &cert);
    rc = rc ? rc : issue_write(o, root, &cert, keys, fresh, pass);
    if (rc == 0) {
        print_issued(&cert, o->dir);
    }
    if (have_crl) {
        gm_crl_free(&crl);
    }
    ledger_free(&l);
    return rc;
}

static int cmd_issue(const struct ca_opts *o)
{
    gm_root_t root;
    gm_node_keys_t keys;
    uint8_t seed[GM_SEED_LEN];
    struct pass node_pass;
    bool fresh = false;
    int rc;

    if (ca_load(o->ca_dir, o->pass_file, &root, seed) != 0) {
        return GM_EXIT_FAIL;
    }
    memset(&keys, 0, sizeof keys);
    rc = pass_load(o->node_pass_file, &node_pass);
    rc = rc ? rc : node_keys_obtain(o, &node_pass, &keys, &fresh);
    rc = rc ? rc : issue_with(o, &root, seed, &keys, fresh, &node_pass);
    sodium_memzero(seed, sizeof seed);
    gm_node_keys_wipe(&keys);
    pass_wipe(&node_pass);
    return rc;
}

/* ---- ca revoke ---- */

static int cmp_serial(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

static int cmp_node_id(const void *a, const void *b)
{
    return memcmp(a, b, GM_ID_LEN);
}

/* Sorts n elements of size bytes and drops repeats; returns how many are left. */
static size_t sort_unique(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    uint8_t *p = base;
    size_t kept = 0;

    if (n == 0) {
        return 0;
    }
    qsort(base, n, size, cmp);
    for (size_t i = 1; i < n; i++) {
        if (cmp(p + kept * size, p + i * size) != 0) {
            kept++;
            memmove(p + kept * size, p + i * size, size);
        }
    }
    return kept + 1;
}

/* Appends from's entries to t (which has room for them). */
static void append_entries(gm_crl_body_t *t, const gm_crl_body_t *from)
{
    if (from->n_serials > 0) {
        memcpy(t->serials + t->n_serials, from->serials, from->n_serials * sizeof *t->serials);
        t->n_serials += from->n_serials;
    }
    if (from->n_node_ids > 0) {
        memcpy(t->node_ids + t->n_node_ids, from->node_ids, from->n_node_ids * GM_ID_LEN);
        t->n_node_ids += from->n_node_ids;
    }
}

/*
 * Everything this CA has revoked: the entries kept in the ledger and those of
 * the list on disk (old, may be NULL: either can be lost, or behind after a
 * crash), plus c. t->seq is the higher of the two sequences; the caller
 * raises it before signing. Allocates t's arrays (gm_crl_body_free).
 */
static int revoked_merge(const gm_crl_body_t *kept, const gm_crl_t *old, const gm_cert_body_t *c,
                         gm_crl_body_t *t)
{
    size_t ns = kept->n_serials + (old != NULL ? old->body.n_serials : 0) + 1;
    size_t ni = kept->n_node_ids + (old != NULL ? old->body.n_node_ids : 0) + 1;

    memset(t, 0, sizeof *t);
    t->serials = calloc(ns, sizeof *t->serials);
    t->node_ids = calloc(ni, sizeof *t->node_ids);
    if (t->serials == NULL || t->node_ids == NULL) {
        gm_crl_body_free(t);
        return gm_cli_fail("out of memory");
    }
    append_entries(t, kept);
    t->seq = kept->seq;
    if (old != NULL) {
        append_entries(t, &old->body);
        t->seq = old->body.seq > t->seq ? old->body.seq : t->seq;
    }
    t->serials[t->n_serials++] = c->serial;
    memcpy(t->node_ids[t->n_node_ids++], c->node_id, GM_ID_LEN);
    t->n_serials = sort_unique(t->serials, t->n_serials, sizeof *t->serials, cmp_serial);
    t->n_node_ids = sort_unique(t->node_ids, t->n_node_ids, GM_ID_LEN, cmp_node_id);
    return 0;
}

/* Gives the merged revocations to the ledger (which takes t's arrays) and writes it. */
static int ledger_save_revoked(const struct ca_opts *o, struct ledger *l, gm_crl_body_t *t)
{
    gm_crl_body_free(&l->revoked);
    l->revoked = *t;
    memset(t, 0, sizeof *t);
    memset(l->revoked.org_id, 0, GM_ID_LEN);
    l->revoked.issued_at = l->revoked.next_update = 0;
    return ledger_save(o->ca_dir, l, NULL);
}

/* Signs t (sequence raised by one) and writes the ledger, then CA_DIR/revocations.crl. */
static int revoke_publish(const struct ca_opts *o, const gm_root_t *root,
                          const uint8_t seed[GM_SEED_LEN], struct ledger *l, gm_crl_body_t *t,
                          const gm_cert_body_t *c)
{
    char path[GM_PATH_MAX];
    uint64_t now = now_seconds();
    gm_crl_t crl;
    gm_why_t why;
    int rc, err;

    if (t->seq == UINT64_MAX) {
        return gm_cli_fail("revocation list sequence exhausted");
    }
    t->seq++;
    t->issued_at = now;
    t->next_update = now + CRL_REFRESH_DAYS * DAY;
    err = gm_crl_issue(seed, root, t, &crl);
    if (err != 0) {
        return gm_cli_fail("cannot sign the revocation list: %s", gm_strerror(err));
    }
    /* The ledger first: after a crash it is ahead of the list on disk, never behind. */
    rc = ledger_save_revoked(o, l, t);
    rc = rc ? rc : ca_path(path, o->ca_dir, GM_FILE_CA_CRL);
    if (rc == 0 && gm_blob_save(path, crl.encoded, crl.encoded_len, false, &why) != 0) {
        rc = gm_cli_fail("%s", why.msg);
    }
    if (rc == 0) {
        printf("revoked %s@%s (serial %llu); %s is now at sequence %llu with %zu entries\n"
               "install it on every node: guardmesh ca trust --dir NODE_DIR --crl %s\n",
               c->callsign, c->org_name, (unsigned long long)c->serial, path,
               (unsigned long long)crl.body.seq, crl.body.n_serials, path);
    }
    gm_crl_free(&crl);
    return rc;
}

/*
 * The list is rebuilt from the ledger and the list on disk, so that losing
 * revocations.crl neither restarts its sequence (nodes would refuse every new
 * list as a replay) nor drops an earlier revocation.
 */
static int revoke_with(const struct ca_opts *o, const gm_root_t *root,
                       const uint8_t seed[GM_SEED_LEN], const gm_cert_t *cert)
{
    struct ledger l;
    gm_crl_t old;
    gm_crl_body_t t;
    bool have = false, already;
    int rc;

    memset(&t, 0, sizeof t);
    if (ledger_load(o->ca_dir, &l) != 0) {
        return GM_EXIT_FAIL;
    }
    rc = ca_load_crl(o->ca_dir, root, &old, &have);
    rc = rc ? rc : revoked_merge(&l.revoked, have ? &old : NULL, &cert->body, &t);
    already = rc == 0 && have && gm_crl_revokes(&old, &cert->body);
    if (already) {
        printf("%s@%s (serial %llu) is already revoked (list sequence %llu)\n",
               cert->body.callsign, cert->body.org_name, (unsigned long long)cert->body.serial,
               (unsigned long long)old.body.seq);
        /* A ledger written before it kept revocations learns them from the list. */
        rc = l.revoked.seq < old.body.seq ? ledger_save_revoked(o, &l, &t) : 0;
    } else if (rc == 0) {
        rc = revoke_publish(o, root, seed, &l, &t, &cert->body);
    }
    if (have) {
        gm_crl_free(&old);
    }
    gm_crl_body_free(&t);
    ledger_free(&l);
    return rc;
}

static int cmd_revoke(const struct ca_opts *o)
{
    gm_root_t root;
    gm_cert_t cert;
    gm_trust_t *trust;
    uint8_t seed[GM_SEED_LEN];
    gm_cert_verdict_t v;
    gm_why_t why;
    int rc;

    if (o->n_certs != 1) {
        return gm_cli_fail("ca revoke takes exactly one --cert FILE");
    }
    if (gm_cert_load(o->certs[0], &cert, &why) != 0) {
        return gm_cli_fail("%s", why.msg);
    }
    if (ca_load(o->ca_dir, o->pass_file, &root, seed) != 0) {
        return GM_EXIT_FAIL;
    }
    trust = malloc(sizeof *trust);
    if (trust == NULL) {
        sodium_memzero(seed, sizeof seed);
        return gm_cli_fail("out of memory");
    }
    gm_trust_init(trust);
    rc = gm_trust_add_root(trust, &root);
    v = rc == 0 ? gm_trust_check(trust, &cert, cert.body.not_before, GM_ROLES_ALL)
                : GM_CERT_UNKNOWN_ISSUER;
    if (v == GM_CERT_UNKNOWN_ISSUER || v == GM_CERT_BAD_SIGNATURE || v == GM_CERT_WRONG_ORG) {
        rc = gm_cli_fail("%s: not a certificate of %s (%s)", o->certs[0], root.body.org_name,
                         gm_cert_verdict_str(v));
    } else {
        rc = revoke_with(o, &root, seed, &cert);
    }
    gm_trust_close(trust);
    free(trust);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

/* ---- ca trust ---- */

/* Refuses root when NODE_DIR's trust store cannot take it; *already if it holds it. */
static int trust_org_check(const struct ca_opts *o, gm_trust_t *trust, const gm_root_t *root,
                           bool *already)
{
    char hex[2 * GM_ID_LEN + 1], other[2 * GM_ID_LEN + 1];
    gm_why_t why;
    int err;

    *already = false;
    if (gm_trust_load_dir(o->dir, trust, &why) != 0) {
        return gm_cli_fail("%s", why.msg);
    }
    id_hex(hex, root->body.org_id);
    err = gm_trust_add_root(trust, root);
    if (err == GM_EEXIST) {
        printf("%s already trusts %s (org id %s)\n", o->dir, root->body.org_name, hex);
        *already = true;
        return 0;
    }
    if (err == GM_ECONFLICT) {
        snprintf(other, sizeof other, "?");
        for (size_t i = 0; i < trust->n_roots; i++) {
            if (strcmp(trust->roots[i].body.org_name, root->body.org_name) == 0) {
                id_hex(other, trust->roots[i].body.org_id);
            }
        }
        return gm_cli_fail("%s: organisation name %s is already used by trusted organisation %s; "
                           "refusing to trust a second %s (org id %s)",
                           o->org_cert, root->body.org_name, other, root->body.org_name, hex);
    }
    if (err != 0) {
        return gm_cli_fail("%s: cannot trust another organisation: %s", o->dir, gm_strerror(err));
    }
    return 0;
}

static int trust_org(const struct ca_opts *o)
{
    char path[GM_PATH_MAX], hex[2 * GM_ID_LEN + 1];
    gm_trust_t *trust;
    gm_root_t root;
    gm_why_t why;
    bool already;
    int rc, err;

    if (gm_root_load(o->org_cert, &root, &why) != 0) {
        return gm_cli_fail("%s", why.msg);
    }
    trust = malloc(sizeof *trust);
    if (trust == NULL) {
        return gm_cli_fail("out of memory");
    }
    gm_trust_init(trust);
    rc = trust_org_check(o, trust, &root, &already);
    gm_trust_close(trust);
    free(trust);
    if (rc != 0 || already) {
        return rc;
    }
    if (gm_path_join(path, sizeof path, o->dir, GM_DIR_TRUST) != 0) {
        return gm_cli_fail("%s: path too long", o->dir);
    }
    err = gm_dir_ensure(path);
    if (err != 0) {
        return gm_cli_fail("%s: cannot create directory: %s", path, gm_strerror(err));
    }
    if (gm_trust_root_path(o->dir, &root, path, sizeof path) != 0) {
        return gm_cli_fail("%s: path too long", o->dir);
    }
    if (gm_blob_save(path, root.encoded, root.encoded_len, false, &why) != 0) {
        return gm_cli_fail("%s", why.msg);
    }
    id_hex(hex, root.body.org_id);
    printf("%s now trusts %s (org id %s); confirm this id with that organisation\n", o->dir,
           root.body.org_name, hex);
    return 0;
}

static int install_crl(const struct ca_opts *o, gm_trust_t *trust)
{
    char path[GM_PATH_MAX], hex[2 * GM_ID_LEN + 1];
    const gm_crl_t *held;
    gm_crl_t crl;
    uint8_t org[GM_ID_LEN];
    gm_why_t why;
    uint64_t seq;
    int err;

    /* The list is verified against the node's trust store before it is parsed. */
    if (gm_trust_load_dir(o->dir, trust, &why) != 0 ||
        gm_crl_load(o->crl, trust, &crl, &why) != 0) {
        return gm_cli_fail("%s", why.msg);
    }
    seq = crl.body.seq;
    memcpy(org, crl.body.org_id, GM_ID_LEN);
    id_hex(hex, org);
    err = gm_trust_add_crl(trust, &crl); /* on success the store owns it */
    held = gm_trust_find_crl(trust, org);
    gm_crl_free(&crl);
    if (err == GM_EREPLAY) {
        return gm_cli_fail("%s: sequence %llu is not newer than the installed list (%llu)",
                           o->crl, (unsigned long long)seq, (unsigned long long)held->body.seq);
    }
    if (err != 0 || held == NULL) {
        return gm_cli_fail("%s: revocation list not installed: %s", o->crl, gm_strerror(err));
    }
    if (snprintf(path, sizeof path, "%s/%s", o->dir, GM_DIR_CRLS) >= (int)sizeof path) {
        return gm_cli_fail("%s: path too long", o->dir);
    }
    err = gm_dir_ensure(path);
    if (err != 0) {
        return gm_cli_fail("%s: cannot create directory: %s", path, gm_strerror(err));
    }
    snprintf(path, sizeof path, "%s/%s/%s.crl", o->dir, GM_DIR_CRLS, hex);
    if (gm_blob_save(path, held->encoded, held->encoded_len, false, &why) != 0) {
        return gm_cli_fail("%s", why.msg);
    }
    printf("installed revocation list sequence %llu of organisation %s into %s\n",
           (unsigned long long)seq, hex, path);
    return 0;
}

static int cmd_trust(const struct ca_opts *o)
{
    gm_trust_t *trust;
    int rc;

    if ((o->org_cert == NULL) == (o->crl == NULL)) {
        return gm_cli_fail("ca trust takes one of --org-cert FILE or --crl FILE");
    }
    if (o->org_cert != NULL) {
        return trust_org(o);
    }
    trust = malloc(sizeof *trust);
    if (trust == NULL) {
        return gm_cli_fail("out of memory");
    }
    gm_trust_init(trust);
    rc = install_crl(o, trust);
    gm_trust_close(trust);
    free(trust);
    return rc;
}

/* ---- ca show ---- */

struct shown {
    gm_cert_t cert;
    const char *path;
};

static cJSON *cert_json(const char *path, const gm_cert_t *c, gm_cert_verdict_t v,
                        const char *why)
{
    char hex[2 * GM_KEY_LEN + 1], t[32];
    cJSON *j = cJSON_CreateObject();

    cJSON_AddStringToObject(j, "file", path);
    cJSON_AddStringToObject(j, "type", "certificate");
    cJSON_AddStringToObject(j, "callsign", c->body.callsign);
    cJSON_AddStringToObject(j, "org", c->body.org_name);
    id_hex(hex, c->body.org_id);
    cJSON_AddStringToObject(j, "org_id", hex);
    id_hex(hex, c->body.node_id);
    cJSON_AddStringToObject(j, "node_id", hex);
    cJSON_AddNumberToObject(j, "serial", (double)c->body.serial);
    cJSON_AddStringToObject(j, "role", gm_role_name(c->body.role));
    gm_cli_format_time(c->body.not_before, t);
    cJSON_AddStringToObject(j, "not_before", t);
    gm_cli_format_time(c->body.not_after, t);
    cJSON_AddStringToObject(j, "not_after", t);
    gm_hex_encode(hex, c->body.sign_pk, GM_KEY_LEN);
    cJSON_AddStringToObject(j, "sign_pk", hex);
    gm_hex_encode(hex, c->body.link_pk, GM_KEY_LEN);
    cJSON_AddStringToObject(j, "link_pk", hex);
    gm_hex_encode(hex, c->body.e2e_pk, GM_KEY_LEN);
    cJSON_AddStringToObject(j, "e2e_pk", hex);
    cJSON_AddBoolToObject(j, "acceptable", v == GM_CERT_OK);
    cJSON_AddStringToObject(j, "verdict", why);
    return j;
}

static void cert_print(const char *path, const gm_cert_t *c, const char *why, bool ok)
{
    char hex[2 * GM_KEY_LEN + 1], from[32], until[32];

    gm_cli_format_time(c->body.not_before, from);
    gm_cli_format_time(c->body.not_after, until);
    printf("certificate  %s\n", path);
    printf("  callsign   %s@%s\n", c->body.callsign, c->body.org_name);
    printf("  role       %s\n", gm_role_name(c->body.role));
    id_hex(hex, c->body.node_id);
    printf("  node id    %s\n", hex);
    id_hex(hex, c->body.org_id);
    printf("  org id     %s\n", hex);
    printf("  serial     %llu\n", (unsigned long long)c->body.serial);
    printf("  valid      %s .. %s\n", from, until);
    gm_hex_encode(hex, c->body.sign_pk, GM_KEY_LEN);
    printf("  sign key   %s\n", hex);
    gm_hex_encode(hex, c->body.link_pk, GM_KEY_LEN);
    printf("  link key   %s\n", hex);
    gm_hex_encode(hex, c->body.e2e_pk, GM_KEY_LEN);
    printf("  e2e key    %s\n", hex);
    printf("  verdict    %s%s\n", ok ? "" : "NOT ACCEPTABLE: ", why);
}

static cJSON *root_json(const char *path, const gm_root_t *r)
{
    char hex[2 * GM_KEY_LEN + 1], t[32];
    cJSON *j = cJSON_CreateObject();

    cJSON_AddStringToObject(j, "file", path);
    cJSON_AddStringToObject(j, "type", "organisation");
    cJSON_AddStringToObject(j, "org", r->body.org_name);
    id_hex(hex, r->body.org_id);
    cJSON_AddStringToObject(j, "org_id", hex);
    gm_hex_encode(hex, r->body.root_pk, GM_KEY_LEN);
    cJSON_AddStringToObject(j, "root_pk", hex);
    gm_cli_format_time(r->body.created, t);
    cJSON_AddStringToObject(j, "created", t);
    cJSON_AddBoolToObject(j, "acceptable", true);
    cJSON_AddStringToObject(j, "verdict", "self-signature valid");
    return j;
}

static void root_print(const char *path, const gm_root_t *r)
{
    char hex[2 * GM_KEY_LEN + 1], t[32];

    printf("organisation %s\n", path);
    printf("  org        %s\n", r->body.org_name);
    id_hex(hex, r->body.org_id);
    printf("  org id     %s\n", hex);
    gm_hex_encode(hex, r->body.root_pk, GM_KEY_LEN);
    printf("  root key   %s\n", hex);
    gm_cli_format_time(r->body.created, t);
    printf("  created    %s\n", t);
    printf("  verdict    self-signature valid\n");
}

/* The verdict on a node certificate against the trust store of the folder it sits in. */
static gm_cert_verdict_t judge(const char *path, const gm_cert_t *c, uint64_t at,
                               char *why, size_t why_len)
{
    char copy[GM_PATH_MAX];
    gm_trust_t *trust = malloc(sizeof *trust);
    gm_cert_verdict_t v = GM_CERT_UNKNOWN_ISSUER;
    gm_why_t err;

    snprintf(copy, sizeof copy, "%s", path);
    if (trust == NULL) {
        snprintf(why, why_len, "out of memory");
        return v;
    }
    gm_trust_init(trust);
    if (gm_trust_load_dir(dirname(copy), trust, &err) != 0) {
        snprintf(why, why_len, "trust store unreadable: %s", err.msg);
    } else if (trust->n_roots == 0) {
        snprintf(why, why_len, "no trust store beside it (%s/%s/ is empty)", copy, GM_DIR_TRUST);
    } else {
        v = gm_trust_check(trust, c, at, GM_ROLES_ALL);
        snprintf(why, why_len, "%s", v == GM_CERT_OK ? "acceptable" : gm_cert_verdict_str(v));
    }
    gm_trust_close(trust);
    free(trust);
    return v;
}

/* Shows one file; a node certificate is kept in *out for the clone check. */
static int show_one(const struct ca_opts *o, const char *path, uint64_t at, cJSON *list,
                    struct shown *out, bool *is_cert)
{
    gm_root_t root;
    gm_why_t why;
    char verdict[sizeof(gm_why_t) + 64];
    gm_cert_verdict_t v;

    *is_cert = false;
    if (gm_root_load(path, &root, &why) == 0) {
        o->json ? (void)cJSON_AddItemToArray(list, root_json(path, &root))
                : root_print(path, &root);
        return 0;
    }
    if (gm_cert_load(path, &out->cert, &why) != 0) {
        return gm_cli_fail("%s", why.msg);
    }
    *is_cert = true;
    out->path = path;
    v = judge(path, &out->cert, at, verdict, sizeof verdict);
    if (o->json) {
        cJSON_AddItemToArray(list, cert_json(path, &out->cert, v, verdict));
    } else {
        cert_print(path, &out->cert, verdict, v == GM_CERT_OK);
    }
    return v == GM_CERT_OK ? 0 : gm_cli_fail("%s: certificate not acceptable: %s", path, verdict);
}

/* "signing, link" for the GM_SHARED_* bits. */
static void shared_names(unsigned shared, char out[64])
{
    static const char *const names[] = {"signing", "link", "end-to-end"};

    out[0] = 0;
    for (unsigned i = 0; i < 3; i++) {
        if (shared & (1u << i)) {
            snprintf(out + strlen(out), 64 - strlen(out), "%s%s", out[0] ? ", " : "", names[i]);
        }
    }
}

/* Reports every pair of certificates that share a public key (cloned device keys). */
static int report_clones(const struct shown *s, size_t n, cJSON *clones)
{
    char keys[64];
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            unsigned shared = gm_cert_shared_keys(&s[i].cert, &s[j].cert);
            if (shared == 0) {
                continue;
            }
            shared_names(shared, keys);
            rc = gm_cli_fail("%s and %s share keys (%s): cloned keys, refuse both", s[i].path,
                             s[j].path, keys);
            cJSON *c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "a", s[i].path);
            cJSON_AddStringToObject(c, "b", s[j].path);
            cJSON_AddStringToObject(c, "keys", keys);
            cJSON_AddItemToArray(clones, c);
        }
    }
    return rc;
}

static int cmd_show(const struct ca_opts *o)
{
    char dir_cert[GM_PATH_MAX];
    const char *paths[MAX_CERT_ARGS + 1];
    struct shown *shown = calloc(MAX_CERT_ARGS + 1, sizeof *shown);
    cJSON *doc = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(doc, "certificates");
    cJSON *clones = cJSON_AddArrayToObject(doc, "shared_keys");
    size_t n = 0, n_certs = 0;
    uint64_t at = now_seconds();
    int rc = 0;

    if (shown == NULL || (o->dir == NULL && o->n_certs == 0)) {
        rc = gm_cli_fail(shown == NULL ? "out of memory" : "ca show needs --dir or --cert");
    } else if (o->at != NULL && gm_cli_parse_time(o->at, &at) != 0) {
        rc = gm_cli_fail("--at '%s': use YYYY-MM-DDTHH:MM:SSZ", o->at);
    } else if (o->dir != NULL &&
               gm_path_join(dir_cert, sizeof dir_cert, o->dir, GM_FILE_NODE_CERT) != 0) {
        rc = gm_cli_fail("%s: path too long", o->dir);
    }
    if (rc == 0 && o->dir != NULL) {
        paths[n++] = dir_cert;
    }
    for (int i = 0; rc == 0 && i < o->n_certs; i++) {
        paths[n++] = o->certs[i];
    }
    for (size_t i = 0; i < n; i++) {
        bool is_cert;
        rc |= show_one(o, paths[i], at, list, &shown[n_certs], &is_cert);
        n_certs += is_cert;
    }
    rc |= report_clones(shown, n_certs, clones);
    if (o->json && n > 0) {
        cJSON_AddBoolToObject(doc, "acceptable", rc == 0);
        char *text = cJSON_Print(doc);
        printf("%s\n", text != NULL ? text : "{}");
        free(text);
    }
    cJSON_Delete(doc);
    free(shown);
    return rc != 0 ? GM_EXIT_FAIL : 0;
}

/* ---- dispatch ---- */

static const struct command commands[] = {
    {"init", BIT(O_DIR) | BIT(O_ORG) | BIT(O_PASS) | BIT(O_FORCE), 
     "usage: guardmesh ca init --dir CA_DIR --org ORG [--passphrase-file F] [--force]\n"
     "Creates an organisation: CA_DIR/org.key (mode 0600; sealed with Argon2id +\n"
     "XChaCha20-Poly1305 when --passphrase-file is given), CA_DIR/org.cert (the\n"
     "self-signed root record other organisations pin) and an empty ledger.\n"
     "  --force   replace an existing CA (its certificates become untrusted)\n",
     cmd_init},
    {"issue",
     BIT(O_CA) | BIT(O_DIR) | BIT(O_CALLSIGN) | BIT(O_ROLE) | BIT(O_DAYS) | BIT(O_PASS) |
         BIT(O_NODE_PASS) | BIT(O_VALID_FROM) | BIT(O_FORCE),
     "usage: guardmesh ca issue --ca CA_DIR --dir NODE_DIR --callsign NAME\n"
     "         --role handheld|relay|bridge|dispatch [--days N] [--valid-from TIME]\n"
     "         [--passphrase-file F] [--node-passphrase-file F] [--force]\n"
     "Certifies a node. NODE_DIR gets node.key (made here, unless NODE_DIR already has a\n"
     "key made on the device, which is then certified), node.cert and trust/ with its\n"
     "own organisation. A public key this CA certified before is refused.\n"
     "  --days N                 validity, 1 to 365 (default 30)\n"
     "  --valid-from TIME        start of validity, YYYY-MM-DDTHH:MM:SSZ (default now)\n"
     "  --passphrase-file F      passphrase of a sealed CA key\n"
     "  --node-passphrase-file F seal the new node key (or open an existing sealed one)\n"
     "  --force                  replace the node's existing keys and certificate\n",
     cmd_issue},
    {"revoke", BIT(O_CA) | BIT(O_CERT) | BIT(O_PASS),
     "usage: guardmesh ca revoke --ca CA_DIR --cert NODE_DIR/node.cert [--passphrase-file F]\n"
     "Adds the certificate (its serial and node id) to CA_DIR/revocations.crl and signs\n"
     "the list with a higher sequence number.\n",
     cmd_revoke},
    {"trust", BIT(O_DIR) | BIT(O_ORG_CERT) | BIT(O_CRL),
     "usage: guardmesh ca trust --dir NODE_DIR (--org-cert OTHER_CA_DIR/org.cert | --crl FILE)\n"
     "  --org-cert F   trust another organisation's root (prints its id: confirm it)\n"
     "  --crl F        install a revocation list signed by a trusted organisation\n",
     cmd_trust},
    {"show", BIT(O_DIR) | BIT(O_CERT) | BIT(O_JSON) | BIT(O_AT),
     "usage: guardmesh ca show (--dir NODE_DIR | --cert FILE...) [--json] [--at TIME]\n"
     "Prints certificates and organisation records and says whether each node\n"
     "certificate is acceptable against the trust store beside it (trust/ and\n"
     "revocations/ in its folder). Certificates that share a public key are reported.\n"
     "Exit status 1 when any certificate is not acceptable.\n"
     "  --at TIME   judge validity at TIME (YYYY-MM-DDTHH:MM:SSZ) instead of now\n",
     cmd_show},
};

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

static int set_option(struct ca_opts *o, int c, const char *arg)
{
    char *end;

    switch (c) {
    case O_CA: o->ca_dir = arg; break;
    case O_DIR: o->dir = arg; break;
    case O_ORG: o->org = arg; break;
    case O_CALLSIGN: o->callsign = arg; break;
    case O_ROLE: o->role = arg; break;
    case O_ORG_CERT: o->org_cert = arg; break;
    case O_CRL: o->crl = arg; break;
    case O_PASS: o->pass_file = arg; break;
    case O_NODE_PASS: o->node_pass_file = arg; break;
    case O_VALID_FROM: o->valid_from = arg; break;
    case O_AT: o->at = arg; break;
    case O_FORCE: o->force = true; break;
    case O_JSON: o->json = true; break;
    case O_DAYS:
        o->days = strtol(arg, &end, 10);
        if (*arg == 0 || *end != 0) {
            return gm_cli_fail("--days '%s': not a number", arg);
        }
        break;
    case O_CERT:
        if (o->n_certs == MAX_CERT_ARGS) {
            return gm_cli_fail("at most %d --cert options", MAX_CERT_ARGS);
        }
        o->certs[o->n_certs++] = arg;
        break;
    default:
        return GM_EXIT_USAGE;
    }
    return 0;
}

static const char *option_name(int c)
{
    for (const struct option *o = long_opts; o->name != NULL; o++) {
        if (o->val == c) {
            return o->name;
        }
    }
    return "?";
}

/* Options every subcommand requires. */
static int check_required(const struct command *cmd, const struct ca_opts *o)
{
    const char *missing = NULL;

    if (strcmp(cmd->name, "init") == 0) {
        missing = !o->dir ? "--dir" : (!o->org ? "--org" : NULL);
    } else if (strcmp(cmd->name, "issue") == 0) {
        missing = !o->ca_dir ? "--ca"
                  : !o->dir  ? "--dir"
                  : !o->callsign ? "--callsign"
                  : !o->role ? "--role"
                             : NULL;
    } else if (strcmp(cmd->name, "revoke") == 0) {
        missing = !o->ca_dir ? "--ca" : (o->n_certs != 1 ? "exactly one --cert" : NULL);
    } else if (strcmp(cmd->name, "trust") == 0) {
        missing = !o->dir ? "--dir"
                  : (o->org_cert == NULL) == (o->crl == NULL) ? "one of --org-cert or --crl"
                                                              : NULL;
    } else if (strcmp(cmd->name, "show") == 0) {
        missing = o->dir == NULL && o->n_certs == 0 ? "--dir or --cert" : NULL;
    }
    if (missing != NULL) {
        fprintf(stderr, "guardmesh: ca %s needs %s\n%s", cmd->name, missing, cmd->help);
        return GM_EXIT_USAGE;
    }
    return 0;
}

int gm_cli_ca(int argc, char **argv)
{
    const struct command *cmd;
    struct ca_opts o;
    int c;

    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: guardmesh ca init|issue|revoke|trust|show [OPTIONS]\n"
                "'guardmesh ca COMMAND --help' describes each one.\n");
        return argc < 2 ? GM_EXIT_USAGE : 0;
    }
    cmd = find_command(argv[1]);
    if (cmd == NULL) {
        fprintf(stderr, "guardmesh: unknown command 'ca %s'\n", argv[1]);
        return GM_EXIT_USAGE;
    }
    memset(&o, 0, sizeof o);
    o.days = DEFAULT_DAYS;
    optind = 1;
    opterr = 0; /* reported below, with our prefix */
    while ((c = getopt_long(argc - 1, argv + 1, "", long_opts, NULL)) != -1) {
        if (c == '?' || c == ':') {
            fprintf(stderr, "guardmesh: '%s': unknown option or missing value for 'ca %s'\n",
                    argv[optind], cmd->name);
        }
        if (c == O_HELP) {
            fputs(cmd->help, stdout);
            return 0;
        }
        if (c == '?' || c == ':' || !(cmd->allowed & BIT(c))) {
            if (c != '?' && c != ':') {
                fprintf(stderr, "guardmesh: --%s does not apply to 'ca %s'\n", option_name(c),
                        cmd->name);
            }
            fputs(cmd->help, stderr);
            return GM_EXIT_USAGE;
        }
        if (set_option(&o, c, optarg) != 0) {
            return GM_EXIT_USAGE;
        }
    }
    if (optind < argc - 1) {
        fprintf(stderr, "guardmesh: unexpected argument '%s'\n%s", argv[optind + 1], cmd->help);
        return GM_EXIT_USAGE;
    }
    c = check_required(cmd, &o);
    return c != 0 ? c : cmd->run(&o);
}

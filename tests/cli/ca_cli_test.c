#define _XOPEN_SOURCE 700 /* nftw */
/*
 * End-to-end tests of `guardmesh ca` (tools/ca.c): every test runs the real
 * binary in a fresh directory and checks its exit status (0 ok, 1 failure or
 * negative verdict, 2 usage), its output, and the files it leaves behind.
 * Issue #2 points 6 and 7: each rejection is one line on stderr naming the
 * file and the reason, a non-zero status, and nothing written.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/cert.h"
#include "node/fileio.h"
#include "tests/support/ident.h"

#ifndef GM_BIN_DIR
#error "GM_BIN_DIR must name the directory that holds the guardmesh binary"
#endif

#define GM_BIN GM_BIN_DIR "/guardmesh"
#define MAX_ARGS 24
#define OUT_MAX 16384
#define FILE_MAX (1u << 20)
#define DIGEST_LEN crypto_generichash_BYTES

/* What one run of the binary produced (each stream cut at OUT_MAX - 1 bytes). */
struct out {
    char cmd[512]; /* the arguments, for messages */
    int status;    /* exit status, or 128 + signal */
    char out[OUT_MAX];
    char err[OUT_MAX];
};

/* /tmp/gm_ca_cli.XXXXXX: stdout and stderr captures, and w/, the working directory. */
static char root[64];

#define RUN(o, ...) run(o, __VA_ARGS__, (const char *)NULL)
#define MUST(...) must(__VA_ARGS__, (const char *)NULL)
#define REFUSED(file, reason, ...) refused(file, reason, __VA_ARGS__, (const char *)NULL)

/* ---- fixture ---- */

static void setup(void)
{
    char work[96];

    cr_assert(sodium_init() >= 0);
    snprintf(root, sizeof root, "/tmp/gm_ca_cli.XXXXXX");
    cr_assert_not_null(mkdtemp(root), "mkdtemp: %s", strerror(errno));
    snprintf(work, sizeof work, "%s/w", root);
    cr_assert_eq(mkdir(work, 0700), 0);
    cr_assert_eq(chdir(work), 0); /* each test runs in its own process */
}

static void teardown(void)
{
    cr_expect_eq(chdir("/"), 0);
    cr_expect_eq(gm_test_rmdir(root), 0, "cannot remove %s", root);
}

TestSuite(ca_cli, .init = setup, .fini = teardown, .timeout = 120);

/* ---- running the binary ---- */

static int capture_open(const char *name)
{
    char path[96];

    snprintf(path, sizeof path, "%s/%s", root, name);
    return open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

static void capture_read(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    ssize_t n;

    cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
    while (got < cap - 1 && (n = read(fd, buf + got, cap - 1 - got)) > 0) {
        got += (size_t)n;
    }
    buf[got] = 0;
    close(fd);
}

static int vrun(struct out *o, const char *arg, va_list ap)
{
    const char *argv[MAX_ARGS + 2] = {GM_BIN};
    int n = 1, fo = capture_open("stdout"), fe = capture_open("stderr"), st;
    pid_t pid;

    o->cmd[0] = 0;
    for (; arg != NULL; arg = va_arg(ap, const char *)) {
        cr_assert_lt(n, MAX_ARGS + 1, "too many arguments");
        argv[n++] = arg;
        snprintf(o->cmd + strlen(o->cmd), sizeof o->cmd - strlen(o->cmd), " %s", arg);
    }
    cr_assert(fo >= 0 && fe >= 0, "cannot create capture files in %s", root);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (dup2(fo, STDOUT_FILENO) >= 0 && dup2(fe, STDERR_FILENO) >= 0) {
            execv(GM_BIN, (char *const *)argv);
        }
        _exit(127);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    o->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    capture_read(fo, o->out, sizeof o->out);
    capture_read(fe, o->err, sizeof o->err);
    cr_assert_neq(o->status, 127, "cannot run %s", GM_BIN);
    cr_expect(strstr(o->err, "Sanitizer") == NULL && strstr(o->err, "runtime error") == NULL,
              "sanitizer report from guardmesh%s:\n%s", o->cmd, o->err);
    return o->status;
}

/* Runs guardmesh with the arguments up to NULL; returns its exit status. */
static int run(struct out *o, const char *arg, ...)
{
    va_list ap;
    int status;

    va_start(ap, arg);
    status = vrun(o, arg, ap);
    va_end(ap);
    return status;
}

/* Runs guardmesh and requires success with nothing on stderr. */
static void must(const char *arg, ...)
{
    static struct out o;
    va_list ap;

    va_start(ap, arg);
    vrun(&o, arg, ap);
    va_end(ap);
    cr_assert_eq(o.status, 0, "guardmesh%s failed (%d):\n%s", o.cmd, o.status, o.err);
    cr_assert_str_empty(o.err);
}

static void init_ca(const char *dir, const char *org)
{
    MUST("ca", "init", "--dir", dir, "--org", org);
}

static void issue(const char *ca, const char *dir, const char *callsign, const char *role)
{
    MUST("ca", "issue", "--ca", ca, "--dir", dir, "--callsign", callsign, "--role", role);
}

/* ---- what a rejection must look like ---- */

/* Exit status 1 and exactly one line on stderr, naming file (unless NULL) and saying reason. */
static void expect_refusal(const struct out *o, const char *file, const char *reason)
{
    const char *nl = strchr(o->err, '\n');

    cr_expect_eq(o->status, 1, "guardmesh%s: exit status %d, stderr:\n%s", o->cmd, o->status,
                 o->err);
    cr_expect(nl != NULL && nl[1] == 0, "guardmesh%s: stderr is not one line:\n%s", o->cmd, o->err);
    if (file != NULL) {
        cr_expect(strstr(o->err, file) != NULL, "guardmesh%s: stderr does not name %s:\n%s", o->cmd,
                  file, o->err);
    }
    cr_expect(strstr(o->err, reason) != NULL, "guardmesh%s: stderr does not say '%s':\n%s", o->cmd,
              reason, o->err);
}

/* A command-line error: status 2 and stderr mentioning what. */
static void expect_usage(const struct out *o, const char *what)
{
    cr_expect_eq(o->status, 2, "guardmesh%s: exit status %d, stderr:\n%s", o->cmd, o->status,
                 o->err);
    cr_expect(strstr(o->err, what) != NULL, "guardmesh%s: stderr does not mention '%s':\n%s",
              o->cmd, what, o->err);
}

/* ---- files ---- */

static size_t slurp(const char *path, uint8_t **buf)
{
    size_t len;
    int err = gm_file_read(path, FILE_MAX, buf, &len);

    cr_assert_eq(err, 0, "%s: cannot read: %d", path, err);
    return len;
}

static void put(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static void put_text(const char *path, const char *text)
{
    put(path, text, strlen(text));
}

static void copy_file(const char *from, const char *to)
{
    uint8_t *buf;
    size_t len = slurp(from, &buf);

    put(to, buf, len);
    free(buf);
}

static void cut_in_half(const char *path)
{
    uint8_t *buf;
    size_t len = slurp(path, &buf);

    put(path, buf, len / 2);
    free(buf);
}

/* Inverts the byte at offset at (from the end when negative). */
static void flip_byte(const char *path, long at)
{
    uint8_t *buf;
    size_t len = slurp(path, &buf);
    size_t i = at < 0 ? len - (size_t)(-at) : (size_t)at;

    cr_assert_lt(i, len, "%s has only %zu bytes", path, len);
    buf[i] ^= 0xff;
    put(path, buf, len);
    free(buf);
}

static bool same_bytes(const char *a, const char *b)
{
    uint8_t *x, *y;
    size_t nx = slurp(a, &x), ny = slurp(b, &y);
    bool same = nx == ny && memcmp(x, y, nx) == 0;

    free(x);
    free(y);
    return same;
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static void expect_mode(const char *path, mode_t mode)
{
    struct stat st;

    cr_assert_eq(stat(path, &st), 0, "%s: %s", path, strerror(errno));
    cr_expect_eq(st.st_mode & 07777, mode, "%s has mode %o, not %o", path,
                 (unsigned)(st.st_mode & 07777), (unsigned)mode);
}

/* ---- "nothing written": a digest of every name, mode and byte under w/ ---- */

static uint8_t tree_acc[DIGEST_LEN];

static int digest_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    crypto_generichash_state h;
    uint8_t d[DIGEST_LEN], *buf;
    uint32_t mode = (uint32_t)st->st_mode;
    size_t len;

    (void)ftw;
    crypto_generichash_init(&h, NULL, 0, sizeof d);
    crypto_generichash_update(&h, (const uint8_t *)path, strlen(path) + 1);
    crypto_generichash_update(&h, (const uint8_t *)&mode, sizeof mode);
    if (flag == FTW_F && gm_file_read(path, FILE_MAX, &buf, &len) == 0) {
        crypto_generichash_update(&h, buf, len);
        free(buf);
    }
    crypto_generichash_final(&h, d, sizeof d);
    for (size_t i = 0; i < sizeof d; i++) {
        tree_acc[i] ^= d[i]; /* order-independent */
    }
    return 0;
}

struct snap {
    uint8_t d[DIGEST_LEN];
};

static struct snap snapshot(void)
{
    struct snap s;

    memset(tree_acc, 0, sizeof tree_acc);
    cr_assert_eq(nftw(".", digest_entry, 16, FTW_PHYS), 0);
    memcpy(s.d, tree_acc, sizeof s.d);
    return s;
}

static void expect_unchanged(const struct snap *before, const char *what)
{
    struct snap now = snapshot();

    cr_expect(memcmp(before->d, now.d, sizeof now.d) == 0,
              "guardmesh%s wrote, created or changed files despite failing", what);
}

/* Runs guardmesh expecting a refusal (see expect_refusal) that leaves every file as it was. */
static const struct out *refused(const char *file, const char *reason, const char *arg, ...)
{
    static struct out o;
    struct snap before = snapshot();
    va_list ap;

    va_start(ap, arg);
    vrun(&o, arg, ap);
    va_end(ap);
    expect_refusal(&o, file, reason);
    expect_unchanged(&before, o.cmd);
    return &o;
}

/* ---- parsing output ---- */

/* The 32 hex digits after "org id " in ca init's output. */
static void org_id_of(const char *init_out, char hex[33])
{
    const char *p = strstr(init_out, "org id ");

    cr_assert_not_null(p, "no org id in: %s", init_out);
    cr_assert_eq(sscanf(p + 7, "%32[0-9a-f]", hex), 1);
    cr_assert_eq(strlen(hex), 32);
}

static unsigned long long revoke_seq(const char *revoke_out)
{
    const char *p = strstr(revoke_out, "at sequence ");

    cr_assert_not_null(p, "no sequence in: %s", revoke_out);
    return strtoull(p + strlen("at sequence "), NULL, 10);
}

static void iso_time(char out[32], time_t t)
{
    struct tm tm;

    cr_assert_not_null(gmtime_r(&t, &tm));
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *json_str(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(item) ? item->valuestring : "(absent)";
}

/* ---- happy paths ---- */

Test(ca_cli, init_writes_private_org_key_org_cert_and_ledger)
{
    struct out o;

    cr_assert_eq(RUN(&o, "ca", "init", "--dir", "ca", "--org", "alpha"), 0, "%s", o.err);
    cr_expect(strstr(o.out, "created organisation alpha") != NULL, "%s", o.out);
    cr_expect_str_empty(o.err);
    expect_mode("ca/org.key", 0600);
    cr_expect(exists("ca/org.cert") && exists("ca/issued.ledger"));
    cr_expect(!exists("ca/revocations.crl"));
}

Test(ca_cli, issue_certifies_every_role_with_private_key_and_own_trust_root)
{
    static const char *const nodes[][4] = {
        {"ca_a", "guard", "g1", "handheld"},
        {"ca_a", "vehicle", "v1", "relay"},
        {"ca_b", "bridge", "b1", "bridge"},
        {"ca_b", "officer", "o1", "dispatch"},
    };
    char ids[2][33], trust[128], role_line[64];
    struct out o;

    cr_assert_eq(RUN(&o, "ca", "init", "--dir", "ca_a", "--org", "alpha"), 0);
    org_id_of(o.out, ids[0]);
    cr_assert_eq(RUN(&o, "ca", "init", "--dir", "ca_b", "--org", "bravo"), 0);
    org_id_of(o.out, ids[1]);
    for (size_t i = 0; i < 4; i++) {
        const char *const *n = nodes[i];
        char key[64], cert[64];

        issue(n[0], n[1], n[2], n[3]);
        snprintf(key, sizeof key, "%s/node.key", n[1]);
        snprintf(cert, sizeof cert, "%s/node.cert", n[1]);
        snprintf(trust, sizeof trust, "%s/trust/%s.cert", n[1], ids[i / 2]);
        expect_mode(key, 0600);
        cr_expect(exists(cert), "%s missing", cert);
        cr_expect(same_bytes(trust, i < 2 ? "ca_a/org.cert" : "ca_b/org.cert"), "%s", trust);
        cr_assert_eq(RUN(&o, "ca", "show", "--dir", n[1]), 0, "%s", o.err);
        snprintf(role_line, sizeof role_line, "role       %s\n", n[3]);
        cr_expect(strstr(o.out, role_line) != NULL, "%s", o.out);
        cr_expect(strstr(o.out, "verdict    acceptable\n") != NULL, "%s", o.out);
        cr_expect_str_empty(o.err);
    }
}

Test(ca_cli, show_json_reports_acceptable_callsign_role_and_org)
{
    struct out o;
    cJSON *doc, *cert;

    init_ca("ca", "alpha");
    issue("ca", "guard", "g1", "handheld");
    cr_assert_eq(RUN(&o, "ca", "show", "--dir", "guard", "--json"), 0, "%s", o.err);
    doc = cJSON_Parse(o.out);
    cr_assert_not_null(doc, "not JSON: %s", o.out);
    cert = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "certificates"), 0);
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "acceptable")));
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cert, "acceptable")));
    cr_expect_str_eq(json_str(cert, "callsign"), "g1");
    cr_expect_str_eq(json_str(cert, "role"), "handheld");
    cr_expect_str_eq(json_str(cert, "org"), "alpha");
    cr_expect_str_eq(json_str(cert, "verdict"), "acceptable");
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "shared_keys")), 0);
    cJSON_Delete(doc);
}

Test(ca_cli, show_accepts_an_organisation_record)
{
    struct out o;

    init_ca("ca", "alpha");
    cr_assert_eq(RUN(&o, "ca", "show", "--cert", "ca/org.cert"), 0, "%s", o.err);
    cr_expect(strstr(o.out, "self-signature valid") != NULL, "%s", o.out);
}

Test(ca_cli, certificate_of_other_org_is_untrusted_until_its_root_is_trusted)
{
    struct out o;

    init_ca("ca_a", "alpha");
    init_ca("ca_b", "bravo");
    issue("ca_a", "guard", "g1", "handheld");
    issue("ca_b", "vehicle", "v1", "relay");
    copy_file("guard/node.cert", "vehicle/peer.cert");
    REFUSED("vehicle/peer.cert", "untrusted organisation", "ca", "show", "--cert",
            "vehicle/peer.cert");
    cr_assert_eq(RUN(&o, "ca", "trust", "--dir", "vehicle", "--org-cert", "ca_a/org.cert"), 0, "%s",
                 o.err);
    cr_expect(strstr(o.out, "now trusts alpha") != NULL, "%s", o.out);
    cr_expect_eq(RUN(&o, "ca", "show", "--cert", "vehicle/peer.cert"), 0, "%s", o.err);
    cr_expect_eq(RUN(&o, "ca", "show", "--dir", "vehicle"), 0, "own cert: %s", o.err);
}

Test(ca_cli, existing_device_key_is_certified_and_kept)
{
    struct out o;

    init_ca("ca_a", "alpha");
    init_ca("ca_b", "bravo");
    issue("ca_b", "node", "n1", "relay");
    copy_file("node/node.key", "key.orig");
    cr_assert_eq(unlink("node/node.cert"), 0);
    issue("ca_a", "node", "n1", "relay");
    cr_expect(same_bytes("node/node.key", "key.orig"), "the device's key was replaced");
    cr_expect_eq(RUN(&o, "ca", "show", "--dir", "node"), 0, "%s", o.err);
    cr_expect(strstr(o.out, "n1@alpha") != NULL, "%s", o.out);
}

/* ---- damaged certificates ---- */

Test(ca_cli, truncated_certificate_is_rejected_with_file_and_reason)
{
    init_ca("ca", "alpha");
    issue("ca", "guard", "g1", "handheld");
    cut_in_half("guard/node.cert");
    REFUSED("guard/node.cert", "truncated or corrupted", "ca", "show", "--dir", "guard");
}

Test(ca_cli, corrupted_certificate_envelope_is_rejected_with_file_and_reason)
{
    init_ca("ca", "alpha");
    issue("ca", "guard", "g1", "handheld");
    flip_byte("guard/node.cert", 0); /* the first field tag: no longer decodes */
    REFUSED("guard/node.cert", "truncated or corrupted", "ca", "show", "--cert", "guard/node.cert");
}

Test(ca_cli, corrupted_certificate_body_is_rejected_with_file_and_reason)
{
    const struct out *o;
    uint8_t *buf;
    size_t len;

    init_ca("ca", "alpha");
    issue("ca", "guard", "g1", "handheld");
    len = slurp("guard/node.cert", &buf);
    free(buf);
    flip_byte("guard/node.cert", (long)(len / 2)); /* inside the signed body */
    o = REFUSED("guard/node.cert", "", "ca", "show", "--dir", "guard");
    cr_expect(strstr(o->err, "bad signature") != NULL ||
                  strstr(o->err, "truncated or corrupted") != NULL,
              "no reason given: %s", o->err);
}

Test(ca_cli, tampered_certificate_signature_is_rejected_as_bad_signature)
{
    init_ca("ca", "alpha");
    issue("ca", "guard", "g1", "handheld");
    flip_byte("guard/node.cert", -3); /* the signature is the last field */
    REFUSED("guard/node.cert", "bad signature", "ca", "show", "--dir", "guard");
}

Test(ca_cli, certificate_without_trust_store_beside_it_is_not_acceptable)
{
    init_ca("ca", "alpha");
    issue("ca", "guard", "g1", "handheld");
    copy_file("guard/node.cert", "loose.cert");
    REFUSED("loose.cert", "no trust store", "ca", "show", "--cert", "loose.cert");
}

Test(ca_cli, tampered_trust_store_root_makes_show_refuse_naming_it)
{
    struct out o;
    char id[33], path[96];

    cr_assert_eq(RUN(&o, "ca", "init", "--dir", "ca", "--org", "alpha"), 0);
    org_id_of(o.out, id);
    issue("ca", "guard", "g1", "handheld");
    snprintf(path, sizeof path, "guard/trust/%s.cert", id);
    flip_byte(path, -3);
    REFUSED(path, "bad signature", "ca", "show", "--dir", "guard");
}

/* ---- damaged CA files ---- */

Test(ca_cli, truncated_org_key_makes_issue_fail_naming_it_and_write_nothing)
{
    init_ca("ca", "alpha");
    cut_in_half("ca/org.key");
    REFUSED("ca/org.key", "truncated or corrupted", "ca", "issue", "--ca", "ca", "--dir", "guard",
            "--callsign", "g1", "--role", "relay");
}

Test(ca_cli, corrupted_org_key_makes_issue_fail_naming_it_and_write_nothing)
{
    init_ca("ca", "alpha");
    flip_byte("ca/org.key", 20); /* inside the root seed */
    REFUSED("ca/org.key", "does not belong", "ca", "issue", "--ca", "ca", "--dir", "guard",
            "--callsign", "g1", "--role", "relay");
}

Test(ca_cli, corrupted_node_key_makes_issue_fail_naming_it_and_write_nothing)
{
    init_ca("ca", "alpha");
    init_ca("ca_b", "bravo");
    issue("ca_b", "guard", "g1", "relay");
    cr_assert_eq(unlink("guard/node.cert"), 0);
    flip_byte("guard/node.key", 0);
    REFUSED("guard/node.key", "truncated or corrupted", "ca", "issue", "--ca", "ca", "--dir",
            "guard", "--callsign", "g1", "--role", "relay");
}

Test(ca_cli, tampered_org_cert_makes_issue_fail_naming_it_and_write_nothing)
{
    init_ca("ca", "alpha");
    flip_byte("ca/org.cert", -3);
    REFUSED("ca/org.cert", "bad signature", "ca", "issue", "--ca", "ca", "--dir", "guard",
            "--callsign", "g1", "--role", "relay");
}

Test(ca_cli, corrupted_ledger_makes_issue_fail_naming_it_and_write_nothing)
{
    uint8_t *buf;
    size_t len;

    init_ca("ca", "alpha");
    issue("ca", "guard", "g1", "relay");
    len = slurp("ca/issued.ledger", &buf);
    put("ca/issued.ledger", buf, len - 10); /* cut inside the last certificate */
    free(buf);
    cr_assert_eq(mkdir("vehicle", 0700), 0);
    REFUSED("ca/issued.ledger", "corrupted", "ca", "issue", "--ca", "ca", "--dir", "vehicle",
            "--callsign", "v1", "--role", "relay");
}

/* ---- revocation lists ---- */

/* ca/ with guard (g1) and vehicle (v1); vehicle revoked: ca/revocations.crl at sequence 1. */
static void revoked_setup(void)
{
    init_ca("ca", "alpha");
    issue("ca", "guard", "g1", "handheld");
    issue("ca", "vehicle", "v1", "relay");
    MUST("ca", "revoke", "--ca", "ca", "--cert", "vehicle/node.cert");
}

Test(ca_cli, tampered_revocation_list_is_not_installed)
{
    revoked_setup();
    copy_file("ca/revocations.crl", "bad.crl");
    flip_byte("bad.crl", -3);
    REFUSED("bad.crl", "bad signature", "ca", "trust", "--dir", "guard", "--crl", "bad.crl");
}

Test(ca_cli, truncated_revocation_list_is_not_installed)
{
    revoked_setup();
    copy_file("ca/revocations.crl", "short.crl");
    cut_in_half("short.crl");
    REFUSED("short.crl", "truncated or corrupted", "ca", "trust", "--dir", "guard", "--crl",
            "short.crl");
}

Test(ca_cli, revocation_list_of_untrusted_org_is_not_installed)
{
    revoked_setup();
    init_ca("ca_b", "bravo");
    issue("ca_b", "bridge", "b1", "bridge");
    REFUSED("ca/revocations.crl", "does not trust", "ca", "trust", "--dir", "bridge", "--crl",
            "ca/revocations.crl");
}

Test(ca_cli, older_revocation_list_is_not_installed_over_newer)
{
    revoked_setup();
    copy_file("ca/revocations.crl", "seq1.crl");
    MUST("ca", "revoke", "--ca", "ca", "--cert", "guard/node.cert");
    MUST("ca", "trust", "--dir", "guard", "--crl", "ca/revocations.crl");
    REFUSED("seq1.crl", "not newer", "ca", "trust", "--dir", "guard", "--crl", "seq1.crl");
}

Test(ca_cli, tampered_ca_revocation_list_makes_revoke_fail_naming_it)
{
    revoked_setup();
    flip_byte("ca/revocations.crl", -3);
    REFUSED("ca/revocations.crl", "tampered", "ca", "revoke", "--ca", "ca", "--cert",
            "guard/node.cert");
}

Test(ca_cli, revoked_certificate_is_rejected_once_list_is_installed)
{
    struct out o;

    revoked_setup();
    cr_expect_eq(RUN(&o, "ca", "show", "--dir", "vehicle"), 0, "list not installed yet: %s", o.err);
    cr_assert_eq(RUN(&o, "ca", "trust", "--dir", "vehicle", "--crl", "ca/revocations.crl"), 0, "%s",
                 o.err);
    cr_expect(strstr(o.out, "sequence 1") != NULL, "%s", o.out);
    REFUSED("vehicle/node.cert", "revoked", "ca", "show", "--dir", "vehicle");
    cr_expect_eq(RUN(&o, "ca", "show", "--dir", "guard"), 0, "guard was not revoked: %s", o.err);
}

Test(ca_cli, revocation_list_sequence_increases_with_each_revocation)
{
    struct out o;
    unsigned long long first, second;

    init_ca("ca", "alpha");
    issue("ca", "guard", "g1", "handheld");
    issue("ca", "vehicle", "v1", "relay");
    cr_assert_eq(RUN(&o, "ca", "revoke", "--ca", "ca", "--cert", "guard/node.cert"), 0, "%s",
                 o.err);
    first = revoke_seq(o.out);
    cr_assert_eq(RUN(&o, "ca", "revoke", "--ca", "ca", "--cert", "vehicle/node.cert"), 0, "%s",
                 o.err);
    second = revoke_seq(o.out);
    cr_expect_gt(second, first);
    cr_expect(strstr(o.out, "with 2 entries") != NULL, "%s", o.out);
    cr_expect_eq(RUN(&o, "ca", "revoke", "--ca", "ca", "--cert", "guard/node.cert"), 0);
    cr_expect(strstr(o.out, "already revoked") != NULL, "%s", o.out);
}

/* The certificate in cert_path, decoded. */
static void load_cert(const char *cert_path, gm_cert_t *c)
{
    uint8_t *buf;
    size_t len = slurp(cert_path, &buf);

    cr_assert_eq(gm_cert_decode(buf, len, c), 0, "%s does not decode", cert_path);
    free(buf);
}

Test(ca_cli, lost_revocation_list_neither_restarts_its_sequence_nor_forgets_revocations)
{
    struct out o;
    unsigned long long first, second;
    gm_cert_t guard, vehicle;
    gm_crl_t crl;
    uint8_t *buf;
    size_t len;

    init_ca("ca", "alpha");
    issue("ca", "guard", "g1", "handheld");
    issue("ca", "vehicle", "v1", "relay");
    cr_assert_eq(RUN(&o, "ca", "revoke", "--ca", "ca", "--cert", "vehicle/node.cert"), 0, "%s",
                 o.err);
    first = revoke_seq(o.out);
    cr_assert_eq(unlink("ca/revocations.crl"), 0);
    cr_assert_eq(RUN(&o, "ca", "revoke", "--ca", "ca", "--cert", "guard/node.cert"), 0, "%s",
                 o.err);
    second = revoke_seq(o.out);
    cr_expect_gt(second, first, "the sequence restarted: nodes would refuse the new list");
    cr_expect(strstr(o.out, "with 2 entries") != NULL, "%s", o.out);

    load_cert("guard/node.cert", &guard);
    load_cert("vehicle/node.cert", &vehicle);
    len = slurp("ca/revocations.crl", &buf);
    cr_assert_eq(gm_crl_decode(buf, len, &crl), 0);
    free(buf);
    cr_expect_eq(crl.body.seq, second);
    cr_expect(gm_crl_revokes(&crl, &vehicle.body), "the earlier revocation was forgotten");
    cr_expect(gm_crl_revokes(&crl, &guard.body));
    gm_crl_free(&crl);

    /* A node holding the first list accepts the rebuilt one, and refuses both certificates. */
    MUST("ca", "trust", "--dir", "guard", "--crl", "ca/revocations.crl");
    copy_file("vehicle/node.cert", "guard/peer.cert");
    REFUSED("guard/peer.cert", "revoked", "ca", "show", "--cert", "guard/peer.cert");
    REFUSED("guard/node.cert", "revoked", "ca", "show", "--dir", "guard");
}

Test(ca_cli, partner_root_with_our_organisation_name_is_not_trusted)
{
    struct out o;
    char id[33], impostor_id[33];

    cr_assert_eq(RUN(&o, "ca", "init", "--dir", "ca", "--org", "alpha"), 0, "%s", o.err);
    org_id_of(o.out, id);
    cr_assert_eq(RUN(&o, "ca", "init", "--dir", "ca_x", "--org", "alpha"), 0, "%s", o.err);
    org_id_of(o.out, impostor_id);
    init_ca("ca_b", "bravo");
    issue("ca", "guard", "g1", "handheld");
    o = *REFUSED("ca_x/org.cert", "organisation name alpha is already used", "ca", "trust",
                 "--dir", "guard", "--org-cert", "ca_x/org.cert");
    cr_expect(strstr(o.err, id) != NULL && strstr(o.err, impostor_id) != NULL,
              "both org ids should be named: %s", o.err);
    /* Another name is fine, and the own organisation is already there. */
    cr_assert_eq(RUN(&o, "ca", "trust", "--dir", "guard", "--org-cert", "ca_b/org.cert"), 0,
                 "%s", o.err);
    cr_assert_eq(RUN(&o, "ca", "trust", "--dir", "guard", "--org-cert", "ca/org.cert"), 0, "%s",
                 o.err);
    cr_expect(strstr(o.out, "already trusts alpha") != NULL, "%s", o.out);
    /* Planted by hand, the impostor makes the trust store refuse to load (whichever of the
     * two alpha files the directory lists second is the one named). */
    copy_file("ca_x/org.cert", "guard/trust/planted.cert");
    REFUSED("guard/trust/", "already used by another trusted organisation", "ca", "show",
            "--dir", "guard");
}

Test(ca_cli, revoking_certificate_of_another_org_is_refused)
{
    init_ca("ca", "alpha");
    init_ca("ca_b", "bravo");
    issue("ca_b", "bridge", "b1", "bridge");
    REFUSED("bridge/node.cert", "untrusted organisation", "ca", "revoke", "--ca", "ca", "--cert",
            "bridge/node.cert");
}

/* ---- validity window ---- */

Test(ca_cli, expired_certificate_is_rejected)
{
    struct out o;

    init_ca("ca", "alpha");
    MUST("ca", "issue", "--ca", "ca", "--dir", "guard", "--callsign", "g1", "--role", "handheld",
         "--valid-from", "2020-01-01T00:00:00Z", "--days", "1");
    REFUSED("guard/node.cert", "expired", "ca", "show", "--dir", "guard");
    cr_expect_eq(RUN(&o, "ca", "show", "--dir", "guard", "--at", "2020-01-01T12:00:00Z"), 0,
                 "acceptable within its window: %s", o.err);
}

Test(ca_cli, not_yet_valid_certificate_is_rejected)
{
    char from[32];

    iso_time(from, time(NULL) + 365L * 86400);
    init_ca("ca", "alpha");
    MUST("ca", "issue", "--ca", "ca", "--dir", "guard", "--callsign", "g1", "--role", "handheld",
         "--valid-from", from);
    REFUSED("guard/node.cert", "not yet valid", "ca", "show", "--dir", "guard");
}

Test(ca_cli, show_at_a_later_time_turns_acceptable_certificate_expired)
{
    struct out o;

    init_ca("ca", "alpha");
    issue("ca", "guard", "g1", "handheld");
    cr_assert_eq(RUN(&o, "ca", "show", "--dir", "guard"), 0, "%s", o.err);
    RUN(&o, "ca", "show", "--dir", "guard", "--at", "2099-01-01T00:00:00Z");
    expect_refusal(&o, "guard/node.cert", "expired");
    RUN(&o, "ca", "show", "--dir", "guard", "--at", "2001-01-01T00:00:00Z");
    expect_refusal(&o, "guard/node.cert", "not yet valid");
}

Test(ca_cli, lifetime_outside_1_to_365_days_is_refused)
{
    init_ca("ca", "alpha");
    cr_assert_eq(mkdir("guard", 0700), 0);
    REFUSED("--days 366", "1 to 365", "ca", "issue", "--ca", "ca", "--dir", "guard", "--callsign",
            "g1", "--role", "relay", "--days", "366");
}

/* ---- passphrases ---- */

Test(ca_cli, wrong_passphrase_is_rejected_naming_org_key)
{
    put_text("right.txt", "correct horse\n");
    put_text("wrong.txt", "battery staple\n");
    MUST("ca", "init", "--dir", "ca", "--org", "alpha", "--passphrase-file", "right.txt");
    expect_mode("ca/org.key", 0600);
    REFUSED("ca/org.key", "wrong passphrase", "ca", "issue", "--ca", "ca", "--dir", "guard",
            "--callsign", "g1", "--role", "relay", "--passphrase-file", "wrong.txt");
    MUST("ca", "issue", "--ca", "ca", "--dir", "guard", "--callsign", "g1", "--role", "relay",
         "--passphrase-file", "right.txt");
}

Test(ca_cli, sealed_org_key_without_passphrase_is_rejected)
{
    put_text("pass.txt", "correct horse\n");
    MUST("ca", "init", "--dir", "ca", "--org", "alpha", "--passphrase-file", "pass.txt");
    REFUSED("ca/org.key", "sealed", "ca", "issue", "--ca", "ca", "--dir", "guard", "--callsign",
            "g1", "--role", "relay");
}

Test(ca_cli, unreadable_passphrase_file_is_named)
{
    init_ca("ca", "alpha");
    REFUSED("absent.txt", "cannot read", "ca", "issue", "--ca", "ca", "--dir", "guard",
            "--callsign", "g1", "--role", "relay", "--passphrase-file", "absent.txt");
}

/* ---- missing directories ---- */

Test(ca_cli, missing_ca_directory_is_named_and_nothing_written)
{
    init_ca("ca", "alpha");
    issue("ca", "guard", "g1", "relay");
    REFUSED("nowhere/org.cert", "cannot read", "ca", "issue", "--ca", "nowhere", "--dir", "vehicle",
            "--callsign", "v1", "--role", "relay");
    REFUSED("nowhere/org.cert", "cannot read", "ca", "revoke", "--ca", "nowhere", "--cert",
            "guard/node.cert");
    REFUSED("nowhere/ca", "cannot create directory", "ca", "init", "--dir", "nowhere/ca", "--org",
            "alpha");
}

Test(ca_cli, missing_node_directory_is_named_and_nothing_written)
{
    init_ca("ca", "alpha");
    REFUSED("nowhere/node.cert", "cannot read", "ca", "show", "--dir", "nowhere");
    REFUSED("nowhere/trust", "cannot create directory", "ca", "trust", "--dir", "nowhere",
            "--org-cert", "ca/org.cert");
    REFUSED("nowhere/guard", "cannot create directory", "ca", "issue", "--ca", "ca", "--dir",
            "nowhere/guard", "--callsign", "g1", "--role", "relay");
}

/* ---- overwriting ---- */

Test(ca_cli, init_refuses_to_replace_a_ca_without_force)
{
    init_ca("ca", "alpha");
    REFUSED("ca/org.key", "refusing to overwrite", "ca", "init", "--dir", "ca", "--org", "bravo");
}

Test(ca_cli, init_with_force_replaces_the_ca)
{
    struct out o;

    init_ca("ca", "alpha");
    copy_file("ca/org.cert", "old.cert");
    cr_assert_eq(RUN(&o, "ca", "init", "--dir", "ca", "--org", "bravo", "--force"), 0, "%s", o.err);
    cr_expect(!same_bytes("ca/org.cert", "old.cert"), "org.cert not replaced");
    expect_mode("ca/org.key", 0600);
    cr_expect_eq(RUN(&o, "ca", "show", "--cert", "ca/org.cert"), 0);
    cr_expect(strstr(o.out, "org        bravo\n") != NULL, "%s", o.out);
}

Test(ca_cli, issue_refuses_to_replace_a_node_identity_without_force)
{
    init_ca("ca", "alpha");
    issue("ca", "guard", "g1", "handheld");
    REFUSED("guard", "already holds a node identity", "ca", "issue", "--ca", "ca", "--dir", "guard",
            "--callsign", "g2", "--role", "handheld");
}

Test(ca_cli, issue_with_force_replaces_keys_and_certificate)
{
    struct out o;

    init_ca("ca", "alpha");
    issue("ca", "guard", "g1", "handheld");
    copy_file("guard/node.key", "old.key");
    cr_assert_eq(RUN(&o, "ca", "issue", "--ca", "ca", "--dir", "guard", "--callsign", "g2",
                     "--role", "handheld", "--force"),
                 0, "%s", o.err);
    cr_expect(!same_bytes("guard/node.key", "old.key"), "node.key not replaced");
    expect_mode("guard/node.key", 0600);
    cr_expect_eq(RUN(&o, "ca", "show", "--dir", "guard"), 0, "%s", o.err);
    cr_expect(strstr(o.out, "g2@alpha") != NULL, "%s", o.out);
}

/* ---- what the CA refuses to certify ---- */

Test(ca_cli, ca_never_certifies_a_key_twice)
{
    init_ca("ca", "alpha");
    issue("ca", "guard", "g1", "handheld");
    cr_assert_eq(unlink("guard/node.cert"), 0); /* node.key stays and would be reused */
    REFUSED(NULL, "never certified twice", "ca", "issue", "--ca", "ca", "--dir", "guard",
            "--callsign", "g2", "--role", "handheld");
}

Test(ca_cli, callsign_held_by_a_live_certificate_is_refused)
{
    init_ca("ca", "alpha");
    issue("ca", "guard", "g1", "handheld");
    cr_assert_eq(mkdir("other", 0700), 0);
    REFUSED("g1@alpha", "is held by serial 1", "ca", "issue", "--ca", "ca", "--dir", "other",
            "--callsign", "g1", "--role", "relay");
    MUST("ca", "revoke", "--ca", "ca", "--cert", "guard/node.cert");
    issue("ca", "other", "g1", "relay"); /* free again once revoked */
}

Test(ca_cli, certificates_sharing_a_key_are_reported)
{
    struct out o;
    cJSON *doc;

    init_ca("ca_a", "alpha");
    init_ca("ca_b", "bravo");
    issue("ca_a", "guard", "g1", "handheld");
    cr_assert_eq(mkdir("clone", 0700), 0);
    copy_file("guard/node.key", "clone/node.key");
    issue("ca_b", "clone", "c1", "handheld"); /* another CA does not know the key */
    cr_expect_eq(RUN(&o, "ca", "show", "--cert", "clone/node.cert"), 0, "%s", o.err);
    cr_expect_eq(RUN(&o, "ca", "show", "--cert", "guard/node.cert", "--cert", "clone/node.cert"),
                 1);
    cr_expect(strstr(o.err, "guard/node.cert and clone/node.cert share") != NULL, "%s", o.err);
    RUN(&o, "ca", "show", "--cert", "guard/node.cert", "--cert", "clone/node.cert", "--json");
    cr_expect_eq(o.status, 1);
    doc = cJSON_Parse(o.out);
    cr_assert_not_null(doc, "not JSON: %s", o.out);
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(doc, "acceptable")));
    cr_expect_gt(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "shared_keys")), 0);
    cJSON_Delete(doc);
}

/* ---- command line ---- */

Test(ca_cli, unknown_subcommand_is_a_usage_error)
{
    struct out o;

    RUN(&o, "ca", "frobnicate");
    expect_usage(&o, "frobnicate");
    RUN(&o, "ca");
    expect_usage(&o, "");
    RUN(&o, "frobnicate");
    expect_usage(&o, "frobnicate");
}

Test(ca_cli, missing_required_option_is_a_usage_error)
{
    struct out o;
    struct snap before = snapshot();

    RUN(&o, "ca", "issue", "--ca", "ca", "--dir", "guard", "--callsign", "g1");
    expect_usage(&o, "--role");
    RUN(&o, "ca", "init", "--dir", "ca");
    expect_usage(&o, "--org");
    RUN(&o, "ca", "revoke", "--ca", "ca");
    expect_usage(&o, "--cert");
    RUN(&o, "ca", "trust", "--crl", "x.crl");
    expect_usage(&o, "--dir");
    expect_unchanged(&before, "a usage error");
}

Test(ca_cli, option_not_applicable_or_stray_argument_is_a_usage_error)
{
    struct out o;
    struct snap before = snapshot();

    RUN(&o, "ca", "init", "--dir", "ca", "--org", "alpha", "--json");
    expect_usage(&o, "--json does not apply to 'ca init'");
    RUN(&o, "ca", "show", "--dir", "guard", "stray");
    expect_usage(&o, "stray");
    RUN(&o, "ca", "init", "--dir", "ca", "--org", "alpha", "--bogus");
    expect_usage(&o, "--bogus");
    RUN(&o, "ca", "issue", "--ca", "ca", "--dir", "g", "--callsign", "g", "--role", "relay",
        "--days", "ten");
    expect_usage(&o, "ten");
    expect_unchanged(&before, "a usage error");
}

Test(ca_cli, help_exits_0_for_each_subcommand)
{
    static const char *const cmds[] = {"init", "issue", "revoke", "trust", "show"};
    char want[64];
    struct out o;

    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        cr_expect_eq(RUN(&o, "ca", cmds[i], "--help"), 0, "ca %s --help", cmds[i]);
        snprintf(want, sizeof want, "usage: guardmesh ca %s ", cmds[i]);
        cr_expect(strncmp(o.out, want, strlen(want)) == 0, "%s", o.out);
        cr_expect_str_empty(o.err);
    }
    cr_expect_eq(RUN(&o, "ca", "--help"), 0);
    cr_expect_eq(RUN(&o, "--help"), 0);
    cr_expect(strstr(o.out, "ca issue") != NULL, "%s", o.out);
}

/* ---- known CLI bugs: these assert the intended behaviour and fail until fixed ---- */

/* BUG: the ledger is saved before the node passphrase file is read (tools/ca.c issue_with ->
 * issue_write), so the failed issue consumes a serial and the callsign stays "held". */
Test(ca_cli, unreadable_node_passphrase_file_leaves_the_ledger_unchanged)
{
    struct out o;

    init_ca("ca", "alpha");
    copy_file("ca/issued.ledger", "ledger.orig");
    RUN(&o, "ca", "issue", "--ca", "ca", "--dir", "guard", "--callsign", "g1", "--role", "relay",
        "--node-passphrase-file", "absent.txt");
    expect_refusal(&o, "absent.txt", "cannot read");
    cr_expect(same_bytes("ca/issued.ledger", "ledger.orig"), "ledger written despite failing");
    cr_expect(!exists("guard/node.key") && !exists("guard/node.cert"));
    put_text("node.txt", "node secret\n");
    cr_expect_eq(RUN(&o, "ca", "issue", "--ca", "ca", "--dir", "guard", "--callsign", "g1",
                     "--role", "relay", "--node-passphrase-file", "node.txt"),
                 0, "retry refused: %s", o.err);
}

/* BUG: cmd_issue creates NODE_DIR before validating the request (callsign held, bad --role). */
Test(ca_cli, refused_issue_creates_no_node_directory)
{
    struct out o;

    init_ca("ca", "alpha");
    issue("ca", "guard", "g1", "handheld");
    RUN(&o, "ca", "issue", "--ca", "ca", "--dir", "other", "--callsign", "g1", "--role", "relay");
    expect_refusal(&o, NULL, "is held by");
    cr_expect(!exists("other"), "refused ca issue created other/");
    RUN(&o, "ca", "issue", "--ca", "ca", "--dir", "third", "--callsign", "t", "--role", "king");
    expect_refusal(&o, "--role 'king'", "handheld, relay, bridge or dispatch");
    cr_expect(!exists("third"), "refused ca issue created third/");
}

/* BUG: cmd_init creates CA_DIR before reading the passphrase file. */
Test(ca_cli, failed_init_creates_no_ca_directory)
{
    struct out o;

    RUN(&o, "ca", "init", "--dir", "ca", "--org", "alpha", "--passphrase-file", "absent.txt");
    expect_refusal(&o, "absent.txt", "cannot read");
    cr_expect(!exists("ca"), "failed ca init created ca/");
}

/* BUG: for an option with an argument, the message names the argument ("x.cert does not
 * apply"): argv[optind] is read with getopt's index into argv + 1, after the argument. */
Test(ca_cli, inapplicable_option_with_argument_is_named_in_usage_error)
{
    struct out o;

    RUN(&o, "ca", "init", "--dir", "ca", "--org", "alpha", "--cert", "x.cert");
    expect_usage(&o, "--cert does not apply to 'ca init'");
    cr_expect(!exists("ca"));
}

/* BUG: these command-line errors exit 1 (failure) instead of 2 (usage). */
Test(ca_cli, missing_or_conflicting_target_option_is_a_usage_error)
{
    struct out o;

    init_ca("ca", "alpha");
    issue("ca", "guard", "g1", "handheld");
    RUN(&o, "ca", "show");
    expect_usage(&o, "--dir or --cert");
    RUN(&o, "ca", "trust", "--dir", "guard");
    expect_usage(&o, "--org-cert");
    RUN(&o, "ca", "trust", "--dir", "guard", "--org-cert", "ca/org.cert", "--crl", "x.crl");
    expect_usage(&o, "--org-cert");
    RUN(&o, "ca", "revoke", "--ca", "ca", "--cert", "guard/node.cert", "--cert", "x.cert");
    expect_usage(&o, "exactly one --cert");
}

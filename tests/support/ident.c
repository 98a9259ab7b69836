#define _XOPEN_SOURCE 700 /* nftw */
#include "tests/support/ident.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/fileio.h"

void gm_test_org(gm_test_org_t *org, const char *name)
{
    randombytes_buf(org->seed, sizeof org->seed);
    cr_assert_eq(gm_root_create(org->seed, name, 1000, &org->root), 0);
    org->next_serial = 1;
}

static void save(const char *path, const uint8_t *data, size_t len)
{
    gm_why_t why;

    cr_assert_eq(gm_blob_save(path, data, len, false, &why), 0, "%s", why.msg);
}

void gm_test_trust(const char *dir, const gm_test_org_t *other)
{
    char path[GM_PATH_MAX];

    snprintf(path, sizeof path, "%s/%s", dir, GM_DIR_TRUST);
    cr_assert_eq(gm_dir_ensure(path), 0);
    cr_assert_eq(gm_trust_root_path(dir, &other->root, path, sizeof path), 0);
    save(path, other->root.encoded, other->root.encoded_len);
}

void gm_test_node_dir(gm_test_org_t *org, const char *base, const char *name, gm_role_t role,
                      uint64_t nb, uint64_t na, char out[GM_PATH_MAX], gm_node_keys_t *keys)
{
    gm_node_keys_t k;
    gm_cert_body_t t;
    gm_cert_t cert;
    uint8_t secret[GM_NODE_SECRET_LEN];
    char path[GM_PATH_MAX];
    gm_why_t why;

    snprintf(out, GM_PATH_MAX, "%s/%s", base, name);
    cr_assert_eq(gm_dir_ensure(out), 0);
    gm_node_keys_generate(&k);
    memset(&t, 0, sizeof t);
    snprintf(t.callsign, sizeof t.callsign, "%s", name);
    t.role = role;
    t.serial = org->next_serial++;
    memcpy(t.sign_pk, k.sign_pk, 32);
    memcpy(t.link_pk, k.link_pk, 32);
    memcpy(t.e2e_pk, k.e2e_pk, 32);
    t.not_before = nb;
    t.not_after = na;
    cr_assert_eq(gm_cert_issue(org->seed, &org->root, &t, &cert), 0);
    gm_node_keys_to_secret(&k, secret);
    snprintf(path, sizeof path, "%s/%s", out, GM_FILE_NODE_KEY);
    cr_assert_eq(gm_key_save(path, GM_KEY_NODE, secret, sizeof secret, NULL, 0, true, &why), 0,
                 "%s", why.msg);
    snprintf(path, sizeof path, "%s/%s", out, GM_FILE_NODE_CERT);
    save(path, cert.encoded, cert.encoded_len);
    gm_test_trust(out, org);
    if (keys != NULL) {
        *keys = k;
    }
    sodium_memzero(secret, sizeof secret);
    gm_node_keys_wipe(&k);
}

void gm_test_revoke(const char *dir, gm_test_org_t *org, uint64_t seq, const uint64_t *serials,
                    size_t n)
{
    gm_test_revoke_until(dir, org, seq, serials, n, 4000000000u);
}

void gm_test_revoke_until(const char *dir, gm_test_org_t *org, uint64_t seq,
                          const uint64_t *serials, size_t n, uint64_t next_update)
{
    gm_crl_body_t t;
    gm_crl_t crl;
    char path[GM_PATH_MAX], hex[33];

    memset(&t, 0, sizeof t);
    t.seq = seq;
    t.issued_at = 1000;
    t.next_update = next_update;
    t.serials = (uint64_t *)serials;
    t.n_serials = n;
    cr_assert_eq(gm_crl_issue(org->seed, &org->root, &t, &crl), 0);
    snprintf(path, sizeof path, "%s/%s", dir, GM_DIR_CRLS);
    cr_assert_eq(gm_dir_ensure(path), 0);
    sodium_bin2hex(hex, sizeof hex, org->root.body.org_id, 16);
    snprintf(path, sizeof path, "%s/%s/%s.crl", dir, GM_DIR_CRLS, hex);
    save(path, crl.encoded, crl.encoded_len);
    gm_crl_free(&crl);
}

void gm_test_tmpdir(char out[GM_PATH_MAX])
{
    snprintf(out, GM_PATH_MAX, "/tmp/gmtest.XXXXXX");
    cr_assert_not_null(mkdtemp(out));
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int gm_test_rmdir(const char *path)
{
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

struct until {
    bool (*pred)(void *);
    void *ctx;
    bool done, timed_out;
    uv_timer_t check, deadline;
};

static void on_check(uv_timer_t *h)
{
    struct until *u = h->data;

    if (u->pred(u->ctx)) {
        u->done = true;
        uv_stop(h->loop);
    }
}

static void on_deadline(uv_timer_t *h)
{
    struct until *u = h->data;

    u->timed_out = true;
    uv_stop(h->loop);
}

bool gm_test_run_until(uv_loop_t *loop, bool (*pred)(void *ctx), void *ctx, uint64_t timeout_ms)
{
    struct until u = {pred, ctx, false, false, {0}, {0}};

    if (pred(ctx)) {
        return true;
    }
    uv_timer_init(loop, &u.check);
    uv_timer_init(loop, &u.deadline);
    u.check.data = u.deadline.data = &u;
    uv_timer_start(&u.check, on_check, 5, 5);
    uv_timer_start(&u.deadline, on_deadline, timeout_ms, 0);
    while (!u.done && !u.timed_out) {
        uv_run(loop, UV_RUN_DEFAULT);
    }
    uv_close((uv_handle_t *)&u.check, NULL);
    uv_close((uv_handle_t *)&u.deadline, NULL);
    uv_run(loop, UV_RUN_NOWAIT); /* let the closes complete: u lives on this stack */
    return u.done || pred(ctx);
}

static bool never(void *ctx)
{
    (void)ctx;
    return false;
}

void gm_test_run_for(uv_loop_t *loop, uint64_t ms)
{
    (void)gm_test_run_until(loop, never, NULL, ms);
}

void gm_test_config(gm_node_config_t *cfg, const char *listen_addr)
{
    gm_config_defaults(cfg);
    cfg->n_listen = 0;
    if (listen_addr != NULL) {
        snprintf(cfg->listen[0], GM_ADDR_LEN, "%s", listen_addr);
        cfg->n_listen = 1;
    }
    snprintf(cfg->control_socket, sizeof cfg->control_socket, "none");
    cfg->log_level = GM_LOG_INFO; /* the log goes to a file the test reads */
    cfg->tick_ms = 20;
    cfg->keepalive_ms = 200;
    cfg->dead_after_ms = 1000;
    cfg->handshake_timeout_ms = 500;
    cfg->redial_min_ms = 50;
    cfg->redial_max_ms = 400;
}

void gm_test_config_quiet_links(gm_node_config_t *cfg)
{
    cfg->keepalive_ms = 20000;
    cfg->dead_after_ms = 60000;
}

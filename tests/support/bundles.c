#include "tests/support/bundles.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "node/fileio.h"

void gm_test_bundle_id(uint32_t n, uint8_t id[GM_ID_LEN])
{
    memset(id, 0x5a, GM_ID_LEN);
    id[0] = (uint8_t)(n >> 24);
    id[1] = (uint8_t)(n >> 16);
    id[2] = (uint8_t)(n >> 8);
    id[3] = (uint8_t)n;
}

void gm_test_bundle_encode(gm_test_bundle_t *t)
{
    cr_assert_eq(gm_wire_bundle_encode(&t->b, t->enc, sizeof t->enc, &t->len), 0);
}

void gm_test_bundle(gm_test_bundle_t *t, uint32_t n, uint8_t src, gm_prio_t prio, size_t body_len)
{
    cr_assert_leq(body_len, sizeof t->body);
    memset(&t->b, 0, sizeof t->b);
    gm_test_bundle_id(n, t->b.id);
    memset(t->b.src, src, GM_ID_LEN);
    t->b.dst.kind = GM_DST_NODE;
    memset(t->b.dst.id, 0xd0, GM_ID_LEN);
    t->b.created = GM_TEST_NOW;
    t->b.lifetime = GM_TEST_LIFETIME;
    t->b.hop_limit = 8;
    t->b.priority = prio;
    for (size_t i = 0; i < body_len; i++) {
        t->body[i] = (uint8_t)(n * 31u + i);
    }
    t->b.body = body_len > 0 ? t->body : NULL;
    t->b.body_len = body_len;
    gm_test_bundle_encode(t);
}

void gm_test_store_path(const char *dir, char out[GM_PATH_MAX])
{
    cr_assert_eq(gm_path_join(out, GM_PATH_MAX, dir, GM_FILE_STORE), 0);
}

gm_store_t *gm_test_store(const char *dir, const gm_store_limits_t *lim)
{
    char path[GM_PATH_MAX];
    gm_store_limits_t def;
    gm_store_t *s = NULL;
    gm_why_t why;
    int err;

    gm_store_limits_default(&def);
    gm_test_store_path(dir, path);
    err = gm_store_new(path, lim != NULL ? lim : &def, &s, &why);
    cr_assert_eq(err, 0, "%s", why.msg);
    return s;
}

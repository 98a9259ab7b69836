#include "tests/support/mesh.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct clock_ctx {
    gm_test_mesh_t *m;
    size_t i;
};

static struct clock_ctx clocks[GM_TEST_MAX_NODES];

static uint64_t offset_clock(void *ctx)
{
    struct clock_ctx *c = ctx;

    return (uint64_t)time(NULL) + c->m->clock_offset[c->i];
}

static void on_data(void *ctx, const uint8_t id[GM_ID_LEN], uint32_t channel,
                    const uint8_t *data, size_t len)
{
    struct clock_ctx *c = ctx;

    (void)id;
    (void)channel;
    c->m->received[c->i]++;
    c->m->received_bytes[c->i] += len;
    if (len > c->m->largest_len[c->i]) {
        c->m->largest_len[c->i] = len;
        crypto_generichash(c->m->largest_hash[c->i], 32, data, len, NULL, 0);
    }
}

void gm_test_mesh_init(gm_test_mesh_t *m)
{
    memset(m, 0, sizeof *m);
    cr_assert(sodium_init() >= 0);
    cr_assert_eq(uv_loop_init(&m->loop), 0);
    cr_assert_eq(gm_mem_hub_new(&m->loop, &m->hub), 0);
    gm_test_tmpdir(m->tmp);
    gm_test_org(&m->org_a, "acme-security");
    gm_test_org(&m->org_b, "metro-police");
}

static void on_delivered(void *ctx, const gm_bundle_t *b)
{
    struct clock_ctx *c = ctx;
    size_t i = c->i, n = c->m->delivered[i];

    for (size_t k = 0; k < n; k++) {
        if (memcmp(c->m->delivered_ids[i][k], b->id, GM_ID_LEN) == 0) {
            c->m->delivered_twice[i]++;
            return;
        }
    }
    if ((n & (n - 1)) == 0) { /* grows at powers of two */
        void *p = realloc(c->m->delivered_ids[i], (n ? 2 * n : 1) * GM_ID_LEN);
        cr_assert_not_null(p);
        c->m->delivered_ids[i] = p;
    }
    memcpy(c->m->delivered_ids[i][n], b->id, GM_ID_LEN);
    c->m->delivered[i]++;
}

enum { WITH_LINKS, WITH_MESH, WITH_MESSENGER };

static size_t start(gm_test_mesh_t *m, const char *dir, const gm_node_config_t *cfg,
                    int64_t clock_offset, int layers)
{
    size_t i = m->n++;
    gm_node_env_t env;
    gm_why_t why;

    cr_assert_lt(i, GM_TEST_MAX_NODES);
    m->logs[i] = tmpfile();
    m->clock_offset[i] = (uint64_t)clock_offset;
    clocks[i] = (struct clock_ctx){m, i};
    memset(&env, 0, sizeof env);
    env.loop = &m->loop;
    env.hub = m->hub;
    env.wall_clock = offset_clock;
    env.clock_ctx = &clocks[i];
    env.log = m->logs[i];
    cr_assert_eq(gm_node_new(&env, dir, cfg, &m->nodes[i], &why), 0, "%s", why.msg);
    if (layers != WITH_LINKS) {
        cr_assert_eq(gm_mesh_new(m->nodes[i], &m->meshes[i], &why), 0, "%s", why.msg);
        gm_mesh_set_deliver_cb(m->meshes[i], on_delivered, &clocks[i]);
    }
    if (layers == WITH_MESSENGER) {
        cr_assert_eq(gm_messenger_new(m->nodes[i], m->meshes[i], &m->messengers[i], &why), 0, "%s",
                     why.msg);
    } else if (layers == WITH_LINKS) {
        gm_node_set_data_cb(m->nodes[i], on_data, &clocks[i]);
    }
    cr_assert_eq(gm_node_start(m->nodes[i], &why), 0, "%s", why.msg);
    return i;
}

size_t gm_test_mesh_start_at(gm_test_mesh_t *m, const char *dir, const gm_node_config_t *cfg,
                             int64_t clock_offset)
{
    return start(m, dir, cfg, clock_offset, WITH_LINKS);
}

size_t gm_test_mesh_start_mesh(gm_test_mesh_t *m, const char *dir, const gm_node_config_t *cfg)
{
    return start(m, dir, cfg, 0, WITH_MESH);
}

size_t gm_test_mesh_start_messenger(gm_test_mesh_t *m, const char *dir, const gm_node_config_t *cfg)
{
    return start(m, dir, cfg, 0, WITH_MESSENGER);
}

size_t gm_test_mesh_start(gm_test_mesh_t *m, const char *dir, const gm_node_config_t *cfg)
{
    return gm_test_mesh_start_at(m, dir, cfg, 0);
}

static void on_stopped(gm_node_t *n, void *arg)
{
    gm_test_mesh_t *m = arg;

    (void)n;
    m->stopped++;
}

void gm_test_mesh_stop(gm_test_mesh_t *m, size_t i)
{
    unsigned before = m->stopped;

    if (m->nodes[i] == NULL) {
        return;
    }
    gm_node_stop(m->nodes[i], on_stopped, m);
    while (m->stopped == before) {
        uv_run(&m->loop, UV_RUN_ONCE);
    }
    gm_messenger_free(m->messengers[i]); /* before its mesh: it uses the mesh's store */
    m->messengers[i] = NULL;
    gm_mesh_free(m->meshes[i]);
    m->meshes[i] = NULL;
    gm_node_free(m->nodes[i]);
    m->nodes[i] = NULL;
}

void gm_test_mesh_close(gm_test_mesh_t *m)
{
    for (size_t i = 0; i < m->n; i++) {
        gm_test_mesh_stop(m, i);
        if (m->logs[i] != NULL) {
            fclose(m->logs[i]);
        }
        free(m->delivered_ids[i]);
    }
    gm_mem_hub_free(m->hub);
    uv_run(&m->loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&m->loop), 0, "handles left open on the loop");
    gm_test_rmdir(m->tmp);
}

bool gm_test_log_has(gm_test_mesh_t *m, size_t i, const char *text)
{
    char line[1024];
    bool found = false;

    fflush(m->logs[i]);
    rewind(m->logs[i]);
    while (!found && fgets(line, sizeof line, m->logs[i]) != NULL) {
        found = strstr(line, text) != NULL;
    }
    fseek(m->logs[i], 0, SEEK_END);
    return found;
}

struct pair_ctx {
    gm_test_mesh_t *m;
    size_t i, j;
    gm_refusal_t r;
};

static bool linked(void *ctx)
{
    struct pair_ctx *p = ctx;
    gm_node_t *a = p->m->nodes[p->i], *b = p->m->nodes[p->j];

    return gm_node_has_link(a, gm_node_id(b)) && gm_node_has_link(b, gm_node_id(a));
}

bool gm_test_wait_linked(gm_test_mesh_t *m, size_t i, size_t j, uint64_t timeout_ms)
{
    struct pair_ctx p = {m, i, j, GM_REFUSE_COUNT};

    return gm_test_run_until(&m->loop, linked, &p, timeout_ms);
}

static bool refused(void *ctx)
{
    struct pair_ctx *p = ctx;

    return gm_node_refusals(p->m->nodes[p->i], p->r) > 0;
}

bool gm_test_wait_refusal(gm_test_mesh_t *m, size_t i, gm_refusal_t r, uint64_t timeout_ms)
{
    struct pair_ctx p = {m, i, 0, r};

    return gm_test_run_until(&m->loop, refused, &p, timeout_ms);
}

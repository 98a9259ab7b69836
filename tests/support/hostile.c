#include "tests/support/hostile.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire_link.h"

static void on_data(void *ctx, const uint8_t *data, size_t len)
{
    gm_hostile_t *h = ctx;
    size_t room = sizeof h->in - h->in_len;

    len = len < room ? len : room;
    memcpy(h->in + h->in_len, data, len);
    h->in_len += len;
}

static void on_end(void *ctx, int err)
{
    (void)err;
    ((gm_hostile_t *)ctx)->ended = true;
}

static void on_dialed(void *ctx, gm_conn_t *conn, int status)
{
    gm_hostile_t *h = ctx;

    cr_assert_eq(status, 0, "hostile dial failed: %s", gm_strerror(status));
    h->dialed = true;
    h->conn = conn;
    conn->cbs = (gm_conn_cbs_t){on_data, on_end, NULL};
    conn->ctx = h;
    conn->ops->read_start(conn);
}

static bool is_dialed(void *ctx)
{
    return ((gm_hostile_t *)ctx)->dialed;
}

void gm_hostile_connect(gm_hostile_t *h, gm_test_mesh_t *m, const char *addr)
{
    memset(h, 0, sizeof *h);
    h->m = m;
    cr_assert_eq(gm_dial(&m->loop, m->hub, addr, on_dialed, h, &h->dial), 0);
    cr_assert(gm_test_run_until(&m->loop, is_dialed, h, 2000));
}

void gm_hostile_send(gm_hostile_t *h, const void *data, size_t len)
{
    uint8_t *copy = malloc(len);

    memcpy(copy, data, len);
    cr_assert_eq(gm_conn_write(h->conn, copy, len), 0);
}

void gm_hostile_send_frame(gm_hostile_t *h, const void *data, size_t len)
{
    uint8_t *f = malloc(len + 2);

    f[0] = (uint8_t)(len >> 8);
    f[1] = (uint8_t)len;
    memcpy(f + 2, data, len);
    cr_assert_eq(gm_conn_write(h->conn, f, len + 2), 0);
}

static bool has_frame(void *ctx)
{
    gm_hostile_t *h = ctx;

    return h->in_len >= 2 && h->in_len >= 2 + (((size_t)h->in[0] << 8) | h->in[1]);
}

void gm_hostile_msg1(gm_hostile_t *h, const uint8_t mesh_id[16], const uint8_t link_sk[32])
{
    gm_noise_protocol_t proto;
    uint8_t prologue[32], msg[128];
    static const uint8_t version = 1;
    size_t len;

    memcpy(prologue, "guardmesh/link/1", 16);
    memcpy(prologue + 16, mesh_id, 16);
    cr_assert_eq(gm_noise_protocol_parse("Noise_XX_25519_ChaChaPoly_SHA256", &proto), 0);
    gm_noise_handshake_init(&h->hs, &proto, true, prologue, sizeof prologue, NULL, NULL);
    cr_assert_eq(gm_noise_handshake_set_static(&h->hs, link_sk), 0);
    cr_assert_eq(gm_noise_handshake_start(&h->hs), 0);
    cr_assert_eq(gm_noise_handshake_write(&h->hs, &version, 1, msg, sizeof msg, &len), 0);
    gm_hostile_send_frame(h, msg, len);
    cr_assert(gm_test_run_until(&h->m->loop, has_frame, h, 2000), "no msg2 from the node");
}

void gm_hostile_msg3(gm_hostile_t *h, const gm_cert_t *cert, const gm_node_keys_t *signer)
{
    uint8_t payload[2048], msg[2048], hello_buf[2048], auth[1 + GM_NOISE_MAX_HASH_LEN];
    size_t plen, len, hlen, h_len, flen = ((size_t)h->in[0] << 8) | h->in[1];
    const uint8_t *hash;
    gm_hello_t hello;

    cr_assert_eq(gm_noise_handshake_read(&h->hs, h->in + 2, flen, payload, sizeof payload, &plen),
                 0);
    memset(&hello, 0, sizeof hello);
    hello.version = 1;
    memcpy(hello.cert, cert->encoded, cert->encoded_len);
    hello.cert_len = cert->encoded_len;
    hello.rekey_frames = 65536;
    /* the link protocol's own construction, written out independently: 0x02 || h */
    hash = gm_noise_handshake_hash(&h->hs, &h_len);
    auth[0] = 0x02;
    memcpy(auth + 1, hash, h_len);
    cr_assert_eq(gm_node_keys_sign(signer, "guardmesh/linkauth/1", auth, 1 + h_len,
                                   hello.signature), 0);
    cr_assert_eq(gm_wire_hello_encode(&hello, hello_buf, sizeof hello_buf, &hlen), 0);
    cr_assert_eq(gm_noise_handshake_write(&h->hs, hello_buf, hlen, msg, sizeof msg, &len), 0);
    gm_hostile_send_frame(h, msg, len);
    cr_assert_eq(gm_noise_handshake_split(&h->hs, &h->tx, &h->rx), 0);
}

void gm_hostile_send_transport(gm_hostile_t *h, const uint8_t *plain, size_t len)
{
    uint8_t ct[4096];
    size_t n;

    cr_assert_eq(gm_noise_encrypt(&h->tx, NULL, 0, plain, len, ct, sizeof ct, &n), 0);
    gm_hostile_send_frame(h, ct, n);
}

static bool has_ended(void *ctx)
{
    return ((gm_hostile_t *)ctx)->ended;
}

bool gm_hostile_wait_end(gm_hostile_t *h, uint64_t timeout_ms)
{
    return gm_test_run_until(&h->m->loop, has_ended, h, timeout_ms);
}

void gm_hostile_close(gm_hostile_t *h)
{
    if (h->conn != NULL) {
        gm_conn_close(h->conn);
        h->conn = NULL;
    }
    gm_noise_handshake_close(&h->hs);
    gm_noise_cipher_close(&h->tx);
    gm_noise_cipher_close(&h->rx);
}

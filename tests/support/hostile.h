/* Test support: a hostile peer that speaks raw bytes or hand-made Noise to a node. */
#ifndef GM_TEST_HOSTILE_H
#define GM_TEST_HOSTILE_H

#include "crypto/keys.h"
#include "crypto/noise.h"
#include "tests/support/mesh.h"

typedef struct {
    gm_test_mesh_t *m;
    gm_dial_t *dial;
    gm_conn_t *conn;
    bool dialed, ended;
    uint8_t in[4096];
    size_t in_len;
    gm_noise_handshake_t hs;
    gm_noise_cipher_t tx, rx;
} gm_hostile_t;

/* Connects to addr on the mesh's hub (or TCP); returns when connected. */
void gm_hostile_connect(gm_hostile_t *h, gm_test_mesh_t *m, const char *addr);
void gm_hostile_send(gm_hostile_t *h, const void *data, size_t len);
void gm_hostile_send_frame(gm_hostile_t *h, const void *data, size_t len);

/* Sends msg1 of Noise_XX with mesh_id in the prologue and waits for msg2. */
void gm_hostile_msg1(gm_hostile_t *h, const uint8_t mesh_id[16], const uint8_t link_sk[32]);
/*
 * Reads msg2 and sends msg3 whose hello carries cert, signed (linkauth) with
 * signer's sign key; then the link is up for the node if all is genuine.
 */
void gm_hostile_msg3(gm_hostile_t *h, const gm_cert_t *cert, const gm_node_keys_t *signer);
/* Sends one transport frame (encrypted) holding raw plaintext. */
void gm_hostile_send_transport(gm_hostile_t *h, const uint8_t *plain, size_t len);

/* True once the node closed the connection. */
bool gm_hostile_wait_end(gm_hostile_t *h, uint64_t timeout_ms);
void gm_hostile_close(gm_hostile_t *h);

#endif

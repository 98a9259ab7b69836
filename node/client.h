/* A small blocking client of a node's control socket, for tools and tests. */
#ifndef GM_CLIENT_H
#define GM_CLIENT_H

#include "node/identity.h"
#include "proto/wire_control.h"
#include "proto/wire_mesh_control.h"
#include "proto/wire_messenger_control.h"

#define GM_CLIENT_TIMEOUT_MS 5000
#define GM_CLIENT_MESH_TIMEOUT_MS 60000 /* an INJECT or a debug SEND of many takes a while */

/*
 * Sends one request to the node running in node_dir (its control.sock, or
 * socket_path if not NULL) and decodes the answer into *out (release it with
 * gm_control_response_free). On failure *why says what to do, e.g. that no
 * node is running there.
 */
GM_MUST_CHECK int gm_client_request(const char *node_dir, const char *socket_path,
                                    gm_control_op_t op, gm_control_response_t *out,
                                    gm_why_t *why);

/* As gm_client_request with a whole request (an argument), waiting up to timeout_ms. */
GM_MUST_CHECK int gm_client_call(const char *node_dir, const char *socket_path,
                                 const gm_control_request_t *req, unsigned timeout_ms,
                                 gm_control_response_t *out, gm_why_t *why);

/*
 * Asks the node's mesh layer (GM_OP_MESH) and decodes its answer into *out
 * (release it with gm_mesh_response_free). The mesh layer's own refusals come
 * back in out->error and out->message with 0 returned. Errors: those of
 * gm_client_call; the node's refusal of the op itself (no mesh layer runs
 * there) as its error code with *why = its message; GM_EPROTO if the answer
 * holds no mesh response.
 */
GM_MUST_CHECK int gm_client_mesh(const char *node_dir, const char *socket_path,
                                 const gm_mesh_request_t *req, gm_mesh_response_t *out,
                                 gm_why_t *why);

/*
 * Asks the node's messenger (GM_OP_MESSENGER), as gm_client_mesh asks the
 * mesh layer; release *out with gm_messenger_response_free.
 */
GM_MUST_CHECK int gm_client_messenger(const char *node_dir, const char *socket_path,
                                      const gm_messenger_request_t *req,
                                      gm_messenger_response_t *out, gm_why_t *why);

#endif

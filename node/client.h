/* A small blocking client of a node's control socket, for tools and tests. */
#ifndef GM_CLIENT_H
#define GM_CLIENT_H

#include "node/identity.h"
#include "proto/wire_control.h"

#define GM_CLIENT_TIMEOUT_MS 5000

/*
 * Sends one request to the node running in node_dir (its control.sock, or
 * socket_path if not NULL) and decodes the answer into *out (release it with
 * gm_control_response_free). On failure *why says what to do, e.g. that no
 * node is running there.
 */
GM_MUST_CHECK int gm_client_request(const char *node_dir, const char *socket_path,
                                    gm_control_op_t op, gm_control_response_t *out,
                                    gm_why_t *why);

#endif

#include "node/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "node/fileio.h"

static int io_all(int fd, uint8_t *p, size_t len, bool writing)
{
    while (len > 0) {
        ssize_t n = writing ? write(fd, p, len) : read(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : GM_EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int connect_to(const char *path, unsigned timeout_ms, gm_why_t *why)
{
    struct sockaddr_un sa;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        gm_why_set(why, "cannot create a socket: %s", strerror(errno));
        return -errno;
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        gm_why_set(why, "%s: socket path too long", path);
        close(fd);
        return GM_ELIMIT;
    }
    memcpy(sa.sun_path, path, strlen(path));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int err = -errno;
        gm_why_set(why, "no node is running here (%s: %s): start it with guardmeshd --dir DIR",
                   path, strerror(errno));
        close(fd);
        return err;
    }
    return fd;
}

static int send_request(int fd, const gm_control_request_t *req)
{
    size_t cap = gm_wire_control_request_size(req), len = 0;
    uint8_t *msg;
    int err;

    if (cap > GM_CONTROL_REQUEST_MAX) {
        return GM_ELIMIT;
    }
    msg = malloc(cap + 4);
    if (msg == NULL) {
        return GM_ENOMEM;
    }
    err = gm_wire_control_request_encode(req, msg + 4, cap, &len);
    gm_store_u32_be(msg, (uint32_t)len);
    err = err ? err : io_all(fd, msg, len + 4, true);
    free(msg);
    return err;
}

static int exchange(int fd, const gm_control_request_t *req, gm_control_response_t *out,
                    gm_why_t *why)
{
    uint8_t hdr[4], *body;
    size_t len;
    int err = send_request(fd, req);

    err = err ? err : io_all(fd, hdr, 4, false);
    if (err != 0) {
        gm_why_set(why, "the node did not answer: %s", gm_strerror(err));
        return err;
    }
    len = ((size_t)hdr[0] << 24) | ((size_t)hdr[1] << 16) | ((size_t)hdr[2] << 8) | hdr[3];
    body = len <= GM_CONTROL_MAX_MSG ? malloc(len + 1) : NULL;
    err = body == NULL ? GM_EPROTO : io_all(fd, body, len, false);
    err = err ? err : gm_wire_control_response_decode(body, len, out);
    free(body);
    if (err != 0) {
        gm_why_set(why, "the node sent an answer this tool cannot read: %s", gm_strerror(err));
    }
    return err;
}

int gm_client_call(const char *node_dir, const char *socket_path, const gm_control_request_t *req,
                   unsigned timeout_ms, gm_control_response_t *out, gm_why_t *why)
{
    char path[GM_PATH_MAX];
    int fd, err;

    if (socket_path != NULL) {
        snprintf(path, sizeof path, "%s", socket_path);
    } else if (gm_path_join(path, sizeof path, node_dir, GM_FILE_CONTROL_SOCKET) != 0) {
        gm_why_set(why, "%s: path too long", node_dir);
        return GM_ELIMIT;
    }
    fd = connect_to(path, timeout_ms, why);
    if (fd < 0) {
        return fd;
    }
    err = exchange(fd, req, out, why);
    close(fd);
    return err;
}

int gm_client_request(const char *node_dir, const char *socket_path, gm_control_op_t op,
                      gm_control_response_t *out, gm_why_t *why)
{
    gm_control_request_t req = {.op = op};

    return gm_client_call(node_dir, socket_path, &req, GM_CLIENT_TIMEOUT_MS, out, why);
}

/*
 * One request to a layer's extension (op) with an encoded argument: 0 with *r
 * holding the layer's answer (release it with gm_control_response_free), or
 * the call's error, or the node's refusal of the op (its code, *why its message).
 */
static int ask_layer(const char *node_dir, const char *socket_path, gm_control_op_t op,
                     uint8_t *arg, size_t arg_len, gm_control_response_t *r, gm_why_t *why)
{
    gm_control_request_t creq = {.op = op, .arg = arg, .arg_len = arg_len};
    int err = gm_client_call(node_dir, socket_path, &creq, GM_CLIENT_MESH_TIMEOUT_MS, r, why);

    if (err == 0 && r->error != 0) {
        err = r->error;
        gm_why_set(why, "%s", r->message);
        gm_control_response_free(r);
    }
    return err;
}

int gm_client_mesh(const char *node_dir, const char *socket_path, const gm_mesh_request_t *req,
                   gm_mesh_response_t *out, gm_why_t *why)
{
    gm_control_response_t r;
    size_t len = gm_wire_mesh_request_size(req);
    uint8_t *arg = malloc(len + 1);
    int err = arg == NULL ? GM_ENOMEM : gm_wire_mesh_request_encode(req, arg, len, &len);

    if (err != 0) {
        gm_why_set(why, "cannot encode the request: %s", gm_strerror(err));
    } else if ((err = ask_layer(node_dir, socket_path, GM_OP_MESH, arg, len, &r, why)) == 0) {
        if (gm_wire_mesh_response_decode(r.answer, r.answer_len, out) != 0) {
            err = GM_EPROTO;
            gm_why_set(why, "the node sent a mesh answer this tool cannot read");
        }
        gm_control_response_free(&r);
    }
    free(arg);
    return err;
}

int gm_client_messenger(const char *node_dir, const char *socket_path,
                        const gm_messenger_request_t *req, gm_messenger_response_t *out,
                        gm_why_t *why)
{
    gm_control_response_t r;
    size_t len = gm_wire_messenger_request_size(req);
    uint8_t *arg = malloc(len + 1);
    int err = arg == NULL ? GM_ENOMEM
              : len == 0  ? GM_EPROTO /* a field out of bounds */
                          : gm_wire_messenger_request_encode(req, arg, len, &len);

    if (err != 0) {
        gm_why_set(why, "cannot encode the request: %s", gm_strerror(err));
    } else if ((err = ask_layer(node_dir, socket_path, GM_OP_MESSENGER, arg, len, &r, why)) ==
               0) {
        if (gm_wire_messenger_response_decode(r.answer, r.answer_len, out) != 0) {
            err = GM_EPROTO;
            gm_why_set(why, "the node sent a messenger answer this tool cannot read");
        }
        gm_control_response_free(&r);
    }
    free(arg);
    return err;
}

#include "crypto/common.h"

#include <string.h>

const char *gm_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case GM_EPROTO:
        return "malformed input";
    case GM_EAUTH:
        return "authentication failed";
    case GM_EREPLAY:
        return "replayed message";
    case GM_ESTATE:
        return "invalid state";
    case GM_ENOMEM:
        return "out of memory";
    case GM_ELIMIT:
        return "limit exceeded";
    case GM_EDH:
        return "key agreement produced a low-order result";
    case GM_EIO:
        return "input/output error";
    case GM_EEXIST:
        return "already exists";
    case GM_ENOENT:
        return "not found";
    case GM_EPASS:
        return "wrong or missing passphrase";
    case GM_ECLOSED:
        return "closed by the peer";
    case GM_ECONFLICT:
        return "name already belongs to another key";
    default:
        break;
    }
    if (err < 0 && err > -1000) {
        return strerror(-err); /* libuv codes are negative errno on Unix */
    }
    return "unknown error";
}

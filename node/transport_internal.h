/* Private to the transports: the base of listeners and dials, and the per-kind constructors. */
#ifndef GM_TRANSPORT_INTERNAL_H
#define GM_TRANSPORT_INTERNAL_H

#include "node/transport.h"

struct gm_listener {
    void (*close)(gm_listener_t *l);
};

struct gm_dial {
    void (*cancel)(gm_dial_t *d);
};

int gm__tcp_listen(uv_loop_t *loop, const char *addr, gm_accept_cb cb, void *ctx,
                   gm_listener_t **out, char bound[GM_ADDR_LEN]);
int gm__tcp_dial(uv_loop_t *loop, const char *addr, gm_dial_cb cb, void *ctx, gm_dial_t **out);
int gm__mem_listen(gm_mem_hub_t *hub, const char *name, gm_accept_cb cb, void *ctx,
                   gm_listener_t **out, char bound[GM_ADDR_LEN]);
int gm__mem_dial(gm_mem_hub_t *hub, const char *name, const char *from, gm_dial_cb cb, void *ctx,
                 gm_dial_t **out);

#endif

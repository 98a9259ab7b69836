/* Chooses the transport by address: "mem:NAME" on a hub, anything else TCP. */
#include <string.h>

#include "node/transport.h"
#include "node/transport_internal.h"

static const char *mem_name(const char *addr)
{
    return strncmp(addr, "mem:", 4) == 0 ? addr + 4 : NULL;
}

int gm_listen(uv_loop_t *loop, gm_mem_hub_t *hub, const char *addr, gm_accept_cb cb, void *ctx,
              gm_listener_t **out, char bound[GM_ADDR_LEN])
{
    const char *name = mem_name(addr);

    if (name != NULL) {
        return hub != NULL ? gm__mem_listen(hub, name, cb, ctx, out, bound) : GM_EPROTO;
    }
    return gm__tcp_listen(loop, addr, cb, ctx, out, bound);
}

void gm_listener_close(gm_listener_t *l)
{
    l->close(l);
}

int gm_dial(uv_loop_t *loop, gm_mem_hub_t *hub, const char *addr, gm_dial_cb cb, void *ctx,
            gm_dial_t **out)
{
    return gm_dial_from(loop, hub, addr, NULL, cb, ctx, out);
}

int gm_dial_from(uv_loop_t *loop, gm_mem_hub_t *hub, const char *addr, const char *from,
                 gm_dial_cb cb, void *ctx, gm_dial_t **out)
{
    const char *name = mem_name(addr);

    if (name != NULL) {
        return hub != NULL ? gm__mem_dial(hub, name, from != NULL ? mem_name(from) : NULL, cb,
                                          ctx, out)
                           : GM_EPROTO;
    }
    return gm__tcp_dial(loop, addr, cb, ctx, out);
}

void gm_dial_cancel(gm_dial_t *d)
{
    d->cancel(d);
}

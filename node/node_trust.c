/*
 * The node's trust store while it runs: reloading trust/ and revocations/
 * (SIGHUP), revocation lists from the mesh or the operator, and judging the
 * links up against the store once it changed.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "node/fileio.h"
#include "node/node_internal.h"

static void recheck_links(gm_node_t *n)
{
    gm_link_t *l = n->links;

    while (l != NULL) {
        gm_link_t *next = l->next; /* rechecking may close l */
        gm__link_recheck(l);
        l = next;
    }
}

/* A list past its next update still applies, but the operator should fetch a newer one. */
void gm__warn_stale_crls(gm_node_t *n)
{
    uint64_t now = gm__wall(n);
    char hex[2 * GM_ID_LEN + 1];

    for (size_t i = 0; i < n->trust->n_roots; i++) {
        const gm_crl_t *c = &n->trust->crls[i];
        if (c->encoded != NULL && c->body.next_update != 0 && now > c->body.next_update) {
            sodium_bin2hex(hex, sizeof hex, c->body.org_id, GM_ID_LEN);
            gm__log(n, GM_LOG_WARN,
                    "revocation list %llu of %s (org %.8s) is past its next update: "
                    "ask that CA for a newer one",
                    (unsigned long long)c->body.seq, n->trust->roots[i].body.org_name, hex);
        }
    }
}

int gm_node_reload_trust(gm_node_t *n, gm_why_t *why)
{
    gm_trust_t *fresh = malloc(sizeof *fresh);
    int err;

    if (fresh == NULL) {
        gm_why_set(why, "out of memory");
        return GM_ENOMEM;
    }
    gm_trust_init(fresh);
    err = gm_trust_load_dir(n->dir, fresh, why);
    if (err != 0) {
        gm_trust_close(fresh);
        free(fresh);
        return err;
    }
    /* A list newer than the disk's (from the mesh, not saved) stays: a reload never
     * brings a revoked node back. gm_trust_add_crl takes it from the old store. */
    for (size_t i = 0; i < n->trust->n_roots; i++) {
        if (n->trust->crls[i].encoded != NULL &&
            gm_trust_add_crl(fresh, &n->trust->crls[i]) == 0) {
            gm__log(n, GM_LOG_WARN, "kept a revocation list newer than the one on disk");
        }
    }
    /* the contents move, the object stays: layers above keep pointers to it */
    gm_trust_close(n->trust);
    *n->trust = *fresh;
    free(fresh);
    gm__log(n, GM_LOG_INFO, "trust reloaded from %s", n->dir);
    gm__warn_stale_crls(n);
    recheck_links(n);
    if (n->hooks.trust_changed != NULL) {
        n->hooks.trust_changed(n->hooks_ctx); /* the mesh drops revoked routes */
    }
    return 0;
}


int gm_node_add_crl(gm_node_t *n, const uint8_t *buf, size_t len, gm_why_t *why)
{
    gm_crl_t crl;
    char hex[2 * GM_ID_LEN + 1], path[GM_PATH_MAX];
    uint8_t org[GM_ID_LEN];
    uint64_t seq;
    int err;

    /* every link that comes up sends its lists: the one held costs a compare, not two
     * signature checks */
    for (size_t i = 0; i < n->trust->n_roots; i++) {
        const gm_crl_t *held = &n->trust->crls[i];
        if (held->encoded != NULL && held->encoded_len == len &&
            memcmp(held->encoded, buf, len) == 0) {
            gm_why_set(why, "revocation list is not newer than the one held");
            return GM_EREPLAY;
        }
    }
    err = gm_trust_open_crl(n->trust, buf, len, &crl);
    if (err != 0) {
        gm_why_set(why, "revocation list refused: %s",
                   err == GM_ENOENT ? "its organisation is not trusted" : gm_strerror(err));
        return err;
    }
    memcpy(org, crl.body.org_id, GM_ID_LEN);
    seq = crl.body.seq;
    err = gm_trust_add_crl(n->trust, &crl); /* takes it on success */
    if (err != 0) {
        gm_crl_free(&crl);
        gm_why_set(why, "revocation list %s", err == GM_EREPLAY ? "is not newer than the one held"
                                                               : gm_strerror(err));
        return err;
    }
    sodium_bin2hex(hex, sizeof hex, org, GM_ID_LEN);
    if (snprintf(path, sizeof path, "%s/%s", n->dir, GM_DIR_CRLS) >= (int)sizeof path ||
        gm_dir_ensure(path) != 0 ||
        snprintf(path, sizeof path, "%s/%s/%s.crl", n->dir, GM_DIR_CRLS, hex) >=
            (int)sizeof path) {
        gm_why_set(why, "%s/%s: cannot create", n->dir, GM_DIR_CRLS);
        err = GM_EIO;
    } else {
        err = gm_blob_save(path, buf, len, false, why);
    }
    /* applied in memory even if it could not be kept on disk: revocation must not wait */
    if (err != 0) {
        gm__log(n, GM_LOG_WARN, "%s", why->msg);
    }
    gm__log(n, GM_LOG_INFO, "revocation list %llu of org %.8s applied%s",
            (unsigned long long)seq, hex, err != 0 ? " (not saved)" : "");
    recheck_links(n);
    return 0;
}

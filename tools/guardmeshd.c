/* guardmeshd: runs one Guardmesh node in the foreground. */
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "node/mesh.h"
#include "node/messenger.h"
#include "node/node.h"

enum { O_DIR = 1, O_LISTEN, O_PEER, O_CONFIG, O_LOG, O_PASS, O_MESH_ID, O_MESH_KEY, O_DISC,
       O_HELP, O_VERSION };

static const struct option long_opts[] = {
    {"dir", required_argument, NULL, O_DIR},
    {"listen", required_argument, NULL, O_LISTEN},
    {"peer", required_argument, NULL, O_PEER},
    {"config", required_argument, NULL, O_CONFIG},
    {"log-level", required_argument, NULL, O_LOG},
    {"passphrase-file", required_argument, NULL, O_PASS},
    {"mesh-id", required_argument, NULL, O_MESH_ID},
    {"mesh-key-file", required_argument, NULL, O_MESH_KEY},
    {"discovery", no_argument, NULL, O_DISC},
    {"help", no_argument, NULL, O_HELP},
    {"version", no_argument, NULL, O_VERSION},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: guardmeshd --dir NODE_DIR [--listen HOST:PORT]... [--peer HOST:PORT]...\n"
            "                  [--config FILE] [--log-level LEVEL] [--passphrase-file F]\n"
            "                  [--mesh-id HEX] [--mesh-key-file F] [--discovery]\n"
            "\n"
            "Runs the node whose identity is in NODE_DIR (made by guardmesh ca issue) in the\n"
            "foreground, logging to stderr, until SIGINT or SIGTERM. SIGHUP reads\n"
            "NODE_DIR/trust/ and NODE_DIR/revocations/ again and closes links to peers\n"
            "they now refuse.\n"
            "  --listen HOST:PORT    accept links here (default 0.0.0.0:7300; [::]:7300 for\n"
            "                        IPv6; port 0 picks a free one); replaces the config's list\n"
            "  --peer HOST:PORT      dial this neighbour and keep redialling it (repeatable)\n"
            "  --config FILE         INI configuration (docs/config.md); options given here win\n"
            "  --log-level LEVEL     error, warn, info (default) or debug\n"
            "  --passphrase-file F   passphrase of a sealed node.key\n"
            "  --mesh-id HEX         32 hex digits; nodes of different mesh ids never link\n"
            "  --mesh-key-file F     64 hex digits: a mesh-wide key outsiders lack (XXpsk3)\n"
            "  --discovery           find neighbours on the LAN with multicast beacons\n"
            "The control socket NODE_DIR/control.sock answers guardmesh status and peers.\n");
}

struct args {
    const char *dir, *config;
    const char *listen[GM_MAX_ADDRS], *peers[GM_MAX_ADDRS], *settings[16][3];
    size_t n_listen, n_peers, n_settings;
};

static int fail(const char *msg)
{
    fprintf(stderr, "guardmeshd: %s\n", msg);
    return 1;
}

/* Collects options; settings are applied over the config file afterwards. */
static int parse_args(int argc, char **argv, struct args *a)
{
    static const char *const keys[][2] = {
        [O_LOG] = {"node", "log_level"},     [O_PASS] = {"node", "passphrase_file"},
        [O_MESH_ID] = {"mesh", "id"},        [O_MESH_KEY] = {"mesh", "key_file"},
        [O_DISC] = {"discovery", "enabled"},
    };
    int c;

    memset(a, 0, sizeof *a);
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        if (c == O_HELP || c == O_VERSION) {
            c == O_HELP ? usage(stdout) : (void)printf("guardmeshd 0.1.0\n");
            exit(0);
        } else if (c == O_DIR) {
            a->dir = optarg;
        } else if (c == O_CONFIG) {
            a->config = optarg;
        } else if ((c == O_LISTEN && a->n_listen == GM_MAX_ADDRS) ||
                   (c == O_PEER && a->n_peers == GM_MAX_ADDRS)) {
            return fail("too many --listen or --peer options");
        } else if (c == O_LISTEN || c == O_PEER) {
            (c == O_LISTEN ? a->listen : a->peers)[c == O_LISTEN ? a->n_listen++ : a->n_peers++] =
                optarg;
        } else if (c >= O_LOG && c <= O_DISC && a->n_settings == 16) {
            return fail("too many options");
        } else if (c >= O_LOG && c <= O_DISC) {
            a->settings[a->n_settings][0] = keys[c][0];
            a->settings[a->n_settings][1] = keys[c][1];
            a->settings[a->n_settings++][2] = c == O_DISC ? "true" : optarg;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || a->dir == NULL) {
        fprintf(stderr, "guardmeshd: %s (guardmeshd --help shows the options)\n",
                a->dir == NULL ? "--dir NODE_DIR is required" : "unexpected argument");
        return 2;
    }
    return 0;
}

static int build_config(const struct args *a, gm_node_config_t *cfg, gm_why_t *why)
{
    gm_config_defaults(cfg);
    if (a->config != NULL && gm_config_load(cfg, a->config, why) != 0) {
        return -1;
    }
    for (size_t i = 0; i < a->n_settings; i++) {
        if (gm_config_set(cfg, a->settings[i][0], a->settings[i][1], a->settings[i][2], why) !=
            0) {
            return -1;
        }
    }
    if (a->n_listen > 0) {
        cfg->n_listen = 0; /* the command line replaces the configured listeners */
    }
    for (size_t i = 0; i < a->n_listen; i++) {
        if (gm_config_set(cfg, "node", "listen", a->listen[i], why) != 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < a->n_peers; i++) {
        if (gm_config_set(cfg, "node", "peer", a->peers[i], why) != 0) {
            return -1;
        }
    }
    return 0;
}

struct daemon {
    uv_signal_t sigint, sigterm, sighup;
    gm_node_t *node;
};

static void on_signal_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_stopped(gm_node_t *n, void *arg)
{
    struct daemon *d = arg;

    (void)n;
    uv_close((uv_handle_t *)&d->sigint, on_signal_closed);
    uv_close((uv_handle_t *)&d->sigterm, on_signal_closed);
    uv_close((uv_handle_t *)&d->sighup, on_signal_closed);
}

/* SIGHUP: read trust/ and revocations/ again; links to peers now refused close. */
static void on_reload(uv_signal_t *h, int signum)
{
    struct daemon *d = h->data;
    gm_why_t why;

    (void)signum;
    if (gm_node_reload_trust(d->node, &why) != 0) {
        fprintf(stderr, "guardmeshd: trust not reloaded, the old one stays: %s\n", why.msg);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct daemon *d = h->data;

    (void)signum;
    gm_node_stop(d->node, on_stopped, d);
}

static int run(uv_loop_t *loop, const char *dir, const gm_node_config_t *cfg)
{
    gm_node_env_t env = {.loop = loop};
    struct daemon d;
    gm_mesh_t *mesh = NULL;
    gm_messenger_t *msgr = NULL;
    gm_why_t why;
    int rc = 0;

    if (gm_node_new(&env, dir, cfg, &d.node, &why) != 0) {
        return fail(why.msg);
    }
    if (gm_mesh_new(d.node, &mesh, &why) != 0) { /* the store: a corrupt one stops us here */
        gm_node_free(d.node);
        return fail(why.msg);
    }
    if (gm_messenger_new(d.node, mesh, &msgr, &why) != 0) {
        gm_mesh_free(mesh);
        uv_run(loop, UV_RUN_DEFAULT); /* the mesh is freed once its timer has closed */
        gm_node_free(d.node);
        return fail(why.msg);
    }
    uv_signal_init(loop, &d.sigint);
    uv_signal_init(loop, &d.sigterm);
    uv_signal_init(loop, &d.sighup);
    d.sigint.data = d.sigterm.data = d.sighup.data = &d;
    uv_signal_start(&d.sighup, on_reload, SIGHUP);
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    if (gm_node_start(d.node, &why) != 0) {
        rc = fail(why.msg);
        gm_node_stop(d.node, on_stopped, &d);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    gm_messenger_free(msgr);
    gm_mesh_free(mesh); /* commits what the last turn put */
    uv_run(loop, UV_RUN_DEFAULT);
    gm_node_free(d.node);
    return rc;
}

int main(int argc, char **argv)
{
    struct args a;
    gm_node_config_t cfg;
    gm_why_t why;
    uv_loop_t loop;
    int rc;

    if (sodium_init() < 0) {
        return fail("libsodium failed to initialise");
    }
    rc = parse_args(argc, argv, &a);
    if (rc != 0) {
        return rc;
    }
    if (build_config(&a, &cfg, &why) != 0 || gm_config_validate(&cfg, &why) != 0) {
        return fail(why.msg);
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&loop);
    rc = run(&loop, a.dir, &cfg);
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "guardmeshd: handles left open at exit\n");
    }
    sodium_memzero(&cfg, sizeof cfg); /* the mesh key */
    return rc;
}

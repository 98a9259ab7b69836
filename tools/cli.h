/* Shared pieces of the guardmesh command-line tool. */
#ifndef GM_TOOLS_CLI_H
#define GM_TOOLS_CLI_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "node/identity.h"
#include "proto/wire_control.h"
#include "proto/wire_mesh_control.h"

/* Exit statuses of every guardmesh command. */
enum {
    GM_EXIT_OK = 0,
    GM_EXIT_FAIL = 1,  /* the operation failed or the verdict is negative */
    GM_EXIT_USAGE = 2, /* bad command line */
};

/* "guardmesh ca ..." (argv[0] is "ca"). Returns an exit status. */
int gm_cli_ca(int argc, char **argv);

/* "guardmesh --dir NODE_DIR status|peers|routes|debug|revocations ..." (argv[0] is the command). */
int gm_cli_node(const char *dir, int argc, char **argv);

/* The mesh commands of gm_cli_node (tools/mesh_cmds.c); argv[0] is the command. */
int gm_cli_routes(const char *dir, int argc, char **argv);
int gm_cli_debug(const char *dir, int argc, char **argv);
int gm_cli_revocations(const char *dir, int argc, char **argv);

/* send, alert, position, inbox, outbox, group (tools/msg_cmds.c); argv[0] is the command. */
int gm_cli_messenger(const char *dir, int argc, char **argv);
bool gm_cli_is_messenger_cmd(const char *cmd);
/* debug send (argv[0] is "send"): test traffic through the messenger. */
int gm_cli_debug_send(const char *dir, int argc, char **argv);

/*
 * The mesh layer's counters for `status`: 0 with *out filled (release it with
 * gm_mesh_response_free), -1 when the node runs no mesh layer, or an exit
 * status after printing why.
 */
int gm_cli_mesh_status(const char *dir, gm_mesh_response_t *out);

/* Output helpers shared by the node commands. */
void gm_cli_fmt_age(uint64_t ms, char out[32]);
cJSON *gm_cli_counters_json(const gm_counter_t *c, size_t n);
void gm_cli_counters_print(const char *label, const gm_counter_t *c, size_t n);
/* Prints o as JSON on stdout and deletes it. */
void gm_cli_print_json(cJSON *o);

/* Prints "guardmesh: <msg>" to stderr and returns GM_EXIT_FAIL. */
int gm_cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses "2026-11-27T18:00:00Z" or a plain number of seconds since the epoch. */
int gm_cli_parse_time(const char *s, uint64_t *out);

/* Formats seconds since the epoch as ISO 8601 UTC into out (at least 21 bytes). */
void gm_cli_format_time(uint64_t t, char out[32]);

#endif

/* Shared pieces of the guardmesh command-line tool. */
#ifndef GM_TOOLS_CLI_H
#define GM_TOOLS_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "node/identity.h"

/* Exit statuses of every guardmesh command. */
enum {
    GM_EXIT_OK = 0,
    GM_EXIT_FAIL = 1,  /* the operation failed or the verdict is negative */
    GM_EXIT_USAGE = 2, /* bad command line */
};

/* "guardmesh ca ..." (argv[0] is "ca"). Returns an exit status. */
int gm_cli_ca(int argc, char **argv);

/* "guardmesh --dir NODE_DIR status|peers ..." (argv[0] is the command). */
int gm_cli_node(const char *dir, int argc, char **argv);

/* Prints "guardmesh: <msg>" to stderr and returns GM_EXIT_FAIL. */
int gm_cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses "2026-11-27T18:00:00Z" or a plain number of seconds since the epoch. */
int gm_cli_parse_time(const char *s, uint64_t *out);

/* Formats seconds since the epoch as ISO 8601 UTC into out (at least 21 bytes). */
void gm_cli_format_time(uint64_t t, char out[32]);

#endif

#define _XOPEN_SOURCE 700 /* strptime */
/* guardmesh: the command-line tool for operators and scripts. */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/cli.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: guardmesh COMMAND [OPTIONS]\n"
                 "\n"
                 "Commands:\n"
                 "  ca init     create an organisation (root key and certificate)\n"
                 "  ca issue    certify a node: guard handheld, vehicle relay, bridge, dispatch\n"
                 "  ca revoke   revoke a node's certificate (signed revocation list)\n"
                 "  ca trust    make a node trust another organisation, or install a revocation list\n"
                 "  ca show     print a certificate and whether it is acceptable\n"
                 "\n"
                 "  --dir NODE_DIR status [--json]   the running node: identity, listeners, counters\n"
                 "                                   (and the mesh layer's, with its directory size)\n"
                 "  --dir NODE_DIR peers [--json]    its links: peer, role, address, age, traffic\n"
                 "  --dir NODE_DIR routes [--json]   its routing table: destination, next hop, metric\n"
                 "  --dir NODE_DIR send (--to CALLSIGN@ORG | --group NAME) TEXT\n"
                 "                                   an end-to-end encrypted message\n"
                 "  --dir NODE_DIR alert [--kind sos|officer-down|assistance] [--lat L --lon L]\n"
                 "                 [--to CALLSIGN@ORG | --group NAME] [TEXT]\n"
                 "                                   an alert at emergency priority (everyone by default)\n"
                 "  --dir NODE_DIR position --lat L --lon L [--to ... | --group ...]\n"
                 "  --dir NODE_DIR inbox [--json] [--peek] [--wait SECONDS]\n"
                 "                                   received messages; marks them read\n"
                 "  --dir NODE_DIR outbox [--json]   sent messages: queued, relayed, delivered, read\n"
                 "  --dir NODE_DIR group create|add|remove NAME [CALLSIGN@ORG ...] | group list\n"
                 "  --dir NODE_DIR revocations add CRL_FILE\n"
                 "                                   apply a signed revocation list; the mesh floods it\n"
                 "  --dir NODE_DIR debug inject --to NODE_ID_HEX|--all [--size N] [--count K]\n"
                 "                 [--priority emergency|urgent|normal|bulk] [--lifetime SECONDS]\n"
                 "                 [--json]          test traffic: K bundles of N random bytes\n"
                 "  --dir NODE_DIR debug send (--to CALLSIGN@ORG | --group NAME) --count N TEXT\n"
                 "                                   test traffic: N end-to-end messages\n"
                 "\n"
                 "'guardmesh ca COMMAND --help' and 'guardmesh --dir NODE_DIR COMMAND --help'\n"
                 "describe each one.\n");
}

int gm_cli_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("guardmesh: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return GM_EXIT_FAIL;
}

int gm_cli_parse_time(const char *s, uint64_t *out)
{
    struct tm tm;
    char *end;
    unsigned long long v;

    memset(&tm, 0, sizeof tm);
    end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end != NULL && *end == 0) {
        time_t t = timegm(&tm);
        if (t < 0) {
            return -1;
        }
        *out = (uint64_t)t;
        return 0;
    }
    if (s[0] < '0' || s[0] > '9') {
        return -1;
    }
    v = strtoull(s, &end, 10);
    if (*end != 0) {
        return -1;
    }
    *out = v;
    return 0;
}

void gm_cli_format_time(uint64_t t, char out[32])
{
    struct tm tm;
    time_t tt = (time_t)t;

    if (t > (uint64_t)253402300799ull || gmtime_r(&tt, &tm) == NULL) {
        snprintf(out, 32, "%llu", (unsigned long long)t); /* beyond year 9999 */
        return;
    }
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        return gm_cli_fail("libsodium failed to initialise");
    }
    if (argc < 2) {
        usage(stderr);
        return GM_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return GM_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("guardmesh 0.1.0\n");
        return GM_EXIT_OK;
    }
    if (strcmp(argv[1], "--dir") == 0 && argc >= 3) {
        return gm_cli_node(argv[2], argc - 3, argv + 3);
    }
    if (strcmp(argv[1], "ca") == 0) {
        return gm_cli_ca(argc - 1, argv + 1);
    }
    fprintf(stderr, "guardmesh: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return GM_EXIT_USAGE;
}

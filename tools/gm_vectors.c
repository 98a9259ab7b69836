/* gm-vectors: runs public test vectors against Guardmesh's cryptography. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "tools/noise_vectors.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: gm-vectors noise [--verbose] FILE.json...\n"
                 "\n"
                 "Runs every Noise test vector (cacophony, snow or noise-c layout) in each FILE\n"
                 "whose protocol this build implements, checking each handshake and transport\n"
                 "message byte for byte and the handshake hash. Prints each failing vector and\n"
                 "ends with 'N passed, M failed, K skipped'. Exit status 1 if any vector failed,\n"
                 "2 on a usage error or an unreadable file.\n"
                 "  --verbose   also name each skipped vector and why\n");
}

int main(int argc, char **argv)
{
    gm_vector_counts_t counts = {0, 0, 0};
    int verbose = 0, files = 0, bad_file = 0;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc < 3 || strcmp(argv[1], "noise") != 0) {
        usage(stderr);
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "gm-vectors: libsodium failed to initialise\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--verbose") == 0) {
            verbose = 1;
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            files++;
            bad_file |= gm_noise_vectors_run_file(argv[i], stdout, verbose, &counts) != 0;
        }
    }
    if (files == 0) {
        usage(stderr);
        return 2;
    }
    printf("%u passed, %u failed, %u skipped\n", counts.passed, counts.failed, counts.skipped);
    if (bad_file) {
        return 2;
    }
    return counts.failed > 0 ? 1 : 0;
}

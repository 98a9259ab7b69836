/*
 * Runs Noise test vectors of the cacophony, snow and noise-c layouts
 * ({"vectors": [...]}) against crypto/noise.
 */
#ifndef GM_NOISE_VECTORS_H
#define GM_NOISE_VECTORS_H

#include <stdio.h>

typedef struct {
    unsigned passed, failed, skipped;
} gm_vector_counts_t;

/*
 * Runs every vector in the file at path, adding to *counts; prints one line
 * per failed vector (name and reason) to report, and per skipped vector when
 * verbose. Returns 0, or -1 if the file cannot be read or is not such a file
 * (a reason is printed).
 */
int gm_noise_vectors_run_file(const char *path, FILE *report, int verbose,
                              gm_vector_counts_t *counts);

#endif

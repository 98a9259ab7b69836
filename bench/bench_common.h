/* What the benchmark programs share: option numbers, sorting, CPU time. */
#ifndef GM_BENCH_COMMON_H
#define GM_BENCH_COMMON_H

#include <sys/resource.h>

/* Parses option opt's value v as a number in [min, max]; on error says so (as prog) and
 * returns -1. */
int bench_parse_num(const char *prog, const char *opt, const char *v, unsigned long min,
                    unsigned long max, unsigned long *out);

/* qsort comparison of doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);

/* User + system CPU seconds from a to z. */
double bench_cpu_s(const struct rusage *a, const struct rusage *z);

#endif

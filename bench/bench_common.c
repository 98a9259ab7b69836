#include "bench/bench_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int bench_parse_num(const char *prog, const char *opt, const char *v, unsigned long min,
                    unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long x;

    if (v == NULL || v[0] < '0' || v[0] > '9') {
        fprintf(stderr, "%s: %s needs a number\n", prog, opt);
        return -1;
    }
    errno = 0;
    x = strtoul(v, &end, 10);
    if (*end != 0 || errno != 0 || x < min || x > max) {
        fprintf(stderr, "%s: %s must be a number from %lu to %lu\n", prog, opt, min, max);
        return -1;
    }
    *out = x;
    return 0;
}

int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double tv_s(const struct timeval *tv)
{
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

double bench_cpu_s(const struct rusage *a, const struct rusage *z)
{
    return tv_s(&z->ru_utime) - tv_s(&a->ru_utime) + tv_s(&z->ru_stime) - tv_s(&a->ru_stime);
}

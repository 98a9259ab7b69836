#include "bench/bench_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

double bench_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bench_stat_t bench_stat(const double *v, size_t n)
{
    double *s = malloc(n * sizeof *s);
    bench_stat_t r = {0, 0, 0};

    if (s == NULL || n == 0) {
        free(s);
        return r;
    }
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, bench_cmp_double);
    r.min = s[0];
    r.max = s[n - 1];
    r.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
    free(s);
    return r;
}

double bench_quantile(double *v, size_t n, double p)
{
    size_t k;

    qsort(v, n, sizeof *v, bench_cmp_double);
    k = (size_t)(p * (double)n + 0.999999);
    return v[k == 0 ? 0 : (k > n ? n - 1 : k - 1)];
}

void bench_print_json_stat(const char *name, const double *v, size_t n, int prec, bool last)
{
    bench_stat_t s = bench_stat(v, n);

    printf("    \"%s\": {\"median\": %.*f, \"min\": %.*f, \"max\": %.*f, \"runs\": [", name, prec,
           s.median, prec, s.min, prec, s.max);
    for (size_t i = 0; i < n; i++) {
        printf("%s%.*f", i ? ", " : "", prec, v[i]);
    }
    printf("]}%s\n", last ? "" : ",");
}

long bench_proc_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    size_t flen = strlen(field);
    long kib = -1;
    FILE *f;

    if (pid == 0) {
        snprintf(path, sizeof path, "/proc/self/status");
    } else {
        snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    }
    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            kib = strtol(line + flen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

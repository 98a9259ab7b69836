/* What the benchmark programs share: option numbers, sorting, statistics, clocks, /proc. */
#ifndef GM_BENCH_COMMON_H
#define GM_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

/* Parses option opt's value v as a number in [min, max]; on error says so (as prog) and
 * returns -1. */
int bench_parse_num(const char *prog, const char *opt, const char *v, unsigned long min,
                    unsigned long max, unsigned long *out);

/* qsort comparison of doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);

/* User + system CPU seconds from a to z. */
double bench_cpu_s(const struct rusage *a, const struct rusage *z);

/* CLOCK_MONOTONIC in seconds (the same clock in every process of this machine). */
double bench_now_s(void);

/* Median, min and max of n > 0 values (v is not changed). */
typedef struct {
    double median, min, max;
} bench_stat_t;
bench_stat_t bench_stat(const double *v, size_t n);

/* The p-quantile (0..1, nearest rank) of n > 0 values, sorting v in place. */
double bench_quantile(double *v, size_t n, double p);

/* Prints `"name": {"median": .., "min": .., "max": .., "runs": [..]}` (and a comma unless
 * last), indented by four spaces, with prec decimals. */
void bench_print_json_stat(const char *name, const double *v, size_t n, int prec, bool last);

/* A "VmRSS"-like field of /proc/PID/status (pid 0: this process) in KiB; -1 if absent. */
long bench_proc_kib(pid_t pid, const char *field);

#endif

/*
 * nodewright-bench: one executable, one subcommand per benchmark.
 *
 * Adding a benchmark: write bench/<name>.c defining
 *   int nw_bench_<name>(int argc, char **argv);
 * declare it below and add one line to the table in bench/main.c.
 * bench/CMakeLists.txt globs every .c file here.
 */
#ifndef NW_BENCH_BENCH_H
#define NW_BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic seconds. */
double nw_bench_now(void);
/* CPU seconds this process has used (user + system), so figures stay
 * honest when other work shares the machine. */
double nw_bench_cpu_now(void);
/* Peak resident set size of this process so far, in MiB. */
double nw_bench_peak_rss_mib(void);
/* Small deterministic PRNG (xorshift64*), for seeded workloads. */
typedef struct nw_bench_rng {
  uint64_t s;
} nw_bench_rng;
uint64_t nw_bench_rand(nw_bench_rng *r);
/* Uniform in [0, n). */
size_t nw_bench_randn(nw_bench_rng *r, size_t n);

/* Subcommands. argv[0] is the subcommand name. */
int nw_bench_scheduling(int argc, char **argv);
int nw_bench_consolidation(int argc, char **argv);
int nw_bench_informer(int argc, char **argv);
int nw_bench_pricing(int argc, char **argv);

#endif

/* nodewright-bench: dispatches to the subcommand named first. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"

typedef struct subcommand {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *help;
} subcommand;

/* One line per benchmark. */
static const subcommand commands[] = {
    {"scheduling", nw_bench_scheduling,
     "--workload karpenter-diverse|aws-catalog --pods N [--constrained] "
     "[--json]"},
    {"consolidation", nw_bench_consolidation,
     "--nodes N [--pods-per-node 20] [--full] [--strategy default|balanced] "
     "[--json]"},
    {"informer", nw_bench_informer,
     "--kubeconfig PATH [--generate [--nodes N] [--pods N]] [--compact] "
     "[--page-size N] [--json]"},
    {"pricing", nw_bench_pricing, "[--runs N] [--plugin pricing.so] [--json]"},
};

double nw_bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double nw_bench_cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double nw_bench_peak_rss_mib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0;
}

uint64_t nw_bench_rand(nw_bench_rng *r) {
  r->s ^= r->s >> 12;
  r->s ^= r->s << 25;
  r->s ^= r->s >> 27;
  return r->s * 2685821657736338717ULL;
}

size_t nw_bench_randn(nw_bench_rng *r, size_t n) {
  return (size_t)(nw_bench_rand(r) % n);
}

static void usage(void) {
  fprintf(stderr, "usage: nodewright-bench <benchmark> [options]\n");
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    fprintf(stderr, "  %s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage();
    return 2;
  }
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    if (strcmp(argv[1], commands[i].name) == 0)
      return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "nodewright-bench: unknown benchmark \"%s\"\n", argv[1]);
  usage();
  return 2;
}

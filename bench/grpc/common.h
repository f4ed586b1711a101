// Shared by the cpay and C++ gRPC benchmark programs: timing, latency
// percentiles and the one output line both print, and a process's thread
// count and resident size.
#ifndef CPAY_BENCH_GRPC_COMMON_H_
#define CPAY_BENCH_GRPC_COMMON_H_

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline int64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int bench_cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

// Sorts `lat` and prints: `<mode> <concurrency> <ops> <seconds> <ops/s> <p50 us> <p90 us> <p99 us>`.
static inline void bench_report(const char *mode, int conc, int64_t *lat, size_t n, double secs) {
  qsort(lat, n, sizeof *lat, bench_cmp_i64);
  double p50 = n ? lat[n / 2] / 1e3 : 0, p90 = n ? lat[n * 9 / 10] / 1e3 : 0,
         p99 = n ? lat[n * 99 / 100] / 1e3 : 0;
  printf("RESULT %s %d %zu %.3f %.1f %.1f %.1f %.1f\n", mode, conc, n, secs, n / secs, p50, p90, p99);
  fflush(stdout);
}

// Reads the `Threads:` count and the `VmRSS:` size in kB of this process
// from /proc/self/status; either is -1 when missing.
static inline void bench_proc_status(long *threads, long *rss_kb) {
  *threads = -1;
  *rss_kb = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "Threads:", 8) == 0) *threads = atol(line + 8);
    if (strncmp(line, "VmRSS:", 6) == 0) *rss_kb = atol(line + 6);
  }
  fclose(f);
}

#endif  // CPAY_BENCH_GRPC_COMMON_H_

// The benchmark driver: one program linking every backend.
//
//   bench-driver DATA_DIR verify
//       encodes each library's parse of each workload and checks that the
//       bytes equal the input (the round trip every measurement relies on).
//   bench-driver DATA_DIR time ROUNDS MS [LIB...]
//       interleaved rounds: each round runs every library, workload and
//       operation for about MS milliseconds of thread CPU time; prints the
//       median MB/s (of input or output bytes) per combination.
//   bench-driver DATA_DIR peak LIB WORKLOAD
//       heap bytes (glibc mallinfo2: in use plus mmapped) held after one
//       decode, i.e. by the parsed message and the backend's small context.
//   bench-driver DATA_DIR count LIB WORKLOAD OP ITERS
//       runs ITERS operations with callgrind collection toggled on around
//       the loop only (run under valgrind --tool=callgrind
//       --collect-atstart=no); bench/run.py divides the total by ITERS.
#define _POSIX_C_SOURCE 200809L
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <valgrind/callgrind.h>

#include "backend.h"

static const char *const workload_names[BENCH_WORKLOADS] = {"small", "batch", "txpage", "fds"};
static const char *const workload_files[BENCH_WORKLOADS] = {
    "small_charge_request.pb", "medium_batch_charge_response.pb",
    "medium_transaction_page.pb", "large_descriptor_set.pb"};

static const bench_backend *const backends[] = {
    &bench_cpay,   &bench_cpay_alias, &bench_protobuf_c,
    &bench_nanopb, &bench_cpp_heap,   &bench_cpp_arena,
};
#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

typedef struct input {
  uint8_t *data;
  size_t len;
} input;

static input inputs[BENCH_WORKLOADS];

static int load(const char *dir) {
  for (int w = 0; w < BENCH_WORKLOADS; w++) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, workload_files[w]);
    FILE *f = fopen(path, "rb");
    if (!f) {
      perror(path);
      return 1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    inputs[w].data = malloc(n > 0 ? (size_t)n : 1);
    inputs[w].len = (size_t)n;
    if (!inputs[w].data || fread(inputs[w].data, 1, (size_t)n, f) != (size_t)n) {
      fprintf(stderr, "%s: read failed\n", path);
      fclose(f);
      return 1;
    }
    fclose(f);
  }
  return 0;
}

static double thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef int op_fn(void *);

// The measured loop; noinline so that the profile attributes it clearly.
__attribute__((noinline)) static int run_ops(op_fn *op, void *c, long iters) {
  int bad = 0;
  for (long i = 0; i < iters; i++) bad |= op(c);
  return bad;
}

static int verify(void) {
  int bad = 0;
  for (size_t b = 0; b < NBACKENDS; b++) {
    for (int w = 0; w < BENCH_WORKLOADS; w++) {
      void *c = backends[b]->setup(w, inputs[w].data, inputs[w].len);
      size_t n = 0;
      const uint8_t *out = NULL;
      int ok = c && !backends[b]->decode(c) && !backends[b]->encode(c);
      if (ok) out = backends[b]->output(c, &n);
      ok = ok && n == inputs[w].len && memcmp(out, inputs[w].data, n) == 0;
      printf("verify %s %s %s\n", backends[b]->name, workload_names[w],
             ok ? "ok" : "MISMATCH");
      bad |= !ok;
      if (c) backends[b]->teardown(c);
    }
  }
  return bad;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static const bench_backend *find_backend(const char *name) {
  for (size_t b = 0; b < NBACKENDS; b++) {
    if (strcmp(backends[b]->name, name) == 0) return backends[b];
  }
  return NULL;
}

static int time_all(int rounds, double ms, int nlibs, char **libs) {
  const bench_backend *sel[NBACKENDS];
  size_t nsel = 0;
  if (nlibs == 0) {
    for (size_t b = 0; b < NBACKENDS; b++) sel[nsel++] = backends[b];
  } else {
    for (int i = 0; i < nlibs && nsel < NBACKENDS; i++) {
      sel[nsel] = find_backend(libs[i]);
      if (!sel[nsel]) {
        fprintf(stderr, "unknown library %s\n", libs[i]);
        return 2;
      }
      nsel++;
    }
  }
  size_t ncombo = nsel * BENCH_WORKLOADS * 2;
  void **ctx = calloc(nsel * BENCH_WORKLOADS, sizeof(void *));
  long *iters = calloc(ncombo, sizeof(long));
  double *mbps = calloc(ncombo * (size_t)rounds, sizeof(double));
  if (!ctx || !iters || !mbps) return 1;
  // Setup and calibration: iterations per round so that one combination
  // takes about `ms` of CPU time.
  for (size_t b = 0; b < nsel; b++) {
    for (int w = 0; w < BENCH_WORKLOADS; w++) {
      void *c = sel[b]->setup(w, inputs[w].data, inputs[w].len);
      if (!c) return 1;
      ctx[b * BENCH_WORKLOADS + w] = c;
      for (int op = 0; op < 2; op++) {
        op_fn *fn = op ? sel[b]->encode : sel[b]->decode;
        long n = 1;
        double t;
        for (;;) {
          double t0 = thread_cpu();
          if (run_ops(fn, c, n)) {
            fprintf(stderr, "%s %s: operation failed\n", sel[b]->name, workload_names[w]);
            return 1;
          }
          t = thread_cpu() - t0;
          if (t > ms * 1e-3 / 4 || n > (1L << 30)) break;
          n *= 2;
        }
        long want = (long)((double)n * (ms * 1e-3) / (t > 0 ? t : 1e-9));
        iters[(b * BENCH_WORKLOADS + (size_t)w) * 2 + (size_t)op] = want > 1 ? want : 1;
      }
    }
  }
  for (int r = 0; r < rounds; r++) {
    for (size_t b = 0; b < nsel; b++) {
      for (int w = 0; w < BENCH_WORKLOADS; w++) {
        for (int op = 0; op < 2; op++) {
          size_t k = (b * BENCH_WORKLOADS + (size_t)w) * 2 + (size_t)op;
          void *c = ctx[b * BENCH_WORKLOADS + w];
          double t0 = thread_cpu();
          int bad = run_ops(op ? sel[b]->encode : sel[b]->decode, c, iters[k]);
          double t = thread_cpu() - t0;
          if (bad) return 1;
          mbps[k * (size_t)rounds + (size_t)r] =
              (double)inputs[w].len * (double)iters[k] / (t > 0 ? t : 1e-9) / 1e6;
        }
      }
    }
  }
  for (size_t b = 0; b < nsel; b++) {
    for (int w = 0; w < BENCH_WORKLOADS; w++) {
      for (int op = 0; op < 2; op++) {
        size_t k = (b * BENCH_WORKLOADS + (size_t)w) * 2 + (size_t)op;
        qsort(&mbps[k * (size_t)rounds], (size_t)rounds, sizeof(double), cmp_double);
        printf("time %s %s %s %.1f\n", sel[b]->name, workload_names[w],
               op ? "encode" : "decode", mbps[k * (size_t)rounds + (size_t)rounds / 2]);
      }
    }
    for (int w = 0; w < BENCH_WORKLOADS; w++) sel[b]->teardown(ctx[b * BENCH_WORKLOADS + w]);
  }
  free(ctx);
  free(iters);
  free(mbps);
  return 0;
}

static int count(const char *lib, const char *wname, const char *opname, long iters) {
  const bench_backend *be = find_backend(lib);
  int w = -1;
  for (int i = 0; i < BENCH_WORKLOADS; i++) {
    if (strcmp(workload_names[i], wname) == 0) w = i;
  }
  if (!be || w < 0 || (strcmp(opname, "decode") && strcmp(opname, "encode"))) {
    fprintf(stderr, "count: unknown library, workload or operation\n");
    return 2;
  }
  op_fn *fn = strcmp(opname, "encode") == 0 ? be->encode : be->decode;
  void *c = be->setup(w, inputs[w].data, inputs[w].len);
  if (!c) return 1;
  // Warm up: first-use costs (buffer growth, lazy initialisation) stay out.
  if (run_ops(fn, c, 3)) return 1;
  CALLGRIND_TOGGLE_COLLECT;
  int bad = run_ops(fn, c, iters);
  CALLGRIND_TOGGLE_COLLECT;
  be->teardown(c);
  return bad;
}

static size_t heap_in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

static int peak(const char *lib, const char *wname) {
  const bench_backend *be = find_backend(lib);
  int w = -1;
  for (int i = 0; i < BENCH_WORKLOADS; i++) {
    if (strcmp(workload_names[i], wname) == 0) w = i;
  }
  if (!be || w < 0) return 2;
  // Library start-up allocations (C++ default instances) stay out.
  void *warm = be->setup(w, inputs[w].data, inputs[w].len);
  if (!warm) return 1;
  be->teardown(warm);
  size_t before = heap_in_use();
  void *c = be->setup(w, inputs[w].data, inputs[w].len);
  if (!c) return 1;
  size_t after = heap_in_use();
  printf("peak %s %s %zu\n", lib, wname, after - before);
  be->teardown(c);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s DATA_DIR verify|time|count ...\n", argv[0]);
    return 2;
  }
  if (load(argv[1])) return 1;
  if (strcmp(argv[2], "verify") == 0) return verify();
  if (strcmp(argv[2], "time") == 0 && argc >= 5) {
    return time_all(atoi(argv[3]), atof(argv[4]), argc - 5, argv + 5);
  }
  if (strcmp(argv[2], "peak") == 0 && argc == 5) return peak(argv[3], argv[4]);
  if (strcmp(argv[2], "count") == 0 && argc == 7) {
    return count(argv[3], argv[4], argv[5], atol(argv[6]));
  }
  fprintf(stderr, "bad arguments\n");
  return 2;
}

// payments-soak: a soak test of payments-server. Starts the real server
// binary on a free loopback port, runs client threads against it for a set
// time (every call mode, random deadlines and cancellations, abrupt
// disconnects, oversized and undecodable messages, live subscriptions held
// open throughout; soak_client.c, soak_sub.c and soak_raw.c), checks every
// reply, then checks that each open subscription got exactly its
// customer's charges and every customer's transactions for double charges,
// stops the server with SIGTERM with a subscription per client open (each
// must end UNAVAILABLE) and requires a clean exit. The server's resident
// memory is sampled every 100 ms; its level at the end of the load must not
// exceed its level after the warm-up by the limit or more (levels: medians
// of samples).
//
//   payments-soak --server PATH [--clients N] [--seconds S] [--seed N]
//                 [--max-stored N] [--max-recv-size BYTES] [--workers N]
//                 [--rss-limit PCT] [--warmup PCT] [--warmup-min S] [--no-rss-check]
//                 [--only ACTION[,ACTION...]]
//
// Prints the seed (the action sequence of each client follows from it; the
// interleaving of threads does not), counts per method and status and per
// action, the memory samples, and a verdict. Exits 0 on PASS, 1 on FAIL, 2
// on a usage error.
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "soak.h"

#define MAX_WRONG_PRINTED 200
#define SERVER_START_MS 30000
// payments-server drains calls for up to 5 s after SIGTERM.
#define SERVER_EXIT_MS 15000
#define SETTLE_MS 1000
#define RSS_WINDOW_MS 2000

soak_state soak;

const char *const soak_action_names[A_COUNT] = {
    [A_CHARGE_NEW] = "charge",
    [A_CHARGE_DECLINED] = "charge-declined",
    [A_CHARGE_RETRY] = "charge-retry",
    [A_CHARGE_INVALID] = "charge-invalid",
    [A_CHARGE_DEADLINE] = "charge-deadline",
    [A_CHARGE_CANCEL] = "charge-cancel",
    [A_CHARGE_OVERSIZED] = "charge-oversized",
    [A_STREAM] = "stream",
    [A_STREAM_CANCEL] = "stream-cancel",
    [A_BATCH] = "batch",
    [A_BATCH_DEADLINE] = "batch-deadline",
    [A_BATCH_CANCEL] = "batch-cancel",
    [A_BATCH_OVERSIZED] = "batch-oversized",
    [A_CHAT] = "chat",
    [A_CHAT_DEADLINE] = "chat-deadline",
    [A_CHAT_CANCEL] = "chat-cancel",
    [A_CHAT_OVERSIZED] = "chat-oversized",
    [A_CHANNEL_DROP] = "channel-drop",
    [A_RAW_GARBAGE] = "raw-garbage",
    [A_CONN_CUT] = "connection-cut",
    [A_TCP_DROP] = "tcp-drop",
    [A_SUBSCRIBE] = "subscribe",
    [A_SUB_CANCEL] = "subscribe-cancel",
    [A_SUB_DEADLINE] = "subscribe-deadline",
    [A_SUB_CLOSE] = "subscribe-close",
    [A_WATCH_CYCLE] = "watch-cycle",
    [A_SUB_SHUTDOWN] = "subscribe-shutdown",
    [A_VERIFY] = "customer-check",
};

static const char *const kMethodNames[SOAK_METHODS] = {"ChargeCard", "StreamTransactions",
                                                       "BatchCharge", "PaymentChat"};

// ---- helpers shared with the clients ------------------------------------------

void soak_wrong(const soak_client *c, soak_action a, const char *fmt, ...) {
  long n = atomic_fetch_add(&soak.wrong, 1) + 1;
  if (n > MAX_WRONG_PRINTED) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "payments-soak: WRONG REPLY (client %d, %s): %s\n", c ? c->index : -1,
          soak_action_names[a], msg);
  if (n == MAX_WRONG_PRINTED) {
    fprintf(stderr, "payments-soak: (further wrong replies are counted, not printed)\n");
  }
}

int64_t soak_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void soak_sleep_ms(int64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

uint64_t soak_rand(soak_client *c) {  // splitmix64
  uint64_t z = (c->rng += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

int64_t soak_range(soak_client *c, int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  return lo + (int64_t)(soak_rand(c) % (uint64_t)(hi - lo + 1));
}

// ---- options --------------------------------------------------------------------

static int usage(void) {
  fprintf(stderr,
          "usage: payments-soak --server PATH [--clients N] [--seconds S] [--seed N]\n"
          "                     [--max-stored N] [--max-recv-size BYTES] [--workers N]\n"
          "                     [--rss-limit PCT] [--warmup PCT] [--warmup-min S]\n"
          "                     [--no-rss-check]\n"
          "                     [--only ACTION[,ACTION...]]\n");
  return 2;
}

static bool parse_num(const char *opt, const char *v, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double d = v ? strtod(v, &end) : 0;
  if (!v || errno || end == v || *end || d < lo || d > hi) {
    fprintf(stderr, "payments-soak: %s needs a number from %g to %g, not '%s'\n", opt, lo, hi,
            v ? v : "");
    return false;
  }
  *out = d;
  return true;
}

// "chat,stream-cancel" -> the bits of those actions.
static bool parse_only(const char *v, uint32_t *out) {
  *out = 0;
  for (const char *p = v; *p;) {
    size_t len = strcspn(p, ",");
    int found = -1;
    for (int a = 0; a < A_COUNT && found < 0; a++) {
      if (a != A_VERIFY && strlen(soak_action_names[a]) == len &&
          memcmp(soak_action_names[a], p, len) == 0) {
        found = a;
      }
    }
    if (found < 0) {
      fprintf(stderr, "payments-soak: --only: unknown action '%.*s'; actions:", (int)len, p);
      for (int a = 0; a < A_COUNT; a++) {
        if (a != A_VERIFY) fprintf(stderr, " %s", soak_action_names[a]);
      }
      fprintf(stderr, "\n");
      return false;
    }
    *out |= 1u << found;
    p += len;
    if (*p == ',') p++;
  }
  return *out != 0;
}

static int parse_opts(int argc, char **argv, soak_opts *o) {
  *o = (soak_opts){.clients = 32, .seconds = 60, .max_stored = 4096, .max_recv_size = 65536,
                   .rss_check = true, .rss_limit_pct = 5, .warmup_pct = 20,
                   .warmup_min_s = 30};
  o->seed = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    double d;
    if (strcmp(a, "--no-rss-check") == 0) {
      o->rss_check = false;
      continue;
    }
    if (strcmp(a, "--help") == 0) return usage();
    i++;
    if (strcmp(a, "--server") == 0 && v) {
      o->server = v;
    } else if (strcmp(a, "--clients") == 0) {
      if (!parse_num(a, v, 1, 1024, &d)) return 2;
      o->clients = (int)d;
    } else if (strcmp(a, "--seconds") == 0) {
      if (!parse_num(a, v, 0.1, 86400, &d)) return 2;
      o->seconds = d;
    } else if (strcmp(a, "--seed") == 0) {
      char *end;
      errno = 0;
      unsigned long long s = v ? strtoull(v, &end, 10) : 0;
      if (!v || errno || end == v || *end) {
        fprintf(stderr, "payments-soak: --seed needs a number, not '%s'\n", v ? v : "");
        return 2;
      }
      o->seed = s;
    } else if (strcmp(a, "--max-stored") == 0) {
      // The retry window is a quarter of it, and a customer check must fit.
      if (!parse_num(a, v, 64, 10000000, &d)) return 2;
      o->max_stored = (int)d;
    } else if (strcmp(a, "--max-recv-size") == 0) {
      if (!parse_num(a, v, 1024, 64 << 20, &d)) return 2;
      o->max_recv_size = (int)d;
    } else if (strcmp(a, "--workers") == 0) {
      if (!parse_num(a, v, 1, 1024, &d)) return 2;
      o->workers = (int)d;
    } else if (strcmp(a, "--rss-limit") == 0) {
      if (!parse_num(a, v, 0, 1000, &d)) return 2;
      o->rss_limit_pct = d;
    } else if (strcmp(a, "--only") == 0 && v) {
      if (!parse_only(v, &o->only)) return 2;
    } else if (strcmp(a, "--warmup") == 0) {
      if (!parse_num(a, v, 0, 90, &d)) return 2;
      o->warmup_pct = d;
    } else if (strcmp(a, "--warmup-min") == 0) {
      if (!parse_num(a, v, 1, 86400, &d)) return 2;
      o->warmup_min_s = d;
    } else {
      return usage();
    }
  }
  if (!o->server) {
    fprintf(stderr, "payments-soak: --server PATH (the payments-server binary) is required\n");
    return usage();
  }
  return 0;
}

// ---- the server process ------------------------------------------------------------

typedef struct server_proc {
  pid_t pid;
  int out;  // read end of its stdout
  bool exited;
  int status;  // from waitpid, once exited
} server_proc;

// Starts the server on port 0 (the kernel picks a free one) and reads the
// port from its first line. False with a message printed on failure.
static bool server_start(server_proc *sp, const soak_opts *o, int *port) {
  char stored[24], recv[24], workers[24];
  snprintf(stored, sizeof stored, "%d", o->max_stored);
  snprintf(recv, sizeof recv, "%d", o->max_recv_size);
  snprintf(workers, sizeof workers, "%d", o->workers);
  char *argv[] = {(char *)o->server, "--listen", "127.0.0.1:0", "--max-stored", stored,
                  "--max-recv-size", recv, "--workers", workers, NULL};
  if (!o->workers) argv[7] = NULL;
  int fds[2];
  if (pipe(fds) != 0) {
    fprintf(stderr, "payments-soak: pipe: %s\n", strerror(errno));
    return false;
  }
  // The server's stdin is /dev/null, stdout the pipe, stderr ours (so a
  // sanitizer report lands in the test log). It gets SIGKILL if the soak
  // dies first, so no server outlives an interrupted run.
  pid_t parent = getpid();
  sp->pid = fork();
  if (sp->pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0 || dup2(fds[1], 1) < 0) _exit(127);
    close(fds[0]);
    close(fds[1]);
    close(null);
    execv(o->server, argv);
    fprintf(stderr, "payments-soak: cannot run %s: %s\n", o->server, strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  if (sp->pid < 0) {
    fprintf(stderr, "payments-soak: fork: %s\n", strerror(errno));
    close(fds[0]);
    return false;
  }
  sp->out = fds[0];
  char line[512];
  size_t len = 0;
  int64_t until = soak_now_ms() + SERVER_START_MS;
  while (len < sizeof line - 1 && !memchr(line, '\n', len)) {
    struct pollfd p = {sp->out, POLLIN, 0};
    int64_t left = until - soak_now_ms();
    if (left <= 0 || poll(&p, 1, (int)left) <= 0) break;
    ssize_t n = read(sp->out, line + len, sizeof line - 1 - len);
    if (n <= 0) break;
    len += (size_t)n;
  }
  line[len] = '\0';
  const char *p = strstr(line, "(port ");
  if (!p || sscanf(p, "(port %d", port) != 1 || *port <= 0) {
    fprintf(stderr, "payments-soak: %s did not report its port within %d s; it printed: '%s'\n",
            o->server, SERVER_START_MS / 1000, line);
    kill(sp->pid, SIGKILL);
    waitpid(sp->pid, NULL, 0);
    close(sp->out);
    return false;
  }
  printf("%s", line);
  return true;
}

// True while the server runs; records its exit status otherwise.
static bool server_alive(server_proc *sp) {
  if (sp->exited) return false;
  pid_t r = waitpid(sp->pid, &sp->status, WNOHANG);
  if (r == sp->pid) sp->exited = true;
  return !sp->exited;
}

static void describe_exit(int status, char *buf, size_t size) {
  if (WIFEXITED(status)) {
    snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  } else {
    snprintf(buf, size, "wait status %#x", status);
  }
}

// Echoes what the server printed after its first line.
static void server_drain_output(server_proc *sp) {
  char buf[4096];
  for (;;) {
    struct pollfd p = {sp->out, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) break;
    ssize_t n = read(sp->out, buf, sizeof buf);
    if (n <= 0) break;
    fwrite(buf, 1, (size_t)n, stdout);
  }
}

// VmRSS of `pid` in KiB, or -1; *threads gets its thread count.
static long rss_kib(pid_t pid, int *threads) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long kib = -1;
  *threads = 0;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) continue;
    if (sscanf(line, "Threads: %d", threads) == 1) break;
  }
  fclose(f);
  return kib;
}

// RSS samples (KiB) at times (ms since the start).
typedef struct rss_log {
  int64_t *t;
  long *kib;
  size_t count, cap;
} rss_log;

static void rss_log_add(rss_log *l, int64_t t, long kib) {
  if (l->count == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 1024;
    int64_t *nt = realloc(l->t, cap * sizeof *nt);
    if (nt) l->t = nt;
    long *nk = realloc(l->kib, cap * sizeof *nk);
    if (nk) l->kib = nk;
    if (!nt || !nk) return;  // a sample less
    l->cap = cap;
  }
  l->t[l->count] = t;
  l->kib[l->count++] = kib;
}

static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

// The median of the samples taken in [from, to); -1 when there are none.
static long rss_log_median(const rss_log *l, int64_t from, int64_t to) {
  long *v = malloc((l->count ? l->count : 1) * sizeof *v);
  if (!v) return -1;
  size_t n = 0;
  for (size_t i = 0; i < l->count; i++) {
    if (l->t[i] >= from && l->t[i] < to) v[n++] = l->kib[i];
  }
  qsort(v, n, sizeof *v, cmp_long);
  long m = n ? v[n / 2] : -1;
  free(v);
  return m;
}

// ---- the run ---------------------------------------------------------------------

static void *client_main(void *arg) {
  soak_client *c = arg;
  while (!atomic_load(&soak.stop)) soak_client_step(c);
  return NULL;
}

static long total_calls(int method, int code) {
  long n = 0;
  for (int m = 0; m < SOAK_METHODS; m++) {
    if (method >= 0 && m != method) continue;
    for (int k = 0; k < SOAK_CODES; k++) {
      if (code < 0 || k == code) n += atomic_load(&soak.calls[m][k]);
    }
  }
  return n;
}

static int code_width(int code) {
  int w = (int)strlen(cpay_grpc_code_name((cpay_grpc_code)code));
  return w < 9 ? 9 : w;
}

static void print_counts(void) {
  bool used[SOAK_CODES] = {false};
  for (int k = 0; k < SOAK_CODES; k++) used[k] = total_calls(-1, k) > 0;
  printf("\ncalls by method and status:\n  %-20s %9s", "method", "total");
  for (int k = 0; k < SOAK_CODES; k++) {
    if (used[k]) printf(" %*s", code_width(k), cpay_grpc_code_name((cpay_grpc_code)k));
  }
  printf("\n");
  for (int m = 0; m <= SOAK_METHODS; m++) {
    printf("  %-20s %9ld", m < SOAK_METHODS ? kMethodNames[m] : "all",
           total_calls(m < SOAK_METHODS ? m : -1, -1));
    for (int k = 0; k < SOAK_CODES; k++) {
      if (!used[k]) continue;
      printf(" %*ld", code_width(k), total_calls(m < SOAK_METHODS ? m : -1, k));
    }
    printf("\n");
  }
  long no_status = 0;
  for (int m = 0; m < SOAK_METHODS; m++) no_status += atomic_load(&soak.no_status[m]);
  if (no_status) printf("  calls that failed without a gRPC status: %ld\n", no_status);
  printf("\nactions:\n");
  int col = 0;
  for (int a = 0; a < A_COUNT; a++) {
    col += printf("  %s %ld", soak_action_names[a], atomic_load(&soak.actions[a]));
    if (col > 70 || a == A_COUNT - 1) {
      printf("\n");
      col = 0;
    }
  }
}

int main(int argc, char **argv) {
  int rc = parse_opts(argc, argv, &soak.opts);
  if (rc) return rc;
  const soak_opts *o = &soak.opts;
  setvbuf(stdout, NULL, _IOLBF, 0);
  // A client writing to a connection the server just reset must not die.
  signal(SIGPIPE, SIG_IGN);
  grpc_init();  // for soak_raw.c's channels
  printf("payments-soak: seed %" PRIu64 " (rerun with --seed %" PRIu64 "), %d clients, %g s\n",
         o->seed, o->seed, o->clients, o->seconds);
  server_proc sp = {0};
  if (!server_start(&sp, o, &soak.port)) {
    grpc_shutdown();
    return 1;
  }
  soak.start_unix = (int64_t)time(NULL);
  printf("payments-soak: server pid %d on 127.0.0.1:%d (--max-stored %d, --max-recv-size %d",
         (int)sp.pid, soak.port, o->max_stored, o->max_recv_size);
  if (o->workers) printf(", --workers %d", o->workers);
  printf(")\n");

  soak_client *clients = calloc((size_t)o->clients, sizeof *clients);
  pthread_t *threads = calloc((size_t)o->clients, sizeof *threads);
  if (!clients || !threads) {
    fprintf(stderr, "payments-soak: out of memory for %d clients\n", o->clients);
    return 1;
  }
  int started = 0;
  bool setup_ok = true;
  for (int i = 0; i < o->clients && setup_ok; i++) {
    setup_ok = soak_client_init(&clients[i], i) &&
               pthread_create(&threads[i], NULL, client_main, &clients[i]) == 0;
    if (setup_ok) started++;
  }

  // Load: sample the server's memory every 100 ms and watch it stay alive.
  int64_t t0 = soak_now_ms(), run_ms = (int64_t)(o->seconds * 1000);
  // The server's RSS rises for the first 30-50 s of this load and then stays
  // level (C-core's per-connection buffers and windows grow with the traffic,
  // the allocator keeps its high-water mark), so the warm-up is at least
  // --warmup-min seconds, not only a share of the run.
  int64_t warm_at = (int64_t)(run_ms * o->warmup_pct / 100);
  if (warm_at < (int64_t)(o->warmup_min_s * 1000)) warm_at = (int64_t)(o->warmup_min_s * 1000);
  long warm_kib = -1, end_kib = -1, peak_kib = 0, low_kib = -1;
  long timeline[10] = {0};  // RSS at each tenth of the run, for the report
  int thread_line[10] = {0};
  rss_log log = {0};        // the samples after the warm-up
  int64_t warm_ms = -1;
  bool crashed = false;
  while (setup_ok && soak_now_ms() - t0 < run_ms) {
    soak_sleep_ms(100);
    if (!server_alive(&sp)) {
      crashed = true;
      break;
    }
    int nthreads;
    long kib = rss_kib(sp.pid, &nthreads);
    int64_t t = soak_now_ms() - t0;
    int tenth = (int)(t * 10 / run_ms);
    if (tenth >= 1 && tenth <= 10 && !timeline[tenth - 1]) {
      timeline[tenth - 1] = kib;
      thread_line[tenth - 1] = nthreads;
    }
    // The warm-up also waits until both of the server's rings are full, so
    // the levels compare what stays, not the store filling up.
    bool full = atomic_load(&soak.max_tid) >= (uint64_t)o->max_stored &&
                atomic_load(&soak.successes) >= (uint64_t)o->max_stored;
    if (warm_ms < 0 && t >= warm_at && full) warm_ms = t;
    if (warm_ms >= 0 && kib > 0) {
      rss_log_add(&log, t, kib);
      if (kib > peak_kib) peak_kib = kib;
      if (low_kib < 0 || kib < low_kib) low_kib = kib;
    }
  }
  atomic_store(&soak.stop, true);
  for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
  int64_t load_ms = soak_now_ms() - t0;
  // Levels, not single samples: the medians of the first and the last
  // tenth of the run after the warm-up (at least RSS_WINDOW_MS each), so a
  // passing peak (large messages in flight) does not count as growth.
  if (log.count) {
    int64_t last = log.t[log.count - 1];
    int64_t window = (last - warm_ms) / 10;
    if (window < RSS_WINDOW_MS) window = RSS_WINDOW_MS;
    warm_kib = rss_log_median(&log, warm_ms, warm_ms + window);
    end_kib = rss_log_median(&log, last - window, last + 1);
  }
  free(log.t);
  free(log.kib);

  // The final check: with no load any more, the open subscriptions and
  // every customer's transactions. Then a subscription per client to be
  // open while the server shuts down.
  if (!crashed && setup_ok) {
    soak_sleep_ms(SETTLE_MS);  // abandoned calls still queued in the server land first
    for (int i = 0; i < started && server_alive(&sp); i++) soak_client_final_check(&clients[i]);
    for (int i = 0; i < started && server_alive(&sp); i++) soak_sub_shutdown_open(&clients[i]);
    crashed = !server_alive(&sp);
  }

  // SIGTERM: the server drains and must exit 0.
  char how[160] = "not stopped";
  bool clean_exit = false;
  if (!crashed) {
    kill(sp.pid, SIGTERM);
    int64_t until = soak_now_ms() + SERVER_EXIT_MS;
    while (server_alive(&sp) && soak_now_ms() < until) soak_sleep_ms(20);
    if (server_alive(&sp)) {
      kill(sp.pid, SIGKILL);
      waitpid(sp.pid, &sp.status, 0);
      snprintf(how, sizeof how, "still running %d s after SIGTERM (killed)", SERVER_EXIT_MS / 1000);
    } else {
      describe_exit(sp.status, how, sizeof how);
      clean_exit = WIFEXITED(sp.status) && WEXITSTATUS(sp.status) == 0;
    }
  } else {
    if (!sp.exited) waitpid(sp.pid, &sp.status, 0);
    char st[80];
    describe_exit(sp.status, st, sizeof st);
    snprintf(how, sizeof how, "died during the run: %s", st);
  }
  server_drain_output(&sp);
  close(sp.out);
  if (clean_exit) {
    for (int i = 0; i < started; i++) soak_sub_shutdown_check(&clients[i]);
  }
  for (int i = 0; i < o->clients; i++) soak_client_free(&clients[i]);
  free(clients);
  free(threads);
  grpc_shutdown();

  // ---- report ----
  print_counts();
  long wrong = atomic_load(&soak.wrong);
  printf("\nidempotency: %" PRIu64 " keys sent, %ld retries, %ld customers checked, %ld "
         "transactions checked, %ld double charges\n",
         (uint64_t)atomic_load(&soak.keys_sent), atomic_load(&soak.retries),
         atomic_load(&soak.customers_checked), atomic_load(&soak.txns_checked),
         atomic_load(&soak.double_charges));
  printf("subscriptions: %ld opened (%ld long-lived), %ld transactions streamed to them and "
         "checked, %ld charges seen to arrive, %ld found to hold exactly their customer's "
         "charges\n",
         atomic_load(&soak.subs_opened), atomic_load(&soak.watchers_opened),
         atomic_load(&soak.live_txns), atomic_load(&soak.charges_awaited),
         atomic_load(&soak.exact_checks));
  printf("load: %.1f s, %ld calls (%.0f/s)\n", load_ms / 1000.0, total_calls(-1, -1),
         total_calls(-1, -1) * 1000.0 / (double)(load_ms ? load_ms : 1));
  bool rss_ok = true;
  if (warm_kib > 0 && end_kib > 0) {
    double growth = 100.0 * (double)(end_kib - warm_kib) / (double)warm_kib;
    printf("server RSS: warm %ld KiB (from %.1f s), end %ld KiB, growth %+.2f%% (limit %g%%%s); "
           "%ld..%ld KiB after warm-up\n",
           warm_kib, warm_ms / 1000.0, end_kib, growth, o->rss_limit_pct,
           o->rss_check ? "" : ", not enforced", low_kib, peak_kib);
    rss_ok = !o->rss_check || growth < o->rss_limit_pct;
  } else if (warm_at >= run_ms) {
    printf("server RSS: no warm sample: the run ends before the warm-up (%.1f s)%s\n",
           warm_at / 1000.0,
           o->rss_check ? "; use more --seconds or a smaller --warmup-min" : ", not enforced");
    rss_ok = !o->rss_check;
  } else {
    printf("server RSS: no warm sample (the server's store of %d never filled: %" PRIu64
           " charges, %" PRIu64 " successes seen%s)\n",
           o->max_stored, (uint64_t)atomic_load(&soak.max_tid),
           (uint64_t)atomic_load(&soak.successes),
           o->rss_check ? "; use a smaller --max-stored or more --seconds" : ", not enforced");
    rss_ok = !o->rss_check;
  }
  printf("server RSS at each tenth of the run (KiB):");
  for (int i = 0; i < 10; i++) printf(" %ld", timeline[i]);
  printf("\nserver threads at each tenth of the run:");
  for (int i = 0; i < 10; i++) printf(" %d", thread_line[i]);
  printf("\nserver: %s\n", how);
  printf("wrong replies: %ld\n", wrong);

  // Each mode must have worked at least once, or the run proved nothing
  // (streams end at their deadline or by cancellation, never OK).
  bool all_modes = true;
  for (int m = 0; m < SOAK_METHODS; m++) {
    int code = m == SOAK_STREAM ? CPAY_GRPC_DEADLINE_EXCEEDED : CPAY_GRPC_OK;
    if (atomic_load(&soak.calls[m][code]) == 0) {
      printf("payments-soak: no %s call ended %s\n", kMethodNames[m],
             cpay_grpc_code_name((cpay_grpc_code)code));
      all_modes = false;
    }
  }
  if (atomic_load(&soak.customers_checked) == 0 || atomic_load(&soak.txns_checked) == 0) {
    printf("payments-soak: no customer's transactions were checked\n");
    all_modes = false;
  }
  // A subscriber must have seen a charge arrive, and a long-lived one must
  // have been found exact, when those actions ran.
  if (atomic_load(&soak.actions[A_SUBSCRIBE]) + atomic_load(&soak.actions[A_SUB_CANCEL]) > 0 &&
      atomic_load(&soak.charges_awaited) == 0) {
    printf("payments-soak: no charge was seen to arrive on a subscription\n");
    all_modes = false;
  }
  if (atomic_load(&soak.watchers_opened) > 0 && atomic_load(&soak.exact_checks) == 0) {
    printf("payments-soak: no long-lived subscriber was checked to hold exactly its charges\n");
    all_modes = false;
  }
  bool pass = setup_ok && !crashed && clean_exit && wrong == 0 && rss_ok && all_modes;
  printf("payments-soak: %s (seed %" PRIu64 ": %ld wrong replies, server %s, RSS %s)\n",
         pass ? "PASS" : "FAIL", o->seed, wrong, clean_exit ? "exited 0" : how,
         !o->rss_check ? "not checked" : rss_ok ? "flat" : "grew or not measured");
  return pass ? 0 : 1;
}

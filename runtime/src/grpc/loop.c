// Event loops: a fixed set of threads looping on grpc_completion_queue_next
// over one shared CQ_NEXT queue, each running the cpay__op that a
// completion carries as its tag, and the loop's timers when they are due. Sharing the queue lets the thread that
// polled a connection run the completions it produced, with no hand-over to
// another thread; cpay__op_run keeps the completions of one call in order
// and one at a time (rpc.c). A channel's own loop starts on its first
// asynchronous call.
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "grpc/internal.h"

struct cpay_loop {
  grpc_completion_queue *cq;
  // The armed timers: a binary min-heap on `at` (each timer knows its
  // index), so arming and disarming cost O(log n) with one timer per open
  // stream.
  pthread_mutex_t tmu;
  cpay__timer **heap;
  size_t heap_len, heap_cap;
  atomic_llong earliest;  // heap[0]->at; INT64_MAX: none
  int count;  // threads asked for
  pthread_t *threads;
  atomic_int started;  // 1 once every thread runs; read without the lock
  int running;         // threads created
  pthread_mutex_t mu;  // orders the lazy start
};

static _Thread_local bool tl_event_thread;

bool cpay__on_event_thread(void) { return tl_event_thread; }

// ---- timers ------------------------------------------------------------------

static void heap_set(cpay_loop *l, size_t i, cpay__timer *t) {
  l->heap[i] = t;
  t->idx = i;
}

static void sift_up(cpay_loop *l, size_t i) {
  cpay__timer *t = l->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (l->heap[parent]->at <= t->at) break;
    heap_set(l, i, l->heap[parent]);
    i = parent;
  }
  heap_set(l, i, t);
}

static void sift_down(cpay_loop *l, size_t i) {
  cpay__timer *t = l->heap[i];
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= l->heap_len) break;
    if (child + 1 < l->heap_len && l->heap[child + 1]->at < l->heap[child]->at) child++;
    if (t->at <= l->heap[child]->at) break;
    heap_set(l, i, l->heap[child]);
    i = child;
  }
  heap_set(l, i, t);
}

// Takes the timer at `i` out of the heap; tmu held.
static void heap_remove(cpay_loop *l, size_t i) {
  cpay__timer *t = l->heap[i];
  t->armed = false;
  cpay__timer *last = l->heap[--l->heap_len];
  if (i == l->heap_len) return;
  heap_set(l, i, last);
  if (i > 0 && l->heap[(i - 1) / 2]->at > last->at) {
    sift_up(l, i);
  } else {
    sift_down(l, i);
  }
}

static void publish_earliest(cpay_loop *l) {
  atomic_store(&l->earliest, l->heap_len ? (long long)l->heap[0]->at : INT64_MAX);
}

int cpay__timer_arm(cpay_loop *l, cpay__timer *t, int64_t at) {
  pthread_mutex_lock(&l->tmu);
  if (l->heap_len == l->heap_cap) {
    size_t cap = l->heap_cap ? l->heap_cap * 2 : 64;
    cpay__timer **heap = realloc(l->heap, cap * sizeof *heap);
    if (!heap) {
      pthread_mutex_unlock(&l->tmu);
      return -1;
    }
    l->heap = heap;
    l->heap_cap = cap;
  }
  t->at = at;
  t->armed = true;
  heap_set(l, l->heap_len++, t);
  sift_up(l, t->idx);
  bool first = t->idx == 0;
  publish_earliest(l);
  pthread_mutex_unlock(&l->tmu);
  return first ? 1 : 0;
}

bool cpay__timer_disarm(cpay_loop *l, cpay__timer *t) {
  pthread_mutex_lock(&l->tmu);
  bool was = t->armed;
  if (was) {
    heap_remove(l, t->idx);
    publish_earliest(l);
  }
  pthread_mutex_unlock(&l->tmu);
  return was;
}

// Runs the timers that are due, each on exactly one thread, outside the
// lock (a timer's function may arm timers).
static void fire_due(cpay_loop *l) {
  int64_t now = cpay__now_ms();
  cpay__timer *due = NULL;
  pthread_mutex_lock(&l->tmu);
  while (l->heap_len && l->heap[0]->at <= now) {
    cpay__timer *t = l->heap[0];
    heap_remove(l, 0);
    t->next_due = due;
    due = t;
  }
  publish_earliest(l);
  pthread_mutex_unlock(&l->tmu);
  for (cpay__timer *t = due, *next; t; t = next) {
    next = t->next_due;
    t->fn(t);
  }
}

// ---- threads -------------------------------------------------------------------

static void *loop_main(void *arg) {
  cpay_loop *l = arg;
  tl_event_thread = true;
  for (;;) {
    // Asleep until a completion, or until the earliest timer is due.
    int64_t at = atomic_load(&l->earliest);
    int64_t now = cpay__now_ms();
    gpr_timespec until = at == INT64_MAX ? gpr_inf_future(GPR_CLOCK_MONOTONIC)
                                         : cpay__deadline_in(at > now ? at - now : 0);
    grpc_event ev = grpc_completion_queue_next(l->cq, until, NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
    if (ev.type == GRPC_OP_COMPLETE) cpay__op_run(ev.tag, ev.success != 0);
    if (atomic_load(&l->earliest) <= cpay__now_ms()) fire_due(l);
  }
  return NULL;
}

static int online_cpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

cpay_loop *cpay__loop_new(int threads, cpay_status *st) {
  if (threads < 0) {
    cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "loop: threads must not be negative");
    return NULL;
  }
  int count = threads ? threads : online_cpus();
  cpay_loop *l = calloc(1, sizeof *l);
  if (l) l->threads = calloc((size_t)count, sizeof *l->threads);
  if (!l || !l->threads) {
    free(l);
    cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for a loop");
    return NULL;
  }
  cpay__grpc_ref();
  l->count = count;
  pthread_mutex_init(&l->mu, NULL);
  pthread_mutex_init(&l->tmu, NULL);
  atomic_init(&l->earliest, INT64_MAX);
  // The queue exists from the start, so that a server can register it with
  // C-core before the threads run.
  l->cq = grpc_completion_queue_create_for_next(NULL);
  return l;
}

cpay_code cpay__loop_start(cpay_loop *l, cpay_status *st) {
  if (atomic_load_explicit(&l->started, memory_order_acquire)) return CPAY_OK;
  pthread_mutex_lock(&l->mu);
  cpay_code code = CPAY_OK;
  while (l->running < l->count) {
    if (pthread_create(&l->threads[l->running], NULL, loop_main, l) != 0) {
      code = cpay_status_set(st, CPAY_ERR_NO_MEMORY, "loop: cannot start event thread %d",
                             l->running);
      break;
    }
    l->running++;
  }
  if (code == CPAY_OK) atomic_store_explicit(&l->started, 1, memory_order_release);
  pthread_mutex_unlock(&l->mu);
  return code;
}

cpay_loop *cpay_loop_new(const cpay_loop_opts *opts, cpay_status *st) {
  cpay_loop *l = cpay__loop_new(opts ? opts->threads : 0, st);
  if (l && cpay__loop_start(l, st) != CPAY_OK) {
    cpay_loop_free(l);
    return NULL;
  }
  return l;
}

int cpay__loop_threads(const cpay_loop *l) { return l->count; }

grpc_completion_queue *cpay__loop_cq(const cpay_loop *l) { return l->cq; }

void cpay_loop_free(cpay_loop *l) {
  if (!l) return;
  grpc_completion_queue_shutdown(l->cq);
  for (int i = 0; i < l->running; i++) pthread_join(l->threads[i], NULL);
  if (!l->running) {
    // Never driven: run what is left, up to the shutdown event, here.
    for (;;) {
      grpc_event ev = grpc_completion_queue_next(l->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
      if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
      if (ev.type == GRPC_OP_COMPLETE) cpay__op_run(ev.tag, ev.success != 0);
    }
  }
  grpc_completion_queue_destroy(l->cq);
  pthread_mutex_destroy(&l->tmu);
  pthread_mutex_destroy(&l->mu);
  free(l->heap);
  free(l->threads);
  free(l);
  cpay__grpc_unref();
}

// The worker pool of blocking handlers: up to `max_threads` threads,
// started as jobs arrive, and a queue of at most `max_queued` jobs waiting
// for one. A job beyond that is refused at once, so that a server under
// load answers RESOURCE_EXHAUSTED instead of letting calls wait until
// their deadlines.
#include <stdlib.h>

#include "grpc/pool.h"

struct cpay__pool {
  pthread_mutex_t mu;
  pthread_cond_t cv;  // a job arrived, or stop
  cpay__job *head, *tail;
  int queued;
  int max_queued;
  int idle;
  int threads;
  int max_threads;
  bool stop;
  pthread_t *ids;
};

static void *worker_main(void *arg) {
  cpay__pool *p = arg;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->head && !p->stop) {
      p->idle++;
      pthread_cond_wait(&p->cv, &p->mu);
      p->idle--;
    }
    if (!p->head) break;  // stopping, and nothing left
    cpay__job *j = p->head;
    p->head = j->next;
    if (!p->head) p->tail = NULL;
    p->queued--;
    pthread_mutex_unlock(&p->mu);
    j->run(j);
    pthread_mutex_lock(&p->mu);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

cpay__pool *cpay__pool_new(int max_threads, int max_queued) {
  cpay__pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->ids = calloc((size_t)max_threads, sizeof *p->ids);
  if (!p->ids) {
    free(p);
    return NULL;
  }
  p->max_threads = max_threads;
  p->max_queued = max_queued;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  return p;
}

bool cpay__pool_submit(cpay__pool *p, cpay__job *j) {
  pthread_mutex_lock(&p->mu);
  bool ok = !p->stop && p->queued < p->max_queued;
  // A new worker unless an idle one is left for this job: a worker counts
  // as idle until it wakes, so jobs queued meanwhile must not all count on
  // the same one.
  if (ok && p->queued >= p->idle && p->threads < p->max_threads &&
      pthread_create(&p->ids[p->threads], NULL, worker_main, p) == 0) {
    p->threads++;
  }
  // Without any thread the job would never run.
  ok = ok && p->threads > 0;
  if (ok) {
    j->next = NULL;
    if (p->tail) {
      p->tail->next = j;
    } else {
      p->head = j;
    }
    p->tail = j;
    p->queued++;
    pthread_cond_signal(&p->cv);
  }
  pthread_mutex_unlock(&p->mu);
  return ok;
}

int cpay__pool_threads(cpay__pool *p) {
  pthread_mutex_lock(&p->mu);
  int n = p->threads;
  pthread_mutex_unlock(&p->mu);
  return n;
}

void cpay__pool_free(cpay__pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = true;
  pthread_cond_broadcast(&p->cv);
  int n = p->threads;
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < n; i++) pthread_join(p->ids[i], NULL);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p->ids);
  free(p);
}

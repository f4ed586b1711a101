// The worker pool of blocking server handlers (pool.c).
#ifndef CPAY_SRC_GRPC_POOL_H_
#define CPAY_SRC_GRPC_POOL_H_

#include <pthread.h>
#include <stdbool.h>

typedef struct cpay__job cpay__job;
struct cpay__job {
  void (*run)(cpay__job *j);
  cpay__job *next;
};

typedef struct cpay__pool cpay__pool;

// A pool of up to `max_threads` threads (none running yet) with room for
// `max_queued` waiting jobs. NULL when out of memory.
cpay__pool *cpay__pool_new(int max_threads, int max_queued);
// Queues `j` to run on a worker, starting one when none is idle. False,
// without queueing, when the queue is full or no thread can be started.
bool cpay__pool_submit(cpay__pool *p, cpay__job *j);
// Threads started so far.
int cpay__pool_threads(cpay__pool *p);
// Runs the queued jobs, then stops and joins the threads. Accepts NULL.
void cpay__pool_free(cpay__pool *p);

#endif  // CPAY_SRC_GRPC_POOL_H_

// The arena: every message, string and array cpay creates lives in one.
//
// An arena hands out memory by bumping a pointer through blocks obtained
// from a block allocator (malloc by default, or the caller's), and frees
// everything at once in cpay_arena_free(). It may start on a caller buffer
// so that small workloads never call malloc, and may be given a byte limit.
// An arena is not thread-safe: use one per thread or lock around it.
#ifndef CPAY_ARENA_H_
#define CPAY_ARENA_H_

#include <stddef.h>
#include <stdint.h>

#include "cpay/port.h"

CPAY_EXTERN_C_BEGIN

typedef struct cpay_arena cpay_arena;

// A block allocator in the style of realloc: (ptr NULL, new_size > 0)
// allocates, (ptr, new_size 0) frees and returns NULL. cpay never grows a
// block in place, so old_size is only informational. Returning NULL on
// allocation makes the arena fail cleanly with CPAY_ERR_NO_MEMORY.
typedef void *cpay_block_alloc_fn(void *ctx, void *ptr, size_t old_size,
                                  size_t new_size);

typedef struct cpay_alloc {
  cpay_block_alloc_fn *fn;
  void *ctx;
} cpay_alloc;

typedef struct cpay_arena_opts {
  void *initial_block;   // optional caller buffer, used first; the caller owns it
  size_t initial_size;   // its size in bytes
  const cpay_alloc *alloc;  // block allocator; NULL means malloc/free.
                            // With an initial block, NULL alloc means "never
                            // allocate": the arena is limited to that buffer.
  size_t max_bytes;      // 0: no limit; else total block bytes allowed
  size_t block_size;     // size of the first allocated block; 0: 768
} cpay_arena_opts;

// A new arena on malloc; NULL only when out of memory.
CPAY_API cpay_arena *cpay_arena_new(void);

// A new arena with options; NULL when the first block cannot be obtained
// (allocator failure, or an initial block too small to hold the arena).
CPAY_API cpay_arena *cpay_arena_new_opts(const cpay_arena_opts *opts);

// Frees every block and the arena itself. Accepts NULL.
CPAY_API void cpay_arena_free(cpay_arena *a);

// Drops everything allocated so far. Keeps the first block and, for the next
// use, the newest other blocks while the arena then holds at most 64 KiB
// (or, with a first block over 32 KiB, twice the first block): an arena
// reset after each message settles at what one message needs, within that
// bound, and stops allocating. Block growth starts over.
CPAY_API void cpay_arena_reset(cpay_arena *a);

// Bytes of blocks the arena holds (including the initial block).
CPAY_API size_t cpay_arena_space_allocated(const cpay_arena *a);

// Why the arena last failed to allocate, for error messages: "out of
// memory: " and "the arena's byte limit (max_bytes) is reached", "the arena's
// fixed buffer is full" (an initial block and no allocator), "the block
// allocator failed" or "allocation too large". "out of memory" when nothing
// failed. The string is static.
CPAY_API const char *cpay_arena_error(const cpay_arena *a);

// Grows (or shrinks) an allocation; the old contents are copied. `ptr` must
// be the last or any earlier allocation of `a` of `old_size` bytes; growing
// the last allocation is done in place when it fits. NULL when out of memory.
CPAY_API void *cpay_arena_realloc(cpay_arena *a, void *ptr, size_t old_size,
                                  size_t new_size);

// Internal: the slow path of cpay_arena_malloc().
CPAY_API void *cpay__arena_malloc_slow(cpay_arena *a, size_t size);

// The first member of every cpay_arena: the bump region of the current block.
// Exposed only so that the fast path below can be inlined. Both ends are
// multiples of CPAY_ARENA_ALIGN.
typedef struct cpay__arena_head {
  char *ptr;
  char *end;
} cpay__arena_head;

#define CPAY_ARENA_ALIGN 8

// `size` bytes aligned to 8, uninitialised; NULL when out of memory (also
// for sizes so large that rounding them up would wrap). Since the free
// region is a multiple of 8, a size that fits still fits once rounded up.
static inline void *cpay_arena_malloc(cpay_arena *a, size_t size) {
  cpay__arena_head *h = (cpay__arena_head *)a;
  if (CPAY_LIKELY(size <= (size_t)(h->end - h->ptr))) {
    void *p = h->ptr;
    h->ptr += (size + (CPAY_ARENA_ALIGN - 1)) & ~(size_t)(CPAY_ARENA_ALIGN - 1);
    return p;
  }
  return cpay__arena_malloc_slow(a, size);
}

CPAY_EXTERN_C_END

#endif  // CPAY_ARENA_H_

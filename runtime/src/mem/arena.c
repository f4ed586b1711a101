// The arena: bump allocation through a chain of blocks.
//
// The arena struct itself lives at the start of the first block (the
// caller's initial buffer or the first allocated block), so creating an
// arena costs one allocation or none. Blocks grow geometrically; a request
// too large for the normal growth goes to a block of its own so that the
// current bump region is not wasted. A reset keeps the first block and, as
// spares, the newest other blocks up to a bounded total, and starts the
// growth over, so that an arena reused message after message holds what one
// message needs and stops allocating.
#include "cpay/arena.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// Header of every block obtained from the allocator.
typedef struct block {
  struct block *next;
  size_t size;  // total bytes including this header
} block;

struct cpay_arena {
  cpay__arena_head head;  // must stay first: cpay_arena_malloc() reads it
  cpay_alloc alloc;       // fn NULL: cannot allocate blocks
  block *blocks;          // allocated blocks, newest first (the first block last)
  block *spares;          // kept by a reset for the next blocks needed, newest first;
                          // not in `blocks`
  char *first_start;      // bump start of the first block (after this struct)
  char *first_end;
  size_t space;           // bytes of all blocks, including the first
  size_t first_space;     // bytes of the first block
  size_t max_bytes;       // 0: unlimited
  size_t next_size;       // size of the next normal block
  size_t base_size;       // next_size after a reset
  bool owns_first;        // first block came from the allocator
  uint8_t why;            // why the last block could not be had: a kWhy index
};

// What cpay_arena_error() says, by cpay_arena.why.
enum { WHY_NONE, WHY_FIXED, WHY_LIMIT, WHY_ALLOC, WHY_HUGE };
static const char *const kWhy[] = {
    [WHY_NONE] = "out of memory",
    [WHY_FIXED] = "out of memory: the arena's fixed buffer is full",
    [WHY_LIMIT] = "out of memory: the arena's byte limit (max_bytes) is reached",
    [WHY_ALLOC] = "out of memory: the block allocator failed",
    [WHY_HUGE] = "out of memory: allocation too large",
};

#define ALIGN_UP(x) (((x) + (CPAY_ARENA_ALIGN - 1)) & ~(size_t)(CPAY_ARENA_ALIGN - 1))
#define BLOCK_HDR ALIGN_UP(sizeof(block))
#define ARENA_HDR ALIGN_UP(sizeof(struct cpay_arena))
#define ALIGN_DOWN(x) ((x) & ~(uintptr_t)(CPAY_ARENA_ALIGN - 1))
#define DEFAULT_BLOCK 768
#define MAX_BLOCK ((size_t)1 << 20)
#define SPARE_MAX ((size_t)64 << 10)

static void *malloc_fn(void *ctx, void *ptr, size_t old_size, size_t new_size) {
  (void)ctx;
  (void)old_size;
  if (new_size == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, new_size);
}

static const cpay_alloc default_alloc = {malloc_fn, NULL};

// Puts block `b` at the head of the
// chain.
static void link_block(cpay_arena *a, block *b) {
  b->next = a->blocks;
  a->blocks = b;
}

// Obtains a block of `size` bytes (header included), respecting max_bytes;
// NULL (with the reason in a->why) when it cannot.
static block *new_block(cpay_arena *a, size_t size) {
  if (!a->alloc.fn) {
    a->why = WHY_FIXED;
    return NULL;
  }
  if (a->max_bytes && (a->space > a->max_bytes || size > a->max_bytes - a->space)) {
    a->why = WHY_LIMIT;
    return NULL;
  }
  block *b = a->alloc.fn(a->alloc.ctx, NULL, 0, size);
  if (!b) {
    a->why = WHY_ALLOC;
    return NULL;
  }
  b->size = size;
  link_block(a, b);
  a->space += size;
  return b;
}

cpay_arena *cpay_arena_new(void) {
  cpay_arena_opts opts = {0};
  return cpay_arena_new_opts(&opts);
}

cpay_arena *cpay_arena_new_opts(const cpay_arena_opts *opts) {
  cpay_arena_opts o = {0};
  if (opts) o = *opts;
  cpay_alloc alloc = {NULL, NULL};
  if (o.alloc) {
    alloc = *o.alloc;
  } else if (!o.initial_block) {
    alloc = default_alloc;
  }
  size_t block_size = o.block_size ? o.block_size : DEFAULT_BLOCK;

  char *start;
  char *end;
  bool owns_first;
  size_t space;
  if (o.initial_block) {
    uintptr_t p = (uintptr_t)o.initial_block;
    uintptr_t aligned = ALIGN_UP(p);
    if (o.initial_size < (aligned - p) + ARENA_HDR) return NULL;
    start = (char *)aligned;
    end = (char *)o.initial_block + o.initial_size;
    owns_first = false;
    space = o.initial_size;
  } else {
    size_t size = block_size;
    if (size < BLOCK_HDR + ARENA_HDR + 64) size = BLOCK_HDR + ARENA_HDR + 64;
    if (o.max_bytes && size > o.max_bytes) size = o.max_bytes;
    if (size < BLOCK_HDR + ARENA_HDR) return NULL;
    block *b = alloc.fn(alloc.ctx, NULL, 0, size);
    if (!b) return NULL;
    b->next = NULL;
    b->size = size;
    start = (char *)b + BLOCK_HDR;
    end = (char *)b + size;
    owns_first = true;
    space = size;
  }
  cpay_arena *a = (cpay_arena *)start;
  memset(a, 0, sizeof(*a));
  a->alloc = alloc;
  a->blocks = owns_first ? (block *)(start - BLOCK_HDR) : NULL;
  a->first_start = start + ARENA_HDR;
  a->first_end = (char *)ALIGN_DOWN((uintptr_t)end);
  if (a->first_start > a->first_end) a->first_end = a->first_start;
  a->head.ptr = a->first_start;
  a->head.end = a->first_end;
  a->space = space;
  a->first_space = space;
  a->max_bytes = o.max_bytes;
  a->base_size = block_size > MAX_BLOCK / 2 ? MAX_BLOCK : block_size * 2;
  a->next_size = a->base_size;
  a->owns_first = owns_first;
  return a;
}

// Frees every block of the chain but `keep1` and `keep2` (either may be NULL).
static void free_blocks(cpay_arena *a, const block *keep1, const block *keep2) {
  cpay_alloc alloc = a->alloc;
  block *b = a->blocks;
  while (b) {
    block *next = b->next;
    if (b != keep1 && b != keep2) alloc.fn(alloc.ctx, b, b->size, 0);
    b = next;
  }
}

// Frees a chain of blocks.
static void free_chain(cpay_arena *a, block *b) {
  while (b) {
    block *next = b->next;
    a->alloc.fn(a->alloc.ctx, b, b->size, 0);
    b = next;
  }
}

void cpay_arena_free(cpay_arena *a) {
  if (!a) return;
  // The arena lives in the first block: copy what we need before freeing.
  block *first = a->owns_first ? (block *)((char *)a - BLOCK_HDR) : NULL;
  cpay_alloc alloc = a->alloc;
  free_blocks(a, first, NULL);
  free_chain(a, a->spares);
  if (first) alloc.fn(alloc.ctx, first, first->size, 0);
}

// The spares a reset builds: a list in the order blocks are offered, up to
// `max` bytes.
typedef struct spare_list {
  block *head;
  block **tail;
  size_t bytes, max;
} spare_list;

// Appends `b` to the spares when it fits, else frees it.
static void keep_or_free(cpay_arena *a, spare_list *l, block *b) {
  if (l->bytes + b->size > l->max) {
    a->alloc.fn(a->alloc.ctx, b, b->size, 0);
    return;
  }
  l->bytes += b->size;
  b->next = NULL;
  *l->tail = b;
  l->tail = &b->next;
}

void cpay_arena_reset(cpay_arena *a) {
  if (!a) return;
  block *first = a->owns_first ? (block *)((char *)a - BLOCK_HDR) : NULL;
  if (a->blocks == first) {
    // Nothing beyond the first block was needed (the spares, if any, are
    // still spares): the common case of an arena sized for its messages.
    a->head.ptr = a->first_start;
    a->head.end = a->first_end;
    return;
  }
  // The spares: the blocks beyond the first, newest (largest) first, as long
  // as the arena then holds at most 64 KiB (or, past a 32 KiB first block,
  // twice the first block); the rest, and spares left over from before, go.
  size_t keep_max = a->first_space > SPARE_MAX / 2 ? a->first_space : SPARE_MAX - a->first_space;
  block *old_spares = a->spares;
  spare_list kept = {NULL, &kept.head, 0, keep_max};
  for (block *b = a->blocks, *next; b && b != first; b = next) {
    next = b->next;
    keep_or_free(a, &kept, b);
  }
  // Spares kept before and not used this time: kept too while they fit.
  for (block *b = old_spares, *next; b; b = next) {
    next = b->next;
    keep_or_free(a, &kept, b);
  }
  size_t kept_bytes = kept.bytes;
  a->spares = kept.head;
  a->blocks = first;
  if (first) first->next = NULL;
  a->space = a->first_space + kept_bytes;
  a->next_size = a->base_size;
  a->head.ptr = a->first_start;
  a->head.end = a->first_end;
}

size_t cpay_arena_space_allocated(const cpay_arena *a) { return a ? a->space : 0; }

const char *cpay_arena_error(const cpay_arena *a) {
  return kWhy[a ? a->why : WHY_NONE];
}

// A spare that can serve a block of `want` bytes (the first that fits,
// newest first); it rejoins the chain. NULL when none can.
static block *take_spare(cpay_arena *a, size_t want) {
  for (block **link = &a->spares; *link; link = &(*link)->next) {
    block *b = *link;
    if (b->size < want) continue;
    *link = b->next;
    link_block(a, b);
    return b;
  }
  return NULL;
}

void *cpay__arena_malloc_slow(cpay_arena *a, size_t size) {
  // Rounded up here, where a size near SIZE_MAX cannot wrap. No object is
  // larger than PTRDIFF_MAX, so such sizes never reach the allocator.
  if (size > (size_t)PTRDIFF_MAX - BLOCK_HDR - CPAY_ARENA_ALIGN) {
    a->why = WHY_HUGE;
    return NULL;
  }
  size = ALIGN_UP(size);
  size_t need = size + BLOCK_HDR;
  if (need > a->next_size / 2) {
    // Large: a block of its own, keeping the current bump region.
    block *b = take_spare(a, need);
    if (!b) b = new_block(a, need);
    return b ? (char *)b + BLOCK_HDR : NULL;
  }
  size_t bsize = a->next_size;
  block *b = take_spare(a, need);
  if (b) {
    bsize = b->size;
  } else if ((b = new_block(a, bsize)) == NULL) {
    // Under a byte limit a smaller block may still fit.
    bsize = need;
    b = new_block(a, bsize);
    if (!b) return NULL;
  } else if (a->next_size < MAX_BLOCK) {
    a->next_size *= 2;
  }
  char *p = (char *)b + BLOCK_HDR;
  a->head.ptr = p + size;
  a->head.end = (char *)ALIGN_DOWN((uintptr_t)b + bsize);
  return p;
}

void *cpay_arena_realloc(cpay_arena *a, void *ptr, size_t old_size, size_t new_size) {
  if (!ptr) return cpay_arena_malloc(a, new_size);
  char *p = ptr;
  if (p + ALIGN_UP(old_size) == a->head.ptr) {
    // The last allocation: grow or shrink in place when it fits. new_size is
    // rounded up only once it is known to fit (the region's end is aligned),
    // so a huge size cannot wrap.
    if (new_size <= old_size || new_size <= (size_t)(a->head.end - p)) {
      a->head.ptr = p + ALIGN_UP(new_size);
      return ptr;
    }
  } else if (new_size <= old_size) {
    return ptr;
  }
  void *q = cpay_arena_malloc(a, new_size);  // refuses sizes that would wrap
  if (!q) return NULL;
  memcpy(q, ptr, old_size < new_size ? old_size : new_size);
  return q;
}

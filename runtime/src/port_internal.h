// Compiler hints for the runtime's own code, not for its users (those are
// in cpay/port.h): helpers the hot loops must inline whatever the
// optimisation level, and paths that must stay out of them.
#ifndef CPAY_PORT_INTERNAL_H_
#define CPAY_PORT_INTERNAL_H_

#include "cpay/port.h"

// Hot helpers are inlined whatever the optimisation level (-O2 declines
// some of them, at a cost of 10-40% more instructions per operation).
#if defined(__GNUC__) || defined(__clang__)
#define CPAY_HOT_INLINE inline __attribute__((always_inline))
#else
#define CPAY_HOT_INLINE inline
#endif

// Never inlined: a slow path the hot loop calls rarely, emitted once rather
// than copied into every caller.
#if defined(__GNUC__) || defined(__clang__)
#define CPAY_NOINLINE __attribute__((noinline))
#else
#define CPAY_NOINLINE
#endif

#endif  // CPAY_PORT_INTERNAL_H_

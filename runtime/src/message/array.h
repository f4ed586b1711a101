// Private repeated-field helpers.
#ifndef CPAY_MESSAGE_ARRAY_H_
#define CPAY_MESSAGE_ARRAY_H_

#include <stdbool.h>
#include <stddef.h>

#include "cpay/gencode.h"

// Ensures room for `extra` more elements; false when out of memory.
bool cpay__array_reserve(cpay_array *arr, size_t elem_size, size_t extra, cpay_arena *a);

#endif  // CPAY_MESSAGE_ARRAY_H_

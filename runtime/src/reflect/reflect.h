// Private pieces of the descriptions layer that the JSON and text formats
// share.
#ifndef CPAY_REFLECT_REFLECT_H_
#define CPAY_REFLECT_REFLECT_H_

#include "cpay/reflect.h"

// The registered description of extension `x`, or NULL (also when `r` is NULL).
const cpay_ext_desc *cpay__registry_ext_of(const cpay_registry *r, const cpay_ext *x);

#endif  // CPAY_REFLECT_REFLECT_H_

// The umbrella header: everything a program using generated code needs.
#ifndef CPAY_CPAY_H_
#define CPAY_CPAY_H_

#include "cpay/arena.h"
#include "cpay/message.h"
#include "cpay/port.h"
#include "cpay/status.h"

#endif  // CPAY_CPAY_H_

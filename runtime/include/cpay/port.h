// Portability macros shared by every cpay header: symbol export and
// attributes (the release and generated-code versions are in cpay/version.h).
#ifndef CPAY_PORT_H_
#define CPAY_PORT_H_

// CPAY_VERSION_MAJOR/MINOR/PATCH/STRING, generated from the project version,
// and CPAY_GENCODE_VERSION, which generated code checks.
#include "cpay/version.h"

#if defined(_WIN32)
#define CPAY_API
#elif defined(__GNUC__) || defined(__clang__)
#define CPAY_API __attribute__((visibility("default")))
#else
#define CPAY_API
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CPAY_NODISCARD __attribute__((warn_unused_result))
#define CPAY_LIKELY(x) __builtin_expect(!!(x), 1)
#define CPAY_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define CPAY_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CPAY_NODISCARD
#define CPAY_LIKELY(x) (x)
#define CPAY_UNLIKELY(x) (x)
#define CPAY_PRINTF(f, a)
#endif

#ifdef __cplusplus
#define CPAY_EXTERN_C_BEGIN extern "C" {
#define CPAY_EXTERN_C_END }
#else
#define CPAY_EXTERN_C_BEGIN
#define CPAY_EXTERN_C_END
#endif

#endif  // CPAY_PORT_H_

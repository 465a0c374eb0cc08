// FUZZ_CHECK: the fuzz targets' assertion. A broken invariant aborts, which
// libFuzzer records as a crash with the input that caused it (assert() would
// vanish under NDEBUG in RelWithDebInfo).
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                            \
    }                                                                          \
  } while (0)

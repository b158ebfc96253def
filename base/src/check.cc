#include "sluice/base/check.h"

#include <cstdio>
#include <cstdlib>

namespace sluice::detail {

void check_failed(const char* condition, const char* file, int line, const char* msg) {
  std::fprintf(stderr, "sluice: check failed at %s:%d: %s%s%s\n", file, line, condition,
               msg ? ": " : "", msg ? msg : "");
  std::abort();
}

}  // namespace sluice::detail

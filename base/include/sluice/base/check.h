// SLUICE_CHECK: an invariant that holds in every build, release included.
//
// For broken invariants only (bugs), never for bad input: bad input is a Status. A failed check
// prints the condition, file and line and aborts, because carrying on past a broken invariant
// in a storage engine risks acknowledged data.
#pragma once

namespace sluice::detail {
[[noreturn]] void check_failed(const char* condition, const char* file, int line, const char* msg);
}  // namespace sluice::detail

#define SLUICE_CHECK(cond)                                                \
  do {                                                                    \
    if (!(cond)) [[unlikely]]                                             \
      ::sluice::detail::check_failed(#cond, __FILE__, __LINE__, nullptr); \
  } while (0)

#define SLUICE_CHECK_MSG(cond, msg)                                     \
  do {                                                                  \
    if (!(cond)) [[unlikely]]                                           \
      ::sluice::detail::check_failed(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)

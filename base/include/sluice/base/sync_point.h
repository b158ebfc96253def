// Named test sync points (after RocksDB's test_util/sync_point.h).
//
// Code marks a risky moment with SLUICE_SYNC_POINT("TransactionCoordinator::AfterPrepareCommit");
// a test installs a callback for that name to pause there, inject a failure, or kill the process
// exactly at that boundary. With no callbacks installed a sync point costs one relaxed atomic
// load, so they stay in release builds (crash tests run the release binaries).
//
// Thread safety: thread-safe; callbacks run on the thread that reaches the point.
#pragma once

#include <functional>
#include <string_view>

namespace sluice::sync_point {

void set_callback(std::string_view name, std::function<void()> callback);
void clear(std::string_view name);
void clear_all();

namespace detail {
bool any_enabled();
void process(std::string_view name);
}  // namespace detail

}  // namespace sluice::sync_point

#define SLUICE_SYNC_POINT(name)                                   \
  do {                                                            \
    if (::sluice::sync_point::detail::any_enabled()) [[unlikely]] \
      ::sluice::sync_point::detail::process(name);                \
  } while (0)

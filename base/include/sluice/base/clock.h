// Clock: the time seam. Components that need "now" take a Clock&, so tests control time
// (retention, compaction delays, transaction timeouts) instead of sleeping.
//
// Thread safety: implementations are safe to call from any thread.
#pragma once

#include <atomic>
#include <cstdint>

#include "sluice/base/ids.h"

namespace sluice {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, for record timestamps and time-based retention.
  virtual Timestamp now() const = 0;
  // Monotonic milliseconds, for intervals and timeouts.
  virtual int64_t monotonic_ms() const = 0;

  // The process-wide real clock.
  static Clock& system();
};

// A clock that only moves when told to: for tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start = Timestamp(1'700'000'000'000)) : now_(start.value()) {}
  Timestamp now() const override { return Timestamp(now_.load()); }
  int64_t monotonic_ms() const override { return now_.load(); }
  void advance_ms(int64_t ms) { now_ += ms; }
  void set(Timestamp t) { now_ = t.value(); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace sluice

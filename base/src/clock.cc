#include "sluice/base/clock.h"

#include <chrono>

namespace sluice {
namespace {

class SystemClock final : public Clock {
 public:
  Timestamp now() const override {
    using namespace std::chrono;
    return Timestamp(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
  }
  int64_t monotonic_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }
};

}  // namespace

Clock& Clock::system() {
  static SystemClock clock;
  return clock;
}

}  // namespace sluice

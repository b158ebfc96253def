#include "sluice/base/sync_point.h"

#include <atomic>
#include <map>
#include <string>

#include "sluice/base/mutex.h"

namespace sluice::sync_point {
namespace {

std::atomic<bool> g_enabled{false};

struct Registry {
  Mutex mu;
  std::map<std::string, std::function<void()>, std::less<>> callbacks SLUICE_GUARDED_BY(mu);
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

void set_callback(std::string_view name, std::function<void()> callback) {
  Registry& r = registry();
  MutexLock lock(r.mu);
  r.callbacks[std::string(name)] = std::move(callback);
  g_enabled.store(true);
}

void clear(std::string_view name) {
  Registry& r = registry();
  MutexLock lock(r.mu);
  auto it = r.callbacks.find(name);
  if (it != r.callbacks.end()) r.callbacks.erase(it);
  g_enabled.store(!r.callbacks.empty());
}

void clear_all() {
  Registry& r = registry();
  MutexLock lock(r.mu);
  r.callbacks.clear();
  g_enabled.store(false);
}

namespace detail {

bool any_enabled() { return g_enabled.load(std::memory_order_relaxed); }

void process(std::string_view name) {
  std::function<void()> fn;
  {
    Registry& r = registry();
    MutexLock lock(r.mu);
    auto it = r.callbacks.find(name);
    if (it == r.callbacks.end()) return;
    fn = it->second;
  }
  fn();
}

}  // namespace detail
}  // namespace sluice::sync_point

#include "sluice/samples/sessions.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "sluice/dsl/topology_builder.h"

namespace sluice::samples {

std::vector<Activity> generate_activity(const ActivityOptions& options) {
  static const char* const kActions[] = {"view",   "view",        "view",
                                         "search", "add-to-cart", "checkout"};
  std::mt19937_64 rng(options.seed);
  // The whole site produces events `users` times as often as one user does.
  const int64_t step = std::max<int64_t>(1, options.mean_user_gap_ms / options.users);
  std::vector<Activity> out;
  out.reserve(static_cast<size_t>(options.events));
  int64_t now = options.start_ms + options.max_disorder_ms;
  for (int64_t i = 0; i < options.events; ++i) {
    now += static_cast<int64_t>(rng() % static_cast<uint64_t>(2 * step));
    const int64_t disorder =
        options.max_disorder_ms > 0
            ? static_cast<int64_t>(rng() % static_cast<uint64_t>(options.max_disorder_ms))
            : 0;
    out.push_back({"user-" + std::to_string(rng() % static_cast<uint64_t>(options.users)),
                   kActions[rng() % std::size(kActions)], now - disorder});
  }
  return out;
}

Result<operators::Topology> sessions_topology() {
  dsl::TopologyBuilder b;
  b.stream<std::string, Activity>(kActivityTopic)
      .group_by_key()
      .windowed_by(
          dsl::SessionWindows::with_inactivity_gap(std::chrono::milliseconds(kSessionGapMs))
              .grace(std::chrono::milliseconds(kSessionGraceMs)))
      .count(kSessionsStore)
      .to_stream()
      .to(kSessionsTopic);
  return b.build();
}

Sessions sessionize(const std::vector<Activity>& events) {
  std::map<std::string, std::vector<int64_t>> by_user;
  for (const Activity& a : events) by_user[a.user].push_back(a.timestamp);
  Sessions out;
  for (auto& [user, times] : by_user) {
    std::sort(times.begin(), times.end());
    size_t first = 0;
    for (size_t i = 1; i <= times.size(); ++i) {
      if (i == times.size() || times[i] - times[i - 1] > kSessionGapMs) {
        out[{user, times[first], times[i - 1]}] = static_cast<int64_t>(i - first);
        first = i;
      }
    }
  }
  return out;
}

}  // namespace sluice::samples

// Sample 3, sessionization: user activity events → user sessions with a 30-minute inactivity
// gap → events per session and session length.
//
// Thread safety: values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "sluice/base/result.h"
#include "sluice/operators/json_fields.h"
#include "sluice/operators/topology.h"

namespace sluice::samples {

// One thing a user did (JSON on the wire, keyed by user).
struct Activity {
  std::string user;
  std::string action;  // "view", "search", "add-to-cart", "checkout"
  int64_t timestamp = 0;
  friend bool operator==(const Activity&, const Activity&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Activity, user, action, timestamp)
SLUICE_JSON_FIELDS(Activity, user, action, timestamp)

struct ActivityOptions {
  uint64_t seed = 1;
  int64_t events = 100'000;
  int users = 500;
  int64_t start_ms = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  // The mean time between two events of one user: around the gap, so that activity splits
  // into sessions of very different lengths.
  int64_t mean_user_gap_ms = 20 * 60'000;
  int64_t max_disorder_ms = 60'000;
};

// The events in arrival order; the same options give the same events.
std::vector<Activity> generate_activity(const ActivityOptions& options);

inline constexpr const char* kActivityTopic = "activity";
inline constexpr const char* kSessionsTopic = "user-sessions";
inline constexpr const char* kSessionsStore = "sessions";
inline constexpr int64_t kSessionGapMs = 30 * 60'000;
inline constexpr int64_t kSessionGraceMs = 5 * 60'000;

// The job: activity (key: user) → sessions per user with a 30-minute inactivity gap (grace
// 5 minutes) → user-sessions (key: Windowed<user>, the session's first and last event; value:
// events in it, or null when the session was merged into a longer one).
Result<operators::Topology> sessions_topology();

// A session: (user, first event ms, last event ms) -> events.
using Sessions = std::map<std::tuple<std::string, int64_t, int64_t>, int64_t>;

// The oracle: per user, events sorted by time, split where two are more than the gap apart.
Sessions sessionize(const std::vector<Activity>& events);

}  // namespace sluice::samples

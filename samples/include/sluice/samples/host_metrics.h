// Sample 6, metrics alerting: host metrics (cpu and memory per host per second) → 1-minute
// hopping averages (a new window every 20 s), final when the window closes → an alert when a
// host's average stays over its threshold for 3 windows in a row.
//
// Thread safety: values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "sluice/base/result.h"
#include "sluice/operators/json_fields.h"
#include "sluice/operators/topology.h"

namespace sluice::samples {

struct HostMetric {
  std::string host;
  double cpu = 0;     // percent
  double memory = 0;  // percent
  int64_t timestamp = 0;
  friend bool operator==(const HostMetric&, const HostMetric&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(HostMetric, host, cpu, memory, timestamp)
SLUICE_JSON_FIELDS(HostMetric, host, cpu, memory, timestamp)

struct HostMetricsOptions {
  uint64_t seed = 1;
  int hosts = 20;
  int64_t seconds = 3600;                // of event time; one sample per host per second
  int64_t start_ms = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  double overload_chance = 0.004;        // per host and second: an overload starts...
  int64_t max_overload_s = 300;          // ...and lasts up to this long
  int64_t max_disorder_ms = 2'000;
};

// The samples in arrival order, then one sample per host 10 minutes after the last, which
// closes every window of the run (a window's result is final once stream time passes its end
// and grace).
std::vector<HostMetric> generate_host_metrics(const HostMetricsOptions& options);

inline constexpr const char* kHostMetricsTopic = "host-metrics";
inline constexpr const char* kAlertsTopic = "host-alerts";
inline constexpr const char* kHostAveragesStore = "host-averages";
inline constexpr const char* kAlertStateStore = "host-alert-state";
inline constexpr int64_t kAverageWindowMs = 60'000;
inline constexpr int64_t kAverageAdvanceMs = 20'000;
inline constexpr int64_t kAverageGraceMs = 5'000;
inline constexpr double kCpuThreshold = 90;
inline constexpr double kMemoryThreshold = 85;
inline constexpr int kWindowsInARow = 3;

// Sums of one host's samples in one window (the windowed aggregate).
struct MetricSums {
  double cpu = 0;
  double memory = 0;
  int64_t count = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(MetricSums, cpu, memory, count)
SLUICE_JSON_FIELDS(MetricSums, cpu, memory, count)

// A closed window's averages.
struct WindowAverage {
  int64_t window_start = 0;
  double cpu = 0;
  double memory = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(WindowAverage, window_start, cpu, memory)
SLUICE_JSON_FIELDS(WindowAverage, window_start, cpu, memory)

// Per host: how many windows in a row were over each threshold, and the alerts the last window
// raised.
struct AlertState {
  int64_t last_window = -1;
  int cpu_streak = 0;
  int memory_streak = 0;
  std::vector<std::string> raised;  // "cpu", "memory": what the last window raised
  WindowAverage last;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(AlertState, last_window, cpu_streak, memory_streak, raised, last)
SLUICE_JSON_FIELDS(AlertState, last_window, cpu_streak, memory_streak, raised, last)

// What the job writes to host-alerts (key: host).
struct Alert {
  std::string host;
  std::string metric;        // cpu or memory
  int64_t window_start = 0;  // of the third window in a row
  double average = 0;        // in that window
  friend bool operator==(const Alert&, const Alert&) = default;
  friend auto operator<=>(const Alert&, const Alert&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Alert, host, metric, window_start, average)
SLUICE_JSON_FIELDS(Alert, host, metric, window_start, average)

// The streak rule, shared by the job and the oracle: the next closed window of a host.
AlertState next_alert_state(AlertState state, const WindowAverage& window);

// The job: host-metrics (key: host) → hopping 1-minute windows every 20 s (grace 5 s), sums,
// emitted once when the window closes → averages re-keyed by host → the streak rule (a
// key-value aggregate, uncached so every window is seen) → alerts → host-alerts.
Result<operators::Topology> host_alerts_topology();

// The oracle: the windows and the rule computed from the samples directly, alerts sorted.
std::vector<Alert> expected_alerts(const std::vector<HostMetric>& samples);

}  // namespace sluice::samples

#include "sluice/samples/host_metrics.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <random>

#include "sluice/dsl/topology_builder.h"

namespace sluice::samples {

std::vector<HostMetric> generate_host_metrics(const HostMetricsOptions& o) {
  std::mt19937_64 rng(o.seed);
  auto uniform = [&](double lo, double hi) {
    return lo + (hi - lo) * static_cast<double>(rng() % 1'000'000) / 1e6;
  };
  std::vector<int64_t> cpu_overload_until(static_cast<size_t>(o.hosts), 0);
  std::vector<int64_t> memory_overload_until(static_cast<size_t>(o.hosts), 0);
  std::vector<std::pair<int64_t, HostMetric>> arrival;
  int64_t last = o.start_ms;
  for (int64_t s = 0; s < o.seconds; ++s) {
    for (int h = 0; h < o.hosts; ++h) {
      const int64_t t = o.start_ms + s * 1000 + static_cast<int64_t>(rng() % 1000);
      if (uniform(0, 1) < o.overload_chance) {
        cpu_overload_until[h] = t + static_cast<int64_t>(rng() % (o.max_overload_s * 1000));
      }
      if (uniform(0, 1) < o.overload_chance / 2) {
        memory_overload_until[h] = t + static_cast<int64_t>(rng() % (o.max_overload_s * 1000));
      }
      HostMetric m{.host = "host-" + std::to_string(h),
                   .cpu = t < cpu_overload_until[h] ? uniform(85, 100) : uniform(5, 70),
                   .memory = t < memory_overload_until[h] ? uniform(80, 99) : uniform(30, 75),
                   .timestamp = t};
      const int64_t disorder =
          o.max_disorder_ms > 0 ? static_cast<int64_t>(rng() % (o.max_disorder_ms + 1)) : 0;
      arrival.emplace_back(t + disorder, std::move(m));
      last = std::max(last, t);
    }
  }
  std::stable_sort(arrival.begin(), arrival.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<HostMetric> out;
  out.reserve(arrival.size() + static_cast<size_t>(o.hosts));
  for (auto& [at, m] : arrival) out.push_back(std::move(m));
  for (int h = 0; h < o.hosts; ++h) {
    out.push_back({.host = "host-" + std::to_string(h), .timestamp = last + 10 * 60'000});
  }
  return out;
}

AlertState next_alert_state(AlertState state, const WindowAverage& w) {
  state.raised.clear();
  if (state.last_window >= 0 && w.window_start <= state.last_window) return state;  // seen
  if (state.last_window >= 0 && w.window_start != state.last_window + kAverageAdvanceMs) {
    state.cpu_streak = state.memory_streak = 0;  // a gap: not in a row
  }
  state.cpu_streak = w.cpu > kCpuThreshold ? state.cpu_streak + 1 : 0;
  state.memory_streak = w.memory > kMemoryThreshold ? state.memory_streak + 1 : 0;
  if (state.cpu_streak == kWindowsInARow) state.raised.push_back("cpu");
  if (state.memory_streak == kWindowsInARow) state.raised.push_back("memory");
  state.last_window = w.window_start;
  state.last = w;
  return state;
}

Result<operators::Topology> host_alerts_topology() {
  using std::chrono::milliseconds;
  dsl::TopologyBuilder b;
  dsl::Materialized state_store(kAlertStateStore);
  state_store.cached = false;  // every closed window must reach the rule
  b.stream<std::string, HostMetric>(kHostMetricsTopic)
      .group_by_key()
      .windowed_by(dsl::HoppingWindows::of(milliseconds(kAverageWindowMs))
                       .advance_by(milliseconds(kAverageAdvanceMs))
                       .grace(milliseconds(kAverageGraceMs)))
      .emit(operators::EmitStrategy::kOnWindowClose)
      .aggregate([] { return MetricSums{}; },
                 [](const std::string&, const HostMetric& m, MetricSums s) {
                   s.cpu += m.cpu;
                   s.memory += m.memory;
                   ++s.count;
                   return s;
                 },
                 kHostAveragesStore)
      .to_stream()
      .map([](const operators::Windowed<std::string>& w, const MetricSums& s) {
        const double n = static_cast<double>(s.count);
        return std::pair(w.key, WindowAverage{w.window.start.value(), s.cpu / n, s.memory / n});
      })
      .named("averages")
      .group_by_key("by-host")
      .aggregate([] { return AlertState{}; },
                 [](const std::string&, const WindowAverage& w, AlertState s) {
                   return next_alert_state(std::move(s), w);
                 },
                 state_store)
      .to_stream()
      .flat_map_values([](const std::string&, const AlertState& s) {
        std::vector<Alert> alerts;
        for (const std::string& metric : s.raised) {
          alerts.push_back({.metric = metric,
                            .window_start = s.last.window_start,
                            .average = metric == "cpu" ? s.last.cpu : s.last.memory});
        }
        return alerts;
      })
      .named("alerts")
      .map_values([](const std::string& host, Alert a) {
        a.host = host;
        return a;
      })
      .to(kAlertsTopic);
  return b.build();
}

std::vector<Alert> expected_alerts(const std::vector<HostMetric>& samples) {
  // The sentinels close the windows; their own windows never close.
  int64_t sentinel = 0;
  for (const HostMetric& m : samples) sentinel = std::max(sentinel, m.timestamp);
  std::map<std::pair<std::string, int64_t>, MetricSums> windows;
  for (const HostMetric& m : samples) {
    if (m.timestamp == sentinel) continue;
    const int64_t last_start = m.timestamp / kAverageAdvanceMs * kAverageAdvanceMs;
    for (int64_t start = last_start; start > m.timestamp - kAverageWindowMs && start >= 0;
         start -= kAverageAdvanceMs) {
      MetricSums& s = windows[{m.host, start}];
      s.cpu += m.cpu;
      s.memory += m.memory;
      ++s.count;
    }
  }
  std::vector<Alert> out;
  std::map<std::string, AlertState> state;
  for (const auto& [key, s] : windows) {  // per host, by window start
    const double n = static_cast<double>(s.count);
    WindowAverage w{key.second, s.cpu / n, s.memory / n};
    AlertState& st = state[key.first];
    st = next_alert_state(std::move(st), w);
    for (const std::string& metric : st.raised) {
      out.push_back({key.first, metric, w.window_start, metric == "cpu" ? w.cpu : w.memory});
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace sluice::samples

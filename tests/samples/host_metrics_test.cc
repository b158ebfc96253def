// The metrics-alerting sample: the streak rule, the generator, and the job on the runtime
// against the oracle at a small scale.
#include "sluice/samples/host_metrics.h"

#include <gtest/gtest.h>

#include "sample_test_util.h"

namespace sluice::samples {
namespace {

TEST(HostMetricsTest, ThreeWindowsInARowOverTheThresholdRaiseOneAlert) {
  AlertState s;
  auto next = [&](int64_t start, double cpu) {
    s = next_alert_state(s, {.window_start = start, .cpu = cpu, .memory = 10});
    return s.raised;
  };
  EXPECT_TRUE(next(0, 95).empty());
  EXPECT_TRUE(next(20'000, 95).empty());
  EXPECT_EQ(next(40'000, 95), std::vector<std::string>{"cpu"});
  EXPECT_TRUE(next(60'000, 95).empty());  // still over: one alert per episode
  EXPECT_TRUE(next(80'000, 50).empty());  // back under
  EXPECT_TRUE(next(100'000, 95).empty());
  EXPECT_TRUE(next(120'000, 95).empty());
  EXPECT_TRUE(next(180'000, 95).empty());  // a gap: not in a row
  EXPECT_TRUE(next(200'000, 95).empty());
  EXPECT_EQ(next(220'000, 95), std::vector<std::string>{"cpu"});
}

TEST(HostMetricsTest, TheJobOnTheRuntimeEqualsTheOracle) {
  const auto samples = generate_host_metrics({.seed = 3, .hosts = 20, .seconds = 2'400});
  ASSERT_LE(samples.size(), 100'000u);
  std::vector<runtime::testing::Event> events;
  for (const auto& m : samples) {
    events.push_back({m.host, nlohmann::json(m).dump(), Timestamp(m.timestamp)});
  }
  const auto out = testing::run_sample<std::string, Alert>(host_alerts_topology(),
                                                           kHostMetricsTopic, kAlertsTopic, events);
  std::vector<Alert> got;
  for (const auto& r : out) {
    EXPECT_EQ(r.key, r.value.host);
    got.push_back(r.value);
  }
  std::sort(got.begin(), got.end());
  const auto want = expected_alerts(samples);
  EXPECT_GT(want.size(), 10u) << "the generator should overload some hosts";
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace sluice::samples

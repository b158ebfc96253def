// Runs a sample job on the runtime over given events and returns its committed output.
#pragma once

#include <gtest/gtest.h>

#include "../runtime/runtime_test_util.h"
#include "temp_dir.h"

namespace sluice::samples::testing {

// Appends each input's events (key, JSON value, timestamp) to its topic (4 partitions), runs
// `topology` with two stream threads until it has caught up, and returns what a read-committed
// reader sees on `output` (4 partitions). Failures are reported as test failures (and an empty
// result).
template <typename K, typename V>
std::vector<runtime::testing::Output<K, V>> run_sample_on(
    Result<operators::Topology> topology,
    const std::vector<std::pair<std::string, std::vector<runtime::testing::Event>>>& inputs,
    const std::string& output) {
  using namespace runtime;
  sluice::testing::TempDir tmp;
  logstore::LogStoreOptions lo;
  lo.data_dir = tmp / "log";
  auto log = logstore::LogStore::open(lo);
  EXPECT_TRUE(log.ok() && topology.ok());
  if (!log.ok() || !topology.ok()) return {};
  for (const auto& [input, events] : inputs) {
    EXPECT_TRUE(runtime::testing::create_topic(**log, input, 4).ok() &&
                runtime::testing::produce(**log, input, events).ok());
  }
  EXPECT_TRUE(runtime::testing::create_topic(**log, output, 4).ok());
  RuntimeConfig c;
  c.application_id = "sample";
  c.state_dir = tmp / "state";
  c.threads = 2;
  c.commit_interval_ms = 50;
  auto rt = Runtime::create(std::move(*topology), **log, c);
  EXPECT_TRUE(rt.ok() && (*rt)->start().ok());
  if (!rt.ok()) return {};
  EXPECT_TRUE(runtime::testing::wait_until_caught_up(**rt, **log, "sample"));
  (*rt)->stop();
  EXPECT_TRUE((*rt)->wait().ok());
  auto out = runtime::testing::read_committed<K, V>(**log, output);
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  return out.ok() ? *out : std::vector<runtime::testing::Output<K, V>>{};
}

// One input topic.
template <typename K, typename V>
std::vector<runtime::testing::Output<K, V>> run_sample(
    Result<operators::Topology> topology, const std::string& input, const std::string& output,
    const std::vector<runtime::testing::Event>& events) {
  return run_sample_on<K, V>(std::move(topology), {{input, events}}, output);
}

// Events keyed by a field of `T`, with `T` as JSON and its timestamp as the record's.
template <typename T, typename KeyOf>
std::vector<runtime::testing::Event> as_events(const std::vector<T>& values, KeyOf key_of) {
  std::vector<runtime::testing::Event> out;
  for (const auto& v : values) {
    out.push_back({key_of(v), nlohmann::json(v).dump(), Timestamp(v.timestamp)});
  }
  return out;
}

}  // namespace sluice::samples::testing

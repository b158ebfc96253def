// Helpers shared by the runtime tests: producing typed records, reading committed output,
// waiting for a running job to catch up, and the oracle of the windowed-count job.
#pragma once

#include <gtest/gtest.h>
#include "assert_ok.h"

#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "sluice/base/murmur2.h"
#include "sluice/dsl/topology_builder.h"
#include "sluice/logstore/log_store.h"
#include "sluice/runtime/runtime.h"

namespace sluice::runtime::testing {

struct Event {
  std::string key, value;
  Timestamp timestamp;
};

template <typename K, typename V>
struct Output {
  K key;
  V value;
  Timestamp timestamp;
  PartitionId partition{0};
  Offset offset{0};
};

inline Status create_topic(logstore::LogClient& log, const std::string& name, int32_t partitions) {
  logstore::TopicConfig c;
  c.partitions = partitions;
  c.flush_policy = logstore::FlushPolicy::kNever;
  c.retention_ms = -1;  // the tests' events are timestamped near 1970
  return log.create_topic(name, c);
}

// Appends `events` keyed by the default partitioner, in batches per partition.
inline Status produce(logstore::LogClient& log, const std::string& topic,
                      const std::vector<Event>& events) {
  SLUICE_ASSIGN_OR_RETURN(auto d, log.describe_topic(topic));
  const auto n = static_cast<int32_t>(d.partitions.size());
  std::map<int32_t, std::vector<logstore::Record>> by_partition;
  for (const Event& e : events) {
    logstore::Record r{.timestamp = e.timestamp};
    r.key = ByteView(e.key);
    r.value = ByteView(e.value);
    by_partition[kafka_partition_for_key(e.key, n)].push_back(r);
  }
  for (auto& [p, records] : by_partition) {
    for (size_t i = 0; i < records.size(); i += 1000) {
      const size_t len = std::min<size_t>(1000, records.size() - i);
      SLUICE_RETURN_IF_ERROR(
          log.append({topic, PartitionId(p)}, std::span(records).subspan(i, len)).status());
    }
  }
  return Status();
}

// Every record of `topic` a read-committed reader sees, partition by partition.
template <typename K, typename V>
Result<std::vector<Output<K, V>>> read_committed(logstore::LogClient& log,
                                                 const std::string& topic) {
  SLUICE_ASSIGN_OR_RETURN(auto d, log.describe_topic(topic));
  std::vector<Output<K, V>> out;
  for (size_t p = 0; p < d.partitions.size(); ++p) {
    logstore::TopicPartition tp{topic, PartitionId(static_cast<int32_t>(p))};
    SLUICE_ASSIGN_OR_RETURN(auto ends, log.partition_ends(tp));
    Offset position = ends.log_start;
    while (position < ends.stable.offset()) {
      SLUICE_ASSIGN_OR_RETURN(auto fetched, log.fetch({.partition = tp, .offset = position}));
      if (fetched.batches.empty()) break;
      Status decoded;
      SLUICE_RETURN_IF_ERROR(logstore::for_each_record(
          fetched, position, logstore::IsolationLevel::kReadCommitted,
          [&](const logstore::RecordView& r) -> Status {
            auto k = operators::decode<K>(r.key);
            auto v = operators::decode<V>(r.value);
            if (!k.ok()) return k.status();
            if (!v.ok()) return v.status();
            out.push_back({std::move(*k), std::move(*v), r.timestamp, tp.partition, r.offset});
            return Status();
          }));
      position = fetched.next_offset;
    }
  }
  return out;
}

// Waits until Runtime::caught_up() holds twice in a row (so nothing was in flight between the
// checks).
inline bool wait_until_caught_up(Runtime& rt, logstore::LogClient&, const std::string&,
                                 std::chrono::seconds timeout = std::chrono::seconds(120)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int clean_passes = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (rt.status().state != RuntimeState::kRunning) return false;
    clean_passes = rt.caught_up() ? clean_passes + 1 : 0;
    if (clean_passes >= 2) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Page views: key user, value page, timestamps rising with a little disorder.
inline std::vector<Event> page_views(int n, uint64_t seed, int64_t start_ms = 0, int pages = 50,
                                     int users = 500) {
  std::mt19937_64 rng(seed);
  std::vector<Event> out;
  out.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const int64_t ts = start_ms + i * 2 + static_cast<int64_t>(rng() % 20);
    out.push_back({"user-" + std::to_string(rng() % static_cast<uint64_t>(users)),
                   "page-" + std::to_string(rng() % static_cast<uint64_t>(pages)), Timestamp(ts)});
  }
  return out;
}

constexpr int64_t kWindowMs = 1000;

// Views per page per 1-second tumbling window, re-keyed by page through a repartition topic.
inline operators::Topology windowed_count_topology(
    operators::EmitStrategy emit = operators::EmitStrategy::kOnEveryUpdate) {
  using namespace std::chrono_literals;
  dsl::TopologyBuilder b;
  b.stream<std::string, std::string>("views")
      .select_key([](const std::string&, const std::string& page) { return page; })
      .group_by_key()
      .windowed_by(dsl::TumblingWindows::of(1s).grace(1h))
      .emit(emit)
      .count("views-per-page")
      .to_stream()
      .to("views-per-page-out");
  auto t = b.build();
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return std::move(t).value();
}

using WindowKey = std::pair<std::string, int64_t>;  // page, window start

inline std::map<WindowKey, int64_t> count_oracle(const std::vector<Event>& events) {
  std::map<WindowKey, int64_t> out;
  for (const Event& e : events) {
    ++out[{e.value, e.timestamp.value() / kWindowMs * kWindowMs}];
  }
  return out;
}

// The last value of every (key, window) in the output, and whether each one's updates rose
// strictly (a repeated or lower value means an interval's output was seen twice).
struct FinalCounts {
  std::map<WindowKey, int64_t> last;
  int64_t non_increasing = 0;
};

inline FinalCounts final_counts(
    const std::vector<Output<operators::Windowed<std::string>, int64_t>>& out) {
  FinalCounts f;
  for (const auto& r : out) {
    const WindowKey k{r.key.key, r.key.window.start.value()};
    auto [it, inserted] = f.last.try_emplace(k, r.value);
    if (!inserted) {
      if (r.value <= it->second) ++f.non_increasing;
      it->second = r.value;
    }
  }
  return f;
}

}  // namespace sluice::runtime::testing

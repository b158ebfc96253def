// Helpers of the end-to-end harnesses that run on the log: failures end the run with the
// error's message (main() catches and prints it).
#pragma once

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_util.h"
#include "sluice/logstore/log_store.h"

namespace sluice::bench {

inline void check(const Status& s) {
  if (!s.ok()) throw std::runtime_error(s.to_string());
}

inline std::unique_ptr<logstore::LogStore> open_log(const std::string& dir) {
  logstore::LogStoreOptions o;
  o.data_dir = dir;
  auto log = logstore::LogStore::open(o);
  check(log.status());
  return std::move(log).value();
}

// The baseline of the produce benchmarks: `batches` appends of `keys`/`values` (one record
// each, one batch per call) through LogClient::append on a fresh log in `dir`, round robin over
// `partitions` partitions of topic "bench". Returns records per second; removes `dir`.
inline double in_process_append_rate(const std::string& dir, const std::vector<std::string>& keys,
                                     const std::vector<std::string>& values, int64_t batches,
                                     int partitions) {
  std::filesystem::remove_all(dir);
  auto log = open_log(dir);
  logstore::TopicConfig tc;
  tc.partitions = partitions;
  check(log->create_topic("bench", tc));
  std::vector<logstore::Record> batch(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    batch[i] = {.key = ByteView(keys[i]), .value = ByteView(values[i])};
  }
  const double start = now_s();
  for (int64_t r = 0; r < batches; ++r) {
    logstore::TopicPartition tp{"bench", PartitionId(static_cast<int32_t>(r % partitions))};
    check(log->append(tp, batch).status());
  }
  const double seconds = now_s() - start;
  check(log->close());
  std::filesystem::remove_all(dir);
  return static_cast<double>(batches * static_cast<int64_t>(keys.size())) / seconds;
}

}  // namespace sluice::bench

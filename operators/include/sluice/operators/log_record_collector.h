// LogRecordCollector: a task's output records, buffered per partition and appended to the log
// when the task commits — through a Producer (inside its transaction, under exactly-once) or
// with plain appends.
//
// Thread safety: thread-confined to its task.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sluice/logstore/log_client.h"
#include "sluice/operators/node.h"

namespace sluice::operators {

struct LogRecordCollectorOptions {
  logstore::LogClient* log = nullptr;  // outlives the collector
  // Topics written that do not exist are created with this many partitions (0: kNotFound).
  int32_t create_missing_topics_with_partitions = 0;
};

class LogRecordCollector final : public RecordCollector {
 public:
  explicit LogRecordCollector(LogRecordCollectorOptions options) : options_(options) {}

  Result<int32_t> partitions(std::string_view topic) override;
  Status send(std::string_view topic, PartitionId partition, std::optional<ByteView> key,
              std::optional<ByteView> value, Timestamp timestamp,
              std::span<const logstore::RecordHeader> headers) override;

  // Appends what is buffered, one batch per partition, through `producer` (nullptr: plain
  // appends). On error what was not appended stays buffered.
  Status flush(logstore::Producer* producer);
  // Drops what is buffered (after an aborted transaction).
  void discard() { pending_.clear(); }
  size_t buffered() const;

 private:
  struct Pending {
    std::optional<Bytes> key, value;
    Timestamp timestamp;
    std::vector<std::pair<Bytes, std::optional<Bytes>>> headers;
  };
  LogRecordCollectorOptions options_;
  std::map<std::string, int32_t, std::less<>> partition_counts_;
  std::map<logstore::TopicPartition, std::vector<Pending>> pending_;
};

}  // namespace sluice::operators

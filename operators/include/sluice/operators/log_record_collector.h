// LogRecordCollector: a task's output records, buffered per partition and appended to the log
// when the task commits — through a Producer (inside its transaction, under exactly-once) or
// with plain appends.
//
// Buffered records are copied into one growing byte arena per output partition (keys, values
// and headers back to back, with a small fixed-size entry per record), so sending a record
// allocates nothing once the arenas have grown; a flush keeps their memory for the next
// interval.
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

  // Appends what is buffered, one batch per partition (or several, for many records), through
  // `producer` (nullptr: plain appends). On error what was not appended stays buffered.
  Status flush(logstore::Producer* producer);
  // Drops what is buffered (after an aborted transaction).
  void discard();
  size_t buffered() const { return buffered_; }

 private:
  // A byte range in a partition's arena; length -1 is null.
  struct Span {
    size_t offset = 0;
    int64_t length = -1;
  };
  struct Entry {
    Span key, value;
    Timestamp timestamp;
    size_t headers_begin = 0, headers_end = 0;  // in Output::headers
  };
  struct Output {
    logstore::TopicPartition partition;
    Bytes arena;
    std::vector<Entry> entries;
    std::vector<std::pair<Span, Span>> headers;
    size_t flushed = 0;  // entries already appended (a flush that failed part way)
  };

  Output& output(std::string_view topic, PartitionId partition);
  Status flush(Output& out, logstore::Producer* producer);

  LogRecordCollectorOptions options_;
  std::map<std::string, int32_t, std::less<>> partition_counts_;
  // Per topic, per partition (index = partition id), in order of first use.
  std::map<std::string, std::vector<std::unique_ptr<Output>>, std::less<>> outputs_;
  const std::string* last_topic_ = nullptr;                       // the topic of the last send()...
  std::vector<std::unique_ptr<Output>>* last_outputs_ = nullptr;  // ...and its outputs
  std::vector<Output*> in_use_;                                   // outputs with entries, for flush
  size_t buffered_ = 0;
};

}  // namespace sluice::operators

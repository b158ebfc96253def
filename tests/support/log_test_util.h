// Helpers for tests of the log: building records and reading partitions back.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sluice/logstore/log_client.h"

namespace sluice::testing {

// A record as read back, with owned bytes.
struct ReadRecord {
  Offset offset;
  Timestamp timestamp = kNoTimestamp;
  std::optional<std::string> key;
  std::optional<std::string> value;
  friend bool operator==(const ReadRecord&, const ReadRecord&) = default;
};

// Owned key/value pairs and Record views over them.
class RecordSet {
 public:
  RecordSet& add(std::optional<std::string> key, std::optional<std::string> value,
                 Timestamp ts = kNoTimestamp);
  // `n` records "k<i>" -> "v<i>" for i in [first, first + n).
  static RecordSet numbered(int first, int n, Timestamp ts = kNoTimestamp);
  std::span<const logstore::Record> records() const;
  size_t size() const { return keys_.size(); }

 private:
  std::vector<std::optional<std::string>> keys_, values_;
  std::vector<Timestamp> ts_;
  mutable std::vector<logstore::Record> views_;
};

// Every record from `from` to the end that a reader at `isolation` sees.
Result<std::vector<ReadRecord>> read_all(logstore::LogClient& log,
                                         const logstore::TopicPartition& tp,
                                         logstore::IsolationLevel isolation =
                                             logstore::IsolationLevel::kReadCommitted,
                                         Offset from = Offset(0));

// An encoded batch of `records` (for append_batch).
Bytes encode(const RecordSet& records, const logstore::BatchOptions& options = {});

}  // namespace sluice::testing

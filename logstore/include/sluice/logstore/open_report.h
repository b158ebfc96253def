// OpenReport: what opening a log store found and repaired.
//
// Recovery never fails silently: every torn or corrupt tail it cut, every derived file it
// rebuilt and every transaction it completed is listed here (and logged).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sluice/base/ids.h"
#include "sluice/logstore/log_types.h"

namespace sluice::logstore {

// Bytes cut from the end of an active segment because they did not form valid batches.
struct TruncatedTail {
  TopicPartition partition;
  std::string segment;          // file name
  uint64_t position = 0;        // where the cut was made
  uint64_t bytes_lost = 0;      // how many bytes were removed
  Offset first_lost_offset{0};  // the offset the next valid batch would have had
  std::string reason;           // what failed: "CRC mismatch", "truncated batch", ...
};

// A sealed segment whose bytes fail validation partway: kept as it is (reads there report the
// corruption), listed so an operator can act.
struct CorruptSegment {
  TopicPartition partition;
  std::string segment;
  uint64_t position = 0;
  std::string reason;
};

struct OpenReport {
  std::vector<TruncatedTail> truncated;
  std::vector<CorruptSegment> corrupt;
  // Derived files (indexes, snapshots) that were missing or bad and were rebuilt.
  std::vector<std::string> rebuilt;
  int64_t transactions_aborted = 0;         // open without PrepareCommit: aborted
  int64_t transactions_rolled_forward = 0;  // PrepareCommit found: committed
};

}  // namespace sluice::logstore

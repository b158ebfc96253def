// Helpers for tests of the log: building records and reading partitions back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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
Result<std::vector<ReadRecord>> read_all(
    logstore::LogClient& log, const logstore::TopicPartition& tp,
    logstore::IsolationLevel isolation = logstore::IsolationLevel::kReadCommitted,
    Offset from = Offset(0));

// Whether `text` contains `needle` followed by `number` as a whole number (not a prefix of a
// longer one), e.g. mentions_number("at offset 42: ...", 42, "offset "). (std::regex is avoided:
// libstdc++ 12's trips -Wmaybe-uninitialized in sanitizer builds.)
bool mentions_number(std::string_view text, int64_t number, std::string_view needle = "");

// An encoded batch of `records` (for append_batch).
Bytes encode(const RecordSet& records, const logstore::BatchOptions& options = {});

// Every batch from the one holding `from` to the high watermark, read uncommitted, as the
// concatenated raw bytes the log stores.
Result<Bytes> fetch_all_batches(logstore::LogClient& log, const logstore::TopicPartition& tp,
                                Offset from = Offset(0));

// --- The files of a LogStore data directory, for tests that inspect or damage them. ---

// <data_dir>/topics/<topic>/<partition>
std::string partition_dir(const std::string& data_dir, const logstore::TopicPartition& tp);
// Base offsets of the partition's segments (its .log files), ascending.
std::vector<Offset> segment_bases(const std::string& partition_dir);
// <partition_dir>/<base, 20 digits><suffix>, e.g. suffix ".log" or ".timeindex".
std::string segment_file(const std::string& partition_dir, Offset base, std::string_view suffix);

// A batch found in stored log bytes: where it starts and what its header says.
struct StoredBatch {
  uint64_t position = 0;
  logstore::BatchHeader header;
  uint64_t end() const { return position + header.size_bytes(); }
};
// The batches of `log` (concatenated encoded batches) in order, up to the first that does not
// parse whole.
std::vector<StoredBatch> parse_batches(ByteView log);

// Whole-file helpers on the real file system. They abort the test binary on an I/O error (a
// broken test environment, not a behaviour under test).
Bytes read_bytes(const std::string& path);
void write_bytes(const std::string& path, ByteView data);
uint64_t file_size(const std::string& path);
// XORs the byte at `position` with `mask` (non-zero).
void flip_byte(const std::string& path, uint64_t position, uint8_t mask = 0xff);
void truncate_file(const std::string& path, uint64_t size);
// Replaces `to` (if present) by a recursive copy of `from`.
void copy_tree(const std::string& from, const std::string& to);

}  // namespace sluice::testing

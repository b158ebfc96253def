// Changelogging: the records a logged store's updates produce, buffered until the commit
// flushes them to the store's changelog topic, and the wrappers that produce them.
//
// A changelog record's key is the store's key (key-value stores) or the key with its window
// (window: key | window start int64 BE; session: key | end int64 BE | start int64 BE); its value
// is the value, or null (a tombstone) for a removal.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/logstore/log_client.h"
#include "sluice/state/store.h"

namespace sluice::state {

class ChangelogBuffer {
 public:
  // `headers` go on every record (their bytes must outlive the buffer).
  explicit ChangelogBuffer(logstore::TopicPartition topic,
                           std::vector<logstore::RecordHeader> headers = {})
      : topic_(std::move(topic)), headers_(std::move(headers)) {}

  const logstore::TopicPartition& topic() const { return topic_; }
  void add(ByteView key, std::optional<ByteView> value);
  bool empty() const { return records_.empty(); }
  size_t size() const { return records_.size(); }

  // Appends the buffered records (in batches) through `producer`, or `log` when it is null,
  // and remembers the last offset written. The buffer is emptied only on success.
  Status flush(logstore::LogClient& log, logstore::Producer* producer);
  // The last changelog offset flushed since the last take_flushed().
  std::optional<Offset> flushed() const { return flushed_; }
  void clear_flushed() { flushed_.reset(); }
  void discard() {
    records_.clear();
    bytes_.clear();
    flushed_.reset();
  }

 private:
  // A buffered record: its key's bytes at `at` in bytes_, its value's (if any) right after.
  struct Pending {
    size_t at = 0;
    uint32_t key_size = 0;
    uint32_t value_size = 0;
    bool has_value = false;
  };

  logstore::TopicPartition topic_;
  std::vector<logstore::RecordHeader> headers_;
  // The records' bytes, one buffer for all of them: a commit flushes tens of thousands of
  // small records, and two strings each cost more in malloc than the copy itself. Both keep
  // their capacity from one commit to the next.
  Bytes bytes_;
  std::vector<Pending> records_;
  std::optional<Offset> flushed_;
};

// Window and session changelog keys.
Bytes window_changelog_key(ByteView key, Timestamp window_start);
bool parse_window_changelog_key(ByteView encoded, ByteView& key, Timestamp& window_start);
Bytes session_changelog_key(ByteView key, SessionWindow window);
bool parse_session_changelog_key(ByteView encoded, ByteView& key, SessionWindow& window);

// Stores that record every update in a ChangelogBuffer (nullptr: none) on its way to the
// inner store. They hold the slot of the inner store, so that the store in it can be replaced
// (after an abort, or a full restore) while users keep the outer store.
std::unique_ptr<KeyValueStore> make_logged(std::unique_ptr<KeyValueStore>& inner,
                                           ChangelogBuffer* log);
std::unique_ptr<WindowStore> make_logged(std::unique_ptr<WindowStore>& inner, ChangelogBuffer* log);
std::unique_ptr<SessionStore> make_logged(std::unique_ptr<SessionStore>& inner,
                                          ChangelogBuffer* log);

// Applies one changelog record to a store (restore).
Status apply_changelog_record(KeyValueStore& store, ByteView key, std::optional<ByteView> value);
Status apply_changelog_record(WindowStore& store, ByteView key, std::optional<ByteView> value);
Status apply_changelog_record(SessionStore& store, ByteView key, std::optional<ByteView> value);

}  // namespace sluice::state

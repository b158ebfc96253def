#include "changelog.h"

#include <span>

namespace sluice::state {
namespace {

// Records per changelog append: one batch each, well under the log's batch size limit.
constexpr size_t kRecordsPerBatch = 2000;
constexpr size_t kBytesPerBatch = 1 << 20;

class LoggedKeyValueStore final : public KeyValueStore {
 public:
  LoggedKeyValueStore(std::unique_ptr<KeyValueStore>& inner, ChangelogBuffer* log)
      : inner_(inner), log_(log) {}
  const std::string& name() const override { return inner_->name(); }
  Result<std::optional<Bytes>> get(ByteView key) override { return inner_->get(key); }
  Result<bool> get_into(ByteView key, Bytes& value) override {
    return inner_->get_into(key, value);
  }
  Status put(ByteView key, ByteView value) override {
    SLUICE_RETURN_IF_ERROR(inner_->put(key, value));
    if (log_) log_->add(key, value);
    return Status();
  }
  Status remove(ByteView key) override {
    SLUICE_RETURN_IF_ERROR(inner_->remove(key));
    if (log_) log_->add(key, std::nullopt);
    return Status();
  }
  Result<std::unique_ptr<KeyValueIterator>> range(std::optional<ByteView> from,
                                                  std::optional<ByteView> to) override {
    return inner_->range(from, to);
  }
  Result<std::unique_ptr<KeyValueIterator>> prefix_scan(ByteView prefix) override {
    return inner_->prefix_scan(prefix);
  }
  Result<uint64_t> approximate_count() override { return inner_->approximate_count(); }

 private:
  // The slot, not the store: TaskState may replace an in-memory store (abort, full restore).
  std::unique_ptr<KeyValueStore>& inner_;
  ChangelogBuffer* log_;  // nullptr: an unlogged store, still reached through its slot
};

class LoggedWindowStore final : public WindowStore {
 public:
  LoggedWindowStore(std::unique_ptr<WindowStore>& inner, ChangelogBuffer* log)
      : inner_(inner), log_(log) {}
  const std::string& name() const override { return inner_->name(); }
  int64_t retention_ms() const override { return inner_->retention_ms(); }
  Status put(ByteView key, Timestamp start, std::optional<ByteView> value) override {
    if (start < inner_->stream_time() - inner_->retention_ms()) return Status();  // expired
    SLUICE_RETURN_IF_ERROR(inner_->put(key, start, value));
    if (log_) log_->add(window_changelog_key(key, start), value);
    return Status();
  }
  Result<std::optional<Bytes>> fetch(ByteView key, Timestamp start) override {
    return inner_->fetch(key, start);
  }
  Result<std::unique_ptr<WindowIterator>> fetch(ByteView key, Timestamp from,
                                                Timestamp to) override {
    return inner_->fetch(key, from, to);
  }
  Result<std::unique_ptr<WindowIterator>> fetch_all(Timestamp from, Timestamp to) override {
    return inner_->fetch_all(from, to);
  }
  Status advance_stream_time(Timestamp t) override { return inner_->advance_stream_time(t); }
  Timestamp stream_time() const override { return inner_->stream_time(); }

 private:
  // The slot, not the store: TaskState may replace an in-memory store (abort, full restore).
  std::unique_ptr<WindowStore>& inner_;
  ChangelogBuffer* log_;  // nullptr: an unlogged store, still reached through its slot
};

class LoggedSessionStore final : public SessionStore {
 public:
  LoggedSessionStore(std::unique_ptr<SessionStore>& inner, ChangelogBuffer* log)
      : inner_(inner), log_(log) {}
  const std::string& name() const override { return inner_->name(); }
  int64_t retention_ms() const override { return inner_->retention_ms(); }
  Status put(ByteView key, SessionWindow window, ByteView value) override {
    if (window.end < inner_->stream_time() - inner_->retention_ms()) return Status();  // expired
    SLUICE_RETURN_IF_ERROR(inner_->put(key, window, value));
    if (log_) log_->add(session_changelog_key(key, window), value);
    return Status();
  }
  Status remove(ByteView key, SessionWindow window) override {
    SLUICE_RETURN_IF_ERROR(inner_->remove(key, window));
    if (log_) log_->add(session_changelog_key(key, window), std::nullopt);
    return Status();
  }
  Result<std::optional<Bytes>> fetch(ByteView key, SessionWindow window) override {
    return inner_->fetch(key, window);
  }
  Result<std::unique_ptr<SessionIterator>> find_sessions(ByteView key, Timestamp earliest_end,
                                                         Timestamp latest_start) override {
    return inner_->find_sessions(key, earliest_end, latest_start);
  }
  Status advance_stream_time(Timestamp t) override { return inner_->advance_stream_time(t); }
  Timestamp stream_time() const override { return inner_->stream_time(); }

 private:
  // The slot, not the store: TaskState may replace an in-memory store (abort, full restore).
  std::unique_ptr<SessionStore>& inner_;
  ChangelogBuffer* log_;  // nullptr: an unlogged store, still reached through its slot
};

}  // namespace

void ChangelogBuffer::add(ByteView key, std::optional<ByteView> value) {
  records_.push_back({.at = bytes_.size(),
                      .key_size = static_cast<uint32_t>(key.size()),
                      .value_size = value ? static_cast<uint32_t>(value->size()) : 0,
                      .has_value = value.has_value()});
  bytes_.append(key);
  if (value) bytes_.append(*value);
}

Status ChangelogBuffer::flush(logstore::LogClient& log, logstore::Producer* producer) {
  std::vector<logstore::Record> batch;
  size_t i = 0;
  while (i < records_.size()) {
    batch.clear();
    size_t bytes = 0;
    for (; i < records_.size() && batch.size() < kRecordsPerBatch && bytes < kBytesPerBatch; ++i) {
      const Pending& p = records_[i];
      logstore::Record r{.key = ByteView(bytes_).substr(p.at, p.key_size), .headers = headers_};
      if (p.has_value) r.value = ByteView(bytes_).substr(p.at + p.key_size, p.value_size);
      batch.push_back(r);
      bytes += p.key_size + p.value_size;
    }
    auto appended = producer ? producer->append(topic_, batch) : log.append(topic_, batch);
    if (!appended.ok()) {
      // Keep what was not appended; what was is in the log (and in flushed_). Their bytes
      // stay where they are until a flush succeeds.
      records_.erase(records_.begin(),
                     records_.begin() + static_cast<std::ptrdiff_t>(i - batch.size()));
      return appended.status().with_context("writing changelog " + topic_.to_string());
    }
    flushed_ = appended->last_offset;
  }
  records_.clear();
  bytes_.clear();
  return Status();
}

Bytes window_changelog_key(ByteView key, Timestamp window_start) {
  Bytes out(key);
  append_be<int64_t>(out, window_start.value());
  return out;
}

bool parse_window_changelog_key(ByteView encoded, ByteView& key, Timestamp& window_start) {
  if (encoded.size() < 8) return false;
  key = encoded.substr(0, encoded.size() - 8);
  window_start = Timestamp(load_be<int64_t>(encoded.data() + encoded.size() - 8));
  return true;
}

Bytes session_changelog_key(ByteView key, SessionWindow window) {
  Bytes out(key);
  append_be<int64_t>(out, window.end.value());
  append_be<int64_t>(out, window.start.value());
  return out;
}

bool parse_session_changelog_key(ByteView encoded, ByteView& key, SessionWindow& window) {
  if (encoded.size() < 16) return false;
  key = encoded.substr(0, encoded.size() - 16);
  const char* p = encoded.data() + encoded.size() - 16;
  window.end = Timestamp(load_be<int64_t>(p));
  window.start = Timestamp(load_be<int64_t>(p + 8));
  return true;
}

std::unique_ptr<KeyValueStore> make_logged(std::unique_ptr<KeyValueStore>& inner,
                                           ChangelogBuffer* log) {
  return std::make_unique<LoggedKeyValueStore>(inner, log);
}
std::unique_ptr<WindowStore> make_logged(std::unique_ptr<WindowStore>& inner,
                                         ChangelogBuffer* log) {
  return std::make_unique<LoggedWindowStore>(inner, log);
}
std::unique_ptr<SessionStore> make_logged(std::unique_ptr<SessionStore>& inner,
                                          ChangelogBuffer* log) {
  return std::make_unique<LoggedSessionStore>(inner, log);
}

Status apply_changelog_record(KeyValueStore& store, ByteView key, std::optional<ByteView> value) {
  return value ? store.put(key, *value) : store.remove(key);
}

Status apply_changelog_record(WindowStore& store, ByteView key, std::optional<ByteView> value) {
  ByteView k;
  Timestamp start;
  if (!parse_window_changelog_key(key, k, start)) {
    return corruption("window changelog record of " + store.name() + " has a malformed key");
  }
  if (start > store.stream_time()) SLUICE_RETURN_IF_ERROR(store.advance_stream_time(start));
  return store.put(k, start, value);
}

Status apply_changelog_record(SessionStore& store, ByteView key, std::optional<ByteView> value) {
  ByteView k;
  SessionWindow window;
  if (!parse_session_changelog_key(key, k, window)) {
    return corruption("session changelog record of " + store.name() + " has a malformed key");
  }
  if (window.end > store.stream_time()) {
    SLUICE_RETURN_IF_ERROR(store.advance_stream_time(window.end));
  }
  return value ? store.put(k, window, *value) : store.remove(k, window);
}

}  // namespace sluice::state

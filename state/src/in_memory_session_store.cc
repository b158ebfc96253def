#include "in_memory_session_store.h"

#include <limits>
#include <vector>

#include "sluice/base/check.h"

namespace sluice::state {
namespace {

using Sessions = InMemorySessionStore::Sessions;

// Walks [it, end) of one key's sessions, skipping those that start after `latest_start`, or,
// once detached, its copy of what was left.
class SessionsIterator final : public SessionIterator, private DetachableIterator {
 public:
  SessionsIterator(OpenIterators& open, ByteView key, Sessions::const_iterator it,
                   Sessions::const_iterator end, Timestamp latest_start)
      : DetachableIterator(open), key_(key), it_(it), end_(end), latest_start_(latest_start) {
    skip_late_starts();
  }

  bool valid() const override { return detached_ ? pos_ < rows_.size() : it_ != end_; }
  ByteView key() const override {
    SLUICE_CHECK(valid());
    return key_;
  }
  SessionWindow window() const override {
    SLUICE_CHECK(valid());
    return detached_ ? rows_[pos_].first : window_of(*it_);
  }
  ByteView value() const override {
    SLUICE_CHECK(valid());
    return detached_ ? rows_[pos_].second : it_->second;
  }
  void next() override {
    if (!valid()) return;
    if (detached_) {
      ++pos_;
    } else {
      ++it_;
      skip_late_starts();
    }
  }
  Status status() const override { return Status(); }

 private:
  static SessionWindow window_of(const Sessions::value_type& session) {
    return SessionWindow{.start = session.first.second, .end = session.first.first};
  }

  void detach() override {
    owned_key_ = key_;
    key_ = owned_key_;
    for (; it_ != end_; ++it_, skip_late_starts()) rows_.emplace_back(window_of(*it_), it_->second);
    detached_ = true;
  }

  // Sessions are in end order, so one that starts too late may precede one that does not.
  void skip_late_starts() {
    while (it_ != end_ && it_->first.second > latest_start_) ++it_;
  }

  ByteView key_;  // the key's node in the store, or owned_key_ once detached
  Sessions::const_iterator it_;
  const Sessions::const_iterator end_;
  const Timestamp latest_start_;
  bool detached_ = false;
  Bytes owned_key_;                                    // once detached
  std::vector<std::pair<SessionWindow, Bytes>> rows_;  // once detached
  size_t pos_ = 0;
};

Status check_window(SessionWindow window) {
  if (window.end >= window.start) return Status();
  return invalid_argument("a session window cannot end before it starts: [" +
                          std::to_string(window.start.value()) + ", " +
                          std::to_string(window.end.value()) + "]");
}

}  // namespace

InMemorySessionStore::InMemorySessionStore(std::string name, int64_t retention_ms)
    : name_(std::move(name)), retention_ms_(retention_ms) {
  SLUICE_CHECK(retention_ms_ >= 1);  // the factory validates the spec
}

Status InMemorySessionStore::put(ByteView key, SessionWindow window, ByteView value) {
  SLUICE_RETURN_IF_ERROR(check_window(window));
  if (window.end < cutoff()) return Status();  // expired: ignored, like expired windows
  open_.detach_all();
  auto k = keys_.lower_bound(key);
  if (k == keys_.end() || k->first != key) k = keys_.emplace_hint(k, Bytes(key), Sessions());
  auto [session, inserted] = k->second.insert_or_assign({window.end, window.start}, Bytes(value));
  if (inserted) by_end_.insert({window.end, window.start, k});
  return Status();
}

Status InMemorySessionStore::remove(ByteView key, SessionWindow window) {
  SLUICE_RETURN_IF_ERROR(check_window(window));
  auto k = keys_.find(key);
  if (k == keys_.end()) return Status();
  auto session = k->second.find({window.end, window.start});
  if (session == k->second.end()) return Status();
  open_.detach_all();
  erase(k, session);
  return Status();
}

Result<std::optional<Bytes>> InMemorySessionStore::fetch(ByteView key, SessionWindow window) {
  SLUICE_RETURN_IF_ERROR(check_window(window));
  auto k = keys_.find(key);
  if (k == keys_.end()) return std::optional<Bytes>();
  auto session = k->second.find({window.end, window.start});
  if (session == k->second.end()) return std::optional<Bytes>();
  return std::optional<Bytes>(session->second);
}

Result<std::unique_ptr<SessionIterator>> InMemorySessionStore::find_sessions(
    ByteView key, Timestamp earliest_end, Timestamp latest_start) {
  auto k = keys_.find(key);
  if (k == keys_.end()) {
    static const Sessions kNone;
    return std::unique_ptr<SessionIterator>(
        std::make_unique<SessionsIterator>(open_, key, kNone.end(), kNone.end(), latest_start));
  }
  const Sessions& sessions = k->second;
  auto first = sessions.lower_bound({earliest_end, Timestamp(std::numeric_limits<int64_t>::min())});
  return std::unique_ptr<SessionIterator>(
      std::make_unique<SessionsIterator>(open_, k->first, first, sessions.end(), latest_start));
}

Status InMemorySessionStore::advance_stream_time(Timestamp stream_time) {
  if (stream_time <= stream_time_) return Status();  // never back
  stream_time_ = stream_time;
  // Exactly the expired sessions go; nothing waits for its whole segment to expire.
  if (by_end_.empty() || by_end_.begin()->end >= cutoff()) return Status();
  open_.detach_all();
  while (!by_end_.empty() && by_end_.begin()->end < cutoff()) {
    const EndIndexEntry& oldest = *by_end_.begin();
    erase(oldest.key, oldest.key->second.find({oldest.end, oldest.start}));
  }
  return Status();
}

void InMemorySessionStore::erase(Keys::iterator key, Sessions::iterator session) {
  SLUICE_CHECK(session != key->second.end());
  by_end_.erase({session->first.first, session->first.second, key});
  key->second.erase(session);
  if (key->second.empty()) keys_.erase(key);
}

}  // namespace sluice::state

// InMemorySessionStore: a SessionStore over a map from key to that key's sessions, plus an
// index of every session by end time for expiry (see in_memory_stores.h for the rules it
// settles).
//
// Sessions are not aligned like windows (each starts at some event), so they are indexed by
// key first: find_sessions looks at one key's sessions only, and expiry walks the end-time
// index instead of every key.
//
// Thread safety: thread-confined to its task, like every store.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "in_memory_common.h"
#include "sluice/state/store.h"

namespace sluice::state {

class InMemorySessionStore final : public SessionStore {
 public:
  InMemorySessionStore(std::string name, int64_t retention_ms);
  ~InMemorySessionStore() override { open_.detach_all(); }

  const std::string& name() const override { return name_; }
  int64_t retention_ms() const override { return retention_ms_; }

  Status put(ByteView key, SessionWindow window, ByteView value) override;
  Status remove(ByteView key, SessionWindow window) override;
  Result<std::optional<Bytes>> fetch(ByteView key, SessionWindow window) override;
  Result<std::unique_ptr<SessionIterator>> find_sessions(ByteView key, Timestamp earliest_end,
                                                         Timestamp latest_start) override;
  Status advance_stream_time(Timestamp stream_time) override;
  Timestamp stream_time() const override { return stream_time_; }

  // One key's sessions: (end, start) -> value, so in the order find_sessions returns them.
  using Sessions = std::map<std::pair<Timestamp, Timestamp>, Bytes>;
  // Key -> its sessions. Invariant: no key maps to an empty Sessions.
  using Keys = std::map<Bytes, Sessions, std::less<>>;

 private:
  // One entry of by_end_: a session, found through its key's node in keys_ (stable while the
  // key has sessions, which it has while the entry exists).
  struct EndIndexEntry {
    Timestamp end;
    Timestamp start;
    Keys::iterator key;
  };
  struct ByEnd {
    bool operator()(const EndIndexEntry& a, const EndIndexEntry& b) const {
      if (a.end != b.end) return a.end < b.end;
      if (a.start != b.start) return a.start < b.start;
      return std::less<const Bytes*>()(&a.key->first, &b.key->first);  // a total order
    }
  };

  // Sessions ending before this are expired (in_memory_stores.h). Cannot overflow: stream
  // time is at least kNoTimestamp (-1) and retention at least 1 ms.
  Timestamp cutoff() const { return stream_time_ - retention_ms_; }
  // Removes one stored session: from its key's sessions, and the key once it has none. The
  // caller has detached the open iterators.
  void erase(Keys::iterator key, Sessions::iterator session);

  const std::string name_;
  const int64_t retention_ms_;
  Timestamp stream_time_ = kNoTimestamp;
  Keys keys_;
  std::set<EndIndexEntry, ByEnd> by_end_;  // one entry per session in keys_
  OpenIterators open_;                     // detached before every change to keys_
};

}  // namespace sluice::state

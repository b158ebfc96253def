// InMemoryWindowStore: a WindowStore over a map from window start to the keys of that window
// (see in_memory_stores.h for the rules it settles).
//
// Window starts are aligned (every key's windows start at the same multiples of the advance),
// so there are few distinct starts, and indexing by start first makes fetch_all and expiry
// walks in order and keeps fetch of one key to one lookup per start in range — as Kafka
// Streams' InMemoryWindowStore does.
//
// Thread safety: thread-confined to its task, like every store.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "in_memory_common.h"
#include "sluice/state/store.h"

namespace sluice::state {

class InMemoryWindowStore final : public WindowStore {
 public:
  InMemoryWindowStore(std::string name, int64_t retention_ms);
  ~InMemoryWindowStore() override { open_.detach_all(); }

  const std::string& name() const override { return name_; }
  int64_t retention_ms() const override { return retention_ms_; }

  Status put(ByteView key, Timestamp window_start, std::optional<ByteView> value) override;
  Result<std::optional<Bytes>> fetch(ByteView key, Timestamp window_start) override;
  Result<std::unique_ptr<WindowIterator>> fetch(ByteView key, Timestamp from,
                                                Timestamp to) override;
  Result<std::unique_ptr<WindowIterator>> fetch_all(Timestamp from, Timestamp to) override;
  Status advance_stream_time(Timestamp stream_time) override;
  Timestamp stream_time() const override { return stream_time_; }

  // Window start -> key -> value. Invariants: no window start maps to an empty BytesMap, and
  // no window start is expired (below cutoff()).
  using Windows = std::map<Timestamp, BytesMap>;

 private:
  // Windows starting before this are expired (in_memory_stores.h). Cannot overflow: stream
  // time is at least kNoTimestamp (-1) and retention at least 1 ms.
  Timestamp cutoff() const { return stream_time_ - retention_ms_; }

  // The window starts in [from, to] as [begin, end) of windows_.
  std::pair<Windows::const_iterator, Windows::const_iterator> starts_between(Timestamp from,
                                                                             Timestamp to) const;

  const std::string name_;
  const int64_t retention_ms_;
  Timestamp stream_time_ = kNoTimestamp;
  Windows windows_;
  OpenIterators open_;  // detached before every change to windows_
};

}  // namespace sluice::state

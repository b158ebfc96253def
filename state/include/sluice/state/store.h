// The state store interfaces: key-value, window and session stores over bytes.
//
// Stateful operators keep their state in these. Keys and values are bytes here; typed access
// comes through serdes in the DSL. Each kind has a RocksDB implementation (one column family per
// store in the task's RocksDB instance, see task_state.h) and an in-memory one (for tests and
// small state); both meet the same contract (tests/state/store_contract_test.cc).
//
// Writes are visible to the store's own reads at once, but become durable only at the task's
// commit, together with the changelog records that describe them (task_state.h).
//
// Thread safety: a store is thread-confined to its task (one stream thread at a time). An
// iterator sees the store as it was when the iterator was made, even if the store is written or
// the task commits while it is open (it then walks a copy of what it had left); it must not
// outlive its store.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "sluice/base/bytes.h"
#include "sluice/base/ids.h"
#include "sluice/base/result.h"

namespace sluice::state {

// Walks entries in ascending order. Check valid() before reading; a failure ends the walk with
// valid() false and status() saying why.
class KeyValueIterator {
 public:
  virtual ~KeyValueIterator() = default;
  virtual bool valid() const = 0;
  virtual ByteView key() const = 0;
  virtual ByteView value() const = 0;
  virtual void next() = 0;
  virtual Status status() const = 0;
};

class KeyValueStore {
 public:
  virtual ~KeyValueStore() = default;
  virtual const std::string& name() const = 0;

  // The value of `key`, or nullopt.
  virtual Result<std::optional<Bytes>> get(ByteView key) = 0;
  // The same into `value`, whose capacity is reused: true when `key` was found (and `value`
  // holds its value), false when not (`value` unspecified). An operator that reads a key per
  // record keeps one buffer and, when the value is cached, allocates nothing per record.
  virtual Result<bool> get_into(ByteView key, Bytes& value) {
    SLUICE_ASSIGN_OR_RETURN(std::optional<Bytes> found, get(key));
    if (!found) return false;
    value = std::move(*found);
    return true;
  }
  virtual Status put(ByteView key, ByteView value) = 0;
  // Removing an absent key is not an error.
  virtual Status remove(ByteView key) = 0;
  // Keys in [from, to) in ascending byte order; nullopt leaves that end open.
  virtual Result<std::unique_ptr<KeyValueIterator>> range(std::optional<ByteView> from,
                                                          std::optional<ByteView> to) = 0;
  // Keys that start with `prefix`, ascending.
  virtual Result<std::unique_ptr<KeyValueIterator>> prefix_scan(ByteView prefix) = 0;
  // An estimate of the number of keys (exact for in-memory stores).
  virtual Result<uint64_t> approximate_count() = 0;
};

// One window of one key: [start, start + size) on event time.
struct WindowedEntry {
  Bytes key;
  Timestamp window_start;
  Bytes value;
};

// Walks window entries: for one key in window-start order, or for all keys in time order.
class WindowIterator {
 public:
  virtual ~WindowIterator() = default;
  virtual bool valid() const = 0;
  virtual ByteView key() const = 0;
  virtual Timestamp window_start() const = 0;
  virtual ByteView value() const = 0;
  virtual void next() = 0;
  virtual Status status() const = 0;
};

// Values per (key, window start). Windows whose start is older than stream time − retention
// are dropped (cheaply: whole time segments at once) and are never returned.
class WindowStore {
 public:
  virtual ~WindowStore() = default;
  virtual const std::string& name() const = 0;
  virtual int64_t retention_ms() const = 0;

  // Stores `value` for (key, window_start); an empty optional removes it. A window already
  // expired (start < stream time − retention) is ignored, as Kafka Streams does.
  virtual Status put(ByteView key, Timestamp window_start, std::optional<ByteView> value) = 0;
  virtual Result<std::optional<Bytes>> fetch(ByteView key, Timestamp window_start) = 0;
  // The windows of `key` whose start is in [from, to], by start.
  virtual Result<std::unique_ptr<WindowIterator>> fetch(ByteView key, Timestamp from,
                                                        Timestamp to) = 0;
  // The windows of every key whose start is in [from, to], by start (ties in key order).
  virtual Result<std::unique_ptr<WindowIterator>> fetch_all(Timestamp from, Timestamp to) = 0;
  // Moves the store's stream time forward (never back) and drops what it expires.
  virtual Status advance_stream_time(Timestamp stream_time) = 0;
  virtual Timestamp stream_time() const = 0;
};

// A session of a key: events from `start` to `end` (inclusive), merged by the operator.
struct SessionWindow {
  Timestamp start;
  Timestamp end;
  friend bool operator==(const SessionWindow&, const SessionWindow&) = default;
};

class SessionIterator {
 public:
  virtual ~SessionIterator() = default;
  virtual bool valid() const = 0;
  virtual ByteView key() const = 0;
  virtual SessionWindow window() const = 0;
  virtual ByteView value() const = 0;
  virtual void next() = 0;
  virtual Status status() const = 0;
};

// Session aggregates per (key, session window). Sessions that ended before stream time −
// retention are dropped.
class SessionStore {
 public:
  virtual ~SessionStore() = default;
  virtual const std::string& name() const = 0;
  virtual int64_t retention_ms() const = 0;

  virtual Status put(ByteView key, SessionWindow window, ByteView value) = 0;
  virtual Status remove(ByteView key, SessionWindow window) = 0;
  virtual Result<std::optional<Bytes>> fetch(ByteView key, SessionWindow window) = 0;
  // The sessions of `key` that end at or after `earliest_end` and start at or before
  // `latest_start` — those a new event may merge with — by end, then start.
  virtual Result<std::unique_ptr<SessionIterator>> find_sessions(ByteView key,
                                                                 Timestamp earliest_end,
                                                                 Timestamp latest_start) = 0;
  virtual Status advance_stream_time(Timestamp stream_time) = 0;
  virtual Timestamp stream_time() const = 0;
};

}  // namespace sluice::state

// In-memory implementations of the store interfaces, for tests and small state.
//
// They meet exactly the contract of the RocksDB stores (same ordering, same expiry), keep no
// files, and are not logged by themselves: TaskState adds changelogging and caching on top when
// the spec asks for it, as it does for RocksDB stores. Both kinds pass the same contract tests
// (tests/state/store_contract_test.cc). Where store.h leaves a detail open, these stores settle
// it as follows, and the RocksDB stores do the same:
//
//   Ordering    Keys compare as unsigned bytes (memcmp, then the shorter first), like RocksDB's
//               bytewise comparator; the empty key is a valid key and sorts first.
//   Ranges      range(from, to) with from >= to, and fetch / fetch_all with from > to, are
//               empty, not errors. No ByteView argument (key, bound, prefix) need outlive the
//               call, not even while the iterator it made is in use.
//   Stream time Starts at kNoTimestamp (-1). advance_stream_time(t) with t <= stream_time() is
//               a no-op that returns OK. put() never moves stream time.
//   Expiry      With cutoff = stream_time() - retention_ms (no overflow: stream time >= -1 and
//               retention >= 1), a window is expired iff window_start < cutoff, and a session
//               is expired iff end < cutoff. A window starting exactly at the cutoff, or a
//               session ending exactly at it, is kept. Writes of expired entries (put, and for
//               windows also removal through an empty value) are ignored and return OK; reads
//               never return an expired entry. These stores erase exactly the expired entries
//               when stream time advances; spec.segment_ms only concerns stores that drop by
//               segment, and must not change what reads return.
//   Sessions    A SessionWindow with end < start is malformed: put, remove and fetch return
//               kInvalidArgument for it. A session [t, t] (one event) is well-formed.
//   Iterators   next() on an exhausted iterator does nothing. The views key() and value()
//               return stay valid until next(), the iterator's destruction or the next write
//               to the store, whichever comes first. An iterator's walk never ends in an error
//               here (status() is always OK).
//
// Iterators see the store as it was when they were made, as a RocksDB iterator does, at no
// cost in the common case: an iterator walks the store's live maps, and only when a write is
// about to change them does it copy what it has left to walk. store.h still promises callers
// only that an iterator is valid until the next write; these stores go further because a
// record cache in front of them (TaskState) may write into them while the caller only reads.
//
// StoreSpec fields these stores use: name, kind, retention_ms. logged and cached are
// TaskState's business. ttl_ms is not applied here (expiring by age needs a clock, which
// TaskState has), only validated.
//
// Thread safety: as store.h — thread-confined.
#pragma once

#include <memory>
#include <string>

#include "sluice/base/result.h"
#include "sluice/state/store.h"
#include "sluice/state/store_spec.h"

namespace sluice::state {

// kInvalidArgument if spec.name is empty, spec.kind is not kKeyValue, or spec.ttl_ms < 0.
Result<std::unique_ptr<KeyValueStore>> make_in_memory_key_value_store(const StoreSpec& spec);

// kInvalidArgument if spec.name is empty, spec.kind is not kWindow, spec.retention_ms < 1 or
// spec.segment_ms < 0.
Result<std::unique_ptr<WindowStore>> make_in_memory_window_store(const StoreSpec& spec);

// kInvalidArgument if spec.name is empty, spec.kind is not kSession, spec.retention_ms < 1 or
// spec.segment_ms < 0.
Result<std::unique_ptr<SessionStore>> make_in_memory_session_store(const StoreSpec& spec);

}  // namespace sluice::state

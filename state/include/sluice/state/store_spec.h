// StoreSpec: what an operator asks for when it needs a state store.
//
// Thread safety: a value.
#pragma once

#include <cstdint>
#include <string>

namespace sluice::state {

enum class StoreKind : int8_t { kKeyValue, kWindow, kSession };

struct StoreSpec {
  // Stable across restarts: a restarted job finds its state (and changelog) by this name.
  std::string name;
  StoreKind kind = StoreKind::kKeyValue;
  // Every flushed update also goes to the compacted topic `<application-id>-<name>-changelog`,
  // so the state can be rebuilt from the log alone.
  bool logged = true;
  // Key-value stores: a write-back cache in front of the store: hot keys are served from memory
  // and repeated updates of a key within a commit interval reach the store (and changelog) once.
  // Window stores on RocksDB: point fetches are served from the windows the store wrote or read
  // (written through), and a fetch of a window newer than any on disk needs no RocksDB read —
  // for windowed aggregations; stores read by range (joins) gain nothing from it.
  bool cached = true;
  // Window and session stores: how long windows are kept after stream time passes them.
  int64_t retention_ms = 24ll * 3600 * 1000;
  // Window and session stores: the width of a time segment, the unit in which expired data is
  // dropped (0: max(retention / 2, 60 s), as in Kafka Streams).
  int64_t segment_ms = 0;
  // Window stores: entries laid out by window start first, then key, so that reading every
  // window of a time range (fetch_all: emitting the windows that closed) is one contiguous walk
  // over just those windows. The price: fetching one key's windows walks every key's windows of
  // the range. For windowed aggregations that emit on window close, as Kafka Streams' time-
  // ordered window store. Only the local layout: the changelog is the same either way.
  bool time_ordered = false;
  // Key-value stores: entries not written for this long expire — removed locally and as a
  // tombstone in the changelog, so that a restore yields the same state (0: never).
  int64_t ttl_ms = 0;

  int64_t effective_segment_ms() const {
    if (segment_ms > 0) return segment_ms;
    const int64_t half = retention_ms / 2;
    return half > 60'000 ? half : 60'000;
  }
};

}  // namespace sluice::state

// Time to live for key-value stores: entries not written for ttl_ms expire.
//
// The layer stamps every value with its write time (wall clock, as Flink's state TTL) and
// stores [write time int64 BE][value] below it — in the cache, the changelog and the store
// alike, so a restored store holds the same stamps as the live one. An expired entry is
// invisible at once (get and scans skip it) and is removed — a tombstone in the changelog —
// either when a get finds it or by the incremental sweep the task runs at each commit, so the
// changelog, and with it any restored copy, loses it too.
#pragma once

#include <memory>
#include <string_view>

#include "sluice/base/clock.h"
#include "sluice/state/store.h"

namespace sluice::state {

// A header on every changelog record of a store with TTL: its values carry write times. A
// restore checks it, so stamped values never reach a store without TTL, nor the reverse.
inline constexpr std::string_view kTtlChangelogHeader = "sluice.ttl";

class TtlKeyValueStore : public KeyValueStore {
 public:
  // Removes expired entries, examining at most `max_entries` from where the previous sweep
  // stopped (wrapping around at the end of the store). Returns the number removed.
  virtual Result<int64_t> sweep(size_t max_entries) = 0;
  // Entries written since the previous sweep: the least the next one should examine to keep up.
  virtual size_t writes_since_sweep() const = 0;
  // Entries removed because they expired, by gets and sweeps.
  virtual int64_t expired() const = 0;
};

// `inner`: the layers below (cache, changelog, store), which hold stamped values.
std::unique_ptr<TtlKeyValueStore> make_ttl(KeyValueStore& inner, int64_t ttl_ms, Clock& clock);

}  // namespace sluice::state

// The RocksDB window and session stores: one column family each, written through the task's
// RocksWriter (buffered until commit), with expired data dropped a whole time segment at a time
// by a range deletion.
//
// Key layouts (all integers big-endian; timestamps offset by 2^63 so they sort unsigned):
//   window:  segment id u64 | key length u32 | key | window start u64
//            (StoreSpec::time_ordered: segment id u64 | window start u64 | key)
//   session: segment id u64 | key length u32 | key | end u64 | start u64
// where the segment id is window start (sessions: end) / spec.effective_segment_ms(). A fetch
// of one key seeks into each segment of its time range; expiry deletes the key range
// [segment 0, first live segment) with one DeleteRange. The store's stream time is kept in the
// same column family under the empty key (which sorts before every entry and outside the
// deleted ranges), written through the RocksWriter so it commits with the data.
#pragma once

#include <rocksdb/db.h>

#include <memory>

#include "rocks_writer.h"
#include "sluice/state/store.h"
#include "sluice/state/store_spec.h"

namespace sluice::state {

// With `cache_bytes` > 0, the store answers point fetches from its recent windows in memory, up
// to that many bytes (window_point_cache.h).
std::unique_ptr<WindowStore> make_rocks_window_store(const StoreSpec& spec, RocksWriter& writer,
                                                     rocksdb::ColumnFamilyHandle* cf,
                                                     size_t cache_bytes = 0);
std::unique_ptr<SessionStore> make_rocks_session_store(const StoreSpec& spec, RocksWriter& writer,
                                                       rocksdb::ColumnFamilyHandle* cf);

}  // namespace sluice::state

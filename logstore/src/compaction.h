// Log compaction ("cleaning") of compacted topics: keep the latest record per key.
//
// A pass rewrites the partition's sealed segments that lie wholly below the last stable offset
// (and are older than min.compaction.lag.ms), in groups of consecutive segments whose output
// fits one segment. Within a pass:
//   - the offset map holds, for every key in the dirty part (segments not yet compacted), the
//     offset of its latest committed record; aborted transactional data never counts;
//   - a record survives if no later record for its key exists; offsets never change;
//   - aborted transactional batches are dropped;
//   - a tombstone (null value) or transaction marker that survives gets a delete horizon
//     (now + delete.retention.ms, stored in the batch, KIP-534) and is dropped by the first pass
//     after that horizon; a commit marker is only dropped once no data of its transaction is left.
//     A data batch carries a horizon exactly while it holds a tombstone;
//   - min.compaction.lag.ms = 0 puts no limit on age (records stamped in the future included);
//   - a group that drops a marker first deletes the producer snapshots up to its end: one taken
//     inside that transaction would reopen it forever on a recovery that replays from it.
//
// Swap protocol, per group [b0, end): write `<b0>.cleaned` and sync it; rename it to
// `<b0>.<end>.swap` and sync the directory (the commit point); delete the derived files of b0
// and all files of the group's other segments; rename the swap file to `<b0>.log` (replacing
// the old one in one step) and sync the directory; index and seal the new segment. Recovery
// (finish_interrupted_compaction) deletes `.cleaned` files and completes any `.swap` the same
// way, so a crash at any step leaves either the old group or the compacted one.
//
// Test sync points, in order: Compaction::AfterCleanedWritten, Compaction::AfterSwapCommitted,
// Compaction::AfterOldFileDeleted (after each file; also during recovery),
// Compaction::AfterSwapRenamed, Compaction::AfterSwapFinished, Compaction::AfterGroupInstalled.
#pragma once

#include <string>

#include "sluice/base/file_system.h"
#include "sluice/base/status.h"

namespace sluice::logstore {

// Completes or discards a compaction that a crash interrupted in `dir`.
Status finish_interrupted_compaction(FileSystem& fs, const std::string& dir);

}  // namespace sluice::logstore

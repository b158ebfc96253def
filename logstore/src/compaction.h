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
//
// Swap protocol, per group [b0, end): write `<b0>.cleaned` and sync it; rename it to
// `<b0>.<end>.swap` and sync the directory (the commit point); delete the group's old files;
// rename the swap file to `<b0>.log`. Recovery (finish_interrupted_compaction) deletes
// `.cleaned` files and completes any `.swap`.
#pragma once

#include <string>

#include "sluice/base/file_system.h"
#include "sluice/base/status.h"

namespace sluice::logstore {

// Completes or discards a compaction that a crash interrupted in `dir`.
Status finish_interrupted_compaction(FileSystem& fs, const std::string& dir);

}  // namespace sluice::logstore

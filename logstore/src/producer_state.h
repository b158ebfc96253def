// ProducerState: what a partition remembers about each idempotent or transactional producer
// that wrote to it — enough to refuse a retried batch (idempotence), fence an older epoch, and
// know which transactions are still open (for the last stable offset).
//
// Kept in memory, snapshotted to `<base-offset>.snapshot` when a segment is sealed, and rebuilt
// on open by replaying the batches after the newest snapshot.
//
// Thread safety: thread-confined to the partition's writer (the append lock).
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "sluice/base/result.h"
#include "sluice/logstore/log_types.h"
#include "sluice/logstore/record_batch.h"

namespace sluice::logstore {

class ProducerState {
 public:
  // How many recent batches per producer are remembered for duplicate detection (Kafka keeps 5,
  // matching max.in.flight.requests.per.connection).
  static constexpr size_t kRecentBatches = 5;

  struct BatchMetadata {
    Sequence first_seq;
    Sequence last_seq;
    Offset first_offset;
    Offset last_offset;
    Timestamp timestamp;
  };

  struct Entry {
    ProducerEpoch epoch = kNoProducerEpoch;
    std::deque<BatchMetadata> recent;  // oldest first
    std::optional<Offset> open_txn_first_offset;
    Timestamp last_timestamp = kNoTimestamp;
  };

  // Checks a data batch from a producer before it is appended. Returns the original batch's
  // metadata when it is a retry of a batch already in the log (do not append it again), nullopt
  // when it should be appended. Errors: kProducerFenced (older epoch), kOutOfOrderSequence
  // (a gap or reordering), kInvalidTxnState (non-transactional batch inside an open transaction).
  Result<std::optional<BatchMetadata>> check_append(const BatchHeader& h) const;

  // Records an appended data batch (offsets assigned).
  void on_append(const BatchHeader& h);

  // Checks a transaction marker for `producer`: kProducerFenced if `epoch` is older than the
  // producer's.
  Status check_marker(ProducerId producer, ProducerEpoch epoch) const;

  // Records a transaction marker at `marker_offset`. For an abort of an open transaction,
  // returns the aborted range (to go into the segment's txn index).
  std::optional<AbortedTransaction> on_marker(ProducerId producer, ProducerEpoch epoch,
                                              ControlType type, Offset marker_offset,
                                              Timestamp timestamp);

  // Replays a batch read back from the log (recovery): on_append for data, on_marker for
  // control batches. Returns the aborted range, if the batch aborted a transaction.
  Result<std::optional<AbortedTransaction>> replay(const RecordBatchView& batch);

  // The first offset of the oldest open transaction, if any: the last stable offset.
  std::optional<Offset> first_unstable_offset() const;
  // Producers with an open transaction here, with that transaction's epoch.
  std::vector<std::pair<ProducerId, ProducerEpoch>> open_transactions() const;
  const Entry* find(ProducerId producer) const;
  size_t size() const { return producers_.size(); }

  // Forgets producers idle since before `horizon` with no open transaction.
  void expire(Timestamp horizon);

  // Serialises the state (with a checksummed trailer) and parses it back.
  Bytes snapshot() const;
  static Result<ProducerState> from_snapshot(ByteView bytes);

 private:
  Entry& entry_for(ProducerId producer);
  void open_txn(Entry& e, Offset first);
  void close_txn(Entry& e);

  std::unordered_map<ProducerId, Entry> producers_;
  std::multiset<Offset> open_txn_offsets_;  // first offsets of open transactions
};

}  // namespace sluice::logstore

// TransactionCoordinator: producer ids, epochs and the outcome of every transaction.
//
// The protocol is in docs/EXACTLY-ONCE.md. In short: each transactional id has a producer id
// and an epoch (bumped whenever a new instance starts, which fences the old one). A commit
// syncs the transaction's data, writes PrepareCommit{partitions} durably to the transaction log
// `__transaction_state` — the commit point — then a commit marker to every partition, syncs
// them, and writes CompleteCommit. On open, a PrepareCommit without Complete is rolled forward;
// every other open transaction found in any partition is aborted (with the epoch bumped, so its
// producer is fenced).
//
// Which partitions a transaction touched is kept in memory only: recovery does not need it,
// because it finds open transactions in the partitions themselves.
//
// Test sync points (sluice/base/sync_point.h) mark the crash boundaries of a commit:
// "TransactionCoordinator::BeforePrepareCommit" (nothing of the commit is durable yet),
// "TransactionCoordinator::AfterPrepareCommit" (the commit point is durable, no marker written)
// and "TransactionCoordinator::AfterMarker" (after each marker a completion writes); and
// "TransactionCoordinator::AfterCheckAppend" the moment between a transactional append's check
// and the append itself.
//
// Thread safety: thread-safe. One mutex guards the maps; each transaction has its own mutex,
// held across its durable writes, so different transactions commit in parallel.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "group_offsets.h"
#include "partition.h"
#include "sluice/base/clock.h"
#include "sluice/base/mutex.h"
#include "sluice/logstore/log_types.h"
#include "sluice/logstore/open_report.h"

namespace sluice::logstore {

class TransactionCoordinator {
 public:
  using PartitionLookup =
      std::function<Result<std::shared_ptr<Partition>>(const TopicPartition& tp)>;

  // `log` is partition 0 of __transaction_state. `groups` is told about markers written to the
  // consumer-offsets partitions.
  TransactionCoordinator(Clock& clock, std::shared_ptr<Partition> log, PartitionLookup lookup,
                         GroupOffsets& groups);

  // Loads the transaction log, completes prepared transactions and aborts every other open
  // transaction found in `partitions`.
  Status recover(const std::vector<std::shared_ptr<Partition>>& partitions, OpenReport& report)
      SLUICE_EXCLUDES(mu_);

  Result<ProducerIdentity> init_producer_id(std::string_view transactional_id, int64_t timeout_ms)
      SLUICE_EXCLUDES(mu_);
  Status add_partitions(std::string_view transactional_id, ProducerIdentity producer,
                        const std::vector<TopicPartition>& partitions) SLUICE_EXCLUDES(mu_);
  // Checks a transactional append: the producer's epoch is current and `tp` is part of its
  // open transaction. Non-transactional producers pass.
  Status check_append(ProducerId producer, ProducerEpoch epoch, const TopicPartition& tp)
      SLUICE_EXCLUDES(mu_);
  Status end_transaction(std::string_view transactional_id, ProducerIdentity producer, bool commit)
      SLUICE_EXCLUDES(mu_);
  // Aborts (and fences) transactions open longer than their timeout, and finishes completions
  // that failed partway (a PrepareCommit or PrepareAbort whose markers are not all written).
  // Returns how many were aborted; the first error, after trying every transaction.
  Result<int> abort_timed_out() SLUICE_EXCLUDES(mu_);

 private:
  enum class State {
    kEmpty,
    kOngoing,
    kPrepareCommit,
    kPrepareAbort,
    kCompleteCommit,
    kCompleteAbort
  };
  struct Txn {
    std::string id;
    Mutex mu;
    ProducerId pid SLUICE_GUARDED_BY(mu) = kNoProducerId;
    ProducerEpoch epoch SLUICE_GUARDED_BY(mu) = ProducerEpoch(0);
    State state SLUICE_GUARDED_BY(mu) = State::kEmpty;
    std::set<TopicPartition> partitions SLUICE_GUARDED_BY(mu);
    int64_t timeout_ms SLUICE_GUARDED_BY(mu) = 60'000;
    int64_t started_ms SLUICE_GUARDED_BY(mu) = 0;
  };

  static std::string_view state_name(State s);
  Result<ProducerId> allocate_producer_id() SLUICE_EXCLUDES(mu_);
  std::shared_ptr<Txn> find(std::string_view id) SLUICE_EXCLUDES(mu_);
  std::shared_ptr<Txn> find(ProducerId pid) SLUICE_EXCLUDES(mu_);
  Status check_identity(const Txn& txn, ProducerIdentity producer) const SLUICE_REQUIRES(txn.mu);
  // Writes the transaction's current state to the transaction log (durably).
  Status persist(Txn& txn) SLUICE_REQUIRES(txn.mu);
  // Moves to the next epoch (a new producer id when the epoch is exhausted).
  Status bump_epoch(Txn& txn) SLUICE_REQUIRES(txn.mu) SLUICE_EXCLUDES(mu_);
  // Moves to an epoch that fences the current producer but keeps its producer id, so that the
  // markers aborting its transaction can be written: the next epoch, or the last one (INT16_MAX)
  // when they are used up; the next init_producer_id then moves to a new producer id.
  void fence(Txn& txn) SLUICE_REQUIRES(txn.mu);
  // Syncs the transaction's partitions (except those of topics that never flush) before its
  // commit point: otherwise a power cut after it could commit a transaction of which only some
  // partitions kept their data.
  Status sync_data(Txn& txn) SLUICE_REQUIRES(txn.mu);
  // Writes markers — for a commit to every partition where the producer's transaction is still
  // open, for an abort to every partition of the transaction — syncs them, notifies the groups
  // and writes Complete.
  Status complete(Txn& txn, bool commit) SLUICE_REQUIRES(txn.mu);
  Status abort_with_new_epoch(Txn& txn) SLUICE_REQUIRES(txn.mu) SLUICE_EXCLUDES(mu_);

  Clock& clock_;
  std::shared_ptr<Partition> log_;
  PartitionLookup lookup_;
  GroupOffsets& groups_;

  Mutex mu_;
  std::map<std::string, std::shared_ptr<Txn>, std::less<>> txns_ SLUICE_GUARDED_BY(mu_);
  std::unordered_map<ProducerId, std::shared_ptr<Txn>> by_pid_ SLUICE_GUARDED_BY(mu_);
  int64_t next_pid_ SLUICE_GUARDED_BY(mu_) = 0;
  int64_t pid_block_end_ SLUICE_GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::logstore

#include "transaction_coordinator.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "sluice/base/check.h"
#include "sluice/base/sync_point.h"

namespace sluice::logstore {
namespace {

constexpr std::string_view kPidBlockKey = "__producer_id_block";
constexpr int64_t kPidBlockSize = 1000;
constexpr int16_t kMaxEpoch = INT16_MAX - 1;

// Appends one record to the transaction log. The topic syncs every batch, so this is durable
// when it returns.
Status append_record(Partition& log, std::string_view key, const std::string& value) {
  RecordBatchBuilder b;
  b.add(Record{.key = key, .value = ByteView(value)});
  SLUICE_ASSIGN_OR_RETURN(Bytes batch, b.build());
  return log.append(batch, BatchOrigin::kLocal).status();
}

}  // namespace

std::string_view TransactionCoordinator::state_name(State s) {
  switch (s) {
    case State::kEmpty:
      return "Empty";
    case State::kOngoing:
      return "Ongoing";
    case State::kPrepareCommit:
      return "PrepareCommit";
    case State::kPrepareAbort:
      return "PrepareAbort";
    case State::kCompleteCommit:
      return "CompleteCommit";
    case State::kCompleteAbort:
      return "CompleteAbort";
  }
  return "Unknown";
}

TransactionCoordinator::TransactionCoordinator(Clock& clock, std::shared_ptr<Partition> log,
                                               PartitionLookup lookup, GroupOffsets& groups)
    : clock_(clock), log_(std::move(log)), lookup_(std::move(lookup)), groups_(groups) {}

std::shared_ptr<TransactionCoordinator::Txn> TransactionCoordinator::find(std::string_view id) {
  MutexLock lock(mu_);
  auto it = txns_.find(id);
  return it == txns_.end() ? nullptr : it->second;
}

std::shared_ptr<TransactionCoordinator::Txn> TransactionCoordinator::find(ProducerId pid) {
  MutexLock lock(mu_);
  auto it = by_pid_.find(pid);
  return it == by_pid_.end() ? nullptr : it->second;
}

Result<ProducerId> TransactionCoordinator::allocate_producer_id() {
  MutexLock lock(mu_);
  if (next_pid_ >= pid_block_end_) {
    // Reserve a block durably before handing out any id from it, so that no id is ever reused
    // after a crash.
    int64_t end = pid_block_end_ + kPidBlockSize;
    nlohmann::json j = {{"next", end}};
    SLUICE_RETURN_IF_ERROR(append_record(*log_, kPidBlockKey, j.dump()));
    next_pid_ = pid_block_end_;
    pid_block_end_ = end;
  }
  return ProducerId(next_pid_++);
}

Status TransactionCoordinator::persist(Txn& txn) {
  nlohmann::json parts = nlohmann::json::array();
  for (const TopicPartition& tp : txn.partitions) {
    parts.push_back({tp.topic, tp.partition.value()});
  }
  nlohmann::json j = {{"pid", txn.pid.value()},
                      {"epoch", txn.epoch.value()},
                      {"state", state_name(txn.state)},
                      {"partitions", parts},
                      {"timeout_ms", txn.timeout_ms}};
  return append_record(*log_, txn.id, j.dump());
}

Status TransactionCoordinator::check_identity(const Txn& txn, ProducerIdentity producer) const {
  if (producer.id != txn.pid || producer.epoch != txn.epoch) {
    return Status(StatusCode::kProducerFenced,
                  "transactional id '" + txn.id + "': producer " +
                      std::to_string(producer.id.value()) + " epoch " +
                      std::to_string(producer.epoch.value()) + " is fenced by producer " +
                      std::to_string(txn.pid.value()) + " epoch " +
                      std::to_string(txn.epoch.value()) + "; close this producer");
  }
  return Status();
}

Status TransactionCoordinator::bump_epoch(Txn& txn) {
  if (txn.epoch.value() >= kMaxEpoch) {
    SLUICE_ASSIGN_OR_RETURN(ProducerId fresh, allocate_producer_id());
    MutexLock lock(mu_);
    by_pid_.erase(txn.pid);
    txn.pid = fresh;
    txn.epoch = ProducerEpoch(0);
    by_pid_[fresh] = txns_.find(txn.id)->second;
    return Status();
  }
  txn.epoch = ProducerEpoch(static_cast<int16_t>(txn.epoch.value() + 1));
  return Status();
}

void TransactionCoordinator::fence(Txn& txn) {
  if (txn.epoch.value() < INT16_MAX) {
    txn.epoch = ProducerEpoch(static_cast<int16_t>(txn.epoch.value() + 1));
  }
}

Status TransactionCoordinator::sync_data(Txn& txn) {
  for (const TopicPartition& tp : txn.partitions) {
    auto partition = lookup_(tp);
    if (!partition.ok()) continue;  // a deleted topic
    if ((*partition)->config().flush_policy == FlushPolicy::kNever) continue;
    SLUICE_RETURN_IF_ERROR((*partition)->sync());
  }
  return Status();
}

Status TransactionCoordinator::complete(Txn& txn, bool commit) {
  const ControlType type = commit ? ControlType::kCommit : ControlType::kAbort;
  std::vector<std::shared_ptr<Partition>> written;
  for (const TopicPartition& tp : txn.partitions) {
    auto partition = lookup_(tp);
    if (!partition.ok()) {
      // A deleted topic: nothing to mark.
      spdlog::warn("transaction '{}': partition {} is gone: {}", txn.id, tp.to_string(),
                   partition.status().message());
      continue;
    }
    // An abort marks every partition of the transaction, open there or not: its epoch fences
    // an append that passed check_append() before the abort and reaches the partition after
    // it. A commit marks only where the transaction is still open, so a resumed commit does not
    // write a marker twice.
    bool open = !commit;
    for (const auto& [pid, epoch] : (*partition)->open_transactions()) open |= pid == txn.pid;
    if (!open) continue;
    SLUICE_RETURN_IF_ERROR((*partition)->append_marker(txn.pid, txn.epoch, type, 0).status());
    written.push_back(*partition);
    SLUICE_SYNC_POINT("TransactionCoordinator::AfterMarker");
  }
  // Markers must be durable before Complete: recovery trusts Complete.
  for (const auto& p : written) SLUICE_RETURN_IF_ERROR(p->sync());
  groups_.on_marker(txn.pid, commit);
  txn.state = commit ? State::kCompleteCommit : State::kCompleteAbort;
  txn.partitions.clear();
  return persist(txn);
}

Status TransactionCoordinator::abort_with_new_epoch(Txn& txn) {
  // Not bump_epoch(): the markers must carry the producer id whose transaction is open, even
  // when its epochs are used up.
  fence(txn);
  txn.state = State::kPrepareAbort;
  SLUICE_RETURN_IF_ERROR(persist(txn));
  return complete(txn, false);
}

Result<ProducerIdentity> TransactionCoordinator::init_producer_id(std::string_view id,
                                                                  int64_t timeout_ms) {
  if (timeout_ms <= 0) return invalid_argument("transaction timeout must be positive");
  if (id.empty()) {
    SLUICE_ASSIGN_OR_RETURN(ProducerId pid, allocate_producer_id());
    return ProducerIdentity{pid, ProducerEpoch(0)};
  }
  std::shared_ptr<Txn> txn;
  bool fresh = false;
  {
    MutexLock lock(mu_);
    auto& slot = txns_[std::string(id)];
    if (!slot) {
      slot = std::make_shared<Txn>();
      slot->id = std::string(id);
      fresh = true;
    }
    txn = slot;
  }
  MutexLock lock(txn->mu);
  if (fresh || txn->pid == kNoProducerId) {
    SLUICE_ASSIGN_OR_RETURN(ProducerId pid, allocate_producer_id());
    txn->pid = pid;
    txn->epoch = ProducerEpoch(0);
    MutexLock map_lock(mu_);
    by_pid_[pid] = txn;
  } else {
    switch (txn->state) {
      case State::kPrepareCommit:  // the commit point passed: finish it
        SLUICE_RETURN_IF_ERROR(complete(*txn, true));
        break;
      case State::kOngoing:
      case State::kPrepareAbort:
        SLUICE_RETURN_IF_ERROR(abort_with_new_epoch(*txn));
        break;
      default:
        break;
    }
    SLUICE_RETURN_IF_ERROR(bump_epoch(*txn));
  }
  txn->timeout_ms = timeout_ms;
  txn->state = State::kEmpty;
  txn->partitions.clear();
  SLUICE_RETURN_IF_ERROR(persist(*txn));
  return ProducerIdentity{txn->pid, txn->epoch};
}

Status TransactionCoordinator::add_partitions(std::string_view id, ProducerIdentity producer,
                                              const std::vector<TopicPartition>& partitions) {
  std::shared_ptr<Txn> txn = find(id);
  if (!txn) return invalid_argument("unknown transactional id '" + std::string(id) + "'");
  MutexLock lock(txn->mu);
  SLUICE_RETURN_IF_ERROR(check_identity(*txn, producer));
  if (txn->state == State::kPrepareCommit || txn->state == State::kPrepareAbort) {
    return Status(StatusCode::kInvalidTxnState,
                  "transaction '" + txn->id + "' is completing; wait for it to end");
  }
  // All partitions are checked before any is added: a refused request must not leave behind an
  // open transaction that nothing will end (it would time out and fence its producer).
  for (const TopicPartition& tp : partitions) SLUICE_RETURN_IF_ERROR(lookup_(tp).status());
  if (txn->state != State::kOngoing) {
    txn->state = State::kOngoing;
    txn->started_ms = clock_.monotonic_ms();
  }
  txn->partitions.insert(partitions.begin(), partitions.end());
  return Status();
}

Status TransactionCoordinator::check_append(ProducerId producer, ProducerEpoch epoch,
                                            const TopicPartition& tp) {
  std::shared_ptr<Txn> txn = find(producer);
  if (!txn) {
    return Status(StatusCode::kInvalidTxnState,
                  "producer " + std::to_string(producer.value()) +
                      " sent transactional data but has no transactional id; call "
                      "init_producer_id first");
  }
  {
    MutexLock lock(txn->mu);
    SLUICE_RETURN_IF_ERROR(check_identity(*txn, {producer, epoch}));
    if (txn->state != State::kOngoing || !txn->partitions.count(tp)) {
      return Status(StatusCode::kInvalidTxnState,
                    "transaction '" + txn->id + "' has not added partition " + tp.to_string() +
                        " (state " + std::string(state_name(txn->state)) + ")");
    }
  }
  // The append follows without the lock, so an abort can come in between; see complete().
  SLUICE_SYNC_POINT("TransactionCoordinator::AfterCheckAppend");
  return Status();
}

Status TransactionCoordinator::end_transaction(std::string_view id, ProducerIdentity producer,
                                               bool commit) {
  std::shared_ptr<Txn> txn = find(id);
  if (!txn) return invalid_argument("unknown transactional id '" + std::string(id) + "'");
  MutexLock lock(txn->mu);
  if (producer.id == txn->pid && producer.epoch < txn->epoch &&
      txn->state == State::kCompleteAbort) {
    return Status(StatusCode::kProducerFenced, "transaction '" + txn->id +
                                                   "' was aborted (timed out or fenced by a newer "
                                                   "producer); close this producer");
  }
  SLUICE_RETURN_IF_ERROR(check_identity(*txn, producer));
  switch (txn->state) {
    case State::kOngoing: {
      // For a commit this durable write is the commit point. The state moves only once the
      // write succeeded: a retry after a failed write must write it again, because markers
      // written without a durable PrepareCommit would be half aborted by recovery.
      if (commit) {
        SLUICE_RETURN_IF_ERROR(sync_data(*txn));
        SLUICE_SYNC_POINT("TransactionCoordinator::BeforePrepareCommit");
      }
      txn->state = commit ? State::kPrepareCommit : State::kPrepareAbort;
      Status persisted = persist(*txn);
      if (!persisted.ok()) {
        txn->state = State::kOngoing;
        return persisted;
      }
      if (commit) SLUICE_SYNC_POINT("TransactionCoordinator::AfterPrepareCommit");
      return complete(*txn, commit);
    }
    case State::kPrepareCommit:
    case State::kPrepareAbort:
      if (commit != (txn->state == State::kPrepareCommit)) break;
      return complete(*txn, commit);  // resume after an error
    case State::kCompleteCommit:
    case State::kCompleteAbort:
      // A retry of an end that already happened, or an empty transaction.
      if (commit == (txn->state == State::kCompleteCommit)) return Status();
      break;
    case State::kEmpty:
      return Status();  // nothing was added: nothing to do
  }
  return Status(StatusCode::kInvalidTxnState, "cannot " + std::string(commit ? "commit" : "abort") +
                                                  " transaction '" + txn->id + "' in state " +
                                                  std::string(state_name(txn->state)));
}

Result<int> TransactionCoordinator::abort_timed_out() {
  std::vector<std::shared_ptr<Txn>> all;
  {
    MutexLock lock(mu_);
    for (const auto& [id, txn] : txns_) all.push_back(txn);
  }
  int aborted = 0;
  Status first;
  const int64_t now = clock_.monotonic_ms();
  for (const auto& txn : all) {
    MutexLock lock(txn->mu);
    Status s;
    if (txn->state == State::kPrepareCommit || txn->state == State::kPrepareAbort) {
      // A completion that failed partway, whose producer may never retry it: finish it, or the
      // last stable offsets of its partitions stay behind until a restart.
      spdlog::info("transaction '{}': finishing its {}", txn->id, state_name(txn->state));
      s = complete(*txn, txn->state == State::kPrepareCommit);
    } else if (txn->state == State::kOngoing && now - txn->started_ms >= txn->timeout_ms) {
      spdlog::warn("transaction '{}' of producer {} timed out after {} ms: aborting it", txn->id,
                   txn->pid.value(), now - txn->started_ms);
      s = abort_with_new_epoch(*txn);
      if (s.ok()) ++aborted;
    }
    if (!s.ok() && first.ok()) first = s.with_context("transaction '" + txn->id + "'");
  }
  if (!first.ok()) return first;
  return aborted;
}

Status TransactionCoordinator::recover(const std::vector<std::shared_ptr<Partition>>& partitions,
                                       OpenReport& report) {
  // 1. The latest state of every transactional id.
  std::map<std::string, nlohmann::json, std::less<>> latest;
  FetchRequest req{.partition = log_->id(),
                   .offset = log_->ends().log_start,
                   .max_bytes = 4 << 20,
                   .isolation = IsolationLevel::kReadUncommitted};
  const Offset end = log_->ends().high_watermark.offset();
  while (req.offset < end) {
    SLUICE_ASSIGN_OR_RETURN(FetchResult chunk, log_->read(req));
    if (chunk.batches.empty()) break;
    SLUICE_RETURN_IF_ERROR(for_each_record(
        chunk, req.offset, IsolationLevel::kReadUncommitted, [&](const RecordView& r) -> Status {
          if (!r.key) return Status();
          std::string key(*r.key);
          if (!r.value) {
            latest.erase(key);
            return Status();
          }
          auto j = nlohmann::json::parse(*r.value, nullptr, /*allow_exceptions=*/false);
          if (j.is_discarded() || !j.is_object()) {
            return corruption("transaction log record for '" + key + "' is not JSON");
          }
          latest[key] = std::move(j);
          return Status();
        }));
    req.offset = chunk.next_offset;
  }

  // 2. Rebuild the in-memory map (nlohmann-json throws on type errors: contained here).
  {
    MutexLock lock(mu_);
    try {
      for (const auto& [key, j] : latest) {
        if (key == kPidBlockKey) {
          pid_block_end_ = next_pid_ = j.at("next").get<int64_t>();
          continue;
        }
        auto txn = std::make_shared<Txn>();
        txn->id = key;
        MutexLock txn_lock(txn->mu);
        txn->pid = ProducerId(j.at("pid").get<int64_t>());
        txn->epoch = ProducerEpoch(j.at("epoch").get<int16_t>());
        txn->timeout_ms = j.at("timeout_ms").get<int64_t>();
        std::string state = j.at("state").get<std::string>();
        for (State s : {State::kEmpty, State::kOngoing, State::kPrepareCommit, State::kPrepareAbort,
                        State::kCompleteCommit, State::kCompleteAbort}) {
          if (state == state_name(s)) txn->state = s;
        }
        for (const auto& p : j.at("partitions")) {
          txn->partitions.insert({p.at(0).get<std::string>(), PartitionId(p.at(1).get<int32_t>())});
        }
        by_pid_[txn->pid] = txn;
        txns_[key] = txn;
      }
    } catch (const nlohmann::json::exception& e) {
      return corruption(std::string("transaction log record is malformed: ") + e.what());
    }
  }

  // 3. Finish prepared transactions: roll forward a PrepareCommit, complete a PrepareAbort.
  std::vector<std::shared_ptr<Txn>> all;
  {
    MutexLock lock(mu_);
    for (const auto& [id, txn] : txns_) all.push_back(txn);
  }
  for (const auto& txn : all) {
    MutexLock lock(txn->mu);
    if (txn->state == State::kPrepareCommit) {
      spdlog::info("transaction '{}' was committing when the log stopped: rolling it forward",
                   txn->id);
      SLUICE_RETURN_IF_ERROR(complete(*txn, true));
      ++report.transactions_rolled_forward;
    } else if (txn->state == State::kPrepareAbort || txn->state == State::kOngoing) {
      SLUICE_RETURN_IF_ERROR(abort_with_new_epoch(*txn));
      ++report.transactions_aborted;
    }
  }

  // 4. Every other transaction still open in a partition never reached its commit point.
  std::set<ProducerId> aborted;
  for (const auto& partition : partitions) {
    for (const auto& [pid, epoch] : partition->open_transactions()) {
      std::shared_ptr<Txn> txn = find(pid);
      ProducerEpoch marker_epoch = epoch;
      if (txn) {
        MutexLock lock(txn->mu);
        if (!aborted.count(pid)) {
          // Fence the producer that was writing it (keeping its producer id for the markers).
          fence(*txn);
          txn->state = State::kCompleteAbort;
          txn->partitions.clear();
          SLUICE_RETURN_IF_ERROR(persist(*txn));
        }
        if (txn->pid == pid && txn->epoch > marker_epoch) marker_epoch = txn->epoch;
      }
      spdlog::info("{}: aborting the open transaction of producer {} (no commit point reached)",
                   partition->id().to_string(), pid.value());
      SLUICE_RETURN_IF_ERROR(
          partition->append_marker(pid, marker_epoch, ControlType::kAbort, 0).status());
      SLUICE_RETURN_IF_ERROR(partition->sync());
      if (aborted.insert(pid).second) ++report.transactions_aborted;
    }
  }
  return Status();
}

}  // namespace sluice::logstore

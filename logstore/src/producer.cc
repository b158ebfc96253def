// The in-process Producer of the built-in log: sequences per partition for idempotence, and
// Kafka's transaction lifecycle on top of the transaction coordinator.
#include <set>

#include "log_store_impl.h"

namespace sluice::logstore {
namespace {

class LocalProducer final : public Producer {
 public:
  LocalProducer(LogStoreImpl& store, ProducerConfig config, ProducerIdentity id)
      : store_(store), config_(std::move(config)), id_(id) {}

  ProducerIdentity identity() const override { return id_; }

  Result<AppendResult> append(const TopicPartition& tp, std::span<const Record> records) override {
    SLUICE_RETURN_IF_ERROR(usable());
    if (records.empty()) return invalid_argument("append of no records to " + tp.to_string());
    if (transactional() && !in_txn_) {
      return Status(StatusCode::kInvalidTxnState,
                    "a transactional producer appends only inside a transaction: call "
                    "begin_transaction() first");
    }
    if (in_txn_ && !txn_partitions_.count(tp)) {
      Status added = store_.add_partitions_to_transaction(config_.transactional_id, id_, {tp});
      if (!added.ok()) return fail(added);
      txn_partitions_.insert(tp);
      registered_ = true;
    }
    const Sequence seq = next_seq_[tp];
    builder_.reset({.compression = config_.compression,
                    .producer_id = id_.id,
                    .producer_epoch = id_.epoch,
                    .base_sequence = seq,
                    .transactional = in_txn_,
                    .default_timestamp = store_.clock().now()});
    builder_.reserve(estimated_batch_bytes(records));
    for (const Record& r : records) builder_.add(r);
    const int32_t count = builder_.record_count();
    SLUICE_ASSIGN_OR_RETURN(Bytes batch, builder_.build());
    auto result = store_.append_local_batch(tp, batch);
    builder_.recycle(std::move(batch));
    if (!result.ok()) return fail(result.status());
    int64_t next = static_cast<int64_t>(seq.value()) + count;
    if (next > INT32_MAX) next -= static_cast<int64_t>(INT32_MAX) + 1;
    next_seq_[tp] = Sequence(static_cast<int32_t>(next));
    return result;
  }

  Status begin_transaction() override {
    SLUICE_RETURN_IF_ERROR(usable());
    if (!transactional()) {
      return failed_precondition("begin_transaction() needs a producer with a transactional id");
    }
    if (in_txn_) return Status(StatusCode::kInvalidTxnState, "a transaction is already open");
    in_txn_ = true;
    must_abort_ = false;
    registered_ = false;
    txn_partitions_.clear();
    return Status();
  }

  Status send_offsets_to_transaction(std::string_view group, const OffsetMap& offsets) override {
    SLUICE_RETURN_IF_ERROR(usable());
    if (!in_txn_) return Status(StatusCode::kInvalidTxnState, "no transaction is open");
    Status s = store_.transactional_offset_commit(config_.transactional_id, id_, group, offsets);
    // These errors come before the coordinator adds anything to the transaction; after any
    // other, the transaction may be open there and has to be ended there.
    const bool refused_early = s.code() == StatusCode::kNotFound ||
                               s.code() == StatusCode::kProducerFenced ||
                               s.code() == StatusCode::kInvalidTxnState;
    if (!refused_early) registered_ = true;
    return s.ok() ? s : fail(s);
  }

  Status commit_transaction() override {
    SLUICE_RETURN_IF_ERROR(usable());
    if (!in_txn_) return Status(StatusCode::kInvalidTxnState, "no transaction is open");
    if (must_abort_) {
      return Status(StatusCode::kInvalidTxnState,
                    "an append of this transaction failed; abort_transaction() and retry");
    }
    if (!registered_) {  // nothing was appended or sent: there is nothing to commit
      in_txn_ = false;
      return Status();
    }
    Status s = store_.end_transaction(config_.transactional_id, id_, true);
    if (!s.ok()) {
      if (s.code() == StatusCode::kProducerFenced) return fail(s);
      // The commit may have passed its commit point, after which only a commit can end it:
      // the transaction stays open here so that commit_transaction() can be retried (the
      // coordinator resumes it).
      return s;
    }
    in_txn_ = false;
    return s;
  }

  Status abort_transaction() override {
    if (fenced_) return fenced_status_;
    if (!in_txn_) return Status(StatusCode::kInvalidTxnState, "no transaction is open");
    if (!registered_) {  // nothing was appended or sent: there is nothing to abort
      in_txn_ = false;
      must_abort_ = false;
      return Status();
    }
    Status s = store_.end_transaction(config_.transactional_id, id_, false);
    if (s.code() == StatusCode::kProducerFenced) fenced_ = true, fenced_status_ = s;
    if (!s.ok()) return s;
    in_txn_ = false;
    must_abort_ = false;
    return s;
  }

 private:
  bool transactional() const { return !config_.transactional_id.empty(); }

  Status usable() const { return fenced_ ? fenced_status_ : Status(); }

  // After a failed append or commit: a fenced producer is finished; a transactional one must
  // abort; an idempotent one starts over with a new producer id (its sequences may have holes).
  Status fail(const Status& s) {
    if (s.code() == StatusCode::kProducerFenced) {
      fenced_ = true;
      fenced_status_ = s;
    } else if (in_txn_) {
      must_abort_ = true;
    } else if (!transactional()) {
      auto fresh = store_.init_producer_id("", config_.transaction_timeout_ms);
      if (fresh.ok()) {
        id_ = *fresh;
        next_seq_.clear();
      }
    }
    return s;
  }

  LogStoreImpl& store_;
  const ProducerConfig config_;
  ProducerIdentity id_;
  std::map<TopicPartition, Sequence> next_seq_;
  RecordBatchBuilder builder_;  // reused: its buffer is recycled after every append
  std::set<TopicPartition> txn_partitions_;
  bool in_txn_ = false;
  bool must_abort_ = false;
  // Whether the coordinator knows of the open transaction (a partition or offsets were added):
  // an empty transaction ends here, without it, as Kafka's producer does.
  bool registered_ = false;
  bool fenced_ = false;
  Status fenced_status_;
};

}  // namespace

Result<std::unique_ptr<Producer>> LogStoreImpl::create_producer(const ProducerConfig& config) {
  if (config.compression == Compression::kGzip || config.compression == Compression::kSnappy) {
    return invalid_argument("producer compression must be none, lz4 or zstd");
  }
  SLUICE_ASSIGN_OR_RETURN(ProducerIdentity id,
                          init_producer_id(config.transactional_id, config.transaction_timeout_ms));
  return std::unique_ptr<Producer>(std::make_unique<LocalProducer>(*this, config, id));
}

}  // namespace sluice::logstore

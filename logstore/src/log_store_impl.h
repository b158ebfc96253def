// LogStoreImpl: the built-in log behind the LogStore interface — the topic registry, the
// internal topics, the transaction coordinator, consumer-group offsets and background
// maintenance (interval flushes, retention, compaction, transaction timeouts).
//
// Thread safety: thread-safe. topics_mu_ guards the registry only; partitions synchronize
// themselves. Lock order: topics_mu_ before any partition, transaction or group lock.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "group_offsets.h"
#include "partition.h"
#include "sluice/base/mutex.h"
#include "sluice/logstore/log_store.h"
#include "transaction_coordinator.h"

namespace sluice::logstore {

class LogStoreImpl final : public LogStore {
 public:
  explicit LogStoreImpl(const LogStoreOptions& options);
  ~LogStoreImpl() override;

  Status open(OpenReport& report);

  // LogStore
  Status close() override;
  Status delete_topic(std::string_view name) override;
  Status alter_topic(std::string_view name,
                     const std::map<std::string, std::string>& changes) override;
  Result<AppendResult> append_batch(const TopicPartition& tp, Bytes& batch) override;
  // append_batch for batches this process encoded itself (the Producer): not re-validated.
  Result<AppendResult> append_local_batch(const TopicPartition& tp, Bytes& batch);
  Result<ProducerIdentity> init_producer_id(std::string_view transactional_id,
                                            int64_t timeout_ms) override;
  Status add_partitions_to_transaction(std::string_view transactional_id, ProducerIdentity producer,
                                       const std::vector<TopicPartition>& partitions) override;
  Status transactional_offset_commit(std::string_view transactional_id, ProducerIdentity producer,
                                     std::string_view group, const OffsetMap& offsets) override;
  Status end_transaction(std::string_view transactional_id, ProducerIdentity producer,
                         bool commit) override;
  Result<OffsetMap> group_offsets(std::string_view group) override;
  std::vector<std::string> list_groups() override;
  Status flush() override;
  Status run_retention() override;
  Status run_compaction(bool force) override;
  Status abort_timed_out_transactions() override;

  // LogClient
  Status create_topic(std::string_view name, const TopicConfig& config) override;
  Result<TopicDescription> describe_topic(std::string_view name) override;
  std::vector<std::string> list_topics() override;
  Result<PartitionEnds> partition_ends(const TopicPartition& tp) override;
  Result<std::optional<Offset>> offset_for_timestamp(const TopicPartition& tp,
                                                     Timestamp ts) override;
  Status delete_records(const TopicPartition& tp, Offset before) override;
  Result<FetchResult> fetch(const FetchRequest& request) override;
  Status commit_offsets(std::string_view group, const OffsetMap& offsets) override;
  Result<std::optional<CommittedOffset>> committed_offset(std::string_view group,
                                                          const TopicPartition& tp) override;
  Result<AppendResult> append(const TopicPartition& tp, std::span<const Record> records) override;
  Result<std::unique_ptr<Producer>> create_producer(const ProducerConfig& config) override;

  Result<std::shared_ptr<Partition>> partition(const TopicPartition& tp)
      SLUICE_EXCLUDES(topics_mu_);
  Clock& clock() const { return clock_; }
  TopicConfig topic_config(std::string_view topic) SLUICE_EXCLUDES(topics_mu_);

 private:
  struct Topic {
    std::string name;
    std::string dir;
    TopicConfig config;
    std::vector<std::shared_ptr<Partition>> partitions;
  };

  std::string topics_dir() const { return data_dir_ + "/topics"; }
  Status load_topic(const std::string& name, OpenReport& report) SLUICE_EXCLUDES(topics_mu_);
  Result<AppendResult> append_batch_from(const TopicPartition& tp, Bytes& batch,
                                         BatchOrigin origin);
  Status create_topic_internal(std::string_view name, const TopicConfig& config)
      SLUICE_EXCLUDES(topics_mu_);
  Status ensure_internal_topics() SLUICE_EXCLUDES(topics_mu_);
  std::vector<std::shared_ptr<Partition>> all_partitions() const SLUICE_EXCLUDES(topics_mu_);
  Result<std::shared_ptr<Topic>> topic(std::string_view name) const SLUICE_EXCLUDES(topics_mu_);
  void maintenance_loop(std::stop_token stop);

  const LogStoreOptions options_;
  const std::string data_dir_;
  FileSystem& fs_;
  Clock& clock_;
  std::unique_ptr<FileLock> dir_lock_;

  mutable SharedMutex topics_mu_;
  std::map<std::string, std::shared_ptr<Topic>, std::less<>> topics_ SLUICE_GUARDED_BY(topics_mu_);

  std::unique_ptr<GroupOffsets> groups_;
  std::unique_ptr<TransactionCoordinator> coordinator_;

  Mutex maintenance_mu_;
  CondVar maintenance_cv_;
  std::jthread maintenance_;
  bool closed_ = false;
};

// Checks a user topic name: 1-249 characters of [a-zA-Z0-9._-], not "." or "..", not starting
// with "__" (reserved for internal topics).
Status validate_topic_name(std::string_view name);

}  // namespace sluice::logstore

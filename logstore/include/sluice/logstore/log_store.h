// LogStore: the built-in durable, partitioned log.
//
// A LogStore owns a data directory of topics, each a set of partitions made of segment files
// (layout in docs/LOG-FORMAT.md). It implements LogClient for the layers above, and adds what a
// server needs: topic administration, raw batch appends (as Kafka producers send them), the
// transaction coordinator's operations and consumer-group offsets.
//
// Opening recovers everything: torn tails are cut, indexes rebuilt, transactions completed
// (rolled forward when their PrepareCommit is durable, aborted otherwise) — see OpenReport.
// A background thread flushes interval-policy partitions, applies retention, compacts
// compacted topics and aborts timed-out transactions.
//
// Thread safety: all methods are safe to call concurrently. Appends to one partition are
// serialized; appends to different partitions and all reads run in parallel.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/base/clock.h"
#include "sluice/base/file_system.h"
#include "sluice/logstore/log_client.h"
#include "sluice/logstore/open_report.h"

namespace sluice::logstore {

struct LogStoreOptions {
  std::string data_dir;
  FileSystem* fs = nullptr;  // nullptr: the real file system
  Clock* clock = nullptr;    // nullptr: the system clock
  // Partitions of the internal `__consumer_offsets` topic (fixed when the store is created).
  int32_t offsets_topic_partitions = 4;
  // Run the background maintenance thread. Tests that drive retention and compaction by hand
  // turn it off.
  bool background_maintenance = true;
  int64_t retention_check_interval_ms = 60'000;
  int64_t compaction_check_interval_ms = 15'000;
};

// Names of the internal topics.
inline constexpr std::string_view kConsumerOffsetsTopic = "__consumer_offsets";
inline constexpr std::string_view kTransactionStateTopic = "__transaction_state";

// Topics whose names start with "__" belong to the log itself: clients cannot create or delete
// them, and listings leave them out unless asked.
inline bool is_internal_topic(std::string_view name) { return name.starts_with("__"); }

class LogStore : public LogClient {
 public:
  // Opens (creating if needed) the store in options.data_dir and recovers it. kFailedPrecondition
  // if another process has it open; kCorruption/kIOError if recovery cannot proceed.
  static Result<std::unique_ptr<LogStore>> open(const LogStoreOptions& options,
                                                OpenReport* report = nullptr);

  // Stops background work, syncs every partition and releases the directory. Idempotent;
  // the destructor calls it.
  virtual Status close() = 0;

  // --- admin beyond LogClient ---

  // Deletes a topic and its data. kNotFound if absent; kInvalidArgument for internal topics.
  virtual Status delete_topic(std::string_view name) = 0;
  // Changes config options by name (TopicConfig::set). The partition count cannot be changed
  // here (kInvalidArgument); kNotFound for an unknown topic.
  virtual Status alter_topic(std::string_view name,
                             const std::map<std::string, std::string>& changes) = 0;

  // Appends one encoded batch exactly as a Kafka producer sends it (may carry a producer id,
  // sequence and the transactional flag). Offsets are assigned by the log.
  virtual Result<AppendResult> append_batch(const TopicPartition& partition, Bytes& batch) = 0;

  // --- transactions (Kafka's InitProducerId, AddPartitionsToTxn, TxnOffsetCommit, EndTxn) ---

  // A new producer id (empty transactional_id) or the next epoch of a transactional id: any
  // open transaction of an earlier epoch is aborted (or completed, if it was committing) first.
  virtual Result<ProducerIdentity> init_producer_id(std::string_view transactional_id,
                                                    int64_t transaction_timeout_ms) = 0;
  virtual Status add_partitions_to_transaction(std::string_view transactional_id,
                                               ProducerIdentity producer,
                                               const std::vector<TopicPartition>& partitions) = 0;
  // Appends the group's offsets inside the transaction; they are committed with it.
  virtual Status transactional_offset_commit(std::string_view transactional_id,
                                             ProducerIdentity producer, std::string_view group,
                                             const OffsetMap& offsets) = 0;
  // Commits or aborts. OK means the outcome is durable and visible.
  virtual Status end_transaction(std::string_view transactional_id, ProducerIdentity producer,
                                 bool commit) = 0;

  // --- consumer groups ---

  virtual Result<OffsetMap> group_offsets(std::string_view group) = 0;
  virtual std::vector<std::string> list_groups() = 0;

  // --- maintenance, for tests and tools (the background thread runs these too) ---

  virtual Status flush() = 0;
  virtual Status run_retention() = 0;
  // `force`: compact even below min.cleanable.dirty.ratio.
  virtual Status run_compaction(bool force) = 0;
  virtual Status abort_timed_out_transactions() = 0;
};

}  // namespace sluice::logstore

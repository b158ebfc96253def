// LogClient: the one narrow interface through which state stores, operators and the runtime
// reach topics.
//
// The built-in log (LogStore) implements it, and so does the Apache Kafka backend over
// librdkafka (runtime/kafka), so nothing above logstore/ may depend on which log it runs on. The
// shape follows Kafka's client APIs: an admin part (topics, metadata), a consumer part (fetch,
// committed offsets, group membership) and a producer part (Producer: idempotent and
// transactional appends).
//
// Thread safety: a LogClient is safe to use from many threads at once. A Producer is
// thread-confined: one thread (e.g. one stream thread) owns it.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/base/result.h"
#include "sluice/logstore/log_types.h"
#include "sluice/logstore/record_batch.h"
#include "sluice/logstore/topic_config.h"

namespace sluice::logstore {

struct TopicDescription {
  std::string name;
  TopicConfig config;
  std::vector<PartitionEnds> partitions;  // indexed by partition id
  std::vector<uint64_t> partition_bytes;  // bytes on disk per partition
};

struct ProducerConfig {
  // Empty: an idempotent producer (retried batches are not appended twice). Non-empty: a
  // transactional producer with this id; creating it fences (and aborts the open transaction
  // of) any earlier producer with the same id.
  std::string transactional_id;
  // An open transaction older than this is aborted by the log and its producer fenced.
  int64_t transaction_timeout_ms = 60'000;
  // Batches are built with this codec when the topic leaves it to the producer.
  Compression compression = Compression::kNone;
};

// Appends records, exactly once per call even across internal retries, optionally inside
// transactions. Mirrors Kafka's producer: begin_transaction(), append()..., then
// send_offsets_to_transaction() and commit_transaction() (or abort_transaction()).
class Producer {
 public:
  virtual ~Producer() = default;

  virtual ProducerIdentity identity() const = 0;

  // Appends `records` to one partition as one batch. Inside a transaction the records become
  // visible to read-committed readers only when the transaction commits. Errors:
  // kProducerFenced when a newer producer with the same transactional id exists (this producer
  // must be closed); kNotFound for an unknown topic or partition; kNoSpace; kInvalidTxnState
  // when a transactional producer appends outside a transaction.
  virtual Result<AppendResult> append(const TopicPartition& partition,
                                      std::span<const Record> records) = 0;

  // Transactional producers only (kFailedPrecondition otherwise).
  virtual Status begin_transaction() = 0;
  // Commits the consumer group's positions as part of the transaction: they become the group's
  // committed offsets exactly when the transaction commits.
  virtual Status send_offsets_to_transaction(std::string_view group, const OffsetMap& offsets) = 0;
  // Makes every append of the transaction visible atomically. When this returns OK the
  // transaction is committed and durable; on kProducerFenced or kAborted it was aborted.
  virtual Status commit_transaction() = 0;
  virtual Status abort_transaction() = 0;
};

// Told which partitions a group member owns. Called on the membership's own thread, one call
// at a time.
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  // The partitions leave this member. Returns only once the work done on them is committed:
  // their next owner resumes from the committed positions. `lost`: the member was already
  // dropped from the group (its session ran out), the partitions may already be another's,
  // and nothing may be committed any more: the uncommitted work is dropped instead.
  virtual void on_revoked(const std::vector<TopicPartition>& partitions, bool lost) = 0;
  // The partitions are this member's until revoked.
  virtual void on_assigned(const std::vector<TopicPartition>& partitions) = 0;
  // The membership ended by itself and cannot go on (e.g. the member was fenced): nothing
  // more will be assigned, and partitions held now may already belong to another member.
  virtual void on_failed(const Status& error) = 0;
};

// Membership of a consumer group (see LogClient::join_group). Destroying it leaves the group,
// revoking the member's partitions first; it must go before the LogClient that made it.
class GroupMembership {
 public:
  virtual ~GroupMembership() = default;
};

class LogClient {
 public:
  virtual ~LogClient() = default;

  // --- admin ---

  // kAlreadyExists if the topic exists; kInvalidArgument for a bad name or config.
  virtual Status create_topic(std::string_view name, const TopicConfig& config) = 0;
  // kNotFound if there is no such topic.
  virtual Result<TopicDescription> describe_topic(std::string_view name) = 0;
  virtual std::vector<std::string> list_topics() = 0;
  // The current ends of one partition.
  virtual Result<PartitionEnds> partition_ends(const TopicPartition& partition) = 0;
  // The first offset whose record timestamp is >= `ts`; nullopt when every record is older.
  virtual Result<std::optional<Offset>> offset_for_timestamp(const TopicPartition& partition,
                                                             Timestamp ts) = 0;
  // Removes every record below `before` (purging consumed records of internal topics).
  virtual Status delete_records(const TopicPartition& partition, Offset before) = 0;

  // --- consumer ---

  // Whole batches from `request.offset`. kOutOfRange when the offset is below the log start or
  // past the end of the partition; kCorruption (naming topic, partition and offset) when stored
  // bytes fail validation there.
  virtual Result<FetchResult> fetch(const FetchRequest& request) = 0;

  // Commits positions outside any transaction (at-least-once consumers).
  virtual Status commit_offsets(std::string_view group, const OffsetMap& offsets) = 0;
  // The group's committed position in `partition`, if it has one.
  virtual Result<std::optional<CommittedOffset>> committed_offset(
      std::string_view group, const TopicPartition& partition) = 0;

  // Joins consumer group `group` as a member subscribed to `topics`: the group's assignor shares
  // their partitions among all members (in every process), and `listener`, which outlives the
  // membership, hears of every change. Commits of the group through this client then count as
  // the member's. kUnimplemented where partitions are not shared between processes (the
  // built-in log: one runtime owns every partition).
  virtual Result<std::unique_ptr<GroupMembership>> join_group(std::string_view group,
                                                              std::vector<std::string> topics,
                                                              RebalanceListener& listener) {
    (void)group;
    (void)topics;
    (void)listener;
    return unimplemented("this log does not share partitions between group members");
  }

  // --- producer ---

  // A plain append: no idempotence, no transaction.
  virtual Result<AppendResult> append(const TopicPartition& partition,
                                      std::span<const Record> records) = 0;

  virtual Result<std::unique_ptr<Producer>> create_producer(const ProducerConfig& config) = 0;
};

}  // namespace sluice::logstore

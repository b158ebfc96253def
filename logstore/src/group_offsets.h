// GroupOffsets: consumer groups' committed offsets, kept in the internal compacted topic
// `__consumer_offsets` and materialized in memory.
//
// Records use Kafka's own layouts (OffsetCommitKey v1: version int16 = 1 | group string |
// topic string | partition int32; OffsetCommitValue v3: version int16 = 3 | offset int64 |
// leader epoch int32 | metadata string | commit timestamp int64; strings are int16 length +
// bytes), so that the Kafka listener can serve them unchanged. A group's records all go to
// partition abs(java_hash(group)) % partitions, as in Kafka (whose abs maps INT32_MIN to 0).
//
// Offsets committed inside a transaction are appended as transactional data and become the
// group's offsets only when the transaction's commit marker is written (on_marker). Of two
// commits of the same partition the one whose record is later in the log wins, whatever order
// they are applied in — as in Kafka, and so that a reload gives what was served before it.
//
// Thread safety: thread-safe (one mutex; the appends themselves are serialized per partition).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "partition.h"
#include "sluice/base/mutex.h"
#include "sluice/logstore/log_types.h"

namespace sluice::logstore {

class GroupOffsets {
 public:
  // `partitions` are those of __consumer_offsets, in partition order.
  explicit GroupOffsets(std::vector<std::shared_ptr<Partition>> partitions);

  // Rebuilds the in-memory view from the topic (after transaction recovery has written every
  // outstanding marker).
  Status load() SLUICE_EXCLUDES(mu_);

  // The offsets partition that holds `group`.
  const std::shared_ptr<Partition>& partition_for(std::string_view group) const;

  // Appends and applies a plain (non-transactional) commit. kInvalidArgument for an empty group
  // id, or a group id or metadata longer than a Kafka string can be (32767 bytes).
  Status commit(std::string_view group, const OffsetMap& offsets) SLUICE_EXCLUDES(mu_);
  // Appends a commit inside the producer's transaction; it is applied on the commit marker.
  Status commit_in_transaction(std::string_view group, const OffsetMap& offsets,
                               ProducerIdentity producer) SLUICE_EXCLUDES(mu_);
  // Called after a marker for `producer` was written to the offsets partitions.
  void on_marker(ProducerId producer, bool committed) SLUICE_EXCLUDES(mu_);

  std::optional<CommittedOffset> fetch(std::string_view group, const TopicPartition& tp) const
      SLUICE_EXCLUDES(mu_);
  OffsetMap fetch_all(std::string_view group) const SLUICE_EXCLUDES(mu_);
  std::vector<std::string> groups() const SLUICE_EXCLUDES(mu_);

  // Kafka's String.hashCode of the group id, for partition placement.
  static int32_t java_hash(std::string_view s);

 private:
  // A committed offset and the log offset of the record that committed it.
  struct Stored {
    CommittedOffset value;
    Offset record;
  };
  struct Pending {
    std::string group;
    TopicPartition tp;
    std::optional<CommittedOffset> value;  // nullopt: delete
    Offset record;                         // where the record is in the offsets partition
  };
  Result<Bytes> encode(std::string_view group, const OffsetMap& offsets, ProducerIdentity producer,
                       bool transactional) const;
  void apply(const Pending& p) SLUICE_REQUIRES(mu_);

  std::vector<std::shared_ptr<Partition>> partitions_;
  mutable Mutex mu_;
  std::map<std::string, std::map<TopicPartition, Stored>, std::less<>> groups_
      SLUICE_GUARDED_BY(mu_);
  std::map<ProducerId, std::vector<Pending>> pending_ SLUICE_GUARDED_BY(mu_);
};

// Decodes one __consumer_offsets record; nullopt for record kinds other than offset commits
// (Kafka also stores group metadata there).
Result<std::optional<std::pair<std::string, TopicPartition>>> decode_offset_key(ByteView key);
Result<CommittedOffset> decode_offset_value(ByteView value);

}  // namespace sluice::logstore

// TopicConfig: everything that can be configured per topic, with Kafka-style names.
//
// A plain struct with the default beside each field. It is persisted with the topic
// (topics/<name>/topic.json) and can be changed later with LogStore::alter_topic(); the
// string form (`set("retention.ms", "60000")`) is what the CLI and the gRPC API use.
//
// Thread safety: a value.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "sluice/base/result.h"
#include "sluice/logstore/record_batch.h"

namespace sluice::logstore {

// What happens to old data: whole segments deleted by age/size, or compacted to the latest
// record per key (changelogs), or both.
enum class CleanupPolicy : int8_t { kDelete, kCompact, kCompactDelete };

// When appended data is made durable (fdatasync) — and therefore what an acknowledgement means.
enum class FlushPolicy : int8_t {
  kEveryBatch,  // each append is synced before it is acknowledged and before readers see it
  kInterval,    // synced within flush_ms by a background flusher; acknowledged when written
  kNever,       // left to the operating system; survives a process crash, not a power cut
};

// How much of a batch from a client is checked before it is appended. Batches that the
// process built itself (LogClient::append, Producer, internal topics) are trusted either way.
enum class RecordValidation : int8_t {
  kFull,  // CRC, header, and every record's framing and offsets (what Kafka's broker does)
  kCrc,   // CRC and header only: faster; a malformed record is then found by its readers
};

// "every-batch", "interval" or "never": the value of the flush.policy option.
std::string_view flush_policy_name(FlushPolicy p);

// Which codec batches are stored with. kProducer keeps whatever the producer sent.
enum class TopicCompression : int8_t { kProducer, kNone, kLz4, kZstd };

struct TopicConfig {
  int32_t partitions = 1;
  // A segment is rolled when it would grow past this many bytes...
  int64_t segment_bytes = 128ll << 20;
  // ...or when its first batch is older than this.
  int64_t segment_ms = 7ll * 24 * 3600 * 1000;
  // Sealed segments whose newest record is older than this are deleted (-1: never).
  int64_t retention_ms = 7ll * 24 * 3600 * 1000;
  // Oldest sealed segments are deleted while the partition is larger than this (-1: no limit).
  int64_t retention_bytes = -1;
  CleanupPolicy cleanup_policy = CleanupPolicy::kDelete;
  TopicCompression compression = TopicCompression::kProducer;
  FlushPolicy flush_policy = FlushPolicy::kInterval;
  int64_t flush_ms = 100;  // for FlushPolicy::kInterval
  // One sparse index entry per this many bytes of log.
  int32_t index_interval_bytes = 4096;
  // Compaction keeps a tombstone (and a transaction marker) this long after it was first
  // compacted, so consumers that are behind still see the delete.
  int64_t delete_retention_ms = 24ll * 3600 * 1000;
  // Records younger than this are never compacted.
  int64_t min_compaction_lag_ms = 0;
  // A partition is compacted when this share of its sealed bytes has not been compacted yet.
  double min_cleanable_dirty_ratio = 0.5;
  TimestampType timestamp_type = TimestampType::kCreateTime;
  // The largest batch an append accepts, in bytes.
  int32_t max_batch_bytes = 8 << 20;
  // An idempotent producer idle this long (no open transaction) is forgotten when a segment
  // rolls: a retry of its old batches is then no longer recognized (Kafka's
  // producer.id.expiration.ms).
  int64_t producer_id_expiration_ms = 24ll * 3600 * 1000;
  RecordValidation record_validation = RecordValidation::kFull;

  bool compacted() const { return cleanup_policy != CleanupPolicy::kDelete; }
  bool deletes() const { return cleanup_policy != CleanupPolicy::kCompact; }

  // Sets one option by its Kafka-style name ("segment.bytes", "retention.ms",
  // "cleanup.policy", "compression.type", "flush.policy", "flush.ms", ...). kInvalidArgument
  // for an unknown name or a value that does not parse or is out of range.
  Status set(std::string_view name, std::string_view value);

  // All options by name, as set() accepts them.
  std::map<std::string, std::string> to_map() const;

  // Checks the values are sensible together; kInvalidArgument says which one is not.
  Status validate() const;

  // The JSON form stored in topic.json.
  std::string to_json() const;
  static Result<TopicConfig> from_json(std::string_view json);
};

}  // namespace sluice::logstore

#include "sluice/logstore/topic_config.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "sluice/logstore/log_types.h"

namespace sluice::logstore {
namespace {

template <typename T>
Status parse_int(std::string_view name, std::string_view value, T min, T& out) {
  T v{};
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || p != value.data() + value.size() || v < min) {
    return invalid_argument("bad value '" + std::string(value) + "' for " + std::string(name) +
                            ": expected an integer >= " + std::to_string(min));
  }
  out = v;
  return Status();
}

std::string_view cleanup_name(CleanupPolicy p) {
  switch (p) {
    case CleanupPolicy::kDelete:
      return "delete";
    case CleanupPolicy::kCompact:
      return "compact";
    case CleanupPolicy::kCompactDelete:
      return "compact,delete";
  }
  return "delete";
}

std::string_view topic_compression_name(TopicCompression c) {
  switch (c) {
    case TopicCompression::kProducer:
      return "producer";
    case TopicCompression::kNone:
      return "none";
    case TopicCompression::kLz4:
      return "lz4";
    case TopicCompression::kZstd:
      return "zstd";
  }
  return "producer";
}

}  // namespace

std::string_view flush_policy_name(FlushPolicy p) {
  switch (p) {
    case FlushPolicy::kEveryBatch:
      return "every-batch";
    case FlushPolicy::kInterval:
      return "interval";
    case FlushPolicy::kNever:
      return "never";
  }
  return "interval";
}

std::string TopicPartition::to_string() const {
  return topic + "/" + std::to_string(partition.value());
}

Status TopicConfig::set(std::string_view name, std::string_view value) {
  if (name == "partitions") return parse_int<int32_t>(name, value, 1, partitions);
  if (name == "segment.bytes") return parse_int<int64_t>(name, value, 1024, segment_bytes);
  if (name == "segment.ms") return parse_int<int64_t>(name, value, 1, segment_ms);
  if (name == "retention.ms") return parse_int<int64_t>(name, value, -1, retention_ms);
  if (name == "retention.bytes") return parse_int<int64_t>(name, value, -1, retention_bytes);
  if (name == "flush.ms") return parse_int<int64_t>(name, value, 1, flush_ms);
  if (name == "index.interval.bytes") {
    return parse_int<int32_t>(name, value, 1, index_interval_bytes);
  }
  if (name == "delete.retention.ms") {
    return parse_int<int64_t>(name, value, 0, delete_retention_ms);
  }
  if (name == "min.compaction.lag.ms") {
    return parse_int<int64_t>(name, value, 0, min_compaction_lag_ms);
  }
  if (name == "max.batch.bytes") return parse_int<int32_t>(name, value, 64, max_batch_bytes);
  if (name == "producer.id.expiration.ms") {
    return parse_int<int64_t>(name, value, 1, producer_id_expiration_ms);
  }
  if (name == "min.cleanable.dirty.ratio") {
    try {
      size_t used = 0;
      double v = std::stod(std::string(value), &used);
      if (used != value.size() || v < 0 || v > 1) throw std::invalid_argument("range");
      min_cleanable_dirty_ratio = v;
      return Status();
    } catch (const std::exception&) {
      return invalid_argument("bad value '" + std::string(value) +
                              "' for min.cleanable.dirty.ratio: expected a number in [0, 1]");
    }
  }
  if (name == "cleanup.policy") {
    for (auto p :
         {CleanupPolicy::kDelete, CleanupPolicy::kCompact, CleanupPolicy::kCompactDelete}) {
      if (value == cleanup_name(p)) {
        cleanup_policy = p;
        return Status();
      }
    }
    if (value == "delete,compact") {
      cleanup_policy = CleanupPolicy::kCompactDelete;
      return Status();
    }
    return invalid_argument("bad cleanup.policy '" + std::string(value) +
                            "': use delete, compact or compact,delete");
  }
  if (name == "flush.policy") {
    for (auto p : {FlushPolicy::kEveryBatch, FlushPolicy::kInterval, FlushPolicy::kNever}) {
      if (value == flush_policy_name(p)) {
        flush_policy = p;
        return Status();
      }
    }
    return invalid_argument("bad flush.policy '" + std::string(value) +
                            "': use every-batch, interval or never");
  }
  if (name == "compression.type") {
    for (auto c : {TopicCompression::kProducer, TopicCompression::kNone, TopicCompression::kLz4,
                   TopicCompression::kZstd}) {
      if (value == topic_compression_name(c)) {
        compression = c;
        return Status();
      }
    }
    return invalid_argument("bad compression.type '" + std::string(value) +
                            "': use producer, none, lz4 or zstd");
  }
  if (name == "record.validation") {
    if (value == "full") {
      record_validation = RecordValidation::kFull;
    } else if (value == "crc") {
      record_validation = RecordValidation::kCrc;
    } else {
      return invalid_argument("bad record.validation '" + std::string(value) +
                              "': use full or crc");
    }
    return Status();
  }
  if (name == "message.timestamp.type") {
    if (value == "CreateTime") {
      timestamp_type = TimestampType::kCreateTime;
    } else if (value == "LogAppendTime") {
      timestamp_type = TimestampType::kLogAppendTime;
    } else {
      return invalid_argument("bad message.timestamp.type '" + std::string(value) +
                              "': use CreateTime or LogAppendTime");
    }
    return Status();
  }
  return invalid_argument("unknown topic option '" + std::string(name) + "'");
}

std::map<std::string, std::string> TopicConfig::to_map() const {
  return {
      {"partitions", std::to_string(partitions)},
      {"segment.bytes", std::to_string(segment_bytes)},
      {"segment.ms", std::to_string(segment_ms)},
      {"retention.ms", std::to_string(retention_ms)},
      {"retention.bytes", std::to_string(retention_bytes)},
      {"cleanup.policy", std::string(cleanup_name(cleanup_policy))},
      {"compression.type", std::string(topic_compression_name(compression))},
      {"flush.policy", std::string(flush_policy_name(flush_policy))},
      {"flush.ms", std::to_string(flush_ms)},
      {"index.interval.bytes", std::to_string(index_interval_bytes)},
      {"delete.retention.ms", std::to_string(delete_retention_ms)},
      {"min.compaction.lag.ms", std::to_string(min_compaction_lag_ms)},
      {"min.cleanable.dirty.ratio", std::to_string(min_cleanable_dirty_ratio)},
      {"message.timestamp.type",
       timestamp_type == TimestampType::kCreateTime ? "CreateTime" : "LogAppendTime"},
      {"max.batch.bytes", std::to_string(max_batch_bytes)},
      {"producer.id.expiration.ms", std::to_string(producer_id_expiration_ms)},
      {"record.validation", record_validation == RecordValidation::kFull ? "full" : "crc"},
  };
}

Status TopicConfig::validate() const {
  if (partitions < 1 || partitions > 100'000) {
    return invalid_argument("partitions must be between 1 and 100000");
  }
  if (segment_bytes < 1024 || segment_bytes > (1ll << 30)) {
    return invalid_argument("segment.bytes must be between 1 KiB and 1 GiB");
  }
  if (index_interval_bytes < 1) return invalid_argument("index.interval.bytes must be positive");
  if (flush_ms < 1) return invalid_argument("flush.ms must be positive");
  return Status();
}

std::string TopicConfig::to_json() const {
  nlohmann::json j;
  for (const auto& [k, v] : to_map()) j[k] = v;
  return j.dump(2);
}

Result<TopicConfig> TopicConfig::from_json(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return corruption("topic config is not a JSON object");
  TopicConfig config;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) return corruption("topic config value for '" + k + "' is not a string");
    SLUICE_RETURN_IF_ERROR(config.set(k, v.get<std::string>()));
  }
  SLUICE_RETURN_IF_ERROR(config.validate());
  return config;
}

}  // namespace sluice::logstore

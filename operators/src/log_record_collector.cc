#include "sluice/operators/log_record_collector.h"

namespace sluice::operators {
namespace {

// Records per append: one batch each, well under the log's batch size limit.
constexpr size_t kRecordsPerBatch = 2000;

std::optional<Bytes> copy(std::optional<ByteView> v) {
  return v ? std::optional<Bytes>(Bytes(*v)) : std::nullopt;
}

}  // namespace

Result<int32_t> LogRecordCollector::partitions(std::string_view topic) {
  auto known = partition_counts_.find(topic);
  if (known != partition_counts_.end()) return known->second;
  auto d = options_.log->describe_topic(topic);
  if (!d.ok() && d.status().code() == StatusCode::kNotFound &&
      options_.create_missing_topics_with_partitions > 0) {
    logstore::TopicConfig config;
    config.partitions = options_.create_missing_topics_with_partitions;
    Status created = options_.log->create_topic(topic, config);
    if (!created.ok() && created.code() != StatusCode::kAlreadyExists) return created;
    d = options_.log->describe_topic(topic);
  }
  if (!d.ok()) {
    return d.status().with_context("output topic '" + std::string(topic) +
                                   "' (create it before starting the topology)");
  }
  const auto n = static_cast<int32_t>(d->partitions.size());
  partition_counts_.emplace(std::string(topic), n);
  return n;
}

Status LogRecordCollector::send(std::string_view topic, PartitionId partition,
                                std::optional<ByteView> key, std::optional<ByteView> value,
                                Timestamp timestamp,
                                std::span<const logstore::RecordHeader> headers) {
  Pending p{copy(key), copy(value), timestamp, {}};
  for (const auto& h : headers) p.headers.emplace_back(Bytes(h.key), copy(h.value));
  pending_[logstore::TopicPartition{std::string(topic), partition}].push_back(std::move(p));
  return Status();
}

Status LogRecordCollector::flush(logstore::Producer* producer) {
  std::vector<logstore::Record> batch;
  std::vector<std::vector<logstore::RecordHeader>> headers;
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto& records = it->second;
    size_t done = 0;
    while (done < records.size()) {
      const size_t end = std::min(records.size(), done + kRecordsPerBatch);
      batch.clear();
      headers.assign(end - done, {});
      for (size_t i = done; i < end; ++i) {
        const Pending& p = records[i];
        auto& hs = headers[i - done];
        for (const auto& [k, v] : p.headers) {
          hs.push_back({ByteView(k), v ? std::optional<ByteView>(*v) : std::nullopt});
        }
        logstore::Record r{.timestamp = p.timestamp, .headers = hs};
        if (p.key) r.key = ByteView(*p.key);
        if (p.value) r.value = ByteView(*p.value);
        batch.push_back(r);
      }
      auto appended =
          producer ? producer->append(it->first, batch) : options_.log->append(it->first, batch);
      if (!appended.ok()) {
        records.erase(records.begin(), records.begin() + static_cast<std::ptrdiff_t>(done));
        return appended.status().with_context("writing to " + it->first.to_string());
      }
      done = end;
    }
    it = pending_.erase(it);
  }
  return Status();
}

size_t LogRecordCollector::buffered() const {
  size_t n = 0;
  for (const auto& [tp, records] : pending_) n += records.size();
  return n;
}

}  // namespace sluice::operators

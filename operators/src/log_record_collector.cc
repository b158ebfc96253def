#include "sluice/operators/log_record_collector.h"

namespace sluice::operators {
namespace {

// Records per append: one batch each, well under the log's batch size limit.
constexpr size_t kRecordsPerBatch = 2000;

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

LogRecordCollector::Output& LogRecordCollector::output(std::string_view topic,
                                                       PartitionId partition) {
  // A sink sends to one topic record after record: remember the last one's partitions.
  if (last_topic_ == nullptr || *last_topic_ != topic) {
    auto it = outputs_.find(topic);
    if (it == outputs_.end()) it = outputs_.emplace(std::string(topic), 0).first;
    last_topic_ = &it->first;
    last_outputs_ = &it->second;
  }
  auto& by_partition = *last_outputs_;
  const auto p = static_cast<size_t>(partition.value());
  if (by_partition.size() <= p) by_partition.resize(p + 1);
  if (!by_partition[p]) {
    by_partition[p] = std::make_unique<Output>();
    by_partition[p]->partition = {std::string(topic), partition};
  }
  return *by_partition[p];
}

Status LogRecordCollector::send(std::string_view topic, PartitionId partition,
                                std::optional<ByteView> key, std::optional<ByteView> value,
                                Timestamp timestamp,
                                std::span<const logstore::RecordHeader> headers) {
  Output& out = output(topic, partition);
  auto put = [&out](std::optional<ByteView> bytes) {
    if (!bytes) return Span{};
    Span s{out.arena.size(), static_cast<int64_t>(bytes->size())};
    out.arena.append(*bytes);
    return s;
  };
  if (out.entries.empty()) in_use_.push_back(&out);
  Entry e{put(key), put(value), timestamp, out.headers.size(), out.headers.size()};
  for (const auto& h : headers) out.headers.emplace_back(put(h.key), put(h.value));
  e.headers_end = out.headers.size();
  out.entries.push_back(e);
  ++buffered_;
  return Status();
}

Status LogRecordCollector::flush(logstore::Producer* producer) {
  while (!in_use_.empty()) {
    SLUICE_RETURN_IF_ERROR(flush(*in_use_.back(), producer));
    in_use_.pop_back();
  }
  return Status();
}

Status LogRecordCollector::flush(Output& out, logstore::Producer* producer) {
  auto view = [&out](Span s) {
    return s.length < 0 ? std::nullopt
                        : std::optional<ByteView>(
                              ByteView(out.arena).substr(s.offset, static_cast<size_t>(s.length)));
  };
  std::vector<logstore::Record> batch;
  std::vector<logstore::RecordHeader> headers;
  while (out.flushed < out.entries.size()) {
    const size_t end = std::min(out.entries.size(), out.flushed + kRecordsPerBatch);
    batch.clear();
    headers.clear();
    for (size_t i = out.flushed; i < end; ++i) {
      for (size_t h = out.entries[i].headers_begin; h < out.entries[i].headers_end; ++h) {
        headers.push_back({*view(out.headers[h].first), view(out.headers[h].second)});
      }
    }
    size_t next_header = 0;
    for (size_t i = out.flushed; i < end; ++i) {
      const Entry& e = out.entries[i];
      const size_t n = e.headers_end - e.headers_begin;
      batch.push_back({.key = view(e.key),
                       .value = view(e.value),
                       .timestamp = e.timestamp,
                       .headers = std::span(headers).subspan(next_header, n)});
      next_header += n;
    }
    auto appended = producer ? producer->append(out.partition, batch)
                             : options_.log->append(out.partition, batch);
    if (!appended.ok()) {
      return appended.status().with_context("writing to " + out.partition.to_string());
    }
    buffered_ -= end - out.flushed;
    out.flushed = end;
  }
  out.entries.clear();
  out.headers.clear();
  out.arena.clear();
  out.flushed = 0;
  return Status();
}

void LogRecordCollector::discard() {
  for (Output* out : in_use_) {
    out->entries.clear();
    out->headers.clear();
    out->arena.clear();
    out->flushed = 0;
  }
  in_use_.clear();
  buffered_ = 0;
}

}  // namespace sluice::operators

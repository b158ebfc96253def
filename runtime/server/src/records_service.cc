#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <thread>
#include <vector>

#include "services.h"
#include "sluice/base/murmur2.h"
#include "sluice/base/mutex.h"
#include "sluice/server/grpc_status.h"

namespace sluice::server {

namespace {

using logstore::IsolationLevel;
using logstore::TopicPartition;

// Fetch responses are cut at about this size so a client sees records while a large backlog
// streams.
constexpr size_t kFetchResponseBytes = 1 << 20;
constexpr int32_t kDefaultMaxWaitMs = 500;

std::atomic<uint32_t> keyless_round_robin{0};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Views of one request's records, grouped by the partition they go to.
class PartitionedRecords {
 public:
  Status add(int32_t partition, const v1::Record& r) {
    if (r.timestamp_ms() < 0) {
      return invalid_argument("record timestamps are milliseconds since the epoch, not " +
                              std::to_string(r.timestamp_ms()));
    }
    auto& group = by_partition_[partition];
    logstore::Record rec;
    if (r.has_key()) rec.key = ByteView(r.key());
    if (r.has_value()) rec.value = ByteView(r.value());
    rec.timestamp = r.timestamp_ms() == 0 ? kNoTimestamp : Timestamp(r.timestamp_ms());
    if (r.headers_size() > 0) {
      auto& headers = header_storage_.emplace_back();
      for (const v1::Header& h : r.headers()) {
        logstore::RecordHeader header{.key = ByteView(h.key())};
        if (h.has_value()) header.value = ByteView(h.value());
        headers.push_back(header);
      }
      rec.headers = headers;
    }
    group.push_back(rec);
    return Status();
  }

  const std::map<int32_t, std::vector<logstore::Record>>& groups() const { return by_partition_; }

 private:
  std::map<int32_t, std::vector<logstore::Record>> by_partition_;
  // Stable addresses: records keep spans into these.
  std::deque<std::vector<logstore::RecordHeader>> header_storage_;
};

// A batch the client encoded: checked by the log (kClient origin) and stored as it is.
// `batch` is the request's record_batch (moved out of it where the request is the caller's to
// change: offsets are assigned in place, so the log needs bytes of its own).
Status produce_batch(logstore::LogStore& log, const v1::ProduceRequest& request, Bytes batch,
                     v1::ProduceResponse* response) {
  if (!request.has_partition() || request.partition() < 0) {
    return invalid_argument("a record_batch goes to one partition: set partition (from 0)");
  }
  if (request.records_size() > 0 || request.idempotent()) {
    return invalid_argument(
        "a request carries records or a record_batch, not both (an "
        "idempotent batch says so in its header)");
  }
  response->set_topic(request.topic());
  TopicPartition tp{request.topic(), PartitionId(request.partition())};
  SLUICE_ASSIGN_OR_RETURN(logstore::AppendResult appended, log.append_batch(tp, batch));
  v1::PartitionAppend* a = response->add_appends();
  a->set_partition(request.partition());
  a->set_base_offset(appended.base_offset.value());
  a->set_last_offset(appended.last_offset.value());
  a->set_duplicate(appended.duplicate);
  return Status();
}

Status produce(logstore::LogStore& log, const v1::ProduceRequest& request,
               v1::ProduceResponse* response) {
  const std::string& topic = request.topic();
  if (topic.empty()) return invalid_argument("the topic name is empty");
  if (!request.record_batch().empty()) {
    return produce_batch(log, request, request.record_batch(), response);
  }
  if (request.records_size() == 0) {
    return invalid_argument("a produce request needs at least one record");
  }
  response->set_topic(topic);
  PartitionedRecords records;
  if (request.has_partition()) {
    if (request.partition() < 0) {
      return invalid_argument("partition " + std::to_string(request.partition()) +
                              " is negative; partitions count from 0");
    }
    for (const v1::Record& r : request.records()) {
      SLUICE_RETURN_IF_ERROR(records.add(request.partition(), r));
    }
  } else {
    if (request.idempotent()) {
      return invalid_argument("idempotent produce requests name their partition");
    }
    SLUICE_ASSIGN_OR_RETURN(auto description, log.describe_topic(topic));
    const int32_t partitions = description.config.partitions;
    const int32_t keyless =
        static_cast<int32_t>(keyless_round_robin.fetch_add(1) % static_cast<uint32_t>(partitions));
    for (const v1::Record& r : request.records()) {
      int32_t p = r.has_key() ? kafka_partition_for_key(r.key(), partitions) : keyless;
      SLUICE_RETURN_IF_ERROR(records.add(p, r));
    }
  }

  for (const auto& [partition, batch] : records.groups()) {
    TopicPartition tp{topic, PartitionId(partition)};
    Result<logstore::AppendResult> appended = [&]() -> Result<logstore::AppendResult> {
      if (!request.idempotent()) return log.append(tp, batch);
      logstore::RecordBatchBuilder builder({
          .producer_id = ProducerId(request.producer_id()),
          .producer_epoch = ProducerEpoch(static_cast<int16_t>(request.producer_epoch())),
          .base_sequence = Sequence(request.base_sequence()),
          .default_timestamp = Timestamp(now_ms()),
      });
      for (const logstore::Record& r : batch) builder.add(r);
      SLUICE_ASSIGN_OR_RETURN(Bytes bytes, builder.build());
      return log.append_batch(tp, bytes);
    }();
    if (!appended.ok()) return appended.status();
    v1::PartitionAppend* a = response->add_appends();
    a->set_partition(partition);
    a->set_base_offset(appended->base_offset.value());
    a->set_last_offset(appended->last_offset.value());
    a->set_duplicate(appended->duplicate);
  }
  return Status();
}

// The appending half of a ProduceStream. The handler's thread reads and parses request N+1
// while this one appends request N, in order; at most kWaiting requests wait between them, so
// memory stays bounded (each is within the server's message size limit). The first failure
// stops the appends: no later request of the stream is appended. (A failure is answered once
// the handler's read returns: when the client sends its next request or closes the stream.)
class StreamAppender {
 public:
  explicit StreamAppender(logstore::LogStore& log) : log_(log), thread_([this] { run(); }) {}
  ~StreamAppender() { (void)finish(); }
  StreamAppender(const StreamAppender&) = delete;
  StreamAppender& operator=(const StreamAppender&) = delete;

  // A request object to read into: a spent one when there is one.
  std::unique_ptr<v1::ProduceRequest> blank() {
    MutexLock lock(mu_);
    if (spare_.empty()) return std::make_unique<v1::ProduceRequest>();
    auto r = std::move(spare_.back());
    spare_.pop_back();
    r->Clear();
    return r;
  }
  // Queues `request` (waiting while kWaiting are queued); false once an append has failed.
  bool push(std::unique_ptr<v1::ProduceRequest> request) {
    MutexLock lock(mu_);
    while (queue_.size() >= kWaiting && failed_.ok()) changed_.wait(mu_);
    if (!failed_.ok()) return false;
    queue_.push_back(std::move(request));
    changed_.notify_all();
    return true;
  }
  // Drops what is queued and appends nothing more (the client cancelled: it will not learn
  // what was stored, and may send it again).
  void cancel() {
    MutexLock lock(mu_);
    if (failed_.ok()) failed_ = Status(StatusCode::kAborted, "the client cancelled the stream");
    queue_.clear();
    changed_.notify_all();
  }
  // Waits until every queued request is appended, or one failed: that failure.
  Status finish() {
    {
      MutexLock lock(mu_);
      closed_ = true;
      changed_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    MutexLock lock(mu_);
    return failed_;
  }
  // After finish(): what the stream stored.
  void respond(v1::ProduceStreamResponse* response) const {
    response->set_requests(requests_);
    response->set_records(records_);
    for (const auto& [key, a] : appends_) {
      v1::ProduceResponse* r = response->add_appends();
      r->set_topic(key.first);
      *r->add_appends() = a;
    }
  }

 private:
  static constexpr size_t kWaiting = 4;

  void run() {
    for (;;) {
      std::unique_ptr<v1::ProduceRequest> request;
      {
        MutexLock lock(mu_);
        while (queue_.empty() && !closed_) changed_.wait(mu_);
        if (queue_.empty()) return;
        request = std::move(queue_.front());
        queue_.pop_front();
        changed_.notify_all();
      }
      Status s;
      try {
        s = append(*request);
      } catch (const std::exception& e) {
        s = internal_error(std::string("appending: ") + e.what());
      }
      MutexLock lock(mu_);
      if (!s.ok()) {
        failed_ = s.with_context("request " + std::to_string(requests_ + 1) +
                                 " of the stream (the ones before it are stored)");
        queue_.clear();
        changed_.notify_all();
        return;
      }
      spare_.push_back(std::move(request));
    }
  }

  Status append(v1::ProduceRequest& request) {
    one_.Clear();
    const bool batch = !request.record_batch().empty();
    Status s;
    try {
      s = batch ? produce_batch(log_, request, std::move(*request.mutable_record_batch()), &one_)
                : produce(log_, request, &one_);
    } catch (const std::exception& e) {
      s = internal_error(std::string("appending: ") + e.what());
    }
    if (!s.ok()) return s;
    ++requests_;
    int64_t records = request.records_size();
    for (const v1::PartitionAppend& a : one_.appends()) {
      if (batch) records = a.last_offset() - a.base_offset() + 1;
    }
    records_ += records;
    for (const v1::PartitionAppend& a : one_.appends()) {
      auto [it, inserted] = appends_.try_emplace({request.topic(), a.partition()}, a);
      if (!inserted) it->second.set_last_offset(a.last_offset());
    }
    return Status();
  }

  logstore::LogStore& log_;
  Mutex mu_;
  CondVar changed_;
  std::deque<std::unique_ptr<v1::ProduceRequest>> queue_ SLUICE_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<v1::ProduceRequest>> spare_ SLUICE_GUARDED_BY(mu_);
  bool closed_ SLUICE_GUARDED_BY(mu_) = false;
  Status failed_ SLUICE_GUARDED_BY(mu_);
  // The appender thread's own; read by respond() after finish() joined it.
  v1::ProduceResponse one_;
  int64_t requests_ = 0;
  int64_t records_ = 0;
  std::map<std::pair<std::string, int32_t>, v1::PartitionAppend> appends_;
  std::thread thread_;  // last: starts once the rest is constructed
};

// One partition being read by a Fetch stream.
struct FetchCursor {
  TopicPartition tp;
  Offset next{0};
  bool at_end = false;
};

Result<Offset> start_offset(logstore::LogStore& log, const v1::FetchRequest& request,
                            const TopicPartition& tp, const logstore::PartitionEnds& ends,
                            IsolationLevel isolation) {
  const Offset end = isolation == IsolationLevel::kReadCommitted ? ends.stable.offset()
                                                                 : ends.high_watermark.offset();
  auto check = [&](int64_t offset) -> Result<Offset> {
    if (offset < ends.log_start.value() || offset > ends.high_watermark.offset().value()) {
      return out_of_range("offset " + std::to_string(offset) + " is outside " + tp.to_string() +
                          ", which holds offsets " + std::to_string(ends.log_start.value()) +
                          " to " + std::to_string(ends.high_watermark.offset().value()) +
                          " (exclusive): use -o beginning, -o end or an offset in that range");
    }
    return Offset(offset);
  };
  if (auto it = request.offsets().find(tp.partition.value()); it != request.offsets().end()) {
    return check(it->second);
  }
  const v1::StartPosition& start = request.start();
  switch (start.position_case()) {
    case v1::StartPosition::kOffset:
      return check(start.offset());
    case v1::StartPosition::kTimestampMs: {
      SLUICE_ASSIGN_OR_RETURN(auto found,
                              log.offset_for_timestamp(tp, Timestamp(start.timestamp_ms())));
      return found ? *found : end;
    }
    case v1::StartPosition::kEnd:
      return end;
    case v1::StartPosition::kLast: {
      if (start.last() < 0) {
        return invalid_argument("'last' counts records from the end and cannot be negative");
      }
      return std::max(ends.log_start, end - start.last());
    }
    case v1::StartPosition::kBeginning:
    case v1::StartPosition::POSITION_NOT_SET:
      break;
  }
  return ends.log_start;
}

void copy_record(const logstore::RecordView& r, int32_t partition, v1::FetchedRecord* out) {
  out->set_partition(partition);
  out->set_offset(r.offset.value());
  out->set_timestamp_ms(r.timestamp.value());
  if (r.key) out->set_key(r.key->data(), r.key->size());
  if (r.value) out->set_value(r.value->data(), r.value->size());
  for (const logstore::RecordHeader& h : r.headers) {
    v1::Header* header = out->add_headers();
    header->set_key(h.key.data(), h.key.size());
    if (h.value) header->set_value(h.value->data(), h.value->size());
  }
}

}  // namespace

grpc::Status RecordsService::Produce(grpc::ServerContext* context,
                                     const v1::ProduceRequest* request,
                                     v1::ProduceResponse* response) {
  return guard_.run(context, "Produce", [&] { return to_grpc(produce(log_, *request, response)); });
}

grpc::Status RecordsService::ProduceStream(grpc::ServerContext* context,
                                           grpc::ServerReader<v1::ProduceRequest>* reader,
                                           v1::ProduceStreamResponse* response) {
  return guard_.run(context, "ProduceStream", [&] {
    StreamAppender appender(log_);
    for (;;) {
      auto request = appender.blank();
      if (!reader->Read(request.get())) {
        if (context->IsCancelled()) appender.cancel();
        break;
      }
      if (!appender.push(std::move(request))) break;  // an append failed: finish() says which
    }
    Status s = appender.finish();
    if (!s.ok()) return to_grpc(s);
    appender.respond(response);
    return grpc::Status::OK;
  });
}

grpc::Status RecordsService::InitProducer(grpc::ServerContext* context,
                                          const v1::InitProducerRequest*,
                                          v1::InitProducerResponse* response) {
  return guard_.run(context, "InitProducer", [&] {
    auto identity = log_.init_producer_id("", 60'000);
    if (!identity.ok()) return to_grpc(identity.status());
    response->set_producer_id(identity->id.value());
    response->set_producer_epoch(identity->epoch.value());
    return grpc::Status::OK;
  });
}

grpc::Status RecordsService::Fetch(grpc::ServerContext* context, const v1::FetchRequest* request,
                                   grpc::ServerWriter<v1::FetchResponse>* writer) {
  return guard_.run(context, "Fetch", [&] {
    if (request->topic().empty()) return to_grpc(invalid_argument("the topic name is empty"));
    if (request->max_records() < 0 || request->max_wait_ms() < 0) {
      return to_grpc(invalid_argument("max_records and max_wait_ms cannot be negative"));
    }
    auto description = log_.describe_topic(request->topic());
    if (!description.ok()) return to_grpc(description.status());
    const int32_t partition_count = description->config.partitions;
    const IsolationLevel isolation = request->isolation() == v1::READ_UNCOMMITTED
                                         ? IsolationLevel::kReadUncommitted
                                         : IsolationLevel::kReadCommitted;

    std::vector<FetchCursor> cursors;
    std::vector<int32_t> partitions(request->partitions().begin(), request->partitions().end());
    if (partitions.empty()) {
      for (int32_t p = 0; p < partition_count; ++p) partitions.push_back(p);
    }
    for (int32_t p : partitions) {
      if (p < 0 || p >= partition_count) {
        return to_grpc(invalid_argument("topic '" + request->topic() + "' has partitions 0 to " +
                                        std::to_string(partition_count - 1) + ", not " +
                                        std::to_string(p)));
      }
      TopicPartition tp{request->topic(), PartitionId(p)};
      auto offset = start_offset(log_, *request, tp, description->partitions[p], isolation);
      if (!offset.ok()) return to_grpc(offset.status());
      cursors.push_back({.tp = tp, .next = *offset});
    }

    const int32_t max_wait_ms =
        request->max_wait_ms() == 0 ? kDefaultMaxWaitMs : request->max_wait_ms();
    int64_t remaining = request->max_records() == 0 ? INT64_MAX : request->max_records();
    size_t poll_turn = 0;
    v1::FetchResponse response;
    size_t response_bytes = 0;
    auto send = [&] {
      if (response.records_size() == 0 && response.positions_size() == 0) return true;
      bool ok = writer->Write(response);
      response.Clear();
      response_bytes = 0;
      return ok;
    };

    auto last_write = std::chrono::steady_clock::now();
    while (!context->IsCancelled()) {
      bool progressed = false;
      bool all_at_end = true;
      for (FetchCursor& c : cursors) {
        if (remaining == 0) break;
        auto result = log_.fetch({.partition = c.tp, .offset = c.next, .isolation = isolation});
        if (!result.ok()) return to_grpc(result.status());
        Offset next = result->next_offset;
        Status decoded =
            logstore::for_each_record(*result, c.next, isolation, [&](const auto& r) -> Status {
              if (remaining == 0) return Status(StatusCode::kAborted, "enough");
              copy_record(r, c.tp.partition.value(), response.add_records());
              response_bytes += (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0) + 32;
              --remaining;
              next = r.offset.next();
              return Status();
            });
        if (!decoded.ok() && decoded.code() != StatusCode::kAborted) return to_grpc(decoded);
        if (remaining > 0 || decoded.ok()) next = std::max(next, result->next_offset);
        const Offset end = isolation == IsolationLevel::kReadCommitted
                               ? result->last_stable.offset()
                               : result->high_watermark.offset();
        if (next != c.next) {
          progressed = true;
          v1::PartitionPosition* pos = response.add_positions();
          pos->set_partition(c.tp.partition.value());
          pos->set_next_offset(next.value());
          pos->set_high_watermark(result->high_watermark.offset().value());
        }
        c.next = next;
        c.at_end = c.next >= end;
        all_at_end &= c.at_end;
        if (response_bytes >= kFetchResponseBytes && !send()) return grpc::Status::CANCELLED;
      }
      if (!send()) return grpc::Status::CANCELLED;
      if (remaining == 0) return grpc::Status::OK;
      if (all_at_end && request->stop_at_end()) return grpc::Status::OK;
      if (progressed) {
        last_write = std::chrono::steady_clock::now();
        continue;
      }
      // Idle for max_wait_ms: an empty response, so the client sees the stream is alive (and
      // a group member gets a moment to commit).
      if (std::chrono::steady_clock::now() - last_write > std::chrono::milliseconds(max_wait_ms)) {
        if (!writer->Write(v1::FetchResponse())) return grpc::Status::CANCELLED;
        last_write = std::chrono::steady_clock::now();
      }
      // Nothing new anywhere: long-poll one partition in turn, briefly, so new data in any
      // partition is noticed within a short wait and a cancelled call ends promptly.
      FetchCursor& c = cursors[poll_turn++ % cursors.size()];
      auto started = std::chrono::steady_clock::now();
      auto polled = log_.fetch({.partition = c.tp,
                                .offset = c.next,
                                .max_bytes = 1,
                                .isolation = isolation,
                                .max_wait_ms = std::min(max_wait_ms, 100)});
      if (!polled.ok()) return to_grpc(polled.status());
      if (polled->batches.empty() &&
          std::chrono::steady_clock::now() - started < std::chrono::milliseconds(5)) {
        // Returned at once without data (an open transaction holds the stable end back).
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    return grpc::Status::CANCELLED;
  });
}

grpc::Status RecordsService::ListOffsets(grpc::ServerContext* context,
                                         const v1::ListOffsetsRequest* request,
                                         v1::ListOffsetsResponse* response) {
  return guard_.run(context, "ListOffsets", [&] {
    if (request->topic().empty()) return to_grpc(invalid_argument("the topic name is empty"));
    if (request->partition() < 0) {
      return to_grpc(
          invalid_argument("partitions count from 0, not " + std::to_string(request->partition())));
    }
    TopicPartition tp{request->topic(), PartitionId(request->partition())};
    auto ends = log_.partition_ends(tp);
    if (!ends.ok()) return to_grpc(ends.status());
    response->set_log_start_offset(ends->log_start.value());
    response->set_high_watermark(ends->high_watermark.offset().value());
    response->set_last_stable_offset(ends->stable.offset().value());
    if (request->has_timestamp_ms()) {
      auto found = log_.offset_for_timestamp(tp, Timestamp(request->timestamp_ms()));
      if (!found.ok()) return to_grpc(found.status());
      if (*found) response->set_offset_for_timestamp((*found)->value());
    }
    return grpc::Status::OK;
  });
}

}  // namespace sluice::server

#include "sluice/kafka/kafka_log_client.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "sluice/base/mutex.h"

namespace sluice::kafka {
namespace {

using logstore::CommittedOffset;
using logstore::FetchRequest;
using logstore::FetchResult;
using logstore::IsolationLevel;
using logstore::OffsetMap;
using logstore::PartitionEnds;
using logstore::TopicPartition;

// librdkafka's errors as Status, the codes the runtime acts on first.
Status status_of(rd_kafka_resp_err_t err, const std::string& what) {
  const std::string message = what + ": " + rd_kafka_err2str(err);
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return Status();
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return not_found(message);
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return Status(StatusCode::kAlreadyExists, message);
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
      return out_of_range(message);
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
      return Status(StatusCode::kProducerFenced, message);
    case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
      return Status(StatusCode::kOutOfOrderSequence, message);
    case RD_KAFKA_RESP_ERR_INVALID_TXN_STATE:
    case RD_KAFKA_RESP_ERR__STATE:
      return Status(StatusCode::kInvalidTxnState, message);
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return Status(StatusCode::kTimeout, message);
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return invalid_argument(message);
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
      return corruption(message);
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
      return io_error(message);
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
      return unimplemented(message);
    default:
      return unavailable(message);
  }
}

Status status_of(RdKafka::ErrorCode err, const std::string& what) {
  return status_of(static_cast<rd_kafka_resp_err_t>(err), what);
}

Status status_of(const RdKafka::Error* error, const std::string& what) {
  if (error == nullptr) return Status();
  if (error->txn_requires_abort()) return Status(StatusCode::kAborted, what + ": " + error->str());
  Status s = status_of(error->code(), what);
  return error->is_fatal() ? s.with_context("fatal") : s;
}

Result<std::unique_ptr<RdKafka::Conf>> make_conf(const KafkaClientOptions& options,
                                                 const std::map<std::string, std::string>& extra) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::map<std::string, std::string> settings = {
      {"bootstrap.servers", options.bootstrap_servers},
      {"client.id", options.client_id},
      // Describing a topic must never create it.
      {"allow.auto.create.topics", "false"},
  };
  for (const auto& [k, v] : options.kafka_settings) settings[k] = v;
  for (const auto& [k, v] : extra) settings[k] = v;
  std::string err;
  for (const auto& [k, v] : settings) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      return invalid_argument("librdkafka setting " + k + "=" + v + ": " + err);
    }
  }
  return conf;
}

// Delivery reports of one producer, collected per append.
class Deliveries : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    MutexLock lock(mu_);
    // A report of an earlier append (one that failed before all its records were acknowledged)
    // is not this append's.
    if (reinterpret_cast<uintptr_t>(m.msg_opaque()) != append_) return;
    if (m.err() != RdKafka::ERR_NO_ERROR) {
      if (first_error_.ok()) first_error_ = status_of(m.err(), "producing to " + m.topic_name());
      return;
    }
    first_ = std::min(first_, m.offset());
    last_ = std::max(last_, m.offset());
  }
  // Starts the next append; its records carry the returned tag as their opaque.
  void* reset() {
    MutexLock lock(mu_);
    first_error_ = Status();
    first_ = INT64_MAX;
    last_ = -1;
    return reinterpret_cast<void*>(++append_);
  }
  Result<logstore::AppendResult> result() {
    MutexLock lock(mu_);
    if (!first_error_.ok()) return first_error_;
    return logstore::AppendResult{Offset(first_), Offset(last_), kNoTimestamp, false};
  }

 private:
  Mutex mu_;
  Status first_error_ SLUICE_GUARDED_BY(mu_);
  int64_t first_ SLUICE_GUARDED_BY(mu_) = INT64_MAX;
  int64_t last_ SLUICE_GUARDED_BY(mu_) = -1;
  uintptr_t append_ SLUICE_GUARDED_BY(mu_) = 0;
};

// Produces `records` to one partition and waits for their acknowledgements.
Result<logstore::AppendResult> produce_and_wait(RdKafka::Producer& p, Deliveries& deliveries,
                                                const TopicPartition& tp,
                                                std::span<const logstore::Record> records,
                                                int64_t timeout_ms) {
  if (records.empty()) return invalid_argument("append of no records to " + tp.to_string());
  void* const tag = deliveries.reset();
  // On failure the records already handed to librdkafka may still be delivered: wait for them
  // (bounded) so that the caller knows nothing of this append is still in flight.
  auto drain = [&] { p.flush(static_cast<int>(timeout_ms)); };
  for (const logstore::Record& r : records) {
    RdKafka::Headers* headers = nullptr;
    if (!r.headers.empty()) {
      headers = RdKafka::Headers::create();
      for (const logstore::RecordHeader& h : r.headers) {
        headers->add(std::string(h.key), h.value ? h.value->data() : nullptr,
                     h.value ? h.value->size() : 0);
      }
    }
    while (true) {
      RdKafka::ErrorCode e = p.produce(
          tp.topic, tp.partition.value(), RdKafka::Producer::RK_MSG_COPY,
          r.value ? const_cast<char*>(r.value->data()) : nullptr, r.value ? r.value->size() : 0,
          r.key ? r.key->data() : nullptr, r.key ? r.key->size() : 0,
          r.timestamp == kNoTimestamp ? 0 : r.timestamp.value(), headers, tag);
      if (e == RdKafka::ERR_NO_ERROR) break;
      if (e != RdKafka::ERR__QUEUE_FULL) {
        delete headers;  // not taken over on failure
        drain();
        return status_of(e, "producing to " + tp.to_string());
      }
      p.poll(10);
    }
  }
  RdKafka::ErrorCode flushed = p.flush(static_cast<int>(timeout_ms));
  if (flushed != RdKafka::ERR_NO_ERROR) {
    // Not acknowledged in time: drop what is still queued so it cannot land after the caller
    // has been told the append failed (what was already sent may still land: at least once).
    p.purge(RdKafka::Producer::PURGE_QUEUE);
    p.flush(0);
    return status_of(flushed, "waiting for " + tp.to_string());
  }
  return deliveries.result();
}

// --- fetch: a simple consumer per isolation level ---

class PartitionReader {
 public:
  Mutex mu;
  bool started SLUICE_GUARDED_BY(mu) = false;
  int64_t next SLUICE_GUARDED_BY(mu) = -1;  // the offset the consumer delivers next
  std::unique_ptr<RdKafka::Message> pending SLUICE_GUARDED_BY(mu);  // read, did not fit
  int64_t end SLUICE_GUARDED_BY(mu) = -1;  // the partition's end when last reached
  int64_t last_fetch_ms SLUICE_GUARDED_BY(mu) = 0;
};

// A partition nobody fetched for this long stops being prefetched (its task moved to another
// group member, or went away): its queue, up to queued.max.messages.kbytes, is freed.
constexpr int64_t kIdleReaderMs = 30'000;

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class Reader {
 public:
  static Result<std::unique_ptr<Reader>> create(const KafkaClientOptions& options,
                                                IsolationLevel isolation) {
    // (isolation is a property of the whole consumer handle, hence one reader per level)
    SLUICE_ASSIGN_OR_RETURN(
        auto conf,
        make_conf(options, {{"isolation.level", isolation == IsolationLevel::kReadCommitted
                                                    ? "read_committed"
                                                    : "read_uncommitted"},
                            {"enable.partition.eof", "true"},
                            // An offset outside the partition is an error, as on the built-in
                            // log, never a silent jump to one of its ends.
                            {"auto.offset.reset", "error"},
                            {"enable.auto.commit", "false"},
                            {"fetch.wait.max.ms", "100"}}));
    std::string err;
    std::unique_ptr<RdKafka::Consumer> c(RdKafka::Consumer::create(conf.get(), err));
    if (!c) return unavailable("creating a Kafka consumer: " + err);
    auto r = std::make_unique<Reader>();
    r->consumer_ = std::move(c);
    r->timeout_ms_ = options.timeout_ms;
    return r;
  }

  ~Reader() {
    MutexLock lock(mu_);
    for (auto& [tp, reader] : readers_) {
      MutexLock plock(reader->mu);
      if (reader->started) consumer_->stop(topic(tp.topic), tp.partition.value());
    }
  }

  RdKafka::Handle& handle() { return *consumer_; }

  Result<FetchResult> fetch(const FetchRequest& request) {
    const int64_t now = steady_ms();
    stop_idle_readers(now);
    PartitionReader& r = reader(request.partition);
    RdKafka::Topic* t = topic(request.partition.topic);
    if (t == nullptr) return invalid_argument("cannot read topic " + request.partition.topic);
    const int32_t partition = request.partition.partition.value();
    MutexLock lock(r.mu);
    r.last_fetch_ms = now;
    if (!r.started || request.offset.value() != r.next) {
      if (r.started) consumer_->stop(t, partition);
      r.pending.reset();
      r.end = -1;
      RdKafka::ErrorCode e = consumer_->start(t, partition, request.offset.value());
      if (e != RdKafka::ERR_NO_ERROR)
        return status_of(e, "reading " + request.partition.to_string());
      r.started = true;
      r.next = request.offset.value();
    }
    logstore::RecordBatchBuilder builder;
    int64_t base = -1;
    size_t bytes = 0;
    // Until the consumer has delivered something or said it is at the end, "nothing yet" only
    // means its first fetch is in flight: wait for that answer, whatever max_wait_ms says, so
    // that an empty result means there is nothing to read.
    int64_t wait = r.end == r.next ? std::max<int64_t>(request.max_wait_ms, 0)
                                   : std::max<int64_t>(request.max_wait_ms, timeout_ms_);
    std::vector<RdKafka::Headers::Header> header_storage;  // what `headers` points into
    std::deque<std::string> header_keys;
    std::vector<logstore::RecordHeader> headers;
    while (true) {
      std::unique_ptr<RdKafka::Message> m =
          r.pending ? std::move(r.pending)
                    : std::unique_ptr<RdKafka::Message>(
                          consumer_->consume(t, partition, static_cast<int>(wait)));
      if (m->err() == RdKafka::ERR__TIMED_OUT) break;
      if (m->err() == RdKafka::ERR__PARTITION_EOF) {
        r.end = m->offset();
        r.next = std::max(r.next, m->offset());
        break;
      }
      if (m->err() != RdKafka::ERR_NO_ERROR) {
        r.started = false;
        consumer_->stop(t, partition);
        return status_of(m->err(), "reading " + request.partition.to_string() + " at offset " +
                                       std::to_string(r.next));
      }
      const size_t size = m->len() + m->key_len() + 24;
      if (base >= 0 && (bytes + size > request.max_bytes || m->offset() - base > INT32_MAX)) {
        r.pending = std::move(m);
        break;
      }
      if (base < 0) base = m->offset();
      headers.clear();
      header_storage.clear();
      if (RdKafka::Headers* h = m->headers()) {
        header_storage = h->get_all();
        for (const RdKafka::Headers::Header& header : header_storage) {
          std::optional<ByteView> value;
          if (header.value() != nullptr) {
            value = ByteView(static_cast<const char*>(header.value()), header.value_size());
          }
          headers.push_back(
              {.key = ByteView(header_keys.emplace_back(header.key())), .value = value});
        }
      }
      logstore::Record rec{.timestamp = Timestamp(m->timestamp().timestamp), .headers = headers};
      if (m->key_pointer() != nullptr) {
        rec.key = ByteView(static_cast<const char*>(m->key_pointer()), m->key_len());
      }
      if (m->payload() != nullptr) {
        rec.value = ByteView(static_cast<const char*>(m->payload()), m->len());
      }
      builder.add(rec, static_cast<int32_t>(m->offset() - base));
      bytes += size;
      r.next = m->offset() + 1;
      wait = 0;  // the rest only from what is prefetched
    }
    FetchResult out;
    int64_t low = 0, high = 0;
    consumer_->get_watermark_offsets(request.partition.topic, partition, &low, &high);
    high = std::max(high, r.next);
    out.log_start = Offset(std::max<int64_t>(low, 0));
    out.high_watermark = logstore::HighWatermark(Offset(high));
    // A read-committed consumer stops at the last stable offset: once it reached the end, that
    // is where the end is.
    out.last_stable =
        logstore::StableEnd(Offset(std::max(r.next, r.end >= 0 ? std::min(r.end, high) : high)));
    out.next_offset = Offset(r.next);
    if (!builder.empty()) {
      SLUICE_ASSIGN_OR_RETURN(out.batches, builder.build(Offset(base)));
    }
    return out;
  }

 private:
  // At most every few seconds: stops the prefetching of partitions idle for kIdleReaderMs (a
  // later fetch starts it again where asked).
  void stop_idle_readers(int64_t now) {
    // Every fetch passes here: most return without touching the lock.
    int64_t last = last_sweep_ms_.load(std::memory_order_relaxed);
    if (now - last < kIdleReaderMs / 4 || !last_sweep_ms_.compare_exchange_strong(last, now)) {
      return;
    }
    MutexLock lock(mu_);
    for (auto& [tp, reader] : readers_) {
      if (!reader->mu.try_lock()) continue;  // being fetched: not idle
      if (reader->started && now - reader->last_fetch_ms >= kIdleReaderMs) {
        if (RdKafka::Topic* t = topic(tp.topic)) consumer_->stop(t, tp.partition.value());
        reader->started = false;
        reader->pending.reset();
        reader->end = -1;
      }
      reader->mu.unlock();
    }
  }

  PartitionReader& reader(const TopicPartition& tp) {
    MutexLock lock(mu_);
    auto& r = readers_[tp];
    if (!r) r = std::make_unique<PartitionReader>();
    return *r;
  }

  RdKafka::Topic* topic(const std::string& name) {
    MutexLock lock(topics_mu_);
    auto& t = topics_[name];
    if (!t) {
      std::string err;
      t.reset(RdKafka::Topic::create(consumer_.get(), name, nullptr, err));
      if (!t) {
        spdlog::warn("kafka: cannot open topic {}: {}", name, err);
        topics_.erase(name);
        return nullptr;
      }
    }
    return t.get();
  }

  std::unique_ptr<RdKafka::Consumer> consumer_;
  int64_t timeout_ms_ = 30'000;
  Mutex topics_mu_;
  std::map<std::string, std::unique_ptr<RdKafka::Topic>> topics_ SLUICE_GUARDED_BY(topics_mu_);
  Mutex mu_;
  std::map<TopicPartition, std::unique_ptr<PartitionReader>> readers_ SLUICE_GUARDED_BY(mu_);
  std::atomic<int64_t> last_sweep_ms_{0};
};

// --- group membership ---

std::vector<TopicPartition> partitions_of(const std::vector<RdKafka::TopicPartition*>& parts) {
  std::vector<TopicPartition> out;
  for (const RdKafka::TopicPartition* p : parts) {
    out.push_back({p->topic(), PartitionId(p->partition())});
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A KafkaConsumer subscribed to the job's input topics that takes part in the group (join,
// sync, heartbeats) and tells the listener what it owns. It never hands out records: its
// partitions are paused as soon as they are assigned, and the tasks read them through the
// client's own readers. Its thread only polls, to serve the group protocol and run the
// rebalance callback.
class KafkaMembership final : public logstore::GroupMembership, public RdKafka::RebalanceCb {
 public:
  // `on_close` runs once the member has left, before its consumer is let go.
  KafkaMembership(std::string group, logstore::RebalanceListener& listener,
                  std::function<void()> on_close)
      : group_(std::move(group)), listener_(listener), on_close_(std::move(on_close)) {}

  ~KafkaMembership() override { stop(); }

  Status start(std::shared_ptr<RdKafka::KafkaConsumer> consumer,
               const std::vector<std::string>& topics) {
    consumer_ = std::move(consumer);
    RdKafka::ErrorCode e = consumer_->subscribe(topics);
    if (e != RdKafka::ERR_NO_ERROR) return status_of(e, "subscribing group " + group_);
    thread_ = std::jthread([this](std::stop_token stop) { poll(stop); });
    return Status();
  }

  // Leaves the group: the last revocation runs here, on the caller's thread.
  void stop() {
    if (!consumer_) return;
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
    consumer_->close();
    if (on_close_) on_close_();
    consumer_.reset();
  }

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& parts) override {
    const std::vector<TopicPartition> partitions = partitions_of(parts);
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      spdlog::info("group {}: assigned {} partitions", group_, partitions.size());
      RdKafka::ErrorCode e = consumer->assign(parts);
      if (e == RdKafka::ERR_NO_ERROR) e = consumer->pause(parts);
      if (e != RdKafka::ERR_NO_ERROR) {
        fail(status_of(e, "taking the assignment of group " + group_));
        return;
      }
      listener_.on_assigned(partitions);
      return;
    }
    // Lost: the member's session ran out (or its generation is gone), so the group may have
    // given the partitions to another member already.
    const bool lost = consumer->assignment_lost();
    spdlog::info("group {}: {} partitions {} ({})", group_, partitions.size(),
                 lost ? "lost" : "revoked", RdKafka::err2str(err));
    listener_.on_revoked(partitions, lost);
    consumer->unassign();
  }

 private:
  void poll(std::stop_token stop) {
    pthread_setname_np(pthread_self(), "sluice-group");
    while (!stop.stop_requested()) {
      std::unique_ptr<RdKafka::Message> m(consumer_->consume(100));
      if (m->err() == RdKafka::ERR_NO_ERROR || m->err() == RdKafka::ERR__TIMED_OUT ||
          m->err() == RdKafka::ERR__PARTITION_EOF) {
        continue;  // records fetched before the pause took hold are the tasks' to read
      }
      Status s = status_of(m->err(), "group " + group_);
      if (m->err() == RdKafka::ERR__FATAL) {
        std::string reason;
        s = status_of(consumer_->fatal_error(reason), "group " + group_ + ": " + reason);
        fail(s.with_context("fatal"));
        return;
      }
      // Transient: librdkafka retries by itself. Said once, then every 10 s while it lasts.
      const auto now = std::chrono::steady_clock::now();
      if (s.to_string() != last_warning_ || now - last_warning_at_ > std::chrono::seconds(10)) {
        spdlog::warn("{}", s.to_string());
        last_warning_ = s.to_string();
        last_warning_at_ = now;
      }
    }
  }

  void fail(const Status& s) {
    spdlog::error("{}", s.to_string());
    listener_.on_failed(s);
  }

  const std::string group_;
  logstore::RebalanceListener& listener_;
  std::function<void()> on_close_;
  std::shared_ptr<RdKafka::KafkaConsumer> consumer_;
  std::string last_warning_;  // poll thread only
  std::chrono::steady_clock::time_point last_warning_at_;
  std::jthread thread_;
};

// --- producers ---

class KafkaProducer final : public logstore::Producer {
 public:
  // `group_metadata` gives the metadata offsets are sent to a transaction under: the group
  // member's (generation included, so a zombie member is fenced) when this client is one.
  using GroupMetadata = std::function<rd_kafka_consumer_group_metadata_t*(const std::string&)>;

  KafkaProducer(std::unique_ptr<RdKafka::Producer> p, std::unique_ptr<Deliveries> d,
                bool transactional, int64_t timeout_ms, GroupMetadata group_metadata)
      : deliveries_(std::move(d)),
        producer_(std::move(p)),
        transactional_(transactional),
        timeout_ms_(timeout_ms),
        group_metadata_(std::move(group_metadata)) {}
  ~KafkaProducer() override { producer_->flush(static_cast<int>(timeout_ms_)); }

  // librdkafka does not expose the producer id it was given.
  logstore::ProducerIdentity identity() const override { return {}; }

  Result<logstore::AppendResult> append(const TopicPartition& partition,
                                        std::span<const logstore::Record> records) override {
    return produce_and_wait(*producer_, *deliveries_, partition, records, timeout_ms_);
  }

  Status begin_transaction() override {
    if (!transactional_) return failed_precondition("not a transactional producer");
    std::unique_ptr<RdKafka::Error> e(producer_->begin_transaction());
    return status_of(e.get(), "beginning a transaction");
  }

  Status send_offsets_to_transaction(std::string_view group, const OffsetMap& offsets) override {
    if (!transactional_) return failed_precondition("not a transactional producer");
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
    for (const auto& [tp, committed] : offsets) {
      rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition.value())->offset =
          committed.offset.value();
    }
    rd_kafka_consumer_group_metadata_t* group_metadata = group_metadata_(std::string(group));
    rd_kafka_error_t* error = rd_kafka_send_offsets_to_transaction(
        producer_->c_ptr(), list, group_metadata, static_cast<int>(timeout_ms_));
    rd_kafka_consumer_group_metadata_destroy(group_metadata);
    rd_kafka_topic_partition_list_destroy(list);
    return c_error_status(error, "sending offsets to the transaction");
  }

  Status commit_transaction() override {
    if (!transactional_) return failed_precondition("not a transactional producer");
    std::unique_ptr<RdKafka::Error> e(producer_->commit_transaction(static_cast<int>(timeout_ms_)));
    return status_of(e.get(), "committing the transaction");
  }

  Status abort_transaction() override {
    if (!transactional_) return failed_precondition("not a transactional producer");
    std::unique_ptr<RdKafka::Error> e(producer_->abort_transaction(static_cast<int>(timeout_ms_)));
    return status_of(e.get(), "aborting the transaction");
  }

 private:
  static Status c_error_status(rd_kafka_error_t* error, const std::string& what) {
    if (error == nullptr) return Status();
    Status s = rd_kafka_error_txn_requires_abort(error)
                   ? Status(StatusCode::kAborted, what + ": " + rd_kafka_error_string(error))
                   : status_of(rd_kafka_error_code(error), what);
    rd_kafka_error_destroy(error);
    return s;
  }

  std::unique_ptr<Deliveries> deliveries_;  // outlives the producer that calls it
  std::unique_ptr<RdKafka::Producer> producer_;
  const bool transactional_;
  const int64_t timeout_ms_;
  const GroupMetadata group_metadata_;
};

// --- the client ---

class KafkaLogClient final : public logstore::LogClient {
 public:
  explicit KafkaLogClient(KafkaClientOptions options) : options_(std::move(options)) {}

  Status connect() {
    SLUICE_ASSIGN_OR_RETURN(committed_, Reader::create(options_, IsolationLevel::kReadCommitted));
    SLUICE_ASSIGN_OR_RETURN(uncommitted_,
                            Reader::create(options_, IsolationLevel::kReadUncommitted));
    SLUICE_ASSIGN_OR_RETURN(auto p, make_producer({{"enable.idempotence", "true"}}));
    plain_ = std::move(p);
    RdKafka::Metadata* md = nullptr;
    RdKafka::ErrorCode e =
        plain_->producer->metadata(true, nullptr, &md, static_cast<int>(options_.timeout_ms));
    delete md;
    if (e != RdKafka::ERR_NO_ERROR) {
      return unavailable("cannot reach the Kafka cluster at " + options_.bootstrap_servers + ": " +
                         RdKafka::err2str(e));
    }
    return Status();
  }

  // --- admin ---

  Status create_topic(std::string_view name, const logstore::TopicConfig& config) override {
    // A topic an administrator created beforehand (on clusters where clients may not create
    // topics, or brokers without CreateTopics) is there already: no request needed. (Looked
    // up among all topics: asking for the one topic would leave this handle believing it does
    // not exist once it is created, and its admin requests on it would fail.)
    const std::vector<std::string> topics = list_topics();
    if (std::ranges::find(topics, name) != topics.end()) {
      return Status(StatusCode::kAlreadyExists, "topic " + std::string(name) + " exists");
    }
    char errstr[512];
    rd_kafka_NewTopic_t* topic =
        rd_kafka_NewTopic_new(std::string(name).c_str(), config.partitions,
                              options_.replication_factor, errstr, sizeof(errstr));
    if (topic == nullptr) return invalid_argument(errstr);
    // The settings Kafka shares with Sluice, by Kafka's names.
    const std::string policy = config.cleanup_policy == logstore::CleanupPolicy::kCompact
                                   ? "compact"
                               : config.compacted() ? "compact,delete"
                                                    : "delete";
    rd_kafka_NewTopic_set_config(topic, "cleanup.policy", policy.c_str());
    rd_kafka_NewTopic_set_config(topic, "retention.ms",
                                 std::to_string(config.retention_ms).c_str());
    if (config.timestamp_type == logstore::TimestampType::kLogAppendTime) {
      rd_kafka_NewTopic_set_config(topic, "message.timestamp.type", "LogAppendTime");
    }
    auto [err, message] =
        admin_call([&](rd_kafka_t* rk,
                       rd_kafka_queue_t* q) { rd_kafka_CreateTopics(rk, &topic, 1, nullptr, q); },
                   [](rd_kafka_event_t* ev, std::string& message) {
                     size_t n = 0;
                     const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(
                         rd_kafka_event_CreateTopics_result(ev), &n);
                     if (n != 1) return RD_KAFKA_RESP_ERR__BAD_MSG;
                     if (const char* m = rd_kafka_topic_result_error_string(results[0]))
                       message = m;
                     return rd_kafka_topic_result_error(results[0]);
                   });
    rd_kafka_NewTopic_destroy(topic);
    return status_of(
        err, "creating topic " + std::string(name) + (message.empty() ? "" : " (" + message + ")"));
  }

  Result<logstore::TopicDescription> describe_topic(std::string_view name) override {
    SLUICE_ASSIGN_OR_RETURN(int32_t partitions, partition_count(std::string(name)));
    logstore::TopicDescription d;
    d.name = std::string(name);
    d.config.partitions = partitions;
    for (int32_t p = 0; p < partitions; ++p) {
      SLUICE_ASSIGN_OR_RETURN(PartitionEnds ends, partition_ends({d.name, PartitionId(p)}));
      d.partitions.push_back(ends);
      d.partition_bytes.push_back(0);  // not known through the Kafka API
    }
    return d;
  }

  std::vector<std::string> list_topics() override {
    std::vector<std::string> out;
    RdKafka::Metadata* md = nullptr;
    if (plain_->producer->metadata(true, nullptr, &md, static_cast<int>(options_.timeout_ms)) ==
        RdKafka::ERR_NO_ERROR) {
      for (const RdKafka::TopicMetadata* t : *md->topics()) out.push_back(t->topic());
    }
    delete md;
    std::sort(out.begin(), out.end());
    return out;
  }

  Result<PartitionEnds> partition_ends(const TopicPartition& tp) override {
    int64_t low = 0, high = 0, stable_low = 0, stable = 0;
    const int timeout = static_cast<int>(options_.timeout_ms);
    RdKafka::ErrorCode e = uncommitted_->handle().query_watermark_offsets(
        tp.topic, tp.partition.value(), &low, &high, timeout);
    if (e != RdKafka::ERR_NO_ERROR) return status_of(e, "ends of " + tp.to_string());
    // A read-committed handle's ListOffsets answers the last stable offset.
    e = committed_->handle().query_watermark_offsets(tp.topic, tp.partition.value(), &stable_low,
                                                     &stable, timeout);
    if (e != RdKafka::ERR_NO_ERROR) return status_of(e, "stable end of " + tp.to_string());
    PartitionEnds ends;
    ends.log_start = Offset(low);
    ends.written = logstore::WrittenEnd(Offset(high));
    ends.durable = logstore::DurableEnd(Offset(high));
    ends.high_watermark = logstore::HighWatermark(Offset(high));
    ends.stable = logstore::StableEnd(Offset(std::min(stable, high)));
    return ends;
  }

  Result<std::optional<Offset>> offset_for_timestamp(const TopicPartition& tp,
                                                     Timestamp ts) override {
    std::vector<RdKafka::TopicPartition*> tps{
        RdKafka::TopicPartition::create(tp.topic, tp.partition.value(), ts.value())};
    RdKafka::ErrorCode e =
        uncommitted_->handle().offsetsForTimes(tps, static_cast<int>(options_.timeout_ms));
    const int64_t offset = tps[0]->offset();
    const RdKafka::ErrorCode pe = tps[0]->err();
    RdKafka::TopicPartition::destroy(tps);
    if (e != RdKafka::ERR_NO_ERROR) return status_of(e, "offset for time in " + tp.to_string());
    if (pe != RdKafka::ERR_NO_ERROR) return status_of(pe, "offset for time in " + tp.to_string());
    if (offset < 0) return std::optional<Offset>();
    return std::optional<Offset>(Offset(offset));
  }

  Status delete_records(const TopicPartition& tp, Offset before) override {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition.value())->offset =
        before.value();
    rd_kafka_DeleteRecords_t* del = rd_kafka_DeleteRecords_new(list);
    rd_kafka_topic_partition_list_destroy(list);
    auto [err, message] = admin_call(
        [&](rd_kafka_t* rk, rd_kafka_queue_t* q) {
          rd_kafka_DeleteRecords(rk, &del, 1, nullptr, q);
        },
        [](rd_kafka_event_t* ev, std::string&) {
          const rd_kafka_topic_partition_list_t* offsets =
              rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
          if (offsets == nullptr || offsets->cnt != 1) return RD_KAFKA_RESP_ERR__BAD_MSG;
          return offsets->elems[0].err;
        });
    rd_kafka_DeleteRecords_destroy(del);
    return status_of(err, "deleting records of " + tp.to_string() +
                              (message.empty() ? "" : " (" + message + ")"));
  }

  // --- consumer ---

  Result<FetchResult> fetch(const FetchRequest& request) override {
    return request.isolation == IsolationLevel::kReadCommitted ? committed_->fetch(request)
                                                               : uncommitted_->fetch(request);
  }

  Status commit_offsets(std::string_view group, const OffsetMap& offsets) override {
    SLUICE_ASSIGN_OR_RETURN(auto c, group_consumer(std::string(group)));
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
    for (const auto& [tp, committed] : offsets) {
      rd_kafka_topic_partition_t* e =
          rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition.value());
      e->offset = committed.offset.value();
      if (!committed.metadata.empty()) {
        e->metadata = rd_kafka_mem_malloc(nullptr, committed.metadata.size());
        std::memcpy(e->metadata, committed.metadata.data(), committed.metadata.size());
        e->metadata_size = committed.metadata.size();
      }
    }
    rd_kafka_resp_err_t err = rd_kafka_commit(c->c_ptr(), list, 0);
    for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < list->cnt; ++i) {
      err = list->elems[i].err;
    }
    rd_kafka_topic_partition_list_destroy(list);
    return status_of(err, "committing offsets of group " + std::string(group));
  }

  Result<std::optional<CommittedOffset>> committed_offset(std::string_view group,
                                                          const TopicPartition& tp) override {
    SLUICE_ASSIGN_OR_RETURN(auto c, group_consumer(std::string(group)));
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition.value());
    rd_kafka_resp_err_t err =
        rd_kafka_committed(c->c_ptr(), list, static_cast<int>(options_.timeout_ms));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = list->elems[0].err;
    std::optional<CommittedOffset> out;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[0].offset >= 0) {
      CommittedOffset committed;
      committed.offset = Offset(list->elems[0].offset);
      if (list->elems[0].metadata != nullptr) {
        committed.metadata.assign(static_cast<const char*>(list->elems[0].metadata),
                                  list->elems[0].metadata_size);
      }
      out = committed;
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return status_of(err, "committed offset of group " + std::string(group));
    }
    return out;
  }

  Result<std::unique_ptr<logstore::GroupMembership>> join_group(
      std::string_view group, std::vector<std::string> topics,
      logstore::RebalanceListener& listener) override {
    const std::string name(group);
    {
      std::lock_guard lock(groups_mu_);
      if (members_.contains(name)) {
        return failed_precondition("this client is already a member of group " + name);
      }
    }
    // The range assignor gives each member the same partition numbers of every topic with the
    // same partition count: a task's co-partitioned inputs land together. Offsets are committed
    // by the runtime, never automatically, and a paused partition is never read by this
    // consumer, so the fetch settings only bound what it prefetches before the pause.
    SLUICE_ASSIGN_OR_RETURN(auto conf, make_conf(options_, {{"group.id", name},
                                                            {"enable.auto.commit", "false"},
                                                            {"enable.auto.offset.store", "false"},
                                                            {"auto.offset.reset", "earliest"}}));
    std::string err;
    if (auto it = options_.kafka_settings.find("partition.assignment.strategy");
        it != options_.kafka_settings.end() && it->second != "range") {
      return invalid_argument(
          "partition.assignment.strategy=" + it->second +
          ": a job's group needs the range assignor, which keeps the same partitions of "
          "co-partitioned topics on one member (leave the setting out)");
    }
    if (conf->set("partition.assignment.strategy", "range", err) != RdKafka::Conf::CONF_OK) {
      return internal_error(err);
    }
    auto membership = std::make_unique<KafkaMembership>(name, listener, [this, name] {
      std::lock_guard lock(groups_mu_);
      members_.erase(name);
    });
    if (conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(membership.get()), err) !=
        RdKafka::Conf::CONF_OK) {
      return internal_error(err);
    }
    std::shared_ptr<RdKafka::KafkaConsumer> consumer(
        RdKafka::KafkaConsumer::create(conf.get(), err));
    if (!consumer) return unavailable("creating a Kafka consumer for group " + name + ": " + err);
    {
      std::lock_guard lock(groups_mu_);
      members_[name] = consumer;
    }
    Status started = membership->start(std::move(consumer), topics);
    if (!started.ok()) {
      std::lock_guard lock(groups_mu_);
      members_.erase(name);
      // kUnimplemented would read as "this log shares no partitions": it does.
      return started.code() == StatusCode::kUnimplemented ? unavailable(started.message())
                                                          : started;
    }
    return std::unique_ptr<logstore::GroupMembership>(std::move(membership));
  }

  // --- producer ---

  Result<logstore::AppendResult> append(const TopicPartition& partition,
                                        std::span<const logstore::Record> records) override {
    std::lock_guard lock(plain_mu_);
    return produce_and_wait(*plain_->producer, *plain_->deliveries, partition, records,
                            options_.timeout_ms);
  }

  Result<std::unique_ptr<logstore::Producer>> create_producer(
      const logstore::ProducerConfig& config) override {
    std::map<std::string, std::string> settings = {{"enable.idempotence", "true"},
                                                   {"linger.ms", "0"}};
    if (!config.transactional_id.empty()) {
      settings["transactional.id"] = config.transactional_id;
      settings["transaction.timeout.ms"] = std::to_string(config.transaction_timeout_ms);
    }
    if (config.compression != logstore::Compression::kNone) {
      settings["compression.codec"] = std::string(logstore::compression_name(config.compression));
    }
    SLUICE_ASSIGN_OR_RETURN(auto made, make_producer(settings));
    if (!config.transactional_id.empty()) {
      std::unique_ptr<RdKafka::Error> e(
          made->producer->init_transactions(static_cast<int>(options_.timeout_ms)));
      SLUICE_RETURN_IF_ERROR(
          status_of(e.get(), "initializing transactional producer " + config.transactional_id));
    }
    return std::unique_ptr<logstore::Producer>(std::make_unique<KafkaProducer>(
        std::move(made->producer), std::move(made->deliveries), !config.transactional_id.empty(),
        options_.timeout_ms, [this](const std::string& group) {
          // (none from a member that is closing: then the group's id alone)
          if (auto member = find_member(group)) {
            if (auto* md = rd_kafka_consumer_group_metadata(member->c_ptr())) return md;
          }
          return rd_kafka_consumer_group_metadata_new(group.c_str());
        }));
  }

 private:
  struct MadeProducer {
    std::unique_ptr<Deliveries> deliveries;
    std::unique_ptr<RdKafka::Producer> producer;
  };

  Result<std::unique_ptr<MadeProducer>> make_producer(
      const std::map<std::string, std::string>& settings) {
    SLUICE_ASSIGN_OR_RETURN(auto conf, make_conf(options_, settings));
    auto made = std::make_unique<MadeProducer>();
    made->deliveries = std::make_unique<Deliveries>();
    std::string err;
    if (conf->set("dr_cb", made->deliveries.get(), err) != RdKafka::Conf::CONF_OK) {
      return internal_error(err);
    }
    made->producer.reset(RdKafka::Producer::create(conf.get(), err));
    if (!made->producer) return unavailable("creating a Kafka producer: " + err);
    return made;
  }

  Result<int32_t> partition_count(const std::string& topic) {
    std::string err;
    std::unique_ptr<RdKafka::Topic> t(
        RdKafka::Topic::create(plain_->producer.get(), topic, nullptr, err));
    if (!t) return invalid_argument("topic " + topic + ": " + err);
    RdKafka::Metadata* md = nullptr;
    RdKafka::ErrorCode e =
        plain_->producer->metadata(false, t.get(), &md, static_cast<int>(options_.timeout_ms));
    std::unique_ptr<RdKafka::Metadata> owned(md);
    if (e != RdKafka::ERR_NO_ERROR) return status_of(e, "describing topic " + topic);
    for (const RdKafka::TopicMetadata* tm : *md->topics()) {
      if (tm->topic() != topic) continue;
      if (tm->err() != RdKafka::ERR_NO_ERROR) return status_of(tm->err(), "topic " + topic);
      return static_cast<int32_t>(tm->partitions()->size());
    }
    return not_found("topic " + topic + " does not exist");
  }

  // The consumer of this client that is a member of `group`, if one is.
  std::shared_ptr<RdKafka::KafkaConsumer> find_member(const std::string& group) {
    std::lock_guard lock(groups_mu_);
    auto it = members_.find(group);
    return it == members_.end() ? nullptr : it->second;
  }

  // The consumer commits of `group` go through: the group's member when this client is one
  // (a broker refuses commits of a group with members from anyone else), otherwise a consumer
  // that commits without joining.
  Result<std::shared_ptr<RdKafka::KafkaConsumer>> group_consumer(const std::string& group) {
    std::lock_guard lock(groups_mu_);
    if (auto it = members_.find(group); it != members_.end()) return it->second;
    auto& c = groups_[group];
    if (!c) {
      SLUICE_ASSIGN_OR_RETURN(
          auto conf, make_conf(options_, {{"group.id", group}, {"enable.auto.commit", "false"}}));
      std::string err;
      c.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
      if (!c) return unavailable("creating a Kafka consumer for group " + group + ": " + err);
    }
    return c;
  }

  // Runs one admin request on the plain producer's handle and waits for its event; `check`
  // reads the event's per-item error and message.
  template <typename Start, typename Check>
  std::pair<rd_kafka_resp_err_t, std::string> admin_call(Start&& start, Check&& check) {
    std::string message;
    rd_kafka_t* rk = plain_->producer->c_ptr();
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
    start(rk, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, static_cast<int>(options_.timeout_ms));
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (ev != nullptr) {
      err = rd_kafka_event_error(ev);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = check(ev, message);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR && message.empty() && rd_kafka_event_error_string(ev)) {
        message = rd_kafka_event_error_string(ev);
      }
      rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    return {err, message};
  }

  const KafkaClientOptions options_;
  std::unique_ptr<Reader> committed_;
  std::unique_ptr<Reader> uncommitted_;
  std::mutex plain_mu_;
  std::unique_ptr<MadeProducer> plain_;
  std::mutex groups_mu_;
  std::map<std::string, std::shared_ptr<RdKafka::KafkaConsumer>> groups_;
  std::map<std::string, std::shared_ptr<RdKafka::KafkaConsumer>> members_;
};

}  // namespace

Result<std::unique_ptr<logstore::LogClient>> connect_kafka(const KafkaClientOptions& options) {
  if (options.bootstrap_servers.empty()) {
    return invalid_argument("no Kafka bootstrap servers: set kafka.bootstrap.servers");
  }
  auto client = std::make_unique<KafkaLogClient>(options);
  SLUICE_RETURN_IF_ERROR(client->connect());
  return std::unique_ptr<logstore::LogClient>(std::move(client));
}

}  // namespace sluice::kafka

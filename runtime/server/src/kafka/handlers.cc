#include "kafka/handlers.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <deque>
#include <map>

#include "sluice/base/clock.h"

namespace sluice::server::kafka {
namespace {

using logstore::TopicPartition;

TopicPartition tp(const std::string& topic, int32_t partition) {
  return TopicPartition{topic, PartitionId(partition)};
}

logstore::ProducerIdentity identity(int64_t id, int16_t epoch) {
  return logstore::ProducerIdentity{ProducerId(id), ProducerEpoch(epoch)};
}

template <typename Message>
Bytes encoded(int16_t version, Message& m) {
  Bytes out;
  encode(out, version, m);
  return out;
}

constexpr int64_t kMaxFetchWaitMs = 30'000;

asio::awaitable<void> sleep_ms(int64_t ms) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(std::chrono::milliseconds(ms));
  co_await timer.async_wait(asio::use_awaitable);
}

// What a producer should see for a refused append: a batch that does not parse or validate
// (out of range, invalid) is CORRUPT_MESSAGE, a permanent error for that batch; a partition
// closing (topic deleted, server stopping) is NOT_LEADER_OR_FOLLOWER, which clients retry
// after refreshing metadata.
ErrorCode produce_error_for(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOutOfRange:
    case StatusCode::kInvalidArgument:
      return ErrorCode::kCorruptMessage;
    case StatusCode::kFailedPrecondition:
      return ErrorCode::kNotLeaderOrFollower;
    default:
      return error_for(s);
  }
}

// A Fetch or JoinGroup waits in steps that start short (a reply soon after data arrives) and
// grow to `max_step` (idle consumers cost little).
class Backoff {
 public:
  explicit Backoff(int64_t max_step) : max_(max_step) {}
  int64_t next() {
    step_ = std::min(step_ * 2, max_);
    return step_;
  }

 private:
  int64_t max_;
  int64_t step_ = 1;
};

}  // namespace

asio::awaitable<Reply> RequestHandler::handle(const RequestHeader& header, ByteView body,
                                              const std::string& client_host) {
  const int16_t v = header.api_version;
  std::string error;
  // Decodes the body into a fresh T, or ends the call with a close.
#define SLUICE_KAFKA_DECODE(T, var)                                                          \
  T var;                                                                                     \
  if (!decode(body, v, var, error)) {                                                        \
    co_return Reply{Reply::Kind::kClose,                                                     \
                    {},                                                                      \
                    std::string(#T " v") + std::to_string(v) + " does not parse: " + error}; \
  }
  switch (static_cast<ApiKey>(header.api_key)) {
    case ApiKey::kApiVersions:
      co_return Reply{Reply::Kind::kRespond, api_versions(v), {}};
    case ApiKey::kMetadata: {
      SLUICE_KAFKA_DECODE(MetadataRequest, r);
      co_return Reply{Reply::Kind::kRespond, metadata(v, r), {}};
    }
    case ApiKey::kProduce: {
      SLUICE_KAFKA_DECODE(ProduceRequest, r);
      co_return produce(v, r);
    }
    case ApiKey::kFetch: {
      SLUICE_KAFKA_DECODE(FetchRequest, r);
      Bytes response = co_await fetch(v, r);
      co_return Reply{Reply::Kind::kRespond, std::move(response), {}};
    }
    case ApiKey::kListOffsets: {
      SLUICE_KAFKA_DECODE(ListOffsetsRequest, r);
      co_return Reply{Reply::Kind::kRespond, list_offsets(v, r), {}};
    }
    case ApiKey::kFindCoordinator: {
      SLUICE_KAFKA_DECODE(FindCoordinatorRequest, r);
      co_return Reply{Reply::Kind::kRespond, find_coordinator(v, r), {}};
    }
    case ApiKey::kJoinGroup: {
      SLUICE_KAFKA_DECODE(JoinGroupRequest, r);
      Bytes response = co_await join_group(v, r, header, client_host);
      co_return Reply{Reply::Kind::kRespond, std::move(response), {}};
    }
    case ApiKey::kSyncGroup: {
      SLUICE_KAFKA_DECODE(SyncGroupRequest, r);
      Bytes response = co_await sync_group(v, r);
      co_return Reply{Reply::Kind::kRespond, std::move(response), {}};
    }
    case ApiKey::kHeartbeat: {
      SLUICE_KAFKA_DECODE(HeartbeatRequest, r);
      co_return Reply{Reply::Kind::kRespond, heartbeat(v, r), {}};
    }
    case ApiKey::kLeaveGroup: {
      SLUICE_KAFKA_DECODE(LeaveGroupRequest, r);
      co_return Reply{Reply::Kind::kRespond, leave_group(v, r), {}};
    }
    case ApiKey::kOffsetCommit: {
      SLUICE_KAFKA_DECODE(OffsetCommitRequest, r);
      co_return Reply{Reply::Kind::kRespond, offset_commit(v, r), {}};
    }
    case ApiKey::kOffsetFetch: {
      SLUICE_KAFKA_DECODE(OffsetFetchRequest, r);
      co_return Reply{Reply::Kind::kRespond, offset_fetch(v, r), {}};
    }
    case ApiKey::kCreateTopics: {
      SLUICE_KAFKA_DECODE(CreateTopicsRequest, r);
      co_return Reply{Reply::Kind::kRespond, create_topics(v, r), {}};
    }
    case ApiKey::kDeleteTopics: {
      SLUICE_KAFKA_DECODE(DeleteTopicsRequest, r);
      co_return Reply{Reply::Kind::kRespond, delete_topics(v, r), {}};
    }
    case ApiKey::kDeleteRecords: {
      SLUICE_KAFKA_DECODE(DeleteRecordsRequest, r);
      co_return Reply{Reply::Kind::kRespond, delete_records(v, r), {}};
    }
    case ApiKey::kListGroups: {
      SLUICE_KAFKA_DECODE(ListGroupsRequest, r);
      co_return Reply{Reply::Kind::kRespond, list_groups(v), {}};
    }
    case ApiKey::kDescribeGroups: {
      SLUICE_KAFKA_DECODE(DescribeGroupsRequest, r);
      co_return Reply{Reply::Kind::kRespond, describe_groups(v, r), {}};
    }
    case ApiKey::kInitProducerId: {
      SLUICE_KAFKA_DECODE(InitProducerIdRequest, r);
      co_return Reply{Reply::Kind::kRespond, init_producer_id(v, r), {}};
    }
    case ApiKey::kAddPartitionsToTxn: {
      SLUICE_KAFKA_DECODE(AddPartitionsToTxnRequest, r);
      co_return Reply{Reply::Kind::kRespond, add_partitions_to_txn(v, r), {}};
    }
    case ApiKey::kAddOffsetsToTxn: {
      SLUICE_KAFKA_DECODE(AddOffsetsToTxnRequest, r);
      co_return Reply{Reply::Kind::kRespond, add_offsets_to_txn(v, r), {}};
    }
    case ApiKey::kEndTxn: {
      SLUICE_KAFKA_DECODE(EndTxnRequest, r);
      co_return Reply{Reply::Kind::kRespond, end_txn(v, r), {}};
    }
    case ApiKey::kTxnOffsetCommit: {
      SLUICE_KAFKA_DECODE(TxnOffsetCommitRequest, r);
      co_return Reply{Reply::Kind::kRespond, txn_offset_commit(v, r), {}};
    }
  }
#undef SLUICE_KAFKA_DECODE
  co_return Reply{Reply::Kind::kClose, {}, "API key " + std::to_string(header.api_key)};
}

// --- ApiVersions, Metadata, FindCoordinator ---

Bytes RequestHandler::api_versions(int16_t version) {
  ApiVersionsResponse r;
  for (const ApiSupport& api : supported_apis()) {
    r.api_keys.push_back({static_cast<int16_t>(api.key), api.min_advertised, api.max_advertised});
  }
  // A version above ours (librdkafka first probes with v3) gets UNSUPPORTED_VERSION in a v0
  // body listing what we serve; the client retries with a version from that list.
  if (version > find_api(static_cast<int16_t>(ApiKey::kApiVersions))->max_advertised) {
    r.error_code = code(ErrorCode::kUnsupportedVersion);
    return encoded(0, r);
  }
  return encoded(version, r);
}

Bytes RequestHandler::metadata(int16_t version, MetadataRequest& request) {
  MetadataResponse r;
  r.brokers.push_back({options_.node_id, options_.advertised_host, options_.advertised_port, {}});
  r.cluster_id = options_.cluster_id;
  r.controller_id = options_.node_id;
  std::vector<std::string> names;
  const bool all = !request.topics || (version == 0 && request.topics->empty());
  if (all) {
    for (std::string& name : log_.list_topics()) {
      if (!logstore::is_internal_topic(name)) names.push_back(std::move(name));
    }
  } else {
    names = *request.topics;
  }
  const bool may_create =
      options_.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
  for (const std::string& name : names) {
    MetadataResponse::Topic& t = r.topics.emplace_back();
    t.name = name;
    if (logstore::is_internal_topic(name)) {
      t.error_code = code(ErrorCode::kUnknownTopicOrPartition);
      continue;
    }
    auto d = log_.describe_topic(name);
    if (!d.ok() && d.status().code() == StatusCode::kNotFound && may_create) {
      logstore::TopicConfig config;
      config.partitions = options_.default_partitions;
      Status created = log_.create_topic(name, config);
      if (!created.ok() && created.code() != StatusCode::kAlreadyExists) {
        t.error_code =
            code(created.code() == StatusCode::kInvalidArgument ? ErrorCode::kInvalidTopicException
                                                                : error_for(created));
        continue;
      }
      spdlog::info("kafka: created topic '{}' ({} partitions) for a Metadata request", name,
                   config.partitions);
      d = log_.describe_topic(name);
    }
    if (!d.ok()) {
      t.error_code = code(error_for(d.status()));
      continue;
    }
    for (int32_t p = 0; p < static_cast<int32_t>(d->partitions.size()); ++p) {
      t.partitions.push_back({0, p, options_.node_id, {options_.node_id}, {options_.node_id}});
    }
  }
  return encoded(version, r);
}

Bytes RequestHandler::find_coordinator(int16_t version, FindCoordinatorRequest& request) {
  FindCoordinatorResponse r;
  if (request.key_type != 0 && request.key_type != 1) {
    r.error_code = code(ErrorCode::kInvalidRequest);
    r.error_message = "key_type must be 0 (group) or 1 (transaction)";
    r.node_id = -1;
    return encoded(version, r);
  }
  // One node coordinates every group and every transaction.
  r.node_id = options_.node_id;
  r.host = options_.advertised_host;
  r.port = options_.advertised_port;
  return encoded(version, r);
}

// --- Produce ---

Reply RequestHandler::produce(int16_t version, ProduceRequest& request) {
  ProduceResponse r;
  const bool acks_valid = request.acks == -1 || request.acks == 0 || request.acks == 1;
  for (ProduceRequest::Topic& topic : request.topics) {
    ProduceResponse::Topic& out_topic = r.responses.emplace_back();
    out_topic.name = topic.name;
    for (ProduceRequest::Partition& p : topic.partitions) {
      ProduceResponse::Partition& out = out_topic.partitions.emplace_back();
      out.index = p.index;
      if (version < find_api(0)->min_served) {
        out.error_code = code(ErrorCode::kUnsupportedVersion);  // message formats 0 and 1
        continue;
      }
      if (!acks_valid) {
        out.error_code = 21;  // INVALID_REQUIRED_ACKS
        continue;
      }
      if (logstore::is_internal_topic(topic.name)) {
        out.error_code = code(ErrorCode::kUnknownTopicOrPartition);
        continue;
      }
      if (!p.records || p.records->empty()) {
        out.error_code = code(ErrorCode::kCorruptMessage);
        continue;
      }
      // The log stamps offsets (and log-append time) into the batch; the request's buffer
      // stays untouched.
      Bytes batch(*p.records);
      auto appended = log_.append_batch(tp(topic.name, p.index), batch);
      if (!appended.ok()) {
        out.error_code = code(produce_error_for(appended.status()));
        spdlog::debug("kafka: produce to {}/{} refused: {}", topic.name, p.index,
                      appended.status().to_string());
        continue;
      }
      out.base_offset = appended->base_offset.value();
      if (appended->log_append_time != kNoTimestamp) {
        out.log_append_time_ms = appended->log_append_time.value();
      }
    }
  }
  if (request.acks == 0) return Reply{Reply::Kind::kNoResponse, {}, {}};
  return Reply{Reply::Kind::kRespond, encoded(version, r), {}};
}

// --- Fetch ---

void RequestHandler::fetch_partition(const std::string& topic, const FetchRequest::Partition& p,
                                     bool read_committed, size_t budget, bool first,
                                     FetchResponse::Partition& out,
                                     std::deque<logstore::FetchResult>& keep) {
  out.partition_index = p.partition;
  out.records = ByteView();
  if (read_committed) out.aborted_transactions.emplace();
  const TopicPartition id = tp(topic, p.partition);
  if (logstore::is_internal_topic(topic)) {
    out.error_code = code(ErrorCode::kUnknownTopicOrPartition);
    return;
  }
  auto fill_ends = [&] {
    if (auto ends = log_.partition_ends(id); ends.ok()) {
      out.high_watermark = ends->high_watermark.offset().value();
      out.last_stable_offset = ends->stable.offset().value();
      out.log_start_offset = ends->log_start.value();
    }
  };
  // The first partition with data gets at least one whole batch even past the budgets, so a
  // consumer always progresses (KIP-74); the others only what fits.
  size_t max_bytes = std::min(budget, static_cast<size_t>(std::max(p.partition_max_bytes, 0)));
  if (first) max_bytes = std::max<size_t>(max_bytes, 1);
  if (max_bytes == 0) return fill_ends();
  auto fetched =
      log_.fetch({.partition = id,
                  .offset = Offset(p.fetch_offset),
                  .max_bytes = max_bytes,
                  .isolation = read_committed ? logstore::IsolationLevel::kReadCommitted
                                              : logstore::IsolationLevel::kReadUncommitted,
                  .max_wait_ms = 0});
  if (!fetched.ok()) {
    out.error_code = code(error_for(fetched.status()));
    return fill_ends();
  }
  out.high_watermark = fetched->high_watermark.offset().value();
  out.last_stable_offset = fetched->last_stable.offset().value();
  out.log_start_offset = fetched->log_start.value();
  if (!first && fetched->batches.size() > max_bytes) return;  // does not fit: next fetch
  if (read_committed) {
    for (const logstore::AbortedTransaction& a : fetched->aborted) {
      out.aborted_transactions->push_back({a.producer_id.value(), a.first_offset.value()});
    }
  }
  keep.push_back(std::move(*fetched));
  out.records = ByteView(keep.back().batches);
}

asio::awaitable<Bytes> RequestHandler::fetch(int16_t version, FetchRequest& request) {
  const bool read_committed = request.isolation_level == 1;
  // The wait is capped: a waiting fetch holds its connection, and the wait does not end when
  // the client goes away.
  const int64_t deadline =
      Clock::system().monotonic_ms() + std::clamp<int64_t>(request.max_wait_ms, 0, kMaxFetchWaitMs);
  Backoff backoff(options_.fetch_poll_ms);
  while (true) {
    FetchResponse r;
    std::deque<logstore::FetchResult> keep;  // what the response's records point into
    size_t budget = static_cast<size_t>(std::max(request.max_bytes, 0));
    size_t total = 0;
    bool any_error = false;
    for (FetchRequest::Topic& topic : request.topics) {
      FetchResponse::Topic& out_topic = r.responses.emplace_back();
      out_topic.topic = topic.topic;
      for (const FetchRequest::Partition& p : topic.partitions) {
        FetchResponse::Partition& out = out_topic.partitions.emplace_back();
        fetch_partition(topic.topic, p, read_committed, budget, total == 0, out, keep);
        const size_t got = out.records ? out.records->size() : 0;
        total += got;
        budget -= std::min(budget, got);
        any_error |= out.error_code != 0;
      }
    }
    const int64_t now = Clock::system().monotonic_ms();
    if (any_error || total >= static_cast<size_t>(std::max(request.min_bytes, 1)) ||
        now >= deadline) {
      co_return encoded(version, r);
    }
    co_await sleep_ms(std::min(backoff.next(), deadline - now));
  }
}

// --- ListOffsets ---

Bytes RequestHandler::list_offsets(int16_t version, ListOffsetsRequest& request) {
  ListOffsetsResponse r;
  const bool read_committed = request.isolation_level == 1;
  for (ListOffsetsRequest::Topic& topic : request.topics) {
    ListOffsetsResponse::Topic& out_topic = r.topics.emplace_back();
    out_topic.name = topic.name;
    for (ListOffsetsRequest::Partition& p : topic.partitions) {
      ListOffsetsResponse::Partition& out = out_topic.partitions.emplace_back();
      out.partition_index = p.partition_index;
      const TopicPartition id = tp(topic.name, p.partition_index);
      auto ends = logstore::is_internal_topic(topic.name)
                      ? Result<logstore::PartitionEnds>(not_found("internal"))
                      : log_.partition_ends(id);
      if (!ends.ok()) {
        out.error_code = code(error_for(ends.status()));
        continue;
      }
      int64_t offset = -1;
      int64_t timestamp = -1;
      if (p.timestamp == kLatestTimestamp) {
        offset =
            read_committed ? ends->stable.offset().value() : ends->high_watermark.offset().value();
      } else if (p.timestamp == kEarliestTimestamp) {
        offset = ends->log_start.value();
      } else if (p.timestamp < 0) {
        out.error_code = code(ErrorCode::kInvalidRequest);
        continue;
      } else {
        auto found = log_.offset_for_timestamp(id, Timestamp(p.timestamp));
        if (!found.ok()) {
          out.error_code = code(error_for(found.status()));
          continue;
        }
        if (*found) {
          offset = (*found)->value();
          // The timestamp answered is that of the record found, as Kafka's.
          auto batch = log_.fetch({.partition = id,
                                   .offset = **found,
                                   .max_bytes = 1,
                                   .isolation = logstore::IsolationLevel::kReadUncommitted});
          if (batch.ok()) {
            Status ignored = logstore::for_each_record(*batch, **found,
                                                       logstore::IsolationLevel::kReadUncommitted,
                                                       [&](const logstore::RecordView& rec) {
                                                         if (rec.offset == **found)
                                                           timestamp = rec.timestamp.value();
                                                       });
            (void)ignored;  // a record that does not decode leaves timestamp at -1
          }
        }
      }
      if (version == 0) {
        if (offset >= 0) out.old_style_offsets.push_back(offset);
      } else {
        out.offset = offset;
        out.timestamp = timestamp;
      }
    }
  }
  return encoded(version, r);
}

// --- Groups ---

asio::awaitable<Bytes> RequestHandler::join_group(int16_t version, JoinGroupRequest& request,
                                                  const RequestHeader& header,
                                                  const std::string& client_host) {
  JoinArgs args;
  args.group_id = request.group_id;
  args.member_id = request.member_id;
  args.group_instance_id = request.group_instance_id;
  args.client_id = header.client_id.value_or("");
  args.client_host = client_host;
  args.session_timeout_ms = request.session_timeout_ms;
  args.rebalance_timeout_ms =
      version >= 1 ? request.rebalance_timeout_ms : request.session_timeout_ms;
  args.protocol_type = request.protocol_type;
  for (const auto& p : request.protocols) args.protocols.emplace_back(p.name, Bytes(p.metadata));
  args.require_known_member_id = version >= 4;
  std::string member_id;
  std::optional<JoinResult> result =
      groups_.join(std::move(args), Clock::system().monotonic_ms(), member_id);
  Backoff backoff(options_.fetch_poll_ms * 2);
  while (!result) {
    co_await sleep_ms(backoff.next());
    result = groups_.poll_join(request.group_id, member_id, Clock::system().monotonic_ms());
  }
  JoinGroupResponse r;
  r.error_code = code(result->error);
  r.generation_id = result->generation_id;
  r.protocol_name = result->protocol_name;
  r.leader = result->leader;
  r.member_id = result->member_id;
  for (const JoinResult::Member& m : result->members) {
    r.members.push_back({m.member_id, m.group_instance_id, ByteView(m.metadata)});
  }
  co_return encoded(version, r);
}

asio::awaitable<Bytes> RequestHandler::sync_group(int16_t version, SyncGroupRequest& request) {
  std::vector<std::pair<std::string, Bytes>> assignments;
  for (const auto& a : request.assignments) assignments.emplace_back(a.member_id, a.assignment);
  std::optional<SyncResult> result =
      groups_.sync(request.group_id, request.generation_id, request.member_id, assignments,
                   Clock::system().monotonic_ms());
  Backoff backoff(options_.fetch_poll_ms * 2);
  while (!result) {
    co_await sleep_ms(backoff.next());
    result = groups_.poll_sync(request.group_id, request.generation_id, request.member_id,
                               Clock::system().monotonic_ms());
  }
  SyncGroupResponse r;
  r.error_code = code(result->error);
  r.assignment = result->assignment;
  co_return encoded(version, r);
}

Bytes RequestHandler::heartbeat(int16_t version, HeartbeatRequest& request) {
  HeartbeatResponse r;
  r.error_code = code(groups_.heartbeat(request.group_id, request.generation_id, request.member_id,
                                        Clock::system().monotonic_ms()));
  return encoded(version, r);
}

Bytes RequestHandler::leave_group(int16_t version, LeaveGroupRequest& request) {
  LeaveGroupResponse r;
  r.error_code =
      code(groups_.leave(request.group_id, request.member_id, Clock::system().monotonic_ms()));
  return encoded(version, r);
}

Bytes RequestHandler::offset_commit(int16_t version, OffsetCommitRequest& request) {
  OffsetCommitResponse r;
  const ErrorCode allowed = groups_.check_commit(request.group_id, request.generation_id,
                                                 request.member_id, Clock::system().monotonic_ms());
  const Timestamp now(std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count());
  logstore::OffsetMap offsets;
  for (OffsetCommitRequest::Topic& topic : request.topics) {
    auto& out_topic = r.topics.emplace_back();
    out_topic.name = topic.name;
    for (OffsetCommitRequest::Partition& p : topic.partitions) {
      auto& out = out_topic.partitions.emplace_back();
      out.partition_index = p.partition_index;
      out.error_code = code(allowed);
      if (allowed != ErrorCode::kNone) continue;
      const TopicPartition id = tp(topic.name, p.partition_index);
      if (logstore::is_internal_topic(topic.name) || !log_.partition_ends(id).ok()) {
        out.error_code = code(ErrorCode::kUnknownTopicOrPartition);
        continue;
      }
      offsets[id] = logstore::CommittedOffset{Offset(p.committed_offset),
                                              p.committed_metadata.value_or(""), now};
    }
  }
  if (!offsets.empty()) {
    Status s = log_.commit_offsets(request.group_id, offsets);
    if (!s.ok()) {
      spdlog::warn("kafka: offset commit of group '{}' failed: {}", request.group_id,
                   s.to_string());
      for (auto& t : r.topics) {
        for (auto& p : t.partitions) {
          if (p.error_code == 0) p.error_code = code(error_for(s));
        }
      }
    }
  }
  return encoded(version, r);
}

Bytes RequestHandler::offset_fetch(int16_t version, OffsetFetchRequest& request) {
  OffsetFetchResponse r;
  if (!request.topics) {
    auto all = log_.group_offsets(request.group_id);
    if (!all.ok()) {
      r.error_code = code(error_for(all.status()));
      return encoded(version, r);
    }
    for (const auto& [id, committed] : *all) {
      if (r.topics.empty() || r.topics.back().name != id.topic)
        r.topics.emplace_back().name = id.topic;
      r.topics.back().partitions.push_back(
          {id.partition.value(), committed.offset.value(), -1, committed.metadata, 0});
    }
    return encoded(version, r);
  }
  for (OffsetFetchRequest::Topic& topic : *request.topics) {
    auto& out_topic = r.topics.emplace_back();
    out_topic.name = topic.name;
    for (int32_t p : topic.partition_indexes) {
      auto& out = out_topic.partitions.emplace_back();
      out.partition_index = p;
      out.metadata = "";
      auto committed = log_.committed_offset(request.group_id, tp(topic.name, p));
      if (!committed.ok()) {
        // An unknown partition has no committed offset; that is not an error here.
        if (committed.status().code() != StatusCode::kNotFound) {
          out.error_code = code(error_for(committed.status()));
        }
        continue;
      }
      if (*committed) {
        out.committed_offset = (*committed)->offset.value();
        out.metadata = (*committed)->metadata;
      }
    }
  }
  return encoded(version, r);
}

Bytes RequestHandler::list_groups(int16_t version) {
  ListGroupsResponse r;
  std::map<std::string, std::string> groups;
  for (std::string& g : log_.list_groups()) groups[std::move(g)] = "consumer";
  for (auto& [g, type] : groups_.list()) groups[g] = type;
  for (auto& [g, type] : groups) r.groups.push_back({g, type});
  return encoded(version, r);
}

Bytes RequestHandler::describe_groups(int16_t version, DescribeGroupsRequest& request) {
  DescribeGroupsResponse r;
  std::vector<GroupDescription> keep;
  keep.reserve(request.groups.size());
  for (const std::string& id : request.groups) {
    DescribeGroupsResponse::Group& out = r.groups.emplace_back();
    out.group_id = id;
    std::optional<GroupDescription> d = groups_.describe(id, Clock::system().monotonic_ms());
    if (!d) {
      // Known only by its committed offsets: Empty; not at all: Dead (as Kafka answers).
      auto offsets = log_.group_offsets(id);
      out.group_state = offsets.ok() && !offsets->empty() ? "Empty" : "Dead";
      out.protocol_type = offsets.ok() && !offsets->empty() ? "consumer" : "";
      continue;
    }
    keep.push_back(std::move(*d));
    const GroupDescription& g = keep.back();
    out.group_state = g.state;
    out.protocol_type = g.protocol_type;
    out.protocol_data = g.protocol;
    for (const GroupDescription::Member& m : g.members) {
      out.members.push_back({m.member_id, m.group_instance_id, m.client_id, m.client_host,
                             ByteView(m.metadata), ByteView(m.assignment)});
    }
  }
  return encoded(version, r);
}

// --- Topics ---

Bytes RequestHandler::create_topics(int16_t version, CreateTopicsRequest& request) {
  CreateTopicsResponse r;
  for (CreateTopicsRequest::Topic& t : request.topics) {
    CreateTopicsResponse::Topic& out = r.topics.emplace_back();
    out.name = t.name;
    auto refuse = [&](ErrorCode e, std::string message) {
      out.error_code = code(e);
      out.error_message = std::move(message);
    };
    logstore::TopicConfig config;
    config.partitions = t.num_partitions == -1 ? options_.default_partitions : t.num_partitions;
    if (!t.assignments.empty()) {
      config.partitions = static_cast<int32_t>(t.assignments.size());
      bool ours = std::all_of(t.assignments.begin(), t.assignments.end(), [&](const auto& a) {
        return a.broker_ids.size() == 1 && a.broker_ids[0] == options_.node_id;
      });
      if (!ours) {
        refuse(ErrorCode::kInvalidReplicaAssignment,
               "this cluster is one node, id " + std::to_string(options_.node_id));
        continue;
      }
    }
    if (config.partitions < 1) {
      refuse(ErrorCode::kInvalidPartitions, "the partition count must be at least 1");
      continue;
    }
    if (t.replication_factor != -1 && t.replication_factor != 1) {
      refuse(ErrorCode::kInvalidReplicationFactor,
             "replication factor " + std::to_string(t.replication_factor) +
                 " is larger than the 1 available broker (Sluice is one node)");
      continue;
    }
    Status configured;
    for (const auto& c : t.configs) {
      if (!c.value) continue;  // null: the default
      configured = config.set(c.name, *c.value);
      if (!configured.ok()) break;
    }
    if (!configured.ok()) {
      refuse(ErrorCode::kInvalidConfig, configured.message());
      continue;
    }
    if (logstore::is_internal_topic(t.name)) {
      refuse(ErrorCode::kInvalidTopicException, "'" + t.name + "' is an internal topic");
      continue;
    }
    if (request.validate_only) {
      if (log_.describe_topic(t.name).ok()) {
        refuse(ErrorCode::kTopicAlreadyExists, "topic '" + t.name + "' already exists");
      } else if (Status valid = config.validate(); !valid.ok()) {
        refuse(ErrorCode::kInvalidConfig, valid.message());
      }
      continue;
    }
    Status s = log_.create_topic(t.name, config);
    if (!s.ok()) {
      refuse(s.code() == StatusCode::kInvalidArgument ? ErrorCode::kInvalidTopicException
                                                      : error_for(s),
             s.message());
    }
  }
  return encoded(version, r);
}

Bytes RequestHandler::delete_topics(int16_t version, DeleteTopicsRequest& request) {
  DeleteTopicsResponse r;
  for (const std::string& name : request.topic_names) {
    auto& out = r.responses.emplace_back();
    out.name = name;
    Status s = logstore::is_internal_topic(name) ? not_found(name) : log_.delete_topic(name);
    out.error_code = code(error_for(s));
  }
  return encoded(version, r);
}

Bytes RequestHandler::delete_records(int16_t version, DeleteRecordsRequest& request) {
  DeleteRecordsResponse r;
  for (auto& topic : request.topics) {
    auto& out_topic = r.topics.emplace_back();
    out_topic.name = topic.name;
    for (auto& p : topic.partitions) {
      auto& out = out_topic.partitions.emplace_back();
      out.partition_index = p.partition_index;
      const TopicPartition id = tp(topic.name, p.partition_index);
      auto ends = logstore::is_internal_topic(topic.name)
                      ? Result<logstore::PartitionEnds>(not_found(topic.name))
                      : log_.partition_ends(id);
      if (!ends.ok()) {
        out.error_code = code(error_for(ends.status()));
        continue;
      }
      // -1: everything up to the high watermark.
      const int64_t before = p.offset == -1 ? ends->high_watermark.offset().value() : p.offset;
      if (before < 0 || before > ends->high_watermark.offset().value()) {
        out.error_code = code(ErrorCode::kOffsetOutOfRange);
        continue;
      }
      Status s = log_.delete_records(id, Offset(before));
      out.error_code = code(error_for(s));
      auto after = log_.partition_ends(id);
      if (after.ok()) out.low_watermark = after->log_start.value();
    }
  }
  return encoded(version, r);
}

// --- Transactions ---

Bytes RequestHandler::init_producer_id(int16_t version, InitProducerIdRequest& request) {
  InitProducerIdResponse r;
  const std::string transactional_id = request.transactional_id.value_or("");
  // An idempotent producer has no transactions; clients send -1 (or anything) as its timeout.
  const int32_t timeout = transactional_id.empty() ? 60'000 : request.transaction_timeout_ms;
  auto id = log_.init_producer_id(transactional_id, timeout);
  if (!id.ok()) {
    r.error_code = code(id.status().code() == StatusCode::kInvalidArgument
                            ? ErrorCode::kInvalidTransactionTimeout
                            : error_for(id.status()));
    return encoded(version, r);
  }
  r.producer_id = id->id.value();
  r.producer_epoch = id->epoch.value();
  return encoded(version, r);
}

Bytes RequestHandler::add_partitions_to_txn(int16_t version, AddPartitionsToTxnRequest& request) {
  AddPartitionsToTxnResponse r;
  std::vector<TopicPartition> partitions;
  bool any_unknown = false;
  for (auto& topic : request.topics) {
    auto& out_topic = r.topics.emplace_back();
    out_topic.name = topic.name;
    for (int32_t p : topic.partitions) {
      const bool known =
          !logstore::is_internal_topic(topic.name) && log_.partition_ends(tp(topic.name, p)).ok();
      any_unknown |= !known;
      out_topic.partitions.push_back(
          {p, known ? int16_t{0} : code(ErrorCode::kUnknownTopicOrPartition)});
      partitions.push_back(tp(topic.name, p));
    }
  }
  int16_t outcome = 55;  // OPERATION_NOT_ATTEMPTED: another partition of the request failed
  if (!any_unknown) {
    outcome = code(error_for(log_.add_partitions_to_transaction(
        request.transactional_id, identity(request.producer_id, request.producer_epoch),
        partitions)));
  }
  for (auto& t : r.topics) {
    for (auto& p : t.partitions) {
      if (p.error_code == 0) p.error_code = outcome;
    }
  }
  return encoded(version, r);
}

Bytes RequestHandler::add_offsets_to_txn(int16_t version, AddOffsetsToTxnRequest& request) {
  // The group's offsets partition joins the transaction with TxnOffsetCommit; here the
  // producer is checked and the transaction started.
  AddOffsetsToTxnResponse r;
  r.error_code = code(error_for(log_.add_partitions_to_transaction(
      request.transactional_id, identity(request.producer_id, request.producer_epoch), {})));
  return encoded(version, r);
}

Bytes RequestHandler::end_txn(int16_t version, EndTxnRequest& request) {
  EndTxnResponse r;
  r.error_code = code(error_for(log_.end_transaction(
      request.transactional_id, identity(request.producer_id, request.producer_epoch),
      request.committed)));
  return encoded(version, r);
}

Bytes RequestHandler::txn_offset_commit(int16_t version, TxnOffsetCommitRequest& request) {
  TxnOffsetCommitResponse r;
  logstore::OffsetMap offsets;
  for (auto& topic : request.topics) {
    auto& out_topic = r.topics.emplace_back();
    out_topic.name = topic.name;
    for (auto& p : topic.partitions) {
      out_topic.partitions.push_back({p.partition_index, 0});
      offsets[tp(topic.name, p.partition_index)] = logstore::CommittedOffset{
          Offset(p.committed_offset), p.committed_metadata.value_or(""), kNoTimestamp};
    }
  }
  const int16_t outcome = code(error_for(log_.transactional_offset_commit(
      request.transactional_id, identity(request.producer_id, request.producer_epoch),
      request.group_id, offsets)));
  for (auto& t : r.topics) {
    for (auto& p : t.partitions) p.error_code = outcome;
  }
  return encoded(version, r);
}

}  // namespace sluice::server::kafka

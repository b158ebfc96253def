// RequestHandler: answers one Kafka request from the log and the group coordinator. One method
// per API; the listener (listener.h) owns the connections and calls handle() for each request
// in order.
//
// Requests that wait — a Fetch for data to arrive (max_wait_ms, min_bytes), a JoinGroup until
// its rebalance completes, a SyncGroup until the leader's assignment arrives — are coroutines
// that sleep on the connection's executor in short steps and never block an I/O thread while
// they wait. The log's own calls (appends, reads) are synchronous and fast.
//
// Thread safety: handle() may run on many connections at once; the state it touches (the log,
// the coordinator) is thread-safe.
#pragma once

#include <asio/awaitable.hpp>
#include <cstdint>
#include <deque>
#include <string>

#include "kafka/group_coordinator.h"
#include "kafka/messages.h"
#include "sluice/logstore/log_store.h"

namespace sluice::server::kafka {

struct HandlerOptions {
  int32_t node_id = 0;
  std::string advertised_host = "127.0.0.1";
  int32_t advertised_port = 9092;
  std::string cluster_id = "sluice";
  // Metadata for an unknown topic creates it (Metadata v4's allow_auto_topic_creation must
  // also be set; earlier versions always ask for it), with this many partitions.
  bool auto_create_topics = true;
  int32_t default_partitions = 1;
  // How long a long-polling Fetch sleeps between looks at the log, at most.
  int32_t fetch_poll_ms = 5;
};

// What the listener does with a request.
struct Reply {
  enum class Kind { kRespond, kNoResponse, kClose };
  Kind kind = Kind::kRespond;
  Bytes body;          // the response body, after the response header (kRespond)
  std::string reason;  // why the connection is closed (kClose), for the log
};

class RequestHandler {
 public:
  RequestHandler(logstore::LogStore& log, GroupCoordinator& groups, HandlerOptions options)
      : log_(log), groups_(groups), options_(std::move(options)) {}

  // `client_host`: the peer's address, as DescribeGroups reports it ("/127.0.0.1").
  asio::awaitable<Reply> handle(const RequestHeader& header, ByteView body,
                                const std::string& client_host);

  const HandlerOptions& options() const { return options_; }
  // Where clients are told to connect (known once the listener has bound). Before serving only.
  void set_advertised(std::string host, int32_t port) {
    options_.advertised_host = std::move(host);
    options_.advertised_port = port;
  }

 private:
  Bytes api_versions(int16_t version);
  Bytes metadata(int16_t version, MetadataRequest& request);
  Reply produce(int16_t version, ProduceRequest& request);
  asio::awaitable<Bytes> fetch(int16_t version, FetchRequest& request);
  Bytes list_offsets(int16_t version, ListOffsetsRequest& request);
  Bytes find_coordinator(int16_t version, FindCoordinatorRequest& request);
  asio::awaitable<Bytes> join_group(int16_t version, JoinGroupRequest& request,
                                    const RequestHeader& header, const std::string& client_host);
  asio::awaitable<Bytes> sync_group(int16_t version, SyncGroupRequest& request);
  Bytes heartbeat(int16_t version, HeartbeatRequest& request);
  Bytes leave_group(int16_t version, LeaveGroupRequest& request);
  Bytes offset_commit(int16_t version, OffsetCommitRequest& request);
  Bytes offset_fetch(int16_t version, OffsetFetchRequest& request);
  Bytes create_topics(int16_t version, CreateTopicsRequest& request);
  Bytes delete_topics(int16_t version, DeleteTopicsRequest& request);
  Bytes delete_records(int16_t version, DeleteRecordsRequest& request);
  Bytes list_groups(int16_t version);
  Bytes describe_groups(int16_t version, DescribeGroupsRequest& request);
  Bytes init_producer_id(int16_t version, InitProducerIdRequest& request);
  Bytes add_partitions_to_txn(int16_t version, AddPartitionsToTxnRequest& request);
  Bytes add_offsets_to_txn(int16_t version, AddOffsetsToTxnRequest& request);
  Bytes end_txn(int16_t version, EndTxnRequest& request);
  Bytes txn_offset_commit(int16_t version, TxnOffsetCommitRequest& request);

  // One partition of a Fetch, read without waiting; `budget` is what the response may still
  // take, `first` whether no partition before this one returned data. The records point into
  // what is appended to `keep`.
  void fetch_partition(const std::string& topic, const FetchRequest::Partition& p,
                       bool read_committed, size_t budget, bool first,
                       FetchResponse::Partition& out, std::deque<logstore::FetchResult>& keep);

  logstore::LogStore& log_;
  GroupCoordinator& groups_;
  HandlerOptions options_;
};

}  // namespace sluice::server::kafka

// The request and response messages of the Kafka APIs Sluice serves, each with its field
// table: `fields(io, message)` lists the fields in wire order, a field carried only by some
// versions under `if (io.version() >= N)`. Written from the protocol's message definitions
// (clients/src/main/resources/common/message/*.json in Apache Kafka) for the non-flexible
// versions in api.h. Names follow those definitions.
//
// Byte fields (records, group metadata and assignments) are views: into the request's buffer
// when decoded, into what the handler keeps alive when encoded.
//
// Thread safety: values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka/wire.h"

namespace sluice::server::kafka {

inline constexpr int32_t kNoThrottle = 0;

// --- Request header v1 (every non-flexible request) and response header v0 ---

struct RequestHeader {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;
};

template <typename IO>
void fields(IO& io, RequestHeader& m) {
  io.int16(m.api_key);
  io.int16(m.api_version);
  io.int32(m.correlation_id);
  io.nullable_string(m.client_id);
}

// --- ApiVersions (18) ---

struct ApiVersionsRequest {};
template <typename IO>
void fields(IO&, ApiVersionsRequest&) {}

struct ApiVersionsResponse {
  struct Api {
    int16_t api_key = 0;
    int16_t min_version = 0;
    int16_t max_version = 0;
  };
  int16_t error_code = 0;
  std::vector<Api> api_keys;
  int32_t throttle_time_ms = kNoThrottle;
};
template <typename IO>
void fields(IO& io, ApiVersionsResponse& m) {
  io.int16(m.error_code);
  io.array(m.api_keys, [&](ApiVersionsResponse::Api& a) {
    io.int16(a.api_key);
    io.int16(a.min_version);
    io.int16(a.max_version);
  });
  if (io.version() >= 1) io.int32(m.throttle_time_ms);
}

// --- Metadata (3) ---

struct MetadataRequest {
  std::optional<std::vector<std::string>> topics;  // null (v1+) or empty (v0): every topic
  bool allow_auto_topic_creation = true;
};
template <typename IO>
void fields(IO& io, MetadataRequest& m) {
  if (io.version() >= 1) {
    io.nullable_array(m.topics, [&](std::string& t) { io.string(t); });
  } else {
    if (!m.topics) m.topics.emplace();
    strings(io, *m.topics);
  }
  if (io.version() >= 4) io.boolean(m.allow_auto_topic_creation);
}

struct MetadataResponse {
  struct Broker {
    int32_t node_id = 0;
    std::string host;
    int32_t port = 0;
    std::optional<std::string> rack;
  };
  struct Partition {
    int16_t error_code = 0;
    int32_t partition_index = 0;
    int32_t leader_id = 0;
    std::vector<int32_t> replica_nodes;
    std::vector<int32_t> isr_nodes;
  };
  struct Topic {
    int16_t error_code = 0;
    std::string name;
    bool is_internal = false;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = kNoThrottle;
  std::vector<Broker> brokers;
  std::optional<std::string> cluster_id;
  int32_t controller_id = 0;
  std::vector<Topic> topics;
};
template <typename IO>
void fields(IO& io, MetadataResponse& m) {
  if (io.version() >= 3) io.int32(m.throttle_time_ms);
  io.array(m.brokers, [&](MetadataResponse::Broker& b) {
    io.int32(b.node_id);
    io.string(b.host);
    io.int32(b.port);
    if (io.version() >= 1) io.nullable_string(b.rack);
  });
  if (io.version() >= 2) io.nullable_string(m.cluster_id);
  if (io.version() >= 1) io.int32(m.controller_id);
  io.array(m.topics, [&](MetadataResponse::Topic& t) {
    io.int16(t.error_code);
    io.string(t.name);
    if (io.version() >= 1) io.boolean(t.is_internal);
    io.array(t.partitions, [&](MetadataResponse::Partition& p) {
      io.int16(p.error_code);
      io.int32(p.partition_index);
      io.int32(p.leader_id);
      int32s(io, p.replica_nodes);
      int32s(io, p.isr_nodes);
    });
  });
}

// --- Produce (0) ---

struct ProduceRequest {
  struct Partition {
    int32_t index = 0;
    std::optional<ByteView> records;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::optional<std::string> transactional_id;
  int16_t acks = -1;
  int32_t timeout_ms = 30'000;
  std::vector<Topic> topics;
};
template <typename IO>
void fields(IO& io, ProduceRequest& m) {
  if (io.version() >= 3) io.nullable_string(m.transactional_id);
  io.int16(m.acks);
  io.int32(m.timeout_ms);
  io.array(m.topics, [&](ProduceRequest::Topic& t) {
    io.string(t.name);
    io.array(t.partitions, [&](ProduceRequest::Partition& p) {
      io.int32(p.index);
      io.nullable_bytes(p.records);
    });
  });
}

struct ProduceResponse {
  struct Partition {
    int32_t index = 0;
    int16_t error_code = 0;
    int64_t base_offset = -1;
    int64_t log_append_time_ms = -1;
    int64_t log_start_offset = -1;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> responses;
  int32_t throttle_time_ms = kNoThrottle;
};
template <typename IO>
void fields(IO& io, ProduceResponse& m) {
  io.array(m.responses, [&](ProduceResponse::Topic& t) {
    io.string(t.name);
    io.array(t.partitions, [&](ProduceResponse::Partition& p) {
      io.int32(p.index);
      io.int16(p.error_code);
      io.int64(p.base_offset);
      if (io.version() >= 2) io.int64(p.log_append_time_ms);
      if (io.version() >= 5) io.int64(p.log_start_offset);
    });
  });
  if (io.version() >= 1) io.int32(m.throttle_time_ms);
}

// --- Fetch (1) ---

struct FetchRequest {
  struct Partition {
    int32_t partition = 0;
    int32_t current_leader_epoch = -1;
    int64_t fetch_offset = 0;
    int64_t log_start_offset = -1;
    int32_t partition_max_bytes = 0;
  };
  struct Topic {
    std::string topic;
    std::vector<Partition> partitions;
  };
  struct ForgottenTopic {
    std::string topic;
    std::vector<int32_t> partitions;
  };
  int32_t replica_id = -1;
  int32_t max_wait_ms = 0;
  int32_t min_bytes = 0;
  int32_t max_bytes = 0x7fffffff;
  int8_t isolation_level = 0;  // 0 read-uncommitted, 1 read-committed
  int32_t session_id = 0;
  int32_t session_epoch = -1;
  std::vector<Topic> topics;
  std::vector<ForgottenTopic> forgotten_topics_data;
  std::string rack_id;
};
template <typename IO>
void fields(IO& io, FetchRequest& m) {
  io.int32(m.replica_id);
  io.int32(m.max_wait_ms);
  io.int32(m.min_bytes);
  if (io.version() >= 3) io.int32(m.max_bytes);
  if (io.version() >= 4) io.int8(m.isolation_level);
  if (io.version() >= 7) {
    io.int32(m.session_id);
    io.int32(m.session_epoch);
  }
  io.array(m.topics, [&](FetchRequest::Topic& t) {
    io.string(t.topic);
    io.array(t.partitions, [&](FetchRequest::Partition& p) {
      io.int32(p.partition);
      if (io.version() >= 9) io.int32(p.current_leader_epoch);
      io.int64(p.fetch_offset);
      if (io.version() >= 5) io.int64(p.log_start_offset);
      io.int32(p.partition_max_bytes);
    });
  });
  if (io.version() >= 7) {
    io.array(m.forgotten_topics_data, [&](FetchRequest::ForgottenTopic& t) {
      io.string(t.topic);
      int32s(io, t.partitions);
    });
  }
  if (io.version() >= 11) io.string(m.rack_id);
}

struct FetchResponse {
  struct AbortedTransaction {
    int64_t producer_id = 0;
    int64_t first_offset = 0;
  };
  struct Partition {
    int32_t partition_index = 0;
    int16_t error_code = 0;
    int64_t high_watermark = -1;
    int64_t last_stable_offset = -1;
    int64_t log_start_offset = -1;
    std::optional<std::vector<AbortedTransaction>> aborted_transactions;
    int32_t preferred_read_replica = -1;
    std::optional<ByteView> records;
  };
  struct Topic {
    std::string topic;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = kNoThrottle;
  int16_t error_code = 0;
  int32_t session_id = 0;
  std::vector<Topic> responses;
};
template <typename IO>
void fields(IO& io, FetchResponse& m) {
  if (io.version() >= 1) io.int32(m.throttle_time_ms);
  if (io.version() >= 7) {
    io.int16(m.error_code);
    io.int32(m.session_id);
  }
  io.array(m.responses, [&](FetchResponse::Topic& t) {
    io.string(t.topic);
    io.array(t.partitions, [&](FetchResponse::Partition& p) {
      io.int32(p.partition_index);
      io.int16(p.error_code);
      io.int64(p.high_watermark);
      if (io.version() >= 4) io.int64(p.last_stable_offset);
      if (io.version() >= 5) io.int64(p.log_start_offset);
      if (io.version() >= 4) {
        io.nullable_array(p.aborted_transactions, [&](FetchResponse::AbortedTransaction& a) {
          io.int64(a.producer_id);
          io.int64(a.first_offset);
        });
      }
      if (io.version() >= 11) io.int32(p.preferred_read_replica);
      io.nullable_bytes(p.records);
    });
  });
}

// --- ListOffsets (2) ---

inline constexpr int64_t kLatestTimestamp = -1;
inline constexpr int64_t kEarliestTimestamp = -2;

struct ListOffsetsRequest {
  struct Partition {
    int32_t partition_index = 0;
    int64_t timestamp = kLatestTimestamp;
    int32_t max_num_offsets = 1;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t replica_id = -1;
  int8_t isolation_level = 0;
  std::vector<Topic> topics;
};
template <typename IO>
void fields(IO& io, ListOffsetsRequest& m) {
  io.int32(m.replica_id);
  if (io.version() >= 2) io.int8(m.isolation_level);
  io.array(m.topics, [&](ListOffsetsRequest::Topic& t) {
    io.string(t.name);
    io.array(t.partitions, [&](ListOffsetsRequest::Partition& p) {
      io.int32(p.partition_index);
      io.int64(p.timestamp);
      if (io.version() == 0) io.int32(p.max_num_offsets);
    });
  });
}

struct ListOffsetsResponse {
  struct Partition {
    int32_t partition_index = 0;
    int16_t error_code = 0;
    std::vector<int64_t> old_style_offsets;  // v0
    int64_t timestamp = -1;
    int64_t offset = -1;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = kNoThrottle;
  std::vector<Topic> topics;
};
template <typename IO>
void fields(IO& io, ListOffsetsResponse& m) {
  if (io.version() >= 2) io.int32(m.throttle_time_ms);
  io.array(m.topics, [&](ListOffsetsResponse::Topic& t) {
    io.string(t.name);
    io.array(t.partitions, [&](ListOffsetsResponse::Partition& p) {
      io.int32(p.partition_index);
      io.int16(p.error_code);
      if (io.version() == 0) {
        int64s(io, p.old_style_offsets);
      } else {
        io.int64(p.timestamp);
        io.int64(p.offset);
      }
    });
  });
}

// --- FindCoordinator (10) ---

struct FindCoordinatorRequest {
  std::string key;
  int8_t key_type = 0;  // 0 group, 1 transaction
};
template <typename IO>
void fields(IO& io, FindCoordinatorRequest& m) {
  io.string(m.key);
  if (io.version() >= 1) io.int8(m.key_type);
}

struct FindCoordinatorResponse {
  int32_t throttle_time_ms = kNoThrottle;
  int16_t error_code = 0;
  std::optional<std::string> error_message;
  int32_t node_id = 0;
  std::string host;
  int32_t port = 0;
};
template <typename IO>
void fields(IO& io, FindCoordinatorResponse& m) {
  if (io.version() >= 1) io.int32(m.throttle_time_ms);
  io.int16(m.error_code);
  if (io.version() >= 1) io.nullable_string(m.error_message);
  io.int32(m.node_id);
  io.string(m.host);
  io.int32(m.port);
}

// --- JoinGroup (11), SyncGroup (14), Heartbeat (12), LeaveGroup (13) ---

struct JoinGroupRequest {
  struct Protocol {
    std::string name;
    ByteView metadata;
  };
  std::string group_id;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = -1;  // v0: the session timeout
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string protocol_type;
  std::vector<Protocol> protocols;
};
template <typename IO>
void fields(IO& io, JoinGroupRequest& m) {
  io.string(m.group_id);
  io.int32(m.session_timeout_ms);
  if (io.version() >= 1) io.int32(m.rebalance_timeout_ms);
  io.string(m.member_id);
  if (io.version() >= 5) io.nullable_string(m.group_instance_id);
  io.string(m.protocol_type);
  io.array(m.protocols, [&](JoinGroupRequest::Protocol& p) {
    io.string(p.name);
    io.bytes(p.metadata);
  });
}

struct JoinGroupResponse {
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    ByteView metadata;
  };
  int32_t throttle_time_ms = kNoThrottle;
  int16_t error_code = 0;
  int32_t generation_id = -1;
  std::string protocol_name;
  std::string leader;
  std::string member_id;
  std::vector<Member> members;
};
template <typename IO>
void fields(IO& io, JoinGroupResponse& m) {
  if (io.version() >= 2) io.int32(m.throttle_time_ms);
  io.int16(m.error_code);
  io.int32(m.generation_id);
  io.string(m.protocol_name);
  io.string(m.leader);
  io.string(m.member_id);
  io.array(m.members, [&](JoinGroupResponse::Member& e) {
    io.string(e.member_id);
    if (io.version() >= 5) io.nullable_string(e.group_instance_id);
    io.bytes(e.metadata);
  });
}

struct SyncGroupRequest {
  struct Assignment {
    std::string member_id;
    ByteView assignment;
  };
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::vector<Assignment> assignments;
};
template <typename IO>
void fields(IO& io, SyncGroupRequest& m) {
  io.string(m.group_id);
  io.int32(m.generation_id);
  io.string(m.member_id);
  if (io.version() >= 3) io.nullable_string(m.group_instance_id);
  io.array(m.assignments, [&](SyncGroupRequest::Assignment& a) {
    io.string(a.member_id);
    io.bytes(a.assignment);
  });
}

struct SyncGroupResponse {
  int32_t throttle_time_ms = kNoThrottle;
  int16_t error_code = 0;
  ByteView assignment;
};
template <typename IO>
void fields(IO& io, SyncGroupResponse& m) {
  if (io.version() >= 1) io.int32(m.throttle_time_ms);
  io.int16(m.error_code);
  io.bytes(m.assignment);
}

struct HeartbeatRequest {
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
};
template <typename IO>
void fields(IO& io, HeartbeatRequest& m) {
  io.string(m.group_id);
  io.int32(m.generation_id);
  io.string(m.member_id);
  if (io.version() >= 3) io.nullable_string(m.group_instance_id);
}

// Heartbeat, LeaveGroup, AddOffsetsToTxn and EndTxn answer with only an error code;
// `kThrottleSince` is the first version that carries throttle_time_ms.
template <int16_t kThrottleSince>
struct ErrorOnlyResponse {
  int32_t throttle_time_ms = kNoThrottle;
  int16_t error_code = 0;
};
template <typename IO, int16_t kThrottleSince>
void fields(IO& io, ErrorOnlyResponse<kThrottleSince>& m) {
  if (io.version() >= kThrottleSince) io.int32(m.throttle_time_ms);
  io.int16(m.error_code);
}
using HeartbeatResponse = ErrorOnlyResponse<1>;
using LeaveGroupResponse = ErrorOnlyResponse<1>;
using AddOffsetsToTxnResponse = ErrorOnlyResponse<0>;
using EndTxnResponse = ErrorOnlyResponse<0>;

struct LeaveGroupRequest {
  std::string group_id;
  std::string member_id;
};
template <typename IO>
void fields(IO& io, LeaveGroupRequest& m) {
  io.string(m.group_id);
  io.string(m.member_id);
}

// --- OffsetCommit (8), OffsetFetch (9) ---

struct OffsetCommitRequest {
  struct Partition {
    int32_t partition_index = 0;
    int64_t committed_offset = 0;
    int32_t committed_leader_epoch = -1;
    std::optional<std::string> committed_metadata;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
  int64_t retention_time_ms = -1;
  std::vector<Topic> topics;
};
template <typename IO>
void fields(IO& io, OffsetCommitRequest& m) {
  io.string(m.group_id);
  io.int32(m.generation_id);
  io.string(m.member_id);
  if (io.version() >= 7) io.nullable_string(m.group_instance_id);
  if (io.version() >= 2 && io.version() <= 4) io.int64(m.retention_time_ms);
  io.array(m.topics, [&](OffsetCommitRequest::Topic& t) {
    io.string(t.name);
    io.array(t.partitions, [&](OffsetCommitRequest::Partition& p) {
      io.int32(p.partition_index);
      io.int64(p.committed_offset);
      if (io.version() >= 6) io.int32(p.committed_leader_epoch);
      io.nullable_string(p.committed_metadata);
    });
  });
}

// OffsetCommit, TxnOffsetCommit and AddPartitionsToTxn answer alike: an error per partition.
template <int16_t kThrottleSince>
struct PartitionErrorsResponse {
  struct Partition {
    int32_t partition_index = 0;
    int16_t error_code = 0;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = kNoThrottle;
  std::vector<Topic> topics;
};
template <typename IO, int16_t kThrottleSince>
void fields(IO& io, PartitionErrorsResponse<kThrottleSince>& m) {
  using Response = PartitionErrorsResponse<kThrottleSince>;
  if (io.version() >= kThrottleSince) io.int32(m.throttle_time_ms);
  io.array(m.topics, [&](typename Response::Topic& t) {
    io.string(t.name);
    io.array(t.partitions, [&](typename Response::Partition& p) {
      io.int32(p.partition_index);
      io.int16(p.error_code);
    });
  });
}
using OffsetCommitResponse = PartitionErrorsResponse<3>;
using TxnOffsetCommitResponse = PartitionErrorsResponse<0>;
using AddPartitionsToTxnResponse = PartitionErrorsResponse<0>;

struct OffsetFetchRequest {
  struct Topic {
    std::string name;
    std::vector<int32_t> partition_indexes;
  };
  std::string group_id;
  std::optional<std::vector<Topic>> topics;  // null (v2+): every partition the group committed
};
template <typename IO>
void fields(IO& io, OffsetFetchRequest& m) {
  io.string(m.group_id);
  auto topic = [&](OffsetFetchRequest::Topic& t) {
    io.string(t.name);
    int32s(io, t.partition_indexes);
  };
  if (io.version() >= 2) {
    io.nullable_array(m.topics, topic);
  } else {
    if (!m.topics) m.topics.emplace();
    io.array(*m.topics, topic);
  }
}

struct OffsetFetchResponse {
  struct Partition {
    int32_t partition_index = 0;
    int64_t committed_offset = -1;
    int32_t committed_leader_epoch = -1;
    std::optional<std::string> metadata;
    int16_t error_code = 0;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = kNoThrottle;
  std::vector<Topic> topics;
  int16_t error_code = 0;
};
template <typename IO>
void fields(IO& io, OffsetFetchResponse& m) {
  if (io.version() >= 3) io.int32(m.throttle_time_ms);
  io.array(m.topics, [&](OffsetFetchResponse::Topic& t) {
    io.string(t.name);
    io.array(t.partitions, [&](OffsetFetchResponse::Partition& p) {
      io.int32(p.partition_index);
      io.int64(p.committed_offset);
      if (io.version() >= 5) io.int32(p.committed_leader_epoch);
      io.nullable_string(p.metadata);
      io.int16(p.error_code);
    });
  });
  if (io.version() >= 2) io.int16(m.error_code);
}

// --- CreateTopics (19), DeleteTopics (20), DeleteRecords (21) ---

struct CreateTopicsRequest {
  struct Assignment {
    int32_t partition_index = 0;
    std::vector<int32_t> broker_ids;
  };
  struct Config {
    std::string name;
    std::optional<std::string> value;
  };
  struct Topic {
    std::string name;
    int32_t num_partitions = -1;
    int16_t replication_factor = -1;
    std::vector<Assignment> assignments;
    std::vector<Config> configs;
  };
  std::vector<Topic> topics;
  int32_t timeout_ms = 0;
  bool validate_only = false;
};
template <typename IO>
void fields(IO& io, CreateTopicsRequest& m) {
  io.array(m.topics, [&](CreateTopicsRequest::Topic& t) {
    io.string(t.name);
    io.int32(t.num_partitions);
    io.int16(t.replication_factor);
    io.array(t.assignments, [&](CreateTopicsRequest::Assignment& a) {
      io.int32(a.partition_index);
      int32s(io, a.broker_ids);
    });
    io.array(t.configs, [&](CreateTopicsRequest::Config& c) {
      io.string(c.name);
      io.nullable_string(c.value);
    });
  });
  io.int32(m.timeout_ms);
  if (io.version() >= 1) io.boolean(m.validate_only);
}

struct CreateTopicsResponse {
  struct Topic {
    std::string name;
    int16_t error_code = 0;
    std::optional<std::string> error_message;
  };
  int32_t throttle_time_ms = kNoThrottle;
  std::vector<Topic> topics;
};
template <typename IO>
void fields(IO& io, CreateTopicsResponse& m) {
  if (io.version() >= 2) io.int32(m.throttle_time_ms);
  io.array(m.topics, [&](CreateTopicsResponse::Topic& t) {
    io.string(t.name);
    io.int16(t.error_code);
    if (io.version() >= 1) io.nullable_string(t.error_message);
  });
}

struct DeleteTopicsRequest {
  std::vector<std::string> topic_names;
  int32_t timeout_ms = 0;
};
template <typename IO>
void fields(IO& io, DeleteTopicsRequest& m) {
  strings(io, m.topic_names);
  io.int32(m.timeout_ms);
}

struct DeleteTopicsResponse {
  struct Result {
    std::string name;
    int16_t error_code = 0;
  };
  int32_t throttle_time_ms = kNoThrottle;
  std::vector<Result> responses;
};
template <typename IO>
void fields(IO& io, DeleteTopicsResponse& m) {
  if (io.version() >= 1) io.int32(m.throttle_time_ms);
  io.array(m.responses, [&](DeleteTopicsResponse::Result& r) {
    io.string(r.name);
    io.int16(r.error_code);
  });
}

struct DeleteRecordsRequest {
  struct Partition {
    int32_t partition_index = 0;
    int64_t offset = 0;  // -1: the high watermark
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
  int32_t timeout_ms = 0;
};
template <typename IO>
void fields(IO& io, DeleteRecordsRequest& m) {
  io.array(m.topics, [&](DeleteRecordsRequest::Topic& t) {
    io.string(t.name);
    io.array(t.partitions, [&](DeleteRecordsRequest::Partition& p) {
      io.int32(p.partition_index);
      io.int64(p.offset);
    });
  });
  io.int32(m.timeout_ms);
}

struct DeleteRecordsResponse {
  struct Partition {
    int32_t partition_index = 0;
    int64_t low_watermark = -1;
    int16_t error_code = 0;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = kNoThrottle;
  std::vector<Topic> topics;
};
template <typename IO>
void fields(IO& io, DeleteRecordsResponse& m) {
  io.int32(m.throttle_time_ms);
  io.array(m.topics, [&](DeleteRecordsResponse::Topic& t) {
    io.string(t.name);
    io.array(t.partitions, [&](DeleteRecordsResponse::Partition& p) {
      io.int32(p.partition_index);
      io.int64(p.low_watermark);
      io.int16(p.error_code);
    });
  });
}

// --- ListGroups (16), DescribeGroups (15) ---

struct ListGroupsRequest {};
template <typename IO>
void fields(IO&, ListGroupsRequest&) {}

struct ListGroupsResponse {
  struct Group {
    std::string group_id;
    std::string protocol_type;
  };
  int32_t throttle_time_ms = kNoThrottle;
  int16_t error_code = 0;
  std::vector<Group> groups;
};
template <typename IO>
void fields(IO& io, ListGroupsResponse& m) {
  if (io.version() >= 1) io.int32(m.throttle_time_ms);
  io.int16(m.error_code);
  io.array(m.groups, [&](ListGroupsResponse::Group& g) {
    io.string(g.group_id);
    io.string(g.protocol_type);
  });
}

struct DescribeGroupsRequest {
  std::vector<std::string> groups;
  bool include_authorized_operations = false;
};
template <typename IO>
void fields(IO& io, DescribeGroupsRequest& m) {
  strings(io, m.groups);
  if (io.version() >= 3) io.boolean(m.include_authorized_operations);
}

struct DescribeGroupsResponse {
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    ByteView member_metadata;
    ByteView member_assignment;
  };
  struct Group {
    int16_t error_code = 0;
    std::string group_id;
    std::string group_state;
    std::string protocol_type;
    std::string protocol_data;
    std::vector<Member> members;
    int32_t authorized_operations = INT32_MIN;  // "not requested"
  };
  int32_t throttle_time_ms = kNoThrottle;
  std::vector<Group> groups;
};
template <typename IO>
void fields(IO& io, DescribeGroupsResponse& m) {
  if (io.version() >= 1) io.int32(m.throttle_time_ms);
  io.array(m.groups, [&](DescribeGroupsResponse::Group& g) {
    io.int16(g.error_code);
    io.string(g.group_id);
    io.string(g.group_state);
    io.string(g.protocol_type);
    io.string(g.protocol_data);
    io.array(g.members, [&](DescribeGroupsResponse::Member& e) {
      io.string(e.member_id);
      if (io.version() >= 4) io.nullable_string(e.group_instance_id);
      io.string(e.client_id);
      io.string(e.client_host);
      io.bytes(e.member_metadata);
      io.bytes(e.member_assignment);
    });
    if (io.version() >= 3) io.int32(g.authorized_operations);
  });
}

// --- Transactions: InitProducerId (22), AddPartitionsToTxn (24), AddOffsetsToTxn (25),
// EndTxn (26), TxnOffsetCommit (28) ---

struct InitProducerIdRequest {
  std::optional<std::string> transactional_id;
  int32_t transaction_timeout_ms = 60'000;
};
template <typename IO>
void fields(IO& io, InitProducerIdRequest& m) {
  io.nullable_string(m.transactional_id);
  io.int32(m.transaction_timeout_ms);
}

struct InitProducerIdResponse {
  int32_t throttle_time_ms = kNoThrottle;
  int16_t error_code = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
};
template <typename IO>
void fields(IO& io, InitProducerIdResponse& m) {
  io.int32(m.throttle_time_ms);
  io.int16(m.error_code);
  io.int64(m.producer_id);
  io.int16(m.producer_epoch);
}

struct AddPartitionsToTxnRequest {
  struct Topic {
    std::string name;
    std::vector<int32_t> partitions;
  };
  std::string transactional_id;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  std::vector<Topic> topics;
};
template <typename IO>
void fields(IO& io, AddPartitionsToTxnRequest& m) {
  io.string(m.transactional_id);
  io.int64(m.producer_id);
  io.int16(m.producer_epoch);
  io.array(m.topics, [&](AddPartitionsToTxnRequest::Topic& t) {
    io.string(t.name);
    int32s(io, t.partitions);
  });
}

struct AddOffsetsToTxnRequest {
  std::string transactional_id;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  std::string group_id;
};
template <typename IO>
void fields(IO& io, AddOffsetsToTxnRequest& m) {
  io.string(m.transactional_id);
  io.int64(m.producer_id);
  io.int16(m.producer_epoch);
  io.string(m.group_id);
}

struct EndTxnRequest {
  std::string transactional_id;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  bool committed = false;
};
template <typename IO>
void fields(IO& io, EndTxnRequest& m) {
  io.string(m.transactional_id);
  io.int64(m.producer_id);
  io.int16(m.producer_epoch);
  io.boolean(m.committed);
}

struct TxnOffsetCommitRequest {
  struct Partition {
    int32_t partition_index = 0;
    int64_t committed_offset = 0;
    int32_t committed_leader_epoch = -1;
    std::optional<std::string> committed_metadata;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::string transactional_id;
  std::string group_id;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  std::vector<Topic> topics;
};
template <typename IO>
void fields(IO& io, TxnOffsetCommitRequest& m) {
  io.string(m.transactional_id);
  io.string(m.group_id);
  io.int64(m.producer_id);
  io.int16(m.producer_epoch);
  io.array(m.topics, [&](TxnOffsetCommitRequest::Topic& t) {
    io.string(t.name);
    io.array(t.partitions, [&](TxnOffsetCommitRequest::Partition& p) {
      io.int32(p.partition_index);
      io.int64(p.committed_offset);
      if (io.version() >= 2) io.int32(p.committed_leader_epoch);
      io.nullable_string(p.committed_metadata);
    });
  });
}

// --- Encoding and decoding whole messages ---

// Decodes a request body; the whole body must be consumed. On failure `error` says why.
template <typename Message>
bool decode(ByteView body, int16_t version, Message& m, std::string& error) {
  Decoder d(body, version);
  fields(d, m);
  if (d.ok() && d.remaining() != 0) d.fail("bytes follow the request's last field");
  error = d.error();
  return d.ok();
}

template <typename Message>
void encode(Bytes& out, int16_t version, Message& m) {
  Encoder e(out, version);
  fields(e, m);
}

}  // namespace sluice::server::kafka

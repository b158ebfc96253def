// GroupCoordinator: who is in each consumer group and which partitions each member reads
// (Groups.JoinGroup / Heartbeat / LeaveGroup in groups.proto describe the protocol).
//
// Membership lives in memory, as in Kafka: after a server restart members rejoin (their
// heartbeats get NOT_FOUND) and resume from the group's committed offsets. Expired members are
// found lazily, on each call for their group.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "sluice/base/mutex.h"
#include "sluice/base/result.h"
#include "sluice/v1/groups.pb.h"

namespace sluice::server {

class GroupCoordinator {
 public:
  using Clock = std::chrono::steady_clock;
  // `partitions_of(topic)`: the topic's partition count (an error for an unknown topic).
  using PartitionCount = std::function<Result<int32_t>(const std::string& topic)>;
  explicit GroupCoordinator(PartitionCount partitions_of)
      : partitions_of_(std::move(partitions_of)) {}

  Result<v1::Membership> join(const v1::JoinGroupRequest& request);
  Result<v1::Membership> heartbeat(const v1::HeartbeatRequest& request);
  Status leave(const v1::LeaveGroupRequest& request);
  // Members, generation and topic of a group (empty when it has no members).
  void describe(const std::string& group, v1::GroupDescription& out);

 private:
  struct Member {
    std::string client;
    std::chrono::milliseconds session_timeout{10'000};
    Clock::time_point last_seen;
    int64_t acknowledged = 0;
    std::vector<int32_t> partitions;  // of the current generation
  };
  struct Group {
    std::string topic;
    int64_t generation = 0;
    std::map<std::string, Member> members;  // by id: the assignor's order
  };

  // Drops expired members; a change starts a new generation.
  void expire(Group& group) SLUICE_REQUIRES(mu_);
  // A new generation: the range assignor over the members.
  Status rebalance(Group& group) SLUICE_REQUIRES(mu_);
  v1::Membership membership(const Group& group, const std::string& member_id) const
      SLUICE_REQUIRES(mu_);

  PartitionCount partitions_of_;
  Mutex mu_;
  std::map<std::string, Group> groups_ SLUICE_GUARDED_BY(mu_);
  uint64_t next_member_ SLUICE_GUARDED_BY(mu_) = 1;
};

}  // namespace sluice::server

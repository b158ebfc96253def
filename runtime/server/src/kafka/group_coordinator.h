// GroupCoordinator: Kafka's classic consumer-group protocol (JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup) for clients of the Kafka listener.
//
// A group moves Empty -> PreparingRebalance (members (re)join; the first rebalance of an empty
// group waits `initial_rebalance_delay_ms` so that members starting together land in one
// generation) -> CompletingRebalance (the generation is fixed; the leader, chosen among the
// members, received every member's metadata and computes the assignment) -> Stable (the leader's
// SyncGroup delivered each member its assignment). A join, a leave or a member whose session
// expires (no heartbeat for its session timeout) starts the next rebalance; members that do not
// rejoin within the rebalance timeout are dropped. Assignments are opaque bytes the client
// leader computes: the coordinator passes them through, as Kafka's does.
//
// Requests that must wait (a join until the rebalance completes, a follower's sync until the
// leader's) return kPending; the caller polls with poll_join / poll_sync. Time is passed in
// (`now_ms`, a steady clock) so that tests drive it. Membership is in memory, as in Kafka;
// committed offsets are not kept here but in the log (the handlers check commits against the
// group's generation with check_commit).
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kafka/api.h"
#include "sluice/base/bytes.h"
#include "sluice/base/mutex.h"

namespace sluice::server::kafka {

struct GroupOptions {
  int64_t initial_rebalance_delay_ms = 3'000;  // Kafka's group.initial.rebalance.delay.ms
  int32_t min_session_timeout_ms = 1'000;
  int32_t max_session_timeout_ms = 1'800'000;  // Kafka's group.max.session.timeout.ms
  // Longer rebalance timeouts are cut to this: a join waits at most this long.
  int32_t max_rebalance_timeout_ms = 300'000;
};

struct JoinArgs {
  std::string group_id;
  std::string member_id;  // empty: a new member
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  std::string protocol_type;
  std::vector<std::pair<std::string, Bytes>> protocols;  // name, metadata; in preference order
  // JoinGroup v4+: a new member first gets MEMBER_ID_REQUIRED with its id, then joins with it.
  bool require_known_member_id = false;
};

struct JoinResult {
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    Bytes metadata;
  };
  ErrorCode error = ErrorCode::kNone;
  int32_t generation_id = -1;
  std::string protocol_name;
  std::string leader;
  std::string member_id;
  std::vector<Member> members;  // only for the leader
};

struct SyncResult {
  ErrorCode error = ErrorCode::kNone;
  Bytes assignment;
};

struct GroupDescription {
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    Bytes metadata;
    Bytes assignment;
  };
  std::string group_id;
  std::string state;  // "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"
  std::string protocol_type;
  std::string protocol;
  int32_t generation_id = 0;
  std::vector<Member> members;
};

class GroupCoordinator {
 public:
  explicit GroupCoordinator(GroupOptions options) : options_(options) {}

  // A result now (an error, MEMBER_ID_REQUIRED) or nullopt: poll_join with `member_id` (set to
  // the member's id, new or not) until it has one.
  std::optional<JoinResult> join(JoinArgs args, int64_t now_ms, std::string& member_id);
  std::optional<JoinResult> poll_join(const std::string& group_id, const std::string& member_id,
                                      int64_t now_ms);
  // A result now (the follower of a Stable group, errors, the leader) or nullopt: poll_sync.
  std::optional<SyncResult> sync(const std::string& group_id, int32_t generation_id,
                                 const std::string& member_id,
                                 const std::vector<std::pair<std::string, Bytes>>& assignments,
                                 int64_t now_ms);
  std::optional<SyncResult> poll_sync(const std::string& group_id, int32_t generation_id,
                                      const std::string& member_id, int64_t now_ms);
  ErrorCode heartbeat(const std::string& group_id, int32_t generation_id,
                      const std::string& member_id, int64_t now_ms);
  ErrorCode leave(const std::string& group_id, const std::string& member_id, int64_t now_ms);
  // Whether an offset commit from (generation_id, member_id) is accepted now: a commit with
  // generation -1 and no member is a standalone consumer's, accepted when the group has no
  // members.
  ErrorCode check_commit(const std::string& group_id, int32_t generation_id,
                         const std::string& member_id, int64_t now_ms);

  // Groups with members (an emptied group is forgotten at the next tick), with their protocol
  // type.
  std::vector<std::pair<std::string, std::string>> list();
  // nullopt for a group the coordinator does not know.
  std::optional<GroupDescription> describe(const std::string& group_id, int64_t now_ms);

  // Expires sessions and completes rebalances whose time has come. The listener calls it
  // periodically; every other method does it for its own group.
  void tick(int64_t now_ms);

 private:
  enum class State { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable };
  struct Member {
    std::optional<std::string> instance_id;
    std::string client_id;
    std::string client_host;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = 0;
    std::vector<std::pair<std::string, Bytes>> protocols;
    Bytes assignment;
    int64_t last_heartbeat_ms = 0;
    bool awaiting_join = false;             // joined this rebalance, no response yet
    std::optional<JoinResult> join_result;  // the response, until polled
  };
  struct Group {
    State state = State::kEmpty;
    int32_t generation = 0;
    std::string protocol_type;
    std::string protocol;
    std::string leader;
    std::map<std::string, Member> members;   // by member id
    std::map<std::string, int64_t> pending;  // ids handed out (MEMBER_ID_REQUIRED), by expiry
    int64_t rebalance_deadline_ms = 0;       // when a rebalance completes regardless
    int64_t initial_delay_until_ms = 0;      // the first rebalance of an empty group waits
    int64_t initial_delay_cap_ms = 0;
  };

  static const char* state_name(State s);
  std::optional<JoinResult> join_locked(Group& g, JoinArgs& args, int64_t now_ms)
      SLUICE_REQUIRES(mu_);
  void start_rebalance(Group& g, int64_t now_ms) SLUICE_REQUIRES(mu_);
  void remove_member(Group& g, const std::string& member_id, int64_t now_ms) SLUICE_REQUIRES(mu_);
  void advance(Group& g, int64_t now_ms) SLUICE_REQUIRES(mu_);
  void complete_join(Group& g, int64_t now_ms) SLUICE_REQUIRES(mu_);
  std::string choose_protocol(const Group& g) const SLUICE_REQUIRES(mu_);
  bool supports_protocols(const Group& g, const JoinArgs& args) const SLUICE_REQUIRES(mu_);
  Group* find(const std::string& group_id, int64_t now_ms) SLUICE_REQUIRES(mu_);

  const GroupOptions options_;
  Mutex mu_;
  std::map<std::string, Group> groups_ SLUICE_GUARDED_BY(mu_);
  uint64_t next_member_ SLUICE_GUARDED_BY(mu_) = 1;
};

}  // namespace sluice::server::kafka

#include "kafka/group_coordinator.h"

#include <algorithm>
#include <random>

namespace sluice::server::kafka {
namespace {

// Member ids: "<client id>-<sequence>-<random>", unique across server restarts (a member of a
// previous run must get UNKNOWN_MEMBER_ID, not someone else's membership).
std::string new_member_id(const std::string& client_id, uint64_t sequence) {
  static const uint64_t run = std::random_device{}() * 2654435761u + std::random_device{}();
  char suffix[40];
  std::snprintf(suffix, sizeof(suffix), "-%llu-%08llx", static_cast<unsigned long long>(sequence),
                static_cast<unsigned long long>(run & 0xffffffffu));
  return (client_id.empty() ? std::string("member") : client_id.substr(0, 255)) + suffix;
}

}  // namespace

const char* GroupCoordinator::state_name(State s) {
  switch (s) {
    case State::kEmpty:
      return "Empty";
    case State::kPreparingRebalance:
      return "PreparingRebalance";
    case State::kCompletingRebalance:
      return "CompletingRebalance";
    case State::kStable:
      return "Stable";
  }
  return "Dead";
}

GroupCoordinator::Group* GroupCoordinator::find(const std::string& group_id, int64_t now_ms) {
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return nullptr;
  advance(it->second, now_ms);
  return &it->second;
}

bool GroupCoordinator::supports_protocols(const Group& g, const JoinArgs& args) const {
  if (g.members.empty()) return true;
  if (args.protocol_type != g.protocol_type) return false;
  // At least one of the joiner's protocols must be supported by every current member.
  for (const auto& [name, metadata] : args.protocols) {
    bool everyone = std::all_of(g.members.begin(), g.members.end(), [&](const auto& m) {
      return std::any_of(m.second.protocols.begin(), m.second.protocols.end(),
                         [&](const auto& p) { return p.first == name; });
    });
    if (everyone) return true;
  }
  return false;
}

std::optional<JoinResult> GroupCoordinator::join(JoinArgs args, int64_t now_ms,
                                                 std::string& member_id) {
  member_id = args.member_id;
  JoinResult refused;
  refused.member_id = args.member_id;
  if (args.group_id.empty()) {
    refused.error = ErrorCode::kInvalidGroupId;
    return refused;
  }
  if (args.session_timeout_ms < options_.min_session_timeout_ms ||
      args.session_timeout_ms > options_.max_session_timeout_ms) {
    refused.error = ErrorCode::kInvalidSessionTimeout;
    return refused;
  }
  if (args.protocol_type.empty() || args.protocols.empty()) {
    refused.error = ErrorCode::kInconsistentGroupProtocol;
    return refused;
  }
  if (args.rebalance_timeout_ms <= 0) args.rebalance_timeout_ms = args.session_timeout_ms;
  args.rebalance_timeout_ms =
      std::min(args.rebalance_timeout_ms, options_.max_rebalance_timeout_ms);
  MutexLock lock(mu_);
  Group& g = groups_[args.group_id];
  advance(g, now_ms);
  std::optional<JoinResult> result = join_locked(g, args, now_ms);
  member_id = args.member_id;
  return result;
}

std::optional<JoinResult> GroupCoordinator::join_locked(Group& g, JoinArgs& args, int64_t now_ms) {
  JoinResult refused;
  refused.member_id = args.member_id;
  if (!supports_protocols(g, args)) {
    refused.error = ErrorCode::kInconsistentGroupProtocol;
    return refused;
  }
  if (args.member_id.empty()) {
    args.member_id = new_member_id(args.client_id, next_member_++);
    if (args.require_known_member_id) {
      g.pending[args.member_id] = now_ms + args.session_timeout_ms;
      refused.error = ErrorCode::kMemberIdRequired;
      refused.member_id = args.member_id;
      return refused;
    }
  } else if (!g.members.contains(args.member_id) && !g.pending.contains(args.member_id)) {
    refused.error = ErrorCode::kUnknownMemberId;
    return refused;
  }
  g.pending.erase(args.member_id);
  if (args.group_instance_id) {
    // Static membership (KIP-345): a restarted instance takes over its predecessor's place.
    for (auto it = g.members.begin(); it != g.members.end(); ++it) {
      if (it->first != args.member_id && it->second.instance_id == args.group_instance_id) {
        if (g.leader == it->first) g.leader = args.member_id;
        g.members.erase(it);
        break;
      }
    }
  }
  const bool is_new = !g.members.contains(args.member_id);
  Member& m = g.members[args.member_id];
  m.instance_id = args.group_instance_id;
  m.client_id = args.client_id;
  m.client_host = args.client_host;
  m.session_timeout_ms = args.session_timeout_ms;
  m.rebalance_timeout_ms = args.rebalance_timeout_ms;
  m.protocols = std::move(args.protocols);
  m.last_heartbeat_ms = now_ms;
  m.awaiting_join = true;
  m.join_result.reset();
  g.protocol_type = args.protocol_type;
  if (g.state != State::kPreparingRebalance) {
    start_rebalance(g, now_ms);
  } else if (is_new && now_ms < g.initial_delay_until_ms) {
    // A member joining during the initial delay extends it (up to the rebalance timeout), so a
    // burst of starting consumers lands in one generation.
    g.initial_delay_until_ms =
        std::min(now_ms + options_.initial_rebalance_delay_ms, g.initial_delay_cap_ms);
  }
  advance(g, now_ms);
  if (m.join_result) {
    std::optional<JoinResult> out = std::move(m.join_result);
    m.join_result.reset();
    return out;
  }
  return std::nullopt;
}

void GroupCoordinator::start_rebalance(Group& g, int64_t now_ms) {
  int32_t timeout = 0;
  for (const auto& [id, m] : g.members) timeout = std::max(timeout, m.rebalance_timeout_ms);
  if (g.state == State::kEmpty) {
    g.initial_delay_until_ms = now_ms + options_.initial_rebalance_delay_ms;
    g.initial_delay_cap_ms =
        now_ms + std::max<int64_t>(timeout, options_.initial_rebalance_delay_ms);
  } else {
    g.initial_delay_until_ms = 0;
  }
  g.state = State::kPreparingRebalance;
  g.rebalance_deadline_ms = now_ms + timeout;
}

void GroupCoordinator::remove_member(Group& g, const std::string& member_id, int64_t now_ms) {
  g.members.erase(member_id);
  if (g.leader == member_id) g.leader.clear();
  if (g.members.empty()) {
    // Kafka bumps the generation when a group empties, so commits of the last generation fail.
    if (g.state != State::kEmpty) ++g.generation;
    g.state = State::kEmpty;
    g.protocol.clear();
    return;
  }
  if (g.state != State::kPreparingRebalance) start_rebalance(g, now_ms);
}

void GroupCoordinator::advance(Group& g, int64_t now_ms) {
  for (auto it = g.pending.begin(); it != g.pending.end();) {
    it = it->second < now_ms ? g.pending.erase(it) : std::next(it);
  }
  // Sessions expire, except for members waiting in a join: their timer is the rebalance's.
  std::vector<std::string> expired;
  for (const auto& [id, m] : g.members) {
    const bool waiting = g.state == State::kPreparingRebalance && m.awaiting_join;
    if (!waiting && now_ms - m.last_heartbeat_ms > m.session_timeout_ms) expired.push_back(id);
  }
  for (const std::string& id : expired) remove_member(g, id, now_ms);
  if (g.state != State::kPreparingRebalance) return;
  const bool all_joined = std::all_of(g.members.begin(), g.members.end(),
                                      [](const auto& m) { return m.second.awaiting_join; });
  const bool delayed = now_ms < g.initial_delay_until_ms;
  if ((all_joined && !delayed) || now_ms >= g.rebalance_deadline_ms) {
    // Members that did not rejoin in time are out of the group.
    for (auto it = g.members.begin(); it != g.members.end();) {
      it = it->second.awaiting_join ? std::next(it) : g.members.erase(it);
    }
    complete_join(g, now_ms);
  }
}

std::string GroupCoordinator::choose_protocol(const Group& g) const {
  // The protocol every member supports that ranks best over all members' preference orders
  // (Kafka's vote: each member votes for its first choice among the common ones).
  std::map<std::string, int> votes;
  for (const auto& [id, m] : g.members) {
    for (const auto& [name, metadata] : m.protocols) {
      bool common = std::all_of(g.members.begin(), g.members.end(), [&](const auto& other) {
        return std::any_of(other.second.protocols.begin(), other.second.protocols.end(),
                           [&](const auto& p) { return p.first == name; });
      });
      if (common) {
        ++votes[name];
        break;
      }
    }
  }
  std::string best;
  int most = 0;
  for (const auto& [name, n] : votes) {
    if (n > most) best = name, most = n;
  }
  return best;
}

void GroupCoordinator::complete_join(Group& g, int64_t now_ms) {
  ++g.generation;
  g.initial_delay_until_ms = 0;
  if (g.members.empty()) {
    g.state = State::kEmpty;
    g.protocol.clear();
    g.leader.clear();
    return;
  }
  g.protocol = choose_protocol(g);
  if (!g.members.contains(g.leader)) g.leader = g.members.begin()->first;
  g.state = State::kCompletingRebalance;
  for (auto& [id, m] : g.members) {
    JoinResult r;
    r.generation_id = g.generation;
    r.protocol_name = g.protocol;
    r.leader = g.leader;
    r.member_id = id;
    if (id == g.leader) {
      for (const auto& [other_id, other] : g.members) {
        for (const auto& [name, metadata] : other.protocols) {
          if (name == g.protocol) r.members.push_back({other_id, other.instance_id, metadata});
        }
      }
    }
    m.awaiting_join = false;
    m.assignment.clear();
    m.join_result = std::move(r);
    m.last_heartbeat_ms = now_ms;  // every member's session starts over with the generation
  }
}

std::optional<JoinResult> GroupCoordinator::poll_join(const std::string& group_id,
                                                      const std::string& member_id,
                                                      int64_t now_ms) {
  MutexLock lock(mu_);
  Group* g = find(group_id, now_ms);
  auto it = g ? g->members.find(member_id) : decltype(g->members.end()){};
  if (!g || it == g->members.end()) {
    JoinResult gone;
    gone.error = ErrorCode::kUnknownMemberId;
    gone.member_id = member_id;
    return gone;
  }
  if (!it->second.join_result) return std::nullopt;
  std::optional<JoinResult> out = std::move(it->second.join_result);
  it->second.join_result.reset();
  it->second.last_heartbeat_ms = now_ms;  // its session starts over with the new generation
  return out;
}

std::optional<SyncResult> GroupCoordinator::sync(
    const std::string& group_id, int32_t generation_id, const std::string& member_id,
    const std::vector<std::pair<std::string, Bytes>>& assignments, int64_t now_ms) {
  MutexLock lock(mu_);
  Group* g = find(group_id, now_ms);
  if (!g || !g->members.contains(member_id)) return SyncResult{ErrorCode::kUnknownMemberId, {}};
  if (generation_id != g->generation) return SyncResult{ErrorCode::kIllegalGeneration, {}};
  g->members[member_id].last_heartbeat_ms = now_ms;
  if (g->state == State::kPreparingRebalance) {
    return SyncResult{ErrorCode::kRebalanceInProgress, {}};
  }
  if (g->state == State::kCompletingRebalance && member_id == g->leader) {
    for (const auto& [id, assignment] : assignments) {
      auto it = g->members.find(id);
      if (it != g->members.end()) it->second.assignment = assignment;
    }
    g->state = State::kStable;
  }
  if (g->state == State::kStable)
    return SyncResult{ErrorCode::kNone, g->members[member_id].assignment};
  return std::nullopt;
}

std::optional<SyncResult> GroupCoordinator::poll_sync(const std::string& group_id,
                                                      int32_t generation_id,
                                                      const std::string& member_id,
                                                      int64_t now_ms) {
  MutexLock lock(mu_);
  Group* g = find(group_id, now_ms);
  if (!g || !g->members.contains(member_id)) return SyncResult{ErrorCode::kUnknownMemberId, {}};
  if (generation_id != g->generation || g->state == State::kPreparingRebalance) {
    return SyncResult{ErrorCode::kRebalanceInProgress, {}};
  }
  if (g->state == State::kStable)
    return SyncResult{ErrorCode::kNone, g->members[member_id].assignment};
  return std::nullopt;
}

ErrorCode GroupCoordinator::heartbeat(const std::string& group_id, int32_t generation_id,
                                      const std::string& member_id, int64_t now_ms) {
  MutexLock lock(mu_);
  Group* g = find(group_id, now_ms);
  if (!g || !g->members.contains(member_id)) return ErrorCode::kUnknownMemberId;
  if (generation_id != g->generation) return ErrorCode::kIllegalGeneration;
  g->members[member_id].last_heartbeat_ms = now_ms;
  if (g->state == State::kPreparingRebalance) return ErrorCode::kRebalanceInProgress;
  return ErrorCode::kNone;
}

ErrorCode GroupCoordinator::leave(const std::string& group_id, const std::string& member_id,
                                  int64_t now_ms) {
  MutexLock lock(mu_);
  Group* g = find(group_id, now_ms);
  if (!g || !g->members.contains(member_id)) return ErrorCode::kUnknownMemberId;
  remove_member(*g, member_id, now_ms);
  advance(*g, now_ms);
  return ErrorCode::kNone;
}

ErrorCode GroupCoordinator::check_commit(const std::string& group_id, int32_t generation_id,
                                         const std::string& member_id, int64_t now_ms) {
  MutexLock lock(mu_);
  Group* g = find(group_id, now_ms);
  if (!g || g->members.empty()) {
    // Standalone consumers (assign(), kcat without -G) commit with generation -1.
    if (generation_id < 0 && member_id.empty()) return ErrorCode::kNone;
    return ErrorCode::kUnknownMemberId;
  }
  if (generation_id < 0 && member_id.empty()) return ErrorCode::kUnknownMemberId;
  if (!g->members.contains(member_id)) return ErrorCode::kUnknownMemberId;
  if (generation_id != g->generation) return ErrorCode::kIllegalGeneration;
  if (g->state == State::kCompletingRebalance) return ErrorCode::kRebalanceInProgress;
  g->members[member_id].last_heartbeat_ms = now_ms;
  return ErrorCode::kNone;
}

std::vector<std::pair<std::string, std::string>> GroupCoordinator::list() {
  MutexLock lock(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [id, g] : groups_) out.emplace_back(id, g.protocol_type);
  return out;
}

std::optional<GroupDescription> GroupCoordinator::describe(const std::string& group_id,
                                                           int64_t now_ms) {
  MutexLock lock(mu_);
  Group* g = find(group_id, now_ms);
  if (!g) return std::nullopt;
  GroupDescription d;
  d.group_id = group_id;
  d.state = state_name(g->state);
  d.protocol_type = g->protocol_type;
  d.protocol = g->protocol;
  d.generation_id = g->generation;
  for (const auto& [id, m] : g->members) {
    GroupDescription::Member out{id, m.instance_id, m.client_id, m.client_host, {}, m.assignment};
    for (const auto& [name, metadata] : m.protocols) {
      if (name == g->protocol) out.metadata = metadata;
    }
    d.members.push_back(std::move(out));
  }
  return d;
}

void GroupCoordinator::tick(int64_t now_ms) {
  MutexLock lock(mu_);
  for (auto it = groups_.begin(); it != groups_.end();) {
    advance(it->second, now_ms);
    // An empty group is forgotten (its committed offsets live in the log).
    const Group& g = it->second;
    const bool forgotten = g.state == State::kEmpty && g.members.empty() && g.pending.empty();
    it = forgotten ? groups_.erase(it) : std::next(it);
  }
}

}  // namespace sluice::server::kafka

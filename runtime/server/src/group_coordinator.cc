#include "group_coordinator.h"

#include <spdlog/spdlog.h>
#include <algorithm>

namespace sluice::server {

void GroupCoordinator::expire(Group& group) {
  const auto now = Clock::now();
  bool changed = false;
  for (auto it = group.members.begin(); it != group.members.end();) {
    if (now - it->second.last_seen > it->second.session_timeout) {
      spdlog::info("group member {} ({}) expired", it->first, it->second.client);
      it = group.members.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  if (changed) rebalance(group).ignore_error();  // a deleted topic: members find out on fetch
}

Status GroupCoordinator::rebalance(Group& group) {
  ++group.generation;
  for (auto& [id, m] : group.members) m.partitions.clear();
  if (group.members.empty()) return Status();
  SLUICE_ASSIGN_OR_RETURN(int32_t partitions, partitions_of_(group.topic));
  // Range assignor: contiguous runs, the first `extra` members one partition more.
  const int32_t n = static_cast<int32_t>(group.members.size());
  const int32_t base = partitions / n, extra = partitions % n;
  int32_t next = 0, i = 0;
  for (auto& [id, m] : group.members) {
    const int32_t count = base + (i++ < extra ? 1 : 0);
    for (int32_t k = 0; k < count; ++k) m.partitions.push_back(next++);
  }
  return Status();
}

v1::Membership GroupCoordinator::membership(const Group& group,
                                            const std::string& member_id) const {
  v1::Membership out;
  out.set_member_id(member_id);
  out.set_generation(group.generation);
  out.set_members(static_cast<int32_t>(group.members.size()));
  const bool all_caught_up =
      std::all_of(group.members.begin(), group.members.end(),
                  [&](const auto& m) { return m.second.acknowledged == group.generation; });
  if (all_caught_up) {
    out.set_assigned(true);
    for (int32_t p : group.members.at(member_id).partitions) out.add_partitions(p);
  }
  return out;
}

Result<v1::Membership> GroupCoordinator::join(const v1::JoinGroupRequest& request) {
  if (request.group().empty()) return invalid_argument("the group name is empty");
  if (request.topic().empty()) return invalid_argument("a group member names its topic");
  if (request.session_timeout_ms() < 0) {
    return invalid_argument("the session timeout cannot be negative");
  }
  SLUICE_RETURN_IF_ERROR(partitions_of_(request.topic()).status());
  MutexLock lock(mu_);
  Group& group = groups_[request.group()];
  expire(group);
  if (!group.members.empty() && group.topic != request.topic()) {
    return invalid_argument("group '" + request.group() + "' consumes topic '" + group.topic +
                            "', not '" + request.topic() + "': use another group name");
  }
  group.topic = request.topic();
  char id[32];
  std::snprintf(id, sizeof(id), "member-%06llu", static_cast<unsigned long long>(next_member_++));
  Member& m = group.members[id];
  m.client = request.client();
  m.session_timeout = std::chrono::milliseconds(
      request.session_timeout_ms() > 0 ? request.session_timeout_ms() : 10'000);
  m.last_seen = Clock::now();
  SLUICE_RETURN_IF_ERROR(rebalance(group));
  spdlog::info("group '{}': {} ({}) joined, generation {}, {} member(s)", request.group(), id,
               m.client, group.generation, group.members.size());
  return membership(group, id);
}

Result<v1::Membership> GroupCoordinator::heartbeat(const v1::HeartbeatRequest& request) {
  MutexLock lock(mu_);
  auto g = groups_.find(request.group());
  if (g != groups_.end()) expire(g->second);
  if (g == groups_.end() || !g->second.members.contains(request.member_id())) {
    return not_found("member '" + request.member_id() + "' is not in group '" + request.group() +
                     "' (it expired or the server restarted): join again");
  }
  Member& m = g->second.members.at(request.member_id());
  m.last_seen = Clock::now();
  m.acknowledged = std::min(request.acknowledged_generation(), g->second.generation);
  return membership(g->second, request.member_id());
}

Status GroupCoordinator::leave(const v1::LeaveGroupRequest& request) {
  MutexLock lock(mu_);
  auto g = groups_.find(request.group());
  if (g == groups_.end() || g->second.members.erase(request.member_id()) == 0) {
    return not_found("member '" + request.member_id() + "' is not in group '" + request.group() +
                     "'");
  }
  spdlog::info("group '{}': {} left", request.group(), request.member_id());
  return rebalance(g->second);
}

void GroupCoordinator::describe(const std::string& group, v1::GroupDescription& out) {
  MutexLock lock(mu_);
  auto g = groups_.find(group);
  if (g == groups_.end()) return;
  expire(g->second);
  out.set_generation(g->second.generation);
  out.set_topic(g->second.topic);
  for (const auto& [id, m] : g->second.members) {
    v1::GroupMember* gm = out.add_members();
    gm->set_member_id(id);
    gm->set_client(m.client);
    if (membership(g->second, id).assigned()) {
      for (int32_t p : m.partitions) gm->add_partitions(p);
    }
  }
}

}  // namespace sluice::server

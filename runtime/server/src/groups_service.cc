#include <algorithm>

#include "services.h"
#include "sluice/server/grpc_status.h"

namespace sluice::server {

namespace {

void copy_offset(const logstore::TopicPartition& tp, const logstore::CommittedOffset& c,
                 v1::GroupOffset* out) {
  out->set_topic(tp.topic);
  out->set_partition(tp.partition.value());
  out->set_offset(c.offset.value());
  out->set_metadata(c.metadata);
  out->set_commit_time_ms(c.commit_time.value());
}

}  // namespace

GroupsService::GroupsService(logstore::LogStore& log, const CallGuard& guard)
    : log_(log), guard_(guard), coordinator_([&log](const std::string& topic) -> Result<int32_t> {
        SLUICE_ASSIGN_OR_RETURN(auto d, log.describe_topic(topic));
        return d.config.partitions;
      }) {}

grpc::Status GroupsService::JoinGroup(grpc::ServerContext* context,
                                      const v1::JoinGroupRequest* request,
                                      v1::Membership* response) {
  return guard_.run(context, "JoinGroup",
                    [&] { return reply(coordinator_.join(*request), response); });
}

grpc::Status GroupsService::Heartbeat(grpc::ServerContext* context,
                                      const v1::HeartbeatRequest* request,
                                      v1::Membership* response) {
  return guard_.run(context, "Heartbeat",
                    [&] { return reply(coordinator_.heartbeat(*request), response); });
}

grpc::Status GroupsService::LeaveGroup(grpc::ServerContext* context,
                                       const v1::LeaveGroupRequest* request,
                                       v1::LeaveGroupResponse*) {
  return guard_.run(context, "LeaveGroup", [&] { return to_grpc(coordinator_.leave(*request)); });
}

grpc::Status GroupsService::CommitOffsets(grpc::ServerContext* context,
                                          const v1::CommitOffsetsRequest* request,
                                          v1::CommitOffsetsResponse*) {
  return guard_.run(context, "CommitOffsets", [&] {
    if (request->group().empty()) return to_grpc(invalid_argument("the group name is empty"));
    if (request->offsets().empty()) return to_grpc(invalid_argument("no offsets to commit"));
    logstore::OffsetMap offsets;
    for (const v1::GroupOffset& o : request->offsets()) {
      if (o.partition() < 0 || o.offset() < 0) {
        return to_grpc(invalid_argument("partitions and offsets count from 0 (got partition " +
                                        std::to_string(o.partition()) + ", offset " +
                                        std::to_string(o.offset()) + ")"));
      }
      logstore::TopicPartition tp{o.topic(), PartitionId(o.partition())};
      auto ends = log_.partition_ends(tp);
      if (!ends.ok()) return to_grpc(ends.status());
      if (o.offset() > ends->high_watermark.offset().value()) {
        return to_grpc(out_of_range("offset " + std::to_string(o.offset()) +
                                    " is past the end of " + tp.to_string() + " (" +
                                    std::to_string(ends->high_watermark.offset().value()) + ")"));
      }
      offsets[tp] = {.offset = Offset(o.offset()), .metadata = o.metadata()};
    }
    return to_grpc(log_.commit_offsets(request->group(), offsets));
  });
}

grpc::Status GroupsService::FetchOffsets(grpc::ServerContext* context,
                                         const v1::FetchOffsetsRequest* request,
                                         v1::FetchOffsetsResponse* response) {
  return guard_.run(context, "FetchOffsets", [&] {
    if (request->group().empty()) return to_grpc(invalid_argument("the group name is empty"));
    auto offsets = log_.group_offsets(request->group());
    if (!offsets.ok()) return to_grpc(offsets.status());
    for (const auto& [tp, committed] : *offsets) {
      if (!request->topic().empty() && tp.topic != request->topic()) continue;
      copy_offset(tp, committed, response->add_offsets());
    }
    return grpc::Status::OK;
  });
}

grpc::Status GroupsService::ListGroups(grpc::ServerContext* context, const v1::ListGroupsRequest*,
                                       v1::ListGroupsResponse* response) {
  return guard_.run(context, "ListGroups", [&] {
    for (const std::string& g : log_.list_groups()) response->add_groups(g);
    return grpc::Status::OK;
  });
}

grpc::Status GroupsService::DescribeGroup(grpc::ServerContext* context,
                                          const v1::DescribeGroupRequest* request,
                                          v1::GroupDescription* response) {
  return guard_.run(context, "DescribeGroup", [&] {
    if (request->group().empty()) return to_grpc(invalid_argument("the group name is empty"));
    coordinator_.describe(request->group(), *response);
    auto groups = log_.list_groups();
    if (std::find(groups.begin(), groups.end(), request->group()) == groups.end() &&
        response->members_size() == 0) {
      return to_grpc(not_found("group '" + request->group() +
                               "' has no members and no committed offsets (see `sluice group "
                               "list`)"));
    }
    auto offsets = log_.group_offsets(request->group());
    if (!offsets.ok()) return to_grpc(offsets.status());
    response->set_group(request->group());
    int64_t total = 0;
    for (const auto& [tp, committed] : *offsets) {
      v1::GroupPartition* p = response->add_partitions();
      p->set_topic(tp.topic);
      p->set_partition(tp.partition.value());
      p->set_committed_offset(committed.offset.value());
      p->set_commit_time_ms(committed.commit_time.value());
      auto ends = log_.partition_ends(tp);
      if (!ends.ok()) continue;  // the topic was deleted: no end, no lag
      int64_t hw = ends->high_watermark.offset().value();
      p->set_high_watermark(hw);
      p->set_lag(std::max<int64_t>(0, hw - committed.offset.value()));
      total += p->lag();
    }
    response->set_total_lag(total);
    return grpc::Status::OK;
  });
}

}  // namespace sluice::server

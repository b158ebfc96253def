#include <spdlog/spdlog.h>

#include "services.h"
#include "sluice/server/grpc_status.h"

namespace sluice::server {

namespace {

// Far more than any one machine serves well; a typo (`--partitions 100000`) gets an error, not
// a hundred thousand directories.
constexpr int32_t kMaxPartitions = 10'000;

grpc::Status describe_into(logstore::LogStore& log, const std::string& name,
                           v1::TopicDescription* out) {
  if (name.empty()) return to_grpc(invalid_argument("the topic name is empty"));
  auto d = log.describe_topic(name);
  if (!d.ok()) return to_grpc(d.status());
  out->set_name(d->name);
  out->set_internal(logstore::is_internal_topic(d->name));
  for (size_t p = 0; p < d->partitions.size(); ++p) {
    const logstore::PartitionEnds& ends = d->partitions[p];
    v1::PartitionDescription* pd = out->add_partitions();
    pd->set_partition(static_cast<int32_t>(p));
    pd->set_log_start_offset(ends.log_start.value());
    pd->set_high_watermark(ends.high_watermark.offset().value());
    pd->set_last_stable_offset(ends.stable.offset().value());
    pd->set_size_bytes(p < d->partition_bytes.size() ? static_cast<int64_t>(d->partition_bytes[p])
                                                     : 0);
  }
  for (const auto& [key, value] : d->config.to_map()) (*out->mutable_configs())[key] = value;
  return grpc::Status::OK;
}

}  // namespace

grpc::Status TopicsService::CreateTopic(grpc::ServerContext* context,
                                        const v1::CreateTopicRequest* request,
                                        v1::CreateTopicResponse* response) {
  return guard_.run(context, "CreateTopic", [&] {
    logstore::TopicConfig config;
    int32_t partitions = request->partitions() == 0 ? 1 : request->partitions();
    if (partitions < 0 || partitions > kMaxPartitions) {
      return to_grpc(invalid_argument("a topic has 1 to " + std::to_string(kMaxPartitions) +
                                      " partitions, not " + std::to_string(partitions)));
    }
    config.partitions = partitions;
    for (const auto& [key, value] : request->configs()) {
      if (key == "partitions") {
        return to_grpc(
            invalid_argument("set the partition count with the partitions field "
                             "(--partitions N), not as a config"));
      }
      if (Status s = config.set(key, value); !s.ok()) return to_grpc(s);
    }
    if (Status s = log_.create_topic(request->name(), config); !s.ok()) return to_grpc(s);
    spdlog::info("topic '{}' created with {} partition(s)", request->name(), partitions);
    return describe_into(log_, request->name(), response->mutable_topic());
  });
}

grpc::Status TopicsService::ListTopics(grpc::ServerContext* context,
                                       const v1::ListTopicsRequest* request,
                                       v1::ListTopicsResponse* response) {
  return guard_.run(context, "ListTopics", [&] {
    for (const std::string& name : log_.list_topics()) {
      if (logstore::is_internal_topic(name) && !request->include_internal()) continue;
      auto d = log_.describe_topic(name);
      if (!d.ok()) continue;  // deleted since it was listed
      v1::TopicSummary* t = response->add_topics();
      t->set_name(name);
      t->set_partitions(d->config.partitions);
      t->set_internal(logstore::is_internal_topic(name));
    }
    return grpc::Status::OK;
  });
}

grpc::Status TopicsService::DescribeTopic(grpc::ServerContext* context,
                                          const v1::DescribeTopicRequest* request,
                                          v1::TopicDescription* response) {
  return guard_.run(context, "DescribeTopic",
                    [&] { return describe_into(log_, request->name(), response); });
}

grpc::Status TopicsService::AlterTopic(grpc::ServerContext* context,
                                       const v1::AlterTopicRequest* request,
                                       v1::TopicDescription* response) {
  return guard_.run(context, "AlterTopic", [&] {
    if (request->configs().empty()) {
      return to_grpc(invalid_argument("nothing to change: give at least one config key=value"));
    }
    std::map<std::string, std::string> changes(request->configs().begin(),
                                               request->configs().end());
    if (Status s = log_.alter_topic(request->name(), changes); !s.ok()) return to_grpc(s);
    spdlog::info("topic '{}' altered ({} setting(s))", request->name(), changes.size());
    return describe_into(log_, request->name(), response);
  });
}

grpc::Status TopicsService::DeleteTopic(grpc::ServerContext* context,
                                        const v1::DeleteTopicRequest* request,
                                        v1::DeleteTopicResponse*) {
  return guard_.run(context, "DeleteTopic", [&] {
    if (request->name().empty()) return to_grpc(invalid_argument("the topic name is empty"));
    if (Status s = log_.delete_topic(request->name()); !s.ok()) return to_grpc(s);
    spdlog::info("topic '{}' deleted", request->name());
    return grpc::Status::OK;
  });
}

}  // namespace sluice::server

// `sluice topic create|list|describe|alter|delete`.
#include <cstdio>
#include <map>

#include <fmt/core.h>

#include "cli/cli_common.h"

namespace sluice::cli {

namespace {

struct TopicFlags {
  server::ClientOptions client;
  std::string name;
  int32_t partitions = 1;
  std::vector<std::string> configs;  // key=value
  bool internal = false;
};

void print_description(const v1::TopicDescription& d) {
  std::printf("Topic: %s\tPartitions: %d%s\n", d.name().c_str(), d.partitions_size(),
              d.internal() ? "\t(internal)" : "");
  std::printf("  %-9s %15s %15s %15s %15s\n", "Partition", "LogStart", "HighWatermark",
              "LastStable", "Bytes");
  for (const v1::PartitionDescription& p : d.partitions()) {
    std::printf(
        "  %-9d %15lld %15lld %15lld %15lld\n", p.partition(),
        static_cast<long long>(p.log_start_offset()), static_cast<long long>(p.high_watermark()),
        static_cast<long long>(p.last_stable_offset()), static_cast<long long>(p.size_bytes()));
  }
  std::printf("  Configs:\n");
  std::map<std::string, std::string> sorted(d.configs().begin(), d.configs().end());
  for (const auto& [k, v] : sorted) std::printf("    %s=%s\n", k.c_str(), v.c_str());
}

int create(const TopicFlags& f) {
  auto configs = parse_configs(f.configs);
  if (!configs.ok()) return report_failure("topic create", configs.status());
  auto c = connect_or_exit(f.client);
  v1::CreateTopicRequest request;
  request.set_name(f.name);
  request.set_partitions(f.partitions);
  request.mutable_configs()->insert(configs->begin(), configs->end());
  v1::CreateTopicResponse response;
  auto status = c->topics().CreateTopic(c->context().get(), request, &response);
  if (!status.ok()) return report_failure("topic create " + f.name, status, f.client);
  std::printf("Created topic %s with %d partition(s)\n", f.name.c_str(),
              response.topic().partitions_size());
  return 0;
}

int list(const TopicFlags& f) {
  auto c = connect_or_exit(f.client);
  v1::ListTopicsRequest request;
  request.set_include_internal(f.internal);
  v1::ListTopicsResponse response;
  auto status = c->topics().ListTopics(c->context().get(), request, &response);
  if (!status.ok()) return report_failure("topic list", status, f.client);
  for (const v1::TopicSummary& t : response.topics()) {
    std::printf("%s\t%d partition(s)%s\n", t.name().c_str(), t.partitions(),
                t.internal() ? "\tinternal" : "");
  }
  return 0;
}

int describe(const TopicFlags& f) {
  auto c = connect_or_exit(f.client);
  v1::DescribeTopicRequest request;
  request.set_name(f.name);
  v1::TopicDescription response;
  auto status = c->topics().DescribeTopic(c->context().get(), request, &response);
  if (!status.ok()) return report_failure("topic describe " + f.name, status, f.client);
  print_description(response);
  return 0;
}

int alter(const TopicFlags& f) {
  auto configs = parse_configs(f.configs);
  if (!configs.ok()) return report_failure("topic alter", configs.status());
  auto c = connect_or_exit(f.client);
  v1::AlterTopicRequest request;
  request.set_name(f.name);
  request.mutable_configs()->insert(configs->begin(), configs->end());
  v1::TopicDescription response;
  auto status = c->topics().AlterTopic(c->context().get(), request, &response);
  if (!status.ok()) return report_failure("topic alter " + f.name, status, f.client);
  print_description(response);
  return 0;
}

int remove(const TopicFlags& f) {
  auto c = connect_or_exit(f.client);
  v1::DeleteTopicRequest request;
  request.set_name(f.name);
  v1::DeleteTopicResponse response;
  auto status = c->topics().DeleteTopic(c->context().get(), request, &response);
  if (!status.ok()) return report_failure("topic delete " + f.name, status, f.client);
  std::printf("Deleted topic %s\n", f.name.c_str());
  return 0;
}

}  // namespace

void add_topic_command(CLI::App& app) {
  auto f = std::make_shared<TopicFlags>();
  CLI::App* topic = app.add_subcommand("topic", "Create, list, describe, alter and delete topics");
  topic->require_subcommand(1);

  CLI::App* c = topic->add_subcommand("create", "Create a topic");
  c->add_option("name", f->name, "Topic name (letters, digits, '.', '_', '-')")->required();
  c->add_option("-p,--partitions", f->partitions, "Number of partitions")->capture_default_str();
  c->add_option("-c,--config", f->configs,
                "Topic config key=value, repeatable (retention.ms, cleanup.policy, "
                "compression.type, segment.bytes, flush.policy, ...)");
  add_client_flags(*c, f->client);
  c->callback([f] { exit_code() = create(*f); });

  CLI::App* l = topic->add_subcommand("list", "List topics and their partition counts");
  l->add_flag("--internal", f->internal, "Also list internal topics (__consumer_offsets, ...)");
  add_client_flags(*l, f->client);
  l->callback([f] { exit_code() = list(*f); });

  CLI::App* d = topic->add_subcommand(
      "describe", "Show a topic's partitions (start, end, stable offsets, bytes) and configs");
  d->add_option("name", f->name, "Topic name")->required();
  add_client_flags(*d, f->client);
  d->callback([f] { exit_code() = describe(*f); });

  CLI::App* a = topic->add_subcommand("alter", "Change a topic's configs");
  a->add_option("name", f->name, "Topic name")->required();
  a->add_option("-c,--config", f->configs, "Config key=value to set, repeatable")->required();
  add_client_flags(*a, f->client);
  a->callback([f] { exit_code() = alter(*f); });

  CLI::App* del = topic->add_subcommand("delete", "Delete a topic and all its data");
  del->add_option("name", f->name, "Topic name")->required();
  add_client_flags(*del, f->client);
  del->callback([f] { exit_code() = remove(*f); });
}

}  // namespace sluice::cli

// `sluice group list|describe`.
#include <cstdio>

#include "cli/cli_common.h"

namespace sluice::cli {

namespace {

struct GroupFlags {
  server::ClientOptions client;
  std::string group;
};

int list(const GroupFlags& f) {
  auto c = connect_or_exit(f.client);
  v1::ListGroupsResponse response;
  auto status = c->groups().ListGroups(c->context().get(), {}, &response);
  if (!status.ok()) return report_failure("group list", status, f.client);
  for (const std::string& g : response.groups()) std::printf("%s\n", g.c_str());
  return 0;
}

int describe(const GroupFlags& f) {
  auto c = connect_or_exit(f.client);
  v1::DescribeGroupRequest request;
  request.set_group(f.group);
  v1::GroupDescription response;
  auto status = c->groups().DescribeGroup(c->context().get(), request, &response);
  if (!status.ok()) return report_failure("group describe " + f.group, status, f.client);
  std::printf("Group: %s\tTotal lag: %lld\n", response.group().c_str(),
              static_cast<long long>(response.total_lag()));
  std::printf("  %-30s %9s %15s %15s %10s\n", "Topic", "Partition", "Committed", "HighWatermark",
              "Lag");
  if (response.members_size() > 0) {
    std::printf("  Members (generation %lld, topic %s):\n",
                static_cast<long long>(response.generation()), response.topic().c_str());
    for (const v1::GroupMember& m : response.members()) {
      std::string parts;
      for (int32_t p : m.partitions()) parts += (parts.empty() ? "" : ",") + std::to_string(p);
      std::printf("    %s partitions [%s] %s\n", m.member_id().c_str(), parts.c_str(),
                  m.client().c_str());
    }
  }
  for (const v1::GroupPartition& p : response.partitions()) {
    std::printf("  %-30s %9d %15lld %15lld %10lld\n", p.topic().c_str(), p.partition(),
                static_cast<long long>(p.committed_offset()),
                static_cast<long long>(p.high_watermark()), static_cast<long long>(p.lag()));
  }
  return 0;
}

}  // namespace

void add_group_command(CLI::App& app) {
  auto f = std::make_shared<GroupFlags>();
  CLI::App* group = app.add_subcommand("group", "Consumer groups: committed offsets and lag");
  group->require_subcommand(1);
  CLI::App* l = group->add_subcommand("list", "List groups with committed offsets");
  add_client_flags(*l, f->client);
  l->callback([f] { exit_code() = list(*f); });
  CLI::App* d =
      group->add_subcommand("describe", "Committed offset, end and lag of every partition");
  d->add_option("group", f->group, "Group name")->required();
  add_client_flags(*d, f->client);
  d->callback([f] { exit_code() = describe(*f); });
}

}  // namespace sluice::cli

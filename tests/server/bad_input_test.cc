// Malformed and hostile requests: each gets the right gRPC status and a message a person can
// act on, the server stays up, and no existing data changes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "server_test_util.h"

namespace sluice::server::testing {
namespace {

struct BadRequest {
  std::string what;
  std::function<grpc::Status()> call;
  grpc::StatusCode code;
  std::string message_part;  // the message must say this
};

class BadInputTest : public ServerFixture {
 protected:
  void SetUp() override {
    ClientOptions client;
    client.max_message_bytes = 200 << 20;  // let the client send what the server must refuse
    start({}, client);
    ASSERT_TRUE(create_topic("orders", 2).ok());
    v1::ProduceRequest request;
    request.set_topic("orders");
    for (int i = 0; i < 50; ++i) *request.add_records() = record("k" + std::to_string(i), "v");
    ASSERT_TRUE(produce(request).ok());
  }

  grpc::Status produce_with(std::function<void(v1::ProduceRequest&)> edit) {
    v1::ProduceRequest request;
    request.set_topic("orders");
    request.set_partition(0);
    *request.add_records() = record("k", "v");
    edit(request);
    return produce(request);
  }

  grpc::Status create_with(const std::string& name, int32_t partitions,
                           std::map<std::string, std::string> configs = {}) {
    return create_topic(name, partitions, std::move(configs));
  }

  grpc::Status fetch_with(std::function<void(v1::FetchRequest&)> edit) {
    v1::FetchRequest request;
    request.set_topic("orders");
    request.set_stop_at_end(true);
    edit(request);
    auto ctx = api().context(std::chrono::seconds(10));
    auto reader = api().records().Fetch(ctx.get(), request);
    v1::FetchResponse response;
    while (reader->Read(&response)) {
    }
    return reader->Finish();
  }

  grpc::Status commit_with(const std::string& group, const std::string& topic, int32_t partition,
                           int64_t offset) {
    v1::CommitOffsetsRequest request;
    request.set_group(group);
    auto* o = request.add_offsets();
    o->set_topic(topic);
    o->set_partition(partition);
    o->set_offset(offset);
    v1::CommitOffsetsResponse response;
    return api().groups().CommitOffsets(api().context().get(), request, &response);
  }

  grpc::Status submit_library(const std::string& name, const std::string& path,
                              std::map<std::string, std::string> config = {}) {
    v1::JobSpec spec;
    spec.set_name(name);
    spec.set_library_name(std::filesystem::path(path).filename().string());
    spec.mutable_config()->insert(config.begin(), config.end());
    return submit_job(spec, read_bytes(path));
  }

  grpc::Status submit_sample(const std::string& name, const std::string& sample,
                             std::map<std::string, std::string> config = {}, bool replace = false) {
    v1::JobSpec spec;
    spec.set_name(name);
    spec.set_sample(sample);
    spec.set_replace(replace);
    spec.mutable_config()->insert(config.begin(), config.end());
    return submit_job(spec);
  }

  v1::JobState job_state(const std::string& name) {
    v1::JobRequest r;
    r.set_name(name);
    v1::JobDescription d;
    auto s = v1::Jobs::NewStub(api().channel())->DescribeJob(api().context().get(), r, &d);
    return s.ok() ? d.summary().state() : v1::JOB_STATE_UNSPECIFIED;
  }

  static std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // What the test compares before and after: every record of "orders" and the topic list.
  std::string snapshot() {
    std::string out;
    for (const auto& r : fetch_all("orders")) {
      out += std::to_string(r.partition()) + ":" + std::to_string(r.offset()) + ":" + r.key() +
             "=" + r.value() + ";";
    }
    v1::ListTopicsResponse list;
    EXPECT_TRUE(api().topics().ListTopics(api().context().get(), {}, &list).ok());
    for (const auto& t : list.topics()) out += "|" + t.name();
    v1::ListJobsResponse jobs;
    EXPECT_TRUE(
        v1::Jobs::NewStub(api().channel())->ListJobs(api().context().get(), {}, &jobs).ok());
    for (const auto& j : jobs.jobs()) out += "|job " + j.name() + " " + j.source();
    return out;
  }
};

TEST_F(BadInputTest, EachBadRequestGetsTheRightStatusAndChangesNothing) {
  using G = grpc::StatusCode;
  std::vector<BadRequest> cases = {
      {"produce to an unknown topic",
       [&] { return produce_with([](auto& r) { r.set_topic("nope"); }); }, G::NOT_FOUND,
       "topic 'nope' does not exist"},
      {"produce to an empty topic name",
       [&] { return produce_with([](auto& r) { r.set_topic(""); }); }, G::INVALID_ARGUMENT,
       "topic name is empty"},
      {"produce to a negative partition",
       [&] { return produce_with([](auto& r) { r.set_partition(-1); }); }, G::INVALID_ARGUMENT,
       "negative"},
      {"produce to a partition the topic does not have",
       [&] { return produce_with([](auto& r) { r.set_partition(7); }); }, G::NOT_FOUND,
       "no partition 7"},
      {"produce no records", [&] { return produce_with([](auto& r) { r.clear_records(); }); },
       G::INVALID_ARGUMENT, "at least one record"},
      {"produce a negative timestamp",
       [&] { return produce_with([](auto& r) { r.mutable_records(0)->set_timestamp_ms(-5); }); },
       G::INVALID_ARGUMENT, "milliseconds since the epoch"},
      {"produce a 100 MB record",
       [&] {
         return produce_with(
             [](auto& r) { r.mutable_records(0)->set_value(std::string(100 << 20, 'x')); });
       },
       G::RESOURCE_EXHAUSTED, "larger than max"},
      {"produce a batch over the topic's max.batch.bytes",
       [&] {
         return produce_with(
             [](auto& r) { r.mutable_records(0)->set_value(std::string(9 << 20, 'x')); });
       },
       G::INVALID_ARGUMENT, "max.batch.bytes"},
      {"idempotent produce without a partition",
       [&] {
         return produce_with([](auto& r) {
           r.clear_partition();
           r.set_idempotent(true);
         });
       },
       G::INVALID_ARGUMENT, "name their partition"},
      {"idempotent produce with an unknown producer id",
       [&] {
         return produce_with([](auto& r) {
           r.set_idempotent(true);
           r.set_producer_id(123456);
           r.set_producer_epoch(0);
           r.set_base_sequence(17);
         });
       },
       G::FAILED_PRECONDITION, "sequence"},
      {"create a topic with '/' in its name", [&] { return create_with("a/b", 1); },
       G::INVALID_ARGUMENT, "a/b"},
      {"create a topic with an empty name", [&] { return create_with("", 1); }, G::INVALID_ARGUMENT,
       "1 to 249 characters"},
      {"create a topic that exists", [&] { return create_with("orders", 2); }, G::ALREADY_EXISTS,
       "orders"},
      {"create a topic with -3 partitions", [&] { return create_with("x", -3); },
       G::INVALID_ARGUMENT, "-3"},
      {"create a topic with a config value that does not parse",
       [&] {
         return create_with("x", 1, {{"retention.ms", "soon"}});
       },
       G::INVALID_ARGUMENT, "retention.ms"},
      {"create a topic with an unknown config",
       [&] {
         return create_with("x", 1, {{"retention.forever", "1"}});
       },
       G::INVALID_ARGUMENT, "retention.forever"},
      {"create a topic with a reserved name", [&] { return create_with("__mine", 1); },
       G::INVALID_ARGUMENT, "reserved"},
      {"describe an unknown topic",
       [&] {
         v1::DescribeTopicRequest r;
         r.set_name("ghost");
         v1::TopicDescription d;
         return api().topics().DescribeTopic(api().context().get(), r, &d);
       },
       G::NOT_FOUND, "ghost"},
      {"delete an unknown topic",
       [&] {
         v1::DeleteTopicRequest r;
         r.set_name("ghost");
         v1::DeleteTopicResponse d;
         return api().topics().DeleteTopic(api().context().get(), r, &d);
       },
       G::NOT_FOUND, "ghost"},
      {"delete an internal topic",
       [&] {
         v1::DeleteTopicRequest r;
         r.set_name("__consumer_offsets");
         v1::DeleteTopicResponse d;
         return api().topics().DeleteTopic(api().context().get(), r, &d);
       },
       G::INVALID_ARGUMENT, "cannot be deleted"},
      {"alter the partition count",
       [&] {
         v1::AlterTopicRequest r;
         r.set_name("orders");
         (*r.mutable_configs())["partitions"] = "8";
         v1::TopicDescription d;
         return api().topics().AlterTopic(api().context().get(), r, &d);
       },
       G::INVALID_ARGUMENT, "partition count"},
      {"alter with nothing to change",
       [&] {
         v1::AlterTopicRequest r;
         r.set_name("orders");
         v1::TopicDescription d;
         return api().topics().AlterTopic(api().context().get(), r, &d);
       },
       G::INVALID_ARGUMENT, "nothing to change"},
      {"fetch from an offset past the end",
       [&] { return fetch_with([](auto& r) { r.mutable_start()->set_offset(1'000'000); }); },
       G::OUT_OF_RANGE, "-o beginning"},
      {"fetch from a negative partition",
       [&] { return fetch_with([](auto& r) { r.add_partitions(-2); }); }, G::INVALID_ARGUMENT,
       "-2"},
      {"fetch an unknown topic", [&] { return fetch_with([](auto& r) { r.set_topic("nope"); }); },
       G::NOT_FOUND, "nope"},
      {"fetch the last -5 records",
       [&] { return fetch_with([](auto& r) { r.mutable_start()->set_last(-5); }); },
       G::INVALID_ARGUMENT, "cannot be negative"},
      {"list offsets of a negative partition",
       [&] {
         v1::ListOffsetsRequest r;
         r.set_topic("orders");
         r.set_partition(-1);
         v1::ListOffsetsResponse o;
         return api().records().ListOffsets(api().context().get(), r, &o);
       },
       G::INVALID_ARGUMENT, "count from 0"},
      {"commit offsets for an empty group name", [&] { return commit_with("", "orders", 0, 1); },
       G::INVALID_ARGUMENT, "group name is empty"},
      {"commit an offset past the end", [&] { return commit_with("g", "orders", 0, 999'999); },
       G::OUT_OF_RANGE, "past the end"},
      {"commit an offset of an unknown topic", [&] { return commit_with("g", "nope", 0, 0); },
       G::NOT_FOUND, "nope"},
      {"describe an unknown group",
       [&] {
         v1::DescribeGroupRequest r;
         r.set_group("nobody");
         v1::GroupDescription d;
         return api().groups().DescribeGroup(api().context().get(), r, &d);
       },
       G::NOT_FOUND, "nobody"},
      {"submit a file that is not a shared library",
       [&] {
         v1::JobSpec spec;
         spec.set_name("garbage");
         spec.set_library_name("libgarbage.so");
         return submit_job(spec, "this is not an ELF file at all");
       },
       G::INVALID_ARGUMENT, "cannot load job library"},
      {"submit a library without the job symbols",
       [&] { return submit_library("not-a-job", SLUICE_NOT_A_JOB); }, G::INVALID_ARGUMENT,
       "SLUICE_JOB"},
      {"submit a library built for another job ABI",
       [&] { return submit_library("old-abi", SLUICE_WRONG_ABI_JOB); }, G::INVALID_ARGUMENT,
       "rebuild the job"},
      {"submit a library that crashes while loading",
       [&] { return submit_library("crasher", SLUICE_CRASHING_JOB); }, G::INVALID_ARGUMENT,
       "crashed the check process (signal"},  // 11; 6 under ASan, which aborts
      {"submit a job with a config value it refuses",
       [&] {
         return submit_library("bad-config", SLUICE_PAGE_VIEWS_JOB, {{"partitions", "x"}});
       },
       G::INVALID_ARGUMENT, "partitions='x' is not an integer"},
      {"submit a job with 0 threads",
       [&] {
         return submit_sample("no-threads", "page-views", {{"threads", "0"}});
       },
       G::INVALID_ARGUMENT, "threads=0"},
      {"submit a job with a negative task drift other than -1",
       [&] {
         return submit_sample("bad-drift", "page-views", {{"max.task.drift.ms", "-5"}});
       },
       G::INVALID_ARGUMENT, "max.task.drift.ms=-5"},
      {"submit an unknown sample", [&] { return submit_sample("x", "nexmark-q99"); }, G::NOT_FOUND,
       "no sample 'nexmark-q99'"},
      {"submit a job whose name has a '/'", [&] { return submit_sample("a/b", "page-views"); },
       G::INVALID_ARGUMENT, "letters, digits"},
      {"submit a job under a name in use", [&] { return submit_sample("views", "page-views"); },
       G::ALREADY_EXISTS, "--replace"},
      {"replace a job with one that would orphan its state",
       [&] { return submit_sample("views", "sessions", {}, true); }, G::FAILED_PRECONDITION,
       "--reset-state"},
      {"heartbeat of a member that never joined",
       [&] {
         v1::HeartbeatRequest r;
         r.set_group("g");
         r.set_member_id("member-999");
         v1::Membership m;
         return api().groups().Heartbeat(api().context().get(), r, &m);
       },
       G::NOT_FOUND, "join again"},
      {"join a group for an unknown topic",
       [&] {
         v1::JoinGroupRequest r;
         r.set_group("g");
         r.set_topic("nope");
         v1::Membership m;
         return api().groups().JoinGroup(api().context().get(), r, &m);
       },
       G::NOT_FOUND, "nope"},
      {"describe an unknown job",
       [&] {
         v1::JobRequest r;
         r.set_name("ghost");
         v1::JobDescription d;
         return v1::Jobs::NewStub(api().channel())->DescribeJob(api().context().get(), r, &d);
       },
       G::NOT_FOUND, "no job 'ghost'"},
  };
  ASSERT_GE(cases.size(), 20u);
  // The job that the duplicate and orphaning cases collide with.
  ASSERT_TRUE(submit_sample("views", "page-views", {{"partitions", "1"}}).ok());
  for (int i = 0; i < 100 && job_state("views") != v1::RUNNING; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(job_state("views"), v1::RUNNING);

  const std::string before = snapshot();
  for (const BadRequest& c : cases) {
    grpc::Status s = c.call();
    EXPECT_EQ(s.error_code(), c.code)
        << c.what << ": got " << s.error_code() << " " << s.error_message();
    EXPECT_NE(s.error_message().find(c.message_part), std::string::npos)
        << c.what << ": message '" << s.error_message() << "' does not say '" << c.message_part
        << "'";
  }
  EXPECT_EQ(snapshot(), before) << "a refused request changed stored data";
}

}  // namespace
}  // namespace sluice::server::testing

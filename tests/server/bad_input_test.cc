// Malformed and hostile requests: each gets the right gRPC status and a message a person can
// act on, the server stays up, and no existing data changes.
#include <gtest/gtest.h>

#include <functional>

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
  };
  ASSERT_GE(cases.size(), 20u);

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

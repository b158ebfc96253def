// The gRPC API against a real server on a loopback port: topics, produce and fetch streams,
// idempotent producing, groups and lag, health checking and reflection.
#include <gtest/gtest.h>

#include <thread>

#include "server/proto/health.grpc.pb.h"
#include "server/proto/reflection.pb.h"
#include "server_test_util.h"
#include "sluice/base/murmur2.h"

namespace sluice::server::testing {
namespace {

using ApiTest = ServerFixture;

TEST_F(ApiTest, TopicsAreCreatedListedDescribedAlteredAndDeleted) {
  ASSERT_TRUE(create_topic("orders", 3, {{"retention.ms", "60000"}}).ok());
  ASSERT_TRUE(create_topic("users", 1).ok());

  v1::ListTopicsResponse list;
  ASSERT_TRUE(api().topics().ListTopics(api().context().get(), {}, &list).ok());
  std::vector<std::string> names;
  for (const auto& t : list.topics())
    names.push_back(t.name() + "/" + std::to_string(t.partitions()));
  EXPECT_EQ(names, (std::vector<std::string>{"orders/3", "users/1"}));

  v1::ListTopicsRequest with_internal;
  with_internal.set_include_internal(true);
  v1::ListTopicsResponse all;
  ASSERT_TRUE(api().topics().ListTopics(api().context().get(), with_internal, &all).ok());
  EXPECT_GT(all.topics_size(), 2);

  v1::DescribeTopicRequest describe;
  describe.set_name("orders");
  v1::TopicDescription d;
  ASSERT_TRUE(api().topics().DescribeTopic(api().context().get(), describe, &d).ok());
  EXPECT_EQ(d.partitions_size(), 3);
  EXPECT_EQ(d.configs().at("retention.ms"), "60000");

  v1::AlterTopicRequest alter;
  alter.set_name("orders");
  (*alter.mutable_configs())["retention.ms"] = "120000";
  v1::TopicDescription altered;
  ASSERT_TRUE(api().topics().AlterTopic(api().context().get(), alter, &altered).ok());
  EXPECT_EQ(altered.configs().at("retention.ms"), "120000");

  v1::DeleteTopicRequest del;
  del.set_name("users");
  v1::DeleteTopicResponse deleted;
  ASSERT_TRUE(api().topics().DeleteTopic(api().context().get(), del, &deleted).ok());
  v1::ListTopicsResponse after;
  ASSERT_TRUE(api().topics().ListTopics(api().context().get(), {}, &after).ok());
  ASSERT_EQ(after.topics_size(), 1);
  EXPECT_EQ(after.topics(0).name(), "orders");
}

TEST_F(ApiTest, HundredThousandKeyedRecordsStreamedInComeBackIdenticalAndInOrderPerPartition) {
  constexpr int kPartitions = 4;
  constexpr int kRecords = 100'000;
  ASSERT_TRUE(create_topic("lines", kPartitions).ok());

  auto ctx = api().context();
  v1::ProduceStreamResponse summary;
  auto writer = api().records().ProduceStream(ctx.get(), &summary);
  v1::ProduceRequest request;
  std::vector<std::vector<std::pair<std::string, std::string>>> expected(kPartitions);
  for (int i = 0; i < kRecords; ++i) {
    // Keys repeat (so one key's records must stay in order); values include bytes that are not
    // text.
    std::string key = "user-" + std::to_string(i % 997);
    std::string value = "line " + std::to_string(i) + std::string("\0\xff\n\t", 4);
    expected[kafka_partition_for_key(key, kPartitions)].emplace_back(key, value);
    *request.add_records() = record(key, value, 1'700'000'000'000 + i);
    if (request.records_size() == 1000) {
      request.set_topic("lines");
      ASSERT_TRUE(writer->Write(request));
      request.Clear();
    }
  }
  writer->WritesDone();
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(summary.requests(), 100);
  EXPECT_EQ(summary.records(), kRecords);

  std::vector<std::vector<std::pair<std::string, std::string>>> got(kPartitions);
  std::vector<int64_t> next_offset(kPartitions, 0);
  for (const v1::FetchedRecord& r : fetch_all("lines")) {
    ASSERT_EQ(r.offset(), next_offset[r.partition()]++) << "partition " << r.partition();
    got[r.partition()].emplace_back(r.key(), r.value());
  }
  for (int p = 0; p < kPartitions; ++p) {
    EXPECT_GT(got[p].size(), 0u);
    EXPECT_EQ(got[p], expected[p]) << "partition " << p;
  }
}

TEST_F(ApiTest, AStreamStopsAtItsFirstBadRequestKeepingTheOnesBeforeAndNoneAfter) {
  // The server appends a stream's requests on a thread of its own, behind the one reading them:
  // requests already read when one fails must not be appended either.
  ASSERT_TRUE(create_topic("good", 1).ok());
  auto ctx = api().context();
  v1::ProduceStreamResponse summary;
  auto writer = api().records().ProduceStream(ctx.get(), &summary);
  for (int i = 0; i < 8; ++i) {
    v1::ProduceRequest request;
    request.set_topic(i == 2 ? "no-such-topic" : "good");
    request.set_partition(0);
    *request.add_records() = record("k", std::to_string(i), 1000 + i);
    if (!writer->Write(request)) break;  // the server may end the stream first
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("request 3 of the stream"), std::string::npos)
      << s.error_message();
  std::vector<std::string> stored;
  for (const v1::FetchedRecord& r : fetch_all("good")) stored.push_back(r.value());
  EXPECT_EQ(stored, (std::vector<std::string>{"0", "1"}));
}

TEST_F(ApiTest, FetchStartsAtAnOffsetATimestampTheLastNOrTheEnd) {
  ASSERT_TRUE(create_topic("t", 1).ok());
  v1::ProduceRequest request;
  request.set_topic("t");
  request.set_partition(0);
  for (int i = 0; i < 10; ++i)
    *request.add_records() = record("k", std::to_string(i), 1000 * (i + 1));
  ASSERT_TRUE(produce(request).ok());

  auto values = [&](v1::StartPosition start) {
    v1::FetchRequest fr;
    *fr.mutable_start() = start;
    std::string out;
    for (const auto& r : fetch_all("t", fr)) out += r.value();
    return out;
  };
  v1::StartPosition p;
  p.set_offset(7);
  EXPECT_EQ(values(p), "789");
  p.set_timestamp_ms(4500);  // the first record at or after it: "4", stamped 5000
  EXPECT_EQ(values(p), "456789");
  p.set_last(2);
  EXPECT_EQ(values(p), "89");
  p.set_end(true);
  EXPECT_EQ(values(p), "");
  p.set_beginning(true);
  EXPECT_EQ(values(p), "0123456789");

  v1::ListOffsetsRequest lo;
  lo.set_topic("t");
  lo.set_timestamp_ms(3000);
  v1::ListOffsetsResponse offsets;
  ASSERT_TRUE(api().records().ListOffsets(api().context().get(), lo, &offsets).ok());
  EXPECT_EQ(offsets.high_watermark(), 10);
  EXPECT_EQ(offsets.offset_for_timestamp(), 2);
}

TEST_F(ApiTest, AFetchAtTheEndWaitsForNewRecords) {
  ASSERT_TRUE(create_topic("live", 2).ok());
  v1::FetchRequest fr;
  fr.set_topic("live");
  fr.mutable_start()->set_end(true);
  fr.set_max_records(3);
  auto ctx = api().context(std::chrono::seconds(30));
  auto reader = api().records().Fetch(ctx.get(), fr);
  std::thread producer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    v1::ProduceRequest request;
    request.set_topic("live");
    request.set_partition(1);
    for (int i = 0; i < 3; ++i) *request.add_records() = record("k", "new" + std::to_string(i));
    EXPECT_TRUE(produce(request).ok());
  });
  std::vector<std::string> got;
  v1::FetchResponse response;
  while (reader->Read(&response)) {
    for (const auto& r : response.records()) got.push_back(r.value());
  }
  producer.join();
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(got, (std::vector<std::string>{"new0", "new1", "new2"}));
}

TEST_F(ApiTest, ARetriedIdempotentProduceIsStoredOnce) {
  ASSERT_TRUE(create_topic("payments", 1).ok());
  v1::InitProducerResponse producer;
  ASSERT_TRUE(api().records().InitProducer(api().context().get(), {}, &producer).ok());
  v1::ProduceRequest request;
  request.set_topic("payments");
  request.set_partition(0);
  request.set_idempotent(true);
  request.set_producer_id(producer.producer_id());
  request.set_producer_epoch(producer.producer_epoch());
  request.set_base_sequence(0);
  *request.add_records() = record("a", "1");
  *request.add_records() = record("b", "2");
  v1::ProduceResponse first, retry;
  ASSERT_TRUE(produce(request, &first).ok());
  ASSERT_TRUE(produce(request, &retry).ok());
  EXPECT_FALSE(first.appends(0).duplicate());
  EXPECT_TRUE(retry.appends(0).duplicate());
  EXPECT_EQ(retry.appends(0).base_offset(), first.appends(0).base_offset());
  EXPECT_EQ(fetch_all("payments").size(), 2u);

  request.set_base_sequence(5);  // skips 2..4
  grpc::Status gap = produce(request);
  EXPECT_EQ(gap.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << gap.error_message();
}

TEST_F(ApiTest, GroupsCommitOffsetsAndReportLag) {
  ASSERT_TRUE(create_topic("clicks", 2).ok());
  v1::ProduceRequest request;
  request.set_topic("clicks");
  for (int p = 0; p < 2; ++p) {
    request.set_partition(p);
    request.clear_records();
    for (int i = 0; i < 10; ++i) *request.add_records() = record("k", "v");
    ASSERT_TRUE(produce(request).ok());
  }
  v1::CommitOffsetsRequest commit;
  commit.set_group("dashboards");
  auto* o = commit.add_offsets();
  o->set_topic("clicks");
  o->set_partition(0);
  o->set_offset(4);
  o = commit.add_offsets();
  o->set_topic("clicks");
  o->set_partition(1);
  o->set_offset(10);
  v1::CommitOffsetsResponse committed;
  ASSERT_TRUE(api().groups().CommitOffsets(api().context().get(), commit, &committed).ok());

  v1::ListGroupsResponse groups;
  ASSERT_TRUE(api().groups().ListGroups(api().context().get(), {}, &groups).ok());
  ASSERT_EQ(groups.groups_size(), 1);
  EXPECT_EQ(groups.groups(0), "dashboards");

  v1::DescribeGroupRequest describe;
  describe.set_group("dashboards");
  v1::GroupDescription d;
  ASSERT_TRUE(api().groups().DescribeGroup(api().context().get(), describe, &d).ok());
  ASSERT_EQ(d.partitions_size(), 2);
  EXPECT_EQ(d.partitions(0).lag(), 6);
  EXPECT_EQ(d.partitions(1).lag(), 0);
  EXPECT_EQ(d.total_lag(), 6);

  v1::FetchOffsetsRequest fetch;
  fetch.set_group("dashboards");
  fetch.set_topic("clicks");
  v1::FetchOffsetsResponse offsets;
  ASSERT_TRUE(api().groups().FetchOffsets(api().context().get(), fetch, &offsets).ok());
  ASSERT_EQ(offsets.offsets_size(), 2);
  EXPECT_EQ(offsets.offsets(0).offset(), 4);
}

TEST_F(ApiTest, HealthCheckingAndReflectionAreOn) {
  auto health = grpc::health::v1::Health::NewStub(api().channel());
  grpc::health::v1::HealthCheckResponse status;
  ASSERT_TRUE(health->Check(api().context().get(), {}, &status).ok());
  EXPECT_EQ(status.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  // The reflection service's bidirectional stream, called by its method path (see
  // proto/reflection.proto for why there is no generated stub).
  using sluice::test::reflection::ServerReflectionRequest;
  using sluice::test::reflection::ServerReflectionResponse;
  grpc::internal::RpcMethod method("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                   grpc::internal::RpcMethod::BIDI_STREAMING, api().channel());
  auto ctx = api().context(std::chrono::seconds(10));
  std::unique_ptr<grpc::ClientReaderWriter<ServerReflectionRequest, ServerReflectionResponse>>
      stream(grpc::internal::ClientReaderWriterFactory<
             ServerReflectionRequest, ServerReflectionResponse>::Create(api().channel().get(),
                                                                        method, ctx.get()));
  ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::set<std::string> services;
  for (const auto& s : response.list_services_response().service()) services.insert(s.name());
  EXPECT_TRUE(services.contains("sluice.v1.Topics"));
  EXPECT_TRUE(services.contains("sluice.v1.Records"));
  EXPECT_TRUE(services.contains("sluice.v1.Groups"));
  EXPECT_TRUE(stream->Finish().ok());
}

}  // namespace
}  // namespace sluice::server::testing

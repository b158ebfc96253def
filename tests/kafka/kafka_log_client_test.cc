// The runtime's LogClient over librdkafka, against a real broker speaking Kafka's protocol: the
// server's Kafka listener on a loopback port, in this process. The same topology gives the same
// results on it as on the built-in log.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../runtime/runtime_test_util.h"
#include "assert_ok.h"
#include "sluice/kafka/kafka_log_client.h"
#include "sluice/server/server.h"
#include "temp_dir.h"

namespace sluice::kafka {
namespace {

using logstore::IsolationLevel;
using logstore::Record;
using logstore::TopicPartition;

class KafkaLogClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server::ServerConfig config;
    config.data_dir = dir_ / "server";
    config.listen = "127.0.0.1:0";
    config.kafka.listen = "127.0.0.1:0";
    config.kafka.initial_rebalance_delay_ms = 0;
    auto s = server::Server::start(config);
    ASSERT_OK(s.status());
    server_ = std::move(*s);
    KafkaClientOptions options;
    options.bootstrap_servers = server_->kafka_address();
    auto c = connect_kafka(options);
    ASSERT_OK(c.status());
    kafka_ = std::move(*c);
  }
  void TearDown() override {
    kafka_.reset();
    if (server_) server_->shutdown();
  }

  struct Read {
    int64_t offset;
    std::optional<std::string> key, value;
    std::vector<std::pair<std::string, std::optional<std::string>>> headers;
    int64_t timestamp;
  };
  std::vector<Read> read_all(const TopicPartition& tp, IsolationLevel isolation, size_t want) {
    std::vector<Read> out;
    Offset at(0);
    for (int i = 0; i < 200 && out.size() < want; ++i) {
      auto f =
          kafka_->fetch({.partition = tp, .offset = at, .isolation = isolation, .max_wait_ms = 50});
      EXPECT_TRUE(f.ok()) << f.status().to_string();
      if (!f.ok()) break;
      EXPECT_TRUE(logstore::for_each_record(*f, at, isolation, [&](const logstore::RecordView& r) {
                    Read rd{r.offset.value(), std::nullopt, std::nullopt, {}, r.timestamp.value()};
                    if (r.key) rd.key = std::string(*r.key);
                    if (r.value) rd.value = std::string(*r.value);
                    for (const auto& h : r.headers) {
                      rd.headers.emplace_back(
                          std::string(h.key),
                          h.value ? std::optional<std::string>(*h.value) : std::nullopt);
                    }
                    out.push_back(rd);
                  }).ok());
      at = f->next_offset;
    }
    return out;
  }

  sluice::testing::TempDir dir_;
  std::unique_ptr<server::Server> server_;
  std::unique_ptr<logstore::LogClient> kafka_;
};

TEST_F(KafkaLogClientTest, TopicsAreCreatedDescribedAndListedThroughTheAdminApi) {
  logstore::TopicConfig config;
  config.partitions = 3;
  config.cleanup_policy = logstore::CleanupPolicy::kCompact;
  ASSERT_OK(kafka_->create_topic("admin-made", config));
  EXPECT_EQ(kafka_->create_topic("admin-made", config).code(), StatusCode::kAlreadyExists);
  auto d = kafka_->describe_topic("admin-made");
  ASSERT_OK(d.status());
  EXPECT_EQ(d->partitions.size(), 3u);
  // The broker created it as asked: compacted.
  auto local = server_->log().describe_topic("admin-made");
  ASSERT_OK(local.status());
  EXPECT_EQ(local->config.cleanup_policy, logstore::CleanupPolicy::kCompact);
  EXPECT_EQ(kafka_->describe_topic("never-made").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(server_->log().describe_topic("never-made").ok()) << "describing created it";
  auto topics = kafka_->list_topics();
  EXPECT_NE(std::find(topics.begin(), topics.end(), "admin-made"), topics.end());
}

TEST_F(KafkaLogClientTest, AppendedRecordsAreFetchedBackWithTheirOffsetsKeysHeadersAndNulls) {
  logstore::TopicConfig config;
  config.partitions = 2;
  config.retention_ms = -1;  // the records below are timestamped in 1970
  ASSERT_OK(kafka_->create_topic("records", config));
  const TopicPartition tp{"records", PartitionId(1)};
  std::vector<logstore::RecordHeader> headers = {{.key = "h", .value = ByteView("v")},
                                                 {.key = "null", .value = std::nullopt}};
  std::vector<Record> records = {
      {.key = ByteView("a"), .value = ByteView("1"), .timestamp = Timestamp(1000)},
      {.key = std::nullopt,
       .value = ByteView("2"),
       .timestamp = Timestamp(2000),
       .headers = headers},
      {.key = ByteView("c"), .value = std::nullopt, .timestamp = Timestamp(3000)}};
  auto appended = kafka_->append(tp, records);
  ASSERT_OK(appended.status());
  EXPECT_EQ(appended->base_offset, Offset(0));
  EXPECT_EQ(appended->last_offset, Offset(2));
  std::vector<Read> got = read_all(tp, IsolationLevel::kReadCommitted, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].key, "a");
  EXPECT_EQ(got[0].value, "1");
  EXPECT_EQ(got[0].timestamp, 1000);
  EXPECT_EQ(got[1].key, std::nullopt);
  ASSERT_EQ(got[1].headers.size(), 2u);
  EXPECT_EQ(got[1].headers[0].second, "v");
  EXPECT_EQ(got[1].headers[1].second, std::nullopt);
  EXPECT_EQ(got[2].value, std::nullopt);  // a tombstone stays a tombstone
  EXPECT_EQ(got[2].offset, 2);
  auto ends = kafka_->partition_ends(tp);
  ASSERT_OK(ends.status());
  EXPECT_EQ(ends->high_watermark.offset(), Offset(3));
  EXPECT_EQ(ends->stable.offset(), Offset(3));
  // Fetching from the middle starts there.
  auto from = kafka_->fetch({.partition = tp, .offset = Offset(2), .max_wait_ms = 1000});
  ASSERT_OK(from.status());
  EXPECT_EQ(from->next_offset, Offset(3));
  auto at = kafka_->offset_for_timestamp(tp, Timestamp(1500));
  ASSERT_OK(at.status());
  EXPECT_EQ(*at, std::optional<Offset>(Offset(1)));
  ASSERT_OK(kafka_->delete_records(tp, Offset(2)));
  EXPECT_EQ(kafka_->partition_ends(tp)->log_start, Offset(2));
}

TEST_F(KafkaLogClientTest, TransactionsCommitRecordsAndOffsetsTogetherAndAbortsStayInvisible) {
  logstore::TopicConfig config;
  ASSERT_OK(kafka_->create_topic("txn-out", config));
  ASSERT_OK(kafka_->create_topic("txn-in", config));
  const TopicPartition out{"txn-out", PartitionId(0)};
  const TopicPartition in{"txn-in", PartitionId(0)};
  auto producer = kafka_->create_producer({.transactional_id = "job-0"});
  ASSERT_OK(producer.status());
  logstore::Producer& p = **producer;
  std::vector<Record> one = {{.key = ByteView("k"), .value = ByteView("aborted")}};
  ASSERT_OK(p.begin_transaction());
  ASSERT_OK(p.append(out, one).status());
  ASSERT_OK(p.abort_transaction());
  std::vector<Record> two = {{.key = ByteView("k"), .value = ByteView("committed")}};
  ASSERT_OK(p.begin_transaction());
  ASSERT_OK(p.append(out, two).status());
  ASSERT_OK(p.send_offsets_to_transaction("job", {{in, {.offset = Offset(42)}}}));
  ASSERT_OK(p.commit_transaction());

  std::vector<Read> committed = read_all(out, IsolationLevel::kReadCommitted, 1);
  ASSERT_EQ(committed.size(), 1u);
  EXPECT_EQ(committed[0].value, "committed");
  // The aborted record and both markers are offset gaps: the committed one is at offset 2.
  EXPECT_EQ(committed[0].offset, 2);
  auto offset = kafka_->committed_offset("job", in);
  ASSERT_OK(offset.status());
  ASSERT_TRUE(offset->has_value());
  EXPECT_EQ((*offset)->offset, Offset(42));
  // At-least-once commits go through the same group offsets.
  ASSERT_OK(kafka_->commit_offsets("other", {{in, {.offset = Offset(7), .metadata = "m"}}}));
  auto other = kafka_->committed_offset("other", in);
  ASSERT_OK(other.status());
  EXPECT_EQ((*other)->offset, Offset(7));
  EXPECT_EQ((*other)->metadata, "m");
  EXPECT_EQ(*kafka_->committed_offset("nobody", in), std::nullopt);
}

TEST_F(KafkaLogClientTest, ATopologyGivesTheSameResultsOnKafkaAsOnTheBuiltInLog) {
  std::vector<runtime::testing::Event> events = runtime::testing::page_views(4'000, 11);
  auto run_on = [&](logstore::LogClient& log, const std::string& state) {
    EXPECT_OK(runtime::testing::create_topic(log, "views", 4));
    EXPECT_OK(runtime::testing::create_topic(log, "views-per-page-out", 4));
    EXPECT_OK(runtime::testing::produce(log, "views", events));
    runtime::RuntimeConfig rc;
    rc.application_id = "counts";
    rc.state_dir = dir_ / state;
    rc.commit_interval_ms = 50;
    auto rt = runtime::Runtime::create(runtime::testing::windowed_count_topology(), log, rc);
    EXPECT_OK(rt.status());
    EXPECT_OK((*rt)->start());
    EXPECT_TRUE(runtime::testing::wait_until_caught_up(**rt, log, "counts"));
    (*rt)->stop();
    EXPECT_OK((*rt)->wait());
    auto out = runtime::testing::read_committed<operators::Windowed<std::string>, int64_t>(
        log, "views-per-page-out");
    EXPECT_OK(out.status());
    return runtime::testing::final_counts(*out);
  };
  runtime::testing::FinalCounts on_kafka = run_on(*kafka_, "kafka-state");
  logstore::LogStoreOptions lo;
  lo.data_dir = dir_ / "embedded";
  auto embedded = logstore::LogStore::open(lo);
  ASSERT_OK(embedded.status());
  runtime::testing::FinalCounts on_embedded = run_on(**embedded, "embedded-state");
  EXPECT_EQ(on_kafka.last, runtime::testing::count_oracle(events));
  EXPECT_EQ(on_kafka.last, on_embedded.last);
  EXPECT_EQ(on_kafka.non_increasing, 0);  // exactly once: no update seen twice
}

}  // namespace
}  // namespace sluice::kafka

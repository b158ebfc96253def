// Scaling out on Kafka: several `sluice run --backend kafka` processes of one job form a
// consumer group and share its partitions. Against librdkafka's mock cluster (3 brokers),
// a member that dies is replaced by the other, which restores the dead member's state from the
// changelogs; against Sluice's own Kafka listener, exactly-once survives members killed with
// SIGKILL at random moments, again and again.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "server_process.h"
#include "sluice/base/murmur2.h"
#include "sluice/kafka/kafka_log_client.h"
#include "sluice/operators/serde.h"
#include "sluice/operators/topic_plan.h"
#include "sluice/operators/windows.h"
#include "sluice/samples/page_views.h"
#include "temp_dir.h"

namespace sluice::server::testing {
namespace {

using logstore::TopicPartition;
using samples::PageView;
using samples::ViewsPerPage;

constexpr int kPartitions = 4;
constexpr std::string_view kJob = "views";

using Updates = std::map<std::pair<int64_t, std::string>, std::vector<int64_t>>;

class ScaleOutTest : public ::testing::Test {
 protected:
  void connect(const std::string& bootstrap) {
    bootstrap_ = bootstrap;
    kafka::KafkaClientOptions o;
    o.bootstrap_servers = bootstrap;
    o.timeout_ms = 20'000;
    auto c = kafka::connect_kafka(o);
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    log_ = std::move(*c);
  }

  // One instance of the job: a `sluice run` process with its own data directory.
  // `session_timeout_ms`: how soon the group notices a dead instance.
  std::unique_ptr<CliProcess> start_instance(const std::string& name, int session_timeout_ms,
                                             const std::vector<std::string>& extra) {
    std::vector<std::string> args = {
        "run",         SLUICE_PAGE_VIEWS_JOB,
        "--name",      std::string(kJob),
        "--backend",   "kafka",
        "--bootstrap", bootstrap_,
        "--data-dir",  dir_ / name,
        "-c",          "partitions=" + std::to_string(kPartitions),
        "-c",          "commit.interval.ms=100",
        "-X",          "session.timeout.ms=" + std::to_string(session_timeout_ms),
        "-X",          "heartbeat.interval.ms=" + std::to_string(session_timeout_ms / 6),
        "-X",          "max.poll.interval.ms=20000"};
    args.insert(args.end(), extra.begin(), extra.end());
    // Appended: every life of an instance is in its log.
    const std::string err = dir_ / (name + ".err");
    return std::make_unique<CliProcess>(args, dir_ / (name + ".out"), err, /*append=*/true);
  }

  // Produces the next `n` events, keyed by user as a Kafka producer would, and counts them as
  // the oracle does.
  void produce(samples::PageViewGenerator& gen, int n) {
    std::vector<std::vector<std::pair<std::string, std::string>>> kv(kPartitions);
    std::vector<std::vector<int64_t>> ts(kPartitions);
    for (int i = 0; i < n && !gen.done(); ++i) {
      PageView v = gen.next();
      if (!samples::is_bot(v))
        ++oracle_[{v.timestamp / samples::kWindowMs * samples::kWindowMs, v.page}];
      const int p = kafka_partition_for_key(v.user, kPartitions);
      kv[p].push_back({v.user, nlohmann::json(v).dump()});
      ts[p].push_back(v.timestamp);
    }
    for (int p = 0; p < kPartitions; ++p) {
      std::vector<logstore::Record> records;
      for (size_t i = 0; i < kv[p].size(); ++i) {
        records.push_back({.key = ByteView(kv[p][i].first),
                           .value = ByteView(kv[p][i].second),
                           .timestamp = Timestamp(ts[p][i])});
      }
      for (size_t at = 0; at < records.size(); at += 1000) {
        const size_t n_batch = std::min<size_t>(1000, records.size() - at);
        auto r = log_->append({std::string(samples::kPageViewsTopic), PartitionId(p)},
                              std::span(records).subspan(at, n_batch));
        ASSERT_TRUE(r.ok()) << r.status().to_string();
      }
    }
  }

  // The committed (read-committed) output: every update per (window, page), in order.
  Updates read_output() {
    Updates updates;
    for (int p = 0; p < kPartitions; ++p) {
      TopicPartition tp{std::string(samples::kViewsPerPageTopic), PartitionId(p)};
      auto ends = log_->partition_ends(tp);
      if (!ends.ok()) {
        ADD_FAILURE() << ends.status().to_string();
        return {};
      }
      Offset at = ends->log_start;
      while (at < ends->stable.offset()) {
        auto f = log_->fetch(
            {.partition = tp, .offset = at, .isolation = logstore::IsolationLevel::kReadCommitted});
        if (!f.ok()) {
          ADD_FAILURE() << f.status().to_string();
          return {};
        }
        Status s = logstore::for_each_record(
            *f, at, logstore::IsolationLevel::kReadCommitted, [&](const logstore::RecordView& r) {
              auto key = operators::decode<operators::Windowed<std::string>>(*r.key);
              auto count = operators::decode<int64_t>(*r.value);
              EXPECT_TRUE(key.ok() && count.ok());
              if (key.ok() && count.ok())
                updates[{key->window.start.value(), key->key}].push_back(*count);
              return Status();
            });
        EXPECT_TRUE(s.ok()) << s.to_string();
        if (f->next_offset <= at) break;
        at = f->next_offset;
      }
    }
    return updates;
  }

  static ViewsPerPage final_counts(const Updates& updates) {
    ViewsPerPage out;
    for (const auto& [key, counts] : updates) out[key] = counts.back();
    return out;
  }

  // Waits until the committed output equals the oracle (or two minutes pass).
  bool wait_for_oracle() {
    for (int i = 0; i < 600; ++i) {
      if (final_counts(read_output()) == oracle_) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  // Every input partition of the job (its source and its repartition topic) has its committed
  // position at its end: all input so far is processed and committed.
  bool caught_up() {
    for (const std::string& topic : input_topics()) {
      for (int p = 0; p < kPartitions; ++p) {
        TopicPartition tp{topic, PartitionId(p)};
        auto committed = log_->committed_offset(kJob, tp);
        auto ends = log_->partition_ends(tp);
        if (!committed.ok() || !ends.ok() || !*committed ||
            (*committed)->offset < ends->stable.offset()) {
          return false;
        }
      }
    }
    return true;
  }

  bool wait_until_caught_up() {
    for (int i = 0; i < 600; ++i) {
      if (caught_up()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  // The job's topics as the runtime names them: its input, the repartition topic and the
  // changelog of its store.
  static operators::TopicPlan plan() {
    auto topology = samples::page_views_topology();
    EXPECT_TRUE(topology.ok());
    auto plan = operators::plan_topics(
        *topology, kJob, [](const std::string&) { return Result<int32_t>(kPartitions); });
    EXPECT_TRUE(plan.ok()) << plan.status().to_string();
    return *plan;
  }

  static std::vector<std::string> input_topics() {
    std::vector<std::string> out = {std::string(samples::kPageViewsTopic)};
    operators::TopicPlan p = plan();
    for (const auto& t : p.internal) out.push_back(p.log_name(t));
    return out;
  }

  static std::vector<std::string> all_topics() {
    std::vector<std::string> out = input_topics();
    out.push_back(std::string(samples::kViewsPerPageTopic));
    out.push_back(std::string(kJob) + "-" + std::string(samples::kViewsPerPageStore) +
                  "-changelog");
    return out;
  }

  // How often the instance's log says it was assigned some tasks, and the last such line.
  std::pair<int, std::string> assignments(const std::string& instance) {
    std::ifstream in(dir_ / (instance + ".err"));
    std::pair<int, std::string> out;
    for (std::string line; std::getline(in, line);) {
      if (line.find("assigned tasks") == std::string::npos ||
          line.find("(none)") != std::string::npos) {
        continue;
      }
      ++out.first;
      out.second = line;
    }
    return out;
  }

  // Every (window, page) saw strictly increasing counts: no update was committed twice.
  static void expect_no_repeated_updates(const Updates& updates) {
    int repeats = 0;
    for (const auto& [key, counts] : updates) {
      for (size_t i = 1; i < counts.size(); ++i) repeats += counts[i] <= counts[i - 1] ? 1 : 0;
    }
    EXPECT_EQ(repeats, 0) << "updates committed more than once";
  }

  sluice::testing::TempDir dir_;
  std::string bootstrap_;
  std::unique_ptr<logstore::LogClient> log_;
  ViewsPerPage oracle_;
};

// librdkafka's mock cluster, in this process: 3 brokers, topics created up front (the mock
// has no CreateTopics), no transaction markers — so the job runs at-least-once.
class MockCluster {
 public:
  MockCluster() {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    cluster_ = rd_kafka_mock_cluster_new(rk_, 3);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(rk_);
  }
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  void create_topic(const std::string& name, int partitions) {
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, 3),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

TEST_F(ScaleOutTest, TwoInstancesShareTheJobAndOneTakesOverWhenTheOtherDiesOnAMockCluster) {
  MockCluster cluster;
  for (const std::string& topic : all_topics()) cluster.create_topic(topic, kPartitions);
  connect(cluster.bootstraps());

  // The mock holds a new group's first join for 3 s: sessions must outlast that.
  const std::vector<std::string> at_least_once = {"-c", "processing.guarantee=at_least_once"};
  auto a = start_instance("a", 6'000, at_least_once);
  auto b = start_instance("b", 6'000, at_least_once);
  // Both in the group before any input: the mock refuses commits while a group rebalances, so
  // a rebalance with work in flight would make at-least-once redo some of it.
  auto holds_half = [&](const std::string& instance) {
    const std::string last = assignments(instance).second;
    return last.find("0_") != std::string::npos && last.find("0_0 0_1 0_2") == std::string::npos;
  };
  for (int i = 0; i < 600 && !(holds_half("a") && holds_half("b")); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(holds_half("a") && holds_half("b"))
      << read_file(dir_ / "a.err") << read_file(dir_ / "b.err");
  // Event time runs 2,000 events a second: the 1-minute windows span both halves of the input.
  samples::PageViewGenerator gen({.seed = 21, .events = 40'000, .pages = 60, .users = 2'000});
  produce(gen, 20'000);
  ASSERT_TRUE(wait_for_oracle()) << "the two instances never produced the oracle's counts\n"
                                 << read_file(dir_ / "a.err") << read_file(dir_ / "b.err");
  ASSERT_TRUE(wait_until_caught_up());
  // They shared the work: each was last assigned half of the 8 tasks (2 sub-topologies x 4).
  auto [a_rounds, a_last] = assignments("a");
  auto [b_rounds, b_last] = assignments("b");
  EXPECT_NE(a_last.find("assigned tasks 0_"), std::string::npos) << a_last;
  EXPECT_NE(b_last.find("assigned tasks 0_"), std::string::npos) << b_last;

  // b dies; once its session times out a takes its partitions, restores b's stores from the
  // changelog and processes the second half on top of them.
  EXPECT_EQ(b->stop(SIGKILL), -SIGKILL);
  produce(gen, 20'000);
  EXPECT_TRUE(wait_for_oracle()) << "after the takeover the counts never matched the oracle\n"
                                 << read_file(dir_ / "a.err");
  auto [rounds_after, last_after] = assignments("a");
  EXPECT_GT(rounds_after, a_rounds);
  for (int p = 0; p < kPartitions; ++p) {
    EXPECT_NE(last_after.find("1_" + std::to_string(p)), std::string::npos) << last_after;
  }
  EXPECT_NE(read_file(dir_ / "a.err").find("restored store"), std::string::npos);
  EXPECT_EQ(a->stop(SIGTERM), 0) << read_file(dir_ / "a.err");
  log_.reset();  // before the cluster goes
}

TEST_F(ScaleOutTest, ExactlyOnceHoldsWhileInstancesAreKilledAndRestartedOnSluicesKafkaListener) {
  sluice::testing::TempDir server_dir;
  ServerProcess server(
      server_dir / "data", server_dir / "server.log",
      {"--kafka-listen", "127.0.0.1:0", "--kafka-initial-rebalance-delay-ms", "300"});
  ASSERT_FALSE(server.kafka_address().empty());
  connect(server.kafka_address());
  for (const std::string& topic :
       {std::string(samples::kPageViewsTopic), std::string(samples::kViewsPerPageTopic)}) {
    logstore::TopicConfig tc;
    tc.partitions = kPartitions;
    ASSERT_TRUE(log_->create_topic(topic, tc).ok());
  }

  std::map<std::string, std::unique_ptr<CliProcess>> instances;
  // A killed instance leaves the group 2 s later.
  instances["a"] = start_instance("a", 2'000, {});
  instances["b"] = start_instance("b", 2'000, {});
  samples::PageViewGenerator gen({.seed = 33, .events = 60'000, .pages = 60, .users = 2'000});
  std::mt19937 random(33);
  constexpr int kRounds = 10;
  for (int round = 0; round < kRounds; ++round) {
    produce(gen, 5'000);
    // A moment anywhere in processing, a commit, or a rebalance.
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + random() % 1000));
    const std::string victim = random() % 2 == 0 ? "a" : "b";
    const int assigned_before = assignments(victim).first;
    EXPECT_EQ(instances[victim]->stop(SIGKILL), -SIGKILL);
    instances[victim] = start_instance(victim, 2'000, {});
    // Back in the group with tasks of its own before the next kill.
    for (int i = 0; i < 150 && assignments(victim).first == assigned_before; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  produce(gen, 10'000);
  EXPECT_TRUE(wait_for_oracle()) << "the read-committed output never matched the oracle\n"
                                 << read_file(dir_ / "a.err") << read_file(dir_ / "b.err");
  expect_no_repeated_updates(read_output());
  for (auto& [name, process] : instances) {
    EXPECT_EQ(process->stop(SIGTERM), 0) << read_file(dir_ / (name + ".err"));
  }
}

}  // namespace
}  // namespace sluice::server::testing

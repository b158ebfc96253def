// Kafka clients against the server's Kafka listener: librdkafka's C++ API (the client most
// Kafka tools build on) producing and consuming, in groups and in transactions; and records
// crossing between Kafka clients, the sluice CLI and topologies.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../runtime/runtime_test_util.h"
#include "server_process.h"
#include "server_test_util.h"

namespace sluice::server::testing {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<RdKafka::Conf> kafka_conf(const std::string& bootstrap,
                                          const std::map<std::string, std::string>& settings) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  EXPECT_EQ(conf->set("bootstrap.servers", bootstrap, err), RdKafka::Conf::CONF_OK) << err;
  for (const auto& [k, v] : settings) {
    EXPECT_EQ(conf->set(k, v, err), RdKafka::Conf::CONF_OK) << k << ": " << err;
  }
  return conf;
}

struct Sent {
  std::optional<std::string> key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Delivery reports: where each message (its index, as the opaque) landed.
class Deliveries : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    std::lock_guard lock(mu_);
    if (m.err() != RdKafka::ERR_NO_ERROR) {
      errors_.push_back(m.errstr());
      return;
    }
    where_[{m.partition(), m.offset()}] = reinterpret_cast<intptr_t>(m.msg_opaque());
  }
  std::map<std::pair<int32_t, int64_t>, intptr_t> where() {
    std::lock_guard lock(mu_);
    return where_;
  }
  std::vector<std::string> errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }

 private:
  std::mutex mu_;
  std::map<std::pair<int32_t, int64_t>, intptr_t> where_;
  std::vector<std::string> errors_;
};

struct Received {
  int32_t partition;
  int64_t offset;
  std::optional<std::string> key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t timestamp;
};

Received received(RdKafka::Message& m) {
  Received r{m.partition(),
             m.offset(),
             std::nullopt,
             std::string(static_cast<const char*>(m.payload()), m.len()),
             {},
             m.timestamp().timestamp};
  if (m.key_pointer() != nullptr) {
    r.key = std::string(static_cast<const char*>(m.key_pointer()), m.key_len());
  }
  if (RdKafka::Headers* h = m.headers()) {
    for (const RdKafka::Headers::Header& header : h->get_all()) {
      r.headers.emplace_back(
          header.key(), std::string(static_cast<const char*>(header.value()), header.value_size()));
    }
  }
  return r;
}

class KafkaClientTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerConfig config;
    config.kafka.listen = "127.0.0.1:0";
    config.kafka.initial_rebalance_delay_ms = 200;
    start(config);
    bootstrap_ = server_->kafka_address();
    ASSERT_FALSE(bootstrap_.empty());
  }

  std::unique_ptr<RdKafka::Producer> producer(std::map<std::string, std::string> settings,
                                              RdKafka::DeliveryReportCb* dr = nullptr) {
    auto conf = kafka_conf(bootstrap_, settings);
    std::string err;
    if (dr) {
      EXPECT_EQ(conf->set("dr_cb", dr, err), RdKafka::Conf::CONF_OK);
    }
    std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
    EXPECT_NE(p, nullptr) << err;
    return p;
  }

  std::unique_ptr<RdKafka::KafkaConsumer> consumer(std::map<std::string, std::string> settings) {
    settings.try_emplace("group.id", "test-" + std::to_string(next_group_++));
    settings.try_emplace("auto.offset.reset", "earliest");
    settings.try_emplace("enable.auto.commit", "false");
    auto conf = kafka_conf(bootstrap_, settings);
    std::string err;
    std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
    EXPECT_NE(c, nullptr) << err;
    return c;
  }

  // Reads every partition of `topic` from the start until `count` messages arrived (or 30 s).
  std::vector<Received> consume_all(const std::string& topic, int partitions, size_t count,
                                    std::map<std::string, std::string> settings = {}) {
    auto c = consumer(std::move(settings));
    std::vector<RdKafka::TopicPartition*> assignment;
    for (int p = 0; p < partitions; ++p) {
      assignment.push_back(
          RdKafka::TopicPartition::create(topic, p, RdKafka::Topic::OFFSET_BEGINNING));
    }
    EXPECT_EQ(c->assign(assignment), RdKafka::ERR_NO_ERROR);
    RdKafka::TopicPartition::destroy(assignment);
    std::vector<Received> out;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
      std::unique_ptr<RdKafka::Message> m(c->consume(100));
      if (m->err() == RdKafka::ERR_NO_ERROR) {
        out.push_back(received(*m));
      } else if (m->err() != RdKafka::ERR__TIMED_OUT && m->err() != RdKafka::ERR__PARTITION_EOF) {
        ADD_FAILURE() << "consume: " << m->errstr();
        break;
      }
    }
    c->close();
    return out;
  }

  // The compression codec of every stored batch of `topic`.
  std::set<logstore::Compression> stored_codecs(const std::string& topic, int partitions) {
    std::set<logstore::Compression> codecs;
    for (int p = 0; p < partitions; ++p) {
      Offset at(0);
      while (true) {
        auto f = server_->log().fetch({.partition = {topic, PartitionId(p)},
                                       .offset = at,
                                       .isolation = logstore::IsolationLevel::kReadUncommitted});
        if (!f.ok() || f->batches.empty()) break;
        ByteView rest = f->batches;
        while (!rest.empty()) {
          auto batch = logstore::RecordBatchView::parse(rest);
          if (!batch.ok()) break;
          codecs.insert(batch->header().compression());
          rest.remove_prefix(batch->bytes().size());
        }
        at = f->next_offset;
      }
    }
    return codecs;
  }

  std::string bootstrap_;
  int next_group_ = 0;
};

class KafkaCompressionTest : public KafkaClientTest,
                             public ::testing::WithParamInterface<std::string> {};

INSTANTIATE_TEST_SUITE_P(EveryCodec, KafkaCompressionTest,
                         ::testing::Values("none", "gzip", "snappy", "lz4", "zstd"));

TEST_P(KafkaCompressionTest, HundredThousandIdempotentRecordsComeBackByteIdentical) {
  const std::string codec = GetParam();
  const std::string topic = "records-" + codec;
  ASSERT_TRUE(create_topic(topic, 4).ok());
  constexpr int kRecords = 100'000;
  std::mt19937 rng(42);
  std::vector<Sent> sent(kRecords);
  for (int i = 0; i < kRecords; ++i) {
    Sent& s = sent[i];
    if (i % 7 != 0) s.key = "key-" + std::to_string(rng() % 5000);
    s.value.resize(rng() % 120);
    for (char& c : s.value) c = static_cast<char>(rng() % 4 == 0 ? 0 : rng());  // binary
    if (i % 5 == 0) s.headers = {{"trace", std::to_string(i)}, {"empty", ""}};
  }
  Deliveries dr;
  auto p = producer(
      {{"enable.idempotence", "true"}, {"compression.codec", codec}, {"linger.ms", "5"}}, &dr);
  for (int i = 0; i < kRecords; ++i) {
    const Sent& s = sent[i];
    RdKafka::Headers* headers = nullptr;
    if (!s.headers.empty()) {
      headers = RdKafka::Headers::create();
      for (const auto& [k, v] : s.headers) headers->add(k, v.data(), v.size());
    }
    RdKafka::ErrorCode err;
    while ((err = p->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                             const_cast<char*>(s.value.data()), s.value.size(),
                             s.key ? s.key->data() : nullptr, s.key ? s.key->size() : 0, 0, headers,
                             reinterpret_cast<void*>(static_cast<intptr_t>(i)))) ==
           RdKafka::ERR__QUEUE_FULL) {
      p->poll(10);
    }
    ASSERT_EQ(err, RdKafka::ERR_NO_ERROR) << RdKafka::err2str(err);
  }
  ASSERT_EQ(p->flush(30'000), RdKafka::ERR_NO_ERROR);
  ASSERT_TRUE(dr.errors().empty()) << dr.errors().front();
  const auto where = dr.where();
  ASSERT_EQ(where.size(), static_cast<size_t>(kRecords));

  std::vector<Received> got = consume_all(topic, 4, kRecords);
  ASSERT_EQ(got.size(), static_cast<size_t>(kRecords));
  std::set<intptr_t> seen;
  for (const Received& r : got) {
    auto it = where.find({r.partition, r.offset});
    ASSERT_NE(it, where.end()) << "partition " << r.partition << " offset " << r.offset;
    const Sent& s = sent[static_cast<size_t>(it->second)];
    ASSERT_EQ(r.key, s.key) << "record " << it->second;
    ASSERT_EQ(r.value, s.value) << "record " << it->second;
    ASSERT_EQ(r.headers, s.headers) << "record " << it->second;
    seen.insert(it->second);
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kRecords));
  // Stored as the client sent them.
  const logstore::Compression expected = *logstore::parse_compression(codec);
  EXPECT_EQ(stored_codecs(topic, 4), std::set<logstore::Compression>{expected});
}

TEST_F(KafkaClientTest, OffsetsForTimesFindTheFirstRecordAtOrAfterEachTime) {
  ASSERT_TRUE(create_topic("timed", 1).ok());
  auto p = producer({});
  for (int i = 0; i < 100; ++i) {
    std::string v = "v" + std::to_string(i);
    ASSERT_EQ(p->produce("timed", 0, RdKafka::Producer::RK_MSG_COPY, v.data(), v.size(), nullptr, 0,
                         1'700'000'000'000 + i * 1000, nullptr),
              RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(p->flush(10'000), RdKafka::ERR_NO_ERROR);
  auto c = consumer({});
  struct Case {
    int64_t time, offset;
  };
  for (Case k :
       {Case{1'700'000'000'000, 0}, Case{1'700'000'042'000, 42}, Case{1'700'000'042'500, 43},
        Case{1'699'000'000'000, 0}, Case{1'800'000'000'000, -1}}) {
    std::vector<RdKafka::TopicPartition*> tps{RdKafka::TopicPartition::create("timed", 0, k.time)};
    ASSERT_EQ(c->offsetsForTimes(tps, 10'000), RdKafka::ERR_NO_ERROR);
    EXPECT_EQ(tps[0]->err(), RdKafka::ERR_NO_ERROR);
    EXPECT_EQ(tps[0]->offset(), k.offset) << "time " << k.time;
    RdKafka::TopicPartition::destroy(tps);
  }
  int64_t low = -9, high = -9;
  ASSERT_EQ(c->query_watermark_offsets("timed", 0, &low, &high, 10'000), RdKafka::ERR_NO_ERROR);
  EXPECT_EQ(low, 0);
  EXPECT_EQ(high, 100);
  c->close();
}

// A group member consuming on its own thread; records what it owns.
class GroupMember {
 public:
  GroupMember(std::unique_ptr<RdKafka::KafkaConsumer> c, const std::string& topic)
      : consumer_(std::move(c)) {
    EXPECT_EQ(consumer_->subscribe({topic}), RdKafka::ERR_NO_ERROR);
    thread_ = std::thread([this] {
      while (!stop_) {
        std::unique_ptr<RdKafka::Message> m(consumer_->consume(50));
        if (m->err() == RdKafka::ERR_NO_ERROR) ++consumed_;
        std::vector<RdKafka::TopicPartition*> mine;
        if (consumer_->assignment(mine) == RdKafka::ERR_NO_ERROR) {
          std::set<int32_t> parts;
          for (auto* tp : mine) parts.insert(tp->partition());
          std::lock_guard lock(mu_);
          owned_ = parts;
        }
        RdKafka::TopicPartition::destroy(mine);
      }
      consumer_->close();
    });
  }
  ~GroupMember() { leave(); }
  void leave() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::set<int32_t> owned() {
    std::lock_guard lock(mu_);
    return owned_;
  }

 private:
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> consumed_{0};
  std::mutex mu_;
  std::set<int32_t> owned_;
};

bool eventually(const std::function<bool()>& condition, std::chrono::seconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return condition();
}

TEST_F(KafkaClientTest, TwoGroupMembersSplitPartitionsAndOneTakesAllWhenTheOtherLeaves) {
  ASSERT_TRUE(create_topic("shared", 4).ok());
  const std::map<std::string, std::string> settings = {
      {"group.id", "splitters"}, {"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "200"}};
  GroupMember a(consumer(settings), "shared");
  GroupMember b(consumer(settings), "shared");
  ASSERT_TRUE(eventually([&] {
    auto x = a.owned(), y = b.owned();
    std::set<int32_t> all(x.begin(), x.end());
    all.insert(y.begin(), y.end());
    return x.size() == 2 && y.size() == 2 && all.size() == 4;
  })) << "a owns "
      << a.owned().size() << ", b owns " << b.owned().size();
  b.leave();
  EXPECT_TRUE(eventually([&] {
    return a.owned() == std::set<int32_t>{0, 1, 2, 3};
  })) << "a owns "
      << a.owned().size();
}

TEST_F(KafkaClientTest, RestartedConsumerResumesFromItsGroupsCommittedOffsets) {
  ASSERT_TRUE(create_topic("resumable", 1).ok());
  auto p = producer({});
  for (int i = 0; i < 100; ++i) {
    std::string v = std::to_string(i);
    ASSERT_EQ(p->produce("resumable", 0, RdKafka::Producer::RK_MSG_COPY, v.data(), v.size(),
                         nullptr, 0, 0, nullptr),
              RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(p->flush(10'000), RdKafka::ERR_NO_ERROR);
  const std::map<std::string, std::string> settings = {{"group.id", "resumers"},
                                                       {"session.timeout.ms", "6000"}};
  auto read_some = [&](int n) {
    auto c = consumer(settings);
    EXPECT_EQ(c->subscribe({"resumable"}), RdKafka::ERR_NO_ERROR);
    std::vector<std::string> values;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (static_cast<int>(values.size()) < n && std::chrono::steady_clock::now() < deadline) {
      std::unique_ptr<RdKafka::Message> m(c->consume(100));
      if (m->err() != RdKafka::ERR_NO_ERROR) continue;
      values.emplace_back(static_cast<const char*>(m->payload()), m->len());
      std::vector<RdKafka::TopicPartition*> next{
          RdKafka::TopicPartition::create("resumable", 0, m->offset() + 1)};
      EXPECT_EQ(c->commitSync(next), RdKafka::ERR_NO_ERROR);
      RdKafka::TopicPartition::destroy(next);
    }
    c->close();
    return values;
  };
  std::vector<std::string> first = read_some(30);
  ASSERT_EQ(first.size(), 30u);
  EXPECT_EQ(first.front(), "0");
  EXPECT_EQ(first.back(), "29");
  std::vector<std::string> second = read_some(10);
  ASSERT_EQ(second.size(), 10u);
  EXPECT_EQ(second.front(), "30");
  // The same committed offset that `sluice group describe` reports.
  auto committed = server_->log().committed_offset("resumers", {"resumable", PartitionId(0)});
  ASSERT_TRUE(committed.ok() && committed->has_value());
  EXPECT_EQ((*committed)->offset, Offset(40));
}

std::vector<std::string> values_of(const std::vector<Received>& records) {
  std::vector<std::string> out;
  for (const Received& r : records) out.push_back(r.value);
  return out;
}

TEST_F(KafkaClientTest, ReadCommittedConsumerSeesCommittedTransactionsAndNeverAbortedOnes) {
  ASSERT_TRUE(create_topic("txn", 1).ok());
  auto p = producer({{"transactional.id", "tx-1"}});
  std::unique_ptr<RdKafka::Error> e(p->init_transactions(10'000));
  ASSERT_EQ(e, nullptr) << e->str();
  auto send_in_transaction = [&](const std::string& prefix, int n, bool commit) {
    std::unique_ptr<RdKafka::Error> begun(p->begin_transaction());
    ASSERT_EQ(begun, nullptr) << begun->str();
    for (int i = 0; i < n; ++i) {
      std::string v = prefix + std::to_string(i);
      ASSERT_EQ(p->produce("txn", 0, RdKafka::Producer::RK_MSG_COPY, v.data(), v.size(), nullptr, 0,
                           0, nullptr),
                RdKafka::ERR_NO_ERROR);
    }
    // Sent before the end, or an abort would drop them unsent.
    ASSERT_EQ(p->flush(10'000), RdKafka::ERR_NO_ERROR);
    std::unique_ptr<RdKafka::Error> ended(commit ? p->commit_transaction(10'000)
                                                 : p->abort_transaction(10'000));
    ASSERT_EQ(ended, nullptr) << ended->str();
  };
  send_in_transaction("committed-a", 10, true);
  send_in_transaction("aborted", 10, false);
  send_in_transaction("committed-b", 5, true);

  std::vector<std::string> committed =
      values_of(consume_all("txn", 1, 15, {{"isolation.level", "read_committed"}}));
  ASSERT_EQ(committed.size(), 15u);
  for (const std::string& v : committed) EXPECT_EQ(v.rfind("committed", 0), 0u) << v;
  // Give a stray aborted record the chance to show up after the committed ones.
  auto c = consumer({{"isolation.level", "read_committed"}});
  std::vector<RdKafka::TopicPartition*> from{RdKafka::TopicPartition::create("txn", 0, 0)};
  ASSERT_EQ(c->assign(from), RdKafka::ERR_NO_ERROR);
  RdKafka::TopicPartition::destroy(from);
  int seen = 0;
  for (int i = 0; i < 20; ++i) {
    std::unique_ptr<RdKafka::Message> m(c->consume(50));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    ++seen;
    EXPECT_NE(std::string(static_cast<const char*>(m->payload()), m->len()).rfind("aborted", 0),
              0u);
  }
  EXPECT_EQ(seen, 15);
  c->close();
  // A read-uncommitted reader sees all 25 data records.
  EXPECT_EQ(consume_all("txn", 1, 25, {{"isolation.level", "read_uncommitted"}}).size(), 25u);
}

TEST_F(KafkaClientTest, SecondProducerWithTheSameTransactionalIdFencesTheFirst) {
  ASSERT_TRUE(create_topic("fenced", 1).ok());
  auto first = producer({{"transactional.id", "tx-fence"}});
  std::unique_ptr<RdKafka::Error> e(first->init_transactions(10'000));
  ASSERT_EQ(e, nullptr) << e->str();
  e.reset(first->begin_transaction());
  ASSERT_EQ(e, nullptr);
  std::string v = "from-first";
  ASSERT_EQ(first->produce("fenced", 0, RdKafka::Producer::RK_MSG_COPY, v.data(), v.size(), nullptr,
                           0, 0, nullptr),
            RdKafka::ERR_NO_ERROR);
  first->flush(5'000);

  auto second = producer({{"transactional.id", "tx-fence"}});
  e.reset(second->init_transactions(10'000));
  ASSERT_EQ(e, nullptr) << e->str();
  e.reset(second->begin_transaction());
  ASSERT_EQ(e, nullptr);
  std::string w = "from-second";
  ASSERT_EQ(second->produce("fenced", 0, RdKafka::Producer::RK_MSG_COPY, w.data(), w.size(),
                            nullptr, 0, 0, nullptr),
            RdKafka::ERR_NO_ERROR);
  e.reset(second->commit_transaction(10'000));
  ASSERT_EQ(e, nullptr) << e->str();

  // The first is fenced: its transaction cannot commit, and is fatal.
  e.reset(first->commit_transaction(10'000));
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->is_fatal()) << e->str();
  std::vector<std::string> visible =
      values_of(consume_all("fenced", 1, 1, {{"isolation.level", "read_committed"}}));
  EXPECT_EQ(visible, std::vector<std::string>{"from-second"});
}

TEST_F(KafkaClientTest, RecordsCrossBetweenKafkaClientsTheCliAndTopologies) {
  // Kafka producer -> `sluice consume`.
  ASSERT_TRUE(create_topic("from-kafka", 2).ok());
  auto p = producer({{"enable.idempotence", "true"}, {"compression.codec", "gzip"}});
  for (int i = 0; i < 50; ++i) {
    std::string k = "k" + std::to_string(i), v = "v" + std::to_string(i);
    ASSERT_EQ(p->produce("from-kafka", RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                         v.data(), v.size(), k.data(), k.size(), 0, nullptr),
              RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(p->flush(10'000), RdKafka::ERR_NO_ERROR);
  CliResult consumed = run_cli(
      dir_.path(), "consume --server " + server_->address() + " -t from-kafka -e -f '%k=%s\\n'");
  ASSERT_EQ(consumed.exit_code, 0) << consumed.err;
  std::set<std::string> lines;
  std::istringstream in(consumed.out);
  for (std::string line; std::getline(in, line);) lines.insert(line);
  EXPECT_EQ(lines.size(), 50u);
  EXPECT_TRUE(lines.contains("k7=v7"));

  // `sluice produce` -> Kafka consumer.
  ASSERT_TRUE(create_topic("from-cli", 1).ok());
  {
    std::ofstream input(dir_ / "lines.txt");
    for (int i = 0; i < 20; ++i) input << "key" << i << ":line " << i << "\n";
  }
  CliResult produced =
      run_cli(dir_.path(),
              "produce --server " + server_->address() + " -t from-cli -K :", dir_ / "lines.txt");
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  std::vector<Received> got = consume_all("from-cli", 1, 20);
  ASSERT_EQ(got.size(), 20u);
  EXPECT_EQ(got[3].key, "key3");
  EXPECT_EQ(got[3].value, "line 3");

  // Kafka producer -> a topology running on the server's log.
  ASSERT_TRUE(runtime::testing::create_topic(server_->log(), "views", 4).ok());
  ASSERT_TRUE(runtime::testing::create_topic(server_->log(), "views-per-page-out", 4).ok());
  std::vector<runtime::testing::Event> events = runtime::testing::page_views(5'000, 7);
  for (const auto& ev : events) {
    ASSERT_EQ(p->produce("views", RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                         const_cast<char*>(ev.value.data()), ev.value.size(), ev.key.data(),
                         ev.key.size(), ev.timestamp.value(), nullptr),
              RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(p->flush(10'000), RdKafka::ERR_NO_ERROR);
  runtime::RuntimeConfig rc;
  rc.application_id = "kafka-fed";
  rc.state_dir = dir_ / "state";
  rc.commit_interval_ms = 50;
  auto rt =
      runtime::Runtime::create(runtime::testing::windowed_count_topology(), server_->log(), rc);
  ASSERT_TRUE(rt.ok()) << rt.status().to_string();
  ASSERT_TRUE((*rt)->start().ok());
  ASSERT_TRUE(runtime::testing::wait_until_caught_up(**rt, server_->log(), "kafka-fed"));
  (*rt)->stop();
  ASSERT_TRUE((*rt)->wait().ok());
  auto out = runtime::testing::read_committed<operators::Windowed<std::string>, int64_t>(
      server_->log(), "views-per-page-out");
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(runtime::testing::final_counts(*out).last, runtime::testing::count_oracle(events));
}

}  // namespace
}  // namespace sluice::server::testing

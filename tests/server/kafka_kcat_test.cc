// kcat (Debian's, 1.7.1 on librdkafka 2.0.2) against the server's Kafka listener: the round
// trips a newcomer types first.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "server_process.h"
#include "server_test_util.h"

namespace sluice::server::testing {
namespace {

struct KcatRun {
  int exit_code = -1;
  std::string out, err;
};

class KcatTest : public ServerFixture {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists("/usr/bin/kcat"))
        << "kcat is not installed: run scripts/install-deps.sh (it installs the kcat package)";
    ServerConfig config;
    config.kafka.listen = "127.0.0.1:0";
    config.kafka.initial_rebalance_delay_ms = 100;
    start(config);
  }

  // Runs kcat against the listener (30 s at most), with `input` on stdin.
  KcatRun kcat(const std::string& args, const std::string& input = "") {
    const std::string in = dir_ / "kcat.in", out = dir_ / "kcat.out", err = dir_ / "kcat.err";
    std::ofstream(in) << input;
    const std::string command = "timeout 30 kcat -b " + server_->kafka_address() + " " + args +
                                " < " + in + " > " + out + " 2> " + err;
    const int status = std::system(command.c_str());
    return KcatRun{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(out), read_file(err)};
  }

  static std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
};

TEST_F(KcatTest, ListsBrokersTopicsAndPartitions) {
  ASSERT_TRUE(create_topic("listed", 3).ok());
  KcatRun r = kcat("-L");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1 brokers:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("broker 0 at " + server_->kafka_address()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("topic \"listed\" with 3 partitions:"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("__consumer_offsets"), std::string::npos) << "internal topics are hidden";
}

TEST_F(KcatTest, KeyedLinesProducedAreConsumedBackWithAFormatString) {
  ASSERT_TRUE(create_topic("lines", 1).ok());
  KcatRun produced =
      kcat("-P -t lines -K :", "alice:first line\nbob:second: with colon\n:no key\n");
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  KcatRun consumed = kcat("-C -t lines -e -f 'key=%k value=%s partition=%p offset=%o\\n'");
  ASSERT_EQ(consumed.exit_code, 0) << consumed.err;
  EXPECT_EQ(lines(consumed.out),
            (std::vector<std::string>{"key=alice value=first line partition=0 offset=0",
                                      "key=bob value=second: with colon partition=0 offset=1",
                                      "key= value=no key partition=0 offset=2"}));
  // The same records through Sluice's own API.
  auto fetched = server_->log().fetch({.partition = {"lines", PartitionId(0)},
                                       .offset = Offset(0),
                                       .isolation = logstore::IsolationLevel::kReadUncommitted});
  ASSERT_TRUE(fetched.ok());
  std::vector<std::string> keys;
  ASSERT_TRUE(
      logstore::for_each_record(
          *fetched, Offset(0), logstore::IsolationLevel::kReadUncommitted,
          [&](const logstore::RecordView& rec) { keys.emplace_back(rec.key.value_or("<null>")); })
          .ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"alice", "bob", ""}));
}

TEST_F(KcatTest, ProducesToAnAutoCreatedTopicAndReadsFromTheEnd) {
  KcatRun produced = kcat("-P -t created-by-kcat -z snappy", "one\ntwo\nthree\n");
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  KcatRun last = kcat("-C -t created-by-kcat -o -1 -e -f '%s\\n'");
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_EQ(lines(last.out), std::vector<std::string>{"three"});
}

TEST_F(KcatTest, GroupConsumerIsAssignedEveryPartitionAndReadsThemAll) {
  ASSERT_TRUE(create_topic("grouped", 2).ok());
  std::string input;
  for (int i = 0; i < 40; ++i) input += "k" + std::to_string(i) + ":v" + std::to_string(i) + "\n";
  ASSERT_EQ(kcat("-P -t grouped -K :", input).exit_code, 0);
  KcatRun consumed = kcat(
      "-G kcat-group -X session.timeout.ms=6000 -X auto.offset.reset=earliest -e -f '%s\\n' "
      "grouped");
  ASSERT_EQ(consumed.exit_code, 0) << consumed.err;
  std::vector<std::string> got = lines(consumed.out);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()).size(), 40u) << consumed.err;
  EXPECT_NE(consumed.err.find("assigned: grouped [0], grouped [1]"), std::string::npos)
      << consumed.err;
}

}  // namespace
}  // namespace sluice::server::testing

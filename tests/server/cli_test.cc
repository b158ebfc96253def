// The `sluice` CLI as a user types it, against `sluice serve` running as a process.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "server_process.h"
#include "sluice/base/murmur2.h"
#include "temp_dir.h"

namespace sluice::server::testing {
namespace {

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(dir_ / "data", dir_ / "server.log");
    ASSERT_FALSE(server_->address().empty());
  }

  CliResult cli(const std::string& args, const std::string& input_file = "") {
    return run_cli(dir_.path(), args + " --server " + server_->address(), input_file);
  }

  std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  sluice::testing::TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(CliTest, HundredThousandKeyedLinesProducedAndConsumedBackAreByteIdenticalPerPartition) {
  constexpr int kPartitions = 4;
  ASSERT_EQ(cli("topic create lines --partitions 4").exit_code, 0);
  std::vector<std::vector<std::string>> expected(kPartitions);
  {
    std::ofstream in(dir_ / "input.txt", std::ios::binary);
    for (int i = 0; i < 100'000; ++i) {
      std::string key = "user" + std::to_string(i % 1009);
      std::string line = key + ":page " + std::to_string(i) + " \t with spaces; and:colons";
      in << line << "\n";
      expected[kafka_partition_for_key(key, kPartitions)].push_back(line);
    }
  }
  CliResult produced = cli("produce -t lines -K :", dir_ / "input.txt");
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  EXPECT_NE(produced.err.find("produced 100000 record(s)"), std::string::npos) << produced.err;

  size_t total = 0;
  for (int p = 0; p < kPartitions; ++p) {
    CliResult consumed = cli("consume -t lines -e -K : -p " + std::to_string(p));
    ASSERT_EQ(consumed.exit_code, 0) << consumed.err;
    std::string want;
    for (const auto& line : expected[p]) want += line + "\n";
    EXPECT_EQ(consumed.out, want) << "partition " << p;
    total += expected[p].size();
  }
  EXPECT_EQ(total, 100'000u);

  // All partitions at once: the same lines, as a multiset.
  CliResult all = cli("consume -t lines -e -K :");
  ASSERT_EQ(all.exit_code, 0) << all.err;
  auto got = lines_of(all.out);
  std::sort(got.begin(), got.end());
  std::vector<std::string> want;
  for (const auto& p : expected) want.insert(want.end(), p.begin(), p.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

TEST_F(CliTest, OffsetsCountsAndFormatsFollowKcat) {
  ASSERT_EQ(cli("topic create t --partitions 1").exit_code, 0);
  {
    std::ofstream in(dir_ / "input.txt");
    for (int i = 0; i < 10; ++i) in << "v" << i << "\n";
  }
  ASSERT_EQ(cli("produce -t t -k fixed", dir_ / "input.txt").exit_code, 0);

  EXPECT_EQ(cli("consume -t t -e -o 7").out, "v7\nv8\nv9\n");
  EXPECT_EQ(cli("consume -t t -e -o -2").out, "v8\nv9\n");
  EXPECT_EQ(cli("consume -t t -o beginning -c 3").out, "v0\nv1\nv2\n");
  EXPECT_EQ(cli("consume -t t -e -o end").out, "");
  EXPECT_EQ(cli("consume -t t -e -o 8 -f '%t %p %o %k=%s|%K|%S\\n'").out,
            "t 0 8 fixed=v8|5|2\nt 0 9 fixed=v9|5|2\n");
  CliResult stamped = cli("consume -t t -e -c 1 -f '%T\\t%v'");
  EXPECT_GT(std::stoll(stamped.out), 1'600'000'000'000) << stamped.out;
  EXPECT_NE(stamped.out.find("\tv0"), std::string::npos) << stamped.out;
  CliResult since = cli("consume -t t -e -o s@9999999999999");  // after every record
  EXPECT_EQ(since.out, "");

  CliResult bad = cli("consume -t t -e -o yesterday");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("-o takes beginning, end"), std::string::npos) << bad.err;
  CliResult bad_format = cli("consume -t t -e -f '%q'");
  EXPECT_NE(bad_format.err.find("unknown field '%q'"), std::string::npos) << bad_format.err;
}

TEST_F(CliTest, AGroupResumesFromItsCommittedOffsetsAndReportsLag) {
  ASSERT_EQ(cli("topic create events --partitions 1").exit_code, 0);
  {
    std::ofstream in(dir_ / "input.txt");
    for (int i = 0; i < 100; ++i) in << "e" << i << "\n";
  }
  ASSERT_EQ(cli("produce -t events", dir_ / "input.txt").exit_code, 0);

  CliResult first = cli("consume -t events -G readers -c 30");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(lines_of(first.out).size(), 30u);
  EXPECT_EQ(lines_of(first.out).back(), "e29");

  CliResult describe = cli("group describe readers");
  ASSERT_EQ(describe.exit_code, 0) << describe.err;
  EXPECT_NE(describe.out.find("Total lag: 70"), std::string::npos) << describe.out;
  EXPECT_EQ(cli("group list").out, "readers\n");

  CliResult rest = cli("consume -t events -G readers -e");
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  auto lines = lines_of(rest.out);
  ASSERT_EQ(lines.size(), 70u);
  EXPECT_EQ(lines.front(), "e30");
  EXPECT_NE(cli("group describe readers").out.find("Total lag: 0"), std::string::npos);
}

TEST_F(CliTest, ConsumersOfAGroupShareThePartitionsAndTakeOverFromOneThatDies) {
  ASSERT_EQ(cli("topic create shared --partitions 4").exit_code, 0);
  auto consumer = [&](const std::string& name) {
    return std::make_unique<CliProcess>(
        std::vector<std::string>{"consume", "-t", "shared", "-G", "workers", "-f", "%p %s\\n",
                                 "--session-timeout-ms", "1500", "--server", server_->address()},
        dir_ / (name + ".out"), dir_ / (name + ".err"));
  };
  auto a = consumer("a");
  auto b = consumer("b");
  auto wait_for = [&](const std::string& text, const char* what) {
    for (int i = 0; i < 150; ++i) {
      if (cli("group describe workers").out.find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << what << ":\n" << cli("group describe workers").out;
    return false;
  };
  ASSERT_TRUE(wait_for("partitions [2,3]", "the second member never got its share"));
  EXPECT_NE(cli("group describe workers").out.find("partitions [0,1]"), std::string::npos);

  auto produce = [&](int from, int to) {
    std::ofstream in(dir_ / "input.txt");
    for (int i = from; i < to; ++i) in << "key" << i << ":value" << i << "\n";
    in.close();
    ASSERT_EQ(cli("produce -t shared -K :", dir_ / "input.txt").exit_code, 0);
  };
  // The sum of the group's committed offsets in the topic, from `group describe`.
  auto wait_for_committed = [&](int64_t want) {
    int64_t total = 0;
    for (int i = 0; i < 150; ++i) {
      total = 0;
      std::istringstream rows(cli("group describe workers").out);
      for (std::string line; std::getline(rows, line);) {
        std::istringstream row(line);
        std::string topic;
        int64_t partition = 0, committed = 0;
        if (row >> topic >> partition >> committed && topic == "shared") total += committed;
      }
      if (total == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "committed " << total << " of " << want;
    return false;
  };
  produce(0, 4000);
  ASSERT_TRUE(wait_for_committed(4000));

  // The first member dies without leaving: after its session timeout the other one takes its
  // partitions over, from the offsets it committed.
  a->stop(SIGKILL);
  produce(4000, 8000);
  ASSERT_TRUE(wait_for("partitions [0,1,2,3]", "nobody took over the dead member's partitions"));
  ASSERT_TRUE(wait_for_committed(8000));
  EXPECT_EQ(b->stop(SIGTERM), 0);

  // Every record was printed by one of them; the first printed only its share (two partitions).
  std::set<std::string> a_partitions;
  std::multiset<std::string> values;
  for (const auto& line : lines_of(read_file(dir_ / "a.out"))) {
    a_partitions.insert(line.substr(0, line.find(' ')));
    values.insert(line.substr(line.find(' ') + 1));
  }
  for (const auto& line : lines_of(read_file(dir_ / "b.out"))) {
    values.insert(line.substr(line.find(' ') + 1));
  }
  EXPECT_TRUE(a_partitions == (std::set<std::string>{"0", "1"}) ||
              a_partitions == (std::set<std::string>{"2", "3"}))
      << "the first member read partitions outside its share";
  for (int i = 0; i < 8000; ++i) {
    ASSERT_TRUE(values.contains("value" + std::to_string(i))) << "value" << i << " was never read";
  }
  EXPECT_EQ(values.size(), 8000u) << "records were read twice although every position was "
                                     "committed before the takeover";
}

TEST_F(CliTest, DemoRunsASampleAgainstItsOracle) {
  CliResult demo = run_cli(dir_.path(), "demo sessions --events 20000 --threads 1");
  ASSERT_EQ(demo.exit_code, 0) << demo.out << demo.err;
  EXPECT_NE(demo.out.find("sessions equal an independent sessionization"), std::string::npos)
      << demo.out;
  CliResult unknown = run_cli(dir_.path(), "demo nexmark-q42");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("demos: page-views, sessions, ad-clicks, yahoo, host-alerts"),
            std::string::npos)
      << unknown.err;
}

TEST_F(CliTest, BenchProducesAndConsumesAndReportsThroughput) {
  CliResult produced = cli("bench produce -t perf --partitions 2 --records 20000");
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  EXPECT_NE(produced.out.find("20000 records sent"), std::string::npos) << produced.out;
  CliResult fields = cli("bench produce -t perf --records 5000 --record-fields --batch 100");
  ASSERT_EQ(fields.exit_code, 0) << fields.err;
  CliResult consumed = cli("bench consume -t perf --records 25000");
  ASSERT_EQ(consumed.exit_code, 0) << consumed.err;
  EXPECT_NE(consumed.out.find("25000 records read"), std::string::npos) << consumed.out;
  // The records are real: 100-byte values, readable by any consumer.
  CliResult one = cli("consume -t perf -p 0 -c 1 -f '%S'");
  EXPECT_EQ(one.out, "100");
}

TEST_F(CliTest, TopicCommandsDescribeAlterAndDelete) {
  ASSERT_EQ(cli("topic create audit --partitions 2 --config retention.ms=60000").exit_code, 0);
  CliResult describe = cli("topic describe audit");
  EXPECT_NE(describe.out.find("Partitions: 2"), std::string::npos) << describe.out;
  EXPECT_NE(describe.out.find("retention.ms=60000"), std::string::npos) << describe.out;
  CliResult altered = cli("topic alter audit --config retention.ms=1000");
  EXPECT_NE(altered.out.find("retention.ms=1000"), std::string::npos) << altered.out;
  EXPECT_EQ(cli("topic list").out, "audit\t2 partition(s)\n");
  EXPECT_EQ(cli("topic delete audit").exit_code, 0);
  EXPECT_EQ(cli("topic list").out, "");
}

TEST_F(CliTest, FailuresExitNonZeroWithAMessageThatSaysWhatToDo) {
  CliResult missing = cli("consume -t nope -e");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("NOT_FOUND: topic 'nope' does not exist"), std::string::npos)
      << missing.err;

  CliResult duplicate = cli("topic create dup");
  ASSERT_EQ(duplicate.exit_code, 0);
  duplicate = cli("topic create dup");
  EXPECT_EQ(duplicate.exit_code, 1);
  EXPECT_NE(duplicate.err.find("ALREADY_EXISTS"), std::string::npos) << duplicate.err;

  CliResult unreachable = run_cli(dir_.path(), "topic list --server 127.0.0.1:1");
  EXPECT_EQ(unreachable.exit_code, 3);
  EXPECT_NE(unreachable.err.find("sluice serve"), std::string::npos) << unreachable.err;

  CliResult usage = run_cli(dir_.path(), "produce");  // no -t
  EXPECT_EQ(usage.exit_code, 106);                    // CLI11's RequiredError
  EXPECT_NE(usage.err.find("--topic is required"), std::string::npos) << usage.err;
}

TEST_F(CliTest, EveryCommandHasCompleteHelp) {
  for (const std::string cmd : {"",
                                "serve",
                                "topic",
                                "topic create",
                                "topic list",
                                "topic describe",
                                "topic alter",
                                "topic delete",
                                "produce",
                                "consume",
                                "group",
                                "group list",
                                "group describe",
                                "job",
                                "job submit",
                                "job list",
                                "job describe",
                                "job stop",
                                "job restart",
                                "job delete",
                                "job query",
                                "job validate",
                                "demo",
                                "bench",
                                "bench produce",
                                "bench consume",
                                "run"}) {
    CliResult help = run_cli(dir_.path(), cmd + " --help");
    EXPECT_EQ(help.exit_code, 0) << cmd;
    EXPECT_NE(help.out.find("Usage: sluice"), std::string::npos) << cmd << ":\n" << help.out;
  }
  CliResult consume = run_cli(dir_.path(), "consume --help");
  for (const char* flag : {"-t", "-p", "-o", "-c", "-e", "-f", "-K", "-G", "--server", "--token"}) {
    EXPECT_NE(consume.out.find(flag), std::string::npos) << flag;
  }
}

TEST_F(CliTest, TheServerStopsCleanlyOnSigtermAndKeepsItsDataAcrossARestart) {
  ASSERT_EQ(cli("topic create kept --partitions 1").exit_code, 0);
  {
    std::ofstream in(dir_ / "input.txt");
    in << "one\ntwo\n";
  }
  ASSERT_EQ(cli("produce -t kept", dir_ / "input.txt").exit_code, 0);
  EXPECT_EQ(server_->stop(SIGTERM), 0);
  EXPECT_NE(read_file(dir_ / "server.log").find("sluice server stopped"), std::string::npos);

  server_ = std::make_unique<ServerProcess>(dir_ / "data", dir_ / "server2.log");
  EXPECT_EQ(cli("consume -t kept -e").out, "one\ntwo\n");
}

TEST_F(CliTest, ServeReadsItsConfigFileAndTheEnvironmentOverridesIt) {
  {
    std::ofstream yaml(dir_ / "sluice.yaml");
    yaml << "data_dir: " << (dir_ / "from-file") << "\nlisten: 127.0.0.1:0\nauth_token: abc\n";
  }
  setenv("SLUICE_AUTH_TOKEN", "from-env", 1);
  ServerProcess configured("", dir_ / "configured.log",
                           {"--config", dir_ / "sluice.yaml", "--data-dir", dir_ / "from-flag"});
  unsetenv("SLUICE_AUTH_TOKEN");
  ASSERT_FALSE(configured.address().empty());
  CliResult no_token = run_cli(dir_.path(), "topic list --server " + configured.address());
  EXPECT_EQ(no_token.exit_code, 1);
  EXPECT_NE(no_token.err.find("UNAUTHENTICATED"), std::string::npos) << no_token.err;
  // The environment beat the file's token.
  CliResult file_token =
      run_cli(dir_.path(), "topic list --token abc --server " + configured.address());
  EXPECT_NE(file_token.err.find("UNAUTHENTICATED"), std::string::npos) << file_token.err;
  CliResult token =
      run_cli(dir_.path(), "topic create x --token from-env --server " + configured.address());
  EXPECT_EQ(token.exit_code, 0) << token.err;
  // The flag beat the file: the data went to from-flag.
  EXPECT_TRUE(std::filesystem::exists(dir_ / "from-flag/log/topics/x"));

  CliResult bad = run_cli(dir_.path(), "serve --log-level loud --data-dir " + (dir_ / "x"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("log level 'loud'"), std::string::npos) << bad.err;
  // Flags are checked as the file's values are.
  CliResult zero = run_cli(dir_.path(), "serve --max-request-bytes 0 --data-dir " + (dir_ / "x"));
  EXPECT_EQ(zero.exit_code, 1);
  EXPECT_NE(zero.err.find("max_request_bytes must be between"), std::string::npos) << zero.err;
}

}  // namespace
}  // namespace sluice::server::testing

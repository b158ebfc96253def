// Jobs on a real `sluice serve` process: a job library built with sluice_add_job is submitted,
// runs, is described and stopped; and a server killed with SIGKILL mid-job resumes it at
// restart with output equal to the oracle — nothing lost, nothing twice.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "server_process.h"
#include "sluice/base/murmur2.h"
#include "sluice/operators/serde.h"
#include "sluice/operators/windows.h"
#include "sluice/samples/page_views.h"
#include "sluice/server/client.h"
#include "sluice/v1/jobs.grpc.pb.h"
#include "temp_dir.h"

namespace sluice::server::testing {
namespace {

using samples::PageView;
using samples::ViewsPerPage;

constexpr int kPartitions = 2;

class JobTest : public ::testing::Test {
 protected:
  void start_server(const std::string& log_name, std::vector<std::string> extra = {}) {
    server_ = std::make_unique<ServerProcess>(dir_ / "data", dir_ / log_name, std::move(extra));
    ASSERT_FALSE(server_->address().empty());
    ClientOptions options;
    options.server = server_->address();
    auto c = Connection::open(options);
    ASSERT_TRUE(c.ok());
    api_ = std::move(*c);
    jobs_ = v1::Jobs::NewStub(api_->channel());
  }

  CliResult cli(const std::string& args) {
    return run_cli(dir_.path(), args + " --server " + server_->address());
  }

  // Produces the next `n` events of the generator, keyed by user, and counts them as the
  // oracle does.
  void produce(samples::PageViewGenerator& gen, int n) {
    std::vector<v1::ProduceRequest> requests(kPartitions);
    for (int p = 0; p < kPartitions; ++p) {
      requests[p].set_topic(samples::kPageViewsTopic);
      requests[p].set_partition(p);
    }
    auto flush = [&](int p) {
      if (requests[p].records_size() == 0) return;
      v1::ProduceResponse response;
      grpc::Status s = api_->records().Produce(api_->context().get(), requests[p], &response);
      ASSERT_TRUE(s.ok()) << s.error_message();
      requests[p].clear_records();
    };
    for (int i = 0; i < n && !gen.done(); ++i) {
      PageView v = gen.next();
      if (!samples::is_bot(v))
        ++oracle_[{v.timestamp / samples::kWindowMs * samples::kWindowMs, v.page}];
      int p = kafka_partition_for_key(v.user, kPartitions);
      v1::Record* r = requests[p].add_records();
      r->set_key(v.user);
      r->set_value(nlohmann::json(v).dump());
      r->set_timestamp_ms(v.timestamp);
      if (requests[p].records_size() == 1000) flush(p);
    }
    for (int p = 0; p < kPartitions; ++p) flush(p);
  }

  // The committed output: every update per (window, page), in order.
  std::map<std::pair<int64_t, std::string>, std::vector<int64_t>> read_output() {
    v1::FetchRequest request;
    request.set_topic(samples::kViewsPerPageTopic);
    request.set_stop_at_end(true);
    auto ctx = api_->context(std::chrono::seconds(60));
    auto reader = api_->records().Fetch(ctx.get(), request);
    std::map<std::pair<int64_t, std::string>, std::vector<int64_t>> updates;
    v1::FetchResponse response;
    while (reader->Read(&response)) {
      for (const auto& r : response.records()) {
        auto key = operators::decode<operators::Windowed<std::string>>(ByteView(r.key()));
        auto count = operators::decode<int64_t>(ByteView(r.value()));
        EXPECT_TRUE(key.ok() && count.ok());
        if (key.ok() && count.ok())
          updates[{key->window.start.value(), key->key}].push_back(*count);
      }
    }
    EXPECT_TRUE(reader->Finish().ok());
    return updates;
  }

  static ViewsPerPage final_counts(
      const std::map<std::pair<int64_t, std::string>, std::vector<int64_t>>& updates) {
    ViewsPerPage out;
    for (const auto& [key, counts] : updates) out[key] = counts.back();
    return out;
  }

  // Waits until the job's committed output equals the oracle (or a minute passes).
  bool wait_for_oracle() {
    for (int i = 0; i < 300; ++i) {
      if (final_counts(read_output()) == oracle_) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  v1::JobDescription describe(const std::string& name) {
    v1::JobRequest r;
    r.set_name(name);
    v1::JobDescription d;
    grpc::Status s = jobs_->DescribeJob(api_->context().get(), r, &d);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return d;
  }

  sluice::testing::TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Connection> api_;
  std::unique_ptr<v1::Jobs::Stub> jobs_;
  ViewsPerPage oracle_;
};

// `sluice run` runs a job library without a server, here on a Kafka broker (the server's Kafka
// listener stands in for a cluster): the output equals the oracle and SIGTERM stops it cleanly.
TEST_F(JobTest, AJobLibraryRunsWithoutAServerOnAKafkaBroker) {
  start_server("server.log", {"--kafka-listen", "127.0.0.1:0"});
  const std::string kafka = server_->kafka_address();
  ASSERT_FALSE(kafka.empty());
  ASSERT_EQ(cli("topic create page-views --partitions 2").exit_code, 0);
  ASSERT_EQ(cli("topic create page-views-per-minute --partitions 2").exit_code, 0);
  // The backend from a config file, as a deployment would set it; librdkafka settings pass
  // through under kafka.*.
  {
    std::ofstream config(dir_ / "run.yaml");
    config << "log:\n  backend: kafka\nkafka:\n  bootstrap.servers: " << kafka
           << "\n  socket.keepalive.enable: true\n";
  }
  CliProcess run(
      {"run", SLUICE_PAGE_VIEWS_JOB, "--name", "views-on-kafka", "--config-file", dir_ / "run.yaml",
       "--data-dir", dir_ / "run", "-c", "partitions=2", "-c", "commit.interval.ms=50"},
      dir_ / "run.out", dir_ / "run.err");
  samples::PageViewGenerator gen({.seed = 9, .events = 10'000, .pages = 40, .users = 300});
  produce(gen, 10'000);
  EXPECT_TRUE(wait_for_oracle()) << "the job's output never matched the oracle\n"
                                 << read_file(dir_ / "run.err");
  EXPECT_EQ(run.stop(SIGTERM), 0) << read_file(dir_ / "run.err");
  EXPECT_NE(read_file(dir_ / "run.out").find("running job views-on-kafka on the kafka log"),
            std::string::npos)
      << read_file(dir_ / "run.out");
  // A setting the file cannot have is named.
  std::ofstream(dir_ / "bad.yaml") << "log:\n  backnd: kafka\n";
  CliResult bad = run_cli(dir_.path(), std::string("run ") + SLUICE_PAGE_VIEWS_JOB +
                                           " --config-file " + (dir_ / "bad.yaml"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("unknown setting 'log.backnd'"), std::string::npos) << bad.err;
  // Its consumed positions are the group's committed offsets on the broker.
  CliResult group = cli("group describe views-on-kafka");
  EXPECT_EQ(group.exit_code, 0) << group.err;
  EXPECT_NE(group.out.find("page-views"), std::string::npos) << group.out;
}

TEST_F(JobTest, ASubmittedJobLibraryRunsIsDescribedAndStops) {
  start_server("server.log");
  CliResult submitted = cli(std::string("job submit ") + SLUICE_PAGE_VIEWS_JOB +
                            " --name views -c partitions=2 -c commit.interval.ms=50");
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  EXPECT_NE(submitted.out.find("Submitted job views"), std::string::npos) << submitted.out;

  samples::PageViewGenerator gen({.seed = 7, .events = 20'000, .pages = 50, .users = 500});
  produce(gen, 20'000);
  ASSERT_TRUE(wait_for_oracle()) << "the job's output never matched the oracle";

  v1::JobDescription d = describe("views");
  EXPECT_EQ(d.summary().state(), v1::RUNNING);
  EXPECT_EQ(d.summary().source(), "library libpage_views_job.so");
  EXPECT_GE(d.records_processed(), 20'000);
  EXPECT_GT(d.commits(), 0);
  EXPECT_NE(d.topology().find("views-per-page"), std::string::npos) << d.topology();
  bool counted = false;
  for (const auto& t : d.tasks()) {
    for (const auto& op : t.operators()) counted |= op.name() == "drop-bots" && op.records_in() > 0;
  }
  EXPECT_TRUE(counted) << "no per-operator counts in describe";

  CliResult described = cli("job describe views");
  EXPECT_NE(described.out.find("State: RUNNING"), std::string::npos) << described.out;
  EXPECT_NE(described.out.find("drop-bots"), std::string::npos) << described.out;

  // Interactive queries: a page's windows, straight from the running job's store.
  const std::string page = oracle_.begin()->first.second;
  std::string want;
  for (const auto& [key, count] : oracle_) {
    if (key.second == page) want += std::to_string(key.first) + "\t" + std::to_string(count) + "\n";
  }
  CliResult windows =
      cli("job query views views-per-page '" + page + "' --window-from 0 --value-format int64");
  ASSERT_EQ(windows.exit_code, 0) << windows.err;
  EXPECT_EQ(windows.out, want);
  CliResult wrong_kind = cli("job query views views-per-page '" + page + "'");
  EXPECT_NE(wrong_kind.err.find("INVALID_ARGUMENT"), std::string::npos) << wrong_kind.err;
  CliResult no_store = cli("job query views nope x");
  EXPECT_NE(no_store.err.find("its stores: views-per-page"), std::string::npos) << no_store.err;

  CliResult stopped = cli("job stop views");
  ASSERT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_NE(stopped.out.find("State: STOPPED"), std::string::npos) << stopped.out;
  EXPECT_EQ(cli("job list").out, "views\tSTOPPED\tlibrary libpage_views_job.so\n");
  EXPECT_NE(cli("job query views views-per-page x --window-from 0").err.find("not running"),
            std::string::npos);

  // Stopped jobs stay stopped across a restart; restart resumes from the checkpoints.
  server_->stop(SIGTERM);
  start_server("server2.log");
  EXPECT_EQ(describe("views").summary().state(), v1::STOPPED);
  produce(gen, 0);
  samples::PageViewGenerator more({.seed = 8, .events = 5'000, .pages = 50, .users = 500});
  produce(more, 5'000);
  ASSERT_EQ(cli("job restart views").exit_code, 0);
  ASSERT_TRUE(wait_for_oracle()) << "after restart the output never matched the oracle";
}

TEST_F(JobTest, AServerKilledMidJobResumesItExactlyOnce) {
  start_server("server0.log");
  ASSERT_EQ(cli(std::string("job submit ") + SLUICE_PAGE_VIEWS_JOB +
                " --name views -c partitions=2 -c commit.interval.ms=20")
                .exit_code,
            0);
  samples::PageViewGenerator gen({.seed = 11, .events = 60'000, .pages = 80, .users = 2'000});
  std::mt19937 rng(11);
  for (int round = 1; round <= 3; ++round) {
    const int64_t before = describe("views").records_processed();
    produce(gen, 20'000);
    // Kill while the job is working through the new events: it has committed some of them
    // and has more to go.
    for (int i = 0; i < 500; ++i) {
      v1::JobDescription d = describe("views");
      if (d.records_processed() > before && d.total_lag() > 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 20'000));
    EXPECT_EQ(server_->stop(SIGKILL), -SIGKILL);
    start_server("server" + std::to_string(round) + ".log");
  }
  ASSERT_TRUE(wait_for_oracle()) << "after 3 SIGKILLs the output never matched the oracle";
  // Nothing twice: exactly-once output means every update of a (window, page) is a new count.
  for (const auto& [key, counts] : read_output()) {
    for (size_t i = 1; i < counts.size(); ++i) {
      ASSERT_LT(counts[i - 1], counts[i])
          << "window " << key.first << " page " << key.second << " repeats or goes back";
    }
  }
  EXPECT_NE(read_file(dir_ / "server3.log").find("job 'views' resuming from its checkpoints"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice::server::testing

// The Prometheus endpoint, scraped over HTTP and parsed: log, group and job metrics, moving
// while a job runs.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <thread>

#include "server_test_util.h"
#include "sluice/samples/page_views.h"

namespace sluice::server::testing {
namespace {

// One sample: the metric's name and labels, e.g. {"__name__": "sluice_job_state", "job": ...}.
using Sample = std::map<std::string, std::string>;

// GET http://<address>/metrics with a plain socket.
std::string http_get_metrics(const std::string& address) {
  auto colon = address.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  std::string request = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
  EXPECT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string response;
  char buf[65536];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;)
    response.append(buf, static_cast<size_t>(n));
  close(fd);
  auto body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

// Parses Prometheus' text format: `name{label="value",...} number` per line.
std::map<Sample, double> parse(const std::string& text) {
  std::map<Sample, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    size_t brace = line.find('{');
    size_t space = line.rfind(' ');
    s["__name__"] = line.substr(0, std::min(brace, space));
    if (brace != std::string::npos) {
      size_t end = line.find('}', brace);
      std::string labels = line.substr(brace + 1, end - brace - 1);
      size_t pos = 0;
      while (pos < labels.size()) {
        size_t eq = labels.find('=', pos);
        size_t close_quote = labels.find('"', eq + 2);
        s[labels.substr(pos, eq - pos)] = labels.substr(eq + 2, close_quote - eq - 2);
        pos = close_quote + 2;  // past `",`
      }
    }
    out[s] = std::stod(line.substr(space + 1));
  }
  return out;
}

// Whether `s` is a sample of `name` whose labels include `match`.
bool matches(const Sample& s, const std::string& name, const Sample& match) {
  if (s.at("__name__") != name) return false;
  for (const auto& [k, want] : match) {
    if (!s.contains(k) || s.at(k) != want) return false;
  }
  return true;
}

// The sum of every sample of `name` whose labels include `match`.
double value(const std::map<Sample, double>& samples, const std::string& name,
             const Sample& match) {
  double sum = 0;
  for (const auto& [s, v] : samples) {
    if (matches(s, name, match)) sum += v;
  }
  return sum;
}

// Whether some sample of `name` has labels including `match`.
bool has(const std::map<Sample, double>& samples, const std::string& name, const Sample& match) {
  for (const auto& [s, v] : samples) {
    if (matches(s, name, match)) return true;
  }
  return false;
}

class MetricsTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerConfig config;
    config.metrics_listen = "127.0.0.1:0";
    start(config);
    ASSERT_FALSE(server_->metrics_address().empty());
  }

  std::map<Sample, double> scrape() { return parse(http_get_metrics(server_->metrics_address())); }

  void produce_views(samples::PageViewGenerator& gen, int n) {
    v1::ProduceRequest request;
    request.set_topic(samples::kPageViewsTopic);
    request.set_partition(0);
    for (int i = 0; i < n; ++i) {
      auto v = gen.next();
      *request.add_records() = record(v.user, nlohmann::json(v).dump(), v.timestamp);
    }
    ASSERT_TRUE(produce(request).ok());
  }
};

TEST_F(MetricsTest, TopicAndGroupMetricsAreScraped) {
  ASSERT_TRUE(create_topic("orders", 2).ok());
  v1::ProduceRequest request;
  request.set_topic("orders");
  request.set_partition(1);
  for (int i = 0; i < 10; ++i) *request.add_records() = record("k", "v");
  ASSERT_TRUE(produce(request).ok());
  v1::CommitOffsetsRequest commit;
  commit.set_group("billing");
  auto* o = commit.add_offsets();
  o->set_topic("orders");
  o->set_partition(1);
  o->set_offset(4);
  v1::CommitOffsetsResponse committed;
  ASSERT_TRUE(api().groups().CommitOffsets(api().context().get(), commit, &committed).ok());

  auto m = scrape();
  ASSERT_FALSE(m.empty()) << "nothing scraped from " << server_->metrics_address();
  EXPECT_EQ(value(m, "sluice_partition_high_watermark", {{"topic", "orders"}, {"partition", "1"}}),
            10);
  EXPECT_EQ(value(m, "sluice_partition_high_watermark", {{"topic", "orders"}, {"partition", "0"}}),
            0);
  EXPECT_GT(value(m, "sluice_partition_size_bytes", {{"topic", "orders"}}), 0);
  EXPECT_EQ(value(m, "sluice_group_lag", {{"group", "billing"}, {"topic", "orders"}}), 6);
}

TEST_F(MetricsTest, JobMetricsMoveWhileTheJobRuns) {
  v1::JobSpec spec;
  spec.set_name("views");
  spec.set_sample("page-views");
  (*spec.mutable_config())["partitions"] = "1";
  (*spec.mutable_config())["commit.interval.ms"] = "20";
  ASSERT_TRUE(submit_job(spec).ok());
  samples::PageViewGenerator gen({.seed = 3, .events = 20'000, .pages = 20, .users = 100});

  auto processed = [&] {
    return value(scrape(), "sluice_job_records_processed_total", {{"job", "views"}});
  };
  produce_views(gen, 5'000);
  double first = 0;
  for (int i = 0; i < 200 && (first = processed()) < 5'000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GE(first, 5'000);
  produce_views(gen, 5'000);
  double second = 0;
  for (int i = 0; i < 200 && (second = processed()) < first + 5'000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GE(second, first + 5'000);

  auto m = scrape();
  EXPECT_EQ(value(m, "sluice_job_state", {{"job", "views"}, {"state", "running"}}), 1);
  EXPECT_GT(value(m, "sluice_job_commits_total", {{"job", "views"}}), 0);
  EXPECT_GT(
      value(m, "sluice_operator_records_in_total", {{"job", "views"}, {"operator", "drop-bots"}}),
      0);
  EXPECT_TRUE(
      has(m, "sluice_store_estimated_keys", {{"job", "views"}, {"store", "views-per-page"}}));
  EXPECT_TRUE(has(m, "sluice_task_input_lag", {{"job", "views"}, {"topic", "page-views"}}));
  EXPECT_GT(value(m, "sluice_task_stream_time_ms", {{"job", "views"}, {"task", "0_0"}}), 0);
  EXPECT_TRUE(has(m, "sluice_task_alignment_wait_seconds_total", {{"job", "views"}}));
  EXPECT_GT(value(m, "sluice_state_memory_bytes", {{"kind", "total"}}), 0);
}

}  // namespace
}  // namespace sluice::server::testing

// Kafka clients against the server's Kafka listener, against in-process appends measured in
// the same run.
//
// The server runs as its own process (`sluice serve`); this process is the client, with
// librdkafka as a Kafka application would use it: a producer with its defaults (acks=all,
// no compression) and linger.ms=5, sending 8-byte keys and 100-byte values round robin over 4
// partitions, timed from the first produce() to the end of flush(); then a consumer reading
// every record back from the start (assigned partitions, no group). The baseline appends the
// same records, 1,000 per call, through LogClient::append on a log opened in this process.
// Rounds alternate baseline and Kafka; each figure is the median. The server's CPU time during
// the produce phase is read from /proc, to tell what the server costs per record from what the
// client library costs.
// Results: a table on stdout and build/bench-results/kafka.json (kafka_produce_records_s,
// kafka_produce_ratio, kafka_consume_records_s, ...).
#include <fmt/core.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <memory>
#include <random>

#include "bench_log.h"
#include "bench_util.h"
#include "server_process.h"

using namespace sluice;
namespace fs = std::filesystem;

namespace {

constexpr int kPartitions = 4;
constexpr int kKeyBytes = 8;
constexpr int kValueBytes = 100;
constexpr int kAppendBatch = 1000;

struct Config {
  std::string dir;
  std::string sluice = SLUICE_CLI;
  int64_t records = 2'000'000;
  int rounds = 3;
};

struct Workload {
  std::vector<std::string> keys, values;  // kAppendBatch distinct records, repeated
  explicit Workload() {
    std::mt19937_64 rng(7);
    for (int i = 0; i < kAppendBatch; ++i) {
      keys.push_back(fmt::format("{:08d}", i));
      std::string v(kValueBytes, '\0');
      for (char& ch : v) ch = static_cast<char>('a' + rng() % 26);
      values.push_back(std::move(v));
    }
  }
};

double in_process(const Config& cfg, const Workload& w, int round) {
  return bench::in_process_append_rate(cfg.dir + "/inproc-" + std::to_string(round), w.keys,
                                       w.values, cfg.records / kAppendBatch, kPartitions);
}

std::unique_ptr<RdKafka::Conf> conf(const std::string& bootstrap,
                                    const std::map<std::string, std::string>& settings) {
  std::unique_ptr<RdKafka::Conf> c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  if (c->set("bootstrap.servers", bootstrap, err) != RdKafka::Conf::CONF_OK) {
    throw std::runtime_error(err);
  }
  for (const auto& [k, v] : settings) {
    if (c->set(k, v, err) != RdKafka::Conf::CONF_OK) throw std::runtime_error(k + ": " + err);
  }
  return c;
}

// Creates the topic with Kafka's admin API (CreateTopics), as a Kafka application would.
void create_topic(RdKafka::Producer& p, const std::string& name, int partitions) {
  char errstr[256];
  rd_kafka_t* rk = p.c_ptr();
  rd_kafka_NewTopic_t* topic =
      rd_kafka_NewTopic_new(name.c_str(), partitions, 1, errstr, sizeof(errstr));
  if (topic == nullptr) throw std::runtime_error(errstr);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &topic, 1, nullptr, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30'000);
  std::string error = event == nullptr ? "CreateTopics timed out" : "";
  if (event != nullptr) {
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &n);
    if (rd_kafka_event_error(event)) error = rd_kafka_event_error_string(event);
    if (n == 1 && rd_kafka_topic_result_error(results[0])) {
      error = rd_kafka_topic_result_error_string(results[0]);
    }
    rd_kafka_event_destroy(event);
  }
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy(topic);
  if (!error.empty()) throw std::runtime_error("CreateTopics: " + error);
}

class CountDeliveries : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    if (m.err() != RdKafka::ERR_NO_ERROR) ++failed;
  }
  int64_t failed = 0;
};

struct KafkaRates {
  double produce = 0, consume = 0;
  double produce_server_cpu_s = 0;  // the server's CPU-seconds while the producer ran
};

KafkaRates kafka(const Config& cfg, const Workload& w, int round) {
  const std::string dir = cfg.dir + "/server-" + std::to_string(round);
  fs::remove_all(dir);
  KafkaRates rates;
  const int64_t n = cfg.records / kAppendBatch * kAppendBatch;
  {
    bench::ServerProcess server(cfg.sluice, dir);
    std::string err;
    CountDeliveries deliveries;
    auto pc = conf(server.kafka_address(), {{"linger.ms", "5"}});
    if (pc->set("dr_cb", &deliveries, err) != RdKafka::Conf::CONF_OK) {
      throw std::runtime_error(err);
    }
    {
      std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(pc.get(), err));
      if (!p) throw std::runtime_error(err);
      create_topic(*p, "bench", kPartitions);
      const double cpu_before = server.cpu_seconds();
      const double start = bench::now_s();
      for (int64_t i = 0; i < n; ++i) {
        const int j = static_cast<int>(i % kAppendBatch);
        while (true) {
          RdKafka::ErrorCode e =
              p->produce("bench", static_cast<int32_t>(i % kPartitions),
                         RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(w.values[j].data()),
                         w.values[j].size(), w.keys[j].data(), w.keys[j].size(), 0, nullptr);
          if (e == RdKafka::ERR_NO_ERROR) break;
          if (e != RdKafka::ERR__QUEUE_FULL) throw std::runtime_error(RdKafka::err2str(e));
          p->poll(1);
        }
      }
      if (p->flush(120'000) != RdKafka::ERR_NO_ERROR) throw std::runtime_error("flush timed out");
      rates.produce = static_cast<double>(n) / (bench::now_s() - start);
      rates.produce_server_cpu_s = server.cpu_seconds() - cpu_before;
      if (deliveries.failed > 0) throw std::runtime_error("deliveries failed");
    }
    auto cc = conf(
        server.kafka_address(),
        {{"group.id", "bench"}, {"enable.auto.commit", "false"}, {"fetch.wait.max.ms", "100"}});
    std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(cc.get(), err));
    if (!c) throw std::runtime_error(err);
    std::vector<RdKafka::TopicPartition*> parts;
    for (int p = 0; p < kPartitions; ++p) {
      parts.push_back(
          RdKafka::TopicPartition::create("bench", p, RdKafka::Topic::OFFSET_BEGINNING));
    }
    c->assign(parts);
    RdKafka::TopicPartition::destroy(parts);
    int64_t got = 0;
    const double start = bench::now_s();
    while (got < n) {
      std::unique_ptr<RdKafka::Message> m(c->consume(1000));
      if (m->err() == RdKafka::ERR_NO_ERROR) {
        ++got;
      } else if (m->err() != RdKafka::ERR__TIMED_OUT && m->err() != RdKafka::ERR__PARTITION_EOF) {
        throw std::runtime_error("consume: " + m->errstr());
      } else if (bench::now_s() - start > 120) {
        throw std::runtime_error("consume stalled");
      }
    }
    rates.consume = static_cast<double>(n) / (bench::now_s() - start);
    c->close();
  }
  fs::remove_all(dir);
  return rates;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  std::string out = "build/bench-results/kafka.json";
  bool quick = false;
  CLI::App app{
      "librdkafka produce and consume throughput against `sluice serve`'s Kafka listener, "
      "against in-process appends"};
  app.add_option("--dir", cfg.dir, "Scratch directory (emptied)")->required();
  app.add_option("--out", out, "JSON results file")->capture_default_str();
  app.add_option("--records", cfg.records, "Records per run")->capture_default_str();
  app.add_option("--rounds", cfg.rounds, "Rounds (medians are reported)")->capture_default_str();
  app.add_option("--sluice", cfg.sluice, "The sluice binary")->capture_default_str();
  app.add_flag("--quick", quick, "A short run (200,000 records, 1 round)");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    cfg.records = 200'000;
    cfg.rounds = 1;
  }
  try {
    fs::remove_all(cfg.dir);
    fs::create_directories(cfg.dir);
    Workload w;
    std::vector<double> base, produce, consume, ratios, server_rates, server_ratios;
    const int steps = 2 * cfg.rounds;
    for (int r = 0; r < cfg.rounds; ++r) {
      bench::progress(2 * r, steps, "in-process append");
      base.push_back(in_process(cfg, w, r));
      bench::progress(2 * r + 1, steps, "librdkafka produce, then consume");
      KafkaRates k = kafka(cfg, w, r);
      produce.push_back(k.produce);
      consume.push_back(k.consume);
      ratios.push_back(k.produce / base.back());
      // What the server can take: records per CPU-second of the server process (the
      // in-process baseline is one thread, so per CPU-second too).
      const int64_t n = cfg.records / kAppendBatch * kAppendBatch;
      server_rates.push_back(static_cast<double>(n) / std::max(k.produce_server_cpu_s, 1e-3));
      server_ratios.push_back(server_rates.back() / base.back());
    }
    bench::progress(steps, steps, "done");
    std::fprintf(stderr, "\n");
    const double record_bytes = kKeyBytes + kValueBytes;
    auto row = [&](const char* name, double rate) {
      fmt::print("{:<34} {:>12.0f} records/s {:>8.1f} MB/s\n", name, rate,
                 rate * record_bytes / 1e6);
    };
    fmt::print("{} records of {} bytes, {} partitions, linger.ms=5, median of {} round(s)\n",
               cfg.records / kAppendBatch * kAppendBatch, kKeyBytes + kValueBytes, kPartitions,
               cfg.rounds);
    row("in-process LogClient::append", bench::median(base));
    row("librdkafka producer (Kafka API)", bench::median(produce));
    row("librdkafka consumer (Kafka API)", bench::median(consume));
    row("server side: records per CPU-second", bench::median(server_rates));
    fmt::print(
        "produce ratio to in-process (median of per-round ratios): {:.2f}; server CPU "
        "per record against in-process: {:.2f}\n",
        bench::median(ratios), bench::median(server_ratios));
    bench::Results results;
    results.set("inprocess_append_records_s", bench::median(base));
    results.set("kafka_produce_records_s", bench::median(produce));
    results.set("kafka_produce_mb_s", bench::median(produce) * record_bytes / 1e6);
    results.set("kafka_produce_ratio", bench::median(ratios));
    results.set("kafka_consume_records_s", bench::median(consume));
    results.set("kafka_produce_server_records_per_cpu_s", bench::median(server_rates));
    results.set("kafka_produce_server_cpu_ratio", bench::median(server_ratios));
    results.set("kafka_consume_mb_s", bench::median(consume) * record_bytes / 1e6);
    if (!results.write(out)) throw std::runtime_error("cannot write " + out);
    fs::remove_all(cfg.dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kafka_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}

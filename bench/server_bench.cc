// Produce throughput through the server's gRPC API, against in-process appends measured in the
// same run.
//
// The server runs as its own process (`sluice serve`); this process is the client. Each request
// carries 1,000 records (8-byte key, 100-byte value) for one of 4 partitions, round robin,
// either as one RecordBatch v2 the client encoded (what a Kafka producer sends; the headline
// grpc_produce_records_s) or as per-record protobuf fields; requests are built before the clock
// starts. The baseline appends the same records, 1,000 per
// call, through LogClient::append on a log opened in this process (the call the server makes
// for each request). Rounds alternate baseline, streaming and unary; each figure is the median.
// Results: a table on stdout and build/bench-results/server.json
// (grpc_produce_records_s, grpc_produce_ratio, ...).
#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <random>

#include "bench_log.h"
#include "bench_util.h"
#include "server_process.h"
#include "sluice/base/allocator.h"
#include "sluice/server/client.h"

using namespace sluice;
namespace fs = std::filesystem;

namespace {

constexpr int kPartitions = 4;
constexpr int kRecordsPerRequest = 1000;
constexpr int kKeyBytes = 8;
constexpr int kValueBytes = 100;

struct Config {
  std::string dir;
  std::string sluice = SLUICE_CLI;
  int64_t records = 2'000'000;
  int rounds = 3;
};

struct Workload {
  std::vector<std::string> keys, values;
  std::vector<v1::ProduceRequest> requests;  // for the server: records as fields
  std::vector<v1::ProduceRequest> batches;   // ... and as client-encoded record batches
  int64_t bytes = 0;

  explicit Workload(int64_t records) {
    std::mt19937_64 rng(7);
    keys.resize(kRecordsPerRequest);
    values.resize(kRecordsPerRequest);
    for (int i = 0; i < kRecordsPerRequest; ++i) {
      keys[i] = fmt::format("{:08d}", i);
      values[i].resize(kValueBytes);
      for (char& ch : values[i]) ch = static_cast<char>('a' + rng() % 26);
    }
    for (int64_t r = 0; r < records / kRecordsPerRequest; ++r) {
      v1::ProduceRequest& req = requests.emplace_back();
      req.set_topic("bench");
      req.set_partition(static_cast<int32_t>(r % kPartitions));
      for (int i = 0; i < kRecordsPerRequest; ++i) {
        v1::Record* rec = req.add_records();
        rec->set_key(keys[i]);
        rec->set_value(values[i]);
      }
    }
    for (int64_t r = 0; r < records / kRecordsPerRequest; ++r) {
      logstore::RecordBatchBuilder builder;
      for (int i = 0; i < kRecordsPerRequest; ++i) {
        builder.add({.key = ByteView(keys[i]),
                     .value = ByteView(values[i]),
                     .timestamp = Timestamp(1'700'000'000'000)});
      }
      auto encoded = builder.build();
      bench::check(encoded.status());
      v1::ProduceRequest& req = batches.emplace_back();
      req.set_topic("bench");
      req.set_partition(static_cast<int32_t>(r % kPartitions));
      req.set_record_batch(std::move(*encoded));
    }
    bytes = static_cast<int64_t>(requests.size()) * kRecordsPerRequest * (kKeyBytes + kValueBytes);
  }
  int64_t records() const { return static_cast<int64_t>(requests.size()) * kRecordsPerRequest; }
};

double in_process(const Config& cfg, const Workload& w, int round) {
  return bench::in_process_append_rate(cfg.dir + "/inproc-" + std::to_string(round), w.keys,
                                       w.values, static_cast<int64_t>(w.requests.size()),
                                       kPartitions);
}

std::unique_ptr<server::Connection> connect(const bench::ServerProcess& server) {
  server::ClientOptions o;
  o.server = server.address();
  auto c = server::Connection::open(o);
  bench::check(c.status());
  v1::CreateTopicRequest create;
  create.set_name("bench");
  create.set_partitions(kPartitions);
  v1::CreateTopicResponse created;
  auto s = (*c)->topics().CreateTopic((*c)->context().get(), create, &created);
  if (!s.ok()) throw std::runtime_error("create topic: " + s.error_message());
  return std::move(*c);
}

double grpc_stream(const Config& cfg, const Workload& w, int round, bool batches) {
  const std::string dir = cfg.dir + "/server-" + std::to_string(round);
  fs::remove_all(dir);
  double rate = 0;
  {
    bench::ServerProcess server(cfg.sluice, dir);
    auto c = connect(server);
    auto ctx = c->context();
    v1::ProduceStreamResponse response;
    const double start = bench::now_s();
    auto writer = c->records().ProduceStream(ctx.get(), &response);
    for (const auto& req : batches ? w.batches : w.requests) {
      if (!writer->Write(req)) break;
    }
    writer->WritesDone();
    auto s = writer->Finish();
    const double seconds = bench::now_s() - start;
    if (!s.ok()) throw std::runtime_error("produce stream: " + s.error_message());
    if (response.records() != w.records()) throw std::runtime_error("records went missing");
    rate = static_cast<double>(w.records()) / seconds;
  }
  fs::remove_all(dir);
  return rate;
}

double grpc_unary(const Config& cfg, const Workload& w, int round) {
  const std::string dir = cfg.dir + "/unary-" + std::to_string(round);
  fs::remove_all(dir);
  double rate = 0;
  {
    bench::ServerProcess server(cfg.sluice, dir);
    auto c = connect(server);
    const double start = bench::now_s();
    v1::ProduceResponse response;
    for (const auto& req : w.requests) {
      auto s = c->records().Produce(c->context().get(), req, &response);
      if (!s.ok()) throw std::runtime_error("produce: " + s.error_message());
    }
    rate = static_cast<double>(w.records()) / (bench::now_s() - start);
  }
  fs::remove_all(dir);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  // As `sluice` itself does: the baseline and the client both build ~100 KB batches.
  tune_allocator_for_large_buffers();
  Config cfg;
  std::string out = "build/bench-results/server.json";
  bool quick = false;
  CLI::App app{"gRPC produce throughput of `sluice serve` against in-process appends"};
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
    Workload w(cfg.records);
    std::vector<double> base, stream, fields, unary, ratios, field_ratios;
    const int steps = 4 * cfg.rounds;
    for (int r = 0; r < cfg.rounds; ++r) {
      bench::progress(4 * r, steps, "in-process append");
      base.push_back(in_process(cfg, w, r));
      bench::progress(4 * r + 1, steps, "gRPC ProduceStream, record batches");
      stream.push_back(grpc_stream(cfg, w, r, true));
      bench::progress(4 * r + 2, steps, "gRPC ProduceStream, record fields");
      fields.push_back(grpc_stream(cfg, w, r, false));
      bench::progress(4 * r + 3, steps, "gRPC Produce (unary), record fields");
      unary.push_back(grpc_unary(cfg, w, r));
      ratios.push_back(stream.back() / base.back());
      field_ratios.push_back(fields.back() / base.back());
    }
    bench::progress(steps, steps, "done");
    std::fprintf(stderr, "\n");
    const double record_bytes = kKeyBytes + kValueBytes;
    auto row = [&](const char* name, double rate) {
      fmt::print("{:<34} {:>12.0f} records/s {:>8.1f} MB/s\n", name, rate,
                 rate * record_bytes / 1e6);
    };
    fmt::print("{} records of {} bytes, {} per request, {} partitions, median of {} round(s)\n",
               w.records(), kKeyBytes + kValueBytes, kRecordsPerRequest, kPartitions, cfg.rounds);
    row("in-process LogClient::append", bench::median(base));
    row("gRPC ProduceStream, record batches", bench::median(stream));
    row("gRPC ProduceStream, record fields", bench::median(fields));
    row("gRPC Produce (unary), record fields", bench::median(unary));
    fmt::print(
        "ratio to in-process (median of per-round ratios): record batches {:.2f}, "
        "record fields {:.2f}\n",
        bench::median(ratios), bench::median(field_ratios));
    bench::Results results;
    results.set("inprocess_append_records_s", bench::median(base));
    results.set("grpc_produce_records_s", bench::median(stream));
    results.set("grpc_produce_mb_s", bench::median(stream) * record_bytes / 1e6);
    results.set("grpc_produce_fields_records_s", bench::median(fields));
    results.set("grpc_produce_fields_ratio", bench::median(field_ratios));
    results.set("grpc_produce_unary_records_s", bench::median(unary));
    results.set("grpc_produce_ratio", bench::median(ratios));
    if (!results.write(out)) throw std::runtime_error("cannot write " + out);
    fs::remove_all(cfg.dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "server_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}

// `sluice bench produce|consume`: load a server and measure, like Kafka's
// kafka-producer-perf-test and kafka-consumer-perf-test.
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include <fmt/core.h>

#include "cli/cli_common.h"
#include "sluice/base/murmur2.h"
#include "sluice/logstore/record_batch.h"

namespace sluice::cli {

namespace {

struct BenchFlags {
  server::ClientOptions client;
  std::string topic;
  int64_t records = 1'000'000;
  int record_size = 100;
  int batch = 1000;
  int partitions = 0;  // of a topic the bench creates; 0: use the existing topic
  bool fields = false;
};

double since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void progress(int64_t done, int64_t total, double seconds) {
  if (!isatty(2)) return;
  std::fprintf(stderr, "\r  %lld of %lld records, %.0f records/s   ", static_cast<long long>(done),
               static_cast<long long>(total),
               seconds > 0 ? static_cast<double>(done) / seconds : 0);
}

int produce(const BenchFlags& f) {
  if (f.records < 1 || f.record_size < 0 || f.batch < 1) {
    return report_failure("bench produce",
                          invalid_argument("--records and --batch are at least 1, --record-size "
                                           "at least 0"));
  }
  auto c = connect_or_exit(f.client);
  if (f.partitions > 0) {
    v1::CreateTopicRequest create;
    create.set_name(f.topic);
    create.set_partitions(f.partitions);
    v1::CreateTopicResponse created;
    auto s = c->topics().CreateTopic(c->context().get(), create, &created);
    if (!s.ok() && s.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
      return report_failure("bench produce: creating " + f.topic, s, f.client);
    }
  }
  v1::DescribeTopicRequest describe;
  describe.set_name(f.topic);
  v1::TopicDescription topic;
  auto s = c->topics().DescribeTopic(c->context().get(), describe, &topic);
  if (!s.ok()) return report_failure("bench produce", s, f.client);
  const int partitions = topic.partitions_size();

  std::mt19937_64 rng(1);
  std::string value(static_cast<size_t>(f.record_size), 'x');
  for (char& ch : value) ch = static_cast<char>('a' + rng() % 26);
  auto ctx = c->context();
  v1::ProduceStreamResponse response;
  auto writer = c->records().ProduceStream(ctx.get(), &response);
  const auto start = std::chrono::steady_clock::now();
  int64_t sent = 0;
  int32_t partition = 0;
  logstore::RecordBatchBuilder builder;
  v1::ProduceRequest request;
  while (sent < f.records) {
    const int n = static_cast<int>(std::min<int64_t>(f.batch, f.records - sent));
    request.Clear();
    request.set_topic(f.topic);
    request.set_partition(partition);
    partition = (partition + 1) % partitions;
    if (f.fields) {
      for (int i = 0; i < n; ++i) request.add_records()->set_value(value);
    } else {
      // What a Kafka producer sends: one encoded RecordBatch v2 per partition and request.
      builder.reset();
      for (int i = 0; i < n; ++i) builder.add({.value = ByteView(value)});
      auto batch = builder.build();
      if (!batch.ok()) return report_failure("bench produce", batch.status());
      request.set_record_batch(std::move(*batch));
    }
    if (!writer->Write(request)) break;
    sent += n;
    if ((sent / f.batch) % 200 == 0) progress(sent, f.records, since(start));
  }
  writer->WritesDone();
  s = writer->Finish();
  const double seconds = since(start);
  if (isatty(2)) std::fprintf(stderr, "\n");
  if (!s.ok()) return report_failure("bench produce", s, f.client);
  const double rate = static_cast<double>(response.records()) / seconds;
  std::printf(
      "%lld records sent, %.0f records/s (%.1f MB/s), %d-byte values, %d per request, "
      "%s\n",
      static_cast<long long>(response.records()), rate, rate * f.record_size / 1e6, f.record_size,
      f.batch, f.fields ? "record fields" : "record batches");
  return 0;
}

int consume(const BenchFlags& f) {
  auto c = connect_or_exit(f.client);
  v1::FetchRequest request;
  request.set_topic(f.topic);
  request.mutable_start()->set_beginning(true);
  request.set_stop_at_end(true);
  request.set_max_records(f.records);
  auto ctx = c->context();
  const auto start = std::chrono::steady_clock::now();
  auto reader = c->records().Fetch(ctx.get(), request);
  v1::FetchResponse response;
  int64_t records = 0, bytes = 0;
  while (reader->Read(&response)) {
    for (const auto& r : response.records())
      bytes += static_cast<int64_t>(r.value().size() + r.key().size());
    records += response.records_size();
    if (records % 100'000 < response.records_size()) progress(records, f.records, since(start));
  }
  auto s = reader->Finish();
  const double seconds = since(start);
  if (isatty(2)) std::fprintf(stderr, "\n");
  if (!s.ok()) return report_failure("bench consume", s, f.client);
  std::printf("%lld records read, %.0f records/s (%.1f MB/s)\n", static_cast<long long>(records),
              static_cast<double>(records) / seconds, static_cast<double>(bytes) / seconds / 1e6);
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto f = std::make_shared<BenchFlags>();
  CLI::App* bench = app.add_subcommand(
      "bench",
      "Load a server and measure throughput (as kafka-producer-perf-test does). The\n"
      "repository's own benchmarks are `make bench`.");
  bench->require_subcommand(1);
  CLI::App* p = bench->add_subcommand("produce", "Stream records to a topic as fast as it goes");
  p->add_option("-t,--topic", f->topic, "Topic")->required();
  p->add_option("--records", f->records, "Records to send")->capture_default_str();
  p->add_option("--record-size", f->record_size, "Value bytes")->capture_default_str();
  p->add_option("--batch", f->batch, "Records per request")->capture_default_str();
  p->add_option("--partitions", f->partitions, "Create the topic with this many partitions");
  p->add_flag("--record-fields", f->fields,
              "Send records as protobuf fields instead of encoded record batches");
  add_client_flags(*p, f->client);
  p->callback([f] { exit_code() = produce(*f); });
  CLI::App* r = bench->add_subcommand("consume", "Read a topic from the beginning to its end");
  r->add_option("-t,--topic", f->topic, "Topic")->required();
  r->add_option("--records", f->records, "Stop after this many")->capture_default_str();
  add_client_flags(*r, f->client);
  r->callback([f] { exit_code() = consume(*f); });
}

}  // namespace sluice::cli

// End-to-end benchmark of the runtime on the embedded log, with its baseline in the same run:
//   - stateless pipeline (decode, filter, map, encode, append) over 100-byte records, exactly-
//     once with 100 ms commits: records/s per stream thread, and the ratio to a hand-written loop
//     doing the same work with the logstore API directly (stateless_loop_ratio);
//   - windowed count of 100,000 distinct keys in RocksDB, exactly-once, 100 ms commits:
//     windowed_count_records_s_per_thread;
//   - end-to-end latency, append to committed (read-committed visible) output, at a fixed
//     50,000 events/s: p50/p99 with 100 ms commits and with 5 ms commits.
// Results: a table on stdout and build/bench-results/runtime.json.
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include <unistd.h>

#include "bench_log.h"
#include "bench_util.h"
#include "sluice/dsl/topology_builder.h"
#include "sluice/logstore/log_store.h"
#include "sluice/runtime/runtime.h"

using namespace sluice;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using bench::check;
using bench::open_log;

struct Config {
  std::string dir = "build/bench-data/runtime";
  int64_t records = 4'000'000;
  int64_t windowed_records = 2'000'000;
  double latency_seconds = 5;
  int partitions = 4;
  int rounds = 5;  // of the stateless case
};

void create(logstore::LogClient& log, const std::string& topic, int partitions) {
  logstore::TopicConfig c;
  c.partitions = partitions;
  c.retention_ms = -1;
  c.segment_bytes = 512 << 20;
  check(log.create_topic(topic, c));
}

std::string key_of(uint64_t k) { return fmt::format("key-{:06d}", k); }

// `n` records of a 10-byte key and a 90-byte value; one in 16 values starts with 'x' (filtered).
void produce(logstore::LogClient& log, const std::string& topic, int partitions, int64_t n,
             uint64_t keys) {
  std::mt19937_64 rng(42);
  std::vector<std::string> ks, vs;
  std::vector<logstore::Record> batch;
  for (int64_t i = 0; i < n; i += 1000) {
    ks.clear();
    vs.clear();
    batch.clear();
    const int64_t len = std::min<int64_t>(1000, n - i);
    for (int64_t j = 0; j < len; ++j) {
      ks.push_back(key_of(rng() % keys));
      std::string v(90, 'a' + static_cast<char>(rng() % 26));
      if (rng() % 16 == 0) v[0] = 'x';
      vs.push_back(std::move(v));
    }
    for (int64_t j = 0; j < len; ++j) {
      batch.push_back({.key = ByteView(ks[static_cast<size_t>(j)]),
                       .value = ByteView(vs[static_cast<size_t>(j)]),
                       .timestamp = Timestamp(i + j)});
    }
    const int p = static_cast<int>((i / 1000) % partitions);
    check(log.append({topic, PartitionId(p)}, batch).status());
  }
}

bool keep(const std::string& v) { return v.empty() || v[0] != 'x'; }
std::string transform(std::string v) {
  for (size_t i = 0; i < std::min<size_t>(16, v.size()); ++i) v[i] = static_cast<char>(v[i] - 32);
  return v;
}

// Waits until the application's committed positions reach the end of every partition of
// `topics`; returns the seconds since `start`.
double wait_consumed(logstore::LogStore& log, const std::string& app,
                     const std::vector<std::pair<std::string, int>>& topics, double start) {
  for (;;) {
    bool done = true;
    for (const auto& [topic, n] : topics) {
      for (int p = 0; p < n && done; ++p) {
        logstore::TopicPartition tp{topic, PartitionId(p)};
        auto c = log.committed_offset(app, tp);
        auto e = log.partition_ends(tp);
        check(c.status());
        check(e.status());
        done = *c && (*c)->offset >= e->stable.offset();
      }
    }
    if (done) return bench::now_s() - start;
    std::this_thread::sleep_for(1ms);
  }
}

runtime::RuntimeConfig runtime_config(const Config& cfg, const std::string& app,
                                      int64_t commit_ms) {
  runtime::RuntimeConfig c;
  c.application_id = app;
  c.state_dir = cfg.dir + "/state-" + app;
  c.threads = 1;
  c.commit_interval_ms = commit_ms;
  c.memory_budget_bytes = 256 << 20;
  c.record_cache_bytes = 32 << 20;
  return c;
}

// The hand-written loop: fetch, decode, filter, map, encode, append — the same work.
double stateless_loop(const Config& cfg, logstore::LogStore& log, int round) {
  const std::string out_topic = "loop-out-" + std::to_string(round);
  create(log, out_topic, cfg.partitions);
  ::sync();  // no writeback of earlier runs pending: loop and runtime start alike
  const double start = bench::now_s();
  int64_t out = 0;
  for (int p = 0; p < cfg.partitions; ++p) {
    logstore::TopicPartition in{"in", PartitionId(p)}, to{out_topic, PartitionId(p)};
    Offset position(0);
    std::vector<std::string> keys, values;
    std::vector<logstore::Record> batch;
    for (;;) {
      auto fetched = log.fetch({.partition = in, .offset = position});
      check(fetched.status());
      if (fetched->batches.empty()) break;
      keys.clear();
      values.clear();
      batch.clear();
      check(logstore::for_each_record(*fetched, position, logstore::IsolationLevel::kReadCommitted,
                                      [&](const logstore::RecordView& r) {
                                        std::string k(*r.key), v(*r.value);
                                        if (!keep(v)) return;
                                        keys.push_back(std::move(k));
                                        values.push_back(transform(std::move(v)));
                                        batch.push_back({.timestamp = r.timestamp});
                                      }));
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i].key = ByteView(keys[i]);
        batch[i].value = ByteView(values[i]);
      }
      check(log.append(to, batch).status());
      out += static_cast<int64_t>(batch.size());
      position = fetched->next_offset;
    }
  }
  const double s = bench::now_s() - start;
  if (out == 0) throw std::runtime_error("the loop produced nothing");
  return static_cast<double>(cfg.records) / s;
}

struct RuntimeRate {
  double steady = 0;  // records/s between 10% and 90% of the input processed
  double whole = 0;   // records/s from start() to everything committed
};

// Runs `rt` over `records` input records and measures its rate two ways: the steady rate (what
// the loop is compared with: neither includes opening tasks nor the last commit interval) and
// the whole run.
RuntimeRate measure(runtime::Runtime& rt, logstore::LogStore& log, const std::string& app,
                    const std::string& input, int partitions, int64_t records) {
  const double start = bench::now_s();
  check(rt.start());
  double t10 = 0, t90 = 0;
  int64_t n10 = 0, n90 = 0;
  while (t90 == 0) {
    int64_t processed = 0;
    for (const auto& t : rt.metrics().tasks) processed += t.operators.records_processed;
    const double now = bench::now_s();
    if (t10 == 0 && processed >= records / 10) t10 = now, n10 = processed;
    if (processed >= records * 9 / 10) t90 = now, n90 = processed;
    if (rt.status().state != runtime::RuntimeState::kRunning) check(rt.wait());
    std::this_thread::sleep_for(1ms);
  }
  const double whole = wait_consumed(log, app, {{input, partitions}}, start);
  rt.stop();
  check(rt.wait());
  for (const auto& t : rt.metrics().threads) {
    // (On stderr, as the progress line it replaces.)
    std::fprintf(
        stderr, "\r%-79s\r  %s: %lld commits, %.2f ms each on average (max %.1f), %.2f s in all\n",
        "", app.c_str(), static_cast<long long>(t.commits), t.commit_latency_avg_ms,
        t.commit_latency_max_ms, t.commit_latency_avg_ms * static_cast<double>(t.commits) / 1e3);
  }
  return {static_cast<double>(n90 - n10) / (t90 - t10), static_cast<double>(records) / whole};
}

RuntimeRate stateless_runtime(const Config& cfg, logstore::LogStore& log, int round) {
  const std::string out_topic = "out-" + std::to_string(round);
  const std::string app = "stateless-" + std::to_string(round);
  create(log, out_topic, cfg.partitions);
  dsl::TopologyBuilder b;
  b.stream<std::string, std::string>("in")
      .filter([](const std::string&, const std::string& v) { return keep(v); })
      .map_values([](std::string v) { return transform(std::move(v)); })  // as the loop does
      .to(out_topic);
  auto t = b.build();
  check(t.status());
  auto rt = runtime::Runtime::create(std::move(*t), log, runtime_config(cfg, app, 100));
  check(rt.status());
  ::sync();  // as before the loop
  return measure(**rt, log, app, "in", cfg.partitions, cfg.records);
}

RuntimeRate windowed_count(const Config& cfg, logstore::LogStore& log) {
  create(log, "keyed", cfg.partitions);
  create(log, "counts", cfg.partitions);
  produce(log, "keyed", cfg.partitions, cfg.windowed_records, 100'000);
  dsl::TopologyBuilder b;
  b.stream<std::string, std::string>("keyed")
      .group_by_key()
      .windowed_by(dsl::TumblingWindows::of(1min))
      .count("counts-store")
      .to_stream()
      .to("counts");
  auto t = b.build();
  check(t.status());
  auto rt = runtime::Runtime::create(std::move(*t), log, runtime_config(cfg, "windowed", 100));
  check(rt.status());
  return measure(**rt, log, "windowed", "keyed", cfg.partitions, cfg.windowed_records);
}

int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Latency {
  double p50_ms = 0, p99_ms = 0;
  int64_t samples = 0;
};

// A producer appends 50 events every millisecond (50,000/s), each carrying its append time; a
// read-committed reader long-polls the output and records how long each took to appear.
Latency latency(const Config& cfg, logstore::LogStore& log, int64_t commit_ms) {
  const std::string app = "latency-" + std::to_string(commit_ms);
  const std::string in = app + "-in", out = app + "-out";
  create(log, in, 1);
  create(log, out, 1);
  dsl::TopologyBuilder b;
  b.stream<std::string, std::string>(in).map_values([](const std::string& v) { return v; }).to(out);
  auto t = b.build();
  check(t.status());
  auto config = runtime_config(cfg, app, commit_ms);
  config.offset_reset = runtime::OffsetReset::kLatest;
  auto rt = runtime::Runtime::create(std::move(*t), log, config);
  check(rt.status());
  check((*rt)->start());
  std::this_thread::sleep_for(200ms);  // tasks open

  std::atomic<bool> producing{true};
  std::thread producer([&] {
    const int64_t start = mono_ns();
    std::string key = "k";
    for (int64_t tick = 1; producing; ++tick) {
      const int64_t due = start + tick * 1'000'000;
      while (mono_ns() < due) std::this_thread::sleep_for(50us);
      std::vector<std::string> values(50);
      std::vector<logstore::Record> batch;
      for (auto& v : values) {
        v = std::to_string(mono_ns());
        batch.push_back({.key = ByteView(key), .value = ByteView(v)});
      }
      check(log.append({in, PartitionId(0)}, batch).status());
    }
  });
  std::vector<double> samples;
  Offset position(0);
  const double until = bench::now_s() + cfg.latency_seconds;
  while (bench::now_s() < until) {
    auto fetched =
        log.fetch({.partition = {out, PartitionId(0)}, .offset = position, .max_wait_ms = 100});
    check(fetched.status());
    const int64_t now = mono_ns();
    check(logstore::for_each_record(*fetched, position, logstore::IsolationLevel::kReadCommitted,
                                    [&](const logstore::RecordView& r) {
                                      const int64_t sent = std::stoll(std::string(*r.value));
                                      samples.push_back(static_cast<double>(now - sent) / 1e6);
                                    }));
    position = fetched->next_offset;
  }
  producing = false;
  producer.join();
  (*rt)->stop();
  check((*rt)->wait());
  // The first half second warms up (task start, first fetches).
  const size_t skip = std::min(samples.size(), static_cast<size_t>(25'000));
  std::vector<double> steady(samples.begin() + static_cast<std::ptrdiff_t>(skip), samples.end());
  std::sort(steady.begin(), steady.end());
  Latency l;
  l.samples = static_cast<int64_t>(steady.size());
  if (!steady.empty()) {
    l.p50_ms = steady[steady.size() / 2];
    l.p99_ms = steady[steady.size() * 99 / 100];
  }
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  std::string out = "build/bench-results/runtime.json";
  bool quick = false;
  std::string only = "all";
  CLI::App app{"Benchmarks the runtime end to end on the embedded log."};
  app.add_option("--dir", cfg.dir, "Scratch directory (emptied first)")->capture_default_str();
  app.add_option("--records", cfg.records, "Records of the stateless case")->capture_default_str();
  app.add_option("--rounds", cfg.rounds, "Rounds of the stateless case (loop, then runtime)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--windowed-records", cfg.windowed_records, "Records of the windowed count")
      ->capture_default_str();
  app.add_option("--latency-seconds", cfg.latency_seconds, "Length of each latency run")
      ->capture_default_str();
  app.add_option("--out", out, "JSON results file")->capture_default_str();
  app.add_flag("--quick", quick, "Tiny sizes: checks the harness works");
  app.add_option("--case", only, "One case only: stateless, windowed, latency or all")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    cfg.records = 200'000;
    cfg.windowed_records = 100'000;
    cfg.latency_seconds = 1.5;
    cfg.rounds = 2;
  }
  spdlog::set_level(spdlog::level::warn);
  try {
    fs::remove_all(cfg.dir);
    auto log = open_log(cfg.dir + "/log");
    bench::Results r;
    fmt::print("{:<46} {:>14} {:>10}\n", "case", "records/s", "MB/s");
    if (only == "all" || only == "stateless") {
      bench::progress(1, 3, "stateless: producing " + std::to_string(cfg.records) + " records");
      create(*log, "in", cfg.partitions);
      produce(*log, "in", cfg.partitions, cfg.records, 100'000);
      // Loop and runtime alternate, `rounds` rounds each; the figures are the medians.
      std::vector<double> loops, steadies, wholes, ratios;
      for (int round = 0; round < cfg.rounds; ++round) {
        bench::progress(
            1, 3, fmt::format("stateless round {}/{}: hand-written loop", round + 1, cfg.rounds));
        loops.push_back(stateless_loop(cfg, *log, round));
        bench::progress(1, 3, fmt::format("stateless round {}/{}: runtime", round + 1, cfg.rounds));
        const RuntimeRate one = stateless_runtime(cfg, *log, round);
        steadies.push_back(one.steady);
        wholes.push_back(one.whole);
        // Each round's pair ran back to back, under the same disk and page-cache conditions.
        ratios.push_back(one.steady / loops.back());
        // Their 800 MB of output go, so that every round starts from the same disk.
        check(log->delete_topic("loop-out-" + std::to_string(round)));
        check(log->delete_topic("out-" + std::to_string(round)));
      }
      const double loop = bench::median(loops);
      const RuntimeRate rt{bench::median(steadies), bench::median(wholes)};
      std::fprintf(stderr, "\n");
      for (size_t i = 0; i < loops.size(); ++i) {
        fmt::print("  round {}: loop {:.0f}, runtime {:.0f} records/s, ratio {:.2f}\n", i + 1,
                   loops[i], steadies[i], ratios[i]);
      }
      std::fprintf(stderr, "\n");
      fmt::print("{:<46} {:>14.0f} {:>10.1f}\n", "hand-written loop (logstore API)", loop,
                 loop * 100 / 1e6);
      const double ratio = bench::median(ratios);
      fmt::print("{:<46} {:>14.0f} {:>10.1f}   ratio {:.2f}\n",
                 "runtime, 1 thread, exactly-once (steady)", rt.steady, rt.steady * 100 / 1e6,
                 ratio);
      fmt::print("{:<46} {:>14.0f} {:>10.1f}\n", "  the same, start to last commit", rt.whole,
                 rt.whole * 100 / 1e6);
      r.set("stateless_loop_records_s", loop);
      r.set("stateless_records_s_per_thread", rt.steady);
      r.set("stateless_records_s_per_thread_whole_run", rt.whole);
      r.set("stateless_loop_ratio", ratio);
    }
    if (only == "all" || only == "windowed") {
      bench::progress(2, 3, "windowed count, 100,000 keys");
      const RuntimeRate w = windowed_count(cfg, *log);
      std::fprintf(stderr, "\n");
      fmt::print("{:<46} {:>14.0f} {:>10.1f}\n", "windowed count, RocksDB, exactly-once (steady)",
                 w.steady, w.steady * 100 / 1e6);
      fmt::print("{:<46} {:>14.0f} {:>10.1f}\n", "  the same, start to last commit", w.whole,
                 w.whole * 100 / 1e6);
      r.set("windowed_count_records_s_per_thread", w.steady);
      r.set("windowed_count_records_s_per_thread_whole_run", w.whole);
    }
    if (only == "all" || only == "latency") {
      bench::progress(3, 3, "latency at 50,000 events/s, 100 ms commits");
      const Latency l100 = latency(cfg, *log, 100);
      bench::progress(3, 3, "latency at 50,000 events/s, 5 ms commits");
      const Latency l5 = latency(cfg, *log, 5);
      std::fprintf(stderr, "\n");
      fmt::print(
          "latency at 50,000 events/s, commit 100 ms: p50 {:.1f} ms, p99 {:.1f} ms ({} "
          "samples)\n",
          l100.p50_ms, l100.p99_ms, l100.samples);
      fmt::print(
          "latency at 50,000 events/s, commit   5 ms: p50 {:.1f} ms, p99 {:.1f} ms ({} "
          "samples)\n",
          l5.p50_ms, l5.p99_ms, l5.samples);
      r.set("e2e_latency_p50_ms", l100.p50_ms);
      r.set("e2e_latency_p99_ms", l100.p99_ms);
      r.set("e2e_latency_commit5_p50_ms", l5.p50_ms);
      r.set("e2e_latency_commit5_p99_ms", l5.p99_ms);
    }
    if (!r.write(out)) throw std::runtime_error("cannot write " + out);
    fmt::print("results in {}\n", out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nruntime_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}

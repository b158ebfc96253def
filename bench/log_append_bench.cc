// End-to-end benchmark of the log's append and read paths, against a baseline measured in the
// same run: the same bytes written with plain write() (and fdatasync at the same cadence), and
// read with plain pread().
//
// For each batch size (1, 100, 1000, 10000 records of an 8-byte key and a 100-byte value) and
// each flush policy (every-batch, interval = 100 ms, never), log and baseline alternate for
// --rounds rounds; each figure is the median. The fsync-every-batch cases run for a fixed time.
// The matrix's topics use record.validation=crc (the batch's CRC and header are checked); one
// more case shows the default, full validation. Results: a table on stdout and
// build/bench-results/log_append.json.
#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "bench_util.h"
#include "sluice/logstore/log_store.h"

using namespace sluice;
using namespace sluice::logstore;
namespace fs = std::filesystem;

namespace {

constexpr int kKeyBytes = 8;
constexpr int kValueBytes = 100;

struct Run {
  double records = 0, bytes = 0, seconds = 0;
  double mb_s() const { return bytes / seconds / 1e6; }
  double records_s() const { return records / seconds; }
};

struct Config {
  std::string dir;
  int rounds = 5;
  double bytes = 256e6;
  double fsync_seconds = 2;
};

// The name of a case: "fsync" reads better than "every-batch" in a table.
std::string policy_name(FlushPolicy p) {
  return p == FlushPolicy::kEveryBatch ? "fsync" : std::string(flush_policy_name(p));
}

// Record contents: random values, keys counting up.
struct Data {
  explicit Data(int n) : keys(n), values(n), records(n) {
    std::mt19937_64 rng(7);
    for (int i = 0; i < n; ++i) {
      keys[i].resize(kKeyBytes);
      uint64_t k = static_cast<uint64_t>(i);
      std::memcpy(keys[i].data(), &k, kKeyBytes);
      values[i].resize(kValueBytes);
      for (char& c : values[i]) c = static_cast<char>(rng());
      records[i] = Record{.key = ByteView(keys[i]), .value = ByteView(values[i])};
    }
  }
  Bytes batch() const {
    RecordBatchBuilder b;
    for (const Record& r : records) b.add(r);
    return *b.build();
  }
  std::vector<std::string> keys, values;
  std::vector<Record> records;
};

std::unique_ptr<LogStore> fresh_store(const Config& cfg, FlushPolicy policy,
                                      const std::string& validation = "full") {
  fs::remove_all(cfg.dir);
  LogStoreOptions options;
  options.data_dir = cfg.dir;
  auto store = LogStore::open(options);
  if (!store.ok()) throw std::runtime_error(store.status().to_string());
  TopicConfig config;
  (void)config.set("flush.policy", std::string(flush_policy_name(policy)));
  (void)config.set("segment.bytes", std::to_string(1 << 30));
  (void)config.set("record.validation", validation);
  Status s = (*store)->create_topic("bench", config);
  if (!s.ok()) throw std::runtime_error(s.to_string());
  return std::move(store).value();
}

// The log: pre-built batches appended as a broker receives them (CRC validated, offsets
// assigned, indexes updated, written, synced as the policy says). `validation` is the topic's
// record.validation: "crc" in the matrix, "full" to also walk every record (the default).
Run run_log(const Config& cfg, const Data& data, FlushPolicy policy,
            const std::string& validation = "full") {
  auto store = fresh_store(cfg, policy, validation);
  Bytes batch = data.batch();
  const TopicPartition tp{"bench", PartitionId(0)};
  const bool timed = policy == FlushPolicy::kEveryBatch;
  const int64_t n = static_cast<int64_t>(cfg.bytes / static_cast<double>(batch.size())) + 1;
  Run run;
  double start = bench::now_s();
  for (int64_t i = 0; timed ? bench::now_s() - start < cfg.fsync_seconds : i < n; ++i) {
    auto r = store->append_batch(tp, batch);
    if (!r.ok()) throw std::runtime_error(r.status().to_string());
    run.records += static_cast<double>(data.records.size());
    run.bytes += static_cast<double>(batch.size());
  }
  run.seconds = bench::now_s() - start;
  (void)store->close();
  return run;
}

// The same, but the batches are encoded from individual records inside the timed region.
Run run_log_records(const Config& cfg, const Data& data, FlushPolicy policy) {
  auto store = fresh_store(cfg, policy);
  const TopicPartition tp{"bench", PartitionId(0)};
  const double per_batch = static_cast<double>(data.batch().size());
  const int64_t n = static_cast<int64_t>(cfg.bytes / per_batch) + 1;
  Run run;
  double start = bench::now_s();
  for (int64_t i = 0; i < n; ++i) {
    auto r = store->append(tp, data.records);
    if (!r.ok()) throw std::runtime_error(r.status().to_string());
    run.records += static_cast<double>(data.records.size());
    run.bytes += per_batch;
  }
  run.seconds = bench::now_s() - start;
  (void)store->close();
  return run;
}

// The baseline: write() of the same bytes, fdatasync at the same cadence (per batch, every
// 100 ms from a background thread, or never).
Run run_baseline(const Config& cfg, const Data& data, FlushPolicy policy) {
  fs::remove_all(cfg.dir);
  fs::create_directories(cfg.dir);
  const std::string path = cfg.dir + "/baseline.dat";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  Bytes batch = data.batch();
  const bool timed = policy == FlushPolicy::kEveryBatch;
  const int64_t n = static_cast<int64_t>(cfg.bytes / static_cast<double>(batch.size())) + 1;
  std::atomic<bool> stop{false};
  std::thread flusher;
  if (policy == FlushPolicy::kInterval) {
    flusher = std::thread([&] {
      while (!stop) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        ::fdatasync(fd);
      }
    });
  }
  Run run;
  double start = bench::now_s();
  for (int64_t i = 0; timed ? bench::now_s() - start < cfg.fsync_seconds : i < n; ++i) {
    if (::write(fd, batch.data(), batch.size()) != static_cast<ssize_t>(batch.size())) {
      throw std::runtime_error("baseline write failed");
    }
    if (policy == FlushPolicy::kEveryBatch) ::fdatasync(fd);
    run.records += static_cast<double>(data.records.size());
    run.bytes += static_cast<double>(batch.size());
  }
  run.seconds = bench::now_s() - start;
  stop = true;
  if (flusher.joinable()) flusher.join();
  ::close(fd);
  return run;
}

// Sequential read through the public fetch API (every batch's CRC verified), from the page
// cache; and the baseline: pread() of the same bytes in the same chunk size.
std::pair<Run, Run> run_read(const Config& cfg, const Data& data) {
  Run written = run_log(cfg, data, FlushPolicy::kNever);
  LogStoreOptions options;
  options.data_dir = cfg.dir;
  options.background_maintenance = false;
  auto store = LogStore::open(options);
  if (!store.ok()) throw std::runtime_error(store.status().to_string());
  constexpr size_t kChunk = 1 << 20;
  Run log;
  FetchRequest req{
      .partition = {"bench", PartitionId(0)}, .offset = Offset(0), .max_bytes = kChunk};
  double start = bench::now_s();
  while (true) {
    auto r = (*store)->fetch(req);
    if (!r.ok()) throw std::runtime_error(r.status().to_string());
    if (r->batches.empty()) break;
    log.bytes += static_cast<double>(r->batches.size());
    req.offset = r->next_offset;
  }
  log.seconds = bench::now_s() - start;
  log.records = static_cast<double>(req.offset.value());
  (void)(*store)->close();

  Run base;
  std::string segment;
  for (const auto& e : fs::recursive_directory_iterator(cfg.dir + "/topics/bench")) {
    if (e.path().extension() == ".log") segment = e.path().string();
  }
  int fd = ::open(segment.c_str(), O_RDONLY | O_CLOEXEC);
  Bytes buf(kChunk, '\0');
  start = bench::now_s();
  for (off_t pos = 0;;) {
    ssize_t n = ::pread(fd, buf.data(), kChunk, pos);
    if (n <= 0) break;
    pos += n;
    base.bytes += static_cast<double>(n);
  }
  base.seconds = bench::now_s() - start;
  base.records = written.records;
  ::close(fd);
  return {log, base};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmarks the log's append and read paths against plain write()/pread()."};
  Config cfg;
  cfg.dir = "build/bench-data/log";
  std::string out = "build/bench-results/log_append.json";
  double mb = 256;
  bool quick = false;
  std::string only;
  app.add_option("--dir", cfg.dir, "Scratch directory on the disk to measure")
      ->capture_default_str();
  app.add_option("--rounds", cfg.rounds, "Rounds per case (log and baseline alternate)")
      ->capture_default_str();
  app.add_option("--mb", mb, "MB appended per non-fsync case and round")->capture_default_str();
  app.add_option("--fsync-seconds", cfg.fsync_seconds, "Seconds per fsync-every-batch case")
      ->capture_default_str();
  app.add_option("--out", out, "JSON results file")->capture_default_str();
  app.add_flag("--quick", quick, "Tiny sizes, one round: checks the harness works");
  app.add_option("--only", only, "Run only the cases whose name contains this text");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    cfg.rounds = 1;
    mb = 4;
    cfg.fsync_seconds = 0.2;
  }
  cfg.bytes = mb * 1e6;

  bench::Results results;
  const std::vector<int> batch_sizes = {1, 100, 1000, 10000};
  const std::vector<FlushPolicy> policies = {FlushPolicy::kEveryBatch, FlushPolicy::kInterval,
                                             FlushPolicy::kNever};
  const int total = static_cast<int>(batch_sizes.size() * policies.size()) + 3;
  int done = 0;
  fmt::print("{:<28} {:>14} {:>10} {:>14} {:>10} {:>7}\n", "case", "log rec/s", "log MB/s",
             "base rec/s", "base MB/s", "ratio");
  auto report = [&](const std::string& name, const std::vector<Run>& log,
                    const std::vector<Run>& base) {
    std::vector<double> lr, lm, br, bm;
    for (const Run& r : log) lr.push_back(r.records_s()), lm.push_back(r.mb_s());
    for (const Run& r : base) br.push_back(r.records_s()), bm.push_back(r.mb_s());
    double ratio = bench::median(bm) > 0 ? bench::median(lm) / bench::median(bm) : 0;
    if (isatty(STDERR_FILENO)) fmt::print(stderr, "\r{:80}\r", "");
    fmt::print("{:<28} {:>14.0f} {:>10.1f} {:>14.0f} {:>10.1f} {:>7.2f}\n", name, bench::median(lr),
               bench::median(lm), bench::median(br), bench::median(bm), ratio);
    std::fflush(stdout);
    results.set(name + "_records_s", bench::median(lr));
    results.set(name + "_mb_s", bench::median(lm));
    results.set(name + "_baseline_mb_s", bench::median(bm));
    results.set(name + "_ratio", ratio);
  };

  try {
    for (int batch : batch_sizes) {
      Data data(batch);
      for (FlushPolicy policy : policies) {
        const std::string name = fmt::format("append_{}_{}", batch, policy_name(policy));
        ++done;
        if (name.find(only) == std::string::npos) continue;
        bench::progress(done, total, name);
        std::vector<Run> log, base;
        for (int r = 0; r < cfg.rounds; ++r) {
          log.push_back(run_log(cfg, data, policy, "crc"));
          base.push_back(run_baseline(cfg, data, policy));
        }
        report(name, log, base);
      }
    }
    if (std::string("append_1000_interval_full_validation").find(only) != std::string::npos) {
      // The same as append_1000_interval with the topics' default record.validation=full:
      // besides the CRC, every record's framing is walked, as Kafka's broker does.
      Data data(1000);
      bench::progress(++done, total, "append_1000_interval (record.validation=full)");
      std::vector<Run> log, base;
      for (int r = 0; r < cfg.rounds; ++r) {
        log.push_back(run_log(cfg, data, FlushPolicy::kInterval, "full"));
        base.push_back(run_baseline(cfg, data, FlushPolicy::kInterval));
      }
      report("append_1000_interval_full_validation", log, base);
    }
    if (std::string("append_1000_interval_encoded").find(only) != std::string::npos) {
      Data data(1000);
      bench::progress(++done, total, "append_1000_interval (encoded from records)");
      std::vector<Run> log, base;
      for (int r = 0; r < cfg.rounds; ++r) {
        log.push_back(run_log_records(cfg, data, FlushPolicy::kInterval));
        base.push_back(run_baseline(cfg, data, FlushPolicy::kInterval));
      }
      report("append_1000_interval_encoded", log, base);
      // By definition (the acceptance list) append_1000_interval_records_s is the
      // encoded case: it replaces the pre-built case's records/s written by report() above.
      results.set("append_1000_interval_records_s", bench::median([&] {
                    std::vector<double> v;
                    for (const Run& r : log) v.push_back(r.records_s());
                    return v;
                  }()));
    }
    if (std::string("read").find(only) != std::string::npos) {
      Data data(1000);
      bench::progress(++done, total, "read (CRC verified)");
      std::vector<Run> reads, preads;
      for (int r = 0; r < cfg.rounds; ++r) {
        auto [l, b] = run_read(cfg, data);
        reads.push_back(l);
        preads.push_back(b);
      }
      report("read", reads, preads);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "\nlog bench failed: {}\n", e.what());
    return 1;
  }
  fs::remove_all(cfg.dir);
  if (!results.write(out)) {
    fmt::print(stderr, "cannot write {}\n", out);
    return 1;
  }
  fmt::print("results: {}\n", out);
  return 0;
}

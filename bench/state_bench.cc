// End-to-end benchmark of the state stores, with baselines measured in the same run:
//   - cached read-modify-write of 100,000 hot keys with changelogging and a commit (cache flush,
//     changelog append, RocksDB apply) every 100 ms inside the timed region: state_cached_rmw_s;
//   - put and get of 100-byte values through an uncached, unlogged store against raw RocksDB
//     with the same options (batched puts in both): state_put_ratio, state_get_ratio;
//   - puts with changelogging;
//   - restore of 5 million changelog records into an empty store: state_restore_records_s.
// Results: a table on stdout and build/bench-results/state.json.
#include <fmt/core.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <random>

#include "bench_log.h"
#include "bench_util.h"
#include "memory_budget_impl.h"  // private: the raw baseline uses the same options
#include "sluice/logstore/log_store.h"
#include "sluice/state/task_state.h"

using namespace sluice;
using namespace sluice::state;
namespace fs = std::filesystem;

namespace {

using bench::check;
using bench::open_log;

struct Config {
  std::string dir = "build/bench-data/state";
  double rmw_seconds = 10;
  int64_t puts = 2'000'000;
  int64_t restore_records = 5'000'000;
  int64_t commit_every = 10'000;  // puts per commit in the put/get cases
};

std::string key_of(uint64_t k) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "key-%012llu", static_cast<unsigned long long>(k));
  return buf;
}

std::unique_ptr<TaskState> open_state(const std::string& dir, logstore::LogClient* log,
                                      std::shared_ptr<StateMemoryBudget> budget,
                                      size_t cache_bytes = 64 << 20) {
  TaskStateOptions o;
  o.state_dir = dir;
  o.application_id = "bench";
  o.log = log;
  o.budget = std::move(budget);
  o.cache_bytes = cache_bytes;
  auto s = TaskState::open(o);
  if (!s.ok()) throw std::runtime_error(s.status().to_string());
  return std::move(s).value();
}

struct Rmw {
  double updates_s = 0;
  double commit_share = 0;  // of the wall time
};

Rmw cached_rmw(const Config& cfg) {
  fs::remove_all(cfg.dir);
  auto log = open_log(cfg.dir + "/log");
  auto state = open_state(cfg.dir + "/state", log.get(), StateMemoryBudget::create(256 << 20));
  auto store = state->key_value_store({.name = "counts"});
  check(store.status());
  constexpr uint64_t kKeys = 100'000;
  // Each update's key is written into one buffer, as an aggregation finds its record's key in
  // the batch it just decoded: read from a table of 100,000 strings it cost a cache miss of
  // its own (~100 ns) that no stream processor pays.
  char key_buf[] = "key-000000000000";
  const ByteView key(key_buf, sizeof(key_buf) - 1);
  std::mt19937_64 rng(3);
  std::string value(100, 'x');
  std::string stored;
  int64_t updates = 0;
  const double start = bench::now_s();
  double next_commit = start + 0.1;
  double flush_s = 0, apply_s = 0;
  int commits = 0;
  double now = start;
  while (now - start < cfg.rmw_seconds) {
    for (int i = 0; i < 1000; ++i) {
      uint64_t draw = rng() % kKeys;  // as key_of(draw)
      for (char* digit = key_buf + sizeof(key_buf) - 2; digit >= key_buf + 4; --digit) {
        *digit = static_cast<char>('0' + draw % 10);
        draw /= 10;
      }
      const ByteView k = key;
      auto found = (*store)->get_into(k, stored);  // as an aggregation reads its state
      check(found.status());
      uint64_t n = 0;
      if (*found) std::memcpy(&n, stored.data(), sizeof(n));
      ++n;
      std::memcpy(value.data(), &n, sizeof(n));
      check((*store)->put(k, value));
    }
    updates += 1000;
    now = bench::now_s();
    if (now >= next_commit) {
      const double t0 = bench::now_s();
      check(state->flush(nullptr));
      const double t1 = bench::now_s();
      check(state->apply());
      flush_s += t1 - t0;
      apply_s += bench::now_s() - t1;
      ++commits;
      next_commit += 0.1;
    }
  }
  check(state->commit());
  const double seconds = bench::now_s() - start;
  if (isatty(STDERR_FILENO)) fmt::print(stderr, "\r{:80}\r", "");
  // Where the time goes: the commits write every key updated since the last one to the
  // changelog and RocksDB, and with 100,000 hot keys most updates in 100 ms hit distinct keys.
  fmt::print(
      "cached RMW: {} commits; flush (cache -> store, changelog) {:.2f} s, apply (RocksDB "
      "write) {:.2f} s, processing {:.2f} s of {:.2f} s\n",
      commits, flush_s, apply_s, seconds - flush_s - apply_s, seconds);
  return {static_cast<double>(updates) / seconds, (flush_s + apply_s) / seconds};
}

struct PutGet {
  double put_s = 0, get_s = 0;
};

PutGet store_put_get(const Config& cfg, bool logged) {
  fs::remove_all(cfg.dir);
  auto log = open_log(cfg.dir + "/log");
  auto state = open_state(cfg.dir + "/state", log.get(), StateMemoryBudget::create(256 << 20));
  auto store = state->key_value_store({.name = "plain", .logged = logged, .cached = false});
  check(store.status());
  std::string value(100, 'v');
  std::mt19937_64 rng(5);
  PutGet r;
  double start = bench::now_s();
  for (int64_t i = 0; i < cfg.puts; ++i) {
    check((*store)->put(key_of(rng()), value));
    if (i % cfg.commit_every == cfg.commit_every - 1) check(state->commit());
  }
  check(state->commit());
  r.put_s = static_cast<double>(cfg.puts) / (bench::now_s() - start);
  rng.seed(5);
  start = bench::now_s();
  for (int64_t i = 0; i < cfg.puts; ++i) {
    auto v = (*store)->get(key_of(rng()));
    if (!v.ok() || !*v) throw std::runtime_error("a key written is missing");
  }
  r.get_s = static_cast<double>(cfg.puts) / (bench::now_s() - start);
  return r;
}

// Raw RocksDB with the options TaskState uses (same budget, cache, write-buffer manager), puts
// batched like a commit.
PutGet raw_put_get(const Config& cfg) {
  fs::remove_all(cfg.dir);
  fs::create_directories(cfg.dir);
  // Exactly the options TaskState gives its DBs: the same kind of budget (cache and
  // write-buffer manager), table and memtable settings.
  auto budget = std::static_pointer_cast<RocksMemoryBudget>(StateMemoryBudget::create(256 << 20));
  rocksdb::DBOptions db_options;
  rocksdb::ColumnFamilyOptions cf_options;
  budget->configure(db_options, cf_options);
  db_options.create_if_missing = true;
  db_options.max_background_jobs = 2;
  rocksdb::Options options(db_options, cf_options);
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(options, cfg.dir + "/raw", &raw).ok()) {
    throw std::runtime_error("cannot open raw RocksDB");
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string value(100, 'v');
  std::mt19937_64 rng(5);
  PutGet r;
  rocksdb::WriteBatch batch;
  double start = bench::now_s();
  for (int64_t i = 0; i < cfg.puts; ++i) {
    batch.Put(key_of(rng()), value);
    if (i % cfg.commit_every == cfg.commit_every - 1) {
      db->Write(rocksdb::WriteOptions(), &batch);
      batch.Clear();
    }
  }
  db->Write(rocksdb::WriteOptions(), &batch);
  r.put_s = static_cast<double>(cfg.puts) / (bench::now_s() - start);
  rng.seed(5);
  std::string out;
  start = bench::now_s();
  for (int64_t i = 0; i < cfg.puts; ++i) {
    if (!db->Get(rocksdb::ReadOptions(), key_of(rng()), &out).ok()) {
      throw std::runtime_error("raw get failed");
    }
  }
  r.get_s = static_cast<double>(cfg.puts) / (bench::now_s() - start);
  db->Close();
  return r;
}

double restore_rate(const Config& cfg) {
  fs::remove_all(cfg.dir);
  auto log = open_log(cfg.dir + "/log");
  {
    // Fill the changelog through a logged store (uncached: every record is logged).
    auto state = open_state(cfg.dir + "/state", log.get(), StateMemoryBudget::create(256 << 20));
    auto store = state->key_value_store({.name = "big", .cached = false});
    check(store.status());
    std::string value(100, 'r');
    for (int64_t i = 0; i < cfg.restore_records; ++i) {
      check((*store)->put(key_of(static_cast<uint64_t>(i)), value));
      if (i % 50'000 == 49'999) check(state->commit());
      if (i % 500'000 == 0) bench::progress(static_cast<int>(i / 500'000), 10, "filling changelog");
    }
    check(state->commit());
  }
  fs::remove_all(cfg.dir + "/state");  // lost local state: rebuilt from the changelog alone
  int64_t restored = 0;
  TaskStateOptions o;
  o.state_dir = cfg.dir + "/state";
  o.application_id = "bench";
  o.log = log.get();
  o.budget = StateMemoryBudget::create(256 << 20);
  o.on_restore = [&](const RestoreProgress& p) {
    if (p.done)
      restored = p.records;
    else
      bench::progress(
          static_cast<int>(p.records * 10 / std::max<int64_t>(p.records_total, 1)), 10,
          fmt::format("restoring: {:.0f} records/s, ETA {:.1f} s", p.records_per_s, p.eta_s));
  };
  auto state = TaskState::open(o);
  check(state.status());
  const double start = bench::now_s();
  check((*state)->key_value_store({.name = "big", .cached = false}).status());
  const double seconds = bench::now_s() - start;
  if (restored != cfg.restore_records) {
    throw std::runtime_error(
        fmt::format("restored {} records, expected {}", restored, cfg.restore_records));
  }
  return static_cast<double>(restored) / seconds;
}

// One line of the results table; `baseline` > 0 adds raw RocksDB's figure and the ratio.
void print_row(const std::string& name, double ops_s, double baseline = 0) {
  if (isatty(STDERR_FILENO)) fmt::print(stderr, "\r{:80}\r", "");
  if (baseline > 0) {
    fmt::print("{:<44} {:>14.0f} ops/s   raw RocksDB {:>12.0f}  ratio {:.2f}\n", name, ops_s,
               baseline, ops_s / baseline);
  } else {
    fmt::print("{:<44} {:>14.0f} ops/s\n", name, ops_s);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmarks the state stores against raw RocksDB."};
  Config cfg;
  std::string out = "build/bench-results/state.json";
  bool quick = false;
  std::string only = "all";
  app.add_option("--dir", cfg.dir, "Scratch directory")->capture_default_str();
  app.add_option("--rmw-seconds", cfg.rmw_seconds, "Length of the cached RMW run")
      ->capture_default_str();
  app.add_option("--puts", cfg.puts, "Puts (and gets) per put/get case")->capture_default_str();
  app.add_option("--restore-records", cfg.restore_records, "Records to restore")
      ->capture_default_str();
  app.add_option("--out", out, "JSON results file")->capture_default_str();
  app.add_flag("--quick", quick, "Tiny sizes: checks the harness works");
  app.add_option("--case", only, "Run one case only (for profiling): rmw, put, restore or all")
      ->check(CLI::IsMember({"all", "rmw", "put", "restore"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    cfg.rmw_seconds = 1;
    cfg.puts = 100'000;
    cfg.restore_records = 200'000;
  }
  bench::Results results;
  try {
    if (only == "rmw" || only == "all") {
      bench::progress(1, 5, "cached read-modify-write");
      const Rmw rmw = cached_rmw(cfg);
      print_row("cached RMW, 100k hot keys, commit 100 ms", rmw.updates_s);
      results.set("state_cached_rmw_s", rmw.updates_s);
      results.set("state_cached_rmw_commit_share", rmw.commit_share);
    }
    if (only == "put" || only == "all") {
      bench::progress(2, 5, "raw RocksDB put/get");
      const PutGet raw = raw_put_get(cfg);
      bench::progress(3, 5, "store put/get (no changelog)");
      const PutGet plain = store_put_get(cfg, false);
      bench::progress(4, 5, "store put/get (changelog)");
      const PutGet logged = store_put_get(cfg, true);
      print_row("put (uncached)", plain.put_s, raw.put_s);
      print_row("get (uncached)", plain.get_s, raw.get_s);
      print_row("put with changelog (uncached)", logged.put_s);
      results.set("state_put_s", plain.put_s);
      results.set("state_put_raw_rocksdb_s", raw.put_s);
      results.set("state_put_ratio", plain.put_s / raw.put_s);
      results.set("state_get_s", plain.get_s);
      results.set("state_get_raw_rocksdb_s", raw.get_s);
      results.set("state_get_ratio", plain.get_s / raw.get_s);
      results.set("state_put_logged_s", logged.put_s);
    }
    if (only == "restore" || only == "all") {
      bench::progress(5, 5, "restore");
      const double restore = restore_rate(cfg);
      print_row(fmt::format("restore, {} records", cfg.restore_records), restore);
      results.set("state_restore_records_s", restore);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "\nstate bench failed: {}\n", e.what());
    return 1;
  }
  fs::remove_all(cfg.dir);
  if (!results.write(out)) return 1;
  fmt::print("results: {}\n", out);
  return 0;
}

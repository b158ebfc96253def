// How long RocksDB alone takes to insert a commit's worth of sorted keys into its memtable —
// the floor under the state store's commit (docs/PERFORMANCE.md, "State stores").
//
//   build/bench/memtable_insert_bench [--write-buffer-mib 8] [--keys-per-commit 26000]
//
// Batches of distinct random keys out of 100,000 ("key-%012llu", 100-byte values), sorted or
// not, written with one DB::Write each into a fresh DB with a write-buffer manager charged to
// a block cache, as TaskState configures; prints microseconds per key.
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/write_buffer_manager.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  CLI::App app{"RocksDB memtable insert cost for commit-sized sorted batches."};
  int write_buffer_mib = 8;
  int keys_per_commit = 26'000;
  int commits = 100;
  bool sorted = true;
  bool wal = true;
  std::string dir = "build/bench-data/memtable";
  app.add_option("--write-buffer-mib", write_buffer_mib, "Memtable size")->capture_default_str();
  app.add_option("--keys-per-commit", keys_per_commit, "Distinct keys per batch")
      ->capture_default_str();
  app.add_option("--commits", commits, "Batches to write")->capture_default_str();
  app.add_option("--sorted", sorted, "Keys in sorted order within a batch")->capture_default_str();
  app.add_option("--wal", wal, "Write the WAL")->capture_default_str();
  app.add_option("--dir", dir, "Scratch directory")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  rocksdb::Options o;
  o.create_if_missing = true;
  o.write_buffer_size = static_cast<size_t>(write_buffer_mib) << 20;
  o.max_write_buffer_number = 3;
  auto cache = rocksdb::NewLRUCache(256 << 20);
  o.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(128 << 20, cache, false);
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(o, dir + "/db", &raw).ok()) {
    std::fprintf(stderr, "cannot open RocksDB in %s\n", dir.c_str());
    return 1;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.disableWAL = !wal;
  std::mt19937_64 rng(1);
  const std::string value(100, 'x');
  double seconds = 0;
  int64_t keys = 0;
  for (int c = 0; c < commits; ++c) {
    std::set<std::string> distinct;
    while (distinct.size() < static_cast<size_t>(keys_per_commit)) {
      char k[24];
      std::snprintf(k, sizeof k, "key-%012llu", static_cast<unsigned long long>(rng() % 100'000));
      distinct.insert(k);
    }
    std::vector<std::string> batch_keys(distinct.begin(), distinct.end());
    if (!sorted) std::shuffle(batch_keys.begin(), batch_keys.end(), rng);
    rocksdb::WriteBatch batch;
    for (const auto& k : batch_keys) batch.Put(k, value);
    const auto t0 = std::chrono::steady_clock::now();
    if (!db->Write(wo, &batch).ok()) return 1;
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    keys += static_cast<int64_t>(batch_keys.size());
  }
  std::printf("memtable %d MiB, %s keys, WAL %s: %.3f us per key (%.0f keys/s)\n", write_buffer_mib,
              sorted ? "sorted" : "unsorted", wal ? "on" : "off",
              seconds * 1e6 / static_cast<double>(keys), static_cast<double>(keys) / seconds);
  db.reset();
  std::filesystem::remove_all(dir);
  return 0;
}

// Crash safety with real processes and with a simulated power cut (acceptance check 2).
//
// SigkillAtRandomMoments...: a child process appends with fsync-per-batch and reports each
// acknowledged batch through a pipe; the parent SIGKILLs it at a random moment (sometimes while
// it is still opening and recovering the log), reopens the log and checks every acknowledged
// record is there byte-identical, nothing is there twice, and the next round can append.
//
// SIGKILL leaves the page cache intact, so PowerCut... runs the log over a file system that, at
// a random point, drops every write not yet synced — as a power cut would.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>

#include "crash_workload.h"
#include "fault_injection_fs.h"
#include "kill_child.h"
#include "log_test_util.h"
#include "sluice/logstore/log_store.h"
#include "temp_dir.h"

namespace sluice::logstore {
namespace {

using namespace sluice::testing;

struct Ack {
  int round, batch, partition;
  int64_t base, last;
};

uint64_t test_seed() {
  if (const char* s = std::getenv("SLUICE_CRASH_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// Checks that the log holds every acknowledged record byte-identical, and no key twice.
void verify_log(LogStore& store, uint64_t seed, const std::vector<Ack>& acks) {
  if (!store.describe_topic(crash::kTopic).ok()) {
    // Killed before the topic was created: fine, as long as nothing was acknowledged.
    ASSERT_TRUE(acks.empty()) << "acknowledged records but the topic is gone";
    return;
  }
  std::map<std::string, std::pair<int64_t, std::string>> by_key[crash::kPartitions];
  for (int p = 0; p < crash::kPartitions; ++p) {
    auto records =
        read_all(store, {crash::kTopic, PartitionId(p)}, IsolationLevel::kReadUncommitted);
    ASSERT_TRUE(records.ok()) << records.status().to_string();
    for (const ReadRecord& r : *records) {
      ASSERT_TRUE(r.key.has_value());
      auto [it, fresh] = by_key[p].emplace(*r.key, std::make_pair(r.offset.value(), *r.value));
      ASSERT_TRUE(fresh) << "key " << *r.key << " is in partition " << p << " twice";
    }
  }
  for (const Ack& a : acks) {
    for (int64_t off = a.base; off <= a.last; ++off) {
      const int i = static_cast<int>(off - a.base);
      const std::string key = crash::key_of(a.round, a.batch, i);
      auto it = by_key[a.partition].find(key);
      ASSERT_NE(it, by_key[a.partition].end())
          << "acknowledged record " << key << " at offset " << off << " is lost";
      EXPECT_EQ(it->second.first, off) << key;
      ASSERT_EQ(it->second.second, crash::value_of(seed, a.round, a.batch, i))
          << "acknowledged record " << key << " changed";
    }
  }
}

std::vector<Ack> parse_acks(const std::string& text) {
  std::vector<Ack> acks;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // a line cut short by the kill has no newline: not an ack
    Ack a;
    std::istringstream fields(line);
    if (fields >> a.round >> a.batch >> a.partition >> a.base >> a.last) acks.push_back(a);
  }
  return acks;
}

std::unique_ptr<LogStore> open_store(const std::string& dir, FileSystem* fs = nullptr,
                                     OpenReport* report = nullptr) {
  LogStoreOptions options;
  options.data_dir = dir;
  options.fs = fs;
  options.background_maintenance = false;
  auto store = LogStore::open(options, report);
  EXPECT_TRUE(store.ok()) << store.status().to_string();
  return store.ok() ? std::move(store).value() : nullptr;
}

TEST(CrashTest, SigkillAtRandomMomentsLosesNoAcknowledgedRecordAndDuplicatesNone) {
  const uint64_t seed = test_seed();
  std::printf("crash test seed: %llu (rerun with SLUICE_CRASH_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  TempDir dir;
  std::vector<Ack> acks;
  constexpr int kRounds = 30;
  int rounds_with_acks = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round) + ", seed " + std::to_string(seed));
    const testing::KilledChild child = testing::run_and_kill(
        {SLUICE_CRASH_CHILD, dir.path(), std::to_string(seed), std::to_string(round)}, {}, rng);
    ASSERT_TRUE(child.killed) << "the child exited by itself (status " << child.status
                              << "): it could not run the workload";
    const std::string& output = child.output;
    std::vector<Ack> round_acks = parse_acks(output);
    if (!round_acks.empty()) ++rounds_with_acks;
    acks.insert(acks.end(), round_acks.begin(), round_acks.end());

    auto store = open_store(dir.path());
    ASSERT_NE(store, nullptr);
    verify_log(*store, seed, acks);
    ASSERT_TRUE(store->close().ok());
  }
  // The last check: the log still takes appends after all that.
  auto store = open_store(dir.path());
  ASSERT_NE(store, nullptr);
  RecordSet more = RecordSet::numbered(0, 3);
  auto appended = store->append({crash::kTopic, PartitionId(0)}, more.records());
  ASSERT_TRUE(appended.ok()) << appended.status().to_string();
  std::printf("crash test: %zu acknowledged batches over %d rounds (%d with acks)\n", acks.size(),
              kRounds, rounds_with_acks);
  EXPECT_GE(rounds_with_acks, kRounds / 3) << "too few rounds got far enough to append";
}

TEST(CrashTest, PowerCutLosesNoRecordAcknowledgedUnderFsyncPerBatch) {
  const uint64_t seed = test_seed();
  std::printf("power cut test seed: %llu (rerun with SLUICE_CRASH_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  TempDir dir;
  std::vector<Ack> acks;
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round) + ", seed " + std::to_string(seed));
    FaultInjectionFileSystem fs;
    fs.power_cut_after(static_cast<int64_t>(rng() % 300));
    {
      LogStoreOptions options;
      options.data_dir = dir.path();
      options.fs = &fs;
      options.background_maintenance = false;
      auto store = LogStore::open(options);
      if (store.ok()) {
        TopicConfig config{.partitions = crash::kPartitions};
        ASSERT_TRUE(config.set("flush.policy", "every-batch").ok());
        ASSERT_TRUE(config.set("segment.bytes", "65536").ok());
        Status created = (*store)->create_topic(crash::kTopic, config);
        for (int batch = 0;
             (created.ok() || created.code() == StatusCode::kAlreadyExists) && batch < 100'000;
             ++batch) {
          const int n = crash::records_in_batch(seed, round, batch);
          RecordSet records;
          for (int i = 0; i < n; ++i) {
            records.add(crash::key_of(round, batch, i), crash::value_of(seed, round, batch, i));
          }
          const int partition = batch % crash::kPartitions;
          auto r = (*store)->append({crash::kTopic, PartitionId(partition)}, records.records());
          if (!r.ok()) break;  // the power is off
          acks.push_back({round, batch, partition, r->base_offset.value(), r->last_offset.value()});
        }
        ASSERT_TRUE(fs.dead()) << "the workload ended before the power cut";
      }
    }  // the store is gone; what it could not sync is lost now
    ASSERT_TRUE(fs.apply_power_cut().ok());
    OpenReport report;
    auto store = open_store(dir.path(), nullptr, &report);
    ASSERT_NE(store, nullptr);
    verify_log(*store, seed, acks);
    ASSERT_TRUE(store->close().ok());
  }
  std::printf("power cut test: %zu acknowledged batches over %d rounds\n", acks.size(), kRounds);
  EXPECT_FALSE(acks.empty());
}

}  // namespace
}  // namespace sluice::logstore

// TaskState: stores over RocksDB (and memory) with changelogs in a real log, commits, restore.
#include "sluice/state/task_state.h"
#include "assert_ok.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <tuple>
#include <vector>

#include "log_test_util.h"
#include "sluice/logstore/log_store.h"
#include "temp_dir.h"

namespace sluice::state {
namespace {

using logstore::IsolationLevel;
using logstore::TopicPartition;

class TaskStateTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    logstore::LogStoreOptions options;
    options.data_dir = log_dir_.path();
    options.background_maintenance = false;
    options.offsets_topic_partitions = 1;
    auto log = logstore::LogStore::open(options);
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    log_ = std::move(log).value();
    open_state();
  }

  bool persistent() const { return GetParam(); }

  void open_state() {
    state_.reset();
    restored_ = 0;
    TaskStateOptions options;
    options.state_dir = state_dir_.path() + "/task-0_1";
    options.application_id = "app";
    options.partition = PartitionId(1);
    options.changelog_partitions = 2;
    options.log = log_.get();
    options.persistent = persistent();
    options.clock = &clock_;
    options.on_restore = [this](const RestoreProgress& p) {
      if (p.done) restored_ += p.records;
    };
    auto state = TaskState::open(options);
    ASSERT_TRUE(state.ok()) << state.status().to_string();
    state_ = std::move(state).value();
  }

  KeyValueStore& kv(const std::string& name = "counts", bool cached = true) {
    auto store = state_->key_value_store({.name = name, .cached = cached});
    EXPECT_TRUE(store.ok()) << store.status().to_string();
    return **store;
  }

  std::optional<std::string> get(KeyValueStore& store, const std::string& key) {
    auto v = store.get(key);
    EXPECT_TRUE(v.ok()) << v.status().to_string();
    return v.ok() ? *v : std::nullopt;
  }

  // The records of the store's changelog, read uncommitted.
  std::vector<testing::ReadRecord> changelog(
      const std::string& store = "counts",
      IsolationLevel isolation = IsolationLevel::kReadUncommitted) {
    auto records =
        testing::read_all(*log_, {"app-" + store + "-changelog", PartitionId(1)}, isolation);
    EXPECT_TRUE(records.ok()) << records.status().to_string();
    return records.ok() ? *records : std::vector<testing::ReadRecord>{};
  }

  // The key -> value contents of a key-value store.
  std::map<std::string, std::string> contents(KeyValueStore& store) {
    std::map<std::string, std::string> out;
    auto it = store.range(std::nullopt, std::nullopt);
    EXPECT_TRUE(it.ok()) << it.status().to_string();
    if (!it.ok()) return out;
    for (; (*it)->valid(); (*it)->next()) out[std::string((*it)->key())] = (*it)->value();
    EXPECT_TRUE((*it)->status().ok()) << (*it)->status().to_string();
    return out;
  }

  KeyValueStore& ttl_kv(const std::string& name, int64_t ttl_ms) {
    auto store = state_->key_value_store({.name = name, .ttl_ms = ttl_ms});
    EXPECT_TRUE(store.ok()) << store.status().to_string();
    return **store;
  }

  ManualClock clock_;
  testing::TempDir log_dir_, state_dir_;
  std::unique_ptr<logstore::LogStore> log_;
  std::unique_ptr<TaskState> state_;
  int64_t restored_ = 0;
};

TEST_P(TaskStateTest, CommittedWritesSurviveReopenWithoutReplayingTheChangelog) {
  KeyValueStore& store = kv();
  ASSERT_OK(store.put("a", "1"));
  ASSERT_OK(store.put("b", "2"));
  ASSERT_OK(state_->commit());
  ASSERT_NO_FATAL_FAILURE(open_state());
  KeyValueStore& again = kv();
  EXPECT_EQ(get(again, "a"), "1");
  EXPECT_EQ(get(again, "b"), "2");
  // RocksDB kept the state and its changelog offset; memory had to replay everything.
  EXPECT_EQ(restored_, persistent() ? 0 : 2);
}

TEST_P(TaskStateTest, WritesThatWereNeverFlushedAreGoneAfterReopen) {
  KeyValueStore& store = kv();
  ASSERT_OK(store.put("a", "1"));
  ASSERT_OK(state_->commit());
  ASSERT_OK(store.put("a", "2"));
  ASSERT_OK(store.put("b", "3"));
  ASSERT_NO_FATAL_FAILURE(open_state());  // no commit: as after a crash
  KeyValueStore& again = kv();
  EXPECT_EQ(get(again, "a"), "1");
  EXPECT_EQ(get(again, "b"), std::nullopt);
}

TEST_P(TaskStateTest, FlushedButUnappliedWritesAreReplayedFromTheChangelogTail) {
  KeyValueStore& store = kv();
  ASSERT_OK(store.put("a", "1"));
  ASSERT_OK(state_->commit());
  ASSERT_OK(store.put("a", "2"));
  ASSERT_OK(store.put("c", "4"));
  ASSERT_OK(state_->flush(nullptr));  // in the changelog, not yet in RocksDB
  ASSERT_NO_FATAL_FAILURE(open_state());
  KeyValueStore& again = kv();
  EXPECT_EQ(get(again, "a"), "2");
  EXPECT_EQ(get(again, "c"), "4");
  EXPECT_EQ(restored_, persistent() ? 2 : 3);  // only the tail after the stored offset
}

TEST_P(TaskStateTest, RestartReplaysOnlyTheChangelogTailAfterTheCheckpoint) {
  KeyValueStore& store = kv();
  for (int i = 0; i < 100; ++i) ASSERT_OK(store.put("k" + std::to_string(i), "v"));
  ASSERT_OK(state_->commit());
  for (int i = 0; i < 7; ++i) ASSERT_OK(store.put("t" + std::to_string(i), "w"));
  ASSERT_OK(state_->flush(nullptr));
  ASSERT_NO_FATAL_FAILURE(open_state());
  kv();
  EXPECT_EQ(restored_, persistent() ? 7 : 107);
}

TEST_P(TaskStateTest, LostStateDirectoryIsRebuiltExactlyFromTheChangelog) {
  KeyValueStore& store = kv();
  for (int i = 0; i < 50; ++i) ASSERT_OK(store.put("k" + std::to_string(i), std::to_string(i)));
  ASSERT_OK(store.remove("k7"));
  ASSERT_OK(store.put("k8", "changed"));
  ASSERT_OK(state_->commit());
  std::map<std::string, std::string> before;
  {
    auto it = store.range(std::nullopt, std::nullopt);
    ASSERT_TRUE(it.ok());
    for (; (*it)->valid(); (*it)->next()) before[std::string((*it)->key())] = (*it)->value();
  }
  state_.reset();
  std::filesystem::remove_all(state_dir_.path());
  ASSERT_NO_FATAL_FAILURE(open_state());
  KeyValueStore& again = kv();
  std::map<std::string, std::string> after;
  auto it = again.range(std::nullopt, std::nullopt);
  ASSERT_TRUE(it.ok());
  for (; (*it)->valid(); (*it)->next()) after[std::string((*it)->key())] = (*it)->value();
  EXPECT_EQ(after, before);
  EXPECT_EQ(before.size(), 49u);
  EXPECT_GT(restored_, 0);
}

TEST_P(TaskStateTest, CacheSendsOneChangelogRecordPerKeyPerCommit) {
  KeyValueStore& store = kv();
  for (int round = 0; round < 10; ++round) {
    for (int k = 0; k < 5; ++k) {
      auto v = store.get("k" + std::to_string(k));
      ASSERT_TRUE(v.ok());
      int n = *v ? std::stoi(**v) : 0;
      ASSERT_OK(store.put("k" + std::to_string(k), std::to_string(n + 1)));
    }
  }
  ASSERT_OK(state_->commit());
  auto records = changelog();
  ASSERT_EQ(records.size(), 5u);
  for (const auto& r : records) EXPECT_EQ(r.value, "10");
}

TEST_P(TaskStateTest, UncachedStoreLogsEveryUpdateAndTombstonesRemovals) {
  KeyValueStore& store = kv("plain", /*cached=*/false);
  ASSERT_OK(store.put("a", "1"));
  ASSERT_OK(store.put("a", "2"));
  ASSERT_OK(store.remove("a"));
  ASSERT_OK(state_->commit());
  auto records = changelog("plain");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2].key, "a");
  EXPECT_EQ(records[2].value, std::nullopt);
}

TEST_P(TaskStateTest, AbortedTransactionLeavesTheStoresAtTheLastCommit) {
  auto producer = log_->create_producer({.transactional_id = "app-0"});
  ASSERT_TRUE(producer.ok()) << producer.status().to_string();
  KeyValueStore& store = kv();
  ASSERT_OK((*producer)->begin_transaction());
  ASSERT_OK(store.put("a", "committed"));
  ASSERT_OK(state_->flush(producer->get()));
  ASSERT_OK((*producer)->commit_transaction());
  ASSERT_OK(state_->apply());

  ASSERT_OK((*producer)->begin_transaction());
  ASSERT_OK(store.put("a", "aborted"));
  ASSERT_OK(store.put("b", "aborted"));
  ASSERT_OK(state_->flush(producer->get()));
  ASSERT_OK((*producer)->abort_transaction());
  ASSERT_OK(state_->abort());
  EXPECT_EQ(get(store, "a"), "committed");
  EXPECT_EQ(get(store, "b"), std::nullopt);

  // A full restore reads the changelog read-committed: the aborted records never come back.
  state_.reset();
  std::filesystem::remove_all(state_dir_.path());
  ASSERT_NO_FATAL_FAILURE(open_state());
  KeyValueStore& again = kv();
  EXPECT_EQ(get(again, "a"), "committed");
  EXPECT_EQ(get(again, "b"), std::nullopt);
}

TEST_P(TaskStateTest, StoreCannotBeReopenedAsAnotherKind) {
  kv("x");
  ASSERT_OK(state_->commit());
  auto as_window =
      state_->window_store({.name = "x", .kind = StoreKind::kWindow, .retention_ms = 1000});
  EXPECT_EQ(as_window.status().code(), StatusCode::kInvalidArgument);
  auto mismatched = state_->key_value_store({.name = "y", .kind = StoreKind::kWindow});
  EXPECT_EQ(mismatched.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(state_->key_value_store({.name = "bad/name"}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(TaskStateTest, RestoreReportsProgressAndCompletion) {
  KeyValueStore& store = kv("big", /*cached=*/false);
  for (int i = 0; i < 3000; ++i) ASSERT_OK(store.put("k" + std::to_string(i), "v"));
  ASSERT_OK(state_->flush(nullptr));  // changelog only: the reopen must replay all of it
  std::vector<RestoreProgress> seen;
  state_.reset();
  TaskStateOptions options;
  options.state_dir = state_dir_.path() + "/task-0_1";
  options.application_id = "app";
  options.partition = PartitionId(1);
  options.changelog_partitions = 2;
  options.log = log_.get();
  options.persistent = persistent();
  options.on_restore = [&](const RestoreProgress& p) { seen.push_back(p); };
  auto state = TaskState::open(options);
  ASSERT_TRUE(state.ok());
  ASSERT_TRUE((*state)->key_value_store({.name = "big", .cached = false}).ok());
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(seen.back().done);
  EXPECT_EQ(seen.back().records, 3000);
  EXPECT_EQ(seen.back().changelog, (TopicPartition{"app-big-changelog", PartitionId(1)}));
  EXPECT_GT(seen.back().bytes, 3000);
}

TEST_P(TaskStateTest, WindowAndSessionStoresAreRebuiltExactlyFromTheirChangelogs) {
  const StoreSpec window_spec{.name = "w", .kind = StoreKind::kWindow, .retention_ms = 60'000};
  const StoreSpec session_spec{.name = "s", .kind = StoreKind::kSession, .retention_ms = 60'000};
  auto window = state_->window_store(window_spec);
  auto session = state_->session_store(session_spec);
  ASSERT_TRUE(window.ok() && session.ok());
  ASSERT_OK((*window)->put("a", Timestamp(1000), "one"));
  ASSERT_OK((*window)->put("a", Timestamp(2000), "two"));
  ASSERT_OK((*window)->put("b", Timestamp(1000), "three"));
  ASSERT_OK((*window)->put("b", Timestamp(1000), std::nullopt));
  ASSERT_OK((*session)->put("u", {Timestamp(10), Timestamp(20)}, "x"));
  ASSERT_OK((*session)->put("u", {Timestamp(30), Timestamp(40)}, "y"));
  ASSERT_OK((*session)->remove("u", {Timestamp(10), Timestamp(20)}));
  ASSERT_OK(state_->commit());
  state_.reset();
  std::filesystem::remove_all(state_dir_.path());
  ASSERT_NO_FATAL_FAILURE(open_state());
  window = state_->window_store(window_spec);
  session = state_->session_store(session_spec);
  ASSERT_TRUE(window.ok() && session.ok());
  EXPECT_EQ(*(*window)->fetch("a", Timestamp(1000)), "one");
  EXPECT_EQ(*(*window)->fetch("a", Timestamp(2000)), "two");
  EXPECT_EQ(*(*window)->fetch("b", Timestamp(1000)), std::nullopt);
  EXPECT_EQ(*(*session)->fetch("u", {Timestamp(10), Timestamp(20)}), std::nullopt);
  EXPECT_EQ(*(*session)->fetch("u", {Timestamp(30), Timestamp(40)}), "y");
}

// The local layout of a window store follows its spec: data written key-first is rebuilt from
// the changelog when the store is reopened time-ordered, and back; a reopen in the same
// layout replays nothing.
TEST_P(TaskStateTest, AWindowStoreReopenedInTheOtherLayoutIsRebuiltFromItsChangelog) {
  StoreSpec spec{.name = "w", .kind = StoreKind::kWindow, .retention_ms = 60'000};
  auto window = state_->window_store(spec);
  ASSERT_TRUE(window.ok()) << window.status().to_string();
  ASSERT_OK((*window)->put("b", Timestamp(1000), "b1"));
  ASSERT_OK((*window)->put("a", Timestamp(2000), "a2"));
  ASSERT_OK((*window)->put("a", Timestamp(1000), "a1"));
  ASSERT_OK(state_->commit());
  const std::vector<std::tuple<std::string, int64_t, std::string>> want = {
      {"a", 1000, "a1"}, {"b", 1000, "b1"}, {"a", 2000, "a2"}};
  // (layout, records restored on disk: a changed layout replays the whole changelog, the same
  // one nothing; in memory every open replays it all)
  for (auto [time_ordered, replayed] :
       {std::pair(true, 3), std::pair(true, 0), std::pair(false, 3)}) {
    spec.time_ordered = time_ordered;
    ASSERT_NO_FATAL_FAILURE(open_state());
    window = state_->window_store(spec);
    ASSERT_TRUE(window.ok()) << window.status().to_string();
    EXPECT_EQ(restored_, persistent() ? replayed : 3) << "time-ordered: " << time_ordered;
    std::vector<std::tuple<std::string, int64_t, std::string>> got;
    auto it = (*window)->fetch_all(Timestamp(0), Timestamp(10'000));
    ASSERT_TRUE(it.ok()) << it.status().to_string();
    for (; (*it)->valid(); (*it)->next()) {
      got.emplace_back((*it)->key(), (*it)->window_start().value(), (*it)->value());
    }
    ASSERT_OK((*it)->status());
    EXPECT_EQ(got, want) << "time-ordered: " << time_ordered;
    EXPECT_EQ(*(*window)->fetch("a", Timestamp(2000)), "a2");
    auto a = (*window)->fetch("a", Timestamp(0), Timestamp(10'000));
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE((*a)->valid());
    EXPECT_EQ((*a)->value(), "a1");
  }
}

TEST_P(TaskStateTest, AbortForgetsAStreamTimeThatWasNeverCommitted) {
  const StoreSpec spec{.name = "w", .kind = StoreKind::kWindow, .retention_ms = 1000};
  auto window = state_->window_store(spec);
  ASSERT_TRUE(window.ok());
  ASSERT_OK((*window)->put("a", Timestamp(5000), "kept"));
  ASSERT_OK((*window)->advance_stream_time(Timestamp(5000)));
  ASSERT_OK(state_->commit());
  ASSERT_OK((*window)->advance_stream_time(Timestamp(9000)));  // would expire the window
  EXPECT_EQ(*(*window)->fetch("a", Timestamp(5000)), std::nullopt);
  ASSERT_OK(state_->abort());
  EXPECT_EQ((*window)->stream_time(), Timestamp(5000));
  EXPECT_EQ(*(*window)->fetch("a", Timestamp(5000)), "kept");
}

TEST_P(TaskStateTest, TtlHidesEntriesNotWrittenForTheTtlAndTombstonesThemInTheChangelog) {
  KeyValueStore& store = ttl_kv("sessions", 1000);
  ASSERT_OK(store.put("old", "1"));
  ASSERT_OK(store.put("renewed", "2"));
  ASSERT_OK(state_->commit());
  clock_.advance_ms(600);
  ASSERT_OK(store.put("renewed", "3"));
  ASSERT_OK(state_->commit());
  clock_.advance_ms(400);  // "old" is 1000 ms old: expired; "renewed" is 400 ms old
  EXPECT_EQ(get(store, "old"), std::nullopt);
  EXPECT_EQ(get(store, "renewed"), "3");
  EXPECT_EQ(contents(store), (std::map<std::string, std::string>{{"renewed", "3"}}));
  ASSERT_OK(state_->commit());
  // The expiry reached the changelog as a tombstone, so a restore cannot bring "old" back.
  std::vector<testing::ReadRecord> log = changelog("sessions");
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back().key, "old");
  EXPECT_EQ(log.back().value, std::nullopt);
  const StateMetrics m = state_->metrics();
  ASSERT_EQ(m.stores.size(), 1u);
  EXPECT_EQ(m.stores[0].expired_records, 1);
}

TEST_P(TaskStateTest, TtlSweepExpiresEntriesNobodyReadsAndARestoreEqualsTheLiveState) {
  KeyValueStore& store = ttl_kv("visits", 10'000);
  for (int i = 0; i < 2500; ++i) ASSERT_OK(store.put("k" + std::to_string(i), "v"));
  ASSERT_OK(state_->commit());
  clock_.advance_ms(5'000);
  for (int i = 0; i < 10; ++i) ASSERT_OK(store.put("fresh" + std::to_string(i), "w"));
  ASSERT_OK(state_->commit());
  clock_.advance_ms(5'000);  // the 2500 expire; the 10 have 5 s left
  // Nothing reads the expired keys: the per-commit sweeps alone remove them, a bounded number
  // of entries at a time.
  for (int i = 0; i < 5; ++i) ASSERT_OK(state_->commit());
  EXPECT_EQ(state_->metrics().stores[0].expired_records, 2500);
  int tombstones = 0;
  for (const auto& r : changelog("visits")) tombstones += r.value ? 0 : 1;
  EXPECT_EQ(tombstones, 2500);
  const auto live = contents(store);
  EXPECT_EQ(live.size(), 10u);

  // Restored from the changelog alone, the store is the live one, write times included: the
  // survivors still expire when they would have.
  state_.reset();
  std::filesystem::remove_all(state_dir_.path());
  ASSERT_NO_FATAL_FAILURE(open_state());
  KeyValueStore& again = ttl_kv("visits", 10'000);
  EXPECT_EQ(contents(again), live);
  clock_.advance_ms(5'000);
  EXPECT_TRUE(contents(again).empty());
}

TEST_P(TaskStateTest, TtlCannotBeAddedToOrDroppedFromAStoreWithData) {
  ASSERT_OK(kv("plain").put("a", "1"));
  ASSERT_OK(ttl_kv("stamped", 1000).put("b", "2"));
  ASSERT_OK(state_->commit());
  // Persistent stores refuse from their recorded format; in-memory ones when their restore
  // meets the changelog's.
  ASSERT_NO_FATAL_FAILURE(open_state());
  auto with = state_->key_value_store({.name = "plain", .ttl_ms = 1000});
  EXPECT_EQ(with.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(with.status().message().find("without a TTL"), std::string::npos)
      << with.status().to_string();
  auto without = state_->key_value_store({.name = "stamped"});
  EXPECT_EQ(without.status().code(), StatusCode::kInvalidArgument) << without.status().to_string();

  // Lost local state: the changelog alone still tells.
  state_.reset();
  std::filesystem::remove_all(state_dir_.path());
  ASSERT_NO_FATAL_FAILURE(open_state());
  EXPECT_EQ(state_->key_value_store({.name = "stamped"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(get(ttl_kv("stamped", 1000), "b"), "2");
}

TEST_P(TaskStateTest, MetricsReportKeysDiskMemoryAndRestorePerStore) {
  KeyValueStore& store = kv("metered", /*cached=*/false);
  for (int i = 0; i < 1000; ++i) ASSERT_OK(store.put("k" + std::to_string(i), "value"));
  ASSERT_OK(state_->commit());
  StateMetrics m = state_->metrics();
  ASSERT_EQ(m.stores.size(), 1u);
  EXPECT_EQ(m.stores[0].name, "metered");
  EXPECT_GT(m.stores[0].estimated_keys, 500u);  // RocksDB's is an estimate
  EXPECT_LE(m.stores[0].estimated_keys, 1000u * 2);
  if (persistent()) {
    EXPECT_GT(m.stores[0].memtable_bytes, 0u);
    EXPECT_GT(m.disk_bytes, 0u);
  }
  state_.reset();
  std::filesystem::remove_all(state_dir_.path());
  ASSERT_NO_FATAL_FAILURE(open_state());
  kv("metered", false);
  m = state_->metrics();
  EXPECT_EQ(m.stores[0].restored_records, 1000);
  EXPECT_EQ(m.restored_records, 1000);
}

TEST_P(TaskStateTest, IteratorOpenAcrossCommitsKeepsSeeingTheStoreAsItWas) {
  KeyValueStore& store = kv("scanned", /*cached=*/false);
  for (int i = 0; i < 10; ++i) ASSERT_OK(store.put("k" + std::to_string(i), "old"));
  ASSERT_OK(state_->commit());
  ASSERT_OK(store.put("k5", "buffered"));  // not yet committed: the iterator sees it
  auto it = store.range(std::nullopt, std::nullopt);
  ASSERT_TRUE(it.ok()) << it.status().to_string();
  (*it)->next();
  ASSERT_OK(state_->commit());
  ASSERT_OK(store.put("k6", "new"));
  ASSERT_OK(store.remove("k7"));
  ASSERT_OK(state_->abort());
  std::map<std::string, std::string> seen;
  for (; (*it)->valid(); (*it)->next()) seen[std::string((*it)->key())] = (*it)->value();
  ASSERT_OK((*it)->status());
  EXPECT_EQ(seen.size(), 9u);
  EXPECT_EQ(seen["k5"], "buffered");
  EXPECT_EQ(seen["k6"], "old");
  EXPECT_EQ(seen["k7"], "old");
}

INSTANTIATE_TEST_SUITE_P(RocksDbAndMemory, TaskStateTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "RocksDb" : "InMemory"; });

}  // namespace
}  // namespace sluice::state

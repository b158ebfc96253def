// The RocksDB window and session stores on a real RocksDB instance: what their key layout and
// segment drops do, which the shared contract suite (store_contract_test.cc) cannot see —
// physical expiry, stream time across reopen, segment boundaries, negative times, buffered
// writes, malformed stored keys.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/metadata.h>

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "rocks_segments.h"
#include "rocks_window_stores.h"
#include "rocks_writer.h"
#include "sluice/state/store.h"
#include "sluice/state/store_spec.h"
#include "store_test_fixture.h"
#include "temp_dir.h"

namespace sluice::state {
namespace {

using testing::is_error;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

Timestamp ts(int64_t ms) { return Timestamp(ms); }
SessionWindow session(int64_t start, int64_t end) { return {.start = ts(start), .end = ts(end)}; }

using WindowRows = std::vector<std::tuple<Bytes, int64_t, Bytes>>;            // key, start, value
using SessionRows = std::vector<std::tuple<Bytes, int64_t, int64_t, Bytes>>;  // key, start, end, v

WindowRows drain(Result<std::unique_ptr<WindowIterator>> made) {
  WindowRows out;
  EXPECT_TRUE(made.ok()) << made.status().to_string();
  if (!made.ok()) return out;
  for (WindowIterator& it = **made; it.valid(); it.next()) {
    out.emplace_back(it.key(), it.window_start().value(), it.value());
  }
  SLUICE_EXPECT_OK((*made)->status());
  return out;
}

SessionRows drain(Result<std::unique_ptr<SessionIterator>> made) {
  SessionRows out;
  EXPECT_TRUE(made.ok()) << made.status().to_string();
  if (!made.ok()) return out;
  for (SessionIterator& it = **made; it.valid(); it.next()) {
    out.emplace_back(it.key(), it.window().start.value(), it.window().end.value(), it.value());
  }
  SLUICE_EXPECT_OK((*made)->status());
  return out;
}

// The status an iterator's walk ends with (made or not).
template <typename Iterator>
Status walk_status(Result<std::unique_ptr<Iterator>> made) {
  if (!made.ok()) return made.status();
  while ((*made)->valid()) (*made)->next();
  return (*made)->status();
}

// A RocksDB instance in a temporary directory with a column family for each kind of store, a
// RocksWriter over it (as TaskState has), and one store of each kind on demand.
class RocksWindowStoresTest : public ::testing::Test {
 protected:
  void SetUp() override { open_db(); }
  void TearDown() override { close_db(); }

  void open_db() {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {"windows", {}}, {"sessions", {}}};
    rocksdb::DB* db = nullptr;
    const rocksdb::Status s =
        rocksdb::DB::Open(options, dir_ / "rocksdb", families, &handles_, &db);
    ASSERT_TRUE(s.ok()) << s.ToString();
    db_.reset(db);
    writer_ = std::make_unique<RocksWriter>(db);
  }

  // Closes the DB; uncommitted writes are lost, as at a crash.
  void close_db() {
    windows_.reset();
    sessions_.reset();
    writer_.reset();
    for (rocksdb::ColumnFamilyHandle* h : handles_) {
      EXPECT_TRUE(db_->DestroyColumnFamilyHandle(h).ok());
    }
    handles_.clear();
    db_.reset();
  }

  void reopen() {
    close_db();
    ASSERT_NO_FATAL_FAILURE(open_db());
  }

  rocksdb::ColumnFamilyHandle* window_cf() const { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* session_cf() const { return handles_[2]; }

  // The window store over its column family (a new object each call, as after a restart).
  WindowStore& windows(int64_t retention_ms = 1000, int64_t segment_ms = 100,
                       size_t cache_bytes = 0, bool time_ordered = false) {
    StoreSpec spec;
    spec.name = "windows";
    spec.kind = StoreKind::kWindow;
    spec.retention_ms = retention_ms;
    spec.segment_ms = segment_ms;
    spec.time_ordered = time_ordered;
    windows_.reset();  // (a restart: the old object goes first)
    windows_ = make_rocks_window_store(spec, *writer_, window_cf(), cache_bytes);
    return *windows_;
  }

  SessionStore& sessions(int64_t retention_ms = 1000, int64_t segment_ms = 100) {
    StoreSpec spec;
    spec.name = "sessions";
    spec.kind = StoreKind::kSession;
    spec.retention_ms = retention_ms;
    spec.segment_ms = segment_ms;
    sessions_ = make_rocks_session_store(spec, *writer_, session_cf());
    return *sessions_;
  }

  void commit() {
    SLUICE_ASSERT_OK(writer_->commit());
    SLUICE_ASSERT_OK(writer_->wait_for_commit());  // the tests look at the DB itself
  }

  // The keys of a column family as the DB holds them, without the buffered writes.
  std::vector<Bytes> raw_keys(rocksdb::ColumnFamilyHandle* cf) {
    std::vector<Bytes> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf));
    for (it->SeekToFirst(); it->Valid(); it->Next()) out.push_back(it->key().ToString());
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    return out;
  }

  // Flushes and fully compacts the column family, then counts the entries in its files: what
  // is physically on disk.
  uint64_t entries_on_disk(rocksdb::ColumnFamilyHandle* cf) {
    EXPECT_TRUE(db_->Flush(rocksdb::FlushOptions(), cf).ok());
    rocksdb::CompactRangeOptions compact;
    compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    EXPECT_TRUE(db_->CompactRange(compact, cf, nullptr, nullptr).ok());
    rocksdb::ColumnFamilyMetaData meta;
    db_->GetColumnFamilyMetaData(cf, &meta);
    uint64_t n = 0;
    for (const auto& level : meta.levels) {
      for (const auto& file : level.files) n += file.num_entries;
    }
    return n;
  }

  uint64_t bytes_on_disk(rocksdb::ColumnFamilyHandle* cf) {
    rocksdb::ColumnFamilyMetaData meta;
    db_->GetColumnFamilyMetaData(cf, &meta);
    return meta.size;
  }

  // Writes raw bytes into a column family, bypassing the stores.
  void raw_put(rocksdb::ColumnFamilyHandle* cf, ByteView key, ByteView value) {
    ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), cf, rocksdb::Slice(key.data(), key.size()),
                         rocksdb::Slice(value.data(), value.size()))
                    .ok());
  }

  testing::TempDir dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<RocksWriter> writer_;
  std::unique_ptr<WindowStore> windows_;
  std::unique_ptr<SessionStore> sessions_;
};

// --- Window store ---

TEST_F(RocksWindowStoresTest, WindowFetchOfAKeyFindsWindowsOnBothSidesOfSegmentBoundaries) {
  WindowStore& store = windows(10'000, 100);
  for (int64_t start : {50, 99, 100, 101, 199, 200, 250, 900}) {
    SLUICE_ASSERT_OK(store.put("k", ts(start), "v" + std::to_string(start)));
    SLUICE_ASSERT_OK(store.put("j", ts(start), "other"));   // sorts before "k" in each segment
    SLUICE_ASSERT_OK(store.put("kk", ts(start), "other"));  // shares k's bytes, longer
  }
  commit();
  EXPECT_EQ(drain(store.fetch("k", ts(99), ts(250))), (WindowRows{{"k", 99, "v99"},
                                                                  {"k", 100, "v100"},
                                                                  {"k", 101, "v101"},
                                                                  {"k", 199, "v199"},
                                                                  {"k", 200, "v200"},
                                                                  {"k", 250, "v250"}}));
  EXPECT_EQ(drain(store.fetch("k", ts(251), ts(899))), WindowRows{});
  EXPECT_EQ(drain(store.fetch("k", ts(300), ts(900))), (WindowRows{{"k", 900, "v900"}}));
}

TEST_F(RocksWindowStoresTest, WindowFetchOverTheWholeTimeRangeSkipsEmptySegments) {
  // 1 ms segments: 2^64 segment ids, of which three hold data. Walking the ids one by one
  // would never finish.
  WindowStore& store = windows(kMax, 1);
  SLUICE_ASSERT_OK(store.put("k", ts(kMin), "min"));
  SLUICE_ASSERT_OK(store.put("k", ts(0), "zero"));
  SLUICE_ASSERT_OK(store.put("k", ts(kMax), "max"));
  SLUICE_ASSERT_OK(store.put("other", ts(5), "x"));
  commit();
  EXPECT_EQ(drain(store.fetch("k", ts(kMin), ts(kMax))),
            (WindowRows{{"k", kMin, "min"}, {"k", 0, "zero"}, {"k", kMax, "max"}}));
  EXPECT_EQ(
      drain(store.fetch_all(ts(kMin), ts(kMax))),
      (WindowRows{{"k", kMin, "min"}, {"k", 0, "zero"}, {"other", 5, "x"}, {"k", kMax, "max"}}));
}

TEST_F(RocksWindowStoresTest, WindowFetchAllOrdersByStartThenKeyAcrossSegments) {
  WindowStore& store = windows(10'000, 100);
  // Within a segment the column family orders by key length, key, start: "zz" < "aaa" there.
  SLUICE_ASSERT_OK(store.put("aaa", ts(150), "1"));
  SLUICE_ASSERT_OK(store.put("zz", ts(150), "2"));
  SLUICE_ASSERT_OK(store.put("zz", ts(120), "3"));
  SLUICE_ASSERT_OK(store.put("aaa", ts(199), "4"));
  SLUICE_ASSERT_OK(store.put("", ts(150), "5"));  // the empty key is a key, not stream time
  SLUICE_ASSERT_OK(store.put(Bytes("\xff", 1), ts(99), "6"));
  SLUICE_ASSERT_OK(store.put("b", ts(99), "7"));
  SLUICE_ASSERT_OK(store.put("b", ts(200), "8"));
  commit();
  SLUICE_ASSERT_OK(store.put("a", ts(150), "9"));  // buffered, merged in order
  EXPECT_EQ(drain(store.fetch_all(ts(0), ts(1000))), (WindowRows{{"b", 99, "7"},
                                                                 {Bytes("\xff", 1), 99, "6"},
                                                                 {"zz", 120, "3"},
                                                                 {"", 150, "5"},
                                                                 {"a", 150, "9"},
                                                                 {"aaa", 150, "1"},
                                                                 {"zz", 150, "2"},
                                                                 {"aaa", 199, "4"},
                                                                 {"b", 200, "8"}}));
  EXPECT_EQ(
      drain(store.fetch_all(ts(120), ts(150))),
      (WindowRows{
          {"zz", 120, "3"}, {"", 150, "5"}, {"a", 150, "9"}, {"aaa", 150, "1"}, {"zz", 150, "2"}}));
}

TEST_F(RocksWindowStoresTest, NegativeWindowStartsSortBeforePositiveOnes) {
  WindowStore& store = windows(kMax, 100);
  // Segments -2, -1, -1, 0, 0: floor division, not truncation toward zero.
  for (int64_t start : {99, -1, 0, -100, -101}) {
    SLUICE_ASSERT_OK(store.put("k", ts(start), std::to_string(start)));
  }
  commit();
  const WindowRows in_order = {
      {"k", -101, "-101"}, {"k", -100, "-100"}, {"k", -1, "-1"}, {"k", 0, "0"}, {"k", 99, "99"}};
  EXPECT_EQ(drain(store.fetch("k", ts(-1000), ts(1000))), in_order);
  EXPECT_EQ(drain(store.fetch_all(ts(-1000), ts(1000))), in_order);
  EXPECT_EQ(drain(store.fetch("k", ts(-100), ts(-1))),
            (WindowRows{{"k", -100, "-100"}, {"k", -1, "-1"}}));
  auto single = store.fetch("k", ts(-101));
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(*single, std::optional<Bytes>("-101"));
}

TEST_F(RocksWindowStoresTest, WindowReadsSeeBufferedWritesBeforeTheyAreCommitted) {
  WindowStore& store = windows();
  SLUICE_ASSERT_OK(store.put("k", ts(10), "committed"));
  SLUICE_ASSERT_OK(store.put("k", ts(20), "removed later"));
  commit();
  SLUICE_ASSERT_OK(store.put("k", ts(10), "buffered"));
  SLUICE_ASSERT_OK(store.put("k", ts(150), "new"));
  SLUICE_ASSERT_OK(store.put("k", ts(20), std::nullopt));
  EXPECT_EQ(raw_keys(window_cf()).size(), 2u);  // nothing of the above reached the DB yet
  auto single = store.fetch("k", ts(10));
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(*single, std::optional<Bytes>("buffered"));
  const WindowRows expected = {{"k", 10, "buffered"}, {"k", 150, "new"}};
  EXPECT_EQ(drain(store.fetch("k", ts(0), ts(1000))), expected);
  EXPECT_EQ(drain(store.fetch_all(ts(0), ts(1000))), expected);
  commit();
  EXPECT_EQ(raw_keys(window_cf()).size(), 2u);
  EXPECT_EQ(drain(store.fetch_all(ts(0), ts(1000))), expected);
}

TEST_F(RocksWindowStoresTest, WindowExpiryDropsWholeSegmentsFromDiskOnceCommitted) {
  WindowStore& store = windows(1000, 100);
  const Bytes value(1000, 'v');
  for (int64_t start = 0; start < 2000; start += 10) {
    for (const char* key : {"a", "b", "c"}) SLUICE_ASSERT_OK(store.put(key, ts(start), value));
  }
  commit();
  EXPECT_EQ(entries_on_disk(window_cf()), 600u);
  const uint64_t bytes_before = bytes_on_disk(window_cf());

  // Cutoff 1550: segments 0..14 (starts < 1500) expire; segment 15 stays although its windows
  // before 1550 are expired. They are dropped by the first advance after that is committed.
  SLUICE_ASSERT_OK(store.advance_stream_time(ts(2550)));
  commit();
  EXPECT_EQ(entries_on_disk(window_cf()), 600u + 1);  // and the stream time
  SLUICE_ASSERT_OK(store.advance_stream_time(ts(2551)));
  commit();
  EXPECT_EQ(entries_on_disk(window_cf()), 3u * 50 + 1);  // starts 1500..1990, and stream time
  EXPECT_LT(bytes_on_disk(window_cf()), bytes_before / 2);
  EXPECT_EQ(drain(store.fetch("a", ts(0), ts(1560))),
            (WindowRows{{"a", 1560, value}}));  // cutoff 1551 now
  auto expired = store.fetch("a", ts(1540));    // on disk, in the live segment, yet expired
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, std::nullopt);
  EXPECT_EQ(drain(store.fetch_all(ts(0), ts(1560))).size(), 3u);
}

TEST_F(RocksWindowStoresTest, WindowExpiryKeepsTheStreamTimeKeyAndTheEmptyUserKey) {
  WindowStore& store = windows(1000, 100);
  SLUICE_ASSERT_OK(store.put("", ts(9500), "empty key"));
  SLUICE_ASSERT_OK(store.put("old", ts(10), "expires"));
  SLUICE_ASSERT_OK(store.advance_stream_time(ts(9000)));
  commit();
  SLUICE_ASSERT_OK(store.advance_stream_time(ts(9001)));  // drops segments [min, 80)
  commit();
  EXPECT_EQ(raw_keys(window_cf()).size(), 2u);  // the stream time and the empty key's window
  reopen();
  WindowStore& reopened = windows(1000, 100);
  EXPECT_EQ(reopened.stream_time(), ts(9001));
  EXPECT_EQ(drain(reopened.fetch_all(ts(kMin), ts(kMax))), (WindowRows{{"", 9500, "empty key"}}));
}

TEST_F(RocksWindowStoresTest, WindowStreamTimeSurvivesReopeningTheDb) {
  WindowStore& store = windows(1000, 100);
  EXPECT_EQ(store.stream_time(), kNoTimestamp);
  SLUICE_ASSERT_OK(store.put("k", ts(4500), "live"));
  SLUICE_ASSERT_OK(store.advance_stream_time(ts(5000)));
  commit();
  reopen();
  WindowStore& reopened = windows(1000, 100);
  EXPECT_EQ(reopened.stream_time(), ts(5000));
  SLUICE_ASSERT_OK(reopened.put("k", ts(3999), "expired"));  // cutoff 4000: ignored
  EXPECT_EQ(drain(reopened.fetch("k", ts(0), ts(kMax))), (WindowRows{{"k", 4500, "live"}}));
  SLUICE_ASSERT_OK(reopened.advance_stream_time(ts(4000)));  // never back
  EXPECT_EQ(reopened.stream_time(), ts(5000));
}

TEST_F(RocksWindowStoresTest, UncommittedStreamTimeDropsNothingTheLastCommitStillHolds) {
  WindowStore& store = windows(1000, 100);
  SLUICE_ASSERT_OK(store.put("k", ts(4500), "live at the commit"));
  SLUICE_ASSERT_OK(store.advance_stream_time(ts(5000)));
  commit();
  // Expires 4500, but is lost at the crash: the range deletion must not have removed it.
  SLUICE_ASSERT_OK(store.advance_stream_time(ts(6000)));
  SLUICE_ASSERT_OK(store.advance_stream_time(ts(6001)));
  EXPECT_EQ(drain(store.fetch("k", ts(0), ts(kMax))), WindowRows{});
  reopen();
  WindowStore& reopened = windows(1000, 100);
  EXPECT_EQ(reopened.stream_time(), ts(5000));
  EXPECT_EQ(drain(reopened.fetch("k", ts(0), ts(kMax))),
            (WindowRows{{"k", 4500, "live at the commit"}}));
}

TEST_F(RocksWindowStoresTest, WindowIteratorKeepsItsViewAcrossWritesToItsStore) {
  WindowStore& store = windows(10'000, 100);
  for (int64_t start : {10, 110, 210}) SLUICE_ASSERT_OK(store.put("k", ts(start), "old"));
  commit();
  SLUICE_ASSERT_OK(store.put("k", ts(310), "old"));  // buffered
  auto one = store.fetch("k", ts(0), ts(1000));
  auto all = store.fetch_all(ts(0), ts(1000));
  ASSERT_TRUE(one.ok() && all.ok());
  ASSERT_TRUE((*one)->valid() && (*all)->valid());
  (*one)->next();
  SLUICE_ASSERT_OK(store.put("k", ts(110), "new"));
  SLUICE_ASSERT_OK(store.put("k", ts(210), std::nullopt));
  SLUICE_ASSERT_OK(store.put("k", ts(250), "new"));
  const WindowRows old_view = {{"k", 110, "old"}, {"k", 210, "old"}, {"k", 310, "old"}};
  EXPECT_EQ(drain(std::move(one)), old_view);
  EXPECT_EQ(
      drain(std::move(all)),
      (WindowRows{{"k", 10, "old"}, {"k", 110, "old"}, {"k", 210, "old"}, {"k", 310, "old"}}));
  EXPECT_EQ(drain(store.fetch("k", ts(100), ts(1000))),
            (WindowRows{{"k", 110, "new"}, {"k", 250, "new"}, {"k", 310, "old"}}));
}

// Commits land in the background while the store is read and written, as in the runtime:
// every read must see every write, whether in the DB, in flight or buffered.
TEST_F(RocksWindowStoresTest, ReadsSeeEveryWriteWhileCommitsLandInTheBackground) {
  WindowStore& store = windows(1'000'000, 100);
  std::map<std::pair<Bytes, int64_t>, Bytes> model;
  std::mt19937 rng(11);
  const std::vector<Bytes> keys = {"a", "b", "c", "d"};
  for (int round = 0; round < 300; ++round) {
    for (int i = 0; i < 10; ++i) {
      const Bytes& key = keys[rng() % keys.size()];
      const int64_t start = static_cast<int64_t>(rng() % 1000);
      if (rng() % 5 == 0) {
        SLUICE_ASSERT_OK(store.put(key, ts(start), std::nullopt));
        model.erase({key, start});
      } else {
        const Bytes value = std::to_string(round) + "." + std::to_string(i);
        SLUICE_ASSERT_OK(store.put(key, ts(start), value));
        model[{key, start}] = value;
      }
    }
    for (const Bytes& key : keys) {
      WindowRows expected;
      for (const auto& [at, value] : model) {
        if (at.first == key) expected.emplace_back(key, at.second, value);
      }
      ASSERT_EQ(drain(store.fetch(key, ts(0), ts(1000))), expected) << "round " << round;
    }
    // As the runtime commits: the write goes on in the background, the next commit waits.
    if (round % 3 == 2) SLUICE_ASSERT_OK(writer_->commit());
  }
}

// --- Window store with its point cache ---

// The column family key of a key-first window store's entry (rocks_window_stores.h).
Bytes window_cf_key(int64_t segment_ms, ByteView key, int64_t start) {
  Bytes out = segments::key_prefix(segments::floor_div(start, segment_ms), key);
  segments::append_time(out, start);
  return out;
}

TEST_F(RocksWindowStoresTest, CachedFetchReadsWindowsThatWereOnDiskBeforeTheStoreWasMade) {
  WindowStore& before = windows(1'000'000, 100);
  SLUICE_ASSERT_OK(before.put("a", ts(250), "old-a"));
  SLUICE_ASSERT_OK(before.put("b", ts(120), "old-b"));
  commit();
  reopen();
  WindowStore& store = windows(1'000'000, 100, 1 << 20);
  EXPECT_EQ(*store.fetch("a", ts(250)), std::optional<Bytes>("old-a"));
  EXPECT_EQ(*store.fetch("b", ts(120)), std::optional<Bytes>("old-b"));
  EXPECT_EQ(*store.fetch("c", ts(250)), std::nullopt);  // in the last segment on disk: read
  EXPECT_EQ(*store.fetch("a", ts(300)), std::nullopt);  // past it: known absent
  SLUICE_ASSERT_OK(store.put("a", ts(300), "new"));
  EXPECT_EQ(*store.fetch("a", ts(300)), std::optional<Bytes>("new"));
  SLUICE_ASSERT_OK(store.put("a", ts(300), std::nullopt));
  EXPECT_EQ(*store.fetch("a", ts(300)), std::nullopt);
}

TEST_F(RocksWindowStoresTest, CachedFetchAnswersAMissPastEveryWindowOnDiskWithoutReadingRocksDb) {
  WindowStore& store = windows(1'000'000, 100, 1 << 20);
  SLUICE_ASSERT_OK(store.put("a", ts(150), "cached"));
  commit();
  // Behind the store's back: a window it never wrote, past every window on disk when it was
  // made, and the removal of one it did write. The store answers both from its cache.
  raw_put(window_cf(), window_cf_key(100, "b", 150), "on-disk-only");
  ASSERT_TRUE(db_->Delete(rocksdb::WriteOptions(), window_cf(), window_cf_key(100, "a", 150)).ok());
  EXPECT_EQ(*store.fetch("b", ts(150)), std::nullopt);
  EXPECT_EQ(*store.fetch("a", ts(150)), std::optional<Bytes>("cached"));
  // A new store object (a restart) knows no such thing, and reads both from RocksDB.
  WindowStore& again = windows(1'000'000, 100, 1 << 20);
  EXPECT_EQ(*again.fetch("b", ts(150)), std::optional<Bytes>("on-disk-only"));
  EXPECT_EQ(*again.fetch("a", ts(150)), std::nullopt);
}

TEST_F(RocksWindowStoresTest, CachedFetchReadsWindowsARestoreWroteAroundTheCache) {
  WindowStore& store = windows(1'000'000, 100, 1 << 20);
  writer_->begin_bulk();
  SLUICE_ASSERT_OK(store.put("a", ts(500), "restored"));
  SLUICE_ASSERT_OK(writer_->end_bulk());
  EXPECT_EQ(*store.fetch("a", ts(500)), std::optional<Bytes>("restored"));
  EXPECT_EQ(*store.fetch("a", ts(400)), std::nullopt);
}

// Against a model: random writes, removals and fetches over advancing windows, with a cache too
// small for them (whole windows dropped all the time), stream time expiring old windows,
// commits, restarts with and without the last interval committed, and restores written around
// the cache. Every fetch must agree with the model.
TEST_F(RocksWindowStoresTest, CachedFetchesAgreeWithAModelThroughDropsRestartsAndRestores) {
  constexpr int64_t kRetention = 300;
  // One window per segment, so that the windows after a restart are soon past every segment on
  // disk, where the cache answers misses.
  constexpr int64_t kSegment = 10;
  constexpr size_t kCacheBytes = 1500;  // about ten entries
  for (const bool time_ordered : {false, true}) {
    SCOPED_TRACE(time_ordered ? "time-ordered" : "key-first");
    writer_->discard();
    ASSERT_TRUE(db_->DeleteRange(rocksdb::WriteOptions(), window_cf(), "", Bytes(64, '\xff')).ok());
    auto reopen_store = [&] { return &windows(kRetention, kSegment, kCacheBytes, time_ordered); };
    WindowStore* store = reopen_store();
    struct State {
      std::map<std::pair<Bytes, int64_t>, Bytes> windows;
      int64_t stream_time = kMin;
    } live, committed;
    auto expired = [&](int64_t start) {
      return live.stream_time != kMin && start < live.stream_time - kRetention;
    };
    std::mt19937 rng(time_ordered ? 5 : 7);
    int64_t now = 0;
    auto pick_start = [&] {
      // Mostly the last few windows, sometimes one long expired.
      const int64_t back = rng() % 10 == 0 ? 400 : static_cast<int64_t>(rng() % 40);
      return std::max<int64_t>(0, (now - back) / 10 * 10);
    };
    for (int step = 0; step < 8000; ++step) {
      const Bytes key = "k" + std::to_string(rng() % 12);
      now += rng() % 3;
      const int64_t start = pick_start();
      const unsigned action = rng() % 100;
      if (action < 45) {
        auto got = store->fetch(key, ts(start));
        ASSERT_TRUE(got.ok()) << got.status().to_string();
        auto want = live.windows.find({key, start});
        ASSERT_EQ(*got, expired(start) || want == live.windows.end()
                            ? std::nullopt
                            : std::optional<Bytes>(want->second))
            << "step " << step << ": fetch " << key << "@" << start;
      } else if (action < 80) {
        const Bytes value = std::to_string(step);
        SLUICE_ASSERT_OK(store->put(key, ts(start), value));
        if (!expired(start)) live.windows[{key, start}] = value;
      } else if (action < 87) {
        SLUICE_ASSERT_OK(store->put(key, ts(start), std::nullopt));
        if (!expired(start)) live.windows.erase({key, start});
      } else if (action < 91) {
        SLUICE_ASSERT_OK(store->advance_stream_time(ts(now)));
        live.stream_time = std::max(live.stream_time, now);
      } else if (action < 95) {
        commit();
        committed = live;
      } else if (action < 98) {
        if (rng() % 8 != 0) continue;
        // A restart, the last interval committed or lost.
        if (rng() % 2 == 0) {
          commit();
          committed = live;
        } else {
          writer_->discard();
          live = committed;
        }
        store = reopen_store();
      } else {
        if (rng() % 8 != 0) continue;
        // A restore of a few windows, written in bulk around the cache.
        commit();
        writer_->begin_bulk();
        for (int i = 0; i < 3; ++i) {
          const Bytes k = "k" + std::to_string(rng() % 12);
          const int64_t at = pick_start();
          const Bytes value = "restored-" + std::to_string(step);
          SLUICE_ASSERT_OK(store->put(k, ts(at), value));
          if (!expired(at)) live.windows[{k, at}] = value;
        }
        SLUICE_ASSERT_OK(writer_->end_bulk());
        committed = live;
      }
    }
  }
}

TEST_F(RocksWindowStoresTest, MalformedStoredWindowKeyIsCorruptionNamingTheStore) {
  WindowStore& store = windows(10'000, 100);
  SLUICE_ASSERT_OK(store.put("k", ts(10), "v"));
  commit();
  // Segment 0 (offset), key length 1, key "k", then 3 bytes where 8 belong (sorting after
  // every start, so that a fetch from time 0 meets them).
  Bytes bad;
  append_be<uint64_t>(bad, uint64_t{1} << 63);
  append_be<uint32_t>(bad, 1);
  bad += "k\xff\xff\xff";
  raw_put(window_cf(), bad, "v");
  EXPECT_TRUE(is_error(walk_status(store.fetch("k", ts(0), ts(100))), StatusCode::kCorruption,
                       {"windows"}));
  EXPECT_TRUE(
      is_error(walk_status(store.fetch_all(ts(0), ts(100))), StatusCode::kCorruption, {"windows"}));
}

TEST_F(RocksWindowStoresTest, MalformedStoredStreamTimeIsCorruptionNamingTheStore) {
  raw_put(window_cf(), "", "short");
  WindowStore& store = windows();
  EXPECT_TRUE(is_error(store.put("k", ts(1), "v"), StatusCode::kCorruption, {"windows"}));
  EXPECT_TRUE(is_error(store.fetch("k", ts(1)).status(), StatusCode::kCorruption, {"windows"}));
  EXPECT_TRUE(is_error(store.advance_stream_time(ts(5)), StatusCode::kCorruption, {"windows"}));
}

// --- Session store ---

TEST_F(RocksWindowStoresTest, FindSessionsFindsSessionsInEverySegmentTheyMayEndIn) {
  SessionStore& store = sessions(kMax, 100);
  SLUICE_ASSERT_OK(store.put("k", session(10, 90), "a"));      // segment 0, ends too early
  SLUICE_ASSERT_OK(store.put("k", session(50, 150), "b"));     // segment 1, straddles 100
  SLUICE_ASSERT_OK(store.put("k", session(120, 130), "c"));    // segment 1
  SLUICE_ASSERT_OK(store.put("k", session(0, 350), "d"));      // segment 3
  SLUICE_ASSERT_OK(store.put("k", session(5, 100'000), "e"));  // far ahead, empty segments between
  SLUICE_ASSERT_OK(store.put("k", session(250, 260), "f"));    // starts too late
  SLUICE_ASSERT_OK(store.put("j", session(120, 130), "other key"));
  SLUICE_ASSERT_OK(store.put("kk", session(120, 130), "other key"));
  commit();
  EXPECT_EQ(
      drain(store.find_sessions("k", ts(95), ts(200))),
      (SessionRows{
          {"k", 120, 130, "c"}, {"k", 50, 150, "b"}, {"k", 0, 350, "d"}, {"k", 5, 100'000, "e"}}));
}

TEST_F(RocksWindowStoresTest, FindSessionsOrdersNegativeEndsFirst) {
  SessionStore& store = sessions(kMax, 100);
  SLUICE_ASSERT_OK(store.put("k", session(-500, 20), "c"));
  SLUICE_ASSERT_OK(store.put("k", session(-500, -101), "a"));
  SLUICE_ASSERT_OK(store.put("k", session(-200, -100), "b"));
  commit();
  EXPECT_EQ(drain(store.find_sessions("k", ts(-1000), ts(0))),
            (SessionRows{{"k", -500, -101, "a"}, {"k", -200, -100, "b"}, {"k", -500, 20, "c"}}));
  auto single = store.fetch("k", session(-200, -100));
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(*single, std::optional<Bytes>("b"));
}

TEST_F(RocksWindowStoresTest, SessionReadsSeeBufferedWritesBeforeTheyAreCommitted) {
  SessionStore& store = sessions();
  SLUICE_ASSERT_OK(store.put("k", session(0, 10), "committed"));
  commit();
  SLUICE_ASSERT_OK(store.remove("k", session(0, 10)));
  SLUICE_ASSERT_OK(store.put("k", session(0, 40), "merged"));
  EXPECT_EQ(raw_keys(session_cf()).size(), 1u);
  EXPECT_EQ(drain(store.find_sessions("k", ts(0), ts(100))), (SessionRows{{"k", 0, 40, "merged"}}));
  auto gone = store.fetch("k", session(0, 10));
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(*gone, std::nullopt);
}

TEST_F(RocksWindowStoresTest, SessionExpiryDropsWholeSegmentsFromDiskOnceCommitted) {
  SessionStore& store = sessions(1000, 100);
  for (int64_t end = 0; end < 2000; end += 10) {
    SLUICE_ASSERT_OK(store.put("k", session(end - 5, end), Bytes(1000, 'v')));
  }
  commit();
  EXPECT_EQ(entries_on_disk(session_cf()), 200u);
  SLUICE_ASSERT_OK(store.advance_stream_time(ts(2550)));  // cutoff 1550: segments 0..14 expire
  commit();
  SLUICE_ASSERT_OK(store.advance_stream_time(ts(2551)));  // and go
  commit();
  EXPECT_EQ(entries_on_disk(session_cf()), 50u + 1);  // ends 1500..1990, and stream time
  const SessionRows found = drain(store.find_sessions("k", ts(0), ts(1556)));
  ASSERT_EQ(found.size(), 1u);  // end 1560; 1500..1550 are on disk but expired
  EXPECT_EQ(std::get<2>(found[0]), 1560);
}

TEST_F(RocksWindowStoresTest, SessionStreamTimeSurvivesReopeningTheDb) {
  SessionStore& store = sessions(1000, 100);
  EXPECT_EQ(store.stream_time(), kNoTimestamp);
  SLUICE_ASSERT_OK(store.put("k", session(4000, 4100), "live"));
  SLUICE_ASSERT_OK(store.advance_stream_time(ts(5000)));
  commit();
  reopen();
  SessionStore& reopened = sessions(1000, 100);
  EXPECT_EQ(reopened.stream_time(), ts(5000));
  SLUICE_ASSERT_OK(reopened.put("k", session(3000, 3999), "expired"));  // ignored
  EXPECT_EQ(drain(reopened.find_sessions("k", ts(0), ts(kMax))),
            (SessionRows{{"k", 4000, 4100, "live"}}));
}

TEST_F(RocksWindowStoresTest, SessionIteratorKeepsItsViewAcrossWritesToItsStore) {
  SessionStore& store = sessions(10'000, 100);
  SLUICE_ASSERT_OK(store.put("k", session(0, 50), "a"));
  SLUICE_ASSERT_OK(store.put("k", session(100, 150), "b"));
  commit();
  auto it = store.find_sessions("k", ts(0), ts(1000));
  ASSERT_TRUE(it.ok());
  // What a session merge does while looking at the sessions it found.
  SLUICE_ASSERT_OK(store.remove("k", session(0, 50)));
  SLUICE_ASSERT_OK(store.remove("k", session(100, 150)));
  SLUICE_ASSERT_OK(store.put("k", session(0, 150), "merged"));
  EXPECT_EQ(drain(std::move(it)), (SessionRows{{"k", 0, 50, "a"}, {"k", 100, 150, "b"}}));
  EXPECT_EQ(drain(store.find_sessions("k", ts(0), ts(1000))),
            (SessionRows{{"k", 0, 150, "merged"}}));
}

TEST_F(RocksWindowStoresTest, MalformedStoredSessionKeyIsCorruptionNamingTheStore) {
  SessionStore& store = sessions(10'000, 100);
  Bytes bad;
  append_be<uint64_t>(bad, uint64_t{1} << 63);  // segment 0
  append_be<uint32_t>(bad, 1);
  bad += "k";
  append_be<uint64_t>(bad, (uint64_t{1} << 63) + 10);  // an end, but no start
  raw_put(session_cf(), bad, "v");
  EXPECT_TRUE(is_error(walk_status(store.find_sessions("k", ts(0), ts(100))),
                       StatusCode::kCorruption, {"sessions"}));
}

}  // namespace
}  // namespace sluice::state

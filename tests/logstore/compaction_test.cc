// Log compaction through the store's API: what a pass keeps and drops, what gates a pass,
// transactions, appends during a pass, reopen, and crashes at every step of the swap protocol.
//
// Most tests compare the log after compaction with an oracle built from what was appended: below
// the end of the compacted part only the newest record of each key is left (a tombstone too,
// until its delete horizon); from there on, everything.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <thread>

#include "fault_injection_fs.h"
#include "log_files.h"
#include "log_test_util.h"
#include "sluice/base/sync_point.h"
#include "sluice/logstore/log_store.h"
#include "temp_dir.h"

namespace sluice::testing {
// Readable failure messages for records.
[[maybe_unused]] static void PrintTo(const ReadRecord& r, std::ostream* os) {
  *os << "{" << r.offset.value() << " @" << r.timestamp.value() << " "
      << (r.key ? *r.key : "<null>") << "=" << (r.value ? r.value->substr(0, 16) : "<null>") << "}";
}
}  // namespace sluice::testing

namespace sluice::logstore {
namespace {

using sluice::testing::copy_tree;
using sluice::testing::read_bytes;
using sluice::testing::ReadRecord;
using sluice::testing::RecordSet;
using sluice::testing::write_bytes;
using namespace std::chrono_literals;

constexpr int64_t kRetentionMs = 1000;
const TopicPartition kTp{"table", PartitionId(0)};

TopicConfig compacted_config() {
  TopicConfig c;
  c.cleanup_policy = CleanupPolicy::kCompact;
  c.segment_bytes = 1024;  // the minimum: many small sealed segments
  c.index_interval_bytes = 200;
  c.flush_policy = FlushPolicy::kNever;  // no fsync per append: keeps the tests fast
  c.delete_retention_ms = kRetentionMs;
  c.min_cleanable_dirty_ratio = 0.5;
  return c;
}

std::string padded(const std::string& s, size_t n = 120) { return s + std::string(n, '.'); }

// A record to append; a missing timestamp means the clock's "now".
struct KV {
  std::optional<std::string> key;
  std::optional<std::string> value;
  Timestamp ts = kNoTimestamp;
};

// What readers see of the partition.
struct LogState {
  std::vector<ReadRecord> committed;
  std::vector<ReadRecord> uncommitted;
  int64_t high_watermark = -1;
  int64_t stable = -1;
  friend bool operator==(const LogState&, const LogState&) = default;
};

void PrintTo(const LogState& s, std::ostream* os) {
  *os << "hw=" << s.high_watermark << " stable=" << s.stable << " committed=";
  *os << ::testing::PrintToString(s.committed);
  *os << " uncommitted=" << ::testing::PrintToString(s.uncommitted);
}

// The oracle: `written` (committed records) after one pass over [0, end) — only the newest
// record of each key stays below `end`; records without a key and from `end` on all stay.
std::vector<ReadRecord> expected_after(std::vector<ReadRecord> written, Offset end) {
  std::sort(written.begin(), written.end(),
            [](const ReadRecord& a, const ReadRecord& b) { return a.offset < b.offset; });
  std::map<std::string, Offset> latest;
  for (const ReadRecord& r : written) {
    if (r.offset < end && r.key) latest[*r.key] = r.offset;
  }
  std::vector<ReadRecord> out;
  for (const ReadRecord& r : written) {
    if (r.offset >= end || !r.key || latest[*r.key] == r.offset) out.push_back(r);
  }
  return out;
}

std::vector<ReadRecord> with_key(const std::vector<ReadRecord>& records, const std::string& key) {
  std::vector<ReadRecord> out;
  for (const ReadRecord& r : records) {
    if (r.key == key) out.push_back(r);
  }
  return out;
}

// One batch as stored, with its records.
struct RawBatch {
  BatchHeader header;
  std::vector<ReadRecord> records;
};

class CompactionTest : public ::testing::Test {
 protected:
  void TearDown() override {
    sync_point::clear_all();
    store_.reset();
  }

  void SetUp() override { open(); }

  void open(const std::string& data_dir = "", FileSystem* fs = nullptr) {
    store_.reset();
    LogStoreOptions options;
    options.data_dir = data_dir.empty() ? dir_.path() : data_dir;
    options.fs = fs;
    options.clock = &clock_;
    options.background_maintenance = false;
    auto opened = LogStore::open(options);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
    data_dir_ = options.data_dir;
  }

  void create(const TopicConfig& config = compacted_config()) {
    Status s = store_->create_topic(kTp.topic, config);
    ASSERT_TRUE(s.ok()) << s.to_string();
  }

  std::string partition_dir() const { return data_dir_ + "/topics/" + kTp.topic + "/0"; }

  RecordSet to_set(std::vector<KV>& kvs) {
    RecordSet set;
    for (KV& kv : kvs) {
      if (kv.ts == kNoTimestamp) kv.ts = clock_.now();
      set.add(kv.key, kv.value, kv.ts);
    }
    return set;
  }

  static std::vector<ReadRecord> records_of(const AppendResult& r, const std::vector<KV>& kvs) {
    std::vector<ReadRecord> out;
    for (size_t i = 0; i < kvs.size(); ++i) {
      out.push_back({r.base_offset + static_cast<int64_t>(i), kvs[i].ts, kvs[i].key, kvs[i].value});
    }
    return out;
  }

  // Appends `kvs` as one plain batch and adds them to the oracle.
  AppendResult append(std::vector<KV> kvs) {
    RecordSet set = to_set(kvs);
    auto r = store_->append(kTp, set.records());
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (!r.ok()) return {};
    committed(records_of(*r, kvs));
    return *r;
  }

  // Appends `kvs` as one batch of `p`'s open transaction; the caller adds them to the oracle
  // (committed()) if it commits.
  std::vector<ReadRecord> produce(Producer& p, std::vector<KV> kvs) {
    RecordSet set = to_set(kvs);
    auto r = p.append(kTp, set.records());
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? records_of(*r, kvs) : std::vector<ReadRecord>{};
  }

  void committed(const std::vector<ReadRecord>& records) {
    written_.insert(written_.end(), records.begin(), records.end());
  }

  std::unique_ptr<Producer> producer(const std::string& transactional_id) {
    auto p = store_->create_producer({.transactional_id = transactional_id});
    EXPECT_TRUE(p.ok()) << p.status().to_string();
    return p.ok() ? std::move(p).value() : nullptr;
  }

  // Base offsets of the partition's segments, in order (the last is the active segment).
  std::vector<Offset> segment_bases() const {
    std::vector<Offset> bases;
    for (const auto& e : std::filesystem::directory_iterator(partition_dir())) {
      if (auto b = files::parse_segment_name(e.path().filename().string(), files::kLogSuffix)) {
        bases.push_back(*b);
      }
    }
    std::sort(bases.begin(), bases.end());
    return bases;
  }
  Offset active_base() const { return segment_bases().back(); }

  // Names of files in the partition directory that end with `suffix`.
  std::vector<std::string> files_ending(std::string_view suffix) const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(partition_dir())) {
      std::string name = e.path().filename().string();
      if (name.ends_with(suffix)) out.push_back(name);
    }
    return out;
  }

  // Appends unique-key filler until the active segment rolls: everything appended before is
  // then in sealed segments.
  void roll_past() {
    const size_t before = segment_bases().size();
    while (segment_bases().size() == before) {
      append({{"filler" + std::to_string(filler_++), padded("f", 300)}});
    }
  }

  void compact(bool force = true) {
    Status s = store_->run_compaction(force);
    ASSERT_TRUE(s.ok()) << s.to_string();
  }

  std::vector<ReadRecord> read(IsolationLevel isolation) {
    auto r = testing::read_all(*store_, kTp, isolation);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : std::vector<ReadRecord>{};
  }

  LogState state() {
    LogState s;
    s.committed = read(IsolationLevel::kReadCommitted);
    s.uncommitted = read(IsolationLevel::kReadUncommitted);
    auto ends = store_->partition_ends(kTp);
    EXPECT_TRUE(ends.ok());
    if (ends.ok()) {
      s.high_watermark = ends->high_watermark.offset().value();
      s.stable = ends->stable.offset().value();
    }
    return s;
  }

  // Every batch of the partition, control batches included.
  std::vector<RawBatch> raw_batches() {
    std::vector<RawBatch> out;
    FetchRequest req{.partition = kTp,
                     .offset = Offset(0),
                     .max_bytes = 64 << 10,
                     .isolation = IsolationLevel::kReadUncommitted};
    while (true) {
      auto r = store_->fetch(req);
      EXPECT_TRUE(r.ok()) << r.status().to_string();
      if (!r.ok() || r->batches.empty()) break;
      ByteView rest = r->batches;
      while (!rest.empty()) {
        auto batch = RecordBatchView::parse(rest);
        EXPECT_TRUE(batch.ok());
        if (!batch.ok()) return out;
        rest.remove_prefix(batch->bytes().size());
        RawBatch raw{batch->header(), {}};
        auto it = RecordIterator::open(*batch);
        EXPECT_TRUE(it.ok());
        RecordView v;
        while (it.ok()) {
          auto more = it->next(v);
          EXPECT_TRUE(more.ok());
          if (!more.ok() || !*more) break;
          ReadRecord rec{v.offset, v.timestamp, std::nullopt, std::nullopt};
          if (v.key) rec.key = std::string(*v.key);
          if (v.value) rec.value = std::string(*v.value);
          raw.records.push_back(std::move(rec));
        }
        if (raw.header.last_offset() >= req.offset) out.push_back(std::move(raw));
      }
      req.offset = r->next_offset;
    }
    return out;
  }

  std::vector<RawBatch> control_batches() {
    std::vector<RawBatch> out;
    for (RawBatch& b : raw_batches()) {
      if (b.header.control()) out.push_back(std::move(b));
    }
    return out;
  }

  // The stored batch that holds `offset`.
  std::optional<RawBatch> batch_holding(Offset offset) {
    for (RawBatch& b : raw_batches()) {
      if (b.header.base_offset <= offset && offset <= b.header.last_offset()) return b;
    }
    return std::nullopt;
  }

  uint64_t partition_bytes() {
    auto d = store_->describe_topic(kTp.topic);
    EXPECT_TRUE(d.ok());
    return d.ok() ? d->partition_bytes.at(0) : 0;
  }

  testing::TempDir dir_;
  std::string data_dir_;
  ManualClock clock_;
  std::unique_ptr<LogStore> store_;
  std::vector<ReadRecord> written_;  // the oracle: every committed record appended
  int filler_ = 0;
};

// --- what a pass keeps ---

TEST_F(CompactionTest, KeepsTheNewestRecordPerKeyWithOffsetsAndTimestampsUnchanged) {
  create();
  for (int i = 0; i < 60; ++i) {
    std::vector<KV> batch;
    for (int j = 0; j < 4; ++j) {
      const int n = i * 4 + j;
      batch.push_back({"k" + std::to_string((n * 7) % 23), padded("v" + std::to_string(n), 40),
                       clock_.now() + n});
    }
    if (i % 5 == 0) batch.push_back({"once" + std::to_string(i), "never overwritten"});
    if (i % 11 == 0) batch.push_back({std::nullopt, "no key"});
    append(batch);
  }
  ASSERT_GT(segment_bases().size(), 10u);
  const Offset end = active_base();
  const uint64_t bytes_before = partition_bytes();
  const LogState before = state();

  compact();

  const LogState after = state();
  EXPECT_EQ(after.committed, expected_after(written_, end));
  EXPECT_EQ(after.uncommitted, after.committed);
  EXPECT_EQ(after.high_watermark, before.high_watermark);
  EXPECT_LT(partition_bytes(), bytes_before);
  for (size_t i = 1; i < after.committed.size(); ++i) {
    EXPECT_LT(after.committed[i - 1].offset, after.committed[i].offset);
  }
  // Every key's newest value is still there, at its offset.
  std::map<std::string, ReadRecord> newest;
  for (const ReadRecord& r : written_) {
    if (r.key) newest[*r.key] = r;
  }
  for (const auto& [key, r] : newest) {
    auto kept = with_key(after.committed, key);
    ASSERT_FALSE(kept.empty()) << key;
    EXPECT_EQ(kept.back(), r);
  }
  // A second pass has nothing left to drop.
  compact();
  EXPECT_EQ(state(), after);
}

TEST_F(CompactionTest, NeverCompactsTheActiveSegment) {
  TopicConfig config = compacted_config();
  config.segment_bytes = 1 << 20;
  create(config);
  for (int i = 0; i < 20; ++i) append({{"k", "v" + std::to_string(i)}});
  const LogState before = state();
  compact();
  EXPECT_EQ(state(), before);
  EXPECT_EQ(with_key(state().committed, "k").size(), 20u);
}

TEST_F(CompactionTest, LeavesEverythingFromTheSegmentOfTheLastStableOffsetOnUntouched) {
  create();
  for (int i = 0; i < 10; ++i) append({{"a", padded("old" + std::to_string(i), 200)}});
  roll_past();
  auto p = producer("lso");
  ASSERT_TRUE(p->begin_transaction().ok());
  std::vector<ReadRecord> open_txn = produce(*p, {{"t", "pending"}});
  ASSERT_EQ(open_txn.size(), 1u);
  for (int i = 0; i < 10; ++i) append({{"a", padded("new" + std::to_string(i), 200)}});
  roll_past();
  ASSERT_EQ(state().stable, open_txn[0].offset.value());
  // The segment holding the LSO and all after it must stay as they are.
  Offset end(0);
  for (Offset b : segment_bases()) {
    if (b <= open_txn[0].offset) end = b;
  }

  compact();

  std::vector<ReadRecord> everything = written_;
  everything.insert(everything.end(), open_txn.begin(), open_txn.end());
  EXPECT_EQ(state().uncommitted, expected_after(everything, end));
  EXPECT_EQ(with_key(state().uncommitted, "a").size(), 11u);  // old9 and new0..new9

  ASSERT_TRUE(p->commit_transaction().ok());
  committed(open_txn);
  roll_past();
  const Offset end2 = active_base();
  compact();
  EXPECT_EQ(state().committed, expected_after(written_, end2));
  EXPECT_EQ(with_key(state().committed, "a").size(), 1u);
}

// --- tombstones ---

TEST_F(CompactionTest, DropsARecordOlderThanATombstoneInTheFirstPass) {
  create();
  append({{"a", "1"}, {"b", "1"}});
  append({{"a", std::nullopt}, {"c", "1"}});
  roll_past();
  compact();
  auto a = with_key(state().committed, "a");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].value, std::nullopt);
  EXPECT_EQ(with_key(state().committed, "b").size(), 1u);
}

TEST_F(CompactionTest, KeepsATombstoneUntilDeleteRetentionAfterThePassThatFirstKeptIt) {
  create();
  append({{"gone", "v1"}, {"kept", "v"}});
  const AppendResult tomb = append({{"gone", std::nullopt}, {"other", "x"}});
  roll_past();
  // The horizon counts from the pass, not from the tombstone's own timestamp.
  clock_.advance_ms(10 * kRetentionMs);
  compact();
  const Timestamp first_pass = clock_.now();

  auto gone = with_key(state().committed, "gone");
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].value, std::nullopt);
  EXPECT_EQ(gone[0].offset, tomb.base_offset);
  auto batch = batch_holding(tomb.base_offset);
  ASSERT_TRUE(batch.has_value());
  EXPECT_TRUE(batch->header.has_delete_horizon());
  EXPECT_EQ(batch->header.base_timestamp, first_pass + kRetentionMs);

  clock_.advance_ms(kRetentionMs - 1);
  compact();
  EXPECT_EQ(with_key(state().committed, "gone").size(), 1u);

  clock_.advance_ms(1);
  compact();
  EXPECT_TRUE(with_key(state().committed, "gone").empty());
  auto other = with_key(state().committed, "other");
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0], written_[3]);
  EXPECT_EQ(with_key(state().committed, "kept").size(), 1u);
  // No tombstone left in the batch: no horizon either.
  batch = batch_holding(other[0].offset);
  ASSERT_TRUE(batch.has_value());
  EXPECT_FALSE(batch->header.has_delete_horizon());
}

TEST_F(CompactionTest, AReachedDeleteHorizonTriggersAPassWithNothingDirty) {
  create();
  append({{"k", "v"}});
  append({{"k", std::nullopt}, {"live", "x"}});
  roll_past();
  compact();
  clock_.advance_ms(kRetentionMs);
  compact(/*force=*/false);
  EXPECT_TRUE(with_key(state().committed, "k").empty());
  EXPECT_EQ(with_key(state().committed, "live").size(), 1u);
}

TEST_F(CompactionTest, DroppedTombstonesDoNotTriggerLaterPasses) {
  create();
  for (int i = 0; i < 8; ++i) roll_past();  // a large clean part
  append({{"k", "v"}});
  append({{"k", std::nullopt}, {"live", "x"}});
  roll_past();
  compact();
  clock_.advance_ms(kRetentionMs);
  compact(/*force=*/false);
  ASSERT_TRUE(with_key(state().committed, "k").empty());

  // A little dirty data: below min.cleanable.dirty.ratio, and no horizon is due.
  append({{"d", "1"}});
  append({{"d", "2"}});
  roll_past();
  compact(/*force=*/false);
  EXPECT_EQ(with_key(state().committed, "d").size(), 2u);
  compact(/*force=*/true);
  EXPECT_EQ(with_key(state().committed, "d").size(), 1u);
}

// --- what gates a pass ---

TEST_F(CompactionTest, MinCompactionLagLeavesYoungSegmentsUntouched) {
  TopicConfig config = compacted_config();
  config.min_compaction_lag_ms = 60'000;
  create(config);
  append({{"a", "1"}});
  append({{"a", "2"}});
  roll_past();
  compact();
  EXPECT_EQ(with_key(state().committed, "a").size(), 2u);

  clock_.advance_ms(60'000);
  append({{"b", "1"}});
  append({{"b", "2"}});
  roll_past();
  compact();
  EXPECT_EQ(with_key(state().committed, "a").size(), 1u);
  EXPECT_EQ(with_key(state().committed, "b").size(), 2u);  // not old enough yet
}

TEST_F(CompactionTest, CompactsRecordsStampedInTheFutureWhenThereIsNoLag) {
  create();
  const Timestamp future = clock_.now() + 3'600'000;  // a producer with a skewed clock
  append({{"a", "1", future}});
  append({{"a", "2", future}});
  roll_past();
  compact();
  auto a = with_key(state().committed, "a");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].value, "2");
}

TEST_F(CompactionTest, MinCleanableDirtyRatioGatesAPassThatIsNotForced) {
  create();
  for (int i = 0; i < 5; ++i) roll_past();
  compact();  // everything clean

  append({{"d", "1"}});
  append({{"d", "2"}});
  roll_past();
  compact(/*force=*/false);  // about a sixth is dirty
  EXPECT_EQ(with_key(state().committed, "d").size(), 2u);

  for (int i = 0; i < 24; ++i) append({{"e", padded(std::to_string(i), 300)}});
  roll_past();
  compact(/*force=*/false);  // now most of it is dirty
  EXPECT_EQ(with_key(state().committed, "d").size(), 1u);
  EXPECT_EQ(with_key(state().committed, "e").size(), 1u);
}

// --- transactions ---

TEST_F(CompactionTest, AbortedRecordsAreRemovedAndNeverHideAnEarlierCommittedValue) {
  create();
  auto p = producer("shadow");
  append({{"k", "committed"}});
  ASSERT_TRUE(p->begin_transaction().ok());
  produce(*p, {{"k", "aborted"}, {"only-aborted", "x"}});
  ASSERT_TRUE(p->abort_transaction().ok());
  // The same with a transactional committed value.
  ASSERT_TRUE(p->begin_transaction().ok());
  committed(produce(*p, {{"t", "committed"}}));
  ASSERT_TRUE(p->commit_transaction().ok());
  ASSERT_TRUE(p->begin_transaction().ok());
  produce(*p, {{"t", "aborted"}});
  ASSERT_TRUE(p->abort_transaction().ok());
  roll_past();
  const Offset end = active_base();

  compact();

  const LogState s = state();
  EXPECT_EQ(s.committed, expected_after(written_, end));
  EXPECT_EQ(s.uncommitted, s.committed);  // the aborted records are gone from the log
  ASSERT_EQ(with_key(s.committed, "k").size(), 1u);
  EXPECT_EQ(with_key(s.committed, "k")[0].value, "committed");
  ASSERT_EQ(with_key(s.committed, "t").size(), 1u);
  EXPECT_EQ(with_key(s.committed, "t")[0].value, "committed");
  EXPECT_TRUE(with_key(s.uncommitted, "only-aborted").empty());
}

TEST_F(CompactionTest, CommittedTransactionalRecordsCompactLikeOthers) {
  create();
  auto p = producer("committer");
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(p->begin_transaction().ok());
    committed(produce(*p, {{"k", "txn" + std::to_string(i)}, {"j" + std::to_string(i), "x"}}));
    ASSERT_TRUE(p->commit_transaction().ok());
    append({{"k", "plain" + std::to_string(i)}});
  }
  roll_past();
  const Offset end = active_base();
  compact();
  EXPECT_EQ(state().committed, expected_after(written_, end));
  EXPECT_EQ(state().uncommitted, state().committed);
  EXPECT_EQ(with_key(state().committed, "k").size(), 1u);
}

TEST_F(CompactionTest, AMarkerStaysWhileItsDataRemainsAndGoesAfterItsHorizon) {
  create();
  auto p = producer("markers");
  ASSERT_TRUE(p->begin_transaction().ok());
  auto first = produce(*p, {{"x", "txn1"}});
  ASSERT_TRUE(p->commit_transaction().ok());
  committed(first);
  ASSERT_TRUE(p->begin_transaction().ok());
  auto second = produce(*p, {{"y", "txn2"}});
  ASSERT_TRUE(p->commit_transaction().ok());
  committed(second);
  ASSERT_TRUE(p->begin_transaction().ok());
  auto aborted = produce(*p, {{"z", "aborted"}});
  ASSERT_TRUE(p->abort_transaction().ok());
  append({{"x", "plain"}});  // leaves the first transaction without data
  roll_past();
  const Offset end = active_base();
  const Offset marker1 = first.back().offset + 1;
  const Offset marker2 = second.back().offset + 1;
  const Offset abort_marker = aborted.back().offset + 1;
  ASSERT_EQ(control_batches().size(), 3u);

  compact();
  const Timestamp first_pass = clock_.now();
  const LogState after_first = state();
  EXPECT_EQ(after_first.committed, expected_after(written_, end));
  auto markers = control_batches();
  ASSERT_EQ(markers.size(), 3u);
  EXPECT_EQ(markers[0].header.base_offset, marker1);
  EXPECT_TRUE(markers[0].header.has_delete_horizon());
  EXPECT_EQ(markers[0].header.base_timestamp, first_pass + kRetentionMs);
  EXPECT_EQ(markers[1].header.base_offset, marker2);
  EXPECT_FALSE(markers[1].header.has_delete_horizon());  // its data is still there
  EXPECT_EQ(markers[2].header.base_offset, abort_marker);
  EXPECT_TRUE(markers[2].header.has_delete_horizon());  // aborted data is gone at once

  clock_.advance_ms(kRetentionMs);
  compact();
  markers = control_batches();
  ASSERT_EQ(markers.size(), 1u);
  EXPECT_EQ(markers[0].header.base_offset, marker2);
  EXPECT_EQ(state(), after_first);
}

TEST_F(CompactionTest, ReadCommittedAndReadUncommittedAreRightAfterCompaction) {
  create();
  auto p = producer("mixed");
  auto q = producer("mixed-2");
  for (int i = 0; i < 40; ++i) {
    const std::string key = "k" + std::to_string(i % 7);
    const std::string value = padded(std::to_string(i), 60);
    switch (i % 4) {
      case 0:
        append({{key, value}});
        break;
      case 1: {
        ASSERT_TRUE(p->begin_transaction().ok());
        auto r = produce(*p, {{key, value}, {"p" + std::to_string(i), "x"}});
        ASSERT_TRUE(p->commit_transaction().ok());
        committed(r);
        break;
      }
      case 2: {
        ASSERT_TRUE(q->begin_transaction().ok());
        produce(*q, {{key, "aborted"}});
        ASSERT_TRUE(q->abort_transaction().ok());
        break;
      }
      case 3:
        append({{key, std::nullopt}});
        break;
    }
  }
  roll_past();
  const Offset end = active_base();
  compact();
  const LogState s = state();
  EXPECT_EQ(s.committed, expected_after(written_, end));
  EXPECT_EQ(s.uncommitted, s.committed);
  EXPECT_EQ(s.stable, s.high_watermark);
  open();
  EXPECT_EQ(state(), s);
}

// A pass that drops a marker must not leave a producer snapshot taken inside that transaction:
// a recovery replaying from it would find the transaction open forever (and abort it).
TEST_F(CompactionTest, RebuildingIndexesAfterMarkersWereDroppedFindsNoOpenTransaction) {
  create();
  append({{"u", padded("", 940)}});
  auto p = producer("snap");
  ASSERT_TRUE(p->begin_transaction().ok());
  committed(produce(*p, {{"x", padded("txn", 940)}}));
  ASSERT_TRUE(p->commit_transaction().ok());  // the marker starts a segment of its own
  append({{"x", padded("plain", 940)}});
  roll_past();
  compact();
  clock_.advance_ms(kRetentionMs);
  compact();
  ASSERT_TRUE(control_batches().empty());
  const LogState expected = state();

  const std::vector<Offset> bases = segment_bases();
  for (size_t i = 0; i + 1 < bases.size(); ++i) {
    SCOPED_TRACE("index of segment " + std::to_string(bases[i].value()) + " lost");
    store_.reset();
    std::filesystem::remove(partition_dir() + "/" +
                            files::segment_name(bases[i], files::kIndexSuffix));
    open();
    EXPECT_EQ(state(), expected);
  }
}

// --- appends and reads during a pass ---

TEST_F(CompactionTest, PassesWhileAWriterAppendsLoseNothing) {
  create();
  for (int i = 0; i < 20; ++i) append({{"k" + std::to_string(i % 5), padded(std::to_string(i))}});
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 150; ++i) {
      std::vector<KV> batch{{"k" + std::to_string(i % 9), padded("w" + std::to_string(i))}};
      if (i % 10 == 0) batch.push_back({"unique" + std::to_string(i), "x"});
      append(std::move(batch));
    }
    done = true;
  });
  int passes = 0;
  Status failed;
  while (!done.load() && failed.ok()) {
    failed = store_->run_compaction(true);
    ++passes;
  }
  writer.join();
  ASSERT_TRUE(failed.ok()) << failed.to_string();
  EXPECT_GT(passes, 0);
  roll_past();
  const Offset end = active_base();
  compact();
  EXPECT_EQ(state().committed, expected_after(written_, end));
  open();
  EXPECT_EQ(state().committed, expected_after(written_, end));
}

TEST_F(CompactionTest, AppendsAndReadsGoOnWhileAPassRewritesAGroup) {
  create();
  for (int i = 0; i < 30; ++i) append({{"k" + std::to_string(i % 4), padded(std::to_string(i))}});
  roll_past();
  const Offset end = active_base();
  const LogState before = state();

  std::promise<void> reached;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> hits{0};
  sync_point::set_callback("Compaction::AfterCleanedWritten", [&] {
    if (hits++ == 0) {
      reached.set_value();
      released.wait();
    }
  });
  auto pass = std::async(std::launch::async, [&] { return store_->run_compaction(true); });
  std::future<void> parked = reached.get_future();
  while (parked.wait_for(10ms) != std::future_status::ready) {
    ASSERT_NE(pass.wait_for(0s), std::future_status::ready) << "the pass rewrote no group";
  }

  // The pass is parked in the middle of a group: appends and reads must not wait for it.
  auto work = std::async(std::launch::async, [&] {
    LogState seen = state();
    for (int i = 0; i < 20; ++i) append({{"during" + std::to_string(i % 3), padded("d")}});
    return seen;
  });
  const bool finished = work.wait_for(60s) == std::future_status::ready;
  release.set_value();
  EXPECT_TRUE(finished) << "appends or reads waited for the compaction pass";
  Status s = pass.get();
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(work.get(), before);
  EXPECT_EQ(state().committed, expected_after(written_, end));
}

// --- reopen ---

TEST_F(CompactionTest, ReopenAfterCompactionKeepsRecordsAndOffsetAndTimeLookups) {
  create();
  const Timestamp t0 = clock_.now() - 1'000'000;
  for (int i = 0; i < 80; ++i) {
    append({{"k" + std::to_string(i % 6), padded(std::to_string(i), 50), t0 + 10 * i}});
  }
  roll_past();
  compact();
  const LogState s = state();

  auto lookups = [&] {
    std::vector<std::optional<Offset>> out;
    for (int64_t t = -5; t < 10 * 80 + 10; t += 7) {
      auto r = store_->offset_for_timestamp(kTp, t0 + t);
      EXPECT_TRUE(r.ok()) << r.status().to_string();
      out.push_back(r.ok() ? *r : std::nullopt);
    }
    return out;
  };
  // The first surviving offset at or after each time.
  std::vector<std::optional<Offset>> expected;
  for (int64_t t = -5; t < 10 * 80 + 10; t += 7) {
    std::optional<Offset> first;
    for (const ReadRecord& r : s.committed) {
      if (r.timestamp >= t0 + t) {
        first = r.offset;
        break;
      }
    }
    expected.push_back(first);
  }
  EXPECT_EQ(lookups(), expected);
  // Reading from an offset that compaction removed starts at the next record kept.
  auto from = testing::read_all(*store_, kTp, IsolationLevel::kReadCommitted, Offset(1));
  ASSERT_TRUE(from.ok());
  ASSERT_FALSE(from->empty());
  EXPECT_GE(from->front().offset, Offset(1));

  open();
  EXPECT_EQ(state(), s);
  EXPECT_EQ(lookups(), expected);
  const AppendResult next = append({{"after", "reopen"}});
  EXPECT_EQ(next.base_offset.value(), s.high_watermark);
}

// --- timestamps ---

class CompactionCodecTest : public CompactionTest,
                            public ::testing::WithParamInterface<TopicCompression> {};

TEST_P(CompactionCodecTest, RecordsInABatchGivenADeleteHorizonKeepTheirTimestamps) {
  TopicConfig config = compacted_config();
  config.compression = GetParam();
  create(config);
  const Timestamp t = clock_.now() - 500'000;
  const AppendResult with_tombstone =
      append({{"a", "1", t + 1}, {"b", std::nullopt, t + 2}, {"c", "3", t + 3}});
  append({{"a", "2", t + 4}, {"d", "4", t + 5}});
  roll_past();
  const Offset end = active_base();
  compact();

  const LogState s = state();
  EXPECT_EQ(s.committed, expected_after(written_, end));
  auto batch = batch_holding(with_tombstone.base_offset + 1);
  ASSERT_TRUE(batch.has_value());
  EXPECT_TRUE(batch->header.has_delete_horizon());
  EXPECT_EQ(batch->header.base_timestamp, clock_.now() + kRetentionMs);
  EXPECT_EQ(batch->header.max_timestamp, t + 3);
  EXPECT_EQ(batch->header.last_offset(), with_tombstone.last_offset);
  ASSERT_EQ(batch->records.size(), 2u);
  EXPECT_EQ(batch->records[0].timestamp, t + 2);
  EXPECT_EQ(batch->records[1].timestamp, t + 3);
  EXPECT_EQ(batch->header.compression() == Compression::kNone,
            GetParam() == TopicCompression::kNone);
  open();
  EXPECT_EQ(state(), s);
}

INSTANTIATE_TEST_SUITE_P(Codecs, CompactionCodecTest,
                         ::testing::Values(TopicCompression::kNone, TopicCompression::kLz4,
                                           TopicCompression::kZstd),
                         [](const auto& info) {
                           switch (info.param) {
                             case TopicCompression::kLz4:
                               return std::string("lz4");
                             case TopicCompression::kZstd:
                               return std::string("zstd");
                             default:
                               return std::string("none");
                           }
                         });

// --- interrupted compaction ---

// The files of one pass that rewrote a single group [base, end), as a crash might leave them.
struct GroupFiles {
  std::string dir;            // the partition directory
  std::vector<Offset> bases;  // segments before the pass; the last one is not in the group
  Bytes compacted;            // the new `<base>.log`

  Offset base() const { return bases.front(); }
  Offset end() const { return bases.back(); }
  std::string file(Offset b, std::string_view suffix) const {
    return dir + "/" + files::segment_name(b, suffix);
  }
  void write_cleaned(size_t bytes) const {
    write_bytes(file(base(), files::kCleanedSuffix), ByteView(compacted).substr(0, bytes));
  }
  void write_swap() const {
    write_bytes(dir + "/" + files::segment_name(base(), "") + "." + files::segment_name(end(), "") +
                    std::string(files::kSwapSuffix),
                compacted);
  }
  void install_log() const { write_bytes(file(base(), files::kLogSuffix), compacted); }
  void remove_base_indexes() const {
    for (std::string_view suffix :
         {files::kIndexSuffix, files::kTimeIndexSuffix, files::kTxnIndexSuffix}) {
      std::filesystem::remove(file(base(), suffix));
    }
  }
  // Removes every file of every `every`-th segment of the group after its first.
  void remove_old_segments(size_t every) const {
    for (size_t i = 1; i + 1 < bases.size(); i += every) {
      for (std::string_view suffix :
           {files::kLogSuffix, files::kIndexSuffix, files::kTimeIndexSuffix, files::kTxnIndexSuffix,
            files::kSnapshotSuffix}) {
        std::filesystem::remove(file(bases[i], suffix));
      }
    }
  }
};

class CompactionCrashTest : public CompactionTest {
 protected:
  // A log whose sealed segments one pass rewrites as a single group: written with small
  // segments, then segment.bytes raised. It has overwritten keys, tombstones, committed and
  // aborted transactions, and everything is synced.
  void build() {
    TopicConfig config = compacted_config();
    config.flush_policy = FlushPolicy::kInterval;  // rolls sync the sealed segments
    create(config);
    auto p = producer("crash");
    for (int i = 0; i < 18; ++i) {
      const std::string key = "k" + std::to_string(i % 5);
      if (i % 6 == 2) {
        ASSERT_TRUE(p->begin_transaction().ok());
        auto r = produce(*p, {{key, padded("txn" + std::to_string(i), 80)}});
        ASSERT_TRUE(p->commit_transaction().ok());
        committed(r);
      } else if (i % 6 == 4) {
        ASSERT_TRUE(p->begin_transaction().ok());
        produce(*p, {{key, "aborted"}});
        ASSERT_TRUE(p->abort_transaction().ok());
      } else if (i % 6 == 5) {
        append({{key, std::nullopt}});
      } else {
        append({{key, padded(std::to_string(i), 150)}, {"u" + std::to_string(i), "x"}});
      }
    }
    roll_past();
    Status s = store_->alter_topic(kTp.topic, {{"segment.bytes", std::to_string(1 << 20)}});
    ASSERT_TRUE(s.ok()) << s.to_string();
    ASSERT_TRUE(store_->flush().ok());
  }

  // Compacts a copy of the data directory (the store stays open): the log before and after
  // the pass, and the files that pass writes.
  void make_reference() {
    const std::string copy = ref_dir_ / "data";
    copy_tree(data_dir_, copy);
    const std::string original = data_dir_;
    std::unique_ptr<LogStore> keep = std::move(store_);
    open(copy);
    before_ = state();
    group_.bases = segment_bases();
    ASSERT_GT(group_.bases.size(), 4u);
    compact();
    after_ = state();
    ASSERT_EQ(segment_bases().size(), 2u) << "the pass should rewrite one group";
    ASSERT_NE(before_, after_);
    group_.compacted =
        read_bytes(partition_dir() + "/" + files::segment_name(group_.base(), files::kLogSuffix));
    store_.reset();
    store_ = std::move(keep);
    data_dir_ = original;
    group_.dir = partition_dir();
  }

  // Opens the crashed directory and checks recovery got `expected`, left no compaction files
  // behind, and that a new pass then reaches the compacted state.
  void check_recovery(const std::string& dir, const LogState& expected) {
    open(dir);
    EXPECT_EQ(state(), expected);
    EXPECT_TRUE(files_ending(files::kCleanedSuffix).empty());
    EXPECT_TRUE(files_ending(files::kSwapSuffix).empty());
    compact();
    EXPECT_EQ(state(), after_);
    store_.reset();
  }

  testing::TempDir ref_dir_;
  LogState before_, after_;
  GroupFiles group_;
};

// The files a crash leaves, made by hand in the closed log directory.
struct CrashState {
  const char* name;
  bool committed;  // the swap file was committed: recovery must finish the compaction
  std::function<void(const GroupFiles&)> make;
};

void PrintTo(const CrashState& s, std::ostream* os) { *os << s.name; }

class CompactionCrashStateTest : public CompactionCrashTest,
                                 public ::testing::WithParamInterface<CrashState> {};

TEST_P(CompactionCrashStateTest, RecoveryEndsWithTheGroupWhollyCompactedOrUntouched) {
  build();
  ASSERT_FALSE(HasFatalFailure());
  make_reference();
  ASSERT_FALSE(HasFatalFailure());
  store_.reset();
  GetParam().make(group_);
  check_recovery(dir_.path(), GetParam().committed ? after_ : before_);
}

INSTANTIATE_TEST_SUITE_P(
    SwapProtocol, CompactionCrashStateTest,
    ::testing::Values(CrashState{"StrayCleanedFile", false,
                                 [](const GroupFiles& g) { g.write_cleaned(g.compacted.size()); }},
                      CrashState{
                          "TornCleanedFile", false,
                          [](const GroupFiles& g) { g.write_cleaned(g.compacted.size() / 2); }},
                      CrashState{"SwapCommittedWithAllOldFiles", true,
                                 [](const GroupFiles& g) { g.write_swap(); }},
                      CrashState{"SwapCommittedBaseIndexesDeleted", true,
                                 [](const GroupFiles& g) {
                                   g.write_swap();
                                   g.remove_base_indexes();
                                 }},
                      CrashState{"SwapCommittedSomeOldSegmentsDeleted", true,
                                 [](const GroupFiles& g) {
                                   g.write_swap();
                                   g.remove_base_indexes();
                                   g.remove_old_segments(2);
                                 }},
                      CrashState{"SwapCommittedAllOldSegmentsDeleted", true,
                                 [](const GroupFiles& g) {
                                   g.write_swap();
                                   g.remove_base_indexes();
                                   g.remove_old_segments(1);
                                 }},
                      CrashState{"SwapRenamedBeforeTheNewIndexesWereWritten", true,
                                 [](const GroupFiles& g) {
                                   g.remove_base_indexes();
                                   g.remove_old_segments(1);
                                   g.install_log();
                                 }}),
    [](const auto& info) { return std::string(info.param.name); });

constexpr const char* kSwapSteps[] = {
    "Compaction::AfterCleanedWritten", "Compaction::AfterSwapCommitted",
    "Compaction::AfterOldFileDeleted", "Compaction::AfterSwapRenamed",
    "Compaction::AfterSwapFinished",   "Compaction::AfterGroupInstalled",
};

// A process crash at each step: the directory is copied as it is at that moment.
TEST_F(CompactionCrashTest, AProcessCrashAtAnyStepOfTheSwapRecoversToBeforeOrAfterTheGroup) {
  build();
  ASSERT_FALSE(HasFatalFailure());
  const LogState before = state();
  testing::TempDir copies;
  std::vector<std::pair<std::string, std::string>> crashes;  // step, copy of the data dir
  for (const char* step : kSwapSteps) {
    sync_point::set_callback(step, [&, step] {
      std::string to = copies / ("crash" + std::to_string(crashes.size()));
      copy_tree(data_dir_, to);
      crashes.emplace_back(step, to);
    });
  }
  compact();
  sync_point::clear_all();
  after_ = state();
  ASSERT_NE(before, after_);
  ASSERT_EQ(segment_bases().size(), 2u) << "the pass should rewrite one group";
  ASSERT_GT(crashes.size(), std::size(kSwapSteps));  // several old files deleted one by one

  store_.reset();
  for (const auto& [step, copy] : crashes) {
    SCOPED_TRACE("crash after " + step);
    const bool committed = step != std::string("Compaction::AfterCleanedWritten");
    check_recovery(copy, committed ? after_ : before);
  }
}

// A power cut at a step: whatever was not synced is lost, and a rename whose directory was not
// synced yet is undone.
class CompactionPowerCutTest : public CompactionCrashTest,
                               public ::testing::WithParamInterface<const char*> {};

TEST_P(CompactionPowerCutTest, RecoversToBeforeOrAfterTheGroup) {
  testing::FaultInjectionFileSystem fault;
  open(dir_.path(), &fault);
  build();
  ASSERT_FALSE(HasFatalFailure());
  make_reference();
  ASSERT_FALSE(HasFatalFailure());
  std::atomic<bool> cut{false};
  sync_point::set_callback(GetParam(), [&] {
    if (!cut.exchange(true)) fault.power_cut();
  });
  EXPECT_FALSE(store_->run_compaction(true).ok());
  sync_point::clear_all();
  ASSERT_TRUE(cut.load());
  store_.reset();
  Status s = fault.apply_power_cut();
  ASSERT_TRUE(s.ok()) << s.to_string();
  const bool committed = GetParam() != std::string("Compaction::AfterCleanedWritten");
  check_recovery(dir_.path(), committed ? after_ : before_);
}

INSTANTIATE_TEST_SUITE_P(
    SwapSteps, CompactionPowerCutTest,
    ::testing::Values("Compaction::AfterCleanedWritten", "Compaction::AfterSwapCommitted",
                      "Compaction::AfterOldFileDeleted", "Compaction::AfterSwapRenamed",
                      "Compaction::AfterSwapFinished", "Compaction::AfterGroupInstalled"),
    [](const auto& info) { return std::string(info.param).substr(std::strlen("Compaction::")); });

}  // namespace
}  // namespace sluice::logstore

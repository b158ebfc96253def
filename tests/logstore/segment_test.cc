// Segments: rolling by size and age, offset and time lookups across segments, the sparse
// indexes (in memory, persisted and mapped), and rebuilding derived files that are missing or
// damaged.
#include "segment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "log_files.h"
#include "producer_state.h"
#include "sluice/base/file_system.h"
#include "store_test_fixture.h"

namespace sluice::logstore {
namespace {

using testing::file_size;
using testing::flip_byte;
using testing::parse_batches;
using testing::read_all;
using testing::read_bytes;
using testing::RecordSet;
using testing::segment_bases;
using testing::segment_file;
using testing::truncate_file;

constexpr Timestamp kT0(1'700'000'000'000);

// `n` records "k<i>" -> a value of `value_bytes` bytes, all with timestamp `ts`.
RecordSet sized(int first, int n, size_t value_bytes, Timestamp ts = kNoTimestamp) {
  RecordSet set;
  for (int i = first; i < first + n; ++i) {
    set.add("k" + std::to_string(i), std::string(value_bytes, static_cast<char>('a' + i % 26)), ts);
  }
  return set;
}

// One stored batch: its offsets and its exact bytes.
struct ExpectedBatch {
  Offset base;
  Offset last;
  Bytes bytes;
};

class SegmentTest : public testing::StoreTest {
 protected:
  void SetUp() override {
    options_.offsets_topic_partitions = 1;  // fewer partitions to open and recover
    testing::StoreTest::SetUp();
  }

  void reopen() {
    close();
    ASSERT_NO_FATAL_FAILURE(open());
  }

  std::string dir() const { return testing::partition_dir(dir_.path(), tp_); }
  std::vector<Offset> bases() const { return segment_bases(dir()); }
  std::string file(Offset base, std::string_view suffix) const {
    return segment_file(dir(), base, suffix);
  }

  // Every batch of the partition, from its segment files.
  std::vector<ExpectedBatch> stored_batches() const {
    std::vector<ExpectedBatch> out;
    for (Offset base : bases()) {
      Bytes log = read_bytes(file(base, files::kLogSuffix));
      for (const auto& b : parse_batches(log)) {
        out.push_back({b.header.base_offset, b.header.last_offset(),
                       log.substr(b.position, b.header.size_bytes())});
      }
    }
    return out;
  }

  // Fetches every offset of every batch, one batch at a time, and checks that the first batch
  // returned is exactly the stored batch containing it.
  void expect_every_offset_fetches_its_batch(const std::vector<ExpectedBatch>& batches) {
    for (const ExpectedBatch& b : batches) {
      for (Offset o = b.base; o <= b.last; ++o) {
        auto r = store_->fetch({.partition = tp_,
                                .offset = o,
                                .max_bytes = 1,
                                .isolation = IsolationLevel::kReadUncommitted});
        ASSERT_TRUE(r.ok()) << "offset " << o << ": " << r.status().to_string();
        auto view = RecordBatchView::parse(r->batches);
        ASSERT_TRUE(view.ok()) << "offset " << o << ": " << view.status().to_string();
        EXPECT_EQ(view->header().base_offset, b.base) << "offset " << o;
        EXPECT_TRUE(view->bytes() == b.bytes) << "offset " << o << ": batch bytes differ";
        EXPECT_EQ(r->next_offset, b.last.next()) << "offset " << o;
      }
    }
  }

  // Index entries (offset, position) of a sealed segment, read from its .index file.
  std::vector<std::pair<Offset, uint32_t>> index_entries(Offset base) const {
    Bytes index = read_bytes(file(base, files::kIndexSuffix));
    std::vector<std::pair<Offset, uint32_t>> out;
    size_t end = index.size() - files::kTrailerSize;
    for (size_t p = files::kIndexHeaderSize; p + files::kOffsetEntrySize <= end;
         p += files::kOffsetEntrySize) {
      out.emplace_back(base + load_be<uint32_t>(index.data() + p),
                       load_be<uint32_t>(index.data() + p + 4));
    }
    return out;
  }

  const TopicPartition tp_{"t", PartitionId(0)};
};

// --- rolling ---

TEST_F(SegmentTest, RollsBeforeABatchWouldPushTheSegmentPastSegmentBytes) {
  create("t", {.segment_bytes = 1024});
  for (int i = 0; i < 12; ++i) append(tp_, sized(i, 1, 300));
  std::vector<Offset> b = bases();
  ASSERT_GE(b.size(), 4u);
  EXPECT_EQ(b.front(), Offset(0));
  std::vector<ExpectedBatch> batches = stored_batches();
  ASSERT_EQ(batches.size(), 12u);
  for (size_t i = 0; i + 1 < b.size(); ++i) {
    uint64_t size = file_size(file(b[i], files::kLogSuffix));
    EXPECT_LE(size, 1024u) << "segment " << b[i];
    // It was rolled only because the next batch did not fit.
    size_t next_batch = batches[static_cast<size_t>(b[i + 1].value())].bytes.size();
    EXPECT_GT(size + next_batch, 1024u) << "segment " << b[i] << " rolled early";
    // Sealing wrote its derived files.
    EXPECT_TRUE(std::filesystem::exists(file(b[i], files::kIndexSuffix)));
    EXPECT_TRUE(std::filesystem::exists(file(b[i], files::kTimeIndexSuffix)));
    EXPECT_TRUE(std::filesystem::exists(file(b[i], files::kTxnIndexSuffix)));
    // The producer state as of the next segment's start.
    EXPECT_TRUE(std::filesystem::exists(file(b[i + 1], files::kSnapshotSuffix)));
  }
  auto records = read_all(*store_, tp_);
  ASSERT_TRUE(records.ok()) << records.status().to_string();
  EXPECT_EQ(records->size(), 12u);
}

TEST_F(SegmentTest, BatchLargerThanSegmentBytesGetsASegmentOfItsOwn) {
  create("t", {.segment_bytes = 1024});
  append(tp_, sized(0, 1, 10));
  append(tp_, sized(1, 1, 3000));
  append(tp_, sized(2, 1, 10));
  EXPECT_EQ(bases(), (std::vector<Offset>{Offset(0), Offset(1), Offset(2)}));
  for (Offset base : bases()) EXPECT_GT(file_size(file(base, files::kLogSuffix)), 0u);
  auto records = read_all(*store_, tp_);
  ASSERT_TRUE(records.ok()) << records.status().to_string();
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[1].value->size(), 3000u);
}

TEST_F(SegmentTest, RollsWhenTheActiveSegmentReachesSegmentMs) {
  create("t", {.segment_ms = 60'000});
  append(tp_, sized(0, 1, 10));
  clock_.advance_ms(59'999);
  append(tp_, sized(1, 1, 10));
  EXPECT_EQ(bases(), std::vector<Offset>{Offset(0)});
  clock_.advance_ms(1);
  append(tp_, sized(2, 1, 10));
  EXPECT_EQ(bases(), (std::vector<Offset>{Offset(0), Offset(2)}));
  EXPECT_TRUE(std::filesystem::exists(file(Offset(0), files::kIndexSuffix)));
  clock_.advance_ms(30'000);
  append(tp_, sized(3, 1, 10));
  EXPECT_EQ(bases(), (std::vector<Offset>{Offset(0), Offset(2)}));
  clock_.advance_ms(30'000);
  append(tp_, sized(4, 1, 10));
  EXPECT_EQ(bases(), (std::vector<Offset>{Offset(0), Offset(2), Offset(4)}));
  auto records = read_all(*store_, tp_);
  ASSERT_TRUE(records.ok()) << records.status().to_string();
  EXPECT_EQ(records->size(), 5u);
}

TEST_F(SegmentTest, AgeForRollingIsMeasuredInTheRecordsTimeNotTheWallClock) {
  // Records from long ago (a replayed history, event times in tests): the wall clock is years
  // past them, yet they span only 40 s, so they share one segment (as in Kafka).
  create("t", {.segment_ms = 60'000});
  for (int i = 0; i < 5; ++i) append(tp_, sized(i, 1, 10, Timestamp(1'000 + i * 10'000)));
  EXPECT_EQ(bases(), std::vector<Offset>{Offset(0)});
  // Once their own time passes segment.ms, the segment rolls.
  append(tp_, sized(5, 1, 10, Timestamp(61'000)));
  EXPECT_EQ(bases(), (std::vector<Offset>{Offset(0), Offset(5)}));
}

TEST_F(SegmentTest, EmptyActiveSegmentIsNotRolledByAge) {
  create("t", {.segment_ms = 60'000});
  clock_.advance_ms(10 * 60'000);
  append(tp_, sized(0, 1, 10));
  EXPECT_EQ(bases(), std::vector<Offset>{Offset(0)});
}

// segment.ms counts from the segment's first batch ("when its first batch is older than
// this", topic_config.h; Kafka rolls by its first batch's timestamp too). Today maybe_roll() in
// partition_append.cc counts from Segment::created_ms(), when the segment file was created or
// the store opened: a topic idle for longer than segment.ms rolls right after its next first
// batch, and a restart makes the active segment young again. Enable once maybe_roll() uses
// Segment::first_batch_timestamp() (see the report).
TEST_F(SegmentTest, AgeForRollingCountsFromTheSegmentsFirstBatch) {
  create("t", {.segment_ms = 60'000});
  clock_.advance_ms(10 * 60'000);  // idle, empty
  append(tp_, sized(0, 1, 10));
  clock_.advance_ms(1'000);
  append(tp_, sized(1, 1, 10));
  EXPECT_EQ(bases(), std::vector<Offset>{Offset(0)});
  // Age survives a restart: 40 s before it, 20 s after it make a minute.
  clock_.advance_ms(39'000);
  ASSERT_NO_FATAL_FAILURE(reopen());
  clock_.advance_ms(20'000);
  append(tp_, sized(2, 1, 10));
  EXPECT_EQ(bases(), (std::vector<Offset>{Offset(0), Offset(2)}));
}

class SegmentFileTest : public ::testing::Test {
 protected:
  // An encoded batch at `base` whose records carry `timestamps`, and its header.
  std::pair<Bytes, BatchHeader> batch(Offset base, std::initializer_list<int64_t> timestamps) {
    RecordSet set;
    for (int64_t ts : timestamps) set.add("k", "v", Timestamp(ts));
    Bytes bytes = testing::encode(set);
    set_base_offset(bytes.data(), base);
    auto h = parse_batch_header(bytes);
    EXPECT_TRUE(h.ok());
    return {bytes, *h};
  }

  testing::TempDir dir_;
  FileSystem& fs_ = FileSystem::posix();
};

TEST_F(SegmentFileTest, FirstBatchTimestampIsTheLargestTimestampOfTheFirstBatch) {
  auto seg = Segment::create(fs_, dir_.path(), Offset(10), 0);
  ASSERT_TRUE(seg.ok()) << seg.status().to_string();
  EXPECT_EQ((*seg)->first_batch_timestamp(), kNoTimestamp);
  auto [b0, h0] = batch(Offset(10), {500, 900, 700});
  auto [b1, h1] = batch(Offset(13), {5000});
  ASSERT_TRUE((*seg)->append(h0, b0, 4096).ok());
  EXPECT_EQ((*seg)->first_batch_timestamp(), Timestamp(900));
  ASSERT_TRUE((*seg)->append(h1, b1, 4096).ok());
  EXPECT_EQ((*seg)->first_batch_timestamp(), Timestamp(900));
  EXPECT_EQ((*seg)->max_timestamp(), Timestamp(5000));
  EXPECT_EQ((*seg)->next_offset(), Offset(14));

  // A recovery scan of the file finds the same; cutting everything forgets it.
  auto reopened = Segment::open(fs_, dir_.path(), Offset(10), 0);
  ASSERT_TRUE(reopened.ok());
  (*reopened)->note_batch(h0, 0, 4096);
  (*reopened)->note_batch(h1, b0.size(), 4096);
  EXPECT_EQ((*reopened)->first_batch_timestamp(), Timestamp(900));
  ASSERT_TRUE((*reopened)->truncate(0, Offset(10)).ok());
  EXPECT_EQ((*reopened)->first_batch_timestamp(), kNoTimestamp);
}

// --- offset lookups ---

TEST_F(SegmentTest, FetchFromEveryOffsetReturnsTheBatchContainingIt) {
  create("t", {.segment_bytes = 2048, .index_interval_bytes = 256});
  int next = 0;
  for (int i = 0; i < 60; ++i) {
    int n = 1 + i % 4;
    append(tp_, sized(next, n, 20 + (i * 37) % 90));
    next += n;
  }
  ASSERT_GE(bases().size(), 4u);
  std::vector<ExpectedBatch> batches = stored_batches();
  ASSERT_EQ(batches.size(), 60u);
  ASSERT_EQ(batches.back().last, Offset(next - 1));
  // The sealed segments' sparse indexes are in use.
  EXPECT_FALSE(index_entries(bases().front()).empty());

  expect_every_offset_fetches_its_batch(batches);
  // Again after a reopen, with the sealed segments' indexes mapped from their files and the
  // active segment's rebuilt by the recovery scan.
  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_TRUE(report_.rebuilt.empty());
  expect_every_offset_fetches_its_batch(batches);
}

TEST_F(SegmentTest, FetchAtTheFirstAndLastOffsetOfEachSegmentStaysInThatSegment) {
  create("t", {.segment_bytes = 1024, .index_interval_bytes = 128});
  for (int i = 0; i < 20; ++i) append(tp_, sized(3 * i, 3, 60));
  std::vector<Offset> b = bases();
  ASSERT_GE(b.size(), 3u);
  const Offset end = ends(tp_).high_watermark.offset();
  for (size_t i = 0; i < b.size(); ++i) {
    const Offset first = b[i];
    const Offset last = (i + 1 < b.size() ? b[i + 1] : end) - 1;
    for (Offset o : {first, last}) {
      auto r = store_->fetch({.partition = tp_, .offset = o, .max_bytes = 1 << 20});
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      auto batches = parse_batches(r->batches);
      ASSERT_FALSE(batches.empty()) << "offset " << o;
      EXPECT_LE(batches.front().header.base_offset, o);
      EXPECT_GE(batches.front().header.last_offset(), o);
      // One fetch never runs past the end of its segment.
      EXPECT_EQ(batches.back().header.next_offset(), last.next()) << "offset " << o;
      EXPECT_EQ(r->next_offset, last.next());
    }
  }
}

// --- the sparse index ---

TEST_F(SegmentTest, SparseIndexHoldsAboutOneEntryPerIndexIntervalBytes) {
  constexpr int32_t kInterval = 1000;
  create("t", {.segment_bytes = 8192, .index_interval_bytes = kInterval});
  for (int i = 0; i < 150; ++i) append(tp_, sized(i, 1, 40));
  std::vector<Offset> b = bases();
  ASSERT_GE(b.size(), 2u);
  std::vector<ExpectedBatch> batches = stored_batches();
  size_t max_batch = 0;
  for (const auto& e : batches) max_batch = std::max(max_batch, e.bytes.size());

  const Offset sealed = b.front();
  const uint64_t size = file_size(file(sealed, files::kLogSuffix));
  const size_t batches_in_segment = static_cast<size_t>(b[1] - sealed);
  auto entries = index_entries(sealed);
  ASSERT_FALSE(entries.empty());
  EXPECT_LT(entries.size(), batches_in_segment / 5) << "the index is not sparse";
  EXPECT_LE(entries.size(), size / kInterval);
  uint64_t previous = 0;
  for (const auto& [offset, position] : entries) {
    EXPECT_GE(position - previous, static_cast<uint64_t>(kInterval));
    EXPECT_LT(position - previous, kInterval + max_batch);
    previous = position;
  }
  // The same, loaded through SegmentIndex.
  SegmentFacts facts;
  auto loaded = SegmentIndex::load(FileSystem::posix(), dir(), sealed, size, facts);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ((*loaded)->offset_entries(), entries.size());
  EXPECT_EQ(facts.size, size);
  EXPECT_EQ(facts.next_offset, b[1]);

  // Lookups between the entries are still exact.
  expect_every_offset_fetches_its_batch(batches);
}

TEST_F(SegmentTest, IndexIntervalOfOneByteIndexesEveryBatchButTheFirst) {
  create("t", {.segment_bytes = 2048, .index_interval_bytes = 1});
  for (int i = 0; i < 30; ++i) append(tp_, sized(2 * i, 2, 30));
  std::vector<Offset> b = bases();
  ASSERT_GE(b.size(), 2u);
  Bytes log = read_bytes(file(b[0], files::kLogSuffix));
  auto in_file = parse_batches(log);
  auto entries = index_entries(b[0]);
  ASSERT_EQ(entries.size(), in_file.size() - 1);
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].first, in_file[i + 1].header.base_offset);
    EXPECT_EQ(entries[i].second, in_file[i + 1].position);
  }
  expect_every_offset_fetches_its_batch(stored_batches());
}

// --- SegmentIndex ---

class SegmentIndexTest : public ::testing::Test {
 protected:
  static constexpr Offset kBase{100};

  void fill(SegmentIndex& index) {
    index.append_offset({Offset(105), 500});
    index.append_offset({Offset(109), 900});
    index.append_offset({Offset(120), 2000});
    index.append_time({Timestamp(1000), Offset(105)});
    index.append_time({Timestamp(2000), Offset(109)});
    index.append_time({Timestamp(3000), Offset(120)});
  }

  static void expect_lookups(const SegmentIndex& index) {
    auto floor = [&](int64_t o) {
      auto e = index.floor(Offset(o));
      return std::make_pair(e.offset.value(), e.position);
    };
    using P = std::pair<int64_t, uint32_t>;
    EXPECT_EQ(floor(100), P(100, 0));
    EXPECT_EQ(floor(104), P(100, 0));
    EXPECT_EQ(floor(105), P(105, 500));
    EXPECT_EQ(floor(108), P(105, 500));
    EXPECT_EQ(floor(109), P(109, 900));
    EXPECT_EQ(floor(119), P(109, 900));
    EXPECT_EQ(floor(120), P(120, 2000));
    EXPECT_EQ(floor(129), P(120, 2000));
    EXPECT_EQ(index.offset_entries(), 3u);

    EXPECT_EQ(index.time_floor(Timestamp(0)), Offset(100));
    EXPECT_EQ(index.time_floor(Timestamp(1000)), Offset(100));  // entries < ts only
    EXPECT_EQ(index.time_floor(Timestamp(1001)), Offset(105));
    EXPECT_EQ(index.time_floor(Timestamp(2000)), Offset(105));
    EXPECT_EQ(index.time_floor(Timestamp(2001)), Offset(109));
    EXPECT_EQ(index.time_floor(Timestamp(3001)), Offset(120));
    EXPECT_EQ(index.time_floor(Timestamp(1'000'000)), Offset(120));
  }

  const SegmentFacts facts_{3000, Offset(130), Timestamp(3000)};
  testing::TempDir dir_;
  FileSystem& fs_ = FileSystem::posix();
};

TEST_F(SegmentIndexTest, EmptyIndexPointsEveryLookupAtTheSegmentStart) {
  SegmentIndex index(kBase);
  EXPECT_EQ(index.floor(Offset(150)).offset, kBase);
  EXPECT_EQ(index.floor(Offset(150)).position, 0u);
  EXPECT_EQ(index.time_floor(Timestamp(5000)), kBase);
  EXPECT_EQ(index.offset_entries(), 0u);
}

TEST_F(SegmentIndexTest, InMemoryFloorAndTimeFloorFindTheLastEntryBeforeTheTarget) {
  SegmentIndex index(kBase);
  fill(index);
  expect_lookups(index);
}

TEST_F(SegmentIndexTest, PersistedIndexAnswersTheSameFromItsMappedFiles) {
  SegmentIndex index(kBase);
  fill(index);
  Status s = index.persist(fs_, dir_.path(), facts_);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_TRUE(fs_.exists(dir_ / files::segment_name(kBase, files::kIndexSuffix)));
  EXPECT_TRUE(fs_.exists(dir_ / files::segment_name(kBase, files::kTimeIndexSuffix)));
  expect_lookups(index);

  SegmentFacts facts;
  auto loaded = SegmentIndex::load(fs_, dir_.path(), kBase, facts_.size, facts);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ(facts.size, facts_.size);
  EXPECT_EQ(facts.next_offset, facts_.next_offset);
  EXPECT_EQ(facts.max_timestamp, facts_.max_timestamp);
  expect_lookups(**loaded);
}

TEST_F(SegmentIndexTest, LoadRefusesAnIndexThatDescribesAnotherLogSize) {
  SegmentIndex index(kBase);
  fill(index);
  ASSERT_TRUE(index.persist(fs_, dir_.path(), facts_).ok());
  SegmentFacts facts;
  auto loaded = SegmentIndex::load(fs_, dir_.path(), kBase, facts_.size + 1, facts);
  EXPECT_EQ(loaded.status().code(), StatusCode::kCorruption);
}

TEST_F(SegmentIndexTest, LoadRefusesMissingTruncatedOrFlippedFiles) {
  SegmentIndex index(kBase);
  fill(index);
  ASSERT_TRUE(index.persist(fs_, dir_.path(), facts_).ok());
  for (std::string_view suffix : {files::kIndexSuffix, files::kTimeIndexSuffix}) {
    SCOPED_TRACE(std::string(suffix));
    const std::string path = dir_ / files::segment_name(kBase, suffix);
    const Bytes good = read_bytes(path);
    SegmentFacts facts;

    testing::flip_byte(path, 3, 0x10);
    EXPECT_EQ(SegmentIndex::load(fs_, dir_.path(), kBase, facts_.size, facts).status().code(),
              StatusCode::kCorruption);
    testing::write_bytes(path, good);
    truncate_file(path, good.size() - 5);
    EXPECT_EQ(SegmentIndex::load(fs_, dir_.path(), kBase, facts_.size, facts).status().code(),
              StatusCode::kCorruption);
    std::filesystem::remove(path);
    EXPECT_EQ(SegmentIndex::load(fs_, dir_.path(), kBase, facts_.size, facts).status().code(),
              StatusCode::kNotFound);
    testing::write_bytes(path, good);
    EXPECT_TRUE(SegmentIndex::load(fs_, dir_.path(), kBase, facts_.size, facts).ok());
  }
}

TEST_F(SegmentIndexTest, LoadRefusesAWellFormedTimeIndexWhoseEntriesLeaveTheSegment) {
  // Consistent files (good trailers) that cannot belong to this segment: a time entry at an
  // offset past the segment's end.
  SegmentIndex index(kBase);
  index.append_offset({Offset(105), 500});
  index.append_time({Timestamp(1000), Offset(105)});
  index.append_time({Timestamp(2000), Offset(140)});
  // persist() checks what it wrote: it must refuse too, rather than serve from it.
  Status s = index.persist(fs_, dir_.path(), facts_);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.to_string();
  SegmentFacts facts;
  EXPECT_EQ(SegmentIndex::load(fs_, dir_.path(), kBase, facts_.size, facts).status().code(),
            StatusCode::kCorruption);
}

// --- time lookups ---

// Timestamps that go back and forth: i -> kT0 + a permutation of steps, with repeats.
Timestamp wobbly(int i) { return kT0 + ((i * 7919) % 53) * 1000; }

class SegmentTimeLookupTest : public SegmentTest {
 protected:
  // Appends `batches` batches of 1..3 records each with its own, non-monotonic timestamp.
  void write(int batches, int32_t index_interval) {
    create("t", {.segment_bytes = 1024, .index_interval_bytes = index_interval});
    int next = 0;
    for (int i = 0; i < batches; ++i) {
      RecordSet set;
      int n = 1 + i % 3;
      for (int j = 0; j < n; ++j, ++next) {
        set.add("k" + std::to_string(next), std::string(40, 'v'), wobbly(next));
      }
      append(tp_, set);
    }
  }

  // The first offset whose record has a timestamp >= ts, by brute force.
  std::optional<Offset> expected(const std::vector<testing::ReadRecord>& all, Timestamp ts) {
    for (const auto& r : all) {
      if (r.timestamp >= ts) return r.offset;
    }
    return std::nullopt;
  }

  void expect_all_lookups() {
    auto all = read_all(*store_, tp_, IsolationLevel::kReadUncommitted);
    ASSERT_TRUE(all.ok()) << all.status().to_string();
    ASSERT_FALSE(all->empty());
    std::set<Timestamp> queries = {Timestamp(0), kT0 - 1};
    for (const auto& r : *all) {
      queries.insert(r.timestamp - 1);
      queries.insert(r.timestamp);
      queries.insert(r.timestamp + 1);
    }
    for (Timestamp ts : queries) {
      auto got = store_->offset_for_timestamp(tp_, ts);
      ASSERT_TRUE(got.ok()) << got.status().to_string();
      EXPECT_EQ(*got, expected(*all, ts)) << "timestamp " << ts;
    }
  }
};

TEST_F(SegmentTimeLookupTest, FindsTheFirstRecordAtOrAfterATimestampAcrossSegments) {
  write(60, 128);
  ASSERT_GE(bases().size(), 4u);
  expect_all_lookups();
  ASSERT_NO_FATAL_FAILURE(reopen());
  expect_all_lookups();
}

TEST_F(SegmentTimeLookupTest, FindsTheSameWithADenseIndexAndWithNoIndexEntries) {
  write(40, 1);
  expect_all_lookups();
  // A new topic whose segments are too small for any index entry.
  TopicPartition other{"u", PartitionId(0)};
  create("u", {.segment_bytes = 1024, .index_interval_bytes = 1 << 20});
  for (int i = 0; i < 30; ++i) {
    RecordSet set;
    set.add("k", "v", wobbly(i));
    append(other, set);
  }
  auto all = read_all(*store_, other, IsolationLevel::kReadUncommitted);
  ASSERT_TRUE(all.ok());
  for (int i = -1; i < 55; ++i) {
    Timestamp ts = kT0 + i * 1000;
    auto got = store_->offset_for_timestamp(other, ts);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, expected(*all, ts)) << "timestamp " << ts;
  }
}

TEST_F(SegmentTimeLookupTest, BeforeEverythingIsTheFirstOffsetAndAfterEverythingIsNone) {
  write(30, 128);
  Timestamp max_ts = kNoTimestamp;
  for (int i = 0; i < 60; ++i) max_ts = std::max(max_ts, wobbly(i));
  auto first = store_->offset_for_timestamp(tp_, Timestamp(0));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, Offset(0));
  auto none = store_->offset_for_timestamp(tp_, max_ts + 1);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, std::nullopt);
  // The newest timestamp is found where it was written, even in a sealed segment.
  auto newest = store_->offset_for_timestamp(tp_, max_ts);
  ASSERT_TRUE(newest.ok());
  ASSERT_TRUE(newest->has_value());
  auto all = read_all(*store_, tp_, IsolationLevel::kReadUncommitted);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)[static_cast<size_t>((*newest)->value())].timestamp, max_ts);
}

TEST_F(SegmentTimeLookupTest, LogAppendTimeTopicsAreLookedUpByAppendTime) {
  create("t", {.segment_bytes = 1024,
               .index_interval_bytes = 128,
               .timestamp_type = TimestampType::kLogAppendTime});
  std::vector<Timestamp> appended;
  for (int i = 0; i < 30; ++i) {
    clock_.advance_ms(1000);
    // Create times far in the past and out of order: the log's own clock is what counts.
    auto r = append(tp_, sized(2 * i, 2, 40, Timestamp(5'000 - i)));
    EXPECT_EQ(r.log_append_time, clock_.now());
    appended.push_back(clock_.now());
  }
  ASSERT_GE(bases().size(), 3u);
  auto check = [&] {
    for (int i = 0; i < 30; ++i) {
      for (Timestamp ts : {appended[i] - 1, appended[i]}) {
        auto got = store_->offset_for_timestamp(tp_, ts);
        ASSERT_TRUE(got.ok()) << got.status().to_string();
        EXPECT_EQ(*got, Offset(2 * i)) << "timestamp " << ts;
      }
    }
    auto none = store_->offset_for_timestamp(tp_, appended.back() + 1);
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(*none, std::nullopt);
  };
  check();
  ASSERT_NO_FATAL_FAILURE(reopen());
  check();
}

TEST_F(SegmentTimeLookupTest, EmptyPartitionHasNoOffsetForAnyTimestamp) {
  create("t");
  auto got = store_->offset_for_timestamp(tp_, Timestamp(0));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, std::nullopt);
}

// --- derived files rebuilt ---

enum class DerivedFile { kIndex, kTimeIndex, kTxnIndex };
enum class Damage { kDelete, kTruncate, kFlipByte };
enum class WhichSegment { kFirstSealed, kLastSealed };

struct RebuildCase {
  DerivedFile file;
  Damage damage;
  WhichSegment segment;
};

std::string_view suffix_of(DerivedFile f) {
  switch (f) {
    case DerivedFile::kIndex:
      return files::kIndexSuffix;
    case DerivedFile::kTimeIndex:
      return files::kTimeIndexSuffix;
    case DerivedFile::kTxnIndex:
      return files::kTxnIndexSuffix;
  }
  return "";
}

std::string case_name(const ::testing::TestParamInfo<RebuildCase>& info) {
  const RebuildCase& c = info.param;
  std::string name = c.file == DerivedFile::kIndex       ? "Index"
                     : c.file == DerivedFile::kTimeIndex ? "TimeIndex"
                                                         : "TxnIndex";
  name += c.damage == Damage::kDelete     ? "Deleted"
          : c.damage == Damage::kTruncate ? "Truncated"
                                          : "Flipped";
  name += c.segment == WhichSegment::kFirstSealed ? "InFirstSealed" : "InLastSealed";
  return name;
}

// A partition of several segments holding plain batches, aborted and committed transactions
// and non-monotonic timestamps, and the answers its reads and lookups give.
class SegmentRebuildTest : public SegmentTimeLookupTest,
                           public ::testing::WithParamInterface<RebuildCase> {
 protected:
  void write_mixed() {
    create("t", {.segment_bytes = 1024, .index_interval_bytes = 200});
    auto made = store_->create_producer({.transactional_id = "tx"});
    ASSERT_TRUE(made.ok()) << made.status().to_string();
    std::unique_ptr<Producer> producer = std::move(made).value();
    int next = 0;
    for (int i = 0; i < 40; ++i) {
      RecordSet set;
      int n = 1 + i % 3;
      for (int j = 0; j < n; ++j, ++next) {
        set.add("k" + std::to_string(next), std::string(30, 'v'), wobbly(next));
      }
      if (i % 8 == 1 || i % 8 == 5) {
        ASSERT_TRUE(producer->begin_transaction().ok());
        auto r = producer->append(tp_, set.records());
        ASSERT_TRUE(r.ok()) << r.status().to_string();
        Status end = i % 8 == 1 ? producer->abort_transaction() : producer->commit_transaction();
        ASSERT_TRUE(end.ok()) << end.to_string();
      } else {
        append(tp_, set);
      }
    }
  }

  struct Answers {
    std::vector<ExpectedBatch> batches;
    std::vector<testing::ReadRecord> committed;
    std::vector<testing::ReadRecord> uncommitted;
  };

  Answers answers() {
    Answers a;
    a.batches = stored_batches();
    auto committed = read_all(*store_, tp_, IsolationLevel::kReadCommitted);
    auto uncommitted = read_all(*store_, tp_, IsolationLevel::kReadUncommitted);
    EXPECT_TRUE(committed.ok() && uncommitted.ok());
    if (committed.ok()) a.committed = *committed;
    if (uncommitted.ok()) a.uncommitted = *uncommitted;
    return a;
  }
};

TEST_P(SegmentRebuildTest, DamagedDerivedFileOfASealedSegmentIsRebuiltAndReadsStayExact) {
  const RebuildCase c = GetParam();
  ASSERT_NO_FATAL_FAILURE(write_mixed());
  close();
  ASSERT_NO_FATAL_FAILURE(open());
  std::vector<Offset> b = bases();
  ASSERT_GE(b.size(), 4u);
  const Answers before = answers();
  // Aborted data exists and read-committed readers skip it.
  ASSERT_LT(before.committed.size(), before.uncommitted.size());
  close();

  const Offset target = c.segment == WhichSegment::kFirstSealed ? b.front() : b[b.size() - 2];
  const std::string path = file(target, suffix_of(c.file));
  const Bytes original = read_bytes(path);
  switch (c.damage) {
    case Damage::kDelete:
      std::filesystem::remove(path);
      break;
    case Damage::kTruncate:
      truncate_file(path, original.size() / 2);
      break;
    case Damage::kFlipByte:
      flip_byte(path, original.size() / 3, 0x04);
      break;
  }

  ASSERT_NO_FATAL_FAILURE(open());
  EXPECT_NE(std::find(report_.rebuilt.begin(), report_.rebuilt.end(), path), report_.rebuilt.end())
      << "OpenReport.rebuilt does not name " << path;
  EXPECT_TRUE(report_.truncated.empty());
  EXPECT_TRUE(report_.corrupt.empty());
  // Rebuilt from the log: the same bytes as the file written when the segment was sealed.
  ASSERT_TRUE(std::filesystem::exists(path));
  EXPECT_TRUE(read_bytes(path) == original) << path << " was rebuilt differently";
  EXPECT_EQ(bases(), b);

  const Answers after = answers();
  EXPECT_EQ(after.committed, before.committed);
  EXPECT_EQ(after.uncommitted, before.uncommitted);
  expect_every_offset_fetches_its_batch(before.batches);
  expect_all_lookups();

  // A second open trusts the rebuilt files.
  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_TRUE(report_.rebuilt.empty());
  EXPECT_EQ(answers().committed, before.committed);
}

std::vector<RebuildCase> all_rebuild_cases() {
  std::vector<RebuildCase> out;
  for (auto f : {DerivedFile::kIndex, DerivedFile::kTimeIndex, DerivedFile::kTxnIndex}) {
    for (auto d : {Damage::kDelete, Damage::kTruncate, Damage::kFlipByte}) {
      for (auto s : {WhichSegment::kFirstSealed, WhichSegment::kLastSealed}) {
        out.push_back({f, d, s});
      }
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(SegmentFiles, SegmentRebuildTest, ::testing::ValuesIn(all_rebuild_cases()),
                         case_name);

// --- producer snapshots ---

class SegmentSnapshotTest : public SegmentTest {
 protected:
  // An idempotent producer's batches over several segments; returns the encoded batches.
  std::vector<Bytes> write_idempotent(ProducerIdentity id, int batches) {
    std::vector<Bytes> sent;
    for (int i = 0; i < batches; ++i) {
      Bytes batch = testing::encode(
          sized(i, 1, 300, kT0 + i),
          {.producer_id = id.id, .producer_epoch = id.epoch, .base_sequence = Sequence(i)});
      Bytes copy = batch;
      auto r = store_->append_batch(tp_, copy);
      EXPECT_TRUE(r.ok()) << r.status().to_string();
      EXPECT_EQ(r.ok() ? r->base_offset : Offset(-1), Offset(i));
      sent.push_back(std::move(batch));
    }
    return sent;
  }

  void check_snapshot_rebuilt(Damage damage) {
    create("t", {.segment_bytes = 1024});
    auto id = store_->init_producer_id("", 60'000);
    ASSERT_TRUE(id.ok()) << id.status().to_string();
    std::vector<Bytes> sent = write_idempotent(*id, 12);
    close();
    std::vector<Offset> b = bases();
    ASSERT_GE(b.size(), 3u);
    const std::string snapshot = file(b.back(), files::kSnapshotSuffix);
    ASSERT_TRUE(std::filesystem::exists(snapshot));
    if (damage == Damage::kFlipByte) {
      flip_byte(snapshot, file_size(snapshot) / 2);
    } else {
      truncate_file(snapshot, file_size(snapshot) - 3);
    }

    ASSERT_NO_FATAL_FAILURE(open());
    EXPECT_NE(std::find(report_.rebuilt.begin(), report_.rebuilt.end(), snapshot),
              report_.rebuilt.end())
        << "OpenReport.rebuilt does not name " << snapshot;
    // Rewritten from the replay, so the next open can use it again.
    EXPECT_TRUE(ProducerState::from_snapshot(read_bytes(snapshot)).ok());

    // The producer's state came back from replaying the log: a retry of its last batch is
    // recognised as a duplicate, a gap in its sequences is refused, the next batch goes on.
    Bytes retry = sent.back();
    auto dup = store_->append_batch(tp_, retry);
    ASSERT_TRUE(dup.ok()) << dup.status().to_string();
    EXPECT_TRUE(dup->duplicate);
    EXPECT_EQ(dup->base_offset, Offset(11));
    Bytes gap = testing::encode(
        sized(20, 1, 10),
        {.producer_id = id->id, .producer_epoch = id->epoch, .base_sequence = Sequence(14)});
    EXPECT_EQ(store_->append_batch(tp_, gap).status().code(), StatusCode::kOutOfOrderSequence);
    Bytes next = testing::encode(
        sized(12, 1, 10),
        {.producer_id = id->id, .producer_epoch = id->epoch, .base_sequence = Sequence(12)});
    auto appended = store_->append_batch(tp_, next);
    ASSERT_TRUE(appended.ok()) << appended.status().to_string();
    EXPECT_FALSE(appended->duplicate);
    EXPECT_EQ(appended->base_offset, Offset(12));

    ASSERT_NO_FATAL_FAILURE(reopen());
    EXPECT_TRUE(report_.rebuilt.empty());
  }
};

TEST_F(SegmentSnapshotTest, CorruptProducerSnapshotIsRebuiltByReplay) {
  check_snapshot_rebuilt(Damage::kFlipByte);
}

TEST_F(SegmentSnapshotTest, TruncatedProducerSnapshotIsRebuiltByReplay) {
  check_snapshot_rebuilt(Damage::kTruncate);
}

}  // namespace
}  // namespace sluice::logstore

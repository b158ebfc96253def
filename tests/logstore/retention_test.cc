// Retention: whole sealed segments deleted by age and by size, the log start moving with them,
// delete_records(), and compacted topics that time does not delete.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "log_files.h"
#include "store_test_fixture.h"

namespace sluice::logstore {
namespace {

using testing::file_size;
using testing::read_all;
using testing::RecordSet;
using testing::segment_bases;
using testing::segment_file;

constexpr int64_t kHour = 3'600'000;

// One record "k<i>" with a value large enough that two such batches fill a 1 KiB segment.
RecordSet big(int i, Timestamp ts = kNoTimestamp) {
  RecordSet set;
  set.add("k" + std::to_string(i), std::string(330, static_cast<char>('a' + i % 26)), ts);
  return set;
}

class RetentionTest : public testing::StoreTest {
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
  static std::vector<Offset> offsets(std::initializer_list<int64_t> values) {
    std::vector<Offset> out;
    for (int64_t v : values) out.push_back(Offset(v));
    return out;
  }

  // Appends batches first..last-1, one record each; with 1 KiB segments they pair up:
  // segments start at even offsets.
  void write(int first, int last) {
    for (int i = first; i < last; ++i) {
      auto r = append(tp_, big(i));
      EXPECT_EQ(r.base_offset, Offset(i));
    }
  }

  void retention() { SLUICE_ASSERT_OK(store_->run_retention()); }

  // No file of the segment at `base` is left.
  void expect_segment_gone(Offset base) {
    for (std::string_view suffix : {files::kLogSuffix, files::kIndexSuffix, files::kTimeIndexSuffix,
                                    files::kTxnIndexSuffix, files::kSnapshotSuffix}) {
      EXPECT_FALSE(std::filesystem::exists(segment_file(dir(), base, suffix)))
          << segment_file(dir(), base, suffix);
    }
  }

  // A fetch below the log start fails with kOutOfRange, and the message names the log start.
  void expect_below_log_start(Offset offset, Offset log_start) {
    auto r = store_->fetch({.partition = tp_, .offset = offset});
    ASSERT_FALSE(r.ok()) << "offset " << offset << " is still readable";
    EXPECT_TRUE(testing::is_error(r.status(), StatusCode::kOutOfRange, {"log start", "t/0"}));
    EXPECT_TRUE(testing::mentions_number(r.status().message(), log_start.value()))
        << r.status().message();
  }

  std::vector<Offset> record_offsets(Offset from) {
    auto records = read_all(*store_, tp_, IsolationLevel::kReadCommitted, from);
    EXPECT_TRUE(records.ok()) << records.status().to_string();
    std::vector<Offset> out;
    if (records.ok()) {
      for (const auto& r : *records) out.push_back(r.offset);
    }
    return out;
  }

  const TopicPartition tp_{"t", PartitionId(0)};
};

// --- by time ---

TEST_F(RetentionTest, TimeRetentionDeletesSealedSegmentsWhoseNewestRecordIsOlderThanRetentionMs) {
  create("t", {.segment_bytes = 1024, .retention_ms = kHour});
  write(0, 4);  // segments 0 and 2, written now
  clock_.advance_ms(kHour / 2);
  write(4, 8);  // segments 4 and 6 (active), half an hour later
  ASSERT_EQ(bases(), offsets({0, 2, 4, 6}));

  // Exactly retention.ms old is not older than retention.ms.
  clock_.advance_ms(kHour / 2);
  retention();
  EXPECT_EQ(bases(), offsets({0, 2, 4, 6}));
  EXPECT_EQ(ends(tp_).log_start, Offset(0));

  clock_.advance_ms(1);
  retention();
  EXPECT_EQ(bases(), offsets({4, 6}));
  expect_segment_gone(Offset(0));
  expect_segment_gone(Offset(2));
  EXPECT_EQ(ends(tp_).log_start, Offset(4));
  EXPECT_EQ(ends(tp_).high_watermark.offset(), Offset(8));
  expect_below_log_start(Offset(0), Offset(4));
  expect_below_log_start(Offset(3), Offset(4));
  EXPECT_EQ(record_offsets(Offset(4)), offsets({4, 5, 6, 7}));
  auto oldest = store_->offset_for_timestamp(tp_, Timestamp(0));
  ASSERT_TRUE(oldest.ok());
  EXPECT_EQ(*oldest, Offset(4));

  // A second pass with nothing newly expired deletes nothing more; the log start survives a
  // reopen.
  retention();
  EXPECT_EQ(bases(), offsets({4, 6}));
  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_EQ(ends(tp_).log_start, Offset(4));
  expect_below_log_start(Offset(3), Offset(4));
  EXPECT_EQ(record_offsets(Offset(4)), offsets({4, 5, 6, 7}));
}

TEST_F(RetentionTest, SegmentIsKeptWhileItsNewestRecordIsYoungerThanRetentionMs) {
  create("t", {.segment_bytes = 1024, .retention_ms = kHour});
  const Timestamp now = clock_.now();
  // The newest record first, an ancient one last: age is the segment's newest record, not
  // its last.
  append(tp_, big(0, now));
  append(tp_, big(1, now - 10 * kHour));
  clock_.advance_ms(kHour / 2);
  write(2, 3);
  ASSERT_EQ(bases(), offsets({0, 2}));

  clock_.advance_ms(kHour / 2);
  retention();
  EXPECT_EQ(bases(), offsets({0, 2}));
  EXPECT_EQ(ends(tp_).log_start, Offset(0));

  clock_.advance_ms(1);
  retention();
  EXPECT_EQ(bases(), offsets({2}));
  EXPECT_EQ(ends(tp_).log_start, Offset(2));
}

TEST_F(RetentionTest, OnlyAnUnbrokenRunOfOldestSegmentsIsDeleted) {
  create("t", {.segment_bytes = 1024, .retention_ms = kHour});
  const Timestamp now = clock_.now();
  append(tp_, big(0, now - 3 * kHour));  // segment 0: expired
  append(tp_, big(1, now - 3 * kHour));
  append(tp_, big(2, now));  // segment 2: young
  append(tp_, big(3, now));
  append(tp_, big(4, now - 3 * kHour));  // segment 4: expired, but after a young one
  append(tp_, big(5, now - 3 * kHour));
  write(6, 7);  // segment 6, active
  ASSERT_EQ(bases(), offsets({0, 2, 4, 6}));
  retention();
  EXPECT_EQ(bases(), offsets({2, 4, 6}));
  EXPECT_EQ(ends(tp_).log_start, Offset(2));
}

TEST_F(RetentionTest, ExpiredActiveSegmentIsRolledAndThenDeleted) {
  create("t", {.segment_bytes = 1 << 20, .retention_ms = kHour});
  write(0, 3);
  ASSERT_EQ(bases(), offsets({0}));
  clock_.advance_ms(2 * kHour);
  retention();
  // A new, empty active segment takes over at the end of the log.
  EXPECT_EQ(bases(), offsets({3}));
  expect_segment_gone(Offset(0));
  PartitionEnds e = ends(tp_);
  EXPECT_EQ(e.log_start, Offset(3));
  EXPECT_EQ(e.high_watermark.offset(), Offset(3));
  expect_below_log_start(Offset(0), Offset(3));
  auto at_end = store_->fetch({.partition = tp_, .offset = Offset(3)});
  ASSERT_TRUE(at_end.ok()) << at_end.status().to_string();
  EXPECT_TRUE(at_end->batches.empty());
  auto none = store_->offset_for_timestamp(tp_, Timestamp(0));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, std::nullopt);

  auto r = append(tp_, big(3));
  EXPECT_EQ(r.base_offset, Offset(3));
  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_EQ(ends(tp_).log_start, Offset(3));
  EXPECT_EQ(record_offsets(Offset(3)), offsets({3}));
}

TEST_F(RetentionTest, YoungActiveSegmentIsNeverDeleted) {
  create("t", {.segment_bytes = 1024, .retention_ms = kHour});
  write(0, 4);
  clock_.advance_ms(2 * kHour);
  write(4, 5);  // rolls: segment 4 is active and young
  ASSERT_EQ(bases(), offsets({0, 2, 4}));
  retention();
  EXPECT_EQ(bases(), offsets({4}));
  EXPECT_EQ(record_offsets(Offset(4)), offsets({4}));
}

TEST_F(RetentionTest, RetentionMsOfMinusOneKeepsEverything) {
  create("t", {.segment_bytes = 1024, .retention_ms = -1});
  write(0, 5);
  clock_.advance_ms(10 * 365 * 24 * kHour);
  retention();
  EXPECT_EQ(bases(), offsets({0, 2, 4}));
  EXPECT_EQ(record_offsets(Offset(0)).size(), 5u);
}

// --- by size ---

TEST_F(RetentionTest, SizeRetentionDeletesOldestSegmentsWhileThePartitionStaysAtOrAboveIt) {
  create("t", {.segment_bytes = 1024, .retention_ms = -1});
  write(0, 11);
  ASSERT_EQ(bases(), offsets({0, 2, 4, 6, 8, 10}));
  std::map<int64_t, int64_t> sizes;
  int64_t total = 0;
  for (Offset b : bases()) {
    sizes[b.value()] = static_cast<int64_t>(file_size(segment_file(dir(), b, files::kLogSuffix)));
    total += sizes[b.value()];
  }
  auto size_of = [&](int64_t base) { return sizes.at(base); };
  auto described = store_->describe_topic("t");
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(static_cast<int64_t>(described->partition_bytes[0]), total);

  // Deleting segments 0 and 2 keeps the partition at or above the limit; deleting 4 as well
  // would take it below.
  const int64_t limit = total - size_of(0) - size_of(2) - size_of(4) / 2;
  SLUICE_ASSERT_OK(store_->alter_topic("t", {{"retention.bytes", std::to_string(limit)}}));
  retention();
  EXPECT_EQ(bases(), offsets({4, 6, 8, 10}));
  EXPECT_EQ(ends(tp_).log_start, Offset(4));
  expect_below_log_start(Offset(3), Offset(4));
  retention();
  EXPECT_EQ(bases(), offsets({4, 6, 8, 10}));

  // Exactly at the limit: one more segment goes, as the rest is still not below it.
  const int64_t rest = total - size_of(0) - size_of(2) - size_of(4);
  SLUICE_ASSERT_OK(store_->alter_topic("t", {{"retention.bytes", std::to_string(rest)}}));
  retention();
  EXPECT_EQ(bases(), offsets({6, 8, 10}));

  // Even a limit of zero leaves the active segment.
  SLUICE_ASSERT_OK(store_->alter_topic("t", {{"retention.bytes", "0"}}));
  retention();
  EXPECT_EQ(bases(), offsets({10}));
  EXPECT_EQ(ends(tp_).log_start, Offset(10));
  EXPECT_EQ(record_offsets(Offset(10)), offsets({10}));
}

// --- delete_records ---

TEST_F(RetentionTest, DeleteRecordsMovesTheLogStartAndDropsWholeSegmentsBelowIt) {
  create("t", {.segment_bytes = 1024});
  write(0, 7);
  ASSERT_EQ(bases(), offsets({0, 2, 4, 6}));

  SLUICE_ASSERT_OK(store_->delete_records(tp_, Offset(5)));
  // Segments 0 and 2 are wholly below 5; segment 4 still holds offset 5.
  EXPECT_EQ(bases(), offsets({4, 6}));
  expect_segment_gone(Offset(0));
  expect_segment_gone(Offset(2));
  EXPECT_EQ(ends(tp_).log_start, Offset(5));
  expect_below_log_start(Offset(4), Offset(5));
  expect_below_log_start(Offset(0), Offset(5));
  EXPECT_EQ(record_offsets(Offset(5)), offsets({5, 6}));
  // Deleted records are not found by time either, though their segment is still on disk.
  auto first = store_->offset_for_timestamp(tp_, Timestamp(0));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, Offset(5));

  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_EQ(bases(), offsets({4, 6}));
  EXPECT_EQ(ends(tp_).log_start, Offset(5));
  expect_below_log_start(Offset(4), Offset(5));
  EXPECT_EQ(record_offsets(Offset(5)), offsets({5, 6}));
  first = store_->offset_for_timestamp(tp_, Timestamp(0));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, Offset(5));

  // Below the log start: nothing to do. Past the end: refused.
  SLUICE_ASSERT_OK(store_->delete_records(tp_, Offset(2)));
  EXPECT_EQ(ends(tp_).log_start, Offset(5));
  EXPECT_TRUE(
      testing::is_error(store_->delete_records(tp_, Offset(8)), StatusCode::kOutOfRange, {"t/0"}));

  // Up to the end: every sealed segment goes, the active one stays, appends go on.
  SLUICE_ASSERT_OK(store_->delete_records(tp_, Offset(7)));
  EXPECT_EQ(bases(), offsets({6}));
  EXPECT_EQ(ends(tp_).log_start, Offset(7));
  expect_below_log_start(Offset(6), Offset(7));
  auto r = append(tp_, big(7));
  EXPECT_EQ(r.base_offset, Offset(7));
  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_EQ(ends(tp_).log_start, Offset(7));
  EXPECT_EQ(record_offsets(Offset(7)), offsets({7}));
}

TEST_F(RetentionTest, DeleteRecordsInsideABatchHidesTheRecordsBeforeTheNewStart) {
  create("t");
  append(tp_, RecordSet::numbered(0, 5));
  SLUICE_ASSERT_OK(store_->delete_records(tp_, Offset(3)));
  expect_below_log_start(Offset(2), Offset(3));
  // The fetch returns the whole batch; readers skip the records below the offset they asked.
  auto r = store_->fetch({.partition = tp_, .offset = Offset(3)});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->log_start, Offset(3));
  EXPECT_EQ(record_offsets(Offset(3)), offsets({3, 4}));
}

// --- compacted topics ---

TEST_F(RetentionTest, CompactedTopicIsNotDeletedByTimeOrSize) {
  create("t", {.segment_bytes = 1024,
               .retention_ms = kHour,
               .retention_bytes = 0,
               .cleanup_policy = CleanupPolicy::kCompact});
  write(0, 5);
  ASSERT_EQ(bases(), offsets({0, 2, 4}));
  clock_.advance_ms(100 * kHour);
  retention();
  EXPECT_EQ(bases(), offsets({0, 2, 4}));
  EXPECT_EQ(ends(tp_).log_start, Offset(0));
  EXPECT_EQ(record_offsets(Offset(0)).size(), 5u);

  // delete_records still applies to it.
  SLUICE_ASSERT_OK(store_->delete_records(tp_, Offset(2)));
  EXPECT_EQ(bases(), offsets({2, 4}));
  EXPECT_EQ(ends(tp_).log_start, Offset(2));
}

TEST_F(RetentionTest, CompactAndDeleteTopicIsDeletedByTime) {
  create("t", {.segment_bytes = 1024,
               .retention_ms = kHour,
               .cleanup_policy = CleanupPolicy::kCompactDelete});
  write(0, 5);
  clock_.advance_ms(2 * kHour);
  write(5, 6);
  retention();
  EXPECT_EQ(bases(), offsets({4}));
  EXPECT_EQ(ends(tp_).log_start, Offset(4));
}

}  // namespace
}  // namespace sluice::logstore

// Recovery: a damaged active tail is cut and reported, damaged sealed segments fail the reads
// that reach them (and nothing else), and a full disk or a failed fsync harms nothing that was
// acknowledged.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>

#include "fault_injection_fs.h"
#include "log_files.h"
#include "store_test_fixture.h"

namespace sluice::logstore {
namespace {

using testing::copy_tree;
using testing::fetch_all_batches;
using testing::file_size;
using testing::flip_byte;
using testing::parse_batches;
using testing::read_all;
using testing::read_bytes;
using testing::ReadRecord;
using testing::RecordSet;
using testing::segment_bases;
using testing::segment_file;
using testing::StoredBatch;
using testing::truncate_file;

// `n` records "k<i>" -> a value of `value_bytes` bytes.
RecordSet sized(int first, int n, size_t value_bytes) {
  RecordSet set;
  for (int i = first; i < first + n; ++i) {
    set.add("k" + std::to_string(i), std::string(value_bytes, static_cast<char>('a' + i % 26)));
  }
  return set;
}

// The seed of a randomized test: $SLUICE_TEST_SEED when set (to replay a failure), otherwise
// a fresh one. Printed either way.
uint64_t test_seed() {
  uint64_t seed = std::random_device{}();
  if (const char* env = std::getenv("SLUICE_TEST_SEED")) seed = std::strtoull(env, nullptr, 10);
  std::cout << "[   SEED   ] SLUICE_TEST_SEED=" << seed << std::endl;
  return seed;
}

bool names_offset(const std::string& message, Offset offset) {
  return testing::mentions_number(message, offset.value(), "offset ");
}

class RecoveryTest : public testing::StoreTest {
 protected:
  // The store runs on a file system that can fill up, fail syncs and lose power.
  void SetUp() override {
    options_.offsets_topic_partitions = 1;  // fewer partitions to recover at every open
    ASSERT_NO_FATAL_FAILURE(open_store());
  }
  void open_store() { open(fs_.get()); }
  void reopen() {
    close();
    ASSERT_NO_FATAL_FAILURE(open_store());
  }
  // After a simulated power cut the old file system refuses every write.
  void replace_file_system() { fs_ = std::make_unique<testing::FaultInjectionFileSystem>(); }
  std::string dir_of(const TopicPartition& tp) const {
    return testing::partition_dir(dir_.path(), tp);
  }

  // A partition other than 0 of a topic with several, so that messages must name both.
  const TopicPartition tp_{"orders", PartitionId(2)};

  TopicConfig config(int64_t segment_bytes) {
    return {.partitions = 3,
            .segment_bytes = segment_bytes,
            .flush_policy = FlushPolicy::kEveryBatch,
            .index_interval_bytes = 256};
  }

  std::string dir() const { return dir_of(tp_); }
  std::string log_file(Offset base) const { return segment_file(dir(), base, files::kLogSuffix); }

  // Appends `batches` batches of 1 to 3 records of varying sizes; returns the next offset.
  Offset write(int batches, int first_key = 0) {
    int next = first_key;
    for (int i = 0; i < batches; ++i) {
      int n = 1 + i % 3;
      append(tp_, sized(next, n, 20 + (i * 53) % 100));
      next += n;
    }
    return ends(tp_).high_watermark.offset();
  }

  std::unique_ptr<testing::FaultInjectionFileSystem> fs_ =
      std::make_unique<testing::FaultInjectionFileSystem>();

  std::vector<TruncatedTail> cuts() const {
    std::vector<TruncatedTail> out;
    for (const auto& t : report_.truncated) {
      if (t.partition == tp_) out.push_back(t);
    }
    return out;
  }

  // The bytes of all sealed segments, in order.
  Bytes sealed_bytes() const {
    std::vector<Offset> bases = segment_bases(dir());
    Bytes out;
    for (size_t i = 0; i + 1 < bases.size(); ++i) out += read_bytes(log_file(bases[i]));
    return out;
  }
};

// --- a damaged active segment ---

// What the active segment looked like before it was damaged, and a copy of the whole store to
// restore between damages.
class RecoveryTailTest : public RecoveryTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(RecoveryTest::SetUp());
    create("orders", config(4096));
    end_ = write(80);
    close();
    std::vector<Offset> bases = segment_bases(dir());
    ASSERT_GE(bases.size(), 3u);
    active_ = log_file(bases.back());
    active_name_ = files::segment_name(bases.back(), files::kLogSuffix);
    log_ = read_bytes(active_);
    batches_ = parse_batches(log_);
    ASSERT_GE(batches_.size(), 6u);
    ASSERT_EQ(batches_.back().end(), log_.size());
    ASSERT_EQ(batches_.back().header.next_offset(), end_);
    sealed_ = sealed_bytes();
    copy_tree(dir_.path(), pristine_ / "data");
  }

  void restore() { copy_tree(pristine_ / "data", dir_.path()); }

  // The index of the first batch not wholly below `pos`.
  size_t first_batch_not_below(uint64_t pos) const {
    size_t k = 0;
    while (k < batches_.size() && batches_[k].end() <= pos) ++k;
    return k;
  }

  // After an open that had to cut the active segment at `cut` (the start of batch `k`):
  // the report, the ends, the bytes and the next append are as they should be.
  void expect_cut_at(size_t k, uint64_t damaged_size, const std::string& reason_contains = "") {
    const uint64_t cut = k < batches_.size() ? batches_[k].position : log_.size();
    const Offset first_lost = k < batches_.size() ? batches_[k].header.base_offset : end_;
    auto found = cuts();
    if (cut == damaged_size) {
      EXPECT_TRUE(found.empty()) << "nothing was lost, yet a cut was reported";
    } else {
      ASSERT_EQ(found.size(), 1u);
      const TruncatedTail& t = found[0];
      EXPECT_EQ(t.segment, active_name_);
      EXPECT_EQ(t.position, cut);
      EXPECT_EQ(t.bytes_lost, damaged_size - cut);
      EXPECT_EQ(t.first_lost_offset, first_lost);
      EXPECT_FALSE(t.reason.empty());
      if (!reason_contains.empty()) {
        EXPECT_NE(t.reason.find(reason_contains), std::string::npos) << t.reason;
      }
    }
    EXPECT_TRUE(report_.corrupt.empty());
    EXPECT_EQ(file_size(active_), cut);
    PartitionEnds e = ends(tp_);
    EXPECT_EQ(e.high_watermark.offset(), first_lost);
    EXPECT_EQ(e.durable.offset(), first_lost);
    // Every batch before the damage is there, byte for byte.
    auto all = fetch_all_batches(*store_, tp_);
    ASSERT_TRUE(all.ok()) << all.status().to_string();
    EXPECT_TRUE(*all == sealed_ + log_.substr(0, cut)) << "stored batches changed";
    // Appends continue where the valid log ends.
    auto r = store_->append(tp_, sized(9000, 2, 10).records());
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->base_offset, first_lost);
  }

  testing::TempDir pristine_;
  Offset end_{0};
  std::string active_;
  std::string active_name_;
  Bytes log_;
  Bytes sealed_;
  std::vector<StoredBatch> batches_;
};

TEST_F(RecoveryTailTest, ActiveSegmentTruncatedAnywhereIsCutToItsLastWholeBatch) {
  const uint64_t seed = test_seed();
  SCOPED_TRACE("SLUICE_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  // Edges first (empty, inside the first header, exactly at batch boundaries, one byte short),
  // then random positions, weighted towards the last batches.
  std::vector<uint64_t> positions = {0,
                                     1,
                                     format::kHeaderSize - 1,
                                     format::kHeaderSize,
                                     batches_[1].position,
                                     batches_[1].position + 1,
                                     batches_.back().position,
                                     log_.size() - 1};
  std::uniform_int_distribution<uint64_t> anywhere(0, log_.size() - 1);
  std::uniform_int_distribution<uint64_t> near_end(batches_[batches_.size() - 3].position,
                                                   log_.size() - 1);
  for (int i = 0; i < 8; ++i) positions.push_back(anywhere(rng));
  for (int i = 0; i < 8; ++i) positions.push_back(near_end(rng));

  for (uint64_t pos : positions) {
    SCOPED_TRACE("active segment truncated to " + std::to_string(pos) + " of " +
                 std::to_string(log_.size()) + " bytes");
    restore();
    truncate_file(active_, pos);
    ASSERT_NO_FATAL_FAILURE(open_store());
    ASSERT_NO_FATAL_FAILURE(expect_cut_at(first_batch_not_below(pos), pos));
    close();
  }
}

TEST_F(RecoveryTailTest, CutTailIsReportedOnceAndAppendsAfterItSurviveReopen) {
  restore();
  const size_t k = batches_.size() - 2;
  truncate_file(active_, batches_[k].position + 30);
  ASSERT_NO_FATAL_FAILURE(open_store());
  ASSERT_NO_FATAL_FAILURE(expect_cut_at(k, batches_[k].position + 30, "truncated"));
  auto before = read_all(*store_, tp_);
  ASSERT_TRUE(before.ok());
  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_TRUE(cuts().empty());
  auto after = read_all(*store_, tp_);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, *before);
  EXPECT_EQ(after->back().offset, batches_[k].header.base_offset + 1);

  // The active segment's index, rebuilt by the scan, serves the segment once it is sealed.
  write(30, 10'000);
  ASSERT_GT(segment_bases(dir()).size(), 3u);
  auto all = fetch_all_batches(*store_, tp_);
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  for (const StoredBatch& b : parse_batches(*all)) {
    for (Offset o = b.header.base_offset; o <= b.header.last_offset(); ++o) {
      auto r = store_->fetch({.partition = tp_, .offset = o, .max_bytes = 1});
      ASSERT_TRUE(r.ok()) << "offset " << o << ": " << r.status().to_string();
      auto got = parse_batches(r->batches);
      ASSERT_EQ(got.size(), 1u) << "offset " << o;
      EXPECT_EQ(got[0].header.base_offset, b.header.base_offset) << "offset " << o;
    }
  }
}

TEST_F(RecoveryTailTest, ByteFlipsInTheLastBatchesAreCutFromTheFirstDamagedBatch) {
  const uint64_t seed = test_seed();
  SCOPED_TRACE("SLUICE_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> which(batches_.size() - 3, batches_.size() - 1);
  std::uniform_int_distribution<int> mask(1, 255);
  for (int i = 0; i < 16; ++i) {
    const size_t k = which(rng);
    const StoredBatch& b = batches_[k];
    // Any byte but partitionLeaderEpoch: neither the CRC nor anything else covers those four
    // (as in Kafka), so a flip there is not damage recovery can see.
    std::uniform_int_distribution<uint64_t> at(0, b.header.size_bytes() - 5);
    uint64_t rel = at(rng);
    if (rel >= format::kPartitionLeaderEpochPos) rel += 4;
    const uint8_t m = static_cast<uint8_t>(mask(rng));
    SCOPED_TRACE("batch " + std::to_string(k) + " (offset " +
                 std::to_string(b.header.base_offset.value()) + "), byte " + std::to_string(rel) +
                 " xor " + std::to_string(m));
    std::string reason;
    if (rel < format::kBatchLengthPos) reason = "base offset";
    if (rel == format::kMagicPos) reason = "magic";
    if (rel >= format::kCrcPos && rel < format::kAttributesPos) reason = "CRC";
    restore();
    flip_byte(active_, b.position + rel, m);
    ASSERT_NO_FATAL_FAILURE(open_store());
    ASSERT_NO_FATAL_FAILURE(expect_cut_at(k, log_.size(), reason));
    close();
  }
}

TEST_F(RecoveryTailTest, FlipInTheCrcCoveredRecordsOfTheLastBatchIsACrcMismatch) {
  restore();
  const StoredBatch& b = batches_.back();
  flip_byte(active_, b.position + format::kHeaderSize + 3, 0x20);
  ASSERT_NO_FATAL_FAILURE(open_store());
  ASSERT_NO_FATAL_FAILURE(expect_cut_at(batches_.size() - 1, log_.size(), "CRC"));
}

TEST_F(RecoveryTailTest, GarbageAppendedAfterTheLastBatchIsCut) {
  restore();
  Bytes damaged = log_ + Bytes(100, '\x5a');
  testing::write_bytes(active_, damaged);
  ASSERT_NO_FATAL_FAILURE(open_store());
  ASSERT_NO_FATAL_FAILURE(expect_cut_at(batches_.size(), damaged.size()));
}

// --- a damaged sealed segment ---

class RecoverySealedTest : public RecoveryTest {
 protected:
  // Several segments; picks the third batch of the second segment as the one to damage.
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(RecoveryTest::SetUp());
    create("orders", config(1024));
    end_ = write(50);
    close();
    bases_ = segment_bases(dir());
    ASSERT_GE(bases_.size(), 4u);
    segment_ = bases_[1];
    log_ = read_bytes(log_file(segment_));
    auto batches = parse_batches(log_);
    ASSERT_GE(batches.size(), 4u);
    target_ = batches[2];
    all_before_ = fetch_all_after_reopen();
  }

  Bytes fetch_all_after_reopen() {
    open_store();
    auto all = fetch_all_batches(*store_, tp_);
    EXPECT_TRUE(all.ok());
    close();
    return all.ok() ? *all : Bytes();
  }

  void damage(uint64_t relative_position, uint8_t mask) {
    flip_byte(log_file(segment_), target_.position + relative_position, mask);
  }

  // Opens the damaged store and checks that reads reaching the damaged batch fail clearly and
  // everything else works.
  void expect_reads_fail_only_at_the_damage() {
    ASSERT_NO_FATAL_FAILURE(open_store());
    EXPECT_TRUE(cuts().empty()) << "a sealed segment was cut";
    const Offset bad = target_.header.base_offset;
    for (Offset at : {bad, target_.header.last_offset()}) {
      auto r = store_->fetch({.partition = tp_, .offset = at});
      ASSERT_FALSE(r.ok()) << "reading offset " << at << " of the damaged batch succeeded";
      EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().to_string();
      const std::string msg = r.status().message();
      EXPECT_NE(msg.find("orders/2"), std::string::npos) << msg;
      EXPECT_TRUE(names_offset(msg, bad)) << msg;
    }
    // Reading from the start of the segment returns exactly the batches before the damage.
    auto before = store_->fetch({.partition = tp_, .offset = segment_, .max_bytes = 1 << 20});
    ASSERT_TRUE(before.ok()) << before.status().to_string();
    EXPECT_TRUE(before->batches == log_.substr(0, target_.position));
    EXPECT_EQ(before->next_offset, bad);
    // Earlier segments and later ones read as before.
    auto first = fetch_all_batches(*store_, tp_, Offset(0));
    EXPECT_EQ(first.status().code(), StatusCode::kCorruption);
    auto later = fetch_all_batches(*store_, tp_, bases_[2]);
    ASSERT_TRUE(later.ok()) << later.status().to_string();
    EXPECT_TRUE(*later == all_before_.substr(all_before_.size() - later->size()));
    auto from_start = store_->fetch({.partition = tp_, .offset = Offset(0), .max_bytes = 1 << 20});
    ASSERT_TRUE(from_start.ok()) << from_start.status().to_string();
    EXPECT_EQ(from_start->next_offset, segment_);
    // The partition still takes appends.
    auto r = store_->append(tp_, sized(9000, 1, 10).records());
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->base_offset, end_);
  }

  Offset end_{0};
  std::vector<Offset> bases_;
  Offset segment_{0};
  Bytes log_;
  StoredBatch target_;
  Bytes all_before_;
};

TEST_F(RecoverySealedTest, FlipInCrcCoveredBytesFailsReadsAtThatBatch) {
  damage(target_.header.size_bytes() - 2, 0x01);
  expect_reads_fail_only_at_the_damage();
}

TEST_F(RecoverySealedTest, FlipInAttributesFailsReadsAtThatBatch) {
  damage(format::kAttributesPos + 1, 0x04);  // claims zstd compression: only the CRC tells
  expect_reads_fail_only_at_the_damage();
}

TEST_F(RecoverySealedTest, WrongBaseOffsetFailsReadsAtThatBatch) {
  damage(format::kBaseOffsetPos + 7, 0x01);  // off by one: only the expected offset tells
  expect_reads_fail_only_at_the_damage();
}

TEST_F(RecoverySealedTest, BatchLengthOffByOneFailsReadsAtThatBatch) {
  damage(format::kBatchLengthPos + 3, 0x01);
  expect_reads_fail_only_at_the_damage();
}

TEST_F(RecoverySealedTest, BatchLengthPastTheSegmentEndFailsReadsAtThatBatch) {
  damage(format::kBatchLengthPos + 2, 0x10);  // +4096: runs past the end of the file
  expect_reads_fail_only_at_the_damage();
}

TEST_F(RecoverySealedTest, BadMagicFailsReadsAtThatBatch) {
  damage(format::kMagicPos, 0x01);
  expect_reads_fail_only_at_the_damage();
}

TEST_F(RecoverySealedTest, DamagedSealedSegmentWhoseIndexIsGoneIsReportedAtOpen) {
  damage(target_.header.size_bytes() - 2, 0x01);
  std::filesystem::remove(segment_file(dir(), segment_, files::kIndexSuffix));
  expect_reads_fail_only_at_the_damage();
  // Its index had to be rebuilt, which meant reading it: the corruption is reported.
  std::vector<CorruptSegment> corrupt;
  for (const auto& c : report_.corrupt) {
    if (c.partition == tp_) corrupt.push_back(c);
  }
  ASSERT_EQ(corrupt.size(), 1u);
  EXPECT_EQ(corrupt[0].segment, files::segment_name(segment_, files::kLogSuffix));
  EXPECT_EQ(corrupt[0].position, target_.position);
  EXPECT_FALSE(corrupt[0].reason.empty());
  // Nothing was cut from the sealed segment.
  EXPECT_EQ(file_size(log_file(segment_)), log_.size());
}

TEST_F(RecoverySealedTest, SealedSegmentCutAtABatchBoundaryIsReportedAndItsLostOffsetsFailReads) {
  // Whole batches lost from the end of a sealed segment: every batch left is valid, so only
  // the offsets tell.
  truncate_file(log_file(segment_), target_.position);
  ASSERT_NO_FATAL_FAILURE(open_store());
  std::vector<CorruptSegment> corrupt;
  for (const auto& c : report_.corrupt) {
    if (c.partition == tp_) corrupt.push_back(c);
  }
  ASSERT_EQ(corrupt.size(), 1u);
  EXPECT_EQ(corrupt[0].segment, files::segment_name(segment_, files::kLogSuffix));
  EXPECT_EQ(corrupt[0].position, target_.position);
  // It says which offsets are gone.
  EXPECT_NE(corrupt[0].reason.find(std::to_string(target_.header.base_offset.value())),
            std::string::npos)
      << corrupt[0].reason;

  for (Offset at : {target_.header.base_offset, bases_[2] - 1}) {
    auto r = store_->fetch({.partition = tp_, .offset = at});
    ASSERT_FALSE(r.ok()) << "offset " << at << " was lost, yet the fetch succeeded";
    EXPECT_TRUE(testing::is_error(r.status(), StatusCode::kCorruption, {"orders/2"}));
    EXPECT_TRUE(names_offset(r.status().message(), at)) << r.status().message();
  }
  auto before = store_->fetch({.partition = tp_, .offset = segment_, .max_bytes = 1 << 20});
  ASSERT_TRUE(before.ok()) << before.status().to_string();
  EXPECT_TRUE(before->batches == log_.substr(0, target_.position));
  auto later = fetch_all_batches(*store_, tp_, bases_[2]);
  ASSERT_TRUE(later.ok()) << later.status().to_string();
  EXPECT_TRUE(*later == all_before_.substr(all_before_.size() - later->size()));
}

TEST_F(RecoverySealedTest, MissingSegmentFileIsReportedAndItsOffsetsFailReads) {
  for (std::string_view suffix : {files::kLogSuffix, files::kIndexSuffix, files::kTimeIndexSuffix,
                                  files::kTxnIndexSuffix, files::kSnapshotSuffix}) {
    std::filesystem::remove(segment_file(dir(), segment_, suffix));
  }
  ASSERT_NO_FATAL_FAILURE(open_store());
  std::vector<CorruptSegment> corrupt;
  for (const auto& c : report_.corrupt) {
    if (c.partition == tp_) corrupt.push_back(c);
  }
  ASSERT_EQ(corrupt.size(), 1u);
  EXPECT_EQ(corrupt[0].segment, files::segment_name(bases_[0], files::kLogSuffix));
  for (Offset at : {segment_, bases_[2] - 1}) {
    auto r = store_->fetch({.partition = tp_, .offset = at});
    ASSERT_FALSE(r.ok()) << "offset " << at << " is gone, yet the fetch succeeded";
    EXPECT_TRUE(testing::is_error(r.status(), StatusCode::kCorruption, {"orders/2"}));
    EXPECT_TRUE(names_offset(r.status().message(), at)) << r.status().message();
  }
  auto first = store_->fetch({.partition = tp_, .offset = Offset(0), .max_bytes = 1 << 20});
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->next_offset, segment_);
  EXPECT_TRUE(fetch_all_batches(*store_, tp_, bases_[2]).ok());
}

// --- a full disk ---

TEST_F(RecoveryTest, FullDiskFailsTheAppendWithNoSpaceAndKeepsWhatWasAcknowledged) {
  create("orders", config(1 << 20));
  write(10);
  auto acked = read_all(*store_, tp_);
  ASSERT_TRUE(acked.ok());
  const Offset end = ends(tp_).high_watermark.offset();
  const std::string active = log_file(Offset(0));
  const uint64_t size = file_size(active);

  for (int64_t space : {0, 1, 100}) {
    fs_->set_space_left(space);
    auto r = store_->append(tp_, sized(100, 3, 200).records());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kNoSpace) << r.status().to_string();
    // No partial batch left behind, nothing acknowledged touched.
    EXPECT_EQ(file_size(active), size);
    EXPECT_EQ(ends(tp_).high_watermark.offset(), end);
    auto now = read_all(*store_, tp_);
    ASSERT_TRUE(now.ok());
    EXPECT_EQ(*now, *acked);
  }

  fs_->set_space_left(-1);
  auto r = store_->append(tp_, sized(100, 3, 200).records());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->base_offset, end);
  auto expected = read_all(*store_, tp_);
  ASSERT_TRUE(expected.ok());
  ASSERT_EQ(expected->size(), acked->size() + 3);

  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_TRUE(cuts().empty());
  auto reopened = read_all(*store_, tp_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(*reopened, *expected);
}

TEST_F(RecoveryTest, RollThatHitsAFullDiskLeavesThePartitionAppendable) {
  // Rolling writes a producer snapshot, the old segment's three index files and then the
  // batch. Each budget runs out at a different step.
  std::vector<int64_t> budgets;
  for (int64_t b = 0; b <= 128; b += 8) budgets.push_back(b);
  budgets.push_back(300);
  std::map<std::string, std::vector<ReadRecord>> expected;
  for (int64_t budget : budgets) {
    SCOPED_TRACE("space left for the roll: " + std::to_string(budget) + " bytes");
    const std::string topic = "roll" + std::to_string(budget);
    const TopicPartition tp{topic, PartitionId(0)};
    create(topic, {.segment_bytes = 1024, .flush_policy = FlushPolicy::kEveryBatch});
    append(tp, sized(0, 1, 400));
    append(tp, sized(1, 1, 400));
    ASSERT_EQ(segment_bases(dir_of(tp)).size(), 1u);

    fs_->set_space_left(budget);
    auto failed = store_->append(tp, sized(2, 1, 400).records());
    fs_->set_space_left(-1);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.status().code(), StatusCode::kNoSpace) << failed.status().to_string();
    EXPECT_EQ(ends(tp).high_watermark.offset(), Offset(2));

    for (int i = 2; i < 5; ++i) {
      auto r = store_->append(tp, sized(i, 1, 400).records());
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      EXPECT_EQ(r->base_offset, Offset(i));
    }
    auto records = read_all(*store_, tp);
    ASSERT_TRUE(records.ok()) << records.status().to_string();
    ASSERT_EQ(records->size(), 5u);
    expected[topic] = *records;
  }

  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_TRUE(report_.truncated.empty());
  EXPECT_TRUE(report_.corrupt.empty());
  EXPECT_TRUE(report_.rebuilt.empty());
  for (const auto& [topic, records] : expected) {
    SCOPED_TRACE(topic);
    const TopicPartition tp{topic, PartitionId(0)};
    auto now = read_all(*store_, tp);
    ASSERT_TRUE(now.ok()) << now.status().to_string();
    EXPECT_EQ(*now, records);
    // No stray files: one .log per segment, and every sealed segment has its indexes.
    std::vector<Offset> bases = segment_bases(dir_of(tp));
    EXPECT_GE(bases.size(), 2u);
    for (size_t i = 0; i + 1 < bases.size(); ++i) {
      EXPECT_TRUE(std::filesystem::exists(segment_file(dir_of(tp), bases[i], files::kIndexSuffix)));
    }
    for (const auto& entry : std::filesystem::directory_iterator(dir_of(tp))) {
      EXPECT_FALSE(entry.path().string().ends_with(".tmp")) << entry.path();
    }
    auto r = store_->append(tp, sized(5, 1, 10).records());
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->base_offset, Offset(5));
  }
}

// --- a failed fsync ---

TEST_F(RecoveryTest, FailedFsyncFailsTheAppendAndFencesThePartitionUntilReopen) {
  create("orders", config(1 << 20));
  const Offset end = write(5);
  auto acked = read_all(*store_, tp_);
  ASSERT_TRUE(acked.ok());

  fs_->set_fail_syncs(true);
  auto r = store_->append(tp_, sized(100, 1, 10).records());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIOError) << r.status().to_string();
  fs_->set_fail_syncs(false);

  // Whatever the kernel did with the dirty pages, this process cannot know what is on disk:
  // every later append is refused, saying why, and readers see only acknowledged records.
  auto refused = store_->append(tp_, sized(101, 1, 10).records());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kIOError);
  EXPECT_NE(refused.status().message().find("fsync"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("orders/2"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(ends(tp_).high_watermark.offset(), end);
  auto visible = read_all(*store_, tp_);
  ASSERT_TRUE(visible.ok());
  EXPECT_EQ(*visible, *acked);
  // Other partitions are not affected.
  EXPECT_TRUE(store_->append({"orders", PartitionId(0)}, sized(0, 1, 10).records()).ok());

  // Reopening recovers from what is on disk: the acknowledged records, perhaps followed by the
  // unacknowledged batch, and appends go on after them.
  store_.reset();  // close() may report the sync that still cannot be trusted
  ASSERT_NO_FATAL_FAILURE(open_store());
  auto recovered = read_all(*store_, tp_);
  ASSERT_TRUE(recovered.ok()) << recovered.status().to_string();
  ASSERT_GE(recovered->size(), acked->size());
  EXPECT_TRUE(std::equal(acked->begin(), acked->end(), recovered->begin()));
  const Offset hw = ends(tp_).high_watermark.offset();
  auto after = store_->append(tp_, sized(102, 1, 10).records());
  ASSERT_TRUE(after.ok()) << after.status().to_string();
  EXPECT_EQ(after->base_offset, hw);
}

TEST_F(RecoveryTest, FailedFsyncWhileRollingFailsTheAppendAndFencesThePartition) {
  // Interval flushing: the roll's sync of the old segment is the first fsync of its data.
  create("orders",
         {.partitions = 3, .segment_bytes = 1024, .flush_policy = FlushPolicy::kInterval});
  append(tp_, sized(0, 1, 400));
  append(tp_, sized(1, 1, 400));
  fs_->set_fail_syncs(true);
  auto r = store_->append(tp_, sized(2, 1, 400).records());
  fs_->set_fail_syncs(false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIOError) << r.status().to_string();
  EXPECT_EQ(segment_bases(dir()).size(), 1u);
  EXPECT_TRUE(testing::is_error(store_->append(tp_, sized(3, 1, 10).records()).status(),
                                StatusCode::kIOError, {"fsync", "orders/2"}));
  EXPECT_EQ(ends(tp_).high_watermark.offset(), Offset(2));

  store_.reset();
  ASSERT_NO_FATAL_FAILURE(open_store());
  EXPECT_TRUE(cuts().empty());
  auto recovered = read_all(*store_, tp_);
  ASSERT_TRUE(recovered.ok()) << recovered.status().to_string();
  ASSERT_EQ(recovered->size(), 2u);
  auto after = store_->append(tp_, sized(2, 1, 400).records());
  ASSERT_TRUE(after.ok()) << after.status().to_string();
  EXPECT_EQ(after->base_offset, Offset(2));
  EXPECT_EQ(segment_bases(dir()).size(), 2u);
}

TEST_F(RecoveryTest, FailedFsyncFollowedByAPowerCutLosesOnlyTheUnacknowledgedBatch) {
  create("orders", config(1 << 20));
  const Offset end = write(5);
  auto acked = read_all(*store_, tp_);
  ASSERT_TRUE(acked.ok());

  fs_->set_fail_syncs(true);
  EXPECT_FALSE(store_->append(tp_, sized(100, 1, 10).records()).ok());
  fs_->power_cut();
  store_.reset();
  ASSERT_TRUE(fs_->apply_power_cut().ok());
  replace_file_system();

  ASSERT_NO_FATAL_FAILURE(open_store());
  auto recovered = read_all(*store_, tp_);
  ASSERT_TRUE(recovered.ok()) << recovered.status().to_string();
  EXPECT_EQ(*recovered, *acked);
  auto after = store_->append(tp_, sized(102, 1, 10).records());
  ASSERT_TRUE(after.ok()) << after.status().to_string();
  EXPECT_EQ(after->base_offset, end);
}

}  // namespace
}  // namespace sluice::logstore

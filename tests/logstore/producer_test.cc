// Idempotent producers: a retried batch is stored once, sequences must follow each other, an
// older epoch is fenced, and all of it survives a reopen — through raw batches (as a Kafka
// producer sends them) and through the Producer API.
#include <gtest/gtest.h>

#include <filesystem>

#include "fault_injection_fs.h"
#include "producer_state.h"
#include "sluice/logstore/log_store.h"
#include "store_test_fixture.h"

namespace sluice::logstore {
namespace {

using testing::encode;
using testing::is_error;
using testing::numbered_values;
using testing::RecordSet;

ProducerIdentity with_epoch(ProducerIdentity id, int16_t epoch) {
  return {id.id, ProducerEpoch(epoch)};
}

class ProducerTest : public testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    create("t", {.partitions = 2});
  }

  ProducerIdentity new_producer_id() {
    auto id = store_->init_producer_id("", 60'000);
    EXPECT_TRUE(id.ok()) << id.status().to_string();
    return id.ok() ? *id : ProducerIdentity{};
  }

  // One batch of `n` records "k<first>" -> "v<first>"... from `id`, starting at sequence `seq`.
  Bytes batch(ProducerIdentity id, int32_t seq, int first, int n) {
    return encode(
        RecordSet::numbered(first, n, clock_.now()),
        {.producer_id = id.id, .producer_epoch = id.epoch, .base_sequence = Sequence(seq)});
  }

  // Appends a copy of `b` (append_batch rewrites its base offset), as a retry would send it.
  Result<AppendResult> send(const Bytes& b, const TopicPartition& where = tp("t")) {
    Bytes copy = b;
    return store_->append_batch(where, copy);
  }

  void expect_appended(const Result<AppendResult>& r, int64_t base, int64_t last) {
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_FALSE(r->duplicate);
    EXPECT_EQ(r->base_offset, Offset(base));
    EXPECT_EQ(r->last_offset, Offset(last));
  }

  void expect_duplicate(const Result<AppendResult>& r, int64_t base, int64_t last) {
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(r->duplicate);
    EXPECT_EQ(r->base_offset, Offset(base));
    EXPECT_EQ(r->last_offset, Offset(last));
  }

  Offset high_watermark(const TopicPartition& where = tp("t")) {
    return ends(where).high_watermark.offset();
  }
};

// --- deduplication ---

TEST_F(ProducerTest, RetriedBatchIsStoredOnceAndTheRetryReturnsTheOriginalOffsets) {
  const ProducerIdentity id = new_producer_id();
  append(tp("t"), RecordSet::numbered(100, 2));  // so that the batch does not start at 0
  const Bytes b = batch(id, 0, 0, 3);

  expect_appended(send(b), 2, 4);
  expect_duplicate(send(b), 2, 4);
  expect_duplicate(send(b), 2, 4);

  EXPECT_EQ(high_watermark(), Offset(5));
  EXPECT_EQ(values(tp("t")), (std::vector<std::string>{"v100", "v101", "v0", "v1", "v2"}));
}

TEST_F(ProducerTest, RetryOfAnyOfTheLastFiveBatchesIsDeduplicated) {
  const ProducerIdentity id = new_producer_id();
  std::vector<Bytes> sent;
  for (int i = 0; i < 7; ++i) {
    sent.push_back(batch(id, 2 * i, 10 * i, 2));
    expect_appended(send(sent.back()), 2 * i, 2 * i + 1);
  }
  // Retries arrive in any order.
  for (int i : {4, 6, 2, 5, 3}) {
    SCOPED_TRACE("retry of batch " + std::to_string(i));
    expect_duplicate(send(sent[static_cast<size_t>(i)]), 2 * i, 2 * i + 1);
  }
  EXPECT_EQ(high_watermark(), Offset(14));
  EXPECT_EQ(uncommitted_values(tp("t")).size(), 14u);

  // The sixth newest is no longer remembered: it cannot be told from a rewind, and is refused
  // rather than stored twice.
  EXPECT_TRUE(is_error(send(sent[1]).status(), StatusCode::kOutOfOrderSequence));
  EXPECT_EQ(high_watermark(), Offset(14));
  // The producer goes on where it was.
  expect_appended(send(batch(id, 14, 70, 1)), 14, 14);
}

TEST_F(ProducerTest, PlainBatchesAreNotDeduplicated) {
  const Bytes plain = encode(RecordSet::numbered(0, 2));
  expect_appended(send(plain), 0, 1);
  expect_appended(send(plain), 2, 3);
  EXPECT_EQ(values(tp("t")), (std::vector<std::string>{"v0", "v1", "v0", "v1"}));
}

// --- sequence checks ---

TEST_F(ProducerTest, SequenceGapIsRefusedAsOutOfOrder) {
  const ProducerIdentity id = new_producer_id();
  expect_appended(send(batch(id, 0, 0, 2)), 0, 1);

  auto gap = send(batch(id, 5, 5, 1));
  EXPECT_TRUE(is_error(
      gap.status(), StatusCode::kOutOfOrderSequence,
      {"t/0", "producer " + std::to_string(id.id.value()), "sent sequence 5", "expected 2"}));
  EXPECT_EQ(high_watermark(), Offset(2));
  expect_appended(send(batch(id, 2, 2, 1)), 2, 2);
}

TEST_F(ProducerTest, SequenceRewindIsRefusedAsOutOfOrder) {
  const ProducerIdentity id = new_producer_id();
  expect_appended(send(batch(id, 0, 0, 2)), 0, 1);
  expect_appended(send(batch(id, 2, 2, 2)), 2, 3);

  // Starts inside an earlier batch.
  EXPECT_TRUE(is_error(send(batch(id, 1, 1, 2)).status(), StatusCode::kOutOfOrderSequence,
                       {"sent sequence 1", "expected 4"}));
  // Starts where an earlier batch started but is longer: not a retry of it.
  EXPECT_TRUE(is_error(send(batch(id, 2, 2, 3)).status(), StatusCode::kOutOfOrderSequence,
                       {"sent sequence 2", "expected 4"}));
  EXPECT_EQ(high_watermark(), Offset(4));
}

TEST_F(ProducerTest, FirstBatchOfAProducerMustStartAtSequenceZero) {
  const ProducerIdentity id = new_producer_id();
  EXPECT_TRUE(is_error(send(batch(id, 3, 0, 1)).status(), StatusCode::kOutOfOrderSequence,
                       {"first sequence is 3, not 0"}));
  EXPECT_EQ(high_watermark(), Offset(0));
  expect_appended(send(batch(id, 0, 0, 1)), 0, 0);
}

TEST_F(ProducerTest, SequencesAreKeptPerProducerAndPerPartition) {
  const ProducerIdentity a = new_producer_id();
  const ProducerIdentity b = new_producer_id();
  EXPECT_NE(a.id, b.id);
  expect_appended(send(batch(a, 0, 0, 2)), 0, 1);
  expect_appended(send(batch(b, 0, 2, 1)), 2, 2);
  expect_appended(send(batch(a, 2, 3, 1)), 3, 3);
  expect_appended(send(batch(a, 0, 4, 1), tp("t", 1)), 0, 0);
  expect_appended(send(batch(b, 1, 5, 1)), 4, 4);
  EXPECT_EQ(values(tp("t")), (std::vector<std::string>{"v0", "v1", "v2", "v3", "v5"}));
  EXPECT_EQ(values(tp("t", 1)), (std::vector<std::string>{"v4"}));
}

// --- epochs ---

TEST_F(ProducerTest, OlderEpochIsFenced) {
  const ProducerIdentity id = new_producer_id();
  const Bytes old_batch = batch(id, 0, 0, 1);
  expect_appended(send(old_batch), 0, 0);
  expect_appended(send(batch(with_epoch(id, 1), 0, 1, 1)), 1, 1);

  const std::string fenced = "epoch 0 is fenced by epoch 1";
  EXPECT_TRUE(is_error(send(batch(id, 1, 2, 1)).status(), StatusCode::kProducerFenced, {fenced}));
  // Not even a retry of a batch the old epoch did write is answered.
  EXPECT_TRUE(is_error(send(old_batch).status(), StatusCode::kProducerFenced, {fenced}));
  EXPECT_EQ(high_watermark(), Offset(2));
}

TEST_F(ProducerTest, NewEpochMustStartAtSequenceZero) {
  const ProducerIdentity id = new_producer_id();
  expect_appended(send(batch(id, 0, 0, 3)), 0, 2);

  const ProducerIdentity next = with_epoch(id, 1);
  EXPECT_TRUE(is_error(send(batch(next, 3, 3, 1)).status(), StatusCode::kOutOfOrderSequence,
                       {"started epoch 1 at sequence 3, not 0"}));
  expect_appended(send(batch(next, 0, 3, 1)), 3, 3);
  expect_appended(send(batch(next, 1, 4, 1)), 4, 4);
}

// --- producer state across reopen ---

TEST_F(ProducerTest, DeduplicationSurvivesReopen) {
  const ProducerIdentity id = new_producer_id();
  std::vector<Bytes> sent;
  for (int i = 0; i < 3; ++i) {
    sent.push_back(batch(id, 2 * i, 2 * i, 2));
    expect_appended(send(sent.back()), 2 * i, 2 * i + 1);
  }
  close();
  ASSERT_NO_FATAL_FAILURE(open());
  EXPECT_TRUE(report_.truncated.empty());

  for (int i = 0; i < 3; ++i)
    expect_duplicate(send(sent[static_cast<size_t>(i)]), 2 * i, 2 * i + 1);
  EXPECT_TRUE(is_error(send(batch(id, 7, 7, 1)).status(), StatusCode::kOutOfOrderSequence));
  expect_appended(send(batch(id, 6, 6, 1)), 6, 6);
  EXPECT_EQ(values(tp("t")), numbered_values(0, 7));
}

TEST_F(ProducerTest, ProducerStateComesBackFromTheSnapshotWhenItsSegmentsAreGone) {
  TopicConfig config{.segment_ms = 60'000, .retention_ms = 3'600'000};
  create("rolled", config);
  const TopicPartition where = tp("rolled");
  const ProducerIdentity id = new_producer_id();
  std::vector<Bytes> sent;
  for (int i = 0; i < 6; ++i) {
    sent.push_back(batch(id, 2 * i, 2 * i, 2));
    expect_appended(send(sent.back(), where), 2 * i, 2 * i + 1);
    clock_.advance_ms(60'000);  // the next batch rolls a new segment
  }
  // Retention rolls the expired active segment and deletes every sealed one: the producer's
  // batches are gone, its state lives on only in the new segment's snapshot.
  clock_.advance_ms(2 * 3'600'000);
  SLUICE_ASSERT_OK(store_->run_retention());
  const std::string dir = testing::partition_dir(dir_.path(), where);
  ASSERT_EQ(testing::segment_bases(dir), std::vector<Offset>{Offset(12)});
  ASSERT_TRUE(std::filesystem::exists(testing::segment_file(dir, Offset(12), ".snapshot")));
  EXPECT_EQ(ends(where).log_start, Offset(12));

  close();
  ASSERT_NO_FATAL_FAILURE(open());
  EXPECT_TRUE(report_.rebuilt.empty());
  EXPECT_EQ(ends(where).log_start, Offset(12));
  // The last five batches are recognised, with the offsets they were stored at.
  for (int i = 1; i < 6; ++i) {
    SCOPED_TRACE("retry of batch " + std::to_string(i));
    expect_duplicate(send(sent[static_cast<size_t>(i)], where), 2 * i, 2 * i + 1);
  }
  EXPECT_TRUE(is_error(send(sent[0], where).status(), StatusCode::kOutOfOrderSequence));
  expect_appended(send(batch(id, 12, 12, 1), where), 12, 12);
  EXPECT_EQ(values(where), numbered_values(12, 1));
}

// --- the Producer API ---

TEST_F(ProducerTest, IdempotentProducerNumbersItsBatchesPerPartition) {
  auto made = store_->create_producer({});
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  Producer& producer = **made;
  const ProducerIdentity id = producer.identity();
  EXPECT_NE(id.id, kNoProducerId);
  EXPECT_EQ(id.epoch, ProducerEpoch(0));

  ASSERT_TRUE(producer.append(tp("t"), RecordSet::numbered(0, 3).records()).ok());
  ASSERT_TRUE(producer.append(tp("t"), RecordSet::numbered(3, 2).records()).ok());
  ASSERT_TRUE(producer.append(tp("t", 1), RecordSet::numbered(5, 1).records()).ok());

  std::vector<BatchHeader> headers = batch_headers(tp("t"));
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[0].producer_id, id.id);
  EXPECT_EQ(headers[0].base_sequence, Sequence(0));
  EXPECT_EQ(headers[1].base_sequence, Sequence(3));
  EXPECT_FALSE(headers[0].transactional());
  headers = batch_headers(tp("t", 1));
  ASSERT_EQ(headers.size(), 1u);
  EXPECT_EQ(headers[0].base_sequence, Sequence(0));
  EXPECT_EQ(values(tp("t")), numbered_values(0, 5));
}

TEST_F(ProducerTest, FailedAppendMakesTheIdempotentProducerStartANewProducerId) {
  testing::FaultInjectionFileSystem& fs = fault_fs_;
  ASSERT_NO_FATAL_FAILURE(open(&fs));
  auto made = store_->create_producer({});
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  Producer& producer = **made;
  const ProducerIdentity first = producer.identity();
  ASSERT_TRUE(producer.append(tp("t"), RecordSet::numbered(0, 2).records()).ok());

  fs.set_space_left(0);
  auto failed = producer.append(tp("t"), RecordSet::numbered(2, 2).records());
  EXPECT_TRUE(is_error(failed.status(), StatusCode::kNoSpace));
  // Whether the failed batch reached the log is unknown, so its sequences cannot be trusted:
  // the producer goes on as a new producer, from sequence 0.
  const ProducerIdentity second = producer.identity();
  EXPECT_NE(second.id, first.id);

  fs.set_space_left(-1);
  auto appended = producer.append(tp("t"), RecordSet::numbered(4, 2).records());
  ASSERT_TRUE(appended.ok()) << appended.status().to_string();
  EXPECT_EQ(appended->base_offset, Offset(2));
  std::vector<BatchHeader> headers = batch_headers(tp("t"));
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[1].producer_id, second.id);
  EXPECT_EQ(headers[1].base_sequence, Sequence(0));
  EXPECT_EQ(values(tp("t")), (std::vector<std::string>{"v0", "v1", "v4", "v5"}));
}

TEST_F(ProducerTest, ProducerRefusesAnAppendOfNoRecords) {
  auto made = store_->create_producer({});
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  EXPECT_TRUE(is_error((*made)->append(tp("t"), {}).status(), StatusCode::kInvalidArgument));
  EXPECT_TRUE(is_error((*made)->append(tp("nope"), RecordSet::numbered(0, 1).records()).status(),
                       StatusCode::kNotFound));
}

// --- ProducerState on its own: sequence wrap-around and snapshots ---

class ProducerStateTest : public ::testing::Test {
 protected:
  // The header of a batch of `n` records from producer 7 stored at `base`.
  static BatchHeader header(int32_t seq, int n, int64_t base, bool transactional = false) {
    Bytes b = encode(RecordSet::numbered(0, n), {.producer_id = ProducerId(7),
                                                 .producer_epoch = ProducerEpoch(0),
                                                 .base_sequence = Sequence(seq),
                                                 .transactional = transactional});
    auto h = parse_batch_header(b);
    EXPECT_TRUE(h.ok());
    h->base_offset = Offset(base);
    return *h;
  }

  static void expect_new(const ProducerState& state, const BatchHeader& h) {
    auto checked = state.check_append(h);
    ASSERT_TRUE(checked.ok()) << checked.status().to_string();
    EXPECT_FALSE(checked->has_value());
  }

  static void expect_duplicate_of(const ProducerState& state, const BatchHeader& h,
                                  int64_t first_offset) {
    auto checked = state.check_append(h);
    ASSERT_TRUE(checked.ok()) << checked.status().to_string();
    ASSERT_TRUE(checked->has_value());
    EXPECT_EQ((*checked)->first_offset, Offset(first_offset));
  }
};

TEST_F(ProducerStateTest, SequenceWrapsToZeroAfterInt32Max) {
  ProducerState state;
  // A producer that has written almost 2^31 records (its first batch is taken as given).
  state.on_append(header(INT32_MAX - 2, 2, 100));  // sequences INT32_MAX-2 .. INT32_MAX-1

  const BatchHeader across = header(INT32_MAX, 3, 102);  // INT32_MAX, 0, 1
  EXPECT_EQ(across.last_sequence(), Sequence(1));
  expect_new(state, across);
  state.on_append(across);

  expect_duplicate_of(state, across, 102);
  expect_new(state, header(2, 1, 105));
  EXPECT_TRUE(is_error(state.check_append(header(0, 1, 105)).status(),
                       StatusCode::kOutOfOrderSequence, {"expected 2"}));
  EXPECT_TRUE(is_error(state.check_append(header(INT32_MAX, 1, 105)).status(),
                       StatusCode::kOutOfOrderSequence, {"expected 2"}));
}

TEST_F(ProducerStateTest, BatchEndingExactlyAtInt32MaxIsFollowedBySequenceZero) {
  ProducerState state;
  state.on_append(header(INT32_MAX - 1, 2, 0));
  EXPECT_TRUE(is_error(state.check_append(header(INT32_MAX, 1, 2)).status(),
                       StatusCode::kOutOfOrderSequence, {"expected 0"}));
  expect_new(state, header(0, 1, 2));
}

TEST_F(ProducerStateTest, SnapshotKeepsRecentBatchesAndOpenTransactions) {
  ProducerState state;
  for (int i = 0; i < 7; ++i) state.on_append(header(i, 1, i, /*transactional=*/true));
  auto restored = ProducerState::from_snapshot(state.snapshot());
  ASSERT_TRUE(restored.ok()) << restored.status().to_string();

  EXPECT_EQ(restored->first_unstable_offset(), std::optional<Offset>(Offset(0)));
  EXPECT_EQ(restored->open_transactions().size(), 1u);
  for (int i = 2; i < 7; ++i) expect_duplicate_of(*restored, header(i, 1, 99, true), i);
  EXPECT_TRUE(is_error(restored->check_append(header(1, 1, 99, true)).status(),
                       StatusCode::kOutOfOrderSequence));
  expect_new(*restored, header(7, 1, 7, true));

  Bytes damaged = state.snapshot();
  damaged[damaged.size() / 2] ^= 0x10;
  EXPECT_TRUE(is_error(ProducerState::from_snapshot(damaged).status(), StatusCode::kCorruption));
}

}  // namespace
}  // namespace sluice::logstore

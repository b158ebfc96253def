// Transactions: visibility to read-committed and read-uncommitted readers, the last stable
// offset, aborts, atomic commits over several partitions, fencing of older instances and
// timed-out transactions, and recovery at each crash boundary of a commit
// (docs: EXACTLY-ONCE.md, "Crash analysis").
#include <gtest/gtest.h>

#include "fault_injection_fs.h"
#include "sluice/base/sync_point.h"
#include "sluice/logstore/log_store.h"
#include "store_test_fixture.h"

namespace sluice::logstore {
namespace {

using testing::concat;
using testing::encode;
using testing::is_error;
using testing::numbered_values;
using testing::RecordSet;

constexpr std::string_view kBeforePrepareCommit = "TransactionCoordinator::BeforePrepareCommit";
constexpr std::string_view kAfterPrepareCommit = "TransactionCoordinator::AfterPrepareCommit";
constexpr std::string_view kAfterMarker = "TransactionCoordinator::AfterMarker";
constexpr std::string_view kAfterCheckAppend = "TransactionCoordinator::AfterCheckAppend";

class TransactionTest : public testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    create("a", {.partitions = 2});
    create("b");
  }

  std::unique_ptr<Producer> producer(const std::string& transactional_id,
                                     int64_t timeout_ms = 60'000) {
    auto made = store_->create_producer(
        {.transactional_id = transactional_id, .transaction_timeout_ms = timeout_ms});
    EXPECT_TRUE(made.ok()) << made.status().to_string();
    return made.ok() ? std::move(made).value() : nullptr;
  }

  static void send(Producer& p, const TopicPartition& where, const RecordSet& records) {
    auto r = p.append(where, records.records());
    EXPECT_TRUE(r.ok()) << r.status().to_string();
  }

  // A transactional batch as a Kafka producer sends it.
  static Bytes txn_batch(ProducerIdentity id, int32_t seq, int first, int n) {
    return encode(RecordSet::numbered(first, n), {.producer_id = id.id,
                                                  .producer_epoch = id.epoch,
                                                  .base_sequence = Sequence(seq),
                                                  .transactional = true});
  }

  Result<AppendResult> send_raw(const TopicPartition& where, Bytes b) {
    return store_->append_batch(where, b);
  }

  // The commit markers (control batches of type commit) stored in `where`.
  int commit_markers(const TopicPartition& where) {
    auto bytes = testing::fetch_all_batches(*store_, where);
    EXPECT_TRUE(bytes.ok()) << bytes.status().to_string();
    int n = 0;
    ByteView rest = bytes.ok() ? ByteView(*bytes) : ByteView();
    while (!rest.empty()) {
      auto batch = RecordBatchView::parse(rest);
      if (!batch.ok()) break;
      rest.remove_prefix(batch->bytes().size());
      if (!batch->header().control()) continue;
      auto marker = read_control_record(*batch);
      EXPECT_TRUE(marker.ok());
      if (marker.ok() && marker->type == ControlType::kCommit) ++n;
    }
    return n;
  }

  void expect_stable_at(const TopicPartition& where, int64_t stable) {
    EXPECT_EQ(ends(where).stable.offset(), Offset(stable)) << where.to_string();
  }

  void expect_stable_at_end(const TopicPartition& where) {
    const PartitionEnds e = ends(where);
    EXPECT_EQ(e.stable.offset(), e.high_watermark.offset()) << where.to_string();
  }
};

// --- visibility ---

TEST_F(TransactionTest, CommittedDataBecomesVisibleToReadCommittedReadersOnlyAtCommit) {
  auto p = producer("tx");
  SLUICE_ASSERT_OK(p->begin_transaction());
  send(*p, tp("a"), RecordSet::numbered(0, 3));

  EXPECT_TRUE(values(tp("a")).empty());
  EXPECT_EQ(uncommitted_values(tp("a")), numbered_values(0, 3));
  expect_stable_at(tp("a"), 0);
  EXPECT_EQ(ends(tp("a")).high_watermark.offset(), Offset(3));

  SLUICE_ASSERT_OK(p->commit_transaction());
  EXPECT_EQ(values(tp("a")), numbered_values(0, 3));
  EXPECT_EQ(ends(tp("a")).high_watermark.offset(), Offset(4));  // the commit marker
  expect_stable_at_end(tp("a"));
}

TEST_F(TransactionTest, LastStableOffsetStopsAtTheFirstOffsetOfTheOldestOpenTransaction) {
  append(tp("a"), RecordSet::numbered(0, 2));  // 0-1
  auto older = producer("older");
  SLUICE_ASSERT_OK(older->begin_transaction());
  send(*older, tp("a"), RecordSet::numbered(2, 2));  // 2-3
  auto plain = store_->create_producer({});
  ASSERT_TRUE(plain.ok());
  send(**plain, tp("a"), RecordSet::numbered(4, 2));  // 4-5, not transactional
  auto newer = producer("newer");
  SLUICE_ASSERT_OK(newer->begin_transaction());
  send(*newer, tp("a"), RecordSet::numbered(6, 1));  // 6

  expect_stable_at(tp("a"), 2);
  EXPECT_EQ(values(tp("a")), numbered_values(0, 2));
  EXPECT_EQ(uncommitted_values(tp("a")), numbered_values(0, 7));

  // Committing the newer transaction does not move past the older one.
  SLUICE_ASSERT_OK(newer->commit_transaction());
  expect_stable_at(tp("a"), 2);
  EXPECT_EQ(values(tp("a")), numbered_values(0, 2));

  SLUICE_ASSERT_OK(older->commit_transaction());
  expect_stable_at_end(tp("a"));
  EXPECT_EQ(values(tp("a")), numbered_values(0, 7));
}

TEST_F(TransactionTest, AbortedDataIsVisibleToReadUncommittedReadersOnly) {
  auto p = producer("tx");
  SLUICE_ASSERT_OK(p->begin_transaction());
  send(*p, tp("a"), RecordSet::numbered(0, 2));  // 0-1, abort marker at 2
  SLUICE_ASSERT_OK(p->abort_transaction());
  SLUICE_ASSERT_OK(p->begin_transaction());
  send(*p, tp("a"), RecordSet::numbered(2, 2));  // 3-4, commit marker at 5
  SLUICE_ASSERT_OK(p->commit_transaction());

  EXPECT_EQ(values(tp("a")), numbered_values(2, 2));
  EXPECT_EQ(uncommitted_values(tp("a")), numbered_values(0, 4));
  expect_stable_at_end(tp("a"));

  auto fetched = store_->fetch({.partition = tp("a"), .offset = Offset(0)});
  ASSERT_TRUE(fetched.ok()) << fetched.status().to_string();
  EXPECT_EQ(fetched->aborted,
            (std::vector<AbortedTransaction>{{p->identity().id, Offset(0), Offset(2)}}));
  // A read-committed reader starting after the aborted transaction is not told about it.
  auto later = store_->fetch({.partition = tp("a"), .offset = Offset(3)});
  ASSERT_TRUE(later.ok());
  EXPECT_TRUE(later->aborted.empty());
}

TEST_F(TransactionTest, AbortOfOneProducerHidesOnlyItsOwnBatches) {
  auto aborting = producer("aborting");
  auto committing = producer("committing");
  SLUICE_ASSERT_OK(aborting->begin_transaction());
  SLUICE_ASSERT_OK(committing->begin_transaction());
  send(*aborting, tp("a"), RecordSet::numbered(0, 1));    // 0
  send(*committing, tp("a"), RecordSet::numbered(1, 1));  // 1
  send(*aborting, tp("a"), RecordSet::numbered(2, 1));    // 2
  append(tp("a"), RecordSet::numbered(3, 1));             // 3, plain
  send(*committing, tp("a"), RecordSet::numbered(4, 1));  // 4
  SLUICE_ASSERT_OK(aborting->abort_transaction());        // 5
  expect_stable_at(tp("a"), 1);
  SLUICE_ASSERT_OK(committing->commit_transaction());  // 6

  EXPECT_EQ(values(tp("a")), (std::vector<std::string>{"v1", "v3", "v4"}));
  EXPECT_EQ(uncommitted_values(tp("a")), numbered_values(0, 5));
  expect_stable_at_end(tp("a"));
}

TEST_F(TransactionTest, TransactionOverSeveralPartitionsAndTopicsBecomesVisibleAtOnce) {
  auto p = producer("tx");
  SLUICE_ASSERT_OK(p->begin_transaction());
  send(*p, tp("a", 0), RecordSet::numbered(0, 2));
  send(*p, tp("a", 1), RecordSet::numbered(2, 1));
  send(*p, tp("b"), RecordSet::numbered(3, 3));
  send(*p, tp("a", 0), RecordSet::numbered(6, 1));
  for (const TopicPartition& where : {tp("a", 0), tp("a", 1), tp("b")}) {
    EXPECT_TRUE(values(where).empty()) << where.to_string();
    expect_stable_at(where, 0);
  }

  SLUICE_ASSERT_OK(p->commit_transaction());
  EXPECT_EQ(values(tp("a", 0)), concat(numbered_values(0, 2), numbered_values(6, 1)));
  EXPECT_EQ(values(tp("a", 1)), numbered_values(2, 1));
  EXPECT_EQ(values(tp("b")), numbered_values(3, 3));
  for (const TopicPartition& where : {tp("a", 0), tp("a", 1), tp("b")}) {
    expect_stable_at_end(where);
    EXPECT_EQ(commit_markers(where), 1) << where.to_string();
  }
}

TEST_F(TransactionTest, EmptyTransactionsCommitAndAbortWhateverCameBefore) {
  auto p = producer("tx");
  SLUICE_ASSERT_OK(p->begin_transaction());
  send(*p, tp("a"), RecordSet::numbered(0, 1));
  SLUICE_ASSERT_OK(p->commit_transaction());
  SLUICE_ASSERT_OK(p->begin_transaction());
  SLUICE_ASSERT_OK(p->abort_transaction());  // empty, after a commit
  SLUICE_ASSERT_OK(p->begin_transaction());
  send(*p, tp("a"), RecordSet::numbered(1, 1));
  SLUICE_ASSERT_OK(p->abort_transaction());
  SLUICE_ASSERT_OK(p->begin_transaction());
  SLUICE_ASSERT_OK(p->commit_transaction());  // empty, after an abort
  SLUICE_ASSERT_OK(p->begin_transaction());
  send(*p, tp("a"), RecordSet::numbered(2, 1));
  SLUICE_ASSERT_OK(p->commit_transaction());

  EXPECT_EQ(values(tp("a")), (std::vector<std::string>{"v0", "v2"}));
  expect_stable_at_end(tp("a"));
}

// --- producer rules ---

TEST_F(TransactionTest, TransactionalProducerAppendsOnlyInsideATransaction) {
  auto p = producer("tx");
  EXPECT_TRUE(is_error(p->append(tp("a"), RecordSet::numbered(0, 1).records()).status(),
                       StatusCode::kInvalidTxnState, {"begin_transaction"}));
  EXPECT_TRUE(is_error(p->commit_transaction(), StatusCode::kInvalidTxnState));
  EXPECT_TRUE(is_error(p->abort_transaction(), StatusCode::kInvalidTxnState));
  SLUICE_ASSERT_OK(p->begin_transaction());
  EXPECT_TRUE(is_error(p->begin_transaction(), StatusCode::kInvalidTxnState));

  auto idempotent = store_->create_producer({});
  ASSERT_TRUE(idempotent.ok());
  EXPECT_TRUE(is_error((*idempotent)->begin_transaction(), StatusCode::kFailedPrecondition));
  EXPECT_EQ(ends(tp("a")).high_watermark.offset(), Offset(0));
}

TEST_F(TransactionTest, FailedAppendInATransactionMustBeFollowedByAnAbort) {
  auto p = producer("tx");
  SLUICE_ASSERT_OK(p->begin_transaction());
  send(*p, tp("a"), RecordSet::numbered(0, 1));
  EXPECT_TRUE(is_error(p->append(tp("nope"), RecordSet::numbered(1, 1).records()).status(),
                       StatusCode::kNotFound));
  EXPECT_TRUE(is_error(p->commit_transaction(), StatusCode::kInvalidTxnState, {"abort"}));
  SLUICE_ASSERT_OK(p->abort_transaction());
  EXPECT_TRUE(values(tp("a")).empty());
  expect_stable_at_end(tp("a"));

  SLUICE_ASSERT_OK(p->begin_transaction());
  send(*p, tp("a"), RecordSet::numbered(2, 1));
  SLUICE_ASSERT_OK(p->commit_transaction());
  EXPECT_EQ(values(tp("a")), numbered_values(2, 1));
}

TEST_F(TransactionTest, RefusedFirstAppendLeavesNothingOpenToTimeOut) {
  auto p = producer("tx", /*timeout_ms=*/1'000);
  SLUICE_ASSERT_OK(p->begin_transaction());
  EXPECT_TRUE(is_error(p->append(tp("nope"), RecordSet::numbered(0, 1).records()).status(),
                       StatusCode::kNotFound));
  SLUICE_ASSERT_OK(p->abort_transaction());

  // Nothing was left open that could time out and fence the producer.
  clock_.advance_ms(5'000);
  SLUICE_ASSERT_OK(store_->abort_timed_out_transactions());
  SLUICE_ASSERT_OK(p->begin_transaction());
  send(*p, tp("a"), RecordSet::numbered(1, 1));
  SLUICE_ASSERT_OK(p->commit_transaction());
  EXPECT_EQ(values(tp("a")), numbered_values(1, 1));
}

// --- the raw LogStore API ---

TEST_F(TransactionTest, RawApiCommitsOnlyPartitionsAddedToTheTransaction) {
  auto id = store_->init_producer_id("raw", 60'000);
  ASSERT_TRUE(id.ok()) << id.status().to_string();

  EXPECT_TRUE(is_error(send_raw(tp("a"), txn_batch(*id, 0, 0, 2)).status(),
                       StatusCode::kInvalidTxnState, {"has not added partition a/0"}));
  SLUICE_ASSERT_OK(store_->add_partitions_to_transaction("raw", *id, {tp("a"), tp("b")}));
  auto appended = send_raw(tp("a"), txn_batch(*id, 0, 0, 2));
  ASSERT_TRUE(appended.ok()) << appended.status().to_string();
  EXPECT_TRUE(values(tp("a")).empty());

  SLUICE_ASSERT_OK(store_->end_transaction("raw", *id, /*commit=*/true));
  EXPECT_EQ(values(tp("a")), numbered_values(0, 2));
  // A retried commit is answered again; an abort of what was committed is refused.
  SLUICE_EXPECT_OK(store_->end_transaction("raw", *id, true));
  EXPECT_TRUE(is_error(store_->end_transaction("raw", *id, false), StatusCode::kInvalidTxnState,
                       {"cannot abort"}));
  // Partition b was added but never written: it holds no marker.
  EXPECT_EQ(ends(tp("b")).high_watermark.offset(), Offset(0));
  EXPECT_TRUE(is_error(store_->add_partitions_to_transaction("raw", *id, {tp("nope")}),
                       StatusCode::kNotFound));
}

TEST_F(TransactionTest, RefusedAddPartitionsOpensNoTransaction) {
  auto id = store_->init_producer_id("raw", /*timeout_ms=*/1'000);
  ASSERT_TRUE(id.ok());
  EXPECT_TRUE(is_error(store_->add_partitions_to_transaction("raw", *id, {tp("a"), tp("nope")}),
                       StatusCode::kNotFound));
  // Had the refused request opened a transaction, it would time out now and fence the producer.
  clock_.advance_ms(5'000);
  SLUICE_ASSERT_OK(store_->abort_timed_out_transactions());
  SLUICE_ASSERT_OK(store_->add_partitions_to_transaction("raw", *id, {tp("a")}));
  ASSERT_TRUE(send_raw(tp("a"), txn_batch(*id, 0, 0, 1)).ok());
  SLUICE_ASSERT_OK(store_->end_transaction("raw", *id, true));
  EXPECT_EQ(values(tp("a")), numbered_values(0, 1));
}

TEST_F(TransactionTest, NewInstanceFencesTheOldOneAndAbortsItsTransaction) {
  auto old = producer("tx");
  SLUICE_ASSERT_OK(old->begin_transaction());
  send(*old, tp("a"), RecordSet::numbered(0, 2));

  auto fresh = producer("tx");
  EXPECT_EQ(fresh->identity().id, old->identity().id);
  EXPECT_GT(fresh->identity().epoch, old->identity().epoch);
  // The old instance's transaction was aborted.
  expect_stable_at_end(tp("a"));
  EXPECT_TRUE(values(tp("a")).empty());
  EXPECT_EQ(uncommitted_values(tp("a")), numbered_values(0, 2));

  EXPECT_TRUE(is_error(old->append(tp("a"), RecordSet::numbered(2, 1).records()).status(),
                       StatusCode::kProducerFenced, {"fenced", "close this producer"}));
  EXPECT_TRUE(is_error(old->commit_transaction(), StatusCode::kProducerFenced));
  EXPECT_TRUE(is_error(old->abort_transaction(), StatusCode::kProducerFenced));

  SLUICE_ASSERT_OK(fresh->begin_transaction());
  send(*fresh, tp("a"), RecordSet::numbered(3, 1));
  SLUICE_ASSERT_OK(fresh->commit_transaction());
  EXPECT_EQ(values(tp("a")), numbered_values(3, 1));
}

TEST_F(TransactionTest, AppendOfAFencedInstanceThatRacesTheAbortIsRefused) {
  auto zombie = producer("tx");
  SLUICE_ASSERT_OK(zombie->begin_transaction());
  send(*zombie, tp("a", 0), RecordSet::numbered(0, 1));
  // The zombie's first append to a/1 passes the coordinator's check; before it reaches the
  // partition, a new instance starts and aborts the zombie's transaction.
  std::unique_ptr<Producer> successor;
  sync_point::set_callback(kAfterCheckAppend, [&] {
    if (!successor) successor = producer("tx");
  });
  auto late = zombie->append(tp("a", 1), RecordSet::numbered(1, 1).records());
  sync_point::clear_all();
  ASSERT_TRUE(successor);

  EXPECT_TRUE(is_error(late.status(), StatusCode::kProducerFenced));
  for (const TopicPartition& where : {tp("a", 0), tp("a", 1)}) {
    expect_stable_at_end(where);
    EXPECT_TRUE(values(where).empty()) << where.to_string();
  }
  SLUICE_ASSERT_OK(successor->begin_transaction());
  send(*successor, tp("a", 1), RecordSet::numbered(2, 1));
  SLUICE_ASSERT_OK(successor->commit_transaction());
  EXPECT_EQ(values(tp("a", 1)), numbered_values(2, 1));
}

TEST_F(TransactionTest, FencedWriterIsRefusedThroughTheRawApi) {
  auto old = store_->init_producer_id("raw", 60'000);
  ASSERT_TRUE(old.ok());
  SLUICE_ASSERT_OK(store_->add_partitions_to_transaction("raw", *old, {tp("a")}));
  ASSERT_TRUE(send_raw(tp("a"), txn_batch(*old, 0, 0, 2)).ok());

  auto fresh = store_->init_producer_id("raw", 60'000);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->id, old->id);
  EXPECT_GT(fresh->epoch, old->epoch);
  expect_stable_at_end(tp("a"));

  const std::string who = "producer " + std::to_string(old->id.value()) + " epoch " +
                          std::to_string(old->epoch.value()) + " is fenced";
  EXPECT_TRUE(is_error(send_raw(tp("a"), txn_batch(*old, 2, 2, 1)).status(),
                       StatusCode::kProducerFenced, {who}));
  EXPECT_TRUE(is_error(store_->add_partitions_to_transaction("raw", *old, {tp("b")}),
                       StatusCode::kProducerFenced, {who}));
  EXPECT_TRUE(is_error(store_->end_transaction("raw", *old, true), StatusCode::kProducerFenced));
  EXPECT_TRUE(is_error(store_->end_transaction("raw", *old, false), StatusCode::kProducerFenced));
  // Outside a transaction too: the abort marker told the partition about the newer epoch.
  Bytes idempotent =
      encode(RecordSet::numbered(9, 1),
             {.producer_id = old->id, .producer_epoch = old->epoch, .base_sequence = Sequence(2)});
  EXPECT_TRUE(is_error(send_raw(tp("a"), idempotent).status(), StatusCode::kProducerFenced));
  EXPECT_EQ(uncommitted_values(tp("a")), numbered_values(0, 2));

  SLUICE_ASSERT_OK(store_->add_partitions_to_transaction("raw", *fresh, {tp("a")}));
  ASSERT_TRUE(send_raw(tp("a"), txn_batch(*fresh, 0, 5, 1)).ok());
  SLUICE_ASSERT_OK(store_->end_transaction("raw", *fresh, true));
  EXPECT_EQ(values(tp("a")), numbered_values(5, 1));
}

// --- timeouts ---

TEST_F(TransactionTest, TransactionOpenLongerThanItsTimeoutIsAbortedAndItsProducerFenced) {
  auto p = producer("slow", /*timeout_ms=*/1'000);
  SLUICE_ASSERT_OK(p->begin_transaction());
  send(*p, tp("a"), RecordSet::numbered(0, 2));

  clock_.advance_ms(999);
  SLUICE_ASSERT_OK(store_->abort_timed_out_transactions());
  expect_stable_at(tp("a"), 0);

  clock_.advance_ms(1);
  SLUICE_ASSERT_OK(store_->abort_timed_out_transactions());
  expect_stable_at_end(tp("a"));
  EXPECT_TRUE(values(tp("a")).empty());
  EXPECT_EQ(uncommitted_values(tp("a")), numbered_values(0, 2));

  EXPECT_TRUE(is_error(p->commit_transaction(), StatusCode::kProducerFenced, {"timed out"}));
  EXPECT_TRUE(is_error(p->append(tp("a"), RecordSet::numbered(2, 1).records()).status(),
                       StatusCode::kProducerFenced));

  auto next = producer("slow", 1'000);
  SLUICE_ASSERT_OK(next->begin_transaction());
  send(*next, tp("a"), RecordSet::numbered(3, 1));
  SLUICE_ASSERT_OK(next->commit_transaction());
  EXPECT_EQ(values(tp("a")), numbered_values(3, 1));
}

TEST_F(TransactionTest, TransactionOfTheLastEpochIsAbortedWhenItsIdMovesToANewProducerId) {
  auto first = store_->init_producer_id("worn", 60'000);
  ASSERT_TRUE(first.ok());
  // Fast-forward: as if "worn" had been restarted 32765 times, write its state at epoch 32765
  // into the transaction log.
  RecordSet record;
  record.add("worn", "{\"pid\":" + std::to_string(first->id.value()) +
                         ",\"epoch\":" + std::to_string(INT16_MAX - 2) +
                         ",\"state\":\"Empty\",\"partitions\":[],\"timeout_ms\":60000}");
  Bytes b = encode(record);
  ASSERT_TRUE(store_->append_batch(tp(std::string(kTransactionStateTopic)), b).ok());
  close();
  ASSERT_NO_FATAL_FAILURE(open());

  auto last = producer("worn");  // the last epoch a producer gets
  EXPECT_EQ(last->identity().id, first->id);
  EXPECT_EQ(last->identity().epoch, ProducerEpoch(INT16_MAX - 1));
  SLUICE_ASSERT_OK(last->begin_transaction());
  send(*last, tp("a"), RecordSet::numbered(0, 2));

  auto next = producer("worn");
  EXPECT_NE(next->identity().id, first->id);
  EXPECT_EQ(next->identity().epoch, ProducerEpoch(0));
  // The abort still reached the partition, under the producer id that wrote the data.
  expect_stable_at_end(tp("a"));
  EXPECT_TRUE(values(tp("a")).empty());
  EXPECT_TRUE(is_error(last->commit_transaction(), StatusCode::kProducerFenced));

  SLUICE_ASSERT_OK(next->begin_transaction());
  send(*next, tp("a"), RecordSet::numbered(2, 1));
  SLUICE_ASSERT_OK(next->commit_transaction());
  EXPECT_EQ(values(tp("a")), numbered_values(2, 1));
}

// --- recovery ---

TEST_F(TransactionTest, TransactionOpenAtCloseIsAbortedOnReopen) {
  auto p = producer("tx");
  const ProducerIdentity id = p->identity();
  SLUICE_ASSERT_OK(p->begin_transaction());
  send(*p, tp("a"), RecordSet::numbered(0, 2));
  send(*p, tp("b"), RecordSet::numbered(2, 1));
  p.reset();
  close();
  ASSERT_NO_FATAL_FAILURE(open());

  EXPECT_EQ(report_.transactions_aborted, 1);
  EXPECT_EQ(report_.transactions_rolled_forward, 0);
  for (const TopicPartition& where : {tp("a"), tp("b")}) {
    EXPECT_TRUE(values(where).empty()) << where.to_string();
    expect_stable_at_end(where);
  }
  EXPECT_EQ(uncommitted_values(tp("a")), numbered_values(0, 2));
  auto fetched = store_->fetch({.partition = tp("a"), .offset = Offset(0)});
  ASSERT_TRUE(fetched.ok());
  EXPECT_EQ(fetched->aborted, (std::vector<AbortedTransaction>{{id.id, Offset(0), Offset(2)}}));

  // The next instance starts with a newer epoch and commits normally.
  auto next = producer("tx");
  EXPECT_GT(next->identity().epoch, id.epoch);
  SLUICE_ASSERT_OK(next->begin_transaction());
  send(*next, tp("a"), RecordSet::numbered(3, 1));
  SLUICE_ASSERT_OK(next->commit_transaction());
  EXPECT_EQ(values(tp("a")), numbered_values(3, 1));

  // Nothing is left to recover.
  next.reset();
  close();
  ASSERT_NO_FATAL_FAILURE(open());
  EXPECT_EQ(report_.transactions_aborted, 0);
  EXPECT_EQ(report_.transactions_rolled_forward, 0);
}

// Power cuts at the boundaries of a commit. The topic syncs every batch, so the transaction's
// data is durable before the commit starts; whatever the commit wrote after the cut is lost.
class TransactionCrashTest : public TransactionTest {
 protected:
  void SetUp() override {
    TransactionTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(open(&fs_));
    create("d", {.partitions = 2, .flush_policy = FlushPolicy::kEveryBatch});
  }

  // A transaction with data in both partitions of `d`, committed with the power cut where the
  // test's sync point callback says; then the machine restarts and the store is recovered.
  void commit_with_power_cut() {
    auto p = producer("tx");
    id_ = p->identity();
    SLUICE_ASSERT_OK(p->begin_transaction());
    send(*p, tp("d", 0), RecordSet::numbered(0, 2));
    send(*p, tp("d", 1), RecordSet::numbered(2, 1));
    EXPECT_TRUE(is_error(p->commit_transaction(), StatusCode::kIOError, {"power cut"}));
    EXPECT_TRUE(fs_.dead());
    restart(std::move(p));
  }

  void restart(std::unique_ptr<Producer> p) {
    sync_point::clear_all();
    p.reset();
    store_.reset();  // closing fails: the power is off
    SLUICE_ASSERT_OK(fs_.apply_power_cut());
    ASSERT_NO_FATAL_FAILURE(open());  // the real file system
  }

  void cut_power_at(std::string_view point) {
    sync_point::set_callback(point, [this] { fs_.power_cut(); });
  }

  testing::FaultInjectionFileSystem fs_;
  ProducerIdentity id_;
};

TEST_F(TransactionCrashTest, PowerCutBeforePrepareCommitAbortsTheTransactionOnReopen) {
  cut_power_at(kBeforePrepareCommit);
  ASSERT_NO_FATAL_FAILURE(commit_with_power_cut());

  EXPECT_EQ(report_.transactions_aborted, 1);
  EXPECT_EQ(report_.transactions_rolled_forward, 0);
  for (const TopicPartition& where : {tp("d", 0), tp("d", 1)}) {
    EXPECT_TRUE(values(where).empty()) << where.to_string();
    expect_stable_at_end(where);
    EXPECT_EQ(commit_markers(where), 0);
  }
  EXPECT_EQ(uncommitted_values(tp("d", 0)), numbered_values(0, 2));
  EXPECT_EQ(uncommitted_values(tp("d", 1)), numbered_values(2, 1));
}

TEST_F(TransactionCrashTest, PowerCutAfterPrepareCommitRollsTheTransactionForwardOnReopen) {
  cut_power_at(kAfterPrepareCommit);
  ASSERT_NO_FATAL_FAILURE(commit_with_power_cut());

  EXPECT_EQ(report_.transactions_rolled_forward, 1);
  EXPECT_EQ(report_.transactions_aborted, 0);
  EXPECT_EQ(values(tp("d", 0)), numbered_values(0, 2));
  EXPECT_EQ(values(tp("d", 1)), numbered_values(2, 1));
  for (const TopicPartition& where : {tp("d", 0), tp("d", 1)}) {
    expect_stable_at_end(where);
    EXPECT_EQ(commit_markers(where), 1) << where.to_string();
  }
  // The transactional id goes on with a newer epoch.
  auto next = producer("tx");
  EXPECT_GT(next->identity().epoch, id_.epoch);
}

TEST_F(TransactionCrashTest, DataOfIntervalFlushedTopicsIsDurableBeforeTheCommitPoint) {
  // Topics a and b sync by interval: nothing has synced their data when the commit starts.
  auto p = producer("tx");
  SLUICE_ASSERT_OK(p->begin_transaction());
  send(*p, tp("a"), RecordSet::numbered(0, 2));
  send(*p, tp("b"), RecordSet::numbered(2, 1));
  cut_power_at(kAfterPrepareCommit);
  EXPECT_TRUE(is_error(p->commit_transaction(), StatusCode::kIOError));
  ASSERT_NO_FATAL_FAILURE(restart(std::move(p)));

  // Committed, so all of it survived.
  EXPECT_EQ(report_.transactions_rolled_forward, 1);
  EXPECT_EQ(values(tp("a")), numbered_values(0, 2));
  EXPECT_EQ(values(tp("b")), numbered_values(2, 1));
}

TEST_F(TransactionCrashTest, PowerCutBetweenMarkersRollsForwardWithoutRepeatingAMarker) {
  cut_power_at(kAfterMarker);
  ASSERT_NO_FATAL_FAILURE(commit_with_power_cut());

  EXPECT_EQ(report_.transactions_rolled_forward, 1);
  EXPECT_EQ(report_.transactions_aborted, 0);
  EXPECT_EQ(values(tp("d", 0)), numbered_values(0, 2));
  EXPECT_EQ(values(tp("d", 1)), numbered_values(2, 1));
  for (const TopicPartition& where : {tp("d", 0), tp("d", 1)}) {
    EXPECT_EQ(commit_markers(where), 1) << where.to_string();
  }
}

TEST_F(TransactionCrashTest, FailedPrepareCommitWriteIsWrittenAgainWhenTheCommitIsRetried) {
  auto p = producer("tx");
  SLUICE_ASSERT_OK(p->begin_transaction());
  send(*p, tp("d", 0), RecordSet::numbered(0, 2));
  send(*p, tp("d", 1), RecordSet::numbered(2, 1));
  // The disk is full exactly when the commit point is to be written.
  sync_point::set_callback(kBeforePrepareCommit, [this] { fs_.set_space_left(0); });
  EXPECT_TRUE(is_error(p->commit_transaction(), StatusCode::kNoSpace));
  sync_point::clear_all();
  fs_.set_space_left(-1);
  EXPECT_TRUE(values(tp("d", 0)).empty());

  // The retry must write the commit point before any marker: with the power cut after the
  // first marker, recovery must still complete the commit everywhere.
  cut_power_at(kAfterMarker);
  EXPECT_TRUE(is_error(p->commit_transaction(), StatusCode::kIOError));
  ASSERT_NO_FATAL_FAILURE(restart(std::move(p)));

  EXPECT_EQ(report_.transactions_rolled_forward, 1);
  EXPECT_EQ(values(tp("d", 0)), numbered_values(0, 2));
  EXPECT_EQ(values(tp("d", 1)), numbered_values(2, 1));
}

TEST_F(TransactionCrashTest, CommitThatFailedCanBeRetriedByTheProducer) {
  auto p = producer("tx");
  SLUICE_ASSERT_OK(p->begin_transaction());
  send(*p, tp("d", 0), RecordSet::numbered(0, 2));
  sync_point::set_callback(kBeforePrepareCommit, [this] { fs_.set_space_left(0); });
  EXPECT_TRUE(is_error(p->commit_transaction(), StatusCode::kNoSpace));
  sync_point::clear_all();
  fs_.set_space_left(-1);

  SLUICE_ASSERT_OK(p->commit_transaction());
  EXPECT_EQ(values(tp("d", 0)), numbered_values(0, 2));
  expect_stable_at_end(tp("d", 0));
}

TEST_F(TransactionCrashTest, CommitThatFailedAfterItsCommitPointCanOnlyBeCompleted) {
  auto p = producer("tx");
  SLUICE_ASSERT_OK(p->begin_transaction());
  send(*p, tp("d", 0), RecordSet::numbered(0, 2));
  // The commit point is written, then the disk fills up before the marker.
  sync_point::set_callback(kAfterPrepareCommit, [this] { fs_.set_space_left(0); });
  EXPECT_TRUE(is_error(p->commit_transaction(), StatusCode::kNoSpace));
  sync_point::clear_all();
  fs_.set_space_left(-1);
  EXPECT_TRUE(values(tp("d", 0)).empty());

  EXPECT_TRUE(is_error(p->abort_transaction(), StatusCode::kInvalidTxnState));
  SLUICE_ASSERT_OK(p->commit_transaction());
  EXPECT_EQ(values(tp("d", 0)), numbered_values(0, 2));
}

TEST_F(TransactionCrashTest, CommitLeftHalfDoneIsFinishedByTheLogWhenItsProducerIsGone) {
  auto p = producer("tx");
  SLUICE_ASSERT_OK(p->begin_transaction());
  send(*p, tp("d", 0), RecordSet::numbered(0, 2));
  send(*p, tp("d", 1), RecordSet::numbered(2, 1));
  // Past the commit point the first marker is written, then the disk fills up.
  sync_point::set_callback(kAfterMarker, [this] { fs_.set_space_left(0); });
  EXPECT_TRUE(is_error(p->commit_transaction(), StatusCode::kNoSpace));
  sync_point::clear_all();
  fs_.set_space_left(-1);
  p.reset();  // the producer never retries
  expect_stable_at(tp("d", 1), 0);

  // Background maintenance finishes the commit.
  SLUICE_ASSERT_OK(store_->abort_timed_out_transactions());
  EXPECT_EQ(values(tp("d", 0)), numbered_values(0, 2));
  EXPECT_EQ(values(tp("d", 1)), numbered_values(2, 1));
  for (const TopicPartition& where : {tp("d", 0), tp("d", 1)}) {
    expect_stable_at_end(where);
    EXPECT_EQ(commit_markers(where), 1) << where.to_string();
  }
}

}  // namespace
}  // namespace sluice::logstore

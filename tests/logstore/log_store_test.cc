// The log store through its public API: topics, appends, reads, segments, reopen.
#include "sluice/logstore/log_store.h"

#include <gtest/gtest.h>

#include "sluice/base/crc32c.h"

#include <filesystem>
#include <thread>

#include "log_test_util.h"
#include "temp_dir.h"

namespace sluice::logstore {
namespace {

using testing::read_all;
using testing::RecordSet;

class LogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  void open() {
    store_.reset();
    LogStoreOptions options;
    options.data_dir = dir_.path();
    options.clock = &clock_;
    options.background_maintenance = false;
    report_ = OpenReport{};
    auto opened = LogStore::open(options, &report_);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
  }

  TopicPartition tp(const std::string& topic, int p = 0) { return {topic, PartitionId(p)}; }

  void create(const std::string& name, TopicConfig config = {}) {
    Status s = store_->create_topic(name, config);
    ASSERT_TRUE(s.ok()) << s.to_string();
  }

  AppendResult append(const TopicPartition& where, const RecordSet& records) {
    auto r = store_->append(where, records.records());
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : AppendResult{};
  }

  testing::TempDir dir_;
  ManualClock clock_;
  OpenReport report_;
  std::unique_ptr<LogStore> store_;
};

TEST_F(LogStoreTest, CreatesTopicWithPartitionsAndListsIt) {
  create("orders", {.partitions = 3});
  auto topics = store_->list_topics();
  EXPECT_NE(std::find(topics.begin(), topics.end(), "orders"), topics.end());
  auto d = store_->describe_topic("orders");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->partitions.size(), 3u);
  EXPECT_EQ(d->config.partitions, 3);
}

TEST_F(LogStoreTest, RefusesDuplicateAndMalformedTopicNames) {
  create("orders");
  EXPECT_EQ(store_->create_topic("orders", {}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->create_topic("", {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->create_topic("a/b", {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->create_topic("__mine", {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->create_topic("x", {.partitions = 0}).code(), StatusCode::kInvalidArgument);
}

TEST_F(LogStoreTest, AppendsAssignDenseOffsetsAcrossBatches) {
  create("t");
  auto a = append(tp("t"), RecordSet::numbered(0, 3));
  auto b = append(tp("t"), RecordSet::numbered(3, 2));
  EXPECT_EQ(a.base_offset, Offset(0));
  EXPECT_EQ(a.last_offset, Offset(2));
  EXPECT_EQ(b.base_offset, Offset(3));
  EXPECT_EQ(b.last_offset, Offset(4));
  auto records = read_all(*store_, tp("t"));
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ((*records)[i].offset, Offset(i));
    EXPECT_EQ((*records)[i].key, "k" + std::to_string(i));
    EXPECT_EQ((*records)[i].value, "v" + std::to_string(i));
  }
}

TEST_F(LogStoreTest, ReadFromMiddleOfBatchReturnsTheWholeBatch) {
  create("t");
  append(tp("t"), RecordSet::numbered(0, 10));
  auto r = store_->fetch({.partition = tp("t"), .offset = Offset(4)});
  ASSERT_TRUE(r.ok());
  auto batch = RecordBatchView::parse(r->batches);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->header().base_offset, Offset(0));
  EXPECT_EQ(r->next_offset, Offset(10));
  auto from4 = read_all(*store_, tp("t"), IsolationLevel::kReadCommitted, Offset(4));
  ASSERT_TRUE(from4.ok());
  ASSERT_EQ(from4->size(), 6u);
  EXPECT_EQ(from4->front().offset, Offset(4));
}

TEST_F(LogStoreTest, ReadStopsAtMaxBytesButAlwaysReturnsOneBatch) {
  create("t");
  // Keys of equal length, so that every batch has the same size.
  for (int i = 0; i < 10; ++i) append(tp("t"), RecordSet::numbered(100 + i * 10, 10));
  auto one = store_->fetch({.partition = tp("t"), .offset = Offset(0), .max_bytes = 1});
  ASSERT_TRUE(one.ok());
  auto batch = RecordBatchView::parse(one->batches);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->bytes().size(), one->batches.size());
  EXPECT_EQ(one->next_offset, Offset(10));
  auto some = store_->fetch(
      {.partition = tp("t"), .offset = Offset(0), .max_bytes = 2 * one->batches.size() + 5});
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(some->batches.size(), 2 * one->batches.size());
  EXPECT_EQ(some->next_offset, Offset(20));
}

TEST_F(LogStoreTest, ReadAtTheEndIsEmptyAndPastTheEndIsOutOfRange) {
  create("t");
  append(tp("t"), RecordSet::numbered(0, 3));
  auto at_end = store_->fetch({.partition = tp("t"), .offset = Offset(3)});
  ASSERT_TRUE(at_end.ok());
  EXPECT_TRUE(at_end->batches.empty());
  EXPECT_EQ(at_end->high_watermark.offset(), Offset(3));
  EXPECT_EQ(store_->fetch({.partition = tp("t"), .offset = Offset(4)}).status().code(),
            StatusCode::kOutOfRange);
  EXPECT_EQ(store_->fetch({.partition = tp("nope"), .offset = Offset(0)}).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->fetch({.partition = tp("t", 1), .offset = Offset(0)}).status().code(),
            StatusCode::kNotFound);
}

TEST_F(LogStoreTest, LongPollReturnsAsSoonAsDataArrives) {
  create("t");
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    append(tp("t"), RecordSet::numbered(0, 1));
  });
  auto r = store_->fetch({.partition = tp("t"), .offset = Offset(0), .max_wait_ms = 10'000});
  writer.join();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->batches.empty());
}

TEST_F(LogStoreTest, ReopenKeepsRecordsOffsetsAndTopicConfig) {
  TopicConfig config{.partitions = 2};
  ASSERT_TRUE(config.set("retention.ms", "12345").ok());
  create("t", config);
  append(tp("t", 1), RecordSet::numbered(0, 5));
  open();
  EXPECT_TRUE(report_.truncated.empty());
  auto d = store_->describe_topic("t");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->config.retention_ms, 12345);
  EXPECT_EQ(d->partitions[1].high_watermark.offset(), Offset(5));
  auto b = append(tp("t", 1), RecordSet::numbered(5, 1));
  EXPECT_EQ(b.base_offset, Offset(5));
  auto records = read_all(*store_, tp("t", 1));
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->size(), 6u);
}

TEST_F(LogStoreTest, SecondOpenOfTheSameDirectoryIsRefused) {
  LogStoreOptions options;
  options.data_dir = dir_.path();
  options.background_maintenance = false;
  auto second = LogStore::open(options);
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace sluice::logstore

namespace sluice::logstore {
namespace {

// A batch whose CRC is right but whose first record's length runs past the batch: what a buggy
// client could send.
Bytes batch_with_malformed_record() {
  Bytes batch = testing::encode(RecordSet::numbered(0, 2));
  batch[format::kHeaderSize] = 0x7e;  // zig-zag 63: longer than the records that follow
  store_be<uint32_t>(batch.data() + format::kCrcPos,
                     crc32c::value(ByteView(batch).substr(format::kAttributesPos)));
  return batch;
}

TEST_F(LogStoreTest, FullRecordValidationRefusesAClientBatchWithAMalformedRecord) {
  create("t");
  Bytes batch = batch_with_malformed_record();
  auto r = store_->append_batch(tp("t"), batch);
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().to_string();
  EXPECT_NE(r.status().message().find("t/0"), std::string::npos) << r.status().message();
  EXPECT_EQ(store_->partition_ends(tp("t"))->high_watermark.offset(), Offset(0));
}

TEST_F(LogStoreTest, CrcOnlyValidationStoresItAndReadersReportTheMalformedRecord) {
  TopicConfig config;
  ASSERT_TRUE(config.set("record.validation", "crc").ok());
  create("t", config);
  Bytes batch = batch_with_malformed_record();
  auto r = store_->append_batch(tp("t"), batch);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto records = read_all(*store_, tp("t"));
  EXPECT_EQ(records.status().code(), StatusCode::kCorruption);
  // The CRC is still checked.
  Bytes flipped = testing::encode(RecordSet::numbered(0, 2));
  flipped.back() ^= 0x01;
  EXPECT_EQ(store_->append_batch(tp("t"), flipped).status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace sluice::logstore

// One writer and four readers on one partition (acceptance check 4): readers only ever see
// whole batches, in order, with no gaps, while segments roll under them. Run it under
// `make test-asan` too.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "log_test_util.h"
#include "sluice/logstore/log_store.h"
#include "temp_dir.h"

namespace sluice::logstore {
namespace {

using namespace sluice::testing;

TEST(ConcurrencyTest, FourReadersSeeOnlyWholeBatchesInOrderWithoutGapsWhileOneWriterAppends) {
  TempDir dir;
  LogStoreOptions options;
  options.data_dir = dir.path();
  auto store = LogStore::open(options);  // background maintenance on: flushes run concurrently
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  TopicConfig config;
  ASSERT_TRUE(config.set("segment.bytes", "262144").ok());  // many rolls during the test
  ASSERT_TRUE(config.set("index.interval.bytes", "512").ok());
  ASSERT_TRUE((*store)->create_topic("busy", config).ok());
  const TopicPartition tp{"busy", PartitionId(0)};

  constexpr int kBatches = 3000;
  std::atomic<bool> writer_done{false};
  std::atomic<int64_t> final_end{-1};
  std::thread writer([&] {
    for (int b = 0; b < kBatches; ++b) {
      // Batch b holds (b % 7) + 1 records whose values name their batch and index.
      RecordSet records;
      for (int i = 0; i <= b % 7; ++i) {
        records.add("b" + std::to_string(b), std::string(50 + (b * 13) % 300, 'a' + i % 26));
      }
      auto r = (*store)->append(tp, records.records());
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      if (b == kBatches - 1) final_end = r->last_offset.value() + 1;
    }
    writer_done = true;
  });

  auto reader = [&](int id, std::atomic<int64_t>& batches_seen) {
    Offset next{0};
    int expected_batch = 0;
    while (true) {
      auto r = (*store)->fetch({.partition = tp,
                                .offset = next,
                                .max_bytes = size_t(4096 + id * 7919),
                                .max_wait_ms = 5});
      ASSERT_TRUE(r.ok()) << "reader " << id << ": " << r.status().to_string();
      ByteView rest = r->batches;
      while (!rest.empty()) {
        auto batch = RecordBatchView::parse(rest);
        ASSERT_TRUE(batch.ok()) << "reader " << id << " got a partial batch at " << next;
        ASSERT_TRUE(batch->verify_crc().ok());
        const BatchHeader& h = batch->header();
        ASSERT_EQ(h.base_offset, next) << "reader " << id << ": gap or reordering";
        ASSERT_EQ(h.record_count, expected_batch % 7 + 1) << "reader " << id;
        auto it = RecordIterator::open(*batch);
        ASSERT_TRUE(it.ok());
        RecordView rec;
        int n = 0;
        while (*it->next(rec)) {
          ASSERT_EQ(*rec.key, "b" + std::to_string(expected_batch));
          ++n;
        }
        ASSERT_EQ(n, h.record_count);
        rest.remove_prefix(batch->bytes().size());
        next = h.next_offset();
        ++expected_batch;
        ++batches_seen;
      }
      ASSERT_LE(next.value(), r->high_watermark.offset().value()) << "read past the visible end";
      if (writer_done && final_end >= 0 && next.value() == final_end) break;
    }
  };
  std::atomic<int64_t> seen[4] = {0, 0, 0, 0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) readers.emplace_back(reader, i, std::ref(seen[i]));
  writer.join();
  for (auto& t : readers) t.join();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(seen[i], kBatches) << "reader " << i;
  ASSERT_TRUE((*store)->close().ok());
}

}  // namespace
}  // namespace sluice::logstore

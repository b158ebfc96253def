// Stateless operators through the topology test driver: each with hand-written expected output.
#include <gtest/gtest.h>

#include "test_util.h"

namespace sluice::dsl {
namespace {

using Records = std::vector<TestRecord<std::string, std::string>>;

using testing::driver_for;
using testing::read;

TEST(StatelessTest, FilterKeepsMatchingRecordsAndFilterNotTheOthers) {
  TopologyBuilder b;
  auto in = b.stream<std::string, std::string>("in");
  in.filter([](const std::string&, const std::string& v) {
      return v.starts_with("keep");
    }).to("kept");
  in.filter_not([](const std::string& v) { return v.starts_with("keep"); }).to("dropped");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  auto input = d->input_topic<std::string, std::string>("in");
  ASSERT_OK(input.pipe("a", "keep-1", Timestamp(10)));
  ASSERT_OK(input.pipe("b", "drop-1", Timestamp(20)));
  ASSERT_OK(input.pipe("c", "keep-2", Timestamp(30)));
  auto kept = d->output_topic<std::string, std::string>("kept");
  auto dropped = d->output_topic<std::string, std::string>("dropped");
  EXPECT_EQ(read(kept), (Records{{"a", "keep-1", Timestamp(10)}, {"c", "keep-2", Timestamp(30)}}));
  EXPECT_EQ(read(dropped), (Records{{"b", "drop-1", Timestamp(20)}}));
}

TEST(StatelessTest, MapValuesChangesTheValueTypeAndKeepsKeyAndTimestamp) {
  TopologyBuilder b;
  b.stream<std::string, std::string>("in")
      .map_values([](const std::string& v) { return static_cast<int64_t>(v.size()); })
      .to("lengths");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  ASSERT_OK((d->input_topic<std::string, std::string>("in").pipe("k", "hello", Timestamp(5))));
  auto out = d->output_topic<std::string, int64_t>("lengths");
  EXPECT_EQ(read(out), (std::vector<TestRecord<std::string, int64_t>>{{"k", 5, Timestamp(5)}}));
}

TEST(StatelessTest, MapValuesMovesTheValueIntoAFunctionTakingItByValue) {
  // A long string's buffer moves with it: the second function sees the very buffer the first
  // returned. The first, on a branched stream, gets a copy (the other branch needs the value).
  const char* returned = nullptr;
  const char* received = nullptr;
  TopologyBuilder b;
  auto in = b.stream<std::string, std::string>("in");
  in.map_values([&returned](std::string v) {
      v += "-mapped";
      returned = v.data();
      return v;
    })
      .map_values([&received](std::string v) {
        received = v.data();
        return v;
      })
      .to("out");
  in.to("copy");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  const std::string value(100, 'v');
  ASSERT_OK((d->input_topic<std::string, std::string>("in").pipe("k", value, Timestamp(1))));
  auto out = d->output_topic<std::string, std::string>("out");
  EXPECT_EQ(read(out), (Records{{"k", value + "-mapped", Timestamp(1)}}));
  auto copy = d->output_topic<std::string, std::string>("copy");
  EXPECT_EQ(read(copy), (Records{{"k", value, Timestamp(1)}}));
  ASSERT_NE(returned, nullptr);
  EXPECT_EQ(received, returned);
}

TEST(StatelessTest, MapFlatMapAndSelectKeyRekeyRecords) {
  TopologyBuilder b;
  auto in = b.stream<std::string, std::string>("in");
  in.map([](const std::string& k, const std::string& v) { return std::pair(v, k); }).to("swapped");
  in.flat_map([](const std::string& k, const std::string& v) {
      std::vector<std::pair<std::string, int64_t>> out;
      for (char c : v) out.emplace_back(k + c, 1);
      return out;
    }).to("letters");
  in.select_key([](const std::string& v) { return v.substr(0, 1); }).to("by-first");
  in.flat_map_values([](const std::string& v) {
      return std::vector<std::string>{v, v};
    }).to("twice");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  ASSERT_OK((d->input_topic<std::string, std::string>("in").pipe("k", "ab", Timestamp(1))));
  auto swapped = d->output_topic<std::string, std::string>("swapped");
  EXPECT_EQ(read(swapped), (Records{{"ab", "k", Timestamp(1)}}));
  auto letters = d->output_topic<std::string, int64_t>("letters");
  EXPECT_EQ(read(letters), (std::vector<TestRecord<std::string, int64_t>>{
                               {"ka", 1, Timestamp(1)}, {"kb", 1, Timestamp(1)}}));
  auto by_first = d->output_topic<std::string, std::string>("by-first");
  EXPECT_EQ(read(by_first), (Records{{"a", "ab", Timestamp(1)}}));
  auto twice = d->output_topic<std::string, std::string>("twice");
  EXPECT_EQ(read(twice), (Records{{"k", "ab", Timestamp(1)}, {"k", "ab", Timestamp(1)}}));
}

TEST(StatelessTest, BranchSendsEachRecordToTheFirstMatchingBranchOnly) {
  TopologyBuilder b;
  auto branches = b.stream<std::string, int64_t>("in").branch({
      [](const std::string&, const int64_t& v) { return v < 0; },
      [](const std::string&, const int64_t& v) { return v < 100; },
  });
  ASSERT_EQ(branches.size(), 2u);
  branches[0].to("negative");
  branches[1].to("small");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, int64_t>("in");
  ASSERT_OK(in.pipe("a", -5, Timestamp(1)));
  ASSERT_OK(in.pipe("b", 7, Timestamp(2)));
  ASSERT_OK(in.pipe("c", 1000, Timestamp(3)));  // matches no branch: dropped
  auto negative = d->output_topic<std::string, int64_t>("negative");
  auto small = d->output_topic<std::string, int64_t>("small");
  EXPECT_EQ(read(negative),
            (std::vector<TestRecord<std::string, int64_t>>{{"a", -5, Timestamp(1)}}));
  EXPECT_EQ(read(small), (std::vector<TestRecord<std::string, int64_t>>{{"b", 7, Timestamp(2)}}));
}

TEST(StatelessTest, MergeCombinesTwoStreamsAndPeekAndForeachSeeEveryRecord) {
  TopologyBuilder b;
  std::vector<std::string> peeked, seen;
  auto left = b.stream<std::string, std::string>("left");
  auto right = b.stream<std::string, std::string>("right");
  auto merged = left.merge(right).peek(
      [&](const std::string& k, const std::string&) { peeked.push_back(k); });
  merged.to("merged");
  merged.foreach ([&](const std::string& v) { seen.push_back(v); });
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  ASSERT_OK((d->input_topic<std::string, std::string>("left").pipe("l", "1", Timestamp(1))));
  ASSERT_OK((d->input_topic<std::string, std::string>("right").pipe("r", "2", Timestamp(2))));
  auto out = d->output_topic<std::string, std::string>("merged");
  EXPECT_EQ(read(out), (Records{{"l", "1", Timestamp(1)}, {"r", "2", Timestamp(2)}}));
  EXPECT_EQ(peeked, (std::vector<std::string>{"l", "r"}));
  EXPECT_EQ(seen, (std::vector<std::string>{"1", "2"}));
}

TEST(StatelessTest, SinkPartitionsByKafkasDefaultPartitionerOrACustomOne) {
  TopologyBuilder b;
  auto in = b.stream<std::string, std::string>("in");
  in.to("by-key");
  in.to("custom", {.partitioner = [](const std::string&, const std::string& v, int32_t n) {
          return static_cast<int32_t>(v.size()) % n;
        }});
  auto d = driver_for(b, {.partitions = {{"by-key", 8}, {"custom", 3}}});
  ASSERT_TRUE(d);
  ASSERT_OK((d->input_topic<std::string, std::string>("in").pipe("foobar", "xxxx", Timestamp(1))));
  auto by_key = d->output_topic<std::string, std::string>("by-key");
  auto custom = d->output_topic<std::string, std::string>("custom");
  auto r1 = read(by_key);
  ASSERT_EQ(r1.size(), 1u);
  EXPECT_EQ(r1[0].partition, PartitionId(kafka_partition_for_key("foobar", 8)));
  auto r2 = read(custom);
  ASSERT_EQ(r2.size(), 1u);
  EXPECT_EQ(r2[0].partition, PartitionId(1));  // 4 % 3
}

}  // namespace
}  // namespace sluice::dsl

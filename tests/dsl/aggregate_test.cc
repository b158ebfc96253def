// Keyed aggregations and windows through the topology test driver, with hand-written
// expected outputs.
#include <chrono>
#include <filesystem>

#include "temp_dir.h"
#include "test_util.h"

namespace sluice::dsl {
namespace {

using namespace std::chrono_literals;
using testing::driver_for;
using testing::read;
using Counts = std::vector<TestRecord<std::string, int64_t>>;
using WindowedCounts = std::vector<TestRecord<Windowed<std::string>, int64_t>>;

Windowed<std::string> w(const std::string& key, int64_t start, int64_t end) {
  return {key, {Timestamp(start), Timestamp(end)}};
}

TEST(AggregateTest, CountEmitsEveryUpdateWithTheLargestTimestampSoFar) {
  TopologyBuilder b;
  b.stream<std::string, std::string>("in").group_by_key().count("counts").to_stream().to("out");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, std::string>("in");
  ASSERT_OK(in.pipe("a", "x", Timestamp(10)));
  ASSERT_OK(in.pipe("b", "x", Timestamp(20)));
  ASSERT_OK(in.pipe("a", "x", Timestamp(5)));  // out of order: the result keeps 10
  auto out = d->output_topic<std::string, int64_t>("out");
  EXPECT_EQ(read(out),
            (Counts{{"a", 1, Timestamp(10)}, {"b", 1, Timestamp(20)}, {"a", 2, Timestamp(10)}}));
  auto store = d->key_value_store<std::string, int64_t>("counts");
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  EXPECT_EQ(*store, (std::map<std::string, int64_t>{{"a", 2}, {"b", 1}}));
}

TEST(AggregateTest, AggregateAndReduceFoldValuesPerKey) {
  TopologyBuilder b;
  auto grouped = b.stream<std::string, int64_t>("in").group_by_key();
  grouped
      .aggregate([] { return std::string(); },
                 [](const std::string&, const int64_t& v, std::string acc) {
                   return acc + std::to_string(v) + ";";
                 },
                 "joined")
      .to_stream()
      .to("joined-out");
  grouped.reduce([](int64_t acc, const int64_t& v) { return std::max(acc, v); }, "max")
      .to_stream()
      .to("max-out");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, int64_t>("in");
  ASSERT_OK(in.pipe("k", 3, Timestamp(1)));
  ASSERT_OK(in.pipe("k", 9, Timestamp(2)));
  ASSERT_OK(in.pipe("k", 4, Timestamp(3)));
  auto joined = d->output_topic<std::string, std::string>("joined-out");
  auto max = d->output_topic<std::string, int64_t>("max-out");
  EXPECT_EQ(
      read(joined),
      (std::vector<TestRecord<std::string, std::string>>{
          {"k", "3;", Timestamp(1)}, {"k", "3;9;", Timestamp(2)}, {"k", "3;9;4;", Timestamp(3)}}));
  EXPECT_EQ(read(max),
            (Counts{{"k", 3, Timestamp(1)}, {"k", 9, Timestamp(2)}, {"k", 9, Timestamp(3)}}));
}

TEST(AggregateTest, AggregateStateSurvivesARestartOfTheDriverOnTheSameDirectory) {
  sluice::testing::TempDir tmp;
  const std::string dir = tmp.path();
  for (int run = 0; run < 2; ++run) {
    TopologyBuilder b;
    b.stream<std::string, std::string>("in").group_by_key().count("counts").to_stream().to("out");
    auto d = driver_for(b, {.dir = dir});
    ASSERT_TRUE(d);
    ASSERT_OK((d->input_topic<std::string, std::string>("in").pipe("a", "x", Timestamp(run))));
    auto store = d->key_value_store<std::string, int64_t>("counts");
    ASSERT_TRUE(store.ok());
    EXPECT_EQ(store->at("a"), run + 1);
  }
}

TEST(WindowTest, TumblingWindowCountsPerKeyAndWindow) {
  TopologyBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(TumblingWindows::of(10ms))
      .count("per-window")
      .to_stream()
      .to("out");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, std::string>("in");
  ASSERT_OK(in.pipe("a", "x", Timestamp(1)));
  ASSERT_OK(in.pipe("a", "x", Timestamp(9)));
  ASSERT_OK(in.pipe("a", "x", Timestamp(10)));
  ASSERT_OK(in.pipe("b", "x", Timestamp(12)));
  auto out = d->output_topic<Windowed<std::string>, int64_t>("out");
  EXPECT_EQ(read(out), (WindowedCounts{{w("a", 0, 10), 1, Timestamp(1)},
                                       {w("a", 0, 10), 2, Timestamp(9)},
                                       {w("a", 10, 20), 1, Timestamp(10)},
                                       {w("b", 10, 20), 1, Timestamp(12)}}));
}

TEST(WindowTest, HoppingWindowPutsARecordInEveryWindowThatContainsIt) {
  TopologyBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(HoppingWindows::of(10ms).advance_by(5ms))
      .count()
      .to_stream()
      .to("out");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  ASSERT_OK((d->input_topic<std::string, std::string>("in").pipe("a", "x", Timestamp(7))));
  auto out = d->output_topic<Windowed<std::string>, int64_t>("out");
  EXPECT_EQ(read(out),
            (WindowedCounts{{w("a", 0, 10), 1, Timestamp(7)}, {w("a", 5, 15), 1, Timestamp(7)}}));
}

// A hopping count emitted on close is computed from slices of the advance: each window's count
// is the sum of its slices', emitted once, by window start then key, stamped with its latest
// record; the store holds the slices under its own name.
TEST(WindowTest, AHoppingCountEmittedOnCloseIsSummedFromSlices) {
  auto add_count = [](TopologyBuilder& b) {
    b.stream<std::string, std::string>("in")
        .group_by_key()
        .windowed_by(HoppingWindows::of(10ms).advance_by(5ms))
        .emit(EmitStrategy::kOnWindowClose)
        .count("hops")
        .to_stream()
        .to("out");
  };
  TopologyBuilder described;  // (a builder builds once: one to describe, one to run)
  add_count(described);
  auto t = described.build();
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_NE(t->describe().find("hopping 10 ms every 5 ms, sliced"), std::string::npos)
      << t->describe();
  EXPECT_NE(t->find_store("hops-slices"), nullptr);
  EXPECT_EQ(t->find_store("hops"), nullptr);
  TopologyBuilder b;
  add_count(b);
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, std::string>("in");
  ASSERT_OK(in.pipe("b", "x", Timestamp(3)));  // slice [0,5): windows [0,10)
  ASSERT_OK(in.pipe("a", "x", Timestamp(4)));
  ASSERT_OK(in.pipe("a", "x", Timestamp(7)));  // slice [5,10): windows [0,10) and [5,15)
  auto out = d->output_topic<Windowed<std::string>, int64_t>("out");
  EXPECT_EQ(read(out), WindowedCounts{});       // nothing closed yet
  ASSERT_OK(in.pipe("a", "x", Timestamp(12)));  // slice [10,15); stream time 12 closes [0,10)
  EXPECT_EQ(read(out),
            (WindowedCounts{{w("a", 0, 10), 2, Timestamp(7)}, {w("b", 0, 10), 1, Timestamp(3)}}));
  ASSERT_OK(in.pipe("c", "x", Timestamp(30)));  // closes [5,15) and [10,20)
  EXPECT_EQ(read(out), (WindowedCounts{{w("a", 5, 15), 2, Timestamp(12)},
                                       {w("a", 10, 20), 1, Timestamp(12)}}));
}

TEST(WindowTest, RecordsAfterWindowEndPlusGraceAreDroppedAndCounted) {
  TopologyBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(TumblingWindows::of(10ms).grace(5ms))
      .count("late-test")
      .named("count")
      .to_stream()
      .to("out");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, std::string>("in");
  ASSERT_OK(in.pipe("a", "x", Timestamp(1)));
  ASSERT_OK(in.pipe("a", "x", Timestamp(14)));  // stream time 14: [0,10) open until 15
  ASSERT_OK(in.pipe("a", "x", Timestamp(2)));   // within grace: counted
  ASSERT_OK(in.pipe("a", "x", Timestamp(15)));  // stream time 15: [0,10) closed
  ASSERT_OK(in.pipe("a", "x", Timestamp(3)));   // late: dropped
  auto out = d->output_topic<Windowed<std::string>, int64_t>("out");
  EXPECT_EQ(read(out), (WindowedCounts{{w("a", 0, 10), 1, Timestamp(1)},
                                       {w("a", 10, 20), 1, Timestamp(14)},
                                       {w("a", 0, 10), 2, Timestamp(2)},
                                       {w("a", 10, 20), 2, Timestamp(15)}}));
  EXPECT_EQ(d->metrics().nodes.at("count").late_dropped, 1);
}

TEST(WindowTest, LateRecordsCanGoToAUserChosenTopic) {
  TopologyBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(TumblingWindows::of(10ms))
      .late_records_to("late")
      .count()
      .to_stream()
      .to("out");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, std::string>("in");
  ASSERT_OK(in.pipe("a", "on-time", Timestamp(25)));
  ASSERT_OK(in.pipe("a", "too-late", Timestamp(3)));
  auto late = d->output_topic<std::string, std::string>("late");
  EXPECT_EQ(read(late),
            (std::vector<TestRecord<std::string, std::string>>{{"a", "too-late", Timestamp(3)}}));
}

TEST(WindowTest, EmitOnWindowCloseForwardsEachWindowOnceWithItsFinalValue) {
  TopologyBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(TumblingWindows::of(10ms).grace(2ms))
      .emit(EmitStrategy::kOnWindowClose)
      .count("final")
      .to_stream()
      .to("out");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, std::string>("in");
  auto out = d->output_topic<Windowed<std::string>, int64_t>("out");
  ASSERT_OK(in.pipe("b", "x", Timestamp(3)));
  ASSERT_OK(in.pipe("a", "x", Timestamp(5)));
  ASSERT_OK(in.pipe("a", "x", Timestamp(11)));
  EXPECT_TRUE(read(out).empty());               // stream time 11 < 10 + 2
  ASSERT_OK(in.pipe("a", "x", Timestamp(8)));   // still within grace
  ASSERT_OK(in.pipe("c", "x", Timestamp(12)));  // closes [0, 10)
  EXPECT_EQ(read(out),
            (WindowedCounts{{w("a", 0, 10), 2, Timestamp(8)}, {w("b", 0, 10), 1, Timestamp(3)}}));
  ASSERT_OK(in.pipe("c", "x", Timestamp(40)));  // closes [10, 20)
  EXPECT_EQ(read(out), (WindowedCounts{{w("a", 10, 20), 1, Timestamp(11)},
                                       {w("c", 10, 20), 1, Timestamp(12)}}));
}

// A restarted task's clock starts from nothing; the window store's does not. A record whose
// window closed before the restart is late after it too — not an update of an expired window.
TEST(WindowTest, AWindowClosedBeforeARestartStaysClosedAfterIt) {
  sluice::testing::TempDir tmp;
  for (int run = 0; run < 2; ++run) {
    TopologyBuilder b;
    b.stream<std::string, std::string>("in")
        .group_by_key()
        .windowed_by(TumblingWindows::of(10ms))
        .count("counts")
        .named("counts")
        .to_stream()
        .to("out");
    auto d = driver_for(b, {.dir = tmp.path()});
    ASSERT_TRUE(d);
    auto in = d->input_topic<std::string, std::string>("in");
    if (run == 0) {
      ASSERT_OK(in.pipe("a", "x", Timestamp(100)));
      continue;
    }
    ASSERT_OK(in.pipe("b", "x", Timestamp(50)));  // [50, 60) closed at stream time 100
    auto out = d->output_topic<Windowed<std::string>, int64_t>("out");
    EXPECT_EQ(read(out), (WindowedCounts{{w("a", 100, 110), 1, Timestamp(100)}}));
    EXPECT_EQ(d->metrics().nodes.at("counts").late_dropped, 1);
  }
}

// Every key of `expected` is in the store `store` of exactly one task, and no other key is.
void expect_each_key_in_one_task(TopologyTestDriver& d, const std::string& store,
                                 const std::map<std::string, int64_t>& expected) {
  auto by_task = d.key_value_store_by_task<std::string, int64_t>(store);
  ASSERT_TRUE(by_task.ok()) << by_task.status().to_string();
  std::map<std::string, int> tasks_holding;
  for (const auto& [partition, contents] : *by_task) {
    for (const auto& [key, count] : contents) ++tasks_holding[key];
  }
  EXPECT_EQ(tasks_holding.size(), expected.size());
  for (const auto& [key, n] : tasks_holding) EXPECT_EQ(n, 1) << key;
}

TEST(RepartitionTest, GroupByOnANewKeyPutsEachKeysStateInExactlyOneTask) {
  TopologyBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by([](const std::string& v) { return v; }, "by-value")
      .count("value-counts")
      .to_stream()
      .to("out");
  auto d = driver_for(b, {.partitions = {{"in", 4}, {"out", 4}}});
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, std::string>("in");
  std::map<std::string, int64_t> expected;
  for (int i = 0; i < 200; ++i) {
    const std::string value = "v" + std::to_string(i % 13);
    ASSERT_OK(in.pipe("k" + std::to_string(i), value, Timestamp(i)));
    ++expected[value];
  }
  auto out = d->output_topic<std::string, int64_t>("out");
  auto final_counts = out.read_key_value_map();
  ASSERT_TRUE(final_counts.ok());
  EXPECT_EQ(*final_counts, expected);
  expect_each_key_in_one_task(*d, "value-counts", expected);
  // The repartition topic is a real topic of the log, named after the application.
  auto repartition = d->partitions("test-app-by-value-repartition");
  ASSERT_TRUE(repartition.ok()) << repartition.status().to_string();
  EXPECT_EQ(*repartition, 4);
}

// Orders re-keyed by customer, repartitioned on their own, merged with customers already keyed
// by id: one repartition topic, and each customer's count in exactly one task.
TopologyBuilder& customer_activity(TopologyBuilder& b) {
  auto customers = b.stream<std::string, std::string>("customers");
  auto orders =
      b.stream<std::string, std::string>("orders")
          .select_key([](const std::string&, const std::string& customer) { return customer; })
          .named("by-customer")
          .repartition();
  customers.merge(orders).group_by_key().count("activity").to_stream().to("out");
  return b;
}

TEST(RepartitionTest, ARepartitionedSideMergedWithAKeyedTopicNeedsNoSecondRepartition) {
  TopologyBuilder b;
  auto d = driver_for(customer_activity(b),
                      {.partitions = {{"customers", 4}, {"orders", 4}, {"out", 4}}});
  ASSERT_TRUE(d);
  auto customers = d->input_topic<std::string, std::string>("customers");
  auto orders = d->input_topic<std::string, std::string>("orders");
  std::map<std::string, int64_t> expected;
  for (int c = 0; c < 20; ++c) {
    const std::string id = "c" + std::to_string(c);
    ASSERT_OK(customers.pipe(id, "name", Timestamp(c)));
    ++expected[id];
  }
  for (int i = 0; i < 300; ++i) {
    const std::string customer = "c" + std::to_string(i * 7 % 20);
    ASSERT_OK(orders.pipe("order-" + std::to_string(i), customer, Timestamp(100 + i)));
    ++expected[customer];
  }
  auto out = d->output_topic<std::string, int64_t>("out");
  auto final_counts = out.read_key_value_map();
  ASSERT_TRUE(final_counts.ok());
  EXPECT_EQ(*final_counts, expected);
  expect_each_key_in_one_task(*d, "activity", expected);

  TopologyBuilder again;
  auto t = customer_activity(again).build();
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->internal_topics().size(), 1u);
  EXPECT_EQ(t->internal_topics()[0].name, "by-customer-repartition");
}

TEST(RepartitionTest, ASideRepartitionedAndMergedBackIntoItsOwnStreamIsCountedPerKey) {
  // One topic of two kinds of record: "c:<customer>" keyed by customer, and orders keyed by
  // order id, valued by customer. The orders are re-keyed and repartitioned alone, then merged
  // back with the customers: the sub-topology that writes the repartition topic reads it too.
  TopologyBuilder b;
  auto events = b.stream<std::string, std::string>("events");
  auto customers =
      events.filter([](const std::string& k, const std::string&) { return k.starts_with("c:"); });
  auto orders =
      events
          .filter_not([](const std::string& k, const std::string&) { return k.starts_with("c:"); })
          .select_key(
              [](const std::string&, const std::string& customer) { return "c:" + customer; })
          .named("by-customer")
          .repartition();
  customers.merge(orders).group_by_key().count("activity").to_stream().to("out");
  auto d = driver_for(b, {.partitions = {{"events", 4}, {"out", 4}}});
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, std::string>("events");
  std::map<std::string, int64_t> expected;
  for (int c = 0; c < 10; ++c) {
    ASSERT_OK(in.pipe("c:" + std::to_string(c), "name", Timestamp(c)));
    ++expected["c:" + std::to_string(c)];
  }
  for (int i = 0; i < 200; ++i) {
    const std::string customer = std::to_string(i * 3 % 10);
    ASSERT_OK(in.pipe("order-" + std::to_string(i), customer, Timestamp(100 + i)));
    ++expected["c:" + customer];
  }
  auto out = d->output_topic<std::string, int64_t>("out");
  auto final_counts = out.read_key_value_map();
  ASSERT_TRUE(final_counts.ok());
  EXPECT_EQ(*final_counts, expected);
  expect_each_key_in_one_task(*d, "activity", expected);
  auto repartition = d->partitions("test-app-by-customer-repartition");
  ASSERT_TRUE(repartition.ok()) << repartition.status().to_string();
  EXPECT_EQ(*repartition, 4);
}

TEST(RepartitionTest, GroupingAMergeOfTopicsPartitionedDifferentlyIsRefusedWithAClearError) {
  TopologyBuilder b;
  auto t = customer_activity(b).build();
  ASSERT_TRUE(t.ok());
  // The orders' repartition topic gets the orders' 2 partitions; customers have 4.
  auto d = TopologyTestDriver::create(std::move(t).value(),
                                      {.partitions = {{"customers", 4}, {"orders", 2}}});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(d.status().message().find("same number of partitions"), std::string::npos)
      << d.status().to_string();
  EXPECT_NE(d.status().message().find("customers (4)"), std::string::npos)
      << d.status().to_string();
}

}  // namespace
}  // namespace sluice::dsl

namespace sluice::dsl {
namespace {

using SessionCounts = std::vector<TestRecord<Windowed<std::string>, std::optional<int64_t>>>;

TEST(SessionWindowTest, RecordsWithinTheGapShareASessionAndBridgingRecordsMergeSessions) {
  TopologyBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(SessionWindows::with_inactivity_gap(std::chrono::milliseconds(10))
                       .grace(std::chrono::milliseconds(100)))
      .count("sessions")
      .to_stream()
      .to("out");
  auto d = testing::driver_for(b);
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, std::string>("in");
  auto out = d->output_topic<Windowed<std::string>, std::optional<int64_t>>("out");
  ASSERT_OK(in.pipe("a", "x", Timestamp(0)));
  ASSERT_OK(in.pipe("a", "x", Timestamp(5)));   // within 10 of 0: same session
  ASSERT_OK(in.pipe("a", "x", Timestamp(30)));  // a new session
  ASSERT_OK(in.pipe("b", "x", Timestamp(31)));  // another key
  EXPECT_EQ(testing::read(out), (SessionCounts{{w("a", 0, 0), 1, Timestamp(0)},
                                               {w("a", 0, 0), std::nullopt, Timestamp(0)},
                                               {w("a", 0, 5), 2, Timestamp(5)},
                                               {w("a", 30, 30), 1, Timestamp(30)},
                                               {w("b", 31, 31), 1, Timestamp(31)}}));
  ASSERT_OK(in.pipe("a", "x", Timestamp(15)));  // extends [0,5]; 30 - 15 > 10: not [30,30]
  ASSERT_OK(in.pipe("a", "x", Timestamp(22)));  // bridges [0,15] and [30,30]
  EXPECT_EQ(testing::read(out), (SessionCounts{{w("a", 0, 5), std::nullopt, Timestamp(5)},
                                               {w("a", 0, 15), 3, Timestamp(15)},
                                               {w("a", 0, 15), std::nullopt, Timestamp(15)},
                                               {w("a", 30, 30), std::nullopt, Timestamp(30)},
                                               {w("a", 0, 30), 5, Timestamp(30)}}));
}

TEST(SessionWindowTest, ARecordThatWouldOnlyFormAClosedSessionIsLate) {
  TopologyBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(SessionWindows::with_inactivity_gap(std::chrono::milliseconds(5))
                       .grace(std::chrono::milliseconds(3)))
      .count("sessions")
      .named("sessions")
      .to_stream()
      .to("out");
  auto d = testing::driver_for(b);
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, std::string>("in");
  ASSERT_OK(in.pipe("a", "x", Timestamp(100)));
  ASSERT_OK(in.pipe("b", "x", Timestamp(10)));  // session [10,10] ends 90 before stream time
  ASSERT_OK(in.pipe("a", "x", Timestamp(97)));  // merges into [97,100]: accepted
  EXPECT_EQ(d->metrics().nodes.at("sessions").late_dropped, 1);
  auto out = d->output_topic<Windowed<std::string>, std::optional<int64_t>>("out");
  auto records = testing::read(out);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records.back(), (TestRecord<Windowed<std::string>, std::optional<int64_t>>{
                                w("a", 97, 100), 2, Timestamp(100)}));
}

TEST(SessionWindowTest, EmitOnCloseForwardsEachSessionOnceWithItsFinalValueWhenItCloses) {
  TopologyBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(SessionWindows::with_inactivity_gap(std::chrono::milliseconds(10))
                       .grace(std::chrono::milliseconds(5)))
      .emit(EmitStrategy::kOnWindowClose)
      .count("sessions")
      .to_stream()
      .to("out");
  auto d = testing::driver_for(b);
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, std::string>("in");
  auto out = d->output_topic<Windowed<std::string>, std::optional<int64_t>>("out");
  ASSERT_OK(in.pipe("a", "x", Timestamp(0)));
  ASSERT_OK(in.pipe("a", "x", Timestamp(5)));   // same session: [0,5]
  ASSERT_OK(in.pipe("a", "x", Timestamp(12)));  // [0,12]: nothing absorbed is ever forwarded
  ASSERT_OK(in.pipe("b", "x", Timestamp(20)));
  EXPECT_TRUE(testing::read(out).empty());  // [0,12] closes once stream time > 12+10+5
  // A new session of a; stream time 40 closes the sessions ending before 40 - 10 - 5.
  ASSERT_OK(in.pipe("a", "x", Timestamp(40)));
  ASSERT_OK(in.pipe("c", "x", Timestamp(36)));  // out of order, but within grace
  EXPECT_EQ(testing::read(out),
            (SessionCounts{{w("a", 0, 12), 3, Timestamp(12)}, {w("b", 20, 20), 1, Timestamp(20)}}));
  ASSERT_OK(in.pipe("z", "x", Timestamp(100)));  // closes the rest, by end then key
  EXPECT_EQ(testing::read(out), (SessionCounts{{w("c", 36, 36), 1, Timestamp(36)},
                                               {w("a", 40, 40), 1, Timestamp(40)}}));
}

// "in" -> sessions of 10 ms gap counted per key ("sessions"), each emitted once when it closes
// -> "out"; records with the value "tick" are dropped before the count (they only move the
// task's stream time). On `dir`, so that a second driver restarts the job.
std::unique_ptr<TopologyTestDriver> closing_sessions_driver(const std::string& dir) {
  TopologyBuilder b;
  b.stream<std::string, std::string>("in")
      .filter([](const std::string&, const std::string& v) { return v != "tick"; })
      .group_by_key()
      .windowed_by(SessionWindows::with_inactivity_gap(std::chrono::milliseconds(10)))
      .emit(EmitStrategy::kOnWindowClose)
      .count("sessions")
      .named("sessions")
      .to_stream()
      .to("out");
  return testing::driver_for(b, {.dir = dir});
}

TEST(SessionWindowTest, EmitOnCloseNeitherRepeatsNorLosesSessionsAcrossARestart) {
  sluice::testing::TempDir tmp;
  for (int run = 0; run < 2; ++run) {
    auto d = closing_sessions_driver(tmp.path());
    ASSERT_TRUE(d);
    auto in = d->input_topic<std::string, std::string>("in");
    auto out = d->output_topic<Windowed<std::string>, std::optional<int64_t>>("out");
    if (run == 0) {
      ASSERT_OK(in.pipe("a", "x", Timestamp(0)));
      ASSERT_OK(in.pipe("a", "x", Timestamp(5)));
      ASSERT_OK(in.pipe("b", "x", Timestamp(30)));  // closes [0,5]; [30,30] stays open
      EXPECT_EQ(testing::read(out), (SessionCounts{{w("a", 0, 5), 2, Timestamp(5)}}));
    } else {
      ASSERT_OK(in.pipe("c", "x", Timestamp(100)));  // closes [30,30], which the first run held
      EXPECT_EQ(testing::read(out), (SessionCounts{{w("a", 0, 5), 2, Timestamp(5)},
                                                   {w("b", 30, 30), 1, Timestamp(30)}}));
    }
  }
}

// A restarted task's clock starts from nothing; the store's does not. A record late before the
// restart is late after it, and never reaches a session the store has already expired.
TEST(SessionWindowTest, EmitOnCloseKeepsLateRecordsLateAcrossARestart) {
  sluice::testing::TempDir tmp;
  for (int run = 0; run < 2; ++run) {
    auto d = closing_sessions_driver(tmp.path());
    ASSERT_TRUE(d);
    auto in = d->input_topic<std::string, std::string>("in");
    auto out = d->output_topic<Windowed<std::string>, std::optional<int64_t>>("out");
    if (run == 0) {
      ASSERT_OK(in.pipe("a", "x", Timestamp(100)));
      continue;
    }
    ASSERT_OK(in.pipe("b", "x", Timestamp(50)));   // late: the store's stream time is 100
    ASSERT_OK(in.pipe("c", "x", Timestamp(200)));  // closes [100,100]
    EXPECT_EQ(testing::read(out), (SessionCounts{{w("a", 100, 100), 1, Timestamp(100)}}));
    EXPECT_EQ(d->metrics().nodes.at("sessions").late_dropped, 1);
  }
}

// Rebuilt from its changelog, a session store's stream time is the latest session end it
// holds, which may be older than the stream time that closed (and emitted) its sessions. They
// stay closed: a record reaching one is late, and nothing is counted twice.
TEST(SessionWindowTest, EmitOnCloseNeverCountsAnEmittedSessionAgainAfterARestore) {
  sluice::testing::TempDir tmp;
  for (int run = 0; run < 2; ++run) {
    auto d = closing_sessions_driver(tmp.path());
    ASSERT_TRUE(d);
    auto in = d->input_topic<std::string, std::string>("in");
    auto out = d->output_topic<Windowed<std::string>, std::optional<int64_t>>("out");
    if (run == 0) {
      ASSERT_OK(in.pipe("a", "x", Timestamp(0)));
      ASSERT_OK(in.pipe("a", "x", Timestamp(5)));
      ASSERT_OK(in.pipe("t", "tick", Timestamp(100)));  // moves stream time, forms no session
      ASSERT_OK(in.pipe("d", "x", Timestamp(50)));      // late; its arrival emits [0,5]
      EXPECT_EQ(testing::read(out), (SessionCounts{{w("a", 0, 5), 2, Timestamp(5)}}));
      d.reset();
      std::filesystem::remove_all(tmp.path() + "/state");  // restored from the changelogs
      continue;
    }
    ASSERT_OK(in.pipe("a", "x", Timestamp(14)));   // within the gap of [0,5], which is closed
    ASSERT_OK(in.pipe("z", "x", Timestamp(500)));  // closes whatever is open
    EXPECT_EQ(testing::read(out), (SessionCounts{{w("a", 0, 5), 2, Timestamp(5)}}));
  }
}

TEST(SessionWindowTest, EmitOnCloseNeverReopensAClosedSessionEvenIfTheStoreStillHoldsIt) {
  TopologyBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(SessionWindows::with_inactivity_gap(std::chrono::milliseconds(10)))
      .emit(EmitStrategy::kOnWindowClose)
      .count(Materialized("sessions").with_retention(std::chrono::milliseconds(1000)))
      .to_stream()
      .to("out");
  auto d = testing::driver_for(b);
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, std::string>("in");
  auto out = d->output_topic<Windowed<std::string>, std::optional<int64_t>>("out");
  ASSERT_OK(in.pipe("a", "x", Timestamp(0)));
  ASSERT_OK(in.pipe("a", "x", Timestamp(18)));  // a second session; [0,0] closes (0 < 18 - 10)
  EXPECT_EQ(testing::read(out), (SessionCounts{{w("a", 0, 0), 1, Timestamp(0)}}));
  // Within the gap of both, but [0,0] is closed: only [18,18] takes it.
  ASSERT_OK(in.pipe("a", "x", Timestamp(9)));
  ASSERT_OK(in.pipe("z", "x", Timestamp(100)));
  EXPECT_EQ(testing::read(out), (SessionCounts{{w("a", 9, 18), 2, Timestamp(18)}}));
}

}  // namespace
}  // namespace sluice::dsl

namespace sluice::dsl {
namespace {

TEST(SlidingWindowTest, EachRecordDefinesTheWindowEndingAtItAndTheOneStartingAfterIt) {
  TopologyBuilder b;
  b.stream<std::string, std::string>("in")
      .group_by_key()
      .windowed_by(SlidingWindows::of_time_difference(std::chrono::milliseconds(10))
                       .grace(std::chrono::milliseconds(100)))
      .count("sliding")
      .to_stream()
      .to("out");
  auto d = testing::driver_for(b);
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, std::string>("in");
  auto out = d->output_topic<Windowed<std::string>, int64_t>("out");
  ASSERT_OK(in.pipe("a", "x", Timestamp(100)));
  EXPECT_EQ(testing::read(out), (WindowedCounts{{w("a", 90, 100), 1, Timestamp(100)}}));
  ASSERT_OK(in.pipe("a", "x", Timestamp(105)));
  // [95,105] is new with both; [90,100] gains nothing (105 > 100); [101,111] (after 100)
  // holds 105.
  EXPECT_EQ(testing::read(out), (WindowedCounts{{w("a", 95, 105), 2, Timestamp(105)},
                                                {w("a", 101, 111), 1, Timestamp(105)}}));
  ASSERT_OK(in.pipe("a", "x", Timestamp(98)));  // out of order, inside [90,100] and [95,105]
  EXPECT_EQ(testing::read(out), (WindowedCounts{{w("a", 88, 98), 1, Timestamp(98)},
                                                {w("a", 90, 100), 2, Timestamp(100)},
                                                {w("a", 95, 105), 3, Timestamp(105)},
                                                {w("a", 99, 109), 2, Timestamp(105)}}));
}

}  // namespace
}  // namespace sluice::dsl

// Stream-stream windowed joins: inner, left, outer, with hand-written expected outputs.
#include <chrono>

#include "test_util.h"

namespace sluice::dsl {
namespace {

using namespace std::chrono_literals;
using testing::driver_for;
using testing::read;
using Joined = std::vector<TestRecord<std::string, std::string>>;

std::string opt(const std::optional<std::string>& v) { return v ? *v : "null"; }

struct JoinFixture {
  std::unique_ptr<TopologyTestDriver> d;
  std::optional<TestInputTopic<std::string, std::string>> views, clicks;
  std::optional<TestOutputTopic<std::string, std::string>> out;
};

JoinFixture make(operators::JoinKind kind, JoinWindows windows) {
  TopologyBuilder b;
  auto views = b.stream<std::string, std::string>("views");
  auto clicks = b.stream<std::string, std::string>("clicks");
  switch (kind) {
    case operators::JoinKind::kInner:
      views
          .join(
              clicks, [](const std::string& v, const std::string& c) { return v + "+" + c; },
              windows)
          .to("out");
      break;
    case operators::JoinKind::kLeft:
      views
          .left_join(
              clicks,
              [](const std::string& v, const std::optional<std::string>& c) {
                return v + "+" + opt(c);
              },
              windows)
          .to("out");
      break;
    case operators::JoinKind::kOuter:
      views
          .outer_join(
              clicks,
              [](const std::optional<std::string>& v, const std::optional<std::string>& c) {
                return opt(v) + "+" + opt(c);
              },
              windows)
          .to("out");
      break;
  }
  JoinFixture f;
  f.d = driver_for(b);
  if (!f.d) return f;
  f.views.emplace(f.d->input_topic<std::string, std::string>("views"));
  f.clicks.emplace(f.d->input_topic<std::string, std::string>("clicks"));
  f.out.emplace(f.d->output_topic<std::string, std::string>("out"));
  return f;
}

TEST(JoinTest, InnerJoinPairsRecordsOfTheSameKeyWithinTheWindowInBothArrivalOrders) {
  auto f = make(operators::JoinKind::kInner, JoinWindows::of(10ms).grace(100ms));
  ASSERT_TRUE(f.d);
  ASSERT_OK(f.views->pipe("ad1", "v1", Timestamp(100)));
  ASSERT_OK(f.clicks->pipe("ad1", "c1", Timestamp(105)));  // view first: joins
  ASSERT_OK(f.clicks->pipe("ad2", "c2", Timestamp(106)));
  ASSERT_OK(f.views->pipe("ad2", "v2", Timestamp(104)));   // click first: joins
  ASSERT_OK(f.clicks->pipe("ad1", "c3", Timestamp(111)));  // 11 ms after v1: no
  ASSERT_OK(f.views->pipe("ad1", "v3", Timestamp(101)));   // joins c1, and c3 (10 ms: inclusive)
  EXPECT_EQ(read(*f.out), (Joined{{"ad1", "v1+c1", Timestamp(105)},
                                  {"ad2", "v2+c2", Timestamp(106)},
                                  {"ad1", "v3+c1", Timestamp(105)},
                                  {"ad1", "v3+c3", Timestamp(111)}}));
}

TEST(JoinTest, DuplicateRecordsAtTheSameTimestampEachJoin) {
  auto f = make(operators::JoinKind::kInner, JoinWindows::of(5ms).grace(100ms));
  ASSERT_TRUE(f.d);
  ASSERT_OK(f.views->pipe("k", "a", Timestamp(10)));
  ASSERT_OK(f.views->pipe("k", "b", Timestamp(10)));
  ASSERT_OK(f.clicks->pipe("k", "x", Timestamp(12)));
  EXPECT_EQ(read(*f.out), (Joined{{"k", "a+x", Timestamp(12)}, {"k", "b+x", Timestamp(12)}}));
}

TEST(JoinTest, LeftJoinEmitsAnUnmatchedRecordOnlyAfterItsWindowClosesNeverEarly) {
  auto f = make(operators::JoinKind::kLeft, JoinWindows::of(10ms).grace(5ms));
  ASSERT_TRUE(f.d);
  ASSERT_OK(f.views->pipe("a", "v1", Timestamp(100)));
  ASSERT_OK(f.views->pipe("b", "v2", Timestamp(102)));
  EXPECT_TRUE(read(*f.out).empty());                     // no spurious early null
  ASSERT_OK(f.clicks->pipe("b", "c1", Timestamp(112)));  // v2 finds its partner late-ish
  EXPECT_EQ(read(*f.out), (Joined{{"b", "v2+c1", Timestamp(112)}}));
  ASSERT_OK(f.clicks->pipe("z", "c9", Timestamp(115)));  // stream time 115: v1 open to 115
  EXPECT_TRUE(read(*f.out).empty());
  ASSERT_OK(f.clicks->pipe("z", "c9", Timestamp(116)));  // closes v1's window
  EXPECT_EQ(read(*f.out), (Joined{{"a", "v1+null", Timestamp(100)}}));
  ASSERT_OK(f.clicks->pipe("z", "c9", Timestamp(200)));  // v2 matched: never emitted alone
  EXPECT_TRUE(read(*f.out).empty());
}

TEST(JoinTest, OuterJoinEmitsUnmatchedRecordsOfBothSidesWhenTheirWindowsClose) {
  auto f = make(operators::JoinKind::kOuter, JoinWindows::of(10ms));
  ASSERT_TRUE(f.d);
  ASSERT_OK(f.views->pipe("a", "v1", Timestamp(100)));
  ASSERT_OK(f.clicks->pipe("b", "c1", Timestamp(103)));
  ASSERT_OK(f.clicks->pipe("a", "c2", Timestamp(109)));  // joins v1
  EXPECT_EQ(read(*f.out), (Joined{{"a", "v1+c2", Timestamp(109)}}));
  ASSERT_OK(f.views->pipe("x", "v9", Timestamp(114)));  // c1 (103 + 10) closes at > 113
  EXPECT_EQ(read(*f.out), (Joined{{"b", "null+c1", Timestamp(103)}}));
}

TEST(JoinTest, StreamsOfDifferentValueTypesJoinAfterTheRightSideIsReKeyed) {
  TopologyBuilder b;
  auto people = b.stream<std::string, std::string>("people");  // id -> name
  auto orders =
      b.stream<std::string, int64_t>("orders")  // order id -> buyer id (int)
          .select_key([](const std::string&, int64_t buyer) { return std::to_string(buyer); });
  people
      .join(
          orders,
          [](const std::string& name, int64_t buyer) {
            return name + " bought as " + std::to_string(buyer);
          },
          JoinWindows::of(10ms).grace(100ms), "buyers")
      .to("out");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  ASSERT_OK((d->input_topic<std::string, std::string>("people").pipe("7", "ann", Timestamp(100))));
  ASSERT_OK((d->input_topic<std::string, int64_t>("orders").pipe("o1", 7, Timestamp(105))));
  ASSERT_OK((d->input_topic<std::string, int64_t>("orders").pipe("o2", 8, Timestamp(106))));
  auto out = d->output_topic<std::string, std::string>("out");
  EXPECT_EQ(read(out), (Joined{{"7", "ann bought as 7", Timestamp(105)}}));
}

TEST(JoinTest, RecordsLaterThanGraceAreDroppedAndCounted) {
  TopologyBuilder b;
  auto views = b.stream<std::string, std::string>("views");
  auto clicks = b.stream<std::string, std::string>("clicks");
  views
      .join(
          clicks, [](const std::string& v, const std::string& c) { return v + c; },
          JoinWindows::of(10ms).grace(2ms), "late-join")
      .to("out");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  ASSERT_OK((d->input_topic<std::string, std::string>("views").pipe("k", "v", Timestamp(100))));
  ASSERT_OK((d->input_topic<std::string, std::string>("clicks").pipe("k", "c", Timestamp(97))));
  auto m = d->metrics();
  EXPECT_EQ(m.nodes.at("late-join-right").late_dropped, 1);
  auto out = d->output_topic<std::string, std::string>("out");
  EXPECT_TRUE(read(out).empty());
}

TEST(JoinTest, JoiningTopicsWithDifferentPartitionCountsIsRefusedWithAClearError) {
  TopologyBuilder b;
  auto views = b.stream<std::string, std::string>("views");
  auto clicks = b.stream<std::string, std::string>("clicks");
  views
      .join(
          clicks, [](const std::string& v, const std::string& c) { return v + c; },
          JoinWindows::of(10ms))
      .to("out");
  auto t = b.build();
  ASSERT_TRUE(t.ok());
  auto d = TopologyTestDriver::create(std::move(t).value(),
                                      {.partitions = {{"views", 4}, {"clicks", 2}}});
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(d.status().message().find("same number of partitions"), std::string::npos)
      << d.status().to_string();
}

}  // namespace
}  // namespace sluice::dsl

// The low-level processor API (stores, record metadata, punctuation on stream time and wall-
// clock time), timestamp extractors, and interactive queries.
#include <chrono>

#include "test_util.h"

namespace sluice::dsl {
namespace {

using namespace std::chrono_literals;
using testing::driver_for;
using testing::read;

// Counts records per key in its own store; every 100 ms of stream time forwards the counts
// seen since the last punctuation; every 1 s of wall-clock time forwards a heartbeat.
class CountingProcessor : public Processor<std::string, std::string, std::string, std::string> {
 public:
  Status init(ProcessorContext<std::string, std::string>& ctx) override {
    ctx_ = &ctx;
    SLUICE_ASSIGN_OR_RETURN(counts_, (ctx.key_value_store<std::string, int64_t>("counts")));
    ctx.schedule(PunctuationType::kStreamTime, 100, [this](Timestamp t) {
      return ctx_->forward({"tick", std::to_string(t.value()) + ":" + std::to_string(since_), t});
    });
    ctx.schedule(PunctuationType::kWallClock, 1000, [this](Timestamp t) {
      return ctx_->forward({"heartbeat", std::to_string(t.value()), t});
    });
    return Status();
  }
  Status process(Record<std::string, std::string> r) override {
    SLUICE_ASSIGN_OR_RETURN(auto n, counts_.get(r.key));
    SLUICE_RETURN_IF_ERROR(counts_.put(r.key, n.value_or(0) + 1));
    ++since_;
    const RecordMetadata& m = ctx_->record_metadata();
    return ctx_->forward({r.key,
                          std::string(m.topic) + "/" + std::to_string(m.partition.value()) + "@" +
                              std::to_string(m.offset.value()) +
                              " n=" + std::to_string(n.value_or(0) + 1),
                          r.timestamp});
  }

 private:
  ProcessorContext<std::string, std::string>* ctx_ = nullptr;
  KeyValueStoreView<std::string, int64_t> counts_{nullptr};
  int since_ = 0;
};

TEST(ProcessorTest, CustomProcessorUsesItsStoreSeesMetadataAndPunctuates) {
  TopologyBuilder b;
  b.add_state_store({.name = "counts"});
  b.stream<std::string, std::string>("in")
      .process<std::string, std::string>([] { return std::make_unique<CountingProcessor>(); },
                                         {"counts"})
      .to("out");
  auto d = driver_for(b, {.wall_clock_start = Timestamp(5'000)});
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, std::string>("in");
  auto out = d->output_topic<std::string, std::string>("out");
  ASSERT_OK(in.pipe("a", "x", Timestamp(10)));  // anchors the stream-time schedule at 110
  ASSERT_OK(in.pipe("a", "x", Timestamp(50)));
  ASSERT_OK(in.pipe("b", "x", Timestamp(120)));  // passes 110: one tick
  using R = std::vector<TestRecord<std::string, std::string>>;
  EXPECT_EQ(read(out), (R{{"a", "in/0@0 n=1", Timestamp(10)},
                          {"a", "in/0@1 n=2", Timestamp(50)},
                          {"b", "in/0@2 n=1", Timestamp(120)},
                          {"tick", "120:3", Timestamp(120)}}));
  ASSERT_OK(d->advance_wall_clock(999));
  EXPECT_TRUE(read(out).empty());
  ASSERT_OK(d->advance_wall_clock(1));
  EXPECT_EQ(read(out), (R{{"heartbeat", "6000", Timestamp(6000)}}));
  auto a = d->query<std::string, int64_t>("counts", "a");
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(*a, 2);
}

TEST(ProcessorTest, TimestampExtractorSetsEventTimeFromTheValue) {
  TopologyBuilder b;
  b.stream<std::string, int64_t>("in",
                                 {.timestamp_extractor = [](const std::string&, const int64_t& v,
                                                            Timestamp) { return Timestamp(v); }})
      .group_by_key()
      .windowed_by(TumblingWindows::of(100ms))
      .count("by-event-time")
      .to_stream()
      .to("out");
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, int64_t>("in");
  ASSERT_OK(in.pipe("k", 250, Timestamp(999'999)));  // the stored timestamp is ignored
  auto out = d->output_topic<Windowed<std::string>, int64_t>("out");
  auto records = read(out);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].key.window.start, Timestamp(200));
  EXPECT_EQ(records[0].timestamp, Timestamp(250));
}

TEST(InteractiveQueryTest, KeyRangeAndWindowLookupsSeeTheTopologysStores) {
  TopologyBuilder b;
  auto grouped = b.stream<std::string, std::string>("in").group_by_key();
  grouped.count("totals");
  // Kept an hour (by default only window size + grace: past that, windows are gone).
  grouped.windowed_by(TumblingWindows::of(10ms)).count(Materialized("per-10ms").with_retention(1h));
  auto d = driver_for(b, {.partitions = {{"in", 3}}});
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, std::string>("in");
  for (const char* k : {"a", "b", "c", "a", "c", "a"}) ASSERT_OK(in.pipe(k, "x", Timestamp(1)));
  ASSERT_OK(in.pipe("a", "x", Timestamp(15)));
  auto a = d->query<std::string, int64_t>("totals", "a");
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(*a, 4);
  auto none = d->query<std::string, int64_t>("totals", "zzz");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, std::nullopt);
  auto range = d->query_range<std::string, int64_t>("totals", std::string("b"));
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(*range, (std::vector<std::pair<std::string, int64_t>>{{"b", 1}, {"c", 2}}));
  auto windows =
      d->query_windows<std::string, int64_t>("per-10ms", "a", Timestamp(0), Timestamp(100));
  ASSERT_TRUE(windows.ok());
  EXPECT_EQ(*windows,
            (std::vector<std::pair<Timestamp, int64_t>>{{Timestamp(0), 3}, {Timestamp(10), 1}}));
}

}  // namespace
}  // namespace sluice::dsl

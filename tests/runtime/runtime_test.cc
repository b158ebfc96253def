// The runtime over the real log and RocksDB, in-process: tasks, threads, commits, restarts,
// interactive queries, metrics and errors.
#include "sluice/runtime/runtime.h"

#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "runtime_test_util.h"
#include "temp_dir.h"

namespace sluice::runtime {
namespace {

using namespace std::chrono_literals;
using namespace testing;
using CountOut = Output<operators::Windowed<std::string>, int64_t>;

// `n` records one ms apart (from 0) on one partition of "in", valued "<tag>:<timestamp>".
Status append_ticks(logstore::LogClient& log, int32_t partition, const std::string& tag, int n) {
  std::vector<std::string> values;
  for (int i = 0; i < n; ++i) values.push_back(tag + ":" + std::to_string(i));
  std::vector<logstore::Record> records;
  for (int i = 0; i < n; ++i) {
    logstore::Record r{.timestamp = Timestamp(i)};
    r.key = ByteView(tag);
    r.value = ByteView(values[static_cast<size_t>(i)]);
    records.push_back(r);
  }
  return log.append({"in", PartitionId(partition)}, records).status();
}

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    logstore::LogStoreOptions o;
    o.data_dir = tmp_ / "log";
    auto log = logstore::LogStore::open(o);
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    log_ = std::move(*log);
  }

  RuntimeConfig config(std::string app = "job", int threads = 1) {
    RuntimeConfig c;
    c.application_id = std::move(app);
    c.state_dir = tmp_ / "state";
    c.threads = threads;
    c.commit_interval_ms = 20;
    c.memory_budget_bytes = 64 << 20;
    return c;
  }

  std::unique_ptr<Runtime> start(operators::Topology t, RuntimeConfig c) {
    auto rt = Runtime::create(std::move(t), *log_, std::move(c));
    EXPECT_TRUE(rt.ok()) << rt.status().to_string();
    if (!rt.ok()) return nullptr;
    Status s = (*rt)->start();
    EXPECT_TRUE(s.ok()) << s.to_string();
    return s.ok() ? std::move(*rt) : nullptr;
  }

  // Runs the windowed count over `events` to the end and returns its committed output.
  std::vector<CountOut> run_windowed_count(RuntimeConfig c) {
    auto rt = start(windowed_count_topology(), c);
    if (!rt) return {};
    EXPECT_TRUE(wait_until_caught_up(*rt, *log_, c.application_id));
    rt->stop();
    EXPECT_TRUE(rt->wait().ok());
    auto out =
        read_committed<operators::Windowed<std::string>, int64_t>(*log_, "views-per-page-out");
    EXPECT_TRUE(out.ok()) << out.status().to_string();
    return out.ok() ? *out : std::vector<CountOut>{};
  }

  sluice::testing::TempDir tmp_;
  std::unique_ptr<logstore::LogStore> log_;
};

TEST_F(RuntimeTest, StatelessPipelineProcessesEveryRecordOfEveryPartitionExactlyOnce) {
  ASSERT_OK(create_topic(*log_, "in", 4));
  ASSERT_OK(create_topic(*log_, "out", 4));
  std::vector<Event> events;
  for (int i = 0; i < 20'000; ++i) {
    events.push_back({"k" + std::to_string(i % 97), std::to_string(i), Timestamp(i)});
  }
  ASSERT_OK(produce(*log_, "in", events));
  dsl::TopologyBuilder b;
  b.stream<std::string, std::string>("in")
      .filter([](const std::string&, const std::string& v) { return std::stoi(v) % 3 != 0; })
      .map_values([](const std::string& v) { return "v" + v; })
      .to("out");
  auto t = b.build();
  ASSERT_TRUE(t.ok());
  auto rt = start(std::move(*t), config("stateless", 2));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(wait_until_caught_up(*rt, *log_, "stateless"));
  rt->stop();
  ASSERT_OK(rt->wait());
  auto out = read_committed<std::string, std::string>(*log_, "out");
  ASSERT_TRUE(out.ok());
  std::multiset<std::string> got, want;
  for (const auto& r : *out) got.insert(r.key + "=" + r.value);
  for (const auto& e : events) {
    if (std::stoi(e.value) % 3 != 0) want.insert(e.key + "=v" + e.value);
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(rt->status().state, RuntimeState::kStopped);
}

TEST_F(RuntimeTest, WindowedCountThroughARepartitionEqualsTheOracleWithOneAndTwoThreads) {
  ASSERT_OK(create_topic(*log_, "views", 4));
  ASSERT_OK(create_topic(*log_, "views-per-page-out", 4));
  const auto events = page_views(30'000, 7);
  ASSERT_OK(produce(*log_, "views", events));
  const auto oracle = count_oracle(events);

  std::map<WindowKey, int64_t> results[2];
  for (int threads = 1; threads <= 2; ++threads) {
    // A fresh application (its own state, group and internal topics) each time.
    RuntimeConfig c = config("count-" + std::to_string(threads), threads);
    c.state_dir = tmp_ / ("state-" + std::to_string(threads));
    const auto before =
        read_committed<operators::Windowed<std::string>, int64_t>(*log_, "views-per-page-out");
    ASSERT_TRUE(before.ok());
    auto out = run_windowed_count(c);
    // Only this run's records: those after what the earlier run left, per partition.
    std::map<int32_t, Offset> skip;
    for (const auto& r : *before) skip[r.partition.value()] = r.offset.next();
    std::vector<CountOut> mine;
    for (auto& r : out) {
      if (r.offset >= skip[r.partition.value()]) mine.push_back(r);
    }
    const FinalCounts f = final_counts(mine);
    EXPECT_EQ(f.non_increasing, 0) << threads << " thread(s)";
    EXPECT_EQ(f.last, oracle) << threads << " thread(s)";
    results[threads - 1] = f.last;
  }
  EXPECT_EQ(results[0], results[1]);
}

TEST_F(RuntimeTest, AStopCommitsAndARestartResumesWhereItStoppedWithoutRepeatingOutput) {
  ASSERT_OK(create_topic(*log_, "views", 4));
  ASSERT_OK(create_topic(*log_, "views-per-page-out", 4));
  const auto first = page_views(8'000, 1);
  const auto second = page_views(8'000, 2, 16'000);
  ASSERT_OK(produce(*log_, "views", first));
  run_windowed_count(config("resume", 2));
  ASSERT_OK(produce(*log_, "views", second));
  auto out = run_windowed_count(config("resume", 2));
  auto all = first;
  all.insert(all.end(), second.begin(), second.end());
  const FinalCounts f = final_counts(out);
  EXPECT_EQ(f.non_increasing, 0);
  EXPECT_EQ(f.last, count_oracle(all));
}

// A hopping count emitted on close keeps per-slice counts (SlicedWindowedAggregateNode) and how
// far it has emitted: stopped and restarted between its windows, it emits every window once,
// with the count of every view in it.
TEST_F(RuntimeTest, AHoppingCountFromSlicesEmitsEachWindowOnceAcrossARestart) {
  using namespace std::chrono_literals;
  ASSERT_OK(create_topic(*log_, "views", 4));
  ASSERT_OK(create_topic(*log_, "hops-out", 4));
  auto topology = [] {
    dsl::TopologyBuilder b;
    b.stream<std::string, std::string>("views")
        .select_key([](const std::string&, const std::string& page) { return page; })
        .group_by_key()
        .windowed_by(dsl::HoppingWindows::of(2s).advance_by(500ms).grace(1h))
        .emit(operators::EmitStrategy::kOnWindowClose)
        .count("hops")
        .to_stream()
        .to("hops-out");
    auto t = b.build();
    EXPECT_TRUE(t.ok()) << t.status().to_string();
    return std::move(t).value();
  };
  auto run = [&] {
    auto rt = start(topology(), config("hops", 2));
    ASSERT_TRUE(rt);
    EXPECT_TRUE(wait_until_caught_up(*rt, *log_, "hops"));
    rt->stop();
    EXPECT_TRUE(rt->wait().ok());
  };
  const auto first = page_views(6'000, 7);
  const auto second = page_views(6'000, 8, 12'000);
  ASSERT_OK(produce(*log_, "views", first));
  run();
  ASSERT_OK(produce(*log_, "views", second));
  run();
  // Last, once all of those are counted (sooner, one would make the rest late): views of
  // pages that land on every partition of the count, far past the grace, which close every
  // window before them.
  std::vector<Event> closers;
  std::set<int32_t> covered;
  for (int i = 0; covered.size() < 4; ++i) {
    const std::string page = "closer-" + std::to_string(i);
    if (covered.insert(kafka_partition_for_key(page, 4)).second) {
      closers.push_back({"user-0", page, Timestamp(10 * 3600 * 1000)});
    }
  }
  ASSERT_OK(produce(*log_, "views", closers));
  run();

  std::map<WindowKey, int64_t> want;
  for (const std::vector<Event>* events :
       {&first, static_cast<const std::vector<Event>*>(&second)}) {
    for (const Event& e : *events) {
      const int64_t t = e.timestamp.value();
      for (int64_t start = t - t % 500; start > t - 2000 && start >= 0; start -= 500) {
        ++want[{e.value, start}];
      }
    }
  }
  auto out = read_committed<operators::Windowed<std::string>, int64_t>(*log_, "hops-out");
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::map<WindowKey, int64_t> got;
  for (const auto& r : *out) {
    const WindowKey k{r.key.key, r.key.window.start.value()};
    EXPECT_EQ(r.key.window.end.value() - k.second, 2000);
    EXPECT_TRUE(got.emplace(k, r.value).second) << "emitted twice: " << k.first << "@" << k.second;
  }
  EXPECT_EQ(got.size(), want.size());
  EXPECT_EQ(got, want);
}

TEST_F(RuntimeTest, StateLostWithItsDirectoryIsRestoredFromTheChangelogWithProgressReported) {
  ASSERT_OK(create_topic(*log_, "views", 4));
  ASSERT_OK(create_topic(*log_, "views-per-page-out", 4));
  const auto first = page_views(8'000, 3);
  const auto second = page_views(8'000, 4, 16'000);
  ASSERT_OK(produce(*log_, "views", first));
  RuntimeConfig c = config("restore", 1);
  run_windowed_count(c);
  std::filesystem::remove_all(c.state_dir);

  std::atomic<int64_t> restored{0};
  c.on_restore = [&](const state::RestoreProgress& p) {
    if (p.done) restored += p.records;
  };
  ASSERT_OK(produce(*log_, "views", second));
  auto out = run_windowed_count(c);
  auto all = first;
  all.insert(all.end(), second.begin(), second.end());
  EXPECT_EQ(final_counts(out).last, count_oracle(all));
  EXPECT_GT(restored.load(), 0);
}

TEST_F(RuntimeTest, AtLeastOnceReachesTheSameFinalCounts) {
  ASSERT_OK(create_topic(*log_, "views", 4));
  ASSERT_OK(create_topic(*log_, "views-per-page-out", 4));
  const auto events = page_views(10'000, 5);
  ASSERT_OK(produce(*log_, "views", events));
  RuntimeConfig c = config("alo", 2);
  c.guarantee = ProcessingGuarantee::kAtLeastOnce;
  EXPECT_EQ(final_counts(run_windowed_count(c)).last, count_oracle(events));
}

TEST_F(RuntimeTest, AMissingInputTopicIsRefusedWithHowToCreateIt) {
  auto rt = Runtime::create(windowed_count_topology(), *log_, config());
  ASSERT_TRUE(rt.ok());
  Status s = (*rt)->start();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("topic 'views' does not exist"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("sluice topic create views"), std::string::npos) << s.message();
}

TEST_F(RuntimeTest, ABadConfigIsRefusedBeforeAnythingStarts) {
  RuntimeConfig c = config();
  c.application_id = "has space";
  EXPECT_EQ(Runtime::create(windowed_count_topology(), *log_, c).status().code(),
            StatusCode::kInvalidArgument);
  c = config();
  c.threads = 0;
  EXPECT_EQ(Runtime::create(windowed_count_topology(), *log_, c).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(RuntimeTest, RepartitionRecordsArePurgedOnceCommittedAsConsumed) {
  ASSERT_OK(create_topic(*log_, "views", 4));
  ASSERT_OK(create_topic(*log_, "views-per-page-out", 4));
  ASSERT_OK(produce(*log_, "views", page_views(10'000, 6)));
  auto rt = start(windowed_count_topology(), config("purge", 2));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(wait_until_caught_up(*rt, *log_, "purge"));
  rt->stop();
  ASSERT_OK(rt->wait());
  std::string repartition;
  for (const auto& t : log_->list_topics()) {
    if (t.starts_with("purge-") && t.ends_with("-repartition")) repartition = t;
  }
  ASSERT_FALSE(repartition.empty());
  for (int32_t p = 0; p < 4; ++p) {
    auto ends = log_->partition_ends({repartition, PartitionId(p)});
    ASSERT_TRUE(ends.ok());
    EXPECT_GT(ends->high_watermark.offset().value(), 0);
    EXPECT_EQ(ends->log_start, ends->stable.offset()) << "partition " << p;
  }
}

TEST_F(RuntimeTest, OffsetResetLatestSkipsRecordsAppendedBeforeTheFirstStart) {
  ASSERT_OK(create_topic(*log_, "in", 2));
  ASSERT_OK(create_topic(*log_, "out", 2));
  ASSERT_OK(produce(*log_, "in", {{"a", "old", Timestamp(1)}, {"b", "old", Timestamp(2)}}));
  dsl::TopologyBuilder b;
  b.stream<std::string, std::string>("in").to("out");
  auto t = b.build();
  ASSERT_TRUE(t.ok());
  RuntimeConfig c = config("latest");
  c.offset_reset = OffsetReset::kLatest;
  auto rt = start(std::move(*t), c);
  ASSERT_TRUE(rt);
  ASSERT_TRUE(wait_until_caught_up(*rt, *log_, "latest"));
  ASSERT_OK(produce(*log_, "in", {{"a", "new", Timestamp(3)}}));
  ASSERT_TRUE(wait_until_caught_up(*rt, *log_, "latest"));
  rt->stop();
  ASSERT_OK(rt->wait());
  auto out = read_committed<std::string, std::string>(*log_, "out");
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].value, "new");
}

TEST_F(RuntimeTest, InteractiveQueriesAnswerWhileTasksProcess) {
  ASSERT_OK(create_topic(*log_, "views", 4));
  ASSERT_OK(create_topic(*log_, "views-per-page-out", 4));
  dsl::TopologyBuilder b;
  b.stream<std::string, std::string>("views")
      .group_by_key()
      .count("views-per-user")
      .to_stream()
      .to("views-per-page-out");
  auto t = b.build();
  ASSERT_TRUE(t.ok());
  auto rt = start(std::move(*t), config("iq", 2));
  ASSERT_TRUE(rt);
  std::map<std::string, int64_t> expected;
  for (int round = 0; round < 5; ++round) {
    auto events = page_views(2'000, 100 + static_cast<uint64_t>(round));
    for (const auto& e : events) ++expected[e.key];
    ASSERT_OK(produce(*log_, "views", events));
    // Queries race with processing: they must answer (no error, no torn value).
    auto v = rt->query<std::string, int64_t>("views-per-user", events[0].key);
    if (!v.ok()) {
      EXPECT_EQ(v.status().code(), StatusCode::kUnavailable) << v.status().to_string();
    }
  }
  ASSERT_TRUE(wait_until_caught_up(*rt, *log_, "iq"));
  for (const auto& [user, n] : expected) {
    auto v = rt->query<std::string, int64_t>("views-per-user", user);
    ASSERT_TRUE(v.ok()) << v.status().to_string();
    EXPECT_EQ(*v, std::optional<int64_t>(n)) << user;
  }
  auto all = rt->query_range<std::string, int64_t>("views-per-user", std::nullopt, std::nullopt);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), expected.size());
  auto missing = rt->query<std::string, int64_t>("no-such-store", "x");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  rt->stop();
  ASSERT_OK(rt->wait());
  auto stopped = rt->query<std::string, int64_t>("views-per-user", "x");
  EXPECT_EQ(stopped.status().code(), StatusCode::kUnavailable);
}

TEST_F(RuntimeTest, MetricsReportRecordsPerOperatorLagCommitsAndMemory) {
  ASSERT_OK(create_topic(*log_, "views", 4));
  ASSERT_OK(create_topic(*log_, "views-per-page-out", 4));
  ASSERT_OK(produce(*log_, "views", page_views(5'000, 8)));
  auto rt = start(windowed_count_topology(), config("metrics", 2));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(wait_until_caught_up(*rt, *log_, "metrics"));
  const RuntimeMetrics m = rt->metrics();
  ASSERT_EQ(m.tasks.size(), 8u);  // 2 sub-topologies x 4 partitions
  int64_t processed = 0, counted_in = 0;
  for (const auto& t : m.tasks) {
    EXPECT_FALSE(t.restoring);
    processed += t.operators.records_processed;
    for (const auto& in : t.inputs) EXPECT_EQ(in.lag(), 0) << t.id;
    for (const auto& [name, nm] : t.operators.nodes) {
      if (name.starts_with("windowed-aggregate")) counted_in += nm.records_in;
    }
  }
  EXPECT_EQ(processed, 2 * 5'000);  // each record once per sub-topology
  std::string names;
  for (const auto& [name, nm] : m.tasks.back().operators.nodes) names += name + " ";
  EXPECT_EQ(counted_in, 5'000) << names;
  ASSERT_EQ(m.threads.size(), 2u);
  for (const auto& th : m.threads) {
    EXPECT_GT(th.commits, 0);
    EXPECT_GT(th.commit_latency_max_ms, 0);
  }
  EXPECT_GT(m.memory.cache_bytes, 0u);
  rt->stop();
  ASSERT_OK(rt->wait());
}

TEST_F(RuntimeTest, AThrowingOperatorFailsTheRuntimeAndWaitReturnsTheError) {
  ASSERT_OK(create_topic(*log_, "in", 2));
  ASSERT_OK(create_topic(*log_, "out", 2));
  ASSERT_OK(produce(*log_, "in", {{"a", "ok", Timestamp(1)}, {"b", "boom", Timestamp(2)}}));
  dsl::TopologyBuilder b;
  b.stream<std::string, std::string>("in")
      .map_values([](const std::string& v) {
        if (v == "boom") throw std::runtime_error("cannot handle boom");
        return v;
      })
      .to("out");
  auto t = b.build();
  ASSERT_TRUE(t.ok());
  auto rt = start(std::move(*t), config("fails"));
  ASSERT_TRUE(rt);
  Status s = rt->wait();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.to_string().find("cannot handle boom"), std::string::npos) << s.to_string();
  EXPECT_EQ(rt->status().state, RuntimeState::kFailed);
}

TEST_F(RuntimeTest, ASecondInstanceOfTheApplicationFencesTheFirstWhichStopsWithAClearError) {
  ASSERT_OK(create_topic(*log_, "in", 2));
  ASSERT_OK(create_topic(*log_, "out", 2));
  auto topology = [] {
    dsl::TopologyBuilder b;
    b.stream<std::string, std::string>("in").to("out");
    return std::move(b.build()).value();
  };
  RuntimeConfig first = config("twice");
  first.state_dir = tmp_ / "first";
  auto a = start(topology(), first);
  ASSERT_TRUE(a);
  ASSERT_OK(produce(*log_, "in", {{"a", "1", Timestamp(1)}}));
  ASSERT_TRUE(wait_until_caught_up(*a, *log_, "twice"));
  RuntimeConfig second = config("twice");
  second.state_dir = tmp_ / "second";
  auto b = start(topology(), second);  // takes the transactional ids over
  ASSERT_TRUE(b);
  ASSERT_OK(produce(*log_, "in", {{"b", "2", Timestamp(2)}, {"c", "3", Timestamp(3)}}));
  Status s = a->wait();  // the zombie's next commit is refused
  EXPECT_EQ(s.code(), StatusCode::kProducerFenced) << s.to_string();
  EXPECT_NE(s.message().find("another instance of 'twice'"), std::string::npos) << s.message();
  ASSERT_TRUE(wait_until_caught_up(*b, *log_, "twice"));
  b->stop();
  ASSERT_OK(b->wait());
  auto out = read_committed<std::string, std::string>(*log_, "out");
  ASSERT_TRUE(out.ok());
  std::multiset<std::string> got;
  for (const auto& r : *out) got.insert(r.key + r.value);
  EXPECT_EQ(got, (std::multiset<std::string>{"a1", "b2", "c3"}));
}

// Forwards a heartbeat every second of wall-clock time, and records as they come.
class Heartbeat : public dsl::Processor<std::string, std::string, std::string, std::string> {
 public:
  Status init(dsl::ProcessorContext<std::string, std::string>& ctx) override {
    ctx_ = &ctx;
    ctx.schedule(dsl::PunctuationType::kWallClock, 1000, [this](Timestamp t) {
      return ctx_->forward({"heartbeat", std::to_string(t.value()), t});
    });
    return Status();
  }
  Status process(operators::Record<std::string, std::string> r) override {
    return ctx_->forward(r);
  }

 private:
  dsl::ProcessorContext<std::string, std::string>* ctx_ = nullptr;
};

TEST_F(RuntimeTest, WallClockPunctuationsRunOnTheStreamThreadsAndTheirOutputIsCommitted) {
  ASSERT_OK(create_topic(*log_, "in", 2));
  ASSERT_OK(create_topic(*log_, "out", 2));
  dsl::TopologyBuilder b;
  b.stream<std::string, std::string>("in")
      .process<std::string, std::string>([] { return std::make_unique<Heartbeat>(); }, {})
      .to("out");
  auto t = b.build();
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  ManualClock clock(Timestamp(1'000'000));
  RuntimeConfig c = config("heartbeat", 2);
  c.clock = &clock;
  auto rt = start(std::move(*t), c);
  ASSERT_TRUE(rt);
  for (int i = 0; i < 500 && rt->status().tasks_restoring > 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(rt->status().tasks_restoring, 0);
  std::this_thread::sleep_for(50ms);  // nothing is due yet
  auto none = read_committed<std::string, std::string>(*log_, "out");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  clock.advance_ms(1000);  // due: one heartbeat per task; the commit interval has passed too
  std::vector<Output<std::string, std::string>> out;
  for (int i = 0; i < 500 && out.size() < 2; ++i) {
    std::this_thread::sleep_for(10ms);
    auto got = read_committed<std::string, std::string>(*log_, "out");
    ASSERT_TRUE(got.ok());
    out = *got;
  }
  ASSERT_EQ(out.size(), 2u);
  for (const auto& r : out) {
    EXPECT_EQ(r.key, "heartbeat");
    EXPECT_EQ(r.value, "1001000");
  }
  rt->stop();
  ASSERT_OK(rt->wait());
}

TEST_F(RuntimeTest, GlobalTableEnrichesEveryThreadsTasks) {
  ASSERT_OK(create_topic(*log_, "in", 4));
  ASSERT_OK(create_topic(*log_, "pages", 1));
  ASSERT_OK(create_topic(*log_, "out", 4));
  std::vector<Event> titles;
  for (int p = 0; p < 50; ++p) {
    titles.push_back({"page-" + std::to_string(p), "Title " + std::to_string(p), Timestamp(0)});
  }
  ASSERT_OK(produce(*log_, "pages", titles));
  const auto views = page_views(4'000, 9);
  ASSERT_OK(produce(*log_, "in", views));
  dsl::TopologyBuilder b;
  auto pages = b.global_table<std::string, std::string>("pages", "page-titles");
  b.stream<std::string, std::string>("in")
      .join(
          pages, [](const std::string&, const std::string& page) { return page; },
          [](const std::string&, const std::string& title) { return title; })
      .to("out");
  auto t = b.build();
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  auto rt = start(std::move(*t), config("global", 2));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(wait_until_caught_up(*rt, *log_, "global"));
  rt->stop();
  ASSERT_OK(rt->wait());
  auto out = read_committed<std::string, std::string>(*log_, "out");
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), views.size());
  for (const auto& r : *out) EXPECT_TRUE(r.value.starts_with("Title ")) << r.value;
}

// Partition 0 is slow to process (100 µs a record), partition 1 fast, both holding the same
// span of event time; everything is re-keyed to one key and counted per 1-second window with
// a grace far below the span. Unaligned, the fast task reaches the end of its partition while
// the slow one has barely started, the count's stream time jumps there, and most of the slow
// task's records come too late.
TEST_F(RuntimeTest, AFastTaskWaitsForASlowerOneOfItsSubtopologySoTheWindowsDownstreamDropNothing) {
  constexpr int kRecords = 6'000;
  constexpr int64_t kDriftMs = 200;
  ASSERT_OK(create_topic(*log_, "in", 2));
  ASSERT_OK(create_topic(*log_, "out", 2));

  std::mutex mu;
  int64_t slow_seen = -1;     // the slow task's latest timestamp
  int64_t fast_ahead_by = 0;  // how far past slow_seen + drift the fast task ever went
  int64_t fast_checked = 0;   // fast records seen while the slow task had records left
  std::atomic<bool> slow_started = false;
  dsl::TopologyBuilder b;
  b.stream<std::string, std::string>("in")
      .map_values([&](const std::string& v) {
        const bool slow = v.starts_with("slow:");
        const int64_t ts = std::stoll(v.substr(5));
        if (slow) std::this_thread::sleep_for(100us);
        std::lock_guard lock(mu);
        if (slow) {
          slow_seen = ts;
          slow_started = true;
        } else if (slow_seen < kRecords - 1) {
          ++fast_checked;
          fast_ahead_by = std::max(fast_ahead_by, ts - (slow_seen + kDriftMs));
        }
        return v;
      })
      .select_key([](const std::string&, const std::string&) { return std::string("all"); })
      .group_by_key()
      .windowed_by(dsl::TumblingWindows::of(1s).grace(2s))
      .count("per-second")
      .to_stream()
      .to("out");
  auto t = b.build();
  ASSERT_TRUE(t.ok()) << t.status().to_string();

  RuntimeConfig c = config("aligned", 2);
  c.max_task_drift_ms = kDriftMs;
  auto rt = Runtime::create(std::move(*t), *log_, c);
  ASSERT_TRUE(rt.ok()) << rt.status().to_string();
  // The slow partition's records first: its task is running when the fast one's arrive.
  ASSERT_OK(append_ticks(*log_, 0, "slow", kRecords));
  ASSERT_OK((*rt)->start());
  for (int i = 0; i < 1000 && !slow_started; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(slow_started);
  ASSERT_OK(append_ticks(*log_, 1, "fast", kRecords));
  ASSERT_TRUE(wait_until_caught_up(**rt, *log_, "aligned"));

  int64_t late = 0;
  for (const auto& task : (*rt)->metrics().tasks) {
    for (const auto& [name, nm] : task.operators.nodes) late += nm.late_dropped;
    // Both upstream tasks got to their last record; the fast one spent time waiting.
    if (task.id.starts_with("0_")) {
      EXPECT_EQ(task.stream_time_ms, kRecords - 1) << task.id;
    }
    if (task.id == "0_1") {
      EXPECT_GT(task.alignment_wait_ms, 0);
    }
  }
  (*rt)->stop();
  ASSERT_OK((*rt)->wait());
  {
    std::lock_guard lock(mu);
    EXPECT_GT(fast_checked, 0);
    // One record (1 ms) past the bound at most: a task stops once its stream time passes it.
    EXPECT_LE(fast_ahead_by, 1) << "the fast task ran ahead of the slow one";
  }
  EXPECT_EQ(late, 0);
  auto out = read_committed<operators::Windowed<std::string>, int64_t>(*log_, "out");
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  const FinalCounts f = final_counts(*out);
  std::map<WindowKey, int64_t> want;
  for (int64_t w = 0; w < kRecords; w += 1000) want[{"all", w}] = 2 * 1000;
  EXPECT_EQ(f.last, want);
}

// A record far in the future puts its task far ahead of the others: it waits for them, they
// are never held back by it, and once they run out of records it goes on — so the job still
// gets through every record (what this checks: it neither stalls nor loses any).
TEST_F(RuntimeTest, AJobWithARecordFarInTheFutureStillProcessesEveryRecord) {
  ASSERT_OK(create_topic(*log_, "in", 2));
  ASSERT_OK(create_topic(*log_, "out", 2));
  std::vector<logstore::Record> records;
  for (int64_t ts : {int64_t{1}, int64_t{1'000'000'000}, int64_t{2}, int64_t{3}}) {
    logstore::Record r{.timestamp = Timestamp(ts)};
    r.key = ByteView("a");
    r.value = ByteView("x");
    records.push_back(r);
  }
  ASSERT_OK(log_->append({"in", PartitionId(0)}, records).status());
  ASSERT_OK(append_ticks(*log_, 1, "other", 5'000));
  dsl::TopologyBuilder b;
  b.stream<std::string, std::string>("in").to("out");
  auto t = b.build();
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  RuntimeConfig c = config("future", 2);
  c.max_task_drift_ms = 100;
  auto rt = Runtime::create(std::move(*t), *log_, c);
  ASSERT_TRUE(rt.ok()) << rt.status().to_string();
  ASSERT_OK((*rt)->start());
  ASSERT_TRUE(wait_until_caught_up(**rt, *log_, "future"));
  (*rt)->stop();
  ASSERT_OK((*rt)->wait());
  auto out = read_committed<std::string, std::string>(*log_, "out");
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(out->size(), 5'004u);
}

}  // namespace
}  // namespace sluice::runtime

// The Yahoo Streaming Benchmark and the Nexmark queries that are built, on the embedded runtime.
//
// Per workload:
//   - throughput: the events are appended first (not timed), then one stream thread runs the
//     job exactly-once until every input is processed and committed; events/s per core is the
//     input events divided by the CPU-seconds the process spent meanwhile (all its threads);
//   - latency: a fresh log and job, and a producer appending the same events at half that
//     rate (over again when they run out), each stamped with its append time; a read-committed
//     reader takes how long each output record took to appear after the input that produced it (its
//     timestamp) — p50, p99.
// Results: a table on stdout and build/bench-results/samples.json (ysb_events_s_per_core,
// ysb_latency_p50_ms, ysb_latency_p99_ms, nexmark_qN_... for q0 to q8, and
// nexmark_q8_one_stream_...: q8 over one topic of every event, bids included and counted, as Flink
// and Feldera run it).
#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <optional>
#include <thread>
#include <tuple>

#include "bench_log.h"
#include "bench_util.h"
#include "sluice/runtime/runtime.h"
#include "sluice/samples/nexmark.h"
#include "sluice/samples/yahoo.h"

using namespace sluice;
namespace fs = std::filesystem;

namespace {

constexpr int32_t kPartitions = 4;

struct Event {
  int input;  // index into Workload::inputs
  std::string key, value;
  int64_t timestamp;
};

struct Workload {
  std::string name;  // the JSON prefix: ysb, nexmark_q3, ...
  std::function<Result<operators::Topology>()> topology;
  std::vector<std::string> inputs;
  std::string output;
  std::vector<Event> setup;   // appended before the job starts (the YSB campaign table)
  std::vector<Event> events;  // the measured stream
};

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<logstore::LogStore> fresh_log(const std::string& dir, const Workload& w) {
  fs::remove_all(dir);
  auto log = bench::open_log(dir + "/log");
  std::vector<std::string> topics = w.inputs;
  topics.push_back(w.output);
  for (const auto& t : topics) {
    logstore::TopicConfig tc;
    tc.partitions = kPartitions;
    tc.retention_ms = -1;
    bench::check(log->create_topic(t, tc));
  }
  return log;
}

void append(logstore::LogStore& log, const Workload& w, const std::vector<Event>& events,
            size_t from, size_t to, std::optional<int64_t> stamp) {
  std::map<std::pair<int, int32_t>, std::vector<logstore::Record>> batches;
  for (size_t i = from; i < to; ++i) {
    const Event& e = events[i];
    const int32_t p = kafka_partition_for_key(e.key, kPartitions);
    batches[{e.input, p}].push_back({.key = ByteView(e.key),
                                     .value = ByteView(e.value),
                                     .timestamp = Timestamp(stamp ? *stamp : e.timestamp)});
  }
  for (const auto& [where, batch] : batches) {
    bench::check(
        log.append({w.inputs[static_cast<size_t>(where.first)], PartitionId(where.second)}, batch)
            .status());
  }
}

std::unique_ptr<runtime::Runtime> start(logstore::LogStore& log, const Workload& w,
                                        const std::string& dir) {
  auto topology = w.topology();
  bench::check(topology.status());
  runtime::RuntimeConfig rc;
  rc.application_id = w.name;
  rc.state_dir = dir + "/state";
  rc.threads = 1;
  auto rt = runtime::Runtime::create(std::move(*topology), log, rc);
  bench::check(rt.status());
  bench::check((*rt)->start());
  return std::move(*rt);
}

// Events per CPU-second, and per wall-second.
std::pair<double, double> throughput(const Workload& w, const std::string& dir) {
  auto log = fresh_log(dir, w);
  append(*log, w, w.setup, 0, w.setup.size(), std::nullopt);
  for (size_t at = 0; at < w.events.size(); at += 10'000) {
    append(*log, w, w.events, at, std::min(w.events.size(), at + 10'000), std::nullopt);
  }
  const double cpu0 = cpu_seconds(), wall0 = bench::now_s();
  auto rt = start(*log, w, dir);
  int clean = 0;
  while (clean < 2) {
    if (rt->status().state != runtime::RuntimeState::kRunning) bench::check(rt->wait());
    clean = rt->caught_up() ? clean + 1 : 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double cpu = cpu_seconds() - cpu0, wall = bench::now_s() - wall0;
  rt->stop();
  bench::check(rt->wait());
  const double n = static_cast<double>(w.events.size());
  return {n / cpu, n / wall};
}

struct Latency {
  double p50 = 0, p99 = 0;
  size_t samples = 0;
};

Latency latency(const Workload& w, const std::string& dir, double rate, double seconds) {
  auto log = fresh_log(dir, w);
  append(*log, w, w.setup, 0, w.setup.size(), wall_ms());
  auto rt = start(*log, w, dir);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // tasks open
  std::atomic<bool> producing{true};
  std::thread producer([&] {
    // For the whole run, from the start of the events again when they run out (they are
    // stamped with the time they are appended): a window must see stream time pass its end and
    // grace, 14 s for q5, while at half of q5's throughput the events last under 3 s.
    const double begin = bench::now_s();
    const size_t n = w.events.size();
    size_t sent = 0;
    while (producing) {
      const auto due = static_cast<size_t>((bench::now_s() - begin) * rate);
      while (sent < due) {
        const size_t from = sent % n;
        const size_t to = std::min(n, from + (due - sent));
        append(*log, w, w.events, from, to, wall_ms());
        sent += to - from;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::vector<double> samples;
  std::vector<Offset> position(kPartitions, Offset(0));
  const double until = bench::now_s() + seconds;
  while (bench::now_s() < until) {
    for (int32_t p = 0; p < kPartitions; ++p) {
      auto fetched = log->fetch(
          {.partition = {w.output, PartitionId(p)}, .offset = position[p], .max_wait_ms = 5});
      bench::check(fetched.status());
      const int64_t now = wall_ms();
      bench::check(logstore::for_each_record(
          *fetched, position[p], logstore::IsolationLevel::kReadCommitted,
          [&](const logstore::RecordView& r) {
            samples.push_back(static_cast<double>(now - r.timestamp.value()));
          }));
      position[p] = fetched->next_offset;
    }
  }
  producing = false;
  producer.join();
  rt->stop();
  bench::check(rt->wait());
  // The first fifth warms up.
  std::vector<double> steady(samples.begin() + static_cast<std::ptrdiff_t>(samples.size() / 5),
                             samples.end());
  std::sort(steady.begin(), steady.end());
  Latency l;
  l.samples = steady.size();
  if (!steady.empty()) {
    l.p50 = steady[steady.size() / 2];
    l.p99 = steady[steady.size() * 99 / 100];
  }
  return l;
}

Workload yahoo(int64_t events) {
  samples::YahooOptions o{.events = events};
  Workload w{.name = "ysb",
             .topology = samples::yahoo_topology,
             .inputs = {samples::kYahooCampaignsTopic, samples::kYahooEventsTopic},
             .output = samples::kYahooCountsTopic};
  for (const auto& [ad, campaign] : samples::yahoo_campaigns(o)) {
    w.setup.push_back({0, ad, campaign, o.start_ms});
  }
  samples::YahooGenerator gen(o);
  while (!gen.done()) {
    auto e = gen.next();
    w.events.push_back({1, e.user_id, nlohmann::json(e).dump(), e.event_time});
  }
  return w;
}

// q3 and q8 run on this many times the events of the others (their people and auctions only).
constexpr int64_t kPeopleAndAuctionsFactor = 10;

// The query's inputs only: a query that reads bids is measured on bids.
Workload nexmark(int query, const samples::NexmarkEvents& e) {
  Workload w{.name = "nexmark_q" + std::to_string(query),
             .topology = [query] { return samples::nexmark_topology(query); },
             .inputs = {samples::kPersonTopic, samples::kAuctionTopic, samples::kBidTopic},
             .output = samples::nexmark_output(query)};
  const bool people = query == 3 || query == 8;
  const bool auctions = query == 3 || query == 4 || query == 6 || query == 8;
  const bool bids = !(query == 3 || query == 8);
  if (people) {
    for (const auto& p : e.people) {
      w.events.push_back({0, std::to_string(p.id), nlohmann::json(p).dump(), p.date_time});
    }
  }
  if (auctions) {
    for (const auto& a : e.auctions) {
      w.events.push_back({1, std::to_string(a.id), nlohmann::json(a).dump(), a.date_time});
    }
  }
  if (bids) {
    for (const auto& b : e.bids) {
      w.events.push_back({2, std::to_string(b.auction), nlohmann::json(b).dump(), b.date_time});
    }
  }
  std::stable_sort(w.events.begin(), w.events.end(),
                   [](const Event& a, const Event& b) { return a.timestamp < b.timestamp; });
  return w;
}

// q3 or q8 over Nexmark's single stream of every event, as Flink's and Feldera's runs read it:
// the bids are read too (and dropped by the query), and every event counts.
Workload nexmark_one_stream(int query, const samples::NexmarkEvents& e) {
  Workload w{.name = "nexmark_q" + std::to_string(query) + "_one_stream",
             .topology = [query] { return samples::nexmark_one_stream_topology(query); },
             .inputs = {samples::kEventTopic},
             .output = samples::nexmark_output(query)};
  for (const samples::NexmarkEvent& ev : samples::nexmark_stream(e)) {
    Bytes value;
    operators::Serde<samples::NexmarkEvent>::serialize(ev, value);
    w.events.push_back({0, samples::nexmark_key(ev), std::move(value), samples::nexmark_time(ev)});
  }
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir, out = "build/bench-results/samples.json";
  int64_t events = 1'000'000;
  double latency_seconds = 10;
  bool quick = false;
  CLI::App app{"YSB and Nexmark on the embedded runtime: events/s per core and latency"};
  app.add_option("--dir", dir, "Scratch directory (emptied)")->required();
  app.add_option("--out", out, "JSON results file")->capture_default_str();
  app.add_option("--events", events, "Events generated per workload")->capture_default_str();
  app.add_option("--latency-seconds", latency_seconds, "Length of each latency run")
      ->capture_default_str();
  app.add_flag("--quick", quick, "200,000 events, 3-second latency runs");
  std::vector<std::string> only;
  app.add_option("--only", only,
                 "Only these workloads (ysb, nexmark_q0 .. nexmark_q8, nexmark_q3_one_stream, "
                 "nexmark_q8_one_stream)")
      ->delimiter(',');
  bool no_latency = false;
  app.add_flag("--no-latency", no_latency, "Throughput only (for profiling)");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    events = 200'000;
    latency_seconds = 3;
  }
  spdlog::set_level(spdlog::level::warn);
  try {
    // Events are generated only for the workloads asked for.
    auto wanted = [&](const std::string& name) {
      return only.empty() || std::find(only.begin(), only.end(), name) != only.end();
    };
    std::vector<Workload> workloads;
    if (wanted("ysb")) workloads.push_back(yahoo(events));
    // q3 and q8 read people and auctions only, 8% of the events: they are measured over ten
    // times the events (the bids among them generated, not kept), so that their runs last
    // long enough for the job's fixed start-up to count little.
    std::optional<samples::NexmarkEvents> all_events, people_and_auctions;
    for (int q : samples::nexmark_queries()) {
      if (!wanted("nexmark_q" + std::to_string(q))) continue;
      const bool people_only = q == 3 || q == 8;
      auto& source = people_only ? people_and_auctions : all_events;
      if (!source) {
        source = samples::generate_nexmark(
            {.events = people_only ? kPeopleAndAuctionsFactor * events : events,
             .keep_bids = !people_only});
      }
      workloads.push_back(nexmark(q, *source));
    }
    for (int q : {3, 8}) {
      if (!wanted("nexmark_q" + std::to_string(q) + "_one_stream")) continue;
      if (!all_events) all_events = samples::generate_nexmark({.events = events});
      workloads.push_back(nexmark_one_stream(q, *all_events));
    }
    if (workloads.empty()) throw std::runtime_error("--only names no workload");
    bench::Results results;
    fmt::print("{:<22} {:>10} {:>16} {:>14} {:>12} {:>12}\n", "workload", "events", "events/s/core",
               "events/s wall", "p50 ms", "p99 ms");
    int step = 0;
    const int steps = 2 * static_cast<int>(workloads.size());
    for (const Workload& w : workloads) {
      bench::progress(step++, steps, w.name + ": throughput");
      const auto [per_core, per_wall] = throughput(w, dir);
      bench::progress(step++, steps, w.name + ": latency at half that rate");
      const Latency l = no_latency ? Latency{} : latency(w, dir, per_core / 2, latency_seconds);
      std::fprintf(stderr, "\n");
      fmt::print("{:<22} {:>10} {:>16.0f} {:>14.0f} {:>12.1f} {:>12.1f}\n", w.name, w.events.size(),
                 per_core, per_wall, l.p50, l.p99);
      results.set(w.name + "_events_s_per_core", per_core);
      results.set(w.name + "_latency_p50_ms", l.p50);
      results.set(w.name + "_latency_p99_ms", l.p99);
    }
    if (!results.write(out)) throw std::runtime_error("cannot write " + out);
    fs::remove_all(dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "samples_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}

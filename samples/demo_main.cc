// `make demo`: the page-view sample end to end on the embedded log. Generates page views,
// runs the job (drop bots, re-key by page, count per 1-minute window) on the runtime with
// exactly-once commits, checks its output against an independent count of the same events,
// and prints the top pages of each minute and the throughput.
#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "sluice/base/murmur2.h"
#include "sluice/logstore/log_store.h"
#include "sluice/runtime/runtime.h"
#include "sluice/samples/page_views.h"

using namespace sluice;
using namespace sluice::samples;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One status line, rewritten in place on a terminal.
void status_line(const std::string& line) {
  static const bool tty = isatty(STDERR_FILENO);
  if (tty) std::fprintf(stderr, "\r  %-76s", line.c_str());
}

void end_status_line() {
  if (isatty(STDERR_FILENO)) std::fprintf(stderr, "\r%80s\r", "");
}

int fail(const Status& s) {
  end_status_line();
  std::fprintf(stderr, "sluice-demo: %s\n", s.to_string().c_str());
  return 1;
}

std::string clock_of(int64_t ms) {
  const int64_t minute_of_day = ms / 60'000 % (24 * 60);
  return fmt::format("{:02d}:{:02d}", minute_of_day / 60, minute_of_day % 60);
}

// Appends the generated events keyed by user, and counts them as the oracle does.
Status produce(logstore::LogStore& log, const PageViewOptions& options, int32_t partitions,
               ViewsPerPage& oracle) {
  PageViewGenerator gen(options);
  std::vector<std::vector<std::string>> keys(static_cast<size_t>(partitions)),
      values(static_cast<size_t>(partitions));
  std::vector<std::vector<int64_t>> times(static_cast<size_t>(partitions));
  auto flush = [&](int32_t p) -> Status {
    auto& ks = keys[static_cast<size_t>(p)];
    auto& vs = values[static_cast<size_t>(p)];
    auto& ts = times[static_cast<size_t>(p)];
    std::vector<logstore::Record> batch;
    for (size_t i = 0; i < ks.size(); ++i) {
      batch.push_back(
          {.key = ByteView(ks[i]), .value = ByteView(vs[i]), .timestamp = Timestamp(ts[i])});
    }
    Status s = log.append({kPageViewsTopic, PartitionId(p)}, batch).status();
    ks.clear();
    vs.clear();
    ts.clear();
    return s;
  };
  for (int64_t i = 0; !gen.done(); ++i) {
    const PageView v = gen.next();
    if (!is_bot(v)) ++oracle[{v.timestamp / kWindowMs * kWindowMs, v.page}];
    const int32_t p = kafka_partition_for_key(v.user, partitions);
    keys[static_cast<size_t>(p)].push_back(v.user);
    values[static_cast<size_t>(p)].push_back(nlohmann::json(v).dump());
    times[static_cast<size_t>(p)].push_back(v.timestamp);
    if (keys[static_cast<size_t>(p)].size() == 1000) SLUICE_RETURN_IF_ERROR(flush(p));
    if (i % 100'000 == 0) {
      status_line(fmt::format("generating page views: {:.0f}%", 100.0 * i / options.events));
    }
  }
  for (int32_t p = 0; p < partitions; ++p) SLUICE_RETURN_IF_ERROR(flush(p));
  return Status();
}

// The job's answer: the last count of every (window, page) in the committed output.
Result<ViewsPerPage> read_results(logstore::LogClient& log, int32_t partitions) {
  ViewsPerPage out;
  for (int32_t p = 0; p < partitions; ++p) {
    logstore::TopicPartition tp{kViewsPerPageTopic, PartitionId(p)};
    SLUICE_ASSIGN_OR_RETURN(auto ends, log.partition_ends(tp));
    Offset position = ends.log_start;
    while (position < ends.stable.offset()) {
      SLUICE_ASSIGN_OR_RETURN(auto fetched, log.fetch({.partition = tp, .offset = position}));
      if (fetched.batches.empty()) break;
      SLUICE_RETURN_IF_ERROR(logstore::for_each_record(
          fetched, position, logstore::IsolationLevel::kReadCommitted,
          [&](const logstore::RecordView& r) -> Status {
            SLUICE_ASSIGN_OR_RETURN(auto key,
                                    operators::decode<operators::Windowed<std::string>>(r.key));
            SLUICE_ASSIGN_OR_RETURN(auto count, operators::decode<int64_t>(r.value));
            out[{key.window.start.value(), key.key}] = count;
            return Status();
          }));
      position = fetched.next_offset;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "The page-view sample on Sluice's embedded log: views per page per minute, bots "
      "filtered out, top pages of each minute."};
  PageViewOptions options;
  options.events = 3'000'000;
  std::string data_dir;
  int threads = 2;
  int top = 3;
  bool keep = false;
  app.add_option("--events", options.events, "Page views to generate")->capture_default_str();
  app.add_option("--seed", options.seed, "Generator seed")->capture_default_str();
  app.add_option("--threads", threads, "Stream threads")->capture_default_str();
  app.add_option("--top", top, "Pages shown per minute")->capture_default_str();
  app.add_option("--data-dir", data_dir,
                 "Where the log and state go (default: a temporary "
                 "directory, removed at the end)");
  app.add_flag("--keep", keep, "Keep the temporary directory");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  bool remove_dir = false;
  if (data_dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sluice-demo-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr)
      return fail(errno_status("creating a temporary dir", errno));
    data_dir = tmpl;
    remove_dir = !keep;
  }
  constexpr int32_t kPartitions = 4;
  fmt::print("Sluice demo: page views -> views per page per minute (bots filtered out)\n");
  fmt::print("  {} events, {} partitions, {} stream threads, exactly-once, data in {}\n",
             options.events, kPartitions, threads, data_dir);
  int rc = 0;
  {
    logstore::LogStoreOptions lo;
    lo.data_dir = data_dir + "/log";
    auto log = logstore::LogStore::open(lo);
    if (!log.ok()) return fail(log.status());
    for (const char* topic : {kPageViewsTopic, kViewsPerPageTopic}) {
      logstore::TopicConfig tc;
      tc.partitions = kPartitions;
      tc.retention_ms = -1;  // the events are dated 2026-01-01
      Status s = (*log)->create_topic(topic, tc);
      if (!s.ok()) return fail(s);
    }
    ViewsPerPage oracle;
    auto start = std::chrono::steady_clock::now();
    if (Status s = produce(**log, options, kPartitions, oracle); !s.ok()) return fail(s);
    end_status_line();
    fmt::print("  generated and appended {} page views in {:.1f} s\n", options.events,
               seconds_since(start));

    auto topology = page_views_topology();
    if (!topology.ok()) return fail(topology.status());
    runtime::RuntimeConfig rc_config;
    rc_config.application_id = "page-views";
    rc_config.state_dir = data_dir + "/state";
    rc_config.threads = threads;
    auto rt = runtime::Runtime::create(std::move(*topology), **log, rc_config);
    if (!rt.ok()) return fail(rt.status());
    start = std::chrono::steady_clock::now();
    if (Status s = (*rt)->start(); !s.ok()) return fail(s);
    while (!(*rt)->caught_up()) {
      if ((*rt)->status().state != runtime::RuntimeState::kRunning) return fail((*rt)->wait());
      int64_t read = 0;
      for (const auto& t : (*rt)->metrics().tasks) {
        if (t.id.starts_with("0_")) read += t.operators.records_processed;
      }
      const double s = seconds_since(start);
      status_line(fmt::format("processing: {} of {} events, {:.0f} events/s", read, options.events,
                              s > 0 ? read / s : 0.0));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    const double processing_s = seconds_since(start);
    int64_t late = 0;
    for (const auto& t : (*rt)->metrics().tasks) {
      for (const auto& [name, nm] : t.operators.nodes) late += nm.late_dropped;
    }
    (*rt)->stop();
    if (Status s = (*rt)->wait(); !s.ok()) return fail(s);
    end_status_line();

    auto results = read_results(**log, kPartitions);
    if (!results.ok()) return fail(results.status());
    fmt::print("\n  {:<6} {}\n", "minute", fmt::format("top {} pages (views)", top));
    for (const auto& [window, pages] : top_pages(*results, static_cast<size_t>(top))) {
      std::string row;
      for (const auto& [page, views] : pages) row += fmt::format("{:<12} {:>7}   ", page, views);
      while (!row.empty() && row.back() == ' ') row.pop_back();
      fmt::print("  {:<6} {}\n", clock_of(window), row);
    }
    fmt::print(
        "\n  processed {} events in {:.1f} s: {:.0f} events/s end to end ({} stream "
        "threads, commits every {} ms)\n",
        options.events, processing_s, options.events / processing_s, threads,
        rc_config.commit_interval_ms);
    if (*results == oracle) {
      fmt::print(
          "  the job's {} counts equal an independent count of the same events ({} late "
          "records dropped)\n",
          results->size(), late);
    } else {
      int64_t wrong = 0;
      for (const auto& [k, n] : oracle) {
        auto it = results->find(k);
        if (it == results->end() || it->second != n) ++wrong;
      }
      fmt::print(
          "  MISMATCH: {} of {} (minute, page) counts differ from an independent count "
          "({} late records dropped)\n",
          wrong, oracle.size(), late);
      rc = 1;
    }
  }
  if (remove_dir) {
    std::error_code ec;
    std::filesystem::remove_all(data_dir, ec);
  }
  return rc;
}

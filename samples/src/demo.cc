#include "sluice/samples/demo.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "sluice/base/murmur2.h"
#include "sluice/logstore/log_store.h"
#include "sluice/operators/serde.h"
#include "sluice/operators/windows.h"
#include "sluice/runtime/runtime.h"
#include "sluice/samples/ad_clicks.h"
#include "sluice/samples/host_metrics.h"
#include "sluice/samples/page_views.h"
#include "sluice/samples/sessions.h"
#include "sluice/samples/yahoo.h"

namespace sluice::samples {

namespace {

constexpr int32_t kPartitions = 4;

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
  std::fprintf(stderr, "sluice demo: %s\n", s.to_string().c_str());
  return 1;
}

std::string clock_of(int64_t ms) {
  const int64_t minute_of_day = ms / 60'000 % (24 * 60);
  return fmt::format("{:02d}:{:02d}", minute_of_day / 60, minute_of_day % 60);
}

struct Event {
  std::string key, value;
  int64_t timestamp;
};

// Appends events keyed for Kafka's default partitioner, 1,000 per batch and partition.
class Appender {
 public:
  Appender(logstore::LogStore& log, std::string topic) : log_(log), topic_(std::move(topic)) {}

  Status add(Event e) {
    const int32_t p = kafka_partition_for_key(e.key, kPartitions);
    auto& pending = pending_[static_cast<size_t>(p)];
    pending.push_back(std::move(e));
    return pending.size() == 1000 ? flush(p) : Status();
  }
  Status finish() {
    for (int32_t p = 0; p < kPartitions; ++p) SLUICE_RETURN_IF_ERROR(flush(p));
    return Status();
  }

 private:
  Status flush(int32_t p) {
    auto& pending = pending_[static_cast<size_t>(p)];
    if (pending.empty()) return Status();
    std::vector<logstore::Record> batch;
    for (const Event& e : pending) {
      batch.push_back({.key = ByteView(e.key),
                       .value = ByteView(e.value),
                       .timestamp = Timestamp(e.timestamp)});
    }
    Status s = log_.append({topic_, PartitionId(p)}, batch).status();
    pending.clear();
    return s;
  }

  logstore::LogStore& log_;
  std::string topic_;
  std::vector<Event> pending_[kPartitions];
};

// Every committed record of `topic`, decoded.
template <typename K, typename V>
Result<std::vector<std::pair<K, V>>> read_output(logstore::LogClient& log,
                                                 const std::string& topic) {
  std::vector<std::pair<K, V>> out;
  for (int32_t p = 0; p < kPartitions; ++p) {
    logstore::TopicPartition tp{topic, PartitionId(p)};
    SLUICE_ASSIGN_OR_RETURN(auto ends, log.partition_ends(tp));
    Offset position = ends.log_start;
    while (position < ends.stable.offset()) {
      SLUICE_ASSIGN_OR_RETURN(auto fetched, log.fetch({.partition = tp, .offset = position}));
      if (fetched.batches.empty()) break;
      SLUICE_RETURN_IF_ERROR(logstore::for_each_record(
          fetched, position, logstore::IsolationLevel::kReadCommitted,
          [&](const logstore::RecordView& r) -> Status {
            SLUICE_ASSIGN_OR_RETURN(auto key, operators::decode<K>(r.key));
            SLUICE_ASSIGN_OR_RETURN(auto value, operators::decode<V>(r.value));
            out.emplace_back(std::move(key), std::move(value));
            return Status();
          }));
      position = fetched.next_offset;
    }
  }
  return out;
}

// What differs between the samples.
struct Sample {
  std::string title;
  std::vector<std::string> inputs;
  std::string output;
  int64_t default_events;
  std::function<Result<operators::Topology>()> topology;
  // Appends the events (to inputs[0], inputs[1], ...) and remembers what the oracle needs.
  std::function<Status(const DemoOptions&, std::vector<Appender>&)> produce;
  // Reads the job's output, prints it, and says whether it equals the oracle.
  std::function<Result<bool>(const DemoOptions&, logstore::LogClient&, int64_t late)> report;
};

Sample page_views_sample() {
  auto oracle = std::make_shared<ViewsPerPage>();
  return {
      .title = "page views -> views per page per minute (bots filtered out)",
      .inputs = {kPageViewsTopic},
      .output = kViewsPerPageTopic,
      .default_events = 3'000'000,
      .topology = page_views_topology,
      .produce =
          [oracle](const DemoOptions& o, std::vector<Appender>& appenders) {
            Appender& out = appenders[0];
            PageViewOptions po;
            po.seed = o.seed;
            po.events = o.events;
            PageViewGenerator gen(po);
            for (int64_t i = 0; !gen.done(); ++i) {
              PageView v = gen.next();
              if (!is_bot(v)) ++(*oracle)[{v.timestamp / kWindowMs * kWindowMs, v.page}];
              std::string user = v.user;
              SLUICE_RETURN_IF_ERROR(out.add({user, nlohmann::json(v).dump(), v.timestamp}));
              if (i % 100'000 == 0) {
                status_line(fmt::format("generating page views: {:.0f}%", 100.0 * i / o.events));
              }
            }
            return Status();
          },
      .report = [oracle](const DemoOptions& o, logstore::LogClient& log,
                         int64_t late) -> Result<bool> {
        SLUICE_ASSIGN_OR_RETURN(auto out, (read_output<operators::Windowed<std::string>, int64_t>(
                                              log, kViewsPerPageTopic)));
        ViewsPerPage results;
        for (const auto& [key, count] : out) results[{key.window.start.value(), key.key}] = count;
        fmt::print("\n  {:<6} {}\n", "minute", fmt::format("top {} pages (views)", o.top));
        for (const auto& [window, pages] : top_pages(results, static_cast<size_t>(o.top))) {
          std::string row;
          for (const auto& [page, views] : pages)
            row += fmt::format("{:<12} {:>7}   ", page, views);
          while (!row.empty() && row.back() == ' ') row.pop_back();
          fmt::print("  {:<6} {}\n", clock_of(window), row);
        }
        const bool equal = results == *oracle;
        if (equal) {
          fmt::print(
              "\n  the job's {} counts equal an independent count of the same events ({} "
              "late records dropped)\n",
              results.size(), late);
        } else {
          int64_t wrong = 0;
          for (const auto& [k, n] : *oracle) {
            auto it = results.find(k);
            if (it == results.end() || it->second != n) ++wrong;
          }
          fmt::print(
              "\n  MISMATCH: {} of {} (minute, page) counts differ from an independent "
              "count ({} late records dropped)\n",
              wrong, oracle->size(), late);
        }
        return equal;
      }};
}

Sample sessions_sample() {
  auto events = std::make_shared<std::vector<Activity>>();
  return {.title = "user activity -> sessions with a 30-minute inactivity gap",
          .inputs = {kActivityTopic},
          .output = kSessionsTopic,
          .default_events = 500'000,
          .topology = sessions_topology,
          .produce =
              [events](const DemoOptions& o, std::vector<Appender>& appenders) {
                Appender& out = appenders[0];
                ActivityOptions ao;
                ao.seed = o.seed;
                ao.events = o.events;
                ao.users = static_cast<int>(std::max<int64_t>(500, o.events / 200));
                status_line("generating activity");
                *events = generate_activity(ao);
                for (const Activity& a : *events) {
                  SLUICE_RETURN_IF_ERROR(out.add({a.user, nlohmann::json(a).dump(), a.timestamp}));
                }
                return Status();
              },
          .report = [events](const DemoOptions& o, logstore::LogClient& log,
                             int64_t late) -> Result<bool> {
            SLUICE_ASSIGN_OR_RETURN(
                auto out, (read_output<operators::Windowed<std::string>, std::optional<int64_t>>(
                              log, kSessionsTopic)));
            // The last value of each session window; merged-away sessions end with a null.
            std::map<std::tuple<std::string, int64_t, int64_t>, std::optional<int64_t>> last;
            for (const auto& [key, value] : out) {
              last[{key.key, key.window.start.value(), key.window.end.value()}] = value;
            }
            Sessions got;
            for (const auto& [k, v] : last) {
              if (v) got[k] = *v;
            }
            const Sessions want = sessionize(*events);
            int64_t total_events = 0, total_ms = 0;
            std::vector<std::pair<int64_t, std::tuple<std::string, int64_t, int64_t>>> longest;
            for (const auto& [k, n] : got) {
              total_events += n;
              total_ms += std::get<2>(k) - std::get<1>(k);
              longest.emplace_back(std::get<2>(k) - std::get<1>(k), k);
            }
            std::sort(longest.rbegin(), longest.rend());
            const double sessions = std::max<double>(1, static_cast<double>(got.size()));
            fmt::print("\n  {} sessions: {:.1f} events and {:.1f} minutes each on average\n",
                       got.size(), total_events / sessions, total_ms / sessions / 60'000);
            fmt::print("  longest sessions:\n");
            for (size_t i = 0; i < longest.size() && i < static_cast<size_t>(o.top); ++i) {
              const auto& [user, first, lastv] = longest[i].second;
              fmt::print("    {:<12} {} to {}  {:>4} events\n", user, clock_of(first),
                         clock_of(lastv), got.at(longest[i].second));
            }
            const bool equal = got == want;
            if (equal) {
              fmt::print(
                  "\n  the job's {} sessions equal an independent sessionization of the same "
                  "events ({} late records dropped)\n",
                  got.size(), late);
            } else {
              fmt::print(
                  "\n  MISMATCH: the job found {} sessions, an independent sessionization {} "
                  "({} late records dropped)\n",
                  got.size(), want.size(), late);
            }
            return equal;
          }};
}

Sample ad_clicks_sample() {
  auto events = std::make_shared<std::vector<AdEvent>>();
  return {.title = "ad impressions and clicks -> click-through rate per campaign per 5 minutes",
          .inputs = {kImpressionsTopic, kClicksTopic},
          .output = kCampaignCtrTopic,
          .default_events = 1'000'000,
          .topology = ad_clicks_topology,
          .produce =
              [events](const DemoOptions& o, std::vector<Appender>& appenders) {
                AdOptions ao;
                ao.seed = o.seed;
                ao.impressions = o.events;
                status_line("generating impressions and clicks");
                *events = generate_ad_events(ao);
                for (const AdEvent& e : *events) {
                  Appender& out = appenders[e.type == "impression" ? 0 : 1];
                  SLUICE_RETURN_IF_ERROR(
                      out.add({e.impression_id, nlohmann::json(e).dump(), e.timestamp}));
                }
                return Status();
              },
          .report = [events](const DemoOptions& o, logstore::LogClient& log,
                             int64_t late) -> Result<bool> {
            SLUICE_ASSIGN_OR_RETURN(
                auto out,
                (read_output<operators::Windowed<std::string>, CtrCounts>(log, kCampaignCtrTopic)));
            CampaignCtr got;
            for (const auto& [key, counts] : out) got[{key.window.start.value(), key.key}] = counts;
            // Per window, the campaigns with the highest click-through rate (100+ impressions).
            std::map<int64_t, std::vector<std::pair<double, std::string>>> by_window;
            for (const auto& [key, c] : got) {
              if (c.impressions >= 100) by_window[key.first].emplace_back(c.ctr(), key.second);
            }
            fmt::print("\n  {:<6} {}\n", "window", fmt::format("top {} campaigns (CTR)", o.top));
            for (auto& [window, rows] : by_window) {
              std::sort(rows.rbegin(), rows.rend());
              std::string line;
              for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(o.top); ++i) {
                line += fmt::format("{:<12} {:>5.2f}%   ", rows[i].second, 100 * rows[i].first);
              }
              while (!line.empty() && line.back() == ' ') line.pop_back();
              fmt::print("  {:<6} {}\n", clock_of(window), line);
            }
            const CampaignCtr want = click_through(*events);
            const bool equal = got == want;
            if (equal) {
              fmt::print(
                  "\n  the job's {} (window, campaign) rates equal an independent join of the "
                  "same events ({} late records dropped)\n",
                  got.size(), late);
            } else {
              fmt::print(
                  "\n  MISMATCH: {} (window, campaign) rates from the job, {} from an "
                  "independent join ({} late records dropped)\n",
                  got.size(), want.size(), late);
            }
            return equal;
          }};
}

Sample yahoo_sample() {
  auto events = std::make_shared<std::vector<YahooEvent>>();
  auto ads = std::make_shared<std::vector<std::pair<std::string, std::string>>>();
  return {.title = "the Yahoo Streaming Benchmark: ad views per campaign per 10 seconds",
          .inputs = {kYahooCampaignsTopic, kYahooEventsTopic},
          .output = kYahooCountsTopic,
          .default_events = 2'000'000,
          .topology = yahoo_topology,
          .produce =
              [events, ads](const DemoOptions& o, std::vector<Appender>& appenders) {
                YahooOptions yo;
                yo.seed = o.seed;
                yo.events = o.events;
                *ads = yahoo_campaigns(yo);
                for (const auto& [ad, campaign] : *ads) {
                  SLUICE_RETURN_IF_ERROR(appenders[0].add({ad, campaign, yo.start_ms}));
                }
                YahooGenerator gen(yo);
                for (int64_t i = 0; !gen.done(); ++i) {
                  YahooEvent e = gen.next();
                  std::string user = e.user_id;
                  const int64_t t = e.event_time;
                  events->push_back(e);
                  SLUICE_RETURN_IF_ERROR(appenders[1].add({user, nlohmann::json(e).dump(), t}));
                  if (i % 100'000 == 0) {
                    status_line(fmt::format("generating ad events: {:.0f}%", 100.0 * i / o.events));
                  }
                }
                return Status();
              },
          .report = [events, ads](const DemoOptions& o, logstore::LogClient& log,
                                  int64_t late) -> Result<bool> {
            SLUICE_ASSIGN_OR_RETURN(
                auto out,
                (read_output<operators::Windowed<std::string>, int64_t>(log, kYahooCountsTopic)));
            CampaignViews got;
            for (const auto& [key, n] : out) got[{key.window.start.value(), key.key}] = n;
            std::map<int64_t, std::vector<std::pair<int64_t, std::string>>> by_window;
            for (const auto& [key, n] : got) by_window[key.first].emplace_back(n, key.second);
            fmt::print("\n  {:<8} {}\n", "window", fmt::format("top {} campaigns (views)", o.top));
            int shown = 0;
            for (auto& [window, rows] : by_window) {
              if (++shown > 6) break;
              std::sort(rows.rbegin(), rows.rend());
              std::string line;
              for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(o.top); ++i) {
                line += fmt::format("{:<12} {:>5}   ", rows[i].second, rows[i].first);
              }
              while (!line.empty() && line.back() == ' ') line.pop_back();
              fmt::print("  {:<8} {}\n", fmt::format("+{}s", (window % 3'600'000) / 1000), line);
            }
            if (by_window.size() > 6) fmt::print("  ... {} windows in all\n", by_window.size());
            const bool equal = got == count_campaign_views(*events, *ads);
            fmt::print(
                "\n  {}the job's {} (window, campaign) counts {} an independent count ({} late "
                "records dropped)\n",
                equal ? "" : "MISMATCH: ", got.size(), equal ? "equal" : "differ from", late);
            return equal;
          }};
}

Sample host_alerts_sample() {
  auto samples = std::make_shared<std::vector<HostMetric>>();
  return {.title = "host metrics -> alerts after 3 one-minute averages over the threshold in a row",
          .inputs = {kHostMetricsTopic},
          .output = kAlertsTopic,
          .default_events = 720'000,
          .topology = host_alerts_topology,
          .produce =
              [samples](const DemoOptions& o, std::vector<Appender>& appenders) {
                HostMetricsOptions ho;
                ho.seed = o.seed;
                ho.seconds = std::max<int64_t>(60, o.events / ho.hosts);
                status_line("generating host metrics");
                *samples = generate_host_metrics(ho);
                for (const HostMetric& m : *samples) {
                  SLUICE_RETURN_IF_ERROR(
                      appenders[0].add({m.host, nlohmann::json(m).dump(), m.timestamp}));
                }
                return Status();
              },
          .report = [samples](const DemoOptions& o, logstore::LogClient& log,
                              int64_t late) -> Result<bool> {
            SLUICE_ASSIGN_OR_RETURN(auto out, (read_output<std::string, Alert>(log, kAlertsTopic)));
            std::vector<Alert> got;
            for (const auto& [host, alert] : out) got.push_back(alert);
            std::sort(got.begin(), got.end(), [](const Alert& a, const Alert& b) {
              return std::tie(a.window_start, a.host, a.metric) <
                     std::tie(b.window_start, b.host, b.metric);
            });
            fmt::print("\n  {} alerts; the first {}:\n", got.size(), o.top * 3);
            for (size_t i = 0; i < got.size() && i < static_cast<size_t>(o.top * 3); ++i) {
              fmt::print("    {}  {:<8} {:<6} {:>5.1f}% average over the window\n",
                         clock_of(got[i].window_start), got[i].host, got[i].metric, got[i].average);
            }
            std::sort(got.begin(), got.end());
            const bool equal = got == expected_alerts(*samples);
            fmt::print(
                "\n  {}the job's {} alerts {} an independent computation ({} late records "
                "dropped)\n",
                equal ? "" : "MISMATCH: ", got.size(), equal ? "equal" : "differ from", late);
            return equal;
          }};
}

Result<Sample> find(const std::string& name) {
  if (name == "yahoo") return yahoo_sample();
  if (name == "host-alerts") return host_alerts_sample();
  if (name == "page-views") return page_views_sample();
  if (name == "sessions") return sessions_sample();
  if (name == "ad-clicks") return ad_clicks_sample();
  std::string names;
  for (const auto& n : demo_names()) names += (names.empty() ? "" : ", ") + n;
  return not_found("there is no demo '" + name + "' (demos: " + names + ")");
}

int run(const DemoOptions& options, Sample& sample, const std::string& data_dir) {
  fmt::print("Sluice demo: {}\n", sample.title);
  fmt::print("  {} events, {} partitions, {} stream threads, exactly-once, data in {}\n",
             options.events, kPartitions, options.threads, data_dir);
  logstore::LogStoreOptions lo;
  lo.data_dir = data_dir + "/log";
  auto log = logstore::LogStore::open(lo);
  if (!log.ok()) return fail(log.status());
  std::vector<std::string> topics = sample.inputs;
  topics.push_back(sample.output);
  for (const std::string& topic : topics) {
    logstore::TopicConfig tc;
    tc.partitions = kPartitions;
    tc.retention_ms = -1;  // the events are dated 2026-01-01
    if (Status s = (*log)->create_topic(topic, tc); !s.ok()) return fail(s);
  }
  auto start = std::chrono::steady_clock::now();
  std::vector<Appender> appenders;
  for (const std::string& input : sample.inputs) appenders.emplace_back(**log, input);
  if (Status s = sample.produce(options, appenders); !s.ok()) return fail(s);
  for (Appender& a : appenders) {
    if (Status s = a.finish(); !s.ok()) return fail(s);
  }
  end_status_line();
  fmt::print("  generated and appended {} events in {:.1f} s\n", options.events,
             seconds_since(start));

  auto topology = sample.topology();
  if (!topology.ok()) return fail(topology.status());
  runtime::RuntimeConfig rc;
  rc.application_id = options.sample;
  rc.state_dir = data_dir + "/state";
  rc.threads = options.threads;
  auto rt = runtime::Runtime::create(std::move(*topology), **log, rc);
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
  auto equal = sample.report(options, **log, late);
  if (!equal.ok()) return fail(equal.status());
  fmt::print(
      "  processed {} events in {:.1f} s: {:.0f} events/s end to end ({} stream threads, "
      "commits every {} ms)\n",
      options.events, processing_s, static_cast<double>(options.events) / processing_s,
      options.threads, rc.commit_interval_ms);
  return *equal ? 0 : 1;
}

}  // namespace

std::vector<std::string> demo_names() {
  return {"page-views", "sessions", "ad-clicks", "yahoo", "host-alerts"};
}

int run_demo(const DemoOptions& given) {
  auto sample = find(given.sample);
  if (!sample.ok()) return fail(sample.status());
  DemoOptions options = given;
  if (options.events <= 0) options.events = sample->default_events;
  spdlog::set_level(spdlog::level::warn);
  std::string data_dir = options.data_dir;
  bool remove_dir = false;
  if (data_dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sluice-demo-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr)
      return fail(errno_status("creating a temporary dir", errno));
    data_dir = tmpl;
    remove_dir = !options.keep;
  }
  int rc = run(options, *sample, data_dir);
  if (remove_dir) {
    std::error_code ec;
    std::filesystem::remove_all(data_dir, ec);
  }
  return rc;
}

}  // namespace sluice::samples

// Sample 1, page views: page-view events → views per page per 1-minute tumbling window, bots
// filtered out, and the top pages of each window.
//
// The pieces every sample has: the events and their deterministic generator, the job (a
// topology), and an oracle that computes the job's answer from the same events by brute force.
//
// Thread safety: values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sluice/base/ids.h"
#include "sluice/base/result.h"
#include "sluice/operators/json_fields.h"
#include "sluice/operators/topology.h"
#include "sluice/operators/windows.h"

namespace sluice::samples {

// One page view, as a web front end would log it (JSON on the wire).
struct PageView {
  std::string user;
  std::string page;
  std::string referrer;
  std::string user_agent;
  int64_t timestamp = 0;  // ms since the epoch, also the record's timestamp
  friend bool operator==(const PageView&, const PageView&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PageView, user, page, referrer, user_agent, timestamp)
SLUICE_JSON_FIELDS(PageView, user, page, referrer, user_agent, timestamp)

struct PageViewOptions {
  uint64_t seed = 1;
  int64_t events = 1'000'000;
  int pages = 1'000;  // page popularity follows a Zipf-like law (a few pages get most views)
  int users = 100'000;
  int64_t start_ms = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  int64_t events_per_second = 2'000;     // of event time: 1,000,000 events span ~8 minutes
  double bot_share = 0.05;               // views whose user agent is a crawler's
  int64_t max_disorder_ms = 2'000;       // how late an event may arrive (grace covers it)
};

// The events, in arrival order: the same options give the same events.
class PageViewGenerator {
 public:
  explicit PageViewGenerator(PageViewOptions options);
  bool done() const { return next_ >= options_.events; }
  PageView next();

 private:
  PageViewOptions options_;
  uint64_t state_;
  int64_t next_ = 0;
  std::vector<double> cumulative_;  // page popularity
  uint64_t random();
};

bool is_bot(const PageView& v);

inline constexpr const char* kPageViewsTopic = "page-views";
inline constexpr const char* kViewsPerPageTopic = "page-views-per-minute";
inline constexpr const char* kViewsPerPageStore = "views-per-page";
inline constexpr int64_t kWindowMs = 60'000;
// Generous, because a backlog is replayed much faster than it was produced: the re-keyed
// records reach the counting tasks one upstream commit at a time, so a minute of event time
// from one upstream task can arrive before the same minute from another. The runtime keeps the
// upstream tasks within max_task_drift_ms (30 s) of each other; a commit interval adds ~15 s.
inline constexpr int64_t kGraceMs = 300'000;

// The job: page-views (key: user, value: PageView JSON) → drop bots → re-key by page →
// count per 1-minute tumbling window (grace kGraceMs) → page-views-per-minute (key: Windowed<page>,
// value: count; every update).
Result<operators::Topology> page_views_topology();

// (window start, page) -> views.
using ViewsPerPage = std::map<std::pair<int64_t, std::string>, int64_t>;

// The oracle: the same counts, straight from the events.
ViewsPerPage count_views(const std::vector<PageView>& events);

// The `n` most viewed pages of each window (ties by page name), windows in time order.
std::vector<std::pair<int64_t, std::vector<std::pair<std::string, int64_t>>>> top_pages(
    const ViewsPerPage& counts, size_t n);

}  // namespace sluice::samples

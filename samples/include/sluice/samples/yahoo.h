// Sample 4, the Yahoo Streaming Benchmark (Chintapalli et al., 2016): ad events (view, click,
// purchase) → views only → (ad, time) → ad joined to its campaign from a table → views per
// campaign per 10-second window.
//
// As published: 100 campaigns of 10 ads each, events spread evenly over the ads and the three
// event types, JSON on the wire. Where the original keeps the ad → campaign mapping in Redis
// and writes window counts back to it, here the mapping is a compacted topic every task reads
// whole (a global table) and the counts go to a topic.
//
// Thread safety: values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sluice/base/result.h"
#include "sluice/operators/json_fields.h"
#include "sluice/operators/topology.h"

namespace sluice::samples {

// One event, with the published benchmark's fields.
struct YahooEvent {
  std::string user_id;
  std::string page_id;
  std::string ad_id;
  std::string ad_type;     // banner, modal, sponsored-search, mail, mobile
  std::string event_type;  // view, click, purchase
  int64_t event_time = 0;  // ms, also the record's timestamp
  std::string ip_address;
  friend bool operator==(const YahooEvent&, const YahooEvent&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(YahooEvent, user_id, page_id, ad_id, ad_type, event_type,
                                   event_time, ip_address)
SLUICE_JSON_FIELDS(YahooEvent, user_id, page_id, ad_id, ad_type, event_type, event_time, ip_address)

struct YahooOptions {
  uint64_t seed = 1;
  int64_t events = 1'000'000;
  int campaigns = 100;
  int ads_per_campaign = 10;
  int64_t start_ms = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  int64_t events_per_second = 10'000;    // of event time
  int64_t max_disorder_ms = 500;
};

// The ad → campaign mapping: ("ad-<c>-<a>", "campaign-<c>").
std::vector<std::pair<std::string, std::string>> yahoo_campaigns(const YahooOptions& options);

// The events in arrival order (keyed by user id on the wire).
class YahooGenerator {
 public:
  explicit YahooGenerator(YahooOptions options);
  bool done() const { return next_ >= options_.events; }
  YahooEvent next();

 private:
  YahooOptions options_;
  uint64_t state_;
  int64_t next_ = 0;
  int64_t now_ = 0;
  uint64_t random();
};

inline constexpr const char* kYahooEventsTopic = "ysb-events";
inline constexpr const char* kYahooCampaignsTopic = "ysb-ad-campaigns";  // compacted
inline constexpr const char* kYahooCountsTopic = "ysb-campaign-counts";
inline constexpr const char* kYahooCountsStore = "ysb-views-per-campaign";
inline constexpr int64_t kYahooWindowMs = 10'000;
// Generous, as in the page-view sample: the counting tasks receive the re-keyed records of
// several upstream tasks, which replay a backlog at different speeds.
inline constexpr int64_t kYahooGraceMs = 10 * 60'000;

// The job: ysb-events (key: user id) → filter event_type == "view" → project to (ad id, time)
// → join ad id with ysb-ad-campaigns (global table) → re-key by campaign → count per 10-second
// tumbling window → ysb-campaign-counts (key: Windowed<campaign>, value: count; every update).
Result<operators::Topology> yahoo_topology();

// (window start, campaign) -> views.
using CampaignViews = std::map<std::pair<int64_t, std::string>, int64_t>;

// The oracle.
CampaignViews count_campaign_views(const std::vector<YahooEvent>& events,
                                   const std::vector<std::pair<std::string, std::string>>& ads);

}  // namespace sluice::samples

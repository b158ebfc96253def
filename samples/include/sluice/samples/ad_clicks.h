// Sample 2, ad click-through: impressions and clicks → clicks joined to their impression
// within 10 minutes → click-through rate per campaign per 5-minute window.
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

// An ad shown to a user (type "impression"), or a click on one (type "click", carrying the
// id of the impression clicked). JSON on the wire, keyed by impression id.
struct AdEvent {
  std::string type;
  std::string impression_id;
  std::string ad_id;
  std::string campaign_id;
  std::string user;
  int64_t timestamp = 0;
  friend bool operator==(const AdEvent&, const AdEvent&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(AdEvent, type, impression_id, ad_id, campaign_id, user,
                                   timestamp)
SLUICE_JSON_FIELDS(AdEvent, type, impression_id, ad_id, campaign_id, user, timestamp)

struct AdOptions {
  uint64_t seed = 1;
  int64_t impressions = 100'000;
  int campaigns = 20;
  int ads_per_campaign = 10;
  int users = 10'000;
  int64_t start_ms = 1'767'225'600'000;      // 2026-01-01T00:00:00Z
  int64_t impressions_per_second = 200;      // of event time
  double click_share = 0.08;                 // impressions that get a click...
  int64_t max_click_delay_ms = 15 * 60'000;  // ...this long after it at most (some too late)
  double stray_click_share = 0.01;           // clicks on impressions that were never logged
  int64_t max_disorder_ms = 20'000;
};

// Impressions and clicks in arrival order (roughly by time, up to max_disorder_ms late); the
// same options give the same events.
std::vector<AdEvent> generate_ad_events(const AdOptions& options);

inline constexpr const char* kImpressionsTopic = "ad-impressions";
inline constexpr const char* kClicksTopic = "ad-clicks";
inline constexpr const char* kCampaignCtrTopic = "campaign-ctr";
inline constexpr const char* kCampaignCtrStore = "campaign-ctr";
inline constexpr int64_t kClickWindowMs = 10 * 60'000;  // a click counts within 10 min after
inline constexpr int64_t kCtrWindowMs = 5 * 60'000;
inline constexpr int64_t kAdJoinGraceMs = 60'000;
// Generous, as in the page-view sample: a backlog is replayed much faster than it was produced,
// and the counting tasks receive the re-keyed records of several upstream tasks, one of which
// may be far ahead in event time (clicks come up to 15 minutes after their impression).
inline constexpr int64_t kCtrGraceMs = 60 * 60'000;

// Impressions and joined clicks of one campaign in one window.
struct CtrCounts {
  int64_t impressions = 0;
  int64_t clicks = 0;
  double ctr() const {
    return impressions > 0 ? static_cast<double>(clicks) / static_cast<double>(impressions) : 0;
  }
  friend bool operator==(const CtrCounts&, const CtrCounts&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CtrCounts, impressions, clicks)
SLUICE_JSON_FIELDS(CtrCounts, impressions, clicks)

// The job: ad-clicks (key: impression id) joined to ad-impressions (same key, co-partitioned)
// when the click is 0 to 10 minutes after the impression; impressions and joined clicks, re-keyed
// by campaign, counted per 5-minute tumbling window (of the impression's or the click's time)
// → campaign-ctr (key: Windowed<campaign>, value: CtrCounts JSON; every update).
Result<operators::Topology> ad_clicks_topology();

// (window start, campaign) -> counts.
using CampaignCtr = std::map<std::pair<int64_t, std::string>, CtrCounts>;

// The oracle, from the events by brute force.
CampaignCtr click_through(const std::vector<AdEvent>& events);

}  // namespace sluice::samples

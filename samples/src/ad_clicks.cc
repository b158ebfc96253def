#include "sluice/samples/ad_clicks.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <unordered_map>

#include "sluice/dsl/topology_builder.h"

namespace sluice::samples {

std::vector<AdEvent> generate_ad_events(const AdOptions& o) {
  std::mt19937_64 rng(o.seed);
  auto uniform = [&](int64_t n) { return static_cast<int64_t>(rng() % static_cast<uint64_t>(n)); };
  auto chance = [&](double p) { return static_cast<double>(rng() % 1'000'000) < p * 1e6; };
  std::vector<AdEvent> events;
  events.reserve(static_cast<size_t>(o.impressions * (1 + o.click_share * 2)));
  const int64_t step = std::max<int64_t>(1, 1000 / o.impressions_per_second);
  int64_t now = o.start_ms;
  for (int64_t i = 0; i < o.impressions; ++i) {
    now += uniform(2 * step);
    // A few campaigns get most impressions.
    const int campaign =
        static_cast<int>(uniform(o.campaigns) * uniform(o.campaigns) / o.campaigns);
    AdEvent imp{.type = "impression",
                .impression_id = "imp-" + std::to_string(i),
                .ad_id = "ad-" + std::to_string(campaign) + "-" +
                         std::to_string(uniform(o.ads_per_campaign)),
                .campaign_id = "campaign-" + std::to_string(campaign),
                .user = "user-" + std::to_string(uniform(o.users)),
                .timestamp = now};
    // Campaigns differ in how often they are clicked.
    if (chance(o.click_share * (0.5 + campaign % 4 * 0.4))) {
      AdEvent click = imp;
      click.type = "click";
      click.timestamp = now + uniform(o.max_click_delay_ms);
      events.push_back(click);
    }
    if (chance(o.stray_click_share)) {
      AdEvent stray = imp;
      stray.type = "click";
      stray.impression_id = "imp-unlogged-" + std::to_string(i);
      stray.timestamp = now + uniform(60'000);
      events.push_back(stray);
    }
    events.push_back(std::move(imp));
  }
  // Arrival order: by time, each event up to max_disorder_ms late.
  std::vector<std::pair<int64_t, size_t>> arrival;
  arrival.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    arrival.emplace_back(events[i].timestamp + uniform(o.max_disorder_ms + 1), i);
  }
  std::sort(arrival.begin(), arrival.end());
  std::vector<AdEvent> out;
  out.reserve(events.size());
  for (const auto& [at, i] : arrival) out.push_back(std::move(events[i]));
  return out;
}

Result<operators::Topology> ad_clicks_topology() {
  using namespace std::chrono_literals;
  using std::chrono::milliseconds;
  dsl::TopologyBuilder b;
  auto impressions = b.stream<std::string, AdEvent>(kImpressionsTopic);
  auto clicks = b.stream<std::string, AdEvent>(kClicksTopic);
  // A click joins its impression when the impression is 0 to 10 minutes older.
  auto joined = clicks.join(
      impressions, [](const AdEvent& click, const AdEvent&) { return click; },
      dsl::JoinWindows::of(0ms)
          .before(milliseconds(kClickWindowMs))
          .grace(milliseconds(kAdJoinGraceMs)),
      "click-impression");
  auto counted_impressions = impressions.map([](const std::string&, const AdEvent& e) {
    return std::pair(e.campaign_id, CtrCounts{.impressions = 1});
  });
  auto counted_clicks = joined.map([](const std::string&, const AdEvent& e) {
    return std::pair(e.campaign_id, CtrCounts{.clicks = 1});
  });
  counted_impressions.merge(counted_clicks)
      .group_by_key("by-campaign")
      .windowed_by(
          dsl::TumblingWindows::of(milliseconds(kCtrWindowMs)).grace(milliseconds(kCtrGraceMs)))
      .aggregate([] { return CtrCounts{}; },
                 [](const std::string&, const CtrCounts& v, CtrCounts sum) {
                   sum.impressions += v.impressions;
                   sum.clicks += v.clicks;
                   return sum;
                 },
                 dsl::Materialized(kCampaignCtrStore))
      .to_stream()
      .to(kCampaignCtrTopic);
  return b.build();
}

CampaignCtr click_through(const std::vector<AdEvent>& events) {
  CampaignCtr out;
  std::unordered_map<std::string, const AdEvent*> impressions;
  for (const AdEvent& e : events) {
    if (e.type == "impression") {
      impressions[e.impression_id] = &e;
      ++out[{e.timestamp / kCtrWindowMs * kCtrWindowMs, e.campaign_id}].impressions;
    }
  }
  for (const AdEvent& e : events) {
    if (e.type != "click") continue;
    auto it = impressions.find(e.impression_id);
    if (it == impressions.end()) continue;
    const int64_t delay = e.timestamp - it->second->timestamp;
    if (delay < 0 || delay > kClickWindowMs) continue;
    // The joined record carries the later of the two times: the click's.
    ++out[{e.timestamp / kCtrWindowMs * kCtrWindowMs, e.campaign_id}].clicks;
  }
  return out;
}

}  // namespace sluice::samples

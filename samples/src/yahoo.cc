#include "sluice/samples/yahoo.h"

#include <chrono>
#include <unordered_map>

#include "sluice/dsl/topology_builder.h"

namespace sluice::samples {

namespace {

constexpr const char* kAdTypes[] = {"banner", "modal", "sponsored-search", "mail", "mobile"};
constexpr const char* kEventTypes[] = {"view", "click", "purchase"};

// An id that looks like the benchmark's UUIDs, from a number.
std::string uuid_like(uint64_t n) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08llx-%04llx-4%03llx-a%03llx-%012llx",
                static_cast<unsigned long long>(n >> 32 & 0xffffffff),
                static_cast<unsigned long long>(n >> 16 & 0xffff),
                static_cast<unsigned long long>(n & 0xfff),
                static_cast<unsigned long long>(n >> 12 & 0xfff),
                static_cast<unsigned long long>(n * 0x9e3779b97f4a7c15ull & 0xffffffffffffull));
  return buf;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> yahoo_campaigns(const YahooOptions& o) {
  std::vector<std::pair<std::string, std::string>> out;
  for (int c = 0; c < o.campaigns; ++c) {
    for (int a = 0; a < o.ads_per_campaign; ++a) {
      out.emplace_back("ad-" + std::to_string(c) + "-" + std::to_string(a),
                       "campaign-" + std::to_string(c));
    }
  }
  return out;
}

YahooGenerator::YahooGenerator(YahooOptions options)
    : options_(options), state_(options.seed * 0x9e3779b97f4a7c15ull + 1), now_(options.start_ms) {}

uint64_t YahooGenerator::random() {
  // splitmix64: fast, and the same on every platform.
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

YahooEvent YahooGenerator::next() {
  ++next_;
  // Evenly spaced in event time, each up to max_disorder_ms late on arrival.
  const int64_t due = options_.start_ms + next_ * 1000 / options_.events_per_second;
  const int64_t disorder =
      options_.max_disorder_ms > 0
          ? static_cast<int64_t>(random() % static_cast<uint64_t>(options_.max_disorder_ms))
          : 0;
  const uint64_t ad =
      random() % static_cast<uint64_t>(options_.campaigns * options_.ads_per_campaign);
  YahooEvent e;
  e.user_id = uuid_like(random() % 100'000);
  e.page_id = uuid_like(random() % 10'000);
  e.ad_id = "ad-" + std::to_string(ad / static_cast<uint64_t>(options_.ads_per_campaign)) + "-" +
            std::to_string(ad % static_cast<uint64_t>(options_.ads_per_campaign));
  e.ad_type = kAdTypes[random() % std::size(kAdTypes)];
  e.event_type = kEventTypes[random() % std::size(kEventTypes)];
  e.event_time = std::max(options_.start_ms, due - disorder);
  const uint64_t ip = random();
  e.ip_address = std::to_string(ip & 0xff) + "." + std::to_string(ip >> 8 & 0xff) + "." +
                 std::to_string(ip >> 16 & 0xff) + "." + std::to_string(ip >> 24 & 0xff);
  return e;
}

Result<operators::Topology> yahoo_topology() {
  using std::chrono::milliseconds;
  dsl::TopologyBuilder b;
  auto campaigns = b.global_table<std::string, std::string>(kYahooCampaignsTopic);
  b.stream<std::string, YahooEvent>(kYahooEventsTopic)
      .filter([](const std::string&, const YahooEvent& e) { return e.event_type == "view"; })
      .named("views")
      .map_values([](const YahooEvent& e) { return std::pair(e.ad_id, e.event_time); })
      .named("project")
      .join(
          campaigns,
          [](const std::string&, const std::pair<std::string, int64_t>& ad) { return ad.first; },
          [](const std::pair<std::string, int64_t>&, const std::string& campaign) {
            return campaign;
          },
          "campaign-of-ad")
      .select_key([](const std::string&, const std::string& campaign) { return campaign; })
      .named("by-campaign")
      .group_by_key()
      .windowed_by(
          dsl::TumblingWindows::of(milliseconds(kYahooWindowMs)).grace(milliseconds(kYahooGraceMs)))
      .count(kYahooCountsStore)
      .to_stream()
      .to(kYahooCountsTopic);
  return b.build();
}

CampaignViews count_campaign_views(const std::vector<YahooEvent>& events,
                                   const std::vector<std::pair<std::string, std::string>>& ads) {
  std::unordered_map<std::string, std::string> campaign_of(ads.begin(), ads.end());
  CampaignViews out;
  for (const YahooEvent& e : events) {
    if (e.event_type != "view") continue;
    auto it = campaign_of.find(e.ad_id);
    if (it == campaign_of.end()) continue;
    ++out[{e.event_time / kYahooWindowMs * kYahooWindowMs, it->second}];
  }
  return out;
}

}  // namespace sluice::samples

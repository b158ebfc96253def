// The Yahoo Streaming Benchmark sample: its generator, its oracle, and the job on the runtime
// against the oracle at a small scale.
#include "sluice/samples/yahoo.h"

#include <gtest/gtest.h>

#include "sample_test_util.h"

namespace sluice::samples {
namespace {

std::vector<YahooEvent> generate(const YahooOptions& o) {
  YahooGenerator gen(o);
  std::vector<YahooEvent> out;
  while (!gen.done()) out.push_back(gen.next());
  return out;
}

TEST(YahooTest, EventsFollowThePublishedMix) {
  const YahooOptions o{.seed = 4, .events = 30'000};
  const auto events = generate(o);
  EXPECT_EQ(events, generate(o));
  std::map<std::string, int> types;
  std::set<std::string> ads;
  for (const auto& e : events) {
    ++types[e.event_type];
    ads.insert(e.ad_id);
  }
  EXPECT_EQ(types.size(), 3u);
  for (const auto& [type, n] : types) EXPECT_NEAR(n, 10'000, 400) << type;
  EXPECT_EQ(ads.size(), 1000u);  // 100 campaigns x 10 ads
  EXPECT_EQ(yahoo_campaigns(o).size(), 1000u);
}

TEST(YahooTest, TheJobOnTheRuntimeEqualsTheOracle) {
  const YahooOptions o{.seed = 6, .events = 90'000};
  const auto events = generate(o);
  const auto ads = yahoo_campaigns(o);
  std::vector<runtime::testing::Event> event_records, ad_records;
  for (const auto& e : events) {
    event_records.push_back({e.user_id, nlohmann::json(e).dump(), Timestamp(e.event_time)});
  }
  for (const auto& [ad, campaign] : ads) {
    ad_records.push_back({ad, campaign, Timestamp(o.start_ms)});
  }
  // The mapping is on its topic before the job starts, as Redis is loaded in the benchmark.
  const auto out = testing::run_sample_on<operators::Windowed<std::string>, int64_t>(
      yahoo_topology(), {{kYahooCampaignsTopic, ad_records}, {kYahooEventsTopic, event_records}},
      kYahooCountsTopic);
  CampaignViews got;
  for (const auto& r : out) got[{r.key.window.start.value(), r.key.key}] = r.value;
  const CampaignViews want = count_campaign_views(events, ads);
  EXPECT_EQ(got.size(), want.size());
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace sluice::samples

// The ad click-through sample: its generator, its oracle, and the job on the runtime against
// the oracle at a small scale.
#include "sluice/samples/ad_clicks.h"

#include <gtest/gtest.h>

#include "sample_test_util.h"

namespace sluice::samples {
namespace {

TEST(AdClicksTest, TheGeneratorMakesClicksInAndOutsideTheJoinWindowAndStrayOnes) {
  AdOptions o{.seed = 5, .impressions = 20'000};
  const auto events = generate_ad_events(o);
  EXPECT_EQ(events, generate_ad_events(o));
  int64_t impressions = 0, clicks = 0, late = 0, stray = 0;
  std::map<std::string, int64_t> shown;
  for (const auto& e : events) {
    if (e.type == "impression") {
      ++impressions;
      shown[e.impression_id] = e.timestamp;
    }
  }
  for (const auto& e : events) {
    if (e.type != "click") continue;
    ++clicks;
    auto it = shown.find(e.impression_id);
    if (it == shown.end()) {
      ++stray;
    } else if (e.timestamp - it->second > kClickWindowMs) {
      ++late;
    }
  }
  EXPECT_EQ(impressions, 20'000);
  EXPECT_GT(clicks, 1'000);
  EXPECT_GT(late, 50) << "some clicks must fall outside the 10-minute join window";
  EXPECT_GT(stray, 50) << "some clicks must have no impression";
}

TEST(AdClicksTest, TheJobOnTheRuntimeEqualsTheOracle) {
  const auto events = generate_ad_events({.seed = 9, .impressions = 60'000});
  std::vector<runtime::testing::Event> impressions, clicks;
  for (const AdEvent& e : events) {
    (e.type == "impression" ? impressions : clicks)
        .push_back({e.impression_id, nlohmann::json(e).dump(), Timestamp(e.timestamp)});
  }
  const auto out = testing::run_sample_on<operators::Windowed<std::string>, CtrCounts>(
      ad_clicks_topology(), {{kImpressionsTopic, impressions}, {kClicksTopic, clicks}},
      kCampaignCtrTopic);
  CampaignCtr got;
  for (const auto& r : out) got[{r.key.window.start.value(), r.key.key}] = r.value;
  const CampaignCtr want = click_through(events);
  EXPECT_EQ(got.size(), want.size());
  EXPECT_EQ(got, want);
  int64_t joined = 0;
  for (const auto& [k, c] : want) joined += c.clicks;
  EXPECT_GT(joined, 1'000);
}

}  // namespace
}  // namespace sluice::samples

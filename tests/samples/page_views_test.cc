// The page-view sample: its generator, its oracle, and the job on the runtime against the
// oracle at a small scale.
#include "sluice/samples/page_views.h"

#include <gtest/gtest.h>

#include <thread>

#include "sample_test_util.h"

namespace sluice::samples {
namespace {

std::vector<PageView> generate(PageViewOptions o) {
  PageViewGenerator gen(o);
  std::vector<PageView> out;
  while (!gen.done()) out.push_back(gen.next());
  return out;
}

TEST(PageViewsTest, TheSameOptionsGenerateTheSameEvents) {
  PageViewOptions o{.seed = 7, .events = 5'000};
  EXPECT_EQ(generate(o), generate(o));
  o.seed = 8;
  EXPECT_NE(generate(o), generate(PageViewOptions{.seed = 7, .events = 5'000}));
}

TEST(PageViewsTest, GeneratedEventsHaveBotsPopularPagesAndBoundedDisorder) {
  PageViewOptions o{.seed = 3, .events = 50'000};
  const auto events = generate(o);
  int64_t bots = 0, home = 0, max_ts = 0;
  for (const auto& e : events) {
    bots += is_bot(e) ? 1 : 0;
    home += e.page == "/" ? 1 : 0;
    EXPECT_GE(e.timestamp, o.start_ms);
    EXPECT_GE(e.timestamp, max_ts - o.max_disorder_ms);
    max_ts = std::max(max_ts, e.timestamp);
  }
  EXPECT_NEAR(static_cast<double>(bots) / 50'000, o.bot_share, 0.01);
  EXPECT_GT(home, 50'000 / 10);  // Zipf: the first page gets the most views by far
}

TEST(PageViewsTest, TopPagesAreOrderedByViewsThenName) {
  ViewsPerPage counts{{{0, "/b"}, 5}, {{0, "/a"}, 5}, {{0, "/c"}, 9}, {{60'000, "/x"}, 1}};
  auto top = top_pages(counts, 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].second, (std::vector<std::pair<std::string, int64_t>>{{"/c", 9}, {"/a", 5}}));
  EXPECT_EQ(top[1].first, 60'000);
}

TEST(PageViewsTest, TheJobOnTheRuntimeEqualsTheOracle) {
  const auto events = generate({.seed = 11, .events = 100'000});
  const auto out = testing::run_sample<operators::Windowed<std::string>, int64_t>(
      page_views_topology(), kPageViewsTopic, kViewsPerPageTopic,
      testing::as_events(events, [](const PageView& v) { return v.user; }));
  ViewsPerPage got;
  for (const auto& r : out) got[{r.key.window.start.value(), r.key.key}] = r.value;
  EXPECT_EQ(got, count_views(events));
}

}  // namespace
}  // namespace sluice::samples

// The sessionization sample: its oracle, and the job on the runtime against the oracle.
#include "sluice/samples/sessions.h"

#include <gtest/gtest.h>

#include "sample_test_util.h"

namespace sluice::samples {
namespace {

TEST(SessionsTest, TheOracleSplitsAUsersActivityWhereItPausesLongerThanTheGap) {
  const int64_t m = 60'000;
  std::vector<Activity> events = {{"a", "view", 0},
                                  {"a", "view", 10 * m},
                                  {"a", "view", 40 * m},  // exactly the gap: same session
                                  {"a", "view", 71 * m},  // 31 minutes later: a new one
                                  {"b", "view", 5 * m}};
  EXPECT_EQ(
      sessionize(events),
      (Sessions{{{"a", 0, 40 * m}, 3}, {{"a", 71 * m, 71 * m}, 1}, {{"b", 5 * m, 5 * m}, 1}}));
}

TEST(SessionsTest, GeneratedActivityIsDeterministicAndSplitsIntoManySessions) {
  const ActivityOptions o{.seed = 5, .events = 20'000};
  EXPECT_EQ(generate_activity(o), generate_activity(o));
  const Sessions s = sessionize(generate_activity(o));
  int64_t single = 0, long_ones = 0;
  for (const auto& [k, n] : s) {
    single += n == 1 ? 1 : 0;
    long_ones += n >= 5 ? 1 : 0;
  }
  EXPECT_GT(single, 100);
  EXPECT_GT(long_ones, 100);
}

TEST(SessionsTest, TheJobOnTheRuntimeEqualsTheOracle) {
  const auto events = generate_activity({.seed = 9, .events = 50'000});
  const auto out = testing::run_sample<operators::Windowed<std::string>, std::optional<int64_t>>(
      sessions_topology(), kActivityTopic, kSessionsTopic,
      testing::as_events(events, [](const Activity& a) { return a.user; }));
  // The last value of each session window; merged-away sessions end with a null.
  std::map<std::tuple<std::string, int64_t, int64_t>, std::optional<int64_t>> last;
  for (const auto& r : out) {
    last[{r.key.key, r.key.window.start.value(), r.key.window.end.value()}] = r.value;
  }
  Sessions got;
  for (const auto& [k, v] : last) {
    if (v) got[k] = *v;
  }
  const Sessions want = sessionize(events);
  EXPECT_EQ(got.size(), want.size());
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace sluice::samples

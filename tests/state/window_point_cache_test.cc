// WindowPointCache on its own: its byte budget holds by dropping whole windows oldest first, and
// what it may call absent follows what it has dropped, expired, been told was written around it,
// and the bound it was reset with.
#include "window_point_cache.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace sluice::state {
namespace {

constexpr int64_t kMin = WindowPointCache::kMinTime;

TEST(WindowPointCacheTest, StaysWithinItsBudgetByDroppingTheOldestWindowsWhole) {
  constexpr size_t kBudget = 2000;
  WindowPointCache cache(kBudget);
  cache.reset(kMin);
  for (int64_t start = 0; start < 100; start += 10) {
    for (int k = 0; k < 5; ++k) {
      cache.put(start, "key-" + std::to_string(k), std::string_view("a value of some length"));
      ASSERT_LE(cache.bytes(), kBudget) << "window " << start;
    }
  }
  // The newest windows are there whole, every older one is gone whole; a miss proves absence
  // in the windows held (every write went through the cache), not in those dropped.
  const size_t kept = cache.windows();
  ASSERT_GT(kept, 0u);
  ASSERT_LT(kept, 10u);
  const int64_t oldest_kept = 100 - 10 * static_cast<int64_t>(kept);
  for (int64_t start = 0; start < 100; start += 10) {
    for (int k = 0; k < 5; ++k) {
      const auto* found = cache.find(start, "key-" + std::to_string(k));
      EXPECT_EQ(found != nullptr, start >= oldest_kept) << "window " << start;
    }
    EXPECT_EQ(cache.proves_absent(start), start >= oldest_kept) << "window " << start;
  }
  EXPECT_TRUE(cache.proves_absent(100));
}

TEST(WindowPointCacheTest, ProvesAbsentOnlyPastItsResetBoundAndEveryWindowWrittenAroundIt) {
  WindowPointCache cache(1 << 20);
  EXPECT_FALSE(cache.proves_absent(0));  // never reset: nothing is known
  cache.reset(500);
  EXPECT_FALSE(cache.proves_absent(499));
  EXPECT_TRUE(cache.proves_absent(500));
  cache.put(600, "a", std::string_view("1"));
  cache.bypassed(600, "a");  // a restore wrote (a, 600) straight to the DB
  EXPECT_EQ(cache.find(600, "a"), nullptr);
  EXPECT_FALSE(cache.proves_absent(600));
  EXPECT_TRUE(cache.proves_absent(601));
}

TEST(WindowPointCacheTest, ExpiredWindowsGoWithoutWeakeningTheProof) {
  WindowPointCache cache(1 << 20);
  cache.reset(kMin);
  cache.put(0, "a", std::string_view("1"));
  cache.put(10, "a", std::nullopt);  // cached as absent
  cache.drop_expired(10);
  EXPECT_EQ(cache.find(0, "a"), nullptr);
  EXPECT_EQ(cache.windows(), 1u);
  const auto* absent = cache.find(10, "a");
  ASSERT_NE(absent, nullptr);
  EXPECT_FALSE(absent->has_value());
  EXPECT_TRUE(cache.proves_absent(10));
}

}  // namespace
}  // namespace sluice::state

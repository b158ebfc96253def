// RecordCache: hits, write-back of dirty entries (once each), eviction within the byte
// budget, and values that change size — against what the stores behind it receive.
#include "record_cache.h"
#include "assert_ok.h"
#include "cached_store.h"
#include "sluice/state/in_memory_stores.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace sluice::state {
namespace {

// What a store behind the cache receives.
struct Backing {
  std::map<std::string, std::string> data;
  std::vector<std::string> writes;  // keys, in the order they were written
  RecordCache::Writer writer() {
    return [this](ByteView key, std::optional<ByteView> value) {
      writes.emplace_back(key);
      if (value) {
        data[std::string(key)] = std::string(*value);
      } else {
        data.erase(std::string(key));
      }
      return Status();
    };
  }
};

std::optional<std::string> cached(RecordCache& cache, int store, const std::string& key) {
  auto l = cache.get(store, key);
  EXPECT_TRUE(l.hit) << key;
  if (!l.value) return std::nullopt;
  return std::string(*l.value);
}

TEST(RecordCacheTest, RepeatedUpdatesReachTheStoreOnceAtFlush) {
  RecordCache cache(1 << 20);
  Backing b;
  const int s = cache.add_store(b.writer());
  for (int round = 0; round < 5; ++round) {
    for (const char* k : {"m", "c", "x", "a"}) {
      ASSERT_OK(cache.put(s, k, std::string(k) + std::to_string(round), /*dirty=*/true));
    }
  }
  ASSERT_OK(cache.put(s, "clean", "read from the store", /*dirty=*/false));
  EXPECT_TRUE(b.writes.empty());
  EXPECT_EQ(cached(cache, s, "x"), "x4");
  ASSERT_OK(cache.flush(s));
  // In the order the keys first became dirty.
  EXPECT_EQ(b.writes, (std::vector<std::string>{"m", "c", "x", "a"}));
  EXPECT_EQ(b.data["m"], "m4");
  ASSERT_OK(cache.flush(s));  // nothing dirty is left
  EXPECT_EQ(b.writes.size(), 4u);
  EXPECT_EQ(cached(cache, s, "clean"), "read from the store");
}

TEST(RecordCacheTest, RemovalsAreCachedAndWrittenAsRemovals) {
  RecordCache cache(1 << 20);
  Backing b;
  b.data["gone"] = "old";
  const int s = cache.add_store(b.writer());
  ASSERT_OK(cache.put(s, "gone", std::nullopt, true));
  auto l = cache.get(s, "gone");
  EXPECT_TRUE(l.hit);
  EXPECT_FALSE(l.value.has_value());
  ASSERT_OK(cache.flush_all());
  EXPECT_FALSE(b.data.contains("gone"));
  EXPECT_FALSE(cache.get(s, "never").hit);
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.hits(), 1u);
}

TEST(RecordCacheTest, ValuesThatGrowAndShrinkReadBackExactly) {
  RecordCache cache(64 << 20);
  Backing b;
  const int s = cache.add_store(b.writer());
  for (size_t n : {0, 1, 100, 5, 100'000, 3, 0}) {
    const std::string v(n, static_cast<char>('a' + n % 26));
    ASSERT_OK(cache.put(s, "k", v, true));
    EXPECT_EQ(cached(cache, s, "k"), v);
  }
  ASSERT_OK(cache.flush(s));
  EXPECT_EQ(b.data["k"], "");
}

TEST(RecordCacheTest, EvictionStaysInTheBudgetAndLosesNoUpdate) {
  // Two stores sharing a budget of a few hundred entries, 5,000 keys updated at random:
  // whatever is evicted is written back first, so store plus cache always hold every update.
  constexpr size_t kBudget = 64 << 10;
  RecordCache cache(kBudget);
  Backing b[2];
  const int ids[2] = {cache.add_store(b[0].writer()), cache.add_store(b[1].writer())};
  std::map<std::string, std::string> model[2];
  std::mt19937 rng(7);
  for (int i = 0; i < 50'000; ++i) {
    const int s = static_cast<int>(rng() % 2);
    const std::string key = "key-" + std::to_string(rng() % 5'000);
    // A read-modify-write, as an aggregation does: read through the cache, else the store.
    std::string value;
    auto l = cache.get(ids[s], key);
    if (l.hit) {
      if (l.value) value = std::string(*l.value);
    } else {
      auto it = b[s].data.find(key);
      if (it != b[s].data.end()) value = it->second;
      ASSERT_OK(cache.put(ids[s], key, value, /*dirty=*/false));
    }
    value = std::to_string(std::stoi(value.empty() ? "0" : value) + 1);
    ASSERT_OK(cache.put(ids[s], key, value, /*dirty=*/true));
    model[s][key] = value;
    ASSERT_LE(cache.bytes(), kBudget);
  }
  // It did evict: dirty entries were written back before any flush, and keys were missed
  // again after their eviction (10,000 distinct keys at most would miss once each).
  EXPECT_GT(b[0].writes.size() + b[1].writes.size(), 0u);
  EXPECT_GT(cache.misses(), 10'000u);
  ASSERT_OK(cache.flush_all());
  EXPECT_EQ(b[0].data, model[0]);
  EXPECT_EQ(b[1].data, model[1]);
  EXPECT_GT(cache.hits(), 0u);
}

TEST(RecordCacheTest, ClearForgetsEverythingWithoutWriting) {
  RecordCache cache(1 << 20);
  Backing b;
  const int s = cache.add_store(b.writer());
  ASSERT_OK(cache.put(s, "a", "1", true));
  cache.clear();
  EXPECT_EQ(cache.bytes(), 0u);
  EXPECT_FALSE(cache.get(s, "a").hit);
  ASSERT_OK(cache.flush_all());
  EXPECT_TRUE(b.writes.empty());
  ASSERT_OK(cache.put(s, "a", "2", true));  // usable again
  ASSERT_OK(cache.flush_all());
  EXPECT_EQ(b.data["a"], "2");
}

TEST(RecordCacheTest, AFailedWriteBackKeepsTheRestDirty) {
  RecordCache cache(1 << 20);
  std::map<std::string, std::string> data;
  bool fail_on_b = true;
  const int s = cache.add_store([&](ByteView key, std::optional<ByteView> value) {
    if (key == "b" && fail_on_b) return Status(StatusCode::kNoSpace, "disk full");
    data[std::string(key)] = std::string(value.value_or(""));
    return Status();
  });
  for (const char* k : {"a", "b", "c"}) ASSERT_OK(cache.put(s, k, k, true));
  EXPECT_EQ(cache.flush(s).code(), StatusCode::kNoSpace);
  EXPECT_EQ(data.size(), 1u);  // "a" went first
  fail_on_b = false;
  ASSERT_OK(cache.flush(s));
  EXPECT_EQ(data, (std::map<std::string, std::string>{{"a", "a"}, {"b", "b"}, {"c", "c"}}));
}

// get_into through the cached store: a miss reads the store behind it once and caches what it
// found (absence too); later reads are hits; the caller's buffer holds exactly the value.
TEST(CachedKeyValueStoreTest, GetIntoReadsTheStoreOnceThenServesHitsIntoTheCallersBuffer) {
  auto inner = make_in_memory_key_value_store({.name = "kv"});
  ASSERT_OK(inner.status());
  ASSERT_OK((*inner)->put("stored", "a value longer than the next one"));
  RecordCache cache(1 << 20);
  auto store = make_cached(**inner, cache, nullptr);

  Bytes buffer = "left over from an earlier record";
  auto found = store->get_into("stored", buffer);
  ASSERT_OK(found.status());
  EXPECT_TRUE(*found);
  EXPECT_EQ(buffer, "a value longer than the next one");
  EXPECT_EQ(cache.misses(), 1u);

  ASSERT_OK(store->put("stored", "short"));
  found = store->get_into("stored", buffer);
  ASSERT_OK(found.status());
  EXPECT_TRUE(*found);
  EXPECT_EQ(buffer, "short");

  found = store->get_into("absent", buffer);
  ASSERT_OK(found.status());
  EXPECT_FALSE(*found);
  found = store->get_into("absent", buffer);  // the absence was cached
  ASSERT_OK(found.status());
  EXPECT_FALSE(*found);
  EXPECT_EQ(cache.misses(), 2u);
  EXPECT_EQ(cache.hits(), 2u);

  ASSERT_OK(store->remove("stored"));
  found = store->get_into("stored", buffer);
  ASSERT_OK(found.status());
  EXPECT_FALSE(*found);
  auto got = (*inner)->get("stored");  // not written back before a flush
  ASSERT_OK(got.status());
  EXPECT_EQ(*got, "a value longer than the next one");
}

}  // namespace
}  // namespace sluice::state

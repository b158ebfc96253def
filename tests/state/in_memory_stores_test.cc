// What the in-memory stores do beyond the shared contract (store_contract_test.cc): the specs
// their factories reject, exact counts, and iterators that keep walking the store as it was
// when they were made, through writes that store.h does not let callers rely on.
#include "sluice/state/in_memory_stores.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "store_test_fixture.h"

namespace sluice::state {
namespace {

using testing::is_error;

StoreSpec spec_of(StoreKind kind, std::string name = "store") {
  StoreSpec spec;
  spec.name = std::move(name);
  spec.kind = kind;
  return spec;
}

// Makes a store or fails the test.
template <typename Store>
std::unique_ptr<Store> made(Result<std::unique_ptr<Store>> store) {
  EXPECT_TRUE(store.ok()) << store.status().to_string();
  return store.ok() ? std::move(store).value() : nullptr;
}

std::vector<std::pair<Bytes, Bytes>> rest_of(KeyValueIterator& it) {
  std::vector<std::pair<Bytes, Bytes>> out;
  for (; it.valid(); it.next()) out.emplace_back(it.key(), it.value());
  SLUICE_EXPECT_OK(it.status());
  return out;
}

// --- Specs ---

TEST(InMemoryStoresTest, EveryFactoryRejectsAnEmptyName) {
  EXPECT_TRUE(is_error(make_in_memory_key_value_store(spec_of(StoreKind::kKeyValue, "")).status(),
                       StatusCode::kInvalidArgument, {"name"}));
  EXPECT_TRUE(is_error(make_in_memory_window_store(spec_of(StoreKind::kWindow, "")).status(),
                       StatusCode::kInvalidArgument, {"name"}));
  EXPECT_TRUE(is_error(make_in_memory_session_store(spec_of(StoreKind::kSession, "")).status(),
                       StatusCode::kInvalidArgument, {"name"}));
}

TEST(InMemoryStoresTest, EveryFactoryRejectsASpecOfAnotherKind) {
  EXPECT_TRUE(is_error(make_in_memory_key_value_store(spec_of(StoreKind::kWindow)).status(),
                       StatusCode::kInvalidArgument, {"'store'", "window", "key-value"}));
  EXPECT_TRUE(is_error(make_in_memory_window_store(spec_of(StoreKind::kSession)).status(),
                       StatusCode::kInvalidArgument, {"'store'", "session", "window"}));
  EXPECT_TRUE(is_error(make_in_memory_session_store(spec_of(StoreKind::kKeyValue)).status(),
                       StatusCode::kInvalidArgument, {"'store'", "key-value", "session"}));
}

TEST(InMemoryStoresTest, WindowAndSessionFactoriesRejectRetentionBelowOneMillisecond) {
  for (int64_t retention_ms : {int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::min()}) {
    SCOPED_TRACE(retention_ms);
    StoreSpec window = spec_of(StoreKind::kWindow);
    window.retention_ms = retention_ms;
    EXPECT_TRUE(is_error(make_in_memory_window_store(window).status(), StatusCode::kInvalidArgument,
                         {"retention_ms"}));
    StoreSpec session = spec_of(StoreKind::kSession);
    session.retention_ms = retention_ms;
    EXPECT_TRUE(is_error(make_in_memory_session_store(session).status(),
                         StatusCode::kInvalidArgument, {"retention_ms"}));
  }
}

TEST(InMemoryStoresTest, WindowAndSessionFactoriesAcceptARetentionOfOneMillisecond) {
  StoreSpec window = spec_of(StoreKind::kWindow);
  window.retention_ms = 1;
  auto windows = made(make_in_memory_window_store(window));
  ASSERT_NE(windows, nullptr);
  SLUICE_ASSERT_OK(windows->advance_stream_time(Timestamp(100)));
  SLUICE_ASSERT_OK(windows->put("k", Timestamp(98), "expired"));
  SLUICE_ASSERT_OK(windows->put("k", Timestamp(99), "kept"));
  EXPECT_EQ(*windows->fetch("k", Timestamp(98)), std::nullopt);
  EXPECT_EQ(*windows->fetch("k", Timestamp(99)), "kept");

  StoreSpec session = spec_of(StoreKind::kSession);
  session.retention_ms = 1;
  EXPECT_NE(made(make_in_memory_session_store(session)), nullptr);
}

TEST(InMemoryStoresTest, WindowAndSessionFactoriesRejectANegativeSegmentSize) {
  StoreSpec window = spec_of(StoreKind::kWindow);
  window.segment_ms = -1;
  EXPECT_TRUE(is_error(make_in_memory_window_store(window).status(), StatusCode::kInvalidArgument,
                       {"segment_ms"}));
  StoreSpec session = spec_of(StoreKind::kSession);
  session.segment_ms = -1;
  EXPECT_TRUE(is_error(make_in_memory_session_store(session).status(), StatusCode::kInvalidArgument,
                       {"segment_ms"}));
}

TEST(InMemoryStoresTest, KeyValueFactoryRejectsANegativeTtl) {
  StoreSpec spec = spec_of(StoreKind::kKeyValue);
  spec.ttl_ms = -1;
  EXPECT_TRUE(is_error(make_in_memory_key_value_store(spec).status(), StatusCode::kInvalidArgument,
                       {"ttl_ms"}));
}

TEST(InMemoryStoresTest, KeyValueFactoryIgnoresTheWindowFieldsAndAcceptsATtl) {
  StoreSpec spec = spec_of(StoreKind::kKeyValue);
  spec.retention_ms = 0;
  spec.segment_ms = -1;
  spec.ttl_ms = 60'000;  // applied by TaskState, not by the store
  EXPECT_NE(made(make_in_memory_key_value_store(spec)), nullptr);
}

// --- Key-value stores ---

TEST(InMemoryStoresTest, ApproximateCountIsExact) {
  auto store = made(make_in_memory_key_value_store(spec_of(StoreKind::kKeyValue)));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->approximate_count(), 0u);
  SLUICE_ASSERT_OK(store->put("a", "1"));
  SLUICE_ASSERT_OK(store->put("b", "2"));
  SLUICE_ASSERT_OK(store->put("", "3"));
  EXPECT_EQ(*store->approximate_count(), 3u);
  SLUICE_ASSERT_OK(store->put("a", "overwritten"));
  EXPECT_EQ(*store->approximate_count(), 3u);
  SLUICE_ASSERT_OK(store->remove("b"));
  SLUICE_ASSERT_OK(store->remove("never there"));
  EXPECT_EQ(*store->approximate_count(), 2u);
}

TEST(InMemoryStoresTest, IteratorWalksTheKeyValuesAsTheyWereWhenItWasMade) {
  auto store = made(make_in_memory_key_value_store(spec_of(StoreKind::kKeyValue)));
  ASSERT_NE(store, nullptr);
  for (const char* key : {"a", "b", "c", "d"}) SLUICE_ASSERT_OK(store->put(key, "old"));
  auto it = std::move(store->range(std::nullopt, std::nullopt)).value();
  ASSERT_TRUE(it->valid());
  it->next();  // at "b"
  SLUICE_ASSERT_OK(store->remove("b"));
  SLUICE_ASSERT_OK(store->remove("c"));
  SLUICE_ASSERT_OK(store->put("d", "new"));
  SLUICE_ASSERT_OK(store->put("bb", "new"));
  SLUICE_ASSERT_OK(store->put("e", "new"));
  EXPECT_EQ(rest_of(*it),
            (std::vector<std::pair<Bytes, Bytes>>{{"b", "old"}, {"c", "old"}, {"d", "old"}}));
  // A new iterator sees the store as it is now.
  auto now = std::move(store->range(std::nullopt, std::nullopt)).value();
  EXPECT_EQ(rest_of(*now), (std::vector<std::pair<Bytes, Bytes>>{
                               {"a", "old"}, {"bb", "new"}, {"d", "new"}, {"e", "new"}}));
}

TEST(InMemoryStoresTest, RemovingEveryKeyWhileIteratingVisitsEveryKey) {
  auto store = made(make_in_memory_key_value_store(spec_of(StoreKind::kKeyValue)));
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 100; ++i) SLUICE_ASSERT_OK(store->put("k" + std::to_string(i), "v"));
  auto it = std::move(store->prefix_scan("k")).value();
  int visited = 0;
  for (; it->valid(); it->next(), ++visited) SLUICE_ASSERT_OK(store->remove(it->key()));
  SLUICE_EXPECT_OK(it->status());
  EXPECT_EQ(visited, 100);
  EXPECT_EQ(*store->approximate_count(), 0u);
}

TEST(InMemoryStoresTest, IteratorThatOutlivesItsStoreStillWalksItsCopy) {
  auto store = made(make_in_memory_key_value_store(spec_of(StoreKind::kKeyValue)));
  ASSERT_NE(store, nullptr);
  SLUICE_ASSERT_OK(store->put("a", "1"));
  SLUICE_ASSERT_OK(store->put("b", "2"));
  auto it = std::move(store->range(std::nullopt, std::nullopt)).value();
  store.reset();  // store.h forbids this; the store still leaves nothing dangling
  EXPECT_EQ(rest_of(*it), (std::vector<std::pair<Bytes, Bytes>>{{"a", "1"}, {"b", "2"}}));
}

// --- Window stores ---

TEST(InMemoryStoresTest, WindowIteratorWalksTheWindowsAsTheyWereWhenItWasMade) {
  StoreSpec spec = spec_of(StoreKind::kWindow);
  spec.retention_ms = 1000;
  auto store = made(make_in_memory_window_store(spec));
  ASSERT_NE(store, nullptr);
  for (int64_t start : {0, 500, 1000, 1500}) {
    SLUICE_ASSERT_OK(store->put("a", Timestamp(start), "old"));
    SLUICE_ASSERT_OK(store->put("b", Timestamp(start), "old"));
  }
  auto all = std::move(store->fetch_all(Timestamp(0), Timestamp(2000))).value();
  auto of_a = std::move(store->fetch("a", Timestamp(0), Timestamp(2000))).value();
  SLUICE_ASSERT_OK(store->advance_stream_time(Timestamp(2000)));  // drops 0 and 500
  SLUICE_ASSERT_OK(store->put("a", Timestamp(1000), std::nullopt));
  SLUICE_ASSERT_OK(store->put("b", Timestamp(1500), "new"));
  int rows = 0;
  for (; all->valid(); all->next(), ++rows) EXPECT_EQ(all->value(), "old");
  EXPECT_EQ(rows, 8);
  std::vector<int64_t> starts;
  for (; of_a->valid(); of_a->next()) starts.push_back(of_a->window_start().value());
  EXPECT_EQ(starts, (std::vector<int64_t>{0, 500, 1000, 1500}));
}

// --- Session stores ---

TEST(InMemoryStoresTest, SessionIteratorKeepsItsKeyWhenTheKeysLastSessionIsRemoved) {
  StoreSpec spec = spec_of(StoreKind::kSession);
  spec.retention_ms = 1000;
  auto store = made(make_in_memory_session_store(spec));
  ASSERT_NE(store, nullptr);
  const Bytes key(100, 'k');  // longer than any small-string buffer
  SLUICE_ASSERT_OK(store->put(key, {Timestamp(0), Timestamp(10)}, "first"));
  SLUICE_ASSERT_OK(store->put(key, {Timestamp(20), Timestamp(30)}, "second"));
  auto it = std::move(store->find_sessions(key, Timestamp(0), Timestamp(100))).value();
  for (int seen = 0; it->valid(); it->next(), ++seen) {
    EXPECT_EQ(it->key(), key);
    EXPECT_EQ(it->value(), seen == 0 ? "first" : "second");
    SLUICE_ASSERT_OK(store->remove(it->key(), it->window()));  // the key goes with the last
  }
  auto none = std::move(store->find_sessions(key, Timestamp(0), Timestamp(100))).value();
  EXPECT_FALSE(none->valid());
}

TEST(InMemoryStoresTest, SessionIteratorSurvivesExpiryOfWhatItWalks) {
  StoreSpec spec = spec_of(StoreKind::kSession);
  spec.retention_ms = 1000;
  auto store = made(make_in_memory_session_store(spec));
  ASSERT_NE(store, nullptr);
  SLUICE_ASSERT_OK(store->put("k", {Timestamp(0), Timestamp(10)}, "a"));
  SLUICE_ASSERT_OK(store->put("k", {Timestamp(0), Timestamp(20)}, "b"));
  auto it = std::move(store->find_sessions("k", Timestamp(0), Timestamp(100))).value();
  SLUICE_ASSERT_OK(store->advance_stream_time(Timestamp(5000)));  // expires both
  std::vector<Bytes> values;
  for (; it->valid(); it->next()) values.emplace_back(it->value());
  EXPECT_EQ(values, (std::vector<Bytes>{"a", "b"}));
  EXPECT_FALSE(std::move(store->find_sessions("k", Timestamp(0), Timestamp(100))).value()->valid());
}

}  // namespace
}  // namespace sluice::state

// The contract of the state stores (sluice/state/store.h), run against every implementation in
// store_implementations() (store_implementations.h): key-value stores (point operations, byte
// order, ranges with open and closed ends, prefix scans, iterators), window stores (windows per key
// and start, time-range fetches, expiry as stream time advances) and session stores (sessions
// per key and window, find_sessions boundaries and order, expiry).
//
// Where store.h leaves a detail open, these tests pin the choice written in
// sluice/state/in_memory_stores.h, so that every implementation makes the same one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "sluice/state/store.h"
#include "sluice/state/store_spec.h"
#include "store_implementations.h"
#include "store_test_fixture.h"

namespace sluice::state {
namespace {

using testing::is_error;
using testing::StoreImplementation;

constexpr int64_t kRetentionMs = 1000;

// Bytes from byte values, for keys that are not text: bin({'a', 0x00, 0xFF}).
Bytes bin(std::initializer_list<int> bytes) {
  Bytes out;
  for (int b : bytes) out.push_back(static_cast<char>(static_cast<unsigned char>(b)));
  return out;
}

Timestamp ts(int64_t ms) { return Timestamp(ms); }

SessionWindow session(int64_t start, int64_t end) { return {.start = ts(start), .end = ts(end)}; }

using KeyValues = std::vector<std::pair<Bytes, Bytes>>;
using WindowRows = std::vector<std::tuple<Bytes, int64_t, Bytes>>;  // key, start, value
using SessionRows =
    std::vector<std::tuple<Bytes, int64_t, int64_t, Bytes>>;  // key, start, end, value

// Everything an iterator walks, in order. Fails the test if making it failed or its walk
// ended with an error.
KeyValues drain(Result<std::unique_ptr<KeyValueIterator>> made) {
  KeyValues out;
  EXPECT_TRUE(made.ok()) << made.status().to_string();
  if (!made.ok()) return out;
  KeyValueIterator& it = **made;
  for (; it.valid(); it.next()) out.emplace_back(it.key(), it.value());
  SLUICE_EXPECT_OK(it.status());
  return out;
}

WindowRows drain(Result<std::unique_ptr<WindowIterator>> made) {
  WindowRows out;
  EXPECT_TRUE(made.ok()) << made.status().to_string();
  if (!made.ok()) return out;
  WindowIterator& it = **made;
  for (; it.valid(); it.next()) out.emplace_back(it.key(), it.window_start().value(), it.value());
  SLUICE_EXPECT_OK(it.status());
  return out;
}

SessionRows drain(Result<std::unique_ptr<SessionIterator>> made) {
  SessionRows out;
  EXPECT_TRUE(made.ok()) << made.status().to_string();
  if (!made.ok()) return out;
  SessionIterator& it = **made;
  for (; it.valid(); it.next()) {
    out.emplace_back(it.key(), it.window().start.value(), it.window().end.value(), it.value());
  }
  SLUICE_EXPECT_OK(it.status());
  return out;
}

// A fresh factory (and so fresh stores) for every test.
class StoreContractTest : public ::testing::TestWithParam<StoreImplementation> {
 protected:
  void SetUp() override {
    factory_ = GetParam().make_factory();
    ASSERT_NE(factory_, nullptr);
  }
  void TearDown() override { factory_.reset(); }

  std::unique_ptr<testing::StoreFactory> factory_;
};

std::string implementation_name(const ::testing::TestParamInfo<StoreImplementation>& info) {
  return info.param.name;
}

// ------------------------------------------------------------------------------------------
// Key-value stores
// ------------------------------------------------------------------------------------------

class KeyValueStoreContractTest : public StoreContractTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreContractTest::SetUp());
    store_ = make_store("kv");
    ASSERT_NE(store_, nullptr);
  }

  KeyValueStore* make_store(const std::string& name) {
    StoreSpec spec;
    spec.name = name;
    spec.kind = StoreKind::kKeyValue;
    auto store = factory_->key_value(spec);
    EXPECT_TRUE(store.ok()) << store.status().to_string();
    return store.ok() ? *store : nullptr;
  }

  void put(ByteView key, ByteView value) { SLUICE_EXPECT_OK(store_->put(key, value)); }
  void put_all(const KeyValues& entries) {
    for (const auto& [key, value] : entries) put(key, value);
  }
  void remove(ByteView key) { SLUICE_EXPECT_OK(store_->remove(key)); }

  std::optional<Bytes> get(ByteView key) {
    auto value = store_->get(key);
    EXPECT_TRUE(value.ok()) << value.status().to_string();
    return value.ok() ? *value : std::nullopt;
  }
  KeyValues range(std::optional<ByteView> from, std::optional<ByteView> to) {
    return drain(store_->range(from, to));
  }
  KeyValues prefix_scan(ByteView prefix) { return drain(store_->prefix_scan(prefix)); }

  KeyValueStore* store_ = nullptr;
};

// Each of `keys` mapped to "v" + its position, in the given order.
KeyValues numbered(const std::vector<Bytes>& keys) {
  KeyValues out;
  for (size_t i = 0; i < keys.size(); ++i) out.emplace_back(keys[i], "v" + std::to_string(i));
  return out;
}

// Keys in ascending unsigned byte order: 0x00 sorts before 0x01, 0x7F before 0x80, 0xFF last,
// and a key before its extensions.
std::vector<Bytes> keys_in_byte_order() {
  return {"",
          bin({0x00}),
          bin({0x00, 0x00}),
          bin({0x01}),
          "a",
          bin({'a', 0x00}),
          bin({'a', 0x01}),
          bin({'a', 0x7F}),
          bin({'a', 0x80}),
          bin({'a', 0xFF}),
          "b",
          bin({0x7F}),
          bin({0x80}),
          bin({0xFE}),
          bin({0xFF}),
          bin({0xFF, 0x00}),
          bin({0xFF, 0xFF}),
          bin({0xFF, 0xFF, 0xFF})};
}

// The same entries, written in a scrambled order.
KeyValues scrambled(KeyValues entries) {
  std::mt19937 rng(7);
  std::shuffle(entries.begin(), entries.end(), rng);
  return entries;
}

KeyValues abcde() { return numbered({"a", "b", "c", "d", "e"}); }

// The entries of `all` whose keys are in `keys`, in the order of `all`.
KeyValues only(const KeyValues& all, const std::set<Bytes>& keys) {
  KeyValues out;
  for (const auto& entry : all) {
    if (keys.contains(entry.first)) out.push_back(entry);
  }
  return out;
}

TEST_P(KeyValueStoreContractTest, NameComesFromTheSpec) { EXPECT_EQ(store_->name(), "kv"); }

TEST_P(KeyValueStoreContractTest, GetOfAnAbsentKeyIsNullopt) {
  EXPECT_EQ(get("missing"), std::nullopt);
}

TEST_P(KeyValueStoreContractTest, PutThenGetReturnsTheValue) {
  put("k", "v");
  EXPECT_EQ(get("k"), "v");
}

TEST_P(KeyValueStoreContractTest, GetIntoFillsTheCallersBufferAndSaysWhetherTheKeyWasFound) {
  put("k", "v");
  Bytes buffer = "a longer value from an earlier read";
  auto found = store_->get_into("k", buffer);
  ASSERT_TRUE(found.ok()) << found.status().to_string();
  EXPECT_TRUE(*found);
  EXPECT_EQ(buffer, "v");
  found = store_->get_into("missing", buffer);
  ASSERT_TRUE(found.ok()) << found.status().to_string();
  EXPECT_FALSE(*found);
  put("empty", "");
  found = store_->get_into("empty", buffer);
  ASSERT_TRUE(found.ok()) << found.status().to_string();
  EXPECT_TRUE(*found);
  EXPECT_EQ(buffer, "");
}

TEST_P(KeyValueStoreContractTest, PutOverwritesThePreviousValue) {
  put("k", "first");
  put("k", "second, longer than the first");
  put("k", "3");
  EXPECT_EQ(get("k"), "3");
  EXPECT_EQ(range(std::nullopt, std::nullopt), (KeyValues{{"k", "3"}}));
}

TEST_P(KeyValueStoreContractTest, RemoveDeletesTheKeyAndOnlyIt) {
  put("a", "1");
  put("b", "2");
  remove("a");
  EXPECT_EQ(get("a"), std::nullopt);
  EXPECT_EQ(get("b"), "2");
}

TEST_P(KeyValueStoreContractTest, RemoveOfAnAbsentKeySucceeds) {
  remove("never-written");
  put("k", "v");
  remove("k");
  remove("k");
  EXPECT_EQ(get("k"), std::nullopt);
}

TEST_P(KeyValueStoreContractTest, PutAfterRemoveStoresTheKeyAgain) {
  put("k", "old");
  remove("k");
  put("k", "new");
  EXPECT_EQ(get("k"), "new");
}

TEST_P(KeyValueStoreContractTest, EmptyValueIsStoredAndIsNotAbsence) {
  put("k", "");
  EXPECT_EQ(get("k"), "");
  EXPECT_EQ(range(std::nullopt, std::nullopt), (KeyValues{{"k", ""}}));
}

TEST_P(KeyValueStoreContractTest, EmptyKeyIsAKeyLikeAnyOther) {
  EXPECT_EQ(get(""), std::nullopt);
  put("", "empty");
  put("a", "1");
  EXPECT_EQ(get(""), "empty");
  EXPECT_EQ(range(std::nullopt, std::nullopt), (KeyValues{{"", "empty"}, {"a", "1"}}));
  remove("");
  EXPECT_EQ(get(""), std::nullopt);
  EXPECT_EQ(range(std::nullopt, std::nullopt), (KeyValues{{"a", "1"}}));
}

TEST_P(KeyValueStoreContractTest, KeysDifferingOnlyInZeroAndFFBytesAreDistinct) {
  const std::vector<Bytes> keys = {
      "a",         bin({'a', 0x00}), bin({'a', 0x00, 0x00}), bin({'a', 0xFF}),
      bin({0x00}), bin({0x00, 'a'})};
  put_all(numbered(keys));
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(get(keys[i]), "v" + std::to_string(i)) << i;
  EXPECT_EQ(get(bin({'a', 0x00, 0x00, 0x00})), std::nullopt);
}

TEST_P(KeyValueStoreContractTest, BinaryValuesRoundTrip) {
  const Bytes value = bin({0x00, 0xFF, 0x00, 0x80, 0x7F, 0x00});
  put("k", value);
  EXPECT_EQ(get("k"), value);
}

TEST_P(KeyValueStoreContractTest, LargeKeysAndValuesRoundTrip) {
  const Bytes key(64 << 10, '\xAB');
  const Bytes value(4 << 20, '\x00');
  put(key, value);
  EXPECT_EQ(get(key), value);
  EXPECT_EQ(range(std::nullopt, std::nullopt), (KeyValues{{key, value}}));
}

TEST_P(KeyValueStoreContractTest, RangeWithOpenEndsReturnsEveryKeyInByteOrder) {
  const KeyValues expected = numbered(keys_in_byte_order());
  put_all(scrambled(expected));
  EXPECT_EQ(range(std::nullopt, std::nullopt), expected);
}

TEST_P(KeyValueStoreContractTest, RangeIncludesFromAndExcludesTo) {
  put_all(abcde());
  EXPECT_EQ(range("b", "d"), only(abcde(), {"b", "c"}));
}

TEST_P(KeyValueStoreContractTest, RangeWithOpenStartStopsBeforeTo) {
  put_all(abcde());
  EXPECT_EQ(range(std::nullopt, "d"), only(abcde(), {"a", "b", "c"}));
  EXPECT_EQ(range(std::nullopt, "a"), KeyValues{});
}

TEST_P(KeyValueStoreContractTest, RangeWithOpenEndStartsAtFrom) {
  put_all(abcde());
  EXPECT_EQ(range("c", std::nullopt), only(abcde(), {"c", "d", "e"}));
  EXPECT_EQ(range("e", std::nullopt), only(abcde(), {"e"}));
}

TEST_P(KeyValueStoreContractTest, RangeBoundsNeedNotBeStoredKeys) {
  put_all(abcde());
  EXPECT_EQ(range("bb", "dd"), only(abcde(), {"c", "d"}));
  EXPECT_EQ(range(bin({'b', 0x00}), bin({'d', 0x00})), only(abcde(), {"c", "d"}));
  EXPECT_EQ(range("0", "z"), abcde());
}

TEST_P(KeyValueStoreContractTest, RangeWithFromEqualToToIsEmpty) {
  put_all(abcde());
  EXPECT_EQ(range("c", "c"), KeyValues{});
  EXPECT_EQ(range("", ""), KeyValues{});
}

TEST_P(KeyValueStoreContractTest, RangeWithFromAfterToIsEmpty) {
  put_all(abcde());
  EXPECT_EQ(range("d", "b"), KeyValues{});
  EXPECT_EQ(range(bin({0xFF}), "a"), KeyValues{});
}

TEST_P(KeyValueStoreContractTest, RangeOutsideTheStoredKeysIsEmpty) {
  put_all(abcde());
  EXPECT_EQ(range("f", std::nullopt), KeyValues{});
  EXPECT_EQ(range("x", "z"), KeyValues{});
  EXPECT_EQ(range(std::nullopt, "0"), KeyValues{});
}

TEST_P(KeyValueStoreContractTest, RangeOverAnEmptyStoreIsEmpty) {
  EXPECT_EQ(range(std::nullopt, std::nullopt), KeyValues{});
  EXPECT_EQ(range("a", "z"), KeyValues{});
}

TEST_P(KeyValueStoreContractTest, RangeFromTheEmptyKeyIncludesTheEmptyKey) {
  put("", "empty");
  put_all(abcde());
  EXPECT_EQ(range("", "b").size(), 2u);
  EXPECT_EQ(range("", "b").front(), (std::pair<Bytes, Bytes>{"", "empty"}));
  EXPECT_EQ(range(std::nullopt, bin({0x00})), (KeyValues{{"", "empty"}}));
}

TEST_P(KeyValueStoreContractTest, RangeOrdersBytesAsUnsigned) {
  const KeyValues all = numbered(keys_in_byte_order());
  put_all(scrambled(all));
  EXPECT_EQ(range(bin({0x7F}), bin({0xFF})), only(all, {bin({0x7F}), bin({0x80}), bin({0xFE})}));
  EXPECT_EQ(
      range(bin({0xFF}), std::nullopt),
      only(all, {bin({0xFF}), bin({0xFF, 0x00}), bin({0xFF, 0xFF}), bin({0xFF, 0xFF, 0xFF})}));
  EXPECT_EQ(range(bin({0x00}), bin({0x01})), only(all, {bin({0x00}), bin({0x00, 0x00})}));
}

TEST_P(KeyValueStoreContractTest, RangeSkipsRemovedKeysAndSeesTheLatestValues) {
  put_all(abcde());
  remove("b");
  put("d", "new");
  EXPECT_EQ(range(std::nullopt, std::nullopt),
            (KeyValues{{"a", "v0"}, {"c", "v2"}, {"d", "new"}, {"e", "v4"}}));
}

TEST_P(KeyValueStoreContractTest, RangeBoundsNeedNotOutliveTheCall) {
  put_all(abcde());
  auto from = std::make_unique<Bytes>("b");
  auto to = std::make_unique<Bytes>("d");
  auto it = store_->range(*from, *to);
  from.reset();
  to.reset();
  EXPECT_EQ(drain(std::move(it)), only(abcde(), {"b", "c"}));
}

TEST_P(KeyValueStoreContractTest, ManyKeysComeBackInByteOrder) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> length(0, 6);
  std::uniform_int_distribution<int> byte(0, 255);
  std::set<Bytes> keys;  // std::string orders bytes as unsigned, as the stores must
  while (keys.size() < 2000) {
    Bytes key(static_cast<size_t>(length(rng)), '\0');
    for (char& c : key) c = static_cast<char>(byte(rng));
    keys.insert(key);
  }
  KeyValues expected;
  for (const Bytes& key : keys) expected.emplace_back(key, "v" + key);
  put_all(scrambled(expected));
  EXPECT_EQ(range(std::nullopt, std::nullopt), expected);

  KeyValues kept;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (i % 3 == 0) {
      remove(expected[i].first);
    } else {
      kept.push_back(expected[i]);
    }
  }
  EXPECT_EQ(range(std::nullopt, std::nullopt), kept);
}

TEST_P(KeyValueStoreContractTest, PrefixScanReturnsOnlyKeysWithThePrefixInByteOrder) {
  const KeyValues all = numbered(keys_in_byte_order());
  put_all(scrambled(all));
  EXPECT_EQ(prefix_scan("a"), only(all, {"a", bin({'a', 0x00}), bin({'a', 0x01}), bin({'a', 0x7F}),
                                         bin({'a', 0x80}), bin({'a', 0xFF})}));
  EXPECT_EQ(prefix_scan(bin({0x00})), only(all, {bin({0x00}), bin({0x00, 0x00})}));
}

TEST_P(KeyValueStoreContractTest, PrefixScanIncludesTheKeyEqualToThePrefixButNotShorterKeys) {
  put_all(numbered({"ab", "abc", "abd", "abc\xff", "a", "b"}));
  EXPECT_EQ(prefix_scan("abc"), (KeyValues{{"abc", "v1"}, {"abc\xff", "v3"}}));
}

TEST_P(KeyValueStoreContractTest, PrefixScanWithAnEmptyPrefixReturnsEveryKey) {
  const KeyValues all = numbered(keys_in_byte_order());
  put_all(scrambled(all));
  EXPECT_EQ(prefix_scan(""), all);
}

TEST_P(KeyValueStoreContractTest, PrefixScanOfFFBytesReturnsTheKeysThatStartWithThem) {
  const KeyValues all = numbered(keys_in_byte_order());
  put_all(scrambled(all));
  EXPECT_EQ(prefix_scan(bin({0xFF})), only(all, {bin({0xFF}), bin({0xFF, 0x00}), bin({0xFF, 0xFF}),
                                                 bin({0xFF, 0xFF, 0xFF})}));
  EXPECT_EQ(prefix_scan(bin({0xFF, 0xFF})),
            only(all, {bin({0xFF, 0xFF}), bin({0xFF, 0xFF, 0xFF})}));
  EXPECT_EQ(prefix_scan(bin({0xFF, 0xFF, 0xFF, 0xFF})), KeyValues{});
}

TEST_P(KeyValueStoreContractTest, PrefixScanOfAPrefixEndingInFFStopsBeforeTheNextPrefix) {
  put_all(numbered({bin({'a', 0xFE}), bin({'a', 0xFF}), bin({'a', 0xFF, 0x00}),
                    bin({'a', 0xFF, 0xFF}), "b", bin({'b', 0x00})}));
  EXPECT_EQ(prefix_scan(bin({'a', 0xFF})), (KeyValues{{bin({'a', 0xFF}), "v1"},
                                                      {bin({'a', 0xFF, 0x00}), "v2"},
                                                      {bin({'a', 0xFF, 0xFF}), "v3"}}));
}

TEST_P(KeyValueStoreContractTest, PrefixScanWithoutMatchesIsEmpty) {
  put_all(abcde());
  EXPECT_EQ(prefix_scan("zz"), KeyValues{});
  EXPECT_EQ(prefix_scan("ab"), KeyValues{});
  EXPECT_EQ(prefix_scan("0"), KeyValues{});
}

TEST_P(KeyValueStoreContractTest, PrefixNeedNotOutliveTheCall) {
  put_all(numbered({"a", "ab", "abc", "b"}));
  auto prefix = std::make_unique<Bytes>("ab");
  auto it = store_->prefix_scan(*prefix);
  prefix.reset();
  EXPECT_EQ(drain(std::move(it)), (KeyValues{{"ab", "v1"}, {"abc", "v2"}}));
}

TEST_P(KeyValueStoreContractTest, ApproximateCountOfAnEmptyStoreIsZero) {
  auto count = store_->approximate_count();
  ASSERT_TRUE(count.ok()) << count.status().to_string();
  EXPECT_EQ(*count, 0u);
}

TEST_P(KeyValueStoreContractTest, IteratorOverNothingIsInvalidWithAnOkStatus) {
  auto it = store_->range(std::nullopt, std::nullopt);
  ASSERT_TRUE(it.ok()) << it.status().to_string();
  EXPECT_FALSE((*it)->valid());
  SLUICE_EXPECT_OK((*it)->status());
}

TEST_P(KeyValueStoreContractTest, IteratorStepsThroughEntriesThenStaysExhausted) {
  put_all(numbered({"a", "b"}));
  auto made = store_->range(std::nullopt, std::nullopt);
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  KeyValueIterator& it = **made;
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), "a");
  EXPECT_EQ(it.value(), "v0");
  EXPECT_EQ(it.key(), "a");  // reading does not move it
  it.next();
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), "b");
  EXPECT_EQ(it.value(), "v1");
  it.next();
  EXPECT_FALSE(it.valid());
  SLUICE_EXPECT_OK(it.status());
  it.next();  // next() on an exhausted iterator does nothing
  EXPECT_FALSE(it.valid());
  SLUICE_EXPECT_OK(it.status());
}

TEST_P(KeyValueStoreContractTest, TwoIteratorsOfOneStoreWalkIndependently) {
  put_all(abcde());
  auto first = store_->range(std::nullopt, std::nullopt);
  auto second = store_->prefix_scan("c");
  ASSERT_TRUE(first.ok() && second.ok());
  (*first)->next();
  ASSERT_TRUE((*second)->valid());
  EXPECT_EQ((*second)->key(), "c");
  ASSERT_TRUE((*first)->valid());
  EXPECT_EQ((*first)->key(), "b");
  (*second)->next();
  EXPECT_FALSE((*second)->valid());
  EXPECT_EQ(drain(std::move(first)), only(abcde(), {"b", "c", "d", "e"}));
}

TEST_P(KeyValueStoreContractTest, StoresOfOneFactoryAreIndependent) {
  KeyValueStore* other = make_store("other");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->name(), "other");
  put("k", "in kv");
  SLUICE_ASSERT_OK(other->put("k", "in other"));
  SLUICE_ASSERT_OK(other->put("only-other", "x"));
  EXPECT_EQ(get("k"), "in kv");
  EXPECT_EQ(get("only-other"), std::nullopt);
  EXPECT_EQ(drain(other->range(std::nullopt, std::nullopt)),
            (KeyValues{{"k", "in other"}, {"only-other", "x"}}));
}

// ------------------------------------------------------------------------------------------
// Window stores
// ------------------------------------------------------------------------------------------

class WindowStoreContractTest : public StoreContractTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreContractTest::SetUp());
    store_ = make_store("windows");
    ASSERT_NE(store_, nullptr);
  }

  WindowStore* make_store(const std::string& name, int64_t retention_ms = kRetentionMs,
                          int64_t segment_ms = 0) {
    StoreSpec spec;
    spec.name = name;
    spec.kind = StoreKind::kWindow;
    spec.retention_ms = retention_ms;
    spec.segment_ms = segment_ms;
    auto store = factory_->window(spec);
    EXPECT_TRUE(store.ok()) << store.status().to_string();
    return store.ok() ? *store : nullptr;
  }

  void put(ByteView key, int64_t start, std::optional<ByteView> value) {
    SLUICE_EXPECT_OK(store_->put(key, ts(start), value));
  }
  std::optional<Bytes> fetch(ByteView key, int64_t start) {
    auto value = store_->fetch(key, ts(start));
    EXPECT_TRUE(value.ok()) << value.status().to_string();
    return value.ok() ? *value : std::nullopt;
  }
  WindowRows fetch(ByteView key, int64_t from, int64_t to) {
    return drain(store_->fetch(key, ts(from), ts(to)));
  }
  WindowRows fetch_all(int64_t from, int64_t to) {
    return drain(store_->fetch_all(ts(from), ts(to)));
  }
  void advance(int64_t stream_time) {
    SLUICE_EXPECT_OK(store_->advance_stream_time(ts(stream_time)));
  }

  WindowStore* store_ = nullptr;
};

constexpr int64_t kFar = 1'000'000;  // a time after every window of these tests

TEST_P(WindowStoreContractTest, NameAndRetentionComeFromTheSpec) {
  EXPECT_EQ(store_->name(), "windows");
  EXPECT_EQ(store_->retention_ms(), kRetentionMs);
}

TEST_P(WindowStoreContractTest, StreamTimeStartsAtNoTimestamp) {
  EXPECT_EQ(store_->stream_time(), kNoTimestamp);
}

TEST_P(WindowStoreContractTest, FetchOfAnAbsentWindowIsNullopt) {
  EXPECT_EQ(fetch("k", 0), std::nullopt);
  put("k", 100, "v");
  EXPECT_EQ(fetch("k", 0), std::nullopt);
  EXPECT_EQ(fetch("other", 100), std::nullopt);
}

TEST_P(WindowStoreContractTest, PutThenFetchReturnsTheValue) {
  put("k", 100, "v");
  EXPECT_EQ(fetch("k", 100), "v");
}

TEST_P(WindowStoreContractTest, PutOverwritesTheWindowsValue) {
  put("k", 100, "first");
  put("k", 100, "second");
  EXPECT_EQ(fetch("k", 100), "second");
  EXPECT_EQ(fetch("k", 0, kFar), (WindowRows{{"k", 100, "second"}}));
}

TEST_P(WindowStoreContractTest, PutOfNulloptRemovesTheWindowAndOnlyIt) {
  put("k", 100, "a");
  put("k", 200, "b");
  put("j", 100, "c");
  put("k", 100, std::nullopt);
  EXPECT_EQ(fetch("k", 100), std::nullopt);
  EXPECT_EQ(fetch_all(0, kFar), (WindowRows{{"j", 100, "c"}, {"k", 200, "b"}}));
}

TEST_P(WindowStoreContractTest, PutOfNulloptForAnAbsentWindowSucceeds) {
  put("k", 100, std::nullopt);
  put("k", 100, "v");
  put("k", 100, std::nullopt);
  put("k", 100, std::nullopt);
  EXPECT_EQ(fetch_all(0, kFar), WindowRows{});
}

TEST_P(WindowStoreContractTest, EmptyValueIsStoredAndIsNotRemoval) {
  put("k", 100, "");
  EXPECT_EQ(fetch("k", 100), "");
  EXPECT_EQ(fetch("k", 0, kFar), (WindowRows{{"k", 100, ""}}));
}

TEST_P(WindowStoreContractTest, EmptyAndBinaryKeysAreKeysLikeAnyOther) {
  put("", 100, "empty");
  put(bin({0x00, 0xFF}), 100, "binary");
  EXPECT_EQ(fetch("", 100), "empty");
  EXPECT_EQ(fetch(bin({0x00, 0xFF}), 100), "binary");
  EXPECT_EQ(fetch("", 0, kFar), (WindowRows{{"", 100, "empty"}}));
}

TEST_P(WindowStoreContractTest, WindowsOfOneKeyAreIndependentPerStart) {
  put("k", 100, "a");
  put("k", 101, "b");
  EXPECT_EQ(fetch("k", 100), "a");
  EXPECT_EQ(fetch("k", 101), "b");
}

TEST_P(WindowStoreContractTest, FetchOfAKeyReturnsItsWindowsByStart) {
  for (int64_t start : {500, 100, 300, 200, 400}) put("k", start, "v" + std::to_string(start));
  EXPECT_EQ(fetch("k", 0, kFar), (WindowRows{{"k", 100, "v100"},
                                             {"k", 200, "v200"},
                                             {"k", 300, "v300"},
                                             {"k", 400, "v400"},
                                             {"k", 500, "v500"}}));
}

TEST_P(WindowStoreContractTest, FetchOfAKeyIncludesBothEndsOfTheTimeRange) {
  for (int64_t start : {99, 100, 150, 200, 201}) put("k", start, "v");
  EXPECT_EQ(fetch("k", 100, 200), (WindowRows{{"k", 100, "v"}, {"k", 150, "v"}, {"k", 200, "v"}}));
  EXPECT_EQ(fetch("k", 100, 100), (WindowRows{{"k", 100, "v"}}));
  EXPECT_EQ(fetch("k", 101, 149), WindowRows{});
}

TEST_P(WindowStoreContractTest, FetchOfAKeyWithFromAfterToIsEmpty) {
  for (int64_t start : {100, 150, 200}) put("k", start, "v");
  EXPECT_EQ(fetch("k", 200, 100), WindowRows{});
  EXPECT_EQ(fetch("k", 201, 99), WindowRows{});
}

TEST_P(WindowStoreContractTest, FetchOfAKeyNeverReturnsKeysThatShareItsBytes) {
  // A store that appends the window start to the key must not confuse "a" + start with a key
  // that extends "a".
  const std::vector<Bytes> keys = {"", "a", bin({'a', 0x00}), bin({'a', 0xFF}), "ab", "b"};
  for (int64_t start : {0, 100, 0x100, 0xFF00}) {
    for (const Bytes& key : keys) put(key, start, key + "@" + std::to_string(start));
  }
  for (const Bytes& key : keys) {
    WindowRows expected;
    for (int64_t start : {0, 100, 0x100, 0xFF00}) {
      expected.emplace_back(key, start, key + "@" + std::to_string(start));
    }
    EXPECT_EQ(fetch(key, 0, kFar), expected);
  }
  EXPECT_EQ(fetch("c", 0, kFar), WindowRows{});
}

TEST_P(WindowStoreContractTest, FetchKeyNeedNotOutliveTheCall) {
  put("key", 100, "v");
  put("keys", 100, "w");
  auto key = std::make_unique<Bytes>("key");
  auto it = store_->fetch(*key, ts(0), ts(kFar));
  key.reset();
  EXPECT_EQ(drain(std::move(it)), (WindowRows{{"key", 100, "v"}}));
}

TEST_P(WindowStoreContractTest, FetchAllOrdersByStartThenKeyInByteOrder) {
  put("b", 200, "b200");
  put(bin({0xFF}), 100, "ff100");
  put("a", 300, "a300");
  put("b", 100, "b100");
  put("", 200, "e200");
  put(bin({0x00}), 100, "00100");
  put("a", 100, "a100");
  put(bin({0x80}), 200, "80200");
  EXPECT_EQ(fetch_all(0, kFar), (WindowRows{{bin({0x00}), 100, "00100"},
                                            {"a", 100, "a100"},
                                            {"b", 100, "b100"},
                                            {bin({0xFF}), 100, "ff100"},
                                            {"", 200, "e200"},
                                            {"b", 200, "b200"},
                                            {bin({0x80}), 200, "80200"},
                                            {"a", 300, "a300"}}));
}

TEST_P(WindowStoreContractTest, FetchAllIncludesBothEndsOfTheTimeRange) {
  for (int64_t start : {99, 100, 200, 201}) {
    put("a", start, "a");
    put("b", start, "b");
  }
  EXPECT_EQ(fetch_all(100, 200),
            (WindowRows{{"a", 100, "a"}, {"b", 100, "b"}, {"a", 200, "a"}, {"b", 200, "b"}}));
  EXPECT_EQ(fetch_all(201, 201), (WindowRows{{"a", 201, "a"}, {"b", 201, "b"}}));
  EXPECT_EQ(fetch_all(101, 199), WindowRows{});
  EXPECT_EQ(fetch_all(200, 100), WindowRows{});
  EXPECT_EQ(fetch_all(201, 99), WindowRows{});
}

TEST_P(WindowStoreContractTest, FetchAllOfAnEmptyStoreIsEmpty) {
  EXPECT_EQ(fetch_all(0, kFar), WindowRows{});
}

TEST_P(WindowStoreContractTest, IteratorStepsThroughWindowsThenStaysExhausted) {
  put("a", 100, "x");
  put("b", 100, "y");
  auto made = store_->fetch_all(ts(0), ts(kFar));
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  WindowIterator& it = **made;
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), "a");
  EXPECT_EQ(it.window_start(), ts(100));
  EXPECT_EQ(it.value(), "x");
  it.next();
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), "b");
  it.next();
  EXPECT_FALSE(it.valid());
  SLUICE_EXPECT_OK(it.status());
  it.next();
  EXPECT_FALSE(it.valid());
  SLUICE_EXPECT_OK(it.status());
}

TEST_P(WindowStoreContractTest, PutDoesNotMoveStreamTime) {
  put("k", 5000, "v");
  EXPECT_EQ(store_->stream_time(), kNoTimestamp);
}

TEST_P(WindowStoreContractTest, BeforeAnyStreamTimeNoWindowIsExpired) {
  put("k", 0, "v");
  EXPECT_EQ(fetch("k", 0), "v");
}

TEST_P(WindowStoreContractTest, AdvanceStreamTimeSetsStreamTime) {
  advance(1234);
  EXPECT_EQ(store_->stream_time(), ts(1234));
}

TEST_P(WindowStoreContractTest, AdvanceStreamTimeDropsExactlyTheWindowsStartingBeforeTheCutoff) {
  // Stream time 2000 - retention 1000: windows starting before 1000 are expired.
  for (int64_t start : {0, 500, 999, 1000, 1500, 2500}) {
    put("k", start, "v");
    put("j", start, "w");
  }
  advance(2000);
  EXPECT_EQ(fetch("k", 999), std::nullopt);
  EXPECT_EQ(fetch("k", 1000), "v");
  EXPECT_EQ(fetch("k", 0, kFar),
            (WindowRows{{"k", 1000, "v"}, {"k", 1500, "v"}, {"k", 2500, "v"}}));
  EXPECT_EQ(fetch_all(0, kFar), (WindowRows{{"j", 1000, "w"},
                                            {"k", 1000, "v"},
                                            {"j", 1500, "w"},
                                            {"k", 1500, "v"},
                                            {"j", 2500, "w"},
                                            {"k", 2500, "v"}}));
  advance(2001);
  EXPECT_EQ(fetch("k", 1000), std::nullopt);
  EXPECT_EQ(fetch("k", 0, 1499), WindowRows{});
}

TEST_P(WindowStoreContractTest, ExpiredWindowsAreNeverReturnedWhateverTheSegmentSize) {
  // A store may drop expired data a whole segment at a time, but must not return it meanwhile.
  for (int64_t segment_ms : {1, 7, 250, 1000, 60'000, 1'000'000'000}) {
    SCOPED_TRACE("segment_ms " + std::to_string(segment_ms));
    WindowStore* store =
        make_store("segmented-" + std::to_string(segment_ms), kRetentionMs, segment_ms);
    ASSERT_NE(store, nullptr);
    for (int64_t start = 0; start <= 2000; start += 100) {
      SLUICE_ASSERT_OK(store->put("k", ts(start), "v"));
    }
    for (int64_t stream_time : {1999, 2050, 2100, 2101}) {
      SCOPED_TRACE("stream time " + std::to_string(stream_time));
      SLUICE_ASSERT_OK(store->advance_stream_time(ts(stream_time)));
      const int64_t cutoff = stream_time - kRetentionMs;
      WindowRows expected;
      for (int64_t start = 0; start <= 2000; start += 100) {
        if (start >= cutoff) expected.emplace_back("k", start, "v");
      }
      EXPECT_EQ(drain(store->fetch("k", ts(0), ts(kFar))), expected);
      EXPECT_EQ(drain(store->fetch_all(ts(0), ts(kFar))), expected);
      auto at_cutoff = store->fetch("k", ts(cutoff - cutoff % 100));
      ASSERT_TRUE(at_cutoff.ok());
      EXPECT_EQ(at_cutoff->has_value(), cutoff % 100 == 0);
      auto before_cutoff = store->fetch("k", ts((cutoff - 1) - (cutoff - 1) % 100));
      ASSERT_TRUE(before_cutoff.ok());
      EXPECT_EQ(*before_cutoff, std::nullopt);
    }
  }
}

TEST_P(WindowStoreContractTest, WindowsAheadOfStreamTimeAreKept) {
  put("k", 5000, "future");
  advance(2000);
  EXPECT_EQ(fetch("k", 5000), "future");
}

TEST_P(WindowStoreContractTest, AdvanceToTheSameStreamTimeKeepsTheWindows) {
  put("k", 1000, "v");
  advance(2000);
  advance(2000);
  EXPECT_EQ(fetch("k", 1000), "v");
  EXPECT_EQ(store_->stream_time(), ts(2000));
}

TEST_P(WindowStoreContractTest, StreamTimeNeverMovesBack) {
  advance(2000);
  advance(1000);
  EXPECT_EQ(store_->stream_time(), ts(2000));
  advance(kNoTimestamp.value());
  EXPECT_EQ(store_->stream_time(), ts(2000));
  put("k", 999, "expired at 2000");
  put("k", 1000, "kept");
  EXPECT_EQ(fetch("k", 0, kFar), (WindowRows{{"k", 1000, "kept"}}));
}

TEST_P(WindowStoreContractTest, PutOfAnExpiredWindowIsIgnored) {
  advance(2000);
  put("k", 999, "late");
  put("k", 0, "very late");
  EXPECT_EQ(fetch("k", 999), std::nullopt);
  EXPECT_EQ(fetch_all(0, kFar), WindowRows{});
  put("k", 1000, "in time");
  EXPECT_EQ(fetch("k", 1000), "in time");
}

TEST_P(WindowStoreContractTest, RemovalOfAnExpiredWindowSucceeds) {
  put("k", 500, "v");
  advance(2000);
  put("k", 500, std::nullopt);
  EXPECT_EQ(fetch("k", 500), std::nullopt);
}

TEST_P(WindowStoreContractTest, RetentionOfInt64MaxKeepsEveryWindow) {
  WindowStore* store = make_store("forever", std::numeric_limits<int64_t>::max());
  ASSERT_NE(store, nullptr);
  SLUICE_ASSERT_OK(store->put("k", ts(0), "v"));
  SLUICE_ASSERT_OK(store->advance_stream_time(ts(4'000'000'000'000)));
  SLUICE_ASSERT_OK(store->put("k", ts(1), "w"));
  EXPECT_EQ(drain(store->fetch_all(ts(0), ts(kFar))), (WindowRows{{"k", 0, "v"}, {"k", 1, "w"}}));
}

TEST_P(WindowStoreContractTest, StoresOfOneFactoryAreIndependent) {
  WindowStore* other = make_store("other", 5 * kRetentionMs);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->retention_ms(), 5 * kRetentionMs);
  put("k", 100, "mine");
  SLUICE_ASSERT_OK(other->put("k", ts(100), "other's"));
  SLUICE_ASSERT_OK(other->advance_stream_time(ts(3000)));
  EXPECT_EQ(store_->stream_time(), kNoTimestamp);
  EXPECT_EQ(fetch("k", 100), "mine");
  EXPECT_EQ(drain(other->fetch_all(ts(0), ts(kFar))), (WindowRows{{"k", 100, "other's"}}));
}

// ------------------------------------------------------------------------------------------
// Session stores
// ------------------------------------------------------------------------------------------

class SessionStoreContractTest : public StoreContractTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreContractTest::SetUp());
    store_ = make_store("sessions");
    ASSERT_NE(store_, nullptr);
  }

  SessionStore* make_store(const std::string& name, int64_t retention_ms = kRetentionMs) {
    StoreSpec spec;
    spec.name = name;
    spec.kind = StoreKind::kSession;
    spec.retention_ms = retention_ms;
    auto store = factory_->session(spec);
    EXPECT_TRUE(store.ok()) << store.status().to_string();
    return store.ok() ? *store : nullptr;
  }

  void put(ByteView key, int64_t start, int64_t end, ByteView value) {
    SLUICE_EXPECT_OK(store_->put(key, session(start, end), value));
  }
  void remove(ByteView key, int64_t start, int64_t end) {
    SLUICE_EXPECT_OK(store_->remove(key, session(start, end)));
  }
  std::optional<Bytes> fetch(ByteView key, int64_t start, int64_t end) {
    auto value = store_->fetch(key, session(start, end));
    EXPECT_TRUE(value.ok()) << value.status().to_string();
    return value.ok() ? *value : std::nullopt;
  }
  SessionRows find(ByteView key, int64_t earliest_end, int64_t latest_start) {
    return drain(store_->find_sessions(key, ts(earliest_end), ts(latest_start)));
  }
  SessionRows all(ByteView key) {
    return find(key, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  }
  void advance(int64_t stream_time) {
    SLUICE_EXPECT_OK(store_->advance_stream_time(ts(stream_time)));
  }

  // Sessions of "k": A [100, 200], B [300, 400], C [500, 500] (one event), D [150, 450].
  void put_abcd() {
    put("k", 300, 400, "B");
    put("k", 100, 200, "A");
    put("k", 150, 450, "D");
    put("k", 500, 500, "C");
  }

  SessionStore* store_ = nullptr;
};

const SessionRows::value_type kA{"k", 100, 200, "A"};
const SessionRows::value_type kB{"k", 300, 400, "B"};
const SessionRows::value_type kC{"k", 500, 500, "C"};
const SessionRows::value_type kD{"k", 150, 450, "D"};

TEST_P(SessionStoreContractTest, NameAndRetentionComeFromTheSpec) {
  EXPECT_EQ(store_->name(), "sessions");
  EXPECT_EQ(store_->retention_ms(), kRetentionMs);
}

TEST_P(SessionStoreContractTest, StreamTimeStartsAtNoTimestamp) {
  EXPECT_EQ(store_->stream_time(), kNoTimestamp);
}

TEST_P(SessionStoreContractTest, FetchOfAnAbsentSessionIsNullopt) {
  EXPECT_EQ(fetch("k", 100, 200), std::nullopt);
}

TEST_P(SessionStoreContractTest, PutThenFetchReturnsTheValue) {
  put("k", 100, 200, "v");
  EXPECT_EQ(fetch("k", 100, 200), "v");
}

TEST_P(SessionStoreContractTest, FetchNeedsTheExactWindow) {
  put("k", 100, 200, "v");
  EXPECT_EQ(fetch("k", 100, 199), std::nullopt);
  EXPECT_EQ(fetch("k", 100, 201), std::nullopt);
  EXPECT_EQ(fetch("k", 99, 200), std::nullopt);
  EXPECT_EQ(fetch("k", 101, 200), std::nullopt);
  EXPECT_EQ(fetch("j", 100, 200), std::nullopt);
}

TEST_P(SessionStoreContractTest, PutOverwritesTheSessionsValue) {
  put("k", 100, 200, "first");
  put("k", 100, 200, "second");
  EXPECT_EQ(fetch("k", 100, 200), "second");
  EXPECT_EQ(all("k"), (SessionRows{{"k", 100, 200, "second"}}));
}

TEST_P(SessionStoreContractTest, SessionsOfAKeyDifferingInStartOrEndAreDistinct) {
  put("k", 0, 10, "a");
  put("k", 0, 20, "b");
  put("k", 5, 10, "c");
  EXPECT_EQ(fetch("k", 0, 10), "a");
  EXPECT_EQ(fetch("k", 0, 20), "b");
  EXPECT_EQ(fetch("k", 5, 10), "c");
}

TEST_P(SessionStoreContractTest, RemoveDeletesOnlyThatSession) {
  put("k", 0, 10, "a");
  put("k", 0, 20, "b");
  put("k", 5, 10, "c");
  put("j", 0, 10, "d");
  remove("k", 0, 10);
  EXPECT_EQ(fetch("k", 0, 10), std::nullopt);
  EXPECT_EQ(all("k"), (SessionRows{{"k", 5, 10, "c"}, {"k", 0, 20, "b"}}));
  EXPECT_EQ(all("j"), (SessionRows{{"j", 0, 10, "d"}}));
}

TEST_P(SessionStoreContractTest, RemoveOfAnAbsentSessionSucceeds) {
  remove("k", 0, 10);
  put("k", 0, 10, "v");
  remove("k", 0, 11);
  EXPECT_EQ(fetch("k", 0, 10), "v");
  remove("k", 0, 10);
  remove("k", 0, 10);
  EXPECT_EQ(all("k"), SessionRows{});
}

TEST_P(SessionStoreContractTest, EmptyValueIsStoredAndIsNotAbsence) {
  put("k", 100, 200, "");
  EXPECT_EQ(fetch("k", 100, 200), "");
  EXPECT_EQ(all("k"), (SessionRows{{"k", 100, 200, ""}}));
}

TEST_P(SessionStoreContractTest, AOneEventSessionIsStored) {
  put("k", 100, 100, "v");
  EXPECT_EQ(fetch("k", 100, 100), "v");
}

TEST_P(SessionStoreContractTest, AWindowThatEndsBeforeItStartsIsInvalid) {
  EXPECT_TRUE(is_error(store_->put("k", session(200, 100), "v"), StatusCode::kInvalidArgument));
  EXPECT_TRUE(is_error(store_->remove("k", session(200, 100)), StatusCode::kInvalidArgument));
  EXPECT_TRUE(
      is_error(store_->fetch("k", session(200, 100)).status(), StatusCode::kInvalidArgument));
  EXPECT_EQ(all("k"), SessionRows{});
}

TEST_P(SessionStoreContractTest, FindSessionsReturnsThoseThatMayMergeByEndThenStart) {
  put_abcd();
  // end >= 200 and start <= 300: A, B and D, not C (starts at 500).
  EXPECT_EQ(find("k", 200, 300), (SessionRows{kA, kB, kD}));
}

TEST_P(SessionStoreContractTest, FindSessionsIncludesASessionEndingAtEarliestEnd) {
  put_abcd();
  EXPECT_EQ(find("k", 400, 1000), (SessionRows{kB, kD, kC}));
  EXPECT_EQ(find("k", 401, 1000), (SessionRows{kD, kC}));
}

TEST_P(SessionStoreContractTest, FindSessionsIncludesASessionStartingAtLatestStart) {
  put_abcd();
  EXPECT_EQ(find("k", 0, 300), (SessionRows{kA, kB, kD}));
  EXPECT_EQ(find("k", 0, 299), (SessionRows{kA, kD}));
}

TEST_P(SessionStoreContractTest, FindSessionsIncludesAOneEventSessionTouchingBothBounds) {
  put_abcd();
  EXPECT_EQ(find("k", 500, 500), (SessionRows{kC}));
}

TEST_P(SessionStoreContractTest, FindSessionsExcludesSessionsJustOutsideTheBounds) {
  put_abcd();
  EXPECT_EQ(find("k", 501, 10'000), SessionRows{});  // every session ends before 501
  EXPECT_EQ(find("k", 0, 99), SessionRows{});        // every session starts after 99
}

TEST_P(SessionStoreContractTest, FindSessionsWithEarliestEndAfterLatestStartFindsSpanningSessions) {
  put("k", 0, 1000, "spans");
  put("k", 500, 550, "ends too early");
  put("k", 700, 800, "starts too late");
  EXPECT_EQ(find("k", 600, 400), (SessionRows{{"k", 0, 1000, "spans"}}));
}

TEST_P(SessionStoreContractTest, FindSessionsOrdersByEndThenStart) {
  put("k", 300, 400, "c");
  put("k", 0, 500, "d");
  put("k", 100, 400, "b");
  put("k", 200, 300, "a");
  put("k", 350, 400, "c2");
  EXPECT_EQ(all("k"), (SessionRows{{"k", 200, 300, "a"},
                                   {"k", 100, 400, "b"},
                                   {"k", 300, 400, "c"},
                                   {"k", 350, 400, "c2"},
                                   {"k", 0, 500, "d"}}));
}

TEST_P(SessionStoreContractTest, FindSessionsNeverReturnsOtherKeys) {
  const std::vector<Bytes> keys = {"", "k", bin({'k', 0x00}), bin({'k', 0xFF}), "kk", "l"};
  for (const Bytes& key : keys) {
    put(key, 100, 200, key + "1");
    put(key, 0x100, 0xFF00, key + "2");
  }
  for (const Bytes& key : keys) {
    EXPECT_EQ(all(key), (SessionRows{{key, 100, 200, key + "1"}, {key, 0x100, 0xFF00, key + "2"}}));
  }
  EXPECT_EQ(all("m"), SessionRows{});
}

TEST_P(SessionStoreContractTest, FindSessionsOfAnUnknownKeyIsEmpty) {
  EXPECT_EQ(find("k", 0, 1000), SessionRows{});
  put("j", 0, 10, "v");
  EXPECT_EQ(find("k", 0, 1000), SessionRows{});
}

TEST_P(SessionStoreContractTest, FindSessionsKeyNeedNotOutliveTheCall) {
  put("key", 100, 200, "v");
  put("keys", 100, 200, "w");
  auto key = std::make_unique<Bytes>("key");
  auto it = store_->find_sessions(*key, ts(0), ts(kFar));
  key.reset();
  EXPECT_EQ(drain(std::move(it)), (SessionRows{{"key", 100, 200, "v"}}));
}

TEST_P(SessionStoreContractTest, IteratorStepsThroughSessionsThenStaysExhausted) {
  put("k", 100, 200, "x");
  put("k", 150, 300, "y");
  auto made = store_->find_sessions("k", ts(0), ts(kFar));
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  SessionIterator& it = **made;
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), "k");
  EXPECT_EQ(it.window(), session(100, 200));
  EXPECT_EQ(it.value(), "x");
  it.next();
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.window(), session(150, 300));
  it.next();
  EXPECT_FALSE(it.valid());
  SLUICE_EXPECT_OK(it.status());
  it.next();
  EXPECT_FALSE(it.valid());
  SLUICE_EXPECT_OK(it.status());
}

TEST_P(SessionStoreContractTest, PutDoesNotMoveStreamTime) {
  put("k", 100, 5000, "v");
  EXPECT_EQ(store_->stream_time(), kNoTimestamp);
}

TEST_P(SessionStoreContractTest, AdvanceStreamTimeDropsExactlySessionsEndingBeforeTheCutoff) {
  // Stream time 2000 - retention 1000: sessions ending before 1000 are expired, whenever they
  // started.
  put("k", 0, 999, "ended at 999");
  put("k", 0, 1000, "ended at 1000");
  put("k", 1000, 1000, "one event at 1000");
  put("k", 500, 1500, "ends later");
  put("j", 100, 999, "other key, ended at 999");
  put("j", 100, 3000, "other key, ends later");
  advance(2000);
  EXPECT_EQ(store_->stream_time(), ts(2000));
  EXPECT_EQ(fetch("k", 0, 999), std::nullopt);
  EXPECT_EQ(fetch("k", 0, 1000), "ended at 1000");
  EXPECT_EQ(all("k"), (SessionRows{{"k", 0, 1000, "ended at 1000"},
                                   {"k", 1000, 1000, "one event at 1000"},
                                   {"k", 500, 1500, "ends later"}}));
  EXPECT_EQ(all("j"), (SessionRows{{"j", 100, 3000, "other key, ends later"}}));
  advance(2001);
  EXPECT_EQ(all("k"), (SessionRows{{"k", 500, 1500, "ends later"}}));
}

TEST_P(SessionStoreContractTest, StreamTimeNeverMovesBack) {
  advance(2000);
  advance(1000);
  EXPECT_EQ(store_->stream_time(), ts(2000));
  advance(kNoTimestamp.value());
  EXPECT_EQ(store_->stream_time(), ts(2000));
  put("k", 0, 999, "expired at 2000");
  put("k", 0, 1000, "kept");
  EXPECT_EQ(all("k"), (SessionRows{{"k", 0, 1000, "kept"}}));
}

TEST_P(SessionStoreContractTest, PutOfAnExpiredSessionIsIgnored) {
  advance(2000);
  put("k", 900, 999, "late");
  EXPECT_EQ(fetch("k", 900, 999), std::nullopt);
  EXPECT_EQ(all("k"), SessionRows{});
  put("k", 0, 1000, "in time, though it started long ago");
  EXPECT_EQ(fetch("k", 0, 1000), "in time, though it started long ago");
}

TEST_P(SessionStoreContractTest, RemovalOfAnExpiredSessionSucceeds) {
  put("k", 0, 500, "v");
  advance(2000);
  remove("k", 0, 500);
  EXPECT_EQ(all("k"), SessionRows{});
}

TEST_P(SessionStoreContractTest, RetentionOfInt64MaxKeepsEverySession) {
  SessionStore* store = make_store("forever", std::numeric_limits<int64_t>::max());
  ASSERT_NE(store, nullptr);
  SLUICE_ASSERT_OK(store->put("k", session(0, 0), "v"));
  SLUICE_ASSERT_OK(store->advance_stream_time(ts(4'000'000'000'000)));
  SLUICE_ASSERT_OK(store->put("k", session(1, 1), "w"));
  EXPECT_EQ(drain(store->find_sessions("k", ts(0), ts(kFar))),
            (SessionRows{{"k", 0, 0, "v"}, {"k", 1, 1, "w"}}));
}

TEST_P(SessionStoreContractTest, StoresOfOneFactoryAreIndependent) {
  SessionStore* other = make_store("other", 5 * kRetentionMs);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->name(), "other");
  EXPECT_EQ(other->retention_ms(), 5 * kRetentionMs);
  put("k", 100, 200, "mine");
  SLUICE_ASSERT_OK(other->put("k", session(100, 200), "other's"));
  SLUICE_ASSERT_OK(other->advance_stream_time(ts(3000)));
  EXPECT_EQ(store_->stream_time(), kNoTimestamp);
  EXPECT_EQ(fetch("k", 100, 200), "mine");
  EXPECT_EQ(drain(other->find_sessions("k", ts(0), ts(kFar))),
            (SessionRows{{"k", 100, 200, "other's"}}));
}

INSTANTIATE_TEST_SUITE_P(AllStores, KeyValueStoreContractTest,
                         ::testing::ValuesIn(testing::store_implementations()),
                         implementation_name);
INSTANTIATE_TEST_SUITE_P(AllStores, WindowStoreContractTest,
                         ::testing::ValuesIn(testing::store_implementations()),
                         implementation_name);
INSTANTIATE_TEST_SUITE_P(AllStores, SessionStoreContractTest,
                         ::testing::ValuesIn(testing::store_implementations()),
                         implementation_name);

}  // namespace
}  // namespace sluice::state

// WriteOverlay: the per-column-family buffer of writes between commits, against a std::map.
#include "write_overlay.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

namespace sluice::state {
namespace {

using Model = std::map<std::string, std::optional<std::string>>;

std::optional<std::string> value_of(const WriteOverlay::Entry* e) {
  if (!e->value()) return std::nullopt;
  return std::string(*e->value());
}

void expect_matches(const WriteOverlay& overlay, const Model& model) {
  ASSERT_EQ(overlay.size(), model.size());
  auto sorted = overlay.sorted();
  ASSERT_EQ(sorted.size(), model.size());
  auto m = model.begin();
  for (const auto* e : sorted) {
    EXPECT_EQ(e->key(), m->first);
    EXPECT_EQ(value_of(e), m->second) << m->first;
    EXPECT_EQ(overlay.find(m->first), e);
    ++m;
  }
}

TEST(WriteOverlayTest, KeepsTheLatestValueOrRemovalOfEachKey) {
  WriteOverlay o;
  EXPECT_TRUE(o.empty());
  EXPECT_EQ(o.find("a"), nullptr);
  auto [a, added] = o.write("a", "1");
  EXPECT_TRUE(added);
  auto [a2, added2] = o.write("a", "2");
  EXPECT_FALSE(added2);
  EXPECT_EQ(a, a2);
  EXPECT_EQ(value_of(o.find("a")), "2");
  o.write("b", std::nullopt);
  EXPECT_EQ(o.find("b")->value(), std::nullopt);
  o.write("a", std::nullopt);
  EXPECT_EQ(o.find("a")->value(), std::nullopt);
  o.write("a", "");  // an empty value is a value, not a removal
  EXPECT_EQ(value_of(o.find("a")), "");
  o.write("", "empty key");
  EXPECT_EQ(value_of(o.find("")), "empty key");
  EXPECT_EQ(o.size(), 3u);
}

TEST(WriteOverlayTest, ValuesThatGrowMoveWhileTheEntryStaysPut) {
  WriteOverlay o;
  const auto* e = o.write("k", "x").first;
  for (size_t n = 1; n <= 1'000'000; n *= 10) {
    const std::string v(n, 'v');
    EXPECT_EQ(o.write("k", v).first, e);
    EXPECT_EQ(value_of(o.find("k")), v);
  }
  // A value far larger than an arena block, then more small keys after it.
  for (int i = 0; i < 1000; ++i) o.write("small-" + std::to_string(i), std::to_string(i));
  EXPECT_EQ(value_of(o.find("k")), std::string(1'000'000, 'v'));
  EXPECT_EQ(value_of(o.find("small-999")), "999");
  EXPECT_GE(o.arena_bytes(), 1'000'000u);
}

TEST(WriteOverlayTest, SortedIsInKeyOrderWhateverTheWriteOrder) {
  for (bool ascending : {true, false}) {
    WriteOverlay o;
    Model model;
    std::mt19937 rng(ascending ? 1 : 2);
    for (int i = 0; i < 20'000; ++i) {
      const int k = ascending ? i : static_cast<int>(rng() % 5'000);
      char key[16];
      std::snprintf(key, sizeof(key), "key-%06d", k);
      std::optional<std::string> v;
      if (rng() % 7 != 0) v = std::string(rng() % 40, static_cast<char>('a' + i % 26));
      o.write(key, v);
      model[key] = v;
    }
    SCOPED_TRACE(ascending ? "keys first written in order" : "random order");
    expect_matches(o, model);
  }
}

// The sort compares 8 bytes after the prefix all keys share before whole keys: keys that are
// prefixes of others, zero bytes, bytes above 0x7f and keys equal for more than 8 bytes past
// the shared prefix must still come out in byte order.
TEST(WriteOverlayTest, SortedIsInByteOrderForPrefixesZeroBytesAndLongSharedRuns) {
  WriteOverlay o;
  Model model;
  std::mt19937 rng(5);
  const std::string alphabet("\x00\x01\x7f\x80\xff", 5);
  for (int i = 0; i < 5'000; ++i) {
    std::string key = "shared/";
    const size_t tail = rng() % 14;
    for (size_t j = 0; j < tail; ++j) key.push_back(alphabet[rng() % alphabet.size()]);
    o.write(key, std::to_string(i));
    model[key] = std::to_string(i);
  }
  o.write("shared/", "the shared prefix itself");
  model["shared/"] = "the shared prefix itself";
  expect_matches(o, model);
}

TEST(WriteOverlayTest, AKeyWrittenOutOfOrderLaterStillSorts) {
  WriteOverlay o;
  o.write("a", "1");
  o.write("c", "3");
  o.write("a", "again");  // not a new key: the order of first writes is still ascending
  o.write("b", "2");      // now it is not
  expect_matches(o, {{"a", "again"}, {"b", "2"}, {"c", "3"}});
}

TEST(WriteOverlayTest, EntriesStayValidAcrossGrowthAndMoves) {
  WriteOverlay o;
  std::vector<const WriteOverlay::Entry*> first;
  for (int i = 0; i < 100'000; ++i) first.push_back(o.write(std::to_string(i), "v").first);
  WriteOverlay moved = std::move(o);
  for (int i = 0; i < 100'000; i += 997) {
    EXPECT_EQ(moved.find(std::to_string(i)), first[static_cast<size_t>(i)]);
    EXPECT_EQ(first[static_cast<size_t>(i)]->key(), std::to_string(i));
  }
  // The moved-from overlay starts over on memory of its own.
  EXPECT_TRUE(o.empty());  // NOLINT(bugprone-use-after-move): that is the point
  o.write("fresh", "value");
  EXPECT_EQ(value_of(o.find("fresh")), "value");
  EXPECT_EQ(moved.find("fresh"), nullptr);
  EXPECT_EQ(value_of(moved.find("0")), "v");
}

}  // namespace
}  // namespace sluice::state

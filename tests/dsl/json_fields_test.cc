// SLUICE_JSON_FIELDS: the member-by-member JSON serde writes what nlohmann-json writes for the
// same struct, reads what the generic JSON serde reads, and turns bad input into errors that
// name the member (never exceptions).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sluice/operators/json_fields.h"
#include "sluice/operators/serde.h"

// nlohmann-json 3.11.2 (Debian 12) converts no std::optional; this is the usual addition, so that
// the structs below have a nlohmann form to compare with (null for an empty optional).
namespace nlohmann {
template <typename T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& v) {
    if (v) {
      j = *v;
    } else {
      j = nullptr;
    }
  }
  static void from_json(const json& j, std::optional<T>& v) {
    if (j.is_null()) {
      v.reset();
    } else {
      v = j.get<T>();
    }
  }
};
}  // namespace nlohmann

namespace sluice::operators {
namespace {

struct Trade {
  int64_t id = 0;
  std::string symbol;
  double price = 0;
  uint32_t lots = 0;
  bool buy = false;
  std::optional<std::string> note;
  std::vector<int> legs;                // through nlohmann
  std::map<std::string, int64_t> fees;  // through nlohmann
  friend bool operator==(const Trade&, const Trade&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Trade, id, symbol, price, lots, buy, note, legs, fees)
SLUICE_JSON_FIELDS(Trade, id, symbol, price, lots, buy, note, legs, fees)

static_assert(HasJsonFields<Trade>);

struct Reading {
  std::optional<int64_t> count;
  std::optional<double> ratio;
  std::optional<bool> flag;
  friend bool operator==(const Reading&, const Reading&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Reading, count, ratio, flag)
SLUICE_JSON_FIELDS(Reading, count, ratio, flag)

// Members that are structs of their own: read from the same parse, written by their own serde.
struct Ticket {
  std::string desk;
  Trade trade;
  std::optional<Reading> reading;
  friend bool operator==(const Ticket&, const Ticket&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Ticket, desk, trade, reading)
SLUICE_JSON_FIELDS(Ticket, desk, trade, reading)

Trade sample() {
  return {.id = -42,
          .symbol = "ACME \"quoted\" \\ back\tslash\n\x01 é",
          .price = 101.25,
          .lots = 4'000'000'000u,
          .buy = true,
          .note = std::nullopt,
          .legs = {1, 2, 3},
          .fees = {{"venue", 7}, {"broker", -2}}};
}

Bytes written(const Trade& t) {
  Bytes out;
  Serde<Trade>::serialize(t, out);
  return out;
}

Result<Trade> read(std::string_view text) { return Serde<Trade>::deserialize(text); }

TEST(JsonFieldsTest, WritesExactlyWhatNlohmannWritesForTheSameStruct) {
  Trade t = sample();
  EXPECT_EQ(written(t), nlohmann::json(t).dump());
  t.note = "a note";
  t.price = 3;  // a whole number is still written as a floating one: 3.0
  EXPECT_EQ(written(t), nlohmann::json(t).dump());
  t.price = 0.1;
  EXPECT_EQ(written(t), nlohmann::json(t).dump());
  t.price = std::numeric_limits<double>::quiet_NaN();  // not finite: null
  EXPECT_EQ(written(t), nlohmann::json(t).dump());
}

TEST(JsonFieldsTest, RoundTripsEveryKindOfMember) {
  Trade t = sample();
  auto back = read(written(t));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, t);
  t.note = "";
  t.legs.clear();
  t.price = -1e-300;
  back = read(written(t));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, t);
}

TEST(JsonFieldsTest, ReadsWhatTheGenericJsonSerdeReads) {
  // Members in another order, spaces, unknown members, a duplicate (the last counts), an
  // integer for the double, a float for an integer (truncated, as nlohmann's get<> does).
  const std::string text = R"( { "zzz": {"nested": [1, 2]}, "fees": {}, "legs": [],
      "note": "n", "buy": false, "lots": 7.9, "price": 12, "symbol": "first",
      "symbol": "last", "id": 9 } )";
  auto fast = read(text);
  ASSERT_TRUE(fast.ok()) << fast.status().to_string();
  const Trade generic = nlohmann::json::parse(text).get<Trade>();
  EXPECT_EQ(*fast, generic);
  EXPECT_EQ(fast->symbol, "last");
  EXPECT_EQ(fast->lots, 7u);
  EXPECT_EQ(fast->price, 12.0);
}

TEST(JsonFieldsTest, IntegersBeyondSixtyFourBitsReadAsNlohmannReadsThem) {
  // simdjson refuses them; nlohmann's parser reads them as doubles.
  const std::string text =
      R"({"id":1,"symbol":"s","price":123456789012345678901234567890,"lots":1,"buy":true,)"
      R"("note":null,"legs":[],"fees":{}})";
  auto t = read(text);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_DOUBLE_EQ(t->price, 1.2345678901234568e29);
}

TEST(JsonFieldsTest, BadInputIsAnErrorThatSaysWhatIsWrong) {
  struct Case {
    std::string text;
    std::string says;
  };
  const std::vector<Case> cases = {
      {R"({"id":1)", "cannot decode JSON"},  // truncated
      {R"([1,2])", "not a JSON object"},
      {R"("text")", "not a JSON object"},
      {"", "cannot decode JSON"},
      {R"({"symbol":"s","price":1,"lots":1,"buy":true,"note":null,"legs":[],"fees":{}})",
       R"(no member "id")"},
      {R"({"id":"7","symbol":"s","price":1,"lots":1,"buy":true,"note":null,"legs":[],"fees":{}})",
       R"(member "id": expected a number, got a string)"},
      {R"({"id":1,"symbol":2,"price":1,"lots":1,"buy":true,"note":null,"legs":[],"fees":{}})",
       R"(member "symbol": expected a string, got a number)"},
      {R"({"id":1,"symbol":"s","price":1,"lots":1,"buy":1,"note":null,"legs":[],"fees":{}})",
       R"(member "buy": expected a boolean, got a number)"},
      {R"({"id":1,"symbol":"s","price":1,"lots":1,"buy":true,"note":[],"legs":[],"fees":{}})",
       R"(member "note": expected a string, got an array)"},
      {R"({"id":1,"symbol":"s","price":1,"lots":1,"buy":true,"note":null,"legs":{},"fees":{}})",
       R"(member "legs")"},
      {"{\"id\":1,\"symbol\":\"\xff\",\"price\":1}", "cannot decode JSON"},  // not UTF-8
  };
  for (const Case& c : cases) {
    Result<Trade> t = Result<Trade>(Trade());
    EXPECT_NO_THROW(t = read(c.text)) << c.text;
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(t.status().message().find(c.says), std::string::npos)
        << c.text << " -> " << t.status().to_string();
  }
}

TEST(JsonFieldsTest, WritingAStringThatIsNotUtf8ThrowsAsNlohmannDoes) {
  Trade t = sample();
  t.symbol = "\xff\xfe";
  Bytes out;
  EXPECT_THROW(Serde<Trade>::serialize(t, out), std::invalid_argument);
  EXPECT_THROW((void)nlohmann::json(t).dump(), nlohmann::json::exception);
}

TEST(JsonFieldsTest, OptionalScalarsAreNullWhenEmpty) {
  for (const Reading& r : {Reading{}, Reading{.count = -3, .ratio = 0.5, .flag = false}}) {
    Bytes out;
    Serde<Reading>::serialize(r, out);
    EXPECT_EQ(out, nlohmann::json(r).dump());
    EXPECT_EQ(nlohmann::json::parse(out).get<Reading>(), r);
    auto back = Serde<Reading>::deserialize(out);
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(*back, r);
  }
}

TEST(JsonFieldsTest, NestedStructsAreWrittenAndReadMemberByMember) {
  Ticket t{.desk = "rates", .trade = sample(), .reading = Reading{.count = 2}};
  Bytes out;
  Serde<Ticket>::serialize(t, out);
  EXPECT_EQ(out, nlohmann::json(t).dump());
  auto back = Serde<Ticket>::deserialize(out);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, t);
  EXPECT_EQ(nlohmann::json::parse(out).get<Ticket>(), t);

  // The same when nlohmann's parser reads the text (an integer beyond 64 bits elsewhere).
  nlohmann::json doc = nlohmann::json::parse(out);
  doc["extra"] = nlohmann::json::parse("123456789012345678901234567890");
  back = Serde<Ticket>::deserialize(doc.dump());
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, t);

  // A nested member's error says where it is.
  doc = nlohmann::json::parse(out);
  doc["trade"].erase("price");
  back = Serde<Ticket>::deserialize(doc.dump());
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find(R"(member "trade": no member "price")"), std::string::npos)
      << back.status().to_string();
  doc["trade"] = "not an object";
  back = Serde<Ticket>::deserialize(doc.dump());
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find(R"(member "trade": expected an object, got a string)"),
            std::string::npos)
      << back.status().to_string();
}

}  // namespace
}  // namespace sluice::operators

// SLUICE_BINARY_FIELDS: the compact binary serde round-trips every kind of member, writes the
// layout its header documents, and turns bytes it cannot decode (truncated, another layout,
// out of range) into errors that name the member — never reading past the input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sluice/operators/binary_fields.h"
#include "sluice/operators/json_fields.h"
#include "sluice/operators/serde.h"

namespace sluice::operators {
namespace {

enum class Side : int8_t { kBuy = 1, kSell = -1 };

struct Leg {
  std::string venue;
  int32_t qty = 0;
  friend bool operator==(const Leg&, const Leg&) = default;
};
SLUICE_BINARY_FIELDS(Leg, venue, qty)

struct Quote {  // JSON elsewhere; inside a binary struct, binary from its member table
  std::string symbol;
  double bid = 0;
  friend bool operator==(const Quote&, const Quote&) = default;
};
SLUICE_JSON_FIELDS(Quote, symbol, bid)

struct Order {
  int64_t id = 0;
  uint64_t mask = 0;
  uint16_t lots = 0;
  bool open = false;
  float weight = 0;
  double price = 0;
  Side side = Side::kBuy;
  std::string note;
  std::optional<int64_t> parent;
  std::optional<std::string> tag;
  Leg leg;
  std::optional<Leg> hedge;
  Quote quote;
  std::vector<int> fills;
  std::vector<Leg> legs;
  std::map<std::string, int> fees;  // no binary form: length-prefixed, through its JSON serde
  friend bool operator==(const Order&, const Order&) = default;
};
SLUICE_BINARY_FIELDS(Order, id, mask, lots, open, weight, price, side, note, parent, tag, leg,
                     hedge, quote, fills, legs, fees)

static_assert(HasBinaryFields<Order> && !HasJsonFields<Order>);
static_assert(HasSerde<Order>);

Order sample() {
  return {.id = -42,
          .mask = std::numeric_limits<uint64_t>::max(),
          .lots = 65535,
          .open = true,
          .weight = 0.5f,
          .price = -1e-300,
          .side = Side::kSell,
          .note = std::string("zero \0 byte and é", 18),
          .parent = std::nullopt,
          .tag = "t",
          .leg = {"XNAS", -7},
          .hedge = Leg{"", std::numeric_limits<int32_t>::min()},
          .quote = {"ACME", 101.25},
          .fills = {1, -2, 3},
          .legs = {{"a", 1}, {"", -1}},
          .fees = {{"venue", 7}}};
}

Bytes written(const Order& o) {
  Bytes out;
  Serde<Order>::serialize(o, out);
  return out;
}

TEST(BinaryFieldsTest, RoundTripsEveryKindOfMember) {
  Order o = sample();
  auto back = Serde<Order>::deserialize(written(o));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, o);

  o = Order{};  // defaults: empty strings and optionals, zeros
  back = Serde<Order>::deserialize(written(o));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, o);

  o.price = std::numeric_limits<double>::infinity();
  o.weight = std::numeric_limits<float>::quiet_NaN();
  back = Serde<Order>::deserialize(written(o));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->price, o.price);
  EXPECT_TRUE(std::isnan(back->weight));
}

TEST(BinaryFieldsTest, AJsonFieldsStructInsideIsWrittenFromItsMemberTableNotAsText) {
  Bytes out;
  Serde<Order>::serialize(sample(), out);
  // The quote's symbol as a binary string — its length 4 as the zig-zag varint 8, then the
  // bytes — with no quotes and no member names around it.
  EXPECT_NE(out.find(Bytes("\x08") + "ACME"), Bytes::npos);
  EXPECT_EQ(out.find("\"ACME\""), Bytes::npos);
  EXPECT_EQ(out.find("symbol"), Bytes::npos);
}

TEST(BinaryFieldsTest, AVectorCountBeyondTheBytesLeftIsAnError) {
  Bytes b;
  append_varint(b, 1'000'000);  // a million elements claimed, none there: nothing allocated
  ByteReader in(b);
  std::vector<int64_t> values;
  const Status s = detail::read_binary_value(in, values, "values");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("member \"values\": a bad element count"), std::string::npos)
      << s.message();
  EXPECT_TRUE(values.empty());
}

TEST(BinaryFieldsTest, WritesTheDocumentedLayout) {
  const Leg leg{"ab", -2};
  Bytes out;
  Serde<Leg>::serialize(leg, out);
  // 2 members; "ab" as varint length 2 (zig-zag: 4) and its bytes; -2 as zig-zag 3.
  EXPECT_EQ(out, Bytes("\x02\x04"
                       "ab\x03"));
}

TEST(BinaryFieldsTest, IsSmallerThanTheJsonOfTheSameValues) {
  // A binary Leg against the JSON text of the same values.
  const Leg leg{"XNAS", 1200};
  Bytes out;
  Serde<Leg>::serialize(leg, out);
  EXPECT_LT(out.size(), std::string(R"({"qty":1200,"venue":"XNAS"})").size() / 2);
}

TEST(BinaryFieldsTest, EveryTruncationIsAnErrorNamingWhereItStopped) {
  const Bytes full = written(sample());
  for (size_t n = 0; n < full.size(); ++n) {
    auto r = Serde<Order>::deserialize(ByteView(full.data(), n));
    ASSERT_FALSE(r.ok()) << "decoded " << n << " of " << full.size() << " bytes";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("cannot decode binary fields"), std::string::npos)
        << r.status().message();
  }
}

TEST(BinaryFieldsTest, TrailingBytesAreAnError) {
  Bytes b = written(sample());
  b.push_back('\0');
  auto r = Serde<Order>::deserialize(b);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("1 bytes left"), std::string::npos) << r.status().message();
}

TEST(BinaryFieldsTest, AnotherLayoutIsAnErrorThatSaysSo) {
  Bytes leg;
  Serde<Leg>::serialize(Leg{"x", 1}, leg);
  auto r = Serde<Order>::deserialize(leg);  // 2 members where Order has 16
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("the bytes hold 2 members, the struct declares 16"),
            std::string::npos)
      << r.status().message();

  // JSON text where binary is expected: '{' is 123 members.
  r = Serde<Order>::deserialize(std::string_view(R"({"id":1})"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("123 members"), std::string::npos) << r.status().message();
}

TEST(BinaryFieldsTest, BadMemberBytesAreErrorsNamingTheMember) {
  Bytes b = written(sample());
  // `open` is the fourth member: after the count, id (-42: 1 byte), mask (all ones: the int64_t
  // -1, 1 byte), lots (65535: zig-zag 131070, 3 bytes).
  const size_t open_at = 1 + 1 + 1 + 3;
  ASSERT_EQ(b[open_at], '\1');
  b[open_at] = '\2';
  auto r = Serde<Order>::deserialize(b);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("member \"open\": expected a byte 0 or 1, got 2"),
            std::string::npos)
      << r.status().message();

  // A varint beyond its member's type is refused, not truncated: a Leg whose qty (an int32_t)
  // is 2^40.
  Bytes big("\x02");
  append_varint(big, 1);  // venue: one byte
  big.append("v");
  append_varint(big, int64_t{1} << 40);
  auto leg = Serde<Leg>::deserialize(big);
  ASSERT_FALSE(leg.ok());
  EXPECT_NE(leg.status().message().find("member \"qty\": 1099511627776 is out of its type's range"),
            std::string::npos)
      << leg.status().message();
}

TEST(BinaryFieldsTest, ANestedStructsErrorNamesThePath) {
  Order o = sample();
  Bytes b = written(o);
  Bytes leg;
  Serde<Leg>::serialize(o.leg, leg);
  const size_t at = b.find(leg);
  ASSERT_NE(at, Bytes::npos);
  b[at] = '\x05';  // the nested Leg claims 5 members
  auto r = Serde<Order>::deserialize(b);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("member \"leg\": the bytes hold 5 members"),
            std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace sluice::operators

// Serdes found by type: round trips, Kafka-compatible encodings, and clear errors (never
// exceptions) for bytes that do not decode.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "dsl/proto/test_messages.pb.h"
#include "sluice/operators/protobuf_serde.h"
#include "sluice/operators/serde.h"
#include "sluice/operators/table.h"
#include "sluice/operators/windows.h"
#include "test_util.h"

namespace sluice::operators {
namespace {

struct Order {
  std::string id;
  int64_t cents = 0;
  std::vector<std::string> items;
  friend bool operator==(const Order&, const Order&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Order, id, cents, items)

template <typename T>
T round_trip(const T& v) {
  Bytes b;
  Serde<T>::serialize(v, b);
  auto back = Serde<T>::deserialize(b);
  EXPECT_TRUE(back.ok()) << back.status().to_string();
  return back.ok() ? *back : T();
}

TEST(SerdeTest, IntegersAndDoublesAreFixedWidthBigEndianAsKafkaWritesThem) {
  Bytes b;
  Serde<int32_t>::serialize(1, b);
  EXPECT_EQ(b, std::string("\0\0\0\1", 4));
  b.clear();
  Serde<int64_t>::serialize(-2, b);
  EXPECT_EQ(b, std::string("\xff\xff\xff\xff\xff\xff\xff\xfe", 8));
  EXPECT_EQ(round_trip<int64_t>(INT64_MIN), INT64_MIN);
  EXPECT_EQ(round_trip<uint32_t>(4'000'000'000u), 4'000'000'000u);
  EXPECT_EQ(round_trip<double>(-0.125), -0.125);
  auto short_input = Serde<int64_t>::deserialize("abc");
  EXPECT_EQ(short_input.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(short_input.status().message().find("expected 8 bytes"), std::string::npos);
}

TEST(SerdeTest, StringsAreTheirBytesAndNullsMapToMonostateAndOptional) {
  EXPECT_EQ(round_trip<std::string>(std::string("a\0b", 3)), std::string("a\0b", 3));
  EXPECT_EQ(encode(std::monostate{}), std::nullopt);
  EXPECT_EQ(encode(std::optional<std::string>()), std::nullopt);
  EXPECT_EQ(encode(std::optional<std::string>("x")), Bytes("x"));
  auto none = decode<std::optional<int64_t>>(std::nullopt);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, std::nullopt);
  auto required = decode<int64_t>(std::nullopt);
  EXPECT_EQ(required.status().code(), StatusCode::kInvalidArgument);
}

TEST(SerdeTest, TypesNlohmannConvertsGetAJsonSerdeAndBadJsonIsAnErrorNotAnException) {
  const Order o{"o-1", 1999, {"book", "pen"}};
  Bytes b;
  Serde<Order>::serialize(o, b);
  EXPECT_EQ(b, R"({"cents":1999,"id":"o-1","items":["book","pen"]})");
  EXPECT_EQ(round_trip(o), o);
  auto bad = Serde<Order>::deserialize("{not json");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  auto wrong_shape = Serde<Order>::deserialize(R"({"id": 5})");
  EXPECT_EQ(wrong_shape.status().code(), StatusCode::kInvalidArgument);
}

TEST(SerdeTest, JsonIsReadIntoTheSameDocumentNlohmannsOwnParserWouldMake) {
  // The JSON serde parses with simdjson; the document, types included, must be nlohmann's.
  for (const char* text : {
           R"({"a":1,"b":-2,"c":3.5,"d":"x","e":[1,[2,{}]],"f":null,"g":true,"h":false})",
           R"({"max":9223372036854775807,"above":9223372036854775808,"u64":18446744073709551615})",
           R"({"huge":18446744073709551616})",  // beyond 64 bits: nlohmann's reading
           R"({"k":1,"k":2})",                  // the last of duplicate keys wins
           R"({"esc":"tab\there \u00e9 \ud83d\ude00 \"q\" \\"})",
           R"(  [ "spaces" , 0 , -0 , 0.0 ]  )",
           R"("just a string")",
           R"(42)",
       }) {
    SCOPED_TRACE(text);
    const nlohmann::json expected = nlohmann::json::parse(text);
    const nlohmann::json got = detail::parse_json(text);
    EXPECT_EQ(got, expected);
    EXPECT_EQ(got.dump(), expected.dump());
    ASSERT_EQ(got.is_object(), expected.is_object());
    if (got.is_object()) {
      for (const auto& [key, value] : expected.items()) {
        EXPECT_EQ(got.at(key).type(), value.type()) << key;
      }
    }
  }
  // Malformed text (or a number no double holds) throws nlohmann's own error, which the serde
  // turns into kInvalidArgument.
  for (const char* text : {"{not json", R"({"a":1,})", "\"unterminated", "[1 2]", "",
                           "{\"bad utf8\":\"\xff\"}", "[1e400]"}) {
    SCOPED_TRACE(text);
    EXPECT_THROW(detail::parse_json(text), nlohmann::json::exception);
  }
}

TEST(SerdeTest, ProtobufMessagesUseTheirWireFormat) {
  sluice::test::Click c;
  c.set_user("u1");
  c.set_page("/home");
  c.set_at_ms(42);
  const auto back = round_trip(c);
  EXPECT_EQ(back.user(), "u1");
  EXPECT_EQ(back.page(), "/home");
  EXPECT_EQ(back.at_ms(), 42);
  Bytes b;
  Serde<sluice::test::Click>::serialize(c, b);
  EXPECT_EQ(b, c.SerializeAsString());
  auto bad = Serde<sluice::test::Click>::deserialize("\xff\xff\xff");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("sluice.test.Click"), std::string::npos);
}

TEST(SerdeTest, WindowedKeysCarryTheKeyThenStartAndEnd) {
  const Windowed<std::string> w{"page", {Timestamp(60'000), Timestamp(120'000)}};
  EXPECT_EQ(round_trip(w), w);
  auto truncated = Serde<Windowed<std::string>>::deserialize("short");
  EXPECT_EQ(truncated.status().code(), StatusCode::kInvalidArgument);
}

TEST(SerdeTest, TableChangesCarryEitherValueOrBothAndRejectMalformedBytes) {
  using C = Change<std::string>;
  for (const C& c : {C{"old", "new"}, C{"old", std::nullopt}, C{std::nullopt, "new"},
                     C{std::nullopt, std::nullopt}, C{"", ""}}) {
    Bytes b;
    Serde<C>::serialize(c, b);
    auto back = Serde<C>::deserialize(b);
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(*back, c);
  }
  Bytes both;
  Serde<C>::serialize(C{"ab", "c"}, both);
  EXPECT_EQ(both, Bytes("\x03\x00\x00\x00\x02"
                        "abc",
                        8));
  for (const Bytes& bad : {Bytes(), Bytes("\x04", 1), Bytes("\x01\x00\x00", 3),
                           Bytes("\x01\x00\x00\x00\x09x", 6), Bytes("\x01\x00\x00\x00\x00z", 6)}) {
    auto decoded = Serde<C>::deserialize(bad);
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument)
        << decoded.status().to_string();
  }
  // A value serde's own errors come through.
  Bytes bad_long("\x02\x01", 2);
  EXPECT_FALSE(Serde<Change<int64_t>>::deserialize(bad_long).ok());
}

}  // namespace
}  // namespace sluice::operators

namespace sluice::dsl {
namespace {

TEST(SerdeTest, ProtobufValuesFlowThroughATopologyAsObjects) {
  TopologyBuilder b;
  b.stream<std::string, sluice::test::Click>("clicks")
      .map_values([](const sluice::test::Click& c) { return c.page(); })
      .to("pages");
  auto d = testing::driver_for(b);
  ASSERT_TRUE(d);
  sluice::test::Click c;
  c.set_user("u1");
  c.set_page("/cart");
  ASSERT_OK(
      (d->input_topic<std::string, sluice::test::Click>("clicks").pipe("u1", c, Timestamp(1))));
  auto pages = d->output_topic<std::string, std::string>("pages");
  auto r = testing::read(pages);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].value, "/cart");
}

}  // namespace
}  // namespace sluice::dsl

// Serdes: how a typed key or value becomes bytes at the edges of a topology — sources, sinks,
// state stores, repartition topics — and back. Between operators inside a task values stay
// plain C++ objects; nothing is serialized there.
//
// A serde is found by type: `Serde<T>` is specialized for
//   - std::string (the bytes as they are), and so for sluice::Bytes;
//   - int32_t, int64_t, uint32_t, uint64_t, double: fixed-width big-endian, as Kafka's
//     IntegerSerializer, LongSerializer and DoubleSerializer write them;
//   - std::monostate: no key at all (null in the log), for streams without keys;
//   - std::optional<T>: null in the log <-> std::nullopt;
//   - any type nlohmann-json can convert (to_json/from_json, e.g. through
//     NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE): JSON text;
//   - any protobuf message type (with sluice/operators/protobuf_serde.h included);
//   - structs declared with SLUICE_JSON_FIELDS (json_fields.h: JSON, faster than nlohmann's) or
//     SLUICE_BINARY_FIELDS (binary_fields.h: compact bytes for state and repartition topics);
//   - and whatever the user specializes:
//
//       template <> struct sluice::operators::Serde<PageView> {
//         static void serialize(const PageView& v, sluice::Bytes& out);
//         static sluice::Result<PageView> deserialize(sluice::ByteView in);
//       };
//
// A type without a serde is a compile error where a serde is needed (the `HasSerde` concept).
// deserialize() reports bytes it cannot decode as kInvalidArgument (never throws); the task
// hands that record to the topology's error handler.
//
// Thread safety: serdes are stateless functions.
#pragma once

#include <bit>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <variant>

#include <nlohmann/json.hpp>

#include "sluice/base/bytes.h"
#include "sluice/base/result.h"

namespace sluice::operators {

template <typename T>
struct Serde;  // no serde for T: specialize it (see above)

template <typename T>
concept HasSerde = requires(const T& v, Bytes& out, ByteView in) {
  { Serde<T>::serialize(v, out) } -> std::same_as<void>;
  { Serde<T>::deserialize(in) } -> std::same_as<Result<T>>;
};

template <>
struct Serde<std::string> {
  static void serialize(const std::string& v, Bytes& out) { out.append(v); }
  static Result<std::string> deserialize(ByteView in) { return std::string(in); }
};

// Fixed-width big-endian integers and doubles (Kafka's serializers).
template <typename T>
requires(std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t> || std::is_same_v<T, uint32_t> ||
         std::is_same_v<T, uint64_t> || std::is_same_v<T, double>) struct Serde<T> {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  static void serialize(const T& v, Bytes& out) { append_be<Bits>(out, std::bit_cast<Bits>(v)); }
  static Result<T> deserialize(ByteView in) {
    if (in.size() != sizeof(T)) {
      return invalid_argument("expected " + std::to_string(sizeof(T)) + " bytes for a " +
                              (std::is_same_v<T, double> ? "double" : "fixed-width integer") +
                              ", got " + std::to_string(in.size()));
    }
    return std::bit_cast<T>(load_be<Bits>(in.data()));
  }
};

// No key: null in the log. (serialize writes nothing; the edges turn it into a null key.)
template <>
struct Serde<std::monostate> {
  static void serialize(const std::monostate&, Bytes&) {}
  static Result<std::monostate> deserialize(ByteView) { return std::monostate{}; }
};

namespace detail {
// JSON text as nlohmann-json's document, as nlohmann::json::parse gives it (and throwing as it
// does), but parsed by simdjson: nlohmann's own parser costs about as much as everything else
// a JSON-reading job does per record. What simdjson refuses goes to nlohmann's parser, so errors
// and corner cases read the same.
nlohmann::json parse_json(ByteView in);
}  // namespace detail

// JSON for every type nlohmann-json converts, unless a more specific serde exists.
template <typename T>
concept JsonConvertible = requires(nlohmann::json& j, const T& v) {
  nlohmann::to_json(j, v);
  nlohmann::from_json(std::as_const(j), std::declval<T&>());
};

// Types declared with SLUICE_JSON_FIELDS (sluice/operators/json_fields.h) have a faster JSON
// serde of their own, there.
template <typename T>
concept HasJsonFields = requires(const T* p) {
  sluice_json_fields(p);
};

// Types declared with SLUICE_BINARY_FIELDS (sluice/operators/binary_fields.h): a compact binary
// serde, there, for what only the job reads back (state, repartition topics).
template <typename T>
concept HasBinaryFields = requires(const T* p) {
  sluice_binary_fields(p);
};

template <typename T>
requires(JsonConvertible<T> && !HasJsonFields<T> && !HasBinaryFields<T> &&
         !std::is_arithmetic_v<T> && !std::is_same_v<T, std::string>) struct Serde<T> {
  static void serialize(const T& v, Bytes& out) { out.append(nlohmann::json(v).dump()); }
  static Result<T> deserialize(ByteView in) {
    // nlohmann-json throws; no exception leaves here.
    try {
      return detail::parse_json(in).template get<T>();
    } catch (const std::exception& e) {
      return invalid_argument(std::string("cannot decode JSON: ") + e.what());
    }
  }
};

// ---- nullable edges ----

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};

// The bytes of `v` at an edge of the topology: nullopt for "null" (no key, an empty optional).
template <typename T>
std::optional<Bytes> encode(const T& v) {
  if constexpr (std::is_same_v<T, std::monostate>) {
    return std::nullopt;
  } else if constexpr (IsOptional<T>::value) {
    if (!v) return std::nullopt;
    return encode(*v);
  } else {
    Bytes out;
    Serde<T>::serialize(v, out);
    return out;
  }
}

// Like encode(), into `out` (cleared first, its memory reused); false for null.
template <typename T>
bool encode_into(const T& v, Bytes& out) {
  out.clear();
  if constexpr (std::is_same_v<T, std::monostate>) {
    return false;
  } else if constexpr (IsOptional<T>::value) {
    return v ? encode_into(*v, out) : false;
  } else {
    Serde<T>::serialize(v, out);
    return true;
  }
}

// The bytes encode_into would write, or nullopt for null: a std::string's are its own, viewed
// rather than copied; any other T is encoded into `scratch`.
template <typename T>
std::optional<ByteView> encoded_view(const T& v, Bytes& scratch) {
  if constexpr (std::is_same_v<T, std::string>) {
    return ByteView(v);
  } else if constexpr (IsOptional<T>::value) {
    if (!v) return std::nullopt;
    return encoded_view(*v, scratch);
  } else {
    if (!encode_into(v, scratch)) return std::nullopt;
    return ByteView(scratch);
  }
}

// A T from the bytes at an edge; null is std::monostate or an empty optional, and an error
// for any other type.
template <typename T>
Result<T> decode(std::optional<ByteView> in) {
  if constexpr (std::is_same_v<T, std::monostate>) {
    return std::monostate{};
  } else if constexpr (IsOptional<T>::value) {
    if (!in) return T();
    auto inner = decode<typename T::value_type>(in);
    if (!inner.ok()) return inner.status();
    return T(std::move(inner).value());
  } else {
    if (!in) return invalid_argument("null where a value is required");
    return Serde<T>::deserialize(*in);
  }
}

template <typename T>
concept EdgeType = std::is_same_v<T, std::monostate> ||
                   (IsOptional<T>::value&& HasSerde<typename T::value_type>) ||
                   HasSerde<T>;

}  // namespace sluice::operators

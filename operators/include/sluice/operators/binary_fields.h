// A compact binary serde for plain structs, declared member by member:
//
//   struct Window { bool person = false; std::string name; int64_t auctions = 0; };
//   SLUICE_BINARY_FIELDS(Window, person, name, auctions)   // in Window's namespace, after it
//
// gives Serde<Window> (serde.h) for what only the job itself reads back — an aggregate in a
// state store and its changelog, a value on a repartition topic — where JSON text would be
// written and parsed again for every update. (Records other programs read are better JSON:
// SLUICE_JSON_FIELDS, json_fields.h. A type declares one of the two.)
//
// The bytes: the number of members (one byte), then each member in declaration order —
//   bool: one byte, 0 or 1;  integers and enums: a zig-zag varint;  float, double: 4 or 8 bytes
//   (IEEE, big-endian);  std::string: a varint length, then the bytes;  std::optional: one byte,
//   0 (empty) or 1 followed by the value;  std::vector: a varint count, then the elements;
//   another SLUICE_BINARY_FIELDS struct — or a SLUICE_JSON_FIELDS one, from its member table —
//   the same way, inline;  any other type with a serde: a varint length, then what its serde
//   writes.
// Adding, removing or reordering members changes the bytes: a job whose stores hold an older
// layout must start them fresh (`sluice job submit --replace --reset-state`). Decoding checks the
// member count and every length, and reports bytes it cannot decode as kInvalidArgument naming
// the member, never reading past the input.
//
// The struct must be default-constructible; at most 64 members.
#pragma once

#include <bit>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/operators/json_fields.h"
#include "sluice/operators/serde.h"

namespace sluice::operators {
namespace detail {

// Structs written member by member: SLUICE_BINARY_FIELDS ones, and SLUICE_JSON_FIELDS ones
// nested in them (from the same member table, in declaration order).
template <typename T>
concept BinaryMembers = HasBinaryFields<T> || HasJsonFields<T>;

template <typename T>
const auto& binary_members() {
  if constexpr (HasBinaryFields<T>) {
    static const auto fields = sluice_binary_fields(static_cast<const T*>(nullptr));
    return fields;
  } else {
    return JsonFieldTable<T>::fields();
  }
}

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};
template <>
struct IsVector<std::vector<bool>> : std::false_type {};  // (its elements are not bool&)

template <typename M>
void write_binary_value(const M& v, Bytes& out);

template <typename T>
void write_binary_fields(const T& v, Bytes& out) {
  const auto& fields = binary_members<T>();
  constexpr size_t kSize = std::tuple_size_v<std::decay_t<decltype(fields)>>;
  static_assert(kSize <= 64, "SLUICE_BINARY_FIELDS: at most 64 members");
  out.push_back(static_cast<char>(kSize));
  std::apply([&](const auto&... f) { (write_binary_value(v.*(f.member), out), ...); }, fields);
}

template <typename M>
void write_binary_value(const M& v, Bytes& out) {
  if constexpr (std::is_same_v<M, bool>) {
    out.push_back(v ? '\1' : '\0');
  } else if constexpr (std::is_integral_v<M> || std::is_enum_v<M>) {
    append_varint(out, static_cast<int64_t>(v));
  } else if constexpr (std::is_same_v<M, float>) {
    append_be<uint32_t>(out, std::bit_cast<uint32_t>(v));
  } else if constexpr (std::is_same_v<M, double>) {
    append_be<uint64_t>(out, std::bit_cast<uint64_t>(v));
  } else if constexpr (std::is_same_v<M, std::string>) {
    append_varint(out, static_cast<int64_t>(v.size()));
    out.append(v);
  } else if constexpr (IsOptional<M>::value) {
    out.push_back(v ? '\1' : '\0');
    if (v) write_binary_value(*v, out);
  } else if constexpr (BinaryMembers<M>) {
    write_binary_fields(v, out);
  } else if constexpr (IsVector<M>::value) {
    append_varint(out, static_cast<int64_t>(v.size()));
    for (const auto& e : v) write_binary_value(e, out);
  } else {
    static_assert(HasSerde<M>, "a SLUICE_BINARY_FIELDS member without a serde");
    Bytes inner;
    Serde<M>::serialize(v, inner);
    append_varint(out, static_cast<int64_t>(inner.size()));
    out.append(inner);
  }
}

inline Status binary_member_error(std::string_view name, std::string_view what) {
  return invalid_argument("member \"" + std::string(name) + "\": " + std::string(what));
}

template <typename T>
Status read_binary_fields(ByteReader& in, T& out);

template <typename M>
Status read_binary_value(ByteReader& in, M& v, std::string_view name) {
  if constexpr (std::is_same_v<M, bool> || IsOptional<M>::value) {
    ByteView b;
    if (!in.get_bytes(1, b)) return binary_member_error(name, "the bytes end inside it");
    if (b[0] != '\0' && b[0] != '\1') {
      return binary_member_error(
          name, "expected a byte 0 or 1, got " + std::to_string(static_cast<uint8_t>(b[0])));
    }
    if constexpr (std::is_same_v<M, bool>) {
      v = b[0] == '\1';
    } else if (b[0] == '\0') {
      v.reset();
    } else {
      return read_binary_value(in, v.emplace(), name);
    }
  } else if constexpr (std::is_integral_v<M> || std::is_enum_v<M>) {
    int64_t i;
    if (!in.get_varint(i)) return binary_member_error(name, "not a varint");
    using I = std::conditional_t<std::is_enum_v<M>, std::underlying_type<M>, std::type_identity<M>>;
    using U = typename I::type;
    if constexpr (sizeof(U) < sizeof(int64_t)) {
      if (i < static_cast<int64_t>(std::numeric_limits<U>::min()) ||
          i > static_cast<int64_t>(std::numeric_limits<U>::max())) {
        return binary_member_error(name, std::to_string(i) + " is out of its type's range");
      }
    }  // (int64_t and uint64_t: any; a uint64_t is written as the int64_t of the same bits)
    v = static_cast<M>(static_cast<U>(i));
  } else if constexpr (std::is_same_v<M, float> || std::is_same_v<M, double>) {
    using Bits = std::conditional_t<sizeof(M) == 4, uint32_t, uint64_t>;
    Bits bits;
    if (!in.get_be(bits)) return binary_member_error(name, "the bytes end inside it");
    v = std::bit_cast<M>(bits);
  } else if constexpr (BinaryMembers<M>) {
    const Status s = read_binary_fields(in, v);
    if (!s.ok()) return binary_member_error(name, s.message());
  } else if constexpr (IsVector<M>::value) {
    int64_t size;
    // Each element takes a byte at least: a count beyond the bytes left is malformed.
    if (!in.get_varint(size) || size < 0 || static_cast<uint64_t>(size) > in.remaining()) {
      return binary_member_error(name, "a bad element count");
    }
    v.clear();
    v.resize(static_cast<size_t>(size));
    for (size_t i = 0; i < v.size(); ++i) {
      const Status s = read_binary_value(in, v[i], name);
      if (!s.ok())
        return binary_member_error(name, "element " + std::to_string(i) + ": " + s.message());
    }
  } else {
    int64_t size;
    ByteView bytes;
    if (!in.get_varint(size) || size < 0 || !in.get_bytes(static_cast<size_t>(size), bytes)) {
      return binary_member_error(name, "a bad length or the bytes end inside it");
    }
    if constexpr (std::is_same_v<M, std::string>) {
      v.assign(bytes);
    } else {
      auto decoded = Serde<M>::deserialize(bytes);
      if (!decoded.ok()) return binary_member_error(name, decoded.status().message());
      v = std::move(decoded).value();
    }
  }
  return Status();
}

template <typename T>
Status read_binary_fields(ByteReader& in, T& out) {
  const auto& fields = binary_members<T>();
  constexpr size_t kSize = std::tuple_size_v<std::decay_t<decltype(fields)>>;
  ByteView count;
  if (!in.get_bytes(1, count)) return invalid_argument("no bytes");
  if (static_cast<uint8_t>(count[0]) != kSize) {
    return invalid_argument("the bytes hold " + std::to_string(static_cast<uint8_t>(count[0])) +
                            " members, the struct declares " + std::to_string(kSize) +
                            " (a store written by an older version of the job?)");
  }
  Status s;
  std::apply(
      [&](const auto&... f) {
        ((s.ok() ? (void)(s = read_binary_value(in, out.*(f.member), f.name)) : void()), ...);
      },
      fields);
  return s;
}

}  // namespace detail

template <typename T>
requires HasBinaryFields<T>
struct Serde<T> {
  static_assert(!HasJsonFields<T>, "declare one of SLUICE_JSON_FIELDS and SLUICE_BINARY_FIELDS");

  static void serialize(const T& v, Bytes& out) { detail::write_binary_fields(v, out); }

  static Result<T> deserialize(ByteView bytes) {
    T value{};
    ByteReader in(bytes);
    Status s = detail::read_binary_fields(in, value);
    if (s.ok() && in.remaining() != 0) {
      s = invalid_argument(std::to_string(in.remaining()) + " bytes left after the last member");
    }
    if (!s.ok()) return invalid_argument("cannot decode binary fields: " + s.message());
    return value;
  }
};

}  // namespace sluice::operators

// Declares the binary members of `Type` (see the top of this file). Use it in Type's namespace.
#define SLUICE_BINARY_FIELDS(Type, ...)                            \
  [[maybe_unused]] inline auto sluice_binary_fields(const Type*) { \
    using SluiceJsonType = Type;                                   \
    return std::tuple_cat(std::tuple<>() NLOHMANN_JSON_EXPAND(     \
        NLOHMANN_JSON_PASTE(SLUICE_JSON_FIELD_, __VA_ARGS__)));    \
  }

// A faster JSON serde for plain structs, declared member by member:
//
//   struct Bid { int64_t auction = 0; int64_t price = 0; std::string channel; };
//   SLUICE_JSON_FIELDS(Bid, auction, price, channel)   // in Bid's namespace, after it
//
// gives Serde<Bid> (serde.h) that writes the members straight into the JSON text and reads the
// text (parsed by simdjson) straight into the members. The generic JSON serde goes through
// nlohmann-json's document — a std::map of members, each a heap node — in both directions,
// which costs more than everything else a JSON-reading operator does per record.
//
// The text is what nlohmann-json writes for the same struct with
// NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE (the two can be declared together, for code that wants a
// nlohmann::json of the struct): members in byte order of their names, no spaces. Reading
// follows that macro's from_json: every declared member must be present (else an error that
// names it), others are ignored, the last of duplicate keys counts, a number converts to an
// integer or floating member as nlohmann's get<>() converts it, null is an empty optional.
// Members may be bool, integers, float or double, std::string, std::optional of these, other
// SLUICE_JSON_FIELDS structs (read from the same parse, errors naming the path), or any type
// nlohmann-json converts (written and read through it). Floating values are written in
// the shortest form that reads back exactly (std::to_chars), with ".0" when that has no
// fraction or exponent; non-finite ones as null, as nlohmann does.
//
// The struct must be default-constructible. At most 64 members (nlohmann's macro machinery,
// which this reuses, stops there).
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "sluice/operators/serde.h"

namespace sluice::operators {
namespace detail {

// One member of a JSON object as read (json.cc): its kind and value.
struct JsonMember {
  enum class Kind { kString, kInt, kUint, kDouble, kBool, kNull, kObject, kArray };
  Kind kind = Kind::kNull;
  // kString: the string. kObject, kArray: the value's JSON text when it was read by nlohmann's
  // parser, else empty and `element` points to simdjson's (see json_text()).
  std::string_view text;
  const void* element = nullptr;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  bool b = false;
};
using JsonMemberFn = Status (*)(void* context, std::string_view key, const JsonMember& value);

// Parses `in`, which must be one JSON object, and calls `fn` for each of its members in order.
// Text simdjson refuses is read by nlohmann's parser, so errors and corner cases (integers
// beyond 64 bits) read as the generic JSON serde reads them. Errors: kInvalidArgument.
Status read_json_object(ByteView in, void* context, JsonMemberFn fn);
// The same for a member that is itself an object (kObject), without parsing it again.
Status read_json_object(const JsonMember& object, void* context, JsonMemberFn fn);
// A kObject or kArray member's JSON text.
std::string json_text(const JsonMember& m);
// `s` as a JSON string, quoted and escaped as nlohmann writes it; throws std::invalid_argument
// on invalid UTF-8, as nlohmann's dump() throws.
void append_json_string(std::string_view s, Bytes& out);
void append_json_double(double d, Bytes& out);

template <typename T, typename M>
struct JsonField {
  std::string_view name;
  M T::*member;
};
template <typename T, typename M>
constexpr JsonField<T, M> json_field(std::string_view name, M T::*member) {
  return {name, member};
}

template <typename M>
void write_json_value(const M& v, Bytes& out) {
  if constexpr (std::is_same_v<M, bool>) {
    out.append(v ? "true" : "false");
  } else if constexpr (std::is_integral_v<M>) {
    char buf[24];
    const auto end = std::to_chars(buf, buf + sizeof(buf), v).ptr;
    out.append(buf, end);
  } else if constexpr (std::is_floating_point_v<M>) {
    append_json_double(static_cast<double>(v), out);
  } else if constexpr (std::is_same_v<M, std::string>) {
    append_json_string(v, out);
  } else if constexpr (IsOptional<M>::value) {
    if (v) {
      write_json_value(*v, out);
    } else {
      out.append("null");
    }
  } else if constexpr (HasJsonFields<M>) {
    Serde<M>::serialize(v, out);
  } else {
    static_assert(JsonConvertible<M>, "a SLUICE_JSON_FIELDS member nlohmann-json cannot convert");
    out.append(nlohmann::json(v).dump());
  }
}

inline const char* json_kind_name(JsonMember::Kind k) {
  switch (k) {
    case JsonMember::Kind::kString:
      return "a string";
    case JsonMember::Kind::kInt:
    case JsonMember::Kind::kUint:
    case JsonMember::Kind::kDouble:
      return "a number";
    case JsonMember::Kind::kBool:
      return "a boolean";
    case JsonMember::Kind::kNull:
      return "null";
    case JsonMember::Kind::kObject:
      return "an object";
    case JsonMember::Kind::kArray:
      return "an array";
  }
  return "a value";
}

inline Status json_type_error(std::string_view name, const char* expected, const JsonMember& got) {
  return invalid_argument("member \"" + std::string(name) + "\": expected " + expected + ", got " +
                          json_kind_name(got.kind));
}

template <typename T>
Status read_json_fields(T& out, ByteView text, const JsonMember* object);

template <typename M>
Status read_json_value(const JsonMember& j, M& v, std::string_view name) {
  using Kind = JsonMember::Kind;
  if constexpr (std::is_same_v<M, bool>) {
    if (j.kind != Kind::kBool) return json_type_error(name, "a boolean", j);
    v = j.b;
  } else if constexpr (std::is_arithmetic_v<M>) {
    switch (j.kind) {
      case Kind::kInt:
        v = static_cast<M>(j.i);
        break;
      case Kind::kUint:
        v = static_cast<M>(j.u);
        break;
      case Kind::kDouble:
        v = static_cast<M>(j.d);
        break;
      default:
        return json_type_error(name, "a number", j);
    }
  } else if constexpr (std::is_same_v<M, std::string>) {
    if (j.kind != Kind::kString) return json_type_error(name, "a string", j);
    v.assign(j.text);
  } else if constexpr (IsOptional<M>::value) {
    if (j.kind == Kind::kNull) {
      v.reset();
      return Status();
    }
    return read_json_value(j, v.emplace(), name);
  } else if constexpr (HasJsonFields<M>) {
    if (j.kind != Kind::kObject) return json_type_error(name, "an object", j);
    Status s = read_json_fields(v, {}, &j);
    if (!s.ok()) return invalid_argument("member \"" + std::string(name) + "\": " + s.message());
  } else {
    static_assert(JsonConvertible<M>, "a SLUICE_JSON_FIELDS member nlohmann-json cannot convert");
    try {
      nlohmann::json doc;
      switch (j.kind) {
        case Kind::kString:
          doc = std::string(j.text);
          break;
        case Kind::kInt:
          doc = j.i;
          break;
        case Kind::kUint:
          doc = j.u;
          break;
        case Kind::kDouble:
          doc = j.d;
          break;
        case Kind::kBool:
          doc = j.b;
          break;
        case Kind::kNull:
          break;
        case Kind::kObject:
        case Kind::kArray:
          doc = nlohmann::json::parse(json_text(j));
          break;
      }
      doc.get_to(v);
    } catch (const std::exception& e) {
      return invalid_argument("member \"" + std::string(name) + "\": " + e.what());
    }
  }
  return Status();
}

// f(field I) for the I == i.
template <typename Tuple, typename F, size_t... I>
void visit_field(const Tuple& fields, size_t i, F&& f, std::index_sequence<I...>) {
  ((i == I ? f(std::get<I>(fields)) : void()), ...);
}

template <typename T>
struct JsonFieldTable {
  static const auto& fields() {
    static const auto t = sluice_json_fields(static_cast<const T*>(nullptr));
    return t;
  }
  static constexpr size_t size() {
    return std::tuple_size_v<
        std::decay_t<decltype(sluice_json_fields(static_cast<const T*>(nullptr)))>>;
  }
  template <typename F>
  static void visit(size_t i, F&& f) {
    visit_field(fields(), i, std::forward<F>(f), std::make_index_sequence<size()>());
  }
  static const std::array<std::string_view, size()>& names() {
    static const auto n = [] {
      std::array<std::string_view, size()> out{};
      for (size_t i = 0; i < size(); ++i) visit(i, [&](const auto& f) { out[i] = f.name; });
      return out;
    }();
    return n;
  }
  // The members in byte order of their names (the order nlohmann's std::map writes them), each
  // with its `"name":` (after a comma but for the first), ready to append.
  struct Written {
    size_t field;
    std::string prefix;
  };
  static const std::array<Written, size()>& written() {
    static const auto w = [] {
      std::array<Written, size()> out{};
      std::array<size_t, size()> order{};
      for (size_t i = 0; i < size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(),
                [](size_t a, size_t b) { return names()[a] < names()[b]; });
      for (size_t k = 0; k < size(); ++k) {
        out[k].field = order[k];
        out[k].prefix = (k == 0 ? "\"" : ",\"") + std::string(names()[order[k]]) + "\":";
      }
      return out;
    }();
    return w;
  }
};

// Reads the members of `out` from the object `text` (or the member `object`, when not null).
template <typename T>
Status read_json_fields(T& out, ByteView text, const JsonMember* object) {
  using Table = JsonFieldTable<T>;
  struct Reading {
    T* value;
    std::array<bool, Table::size()> seen{};
  } r{&out};
  const JsonMemberFn fn = [](void* context, std::string_view key, const JsonMember& m) {
    auto& r = *static_cast<Reading*>(context);
    const auto& names = Table::names();
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] != key) continue;
      r.seen[i] = true;
      Status read;
      Table::visit(i,
                   [&](const auto& f) { read = read_json_value(m, r.value->*(f.member), f.name); });
      return read;
    }
    return Status();  // not a member: ignored
  };
  SLUICE_RETURN_IF_ERROR(object ? read_json_object(*object, &r, fn)
                                : read_json_object(text, &r, fn));
  for (size_t i = 0; i < r.seen.size(); ++i) {
    if (!r.seen[i]) {
      return invalid_argument("no member \"" + std::string(Table::names()[i]) + "\"");
    }
  }
  return Status();
}

}  // namespace detail

template <typename T>
requires(HasJsonFields<T> && !HasBinaryFields<T>) struct Serde<T> {
  using Table = detail::JsonFieldTable<T>;

  static void serialize(const T& v, Bytes& out) {
    out.push_back('{');
    for (const auto& w : Table::written()) {
      out.append(w.prefix);
      Table::visit(w.field, [&](const auto& f) { detail::write_json_value(v.*(f.member), out); });
    }
    out.push_back('}');
  }

  static Result<T> deserialize(ByteView in) {
    T value{};
    const Status s = detail::read_json_fields(value, in, nullptr);
    if (!s.ok()) return invalid_argument("cannot decode JSON: " + s.message());
    return value;
  }
};

}  // namespace sluice::operators

#define SLUICE_JSON_FIELD_(member) \
  , std::make_tuple(::sluice::operators::detail::json_field(#member, &SluiceJsonType::member))

// Declares the JSON members of `Type` (see the top of this file). Use it in Type's namespace.
#define SLUICE_JSON_FIELDS(Type, ...)                            \
  [[maybe_unused]] inline auto sluice_json_fields(const Type*) { \
    using SluiceJsonType = Type;                                 \
    return std::tuple_cat(std::tuple<>() NLOHMANN_JSON_EXPAND(   \
        NLOHMANN_JSON_PASTE(SLUICE_JSON_FIELD_, __VA_ARGS__)));  \
  }

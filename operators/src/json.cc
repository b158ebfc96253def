// JSON through simdjson: text into nlohmann-json's document (serde.h), and the member-by-member
// reading and writing of SLUICE_JSON_FIELDS types (json_fields.h).
#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

#include "sluice/operators/json_fields.h"
#include "sluice/operators/serde.h"

namespace sluice::operators::detail {
namespace {

// Parses `in` with a parser and buffer reused from one record to the next (the buffer up to a
// megabyte: a huge record gets one of its own): simdjson reads up to SIMDJSON_PADDING bytes
// past the text, so the text is copied into a buffer with room for it.
simdjson::error_code parse_padded(ByteView in, simdjson::dom::element& root) {
  constexpr size_t kKeptBuffer = 1 << 20;
  thread_local simdjson::dom::parser parser;
  thread_local std::string kept;
  std::string own;
  std::string& padded = in.size() <= kKeptBuffer ? kept : own;
  if (padded.size() < in.size() + simdjson::SIMDJSON_PADDING) {
    padded.resize(in.size() + simdjson::SIMDJSON_PADDING);
  }
  std::memcpy(padded.data(), in.data(), in.size());
  return parser.parse(padded.data(), in.size(), /*realloc_if_needed=*/false).get(root);
}

// nlohmann's parser keeps non-negative integers as number_unsigned and the last of duplicate
// keys; so does this, so that both paths give the same document.
nlohmann::json to_nlohmann(simdjson::dom::element e) {
  using Type = simdjson::dom::element_type;
  switch (e.type()) {
    case Type::OBJECT: {
      nlohmann::json object = nlohmann::json::object();
      auto& members = object.get_ref<nlohmann::json::object_t&>();
      for (auto [key, value] : simdjson::dom::object(e)) {
        members.insert_or_assign(std::string(key), to_nlohmann(value));
      }
      return object;
    }
    case Type::ARRAY: {
      nlohmann::json array = nlohmann::json::array();
      for (simdjson::dom::element value : simdjson::dom::array(e)) {
        array.push_back(to_nlohmann(value));
      }
      return array;
    }
    case Type::STRING:
      return std::string(std::string_view(e));
    case Type::INT64: {
      const int64_t v = int64_t(e);
      if (v >= 0) return static_cast<uint64_t>(v);
      return v;
    }
    case Type::UINT64:
      return uint64_t(e);
    case Type::DOUBLE:
      return double(e);
    case Type::BOOL:
      return bool(e);
    case Type::NULL_VALUE:
      return nullptr;
  }
  return nullptr;
}

}  // namespace

nlohmann::json parse_json(ByteView in) {
  simdjson::dom::element root;
  if (parse_padded(in, root) == simdjson::SUCCESS) return to_nlohmann(root);
  // What simdjson refuses (malformed text, integers beyond 64 bits) goes to nlohmann's parser:
  // its error messages, or its reading of huge integers as doubles.
  return nlohmann::json::parse(in);
}

namespace {

Status call(JsonMemberFn fn, void* context, std::string_view key, simdjson::dom::element e) {
  using Type = simdjson::dom::element_type;
  using Kind = JsonMember::Kind;
  JsonMember m;
  switch (e.type()) {
    case Type::STRING:
      m.kind = Kind::kString;
      m.text = std::string_view(e);
      break;
    case Type::INT64:
      m.kind = Kind::kInt;
      m.i = int64_t(e);
      break;
    case Type::UINT64:
      m.kind = Kind::kUint;
      m.u = uint64_t(e);
      break;
    case Type::DOUBLE:
      m.kind = Kind::kDouble;
      m.d = double(e);
      break;
    case Type::BOOL:
      m.kind = Kind::kBool;
      m.b = bool(e);
      break;
    case Type::NULL_VALUE:
      m.kind = Kind::kNull;
      break;
    case Type::OBJECT:
      m.kind = Kind::kObject;
      m.element = &e;
      break;
    case Type::ARRAY:
      m.kind = Kind::kArray;
      m.element = &e;
      break;
  }
  return fn(context, key, m);
}

Status read_members(simdjson::dom::element root, void* context, JsonMemberFn fn) {
  simdjson::dom::object object;
  if (root.get(object) != simdjson::SUCCESS) return invalid_argument("not a JSON object");
  for (auto [key, value] : object) SLUICE_RETURN_IF_ERROR(call(fn, context, key, value));
  return Status();
}

// What simdjson refused, through nlohmann's parser.
Status read_with_nlohmann(ByteView in, void* context, JsonMemberFn fn) {
  using Kind = JsonMember::Kind;
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    return invalid_argument(e.what());
  }
  if (!doc.is_object()) return invalid_argument("not a JSON object");
  for (const auto& [key, value] : doc.items()) {
    JsonMember m;
    std::string other;
    if (value.is_string()) {
      m.kind = Kind::kString;
      m.text = value.get_ref<const std::string&>();
    } else if (value.is_number_unsigned()) {
      m.kind = Kind::kUint;
      m.u = value.get<uint64_t>();
    } else if (value.is_number_integer()) {
      m.kind = Kind::kInt;
      m.i = value.get<int64_t>();
    } else if (value.is_number_float()) {
      m.kind = Kind::kDouble;
      m.d = value.get<double>();
    } else if (value.is_boolean()) {
      m.kind = Kind::kBool;
      m.b = value.get<bool>();
    } else if (value.is_null()) {
      m.kind = Kind::kNull;
    } else {
      m.kind = value.is_object() ? Kind::kObject : Kind::kArray;
      other = value.dump();
      m.text = other;
    }
    SLUICE_RETURN_IF_ERROR(fn(context, key, m));
  }
  return Status();
}

}  // namespace

Status read_json_object(ByteView in, void* context, JsonMemberFn fn) {
  simdjson::dom::element root;
  if (parse_padded(in, root) != simdjson::SUCCESS) return read_with_nlohmann(in, context, fn);
  return read_members(root, context, fn);
}

Status read_json_object(const JsonMember& object, void* context, JsonMemberFn fn) {
  if (object.kind != JsonMember::Kind::kObject) return invalid_argument("not a JSON object");
  if (object.element) {
    return read_members(*static_cast<const simdjson::dom::element*>(object.element), context, fn);
  }
  // Read by nlohmann's parser (what simdjson refused): no simdjson document is in use, so its
  // parser may take the text.
  return read_json_object(object.text, context, fn);
}

std::string json_text(const JsonMember& m) {
  if (m.element) return simdjson::to_string(*static_cast<const simdjson::dom::element*>(m.element));
  return std::string(m.text);
}

void append_json_string(std::string_view s, Bytes& out) {
  if (!simdjson::validate_utf8(s.data(), s.size())) {
    throw std::invalid_argument("a string to write as JSON is not valid UTF-8");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t plain = 0;  // start of the run of bytes that need no escape
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + plain, i - plain);
    plain = i + 1;
    out.push_back('\\');
    switch (c) {
      case '"':
        out.push_back('"');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '\b':
        out.push_back('b');
        break;
      case '\f':
        out.push_back('f');
        break;
      case '\n':
        out.push_back('n');
        break;
      case '\r':
        out.push_back('r');
        break;
      case '\t':
        out.push_back('t');
        break;
      default:
        out.append("u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
  }
  out.append(s.data() + plain, s.size() - plain);
  out.push_back('"');
}

void append_json_double(double d, Bytes& out) {
  if (!std::isfinite(d)) {
    out.append("null");
    return;
  }
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof(buf), d).ptr;
  out.append(buf, end);
  if (std::string_view(buf, static_cast<size_t>(end - buf)).find_first_of(".e") ==
      std::string_view::npos) {
    out.append(".0");
  }
}

}  // namespace sluice::operators::detail

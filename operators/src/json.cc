// JSON text into nlohmann-json's document, parsed by simdjson (see serde.h).
#include <simdjson.h>

#include <cstring>
#include <string>
#include <string_view>

#include "sluice/operators/serde.h"

namespace sluice::operators::detail {
namespace {

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
  // Both reuse their memory from one record to the next (the buffer up to a megabyte: a huge
  // record gets one of its own): simdjson reads up to SIMDJSON_PADDING bytes past the text, so
  // the text is copied into a buffer with room for it.
  constexpr size_t kKeptBuffer = 1 << 20;
  thread_local simdjson::dom::parser parser;
  thread_local std::string kept;
  std::string own;
  std::string& padded = in.size() <= kKeptBuffer ? kept : own;
  if (padded.size() < in.size() + simdjson::SIMDJSON_PADDING) {
    padded.resize(in.size() + simdjson::SIMDJSON_PADDING);
  }
  std::memcpy(padded.data(), in.data(), in.size());
  simdjson::dom::element root;
  if (parser.parse(padded.data(), in.size(), /*realloc_if_needed=*/false).get(root) ==
      simdjson::SUCCESS) {
    return to_nlohmann(root);
  }
  // What simdjson refuses (malformed text, integers beyond 64 bits) goes to nlohmann's parser:
  // its error messages, or its reading of huge integers as doubles.
  return nlohmann::json::parse(in);
}

}  // namespace sluice::operators::detail

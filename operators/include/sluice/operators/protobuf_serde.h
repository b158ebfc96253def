// The serde for protobuf messages: every generated message type has one once this header is
// included (the wire format, as the message's own SerializeToString / ParseFromArray).
// Link protobuf::libprotobuf (the generated code needs it anyway).
//
// Thread safety: stateless.
#pragma once

#include <google/protobuf/message_lite.h>

#include <concepts>
#include <string>

#include "sluice/operators/serde.h"

namespace sluice::operators {

template <typename T>
requires std::derived_from<T, google::protobuf::MessageLite>
struct Serde<T> {
  static void serialize(const T& v, Bytes& out) { v.AppendToString(&out); }
  static Result<T> deserialize(ByteView in) {
    T message;
    if (!message.ParseFromArray(in.data(), static_cast<int>(in.size()))) {
      return invalid_argument("cannot decode a " + message.GetTypeName() + " protobuf message (" +
                              std::to_string(in.size()) + " bytes)");
    }
    return message;
  }
};

}  // namespace sluice::operators

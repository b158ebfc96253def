// The Kafka protocol's primitive types, read and written by the same field tables.
//
// Every message (messages.h) is described once, by a function template
// `fields(io, message)` that lists its fields in wire order with the versions that carry them.
// `io` is a Decoder (reads a request body into the struct) or an Encoder (writes the struct):
// the same table serves both directions, so a client-side test encodes requests and decodes
// responses with exactly the definitions the server uses. Only the non-flexible ("classic")
// encodings are here: int16-length strings, int32-length bytes and arrays, no tagged fields.
//
// Decoder never reads past its input and never allocates more than the input could describe
// (an array count above the bytes left is an error before anything is reserved). Errors are
// sticky: after the first, every read is a no-op and ok() stays false.
//
// Thread safety: values, confined to one request.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sluice/base/bytes.h"

namespace sluice::server::kafka {

class Decoder {
 public:
  Decoder(ByteView in, int16_t version)
      : in_(in), version_(version), element_budget_(in.size() * 8 + (1 << 20)) {}

  static constexpr bool kDecoding = true;
  int16_t version() const { return version_; }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t remaining() const { return in_.size(); }

  void int8(int8_t& v) { fixed(v); }
  void int16(int16_t& v) { fixed(v); }
  void int32(int32_t& v) { fixed(v); }
  void int64(int64_t& v) { fixed(v); }
  void boolean(bool& v) {
    int8_t b = 0;
    fixed(b);
    v = b != 0;
  }
  void string(std::string& s) {
    std::optional<std::string> v;
    nullable_string(v);
    if (ok() && !v) fail("a null string where one is required");
    if (v) s = std::move(*v);
  }
  void nullable_string(std::optional<std::string>& s) {
    int16_t n = 0;
    fixed(n);
    s.reset();
    if (!ok() || n == -1) return;
    if (n < 0 || static_cast<size_t>(n) > in_.size()) return fail("a string runs past the request");
    s.emplace(in_.substr(0, static_cast<size_t>(n)));
    in_.remove_prefix(static_cast<size_t>(n));
  }
  // Views into the input: valid while the request's buffer is.
  void bytes(ByteView& b) {
    std::optional<ByteView> v;
    nullable_bytes(v);
    if (ok() && !v) fail("null bytes where they are required");
    if (v) b = *v;
  }
  void nullable_bytes(std::optional<ByteView>& b) {
    int32_t n = 0;
    fixed(n);
    b.reset();
    if (!ok() || n == -1) return;
    if (n < 0 || static_cast<size_t>(n) > in_.size()) return fail("bytes run past the request");
    b = in_.substr(0, static_cast<size_t>(n));
    in_.remove_prefix(static_cast<size_t>(n));
  }
  template <typename T, typename Fn>
  void array(std::vector<T>& v, Fn&& each) {
    std::optional<std::vector<T>> a;
    nullable_array(a, each);
    if (ok() && !a) fail("a null array where one is required");
    if (a) v = std::move(*a);
  }
  template <typename T, typename Fn>
  void nullable_array(std::optional<std::vector<T>>& v, Fn&& each) {
    int32_t n = 0;
    fixed(n);
    v.reset();
    if (!ok() || n == -1) return;
    // Every element takes at least one byte: a larger count is a lie, refused before any
    // allocation. And the decoded elements of a request may take at most 8 times its bytes
    // (plus 1 MiB): a small element on the wire can be a large struct here.
    if (n < 0 || static_cast<size_t>(n) > in_.size()) return fail("an array runs past the request");
    if (static_cast<size_t>(n) * sizeof(T) > element_budget_) {
      return fail("the request describes more elements than its size allows");
    }
    element_budget_ -= static_cast<size_t>(n) * sizeof(T);
    v.emplace();
    v->resize(static_cast<size_t>(n));
    for (T& e : *v) {
      each(e);
      if (!ok()) return;
    }
  }

  void fail(const char* what) {
    if (error_.empty()) error_ = what;
    in_ = {};
  }

 private:
  template <typename T>
  void fixed(T& v) {
    if (!ok()) return;
    if (in_.size() < sizeof(T)) return fail("the request ends early");
    v = load_be<T>(in_.data());
    in_.remove_prefix(sizeof(T));
  }

  ByteView in_;
  int16_t version_;
  size_t element_budget_;  // bytes of decoded array elements still allowed
  std::string error_;
};

class Encoder {
 public:
  Encoder(Bytes& out, int16_t version) : out_(out), version_(version) {}

  static constexpr bool kDecoding = false;
  int16_t version() const { return version_; }
  bool ok() const { return true; }

  void int8(const int8_t& v) { append_be(out_, v); }
  void int16(const int16_t& v) { append_be(out_, v); }
  void int32(const int32_t& v) { append_be(out_, v); }
  void int64(const int64_t& v) { append_be(out_, v); }
  void boolean(const bool& v) { append_be<int8_t>(out_, v ? 1 : 0); }
  // A string longer than the protocol's int16 length allows is cut (only absurd inputs, such as
  // a client id of 32 KiB inside a member id, come near it).
  void string(const std::string& s) {
    const size_t n = std::min<size_t>(s.size(), INT16_MAX);
    append_be<int16_t>(out_, static_cast<int16_t>(n));
    out_.append(s.data(), n);
  }
  void nullable_string(const std::optional<std::string>& s) {
    if (!s) return append_be<int16_t>(out_, -1);
    string(*s);
  }
  void bytes(const ByteView& b) {
    append_be<int32_t>(out_, static_cast<int32_t>(b.size()));
    out_.append(b);
  }
  void nullable_bytes(const std::optional<ByteView>& b) {
    if (!b) return append_be<int32_t>(out_, -1);
    bytes(*b);
  }
  template <typename T, typename Fn>
  void array(std::vector<T>& v, Fn&& each) {
    append_be<int32_t>(out_, static_cast<int32_t>(v.size()));
    for (T& e : v) each(e);
  }
  template <typename T, typename Fn>
  void nullable_array(std::optional<std::vector<T>>& v, Fn&& each) {
    if (!v) return append_be<int32_t>(out_, -1);
    array(*v, each);
  }

 private:
  Bytes& out_;
  int16_t version_;
};

// Field-table helpers: `int32s(io, v)` for an array of int32 (replica lists, partition ids).
template <typename IO>
void int32s(IO& io, std::vector<int32_t>& v) {
  io.array(v, [&](int32_t& e) { io.int32(e); });
}
template <typename IO>
void int64s(IO& io, std::vector<int64_t>& v) {
  io.array(v, [&](int64_t& e) { io.int64(e); });
}
template <typename IO>
void strings(IO& io, std::vector<std::string>& v) {
  io.array(v, [&](std::string& e) { io.string(e); });
}

}  // namespace sluice::server::kafka

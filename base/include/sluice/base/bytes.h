// Byte views and buffers, and the big-endian and varint codecs every format of ours uses.
//
// Keys, values and encoded batches are "bytes": `ByteView` (non-owning, like leveldb's Slice)
// and `Bytes` (owning). They are std::string_view and std::string so that they interoperate
// with RocksDB, protobuf and the standard library without conversions; nothing assumes they hold
// text. A key or value that may be absent (Kafka's null, distinct from empty) is an
// std::optional<ByteView>.
//
// Thread safety: free functions over caller-owned memory.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace sluice {

using ByteView = std::string_view;
using Bytes = std::string;

namespace detail {
template <typename U>
constexpr U byteswap(U u) {
  if constexpr (sizeof(U) == 1) return u;
  if constexpr (sizeof(U) == 2) return static_cast<U>(__builtin_bswap16(u));
  if constexpr (sizeof(U) == 4) return static_cast<U>(__builtin_bswap32(u));
  if constexpr (sizeof(U) == 8) return static_cast<U>(__builtin_bswap64(u));
}
}  // namespace detail

// --- Fixed-width big-endian integers (network byte order, as Kafka's formats use). ---

// Reads a T stored big-endian at `p` (no alignment needed).
template <typename T>
inline T load_be(const char* p) {
  static_assert(std::is_integral_v<T>);
  using U = std::make_unsigned_t<T>;
  U u;
  std::memcpy(&u, p, sizeof(u));
  if constexpr (std::endian::native == std::endian::little) u = detail::byteswap(u);
  return static_cast<T>(u);
}

// Writes `v` big-endian at `p`.
template <typename T>
inline void store_be(char* p, T v) {
  static_assert(std::is_integral_v<T>);
  using U = std::make_unsigned_t<T>;
  U u = static_cast<U>(v);
  if constexpr (std::endian::native == std::endian::little) u = detail::byteswap(u);
  std::memcpy(p, &u, sizeof(u));
}

// Appends `v` big-endian to `out`.
template <typename T>
inline void append_be(Bytes& out, T v) {
  char buf[sizeof(T)];
  store_be(buf, v);
  out.append(buf, sizeof(T));
}

// --- Zig-zag varints (protobuf's sint32/sint64; Kafka's record fields). ---

inline constexpr int kMaxVarint32Bytes = 5;
inline constexpr int kMaxVarint64Bytes = 10;

inline uint64_t zigzag_encode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t zigzag_decode(uint64_t u) {
  return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
}

// Writes the unsigned varint `u` at `p` (room for kMaxVarint64Bytes) and returns its length.
inline int put_uvarint(char* p, uint64_t u) {
  int n = 0;
  while (u >= 0x80) {
    p[n++] = static_cast<char>(u | 0x80);
    u >>= 7;
  }
  p[n++] = static_cast<char>(u);
  return n;
}

// Appends the zig-zag varint of `v` to `out`.
inline void append_varint(Bytes& out, int64_t v) {
  char buf[kMaxVarint64Bytes];
  out.append(buf, static_cast<size_t>(put_uvarint(buf, zigzag_encode(v))));
}

// The number of bytes the zig-zag varint of `v` takes.
inline int varint_size(int64_t v) {
  uint64_t u = zigzag_encode(v);
  int n = 1;
  while (u >= 0x80) {
    u >>= 7;
    ++n;
  }
  return n;
}

// Sequential reader over a byte view that never reads past its end: each get_* returns false
// (and leaves the reader in a failed state) when the input is short or malformed.
class ByteReader {
 public:
  explicit ByteReader(ByteView in) : p_(in.data()), end_(in.data() + in.size()) {}

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  const char* position() const { return p_; }

  template <typename T>
  bool get_be(T& out) {
    if (remaining() < sizeof(T)) return false;
    out = load_be<T>(p_);
    p_ += sizeof(T);
    return true;
  }

  // A zig-zag varint of at most `max_bytes` bytes.
  bool get_varint(int64_t& out, int max_bytes = kMaxVarint64Bytes) {
    // Most fields of most records fit one or two bytes.
    if (end_ - p_ >= 2) {
      const auto b0 = static_cast<uint8_t>(p_[0]);
      if (b0 < 0x80) {
        out = zigzag_decode(b0);
        p_ += 1;
        return true;
      }
      const auto b1 = static_cast<uint8_t>(p_[1]);
      if (b1 < 0x80 && max_bytes >= 2) {
        out = zigzag_decode((b0 & 0x7fu) | (static_cast<uint64_t>(b1) << 7));
        p_ += 2;
        return true;
      }
    }
    uint64_t u = 0;
    for (int shift = 0, i = 0; i < max_bytes; ++i, shift += 7) {
      if (p_ == end_) return false;
      auto b = static_cast<uint8_t>(*p_++);
      u |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        out = zigzag_decode(u);
        return true;
      }
    }
    return false;
  }

  bool get_varint32(int32_t& out) {
    int64_t v;
    if (!get_varint(v, kMaxVarint32Bytes)) return false;
    if (v < INT32_MIN || v > INT32_MAX) return false;
    out = static_cast<int32_t>(v);
    return true;
  }

  bool get_bytes(size_t n, ByteView& out) {
    if (remaining() < n) return false;
    out = ByteView(p_, n);
    p_ += n;
    return true;
  }

  // A varint length followed by that many bytes; length -1 is null (nullopt).
  bool get_nullable_bytes(std::optional<ByteView>& out) {
    int32_t len;
    if (!get_varint32(len)) return false;
    if (len < -1) return false;
    if (len == -1) {
      out.reset();
      return true;
    }
    ByteView v;
    if (!get_bytes(static_cast<size_t>(len), v)) return false;
    out = v;
    return true;
  }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace sluice

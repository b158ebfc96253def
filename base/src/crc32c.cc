// CRC-32C: a portable slicing-by-8 implementation and an x86-64 one built on the SSE4.2 crc32
// instruction, one of which is chosen at the first call.
//
// Both work on the raw CRC register r: a 32-bit polynomial over GF(2) in "reflected" order (bit
// 31 - i holds the coefficient of x^i). Feeding bytes B into r gives r * x^(8|B|) + B * x^32,
// reduced mod P. That is linear in r, which is what lets the hardware path checksum three blocks
// independently and join the results afterwards.
#include "sluice/base/crc32c.h"

#include <array>
#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>  // SSE4.2: _mm_crc32_*
#include <wmmintrin.h>  // PCLMULQDQ: _mm_clmulepi64_si128
#define SLUICE_CRC32C_X86 1
#else
#define SLUICE_CRC32C_X86 0
#endif

namespace sluice::crc32c {
namespace {

// P(x) without its x^32 term, reflected.
constexpr uint32_t kPolynomial = 0x82F63B78u;
// The polynomial 1 (the coefficient of x^0 is bit 31).
constexpr uint32_t kOne = 0x80000000u;

// p(x) * x mod P.
constexpr uint32_t times_x(uint32_t p) { return (p >> 1) ^ ((p & 1) ? kPolynomial : 0); }

// a(x) * b(x) mod P.
constexpr uint32_t multiply(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (int i = 0; i < 32; ++i, b = times_x(b)) {  // b is now b(x) * x^i
    if (a & (kOne >> i)) product ^= b;
  }
  return product;
}

// x^n mod P, by square-and-multiply.
constexpr uint32_t x_pow(uint64_t n) {
  uint32_t result = kOne;
  for (uint32_t square = times_x(kOne); n != 0; n >>= 1, square = multiply(square, square)) {
    if (n & 1) result = multiply(result, square);
  }
  return result;
}

static_assert(x_pow(0) == kOne && x_pow(1) == times_x(kOne));
static_assert(x_pow(32) == kPolynomial);  // x^32 = P(x) - x^32 mod P

// --- Portable: slicing-by-8. ---

using Tables = std::array<std::array<uint32_t, 256>, 8>;

// tables[0][b] is the register after feeding byte b into a zero register (b lands on x^31..x^24;
// eight multiplications by x move it through x^32 and reduce it); tables[k][b] is that followed
// by k zero bytes, so the eight bytes of a word can be looked up independently and xor-ed.
constexpr Tables make_tables() {
  Tables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t r = b;
    for (int bit = 0; bit < 8; ++bit) r = times_x(r);
    t[0][b] = r;
  }
  for (size_t k = 1; k < t.size(); ++k) {
    for (size_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
  }
  return t;
}

constexpr Tables kTables = make_tables();

// The little-endian 32-bit word at `p` (any alignment): CRC bytes are fed lowest first.
inline uint32_t load_le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
  return v;
}

// Feeds 8 bytes into `r`: the first four are folded into the register, and every byte is then
// looked up in the table that accounts for the bytes still to come after it.
inline uint32_t portable_word(uint32_t r, const uint8_t* p) {
  const auto& t = kTables;
  uint32_t lo = r ^ load_le32(p);
  uint32_t hi = load_le32(p + 4);
  return t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
         t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
}

// --- Hardware: SSE4.2 crc32 over three streams, joined with PCLMULQDQ. ---

#if SLUICE_CRC32C_X86
#define SLUICE_CRC32C_TARGET __attribute__((target("sse4.2,pclmul")))

inline uint64_t load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// r * x^(8 * kBytes) mod P: the register after kBytes zero bytes. A carry-less product of two
// reflected 32-bit polynomials, read as a reflected 64-bit one, is a * b * x; crc32 of a 64-bit
// word w is w * x^32. So multiplying by x^(8 * kBytes - 33) first leaves exactly x^(8 * kBytes).
template <size_t kBytes>
SLUICE_CRC32C_TARGET inline uint64_t shift(uint64_t r) {
  static_assert(8 * kBytes > 33);
  constexpr uint32_t kFactor = x_pow(8 * kBytes - 33);
  __m128i product = _mm_clmulepi64_si128(_mm_cvtsi64_si128(static_cast<int64_t>(r)),
                                         _mm_cvtsi32_si128(static_cast<int>(kFactor)), 0);
  return _mm_crc32_u64(0, static_cast<uint64_t>(_mm_cvtsi128_si64(product)));
}

// Consumes as many runs of three kBlock-byte blocks as [p, p + n) holds. crc32 has a latency of
// three cycles but issues one per cycle, so three independent chains keep it busy; the second and
// third blocks start from a zero register and are shifted into place when the run ends.
template <size_t kBlock>
SLUICE_CRC32C_TARGET inline uint64_t three_streams(uint64_t r, const char*& p, size_t& n) {
  static_assert(kBlock % 8 == 0);
  for (; n >= 3 * kBlock; p += 3 * kBlock, n -= 3 * kBlock) {
    uint64_t r1 = 0;
    uint64_t r2 = 0;
    for (size_t i = 0; i < kBlock; i += 8) {
      r = _mm_crc32_u64(r, load64(p + i));
      r1 = _mm_crc32_u64(r1, load64(p + kBlock + i));
      r2 = _mm_crc32_u64(r2, load64(p + 2 * kBlock + i));
    }
    r = shift<2 * kBlock>(r) ^ shift<kBlock>(r1) ^ r2;
  }
  return r;
}

SLUICE_CRC32C_TARGET uint32_t extend_sse42(uint32_t crc, const char* p, size_t n) {
  uint64_t r = ~crc;
  // Single bytes up to an 8-byte boundary, so no word load below straddles a cache line.
  for (; n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0; ++p, --n) {
    r = _mm_crc32_u8(static_cast<uint32_t>(r), static_cast<uint8_t>(*p));
  }
  // Large blocks amortise the join (a few cycles); the smaller sizes keep short inputs, and the
  // remainder of long ones, on three streams too.
  r = three_streams<4096>(r, p, n);
  r = three_streams<512>(r, p, n);
  r = three_streams<64>(r, p, n);
  for (; n >= 8; p += 8, n -= 8) r = _mm_crc32_u64(r, load64(p));
  for (; n > 0; ++p, --n) r = _mm_crc32_u8(static_cast<uint32_t>(r), static_cast<uint8_t>(*p));
  return ~static_cast<uint32_t>(r);
}
#endif  // SLUICE_CRC32C_X86

using ExtendFn = uint32_t (*)(uint32_t, const char*, size_t);

ExtendFn choose_implementation() {
#if SLUICE_CRC32C_X86
  // Needed when the first call comes from a static initialiser that runs before libgcc's.
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul")) {
    return &detail::extend_hardware;
  }
#endif
  return &detail::extend_portable;
}

// A function-local static: chosen once, thread-safely, and never before it is first needed.
ExtendFn implementation() {
  static const ExtendFn chosen = choose_implementation();
  return chosen;
}

}  // namespace

uint32_t extend(uint32_t crc, const char* data, size_t n) { return implementation()(crc, data, n); }

bool hardware_accelerated() { return implementation() == &detail::extend_hardware; }

namespace detail {

uint32_t extend_portable(uint32_t crc, const char* data, size_t n) {
  auto p = reinterpret_cast<const uint8_t*>(data);
  uint32_t r = ~crc;
  for (; n >= 8; p += 8, n -= 8) r = portable_word(r, p);
  for (; n > 0; ++p, --n) r = (r >> 8) ^ kTables[0][(r ^ *p) & 0xFF];
  return ~r;
}

uint32_t extend_hardware(uint32_t crc, const char* data, size_t n) {
#if SLUICE_CRC32C_X86
  return extend_sse42(crc, data, n);
#else
  return extend_portable(crc, data, n);
#endif
}

}  // namespace detail

}  // namespace sluice::crc32c

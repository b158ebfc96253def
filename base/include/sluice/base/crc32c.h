// CRC-32C (Castagnoli): the checksum of Kafka's RecordBatch v2 and of our own segment formats.
//
// The polynomial is 0x1EDC6F41 (reflected 0x82F63B78), with the conventional initial value and
// final xor of 0xFFFFFFFF, so `value("123456789") == 0xE3069283` (the standard check value) and
// the checksum of nothing is 0. Bits are reflected: the byte order on disk is the caller's choice
// (Kafka stores the value big-endian with store_be<uint32_t>).
//
// Two implementations exist and one is chosen once, at the first call, from what the CPU offers:
// on x86-64 with SSE4.2 and PCLMULQDQ, the `crc32` instruction over three interleaved streams
// (more than 10 GB/s on large buffers); elsewhere, table-driven slicing-by-8 (about 1-2 GB/s).
// Both compute the same function; which one ran is observable only through speed and
// hardware_accelerated().
//
// Thread safety: all functions are pure over caller-owned memory and safe to call concurrently
// from any thread, including during static initialisation.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sluice/base/bytes.h"

namespace sluice::crc32c {

// Returns the CRC-32C of the concatenation A + data[0, n), where `crc` is the CRC-32C of A.
// `extend(0, data, n)` is the CRC-32C of data[0, n) alone, so a checksum over scattered pieces
// can be built piece by piece: extend(extend(0, a, na), b, nb) == CRC of a followed by b.
// `data` may be null when `n` is 0; it needs no particular alignment.
uint32_t extend(uint32_t crc, const char* data, size_t n);

// Returns the CRC-32C of `data`.
inline uint32_t value(ByteView data) { return extend(0, data.data(), data.size()); }

// True when extend() uses the SSE4.2 `crc32` instruction (with PCLMULQDQ to join its three
// streams); false when it uses the portable table-driven code.
bool hardware_accelerated();

// For tests and benchmarks only: each implementation, callable directly so both can be compared
// on the same input. Same contract as extend(). Production code calls extend().
namespace detail {

// Slicing-by-8 over compile-time tables. Works on every CPU.
uint32_t extend_portable(uint32_t crc, const char* data, size_t n);

// The SSE4.2 + PCLMULQDQ path. Precondition: hardware_accelerated() is true; on other CPUs it
// would execute illegal instructions. On non-x86-64 builds it forwards to extend_portable().
uint32_t extend_hardware(uint32_t crc, const char* data, size_t n);

}  // namespace detail

}  // namespace sluice::crc32c

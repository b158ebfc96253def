// The files of a partition directory and the formats of the small ones (indexes, snapshots).
// The prose version is docs/LOG-FORMAT.md; keep the two in step.
//
//   <data-dir>/topics/<topic>/topic.json           topic config and partition count
//   <data-dir>/topics/<topic>/<partition>/
//       <base-offset>.log         record batches (RecordBatch v2), the source of truth
//       <base-offset>.index       sparse offset index, written when the segment is sealed
//       <base-offset>.timeindex   sparse time index, written when the segment is sealed
//       <base-offset>.txnindex    aborted transactions whose abort marker is in this segment
//       <base-offset>.snapshot    producer state as of <base-offset> (idempotence, open txns)
//       log-start                 the log start offset, when records were deleted before it
//
// <base-offset> is the segment's first offset, zero-padded to 20 digits. Every derived file
// (everything but .log) can be rebuilt from the .log files and is, when it is missing or fails
// its checks.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/base/ids.h"

namespace sluice::logstore::files {

inline constexpr std::string_view kLogSuffix = ".log";
inline constexpr std::string_view kIndexSuffix = ".index";
inline constexpr std::string_view kTimeIndexSuffix = ".timeindex";
inline constexpr std::string_view kTxnIndexSuffix = ".txnindex";
inline constexpr std::string_view kSnapshotSuffix = ".snapshot";
inline constexpr std::string_view kCleanedSuffix = ".cleaned";  // compaction output in progress
inline constexpr std::string_view kSwapSuffix = ".swap";        // compaction output ready
inline constexpr std::string_view kLogStartFile = "log-start";
// How far compaction has cleaned; its presence also says the partition's sealed segments may
// have gaps between batches.
inline constexpr std::string_view kCleanerCheckpointFile = "cleaner-checkpoint";
inline constexpr std::string_view kTopicFile = "topic.json";

// Derived files end with a 16-byte trailer: magic u32 | version u32 | entry count u32 | CRC-32C
// u32 of everything before the trailer. All integers big-endian.
inline constexpr uint32_t kIndexMagic = 0x534c4958;      // "SLIX"
inline constexpr uint32_t kTimeIndexMagic = 0x534c5449;  // "SLTI"
inline constexpr uint32_t kTxnIndexMagic = 0x534c5458;   // "SLTX"
inline constexpr uint32_t kSnapshotMagic = 0x534c5053;   // "SLPS"
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr size_t kTrailerSize = 16;

// Offset index: a 24-byte header | entries of (relative offset u32, position u32).
// Header: log size u64 | next offset i64 | max timestamp i64 — the sealed segment's facts, so a
// reopen need not scan the segment.
inline constexpr size_t kIndexHeaderSize = 24;
inline constexpr size_t kOffsetEntrySize = 8;
// Time index: entries of (max timestamp so far i64, relative offset u32).
inline constexpr size_t kTimeEntrySize = 12;
// Aborted transaction index: entries of (producer id i64, first offset i64, last offset i64).
inline constexpr size_t kTxnEntrySize = 24;

inline std::string segment_name(Offset base, std::string_view suffix) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020lld", static_cast<long long>(base.value()));
  return std::string(buf) + std::string(suffix);
}

// Parses "<20 digits><suffix>"; nullopt for any other name.
inline std::optional<Offset> parse_segment_name(std::string_view name, std::string_view suffix) {
  if (name.size() != 20 + suffix.size() || name.substr(20) != suffix) return std::nullopt;
  int64_t v = 0;
  for (char c : name.substr(0, 20)) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return Offset(v);
}

}  // namespace sluice::logstore::files

// Kafka's key hash: the 32-bit MurmurHash2 variant of Kafka's Java client (Utils.murmur2),
// and the default partitioner built on it. Sluice uses it for every keyed partition choice, so
// a record lands in the partition a Kafka client would pick for the same key bytes — which the
// Apache Kafka backend and clients producing to Sluice rely on.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice {

// MurmurHash2, seed 0x9747b28c, as Kafka computes it (signed result as in Java).
int32_t murmur2(std::string_view bytes);

// The partition Kafka's default partitioner picks for a non-null key:
// (murmur2(key) & 0x7fffffff) % partitions. `partitions` must be positive.
int32_t kafka_partition_for_key(std::string_view key, int32_t partitions);

}  // namespace sluice

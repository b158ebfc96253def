// Strong types for offsets, ids and timestamps.
//
// An Offset is not a PartitionId is not a Timestamp, even though all three are integers: mixing
// them up is a compile error. Each is a thin wrapper around its representation with the
// comparisons and only the arithmetic that makes sense for it.
//
// Thread safety: values.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>

namespace sluice {

// A wrapper that gives an integer a distinct type. `Tag` only tells types apart.
template <typename Tag, typename Rep>
class StrongInt {
 public:
  using rep = Rep;

  constexpr StrongInt() = default;
  constexpr explicit StrongInt(Rep v) : v_(v) {}

  constexpr Rep value() const { return v_; }

  friend constexpr auto operator<=>(StrongInt, StrongInt) = default;
  friend constexpr bool operator==(StrongInt, StrongInt) = default;

  friend std::ostream& operator<<(std::ostream& os, StrongInt v) { return os << v.v_; }

 protected:
  Rep v_{};
};

// An offset in a partition: the position of a record in the log, dense at append time.
class Offset : public StrongInt<Offset, int64_t> {
 public:
  using StrongInt::StrongInt;
  constexpr Offset next() const { return Offset(v_ + 1); }
  constexpr Offset operator+(int64_t d) const { return Offset(v_ + d); }
  constexpr Offset operator-(int64_t d) const { return Offset(v_ - d); }
  // The number of offsets from `o` to this one.
  constexpr int64_t operator-(Offset o) const { return v_ - o.v_; }
  constexpr Offset& operator++() {
    ++v_;
    return *this;
  }
};

// A partition number within a topic, 0-based.
class PartitionId : public StrongInt<PartitionId, int32_t> {
 public:
  using StrongInt::StrongInt;
};

// An idempotent or transactional producer's id; -1 (kNoProducerId) for plain producers.
class ProducerId : public StrongInt<ProducerId, int64_t> {
 public:
  using StrongInt::StrongInt;
};
inline constexpr ProducerId kNoProducerId{-1};

// A producer's epoch. Bumped each time a transactional producer (re)starts, so an older
// instance of it is fenced. -1 for plain producers.
class ProducerEpoch : public StrongInt<ProducerEpoch, int16_t> {
 public:
  using StrongInt::StrongInt;
};
inline constexpr ProducerEpoch kNoProducerEpoch{-1};

// A producer's sequence number of a record within one partition; -1 for plain producers.
class Sequence : public StrongInt<Sequence, int32_t> {
 public:
  using StrongInt::StrongInt;
};
inline constexpr Sequence kNoSequence{-1};

// Milliseconds since the Unix epoch (the unit Kafka uses). -1 means "no timestamp".
class Timestamp : public StrongInt<Timestamp, int64_t> {
 public:
  using StrongInt::StrongInt;
  constexpr Timestamp operator+(int64_t ms) const { return Timestamp(v_ + ms); }
  constexpr Timestamp operator-(int64_t ms) const { return Timestamp(v_ - ms); }
  constexpr int64_t operator-(Timestamp o) const { return v_ - o.v_; }
};
inline constexpr Timestamp kNoTimestamp{-1};

}  // namespace sluice

#define SLUICE_STRONG_HASH_(T)                                                       \
  template <>                                                                        \
  struct std::hash<T> {                                                              \
    size_t operator()(T v) const noexcept { return std::hash<T::rep>{}(v.value()); } \
  }
SLUICE_STRONG_HASH_(sluice::Offset);
SLUICE_STRONG_HASH_(sluice::PartitionId);
SLUICE_STRONG_HASH_(sluice::ProducerId);
SLUICE_STRONG_HASH_(sluice::ProducerEpoch);
SLUICE_STRONG_HASH_(sluice::Sequence);
SLUICE_STRONG_HASH_(sluice::Timestamp);
#undef SLUICE_STRONG_HASH_

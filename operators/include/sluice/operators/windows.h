// Windows on event time, and the windowed key they produce.
//
//   TumblingWindows::of(1min).grace(30s)            fixed, non-overlapping [start, start + size)
//   HoppingWindows::of(5min).advance_by(1min)       fixed size, a new window every advance
//   SlidingWindows::of_time_difference(10s)         record-driven (Kafka Streams' KIP-450)
//   SessionWindows::with_inactivity_gap(30min)      per key, closed after a gap without events
//   JoinWindows::of(10min).grace(1min)              stream-stream joins: |t1 - t2| <= 10 min
//
// Windows are aligned to the epoch. A window accepts records until stream time passes its end
// plus the grace period; later records are late: dropped and counted, or sent to the
// late-record topic. Without grace() the grace is zero.
//
// Thread safety: values.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "sluice/base/check.h"
#include "sluice/base/ids.h"
#include "sluice/operators/serde.h"

namespace sluice::operators {

inline int64_t to_ms(std::chrono::milliseconds d) { return d.count(); }

// [start, end) in event time; session windows use [start, end] (their last event's time).
struct Window {
  Timestamp start;
  Timestamp end;
  friend auto operator<=>(const Window&, const Window&) = default;
};

// A key together with the window of a windowed result.
template <typename K>
struct Windowed {
  K key;
  Window window;
  friend auto operator<=>(const Windowed&, const Windowed&) = default;
};

// Windowed<K> at the edges: the key's bytes, then start and end as big-endian int64.
template <typename K>
struct Serde<Windowed<K>> {
  static void serialize(const Windowed<K>& v, Bytes& out) {
    Serde<K>::serialize(v.key, out);
    append_be<int64_t>(out, v.window.start.value());
    append_be<int64_t>(out, v.window.end.value());
  }
  static Result<Windowed<K>> deserialize(ByteView in) {
    if (in.size() < 16) return invalid_argument("windowed key shorter than its window");
    auto key = Serde<K>::deserialize(in.substr(0, in.size() - 16));
    if (!key.ok()) return key.status();
    const char* w = in.data() + in.size() - 16;
    return Windowed<K>{std::move(key).value(),
                       {Timestamp(load_be<int64_t>(w)), Timestamp(load_be<int64_t>(w + 8))}};
  }
};

// Fixed-size windows: tumbling when advance == size, hopping when advance < size.
struct TimeWindows {
  int64_t size_ms = 0;
  int64_t advance_ms = 0;
  int64_t grace_ms = 0;

  TimeWindows grace(std::chrono::milliseconds g) const {
    TimeWindows w = *this;
    w.grace_ms = to_ms(g);
    return w;
  }
  TimeWindows advance_by(std::chrono::milliseconds a) const {
    SLUICE_CHECK(to_ms(a) > 0 && to_ms(a) <= size_ms);
    TimeWindows w = *this;
    w.advance_ms = to_ms(a);
    return w;
  }
  // The windows that contain `t`, by start.
  std::vector<Window> windows_for(Timestamp t) const {
    std::vector<Window> out;
    const int64_t ts = t.value();
    // The latest window start <= ts, aligned to the epoch (floor for negative times too).
    int64_t last = ts - ((ts % advance_ms) + advance_ms) % advance_ms;
    for (int64_t start = last - ((size_ms - 1) / advance_ms) * advance_ms; start <= last;
         start += advance_ms) {
      // No window starts before the epoch (as Kafka Streams).
      if (start >= 0 && start + size_ms > ts) {
        out.push_back({Timestamp(start), Timestamp(start + size_ms)});
      }
    }
    return out;
  }
  std::string describe() const {
    return advance_ms == size_ms ? "tumbling " + std::to_string(size_ms) + " ms"
                                 : "hopping " + std::to_string(size_ms) + " ms every " +
                                       std::to_string(advance_ms) + " ms";
  }
};

struct TumblingWindows {
  static TimeWindows of(std::chrono::milliseconds size) {
    SLUICE_CHECK(size.count() > 0);
    return TimeWindows{to_ms(size), to_ms(size), 0};
  }
};

struct HoppingWindows {
  // Call advance_by() next; until then the windows tumble.
  static TimeWindows of(std::chrono::milliseconds size) { return TumblingWindows::of(size); }
};

// Record-driven windows of a fixed time difference: each record defines the window
// [t - difference, t] (and the one starting just after it), as Kafka Streams' SlidingWindows.
struct SlidingWindows {
  int64_t difference_ms = 0;
  int64_t grace_ms = 0;

  static SlidingWindows of_time_difference(std::chrono::milliseconds d) {
    SLUICE_CHECK(d.count() > 0);
    return SlidingWindows{to_ms(d), 0};
  }
  SlidingWindows grace(std::chrono::milliseconds g) const {
    return SlidingWindows{difference_ms, to_ms(g)};
  }
};

struct SessionWindows {
  int64_t gap_ms = 0;
  int64_t grace_ms = 0;

  static SessionWindows with_inactivity_gap(std::chrono::milliseconds gap) {
    SLUICE_CHECK(gap.count() > 0);
    return SessionWindows{to_ms(gap), 0};
  }
  SessionWindows grace(std::chrono::milliseconds g) const {
    return SessionWindows{gap_ms, to_ms(g)};
  }
};

// Stream-stream joins: records of the two sides join when their timestamps differ by at most
// before_ms (other side earlier) / after_ms (other side later).
struct JoinWindows {
  int64_t before_ms = 0;
  int64_t after_ms = 0;
  int64_t grace_ms = 0;

  static JoinWindows of(std::chrono::milliseconds d) {
    SLUICE_CHECK(d.count() >= 0);
    return JoinWindows{to_ms(d), to_ms(d), 0};
  }
  JoinWindows grace(std::chrono::milliseconds g) const {
    return JoinWindows{before_ms, after_ms, to_ms(g)};
  }
  JoinWindows before(std::chrono::milliseconds d) const {
    return JoinWindows{to_ms(d), after_ms, grace_ms};
  }
  JoinWindows after(std::chrono::milliseconds d) const {
    return JoinWindows{before_ms, to_ms(d), grace_ms};
  }
};

// Whether a windowed result is emitted on every update or once, when its window closes.
enum class EmitStrategy : int8_t { kOnEveryUpdate, kOnWindowClose };

}  // namespace sluice::operators

// Property tests: 100,000 random events — random keys, out-of-order timestamps, two input
// partitions — through the real topology (log, RocksDB stores, tasks), compared with a brute-
// force oracle: a separate, simple implementation that replays each partition in the order its
// task processes it, under the same stream-time and grace rules.
//
// Compared: final values per (key, window) for emit-on-close; the per-key sequence of updates
// for emit-on-every-update; join results as multisets. The seed is printed; rerun one with
// SLUICE_PROPERTY_SEED=<seed>.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <set>

#include "sluice/base/murmur2.h"
#include "test_util.h"

namespace sluice::dsl {
namespace {

using namespace std::chrono_literals;
using testing::driver_for;

constexpr int kEvents = 100'000;
constexpr int32_t kPartitions = 2;

struct Event {
  std::string key;
  int64_t value;
  int64_t ts;
  int32_t partition;
  int side = 0;  // joins: 0 left ("left" topic), 1 right ("right" topic)
};

uint64_t seed() {
  if (const char* s = std::getenv("SLUICE_PROPERTY_SEED")) return std::strtoull(s, nullptr, 10);
  return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

// Keys from a small pool; timestamps drift forward with jitter that makes ~30% arrive late
// relative to the largest seen.
std::vector<Event> generate(uint64_t s, bool two_sides = false) {
  std::mt19937_64 rng(s);
  std::vector<Event> out;
  out.reserve(kEvents);
  for (int i = 0; i < kEvents; ++i) {
    Event e;
    e.key = "k" + std::to_string(rng() % 40);
    e.value = static_cast<int64_t>(rng() % 100) + 1;
    const int64_t jitter = static_cast<int64_t>(rng() % 400) - 300;
    e.ts = std::max<int64_t>(0, i * 5 + jitter);
    e.partition = kafka_partition_for_key(e.key, kPartitions);
    e.side = two_sides ? static_cast<int>(rng() % 2) : 0;
    out.push_back(std::move(e));
  }
  return out;
}

Bytes long_bytes(int64_t v) {
  Bytes b;
  operators::Serde<int64_t>::serialize(v, b);
  return b;
}

Status append(TopologyTestDriver& d, const std::string& topic, const std::vector<Event>& events,
              int side = 0) {
  std::vector<TopologyTestDriver::RawRecord> raw;
  for (const auto& e : events) {
    if (e.side != side) continue;
    raw.push_back({e.key, long_bytes(e.value), Timestamp(e.ts), PartitionId(e.partition)});
  }
  return d.append_raw(topic, raw);
}

using WKey = std::pair<std::string, int64_t>;  // (key, window start)

// ---- fixed windows ----

struct FixedResult {
  std::map<WKey, int64_t> final_values;          // windows closed by the end
  std::map<WKey, std::vector<int64_t>> updates;  // every update, per (key, window)
  int64_t late = 0;
};

FixedResult fixed_oracle(const std::vector<Event>& events, int64_t size, int64_t advance,
                         int64_t grace) {
  FixedResult r;
  for (int32_t p = 0; p < kPartitions; ++p) {
    int64_t stream = -1;
    std::map<WKey, int64_t> sums;
    for (const auto& e : events) {
      if (e.partition != p) continue;
      stream = std::max(stream, e.ts);
      bool accepted = false;
      for (int64_t start = e.ts - e.ts % advance; start > e.ts - size; start -= advance) {
        if (start < 0) break;
        if (start + size + grace <= stream) continue;  // closed
        accepted = true;
        const int64_t v = sums[{e.key, start}] += e.value;
        r.updates[{e.key, start}].push_back(v);
      }
      if (!accepted) ++r.late;
    }
    for (const auto& [w, v] : sums) {
      if (w.second + size + grace <= stream) r.final_values[w] = v;
    }
  }
  return r;
}

// `sliced`: the aggregation is given a merger, so hopping windows emitted on close are computed
// from slices (SlicedWindowedAggregateNode); the results must be the same.
void check_fixed_windows(TimeWindows windows, EmitStrategy emit, bool sliced = false) {
  const uint64_t s = seed();
  std::printf("property test seed: %llu (SLUICE_PROPERTY_SEED=%llu to rerun)\n",
              static_cast<unsigned long long>(s), static_cast<unsigned long long>(s));
  const auto events = generate(s);
  TopologyBuilder b;
  auto windowed =
      b.stream<std::string, int64_t>("in").group_by_key().windowed_by(windows).emit(emit);
  auto init = [] { return int64_t{0}; };
  auto add = [](const std::string&, const int64_t& v, int64_t sum) { return sum + v; };
  auto merge = [](const std::string&, int64_t a, int64_t b) { return a + b; };
  auto sums =
      sliced ? windowed.aggregate(init, add, merge, "sums") : windowed.aggregate(init, add, "sums");
  sums.named("sum").to_stream().to("out");
  auto d = driver_for(b, {.partitions = {{"in", kPartitions}}});
  ASSERT_TRUE(d);
  ASSERT_OK(append(*d, "in", events));
  ASSERT_OK(d->process_all());
  const FixedResult expected =
      fixed_oracle(events, windows.size_ms, windows.advance_ms, windows.grace_ms);
  auto out = d->output_topic<Windowed<std::string>, int64_t>("out");
  auto records = out.read_records();
  ASSERT_TRUE(records.ok()) << records.status().to_string();
  if (emit == EmitStrategy::kOnWindowClose) {
    std::map<WKey, int64_t> actual;
    for (const auto& r : *records) {
      const WKey k{r.key.key, r.key.window.start.value()};
      EXPECT_FALSE(actual.contains(k)) << "window emitted twice: " << k.first << "@" << k.second;
      actual[k] = r.value;
    }
    EXPECT_EQ(actual.size(), expected.final_values.size());
    EXPECT_TRUE(actual == expected.final_values) << "seed " << s;
  } else {
    std::map<WKey, std::vector<int64_t>> actual;
    for (const auto& r : *records) {
      actual[{r.key.key, r.key.window.start.value()}].push_back(r.value);
    }
    EXPECT_EQ(actual.size(), expected.updates.size());
    EXPECT_TRUE(actual == expected.updates) << "seed " << s;
  }
  EXPECT_EQ(d->metrics().nodes.at("sum").late_dropped, expected.late) << "seed " << s;
  EXPECT_GT(expected.late, 0);  // the generator does produce late records
}

TEST(WindowPropertyTest, TumblingEmitOnCloseMatchesTheOracle) {
  check_fixed_windows(TumblingWindows::of(100ms).grace(50ms), EmitStrategy::kOnWindowClose);
}
TEST(WindowPropertyTest, TumblingEveryUpdateMatchesTheOracle) {
  check_fixed_windows(TumblingWindows::of(100ms).grace(50ms), EmitStrategy::kOnEveryUpdate);
}
TEST(WindowPropertyTest, HoppingEmitOnCloseMatchesTheOracle) {
  check_fixed_windows(HoppingWindows::of(100ms).advance_by(25ms).grace(50ms),
                      EmitStrategy::kOnWindowClose);
}
TEST(WindowPropertyTest, HoppingEmitOnCloseFromSlicesMatchesTheOracle) {
  check_fixed_windows(HoppingWindows::of(100ms).advance_by(25ms).grace(50ms),
                      EmitStrategy::kOnWindowClose, /*sliced=*/true);
}
TEST(WindowPropertyTest, HoppingEveryUpdateMatchesTheOracle) {
  check_fixed_windows(HoppingWindows::of(100ms).advance_by(25ms).grace(50ms),
                      EmitStrategy::kOnEveryUpdate);
}

// ---- session windows ----

struct Session {
  int64_t start, end, sum;
};

constexpr int64_t kSessionGap = 30, kSessionGrace = 50;

using SessionUpdate = std::tuple<int64_t, int64_t, std::optional<int64_t>>;  // start, end, value
using SessionKey = std::tuple<std::string, int64_t, int64_t>;                // key, start, end

struct SessionResult {
  // Per key, each update: the absorbed sessions (by end, then start) as nulls, then the merged
  // one.
  std::map<std::string, std::vector<SessionUpdate>> updates;
  std::map<SessionKey, int64_t> final_values;  // sessions closed by the end
  int64_t late = 0;
};

SessionResult session_oracle(const std::vector<Event>& events) {
  SessionResult r;
  for (int32_t p = 0; p < kPartitions; ++p) {
    int64_t stream = -1;
    std::map<std::string, std::vector<Session>> live;
    auto close = [&](const std::string& key, std::vector<Session>& sessions, int64_t cutoff) {
      std::erase_if(sessions, [&](const Session& x) {
        if (x.end >= cutoff) return false;
        r.final_values[{key, x.start, x.end}] = x.sum;
        return true;
      });
    };
    for (const auto& e : events) {
      if (e.partition != p) continue;
      // Sessions ending before stream time (as of the previous record) minus gap + grace are
      // closed: final, and out of reach.
      const int64_t cutoff = stream - (kSessionGap + kSessionGrace);
      stream = std::max(stream, e.ts);
      auto& sessions = live[e.key];
      close(e.key, sessions, cutoff);
      std::vector<Session> found;
      for (const auto& x : sessions) {
        if (x.end >= e.ts - kSessionGap && x.start <= e.ts + kSessionGap) found.push_back(x);
      }
      std::sort(found.begin(), found.end(), [](const Session& a, const Session& b) {
        return std::tie(a.end, a.start) < std::tie(b.end, b.start);
      });
      Session merged{e.ts, e.ts, 0};
      for (const auto& f : found) {
        merged.start = std::min(merged.start, f.start);
        merged.end = std::max(merged.end, f.end);
      }
      if (merged.end + kSessionGrace < stream) {
        ++r.late;
        continue;
      }
      for (const auto& f : found) {
        merged.sum += f.sum;
        if (f.start == merged.start && f.end == merged.end) continue;
        r.updates[e.key].emplace_back(f.start, f.end, std::nullopt);
      }
      merged.sum += e.value;
      std::erase_if(sessions, [&](const Session& x) {
        return x.end >= e.ts - kSessionGap && x.start <= e.ts + kSessionGap;
      });
      sessions.push_back(merged);
      r.updates[e.key].emplace_back(merged.start, merged.end, merged.sum);
    }
    for (auto& [key, sessions] : live) close(key, sessions, stream - (kSessionGap + kSessionGrace));
  }
  return r;
}

void check_sessions(EmitStrategy emit) {
  const uint64_t s = seed();
  std::printf("property test seed: %llu\n", static_cast<unsigned long long>(s));
  const auto events = generate(s);
  TopologyBuilder b;
  b.stream<std::string, int64_t>("in")
      .group_by_key()
      .windowed_by(SessionWindows::with_inactivity_gap(std::chrono::milliseconds(kSessionGap))
                       .grace(std::chrono::milliseconds(kSessionGrace)))
      .emit(emit)
      .aggregate([] { return int64_t{0}; },
                 [](const std::string&, const int64_t& v, int64_t sum) { return sum + v; },
                 [](const std::string&, int64_t a, int64_t b) { return a + b; }, "sessions")
      .named("sessions")
      .to_stream()
      .to("out");
  auto d = driver_for(b, {.partitions = {{"in", kPartitions}}});
  ASSERT_TRUE(d);
  ASSERT_OK(append(*d, "in", events));
  ASSERT_OK(d->process_all());
  const SessionResult expected = session_oracle(events);

  auto out = d->output_topic<Windowed<std::string>, std::optional<int64_t>>("out");
  auto records = out.read_records();
  ASSERT_TRUE(records.ok()) << records.status().to_string();
  EXPECT_EQ(d->metrics().nodes.at("sessions").late_dropped, expected.late) << "seed " << s;
  EXPECT_GT(expected.late, 0);  // the generator does produce late records
  if (emit == EmitStrategy::kOnWindowClose) {
    std::map<SessionKey, int64_t> actual;
    for (const auto& r : *records) {
      const SessionKey k{r.key.key, r.key.window.start.value(), r.key.window.end.value()};
      EXPECT_FALSE(actual.contains(k)) << "session emitted twice: " << std::get<0>(k) << "@["
                                       << std::get<1>(k) << "," << std::get<2>(k) << "]";
      ASSERT_TRUE(r.value.has_value()) << "emit-on-close forwarded a tombstone";
      actual[k] = *r.value;
    }
    EXPECT_EQ(actual.size(), expected.final_values.size()) << "seed " << s;
    EXPECT_TRUE(actual == expected.final_values) << "seed " << s;
    EXPECT_GT(expected.final_values.size(), 1000u);
    return;
  }
  std::map<std::string, std::vector<SessionUpdate>> actual;
  for (const auto& r : *records) {
    actual[r.key.key].emplace_back(r.key.window.start.value(), r.key.window.end.value(), r.value);
  }
  EXPECT_TRUE(actual == expected.updates) << "seed " << s;
  for (const auto& [key, updates] : expected.updates) {
    const auto& got = actual[key];
    for (size_t i = 0; i < std::max(updates.size(), got.size()); ++i) {
      if (i < updates.size() && i < got.size() && updates[i] == got[i]) continue;
      auto show = [](const std::vector<SessionUpdate>& v, size_t i) {
        if (i >= v.size()) return std::string("(none)");
        const auto& [a, b, c] = v[i];
        return "[" + std::to_string(a) + "," + std::to_string(b) +
               "]=" + (c ? std::to_string(*c) : "null");
      };
      ADD_FAILURE() << "key " << key << " update " << i << ": expected " << show(updates, i)
                    << ", got " << show(got, i);
      break;
    }
  }
}

TEST(WindowPropertyTest, SessionEveryUpdateMatchesTheOracle) {
  check_sessions(EmitStrategy::kOnEveryUpdate);
}
TEST(WindowPropertyTest, SessionEmitOnCloseMatchesTheOracle) {
  check_sessions(EmitStrategy::kOnWindowClose);
}

// ---- sliding windows ----

void check_sliding(EmitStrategy emit) {
  const uint64_t s = seed();
  std::printf("property test seed: %llu\n", static_cast<unsigned long long>(s));
  const auto events = generate(s);
  constexpr int64_t kD = 100, kGrace = 50;
  TopologyBuilder b;
  b.stream<std::string, int64_t>("in")
      .group_by_key()
      .windowed_by(SlidingWindows::of_time_difference(100ms).grace(50ms))
      .emit(emit)
      .aggregate([] { return int64_t{0}; },
                 [](const std::string&, const int64_t& v, int64_t sum) { return sum + v; },
                 "sliding")
      .named("sliding")
      .to_stream()
      .to("out");
  auto d = driver_for(b, {.partitions = {{"in", kPartitions}}});
  ASSERT_TRUE(d);
  ASSERT_OK(append(*d, "in", events));
  ASSERT_OK(d->process_all());

  // Oracle: the windows are [r - d, r] for every accepted record r, and [r + 1, r + 1 + d]
  // when some record falls in it; after each record, every window that contains it or that it
  // defines is recomputed from all the key's records, and forwarded if new or changed.
  std::map<WKey, std::vector<int64_t>> expected;
  std::map<WKey, int64_t> expected_final;  // windows closed by the end
  int64_t late = 0;
  for (int32_t p = 0; p < kPartitions; ++p) {
    int64_t stream = -1;
    std::map<std::string, std::vector<std::pair<int64_t, int64_t>>> records;  // key -> (ts, v)
    std::map<WKey, int64_t> current;
    for (const auto& e : events) {
      if (e.partition != p) continue;
      stream = std::max(stream, e.ts);
      auto closed = [&](int64_t start) { return start + kD + kGrace < stream; };
      if (closed(e.ts)) {
        ++late;
        continue;
      }
      auto& mine = records[e.key];
      mine.emplace_back(e.ts, e.value);
      std::stable_sort(mine.begin(), mine.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      std::set<int64_t> starts{e.ts + 1};
      for (const auto& [ts, v] : mine) {
        if (ts - kD <= e.ts && e.ts <= ts) starts.insert(ts - kD);
        if (ts + 1 <= e.ts && e.ts <= ts + 1 + kD) starts.insert(ts + 1);
      }
      for (int64_t start : starts) {
        if (closed(start)) continue;
        int64_t sum = 0;
        bool any = false;
        for (const auto& [ts, v] : mine) {
          if (ts >= start && ts <= start + kD) {
            sum += v;
            any = true;
          }
        }
        if (!any) continue;
        auto [it, fresh] = current.try_emplace({e.key, start}, sum);
        if (!fresh && it->second == sum) continue;
        it->second = sum;
        expected[{e.key, start}].push_back(sum);
      }
    }
    for (const auto& [w, v] : current) {
      if (w.second + kD + kGrace < stream) expected_final[w] = v;
    }
  }
  auto out = d->output_topic<Windowed<std::string>, int64_t>("out");
  auto records = out.read_records();
  ASSERT_TRUE(records.ok()) << records.status().to_string();
  std::map<WKey, std::vector<int64_t>> actual;
  for (const auto& r : *records) {
    EXPECT_EQ(r.key.window.end - r.key.window.start, kD);
    actual[{r.key.key, r.key.window.start.value()}].push_back(r.value);
  }
  if (emit == EmitStrategy::kOnWindowClose) {
    std::map<WKey, int64_t> finals;
    for (const auto& [w, values] : actual) {
      EXPECT_EQ(values.size(), 1u) << "window emitted more than once";
      finals[w] = values.back();
    }
    EXPECT_EQ(finals.size(), expected_final.size()) << "seed " << s;
    EXPECT_TRUE(finals == expected_final) << "seed " << s;
  } else {
    EXPECT_EQ(actual.size(), expected.size()) << "seed " << s;
    EXPECT_TRUE(actual == expected) << "seed " << s;
  }
  EXPECT_EQ(d->metrics().nodes.at("sliding").late_dropped, late) << "seed " << s;
}

TEST(WindowPropertyTest, SlidingEveryUpdateMatchesTheOracle) {
  check_sliding(EmitStrategy::kOnEveryUpdate);
}
TEST(WindowPropertyTest, SlidingEmitOnCloseMatchesTheOracle) {
  check_sliding(EmitStrategy::kOnWindowClose);
}

// ---- joins ----

void check_join(operators::JoinKind kind) {
  const uint64_t s = seed();
  std::printf("property test seed: %llu\n", static_cast<unsigned long long>(s));
  const auto events = generate(s, /*two_sides=*/true);
  constexpr int64_t kBefore = 40, kAfter = 20, kGrace = 30;
  const JoinWindows windows = JoinWindows::of(40ms).after(20ms).grace(30ms);
  auto show = [](const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "null"; };
  TopologyBuilder b;
  auto left = b.stream<std::string, int64_t>("left");
  auto right = b.stream<std::string, int64_t>("right");
  switch (kind) {
    case operators::JoinKind::kInner:
      left.join(
              right,
              [](const int64_t& l, const int64_t& r) {
                return std::to_string(l) + "|" + std::to_string(r);
              },
              windows, "j")
          .to("out");
      break;
    case operators::JoinKind::kLeft:
      left.left_join(
              right,
              [show](const int64_t& l, const std::optional<int64_t>& r) {
                return std::to_string(l) + "|" + show(r);
              },
              windows, "j")
          .to("out");
      break;
    case operators::JoinKind::kOuter:
      left.outer_join(
              right,
              [show](const std::optional<int64_t>& l, const std::optional<int64_t>& r) {
                return show(l) + "|" + show(r);
              },
              windows, "j")
          .to("out");
      break;
  }
  auto d = driver_for(b, {.partitions = {{"left", kPartitions}, {"right", kPartitions}}});
  ASSERT_TRUE(d);
  ASSERT_OK(append(*d, "left", events, 0));
  ASSERT_OK(append(*d, "right", events, 1));
  ASSERT_OK(d->process_all());

  // Oracle: each task takes, of its two inputs, the record with the smaller timestamp next
  // (ties: "left" before "right", as the driver's topic order).
  using Result = std::tuple<std::string, std::string, int64_t>;  // key, value, timestamp
  std::multiset<Result> expected;
  for (int32_t p = 0; p < kPartitions; ++p) {
    std::vector<const Event*> l, r;
    for (const auto& e : events) {
      if (e.partition == p) (e.side == 0 ? l : r).push_back(&e);
    }
    std::vector<const Event*> order;
    size_t i = 0, j = 0;
    while (i < l.size() || j < r.size()) {
      if (j == r.size() || (i < l.size() && l[i]->ts <= r[j]->ts)) {
        order.push_back(l[i++]);
      } else {
        order.push_back(r[j++]);
      }
    }
    int64_t stream = -1;
    struct Accepted {
      const Event* e;
      bool matched = false;
    };
    std::vector<Accepted> acc[2];
    for (const Event* e : order) {
      stream = std::max(stream, e->ts);
      if (e->ts + kGrace < stream) continue;  // late
      Accepted a{e};
      for (auto& o : acc[1 - e->side]) {
        if (o.e->key != e->key) continue;
        const Event* lft = e->side == 0 ? e : o.e;
        const Event* rgt = e->side == 0 ? o.e : e;
        if (rgt->ts < lft->ts - kBefore || rgt->ts > lft->ts + kAfter) continue;
        a.matched = o.matched = true;
        expected.emplace(e->key, std::to_string(lft->value) + "|" + std::to_string(rgt->value),
                         std::max(lft->ts, rgt->ts));
      }
      acc[e->side].push_back(a);
    }
    for (int side = 0; side < 2; ++side) {
      if (kind == operators::JoinKind::kInner) break;
      if (kind == operators::JoinKind::kLeft && side == 1) break;
      for (const auto& a : acc[side]) {
        const int64_t close = a.e->ts + (side == 0 ? kAfter : kBefore) + kGrace;
        if (a.matched || close >= stream) continue;
        const std::string v = std::to_string(a.e->value);
        expected.emplace(a.e->key, side == 0 ? v + "|null" : "null|" + v, a.e->ts);
      }
    }
  }
  auto out = d->output_topic<std::string, std::string>("out");
  auto records = out.read_records();
  ASSERT_TRUE(records.ok()) << records.status().to_string();
  std::multiset<Result> actual;
  for (const auto& r : *records) actual.emplace(r.key, r.value, r.timestamp.value());
  EXPECT_EQ(actual.size(), expected.size()) << "seed " << s;
  EXPECT_TRUE(actual == expected) << "seed " << s;
}

TEST(JoinPropertyTest, InnerJoinMatchesTheOracle) { check_join(operators::JoinKind::kInner); }
TEST(JoinPropertyTest, LeftJoinMatchesTheOracle) { check_join(operators::JoinKind::kLeft); }
TEST(JoinPropertyTest, OuterJoinMatchesTheOracle) { check_join(operators::JoinKind::kOuter); }

}  // namespace
}  // namespace sluice::dsl

// Keyed aggregations: aggregate, reduce and count per key, and per key and time window.
//
// State is in the task's stores (state/): the aggregate of a key is stored as
// [timestamp int64 BE][the aggregate's serde bytes], the timestamp being the largest of the
// records aggregated, which the result carries. Records with a null key (std::monostate, an
// empty optional) are not aggregated, as in Kafka Streams.
//
// Windowed aggregations assign each record to the windows that contain its timestamp. A
// record whose window has closed — stream time has passed the window's end plus grace — is
// late: dropped and counted in the node's metrics, or written to the late-record topic. With
// EmitStrategy::kOnEveryUpdate each update is forwarded at once; with kOnWindowClose each
// window's final value is forwarded once, when stream time closes it, in window order (ties in
// key-byte order). How far results were emitted is kept in a small companion store, so a
// restarted task neither repeats nor loses them.
//
// Thread safety: thread-confined to the task, like every node.
#pragma once

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/base/murmur2.h"
#include "sluice/operators/node.h"
#include "sluice/operators/serde.h"
#include "sluice/state/store.h"

namespace sluice::operators {

// [ts][value bytes] <-> (value, ts).
template <typename T>
Bytes encode_timestamped(const T& v, Timestamp ts) {
  Bytes out;
  append_be<int64_t>(out, ts.value());
  Serde<T>::serialize(v, out);
  return out;
}

template <typename T>
Result<std::pair<T, Timestamp>> decode_timestamped(ByteView in, const std::string& store) {
  if (in.size() < 8) return corruption("store '" + store + "' holds a value without its timestamp");
  auto v = Serde<T>::deserialize(in.substr(8));
  if (!v.ok()) return v.status().with_context("store '" + store + "'");
  return std::pair<T, Timestamp>(std::move(v).value(), Timestamp(load_be<int64_t>(in.data())));
}

template <typename K>
bool is_null_key(const K& key) {
  if constexpr (std::is_same_v<K, std::monostate>) {
    return true;
  } else if constexpr (IsOptional<K>::value) {
    return !key.has_value();
  } else {
    return false;
  }
}

// Several values at one (key, timestamp), as join and sliding-window stores keep records: [u32 BE
// length][bytes] each.
inline void append_value(Bytes& list, ByteView value) {
  append_be<uint32_t>(list, static_cast<uint32_t>(value.size()));
  list.append(value);
}

template <typename T>
Result<std::vector<T>> decode_values(ByteView list, const std::string& store) {
  std::vector<T> out;
  while (!list.empty()) {
    if (list.size() < 4) return corruption("store '" + store + "' holds a truncated value list");
    const uint32_t n = load_be<uint32_t>(list.data());
    if (list.size() - 4 < n) return corruption("store '" + store + "' holds a truncated value");
    auto v = Serde<T>::deserialize(list.substr(4, n));
    if (!v.ok()) return v.status().with_context("store '" + store + "'");
    out.push_back(std::move(v).value());
    list.remove_prefix(4 + n);
  }
  return out;
}

// A key's (or window's) first aggregate: adder(initializer()), or for a reduce (no
// initializer) the first value itself.
template <typename K, typename V, typename Agg>
Agg first_aggregate(const std::function<Agg()>& init,
                    const std::function<Agg(const K&, const V&, Agg)>& add, const Record<K, V>& r) {
  if (init) return add(r.key, r.value, init());
  if constexpr (std::is_convertible_v<const V&, Agg>) {
    return Agg(r.value);
  } else {
    SLUICE_CHECK_MSG(false, "a reduce needs the value type to be the aggregate type");
    return add(r.key, r.value, Agg());
  }
}

// A window's (or slice's) aggregate after record `r`: added to the stored one (the timestamp
// the later of the two), or the first one when nothing is stored.
template <typename K, typename V, typename Agg>
Result<std::pair<Agg, Timestamp>> fold_record(
    const std::optional<Bytes>& stored, const Record<K, V>& r, const std::function<Agg()>& init,
    const std::function<Agg(const K&, const V&, Agg)>& add, const std::string& store) {
  if (!stored) return std::pair<Agg, Timestamp>(first_aggregate(init, add, r), r.timestamp);
  SLUICE_ASSIGN_OR_RETURN(auto old, decode_timestamped<Agg>(*stored, store));
  return std::pair<Agg, Timestamp>(add(r.key, r.value, std::move(old.first)),
                                   std::max(r.timestamp, old.second));
}

// Emit-on-close for windowed aggregations: forwards, once, every window of `store` that
// starts in [*emitted_until, last_closed_start] (by start, then key bytes), as (windowed key,
// aggregate, its timestamp), then records how far it got in `emitted` (one key) so a restarted
// task neither repeats nor skips results.
inline constexpr std::string_view kEmittedUntilKey = "emitted-until";

// Records how far emit-on-close has got (read back by load_emitted_until).
inline Status store_emitted_until(state::KeyValueStore& emitted, int64_t emitted_until) {
  Bytes mark;
  append_be<int64_t>(mark, emitted_until);
  return emitted.put(kEmittedUntilKey, mark);
}

template <typename K, typename Agg>
Status emit_closed_windows(state::WindowStore& store, state::KeyValueStore& emitted,
                           int64_t& emitted_until, int64_t last_closed_start, int64_t size_ms,
                           Emitter<Windowed<K>, Agg>& out, NodeMetrics& metrics) {
  if (last_closed_start < emitted_until) return Status();
  SLUICE_ASSIGN_OR_RETURN(auto it,
                          store.fetch_all(Timestamp(emitted_until), Timestamp(last_closed_start)));
  for (; it->valid(); it->next()) {
    SLUICE_ASSIGN_OR_RETURN(K key, Serde<K>::deserialize(it->key()));
    SLUICE_ASSIGN_OR_RETURN(auto agg, decode_timestamped<Agg>(it->value(), store.name()));
    const Window w{it->window_start(), it->window_start() + size_ms};
    ++metrics.records_out;
    SLUICE_RETURN_IF_ERROR(
        out.forward({Windowed<K>{std::move(key), w}, std::move(agg.first), agg.second}));
  }
  SLUICE_RETURN_IF_ERROR(it->status());
  emitted_until = last_closed_start + 1;
  return store_emitted_until(emitted, emitted_until);
}

// Reads the mark emit_closed_windows() left, if any.
inline Status load_emitted_until(state::KeyValueStore& emitted, int64_t& emitted_until) {
  SLUICE_ASSIGN_OR_RETURN(auto mark, emitted.get(kEmittedUntilKey));
  if (mark && mark->size() == 8) emitted_until = load_be<int64_t>(mark->data());
  return Status();
}

// The stream time a windowed node judges by: the task's, or its store's if later. A restarted
// task's clock starts again from nothing (the runtime does not keep it yet), while the store
// keeps the stream time it has expired data by; a window or session closed before the restart
// must stay closed after it.
template <typename Store>
Timestamp stream_time_of(const TaskContext& context, const Store& store) {
  return std::max(context.stream_time(), store.stream_time());
}

// agg = adder(key, value, agg), starting from initializer() for a new key (or, without an
// initializer — a reduce — from the key's first value).
template <typename K, typename V, typename Agg>
class AggregateNode final : public Input<K, V>, public OutputNode<K, Agg> {
 public:
  using Initializer = std::function<Agg()>;
  using Adder = std::function<Agg(const K&, const V&, Agg)>;

  AggregateNode(std::string store, Initializer init, Adder add)
      : store_name_(std::move(store)), init_(std::move(init)), add_(std::move(add)) {}

  Status init(TaskContext& context) override {
    SLUICE_RETURN_IF_ERROR(Node::init(context));
    SLUICE_ASSIGN_OR_RETURN(store_, context.key_value_store(store_name_));
    return Status();
  }

  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    if (is_null_key(r.key)) return Status();
    key_bytes_.clear();
    Serde<K>::serialize(r.key, key_bytes_);
    SLUICE_ASSIGN_OR_RETURN(const bool stored, store_->get_into(key_bytes_, stored_bytes_));
    Agg agg;
    Timestamp ts = r.timestamp;
    if (stored) {
      SLUICE_ASSIGN_OR_RETURN(auto old, decode_timestamped<Agg>(stored_bytes_, store_name_));
      agg = add_(r.key, r.value, std::move(old.first));
      ts = std::max(ts, old.second);
    } else {
      agg = first_aggregate(init_, add_, r);
    }
    SLUICE_RETURN_IF_ERROR(store_->put(key_bytes_, encode_timestamped(agg, ts)));
    ++this->metrics_->records_out;
    return this->out_.forward({std::move(r.key), std::move(agg), ts});
  }

 private:
  const std::string store_name_;
  Initializer init_;
  Adder add_;
  state::KeyValueStore* store_ = nullptr;
  Bytes key_bytes_;
  Bytes stored_bytes_;  // the aggregate as stored, reused from record to record
};

// Sends a late record, with its original key and value, to `topic` (nothing when empty).
template <typename K, typename V>
Status send_late(const std::string& topic, const Record<K, V>& r, TaskContext& context) {
  if (topic.empty()) return Status();
  SLUICE_ASSIGN_OR_RETURN(int32_t partitions, context.collector().partitions(topic));
  const std::optional<Bytes> key = encode(r.key);
  return send_encoded(context, topic, PartitionId(default_partition(key, partitions, context)), key,
                      encode(r.value), r.timestamp);
}

// Per key and fixed-size time window (tumbling or hopping).
template <typename K, typename V, typename Agg>
class WindowedAggregateNode final : public Input<K, V>, public OutputNode<Windowed<K>, Agg> {
 public:
  using Initializer = std::function<Agg()>;
  using Adder = std::function<Agg(const K&, const V&, Agg)>;

  // `emitted_store`: the companion key-value store for kOnWindowClose (ignored otherwise).
  WindowedAggregateNode(std::string store, std::string emitted_store, TimeWindows windows,
                        EmitStrategy emit, std::string late_topic, Initializer init, Adder add)
      : store_name_(std::move(store)),
        emitted_name_(std::move(emitted_store)),
        windows_(windows),
        emit_(emit),
        late_topic_(std::move(late_topic)),
        init_(std::move(init)),
        add_(std::move(add)) {}

  Status init(TaskContext& context) override {
    SLUICE_RETURN_IF_ERROR(Node::init(context));
    SLUICE_ASSIGN_OR_RETURN(store_, context.window_store(store_name_));
    if (emit_ == EmitStrategy::kOnWindowClose) {
      SLUICE_ASSIGN_OR_RETURN(emitted_, context.key_value_store(emitted_name_));
      SLUICE_RETURN_IF_ERROR(load_emitted_until(*emitted_, emitted_until_));
    }
    return Status();
  }

  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    if (is_null_key(r.key)) return Status();
    const Timestamp stream_time = stream_time_of(*this->context_, *store_);
    key_bytes_.clear();
    Serde<K>::serialize(r.key, key_bytes_);
    bool accepted = false;
    for (const Window& w : windows_.windows_for(r.timestamp)) {
      if (w.end.value() + windows_.grace_ms <= stream_time.value()) continue;  // closed
      accepted = true;
      SLUICE_ASSIGN_OR_RETURN(std::optional<Bytes> stored, store_->fetch(key_bytes_, w.start));
      SLUICE_ASSIGN_OR_RETURN(auto folded, fold_record(stored, r, init_, add_, store_name_));
      auto& [agg, ts] = folded;
      const Bytes encoded = encode_timestamped(agg, ts);
      SLUICE_RETURN_IF_ERROR(store_->put(key_bytes_, w.start, ByteView(encoded)));
      if (emit_ == EmitStrategy::kOnEveryUpdate) {
        ++this->metrics_->records_out;
        SLUICE_RETURN_IF_ERROR(this->out_.forward({Windowed<K>{r.key, w}, std::move(agg), ts}));
      }
    }
    if (!accepted) SLUICE_RETURN_IF_ERROR(late(r));
    // Emit before the store's stream time moves: a jump in stream time may both close a
    // window and expire it.
    if (emit_ == EmitStrategy::kOnWindowClose) SLUICE_RETURN_IF_ERROR(emit_closed(stream_time));
    return store_->advance_stream_time(stream_time);
  }

 private:
  Status late(const Record<K, V>& r) {
    ++this->metrics_->late_dropped;
    return send_late(late_topic_, r, *this->context_);
  }

  // Forwards every window that closed since the last call.
  Status emit_closed(Timestamp stream_time) {
    // A window [s, s + size) is closed once s + size + grace <= stream time; starts are
    // multiples of the advance, so the store is read only when one more window closes.
    const int64_t bound = stream_time.value() - windows_.grace_ms - windows_.size_ms;
    if (bound < 0) return Status();
    return emit_closed_windows<K, Agg>(*store_, *emitted_, emitted_until_,
                                       bound - bound % windows_.advance_ms, windows_.size_ms,
                                       this->out_, *this->metrics_);
  }

  const std::string store_name_, emitted_name_;
  const TimeWindows windows_;
  const EmitStrategy emit_;
  const std::string late_topic_;
  Initializer init_;
  Adder add_;
  state::WindowStore* store_ = nullptr;
  state::KeyValueStore* emitted_ = nullptr;
  int64_t emitted_until_ = 0;  // window starts below this were emitted (timestamps are >= 0)
  Bytes key_bytes_;
};

// Hopping windows emitted on close, computed from slices, as Flink computes them: the store
// holds one aggregate per key and slice (the advance: windows of size n·advance span n slices),
// each record updates only its slice, and a window's result is merger() over its slices', in
// time order, when it closes. A record thus costs one read-modify-write rather than one per
// window it falls in. Results are those of WindowedAggregateNode with kOnWindowClose for any
// merger that combines two partial aggregates as adding their records one by one would (a
// sum, a count, a max, ...): a record joins the slice, and so the windows that close after it;
// windows closed before it came have already been emitted without it, as there.
template <typename K, typename V, typename Agg>
class SlicedWindowedAggregateNode final : public Input<K, V>, public OutputNode<Windowed<K>, Agg> {
 public:
  using Initializer = std::function<Agg()>;
  using Adder = std::function<Agg(const K&, const V&, Agg)>;
  using Merger = std::function<Agg(const K&, Agg, Agg)>;

  SlicedWindowedAggregateNode(std::string store, std::string emitted_store, TimeWindows windows,
                              std::string late_topic, Initializer init, Adder add, Merger merge)
      : store_name_(std::move(store)),
        emitted_name_(std::move(emitted_store)),
        windows_(windows),
        late_topic_(std::move(late_topic)),
        init_(std::move(init)),
        add_(std::move(add)),
        merge_(std::move(merge)) {
    SLUICE_CHECK(windows_.advance_ms > 0 && windows_.size_ms % windows_.advance_ms == 0);
  }

  Status init(TaskContext& context) override {
    SLUICE_RETURN_IF_ERROR(Node::init(context));
    SLUICE_ASSIGN_OR_RETURN(store_, context.window_store(store_name_));
    SLUICE_ASSIGN_OR_RETURN(emitted_, context.key_value_store(emitted_name_));
    return load_emitted_until(*emitted_, emitted_until_);
  }

  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    if (is_null_key(r.key)) return Status();
    const Timestamp stream_time = stream_time_of(*this->context_, *store_);
    const int64_t ts = r.timestamp.value();
    const int64_t advance = windows_.advance_ms;
    const int64_t slice = ts - ((ts % advance) + advance) % advance;
    // The last window holding the record starts with its slice: the record is late once that
    // one has closed (or when no window holds it: none starts before the epoch).
    if (slice < 0 || slice + windows_.size_ms + windows_.grace_ms <= stream_time.value()) {
      ++this->metrics_->late_dropped;
      SLUICE_RETURN_IF_ERROR(send_late(late_topic_, r, *this->context_));
    } else {
      key_bytes_.clear();
      Serde<K>::serialize(r.key, key_bytes_);
      SLUICE_ASSIGN_OR_RETURN(std::optional<Bytes> stored,
                              store_->fetch(key_bytes_, Timestamp(slice)));
      SLUICE_ASSIGN_OR_RETURN(auto folded, fold_record(stored, r, init_, add_, store_name_));
      SLUICE_RETURN_IF_ERROR(store_->put(
          key_bytes_, Timestamp(slice), ByteView(encode_timestamped(folded.first, folded.second))));
    }
    // Emit before the store's stream time moves (it may expire the slices of a closing window).
    SLUICE_RETURN_IF_ERROR(emit_closed(stream_time));
    return store_->advance_stream_time(stream_time);
  }

 private:
  // Forwards every window that closed since the last call, by start, then key bytes.
  Status emit_closed(Timestamp stream_time) {
    const int64_t size = windows_.size_ms, advance = windows_.advance_ms;
    const int64_t bound = stream_time.value() - windows_.grace_ms - size;
    if (bound < 0) return Status();
    const int64_t last_closed = bound - bound % advance;
    if (last_closed < emitted_until_) return Status();
    // Every slice of the closing windows, merged per (window, key) in slice order.
    std::map<std::pair<int64_t, Bytes>, std::pair<Agg, Timestamp>> results;
    const int64_t first = emitted_until_ + (advance - emitted_until_ % advance) % advance;
    SLUICE_ASSIGN_OR_RETURN(
        auto it, store_->fetch_all(Timestamp(first), Timestamp(last_closed + size - advance)));
    for (; it->valid(); it->next()) {
      const int64_t slice = it->window_start().value();
      SLUICE_ASSIGN_OR_RETURN(auto part, decode_timestamped<Agg>(it->value(), store_name_));
      std::optional<K> key;  // decoded once the slice turns out to be needed
      for (int64_t w = std::max(first, slice - size + advance); w <= std::min(last_closed, slice);
           w += advance) {
        auto [at, added] = results.try_emplace({w, Bytes(it->key())}, part);
        if (added) continue;
        if (!key) {
          SLUICE_ASSIGN_OR_RETURN(key, Serde<K>::deserialize(it->key()));
        }
        at->second.first = merge_(*key, std::move(at->second.first), part.first);
        at->second.second = std::max(at->second.second, part.second);
      }
    }
    SLUICE_RETURN_IF_ERROR(it->status());
    for (auto& [at, result] : results) {
      SLUICE_ASSIGN_OR_RETURN(K key, Serde<K>::deserialize(at.second));
      const Window w{Timestamp(at.first), Timestamp(at.first + size)};
      ++this->metrics_->records_out;
      SLUICE_RETURN_IF_ERROR(this->out_.forward(
          {Windowed<K>{std::move(key), w}, std::move(result.first), result.second}));
    }
    emitted_until_ = last_closed + 1;
    return store_emitted_until(*emitted_, emitted_until_);
  }

  const std::string store_name_, emitted_name_;
  const TimeWindows windows_;
  const std::string late_topic_;
  Initializer init_;
  Adder add_;
  Merger merge_;
  state::WindowStore* store_ = nullptr;
  state::KeyValueStore* emitted_ = nullptr;
  int64_t emitted_until_ = 0;  // window starts below this were emitted (timestamps are >= 0)
  Bytes key_bytes_;
};

// Per key and session: records of a key closer than the inactivity gap share a session. A
// record opens a session [t, t] or merges with every session of its key it comes within the
// gap of: the merged aggregate is merger(a, b) over theirs, then adder(record).
//
// A session is closed once stream time passes its end + gap + grace: no record can reach it
// any more — one that would (say, bridging it to a later session) merges only the open ones. A
// record whose merged session would end before stream time − grace is late. The store keeps
// sessions until they close (or for the retention asked for, if longer, for queries).
//
// With EmitStrategy::kOnEveryUpdate each update forwards the new session's aggregate, and a
// std::nullopt for every session it absorbed, so a table downstream holds exactly the live
// sessions (as Kafka Streams' tombstones do). With kOnWindowClose each session is forwarded
// once, with its final aggregate, when it closes — in order of end — and absorbed sessions are
// never seen. The store is ordered by key, so the sessions not yet forwarded are also listed by
// end in a companion key-value store (changelogged like the store, so a restarted task neither
// repeats nor loses results); a session leaves it when it is forwarded or absorbed.
template <typename K, typename V, typename Agg>
class SessionAggregateNode final : public Input<K, V>,
                                   public OutputNode<Windowed<K>, std::optional<Agg>> {
 public:
  using Initializer = std::function<Agg()>;
  using Adder = std::function<Agg(const K&, const V&, Agg)>;
  using Merger = std::function<Agg(const K&, Agg, Agg)>;

  // `pending_store`: the companion key-value store for kOnWindowClose (ignored otherwise).
  SessionAggregateNode(std::string store, std::string pending_store, SessionWindows windows,
                       EmitStrategy emit, std::string late_topic, Initializer init, Adder add,
                       Merger merge)
      : store_name_(std::move(store)),
        pending_name_(std::move(pending_store)),
        windows_(windows),
        emit_(emit),
        late_topic_(std::move(late_topic)),
        init_(std::move(init)),
        add_(std::move(add)),
        merge_(std::move(merge)) {}

  Status init(TaskContext& context) override {
    SLUICE_RETURN_IF_ERROR(Node::init(context));
    SLUICE_ASSIGN_OR_RETURN(store_, context.session_store(store_name_));
    if (emit_ == EmitStrategy::kOnWindowClose) {
      SLUICE_ASSIGN_OR_RETURN(pending_, context.key_value_store(pending_name_));
      SLUICE_RETURN_IF_ERROR(load_emitted_before());
    }
    return Status();
  }

  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    const Timestamp stream_time = stream_time_of(*this->context_, *store_);
    if (is_null_key(r.key)) return close(stream_time);
    key_bytes_.clear();
    Serde<K>::serialize(r.key, key_bytes_);
    struct Found {
      state::SessionWindow window;
      Agg agg;
      Timestamp ts;
    };
    std::vector<Found> found;
    {
      // Sessions closed as of the last record stay out, whatever the store's retention (and
      // those emitted, even if a store restored from its changelog has an older stream time).
      const int64_t open_from =
          std::max(closes_before(store_->stream_time().value()), emitted_before_);
      SLUICE_ASSIGN_OR_RETURN(auto it,
                              store_->find_sessions(key_bytes_, r.timestamp - windows_.gap_ms,
                                                    r.timestamp + windows_.gap_ms));
      for (; it->valid(); it->next()) {
        if (it->window().end.value() < open_from) continue;
        SLUICE_ASSIGN_OR_RETURN(auto v, decode_timestamped<Agg>(it->value(), store_name_));
        found.push_back({it->window(), std::move(v.first), v.second});
      }
      SLUICE_RETURN_IF_ERROR(it->status());
    }
    state::SessionWindow merged{r.timestamp, r.timestamp};
    for (const Found& f : found) {
      merged.start = std::min(merged.start, f.window.start);
      merged.end = std::max(merged.end, f.window.end);
    }
    // (A session ending where sessions were already emitted is late too: stream time was past
    // its end + grace then, whatever a restored store's clock says now.)
    if (merged.end.value() + windows_.grace_ms < stream_time.value() ||
        merged.end.value() < emitted_before_) {
      ++this->metrics_->late_dropped;
      SLUICE_RETURN_IF_ERROR(send_late(late_topic_, r, *this->context_));
      return close(stream_time);
    }
    const bool every_update = emit_ == EmitStrategy::kOnEveryUpdate;
    // Without an initializer (a reduce) the first session's value, or the record's, starts it.
    std::optional<Agg> acc;
    if (init_) acc = init_();
    Timestamp ts = r.timestamp;
    bool merged_was_stored = false;
    for (Found& f : found) {
      acc = acc ? merge_(r.key, std::move(*acc), std::move(f.agg)) : std::move(f.agg);
      ts = std::max(ts, f.ts);
      if (f.window == merged) {  // rewritten below
        merged_was_stored = true;
        continue;
      }
      SLUICE_RETURN_IF_ERROR(store_->remove(key_bytes_, f.window));
      if (every_update) {
        ++this->metrics_->records_out;
        SLUICE_RETURN_IF_ERROR(this->out_.forward(
            {Windowed<K>{r.key, {f.window.start, f.window.end}}, std::nullopt, f.ts}));
      } else {
        SLUICE_RETURN_IF_ERROR(pending_->remove(pending_key(f.window)));
      }
    }
    Agg agg;
    if (acc) {
      agg = add_(r.key, r.value, std::move(*acc));
    } else if constexpr (std::is_convertible_v<const V&, Agg>) {
      agg = Agg(r.value);
    } else {
      SLUICE_CHECK_MSG(false, "a reduce needs the value type to be the aggregate type");
    }
    SLUICE_RETURN_IF_ERROR(store_->put(key_bytes_, merged, encode_timestamped(agg, ts)));
    if (every_update) {
      ++this->metrics_->records_out;
      SLUICE_RETURN_IF_ERROR(this->out_.forward(
          {Windowed<K>{std::move(r.key), {merged.start, merged.end}}, std::move(agg), ts}));
    } else if (!merged_was_stored) {
      SLUICE_RETURN_IF_ERROR(pending_->put(pending_key(merged), ByteView()));
      first_pending_end_ = std::min(first_pending_end_, merged.end.value());
    }
    return close(stream_time);
  }

 private:
  // Sessions ending before this are closed at stream time `stream`. Saturates near the minimum.
  int64_t closes_before(int64_t stream) const {
    int64_t c;
    return __builtin_sub_overflow(stream, windows_.gap_ms + windows_.grace_ms, &c)
               ? std::numeric_limits<int64_t>::min()
               : c;
  }

  // [end][key][start] (times offset by 2^63, big-endian, so they sort as signed numbers): the
  // pending sessions by end; the key is what lies between the two times.
  Bytes pending_key(state::SessionWindow w) const {
    Bytes out;
    append_be<uint64_t>(out, static_cast<uint64_t>(w.end.value()) ^ kSignBit);
    out.append(key_bytes_);
    append_be<uint64_t>(out, static_cast<uint64_t>(w.start.value()) ^ kSignBit);
    return out;
  }
  static int64_t load_time(const char* p) {
    return static_cast<int64_t>(load_be<uint64_t>(p) ^ kSignBit);
  }
  static constexpr uint64_t kSignBit = uint64_t{1} << 63;
  // Where the companion store keeps how far sessions were emitted: the empty key, before every
  // session's. (Not a default ByteView: RocksDB asserts on its null data().)
  static constexpr ByteView kEmittedMarkKey = ByteView("", 0);

  Status load_emitted_before() {
    SLUICE_ASSIGN_OR_RETURN(auto mark, pending_->get(kEmittedMarkKey));
    if (mark && mark->size() == 8) emitted_before_ = load_be<int64_t>(mark->data());
    return Status();
  }

  // Forwards the sessions that stream time closes (with kOnWindowClose), then moves the store's
  // stream time — in that order, as moving it may expire them.
  Status close(Timestamp stream_time) {
    if (emit_ == EmitStrategy::kOnWindowClose) {
      const int64_t before = closes_before(stream_time.value());
      if (first_pending_end_ < before) SLUICE_RETURN_IF_ERROR(emit_closed(before));
    }
    return store_->advance_stream_time(stream_time);
  }

  // Forwards and forgets every pending session ending before `before`, and notes where the
  // next one ends.
  Status emit_closed(int64_t before) {
    std::vector<Bytes> closed;
    first_pending_end_ = std::numeric_limits<int64_t>::max();
    {
      // From where the last call stopped: the sessions it forwarded leave tombstones that a
      // scan from the start would walk again, every time.
      Bytes from;
      append_be<uint64_t>(from, static_cast<uint64_t>(emitted_before_) ^ kSignBit);
      SLUICE_ASSIGN_OR_RETURN(auto it, pending_->range(ByteView(from), std::nullopt));
      for (; it->valid(); it->next()) {
        if (it->key().size() < 16) {
          return corruption("store '" + pending_name_ + "' holds a malformed key");
        }
        const int64_t end = load_time(it->key().data());
        if (end >= before) {
          first_pending_end_ = end;
          break;
        }
        closed.emplace_back(it->key());
      }
      SLUICE_RETURN_IF_ERROR(it->status());
    }
    emitted_before_ = before;
    if (!closed.empty()) {  // what was emitted is never merged again, even after a restore
      Bytes mark;
      append_be<int64_t>(mark, before);
      SLUICE_RETURN_IF_ERROR(pending_->put(kEmittedMarkKey, mark));
    }
    for (const Bytes& k : closed) {
      const ByteView key_bytes = ByteView(k).substr(8, k.size() - 16);
      const state::SessionWindow w{.start = Timestamp(load_time(k.data() + k.size() - 8)),
                                   .end = Timestamp(load_time(k.data()))};
      SLUICE_ASSIGN_OR_RETURN(std::optional<Bytes> stored, store_->fetch(key_bytes, w));
      if (!stored) {
        return corruption("store '" + pending_name_ + "' lists a session that store '" +
                          store_name_ + "' does not hold");
      }
      SLUICE_RETURN_IF_ERROR(pending_->remove(k));
      SLUICE_ASSIGN_OR_RETURN(auto agg, decode_timestamped<Agg>(*stored, store_name_));
      SLUICE_ASSIGN_OR_RETURN(K key, Serde<K>::deserialize(key_bytes));
      ++this->metrics_->records_out;
      SLUICE_RETURN_IF_ERROR(this->out_.forward(
          {Windowed<K>{std::move(key), {w.start, w.end}}, std::move(agg.first), agg.second}));
    }
    return Status();
  }

  const std::string store_name_, pending_name_;
  const SessionWindows windows_;
  const EmitStrategy emit_;
  const std::string late_topic_;
  Initializer init_;
  Adder add_;
  Merger merge_;
  state::SessionStore* store_ = nullptr;
  state::KeyValueStore* pending_ = nullptr;
  // No pending session ends before this (unknown at start: the first record looks).
  int64_t first_pending_end_ = std::numeric_limits<int64_t>::min();
  // Every session ending before this was forwarded (a new one never ends that early: it would
  // be late). Kept in the companion store whenever sessions are forwarded.
  int64_t emitted_before_ = std::numeric_limits<int64_t>::min();
  Bytes key_bytes_;
};

// Sliding windows (Kafka Streams' SlidingWindows, KIP-450): windows of a fixed time difference
// d, [start, start + d] with both ends inclusive, defined by the records themselves — each
// record at t defines the window ending at it, [t - d, t], and the window starting just after
// it, [t + 1, t + 1 + d], when some record falls in that one. A window's aggregate covers the
// records whose timestamps it contains, added in timestamp order (then arrival order).
//
// A new record at t updates every window that contains it and creates the windows it defines;
// each window whose aggregate changed (or that is new) is forwarded — or, with
// EmitStrategy::kOnWindowClose, each window once with its final value when it closes. The records
// themselves are kept, per key and timestamp, in a second window store, and windows are recomputed
// from them. A window is closed once stream time passes its end + grace: it is no longer updated; a
// record whose every window is closed is late.
template <typename K, typename V, typename Agg>
class SlidingAggregateNode final : public Input<K, V>, public OutputNode<Windowed<K>, Agg> {
 public:
  using Initializer = std::function<Agg()>;
  using Adder = std::function<Agg(const K&, const V&, Agg)>;

  // `emitted_store`: the companion key-value store for kOnWindowClose (ignored otherwise).
  SlidingAggregateNode(std::string store, std::string records_store, std::string emitted_store,
                       SlidingWindows windows, EmitStrategy emit, std::string late_topic,
                       Initializer init, Adder add)
      : store_name_(std::move(store)),
        records_name_(std::move(records_store)),
        emitted_name_(std::move(emitted_store)),
        windows_(windows),
        emit_(emit),
        late_topic_(std::move(late_topic)),
        init_(std::move(init)),
        add_(std::move(add)),
        emitted_until_(-windows.difference_ms) {}

  Status init(TaskContext& context) override {
    SLUICE_RETURN_IF_ERROR(Node::init(context));
    SLUICE_ASSIGN_OR_RETURN(store_, context.window_store(store_name_));
    SLUICE_ASSIGN_OR_RETURN(records_, context.window_store(records_name_));
    if (emit_ == EmitStrategy::kOnWindowClose) {
      SLUICE_ASSIGN_OR_RETURN(emitted_, context.key_value_store(emitted_name_));
      SLUICE_RETURN_IF_ERROR(load_emitted_until(*emitted_, emitted_until_));
    }
    return Status();
  }

  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    if (is_null_key(r.key)) return Status();
    const int64_t d = windows_.difference_ms;
    const int64_t t = r.timestamp.value();
    const int64_t stream = stream_time_of(*this->context_, *store_).value();
    auto closed = [&](int64_t start) { return start + d + windows_.grace_ms < stream; };
    if (closed(t)) {  // the last window containing t starts at t
      ++this->metrics_->late_dropped;
      return send_late(late_topic_, r, *this->context_);
    }
    key_bytes_.clear();
    Serde<K>::serialize(r.key, key_bytes_);
    // Keep the record (several per timestamp: a list).
    {
      Bytes value;
      Serde<V>::serialize(r.value, value);
      SLUICE_ASSIGN_OR_RETURN(auto existing, records_->fetch(key_bytes_, r.timestamp));
      Bytes list = existing ? std::move(*existing) : Bytes();
      append_value(list, value);
      SLUICE_RETURN_IF_ERROR(records_->put(key_bytes_, r.timestamp, ByteView(list)));
    }
    // The key's records near t: every window touched starts in [t - d - 1, t + 1] and ends by
    // t + 1 + d.
    SLUICE_ASSIGN_OR_RETURN(auto near, records_near(t - 2 * d - 1, t + 1 + d));
    // Candidate windows (by start): those ending at a record, and those starting just after
    // one when a record falls in them — restricted to the ones that contain t, plus t's own.
    std::vector<int64_t> starts;
    for (const auto& [ts, v] : near) {
      if (ts - d <= t && t <= ts) starts.push_back(ts - d);  // ends at ts, contains t
      const int64_t after = ts + 1;
      if (after <= t && t <= after + d) starts.push_back(after);  // starts after ts, contains t
    }
    starts.push_back(t + 1);  // t's right window (kept only if it holds a record)
    std::sort(starts.begin(), starts.end());
    starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
    for (int64_t start : starts) {
      if (closed(start)) continue;
      bool any = false;
      Agg agg = init_();
      Timestamp latest = kNoTimestamp;
      for (const auto& [ts, v] : near) {
        if (ts < start || ts > start + d) continue;
        any = true;
        agg = add_(r.key, v, std::move(agg));
        latest = std::max(latest, Timestamp(ts));
      }
      if (!any) continue;
      const Bytes encoded = encode_timestamped(agg, latest);
      SLUICE_ASSIGN_OR_RETURN(auto before, store_->fetch(key_bytes_, Timestamp(start)));
      if (before && *before == encoded) continue;
      SLUICE_RETURN_IF_ERROR(store_->put(key_bytes_, Timestamp(start), ByteView(encoded)));
      if (emit_ == EmitStrategy::kOnEveryUpdate) {
        ++this->metrics_->records_out;
        SLUICE_RETURN_IF_ERROR(
            this->out_.forward({Windowed<K>{r.key, {Timestamp(start), Timestamp(start + d)}},
                                std::move(agg), latest}));
      }
    }
    // Before the stores' stream time moves: a jump may close a window and expire it at once.
    if (emit_ == EmitStrategy::kOnWindowClose) SLUICE_RETURN_IF_ERROR(emit_closed(stream));
    SLUICE_RETURN_IF_ERROR(records_->advance_stream_time(Timestamp(stream)));
    return store_->advance_stream_time(Timestamp(stream));
  }

 private:
  // The key's records with timestamps in [from, to], by timestamp then arrival.
  Result<std::vector<std::pair<int64_t, V>>> records_near(int64_t from, int64_t to) {
    std::vector<std::pair<int64_t, V>> out;
    SLUICE_ASSIGN_OR_RETURN(
        auto it, records_->fetch(key_bytes_, Timestamp(std::max<int64_t>(0, from)), Timestamp(to)));
    for (; it->valid(); it->next()) {
      SLUICE_ASSIGN_OR_RETURN(auto values, decode_values<V>(it->value(), records_name_));
      for (auto& v : values) out.emplace_back(it->window_start().value(), std::move(v));
    }
    SLUICE_RETURN_IF_ERROR(it->status());
    return out;
  }

  // Forwards every window closed since the last call (start + d + grace < stream time).
  Status emit_closed(int64_t stream) {
    return emit_closed_windows<K, Agg>(*store_, *emitted_, emitted_until_,
                                       stream - windows_.difference_ms - windows_.grace_ms - 1,
                                       windows_.difference_ms, this->out_, *this->metrics_);
  }

  const std::string store_name_, records_name_, emitted_name_;
  const SlidingWindows windows_;
  const EmitStrategy emit_;
  const std::string late_topic_;
  Initializer init_;
  Adder add_;
  state::WindowStore* store_ = nullptr;
  state::WindowStore* records_ = nullptr;
  state::KeyValueStore* emitted_ = nullptr;
  int64_t emitted_until_;  // windows starting before this were emitted
  Bytes key_bytes_;
};

}  // namespace sluice::operators

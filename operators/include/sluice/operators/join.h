// Stream-stream windowed joins: inner, left and outer.
//
// Records of the two sides join when they have the same key and their timestamps are close
// enough: a left record at t1 joins right records at t2 in [t1 - before, t1 + after]. Both
// sides are buffered in window stores (one per side, every record kept, duplicates included),
// so a record joins with what the other side buffered before it and with what arrives after.
// Each join result carries the larger of the two timestamps.
//
// Left and outer joins emit a record that found no partner (with std::nullopt for the other
// side) only once its window has closed — stream time past t1 + after + grace for a left
// record, t2 + before + grace for a right one — and only if no partner came by then: never a
// spurious early null. Those records wait in a third store, keyed by time, that each record's
// processing scans from its start. A record later than grace (t + grace < stream time) is
// dropped and counted: it could otherwise join records already emitted as unmatched.
//
// The join is two nodes, one per side, sharing the three stores (so they run in one task) and
// forwarding to one merge node.
//
// Thread safety: thread-confined to the task, like every node.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sluice/operators/aggregate.h"
#include "sluice/operators/node.h"
#include "sluice/operators/serde.h"
#include "sluice/state/store.h"

namespace sluice::operators {

enum class JoinKind : int8_t { kInner, kLeft, kOuter };
enum class JoinSide : int8_t { kLeft = 0, kRight = 1 };

struct JoinStores {
  std::string left, right;  // window stores: every record of each side, by (key, timestamp)
  std::string unmatched;    // key-value store: records waiting for their window to close
};

// One side of a join. VThis is this side's value type, VOther the other's; the joiner is
// always called as (left value, right value).
template <typename K, typename VThis, typename VOther, typename VOut>
class StreamJoinNode final : public Input<K, VThis>, public OutputNode<K, VOut> {
 public:
  using Joiner = std::function<VOut(const std::optional<VThis>&, const std::optional<VOther>&)>;

  // `joiner` takes (this side, other side); the DSL adapts the user's (left, right) function.
  StreamJoinNode(JoinSide side, JoinKind kind, JoinWindows windows, JoinStores stores,
                 Joiner joiner)
      : side_(side),
        kind_(kind),
        windows_(windows),
        stores_(std::move(stores)),
        joiner_(std::move(joiner)) {}

  Status init(TaskContext& context) override {
    SLUICE_RETURN_IF_ERROR(Node::init(context));
    const bool left = side_ == JoinSide::kLeft;
    SLUICE_ASSIGN_OR_RETURN(this_store_, context.window_store(left ? stores_.left : stores_.right));
    SLUICE_ASSIGN_OR_RETURN(other_store_,
                            context.window_store(left ? stores_.right : stores_.left));
    if (kind_ != JoinKind::kInner) {
      SLUICE_ASSIGN_OR_RETURN(unmatched_, context.key_value_store(stores_.unmatched));
    }
    // How far this side's records reach into the other's time, and the other's into this.
    reach_back_ = left ? windows_.before_ms : windows_.after_ms;
    reach_forward_ = left ? windows_.after_ms : windows_.before_ms;
    return Status();
  }

  Status process(Record<K, VThis>&& r) override {
    ++this->metrics_->records_in;
    if (is_null_key(r.key)) return Status();
    const Timestamp stream_time = this->context_->stream_time();
    if (r.timestamp.value() + windows_.grace_ms < stream_time.value()) {
      ++this->metrics_->late_dropped;
      return Status();
    }
    key_bytes_.clear();
    Serde<K>::serialize(r.key, key_bytes_);
    Bytes value_bytes;
    Serde<VThis>::serialize(r.value, value_bytes);

    // Join with the other side's buffered records in the window.
    bool matched = false;
    {
      SLUICE_ASSIGN_OR_RETURN(auto it, other_store_->fetch(key_bytes_, r.timestamp - reach_back_,
                                                           r.timestamp + reach_forward_));
      std::vector<std::pair<Timestamp, Bytes>> partners;
      for (; it->valid(); it->next()) partners.emplace_back(it->window_start(), Bytes(it->value()));
      SLUICE_RETURN_IF_ERROR(it->status());
      for (const auto& [t, list] : partners) {
        SLUICE_ASSIGN_OR_RETURN(auto others, decode_values<VOther>(list, "join"));
        for (auto& other : others) {
          matched = true;
          ++this->metrics_->records_out;
          SLUICE_RETURN_IF_ERROR(
              this->out_.forward({r.key, joiner_(r.value, std::optional<VOther>(std::move(other))),
                                  std::max(r.timestamp, t)}));
        }
        // The partner's records are matched now: they will not be emitted alone. (Looked up
        // first: a removal of nothing would still cost a write and a changelog tombstone.)
        if (unmatched_) {
          const Bytes k = unmatched_key(t, other_side());
          SLUICE_ASSIGN_OR_RETURN(auto waiting, unmatched_->get(k));
          if (waiting) SLUICE_RETURN_IF_ERROR(unmatched_->remove(k));
        }
      }
    }

    // Buffer this record for the other side's future records.
    SLUICE_ASSIGN_OR_RETURN(auto existing, this_store_->fetch(key_bytes_, r.timestamp));
    Bytes list = existing ? std::move(*existing) : Bytes();
    append_value(list, value_bytes);
    SLUICE_RETURN_IF_ERROR(this_store_->put(key_bytes_, r.timestamp, ByteView(list)));

    // Unmatched so far: wait for the window to close (left and outer joins).
    const bool keeps_unmatched =
        kind_ == JoinKind::kOuter || (kind_ == JoinKind::kLeft && side_ == JoinSide::kLeft);
    if (keeps_unmatched && !matched) {
      const Bytes k = unmatched_key(r.timestamp, side_);
      SLUICE_ASSIGN_OR_RETURN(auto waiting, unmatched_->get(k));
      Bytes w = waiting ? std::move(*waiting) : Bytes();
      append_value(w, value_bytes);
      SLUICE_RETURN_IF_ERROR(unmatched_->put(k, w));
    }
    if (unmatched_) SLUICE_RETURN_IF_ERROR(emit_closed(stream_time));
    SLUICE_RETURN_IF_ERROR(this_store_->advance_stream_time(stream_time));
    return other_store_->advance_stream_time(stream_time);
  }

 private:
  JoinSide other_side() const {
    return side_ == JoinSide::kLeft ? JoinSide::kRight : JoinSide::kLeft;
  }
  // [timestamp BE][side][key]: in time order.
  Bytes unmatched_key(Timestamp t, JoinSide side) const {
    Bytes k;
    append_be<int64_t>(k, t.value());
    k.push_back(static_cast<char>(side));
    k.append(key_bytes_);
    return k;
  }

  // Emits, alone, every waiting record whose window has closed.
  Status emit_closed(Timestamp stream_time) {
    // Nothing closes unless stream time moved: a record just added is never already closed
    // (it is not late, so t >= stream time - grace).
    if (stream_time.value() == scanned_at_) return Status();
    scanned_at_ = stream_time.value();
    // A left record at t closes after t + after + grace; a right one after t + before + grace.
    const int64_t left_close = stream_time.value() - windows_.after_ms - windows_.grace_ms;
    const int64_t right_close = stream_time.value() - windows_.before_ms - windows_.grace_ms;
    Bytes from, to;
    // Everything below the lower of the two thresholds was emitted by earlier calls, and later
    // records are never older than it: start there, not over the removed entries' tombstones.
    append_be<int64_t>(from, std::max<int64_t>(0, scan_from_));
    append_be<int64_t>(to, std::max(left_close, right_close));
    scan_from_ = std::max(scan_from_, std::min(left_close, right_close));
    std::vector<std::pair<Bytes, Bytes>> closed;
    {
      SLUICE_ASSIGN_OR_RETURN(auto it, unmatched_->range(ByteView(from), ByteView(to)));
      for (; it->valid(); it->next()) {
        const ByteView k = it->key();
        if (k.size() < 9) return corruption("store '" + stores_.unmatched + "': malformed key");
        const int64_t t = load_be<int64_t>(k.data());
        const auto side = static_cast<JoinSide>(k[8]);
        if (t >= (side == JoinSide::kLeft ? left_close : right_close)) continue;
        closed.emplace_back(Bytes(k), Bytes(it->value()));
      }
      SLUICE_RETURN_IF_ERROR(it->status());
    }
    for (const auto& [k, list] : closed) {
      const Timestamp t(load_be<int64_t>(k.data()));
      const auto side = static_cast<JoinSide>(k[8]);
      SLUICE_ASSIGN_OR_RETURN(K key, Serde<K>::deserialize(ByteView(k).substr(9)));
      if (side == side_) {
        SLUICE_ASSIGN_OR_RETURN(auto values, decode_values<VThis>(list, stores_.unmatched));
        for (auto& v : values) {
          ++this->metrics_->records_out;
          SLUICE_RETURN_IF_ERROR(this->out_.forward(
              {key, joiner_(std::optional<VThis>(std::move(v)), std::nullopt), t}));
        }
      } else {
        SLUICE_ASSIGN_OR_RETURN(auto values, decode_values<VOther>(list, stores_.unmatched));
        for (auto& v : values) {
          ++this->metrics_->records_out;
          SLUICE_RETURN_IF_ERROR(this->out_.forward(
              {key, joiner_(std::nullopt, std::optional<VOther>(std::move(v))), t}));
        }
      }
      SLUICE_RETURN_IF_ERROR(unmatched_->remove(k));
    }
    return Status();
  }

  const JoinSide side_;
  const JoinKind kind_;
  const JoinWindows windows_;
  const JoinStores stores_;
  Joiner joiner_;
  state::WindowStore* this_store_ = nullptr;
  state::WindowStore* other_store_ = nullptr;
  state::KeyValueStore* unmatched_ = nullptr;
  int64_t reach_back_ = 0, reach_forward_ = 0;
  int64_t scan_from_ = 0;
  int64_t scanned_at_ = -1;  // the stream time of the last scan  // no waiting record is older (per
                             // task; each side node keeps its own)
  Bytes key_bytes_;
};

}  // namespace sluice::operators

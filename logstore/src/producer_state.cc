#include "producer_state.h"

#include <string>

#include "derived_file.h"
#include "log_files.h"

namespace sluice::logstore {
namespace {

// Sequence numbers wrap to 0 after INT32_MAX.
Sequence next_sequence(Sequence s) { return Sequence(s.value() == INT32_MAX ? 0 : s.value() + 1); }

std::string producer_name(ProducerId id) { return "producer " + std::to_string(id.value()); }

}  // namespace

ProducerState::Entry& ProducerState::entry_for(ProducerId producer) { return producers_[producer]; }

const ProducerState::Entry* ProducerState::find(ProducerId producer) const {
  auto it = producers_.find(producer);
  return it == producers_.end() ? nullptr : &it->second;
}

void ProducerState::open_txn(Entry& e, Offset first) {
  e.open_txn_first_offset = first;
  open_txn_offsets_.insert(first);
}

void ProducerState::close_txn(Entry& e) {
  if (!e.open_txn_first_offset) return;
  open_txn_offsets_.erase(open_txn_offsets_.find(*e.open_txn_first_offset));
  e.open_txn_first_offset.reset();
}

Result<std::optional<ProducerState::BatchMetadata>> ProducerState::check_append(
    const BatchHeader& h) const {
  if (!h.has_producer()) return std::optional<BatchMetadata>();
  const Entry* e = find(h.producer_id);
  const Sequence first = h.base_sequence;
  if (first == kNoSequence) {
    // Written by the log itself for a producer (transactional offset commits): no
    // idempotence, but the epoch still fences.
    if (e != nullptr && h.producer_epoch < e->epoch) {
      return Status(StatusCode::kProducerFenced, producer_name(h.producer_id) + " epoch " +
                                                     std::to_string(h.producer_epoch.value()) +
                                                     " is fenced by epoch " +
                                                     std::to_string(e->epoch.value()));
    }
    return std::optional<BatchMetadata>();
  }
  if (first.value() < 0) {
    return invalid_argument(producer_name(h.producer_id) + " sent a negative sequence");
  }
  if (e == nullptr || e->epoch == kNoProducerEpoch) {
    if (first.value() != 0) {
      return Status(StatusCode::kOutOfOrderSequence,
                    producer_name(h.producer_id) + " is unknown here and its first sequence is " +
                        std::to_string(first.value()) + ", not 0");
    }
    return std::optional<BatchMetadata>();
  }
  if (h.producer_epoch < e->epoch) {
    return Status(StatusCode::kProducerFenced, producer_name(h.producer_id) + " epoch " +
                                                   std::to_string(h.producer_epoch.value()) +
                                                   " is fenced by epoch " +
                                                   std::to_string(e->epoch.value()));
  }
  if (h.producer_epoch > e->epoch) {
    // A new epoch starts its sequences over.
    if (first.value() != 0) {
      return Status(StatusCode::kOutOfOrderSequence,
                    producer_name(h.producer_id) + " started epoch " +
                        std::to_string(h.producer_epoch.value()) + " at sequence " +
                        std::to_string(first.value()) + ", not 0");
    }
  } else {
    for (const BatchMetadata& b : e->recent) {
      if (b.first_seq == first && b.last_seq == h.last_sequence()) return std::optional(b);
    }
    Sequence expected = e->recent.empty() ? Sequence(0) : next_sequence(e->recent.back().last_seq);
    if (first != expected) {
      return Status(StatusCode::kOutOfOrderSequence,
                    producer_name(h.producer_id) + " sent sequence " +
                        std::to_string(first.value()) + ", expected " +
                        std::to_string(expected.value()));
    }
  }
  if (!h.transactional() && e->open_txn_first_offset && h.producer_epoch == e->epoch) {
    return Status(StatusCode::kInvalidTxnState,
                  producer_name(h.producer_id) +
                      " sent a non-transactional batch while its transaction is open");
  }
  return std::optional<BatchMetadata>();
}

void ProducerState::on_append(const BatchHeader& h) {
  if (!h.has_producer()) return;
  Entry& e = entry_for(h.producer_id);
  if (h.producer_epoch != e.epoch) {
    e.recent.clear();
    e.epoch = h.producer_epoch;
  }
  if (h.base_sequence != kNoSequence) {
    e.recent.push_back(
        {h.base_sequence, h.last_sequence(), h.base_offset, h.last_offset(), h.max_timestamp});
    if (e.recent.size() > kRecentBatches) e.recent.pop_front();
  }
  e.last_timestamp = h.max_timestamp;
  if (h.transactional() && !e.open_txn_first_offset) open_txn(e, h.base_offset);
}

Status ProducerState::check_marker(ProducerId producer, ProducerEpoch epoch) const {
  const Entry* e = find(producer);
  if (e != nullptr && epoch < e->epoch) {
    return Status(StatusCode::kProducerFenced, "transaction marker of " + producer_name(producer) +
                                                   " epoch " + std::to_string(epoch.value()) +
                                                   " is fenced by epoch " +
                                                   std::to_string(e->epoch.value()));
  }
  return Status();
}

std::optional<AbortedTransaction> ProducerState::on_marker(ProducerId producer, ProducerEpoch epoch,
                                                           ControlType type, Offset marker_offset,
                                                           Timestamp timestamp) {
  Entry& e = entry_for(producer);
  if (epoch > e.epoch) {
    e.epoch = epoch;
    e.recent.clear();
  }
  e.last_timestamp = timestamp;
  std::optional<AbortedTransaction> aborted;
  if (type == ControlType::kAbort && e.open_txn_first_offset) {
    aborted = AbortedTransaction{producer, *e.open_txn_first_offset, marker_offset};
  }
  close_txn(e);
  return aborted;
}

Result<std::optional<AbortedTransaction>> ProducerState::replay(const RecordBatchView& batch) {
  const BatchHeader& h = batch.header();
  if (!h.control()) {
    on_append(h);
    return std::optional<AbortedTransaction>();
  }
  SLUICE_ASSIGN_OR_RETURN(ControlRecord marker, read_control_record(batch));
  return on_marker(h.producer_id, h.producer_epoch, marker.type, h.base_offset, h.max_timestamp);
}

std::optional<Offset> ProducerState::first_unstable_offset() const {
  if (open_txn_offsets_.empty()) return std::nullopt;
  return *open_txn_offsets_.begin();
}

std::vector<std::pair<ProducerId, ProducerEpoch>> ProducerState::open_transactions() const {
  std::vector<std::pair<ProducerId, ProducerEpoch>> out;
  for (const auto& [id, e] : producers_) {
    if (e.open_txn_first_offset) out.emplace_back(id, e.epoch);
  }
  return out;
}

void ProducerState::expire(Timestamp horizon) {
  std::erase_if(producers_, [&](const auto& kv) {
    return !kv.second.open_txn_first_offset && kv.second.last_timestamp < horizon;
  });
}

// Snapshot layout: count u32, then per producer: id i64 | epoch i16 | last timestamp i64 |
// open txn first offset i64 (-1: none) | batch count u8 | batches (first seq i32, last seq i32,
// first offset i64, last offset i64, timestamp i64); then the trailer.
Bytes ProducerState::snapshot() const {
  Bytes out;
  append_be<uint32_t>(out, static_cast<uint32_t>(producers_.size()));
  for (const auto& [id, e] : producers_) {
    append_be<int64_t>(out, id.value());
    append_be<int16_t>(out, e.epoch.value());
    append_be<int64_t>(out, e.last_timestamp.value());
    append_be<int64_t>(out, e.open_txn_first_offset ? e.open_txn_first_offset->value() : -1);
    out.push_back(static_cast<char>(e.recent.size()));
    for (const BatchMetadata& b : e.recent) {
      append_be<int32_t>(out, b.first_seq.value());
      append_be<int32_t>(out, b.last_seq.value());
      append_be<int64_t>(out, b.first_offset.value());
      append_be<int64_t>(out, b.last_offset.value());
      append_be<int64_t>(out, b.timestamp.value());
    }
  }
  append_trailer(out, files::kSnapshotMagic, static_cast<uint32_t>(producers_.size()));
  return out;
}

Result<ProducerState> ProducerState::from_snapshot(ByteView bytes) {
  if (bytes.size() < files::kTrailerSize) return corruption("producer snapshot is too short");
  // Entries have variable size: check the trailer against the whole body (entry size 1).
  size_t body_size = bytes.size() - files::kTrailerSize;
  const char* t = bytes.data() + body_size;
  if (load_be<uint32_t>(t) != files::kSnapshotMagic) return corruption("bad snapshot magic");
  Bytes check(bytes.substr(0, body_size));
  append_trailer(check, files::kSnapshotMagic, load_be<uint32_t>(t + 8));
  if (ByteView(check) != bytes) return corruption("producer snapshot fails its CRC");

  ByteReader in(bytes.substr(0, body_size));
  ProducerState state;
  uint32_t count;
  if (!in.get_be(count)) return corruption("producer snapshot is truncated");
  for (uint32_t i = 0; i < count; ++i) {
    int64_t id, ts, txn;
    int16_t epoch;
    uint8_t n;
    if (!in.get_be(id) || !in.get_be(epoch) || !in.get_be(ts) || !in.get_be(txn) || !in.get_be(n)) {
      return corruption("producer snapshot is truncated");
    }
    Entry& e = state.producers_[ProducerId(id)];
    e.epoch = ProducerEpoch(epoch);
    e.last_timestamp = Timestamp(ts);
    if (txn >= 0) state.open_txn(e, Offset(txn));
    for (uint8_t j = 0; j < n; ++j) {
      int32_t fs, ls;
      int64_t fo, lo, bt;
      if (!in.get_be(fs) || !in.get_be(ls) || !in.get_be(fo) || !in.get_be(lo) || !in.get_be(bt)) {
        return corruption("producer snapshot is truncated");
      }
      e.recent.push_back({Sequence(fs), Sequence(ls), Offset(fo), Offset(lo), Timestamp(bt)});
    }
  }
  if (in.remaining() != 0) return corruption("producer snapshot has trailing bytes");
  return state;
}

}  // namespace sluice::logstore

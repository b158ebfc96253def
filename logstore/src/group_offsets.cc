#include "group_offsets.h"

#include <cstdlib>

#include "sluice/base/check.h"

namespace sluice::logstore {
namespace {

constexpr int16_t kKeyVersion = 1;
constexpr int16_t kValueVersion = 3;
// Strings are int16 length-prefixed.
constexpr size_t kMaxStringBytes = INT16_MAX;

void put_string(Bytes& out, std::string_view s) {
  append_be<int16_t>(out, static_cast<int16_t>(s.size()));
  out.append(s);
}

bool get_string(ByteReader& in, std::string& out) {
  int16_t len;
  ByteView v;
  if (!in.get_be(len) || len < 0 || !in.get_bytes(static_cast<size_t>(len), v)) return false;
  out.assign(v);
  return true;
}

}  // namespace

int32_t GroupOffsets::java_hash(std::string_view s) {
  uint32_t h = 0;
  for (unsigned char c : s) h = 31 * h + c;  // UTF-16 code units equal bytes for ASCII ids
  return static_cast<int32_t>(h);
}

GroupOffsets::GroupOffsets(std::vector<std::shared_ptr<Partition>> partitions)
    : partitions_(std::move(partitions)) {
  SLUICE_CHECK(!partitions_.empty());
}

const std::shared_ptr<Partition>& GroupOffsets::partition_for(std::string_view group) const {
  // Kafka's Utils.abs, not Math.abs: INT32_MIN maps to 0.
  const int32_t h = java_hash(group);
  const int64_t positive = h == INT32_MIN ? 0 : std::llabs(h);
  return partitions_[static_cast<size_t>(positive % static_cast<int64_t>(partitions_.size()))];
}

Result<std::optional<std::pair<std::string, TopicPartition>>> decode_offset_key(ByteView key) {
  ByteReader in(key);
  int16_t version;
  if (!in.get_be(version)) return corruption("offset commit key is too short");
  if (version != 0 && version != 1) {
    return std::optional<std::pair<std::string, TopicPartition>>();  // group metadata etc.
  }
  std::string group;
  TopicPartition tp;
  int32_t partition;
  if (!get_string(in, group) || !get_string(in, tp.topic) || !in.get_be(partition)) {
    return corruption("offset commit key is malformed");
  }
  tp.partition = PartitionId(partition);
  return std::optional(std::make_pair(std::move(group), std::move(tp)));
}

Result<CommittedOffset> decode_offset_value(ByteView value) {
  ByteReader in(value);
  int16_t version;
  int64_t offset, ts;
  int32_t leader_epoch;
  CommittedOffset out;
  if (!in.get_be(version) || version != kValueVersion || !in.get_be(offset) ||
      !in.get_be(leader_epoch) || !get_string(in, out.metadata) || !in.get_be(ts)) {
    return corruption("offset commit value is malformed or of an unknown version");
  }
  out.offset = Offset(offset);
  out.commit_time = Timestamp(ts);
  return out;
}

Result<Bytes> GroupOffsets::encode(std::string_view group, const OffsetMap& offsets,
                                   ProducerIdentity producer, bool transactional) const {
  if (group.empty()) return invalid_argument("a consumer group id must not be empty");
  if (group.size() > kMaxStringBytes) {
    return invalid_argument("consumer group id of " + std::to_string(group.size()) +
                            " bytes is longer than the " + std::to_string(kMaxStringBytes) +
                            " bytes allowed");
  }
  for (const auto& [tp, committed] : offsets) {
    if (committed.metadata.size() > kMaxStringBytes) {
      return invalid_argument("offset metadata of group '" + std::string(group) + "' for " +
                              tp.to_string() + " is " + std::to_string(committed.metadata.size()) +
                              " bytes, more than the " + std::to_string(kMaxStringBytes) +
                              " bytes allowed");
    }
  }
  RecordBatchBuilder builder({.producer_id = producer.id,
                              .producer_epoch = producer.epoch,
                              .transactional = transactional});
  std::vector<std::pair<Bytes, Bytes>> kv;
  kv.reserve(offsets.size());
  for (const auto& [tp, committed] : offsets) {
    Bytes key, value;
    append_be<int16_t>(key, kKeyVersion);
    put_string(key, group);
    put_string(key, tp.topic);
    append_be<int32_t>(key, tp.partition.value());
    append_be<int16_t>(value, kValueVersion);
    append_be<int64_t>(value, committed.offset.value());
    append_be<int32_t>(value, -1);  // leader epoch: unknown
    put_string(value, committed.metadata);
    append_be<int64_t>(value, committed.commit_time.value());
    kv.emplace_back(std::move(key), std::move(value));
  }
  for (const auto& [key, value] : kv) {
    builder.add(Record{.key = ByteView(key),
                       .value = ByteView(value),
                       .timestamp = offsets.begin()->second.commit_time});
  }
  return builder.build();
}

Status GroupOffsets::commit(std::string_view group, const OffsetMap& offsets) {
  if (offsets.empty()) return Status();
  SLUICE_ASSIGN_OR_RETURN(Bytes batch, encode(group, offsets, {}, false));
  SLUICE_ASSIGN_OR_RETURN(AppendResult appended,
                          partition_for(group)->append(batch, BatchOrigin::kLocal));
  MutexLock lock(mu_);
  Offset record = appended.base_offset;  // one record per entry, in map order
  for (const auto& [tp, committed] : offsets) {
    apply({std::string(group), tp, committed, record});
    record = record.next();
  }
  return Status();
}

Status GroupOffsets::commit_in_transaction(std::string_view group, const OffsetMap& offsets,
                                           ProducerIdentity producer) {
  if (offsets.empty()) return Status();
  SLUICE_ASSIGN_OR_RETURN(Bytes batch, encode(group, offsets, producer, true));
  SLUICE_ASSIGN_OR_RETURN(AppendResult appended,
                          partition_for(group)->append(batch, BatchOrigin::kLocal));
  MutexLock lock(mu_);
  auto& pending = pending_[producer.id];
  Offset record = appended.base_offset;
  for (const auto& [tp, committed] : offsets) {
    pending.push_back({std::string(group), tp, committed, record});
    record = record.next();
  }
  return Status();
}

void GroupOffsets::on_marker(ProducerId producer, bool committed) {
  MutexLock lock(mu_);
  auto it = pending_.find(producer);
  if (it == pending_.end()) return;
  if (committed) {
    for (const Pending& p : it->second) apply(p);
  }
  pending_.erase(it);
}

void GroupOffsets::apply(const Pending& p) {
  if (p.value) {
    auto [it, inserted] = groups_[p.group].try_emplace(p.tp, Stored{*p.value, p.record});
    if (!inserted && it->second.record < p.record) it->second = Stored{*p.value, p.record};
    return;
  }
  auto g = groups_.find(p.group);
  if (g == groups_.end()) return;
  auto it = g->second.find(p.tp);
  if (it == g->second.end() || it->second.record > p.record) return;
  g->second.erase(it);
  if (g->second.empty()) groups_.erase(g);
}

Status GroupOffsets::load() {
  MutexLock lock(mu_);
  groups_.clear();
  pending_.clear();
  for (const auto& partition : partitions_) {
    FetchRequest req{.partition = partition->id(),
                     .offset = partition->ends().log_start,
                     .max_bytes = 4 << 20,
                     .isolation = IsolationLevel::kReadUncommitted};
    const Offset end = partition->ends().high_watermark.offset();
    while (req.offset < end) {
      SLUICE_ASSIGN_OR_RETURN(FetchResult chunk, partition->read(req));
      if (chunk.batches.empty()) break;
      ByteView rest = chunk.batches;
      while (!rest.empty()) {
        SLUICE_ASSIGN_OR_RETURN(RecordBatchView batch, RecordBatchView::parse(rest));
        rest.remove_prefix(batch.bytes().size());
        const BatchHeader& h = batch.header();
        if (h.control()) {
          SLUICE_ASSIGN_OR_RETURN(ControlRecord marker, read_control_record(batch));
          auto it = pending_.find(h.producer_id);
          if (it == pending_.end()) continue;
          if (marker.type == ControlType::kCommit) {
            for (const Pending& p : it->second) apply(p);
          }
          pending_.erase(it);
          continue;
        }
        SLUICE_ASSIGN_OR_RETURN(RecordIterator it, RecordIterator::open(batch));
        RecordView r;
        while (true) {
          SLUICE_ASSIGN_OR_RETURN(bool more, it.next(r));
          if (!more) break;
          if (r.offset < req.offset || !r.key) continue;
          SLUICE_ASSIGN_OR_RETURN(auto key, decode_offset_key(*r.key));
          if (!key) continue;
          Pending p{key->first, key->second, std::nullopt, r.offset};
          if (r.value) {
            SLUICE_ASSIGN_OR_RETURN(CommittedOffset v, decode_offset_value(*r.value));
            p.value = v;
          }
          if (h.transactional()) {
            pending_[h.producer_id].push_back(std::move(p));
          } else {
            apply(p);
          }
        }
      }
      req.offset = chunk.next_offset;
    }
  }
  return Status();
}

std::optional<CommittedOffset> GroupOffsets::fetch(std::string_view group,
                                                   const TopicPartition& tp) const {
  MutexLock lock(mu_);
  auto g = groups_.find(group);
  if (g == groups_.end()) return std::nullopt;
  auto it = g->second.find(tp);
  if (it == g->second.end()) return std::nullopt;
  return it->second.value;
}

OffsetMap GroupOffsets::fetch_all(std::string_view group) const {
  MutexLock lock(mu_);
  OffsetMap out;
  auto g = groups_.find(group);
  if (g == groups_.end()) return out;
  for (const auto& [tp, stored] : g->second) out.emplace(tp, stored.value);
  return out;
}

std::vector<std::string> GroupOffsets::groups() const {
  MutexLock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, offsets] : groups_) out.push_back(name);
  return out;
}

}  // namespace sluice::logstore

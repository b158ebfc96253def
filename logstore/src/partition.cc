// Partition: construction, ends, segment list and flushing. The append, read, recovery,
// retention and compaction paths live in their own files.
#include "partition.h"

#include <algorithm>

#include "log_files.h"
#include "sluice/base/check.h"

namespace sluice::logstore {

Partition::Partition(FileSystem& fs, Clock& clock, TopicPartition id, std::string dir,
                     const TopicConfig& config)
    : fs_(fs),
      clock_(clock),
      id_(std::move(id)),
      dir_(std::move(dir)),
      config_(config),
      may_have_gaps_(config.compacted()),
      flush_policy_(static_cast<int32_t>(config.flush_policy)),
      record_validation_(static_cast<int32_t>(config.record_validation)),
      flush_ms_(config.flush_ms) {}

Partition::~Partition() = default;

Result<std::unique_ptr<Partition>> Partition::open(FileSystem& fs, Clock& clock, TopicPartition id,
                                                   std::string dir, const TopicConfig& config,
                                                   OpenReport& report) {
  std::unique_ptr<Partition> p(new Partition(fs, clock, std::move(id), std::move(dir), config));
  SLUICE_RETURN_IF_ERROR(p->recover(report).with_context("recovering " + p->id_.to_string()));
  return p;
}

void Partition::set_config(const TopicConfig& config) {
  MutexLock lock(append_mu_);
  config_ = config;
  if (config.compacted()) may_have_gaps_.store(true);
  flush_policy_.store(static_cast<int32_t>(config.flush_policy));
  record_validation_.store(static_cast<int32_t>(config.record_validation));
  flush_ms_.store(config.flush_ms);
}

TopicConfig Partition::config() const {
  MutexLock lock(append_mu_);
  return config_;
}

PartitionEnds Partition::ends() const {
  // Loaded in the reverse order of publication so the invariants hold for the snapshot.
  PartitionEnds e;
  e.stable = StableEnd(Offset(stable_.load(std::memory_order_acquire)));
  e.high_watermark = HighWatermark(Offset(high_watermark_.load(std::memory_order_acquire)));
  e.durable = DurableEnd(Offset(durable_.load(std::memory_order_acquire)));
  e.written = WrittenEnd(Offset(written_.load(std::memory_order_acquire)));
  e.log_start = Offset(log_start_.load(std::memory_order_acquire));
  if (e.log_start > e.high_watermark.offset()) e.log_start = e.high_watermark.offset();
  if (e.durable.offset() > e.written.offset()) e.durable = DurableEnd(e.written.offset());
  return e;
}

uint64_t Partition::size_bytes() const {
  ReaderLock lock(segments_mu_);
  uint64_t total = 0;
  for (const auto& s : segments_) total += s->size();
  return total;
}

size_t Partition::segment_count() const {
  ReaderLock lock(segments_mu_);
  return segments_.size();
}

std::vector<std::pair<ProducerId, ProducerEpoch>> Partition::open_transactions() const {
  MutexLock lock(append_mu_);
  return producers_.open_transactions();
}

std::shared_ptr<Segment> Partition::active() const {
  ReaderLock lock(segments_mu_);
  return segments_.back();
}

std::vector<std::shared_ptr<Segment>> Partition::segments() const {
  ReaderLock lock(segments_mu_);
  return segments_;
}

std::shared_ptr<Segment> Partition::segment_for(Offset offset) const {
  ReaderLock lock(segments_mu_);
  auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                             [](Offset o, const auto& s) { return o < s->base_offset(); });
  if (it == segments_.begin()) return segments_.front();
  return *std::prev(it);
}

std::shared_ptr<Segment> Partition::segment_after(Offset base) const {
  ReaderLock lock(segments_mu_);
  auto it = std::upper_bound(segments_.begin(), segments_.end(), base,
                             [](Offset o, const auto& s) { return o < s->base_offset(); });
  return it == segments_.end() ? nullptr : *it;
}

Status Partition::remove_segments(const std::vector<std::shared_ptr<Segment>>& doomed) {
  if (doomed.empty()) return Status();
  {
    WriterLock lock(segments_mu_);
    std::erase_if(segments_, [&](const auto& s) {
      return std::find(doomed.begin(), doomed.end(), s) != doomed.end();
    });
    SLUICE_CHECK(!segments_.empty());
  }
  Status first;
  for (const auto& s : doomed) {
    Status st = s->remove_files();
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

Status Partition::write_log_start(Offset start) {
  Bytes data;
  append_be<int64_t>(data, start.value());
  return write_file_atomically(fs_, dir_ + "/" + std::string(files::kLogStartFile), data);
}

bool Partition::flush_due(int64_t now_ms) const {
  if (static_cast<FlushPolicy>(flush_policy_.load()) != FlushPolicy::kInterval) return false;
  int64_t first = first_unsynced_ms_.load(std::memory_order_acquire);
  return first >= 0 && now_ms - first >= flush_ms_.load();
}

Status Partition::sync() {
  MutexLock lock(sync_mu_);
  // Everything up to `target` is in the active segment or in sealed segments that roll() synced
  // (unless the flush policy is kNever, where durability is left to the OS anyway).
  const int64_t target = written_.load(std::memory_order_acquire);
  if (durable_.load(std::memory_order_acquire) >= target) return Status();
  first_unsynced_ms_.store(-1, std::memory_order_release);
  Status s = active()->sync();
  if (!s.ok()) {
    failed_.store(true);
    return s.with_context("syncing " + id_.to_string());
  }
  int64_t cur = durable_.load();
  while (cur < target && !durable_.compare_exchange_weak(cur, target)) {
  }
  return Status();
}

Status Partition::close() {
  Status s = sync();
  MutexLock lock(append_mu_);
  closed_ = true;
  return s;
}

}  // namespace sluice::logstore

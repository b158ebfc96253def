#include "rocks_writer.h"

#include <spdlog/spdlog.h>

#include <tbb/task_arena.h>

#include <algorithm>

namespace sluice::state {
namespace {

// The DB under a column family's buffered writes, forward only. The overlay wins where both
// hold a key; its removals hide the DB's entries.
class OverlayIterator final : public rocksdb::Iterator {
 public:
  OverlayIterator(std::unique_ptr<rocksdb::Iterator> base, const RocksWriter::Sorted& overlay)
      : base_(std::move(base)), overlay_(overlay), pos_(overlay.end()) {}

  bool Valid() const override {
    if (!status_.ok() || !base_->status().ok()) return false;
    return from_base_ ? base_->Valid() : pos_ != overlay_.end();
  }
  void SeekToFirst() override {
    base_->SeekToFirst();
    pos_ = overlay_.begin();
    settle();
  }
  void Seek(const rocksdb::Slice& target) override {
    base_->Seek(target);
    pos_ = overlay_.lower_bound(std::string_view(target.data(), target.size()));
    settle();
  }
  void Next() override {
    if (from_base_) {
      base_->Next();
    } else {
      ++pos_;
    }
    settle();
  }
  rocksdb::Slice key() const override {
    if (from_base_) return base_->key();
    const std::string_view k = (*pos_)->key();
    return {k.data(), k.size()};
  }
  rocksdb::Slice value() const override {
    if (from_base_) return base_->value();
    const std::string_view v = *(*pos_)->value();
    return {v.data(), v.size()};
  }
  rocksdb::Status status() const override { return status_.ok() ? base_->status() : status_; }
  void SeekToLast() override { unsupported(); }
  void SeekForPrev(const rocksdb::Slice&) override { unsupported(); }
  void Prev() override { unsupported(); }

 private:
  void unsupported() {
    status_ = rocksdb::Status::NotSupported("state store iterators only move forward");
  }
  // Positions on the smaller of the two current keys, skipping removed ones.
  void settle() {
    for (;;) {
      if (pos_ == overlay_.end()) {
        from_base_ = true;
        return;
      }
      const std::string_view key = (*pos_)->key();
      const int c =
          base_->Valid() ? base_->key().compare(rocksdb::Slice(key.data(), key.size())) : 1;
      if (c < 0) {
        from_base_ = true;
        return;
      }
      if (c == 0) base_->Next();  // shadowed by the buffered write
      if ((*pos_)->value()) {
        from_base_ = false;
        return;
      }
      ++pos_;  // a buffered removal
    }
  }

  std::unique_ptr<rocksdb::Iterator> base_;
  // The overlay's live index: writes of new keys may insert into it (set iterators stay
  // valid), but the stores detach their iterators before writing, bar the stream time's key,
  // which sorts first and is never walked.
  const RocksWriter::Sorted& overlay_;
  RocksWriter::Sorted::const_iterator pos_;
  bool from_base_ = true;
  rocksdb::Status status_;
};

}  // namespace

Status from_rocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return Status();
  std::string msg = std::string(context) + ": " + s.ToString();
  if (s.IsCorruption()) return corruption(std::move(msg));
  if (s.IsNotFound()) return not_found(std::move(msg));
  if (s.IsNoSpace()) return Status(StatusCode::kNoSpace, std::move(msg));
  if (s.IsInvalidArgument()) return invalid_argument(std::move(msg));
  if (s.IsIOError()) return io_error(std::move(msg));
  if (s.IsBusy() || s.IsTryAgain() || s.IsIncomplete()) {
    return Status(StatusCode::kUnavailable, std::move(msg));
  }
  return internal_error(std::move(msg));
}

RocksWriter::RocksWriter(rocksdb::DB* db) : db_(db) {}

namespace {

// Where committed batches are written: oneTBB workers, shared by every task of the process.
// (enqueue, not a task_group: an enqueued task wakes a worker at once, while a spawned one
// may wait in the committing thread's own queue until that thread waits for it.)
tbb::task_arena& write_arena() {
  static tbb::task_arena arena;
  return arena;
}

}  // namespace

void RocksWriter::buffer(rocksdb::ColumnFamilyHandle* cf, ByteView key,
                         std::optional<ByteView> value) {
  Overlay& o = overlay(cf);
  auto [entry, added] = o.entries.write(key, value);
  if (added && o.sorted) o.sorted->insert(entry);
}

Status RocksWriter::put(rocksdb::ColumnFamilyHandle* cf, ByteView key, ByteView value) {
  rocksdb::Slice k(key.data(), key.size()), v(value.data(), value.size());
  if (bulk_) {
    SLUICE_RETURN_IF_ERROR(from_rocks(bulk_->Put(cf, k, v), "restore write"));
    return maybe_flush_bulk();
  }
  buffer(cf, key, value);
  return Status();
}

Status RocksWriter::remove(rocksdb::ColumnFamilyHandle* cf, ByteView key) {
  rocksdb::Slice k(key.data(), key.size());
  if (bulk_) {
    SLUICE_RETURN_IF_ERROR(from_rocks(bulk_->Delete(cf, k), "restore delete"));
    return maybe_flush_bulk();
  }
  buffer(cf, key, std::nullopt);
  return Status();
}

Status RocksWriter::remove_range(rocksdb::ColumnFamilyHandle* cf, ByteView from, ByteView to) {
  // After the write in flight, which may hold keys of the range.
  SLUICE_RETURN_IF_ERROR(wait_for_commit());
  ++db_writes_;
  return from_rocks(db_->DeleteRange(write_options_, cf, rocksdb::Slice(from.data(), from.size()),
                                     rocksdb::Slice(to.data(), to.size())),
                    "dropping expired data");
}

Result<std::optional<Bytes>> RocksWriter::get(rocksdb::ColumnFamilyHandle* cf, ByteView key) {
  if (!bulk_) {
    auto buffered = [](const WriteOverlay::Entry& e) -> std::optional<Bytes> {
      if (auto v = e.value()) return Bytes(*v);
      return std::nullopt;
    };
    auto o = overlays_.find(cf->GetID());
    if (o != overlays_.end()) {
      if (const auto* e = o->second.entries.find(key)) return buffered(*e);
    }
    if (in_flight_) {
      auto f = in_flight_->overlays.find(cf->GetID());
      if (f != in_flight_->overlays.end()) {
        if (const auto* e = f->second.entries.find(key)) return buffered(*e);
      }
    }
  }
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf, rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<Bytes>();
  SLUICE_RETURN_IF_ERROR(from_rocks(s, "read"));
  return std::optional<Bytes>(std::move(value));
}

Result<std::optional<Bytes>> RocksWriter::last_key(rocksdb::ColumnFamilyHandle* cf) {
  if (bulk_ && bulk_->Count() > 0) SLUICE_RETURN_IF_ERROR(write_bulk());  // a restore's: first
  std::optional<Bytes> last;
  auto larger = [&](std::string_view k) {
    if (!last || k > ByteView(*last)) last = Bytes(k);
  };
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf));
  it->SeekToLast();
  if (it->Valid()) larger(std::string_view(it->key().data(), it->key().size()));
  SLUICE_RETURN_IF_ERROR(from_rocks(it->status(), "reading the last key"));
  for (auto* overlays : {&overlays_, in_flight_ ? &in_flight_->overlays : nullptr}) {
    if (!overlays) continue;
    auto o = overlays->find(cf->GetID());
    if (o == overlays->end()) continue;
    o->second.entries.for_each([&](const WriteOverlay::Entry& e) { larger(e.key()); });
  }
  return last;
}

std::unique_ptr<rocksdb::Iterator> RocksWriter::iterator(rocksdb::ColumnFamilyHandle* cf,
                                                         const rocksdb::ReadOptions& options) {
  std::unique_ptr<rocksdb::Iterator> base(db_->NewIterator(options, cf));
  if (bulk_) return base;
  // The DB as of now, under the write in flight (if it is already in the DB, the overlay
  // repeats what the DB has), under this interval's writes.
  auto layer = [&](std::unordered_map<uint32_t, Overlay>& overlays) {
    auto found = overlays.find(cf->GetID());
    if (found == overlays.end() || found->second.entries.empty()) return;
    base = std::make_unique<OverlayIterator>(std::move(base), found->second.sorted_entries());
  };
  if (in_flight_) layer(in_flight_->overlays);
  layer(overlays_);
  return base;
}

const RocksWriter::Sorted& RocksWriter::Overlay::sorted_entries() {
  if (!sorted) {
    sorted = std::make_unique<Sorted>();
    entries.for_each([&](const WriteOverlay::Entry& e) { sorted->insert(&e); });
  }
  return *sorted;
}

Status RocksWriter::commit() {
  if (empty()) return Status();
  SLUICE_RETURN_IF_ERROR(wait_for_commit());
  detach_iterators();
  auto f = std::make_unique<InFlight>();
  f->overlays = std::move(overlays_);
  overlays_.clear();
  for (auto& [id, o] : f->overlays) {
    // The next interval likely writes as many keys: room for them up front, not by rehashing.
    overlay(o.cf).entries.reserve(o.entries.size());
    f->to_write.emplace_back(&o, o.sorted.get());
  }
  in_flight_ = std::move(f);
  ++db_writes_;
  InFlight* committed = in_flight_.get();
  written_ = committed->written.get_future();
  write_arena().enqueue([this, committed] {
    try {
      committed->status = write(*committed);
    } catch (const std::exception& e) {  // bad_alloc building the batch: commit() reports it
      committed->status = rocksdb::Status::Aborted(std::string("building the batch: ") + e.what());
    }
    committed->written.set_value();
  });
  return Status();
}

rocksdb::Status RocksWriter::write(const InFlight& f) {
  rocksdb::WriteBatch batch;
  for (const auto& [o, sorted] : f.to_write) {
    auto add = [&](const WriteOverlay::Entry* e) {
      const std::string_view k = e->key();
      const auto v = e->value();
      return v ? batch.Put(o->cf, rocksdb::Slice(k.data(), k.size()),
                           rocksdb::Slice(v->data(), v->size()))
               : batch.Delete(o->cf, rocksdb::Slice(k.data(), k.size()));
    };
    if (sorted) {  // already in order
      for (const auto* e : *sorted) {
        if (auto s = add(e); !s.ok()) return s;
      }
      continue;
    }
    for (const auto* e : o->entries.sorted()) {
      if (auto s = add(e); !s.ok()) return s;
    }
  }
  return db_->Write(write_options_, &batch);
}

Status RocksWriter::wait_for_commit() {
  if (!in_flight_) return Status();
  written_.wait();
  // Iterators may point into the in-flight overlays.
  detach_iterators();
  Status s = from_rocks(in_flight_->status, "commit to RocksDB");
  in_flight_.reset();
  return s;
}

RocksWriter::~RocksWriter() {
  Status s = wait_for_commit();
  if (!s.ok()) spdlog::error("{}", s.to_string());
}

void RocksWriter::detach_iterators() {
  for (OpenIterators* open : tracked_) open->detach_all();
}

void RocksWriter::discard() {
  detach_iterators();
  overlays_.clear();
}

bool RocksWriter::empty() {
  for (const auto& [id, o] : overlays_) {
    if (!o.entries.empty()) return false;
  }
  return true;
}

void RocksWriter::begin_bulk() {
  Status s = wait_for_commit();
  if (!s.ok()) spdlog::error("{}", s.to_string());
  bulk_ = std::make_unique<rocksdb::WriteBatch>();
}

Status RocksWriter::maybe_flush_bulk() {
  if (bulk_->Count() < kRestoreBatch) return Status();
  return write_bulk();
}

Status RocksWriter::write_bulk() {
  ++db_writes_;
  Status s = from_rocks(db_->Write(write_options_, bulk_.get()), "restore batch");
  bulk_->Clear();
  return s;
}

Status RocksWriter::end_bulk() {
  Status s;
  if (bulk_ && bulk_->Count() > 0) s = write_bulk();
  bulk_.reset();
  return s;
}

}  // namespace sluice::state

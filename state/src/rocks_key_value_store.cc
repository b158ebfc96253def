#include "rocks_key_value_store.h"

namespace sluice::state {

std::optional<Bytes> prefix_successor(ByteView prefix) {
  Bytes s(prefix);
  while (!s.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(s.back());
    if (last != 0xff) {
      ++last;
      return s;
    }
    s.pop_back();
  }
  return std::nullopt;
}

RocksKeyValueIterator::RocksKeyValueIterator(OpenIterators& open,
                                             std::unique_ptr<rocksdb::Iterator> it,
                                             std::optional<Bytes> to)
    : DetachableIterator(open), it_(std::move(it)), to_(std::move(to)) {
  status_ = from_rocks(it_->status(), "iterating");
}

bool RocksKeyValueIterator::rocks_valid() const {
  return it_->Valid() && (!to_ || it_->key().compare(rocksdb::Slice(*to_)) < 0);
}

bool RocksKeyValueIterator::valid() const { return it_ ? rocks_valid() : pos_ < rest_.size(); }

ByteView RocksKeyValueIterator::key() const {
  if (!it_) return rest_[pos_].first;
  return {it_->key().data(), it_->key().size()};
}

ByteView RocksKeyValueIterator::value() const {
  if (!it_) return rest_[pos_].second;
  return {it_->value().data(), it_->value().size()};
}

void RocksKeyValueIterator::next() {
  if (!valid()) return;  // RocksDB refuses Next() on an exhausted iterator
  if (!it_) {
    ++pos_;
    return;
  }
  it_->Next();
  if (!it_->status().ok()) status_ = from_rocks(it_->status(), "iterating");
}

void RocksKeyValueIterator::detach() {
  for (; rocks_valid(); it_->Next()) {
    rest_.emplace_back(Bytes(it_->key().data(), it_->key().size()),
                       Bytes(it_->value().data(), it_->value().size()));
  }
  if (!it_->status().ok()) status_ = from_rocks(it_->status(), "iterating");
  it_.reset();
}

Result<std::unique_ptr<KeyValueIterator>> RocksKeyValueStore::range(std::optional<ByteView> from,
                                                                    std::optional<ByteView> to) {
  auto it = writer_.iterator(cf_, rocksdb::ReadOptions());
  if (from) {
    it->Seek(rocksdb::Slice(from->data(), from->size()));
  } else {
    it->SeekToFirst();
  }
  SLUICE_RETURN_IF_ERROR(from_rocks(it->status(), "range scan of " + spec_.name));
  std::optional<Bytes> end;
  if (to) end = Bytes(*to);
  return std::unique_ptr<KeyValueIterator>(
      std::make_unique<RocksKeyValueIterator>(open_, std::move(it), std::move(end)));
}

Result<std::unique_ptr<KeyValueIterator>> RocksKeyValueStore::prefix_scan(ByteView prefix) {
  std::optional<Bytes> end = prefix_successor(prefix);
  return range(prefix, end ? std::optional<ByteView>(*end) : std::nullopt);
}

Result<uint64_t> RocksKeyValueStore::approximate_count() {
  uint64_t n = 0;
  writer_.db()->GetIntProperty(cf_, "rocksdb.estimate-num-keys", &n);
  return n;
}

}  // namespace sluice::state

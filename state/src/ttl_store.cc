#include "ttl_store.h"

#include <vector>

#include "sluice/base/bytes.h"

namespace sluice::state {
namespace {

constexpr size_t kStampBytes = 8;

Status malformed(const std::string& store) {
  return corruption("key-value store '" + store +
                    "' has TTL but holds a value without its 8-byte write time");
}

// Skips expired entries and strips the stamp of the others.
class TtlIterator final : public KeyValueIterator {
 public:
  TtlIterator(std::unique_ptr<KeyValueIterator> inner, int64_t oldest_live, std::string store)
      : inner_(std::move(inner)), oldest_live_(oldest_live), store_(std::move(store)) {
    settle();
  }

  bool valid() const override { return status_.ok() && inner_->valid(); }
  ByteView key() const override { return inner_->key(); }
  ByteView value() const override { return inner_->value().substr(kStampBytes); }
  void next() override {
    inner_->next();
    settle();
  }
  Status status() const override { return status_.ok() ? inner_->status() : status_; }

 private:
  void settle() {
    for (; inner_->valid(); inner_->next()) {
      ByteView v = inner_->value();
      if (v.size() < kStampBytes) {
        status_ = malformed(store_);
        return;
      }
      if (load_be<int64_t>(v.data()) >= oldest_live_) return;
    }
  }

  std::unique_ptr<KeyValueIterator> inner_;
  const int64_t oldest_live_;
  const std::string store_;
  Status status_;
};

class TtlStore final : public TtlKeyValueStore {
 public:
  TtlStore(KeyValueStore& inner, int64_t ttl_ms, Clock& clock)
      : inner_(inner), ttl_ms_(ttl_ms), clock_(clock) {}

  const std::string& name() const override { return inner_.name(); }

  Result<std::optional<Bytes>> get(ByteView key) override {
    Result<std::optional<Bytes>> found = inner_.get(key);
    if (!found.ok() || !found->has_value()) return found;
    const Bytes& stamped = **found;
    if (stamped.size() < kStampBytes) return malformed(name());
    if (load_be<int64_t>(stamped.data()) < oldest_live()) {
      SLUICE_RETURN_IF_ERROR(inner_.remove(key));
      ++expired_;
      return std::optional<Bytes>();
    }
    return std::optional<Bytes>(stamped.substr(kStampBytes));
  }
  Result<bool> get_into(ByteView key, Bytes& value) override {
    SLUICE_ASSIGN_OR_RETURN(bool found, inner_.get_into(key, value));
    if (!found) return false;
    if (value.size() < kStampBytes) return malformed(name());
    if (load_be<int64_t>(value.data()) < oldest_live()) {
      SLUICE_RETURN_IF_ERROR(inner_.remove(key));
      ++expired_;
      return false;
    }
    value.erase(0, kStampBytes);
    return true;
  }

  Status put(ByteView key, ByteView value) override {
    stamped_.clear();
    append_be<int64_t>(stamped_, clock_.now().value());
    stamped_.insert(stamped_.end(), value.begin(), value.end());
    ++writes_;
    return inner_.put(key, stamped_);
  }
  Status remove(ByteView key) override { return inner_.remove(key); }

  Result<std::unique_ptr<KeyValueIterator>> range(std::optional<ByteView> from,
                                                  std::optional<ByteView> to) override {
    SLUICE_ASSIGN_OR_RETURN(auto it, inner_.range(from, to));
    return std::unique_ptr<KeyValueIterator>(
        std::make_unique<TtlIterator>(std::move(it), oldest_live(), name()));
  }
  Result<std::unique_ptr<KeyValueIterator>> prefix_scan(ByteView prefix) override {
    SLUICE_ASSIGN_OR_RETURN(auto it, inner_.prefix_scan(prefix));
    return std::unique_ptr<KeyValueIterator>(
        std::make_unique<TtlIterator>(std::move(it), oldest_live(), name()));
  }
  // Counts expired entries not yet swept: an estimate, as for RocksDB.
  Result<uint64_t> approximate_count() override { return inner_.approximate_count(); }

  Result<int64_t> sweep(size_t max_entries) override {
    writes_ = 0;
    const int64_t oldest = oldest_live();
    std::vector<Bytes> dead;
    {
      SLUICE_ASSIGN_OR_RETURN(auto it, inner_.range(ByteView(cursor_), std::nullopt));
      size_t seen = 0;
      for (; it->valid() && seen < max_entries; it->next(), ++seen) {
        ByteView v = it->value();
        if (v.size() < kStampBytes) return malformed(name());
        if (load_be<int64_t>(v.data()) < oldest) dead.emplace_back(it->key());
        cursor_.assign(it->key().begin(), it->key().end());
        cursor_.push_back(0);  // the next sweep starts after this key
      }
      SLUICE_RETURN_IF_ERROR(it->status());
      if (!it->valid()) cursor_.clear();  // reached the end: start over next time
    }
    // Removed once the scan is closed, so it never has to copy what it has left to walk.
    for (const Bytes& key : dead) SLUICE_RETURN_IF_ERROR(inner_.remove(key));
    expired_ += static_cast<int64_t>(dead.size());
    return static_cast<int64_t>(dead.size());
  }
  size_t writes_since_sweep() const override { return writes_; }
  int64_t expired() const override { return expired_; }

 private:
  int64_t oldest_live() const { return clock_.now().value() - ttl_ms_ + 1; }

  KeyValueStore& inner_;
  const int64_t ttl_ms_;
  Clock& clock_;
  Bytes stamped_;  // reused by put()
  Bytes cursor_;   // where the next sweep starts; empty: the beginning
  size_t writes_ = 0;
  int64_t expired_ = 0;
};

}  // namespace

std::unique_ptr<TtlKeyValueStore> make_ttl(KeyValueStore& inner, int64_t ttl_ms, Clock& clock) {
  return std::make_unique<TtlStore>(inner, ttl_ms, clock);
}

}  // namespace sluice::state

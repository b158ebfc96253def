#include "cached_store.h"

namespace sluice::state {
namespace {

class CachedKeyValueStore final : public KeyValueStore {
 public:
  CachedKeyValueStore(KeyValueStore& inner, RecordCache& cache)
      : inner_(inner),
        cache_(cache),
        id_(cache.add_store([this](ByteView key, std::optional<ByteView> value) {
          return value ? inner_.put(key, *value) : inner_.remove(key);
        })) {}

  int id() const { return id_; }
  const std::string& name() const override { return inner_.name(); }

  Result<std::optional<Bytes>> get(ByteView key) override {
    RecordCache::Lookup hit = cache_.get(id_, key);
    if (hit.hit) {
      if (!hit.value) return std::optional<Bytes>();
      return std::optional<Bytes>(Bytes(*hit.value));
    }
    return load(key);
  }
  Result<bool> get_into(ByteView key, Bytes& value) override {
    RecordCache::Lookup hit = cache_.get(id_, key);
    if (!hit.hit) {
      SLUICE_ASSIGN_OR_RETURN(std::optional<Bytes> found, load(key));
      if (!found) return false;
      value = std::move(*found);
      return true;
    }
    if (!hit.value) return false;
    value.assign(*hit.value);
    return true;
  }
  Status put(ByteView key, ByteView value) override {
    return cache_.put(id_, key, value, /*dirty=*/true);
  }
  Status remove(ByteView key) override { return cache_.put(id_, key, std::nullopt, true); }

  // Scans see the store; the cache's pending writes go there first.
  Result<std::unique_ptr<KeyValueIterator>> range(std::optional<ByteView> from,
                                                  std::optional<ByteView> to) override {
    SLUICE_RETURN_IF_ERROR(cache_.flush(id_));
    return inner_.range(from, to);
  }
  Result<std::unique_ptr<KeyValueIterator>> prefix_scan(ByteView prefix) override {
    SLUICE_RETURN_IF_ERROR(cache_.flush(id_));
    return inner_.prefix_scan(prefix);
  }
  Result<uint64_t> approximate_count() override {
    SLUICE_RETURN_IF_ERROR(cache_.flush(id_));
    return inner_.approximate_count();
  }

 private:
  // A miss: reads the store and caches what it found (absence included).
  Result<std::optional<Bytes>> load(ByteView key) {
    SLUICE_ASSIGN_OR_RETURN(std::optional<Bytes> value, inner_.get(key));
    SLUICE_RETURN_IF_ERROR(cache_.put(
        id_, key, value ? std::optional<ByteView>(*value) : std::nullopt, /*dirty=*/false));
    return value;
  }

  KeyValueStore& inner_;
  RecordCache& cache_;
  const int id_;
};

}  // namespace

std::unique_ptr<KeyValueStore> make_cached(KeyValueStore& inner, RecordCache& cache,
                                           int* cache_id) {
  auto store = std::make_unique<CachedKeyValueStore>(inner, cache);
  if (cache_id) *cache_id = store->id();
  return store;
}

}  // namespace sluice::state

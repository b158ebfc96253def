// InMemoryKeyValueStore: a KeyValueStore over one std::map (see in_memory_stores.h).
//
// Thread safety: thread-confined to its task, like every store.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "in_memory_common.h"
#include "sluice/state/store.h"

namespace sluice::state {

class InMemoryKeyValueStore final : public KeyValueStore {
 public:
  explicit InMemoryKeyValueStore(std::string name) : name_(std::move(name)) {}
  ~InMemoryKeyValueStore() override { open_.detach_all(); }

  const std::string& name() const override { return name_; }
  Result<std::optional<Bytes>> get(ByteView key) override;
  Status put(ByteView key, ByteView value) override;
  Status remove(ByteView key) override;
  Result<std::unique_ptr<KeyValueIterator>> range(std::optional<ByteView> from,
                                                  std::optional<ByteView> to) override;
  Result<std::unique_ptr<KeyValueIterator>> prefix_scan(ByteView prefix) override;
  Result<uint64_t> approximate_count() override;

 private:
  // An iterator over [begin, end) of entries_.
  std::unique_ptr<KeyValueIterator> walk(BytesMap::const_iterator begin,
                                         BytesMap::const_iterator end);

  const std::string name_;
  BytesMap entries_;
  OpenIterators open_;  // detached before every change to entries_
};

}  // namespace sluice::state

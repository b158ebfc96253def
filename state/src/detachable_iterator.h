// The iterators of the stores, in memory and in RocksDB, see the store as it was when they were
// made, even if it is written while they are open.
#pragma once

#include <algorithm>
#include <vector>

namespace sluice::state {

class OpenIterators;

// The base of the stores' iterators. An in-memory iterator walks the live maps; a RocksDB
// iterator sees the DB as of its creation, but the buffered writes it merges in change under it
// (RocksDB: updating the batch at the iterator's key is not safe). So before a write the store
// detaches its open iterators: each copies the entries it has left to walk, the current one
// included, lets go of the store, and from then on walks its copy. Costs nothing unless a write
// comes while an iterator is open.
class DetachableIterator {
 public:
  DetachableIterator(const DetachableIterator&) = delete;
  DetachableIterator& operator=(const DetachableIterator&) = delete;

 protected:
  explicit DetachableIterator(OpenIterators& open);
  ~DetachableIterator();

 private:
  friend class OpenIterators;
  virtual void detach() = 0;

  OpenIterators* open_;  // nullptr once detached
};

// The open iterators of one store; the store calls detach_all() before each write, and it runs
// when the store goes (so an iterator that outlives its store, which store.h forbids, still
// reads only its own copy).
class OpenIterators {
 public:
  OpenIterators() = default;
  OpenIterators(const OpenIterators&) = delete;
  OpenIterators& operator=(const OpenIterators&) = delete;
  ~OpenIterators() { detach_all(); }

  void detach_all() {
    std::vector<DetachableIterator*> open;
    open.swap(open_);
    for (DetachableIterator* it : open) {
      it->open_ = nullptr;
      it->detach();
    }
  }

 private:
  friend class DetachableIterator;
  std::vector<DetachableIterator*> open_;  // usually none or one
};

inline DetachableIterator::DetachableIterator(OpenIterators& open) : open_(&open) {
  open.open_.push_back(this);
}

inline DetachableIterator::~DetachableIterator() {
  if (open_ != nullptr) std::erase(open_->open_, this);
}

}  // namespace sluice::state

// Every store implementation the contract suite (store_contract_test.cc) runs against.
#pragma once

#include <vector>

#include "rocks_store_factory.h"
#include "store_factory.h"

namespace sluice::testing {

// One line each.
inline std::vector<StoreImplementation> store_implementations() {
  return {
      {"InMemory", [] { return std::make_unique<InMemoryStoreFactory>(); }},
      {"RocksDb", [] { return std::make_unique<RocksStoreFactory>(); }},
      {"RocksDbTimeOrderedWindows", [] { return std::make_unique<RocksStoreFactory>(true); }},
      // A cache of 2 KiB: windows are dropped from it all the time, so misses that the cache
      // cannot prove absent are read from RocksDB as well.
      {"RocksDbCachedWindows", [] { return std::make_unique<RocksStoreFactory>(false, 2048); }},
      {"RocksDbCachedTimeOrderedWindows",
       [] { return std::make_unique<RocksStoreFactory>(true, 2048); }},
  };
}

}  // namespace sluice::testing

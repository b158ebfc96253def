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
  };
}

}  // namespace sluice::testing

// StoreFactory: how the store contract tests (store_contract_test.cc) get the stores they test,
// so that one suite runs against every implementation.
//
// A test makes a fresh factory in SetUp and asks it for stores; the factory owns them (and
// whatever they live in: a temporary directory, a TaskState), and they die with it at the end
// of the test. To run the suite against another implementation, write a factory for it and
// add one line to store_implementations() (store_implementations.h).
//
// Header-only, because the test support library does not link GoogleTest.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "sluice/base/result.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/store.h"
#include "sluice/state/store_spec.h"

namespace sluice::testing {

class StoreFactory {
 public:
  virtual ~StoreFactory() = default;

  // The implementation's name, for messages.
  virtual std::string name() const = 0;

  // A new, empty store for `spec`, owned by the factory; the implementation's error for a spec
  // it rejects.
  virtual Result<state::KeyValueStore*> key_value(const state::StoreSpec& spec) = 0;
  virtual Result<state::WindowStore*> window(const state::StoreSpec& spec) = 0;
  virtual Result<state::SessionStore*> session(const state::StoreSpec& spec) = 0;
};

// The in-memory stores (sluice/state/in_memory_stores.h).
class InMemoryStoreFactory final : public StoreFactory {
 public:
  std::string name() const override { return "InMemory"; }

  Result<state::KeyValueStore*> key_value(const state::StoreSpec& spec) override {
    return keep(state::make_in_memory_key_value_store(spec), key_value_);
  }
  Result<state::WindowStore*> window(const state::StoreSpec& spec) override {
    return keep(state::make_in_memory_window_store(spec), window_);
  }
  Result<state::SessionStore*> session(const state::StoreSpec& spec) override {
    return keep(state::make_in_memory_session_store(spec), session_);
  }

 private:
  template <typename Store>
  static Result<Store*> keep(Result<std::unique_ptr<Store>> made,
                             std::vector<std::unique_ptr<Store>>& stores) {
    if (!made.ok()) return made.status();
    stores.push_back(std::move(made).value());
    return stores.back().get();
  }

  std::vector<std::unique_ptr<state::KeyValueStore>> key_value_;
  std::vector<std::unique_ptr<state::WindowStore>> window_;
  std::vector<std::unique_ptr<state::SessionStore>> session_;
};

// One implementation under test: a name that becomes part of each test's name (letters, digits
// and '_' only), and how to make a fresh factory for one test.
struct StoreImplementation {
  std::string name;
  std::function<std::unique_ptr<StoreFactory>()> make_factory;

  friend void PrintTo(const StoreImplementation& impl, std::ostream* os) { *os << impl.name; }
};

}  // namespace sluice::testing

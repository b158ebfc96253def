// The child process of the state crash test: commits state in a loop — every commit sets all
// keys of two stores to the commit's id, inside one transaction — and reports each completed
// commit id on fd 3 ("<id>\n") until the parent kills it with SIGKILL.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "sluice/logstore/log_store.h"
#include "sluice/state/task_state.h"
#include "state_crash_workload.h"

using namespace sluice;

int fail(const Status& s) {
  std::fprintf(stderr, "state crash child: %s\n", s.to_string().c_str());
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s LOG_DIR STATE_DIR PERSISTENT(0|1)\n", argv[0]);
    return 2;
  }
  logstore::LogStoreOptions log_options;
  log_options.data_dir = argv[1];
  auto log = logstore::LogStore::open(log_options);
  if (!log.ok()) return fail(log.status());
  auto state = testing::state_crash::open_state(**log, argv[2], argv[3][0] == '1');
  if (!state.ok()) return fail(state.status());
  auto producer = (*log)->create_producer({.transactional_id = "crash-app-0"});
  if (!producer.ok()) return fail(producer.status());
  std::vector<state::KeyValueStore*> stores;
  for (const char* name : testing::state_crash::kStores) {
    auto store = (*state)->key_value_store({.name = name});
    if (!store.ok()) return fail(store.status());
    stores.push_back(*store);
  }
  // Continue from what the restored state says.
  auto current = stores[0]->get(testing::state_crash::key(0));
  if (!current.ok()) return fail(current.status());
  int64_t id = *current ? std::stoll(**current) + 1 : 1;
  for (;; ++id) {
    if (Status s = (*producer)->begin_transaction(); !s.ok()) return fail(s);
    const std::string value = std::to_string(id);
    for (auto* store : stores) {
      for (int k = 0; k < testing::state_crash::kKeys; ++k) {
        if (Status s = store->put(testing::state_crash::key(k), value); !s.ok()) return fail(s);
      }
    }
    if (Status s = (*state)->flush(producer->get()); !s.ok()) return fail(s);
    if (Status s = (*producer)->commit_transaction(); !s.ok()) return fail(s);
    if (Status s = (*state)->apply(); !s.ok()) return fail(s);
    const std::string line = value + "\n";
    if (write(3, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 1;
  }
}

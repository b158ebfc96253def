// What the state crash test's child writes and its parent checks: every commit sets kKeys keys
// in each of kStores to the commit's id, so a consistent state has one id everywhere.
#pragma once

#include <memory>
#include <string>

#include "sluice/logstore/log_client.h"
#include "sluice/state/task_state.h"

namespace sluice::testing::state_crash {

inline constexpr int kKeys = 50;
inline constexpr const char* kStores[] = {"left", "right"};

inline std::string key(int k) { return "key-" + std::to_string(k); }

inline Result<std::unique_ptr<state::TaskState>> open_state(logstore::LogClient& log,
                                                            const std::string& dir,
                                                            bool persistent) {
  state::TaskStateOptions options;
  options.state_dir = dir;
  options.application_id = "crash-app";
  options.log = &log;
  options.persistent = persistent;
  return state::TaskState::open(options);
}

}  // namespace sluice::testing::state_crash

// Helpers of the end-to-end harnesses that run on the log: failures end the run with the
// error's message (main() catches and prints it).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "sluice/logstore/log_store.h"

namespace sluice::bench {

inline void check(const Status& s) {
  if (!s.ok()) throw std::runtime_error(s.to_string());
}

inline std::unique_ptr<logstore::LogStore> open_log(const std::string& dir) {
  logstore::LogStoreOptions o;
  o.data_dir = dir;
  auto log = logstore::LogStore::open(o);
  check(log.status());
  return std::move(log).value();
}

}  // namespace sluice::bench

// A job library that crashes while it is loaded: the server must survive checking it.
#include <csignal>

#include "sluice/dsl/job.h"

namespace {

struct CrashOnLoad {
  CrashOnLoad() { std::raise(SIGSEGV); }
} crash_on_load;

sluice::Result<sluice::dsl::JobDefinition> build(const sluice::dsl::JobConfig&) {
  return sluice::invalid_argument("never reached");
}

}  // namespace

SLUICE_JOB(build)

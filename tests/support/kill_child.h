// Runs a child process for a crash test and kills it with SIGKILL (or another signal) at a
// random moment.
#pragma once

#include <random>
#include <string>
#include <vector>

namespace sluice::testing {

struct KillPlan {
  // A quarter of the rounds kill soon after the start (between these two times, from fork),
  // landing in the child's open and recovery...
  int early_min_ms = 2;
  int early_max_ms = 80;
  // ...the others a moment (up to max_extra_us) after the child has written a random number
  // (1..max_lines) of complete lines to fd 3 — so how far a round gets does not depend on how
  // fast the machine is (a loaded machine or a sanitizer build starts slowly).
  int max_lines = 20;
  int max_extra_us = 3000;
  int give_up_s = 20;       // kill anyway after this long
  bool early_kills = true;  // false: never the early kind
  int signal = 9;           // SIGKILL; SIGTERM to ask the child to stop
};

struct KilledChild {
  std::string output;   // what it wrote to fd 3
  bool killed = false;  // false: it exited by itself (status below)
  int status = 0;
};

// Forks and execs `argv` (argv[0] is the program) with fd 3 a pipe to this process, and
// kills it according to `plan`, drawing its choices from `rng`.
KilledChild run_and_kill(const std::vector<std::string>& argv, const KillPlan& plan,
                         std::mt19937_64& rng);

}  // namespace sluice::testing

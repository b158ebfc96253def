#include "kill_child.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace sluice::testing {

KilledChild run_and_kill(const std::vector<std::string>& argv, const KillPlan& plan,
                         std::mt19937_64& rng) {
  KilledChild result;
  int fds[2];
  if (pipe(fds) != 0) return result;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 3);
    if (fds[0] != 3) close(fds[0]);
    if (fds[1] != 3) close(fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  const bool early = rng() % 4 == 0 && plan.early_kills;
  const size_t lines_before_kill = 1 + rng() % static_cast<uint64_t>(plan.max_lines);
  const auto start = std::chrono::steady_clock::now();
  const auto kill_at =
      start + std::chrono::milliseconds(
                  plan.early_min_ms +
                  static_cast<int64_t>(
                      rng() % static_cast<uint64_t>(plan.early_max_ms - plan.early_min_ms + 1)));
  const auto give_up = start + std::chrono::seconds(plan.give_up_s);
  const auto extra =
      std::chrono::microseconds(rng() % static_cast<uint64_t>(plan.max_extra_us + 1));
  char buf[4096];
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (early ? now >= kill_at : now >= give_up) break;
    if (!early && static_cast<size_t>(std::count(result.output.begin(), result.output.end(),
                                                 '\n')) >= lines_before_kill) {
      std::this_thread::sleep_for(extra);
      break;
    }
    const auto wait_until = early ? kill_at : std::min(give_up, now + std::chrono::milliseconds(5));
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(wait_until - now).count();
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::max<int64_t>(left, 0))) > 0) {
      const ssize_t n = read(fds[0], buf, sizeof(buf));
      if (n <= 0) break;
      result.output.append(buf, static_cast<size_t>(n));
    }
  }
  kill(pid, plan.signal);
  waitpid(pid, &result.status, 0);
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) {
    result.output.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  result.killed = WIFSIGNALED(result.status);
  return result;
}

}  // namespace sluice::testing

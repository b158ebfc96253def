// `sluice serve` as a real child process, and the `sluice` CLI run as commands: what a user
// does in a shell, done by a test.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace sluice::server::testing {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `sluice serve --data-dir DIR --listen 127.0.0.1:0 <extra>` (without --data-dir and
// --listen when `data_dir` is empty) and waits for its "listening on" line. The destructor stops it
// with SIGTERM (kill() uses SIGKILL).
class ServerProcess {
 public:
  ServerProcess(const std::string& data_dir, const std::string& log_path,
                std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {SLUICE_CLI, "serve"};
    if (!data_dir.empty()) {
      argv.insert(argv.end(), {"--data-dir", data_dir, "--listen", "127.0.0.1:0"});
    }
    if (std::find(extra.begin(), extra.end(), "--kafka-listen") == extra.end()) {
      argv.insert(argv.end(), {"--kafka-listen", ""});  // off unless a test asks: never 9092
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    int out[2];
    EXPECT_EQ(pipe(out), 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      FILE* log = std::freopen(log_path.c_str(), "w", stderr);
      (void)log;
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(out[1]);
    std::string line;
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
    stdout_fd_ = out[0];
    const std::string prefix = "sluice: listening on ";
    if (line.starts_with(prefix)) {
      address_ = line.substr(prefix.size());
    } else {
      ADD_FAILURE() << "the server did not start: '" << line << "'\n" << read_file(log_path);
    }
  }

  ~ServerProcess() { stop(SIGTERM); }

  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }

  // The Kafka listener's address, from the server's second stdout line (start the server with
  // "--kafka-listen", "127.0.0.1:0" in `extra`).
  std::string kafka_address() {
    if (kafka_address_.empty()) {
      std::string line;
      char c;
      while (read(stdout_fd_, &c, 1) == 1 && c != '\n') line += c;
      const std::string prefix = "sluice: Kafka protocol on ";
      if (line.starts_with(prefix)) kafka_address_ = line.substr(prefix.size());
    }
    return kafka_address_;
  }

  // Sends `signal` and waits; returns the exit status (or -signal when killed by one).
  int stop(int signal) {
    if (pid_ <= 0) return exit_status_;
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    close(stdout_fd_);
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    return exit_status_;
  }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int exit_status_ = 0;
  std::string address_;
  std::string kafka_address_;
};

// `sluice <args>` running in the background, stdout and stderr to files.
class CliProcess {
 public:
  // `append`: the output files are added to rather than replaced (a process restarted into
  // the same logs).
  CliProcess(const std::vector<std::string>& args, const std::string& out_path,
             const std::string& err_path, bool append = false) {
    std::vector<std::string> argv = {SLUICE_CLI};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = fork();
    if (pid_ == 0) {
      FILE* out = std::freopen(out_path.c_str(), append ? "a" : "w", stdout);
      FILE* err = std::freopen(err_path.c_str(), append ? "a" : "w", stderr);
      (void)out;
      (void)err;
      std::vector<char*> cargs;
      for (auto& a : argv) cargs.push_back(a.data());
      cargs.push_back(nullptr);
      execv(cargs[0], cargs.data());
      _exit(127);
    }
  }
  ~CliProcess() { stop(SIGKILL); }

  // Sends `signal` and waits; returns the exit code (or -signal).
  int stop(int signal) {
    if (pid_ <= 0) return status_;
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
};

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `sluice <args>` through the shell with stdin from `input_file` (if any); stdout and
// stderr are captured through files in `scratch_dir`.
inline CliResult run_cli(const std::string& scratch_dir, const std::string& args,
                         const std::string& input_file = "") {
  const std::string out = scratch_dir + "/cli.out";
  const std::string err = scratch_dir + "/cli.err";
  std::string command = std::string(SLUICE_CLI) + " " + args + " > " + out + " 2> " + err;
  command += input_file.empty() ? " < /dev/null" : " < " + input_file;
  int status = std::system(command.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

}  // namespace sluice::server::testing

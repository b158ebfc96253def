// `sluice serve` as a child process of a benchmark, on free ports (gRPC and Kafka), stopped
// with SIGTERM when the object goes away.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>

namespace sluice::bench {

class ServerProcess {
 public:
  ServerProcess(const std::string& sluice, const std::string& data_dir) {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      execl(sluice.c_str(), sluice.c_str(), "serve", "--data-dir", data_dir.c_str(), "--listen",
            "127.0.0.1:0", "--kafka-listen", "127.0.0.1:0", "--log-level", "warn", nullptr);
      _exit(127);
    }
    close(out[1]);
    // "sluice: listening on ADDR", then "sluice: Kafka protocol on ADDR".
    address_ = read_line_after(out[0], "sluice: listening on ");
    kafka_address_ = read_line_after(out[0], "sluice: Kafka protocol on ");
    close(out[0]);
  }
  ~ServerProcess() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& address() const { return address_; }
  const std::string& kafka_address() const { return kafka_address_; }

  // CPU-seconds (user + system, every thread) the server has used so far.
  double cpu_seconds() const {
    std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // Fields after the command name (which may hold spaces) in parentheses: utime is the 14th
    // field of the line, stime the 15th.
    std::istringstream rest(text.substr(text.rfind(')') + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i >= 14) ticks += std::stod(field);
    }
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  }

 private:
  static std::string read_line_after(int fd, const std::string& prefix) {
    std::string line;
    char c;
    while (read(fd, &c, 1) == 1 && c != '\n') line += c;
    if (!line.starts_with(prefix)) throw std::runtime_error("sluice serve did not start: " + line);
    return line.substr(prefix.size());
  }

  pid_t pid_ = -1;
  std::string address_;
  std::string kafka_address_;
};

}  // namespace sluice::bench

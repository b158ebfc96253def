#include "job_library.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace sluice::server {

Result<std::shared_ptr<JobLibrary>> JobLibrary::open(const std::string& path) {
  // RTLD_LOCAL: the library's symbols stay its own (it carries its own copy of the Sluice code
  // it uses, built with hidden visibility by sluice_add_job).
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return invalid_argument("cannot load job library " + path + ": " +
                            (why ? why : "unknown error") +
                            " (build it with sluice_add_job on this machine's Sluice)");
  }
  auto abi = reinterpret_cast<dsl::JobAbiVersionSymbol>(dlsym(handle, dsl::kJobAbiSymbol));
  auto build = reinterpret_cast<dsl::JobBuildSymbol>(dlsym(handle, dsl::kJobBuildSymbol));
  if (abi == nullptr || build == nullptr) {
    return invalid_argument(path + " is not a Sluice job library: it does not export " +
                            (abi == nullptr ? dsl::kJobAbiSymbol : dsl::kJobBuildSymbol) +
                            " (define the job with SLUICE_JOB(build_function))");
  }
  if (int version = abi(); version != dsl::kJobAbiVersion) {
    return invalid_argument(path + " was built for job ABI " + std::to_string(version) +
                            "; this server runs ABI " + std::to_string(dsl::kJobAbiVersion) +
                            ": rebuild the job against this version's headers");
  }
  std::shared_ptr<JobLibrary> library(new JobLibrary());
  library->path_ = path;
  library->build_ = build;
  return library;
}

Result<dsl::JobDefinition> JobLibrary::build(const dsl::JobConfig& config) const {
  Result<dsl::JobDefinition> out = internal_error("the job's build function set no result");
  build_(&config, &out);
  if (!out.ok()) return out.status().with_context("building the job's topology");
  if (!out->topology.built()) {
    return invalid_argument(
        "the job returned a topology that was not built: return the "
        "result of TopologyBuilder::build()");
  }
  return out;
}

std::string job_check_to_json(const Result<JobCheck>& check) {
  nlohmann::json j;
  j["ok"] = check.ok();
  if (!check.ok()) {
    j["error"] = check.status().message();
    return j.dump();
  }
  j["topology"] = check->topology;
  j["stores"] = check->stores;
  j["internal_topics"] = check->internal_topics;
  j["topics"] = check->topics;
  return j.dump();
}

Result<JobCheck> job_check_from_json(const std::string& json) {
  try {
    auto j = nlohmann::json::parse(json);
    if (!j.at("ok").get<bool>()) return invalid_argument(j.at("error").get<std::string>());
    JobCheck check;
    check.topology = j.at("topology").get<std::string>();
    check.stores = j.at("stores").get<std::vector<std::string>>();
    check.internal_topics = j.at("internal_topics").get<std::vector<std::string>>();
    check.topics = j.at("topics").get<std::map<std::string, int32_t>>();
    return check;
  } catch (const nlohmann::json::exception& e) {
    return invalid_argument(std::string("the job check printed something unexpected: ") + e.what());
  }
}

Result<JobCheck> check_job_in_process(const std::string& library, const dsl::JobConfig& config) {
  SLUICE_ASSIGN_OR_RETURN(auto lib, JobLibrary::open(library));
  SLUICE_ASSIGN_OR_RETURN(auto definition, lib->build(config));
  return describe_job(definition);
}

Result<JobCheck> describe_job(const dsl::JobDefinition& definition) {
  JobCheck check;
  check.topology = definition.topology.describe();
  for (const auto& store : definition.topology.stores()) check.stores.push_back(store.name);
  std::sort(check.stores.begin(), check.stores.end());
  for (const auto& topic : definition.topology.internal_topics()) {
    check.internal_topics.push_back(topic.name);
  }
  check.topics = definition.topics;
  for (const auto& [topic, partitions] : check.topics) {
    if (partitions < 1) {
      return invalid_argument("the job asks for topic " + topic + " with " +
                              std::to_string(partitions) + " partitions");
    }
  }
  return check;
}

Result<JobCheck> check_job_library(const std::string& cli, const std::string& library,
                                   const dsl::JobConfig& config,
                                   std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {cli, "job", "validate", "--json", library};
  for (const auto& [k, v] : config.values()) {
    argv.push_back("--config");
    argv.push_back(k + "=" + v);
  }
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return errno_status("creating a pipe for the job check", errno);
  pid_t pid = fork();
  if (pid < 0) {
    close(out[0]);
    close(out[1]);
    return errno_status("starting the job check", errno);
  }
  if (pid == 0) {
    dup2(out[1], 1);
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 2);
    }
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    int ready = poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    ssize_t n = read(out[0], buf, sizeof(buf));
    if (n <= 0) break;
    output.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return invalid_argument("checking job library " + library + " took longer than " +
                            std::to_string(timeout.count() / 1000) +
                            " s (does its build function block?)");
  }
  if (WIFSIGNALED(status)) {
    return invalid_argument("job library " + library + " crashed the check process (signal " +
                            std::to_string(WTERMSIG(status)) + ", " + strsignal(WTERMSIG(status)) +
                            ") while loading or building its topology; the server is unaffected");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && output.empty()) {
    return internal_error("cannot run the job checker " + cli);
  }
  if (output.empty()) {
    return invalid_argument("job library " + library + " ended the check process (exit " +
                            std::to_string(WEXITSTATUS(status)) +
                            ") before it reported: does it call exit() while loading?");
  }
  return job_check_from_json(output);
}

Result<RuntimeSettings> split_config(const std::map<std::string, std::string>& all,
                                     dsl::JobConfig& job_config) {
  RuntimeSettings s;
  std::map<std::string, std::string> rest;
  dsl::JobConfig view(all);
  for (const auto& [key, value] : all) {
    if (key == "threads") {
      SLUICE_ASSIGN_OR_RETURN(int64_t n, view.get_int(key, 1));
      if (n < 1 || n > 64) return invalid_argument("config threads=" + value + " must be 1 to 64");
      s.threads = static_cast<int>(n);
    } else if (key == "commit.interval.ms") {
      SLUICE_ASSIGN_OR_RETURN(int64_t ms, view.get_int(key, 100));
      if (ms < 1) return invalid_argument("config commit.interval.ms must be at least 1");
      s.commit_interval_ms = ms;
    } else if (key == "processing.guarantee") {
      auto g = runtime::parse_guarantee(value);
      if (!g.ok()) return g.status().with_context("config processing.guarantee");
      s.guarantee = *g;
    } else if (key == "max.task.drift.ms") {
      SLUICE_ASSIGN_OR_RETURN(int64_t ms, view.get_int(key, 0));
      if (ms < -1) {
        return invalid_argument("config max.task.drift.ms=" + value +
                                " must be at least 0 (or -1: no bound)");
      }
      s.max_task_drift_ms = ms;
    } else if (key == "offset.reset") {
      if (value != "earliest" && value != "latest") {
        return invalid_argument("config offset.reset=" + value + " must be earliest or latest");
      }
      s.offset_reset =
          value == "earliest" ? runtime::OffsetReset::kEarliest : runtime::OffsetReset::kLatest;
    } else {
      rest[key] = value;
    }
  }
  job_config = dsl::JobConfig(std::move(rest));
  return s;
}

}  // namespace sluice::server

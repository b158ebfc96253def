// `sluice run LIBRARY`: runs a job library in this process, without a server, on the built-in
// log (`--backend embedded`, a data directory) or on an Apache Kafka cluster (`--backend kafka`,
// any broker speaking Kafka's protocol, `sluice serve`'s listener included).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include "cli/cli_common.h"
#include "job_library.h"
#include "sluice/kafka/kafka_log_client.h"
#include "sluice/logstore/log_store.h"
#include "sluice/runtime/runtime.h"
#include "sluice/server/config.h"

namespace sluice::cli {
namespace {

struct RunFlags {
  std::string config_file;
  std::string library;
  std::string name;
  std::vector<std::string> configs;
  std::optional<std::string> backend;  // default: the file's log.backend, else embedded
  std::optional<std::string> bootstrap;
  std::vector<std::string> kafka_settings;
  std::string data_dir = "sluice-run";
  std::string log_level = "info";
};

// Where the job's log is: the file's settings (log.backend, kafka.bootstrap.servers, any other
// kafka.* key passed to librdkafka), then the flags.
struct BackendSettings {
  std::string backend = "embedded";
  std::string bootstrap;
  std::map<std::string, std::string> kafka;
};

Result<BackendSettings> backend_settings(const RunFlags& f) {
  BackendSettings b;
  if (!f.config_file.empty()) {
    SLUICE_ASSIGN_OR_RETURN(auto settings, server::read_settings_file(f.config_file));
    for (const auto& [key, value] : settings) {
      if (key == "log.backend") {
        b.backend = value;
      } else if (key == "kafka.bootstrap.servers") {
        b.bootstrap = value;
      } else if (key.starts_with("kafka.")) {
        b.kafka[key.substr(6)] = value;
      } else {
        return invalid_argument(f.config_file + ": unknown setting '" + key +
                                "' (known: log.backend, kafka.bootstrap.servers, kafka.<any "
                                "librdkafka setting>)");
      }
    }
  }
  if (f.backend) b.backend = *f.backend;
  if (f.bootstrap) b.bootstrap = *f.bootstrap;
  SLUICE_ASSIGN_OR_RETURN(auto flags, parse_configs(f.kafka_settings));
  for (auto& [k, v] : flags) b.kafka[k] = v;
  return b;
}

// The log the job runs on, and what keeps it alive.
struct Backend {
  std::unique_ptr<logstore::LogStore> embedded;
  std::unique_ptr<logstore::LogClient> kafka;
  logstore::LogClient& log() { return embedded ? *embedded : *kafka; }
};

Result<Backend> open_backend(const RunFlags& f, const BackendSettings& settings) {
  Backend b;
  if (settings.backend == "embedded") {
    logstore::LogStoreOptions o;
    o.data_dir = f.data_dir + "/log";
    SLUICE_ASSIGN_OR_RETURN(b.embedded, logstore::LogStore::open(o));
    return b;
  }
  if (settings.backend != "kafka") {
    return invalid_argument(
        "the backend (log.backend, --backend) must be embedded or kafka, not '" + settings.backend +
        "'");
  }
  if (settings.bootstrap.empty()) {
    return invalid_argument(
        "the kafka backend needs the cluster's brokers: --bootstrap HOST:PORT or "
        "kafka.bootstrap.servers in --config-file");
  }
  kafka::KafkaClientOptions o;
  o.bootstrap_servers = settings.bootstrap;
  o.client_id = "sluice-run";
  o.kafka_settings = settings.kafka;
  SLUICE_ASSIGN_OR_RETURN(b.kafka, kafka::connect_kafka(o));
  return b;
}

int run(const RunFlags& f) {
  log_to_stderr(f.log_level);
  auto configs = parse_configs(f.configs);
  if (!configs.ok()) return report_failure("run", configs.status());
  dsl::JobConfig job_config;
  auto settings = server::split_config(*configs, job_config);
  if (!settings.ok()) return report_failure("run", settings.status());
  auto library = server::JobLibrary::open(f.library);
  if (!library.ok()) return report_failure("run " + f.library, library.status());
  auto definition = (*library)->build(job_config);
  if (!definition.ok()) return report_failure("run " + f.library, definition.status());
  auto where = backend_settings(f);
  if (!where.ok()) return report_failure("run", where.status());
  auto backend = open_backend(f, *where);
  if (!backend.ok()) return report_failure("run: " + where->backend + " backend", backend.status());
  logstore::LogClient& log = backend->log();
  for (const auto& [topic, partitions] : definition->topics) {
    if (log.describe_topic(topic).ok()) continue;
    logstore::TopicConfig tc;
    tc.partitions = partitions;
    Status created = log.create_topic(topic, tc);
    if (!created.ok() && created.code() != StatusCode::kAlreadyExists) {
      return report_failure("run: creating topic " + topic, created);
    }
  }
  const std::string name =
      f.name.empty() ? std::filesystem::path(f.library).stem().string() : f.name;
  runtime::RuntimeConfig rc;
  rc.application_id = name;
  rc.state_dir = f.data_dir + "/state/" + name;
  rc.threads = settings->threads;
  if (settings->commit_interval_ms > 0) rc.commit_interval_ms = settings->commit_interval_ms;
  rc.guarantee = settings->guarantee;
  rc.offset_reset = settings->offset_reset;
  if (settings->max_task_drift_ms) rc.max_task_drift_ms = *settings->max_task_drift_ms;
  rc.on_restore = [](const state::RestoreProgress& p) {
    if (p.done) spdlog::info("restored store {}: {} records", p.store, p.records);
  };
  auto rt = runtime::Runtime::create(std::move(definition->topology), log, std::move(rc));
  if (!rt.ok()) return report_failure("run " + name, rt.status());
  const std::string at = where->backend == "kafka" ? " at " + where->bootstrap : "";
  std::printf("sluice: running job %s on the %s log%s (SIGINT or SIGTERM stops it)\n", name.c_str(),
              where->backend.c_str(), at.c_str());
  std::fflush(stdout);
  Status s = (*rt)->run_until_signal();
  if (!s.ok()) return report_failure("run " + name, s);
  spdlog::info("job {} stopped; its state and committed offsets resume the next run", name);
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto f = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run a job library in this process, without a server: on the built-in log in --data-dir,\n"
      "or on an Apache Kafka cluster (--backend kafka --bootstrap HOST:PORT; any broker speaking\n"
      "Kafka's protocol, `sluice serve` included). On Kafka, every process run with the same\n"
      "--name is one member of the consumer group of that name: the members share the job's\n"
      "partitions (tasks move on a member's start, stop or crash; docs/SCALING.md). Each\n"
      "instance needs its own --data-dir.\n"
      "Runtime keys in --config: threads, commit.interval.ms, processing.guarantee\n"
      "(exactly_once|at_least_once), offset.reset (earliest|latest), max.task.drift.ms (how\n"
      "far in stream time a task may run ahead of the slowest of its sub-topology; default\n"
      "30000, -1: no bound); the others go to the job.");
  cmd->add_option("library", f->library, "Job library (lib<name>.so, built with sluice_add_job)")
      ->required();
  cmd->add_option("--config-file", f->config_file,
                  "YAML file: log.backend (embedded|kafka), kafka.bootstrap.servers and any "
                  "kafka.<librdkafka setting>; flags override it");
  cmd->add_option("--name", f->name,
                  "Job name: the application id of its groups, changelogs and transactions "
                  "(default: the library's file name)");
  cmd->add_option("-c,--config", f->configs, "key=value, repeatable");
  cmd->add_option("--backend", f->backend, "embedded (default) or kafka (log.backend)");
  cmd->add_option("--bootstrap", f->bootstrap,
                  "Kafka brokers HOST:PORT[,HOST:PORT] (kafka.bootstrap.servers)");
  cmd->add_option("-X,--kafka-setting", f->kafka_settings,
                  "librdkafka setting key=value for every Kafka handle, repeatable (kafka)");
  cmd->add_option("--data-dir", f->data_dir,
                  "The built-in log (embedded) and the job's local state (both backends)")
      ->capture_default_str();
  cmd->add_option("--log-level", f->log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  cmd->callback([f] { exit_code() = run(*f); });
}

}  // namespace sluice::cli

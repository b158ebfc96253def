// `sluice serve`: runs the server until SIGINT or SIGTERM.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>

#include "cli/cli_common.h"
#include "sluice/server/config.h"
#include "sluice/server/server.h"

namespace sluice::cli {

namespace {

struct ServeFlags {
  std::string config_file;
  std::optional<std::string> data_dir, listen, metrics_listen, log_level, memory_budget,
      max_request_bytes, tls_cert, tls_key, tls_client_ca, auth_token, kafka_listen,
      kafka_advertised, kafka_auto_create_topics, kafka_default_partitions,
      kafka_initial_rebalance_delay_ms, kafka_max_frame_bytes, kafka_idle_timeout_ms;
};

Result<server::ServerConfig> build_config(const ServeFlags& flags) {
  server::ServerConfig config;
  std::string file = flags.config_file;
  bool explicit_file = !file.empty();
  if (!explicit_file) {
    if (const char* env = std::getenv("SLUICE_CONFIG")) {
      file = env;
      explicit_file = true;
    } else {
      file = "sluice.yaml";
    }
  }
  Status loaded = server::apply_config_file(file, config);
  if (!loaded.ok() && (explicit_file || loaded.code() != StatusCode::kNotFound)) return loaded;
  SLUICE_RETURN_IF_ERROR(server::apply_environment(&std::getenv, config));
  // Flags last: they override the file and the environment, parsed and checked alike.
  const std::pair<const char*, const std::optional<std::string>*> settings[] = {
      {"data_dir", &flags.data_dir},
      {"listen", &flags.listen},
      {"metrics_listen", &flags.metrics_listen},
      {"log_level", &flags.log_level},
      {"memory_budget", &flags.memory_budget},
      {"max_request_bytes", &flags.max_request_bytes},
      {"tls.cert", &flags.tls_cert},
      {"tls.key", &flags.tls_key},
      {"tls.client_ca", &flags.tls_client_ca},
      {"auth_token", &flags.auth_token},
      {"kafka.listen", &flags.kafka_listen},
      {"kafka.advertised", &flags.kafka_advertised},
      {"kafka.auto_create_topics", &flags.kafka_auto_create_topics},
      {"kafka.default_partitions", &flags.kafka_default_partitions},
      {"kafka.initial_rebalance_delay_ms", &flags.kafka_initial_rebalance_delay_ms},
      {"kafka.max_frame_bytes", &flags.kafka_max_frame_bytes},
      {"kafka.idle_timeout_ms", &flags.kafka_idle_timeout_ms},
  };
  for (const auto& [key, flag] : settings) {
    if (*flag) SLUICE_RETURN_IF_ERROR(server::apply_setting(key, **flag, config));
  }
  SLUICE_RETURN_IF_ERROR(config.validate());
  return config;
}

int serve(const ServeFlags& flags) {
  auto config = build_config(flags);
  if (!config.ok()) return report_failure("configuration", config.status());
  // Logs go to stderr; stdout carries only the "listening on" line.
  log_to_stderr(config->log_level);

  // SIGINT/SIGTERM are taken by a thread of their own (blocked everywhere else, including in
  // gRPC's threads, which inherit this mask).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = server::Server::start(*config);
  if (!server.ok()) return report_failure("cannot start the server", server.status());
  // The one line on stdout: scripts and tests wait for it (and read the port from it).
  std::printf("sluice: listening on %s\n", (*server)->address().c_str());
  if (!(*server)->kafka_address().empty()) {
    std::printf("sluice: Kafka protocol on %s\n", (*server)->kafka_address().c_str());
  }
  std::fflush(stdout);

  std::thread signal_thread([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    spdlog::info("received {}, shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
    (*server)->shutdown();
  });
  (*server)->wait();
  // shutdown() came from elsewhere: wake the signal thread so it can be joined.
  if (signal_thread.joinable()) {
    pthread_kill(signal_thread.native_handle(), SIGTERM);
    signal_thread.join();
  }
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Run the Sluice server: hosts the log and the jobs, serves the gRPC API and the Kafka\n"
      "protocol (kcat, librdkafka and other Kafka clients; docs/KAFKA.md).\n"
      "Settings come from sluice.yaml (or --config / SLUICE_CONFIG), then SLUICE_* environment\n"
      "variables, then these flags.");
  cmd->add_option("--config", flags->config_file,
                  "YAML config file (default ./sluice.yaml when it exists; env SLUICE_CONFIG)");
  cmd->add_option("--data-dir", flags->data_dir,
                  "Directory of the log and job state (default sluice-data; env SLUICE_DATA_DIR)");
  cmd->add_option("--listen", flags->listen,
                  "gRPC address HOST:PORT, port 0 for any free one (default 127.0.0.1:7070; "
                  "env SLUICE_LISTEN)");
  cmd->add_option("--metrics-listen", flags->metrics_listen,
                  "Prometheus metrics endpoint HOST:PORT (default off; env SLUICE_METRICS_LISTEN)");
  cmd->add_option("--log-level", flags->log_level,
                  "trace, debug, info, warn, error, critical or off (default info; env "
                  "SLUICE_LOG_LEVEL)");
  cmd->add_option("--memory-budget", flags->memory_budget,
                  "RocksDB memory of all jobs together, e.g. 512MiB (env SLUICE_MEMORY_BUDGET)");
  cmd->add_option("--max-request-bytes", flags->max_request_bytes,
                  "Largest request accepted, e.g. 16MiB (env SLUICE_MAX_REQUEST_BYTES)");
  cmd->add_option("--tls-cert", flags->tls_cert,
                  "Serve TLS with this PEM certificate chain (env SLUICE_TLS_CERT)");
  cmd->add_option("--tls-key", flags->tls_key, "PEM key of --tls-cert (env SLUICE_TLS_KEY)");
  cmd->add_option("--tls-client-ca", flags->tls_client_ca,
                  "Require client certificates signed by this PEM CA (env SLUICE_TLS_CLIENT_CA)");
  cmd->add_option("--auth-token", flags->auth_token,
                  "Require this bearer token on every call (env SLUICE_AUTH_TOKEN; prefer the "
                  "environment or the file: flags show in `ps`)");
  cmd->add_option("--kafka-listen", flags->kafka_listen,
                  "Kafka protocol address HOST:PORT, '' to turn it off, port 0 for any free one "
                  "(default 127.0.0.1:9092; env SLUICE_KAFKA_LISTEN)");
  cmd->add_option("--kafka-advertised", flags->kafka_advertised,
                  "HOST:PORT Kafka clients are told to connect to (default: the bound address; "
                  "env SLUICE_KAFKA_ADVERTISED)");
  cmd->add_option("--kafka-auto-create-topics", flags->kafka_auto_create_topics,
                  "true or false: a Kafka client's Metadata request for an unknown topic creates "
                  "it (default true; env SLUICE_KAFKA_AUTO_CREATE_TOPICS)");
  cmd->add_option("--kafka-default-partitions", flags->kafka_default_partitions,
                  "Partitions of topics Kafka clients create without a count (default 1; env "
                  "SLUICE_KAFKA_DEFAULT_PARTITIONS)");
  cmd->add_option("--kafka-initial-rebalance-delay-ms", flags->kafka_initial_rebalance_delay_ms,
                  "How long an empty consumer group waits for more members before its first "
                  "rebalance (default 3000; env SLUICE_KAFKA_INITIAL_REBALANCE_DELAY_MS)");
  cmd->add_option("--kafka-max-frame-bytes", flags->kafka_max_frame_bytes,
                  "Largest Kafka request, e.g. 100MiB; larger ones close the connection (env "
                  "SLUICE_KAFKA_MAX_FRAME_BYTES)");
  cmd->add_option("--kafka-idle-timeout-ms", flags->kafka_idle_timeout_ms,
                  "Close Kafka connections idle this long (default 600000; env "
                  "SLUICE_KAFKA_IDLE_TIMEOUT_MS)");
  cmd->callback([flags] { exit_code() = serve(*flags); });
}

}  // namespace sluice::cli

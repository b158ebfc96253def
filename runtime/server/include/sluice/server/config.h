// ServerConfig: how `sluice serve` is set up, from a file, the environment and flags.
//
// Precedence, lowest first: the defaults below, the YAML file (`sluice.yaml`), `SLUICE_*`
// environment variables, command-line flags. Every setting has one name in each:
//
//   YAML key          environment               flag
//   data_dir          SLUICE_DATA_DIR           --data-dir
//   listen            SLUICE_LISTEN             --listen
//   metrics_listen    SLUICE_METRICS_LISTEN     --metrics-listen
//   log_level         SLUICE_LOG_LEVEL          --log-level
//   memory_budget     SLUICE_MEMORY_BUDGET      --memory-budget
//   max_request_bytes SLUICE_MAX_REQUEST_BYTES  --max-request-bytes
//   tls.cert          SLUICE_TLS_CERT           --tls-cert
//   tls.key           SLUICE_TLS_KEY            --tls-key
//   tls.client_ca     SLUICE_TLS_CLIENT_CA      --tls-client-ca
//   auth_token        SLUICE_AUTH_TOKEN         --auth-token
//   kafka.listen      SLUICE_KAFKA_LISTEN       --kafka-listen
//   kafka.advertised  SLUICE_KAFKA_ADVERTISED   --kafka-advertised
//   kafka.auto_create_topics          SLUICE_KAFKA_AUTO_CREATE_TOPICS   --kafka-auto-create-topics
//   kafka.default_partitions          SLUICE_KAFKA_DEFAULT_PARTITIONS   --kafka-default-partitions
//   kafka.initial_rebalance_delay_ms  SLUICE_KAFKA_INITIAL_REBALANCE_DELAY_MS
//                                     --kafka-initial-rebalance-delay-ms
//   kafka.max_frame_bytes             SLUICE_KAFKA_MAX_FRAME_BYTES      --kafka-max-frame-bytes
//   kafka.idle_timeout_ms             SLUICE_KAFKA_IDLE_TIMEOUT_MS      --kafka-idle-timeout-ms
//
// Thread safety: a value.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/base/result.h"

namespace sluice::server {

inline constexpr std::string_view kDefaultListen = "127.0.0.1:7070";
inline constexpr std::string_view kDefaultKafkaListen = "127.0.0.1:9092";

// The Kafka protocol listener (docs/KAFKA.md).
struct KafkaSettings {
  // host:port; empty: off. It has no TLS or authentication yet: with TLS or an auth token on,
  // the default stays off and any other address is a configuration error.
  std::string listen = std::string(kDefaultKafkaListen);
  std::string advertised;          // host:port clients are told to connect to; empty: `listen`
  bool auto_create_topics = true;  // Metadata for an unknown topic creates it
  int32_t default_partitions = 1;  // of auto-created topics and CreateTopics without a count
  int64_t initial_rebalance_delay_ms = 3'000;  // Kafka's group.initial.rebalance.delay.ms
  int64_t max_frame_bytes = 100ll << 20;       // larger requests close the connection
  int64_t idle_timeout_ms = 600'000;           // idle connections are closed after this
};

struct TlsFiles {
  std::string cert;       // PEM server certificate chain; empty: plaintext
  std::string key;        // PEM private key of `cert`
  std::string client_ca;  // PEM CA bundle: when set, clients must present a certificate it signed

  bool enabled() const { return !cert.empty(); }
};

struct ServerConfig {
  std::string data_dir = "sluice-data";
  std::string listen = std::string(kDefaultListen);  // host:port; port 0 picks a free one
  std::string metrics_listen;                        // Prometheus endpoint; empty: off
  std::string log_level = "info";               // trace, debug, info, warn, error, critical, off
  uint64_t memory_budget_bytes = 512ull << 20;  // RocksDB memory of every job together
  int64_t max_request_bytes = 16 << 20;         // larger requests get RESOURCE_EXHAUSTED
  TlsFiles tls;
  std::string auth_token;  // when set, every call must carry "authorization: Bearer <token>"
  KafkaSettings kafka;
  // The `sluice` binary, run to check job libraries in a child process. Empty: this program
  // (right for `sluice serve`; a program embedding the server sets it).
  std::string cli;

  // Checks the values make sense together (TLS cert without key, a bad level, ...).
  Status validate() const;
};

// Parses a byte size: "1048576", "512MiB", "2GiB", "64KiB" (also KB/MB/GB as powers of 1024).
Result<uint64_t> parse_byte_size(std::string_view text);

// Sets one setting by its YAML name (dotted for nested keys: "tls.cert"), parsing and checking
// the value the same way for the file, the environment and flags. kInvalidArgument names the
// key for an unknown one or a bad value.
Status apply_setting(std::string_view key, const std::string& value, ServerConfig& config);

// The settings of a YAML file as dotted keys in file order (nested maps flattened: "tls.cert").
// kNotFound if the file does not exist; kInvalidArgument for YAML that does not parse or a
// list where a single value belongs.
Result<std::vector<std::pair<std::string, std::string>>> read_settings_file(
    const std::string& path);

// Applies the YAML file at `path` onto `config`. kNotFound if the file does not exist;
// kInvalidArgument (naming the key) for an unknown key or a value of the wrong type.
Status apply_config_file(const std::string& path, ServerConfig& config);

// Applies the SLUICE_* variables that `getenv` returns (std::getenv in production).
using Getenv = std::function<const char*(const char*)>;
Status apply_environment(const Getenv& getenv, ServerConfig& config);

}  // namespace sluice::server

#include "cli/cli_common.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include <fmt/core.h>

#include "sluice/server/config.h"
#include "sluice/server/grpc_status.h"

namespace sluice::cli {

namespace {

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::move(fallback);
}

}  // namespace

Result<std::map<std::string, std::string>> parse_configs(const std::vector<std::string>& items) {
  std::map<std::string, std::string> out;
  for (const std::string& item : items) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return invalid_argument("--config takes key=value (e.g. retention.ms=60000), not '" + item +
                              "'");
    }
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

int& exit_code() {
  static int code = 0;
  return code;
}

void add_client_flags(CLI::App& cmd, server::ClientOptions& options) {
  options.server = env_or("SLUICE_SERVER", std::string(server::kDefaultListen));
  options.auth_token = env_or("SLUICE_AUTH_TOKEN", "");
  options.tls_ca = env_or("SLUICE_TLS_CA", "");
  options.tls_cert = env_or("SLUICE_TLS_CERT", "");
  options.tls_key = env_or("SLUICE_TLS_KEY", "");
  auto* group = cmd.add_option_group("Connection");
  group->add_option("--server", options.server, "Server address HOST:PORT (env SLUICE_SERVER)")
      ->capture_default_str();
  group->add_option("--token", options.auth_token,
                    "Bearer token, when the server requires one (env SLUICE_AUTH_TOKEN)");
  group->add_option("--tls-ca", options.tls_ca,
                    "Connect with TLS, trusting this CA (PEM file; env SLUICE_TLS_CA)");
  group->add_option("--tls-cert", options.tls_cert,
                    "Client certificate (PEM) for servers that require one (env SLUICE_TLS_CERT)");
  group->add_option("--tls-key", options.tls_key,
                    "Key of the client certificate (PEM; env SLUICE_TLS_KEY)");
  group->add_option("--tls-server-name", options.tls_server_name,
                    "Name to check the server's certificate against, when it differs from the "
                    "--server host (e.g. localhost for 127.0.0.1)");
}

std::unique_ptr<server::Connection> connect_or_exit(const server::ClientOptions& options) {
  auto connection = server::Connection::open(options);
  if (!connection.ok()) {
    std::fprintf(stderr, "sluice: %s\n", connection.status().to_string().c_str());
    std::exit(kExitFailed);
  }
  return std::move(*connection);
}

int report_failure(const std::string& what, const grpc::Status& status,
                   const server::ClientOptions& options) {
  std::string message =
      fmt::format("sluice: {}: {}: {}", what, server::grpc_code_name(status.error_code()),
                  status.error_message());
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    message += fmt::format(
        "\n  is a server running at {}? Start one with `sluice serve`, or point --server "
        "(or SLUICE_SERVER) at it{}",
        options.server, options.tls_ca.empty() ? "" : "; check the TLS settings too");
    std::fprintf(stderr, "%s\n", message.c_str());
    return kExitUnreachable;
  }
  std::fprintf(stderr, "%s\n", message.c_str());
  return kExitFailed;
}

int report_failure(const std::string& what, const Status& status) {
  std::fprintf(stderr, "sluice: %s: %s\n", what.c_str(), status.to_string().c_str());
  return kExitFailed;
}

void log_to_stderr(const std::string& level) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("sluice"));
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
}

}  // namespace sluice::cli

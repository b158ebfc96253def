// What every `sluice` subcommand shares: the connection flags, error reporting and exit codes.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "sluice/base/result.h"
#include "sluice/server/client.h"

namespace sluice::cli {

// Exit codes: 0 success, 1 the operation failed, 2 bad usage (CLI11's own), 3 cannot reach the
// server.
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUnreachable = 3;

// --server, --token, --tls-ca, --tls-cert, --tls-key on `cmd`, with SLUICE_SERVER,
// SLUICE_AUTH_TOKEN, SLUICE_TLS_CA, SLUICE_TLS_CERT and SLUICE_TLS_KEY as defaults.
void add_client_flags(CLI::App& cmd, server::ClientOptions& options);

// Connects, or prints why not and exits.
std::unique_ptr<server::Connection> connect_or_exit(const server::ClientOptions& options);

// Prints "sluice: <what>: <status>" (with a hint for an unreachable server) and returns the
// exit code to use.
int report_failure(const std::string& what, const grpc::Status& status,
                   const server::ClientOptions& options);
int report_failure(const std::string& what, const Status& status);

// --config key=value items as a map; kInvalidArgument naming an item without '='.
Result<std::map<std::string, std::string>> parse_configs(const std::vector<std::string>& items);

// Logs of the long-running commands (serve, run) go to stderr, timestamped, at `level`
// (trace, debug, info, warn, error, critical, off); stdout stays for the lines scripts read.
void log_to_stderr(const std::string& level);

// The exit code of the subcommand that ran (set by its callback).
int& exit_code();

// Registration of each subcommand on the top-level app.
void add_serve_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_topic_command(CLI::App& app);
void add_produce_command(CLI::App& app);
void add_consume_command(CLI::App& app);
void add_group_command(CLI::App& app);
void add_job_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_bench_command(CLI::App& app);

}  // namespace sluice::cli

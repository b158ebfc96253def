// Connecting to a Sluice server: the channel (plaintext or TLS) and the per-call context that
// carries the bearer token. Used by the CLI, the tests and any C++ program that talks to a
// server.
//
// Thread safety: a Connection is safe to use from many threads (gRPC channels and stubs are).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "sluice/base/result.h"
#include "sluice/v1/groups.grpc.pb.h"
#include "sluice/v1/records.grpc.pb.h"
#include "sluice/v1/topics.grpc.pb.h"

namespace sluice::server {

struct ClientOptions {
  std::string server = "127.0.0.1:7070";
  std::string auth_token;  // sent as "authorization: Bearer <token>" on every call
  std::string tls_ca;      // PEM file: connect with TLS, trusting this CA; empty: plaintext
  std::string tls_cert;    // PEM client certificate and key, for servers that require one
  std::string tls_key;
  std::string tls_server_name;  // overrides the name checked against the server's certificate
  int64_t max_message_bytes = 64 << 20;
};

class Connection {
 public:
  // Reads the TLS files; does not connect yet (the first call does).
  static Result<std::unique_ptr<Connection>> open(const ClientOptions& options);

  // A context for one call: the token, and a deadline when `timeout` is given.
  std::unique_ptr<grpc::ClientContext> context(
      std::optional<std::chrono::milliseconds> timeout = std::nullopt) const;

  v1::Topics::Stub& topics() { return *topics_; }
  v1::Records::Stub& records() { return *records_; }
  v1::Groups::Stub& groups() { return *groups_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  const ClientOptions& options() const { return options_; }

 private:
  Connection() = default;

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Topics::Stub> topics_;
  std::unique_ptr<v1::Records::Stub> records_;
  std::unique_ptr<v1::Groups::Stub> groups_;
};

}  // namespace sluice::server

// Server: the Sluice service. It owns the log (a LogStore in `<data_dir>/log`) and the jobs
// (`<data_dir>/jobs`), and serves the gRPC API (package sluice.v1: Topics, Records, Groups, Jobs,
// plus gRPC health checking and reflection) on one listening address, and the Kafka protocol on
// another (docs/KAFKA.md). Jobs that were running
// when the server last stopped (cleanly or not) resume before it starts listening.
//
// Usage: `auto server = Server::start(config);` then `wait()` (returns after `shutdown()`,
// which another thread or a signal handler's thread calls). The destructor shuts down.
//
// Thread safety: shutdown() and the accessors may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "sluice/base/result.h"
#include "sluice/logstore/log_store.h"
#include "sluice/server/config.h"

namespace sluice::server {

class Server {
 public:
  virtual ~Server() = default;

  // Opens the log (recovering it) and starts listening. kFailedPrecondition when another
  // server has the data directory open; kUnavailable when the address cannot be bound.
  static Result<std::unique_ptr<Server>> start(const ServerConfig& config);

  // "127.0.0.1:7070": the address with the port actually bound.
  virtual std::string address() const = 0;
  virtual int port() const = 0;
  // "127.0.0.1:9464" when the Prometheus endpoint is on (ServerConfig::metrics_listen), else "".
  virtual std::string metrics_address() const = 0;
  // "127.0.0.1:9092" when the Kafka listener is on (ServerConfig::kafka.listen), else "".
  virtual std::string kafka_address() const = 0;

  // Blocks until shutdown() has stopped the server.
  virtual void wait() = 0;
  // Stops accepting calls, cancels open streams, then closes the log. Idempotent.
  virtual void shutdown() = 0;

  virtual logstore::LogStore& log() = 0;
};

}  // namespace sluice::server

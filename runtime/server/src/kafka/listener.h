// KafkaListener: the Kafka protocol on a TCP port, so that kcat, librdkafka and every Kafka
// client produce to and consume from the server's log.
//
// Standalone asio, C++20 coroutines: one coroutine per connection reads a frame (4-byte size,
// checked against `max_frame_bytes` before anything is allocated), decodes the request header,
// lets RequestHandler answer and writes the response, one request at a time per connection as
// Kafka's broker does (responses stay in request order). A connection is closed — never the
// server — on an unknown API key, an unsupported version (ApiVersions excepted: it answers
// UNSUPPORTED_VERSION with the versions served), a request that does not parse, an idle period
// longer than `idle_timeout_ms`, or a frame that does not arrive whole within
// `request_timeout_ms`. The memory of all requests in flight together is bounded too
// (`max_request_memory_bytes`): a connection waits for room before reading a frame.
//
// Thread safety: address(), port() and stop() may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "kafka/group_coordinator.h"
#include "kafka/handlers.h"
#include "sluice/base/result.h"
#include "sluice/logstore/log_store.h"

namespace sluice::server::kafka {

struct KafkaListenerOptions {
  std::string listen = "127.0.0.1:9092";  // host:port; port 0 picks a free one
  // What Metadata and FindCoordinator tell clients to connect to; empty: the bound address.
  std::string advertised;
  HandlerOptions handler;  // advertised_host/port are filled in from the two above
  GroupOptions groups;
  int64_t max_frame_bytes = 100ll << 20;  // Kafka's socket.request.max.bytes
  int64_t idle_timeout_ms = 600'000;      // Kafka's connections.max.idle.ms
  int64_t request_timeout_ms = 30'000;    // a started frame must arrive whole within this
  int32_t max_connections = 1024;         // more are accepted and closed at once
  // The requests of all connections together hold at most this much memory (Kafka's
  // queued.max.request.bytes): a frame that would go past it waits (up to request_timeout_ms)
  // before its bytes are allocated. One frame alone may exceed it.
  int64_t max_request_memory_bytes = 512ll << 20;
  int32_t io_threads = 2;
};

class KafkaListener {
 public:
  // Binds and starts serving. kUnavailable when the address cannot be bound; kInvalidArgument
  // for an address that does not parse.
  static Result<std::unique_ptr<KafkaListener>> start(KafkaListenerOptions options,
                                                      logstore::LogStore& log);
  virtual ~KafkaListener() = default;

  // "127.0.0.1:9092", with the port actually bound.
  virtual std::string address() const = 0;
  virtual int port() const = 0;
  // Open connections right now.
  virtual int connections() const = 0;
  // Bytes of requests being read or handled right now.
  virtual int64_t request_memory_bytes() const = 0;
  // Closes the port and every connection, and waits for the I/O threads. Idempotent.
  virtual void stop() = 0;
};

// Splits "host:port" ("[::1]:9092" for IPv6). kInvalidArgument names the problem.
Result<std::pair<std::string, int>> split_host_port(const std::string& address);

}  // namespace sluice::server::kafka

#include "kafka/listener.h"

#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "sluice/base/clock.h"

namespace sluice::server::kafka {
namespace {

using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

// api_key, api_version, correlation_id and the client id's length.
constexpr int32_t kMinRequestBytes = 10;

class ListenerImpl final : public KafkaListener {
 public:
  ListenerImpl(KafkaListenerOptions options, logstore::LogStore& log)
      : options_(std::move(options)),
        groups_(options_.groups),
        handler_(log, groups_, options_.handler),
        acceptor_(io_) {}

  ~ListenerImpl() override { stop(); }

  Status bind(const std::string& host, int port) {
    asio::error_code ec;
    tcp::resolver resolver(io_);
    auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec || endpoints.empty()) {
      return unavailable("cannot resolve the Kafka listen address '" + host + "': " + ec.message());
    }
    const tcp::endpoint endpoint = endpoints.begin()->endpoint();
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return unavailable("cannot listen for Kafka clients on " + host + ":" + std::to_string(port) +
                         ": " + ec.message() +
                         " (is another broker on that port? set --kafka-listen)");
    }
    const tcp::endpoint bound = acceptor_.local_endpoint();
    const std::string bound_host = bound.address().to_string();
    port_ = bound.port();
    address_ = (bound.address().is_v6() ? "[" + bound_host + "]" : bound_host) + ":" +
               std::to_string(port_);
    return Status();
  }

  void run() {
    asio::co_spawn(io_, accept_loop(), asio::detached);
    asio::co_spawn(io_, tick_loop(), asio::detached);
    for (int i = 0; i < std::max(options_.io_threads, 1); ++i) {
      threads_.emplace_back([this] { io_.run(); });
    }
  }

  RequestHandler& handler() { return handler_; }

  std::string address() const override { return address_; }
  int port() const override { return port_; }
  int connections() const override { return open_.load(); }
  int64_t request_memory_bytes() const override { return in_flight_bytes_.load(); }

  // Closes the port and every connection (their coroutines see the close and end), waits a
  // moment for them, then stops the threads.
  void stop() override {
    if (stopped_.exchange(true)) return;
    asio::post(acceptor_.get_executor(), [this] {
      asio::error_code ignored;
      acceptor_.close(ignored);
    });
    {
      std::lock_guard lock(sockets_mu_);
      for (const auto& weak : sockets_) {
        if (auto socket = weak.lock()) {
          asio::post(socket->get_executor(), [socket] {
            asio::error_code ignored;
            socket->close(ignored);
          });
        }
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (open_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    io_.stop();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

 private:
  asio::awaitable<void> accept_loop() {
    while (acceptor_.is_open()) {
      // Each connection on a strand of its own: its reads, timers and handler steps never run
      // on two threads at once (asio's `||` cancellation needs that).
      auto [ec, socket] = co_await acceptor_.async_accept(
          asio::make_strand(io_), asio::experimental::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        spdlog::warn("kafka: accept failed: {}", ec.message());
        continue;
      }
      if (open_.load() >= options_.max_connections) {
        spdlog::warn("kafka: refusing a connection: {} are open (max_connections)", open_.load());
        continue;  // the socket closes as it goes out of scope
      }
      asio::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto shared = std::make_shared<tcp::socket>(std::move(socket));
      {
        std::lock_guard lock(sockets_mu_);
        std::erase_if(sockets_, [](const auto& w) { return w.expired(); });
        sockets_.push_back(shared);
      }
      ++open_;
      asio::co_spawn(shared->get_executor(), serve(shared), asio::detached);
    }
  }

  asio::awaitable<void> tick_loop() {
    asio::steady_timer timer(io_);
    while (!stopped_.load()) {
      timer.expires_after(std::chrono::milliseconds(100));
      auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      groups_.tick(Clock::system().monotonic_ms());
    }
  }

  // Reads exactly `buffer` within `timeout_ms`; false on timeout, end of stream or error.
  asio::awaitable<bool> read_within(tcp::socket& socket, asio::mutable_buffer buffer,
                                    int64_t timeout_ms, const char* what, const std::string& peer) {
    asio::steady_timer timer(socket.get_executor());
    timer.expires_after(std::chrono::milliseconds(timeout_ms));
    auto result = co_await (
        asio::async_read(socket, buffer, asio::experimental::as_tuple(asio::use_awaitable)) ||
        timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable)));
    if (result.index() == 1) {
      spdlog::info("kafka: closing {}: {} for {} ms", peer, what, timeout_ms);
      co_return false;
    }
    auto [ec, n] = std::get<0>(result);
    if (ec) {
      if (ec != asio::error::eof) spdlog::debug("kafka: {} read failed: {}", peer, ec.message());
      co_return false;
    }
    co_return true;
  }

  // One connection. Whatever ends it (the peer, a bad request, an exception such as a failed
  // allocation), the socket is closed and the connection count given back.
  asio::awaitable<void> serve(std::shared_ptr<tcp::socket> socket) {
    struct Closed {
      std::atomic<int>& open;
      ~Closed() { --open; }
    } closed{open_};
    asio::error_code ec;
    const tcp::endpoint remote = socket->remote_endpoint(ec);
    const std::string peer =
        ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
    const std::string client_host = ec ? "/?" : "/" + remote.address().to_string();
    std::string reason;
    try {
      reason = co_await serve_requests(*socket, peer, client_host);
    } catch (const std::exception& e) {
      reason = std::string("an error serving it: ") + e.what();
    }
    if (!reason.empty()) spdlog::warn("kafka: closing the connection from {}: {}", peer, reason);
    socket->close(ec);
  }

  // Waits until `size` more bytes fit the request memory budget (one frame alone always fits
  // when nothing else is in flight) and takes them; false after request_timeout_ms.
  asio::awaitable<bool> reserve(int64_t size) {
    const int64_t deadline = Clock::system().monotonic_ms() + options_.request_timeout_ms;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    int64_t step = 1;
    while (true) {
      int64_t now_in_flight = in_flight_bytes_.load();
      if (now_in_flight == 0 || now_in_flight + size <= options_.max_request_memory_bytes) {
        if (in_flight_bytes_.compare_exchange_weak(now_in_flight, now_in_flight + size)) {
          co_return true;
        }
        continue;
      }
      if (Clock::system().monotonic_ms() >= deadline) co_return false;
      timer.expires_after(std::chrono::milliseconds(step));
      auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      if (ec) co_return false;
      step = std::min<int64_t>(step * 2, 10);
    }
  }

  // Serves requests until the peer leaves (returns "") or must be dropped (returns why).
  asio::awaitable<std::string> serve_requests(tcp::socket& socket, const std::string& peer,
                                              const std::string& client_host) {
    while (true) {
      char size_bytes[4];
      const bool got_size = co_await read_within(socket, asio::buffer(size_bytes),
                                                 options_.idle_timeout_ms, "idle", peer);
      if (!got_size) co_return "";
      const int32_t size = load_be<int32_t>(size_bytes);
      if (size < kMinRequestBytes || size > options_.max_frame_bytes) {
        co_return "a frame of " + std::to_string(size) +
            " bytes (allowed: " + std::to_string(kMinRequestBytes) + " to " +
            std::to_string(options_.max_frame_bytes) + ")";
      }
      // Room for the frame among every connection's requests, before allocating it.
      const bool reserved = co_await reserve(size);
      if (!reserved) {
        co_return "no room for a " + std::to_string(size) + "-byte request within " +
            std::to_string(options_.request_timeout_ms) + " ms (max_request_memory_bytes)";
      }
      struct Release {
        std::atomic<int64_t>& bytes;
        int64_t n;
        ~Release() { bytes -= n; }
      } release{in_flight_bytes_, size};
      Bytes frame(static_cast<size_t>(size), '\0');
      const bool got_frame =
          co_await read_within(socket, asio::buffer(frame.data(), frame.size()),
                               options_.request_timeout_ms, "a request arriving slowly", peer);
      if (!got_frame) co_return "";
      Decoder d(frame, 0);
      RequestHeader header;
      fields(d, header);
      if (!d.ok()) co_return "a request header that does not parse: " + d.error();
      const ApiSupport* api = find_api(header.api_key);
      if (api == nullptr) co_return "unknown API key " + std::to_string(header.api_key);
      const bool api_versions = api->key == ApiKey::kApiVersions;
      if (header.api_version < api->min_advertised ||
          (header.api_version > api->max_advertised && !api_versions)) {
        co_return std::string(api->name) + " v" + std::to_string(header.api_version) +
            " is not served (v" + std::to_string(api->min_advertised) + "-" +
            std::to_string(api->max_advertised) + " are)";
      }
      const ByteView body = ByteView(frame).substr(frame.size() - d.remaining());
      Reply reply = co_await handler_.handle(header, body, client_host);
      if (reply.kind == Reply::Kind::kClose) co_return reply.reason;
      if (reply.kind == Reply::Kind::kNoResponse) continue;
      char head[8];
      store_be<int32_t>(head, static_cast<int32_t>(4 + reply.body.size()));
      store_be<int32_t>(head + 4, header.correlation_id);
      const std::array<asio::const_buffer, 2> out = {asio::buffer(head), asio::buffer(reply.body)};
      auto [ec, n] = co_await asio::async_write(socket, out,
                                                asio::experimental::as_tuple(asio::use_awaitable));
      if (ec) co_return "";
    }
  }

  const KafkaListenerOptions options_;
  // Before io_: coroutine frames destroyed with io_ refer to them.
  GroupCoordinator groups_;
  RequestHandler handler_;
  std::atomic<int> open_{0};
  std::atomic<int64_t> in_flight_bytes_{0};
  std::atomic<bool> stopped_{false};
  std::mutex sockets_mu_;
  std::vector<std::weak_ptr<tcp::socket>> sockets_;  // open connections, for stop()
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  std::string address_;
  int port_ = 0;
};

}  // namespace

Result<std::pair<std::string, int>> split_host_port(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    return invalid_argument("'" + address + "' is not host:port");
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  for (char c : address.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535) return invalid_argument("'" + address + "': bad port");
    port = port * 10 + (c - '0');
  }
  if (port > 65535) return invalid_argument("'" + address + "': bad port");
  if (host.empty()) host = "0.0.0.0";
  return std::pair{host, port};
}

Result<std::unique_ptr<KafkaListener>> KafkaListener::start(KafkaListenerOptions options,
                                                            logstore::LogStore& log) {
  SLUICE_ASSIGN_OR_RETURN(auto listen, split_host_port(options.listen));
  // The advertised address is known only after binding (port 0), so the handler's copy of the
  // options is completed before the first connection is accepted.
  auto impl = std::make_unique<ListenerImpl>(options, log);
  SLUICE_RETURN_IF_ERROR(impl->bind(listen.first, listen.second));
  std::pair<std::string, int> advertised;
  if (options.advertised.empty()) {
    SLUICE_ASSIGN_OR_RETURN(advertised, split_host_port(impl->address()));
    // A wildcard bind is not an address a client can connect to.
    if (advertised.first == "0.0.0.0" || advertised.first == "::") advertised.first = "127.0.0.1";
  } else {
    SLUICE_ASSIGN_OR_RETURN(advertised, split_host_port(options.advertised));
    if (advertised.second == 0) advertised.second = impl->port();
  }
  impl->handler().set_advertised(advertised.first, advertised.second);
  impl->run();
  spdlog::info("kafka: listening on {} (advertised as {}:{})", impl->address(), advertised.first,
               advertised.second);
  return std::unique_ptr<KafkaListener>(std::move(impl));
}

}  // namespace sluice::server::kafka

#include "sluice/server/server.h"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include "auth.h"
#include "kafka/listener.h"
#include "metrics.h"
#include "services.h"
#include "sluice/base/file_system.h"

namespace sluice::server {

namespace {

Result<std::string> read_pem(const std::string& path, const char* what) {
  auto pem = read_file(FileSystem::posix(), path);
  if (!pem.ok()) {
    return pem.status().with_context(std::string("reading the ") + what +
                                     " file (check the path and its permissions)");
  }
  return pem;
}

Result<std::shared_ptr<grpc::ServerCredentials>> credentials(const TlsFiles& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  SLUICE_ASSIGN_OR_RETURN(pair.cert_chain, read_pem(tls.cert, "TLS certificate"));
  SLUICE_ASSIGN_OR_RETURN(pair.private_key, read_pem(tls.key, "TLS key"));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!tls.client_ca.empty()) {
    SLUICE_ASSIGN_OR_RETURN(options.pem_root_certs, read_pem(tls.client_ca, "TLS client CA"));
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

// "127.0.0.1:0" with port 41234 bound -> "127.0.0.1:41234".
std::string with_port(const std::string& listen, int port) {
  auto colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  return host + ":" + std::to_string(port);
}

class ServerImpl final : public Server {
 public:
  ServerImpl(const ServerConfig& config, std::unique_ptr<logstore::LogStore> log, std::string cli)
      : config_(config),
        log_(std::move(log)),
        guard_(config.auth_token),
        jobs_(*log_, {.jobs_dir = config.data_dir + "/jobs",
                      .cli = std::move(cli),
                      .memory = state::StateMemoryBudget::create(config.memory_budget_bytes)}),
        topics_(*log_, guard_),
        records_(*log_, guard_),
        groups_(*log_, guard_),
        jobs_service_(jobs_, guard_, 256ll << 20) {}

  ~ServerImpl() override { shutdown(); }

  Status recover_jobs() { return jobs_.recover(); }

  Status listen() {
    SLUICE_ASSIGN_OR_RETURN(auto creds, credentials(config_.tls));
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    // No SO_REUSEPORT: a second server on the same port must fail, not share it.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    // A stream window of a few requests, so a producer streaming 100 KB requests is not held
    // back by window updates.
    builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8 << 20);
    builder.AddListeningPort(config_.listen, creds, &port_);
    builder.SetMaxReceiveMessageSize(static_cast<int>(config_.max_request_bytes));
    builder.SetMaxSendMessageSize(64 << 20);
    builder.RegisterService(&topics_);
    builder.RegisterService(&records_);
    builder.RegisterService(&groups_);
    builder.RegisterService(&jobs_service_);
    grpc_ = builder.BuildAndStart();
    if (grpc_ == nullptr || port_ == 0) {
      return unavailable("cannot listen on '" + config_.listen +
                         "': is the address valid and the port free? (--listen HOST:PORT)");
    }
    address_ = with_port(config_.listen, port_);
    if (!config_.metrics_listen.empty()) {
      metrics_ = std::make_shared<ServerMetrics>(*log_, jobs_);
      SLUICE_ASSIGN_OR_RETURN(exposer_, expose_metrics(config_.metrics_listen, metrics_));
      auto ports = exposer_->GetListeningPorts();
      metrics_address_ = with_port(config_.metrics_listen, ports.empty() ? 0 : ports[0]);
      spdlog::info("metrics at http://{}/metrics", metrics_address_);
    }
    const bool protected_api = config_.tls.enabled() || !config_.auth_token.empty();
    if (protected_api && config_.kafka.listen == kDefaultKafkaListen) {
      spdlog::warn(
          "the Kafka listener stays off: it has no TLS or authentication yet, and the "
          "gRPC API is protected");
    } else if (!config_.kafka.listen.empty()) {
      kafka::KafkaListenerOptions options;
      options.listen = config_.kafka.listen;
      options.advertised = config_.kafka.advertised;
      options.handler.auto_create_topics = config_.kafka.auto_create_topics;
      options.handler.default_partitions = config_.kafka.default_partitions;
      options.groups.initial_rebalance_delay_ms = config_.kafka.initial_rebalance_delay_ms;
      options.max_frame_bytes = config_.kafka.max_frame_bytes;
      options.idle_timeout_ms = config_.kafka.idle_timeout_ms;
      SLUICE_ASSIGN_OR_RETURN(kafka_, kafka::KafkaListener::start(options, *log_));
    }
    spdlog::info("sluice server listening on {} ({}{}), data in {}", address_,
                 config_.tls.enabled() ? "TLS" : "plaintext",
                 config_.auth_token.empty() ? "" : ", token required", config_.data_dir);
    return Status();
  }

  std::string address() const override { return address_; }
  std::string metrics_address() const override { return metrics_address_; }
  std::string kafka_address() const override { return kafka_ ? kafka_->address() : ""; }
  int port() const override { return port_; }

  void wait() override {
    if (grpc_) grpc_->Wait();
    std::unique_lock lock(closed_mu_);
    closed_cv_.wait(lock, [&] { return closed_; });
  }

  void shutdown() override {
    std::call_once(shutdown_once_, [&] {
      spdlog::info("sluice server stopping");
      if (grpc_) {
        // Calls in flight get a moment to finish; open streams are cancelled after it.
        grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
      }
      spdlog::debug("gRPC calls finished");
      if (kafka_) kafka_->stop();  // its connections close; clients reconnect after a restart
      exposer_.reset();
      spdlog::debug("metrics endpoint closed");
      jobs_.shutdown();  // each job commits; they resume at the next start
      if (Status s = log_->close(); !s.ok()) spdlog::error("closing the log: {}", s.to_string());
      {
        std::lock_guard lock(closed_mu_);
        closed_ = true;
      }
      closed_cv_.notify_all();
      spdlog::info("sluice server stopped");
    });
  }

  logstore::LogStore& log() override { return *log_; }

 private:
  ServerConfig config_;
  std::unique_ptr<logstore::LogStore> log_;
  CallGuard guard_;
  JobManager jobs_;
  TopicsService topics_;
  RecordsService records_;
  GroupsService groups_;
  JobsService jobs_service_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<kafka::KafkaListener> kafka_;
  std::shared_ptr<ServerMetrics> metrics_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string metrics_address_;
  int port_ = 0;
  std::string address_;
  std::once_flag shutdown_once_;
  std::mutex closed_mu_;
  std::condition_variable closed_cv_;
  bool closed_ = false;
};

}  // namespace

Result<std::unique_ptr<Server>> Server::start(const ServerConfig& config) {
  SLUICE_RETURN_IF_ERROR(config.validate());
  std::string cli = config.cli;
  if (cli.empty()) {
    std::error_code ec;
    cli = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    if (ec) return internal_error("cannot find this program's path to check job libraries");
  }
  logstore::OpenReport report;
  const std::string log_dir = config.data_dir + "/log";
  auto log = logstore::LogStore::open({.data_dir = log_dir}, &report);
  if (!log.ok()) return log.status().with_context("opening the log in " + log_dir);
  if (!report.truncated.empty() || !report.corrupt.empty() || report.transactions_aborted > 0 ||
      report.transactions_rolled_forward > 0) {
    spdlog::warn(
        "log recovery: {} torn tail(s) cut, {} corrupt segment(s) kept, {} open transaction(s) "
        "aborted, {} rolled forward",
        report.truncated.size(), report.corrupt.size(), report.transactions_aborted,
        report.transactions_rolled_forward);
  }
  auto server = std::make_unique<ServerImpl>(config, std::move(*log), std::move(cli));
  // Jobs resume before the server takes calls.
  SLUICE_RETURN_IF_ERROR(server->recover_jobs());
  SLUICE_RETURN_IF_ERROR(server->listen());
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace sluice::server

#include "sluice/server/client.h"

#include "sluice/base/file_system.h"

namespace sluice::server {

namespace {

Result<std::string> read_pem(const std::string& path, const char* what) {
  auto pem = read_file(FileSystem::posix(), path);
  if (!pem.ok()) return pem.status().with_context(std::string("reading the ") + what + " file");
  return pem;
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::open(const ClientOptions& options) {
  if (options.server.empty()) return invalid_argument("no server address: pass --server HOST:PORT");
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (!options.tls_ca.empty()) {
    grpc::SslCredentialsOptions ssl;
    SLUICE_ASSIGN_OR_RETURN(ssl.pem_root_certs, read_pem(options.tls_ca, "TLS CA"));
    if (!options.tls_cert.empty()) {
      SLUICE_ASSIGN_OR_RETURN(ssl.pem_cert_chain, read_pem(options.tls_cert, "client certificate"));
      SLUICE_ASSIGN_OR_RETURN(ssl.pem_private_key, read_pem(options.tls_key, "client key"));
    }
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  args.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8 << 20);  // see server.cc
  if (!options.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(options.tls_server_name);
  }
  std::unique_ptr<Connection> c(new Connection());
  c->options_ = options;
  c->channel_ = grpc::CreateCustomChannel(options.server, creds, args);
  c->topics_ = v1::Topics::NewStub(c->channel_);
  c->records_ = v1::Records::NewStub(c->channel_);
  c->groups_ = v1::Groups::NewStub(c->channel_);
  return c;
}

std::unique_ptr<grpc::ClientContext> Connection::context(
    std::optional<std::chrono::milliseconds> timeout) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!options_.auth_token.empty()) {
    ctx->AddMetadata("authorization", "Bearer " + options_.auth_token);
  }
  if (timeout) ctx->set_deadline(std::chrono::system_clock::now() + *timeout);
  return ctx;
}

}  // namespace sluice::server

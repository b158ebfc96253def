// Bearer tokens and TLS: a call without the token is refused, a plaintext client cannot talk
// to a TLS server, a server that requires client certificates refuses clients without one,
// and the token never reaches the log.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "server_test_util.h"

namespace sluice::server::testing {
namespace {

constexpr const char* kToken = "s3cret-token-value";

grpc::Status list_topics(Connection& c) {
  v1::ListTopicsResponse response;
  return c.topics().ListTopics(c.context(std::chrono::seconds(5)).get(), {}, &response);
}

class SecurityTest : public ServerFixture {
 protected:
  void SetUp() override {}  // each test starts its own server
};

TEST_F(SecurityTest, WithATokenConfiguredCallsWithoutItAreUnauthenticated) {
  std::ostringstream log;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)));

  ServerConfig config;
  config.auth_token = kToken;
  start(config);  // the fixture's client has no token
  grpc::Status none = list_topics(api());
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(none.error_message().find("--token"), std::string::npos) << none.error_message();

  ClientOptions wrong;
  wrong.auth_token = "guess";
  connect(wrong);
  EXPECT_EQ(list_topics(api()).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(create_topic("t", 1).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  ClientOptions right;
  right.auth_token = kToken;
  connect(right);
  EXPECT_TRUE(list_topics(api()).ok());
  EXPECT_TRUE(create_topic("t", 1).ok());
  server_->shutdown();

  spdlog::set_default_logger(previous);
  EXPECT_NE(log.str().find("token required"), std::string::npos) << log.str();
  EXPECT_EQ(log.str().find(kToken), std::string::npos) << "the token was logged";
}

// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with the
// openssl tool.
class Certificates {
 public:
  explicit Certificates(const std::string& dir) : dir_(dir) {
    run("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
        "-subj /CN=sluice-test-ca");
    issue("server", "subjectAltName=DNS:localhost,IP:127.0.0.1");
    issue("client", "extendedKeyUsage=clientAuth");
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  void issue(const std::string& name, const std::string& extension) {
    run("openssl req -newkey rsa:2048 -nodes -keyout " + name + ".key -out " + name +
        ".csr -subj /CN=" + name);
    std::ofstream(dir_ + "/" + name + ".ext") << extension << "\n";
    run("openssl x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -out " +
        name + ".pem -days 2 -extfile " + name + ".ext");
  }
  void run(const std::string& command) {
    std::string line = "cd '" + dir_ + "' && " + command + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(line.c_str()), 0) << line;
  }
  std::string dir_;
};

TEST_F(SecurityTest, WithTlsConfiguredAPlaintextClientCannotConnect) {
  Certificates certs(dir_.path());
  ServerConfig config;
  config.tls = {.cert = certs.path("server.pem"), .key = certs.path("server.key")};
  start(config);  // the fixture's client is plaintext
  grpc::Status plaintext = list_topics(api());
  EXPECT_EQ(plaintext.error_code(), grpc::StatusCode::UNAVAILABLE) << plaintext.error_message();

  ClientOptions tls;
  tls.tls_ca = certs.path("ca.pem");
  tls.tls_server_name = "localhost";  // gRPC checks DNS names, not IP addresses
  connect(tls);
  grpc::Status s = list_topics(api());
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(SecurityTest, WhenClientCertificatesAreRequiredAClientWithoutOneIsRefused) {
  Certificates certs(dir_.path());
  ServerConfig config;
  config.tls = {.cert = certs.path("server.pem"),
                .key = certs.path("server.key"),
                .client_ca = certs.path("ca.pem")};
  ClientOptions no_cert;
  no_cert.tls_ca = certs.path("ca.pem");
  no_cert.tls_server_name = "localhost";
  start(config, no_cert);
  EXPECT_FALSE(list_topics(api()).ok());

  ClientOptions with_cert = no_cert;
  with_cert.tls_cert = certs.path("client.pem");
  with_cert.tls_key = certs.path("client.key");
  connect(with_cert);
  grpc::Status s = list_topics(api());
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST(ServerStartTest, ATlsCertificateFileThatDoesNotExistIsAClearError) {
  sluice::testing::TempDir dir;
  ServerConfig config;
  config.data_dir = dir / "data";
  config.listen = "127.0.0.1:0";
  config.kafka.listen = "";  // the Kafka listener does not do TLS
  config.tls = {.cert = dir / "missing.pem", .key = dir / "missing.key"};
  auto server = Server::start(config);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("missing.pem"), std::string::npos)
      << server.status().to_string();
}

TEST(ServerStartTest, AnAddressInUseIsAClearError) {
  sluice::testing::TempDir dir;
  ServerConfig config;
  config.data_dir = dir / "a";
  config.listen = "127.0.0.1:0";
  config.kafka.listen = "127.0.0.1:0";  // not 9092: tests run in parallel
  auto first = Server::start(config);
  ASSERT_OK(first.status());
  config.data_dir = dir / "b";
  config.listen = (*first)->address();
  auto second = Server::start(config);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("port free"), std::string::npos)
      << second.status().to_string();
}

TEST(ServerStartTest, TwoServersCannotShareADataDirectory) {
  sluice::testing::TempDir dir;
  ServerConfig config;
  config.data_dir = dir / "data";
  config.listen = "127.0.0.1:0";
  config.kafka.listen = "127.0.0.1:0";  // not 9092: tests run in parallel
  auto first = Server::start(config);
  ASSERT_OK(first.status());
  auto second = Server::start(config);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition) << second.status().to_string();
}

}  // namespace
}  // namespace sluice::server::testing

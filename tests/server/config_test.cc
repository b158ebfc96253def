// The server's configuration: file, then SLUICE_* environment, each checked.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "assert_ok.h"
#include "sluice/server/config.h"
#include "temp_dir.h"

namespace sluice::server {
namespace {

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(ServerConfigTest, TheFileSetsEverySettingAndTheEnvironmentOverridesIt) {
  sluice::testing::TempDir dir;
  write(dir / "sluice.yaml",
        "data_dir: /var/lib/sluice\n"
        "listen: 0.0.0.0:7070\n"
        "metrics_listen: 127.0.0.1:9464\n"
        "log_level: debug\n"
        "memory_budget: 1GiB\n"
        "max_request_bytes: 4MiB\n"
        "tls:\n"
        "  cert: /etc/sluice/cert.pem\n"
        "  key: /etc/sluice/key.pem\n"
        "auth_token: from-file\n");
  ServerConfig c;
  ASSERT_OK(apply_config_file(dir / "sluice.yaml", c));
  EXPECT_EQ(c.data_dir, "/var/lib/sluice");
  EXPECT_EQ(c.listen, "0.0.0.0:7070");
  EXPECT_EQ(c.metrics_listen, "127.0.0.1:9464");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.memory_budget_bytes, 1ull << 30);
  EXPECT_EQ(c.max_request_bytes, 4 << 20);
  EXPECT_EQ(c.tls.cert, "/etc/sluice/cert.pem");
  EXPECT_EQ(c.tls.key, "/etc/sluice/key.pem");
  EXPECT_EQ(c.auth_token, "from-file");
  ASSERT_OK(c.validate());

  std::map<std::string, std::string> env = {{"SLUICE_LISTEN", "127.0.0.1:9000"},
                                            {"SLUICE_AUTH_TOKEN", "from-env"},
                                            {"SLUICE_MEMORY_BUDGET", "256MiB"}};
  ASSERT_OK(apply_environment(
      [&](const char* name) -> const char* {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
      },
      c));
  EXPECT_EQ(c.listen, "127.0.0.1:9000");
  EXPECT_EQ(c.auth_token, "from-env");
  EXPECT_EQ(c.memory_budget_bytes, 256ull << 20);
  EXPECT_EQ(c.data_dir, "/var/lib/sluice");  // not in the environment: the file's value stays
}

TEST(ServerConfigTest, KafkaListenerSettingsComeFromTheFileAndTheEnvironment) {
  sluice::testing::TempDir dir;
  write(dir / "sluice.yaml",
        "kafka:\n"
        "  listen: 0.0.0.0:19092\n"
        "  advertised: broker.example:19092\n"
        "  auto_create_topics: false\n"
        "  default_partitions: 6\n"
        "  initial_rebalance_delay_ms: 0\n"
        "  max_frame_bytes: 8MiB\n"
        "  idle_timeout_ms: 60000\n");
  ServerConfig c;
  EXPECT_EQ(c.kafka.listen, "127.0.0.1:9092");  // Kafka's own default port, loopback only
  ASSERT_OK(apply_config_file(dir / "sluice.yaml", c));
  EXPECT_EQ(c.kafka.listen, "0.0.0.0:19092");
  EXPECT_EQ(c.kafka.advertised, "broker.example:19092");
  EXPECT_FALSE(c.kafka.auto_create_topics);
  EXPECT_EQ(c.kafka.default_partitions, 6);
  EXPECT_EQ(c.kafka.initial_rebalance_delay_ms, 0);
  EXPECT_EQ(c.kafka.max_frame_bytes, 8 << 20);
  EXPECT_EQ(c.kafka.idle_timeout_ms, 60'000);
  ASSERT_OK(apply_environment(
      [](const char* name) -> const char* {
        return std::string_view(name) == "SLUICE_KAFKA_LISTEN" ? "" : nullptr;
      },
      c));
  EXPECT_EQ(c.kafka.listen, "");  // off
  EXPECT_EQ(apply_setting("kafka.default_partitions", "0", c).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(apply_setting("kafka.auto_create_topics", "maybe", c).code(),
            StatusCode::kInvalidArgument);
  // No TLS or authentication on the Kafka port yet: asking for it beside a token is refused.
  ServerConfig guarded;
  guarded.auth_token = "secret";
  ASSERT_OK(guarded.validate());  // the default listener just stays off
  guarded.kafka.listen = "127.0.0.1:19092";
  Status s = guarded.validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--kafka-listen ''"), std::string::npos) << s.to_string();
}

TEST(ServerConfigTest, MistakesAreNamed) {
  sluice::testing::TempDir dir;
  ServerConfig c;
  write(dir / "typo.yaml", "listne: 127.0.0.1:1\n");
  Status s = apply_config_file(dir / "typo.yaml", c);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("listne"), std::string::npos) << s.to_string();

  write(dir / "size.yaml", "memory_budget: lots\n");
  s = apply_config_file(dir / "size.yaml", c);
  EXPECT_NE(s.message().find("memory_budget"), std::string::npos) << s.to_string();

  write(dir / "broken.yaml", "listen: [unclosed\n");
  EXPECT_EQ(apply_config_file(dir / "broken.yaml", c).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(apply_config_file(dir / "absent.yaml", c).code(), StatusCode::kNotFound);

  s = apply_environment(
      [](const char* name) -> const char* {
        return std::string_view(name) == "SLUICE_MAX_REQUEST_BYTES" ? "0" : nullptr;
      },
      c);
  EXPECT_NE(s.message().find("SLUICE_MAX_REQUEST_BYTES"), std::string::npos) << s.to_string();

  ServerConfig tls_without_key;
  tls_without_key.tls.cert = "cert.pem";
  EXPECT_NE(tls_without_key.validate().message().find("--tls-key"), std::string::npos);
  ServerConfig bad_level;
  bad_level.log_level = "loud";
  EXPECT_NE(bad_level.validate().message().find("loud"), std::string::npos);
}

TEST(ServerConfigTest, ByteSizesTakeBinaryUnits) {
  EXPECT_EQ(*parse_byte_size("1048576"), 1048576u);
  EXPECT_EQ(*parse_byte_size("64KiB"), 64u << 10);
  EXPECT_EQ(*parse_byte_size("512MB"), 512ull << 20);
  EXPECT_EQ(*parse_byte_size("2GiB"), 2ull << 30);
  EXPECT_FALSE(parse_byte_size("12 parsecs").ok());
  EXPECT_FALSE(parse_byte_size("MiB").ok());
}

}  // namespace
}  // namespace sluice::server

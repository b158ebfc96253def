// A real server on an ephemeral loopback port, in the test process, with a client connected.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "assert_ok.h"
#include "sluice/server/client.h"
#include "sluice/server/server.h"
#include "sluice/v1/jobs.grpc.pb.h"
#include "temp_dir.h"

namespace sluice::server::testing {

class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override { start(); }
  void TearDown() override {
    connection_.reset();
    if (server_) server_->shutdown();
  }

  // (Re)starts the server with `config` (data dir and a free port filled in) and connects.
  void start(ServerConfig config = {}, ClientOptions client = {}) {
    connection_.reset();
    if (server_) server_->shutdown();
    server_.reset();
    config.data_dir = dir_ / "data";
    config.listen = "127.0.0.1:0";
    // The Kafka listener on a free port too (never the shared 9092); off beside TLS or a token,
    // which it does not support.
    if (config.kafka.listen == kDefaultKafkaListen) {
      config.kafka.listen = config.tls.enabled() || !config.auth_token.empty() ? "" : "127.0.0.1:0";
    }
    config.cli = SLUICE_CLI;  // checks job libraries
    auto server = Server::start(config);
    ASSERT_OK(server.status());
    server_ = std::move(*server);
    client.server = server_->address();
    connect(client);
  }

  void connect(ClientOptions client) {
    client.server = server_->address();
    auto c = Connection::open(client);
    ASSERT_OK(c.status());
    connection_ = std::move(*c);
  }

  Connection& api() { return *connection_; }

  grpc::Status create_topic(const std::string& name, int32_t partitions,
                            std::map<std::string, std::string> configs = {}) {
    v1::CreateTopicRequest request;
    request.set_name(name);
    request.set_partitions(partitions);
    request.mutable_configs()->insert(configs.begin(), configs.end());
    v1::CreateTopicResponse response;
    return api().topics().CreateTopic(api().context().get(), request, &response);
  }

  grpc::Status produce(const v1::ProduceRequest& request, v1::ProduceResponse* response = nullptr) {
    v1::ProduceResponse ignored;
    return api().records().Produce(api().context().get(), request, response ? response : &ignored);
  }

  // Submits a job: `library` holds a library's bytes (spec names it), or is empty for a sample.
  grpc::Status submit_job(const v1::JobSpec& spec, const std::string& library = "",
                          v1::JobDescription* response = nullptr) {
    v1::JobDescription ignored;
    auto stub = v1::Jobs::NewStub(api().channel());
    auto ctx = api().context(std::chrono::seconds(60));
    auto writer = stub->SubmitJob(ctx.get(), response ? response : &ignored);
    v1::SubmitJobRequest first;
    *first.mutable_spec() = spec;
    writer->Write(first);
    constexpr size_t kChunk = 1 << 20;  // as the CLI sends it: under any request limit
    for (size_t at = 0; at < library.size(); at += kChunk) {
      v1::SubmitJobRequest part;
      part.set_library_chunk(library.substr(at, kChunk));
      if (!writer->Write(part)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  // Every record of `topic` from the beginning to the end, read-committed, in stream order.
  std::vector<v1::FetchedRecord> fetch_all(const std::string& topic,
                                           v1::FetchRequest request = {}) {
    request.set_topic(topic);
    request.set_stop_at_end(true);
    auto ctx = api().context(std::chrono::seconds(60));
    auto reader = api().records().Fetch(ctx.get(), request);
    std::vector<v1::FetchedRecord> out;
    v1::FetchResponse response;
    while (reader->Read(&response)) {
      for (auto& r : *response.mutable_records()) out.push_back(std::move(r));
    }
    grpc::Status s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  sluice::testing::TempDir dir_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<Connection> connection_;
};

inline v1::Record record(std::string key, std::string value, int64_t timestamp_ms = 0) {
  v1::Record r;
  r.set_key(std::move(key));
  r.set_value(std::move(value));
  r.set_timestamp_ms(timestamp_ms);
  return r;
}

}  // namespace sluice::server::testing

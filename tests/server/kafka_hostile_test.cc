// Hostile input on the Kafka port: malformed frames over a raw socket, each answered or the
// connection closed, never the server; memory stays bounded.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zstd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "assert_ok.h"
#include "kafka/listener.h"
#include "kafka/messages.h"
#include "sluice/base/crc32c.h"
#include "sluice/logstore/batch_format.h"
#include "sluice/logstore/log_store.h"
#include "sluice/logstore/record_batch.h"
#include "temp_dir.h"

namespace sluice::server::kafka {
namespace {

using namespace std::chrono_literals;
namespace format = logstore::format;

// One request: the size prefix, header v1 and `body`.
Bytes frame(int16_t api_key, int16_t version, ByteView body, int32_t correlation_id = 7) {
  Bytes out;
  RequestHeader h{api_key, version, correlation_id, std::string("hostile")};
  Bytes header;
  encode(header, 0, h);
  append_be<int32_t>(out, static_cast<int32_t>(header.size() + body.size()));
  out += header;
  out += body;
  return out;
}

template <typename Message>
Bytes request(ApiKey key, int16_t version, Message m) {
  Bytes body;
  encode(body, version, m);
  return frame(static_cast<int16_t>(key), version, body);
}

class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    EXPECT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  ~RawConnection() { close(fd_); }

  void send(ByteView bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;  // the server may close before everything is sent
      sent += static_cast<size_t>(n);
    }
  }

  // The next response body (after its correlation id), or nullopt once the server closed.
  std::optional<Bytes> response(std::chrono::milliseconds timeout = 5s) {
    char size[4];
    if (!read_exactly(size, 4, timeout)) return std::nullopt;
    Bytes body(static_cast<size_t>(load_be<int32_t>(size)), '\0');
    if (!read_exactly(body.data(), body.size(), timeout)) return std::nullopt;
    return body.substr(4);
  }

  // Whether the server closes the connection within `timeout` (reading and dropping anything).
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return true;
    }
    return false;
  }

 private:
  bool read_exactly(char* out, size_t n, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t got = 0;
    while (got < n) {
      pollfd p{fd_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      ssize_t r = recv(fd_, out + got, n - got, 0);
      if (r <= 0) return false;
      got += static_cast<size_t>(r);
    }
    return true;
  }

  int fd_ = -1;
};

int64_t rss_bytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return 0;
}

Bytes valid_batch() {
  logstore::RecordBatchBuilder b;
  b.add(logstore::Record{.key = ByteView("k"), .value = ByteView("v"), .timestamp = Timestamp(1)});
  return b.build().value();
}

void reseal(Bytes& batch) {
  store_be<int32_t>(batch.data() + format::kBatchLengthPos,
                    static_cast<int32_t>(batch.size() - format::kLogOverhead));
  store_be<uint32_t>(batch.data() + format::kCrcPos,
                     crc32c::value(ByteView(batch).substr(format::kAttributesPos)));
}

// A zstd batch of one record whose records section inflates to `inflated` zero bytes.
Bytes compression_bomb(size_t inflated) {
  Bytes batch = valid_batch().substr(0, format::kHeaderSize);
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), &ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, 1);
  const std::string zeros(1 << 20, '\0');
  std::string out(ZSTD_CStreamOutSize(), '\0');
  for (size_t done = 0; done < inflated; done += zeros.size()) {
    const bool last = done + zeros.size() >= inflated;
    ZSTD_inBuffer in{zeros.data(), zeros.size(), 0};
    bool finished = false;
    while (!finished) {
      ZSTD_outBuffer o{out.data(), out.size(), 0};
      size_t left = ZSTD_compressStream2(cctx.get(), &o, &in, last ? ZSTD_e_end : ZSTD_e_continue);
      batch.append(out.data(), o.pos);
      finished = last ? left == 0 : in.pos == in.size;
    }
  }
  store_be<int16_t>(batch.data() + format::kAttributesPos,
                    static_cast<int16_t>(logstore::Compression::kZstd));
  reseal(batch);
  return batch;
}

Bytes produce_of(Bytes batch, int16_t version = 7) {
  ProduceRequest p;
  p.acks = -1;
  p.timeout_ms = 1000;
  p.topics = {{"target", {{0, ByteView(batch)}}}};
  return request(ApiKey::kProduce, version, p);
}

// The first partition's error code in a Produce response.
int16_t produce_error(ByteView body, int16_t version = 7) {
  ProduceResponse r;
  std::string error;
  EXPECT_TRUE(decode(body, version, r, error)) << error;
  if (r.responses.empty() || r.responses[0].partitions.empty()) return -999;
  return r.responses[0].partitions[0].error_code;
}

class KafkaHostileInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    logstore::LogStoreOptions lo;
    lo.data_dir = dir_ / "log";
    auto log = logstore::LogStore::open(lo);
    ASSERT_OK(log.status());
    log_ = std::move(*log);
    logstore::TopicConfig config;
    ASSERT_OK(log_->create_topic("target", config));
    KafkaListenerOptions options;
    options.listen = "127.0.0.1:0";
    options.max_frame_bytes = 8 << 20;
    options.request_timeout_ms = 300;
    options.idle_timeout_ms = 600;
    auto listener = KafkaListener::start(options, *log_);
    ASSERT_OK(listener.status());
    listener_ = std::move(*listener);
  }

  // The server still answers a well-formed request on a new connection.
  void expect_alive() {
    RawConnection c(listener_->port());
    MetadataRequest m;
    m.topics = std::vector<std::string>{"target"};
    c.send(request(ApiKey::kMetadata, 4, m));
    auto body = c.response();
    ASSERT_TRUE(body.has_value()) << "the server stopped answering";
    MetadataResponse r;
    std::string error;
    ASSERT_TRUE(decode(*body, 4, r, error)) << error;
    ASSERT_EQ(r.topics.size(), 1u);
    EXPECT_EQ(r.topics[0].partitions.size(), 1u);
  }

  sluice::testing::TempDir dir_;
  std::unique_ptr<logstore::LogStore> log_;
  std::unique_ptr<KafkaListener> listener_;
};

struct ClosedCase {
  const char* name;
  Bytes bytes;
};

TEST_F(KafkaHostileInputTest, MalformedFramesCloseTheConnectionAndNeverTheServer) {
  Bytes negative, huge, tiny, lying_client_id;
  append_be<int32_t>(negative, -5);
  append_be<int32_t>(huge, 0x7fffffff);  // refused before 2 GiB are allocated
  append_be<int32_t>(tiny, 3);
  tiny += "abc";
  append_be<int32_t>(lying_client_id, 10);
  append_be<int16_t>(lying_client_id, 3);  // Metadata
  append_be<int16_t>(lying_client_id, 1);
  append_be<int32_t>(lying_client_id, 1);
  append_be<int16_t>(lying_client_id, 100);  // a 100-byte client id in a 10-byte frame
  Bytes truncated_array;
  append_be<int32_t>(truncated_array, 5);  // five topics, none there
  Bytes huge_array;
  append_be<int32_t>(huge_array, 1 << 30);
  MetadataRequest valid;
  valid.topics = std::vector<std::string>{"target"};
  Bytes with_garbage;
  encode(with_garbage, 4, valid);
  with_garbage += "garbage after the request";
  const std::vector<ClosedCase> cases = {
      {"negative length", negative},
      {"length above max_frame_bytes", huge},
      {"length below a request header", tiny},
      {"client id longer than the frame", lying_client_id},
      {"unknown API key", frame(999, 0, "")},
      {"unsupported version", frame(static_cast<int16_t>(ApiKey::kMetadata), 99, "")},
      {"version below the advertised range", frame(static_cast<int16_t>(ApiKey::kFetch), 0, "")},
      {"truncated body", frame(static_cast<int16_t>(ApiKey::kMetadata), 1, truncated_array)},
      {"array count of a billion",
       frame(static_cast<int16_t>(ApiKey::kDeleteTopics), 0, huge_array)},
      {"garbage after a valid request",
       frame(static_cast<int16_t>(ApiKey::kMetadata), 4, with_garbage)},
  };
  for (const ClosedCase& c : cases) {
    SCOPED_TRACE(c.name);
    RawConnection conn(listener_->port());
    conn.send(c.bytes);
    EXPECT_TRUE(conn.closed_within(3s));
    expect_alive();
  }
}

TEST_F(KafkaHostileInputTest, BadBatchesAreAnsweredWithAnErrorAndStoreNothing) {
  Bytes bad_crc = valid_batch();
  bad_crc[bad_crc.size() - 1] ^= 0x20;
  Bytes short_length = valid_batch();
  store_be<int32_t>(short_length.data() + format::kBatchLengthPos, 1 << 20);  // past the bytes
  Bytes two_batches = valid_batch() + valid_batch();
  Bytes bad_record = valid_batch();
  bad_record[format::kHeaderSize] = 0x7f;  // the record's length runs past the batch
  reseal(bad_record);
  struct Case {
    const char* name;
    Bytes batch;
  };
  const int64_t rss_before = rss_bytes();
  for (const Case& c :
       {Case{"bad CRC", bad_crc}, Case{"length past the bytes", short_length},
        Case{"two batches in one partition", two_batches}, Case{"malformed record", bad_record},
        Case{"compression bomb (300 MiB of zeros)", compression_bomb(300u << 20)}}) {
    SCOPED_TRACE(c.name);
    RawConnection conn(listener_->port());
    conn.send(produce_of(c.batch));
    auto body = conn.response(30s);
    ASSERT_TRUE(body.has_value());
    const int16_t e = produce_error(*body);
    EXPECT_TRUE(e == code(ErrorCode::kCorruptMessage) || e == code(ErrorCode::kInvalidRequest))
        << e;
  }
  // Decompression stops at the batch limit: memory grows by at most that, not 300 MiB per
  // bomb nor without bound.
  EXPECT_LT(rss_bytes() - rss_before, 600ll << 20);
  auto ends = log_->partition_ends({"target", PartitionId(0)});
  ASSERT_OK(ends.status());
  EXPECT_EQ(ends->written.offset(), Offset(0)) << "a refused batch was stored";
  // A good one after them all is stored.
  RawConnection conn(listener_->port());
  conn.send(produce_of(valid_batch()));
  auto body = conn.response();
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(produce_error(*body), 0);
}

TEST_F(KafkaHostileInputTest, VersionsAdvertisedButNotServedAreAnsweredWithUnsupportedVersion) {
  {
    // librdkafka's first probe: ApiVersions v3 (a flexible header). The answer is a v0 body.
    RawConnection conn(listener_->port());
    conn.send(frame(static_cast<int16_t>(ApiKey::kApiVersions), 3, "\0\0\0"));
    auto body = conn.response();
    ASSERT_TRUE(body.has_value());
    ApiVersionsResponse r;
    std::string error;
    ASSERT_TRUE(decode(*body, 0, r, error)) << error;
    EXPECT_EQ(r.error_code, code(ErrorCode::kUnsupportedVersion));
    EXPECT_EQ(r.api_keys.size(), supported_apis().size());
  }
  {
    // Produce v1 (message format 1) is advertised, for librdkafka's codec check, not served.
    RawConnection conn(listener_->port());
    conn.send(produce_of(valid_batch(), 1));
    auto body = conn.response();
    ASSERT_TRUE(body.has_value());
    EXPECT_EQ(produce_error(*body, 1), code(ErrorCode::kUnsupportedVersion));
  }
  expect_alive();
}

TEST_F(KafkaHostileInputTest, SlowAndIdleConnectionsTimeOut) {
  RawConnection slow(listener_->port());
  Bytes partial;
  append_be<int32_t>(partial, 100);
  partial += "only ten b";
  slow.send(partial);
  RawConnection idle(listener_->port());
  EXPECT_TRUE(slow.closed_within(3s));
  EXPECT_TRUE(idle.closed_within(3s));
  expect_alive();
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (listener_->connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(listener_->connections(), 0);
}

TEST_F(KafkaHostileInputTest, RequestsOfAllConnectionsShareOneMemoryBudget) {
  listener_->stop();
  KafkaListenerOptions options;
  options.listen = "127.0.0.1:0";
  options.request_timeout_ms = 500;
  options.max_request_memory_bytes = 1 << 20;
  auto listener = KafkaListener::start(options, *log_);
  ASSERT_OK(listener.status());
  listener_ = std::move(*listener);
  // A stalled 900 KB frame holds most of the budget...
  RawConnection hog(listener_->port());
  Bytes partial;
  append_be<int32_t>(partial, 900'000);
  partial += "ten bytes.";
  hog.send(partial);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(listener_->request_memory_bytes(), 900'000);
  // ...so a 200 KB produce waits for room, gets it when the stalled one times out, and is
  // stored.
  logstore::RecordBatchBuilder b;
  const std::string value(200'000, 'v');
  b.add(logstore::Record{.value = ByteView(value), .timestamp = Timestamp(1)});
  RawConnection producer(listener_->port());
  producer.send(produce_of(b.build().value()));
  auto body = producer.response(5s);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(produce_error(*body), 0);
  EXPECT_TRUE(hog.closed_within(3s));
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (listener_->request_memory_bytes() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(listener_->request_memory_bytes(), 0);
}

TEST_F(KafkaHostileInputTest, RandomBytesInEveryApiNeverCrashTheServer) {
  std::mt19937 rng(2026);
  for (int i = 0; i < 400; ++i) {
    const ApiSupport& api = supported_apis()[rng() % supported_apis().size()];
    Bytes body(rng() % 64, '\0');
    for (char& c : body) c = static_cast<char>(rng() % 3 == 0 ? 0 : rng());
    const int16_t version = static_cast<int16_t>(
        api.min_advertised +
        static_cast<int16_t>(rng() % (api.max_advertised - api.min_advertised + 1)));
    RawConnection conn(listener_->port());
    conn.send(frame(static_cast<int16_t>(api.key), version, body));
    // Answered or closed, within the request timeout either way.
    auto answered = conn.response(3s);
    (void)answered;
  }
  expect_alive();
}

}  // namespace
}  // namespace sluice::server::kafka

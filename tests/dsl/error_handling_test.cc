// What happens to records a serde cannot decode and to operators that throw, under each policy.
#include <stdexcept>

#include "test_util.h"

namespace sluice::dsl {
namespace {

using testing::driver_for;
using testing::read;
using Longs = std::vector<TestRecord<std::string, int64_t>>;

// A stream of int64 values: an 8-byte value decodes, anything else does not.
void build(TopologyBuilder& b, ErrorHandling errors) {
  b.on_errors(std::move(errors));
  b.stream<std::string, int64_t>("in")
      .map_values([](const int64_t& v) {
        if (v == 13) throw std::runtime_error("unlucky value");
        return v * 2;
      })
      .to("out");
}

Status pipe_bytes(TopologyTestDriver& d, const std::string& key, const std::string& value,
                  int64_t ts) {
  return d.pipe_raw("in", ByteView(key), ByteView(value), Timestamp(ts));
}

Bytes long_bytes(int64_t v) {
  Bytes out;
  operators::Serde<int64_t>::serialize(v, out);
  return out;
}

TEST(ErrorHandlingTest, FailPolicyStopsAtAnUndecodableRecordWithAnErrorNamingIt) {
  TopologyBuilder b;
  build(b, {});
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  Status s = pipe_bytes(*d, "k", "not eight bytes", 1);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("in/0@0"), std::string::npos) << s.to_string();
  EXPECT_NE(s.message().find("decoding the value"), std::string::npos) << s.to_string();
}

TEST(ErrorHandlingTest, SkipPolicyCountsUndecodableRecordsAndKeepsProcessing) {
  TopologyBuilder b;
  build(b, {.on_deserialization_error = ErrorPolicy::kSkip});
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  ASSERT_OK(pipe_bytes(*d, "k", "garbage", 1));
  ASSERT_OK(pipe_bytes(*d, "k", long_bytes(21), 2));
  ASSERT_OK(pipe_bytes(*d, "k", "", 3));
  ASSERT_OK(pipe_bytes(*d, "k", long_bytes(4), 4));
  auto out = d->output_topic<std::string, int64_t>("out");
  EXPECT_EQ(read(out), (Longs{{"k", 42, Timestamp(2)}, {"k", 8, Timestamp(4)}}));
  EXPECT_EQ(d->metrics().records_skipped, 2);
}

TEST(ErrorHandlingTest, DeadLetterPolicySendsTheOriginalBytesWithTheErrorInHeaders) {
  TopologyBuilder b;
  build(b, {.on_deserialization_error = ErrorPolicy::kDeadLetter,
            .on_processing_error = ErrorPolicy::kDeadLetter,
            .dead_letter_topic = "dlq"});
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  ASSERT_OK(pipe_bytes(*d, "bad", "garbage", 1));
  ASSERT_OK(pipe_bytes(*d, "throws", long_bytes(13), 2));
  ASSERT_OK(pipe_bytes(*d, "good", long_bytes(5), 3));
  auto out = d->output_topic<std::string, int64_t>("out");
  EXPECT_EQ(read(out), (Longs{{"good", 10, Timestamp(3)}}));
  auto dlq = d->read_topic("dlq", PartitionId(0));
  ASSERT_TRUE(dlq.ok()) << dlq.status().to_string();
  ASSERT_EQ(dlq->size(), 2u);
  auto header = [](const TopologyTestDriver::StoredRecord& r, const std::string& key) {
    for (const auto& [k, v] : r.headers) {
      if (k == key) return v.value_or("");
    }
    return std::string("<missing>");
  };
  EXPECT_EQ((*dlq)[0].key, "bad");
  EXPECT_EQ((*dlq)[0].value, "garbage");
  EXPECT_EQ(header((*dlq)[0], "sluice.error.stage"), "deserialize");
  EXPECT_EQ(header((*dlq)[0], "sluice.error.topic"), "in");
  EXPECT_EQ(header((*dlq)[0], "sluice.error.offset"), "0");
  EXPECT_EQ((*dlq)[1].value, long_bytes(13));
  EXPECT_EQ(header((*dlq)[1], "sluice.error.stage"), "process");
  EXPECT_NE(header((*dlq)[1], "sluice.error.message").find("unlucky value"), std::string::npos);
  EXPECT_EQ(d->metrics().records_dead_lettered, 2);
}

TEST(ErrorHandlingTest, SkipPolicyForProcessingErrorsSkipsRecordsWhoseOperatorThrows) {
  TopologyBuilder b;
  build(b, {.on_processing_error = ErrorPolicy::kSkip});
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  auto in = d->input_topic<std::string, int64_t>("in");
  ASSERT_OK(in.pipe("k", 13, Timestamp(1)));
  ASSERT_OK(in.pipe("k", 1, Timestamp(2)));
  auto out = d->output_topic<std::string, int64_t>("out");
  EXPECT_EQ(read(out), (Longs{{"k", 2, Timestamp(2)}}));
  EXPECT_EQ(d->metrics().records_skipped, 1);
}

TEST(ErrorHandlingTest, FailPolicyForProcessingErrorsStopsWithTheExceptionsMessage) {
  TopologyBuilder b;
  build(b, {});
  auto d = driver_for(b);
  ASSERT_TRUE(d);
  Status s = d->input_topic<std::string, int64_t>("in").pipe("k", 13, Timestamp(1));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unlucky value"), std::string::npos) << s.to_string();
}

TEST(ErrorHandlingTest, DeadLetterPolicyWithoutATopicIsRejectedAtBuild) {
  TopologyBuilder b;
  build(b, {.on_deserialization_error = ErrorPolicy::kDeadLetter});
  auto t = b.build();
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("dead_letter_topic"), std::string::npos);
}

}  // namespace
}  // namespace sluice::dsl

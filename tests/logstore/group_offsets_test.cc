// Consumer group offsets: plain commits, offsets committed inside transactions, their life
// across reopen, and the records in __consumer_offsets, which use Kafka's own layouts.
#include "group_offsets.h"

#include <gtest/gtest.h>

#include "sluice/logstore/log_store.h"
#include "store_test_fixture.h"

namespace sluice::logstore {
namespace {

using testing::is_error;
using testing::RecordSet;

CommittedOffset at(int64_t offset, std::string metadata = "", Timestamp when = Timestamp(1000)) {
  return {Offset(offset), std::move(metadata), when};
}

// Big-endian bytes, for writing Kafka's layouts out by hand.
Bytes be16(int16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)}; }
Bytes be32(int32_t v) {
  Bytes out;
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
  return out;
}
Bytes be64(int64_t v) {
  Bytes out;
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
  return out;
}
Bytes kafka_string(std::string_view s) {
  return be16(static_cast<int16_t>(s.size())) + std::string(s);
}

class GroupOffsetsTest : public testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    create("in", {.partitions = 3});
    create("out");
  }

  std::optional<CommittedOffset> committed(std::string_view group, const TopicPartition& where) {
    auto c = store_->committed_offset(group, where);
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    return c.ok() ? *c : std::nullopt;
  }

  OffsetMap all(std::string_view group) {
    auto m = store_->group_offsets(group);
    EXPECT_TRUE(m.ok()) << m.status().to_string();
    return m.ok() ? *m : OffsetMap{};
  }

  std::unique_ptr<Producer> producer(const std::string& transactional_id) {
    auto made = store_->create_producer({.transactional_id = transactional_id});
    EXPECT_TRUE(made.ok()) << made.status().to_string();
    return made.ok() ? std::move(made).value() : nullptr;
  }

  // Every record of every __consumer_offsets partition, read uncommitted, by partition.
  std::map<int, std::vector<testing::ReadRecord>> offsets_topic_records() {
    std::map<int, std::vector<testing::ReadRecord>> out;
    for (int p = 0; p < options_.offsets_topic_partitions; ++p) {
      auto records = testing::read_all(*store_, tp(std::string(kConsumerOffsetsTopic), p),
                                       IsolationLevel::kReadUncommitted);
      EXPECT_TRUE(records.ok()) << records.status().to_string();
      if (records.ok() && !records->empty()) out[p] = *records;
    }
    return out;
  }
};

// --- plain commits ---

TEST_F(GroupOffsetsTest, CommittedOffsetIsReturnedForItsGroupAndPartitionOnly) {
  SLUICE_ASSERT_OK(store_->commit_offsets("g", {{tp("in", 1), at(42, "meta", Timestamp(7))}}));

  EXPECT_EQ(committed("g", tp("in", 1)), std::optional(at(42, "meta", Timestamp(7))));
  EXPECT_EQ(committed("g", tp("in", 0)), std::nullopt);
  EXPECT_EQ(committed("g", tp("out")), std::nullopt);
  EXPECT_EQ(committed("other", tp("in", 1)), std::nullopt);
}

TEST_F(GroupOffsetsTest, LaterCommitOverwritesTheEarlierOneAndLeavesOtherPartitionsAlone) {
  SLUICE_ASSERT_OK(store_->commit_offsets("g", {{tp("in", 0), at(5)}, {tp("in", 1), at(6)}}));
  SLUICE_ASSERT_OK(store_->commit_offsets("g", {{tp("in", 0), at(9, "later")}}));

  EXPECT_EQ(all("g"), (OffsetMap{{tp("in", 0), at(9, "later")}, {tp("in", 1), at(6)}}));
}

TEST_F(GroupOffsetsTest, GroupsKeepTheirOwnOffsetsAndAreListed) {
  SLUICE_ASSERT_OK(store_->commit_offsets("orders-app", {{tp("in", 0), at(1)}}));
  SLUICE_ASSERT_OK(store_->commit_offsets("analytics", {{tp("in", 0), at(2)}}));
  SLUICE_ASSERT_OK(store_->commit_offsets("group-a", {{tp("out"), at(3)}}));

  EXPECT_EQ(committed("orders-app", tp("in", 0)), std::optional(at(1)));
  EXPECT_EQ(committed("analytics", tp("in", 0)), std::optional(at(2)));
  EXPECT_EQ(all("group-a"), (OffsetMap{{tp("out"), at(3)}}));
  EXPECT_EQ(store_->list_groups(),
            (std::vector<std::string>{"analytics", "group-a", "orders-app"}));
  EXPECT_TRUE(all("nobody").empty());
}

TEST_F(GroupOffsetsTest, CommittedOffsetsSurviveReopen) {
  SLUICE_ASSERT_OK(store_->commit_offsets("g", {{tp("in", 0), at(5)}, {tp("in", 2), at(8)}}));
  SLUICE_ASSERT_OK(store_->commit_offsets("g", {{tp("in", 0), at(6, "m")}}));
  SLUICE_ASSERT_OK(store_->commit_offsets("h", {{tp("out"), at(1)}}));
  close();
  ASSERT_NO_FATAL_FAILURE(open());

  EXPECT_EQ(all("g"), (OffsetMap{{tp("in", 0), at(6, "m")}, {tp("in", 2), at(8)}}));
  EXPECT_EQ(all("h"), (OffsetMap{{tp("out"), at(1)}}));
  EXPECT_EQ(store_->list_groups(), (std::vector<std::string>{"g", "h"}));
}

TEST_F(GroupOffsetsTest, CommitForAnUnknownTopicOrPartitionIsNotFoundAndStoresNothing) {
  EXPECT_TRUE(is_error(store_->commit_offsets("g", {{tp("nope"), at(1)}}), StatusCode::kNotFound,
                       {"nope"}));
  EXPECT_TRUE(is_error(store_->commit_offsets("g", {{tp("in", 0), at(1)}, {tp("in", 3), at(1)}}),
                       StatusCode::kNotFound, {"no partition 3"}));
  EXPECT_TRUE(store_->list_groups().empty());
  EXPECT_TRUE(offsets_topic_records().empty());

  auto p = producer("tx");
  SLUICE_ASSERT_OK(p->begin_transaction());
  EXPECT_TRUE(
      is_error(p->send_offsets_to_transaction("g", {{tp("nope"), at(1)}}), StatusCode::kNotFound));
}

TEST_F(GroupOffsetsTest, CommitWithAnEmptyGroupOrOversizedMetadataIsRefused) {
  EXPECT_TRUE(is_error(store_->commit_offsets("", {{tp("in", 0), at(1)}}),
                       StatusCode::kInvalidArgument, {"group"}));
  // Kafka strings carry an int16 length.
  EXPECT_TRUE(
      is_error(store_->commit_offsets("g", {{tp("in", 0), at(1, std::string(40'000, 'm'))}}),
               StatusCode::kInvalidArgument, {"metadata", "in/0"}));
  SLUICE_EXPECT_OK(store_->commit_offsets("g", {{tp("in", 0), at(1, std::string(32'767, 'm'))}}));
  close();
  ASSERT_NO_FATAL_FAILURE(open());
  EXPECT_EQ(committed("g", tp("in", 0)), std::optional(at(1, std::string(32'767, 'm'))));
}

// --- offsets in transactions ---

TEST_F(GroupOffsetsTest, OffsetsSentToATransactionApplyWhenItCommits) {
  SLUICE_ASSERT_OK(store_->commit_offsets("g", {{tp("in", 0), at(3)}}));
  auto p = producer("tx");
  SLUICE_ASSERT_OK(p->begin_transaction());
  ASSERT_TRUE(p->append(tp("out"), RecordSet::numbered(0, 1).records()).ok());
  SLUICE_ASSERT_OK(
      p->send_offsets_to_transaction("g", {{tp("in", 0), at(10)}, {tp("in", 1), at(20)}}));
  EXPECT_EQ(all("g"), (OffsetMap{{tp("in", 0), at(3)}}));

  SLUICE_ASSERT_OK(p->commit_transaction());
  const OffsetMap expected{{tp("in", 0), at(10)}, {tp("in", 1), at(20)}};
  EXPECT_EQ(all("g"), expected);

  p.reset();
  close();
  ASSERT_NO_FATAL_FAILURE(open());
  EXPECT_EQ(all("g"), expected);
}

TEST_F(GroupOffsetsTest, OffsetsSentToATransactionAreDiscardedWhenItAborts) {
  SLUICE_ASSERT_OK(store_->commit_offsets("g", {{tp("in", 0), at(3)}}));
  auto p = producer("tx");
  SLUICE_ASSERT_OK(p->begin_transaction());
  SLUICE_ASSERT_OK(p->send_offsets_to_transaction("g", {{tp("in", 0), at(10)}}));
  SLUICE_ASSERT_OK(p->abort_transaction());
  EXPECT_EQ(all("g"), (OffsetMap{{tp("in", 0), at(3)}}));

  // The next transaction's offsets are unaffected by the aborted ones.
  SLUICE_ASSERT_OK(p->begin_transaction());
  SLUICE_ASSERT_OK(p->send_offsets_to_transaction("g", {{tp("in", 1), at(7)}}));
  SLUICE_ASSERT_OK(p->commit_transaction());
  const OffsetMap expected{{tp("in", 0), at(3)}, {tp("in", 1), at(7)}};
  EXPECT_EQ(all("g"), expected);

  p.reset();
  close();
  ASSERT_NO_FATAL_FAILURE(open());
  EXPECT_EQ(all("g"), expected);
}

TEST_F(GroupOffsetsTest, OffsetsOfATransactionOpenAtCloseAreDiscardedOnReopen) {
  SLUICE_ASSERT_OK(store_->commit_offsets("g", {{tp("in", 0), at(3)}}));
  auto p = producer("tx");
  SLUICE_ASSERT_OK(p->begin_transaction());
  SLUICE_ASSERT_OK(p->send_offsets_to_transaction("g", {{tp("in", 0), at(10)}}));
  p.reset();
  close();
  ASSERT_NO_FATAL_FAILURE(open());

  EXPECT_EQ(report_.transactions_aborted, 1);
  EXPECT_EQ(all("g"), (OffsetMap{{tp("in", 0), at(3)}}));
  close();
  ASSERT_NO_FATAL_FAILURE(open());
  EXPECT_EQ(all("g"), (OffsetMap{{tp("in", 0), at(3)}}));
}

TEST_F(GroupOffsetsTest, OffsetsOfSeveralGroupsInOneTransactionApplyTogether) {
  auto p = producer("tx");
  SLUICE_ASSERT_OK(p->begin_transaction());
  SLUICE_ASSERT_OK(p->send_offsets_to_transaction("orders-app", {{tp("in", 0), at(1)}}));
  SLUICE_ASSERT_OK(p->send_offsets_to_transaction("group-a", {{tp("in", 0), at(2)}}));
  EXPECT_TRUE(store_->list_groups().empty());
  // The two groups live in different partitions of __consumer_offsets.
  EXPECT_EQ(offsets_topic_records().size(), 2u);
  SLUICE_ASSERT_OK(p->commit_transaction());

  EXPECT_EQ(committed("orders-app", tp("in", 0)), std::optional(at(1)));
  EXPECT_EQ(committed("group-a", tp("in", 0)), std::optional(at(2)));
  p.reset();
  close();
  ASSERT_NO_FATAL_FAILURE(open());
  EXPECT_EQ(committed("orders-app", tp("in", 0)), std::optional(at(1)));
  EXPECT_EQ(committed("group-a", tp("in", 0)), std::optional(at(2)));
}

TEST_F(GroupOffsetsTest, LaterPlainCommitWinsOverAnEarlierTransactionalOneThatCommitsAfterIt) {
  auto p = producer("tx");
  SLUICE_ASSERT_OK(p->begin_transaction());
  SLUICE_ASSERT_OK(p->send_offsets_to_transaction("g", {{tp("in", 0), at(10)}}));
  SLUICE_ASSERT_OK(store_->commit_offsets("g", {{tp("in", 0), at(20)}, {tp("in", 1), at(5)}}));
  SLUICE_ASSERT_OK(p->commit_transaction());

  // As in Kafka: the record written last wins, however late its transaction commits; and
  // reading the log back gives the same answer as before.
  const OffsetMap expected{{tp("in", 0), at(20)}, {tp("in", 1), at(5)}};
  EXPECT_EQ(all("g"), expected);
  p.reset();
  close();
  ASSERT_NO_FATAL_FAILURE(open());
  EXPECT_EQ(all("g"), expected);
}

TEST_F(GroupOffsetsTest, FencedProducerCannotSendOffsets) {
  auto old = producer("tx");
  SLUICE_ASSERT_OK(old->begin_transaction());
  auto fresh = producer("tx");
  EXPECT_TRUE(is_error(old->send_offsets_to_transaction("g", {{tp("in", 0), at(1)}}),
                       StatusCode::kProducerFenced));
  EXPECT_TRUE(store_->list_groups().empty());
}

// --- the stored records ---

TEST_F(GroupOffsetsTest, StoredRecordUsesKafkasOffsetCommitKeyV1AndValueV3) {
  SLUICE_ASSERT_OK(store_->commit_offsets(
      "orders-app", {{tp("in", 2), at(1234, "meta", Timestamp(1'700'000'000'123))}}));

  // Kafka's partitionFor: abs("orders-app".hashCode()) % 4 = 772757305 % 4 = 1.
  EXPECT_EQ(GroupOffsets::java_hash("orders-app"), 772757305);
  auto stored = offsets_topic_records();
  ASSERT_EQ(stored.size(), 1u);
  ASSERT_EQ(stored.begin()->first, 1);
  ASSERT_EQ(stored[1].size(), 1u);
  const testing::ReadRecord& r = stored[1][0];
  ASSERT_TRUE(r.key && r.value);

  // Key v1: version | group | topic | partition. Value v3: version | offset | leader epoch
  // (-1: unknown) | metadata | commit timestamp.
  const Bytes key = be16(1) + kafka_string("orders-app") + kafka_string("in") + be32(2);
  const Bytes value =
      be16(3) + be64(1234) + be32(-1) + kafka_string("meta") + be64(1'700'000'000'123);
  EXPECT_EQ(*r.key, key);
  EXPECT_EQ(*r.value, value);

  auto decoded_key = decode_offset_key(*r.key);
  ASSERT_TRUE(decoded_key.ok()) << decoded_key.status().to_string();
  ASSERT_TRUE(decoded_key->has_value());
  EXPECT_EQ((*decoded_key)->first, "orders-app");
  EXPECT_EQ((*decoded_key)->second, tp("in", 2));
  auto decoded_value = decode_offset_value(*r.value);
  ASSERT_TRUE(decoded_value.ok()) << decoded_value.status().to_string();
  EXPECT_EQ(*decoded_value, at(1234, "meta", Timestamp(1'700'000'000'123)));
}

TEST_F(GroupOffsetsTest, DecodingSkipsGroupMetadataKeysAndRefusesMalformedRecords) {
  // Key version 2 is Kafka's GroupMetadataKey: not an offset commit.
  auto metadata_key = decode_offset_key(be16(2) + kafka_string("g"));
  ASSERT_TRUE(metadata_key.ok());
  EXPECT_FALSE(metadata_key->has_value());
  // Version 0 keys have the same layout as version 1.
  auto v0 = decode_offset_key(be16(0) + kafka_string("g") + kafka_string("t") + be32(1));
  ASSERT_TRUE(v0.ok() && v0->has_value());
  EXPECT_EQ((*v0)->second, tp("t", 1));

  EXPECT_TRUE(is_error(decode_offset_key(Bytes(1, '\0')).status(), StatusCode::kCorruption));
  EXPECT_TRUE(is_error(decode_offset_key(be16(1) + kafka_string("g") + be16(5) + "ab").status(),
                       StatusCode::kCorruption));
  const Bytes value = be16(3) + be64(1) + be32(-1) + kafka_string("") + be64(5);
  EXPECT_TRUE(decode_offset_value(value).ok());
  EXPECT_TRUE(is_error(decode_offset_value(value.substr(0, value.size() - 1)).status(),
                       StatusCode::kCorruption));
  EXPECT_TRUE(
      is_error(decode_offset_value(be16(9) + value.substr(2)).status(), StatusCode::kCorruption));
}

class GroupOffsetsPlacementTest : public GroupOffsetsTest {
 protected:
  void SetUp() override {
    options_.offsets_topic_partitions = 3;
    GroupOffsetsTest::SetUp();
  }
};

TEST_F(GroupOffsetsPlacementTest, GroupWhoseHashIsInt32MinGoesToPartitionZeroAsInKafka) {
  // Kafka places a group with Utils.abs(hashCode) % partitions, and Utils.abs(INT32_MIN) is 0
  // (where 2^31 % 3 would be 2).
  ASSERT_EQ(GroupOffsets::java_hash("polygenelubricants"), INT32_MIN);
  SLUICE_ASSERT_OK(store_->commit_offsets("polygenelubricants", {{tp("in"), at(1)}}));
  auto stored = offsets_topic_records();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored.begin()->first, 0);
  close();
  ASSERT_NO_FATAL_FAILURE(open());
  EXPECT_EQ(committed("polygenelubricants", tp("in")), std::optional(at(1)));
}

}  // namespace
}  // namespace sluice::logstore

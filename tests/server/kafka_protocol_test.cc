// The Kafka protocol's pieces on their own: the field tables (one definition read and written),
// the decoder's refusal of lying input, and the classic group protocol's state machine driven
// with explicit times.
#include <gtest/gtest.h>

#include <deque>
#include <set>
#include <string>
#include <vector>

#include "kafka/api.h"
#include "kafka/group_coordinator.h"
#include "kafka/messages.h"

namespace sluice::server::kafka {
namespace {

// Encodes and decodes `m`. Decoded byte fields view the wire bytes, which are kept for the
// rest of the test program.
template <typename Message>
Message round_trip(int16_t version, Message m) {
  static std::deque<Bytes> wires;
  Bytes& wire = wires.emplace_back();
  encode(wire, version, m);
  Message back;
  std::string error;
  EXPECT_TRUE(decode(wire, version, back, error)) << error;
  return back;
}

TEST(KafkaMessagesTest, ProduceRequestCarriesTransactionalIdFromVersionThree) {
  ProduceRequest r;
  r.transactional_id = "tx";
  r.acks = -1;
  r.timeout_ms = 1500;
  r.topics = {{"t", {{3, ByteView("batch-bytes")}, {4, std::nullopt}}}};
  ProduceRequest v3 = round_trip(3, r);
  EXPECT_EQ(v3.transactional_id, "tx");
  ASSERT_EQ(v3.topics.size(), 1u);
  EXPECT_EQ(v3.topics[0].partitions[0].index, 3);
  EXPECT_EQ(v3.topics[0].partitions[0].records, ByteView("batch-bytes"));
  EXPECT_EQ(v3.topics[0].partitions[1].records, std::nullopt);
  EXPECT_EQ(round_trip(2, r).transactional_id, std::nullopt);  // not on the wire before v3
  Bytes v2, v7;
  encode(v2, 2, r);
  encode(v7, 7, r);
  EXPECT_EQ(v7.size(), v2.size() + 2 + 2);  // int16 length + "tx"
}

TEST(KafkaMessagesTest, FetchResponseFieldsAppearWithTheirVersions) {
  FetchResponse r;
  r.session_id = 0;
  FetchResponse::Partition p;
  p.partition_index = 1;
  p.high_watermark = 10;
  p.last_stable_offset = 8;
  p.log_start_offset = 2;
  p.aborted_transactions = std::vector<FetchResponse::AbortedTransaction>{{7, 3}};
  p.preferred_read_replica = -1;
  p.records = ByteView("xyz");
  r.responses = {{"t", {p}}};
  for (int16_t v : {4, 5, 7, 11}) {
    FetchResponse back = round_trip(v, r);
    const FetchResponse::Partition& q = back.responses[0].partitions[0];
    EXPECT_EQ(q.high_watermark, 10) << v;
    EXPECT_EQ(q.last_stable_offset, 8) << v;
    EXPECT_EQ(q.log_start_offset, v >= 5 ? 2 : -1) << v;
    ASSERT_TRUE(q.aborted_transactions.has_value()) << v;
    EXPECT_EQ(q.aborted_transactions->at(0).producer_id, 7);
    EXPECT_EQ(q.records, ByteView("xyz"));
  }
}

TEST(KafkaMessagesTest, MetadataRequestTopicsAreNullableFromVersionOne) {
  MetadataRequest all;
  all.topics = std::nullopt;
  EXPECT_EQ(round_trip(1, all).topics, std::nullopt);
  MetadataRequest some;
  some.topics = std::vector<std::string>{"a", "b"};
  some.allow_auto_topic_creation = false;
  MetadataRequest back = round_trip(4, some);
  EXPECT_EQ(back.topics, some.topics);
  EXPECT_FALSE(back.allow_auto_topic_creation);
  EXPECT_TRUE(round_trip(3, some).allow_auto_topic_creation);  // v4+ only
}

TEST(KafkaMessagesTest, OffsetCommitRetentionTimeOnlyInVersionsTwoToFour) {
  OffsetCommitRequest r;
  r.group_id = "g";
  r.generation_id = 3;
  r.member_id = "m";
  r.retention_time_ms = 99;
  r.topics = {{"t", {{0, 42, 5, "meta"}}}};
  EXPECT_EQ(round_trip(2, r).retention_time_ms, 99);
  EXPECT_EQ(round_trip(5, r).retention_time_ms, -1);
  EXPECT_EQ(round_trip(6, r).topics[0].partitions[0].committed_leader_epoch, 5);
  EXPECT_EQ(round_trip(5, r).topics[0].partitions[0].committed_leader_epoch, -1);
  EXPECT_EQ(round_trip(7, r).topics[0].partitions[0].committed_metadata, "meta");
}

TEST(KafkaMessagesTest, ListOffsetsVersionZeroAnswersWithAnOffsetArray) {
  ListOffsetsResponse r;
  ListOffsetsResponse::Partition p;
  p.old_style_offsets = {17};
  p.offset = 17;
  p.timestamp = 5;
  r.topics = {{"t", {p}}};
  EXPECT_EQ(round_trip(0, r).topics[0].partitions[0].old_style_offsets, std::vector<int64_t>{17});
  ListOffsetsResponse v1 = round_trip(1, r);
  EXPECT_EQ(v1.topics[0].partitions[0].offset, 17);
  EXPECT_TRUE(v1.topics[0].partitions[0].old_style_offsets.empty());
}

TEST(KafkaDecoderTest, ArrayCountLargerThanTheInputIsRefusedBeforeAllocating) {
  Bytes wire;
  append_be<int32_t>(wire, 0x7fffffff);  // a billion topics in 4 bytes
  DeleteTopicsRequest r;
  std::string error;
  EXPECT_FALSE(decode(wire, 0, r, error));
  EXPECT_NE(error.find("array runs past"), std::string::npos) << error;
}

TEST(KafkaDecoderTest, MalformedPrimitivesAreErrorsNotCrashes) {
  std::string error;
  {
    Bytes wire;
    append_be<int16_t>(wire, -7);  // a string length below -1
    FindCoordinatorRequest r;
    EXPECT_FALSE(decode(wire, 0, r, error));
  }
  {
    Bytes wire;
    append_be<int16_t>(wire, 100);  // a string longer than what follows
    wire += "short";
    FindCoordinatorRequest r;
    EXPECT_FALSE(decode(wire, 0, r, error));
  }
  {
    Bytes wire;
    append_be<int16_t>(wire, -1);  // null where a string is required
    FindCoordinatorRequest r;
    EXPECT_FALSE(decode(wire, 0, r, error));
    EXPECT_NE(error.find("null string"), std::string::npos);
  }
  {
    FindCoordinatorRequest ok;
    ok.key = "g";
    Bytes wire;
    encode(wire, 1, ok);
    wire += "trailing";
    FindCoordinatorRequest r;
    EXPECT_FALSE(decode(wire, 1, r, error));
    EXPECT_NE(error.find("bytes follow"), std::string::npos);
  }
  for (size_t cut = 0; cut < 12; ++cut) {  // every truncation of a request
    JoinGroupRequest j;
    j.group_id = "g";
    j.protocol_type = "consumer";
    j.protocols = {{"range", ByteView("meta")}};
    Bytes wire;
    encode(wire, 5, j);
    JoinGroupRequest r;
    EXPECT_FALSE(decode(ByteView(wire).substr(0, wire.size() - 1 - cut), 5, r, error)) << cut;
  }
}

TEST(KafkaApiTest, StatusesMapToTheErrorsKafkaClientsActOn) {
  EXPECT_EQ(error_for(Status()), ErrorCode::kNone);
  EXPECT_EQ(error_for(not_found("t")), ErrorCode::kUnknownTopicOrPartition);
  EXPECT_EQ(error_for(out_of_range("o")), ErrorCode::kOffsetOutOfRange);
  EXPECT_EQ(error_for(corruption("c")), ErrorCode::kCorruptMessage);
  EXPECT_EQ(error_for(Status(StatusCode::kProducerFenced, "f")), ErrorCode::kInvalidProducerEpoch);
  EXPECT_EQ(error_for(Status(StatusCode::kOutOfOrderSequence, "s")),
            ErrorCode::kOutOfOrderSequenceNumber);
  EXPECT_EQ(error_for(Status(StatusCode::kNoSpace, "d")), ErrorCode::kKafkaStorageError);
  // Every API advertised is found by its key; FindCoordinator includes v0 (librdkafka needs it).
  for (const ApiSupport& api : supported_apis()) {
    EXPECT_EQ(find_api(static_cast<int16_t>(api.key)), &api);
  }
  EXPECT_EQ(find_api(static_cast<int16_t>(ApiKey::kFindCoordinator))->min_advertised, 0);
  EXPECT_EQ(find_api(999), nullptr);
}

// --- The classic group protocol ---

JoinArgs member(const std::string& id, const std::string& metadata = "m") {
  JoinArgs a;
  a.group_id = "g";
  a.member_id = id;
  a.client_id = "client";
  a.client_host = "/127.0.0.1";
  a.session_timeout_ms = 10'000;
  a.rebalance_timeout_ms = 30'000;
  a.protocol_type = "consumer";
  a.protocols = {{"range", metadata}, {"roundrobin", metadata}};
  return a;
}

class GroupCoordinatorTest : public ::testing::Test {
 protected:
  GroupCoordinator groups_{GroupOptions{.initial_rebalance_delay_ms = 100}};
  int64_t now_ = 1'000'000;

  // Joins `args` and returns its member id (the join stays pending).
  std::string join(JoinArgs args) {
    std::string id;
    std::optional<JoinResult> r = groups_.join(std::move(args), now_, id);
    EXPECT_FALSE(r.has_value()) << "error " << (r ? code(r->error) : 0);
    return id;
  }
};

TEST_F(GroupCoordinatorTest, NewMemberOfVersionFourFirstGetsItsIdThenJoins) {
  JoinArgs a = member("");
  a.require_known_member_id = true;
  std::string id;
  std::optional<JoinResult> r = groups_.join(a, now_, id);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error, ErrorCode::kMemberIdRequired);
  EXPECT_FALSE(r->member_id.empty());
  EXPECT_EQ(r->member_id, id);
  EXPECT_EQ(id.rfind("client-", 0), 0u) << id;
  // Rejoining with that id is accepted; an id never handed out is not.
  a.member_id = id;
  EXPECT_FALSE(groups_.join(a, now_, id).has_value());
  JoinArgs stranger = member("made-up");
  std::optional<JoinResult> refused = groups_.join(stranger, now_, id);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->error, ErrorCode::kUnknownMemberId);
}

TEST_F(GroupCoordinatorTest, FirstRebalanceWaitsTheInitialDelayThenTheLeaderGetsEveryMember) {
  const std::string a = join(member("", "meta-a"));
  now_ += 50;
  const std::string b = join(member("", "meta-b"));
  EXPECT_FALSE(groups_.poll_join("g", a, now_).has_value());  // still in the delay
  now_ += 200;
  std::optional<JoinResult> ra = groups_.poll_join("g", a, now_);
  std::optional<JoinResult> rb = groups_.poll_join("g", b, now_);
  ASSERT_TRUE(ra && rb);
  EXPECT_EQ(ra->generation_id, 1);
  EXPECT_EQ(ra->protocol_name, "range");
  EXPECT_EQ(ra->leader, rb->leader);
  const JoinResult& leader = ra->leader == a ? *ra : *rb;
  const JoinResult& follower = ra->leader == a ? *rb : *ra;
  ASSERT_EQ(leader.members.size(), 2u);
  EXPECT_TRUE(follower.members.empty());
  std::set<std::string> metadata;
  for (const auto& m : leader.members) metadata.insert(m.metadata);
  EXPECT_EQ(metadata, (std::set<std::string>{"meta-a", "meta-b"}));
}

TEST_F(GroupCoordinatorTest, FollowerSyncWaitsForTheLeadersAssignments) {
  const std::string a = join(member(""));
  const std::string b = join(member(""));
  now_ += 200;
  std::optional<JoinResult> ra = groups_.poll_join("g", a, now_);
  ASSERT_TRUE(ra && groups_.poll_join("g", b, now_));
  const std::string leader = ra->leader;
  const std::string follower = leader == a ? b : a;
  EXPECT_FALSE(groups_.sync("g", 1, follower, {}, now_).has_value());
  EXPECT_FALSE(groups_.poll_sync("g", 1, follower, now_).has_value());
  std::optional<SyncResult> mine =
      groups_.sync("g", 1, leader, {{leader, "parts-0-1"}, {follower, "parts-2-3"}}, now_);
  ASSERT_TRUE(mine.has_value());
  EXPECT_EQ(mine->assignment, "parts-0-1");
  std::optional<SyncResult> theirs = groups_.poll_sync("g", 1, follower, now_);
  ASSERT_TRUE(theirs.has_value());
  EXPECT_EQ(theirs->error, ErrorCode::kNone);
  EXPECT_EQ(theirs->assignment, "parts-2-3");
  EXPECT_EQ(groups_.describe("g", now_)->state, "Stable");
  // A sync of an old generation is refused.
  EXPECT_EQ(groups_.sync("g", 0, follower, {}, now_)->error, ErrorCode::kIllegalGeneration);
}

TEST_F(GroupCoordinatorTest, AJoinTellsOtherMembersToRejoinThroughTheirHeartbeats) {
  const std::string a = join(member(""));
  now_ += 200;
  ASSERT_TRUE(groups_.poll_join("g", a, now_));
  ASSERT_TRUE(groups_.sync("g", 1, a, {{a, "all"}}, now_));
  EXPECT_EQ(groups_.heartbeat("g", 1, a, now_), ErrorCode::kNone);
  const std::string b = join(member(""));
  EXPECT_EQ(groups_.heartbeat("g", 1, a, now_), ErrorCode::kRebalanceInProgress);
  // Commits of the current generation still go through during the rebalance.
  EXPECT_EQ(groups_.check_commit("g", 1, a, now_), ErrorCode::kNone);
  JoinArgs again = member(a);
  std::string id;
  std::optional<JoinResult> r = groups_.join(again, now_, id);
  ASSERT_TRUE(r.has_value());  // everyone has rejoined: completes at once
  EXPECT_EQ(r->generation_id, 2);
  ASSERT_TRUE(groups_.poll_join("g", b, now_));
  EXPECT_EQ(groups_.heartbeat("g", 1, a, now_), ErrorCode::kIllegalGeneration);
  EXPECT_EQ(groups_.check_commit("g", 1, a, now_), ErrorCode::kIllegalGeneration);
}

TEST_F(GroupCoordinatorTest, MemberWithoutHeartbeatsExpiresAndTheGroupRebalancesWithoutIt) {
  const std::string a = join(member(""));
  const std::string b = join(member(""));
  now_ += 200;
  ASSERT_TRUE(groups_.poll_join("g", a, now_) && groups_.poll_join("g", b, now_));
  for (int i = 0; i < 5; ++i) {  // only a heartbeats
    now_ += 3'000;
    EXPECT_NE(groups_.heartbeat("g", 1, a, now_), ErrorCode::kUnknownMemberId);
  }
  EXPECT_EQ(groups_.heartbeat("g", 1, b, now_), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(groups_.heartbeat("g", 1, a, now_), ErrorCode::kRebalanceInProgress);
  std::string id;
  std::optional<JoinResult> r = groups_.join(member(a), now_, id);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->leader, a);
  EXPECT_EQ(r->members.size(), 1u);
}

TEST_F(GroupCoordinatorTest, MemberThatDoesNotRejoinWithinTheRebalanceTimeoutIsDropped) {
  const std::string a = join(member(""));
  const std::string b = join(member(""));
  now_ += 200;
  ASSERT_TRUE(groups_.poll_join("g", a, now_) && groups_.poll_join("g", b, now_));
  std::string id;
  EXPECT_FALSE(groups_.join(member(a), now_, id).has_value());  // b never rejoins
  for (int i = 0; i < 10; ++i) {
    now_ += 1'000;
    EXPECT_EQ(groups_.heartbeat("g", 1, b, now_), ErrorCode::kRebalanceInProgress);
  }
  now_ += 30'000;
  std::optional<JoinResult> r = groups_.poll_join("g", a, now_);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->members.size(), 1u);
  EXPECT_EQ(groups_.heartbeat("g", 2, b, now_), ErrorCode::kUnknownMemberId);
}

TEST_F(GroupCoordinatorTest, LeavingEmptiesTheGroupAndStandaloneCommitsAreAcceptedThen) {
  const std::string a = join(member(""));
  now_ += 200;
  ASSERT_TRUE(groups_.poll_join("g", a, now_));
  EXPECT_EQ(groups_.check_commit("g", -1, "", now_), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(groups_.leave("g", a, now_), ErrorCode::kNone);
  EXPECT_EQ(groups_.describe("g", now_)->state, "Empty");
  EXPECT_EQ(groups_.check_commit("g", -1, "", now_), ErrorCode::kNone);
  EXPECT_EQ(groups_.leave("g", a, now_), ErrorCode::kUnknownMemberId);
}

TEST_F(GroupCoordinatorTest, AMemberWaitingLongForOthersToRejoinKeepsItsSession) {
  const std::string a = join(member(""));
  const std::string b = join(member(""));
  now_ += 200;
  ASSERT_TRUE(groups_.poll_join("g", a, now_) && groups_.poll_join("g", b, now_));
  ASSERT_TRUE(groups_.sync("g", 1, groups_.describe("g", now_)->members[0].member_id,
                           {{a, "x"}, {b, "y"}}, now_));
  // a rejoins at once; b takes 25 s (under its 30 s rebalance timeout) while heartbeating.
  std::string id;
  EXPECT_FALSE(groups_.join(member(a), now_, id).has_value());
  for (int i = 0; i < 5; ++i) {
    now_ += 5'000;
    EXPECT_EQ(groups_.heartbeat("g", 1, b, now_), ErrorCode::kRebalanceInProgress);
  }
  std::optional<JoinResult> rb = groups_.join(member(b), now_, id);
  ASSERT_TRUE(rb.has_value());
  // a's last word was 25 s ago, beyond its 10 s session: the completed generation restarts
  // every member's session, so a gets its result instead of being expelled.
  std::optional<JoinResult> ra = groups_.poll_join("g", a, now_);
  ASSERT_TRUE(ra.has_value());
  EXPECT_EQ(ra->error, ErrorCode::kNone);
  EXPECT_EQ(ra->generation_id, 2);
}

TEST_F(GroupCoordinatorTest, AStaticMemberRestartingTakesItsPredecessorsPlace) {
  JoinArgs first = member("");
  first.group_instance_id = "host-1";
  const std::string old_id = join(first);
  now_ += 200;
  ASSERT_TRUE(groups_.poll_join("g", old_id, now_));
  JoinArgs restarted = member("");
  restarted.group_instance_id = "host-1";
  std::string new_id;
  std::optional<JoinResult> r = groups_.join(restarted, now_, new_id);
  ASSERT_TRUE(r.has_value());  // the only member has rejoined: the rebalance completes at once
  EXPECT_NE(new_id, old_id);
  EXPECT_EQ(r->leader, new_id);
  EXPECT_EQ(groups_.describe("g", now_)->members.size(), 1u);
  EXPECT_EQ(groups_.heartbeat("g", 2, old_id, now_), ErrorCode::kUnknownMemberId);
}

TEST_F(GroupCoordinatorTest, JoinsThatShareNoProtocolOrBreakLimitsAreRefused) {
  join(member(""));
  JoinArgs other = member("");
  other.protocols = {{"sticky", "m"}};
  std::string id;
  EXPECT_EQ(groups_.join(other, now_, id)->error, ErrorCode::kInconsistentGroupProtocol);
  JoinArgs quick = member("");
  quick.session_timeout_ms = 10;
  EXPECT_EQ(groups_.join(quick, now_, id)->error, ErrorCode::kInvalidSessionTimeout);
  JoinArgs nameless = member("");
  nameless.group_id = "";
  EXPECT_EQ(groups_.join(nameless, now_, id)->error, ErrorCode::kInvalidGroupId);
}

}  // namespace
}  // namespace sluice::server::kafka

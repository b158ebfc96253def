// The Kafka APIs Sluice serves: their keys, the versions advertised and served, the error codes
// it answers with, and the one mapping from Sluice's Status to those codes.
//
// Versions are chosen for librdkafka 2.0.2 and kcat 1.7.1 (Debian 12) and are all
// non-flexible; docs/KAFKA.md lists them with what each does here.
//
// Thread safety: constants and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "sluice/base/status.h"

namespace sluice::server::kafka {

enum class ApiKey : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kLeaveGroup = 13,
  kSyncGroup = 14,
  kDescribeGroups = 15,
  kListGroups = 16,
  kApiVersions = 18,
  kCreateTopics = 19,
  kDeleteTopics = 20,
  kDeleteRecords = 21,
  kInitProducerId = 22,
  kAddPartitionsToTxn = 24,
  kAddOffsetsToTxn = 25,
  kEndTxn = 26,
  kTxnOffsetCommit = 28,
};

struct ApiSupport {
  ApiKey key;
  std::string_view name;
  // What ApiVersions advertises.
  int16_t min_advertised;
  int16_t max_advertised;
  // What the server answers; below it (Produce v0-2: message formats 0 and 1) requests get
  // UNSUPPORTED_VERSION in their response.
  int16_t min_served;
};

// Every API served, in key order.
std::span<const ApiSupport> supported_apis();
// nullptr for a key Sluice does not serve.
const ApiSupport* find_api(int16_t key);

// Kafka's error codes (org.apache.kafka.common.protocol.Errors), those Sluice sends.
enum class ErrorCode : int16_t {
  kUnknownServerError = -1,
  kNone = 0,
  kOffsetOutOfRange = 1,
  kCorruptMessage = 2,
  kUnknownTopicOrPartition = 3,
  kNotLeaderOrFollower = 6,
  kRequestTimedOut = 7,
  kMessageTooLarge = 10,
  kCoordinatorNotAvailable = 15,
  kInvalidTopicException = 17,
  kIllegalGeneration = 22,
  kInconsistentGroupProtocol = 23,
  kInvalidGroupId = 24,
  kUnknownMemberId = 25,
  kInvalidSessionTimeout = 26,
  kRebalanceInProgress = 27,
  kUnsupportedVersion = 35,
  kTopicAlreadyExists = 36,
  kInvalidPartitions = 37,
  kInvalidReplicationFactor = 38,
  kInvalidReplicaAssignment = 39,
  kInvalidConfig = 40,
  kInvalidRequest = 42,
  kOutOfOrderSequenceNumber = 45,
  kInvalidProducerEpoch = 47,
  kInvalidTxnState = 48,
  kInvalidTransactionTimeout = 50,
  kConcurrentTransactions = 51,
  kKafkaStorageError = 56,
  kUnknownProducerId = 59,
  kNonEmptyGroup = 68,
  kGroupIdNotFound = 69,
  kMemberIdRequired = 79,
};

constexpr int16_t code(ErrorCode e) { return static_cast<int16_t>(e); }

// The error a Kafka client should see for a failed operation. Fencing is INVALID_PRODUCER_EPOCH
// (the versions served predate PRODUCER_FENCED); a missing topic or partition is
// UNKNOWN_TOPIC_OR_PARTITION; a full or failing disk is KAFKA_STORAGE_ERROR.
ErrorCode error_for(const Status& status);

}  // namespace sluice::server::kafka

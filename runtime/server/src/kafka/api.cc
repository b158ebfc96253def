#include "kafka/api.h"

#include <array>

namespace sluice::server::kafka {
namespace {

constexpr std::array kApis = {
    ApiSupport{ApiKey::kProduce, "Produce", 0, 7, 3},
    ApiSupport{ApiKey::kFetch, "Fetch", 4, 11, 4},
    ApiSupport{ApiKey::kListOffsets, "ListOffsets", 0, 2, 0},
    ApiSupport{ApiKey::kMetadata, "Metadata", 0, 4, 0},
    ApiSupport{ApiKey::kOffsetCommit, "OffsetCommit", 2, 7, 2},
    ApiSupport{ApiKey::kOffsetFetch, "OffsetFetch", 1, 5, 1},
    ApiSupport{ApiKey::kFindCoordinator, "FindCoordinator", 0, 2, 0},
    ApiSupport{ApiKey::kJoinGroup, "JoinGroup", 0, 5, 0},
    ApiSupport{ApiKey::kHeartbeat, "Heartbeat", 0, 3, 0},
    ApiSupport{ApiKey::kLeaveGroup, "LeaveGroup", 0, 1, 0},
    ApiSupport{ApiKey::kSyncGroup, "SyncGroup", 0, 3, 0},
    ApiSupport{ApiKey::kDescribeGroups, "DescribeGroups", 0, 4, 0},
    ApiSupport{ApiKey::kListGroups, "ListGroups", 0, 2, 0},
    ApiSupport{ApiKey::kApiVersions, "ApiVersions", 0, 2, 0},
    ApiSupport{ApiKey::kCreateTopics, "CreateTopics", 0, 4, 0},
    ApiSupport{ApiKey::kDeleteTopics, "DeleteTopics", 0, 1, 0},
    ApiSupport{ApiKey::kDeleteRecords, "DeleteRecords", 0, 1, 0},
    ApiSupport{ApiKey::kInitProducerId, "InitProducerId", 0, 1, 0},
    ApiSupport{ApiKey::kAddPartitionsToTxn, "AddPartitionsToTxn", 0, 0, 0},
    ApiSupport{ApiKey::kAddOffsetsToTxn, "AddOffsetsToTxn", 0, 0, 0},
    ApiSupport{ApiKey::kEndTxn, "EndTxn", 0, 1, 0},
    ApiSupport{ApiKey::kTxnOffsetCommit, "TxnOffsetCommit", 0, 2, 0},
};

}  // namespace

std::span<const ApiSupport> supported_apis() { return kApis; }

const ApiSupport* find_api(int16_t key) {
  for (const ApiSupport& api : kApis) {
    if (static_cast<int16_t>(api.key) == key) return &api;
  }
  return nullptr;
}

ErrorCode error_for(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return ErrorCode::kNone;
    case StatusCode::kNotFound:
      return ErrorCode::kUnknownTopicOrPartition;
    case StatusCode::kOutOfRange:
      return ErrorCode::kOffsetOutOfRange;
    case StatusCode::kCorruption:
      return ErrorCode::kCorruptMessage;
    case StatusCode::kInvalidArgument:
      return ErrorCode::kInvalidRequest;
    case StatusCode::kAlreadyExists:
      return ErrorCode::kTopicAlreadyExists;
    case StatusCode::kProducerFenced:
    case StatusCode::kAborted:  // a transaction the log aborted on timeout fenced its producer
      return ErrorCode::kInvalidProducerEpoch;
    case StatusCode::kOutOfOrderSequence:
      return ErrorCode::kOutOfOrderSequenceNumber;
    case StatusCode::kInvalidTxnState:
      return ErrorCode::kInvalidTxnState;
    case StatusCode::kIOError:
    case StatusCode::kNoSpace:
      return ErrorCode::kKafkaStorageError;
    case StatusCode::kTimeout:
      return ErrorCode::kRequestTimedOut;
    case StatusCode::kUnavailable:
      return ErrorCode::kCoordinatorNotAvailable;
    case StatusCode::kUnimplemented:
      return ErrorCode::kUnsupportedVersion;
    case StatusCode::kFailedPrecondition:
    case StatusCode::kInternal:
      break;
  }
  return ErrorCode::kUnknownServerError;
}

}  // namespace sluice::server::kafka

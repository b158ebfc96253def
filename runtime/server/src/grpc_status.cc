#include "sluice/server/grpc_status.h"

namespace sluice::server {

grpc::Status to_grpc(const Status& status) {
  using G = grpc::StatusCode;
  G code = G::INTERNAL;
  switch (status.code()) {
    case StatusCode::kOk:
      return grpc::Status::OK;
    case StatusCode::kInvalidArgument:
      code = G::INVALID_ARGUMENT;
      break;
    case StatusCode::kNotFound:
      code = G::NOT_FOUND;
      break;
    case StatusCode::kAlreadyExists:
      code = G::ALREADY_EXISTS;
      break;
    case StatusCode::kOutOfRange:
      code = G::OUT_OF_RANGE;
      break;
    case StatusCode::kFailedPrecondition:
    case StatusCode::kProducerFenced:
    case StatusCode::kOutOfOrderSequence:
    case StatusCode::kInvalidTxnState:
      code = G::FAILED_PRECONDITION;
      break;
    case StatusCode::kNoSpace:
      code = G::RESOURCE_EXHAUSTED;
      break;
    case StatusCode::kCorruption:
      code = G::DATA_LOSS;
      break;
    case StatusCode::kAborted:
      code = G::ABORTED;
      break;
    case StatusCode::kTimeout:
      code = G::DEADLINE_EXCEEDED;
      break;
    case StatusCode::kUnavailable:
      code = G::UNAVAILABLE;
      break;
    case StatusCode::kUnimplemented:
      code = G::UNIMPLEMENTED;
      break;
    case StatusCode::kIOError:
    case StatusCode::kInternal:
      code = G::INTERNAL;
      break;
  }
  return grpc::Status(code, status.message());
}

Status from_grpc(const grpc::Status& status) {
  using G = grpc::StatusCode;
  StatusCode code = StatusCode::kInternal;
  switch (status.error_code()) {
    case G::OK:
      return Status();
    case G::INVALID_ARGUMENT:
      code = StatusCode::kInvalidArgument;
      break;
    case G::NOT_FOUND:
      code = StatusCode::kNotFound;
      break;
    case G::ALREADY_EXISTS:
      code = StatusCode::kAlreadyExists;
      break;
    case G::OUT_OF_RANGE:
      code = StatusCode::kOutOfRange;
      break;
    case G::FAILED_PRECONDITION:
    case G::UNAUTHENTICATED:
    case G::PERMISSION_DENIED:
      code = StatusCode::kFailedPrecondition;
      break;
    case G::RESOURCE_EXHAUSTED:
      code = StatusCode::kNoSpace;
      break;
    case G::DATA_LOSS:
      code = StatusCode::kCorruption;
      break;
    case G::ABORTED:
    case G::CANCELLED:
      code = StatusCode::kAborted;
      break;
    case G::DEADLINE_EXCEEDED:
      code = StatusCode::kTimeout;
      break;
    case G::UNAVAILABLE:
      code = StatusCode::kUnavailable;
      break;
    case G::UNIMPLEMENTED:
      code = StatusCode::kUnimplemented;
      break;
    default:
      code = StatusCode::kInternal;
      break;
  }
  return Status(code,
                std::string(grpc_code_name(status.error_code())) + ": " + status.error_message());
}

const char* grpc_code_name(grpc::StatusCode code) {
  using G = grpc::StatusCode;
  switch (code) {
    case G::OK:
      return "OK";
    case G::CANCELLED:
      return "CANCELLED";
    case G::UNKNOWN:
      return "UNKNOWN";
    case G::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case G::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case G::NOT_FOUND:
      return "NOT_FOUND";
    case G::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case G::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case G::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case G::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case G::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case G::ABORTED:
      return "ABORTED";
    case G::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case G::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case G::INTERNAL:
      return "INTERNAL";
    case G::UNAVAILABLE:
      return "UNAVAILABLE";
    case G::DATA_LOSS:
      return "DATA_LOSS";
    default:
      return "UNKNOWN";
  }
}

}  // namespace sluice::server

// The one mapping between Sluice's Status codes and gRPC's, used by every service (and, in
// reverse, by clients to report a failed call in Sluice's terms).
//
//   InvalidArgument -> INVALID_ARGUMENT      NotFound -> NOT_FOUND
//   AlreadyExists -> ALREADY_EXISTS          OutOfRange -> OUT_OF_RANGE
//   FailedPrecondition, ProducerFenced, OutOfOrderSequence, InvalidTxnState -> FAILED_PRECONDITION
//   NoSpace -> RESOURCE_EXHAUSTED            Corruption -> DATA_LOSS
//   Aborted -> ABORTED                       Timeout -> DEADLINE_EXCEEDED
//   Unavailable -> UNAVAILABLE               Unimplemented -> UNIMPLEMENTED
//   IOError, Internal -> INTERNAL
#pragma once

#include <grpcpp/support/status.h>

#include "sluice/base/status.h"

namespace sluice::server {

grpc::Status to_grpc(const Status& status);
Status from_grpc(const grpc::Status& status);

// "NOT_FOUND"
const char* grpc_code_name(grpc::StatusCode code);

}  // namespace sluice::server

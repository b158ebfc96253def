// Status: the outcome of an operation that can fail.
//
// Failures are values in Sluice: every I/O or otherwise fallible path returns a Status or a
// Result<T> (see result.h). Both are [[nodiscard]]; ignoring one on purpose is written
// `status.ignore_error()` so that grep finds every place that does it.
//
// A Status is cheap to create and copy when it is OK (no allocation). An error carries a code,
// which callers branch on, and a message, which is for people: it says what happened and, where
// it can, what to do about it.
//
// Thread safety: a Status is a value; distinct objects may be used from distinct threads.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace sluice {

// The error codes. They are chosen so that each maps to one gRPC status code and, for the codes
// that only the log raises, to one Kafka protocol error code.
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,     // the request is malformed; retrying it will not help
  kNotFound,            // a topic, partition, group or file that does not exist
  kAlreadyExists,       // creating something that exists
  kFailedPrecondition,  // the system is not in the state the request needs
  kOutOfRange,          // an offset or position outside what exists
  kCorruption,          // stored bytes fail validation (CRC, length, magic, offsets)
  kIOError,             // the operating system reported an I/O failure
  kNoSpace,             // the disk is full (ENOSPC / EDQUOT)
  kProducerFenced,      // a newer epoch of this producer exists; this one must stop
  kOutOfOrderSequence,  // an idempotent producer skipped or repeated a sequence number
  kInvalidTxnState,     // a transaction operation that does not fit the transaction's state
  kAborted,             // the operation was aborted (e.g. a transaction timed out)
  kTimeout,             // a deadline passed
  kUnavailable,         // transient: try again later
  kUnimplemented,       // not supported (yet)
  kInternal,            // a broken invariant: a bug
};

// The code's name, e.g. "Corruption", for messages and logs.
std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  // An OK status.
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "Corruption: batch at offset 42 of orders/3 fails its CRC" (or "OK").
  std::string to_string() const;

  // The same status with `context` prepended to the message ("opening topic x: ...").
  Status with_context(std::string_view context) const;

  // Marks a status as deliberately ignored. Use sparingly and say why beside the call.
  void ignore_error() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Shorthands for building error statuses.
inline Status invalid_argument(std::string msg) {
  return {StatusCode::kInvalidArgument, std::move(msg)};
}
inline Status not_found(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
inline Status already_exists(std::string msg) {
  return {StatusCode::kAlreadyExists, std::move(msg)};
}
inline Status failed_precondition(std::string msg) {
  return {StatusCode::kFailedPrecondition, std::move(msg)};
}
inline Status out_of_range(std::string msg) { return {StatusCode::kOutOfRange, std::move(msg)}; }
inline Status corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
inline Status io_error(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
inline Status internal_error(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
inline Status unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
inline Status unimplemented(std::string msg) {
  return {StatusCode::kUnimplemented, std::move(msg)};
}

// An error status from an errno value: ENOSPC and EDQUOT become kNoSpace, ENOENT kNotFound,
// everything else kIOError. The message is "<context>: <strerror>".
Status errno_status(std::string_view context, int err);

}  // namespace sluice

// Returns from the current function if `expr` (a Status) is not OK.
#define SLUICE_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::sluice::Status sluice_status_ = (expr);        \
    if (!sluice_status_.ok()) return sluice_status_; \
  } while (0)

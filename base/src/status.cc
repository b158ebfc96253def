#include "sluice/base/status.h"

#include <cerrno>
#include <cstring>

#include "sluice/base/result.h"

namespace sluice {

std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInvalidArgument:
      return "InvalidArgument";
    case StatusCode::kNotFound:
      return "NotFound";
    case StatusCode::kAlreadyExists:
      return "AlreadyExists";
    case StatusCode::kFailedPrecondition:
      return "FailedPrecondition";
    case StatusCode::kOutOfRange:
      return "OutOfRange";
    case StatusCode::kCorruption:
      return "Corruption";
    case StatusCode::kIOError:
      return "IOError";
    case StatusCode::kNoSpace:
      return "NoSpace";
    case StatusCode::kProducerFenced:
      return "ProducerFenced";
    case StatusCode::kOutOfOrderSequence:
      return "OutOfOrderSequence";
    case StatusCode::kInvalidTxnState:
      return "InvalidTxnState";
    case StatusCode::kAborted:
      return "Aborted";
    case StatusCode::kTimeout:
      return "Timeout";
    case StatusCode::kUnavailable:
      return "Unavailable";
    case StatusCode::kUnimplemented:
      return "Unimplemented";
    case StatusCode::kInternal:
      return "Internal";
  }
  return "Unknown";
}

std::string Status::to_string() const {
  if (ok()) return "OK";
  std::string out(status_code_name(code_));
  out += ": ";
  out += message_;
  return out;
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message_;
  return Status(code_, std::move(msg));
}

Status errno_status(std::string_view context, int err) {
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) {
    msg += " (free disk space, or lower retention, then retry)";
    return Status(StatusCode::kNoSpace, std::move(msg));
  }
  if (err == ENOENT) return Status(StatusCode::kNotFound, std::move(msg));
  return Status(StatusCode::kIOError, std::move(msg));
}

namespace detail {

void die_on_bad_result_access(const Status& status) {
  std::fprintf(stderr, "sluice: value() called on an error Result: %s\n",
               status.to_string().c_str());
  std::abort();
}

void die_on_ok_status_in_result() {
  std::fprintf(stderr, "sluice: a Result was constructed from an OK Status\n");
  std::abort();
}

}  // namespace detail
}  // namespace sluice

// Result<T>: either a value of type T or an error Status.
//
// The return type of every fallible function that produces something (libstdc++ 12 has no
// std::expected). A Result is never OK without a value; constructing one from an OK Status is a
// bug and is caught by a check. Access the value only after checking ok(); value() on an error
// aborts the process with the error's message, because continuing would be undefined.
//
//   Result<std::unique_ptr<Segment>> open_segment(...);
//   SLUICE_ASSIGN_OR_RETURN(auto segment, open_segment(...));
//
// Thread safety: a Result is a value, like Status.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <utility>
#include <variant>

#include "sluice/base/status.h"

namespace sluice {

namespace detail {
[[noreturn]] void die_on_bad_result_access(const Status& status);
[[noreturn]] void die_on_ok_status_in_result();
}  // namespace detail

template <typename T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::decay_t<T>, Status>, "Result<Status> makes no sense");

 public:
  // Implicit on purpose: `return value;` and `return status;` both read naturally.
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}        // NOLINT
  Result(Status status) : v_(std::in_place_index<1>, std::move(status)) {  // NOLINT
    if (std::get<1>(v_).ok()) detail::die_on_ok_status_in_result();
  }
  template <typename U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, T> &&
           !std::is_same_v<std::decay_t<U>, Status> && !std::is_same_v<std::decay_t<U>, Result<T>>)
      Result(U&& value)
      : v_(std::in_place_index<0>, T(std::forward<U>(value))) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }

  // The error, or an OK status when there is a value.
  Status status() const { return ok() ? Status() : std::get<1>(v_); }

  T& value() & {
    check();
    return std::get<0>(v_);
  }
  const T& value() const& {
    check();
    return std::get<0>(v_);
  }
  T&& value() && {
    check();
    return std::get<0>(std::move(v_));
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The value, or `fallback` when this is an error.
  T value_or(T fallback) const& { return ok() ? std::get<0>(v_) : std::move(fallback); }

  void ignore_error() const {}

 private:
  void check() const {
    if (!ok()) detail::die_on_bad_result_access(std::get<1>(v_));
  }

  std::variant<T, Status> v_;
};

}  // namespace sluice

#define SLUICE_CONCAT_INNER_(a, b) a##b
#define SLUICE_CONCAT_(a, b) SLUICE_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (a Result<T>); on error returns its Status from the current function,
// otherwise declares/assigns `lhs` from the value: SLUICE_ASSIGN_OR_RETURN(auto x, make_x());
#define SLUICE_ASSIGN_OR_RETURN(lhs, rexpr) \
  SLUICE_ASSIGN_OR_RETURN_IMPL_(SLUICE_CONCAT_(sluice_result_, __LINE__), lhs, rexpr)
#define SLUICE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                  \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(tmp).value()

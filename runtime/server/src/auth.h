// Every service method runs through `CallGuard::run`: the bearer token is checked (when one is
// configured), and an exception escaping a handler becomes INTERNAL instead of ending the
// process.
#pragma once

#include <exception>
#include <string>
#include <utility>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

namespace sluice::server {

class CallGuard {
 public:
  // Empty token: every call is allowed.
  explicit CallGuard(std::string token) : token_(std::move(token)) {}

  // UNAUTHENTICATED unless the call carries "authorization: Bearer <token>". The token is
  // compared in constant time and never logged.
  grpc::Status authenticate(const grpc::ServerContext& context) const;

  template <typename Fn>
  grpc::Status run(grpc::ServerContext* context, const char* method, Fn&& fn) const {
    if (grpc::Status s = authenticate(*context); !s.ok()) return s;
    try {
      return fn();
    } catch (const std::exception& e) {
      spdlog::error("{} failed with an exception: {}", method, e.what());
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          std::string(method) + " failed inside the server: " + e.what());
    }
  }

 private:
  std::string token_;
};

}  // namespace sluice::server

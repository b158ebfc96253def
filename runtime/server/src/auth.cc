#include "auth.h"

#include <string_view>

namespace sluice::server {

namespace {

bool equal_in_constant_time(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

}  // namespace

grpc::Status CallGuard::authenticate(const grpc::ServerContext& context) const {
  if (token_.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "this server requires a token: pass --token (or set SLUICE_AUTH_TOKEN); "
                        "calls carry it as 'authorization: Bearer <token>'");
  }
  std::string_view value(it->second.data(), it->second.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (!value.starts_with(kBearer) ||
      !equal_in_constant_time(value.substr(kBearer.size()), token_)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "the token does not match the server's: check --token / SLUICE_AUTH_TOKEN");
  }
  return grpc::Status::OK;
}

}  // namespace sluice::server

// The factories: validate the spec, then make the store (in_memory_*_store.cc).
#include "sluice/state/in_memory_stores.h"

#include <string_view>

#include "in_memory_key_value_store.h"
#include "in_memory_session_store.h"
#include "in_memory_window_store.h"

namespace sluice::state {
namespace {

std::string_view kind_name(StoreKind kind) {
  switch (kind) {
    case StoreKind::kKeyValue:
      return "key-value";
    case StoreKind::kWindow:
      return "window";
    case StoreKind::kSession:
      return "session";
  }
  return "unknown";
}

// What every spec needs, and what window and session specs need besides.
Status check_spec(const StoreSpec& spec, StoreKind kind) {
  if (spec.name.empty()) return invalid_argument("a store spec needs a name");
  const std::string store = "store '" + spec.name + "'";
  if (spec.kind != kind) {
    return invalid_argument(store + " is specified as a " + std::string(kind_name(spec.kind)) +
                            " store, not a " + std::string(kind_name(kind)) + " store");
  }
  if (kind == StoreKind::kKeyValue) {
    if (spec.ttl_ms < 0) {
      return invalid_argument(store + ": ttl_ms must be 0 (no TTL) or positive, not " +
                              std::to_string(spec.ttl_ms));
    }
    return Status();
  }
  if (spec.retention_ms < 1) {
    return invalid_argument(store + ": retention_ms must be at least 1, not " +
                            std::to_string(spec.retention_ms));
  }
  if (spec.segment_ms < 0) {
    return invalid_argument(store + ": segment_ms must be 0 (the default) or positive, not " +
                            std::to_string(spec.segment_ms));
  }
  return Status();
}

}  // namespace

Result<std::unique_ptr<KeyValueStore>> make_in_memory_key_value_store(const StoreSpec& spec) {
  SLUICE_RETURN_IF_ERROR(check_spec(spec, StoreKind::kKeyValue));
  return std::unique_ptr<KeyValueStore>(std::make_unique<InMemoryKeyValueStore>(spec.name));
}

Result<std::unique_ptr<WindowStore>> make_in_memory_window_store(const StoreSpec& spec) {
  SLUICE_RETURN_IF_ERROR(check_spec(spec, StoreKind::kWindow));
  return std::unique_ptr<WindowStore>(
      std::make_unique<InMemoryWindowStore>(spec.name, spec.retention_ms));
}

Result<std::unique_ptr<SessionStore>> make_in_memory_session_store(const StoreSpec& spec) {
  SLUICE_RETURN_IF_ERROR(check_spec(spec, StoreKind::kSession));
  return std::unique_ptr<SessionStore>(
      std::make_unique<InMemorySessionStore>(spec.name, spec.retention_ms));
}

}  // namespace sluice::state

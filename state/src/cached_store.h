// A key-value store behind the task's RecordCache (see record_cache.h).
#pragma once

#include <memory>

#include "record_cache.h"
#include "sluice/state/store.h"

namespace sluice::state {

// `inner` is where dirty entries go (the logged store, when the store is logged).
std::unique_ptr<KeyValueStore> make_cached(KeyValueStore& inner, RecordCache& cache, int* cache_id);

}  // namespace sluice::state

// What the three in-memory stores share: bytewise ordered maps, and the bookkeeping that lets
// their iterators survive writes.
//
// An iterator walks the store's live std::map until the store is about to change; then the
// store detaches it, and it copies what it has left to walk. So an iterator always sees the
// store as it was when the iterator was made, like a RocksDB iterator, and costs no copy unless
// a write comes while it is open. (store.h promises callers less — an iterator is valid until
// the next write — but a TaskState record cache may flush into a store on a read, and nothing
// here may turn such a flush into undefined behaviour.)
//
// Thread safety: thread-confined, like the stores.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "detachable_iterator.h"
#include "sluice/base/bytes.h"

namespace sluice::state {

// std::string orders keys as RocksDB's bytewise comparator does only because char_traits<char>
// compares as unsigned char ([char.traits.specializations.char]); the stores rely on it.
static_assert(std::string_view("\x01") < std::string_view("\xff"));
static_assert(std::string_view("\x7f") < std::string_view("\x80"));
static_assert(std::string_view("") < std::string_view("\0", 1));
static_assert(std::string_view("a") < std::string_view("a\0", 2));

// Key -> value in bytewise key order; std::less<> looks keys up by ByteView without a copy.
using BytesMap = std::map<Bytes, Bytes, std::less<>>;

}  // namespace sluice::state

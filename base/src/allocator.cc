#include "sluice/base/allocator.h"

#include <malloc.h>

namespace sluice {

void tune_allocator_for_large_buffers() {
  // Setting either threshold also turns off glibc's dynamic adjustment of both, which would
  // settle near these values only after each buffer size had been mmapped and freed once per
  // arena.
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

}  // namespace sluice

// Process-wide allocator settings for programs that move large buffers through many threads:
// the `sluice` binary and the benchmarks that stand in for its clients and embedders.
//
// A library never changes them on its own; the program that owns main() opts in.
#pragma once

namespace sluice {

// gRPC moves every request and response through heap buffers of ~100 KB (a 1,000-record
// batch) that are freed as soon as they are read or sent, and batches are built in buffers of
// the same size. With glibc's defaults such a buffer is an mmap of its own at first, and the
// free memory at the top of a thread's arena goes back to the kernel as soon as it exceeds the
// trim threshold, so the next buffer faults the same pages in again (perf: a quarter of the
// server's gRPC threads in page faults and munmap). This keeps allocations up to 4 MiB on the
// heap and lets each arena keep up to 64 MiB of free memory. Call it first thing in main().
void tune_allocator_for_large_buffers();

}  // namespace sluice

#!/usr/bin/env bash
# make bench: every benchmark, each leaving build/bench-results/<bench>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
results="$build/bench-results"
mkdir -p "$results"
echo "== crc32c (Google Benchmark)"
"$build/bench/crc32c_bench" --out="$results/crc32c.json"
echo "== record batch codec (Google Benchmark)"
"$build/bench/record_batch_bench" --out="$results/record_batch.json"
echo "== state stores (end to end, against raw RocksDB in the same run)"
"$build/bench/state_bench" --dir "$build/bench-data/state" --out "$results/state.json"
echo "== log append and read (end to end, against write()/pread() in the same run)"
"$build/bench/log_append_bench" --dir "$build/bench-data/log" --out "$results/log_append.json"
echo "== runtime (end to end, against a hand-written loop over the logstore API in the same run)"
"$build/bench/runtime_bench" --dir "$build/bench-data/runtime" --out "$results/runtime.json"
echo "== server (gRPC produce from a client process, against in-process appends in the same run)"
"$build/bench/server_bench" --dir "$build/bench-data/server" --out "$results/server.json"
echo "== samples (Yahoo Streaming Benchmark and Nexmark on the embedded runtime: per core and latency)"
"$build/bench/samples_bench" --dir "$build/bench-data/samples" --out "$results/samples.json"
echo "results in $results:"
ls -1 "$results"

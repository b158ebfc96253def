#!/usr/bin/env bash
# Installs Sluice into a temporary prefix and builds and runs a program against it, and builds a
# job library with sluice_add_job that the installed `sluice` validates, as a job author would
# after `make install`.
set -euo pipefail
build=$1 source=$2 flags=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
cmake -S "$source" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" > "$tmp/configure.log" ||
  { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/consumer" > "$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
"$tmp/consumer/consumer" "$tmp/data"
"$tmp/prefix/bin/sluice" job validate "$tmp/consumer/libclicks_job.so" --config partitions=3 |
  tee "$tmp/validate.log"
grep -q "topic clicks: 3 partition(s)" "$tmp/validate.log"

#!/usr/bin/env bash
# make lint: formatting (clang-format-14, .clang-format) and Clang's thread-safety analysis
# (clang-16: clang-14 cannot parse libstdc++ 12's <ranges>) over every C++ file CMake compiles.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
db="$build/compile_commands.json"
[[ -f "$db" ]] || { echo "lint: $db is missing; run 'make configure' first" >&2; exit 1; }

status=0
echo "lint: clang-format"
git ls-files '*.h' '*.cc' | xargs clang-format-14 --dry-run -Werror || status=1

echo "lint: clang-16 -Wthread-safety"
count=0
# compile_commands.json has one "command" line per translation unit; take ours (not generated).
while IFS= read -r line; do
  cmd=${line#*\"command\": \"}
  cmd=${cmd%\",}
  # Undo JSON string escaping (\\ and \") so the shell sees CMake's own quoting.
  cmd=${cmd//\\\\/$'\x01'}
  cmd=${cmd//\\\"/\"}
  cmd=${cmd//$'\x01'/\\}
  file=${cmd##* -c }
  case "$file" in "$PWD"/build*|*/proto/*) continue ;; esac
  # Drop the launcher and compiler, and the output file; keep defines, includes and flags.
  args=${cmd#*c++ }
  args=${args/ -o * -c / -c }
  args=${args/ -c $file/}
  # asio 1.22 enables co_await for Clang only with the pre-C++20 coroutines TS; Clang 16 has
  # C++20 coroutines (as GCC, for which asio enables them), so say so.
  if ! eval "clang++-16 $args -DASIO_HAS_CO_AWAIT=1 -fsyntax-only -Wthread-safety -Wthread-safety-negative-capability-not-required -Werror -Wno-unknown-warning-option \"$file\"" 2>/tmp/sluice-lint.$$; then
    cat /tmp/sluice-lint.$$
    status=1
  fi
  count=$((count + 1))
done < <(grep '"command":' "$db")
rm -f /tmp/sluice-lint.$$
echo "lint: $count translation units checked"
exit $status

#!/usr/bin/env bash
# run-all.sh BUILD_DIR SECONDS: run every fuzz target built in BUILD_DIR for
# SECONDS each from its seed corpus (kept in a scratch directory), and print
# the executions each made. Crashes land in tests/artifacts/fuzz/.
set -euo pipefail
build=$1 secs=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/../artifacts/fuzz"
status=0
for bin in "$build"/tests/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  work=$(mktemp -d)
  cp -r "$here/corpus/${name#fuzz_}"/. "$work"/ 2>/dev/null || true
  echo "== $name for ${secs}s"
  if ! "$bin" -max_total_time="$secs" -max_len=1024 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$here/../artifacts/fuzz/$name-" \
        "$work" 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY'; then
    :
  fi
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  rm -rf "$work"
done
exit $status

#!/usr/bin/env bash
# run-fuzzer.sh BINARY SEED_DIR RUNS: run one libFuzzer target for RUNS
# executions, starting from a scratch copy of the committed seed corpus so
# the repository is never written to. Fails on any crash or sanitizer report.
set -euo pipefail
bin=$1 seeds=$2 runs=$3
here=$(cd "$(dirname "$0")" && pwd)
artifacts="$here/../artifacts/fuzz"
mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$seeds"/. "$work"/ 2>/dev/null || true
cd "$work"
"$bin" -runs="$runs" -max_len=1024 -timeout=10 -print_final_stats=1 \
       -artifact_prefix="$artifacts/$(basename "$bin")-" "$work" 2>&1 | tail -n 40

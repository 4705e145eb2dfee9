#!/usr/bin/env bash
# bench/run.sh BUILD_DIR: run every benchmark and print the machine it ran on.
# The figures and the commands that reproduce them live in docs/BENCHMARKS.md.
set -euo pipefail
build=$1
echo "machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); $(nproc) cores"
echo "compiler: $(${CC:-cc} --version | head -1)"
# The parser per layout against a byte-scan floor, the mix, and `kassa code
# parse` over a file of the mix against the library (ratios in one run).
"$build"/bench/markcode_bench 5 --cli "$build"/kassa
"$build"/bench/cache_lookup 1000000 10000000
# The till in process: check p50/p99 with 1 M and 10 M cached codes; receipts/s
# against the disk's fdatasync rate measured in the same run, flushes and KiB
# written per receipt (per file).
"$build"/bench/till_bench 1000000 10000000
# POST /api/check through `kassa serve` with 1 M cached codes (p50/p99, docs/BENCHMARKS.md).
python3 "$(dirname "$0")"/http_check.py "$build" --codes 1000000 --requests 5000
# The outbox into kassa-operator on loopback, durable on both sides (messages/s).
python3 "$(dirname "$0")"/outbox_flush.py "$build" --receipts 5000
# Claims through one store node on its own PostgreSQL, 30 clients racing (claims/s, p50/p99).
python3 "$(dirname "$0")"/store_claims.py "$build" --clients 30 --codes 5000
# A scan through the store node with 30 `kassa serve` lanes busy at a store's
# pace: 1, 5 and 10 scans/s per lane, 20 s each (p50/p99/p99.9, claims/s, load average).
python3 "$(dirname "$0")"/store_scan.py "$build" --lanes 30 --paces 1,5,10 --seconds 20
# 10 M cached codes through HTTP, the sync rate, serve's memory and start-up:
# needs a kassa-operator store with 10 M codes (docs/BENCHMARKS.md, "Cache
# sync", says how to make one; it takes a quarter of an hour, so it is not
# made here): BENCH_OPERATOR_STORE=DIR make bench.
if [ -n "${BENCH_OPERATOR_STORE:-}" ]; then
  python3 "$(dirname "$0")"/http_check.py "$build" --operator-store "$BENCH_OPERATOR_STORE" --requests 5000
fi

#!/usr/bin/env bash
# bench/run.sh BUILD_DIR: run every benchmark and print the machine it ran on.
# The figures and the commands that reproduce them live in docs/BENCHMARKS.md.
set -euo pipefail
build=$1
echo "machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); $(nproc) cores"
echo "compiler: $(${CC:-cc} --version | head -1)"
"$build"/bench/markcode_bench 5

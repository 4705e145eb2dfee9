#!/usr/bin/env bash
# bench/placements.sh [-r ROUNDS] REV [REV...]: the parser's rows compared
# between revisions over fifteen placements of its code.
#
# On the project's machine a parser row moves by 10-30 % with where its code
# falls (docs/BENCHMARKS.md, eleventh and twelfth passes): a branch or 64
# bytes anywhere before the hot code, or the shared libraries' addresses
# from one process to the next. One build against another says little; this
# builds markcode_bench of each revision at fifteen placements and runs them
# alternated, so a change is judged by its mean over placements.
#
# Each revision is checked out in a temporary worktree, and its
# scanner/markcode.c patched there (never in the repository) with two pads:
# a top-level `.skip G` before all its code (G = 0, 256, ..., 1792: the whole
# file moved) and a jump over P bytes at parse()'s entry (P = 64, ..., 448:
# parse's body and what follows moved against what precedes it). The same
# patch for every revision. Each binary runs `markcode_bench 1` ROUNDS times
# (default 1); the table gives, per row, the mean ns a code (range; mean
# floor %; runs at >= 15 % of the floor) and the change against the first
# revision. Needs a quiet machine: about 6 s a run, 15 runs a revision a
# round. Everything it made is removed on exit.
set -euo pipefail
rounds=1
if [ "${1:-}" = -r ]; then
  rounds=$2
  shift 2
fi
[ $# -ge 1 ] || {
  echo "usage: bench/placements.sh [-r ROUNDS] REV [REV...]" >&2
  exit 2
}
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
work=$(mktemp -d /tmp/kassa-placements-XXXXXX)
cleanup() {
  for t in "$work"/tree-*; do
    [ -d "$t" ] && git -C "$repo" worktree remove --force "$t" >/dev/null 2>&1
  done
  rm -rf "$work"
  git -C "$repo" worktree prune
}
trap cleanup EXIT

placements="g0 g256 g512 g768 g1024 g1280 g1536 g1792 p64 p128 p192 p256 p320 p384 p448"
i=0
for rev in "$@"; do
  tree=$work/tree-$i
  git -C "$repo" worktree add -q --detach "$tree" "$rev"
  python3 - "$tree/scanner/markcode.c" <<'EOF'
import re, sys
path = sys.argv[1]
s = open(path).read()
first = s.index('#include')
s = s[:first] + '''#include "kassa_pad.h"
#define KASSA_PAD_S2(x) #x
#define KASSA_PAD_S(x) KASSA_PAD_S2(x)
__asm__(".text\\n\\t.skip " KASSA_PAD_S(KASSA_PAD) "\\n");
''' + s[first:]
head = re.search(r'\bparse\(markcode_t \*mc, const char \*input, size_t len,\s*bool fast\)\s*\{', s)
if not head:
    sys.exit('placements.sh: parse() not found in ' + path)
s = s[:head.end()] + '''
#if KASSA_PAD_PARSE > 0
  __asm__ volatile("jmp 1f\\n\\t.skip " KASSA_PAD_S(KASSA_PAD_PARSE) "\\n1:");
#endif''' + s[head.end():]
open(path, 'w').write(s)
EOF
  cmake -S "$tree" -B "$tree/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  for pl in $placements; do
    g=0 skip=0
    case $pl in
      g*) g=${pl#g} ;;
      p*) p=${pl#p}; skip=$((p > 129 ? p - 5 : p - 2)) ;; # the jump: 2 bytes short, 5 near
    esac
    printf '#define KASSA_PAD %s\n#define KASSA_PAD_PARSE %s\n' "$g" "$skip" >"$tree/kassa_pad.h"
    cmake --build "$tree/build" -j2 --target markcode_bench >"$work/build.log" 2>&1 ||
      { cat "$work/build.log" >&2; exit 1; }
    cp "$tree/build/bench/markcode_bench" "$work/bin-$i-$pl"
  done
  echo "$rev" >"$work/rev-$i"
  i=$((i + 1))
done

for r in $(seq "$rounds"); do
  for pl in $placements; do
    for j in $(seq 0 $((i - 1))); do
      "$work/bin-$j-$pl" 1 >"$work/out-$j-$pl-$r.txt"
    done
  done
done

python3 - "$work" "$i" <<'EOF'
import glob, re, statistics as st, sys
work, n = sys.argv[1], int(sys.argv[2])
revs = [open(f'{work}/rev-{j}').read().strip() for j in range(n)]
rows = {}
for j in range(n):
    for path in sorted(glob.glob(f'{work}/out-{j}-*.txt')):
        for line in open(path):
            m = re.match(r'\s+(.+?)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)%', line)
            if m:
                rows.setdefault(m.group(1), {}).setdefault(j, []).append((float(m.group(3)), float(m.group(6))))
            m = re.match(r'markcode_parse mix: (\d+)', line)
            if m:
                rows.setdefault('the mix (M codes/s)', {}).setdefault(j, []).append((float(m.group(1)) / 1e6, None))
print('| layout | ' + ' | '.join(revs) + ' |')
print('|---' * (n + 1) + '|')
for name, by in rows.items():
    cells, base = [], None
    for j in range(n):
        ns = [x[0] for x in by[j]]
        mean = st.mean(ns)
        base = mean if base is None else base
        if by[j][0][1] is None:
            cell = f'{mean:.2f} ({min(ns):.2f}-{max(ns):.2f})'
        else:
            fl = [x[1] for x in by[j]]
            cell = (f'{mean:.1f} ({min(ns):.0f}-{max(ns):.0f}; {st.mean(fl):.1f} %; '
                    f'{sum(f >= 15 for f in fl)}/{len(fl)})')
        if j:
            cell += f' {100 * (mean / base - 1):+.1f} %'
        cells.append(cell)
    print(f'| {name} | ' + ' | '.join(cells) + ' |')
EOF

#!/usr/bin/env python3
"""The dependency rules, checked over every project C file's quoted #include.

Two rules, each from docs/ARCHITECTURE.md:

1. Rooms. A file may include only from the rooms its own room may use:
     common               -> nothing else
     scanner, fiscal      -> common
     ofd                  -> common, fiscal
     store                -> common
     device               -> common, fiscal   (cash registers behind fn.h)
     device/emulator      -> common, fiscal, ofd, device (kassa-kkt-emu, a program)
     pos/till             -> common, scanner, fiscal, ofd, store, device
     pos/print            -> pos/till (and what it may use)
     pos/serve            -> pos/print, pos/till (...)
     pos/cli              -> pos/serve, pos/print, pos/till (...)
   tests/ and bench/ may include anything. A header is named by its path
   from the source root ("pos/till/sale.h"), so the path says the room.
   A pos/ file directly in pos/ (outside a room) is itself an error.

2. No circle. Units are files without their extension (sale.c and sale.h
   are one unit; X_internal.h belongs to unit X, it is X's private half).
   An edge goes from a unit to every unit it includes; any cycle in that
   graph is reported with its path.

Usage: tests/layering.py [ROOT]   (default: the current directory)
       tests/layering.py --self-test
Prints "layering: N passed, M failed" and exits non-zero on a failure.
"""
import os
import re
import shutil
import sys
import tempfile

# room -> the rooms it may include from (besides itself)
MODULES = {"common", "scanner", "fiscal", "ofd", "store", "device"}
ALLOWED = {
    "common": set(),
    "scanner": {"common"},
    "fiscal": {"common"},
    "ofd": {"common", "fiscal"},
    "store": {"common"},
    "device": {"common", "fiscal"},
    "device/emulator": {"common", "fiscal", "ofd", "device"},
    "pos/till": MODULES,
    "pos/print": MODULES | {"pos/till"},
    "pos/serve": MODULES | {"pos/print", "pos/till"},
    "pos/cli": MODULES | {"pos/serve", "pos/print", "pos/till"},
}
FREE = ("tests", "bench")  # may include anything; still part of the circle check
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def room_of(path):
    """The room of a root-relative path: the longest ALLOWED key it lies in."""
    best = None
    for room in ALLOWED:
        if path == room or path.startswith(room + "/"):
            if best is None or len(room) > len(best):
                best = room
    return best


def unit_of(path):
    base = os.path.splitext(path)[0]
    return base[: -len("_internal")] if base.endswith("_internal") else base


def c_files(root):
    for top in sorted({room.split("/")[0] for room in ALLOWED} | set(FREE)):
        for dirpath, dirs, files in os.walk(os.path.join(root, top)):
            dirs[:] = [d for d in dirs if d not in ("node_modules", "corpus", "data")]
            for f in files:
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, f), root)


def resolve(root, src, inc):
    """A quoted include: relative to the source root, else to the file."""
    if os.path.exists(os.path.join(root, inc)):
        return os.path.normpath(inc)
    local = os.path.normpath(os.path.join(os.path.dirname(src), inc))
    if os.path.exists(os.path.join(root, local)):
        return local
    return None


def check(root):
    problems = []
    graph = {}
    for src in sorted(c_files(root)):
        with open(os.path.join(root, src), encoding="utf-8", errors="replace") as f:
            text = f.read()
        free = src.split("/")[0] in FREE
        room = None if free else room_of(src)
        if not free and room is None:
            problems.append(f"{src}: lies in no room (pos/ files belong in pos/till, "
                            "pos/print, pos/serve or pos/cli)")
        unit = unit_of(src)
        graph.setdefault(unit, set())
        for m in INCLUDE.finditer(text):
            target = resolve(root, src, m.group(1))
            if target is None:
                continue  # a system header in quotes, or generated: not ours
            line = text.count("\n", 0, m.start()) + 1
            if not free and room is not None:
                troom = room_of(target)
                if troom is not None and troom != room and troom not in ALLOWED[room]:
                    problems.append(f"{src}:{line}: {room} must not include {target} ({troom})")
            tunit = unit_of(target)
            if tunit != unit:
                graph[unit].add(tunit)
    # Cycles: an iterative DFS, reporting each back edge's loop once.
    seen_cycles = set()
    colour = {}
    for start in sorted(graph):
        if colour.get(start):
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        colour[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                colour[node] = 2
                stack.pop()
                path.pop()
                continue
            c = colour.get(nxt, 0)
            if c == 0:
                colour[nxt] = 1
                stack.append((nxt, iter(sorted(graph.get(nxt, ())))))
                path.append(nxt)
            elif c == 1:
                loop = path[path.index(nxt):] + [nxt]
                key = frozenset(loop)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    problems.append("include circle: " + " -> ".join(loop))
    return problems, len(graph)


def self_test():
    """The checker fails on a wrong-way include and on a circle, and passes
    the same tree once they are gone."""
    failures = 0
    tmp = tempfile.mkdtemp(prefix="layering-")
    try:
        def put(path, text):
            full = os.path.join(tmp, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)

        put("fiscal/a.h", "")
        put("pos/till/x.h", '#include "fiscal/a.h"\n')
        put("pos/till/x.c", '#include "pos/till/x.h"\n#include "pos/till/x_internal.h"\n')
        put("pos/till/x_internal.h", '#include "pos/till/x.h"\n')
        put("pos/print/p.h", '#include "pos/till/x.h"\n')
        put("pos/cli/main.c", '#include "pos/print/p.h"\n')
        cases = [
            ("clean tree", {}, 0),
            ("till includes print", {"pos/till/x.c": '#include "pos/print/p.h"\n'}, 1),
            ("fiscal includes ofd", {"fiscal/a.h": '#include "ofd/b.h"\n', "ofd/b.h": ""}, 1),
            ("device includes ofd", {"device/d.c": '#include "ofd/b.h"\n', "ofd/b.h": ""}, 1),
            ("fiscal includes device", {"fiscal/a.h": '#include "device/d.h"\n',
                                        "device/d.h": ""}, 1),
            ("circle y -> z -> y", {"pos/till/y.h": '#include "pos/till/z.h"\n',
                                    "pos/till/z.c": '#include "pos/till/y.h"\n',
                                    "pos/till/y.c": "",
                                    "pos/till/z.h": '#include "pos/till/y.h"\n'}, 1),
            ("a file outside the rooms", {"pos/loose.c": ""}, 1),
        ]
        base = {}
        for dirpath, _, files in os.walk(tmp):
            for f in files:
                p = os.path.relpath(os.path.join(dirpath, f), tmp)
                base[p] = open(os.path.join(dirpath, f)).read()
        for name, extra, want in cases:
            shutil.rmtree(tmp)
            os.makedirs(tmp)
            for p, t in {**base, **extra}.items():
                put(p, t)
            got, _ = check(tmp)
            ok = (len(got) >= want) if want else not got
            if want and "circle" in name:
                ok = any(g.startswith("include circle") for g in got)
            print(f"self-test {name}: {'ok' if ok else 'WRONG'} {got}")
            failures += not ok
        return failures, len(cases)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if sys.argv[1:] == ["--self-test"]:
        failed, total = self_test()
        print(f"layering: {total - failed} passed, {failed} failed")
        return 1 if failed else 0
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    problems, units = check(root)
    for p in problems:
        print("layering: " + p, file=sys.stderr)
    print(f"layering: {units} units checked, {len(problems)} problems")
    print(f"layering: {0 if problems else 1} passed, {1 if problems else 0} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

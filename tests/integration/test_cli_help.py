#!/usr/bin/env python3
"""test_cli_help.py KASSA KASSA_OPERATOR: `--help` on every command and
subcommand prints its usage on stdout and exits 0.

The commands are read from `kassa --help` and the subcommands from each
command's own usage ("kassa CMD SUB ..." lines), so a command added later
is tried without touching this file. `--help` wins wherever it stands on
the line, also after other options (`kassa sale pay --cash 1 --help`), and
never touches the data directory (a fresh, empty one is given). The same
for kassa-operator's subcommands. Prints "N passed, N failed".
"""
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, run  # noqa: E402

KASSA, OPERATOR = sys.argv[1], sys.argv[2]
check = Checks()
empty = tempfile.mkdtemp(prefix="kassa-help-")


def helps(argv, name):
    r = run(argv, timeout=20)
    check(f"{name}: exit 0", r.returncode == 0, (r.returncode, r.stderr[:300]))
    check(f"{name}: usage on stdout", "usage" in r.stdout.lower(), r.stdout[:300])
    return r.stdout


top = helps([KASSA, "--help"], "kassa --help")
commands = re.findall(r"^  ([a-z]+) ", top.split("commands:")[1].split("\n\n")[0], re.M)
check("kassa --help lists the commands", len(commands) >= 15, commands)
tried = 0
for cmd in commands:
    usage = helps([KASSA, "--data", empty, cmd, "--help"], f"kassa {cmd} --help")
    subs = sorted(set(re.findall(rf"kassa {cmd} ([a-z][a-z0-9-]*)", usage)))
    for sub in subs:
        helps([KASSA, "--data", empty, cmd, sub, "--help"], f"kassa {cmd} {sub} --help")
        helps([KASSA, "--data", empty, cmd, sub, "-h"], f"kassa {cmd} {sub} -h")
        tried += 1
check("subcommands found and tried", tried >= 30, tried)
# After other options, and after an operand.
helps([KASSA, "--data", empty, "sale", "pay", "--cash", "1.00", "--help"], "sale pay --cash --help")
helps([KASSA, "--data", empty, "sale", "add", "0104600000000000215ABC", "--help"], "sale add CODE --help")
check("--help made nothing in the data directory", os.listdir(empty) == [], os.listdir(empty))
# A word after "--" is an operand, not a request for help.
r = run([KASSA, "--data", empty, "code", "parse", "--", "--help"], timeout=20)
check("after --, --help is an operand", r.returncode == 1 and "usage" not in r.stdout.lower(),
      (r.returncode, r.stdout[:200]))

top = helps([OPERATOR, "--help"], "kassa-operator --help")
for line in re.findall(r"kassa-operator --data DIR ([a-z]+(?: [a-z]+)?)", top):
    words = line.split()
    if len(words) == 2 and words[1] not in ("add", "new"):
        words = words[:1]
    helps([OPERATOR, "--data", empty, *words, "--help"], f"kassa-operator {' '.join(words)} --help")
r = run([OPERATOR], timeout=20)
check("kassa-operator without --data: usage error 2 on stderr", r.returncode == 2 and
      "usage" in r.stderr, (r.returncode, r.stderr[:200]))

os.rmdir(empty) if not os.listdir(empty) else None
sys.exit(check.summary())

#!/usr/bin/env python3
"""test_cli_code.py KASSA: the `kassa code parse` contract, end to end.

Runs the real binary the way integrators do and checks the JSON fields of
DESIGN.md ("Contracts other tools rely on"), the exit codes (0 all parsed,
1 any refused, 2 usage or I/O failure) and stdin mode (a mapped file and a
pipe). Prints "N passed, N failed".
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks  # noqa: E402

KASSA = sys.argv[1]
check = Checks()


def run(args, stdin=None):
    p = subprocess.run([KASSA] + args, input=stdin, capture_output=True, text=True, timeout=30)
    return p.returncode, [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")], p


CONTRACT = {"ok": bool, "kind": str, "gtin": str, "serial": str, "ki": str, "key": str,
            "tail": str, "type2100": int, "ais": dict, "normalized": str, "fixes": list,
            "tag1162": str, "tag1163": dict}

# One code of every kind, as --escaped input.
KINDS = {
    "gs1": r"010461008041021521e,s;r!t%BroGd\x1d91EE11\x1d929GkndNAXaeC4gMRT4LHKh/EkGRn4+gUPdrWMpbtkejw=",
    "tobacco_pack": "04606203084623+A13gPh-4Hi7uGl",
    "fur": "RU-430302-AAA4050108",
    "egais2": "22N0000154ZQFMTJ5L33B6A7012000009283402209210011018RUSM9U2QAYMIHGBFN",
    "egais3": "136" + "1" * 147,
    "ean13": "4607038046435",
    "ean8": "46198488",
    "itf14": "14607038046432",
}
for kind, code in KINDS.items():
    rc, out, p = run(["code", "parse", "--escaped", code])
    check(f"{kind} exit 0", rc == 0, p.stderr)
    check(f"{kind} one line", len(out) == 1)
    if not out:
        continue
    o = out[0]
    for field, typ in CONTRACT.items():
        check(f"{kind} has {field}", isinstance(o.get(field), typ), repr(o.get(field)))
    check(f"{kind} kind", o.get("kind") == kind, o.get("kind"))
    check(f"{kind} tag1163", isinstance(o["tag1163"].get("tag"), int) and isinstance(o["tag1163"].get("value"), str))
    check(f"{kind} tag1162 hex", all(c in "0123456789ABCDEF" for c in o["tag1162"]) and len(o["tag1162"]) % 2 == 0)

gs1 = run(["code", "parse", "--escaped", KINDS["gs1"]])[1][0]
check("gs1 normalized has real GS", "\x1d" in gs1["normalized"])
check("gs1 ais", gs1["ais"] == {"01": "04610080410215", "21": "e,s;r!t%BroGd", "91": "EE11",
                                "92": "9GkndNAXaeC4gMRT4LHKh/EkGRn4+gUPdrWMpbtkejw="}, gs1["ais"])
check("gs1 tag1162", gs1["tag1162"].startswith("444D"))
check("gs1 type2100", gs1["type2100"] == 4)

# Every refusal has its own code, a message in both languages and a position.
BAD = {
    "empty": "",
    "too_long": "0" * 600,
    "gtin_check_digit": "015175404137639621Pg0R4Vcxuarsu\\x1d91ffd0\\x1d92tHvxvNv2hZna+QJefLW+4th9wmu04kwn0yPNJ/xWO9U=",
    "serial_charset": "0103041094787443215Qb~g!\\x1d93Zjqw",
    "serial_length": "010461008041021521e,s;r!t%BroGdABCDEFGH\\x1d91EE11\\x1d929GkndNAXaeC4gMRT4LHKh/EkGRn4+gUPdrWMpbtkejw=",
    "ai_unknown": "0103041094787443215Qbag!\\x1d93Zjqw\\x1d3356000123",
    "tail_length": "010460780959150821sSBmxTYIFT(eq\\x1d91FFD0\\x1d92testtesttest",
    "key_length": "010461008041021521e,s;r!t%BroGd\\x1d91EE1\\x1d929GkndNAXaeC4gMRT4LHKh/EkGRn4+gUPdrWMpbtkejw=",
    "tobacco_truncated": "04606203084623+A13gPh-4Hi",
    "caps_lock": "010461008041021521E,S;R!T%BROGD\\x1d91EE11\\x1d929GKNDNAXAEC4GMRT4LHKH/EKGRN4+GUPDRWMPBTKEJW=",
    "trailing_garbage": "0103041094787443215Qbag!\\x1d93Zjqw!!!",
    "bad_utf8": "0103041094787443215Qbag!\\xff",
    "unknown_format": "hello",
    "gs_missing": "010461008041021521e,s;r!t%BroGdABCDEFGHIJ",
    "check_digit": "4607038046436",
    "fur_format": "RU-430302-AA14050108",
}
for code, text in BAD.items():
    rc, out, p = run(["code", "parse", "--escaped", text])
    check(f"refuse {code} exit 1", rc == 1, f"rc={rc}")
    o = out[0] if out else {}
    check(f"refuse {code} code", o.get("ok") is False and o.get("error") == code, json.dumps(o, ensure_ascii=False))
    check(f"refuse {code} messages", len(o.get("message", "")) > 10 and len(o.get("message_en", "")) > 10)
    check(f"refuse {code} position", isinstance(o.get("at"), int) and o["at"] >= 0)

# Issue 15: family rules are notes, GS1 decides when the separators are there.
rc, out, _ = run(["code", "parse", "--escaped", "0104602220006549215opFcmK\\x1d93dGVz",
                  "014494550435306821QXYXSALGLMYQQ\\x1d91EE06\\x1d92YWCXbmK6SN8vvwoxZFk7WAY8WoJNMGGr6Cgtiuja04c="])
check("7-char serial with 93 accepted", rc == 0 and out[0].get("ok") is True and out[0].get("serial") == "5opFcmK",
      json.dumps(out, ensure_ascii=False))
check("GTIN indicator 4 accepted with a note", len(out) == 2 and out[1].get("ok") is True
      and "gtin_indicator" in out[1]["fixes"], json.dumps(out, ensure_ascii=False))

# stdin mode: one JSON line per input line; exit 1 because one is refused.
rc, out, _ = run(["code", "parse", "--escaped"], stdin=KINDS["fur"] + "\n" + KINDS["ean8"] + "\r\nhello\n")
check("stdin three lines", len(out) == 3)
check("stdin exit 1", rc == 1)
check("stdin order", [o.get("kind") for o in out[:2]] == ["fur", "ean8"])
rc, out, _ = run(["code", "parse"], stdin=KINDS["fur"] + "\n")
check("stdin all ok exit 0", rc == 0 and out[0]["ok"])

# stdin as a regular file is mapped, a pipe is read in blocks: the same
# bytes out of both, for CRLF, empty lines, a last line without its newline,
# a line past the command's cut (2 055 bytes) and one past the 1 MiB block.
lines = [KINDS["gs1"].replace("\\x1d", "\x1d"), KINDS["fur"] + "\r", "", "hello",
         "0" * 5000, KINDS["ean8"], "x" * (1 << 21), KINDS["tobacco_pack"]]
data = ("\n".join(lines)).encode()  # no newline after the last line
piped = subprocess.run([KASSA, "code", "parse"], input=data, capture_output=True, timeout=60)
with tempfile.TemporaryFile() as f:
    f.write(data)
    f.seek(0)
    mapped = subprocess.run([KASSA, "code", "parse"], stdin=f, capture_output=True, timeout=60)
    check("stdin file: at its end after", f.tell() == len(data), f"{f.tell()} of {len(data)}")
check("stdin pipe: one line a line", piped.stdout.count(b"\n") == len(lines) and piped.returncode == 1,
      f"{piped.stdout.count(b'{')} lines, rc={piped.returncode}")
check("stdin file and pipe agree", mapped.stdout == piped.stdout and mapped.returncode == 1,
      f"rc={mapped.returncode}")
# A last line without its newline longer than the 1 MiB block: the mapped
# file hands it on to the reading loop, which grows its block.
tail_data = data + b"\n" + b"y" * (1 << 21)
piped = subprocess.run([KASSA, "code", "parse"], input=tail_data, capture_output=True, timeout=60)
with tempfile.TemporaryFile() as f:
    f.write(tail_data)
    f.seek(0)
    mapped = subprocess.run([KASSA, "code", "parse"], stdin=f, capture_output=True, timeout=60)
check("a long unfinished last line, file and pipe agree",
      mapped.stdout == piped.stdout and piped.stdout.count(b"\n") == len(lines) + 1,
      f"{mapped.stdout.count(b'{')} and {piped.stdout.count(b'{')} lines")
# Started part way (a shell read the first lines): from there on, also
# past the first page, the same as those lines through a pipe.
with tempfile.TemporaryFile() as f:
    f.write(data)
    at = data.index(b"0" * 5000) + 5001  # the start of the line after the long one
    f.seek(at)
    rest = subprocess.run([KASSA, "code", "parse"], stdin=f, capture_output=True, timeout=60)
    want = subprocess.run([KASSA, "code", "parse"], input=data[at:], capture_output=True, timeout=60)
    check("stdin file from an offset", at > 4096 and rest.stdout == want.stdout
          and rest.stdout.count(b"\n") == 3, rest.stdout[:200])
# Codes are parsed 32 at a time before their JSON is written: past and
# across batches (101 lines, not a multiple of 32; as arguments too) every
# line still comes out once, in order, and a refusal anywhere sets the exit.
order = [KINDS["fur"], KINDS["ean8"], KINDS["tobacco_pack"], "hello"]
many = [order[i % len(order)] for i in range(101)]
rc, out, _ = run(["code", "parse"], stdin="\n".join(many) + "\n")
check("101 lines through batches: in order", len(out) == 101 and rc == 1
      and [o.get("kind") for o in out] == [{0: "fur", 1: "ean8", 2: "tobacco_pack", 3: None}[i % 4]
                                           for i in range(101)], f"rc={rc}, {len(out)} lines")
rc, out, _ = run(["code", "parse"] + many[:65])
check("65 codes as arguments: in order", len(out) == 65 and rc == 1
      and [o["ok"] for o in out] == [i % 4 != 3 for i in range(65)])
rc, out, _ = run(["code", "parse"], stdin="\n".join([KINDS["fur"]] * 40) + "\n")
check("40 lines all ok: exit 0", len(out) == 40 and rc == 0 and all(o["ok"] for o in out))
# A write that fails is an error, not a silent loss.
if os.path.exists("/dev/full"):
    with open("/dev/full", "wb") as full:
        p = subprocess.run([KASSA, "code", "parse", "46198488"], stdout=full, stderr=subprocess.PIPE,
                           timeout=30)
    check("stdout full: exit 2 and said", p.returncode == 2 and b"stdout" in p.stderr, p.stderr)

# Without --escaped a literal \x1d is still a GS spelling the engine repairs.
rc, out, _ = run(["code", "parse", r"0103041094787443215Qbag!\x1d93Zjqw"])
check("literal \\x1d repaired", rc == 0 and "gs_text" in out[0]["fixes"])

# Usage errors and help.
rc, _, p = run(["code", "parse", "--bogus"])
check("unknown option exit 2", rc == 2 and "usage" in p.stderr)
rc, _, p = run(["code"])
check("no subcommand exit 2", rc == 2)
rc, _, p = run(["frobnicate"])
check("unknown command exit 2", rc == 2)
rc, _, p = run(["--help"])
check("kassa --help", rc == 0 and "code" in p.stdout and "--config" in p.stdout)
rc, _, p = run(["code", "--help"])
check("kassa code --help", rc == 0 and "--escaped" in p.stdout and "Exit status" in p.stdout)
rc, _, p = run(["--config", "/nonexistent/kassa.conf", "code", "parse", "46198488"])
check("missing --config file exit 2", rc == 2 and "cannot read config" in p.stderr)

sys.exit(check.summary())

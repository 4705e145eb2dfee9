#!/usr/bin/env python3
"""test_cli_accept.py: `kassa accept` end to end against a data directory.

Usage: test_cli_accept.py KASSA_BINARY   (run from the source root)

Each scenario gets a fresh data directory. What is checked:
  - comparing only changes nothing (no cache is even created) and exits 1
    when something is missing or extra, 0 when the delivery matches;
  - --all on a delivery with a missing and an extra code is refused (exit
    1, refusal "missing") and writes nothing: a later --part finds no code
    already in stock;
  - --part puts exactly the matched codes into stock (a second --part sees
    all of them already in stock);
  - --all on a delivery that matches accepts everything;
  - --reject writes nothing;
  - bad files fail with their error name, the line, and Russian and
    English messages, as JSON with --json and as text on stderr without;
  - usage errors exit 2.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks  # noqa: E402

DATA = "tests/data/utd/"
UTD501 = DATA + "ON_NSCHFDOPPR_501_cp1251.xml"
UTD503 = DATA + "ON_NSCHFDOPPR_503_utf8.xml"
SCAN501 = DATA + "scanned_501.txt"
SCAN503 = DATA + "scanned_503.txt"
LIST = DATA + "delivery_list.txt"
LIST_SCAN = DATA + "scanned_list_exact.txt"

check = Checks()


def run(kassa, data, *args):
    p = subprocess.run([kassa, "--data", data, "accept", *args], capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def run_json(kassa, data, *args):
    rc, out, err = run(kassa, data, *args, "--json")
    try:
        return rc, json.loads(out), err
    except ValueError:
        print("not JSON:", out, err)
        return rc, {}, err


def line_of(path, needle):
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            if needle.encode("utf-8") in line:
                return n
    raise AssertionError(needle + " not in " + path)


def main():
    kassa = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="kassa-accept-")
    n = 0

    def fresh():
        nonlocal n
        n += 1
        return os.path.join(tmp, "data%d" % n)

    # Compare only: nothing written, differences exit 1.
    data = fresh()
    rc, out, err = run(kassa, data, "--utd", UTD501, "--scanned", SCAN501)
    check("compare with differences exits 1 (got %d: %s)" % (rc, err), rc == 1)
    check("Russian text lists the missing code", "Не отсканированы (есть в документе): 1" in out)
    check("English text lists it too", "Missing (in the document, not scanned): 1" in out)
    check("the missing code is named", "010460780959145421m9tNPzJTWzuc9exC5/M+" in out)
    check("comparing creates no cache", not os.path.exists(os.path.join(data, "cache.db")))
    rc, j, _ = run_json(kassa, data, "--list", LIST, "--scanned", LIST_SCAN)
    check("a matching delivery compares clean (exit 0)",
          rc == 0 and j.get("ok") is True and j.get("outcome") == "compared")

    # --all refused: nothing written.
    data = fresh()
    rc, j, _ = run_json(kassa, data, "--utd", UTD501, "--scanned", SCAN501, "--all")
    check("--all with missing and extra exits 1", rc == 1)
    check("refused for missing", j.get("outcome") == "refused" and j.get("refusal") == "missing")
    check("nothing accepted", j.get("counts", {}).get("accepted") == 0)
    check("the refusal names missing and extra",
          "missing: 1" in j.get("message_en", "") and "extra: 1" in j.get("message_en", ""))
    check("Russian message", any(0x400 <= ord(c) <= 0x4FF for c in j.get("message", "")))
    rc, j, _ = run_json(kassa, data, "--utd", UTD501, "--scanned", SCAN501, "--part")
    check("--part after a refusal accepts", rc == 0 and j.get("outcome") == "accepted_part")
    check("the refused --all wrote nothing", j.get("counts", {}).get("already_in_stock") == 0)
    check("--part accepts the 11 matched codes", j.get("counts", {}).get("accepted") == 11)
    accepted = set(j.get("accepted", []))
    check("the missing code stays out", "010460780959145421m9tNPzJTWzuc9exC5/M+" not in accepted)
    check("the extra code stays out", "010464007801637221AgqLybqxM9MbR" not in accepted)
    check("accepted = matched", accepted == set(j.get("matched", [])))
    pk = j.get("packages", [])
    check("packages reported (an SSCC box and a tobacco block)",
          len(pk) == 2 and {p["kind"] for p in pk} == {"sscc", "group"})
    check("packages say why", all("disaggregate" in p["message_en"].lower() for p in pk))
    rc, j, _ = run_json(kassa, data, "--utd", UTD501, "--scanned", SCAN501, "--part")
    check("a second --part finds them in stock", j.get("counts", {}).get("already_in_stock") == 11)

    # --all on a matching delivery.
    data = fresh()
    rc, j, _ = run_json(kassa, data, "--list", LIST, "--scanned", LIST_SCAN, "--all")
    check("--all on a matching delivery", rc == 0 and j.get("outcome") == "accepted_all")
    check("five codes accepted", j.get("counts", {}).get("accepted") == 5)
    check("the data directory is created 0700", oct(os.stat(data).st_mode & 0o777) == "0o700")

    # The UTF-8 UTD of a sole trader: tobacco pack and fur accepted, invalid reported.
    rc, j, _ = run_json(kassa, data, "--utd", UTD503, "--scanned", SCAN503, "--part")
    check("5.03 UTD accepted in part", rc == 0 and j.get("outcome") == "accepted_part")
    check("the tobacco pack, by its ki", "04606203084623+A13gPh" in j.get("accepted", []))
    check("supplier named", j["document"]["supplier_name"] == "ИП Сидорова Анна Сергеевна")
    inv = {i["text"]: i for i in j.get("invalid", [])}
    check("a bad check digit is reported, not dropped",
          inv.get("010464007801637321AgqLybqxM9MbR", {}).get("error") == "gtin_check_digit")
    check("with its line", inv.get("010464007801637321AgqLybqxM9MbR", {}).get("line") ==
          line_of(UTD503, "010464007801637321AgqLybqxM9MbR"))
    check("a bad scan is reported too", inv.get("0104600439931256", {}).get("side") == "delivery")

    # --reject writes nothing.
    data = fresh()
    rc, j, _ = run_json(kassa, data, "--list", LIST, "--scanned", LIST_SCAN, "--reject")
    check("--reject", rc == 0 and j.get("outcome") == "rejected")
    rc, j, _ = run_json(kassa, data, "--list", LIST, "--scanned", LIST_SCAN, "--all")
    check("the rejection wrote nothing", j.get("counts", {}).get("already_in_stock") == 0)

    # Bad files.
    data = fresh()
    mismatch = DATA + "malformed_mismatch.xml"
    rc, j, _ = run_json(kassa, data, "--utd", mismatch, "--scanned", SCAN501)
    want = line_of(mismatch, "ZOi;</НомСредИдентТов>")
    check("malformed XML: error xml at line %d (got %s)" % (want, j),
          rc == 1 and j.get("ok") is False and j.get("error") == "xml" and j.get("line") == want)
    rc, out, err = run(kassa, data, "--utd", mismatch, "--scanned", SCAN501)
    check("the text error names the line in both languages",
          rc == 1 and out == "" and ("строка %d" % want) in err and ("line %d" % want) in err)
    for name, code in (("not_utd.xml", "not_utd"), ("no_document.xml", "not_utd"),
                       ("doctype_entities.xml", "xml"), ("empty_utd.xml", "no_codes"),
                       ("cp1251_undeclared.xml", "xml"), ("no-such.xml", "io")):
        rc, j, _ = run_json(kassa, data, "--utd", DATA + name, "--scanned", SCAN501)
        check("%s -> %s (got %s)" % (name, code, j.get("error")),
              rc == 1 and j.get("error") == code and j.get("message") and j.get("message_en"))
    rc, j, _ = run_json(kassa, data, "--utd", UTD501, "--scanned", DATA + "list_cp1251.txt")
    check("a scanned list that is not UTF-8 is refused at its line",
          rc == 1 and j.get("error") == "encoding" and j.get("line") == 3)
    check("bad files change nothing", not os.path.exists(os.path.join(data, "cache.db")))

    # Usage.
    for args in ([], ["--utd", UTD501], ["--utd", UTD501, "--list", LIST, "--scanned", SCAN501],
                 ["--list", LIST, "--scanned", SCAN501, "--all", "--part"],
                 ["--list", LIST, "--scanned", SCAN501, "--bogus"], ["--utd"]):
        rc, _, err = run(kassa, data, *args)
        check("usage error for %s" % args, rc == 2 and "usage" in err)
    rc, out, _ = run(kassa, data, "--help")
    check("--help", rc == 0 and "--scanned FILE" in out)

    shutil.rmtree(tmp, ignore_errors=True)
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())

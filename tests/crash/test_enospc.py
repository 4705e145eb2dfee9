#!/usr/bin/env python3
"""test_enospc.py KASSA: a full disk refuses cleanly and loses nothing.

The data directory lives on a small tmpfs (mounted here; this needs root,
as CI has: without it the test exits 77, which ctest reports as skipped,
not passed). A filler file leaves a few hundred kilobytes, and the till
sells (`kassa sale open/add/pay`, plain goods on an autonomous FN) until
the disk is full. Then:

  - the command that hit the full disk exits 1 and says so in words a
    manager reads (Russian and English), no crash, no sanitizer report;
  - `kassa fsck` is clean: every receipt the FN made is whole, numbered,
    signed; nothing half-written;
  - every receipt a `pay` reported (its FD number) is in the archive, and
    none other;
  - after the filler is removed the same till sells again, and the FN's
    numbering continues without a gap.

Prints "N passed, N failed"; exit 1 on any failure.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import Checks  # noqa: E402

KASSA = sys.argv[1]
check = Checks()
root = tempfile.mkdtemp(prefix="kassa-enospc-")
mnt = os.path.join(root, "disk")
os.makedirs(mnt)
if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", mnt],
                  capture_output=True).returncode != 0:
    print("skipped: cannot mount a tmpfs here (needs root)")
    shutil.rmtree(root, ignore_errors=True)
    sys.exit(77)

data = os.path.join(mnt, "data")


def kassa(*args):
    return subprocess.run([KASSA, "--data", data] + list(args), capture_output=True, text=True,
                          timeout=60)


def clean_error(what, r):
    text = r.stdout + r.stderr
    check(f"{what}: exit 1", r.returncode == 1, (r.returncode, text))
    check(f"{what}: no crash or sanitizer report",
          "Sanitizer" not in text and "runtime error" not in text and r.returncode >= 0, text)
    check(f"{what}: says the disk is full, in Russian and English",
          re.search(r"(диск|памят|storage|disk)", text, re.I) is not None and
          re.search(r"[а-яА-Я]", text) is not None, text)
    check(f"{what}: names the full disk precisely (issue 18: not 'the FN refused')",
          "disk_full" in text and "Диск кассы заполнен" in text and "is full" in text, text)


try:
    r = kassa("fn", "init")
    check("fn init", r.returncode == 0, r.stderr)
    r = kassa("fn", "register", "--reg-number", "0000000001033333", "--inn", "7707083893",
              "--name", "Магазин", "--address", "Москва", "--autonomous", "--no-marking")
    check("fn register (autonomous)", r.returncode == 0, r.stderr)
    check("shift open", kassa("shift", "open").returncode == 0)
    cat = os.path.join(root, "catalogue.csv")
    with open(cat, "w") as f:
        f.write("gtin;name;price;vat;group;group_id;marking;strict;weighed;excise\n"
                "4600000005058;Хлеб бородинский, нарезка, в упаковке;55.00;1;;0;0;0;0;0\n")
    check("catalogue", kassa("cache", "import-catalogue", cat).returncode == 0)

    # Leave a little room, then sell until it is gone.
    st = os.statvfs(mnt)
    free = st.f_bavail * st.f_frsize
    filler = os.path.join(mnt, "filler")
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - 400 * 1024))
    paid, failure = [], None
    for i in range(3000):
        r = kassa("sale", "open")
        if r.returncode != 0:
            failure = ("open", r)
            break
        r = kassa("sale", "add", "4600000005058")
        if r.returncode != 0:
            failure = ("add", r)
            break
        r = kassa("sale", "pay", "--json")
        if r.returncode != 0:
            failure = ("pay", r)
            break
        paid.append(json.loads(r.stdout)["document"])
    check("the disk filled up", failure is not None and len(paid) > 5, (len(paid), failure))
    if failure:
        print(f"full after {len(paid)} receipts, at `sale {failure[0]}`")
        clean_error(f"sale {failure[0]} on a full disk", failure[1])

    r = kassa("fsck", "--json")
    rep = json.loads(r.stdout) if r.stdout.startswith("{") else {}
    check("fsck clean on the full disk", r.returncode == 0 and rep.get("clean") is True,
          r.stdout + r.stderr)
    # Registration and shift open, then one receipt per reported pay:
    # nothing the FN made was lost, nothing was made that was not reported.
    check("every paid receipt is in the archive, and none other",
          rep.get("receipts") == len(paid) and rep.get("documents") == len(paid) + 2 and
          sorted(paid) == list(range(3, len(paid) + 3)), (rep, len(paid)))

    # Room again: the same till goes on, numbering without a gap.
    os.remove(filler)
    kassa("sale", "cancel")
    r1, r2 = kassa("sale", "open"), kassa("sale", "add", "4600000005058")
    r3 = kassa("sale", "pay", "--json")
    check("sells again once there is room", r3.returncode == 0, r1.stderr + r2.stderr + r3.stderr)
    if r3.returncode == 0 and paid:
        doc = json.loads(r3.stdout)["document"]
        check("numbering continues without a gap", doc == max(paid) + 1, (doc, max(paid)))
    r = kassa("fsck")
    check("fsck clean afterwards", r.returncode == 0, r.stdout + r.stderr)

    # A data directory mounted read-only (issue 18: it said "disk failed").
    kassa("sale", "open")
    check("remount read-only", subprocess.run(["mount", "-o", "remount,ro", mnt],
                                              capture_output=True).returncode == 0)
    r = kassa("sale", "add", "4600000005058")
    text = r.stdout + r.stderr
    check("a scan on a read-only data directory: exit 1, named precisely",
          r.returncode == 1 and ("read_only" in text or "только для чтения" in text)
          and "Sanitizer" not in text, (r.returncode, text))
    subprocess.run(["mount", "-o", "remount,rw", mnt], capture_output=True)
    r = kassa("sale", "add", "4600000005058")
    check("writable again: the scan goes in", r.returncode == 0, r.stdout + r.stderr)
finally:
    subprocess.run(["umount", mnt], capture_output=True)
    if check.failed == 0:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"kept {root}")
sys.exit(check.summary())

#!/usr/bin/env python3
"""test_cli_fiscal.py KASSA FN_STORM: `kassa fn`, `kassa shift`, `kassa fd` end to end.

A fresh data directory each run: create the FN, refuse bad registrations
with exit 2 and nothing written, register, open a shift, refuse a second
open with the FN's state error (0x02), list and show the documents (FNS JSON
names), dump TLV, close the shift. Then FN_STORM (tests/crash/fn_storm.c, the kill-loop
writer) fills a second data directory with real receipts, some with three
marked lines and one plain line, and `kassa fd list/show` must list them and
show their marking requisites. Prints "N passed, N failed".
"""
import json
import os
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks  # noqa: E402

KASSA = sys.argv[1]
FN_STORM = sys.argv[2]
check = Checks()
data = tempfile.mkdtemp(prefix="kassa-fiscal-")
data_dir = os.path.join(data, "d")


def run(*args):
    p = subprocess.run([KASSA, "--data", data_dir] + list(args), capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


REG = ["fn", "register", "--reg-number", "0000000001012345", "--inn", "7707083893",
       "--name", "ООО «Ромашка»", "--address", "г. Москва, ул. Тверская, 1",
       "--ofd-inn", "7704211201", "--ofd-name", "ОФД-эмулятор", "--cashier", "Иванова"]

rc, out, err = run("fn", "status")
check("status before init fails", rc == 1 and "fn init" in err, err)
rc, out, err = run("fn", "init", "--fn-number", "123")
check("bad FN number exit 2", rc == 2, err)
rc, out, err = run("fn", "init", "--fn-number", "9999078900001234")
check("init", rc == 0 and "9999078900001234" in out, out + err)
check("data dir 0700", (os.stat(data_dir).st_mode & 0o777) == 0o700)
check("fn.db 0600", (os.stat(os.path.join(data_dir, "fn.db")).st_mode & 0o777) == 0o600)
rc, out, err = run("fn", "init")
check("second init refused", rc == 1 and "never overwritten" in err, err)

bad_inn = list(REG)
bad_inn[bad_inn.index("7707083893")] = "7707083894"
rc, out, err = run(*bad_inn)
check("bad INN exit 2", rc == 2 and "INN" in err, err)
rc, out, err = run("fn", "register", "--inn", "7707083893")
check("missing fields exit 2", rc == 2 and "required" in err, err)
rc, out, err = run("fn", "status", "--json")
check("still unregistered", rc == 0 and json.loads(out)["lastDocument"] == 0, out + err)

rc, out, err = run(*REG)
check("register", rc == 0 and "document 1" in out, out + err)
rc, out, err = run("shift", "open", "--cashier", "Иванова")
check("shift open", rc == 0 and "document 2" in out, out + err)
rc, out, err = run("shift", "open")
check("second shift open refused 0x02", rc == 1 and "0x02" in err, err)
rc, out, err = run("fn", "status", "--json")
st = json.loads(out) if rc == 0 else {}
check("status json", st.get("shiftOpen") is True and st.get("lastDocument") == 2
      and st.get("unsentDocuments") == 2, out + err)

rc, out, err = run("fd", "list")
lines = [l for l in out.splitlines()[1:] if l.strip()]
check("fd list two documents", rc == 0 and len(lines) == 2 and "registration" in lines[0]
      and "shift open" in lines[1], out + err)
rc, out, err = run("fd", "show", "2", "--json")
try:
    doc = json.loads(out)
except ValueError:
    doc = {}
body = next(iter(doc.values()), {}) if doc else {}
check("fd show --json", rc == 0 and body.get("fiscalDocumentNumber") == 2
      and body.get("fiscalDriveNumber") == "9999078900001234", out + err)
check("fd show has fiscal sign", "fiscalSign" in body, out)
rc, out, err = run("fd", "dump", "1")
check("fd dump", rc == 0 and "1040" in out and "1077" in out, out + err)
rc, out, err = run("fd", "show", "99")
check("fd show missing", rc == 1 and "no document 99" in err, err)
rc, out, err = run("fd", "show", "x")
check("fd show usage", rc == 2, err)
rc, out, err = run("shift", "close")
check("shift close", rc == 0 and "document 3" in out, out + err)

# Receipts with marked lines, written by the storm writer through the real FN.
data_dir = os.path.join(data, "storm")
os.mkdir(data_dir, 0o700)
subprocess.run([FN_STORM, "--init", os.path.join(data_dir, "fn.db")], check=True, timeout=30)
storm = subprocess.Popen([FN_STORM, os.path.join(data_dir, "fn.db")], stdout=subprocess.PIPE)
docs = 0
while docs < 40:
    line = storm.stdout.readline()
    if not line:
        break
    docs += line.startswith(b"doc ")
storm.send_signal(signal.SIGKILL)
storm.wait()
rc, out, err = run("fd", "list", "--limit", "100")
receipts = [l.split()[0] for l in out.splitlines()[1:] if " receipt " in l]
check("storm receipts listed", rc == 0 and len(receipts) >= 20, out + err)
found = None
for n in receipts:
    rc, out, err = run("fd", "show", n, "--json")
    body = next(iter(json.loads(out).values()))
    items = body.get("items", [])
    marked = [i for i in items if "markingCode" in i]
    if len(items) == 4 and len(marked) == 3:
        found = body
        break
check("a receipt with three marked lines and one plain line", found is not None)
if found:
    marked = [i for i in found["items"] if "markingCode" in i]
    plain = [i for i in found["items"] if "markingCode" not in i]
    check("marked lines carry 1163, 2100, 2106, 2003", all(
        "productCodeNew" in i and "labelCodeType" in i and "plannedStatus" in i
        and i.get("checkingProdInformationResult") == 3  # tail checked and valid
        for i in marked), json.dumps(marked, ensure_ascii=False)[:400])
    check("marking code keeps its GS", all("\u001d" in i["markingCode"] for i in marked),
          json.dumps(marked[0], ensure_ascii=False)[:300])
    check("plain line has no marking requisites", "productCodeNew" not in plain[0])
    check("receipt is signed", isinstance(found.get("fiscalSign"), (str, int)))

sys.exit(check.summary())

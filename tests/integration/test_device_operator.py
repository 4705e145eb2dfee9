#!/usr/bin/env python3
"""test_device_operator.py KASSA KKT_EMU OPERATOR: a register that talks to the operators itself.

kassa-kkt-emu with --ofd/--oism is a register with its own links, as a real
one (fn.h, FN_CAP_DEVICE_DELIVERS). The till drives it through `[fn]
backend`; a marked good is sold: the register's FN checks the code's tail
(FF61h) with the keys the register loaded from the key server itself
(--keys), the register asks kassa-operator's OISM itself and the till takes
the answer's bits from the check (2106 bits 4 and 8), the code is bound to
its line (FF67h) and the receipt closed (FF45h). Then the register, not
kassa, delivers: every document of its FN reaches kassa-operator's OFD
byte for byte and is acknowledged in the FN, and the sale notification is
applied at the OISM, while `kassa ofd flush` through the register sends
nothing. A code the operator blocked is refused by the OISM's answer.
Prints "N passed, N failed".
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Checks, finish, free_ports, run, stop_all, workdirs  # noqa: E402

KASSA, KKT_EMU, OPERATOR = sys.argv[1], sys.argv[2], sys.argv[3]
FN_NUMBER = "9999078900022077"
OWNER = "7707083893"
GS = "\x1d"
check = Checks()
root, till_dir, op_dir = workdirs("kassa-devop-", "till", "operator")
conf = os.path.join(root, "kassa.conf")
procs = []
ofd_port, oism_port, keys_port, op_http = ports = free_ports(4)
BASE = harness.till_conf(till_dir, ports) + f"""[service]
background = no
[till]
check = oism
"""


def kassa(*args):
    return run([KASSA, "--config", conf, *args], timeout=120)


def op(*args):
    return run([OPERATOR, "--data", op_dir, *args])


def gtin13(body12):
    s = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - s % 10) % 10)


try:
    with open(conf, "w") as f:
        f.write(BASE)
    harness.register_fn(kassa, op, check, FN_NUMBER, OWNER, os.path.join(till_dir, "fn.db"))
    oper = subprocess.Popen([OPERATOR, "--data", op_dir, "--ofd-port", str(ofd_port),
                             "--oism-port", str(oism_port), "--keys-port", str(keys_port),
                             "--http-port", str(op_http)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    procs.append(oper)
    check("operator ready", oper.stdout.readline().startswith("kassa-operator: ofd"))

    shoe = gtin13("460123450999")
    catalogue = os.path.join(root, "catalogue.csv")
    with open(catalogue, "w", encoding="utf-8") as f:
        f.write("gtin;name;price;vat;group;group_id;marking;strict;weighed;excise\n"
                f"{shoe};Туфли женские;2500.00;2;footwear;2;1;0;0;0\n")
    r = kassa("cache", "import-catalogue", catalogue)
    check("catalogue", r.returncode == 0, r.stdout + r.stderr)
    r = op("issue", "--gtin", "0" + shoe, "--group", "footwear", "--count", "2", "--owner", OWNER)
    codes = r.stdout.split()
    check("codes issued", r.returncode == 0 and len(codes) == 2, r.stderr)
    r = op("block", "--code", codes[1])
    check("one code blocked at the operator", r.returncode == 0, r.stderr)

    reg = subprocess.Popen([KKT_EMU, "--port", "0", "--fn-db", os.path.join(till_dir, "fn.db"),
                            "--ofd", f"127.0.0.1:{ofd_port}", "--oism", f"127.0.0.1:{oism_port}",
                            "--keys", f"127.0.0.1:{keys_port}"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(reg)
    line = reg.stdout.readline()
    check("register listening", line.startswith("listening on "), line)
    with open(conf, "w") as f:
        f.write(BASE + f"[fn]\nbackend = shtrih:tcp:127.0.0.1:{line.split()[-1]}\n")

    r = kassa("ofd", "keys")
    check("kassa loads no keys into a register's FN (the register does: FN_CAP_DEVICE_KEYS)",
          r.returncode == 0 and "loads its FN's verification keys itself" in r.stdout,
          r.stdout + r.stderr)
    r = kassa("shift", "open")
    check("shift open through the register", r.returncode == 0, r.stdout + r.stderr)
    r = kassa("sale", "open")
    check("sale open", r.returncode == 0, r.stdout + r.stderr)
    r = kassa("sale", "add", codes[0], "--escaped")
    check("a marked good: the register's OISM answer accepted", r.returncode == 0
          and r.stdout.startswith("OK"), r.stdout + r.stderr)
    r = kassa("sale", "add", codes[1], "--escaped")
    check("a blocked code: refused by the OISM's answer", r.returncode != 0
          and "ОТКАЗ" in r.stdout + r.stderr, r.stdout + r.stderr)
    r = kassa("sale", "pay")
    check("paid: the receipt through the register", r.returncode == 0 and "ФД 3" in r.stdout,
          r.stdout + r.stderr)
    r = kassa("ofd", "flush")
    check("kassa ofd flush sends nothing of the register's", r.returncode == 0,
          r.stdout + r.stderr)

    # The register delivers between commands (about once a second).
    deadline = time.time() + 30
    owed = None
    while time.time() < deadline:
        r = kassa("fn", "status")
        owed = [line for line in r.stdout.splitlines() if line.startswith("unsent")]
        if r.returncode == 0 and all(": 0" in line for line in owed):
            break
        time.sleep(0.5)
    reg.terminate()
    reg.wait(timeout=10)
    check("the register delivered everything", owed and all(": 0" in x for x in owed),
          (owed, reg.stderr.read()))
    oper.terminate()
    oper.wait(timeout=30)
    snap = harness.snapshot(os.path.join(till_dir, "fn.db"), os.path.join(op_dir, "operator.db"),
                            FN_NUMBER)
    check("every document at the OFD, byte for byte", snap["stored"] == snap["archive"]
          and len(snap["archive"]) == 3, (sorted(snap["stored"]), sorted(snap["archive"])))
    check("every document acknowledged in the FN", snap["acked"] == set(snap["archive"]),
          snap["acked"])
    check("the sale notification applied at the OISM and ticketed",
          snap["notes"] and snap["applied"] == snap["notes"] == snap["ticketed"], snap)

    # The operator gone: the register keeps answering its host while its own
    # link backs off (a document owed, a delivery tried between commands
    # about once a second; the backoff grows 1, 2, 4, 8 s). For 8 s every
    # `kassa fn status` answers: a register that slept the backoff out
    # answered none for seconds ("ККТ не отвечает").
    reg = harness.Register(os.path.join(till_dir, "fn.db"), procs, ports, program=KKT_EMU)
    with open(conf, "w") as f:
        f.write(BASE + reg.conf())
    r = kassa("report", "x")
    check("a document owed to the operator that is gone", r.returncode == 0, r.stdout + r.stderr)
    end, answered, failed = time.time() + 8, 0, []
    while time.time() < end:
        r = kassa("fn", "status")
        if r.returncode == 0:
            answered += 1
        else:
            failed.append(r.stderr.strip()[-200:])
        time.sleep(0.2)
    check("the register answers while its OFD link backs off", answered > 5 and not failed,
          (answered, failed[:2]))
    check("... and its log says why it could not deliver",
          "delivery" in open(reg.log, encoding="utf-8").read())
finally:
    stop_all(procs)

sys.exit(finish(check, root))

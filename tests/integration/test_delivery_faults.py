#!/usr/bin/env python3
"""test_delivery_faults.py OPERATOR E2E_TILL KASSA: delivery through a misbehaving operator.

Proves the Done-when line "with the fault-injection modes switched on in
turn during delivery, the operator ends with every document exactly once
and the FN with no unsent document", with real processes and sockets:

- E2E_TILL (tests/integration/e2e_till.c) makes a real FN and sells 300
  receipts (225 with marked lines, checked with the FN and a clean
  kassa-operator's OISM), delivering nothing: a few hundred fiscal
  documents and 225 sale notifications are owed;
- for each mode in drop, delay, garbage, refuse, dup-ack, kassa-operator is
  restarted with `--fault MODE` and `kassa ofd flush` runs against it (in
  delay mode it is SIGKILLed after a few seconds, mid-exchange). After each
  round, with both programs stopped: flush never crashed (exit 0 or 1, no
  sanitizer report; exit 1 names the reason); the FN's unsent counts never
  grew; every document the FN holds as acknowledged is stored by the
  operator (no acknowledgement the operator did not give), every
  notification the FN holds as ticketed is applied by the operator, and
  everything the operator stored is byte-identical to the FN's archive
  (so it never holds more than each document once). Each mode's own
  outcome is checked too: drop and garbage acknowledge nothing, delay makes
  partial progress, refuse answers 1022 = 3 and moves no document while
  the OISM (unaffected) takes every notification, dup-ack moves at least
  one document (refuse comes before dup-ack because a dup-ack run may, by
  timing, deliver everything);
- finally a clean operator and one flush: exit 0, nothing owed, the
  operator holds every (FN, document number) exactly once, equal to the
  FN's archive bytes, every notification applied once, every code sold.

Prints "N passed, N failed"; exit 1 on any failure.
"""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

OPERATOR, TILL, KASSA = sys.argv[1], sys.argv[2], sys.argv[3]
FN_NUMBER = "9999078900006262"
RECEIPTS = 300
passed = failed = 0
root = tempfile.mkdtemp(prefix="kassa-faults-")
till_dir = os.path.join(root, "till")
op_dir = os.path.join(root, "operator")
os.makedirs(till_dir)
os.makedirs(op_dir)
fn_db = os.path.join(till_dir, "fn.db")


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {str(detail)[:2000]}")


def gtin14(body12):
    digits = "0" + body12
    s = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(digits))
    return digits + str((10 - s % 10) % 10)


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_listening(port, seconds=15):
    end = time.time() + seconds
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def op(*args):
    return subprocess.run([OPERATOR, "--data", op_dir] + list(args), capture_output=True,
                          text=True, timeout=60)


class Operator:
    """kassa-operator on fresh loopback ports, stopped with SIGTERM."""

    def __init__(self, fault=None):
        self.ports = free_ports(4)
        args = [OPERATOR, "--data", op_dir, "--ofd-port", str(self.ports[0]), "--oism-port",
                str(self.ports[1]), "--keys-port", str(self.ports[2]), "--http-port",
                str(self.ports[3])]
        if fault:
            args += ["--fault", fault]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        check(f"operator {fault or 'clean'} listens",
              all(wait_listening(p) for p in self.ports[:3]))

    def stop(self, what):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "killed after 30 s"
        err = self.proc.stderr.read()
        check(f"{what}: operator exits 0 on SIGTERM", rc == 0, (rc, err[-2000:]))
        check(f"{what}: operator has no sanitizer report",
              "Sanitizer" not in err and "runtime error" not in err, err[-2000:])


def ofd_status():
    p = subprocess.run([KASSA, "--data", till_dir, "ofd", "status", "--json"],
                       capture_output=True, text=True, timeout=60)
    return json.loads(p.stdout) if p.returncode == 0 else {"error": p.stderr}


def flush(o, kill_after=None):
    """kassa ofd flush against o; kill_after: SIGKILL it after that many seconds."""
    args = [KASSA, "--data", till_dir, "ofd", "flush", "--ofd", f"127.0.0.1:{o.ports[0]}",
            "--oism", f"127.0.0.1:{o.ports[1]}", "--retries", "1"]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=kill_after if kill_after else 120)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
        out, err = p.communicate()
    return p.returncode, out, err


def snapshot():
    """What the FN and the operator hold, read-only, both programs stopped."""
    fdb = sqlite3.connect(f"file:{fn_db}?mode=ro", uri=True)
    odb = sqlite3.connect(f"file:{os.path.join(op_dir, 'operator.db')}?mode=ro", uri=True)
    s = {
        "archive": dict((n, bytes(b)) for n, b in fdb.execute("SELECT number, tlv FROM documents")),
        "acked": {n for (n,) in fdb.execute("SELECT number FROM documents WHERE acknowledged = 1")},
        "unsent": fdb.execute("SELECT count(*) FROM documents WHERE queued = 1 AND "
                              "acknowledged = 0").fetchone()[0],
        "notes": {n for (n,) in fdb.execute("SELECT number FROM notifications")},
        "ticketed": {n for (n,) in fdb.execute("SELECT number FROM notifications WHERE ticketed = 1")},
        "stored": dict((n, bytes(b)) for n, b in odb.execute(
            "SELECT number, tlv FROM documents WHERE fn = ?", (FN_NUMBER,))),
        "stored_rows": odb.execute("SELECT count(*) FROM documents").fetchone()[0],
        "applied": {n for (n,) in odb.execute("SELECT number FROM notifications WHERE fn = ?",
                                              (FN_NUMBER,))},
    }
    fdb.close()
    odb.close()
    return s


def invariants(what, s, before):
    check(f"{what}: FN unsent documents never grow", s["unsent"] <= before["unsent"],
          (s["unsent"], before["unsent"]))
    check(f"{what}: FN unticketed notifications never grow",
          len(s["notes"] - s["ticketed"]) <= len(before["notes"] - before["ticketed"]))
    check(f"{what}: FN acknowledgements never taken back", before["acked"] <= s["acked"])
    check(f"{what}: every FN acknowledgement was given by the operator",
          s["acked"] <= set(s["stored"]), sorted(s["acked"] - set(s["stored"]))[:10])
    check(f"{what}: every FN ticket was given by the operator", s["ticketed"] <= s["applied"],
          sorted(s["ticketed"] - s["applied"])[:10])
    check(f"{what}: operator stores only this FN's documents, once, byte-identical",
          s["stored_rows"] == len(s["stored"]) and set(s["stored"]) <= set(s["archive"])
          and all(s["archive"][n] == b for n, b in s["stored"].items()))
    check(f"{what}: operator applied only notifications the FN made", s["applied"] <= s["notes"])


def flush_ok(what, rc, err):
    check(f"{what}: flush did not crash (exit 0 or 1)", rc in (0, 1), (rc, err[-2000:]))
    check(f"{what}: no sanitizer report", "Sanitizer" not in err and "runtime error" not in err,
          err[-2000:])
    if rc == 1:
        check(f"{what}: exit 1 says why, in Russian and English",
              "delivery stopped" in err and "still owed" in err, err[-2000:])


# 1. Codes, an FN full of documents and notifications, nothing delivered.
codes = []
for group, body, tail, count in [("footwear", "460000000201", "44", 200),
                                 ("footwear", "460000000202", "88", 100),
                                 ("dairy", "460000000203", "93", 150)]:
    r = op("issue", "--gtin", gtin14(body), "--group", group, "--count", str(count), "--tail", tail)
    check(f"issue {group} {tail}", r.returncode == 0 and len(r.stdout.split()) == count, r.stderr)
    codes += r.stdout.split()
codes_file = os.path.join(root, "codes.txt")
with open(codes_file, "w") as f:
    f.write("\n".join(codes) + "\n")
r = subprocess.run([TILL, "init", till_dir, FN_NUMBER], capture_output=True, text=True, timeout=60)
check("FN created", r.returncode == 0, r.stderr)
r = op("fn", "add", "--fn-db", fn_db)
check("fn add", r.returncode == 0, r.stderr)
o = Operator()
r = subprocess.run([TILL, "sell", till_dir, "--keys", str(o.ports[2]), "--oism", str(o.ports[1]),
                    "--codes", codes_file, "--receipts", str(RECEIPTS), "--shift-every", "50"],
                   capture_output=True, text=True, timeout=240)
check("300 receipts sold, nothing delivered", r.returncode == 0 and
      f"sold receipts={RECEIPTS} marked=225 codes=450" in r.stdout, r.stdout + r.stderr)
o.stop("selling")
s = snapshot()
check("a few hundred documents owed", s["unsent"] >= 300 and len(s["acked"]) == 0, s["unsent"])
check("225 notifications owed", len(s["notes"]) == 225 and not s["ticketed"])
check("operator holds nothing yet", not s["stored"] and not s["applied"])
st = ofd_status()
check("kassa ofd status agrees", st.get("unsentDocuments") == s["unsent"] and
      st.get("unsentNotifications") == 225, st)
before = s

# 2. Each fault mode in turn.
for mode in ["drop", "delay", "garbage", "refuse", "dup-ack"]:
    o = Operator(mode)
    t0 = time.monotonic()
    rc, out, err = flush(o, kill_after=7 if mode == "delay" else None)
    took = time.monotonic() - t0
    o.stop(mode)
    s = snapshot()
    print(f"{mode}: flush rc={rc} in {took:.1f} s; documents owed {before['unsent']} -> "
          f"{s['unsent']}, notifications owed {len(before['notes'] - before['ticketed'])} -> "
          f"{len(s['notes'] - s['ticketed'])}, operator stores {len(s['stored'])}")
    if mode == "delay":
        check("delay: flush was still running after 7 s (SIGKILLed)", rc == -signal.SIGKILL, rc)
        check("delay: partial progress", 0 < before["unsent"] - s["unsent"] < before["unsent"],
              (before["unsent"], s["unsent"]))
    else:
        flush_ok(mode, rc, err)
    if mode in ("drop", "garbage"):
        check(f"{mode}: flush fails", rc == 1, (rc, out, err))
        check(f"{mode}: nothing acknowledged or ticketed", s["acked"] == before["acked"]
              and s["ticketed"] == before["ticketed"])
    if mode == "drop":
        check("drop: the operator stored nothing", s["stored"] == before["stored"])
        check("drop: reason is a closed connection", "(closed)" in err, err)
    if mode == "garbage":
        check("garbage: reason is a protocol error", "(protocol)" in err, err)
    if mode == "refuse":
        check("refuse: flush fails with 1022 = 3", rc == 1 and "1022 = 3" in err, err)
        check("refuse: no document acknowledged, none stored", s["acked"] == before["acked"] and
              s["stored"] == before["stored"])
        check("refuse: the OISM took every notification", s["ticketed"] == s["notes"], out + err)
    if mode == "dup-ack":
        # The first answer of a fresh connection is always read before its
        # copy, so at least one document moves; a copy that arrives after
        # the next request is refused as "about another document" (the run
        # stops, safely) or, arriving with its original, ends the
        # connection: how far the run gets is the scheduler's choice.
        check("dup-ack: progress", s["unsent"] < before["unsent"], (before["unsent"], s["unsent"]))
    invariants(mode, s, before)
    before = s

# 3. A clean operator: everything delivered, each document once.
o = Operator()
rc, out, err = flush(o)
o.stop("final")
check("final flush exit 0", rc == 0, (rc, out, err))
st = ofd_status()
check("FN owes nothing", st.get("owed") == 0 and st.get("unsentDocuments") == 0
      and st.get("unsentNotifications") == 0, st)
s = snapshot()
invariants("final", s, before)
check("every (FN, document number) stored exactly once, equal to the archive",
      s["stored"] == s["archive"] and s["stored_rows"] == len(s["archive"]),
      (len(s["stored"]), len(s["archive"])))
check("every notification ticketed and applied once", s["ticketed"] == s["notes"] == s["applied"])
odb = sqlite3.connect(f"file:{os.path.join(op_dir, 'operator.db')}?mode=ro", uri=True)
status = dict(odb.execute("SELECT ki, status FROM codes"))
odb.close()
check("every code sold", all(status.get(c.split("\\x1d")[0]) == "sold" for c in codes))

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

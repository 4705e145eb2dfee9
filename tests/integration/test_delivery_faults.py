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
  one document (the client ignores the late copies of answers it already
  took, so a dup-ack run may deliver everything; refuse comes before it);
- finally a clean operator and one flush: exit 0, nothing owed, the
  operator holds every (FN, document number) exactly once, equal to the
  FN's archive bytes, every notification applied once, every code sold.

Prints "N passed, N failed"; exit 1 on any failure.
"""
import functools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Checks, gtin14  # noqa: E402

OPERATOR, TILL, KASSA = sys.argv[1], sys.argv[2], sys.argv[3]
FN_NUMBER = "9999078900006262"
RECEIPTS = 300
check = Checks()
root, till_dir, op_dir = harness.workdirs("kassa-faults-", "till", "operator")
fn_db = os.path.join(till_dir, "fn.db")
op = functools.partial(harness.op, OPERATOR, op_dir)


def start_operator(fault=None):
    """kassa-operator on fresh loopback ports, with --fault when given."""
    return harness.Operator(OPERATOR, op_dir, check, *(["--fault", fault] if fault else []),
                            name=f"operator {fault or 'clean'}")


def ofd_status():
    p = harness.run([KASSA, "--data", till_dir, "ofd", "status", "--json"])
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
    return harness.snapshot(fn_db, os.path.join(op_dir, "operator.db"), FN_NUMBER)


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
harness.write_lines(codes_file, codes)
r = harness.run([TILL, "init", till_dir, FN_NUMBER])
check("FN created", r.returncode == 0, r.stderr)
r = op("fn", "add", "--fn-db", fn_db)
check("fn add", r.returncode == 0, r.stderr)
o = start_operator()
r = harness.run([TILL, "sell", till_dir, "--keys", str(o.ports[2]), "--oism", str(o.ports[1]),
                 "--codes", codes_file, "--receipts", str(RECEIPTS), "--shift-every", "50"],
                timeout=240)
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
    o = start_operator(mode)
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
o = start_operator()
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
check("every code sold", all(status.get(harness.ki(c)) == "sold" for c in codes))

sys.exit(check.summary())

#!/usr/bin/env python3
"""test_e2e_delivery.py OPERATOR E2E_TILL KASSA: issue 4, end to end on loopback.

Proves the Done-when line "FN emulator -> outbox -> kassa-operator; 1 000
receipts with marked lines all acknowledged; the operator's registry shows
every sold code as sold; a second sale of any of them is refused by the
OISM answer", with nothing faked:

- kassa-operator (real process, free loopback ports) issues 1 500 codes
  with genuine tails, mixing groups: footwear with 44- and 88-character
  tails, dairy and water (93), tobacco blocks (8005 + 93);
- E2E_TILL (tests/integration/e2e_till.c) creates and registers a real FN
  file, fetches the keys over the key port, and sells 1 000 receipts (750
  with 1-3 marked lines, every one with a plain line, shifts closed every
  100): each code is verified by the FN (every 44/88 tail valid, every 93
  uncheckable) and confirmed by the OISM (2109 = 1); then it delivers all
  documents and sale notifications with ofd/client.c;
- afterwards `kassa ofd status --json` owes nothing; the operator, stopped
  with SIGTERM (exit 0), holds every fiscal document of the FN exactly once
  and byte-identical to the FN's archive, one applied notification per FN
  notification, every sold code in status "sold" (all by SQL, a sample by
  `kassa-operator status`); a second check of a sample of sold codes gets
  2109 = 2 (not 1) and no 2106 bit 8, while a code issued and never sold
  still gets 2109 = 1 from the same run (so the recheck can tell).

Prints the time the 1 000 receipts took. "N passed, N failed"; exit 1 on
any failure.
"""
import functools
import json
import os
import random
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Checks, gtin14, ki  # noqa: E402

OPERATOR, TILL, KASSA = sys.argv[1], sys.argv[2], sys.argv[3]
FN_NUMBER = "9999078900005151"
RECEIPTS = 1000
# group, gtin (13 digits; the check digit is added), tail, count
BATCHES = [("footwear", "460000000101", "44", 500), ("footwear", "460000000102", "88", 300),
           ("dairy", "460000000103", "93", 250), ("water", "460000000104", "93", 200),
           ("tobacco", "460000000105", "93", 250)]
check = Checks()
root, till_dir, op_dir = harness.workdirs("kassa-e2e-", "till", "operator")
op = functools.partial(harness.op, OPERATOR, op_dir)


def till(*args, timeout=240):
    return harness.run([TILL, *args], timeout=timeout)


# 1. The operator issues the codes (it makes its keys on the first issue).
issued, tails = [], {}
for group, body, tail, count in BATCHES:
    r = op("issue", "--gtin", gtin14(body), "--group", group, "--count", str(count), "--tail", tail)
    codes = r.stdout.split()
    check(f"issue {group} {tail}", r.returncode == 0 and len(codes) == count, r.stderr)
    issued += codes
    for c in codes:
        tails[c] = tail
check("1 500 distinct codes", len(set(issued)) == 1500 and len({ki(c) for c in issued}) == 1500)
r = op("issue", "--gtin", gtin14("460000000101"), "--group", "footwear", "--count", "1")
control = r.stdout.split()  # issued, never sold: the recheck's control
check("control code issued", r.returncode == 0 and len(control) == 1, r.stderr)
random.Random(4).shuffle(issued)
codes_file = os.path.join(root, "codes.txt")
sold_file = os.path.join(root, "sold.txt")
harness.write_lines(codes_file, issued)

server = harness.Operator(OPERATOR, op_dir, check)
ofd_port, oism_port, keys_port, http_port = server.ports
op_rc = None
try:
    r = till("init", till_dir, FN_NUMBER)
    check("FN created and registered", r.returncode == 0, r.stderr)
    r = op("fn", "add", "--fn-db", os.path.join(till_dir, "fn.db"))
    check("fn add", r.returncode == 0 and r.stdout.strip() == FN_NUMBER, r.stdout + r.stderr)

    # 2. The day of sales, then delivery, by the till.
    t0 = time.monotonic()
    r = till("sell", till_dir, "--keys", str(keys_port), "--oism", str(oism_port), "--ofd",
             str(ofd_port), "--codes", codes_file, "--sold", sold_file, "--receipts",
             str(RECEIPTS), "--shift-every", "100")
    elapsed = time.monotonic() - t0
    print(f"e2e_till: {RECEIPTS} receipts, 1500 codes checked, sold and delivered in "
          f"{elapsed:.1f} s")
    check("till run exit 0", r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:])
    out = dict()
    for line in r.stdout.splitlines():
        words = line.split()
        out[words[0]] = dict(w.split("=", 1) for w in words[1:] if "=" in w) | {"_": words[1:]}
    check("keys fetched (hmac + gost)", out.get("keys", {}).get("_") == ["2"], r.stdout)
    expect_valid = sum(1 for c in issued if tails[c] in ("44", "88"))
    check("every 44/88 tail verified, every 93 uncheckable",
          out.get("tails", {}).get("valid") == str(expect_valid)
          and out.get("tails", {}).get("uncheckable") == str(1500 - expect_valid), r.stdout)
    sold_line = out.get("sold", {})
    check("1000 receipts, 750 with marked lines, 1500 codes",
          sold_line.get("receipts") == "1000" and sold_line.get("marked") == "750"
          and sold_line.get("codes") == "1500", r.stdout)
    owed_docs = int(sold_line.get("documents", "-1"))
    owed_notes = int(sold_line.get("notifications", "-1"))
    check("before delivery: documents and 750 notifications owed",
          owed_docs >= 1020 and owed_notes == 750, r.stdout)
    check("delivery counts", out.get("delivered", {}).get("documents") == str(owed_docs)
          and out.get("delivered", {}).get("notifications") == str(owed_notes), r.stdout)
    sold = open(sold_file).read().split() if os.path.exists(sold_file) else []
    check("the till sold exactly the issued codes", sorted(sold) == sorted(issued),
          f"{len(sold)} sold")

    # 3. The FN owes nothing.
    p = harness.run([KASSA, "--data", till_dir, "ofd", "status", "--json"])
    s = json.loads(p.stdout) if p.returncode == 0 else {}
    check("kassa ofd status: nothing owed", s.get("owed") == 0 and s.get("unsentDocuments") == 0
          and s.get("unsentNotifications") == 0 and s.get("fnNumber") == FN_NUMBER, p.stdout + p.stderr)

    # 4. A second sale of sold codes: the OISM says 2 (not 1); the control says 1.
    sample = random.Random(7).sample(sold, 60)
    recheck_file = os.path.join(root, "recheck.txt")
    harness.write_lines(recheck_file, sample + control)
    r = till("recheck", till_dir, "--oism", str(oism_port), "--codes", recheck_file)
    rows = [dict(w.split("=") for w in l.split()[2:]) for l in r.stdout.splitlines()
            if l.startswith("recheck ")]
    check("recheck ran for every code", r.returncode == 0 and len(rows) == 61, r.stdout + r.stderr)
    if len(rows) == 61:
        bad = [(sample[i], rows[i]) for i in range(60)
               if rows[i]["2109"] != "2" or rows[i]["2105"] != "0" or int(rows[i]["2106"]) & 8]
        check("every sold code refused on a second sale (2109 = 2, no 2106 bit 8)", not bad, bad)
        check("groups in the sample", {tails[c] for c in sample} == {"44", "88", "93"})
        check("control (issued, unsold): 2109 = 1 and 2106 bit 8",
              rows[60]["2109"] == "1" and int(rows[60]["2106"]) & 8, rows[60])
    for code in sample[:10]:
        r = op("status", code)
        st = json.loads(r.stdout) if r.returncode == 0 else {}
        check("kassa-operator status CODE: sold", st.get("status") == "sold", r.stdout + r.stderr)
finally:
    op_rc = server.stop()
check("operator: SIGTERM, exit 0", op_rc == 0, op_rc)

# 5. The operator's store, read-only after the stop, against the FN's archive.
odb = sqlite3.connect(f"file:{os.path.join(op_dir, 'operator.db')}?mode=ro", uri=True)
fdb = sqlite3.connect(f"file:{os.path.join(till_dir, 'fn.db')}?mode=ro", uri=True)
fn_docs = dict((n, bytes(b)) for n, b in fdb.execute("SELECT number, tlv FROM documents"))
op_docs = odb.execute("SELECT number, tlv FROM documents WHERE fn = ?", (FN_NUMBER,)).fetchall()
check("FN archive: 1..N", sorted(fn_docs) == list(range(1, len(fn_docs) + 1)) and
      len(fn_docs) >= 1021, len(fn_docs))
check("every document stored exactly once", sorted(n for n, _ in op_docs) == sorted(fn_docs),
      f"{len(op_docs)} stored, {len(fn_docs)} in the FN")
check("stored bytes equal the FN's archive",
      all(fn_docs.get(n) == bytes(b) for n, b in op_docs), "")
check("nothing stored for another FN",
      odb.execute("SELECT count(*) FROM documents WHERE fn <> ?", (FN_NUMBER,)).fetchone()[0] == 0)
fn_notes = [n for (n,) in fdb.execute("SELECT number FROM notifications ORDER BY number")]
op_notes = odb.execute("SELECT number, result, refused FROM notifications WHERE fn = ? "
                       "ORDER BY number", (FN_NUMBER,)).fetchall()
check("every notification applied once, accepted",
      [n for n, _, _ in op_notes] == fn_notes and len(fn_notes) == 750
      and all(res == 0 and ref == 0 for _, res, ref in op_notes), op_notes[:5])
check("FN: every notification ticketed 2111 = 0",
      fdb.execute("SELECT count(*) FROM notifications WHERE ticketed = 1 AND ticket_result = 0")
      .fetchone()[0] == 750)
status = dict(odb.execute("SELECT ki, status FROM codes"))
not_sold = [c for c in issued if status.get(ki(c)) != "sold"]
check("registry: all 1500 sold codes are sold", not not_sold, not_sold[:5])
check("registry: the control code is not sold", status.get(ki(control[0])) == "in_circulation",
      status.get(ki(control[0])) if control else None)
odb.close()
fdb.close()

sys.exit(check.summary())

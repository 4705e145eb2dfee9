#!/usr/bin/env python3
"""test_year.py KASSA KASSA_OPERATOR [DAYS]: a year of a shop on the injected clock.

One register, DAYS working days (365 in `make year`, 14 in ctest's
`year_short`) from 2026-01-05, every command through `kassa` with the FN's
clock moved by KASSA_FAKE_NOW (local time written as if UTC, as 1012 is):

  09:00 shift open, cash in 3000.00 for change
  10:00.. two to four receipts of unmarked goods at 10 % and 22 %, paid in
        cash or by card in turn
  13:00 cash out 500.00
  15:00 X-report: the shift's totals so far
  21:00 Z-report, then `kassa ofd flush` to kassa-operator (which verifies
        every document's sign and its form's requisites)

Every receipt's total and VAT are worked out here independently (prices
from config/catalogue.csv, the tax inside the gross amount r/(100+r), half
up once per receipt and rate); the X and Z totals and the drawer must
reconcile with them to the kopeck. On day DAYS/3 a correction receipt (income,
100.00 cash at 22 %) enters the corrections' counters and the drawer; on
day DAYS/2, after its Z, the FN is replaced (everything delivered, `kassa fn
close`, the 6 delivered, `kassa fn replace`, its 11 delivered) and the FN's
own totals (1157) start again while the shifts go on. At the end nothing is
owed to the operator, `kassa fsck` (both FNs' archives) is clean, and every
document the operator stored carries what the format requires of its form
(read with the tests' own TLV reader, harness.ffd_missing).
Prints "N passed, N failed".
"""
import calendar
import json
import os
import shutil
import subprocess
import sys
import tempfile
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Checks  # noqa: E402

KASSA = os.path.abspath(sys.argv[1])
OPERATOR = os.path.abspath(sys.argv[2])
DAYS = int(sys.argv[3]) if len(sys.argv) > 3 else 14
CATALOGUE = os.path.abspath("config/catalogue.csv")
check = Checks()
root = tempfile.mkdtemp(prefix="kassa-year-")
data = os.path.join(root, "d")
conf = os.path.join(root, "kassa.conf")
with open(conf, "w") as f:
    f.write("[till]\ncheck = offline\n")
START = calendar.timegm((2026, 1, 5, 0, 0, 0))  # a Monday; local time written as UTC
RATE = {2: 10, 11: 22}  # 1199 -> percent, for the goods below

# Unmarked goods from the catalogue: gtin -> (kopecks, 1199).
goods = {}
with open(CATALOGUE, encoding="utf-8") as f:
    for line in f:
        cols = line.strip().split(";")
        if len(cols) > 9 and cols[0].isdigit() and cols[6] == "0" and cols[8] == "0":
            rub, _, kop = cols[2].partition(".")
            goods[cols[0]] = (int(rub) * 100 + int((kop + "00")[:2]), int(cols[3]))
GTINS = sorted(goods)


def kassa(now, *args, check_rc=True):
    env = dict(os.environ, KASSA_FAKE_NOW=str(now))
    p = subprocess.run([KASSA, "--config", conf, "--data", data] + list(args), env=env,
                       capture_output=True, text=True, timeout=120)
    if check_rc and p.returncode != 0:
        check("kassa %s at %d" % (" ".join(args[:3]), now), False, p.stdout + p.stderr)
    return p.returncode, p.stdout, p.stderr


def vat_of(gross, rate):
    return int(Fraction(gross * rate, 100 + rate) + Fraction(1, 2))


def empty_totals():
    return {"count": 0, "total": 0, "cash": 0, "cashless": 0, "vat": {}}


def add_receipt(t, lines, cash):
    """lines: [(kopecks, 1199)]; the receipt's totals and VAT by hand."""
    total = sum(k for k, _ in lines)
    t["count"] += 1
    t["total"] += total
    t["cash" if cash else "cashless"] += total
    for v in sorted({v for _, v in lines}):
        gross = sum(k for k, vv in lines if vv == v)
        t["vat"][v] = t["vat"].get(v, 0) + vat_of(gross, RATE[v])
    return total


def same(report_op, t):
    got = (report_op["count"], report_op["total"], report_op["cash"], report_op["cashless"],
           {x["vat"]: x["sum"] for x in report_op["vat"]})
    return got == (t["count"], t["total"], t["cash"], t["cashless"], t["vat"]), got


os.makedirs(os.path.join(root, "op"), exist_ok=True)
fn_numbers = ["9999078900100001", "9999078900100002"]
kassa(START, "fn", "init", "--fn-number", fn_numbers[0])
kassa(START, "fn", "register", "--reg-number", "0000000001012345", "--inn", "7707083893",
      "--name", "ООО Ромашка", "--address", "г. Москва, ул. Тверская, 1", "--ofd-inn",
      "7704211201", "--ofd-name", "ОФД")
kassa(START, "cache", "import-catalogue", CATALOGUE)
harness.op(OPERATOR, os.path.join(root, "op"), "fn", "add", "--fn-db",
           os.path.join(data, "fn.db")).check_returncode()
server = harness.Operator(OPERATOR, os.path.join(root, "op"), check)
link = ["--ofd", "127.0.0.1:%d" % server.ports[0], "--oism", "127.0.0.1:%d" % server.ports[1]]
fn_life = empty_totals()  # the current FN's receipts since its registration
mismatches = 0
corrected = replaced = False
try:
    check("the catalogue has unmarked goods at 10 % and 22 %",
          {v for _, v in goods.values()} >= {2, 11}, goods)
    for day in range(DAYS):
        base = START + day * 86400
        kassa(base + 9 * 3600, "shift", "open", "--cashier", "Иванова")
        kassa(base + 9 * 3600 + 60, "cash", "in", "300000")
        shift = empty_totals()
        cash_sales = 0
        for n in range(2 + day % 3):
            now = base + 10 * 3600 + n * 600
            picks = [GTINS[(day + n + i) % len(GTINS)] for i in range(1 + (day + n) % 3)]
            kassa(now, "sale", "open", "--cashier", "Иванова")
            for g in picks:
                kassa(now, "sale", "add", g)
            lines = [goods[g] for g in picks]
            total = sum(k for k, _ in lines)
            by_cash = (day + n) % 2 == 0
            amount = "%d.%02d" % (total // 100, total % 100)
            rc, out, err = kassa(now + 30, "sale", "pay", "--cash" if by_cash else "--card",
                                 amount, "--json")
            add_receipt(shift, lines, by_cash)
            add_receipt(fn_life, lines, by_cash)
            if by_cash:
                cash_sales += total
        kassa(base + 13 * 3600, "cash", "out", "50000")
        correction = 0
        if day == DAYS // 3:
            kassa(base + 14 * 3600, "correction", "--operation", "income", "--cash", "10000",
                  "--vat", "22", "--reason", "Выручка без чека")
            correction = 10000
            corrected = True
        rc, out, err = kassa(base + 15 * 3600, "report", "x", "--json")
        x = json.loads(out) if rc == 0 else {}
        ok, got = same(x.get("shift_totals", {}).get("receipts", {}).get("sale",
                                                                          empty_totals()), shift)
        if not ok:
            mismatches += 1
            check("day %d: X matches the receipts" % day, False, (got, shift))
        balance = 300000 - 50000 + cash_sales + correction
        if x.get("drawer", {}).get("balance") != balance:
            mismatches += 1
            check("day %d: the drawer holds %d" % (day, balance), False, x.get("drawer"))
        if correction and x["shift_totals"]["corrections"]["sale"]["total"] != correction:
            mismatches += 1
            check("day %d: the correction counted" % day, False, x["shift_totals"])
        rc, out, err = kassa(base + 21 * 3600, "report", "z", "--json")
        z = json.loads(out) if rc == 0 else {}
        ok, got = same(z.get("shift_totals", {}).get("receipts", {}).get("sale",
                                                                          empty_totals()), shift)
        ok_fn, got_fn = same(z.get("fn_totals", {}).get("receipts", {}).get("sale",
                                                                            empty_totals()),
                             fn_life)
        if not ok or not ok_fn:
            mismatches += 1
            check("day %d: Z (shift and FN totals) matches" % day, False, (got, got_fn, fn_life))
        rc, out, err = kassa(base + 21 * 3600 + 60, "ofd", "flush", *link)
        if day == DAYS // 2:
            t = base + 22 * 3600
            kassa(t, "fn", "close")
            kassa(t + 60, "ofd", "flush", *link)
            kassa(t + 120, "fn", "replace", "--fn-number", fn_numbers[1])
            harness.op(OPERATOR, os.path.join(root, "op"), "fn", "add", "--fn-db",
                       os.path.join(data, "fn.db")).check_returncode()
            rc, out, err = kassa(t + 180, "ofd", "flush", *link)
            check("the new FN's 11 delivered", "delivered: 1 documents" in out, out + err)
            fn_life = empty_totals()
            replaced = True
    check("%d days: every X, Z and drawer reconciled" % DAYS, mismatches == 0, mismatches)
    check("a correction and an FN replacement happened", corrected and replaced)
    end = START + DAYS * 86400
    rc, out, err = kassa(end, "ofd", "status", "--json")
    st = json.loads(out) if rc == 0 else {}
    check("nothing owed at the end", st.get("owed") == 0, out + err)
    rc, out, err = kassa(end, "fsck")
    check("fsck clean over both FNs", rc == 0 and "replaced FN %s" % fn_numbers[0] in out + err,
          out[-600:] + err)
finally:
    server.stop()
# Every document the operator stored, of both FNs, read with the tests' own
# TLV reader: each carries what the format requires of its form.
incomplete, forms = [], set()
for fn_number, db in ((fn_numbers[0], "fn-%s.db" % fn_numbers[0]), (fn_numbers[1], "fn.db")):
    if not os.path.exists(os.path.join(data, db)):
        check("FN %s's archive kept" % fn_number, False)
        continue
    snap = harness.snapshot(os.path.join(data, db), os.path.join(root, "op", "operator.db"),
                            fn_number)
    check("the operator stored every document of FN %s" % fn_number,
          set(snap["stored"]) == set(snap["archive"]), len(snap["stored"]))
    for number, raw in snap["stored"].items():
        form, body, miss = harness.ffd_missing(raw)
        forms.add(form)
        if miss:
            incomplete.append((fn_number, number, form, miss))
check("every stored document has its form's requisites (forms %s)" % sorted(forms),
      not incomplete and forms >= {1, 2, 3, 31, 21, 5, 6, 11}, incomplete[:5])
sys.exit(harness.finish(check, root))

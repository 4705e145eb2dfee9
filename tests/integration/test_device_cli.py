#!/usr/bin/env python3
"""test_device_cli.py KASSA KKT_EMU [ROUNDS]: kassa's commands through a register, and a kill loop.

`[fn] backend = shtrih:tcp:...` puts build/kassa-kkt-emu where DATA/fn.db was.
1. `kassa fn status`, `shift open`, `fd list`, `fd show`, a sale of
   unmarked goods (`kassa sale add/pay`, change given), `shift close`
   through the register; then, the register stopped, the same archive read
   with the emulator backend: the same documents, numbers, times and signs,
   and `kassa fsck` finds the till's records and the FN in agreement.
2. The kill loop: ROUNDS times (default 25) `kassa shift open|close` runs
   against the register while the register is SIGKILLed at a random moment
   and restarted; then ROUNDS sales (`kassa sale open/add/pay`) the same way. kassa must either report the document (exit 0, "document
   N") or fail with a clear message (exit 1); afterwards, read with the
   emulator backend, every document kassa reported is in the archive with
   that number and kind, numbers are contiguous, shifts alternate, and
   `kassa fsck` is clean: nothing lost, nothing twice.
Prints "N passed, N failed".
"""
import json
import os
import random
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, finish, run, start_kkt_emu, stop_all, workdirs  # noqa: E402

KASSA, KKT_EMU = sys.argv[1], sys.argv[2]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 25
check = Checks()
root, data = workdirs("kassa-devcli-", "d")
conf = os.path.join(root, "kassa.conf")
procs = []


def plain(*args):
    """kassa on the data directory with the emulator backend."""
    return run([KASSA, "--data", data, *args])


def via(*args, timeout=60):
    """kassa with [fn] backend = the register."""
    return run([KASSA, "--config", conf, *args], timeout=timeout)


def start_register():
    p, port = start_kkt_emu(KKT_EMU, os.path.join(data, "fn.db"), procs)
    with open(conf, "w") as f:
        f.write(f"[paths]\ndata = {data}\n[fn]\nbackend = shtrih:tcp:127.0.0.1:{port}\n"
                "[till]\nmanager_pin = 2468\n")
    return p


def stop(p):
    p.terminate()
    p.wait(timeout=10)


def documents():
    """The archive as `kassa fd list` (emulator backend) shows it: number -> line."""
    r = plain("fd", "list", "--limit", "10000")
    rows = {}
    for line in r.stdout.splitlines():
        m = re.match(r"(\d+)\s+(.*)$", line)
        if m:
            rows[int(m.group(1))] = m.group(2)
    return r.returncode, rows


try:
    r = plain("fn", "init", "--fn-number", "9999078900031339")
    check("fn init", r.returncode == 0, r.stderr)
    r = plain("fn", "register", "--reg-number", "0000000001012345", "--inn", "7707083893",
              "--name", "ООО Ромашка", "--address", "г. Москва, ул. Тверская, 1",
              "--ofd-inn", "7704211201", "--ofd-name", "ОФД-эмулятор", "--cashier", "Иванова")
    check("fn register", r.returncode == 0, r.stderr)

    # --- 1. The commands through the register ---------------------------
    reg = start_register()
    r = via("fn", "status")
    check("fn status through the register", r.returncode == 0
          and "9999078900031339" in r.stdout and "fiscal" in r.stdout, r.stdout + r.stderr)
    r = via("shift", "open", "--cashier", "Петрова")
    check("shift open through the register", r.returncode == 0 and "document 2" in r.stdout,
          r.stdout + r.stderr)
    r = via("shift", "open")
    text = r.stdout + r.stderr
    check("a second open: the FN's state error", r.returncode == 1
          and ("0x02" in text or "state" in text), text)
    r = via("fd", "list")
    listed_via = r.stdout
    check("fd list through the register", r.returncode == 0 and "shift open" in r.stdout,
          r.stdout + r.stderr)
    r = via("fd", "show", "2", "--json")
    shown_via = r.stdout
    check("fd show through the register", r.returncode == 0 and '"openShift"' in r.stdout,
          r.stdout + r.stderr)
    check("the cashier 1021 went to the register by FF0Ch", '"operator"' in r.stdout
          and "Петрова" in r.stdout, r.stdout)
    # A sale of unmarked goods through the till and the register.
    body = "460701234567"
    digit = (10 - sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body)) % 10) % 10
    ean = body + str(digit)
    catalogue = os.path.join(root, "catalogue.csv")
    with open(catalogue, "w", encoding="utf-8") as f:
        f.write("gtin;name;price;vat;group;group_id;marking;strict;weighed;excise\n"
                f"{ean};Хлеб Бородинский;45.90;2;food;0;0;0;0;0\n")
    r = via("cache", "import-catalogue", catalogue)
    check("catalogue", r.returncode == 0, r.stdout + r.stderr)
    r = via("sale", "open")
    check("sale open", r.returncode == 0, r.stdout + r.stderr)
    r = via("sale", "add", ean)
    check("sale add", r.returncode == 0, r.stdout + r.stderr)
    r = via("sale", "add", ean, "--qty", "2")
    check("sale add x2", r.returncode == 0, r.stdout + r.stderr)
    r = via("sale", "pay", "--tendered", "200")
    check("sale pay through the register", r.returncode == 0 and "ФД 3" in r.stdout
          and "=137.70" in r.stdout and "сдача 62.30" in r.stdout, r.stdout + r.stderr)
    r = via("fd", "show", "3", "--json")
    receipt_via = r.stdout
    check("the receipt read back through the register", r.returncode == 0
          and '"totalSum":13770' in r.stdout.replace(" ", ""), r.stdout + r.stderr)
    # A return of one loaf through the register (FF46h operation 2), cash
    # put in, the X report and then the Z report with their totals through
    # the register (fn_totals reads them from the FN's archive).
    r = via("return", "open", "--pin", "2468")
    check("return open", r.returncode == 0, r.stdout + r.stderr)
    r = via("sale", "add", ean)
    check("return add", r.returncode == 0, r.stdout + r.stderr)
    r = via("sale", "pay")
    check("return paid through the register", r.returncode == 0 and "ФД 4" in r.stdout,
          r.stdout + r.stderr)
    r = via("cash", "in", "5000")
    check("cash in (the till's count)", r.returncode == 0, r.stdout + r.stderr)
    want = {"sale": (1, 13770), "sale_return": (1, 4590)}

    def totals_ok(text, document):
        try:
            j = json.loads(text)
        except ValueError:
            return False
        got = j["shift_totals"]["receipts"]
        return j["document"] == document and all(
            (got[k]["count"], got[k]["total"]) == v for k, v in want.items()) and all(
            (j["fn_totals"]["receipts"][k]["count"], j["fn_totals"]["receipts"][k]["total"]) == v
            for k, v in want.items())
    r = via("report", "x", "--json")
    check("report x through the register: the FN's totals", r.returncode == 0
          and totals_ok(r.stdout, 5), r.stdout + r.stderr)
    r = via("report", "z", "--json")
    check("report z (shift close) through the register: its totals", r.returncode == 0
          and totals_ok(r.stdout, 6), r.stdout + r.stderr)
    r = via("fn", "replace", "--fn-number", "9999078900031340")
    check("fn replace through the register: refused, it is the register's to do",
          r.returncode == 1 and "cash register" in r.stderr and "кассовом аппарате" in r.stderr
          and "9999078900031339" in via("fn", "status").stdout,
          r.stdout + r.stderr)
    stop(reg)
    r = plain("fd", "show", "2", "--json")
    check("the same document without the register", r.stdout == shown_via, r.stdout + shown_via)
    r = plain("fd", "show", "3", "--json")
    check("the same receipt without the register", r.stdout == receipt_via,
          r.stdout + receipt_via)
    r = plain("fsck")
    check("fsck: the till's records and the FN agree", r.returncode == 0, r.stdout + r.stderr)
    r = plain("fd", "list")
    check("the same list without the register (to document 2)",
          all(line in r.stdout for line in listed_via.splitlines()[:3]), r.stdout + listed_via)

    # --- 2. The kill loop ------------------------------------------------
    rng = random.Random(int(os.environ.get("KASSA_SEED", "22")))
    reported = {}
    failed = 0
    reg = start_register()
    verb = "open"
    for i in range(ROUNDS):
        p = subprocess.Popen([KASSA, "--config", conf, "shift", verb], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0, 0.06))
        killed = rng.random() < 0.5
        if killed:
            reg.kill()
            reg.wait()
        out, err = p.communicate(timeout=120)
        m = re.search(r"document (\d+)", out)
        if p.returncode == 0 and m:
            reported[int(m.group(1))] = verb
            verb = "close" if verb == "open" else "open"
        else:
            failed += 1
            check(f"round {i}: a failure says why", p.returncode == 1 and err.strip() != "",
                  out + err)
            # The FN's state refusal (a document made whose answer was lost,
            # or a shift already so): the other verb next.
            if "0x02" in err or "state" in err:
                verb = "close" if verb == "open" else "open"
        if reg.poll() is not None:
            reg = start_register()
    stop(reg)
    print(f"kill loop: {ROUNDS} rounds, {len(reported)} documents reported, "
          f"{failed} failed with a message")

    # Sales under the same kills: `kassa sale open/add/pay` while the
    # register dies at a random moment. A receipt the FN made whose answer a
    # kill took must be found again by the till (it reads the archive back),
    # never made twice and never lost.
    paid = {}
    reg = start_register()
    r = via("shift", "open")
    if r.returncode != 0:  # the loop may have left a shift open
        r = via("shift", "close")
        r = via("shift", "open")
    check("a shift for the sales", r.returncode == 0, r.stdout + r.stderr)
    m = re.search(r"document (\d+)", r.stdout)
    if m:
        reported[int(m.group(1))] = "open"
    for i in range(ROUNDS):
        for verb in (["sale", "cancel"], ["sale", "open"], ["sale", "add", ean]):
            via(*verb)
        if reg.poll() is not None:
            reg = start_register()
        p = subprocess.Popen([KASSA, "--config", conf, "sale", "pay", "--tendered", "100"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0, 0.06))
        if rng.random() < 0.5:
            reg.kill()
            reg.wait()
        out, err = p.communicate(timeout=120)
        # A kill after the FN closed the receipt but before the till read it
        # back: the sale is made (exit 0) and named by its number on stderr,
        # its text not printed ("no receipt FD N: ... does not answer").
        m = re.search(r"ФД (\d+)", out) or re.search(r"[Rr]eceipt FD (\d+)", err)
        if p.returncode == 0 and m:
            paid[int(m.group(1))] = True
        else:
            check(f"sale round {i}: a failure says why", p.returncode != 0 and err.strip() != "",
                  out + err)
        if reg.poll() is not None:
            reg = start_register()
    via("sale", "cancel")
    r = via("shift", "close")
    check("shift closed after the sales", r.returncode == 0, r.stdout + r.stderr)
    m = re.search(r"document (\d+)", r.stdout)
    if m:
        reported[int(m.group(1))] = "close"
    stop(reg)
    print(f"sales under kills: {ROUNDS} rounds, {len(paid)} receipts reported")

    rc, rows = documents()
    check("the archive reads", rc == 0 and rows, rows)
    receipts = [n for n in rows if rows[n].startswith("receipt")]
    for n in paid:
        check(f"reported receipt {n} is in the archive", rows.get(n, "").startswith("receipt"),
              rows.get(n))
    in_loop = [n for n in receipts if n != 3]  # 3: the sale of part 1
    check("at most one receipt a payment, every reported one there",
          len(paid) <= len(in_loop) <= ROUNDS, (in_loop, sorted(paid)))
    print(f"receipts made: {len(in_loop)}, reported: {len(paid)}, "
          f"made with the answer lost: {sorted(set(in_loop) - set(paid))}")
    numbers = sorted(rows)
    check("numbers contiguous from 1", numbers == list(range(1, len(numbers) + 1)), numbers)
    for n, verb in reported.items():
        kind = "shift open" if verb == "open" else "shift close"
        check(f"reported document {n} is there as {kind}", rows.get(n, "").startswith(kind),
              rows.get(n))
    kinds = [rows[n].split("  ")[0].strip() for n in numbers if rows[n].startswith("shift")]
    # (receipts between a shift's open and close do not break the alternation)
    check("shifts alternate: never opened or closed twice",
          all(a != b for a, b in zip(kinds, kinds[1:])), kinds)
    check("some rounds made their document", len(reported) >= 3, reported)
    unreported = [n for n in numbers if n > 4 and n not in reported
                  and rows[n].startswith("shift")]
    print(f"documents made whose answer a kill took: {unreported}")
    r = plain("fsck")
    print("fsck:", (r.stdout + r.stderr).strip().replace("\n", " | "))
    check("fsck clean", r.returncode == 0 and "clean" in r.stdout + r.stderr, r.stdout + r.stderr)
finally:
    stop_all(procs)

sys.exit(finish(check, root))

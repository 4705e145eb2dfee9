#!/usr/bin/env python3
"""test_cli_reports.py KASSA [KASSA_OPERATOR]: the shop's day on the command line (issue 16).

`kassa cash in|out`, a sale at two VAT rates, `kassa correction` on the
register's own initiative and by order, `kassa report x` and `kassa report z`
(the totals of 1194/1157 and the drawer), `kassa fd copy`, and `kassa fn
close` (refused while documents are owed), the delivery of every new
document to kassa-operator (which verifies its sign and its form's
requisites; skipped, and said so, without KASSA_OPERATOR) and read back from
its store with the tests' own TLV reader (harness.ffd_missing), then the close
and the replacement of the online FN, and the same on an autonomous FN. Every
expected figure is worked out here by hand from the catalogue's prices:

  sale: 2 x 55.00 at 10 % + 3 x 9.90 at 22 % = 110.00 + 29.70 = 139.70,
        cash 100.00 + card 39.70;
        VAT 10 %: 11000 * 10 / 110 = 1000; VAT 22 %: 2970 * 22 / 122 = 535.57 -> 536
  correction, income, own initiative: 100.00 cash at 22 % (VAT 1803.28 -> 1803)
  correction, refund, by order 12-34/5 of 2026-12-01: 20.00 card at 10 % (181.82 -> 182)
  drawer: in 5000.00, out 30.00; + 100.00 sale cash + 100.00 correction cash
          = 5170.00
Prints "N passed, N failed".
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Checks  # noqa: E402

KASSA = os.path.abspath(sys.argv[1])
OPERATOR = sys.argv[2] if len(sys.argv) > 2 else ""
CATALOGUE = os.path.abspath("config/catalogue.csv")
check = Checks()
root = tempfile.mkdtemp(prefix="kassa-reports-")
conf = os.path.join(root, "kassa.conf")
with open(conf, "w") as f:
    f.write("[till]\ncheck = offline\n")


procs = []
regs, confs = {}, {}  # KASSA_TEST_KKT: a data folder's register and the config naming it


def into_register(data, base=None):
    """KASSA_TEST_KKT: the registered FN of folder `data` goes into a register
    (harness.Register) and the till's commands there use a copy of its
    config (base, else the shared one) that names it. Off: nothing."""
    if harness.KKT_EMU:
        confs[data] = os.path.join(root, data + "-kkt.conf")
        shutil.copy(base or conf, confs[data])
        regs[data] = harness.into_register(confs[data], os.path.join(root, data, "fn.db"), procs)


def run(data, *args, config=None):
    p = subprocess.run([KASSA, "--config", config or confs.get(data, conf), "--data",
                        os.path.join(root, data)] + list(args),
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def must(data, *args, config=None):
    rc, out, err = run(data, *args, config=config)
    check("kassa %s" % " ".join(args[:3]), rc == 0, out + err)
    return out


def replace_fn(data, *args):
    """`kassa fn replace ARGS` on folder data: its output. Through a register
    it is refused (the FN is replaced and re-registered at the register,
    docs/HARDWARE.md), so the technician's way is taken: the register off,
    the FN file replaced with the emulator backend (the shared config), the
    register on again with the new FN inside."""
    if data not in regs:
        return must(data, "fn", "replace", *args)
    rc, out, err = run(data, "fn", "replace", *args)
    check("fn replace through a register: refused, the register's to do",
          rc == 1 and "cash register" in err, out + err)
    regs[data].stop()
    out = must(data, "fn", "replace", *args, config=conf)
    regs[data].start()
    return out


def flushed(data, link, documents):
    """The operator takes what folder data owes: `kassa ofd flush` says it
    delivered `documents`. A register delivers its own (FN_CAP_DEVICE_DELIVERS):
    through one, kassa's flush says it sends nothing, and the test waits until
    `kassa ofd status` shows nothing owed (the operator's store is compared
    with the archive below). Whether it was so."""
    out = must(data, "ofd", "flush", *link)
    if data not in regs:
        return check("delivered: %d documents" % documents,
                     "delivered: %d documents" % documents in out, out)
    check("kassa ofd flush through a register sends nothing", "delivers its own" in out, out)

    def ask():
        rc, out, err = run(data, "ofd", "status", "--json")
        return json.loads(out) if rc == 0 else {}
    owed = harness.owed_after(ask)
    return check("the register delivered its documents", owed.get("owed") == 0, owed)


REG = ["fn", "register", "--reg-number", "0000000001012345", "--inn", "7707083893",
       "--name", "ООО Ромашка", "--address", "г. Москва, ул. Тверская, 1"]

try:
    must("d", "fn", "init", "--fn-number", "9999078900001234")
    must("d", *(REG + ["--ofd-inn", "7704211201", "--ofd-name", "ОФД"]))
    into_register("d")
    rc, out, err = run("d", "cash", "in", "100")
    check("cash in without a shift refused", rc == 1 and "shift" in err, out + err)
    must("d", "shift", "open", "--cashier", "Иванова")
    must("d", "cache", "import-catalogue", CATALOGUE)

    out = must("d", "cash", "in", "500000", "--json")
    check("cash in: drawer 5000.00", json.loads(out)["balance"] == 500000, out)
    rc, out, err = run("d", "cash", "out", "600000")
    check("cash out past the drawer refused", rc == 1 and "drawer" in err, out + err)
    rc, out, err = run("d", "cash", "out", "0")
    check("cash out 0 is a usage error", rc == 2, out + err)
    out = must("d", "cash", "out", "3000", "--json")
    check("cash out: drawer 4970.00", json.loads(out)["balance"] == 497000, out)

    must("d", "sale", "open", "--cashier", "Иванова")
    for code in ["4604440000017", "4604440000017", "46001238", "46001238", "46001238"]:
        must("d", "sale", "add", code)
    out = must("d", "sale", "pay", "--cash", "100.00", "--card", "39.70", "--json")
    sale = json.loads(out.splitlines()[0])
    check("sale total 139.70", sale["total"] == 13970, out)
    check("receipt VAT sums 10 %: 1000, 22 %: 536 (in tag order)",
          [(v["vat"], v["sum"]) for v in sale["vat_sums"]] == [(2, 1000), (11, 536)], out)

    out = must("d", "correction", "--operation", "income", "--cash", "10000", "--vat", "22",
               "--reason", "Продажа без чека 01.12", "--json")
    own = json.loads(out)
    check("correction on own initiative", own["correction_type"] == 0 and own["total"] == 10000,
          out)
    out = must("d", "correction", "--operation", "refund", "--cashless", "2000", "--vat", "10%",
               "--reason", "Ошибочный чек", "--order", "12-34/5", "--date", "2026-12-01",
               "--json")
    by_order = json.loads(out)
    check("correction by order", by_order["correction_type"] == 1, out)
    for bad in (["--operation", "income", "--cash", "100", "--vat", "21", "--reason", "x"],
                ["--operation", "gift", "--cash", "100", "--vat", "22", "--reason", "x"],
                ["--operation", "income", "--cash", "100", "--vat", "22"],
                ["--operation", "income", "--cash", "100", "--vat", "22", "--reason", "x",
                 "--order", "1"],
                ["--operation", "income", "--cash", "100", "--vat", "22", "--reason", "x",
                 "--date", "2026-02-30"]):
        rc, out, err = run("d", "correction", *bad)
        check("correction %s is a usage error" % " ".join(bad), rc == 2, out + err)

    rc, out, err = run("d", "fd", "show", str(own["document"]), "--json")
    doc = json.loads(out)["receiptCorrection"] if rc == 0 else {}
    check("31: 1173 = 0, VAT 22 % 1803", doc.get("correctionType") == 0
          and doc.get("nds22") == 1803, out + err)
    rc, out, err = run("d", "fd", "show", str(by_order["document"]), "--json")
    doc = json.loads(out)["receiptCorrection"] if rc == 0 else {}
    basis = next((v for k, v in doc.items() if k.endswith("orrectionBase")), {})
    check("31 by order: 1173 = 1, 1179 the order, 1178 2026-12-01, 1054 = 2, VAT 182",
          doc.get("correctionType") == 1 and basis.get("correctionDocumentNumber") == "12-34/5"
          and basis.get("correctionDocumentDate") == 1796083200 and doc.get("operationType") == 2
          and doc.get("nds10") == 182, out + err)

    out = must("d", "report", "x", "--json")
    x = json.loads(out)
    st = x["shift_totals"]
    sale_t = st["receipts"]["sale"]
    check("X: one sale 139.70, cash 100.00, card 39.70",
          (sale_t["count"], sale_t["total"], sale_t["cash"], sale_t["cashless"])
          == (1, 13970, 10000, 3970), out)
    check("X: the sale's VAT by rate", [(v["vat"], v["sum"]) for v in sale_t["vat"]]
          == [(2, 1000), (11, 536)], out)
    check("X: corrections 100.00 income, 20.00 refund",
          (st["corrections"]["sale"]["count"], st["corrections"]["sale"]["total"],
           st["corrections"]["sale_return"]["count"], st["corrections"]["sale_return"]["total"])
          == (1, 10000, 1, 2000), out)
    check("X: FN totals equal the shift's on the first day", x["fn_totals"] == st, out)
    check("X: drawer in 5000.00 out 30.00 holds 5170.00",
          x["drawer"] == {"cash_in": 500000, "cash_ins": 1, "cash_out": 3000, "cash_outs": 1,
                          "balance": 517000}, out)
    rc, out, err = run("d", "fd", "show", str(x["document"]), "--json")
    check("21 carries 1194 and 1157", rc == 0 and "shiftSumReports" in out
          and "fiscalDriveSumReports" in out, out + err)
    text = must("d", "report", "x")
    check("X as text", "X-report" in text and "5170.00" in text and "НДС 22%" in text, text)

    out = must("d", "report", "z", "--cashier", "Иванова", "--json")
    z = json.loads(out)
    check("Z: the same totals, shift closed", z["shift_totals"] == st and z["report"] == "z", out)
    rc, out, err = run("d", "fd", "show", str(z["document"]), "--json")
    zj = json.loads(out).get("closeShift", {}) if rc == 0 else {}
    check("fd show of the Z: closeShift with shiftSumReports and fiscalDriveSumReports",
          "shiftSumReports" in zj and "fiscalDriveSumReports" in zj, out + err)
    rc, out, err = run("d", "fd", "list")
    check("fd list: state reports, corrections, shift close",
          rc == 0 and "state report" in out and "correction" in out and "shift close" in out,
          out + err)
    rc, out, err = run("d", "cash", "out", "100")
    check("cash after Z refused (no shift)", rc == 1, out + err)

    out = must("d", "fd", "copy", str(sale["document"]))
    check("fd copy: the receipt marked КОПИЯ with its VAT sums",
          "КОПИЯ" in out and "НДС 10%" in out and "=10.00" in out and "=5.36" in out, out)
    rc, out, err = run("d", "fd", "copy", "2")
    check("fd copy of a shift open is refused", rc == 1, out + err)
    out = must("d", "fd", "copy", str(z["document"]))
    check("fd copy of the Z: its totals again",
          "КОПИЯ" in out and "Z-report" in out and "139.70" in out and "(1194)" in out, out)

    rc, out, err = run("d", "fn", "close")
    check("fn close refused while documents are owed", rc == 1 and "ofd flush" in err, out + err)

    if not OPERATOR or not os.access(OPERATOR, os.X_OK):
        print("SKIP: no kassa-operator given: delivery of the reports not tested")
    else:
        op_dir = os.path.join(root, "operator")
        os.makedirs(op_dir)
        harness.op(OPERATOR, op_dir, "fn", "add", "--fn-db",
                   os.path.join(root, "d", "fn.db")).check_returncode()
        server = harness.Operator(OPERATOR, op_dir, check)
        link = ["--ofd", "127.0.0.1:%d" % server.ports[0], "--oism",
                "127.0.0.1:%d" % server.ports[1]]
        if "d" in regs:  # the register's own links to the operator, from now on
            regs["d"].stop()
            regs["d"].ports = server.ports
            regs["d"].start()
        try:
            # 1, 2, the sale, two corrections, two X (21), the Z (5): eight.
            flushed("d", link, 8)  # the operator verifies each one's sign and requisites
            out = must("d", "fn", "close")
            check("fn close once delivered", "FN closed: document 9" in out, out)
            rc, out, err = run("d", "fd", "show", "9", "--json")
            check("fd show of the 6: closeArchive", rc == 0 and "closeArchive" in json.loads(out),
                  out + err)
            rc, out, err = run("d", "fd", "list")
            check("fd list names the FN close", rc == 0 and "FN close" in out, out + err)
            flushed("d", link, 1)  # the 6
            out = replace_fn("d", "--fn-number", "9999078900001235")
            check("the online FN replaced", "re-registration (FN replaced)" in out, out)
            harness.op(OPERATOR, op_dir, "fn", "add", "--fn-db",
                       os.path.join(root, "d", "fn.db")).check_returncode()
            flushed("d", link, 1)  # the new FN's 11
            rc, out, err = run("d", "fd", "list")
            check("fd list names the new FN's re-registration",
                  rc == 0 and "re-registration" in out, out + err)
            rc, out, err = run("d", "fsck")
            check("fsck clean after the replacement", rc == 0, out + err)
        finally:
            server.stop()
        # What the operator stored, read with the tests' own TLV reader: every
        # document of both FNs carries what the format requires of its form.
        stored = {}
        for fn_number, db in (("9999078900001234", "fn-9999078900001234.db"),
                              ("9999078900001235", "fn.db")):
            snap = harness.snapshot(os.path.join(root, "d", db),
                                    os.path.join(op_dir, "operator.db"), fn_number)
            check("the operator stored every document of FN %s" % fn_number,
                  set(snap["stored"]) == set(snap["archive"]), (snap["stored"].keys(),
                                                                snap["archive"].keys()))
            for number, raw in sorted(snap["stored"].items()):
                form, body, miss = harness.ffd_missing(raw)
                stored.setdefault(form, []).append(number)
                check("FN %s FD %d (form %d) read back with every requisite of its form"
                      % (fn_number, number, form), not miss, miss)
        check("the stored forms: 1, 2, 3, 31, 21, 5, 6 and 11",
              set(stored) == {1, 2, 3, 31, 21, 5, 6, 11}, stored)

    # Payments: a prepayment (1214 = 1) with the cash tendered and the change,
    # its final settlement offsetting it (1214 = 4, 1215), a sale on credit
    # (1214 = 6, 1216), and what the FN's rules refuse.
    must("p", "fn", "init", "--fn-number", "9999078900002468")
    must("p", *(REG + ["--autonomous"]))
    into_register("p")
    must("p", "shift", "open")
    must("p", "cache", "import-catalogue", CATALOGUE)

    def sell(*pay):
        must("p", "sale", "open")
        must("p", "sale", "add", "4604440000017")
        return run("p", "sale", "pay", *pay)

    rc, out, err = sell("--method", "prepayment-full", "--cash", "55.00", "--tendered", "100.00",
                        "--json")
    pre = json.loads(out.splitlines()[0]) if rc == 0 else {}
    check("prepayment 100 %: 55.00 cash of 100.00 tendered, change 45.00",
          pre.get("method") == 1 and pre.get("cash") == 5500 and pre.get("tendered") == 10000
          and pre.get("change") == 4500, out + err)
    rc, out, err = run("p", "fd", "show", str(pre.get("document", 0)), "--json")
    check("its line says 1214 = 1", rc == 0 and
          json.loads(out)["receipt"]["items"][0].get("paymentType") == 1, out + err)
    rc, out, err = sell("--method", "full", "--credit", "55.00")
    check("a full settlement on credit is refused by the FN's rules (0x09), the basket kept",
          rc == 1 and "0x09" in err, out + err)
    rc, out, err = run("p", "sale", "pay", "--method", "full", "--prepaid", "55.00", "--json")
    fin = json.loads(out.splitlines()[0]) if rc == 0 else {}
    check("the final settlement offsets the prepayment (1215 55.00)",
          fin.get("method") == 4 and fin.get("prepaid") == 5500 and fin.get("cash") == 0,
          out + err)
    out = must("p", "fd", "copy", str(fin.get("document", 0)))
    check("its copy prints the offset", "Предоплатой (зачет аванса)" in out and "=55.00" in out,
          out)
    out = must("p", "fd", "copy", str(pre.get("document", 0)))
    check("the prepayment's copy prints its method", "ПРЕДОПЛАТА 100%" in out, out)
    rc, out, err = sell("--method", "credit", "--credit", "55.00", "--json")
    cr = json.loads(out.splitlines()[0]) if rc == 0 else {}
    check("on credit (1216 55.00)", cr.get("credit") == 5500, out + err)
    rc, out, err = run("p", "sale", "cancel")
    rc, out, err = sell("--cash", "55.00", "--tendered", "50.00")
    check("tendered below the cash is refused", rc == 1, out + err)
    run("p", "sale", "cancel")
    rc, out, err = sell("--method", "barter", "--cash", "55.00")
    check("an unknown method is a usage error", rc == 2, out + err)
    run("p", "sale", "cancel")
    x = json.loads(must("p", "report", "x", "--json"))
    s_t = x["shift_totals"]["receipts"]["sale"]
    check("X: three sales, 165.00: cash 55.00", s_t["count"] == 3 and s_t["total"] == 16500
          and s_t["cash"] == 5500, x)
    paper = os.path.join(root, "z.bin")
    must("p", "report", "z", "--printer", "file:" + paper)
    with open(paper, "rb") as f:
        escpos = f.read()
    check("the Z on the printer: ESC/POS in CP866 with the title, the total and the drawer",
          escpos.startswith(b"\x1b@") and "ОТЧЕТ О ЗАКРЫТИИ СМЕНЫ".encode("cp866") in escpos
          and "ПРИХОД (3)".encode("cp866") in escpos and b"=165.00" in escpos
          and "В КАССЕ".encode("cp866") in escpos, escpos[:200])

    # [till] timezone: the FN's clock, 1011 and the printed time are the
    # register's. Vladivostok is UTC+10: 1011 = 9 (Kaliningrad 1, Moscow 2 ...).
    import time as _time
    tz_conf = os.path.join(root, "tz.conf")
    with open(tz_conf, "w") as f:
        f.write("[till]\ncheck = offline\ntimezone = Asia/Vladivostok\n")

    def tz(*args):
        p = subprocess.run([KASSA, "--config", tz_conf, "--data", os.path.join(root, "tz")]
                           + list(args), capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    tz("fn", "init", "--fn-number", "9999078900003579")
    rc, out, err = tz(*(REG + ["--autonomous"]))
    check("register in Vladivostok", rc == 0, out + err)
    into_register("tz", tz_conf)
    tz_conf = confs.get("tz", tz_conf)
    rc, out, err = tz("fd", "show", "1", "--json")
    reg1 = json.loads(out).get("fiscalReport", {}) if rc == 0 else {}
    check("1011 = 9 in the registration", reg1.get("timeZone") == 9, out + err)
    check("1012 is Vladivostok's wall clock written as UTC (+10 h)",
          abs(reg1.get("dateTime", 0) - (_time.time() + 36000)) < 600, out + err)
    bad = os.path.join(root, "bad.conf")
    with open(bad, "w") as f:
        f.write("[till]\ntimezone = Mars/Olympus\n")
    p = subprocess.run([KASSA, "--config", bad, "--data", os.path.join(root, "tz"), "fn",
                        "status"], capture_output=True, text=True, timeout=60)
    check("an unknown zone is a configuration error", p.returncode == 2
          and "time zone" in p.stderr, p.stderr)

    # An autonomous FN owes the OFD nothing: it closes.
    must("a", "fn", "init", "--fn-number", "9999078900005678")
    must("a", *(REG + ["--autonomous"]))
    into_register("a")
    must("a", "shift", "open")
    must("a", "cache", "import-catalogue", CATALOGUE)
    must("a", "sale", "open")
    must("a", "sale", "add", "4604440000017")
    must("a", "sale", "pay", "--cash", "55.00")
    rc, out, err = run("a", "fn", "replace", "--fn-number", "9999078900009999")
    check("fn replace before the close refused", rc == 1 and ("cash register" if "a" in regs
                                                              else "closed") in err, out + err)
    rc, out, err = run("a", "fn", "close")
    check("fn close with a shift open refused", rc == 1 and "0x02" in err, out + err)
    must("a", "shift", "close")
    out = must("a", "fn", "close")
    check("fn close: document 5", "FN closed: document 5" in out, out)
    rc, out, err = run("a", "fn", "status", "--json")
    check("the FN is closed (phase 7, post-fiscal)", rc == 0 and json.loads(out).get("phase") == 7,
          out + err)
    rc, out, err = run("a", "shift", "open")
    check("a closed FN opens no shift", rc == 1, out + err)

    # The replacement: the old FN kept, a new one registered with an 11
    # (1205 bit 0), the till carries on, fsck reads both archives.
    rc, out, err = run("a", "fn", "replace", "--fn-number", "123")
    check("fn replace with a bad number is a usage error", rc == 2, out + err)
    out = replace_fn("a", "--fn-number", "9999078900009999", "--cashier", "Петров")
    check("fn replace: the new FN's 11 is its document 1",
          "re-registration (FN replaced): document 1" in out, out)
    check("the old FN kept", os.path.exists(os.path.join(root, "a", "fn-9999078900005678.db")))
    rc, out, err = run("a", "fd", "show", "1", "--json")
    rereg = json.loads(out).get("fiscalReportCorrection", {}) if rc == 0 else {}
    check("11: same register, user and tax systems; 1205 = 1 (FN replaced)",
          rereg.get("kktRegId", "").strip() == "0000000001012345"
          and rereg.get("userInn", "").strip() == "7707083893"
          and rereg.get("fiscalDriveNumber") == "9999078900009999"
          and 1 in (rereg.get("correctionKktReasonCode"), rereg.get("1205")), out + err)
    rc, out, err = run("a", "fn", "status", "--json")
    check("the new FN works (phase 3)", rc == 0 and json.loads(out).get("phase") == 3, out + err)
    must("a", "shift", "open")
    must("a", "sale", "open")
    must("a", "sale", "add", "4604440000017")
    sale2 = json.loads(must("a", "sale", "pay", "--cash", "55.00", "--json").splitlines()[0])
    check("the first sale of the new FN is its document 3", sale2["document"] == 3, sale2)
    must("a", "shift", "close")
    rc, out, err = run("a", "fsck")
    check("fsck clean across the replacement: %s" % out[-300:], rc == 0, out + err)
    check("fsck read the replaced FN's archive first (FD 1..5)",
          "replaced FN 9999078900005678: FD 1..5" in out + err, out + err)
    harness.registers_clean(check)
finally:
    harness.stop_all(procs)
    shutil.rmtree(root, ignore_errors=True)

sys.exit(check.summary())

#!/usr/bin/env python3
"""test_cli_settlements.py KASSA KASSA_OPERATOR: issue 16's settlements at the till.

Through the `kassa` command line against kassa-operator on free loopback
ports ([till] check = oism: every marked line is checked through the FN's
request 81, which the operator answers only when the FN's sign verifies):

  - a marked good (kefir, 84.50 at 10 %) sold as 1/4 of its pack: 1291
    {1293 1, 1294 4}, 1023 = 1, planned status 2, the line 84.50 / 4 =
    21.125 -> 21.13 (half up), its VAT 2113 * 10 / 110 = 192.09 -> 192;
    then the quarter returned (planned status 4) with `kassa return pay`;
    the operator's registry keeps the pack in circulation with 1 of 4
    units sold, then with none;
  - a pack sold by parts (common/part.h): 1/4, then 2/4 in another
    receipt (a whole piece refused: part_exceeds), then 2/4 refused (only
    1/4 left) and 1/4 sells it out (the next scan refused: already_sold);
    a quarter returned makes it sellable again for 1/4 only (2/4 and a
    whole return refused); after each document is delivered the till's
    cache (`kassa cache lookup`: parts) and the operator's registry
    (`kassa-operator status`: sold_units of inner_units, in_circulation
    until the parts make the whole) agree, and the operator's true-api
    codes/check answers soldUnitCount / innerUnitCount from it; a second
    till whose cache knows nothing of these sales asks the operator for
    2/4 and is refused (the operator itself is strict), 1/4 allowed;
  - a prepayment 100 % (1214 = 1) then its final settlement (1214 = 4,
    offset by 1215), and a sale on credit (1214 = 6, 1216) then the
    payment of the credit (1214 = 7, in cash);
  - an agent's line (commission agent: 1222 = 32, 1224 {1171, 1225}, 1226;
    the receipt's 1057 = 32);
  - corrections paid by an offset prepayment (1215), on credit (1216) and by
    counter-provision (1217).

Each document is listed by `kassa fd list`, shown with its FNS JSON names,
delivered (the operator stores only what verifies: its sign, its form's
requisites and its sums) and read back from the operator's store with the
TLV reader in harness.py (not kassa's codec) against the requisites the
FFD 1.2 format requires (harness.FFD_REQUIRED); the sale notifications 82 are
read from the FN's file the same way. Prints "N passed, N failed".
"""
import json
import os
import sqlite3
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Checks, tlv_fvln, tlv_get, tlv_text, tlv_vln  # noqa: E402

KASSA = os.path.abspath(sys.argv[1])
OPERATOR = os.path.abspath(sys.argv[2])
CATALOGUE = os.path.abspath("config/catalogue.csv")
FN_NUMBER = "9999078900016161"
OWNER = "7707083893"
PIN = "4321"
GS = "\x1d"
KEFIR = "4609876500025"  # dairy, 84.50, 10 % (1199 = 2)
BREAD = "4604440000017"  # unmarked, 55.00, 10 %
check = Checks()
root, till_dir, op_dir = harness.workdirs("kassa-settlements-", "till", "op")
conf = os.path.join(root, "kassa.conf")
ports = harness.free_ports(4)
with open(conf, "w") as f:
    f.write(harness.till_conf(till_dir, ports) + f"""[till]
check = oism
manager_pin = {PIN}
""")

def kassa(*args):
    p = subprocess.run([KASSA, "--config", conf] + list(args), capture_output=True, text=True,
                       timeout=120)
    return p.returncode, p.stdout, p.stderr


procs = []
reg = None  # KASSA_TEST_KKT: the till's register (harness.Register)


def flush(what):
    """`kassa ofd flush` to the operator, checked as `what`. A register
    delivers its own (FN_CAP_DEVICE_DELIVERS): through one kassa's flush
    sends nothing and the check waits until `kassa ofd status` owes nothing."""
    rc, out, err = kassa("ofd", "flush", "--ofd", "127.0.0.1:%d" % ports[0], "--oism",
                         "127.0.0.1:%d" % ports[1])
    owed = harness.owed_after(lambda: json.loads(kassa("ofd", "status", "--json")[1] or "{}"),
                              30 if reg else 0)
    check(what, rc == 0 and (owed.get("owed") == 0 or not reg), (out + err, owed))


def must(*args):
    rc, out, err = kassa(*args)
    check("kassa %s" % " ".join(a for a in args[:3] if a != PIN), rc == 0, out + err)
    return out


def last_json(out):
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {}


def first_json(out):
    try:
        return json.loads(out.strip().splitlines()[0])
    except (ValueError, IndexError):
        return {}


def op(*args):
    return harness.op(OPERATOR, op_dir, *args)


def status(code):
    return op("status", code.replace(GS, "\\x1d")).stdout


def op_code(code):
    """kassa-operator's record of the code: (status, sold_units, inner_units)."""
    try:
        j = json.loads(status(code))
    except ValueError:
        return None
    return j.get("status"), j.get("sold_units", 0), j.get("inner_units", 0)


def cache_parts(code):
    """The till's cache: (local state, units sold, units) of the code."""
    rc, out, err = kassa("cache", "lookup", code.replace(GS, "\\x1d"))
    try:
        j = json.loads(out)
    except ValueError:
        return None
    parts = j.get("parts") or {}
    return j.get("local"), parts.get("sold", 0), parts.get("units", 0)


def trueapi_units(code):
    """The operator's true-api codes/check: (sold, soldUnitCount, innerUnitCount)."""
    body = json.dumps({"codes": [code], "fiscalDriveNumber": FN_NUMBER}).encode()
    req = urllib.request.Request("http://127.0.0.1:%d/api/v4/true-api/codes/check" % ports[3],
                                 data=body, headers={"X-API-KEY": "demo-key",
                                                     "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            c = json.loads(r.read())["codes"][0]
    except (OSError, ValueError, KeyError, IndexError) as e:
        return repr(e)
    return c.get("sold"), c.get("soldUnitCount"), c.get("innerUnitCount")


def fd_json(number):
    rc, out, err = kassa("fd", "show", str(number), "--json")
    try:
        return next(iter(json.loads(out).values())) if rc == 0 else {}
    except ValueError:
        return {}


def pay(*args):
    rc, out, err = kassa(*args)
    return rc, (first_json(out) if rc == 0 else {}), out + err


server = None
docs = {}  # name -> FD number
expected_vat = {}  # name -> (the receipt-level tag, its sum)
# 1199 as `--vat` writes it, the receipt-level requisite (the FNS tags, and
# kassa's [open] stand-ins 0xFE10-0xFE15 for the 2025-2026 rates), the tax
# as the fraction of the gross (0: the requisite is the gross itself).
VAT_RATES = [("20", 1102, 20, 120), ("10", 1103, 10, 110), ("20/120", 1106, 20, 120),
             ("10/110", 1107, 10, 110), ("0", 1104, 0, 1), ("none", 1105, 0, 1),
             ("5", 0xFE10, 5, 105), ("7", 0xFE11, 7, 107), ("5/105", 0xFE12, 5, 105),
             ("7/107", 0xFE13, 7, 107), ("22", 0xFE14, 22, 122), ("22/122", 0xFE15, 22, 122)]
try:
    kefir = [harness.unescape(c) for c in
             op("issue", "--gtin", harness.gtin14(KEFIR[:12]), "--group", "dairy", "--count", "2",
                "--owner", OWNER).stdout.split()]
    check("two kefir codes issued", len(kefir) == 2, kefir)
    harness.register_fn(lambda *a: subprocess.run([KASSA, "--config", conf] + list(a),
                                                  capture_output=True, text=True, timeout=60),
                        op, check, FN_NUMBER, OWNER, os.path.join(till_dir, "fn.db"))
    # KASSA_TEST_KKT: the FN goes into a register (harness.Register), else None.
    reg = harness.into_register(conf, os.path.join(till_dir, "fn.db"), procs, ports)
    server = harness.Operator(OPERATOR, op_dir, check, ports=ports)
    harness.load_keys(lambda *a: harness.run([KASSA, "--config", conf, *a]), check, reg)
    must("cache", "import-catalogue", CATALOGUE)
    must("shift", "open", "--cashier", "Иванова")

    # ---- 1/4 of a marked pack, sold and returned -----------------------------------
    must("sale", "open", "--cashier", "Иванова")
    rc, out, err = kassa("sale", "add", BREAD, "--fraction", "1/4", "--json")
    d = first_json(out)
    check("a fraction of an unmarked good is refused (bad_code, fraction)",
          rc == 1 and d.get("detail") == "fraction", out + err)
    for bad in (["4/4"], ["0/4"], ["1/0"], ["a/b"], ["1/4/2"], ["1/4", "--qty", "2"]):
        rc, out, err = kassa("sale", "add", kefir[0], "--fraction", *bad)
        check("--fraction %s is a usage error" % " ".join(bad), rc == 2, out + err)
    rc, out, err = kassa("sale", "add", kefir[0], "--fraction", "1/4", "--json")
    d = first_json(out)
    check("1/4 of a kefir pack: checked by the OISM, planned status 2",
          rc == 0 and d.get("allow") and d.get("oism_answered") and d.get("planned") == 2,
          out + err)
    out = must("sale", "show")
    check("sale show: the line as 1/4 for 21.13", " x1/4 21.13" in out, out)
    basket = last_json(must("sale", "show", "--json"))
    line = (basket.get("lines") or [{}])[0]
    check("the line: fraction 1/4, quantity 1, 84.50 / 4 = 21.13 (half up)",
          line.get("fraction") == "1/4" and line.get("quantity") == "1"
          and line.get("total") == 2113 and line.get("planned") == 2, basket)
    rc, sold, out = pay("sale", "pay", "--cash", "21.13", "--json")
    check("the quarter paid: 21.13, VAT 10 % 2113 * 10 / 110 = 192",
          rc == 0 and sold.get("total") == 2113
          and [(v["vat"], v["sum"]) for v in sold.get("vat_sums", [])] == [(2, 192)], out)
    docs["fraction sale"] = sold.get("document", 0)
    j = fd_json(docs["fraction sale"])
    item = (j.get("items") or [{}])[0]
    frac = item.get("labeledProdFractionalQuantity", {})
    check("fd show: the item's 1291 by its FNS names (1/4, numerator 1, denominator 4)",
          frac.get("fractionalPart") == "1/4" and frac.get("numerator") == 1
          and frac.get("denominator") == 4 and item.get("quantity") == 1, j)
    out = must("fd", "copy", str(docs["fraction sale"]))
    check("the printed copy: 1/4 x 84.50 = 21.13", "1/4 x 84.50" in out and "=21.13" in out, out)
    flush("the sale and its notification delivered")
    check("the operator: a quarter of the pack sold, the pack still in circulation (1 of 4)",
          op_code(kefir[0]) == ("in_circulation", 1, 4), status(kefir[0]))

    rc, out, err = kassa("return", "open", "--pin", PIN)
    check("return opened", rc == 0, out + err)
    rc, out, err = kassa("return", "add", kefir[0], "--pin", PIN, "--fraction", "1/4", "--json")
    d = first_json(out)
    check("the quarter back: checked by the OISM, planned status 4",
          rc == 0 and d.get("allow") and d.get("planned") == 4, out + err)
    rc, out, err = kassa("return", "pay", "--cash", "21.13", "--json")
    check("return pay without the PIN refused", rc == 1 and "PIN" in err, out + err)
    rc, back, out = pay("return", "pay", "--pin", PIN, "--cash", "21.13", "--json")
    check("the return paid with `kassa return pay`: 21.13",
          rc == 0 and back.get("operation") == "return" and back.get("total") == 2113, out)
    docs["fraction return"] = back.get("document", 0)
    must("sale", "open")
    must("sale", "add", BREAD)
    rc, out, err = kassa("return", "pay", "--pin", PIN, "--cash", "55.00")
    check("return pay refuses to pay a sale", rc == 1 and "sale" in err, out + err)
    must("sale", "cancel")

    # ---- a pack sold by parts: 1/4, 2/4, 1/4 (sold out), 1/4 back -----------------------
    def deliver(what):
        flush("%s: delivered with its notification" % what)

    def agree(what, local, sold, units, op_status):
        """The till's cache and the operator's registry after `what`."""
        here, there = cache_parts(kefir[1]), op_code(kefir[1])
        check("%s: the cache says %s, %d of %d units sold" % (what, local, sold, units),
              here == (local, sold, units), here)
        check("%s: the operator says %s, %d of %d units sold" % (what, op_status, sold, units),
              there == (op_status, sold, units), there)

    def part_sale(name, fraction, cash):
        must("sale", "open")
        rc, out, err = kassa("sale", "add", kefir[1], "--fraction", fraction, "--json")
        d = first_json(out)
        check("%s: %s allowed by the OISM, planned status 2" % (name, fraction),
              rc == 0 and d.get("allow") and d.get("oism_answered") and d.get("planned") == 2,
              out + err)
        rc, sold, out = pay("sale", "pay", "--cash", cash, "--json")
        check("%s: paid" % name, rc == 0 and sold.get("document"), out)
        docs[name] = sold.get("document", 0)
        deliver(name)

    def refused(why, args, reason, detail=None):
        rc, out, err = kassa(*args, "--json")
        d = first_json(out)
        check("%s: refused (%s%s)" % (why, reason, ", " + detail if detail else ""),
              rc == 1 and not d.get("allow") and d.get("reason") == reason
              and (detail is None or d.get("detail") == detail), out + err)
        return d

    part_sale("parts 1/4", "1/4", "21.13")
    agree("after 1/4", "sold", 1, 4, "in_circulation")
    check("true-api after 1/4: not sold, 1 of 4 units", trueapi_units(kefir[1]) == (False, 1, 4),
          trueapi_units(kefir[1]))
    must("sale", "open")
    d = refused("a whole pack of which 1/4 is sold", ("sale", "add", kefir[1]), "part_exceeds",
                "3/4")
    check("the refusal says what is left, in Russian and English",
          "Осталось 3/4" in d.get("message_ru", "") and "3/4 of the pack is left"
          in d.get("message_en", ""), d)
    must("sale", "cancel")
    part_sale("parts 2/4", "2/4", "42.25")
    agree("after 1/4 + 2/4", "sold", 3, 4, "in_circulation")
    must("sale", "open")
    refused("2/4 when 1/4 is left", ("sale", "add", kefir[1], "--fraction", "2/4"),
            "part_exceeds", "1/4")
    must("sale", "cancel")
    part_sale("parts last 1/4", "1/4", "21.13")
    agree("sold out by its parts", "sold", 4, 4, "sold")
    check("true-api when sold out: sold, 4 of 4 units", trueapi_units(kefir[1]) == (True, 4, 4),
          trueapi_units(kefir[1]))
    must("sale", "open")
    refused("a quarter of a pack sold out", ("sale", "add", kefir[1], "--fraction", "1/4"),
            "already_sold")
    must("sale", "cancel")

    rc, out, err = kassa("return", "open", "--pin", PIN)
    check("return opened", rc == 0, out + err)
    rc, out, err = kassa("return", "add", kefir[1], "--pin", PIN, "--fraction", "1/4", "--json")
    d = first_json(out)
    check("a quarter of the sold-out pack back: allowed by the OISM, planned status 4",
          rc == 0 and d.get("allow") and d.get("oism_answered") and d.get("planned") == 4,
          out + err)
    rc, back, out = pay("return", "pay", "--pin", PIN, "--cash", "21.13", "--json")
    check("parts return 1/4 paid", rc == 0 and back.get("total") == 2113, out)
    docs["parts return 1/4"] = back.get("document", 0)
    deliver("parts return 1/4")
    agree("after a quarter back", "sold", 3, 4, "in_circulation")
    must("sale", "open")
    refused("2/4 when the returned 1/4 is left", ("sale", "add", kefir[1], "--fraction", "2/4"),
            "part_exceeds", "1/4")
    rc, out, err = kassa("sale", "add", kefir[1], "--fraction", "1/4", "--json")
    check("1/4 sellable again", rc == 0 and first_json(out).get("allow"), out + err)
    must("sale", "cancel")
    rc, out, err = kassa("return", "open", "--pin", PIN)
    refused("a whole return of a pack 3/4 sold", ("return", "add", kefir[1], "--pin", PIN),
            "part_not_sold", "3/4")
    must("sale", "cancel")
    agree("after the refusals and cancels", "sold", 3, 4, "in_circulation")

    # A second till on the same operator, whose cache knows nothing of these
    # sales: the operator alone decides, and refuses a part over what is left.
    till2 = os.path.join(root, "till2")
    os.makedirs(till2)
    conf2 = os.path.join(root, "kassa2.conf")
    with open(conf2, "w") as f:
        f.write(harness.till_conf(till2, ports) + "[till]\ncheck = oism\n")

    def kassa2(*args):
        return subprocess.run([KASSA, "--config", conf2] + list(args), capture_output=True,
                              text=True, timeout=60)

    harness.register_fn(kassa2, op, check, "9999078900016178", OWNER,
                        os.path.join(till2, "fn.db"))
    reg2 = harness.into_register(conf2, os.path.join(till2, "fn.db"), procs, ports)
    harness.load_keys(kassa2, check, reg2)
    for args in (("cache", "import-catalogue", CATALOGUE),
                 ("shift", "open", "--cashier", "Петрова"), ("sale", "open")):
        r = kassa2(*args)
        check("till 2: kassa %s" % " ".join(args[:2]), r.returncode == 0, r.stdout + r.stderr)
    r = kassa2("sale", "add", kefir[1], "--fraction", "2/4", "--json")
    d = first_json(r.stdout)
    check("till 2: 2/4 of the pack refused by the operator itself (oism_refused)",
          r.returncode == 1 and d.get("reason") == "oism_refused" and d.get("oism_answered"),
          r.stdout + r.stderr)
    r = kassa2("sale", "add", kefir[1], "--fraction", "1/4", "--json")
    check("till 2: the 1/4 left allowed by the operator",
          r.returncode == 0 and first_json(r.stdout).get("allow"), r.stdout + r.stderr)
    kassa2("sale", "cancel")

    # ---- prepayment and its settlement; credit and its payment ------------------------
    def sell(*payment):
        must("sale", "open")
        must("sale", "add", BREAD)
        return pay("sale", "pay", *payment, "--json")

    rc, pre, out = sell("--method", "prepayment-full", "--cash", "55.00")
    check("prepayment 100 % (1214 = 1) in cash", rc == 0 and pre.get("method") == 1, out)
    rc, fin, out = sell("--method", "full", "--prepaid", "55.00")
    check("its final settlement (1214 = 4) offsets it (1215 = 55.00)",
          rc == 0 and fin.get("method") == 4 and fin.get("prepaid") == 5500, out)
    rc, cred, out = sell("--method", "credit", "--credit", "55.00")
    check("handed over on credit (1214 = 6, 1216 = 55.00)",
          rc == 0 and cred.get("method") == 6 and cred.get("credit") == 5500, out)
    rc, paid, out = sell("--method", "credit-payment", "--cash", "55.00")
    check("the credit paid (1214 = 7) in cash", rc == 0 and paid.get("method") == 7, out)
    rc, bad, out = sell("--method", "credit-payment", "--credit", "55.00")
    check("a credit's payment on credit is refused by the FN's rules (0x09)",
          rc == 1 and "0x09" in out, out)
    must("sale", "cancel")
    docs.update({"prepayment": pre.get("document", 0), "settlement": fin.get("document", 0),
                 "credit": cred.get("document", 0), "credit payment": paid.get("document", 0)})

    # ---- an agent's line -----------------------------------------------------------------
    must("sale", "open")
    rc, out, err = kassa("sale", "add", BREAD, "--agent", "commission")
    check("an agent without the supplier is a usage error", rc == 2, out + err)
    rc, out, err = kassa("sale", "add", BREAD, "--agent", "broker", "--supplier-name", "x",
                         "--supplier-inn", OWNER)
    check("an unknown agent kind is a usage error", rc == 2, out + err)
    rc, out, err = kassa("sale", "add", BREAD, "--agent", "commission", "--supplier-name",
                         "ООО «Пекарня»", "--supplier-inn", "12345")
    check("a supplier INN of 5 digits is refused", rc == 1, out + err)
    check("... and nothing was added", last_json(must("sale", "show", "--json")).get("lines") == [])
    rc, out, err = kassa("sale", "add", BREAD, "--agent", "commission", "--supplier-name",
                         "ООО «Пекарня»", "--supplier-inn", "7710140679", "--supplier-phone",
                         "+74951234567", "--agent-phone", "+74957654321")
    check("an agent's line added", rc == 0, out + err)
    line = (last_json(must("sale", "show", "--json")).get("lines") or [{}])[0]
    check("the basket keeps the agent", line.get("agent", {}).get("kind") == "commission"
          and line["agent"].get("supplier_inn") == "7710140679", line)
    rc, agent, out = pay("sale", "pay", "--card", "55.00", "--json")
    check("the agent's receipt paid", rc == 0, out)
    docs["agent"] = agent.get("document", 0)
    j = fd_json(docs["agent"])
    item = (j.get("items") or [{}])[0]
    check("fd show: 1057, 1222, 1224 {1225, 1171}, 1223 {1073}, 1226 by their FNS names",
          j.get("paymentAgentType") == 32 and item.get("paymentAgentByProductType") == 32
          and item.get("providerData", {}).get("providerName") == 'ООО "Пекарня"'
          and item.get("providerData", {}).get("providerPhone") == "+74951234567"
          and item.get("paymentAgentData", {}).get("paymentAgentPhone") == "+74957654321"
          and item.get("providerInn", "").strip() == "7710140679", j)

    out = must("fd", "copy", str(docs["agent"]))
    check("the printed copy: КОМИССИОНЕР and the supplier",
          "КОМИССИОНЕР" in out and "Поставщик: ООО \"Пекарня\", ИНН" in out
          and "7710140679" in out, out)

    # ---- corrections paid by the other forms ---------------------------------------------
    def correction(*args):
        rc, out, err = kassa("correction", "--operation", "income", "--vat", "22", "--reason",
                             "Выручка без чека", "--json", *args)
        return rc, (json.loads(out) if rc == 0 else {}), out + err

    rc, c1, out = correction("--prepaid", "5000", "--cash", "1000")
    check("a correction offsetting a prepayment (1215 50.00) and 10.00 cash",
          rc == 0 and c1.get("prepaid") == 5000 and c1.get("total") == 6000, out)
    rc, c2, out = correction("--credit", "3000")
    check("a correction on credit (1216 30.00)", rc == 0 and c2.get("credit") == 3000, out)
    rc, c3, out = correction("--other", "2000", "--cashless", "500")
    check("a correction by counter-provision (1217 20.00) and 5.00 cashless",
          rc == 0 and c3.get("other") == 2000, out)
    rc, _, out = correction("--credit", "3000", "--method", "full")
    check("credit against a full settlement is refused by the FN (0x09)",
          rc == 1 and "0x09" in out, out)
    rc, _, out = correction("--other", "x")
    check("--other x is a usage error", rc == 2, out)
    docs.update({"correction 1215": c1.get("document", 0), "correction 1216": c2.get("document", 0),
                 "correction 1217": c3.get("document", 0)})
    j = fd_json(docs["correction 1216"])
    check("fd show: the credit correction's line is 1214 = 6 with creditSum 3000",
          j.get("creditSum") == 3000 and (j.get("items") or [{}])[0].get("paymentType") == 6, j)

    # One correction of 123.45 per VAT rate: the receipt-level sum of its
    # rate worked out here (the tax inside the gross: r / (100 + r), or the
    # fraction itself; 0 % and "none" carry the gross), read back below.
    def last_document():
        return json.loads(kassa("fn", "status", "--json")[1] or "{}").get("lastDocument")

    for text, tag, num, den in VAT_RATES:
        before = last_document()
        rc, c, out = correction("--cash", "12345", "--vat", text)
        if reg and tag in (0xFE10, 0xFE11, 0xFE12, 0xFE13):
            # 1199 = 7..10 (5 %, 7 %, 5/105, 7/107) have no row of the
            # register's table 6 in any public source (docs/HARDWARE.md): the
            # register refuses them (the FN's 09h) and nothing is made.
            check("a correction at VAT %s: refused through a register, nothing made" % text,
                  rc == 1 and "0x09" in out and last_document() == before, out)
            continue
        check("a correction at VAT %s" % text, rc == 0, out)
        docs["vat %s" % text] = c.get("document", 0)
        expected_vat["vat %s" % text] = (tag, 12345 if not num else (12345 * num + den // 2) // den)

    # The X-report's totals by payment form: nine sales: the quarter (21.13
    # cash), the pack sold by parts (21.13, 42.25 and 21.13 cash), the
    # prepayment and the credit's payment (55.00 cash each), the settlement
    # (55.00 offset), the credit (55.00), the agent's (55.00 card).
    x = json.loads(must("report", "x", "--json"))
    sale_t = x["shift_totals"]["receipts"]["sale"]
    check("X: sales by form: cash 3 x 21.13 + 42.25 + 2 x 55.00, card 55.00, prepaid 55.00, "
          "credit 55.00", (sale_t["count"], sale_t["cash"], sale_t["cashless"], sale_t["prepaid"],
                           sale_t["credit"], sale_t["other"])
          == (9, 3 * 2113 + 4225 + 2 * 5500, 5500, 5500, 5500, 0), sale_t)
    text = must("report", "x")
    check("X as text names the prepaid and credit sums", "предоплатой" in text
          and "в кредит" in text, text)

    rc, out, err = kassa("fd", "list")
    listed = [l.split()[0] for l in out.splitlines() if l.strip()[:1].isdigit()]
    check("fd list lists every one of them",
          rc == 0 and all(str(n) in listed for n in docs.values()), (docs, out))

    flush("everything delivered")
    rc, out, err = kassa("ofd", "status", "--json")
    check("nothing owed", rc == 0 and json.loads(out).get("owed") == 0, out + err)
    check("the operator: the returned code is in circulation again, nothing of it sold",
          op_code(kefir[0]) == ("in_circulation", 0, 0), status(kefir[0]))
    rc, out, err = kassa("fsck")
    check("fsck clean", rc == 0, out + err)
    harness.registers_clean(check)
finally:
    harness.stop_all(procs)
    if server:
        server.stop()

# ---- read back what the operator stored and what the FN notified ----------------------
snap = harness.snapshot(os.path.join(till_dir, "fn.db"), os.path.join(op_dir, "operator.db"),
                        FN_NUMBER)
bodies = {}  # name -> the document's TLV list, as the operator stored it
check("the operator stored every document of the FN", set(snap["stored"]) == set(snap["archive"]),
      (sorted(snap["stored"]), sorted(snap["archive"])))
for name, number in docs.items():
    form, body, miss = harness.ffd_missing(snap["stored"].get(number))
    check("%s (FD %d, form %d): every requisite the format requires" % (name, number, form),
          form in (3, 31) and not miss, miss)
    bodies[name] = body


def item_of(name):
    body = bodies.get(name, [])
    items = tlv_get(body, 1059)
    return body, (items[0] if items else [])


def byte(items, tag):
    v = tlv_get(items, tag)
    return v[0][0] if v else None


for name, op_code, status_planned in (("fraction sale", 1, 2), ("fraction return", 2, 4)):
    body, it = item_of(name)
    frac = (tlv_get(it, 1291) or [[]])[0]
    check("%s: 1054 = %d, 1023 = 1, 1291 {1293 1, 1294 4}, 2003 = %d, 1043 2113"
          % (name, op_code, status_planned),
          byte(body, 1054) == op_code and tlv_fvln((tlv_get(it, 1023) or [b"\0\0"])[0])
          in ((1, 0), (1000, 3)) and tlv_vln((tlv_get(frac, 1293) or [b""])[0]) == 1
          and tlv_vln((tlv_get(frac, 1294) or [b""])[0]) == 4
          and byte(it, 2003) == status_planned
          and tlv_vln((tlv_get(it, 1043) or [b""])[0]) == 2113, (body, it))
for name, method, form_tag, amount in (("prepayment", 1, 1031, 5500), ("settlement", 4, 1215, 5500),
                                        ("credit", 6, 1216, 5500), ("credit payment", 7, 1031, 5500),
                                        ("correction 1215", 4, 1215, 5000),
                                        ("correction 1216", 6, 1216, 3000),
                                        ("correction 1217", 4, 1217, 2000)):
    body, it = item_of(name)
    check("%s: 1214 = %d, %d = %d" % (name, method, form_tag, amount),
          byte(it, 1214) == method and tlv_vln((tlv_get(body, form_tag) or [b""])[0]) == amount,
          (body, it))
for name, (tag, expected) in expected_vat.items():
    body, it = item_of(name)
    sums = {t: tlv_vln(v) for t, v in body if t in (1102, 1103, 1104, 1105, 1106, 1107)
            or 0xFE10 <= t <= 0xFE15}
    check("%s: the one receipt-level sum %d = %d" % (name, tag, expected),
          sums == {tag: expected}, sums)
body, it = item_of("agent")
supplier = (tlv_get(it, 1224) or [[]])[0]
check("agent: 1057 = 32, 1222 = 32, 1225 (its «» folded for CP866) and 1226 as given",
      byte(body, 1057) == 32 and byte(it, 1222) == 32
      and tlv_text((tlv_get(supplier, 1225) or [b""])[0]) == 'ООО "Пекарня"'
      and tlv_text((tlv_get(it, 1226) or [b""])[0]).strip() == "7710140679", (body, it))

# The sale notifications (82) of the quarter's sale and return, from the FN's file.
db = sqlite3.connect("file:%s?mode=ro" % os.path.join(till_dir, "fn.db"), uri=True)
notes = {n: bytes(b) for n, b in db.execute("SELECT receipt_number, tlv FROM notifications")}
db.close()
for name, assigned in (("fraction sale", 2), ("fraction return", 4)):
    form, body, miss = harness.ffd_missing(notes.get(docs.get(name), b""))
    lines = tlv_get(body, 2007)
    line = lines[0] if lines else []
    frac = (tlv_get(line, 1291) or [[]])[0]
    check("%s: its 82 has every requisite, 2110 = %d, 1291 {1/4}" % (name, assigned),
          form == 82 and not miss and byte(line, 2110) == assigned and tlv_vln((tlv_get(frac, 1294) or [b""])[0]) == 4,
          (form, body))
check("the operator applied both notifications", len(snap["applied"]) >= 2, snap["applied"])

sys.exit(harness.finish(check, root))

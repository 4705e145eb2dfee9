#!/usr/bin/env python3
"""test_api_office.py KASSA OPERATOR: the shop's day through `kassa serve` (issue 16).

The same day test_cli_reports.py runs on the command line, driven through
the HTTP API on ports the service picks (a real kassa serve, a real
kassa-operator, the FN emulator in a temp folder): cash in / out
(POST /api/cash/in|out, GET /api/drawer), a sale paid with cash tendered
and its change, correction receipts (POST /api/corrections) on the
register's own initiative and by order, the X and Z reports (POST
/api/reports/x|z) with their totals per operation, payment form and VAT
rate and the drawer, copies from the archive (GET /api/documents/{n}/copy),
the FN close (refused while documents are owed) and the FN replacement
(POST /api/fn/close, /api/fn/replace), after which the running service
sells on the new FN; corrections by counter-provision, prepayment and
credit (their 1215/1216/1217 and the line's 1214 read back, one the FN's
rules refuse); a line's quantity changed and discounted (a PIN
above [till] discount_without_pin_percent) and the catalogue searched by
name and GTIN; then a service with its background sender closes and
replaces the FN again and delivers the new FN's documents by itself.
Every refusal is asserted by its stable name and
leaves the FN's document counter where it was. The expected figures are
worked out here by hand from the catalogue (config/catalogue.csv):

  sale: 2 x 55.00 at 10 % + 3 x 9.90 at 22 % = 139.70, cash 100.00 of
        200.00 tendered (change 100.00) + card 39.70;
        VAT 10 %: 11000 * 10 / 110 = 1000; VAT 22 %: 2970 * 22 / 122 = 535.57 -> 536
  correction income, own initiative: 100.00 cash at 22 % (VAT 1803.28 -> 1803)
  correction refund, order 12-34/5 of 2026-12-01: 20.00 card at 10 % (181.82 -> 182)
  drawer: in 5000.00, out 30.00, + 100.00 sale cash + 100.00 correction cash = 5170.00
Prints "N passed, N failed"; exit 1 on any failure.
"""
import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Checks  # noqa: E402
from shop import record  # noqa: E402  (the contract's recording, docs/openapi.yaml)

KASSA, OPERATOR = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
CATALOGUE = os.path.abspath("config/catalogue.csv")
TOKEN = "office-" + os.urandom(8).hex()
PIN = "2468"
FN1, FN2 = "9999078900003001", "9999078900003002"
check = Checks()
root, till_dir, op_dir = harness.workdirs("kassa-api-office-", "till", "operator")
conf = os.path.join(root, "kassa.conf")
procs = []


def kassa(*args):
    return harness.run([KASSA, "--config", conf] + list(args), timeout=120)


def op(*args):
    return harness.op(OPERATOR, op_dir, *args)


def call(port, method, path, body=None, pin=None, token=TOKEN):
    """One request: (status, JSON answer)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = {"Authorization": "Bearer " + token}
    if method == "POST":
        h["Content-Type"] = "application/json"
    if pin:
        h["X-Manager-PIN"] = pin
    conn.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                 headers=h)
    r = conn.getresponse()
    text = r.read()
    record("api", method, path, r.status, dict(r.getheaders()), text)
    conn.close()
    try:
        return r.status, json.loads(text)
    except ValueError:
        return r.status, {"raw": text[:300]}


def last_document(port):
    return call(port, "GET", "/api/status")[1]["fn"]["last_document"]


def refused(port, name, method, path, body, status, error, pin=PIN, field=None):
    """A refusal: its status, its stable name (and field), and no document made."""
    before = last_document(port)
    st, j = call(port, method, path, body, pin=pin)
    check(f"{name}: {status} {error}", st == status and j.get("error") == error
          and (field is None or j.get("field") == field) and j.get("message_ru")
          and j.get("message_en"), (st, j))
    check(f"{name}: nothing made", last_document(port) == before)
    return j


try:
    ofd, oism, keys, http_port = ports = harness.free_ports(4)
    with open(conf, "w") as f:
        f.write(harness.till_conf(till_dir, ports) + f"""[service]
background = no
[till]
check = offline
manager_pin = {PIN}
api_token = {TOKEN}
tax_system = 1
""")
    harness.register_fn(kassa, op, check, FN1, "7707083893", os.path.join(till_dir, "fn.db"))
    # KASSA_TEST_KKT: the FN goes into a register (harness.Register), else None.
    reg = harness.into_register(conf, os.path.join(till_dir, "fn.db"), procs, ports)
    r = kassa("cache", "import-catalogue", CATALOGUE)
    check("catalogue", r.returncode == 0, r.stderr)
    serve = harness.Serve(KASSA, conf, procs)
    port = serve.api
    check("serve listens", port is not None, serve.line)
    operator = harness.Operator(OPERATOR, op_dir, check, ports=[ofd, oism, keys, http_port])

    refused(port, "cash in without a shift", "POST", "/api/cash/in", {"amount": 100}, 409,
            "no_shift")
    st, j = call(port, "POST", "/api/shift/open", {"cashier": "Иванова"})
    check("shift open", st == 200 and j["shift"]["open"], j)

    # ---- the drawer ---------------------------------------------------------------
    refused(port, "cash in without the PIN", "POST", "/api/cash/in", {"amount": 500000}, 403,
            "manager_pin_required", pin=None)
    st, j = call(port, "POST", "/api/cash/in", {"amount": 500000}, pin=PIN)
    check("cash in 5000.00", st == 200 and j["cash"] == {"kind": "in", "amount": 500000,
                                                          "shift": 1, "balance": 500000}, j)
    refused(port, "cash out past the drawer", "POST", "/api/cash/out", {"amount": 600000}, 409,
            "short")
    refused(port, "cash out 0", "POST", "/api/cash/out", {"amount": 0}, 400, "bad_request",
            field="amount")
    refused(port, "cash out -1", "POST", "/api/cash/out", {"amount": -1}, 400, "bad_request",
            field="amount")
    st, j = call(port, "POST", "/api/cash/out", {"amount": 3000}, pin=PIN)
    check("cash out 30.00: 4970.00 left", st == 200 and j["cash"]["balance"] == 497000, j)
    st, j = call(port, "GET", "/api/drawer", pin=PIN)
    check("GET /api/drawer", st == 200 and j["drawer"] == {
        "shift_open": True, "shift": 1, "cash_in": 500000, "cash_ins": 1, "cash_out": 3000,
        "cash_outs": 1, "balance": 497000}, j)

    # ---- a sale with the change ----------------------------------------------------
    st, j = call(port, "POST", "/api/receipts", {"cashier": "Иванова"})
    check("receipt open", st == 201, j)
    for code in ["4604440000017", "4604440000017", "46001238", "46001238", "46001238"]:
        st, j = call(port, "POST", "/api/receipts/current/items", {"code": code})
        check(f"add {code}", st == 201, j)
    refused(port, "tendered below the cash", "POST", "/api/receipts/current/pay",
            {"cash": 10000, "cashless": 3970, "tendered": 5000}, 422, "payment")
    st, j = call(port, "POST", "/api/receipts/current/pay",
                 {"cash": 10000, "cashless": 3970, "tendered": 20000})
    sale = j.get("receipt", {})
    check("sale 139.70: 100.00 cash of 200.00 tendered, change 100.00",
          st == 200 and sale.get("total") == 13970 and sale.get("cash") == 10000
          and sale.get("tendered") == 20000 and sale.get("change") == 10000, j)
    check("its VAT sums 10 %: 10.00, 22 %: 5.36",
          [(v["vat"], v["sum"]) for v in sale.get("vat_sums", [])] == [(2, 1000), (11, 536)], j)

    # ---- corrections ---------------------------------------------------------------
    income = {"operation": "income", "cash": 10000, "vat": "22",
              "reason": "Продажа без чека 01.12"}
    refused(port, "a correction without the PIN", "POST", "/api/corrections", income, 403,
            "manager_pin_required", pin=None)
    for name, bad, field in [
            ("VAT 21", dict(income, vat="21"), "vat"),
            ("operation gift", dict(income, operation="gift"), "operation"),
            ("no reason", {k: v for k, v in income.items() if k != "reason"}, "reason"),
            ("no amount", dict(income, cash=0), "amount"),
            ("an order without its date", dict(income, order="1"), "date"),
            ("30 February", dict(income, order="1", date="2026-02-30"), "date"),
            ("an amount as text", dict(income, cash="100"), "cash")]:
        refused(port, f"correction: {name}", "POST", "/api/corrections", bad, 400, "bad_request",
                field=field)
    st, j = call(port, "POST", "/api/corrections", income, pin=PIN)
    own = j.get("correction", {})
    check("correction on own initiative", st == 201 and own.get("correction_type") == 0
          and own.get("total") == 10000 and "КОРРЕКЦ" in (own.get("text") or ""), j)
    st, j = call(port, "POST", "/api/corrections",
                 {"operation": "refund", "cashless": 2000, "vat": "10%",
                  "reason": "Ошибочный чек", "order": "12-34/5", "date": "2026-12-01"}, pin=PIN)
    by_order = j.get("correction", {})
    check("correction by order", st == 201 and by_order.get("correction_type") == 1, j)
    r = kassa("fd", "show", str(own.get("document")), "--json")
    doc = json.loads(r.stdout)["receiptCorrection"] if r.returncode == 0 else {}
    check("31 own: 1173 = 0, VAT 22 % 18.03", doc.get("correctionType") == 0
          and doc.get("nds22") == 1803, r.stdout + r.stderr)
    r = kassa("fd", "show", str(by_order.get("document")), "--json")
    doc = json.loads(r.stdout)["receiptCorrection"] if r.returncode == 0 else {}
    basis = next((v for k, v in doc.items() if k.endswith("orrectionBase")), {})
    check("31 by order: 1173 = 1, 1179, 1178 = 2026-12-01, 1054 = 2, VAT 1.82",
          doc.get("correctionType") == 1 and basis.get("correctionDocumentNumber") == "12-34/5"
          and basis.get("correctionDocumentDate") == 1796083200 and doc.get("operationType") == 2
          and doc.get("nds10") == 182, r.stdout + r.stderr)

    # ---- X and Z ---------------------------------------------------------------------
    st, j = call(port, "POST", "/api/reports/x", {"width": 48})
    x = j.get("report", {})
    sh = x.get("shift_totals") or {}
    s = sh.get("receipts", {}).get("sale", {})
    check("X: one sale 139.70 = cash 100.00 + card 39.70",
          st == 200 and (s.get("count"), s.get("total"), s.get("cash"), s.get("cashless"),
                         s.get("prepaid"), s.get("credit"), s.get("other"))
          == (1, 13970, 10000, 3970, 0, 0, 0), j)
    check("X: VAT by rate", [(v["vat"], v["sum"]) for v in s.get("vat", [])]
          == [(2, 1000), (11, 536)], j)
    corr = sh.get("corrections", {})
    check("X: corrections 100.00 income, 20.00 refund",
          (corr.get("sale", {}).get("total"), corr.get("sale_return", {}).get("total"))
          == (10000, 2000), j)
    check("X: the drawer holds 5170.00", x.get("drawer") == {
        "cash_in": 500000, "cash_ins": 1, "cash_out": 3000, "cash_outs": 1, "balance": 517000}, j)
    text = x.get("text") or ""
    check("X as printed: the title, the total, the drawer",
          "СОСТОЯНИИ РАСЧЕТОВ" in text.upper() and "=139.70" in text and "=5170.00" in text,
          text)
    st, j = call(port, "POST", "/api/reports/z", {"cashier": "Иванова"})
    z = j.get("report", {})
    check("Z: the same totals, the shift closed", st == 200 and z.get("report") == "z"
          and z.get("shift_totals") == sh and z.get("drawer", {}).get("balance") == 517000, j)
    check("Z as printed", "ЗАКРЫТИИ СМЕНЫ" in (z.get("text") or "").upper(), z.get("text"))
    refused(port, "a second Z", "POST", "/api/reports/z", {}, 409, "fn")
    refused(port, "cash out after the Z", "POST", "/api/cash/out", {"amount": 100}, 409,
            "no_shift")

    # ---- copies -------------------------------------------------------------------------
    st, j = call(port, "GET", "/api/documents/%d/copy" % sale.get("document", 0))
    check("copy of the sale: КОПИЯ with its VAT", st == 200 and j.get("kind") == "receipt"
          and "КОПИЯ" in j.get("text", "") and "=5.36" in j.get("text", ""), j)
    st, j = call(port, "GET", "/api/documents/%d/copy?width=32" % z.get("document", 0))
    check("copy of the Z: its totals again", st == 200 and j.get("kind") == "z"
          and j.get("shift_totals") == sh and "=139.70" in j.get("text", "")
          and j.get("width") == 32, j)
    st, j = call(port, "GET", "/api/documents/2/copy")
    check("copy of a shift open: not_printable", st == 404 and j.get("error") == "not_printable",
              j)
    st, j = call(port, "GET", "/api/documents/999/copy")
    check("copy of no document", st == 404 and j.get("error") == "no_document", j)

    # ---- FN close and replacement ----------------------------------------------------
    j = refused(port, "fn close while documents are owed", "POST", "/api/fn/close", {}, 409,
                "owed")
    # 1, 2, the sale, two corrections, the X, the Z
    check("owed counts the seven documents", j.get("documents") == 7, j)
    refused(port, "fn replace before the close", "POST", "/api/fn/replace",
            {"fn_number": FN2}, 409, "fn_not_closed")
    link = ["--ofd", f"127.0.0.1:{ofd}", "--oism", f"127.0.0.1:{oism}"]
    r = kassa("ofd", "flush", *link)
    check("delivered: the operator verified every document", r.returncode == 0, r.stdout + r.stderr)
    st, j = call(port, "POST", "/api/fn/close", {}, pin=PIN)
    check("fn close", st == 200 and j["fn_close"]["document"] > 0, j)
    st, j = call(port, "GET", "/api/status")
    check("the FN is closed", j["fn"]["phase"] == "closed", j["fn"])
    r = kassa("ofd", "flush", *link)
    check("the 6 delivered", r.returncode == 0 and "delivered: 1 documents" in r.stdout,
          r.stdout + r.stderr)
    refused(port, "replace with a short number", "POST", "/api/fn/replace", {"fn_number": "123"},
            400, "bad_request", field="fn_number")
    st, j = call(port, "POST", "/api/fn/replace", {"fn_number": FN2, "cashier": "Петров"},
                 pin=PIN)
    rep = j.get("replaced", {})
    check("fn replace", st == 200 and rep.get("old_fn") == FN1 and rep.get("new_fn") == FN2
          and rep.get("kept") == f"fn-{FN1}.db" and rep.get("document") == 1, j)
    check("the old archive kept", os.path.exists(os.path.join(till_dir, f"fn-{FN1}.db")))
    st, j = call(port, "GET", "/api/status")
    check("the service works on the new FN", j["fn"]["fn_number"] == FN2
          and j["fn"]["phase"] == "fiscal", j["fn"])
    r = op("fn", "add", "--fn-db", os.path.join(till_dir, "fn.db"))
    check("the operator knows the new FN", r.returncode == 0, r.stderr)
    st, j = call(port, "POST", "/api/shift/open", {})
    check("shift open on the new FN", st == 200, j)
    call(port, "POST", "/api/receipts", {})
    call(port, "POST", "/api/receipts/current/items", {"code": "46001238"})
    st, j = call(port, "POST", "/api/receipts/current/pay", {"method": "cash", "tendered": 1000})
    check("a sale on the new FN: 9.90 of 10.00, change 0.10",
          st == 200 and j["receipt"]["change"] == 10 and j["receipt"]["document"] == 3, j)

    # ---- corrections by the other payment forms ----------------------------------------
    # 50.00 by counter-provision (1217) and 10.00 offset prepayment (1215), the
    # line full settlement (1214 = 4); 30.00 on credit alone: the line 1214 = 6.
    st, j = call(port, "POST", "/api/corrections",
                 {"operation": "income", "other": 5000, "prepaid": 1000, "vat": "none",
                  "reason": "Встречное предоставление"}, pin=PIN)
    other = j.get("correction", {})
    check("a correction by counter-provision and prepayment", st == 201
          and other.get("total") == 6000, j)
    r = kassa("fd", "show", str(other.get("document")), "--json")
    doc = json.loads(r.stdout)["receiptCorrection"] if r.returncode == 0 else {}
    check("its 1217 50.00, 1215 10.00, the line 1214 = 4",
          doc.get("provisionSum") == 5000 and doc.get("prepaidSum") == 1000
          and doc.get("items", [{}])[0].get("paymentType") == 4, r.stdout + r.stderr)
    st, j = call(port, "POST", "/api/corrections",
                 {"operation": "income", "credit": 3000, "vat": "22", "reason": "В кредит"},
                 pin=PIN)
    credit = j.get("correction", {})
    r = kassa("fd", "show", str(credit.get("document")), "--json")
    doc = json.loads(r.stdout)["receiptCorrection"] if r.returncode == 0 else {}
    check("a correction on credit: 1216 30.00, the line 1214 = 6", st == 201
          and doc.get("creditSum") == 3000
          and doc.get("items", [{}])[0].get("paymentType") == 6, r.stdout + r.stderr)
    refused(port, "a correction paid by a prepayment against a credit line", "POST",
            "/api/corrections", {"operation": "income", "prepaid": 1000, "method": 6,
                                 "vat": "22", "reason": "x"}, 409, "fn")

    # ---- a quarter of a marked pack, an agent's line, through the basket's API ---------
    # Kefir 84.50 sold as 1/4 (POST /api/receipts/current/items with "fraction",
    # sale_add as `kassa sale add --fraction`): 84.50 / 4 = 21.125 -> 21.13,
    # planned status 2; 10 % off: 84.50 - 8.45 = 76.05, / 4 = 19.0125 -> 19.01
    # (the line stays a quarter, not 76.05 x 1).
    kefir = [harness.unescape(c) for c in
             op("issue", "--gtin", "04609876500025", "--group", "dairy", "--count", "2",
                "--owner", "7707083893").stdout.split()]
    kefir += ["", ""]
    r = kassa("ofd", "keys")
    check("the new FN's keys", r.returncode == 0, r.stdout + r.stderr)
    st, j = call(port, "POST", "/api/receipts", {})
    for body, field in (({"code": kefir[0], "fraction": "1/4", "quantity": 1}, "fraction"),
                        ({"code": kefir[0], "fraction": "4/4"}, "fraction"),
                        ({"code": kefir[0], "fraction": "0/4"}, "fraction"),
                        ({"code": kefir[0], "fraction": {"numerator": 1}}, "fraction"),
                        ({"code": kefir[0], "fraction": "1/4 "}, "fraction")):
        refused(port, f"a fraction {body.get('fraction')!r}"
                f"{' with a quantity' if 'quantity' in body else ''}: 400 {field}",
                "POST", "/api/receipts/current/items", body, 400, "bad_request", field=field)
    st, j = call(port, "POST", "/api/receipts/current/items",
                 {"code": "46001238", "fraction": "1/2"})
    check("a fraction of an unmarked good: 422 refused, detail fraction", st == 422
          and j.get("error") == "refused"
          and j.get("decision", {}).get("detail") == "fraction", j)
    st, j = call(port, "GET", "/api/receipts/current")
    check("... the basket still empty", st == 200 and j["receipt"]["lines"] == [], j)
    st, j = call(port, "POST", "/api/receipts/current/items",
                 {"code": kefir[0], "fraction": {"numerator": 1, "denominator": 4}})
    ln = (j.get("receipt", {}).get("lines") or [{}])[0]
    check("a quarter of a kefir pack in the basket: 21.13, 1/4, planned 2", st == 201
          and ln.get("total") == 2113 and ln.get("fraction") == "1/4"
          and ln.get("planned") == 2 and ln.get("quantity") == "1", j)
    st, j = call(port, "POST", f"/api/receipts/current/items/{ln.get('id')}/discount",
                 {"percent": 10})
    ln = (j.get("receipt", {}).get("lines") or [{}])[0]
    check("10 % off the quarter: 76.05 a pack, 19.01 the quarter", st == 200
          and ln.get("price") == 7605 and ln.get("total") == 1901 and ln.get("list_price") == 8450,
          j)
    st, j = call(port, "POST", f"/api/receipts/current/items/{ln.get('id')}/quantity",
                 {"quantity": 2})
    check("a marked line's quantity stays one: 400 quantity", st == 400
          and j.get("error") == "quantity", j)
    # An agent's line (1222 commission agent, 1225/1226 the supplier, 1171 its
    # phone, 1073 the paying agent's): the bread, sold for the bakery.
    supplier = {"name": "ООО Хлебозавод", "inn": "7707083893", "phones": ["+74950000000"]}
    agent = {"agents": ["commissionAgent"], "paying_agent": {"phones": ["+79001112233"]}}
    for body, field in (
            ({"agent_info": agent}, "supplier_info"),
            ({"supplier_info": supplier}, "agent_info"),
            ({"agent_info": {"agents": []}, "supplier_info": supplier}, "agents"),
            ({"agent_info": {"agents": ["commissionAgent", "attorney"]},
              "supplier_info": supplier}, "agent_info"),
            ({"agent_info": {"agents": ["secretAgent"]}, "supplier_info": supplier}, "agents"),
            ({"agent_info": agent, "supplier_info": dict(supplier, inn="77070838")},
             "supplier_info"),
            ({"agent_info": agent, "supplier_info": dict(supplier, phones=["+7" * 12])},
             "supplier_info")):
        field = {"agents": "agent_info"}.get(field, field)
        refused(port, f"a bad agent's line: 400 naming {field}", "POST",
                "/api/receipts/current/items", dict(body, code="4604440000017"), 400,
                "bad_request", field=field)
    st, j = call(port, "GET", "/api/receipts/current")
    check("... the basket unchanged: the quarter alone", len(j["receipt"]["lines"]) == 1, j)
    st, j = call(port, "POST", "/api/receipts/current/items",
                 {"code": "4604440000017", "agent_info": agent, "supplier_info": supplier})
    ln = (j.get("receipt", {}).get("lines") or [{}, {}])[-1]
    check("an agent's line in the basket", st == 201 and ln.get("agent") == {
        "kind": "commission", "sign": 32, "supplier_name": "ООО Хлебозавод",
        "supplier_inn": "7707083893", "supplier_phone": "+74950000000",
        "agent_phone": "+79001112233"} and ln.get("total") == 5500, j)
    st, j = call(port, "POST", "/api/receipts/current/pay", {"method": "cash"})
    fd = j.get("receipt", {}).get("document")
    check("the quarter and the agent's line paid: 19.01 + 55.00", st in (200, 201)
          and j["receipt"].get("total") == 7401, j)
    r = kassa("fd", "show", str(fd), "--json")
    items = json.loads(r.stdout).get("receipt", {}).get("items", []) if r.returncode == 0 else []
    check("the FN's receipt: the quarter (1291: 1/4)", len(items) == 2
          and items[0].get("labeledProdFractionalQuantity", {}).get("fractionalPart") == "1/4"
          and items[0]["labeledProdFractionalQuantity"].get("numerator") == 1
          and items[0]["labeledProdFractionalQuantity"].get("denominator") == 4,
          (r.stdout, r.stderr))
    check("... the agent's line: 1222 = 32 and the supplier's INN (1226)",
          len(items) == 2 and items[1].get("paymentAgentByProductType") == 32
          and "7707083893" in json.dumps(items[1]), items)

    # ---- a line's quantity and discount, the catalogue search --------------------------
    # 9.90 at 22 %: x 3 = 29.70; 5 % off (no PIN up to 10 %): 9.90 - 0.495 -> 9.40
    # (half up: 0.50), 28.20; 15 % (the PIN): 9.90 - 1.485 -> 8.41, x 3 = 25.23,
    # VAT 22/122 of 25.23 = 4.5497 -> 4.55; paid 30.00 in cash, change 4.77.
    st, j = call(port, "POST", "/api/catalogue/search", {"query": "бородинск"})
    names = [(p["gtin"], p["price"], p["marked"]) for p in j.get("products", [])]
    check("search by a part of the name, any case", st == 200
          and ("04604440000017", 5500, False) in names, j)
    st, j = call(port, "POST", "/api/catalogue/search", {"query": "46001238"})
    check("search by a part of the GTIN", st == 200
          and [p["gtin"] for p in j["products"]] == ["00000046001238"], j)
    st, j = call(port, "POST", "/api/catalogue/search", {"query": "х"})
    check("a one-letter search: 400", st == 400 and j.get("field") == "query", j)
    call(port, "POST", "/api/receipts", {})
    st, j = call(port, "POST", "/api/receipts/current/items", {"code": "46001238"})
    line = j.get("line_id")
    st, j = call(port, "POST", f"/api/receipts/current/items/{line}/quantity", {"quantity": 3})
    check("quantity 3: 29.70", st == 200 and j["receipt"]["total"] == 2970, j)
    st, j = call(port, "POST", f"/api/receipts/current/items/{line}/quantity",
                 {"quantity": "1.5"})
    check("a piece good in halves: 400 quantity", st == 400 and j.get("error") == "quantity", j)
    st, j = call(port, "POST", "/api/receipts/current/items/99/quantity", {"quantity": 2})
    check("no such line: 404", st == 404 and j.get("error") == "no_line", j)
    st, j = call(port, "POST", f"/api/receipts/current/items/{line}/discount", {"percent": 5})
    ln = j.get("receipt", {}).get("lines", [{}])[0]
    check("5 % without the PIN: 9.40 x 3 = 28.20", st == 200 and ln.get("price") == 940
          and ln.get("total") == 2820 and ln.get("list_price") == 990
          and ln.get("discount_percent") == 5, j)
    st, j = call(port, "POST", f"/api/receipts/current/items/{line}/discount", {"percent": 15})
    check("15 % without the PIN: 403", st == 403 and j.get("error") == "manager_pin_required", j)
    st, j = call(port, "POST", f"/api/receipts/current/items/{line}/discount", {"percent": 100},
                 pin=PIN)
    check("100 %: 400", st == 400 and j.get("field") == "percent", j)
    st, j = call(port, "POST", f"/api/receipts/current/items/{line}/discount", {"percent": 15},
                 pin=PIN)
    ln = j.get("receipt", {}).get("lines", [{}])[0]
    check("15 % with the PIN: of the list price, not compounded: 8.41 x 3 = 25.23",
          st == 200 and ln.get("price") == 841 and ln.get("total") == 2523
          and j["receipt"]["total"] == 2523, j)
    st, j = call(port, "POST", "/api/receipts/current/pay", {"method": "cash", "tendered": 3000})
    disc = j.get("receipt", {})
    check("paid: change 4.77, VAT 22 % 4.55", st == 200 and disc.get("change") == 477
          and [(v["vat"], v["sum"]) for v in disc.get("vat_sums", [])] == [(11, 455)], j)
    r = kassa("fd", "show", str(disc.get("document")), "--json")
    item = json.loads(r.stdout)["receipt"]["items"][0] if r.returncode == 0 else {}
    check("the receipt's line: price 8.41 (1079), 3 pieces, sum 25.23 (1043)",
          item.get("price") == 841 and item.get("quantity") == 3 and item.get("sum") == 2523,
          r.stdout + r.stderr)
    call(port, "POST", "/api/receipts", {})
    st, j = call(port, "POST", "/api/receipts/current/items", {"code": "46001238"})
    check("a new receipt's line 1 carries no old discount",
          st == 201 and "discount_percent" not in j["receipt"]["lines"][0], j)
    call(port, "DELETE", "/api/receipts/current")

    r = kassa("ofd", "flush", *link)
    check("the new FN's documents delivered", r.returncode == 0
          and "delivered: 7 documents, 1 sale notifications" in r.stdout, r.stdout + r.stderr)
    rc, err = serve.stop()
    check("serve stops cleanly", rc == 0, err)

    # ---- the background sender follows a replaced FN -----------------------------------
    # A service that delivers by itself: Z, the FN close and the replacement
    # by FN 3 through its API; the new FN's documents must reach the
    # operator without `kassa ofd flush`, so its sender works on the new file.
    FN3 = "9999078900003003"
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace("background = no", "background = yes\nsend_interval_s = 1\n"
                             "sync_interval_min = 0\nkeys_refresh_days = 0"))
    serve = harness.Serve(KASSA, conf, procs)
    port = serve.api
    check("serve with the background sender", port is not None, serve.line)

    def owed_none(seconds=30):
        """True once nothing is owed; else what the sender last said."""
        end = time.time() + seconds
        while time.time() < end:
            j = call(port, "GET", "/api/status")[1]
            ob = j.get("outbox", {})
            if ob.get("unsent_documents") == 0 and ob.get("unsent_notifications") == 0:
                return True, None
            time.sleep(0.2)
        return False, j.get("background", {}).get("sender")

    st, j = call(port, "POST", "/api/reports/z", {})
    check("Z on FN 2", st == 200, j)
    check("the background delivered FN 2's documents", *owed_none())
    st, j = call(port, "POST", "/api/fn/close", {}, pin=PIN)
    check("FN 2 closed", st == 200, j)
    check("the background delivered its close", *owed_none())
    # The operator is down while FN 3 is new to it: an operator that refused
    # FN 3's first document would be asked again only after a minute.
    operator.stop()
    st, j = call(port, "POST", "/api/fn/replace", {"fn_number": FN3}, pin=PIN)
    check("FN 2 replaced by FN 3", st == 200 and j["replaced"]["new_fn"] == FN3, j)
    r = op("fn", "add", "--fn-db", os.path.join(till_dir, "fn.db"))
    check("the operator knows FN 3", r.returncode == 0, r.stderr)
    operator = harness.Operator(OPERATOR, op_dir, check, ports=[ofd, oism, keys, http_port])
    call(port, "POST", "/api/shift/open", {})
    call(port, "POST", "/api/receipts", {})
    call(port, "POST", "/api/receipts/current/items", {"code": "46001238"})
    st, j = call(port, "POST", "/api/receipts/current/pay", {"method": "cashless"})
    check("a sale on FN 3", st == 200, j)
    check("the background delivered FN 3's documents (it follows the new file)", *owed_none(60))
    rc, err = serve.stop()
    check("serve stops cleanly", rc == 0, err)
    r = kassa("fsck")
    check("fsck clean after the day and the replacement", r.returncode == 0, r.stdout + r.stderr)
    operator.stop()
finally:
    harness.stop_all(procs)
    if "operator" in dir():
        operator.stop()
sys.exit(harness.finish(check, root))

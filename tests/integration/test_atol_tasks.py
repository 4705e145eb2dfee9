#!/usr/bin/env python3
"""test_atol_tasks.py KASSA OPERATOR: ATOL-style JSON tasks (POST
/api/v2/requests, GET /api/v2/requests/{uuid}) against a real till.

The shop (tests/integration/shop.py) with genuine codes. Over HTTP, in
ATOL's field names (tests/data/atol/README.md says where they come from):

- openShift, getShiftStatus, getFnInfo, cashIn, cashOut (refused past the
  drawer), reportX, closeShift, each result in ATOL's shape; reportX and
  closeShift with kassa's totals ("report"), which reconcile with what the
  test sold, returned, corrected and put in the drawer;
- the marking-code validation: begin, status, accept for a genuine code;
  begin, status, decline for a tampered one (itemEstimatedStatusIncorrect);
  status without a validation: error 12;
- an unknown task: error 11, the tasks after it "interrupted";
- the same receipt (two marked goods, a weighed one, an agent's service)
  sold once through POST /api/receipts/full and once as an ATOL sell task
  with other codes of the same goods: the two FN documents are the same
  requisite for requisite (`kassa fd dump`, tag by tag), but for the ones
  that name the instance (1040 number, 1012 time, 1042 receipt number, 1077
  sign, 2000 / 1163 the code, 1265 the check's UUID and time);
- the uuid is the idempotency key: the same request again is the stored
  answer and no new document; another body under it is 409 uuid_used; GET
  gives the results;
- killed between a sell task's close and its answer (KASSA_TEST_FAULT),
  the uuid answers the receipt from the archive, once;
- a sellCorrection (self-made, with the PIN) closes a correction receipt;
- a sellReturn needs the manager PIN, and with it returns the good;
- kassa-operator accepts every document these tasks made (`kassa ofd flush`).
Prints "N passed, N failed"; exit 1 on any failure.
"""
import base64
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from shop import script  # noqa: E402

KASSA, OPERATOR = sys.argv[1], sys.argv[2]
check = None
shop = None
JEANS = "4601234501026"
FOREIGN = harness.gtin14("460123459999")[1:]
BANANAS = "4604440000048"
# A cashier's name as shops write it, post and full name: 51 letters, 96
# bytes; 1021 takes 64 characters (two doors stopped at 64 bytes before).
LONG_CASHIER = "Старший кассир Александрова Екатерина Александровна"
# Tags whose values name the instance of a document, not its content.
INSTANCE_TAGS = {"1012", "1040", "1042", "1077", "2000", "1163", "1265", "1305", "1300",
                 "1301", "1302", "1303", "1304", "1306", "1307", "1308", "1309"}


def b64(code):
    return base64.b64encode(code.encode()).decode()


def tasks(uuid, *request, pin=None):
    st, j = shop.api("POST", "/api/v2/requests", {"uuid": uuid, "request": list(request)},
                     pin=pin)
    return st, j, j.get("results", [])


def one(uuid, task, pin=None):
    st, j, res = tasks(uuid, task, pin=pin)
    return st, (res[0] if res else {})


def dump(fd):
    r = shop.cli("fd", "dump", str(fd))
    check(f"fd dump {fd}", r.returncode == 0, r.stderr)
    lines = []
    for line in r.stdout.splitlines():
        line = re.sub(r"^document \d+,", "document N,", line)  # the heading names the number
        m = re.match(r"(\s*)(\d+) (\S+) \[(\d+)\](:?)(.*)", line)
        if m and m.group(2) in INSTANCE_TAGS:
            line = f"{m.group(1)}{m.group(2)} {m.group(3)} [{m.group(4)}]{m.group(5)} <instance>"
        lines.append(line)
    return lines



def main(the_shop, the_check):
    global shop, check
    shop, check = the_shop, the_check
    jeans = shop.issue(JEANS, "lp", 5)
    foreign = shop.issue(FOREIGN, "lp", 2)
    shop.start()
    S = shop.serve()

    st, r = one("shift-open-1", {"type": "openShift", "operator": {"name": "Иванова"}})
    fp = r.get("result", {}).get("fiscalParams", {})
    check("openShift", st == 201 and r.get("status") == "ready" and r.get("errorCode") == 0
          and fp.get("fiscalDocumentNumber") == 2 and fp.get("shiftNumber") == 1
          and fp.get("fnNumber") and fp.get("fiscalDocumentSign"), (st, r))
    st, r = one("status-1", {"type": "getShiftStatus"})
    check("getShiftStatus: opened", r.get("result", {}).get("shiftStatus", {}).get("state")
          == "opened", r)
    st, r = one("fn-1", {"type": "getFnInfo"})
    info = r.get("result", {}).get("fnInfo", {})
    check("getFnInfo", info.get("serial") == "9999078900001717"
          and info.get("livePhase") == "fiscalMode" and info.get("ffdVersion") == "1.2", r)
    st, r = one("cash-in-1", {"type": "cashIn", "cashSum": 1000.00})
    check("cashIn", r.get("status") == "ready" and r["result"].get("cashSum") == 1000.0, r)
    st, r = one("cash-out-1", {"type": "cashOut", "cashSum": 5000.00})
    check("cashOut past the drawer: error 12", r.get("status") == "error"
          and r.get("errorCode") == 12 and r.get("errorDescription"), r)

    # ---- marking-code validation ---------------------------------------------------
    code_task = {"imcType": "auto", "imc": b64(jeans[4]), "itemEstimatedStatus": "itemPieceSold",
                 "imcModeProcessing": 0}
    st, r = one("mv-1", {"type": "beginMarkingCodeValidation", "params": code_task})
    check("beginMarkingCodeValidation", r.get("status") == "ready", r)
    st, r = one("mv-2", {"type": "getMarkingCodeValidationStatus"})
    res = r.get("result", {})
    check("validation status: correct", res.get("ready") is True
          and res.get("onlineValidation", {}).get("markOperatorItemStatus")
          == "itemEstimatedStatusCorrect" and res.get("sentImcRequest") is True, r)
    st, r = one("mv-3", {"type": "acceptMarkingCode"})
    check("acceptMarkingCode", r.get("status") == "ready"
          and r["result"]["itemInfoCheckResult"]["imcEstimatedStatusCorrect"] is True, r)
    st, r = one("mv-4", {"type": "beginMarkingCodeValidation",
                         "params": dict(code_task, imc=b64(harness.tamper(jeans[4])))})
    st, r = one("mv-5", {"type": "getMarkingCodeValidationStatus"})
    check("a tampered code: incorrect", r.get("result", {}).get("onlineValidation", {})
          .get("markOperatorItemStatus") == "itemEstimatedStatusIncorrect"
          and r["result"]["decision"]["reason"] == "counterfeit", r)
    st, r = one("mv-6", {"type": "declineMarkingCode"})
    check("declineMarkingCode", r.get("status") == "ready", r)
    st, r = one("mv-7", {"type": "getMarkingCodeValidationStatus"})
    check("status without a validation: error 12", r.get("status") == "error"
          and r.get("errorCode") == 12, r)
    st, status = shop.api("GET", "/api/status")
    check("nothing left checked in the FN", status["fn"]["checked_codes"] == 0, status["fn"])

    # ---- an unknown task ---------------------------------------------------------------
    st, j, res = tasks("unknown-1", {"type": "getShiftStatus"}, {"type": "fooBar"},
                       {"type": "reportX"})
    check("unknown task: error 11, then interrupted", st == 201 and len(res) == 3
          and res[0]["status"] == "ready" and res[1]["status"] == "error"
          and res[1]["errorCode"] == 11 and "fooBar" in res[1]["errorDescription"]
          and res[2]["status"] == "interrupted", res)
    # A long type in Cyrillic: named in whole letters (a byte limit cut it
    # inside one, and the task's result fell out of the answer).
    st, j, res = tasks("unknown-2", {"type": "x" + "Ж" * 40})
    check("unknown Cyrillic task: error 11, named in whole letters", st == 201 and len(res) == 1
          and res[0]["errorCode"] == 11 and "xЖЖЖ" in res[0]["errorDescription"], (st, j))
    st, j, res = tasks("notype-1", {"items": []})
    check("a task without a type: error 8", res and res[0]["errorCode"] == 8, res)

    # ---- the same receipt both ways ------------------------------------------------------
    full = {"operation": "sale", "cashier": LONG_CASHIER, "lines": [
        {"code": jeans[0], "name": "Джинсы женские", "price": 300000, "vat": "vat22",
         "payment_method": "fullPayment", "payment_object": "commodityWithMarking"},
        {"code": foreign[0], "name": "Куртка детская", "price": 450000, "vat": "vat22",
         "payment_method": "fullPayment", "payment_object": "commodityWithMarking"},
        {"code": BANANAS, "name": "Бананы", "price": 13990, "quantity": "0.532",
         "measure": "kilogram", "vat": "vat22", "payment_method": "fullPayment",
         "payment_object": "commodity"},
        {"name": "Доставка", "price": 30000, "vat": "vat22", "payment_method": "fullPayment",
         "payment_object": "service",
         "agent_info": {"agents": ["commissionAgent"],
                        "paying_agent": {"operation": "Доставка", "phones": ["+79001112233"]}},
         "supplier_info": {"name": "ООО Курьер", "inn": "7707083893",
                           "phones": ["+74950000000"]}}],
        "payments": {"cash": 500000, "cashless": 287443}, "buyer_contact": "+79001234567"}
    st, j = shop.api("POST", "/api/receipts/full", full, key="both-ways-1")
    fd_full = j.get("receipt", {}).get("document")
    check("one-call receipt", st == 201 and fd_full, (st, j))

    def item(code, name, price, qty, unit, obj, extra=None):
        it = {"type": "position", "name": name, "price": price, "quantity": qty,
              "amount": round(price * qty, 2), "tax": {"type": "vat22"},
              "paymentMethod": "fullPayment", "paymentObject": obj, "measurementUnit": unit}
        if code:
            it["imcParams"] = {"imcType": "auto", "imc": b64(code),
                               "itemEstimatedStatus": "itemPieceSold", "imcModeProcessing": 0}
        it.update(extra or {})
        return it

    sell = {"type": "sell", "operator": {"name": LONG_CASHIER}, "items": [
        {"type": "text", "text": "Спасибо за покупку"},
        item(jeans[1], "Джинсы женские", 3000.00, 1, "piece", "commodityWithMarking"),
        item(foreign[1], "Куртка детская", 4500.00, 1, "piece", "commodityWithMarking"),
        item(BANANAS, "Бананы", 139.90, 0.532, "kilogram", "commodity",
             {"amount": 74.43}),
        item(None, "Доставка", 300.00, 1, "piece", "service",
             {"agentInfo": {"agents": ["commissionAgent"],
                            "payingAgent": {"operation": "Доставка", "phones": ["+79001112233"]}},
              "supplierInfo": {"name": "ООО Курьер", "vatin": "7707083893",
                               "phones": ["+74950000000"]}})],
        "payments": [{"type": "cash", "sum": 5000.00}, {"type": "electronically", "sum": 2874.43}],
        "clientInfo": {"emailOrPhone": "+79001234567"}}
    st, j, res = tasks("sell-1", sell)
    fp = res[0].get("result", {}).get("fiscalParams", {}) if res else {}
    check("ATOL sell", st == 201 and res and res[0]["status"] == "ready"
          and fp.get("fiscalDocumentNumber") == fd_full + 1 and fp.get("total") == 7874.43,
          (st, res))
    if fd_full:
        a, b = dump(fd_full), dump(fd_full + 1)
        diff = [(x, y) for x, y in zip(a, b) if x != y]
        check("the same document tag by tag", len(a) == len(b) and not diff and len(a) > 40,
              (len(a), len(b), diff[:6]))
        check("... with the buyer's contact (1008)",
              any(x.strip().startswith("1008 ") for x in a), a[:12])
        cp866 = " ".join(f"{b:02X}" for b in LONG_CASHIER.encode("cp866"))
        check("... and the cashier's whole name (1021: 51 letters, CP866 in the document)",
              f"  1021 operator [51]: {cp866}" in a, a[:12])
    st, j2, res2 = tasks("sell-1", sell)
    check("the same uuid again: the stored answer", st == 201 and j2 == j, (j, j2))
    st, status = shop.api("GET", "/api/status")
    check("... and no new document", status["fn"]["last_document"] == fd_full + 1,
          status["fn"])
    st, g = shop.api("GET", "/api/v2/requests/sell-1")
    check("GET the results", st == 200 and g.get("results") == res, (st, g))
    st, g = shop.api("GET", "/api/v2/requests/never-used")
    check("GET an unknown uuid: 404", st == 404, (st, g))
    st, j3, _ = tasks("sell-1", {"type": "reportX"})
    check("another body under the uuid: 409 uuid_used", st == 409
          and j3.get("error") == "uuid_used", (st, j3))

    # ---- killed between the close and the answer: the uuid still answers -------------
    S = shop.restart(env=dict(os.environ, KASSA_TEST_FAULT="after_close"))
    crash = dict(sell, items=[item(jeans[2], "Джинсы женские", 3000.00, 1, "piece",
                                   "commodityWithMarking")],
                 payments=[{"type": "cash", "sum": 3000.00}])
    try:
        tasks("sell-crash", crash)
        dropped = False
    except OSError:
        dropped = True
    check("ATOL sell: no answer, kassa serve died at the fault point",
          dropped and S.p.wait(timeout=20) == 86)
    S = shop.serve()
    st, g = shop.api("GET", "/api/v2/requests/sell-crash")
    fp = (g.get("results") or [{}])[0].get("result", {}).get("fiscalParams", {})
    check("GET after the crash: the receipt from the archive", st == 200
          and g["results"][0]["status"] == "ready"
          and fp.get("fiscalDocumentNumber") == fd_full + 2, (st, g))
    st, j4, res4 = tasks("sell-crash", crash)
    check("POST again: the same results, no second receipt", st == 201
          and res4 == g.get("results"), (res4, g))
    st, status = shop.api("GET", "/api/status")
    check("... one receipt for it", status["fn"]["last_document"] == fd_full + 2, status["fn"])

    # ---- a return through ATOL ---------------------------------------------------------
    # The OISM allows a return of a code it knows sold. kassa sends its own
    # FN's notification of the sale first (pos/till/check.c report_sale_first);
    # a register's queue goes out in the register's own time, so through one
    # the return waits until the register has delivered it.
    check("the register delivered the sale", shop.register_delivered())
    ret = {"type": "sellReturn", "operator": {"name": "Иванова"}, "items": [
        item(jeans[1], "Джинсы женские", 3000.00, 1, "piece", "commodityWithMarking",
             {"imcParams": {"imcType": "auto", "imc": b64(jeans[1]),
                            "itemEstimatedStatus": "itemPieceReturn", "imcModeProcessing": 0}})],
        "payments": [{"type": "cash", "sum": 3000.00}]}
    st, j, res = tasks("return-1", ret)
    check("sellReturn without the PIN: 403", st == 403
          and j.get("error") == "manager_pin_required", (st, j))
    st, j, res = tasks("return-2", ret, pin=shop.pin)
    check("sellReturn with the PIN", st == 201 and res and res[0]["status"] == "ready", (st, j))

    corr = {"type": "sellCorrection", "correctionType": "self",
            "correctionBaseDate": "2026.12.01", "operator": {"name": "Иванова"},
            "items": [item(None, "Продажа без чека", 100.00, 1, "piece", "commodity")],
            "payments": [{"type": "cash", "sum": 100.00}]}
    st, j, res = tasks("corr-1", corr, pin=shop.pin)
    check("sellCorrection (self, with the PIN)", st == 201 and res
          and res[0]["status"] == "ready"
          and res[0]["result"]["fiscalParams"]["fiscalDocumentNumber"], (st, j))
    st, j, res = tasks("corr-2", dict(corr, correctionBaseDate="2026-12-01"), pin=shop.pin)
    check("a correction date not as ATOL writes it: error 8", res
          and res[0]["errorCode"] == 8, (st, j))

    # reportX and closeShift are office.h's reports: ATOL's fiscalParams and
    # kassa's totals of the shift, summed here from what this test sold: the
    # one-call receipt and the ATOL sell (5 000.00 cash + 2 874.43 cashless
    # each), the crash's 3 000.00 cash, the 3 000.00 cash return, the
    # 100.00 cash correction and the 1 000.00 cash in. A correction's sealed
    # counters (1133: 1135 count, 1201 total) have no payment forms; the
    # drawer counts its cash all the same.
    want_sale = {"count": 3, "total": 2 * 787443 + 300000, "cash": 2 * 500000 + 300000,
                 "cashless": 2 * 287443}
    want_drawer = {"cash_in": 100000, "cash_ins": 1, "cash_out": 0, "cash_outs": 0,
                   "balance": 100000 + 1300000 - 300000 + 10000}

    def reconciles(name, r, kind):
        res = r.get("result", {})
        fp, rep = res.get("fiscalParams", {}), res.get("report") or {}
        tot = (rep.get("shift_totals") or {})
        sale = tot.get("receipts", {}).get("sale", {})
        back = tot.get("receipts", {}).get("sale_return", {})
        corr = tot.get("corrections", {}).get("sale", {})
        check(name, r.get("status") == "ready" and rep.get("report") == kind
              and fp.get("fiscalDocumentNumber") == rep.get("document")
              and fp.get("fiscalDocumentSign") == str(rep.get("fiscal_sign"))
              and fp.get("shiftNumber") == 1 and rep.get("shift") == 1
              and {k: sale.get(k) for k in want_sale} == want_sale
              and (back.get("count"), back.get("total"), back.get("cash")) == (1, 300000, 300000)
              and (corr.get("count"), corr.get("total")) == (1, 10000), r)
        check(f"{name}: the drawer", rep.get("drawer") == want_drawer, rep.get("drawer"))
        return fp.get("fiscalDocumentNumber")

    st, r = one("x-1", {"type": "reportX"})
    fd_x = reconciles("reportX: the shift's totals and the drawer", r, "x")
    st, r = one("close-1", {"type": "closeShift", "operator": {"name": "Иванова"}})
    fd_z = reconciles("closeShift: the Z-report's totals, the same", r, "z")
    check("... the Z is the document after the X", fd_x and fd_z == fd_x + 1, (fd_x, fd_z))
    st, r = one("close-2", {"type": "closeShift"})
    check("closeShift again: error 12, the office's reason", r.get("status") == "error"
          and r.get("errorCode") == 12 and r.get("errorDescription"), r)
    st, r = one("status-2", {"type": "getShiftStatus"})
    check("getShiftStatus: closed", r["result"]["shiftStatus"]["state"] == "closed", r)
    st, j = shop.api("POST", "/api/v2/requests", {"uuid": "bad uuid!", "request": []})
    check("a malformed uuid: 400", st == 400 and j.get("field") == "uuid", (st, j))
    # The operator takes every document these doors made (agent lines, 1008,
    # a return): its checks of the sums and requisites pass.
    # (Through a register, flush sends nothing: the register delivers; shop.owed waits for it.)
    r = shop.cli("ofd", "flush")
    check("kassa ofd flush delivers every document", r.returncode == 0, r.stdout + r.stderr)
    owed = shop.owed()
    check("... nothing owed", owed.get("unsentDocuments") == 0
          and owed.get("unsentNotifications") == 0 and owed.get("owed") == 0, r.stdout)


sys.exit(script(KASSA, OPERATOR, "kassa-atol-", main))

#!/usr/bin/env python3
"""test_api.py KASSA OPERATOR: `kassa serve`, the till's HTTP API, end to end.

Real processes on free loopback ports, nothing faked: kassa-operator (OFD,
OISM, key server, true-api, sync feed) issues genuine codes; a marking FN
is created, registered and given the operator's keys with the `kassa` CLI;
the demo catalogue (config/catalogue.csv) and the remarking pool are loaded
with `kassa cache`. From then on the till is driven through HTTP only
(delivery to the OFD and the cache sync are the separate processes here,
`kassa ofd flush` and `kassa cache sync`: [service] background = no):

- a full sale with marked, plain and weighed lines paid cash + cashless:
  FD, FP, the QR string, the printed text with [М+] before the marked line,
  the same text again from GET /api/receipts/{fd}/text;
- every refusal reason the till can produce here, each asserted by its
  stable name, each leaving the receipt as it was: bad_code,
  unknown_product, mark_required, group_mismatch, duplicate, already_sold,
  blocked (a local block), remarked, not_in_stock (strict accounting),
  counterfeit (one tail character changed), op_blocked (blocked at the
  operator), op_not_found, op_sold (sold, delivered, returned here, and the
  operator still says sold), expired (a dairy code whose AI 17 has passed),
  price_below_min (the operator's minimum above the price), price_above_max
  (tobacco above its 8005 MRP), not_sold_here (a return of a code never
  sold), offline_blocked and offline_sold (operator stopped, cached
  statuses), delivery_overdue (the FN's 30-day rule, on the FN's test
  clock);
- POST /api/check answers without selling and leaves nothing in the FN's
  table of checked codes;
- goods acceptance (POST /api/accept) makes strict goods sellable;
- a return with a code and one without; the good without a code waits
  for remarking and is remarked with a pooled code (label PNG);
- the FN's refusal of a shift close names its rule (ofd_overdue);
- the local-module port: not_configured / 4045 before any sync, ready and
  every DOMAIN §6 field after it, sync_error / 4050 when stale, Basic auth,
  X-ClientId;
- security: 401 without or with a wrong token, 403 for a wrong PIN, 429
  with Retry-After after five wrong tries (for the right PIN too; the right
  token keeps working, test_serve_hostile.py has the token's model), 413
  for an oversize body, 415 without a JSON Content-Type, 403 for a foreign
  Host header;
- SIGTERM: a check waiting for a slow operator is still answered, the
  service exits 0, and an open basket survives a restart.
Prints "N passed, N failed"; exit 1 on any failure.
"""
import base64
import functools
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import free_ports, tamper  # noqa: E402
from shop import record  # noqa: E402

KASSA, OPERATOR = sys.argv[1], sys.argv[2]
FN_NUMBER = "9999078900007001"
TOKEN = "api-test-" + os.urandom(8).hex()
PIN = "8642"
OWNER = "7707083893"
GS = "\x1d"
passed = failed = 0
root = tempfile.mkdtemp(prefix="kassa-api-")
till_dir = os.path.join(root, "till")
op_dir = os.path.join(root, "operator")
conf = os.path.join(root, "kassa.conf")
procs = []
Serve = functools.partial(harness.Serve, KASSA, conf, procs)  # `kassa serve` on ports it picks


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {str(detail)[:1500]}")


def gtin14(digits13):
    """A 13-digit GTIN (check digit included) as the 14 digits codes carry."""
    return "0" + digits13


def with_check_digit(body12):
    digits = "0" + body12
    s = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(digits))
    return body12 + str((10 - s % 10) % 10)


def op(*args):
    return subprocess.run([OPERATOR, "--data", op_dir] + list(args), capture_output=True,
                          text=True, timeout=60)


def kassa(*args, env=None):
    return subprocess.run([KASSA, "--config", conf] + list(args), capture_output=True, text=True,
                          timeout=120, env=env)


def issue(gtin13, group, count, tail=None):
    args = ["issue", "--gtin", gtin14(gtin13), "--group", group, "--count", str(count),
            "--owner", OWNER]
    if tail:
        args += ["--tail", tail]
    r = op(*args)
    codes = [c.replace("\\x1d", GS) for c in r.stdout.split()]
    check(f"issue {group} {gtin13}", r.returncode == 0 and len(codes) == count, r.stderr)
    return codes


def ki(code):
    return code.split(GS)[0]


def request(port, method, path, body=None, token=None, pin=None, headers=None, raw=None,
            content_type="application/json"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = {}
    data = None
    if raw is not None:
        data = raw
    elif body is not None:
        data = json.dumps(body).encode()
    if method == "POST" and content_type:
        h["Content-Type"] = content_type
    if token:
        h["Authorization"] = "Bearer " + token
    if pin:
        h["X-Manager-PIN"] = pin
    h.update(headers or {})
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    text = r.read()
    hdrs = dict(r.getheaders())
    conn.close()
    if S and port in (S.api, S.lm):  # kassa serve's answers, for the contract check
        record("lm" if port == S.lm else "api", method, path, r.status, hdrs, text)
    try:
        j = json.loads(text)
    except ValueError:
        j = {"_raw": text[:200]}
    return r.status, j, hdrs


S = None  # the running service
LONG_CASHIER = "Старший кассир Александрова Екатерина Александровна"  # 51 letters, 96 bytes


def api(method, path, body=None, pin=None, **kw):
    st, j, _ = request(S.api, method, path, body, token=TOKEN, pin=pin, **kw)
    return st, j


def lm(method, path, body=None, password=TOKEN, client_id=None):
    h = {}
    if password is not None:
        h["Authorization"] = "Basic " + base64.b64encode(f"pos:{password}".encode()).decode()
    if client_id:
        h["X-ClientId"] = client_id
    st, j, hd = request(S.lm, method, path, body, headers=h)
    return st, j


def basket():
    st, j = api("GET", "/api/receipts/current")
    return j.get("receipt", {})


def add(code, **extra):
    body = {"code": code}
    body.update(extra)
    return api("POST", "/api/receipts/current/items", body)


def refused(name, code, reason, **extra):
    """The scan is refused with `reason` and the basket is unchanged."""
    before = basket()
    st, j = add(code, **extra)
    ok = (st == 422 and j.get("ok") is False and j.get("error") == "refused"
          and j.get("reason") == reason and j.get("decision", {}).get("reason") == reason
          and j.get("message_ru") and j.get("message_en"))
    check(f"{name}: refused as {reason}", ok, (st, j))
    check(f"{name}: basket unchanged", basket() == before)
    return j


def checked_codes():
    st, j = api("GET", "/api/status")
    return j.get("fn", {}).get("checked_codes")


try:
    os.makedirs(till_dir)
    os.makedirs(op_dir)
    ofd_port, oism_port, keys_port, op_http = free_ports(4)
    with open(conf, "w") as f:
        f.write(f"""[paths]
data = {till_dir}
[operator]
ofd_port = {ofd_port}
oism_port = {oism_port}
keys_port = {keys_port}
http_port = {op_http}
host = 127.0.0.1
[service]
; delivery and sync are the separate commands here (test_serve_background.py
; has the service's own)
background = no
[till]
check = both
budget_ms = 1500
cache_stale_hours = 72
manager_pin = {PIN}
api_token = {TOKEN}
tax_system = 1
[trueapi]
cdn_url =
api_key = demo-key
""")

    # ---- the operator's codes (genuine tails) ------------------------------------
    JEANS = "4601234501026"     # lp, marked, not strict, 3490.00
    SHOES = "4601234500012"     # footwear, strict accounting
    MILK = "4609876500018"      # dairy
    WATER = "4605550000010"
    TROIKA = "4607770000016"    # tobacco, 150.00, MRP 150.00 from 8005
    YAVA = "4607770000023"      # tobacco, 140.00
    BREAD = "4604440000017"     # plain
    BANANAS = "4604440000048"   # weighed, 139.90 per kg
    UNKNOWN = with_check_digit("460123459999")  # not in the catalogue
    jeans = issue(JEANS, "lp", 10)
    shoes = issue(SHOES, "footwear", 3)
    milk = issue(MILK, "dairy", 2)
    water = issue(WATER, "water", 1)
    troika = issue(TROIKA, "tobacco", 1)
    yava = issue(YAVA, "tobacco", 1)
    foreign = issue(UNKNOWN, "footwear", 1)
    wrong_group = issue(JEANS, "dairy", 1)  # a dairy-shaped mark with the jeans' GTIN
    pool = issue(JEANS, "lp", 2)            # fresh codes for remarking labels
    r = op("price", "--gtin", gtin14(YAVA), "--min", "14500")
    check("operator minimum price", r.returncode == 0, r.stderr)
    J_SALE, J_CHECK, J_FAKE, J_OPBLOCK, J_BLOCK, J_NEVER, J_REMARK, J_OFFLINE = jeans[:8]
    check("block at the operator", op("block", "--code", J_OPBLOCK.replace(GS, "\\x1d"))
          .returncode == 0)

    # ---- the till: FN, registration, keys, catalogue, pool ------------------------
    harness.register_fn(kassa, op, check, FN_NUMBER, OWNER, os.path.join(till_dir, "fn.db"))
    # KASSA_TEST_KKT: the FN goes into a register (harness.Register), else None.
    reg = harness.into_register(conf, os.path.join(till_dir, "fn.db"), procs,
                                (ofd_port, oism_port, keys_port))
    oper = subprocess.Popen([OPERATOR, "--data", op_dir, "--ofd-port", str(ofd_port),
                             "--oism-port", str(oism_port), "--keys-port", str(keys_port),
                             "--http-port", str(op_http)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    procs.append(oper)
    check("operator ready", oper.stdout.readline().startswith("kassa-operator: ofd"))
    harness.load_keys(kassa, check, reg)
    with open("config/catalogue.csv", encoding="utf-8") as f:
        PRODUCTS = sum(1 for l in f if l.strip() and not l.startswith("#")) - 1  # the header
    r = kassa("cache", "import-catalogue", "config/catalogue.csv")
    check("catalogue imported", r.returncode == 0, r.stdout + r.stderr)
    pool_file = os.path.join(root, "pool.txt")
    with open(pool_file, "w") as f:
        f.write("\n".join(c.replace(GS, "\\x1d") for c in pool) + "\n")
    r = kassa("cache", "pool", "add", pool_file)
    check("pool filled", r.returncode == 0, r.stdout + r.stderr)

    # ---- the service -----------------------------------------------------------------
    S = Serve()
    check("ready line", S.api and S.lm and "(api)" in S.line and "(local module)" in S.line,
          S.line)

    # The gates, before anything else (none of these counts as a wrong try).
    st, j, h = request(S.api, "GET", "/api/status")
    check("no token: 401", st == 401 and j["error"] == "unauthorized"
          and h.get("WWW-Authenticate", "").startswith("Bearer"), (st, j, h))
    st, j, h = request(S.api, "GET", "/api/status", token=TOKEN,
                       headers={"Host": "evil.example:80"})
    check("foreign Host: 403", st == 403 and j["error"] == "bad_host", (st, j))
    st, j, h = request(S.api, "POST", "/api/check", {"code": "x"}, token=TOKEN,
                       content_type="text/plain")
    check("no JSON content type: 415", st == 415 and j["error"] == "unsupported_media_type",
          (st, j))
    st, j = api("GET", "/api/nothing")
    check("unknown path: 404", st == 404 and j["error"] == "not_found", (st, j))
    st, j = api("PUT", "/api/status")
    check("wrong method: 405", st == 405 and j["error"] == "method_not_allowed", (st, j))
    st, j = api("POST", "/api/check", raw=b"{not json")
    check("bad JSON: 400", st == 400 and j["error"] == "bad_json" and "Line 1" in
          j["message_en"], (st, j))
    st, j = api("POST", "/api/check", raw=b"x" * (64 * 1024 + 1))
    check("oversize body: 413", st == 413 and j["error"] == "body_too_large", (st, j))
    st, j = api("POST", "/api/check", {"code": 5})
    check("wrong field type: 400 names it", st == 400 and j["error"] == "bad_request"
          and j.get("field") == "code", (st, j))
    st, j = api("GET", "/api/reasons")
    names = {x["reason"] for x in j.get("reasons", [])}
    check("reasons table", st == 200 and {"counterfeit", "op_blocked", "delivery_overdue",
                                          "offline_sold"} <= names, j)

    # The local module before any sync.
    st, j = lm("GET", "/api/v1/status")
    check("LM not configured", st == 200 and j.get("status") == "not_configured"
          and j.get("lastSync") == 0, (st, j))
    st, j = lm("POST", "/api/v1/cis/outCheck", {"cis_list": [J_CHECK]})
    check("LM 4045 before sync", st == 400 and j.get("errorCode") == 4045, (st, j))

    # Shift and status.
    st, j = api("POST", "/api/shift/open", {"cashier": "Иванова"})
    check("shift open", st == 200 and j["ok"] and j["shift"]["open"] and j["document"] == 2,
          (st, j))
    st, j = api("POST", "/api/shift/open", {})
    check("second shift open: FN rule named", st == 409 and j["error"] == "fn"
          and j["fn_error"] == "state" and j["fn_code"] == "0x02", (st, j))
    st, j = api("GET", "/api/status")
    # Through a register: its keys are its own (no command reads their date:
    # key_age_days null) and it delivers as it goes (up to 2 still owed).
    check("status", st == 200 and j["fn"]["fn_number"] == FN_NUMBER and j["fn"]["shift_open"]
          and j["fn"]["marking"] and j["key_age_days"] == (None if reg else 0)
          and j["cache"]["products"] == PRODUCTS and j["cache"]["stale"] is True
          and (j["outbox"]["unsent_documents"] <= 2 if reg
               else j["outbox"]["unsent_documents"] == 2)
          and j["outbox"]["may_sell_marked"] is True and j["basket"]["open"] is False, j)
    check("status warns: never synced", any("never been synced" in w for w in j["warnings"]), j)
    # Who loads the FN's keys; a register's own are never reported as missing.
    check("status: keys loaded by " + ("the register" if reg else "kassa"),
          j.get("keys_loaded_by") == ("register" if reg else "kassa")
          and (not reg or not any("verification keys" in w for w in j["warnings"])), j)

    # ---- POST /api/check: a question, nothing kept -----------------------------------
    st, j = api("POST", "/api/check", {"code": J_CHECK})
    check("check allows a genuine code", st == 200 and j["ok"] and j["allow"] is True
          and j["reason"] == "ok" and j["mark"] == "[М+]" and j["tag2106"] == 15
          and j["tag1265"] and j["tag1265"].startswith("UUID=") and j["trueapi_answered"]
          and j["oism_answered"] and j["offline"] is False, j)
    check("check leaves nothing in the FN table", checked_codes() == 0)
    st, j = api("POST", "/api/check", {"code": J_FAKE[:-2] + "!!"})
    check("check refuses as a result, not an error", st == 200 and j["allow"] is False, j)
    st, j = api("POST", "/api/check", {"code": J_NEVER, "purpose": "return"})
    check("check for a return: not_sold_here", st == 200 and j["reason"] == "not_sold_here", j)

    # ---- a full sale -------------------------------------------------------------------
    # The cashier's name is what the FN takes for 1021, 64 characters (a
    # Cyrillic letter is two bytes): 65 are refused, a full name with the
    # post (51 letters, 96 bytes) sells; 64 bytes were the limit before.
    st, j = api("POST", "/api/receipts", {"operation": "sale", "cashier": "ж" * 65})
    check("a cashier of 65 letters: 400 naming the field", st == 400
          and j.get("field") == "cashier" and "64" in j.get("message_en", ""), (st, j))
    st, j = api("POST", "/api/receipts", {"operation": "sale", "cashier": LONG_CASHIER})
    check("receipt opened", st == 201 and j["receipt"]["open"] and
          j["receipt"]["operation"] == "sale" and j["receipt"]["cashier"] == LONG_CASHIER, (st, j))
    st, j = api("POST", "/api/receipts", {})
    check("second receipt refused", st == 409 and j["error"] == "receipt_open", (st, j))
    st, j = add(J_SALE)
    check("marked line", st == 201 and j["decision"]["allow"] and j["decision"]["mark"] == "[М+]",
          (st, j))
    st, j = add(BREAD)
    check("plain line", st == 201 and j["receipt"]["lines"][-1]["marked"] is False, (st, j))
    st, j = add(BANANAS, quantity="0.532")
    line = j.get("receipt", {}).get("lines", [{}])[-1]
    check("weighed line", st == 201 and line.get("quantity") == "0.532"
          and line.get("total") == 7443, (st, j))  # 139.90 * 0.532 = 74.4268
    st, j = add(milk[0])
    check("dairy line", st == 201, (st, j))
    st, j = add(BREAD)
    bread2 = j.get("line_id")
    check("second bread", st == 201 and bread2, (st, j))
    st, j = api("DELETE", f"/api/receipts/current/items/{bread2}")
    check("line removed", st == 200 and len(j["receipt"]["lines"]) == 4, (st, j))
    st, j = api("DELETE", "/api/receipts/current/items/999")
    check("no such line: 404", st == 404 and j["error"] == "no_line", (st, j))
    st, j = add(BANANAS)
    check("weighed good without quantity: 400", st == 400 and j["error"] == "argument", (st, j))
    st, j = add(BREAD, quantity="1.2345")
    check("four decimals: 400", st == 400 and j["field"] == "quantity", (st, j))

    # The refusals, in pipeline order, each into the open receipt.
    refused("bad_code", "hello, world", "bad_code")
    refused("unknown_product", foreign[0], "unknown_product")
    refused("mark_required", JEANS, "mark_required")
    refused("group_mismatch", wrong_group[0], "group_mismatch")
    refused("duplicate", J_SALE, "duplicate")
    refused("not_in_stock", shoes[0], "not_in_stock")
    st, j = api("POST", "/api/blocks", {"code": J_BLOCK, "reason": "recall"}, pin=PIN)
    check("local block", st == 201 and j["block"]["kind"] == "code", (st, j))
    refused("blocked", J_BLOCK, "blocked")
    refused("counterfeit", tamper(J_FAKE), "counterfeit")
    refused("op_blocked", J_OPBLOCK, "op_blocked")
    w = water[0]
    refused("op_not_found", w[:18] + ("Z" if w[18] != "Z" else "Y") + w[19:], "op_not_found")
    refused("expired", milk[1] + GS + "17200101", "expired")
    refused("price_below_min", yava[0], "price_below_min")
    refused("price_above_max", troika[0], "price_above_max", price=16000)
    # The FN holds only the two marked lines' codes: every refusal declined its own.
    check("refusals leave nothing in the FN table", checked_codes() == 2)

    b = basket()
    total = b["total"]
    st, j = api("POST", "/api/receipts/current/pay", {"cash": 1, "cashless": 1})
    check("payment must match: 422", st == 422 and j["error"] == "payment", (st, j))
    st, j = api("POST", "/api/receipts/current/pay", {"cash": 10000, "cashless": total - 10000,
                                                     "width": 32})
    rc = j.get("receipt", {})
    check("sale closed", st == 200 and rc.get("document") == 3 and rc.get("fiscal_sign")
          and rc.get("total") == total and rc.get("cash") == 10000
          and rc.get("cashless") == total - 10000 and rc.get("lines") == 4
          and rc.get("marked_lines") == 2, (st, j))
    sale_fd = rc.get("document")
    qr = rc.get("qr", "")
    check("QR string", qr.startswith("t=") and f"fn={FN_NUMBER}" in qr and f"&i={sale_fd}&" in qr
          and f"fp={rc.get('fiscal_sign')}&" in qr and qr.endswith("&n=1")
          and f"s={total // 100}.{total % 100:02d}&" in qr, qr)
    text = rc.get("text") or ""
    lines = text.split("\n")
    marked = [i for i, l in enumerate(lines) if l.startswith("[М+] Джинсы")]
    check("printed text: [М+] before the marked line", len(marked) == 1, text)
    check("printed text: the plain and weighed lines, FD, FP, QR",
          any(l.startswith("Хлеб") for l in lines) and "0.532" in text
          and f"ФД {sale_fd}" in text and str(rc.get("fiscal_sign")) in text
          and qr in "".join(lines), text)
    st, j = api("GET", f"/api/receipts/{sale_fd}/text?width=32")
    check("reprint is the same text", st == 200 and j["text"] == text and j["document"] == sale_fd,
          (st, j))
    st, j = api("GET", "/api/receipts/2/text")
    check("reprint of a shift open: 404", st == 404 and j["error"] == "not_a_receipt", (st, j))
    st, j = api("GET", "/api/receipts/99/text")
    check("reprint of nothing: 404", st == 404 and j["error"] == "no_document", (st, j))
    check("FN table empty after the close", checked_codes() == 0)

    # ---- goods acceptance makes strict goods sellable ----------------------------------
    st, j = api("POST", "/api/accept", {"list": "\n".join(shoes[1:]), "scanned": shoes[1:],
                                        "decision": "all"})
    check("accept needs the PIN", st == 403 and j["error"] == "manager_pin_required", (st, j))
    st, j = api("POST", "/api/accept", {"list": "\n".join(shoes[1:]), "scanned": shoes[1:2],
                                        "decision": "all"}, pin=PIN)
    check("accept all refused when one is missing", st == 422 and j["error"] ==
          "acceptance_refused" and j.get("refusal") == "missing", (st, j))
    st, j = api("POST", "/api/accept", {"list": "\n".join(shoes[1:]), "scanned": shoes[1:],
                                        "decision": "all"}, pin=PIN)
    check("accepted", st == 200 and j["ok"] and j["outcome"] == "accepted_all"
          and j["counts"]["accepted"] == 2, (st, j))
    st, j = api("POST", "/api/receipts", {})
    st, j = add(shoes[1])
    check("accepted strict good sells", st == 201, (st, j))
    st, j = api("POST", "/api/receipts/current/pay", {"method": "cashless"})
    check("second sale closed", st == 200 and j["receipt"]["cashless"] == 499900, (st, j))
    st, j = api("POST", "/api/receipts", {})
    refused("already_sold", shoes[1], "already_sold")
    refused("already_sold (jeans)", J_SALE, "already_sold")
    st, j = api("DELETE", "/api/receipts/current")
    check("receipt cancelled", st == 200 and j["cancelled"], (st, j))

    # ---- a return asked about before any flush -------------------------------------------
    # The OISM has not heard of the sales yet (the flush runs from a timer); the till
    # reports them first, so the OISM answers about the sale and the return is [М+].
    st, j = api("GET", "/api/status")
    owed = j["outbox"]["unsent_notifications"]
    check("two sales not yet reported to the OISM", owed <= 2 if reg else owed == 2, j)
    # A register reports its sales itself, in its own time: kassa cannot put
    # them first, so through one the return waits until it has (else the OISM,
    # not knowing the sale, refuses the return: docs/HARDWARE.md).
    if reg:
        check("the register reported the sales", harness.register_delivered(
            lambda: api("GET", "/api/status")))
    st, j = api("POST", "/api/check", {"code": shoes[1], "purpose": "return"})
    check("return check before the flush: allowed, the OISM says sold ([М+])", st == 200
          and j["allow"] is True and j["oism_answered"] and j["mark"] == "[М+]"
          and j["planned"] == 3, j)
    st, j = api("GET", "/api/status")
    check("the sale notifications went first", j["outbox"]["unsent_notifications"] == 0
          and (reg or j["outbox"]["unsent_documents"] > 0), j["outbox"])
    check("the question left nothing in the FN table", checked_codes() == 0)

    # ---- delivery, then a return with a code and one without ---------------------------
    if reg:  # the register's own (and `kassa ofd flush` cannot reach it: serve holds it)
        check("documents delivered beside the service (by the register)",
              harness.register_delivered(lambda: api("GET", "/api/status")))
    else:
        r = kassa("ofd", "flush")
        check("documents delivered beside the service", r.returncode == 0, r.stdout + r.stderr)
    st, j = api("POST", "/api/receipts", {"operation": "return"})
    check("return needs the PIN", st == 403 and j["error"] == "manager_pin_required", (st, j))
    st, j = api("POST", "/api/receipts", {"operation": "return"}, pin=PIN)
    check("return opened", st == 201 and j["receipt"]["operation"] == "return", (st, j))
    st, j = add(J_SALE)
    check("return line by code", st == 201 and j["decision"]["planned"] == 3, (st, j))
    refused("not_sold_here", J_NEVER, "not_sold_here")
    first_pair = {"gtin": JEANS, "sale_fd": sale_fd, "sale_line": 1}  # J_SALE, line 1
    st, j = api("POST", "/api/receipts/current/items/without-code", first_pair)
    check("without code needs the PIN", st == 403, (st, j))
    # Issue 18: a return without a code names its sale (FD and line).
    st, j = api("POST", "/api/receipts/current/items/without-code", {"gtin": JEANS}, pin=PIN)
    check("without code and without its sale: 400 (sale_fd)",
          st == 400 and j.get("field") == "sale_fd" and j["message_ru"], (st, j))
    st, j = api("POST", "/api/receipts/current/items/without-code",
                {"gtin": JEANS, "sale_fd": sale_fd + 40, "sale_line": 1}, pin=PIN)
    check("no such receipt: refused (sale_not_found)",
          st == 422 and j["error"] == "sale_not_found" and j["message_en"], (st, j))
    st, j = api("POST", "/api/receipts/current/items/without-code",
                {"gtin": JEANS, "sale_fd": sale_fd, "sale_line": 2}, pin=PIN)
    check("that line is bread: refused (sale_line)",
          st == 422 and j["error"] == "sale_line" and j["message_en"], (st, j))
    # One pair sold, its code in this return: a second pair without a code
    # naming that sale would refund money that never came in.
    st, j = api("POST", "/api/receipts/current/items/without-code", first_pair, pin=PIN)
    check("one pair sold, two refunded: refused (return_units)",
          st == 422 and j["error"] == "return_units" and j["message_en"], (st, j))
    st, j = api("POST", "/api/receipts/current/pay", {"method": "cash"})
    ret = j.get("receipt", {})
    check("return closed", st == 200 and ret.get("operation") == "return"
          and ret.get("total") == 349000, (st, j))
    # A second pair sold, then returned without its code.
    st, j = api("POST", "/api/receipts", {})
    st, j = add(jeans[8])
    check("a second pair sold", st == 201, (st, j))
    st, j = api("POST", "/api/receipts/current/pay", {"method": "cash"})
    check("second pair paid", st == 200, (st, j))
    second_pair = {"gtin": JEANS, "sale_fd": j.get("receipt", {}).get("document"), "sale_line": 1}
    st, j = api("POST", "/api/receipts", {"operation": "return"}, pin=PIN)
    st, j = api("POST", "/api/receipts/current/items/without-code",
                {**second_pair, "price": 349001}, pin=PIN)
    check("a refund above the sale's price without a code: refused (refund_above_sale)",
          st == 422 and j["error"] == "refund_above_sale", (st, j))
    st, j = api("POST", "/api/receipts/current/items/without-code", second_pair, pin=PIN)
    check("return line without a code", st == 201 and j["receipt"]["lines"][-1]["without_code"],
          (st, j))
    st, j = api("POST", "/api/receipts/current/items/without-code", second_pair, pin=PIN)
    check("the same sale line twice: refused (return_units)",
          st == 422 and j["error"] == "return_units", (st, j))
    st, j = api("POST", "/api/receipts/current/pay", {"method": "cash"})
    ret = j.get("receipt", {})
    check("return without a code closed", st == 200 and ret.get("total") == 349000, (st, j))
    st, j = api("GET", "/api/remark/pending", pin=PIN)
    pending = j.get("pending", [])
    check("the good without a code waits for remarking", st == 200 and len(pending) == 1
          and pending[0]["gtin"] == gtin14(JEANS), (st, j))

    # The returned code is ours again, but the operator (told of the sale, not yet of
    # the return) still says sold.
    st, j = api("POST", "/api/receipts", {})
    refused("op_sold", J_SALE, "op_sold")

    # ---- remarking -------------------------------------------------------------------------
    st, j = api("POST", "/api/remark", {"pending_id": pending[0]["id"] if pending else 1},
                pin=PIN)
    rm = j.get("remark", {})
    png = base64.b64decode(rm.get("label_png") or "")
    check("remark of a return without a code", st == 201 and rm.get("new_code") in pool
          and png.startswith(b"\x89PNG"), (st, {k: v for k, v in rm.items() if k != "label_png"}))
    st, j = api("GET", "/api/remark/pending", pin=PIN)
    check("nothing waits any more", st == 200 and j["pending"] == [], j)

    # ---- the local module after a sync ------------------------------------------------
    r = kassa("cache", "sync", "--owner", OWNER)
    check("cache synced beside the service", r.returncode == 0, r.stdout + r.stderr)
    st, j = lm("GET", "/api/v1/status")
    check("LM ready", st == 200 and j["status"] == "ready" and j["lastSync"] > 0
          and j["inst"] == f"kassa-{FN_NUMBER}" and j["version"] and "dbVersion" in j
          and j["counters"]["codes"] >= 20, (st, j))
    st, j = lm("GET", "/api/v1/status", password="wrong")
    check("LM wrong password: 401 / 4010", st == 401 and j["errorCode"] == 4010, (st, j))
    st, j = lm("GET", "/api/v1/status", password=None)
    check("LM no credentials: 401", st == 401, (st, j))
    st, j = lm("POST", "/api/v1/cis/outCheck", {"cis_list": [J_OPBLOCK, J_SALE, J_CHECK, "junk"]},
               client_id=FN_NUMBER)
    codes = j.get("codes", [])
    fields = {"cis", "valid", "printView", "gtin", "groupIds", "verified", "found", "realizable",
              "utilised", "isBlocked", "sold", "isCheckedOffline", "inst", "version"}
    check("LM outCheck v1", st == 200 and j["code"] == 0 and j["reqId"] and j["reqTimestamp"] > 0
          and len(codes) == 4 and all(fields <= set(c) for c in codes), (st, j))
    if len(codes) == 4:
        c_block, c_sold, c_ok, c_junk = codes
        check("LM blocked", c_block["isBlocked"] is True and c_block["found"], c_block)
        check("LM sold", c_sold["sold"] is True and c_sold["realizable"] is False, c_sold)
        check("LM sellable", c_ok["found"] and c_ok["valid"] and not c_ok["isBlocked"]
              and not c_ok["sold"] and c_ok["realizable"] and c_ok["utilised"]
              and c_ok["groupIds"] == [1] and c_ok["gtin"] == gtin14(JEANS)
              and c_ok["printView"] == ki(J_CHECK) and c_ok["isCheckedOffline"] is True, c_ok)
        check("LM junk", c_junk["valid"] is False and c_junk["found"] is False, c_junk)
    st, j = lm("POST", "/api/v2/cis/outCheck",
               {"cis_list": [{"cis": troika[0], "pg": "3"}, {"cis": milk[1], "pg": 8}]})
    codes = j.get("codes", [])
    check("LM outCheck v2", st == 200 and len(codes) == 2 and codes[0]["mrp"] == 15000
          and codes[0]["groupIds"] == [3] and "expireDate" in codes[1], (st, j))
    st, j = lm("POST", "/api/v1/cis/outCheck", {"cis_list": [J_CHECK]}, client_id="1" * 16)
    check("LM foreign X-ClientId: 403", st == 403, (st, j))
    st, j = lm("POST", "/api/v1/cis/outCheck", {"codes": []})
    check("LM malformed body: 400 / 6010", st == 400 and j["errorCode"] == 6010, (st, j))

    # ---- SIGTERM while a check waits for a slow operator: the answer still comes -------
    st, j, _ = request(op_http, "POST", "/control/fault", {"mode": "slow", "ms": 800})
    check("operator made slow", st == 200, (st, j))
    answer = {}

    def slow_check():
        answer["r"] = request(S.api, "POST", "/api/check", {"code": J_OFFLINE}, token=TOKEN)

    t = threading.Thread(target=slow_check)
    t.start()
    time.sleep(0.3)
    rc, err = S.stop()
    t.join(timeout=20)
    st, j, _ = answer.get("r", (0, {}, {}))
    check("the request in flight is answered", st == 200 and j.get("allow") is True
          and j.get("trueapi_answered") is True, (st, j))
    check("... and it was in flight when SIGTERM came", j.get("elapsed_us", 0) >= 700000, j)
    check("then exit 0", rc == 0 and "closing the till" in err, (rc, err))
    check("no secret in the log", TOKEN not in err and PIN not in err, err)
    request(op_http, "POST", "/control/fault", {"mode": "none"})
    S = Serve()
    check("checked codes are not left behind", checked_codes() == 0)

    # ---- a code the store knows is remarked: it never sells again -----------------------
    st, j = api("POST", "/api/remark", {"code": J_REMARK}, pin=PIN)
    check("remark of a known code", st == 201 and j["remark"]["new_code"] in pool, (st, j))
    refused("remarked", J_REMARK, "remarked")

    # ---- offline: the operator stops --------------------------------------------------
    oper.send_signal(signal.SIGTERM)
    oper.wait(timeout=20)
    refused("offline_blocked", J_OPBLOCK, "offline_blocked")
    refused("offline_sold", J_SALE, "offline_sold")
    st, j = add(J_OFFLINE)
    check("offline sale on cached statuses", st == 201 and j["decision"]["offline"] is True
          and j["decision"]["mark"] == "[М]", (st, j))

    # ---- SIGTERM: a clean stop; the basket survives ---------------------------------------
    rc, err = S.stop()
    check("SIGTERM: exit 0", rc == 0 and "closing the till" in err, (rc, err))
    S = Serve()
    b = basket()
    check("basket survives a restart", b.get("open") and len(b.get("lines", [])) == 1, b)
    st, j = api("DELETE", "/api/receipts/current")
    check("cancelled after restart", st == 200, (st, j))
    st, j = api("GET", "/api/status")
    now = j["fn"]["now"]
    if reg:
        # A register delivered everything it made while the operator was up;
        # an X report made now (the operator stopped) stays owed for the
        # 30-day rule below.
        st, j = api("POST", "/api/reports/x", {})
        check("an X report while the operator is down", st == 200, (st, j))
    rc, err = S.stop()

    # ---- 31 days later on the FN's clock: the 30-day rule, a stale cache ----------------
    env = dict(os.environ, KASSA_FAKE_NOW=str(now + 31 * 86400))
    if reg:  # the FN's clock is the register's
        reg.stop()
        reg.start(env=env)
    S = Serve(env=env)
    check("serve on the test clock", S.api is not None, S.line)
    st, j = api("POST", "/api/receipts", {})
    refused("delivery_overdue", J_OFFLINE, "delivery_overdue")
    api("DELETE", "/api/receipts/current")
    # The same refusal through the one-call receipt and an ATOL sell task:
    # the line's message whole (cut at 320 bytes it ended inside a letter,
    # and the JSON lost the line's refusal).
    st, j = api("POST", "/api/receipts/full", {"operation": "sale", "lines": [{"code": J_OFFLINE}],
                                               "payments": {"cash": 349000}})
    lines = j.get("lines") or [{}]
    msg = lines[0].get("message_ru", "")
    check("one-call receipt at 31 days: refused, the line named", st == 422
          and j.get("error") == "refused" and len(lines) == 1
          and lines[0].get("reason") == "delivery_overdue", (st, j))
    check("... the line's message whole, as the check gave it", len(msg.encode()) > 320
          and msg == lines[0].get("decision", {}).get("message_ru")
          and lines[0].get("message_en") == lines[0]["decision"].get("message_en"), (st, j))
    sell = {"type": "sell", "operator": {"name": "Иванова"}, "items": [
        {"type": "position", "name": "Джинсы женские прямые р. 44", "price": 3490.00,
         "quantity": 1, "amount": 3490.00, "tax": {"type": "vat22"},
         "paymentMethod": "fullPayment", "paymentObject": "commodityWithMarking",
         "measurementUnit": "piece",
         "imcParams": {"imcType": "auto", "imc": base64.b64encode(J_OFFLINE.encode()).decode(),
                       "itemEstimatedStatus": "itemPieceSold", "imcModeProcessing": 0}}],
        "payments": [{"type": "cash", "sum": 3490.00}]}
    st, j = api("POST", "/api/v2/requests", {"uuid": "overdue-sell-1", "request": [sell]})
    res = (j.get("results") or [{}])[0]
    check("ATOL sell task at 31 days: error 13 with the line's whole message",
          res.get("status") == "error" and res.get("errorCode") == 13
          and msg and msg in res.get("errorDescription", "")
          and lines[0].get("message_en", "?") in res.get("errorDescription", ""), (st, j))
    st, j = api("POST", "/api/shift/close", {})
    check("FN refuses the shift close: rule named", st == 409 and j["error"] == "fn"
          and j["fn_error"] == "ofd_overdue" and j["fn_code"] == "0x15" and j["message_en"], (st, j))
    st, j = api("GET", "/api/status")
    check("status: blocked outbox", j["outbox"]["documents_level"] == "blocked"
          and j["outbox"]["may_sell_marked"] is False and j["cache"]["stale"] is True, j)
    st, j = lm("GET", "/api/v1/status")
    check("LM sync_error when stale", st == 200 and j["status"] == "sync_error", (st, j))
    st, j = lm("POST", "/api/v1/cis/outCheck", {"cis_list": [J_CHECK]})
    check("LM 4050 when stale", st == 400 and j["errorCode"] == 4050, (st, j))

    # ---- rate limits (last: they lock) -----------------------------------------------------
    for i in range(5):
        st, j = api("GET", "/api/remark/pending", pin="0000")
        check(f"wrong PIN {i + 1}: 403", st == 403 and j["error"] == "manager_pin_wrong", (st, j))
    st, j, h = request(S.api, "GET", "/api/remark/pending", token=TOKEN, pin=PIN)
    check("PIN locked: 429 even for the right PIN", st == 429 and j["error"] ==
          "too_many_attempts" and int(h.get("Retry-After", "0")) >= 29, (st, j, h))
    st, j = api("GET", "/api/status")
    check("the token still works while the PIN is locked", st == 200, (st, j))
    for i in range(5):
        st, j, h = request(S.api, "GET", "/api/status", token="nope")
        check(f"wrong token {i + 1}: 401", st == 401 and j["error"] == "unauthorized", (st, j))
    st, j, h = request(S.api, "GET", "/api/status", token="nope")
    check("token locked for this source: 429 for a wrong one", st == 429 and
          int(h.get("Retry-After", "0")) >= 29, (st, j, h))
    st, j, h = request(S.api, "GET", "/api/status", token=TOKEN)
    check("the right token keeps working during the lock (issue 18)", st == 200, (st, j))
    rc, err = S.stop()
    check("second SIGTERM: exit 0", rc == 0, (rc, err))
    check("refusals are logged without secrets", "429" in err and TOKEN not in err
          and "nope" not in err and PIN not in err, err)
    harness.registers_clean(check)
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()

print(f"{passed} passed, {failed} failed")
if failed:
    print(f"data kept for a look: {root}")
else:
    shutil.rmtree(root, ignore_errors=True)
sys.exit(1 if failed else 0)

#!/usr/bin/env python3
"""test_lm_manual.py KASSA OPERATOR: the local-module port as the 2025 manual
describes it, driven by a front end written from the manual's examples.

A shop (tests/integration/shop.py: kassa-operator, a registered marking FN,
the demo catalogue) whose [till] api_token is the manual's example password
("admin", so the manual's `Authorization: Basic YWRtaW46YWRtaW4=` works as
printed). Then, over HTTP only:

- before any sync: status not_configured with every status field of the
  manual (and the v1 ones front ends of the older manuals read:
  requiresDownload), outCheck and sell refused with 4045, init accepted;
- after `kassa cache sync`: every request example of the manual
  (tests/data/lm/manual_2025_examples.json, figures 5-25) sent exactly as
  printed (only the Host port is the real one), each answer checked
  against the manual's status code and example fields;
- the codes the operator issued: every outCheck field of the manual and of
  DOMAIN §6 (productionDate, isOwner, soldUnitCount, innerUnitCount ...),
  the GET forms (`?cis=`), v1 and v2; a sale registered through cis/sell
  makes outCheck say sold, a second registration is 4070, the return makes
  it sellable again, a second return is 4075; the manual's RFC 1738 escapes;
- a pack sold by parts through POST /api/receipts/full (1/4, then 3/4):
  outCheck answers soldUnitCount of innerUnitCount (1 of 4, still
  realizable; then 4 of 4, sold);
- Token authentication, wrong credentials 401/4010, malformed requests
  6010/6011/6020/6030, unknown paths 404/4040, 405 for a wrong method;
- four days later on the till's clock: status sync_error, outCheck and sell
  4050, sold/check still answered; 31 days later a registered sale is
  forgotten (the manual's soldStorePeriod, 30 days).
Prints "N passed, N failed"; exit 1 on any failure.
"""
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from shop import GS, OWNER, exchange, script  # noqa: E402

KASSA, OPERATOR = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
check = None
shop = None


def example_request(ex, port):
    h = dict(ex["headers"])
    h["Host"] = f"localhost:{port}"  # the only change: the port kassa serve bound
    st, j, _ = exchange(port, "lm", ex["method"], ex["path"], ex.get("body"), h)
    return st, j


def check_example(ex, st, j):
    a = ex["answer"]
    name = f"figure {ex['figure']} ({ex['method']} {ex['path']}) as figure {a['figure']}"
    check(f"{name}: status {a['status']}", st == a["status"], (st, j))
    for f in a.get("fields", []):
        check(f"{name}: field {f}", f in j, j)
    for k, v in a.get("values", {}).items():
        check(f"{name}: {k} = {v}", j.get(k) == v, j)
    if "results" in a:
        res = j.get("results", [])
        check(f"{name}: {a['results']} results", len(res) == a["results"], j)
        for r in res:
            check(f"{name}: result fields", all(f in r for f in a["result_fields"]), r)
            for c in r.get("codes", []):
                check(f"{name}: code fields", all(f in c for f in a["code_fields"]), c)



def main(the_shop, the_check):
    global shop, check
    shop, check = the_shop, the_check
    JEANS = "4601234501026"
    jeans = shop.issue(JEANS, "lp", 5)
    J_OK, J_BLOCK, J_SELL, J_OTHER, J_PARTS = jeans
    check("blocked at the operator",
          shop.op("block", "--code", J_BLOCK.replace(GS, "\\x1d")).returncode == 0)
    shop.start()
    S = shop.serve()
    lm = shop.lm

    # ---- never synced ------------------------------------------------------------------
    st, j = lm("GET", "/api/v2/status")
    fields = {"version", "status", "serviceUrl", "operationMode", "name", "lastUpdate",
              "lastSync", "inst", "inn", "dbVersion", "dbState", "isGreyGtin",
              "requiresDownload", "info"}
    check("status before sync: not_configured, every field", st == 200
          and j.get("status") == "not_configured" and fields <= set(j) and j["lastSync"] == 0
          and j["inn"] == OWNER and j["operationMode"] == "active"
          and j["requiresDownload"] is False, (st, j))
    st, j = lm("GET", "/api/v1/status")
    check("v1 status: the same fields and the old counters", st == 200 and fields <= set(j)
          and "counters" in j, (st, j))
    st, j = lm("POST", "/api/v2/cis/outCheck", {"cis_list": [{"cis": J_OK}]})
    check("outCheck before sync: 4045", st == 400 and j.get("errorCode") == 4045
          and j.get("reason"), (st, j))
    st, j = lm("POST", "/api/v2/cis/sell", {"cis_list": [J_OK.split(GS)[0]]})
    check("sell before sync: 4045", st == 400 and j.get("errorCode") == 4045, (st, j))
    st, j = lm("POST", "/api/v1/init", {"token": "acb84a37-6c3d-4f3a-bf2e-24d1621a0746"})
    check("v1 init before sync: 200", st == 200, (st, j))

    r = shop.kassa("cache", "sync", "--owner", OWNER)
    check("cache synced", r.returncode == 0, r.stdout + r.stderr)

    # ---- the manual's examples, as printed -----------------------------------------------
    with open(os.path.join(HERE, "..", "data", "lm", "manual_2025_examples.json"),
              encoding="utf-8") as f:
        examples = json.load(f)["examples"]
    answers = {}
    for ex in examples:
        st, j = example_request(ex, S.lm)
        check_example(ex, st, j)
        answers[ex["figure"]] = j
    sold = answers.get(21, {}).get("results", [])
    check("figure 21 after 17: every code registered is sold",
          len(sold) == 3 and all(r.get("isSold") is True for r in sold), sold)
    check("figure 17: the pack ki with '%' is taken as printed",
          answers.get(17, {}).get("results", [{}, {}])[1].get("cis") == "04647297654361!%C5UGb",
          answers.get(17))
    st, j = lm("POST", "/api/v2/cis/sold/check", {"cis_list": ["0104850013000162215zAfgLxY"]})
    check("after figure 19 the return is done", st == 200
          and j["results"][0]["isSold"] is False, (st, j))

    # ---- real codes: every field --------------------------------------------------------
    st, j = lm("POST", "/api/v2/cis/outCheck",
               {"tz": 2, "cis_list": [{"cis": J_OK, "pg": 1}, {"cis": J_BLOCK}, "junk"]})
    code_fields = {"cis", "valid", "printView", "gtin", "groupIds", "verified", "found",
                   "realizable", "utilised", "isBlocked", "isOwner", "sold", "soldUnitCount",
                   "innerUnitCount", "grayZone", "isCheckedOffline", "inst", "version",
                   "errorCode", "message"}
    codes = j.get("codes", [])
    res = j.get("results", [])
    check("outCheck v2: flat codes and the manual's results", st == 200 and len(codes) == 3
          and len(res) == 3 and all(code_fields <= set(c) for c in codes), (st, j))
    if len(codes) == 3 and len(res) == 3:
        ok, blk, junk = codes
        check("sellable code", ok["found"] and ok["realizable"] and not ok["sold"]
              and ok["isOwner"] is True and ok["soldUnitCount"] == 0
              and ok["innerUnitCount"] == 1 and ok["groupIds"] == [1], ok)
        check("blocked code", blk["isBlocked"] is True, blk)
        check("junk: not valid, a 400 result", junk["valid"] is False and res[2]["code"] == 400
              and "codes" not in res[2], (junk, res[2]))
        cursor = lm("GET", "/api/v2/status")[1].get("dbVersion")
        check("results carry the db version", cursor and res[0]["version"] == cursor, res[0])
    q = urllib.parse.quote(J_OK, safe="")
    st, j = lm("GET", f"/api/v1/cis/outCheck?cis={q}")
    check("GET form v1", st == 200 and j.get("codes", [{}])[0].get("found") is True
          and j["codes"][0]["cis"] == J_OK, (st, j))
    st, j = lm("GET", f"/api/v2/cis/outCheck?cis={q}&pg=1")
    check("GET form v2", st == 200 and len(j.get("results", [])) == 1
          and j["results"][0]["codes"][0]["found"] is True, (st, j))
    st, j = lm("GET", "/api/v1/cis/outCheck")
    check("GET form without cis: 6010", st == 400 and j.get("errorCode") == 6010, (st, j))
    made = "0104850013000162" + "11251201" + "21" + "abcDEF7"
    st, j = lm("GET", f"/api/v1/cis/outCheck?cis={made}")
    check("productionDate from AI 11", st == 200
          and j["codes"][0].get("productionDate") == "2025-12-01T00:00:00.000Z", (st, j))

    # ---- the sold-goods database with real codes -------------------------------------------
    sell_ki = J_SELL.split(GS)[0]
    st, j = lm("POST", "/api/v2/cis/sell", {"cis_list": [sell_ki]})
    check("sell: 201", st == 201 and j["results"] == [{"success": True, "cis": sell_ki}], (st, j))
    st, j = lm("POST", "/api/v1/cis/outCheck", {"cis_list": [J_SELL]})
    check("outCheck says sold after sell", st == 200 and j["codes"][0]["sold"] is True
          and j["codes"][0]["realizable"] is False and j["codes"][0]["soldUnitCount"] == 1,
          (st, j))
    st, j = lm("POST", "/api/v2/cis/sell", {"cis_list": [J_OTHER.split(GS)[0], sell_ki]})
    check("sell again: 4070, nothing registered", st == 400 and j.get("errorCode") == 4070
          and sell_ki in j.get("reason", ""), (st, j))
    st, j = lm("POST", "/api/v2/cis/sold/check", {"cis_list": [J_OTHER.split(GS)[0]]})
    check("... not even the first of that list", j["results"][0]["isSold"] is False, j)
    plus = "0104850013000162215aBcDe+&zXy"
    st, j = lm("POST", "/api/v2/cis/sell", {"cis_list": ["0104850013000162215aBcDe%2B%26zXy"]})
    st, j = lm("GET", "/api/v2/cis/sold?limit=1000")
    check("sold list: RFC 1738 escapes both ways", st == 200
          and "0104850013000162215aBcDe%2B%26zXy" in j.get("cis_list", [])
          and j["total_count"] == len(j["cis_list"]), (st, j))
    st, j = lm("POST", "/api/v2/cis/sold/check", {"cis_list": [plus]})
    check("... the escaped ki is the plain one", j["results"][0]["isSold"] is True, j)
    st, j = lm("POST", "/api/v2/cis/return", {"cis_list": [sell_ki]})
    check("return: 200", st == 200 and j["results"][0]["success"] is True, (st, j))
    st, j = lm("POST", "/api/v2/cis/return", {"cis_list": [sell_ki]})
    check("return again: 4075", st == 400 and j.get("errorCode") == 4075, (st, j))
    st, j = lm("POST", "/api/v2/init", {"token": "t", "clearSold": True})
    st, j = lm("GET", "/api/v2/cis/sold")
    check("init with clearSold empties the sold-goods database", st == 200
          and j["total_count"] == 0, (st, j))

    # ---- a pack sold by parts: soldUnitCount of innerUnitCount from the cache -------------
    st, j = shop.api("POST", "/api/shift/open", {"cashier": "Иванова"})
    check("shift opened for the parts", st == 200, (st, j))

    def sell_part(fraction, cash):
        st, j = shop.api("POST", "/api/receipts/full",
                         {"cashier": "Иванова", "payments": {"cash": cash},
                          "lines": [{"code": J_PARTS, "fraction": fraction, "price": cash}]})
        check(f"{fraction} of the pack sold (3490.00 x {fraction})", st == 201, (st, j))

    def units():
        st, j = lm("POST", "/api/v2/cis/outCheck", {"cis_list": [{"cis": J_PARTS}]})
        c = (j.get("codes") or [{}])[0]
        return c.get("sold"), c.get("realizable"), c.get("soldUnitCount"), c.get("innerUnitCount")

    sell_part("1/4", 87250)
    check("outCheck after 1/4: not sold, realizable, 1 of 4 units",
          units() == (False, True, 1, 4), units())
    sell_part("3/4", 261750)
    check("outCheck when the parts make the whole: sold, not realizable, 4 of 4 units",
          units() == (True, False, 4, 4), units())

    # ---- authentication and malformed requests ------------------------------------------------
    st, j, _ = exchange(S.lm, "lm", "GET", "/api/v2/status",
                                           headers={"Authorization": "Token admin"})
    check("Token authentication", st == 200, (st, j))
    st, j = lm("GET", "/api/v2/status", password="wrong")
    check("wrong password: 401 / 4010", st == 401 and j.get("errorCode") == 4010
          and j.get("reason"), (st, j))
    st, j = lm("POST", "/api/v2/cis/outCheck", {"cis_list": ["x"] * 1001})
    check("1001 codes: 6020", st == 400 and j.get("errorCode") == 6020, (st, j))
    st, j = lm("POST", "/api/v2/cis/outCheck", {})
    check("no cis_list: 6010", st == 400 and j.get("errorCode") == 6010, (st, j))
    st, j = lm("POST", "/api/v2/cis/outCheck", raw=b"{not json",
               headers={"Content-Type": "application/json"})
    check("not JSON: 6011", st == 400 and j.get("errorCode") == 6011, (st, j))
    st, j = lm("POST", "/api/v2/cis/outCheck", {"tz": 40, "cis_list": [J_OK]})
    check("tz out of range: 6020", st == 400 and j.get("errorCode") == 6020, (st, j))
    st, j = lm("POST", "/api/v2/init", {"token": "t", "kpp": "770701001", "fiasId": "x"})
    check("kpp and fiasId: 6030", st == 400 and j.get("errorCode") == 6030, (st, j))
    st, j = lm("POST", "/api/v2/init", {})
    check("init without token: 6010", st == 400 and j.get("errorCode") == 6010, (st, j))
    st, j = lm("PUT", "/api/v2/changePassword", {"newPassword": "secret123"})
    check("changePassword: refused, says where", st == 400 and j.get("errorCode") == 6021
          and "api_token" in j.get("reason", ""), (st, j))
    st, j = lm("GET", "/api/v2/nothing")
    check("unknown path: 404 / 4040", st == 404 and j.get("errorCode") == 4040, (st, j))
    st, j = lm("DELETE", "/api/v2/status")
    check("wrong method: 405", st == 405, (st, j))
    st, j = lm("POST", "/api/v2/safe_init", {"activation": {"inst": "x"}})
    check("safe_init: 200", st == 200, (st, j))

    kept = J_OTHER.split(GS)[0]
    st, j = lm("POST", "/api/v2/cis/sell", {"cis_list": [kept]})
    check("a sale registered before the clock moves", st == 201, (st, j))

    # ---- four days later: stale ---------------------------------------------------------------
    now = lm("GET", "/api/v2/stats")[1].get("ts", 0) // 1000
    S = shop.restart(env=dict(os.environ, KASSA_FAKE_NOW=str(now + 4 * 86400)))
    st, j = lm("GET", "/api/v2/status")
    check("stale: sync_error", st == 200 and j.get("status") == "sync_error", (st, j))
    st, j = lm("POST", "/api/v2/cis/outCheck", {"cis_list": [{"cis": J_OK}]})
    check("stale: outCheck 4050", st == 400 and j.get("errorCode") == 4050, (st, j))
    st, j = lm("POST", "/api/v2/cis/sell", {"cis_list": [sell_ki]})
    check("stale: sell 4050", st == 400 and j.get("errorCode") == 4050, (st, j))
    st, j = lm("POST", "/api/v2/cis/sold/check", {"cis_list": [kept]})
    check("stale: sold/check still answers, the sale kept", st == 200
          and j["results"][0]["isSold"] is True, (st, j))

    # ---- 31 days later: the registered sale is past soldStorePeriod (30 days) -----------
    S = shop.restart(env=dict(os.environ, KASSA_FAKE_NOW=str(now + 31 * 86400)))
    st, j = lm("POST", "/api/v2/cis/sold/check", {"cis_list": [kept]})
    check("31 days on: the registered sale is forgotten", st == 200
          and j["results"][0]["isSold"] is False, (st, j))
    st, j = lm("GET", "/api/v2/cis/sold")
    check("... and gone from the list", st == 200 and j.get("total_count") == 0, (st, j))


sys.exit(script(KASSA, OPERATOR, "kassa-lm-", main, token="admin"))

#!/usr/bin/env python3
"""test_cli_cache.py KASSA OPERATOR: `kassa cache` against a real kassa-operator.

A temp data dir, free loopback ports, the real operator (its registry in
SQLite). The operator issues codes for two owners and blocks one; `kassa
cache sync --owner` takes exactly the first owner's codes, and `kassa cache
lookup` / `status --json` show the operator's truth (compared field by
field with `kassa-operator status`). A second sync fetches only what
changed (a block, a price). A remark reported over the feed's remark route
(and through `kassa cache report-remark`) makes codes/check answer
realizable=false for the old code and the feed say RETIRED. Then the kill
test: a sync of 20 000 codes in pages of 50 is SIGKILLed after a few pages;
the cache holds whole pages only, the rerun resumes from the stored cursor
(fetching exactly the codes not yet stored) and ends with the same rows as
a fresh full sync. Also: catalogue import all-or-nothing with the line
named, pool add, local blocks, staleness, a wrong key and a dead operator.
Prints "N passed, N failed"; exit 1 on any failure.
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Checks, free_ports, ki  # noqa: E402

KASSA, OPERATOR = sys.argv[1], sys.argv[2]
check = Checks()
tmp = tempfile.mkdtemp(prefix="kassa-cache-")
opdata = os.path.join(tmp, "op")
KEY = "cache-test-key"
OWNER_A, OWNER_B, OWNER_C = "7700000001", "7700000002", "770000000333"
SHOES, MILK, WATER, SMOKES = "4601234500012", "4609876500018", "4605550000010", "4607770000016"


def op(*args):
    return harness.op(OPERATOR, opdata, *args, timeout=120)


def kassa(data, *args):
    return harness.run([KASSA, "--data", data, "cache", *args], timeout=120)


def status(data):
    r = kassa(data, "status", "--json")
    return json.loads(r.stdout) if r.returncode == 0 else {}


def lookup(data, code):
    r = kassa(data, "lookup", code)
    return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else {})


def truth(code):
    return json.loads(op("status", code).stdout)


def http(path, body=None, key=KEY):
    return harness.http_json(url + path, body, {"X-API-KEY": key} if key else None)


def rows(data):
    """The cache's code rows (operator fields and local state), owner INN resolved."""
    db = sqlite3.connect(os.path.join(data, "cache.db"))
    out = db.execute("SELECT c.ki, c.local, c.op, c.expire, c.mrp, c.smp, o.inn FROM codes c"
                     " LEFT JOIN owners o ON o.id = c.owner ORDER BY c.ki").fetchall()
    db.close()
    return out


gs = harness.unescape


shoes = op("issue", "--gtin", SHOES, "--group", "footwear", "--count", "300", "--owner", OWNER_A).stdout.split()
milk = op("issue", "--gtin", MILK, "--group", "dairy", "--count", "200", "--owner", OWNER_A).stdout.split()
smokes = op("issue", "--gtin", SMOKES, "--group", "tobacco", "--count", "5", "--owner", OWNER_A).stdout.split()
water = op("issue", "--gtin", WATER, "--group", "water", "--count", "100", "--owner", OWNER_B).stdout.split()
check("issued", (len(shoes), len(milk), len(smokes), len(water)) == (300, 200, 5, 100))
check("block at the operator", op("block", "--code", shoes[0]).returncode == 0)

server = harness.Operator(OPERATOR, opdata, check, "--api-key", KEY, name="server",
                          stdout=subprocess.PIPE)
url = server.http
try:
    check("server ready", "kassa-operator:" in server.proc.stdout.readline())
    d1 = os.path.join(tmp, "d1")

    # ---- never synced: stale -------------------------------------------
    s = status(d1)
    check("a new cache is stale and empty", s.get("stale") is True and s.get("lastSync") is None and
          s.get("codes") == 0, str(s))

    # ---- a wrong key and a dead operator change nothing -----------------
    r = kassa(d1, "sync", "--url", url, "--api-key", "wrong", "--owner", OWNER_A)
    check("wrong key refused", r.returncode == 1 and "auth" in r.stderr, r.stderr)
    dead = free_ports(1)[0]
    r = kassa(d1, "sync", "--url", f"http://127.0.0.1:{dead}", "--api-key", KEY)
    check("dead operator: network error", r.returncode == 1 and "network" in r.stderr, r.stderr)
    check("still empty and stale", status(d1).get("synced") == 0 and status(d1).get("stale") is True)
    r = kassa(d1, "sync", "--owner", "123")
    check("bad --owner is a usage error", r.returncode == 2, r.stderr)

    # ---- first sync: exactly owner A's codes ----------------------------
    t0 = time.time()
    r = kassa(d1, "sync", "--url", url, "--api-key", KEY, "--owner", OWNER_A, "--limit", "100")
    check("sync ok", r.returncode == 0 and "synced: 505 codes" in r.stdout, r.stdout + r.stderr)
    check("one line per page off a TTY", sum(l.startswith("page ") for l in r.stdout.splitlines()) == 6,
          r.stdout)
    s = status(d1)
    check("status: 505 synced, 1 blocked there, fresh", s.get("synced") == 505 and s.get("codes") == 505
          and s.get("opBlocked") == 1 and s.get("stale") is False and s.get("owner") == OWNER_A,
          str(s))
    check("lastSync is now", abs(s.get("lastSync", 0) / 1000 - t0) < 60, str(s.get("lastSync")))

    rc, j = lookup(d1, shoes[0])
    t = truth(shoes[0])
    check("blocked code: operator says blocked", rc == 0 and j["found"] and j["operator"]["isBlocked"]
          and t["blocked_code"] and j["operator"]["owner"] == t["owner_inn"] == OWNER_A, str(j))
    check("lookup shows the product from no catalogue yet", j.get("product") is None, str(j))
    ok = True
    for code in shoes[1:20] + milk[:20] + smokes:
        rc, j = lookup(d1, code)
        t = truth(code)
        o = j.get("operator") or {}
        ok = ok and rc == 0 and j["ki"] == t["ki"] and j["gtin"] == t["gtin"] and \
            o.get("state") == "circulation" and o.get("isBlocked") == (t["blocked_code"] or t["blocked_gtin"]) \
            and o.get("sold") is False and o.get("owner") == t["owner_inn"] and \
            (o.get("expireDate") or 0) == t["expiry"] * 1000 and o.get("mrp") == t["max_price"] and \
            o.get("smp") == t["min_price"] and j["local"] == "none"
        if not ok:
            print("mismatch", code, j, t)
            break
    check("lookup equals the operator's registry (shoes, milk with expiry, tobacco with MRP)", ok)
    rc, j = lookup(d1, water[0])
    check("another owner's code is not synced", rc == 1 and j.get("found") is False, str(j))
    rc, j = lookup(d1, "0104601234500012")
    check("lookup of a bare GTIN code parses and is not found", rc == 1 and j.get("ok") is True, str(j))
    rc, j = lookup(d1, "01046012345000132112345")
    check("lookup of a malformed code: parse error JSON", rc == 1 and j.get("ok") is False and
          j.get("error"), str(j))

    # ---- the second sync takes only the changes --------------------------
    check("block another", op("block", "--code", shoes[1]).returncode == 0)
    check("price the milk", op("price", "--gtin", MILK, "--min", "5000").returncode == 0)
    r = kassa(d1, "sync", "--url", url, "--api-key", KEY, "--owner", OWNER_A)
    check("incremental sync: 201 changes", r.returncode == 0 and "resuming after cursor" in r.stdout and
          "synced: 201 codes" in r.stdout, r.stdout + r.stderr)
    rc, j = lookup(d1, shoes[1])
    check("second block arrived", j.get("operator", {}).get("isBlocked") is True, str(j))
    rc, j = lookup(d1, milk[5])
    check("smp arrived", j.get("operator", {}).get("smp") == 5000, str(j))
    check("counts after the increment", status(d1).get("opBlocked") == 2 and status(d1).get("synced") == 505)
    r = kassa(d1, "sync", "--url", url, "--api-key", KEY, "--owner", OWNER_A)
    check("nothing new: 0 codes", r.returncode == 0 and "synced: 0 codes" in r.stdout, r.stdout)

    # ---- remarking: the route, then the feed and codes/check --------------
    extra = op("issue", "--gtin", SHOES, "--group", "footwear", "--count", "3", "--owner", OWNER_A).stdout.split()
    old_code, new_code = shoes[10], extra[0]
    st, a = http("/api/v4/true-api/lm/remark", {"old": ki(old_code), "new": gs(new_code)}, key=None)
    check("remark without key: 401", st == 401, str(a))
    st, a = http("/api/v4/true-api/lm/remark", {"old": ki(old_code), "new": gs(new_code)})
    check("remark taken", st == 200 and a.get("repeated") is False and a.get("new") == ki(new_code) and
          a.get("owner") == OWNER_A, str(a))
    st, a = http("/api/v4/true-api/lm/remark", {"old": ki(old_code), "new": gs(new_code)})
    check("same remark again: repeated, same owner", st == 200 and a.get("repeated") is True and
          a.get("owner") == OWNER_A, str(a))
    st, a = http("/api/v4/true-api/lm/remark", {"old": ki(old_code), "new": gs(extra[1])})
    check("old already remarked to another: 409", st == 409 and a.get("error") == "already_remarked", str(a))
    st, a = http("/api/v4/true-api/lm/remark", {"old": ki(shoes[0]), "new": gs(extra[1])})
    check("blocked old code: 409", st == 409 and a.get("error") == "old_state", str(a))
    forged = gs(extra[1])[:-3] + ("AAA" if not gs(extra[1]).endswith("AAA") else "BBB")
    st, a = http("/api/v4/true-api/lm/remark", {"old": "return:7:1", "new": forged})
    check("forged new code: 422", st == 422 and a.get("error") == "crypto_failed", str(a))
    st, a = http("/api/v4/true-api/lm/remark", {"old": "return:x", "new": gs(extra[1])})
    check("bad old: 400", st == 400, str(a))
    st, a = http("/api/v4/true-api/codes/check", {"codes": [gs(old_code)], "fiscalDriveNumber": "1"})
    c0 = (a.get("codes") or [{}])[0]
    check("codes/check: the old code is not realizable", st == 200 and c0.get("found") is True and
          c0.get("realizable") is False and c0.get("sold") is False and c0.get("isBlocked") is False, str(a))
    r = kassa(d1, "report-remark", "return:7:1", extra[1], "--url", url, "--api-key", KEY)
    check("report-remark (the client) for a return without code", r.returncode == 0 and "reported" in r.stdout,
          r.stdout + r.stderr)
    r = kassa(d1, "report-remark", "return:7:1", extra[1], "--url", url, "--api-key", KEY)
    check("report-remark again: already known", r.returncode == 0 and "already known" in r.stdout, r.stdout)
    r = kassa(d1, "report-remark", "return:7:2", extra[1], "--url", url, "--api-key", KEY)
    check("report-remark of a used new code: refused with the reason", r.returncode == 1 and
          "new_used" in r.stderr, r.stderr)
    r = kassa(d1, "sync", "--url", url, "--api-key", KEY, "--owner", OWNER_A)
    check("sync after the remark", r.returncode == 0, r.stderr)
    rc, j = lookup(d1, old_code)
    check("old code retired in the cache", j.get("operator", {}).get("state") == "retired" and
          j["operator"]["sold"] is False, str(j))
    rc, j = lookup(d1, new_code)
    check("new code in circulation in the cache", j.get("operator", {}).get("state") == "circulation" and
          j["operator"]["owner"] == OWNER_A, str(j))
    st, a = http("/api/v4/true-api/lm/codes?limit=0")
    check("limit=0 refused", st == 400 and a.get("error") == "limit", str(a))
    st, a = http("/api/v4/true-api/lm/codes?after=abc")
    check("a bad cursor refused", st == 400 and a.get("error") == "cursor", str(a))
    for bad in ("s1.2.3.zz", "s1.2.5.3031", "s1.2.1.303", "S1.2.1.3031", "s1.2.1.0030", "s1.2", "-1"):
        st, a = http(f"/api/v4/true-api/lm/codes?after={bad}")
        check(f"a malformed cursor {bad} refused", st == 400 and a.get("error") == "cursor", str(a))

    # ---- the feed: a snapshot in ki order, then the log -----------------
    # Walk owner B's feed by hand in pages of 7: every code once, in ki
    # order, with counts; a change made in the middle of the snapshot comes
    # again in the log after it, in its new state.
    walked, pages, after, changed = [], 0, "0", False
    while True:
        st, a = http(f"/api/v4/true-api/lm/codes?after={after}&limit=7&owner={OWNER_B}")
        if st != 200:
            check("feed page", False, str(a))
            break
        pages += 1
        if not a.get("snapshot"):
            break
        walked += [c[0] for c in a["codes"]]
        check_ok = a["snapshot"]["total"] == 100 and a["snapshot"]["done"] == len(walked)
        if not check_ok:
            check("snapshot counts", False, str(a["snapshot"]))
            break
        if pages == 3 and not changed:
            changed = op("block", "--code", water[0]).returncode == 0
        after = a["next"]
        if not a["more"]:
            break
    check("the snapshot: each of owner B's codes once, in ki order",
          walked == sorted(ki(c) for c in water) and changed, f"{len(walked)} codes, {pages} pages")
    check("after the snapshot: a change number", after.isdigit(), after)
    st, a = http(f"/api/v4/true-api/lm/codes?after={after}&limit=7&owner={OWNER_B}")
    check("the change made during the snapshot comes again in the log",
          st == 200 and a.get("snapshot") is None and [c[0] for c in a["codes"]] == [ki(water[0])]
          and a["codes"][0][3] is True and a["more"] is False, str(a)[:300])

    st, a = http("/api/v4/true-api/lm/nothing")
    check("unknown route: 404", st == 404, str(a))

    # ---- catalogue, pool, blocks ----------------------------------------
    r = kassa(d1, "import-catalogue", "config/catalogue.csv")
    n_products = sum(1 for l in open("config/catalogue.csv", encoding="utf-8")
                     if l.strip() and not l.startswith("#")) - 1
    check("catalogue imported", r.returncode == 0 and f"imported {n_products} products" in r.stdout,
          r.stdout + r.stderr)
    bad = os.path.join(tmp, "bad.csv")
    with open(bad, "w", encoding="utf-8") as f:
        f.write("gtin;name;price;vat;group;group_id;marking;strict;weighed;excise\n"
                "4604440000017;Хлеб другой;60.00;2;;0;0;0;0;0\n"
                "4604440000024;Батон;4,29;2;;0;0;0;0;0\n")
    r = kassa(d1, "import-catalogue", bad)
    check("bad catalogue: line 3 named, nothing written", r.returncode == 1 and "line 3" in r.stderr and
          "строка 3" in r.stderr, r.stderr)
    rc, j = lookup(d1, shoes[2])
    check("product after import", j.get("product", {}).get("name", "").startswith("Кроссовки") and
          j["product"]["price"] == 499900 and j["product"]["strict"] is True, str(j))
    s = status(d1)
    check("products count unchanged by the bad file", s.get("products") == n_products, str(s))

    pool = os.path.join(tmp, "pool.txt")
    with open(pool, "w") as f:
        f.write("# fresh codes\n" + "\n".join(extra[2:]) + "\n" + "\n".join(water[50:53]) + "\n")
    r = kassa(d1, "pool", "add", pool)
    check("pool add", r.returncode == 0 and "pooled 4 new codes" in r.stdout, r.stdout + r.stderr)
    r = kassa(d1, "pool", "add", pool)
    check("pool add again: nothing new", r.returncode == 0 and "pooled 0 new codes" in r.stdout, r.stdout)
    with open(pool, "w") as f:
        f.write(water[60] + "\n0104601234500013215Z7ABC\\x1d93abcd\n")
    r = kassa(d1, "pool", "add", pool)
    check("bad pool line: named, nothing pooled", r.returncode == 1 and "line 2" in r.stderr and
          status(d1).get("pooled") == 4, r.stderr)

    r = kassa(d1, "block", "--series", f"{SHOES}/LOT7", "--reason", "recall")
    check("series block set", r.returncode == 0, r.stderr)
    r = kassa(d1, "block", "--code", shoes[3], "--reason", "damaged box")
    rc, j = lookup(d1, shoes[3])
    check("code block seen by lookup", j.get("block") == {"kind": "code", "reason": "damaged box"}, str(j))
    check("blocks counted", status(d1).get("blocked") == 2)
    r = kassa(d1, "unblock", "--code", ki(shoes[3]))
    rc, j = lookup(d1, shoes[3])
    check("unblocked", r.returncode == 0 and j.get("block") is None, r.stderr + str(j))
    r = kassa(d1, "unblock", "--code", ki(shoes[3]))
    check("unblock twice: 1", r.returncode == 1, r.stderr)
    r = kassa(d1, "block", "--gtin", "123")
    check("bad GTIN block refused", r.returncode == 1, r.stderr)

    # ---- kill mid-sync, resume, same final cache ------------------------
    many = op("issue", "--gtin", WATER, "--group", "water", "--count", "20000", "--owner", OWNER_C)
    check("20 000 codes issued", many.returncode == 0 and len(many.stdout.split()) == 20000, many.stderr)
    d2, d3 = os.path.join(tmp, "d2"), os.path.join(tmp, "d3")
    proc = subprocess.Popen([KASSA, "--data", d2, "cache", "sync", "--url", url, "--api-key", KEY,
                             "--owner", OWNER_C, "--limit", "50"], stdout=subprocess.PIPE, text=True)
    pages = 0
    while pages < 6:
        line = proc.stdout.readline()
        if not line:
            break
        pages += line.startswith("page ")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    check("killed mid-sync", proc.returncode == -signal.SIGKILL and pages == 6, str(proc.returncode))
    s = status(d2)
    stored = s.get("synced", -1)
    cursor = s.get("cursor", "")
    check("after the kill: whole pages only", stored >= 300 and stored < 20000 and stored % 50 == 0,
          str(s))
    check("after the kill: the cursor is stored", cursor.startswith(OWNER_C + "/"), cursor)
    r = kassa(d2, "sync", "--url", url, "--api-key", KEY, "--owner", OWNER_C, "--limit", "50")
    seq = cursor.split("/")[1] if "/" in cursor else "?"
    first_page = next((l for l in r.stdout.splitlines() if l.startswith("page ")), "")
    check("rerun resumes from the stored cursor", r.returncode == 0 and
          f"resuming after cursor {seq}" in r.stdout, r.stdout + r.stderr)
    check("rerun fetches only what was missing", f"synced: {20000 - stored} codes" in r.stdout,
          f"stored {stored}: " + r.stdout.splitlines()[-2] if r.stdout else r.stderr)
    # The first sync is the snapshot (ki order): "sSEQ.TOTAL.DONE.HEX".
    parts = seq[1:].split(".") if seq.startswith("s") else []
    done = int(parts[2]) if len(parts) == 4 and parts[2].isdigit() else -1
    check("the stored cursor is a snapshot's, at the stored count", len(parts) == 4 and
          parts[1] == "20000" and done == stored, seq)
    check("rerun's first page follows the stored one",
          first_page == f"page 1: 50 codes, snapshot {done + 50} of 20000", first_page)
    r = kassa(d3, "sync", "--url", url, "--api-key", KEY, "--owner", OWNER_C, "--limit", "5000")
    check("fresh full sync", r.returncode == 0 and "synced: 20000 codes" in r.stdout, r.stdout + r.stderr)
    a, b = rows(d2), rows(d3)
    check("resumed cache equals a fresh full sync", len(a) == 20000 and a == b, f"{len(a)} vs {len(b)}")
    sa, sb = status(d2), status(d3)
    check("same counts and cursor", all(sa[k] == sb[k] for k in ("codes", "synced", "opBlocked", "cursor")),
          f"{sa} {sb}")
    r = kassa(d2, "sync", "--url", url, "--api-key", KEY)
    check("another owner starts over", r.returncode == 0 and "starting from the beginning" in r.stdout,
          r.stdout)
finally:
    server.stop()

sys.exit(harness.finish(check, tmp))

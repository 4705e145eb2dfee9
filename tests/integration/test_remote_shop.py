#!/usr/bin/env python3
"""test_remote_shop.py KASSA KASSA_OPERATOR REMOTE_TILL: a remote shop's four days.

Issue 4, Done-when line 3: "A simulated remote shop runs four days on an
injected clock: warnings at 48 h, marked sales refused at 72 h, a batch
export and upload clears it, and the operator registry matches the FN
archive." Nothing is faked: the FN is the emulator's file, registered
autonomous by `kassa fn register --autonomous`; the codes are issued by
kassa-operator with genuine 44-character tails and verified by the FN with
the keys `kassa ofd keys` loaded; REMOTE_TILL (remote_till.c) sells them
through fn.h after asking ofd/outbox.h, exactly as the till's sale path
does. The clock is injected with KASSA_FAKE_NOW (FFD seconds) for every
command, so four days pass in seconds.

The days (hours after T0; the first sale is at 1 h, so the deadline is 73 h):
  1..60 h  sales on days 1-3; `kassa batch status` and `kassa ofd status`
           show "ok" before 49 h and "warning" (text with "48") from 49 h;
           sales still go through while warned
  72:59:59 still a warning, marked sales allowed (the second before)
  73 h     blocked: `kassa batch status --json` says maySellMarked false,
           the reason names the 3 days (RU and EN) and `kassa batch export`;
           remote_till is refused with that reason (exit 3) and the FN makes
           no document
  74 h     `kassa batch export --out FILE`: every waiting notification in the
           file, signed; the deadline is gone and sales work again
  75-95 h  day 4: more sales (a new clock starts at the first of them)
  96 h     `kassa batch upload FILE` (the first batch): the operator verifies
           and applies it, its tickets clear those notifications in the FN;
           the same file again applies nothing twice; then a second export
           and upload clear the rest
Then the operator's registry matches the FN archive: the set of codes in
the FN's sale receipts (read with `kassa fd show N --json`) is exactly the
set of codes in status "sold" (SQL on operator.db), one applied
notification per FN notification, and every other issued code is still in
circulation.

Refusals that must change nothing: a batch with an edited code (refused by
the till itself and, posted raw, by the operator: 422), with an edited
signature-covered field (403), from an FN the operator does not know (404,
a second operator), an upload to a dead port (network), and an operator
that answers with a ticket for a notification not in the batch (a fake
HTTP server): the FN keeps every notification.

Prints "N passed, N failed"; exit 1 on any failure.
"""
import base64
import copy
import http.server
import json
import os
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Checks, free_ports, gtin14, ki  # noqa: E402

KASSA, OPERATOR, TILL = sys.argv[1], sys.argv[2], sys.argv[3]
FN_NUMBER = "9999078900007373"
HOUR = 3600
check = Checks()
root, op_dir = harness.workdirs("kassa-remote-", "operator")
data = os.path.join(root, "till")
codes_file = os.path.join(root, "codes.txt")
T0 = int(time.time()) // HOUR * HOUR


OFD_PORT, OISM_PORT, KEYS_PORT, HTTP_PORT = free_ports(4)
conf = os.path.join(root, "kassa.conf")
with open(conf, "w") as f:
    f.write(f"""[paths]
data = {data}
[operator]
host = 127.0.0.1
ofd_port = {OFD_PORT}
oism_port = {OISM_PORT}
keys_port = {KEYS_PORT}
http_port = {HTTP_PORT}
[outbox]
batch_warn_hours = 48
batch_refuse_hours = 72
batch_refuses_marked = yes
""")


def at(hours, seconds=0):
    return T0 + int(hours * HOUR) + seconds


def kassa(now, *args, timeout=60):
    return harness.run([KASSA, "--config", conf, *args], timeout=timeout,
                       env=dict(os.environ, KASSA_FAKE_NOW=str(now)))


def till(now, *args):
    return harness.run([TILL, *args], env=dict(os.environ, KASSA_FAKE_NOW=str(now)))


def op(*args):
    return harness.op(OPERATOR, op_dir, *args)


def batch_status(now):
    r = kassa(now, "batch", "status", "--json")
    check(f"batch status exit 0 at {now - T0}s", r.returncode == 0, r.stderr)
    return json.loads(r.stdout) if r.returncode == 0 else {}


def ofd_status(now):
    r = kassa(now, "ofd", "status", "--json")
    check(f"ofd status exit 0 at {now - T0}s", r.returncode == 0, r.stderr)
    return json.loads(r.stdout) if r.returncode == 0 else {}


def fn_status(now):
    r = kassa(now, "fn", "status", "--json")
    check("fn status", r.returncode == 0, r.stderr)
    return json.loads(r.stdout) if r.returncode == 0 else {}


next_code = 0
sold = []  # escaped codes, in the order sold


def sell(now, n, expect_ok=True):
    global next_code
    r = till(now, "sell", data, "--codes", codes_file, "--first", str(next_code), "--count", str(n))
    if expect_ok:
        check(f"sell {n} at {(now - T0) / HOUR:.2f} h", r.returncode == 0, r.stderr)
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "sold":
                sold.append(parts[2])
        next_code += n
    return r


def registry():
    db = sqlite3.connect(f"file:{op_dir}/operator.db?mode=ro", uri=True)
    try:
        rows = dict(db.execute("SELECT ki, status FROM codes").fetchall())
        notes = db.execute("SELECT count(*) FROM notifications WHERE fn = ?",
                           (FN_NUMBER,)).fetchone()[0]
    finally:
        db.close()
    return rows, notes


def post(url, body):
    return harness.http_json(url, body, timeout=30)


# ---- the stage: operator, codes, the FN --------------------------------------
r = op("issue", "--gtin", gtin14("460000000401"), "--group", "footwear", "--count", "40",
       "--tail", "44")
issued = r.stdout.split()
check("40 codes issued", r.returncode == 0 and len(issued) == 40, r.stderr)
harness.write_lines(codes_file, issued)
server = harness.Operator(OPERATOR, op_dir, check,
                          ports=(OFD_PORT, OISM_PORT, KEYS_PORT, HTTP_PORT))
try:
    r = kassa(T0, "fn", "init", "--fn-number", FN_NUMBER)
    check("fn init", r.returncode == 0, r.stderr)
    r = kassa(T0, "fn", "register", "--reg-number", "0000000001073737", "--inn", "7707083893",
              "--name", "ИП Таёжный", "--address", "пос. Дальний, ул. Лесная 1", "--autonomous")
    check("fn register --autonomous", r.returncode == 0, r.stderr)
    r = op("fn", "add", "--fn-db", os.path.join(data, "fn.db"))
    check("operator knows the FN", r.returncode == 0 and FN_NUMBER in r.stdout, r.stderr)
    r = kassa(T0, "ofd", "keys")
    check("keys loaded", r.returncode == 0, r.stderr)

    # ---- days 1-3: sales, the warning from 48 h ------------------------------
    s = batch_status(at(0.5))
    check("nothing waits at first", s.get("unexportedNotifications") == 0 and
          s.get("level") == "ok" and s.get("deadline") == 0, s)
    sell(at(1), 3)
    sell(at(20), 2)
    sell(at(30), 2)
    s = batch_status(at(48, 59 * 60))
    check("48:59 after T0 (47:59 after the first sale): ok", s.get("level") == "ok" and
          s.get("unexportedNotifications") == 7 and s.get("firstUnexportedTime") == at(1), s)
    check("deadline is the first sale + 72 h", s.get("deadline") == at(73), s)
    check("hours left", abs(s.get("hoursLeft", 0) - (72 - 47 - 59 / 60)) < 0.01, s)
    s = batch_status(at(49))
    check("48 h after the first sale: warning", s.get("level") == "warning" and
          s.get("maySellMarked") is True and
          any("через 1 день" in w and "in 1 day" in w for w in s.get("warnings", [])), s)
    o = ofd_status(at(49))
    check("kassa ofd status warns too", o.get("batchLevel") == "warning" and
          o.get("unexportedNotifications") == 7 and o.get("maySellMarked") is True, o)
    r = kassa(at(49), "batch", "status")
    check("text status shows the warning", r.returncode == 0 and "in 1 day" in r.stdout and
          "warning" in r.stdout, r.stdout)
    sell(at(60), 1)
    s = batch_status(at(73, -1))
    check("72:59:59 after the first sale: still a warning", s.get("level") == "warning" and
          s.get("maySellMarked") is True and s.get("secondsLeft") == 1, s)
    r = till(at(73, -1), "may-sell", data)
    check("the till may sell the second before", r.stdout.startswith("may-sell yes"), r.stdout)

    # ---- 72 h: marked sales refused ------------------------------------------
    s = batch_status(at(73))
    reason = s.get("reason") or ""
    check("72 h: blocked", s.get("level") == "blocked" and s.get("maySellMarked") is False, s)
    check("the reason is clear (RU, EN, what to do)", "3 дня" in reason and "3 days" in reason
          and "kassa batch export" in reason, reason)
    o = ofd_status(at(73))
    check("kassa ofd status agrees", o.get("batchLevel") == "blocked" and
          o.get("maySellMarked") is False, o)
    before = fn_status(at(73))
    r = sell(at(73), 1, expect_ok=False)
    check("the till refuses the marked sale", r.returncode == 3 and "3 days" in r.stderr,
          (r.returncode, r.stderr))
    after = fn_status(at(73))
    check("no document was made", before.get("lastDocument", before.get("last_document")) ==
          after.get("lastDocument", after.get("last_document")) and before == after,
          (before, after))

    # ---- 74 h: export clears the deadline -------------------------------------
    batch1 = os.path.join(root, "batch-1.json")
    r = kassa(at(74), "batch", "export", "--out", batch1, "--json")
    check("export exit 0", r.returncode == 0, r.stderr)
    e = json.loads(r.stdout) if r.returncode == 0 else {}
    check("export counts", e.get("count") == 8 and e.get("codes") == 8 and e.get("from") == 1 and
          e.get("through") == 8, e)
    with open(batch1) as f:
        b1 = json.load(f)
    check("the file is a signed batch", b1.get("format") == "kassa-batch" and
          b1.get("version") == 1 and b1.get("fnNumber") == FN_NUMBER and
          b1.get("signature", {}).get("algorithm") == "hmac-streebog-256" and
          len(b1.get("signature", {}).get("value", "")) == 64, list(b1))
    file_codes = [c["km"] for n in b1.get("notifications", []) for c in n["codes"]]
    check("the file holds every code sold", [c.replace("\x1d", "\\x1d") for c in file_codes] ==
          sold, (file_codes, sold))
    check("each notification names its receipt and fiscal sign",
          all(n["receiptNumber"] > 0 and n["fiscalSign"] > 0 and n["operation"] == 1 and
              n["document"] for n in b1["notifications"]))
    check("no temp file left", sorted(os.listdir(root)).count("batch-1.json") == 1 and
          not any(".tmp-" in x for x in os.listdir(root)), os.listdir(root))
    s = batch_status(at(74))
    check("after the export: ok, no deadline, 8 still wait for tickets",
          s.get("level") == "ok" and s.get("maySellMarked") is True and s.get("deadline") == 0 and
          s.get("waitingNotifications") == 8 and s.get("exportedThrough") == 8, s)
    sell(at(75), 2)
    s = batch_status(at(75))
    check("a new clock from the next sale", s.get("unexportedNotifications") == 2 and
          s.get("firstUnexportedTime") == at(75) and s.get("deadline") == at(147), s)

    # ---- day 4 ------------------------------------------------------------------
    sell(at(80), 2)
    sell(at(95), 1)
    before_rows, _ = registry()

    # Refusals first: nothing may change.
    url = f"http://127.0.0.1:{HTTP_PORT}/api/v4/true-api/batch/upload"
    tampered = copy.deepcopy(b1)
    km0 = tampered["notifications"][0]["codes"][0]["km"]
    tampered["notifications"][0]["codes"][0]["km"] = issued[39].replace("\\x1d", "\x1d")
    bad_file = os.path.join(root, "tampered.json")
    with open(bad_file, "w") as f:
        json.dump(tampered, f)
    r = kassa(at(96), "batch", "upload", bad_file)
    check("the till refuses an edited batch", r.returncode == 1 and "inconsistent" in r.stderr,
          r.stderr)
    status, answer = post(url, json.dumps(tampered))
    check("the operator refuses an edited code: 422", status == 422 and
          answer.get("error") == "inconsistent", (status, answer))
    forged = copy.deepcopy(b1)
    forged["createdAt"] += 1  # covered by the signature only
    status, answer = post(url, json.dumps(forged))
    check("the operator refuses a bad signature: 403", status == 403 and
          answer.get("error") == "bad_signature", (status, answer))
    status, answer = post(url, "{\"format\":\"kassa-batch\"")
    check("the operator refuses garbage: 400", status == 400 and
          answer.get("error") == "malformed", (status, answer))
    # A second operator that never heard of this FN.
    op2 = harness.Operator(OPERATOR, os.path.join(root, "operator2"), check, name="operator 2")
    try:
        r = kassa(at(96), "batch", "upload", batch1, "--url",
                  f"{op2.http}/api/v4/true-api/batch/upload")
        check("unknown FN: refused with the operator's reason", r.returncode == 1 and
              "404" in r.stderr and "unknown_fn" in r.stderr, r.stderr)
    finally:
        op2.stop()
    dead = free_ports(1)[0]
    r = kassa(at(96), "batch", "upload", batch1, "--url",
              f"http://127.0.0.1:{dead}/api/v4/true-api/batch/upload")
    check("dead operator: network error", r.returncode == 1 and "network" in r.stderr, r.stderr)

    # An operator that answers with a ticket for a notification not in the batch.
    class Liar(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            # 84 for notification 99: 2002 = 99, 2111 = 0 (STLV 84)
            body84 = bytes([0x54, 0x00, 0x0D, 0x00, 0xD2, 0x07, 0x04, 0x00, 99, 0, 0, 0,
                            0x3F, 0x08, 0x01, 0x00, 0x00])
            out = json.dumps({"code": 0, "fnNumber": FN_NUMBER, "tickets": [
                {"number": 99, "result": 0, "document": base64.b64encode(body84).decode()}]})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(out.encode())

        def log_message(self, *a):
            pass

    liar = http.server.HTTPServer(("127.0.0.1", 0), Liar)
    threading.Thread(target=liar.serve_forever, daemon=True).start()
    r = kassa(at(96), "batch", "upload", batch1, "--url",
              f"http://127.0.0.1:{liar.server_address[1]}/")
    liar.shutdown()
    check("a ticket for another notification: refused", r.returncode == 1 and
          "answer" in r.stderr, r.stderr)
    s = batch_status(at(96))
    check("after every refusal the FN still owes all 13", s.get("waitingNotifications") == 13, s)
    rows, _ = registry()
    check("after every refusal the registry is unchanged", rows == before_rows)

    # ---- 96 h: upload ----------------------------------------------------------
    r = kassa(at(96), "batch", "upload", batch1, "--json")
    check("upload exit 0", r.returncode == 0, r.stderr)
    u = json.loads(r.stdout) if r.returncode == 0 else {}
    check("8 applied, 8 tickets", u.get("applied") == 8 and u.get("repeated") == 0 and
          u.get("tickets") == 8 and u.get("rejected") == 0, u)
    s = batch_status(at(96))
    check("the tickets cleared the first batch", s.get("waitingNotifications") == 5 and
          s.get("unexportedNotifications") == 5, s)
    rows_once, notes_once = registry()
    r = kassa(at(96), "batch", "upload", batch1, "--json")
    u = json.loads(r.stdout) if r.returncode == 0 else {}
    check("the same batch again: applied 0, repeated 8", r.returncode == 0 and
          u.get("applied") == 0 and u.get("repeated") == 8, (r.stderr, u))
    rows_twice, notes_twice = registry()
    check("nothing counted twice", rows_twice == rows_once and notes_twice == notes_once == 8,
          (notes_once, notes_twice))

    batch2 = os.path.join(root, "batch-2.json")
    r = kassa(at(96, 60), "batch", "export", "--out", batch2, "--json")
    e = json.loads(r.stdout) if r.returncode == 0 else {}
    check("second export: the 5 left", r.returncode == 0 and e.get("count") == 5 and
          e.get("from") == 9 and e.get("through") == 13, (r.stderr, e))
    r = kassa(at(96, 120), "batch", "upload", batch2, "--json")
    u = json.loads(r.stdout) if r.returncode == 0 else {}
    check("second upload", r.returncode == 0 and u.get("applied") == 5, (r.stderr, u))
    s = batch_status(at(96, 180))
    check("nothing waits any more", s.get("waitingNotifications") == 0 and
          s.get("level") == "ok", s)
    r = kassa(at(96, 180), "batch", "export", "--out", os.path.join(root, "batch-3.json"))
    check("nothing to export: exit 0, no file", r.returncode == 0 and "nothing" in r.stdout and
          not os.path.exists(os.path.join(root, "batch-3.json")), (r.stdout, r.stderr))

    # ---- the registry matches the FN archive ------------------------------------
    st = fn_status(at(97))
    last = st.get("lastDocument", st.get("last_document", 0))
    archive = []
    for n in range(1, last + 1):
        r = kassa(at(97), "fd", "show", str(n), "--json")
        doc = json.loads(r.stdout) if r.returncode == 0 else {}
        receipt = doc.get("receipt")
        if receipt and receipt.get("operationType") == 1:
            archive += [i["markingCode"] for i in receipt.get("items", []) if "markingCode" in i]
    check("the archive was read", len(archive) == 13 and last > 13, (len(archive), last))
    rows, notes = registry()
    sold_at_operator = {k for k, v in rows.items() if v == "sold"}
    archive_ki = {a.split("\x1d")[0] for a in archive}
    check("every code of every sale receipt is sold at the operator, no other is",
          sold_at_operator == archive_ki, (sorted(sold_at_operator ^ archive_ki)))
    check("the other codes are still in circulation",
          all(v == "in_circulation" for k, v in rows.items() if k not in archive_ki) and
          len(rows) == 40, rows)
    check("one applied notification per FN notification", notes == 13, notes)
    check("the codes sold are the ones the till sold", archive_ki == {ki(c) for c in sold})
finally:
    server.stop("the end")

sys.exit(harness.finish(check, root))

#!/usr/bin/env python3
"""test_serve_background.py KASSA OPERATOR: `kassa serve` delivers, syncs and
updates keys by itself (pos/serve/background.h), nobody running `kassa ofd
flush`, `kassa cache sync` or `kassa ofd keys`.

Real processes on free loopback ports: kassa-operator issues a genuine
code; an FN is created and registered with the `kassa` CLI, the catalogue
imported; then only `kassa serve` (background = yes) and its HTTP API:

- at start, with no key ever loaded and the cache never synced, the
  background thread loads the FN's keys and syncs the cache
  (/api/status: background.keys and background.sync, key_age_days 0,
  cache synced);
- a sale with a marked and a plain line through the API: with
  send_interval_s = 3600 only the wake after the request can send it, and
  the operator holds every document of the FN and the sale notification
  (read from its database after both stopped), the FN owing nothing;
- the operator stopped: a sale still closes (the till never waits for the
  link), the sender records failures and waits out its backoff; the
  operator started again on the same ports: what was owed arrives with no
  request made in between (the retry);
- 61 days later on the FN's clock the keys are past keys_refresh_days and
  a new service updates them without being asked;
- systemd's readiness protocol (Type=notify): with NOTIFY_SOCKET set, the
  service sends READY=1 once it listens and STOPPING=1 on SIGTERM;
- a feed that refuses in Russian (a real operator's words): the sync's
  failure is on /api/status with those words, cut whole letters only (its
  detail was cut at a byte, inside a letter, and the status dropped the
  whole "sync" record).
Prints "N passed, N failed"; exit 1 on any failure.
"""
import functools
import http.server
import json
import os
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Checks, Operator, Serve, finish, free_ports, op,  # noqa: E402
                     register_fn, run, snapshot, till_conf)
from shop import exchange  # noqa: E402

KASSA, OPERATOR = sys.argv[1], sys.argv[2]
FN_NUMBER = "9999078900007019"
TOKEN = "bg-test-" + os.urandom(8).hex()
OWNER = "7707083893"
JEANS = "4601234501026"  # lp, marked, not strict (config/catalogue.csv)
BREAD = "4604440000017"  # plain
check = Checks()
root = tempfile.mkdtemp(prefix="kassa-bg-")
till_dir, op_dir, conf = (os.path.join(root, x) for x in ("till", "operator", "kassa.conf"))
procs = []


def kassa(*args):
    return run([KASSA, "--config", conf, *args], timeout=60)


def api(port, method, path, body=None):
    """GET, or POST with a JSON body: (status, answer), recorded for the
    contract check (tests/integration/shop.py)."""
    st, j, _ = exchange(port, "api", method, path, body,
                        {"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    return st, j


def status(port):
    st, j = api(port, "GET", "/api/status")
    return j if st == 200 else {}


def wait_for(port, what, seconds=30):
    """Polls /api/status until what(status) holds; the last status either way."""
    end = time.time() + seconds
    j = {}
    while time.time() < end:
        j = status(port)
        try:
            if what(j):
                return True, j
        except (KeyError, TypeError):
            pass
        time.sleep(0.2)
    return False, j


def sale(port, codes):
    st, j = api(port, "POST", "/api/receipts", {"operation": "sale", "cashier": "Иванова"})
    ok = st == 201
    for c in codes:
        st, j = api(port, "POST", "/api/receipts/current/items", {"code": c})
        ok = ok and st == 201
    st, j = api(port, "POST", "/api/receipts/current/pay", {"method": "cash"})
    return ok and st == 200, j


serve = operator = None
try:
    os.makedirs(till_dir)
    os.makedirs(op_dir)
    ports = free_ports(4)
    with open(conf, "w") as f:
        f.write(till_conf(till_dir, ports) + f"""[service]
background = yes
send_interval_s = 3600
sync_interval_min = 60
keys_refresh_days = 60
[till]
check = both
manager_pin = 8642
api_token = {TOKEN}
[trueapi]
api_key = demo-key
""")
    r = op(OPERATOR, op_dir, "issue", "--gtin", "0" + JEANS,
           "--group", "lp", "--count", "2", "--owner", OWNER)
    codes = [c.replace("\\x1d", "\x1d") for c in r.stdout.split()]
    check("operator issues codes", r.returncode == 0 and len(codes) == 2, r.stderr)
    register_fn(kassa, functools.partial(op, OPERATOR, op_dir), check, FN_NUMBER, OWNER,
                os.path.join(till_dir, "fn.db"))
    r = kassa("cache", "import-catalogue", "config/catalogue.csv")
    check("catalogue imported", r.returncode == 0, r.stdout + r.stderr)
    operator = Operator(OPERATOR, op_dir, check, ports=ports)
    procs.append(operator.proc)

    notify_path = os.path.join(root, "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(30)
    serve = Serve(KASSA, conf, procs, env=dict(os.environ, NOTIFY_SOCKET=notify_path))
    check("serve ready", serve.api is not None, serve.line)
    port = serve.api
    try:
        ready = notify.recv(4096).decode()
    except OSError as e:
        ready = str(e)
    check("sd_notify READY=1", "READY=1" in ready.split("\n"), ready)

    ok, j = wait_for(port, lambda s: s["background"]["keys"]["keys"] > 0
                     and s["background"]["sync"]["last_success"] > 0)
    check("keys loaded and cache synced in the background", ok and j["key_age_days"] == 0
          and j["cache"]["synced"] >= 2 and j["background"]["enabled"] is True
          and j["background"]["sync"]["codes"] >= 2, j.get("background", j))

    st, j = api(port, "POST", "/api/shift/open", {"cashier": "Иванова"})
    check("shift open", st == 200, (st, j))
    ok, j = sale(port, [codes[0], BREAD])
    check("sale through the API", ok, j)
    ok, j = wait_for(port, lambda s: s["outbox"]["unsent_documents"] == 0
                     and s["outbox"]["unsent_notifications"] == 0)
    check("the sender delivered without a flush", ok and j["background"]["sender"]["documents"] >= 3
          and j["background"]["sender"]["notifications"] >= 1
          and j["background"]["sender"]["last_error"] is None, j.get("background", j))

    # The link goes down: the till still sells, the sender waits and retries.
    operator.stop()
    ok, j = sale(port, [BREAD])
    check("a sale closes with the operator down", ok, j)
    ok, j = wait_for(port, lambda s: s["background"]["sender"]["failures"] >= 1)
    check("the sender records the failure and waits", ok and j["outbox"]["unsent_documents"] >= 1
          and j["background"]["sender"]["last_error"] is not None
          and j["background"]["sender"]["state"] in ("waiting", "running"),
          j.get("background", j))
    operator = Operator(OPERATOR, op_dir, check, ports=ports, name="operator again")
    procs.append(operator.proc)
    ok, j = wait_for(port, lambda s: s["outbox"]["unsent_documents"] == 0
                     and s["background"]["sender"]["failures"] == 0, seconds=60)
    check("the retry delivers once the operator is back", ok, j.get("background", j))

    rc, err = serve.stop(seconds=30)
    try:
        stopping = notify.recv(4096).decode()  # sent before the exit, kept in the socket
    except OSError as e:
        stopping = str(e)
    check("sd_notify STOPPING=1", stopping.strip() == "STOPPING=1", stopping)
    check("serve exits 0 on SIGTERM", rc == 0, (rc, err[-2000:]))

    # 61 days later on the FN's clock (KASSA_FAKE_NOW): the keys are past
    # keys_refresh_days (60), so a new service updates them by itself.
    later = str(j["fn"]["now"] + 61 * 86400) if j.get("fn") else "0"
    serve = Serve(KASSA, conf, procs, env=dict(os.environ, KASSA_FAKE_NOW=later))
    check("serve ready 61 days later", serve.api is not None, serve.line)
    port = serve.api or 0
    ok, j = wait_for(port, lambda s: s["background"]["keys"]["keys"] > 0)
    check("keys older than keys_refresh_days are updated", ok
          and j["background"]["keys"]["last_error"] is None, j.get("background", j))
    rc, err = serve.stop(seconds=30)
    check("serve exits 0 on SIGTERM (61 days later)", rc == 0, (rc, err[-2000:]))
    operator.stop("end")
    s = snapshot(os.path.join(till_dir, "fn.db"), os.path.join(op_dir, "operator.db"), FN_NUMBER)
    check("the operator holds every document of the FN", s["unsent"] == 0
          and set(s["archive"]) == set(s["stored"])
          and all(s["archive"][n] == s["stored"][n] for n in s["archive"]),
          (sorted(s["archive"]), sorted(s["stored"])))
    check("the operator applied the sale notification", s["notes"] and s["notes"] == s["applied"]
          and s["notes"] == s["ticketed"], (s["notes"], s["applied"]))

    # A feed that refuses in Russian. The sync's detail keeps the first 200
    # bytes of "URL: HTTP 403: words"; the words are padded so that a byte
    # limit at the old cut (the detail's 64 + 2 + 120th byte of the error)
    # would fall inside a letter.
    class Refusing(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            head = f"http://127.0.0.1:{self.server.server_port}{self.path}: HTTP 403: "
            pad = "x" * ((120 - len(head.encode())) % 2 + 1)
            words = pad + "Ж" * 30 + " Доступ запрещён" * 10  # the old cut inside a Ж
            body = json.dumps({"description": words},
                              ensure_ascii=False).encode()
            self.send_response(403)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    feed = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=feed.serve_forever, daemon=True).start()
    refusing_conf = os.path.join(root, "refusing.conf")
    with open(conf) as f, open(refusing_conf, "w") as g:
        g.write(f.read().replace(f"http_port = {ports[3]}\n",
                                 f"http_port = {feed.server_address[1]}\n"))
    serve = Serve(KASSA, refusing_conf, procs)
    port = serve.api or 0
    ok, j = wait_for(port, lambda s: s["background"]["sync"]["failures"] >= 1)
    sync = j.get("background", {}).get("sync", {})
    check("a feed refusing in Russian: the sync's failure on /api/status with its words", ok
          and sync.get("last_error") and "HTTP 403: x" in (sync.get("detail") or "")
          and "Ж" * 30 + " Доступ" in sync["detail"], j.get("background", j))
    rc, err = serve.stop(seconds=30)
    feed.shutdown()
    check("serve exits 0 on SIGTERM (the refusing feed)", rc == 0, (rc, err[-2000:]))
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()

sys.exit(finish(check, root))

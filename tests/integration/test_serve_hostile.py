#!/usr/bin/env python3
"""test_serve_hostile.py KASSA OPERATOR [attack]: `kassa serve` under a hostile tester's attacks (issue 18).

A real till (an FN, a shift, a catalogue; [till] check = offline, so the
figures are the service's, not an operator's) and `kassa serve` on free
ports. Each attack of issue 18's "Why" that concerns the HTTP service is
made for real and must fail:

- slow clients: 64 connections that send one header line every 3 s (an
  idle timeout restarts on every byte) are cut at the whole-request
  deadline (SERVICE_REQUEST_DEADLINE_MS, 10 s) and never keep a cashier
  waiting;
- memory before the token: anonymous POSTs announcing 16 MiB bodies get
  their 401 before a byte of the body is read, and the service's memory is
  back within 10 % of its baseline afterwards;
- while both attacks run (the attackers in a separate process, so this
  one's measure is not slowed by its own threads), a cashier's scans
  (POST /api/check over a kept-alive connection) all succeed and their
  p99 stays under 50 ms above the p99 measured without an attack in the
  same run (the machine is shared: the bound is what the attack adds);
- bodies together: five authenticated 16 MiB bodies at once pass the
  48 MiB budget, the excess is 503, and the memory goes back;
- connection caps: 700 connections at once; the excess is closed at
  accept, fast, and the cashier is still served;
- lock-out as a weapon: five wrong tokens from 127.0.0.2 lock only that
  source (its wrong tries 429), the right token keeps working from
  127.0.0.2 and 127.0.0.1; five wrong local-module passwords from
  127.0.0.3 do not touch the API port's count for that source;
- log injection: %0a and %1b in a path reach the log escaped, and a flood
  of refusals is cut down to SERVICE_LOG_PER_S lines a second;
- kassa-operator's HTTP side: slow clients are cut at its deadline (30 s);
- money: a price other than the catalogue's needs the manager's PIN, a
  quantity past [till] quantity_max is refused.
Prints "N passed, N failed"; exit 1 on any failure.
"""
import faulthandler
import http.client
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import resource

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Operator, Serve, finish, stop_all  # noqa: E402

KASSA, OPERATOR = sys.argv[1], sys.argv[2]
TOKEN = "0123456789abcdef" + os.urandom(8).hex()
BREAD = "4600000005058"
SLOW_CLIENTS = 64
BIG_BODIES = 40


def attack(port, seconds):
    """The attacker process: SLOW_CLIENTS slow-loris connections (re-opened
    when cut; each cut's holding time printed as a JSON line at the end)
    and BIG_BODIES anonymous 16 MiB POSTs in a burst, repeated."""
    stop = time.monotonic() + seconds
    held = []
    lock = threading.Lock()

    def slow():
        while time.monotonic() < stop:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=30)
            except OSError:
                time.sleep(0.2)
                continue
            t0 = time.monotonic()
            try:
                s.sendall(b"GET /api/status HTTP/1.1\r\n")
                while time.monotonic() < stop:
                    ready, _, _ = select.select([s], [], [], 3)
                    if ready and not s.recv(4096):  # closed by the service
                        with lock:
                            held.append(time.monotonic() - t0)
                        break
                    s.sendall(b"X-Slow: 1\r\n")
            except OSError:
                with lock:
                    held.append(time.monotonic() - t0)
            finally:
                s.close()

    def big():
        while time.monotonic() < stop:
            s = None
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(b"POST /api/accept HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                          b"application/json\r\nContent-Length: 16777216\r\n\r\n")
                chunk = b"x" * 65536
                for _ in range(256):
                    s.sendall(chunk)
            except OSError:
                pass
            finally:
                if s:
                    s.close()
            time.sleep(0.5)

    threads = [threading.Thread(target=slow) for _ in range(SLOW_CLIENTS)]
    threads += [threading.Thread(target=big) for _ in range(BIG_BODIES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"held": held}))


if len(sys.argv) > 3 and sys.argv[3] == "attack":
    faulthandler.dump_traceback_later(float(sys.argv[5]) + 40, exit=True)
    attack(int(sys.argv[4]), float(sys.argv[5]))
    sys.exit(0)

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 700 sockets of the cap check
faulthandler.dump_traceback_later(200, exit=True)  # a hang says where
check = Checks()
root = tempfile.mkdtemp(prefix="kassa-hostile-")
conf = os.path.join(root, "kassa.conf")
procs = []


def kassa(*args):
    return subprocess.run([KASSA, "--config", conf] + list(args), capture_output=True, text=True,
                          timeout=60)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Cashier:
    """A front end's kept-alive connection, re-opened when it fails."""

    def __init__(self, port, source="127.0.0.1"):
        self.port, self.source, self.conn, self.errors = port, source, None, 0

    def request(self, method, path, body=None, token=TOKEN):
        h = {"Host": "127.0.0.1"}
        if token:
            h["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10,
                                                           source_address=(self.source, 0))
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                text = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, (json.loads(text) if text.startswith(b"{") else {})
            except (OSError, http.client.HTTPException):
                self.errors += 1
                self.conn = None
        return 0, {}

    def scans(self, n):
        """n scans; (latencies in ms, statuses that were not 200)."""
        lat, bad = [], []
        for _ in range(n):
            t0 = time.perf_counter()
            st, j = self.request("POST", "/api/check", {"code": BREAD})
            lat.append((time.perf_counter() - t0) * 1000)
            if st != 200 or j.get("allow") is not True:
                bad.append(st)
            time.sleep(0.01)
        return lat, bad


def slow_loris(port, n, out):
    """n connections that send a header line every 3 s; how long each was
    held until the server closed it, into out."""
    def one():
        s, t0 = socket.create_connection(("127.0.0.1", port), timeout=60), time.monotonic()
        try:
            s.sendall(b"GET /api/v4/true-api/cdn/info HTTP/1.1\r\n")
            while time.monotonic() - t0 < 60:
                ready, _, _ = select.select([s], [], [], 3)
                if ready and not s.recv(4096):
                    break
                s.sendall(b"X-Slow: 1\r\n")
        except OSError:
            pass
        out.append(time.monotonic() - t0)
        s.close()
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def sanitized(binary):
    """Whether binary was built with AddressSanitizer: its quarantine keeps
    freed memory (256 MB), so resident memory says nothing there."""
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


MEMORY_MEANINGFUL = not sanitized(KASSA)


def memory_check(name, cond, detail):
    """A bound on resident memory: checked in a plain build; in a sanitized
    one (the same test runs in the plain build too) said and not counted."""
    if MEMORY_MEANINGFUL:
        check(name, cond, detail)
    else:
        print(f"not measured under AddressSanitizer (the plain build checks it): {name}")


def p99(lat):
    s = sorted(lat)
    return s[min(len(s) - 1, int(len(s) * 0.99))]


try:
    with open(conf, "w") as f:
        f.write(f"[paths]\ndata = {root}/data\n[till]\ncheck = offline\napi_token = {TOKEN}\n"
                "manager_pin = 2468\n[service]\nbackground = no\n")
    ok = kassa("fn", "init", "--fn-number", "9999078900001818").returncode == 0
    ok = ok and kassa("fn", "register", "--reg-number", "0000000001044444", "--inn", "7707083893",
                      "--name", "Магазин", "--address", "Москва", "--ofd-inn", "7704211201",
                      "--ofd-name", "ОФД").returncode == 0
    ok = ok and kassa("shift", "open").returncode == 0
    cat = os.path.join(root, "catalogue.csv")
    with open(cat, "w") as f:
        f.write("gtin;name;price;vat;group;group_id;marking;strict;weighed;excise\n"
                f"{BREAD};Хлеб;55.00;1;;0;0;0;0;0\n")
    ok = ok and kassa("cache", "import-catalogue", cat).returncode == 0
    check("set-up: FN, shift, catalogue", ok)
    opdata = os.path.join(root, "operator")
    os.makedirs(opdata)
    o = Operator(OPERATOR, opdata, check)
    procs.append(o.proc)
    op_held = []
    op_slow = threading.Thread(target=slow_loris, args=(o.ports[3], 8, op_held))
    op_slow.start()
    S = Serve(KASSA, conf, procs)
    check("serve started", S.api is not None, S.line)
    pid = S.p.pid
    log = []  # the service's stderr, read as it comes (a full pipe would stall it)
    drain = threading.Thread(target=lambda: log.extend(iter(S.p.stderr.readline, "")))
    drain.start()

    # ---- baseline -------------------------------------------------------------------------
    cashier = Cashier(S.api)
    cashier.scans(50)  # warm-up: pages of SQLite, the allocator
    base_lat, bad = cashier.scans(200)
    base_rss = rss_kb(pid)
    check("baseline scans all allowed", not bad, bad)
    print(f"baseline: p99 {p99(base_lat):.1f} ms, RSS {base_rss} kB")

    # ---- the attack, in another process, while the cashier scans -------------------------
    seconds = 25
    attacker = subprocess.Popen([sys.executable, __file__, KASSA, OPERATOR, "attack", str(S.api),
                                 str(seconds)], stdout=subprocess.PIPE, text=True)
    procs.append(attacker)
    time.sleep(2)  # the slow clients are in, the first burst is on its way
    peak_rss = rss_kb(pid)
    lat, bad = [], []
    t_end = time.monotonic() + seconds - 4
    while time.monotonic() < t_end:
        l, b = cashier.scans(20)
        lat += l
        bad += b
        peak_rss = max(peak_rss, rss_kb(pid))
        if os.environ.get("HOSTILE_DEBUG"):
            print(len(lat), max(l), b, cashier.errors, peak_rss, flush=True)
    out, _ = attacker.communicate(timeout=seconds + 60)
    held = json.loads(out.strip().splitlines()[-1])["held"] if out.strip() else []
    print(f"under attack: {len(lat)} scans, p99 {p99(lat):.1f} ms, max {max(lat):.1f} ms, "
          f"peak RSS {peak_rss} kB, {len(held)} slow connections cut, longest held "
          f"{max(held) if held else 0:.1f} s, cashier reconnects {cashier.errors}")
    check("every scan under attack answered and allowed", not bad and len(lat) >= 100,
          (bad[:10], len(lat)))
    check("honest p99 under attack within 50 ms of the baseline's",
          p99(lat) < p99(base_lat) + 50, (p99(lat), p99(base_lat)))
    check("slow clients cut at the whole-request deadline (10 s), not kept by their bytes",
          len(held) >= SLOW_CLIENTS and max(held) < 13, (len(held), max(held) if held else None))
    memory_check("anonymous bodies never buffered: RSS stayed under baseline + 20 MB",
          peak_rss < base_rss + 20 * 1024, (peak_rss, base_rss))
    time.sleep(1)
    after = rss_kb(pid)
    memory_check("memory back within 10 % of its baseline", after <= base_rss * 1.10,
                 (after, base_rss))

    print("attack over", flush=True)
    # ---- a 16 MiB anonymous body: 401 before its body is sent -----------------------------
    s = socket.create_connection(("127.0.0.1", S.api), timeout=5)
    s.sendall(b"POST /api/accept HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              b"Content-Length: 16777216\r\nAuthorization: Bearer wrong\r\n\r\n")
    head = s.recv(200)
    s.close()
    check("wrong token: 401 from the head, before the body", head.startswith(b"HTTP/1.1 401"), head)

    # ---- authenticated large bodies: the service's budget for bodies ---------------------
    # Five cashiers' 16 MiB acceptance documents at once (80 MiB) exceed the
    # 48 MiB the service buffers together: the excess is 503 busy, the rest
    # is read and answered, and the memory is given back.
    results = []

    def big_accept():
        so = socket.create_connection(("127.0.0.1", S.api), timeout=60)
        try:
            so.sendall(b"POST /api/accept HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                       b"application/json\r\nX-Manager-PIN: 2468\r\nAuthorization: Bearer "
                       + TOKEN.encode() + b"\r\nContent-Length: 16000000\r\n\r\n")
            for _ in range(250):
                so.sendall(b"x" * 64000)
            results.append(so.recv(64).split(b" ")[1])
        except OSError:
            try:  # refused from its head: the answer may wait in the socket
                results.append(so.recv(64).split(b" ")[1] or b"closed")
            except (OSError, IndexError):
                results.append(b"closed")
        finally:
            so.close()
    before = rss_kb(pid)
    threads = [threading.Thread(target=big_accept) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    time.sleep(1)
    print(f"five 16 MB bodies: {sorted(results)}, RSS {before} -> {rss_kb(pid)} kB")
    check("bodies within the service's 48 MiB read whole (400: not JSON), the rest refused "
          "from their head (503, or closed before their body was read)",
          len(results) == 5 and results.count(b"400") == 3
          and all(r in (b"400", b"503", b"closed") for r in results), results)
    memory_check("memory back within 10 % after the large bodies", rss_kb(pid) <= base_rss * 1.10,
                 (rss_kb(pid), base_rss))

    # ---- connection caps: the excess refused at accept, the cashier served ----------------
    print("caps", flush=True)
    socks, t0 = [], time.monotonic()
    for i in range(700):
        try:
            socks.append(socket.create_connection(("127.0.0.1", S.api), timeout=5))
        except OSError:
            break
    closed = 0
    for so in socks:
        so.setblocking(False)
    time.sleep(0.5)
    for so in socks:
        try:
            closed += so.recv(1) == b""
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    st, _ = Cashier(S.api, "127.0.0.4").request("GET", "/api/status")
    for so in socks:
        so.close()
    print(f"700 connections: {closed} closed at once")
    check("past the cap (512, 384 from one address) connections are closed at once",
          closed >= 700 - 384, closed)
    check("a cashier on another address is served while one address holds its share", st == 200,
          st)
    time.sleep(0.5)

    # ---- lock-out: per source, per port, the right token always works ---------------------
    print("lock-out", flush=True)
    evil = Cashier(S.api, "127.0.0.2")
    codes = [evil.request("GET", "/api/status", token="guess%d" % i)[0] for i in range(5)]
    check("five wrong tokens: 401 each", codes == [401] * 5, codes)
    st, j = evil.request("GET", "/api/status", token="guess-more")
    check("the guessing source is locked: 429", st == 429 and j.get("error") ==
          "too_many_attempts", (st, j))
    check("the right token works from the locked source", evil.request("GET", "/api/status")[0]
          == 200)
    check("the right token works from the cashier's address", cashier.request(
        "GET", "/api/status")[0] == 200)
    st, _ = Cashier(S.api, "127.0.0.5").request("GET", "/api/status", token="typo")
    check("another source's wrong token is its own first try: 401", st == 401, st)
    for i in range(6):
        c = http.client.HTTPConnection("127.0.0.1", S.lm, timeout=10,
                                       source_address=("127.0.0.3", 0))
        c.request("GET", "/api/v1/status", headers={"Authorization": "Basic " + __import__(
            "base64").b64encode(b"x:wrong").decode()})
        lm_status = c.getresponse().status
        c.close()
    check("the LM port locks its own guesser", lm_status == 429, lm_status)
    st, _ = Cashier(S.api, "127.0.0.3").request("GET", "/api/status", token="wrong")
    check("a locked LM password leaves the API port's count alone: 401, not 429", st == 401, st)

    op_slow.join(timeout=90)
    check("kassa-operator cuts slow clients at its 30 s deadline",
          len(op_held) == 8 and max(op_held) < 34, op_held)

    # ---- money: any price, any quantity (issue 18) ---------------------------------------
    st, _ = cashier.request("POST", "/api/receipts", {})
    st, j = cashier.request("POST", "/api/receipts/current/items", {"code": BREAD, "price": 1})
    check("a price of 1 kopeck on the cashier's token alone: 403 price_needs_manager",
          st == 403 and j.get("error") == "price_needs_manager", (st, j))
    cashier.conn.request("POST", "/api/receipts/current/items", body=json.dumps(
        {"code": BREAD, "price": 5000}), headers={"Host": "127.0.0.1", "Authorization": "Bearer "
                                                  + TOKEN, "Content-Type": "application/json",
                                                  "X-Manager-PIN": "2468"})
    r = cashier.conn.getresponse()
    r.read()
    check("the same with the manager's PIN: accepted", r.status == 201, r.status)
    st, j = cashier.request("POST", "/api/receipts/current/items", {"code": BREAD,
                                                                     "quantity": "5000"})
    check("5000 loaves in one line: 422 quantity_ceiling", st == 422 and j.get("error") ==
          "quantity_ceiling", (st, j))
    st, j = cashier.request("POST", "/api/receipts/current/items", {"code": BREAD})
    line = j.get("line_id")
    st, j = cashier.request("POST", f"/api/receipts/current/items/{line}/quantity",
                            {"quantity": "5000"})
    check("nor by changing a scanned line's quantity afterwards", st >= 400 and
          j.get("field", j.get("error")) in ("quantity", "quantity_ceiling"), (st, j))
    cashier.request("DELETE", "/api/receipts/current")

    # ---- log injection ----------------------------------------------------------------------
    Cashier(S.api).request("GET", "/api/x%0aFORGED%20line%1b[31m")
    rc, _ = S.stop()
    drain.join(timeout=10)
    err = "".join(log)
    check("serve exits 0", rc == 0, (rc, err[-2000:]))
    check("no sanitizer report in the service's log",
          "Sanitizer" not in err and "runtime error" not in err, err[-3000:])
    check("the refusal flood was cut down in the log", "refusals not logged" in err, err[-500:])
    check("a %0a or %1b in a path reaches the log escaped",
          "\\x0aFORGED line\\x1b[31m" in err and "\nFORGED" not in err and "\x1b" not in err,
          err[-1500:])
finally:
    stop_all(procs)
sys.exit(finish(check, root))

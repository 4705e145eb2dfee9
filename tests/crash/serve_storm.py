#!/usr/bin/env python3
"""serve_storm.py KASSA OPERATOR [KILLS [SEED]]: sales through the HTTP API, SIGKILLed.

The crash harness of issue 8 through the service: `kassa serve` takes a
storm of receipts (open, one or two marked codes drawn from a small pool so
some are refused as already sold, sometimes a plain line, pay; now and then
a cancel) from a client, and is SIGKILLed at a random moment (30-400 ms
into each life), KILLS times, restarted each time. The client records
every receipt the API answered as paid (its FD) and every code in it.

Then, with everything stopped: `kassa fsck` is clean (numbering, signs,
no code sold twice, cache against the archive — the till's start repaired
whatever a kill interrupted); every receipt the API reported as paid is
in the archive; every code the client saw sold is sold in the archive.

Set-up uses kassa-operator only to issue genuine codes and load the FN's
key; the storm itself checks offline ([till] check = offline), so the
figure is the till's, not the network's. Prints "N passed, N failed".
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
from harness import Checks, Operator, free_ports, gtin14, unescape  # noqa: E402

KASSA, OPERATOR = sys.argv[1], sys.argv[2]
KILLS = int(sys.argv[3]) if len(sys.argv) > 3 else 40
SEED = int(sys.argv[4]) if len(sys.argv) > 4 else int(time.time())
TOKEN = "storm-token"
check = Checks()
rng = random.Random(SEED)
root = tempfile.mkdtemp(prefix="kassa-serve-storm-")
data, opdata = os.path.join(root, "data"), os.path.join(root, "operator")
GTIN = gtin14("460000000501")
print(f"seed={SEED} kills={KILLS}")


def post(port, path, body, timeout=5):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json",
                                          "Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def delete(port, path):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="DELETE",
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


paid = {}        # FD -> codes the API said were in it
procs = []       # the register (KASSA_TEST_KKT), stopped at the end
stop = threading.Event()


def storm(port, codes):
    """Receipts until the connection dies."""
    try:
        while not stop.is_set():
            delete(port, "/api/receipts/current")  # whatever a kill left open
            st, _ = post(port, "/api/receipts", {"operation": "sale"})
            if st != 201:
                continue
            lines = []
            for _ in range(rng.randint(1, 2)):
                code = rng.choice(codes)
                st, ans = post(port, "/api/receipts/current/items", {"code": code})
                if st == 201:
                    lines.append(code.split("\x1d")[0])
            if rng.random() < 0.3:
                post(port, "/api/receipts/current/items", {"code": "4600000005058"})
            if rng.random() < 0.1:
                delete(port, "/api/receipts/current")
                continue
            st, ans = post(port, "/api/receipts/current/pay", {"method": "cash"})
            closed = ans.get("receipt", {}) if isinstance(ans, dict) else {}
            if st == 200 and "document" in closed:
                paid[closed["document"]] = lines
    except (OSError, ValueError):
        pass  # the service was killed: this life is over


try:
    os.makedirs(opdata)
    check("operator keys", subprocess.run([OPERATOR, "--data", opdata, "keys", "new", "--kind",
                                           "hmac"], capture_output=True).returncode == 0)
    o = Operator(OPERATOR, opdata, check)
    api_port, lm_port = free_ports(2)
    conf = os.path.join(root, "kassa.conf")
    with open(conf, "w") as f:
        f.write(f"[operator]\nhost = 127.0.0.1\nofd_port = {o.ports[0]}\noism_port = {o.ports[1]}\n"
                f"keys_port = {o.ports[2]}\nhttp_port = {o.ports[3]}\n"
                f"[till]\ncheck = offline\napi_token = {TOKEN}\nmanager_pin = 2468\n"
                f"[service]\nhttp_port = {api_port}\nlm_port = {lm_port}\nbackground = no\n")

    def kassa(*args):
        return subprocess.run([KASSA, "--config", conf, "--data", data] + list(args),
                              capture_output=True, text=True, timeout=120)

    ok = kassa("fn", "init").returncode == 0
    ok = ok and kassa("fn", "register", "--reg-number", "0000000001044444", "--inn", "7707083893",
                      "--name", "Магазин", "--address", "Москва", "--ofd-inn", "7704211201",
                      "--ofd-name", "ОФД").returncode == 0
    ok = ok and subprocess.run([OPERATOR, "--data", opdata, "fn", "add", "--fn-db",
                                os.path.join(data, "fn.db")], capture_output=True).returncode == 0
    # KASSA_TEST_KKT: the FN goes into a register (harness.Register), which
    # loads its keys itself; `kassa serve` is then killed mid-exchange with it.
    reg = harness.into_register(conf, os.path.join(data, "fn.db"), procs, o.ports)
    if reg:
        ok = ok and bool(reg.keys())
    else:
        ok = ok and kassa("ofd", "keys", "--keys", f"127.0.0.1:{o.ports[2]}").returncode == 0
    ok = ok and kassa("shift", "open").returncode == 0
    cat = os.path.join(root, "catalogue.csv")
    with open(cat, "w") as f:
        f.write("gtin;name;price;vat;group;group_id;marking;strict;weighed;excise\n"
                f"{GTIN};Кеды;2500.00;1;footwear;1;1;0;0;0\n"
                "4600000005058;Хлеб;55.00;1;;0;0;0;0;0\n")
    ok = ok and kassa("cache", "import-catalogue", cat).returncode == 0
    r = subprocess.run([OPERATOR, "--data", opdata, "issue", "--gtin", GTIN, "--group", "footwear",
                        "--count", "150", "--owner", "7707083893"], capture_output=True, text=True)
    codes = [unescape(c) for c in r.stdout.split()]
    check("set-up: FN, keys, shift, catalogue, 150 codes", ok and len(codes) == 150)
    o.stop("set-up")

    t0, lives = time.monotonic(), 0
    for k in range(KILLS):
        serve = subprocess.Popen([KASSA, "--config", conf, "--data", data, "serve"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = serve.stdout.readline()
        if "listening" not in line:
            serve.kill()
            check(f"life {k}: serve started", False, (line, serve.stderr.read()[-2000:]))
            break
        lives += 1
        stop.clear()
        client = threading.Thread(target=storm, args=(api_port, codes))
        client.start()
        time.sleep(rng.uniform(0.03, 0.4))
        serve.send_signal(signal.SIGKILL)
        serve.wait()
        stop.set()
        client.join(timeout=30)
        err = serve.stderr.read()
        if "Sanitizer" in err or "runtime error" in err:
            check(f"life {k}: no sanitizer report", False, err[-2000:])
    print(f"{lives} lives, {len(paid)} receipts reported paid, {time.monotonic() - t0:.1f} s")
    check("receipts were paid between the kills", len(paid) > KILLS // 4, len(paid))

    # The till's start repairs; fsck then checks the invariants.
    r = kassa("fsck", "--json")
    rep = json.loads(r.stdout) if r.stdout.startswith("{") else {}
    check("fsck finds nothing before the repair that is an error", rep.get("problem_count", 1) == 0,
          rep)
    kassa("sale", "cancel")  # opens the till: the repair runs
    r = kassa("fsck", "--json")
    rep = json.loads(r.stdout) if r.stdout.startswith("{") else {}
    check("fsck clean after the repair", r.returncode == 0 and rep.get("clean") is True, rep)
    # Every reported receipt is in the archive (one listing), and a sample
    # of them holds exactly the codes the API named.
    listing = kassa("fd", "list", "--limit", "1000000").stdout.splitlines()
    receipts = {int(l.split()[0]) for l in listing[1:] if l.split() and l.split()[0].isdigit()
                and l.split()[1] == "receipt"}
    check("every receipt reported paid is in the archive", set(paid) <= receipts,
          sorted(set(paid) - receipts)[:10])
    wrong = []
    for fd in rng.sample(sorted(paid), min(40, len(paid))):
        shown = kassa("fd", "show", str(fd), "--json")
        try:
            items = json.loads(shown.stdout)["receipt"]["items"]
        except (ValueError, KeyError):
            wrong.append(fd)
            continue
        in_doc = sorted(k for k in (it.get("markingCode", "").split("\x1d")[0] for it in items) if k)
        if in_doc != sorted(paid[fd]):
            wrong.append(fd)
    check("sampled receipts hold exactly the codes the API named", not wrong, wrong[:10])
    harness.registers_clean(check)
finally:
    stop.set()
    harness.stop_all(procs)
    if check.failed == 0:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"kept {root}")
sys.exit(check.summary())

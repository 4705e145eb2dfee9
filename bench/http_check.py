#!/usr/bin/env python3
"""bench/http_check.py BUILD_DIR [--codes N] [--requests N] [--online] [--dir DIR]

Check latency through the HTTP API (issue 5 Done-when: p99 < 5 ms with
1 million cached codes; issue 8 item 5): how long POST /api/check takes for
a code the till's cache holds, as a POS front end sees it (request sent ->
answer read, one keep-alive connection, one request at a time).

Set-up, all with the real programs: kassa-operator issues N genuine codes
(44-character tails) for the store's INN; a marking FN is created,
registered and given the operator's keys; the demo catalogue is imported;
`kassa cache sync` copies the operator's N code statuses into the cache
(its rate is printed too). Then the operator is stopped unless --online,
and `kassa serve` runs with [till] check = offline: every check is the
whole pipeline (parse, catalogue, the store's records and blocks, the
delivery deadlines, the FN's crypto-tail check and its decline, the cached
operator statuses) without the network. With --online the operator keeps
running and [till] check = both: true-api and the OISM are asked too, on
loopback.

Warm-up requests are not counted. Codes are picked at random among the
issued ones, so lookups are spread over the whole cache. Prints the
figures and a markdown table row for docs/BENCHMARKS.md.
"""
import argparse
import http.client
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("build")
ap.add_argument("--codes", type=int, default=1000000)
ap.add_argument("--requests", type=int, default=5000)
ap.add_argument("--online", action="store_true")
ap.add_argument("--dir", default=None, help="where the data goes (default: a temp dir in BUILD)")
ap.add_argument("--keep", action="store_true", help="keep the data directory")
ap.add_argument("--reuse", default=None,
                help="a data directory kept by --keep: skip the set-up, measure again")
ap.add_argument("--operator-store", default=None,
                help="a kassa-operator data directory that already holds the codes (made with "
                     "`kassa-operator --data DIR issue ...`): used in place (the bench's FN is "
                     "added to it) instead of issuing anew")
a = ap.parse_args()

KASSA = os.path.join(a.build, "kassa")
OPERATOR = os.path.join(a.build, "kassa-operator")
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import harness  # noqa: E402  (the tests' helpers: free ports, stopping children)
from harness import free_ports  # noqa: E402
OWNER = "7707083893"
JEANS = "04601234501026"
GS = "\x1d"
root = os.path.abspath(a.reuse or tempfile.mkdtemp(prefix="http-check-", dir=a.dir or a.build))
till_dir, op_dir, conf = (os.path.join(root, x) for x in ("till", "operator", "kassa.conf"))
if a.operator_store:
    op_dir = os.path.abspath(a.operator_store)
os.makedirs(till_dir, exist_ok=True)
os.makedirs(op_dir, exist_ok=True)
procs = []


def run(*args, **kw):
    r = subprocess.run(list(args), capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(args[:4])}...: {r.stderr.strip()}")
    return r


ports = free_ports(4)


def write_conf(mode):
    with open(conf, "w") as f:
        f.write(f"[paths]\ndata = {till_dir}\n[operator]\nofd_port = {ports[0]}\n"
                f"oism_port = {ports[1]}\nkeys_port = {ports[2]}\nhttp_port = {ports[3]}\n"
                f"host = 127.0.0.1\n[service]\nbackground = no\n[till]\ncheck = {mode}\nmanager_pin = 2468\n"
                f"api_token = bench-token\n[trueapi]\napi_key = demo-key\n")


def kassa(*args):
    return run(KASSA, "--config", conf, *args, timeout=3600)


def set_up():
    """Codes, FN, keys, catalogue, sync; returns the sample of codes to check."""
    write_conf("offline")
    t0 = time.perf_counter()
    if a.operator_store:
        # Issued before (10 M codes take several minutes): draw the sample
        # from its registry (km holds the whole code).
        db = sqlite3.connect(os.path.join(op_dir, "operator.db"))
        n = db.execute("SELECT max(rowid) FROM codes").fetchone()[0]
        ids = random.Random(5).sample(range(1, n + 1), min(n, 2000))
        sample = [r[0] for r in db.execute(
            f"SELECT km FROM codes WHERE rowid IN ({','.join(map(str, ids))}) AND owner_inn = ?",
            (OWNER,))]
        a.codes = db.execute("SELECT count(*) FROM codes WHERE owner_inn = ?", (OWNER,)).fetchone()[0]
        db.close()
        print(f"a store of {a.codes} codes, sample drawn in {time.perf_counter() - t0:.1f} s",
              flush=True)
    else:
        codes = []
        left = a.codes
        while left > 0:
            n = min(left, 100000)
            r = run(OPERATOR, "--data", op_dir, "issue", "--gtin", JEANS, "--group", "lp",
                    "--count", str(n), "--owner", OWNER, timeout=3600)
            codes += r.stdout.split()
            left -= n
        print(f"issued {len(codes)} codes in {time.perf_counter() - t0:.1f} s", flush=True)
        sample = [c.replace("\\x1d", GS) for c in random.Random(5).sample(codes, min(len(codes), 2000))]
        del codes

    kassa("fn", "init", "--fn-number", "9999078900009999")
    kassa("fn", "register", "--reg-number", "0000000001012345", "--inn", OWNER, "--name",
          "Bench", "--address", "Bench", "--ofd-inn", "7704211201", "--ofd-name", "OFD")
    run(OPERATOR, "--data", op_dir, "fn", "add", "--fn-db", os.path.join(till_dir, "fn.db"))
    op = subprocess.Popen([OPERATOR, "--data", op_dir, "--ofd-port", str(ports[0]),
                           "--oism-port", str(ports[1]), "--keys-port", str(ports[2]),
                           "--http-port", str(ports[3])], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
    procs.append(op)
    op.stdout.readline()
    kassa("ofd", "keys")
    kassa("cache", "import-catalogue", os.path.join(SRC, "config", "catalogue.csv"))
    t0 = time.perf_counter()
    kassa("cache", "sync", "--owner", OWNER, "--limit", "10000")
    sync_s = time.perf_counter() - t0
    status = json.loads(kassa("cache", "status", "--json").stdout)
    cached = status.get("codes", status.get("counts", {}).get("codes"))
    print(f"synced {cached} codes in {sync_s:.1f} s ({a.codes / sync_s:,.0f} codes/s)", flush=True)
    if not a.online:
        op.terminate()
        op.wait()
    with open(os.path.join(root, "sample.json"), "w") as f:
        json.dump(sample, f)
    return sample, cached


try:
    if a.reuse:
        with open(os.path.join(root, "sample.json")) as f:
            sample = json.load(f)
        cached = json.loads(kassa("cache", "status", "--json").stdout).get("codes")
    else:
        sample, cached = set_up()
    if a.online and a.reuse:
        sys.exit("--online needs a fresh set-up (the operator runs from it)")
    write_conf("both" if a.online else "offline")
    t0 = time.perf_counter()
    serve = subprocess.Popen([KASSA, "--config", conf, "serve", "--http-port", "0", "--lm-port",
                              "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    procs.append(serve)
    line = serve.stdout.readline()  # "listening" is printed once the port accepts
    startup_ms = (time.perf_counter() - t0) * 1000
    port = int(line.split()[4].split(":")[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer bench-token"}

    def call(method, path, body=None):
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers)
        r = conn.getresponse()
        return r.status, json.loads(r.read())

    st, j = call("POST", "/api/shift/open", {})
    if st != 200 and j.get("fn_error") != "state":  # open already (--reuse)
        sys.exit(f"shift open: {st} {j}")
    rnd = random.Random(8)
    for _ in range(200):  # warm-up: page cache, connection, allocator
        call("POST", "/api/check", {"code": rnd.choice(sample)})
    lat, inner = [], []
    refusals = 0
    for _ in range(a.requests):
        body = json.dumps({"code": rnd.choice(sample)})
        t0 = time.perf_counter()
        conn.request("POST", "/api/check", body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        lat.append(time.perf_counter() - t0)
        j = json.loads(data)
        inner.append(j.get("elapsed_us", 0) / 1000.0)
        if r.status != 200 or not j.get("allow"):
            refusals += 1
    lat.sort()
    inner.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))] * 1000

    with open(f"/proc/{serve.pid}/status") as f:
        status = {l.split(":")[0]: l.split()[1] for l in f if l.startswith(("VmRSS:", "VmHWM:"))}
    rss, peak = status.get("VmRSS", "?"), status.get("VmHWM", "?")
    mode = "both (operator on loopback)" if a.online else "offline (cached statuses)"
    print(f"POST /api/check, {cached} codes cached, check = {mode}: {a.requests} requests, "
          f"p50 {pct(50):.2f} ms, p90 {pct(90):.2f} ms, p99 {pct(99):.2f} ms, "
          f"max {lat[-1] * 1000:.2f} ms; refused {refusals}; kassa serve RSS {rss} kB, "
          f"peak {peak} kB; start-up to listening {startup_ms:.0f} ms")
    print(f"  of which the check pipeline itself (decision elapsed_us): "
          f"p50 {inner[len(inner) // 2]:.2f} ms, p99 {inner[int(0.99 * len(inner))]:.2f} ms")
    print(f"| {cached} | {mode} | {a.requests} | {pct(50):.2f} | {pct(99):.2f} | "
          f"{lat[-1] * 1000:.2f} | {int(peak) // 1024 if peak != '?' else '?'} MB | "
          f"{startup_ms:.0f} ms |")
    if refusals:
        sys.exit(f"{refusals} checks of cached genuine codes were refused")
finally:
    harness.stop_all(procs, seconds=20)
    if not a.keep and not a.reuse:
        shutil.rmtree(root, ignore_errors=True)

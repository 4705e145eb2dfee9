#!/usr/bin/env python3
"""bench/store_claims.py BUILD [--clients N] [--codes N] [--fsync]: claims per second
through one store node (`kassa store serve` on a PostgreSQL of its own,
tests/integration/pgtemp.py), N client processes racing over one pool of
codes with keep-alive HTTP, every code claimed by every client once.

Prints claims/s, the p50/p99/p99.9/max of one claim as a client saw it,
the CPU time per claim of the node and of PostgreSQL's backends (where the
time goes), and the number of codes granted to more than one lane (must
be 0).
"""
import argparse
import http.client
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from pgtemp import PgTemp  # noqa: E402

TOKEN = "bench-" + os.urandom(6).hex()


def client(args):
    port, lane, codes, out = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    order = codes[:]
    random.Random(lane).shuffle(order)
    granted, times = [], []
    for ki in order:
        body = json.dumps({"lane": f"lane{lane}", "ki": ki, "lease_ms": 600000})
        t = time.perf_counter()
        conn.request("POST", "/store/v1/claim", body,
                     {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        a = json.loads(conn.getresponse().read())
        times.append(time.perf_counter() - t)
        if a.get("verdict") == "granted":
            granted.append(ki)
    out.put((granted, times))


def cpu_seconds(pids):
    """User + system CPU seconds of these processes so far (/proc/PID/stat)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--clients", type=int, default=30)
    ap.add_argument("--codes", type=int, default=5000)
    ap.add_argument("--fsync", action="store_true",
                    help="PostgreSQL flushes its WAL (a store's server; the tests run without)")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # the finally stops the server
    pg = PgTemp(fsync=a.fsync)
    node = None
    try:
        pg.start()
        node = subprocess.Popen([os.path.join(a.build, "kassa"), "store", "serve", "--pg",
                                 pg.conninfo, "--port", "0", "--token", TOKEN],
                                stdout=subprocess.PIPE, text=True)
        port = int(node.stdout.readline().split(":")[-1].split()[0])
        codes = [f"010460123450102621BENCH{i:07d}" for i in range(a.codes)]
        q = multiprocessing.Queue()
        procs = [multiprocessing.Process(target=client, args=((port, i, codes, q),))
                 for i in range(a.clients)]
        t0 = time.perf_counter()
        for p in procs:
            p.start()
        results = [q.get() for _ in procs]
        elapsed = time.perf_counter() - t0
        postmaster = pg.postmaster_pid()
        node_cpu = cpu_seconds([node.pid])
        pg_cpu = cpu_seconds(pg._children(postmaster) if postmaster else [])
        for p in procs:
            p.join()
        owners = {}
        for granted, _ in results:
            for ki in granted:
                owners[ki] = owners.get(ki, 0) + 1
        times = sorted(t for _, ts in results for t in ts)
        total = len(times)
        print(f"store claims: {a.clients} clients x {a.codes} codes = {total} claims in "
              f"{elapsed:.1f} s: {total / elapsed:.0f} claims/s; one claim p50 "
              f"{times[total // 2] * 1000:.2f} ms, p99 {times[total * 99 // 100] * 1000:.2f} ms, "
              f"p99.9 {times[total * 999 // 1000] * 1000:.2f} ms, max {times[-1] * 1000:.1f} ms; "
              f"CPU per claim: node {node_cpu / total * 1e6:.0f} us, PostgreSQL "
              f"{pg_cpu / total * 1e6:.0f} us; codes granted: {len(owners)}, granted twice: "
              f"{sum(1 for v in owners.values() if v > 1)}")
    finally:
        if node:
            node.kill()
            node.wait()
        pg.stop()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""bench/store_scan.py BUILD [--lanes N] [--paces 1,5,10] [--seconds S] [--timeout-ms MS]
[--no-store]:
the time of one scan through the store node with N lanes busy at a store's
pace (issue 21's "p99 of a scan through the store node with 30 lanes
busy", target <= 5 ms on a quiet machine).

N `kassa serve` lanes (tests/integration/store_lane.py: each its own FN,
cache, catalogue, shift, [store] url to the node, [store] timeout_ms MS,
150 as in production) share one store node (`kassa store serve`) on a
PostgreSQL of its own (tests/integration/pgtemp.py). "Busy" is a cashier at
every lane: one scan every 1/PACE seconds (a cashier scans a code every
~2 s, so 1 scan/s is a busy lane and 10 a lane no cashier keeps up), five
codes to a receipt, then paid (the FN writes the receipt, the lane
publishes it to the node), the next receipt opened; every code a fresh one
issued by kassa-operator, each lane its own, as in a store where two
customers do not carry the same item. The lanes run unsynchronised (each
its own phase in the interval). The client of each lane is a process of
its own with one keep-alive connection, as a till's front end would hold.

A scan is `POST /api/receipts/current/items`, the time from sending the
request to reading the answer: parse, catalogue, cache, the FN's checks,
and the claim at the node (one round trip, one PostgreSQL call). For each
pace: scans, the offered and achieved rate (each scan is one claim at the
node, each receipt one publish), p50 / p99 / p99.9 / max, how many times a
lane went offline (a claim ran into the timeout: the lane sold alone and
asked the node nothing for a second; its log says so once), the CPU
seconds per scan of the lanes, the node and PostgreSQL (from /proc), and
the load average at the start and the end, so a figure says what machine
it came from. --no-store runs the same lanes without [store] url (the
node idle): the difference is what the store costs a scan.
"""
import argparse
import functools
import http.client
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, HERE)
from harness import Checks, Operator, op, stop_all  # noqa: E402
from pgtemp import PgTemp  # noqa: E402
from store_claims import cpu_seconds  # noqa: E402
from store_lane import OWNER, Lane, LaneKit  # noqa: E402

JEANS = "4601234501026"  # lp, marked, not strict (config/catalogue.csv)
BASKET = 5               # codes to a receipt
WARMUP_S = 1.0           # the first second of each pace is not counted


def cashier(args):
    """One lane's cashier at pace scans/s from start (a time.time()) for
    seconds: receipts of BASKET codes, each paid. Puts (scan times counted,
    statuses other than 201 {status: count}, receipts paid, scans made) on
    out."""
    port, token, codes, pace, start, seconds, seed, out = args
    rnd = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    hdr = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(method, path, body=None):
        for attempt in (0, 1):  # a keep-alive connection the server closed: once more
            try:
                conn.request(method, path, json.dumps(body) if body is not None else None, hdr)
                r = conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                if attempt:
                    return 0, b""

    times, bad, paid, scans = [], {}, 0, 0
    interval = 1.0 / pace
    due = start + rnd.uniform(0, interval)  # this lane's phase
    end = start + seconds
    todo = iter(codes)
    while due < end:
        call("POST", "/api/receipts", {"operation": "sale", "cashier": "Иванова"})
        taken = 0
        for _ in range(BASKET):
            code = next(todo, None)
            if code is None or due >= end:
                break
            wait = due - time.time()
            if wait > 0:
                time.sleep(wait)
            t = time.perf_counter()
            st, _ = call("POST", "/api/receipts/current/items", {"code": code})
            took = time.perf_counter() - t
            scans += 1
            if due >= start + WARMUP_S:
                times.append(took)
            if st == 201:
                taken += 1
            else:
                bad[st] = bad.get(st, 0) + 1
            due += interval
        if taken:
            st, _ = call("POST", "/api/receipts/current/pay", {"method": "cash"})
            paid += st == 200
        else:
            call("DELETE", "/api/receipts/current")
    conn.close()
    out.put((times, bad, paid, scans))


def alone_lines(lanes):
    """How many times the lanes' logs say the node did not answer in time."""
    n = 0
    for lane in lanes:
        try:
            with open(lane.log_path) as f:
                n += f.read().count("store node unreachable")
        except OSError:
            pass
    return n


def pct(sorted_times, q):
    return sorted_times[min(len(sorted_times) - 1, int(len(sorted_times) * q))] * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--lanes", type=int, default=30)
    ap.add_argument("--paces", default="1,5,10", help="scans per second per lane, a list")
    ap.add_argument("--seconds", type=float, default=20, help="per pace")
    ap.add_argument("--timeout-ms", type=int, default=150, help="the lanes' [store] timeout_ms")
    ap.add_argument("--no-store", action="store_true",
                    help="the same lanes without [store] url: what the store node adds")
    a = ap.parse_args()
    paces = [float(p) for p in a.paces.split(",")]
    kassa = os.path.abspath(os.path.join(a.build, "kassa"))
    operator_bin = os.path.abspath(os.path.join(a.build, "kassa-operator"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # the finally stops everything
    root = tempfile.mkdtemp(prefix="kassa-scan-bench-")
    check, procs, lanes, pg = Checks(), [], [], None
    token, store_token = "api-" + os.urandom(6).hex(), "store-" + os.urandom(6).hex()
    try:
        pg = PgTemp()
        pg.start()
        node = subprocess.Popen([kassa, "store", "serve", "--pg", pg.conninfo, "--port", "0",
                                 "--token", store_token], stdout=subprocess.PIPE, text=True)
        procs.append(node)
        port = int(node.stdout.readline().split(":")[-1].split()[0])
        op_dir = os.path.join(root, "operator")
        os.makedirs(op_dir)
        per_lane = [int(p * a.seconds) + BASKET for p in paces]
        r = op(operator_bin, op_dir, "issue", "--gtin", "0" + JEANS, "--group", "lp", "--count",
               str(a.lanes * sum(per_lane)), "--owner", OWNER, timeout=600)
        pool = [c.replace("\\x1d", "\x1d") for c in r.stdout.split()]
        if r.returncode != 0 or len(pool) != a.lanes * sum(per_lane):
            raise RuntimeError(f"kassa-operator issue: {r.stderr[-500:]}")
        operator = Operator(operator_bin, op_dir, check)
        procs.append(operator.proc)
        kit = LaneKit(kassa, root, procs, check, token, store_token, a.timeout_ms, "8642")
        t_setup = time.monotonic()
        for i in range(a.lanes):
            lane = Lane(kit, i, None if a.no_store else f"http://127.0.0.1:{port}")
            lanes.append(lane)
            if not lane.prepare(functools.partial(op, operator_bin, op_dir), operator.ports[2]):
                raise RuntimeError(f"lane {i} did not start")
        if check.failed:
            raise RuntimeError("a lane's set-up failed (above)")
        print(f"store scan: {a.lanes} lanes ready in {time.monotonic() - t_setup:.0f} s; "
              + ("no [store] url (each lane alone); " if a.no_store else
                 f"[store] timeout_ms {a.timeout_ms}; ") + f"{BASKET} codes to a receipt; "
              f"{a.seconds:.0f} s per pace, the first {WARMUP_S:.0f} s not counted")
        time.sleep(2)  # the lanes' first sync from the node's feed done
        used = 0
        for pace, n in zip(paces, per_lane):
            q = multiprocessing.Queue()
            start = time.time() + 1.0
            jobs = []
            for k, lane in enumerate(lanes):
                codes = pool[used + k * n:used + (k + 1) * n]
                jobs.append(multiprocessing.Process(target=cashier, args=(
                    (lane.serve.api, token, codes, pace, start, a.seconds, k, q),)))
            used += a.lanes * n
            load0 = os.getloadavg()
            alone0 = alone_lines(lanes)
            pids = {"lanes": [lane.serve.p.pid for lane in lanes], "node": [node.pid],
                    "pg": pg._children(pg.postmaster_pid() or 0)}
            cpu0 = {k: cpu_seconds(v) for k, v in pids.items()}
            for j in jobs:
                j.start()
            results = [q.get(timeout=a.seconds + 300) for _ in jobs]  # a dead client: no hang
            for j in jobs:
                j.join()
            cpu = {k: cpu_seconds(v) - cpu0[k] for k, v in pids.items()}
            load1 = os.getloadavg()
            times = sorted(t for ts, _, _, _ in results for t in ts)
            bad = {}
            for _, b, _, _ in results:
                for st, c in b.items():
                    bad[st] = bad.get(st, 0) + c
            paid = sum(p for _, _, p, _ in results)
            made = sum(n for _, _, _, n in results)  # the warm-up's too: the CPU's
            span = a.seconds - WARMUP_S
            total = len(times)
            per_scan = {k: v / max(1, made) * 1e6 for k, v in cpu.items()}
            via = "" if a.no_store else " (each a claim at the node)"
            print(f"store scan, {a.lanes} lanes at {pace:g} scan/s each ({a.lanes * pace:g}/s "
                  f"offered): {total} scans counted, {total / span:.0f}/s{via}, "
                  f"{paid / a.seconds:.1f} receipts/s; one scan p50 {pct(times, 0.5):.2f} ms, "
                  f"p99 {pct(times, 0.99):.2f} ms, p99.9 {pct(times, 0.999):.2f} ms, max "
                  f"{times[-1] * 1000:.1f} ms; a lane gone offline (a claim past "
                  f"{a.timeout_ms} ms): {alone_lines(lanes) - alone0} times; not 201: "
                  f"{bad or 0}; CPU per scan: lanes {per_scan['lanes']:.0f} us, node "
                  f"{per_scan['node']:.0f} us, PostgreSQL {per_scan['pg']:.0f} us; "
                  f"load average {load0[0]:.2f} -> {load1[0]:.2f}")
            sys.stdout.flush()
    finally:
        for lane in lanes:
            if lane.serve:
                lane.serve.stop()
        stop_all(procs)
        if pg:
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

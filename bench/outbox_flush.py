#!/usr/bin/env python3
"""bench/outbox_flush.py BUILD_DIR [--receipts N] [--dir DIR]

Outbox flush rate (issue 8 item 5; target >= 2 000 documents/s): how fast
`kassa ofd flush` empties a till's outbox into kassa-operator on loopback,
every document durable on both sides. Durability stays on: the operator
commits what it received (synchronous=FULL) before it acknowledges, the FN
commits the acknowledgements (FULL) before the next window goes. What
makes it fast is that neither pays that per document: the till keeps a
window of documents in flight (ofd/client.h) and applies the window's
answers in one FN transaction (fn_document_ack_batch), and the operator
commits everything one read brought in one transaction before answering.

Set-up with the real programs: kassa-operator issues codes with genuine
44-character tails; tests' e2e_till (tests/integration/e2e_till.c) makes
and registers an FN, fetches the keys and sells N receipts offline from the
OFD (each marked code checked by the FN and the OISM on loopback), so the
FN owes N receipts plus shift documents, and a sale notification per
receipt with marked lines. Then `kassa ofd flush` is timed: documents to
the OFD port, then notifications to the OISM port.

Afterwards, with both programs stopped, the script checks that a fast run
lost nothing: the operator holds every document of the FN's archive once
and byte-identical, every notification is applied once, the FN has every
document acknowledged and every notification ticketed, and `kassa ofd
status --json` owes nothing. Any failed check exits 1 (and keeps the data
directory for a look).

Also printed, because the machine is shared and the figure depends on it:
the load average, what one fdatasync costs on the data directory's disk
(median of 200, 4 KiB each), and the CPU seconds kassa and kassa-operator
spent, so the rest of the wall time is disk flushes and waiting. The last
line is a markdown row for docs/BENCHMARKS.md.
"""
import argparse
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))
import harness  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("build")
ap.add_argument("--receipts", type=int, default=5000)
ap.add_argument("--dir", default=None, help="where the data goes (default: a temp dir in BUILD)")
ap.add_argument("--window", type=int, default=None,
                help="kassa ofd flush --window N (default: the client's, 64)")
a = ap.parse_args()

KASSA = os.path.join(a.build, "kassa")
OPERATOR = os.path.join(a.build, "kassa-operator")
TILL = os.path.join(a.build, "tests", "e2e_till")
FN_NUMBER = "9999078900007171"
root = tempfile.mkdtemp(prefix="outbox-flush-", dir=a.dir or a.build)
till_dir, op_dir = os.path.join(root, "till"), os.path.join(root, "operator")
os.makedirs(till_dir)
os.makedirs(op_dir)
check = harness.Checks()


def run(*args, timeout=3600):
    r = harness.run(list(args), timeout=timeout)
    if r.returncode != 0:
        print(f"failed: {' '.join(args[:3])}...: {r.stderr.strip()[-2000:]}")
        check("set-up step", False, args)
        sys.exit(harness.finish(check, root))
    return r


def fdatasync_ms(directory, rounds=200):
    """Median and 90th percentile of one 4 KiB write + fdatasync, in ms."""
    path = os.path.join(directory, "fdatasync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    times = []
    try:
        for _ in range(rounds):
            os.write(fd, b"x" * 4096)
            t = time.perf_counter()
            os.fdatasync(fd)
            times.append((time.perf_counter() - t) * 1000)
    finally:
        os.close(fd)
        os.unlink(path)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)]


def cpu_seconds(pid):
    """utime + stime of a running process, from /proc (clock ticks)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Receipt r carries r % 3 + 1 marked lines unless r % 4 == 3 (e2e_till.c).
codes_needed = sum(0 if r % 4 == 3 else r % 3 + 1 for r in range(a.receipts))
codes = run(OPERATOR, "--data", op_dir, "issue", "--gtin", "04601234501026", "--group", "lp",
            "--count", str(codes_needed), "--tail", "44").stdout.split()
codes_file = os.path.join(root, "codes.txt")
harness.write_lines(codes_file, codes)
server = harness.Operator(OPERATOR, op_dir, check)
ofd_port, oism_port, keys_port, _ = server.ports
try:
    run(TILL, "init", till_dir, FN_NUMBER)
    run(OPERATOR, "--data", op_dir, "fn", "add", "--fn-db", os.path.join(till_dir, "fn.db"))
    t0 = time.perf_counter()
    r = run(TILL, "sell", till_dir, "--keys", str(keys_port), "--oism", str(oism_port), "--codes",
            codes_file, "--receipts", str(a.receipts))
    sold = dict(w.split("=") for w in r.stdout.split("sold ", 1)[1].split("\n")[0].split())
    docs, notes = int(sold["documents"]), int(sold["notifications"])
    print(f"set-up: {a.receipts} receipts sold in {time.perf_counter() - t0:.1f} s; the FN owes "
          f"{docs} documents and {notes} notifications", flush=True)

    sync_median, sync_p90 = fdatasync_ms(root)
    load = os.getloadavg()
    op_cpu0 = cpu_seconds(server.proc.pid)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    flush = subprocess.run([KASSA, "--data", till_dir, "ofd", "flush", "--ofd",
                            f"127.0.0.1:{ofd_port}", "--oism", f"127.0.0.1:{oism_port}"]
                           + (["--window", str(a.window)] if a.window else []),
                           capture_output=True, text=True, timeout=3600)
    elapsed = time.perf_counter() - t0
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    op_cpu = cpu_seconds(server.proc.pid) - op_cpu0
    kassa_cpu = (kids1.ru_utime - kids0.ru_utime) + (kids1.ru_stime - kids0.ru_stime)
    check("kassa ofd flush exits 0", flush.returncode == 0,
          (flush.returncode, flush.stderr[-2000:]))
    status = run(KASSA, "--data", till_dir, "ofd", "status", "--json")
    owed = json.loads(status.stdout)
finally:
    server.stop("bench")

# Nothing lost, nothing twice: read both databases, programs stopped.
s = harness.snapshot(os.path.join(till_dir, "fn.db"), os.path.join(op_dir, "operator.db"),
                     FN_NUMBER)
check("the FN archive holds what the till made", len(s["archive"]) == docs,
      f"{len(s['archive'])} of {docs}")
check("the operator holds every document once, byte-identical to the FN's archive",
      s["stored"] == s["archive"] and s["stored_rows"] == len(s["archive"]),
      f"{len(s['stored'])} stored, {s['stored_rows']} rows, {len(s['archive'])} in the archive")
check("the FN has every document acknowledged", s["acked"] == set(s["archive"]) and
      s["unsent"] == 0, f"{len(s['acked'])} acknowledged, {s['unsent']} unsent")
check("the operator applied every notification once", s["applied"] == s["notes"] and
      s["applied_rows"] == len(s["notes"]) == notes, f"{s['applied_rows']} of {notes}")
check("the FN has every notification ticketed", s["ticketed"] == s["notes"],
      f"{len(s['ticketed'])} of {len(s['notes'])}")
check("kassa ofd status owes nothing", owed.get("owed") == 0 and
      owed.get("unsentDocuments") == 0 and owed.get("unsentNotifications") == 0,
      json.dumps(owed)[:300])

total = docs + notes
print(f"machine: load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} cpus; "
      f"fdatasync {sync_median:.2f} ms median, {sync_p90:.2f} ms p90")
print(f"kassa ofd flush: {docs} documents + {notes} notifications in {elapsed:.2f} s: "
      f"{total / elapsed:,.0f} messages/s; CPU: kassa {kassa_cpu:.2f} s, "
      f"kassa-operator {op_cpu:.2f} s")
print(f"| {a.receipts} | {a.window or 'default'} | {docs} | {notes} | {elapsed:.2f} s | "
      f"{total / elapsed:,.0f} | "
      f"{sync_median:.1f} ms | {load[0]:.1f} |")
sys.exit(harness.finish(check, root))

#!/usr/bin/env python3
"""flush_kill.py OPERATOR E2E_TILL KASSA [KILLS [RECEIPTS [SEED]]]: `kassa ofd flush`, SIGKILLed.

The kill test of the windowed delivery (ofd/client.h) and the group
commits behind it (fn_document_ack_batch, fn_notification_ticket_batch in
the FN; one transaction per read in kassa-operator). A real FN is filled
by E2E_TILL with RECEIPTS receipts (600: three in four with marked codes
the OISM checked, so a sale notification each): about a thousand
documents and notifications owed. Then `kassa ofd flush --retries 0` runs
against kassa-operator (with --window 1, 8, 256 or the default) and is
SIGKILLed at a random moment of its life, again and again, until nothing
is owed; one round in five also SIGKILLs the operator mid-flush and
starts it again on the same ports, so an operator that answered before
its commit would be caught too. When the outbox is empty and KILLS kills
have not been made yet, the till sells another RECEIPTS receipts and the
storm goes on (24 kills: a few thousand documents and notifications).

After every round (the operator's database read while it runs: WAL): every
document the FN holds as acknowledged is stored by the operator, every
notification it holds as ticketed is applied by the operator (no answer the
operator had not committed), the operator holds nothing the FN did not
make, and what the FN owes never grows. After each batch, with the flush
done: the operator holds every document of the FN's archive exactly once
and byte-identical, one applied notification per FN notification, the FN
has everything acknowledged and ticketed, and `kassa ofd status --json`
owes nothing.

make test runs it short (KILLS 24); `make crash` runs it with N kills.
Prints "N passed, N failed"; exit 1 on any failure (the data directory is
then kept for a look).
"""
import functools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
from harness import Checks, gtin14  # noqa: E402

OPERATOR, TILL, KASSA = sys.argv[1], sys.argv[2], sys.argv[3]
KILLS = int(sys.argv[4]) if len(sys.argv) > 4 else 24
RECEIPTS = int(sys.argv[5]) if len(sys.argv) > 5 else 600
SEED = int(sys.argv[6]) if len(sys.argv) > 6 else int(time.time())
FN_NUMBER = "9999078900004848"
check = Checks()
rng = random.Random(SEED)
root, till_dir, op_dir = harness.workdirs("kassa-flush-kill-", "till", "operator")
fn_db, op_db = os.path.join(till_dir, "fn.db"), os.path.join(op_dir, "operator.db")
op = functools.partial(harness.op, OPERATOR, op_dir)
print(f"seed={SEED} kills={KILLS} receipts per batch={RECEIPTS}", flush=True)


def ofd_status():
    r = harness.run([KASSA, "--data", till_dir, "ofd", "status", "--json"])
    check("kassa ofd status works", r.returncode == 0, r.stderr)
    return json.loads(r.stdout) if r.returncode == 0 else {}


# What must hold at every moment: each query counts the rows that break
# a rule, over the FN's file with the operator's attached as "op".
NEVER = [
    ("every FN acknowledgement was given by the operator",
     "SELECT count(*) FROM documents d WHERE d.acknowledged = 1 AND NOT EXISTS"
     " (SELECT 1 FROM op.documents o WHERE o.fn = ?1 AND o.number = d.number)"),
    ("every FN ticket was given by the operator",
     "SELECT count(*) FROM notifications n WHERE n.ticketed = 1 AND NOT EXISTS"
     " (SELECT 1 FROM op.notifications o WHERE o.fn = ?1 AND o.number = n.number)"),
    ("the operator stores only the FN's documents, byte-identical",
     "SELECT count(*) FROM op.documents o WHERE o.fn != ?1 OR NOT EXISTS"
     " (SELECT 1 FROM documents d WHERE d.number = o.number AND d.tlv = o.tlv)"),
    ("the operator applied only the FN's notifications",
     "SELECT count(*) FROM op.notifications o WHERE o.fn != ?1 OR NOT EXISTS"
     " (SELECT 1 FROM notifications n WHERE n.number = o.number)"),
]
OWED = ("SELECT (SELECT count(*) FROM documents WHERE queued = 1 AND acknowledged = 0)"
        " + (SELECT count(*) FROM notifications WHERE ticketed = 0)")


def cheap_invariants(what, unsent_before):
    """NEVER, and that what the FN owes never grows, read while the
    operator may be running (its database is WAL). Returns the FN's unsent
    count and whether all held."""
    db = sqlite3.connect(f"file:{fn_db}?mode=ro", uri=True)
    try:
        db.execute("ATTACH ? AS op", (f"file:{op_db}?mode=ro",))
        broken = [(name, db.execute(sql, (FN_NUMBER,)).fetchone()[0]) for name, sql in NEVER]
        unsent = db.execute(OWED).fetchone()[0]
    finally:
        db.close()
    ok = all([check(f"{what}: {name}", n == 0, n) for name, n in broken])
    ok &= check(f"{what}: what the FN owes never grows", unsent <= unsent_before,
                (unsent, unsent_before))
    return unsent, ok


# What must hold once the outbox is empty, besides NEVER: each query counts
# the rows that break it. In SQL, not in Python dicts: the operator grows
# to hundreds of thousands of documents over a long run, and reading them
# all into memory after every batch made the run quadratic.
DONE = [
    ("the operator holds every FN document, byte-identical",
     "SELECT count(*) FROM documents d WHERE NOT EXISTS (SELECT 1 FROM op.documents o"
     " WHERE o.fn = ?1 AND o.number = d.number AND o.tlv = d.tlv)"),
    ("the operator holds each document once",
     "SELECT (SELECT count(*) FROM op.documents WHERE fn = ?1)"
     " - (SELECT count(*) FROM documents)"),
    ("the operator applied every FN notification",
     "SELECT count(*) FROM notifications n WHERE NOT EXISTS (SELECT 1 FROM op.notifications o"
     " WHERE o.fn = ?1 AND o.number = n.number)"),
    ("the operator applied each notification once",
     "SELECT (SELECT count(*) FROM op.notifications WHERE fn = ?1)"
     " - (SELECT count(*) FROM notifications)"),
]
# ... and on the FN's side alone.
FN_DONE = [
    ("the FN has every document acknowledged",
     "SELECT count(*) FROM documents WHERE acknowledged = 0"),
    ("the FN has every notification ticketed",
     "SELECT count(*) FROM notifications WHERE ticketed = 0"),
]


def batch_done(what):
    """The outbox is empty: both sides hold exactly the FN's archive.
    Returns the FN's document and notification counts."""
    db = sqlite3.connect(f"file:{fn_db}?mode=ro", uri=True)
    try:
        db.execute("ATTACH ? AS op", (f"file:{op_db}?mode=ro",))
        broken = [(name, db.execute(sql, (FN_NUMBER,)).fetchone()[0])
                  for name, sql in NEVER + DONE]
        broken += [(name, db.execute(sql).fetchone()[0]) for name, sql in FN_DONE]
        counts = db.execute("SELECT (SELECT count(*) FROM documents),"
                            " (SELECT count(*) FROM notifications)").fetchone()
    finally:
        db.close()
    for name, n in broken:
        check(f"{what}: {name}", n == 0, n)
    st = ofd_status()
    check(f"{what}: kassa ofd status --json owes nothing", st.get("owed") == 0 and
          st.get("unsentDocuments") == 0 and st.get("unsentNotifications") == 0, st)
    return counts


class Server:
    """kassa-operator on fixed ports for the whole storm (restarted after
    a kill on the same ones, as a real operator comes back)."""

    def __init__(self):
        self.ports = None
        self.start()

    def start(self):
        o = harness.Operator(OPERATOR, op_dir, check, ports=self.ports)
        self.ports, self.proc, self.wrapper = o.ports, o.proc, o

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc.stderr.read()


kills = operator_kills = rounds = clean_exits = 0
batch = 0
server = None
try:
    check("FN created", harness.run([TILL, "init", till_dir, FN_NUMBER]).returncode == 0)
    check("fn add", op("fn", "add", "--fn-db", fn_db).returncode == 0)
    server = Server()
    for bad in ("0", "257", "x"):
        r = harness.run([KASSA, "--data", till_dir, "ofd", "flush", "--window", bad])
        check(f"flush --window {bad} is a usage error", r.returncode == 2 and
              "--window is 1 to 256" in r.stderr, (r.returncode, r.stderr))
    unsent = 0
    while kills < KILLS and not check.failed:
        # A batch: new codes, RECEIPTS receipts sold, nothing delivered.
        batch += 1
        need = sum(0 if r % 4 == 3 else r % 3 + 1 for r in range(RECEIPTS))
        r = op("issue", "--gtin", gtin14(f"4600000007{batch % 100:02d}"), "--group", "footwear",
               "--count", str(need), "--tail", "44")
        codes = r.stdout.split()
        check(f"batch {batch}: codes issued", r.returncode == 0 and len(codes) == need, r.stderr)
        codes_file = os.path.join(root, f"codes{batch}.txt")
        harness.write_lines(codes_file, codes)
        r = harness.run([TILL, "sell", till_dir, "--keys", str(server.ports[2]), "--oism",
                         str(server.ports[1]), "--codes", codes_file, "--receipts", str(RECEIPTS)],
                        timeout=600)
        check(f"batch {batch}: receipts sold", r.returncode == 0, r.stdout + r.stderr)
        if check.failed:
            break
        unsent, _ = cheap_invariants(f"batch {batch} sold", 10 ** 9)
        print(f"batch {batch}: the FN owes {unsent} documents and notifications", flush=True)

        # The storm: flush, kill at a random moment, again, until done.
        while not check.failed:
            rounds += 1
            if rounds > 40 * KILLS + 200:
                check("the storm ends (the outbox empties)", False, rounds)
                break
            # Windows of every size meet the kills (most rounds the default).
            window = rng.choice([None, None, None, 1, 8, 256])
            args = [KASSA, "--data", till_dir, "ofd", "flush", "--retries", "0", "--ofd",
                    f"127.0.0.1:{server.ports[0]}", "--oism", f"127.0.0.1:{server.ports[1]}"]
            args += ["--window", str(window)] if window else []
            flush = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
            kill_operator = rng.random() < 0.2
            op_timer = None
            if kill_operator:
                op_timer = threading.Timer(rng.uniform(0.03, 0.2), server.kill)
                op_timer.start()
            try:
                # 20-40 ms of a life are start-up; a flush's windows take a
                # few ms each, so most kills land mid-window.
                err = flush.communicate(timeout=rng.uniform(0.03, 0.15))[1]
                clean_exits += 1
                check("an unkilled flush exits 0 or 1 and says why", flush.returncode == 0 or
                      (flush.returncode == 1 and "still owed" in err), (flush.returncode, err))
                check("no sanitizer report", "Sanitizer" not in err and "runtime error" not in err,
                      err[-2000:])
            except subprocess.TimeoutExpired:
                flush.send_signal(signal.SIGKILL)
                flush.communicate()
                kills += 1
            if op_timer:
                op_timer.join()
                operator_kills += 1
                server.start()
            unsent, ok = cheap_invariants(f"batch {batch} round {rounds}", unsent)
            if not ok or unsent == 0:
                break
        if check.failed:
            break
        docs, notes = batch_done(f"batch {batch}")
        print(f"batch {batch} done: {kills} flush kills, {operator_kills} operator kills, "
              f"{rounds} rounds so far; the operator holds {docs} documents and {notes} "
              "notifications", flush=True)
    check(f"{KILLS} kills made", kills >= KILLS, kills)
finally:
    if server:
        server.wrapper.stop("the end")
print(f"{kills} flush kills, {operator_kills} operator kills, {clean_exits} flushes that ended by "
      f"themselves, {rounds} rounds, {batch} batches")
sys.exit(harness.finish(check, root))

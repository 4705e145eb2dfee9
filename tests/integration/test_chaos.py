#!/usr/bin/env python3
"""test_chaos.py OPERATOR E2E_TILL KASSA [RECEIPTS [ROUNDS [SEED]]]: delivery over a hostile link.

The link-chaos harness of issue 8: an FN full of real receipts (E2E_TILL
sells RECEIPTS receipts, three in four with 1-3 marked codes the OISM
checked; 1.5 codes a receipt are issued, so none runs short) is flushed
to kassa-operator through tests/integration/chaos_proxy.py, one proxy on
the OFD port and one on the OISM port, each dropping, delaying,
truncating, duplicating and corrupting traffic at random (seeded).
`kassa ofd flush --retries 1` runs ROUNDS times or until nothing is
owed. After every round, with the operator's database read:
every acknowledgement the FN holds was given by the operator, the operator
stores each (FN, number) once and byte-identical to the FN's archive, and
every ticket was given for a notification the operator applied once. At
the end a clean flush finishes whatever the chaos left (the link heals),
the FN owes nothing, the operator holds the whole archive exactly once,
and `kassa fsck` on the till's data directory is clean.

`make chaos` runs it long (CHAOS_RECEIPTS, CHAOS_ROUNDS); make test runs a
short version. Prints "N passed, N failed"; exit 1 on any failure.
"""
import functools
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Checks, Operator, free_ports, gtin14, wait_listening  # noqa: E402

OPERATOR, TILL, KASSA = sys.argv[1], sys.argv[2], sys.argv[3]
RECEIPTS = int(sys.argv[4]) if len(sys.argv) > 4 else 120
ROUNDS = int(sys.argv[5]) if len(sys.argv) > 5 else 12
SEED = int(sys.argv[6]) if len(sys.argv) > 6 else int(time.time())
FN_NUMBER = "9999078900008383"
PROXY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chaos_proxy.py")
check = Checks()
root, till_dir, op_dir = harness.workdirs("kassa-chaos-", "till", "operator")
fn_db = os.path.join(till_dir, "fn.db")
print(f"seed={SEED} receipts={RECEIPTS} rounds={ROUNDS}")


op = functools.partial(harness.op, OPERATOR, op_dir)


def snapshot():
    return harness.snapshot(fn_db, os.path.join(op_dir, "operator.db"), FN_NUMBER)


def invariants(what, s):
    check(f"{what}: every FN acknowledgement was given by the operator",
          s["acked"] <= set(s["stored"]), sorted(s["acked"] - set(s["stored"]))[:10])
    check(f"{what}: operator stores each document once, byte-identical",
          s["stored_rows"] == len(s["stored"]) and
          all(s["archive"].get(n) == b for n, b in s["stored"].items()))
    check(f"{what}: every ticket is for a notification applied once",
          s["ticketed"] <= s["applied"] and s["applied_rows"] == len(s["applied"]) and
          s["applied"] <= s["notes"])


try:
    # 1. An FN full of documents and notifications, nothing delivered.
    # Three receipts in four carry 1-3 marked lines (e2e_till): 1.5 codes a receipt.
    codes = []
    for group, body, tail, count in [("footwear", "460000000301", "44", max(120, RECEIPTS)),
                                     ("dairy", "460000000302", "93", max(80, RECEIPTS // 2))]:
        r = op("issue", "--gtin", gtin14(body), "--group", group, "--count", str(count),
               "--tail", tail)
        check(f"issue {group}", r.returncode == 0, r.stderr)
        codes += r.stdout.split()
    codes_file = os.path.join(root, "codes.txt")
    harness.write_lines(codes_file, codes)
    check("FN created", subprocess.run([TILL, "init", till_dir, FN_NUMBER], capture_output=True,
                                       timeout=60).returncode == 0)
    check("fn add", op("fn", "add", "--fn-db", fn_db).returncode == 0)
    o = Operator(OPERATOR, op_dir, check)
    r = subprocess.run([TILL, "sell", till_dir, "--keys", str(o.ports[2]), "--oism",
                        str(o.ports[1]), "--codes", codes_file, "--receipts", str(RECEIPTS),
                        "--shift-every", "40"], capture_output=True, text=True, timeout=600)
    check("receipts sold", r.returncode == 0, r.stdout + r.stderr)
    o.stop("selling")
    start = snapshot()
    check("documents and notifications owed", start["unsent"] > RECEIPTS // 2 and start["notes"])

    # 2. Flush through the chaos proxies.
    o = Operator(OPERATOR, op_dir, check)
    pp = free_ports(2)
    proxies = [subprocess.Popen([sys.executable, PROXY, str(pp[i]), str(o.ports[i]),
                                 str(SEED + i)], stdout=subprocess.PIPE, text=True)
               for i in range(2)]
    check("proxies listen", all(wait_listening(p) for p in pp))
    rounds_run = 0
    for k in range(ROUNDS):
        # Windows of every size in turn: small ones make many exchanges for
        # the proxies to hit, large ones many messages in flight per hit.
        window = str([4, 1, 16, 64][k % 4])
        p = subprocess.run([KASSA, "--data", till_dir, "ofd", "flush", "--ofd",
                            f"127.0.0.1:{pp[0]}", "--oism", f"127.0.0.1:{pp[1]}", "--retries",
                            "1", "--window", window], capture_output=True, text=True, timeout=300)
        rounds_run += 1
        check(f"round {k}: flush exit 0 or 1", p.returncode in (0, 1), (p.returncode, p.stderr))
        check(f"round {k}: no sanitizer report", "Sanitizer" not in p.stderr and
              "runtime error" not in p.stderr, p.stderr[-2000:])
        s = snapshot()
        invariants(f"round {k}", s)
        if s["unsent"] == 0 and s["ticketed"] == s["notes"]:
            break
    for pr in proxies:
        pr.terminate()
    tallies = [pr.communicate(timeout=30)[0].strip().splitlines()[-1] for pr in proxies]
    chaos = snapshot()
    print(f"after {rounds_run} chaos rounds: documents owed {start['unsent']} -> {chaos['unsent']}, "
          f"notifications owed {len(start['notes'])} -> {len(chaos['notes'] - chaos['ticketed'])}")
    print(f"ofd proxy: {tallies[0]}\noism proxy: {tallies[1]}")
    check("the proxies did harm", all("drop=0 " not in t or "corrupt=0" not in t for t in tallies),
          tallies)
    check("progress through the chaos", chaos["unsent"] < start["unsent"],
          (start["unsent"], chaos["unsent"]))

    # 3. The link heals: a clean flush finishes, everything exactly once.
    p = subprocess.run([KASSA, "--data", till_dir, "ofd", "flush", "--ofd",
                        f"127.0.0.1:{o.ports[0]}", "--oism", f"127.0.0.1:{o.ports[1]}"],
                       capture_output=True, text=True, timeout=300)
    check("final flush exit 0", p.returncode == 0, p.stderr)
    o.stop("final")
    s = snapshot()
    invariants("final", s)
    check("the operator holds the whole archive exactly once",
          s["stored"] == s["archive"] and s["stored_rows"] == len(s["archive"]),
          (len(s["stored"]), len(s["archive"])))
    check("every notification ticketed and applied once",
          s["ticketed"] == s["notes"] == s["applied"] and s["applied_rows"] == len(s["notes"]))
    st = json.loads(subprocess.run([KASSA, "--data", till_dir, "ofd", "status", "--json"],
                                   capture_output=True, text=True).stdout or "{}")
    check("the FN owes nothing", st.get("owed") == 0, st)
    f = subprocess.run([KASSA, "--data", till_dir, "fsck"], capture_output=True, text=True)
    check("kassa fsck clean", f.returncode == 0 and "clean" in f.stdout, f.stdout + f.stderr)
finally:
    code = harness.finish(check, root)
sys.exit(code)

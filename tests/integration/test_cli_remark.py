#!/usr/bin/env python3
"""test_cli_remark.py KASSA OPERATOR: `kassa remark` end to end, from a shell.

A till set up with the CLI only (fn init/register, keys from kassa-operator,
shift, catalogue, a pool of codes the operator issued), a shoe sold and
returned without its code (`kassa return add-without-code`), then:
`kassa remark pending` lists it; a wrong PIN is refused and changes
nothing; `kassa remark --pending ID --label F.png` takes a pool code, the
operator is told, and the label reads back (`kassa scan --image`) as that
code; the same pending return cannot be remarked twice; the new code
sells; the old side of a code the store knows (`--old`) becomes
unsellable. Prints "N passed, N failed"; exit 1 on any failure.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Operator, gtin14  # noqa: E402

KASSA, OPERATOR = sys.argv[1], sys.argv[2]
check = Checks()
root = tempfile.mkdtemp(prefix="kassa-remark-")
data, opdata = os.path.join(root, "data"), os.path.join(root, "operator")
GTIN = gtin14("460000000401")
PIN = "2468"


def op(*args):
    return subprocess.run([OPERATOR, "--data", opdata] + list(args), capture_output=True,
                          text=True, timeout=60)


try:
    os.makedirs(opdata)
    check("keys", op("keys", "new", "--kind", "hmac").returncode == 0)
    o = Operator(OPERATOR, opdata, check)
    conf = os.path.join(root, "kassa.conf")
    with open(conf, "w") as f:
        f.write(f"[operator]\nhost = 127.0.0.1\nofd_port = {o.ports[0]}\noism_port = {o.ports[1]}\n"
                f"keys_port = {o.ports[2]}\nhttp_port = {o.ports[3]}\n"
                f"[till]\ncheck = both\nmanager_pin = {PIN}\n[trueapi]\napi_key = demo-key\n")

    def kassa(*args):
        return subprocess.run([KASSA, "--config", conf, "--data", data] + list(args),
                              capture_output=True, text=True, timeout=60)

    r = kassa("fn", "init")
    check("fn init", r.returncode == 0, r.stderr)
    r = kassa("fn", "register", "--reg-number", "0000000001022222", "--inn", "7707083893",
              "--name", "Магазин", "--address", "Москва", "--ofd-inn", "7704211201",
              "--ofd-name", "ОФД")
    check("fn register", r.returncode == 0, r.stderr)
    check("fn add", op("fn", "add", "--fn-db", os.path.join(data, "fn.db")).returncode == 0)
    r = kassa("ofd", "keys", "--keys", f"127.0.0.1:{o.ports[2]}")
    check("keys loaded", r.returncode == 0, r.stderr)
    check("shift open", kassa("shift", "open").returncode == 0)
    cat = os.path.join(root, "catalogue.csv")
    with open(cat, "w") as f:
        f.write("gtin;name;price;vat;group;group_id;marking;strict;weighed;excise\n"
                f"{GTIN};Кеды;2500.00;1;footwear;1;1;0;0;0\n")
    r = kassa("cache", "import-catalogue", cat)
    check("catalogue", r.returncode == 0, r.stderr)
    r = op("issue", "--gtin", GTIN, "--group", "footwear", "--count", "4", "--owner", "7707083893")
    codes = r.stdout.split()
    check("codes issued", r.returncode == 0 and len(codes) == 4, r.stderr)
    pool = os.path.join(root, "pool.txt")
    with open(pool, "w") as f:
        f.write("\n".join(codes[2:]) + "\n")
    r = kassa("cache", "pool", "add", pool)
    check("pool add", r.returncode == 0, r.stdout + r.stderr)

    # Sold, delivered, returned without its code.
    r1 = kassa("sale", "open")
    r2 = kassa("sale", "add", "--escaped", codes[0])
    r3 = kassa("sale", "pay", "--json")
    sale_fd = str(json.loads(r3.stdout)["document"]) if r3.returncode == 0 else "0"
    check("the shoe sells", r1.returncode == r2.returncode == r3.returncode == 0,
          r2.stdout + r2.stderr + r3.stderr)
    r = kassa("ofd", "flush", "--ofd", f"127.0.0.1:{o.ports[0]}", "--oism",
              f"127.0.0.1:{o.ports[1]}")
    check("delivered", r.returncode == 0, r.stderr)
    check("return without the PIN refused", kassa("return", "open").returncode == 1)
    r1 = kassa("return", "open", "--pin", PIN)
    r = kassa("return", "add-without-code", "--gtin", GTIN, "--pin", PIN)
    check("a return without a code names its sale", r.returncode == 2
          and "--sale-fd" in r.stderr, r.stderr)
    r = kassa("return", "add-without-code", "--gtin", GTIN, "--sale-fd", sale_fd, "--sale-line",
              "2", "--pin", PIN)
    check("no line 2 in that sale: refused", r.returncode == 1 and "sale" in r.stderr, r.stderr)
    r2 = kassa("return", "add-without-code", "--gtin", GTIN, "--sale-fd", sale_fd, "--sale-line",
               "1", "--pin", PIN)
    r3 = kassa("sale", "pay")
    check("returned without a code", r1.returncode == r2.returncode == r3.returncode == 0,
          r1.stderr + r2.stderr + r3.stderr)

    r = kassa("remark", "pending", "--pin", PIN, "--json")
    pending = json.loads(r.stdout) if r.returncode == 0 else []
    check("one good waits for remarking", len(pending) == 1 and pending[0]["gtin"] == GTIN,
          r.stdout + r.stderr)
    pid = str(pending[0]["id"]) if pending else "0"
    r = kassa("remark", "--pin", "0000", "--pending", pid)
    check("wrong PIN refused", r.returncode == 1 and "PIN" in r.stderr, r.stderr)
    check("still pending", len(json.loads(kassa("remark", "pending", "--pin", PIN,
                                                "--json").stdout)) == 1)
    label = os.path.join(root, "label.png")
    r = kassa("remark", "--pin", PIN, "--pending", pid, "--label", label, "--json")
    res = json.loads(r.stdout) if r.returncode == 0 else {}
    check("remarked, operator told", r.returncode == 0 and res.get("reported") is True,
          r.stdout + r.stderr)
    new = res.get("new_code", "")
    check("the new code is from the pool", new.split("\x1d")[0] in
          [c.split("\\x1d")[0] for c in codes[2:]], new)
    r = kassa("scan", "--image", label)
    scanned = json.loads(r.stdout.splitlines()[0]) if r.returncode == 0 and r.stdout else {}
    check("the label reads back as the new code",
          scanned.get("normalized") == new, (r.stdout, r.stderr, new))
    r = kassa("remark", "--pin", PIN, "--pending", pid)
    check("the same return is not remarked twice", r.returncode == 1, r.stdout)
    r1, r2 = kassa("sale", "open"), kassa("sale", "add", new)
    r3 = kassa("sale", "pay")
    check("the new code sells", r2.returncode == 0 and r3.returncode == 0, r2.stdout + r2.stderr)

    # A code the store knows (accepted into stock), damaged: --old; the
    # old code never sells again.
    lst = os.path.join(root, "delivery.txt")
    with open(lst, "w") as f:
        f.write(codes[1] + "\n")
    r = kassa("accept", "--list", lst, "--scanned", lst, "--all")
    check("accepted into stock", r.returncode == 0, r.stdout + r.stderr)
    r = kassa("remark", "--pin", PIN, "--old", codes[1], "--escaped", "--json")
    res = json.loads(r.stdout) if r.returncode == 0 else {}
    check("remark of a known code", r.returncode == 0 and
          res.get("old") == codes[1].split("\\x1d")[0], r.stdout + r.stderr)
    r = op("status", codes[1])
    shown = json.loads(r.stdout) if r.returncode == 0 else {}
    check("the operator shows the old code retired, replaced by the new one",
          res.get("reported") is True and shown.get("status") == "retired"
          and shown.get("remarked_to") == res.get("new_code", "").split("\x1d")[0],
          (res, r.stdout, r.stderr))
    r = op("status", codes[2])
    shown = json.loads(r.stdout) if r.returncode == 0 else {}
    check("a code never remarked shows its own status", shown.get("status") != "retired"
          and shown.get("remarked_to") is None, r.stdout + r.stderr)
    kassa("sale", "open")
    r = kassa("sale", "add", "--escaped", codes[1])
    check("the old code never sells again", r.returncode == 1 and "[remarked]" in r.stdout,
          r.stdout + r.stderr)
    kassa("sale", "cancel")
    r = kassa("fsck")
    check("kassa fsck clean", r.returncode == 0, r.stdout)
    o.stop("end")
finally:
    if check.failed == 0:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"kept {root}")
sys.exit(check.summary())

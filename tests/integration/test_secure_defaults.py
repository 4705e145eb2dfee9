#!/usr/bin/env python3
"""test_secure_defaults.py KASSA OPERATOR: secure defaults, secrets off the command line, text hygiene (issue 18).

- `kassa serve` without [till] api_token refuses to start (exit 2, a
  message naming --insecure-no-token); with --insecure-no-token it starts
  and warns; the demo token and PIN start with a loud warning, a long
  random token without one;
- the manager PIN for `kassa return open` comes from --pin-file or
  KASSA_PIN (never needed on the command line); a wrong one in either is
  refused, an unreadable --pin-file is refused with its name;
- `kassa cache sync` takes its key from KASSA_API_KEY / --api-key-file
  (an unreadable file refused before any network);
- text hygiene: a catalogue line with an ESC or an invalid UTF-8 byte in a
  name is refused with its line and byte (it used to be imported, then the
  FN refused every receipt with it); a config value with a control
  character is refused; a cashier's name with ESC is 400 over the API;
  kassa-operator status of a code whose serial holds '"' and '\\' prints
  valid JSON.
Prints "N passed, N failed"; exit 1 on any failure.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Checks, Serve, finish, stop_all  # noqa: E402

KASSA, OPERATOR = sys.argv[1], sys.argv[2]
check = Checks()
root = tempfile.mkdtemp(prefix="kassa-defaults-")
procs = []
PIN = "731964"


def write_conf(name, token, pin=PIN):
    path = os.path.join(root, name)
    with open(path, "w") as f:
        f.write(f"[paths]\ndata = {root}/data\n[till]\ncheck = offline\napi_token = {token}\n"
                f"manager_pin = {pin}\n[service]\nbackground = no\n")
    return path


def kassa(conf, *args, env=None):
    return subprocess.run([KASSA, "--config", conf] + list(args), capture_output=True, text=True,
                          timeout=60, env=env)


try:
    good = write_conf("good.conf", os.urandom(16).hex())
    ok = kassa(good, "fn", "init", "--fn-number", "9999078900001819").returncode == 0
    ok = ok and kassa(good, "fn", "register", "--reg-number", "0000000001044444", "--inn",
                      "7707083893", "--name", "Магазин", "--address", "Москва", "--ofd-inn",
                      "7704211201", "--ofd-name", "ОФД").returncode == 0
    ok = ok and kassa(good, "shift", "open").returncode == 0
    check("set-up: FN, shift", ok)

    # ---- serve: no token, the demo's, a good one -----------------------------------------
    none = write_conf("none.conf", "")
    try:
        r = subprocess.run([KASSA, "--config", none, "serve", "--http-port", "0", "--lm-port",
                            "0"], capture_output=True, text=True, timeout=15)
        refused = (r.returncode, r.stderr)
    except subprocess.TimeoutExpired:  # it served (run() killed it)
        refused = (None, "still running after 15 s")
    check("no token: serve refuses to start (exit 2), naming --insecure-no-token",
          refused[0] == 2 and "--insecure-no-token" in refused[1] and "api_token" in refused[1],
          refused)
    S = Serve(KASSA, none, procs)
    S.p.kill()
    S.p.wait()
    check("no token and no flag: nothing listens", S.api is None, S.line)
    p = subprocess.Popen([KASSA, "--config", none, "serve", "--http-port", "0", "--lm-port", "0",
                          "--insecure-no-token"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    procs.append(p)
    line = p.stdout.readline()
    p.terminate()
    _, err = p.communicate(timeout=30)
    check("--insecure-no-token: starts, loopback only, with a warning",
          line.startswith("kassa serve: listening on 127.0.0.1:") and "WARNING" in err
          and "--insecure-no-token" in err, (line, err))
    demo = write_conf("demo.conf", "kassa-demo-token", pin="2468")
    S = Serve(KASSA, demo, procs)
    rc, err = S.stop()
    check("demo token and PIN: a loud warning for each",
          S.api is not None and "WARNING: the API token is the demo's" in err
          and "WARNING: the manager PIN is the demo's" in err, (S.line, err))
    S = Serve(KASSA, good, procs)
    rc, err = S.stop()
    check("a long random token and a PIN of our own: no warning",
          S.api is not None and "WARNING" not in err, (S.line, err))

    # ---- the PIN from a file or the environment ------------------------------------------
    pin_file = os.path.join(root, "pin")
    with open(pin_file, "w") as f:
        f.write(PIN + "\n")
    os.chmod(pin_file, 0o600)
    r = kassa(good, "return", "open", "--pin-file", pin_file)
    check("return open --pin-file: opened", r.returncode == 0, r.stderr)
    kassa(good, "sale", "cancel")
    r = kassa(good, "return", "open", env=dict(os.environ, KASSA_PIN=PIN))
    check("return open with KASSA_PIN: opened", r.returncode == 0, r.stderr)
    kassa(good, "sale", "cancel")
    r = kassa(good, "return", "open", env=dict(os.environ, KASSA_PIN="000000"))
    check("a wrong KASSA_PIN: refused", r.returncode == 1 and "PIN" in r.stderr, r.stderr)
    r = kassa(good, "return", "open", "--pin-file", os.path.join(root, "absent"))
    check("an unreadable --pin-file: refused with its name", r.returncode == 2 and "absent" in
          r.stderr, r.stderr)
    r = kassa(good, "return", "open")
    check("no PIN at all: refused", r.returncode == 1, r.stderr)
    r = kassa(good, "cache", "sync", "--api-key-file", os.path.join(root, "nokey"))
    check("cache sync: an unreadable --api-key-file refused before any network",
          r.returncode == 2 and "nokey" in r.stderr, r.stderr)

    # ---- text hygiene ----------------------------------------------------------------------
    for name, raw, words in [("ESC", b"\xd0\xa5\xd0\xbb\xd0\xb5\xd0\xb1\x1b[31m", "control"),
                             ("invalid UTF-8", b"\xd0\xa5\xff", "not UTF-8")]:
        cat = os.path.join(root, "cat.csv")
        with open(cat, "wb") as f:
            f.write(b"gtin;name;price;vat;group;group_id;marking;strict;weighed;excise\n"
                    b"4600000005058;" + raw + b";55.00;1;;0;0;0;0;0\n")
        r = kassa(good, "cache", "import-catalogue", cat)
        check(f"catalogue name with {name}: refused with line 2", r.returncode != 0
              and "line 2" in r.stderr and words in r.stderr, (r.returncode, r.stderr))
    bad_conf = os.path.join(root, "bad.conf")
    with open(bad_conf, "w") as f:
        f.write(f"[paths]\ndata = {root}/data\n[till]\napi_token = abc\x1bdef\n")
    r = kassa(bad_conf, "fn", "status")
    check("a config value with ESC: refused, the key named", r.returncode != 0
          and "api_token" in r.stderr and "control" in r.stderr, (r.returncode, r.stderr))
    S = Serve(KASSA, good, procs)
    token = open(good).read().split("api_token = ")[1].split()[0]
    st, j = harness.http_json(f"http://127.0.0.1:{S.api}/api/receipts",
                              {"cashier": "Ива\x1b[2Jнова"},
                              headers={"Authorization": "Bearer " + token})
    check("a cashier's name with ESC over the API: 400 naming the field",
          st == 400 and j.get("field") == "cashier", (st, j))
    S.stop()
    opdata = os.path.join(root, "operator")
    os.makedirs(opdata)
    km = '010460123450102621ab"c\\d\\x1d93abcd'
    r = subprocess.run([OPERATOR, "--data", opdata, "status", km], capture_output=True,
                       text=True, timeout=30)
    try:
        shown = json.loads(r.stdout)
    except ValueError:
        shown = None
    check("kassa-operator status of a serial with a quote: valid JSON", shown is not None
          and shown.get("found") is False and '"' in shown.get("ki", ""), (r.stdout, r.stderr))
finally:
    stop_all(procs)
sys.exit(finish(check, root))

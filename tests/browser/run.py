#!/usr/bin/env python3
"""run.py KASSA OPERATOR [--http-only] [--update-docs]: the pages of `kassa serve`.

The cashier screen (/) and the manager screen (/manager) against a real
till, end to end. The environment is test_api.py's, made afresh in a
temporary directory: kassa-operator on free loopback ports issues genuine
codes, a marking FN is created, registered and given the operator's keys,
the demo catalogue and a remarking pool are loaded, and `kassa serve`
starts with [paths] web pointing at this tree's pos/serve/web.

Part 1, over plain HTTP (always; `--http-only` stops after it):
  - the pages and their files are served byte for byte with their
    Content-Type and the pages' security headers (CSP, no framing),
    without the API token, while the API still wants it;
  - no request reaches outside pos/serve/web: "..", %2e%2e, %2f, sub-folders,
    NUL, upper case are 404 (or 400 from libmicrohttpd) and never carry a
    byte of the files beside it; POST is 405 with Allow: GET; a foreign
    Host is 403;
  - what the API gained for the pages: a weighed good without a weight is
    400 with field "quantity" and the product; the closed receipt and the
    reprint carry the QR as a PNG that zbar reads back as the receipt's QR
    string; a remarked code's label again (POST /api/labels, manager) as
    a PNG libdmtx reads back as the code, refused for a code never
    remarked here (409) and for a code without its tail (422); pending
    returns name the product; the status tells whether the three-day
    batch applies.

Part 2, in Debian's chromium driven by playwright-core (pages.js; needs
/usr/bin/chromium, else exit 77 = skipped, with the reason): a full sale
typed as a keyboard-wedge scanner types it (GS as Ctrl+], Enter at the
end), a weighed good through the keypad, a counterfeit code refused with
the red banner in Russian, a removed line, a mixed payment, the receipt
and its QR, the print view, a cash payment with the sum handed over and
the change, the catalogue searched by name (a marked good only named),
a line's quantity and its discount (the PIN above the cashier's limit),
cancelled; on the manager screen a wrong PIN and the right one, the
overview, a return with the code and one without, the remark of the
latter with the label preview (read back by libdmtx), goods acceptance
with its missing report, then «Смена и касса»: cash in, cash out (and one
past the drawer, refused), the X-report read as a table (per operation,
payment form, the drawer), a correction receipt (one refused for its
missing reason), the Z-report, and the FN close refused while documents
are owed; the drawer's figures are worked out in the test from the cash
each step took; once everything is delivered the FN is closed from the
page (phase fnclose) and, its close report delivered, replaced by a new
one (phase fnreplace: a short number refused first). Every step at 1024x768 without horizontal scrolling and
without a console error.

Part 3 (after part 2), a remote shop's till on a clock the test moves
(KASSA_FAKE_NOW): at 49 hours of its three-day batch `kassa sale add`
and the cashier screen say how many hours are left (23), and a water
code (a 4-character tail the FN cannot check) shows the operator's answer
apart from the FN's; at 73 hours the refusal is read whole on the screen,
and the empty receipt a refused first scan left is shown, cancellable, and
does not block the manager's return (pages.js phases warning, stopped). Screenshots go to
tests/artifacts/browser/; --update-docs (or KASSA_UPDATE_DOCS=1) copies
those named in DOC_SHOTS into docs/.

Every answer `kassa serve` gives here (part 1's requests, and the pages'
in chromium, pages.js) is recorded into $KASSA_CONTRACT_RECORD when set,
for the contract test (tests/contract/check.mjs against docs/openapi.yaml).

Prints "N passed, N failed"; exit 1 on any failure, 77 when the browser
part cannot run.
"""
import base64
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import harness  # noqa: E402
from shop import record, record_start  # noqa: E402

KASSA, OPERATOR = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
HTTP_ONLY = "--http-only" in sys.argv
UPDATE_DOCS = "--update-docs" in sys.argv or os.environ.get("KASSA_UPDATE_DOCS") == "1"
CHROMIUM = os.environ.get("KASSA_CHROMIUM", "/usr/bin/chromium")
WEB = os.path.join(REPO, "pos", "serve", "web")
ARTIFACTS = os.path.join(REPO, "tests", "artifacts", "browser")
# The screenshots docs/ shows (README, docs/API.md "the pages").
DOC_SHOTS = ("cashier-refused.png", "cashier-change.png", "cashier-discount.png",
             "manager-remark.png", "manager-fn-replaced.png",
             "manager-cash.png", "manager-x-report.png", "manager-correction.png",
             "manager-z-report.png")
FN_NUMBER = "9999078900007002"
TOKEN = "pages-test-" + os.urandom(8).hex()
PIN = "5173"
OWNER = "7707083893"
GS = "\x1d"

check = harness.Checks()
root = tempfile.mkdtemp(prefix="kassa-pages-")
till_dir = os.path.join(root, "till")
op_dir = os.path.join(root, "operator")
conf = os.path.join(root, "kassa.conf")
procs = []


def Serve(env=None, conf=conf):  # noqa: N802 (a class's name: `kassa serve` on ports it picks)
    return harness.Serve(KASSA, conf, procs, env=env)


def op(*args):
    return subprocess.run([OPERATOR, "--data", op_dir] + list(args), capture_output=True,
                          text=True, timeout=60)


def kassa(*args):
    return subprocess.run([KASSA, "--config", conf] + list(args), capture_output=True, text=True,
                          timeout=120)


def issue(gtin13, group, count):
    r = op("issue", "--gtin", "0" + gtin13, "--group", group, "--count", str(count), "--owner",
           OWNER)
    codes = [c.replace("\\x1d", GS) for c in r.stdout.split()]
    check(f"issue {group} {gtin13}", r.returncode == 0 and len(codes) == count, r.stderr)
    return codes


def ki(code):
    return code.split(GS)[0]


def raw_get(port, target, host=None):
    """GET target exactly as written (no client-side normalisation)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    req = f"GET {target} HTTP/1.1\r\nHost: {host or f'127.0.0.1:{port}'}\r\nConnection: close\r\n\r\n"
    s.sendall(req.encode("latin-1"))
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/") else 0
    fields = dict(line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:]
                  if ": " in line)
    record("api", "GET", target, status, fields, body)
    return status, head.decode("latin-1"), body


def request(port, method, path, body=None, token=None, pin=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    if token:
        h["Authorization"] = "Bearer " + token
    if pin:
        h["X-Manager-PIN"] = pin
    h.update(headers or {})
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    raw = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    conn.close()
    record("api", method, path, r.status, hdrs, raw)
    try:
        j = json.loads(raw)
    except ValueError:
        j = None
    return r.status, j, hdrs, raw


def save(png_bytes, name):
    path = os.path.join(root, name)
    with open(path, "wb") as f:
        f.write(png_bytes)
    return path


def read_qr(png_bytes, name):
    """The texts zbar (zbarimg, zbar-tools) reads in a picture."""
    r = subprocess.run(["zbarimg", "--nodbus", "--raw", "-q", save(png_bytes, name)],
                       capture_output=True, text=True, timeout=60)
    return r.stdout.splitlines()


def read_marking_codes(png_bytes, name):
    """The marking codes `kassa scan --image` (libdmtx) reads in a picture,
    in canonical form (GS as 0x1D)."""
    r = subprocess.run([KASSA, "scan", "--image", save(png_bytes, name)], capture_output=True,
                       text=True, timeout=60)
    codes = []
    for line in r.stdout.splitlines():
        try:
            j = json.loads(line)
        except ValueError:
            continue
        if j.get("ok"):
            codes.append(j.get("normalized"))
    return codes


def http_part(S, codes):
    port = S.api

    def api(method, path, body=None, pin=None):
        st, j, _, _ = request(port, method, path, body, token=TOKEN, pin=pin)
        return st, j or {}

    # ---- the pages and their files ------------------------------------------------
    for path, name, ctype in [("/", "index.html", "text/html; charset=utf-8"),
                              ("/manager", "manager.html", "text/html; charset=utf-8"),
                              ("/app.css", "app.css", "text/css; charset=utf-8"),
                              ("/api.js", "api.js", "text/javascript; charset=utf-8"),
                              ("/cashier.js", "cashier.js", "text/javascript; charset=utf-8"),
                              ("/manager.js", "manager.js", "text/javascript; charset=utf-8"),
                              ("/office.js", "office.js", "text/javascript; charset=utf-8"),
                              ("/lines.js", "lines.js", "text/javascript; charset=utf-8"),
                              ("/favicon.svg", "favicon.svg", "image/svg+xml"),
                              ("/scan.svg", "scan.svg", "image/svg+xml")]:
        st, _, h, raw = request(port, "GET", path)
        with open(os.path.join(WEB, name), "rb") as f:
            want = f.read()
        check(f"page {path}: 200, the file, {ctype}, no token needed",
              st == 200 and raw == want and h.get("content-type") == ctype, (st, h))
        check(f"page {path}: security headers",
              "script-src 'self'" in h.get("content-security-policy", "")
              and "frame-ancestors 'none'" in h.get("content-security-policy", "")
              and h.get("x-frame-options") == "DENY" and h.get("x-content-type-options") ==
              "nosniff", h)
    st, j, h, _ = request(port, "GET", "/api/status")
    check("the API still wants the token", st == 401 and j["error"] == "unauthorized", (st, j))

    with open(os.path.join(REPO, "README.md"), "rb") as f:
        readme = f.read()[:200]
    for target in ["/../README.md", "/%2e%2e/README.md", "/..%2fREADME.md",
                   "/%2e%2e%2f%2e%2e%2fREADME.md", "/.%2e/.%2e/README.md", "/pos/serve/web/index.html",
                   "//etc/passwd", "/%2fetc%2fpasswd", "/..%2f..%2f..%2fetc%2fpasswd",
                   "/index.html%00.css", "/index.html%2f..", "/INDEX.HTML", "/.gitignore",
                   "/web/../../README.md", "/manager/../../README.md", "/%252e%252e/README.md"]:
        st, head, body = raw_get(port, target)
        check(f"traversal {target}: refused, nothing leaks",
              st in (400, 404) and readme not in body and b"root:x:" not in body, (st, head))
    st, head, body = raw_get(port, "/", host="pages.evil.example")
    check("a foreign Host gets no page", st == 403 and b"bad_host" in body, head)
    st, j, h, raw = request(port, "POST", "/", body={})
    check("POST / is 405 with Allow: GET", st == 405 and h.get("allow") == "GET", (st, h))

    # ---- what the API gained for the pages ---------------------------------------------
    st, j = api("POST", "/api/shift/open", {"cashier": "Тестова"})
    check("shift open (HTTP part)", st == 200, (st, j))
    st, j = api("GET", "/api/status")
    ob = j.get("outbox", {})
    check("status: batch facts for the manager", st == 200 and ob.get("batch_applies") is False
          and ob.get("unexported_notifications") == 0 and ob.get("batch_deadline_hours") == 72
          and "oldest_unexported_age_s" in ob, ob)
    st, j = api("POST", "/api/receipts", {"cashier": "Тестова"})
    check("receipt opened", st == 201, (st, j))
    st, j = api("POST", "/api/receipts/current/items", {"code": codes["bananas"]})
    d = j.get("decision", {})
    check("weighed without a weight: 400 naming the quantity and the product",
          st == 400 and j.get("error") == "argument" and j.get("field") == "quantity"
          and d.get("product", {}).get("weighed") is True and "вес" in j.get("message_ru", ""),
          (st, j))
    st, j = api("POST", "/api/receipts/current/items", {"code": codes["jeans"][3], "quantity": 2})
    check("a marked good twice: 400 naming the quantity", st == 400 and j.get("field") ==
          "quantity" and "поштучно" in j.get("message_ru", ""), (st, j))
    st, j = api("POST", "/api/receipts/current/items",
                {"code": codes["bananas"], "quantity": "1.25"})
    check("weighed with a weight", st == 201, (st, j))
    # A second pair sold: the manager's return takes one back without its
    # code, which needs a sold unit left (issue 18, pos/till/money.h).
    st, j = api("POST", "/api/receipts/current/items", {"code": codes["jeans"][3]})
    check("a second pair of jeans sold", st == 201, (st, j))
    st, j = api("POST", "/api/receipts/current/pay", {"method": "cash", "width": 32})
    rc = j.get("receipt", {})
    codes["second_pair_fd"] = rc.get("document")  # its line 2: the return without a code names it
    png = base64.b64decode(rc.get("qr_png") or "")
    check("closed receipt carries the QR as PNG", st == 200 and png.startswith(b"\x89PNG"),
          (st, rc.get("qr")))
    found = read_qr(png, "qr.png")
    check("the QR PNG reads back as the receipt's QR string", rc.get("qr") in found,
          (rc.get("qr"), found))
    st, j = api("GET", f"/api/receipts/{rc.get('document')}/text?width=32")
    check("reprint carries the same QR and its PNG", st == 200 and j.get("qr") == rc.get("qr")
          and base64.b64decode(j.get("qr_png") or "") == png and j.get("text") == rc.get("text"),
          (st, {k: v for k, v in j.items() if k != "qr_png"}))

    # A remark by code (a good accepted into stock, its code damaged), then its label again.
    shoe = codes["shoes"][0]
    st, j = api("POST", "/api/accept", {"list": shoe, "scanned": [shoe], "decision": "all"},
                pin=PIN)
    check("a shoe accepted into stock", st == 200 and j.get("outcome") == "accepted_all", (st, j))
    st, j = api("POST", "/api/remark", {"code": shoe}, pin=PIN)
    rm = j.get("remark", {})
    check("remark by code", st == 201 and rm.get("new_code") in codes["pool"], (st, j))
    new = rm.get("new_code", "")
    st, j = api("POST", "/api/labels", {"code": new})
    check("label again needs the PIN", st == 403 and j.get("error") == "manager_pin_required",
          (st, j))
    st, j = api("POST", "/api/labels", {"code": new}, pin=PIN)
    lb = j.get("label", {})
    png = base64.b64decode(lb.get("png") or "")
    check("label again: PNG, page, text", st == 200 and png.startswith(b"\x89PNG")
          and png == base64.b64decode(rm.get("label_png") or "")
          and lb.get("gtin") == "0" + codes["SHOES"] and lb.get("bracketed", "").startswith(
              "(01)0" + codes["SHOES"]) and "<img" in lb.get("html", "")
          and lb.get("remarked_from") == ki(shoe), (st, {k: v for k, v in lb.items()
                                                       if k not in ("png", "html")}))
    found = read_marking_codes(png, "label.png")
    check("the label reads back as the new code", any(t == new for t in found), (new, found))
    st, j = api("POST", "/api/labels", {"code": codes["jeans"][4]}, pin=PIN)
    check("label of a code never remarked here: 409", st == 409 and j.get("error") ==
          "not_remarked", (st, j))
    st, j = api("POST", "/api/labels", {"code": ki(new)}, pin=PIN)
    check("label of a code without its tail: 422", st == 422 and j.get("error") == "no_tail",
          (st, j))
    st, j = api("POST", "/api/labels", {"code": "hello"}, pin=PIN)
    check("label of no code: 422 naming the field", st == 422 and j.get("field") == "code",
          (st, j))
    # Leave the shift closed: the browser part opens it from the cashier screen.
    st, j = api("POST", "/api/shift/close", {"cashier": "Тестова"})
    check("shift closed (HTTP part)", st == 200, (st, j))


def browser_part(S, codes):
    if not os.path.exists(CHROMIUM):
        print(f"SKIP browser part: {CHROMIUM} not found (scripts/install-deps installs "
              "Debian's chromium)")
        return 77
    node = shutil.which("node")
    npm = shutil.which("npm")
    if not node or not npm:
        print("SKIP browser part: node and npm not found (scripts/install-deps installs them)")
        return 77
    with open(os.path.join(HERE, "package-lock.json")) as f:
        pinned = json.load(f)["packages"]["node_modules/playwright-core"]["version"]
    try:
        with open(os.path.join(HERE, "node_modules", "playwright-core", "package.json")) as f:
            installed = json.load(f).get("version")
    except (OSError, ValueError):
        installed = None
    if installed != pinned:  # missing, or left from another lock file
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE,
                           capture_output=True, text=True, timeout=600)
        if not check("npm ci (playwright-core)", r.returncode == 0, r.stdout + r.stderr):
            return 1
    st, j, _, _ = request(S.api, "GET", "/api/reasons", token=TOKEN)
    reasons = {x["reason"]: x["message_ru"] for x in (j or {}).get("reasons", [])}
    os.makedirs(ARTIFACTS, exist_ok=True)
    scenario = {
        "base": f"http://127.0.0.1:{S.api}",
        "token": TOKEN,
        "pin": PIN,
        "chromium": CHROMIUM,
        "artifacts": ARTIFACTS,
        "sale_code": codes["jeans"][0],
        "fake_code": harness.tamper(codes["jeans"][1]),
        "fraction_code": codes["jeans"][2],
        "counterfeit_ru": reasons.get("counterfeit", ""),
        "bread": codes["BREAD"],
        "bananas": codes["bananas"],
        "jeans_ean": codes["JEANS"],
        "second_pair_fd": codes.get("second_pair_fd"),
        "fn_number": FN_NUMBER,
        "new_fn_number": "9999078900007003",
        "accept_list": codes["shoes"][1:3],
        "pool": codes["pool"],
        "out": os.path.join(root, "pages-out.json"),
    }
    path = os.path.join(root, "scenario.json")
    with open(path, "w") as f:
        json.dump(scenario, f)
    ok = True
    for phase in ("cashier", "manager", "fnclose", "fnreplace"):
        ok = run_phase(path, phase) and ok
        if phase != "fnreplace":
            # The store's delivery timer: the operator hears of the sale, so
            # the return of its code is one the operator can accept; the FN
            # closes only with everything delivered, and is replaced only
            # once its close report is.
            r = kassa("ofd", "flush")
            check(f"documents delivered after the {phase} part", r.returncode == 0,
                  r.stdout + r.stderr)
    try:
        with open(scenario["out"]) as f:
            out = json.load(f)
    except (OSError, ValueError):
        out = {}
    # The label the manager saw reads back (libdmtx) as the new code it names.
    png = base64.b64decode(out.get("label_png") or "")
    found = read_marking_codes(png, "page-label.png") if png else []
    check("the label preview on the page reads back as the new code",
          out.get("new_code") and out.get("new_code") in found
          and out.get("new_code") in codes["pool"], (out.get("new_code"), found))
    if UPDATE_DOCS and ok:
        for name in DOC_SHOTS:
            shutil.copyfile(os.path.join(ARTIFACTS, name), os.path.join(REPO, "docs", name))
        print("updated in docs/: " + ", ".join(DOC_SHOTS))
    return 0


def run_phase(path, phase):
    """pages.js SCENARIO PHASE: True when every browser check passed."""
    r = subprocess.run([shutil.which("node"), os.path.join(HERE, "pages.js"), path, phase],
                       capture_output=True, text=True, timeout=300)
    print(r.stdout, end="")
    counts = [l for l in r.stdout.splitlines() if l.startswith("pages.js: ")]
    good = r.returncode == 0 and bool(counts) and " 0 failed" in counts[-1]
    check(f"pages.js {phase}: every browser check passed", good, r.stderr[-3000:])
    if counts:
        check.passed += int(counts[-1].split()[1]) - (1 if good else 0)
    return good


def remote_part(ports, codes):
    """A remote shop (an autonomous FN, the three-day batch) on a clock
    run.py moves (KASSA_FAKE_NOW): `kassa sale add` and the cashier screen
    at 49 h (the warning, the true hours left; a 4-character tail the
    operator answered for), then at 73 h (the refusal read whole; a refused
    first scan that blocks nobody)."""
    data = os.path.join(root, "remote")
    os.makedirs(data)
    conf2 = os.path.join(root, "remote.conf")
    with open(conf) as f:
        text = f.read().replace(f"data = {till_dir}", f"data = {data}")
    with open(conf2, "w") as f:
        f.write(text)
    t0 = int(time.time()) + time.localtime().tm_gmtoff
    hour = 3600

    def remote(at, *args):
        return subprocess.run([KASSA, "--config", conf2] + list(args), capture_output=True,
                              text=True, timeout=120, env=dict(os.environ,
                                                               KASSA_FAKE_NOW=str(t0 + at)))

    def must(at, *args):
        r = remote(at, *args)
        check(f"remote at {at // hour} h: kassa {' '.join(args)[:60]}", r.returncode == 0,
              r.stdout[-500:] + r.stderr[-1000:])
        return r

    escaped = lambda c: c.replace(GS, "\\x1d")  # noqa: E731
    must(0, "fn", "init", "--fn-number", "9999078900007003")
    must(0, "fn", "register", "--reg-number", "0000000001012345", "--inn", OWNER, "--name",
         "ООО «Ромашка»", "--address", "д. Дальняя, 1", "--cashier", "Иванова", "--autonomous")
    r = op("fn", "add", "--fn-db", os.path.join(data, "fn.db"))
    check("remote: the operator knows the FN", r.returncode == 0, r.stderr)
    must(0, "ofd", "keys")
    must(0, "cache", "import-catalogue", os.path.join(REPO, "config", "catalogue.csv"))
    must(0, "cache", "sync", "--owner", OWNER)
    must(0, "shift", "open")
    must(0, "sale", "open")
    must(0, "sale", "add", "--escaped", escaped(codes["jeans"][5]))
    must(0, "sale", "pay")
    must(hour, "shift", "close")
    # 49 h: `kassa sale add` says how long is left (it said nothing before).
    must(49 * hour, "shift", "open")
    must(49 * hour, "sale", "open")
    r = must(49 * hour, "sale", "add", "--escaped", escaped(codes["water"][0]))
    check("remote at 49 h: kassa sale add warns with the true hours left",
          "через 23 часа продажа маркированных товаров будет остановлена" in r.stdout
          and "in 23 hours sales of marked goods stop" in r.stdout, r.stdout)
    must(49 * hour, "sale", "cancel")
    scenario = {"token": TOKEN, "pin": PIN, "chromium": CHROMIUM, "artifacts": ARTIFACTS,
                "water_code": codes["water"][1], "jeans_code": codes["jeans"][4]}
    path = os.path.join(root, "remote-scenario.json")
    for at, phase in ((49, "warning"), (73, "stopped")):
        if at == 73:
            must(73 * hour, "shift", "close")
            must(73 * hour, "shift", "open")
        S = Serve(env=dict(os.environ, KASSA_FAKE_NOW=str(t0 + at * hour)), conf=conf2)
        if not check(f"remote at {at} h: kassa serve ready", S.api, S.line):
            return
        scenario[f"remote{at}"] = f"http://127.0.0.1:{S.api}"
        with open(path, "w") as f:
            json.dump(scenario, f)
        run_phase(path, phase)
        code, err = S.stop()
        check(f"remote at {at} h: kassa serve exits 0", code == 0, (code, err[-2000:]))


def main():
    record_start()  # this run's answers only (pages.js appends the browser's)
    os.makedirs(till_dir)
    os.makedirs(op_dir)
    ofd_port, oism_port, keys_port, op_http = harness.free_ports(4)
    with open(conf, "w") as f:
        f.write(f"""[paths]
data = {till_dir}
web = {WEB}
[operator]
ofd_port = {ofd_port}
oism_port = {oism_port}
keys_port = {keys_port}
http_port = {op_http}
host = 127.0.0.1
[service]
background = no
[till]
check = both
budget_ms = 1500
manager_pin = {PIN}
api_token = {TOKEN}
tax_system = 1
[trueapi]
cdn_url =
api_key = demo-key
""")
    JEANS, SHOES, BREAD, BANANAS = "4601234501026", "4601234500012", "4604440000017", \
        "4604440000048"
    WATER = "4605550000010"
    codes = {"JEANS": JEANS, "SHOES": SHOES, "BREAD": BREAD, "bananas": BANANAS,
             "jeans": issue(JEANS, "lp", 6), "shoes": issue(SHOES, "footwear", 3),
             "water": issue(WATER, "water", 2)}
    codes["pool"] = issue(JEANS, "lp", 2) + issue(SHOES, "footwear", 1)

    harness.register_fn(kassa, op, check, FN_NUMBER, OWNER, os.path.join(till_dir, "fn.db"))
    oper = subprocess.Popen([OPERATOR, "--data", op_dir, "--ofd-port", str(ofd_port),
                             "--oism-port", str(oism_port), "--keys-port", str(keys_port),
                             "--http-port", str(op_http)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    procs.append(oper)
    check("operator ready", oper.stdout.readline().startswith("kassa-operator: ofd"))
    r = kassa("ofd", "keys")
    check("keys loaded", r.returncode == 0, r.stdout + r.stderr)
    r = kassa("cache", "sync", "--owner", OWNER)
    check("cache synced", r.returncode == 0, r.stdout + r.stderr)
    r = kassa("cache", "import-catalogue", os.path.join(REPO, "config", "catalogue.csv"))
    check("catalogue imported", r.returncode == 0, r.stdout + r.stderr)
    pool_file = os.path.join(root, "pool.txt")
    with open(pool_file, "w") as f:
        f.write("\n".join(c.replace(GS, "\\x1d") for c in codes["pool"]) + "\n")
    r = kassa("cache", "pool", "add", pool_file)
    check("pool filled", r.returncode == 0, r.stdout + r.stderr)

    S = Serve()
    if not check("kassa serve ready", S.api, S.line):
        return 1
    http_part(S, codes)
    rc = 0 if HTTP_ONLY else browser_part(S, codes)
    code, err = S.stop()
    if rc == 0 and not HTTP_ONLY:
        remote_part((ofd_port, oism_port, keys_port, op_http), codes)
    check("kassa serve exits 0 on SIGTERM", code == 0, (code, err[-2000:]))
    check("no sanitizer report", "Sanitizer" not in err and "runtime error" not in err,
          err[-2000:])
    return rc


try:
    status = main()
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()

summary = check.summary()
if check.failed:
    print(f"data kept for a look: {root}")
else:
    shutil.rmtree(root, ignore_errors=True)
sys.exit(summary if summary else (status or 0))

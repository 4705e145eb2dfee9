"""shop.py: a whole shop for the front-end tests, and HTTP that records.

Shop(kassa, operator, check, prefix) makes a temporary folder with a
kassa.conf and creates and registers a marking FN; the test issues the
codes it needs (shop.issue), then shop.start() starts kassa-operator on
fresh loopback ports, gives the FN the operator's keys and imports the demo
catalogue (config/catalogue.csv), with each step checked. Then the test
drives `kassa serve` (shop.serve()) through HTTP only.

exchange() is the one door every HTTP call of these tests goes through:
besides answering (status, parsed JSON, headers) it appends the request and
the answer to the file named by KASSA_CONTRACT_RECORD (one JSON object a
line: port "api" or "lm", method, path, query, status, content type, body),
which tests/contract/check.mjs validates against docs/openapi.yaml, so the
document cannot drift from what the till answers. RecordingProxy records
the same way for clients the tests do not write themselves (the curl
lines of the docs): it stands on a port of its own in front of one of
`kassa serve`'s.
"""
import base64
import http.client
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse

import harness

GS = "\x1d"
OWNER = "7707083893"


_recorded = set()  # files this process has started (the first write empties one)
_record_lock = threading.Lock()  # RecordingProxy's threads write too


def record(port_kind, method, path, status, headers, text):
    """Appends one exchange to $KASSA_CONTRACT_RECORD (nothing when unset);
    the process's first write starts the file afresh."""
    target = os.environ.get("KASSA_CONTRACT_RECORD")
    if not target:
        return
    url = urllib.parse.urlsplit(path)
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    try:
        body = json.loads(text) if "json" in ctype else None
    except ValueError:
        body = {"_unparsed": True}
    line = json.dumps({"port": port_kind, "method": method, "path": url.path, "query": url.query,
                       "status": status, "contentType": ctype, "body": body},
                      ensure_ascii=False) + "\n"
    with _record_lock:
        mode = "a" if target in _recorded else "w"
        _recorded.add(target)
        with open(target, mode, encoding="utf-8") as f:
            f.write(line)


def record_start():
    """Empties $KASSA_CONTRACT_RECORD (when set) for this run, so that
    another process (tests/browser/pages.js) may append to it."""
    target = os.environ.get("KASSA_CONTRACT_RECORD")
    if target:
        with _record_lock:
            open(target, "w").close()
            _recorded.add(target)


HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te",
              "trailer", "upgrade", "proxy-connection", "server", "date"}


class RecordingProxy:
    """A port of its own on 127.0.0.1 (port) that passes every request to
    127.0.0.1:target as it came (method, target, headers, body; a Host
    naming the proxy is rewritten to name the target, any other Host is
    left for the target's gate to judge), answers what the target answered
    (status, headers, body) and record()s the exchange as port_kind ("api"
    or "lm"). GET, POST, PUT, DELETE and PATCH; one connection a request
    (Connection: close). stop() ends its thread."""

    def __init__(self, target, port_kind):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # the test's output is its checks
                pass

            def relay(self):
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else None
                headers = {}
                for k, v in self.headers.items():
                    if k.lower() == "host":
                        v = re.sub(rf"^(127\.0\.0\.1|localhost):{proxy.port}$",
                                   rf"\g<1>:{target}", v, flags=re.I)
                    if k.lower() not in HOP_BY_HOP:
                        headers[k] = v
                conn = http.client.HTTPConnection("127.0.0.1", target, timeout=120)
                try:
                    conn.putrequest(self.command, self.path, skip_host=True,
                                    skip_accept_encoding=True)
                    for k, v in headers.items():
                        conn.putheader(k, v)
                    if data is not None:
                        conn.putheader("Content-Length", str(len(data)))
                    conn.endheaders(data)
                    r = conn.getresponse()
                    body = r.read()
                    answer = r.getheaders()
                finally:
                    conn.close()
                record(port_kind, self.command, self.path, r.status, dict(answer), body)
                self.send_response_only(r.status, r.reason)
                for k, v in answer:
                    if k.lower() not in HOP_BY_HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def exchange(port, port_kind, method, path, body=None, headers=None, raw=None, timeout=60):
    """One HTTP request to 127.0.0.1:port: (status, JSON or {"_raw": bytes},
    headers). body is sent as JSON (with its Content-Type), raw as it is."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode()
        h.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        text = r.read()
        hdrs = dict(r.getheaders())
    finally:
        conn.close()
    record(port_kind, method, path, r.status, hdrs, text)
    try:
        j = json.loads(text)
    except ValueError:
        j = {"_raw": text[:200]}
    return r.status, j, hdrs


class Shop:
    def __init__(self, kassa, operator, check, prefix, token="shop-token", pin="2468",
                 extra_conf=""):
        self.kassa_bin, self.operator_bin, self.check = kassa, operator, check
        self.token, self.pin = token, pin
        self.root, self.till_dir, self.op_dir = harness.workdirs(prefix, "till", "operator")
        self.conf = os.path.join(self.root, "kassa.conf")
        self.procs = []
        ports = harness.free_ports(4)
        with open(self.conf, "w") as f:
            f.write(f"""[paths]
data = {self.till_dir}
web = {os.path.abspath("pos/serve/web")}
[operator]
ofd_port = {ports[0]}
oism_port = {ports[1]}
keys_port = {ports[2]}
http_port = {ports[3]}
host = 127.0.0.1
[service]
background = no
[till]
check = both
budget_ms = 1500
cache_stale_hours = 72
manager_pin = {pin}
api_token = {token}
tax_system = 1
[trueapi]
cdn_url =
api_key = demo-key
{extra_conf}""")
        self.ports = ports
        harness.register_fn(self.kassa, self.op, check, "9999078900001717", OWNER,
                            os.path.join(self.till_dir, "fn.db"))
        # KASSA_TEST_KKT: the FN goes into a register (harness.Register), else None.
        self.register = harness.into_register(self.conf, os.path.join(self.till_dir, "fn.db"),
                                              self.procs, ports)
        self.serving = None

    def start(self):
        """The operator on its ports, its keys in the FN (after issue(): the
        codes' keys are made when they are issued), the catalogue."""
        check = self.check
        self.operator = harness.Operator(self.operator_bin, self.op_dir, check, ports=self.ports)
        self.procs.append(self.operator.proc)
        harness.load_keys(self.kassa, check, self.register)
        r = self.kassa("cache", "import-catalogue", "config/catalogue.csv")
        check("catalogue imported", r.returncode == 0, r.stdout + r.stderr)

    def cli(self, *args):
        """A `kassa` command beside the running `kassa serve`. A register
        serves one connection at a time, as a real one does, and the
        service holds it (docs/HARDWARE.md): through one, the service is
        stopped (checked) for the command and started again on new ports
        (api() and lm() follow). Without a register the command just runs."""
        if not (self.register and self.serving and self.serving.p.poll() is None):
            return self.kassa(*args)
        rc, err = self.serving.stop()
        self.check("serve stops cleanly for the register's one connection",
                   rc == 0 and "Sanitizer" not in err, err[-2000:])
        try:
            return self.kassa(*args)
        finally:
            self.serve()

    def owed(self, seconds=30):
        """`kassa ofd status --json` (through cli()), parsed ({} when it
        failed); through a register, asked until it has delivered everything
        or `seconds` pass (harness.owed_after)."""
        def ask():
            r = self.cli("ofd", "status", "--json")
            return json.loads(r.stdout) if r.returncode == 0 else {}
        return harness.owed_after(ask, seconds if self.register else 0)

    def register_delivered(self, seconds=30):
        """Through a register: waits until it has delivered everything it
        owes (harness.register_delivered); whether it did. Without one: True."""
        return harness.register_delivered(lambda: self.api("GET", "/api/status"), seconds) \
            if self.register else True

    def set_till_option(self, name, value):
        """Adds `name = value` to the [till] section of kassa.conf (for the
        next `kassa serve`)."""
        with open(self.conf, encoding="utf-8") as f:
            text = f.read()
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(text.replace("[till]\n", f"[till]\n{name} = {value}\n", 1))

    def kassa(self, *args, env=None):
        return harness.run([self.kassa_bin, "--config", self.conf, *args], timeout=120, env=env)

    def op(self, *args):
        return harness.op(self.operator_bin, self.op_dir, *args)

    def issue(self, gtin13, group, count):
        """count genuine codes of the operator (GS as 0x1D)."""
        r = self.op("issue", "--gtin", "0" + gtin13, "--group", group, "--count", str(count),
                    "--owner", OWNER)
        codes = [harness.unescape(c) for c in r.stdout.split()]
        self.check(f"issue {group} {gtin13}", r.returncode == 0 and len(codes) == count,
                   r.stderr)
        return codes

    def serve(self, env=None):
        self.serving = harness.Serve(self.kassa_bin, self.conf, self.procs, env=env)
        self.check("kassa serve listens", self.serving.api is not None, self.serving.line)
        return self.serving

    def restart(self, env=None):
        """Stops the running `kassa serve` (checked: exit 0, no sanitizer
        report) and starts another (env: its environment)."""
        rc, err = self.serving.stop()
        self.check("serve stops cleanly", rc == 0 and "Sanitizer" not in err, err[-2000:])
        return self.serve(env=env)

    def api(self, method, path, body=None, key=None, pin=None, headers=None):
        h = {"Authorization": "Bearer " + self.token}
        if key:
            h["Idempotency-Key"] = key
        if pin:
            h["X-Manager-PIN"] = pin
        h.update(headers or {})
        st, j, _ = exchange(self.serving.api, "api", method, path, body, h)
        return st, j

    def lm(self, method, path, body=None, user="pos", password=None, headers=None, raw=None):
        h = {"Authorization": "Basic " + base64.b64encode(
            f"{user}:{password or self.token}".encode()).decode()}
        h.update(headers or {})
        st, j, _ = exchange(self.serving.lm, "lm", method, path, body, h, raw=raw)
        return st, j

    def close(self):
        harness.stop_all(self.procs)

    def finish(self):
        self.close()
        return harness.finish(self.check, self.root)


def script(kassa, operator, prefix, body, **shop_options):
    """A whole test script: the shop made, body(shop, check) run, `kassa
    serve` stopped (checked to exit 0) and every process ended even when
    the body fails; the summary line and the exit status."""
    check = harness.Checks()
    shop = None
    try:
        shop = Shop(kassa, operator, check, prefix, **shop_options)
        body(shop, check)
        if shop.serving and shop.serving.p.poll() is None:
            rc, err = shop.serving.stop()
            check("serve stops cleanly", rc == 0 and "Sanitizer" not in err, err[-2000:])
        harness.registers_clean(check)
    finally:
        if shop:
            shop.close()
    return harness.finish(check, shop.root) if shop else 1

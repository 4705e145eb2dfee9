#!/usr/bin/env python3
"""test_docs.py KASSA KASSA_OPERATOR SOURCE_DIR: the docs, run as their
readers would run them.

Every shell line of README.md and every `curl` example of docs/API.md is
extracted and run in the order written, each file against a fresh till and
kassa-operator, and the test fails when a line exits non-zero (unless the
answer shown beside it says `"ok":false`) or when a shown JSON answer names
a field the real answer lacks, or shows an `ok`, `error`, `reason` or HTTP
status the real one does not have. Nothing is listed here: a line another
change adds to either file is picked up the next run.

What a line is (README.md's "The examples here are tested" says the same
for its readers):
  - in a ```sh block, a line starting with "$ " is a command (a trailing
    "\\" continues it), the lines after it until the next "$ " its output;
    in a block without "$ " lines every line is a command (README.md) or
    every line starting with `curl` (docs/API.md), the others its output;
  - `<!-- docs-test: skip (why) -->` before a block skips the block, a
    command ending in `# docs-test: skip (why)` skips the line;
  - a command ending in `# docs-test: background` is a server: started in
    its own session, awaited on the 127.0.0.1:PORT its line names, stopped
    (SIGTERM, then SIGKILL) when the file's lines are done or the test fails.

How they run: from a fresh folder whose build/ and config/ are the tree's
(a fresh clone as far as the lines can tell), in one bash environment
carried from line to line (variables set by a line are there for the
next), with KASSA_CONFIG naming a copy of config/kassa.conf on free ports;
the documented ports (127.0.0.1:8780 the API, :5995 the local module,
:7790-:7793 the operator) are rewritten to those. A client's line reaches
the API and the local module through a recording proxy (shop.py's
RecordingProxy): every answer `kassa serve` gives a documented line is
recorded for the contract test (KASSA_CONTRACT_RECORD, checked against
docs/openapi.yaml by tests/contract/check.mjs). docs/API.md's examples
run against a till `kassa init --demo` made and `kassa serve`, with its
placeholders ($TOKEN, $PIN, $API_KEY, $CODE1 ... from the till's
demo-codes.txt, $NEW_CODE from the last remark's answer) filled in.

Before the files, the checker proves it can fail: a made-up document with
a failing line, a missing field, a wrong `error` and a skipped line must
give exactly those failures. Every process started is stopped at the end,
whatever happened. Prints "N passed, N failed".
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, free_ports, wait_listening  # noqa: E402
from shop import RecordingProxy  # noqa: E402

KASSA, OPERATOR, SOURCE = (os.path.abspath(a) for a in sys.argv[1:4])
BUILD = os.path.dirname(KASSA)
check = Checks()
LINE_TIMEOUT = 120
SERVE_PORTS = ((8780, "api"), (5995, "lm"))  # `kassa serve`'s, as documented: recorded

SKIP_BLOCK = re.compile(r"<!--\s*docs-test:\s*skip\b.*?-->")
SKIP_LINE = re.compile(r"#.*\bdocs-test:\s*skip\b")
BACKGROUND = re.compile(r"#.*\bdocs-test:\s*background\b")


# ---- extraction ------------------------------------------------------------

class Example:
    def __init__(self, source, line, command, output):
        self.source, self.line, self.command = source, line, command
        self.output = "\n".join(output).strip()
        self.skip = bool(SKIP_LINE.search(command))
        self.background = bool(BACKGROUND.search(command))

    def where(self):
        return f"{self.source}:{self.line}"


def join_continued(lines, i):
    """The command starting at lines[i] with its "\\" continuations, and
    the index after it."""
    text = lines[i][1]
    while text.rstrip().endswith("\\") and i + 1 < len(lines):
        i += 1
        text = text.rstrip()[:-1] + " " + lines[i][1].strip()
    return text, i + 1


def examples(name, text, curl_only):
    """Every example of a Markdown text, in order."""
    out = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        # The block's mark: the last non-blank line before its fence.
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        skipped = k >= 0 and SKIP_BLOCK.search(lines[k])
        body, i = [], i + 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append((i + 1, lines[i]))
            i += 1
        i += 1
        if fence.group(1) not in ("sh", "bash", "shell") or skipped:
            continue
        prompted = any(t.startswith("$ ") for _, t in body)
        is_command = (lambda t: t.startswith("$ ")) if prompted else (
            (lambda t: t.lstrip().startswith("curl ")) if curl_only else
            (lambda t: t.strip() and not t.lstrip().startswith("#")))
        j = 0
        while j < len(body):
            number, t = body[j]
            if not is_command(t):
                j += 1
                continue
            stripped = [(n, x[2:] if x.startswith("$ ") else x) for n, x in body]
            command, j = join_continued(stripped, j)
            output = []
            while j < len(body) and not is_command(body[j][1]):
                output.append(body[j][1])
                j += 1
            if curl_only and not command.lstrip().startswith("curl "):
                continue
            out.append(Example(name, number, command, output if prompted or curl_only else []))
    return out


# ---- what an answer must hold -------------------------------------------------

def shown_keys(text):
    return set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"\s*:', text))


def shown_scalars(text):
    """ok, error, reason as shown (the first of each)."""
    found = {}
    for key, value in re.findall(r'"(ok|error|reason)"\s*:\s*(true|false|"[^"]*")', text):
        found.setdefault(key, json.loads(value))
    return found


def real_objects(text):
    objs = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                objs.append(json.loads(line))
            except ValueError:
                pass
    return objs


def first_value(value, key):
    """The value of key where it first appears (in the order written:
    the order a shown answer is read in)."""
    if isinstance(value, dict):
        if key in value:
            return value[key]
        items = value.values()
    elif isinstance(value, list):
        items = value
    else:
        return None
    for v in items:
        found = first_value(v, key)
        if found is not None:
            return found
    return None


def all_keys(value, into):
    if isinstance(value, dict):
        for k, v in value.items():
            into.add(k)
            all_keys(v, into)
    elif isinstance(value, list):
        for v in value:
            all_keys(v, into)
    return into


def judge(ex, rc, stdout):
    """The failures of one run example, as strings ([] when it behaved)."""
    wrong = []
    shown = ex.output
    expects_refusal = '"ok":false' in shown.replace(" ", "")
    if rc != 0 and not expects_refusal:
        wrong.append(f"exit {rc}")
    status = re.search(r"^HTTP/1\.[01] (\d{3})", shown, re.M)
    if status:
        got = re.search(r"^HTTP/1\.[01] (\d{3})", stdout, re.M)
        if not got or got.group(1) != status.group(1):
            wrong.append(f"HTTP {got.group(1) if got else '?'}, shown {status.group(1)}")
    if "{" in shown and shown_keys(shown):
        objs = real_objects(stdout)
        if not objs:
            wrong.append("no JSON answer")
        else:
            have = set()
            for o in objs:
                all_keys(o, have)
            missing = sorted(shown_keys(shown) - have)
            if missing:
                wrong.append(f"fields missing from the answer: {missing}")
            for key, value in shown_scalars(shown).items():
                real = first_value(objs[0], key)
                if real != value:
                    wrong.append(f"{key} is {real!r}, shown {value!r}")
    return wrong


# ---- running -------------------------------------------------------------------

class Session:
    """One bash environment carried from line to line, in folder `home`,
    ports rewritten, placeholders filled; background servers remembered.
    The documented ports in `proxied` are, for every line but a server's,
    a RecordingProxy's in front of the real one."""

    def __init__(self, home, env, ports, placeholders=None, proxied=()):
        self.home, self.env, self.ports = home, env, ports
        self.placeholders = placeholders if placeholders is not None else {}
        self.state = os.path.join(home, ".docs-test-env")
        self.servers = []
        self.proxies = {shown: RecordingProxy(ports[shown], kind) for shown, kind in proxied}
        with open(self.state, "w") as f:
            f.write("")

    def rewrite(self, command, background=False):
        for shown, real in self.ports.items():
            if shown in self.proxies and not background:
                real = self.proxies[shown].port
            command = command.replace(f"127.0.0.1:{shown}", f"127.0.0.1:{real}")

        def fill(m):
            return self.placeholders.get(m.group(1), m.group(0))
        return re.sub(r"\$([A-Z][A-Z0-9_]*)\b", fill, command)

    def wrapper(self, command):
        script = os.path.join(self.home, ".docs-test-line")
        with open(script, "w") as f:
            f.write(command + "\n")
        return (f'set -a; . "{self.state}"; cd "${{DOCS_TEST_PWD:-{self.home}}}"; '
                f'. "{script}"; rc=$?; DOCS_TEST_PWD=$PWD; export -p > "{self.state}"; exit $rc')

    def run(self, ex):
        command = self.rewrite(ex.command, ex.background)
        if ex.background:
            port = re.search(r"127\.0\.0\.1:(\d+)", command)
            log = open(os.path.join(self.home, f"server-{len(self.servers)}.log"), "w")
            p = subprocess.Popen(["bash", "-c", self.wrapper("exec " + command)], env=self.env,
                                 cwd=self.home, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            self.servers.append(p)
            up = bool(port) and wait_listening(int(port.group(1)), 30)
            return (0 if up and p.poll() is None else 1), f"(background, listening: {up})", ""
        try:
            p = subprocess.run(["bash", "-c", self.wrapper(command)], env=self.env, cwd=self.home,
                               capture_output=True, text=True, timeout=LINE_TIMEOUT)
            return p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired:
            return 124, "", f"timed out after {LINE_TIMEOUT} s"

    def variable(self, name):
        m = re.search(rf'^declare -x {name}="(.*)"$', open(self.state).read(), re.M)
        return m.group(1) if m else None

    def stop(self):
        for proxy in self.proxies.values():
            proxy.stop()
        for p in self.servers:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()


def run_all(session, exs, capture=None):
    """Runs exs in order; each failure is a failed check. Returns the
    number of failures."""
    failures = 0
    for ex in exs:
        if ex.skip:
            continue
        rc, out, err = session.run(ex)
        wrong = judge(ex, rc, out) if not ex.background else ([] if rc == 0 else ["not started"])
        check(f"{ex.where()}: {ex.command[:90]}", not wrong,
              f"{wrong}\n  ran: {session.rewrite(ex.command, ex.background)[:400]}"
              f"\n  stdout: {out[:600]}\n  stderr: {err[:600]}")
        failures += bool(wrong)
        if capture:
            capture(out)
    return failures


def stop_operator(data_dir):
    """The kassa-operator `kassa init --demo` left running for data_dir."""
    if not data_dir:
        return
    pid_file = os.path.join(data_dir, "operator", "kassa-operator.pid")
    try:
        pid = int(open(pid_file).read().strip())
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError):
        pass


def config_on_free_ports(path, data):
    """A copy of config/kassa.conf on free ports, its paths the tree's.
    Returns {documented port: real port}."""
    http, lm, ofd, oism, keys, op_http = free_ports(6)
    text = open(os.path.join(SOURCE, "config", "kassa.conf")).read()
    section = None
    out = []
    for line in text.split("\n"):
        m = re.match(r"^\[(\w+)\]", line)
        if m:
            section = m.group(1)
        key = re.match(r"^(\w+)\s*=", line)
        values = {("paths", "data"): data,
                  ("paths", "demo_codes"): os.path.join(SOURCE, "config", "demo-codes.txt"),
                  ("paths", "web"): os.path.join(SOURCE, "pos", "serve", "web"),
                  ("service", "http_port"): http, ("service", "lm_port"): lm,
                  ("operator", "ofd_port"): ofd, ("operator", "oism_port"): oism,
                  ("operator", "keys_port"): keys, ("operator", "http_port"): op_http}
        if key and (section, key.group(1)) in values:
            line = f"{key.group(1)} = {values[(section, key.group(1))]}"
        out.append(line)
    with open(path, "w") as f:
        f.write("\n".join(out))
    return {8780: http, 5995: lm, 7790: ofd, 7791: oism, 7792: keys, 7793: op_http}


def fresh_home(root, name):
    home = os.path.join(root, name)
    os.makedirs(home)
    os.symlink(BUILD, os.path.join(home, "build"))
    os.symlink(os.path.join(SOURCE, "config"), os.path.join(home, "config"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}
    env["KASSA_CONFIG"] = os.path.join(home, "kassa.conf")
    env["KASSA_OPERATOR"] = OPERATOR
    env["PATH"] = BUILD + os.pathsep + env.get("PATH", "")
    ports = config_on_free_ports(env["KASSA_CONFIG"], os.path.join(home, "data"))
    return home, env, ports


# ---- the checker can fail ------------------------------------------------------

def self_test(root):
    doc = "\n".join([
        "```sh",
        "$ true",
        "$ false",
        "$ echo '{\"ok\":true,\"a\":1}'",
        '{"ok":true,"a":1,"b":2}',
        "$ echo '{\"ok\":false,\"error\":\"x\"}'; exit 1",
        '{"ok":false,"error":"y"}',
        "$ false   # docs-test: skip (never run)",
        "```",
        "<!-- docs-test: skip (a block never run) -->",
        "```sh",
        "false",
        "```",
        "```sh",
        "echo plain \\",
        "  continued",
        "```",
    ])
    exs = examples("self-test.md", doc, curl_only=False)
    home = os.path.join(root, "self-test")
    os.makedirs(home)
    session = Session(home, dict(os.environ), {})
    verdicts = []
    for ex in exs:
        if ex.skip:
            verdicts.append("skip")
            continue
        rc, out, _ = session.run(ex)
        verdicts.append(judge(ex, rc, out))
    expected = [[], ["exit 1"], ["fields missing from the answer: ['b']"],
                ["error is 'x', shown 'y'"], "skip", []]
    check("self-test: the checker finds a failing line, a missing field, a wrong error, and "
          "honours skips and continuations", verdicts == expected, (verdicts, expected))
    check("self-test: the continued line ran whole", exs[-1].command.endswith("continued"),
          exs[-1].command)


# ---- the files -------------------------------------------------------------------

def readme(root):
    home, env, ports = fresh_home(root, "readme")
    session = Session(home, env, ports, proxied=SERVE_PORTS)
    exs = examples("README.md", open(os.path.join(SOURCE, "README.md")).read(), curl_only=False)
    check("README.md: examples found", len([e for e in exs if not e.skip]) >= 20, len(exs))
    try:
        run_all(session, exs)
    finally:
        session.stop()
        stop_operator(session.variable("KASSA_DATA") or os.path.join(home, "data"))


def json_code(escaped):
    """A code as demo-codes.txt writes it (\\x1d) as it goes in JSON."""
    return escaped.replace("\\x1d", "\\u001d")


def api(root):
    home, env, ports = fresh_home(root, "api")
    data = os.path.join(home, "data")
    env["KASSA_DATA"] = data
    session = Session(home, env, ports, proxied=SERVE_PORTS)
    try:
        r = subprocess.run([KASSA, "init", "--demo"], env=env, cwd=home, capture_output=True,
                           text=True, timeout=LINE_TIMEOUT)
        if not check("api: kassa init --demo", r.returncode == 0, r.stdout[-800:] + r.stderr):
            return
        codes = {}
        for line in open(os.path.join(data, "demo-codes.txt")):
            if not line.startswith("#"):
                code, gtin, _ = line.rstrip("\n").split("\t")
                codes.setdefault(gtin, []).append(code)
        jeans, shoes, milk = (codes["04601234501026"], codes["04601234500012"],
                              codes["04609876500018"])
        issued = subprocess.run([OPERATOR, "--data", os.path.join(data, "operator"), "issue",
                                 "--gtin", "04601234501026", "--group", "lp", "--count", "2",
                                 "--owner", "7707083893"], capture_output=True, text=True,
                                timeout=60)
        check("api: two more codes from the operator", issued.returncode == 0
              and len(issued.stdout.split()) == 2, issued.stderr)
        session.placeholders.update({
            "TOKEN": "kassa-demo-token", "PIN": "2468", "API_KEY": "kassa-demo-key",
            "CODE1": json_code(jeans[0]), "CODE2": json_code(jeans[1]),
            "CODE3": json_code(issued.stdout.split()[1]),
            "KI3": jeans[2].split("\\x1d")[0], "OP_NEW": json_code(issued.stdout.split()[0]),
            "SHOE1": json_code(shoes[0]), "SHOE2": json_code(shoes[1]),
            "MILK1": json_code(milk[0]),
        })
        serve = Example("(set-up)", 0, "build/kassa serve   # docs-test: background on "
                        "127.0.0.1:8780", [])
        rc, out, _ = session.run(serve)
        if not check("api: kassa serve started", rc == 0, out):
            return
        exs = examples("docs/API.md", open(os.path.join(SOURCE, "docs", "API.md")).read(),
                       curl_only=True)
        check("docs/API.md: curl examples found", len([e for e in exs if not e.skip]) >= 20,
              len(exs))

        def capture(out):
            for o in real_objects(out):
                new = (o.get("remark") or {}).get("new_code") if isinstance(o, dict) else None
                if new:
                    session.placeholders["NEW_CODE"] = json.dumps(new)[1:-1]
        run_all(session, exs, capture)
    finally:
        session.stop()
        stop_operator(data)


def main():
    root = tempfile.mkdtemp(prefix="kassa-docs-")
    try:
        self_test(root)
        readme(root)
        api(root)
    finally:
        if check.failed:
            print(f"kept for a look: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())

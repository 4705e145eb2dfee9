"""harness.py: what the integration scripts share.

Counting checks ("N passed, N failed"), free loopback ports, waiting for a
listener, running a program, kassa-operator (its command line and the
server as a child process on fresh ports), JSON over HTTP, GS1 numbers and
escaped codes, and a read-only snapshot of what an FN and the operator
hold. The scripts import this instead of carrying their own copies, so
each one's lines say only what it proves.
"""
import json
import os
import select
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


class Checks:
    """check(name, cond, detail) and the summary line every script prints."""

    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, name, cond, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {name} {str(detail)[:2000]}")
        return cond

    def summary(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


def finish(check, root):
    """The end of a script: root removed when every check passed, kept (and
    named) for a look otherwise; the summary line; the exit status."""
    if check.failed:
        print(f"kept for a look: {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return check.summary()


def workdirs(prefix, *names):
    """A fresh temporary folder (named from prefix) and the named folders
    made inside it: (root, path, ...)."""
    root = tempfile.mkdtemp(prefix=prefix)
    paths = [os.path.join(root, n) for n in names]
    for p in paths:
        os.makedirs(p)
    return (root, *paths)


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def till_conf(data, ports):
    """The [paths] and [operator] sections of a test till's kassa.conf: the
    data folder and kassa-operator's four loopback ports (ofd, oism, keys,
    http); the caller appends its own sections."""
    return (f"[paths]\ndata = {data}\n[operator]\nofd_port = {ports[0]}\n"
            f"oism_port = {ports[1]}\nkeys_port = {ports[2]}\nhttp_port = {ports[3]}\n"
            "host = 127.0.0.1\n")


def wait_listening(port, seconds=15, host="127.0.0.1"):
    end = time.time() + seconds
    while time.time() < end:
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def run(argv, timeout=60, **kwargs):
    """argv to the end, its output captured as text: the CompletedProcess."""
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kwargs)


def op(binary, data, *args, timeout=60):
    """One kassa-operator command on the data directory data (`issue`, `fn add` ...)."""
    return run([binary, "--data", data, *args], timeout=timeout)


def stop_all(procs, seconds=10):
    """The end of a script's `finally`: every process still running gets
    SIGTERM, `seconds` to exit, then SIGKILL."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def start_kkt_emu(kkt_emu, fn_db, procs):
    """kassa-kkt-emu on a free port with the FN file fn_db, added to procs
    (stop_all stops it): (process, port). SystemExit when it does not say
    it listens."""
    p = subprocess.Popen([kkt_emu, "--port", "0", "--fn-db", fn_db],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(p)
    line = p.stdout.readline()
    if not line.startswith("listening on "):
        raise SystemExit("kassa-kkt-emu did not start: " + line + p.stderr.read())
    return p, int(line.split()[-1])


def register_fn(kassa, op, check, fn_number, owner, fn_db):
    """A fresh marking FN for the till: `kassa fn init` and `fn register`
    (the demo store ООО «Ромашка», INN owner) through the caller's kassa(*args),
    then the operator told of it through op(*args); each step checked."""
    r = kassa("fn", "init", "--fn-number", fn_number)
    check("fn init", r.returncode == 0, r.stderr)
    r = kassa("fn", "register", "--reg-number", "0000000001012345", "--inn", owner, "--name",
              "ООО «Ромашка»", "--address", "г. Москва, ул. Тверская, 1", "--ofd-inn",
              "7704211201", "--ofd-name", "ОФД-эмулятор", "--cashier", "Иванова")
    check("fn register", r.returncode == 0, r.stderr)
    r = op("fn", "add", "--fn-db", fn_db)
    check("operator knows the FN", r.returncode == 0, r.stderr)


def gtin14(body12):
    digits = "0" + body12
    s = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(digits))
    return digits + str((10 - s % 10) % 10)


def ki(escaped):
    """The identification part of a code as `kassa-operator issue` prints it."""
    return escaped.split("\\x1d")[0]


def unescape(escaped):
    """A code as printed (\\x1d for GS) to the code itself."""
    return escaped.replace("\\x1d", "\x1d")


def write_lines(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def http_json(url, body=None, headers=None, timeout=10):
    """(status, parsed JSON answer) of a GET, or of a POST when body is given
    (a str is sent as it is, anything else as JSON). An error status is an
    answer too, never an exception."""
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


class Serve:
    """`kassa --config CONF serve` on ports it picks itself (--http-port 0
    --lm-port 0), added to procs: its first line (line) and the API's and
    the local module's ports read from it (api, lm; None when it did not
    start)."""

    def __init__(self, kassa, conf, procs, env=None, extra=(), stderr=subprocess.PIPE):
        """extra: more arguments of `kassa serve`; stderr: where its log goes
        (a pipe read by stop(), or a file)."""
        self.p = subprocess.Popen([kassa, "--config", conf, "serve", "--http-port", "0",
                                   "--lm-port", "0", *extra], stdout=subprocess.PIPE,
                                  stderr=stderr, text=True, env=env)
        procs.append(self.p)
        self.line = self.p.stdout.readline()
        words = self.line.split()
        self.api = self.lm = None
        if self.line.startswith("kassa serve: listening on "):
            self.api = int(words[4].split(":")[1])
            self.lm = int(words[7].split(":")[1])

    def terminate(self, seconds=20):
        """SIGTERM: the exit status, None when it had to be killed after
        `seconds`."""
        self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return None

    def stop(self, seconds=20):
        """terminate(): (exit status, stderr)."""
        rc = self.terminate(seconds)
        return rc, self.p.stderr.read()


def tamper(code):
    """One character of a code's crypto tail changed: same length, still base64."""
    i = len(code) - 2
    return code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1:]


class Operator:
    """kassa-operator --data DIR serving on loopback ports (ofd, oism, keys,
    http): fresh ones, or `ports` when the caller wrote them somewhere first.
    Checks "NAME listens" on all four. stdout=subprocess.PIPE keeps the
    banner line for the caller to read (proc.stdout.readline())."""

    def __init__(self, binary, data, check, *extra, ports=None, name="operator",
                 stdout=subprocess.DEVNULL):
        self.check = check
        self.ports = list(ports) if ports else free_ports(4)
        args = [binary, "--data", data, "--ofd-port", str(self.ports[0]), "--oism-port",
                str(self.ports[1]), "--keys-port", str(self.ports[2]), "--http-port",
                str(self.ports[3])] + list(extra)
        self.proc = subprocess.Popen(args, stdout=stdout, stderr=subprocess.PIPE, text=True)
        check(f"{name} listens", all(wait_listening(p) for p in self.ports))

    @property
    def http(self):
        return f"http://127.0.0.1:{self.ports[3]}"

    def stop(self, what=None):
        """SIGTERM, and the exit status (a string when it had to be killed).
        With `what`, also checks that it exited 0 with no sanitizer report."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "killed after 30 s"
        err = self.proc.stderr.read()
        if what is not None:
            self.check(f"{what}: operator exits 0 on SIGTERM", rc == 0, (rc, err[-2000:]))
            self.check(f"{what}: operator has no sanitizer report",
                       "Sanitizer" not in err and "runtime error" not in err, err[-2000:])
        return rc


# ---- The register switch (issue 22) ---------------------------------------
# KASSA_TEST_KKT names build/kassa-kkt-emu: ctest's *_kkt variants set it
# (kassa_till_test_kkt in CMakeLists.txt). A till's FN, registered as
# always, then goes into a Shtrih-M register played by kassa-kkt-emu, and
# the till's kassa.conf names it ([fn] backend = shtrih:tcp:..., [fn]
# password): every FN call the test makes goes over the protocol. Unset,
# tills keep DATA/fn.db behind the emulator backend. A script asks
# KKT_EMU (or an object's register) where a register legitimately does
# otherwise (fiscal/fn.h FN_CAP_DEVICE_DELIVERS, docs/HARDWARE.md).
KKT_EMU = os.environ.get("KASSA_TEST_KKT") or None
KKT_PASSWORD = 31  # not the factory 30: the till must send the one its config names
REGISTERS = []  # every Register this process started, for registers_clean()


class Register:
    """kassa-kkt-emu on a free loopback port with the FN file fn_db inside
    (--fn-db; the till's DATA/fn.db stays where it was, so a test's
    read-only look at the archive reads the register's FN), and, given
    kassa-operator's ports (ofd, oism, keys, ...), its own links to them: a
    register delivers its documents and notifications and loads its keys
    itself. Added to procs (the script's `finally` stops it); its stderr
    goes to LOG beside the FN. start() after a kill comes back on the same
    port, so the till's config stays true. program: build/kassa-kkt-emu
    (default: the switch's)."""

    def __init__(self, fn_db, procs, operator_ports=None, program=None):
        self.program = program or KKT_EMU
        self.fn_db, self.procs, self.ports = fn_db, procs, operator_ports
        self.log = fn_db + "-kkt-emu.log"
        self.port = 0
        self.proc = None
        self.ended = True      # stopped or killed by the test (not died on its own)
        self.died_alone = 0    # lives that ended without the test ending them
        REGISTERS.append(self)
        self.start()

    def start(self, env=None):
        """Starts it (again); env: its environment (KASSA_FAKE_NOW moves its
        FN's clock), kept for later starts."""
        self.env = env if env is not None else getattr(self, "env", None)
        if self.proc is not None and self.proc.poll() is not None and not self.ended:
            self.died_alone += 1
        self.ended = False
        args = [self.program, "--port", str(self.port), "--fn-db", self.fn_db,
                "--password", str(KKT_PASSWORD)]
        if self.ports:
            args += ["--ofd", f"127.0.0.1:{self.ports[0]}", "--oism",
                     f"127.0.0.1:{self.ports[1]}", "--keys", f"127.0.0.1:{self.ports[2]}"]
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True,
                                         env=self.env)
        self.procs.append(self.proc)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"kassa-kkt-emu did not start: {line!r}, see {self.log}")
        self.port = int(line.split()[-1])
        return self

    def stop(self):
        """SIGTERM (a register switched off) and its exit status."""
        if self.proc.poll() is not None and not self.ended:
            self.died_alone += 1
        self.ended = True
        stop_all([self.proc])
        return self.proc.returncode

    def kill(self):
        self.ended = True
        self.proc.kill()
        self.proc.wait()

    def keys(self, seconds=30):
        """Restarts the register (it loads its keys at start, as it does
        daily) and waits for its "keys N": N, or None when none came."""
        self.stop()
        self.start()
        end = time.time() + seconds
        while time.time() < end:
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0, end - time.time()))
            if not ready:
                break
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("keys "):
                return int(line.split()[1])
        return None

    def conf(self):
        """The [fn] section naming this register."""
        return (f"[fn]\nbackend = shtrih:tcp:127.0.0.1:{self.port}\n"
                f"password = {KKT_PASSWORD}\n")


def registers_clean(check):
    """The end of a script run with the switch: every register it started
    lived until the test ended it (a sanitizer aborts it on a finding) and
    wrote no sanitizer report to its log."""
    for reg in REGISTERS:
        if reg.proc.poll() is not None and not reg.ended:
            reg.died_alone += 1
            reg.ended = True
        with open(reg.log, encoding="utf-8", errors="replace") as f:
            log = f.read()
        check(f"the register of {os.path.basename(os.path.dirname(reg.fn_db))}: never died on its "
              "own, no sanitizer report", reg.died_alone == 0 and "Sanitizer" not in log
              and "runtime error" not in log, log[-2000:])


def into_register(conf, fn_db, procs, operator_ports=None):
    """With the switch on: the (registered) FN at fn_db goes into a
    Register and the till's config file conf gets its [fn] section;
    returns the Register. Off: None, nothing changed."""
    if not KKT_EMU:
        return None
    reg = Register(fn_db, procs, operator_ports)
    with open(conf, "a", encoding="utf-8") as f:
        f.write(reg.conf())
    return reg


def register_delivered(api_status, seconds=30):
    """Waits until a register has delivered every document and notification
    it owes (it does so itself between commands, about once a second), as
    api_status() -> (HTTP status, GET /api/status's JSON) shows it; whether
    it did within `seconds`."""
    end = time.time() + seconds
    while True:
        st, j = api_status()
        o = j.get("outbox", {})
        if st == 200 and o.get("unsent_documents") == 0 and o.get("unsent_notifications") == 0:
            return True
        if time.time() >= end:
            return False
        time.sleep(0.3)


def owed_after(ofd_status, seconds=30):
    """ofd_status() -> `kassa ofd status --json` parsed ({} when it failed),
    asked again until nothing is owed or `seconds` pass: the last answer. A
    register delivers its own documents between commands, about once a
    second (FN_CAP_DEVICE_DELIVERS); seconds=0 asks once."""
    end = time.time() + seconds
    while True:
        owed = ofd_status()
        if owed.get("owed") == 0 or time.time() >= end:
            return owed
        time.sleep(0.3)


def load_keys(kassa, check, register=None):
    """The FN's verification keys from kassa-operator's key server, checked:
    `kassa ofd keys` into the emulator's FN; a register loads its own from
    its link (FN_CAP_DEVICE_KEYS: through one `kassa ofd keys` asks no key
    server, docs/HARDWARE.md), kassa-kkt-emu at start, so through one the
    register is restarted and the test waits for its "keys N"."""
    if register is None:
        r = kassa("ofd", "keys")
        return check("keys loaded", r.returncode == 0 and "verification keys loaded" in r.stdout,
                     r.stdout + r.stderr)
    n = register.keys()  # "keys 0": its FN had them all already
    return check("keys loaded by the register itself", n is not None, register.log)


def snapshot(fn_db, operator_db, fn_number):
    """What an FN file and kassa-operator's database hold, read-only (both
    programs stopped): the FN's archive {number: TLV bytes}, acknowledged
    documents, unsent count, notifications and the ticketed ones; the
    operator's stored documents of this FN {number: TLV}, all its stored
    rows, and the notifications of this FN it applied (set and row count)."""
    fdb = sqlite3.connect(f"file:{fn_db}?mode=ro", uri=True)
    odb = sqlite3.connect(f"file:{operator_db}?mode=ro", uri=True)
    try:
        return {
            "archive": dict((n, bytes(b)) for n, b in
                            fdb.execute("SELECT number, tlv FROM documents")),
            "acked": {n for (n,) in
                      fdb.execute("SELECT number FROM documents WHERE acknowledged = 1")},
            "unsent": fdb.execute("SELECT count(*) FROM documents WHERE queued = 1 AND "
                                  "acknowledged = 0").fetchone()[0],
            "notes": {n for (n,) in fdb.execute("SELECT number FROM notifications")},
            "ticketed": {n for (n,) in
                         fdb.execute("SELECT number FROM notifications WHERE ticketed = 1")},
            "stored": dict((n, bytes(b)) for n, b in odb.execute(
                "SELECT number, tlv FROM documents WHERE fn = ?", (fn_number,))),
            "stored_rows": odb.execute("SELECT count(*) FROM documents").fetchone()[0],
            "applied_rows": odb.execute("SELECT count(*) FROM notifications WHERE fn = ?",
                                        (fn_number,)).fetchone()[0],
            "applied": {n for (n,) in odb.execute(
                "SELECT number FROM notifications WHERE fn = ?", (fn_number,))},
        }
    finally:
        fdb.close()
        odb.close()


# ---- FFD 1.2 TLV, read here on its own (never through kassa's codec) --------
# A document is an STLV (tag and length uint16 LE) whose tag is its form code;
# these tags hold TLV lists of their own (the format's STLVs the tests read).
STLV_TAGS = {1059, 1163, 1174, 1223, 1224, 1260, 1291, 2007, 1194, 1157, 1129, 1130, 1131,
             1132, 1133, 1145, 1146, 1232, 1233, 1068}


def tlv_list(data):
    """[(tag, value)] of a TLV list; STLV values are lists themselves.
    Raises ValueError when a length runs past the end."""
    out, at = [], 0
    while at < len(data):
        if at + 4 > len(data):
            raise ValueError("truncated TLV header at %d" % at)
        tag, ln = struct.unpack("<HH", data[at:at + 4])
        value = data[at + 4:at + 4 + ln]
        if len(value) != ln:
            raise ValueError("tag %d runs past the end" % tag)
        out.append((tag, tlv_list(value) if tag in STLV_TAGS else value))
        at += 4 + ln
    return out


def tlv_document(data):
    """(form code, [(tag, value)]) of one whole document."""
    items = tlv_list(data) if data else []
    if len(items) != 1:
        raise ValueError("not one document STLV")
    form, body = items[0][0], items[0][1]
    return form, tlv_list(body) if isinstance(body, bytes) else body


def tlv_get(items, tag):
    """The values of tag in a TLV list, in order."""
    return [v for t, v in items if t == tag]


def tlv_vln(value):
    return int.from_bytes(value, "little")


def tlv_fvln(value):
    """FVLN as (mantissa, digits after the point)."""
    return int.from_bytes(value[1:], "little"), value[0]


def tlv_text(value):
    return value.decode("cp866")


def tlv_missing(items, required):
    """The tags of `required` absent from a TLV list."""
    present = {t for t, _ in items}
    return [t for t in required if t not in present]


# What the FFD 1.2 format requires of each form (tests/data/ffd/required.json:
# the FNS tables' mandatory requisites, their source in its README), plus what
# kassa always writes beyond them, less what kassa does not write yet (each
# with its reason). Never kassa's own table (fiscal/doc.c doc_check_required).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "ffd",
                       "required.json"), encoding="utf-8") as _f:
    FFD_FORMAT = json.load(_f)
FFD_ALWAYS = {3: [1055, 1031, 1081, 1215, 1216, 1217],
              31: [1055, 1173, 1031, 1081, 1215, 1216, 1217],
              82: [2040]}
FFD_NOT_YET = {
    1: [1021], 11: [1021],  # the cashier: left out of a registration when none is named
    2007: [2101, 2115],     # product id and check code: derivation not found (fiscal/doc.h)
}


def _required(form):
    tags = FFD_FORMAT["forms"][str(form)]["mandatory"] + FFD_ALWAYS.get(form, [])
    return [t for t in dict.fromkeys(tags) if t not in FFD_NOT_YET.get(form, [])]


FFD_REQUIRED = {form: _required(form) for form in (1, 11, 2, 21, 5, 6, 3, 31, 82)}
# 1059 (table 97: 1079, 1023, 1043 mandatory; 1030, 2108 and 1199 "sometimes",
# which for a till selling goods is always; 1212 and 1214 kassa always writes)
FFD_ITEM = list(dict.fromkeys(FFD_FORMAT["forms"]["1059"]["mandatory"]
                              + [1030, 1199, 1212, 1214, 2108]))
FFD_MARKED_ITEM = FFD_ITEM + [1163, 2000, 2100, 2102, 2106]
FFD_AGENT_ITEM = FFD_ITEM + [1222, 1224, 1226]
FFD_NOTIFIED_LINE = [t for t in FFD_FORMAT["forms"]["2007"]["mandatory"]
                     if t not in FFD_NOT_YET[2007]]
FFD_TOTALS = [1134, 1133]  # 1194 / 1157 (an operation's 1129-1132 only when it had receipts)


def ffd_missing(raw):
    """(form, body, missing) of a whole document read with the TLV reader
    above: `missing` lists every requisite FFD_REQUIRED and the nested rules
    ask for and the document lacks ("form N" for a form not in the table,
    the reader's error for bytes it cannot read)."""
    try:
        form, body = tlv_document(raw or b"")
    except ValueError as e:
        return 0, [], [str(e)]
    if form not in FFD_REQUIRED:
        return form, body, ["form %d" % form]
    miss = tlv_missing(body, FFD_REQUIRED[form])
    for it in tlv_get(body, 1059):
        marked = bool(tlv_get(it, 2000))
        miss += tlv_missing(it, FFD_MARKED_ITEM if marked else
                            FFD_AGENT_ITEM if tlv_get(it, 1222) else FFD_ITEM)
        if marked and not (tlv_get(it, 2003) or tlv_get(it, 2110)):
            miss.append("2003/2110")
        for f in tlv_get(it, 1291):
            miss += tlv_missing(f, [1293, 1294])
        for s in tlv_get(it, 1224):
            miss += tlv_missing(s, [1225])
    for line in tlv_get(body, 2007):
        miss += tlv_missing(line, FFD_NOTIFIED_LINE)
    for tag in (1194, 1157):
        for t in tlv_get(body, tag):
            miss += ["%d/%d" % (tag, m) for m in tlv_missing(t, FFD_TOTALS)]
    if form in (3, 31) and not tlv_get(body, 1059):
        miss.append(1059)
    return form, body, miss

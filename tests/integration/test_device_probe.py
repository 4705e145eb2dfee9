#!/usr/bin/env python3
"""test_device_probe.py KASSA KKT_EMU: `kassa device probe` against two registers.

1. build/kassa-kkt-emu over TCP (and once on a pseudo-terminal, through
   the serial transport), with an FN that `kassa fn init/register`
   made: the probe prints the emulator's facts (the FN number, phase,
   last document and unsent count `kassa fn status --json` showed before
   the emulator took the file), exit 0. The wrong password: exit 1 with the
   register's 4Fh and its text in Russian and English. A port where nothing
   listens, a listener that never answers, a bad address: clear errors.
2. A loopback register written here, in Python, independently of device/:
   it plays back frames recorded from a real SHTRIH-SMARTPOS-F and a
   register on TCP 7778 (tests/data/shtrih/vectors.txt, fr_drv_ng issue
   logs), each only when the request frame is byte for byte the one
   recorded, with the stray 0xFF those registers put before ACK and NAK.
   The probe must print the facts those answers hold (model, protocol,
   the register's mode: shift open) and null, with the reason, for what
   no recording holds (the FN's status).
Prints "N passed, N failed".
"""
import json
import os
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, finish, run, stop_all, workdirs  # noqa: E402

KASSA, KKT_EMU = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "data", "shtrih", "vectors.txt")
check = Checks()
root, data = workdirs("kassa-probe-", "d")
procs = []


def kassa(*args, timeout=60):
    return run([KASSA, "--data", data, *args], timeout=timeout)


def probe(spec, *extra):
    return kassa("device", "probe", "--kkt", spec, *extra)


def vectors():
    out = {}
    with open(VECTORS) as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if len(line) >= 3 and line[0] in ("v1", "wire"):
                out[line[1]] = bytes(int(b, 16) for b in line[2:])
    return out


def lrc(b):
    x = 0
    for c in b:
        x ^= c
    return x


class Replay(threading.Thread):
    """A register that only knows the recorded exchanges: request frame ->
    answer frame. Anything else is answered as a register does for a
    command it does not have: 37h (one byte) or the FN's 01h (FF xx)."""

    def __init__(self, answers):
        super().__init__(daemon=True)
        self.answers = answers
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.unknown = []

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.serve(conn)

    def serve(self, conn):
        pending = None
        buf = b""
        conn.settimeout(5)
        while True:
            try:
                chunk = conn.recv(512)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while buf:
                if buf[0] == 0x05:  # ENQ
                    buf = buf[1:]
                    if pending is None:
                        conn.sendall(b"\xff\x15")  # recorded: FF then NAK [L97]
                    else:
                        conn.sendall(b"\xff\x06" + pending)
                elif buf[0] == 0x06:  # the host's ACK of our answer
                    buf = buf[1:]
                    pending = None
                elif buf[0] == 0x02:
                    if len(buf) < 2 or len(buf) < buf[1] + 3:
                        break
                    frame, buf = buf[:buf[1] + 3], buf[buf[1] + 3:]
                    if lrc(frame[1:-1]) != frame[-1]:
                        conn.sendall(b"\xff\x15")
                        continue
                    answer = self.answers.get(frame)
                    if answer is None:
                        self.unknown.append(frame.hex(" "))
                        msg = frame[2:-1]
                        body = (msg[:2] + b"\x01") if msg[0] == 0xFF else (msg[:1] + b"\x37")
                        answer = bytes([0x02, len(body)]) + body
                        answer += bytes([lrc(answer[1:])])
                    pending = answer
                    conn.sendall(b"\xff\x06" + answer)  # recorded: FF then ACK [L121]
                else:
                    buf = buf[1:]  # noise


try:
    # --- 1. kassa-kkt-emu with an FN kassa registered --------------------
    r = kassa("fn", "init", "--fn-number", "9999078900031337")
    check("fn init", r.returncode == 0, r.stdout + r.stderr)
    r = kassa("fn", "register", "--reg-number", "0000000001012345", "--inn", "7707083893",
              "--name", "ООО «Ромашка»", "--address", "г. Москва, ул. Тверская, 1",
              "--ofd-inn", "7704211201", "--ofd-name", "ОФД-эмулятор", "--cashier", "Иванова")
    check("fn register", r.returncode == 0, r.stdout + r.stderr)
    r = kassa("fn", "status", "--json")
    status = json.loads(r.stdout) if r.returncode == 0 else {}
    check("fn status", r.returncode == 0 and status.get("lastDocument") == 1, r.stdout + r.stderr)

    emu = subprocess.Popen([KKT_EMU, "--port", "0", "--fn-db", os.path.join(data, "fn.db")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(emu)
    line = emu.stdout.readline()
    check("emulator listening", line.startswith("listening on "), line + emu.stderr.read()
          if emu.poll() is not None else line)
    port = int(line.split()[-1])
    spec = f"shtrih:tcp:127.0.0.1:{port}"

    r = probe(spec)
    check("probe exit 0", r.returncode == 0, r.stdout + r.stderr)
    facts = json.loads(r.stdout) if r.returncode == 0 else {}
    want = {"model": "KASSA-KKT-EMU", "model_number": 250, "protocol": "shtrih-m v1",
            "protocol_version": "2.0", "connection": f"tcp:127.0.0.1:{port}",
            "fn_number": "9999078900031337", "fn_phase": "fiscal", "shift_open": False,
            "last_document": 1, "unsent_documents": 1, "first_unsent_document": 1,
            "receipt_open": False}
    for k, v in want.items():
        check(f"probe {k}", facts.get(k) == v, f"{k}: {facts.get(k)!r} want {v!r}")
    check("probe: nothing unavailable", "unavailable" not in facts, facts)
    r = probe(f"tcp:127.0.0.1:{port}")
    check("tcp:... without shtrih: is the same", r.returncode == 0
          and json.loads(r.stdout).get("fn_number") == "9999078900031337", r.stdout + r.stderr)

    r = probe(spec, "--password", "31")
    check("wrong password exit 1", r.returncode == 1, r.stdout + r.stderr)
    check("wrong password says so in Russian and English",
          "0x4F" in r.stderr and "Неверный пароль" in r.stderr and "Invalid password" in r.stderr,
          r.stderr)
    check("wrong password prints no JSON", r.stdout == "", r.stdout)

    # [fn] backend from the config when --kkt is not given.
    conf = os.path.join(root, "kassa.conf")
    with open(conf, "w") as f:
        f.write(f"[paths]\ndata = {data}\n[fn]\nbackend = {spec}\npassword = 30\n")
    r = run([KASSA, "--config", conf, "device", "probe"])
    check("[fn] backend from the config", r.returncode == 0
          and json.loads(r.stdout).get("model") == "KASSA-KKT-EMU", r.stdout + r.stderr)
    with open(conf, "w") as f:
        f.write(f"[paths]\ndata = {data}\n[fn]\nbackend = {spec}\npassword = 29\n")
    r = run([KASSA, "--config", conf, "device", "probe"])
    check("[fn] password from the config", r.returncode == 1 and "0x4F" in r.stderr, r.stderr)

    # Errors: nothing listening, a silent listener, a bad address.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = s.getsockname()[1]
    s.close()
    r = probe(f"shtrih:tcp:127.0.0.1:{dead}")
    check("nothing listening: exit 1, RU and EN", r.returncode == 1
          and "Не удаётся подключиться к ККТ" in r.stderr and "Cannot connect" in r.stderr,
          r.stderr)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    r = probe(f"shtrih:tcp:127.0.0.1:{silent.getsockname()[1]}", "--timeout-ms", "100")
    check("no answer: exit 1, RU and EN", r.returncode == 1 and "ККТ не отвечает" in r.stderr
          and "does not answer" in r.stderr, r.stderr)
    silent.close()
    r = probe("atol:tcp:127.0.0.1:5555")
    check("not a register's address: exit 2", r.returncode == 2 and "shtrih:tcp" in r.stderr,
          r.stderr)
    r = kassa("device", "probe")
    check("no --kkt with the emulator backend: exit 2", r.returncode == 2, r.stderr)

    # The same register on a pseudo-terminal: the serial transport.
    pty_emu = subprocess.Popen([KKT_EMU, "--pty", "--fn-db", os.path.join(root, "pty-fn.db"),
                                "--fn-number", "9999078900031341"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(pty_emu)
    line = pty_emu.stdout.readline()
    check("emulator on a pty", line.startswith("pty /dev/"), line)
    if line.startswith("pty "):
        r = probe(f"shtrih:serial:{line.split()[1]}@115200")
        facts = json.loads(r.stdout) if r.returncode == 0 else {}
        check("probe over serial (a pty)", r.returncode == 0
              and facts.get("fn_number") == "9999078900031341"
              and facts.get("fn_phase") == "ready"
              and facts.get("connection", "").startswith("serial:/dev/"), r.stdout + r.stderr)
    r = probe("shtrih:serial:/dev/kassa-no-such-port")
    check("a serial port that is not there: exit 1, RU and EN", r.returncode == 1
          and "Не удаётся подключиться к ККТ" in r.stderr and "Cannot connect" in r.stderr,
          r.stderr)

    # --- 2. A loopback register replaying recorded device answers ------------
    v = vectors()
    replay = Replay({v["fc_request"]: v["fc_answer_smartpos"],
                     v["short_status_request"]: v["short_status_answer"]})
    replay.start()
    r = probe(f"shtrih:tcp:127.0.0.1:{replay.port}", "--password", "28")
    check("replay: exit 0", r.returncode == 0, r.stdout + r.stderr)
    facts = json.loads(r.stdout) if r.returncode == 0 else {}
    want = {"model": "ШТРИХ-СМАРТПОС-Ф", "model_number": 45, "device_type": 0,
            "device_subtype": 0, "protocol": "shtrih-m v1", "protocol_version": "2.0",
            "kkt_mode": 2, "shift_open": True, "receipt_open": False,
            "fn_number": None, "fn_phase": None, "last_document": None,
            "unsent_documents": None}
    for k, val in want.items():
        check(f"replay {k}", k in facts and facts[k] == val, f"{k}: {facts.get(k)!r} want {val!r}")
    why = facts.get("unavailable", {})
    check("replay: why the FN's part is missing", "0x01" in why.get("fn_status", ""), why)
    check("replay: the recorded requests were asked byte for byte",
          all(not u.startswith("02 01 fc") and not u.startswith("02 05 10") for u in replay.unknown),
          replay.unknown)
    replay.sock.close()
finally:
    stop_all(procs)

sys.exit(finish(check, root))

#!/usr/bin/env python3
"""test_operator.py OPERATOR FN_HELPER KASSA: kassa-operator over real sockets.

A temp data dir, free loopback ports, a real emulated FN made by FN_HELPER
(tests/integration/test_operator_fn.c). Checks: `fn add`; keys fetched over
the KEYS port make the FN verify issued tails (tail_status 0 for 44 and 88);
every issued code parses with `kassa code parse --escaped`; every document
in the FN is acknowledged with a doc 7, 1022 = 0 and its 1040; a redelivery
gets the identical answer and is stored once; a one-byte change is refused
(1022 = 2); an unknown FN gets 1022 = 1; garbage closes that connection and
the server lives; the OISM answers 2109 = 1 for an issued code and 3 for a
blocked one, applies the sale notification (status sold) once and tickets a
redelivery identically. The frame is built here with struct, mirroring
ofd/frame.c. Prints "N passed, N failed"; exit 1 on any failure.
"""
import os
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import json

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Checks  # noqa: E402

OPERATOR, HELPER, KASSA = sys.argv[1], sys.argv[2], sys.argv[3]
check = Checks()
tmp = tempfile.mkdtemp(prefix="kassa-operator-")
data = os.path.join(tmp, "op")
fndb = os.path.join(tmp, "fn.db")
FN = b"9999078900004343"


def crc16(data, crc=0xFFFF):
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


PROFILES = {"ofd": (b"\x2a\x08\x41\x0a", b"\x81\xa2"), "oism": (b"\xdd\x80\xca\xa1", b"\x82\xa2"),
            "keys": (b"\xdd\x80\xca\xa1", b"\x82\xa1")}


def frame(profile, doctype, docnum, body, fn=FN, msgtype=0xA5):
    sig, sver = PROFILES[profile]
    clen = 32 + len(body)
    c = bytearray(struct.pack("<HHBBB2s8s", clen, 0, msgtype, doctype, 1, b"\0\0", fn[:8]))
    c += docnum.to_bytes(3, "big") + bytes(12)
    c = bytes(c) + body
    ccrc = crc16(c[4:], crc16(c[:2]))
    c = c[:2] + struct.pack("<H", ccrc) + c[4:]
    h = sig + sver + b"\x01\x20" + fn + struct.pack("<HH", clen, 0x0016)
    return h + struct.pack("<H", crc16(c, crc16(h))) + c


def read_message(sock):
    buf = b""
    while len(buf) < 30:
        part = sock.recv(65536)
        if not part:
            return None
        buf += part
    total = 30 + struct.unpack("<H", buf[24:26])[0]
    while len(buf) < total:
        part = sock.recv(65536)
        if not part:
            return None
        buf += part
    c = buf[30:total]
    return {"type": c[5], "number": int.from_bytes(c[17:20], "big"), "body": c[32:],
            "raw": buf[:total], "fn": buf[8:24], "msgtype": c[4],
            "flags": struct.unpack("<H", buf[26:28])[0]}


def tlv(body):
    """Top-level items of the document STLV: {tag: [values]}."""
    tag, ln = struct.unpack("<HH", body[:4])
    out, at, inner = {"_form": tag}, 0, body[4:4 + ln]
    while at < len(inner):
        t, l = struct.unpack("<HH", inner[at:at + 4])
        out.setdefault(t, []).append(inner[at + 4:at + 4 + l])
        at += 4 + l
    return out


def sub(value):
    out, at = {}, 0
    while at < len(value):
        t, l = struct.unpack("<HH", value[at:at + 4])
        out[t] = value[at + 4:at + 4 + l]
        at += 4 + l
    return out


def closes(port, data):
    """True when the server closes the connection after data, without an answer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(data)
    try:
        closed = s.recv(10) == b""
    except (ConnectionResetError, socket.timeout):
        closed = True
    s.close()
    return closed


def exchange(port, msgs):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    answers = []
    for m in msgs:
        s.sendall(m)
        answers.append(read_message(s))
    s.close()
    return answers


def op(*args):
    return harness.op(OPERATOR, data, *args, timeout=30)


# Codes first (the keys exist before the FN fetches them).
codes44 = op("issue", "--gtin", "04600000000015", "--group", "footwear", "--count", "3").stdout.split()
codes88 = op("issue", "--gtin", "04600000000015", "--group", "footwear", "--count", "2",
             "--tail", "88").stdout.split()
codes93 = op("issue", "--gtin", "04600000000022", "--group", "dairy", "--count", "2").stdout.split()
check("issued", len(codes44) == 3 and len(codes88) == 2 and len(codes93) == 2)
parsed = subprocess.run([KASSA, "code", "parse", "--escaped"], input="\n".join(codes44 + codes88 + codes93) + "\n",
                        capture_output=True, text=True, timeout=30).stdout.splitlines()
check("kassa parses every issued code", len(parsed) == 7 and all(json.loads(l)["ok"] for l in parsed),
      "\n".join(parsed))
r = op("issue", "--gtin", "04600000000016", "--group", "footwear", "--count", "1")
check("bad GTIN check digit refused", r.returncode == 2, r.stderr)
# The commands' options through getopt_long: --name=value works, an unknown
# option, one without its value or a stray operand is a usage error (2)
# that changes nothing.
r = op("issue", "--gtin=04600000000022", "--group=dairy", "--count=1")
check("issue --name=value", r.returncode == 0 and len(r.stdout.split()) == 1, r.stderr)
for bad in (["issue", "--gtin", "04600000000022", "--group", "dairy", "--count", "1", "--colour", "red"],
            ["issue", "--gtin", "04600000000022", "--group", "dairy", "--count"],
            ["issue", "--gtin", "04600000000022", "--group", "dairy", "--count", "1", "extra"],
            ["keys", "new", "--kind", "hmac", "again"],
            ["price", "--gtin", "04600000000022", "--min", "100", "--maxx", "5"]):
    r = op(*bad)
    check(f"usage error: {' '.join(bad[:1] + bad[-2:])}", r.returncode == 2 and "usage" in r.stderr,
          (r.returncode, r.stderr))
r = subprocess.run([OPERATOR, "--data", data, "--ofd-port", "1", "--no-such-option"],
                   capture_output=True, text=True, timeout=30)
check("the server refuses an unknown option before it starts", r.returncode == 2 and "usage" in r.stderr,
      (r.returncode, r.stderr))

server = harness.Operator(OPERATOR, data, check, name="server", stdout=subprocess.PIPE)
ofd_port, oism_port, keys_port, http_port = server.ports
try:
    check("server ready", "kassa-operator:" in server.proc.stdout.readline())
    subprocess.run([HELPER, "init", fndb], check=True, timeout=30)
    r = op("fn", "add", "--fn-db", fndb)
    check("fn add", r.returncode == 0 and r.stdout.strip() == FN.decode(), r.stderr)
    r = subprocess.run([HELPER, "keys", fndb, str(keys_port)], capture_output=True, text=True, timeout=30)
    check("keys over the KEYS port", r.returncode == 0 and r.stdout.strip() == "keys 2", r.stdout + r.stderr)
    r = subprocess.run([HELPER, "sell", fndb] + codes44[:2] + codes88[:1], capture_output=True, text=True,
                       timeout=30)
    lines = [l.split() for l in r.stdout.splitlines()]
    check("FN verifies issued tails with the served keys", r.returncode == 0 and len(lines) == 3 and
          all(l[1] == "0" for l in lines), r.stdout + r.stderr)
    requests = [bytes.fromhex(l[2]) for l in lines]

    db = sqlite3.connect(fndb)
    docs = db.execute("SELECT number, type, tlv FROM documents ORDER BY number").fetchall()
    notes = db.execute("SELECT number, tlv FROM notifications").fetchall()
    db.close()
    check("FN has documents", len(docs) >= 3 and len(notes) == 1)

    # OFD: every document acknowledged, in one connection.
    answers = exchange(ofd_port, [frame("ofd", t, n, bytes(b)) for n, t, b in docs])
    ok = True
    for (n, t, b), a in zip(docs, answers):
        d = tlv(a["body"]) if a else {}
        # As a real OFD: the FN and the document are named by the headers
        # (session FN, container number), not by 1041/1040 in the body.
        ok = ok and a and a["type"] == 7 and a["number"] == n and d["_form"] == 7 and \
            1040 not in d and 1041 not in d and sub(d[1068][0])[1022] == b"\x00" and \
            a["fn"] == FN
    check("every document acknowledged with 1022 = 0, named by the headers", ok)
    # Issue 15: answered as a real OFD answers (ofd/frame.c): type 0x5A,
    # flags 0x0014, the 10-byte trailer after the document, 1078 of 18.
    a = answers[0]
    doc_len = 4 + struct.unpack("<H", a["body"][2:4])[0] if a else 0
    check("answer shape: 0x5A, flags 0x0014, 10-byte trailer",
          a and a["msgtype"] == 0x5A and a["flags"] == 0x0014 and len(a["body"]) == doc_len + 10
          and len(tlv(a["body"])[1078][0]) == 18, a)
    # A request as a real FN sends it (the document, then its 10-byte
    # trailer): the document is what is checked; acknowledged the same.
    n0, t0, b0 = docs[0]
    real = exchange(ofd_port, [frame("ofd", t0, n0, bytes(b0) + b"\x81\x06" + bytes(8))])[0]
    check("request with the real trailer: acknowledged as before",
          real and real["raw"] == answers[0]["raw"], real)
    # An answer's type sent as a request: not an FN's message, closed.
    check("request of type 0x5A: connection closed, no answer",
          closes(ofd_port, frame("ofd", t0, n0, bytes(b0), msgtype=0x5A)))
    n, t, b = docs[-1]
    again = exchange(ofd_port, [frame("ofd", t, n, bytes(b))])[0]
    check("redelivery acknowledged identically", again and again["raw"] == answers[-1]["raw"])
    odb = sqlite3.connect(os.path.join(data, "operator.db"))
    stored = odb.execute("SELECT count(*) FROM documents").fetchone()[0]
    check("stored once each", stored == len(docs), str(stored))
    bad = bytearray(b)
    bad[len(bad) - 11] ^= 0x01  # the last value byte before the seal (1077)
    a = exchange(ofd_port, [frame("ofd", t, n, bytes(bad))])[0]
    check("one byte changed: refused with 1022 = 2", a and sub(tlv(a["body"])[1068][0])[1022] == b"\x02")
    a = exchange(ofd_port, [frame("ofd", t, n, bytes(b), fn=b"9999078900009999")])[0]
    check("unknown FN: 1022 = 1", a and sub(tlv(a["body"])[1068][0])[1022] == b"\x01")

    # Garbage: that connection closes, the server lives.
    check("garbage closes the connection",
          closes(ofd_port, os.urandom(512).replace(b"\x2a", b"\x00").replace(b"\xdd", b"\x00")))
    a = exchange(ofd_port, [frame("ofd", t, n, bytes(b))])[0]
    check("server alive after garbage", a and a["raw"] == answers[-1]["raw"])
    # Garbage ending in what could start a signature (as a TLS hello may), then
    # silence: closed after about a second, not kept for the 120 s idle limit;
    # a wait of 10 s with no close fails.
    s = socket.create_connection(("127.0.0.1", ofd_port), timeout=10)
    s.sendall(b"\x16\x03\x01\x02\x00" + os.urandom(300).replace(b"\x2a", b"\x00") + b"\x2a\x08")
    try:
        got = s.recv(10)
        closed = got == b""
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        closed = False
    s.close()
    check("garbage with a partial signature, then silence: closed", closed)

    # OISM: 81 for issued codes -> 2109 = 1; 82 applied once.
    for q in requests:
        num = struct.unpack("<I", tlv(q)[2001][0])[0]
        a = exchange(oism_port, [frame("oism", 81, num, q)])[0]
        d = tlv(a["body"]) if a else {}
        check("83 for an issued code: 2109 = 1", a and a["type"] == 83 and d[2109][0] == b"\x01" and
              d[2105][0] == b"\x00", str(d))
    notification_number, note = notes[0]
    t1 = exchange(oism_port, [frame("oism", 82, notification_number, bytes(note))])[0]
    d = tlv(t1["body"]) if t1 else {}
    check("84 accepted", t1 and t1["type"] == 84 and d[2111][0] == b"\x00", str(d))
    st = json.loads(op("status", codes44[0]).stdout)
    check("sold after the notification", st["status"] == "sold", str(st))
    t2 = exchange(oism_port, [frame("oism", 82, notification_number, bytes(note))])[0]
    check("redelivered notification: same ticket", t2 and t2["raw"] == t1["raw"])
    # The same request now: the code is sold, a sale is incorrect (2).
    num = struct.unpack("<I", tlv(requests[0])[2001][0])[0]
    a = exchange(oism_port, [frame("oism", 81, num, requests[0])])[0]
    check("83 for a sold code: 2109 = 2", a and tlv(a["body"])[2109][0] == b"\x02")
    # Block the 88 code: 2109 = 3.
    r = op("block", "--code", codes88[0])
    check("block", r.returncode == 0, r.stderr)
    num = struct.unpack("<I", tlv(requests[2])[2001][0])[0]
    a = exchange(oism_port, [frame("oism", 81, num, requests[2])])[0]
    check("83 for a blocked code: 2109 = 3", a and tlv(a["body"])[2109][0] == b"\x03")
    badq = bytearray(requests[1])
    badq[12] ^= 1
    num = struct.unpack("<I", tlv(requests[1])[2001][0])[0]
    a = exchange(oism_port, [frame("oism", 81, num, bytes(badq))])[0]
    check("81 with a bad sign: 2105 = 1", a and tlv(a["body"])[2105][0] == b"\x01")
finally:
    rc = server.stop()
check("SIGTERM: clean exit", rc == 0, str(rc))
sys.exit(check.summary())

#!/usr/bin/env python3
"""test_cli_scan.py KASSA: the `kassa scan` command, end to end.

Runs the real binary: usage errors (exit 2, a message a person
understands); --image on pictures made by zint (a GS1 DataMatrix keeps its
separators, an EAN-13, a file that is no picture); --device fd: on a FIFO
with CRLF framing; --device wedge on standard input, with a GS substitute
and the one-time warning for codes whose separators are lost; and, under
`umockdev-run` with the described HID-POS scanner of tests/data/hidpos,
--list (the scanner found by its usage page 0x8C) and --device usb:VID:PID
reading scripted three-report codes from an .ioctl file written here.
Prints "N passed, N failed".
"""
import json
import os
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks  # noqa: E402

KASSA = os.path.abspath(sys.argv[1])
HIDPOS = os.path.abspath("tests/data/hidpos/scanner.umockdev")
ACM = os.path.abspath("tests/data/serial/scanner-acm.umockdev")
check = Checks()
GS = "\x1d"

# Marking codes as scanned (real GS) and as zint's GS1 input.
FOOTWEAR = ("0104601234567893215Qbag!\"%&'()*" + GS + "91EE06" + GS + "92" +
            "dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdA==")
FOOTWEAR_ZINT = ("[01]04601234567893[21]5Qbag!\"%&'()*[91]EE06[92]"
                 "dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdA==")
WATER = "0104601234567893215Qbag!<(?aa12" + GS + "93Zjqw"


def run(args, stdin=None, prefix=(), timeout=60):
    p = subprocess.run(list(prefix) + [KASSA] + args, input=stdin, capture_output=True,
                       text=True, timeout=timeout)
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    return p.returncode, lines, p


tmp = tempfile.mkdtemp(prefix="kassa-cli-scan-")

# ---- usage ----
rc, _, p = run(["scan"])
check("no mode: exit 2", rc == 2, p.stderr)
check("no mode: says what to give", "give one of --list" in p.stderr, p.stderr)
rc, _, p = run(["scan", "--device", "bogus:1"])
check("bad device: exit 2", rc == 2, p.stderr)
check("bad device: names the kinds", "serial:PORT" in p.stderr and "usb:VID:PID" in p.stderr)
rc, _, p = run(["scan", "--device", "usb:zz:1"])
check("bad usb id: exit 2", rc == 2 and "usb:VID:PID" in p.stderr, p.stderr)
rc, _, p = run(["scan", "--device", "fd:/dev/null", "--framing", "weird"])
check("bad framing: exit 2", rc == 2 and "--framing weird" in p.stderr, p.stderr)
rc, _, p = run(["scan", "--count"])
check("missing value: exit 2", rc == 2 and "needs a value" in p.stderr, p.stderr)
rc, _, p = run(["scan", "--help"])
check("help: exit 0", rc == 0 and "--device DEVICE" in p.stdout)

# ---- pictures ----
dm = os.path.join(tmp, "dm.png")
ean = os.path.join(tmp, "ean.png")
subprocess.run(["zint", "--barcode=71", "--gs1", "--gssep", "--quietzones", "--scale=2",
                "--rotate=90", "-o", dm, "-d", FOOTWEAR_ZINT], check=True, capture_output=True)
subprocess.run(["zint", "--barcode=13", "--quietzones", "--scale=2", "-o", ean, "-d",
                "460123456789"], check=True, capture_output=True)
text = os.path.join(tmp, "notes.png")
with open(text, "w") as f:
    f.write("not a picture\n")
rc, out, p = run(["scan", "--image", dm, ean])
check("images: exit 0", rc == 0, p.stderr)
check("images: two codes", len(out) == 2, p.stdout)
if len(out) == 2:
    check("dm ok", out[0]["ok"] and out[0]["kind"] == "gs1", out[0])
    check("dm keeps GS", out[0].get("normalized") == FOOTWEAR, repr(out[0].get("normalized")))
    check("dm symbology", out[0].get("symbology") == "GS1 DataMatrix" and out[0].get("aim") == "]d2")
    check("dm source", out[0].get("source") == "image:" + dm)
    check("ean", out[1]["ok"] and out[1]["kind"] == "ean13" and out[1]["gtin"] == "4601234567893"
          and out[1]["symbology"] == "EAN-13", out[1])
rc, out, p = run(["scan", "--image", text])
check("not a picture: exit 1", rc == 1 and "not a PNG or JPEG" in p.stderr, p.stderr)

# ---- fd: a FIFO, CRLF framing ----
fifo = os.path.join(tmp, "scanner.fifo")
os.mkfifo(fifo)


def feed_fifo():
    with open(fifo, "wb") as f:
        f.write((FOOTWEAR + "\r\n" + WATER + "\r\n").encode("latin-1"))


t = threading.Thread(target=feed_fifo)
t.start()
rc, out, p = run(["scan", "--device", "fd:" + fifo, "--framing", "crlf", "--count", "2"])
t.join()
check("fifo: exit 0", rc == 0, p.stderr)
check("fifo: two codes", [o.get("normalized") for o in out] == [FOOTWEAR, WATER], p.stdout)
check("fifo: source", all(o.get("source") == "fd:" + fifo for o in out))

# ---- the configured scanner ([scanner] device), as `kassa serve` reads it ----
conf = os.path.join(tmp, "kassa.conf")
with open(conf, "w") as f:
    f.write("[scanner]\ndevice = fd:%s\n" % fifo)
t = threading.Thread(target=feed_fifo)
t.start()
rc, out, p = run(["--config", conf, "scan", "--framing", "crlf", "--count", "2"])
t.join()
check("config device: exit 0", rc == 0, p.stderr)
check("config device: two codes", [o.get("normalized") for o in out] == [FOOTWEAR, WATER], p.stdout)

# ---- wedge on standard input ----
lost = "010461008041021521e,s;r!t%BroGdABCDEFGHIJ"  # GS lost, cannot be restored
rc, out, p = run(["scan", "--device", "wedge", "--gs-char", "~"],
                 stdin=WATER.replace(GS, "~") + "\n" + lost + "\n" + lost + "\n")
check("wedge: three lines", len(out) == 3, p.stdout)
if len(out) == 3:
    check("wedge: substitute became GS", out[0]["ok"] and out[0]["normalized"] == WATER, out[0])
    check("wedge: lost GS refused", not out[1]["ok"] and out[1]["error"] == "gs_missing", out[1])
check("wedge: exit 1 (a code refused)", rc == 1)
check("wedge: warned once", p.stderr.count("does not send the GS separator") == 1, p.stderr)
check("wedge: warned in Russian", "не передаёт разделитель GS" in p.stderr, p.stderr)

# ---- HID-POS (and a CDC serial port for --list) under umockdev-run ----
def reports(data, aim="]d2"):
    """64-byte HID-POS reports: id 2, length, AIM, 56 data bytes, flag."""
    out, pos, raw = [], 0, data.encode("latin-1")
    while True:
        chunk = raw[pos:pos + 56]
        pos += len(chunk)
        r = bytearray(64)
        r[0] = 2
        r[1] = len(chunk)
        r[2:5] = aim.encode()
        r[5:5 + len(chunk)] = chunk
        r[63] = 1 if pos < len(raw) else 0
        out.append(bytes(r))
        if pos >= len(raw):
            return out


ioctl = os.path.join(tmp, "scanner.ioctl")
with open(ioctl, "w") as f:
    f.write("@DEV /dev/bus/usb/001/005\n")
    for code in (FOOTWEAR, WATER):
        for r in reports(code):
            f.write("USBDEVFS_REAPURBNDELAY 0 1 129 0 0 64 64 0 " + r.hex().upper() + "\n")
umock = ["umockdev-run", "--device", HIDPOS, "--device", ACM, "--ioctl", "/dev/bus/usb/001/005=" + ioctl, "--"]
rc, _, p = run(["scan", "--list"], prefix=umock)
check("usb list: exit 0", rc == 0, p.stderr)
check("list: the serial scanner", "/dev/ttyACM0" in p.stdout and "usb 0c2e:0b61" in p.stdout
      and "serial ACM42" in p.stdout and "--device serial:0c2e:0b61:ACM42" in p.stdout
      and "known scanner maker: Metrologic (Honeywell)" in p.stdout, p.stdout)
check("usb list: the HID-POS scanner", "1209:0001" in p.stdout and "usage page 0x8C" in p.stdout
      and "--device usb:1209:0001" in p.stdout, p.stdout)
rc, out, p = run(["scan", "--device", "usb:1209:0001", "--count", "2", "--timeout", "10"],
                 prefix=umock)
check("usb read: exit 0", rc == 0, p.stderr)
check("usb read: two codes intact", [o.get("normalized") for o in out] == [FOOTWEAR, WATER],
      p.stdout + p.stderr)
check("usb read: AIM and source", all(o.get("aim") == "]d2" and o.get("source") == "usb:1209:0001"
                                      for o in out), out)

for name in os.listdir(tmp):
    os.unlink(os.path.join(tmp, name))
os.rmdir(tmp)
sys.exit(check.summary())

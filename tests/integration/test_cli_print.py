#!/usr/bin/env python3
"""test_cli_print.py: `kassa print` end to end against a data directory.

Usage: test_cli_print.py KASSA_BINARY   (run from the source root)

A till is made with the `kassa` commands (fn init, register, shift open,
catalogue, a sale), with its own config file ([till] check = offline,
[printer] device = a file, width = 32). What is checked:
  - `print receipt FD --out -` writes ESC/POS (ESC @, FS ., ESC t 17, the
    total in CP866 bold and double height, a GS v 0 raster, the cut) and the
    same bytes go to [printer] device, to --out FILE and, through a pty, to
    --printer serial:PTY@115200;
  - --width 48 makes a different, wider receipt; --codepage and --cut show
    in the bytes;
  - a receipt that does not exist fails (exit 1, Russian and English) and
    creates no file; bad options and device strings are refused (exit 2 for
    usage, 1 for a device that is malformed or absent) naming what is wrong;
  - without --out/--printer and without [printer] device: exit 2, saying so;
  - `print qr FD --png FILE` writes a PNG and prints the receipt's QR string.
"""
import os
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks  # noqa: E402

check = Checks()


def kassa(binary, config, data, *args):
    p = subprocess.run([binary, "--config", config, "--data", data, *args], capture_output=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def must(binary, config, data, *args):
    rc, out, err = kassa(binary, config, data, *args)
    if rc != 0:
        print("setup failed:", args, rc, out.decode("utf-8", "replace"), err)
        sys.exit(1)
    return out.decode("utf-8")


def read_pty(master, want, got):
    """Reads the master side of a pty until `want` bytes came (10 s at most)."""
    import select
    import time
    end = time.time() + 10
    while len(got) < want and time.time() < end:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                got.extend(os.read(master, 65536))
            except OSError:
                break


def main():
    binary = os.path.abspath(sys.argv[1])
    catalogue = os.path.abspath("config/catalogue.csv")
    with tempfile.TemporaryDirectory(prefix="kassa-cli-print-") as tmp:
        data = os.path.join(tmp, "data")
        config = os.path.join(tmp, "kassa.conf")
        configured = os.path.join(tmp, "configured.bin")
        with open(config, "w") as f:
            f.write("[till]\ncheck = offline\n[printer]\ndevice = file:%s\nwidth = 32\n"
                    % configured)
        bare = os.path.join(tmp, "bare.conf")
        with open(bare, "w") as f:
            f.write("[till]\ncheck = offline\n")

        must(binary, config, data, "fn", "init")
        must(binary, config, data, "fn", "register", "--reg-number", "0000000001012345", "--inn",
             "7707083893", "--name", "ООО Ромашка", "--address", "г. Москва, ул. Тверская, 1",
             "--ofd-inn", "7704211201", "--ofd-name", "ООО Такском")
        must(binary, config, data, "shift", "open", "--cashier", "Иванова")
        must(binary, config, data, "cache", "import-catalogue", catalogue)
        plain = None
        with open(catalogue, encoding="utf-8") as f:
            for line in f:
                cols = line.strip().split(";")
                if len(cols) > 6 and cols[0].isdigit() and cols[6] == "0":
                    plain, plain_price, plain_vat = cols[0], cols[2], int(cols[3])
                    break
        check("the catalogue has an unmarked good", plain is not None)
        must(binary, config, data, "sale", "open", "--cashier", "Иванова")
        must(binary, config, data, "sale", "add", plain)
        must(binary, config, data, "sale", "add", plain)
        out = must(binary, config, data, "sale", "pay", "--json")
        import json
        closed = json.loads(out.splitlines()[0])
        fd = closed["document"]

        # The receipt-level VAT sum of the two lines, worked out here: the
        # tax inside the gross amount, r / (100 + r) of it, half up once on
        # the receipt (22 % -> 22/122; 0 % and no VAT carry the amount).
        from fractions import Fraction
        rate = {1: 20, 2: 10, 3: 20, 4: 10, 5: 0, 6: 0, 7: 5, 8: 7, 9: 5, 10: 7, 11: 22,
                12: 22}[plain_vat]
        rub, _, kop = plain_price.partition(".")
        gross = 2 * (int(rub) * 100 + int((kop + "00")[:2]))
        tax = gross if plain_vat in (5, 6) else int(Fraction(gross * rate, 100 + rate)
                                                     + Fraction(1, 2))
        sums = closed.get("vat_sums")
        check("the closed receipt's JSON has one VAT sum: %r" % sums,
              isinstance(sums, list) and len(sums) == 1)
        check("its rate is the catalogue's (%d) and its sum %d kopecks: %r"
              % (plain_vat, tax, sums), sums[0]["vat"] == plain_vat and sums[0]["sum"] == tax)
        rc, text, err = kassa(binary, bare, data, "fd", "show", str(fd), "--json")
        check("fd show --json: %d %s" % (rc, err), rc == 0)
        check("the document carries that sum", str(tax) in text.decode("utf-8"))

        # Standard output: the whole stream.
        rc, stream, err = kassa(binary, config, data, "print", "receipt", str(fd), "--out", "-")
        check("print to stdout: %d %s" % (rc, err), rc == 0)
        check("ESC @, FS ., ESC t 17 first", stream.startswith(b"\x1b@\x1c.\x1bt\x11"))
        check("ИТОГ bold, double height", b"\x1b!\x18" + "ИТОГ".encode("cp866") in stream)
        check("the QR as a GS v 0 raster", b"\x1dv0\x00" in stream)
        check("feed 4, partial cut", stream.endswith(b"\x1bd\x04\x1dVB\x00"))
        check("the seller in CP866", "ООО Ромашка".encode("cp866") in stream)
        check("the QR string is a picture, not text", b"QR: " not in stream)

        # [printer] device (a file), --out FILE, a pty: the same bytes.
        rc, out, err = kassa(binary, config, data, "print", "receipt", str(fd))
        check("print to [printer] device", rc == 0 and "printed" in out.decode("utf-8"))
        with open(configured, "rb") as f:
            check("[printer] device got the same bytes", f.read() == stream)
        target = os.path.join(tmp, "out.bin")
        rc, out, err = kassa(binary, config, data, "print", "receipt", str(fd), "--out", target)
        with open(target, "rb") as f:
            check("--out FILE got the same bytes", rc == 0 and f.read() == stream)
        master, slave = os.openpty()
        name = os.ttyname(slave)
        got = bytearray()
        reader = threading.Thread(target=read_pty, args=(master, len(stream), got))
        reader.start()
        rc, out, err = kassa(binary, config, data, "print", "receipt", str(fd), "--printer",
                             "serial:%s@115200" % name)
        reader.join()
        os.close(slave)
        os.close(master)
        check("print to a serial port: %d %s" % (rc, err), rc == 0)
        check("the serial port got the same bytes (%d of %d)"
              % (len(got), len(stream)), bytes(got) == stream)

        # Options show in the bytes.
        rc, wide, err = kassa(binary, config, data, "print", "receipt", str(fd), "--out", "-",
                              "--width", "48", "--codepage", "46", "--cut", "none")
        check("80 mm differs from 58 mm", rc == 0 and wide != stream)
        check("--codepage 46 is ESC t 46", wide.startswith(b"\x1b@\x1c.\x1bt\x2e"))
        check("--cut none: feed only", wide.endswith(b"\x1bd\x04"))
        check("48-column rules at 80 mm",
              ("-" * 48).encode() in wide and ("-" * 49).encode() not in wide)

        # Refusals change nothing.
        missing = os.path.join(tmp, "missing.bin")
        rc, out, err = kassa(binary, config, data, "print", "receipt", "999", "--out", missing)
        check("no receipt 999: %d %s" % (rc, err),
              rc == 1 and "нет такого чека" in err and "no such receipt" in err)
        check("no file for a missing receipt", not os.path.exists(missing))
        for args, code, says in [
            (["--width", "40", "--out", missing], 2, "width must be 32"),
            (["--codepage", "300", "--out", missing], 2, "0-255"),
            (["--qr", "square", "--out", missing], 2, "raster, native or none"),
            (["--out", missing, "--printer", "usb"], 2, "not both"),
            (["--printer", "lpt:1"], 1, "unknown printer device"),
            (["--printer", "serial:/dev/ttyUSB0@1234"], 1, "baud rate"),
            (["--printer", "serial:/dev/kassa-no-such-port"], 1, "printer not found"),
            (["--printer", "usb:0416"], 1, "usb:VID:PID"),
        ]:
            rc, out, err = kassa(binary, config, data, "print", "receipt", str(fd), *args)
            check("%s: %d %s" % (args, rc, err), rc == code and says in err)
        check("no file after refused options", not os.path.exists(missing))
        rc, out, err = kassa(binary, config, data, "print", "receipt", "--out", "-")
        check("no FD: usage", rc == 2)
        rc, out, err = kassa(binary, bare, data, "print", "receipt", str(fd))
        check("nothing configured: %d %s" % (rc, err),
              rc == 2 and "no printer" in err and "[printer] device" in err)
        rc, out, err = kassa(binary, config, data, "print", "label")
        check("unknown verb: usage", rc == 2)

        # The QR as PNG.
        png = os.path.join(tmp, "qr.png")
        rc, out, err = kassa(binary, config, data, "print", "qr", str(fd), "--png", png)
        qr = out.decode("utf-8").strip()
        check("qr: %d %s" % (rc, err), rc == 0 and qr.startswith("t=") and ("&i=%d&" % fd) in qr)
        with open(png, "rb") as f:
            check("a PNG", f.read(8) == b"\x89PNG\r\n\x1a\n")
        rc, out, err = kassa(binary, config, data, "print", "qr", str(fd))
        check("qr without --png: usage", rc == 2)

    return check.summary()


if __name__ == "__main__":
    sys.exit(main())

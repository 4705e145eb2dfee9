#!/usr/bin/env python3
"""test_device_register.py KASSA KKT_EMU: registration through a register.

`[fn] backend = shtrih:tcp:...` names build/kassa-kkt-emu, whose FN is
fresh (`kassa fn init`, never registered). Through the register:
1. refusals that change nothing: a wrong password (the register's 4Fh),
   a re-registration of an FN never registered (the FN's 02h);
2. `kassa fn register` (tables 17/18, FF05h, FF06h): document 1; a second
   registration refused (02h);
3. a re-registration with a reason (`--re --reason 8`: 1205 bit 3, the
   address) refused with a shift open (02h), made after the shift's close;
4. both documents read back through the register (`fd show --json`, `fd
   dump`: every TLV, the fiscal sign too) equal what the same commands
   print with the register stopped and the FN file read directly, and hold
   what was sent (INN, RNM, name, address, OFD, 1205, the cashier).
`kassa ofd keys` through the register asks no key server: the register
loads its FN's keys itself.
Prints "N passed, N failed".
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, finish, run, start_kkt_emu, stop_all, workdirs  # noqa: E402

KASSA, KKT_EMU = sys.argv[1], sys.argv[2]
check = Checks()
root, data = workdirs("kassa-devreg-", "d")
conf = os.path.join(root, "kassa.conf")
procs = []
REG = ["fn", "register", "--reg-number", "0000000001012345", "--inn", "7707083893",
       "--name", "ООО Ромашка", "--address", "г. Москва, ул. Тверская, 1", "--place", "Магазин",
       "--ofd-inn", "7704211201", "--ofd-name", "ОФД-эмулятор", "--cashier", "Иванова"]


def plain(*args):
    """kassa on the data directory with the emulator backend."""
    return run([KASSA, "--data", data, *args])


def via(*args, password=30):
    """kassa with [fn] backend = the register (and that password)."""
    with open(conf, "w") as f:
        f.write(f"[paths]\ndata = {data}\n[fn]\nbackend = shtrih:tcp:127.0.0.1:{port}\n"
                f"password = {password}\n")
    return run([KASSA, "--config", conf, *args], timeout=60)


def last_document():
    r = plain("fn", "status", "--json")
    return json.loads(r.stdout)["lastDocument"] if r.returncode == 0 else -1


try:
    r = plain("fn", "init", "--fn-number", "9999078900031341")
    check("fn init", r.returncode == 0, r.stderr)
    reg, port = start_kkt_emu(KKT_EMU, os.path.join(data, "fn.db"), procs)

    # 1. Refusals that change nothing.
    r = via(*REG, password=31)
    check("a wrong password: the register's 4Fh in both languages", r.returncode == 1
          and "0x4F: Неверный пароль" in r.stderr and "0x4F: Invalid password" in r.stderr,
          r.stdout + r.stderr)
    r = via(*REG, "--re", "--reason", "8")
    check("a re-registration of a fresh FN: the FN's state error", r.returncode == 1
          and "0x02" in r.stderr, r.stdout + r.stderr)
    r = via(*REG, "--reason", "8")
    check("--reason without --re: a usage error", r.returncode == 2, r.stdout + r.stderr)
    r = via("fn", "status")
    check("still not registered", r.returncode == 0 and "ready" in r.stdout, r.stdout + r.stderr)

    # 2. The registration.
    r = via(*REG)
    check("fn register through the register: document 1", r.returncode == 0
          and "registration: document 1," in r.stdout, r.stdout + r.stderr)
    r = via("fn", "status")
    check("fn status through the register: fiscal, the RNM read back (FF09h)",
          r.returncode == 0 and "fiscal" in r.stdout
          and "KKT registration number: 0000000001012345" in r.stdout, r.stdout + r.stderr)
    r = via(*REG)
    check("registered twice: the FN's state error", r.returncode == 1 and "0x02" in r.stderr,
          r.stdout + r.stderr)

    # 3. The re-registration: not with a shift open.
    RE = [a if a != "г. Москва, ул. Тверская, 1" else "г. Москва, ул. Тверская, 3" for a in REG]
    r = via("shift", "open")
    check("shift open", r.returncode == 0 and "document 2" in r.stdout, r.stdout + r.stderr)
    r = via(*RE, "--re", "--reason", "8")
    check("a re-registration with a shift open: the FN's state error", r.returncode == 1
          and "0x02" in r.stderr and last_document() == 2, r.stdout + r.stderr)
    r = via("shift", "close")
    check("shift close", r.returncode == 0 and "document 3" in r.stdout, r.stdout + r.stderr)
    r = via(*RE, "--re", "--reason", "8")
    check("fn register --re through the register: document 4", r.returncode == 0
          and "re-registration: document 4," in r.stdout, r.stdout + r.stderr)

    # The register loads its FN's keys itself (FN_CAP_DEVICE_KEYS): `kassa
    # ofd keys` asks no key server (none listens on port 1) and says so.
    r = via("ofd", "keys", "--keys", "127.0.0.1:1")
    check("ofd keys through the register: its own business", r.returncode == 0
          and "loads its FN's verification keys itself" in r.stdout
          and "сама загружает ключи" in r.stdout, r.stdout + r.stderr)

    # 4. Both documents read back through the register, then without it.
    shown, dumped = {}, {}
    for n in (1, 4):
        r = via("fd", "show", str(n), "--json")
        shown[n] = r.stdout
        check(f"fd show {n} through the register", r.returncode == 0, r.stdout + r.stderr)
        r = via("fd", "dump", str(n))
        dumped[n] = r.stdout
        check(f"fd dump {n} through the register", r.returncode == 0, r.stdout + r.stderr)
    reg.terminate()
    reg.wait(timeout=10)
    for n in (1, 4):
        r = plain("fd", "show", str(n), "--json")
        check(f"document {n}: the same without the register", r.returncode == 0
              and r.stdout == shown[n], r.stdout + shown[n])
        r = plain("fd", "dump", str(n))
        check(f"document {n}: every TLV the same without the register", r.returncode == 0
              and r.stdout == dumped[n], r.stdout + dumped[n])
    one = json.loads(shown[1]).get("fiscalReport", {})
    four = json.loads(shown[4]).get("fiscalReportCorrection", {})
    sent = {"userInn": "7707083893", "kktRegId": "0000000001012345", "user": "ООО Ромашка",
            "retailPlace": "Магазин", "ofdInn": "7704211201", "ofdName": "ОФД-эмулятор",
            "operator": "Иванова", "taxationType": 1, "fiscalDocumentFormatVer": 4,
            "kktNumber": "0250000000000001"}  # 1013: the register's own serial
    check("the registration holds what was sent", all(one.get(k) == v for k, v in sent.items())
          and one.get("retailPlaceAddress") == "г. Москва, ул. Тверская, 1", one)
    check("the re-registration holds the new address and 1205 = 8",
          all(four.get(k) == v for k, v in sent.items())
          and four.get("retailPlaceAddress") == "г. Москва, ул. Тверская, 3"
          and four.get("correctionKktReasonCode") == 8, four)
    check("both carry a fiscal sign", one.get("fiscalSign") and four.get("fiscalSign"),
          (one, four))
finally:
    stop_all(procs)

sys.exit(finish(check, root))

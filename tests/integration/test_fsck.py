#!/usr/bin/env python3
"""test_fsck.py KASSA TILL_STORM: `kassa fsck` finds what is wrong, and only that.

A data directory is made by the till's kill loop (tests/crash/till_storm.c,
20 SIGKILLs: real receipts, returns, a repaired crash or two); fsck must
call it clean. Then each damage a disk, a bug or a person could do is done
to a copy, and fsck must exit 1 naming the right check:

  - a byte of an archived receipt changed           -> signs (and its TLV)
  - an archived document deleted                    -> documents
  - a code marked sold in the cache with no receipt -> cache
  - a sold code's cache row set back to stock       -> cache
  - a document's acknowledged flag flipped          -> outbox
  - a second sale of a sold code in the archive     -> sales (a copied receipt
    row under a new number is also a numbering and sign problem; the sales
    check must still name the code)
  - cache.db or till.db cut in half                 -> integrity (issue 18)

and `kassa serve` refuses to start when the archive's last document's
fiscal sign is wrong (issue 18), and starts on the clean copy.

Prints "N passed, N failed"; exits 1 on any failure.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Checks  # noqa: E402

KASSA, STORM = sys.argv[1], sys.argv[2]
check = Checks()


def fsck(data):
    p = harness.run([KASSA, "--data", data, "fsck", "--json"], timeout=120)
    try:
        return p.returncode, json.loads(p.stdout)
    except json.JSONDecodeError:
        return p.returncode, {"raw": p.stdout, "err": p.stderr}


def checks_named(report):
    return {pr["check"] for pr in report.get("problems", [])}


root = tempfile.mkdtemp(prefix="kassa-fsck-")
base = os.path.join(root, "till")
try:
    subprocess.run([STORM, "kill", base, "20", "11"], check=True, capture_output=True, timeout=300)
    rc, rep = fsck(base)
    check("clean directory exits 0", rc == 0 and rep.get("clean") is True, rep)
    check("it counted receipts", rep.get("receipts", 0) > 0 and rep.get("marked_sales", 0) > 0, rep)

    def damaged(name, sql_fn, expect):
        d = os.path.join(root, name)
        shutil.copytree(base, d)
        sql_fn(d)
        rc, rep = fsck(d)
        check(f"{name}: exit 1", rc == 1, rep)
        check(f"{name}: names {expect}", expect in checks_named(rep), rep)
        return rep

    def sql(d, db, statement):
        con = sqlite3.connect(os.path.join(d, db))
        con.execute(statement)
        con.commit()
        con.close()

    def flip_byte(d):
        con = sqlite3.connect(os.path.join(d, "fn.db"))
        number, tlv = con.execute(
            "SELECT number, tlv FROM documents WHERE type = 3 ORDER BY number LIMIT 1").fetchone()
        b = bytearray(tlv)
        b[len(b) // 2] ^= 0x01
        con.execute("UPDATE documents SET tlv = ? WHERE number = ?", (bytes(b), number))
        con.commit()
        con.close()

    damaged("changed byte", flip_byte, "signs")
    # name, file, the damage in SQL, the check that must name it
    for name, db, statement, expect in [
            ("deleted document", "fn.db",
             "DELETE FROM documents WHERE number = (SELECT MAX(number) - 1 FROM documents)",
             "documents"),
            ("phantom sale", "cache.db",
             "INSERT INTO codes(ki, local, sold_doc, gtin) VALUES("
             "'010460000000101221Phantom000001', 2, 3, '04600000001012')", "cache"),
            ("lost sale", "cache.db",
             "UPDATE codes SET local = 1, sold_doc = 0 WHERE ki = "
             "(SELECT ki FROM codes WHERE local = 2 LIMIT 1)", "cache"),
            ("ack flipped", "fn.db",
             "UPDATE documents SET acknowledged = 1 - acknowledged WHERE "
             "number = (SELECT MIN(number) FROM documents WHERE type = 3)", "outbox")]:
        damaged(name, lambda d, db=db, statement=statement: sql(d, db, statement), expect)

    # Issue 18: a database cut in half (a full disk, a bad copy) is named by
    # SQLite's own integrity check, whatever fsck's invariants read of it.
    def cut_in_half(db):
        def cut(d):
            for extra in ("-wal", "-shm"):
                if os.path.exists(os.path.join(d, db + extra)):
                    os.remove(os.path.join(d, db + extra))
            path = os.path.join(d, db)
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) // 2)
        return cut

    damaged("cache.db cut in half", cut_in_half("cache.db"), "integrity")
    damaged("till.db cut in half", cut_in_half("till.db"), "integrity")

    # Issue 18: `kassa serve` checks the archive's tail before it sells: a
    # changed byte in the last document refuses the start with the reason.
    serve_conf = os.path.join(root, "serve.conf")
    with open(serve_conf, "w") as f:
        f.write("[till]\ncheck = offline\napi_token = " + "fsck-test-token-0123456789\n"
                "[service]\nbackground = no\n")

    def serve_start(d):
        p = subprocess.Popen([KASSA, "--config", serve_conf, "--data", d, "serve", "--http-port",
                              "0", "--lm-port", "0"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        p.terminate()
        try:
            _, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        return line, p.returncode, err

    d = os.path.join(root, "tail")
    shutil.copytree(base, d)
    line, rc, err = serve_start(d)
    check("serve starts on the clean archive", "listening" in line, (line, err))
    con = sqlite3.connect(os.path.join(d, "fn.db"))
    number, tlv = con.execute(
        "SELECT number, tlv FROM documents ORDER BY number DESC LIMIT 1").fetchone()
    b = bytearray(tlv)
    b[-3] ^= 0x01  # inside the fiscal sign (1077), the document's last requisite
    con.execute("UPDATE documents SET tlv = ? WHERE number = ?", (bytes(b), number))
    con.commit()
    con.close()
    line, rc, err = serve_start(d)
    check("serve refuses a damaged archive tail, naming the document",
          "listening" not in line and rc == 1 and "the FN archive is damaged" in err
          and f"document {number}" in err, (line, rc, err))

    # A double sale the way it would happen: the cache loses a sale (a bug,
    # a restored backup), and the till, asking the cache, sells the code
    # again. The FN cannot know; fsck must.
    d = os.path.join(root, "double sale")
    shutil.copytree(base, d)
    conf = os.path.join(root, "offline.conf")
    with open(conf, "w") as f:
        f.write("[till]\ncheck = offline\n")
    con = sqlite3.connect(os.path.join(d, "cache.db"))
    ki, doc = con.execute("SELECT ki, sold_doc FROM codes WHERE local = 2 LIMIT 1").fetchone()
    con.execute("UPDATE codes SET local = 1 WHERE ki = ?", (ki,))
    con.commit()
    con.close()
    shown = subprocess.run([KASSA, "--data", d, "fd", "show", str(doc), "--json"],
                           capture_output=True, text=True, check=True).stdout
    items = json.loads(shown)["receipt"]["items"]
    code = next(it["markingCode"] for it in items if it.get("markingCode", "").startswith(ki))
    run = lambda *a: harness.run([KASSA, "--config", conf, "--data", d, *a])  # noqa: E731
    run("sale", "cancel")
    r1, r2, r3 = run("sale", "open"), run("sale", "add", code), run("sale", "pay")
    check("the till sold it again (the cache said in stock)",
          r1.returncode == 0 and r2.returncode == 0 and r3.returncode == 0,
          (r1.stderr, r2.stdout, r2.stderr, r3.stderr))
    rc, rep = fsck(d)
    check("double sale: exit 1", rc == 1, rep)
    check("double sale: names sales", "sales" in checks_named(rep), rep)
    check("double sale: names the code",
          any(ki in pr["detail"] for pr in rep.get("problems", [])), rep)
finally:
    code = harness.finish(check, root)
sys.exit(code)

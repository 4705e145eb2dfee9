#!/usr/bin/env python3
"""test_tls.py KASSA KASSA_OPERATOR: delivery over TLS on loopback (issue 4, Deliver 2).

Certificates are made here with the openssl CLI: a test CA, a server
certificate it signs for the name "localhost" only, and a second CA that
signed nothing of ours. kassa-operator serves its frame ports with
--tls-cert/--tls-key. Then, with `[ofd] tls = yes` in the till's config:

- `kassa ofd flush` to host "localhost" with the right CA delivers every
  document (the operator stores them all, the FN owes nothing) and
  `kassa ofd keys` loads the key over TLS;
- with the other CA it is refused: exit 1, the reason names TLS and the
  certificate ("unable to get local issuer certificate"), documents stay;
- to 127.0.0.1 (a certificate for "localhost" only) it is refused as not
  for this address, although the chain is good;
- a CA file that does not exist is refused before any connection;
- a plain client (`tls = no`) gets no acknowledgement from a TLS port, and
  a TLS client gets a handshake failure from a plain port.
In every refused case the FN still owes every document.

Prints "N passed, N failed"; exit 1 on any failure.
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Checks, free_ports  # noqa: E402

KASSA, OPERATOR = sys.argv[1], sys.argv[2]
FN_NUMBER = "9999078900006161"
check = Checks()
root = tempfile.mkdtemp(prefix="kassa-tls-")
data = os.path.join(root, "till")
op_dir = os.path.join(root, "operator")
plain_dir = os.path.join(root, "operator-plain")


def openssl(*args):
    r = harness.run(["openssl", *args], cwd=root)
    check(f"openssl {args[0]}", r.returncode == 0, r.stderr)


def path(name):
    return os.path.join(root, name)


# ---- certificates -------------------------------------------------------------
for ca in ("ca", "other-ca"):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", path(f"{ca}.key"), "-out", path(f"{ca}.pem"), "-days", "2",
            "-subj", f"/CN=kassa test {ca}")
openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
        path("server.key"), "-out", path("server.csr"), "-subj", "/CN=localhost")
with open(path("san.ext"), "w") as f:
    f.write("subjectAltName = DNS:localhost\nextendedKeyUsage = serverAuth\n")
openssl("x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
        "-CAcreateserial", "-out", path("server.pem"), "-days", "2", "-extfile", path("san.ext"))

OFD, OISM, KEYS, HTTP = free_ports(4)
P_OFD, P_OISM, P_KEYS, P_HTTP = free_ports(4)


def config(name, host, tls, ca_file=None, ports=(OFD, OISM, KEYS, HTTP)):
    p = path(name)
    with open(p, "w") as f:
        f.write(f"[paths]\ndata = {data}\n[operator]\nhost = {host}\nofd_port = {ports[0]}\n"
                f"oism_port = {ports[1]}\nkeys_port = {ports[2]}\nhttp_port = {ports[3]}\n"
                f"[ofd]\ntls = {'yes' if tls else 'no'}\n")
        if ca_file:
            f.write(f"ca_file = {ca_file}\n")
    return p


good = config("good.conf", "localhost", True, "ca.pem")  # relative to the config's folder
wrong_ca = config("wrong-ca.conf", "localhost", True, path("other-ca.pem"))
by_address = config("address.conf", "127.0.0.1", True, path("ca.pem"))
no_ca = config("no-ca.conf", "localhost", True, path("missing.pem"))
plain = config("plain.conf", "localhost", False)
tls_to_plain = config("tls-plain.conf", "localhost", True, path("ca.pem"),
                      (P_OFD, P_OISM, P_KEYS, P_HTTP))


def kassa(conf, *args):
    return harness.run([KASSA, "--config", conf, *args], timeout=120)


def owed():
    r = kassa(good, "ofd", "status", "--json")
    check("status", r.returncode == 0, r.stderr)
    return json.loads(r.stdout)["unsentDocuments"] if r.returncode == 0 else -1


def start(data_dir, ports, tls, name):
    """kassa-operator on the ports the configs name; its banner kept to read."""
    extra = ["--tls-cert", path("server.pem"), "--tls-key", path("server.key")] if tls else []
    return harness.Operator(OPERATOR, data_dir, check, *extra, ports=ports, name=name,
                            stdout=subprocess.PIPE)


# ---- an FN with documents to deliver --------------------------------------------
r = kassa(good, "fn", "init", "--fn-number", FN_NUMBER)
check("fn init", r.returncode == 0, r.stderr)
r = kassa(good, "fn", "register", "--reg-number", "0000000001061616", "--inn", "7707083893",
          "--name", "Shop", "--address", "Moscow", "--ofd-inn", "7704211201", "--ofd-name", "OFD")
check("fn register", r.returncode == 0, r.stderr)
for what in ("open", "close", "open", "close"):
    r = kassa(good, "shift", what)
    check(f"shift {what}", r.returncode == 0, r.stderr)
total = owed()
check("five documents owed", total == 5, total)

r = harness.op(OPERATOR, op_dir, "--tls-cert", path("server.pem"), timeout=30)
check("--tls-cert without --tls-key is a usage error", r.returncode == 2, r.stderr)
r = harness.op(OPERATOR, op_dir, "--tls-cert", path("server.pem"), "--tls-key", path("ca.key"),
               timeout=30)
check("a key that is not the certificate's is refused", r.returncode == 1 and
      "TLS certificate" in r.stderr, r.stderr)
r = harness.op(OPERATOR, op_dir, "fn", "add", "--fn-db", os.path.join(data, "fn.db"), timeout=30)
check("fn add", r.returncode == 0, r.stderr)
server = start(op_dir, (OFD, OISM, KEYS, HTTP), True, "the TLS operator")
plain_server = start(plain_dir, (P_OFD, P_OISM, P_KEYS, P_HTTP), False, "the plain operator")
try:
    line = server.proc.stdout.readline()
    check("the banner says TLS", "TLS" in line, line)

    # Refusals first: nothing may be delivered by them.
    r = kassa(wrong_ca, "ofd", "flush", "--retries", "0")
    check("another CA: refused", r.returncode == 1 and "(tls)" in r.stderr and
          "unable to get local issuer certificate" in r.stderr, r.stderr)
    check("another CA: the reason in Russian too", "TLS" in r.stderr and "сертификат" in r.stderr,
          r.stderr)
    check("another CA: documents stay", owed() == total)
    r = kassa(by_address, "ofd", "flush", "--retries", "0")
    check("a certificate for another name: refused", r.returncode == 1 and "(tls)" in r.stderr and
          "mismatch" in r.stderr, r.stderr)
    check("name mismatch: documents stay", owed() == total)
    r = kassa(no_ca, "ofd", "flush")
    check("a missing CA file: refused at once", r.returncode == 1 and
          "cannot read the CA file" in r.stderr, r.stderr)
    r = kassa(plain, "ofd", "flush", "--retries", "0")
    check("plain TCP to a TLS port: no delivery", r.returncode == 1, r.stderr)
    check("plain to TLS: documents stay", owed() == total)
    r = kassa(tls_to_plain, "ofd", "flush", "--retries", "0")
    check("TLS to a plain port: handshake refused", r.returncode == 1 and "(tls)" in r.stderr,
          r.stderr)
    check("TLS to plain: documents stay", owed() == total)

    # Over TLS, properly.
    r = kassa(good, "ofd", "flush")
    check("flush over TLS", r.returncode == 0 and f"delivered: {total} documents" in r.stdout,
          (r.stdout, r.stderr))
    check("nothing owed after the TLS flush", owed() == 0)
    r = harness.op(OPERATOR, op_dir, "keys", "new", "--kind", "hmac", timeout=30)
    check("a key to fetch", r.returncode == 0, r.stderr)
    r = kassa(good, "ofd", "keys")
    check("keys over TLS", r.returncode == 0 and "loaded: 1" in r.stdout, (r.stdout, r.stderr))
finally:
    server.stop("the TLS operator")
    plain_server.stop("the plain operator")

db = sqlite3.connect(f"file:{op_dir}/operator.db?mode=ro", uri=True)
stored = db.execute("SELECT count(*) FROM documents WHERE fn = ?", (FN_NUMBER,)).fetchone()[0]
db.close()
check("the TLS operator stored every document once", stored == total, stored)
db = sqlite3.connect(f"file:{plain_dir}/operator.db?mode=ro", uri=True)
stored = db.execute("SELECT count(*) FROM documents").fetchone()[0]
db.close()
check("the plain operator stored nothing", stored == 0, stored)

sys.exit(harness.finish(check, root))

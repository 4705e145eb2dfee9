#!/usr/bin/env python3
"""test_deb.py DEB: the Debian package (make deb), extracted into a
temporary root and tried there, without installing it:

- the files are where cmake/install.cmake and debian/rules put them (the
  programs, the pages, the settings 0640, the units, the udev rules, the
  man pages, the data directory 0700);
- the installed `kassa --version` and `kassa-operator --version` name the
  package's version;
- `kassa --config ROOT/etc/kassa/kassa.conf fn status` reads the installed
  settings (no FN in /var/lib/kassa on a build machine: it says so, exit 1;
  never a config error), and with --data on a scratch FN prints its status;
- the installed settings name the installed paths, and still hold the demo
  secrets that postinst replaces (debian/kassa.postinst);
- `systemd-analyze verify` accepts both installed units (ExecStart pointed
  into the root, the man pages found there).
Prints "N passed, N failed"; exit 1 on any failure.
"""
import os
import re
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, finish, run  # noqa: E402

DEB = sys.argv[1]
check = Checks()
root = tempfile.mkdtemp(prefix="kassa-deb-")
tree = os.path.join(root, "root")
version = re.search(r"kassa_([0-9.]+)_", os.path.basename(DEB)).group(1)

r = run(["dpkg-deb", "-x", DEB, tree])
check("dpkg-deb -x", r.returncode == 0, r.stderr)
for path in ("usr/bin/kassa", "usr/bin/kassa-operator", "usr/share/kassa/web/index.html",
             "usr/share/kassa/web/manager.html", "etc/kassa/kassa.conf",
             "lib/systemd/system/kassa.service", "lib/systemd/system/kassa-operator.service",
             "lib/udev/rules.d/60-kassa.rules", "usr/share/man/man1/kassa.1.gz",
             "usr/share/man/man1/kassa-operator.1.gz", "usr/share/man/man5/kassa.conf.5.gz",
             "usr/share/doc/kassa/copyright"):
    check(f"installed: /{path}", os.path.exists(os.path.join(tree, path)))
conf = os.path.join(tree, "etc/kassa/kassa.conf")
if os.path.exists(conf):
    check("settings are 0640", stat.S_IMODE(os.stat(conf).st_mode) == 0o640,
          oct(os.stat(conf).st_mode))
data = os.path.join(tree, "var/lib/kassa")
check("data directory 0700", os.path.isdir(data) and stat.S_IMODE(os.stat(data).st_mode) == 0o700)

kassa = os.path.join(tree, "usr/bin/kassa")
r = run([kassa, "--version"])
check("kassa --version", r.returncode == 0 and r.stdout.strip() == f"kassa {version}", r.stdout)
r = run([os.path.join(tree, "usr/bin/kassa-operator"), "--version"])
check("kassa-operator --version", r.returncode == 0
      and r.stdout.strip() == f"kassa-operator {version}", r.stdout)
r = run([kassa, "--help"])
check("the default config is /etc/kassa/kassa.conf",
      "(default /etc/kassa/kassa.conf;" in r.stdout, r.stdout)
text = open(conf, encoding="utf-8").read() if os.path.exists(conf) else ""
check("settings name the installed paths", "data = /var/lib/kassa" in text
      and "web = /usr/share/kassa/web" in text
      and "demo_codes = /usr/share/kassa/demo-codes.txt" in text, text[:400])
check("postinst has demo secrets to replace", "api_token = kassa-demo-token" in text
      and "manager_pin = 2468" in text)

r = run([kassa, "--config", conf, "fn", "status"],
        env={k: v for k, v in os.environ.items() if k != "KASSA_DATA"})
# /var/lib/kassa here is this machine's: normally no FN (exit 1, said so);
# where kassa is installed, its FN's status (exit 0). Never a config error (2).
check("fn status with the installed settings reads them", r.returncode in (0, 1)
      and (r.returncode == 0 or "fiscal storage" in r.stderr), (r.returncode, r.stderr))
scratch = os.path.join(root, "data")
r = run([kassa, "--config", conf, "--data", scratch, "fn", "init", "--fn-number",
         "9999078900007020"])
check("fn init on a scratch directory", r.returncode == 0, r.stderr)
r = run([kassa, "--config", conf, "--data", scratch, "fn", "status"])
check("fn status with the installed settings", r.returncode == 0
      and "9999078900007020" in r.stdout, (r.stdout, r.stderr))

units = os.path.join(root, "units")
os.makedirs(units)
for unit in ("kassa.service", "kassa-operator.service"):
    src = os.path.join(tree, "lib/systemd/system", unit)
    if not os.path.exists(src):
        continue
    body = open(src).read().replace("ExecStart=/usr/bin/", f"ExecStart={tree}/usr/bin/")
    check(f"{unit}: ExecStart is /usr/bin", f"ExecStart={tree}/usr/bin/" in body)
    with open(os.path.join(units, unit), "w") as f:
        f.write(body)
r = run(["systemd-analyze", "verify", os.path.join(units, "kassa.service"),
         os.path.join(units, "kassa-operator.service")],
        env=dict(os.environ, MANPATH=os.path.join(tree, "usr/share/man")))
check("systemd-analyze verify: clean", r.returncode == 0 and not r.stderr.strip()
      and not r.stdout.strip(), r.stdout + r.stderr)

sys.exit(finish(check, root))

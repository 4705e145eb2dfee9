"""pgtemp.py: a PostgreSQL server of a test's own, never a system-wide one.

initdb into a temporary directory, pg_ctl on a free port with a socket
directory the server owns and no TCP listener; as an unprivileged user
(nobody) when the test runs as root, as CI does (PostgreSQL refuses to run
as root). Debian's server binaries live in /usr/lib/postgresql/VERSION/bin.

    pg = PgTemp(); pg.start()      # pg.conninfo for libpq
    pg.kill()                      # SIGKILL of the postmaster and its children
    pg.start()                     # the same cluster again (crash recovery)
    pg.stop()                      # always, in a finally: stops and removes it
"""
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def _bindir():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("no PostgreSQL server (apt-get install postgresql)")
    return os.path.dirname(found[-1])


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PgTemp:
    def __init__(self, user="kassa", fsync=False):
        """fsync: the server flushes its WAL as a store's would (the tests
        kill processes, not power, so they leave it off: faster)."""
        self.bin = _bindir()
        self.fsync = fsync
        self.root = tempfile.mkdtemp(prefix="kassa-pg-")
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        self.sock = os.path.join(self.root, "sock")
        os.makedirs(self.sock)
        self.log = os.path.join(self.root, "server.log")
        self.port = _free_port()
        self.user = user
        self.run_as = None
        if os.geteuid() == 0:
            pw = pwd.getpwnam("nobody")
            self.run_as = (pw.pw_uid, pw.pw_gid)
            for p in (self.root, self.sock):
                os.chown(p, *self.run_as)
        self.conninfo = f"host={self.sock} port={self.port} user={user} dbname=postgres"
        self._initdb()

    def _run(self, argv, timeout=120):
        kw = {}
        if self.run_as:
            kw = {"user": self.run_as[0], "group": self.run_as[1], "extra_groups": []}
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              cwd=self.root, **kw)

    def _initdb(self):
        r = self._run([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", self.user,
                       "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"])
        if r.returncode != 0:
            raise RuntimeError("initdb: " + r.stderr[-2000:])

    def start(self, timeout=60):
        opts = (f"-p {self.port} -k {self.sock} -c listen_addresses='' "
                f"-c max_connections=200 -c fsync={'on' if self.fsync else 'off'} "
                f"-c unix_socket_permissions=0777")
        r = self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-o", opts, "-l",
                       self.log, "-w", "-t", str(timeout), "start"], timeout=timeout + 10)
        if r.returncode != 0:
            raise RuntimeError("pg_ctl start: " + r.stderr[-1000:] + self.server_log())

    def server_log(self):
        try:
            with open(self.log) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def _children(self, pid):
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
        return out

    def kill(self):
        """SIGKILL of the postmaster, then of the backends it leaves (they
        would hold the shared memory a restart needs)."""
        pid = self.postmaster_pid()
        if not pid:
            return
        children = self._children(pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for c in children:
            try:
                os.kill(c, signal.SIGKILL)
            except ProcessLookupError:
                pass
        end = time.time() + 10
        while time.time() < end and any(os.path.exists(f"/proc/{p}") for p in [pid] + children):
            time.sleep(0.05)

    def stop(self, keep=False):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate",
                       "-w", "stop"], timeout=60)
            self.kill()
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)


if __name__ == "__main__":
    pg = PgTemp()
    try:
        pg.start()
        print("started", pg.conninfo)
        pg.kill()
        pg.start()
        print("restarted")
    finally:
        pg.stop()

"""harness.py: what the integration scripts share.

Counting checks ("N passed, N failed"), free loopback ports, waiting for a
listener, and kassa-operator as a child process on fresh ports. New
scripts import this instead of carrying their own copies.
"""
import signal
import socket
import subprocess
import time


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


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_listening(port, seconds=15):
    end = time.time() + seconds
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def gtin14(body12):
    digits = "0" + body12
    s = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(digits))
    return digits + str((10 - s % 10) % 10)


class Operator:
    """kassa-operator --data DIR on fresh loopback ports (ofd, oism, keys, http)."""

    def __init__(self, binary, data, check, *extra):
        self.check = check
        self.ports = free_ports(4)
        args = [binary, "--data", data, "--ofd-port", str(self.ports[0]), "--oism-port",
                str(self.ports[1]), "--keys-port", str(self.ports[2]), "--http-port",
                str(self.ports[3])] + list(extra)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        check("operator listens", all(wait_listening(p) for p in self.ports))

    def stop(self, what):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "killed after 30 s"
        err = self.proc.stderr.read()
        self.check(f"{what}: operator exits 0 on SIGTERM", rc == 0, (rc, err[-2000:]))
        self.check(f"{what}: operator has no sanitizer report",
                   "Sanitizer" not in err and "runtime error" not in err, err[-2000:])

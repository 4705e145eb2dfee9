"""netpart.py: a network partition between a test and one server it runs,
made with the kernel's own tools (test_store_lanes.py --partition, ctest
store_partition, `make partition`).

The test runs in a network namespace of its own (`unshare -n`: nothing it
does touches the host's network, and the names and addresses below cannot
collide with another run's); the server runs in a second, anonymous one
(the far side, held open by a `sleep` that dies with the test), joined to
the first by a veth pair. Every packet between the test and the server
crosses that one link, so no packet filter is needed to pick them out:
a queueing discipline on the link's two ends shapes all of it. Both ends
have permanent neighbour entries, so no ARP resolution can fail and turn
the black hole into a quick "no route to host". A Unix socket is no
network: a server in the far namespace still reaches PostgreSQL's.

    state    made with                                    a request sees
    up       nothing                                       its answer in ms
    delayed  `tc netem delay D` where the kernel has       its answer, late
             sch_netem; else a congested link: `htb`
             towards the server, its queue kept D long
             by filler datagrams
    cut      `pfifo limit 0`: the carrier stays up, every  nothing: no refusal, no
             packet is dropped                             unreachable, only silence
    healed   the queueing disciplines removed              its answer in ms

netem is the issue's tool; a kernel without it (the 6.18 these tests were
written on has no sch_netem, prio or tc filter at all) still has htb and
pfifo, and a congested link is a delay as honest as netem's. probe() times
one request in each state, so the test checks the link did what it says
rather than trusting tc.

    why = why_not()            # None, or why this host cannot (77: skipped)
    enter_own_namespace()      # re-execs the test in a namespace of its own
    p = NetPartition()         # the far namespace and the veth pair
    argv = p.wrap(argv)        # a server's argv, run on the far side
    p.delay(ms); p.cut(); p.heal(); p.probe(port)
    p.close()                  # always, in a finally
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

NEAR_IF, FAR_IF = "kassa-near", "kassa-far"
NEAR_ADDR, FAR_ADDR = "10.211.0.1", "10.211.0.2"
FILL_BITS = 256000  # the delayed link's rate: 32 KB/s, room for 30 lanes' own traffic
FILL_DATAGRAM, FILL_PORT = 1400, 9  # the filler's datagrams, to the discard port (no listener)
INNER = "KASSA_IN_NETNS"


def _sh(script, timeout=30):
    """(exit status, what it said) of a shell script."""
    try:
        r = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return 1, str(e)
    return r.returncode, " ".join((r.stdout + r.stderr).split())


def why_not():
    """None when this process may build the partition (root, network
    namespaces, veth, htb and pfifo), else why not, as the tools said."""
    if os.geteuid() != 0:
        return "not root (network namespaces and tc need CAP_NET_ADMIN)"
    for tool in ("ip", "tc", "unshare", "nsenter", "setpriv"):
        if not shutil.which(tool):
            return f"no `{tool}` (iproute2, util-linux)"
    script = ('step() { out=$("$@" 2>&1) || { echo "\\`$*\\`: ${out:-failed}"; exit 1; }; }; '
              "unshare -n sleep 30 & h=$!; sleep 0.2; trap 'kill $h' EXIT; "
              "step ip link add kp-a type veth peer name kp-b netns $h && "
              "step tc qdisc add dev kp-a root handle 1: htb default 1 && "
              "step tc class add dev kp-a parent 1: classid 1:1 htb rate 8kbit quantum 1514 && "
              "step tc qdisc replace dev kp-a root pfifo limit 0")
    rc, out = _sh(f"unshare -n sh -c {_quote(script)}")
    return None if rc == 0 else (out or f"exit {rc}")


def _quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def enter_own_namespace():
    """Re-exec this very test (sys.argv) in a network namespace of its own,
    loopback up; returns at once when already inside it."""
    if os.environ.get(INNER):
        return
    os.environ[INNER] = "1"
    os.execvp("unshare", ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
                          sys.executable, *sys.argv])


class NetPartition:
    def __init__(self):
        """The far namespace and the link to it, up; raises RuntimeError with
        the failing command's words."""
        self.state = "up"
        self.netem = None
        self._filler = self.holder = None
        if not os.environ.get(INNER):  # never a veth in the host's own namespace
            raise RuntimeError("NetPartition outside the test's own namespace "
                               "(enter_own_namespace() first)")
        # The far namespace lives as long as this sleep, which dies with the test.
        self.holder = subprocess.Popen(["setpriv", "--pdeathsig", "KILL", "unshare", "-n", "sleep",
                                        "infinity"])
        try:
            self._far_ready()
            self._ip("link", "add", NEAR_IF, "type", "veth", "peer", "name", FAR_IF, "netns",
                     str(self.holder.pid))
            self._ip("addr", "add", f"{NEAR_ADDR}/30", "dev", NEAR_IF)
            self._ip("link", "set", NEAR_IF, "up")
            self._ip("link", "set", "lo", "up", far=True)
            self._ip("addr", "add", f"{FAR_ADDR}/30", "dev", FAR_IF, far=True)
            self._ip("link", "set", FAR_IF, "up", far=True)
            near_mac, far_mac = self._mac(NEAR_IF), self._mac(FAR_IF, far=True)
            self._ip("neigh", "replace", FAR_ADDR, "lladdr", far_mac, "dev", NEAR_IF, "nud",
                     "permanent")
            self._ip("neigh", "replace", NEAR_ADDR, "lladdr", near_mac, "dev", FAR_IF, "nud",
                     "permanent", far=True)
            self.netem = self._try("tc", "qdisc", "add", "dev", NEAR_IF, "root", "netem", "delay",
                                   "1ms") == 0
            if self.netem:
                self._run("tc", "qdisc", "del", "dev", NEAR_IF, "root")
        except BaseException:
            self.close()
            raise

    def _far_ready(self):
        """Wait until the holder's unshare has made its namespace."""
        mine = os.readlink("/proc/self/ns/net")
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                if os.readlink(f"/proc/{self.holder.pid}/ns/net") != mine and \
                        os.readlink(f"/proc/{self.holder.pid}/exe").endswith("sleep"):
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("the far namespace was not made (unshare -n)")

    def _argv(self, argv, far):
        return ["nsenter", "-t", str(self.holder.pid), "-n", *argv] if far else list(argv)

    def _try(self, *argv, far=False):
        return subprocess.run(self._argv(argv, far), capture_output=True, timeout=30).returncode

    def _run(self, *argv, far=False):
        r = subprocess.run(self._argv(argv, far), capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"`{' '.join(argv)}`: {r.stderr.strip()}")
        return r.stdout

    def _ip(self, *argv, far=False):
        return self._run("ip", *argv, far=far)

    def _mac(self, ifname, far=False):
        return json.loads(self._ip("-j", "link", "show", ifname, far=far))[0]["address"]

    def wrap(self, argv):
        """argv run in the far namespace (nsenter execs it: the pid is the
        server's own, for signals)."""
        return self._argv(argv, True)

    def _both(self, *qdisc):
        """The same root queueing discipline on both ends ("del" removes it)."""
        for ifname, far in ((NEAR_IF, False), (FAR_IF, True)):
            if qdisc == ("del",):
                self._try("tc", "qdisc", "del", "dev", ifname, "root", far=far)
            else:
                self._run("tc", "qdisc", "replace", "dev", ifname, "root", *qdisc, far=far)

    def delay(self, ms):
        """Every packet towards the server about ms late: netem's delay of ms
        each way where the kernel has it; else a congested link. A token
        bucket alone delays nothing that comes after a silence (the first
        packet passes on the tokens saved), so the way to the server is
        htb at FILL_BITS and a filler keeps its queue ms long: UDP datagrams
        to a port nobody listens on, at the link's rate, after a first ms
        worth (the far side drops them). Every packet of the lanes and of
        the probe waits behind that queue: a fresh connection's request
        about 2 ms (its SYN, then its data), one on a kept connection ms."""
        if self.netem:
            self._both("netem", "delay", f"{ms}ms")
            self.how = f"netem delay {ms} ms each way"
        else:
            self._run("tc", "qdisc", "replace", "dev", NEAR_IF, "root", "handle", "1:", "htb",
                      "default", "1")
            self._run("tc", "class", "add", "dev", NEAR_IF, "parent", "1:", "classid", "1:1",
                      "htb", "rate", f"{FILL_BITS}bit", "ceil", f"{FILL_BITS}bit", "quantum",
                      "1514")
            self._fill_stop, primed = threading.Event(), threading.Event()
            self._filler = threading.Thread(target=self._fill, args=(ms, primed), daemon=True)
            self._filler.start()
            primed.wait(10)  # the queue is ms long before anything else joins it
            self.how = (f"htb at {FILL_BITS // 1000} kbit/s towards the node, its queue kept "
                        f"{ms} ms long; no sch_netem in this kernel")
        self.state = "delayed"

    def _fill(self, ms, primed):
        """The filler (see delay()): the bytes owed by now sent, then every
        10 ms, until _fill_stop; primed set once the first ms are queued."""
        rate = FILL_BITS / 8  # bytes a second
        wire = FILL_DATAGRAM + 42  # with its UDP, IP and Ethernet headers, as htb counts it
        payload = bytes(FILL_DATAGRAM)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # The queue holds up to ms of datagrams, all charged to this socket's
        # send buffer: one large enough (SO_SNDBUFFORCE, root's) never blocks.
        s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_SNDBUFFORCE", 32), 64 << 20)
        t0, sent = time.monotonic(), 0
        try:
            while True:
                owed = rate * (ms / 1000 + time.monotonic() - t0)
                while sent + wire <= owed:
                    try:
                        s.sendto(payload, (FAR_ADDR, FILL_PORT))
                    except OSError:
                        pass  # a full queue drops it: it is only filler
                    sent += wire
                primed.set()
                if self._fill_stop.wait(0.01):
                    break
        finally:
            s.close()

    def _unfill(self):
        if self._filler:
            self._fill_stop.set()
            self._filler.join()
            self._filler = None

    def cut(self):
        """A black hole: the carrier stays up, every packet either way is
        dropped (pfifo of length 0), so a request meets only silence."""
        self._unfill()
        self._both("pfifo", "limit", "0")
        self.state = "cut"

    def heal(self):
        self._unfill()
        self._both("del")
        self.state = "up"

    def probe(self, port, limit):
        """(seconds, how) of one HTTP request to the far side's port on a
        fresh connection, until the answer's headers are in: how is
        "answered", "silence" (nothing within limit seconds, or the kernel
        gave up the connection: ETIMEDOUT) or the error (a refusal, "no
        route to host" ...)."""
        t = time.monotonic()
        end = t + limit
        s = socket.socket()
        got = b""
        try:
            s.settimeout(limit)
            s.connect((FAR_ADDR, port))
            s.sendall(b"GET /probe HTTP/1.1\r\nHost: store\r\nConnection: close\r\n"
                      b"X-Probe: " + b"x" * 200 + b"\r\n\r\n")  # a claim's size
            while time.monotonic() < end and b"\r\n\r\n" not in got:
                s.settimeout(max(0.01, end - time.monotonic()))
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            took = time.monotonic() - t
            if got.startswith(b"HTTP/"):
                return took, "answered"
            return took, (f"not HTTP: {got[:40]!r}" if got else
                          "silence" if took >= limit else "closed without a word")
        except socket.timeout:
            return time.monotonic() - t, "silence"
        except OSError as e:
            return time.monotonic() - t, f"{type(e).__name__}: {e}"
        finally:
            s.close()

    def close(self):
        """The link and the far namespace gone (NULL-safe: twice is fine)."""
        self._unfill()
        if self.holder and self.holder.poll() is None:
            self._try("ip", "link", "del", NEAR_IF)
            self.holder.kill()
            self.holder.wait()
        self.holder = None

"""store_lane.py: one lane of a store, for the scripts that run many of them
against one store node (tests/integration/test_store_lanes.py, the
benchmark bench/store_scan.py).

A lane is a `kassa serve` of its own: its data folder, a marking FN
registered with the operator, the demo catalogue, the FN's keys, a shift
open, and a config whose [store] section points at the node. Its log (a
line per refused request: thousands in a race) goes to a file, never to a
pipe nobody reads until the end, which would block the lane once full.

    kit = LaneKit(kassa, root, procs, check, api_token, store_token, timeout_ms, pin)
    lane = Lane(kit, i, store_url)
    lane.prepare(op, keys_port)     # FN, catalogue, keys, shift, `kassa serve`
    taken, reasons, times = lane.sell(codes)
    lane.serve.stop()               # always, in a finally
"""
import json
import os
import time

from harness import Serve, register_fn, run
from shop import exchange

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OWNER = "7707083893"  # the demo store's INN (harness.register_fn)


def fn_number(i):
    """Lane i's FN number (its name at the store node)."""
    return "99990789%08d" % (21000 + i)


class LaneKit:
    """What every lane of one run shares: the kassa binary, the run's folder,
    the list of processes to stop, the checks, the tokens, the [store]
    timeout and the manager's PIN."""

    def __init__(self, kassa, root, procs, check, api_token, store_token, timeout_ms, pin):
        self.kassa, self.root, self.procs, self.check = kassa, root, procs, check
        self.api_token, self.store_token = api_token, store_token
        self.timeout_ms, self.pin = timeout_ms, pin


class Lane:
    def __init__(self, kit, i, store_url):
        self.kit = kit
        self.i = i
        self.fn = fn_number(i)
        self.dir = os.path.join(kit.root, f"lane{i}")
        self.conf = os.path.join(kit.root, f"lane{i}.conf")
        self.log_path = os.path.join(kit.root, f"lane{i}.log")
        os.makedirs(self.dir)
        with open(self.conf, "w") as f:
            f.write(f"""[paths]
data = {self.dir}
[service]
background = yes
send_interval_s = 3600
keys_refresh_days = 0
[till]
check = offline
api_token = {kit.api_token}
manager_pin = {kit.pin}
""")
            if store_url:  # None: a lane of its own, as without a store
                f.write(f"[store]\nurl = {store_url}\ntoken = {kit.store_token}\n"
                        f"timeout_ms = {kit.timeout_ms}\n")
        self.serve = None

    def kassa(self, *args):
        return run([self.kit.kassa, "--config", self.conf, *args], timeout=120)

    def prepare(self, op, keys_port, pool=None):
        """The lane made ready and serving, each step checked: its FN
        registered (op(*args) runs kassa-operator), the demo catalogue, a
        pool of fresh codes for remarking when given (a file), the FN's keys
        from the operator's key server on keys_port, a shift open, `kassa
        serve` started. True when it serves."""
        check = self.kit.check
        register_fn(self.kassa, op, check, self.fn, OWNER, os.path.join(self.dir, "fn.db"))
        r = self.kassa("cache", "import-catalogue", os.path.join(SRC, "config/catalogue.csv"))
        check(f"lane {self.i} catalogue", r.returncode == 0, r.stderr)
        if pool:
            r = self.kassa("cache", "pool", "add", pool)
            check(f"lane {self.i}'s pool for remarking", r.returncode == 0, r.stdout + r.stderr)
        r = self.kassa("ofd", "keys", "--keys", f"127.0.0.1:{keys_port}")
        check(f"lane {self.i} keys", r.returncode == 0, r.stderr)
        r = self.kassa("shift", "open", "--cashier", "Иванова")
        check(f"lane {self.i} shift open", r.returncode == 0, r.stdout + r.stderr)
        ok = self.start()
        check(f"lane {self.i} serves", ok, self.serve.line if self.serve else "")
        return ok

    def start(self, *extra):
        """`kassa serve` on free ports, its log into the lane's log file."""
        self.log = open(self.log_path, "a")
        self.serve = LaneServe(self.kit, self.conf, self.log, *extra)
        return self.serve.api is not None

    def api(self, method, path, body=None):
        """(status, JSON answer) of the lane's `kassa serve`, recorded for the
        contract test (shop.exchange)."""
        st, j, _ = exchange(self.serve.api, "api", method, path, body,
                            {"Authorization": f"Bearer {self.kit.api_token}"}, timeout=30)
        return st, j

    def scan(self, code):
        """One scan (POST items on the open receipt): (status, answer,
        seconds it took)."""
        t = time.monotonic()
        try:
            st, j = self.api("POST", "/api/receipts/current/items", {"code": code})
        except OSError as e:  # a scan that took 30 s: a failure to report, not a crash
            st, j = 0, {"error": f"no answer: {e}"}
        return st, j, time.monotonic() - t

    def sell(self, codes):
        """One receipt: each code scanned (its reason kept), paid when any
        line was taken. (sold codes, {code: reason}, seconds of each scan)."""
        st, _ = self.api("POST", "/api/receipts", {"operation": "sale", "cashier": "Иванова"})
        if st != 201:
            return [], {}, []
        taken, reasons, times = [], {}, []
        for c in codes:
            st, j, took = self.scan(c)
            times.append(took)
            if st == 201:
                taken.append(c)
            else:
                reasons[c] = (j.get("decision") or {}).get("reason") or j.get("error")
                if os.environ.get("LANES_DEBUG"):
                    print(j)
        if taken:
            st, j = self.api("POST", "/api/receipts/current/pay", {"method": "cash"})
            if st != 200:
                reasons["pay"] = j
                return [], reasons, times
        else:
            self.cancel()
        return taken, reasons, times

    def cancel(self):
        """The open receipt cancelled (DELETE)."""
        st, j = self.api("DELETE", "/api/receipts/current")
        if st != 200:
            self.kit.check(f"lane {self.i}: the empty receipt cancelled", False, (st, j))

    def archive_codes(self):
        """Every marked code of every sale receipt in this lane's FN (its
        identification part), read with `kassa fd show --json`."""
        r = self.kassa("fd", "list", "--limit", "100000")
        sold = []
        for line in r.stdout.splitlines():
            words = line.split()
            if not words or not words[0].isdigit():
                continue
            d = self.kassa("fd", "show", words[0], "--json")
            try:
                doc = json.loads(d.stdout)
            except ValueError:
                continue
            rec = doc.get("receipt") or {}
            if rec.get("operationType") != 1:
                continue
            for item in rec.get("items", []):
                code = item.get("productCode", {}).get("gs1m") if isinstance(
                    item.get("productCode"), dict) else None
                km = item.get("markingCode") or code
                if km:
                    sold.append(km)
        return sold


class LaneServe(Serve):
    """harness.Serve with stderr into a file (stop() returns its tail)."""

    def __init__(self, kit, conf, log, *extra):
        super().__init__(kit.kassa, conf, kit.procs, extra=extra, stderr=log)
        self.log = log

    def stop(self, seconds=20):
        """terminate(): (exit status, the tail of its log file)."""
        rc = self.terminate(seconds)
        self.log.flush()
        with open(self.log.name) as f:
            return rc, f.read()[-4000:]

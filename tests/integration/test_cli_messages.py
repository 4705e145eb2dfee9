#!/usr/bin/env python3
"""test_cli_messages.py KASSA KASSA_OPERATOR: what `kassa sale` tells a
person is true (issue 23).

  - An FN whose marking keys were never loaded refuses a marked good as
    `fn_refused` / `keys_never_loaded`, saying the keys were never loaded,
    not that they are older than 90 days; once loaded and 91 days old
    (the FN's clock moved with KASSA_FAKE_NOW) it says they are too old.
  - `kassa init` with a shop's own requisites makes a registered till with
    keys, catalogue and cache; without them (off a terminal) it is a usage
    error that names them; over an existing FN it refuses.
  - A remote shop's till (an autonomous FN): at 49 hours of the three-day
    batch `kassa sale add` warns with the true hours left (23), at 73 hours
    it refuses with the whole notice in each language, one language a line,
    no sentence repeated and no broken character.

Every process is stopped at the end; prints "N passed, N failed".
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

KASSA, OPERATOR = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
check = harness.Checks()
root, op_dir, online_dir, remote_dir, init_dir = harness.workdirs(
    "kassa-messages-", "operator", "online", "remote", "init")
OWNER = "7707083893"
HOUR, DAY = 3600, 86400
T0 = int(time.time()) + time.localtime().tm_gmtoff


def op(*args):
    return harness.op(OPERATOR, op_dir, *args)


def config(path, data, ports):
    with open(path, "w") as f:
        f.write(harness.till_conf(data, ports) + f"""[service]
background = no
[till]
check = both
manager_pin = 2468
api_token = messages-test
[trueapi]
api_key = demo-key
""")


def kassa_at(conf, at):
    def run(*args):
        return harness.run([KASSA, "--config", conf, *args], timeout=120,
                           env=dict(os.environ, KASSA_FAKE_NOW=str(T0 + at)))
    return run


def must(run, *args):
    r = run(*args)
    check(f"kassa {' '.join(args)[:70]}", r.returncode == 0, r.stdout[-400:] + r.stderr[-800:])
    return r


def main():
    r = op("keys", "new", "--kind", "hmac")
    check("operator keys", r.returncode == 0, r.stderr)
    jeans = [c for c in op("issue", "--gtin", "04601234501026", "--group", "lp", "--count", "4",
                           "--owner", OWNER).stdout.split()]
    water = [c for c in op("issue", "--gtin", "04605550000010", "--group", "water", "--count", "2",
                           "--owner", OWNER).stdout.split()]
    check("codes issued", len(jeans) == 4 and len(water) == 2, (jeans, water))
    operator = harness.Operator(OPERATOR, op_dir, check)
    try:
        catalogue = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))), "config", "catalogue.csv")

        # ---- keys never loaded, then loaded and 91 days old ----------------------
        conf = os.path.join(root, "online.conf")
        config(conf, online_dir, operator.ports)
        k0 = kassa_at(conf, 0)
        harness.register_fn(k0, op, check, "9999078900007011", OWNER,
                            os.path.join(online_dir, "fn.db"))
        must(k0, "cache", "import-catalogue", catalogue)
        must(k0, "shift", "open")
        r = k0("sale", "check", "--escaped", jeans[0])
        check("keys never loaded: refused as fn_refused", r.returncode == 1 and
              "[fn_refused]" in r.stdout, r.stdout + r.stderr)
        check("keys never loaded: said so, in both languages",
              "ещё не загружены" in r.stdout and "were never loaded" in r.stdout, r.stdout)
        check("keys never loaded: not 'older than 90 days'",
              "старше 90" not in r.stdout and "over 90 days" not in r.stdout, r.stdout)
        r = k0("sale", "check", "--escaped", jeans[0], "--json")
        check("keys never loaded: the detail names it", '"detail":"keys_never_loaded"' in r.stdout,
              r.stdout)
        must(k0, "ofd", "keys")
        r = k0("sale", "check", "--escaped", jeans[0])
        check("keys loaded: the code may be sold", r.returncode == 0, r.stdout + r.stderr)
        must(k0, "ofd", "flush")  # the OFD has it all: only the keys grow old
        old = kassa_at(conf, 91 * DAY)
        must(old, "shift", "close")
        must(old, "shift", "open")
        r = old("sale", "check", "--escaped", jeans[0], "--json")
        check("keys 91 days old: keys_expired, over 90 days",
              '"detail":"keys_expired"' in r.stdout and "старше 90 дней" in r.stdout, r.stdout)

        # ---- the remote shop at 49 and 73 hours ----------------------------------
        conf = os.path.join(root, "remote.conf")
        config(conf, remote_dir, operator.ports)
        k0 = kassa_at(conf, 0)
        must(k0, "fn", "init", "--fn-number", "9999078900007012")
        must(k0, "fn", "register", "--reg-number", "0000000001012345", "--inn", OWNER, "--name",
             "ООО «Ромашка»", "--address", "д. Дальняя, 1", "--autonomous")
        r = op("fn", "add", "--fn-db", os.path.join(remote_dir, "fn.db"))
        check("the operator knows the remote FN", r.returncode == 0, r.stderr)
        must(k0, "ofd", "keys")
        must(k0, "cache", "import-catalogue", catalogue)
        must(k0, "shift", "open")
        must(k0, "sale", "open")
        must(k0, "sale", "add", "--escaped", jeans[1])
        must(k0, "sale", "pay")
        must(kassa_at(conf, HOUR), "shift", "close")
        k49 = kassa_at(conf, 49 * HOUR)
        must(k49, "shift", "open")
        must(k49, "sale", "open")
        r = must(k49, "sale", "add", "--escaped", water[0])
        check("49 h: sale add warns with the true hours left (RU)",
              "! Уведомления о продажах ждут передачи оператору 2 дня 1 час: через 23 часа "
              "продажа маркированных товаров будет остановлена." in r.stdout, r.stdout)
        check("49 h: ... and in English",
              "! Sale notifications have waited 2 days 1 hour: in 23 hours sales of marked goods "
              "stop." in r.stdout, r.stdout)
        r = must(k49, "sale", "add", "--escaped", water[1], "--json")
        check("49 h: the JSON decision carries the warning",
              '"warning_ru":"Уведомления о продажах ждут' in r.stdout, r.stdout)
        must(k49, "sale", "cancel")
        k73 = kassa_at(conf, 73 * HOUR)
        must(k73, "shift", "close")
        must(k73, "shift", "open")
        must(k73, "sale", "open")
        r = k73("sale", "add", "--escaped", jeans[2])
        lines = r.stdout.splitlines()
        check("73 h: refused", r.returncode == 1 and "[delivery_overdue]" in r.stdout, r.stdout)
        ru = next((l.strip() for l in lines if "Продажа маркированных" in l), "")
        en = next((l.strip() for l in lines if "Marked sales are stopped" in l), "")
        check("73 h: the Russian line whole, to what to do",
              ru.startswith("Продажа маркированных товаров остановлена: сроки передачи данных "
                            "нарушены. Уведомления о продажах не переданы оператору 3 дня 1 час "
                            "(срок 3 дня). Выгрузите пакет (kassa batch export --out FILE)")
              and ru.endswith("(kassa batch upload FILE, kassa ofd flush)."), ru)
        check("73 h: its first sentence once", ru.count("остановлена") == 1, ru)
        check("73 h: one language a line", "Sale" not in ru and "Уведомления" not in en, (ru, en))
        check("73 h: the English line whole",
              en.endswith("(kassa batch upload FILE, kassa ofd flush).") and "\ufffd" not in en
              and "?" not in en, en)
        must(k73, "sale", "cancel")

        # ---- kassa init with a shop's own requisites ------------------------------
        conf = os.path.join(root, "init.conf")
        config(conf, os.path.join(init_dir, "till"), operator.ports)
        k0 = kassa_at(conf, 0)
        r = harness.run([KASSA, "--config", conf, "init", "--inn", OWNER], stdin=subprocess.DEVNULL)
        check("init without the requisites, off a terminal: usage error naming them",
              r.returncode == 2 and "--reg-number" in r.stderr and not os.path.exists(
                  os.path.join(init_dir, "till")), (r.returncode, r.stderr))
        r = k0("init", "--fn-number", "9999078900007013", "--reg-number", "0000000001012345",
               "--inn", OWNER, "--name", "ИП Петров", "--address", "г. Тверь, ул. Советская, 5",
               "--ofd-inn", "7704211201", "--ofd-name", "ОФД", "--catalogue", catalogue)
        check("init with real requisites: FN, registration, keys, catalogue, cache",
              r.returncode == 0 and "is ready" in r.stdout and "verification keys loaded" in
              r.stdout and "imported 19 products" in r.stdout, r.stdout[-1500:] + r.stderr)
        r = k0("fn", "status", "--json")
        check("init: the FN registered (document 1) and its keys loaded",
              '"kktRegId":"0000000001012345"' in r.stdout and '"lastDocument":1,' in r.stdout
              and '"keysUpdatedAt":0' not in r.stdout, r.stdout)
        # A correction's reason longer than 1030 holds (128 characters) ends at
        # a word on paper, never inside one (it was cut at 128 bytes).
        must(k0, "shift", "open")
        reason = " ".join(["Возврат излишне полученной суммы"] * 6)
        must(k0, "correction", "--operation", "income", "--cash", "10000", "--vat", "22",
             "--reason", reason)
        r = must(k0, "fd", "copy", "3")
        printed = " ".join(l.strip() for l in r.stdout.splitlines())
        check("correction: the long reason ends at a word with ...",
              "Возврат излишне полученной суммы Возврат излишне полученной суммы Возврат "
              "излишне полученной суммы Возврат излишне полученной..." in printed
              and "?" not in printed, r.stdout)
        r = k0("init", "--demo")
        check("init over an FN that exists: refused, nothing touched",
              r.returncode == 1 and "already holds an FN" in r.stderr, (r.returncode, r.stderr))
    finally:
        operator.stop("messages")
    return harness.finish(check, root)


sys.exit(main())

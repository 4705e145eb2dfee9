#!/usr/bin/env python3
"""run.py OPENAPI API_C LM_C RECORDS_DIR [NAME...]: the contract test's runner.

Installs the pinned npm packages of package-lock.json (npm ci, only when
node_modules lacks them or holds other versions), then runs check.mjs:
docs/openapi.yaml validated as OpenAPI 3.1, every route of pos/serve/api.c
and lm.c documented (and nothing documented that the code lacks), every
answer the API tests recorded into RECORDS_DIR checked against the
document (with NAMEs: RECORDS_DIR/NAME.jsonl for each, every one required;
without: every *.jsonl there). Exit 77 (skipped, never passed) when node or npm is missing.
"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def installed_matches_lock():
    with open(os.path.join(HERE, "package-lock.json")) as f:
        pinned = json.load(f)["packages"]
    for path, entry in pinned.items():
        if not path.startswith("node_modules/"):
            continue
        try:
            with open(os.path.join(HERE, path, "package.json")) as f:
                if json.load(f).get("version") != entry.get("version"):
                    return False
        except (OSError, ValueError):
            return False
    return True


def main():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        print("SKIP contract: node and npm not found (scripts/install-deps installs them)")
        return 77
    if not installed_matches_lock():
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE,
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            print("FAIL npm ci", r.stdout + r.stderr)
            return 1
    paths = [os.path.abspath(p) for p in sys.argv[1:5]]
    return subprocess.run([node, os.path.join(HERE, "check.mjs"), *paths, *sys.argv[5:]], cwd=HERE,
                          timeout=300).returncode


sys.exit(main())

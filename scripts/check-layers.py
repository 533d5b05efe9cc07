#!/usr/bin/env python3
"""Checks the layer rule of docs/architecture.md: a top-level module of src/ refers (`crate::x`)
only to modules of layers below its own, and not to its siblings (the modules of one layer,
the foundation's included, do not use each other). Prints each edge that breaks the rule and exits 1 if there is any.

Reads code lines only (not `//` comments, not `#[cfg(test)]` parts, not tests.rs files), so doc
links to higher layers are allowed. A new top-level module must be given a layer here."""
import os
import re
import sys

LAYERS = [
    "clock capped_read tls_provider shard systemd logging failure",  # foundation
    "cli",
    "x509",
    "config",
    "fetch",
    "revocation",
    "probe",
    "state",
    "metrics",
    "scheduler inventory",
    "server check",
    "app",
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names.split()}
CRATE_PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")


def top_module(src, path):
    first = os.path.relpath(path, src).split(os.sep)[0]
    return first[:-3] if first.endswith(".rs") else first


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "src"
    broken = 0
    for root, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith(".rs") or name == "tests.rs":
                continue
            path = os.path.join(root, name)
            top = top_module(src, path)
            if top in ("main", "lib"):
                continue
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    code = line.strip()
                    if code.startswith("#[cfg(test)]"):
                        break
                    if code.startswith("//"):
                        continue
                    for match in CRATE_PATH.finditer(line):
                        to = match.group(1)
                        if to == top:
                            continue
                        if top not in RANK or to not in RANK:
                            print(f"{path}:{number}: module without a layer: {top} -> {to}")
                            broken += 1
                        elif RANK[to] >= RANK[top]:
                            kind = "sibling" if RANK[to] == RANK[top] else "upward"
                            print(f"{path}:{number}: {kind} import {top} -> {to}: {code[:90]}")
                            broken += 1
    print(f"layer check: {broken} edge(s) against the rule")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())

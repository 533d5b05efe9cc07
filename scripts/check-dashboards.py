#!/usr/bin/env python3
"""Lists (and optionally checks) the PromQL in the Grafana dashboards under dashboards/.

Default: print every panel query's `expr`, one per line, with template variables replaced by
values that match everything, so each line can be sent to Prometheus's HTTP API as it is:

    python3 scripts/check-dashboards.py
    python3 scripts/check-dashboards.py dashboards/cert-expiry-target.json
    python3 scripts/check-dashboards.py | while IFS= read -r q; do
        curl -fsS --get --data-urlencode "query=$q" http://localhost:9090/api/v1/query >/dev/null \
            || echo "FAILED: $q"
    done

Substitutions: dashboard variables of type query/custom/interval ($job, $instance, $target, ...)
become `.*` (the dashboards use them only in `=~` matchers); constant and textbox variables become
their value; $__rate_interval, $__interval and $__range become 5m ($__*_s / $__*_ms in seconds
and milliseconds); ${datasource} never appears in an expr and is left alone; `$1`-style
label_replace references are not variables and stay as they are.

Options:
  --annotate    prefix each line with "file<TAB>panel title<TAB>refId<TAB>"
  --variables   also print the series selector inside each variable's label_values() query
  --check       do not print; validate the dashboards instead (exit 1 on any problem):
                valid JSON, schemaVersion >= 38, a fixed uid, a `datasource` variable of type
                datasource for prometheus, query variables job, instance and target using
                label_values(), every panel and query using the ${datasource} variable (no
                hard-coded data source uid), unique panel ids, no unknown variables, and
                variables used only with the =~ / !~ matchers.

Python 3 standard library only.
"""

import glob
import json
import os
import re
import signal
import sys

REQUIRED_VARIABLES = ("datasource", "job", "instance", "target")
DATASOURCE_REF = "${datasource}"
BUILTINS = {
    "__rate_interval": "5m",
    "__interval": "5m",
    "__range": "5m",
    "__interval_ms": "300000",
    "__range_s": "300",
    "__range_ms": "300000",
}
VAR_RE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)")
LABEL_VALUES_RE = re.compile(r"^\s*label_values\((.*),\s*(\w+)\s*\)\s*$", re.S)


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def walk_panels(panels):
    """Yields every panel, including those nested in (collapsed) rows."""
    for panel in panels or []:
        yield panel
        yield from walk_panels(panel.get("panels"))


def variable_values(dashboard):
    """Maps each dashboard variable name to the text that replaces it."""
    values = {}
    for var in dashboard.get("templating", {}).get("list", []):
        name = var.get("name")
        kind = var.get("type")
        if kind in ("constant", "textbox"):
            query = var.get("query")
            current = (var.get("current") or {}).get("value")
            values[name] = str(current if current not in (None, "") else query or "")
        elif kind == "datasource":
            values[name] = None  # leave untouched
        else:
            values[name] = ".*"
    values.update(BUILTINS)
    return values


def substitute(expr, values, unknown=None):
    def repl(match):
        name = match.group(1) or match.group(2) or match.group(3)
        if name in values:
            return match.group(0) if values[name] is None else values[name]
        if unknown is not None and not name.isdigit():
            unknown.add(name)
        return match.group(0)

    return VAR_RE.sub(repl, expr)


def one_line(expr):
    return " ".join(expr.split())


def variable_query(var):
    query = var.get("query")
    if isinstance(query, dict):
        query = query.get("query", "")
    return query or var.get("definition") or ""


def queries(dashboard):
    """Yields (panel title, refId, expr) for every panel query."""
    for panel in walk_panels(dashboard.get("panels")):
        for target in panel.get("targets") or []:
            expr = target.get("expr")
            if expr:
                yield panel.get("title", ""), target.get("refId", ""), expr


def check(path, dashboard):
    problems = []

    def problem(msg):
        problems.append(f"{path}: {msg}")

    if not isinstance(dashboard.get("schemaVersion"), int) or dashboard["schemaVersion"] < 38:
        problem(f"schemaVersion {dashboard.get('schemaVersion')!r} is not 38 or later (Grafana 10+)")
    if not dashboard.get("uid"):
        problem("no fixed `uid`")
    if not dashboard.get("title"):
        problem("no title")

    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    for name in REQUIRED_VARIABLES:
        if name not in variables:
            problem(f"template variable `{name}` is missing")
    ds = variables.get("datasource")
    if ds and (ds.get("type") != "datasource" or ds.get("query") != "prometheus"):
        problem("variable `datasource` must be of type datasource with query prometheus")
    for name in ("job", "instance", "target"):
        var = variables.get(name)
        if not var:
            continue
        if var.get("type") != "query":
            problem(f"variable `{name}` must be of type query")
        if not LABEL_VALUES_RE.match(variable_query(var)):
            problem(f"variable `{name}` does not use label_values(): {variable_query(var)!r}")
        if (var.get("datasource") or {}).get("uid") != DATASOURCE_REF:
            problem(f"variable `{name}` does not query the ${{datasource}} data source")

    values = variable_values(dashboard)
    seen_ids = {}
    for panel in walk_panels(dashboard.get("panels")):
        title = panel.get("title", "")
        pid = panel.get("id")
        if pid in seen_ids:
            problem(f"panel id {pid} used by both {seen_ids[pid]!r} and {title!r}")
        seen_ids[pid] = title
        if "gridPos" not in panel:
            problem(f"panel {title!r} has no gridPos")
        if panel.get("type") == "row":
            continue
        refs = [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets") or []]
        for ref in refs:
            uid = ref.get("uid") if isinstance(ref, dict) else ref
            if uid is not None and uid != DATASOURCE_REF:
                problem(f"panel {title!r} uses a hard-coded data source {uid!r}")
        if not panel.get("targets"):
            problem(f"panel {title!r} has no queries")
        for target in panel.get("targets") or []:
            expr = target.get("expr")
            if not expr:
                problem(f"panel {title!r} query {target.get('refId')!r} has no expr")
                continue
            unknown = set()
            substitute(expr, values, unknown)
            for name in sorted(unknown):
                problem(f"panel {title!r} uses the unknown variable ${name}")
            for m in re.finditer(r'(\w+)\s*(!?=)\s*"[^"]*\$', expr):
                problem(f"panel {title!r}: label {m.group(1)} compares a variable with {m.group(2)}; "
                        "use =~ so All and multiple values work")
    return problems


def main(argv):
    opts = {a for a in argv if a.startswith("--")}
    known = {"--annotate", "--variables", "--check", "--help", "-h"}
    if "--help" in opts or "-h" in argv:
        print(__doc__)
        return 0
    bad = opts - known
    if bad:
        print(f"unknown option(s): {' '.join(sorted(bad))}", file=sys.stderr)
        return 2
    paths = [a for a in argv if not a.startswith("-")]
    if not paths:
        paths = sorted(glob.glob(os.path.join(repo_root(), "dashboards", "*.json")))
    if not paths:
        print("no dashboards found", file=sys.stderr)
        return 1

    problems = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                dashboard = json.load(f)
        except (OSError, ValueError) as e:
            problems.append(f"{path}: cannot read as JSON: {e}")
            continue
        if "--check" in opts:
            problems.extend(check(path, dashboard))
            continue
        values = variable_values(dashboard)
        name = os.path.basename(path)
        for title, ref, expr in queries(dashboard):
            line = one_line(substitute(expr, values))
            print(f"{name}\t{title}\t{ref}\t{line}" if "--annotate" in opts else line)
        if "--variables" in opts:
            for var in dashboard.get("templating", {}).get("list", []):
                m = LABEL_VALUES_RE.match(variable_query(var)) if var.get("type") == "query" else None
                if m:
                    line = one_line(substitute(m.group(1), values))
                    print(f"{name}\tvariable {var['name']}\t-\t{line}" if "--annotate" in opts else line)

    for p in problems:
        print(p, file=sys.stderr)
    if "--check" in opts and not problems:
        print(f"dashboards OK: {len(paths)} checked")
    return 1 if problems else 0


if __name__ == "__main__":
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet when piped into head
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env bash
# Checks the deployment artifacts: Prometheus rules and their unit tests, the generated
# PrometheusRule, the Kubernetes manifests, the systemd unit, the Grafana dashboards, the
# Dockerfile, and the links of the documentation. Run from anywhere: `bash scripts/check-deploy.sh`. Exits non-zero if any check
# fails; runs all checks either way. Changes nothing in the work tree.
#
# Needs promtool and prometheus (Debian: prometheus), python3 with PyYAML (Debian:
# python3-yaml) and systemd-analyze (Debian: systemd); installs what is missing with apt-get
# when it can. amtool (Debian: prometheus-alertmanager) is optional.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
ROOT=$PWD
TMP=$(mktemp -d)
PROM_PID=
cleanup() {
    if [ -n "$PROM_PID" ]; then kill "$PROM_PID" 2>/dev/null; wait "$PROM_PID" 2>/dev/null; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

FAILED=()
step() { printf '\n== %s\n' "$1"; }
fail() { printf 'FAIL: %s\n' "$1"; FAILED+=("$1"); }
ok() { printf 'ok: %s\n' "$1"; }

ALERTS=deploy/prometheus/alerts.yml
ALERTS_TEST=deploy/prometheus/alerts_test.yml
COMPAT=deploy/prometheus/compat-rules.yml
COMPAT_TEST=deploy/prometheus/compat-rules_test.yml
RULE=deploy/kubernetes/prometheusrule.yaml
UNIT=deploy/systemd/cert-expiry-exporter.service

# --- tools -------------------------------------------------------------------------------
APT_UPDATED=
apt_install() {
    command -v apt-get >/dev/null || return 1
    [ "$(id -u)" = 0 ] || return 1
    echo "installing $* with apt-get"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >"$TMP/apt.log" 2>&1; then
        [ -n "$APT_UPDATED" ] || { apt-get update -q >>"$TMP/apt.log" 2>&1; APT_UPDATED=1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$TMP/apt.log" 2>&1 \
            || { tail -5 "$TMP/apt.log"; return 1; }
    fi
}

step "tools"
{ command -v promtool >/dev/null && command -v prometheus >/dev/null; } || apt_install prometheus
command -v systemd-analyze >/dev/null || apt_install systemd
PY=
for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import yaml' 2>/dev/null; then
        PY=$candidate; break
    fi
done
if [ -z "$PY" ]; then
    apt_install python3-yaml
    for candidate in python3 /usr/bin/python3; do
        if command -v "$candidate" >/dev/null && "$candidate" -c 'import yaml' 2>/dev/null; then
            PY=$candidate; break
        fi
    done
fi
command -v promtool >/dev/null && ok "promtool: $(promtool --version 2>&1 | head -1)" || fail "promtool is not installed"
command -v systemd-analyze >/dev/null && ok "systemd-analyze: $(systemd-analyze --version | head -1)" || fail "systemd-analyze is not installed"
[ -n "$PY" ] && ok "python with PyYAML: $PY" || fail "no python3 with PyYAML (apt-get install python3-yaml)"
PY_ANY=${PY:-python3}

# --- Prometheus rules --------------------------------------------------------------------
step "Prometheus rules: promtool check rules + test rules"
if command -v promtool >/dev/null; then
    promtool check rules "$ALERTS" && ok "$ALERTS" || fail "promtool check rules $ALERTS"
    promtool test rules "$ALERTS_TEST" && ok "$ALERTS_TEST" || fail "promtool test rules $ALERTS_TEST"
    # The optional compatibility rules (docs/migrating.md), tested with the peers' alerts.
    promtool check rules "$COMPAT" && ok "$COMPAT" || fail "promtool check rules $COMPAT"
    promtool test rules "$COMPAT_TEST" && ok "$COMPAT_TEST" || fail "promtool test rules $COMPAT_TEST"
fi

step "Prometheus rules: conventions (names, severity, for, annotations, runbook anchors)"
if [ -n "$PY" ]; then
    # The runbooks are the `## Alert: <Name>` sections of docs/runbooks.md, where the alerts'
    # runbook_url anchors point.
    "$PY" - "$ALERTS" docs/runbooks.md <<'PYEOF' && ok "rule conventions" || fail "rule conventions"
import re, sys, yaml
alerts_path, runbooks_path = sys.argv[1:3]
doc = yaml.safe_load(open(alerts_path))
runbooks = open(runbooks_path).read()
def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")
anchors = {slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", runbooks, re.M)}
problems, names = [], set()
prefix = "https://github.com/cert-expiry-exporter/cert-expiry-exporter/blob/main/docs/runbooks.md#"
for group in doc["groups"]:
    for rule in group["rules"]:
        if "record" in rule:
            if not re.fullmatch(r"[a-z_]+:[a-z_]+:[a-z_]+", rule["record"]):
                problems.append(f"recording rule {rule['record']}: not level:metric:operations")
            continue
        name = rule["alert"]
        if name in names:
            problems.append(f"{name}: defined twice")
        names.add(name)
        if not re.fullmatch(r"(Certificate|CertExporter)[A-Z][A-Za-z]+", name):
            problems.append(f"{name}: not CamelCase with prefix Certificate or CertExporter")
        if rule.get("labels", {}).get("severity") not in ("critical", "warning"):
            problems.append(f"{name}: severity must be critical or warning")
        if not rule.get("for"):
            problems.append(f"{name}: no `for:`")
        ann = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            if not ann.get(key):
                problems.append(f"{name}: no {key} annotation")
        url = ann.get("runbook_url", "")
        if url and url != prefix + "alert-" + name.lower():
            problems.append(f"{name}: runbook_url should be {prefix}alert-{name.lower()}")
        anchor = url.rpartition("#")[2]
        if anchor and anchor not in anchors:
            problems.append(f"{name}: {runbooks_path} has no heading with anchor #{anchor}")
for required in ("CertificateExpiring", "CertificateExpiringSoon", "CertificateRenewalOverdue",
                 "CertificateExpired", "CertificateNotYetValid", "CertificateChainInvalid",
                 "CertificateHostnameMismatch", "CertificateRevoked", "CertificateRevocationCheckFailing",
                 "CertificateCRLStale", "CertificateProbeFailing", "CertExporterDown",
                 "CertExporterAbsent", "CertExporterConfigReloadFailed"):
    if required not in names:
        problems.append(f"alert {required} is missing")
tests = yaml.safe_load(open(alerts_path.replace("alerts.yml", "alerts_test.yml")))
tested = {t["alertname"] for case in tests["tests"] for t in case.get("alert_rule_test", [])}
fired = {t["alertname"] for case in tests["tests"] for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
for name in sorted(names - tested):
    problems.append(f"{name}: no unit test")
for name in sorted(names - fired):
    problems.append(f"{name}: no unit test in which it fires")
for p in problems:
    print("  " + p)
print(f"  {len(names)} alerts, all with a unit test that fires" if not problems else "")
sys.exit(1 if problems else 0)
PYEOF
fi

# --- Alertmanager example --------------------------------------------------------------
step "Alertmanager example: amtool check-config"
command -v amtool >/dev/null || apt_install prometheus-alertmanager || true
if command -v amtool >/dev/null; then
    amtool check-config deploy/alertmanager/alertmanager-example.yml \
        && ok "deploy/alertmanager/alertmanager-example.yml" || fail "amtool check-config"
else
    echo "amtool is not installed (Debian: prometheus-alertmanager): skipped"
fi

# --- PrometheusRule ----------------------------------------------------------------------
step "PrometheusRule: generated file up to date"
if python3 scripts/gen-prometheusrule.py -o "$TMP/prometheusrule.yaml"; then
    if diff -u "$RULE" "$TMP/prometheusrule.yaml"; then
        ok "$RULE matches $ALERTS"
    else
        fail "$RULE is stale: run python3 scripts/gen-prometheusrule.py and commit it"
    fi
else
    fail "scripts/gen-prometheusrule.py failed"
fi

step "PrometheusRule: embedded rules pass promtool"
if [ -n "$PY" ]; then
    "$PY" - "$RULE" "$TMP/embedded-rules.yml" <<'PYEOF' || fail "cannot extract the rules from $RULE"
import sys, yaml
src, dst = sys.argv[1:3]
doc = yaml.safe_load(open(src))
assert doc["apiVersion"] == "monitoring.coreos.com/v1" and doc["kind"] == "PrometheusRule", "not a PrometheusRule"
yaml.safe_dump({"groups": doc["spec"]["groups"]}, open(dst, "w"), sort_keys=False)
PYEOF
else
    # Without PyYAML: everything after `spec:`, de-indented by two spaces.
    sed -n '/^spec:/,$p' "$RULE" | tail -n +2 | sed 's/^  //' >"$TMP/embedded-rules.yml"
fi
if command -v promtool >/dev/null && [ -s "$TMP/embedded-rules.yml" ]; then
    promtool check rules "$TMP/embedded-rules.yml" && ok "embedded rules" || fail "promtool check rules on the rules in $RULE"
fi

# --- Kubernetes manifests ----------------------------------------------------------------
step "Kubernetes manifests: parse and policy"
if [ -n "$PY" ]; then
    "$PY" - deploy/kubernetes <<'PYEOF' && ok "manifests" || fail "Kubernetes manifests"
import os, sys, yaml
d = sys.argv[1]
problems = []
docs = {}
for name in sorted(os.listdir(d)):
    if not name.endswith((".yaml", ".yml")):
        continue
    path = os.path.join(d, name)
    try:
        docs[name] = [x for x in yaml.safe_load_all(open(path)) if x is not None]
    except yaml.YAMLError as e:
        problems.append(f"{path}: {e}")
kust = docs.pop("kustomization.yaml", [{}])[0]
for res in kust.get("resources", []):
    if not os.path.exists(os.path.join(d, res)):
        problems.append(f"kustomization.yaml lists {res}, which does not exist")
for name, items in docs.items():
    if name not in kust.get("resources", []) and name != "statefulset-sharded.yaml":
        problems.append(f"{name} is not listed in kustomization.yaml")
    for obj in items:
        where = f"{name}: {obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
        for key in ("apiVersion", "kind", "metadata"):
            if key not in obj:
                problems.append(f"{where}: no {key}")
        meta = obj.get("metadata") or {}
        if not meta.get("name"):
            problems.append(f"{where}: no metadata.name")
        if "namespace" in meta:
            problems.append(f"{where}: sets a namespace; the manifests are namespace-agnostic")
        kind = obj.get("kind")
        if kind in ("Deployment", "StatefulSet"):
            spec = obj["spec"]["template"]["spec"]
            if obj["spec"]["selector"]["matchLabels"].items() - obj["spec"]["template"]["metadata"]["labels"].items():
                problems.append(f"{where}: selector does not match the pod labels")
            psc = spec.get("securityContext", {})
            if not psc.get("runAsNonRoot"):
                problems.append(f"{where}: pod securityContext.runAsNonRoot is not true")
            if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
                problems.append(f"{where}: pod seccompProfile is not RuntimeDefault")
            volumes = {v["name"]: v for v in spec.get("volumes", [])}
            for c in spec["containers"]:
                sc = c.get("securityContext", {})
                if sc.get("readOnlyRootFilesystem") is not True:
                    problems.append(f"{where}: {c['name']}: readOnlyRootFilesystem is not true")
                if sc.get("allowPrivilegeEscalation") is not False:
                    problems.append(f"{where}: {c['name']}: allowPrivilegeEscalation is not false")
                if (sc.get("capabilities") or {}).get("drop") != ["ALL"]:
                    problems.append(f"{where}: {c['name']}: capabilities do not drop ALL")
                if "--config.file=/etc/cert-expiry-exporter/config.yaml" not in c.get("args", []):
                    problems.append(f"{where}: {c['name']}: no --config.file=/etc/cert-expiry-exporter/config.yaml")
                if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/-/healthy":
                    problems.append(f"{where}: {c['name']}: livenessProbe is not GET /-/healthy")
                if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/-/ready":
                    problems.append(f"{where}: {c['name']}: readinessProbe is not GET /-/ready")
                if not (c.get("resources", {}).get("requests") and c.get("resources", {}).get("limits")):
                    problems.append(f"{where}: {c['name']}: no resource requests and limits")
                if {"name": "metrics", "containerPort": 10443, "protocol": "TCP"} not in c.get("ports", []):
                    problems.append(f"{where}: {c['name']}: no containerPort 10443 named metrics")
                mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
                m = mounts.get("/etc/cert-expiry-exporter")
                if not m:
                    problems.append(f"{where}: {c['name']}: nothing mounted at /etc/cert-expiry-exporter")
                else:
                    vol = volumes.get(m["name"], {})
                    cms = [vol.get("configMap", {}).get("name")] + [
                        s.get("configMap", {}).get("name") for s in vol.get("projected", {}).get("sources", [])]
                    if "cert-expiry-exporter-config" not in cms:
                        problems.append(f"{where}: /etc/cert-expiry-exporter is not the cert-expiry-exporter-config ConfigMap")
        if kind == "Service":
            ports = obj["spec"].get("ports", [])
            if not any(p.get("name") == "metrics" and p.get("port") == 10443 for p in ports):
                problems.append(f"{where}: no port 10443 named metrics")
        if kind == "ServiceMonitor":
            if obj.get("apiVersion") != "monitoring.coreos.com/v1":
                problems.append(f"{where}: apiVersion is not monitoring.coreos.com/v1")
            if not any(e.get("port") == "metrics" for e in obj["spec"].get("endpoints", [])):
                problems.append(f"{where}: no endpoint on port metrics")
        if kind == "ConfigMap" and meta.get("name") == "cert-expiry-exporter-config":
            cfg = yaml.safe_load(obj["data"]["config.yaml"])
            if set(cfg) - {"defaults", "targets"} or not cfg.get("targets"):
                problems.append(f"{where}: config.yaml needs targets and only defaults/targets at the top")
            for t in cfg.get("targets", []):
                if "address" not in t:
                    problems.append(f"{where}: a target has no address")
for p in problems:
    print("  " + p)
print(f"  {sum(len(v) for v in docs.values())} objects in {len(docs)} files")
sys.exit(1 if problems else 0)
PYEOF
fi

# The secrets component (deploy/kubernetes/secrets, docs/kubernetes.md), switched on in a copy:
# it must build, and give the Deployment the ServiceAccount the ClusterRole is bound to.
if command -v kubectl >/dev/null; then
    cp -r deploy/kubernetes "$TMP/kustomize"
    sed -i 's/^# components:/components:/; s/^#   - secrets/  - secrets/' "$TMP/kustomize/kustomization.yaml"
    if kubectl kustomize "$TMP/kustomize" >"$TMP/kustomize.out" 2>&1 \
        && grep -q 'serviceAccountName: cert-expiry-exporter' "$TMP/kustomize.out" \
        && grep -q 'kind: ClusterRoleBinding' "$TMP/kustomize.out" \
        && grep -q 'kubernetes:' "$TMP/kustomize.out"; then
        ok "kustomize with the secrets component"
    else
        head -20 "$TMP/kustomize.out"; fail "kustomize with the secrets component"
    fi
else
    echo "kubectl not installed: the secrets component is not built (optional)"
fi

# Optional: schema validation of the core kinds (pip install kubernetes-validate).
if command -v kubernetes-validate >/dev/null; then
    for f in configmap.yaml deployment.yaml service.yaml statefulset-sharded.yaml; do
        kubernetes-validate --strict -k 1.29.0 "deploy/kubernetes/$f" >"$TMP/kv.log" 2>&1 \
            && ok "schema (Kubernetes 1.29, strict): $f" || { cat "$TMP/kv.log"; fail "schema: $f"; }
    done
else
    echo "kubernetes-validate not installed: schema validation skipped (optional)"
fi

# --- systemd -----------------------------------------------------------------------------
step "systemd unit: systemd-analyze verify and security"
if command -v systemd-analyze >/dev/null; then
    # verify insists that ExecStart's binary exists: check the unchanged unit inside a
    # throw-away root holding a stand-in binary, /bin/kill (ExecReload) and the stock units.
    R=$TMP/root
    mkdir -p "$R/usr/local/bin" "$R/etc/systemd/system" "$R/bin" "$R/lib/systemd"
    printf '#!/bin/sh\nexit 0\n' >"$R/usr/local/bin/cert-expiry-exporter"
    chmod +x "$R/usr/local/bin/cert-expiry-exporter"
    cp "$(type -P kill || echo /bin/kill)" "$R/bin/kill"
    cp -r /lib/systemd/system "$R/lib/systemd/"
    cp "$UNIT" "$R/etc/systemd/system/"
    if out=$(systemd-analyze verify --root="$R" "$(basename "$UNIT")" 2>&1) && [ -z "$out" ]; then
        ok "systemd-analyze verify $UNIT"
    else
        printf '%s\n' "$out"
        fail "systemd-analyze verify $UNIT"
    fi
    # Exposure is on a 0-10 scale; --threshold takes tenths. Fail above 1.5.
    if out=$(systemd-analyze security --offline=true --threshold=15 "$UNIT" 2>&1); then
        ok "$(printf '%s\n' "$out" | grep 'Overall exposure' | sed 's/^→ //')"
    elif printf '%s' "$out" | grep -q 'Overall exposure'; then
        printf '%s\n' "$out" | grep '✗'
        fail "systemd-analyze security: $(printf '%s\n' "$out" | grep 'Overall exposure') (limit 1.5)"
    else
        echo "systemd-analyze security --offline is not supported here (systemd < 250): skipped"
    fi
fi

# --- Grafana dashboards ------------------------------------------------------------------
step "Grafana dashboards: structure and variables"
"$PY_ANY" scripts/check-dashboards.py --check || fail "dashboards"

step "Grafana dashboards: every query parses in Prometheus"
if command -v prometheus >/dev/null; then
    port=$("$PY_ANY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    printf 'global: {evaluation_interval: 1m}\nrule_files: [%s, %s]\n' "$ROOT/$ALERTS" "$ROOT/$COMPAT" >"$TMP/prometheus.yml"
    prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
        --web.listen-address="127.0.0.1:$port" >"$TMP/prometheus.log" 2>&1 &
    PROM_PID=$!
    "$PY_ANY" scripts/check-dashboards.py --annotate --variables >"$TMP/queries.tsv"
    "$PY_ANY" - "http://127.0.0.1:$port" "$TMP/queries.tsv" <<'PYEOF' && ok "dashboard queries and rule loading" || { tail -5 "$TMP/prometheus.log"; fail "dashboard queries"; }
import json, sys, time, urllib.parse, urllib.request
base, tsv = sys.argv[1:3]
for _ in range(100):
    try:
        urllib.request.urlopen(base + "/-/ready", timeout=1)
        break
    except Exception:
        time.sleep(0.2)
else:
    sys.exit("  prometheus did not become ready")
problems = 0
lines = [l.rstrip("\n").split("\t") for l in open(tsv) if l.strip()]
for dash, panel, ref, query in lines:
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    try:
        body = json.load(urllib.request.urlopen(url, timeout=10))
    except urllib.error.HTTPError as e:
        body = json.load(e)
    if body.get("status") != "success":
        problems += 1
        print(f"  {dash} / {panel} / {ref}: {body.get('error')}\n    {query}")
rules = json.load(urllib.request.urlopen(base + "/api/v1/rules", timeout=10))["data"]["groups"]
count = sum(len(g["rules"]) for g in rules)
bad = [r["name"] for g in rules for r in g["rules"] if r.get("health") == "err"]
if not count or bad:
    problems += 1
    print(f"  rules loaded: {count}; failing: {bad}")
print(f"  {len(lines)} queries sent, {problems} problems; {count} rules loaded")
sys.exit(1 if problems else 0)
PYEOF
    kill "$PROM_PID" 2>/dev/null; wait "$PROM_PID" 2>/dev/null; PROM_PID=
else
    fail "prometheus is not installed: cannot check the dashboard queries"
fi

# --- Dockerfile --------------------------------------------------------------------------
step "Dockerfile: basic shape (it cannot be built here)"
if [ -f Dockerfile ] && [ -f .dockerignore ]; then
    problems=0
    grep -Eq '^FROM .+ AS builder' Dockerfile || { echo "  no builder stage"; problems=1; }
    grep -q 'cargo build --release --locked' Dockerfile || { echo "  no cargo build --release --locked"; problems=1; }
    grep -Eq '^EXPOSE 10443' Dockerfile || { echo "  no EXPOSE 10443"; problems=1; }
    grep -Eq '^USER ' Dockerfile || { echo "  no USER"; problems=1; }
    grep -Eq '^ENTRYPOINT \[' Dockerfile || { echo "  no exec-form ENTRYPOINT"; problems=1; }
    grep -qx '/target' .dockerignore || grep -qx 'target' .dockerignore || { echo "  .dockerignore does not exclude target"; problems=1; }
    [ "$problems" = 0 ] && ok "Dockerfile" || fail "Dockerfile"
else
    fail "Dockerfile or .dockerignore missing"
fi

# --- documentation -----------------------------------------------------------------------
step "Documentation: every relative link and anchor resolves"
"$PY_ANY" scripts/check-links.py && ok "links in README.md, docs/ and deploy/README.md" || fail "documentation links"

# --- result ------------------------------------------------------------------------------
echo
if [ ${#FAILED[@]} -eq 0 ]; then
    echo "check-deploy: all checks passed"
else
    echo "check-deploy: ${#FAILED[@]} check(s) failed:"
    printf '  - %s\n' "${FAILED[@]}"
    exit 1
fi

#!/usr/bin/env python3
"""The memory benchmark of Kubernetes targets (docs/kubernetes.md#memory): a real API server
(../shared/k8s/start-test-apiserver.sh, with Debian's etcd) holding 5,000 kubernetes.io/tls
Secrets, each with its own certificate, plus 200 Opaque Secrets of 1 MB each, in the same ten
namespaces; the exporter (BIN, default target/debug/cert-expiry-exporter) watches the cluster
with the default `secret_types`. Prints the time until every TLS Secret is on /metrics, the
exporter's peak RSS (VmHWM), and how many bytes of Secrets the API server sent in LIST answers
(its own apiserver_response_sizes metric), against the 200 MB the Opaque Secrets hold.

    python3 scripts/bench-kubernetes.py [--tls 5000] [--opaque 200] [--opaque-bytes 1000000]
        [--types kubernetes.io/tls,Opaque]   (opt Opaque in, to compare)

Needs python3-cryptography (the certificates), curl, xz and etcd-server. Figures are taken on
whatever machine it runs on; a shared, loaded one makes the times noisy (not the RSS)."""
import argparse
import base64
import concurrent.futures
import datetime
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def certificate(i, key):
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"bench-{i}.example")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30 + i % 300))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(f"bench-{i}.example")]), False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


class Api:
    def __init__(self, url, token, ca):
        self.url, self.token = url, token
        self.ctx = ssl.create_default_context(cafile=ca)

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, context=self.ctx, timeout=120) as resp:
            return resp.read()

    def list_bytes(self):
        """Bytes of Secrets the API server has sent in LIST answers (apiserver_response_sizes)."""
        text = self.request("GET", "/metrics").decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith("apiserver_response_sizes_sum{") and 'resource="secrets"' in line \
                    and 'verb="LIST"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return total


def secret(ns, name, type_, data):
    return {"apiVersion": "v1", "kind": "Secret", "type": type_,
            "metadata": {"name": name, "namespace": ns},
            "data": {k: base64.b64encode(v).decode() for k, v in data.items()}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tls", type=int, default=5000)
    ap.add_argument("--opaque", type=int, default=200)
    ap.add_argument("--opaque-bytes", type=int, default=1_000_000)
    ap.add_argument("--namespaces", type=int, default=10)
    ap.add_argument("--types", default="kubernetes.io/tls")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/debug/cert-expiry-exporter"))
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="bench-k8s-")
    starter = os.path.join(os.path.dirname(ROOT), "shared/k8s/start-test-apiserver.sh")
    if not os.path.exists(starter):
        starter = "/work/shared/k8s/start-test-apiserver.sh"
    out = subprocess.run(["bash", starter, work, str(free_port()), str(free_port())],
                         check=True, capture_output=True, text=True).stdout
    env = dict(re.findall(r"^(\w+)=(.*)$", out, re.M))
    pids = [int(env["APISERVER_PID"]), int(env["ETCD_PID"])]
    exporter = None
    try:
        token = open(env["KUBE_TOKEN_FILE"]).read().strip()
        api = Api(env["KUBE_API"], token, env["KUBE_CA"])
        namespaces = [f"bench-{n}" for n in range(args.namespaces)]
        for ns in namespaces:
            api.request("POST", "/api/v1/namespaces",
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        started = time.time()
        key = ec.generate_private_key(ec.SECP256R1())
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())

        def create_tls(i):
            ns = namespaces[i % len(namespaces)]
            body = secret(ns, f"tls-{i:05}", "kubernetes.io/tls",
                          {"tls.crt": certificate(i, key), "tls.key": key_pem})
            api.request("POST", f"/api/v1/namespaces/{ns}/secrets", body)

        def create_opaque(i):
            ns = namespaces[i % len(namespaces)]
            body = secret(ns, f"blob-{i:04}", "Opaque", {"blob": os.urandom(args.opaque_bytes)})
            api.request("POST", f"/api/v1/namespaces/{ns}/secrets", body)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(create_tls, range(args.tls)))
            list(pool.map(create_opaque, range(args.opaque)))
        print(f"created {args.tls} TLS Secrets and {args.opaque} Opaque Secrets of "
              f"{args.opaque_bytes:,} bytes in {time.time() - started:.0f} s")

        kubeconfig = os.path.join(work, "exporter.kubeconfig")
        with open(kubeconfig, "w") as f:
            f.write(f"""apiVersion: v1
kind: Config
clusters:
- name: bench
  cluster:
    server: {env['KUBE_API']}
    certificate-authority: {env['KUBE_CA']}
users:
- name: bench
  user:
    token: {token}
contexts:
- name: bench
  context: {{cluster: bench, user: bench}}
current-context: bench
""")
        types = ", ".join(args.types.split(","))
        config = os.path.join(work, "config.yaml")
        with open(config, "w") as f:
            f.write(f"targets:\n  - name: cluster\n    kubernetes:\n"
                    f"      kubeconfig: {kubeconfig}\n      secret_types: [{types}]\n")
        listen = f"127.0.0.1:{free_port()}"
        before = api.list_bytes()
        t0 = time.time()
        exporter = subprocess.Popen([args.bin, f"--config.file={config}", f"--web.listen-address={listen}",
                                     "--log.level=warn"], stdout=subprocess.DEVNULL,
                                    stderr=open(os.path.join(work, "exporter.log"), "w"))
        seen = 0
        while time.time() - t0 < 600:
            time.sleep(0.5)
            try:
                page = urllib.request.urlopen(f"http://{listen}/metrics", timeout=30).read().decode()
            except OSError:
                continue
            seen = sum(1 for line in page.splitlines()
                       if line.startswith("cert_expiry_timestamp_seconds{") and 'secret_name="tls-' in line)
            if seen >= args.tls:
                break
        elapsed = time.time() - t0
        time.sleep(2)  # a scrape or two more, then read the peak
        status = open(f"/proc/{exporter.pid}/status").read()
        hwm = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))
        rss = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))
        listed = api.list_bytes() - before
        print(f"secret_types [{types}]: {seen} of {args.tls} TLS Secrets on /metrics after {elapsed:.1f} s")
        print(f"exporter peak RSS (VmHWM) {hwm / 1024:.1f} MiB, RSS now {rss / 1024:.1f} MiB ({args.bin})")
        print(f"Secrets sent by the API server in LIST answers: {listed / 1e6:.1f} MB "
              f"(the Opaque Secrets hold {args.opaque * args.opaque_bytes / 1e6:.0f} MB)")
        if seen < args.tls:
            sys.exit("not every TLS Secret was reported")
    finally:
        if exporter:
            exporter.terminate()
            exporter.wait()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


if __name__ == "__main__":
    main()

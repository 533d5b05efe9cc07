#!/usr/bin/env python3
"""Reads what scripts/bench.sh needs from a running exporter's /metrics and from /proc.

Subcommands (all output one line of key=value pairs):
  cpu PID                      user+system CPU seconds of the process so far, and its VmHWM/VmRSS
  probes URL                   cert_exporter_probes_total (success, failure) from URL's /metrics
  fresh URL WINDOW             how many targets have cert_probe_timestamp_seconds within WINDOW s
  render URL COUNT PID         median/max wall time and size of COUNT scrapes, plain and gzip,
                               and the exporter's CPU per scrape (wall time suffers when other
                               processes compete for the cores; CPU time much less)
  lag URL PREFIX INTERVAL SECS watch targets named PREFIX* for SECS seconds; report the worst
                               gap between two consecutive probes of one target, less INTERVAL
  first BASE COUNT T0 SECS     poll BASE/metrics and BASE/-/ready (for at most SECS seconds)
                               until COUNT targets have a cert_probe_timestamp_seconds and ready
                               says 200; report both moments as seconds after T0 (Unix time)
  rate URL T0 FROM TO BUCKET   probes finished (cert_exporter_probes_total) per BUCKET seconds
                               between FROM and TO seconds after T0: how even the load is
  hold URL COUNT SECS PID      COUNT slow scrapers at once (each with a 64 KiB socket receive
                               buffer): each sends a plain GET, reads 64 KiB
                               and stops reading for SECS seconds (the page waits in the
                               exporter), then reads the rest; the exporter's peak RSS while
                               they wait, and how many pages came whole
  ready BASE T0 SECS            poll BASE/-/ready once a second (for at most SECS seconds) until it
                               says 200; report when, as seconds after T0 (Unix time), and the
                               first answer (cheap at any size: /metrics is not scraped)
Every loop is bounded by a count or a time limit.
"""

import gzip
import os
import re
import socket
import statistics
import sys
import time
import urllib.error
import urllib.request

SAMPLE = re.compile(r'^(\w+)\{([^}]*)\} (\S+)')
TARGET = re.compile(r'target="([^"]*)"')


def scrape(url, gzip_ok=False, timeout=60):
    req = urllib.request.Request(url)
    if gzip_ok:
        req.add_header("Accept-Encoding", "gzip")
    started = time.monotonic()
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        body = resp.read()
        encoding = resp.headers.get("Content-Encoding", "")
    took = time.monotonic() - started
    return body, encoding, took


def text(url):
    body, encoding, _ = scrape(url, gzip_ok=True)
    if encoding == "gzip":
        body = gzip.decompress(body)
    return body.decode()


def samples(url, name):
    for line in text(url).splitlines():
        if line.startswith(name + "{"):
            m = SAMPLE.match(line)
            if m:
                yield m.group(2), float(m.group(3))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cmd_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    # Fields 14 and 15 of stat (utime, stime); after the ")" split they are at 11 and 12.
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    status = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    hwm = int(status.get("VmHWM", "0 kB").split()[0]) / 1024
    rss = int(status.get("VmRSS", "0 kB").split()[0]) / 1024
    print(f"cpu_seconds={cpu:.2f} vmhwm_mib={hwm:.1f} vmrss_mib={rss:.1f}")


def cmd_probes(url):
    totals = {"success": 0.0, "failure": 0.0}
    for labels, value in samples(url, "cert_exporter_probes_total"):
        for result in totals:
            if f'result="{result}"' in labels:
                totals[result] = value
    print(f"success={int(totals['success'])} failure={int(totals['failure'])}")


def cmd_fresh(url, window):
    now = time.time()
    stamps = {}
    for labels, value in samples(url, "cert_probe_timestamp_seconds"):
        m = TARGET.search(labels)
        if m:
            stamps[m.group(1)] = value
    fresh = sum(1 for v in stamps.values() if v >= now - float(window))
    print(f"targets={len(stamps)} fresh={fresh}")


def cmd_render(url, count, pid):
    plain, zipped, plain_cpu, zipped_cpu = [], [], [], []
    size = zsize = 0
    for _ in range(int(count)):
        before = cpu_seconds(pid)
        body, _, took = scrape(url)
        plain_cpu.append(cpu_seconds(pid) - before)
        plain.append(took)
        size = len(body)
        before = cpu_seconds(pid)
        body, encoding, took = scrape(url, gzip_ok=True)
        zipped_cpu.append(cpu_seconds(pid) - before)
        zipped.append(took)
        zsize = len(body) if encoding == "gzip" else 0
        time.sleep(0.5)
    print(
        f"render_median_ms={statistics.median(plain) * 1000:.0f} render_max_ms={max(plain) * 1000:.0f} "
        f"render_cpu_median_ms={statistics.median(plain_cpu) * 1000:.0f} size_mib={size / 2**20:.2f} "
        f"gzip_median_ms={statistics.median(zipped) * 1000:.0f} "
        f"gzip_cpu_median_ms={statistics.median(zipped_cpu) * 1000:.0f} gzip_size_mib={zsize / 2**20:.2f}"
    )


def cmd_lag(url, prefix, interval, secs):
    interval, deadline = float(interval), time.monotonic() + float(secs)
    last, gaps = {}, []
    while time.monotonic() < deadline:
        for labels, value in samples(url, "cert_probe_timestamp_seconds"):
            m = TARGET.search(labels)
            if not m or not m.group(1).startswith(prefix):
                continue
            name = m.group(1)
            if name in last and value > last[name]:
                gaps.append(value - last[name])
            last[name] = value
        time.sleep(1)
    worst = max(gaps) - interval if gaps else float("nan")
    print(
        f"targets={len(last)} intervals_seen={len(gaps)} worst_lag_seconds={worst:.2f} "
        f"median_interval_seconds={statistics.median(gaps) if gaps else float('nan'):.2f}"
    )


def ready_status(base):
    try:
        with urllib.request.urlopen(base + "/-/ready", timeout=10) as resp:
            return resp.status, resp.read().decode().strip()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode().strip()


def cmd_first(base, count, t0, secs):
    count, t0, deadline = int(count), float(t0), time.monotonic() + float(secs)
    all_results = ready = None
    seen = failed = 0
    first_ready_body = ""
    while time.monotonic() < deadline and (all_results is None or ready is None):
        if ready is None:
            status, body = ready_status(base)
            first_ready_body = first_ready_body or body
            if status == 200:
                ready = time.time() - t0
        if all_results is None:
            stamped = set()
            failed = 0
            for line in text(base + "/metrics").splitlines():
                m = SAMPLE.match(line)
                if not m:
                    continue
                if m.group(1) == "cert_probe_timestamp_seconds":
                    t = TARGET.search(m.group(2))
                    if t:
                        stamped.add(t.group(1))
                elif m.group(1) == "cert_probe_success":
                    failed += float(m.group(3)) == 0
            seen = len(stamped)
            if seen >= count:
                all_results = time.time() - t0
        time.sleep(0.25)
    fmt = lambda v: f"{v:.2f}" if v is not None else f"none_within_{secs}s"
    print(
        f"targets_with_a_result={seen}/{count} failed={failed} "
        f"time_to_first_results_seconds={fmt(all_results)} time_to_ready_seconds={fmt(ready)} "
        f"first_ready_answer={first_ready_body!r}"
    )


def cmd_ready(base, t0, secs):
    t0, deadline = float(t0), time.monotonic() + float(secs)
    first = ""
    while time.monotonic() < deadline:
        status, body = ready_status(base)
        first = first or body
        if status == 200:
            print(f"first_round_seconds={time.time() - t0:.1f} first_ready_answer={first!r}")
            return
        time.sleep(1)
    print(f"first_round_seconds=none_within_{secs}s first_ready_answer={first!r}")


def probes_total(url):
    return sum(value for _, value in samples(url, "cert_exporter_probes_total"))


def cmd_rate(url, t0, start, end, bucket):
    t0, start, end, bucket = float(t0), float(start), float(end), float(bucket)
    while time.time() < t0 + start:
        time.sleep(0.05)
    counts, edge, before = [], t0 + start + bucket, probes_total(url)
    while edge <= t0 + end + 1e-9:
        while time.time() < edge:
            time.sleep(0.05)
        now = probes_total(url)
        counts.append(int(now - before))
        before, edge = now, edge + bucket
    print(
        f"probes_per_{bucket:g}s_from_{start:g}s_to_{end:g}s={','.join(map(str, counts))} "
        f"min={min(counts)} max={max(counts)} total={sum(counts)}"
    )


def status_mib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def cmd_hold(url, count, secs, pid):
    import http.client
    import threading
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    release = threading.Event()
    results = []

    def scraper():
        # One slow scraper: asks, reads 64 KiB, stops reading until released, reads the rest.
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
            # A small receive buffer, set before connecting (which turns off autotuning): a
            # reader far away or slow, not loopback's tens of MiB of kernel buffer.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.settimeout(120)
            sock.connect((parts.hostname, parts.port))
            conn.sock = sock
            conn.request("GET", parts.path)
            resp = conn.getresponse()
            head = resp.read(65536)
            release.wait(float(secs) + 120)
            body = resp.read()
            results.append((resp.status, len(head) + len(body)))
            conn.close()
        except Exception as e:  # cut off (a deadline) or reset: not a whole page
            results.append((str(type(e).__name__), 0))

    threads = [threading.Thread(target=scraper, daemon=True) for _ in range(int(count))]
    for t in threads:
        t.start()
    time.sleep(float(secs))
    waiting_hwm = status_mib(pid, "VmHWM")
    release.set()
    for t in threads:
        t.join(180)
    whole = sum(1 for status, size in results if status == 200 and size > 0)
    print(
        f"slow_scrapers={count} held_s={secs} peak_rss_while_held_mib={waiting_hwm:.1f} "
        f"peak_rss_mib={status_mib(pid, 'VmHWM'):.1f} whole_pages={whole} "
        f"others={','.join(str(s) for s, _ in results if s != 200) or 'none'}"
    )


def main():
    commands = {
        "cpu": cmd_cpu,
        "probes": cmd_probes,
        "fresh": cmd_fresh,
        "render": cmd_render,
        "lag": cmd_lag,
        "first": cmd_first,
        "rate": cmd_rate,
        "hold": cmd_hold,
        "ready": cmd_ready,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()

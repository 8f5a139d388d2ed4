"""bench/api.sh's client: timed requests, lateness windows, the table.

  api_client.py single PID URL COUNT LABEL  -> one RESULT line
  api_client.py lateness METRICS_URL SECONDS LABEL
  api_client.py feed COLLECTD_SOCKET SERIES METRICS_URL
  api_client.py table RESULTS_FILE WRK_SECONDS

CPU is the server process's utime + stime (/proc/PID/stat) over the
requests, less what it spent at its idle rate (measured just before, over
3 s: the checks it runs meanwhile), divided by the requests."""
import http.client
import os
import re
import sys
import time
import urllib.parse

HZ = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open("/proc/%s/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def loadavg():
    with open("/proc/loadavg") as f:
        return ",".join(f.read().split()[:3])


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError("%s: %d %r" % (path, r.status, body[:200]))
    return body


def single(pid, url, count, label):
    u = urllib.parse.urlsplit(url)
    path = u.path + ("?" + u.query if u.query else "")
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    get(conn, path)                         # warm: connection, caches
    c0, t0 = cpu_s(pid), time.monotonic()
    time.sleep(3)
    idle_rate = (cpu_s(pid) - c0) / (time.monotonic() - t0)
    times, size, series = [], 0, 0
    c0, t0 = cpu_s(pid), time.monotonic()
    for _ in range(count):
        s = time.monotonic()
        body = get(conn, path)
        times.append(time.monotonic() - s)
        size = len(body)
    elapsed = time.monotonic() - t0
    cpu = cpu_s(pid) - c0 - idle_rate * elapsed
    series = sum(1 for l in body.splitlines() if l and not l.startswith(b"#"))
    # A server busy with something else (collectd still taking in its
    # series) leaves no CPU figure worth printing.
    if idle_rate > 0.3:
        cpu = float("nan")
    times.sort()
    p = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1000
    print("%s p50_ms=%.2f p99_ms=%.2f max_ms=%.2f cpu_ms=%.2f bytes=%d "
          "series=%d idle_cpu=%.3f load=%s" % (
              label, p(0.50), p(0.99), times[-1] * 1000,
              max(cpu, 0) * 1000 / count if cpu == cpu else cpu, size,
              series, idle_rate,
              loadavg()))


HIST = re.compile(r'^outpost_check_lateness_seconds_(bucket|sum|count)'
                  r'(?:\{le="([^"]+)"\})? (\S+)$', re.M)


def lateness_hist(u):
    # A connection each: the server closes one left idle (connection_timeout).
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    text = get(conn, u.path).decode()
    conn.close()
    buckets, total, count = [], 0.0, 0.0
    for kind, le, v in HIST.findall(text):
        if kind == "bucket":
            buckets.append((float(le), float(v)))
        elif kind == "sum":
            total = float(v)
        else:
            count = float(v)
    return buckets, total, count


def lateness(url, seconds, label):
    u = urllib.parse.urlsplit(url)
    b0, s0, n0 = lateness_hist(u)
    time.sleep(seconds)
    b1, s1, n1 = lateness_hist(u)
    n = n1 - n0
    p99 = float("nan")
    for (le, v1), (_, v0) in zip(b1, b0):
        if n > 0 and v1 - v0 >= 0.99 * n:
            p99 = le
            break
    print("late_%s checks=%d mean_ms=%.2f p99_le_ms=%.0f load=%s"
          % (label, n, (s1 - s0) / n * 1000 if n else 0, p99 * 1000,
             loadavg()))


def feed(sock_path, want, url):
    """PUTVAL `want` gauges into collectd's unixsock, 24 per "integration"
    like outpost's page, then count what write_prometheus serves."""
    import socket
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    f = s.makefile("rwb")
    now, sent = int(time.time()), 0
    while sent < want:
        n = min(1000, want - sent)
        for i in range(sent, sent + n):
            # One family per "metric" (write_prometheus keeps a family's
            # series in one sorted array: 240,000 in one family would
            # cost it O(n^2) to take in).
            f.write(b'PUTVAL "host%03d/m%02d-api%05d/gauge" '
                    b'interval=3600 %d:%d\n'
                    % (i % 100, i % 24, i // 24, now, i))
        f.flush()
        for _ in range(n):
            if not f.readline().startswith(b"0 "):
                sys.exit("collectd refused a PUTVAL")
        sent += n
    # collectd's write thread hands them to write_prometheus behind us.
    u = urllib.parse.urlsplit(url)
    end, held = time.time() + 300, 0
    while held < want and time.time() < end:
        time.sleep(1)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        held = sum(1 for l in get(conn, u.path).splitlines()
                   if not l.startswith(b"#"))
        conn.close()
    print("collectd: write_prometheus on %s holds %d series (fed %d through "
          "unixsock)" % (url, held, want))


def table(path, wrk_seconds):
    rows = {}
    for line in open(path):
        name, *kv = line.split()
        rows[name] = dict(x.split("=", 1) for x in kv)
    f = lambda r, k: float(r[k])
    print("| %-40s | %8s | %8s | %10s | %12s | %-14s |" % (
        "measure", "p50 ms", "p99 ms", "CPU ms/req", "body bytes",
        "load avg"))
    print("|%s|%s|%s|%s|%s|%s|" % ("-" * 42, "-" * 10, "-" * 10, "-" * 12,
                                   "-" * 14, "-" * 16))
    names = {"integrations": "outpost GET /api/v1/integrations",
             "metrics": "outpost GET /metrics",
             "metrics_all": "outpost GET /metrics?phases=all",
             "collectd_metrics": "collectd write_prometheus /metrics"}
    for k, label in names.items():
        if k in rows:
            r = rows[k]
            print("| %-40s | %8.2f | %8.2f | %10.2f | %12s | %-14s |" % (
                label, f(r, "p50_ms"), f(r, "p99_ms"), f(r, "cpu_ms"),
                r["bytes"], r["load"]))
    print()
    for k in ("wrk_one", "wrk"):
        if k in rows:
            r = rows[k]
            print("wrk -t1 -c32 -d%ss %s: %s requests/s "
                  "(agent CPU %.1f s over the run; load %s)" % (
                      wrk_seconds, r.get("path", "/api/v1/integrations"),
                      r["rps"], float(r["cpu_s"]), r["load"]))
    for k, what in (("late_quiet", "no API load"),
                    ("late_wrk_one", "under wrk, one integration"),
                    ("late_wrk", "under wrk, the whole list")):
        if k in rows:
            r = rows[k]
            print("check lateness, %-12s %6s checks, mean %6s ms, p99 <= "
                  "%5s ms (bucket bound)  load %s" % (
                      what + ":", r["checks"], r["mean_ms"], r["p99_le_ms"],
                      r["load"]))
    if "metrics" in rows and "collectd_metrics" in rows:
        o, c = rows["metrics"], rows["collectd_metrics"]
        print()
        print("scrape time, outpost / collectd (p50):   %.3f" % (
            f(o, "p50_ms") / f(c, "p50_ms")))
        if f(c, "cpu_ms") > 0:      # NaN: not measured
            print("CPU per scrape, outpost / collectd:      %.3f" % (
                f(o, "cpu_ms") / f(c, "cpu_ms")))
        print("bytes per scrape, outpost / collectd:    %.3f" % (
            float(o["bytes"]) / float(c["bytes"])))
        # When collectd could not take every series in time, compare per
        # series as well.
        so, sc = float(o["series"]), float(c["series"])
        if so and sc:
            print("series: outpost %d, collectd %d" % (so, sc))
            print("scrape time per series, outpost / collectd: %.3f" % (
                f(o, "p50_ms") / so / (f(c, "p50_ms") / sc)))
            if f(c, "cpu_ms") > 0:
                print("CPU per series, outpost / collectd:         %.3f" % (
                    f(o, "cpu_ms") / so / (f(c, "cpu_ms") / sc)))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "single":
        single(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif mode == "lateness":
        lateness(sys.argv[2], float(sys.argv[3]), sys.argv[4])
    elif mode == "feed":
        feed(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif mode == "table":
        table(sys.argv[2], sys.argv[3])

#!/bin/sh
# bench/probe.sh - HTTP checks at scale: outpost (bench/probe, in-process,
# new connection per check and reusing connections), collectd's curl
# plugin (5 ReadThreads; it keeps a connection per page) and
# prometheus-blackbox-exporter (a new connection per probe, driven through
# /probe by wrk), side by side against the same local fakeapi. Prints a
# table and the ratios; never pass/fail.
#
#   bench/probe.sh [BUILD_DIR]          (default: build)
#
# Environment: CHECKS (50000), INTERVAL (10, seconds), WARMUP (12),
# SECONDS_MEASURED (20), BB_CONNS (32: wrk connections to blackbox),
# FAKEAPI (default BUILD_DIR/fakeapi), SKIP (space-separated: collectd
# blackbox outpost floor).
#
# "floor" rows are bench/floor at the same rate: a bare epoll client with no
# HTTP library, i.e. what this machine's kernel alone charges per check
# (on loopback the client also pays for the server's half of TCP). Read
# every row against them.
#
# Needs: collectd-core, prometheus-blackbox-exporter, wrk, python3.
set -eu

BUILD=${1:-build}
CHECKS=${CHECKS:-50000}
INTERVAL=${INTERVAL:-10}
WARMUP=${WARMUP:-12}
MEASURE=${SECONDS_MEASURED:-20}
BB_CONNS=${BB_CONNS:-32}
FAKEAPI=${FAKEAPI:-$BUILD/fakeapi}
SKIP=${SKIP:-}
PROBE=$BUILD/bench/probe

# collectd's curl plugin keeps a connection per page: 50,000 pages need
# 50,000 descriptors in collectd and as many connections in fakeapi.
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

tmp=$(mktemp -d -t outpost-probe-bench.XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

skipped() { case " $SKIP " in *" $1 "*) return 0;; esac; return 1; }

# CPU seconds (user + system) a process has used so far.
cpu_of() {
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}
rss_of() { awk '/^VmRSS/ { print $2 * 1024 }' "/proc/$1/status"; }
# Requests fakeapi has answered so far (all paths).
served() {
    curl -s "http://127.0.0.1:$port/_admin/stats" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'
}

# --- the target -----------------------------------------------------------
"$FAKEAPI" --threads 2 > "$tmp/fakeapi.out" &
pids="$pids $!"
until grep -q '^PORT ' "$tmp/fakeapi.out" 2>/dev/null; do sleep 0.05; done
port=$(awk '/^PORT /{print $2}' "$tmp/fakeapi.out")
url="http://127.0.0.1:$port/health"

echo "bench/probe.sh: $CHECKS checks every ${INTERVAL}s (target" \
     "$((CHECKS / INTERVAL))/s) against fakeapi --threads 2 $url"
echo "machine: $(nproc) CPU, $(awk -F': ' '/model name/{print $2; exit}' \
     /proc/cpuinfo), $(uname -r), load average at start:" \
     "$(cut -d' ' -f1-3 /proc/loadavg)"
echo "warmup ${WARMUP}s, measured ${MEASURE}s per run; open files limit" \
     "$(ulimit -n)"
echo

results="$tmp/results"
: > "$results"

# --- outpost --------------------------------------------------------------
if ! skipped outpost; then
    for mode in new reuse; do
        "$PROBE" -n "$CHECKS" -i "$INTERVAL" -w "$WARMUP" -d "$MEASURE" \
            -m "$mode" "$url" > "$tmp/probe.$mode" 2> "$tmp/probe.$mode.err" \
            || { cat "$tmp/probe.$mode.err" >&2; exit 1; }
        grep '^RESULT' "$tmp/probe.$mode" | sed "s/^RESULT /outpost_$mode /" \
            >> "$results"
        grep '^STARTUP' "$tmp/probe.$mode" >> "$tmp/startup"
    done
fi

# --- the kernel's floor -----------------------------------------------------
if ! skipped floor; then
    for mode in new reuse; do
        "$BUILD/bench/floor" -r "$((CHECKS / INTERVAL))" -w "$WARMUP" \
            -d "$MEASURE" -m "$mode" "$url" | grep '^RESULT' |
            sed "s/^RESULT /floor_$mode /" >> "$results"
    done
fi

# --- collectd's curl plugin -----------------------------------------------
collectd_run() {    # $1 = pages, $2 = interval; prints "pid"
    d="$tmp/collectd.$1"
    mkdir -p "$d"
    {
        echo "Interval $2"
        echo "ReadThreads 5"
        echo "WriteThreads 1"
        echo "BaseDir \"$d\""
        echo "PIDFile \"$d/pid\""
        echo "PluginDir \"/usr/lib/collectd\""
        echo "TypesDB \"/usr/share/collectd/types.db\""
        echo "LoadPlugin logfile"
        echo "<Plugin logfile>"
        echo "  LogLevel \"err\""
        echo "  File \"$d/log\""
        echo "</Plugin>"
        echo "LoadPlugin curl"
        echo "<Plugin curl>"
        i=0
        while [ "$i" -lt "$1" ]; do
            printf '<Page "c%06d">\n URL "%s"\n MeasureResponseTime true\n' \
                "$i" "$url"
            printf ' MeasureResponseCode true\n</Page>\n'
            i=$((i + 1))
        done
        echo "</Plugin>"
    } > "$d/collectd.conf"
    /usr/sbin/collectd -f -C "$d/collectd.conf" > "$d/out" 2>&1 &
    echo $!
}

# One run as configured; if collectd cannot hold a connection per page
# within the open-files limit, a second run with as many pages as fit,
# checked as often as the same total rate needs: collectd's best case.
collectd_measure() {    # $1 = label, $2 = pages, $3 = interval
    base=$(collectd_run 1 "$3")
    pids="$pids $base"
    sleep 3
    rss_base=$(rss_of "$base")
    kill "$base"; wait "$base" 2>/dev/null || true

    cd_pid=$(collectd_run "$2" "$3")
    pids="$pids $cd_pid"
    sleep "$WARMUP"
    n0=$(served); c0=$(cpu_of "$cd_pid"); t0=$(date +%s.%N)
    sleep "$MEASURE"
    n1=$(served); c1=$(cpu_of "$cd_pid"); t1=$(date +%s.%N)
    rss=$(rss_of "$cd_pid")
    kill "$cd_pid"; wait "$cd_pid" 2>/dev/null || true
    python3 - "$1" "$n0" "$n1" "$c0" "$c1" "$t0" "$t1" "$rss" "$rss_base" \
        "$2" >> "$results" <<'EOF2'
import sys
label = sys.argv[1]
n0, n1, c0, c1, t0, t1, rss, base, checks = map(float, sys.argv[2:])
n = n1 - n0
print("%s checks=%d rate=%.1f cpu_us=%.2f rss_b=%.0f heap_b=nan p99_ms=nan"
      % (label, checks, n / (t1 - t0), (c1 - c0) * 1e6 / n if n else 0,
         (rss - base) / checks))
EOF2
}

if ! skipped collectd && command -v /usr/sbin/collectd > /dev/null; then
    collectd_measure collectd_curl "$CHECKS" "$INTERVAL"
    fit=$(( $(ulimit -n) * 7 / 10 ))
    if [ "$CHECKS" -gt "$fit" ]; then
        collectd_measure collectd_fit "$fit" \
            "$(python3 -c "print($fit * $INTERVAL / $CHECKS)")"
    fi
fi

# --- blackbox_exporter ------------------------------------------------------
if ! skipped blackbox && command -v prometheus-blackbox-exporter > /dev/null
then
    cat > "$tmp/bb.yml" <<EOF
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
EOF
    prometheus-blackbox-exporter --config.file="$tmp/bb.yml" \
        --web.listen-address=127.0.0.1:0 > "$tmp/bb.out" 2>&1 &
    bb_pid=$!
    pids="$pids $bb_pid"
    bb_port=""
    while [ -z "$bb_port" ]; do
        sleep 0.2
        bb_port=$(ss -ltnpH 2>/dev/null | awk -v p="pid=$bb_pid," \
            'index($0, p) { n = split($4, a, ":"); print a[n]; exit }')
    done
    bb_url="http://127.0.0.1:$bb_port/probe?module=http_2xx&target=$url"
    wrk -t1 -c"$BB_CONNS" -d"${WARMUP}s" "$bb_url" > /dev/null
    n0=$(served); c0=$(cpu_of "$bb_pid"); t0=$(date +%s.%N)
    wrk -t1 -c"$BB_CONNS" -d"${MEASURE}s" "$bb_url" > "$tmp/wrk.out"
    n1=$(served); c1=$(cpu_of "$bb_pid"); t1=$(date +%s.%N)
    kill "$bb_pid"; wait "$bb_pid" 2>/dev/null || true
    python3 - "$n0" "$n1" "$c0" "$c1" "$t0" "$t1" >> "$results" <<'EOF'
import sys
n0, n1, c0, c1, t0, t1 = map(float, sys.argv[1:])
n = n1 - n0
print("blackbox checks=nan rate=%.1f cpu_us=%.2f rss_b=nan heap_b=nan "
      "p99_ms=nan" % (n / (t1 - t0), (c1 - c0) * 1e6 / n if n else 0))
EOF
fi

# --- the table ---------------------------------------------------------------
[ -f "$tmp/startup" ] && sed 's/^STARTUP /outpost startup: /' "$tmp/startup"
python3 - "$results" <<'EOF'
import sys
rows = {}
for line in open(sys.argv[1]):
    name, *kv = line.split()
    rows[name] = {k: float(v) for k, v in (x.split("=") for x in kv)
                  if k != "mode"}

labels = {
    "floor_new":     "floor: bare epoll client, new connection",
    "floor_reuse":   "floor: bare epoll client, keep-alive",
    "outpost_new":   "outpost http, new connection per check",
    "outpost_reuse": "outpost http, reuse_connections = true",
    "collectd_curl": "collectd 5.12 curl plugin, 5 ReadThreads",
    "collectd_fit":  "collectd, pages that fit the fd limit",
    "blackbox":      "blackbox_exporter 0.23 via /probe (wrk)",
}
def f(v, fmt):
    return "-" if v != v else fmt % v
print("| %-42s | %9s | %10s | %8s | %10s | %8s |" % (
    "run", "checks/s", "CPU s/1000", "CPU us", "RSS B/check", "p99 late"))
print("|%s|%s|%s|%s|%s|%s|" % ("-" * 44, "-" * 11, "-" * 12, "-" * 10,
                               "-" * 12, "-" * 10))
for k in ("floor_new", "floor_reuse", "outpost_new", "outpost_reuse",
          "collectd_curl", "collectd_fit", "blackbox"):
    if k not in rows:
        continue
    r = rows[k]
    label = labels[k]
    if k == "collectd_fit":
        label = "collectd curl, %d pages (fd limit)" % r["checks"]
    print("| %-42s | %9.0f | %10.3f | %8.1f | %10s | %8s |" % (
        label, r["rate"], r["cpu_us"] / 1000, r["cpu_us"],
        f(r.get("rss_b", float("nan")), "%.0f"),
        f(r.get("p99_ms", float("nan")), "%.1f ms")))
print()
def ratio(a, b, target, what):
    if a in rows and b in rows and rows[b]["cpu_us"] > 0:
        x = rows[a]["cpu_us"] / rows[b]["cpu_us"]
        print("%-58s %6.3f  (target <= %s)" % (what, x, target))
ratio("outpost_reuse", "collectd_curl", "0.333",
      "CPU per check, outpost reuse / collectd curl:")
ratio("outpost_reuse", "collectd_fit", "0.333",
      "CPU per check, outpost reuse / collectd (pages that fit):")
ratio("outpost_new", "blackbox", "0.100",
      "CPU per check, outpost new connection / blackbox_exporter:")
ratio("outpost_new", "collectd_curl", "-",
      "CPU per check, outpost new connection / collectd curl:")
ratio("floor_reuse", "collectd_fit", "-",
      "CPU per check, floor keep-alive / collectd (pages that fit):")
ratio("floor_new", "blackbox", "-",
      "CPU per check, floor new connection / blackbox_exporter:")
for m in ("new", "reuse"):
    if "outpost_" + m in rows and "floor_" + m in rows:
        print("%-58s %6.1f" % ("CPU us per check above the floor, %s:" % m,
              rows["outpost_" + m]["cpu_us"] - rows["floor_" + m]["cpu_us"]))
for k in ("outpost_new", "outpost_reuse"):
    if k in rows:
        r = rows[k]
        print("%-58s %6.0f  (target < 4096)" % (
            "RSS bytes per configured check, %s:" % k, r["rss_b"]))
        print("%-58s %6.1f  (target < 100; failed %d, skipped %d, "
              "timeouts %d)" % ("p99 lateness ms, %s:" % k, r["p99_ms"],
              r.get("failed", 0), r.get("skipped", 0), r.get("timeouts", 0)))
EOF

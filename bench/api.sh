#!/bin/sh
# bench/api.sh - the HTTP API under load: outpostd with N http
# integrations (default 10,000) checking a local fakeapi every 10 s, and
#   - single-request latency (p50, p99) of /api/v1/integrations and
#     /metrics (and /metrics?phases=all), one request at a time on a
#     kept-alive connection, with the agent's CPU per request;
#   - wrk -t1 -c32 on one integration's detail, then on the whole
#     /api/v1/integrations: requests per second;
#   - check lateness (outpost_check_lateness_seconds) over a quiet window
#     and over the wrk window: does serving the API make checks late?
# and in the same run collectd 5.12's write_prometheus holding as many
# series as outpost's /metrics has (fed through its unixsock plugin; see
# below why not collectd-tg), scraped the same way: the ratio of scrape
# time and of CPU per scrape. Prints a table; never pass/fail.
#
#   bench/api.sh [BUILD_DIR]          (default: build; use a Release build)
#
# Environment: INTEGRATIONS (10000), INTERVAL (10s), WARMUP (25, seconds),
# SINGLE (60: single requests of each kind), WRK_SECONDS (10),
# QUIET_SECONDS (10), CD_SERIES (default: the sample lines of outpost's
# /metrics), SKIP (space-separated: collectd wrk).
#
# The machine is shared: figures come with the load average, and CPU time
# (/proc/<pid>/stat) next to wall time.
#
# Needs: wrk, collectd-core, libprotobuf-c1 (write_prometheus.so needs
# it; collectd-core only recommends it), python3.
set -eu

BUILD=${1:-build}
N=${INTEGRATIONS:-10000}
INTERVAL=${INTERVAL:-10s}
WARMUP=${WARMUP:-25}
SINGLE=${SINGLE:-60}
WRK_SECONDS=${WRK_SECONDS:-10}
QUIET=${QUIET_SECONDS:-10}
SKIP=${SKIP:-}
FAKEAPI=${FAKEAPI:-$BUILD/fakeapi}
OUTPOSTD=$BUILD/outpostd
HERE=$(cd "$(dirname "$0")" && pwd)

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

tmp=$(mktemp -d -t outpost-api-bench.XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${KEEP:-}" ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
skipped() { case " $SKIP " in *" $1 "*) return 0;; esac; return 1; }
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
free_udp_port() {
    python3 -c 'import socket; s = socket.socket(type=socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# --- fakeapi and the agent ---------------------------------------------------
"$FAKEAPI" --threads 2 > "$tmp/fakeapi.out" &
pids="$pids $!"
until grep -q '^PORT ' "$tmp/fakeapi.out" 2>/dev/null; do sleep 0.05; done
fport=$(awk '/^PORT /{print $2}' "$tmp/fakeapi.out")
aport=$(free_port)

mkdir -p "$tmp/conf.d" "$tmp/state"
cat > "$tmp/outpost.conf" <<EOF
interval = "$INTERVAL"
timeout = "5s"
plugin_dir = "$(cd "$BUILD" && pwd)/plugins"
conf_dir = "$tmp/conf.d"
state_dir = "$tmp/state"
log_level = "warn"
api { listen = "127.0.0.1:$aport" max_connections = 1024 }
EOF
# The config generator: categories and tiers cycle, so every label varies.
python3 - "$N" "$fport" > "$tmp/conf.d/10-http.conf" <<'EOF'
import sys
n, port = int(sys.argv[1]), int(sys.argv[2])
cats = ["payments", "ai", "messaging", "crm", "search"]
tiers = ["basic", "professional", "enterprise"]
for i in range(n):
    print('http "api-%05d" { url = "http://127.0.0.1:%d/health" '
          'category = "%s" tier = "%s" reuse_connections = true }'
          % (i, port, cats[i % len(cats)], tiers[i % len(tiers)]))
EOF
cat > "$tmp/conf.d/50-decide.conf" <<'EOF'
health "default" { }
circuit_breaker "default" { }
sla "default" { }
alert "default" { }
EOF
echo 'jsonl "out" { path = "/dev/null" }' > "$tmp/conf.d/90-out.conf"

"$OUTPOSTD" -f -C "$tmp/outpost.conf" 2> "$tmp/outpostd.err" &
opid=$!
pids="$pids $opid"
base="http://127.0.0.1:$aport"

echo "bench/api.sh: $N http integrations every $INTERVAL against fakeapi" \
     "(127.0.0.1:$fport), API on $base"
echo "machine: $(nproc) CPU, $(awk -F': ' '/model name/{print $2; exit}' \
     /proc/cpuinfo), $(uname -r); load average at start: $(loadavg)"
echo "warmup ${WARMUP}s (every integration checked at least twice)"
sleep "$WARMUP"
if ! kill -0 "$opid" 2>/dev/null; then
    echo "outpostd died:" >&2; cat "$tmp/outpostd.err" >&2; exit 1
fi

# --- collectd with as many series -------------------------------------------
# Fed through its unixsock plugin (PUTVAL, as `collectdctl` does) rather
# than collectd-tg over UDP: on this machine collectd's network plugin
# drops most of collectd-tg's packets at this rate (UDP RcvbufErrors grow)
# and the series count would not match. Every series gets interval=3600,
# so none goes stale during the run.
cd_pid=""
if ! skipped collectd && [ -x /usr/sbin/collectd ]; then
    series=${CD_SERIES:-$(curl -s "$base/metrics" | grep -vc '^#')}
    cport=$(free_port)
    mkdir -p "$tmp/collectd"
    cat > "$tmp/collectd/collectd.conf" <<EOF
Interval 10
ReadThreads 2
WriteThreads 1
BaseDir "$tmp/collectd"
PIDFile "$tmp/collectd/pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin logfile
<Plugin logfile>
  LogLevel "err"
  File "$tmp/collectd/log"
</Plugin>
LoadPlugin unixsock
<Plugin unixsock>
  SocketFile "$tmp/collectd/sock"
</Plugin>
LoadPlugin write_prometheus
<Plugin write_prometheus>
  Host "127.0.0.1"
  Port "$cport"
  StalenessDelta 7200
</Plugin>
EOF
    /usr/sbin/collectd -f -C "$tmp/collectd/collectd.conf" \
        > "$tmp/collectd/out" 2>&1 &
    cd_pid=$!
    pids="$pids $cd_pid"
    sleep 1
    if ! kill -0 "$cd_pid" 2>/dev/null; then
        echo "collectd did not start (skipped):" >&2
        tail -3 "$tmp/collectd/out" >&2
        cd_pid=""
    fi
fi
if [ -n "$cd_pid" ]; then
    python3 "$HERE/api_client.py" feed "$tmp/collectd/sock" "$series" \
        "http://127.0.0.1:$cport/metrics"
fi

# --- single requests ---------------------------------------------------------
python3 "$HERE/api_client.py" single "$opid" "$base/api/v1/integrations" \
    "$SINGLE" integrations >> "$tmp/results"
python3 "$HERE/api_client.py" single "$opid" "$base/metrics" "$SINGLE" \
    metrics >> "$tmp/results"
python3 "$HERE/api_client.py" single "$opid" "$base/metrics?phases=all" \
    "$((SINGLE / 3 + 1))" metrics_all >> "$tmp/results"
if [ -n "$cd_pid" ]; then
    python3 "$HERE/api_client.py" single "$cd_pid" \
        "http://127.0.0.1:$cport/metrics" "$SINGLE" collectd_metrics \
        >> "$tmp/results"
fi

# --- lateness, quiet and under wrk ---------------------------------------------
python3 "$HERE/api_client.py" lateness "$base/metrics" "$QUIET" quiet \
    >> "$tmp/results"
# Two wrk runs: one integration's detail (what an application or the
# dashboard asks most) and the whole list (7 MB at 10,000 integrations:
# its rate is bounded by copying that many bytes, not by the server).
wrk_run() {     # wrk_run NAME PATH
    python3 "$HERE/api_client.py" lateness "$base/metrics" "$WRK_SECONDS" \
        "$1" >> "$tmp/results" &
    lat=$!
    c0=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' \
         "/proc/$opid/stat")
    wrk -t1 -c32 -d"${WRK_SECONDS}s" "$base$2" > "$tmp/wrk.out"
    c1=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' \
         "/proc/$opid/stat")
    wait "$lat"
    rps=$(awk '/^Requests\/sec:/{print $2}' "$tmp/wrk.out")
    echo "$1 rps=$rps cpu_s=$(echo "$c1 $c0" | awk '{print $1 - $2}')" \
         "path=$2 load=$(loadavg | tr ' ' ,)" >> "$tmp/results"
}
if ! skipped wrk && command -v wrk > /dev/null; then
    wrk_run wrk_one /api/v1/integrations/api-00042
    wrk_run wrk /api/v1/integrations
fi

kill "$opid"
wait "$opid" 2>/dev/null || true
echo "load average at the end: $(loadavg)"
echo
python3 "$HERE/api_client.py" table "$tmp/results" "$WRK_SECONDS"

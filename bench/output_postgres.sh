#!/bin/sh
# bench/output_postgres.sh - checks into PostgreSQL: outpost's postgres
# output (bench/output_postgres, in process: the core's queue and worker,
# the real module) and collectd 5.12's postgresql plugin with a <Writer>
# (one function call per value, as its documentation sets it up), side by
# side against one private PostgreSQL 15 on a free port (fsync off, as in
# the test suite). Prints a table and the ratio; never pass/fail.
#
#   bench/output_postgres.sh [BUILD_DIR]      (default: build; a Release
#                                              build measures the code,
#                                              not the sanitizers)
#
# Environment: RECORDS (1000000), INTEGRATIONS (100), COLLECTD_SECONDS (20),
# PG_OPTIONS (more options of outpost's output, e.g. "writers = 1").
#
# CPU per record counts the agent's process only ("agent") and the
# server's processes too ("+server"): on this machine they share the same
# two cores. collectd is fed through its unixsock plugin by a small
# pipelining client (PUTVAL lines); its own CPU is collectd's alone.
#
# Needs: postgresql-15, collectd-core, python3.
set -eu

BUILD=${1:-build}
RECORDS=${RECORDS:-1000000}
INTEGRATIONS=${INTEGRATIONS:-100}
CD_SECONDS=${COLLECTD_SECONDS:-20}
BENCH=$BUILD/bench/output_postgres
. "$(dirname "$0")/pg_server.sh"

pg_dir outpost-pg-bench
cdpid=""
cleanup() {
    [ -n "$cdpid" ] && kill "$cdpid" 2>/dev/null || true
    pg_stop
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

pg_start
psql_() { psql -X -q -A -t -h "$tmp" -p "$port" -U postgres -d postgres "$@"; }

# CPU seconds of every process of the server (the postmaster's children).
server_cpu() {
    pm=$(head -1 "$tmp/data/postmaster.pid")
    python3 - "$pm" <<'PY'
import os, sys
pm, hz, total = sys.argv[1], os.sysconf("SC_CLK_TCK"), 0
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        f = open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    if p == pm or f[1] == pm:
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
print(total / hz)
PY
}

proc_cpu() {    # $1 = pid: its CPU seconds
    python3 -c 'import os,sys; f=open("/proc/%s/stat"%sys.argv[1]).read().rsplit(")",1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf("SC_CLK_TCK"))' "$1"
}

printf '%-22s %10s %10s %12s %12s %14s %10s\n' writer records seconds rows/s \
    "agent us/rec" "+server us/rec" "rss MiB"

# --- outpost ------------------------------------------------------------
# Each phase a run of its own: the server's CPU around a sustained run is
# what those rows cost it, not the overload's too. Sustained twice: the
# default (writers = 1: a batch is one transaction) and writers = 2 (a
# large batch split over two connections COPYing at once), each into an
# emptied log.
for w in 1 2; do
    [ "$w" = 1 ] || psql_ -c "TRUNCATE integration_health_log, integration_health"
    s0=$(server_cpu)
    PG_OPTIONS="writers = $w ${PG_OPTIONS:-}" "$BENCH" "$BUILD/plugins" \
        "$url" "$RECORDS" "$INTEGRATIONS" sustained > "$tmp/outpost.out"
    s1=$(server_cpu)
    python3 - "$tmp/outpost.out" "$s0" "$s1" "$w" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
srv = float(sys.argv[3]) - float(sys.argv[2])
for r in rows[1:]:
    if r[0] == "sustained":
        n, sec, rate, us, rss = int(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5])
        print("%-22s %10d %10.2f %12.0f %12.2f %14.2f %10.1f" % (
            "outpost writers=" + sys.argv[4], n, sec, rate, us,
            us + srv * 1e6 / n, rss))
        open(sys.argv[1] + ".rate" + sys.argv[4], "w").write(
            "%f %f\n" % (rate, us + srv * 1e6 / n))
PY
done
"$BENCH" "$BUILD/plugins" "$url" "$RECORDS" "$INTEGRATIONS" overload > "$tmp/overload.out"
python3 - "$tmp/overload.out" <<'PY'
import sys
for r in [l.split() for l in open(sys.argv[1]) if l.strip()][1:]:
    if r[0] == "overload":
        print("%-22s %10s %10s %12s %12s %14s %10s  %s" % (
            "outpost overload", r[1], r[2], r[3], "-", "-", r[5], " ".join(r[6:])))
PY
psql_ -c "SELECT 'outpost rows in integration_health_log: ' || count(*) FROM integration_health_log"

# --- the server's own ceiling ---------------------------------------------
# The same rows through psql's \copy (one connection, text COPY, nothing
# else in the transaction) into the log emptied: what one backend takes
# at most.
psql_ -c "\copy (SELECT ts, integration, name, category, provider, status, success, status_code, response_ms, dns_ms, connect_ms, tls_ms, ttfb_ms, transfer_ms, health_score, error, tags FROM integration_health_log LIMIT 300000) TO '$tmp/rows.txt'"
psql_ -c "TRUNCATE integration_health_log"
n_rows=$(wc -l < "$tmp/rows.txt")
s0=$(server_cpu); t0=$(date +%s.%N)
psql_ -c "\copy integration_health_log (ts, integration, name, category, provider, status, success, status_code, response_ms, dns_ms, connect_ms, tls_ms, ttfb_ms, transfer_ms, health_score, error, tags) FROM '$tmp/rows.txt'"
t1=$(date +%s.%N); s1=$(server_cpu)
python3 - "$n_rows" "$t0" "$t1" "$s0" "$s1" <<'PY'
import sys
n, t0, t1, s0, s1 = int(sys.argv[1]), *map(float, sys.argv[2:6])
print("%-22s %10d %10.2f %12.0f %12s %14.2f %10s  (the server's ceiling, one backend)" % (
    "psql \\copy, same rows", n, t1 - t0, n / (t1 - t0), "-", (s1 - s0) * 1e6 / n, "-"))
PY

# --- collectd 5.12 postgresql writer --------------------------------------
if [ -x /usr/sbin/collectd ]; then
    psql_ -c "CREATE DATABASE collectd"
    psql -X -q -h "$tmp" -p "$port" -U postgres -d collectd <<'SQL'
CREATE TABLE collectd_values (ts timestamptz NOT NULL, host text,
  plugin text, plugin_instance text, type text, type_instance text,
  value_names text[], value_types text[], vals float8[]);
-- the same kind of key as outpost's log has
CREATE INDEX ON collectd_values (plugin_instance, ts);
CREATE FUNCTION collectd_insert(timestamptz, text, text, text, text, text,
  text[], text[], float8[]) RETURNS void LANGUAGE sql AS
  'INSERT INTO collectd_values VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)';
SQL
    cat > "$tmp/collectd.conf" <<EOF
Interval 10
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
WriteQueueLimitHigh 1000000
WriteQueueLimitLow 900000
LoadPlugin unixsock
LoadPlugin postgresql
<Plugin unixsock>
  SocketFile "$tmp/collectd.sock"
</Plugin>
<Plugin postgresql>
  <Writer sqlstore>
    Statement "SELECT collectd_insert(\$1, \$2, \$3, \$4, \$5, \$6, \$7, \$8, \$9);"
    StoreRates false
  </Writer>
  <Database collectd>
    Host "127.0.0.1"
    Port "$port"
    User "postgres"
    Writer sqlstore
    CommitInterval 1
  </Database>
</Plugin>
EOF
    /usr/sbin/collectd -f -C "$tmp/collectd.conf" > "$tmp/collectd.out" 2>&1 &
    cdpid=$!
    for _ in $(seq 100); do [ -S "$tmp/collectd.sock" ] && break; sleep 0.1; done
    c0=$(proc_cpu "$cdpid"); s0=$(server_cpu); t0=$(date +%s.%N)
    # A pipelining feeder: PUTVAL lines as fast as collectd answers them.
    python3 - "$tmp/collectd.sock" "$CD_SECONDS" "$INTEGRATIONS" <<'PY' &
import socket, sys, threading, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
end, n_int = time.time() + float(sys.argv[2]), int(sys.argv[3])
f = s.makefile("rb")
sent = [0]
def reader():
    while f.readline():
        pass
threading.Thread(target=reader, daemon=True).start()
t, k = 1796644800, 0
while time.time() < end:
    lines = []
    for _ in range(500):
        lines.append("PUTVAL bench/http-bench-%d/response_time interval=10 %d.%06d:%d\n"
                     % (k % n_int, t + k // 1000000, k % 1000000, 40 + k % 300))
        k += 1
    s.sendall("".join(lines).encode())
s.shutdown(socket.SHUT_WR)
PY
    feeder=$!
    wait "$feeder"
    # What was written while the feeder ran, and its cost.
    rows=$(psql -X -q -A -t -h "$tmp" -p "$port" -U postgres -d collectd -c "SELECT count(*) FROM collectd_values")
    t1=$(date +%s.%N); c1=$(proc_cpu "$cdpid"); s1=$(server_cpu)
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$cdpid/status")
    kill "$cdpid"; wait "$cdpid" 2>/dev/null || true; cdpid=""
    python3 - "$rows" "$t0" "$t1" "$c0" "$c1" "$s0" "$s1" "$rss" "$tmp/outpost.out.rate" <<'PY'
import sys
rows, t0, t1, c0, c1, s0, s1, rss = sys.argv[1:9]
rows = int(rows); sec = float(t1) - float(t0)
rate = rows / sec if sec > 0 else 0
us = (float(c1) - float(c0)) * 1e6 / max(rows, 1)
tot = us + (float(s1) - float(s0)) * 1e6 / max(rows, 1)
print("%-22s %10d %10.2f %12.0f %12.2f %14.2f %10.1f" % (
    "collectd postgresql", rows, sec, rate, us, tot, int(rss) / 1024))
print()
for w in ("1", "2"):
    o_rate, o_tot = map(float, open(sys.argv[9] + w).read().split())
    if rate > 0:
        print("outpost writers=%s / collectd: %.1fx the rows/s, %.2fx the CPU "
              "per record (agent + server)" % (w, o_rate / rate, o_tot / tot))
PY
else
    echo "collectd not installed (apt-get install collectd-core): skipped"
fi
echo "target: >= 100000 rows/s, >= 5x collectd at less CPU per record;" \
     "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

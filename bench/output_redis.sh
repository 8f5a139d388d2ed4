#!/bin/sh
# bench/output_redis.sh - measurements into a real redis-server: outpost's
# redis output (bench/output_redis: the core's output queue and the real
# module, pipelined XADD + coalesced state per batch) and, side by side,
# collectd 5.12's write_redis (Debian collectd-core) fed the same number
# of values through its unixsock plugin. Each gets a fresh redis-server on
# a free port. Prints a table and the ratios; never pass/fail.
#
#   bench/output_redis.sh [BUILD_DIR]      (default: build)
#
# Environment: N (1000000 measurements), N_COLLECTD (200000: collectd is
# slow enough that a smaller run tells the same), SKIP ("collectd").
# Build BUILD_DIR with -DCMAKE_BUILD_TYPE=Release for figures.
#
# Needs: redis-server, redis-cli, collectd-core (installed if missing and
# run as root).
set -eu

BUILD=${1:-build}
N=${N:-1000000}
N_COLLECTD=${N_COLLECTD:-200000}
SKIP=${SKIP:-}
BENCH=$BUILD/bench/output_redis
MODULE=$BUILD/plugins/redis.so

if ! [ -x /usr/sbin/collectd ] && [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends collectd-core >/dev/null
fi

tmp=$(mktemp -d -t outpost-redis-bench.XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
cpu_of() {
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}
hwm_of() { awk '/^VmHWM/ { print $2 / 1024 }' "/proc/$1/status"; }
redis_cpu() {
    redis-cli -p "$1" info cpu | tr -d '\r' |
        awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { print s }'
}
start_redis() {     # $1 = name; prints the port
    p=$(free_port)
    redis-server --bind 127.0.0.1 --port "$p" --dir "$tmp" --save '' \
        --appendonly no --daemonize yes --pidfile "$tmp/$1.pid" \
        --logfile "$tmp/$1.log" >/dev/null
    until redis-cli -p "$p" ping >/dev/null 2>&1; do sleep 0.05; done
    pids="$pids $(cat "$tmp/$1.pid")"
    echo "$p"
}

echo "bench/output_redis.sh: $N measurements (50 integrations, 5 fields)" \
     "into redis-server $(redis-server --version | awk '{print $3}')"
echo "machine: $(nproc) CPU, $(awk -F': ' '/model name/{print $2; exit}' \
     /proc/cpuinfo), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# --- outpost ---------------------------------------------------------------
port=$(start_redis outpost)
r0=$(redis_cpu "$port")
"$BENCH" run "$MODULE" "$port" "$N" > "$tmp/outpost.out"
r1=$(redis_cpu "$port")
grep -v '^RESULT' "$tmp/outpost.out"
set -- $(grep '^RESULT' "$tmp/outpost.out")
o_rate=$2 o_cpu=$3 o_rss=$4
o_redis=$(echo "$r0 $r1 $N" | awk '{ printf "%.2f", ($2 - $1) * 1e6 / $3 }')
echo "stream length $(redis-cli -p "$port" xlen outpost:events)" \
     "(MAXLEN ~ 100000), state hashes" \
     "$(redis-cli -p "$port" --scan --pattern 'outpost:integration:*' | wc -l)"
echo
"$BENCH" overload "$MODULE" 2000000 2>/dev/null
echo

# --- the server's own ceiling ---------------------------------------------
# redis-benchmark pipelining (-P 64) the XADD outpost sends for each of
# these measurements (same fields, MAXLEN ~): what one redis-server core
# takes at most, and its CPU per XADD.
b_rate=- b_redis=-
if command -v redis-benchmark >/dev/null; then
    bport=$(start_redis ceiling)
    r0=$(redis_cpu "$bport")
    redis-benchmark -p "$bport" -P 64 -c 1 -n "$N" -q XADD outpost:events \
        MAXLEN '~' 100000 '*' type measurement name http \
        ts_ns 1796644800000000000 tags.category http \
        tags.integration provider-07 tags.provider provider-07 \
        fields.success true fields.status_code 200 fields.response_ms 12.3 \
        fields.status healthy fields.health_score 1 2>/dev/null |
        tr '\r' '\n' | grep 'requests per second' | tail -1 > "$tmp/ceiling"
    r1=$(redis_cpu "$bport")
    b_rate=$(awk '{ for (i = 1; i <= NF; i++) if ($(i+1) == "requests") {
        printf "%.0f", $i; exit } }' "$tmp/ceiling")
    b_redis=$(echo "$r0 $r1 $N" | awk '{ printf "%.2f", ($2 - $1) * 1e6 / $3 }')
fi

# --- collectd --------------------------------------------------------------
c_rate=- c_cpu=- c_rss=- c_redis=-
case " $SKIP " in *" collectd "*) ;; *)
if [ -x /usr/sbin/collectd ]; then
    cport=$(start_redis collectd)
    d=$tmp/collectd
    mkdir -p "$d"
    cat > "$d/collectd.conf" <<EOF
Interval 10
BaseDir "$d"
PIDFile "$d/pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin logfile
<Plugin logfile>
  LogLevel "err"
  File "$d/log"
</Plugin>
LoadPlugin unixsock
<Plugin unixsock>
  SocketFile "$d/sock"
</Plugin>
LoadPlugin write_redis
<Plugin write_redis>
  <Node "bench">
    Host "127.0.0.1"
    Port "$cport"
    Timeout 2000
  </Node>
</Plugin>
EOF
    /usr/sbin/collectd -f -C "$d/collectd.conf" > "$d/out" 2>&1 &
    cd_pid=$!
    pids="$pids $cd_pid"
    until [ -S "$d/sock" ]; do sleep 0.05; done
    sleep 1
    c0=$(cpu_of "$cd_pid"); r0=$(redis_cpu "$cport")
    t0=$(date +%s.%N)
    "$BENCH" feed "$d/sock" "$N_COLLECTD"
    # write_redis: ZADD collectd/<id> + SADD collectd/values per value.
    count() {
        redis-cli -p "$cport" --scan --pattern 'collectd/bench/*' |
            while read -r k; do redis-cli -p "$cport" zcard "$k"; done |
            awk '{ s += $1 } END { print s + 0 }'
    }
    last=-1 same=0
    while :; do
        n=$(count)
        [ "$n" -ge "$N_COLLECTD" ] && break
        if [ "$n" -eq "$last" ]; then
            same=$((same + 1)); [ "$same" -ge 20 ] && break
        else same=0; fi
        last=$n
        sleep 0.1
    done
    t1=$(date +%s.%N)
    c1=$(cpu_of "$cd_pid"); r1=$(redis_cpu "$cport")
    c_rss=$(hwm_of "$cd_pid")
    c_rate=$(echo "$n $t0 $t1" | awk '{ printf "%.0f", $1 / ($3 - $2) }')
    c_cpu=$(echo "$c0 $c1 $n" | awk '{ printf "%.2f", ($2 - $1) * 1e6 / $3 }')
    c_redis=$(echo "$r0 $r1 $n" | awk '{ printf "%.2f", ($2 - $1) * 1e6 / $3 }')
    echo "collectd write_redis: $n of $N_COLLECTD values in Redis"
    echo
fi;;
esac

printf '| %-34s | %14s | %14s |\n' "" "outpost redis" "collectd 5.12"
printf '|%s|%s|%s|\n' "------------------------------------" \
    "----------------" "----------------"
printf '| %-34s | %14s | %14s |\n' "measurements/s into Redis" "$o_rate" \
    "$c_rate"
printf '| %-34s | %14s | %14s |\n' "agent CPU us per measurement" "$o_cpu" \
    "$c_cpu"
printf '| %-34s | %14s | %14s |\n' "redis-server CPU us per measurement" \
    "$o_redis" "$c_redis"
printf '| %-34s | %14s | %14s |\n' "agent peak RSS MiB" "$o_rss" "$c_rss"
echo
echo "redis-benchmark -P 64 of the same XADD: $b_rate/s, redis-server CPU" \
     "$b_redis us per XADD (the server's ceiling on one core)"
echo "target: >= 150000 measurements/s, >= 5x collectd at less CPU per" \
     "measurement; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$c_rate" != "-" ]; then
    echo
    echo "$o_rate $c_rate $o_cpu $c_cpu" | awk '{
        printf "outpost/collectd: %.1fx the rate, %.2fx the CPU per measurement\n",
               $1 / $2, $3 / $4 }'
fi
echo "(outpost's CPU includes making the measurements; collectd's excludes"
echo " the feeder. outpost's producer keeps at most 50,000 queued.)"

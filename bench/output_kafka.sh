#!/bin/sh
# bench/output_kafka.sh - the kafka output into a Kafka-protocol broker
# (librdkafka's mock cluster, tests/servers/kafka_mock: no Kafka broker is
# packaged for Debian 12 and nothing is downloaded), and, side by side,
# collectd 5.12's write_kafka on the same workload: RECORDS values of 16
# hosts/integrations, one message each. Prints a table; never pass/fail.
#
#   bench/output_kafka.sh [BUILD_DIR]          (default: build, Release)
#
# Environment: RECORDS (1000000), FEED_RATE (400000: values/s sent to
# collectd over UDP; what it cannot take is lost and not counted),
# SKIP (space-separated: outpost collectd overload).
#
# outpost: bench/output_kafka (the real plugin driven by the core's output
# worker, in one process): records/s until the last delivery report,
# CPU (user+sys of that process, librdkafka's threads included) per
# record, peak RSS; then the floor: the same messages from librdkafka
# alone (no agent), and an overload (an unreachable cluster) whose memory
# must stay within the queue. collectd: the same figures from /proc for
# the collectd process, records counted in the topic (write_kafka does not
# wait for delivery reports). The broker's (mock cluster's) own CPU and
# the load average are printed per run, and the issue's targets at the
# end (met or NOT met: the machine is shared, read them with the load).
#
# Needs: collectd-core (installed here with apt-get if missing), kcat.
set -eu

BUILD=${1:-build}
RECORDS=${RECORDS:-1000000}
FEED_RATE=${FEED_RATE:-400000}
SKIP=${SKIP:-}
BENCH=$BUILD/bench/output_kafka
export KAFKA_PLUGIN=$BUILD/plugins/kafka.so

tmp=$(mktemp -d -t outpost-kafka-bench.XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
skipped() { case " $SKIP " in *" $1 "*) return 0;; esac; return 1; }
cpu_of() {
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}
hwm_of() { awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
free_port() {
    python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

if ! skipped collectd && [ ! -e /usr/lib/collectd/write_kafka.so ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends collectd-core >/dev/null
fi

"$BUILD/kafka_mock" 3 bench.json:16 bench.influx:16 bench.raw:16 \
    collectd:16 > "$tmp/mock.out" 2>"$tmp/mock.err" &
mock=$!
pids="$pids $mock"
until grep -q BOOTSTRAP "$tmp/mock.out" 2>/dev/null; do sleep 0.05; done
brokers=$(awk '/BOOTSTRAP/ {print $2}' "$tmp/mock.out")
load() { cut -d' ' -f1 /proc/loadavg; }
# The broker's CPU per record between two cpu_of readings.
broker_row() {
    echo "$1 $2 $3 $(load)" | awk '{ n = $3 ? $3 : 1
        printf "|          | broker CPU: %.2f us/rec (%.3f s per 100k);" \
               " load average %s |\n", ($2 - $1) * 1e6 / n,
               ($2 - $1) * 1e5 / n, $4 }'
}

echo "bench/output_kafka.sh: $RECORDS records, 16 integrations, into" \
     "librdkafka's mock cluster (3 brokers, 16 partitions) at $brokers"
echo "machine: $(nproc) CPU, $(awk -F': ' '/model name/{print $2; exit}' \
     /proc/cpuinfo), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(CPU us/rec x 0.1 = CPU seconds per 100,000 records)"
echo

: > "$tmp/rows"
if ! skipped outpost; then
    echo "outpost kafka output (idempotent, acks=all, lz4, waits for every" \
         "delivery report):"
    echo "| format   | delivered |       s |  records/s | CPU us/rec | RSS MiB  |"
    echo "|----------|-----------|---------|------------|------------|----------|"
    for fmt in json influx; do
        b0=$(cpu_of "$mock")
        "$BENCH" run "$brokers" "$RECORDS" "$fmt" | tee -a "$tmp/rows"
        b1=$(cpu_of "$mock")
        broker_row "$b0" "$b1" "$RECORDS"
    done
    echo
    echo "the floor: the same JSON messages from librdkafka alone (no agent):"
    b0=$(cpu_of "$mock")
    "$BENCH" raw "$brokers" "$RECORDS"
    b1=$(cpu_of "$mock")
    broker_row "$b0" "$b1" "$RECORDS"
    echo
fi

if ! skipped overload; then
    echo "overload: an unreachable cluster, queue_limit 100000, no disk;" \
         "4 x the limit pushed:"
    "$BENCH" overload 400000 2>/dev/null | tee -a "$tmp/rows"
    echo
fi

if ! skipped collectd; then
    port=$(free_port)
    cat > "$tmp/collectd.conf" <<EOF
Interval 10
TypesDB "/usr/share/collectd/types.db"
WriteThreads 1
WriteQueueLimitHigh 2000000
WriteQueueLimitLow 1900000
LoadPlugin network
LoadPlugin write_kafka
<Plugin network>
  <Listen "127.0.0.1" "$port">
  </Listen>
  MaxPacketSize 1452
  ReportStats false
</Plugin>
<Plugin write_kafka>
  Property "metadata.broker.list" "$brokers"
  Property "compression.codec" "lz4"
  <Topic "collectd">
    Format JSON
  </Topic>
</Plugin>
EOF
    /usr/sbin/collectd -f -C "$tmp/collectd.conf" > "$tmp/collectd.log" 2>&1 &
    cd_pid=$!
    pids="$pids $cd_pid"
    sleep 2
    before=$("$BENCH" count "$brokers" collectd)
    c0=$(cpu_of "$cd_pid")
    b0=$(cpu_of "$mock")
    t0=$(date +%s.%N)
    "$BENCH" feed 127.0.0.1 "$port" "$RECORDS" "$FEED_RATE"
    # until the topic stops growing
    last=-1 n=$before tl=$t0
    while [ "$n" != "$last" ]; do
        last=$n
        sleep 1
        n=$("$BENCH" count "$brokers" collectd)
        [ "$n" != "$last" ] && tl=$(date +%s.%N)
    done
    c1=$(cpu_of "$cd_pid")
    b1=$(cpu_of "$mock")
    got=$((n - before))
    echo "collectd 5.12 write_kafka, json (fed over UDP at $FEED_RATE" \
         "values/s; counts at produce(), acks per librdkafka default):"
    echo "| format   | delivered |       s |  records/s | CPU us/rec | RSS MiB  |"
    echo "|----------|-----------|---------|------------|------------|----------|"
    echo "$got $t0 $tl $c0 $c1 $(hwm_of "$cd_pid")" | awk '{
        s = $3 - $2; if ($1 == 0) { $1 = 1 }
        printf "| collectd | %9d | %7.2f | %10.0f | %10.2f | %8.1f |\n",
               $1, s, $1 / s, ($5 - $4) * 1e6 / $1, $6 }' | tee -a "$tmp/rows"
    broker_row "$b0" "$b1" "$got"
    echo "($((RECORDS - got)) of $RECORDS values sent were not written:" \
         "lost in UDP or collectd's queue; its time ends at the first" \
         "1-second poll that saw the topic stop growing)"
    echo
fi

# The issue's targets, from the rows above.
echo "targets (from the outpost json row, and collectd's when it ran):"
awk -F'|' '
    { k = $2; gsub(/ /, "", k) }
    k == "json" && !rate { rate = $5 + 0; cpu = $6 + 0 }
    k == "collectd" { crate = $5 + 0; ccpu = $6 + 0 }
    k == "overload" { over = $0 }
    END {
        if (rate > 0)
            printf "  >= 300,000 records/s: %.0f/s: %s\n", rate,
                   (rate >= 300000 ? "met" : "NOT met")
        if (rate > 0 && crate > 0)
            printf "  >= 5 x collectd (%.0f/s) at less CPU per record" \
                   " (collectd %.2f us): %.1f x at %.2f us: %s\n", crate,
                   ccpu, rate / crate, cpu,
                   ((rate >= 5 * crate && cpu < ccpu) ? "met" : "NOT met")
        if (over != "") {
            split(over, f, "|")
            printf "  overload stays within queue_limit, the rest counted:" \
                   "%s,%s,%s\n", f[4], f[5], f[6]
        }
    }' "$tmp/rows"

#!/usr/bin/env bash
# Starts the real servers the test suite needs, once per suite (a ctest
# fixture): PostgreSQL (initdb in a temp dir, run as the postgres user),
# Redis, and a Kafka-protocol broker (librdkafka's mock cluster), each on a
# free loopback port. Writes their addresses to $dir/env as KEY=VALUE lines
# and their pids to $dir/pids.
#   start.sh BUILD_DIR SERVERS_DIR
set -euo pipefail
build=$1 dir=$2
rm -rf "$dir"; mkdir -p "$dir"; chmod 755 "$dir"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# PostgreSQL refuses to run as root: run it as the postgres user.
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pgport=$(free_port)
pg="$dir/pg"; mkdir -p "$pg"; chown postgres:postgres "$pg"
runuser -u postgres -- "$pgbin/initdb" -D "$pg/data" -U postgres -A trust \
  -E UTF8 --no-locale --no-sync >"$dir/pg-initdb.log" 2>&1
runuser -u postgres -- "$pgbin/pg_ctl" -D "$pg/data" -l "$pg/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $pgport -k $pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null

redisport=$(free_port)
redis-server --bind 127.0.0.1 --port "$redisport" --dir "$dir" --save '' \
  --appendonly no --daemonize yes --pidfile "$dir/redis.pid" \
  --logfile "$dir/redis.log"

"$build/kafka_mock" 3 outpost.measurements:4 outpost.events:4 probe:3 \
  >"$dir/kafka.out" 2>"$dir/kafka.err" &
echo $! > "$dir/kafka.pid"
for _ in $(seq 100); do grep -q BOOTSTRAP "$dir/kafka.out" && break; sleep 0.05; done
bootstrap=$(awk '/BOOTSTRAP/ {print $2}' "$dir/kafka.out")

for _ in $(seq 100); do redis-cli -p "$redisport" ping >/dev/null 2>&1 && break; sleep 0.05; done

cat > "$dir/env" <<ENV
PG_BIN=$pgbin
PG_DATA=$pg/data
PG_PORT=$pgport
PG_URL=postgresql://postgres@127.0.0.1:$pgport/postgres
REDIS_PORT=$redisport
REDIS_URL=redis://127.0.0.1:$redisport
REDIS_PID_FILE=$dir/redis.pid
KAFKA_BROKERS=$bootstrap
KAFKA_PID_FILE=$dir/kafka.pid
ENV
echo "servers: postgres :$pgport, redis :$redisport, kafka $bootstrap"

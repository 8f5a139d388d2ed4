#!/usr/bin/env bash
# Stops what start.sh started.   stop.sh SERVERS_DIR
set -uo pipefail
dir=$1
[ -f "$dir/env" ] || exit 0
. "$dir/env"
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1
[ -f "$REDIS_PID_FILE" ] && kill "$(cat "$REDIS_PID_FILE")" 2>/dev/null
[ -f "$KAFKA_PID_FILE" ] && kill "$(cat "$KAFKA_PID_FILE")" 2>/dev/null
sleep 0.2
exit 0

#!/usr/bin/env bash
# Builds outpost and runs it on the demo config (conf.d/demo/) against
# tests/fakeapi. An outage is scripted: after 10 s the fake "crm" API starts
# answering 503, after 25 s it recovers.
#
# stdout: one line per event (state changes, alerts, resolves, circuit
# transitions), e.g. "16:02:11 crm      down (was healthy): status: got
# 503, expected 200", formatted by scripts/demo_events.py from the JSON
# lines the agent's jsonl output writes to $OUTPOST_DEMO_DIR/events.jsonl.
# Every measurement goes to $OUTPOST_DEMO_DIR/measurements.jsonl and the
# agent's log to $OUTPOST_DEMO_DIR/outpost.log; the folder is kept, and
# its paths are printed at start. Ctrl-C stops it (the agent drains and
# exits).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

export OUTPOST_DEMO_DIR
OUTPOST_DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/outpost-demo-XXXXXX")
events=$OUTPOST_DEMO_DIR/events.jsonl
: > "$events"
cleanup() {
  [ -n "${agent:-}" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
  sleep 0.5                   # the last events reach the screen
  [ -n "${show:-}" ] && kill "$show" 2>/dev/null
  [ -n "${fake:-}" ] && kill "$fake" 2>/dev/null
  echo "demo: events kept in $events"
}
trap cleanup EXIT INT TERM

coproc FAKE { exec build/fakeapi; }
fake=$FAKE_PID
read -r _ port <&"${FAKE[0]}"
export FAKEAPI_URL="http://127.0.0.1:$port"
echo "demo: fakeapi on $FAKEAPI_URL"
OUTPOST_DEMO_API=127.0.0.1:$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export OUTPOST_DEMO_API
echo "demo: dashboard at http://$OUTPOST_DEMO_API/dashboard," \
     "Prometheus metrics at http://$OUTPOST_DEMO_API/metrics"
echo "demo: events (JSON lines) in $events"
echo "demo: measurements in $OUTPOST_DEMO_DIR/measurements.jsonl," \
     "log in $OUTPOST_DEMO_DIR/outpost.log"

python3 -u scripts/demo_events.py --follow "$events" &
show=$!
build/outpostd -f -C conf.d/demo/outpost.conf 2>"$OUTPOST_DEMO_DIR/outpost.log" &
agent=$!

admin() { curl -fsS -X "$1" "$FAKEAPI_URL/_admin/$2" >/dev/null; }
sleep 10
echo "demo: >>> outage: crm now answers 503"
admin POST 'fault?path=/health&status=503'
sleep 15
echo "demo: >>> recovery: crm answers 200 again"
admin DELETE 'fault?path=/health'
wait "$agent"

#!/usr/bin/env bash
# Builds outpost and runs it on the demo config (conf.d/demo/) against
# tests/fakeapi. An outage is scripted: after 10 s the fake "crm" API starts
# answering 503, after 25 s it recovers, so the log shows a check fail and
# recover. Events (state changes, circuit transitions, alerts, resolves)
# are printed as JSON lines on stdout, the agent's log goes to stderr, and
# every measurement is written to $OUTPOST_STATE_DIR/measurements.jsonl.
# Ctrl-C stops it (the agent drains and exits).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

work=$(mktemp -d)
cleanup() {
  [ -n "${agent:-}" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
  [ -n "${fake:-}" ] && kill "$fake" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

coproc FAKE { exec build/fakeapi; }
fake=$FAKE_PID
read -r _ port <&"${FAKE[0]}"
export FAKEAPI_URL="http://127.0.0.1:$port"
export OUTPOST_STATE_DIR="$work/state"
echo "demo: fakeapi on $FAKEAPI_URL, state in $OUTPOST_STATE_DIR" >&2

build/outpostd -f -C conf.d/demo/outpost.conf &
agent=$!

admin() { curl -fsS -X "$1" "$FAKEAPI_URL/_admin/$2" >/dev/null; }
sleep 10
echo "demo: >>> outage: crm now answers 503" >&2
admin POST 'fault?path=/health&status=503'
sleep 15
echo "demo: >>> recovery: crm answers 200 again" >&2
admin DELETE 'fault?path=/health'
wait "$agent"

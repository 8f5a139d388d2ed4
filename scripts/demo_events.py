#!/usr/bin/env python3
"""Reads the events outpost's jsonl output writes (one JSON object a line,
on stdin) and prints one readable line for each:

    16:02:11 crm      down (was healthy): status: got 503, expected 200
    16:02:15 crm      alert critical: down: 3 consecutive failures (...)
    16:02:19 crm      circuit open (was closed): 5 consecutive failures

time (local), integration, what happened. Lines that are not JSON are
printed as they are. With --follow FILE it reads FILE as it grows (like
tail -F) until it is killed."""
import json
import sys
import time


def what(ev):
    integration = ev.get("integration") or ev.get("tags", {}).get(
        "integration", "")
    msg = ev.get("message", "")
    if integration and msg.startswith(integration + " "):
        msg = msg[len(integration) + 1:]
    if msg.startswith("is "):
        msg = msg[3:]
    kind = ev.get("kind", ev.get("name", ""))
    fields = ev.get("fields", {})
    if kind == "alert":
        action = fields.get("action", "")
        label = "resolved" if action == "resolve" else \
            "alert %s" % ev.get("severity", "")
        return integration, "%s: %s" % (label, msg)
    if kind == "resolve":
        return integration, "alert resolved: %s" % msg
    if kind == "state_change":
        return integration, msg
    return integration, msg if msg.startswith(kind) else "%s %s" % (kind,
                                                                      msg)


def follow(path):
    with open(path) as f:
        while True:
            line = f.readline()
            if line.endswith("\n"):
                yield line
            elif line:
                f.seek(f.tell() - len(line.encode()))
                time.sleep(0.2)
            else:
                time.sleep(0.2)


def main():
    lines = follow(sys.argv[2]) if sys.argv[1:2] == ["--follow"] \
        else sys.stdin
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            print(line, flush=True)
            continue
        ts = ev.get("ts_ns")
        clock = time.strftime("%H:%M:%S", time.localtime(ts / 1e9)) \
            if ts else "--:--:--"
        integration, text = what(ev)
        print("%s %-8s %s" % (clock, integration, text), flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

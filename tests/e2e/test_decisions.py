"""The decision filters end to end, with the real daemon and fakeapi:
stripe (priority 1) and paypal (priority 2) share the failover group
"checkout". stripe starts failing: the alert opens after 3 failures and
exactly one notification goes out, the circuit opens after 5, failover
moves to paypal. The fault clears: the resolve goes out, the circuit
half-opens and closes, and the traffic returns to stripe."""
import json
import os
import unittest

from harness import FakeAPI, Workdir, start_daemon, stop_daemon, wait_for

HEALTH_KEY = "outpost/stripe/health"


def records(path):
    """Every complete line of the jsonl output so far (the daemon may be
    in the middle of writing the last one)."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            if line.endswith("\n") and line.strip():
                out.append(json.loads(line))
    return out


def events(recs, kind, **match):
    found = []
    for r in recs:
        if r.get("type") != "event" or r.get("kind") != kind:
            continue
        fields, tags = r.get("fields", {}), r.get("tags", {})
        if all(fields.get(k, tags.get(k, r.get(k))) == v
               for k, v in match.items()):
            found.append(r)
    return found


class DecisionsTest(unittest.TestCase):
    def setUp(self):
        self.api = FakeAPI()
        self.w = Workdir()
        self.out = self.w.file("records.jsonl")
        self.conf = self.w.write_main(interval="100ms", timeout="1s")
        self.w.write_dropin("10-checkout.conf", """
http "stripe" { url = "%(u)s/status/200" failover_group = "checkout"
                priority = 1 tier = "enterprise" }
http "paypal" { url = "%(u)s/health" failover_group = "checkout"
                priority = 2 }
""" % {"u": self.api.url})
        self.w.write_dropin("50-decisions.conf", """
health "default"          { }
circuit_breaker "default" { failure_threshold = 5 open_for = "500ms"
                            recovery_threshold = 3 }
sla "default"             { }
failover "default"        { failback_after = 3 }
alert "default"           { consecutive_failures = 3 repeat_interval = "1h" }
""")
        self.w.write_dropin("90-out.conf", """
jsonl "records" { path = "%s" flush_interval = "20ms" }
""" % self.out)

    def tearDown(self):
        self.api.stop()
        self.w.cleanup()

    def active(self):
        moves = events(records(self.out), "failover", group="checkout")
        return moves[-1]["fields"]["active"] if moves else None

    def wait(self, what, pred, timeout=20):
        self.assertTrue(wait_for(pred, timeout), "timed out waiting for "
                        + what)

    def test_fail_failover_recover(self):
        d = start_daemon(self.conf)
        try:
            self.wait("stripe to take the traffic",
                      lambda: self.active() == "stripe")

            self.api.fault("/status/200", status=503)
            self.wait("the circuit to open", lambda: events(
                records(self.out), "circuit", integration="stripe",
                to="open"))
            self.wait("failover to paypal",
                      lambda: self.active() == "paypal")
            recs = records(self.out)
            opened = events(recs, "alert", dedup_key=HEALTH_KEY)
            self.assertEqual(len(opened), 1, opened)
            alert = opened[0]
            self.assertEqual(alert["fields"]["action"], "open")
            self.assertFalse(alert["fields"]["muted"])
            self.assertEqual(alert["fields"]["priority"], "critical")
            self.assertEqual(alert["severity"], "critical")
            self.assertIn("3 failed checks in a row", alert["message"])
            # Where the traffic went, in the alert of the one that lost it.
            self.assertIn("checkout traffic moved to paypal",
                          alert["message"])
            self.assertEqual(alert["fields"]["failover_active"], "paypal")
            self.assertEqual(
                alert["measurement"]["fields"]["consecutive_failures"], 3)
            circuit = events(recs, "circuit", integration="stripe",
                             to="open")[0]
            self.assertEqual(
                circuit["measurement"]["fields"]["consecutive_failures"], 5)
            # The alert came first, then the circuit, then the failover.
            order = [r["kind"] for r in recs if r.get("type") == "event"
                     and r.get("kind") in ("alert", "circuit", "failover")
                     and r["tags"].get("integration") == "stripe"]
            self.assertLess(order.index("alert"), order.index("circuit"))
            move = events(recs, "failover", active="paypal")[0]
            self.assertEqual(move["dedup_key"], "outpost/failover/checkout")
            self.assertEqual(move["fields"]["previous"], "stripe")
            self.assertEqual(move["fields"]["weight.paypal"], 1.0)

            self.api.clear("/status/200")
            self.wait("the resolve", lambda: events(
                records(self.out), "resolve", dedup_key=HEALTH_KEY))
            self.wait("the circuit to close", lambda: events(
                records(self.out), "circuit", integration="stripe",
                to="closed"))
            self.wait("traffic back on stripe",
                      lambda: self.active() == "stripe")
        finally:
            rc, err = stop_daemon(d)
        self.assertEqual(rc, 0, err)

        recs = records(self.out)
        # One notification for the whole outage, one resolve.
        self.assertEqual(len(events(recs, "alert", dedup_key=HEALTH_KEY)), 1)
        resolves = events(recs, "resolve", dedup_key=HEALTH_KEY)
        self.assertEqual(len(resolves), 1)
        self.assertIn("stripe recovered: ", resolves[0]["message"])
        self.assertGreater(resolves[0]["fields"]["occurrences"], 1)
        self.assertEqual(resolves[0]["severity"], "info")
        self.assertEqual(resolves[0]["fields"]["priority"], "critical")
        # The log alone tells the story, one line per step, at info.
        story = [json.loads(line) for line in err.splitlines()
                 if line.startswith("{") and '"event"' in line]
        said = [(l["level"], l["message"]) for l in story
                if l.get("operation") == "event"]
        for want in ("checkout: routing to stripe",
                     "checkout: stripe -> paypal (stripe",
                     "stripe circuit open",
                     "stripe is down: 3 failed checks in a row",
                     "stripe recovered: ",
                     "checkout: paypal -> stripe"):
            self.assertTrue([m for lvl, m in said if lvl == "info"
                             and m.startswith(want)], (want, said))
        self.assertTrue(events(recs, "circuit", integration="stripe",
                               to="half_open"))
        self.assertEqual(events(recs, "alert", integration="paypal"), [])
        # Decisions and alert state were saved for a restart.
        self.assertTrue(os.path.exists(os.path.join(
            self.w.state, "failover", "default", "decisions.json")))
        self.assertTrue(os.path.exists(os.path.join(
            self.w.state, "alert", "default", "alerts.json")))


if __name__ == "__main__":
    unittest.main()

"""The HTTP notifiers (slack, pagerduty, webhook in its three formats)
end to end: fakeapi makes an integration go down, the real daemon's
alert filter opens an alert, and fakeapi's stand-ins for Slack, PagerDuty,
Discord and a generic receiver record what reached them. The tests assert
the exact payloads (with the clock and timings blanked), exactly one
message per channel per alert, the resolves, retries on 5xx and 429
(Retry-After honoured), no retry on 4xx (dead letters, without the
secret), no duplicate after a failure in the middle of a burst or a
restart, one summary over the rate limit, template mistakes at -t, and
escalation by severity."""
import json
import os
import re
import signal
import subprocess
import time
import unittest
import urllib.request

from harness import (OUTPOSTD, FakeAPI, Workdir, read_jsonl, start_daemon,
                     stop_daemon, wait_for)

PD_KEY = "outpostpagerdutyroutingkey000001"
SLACK_PATH = "/slack/services/T0UTP0ST/B0UTP0ST/slacksecrettoken"
OPEN_MSG = ("stripe is down: 3 failed checks in a row (status: got 503, "
            "expected 2xx); checkout traffic moved to paypal")
VOLATILE = {"ts", "timestamp", "startsAt", "endsAt", "ts_ns", "since",
            "response_ms", "source"}


def blank(x):
    """x with the clock, timings and host blanked, so a payload can be
    compared whole."""
    if isinstance(x, dict):
        out = {}
        for k, v in x.items():
            out[k] = "<x>" if k in VOLATILE else blank(v)
        if out.get("title") == "Response time" or \
                out.get("name") == "Response time":
            out["value"] = "<x>"
        # Slack's blocks: the response-time field, the dated footer.
        t = out.get("text")
        if isinstance(t, str) and (t.startswith("*Response time*")
                                   or t.startswith("outpost · <!date")):
            out["text"] = "<x>"
        return out
    if isinstance(x, list):
        return [blank(v) for v in x]
    return x


class NotifyBase(unittest.TestCase):
    checks = """
http "stripe" { url = "%(u)s/status/200" failover_group = "checkout"
                priority = 1 tier = "enterprise" }
http "paypal" { url = "%(u)s/health" failover_group = "checkout"
                priority = 2 }
"""
    decisions = """
health "default"          { }
failover "default"        { failback_after = 3 }
alert "default"           { consecutive_failures = 3 repeat_interval = "1h"
                            %(policy)s }
"""
    policy = ""

    def setUp(self):
        self.api = FakeAPI()
        self.w = Workdir()
        self.u = self.api.url
        self.conf = self.w.write_main(interval="100ms", timeout="1s")
        self.w.write_dropin("10-checks.conf", self.checks % {"u": self.u})
        self.w.write_dropin("50-decisions.conf",
                            self.decisions % {"policy": self.policy})
        self.daemon = None

    def tearDown(self):
        if self.daemon and self.daemon.poll() is None:
            stop_daemon(self.daemon, signal.SIGKILL)
        self.api.stop()
        self.w.cleanup()

    def outputs(self, text):
        self.w.write_dropin("90-notify.conf", text % {"u": self.u,
                                                      "slack": SLACK_PATH,
                                                      "pd": PD_KEY})

    def received(self, prefix, accepted=True):
        with urllib.request.urlopen(
                self.u + "/_admin/received?path=" + prefix, timeout=5) as r:
            reqs = json.load(r)["requests"]
        if accepted:
            reqs = [q for q in reqs if q["status"] < 300]
        return reqs

    def bodies(self, prefix):
        return [json.loads(q["body"]) for q in self.received(prefix)]

    def plan(self, prefix, **kw):
        q = "&".join("%s=%s" % kv for kv in kw.items())
        req = urllib.request.Request(
            "%s/_admin/received?path=%s&%s" % (self.u, prefix, q),
            method="POST")
        urllib.request.urlopen(req, timeout=5).read()

    def wait(self, what, pred, timeout=20):
        self.assertTrue(wait_for(pred, timeout), "timed out waiting for "
                        + what)

    def start(self):
        self.daemon = start_daemon(self.conf)

    def stop(self, sig=signal.SIGTERM):
        rc, err = stop_daemon(self.daemon, sig)
        self.daemon = None
        return rc, err

    def go_down(self, path="/status/200", **kw):
        self.api.fault(path, status=503, **kw)

    def cli(self, *args):
        return subprocess.run([OUTPOSTD, "-C", self.conf, *args],
                              capture_output=True, text=True, timeout=30)


class ChannelsTest(NotifyBase):
    def test_down_and_recover_one_message_per_channel(self):
        self.outputs("""
slack "ops" { webhook_url = "%(u)s%(slack)s"
              dashboard_url = "https://outpost.example/i/{integration}" }
pagerduty "oncall" { routing_key = "%(pd)s" base_url = "%(u)s/pagerduty/"
                     source = "outpost-test"
                     status_pages = {"paypal=https://status.paypal.example",
                                     "stripe=https://status.stripe.example"}
                     dashboard_url = "https://outpost.example/i/{integration}" }
webhook "hook" { url = "%(u)s/hooks/generic" hmac_secret = "hmac-secret-1"
                 headers = {"X-Team: payments"} }
webhook "discord" { url = "%(u)s/discord/api/webhooks/1/discordtoken"
                    format = "discord" }
webhook "am" { url = "%(u)s/hooks/am" format = "alertmanager" }
""")
        self.start()
        self.wait("a first check", lambda: True)
        time.sleep(0.5)
        self.go_down()
        for p in ("/slack/", "/pagerduty/", "/hooks/generic", "/discord/",
                  "/hooks/am"):
            self.wait("the alert at " + p, lambda p=p: self.received(p))
        time.sleep(1.0)     # more failed checks: still one message each
        self.api.clear()
        self.wait("the resolves", lambda: all(
            len(self.received(p)) == 2 for p in
            ("/slack/", "/pagerduty/", "/hooks/generic", "/discord/",
             "/hooks/am")))
        time.sleep(0.5)
        rc, err = self.stop()
        self.assertEqual(rc, 0, err)

        # --- Slack: text plus an attachment coloured by severity.
        slack = self.received("/slack/")
        self.assertEqual(len(slack), 2)
        self.assertEqual(slack[0]["path"], SLACK_PATH)
        self.assertEqual(slack[0]["headers"]["content-type"],
                         "application/json")
        opened, resolved = [blank(json.loads(q["body"])) for q in slack]
        self.assertEqual(opened, {
            "text": OPEN_MSG,
            "attachments": [{
                "color": "#d00000", "fallback": OPEN_MSG,
                "blocks": [
                    {"type": "header", "text": {
                        "type": "plain_text",
                        "text": "[CRITICAL] stripe is down"}},
                    {"type": "section", "text": {
                        "type": "mrkdwn", "text": OPEN_MSG}},
                    {"type": "section", "fields": [
                        {"type": "mrkdwn", "text": "*Status*\ndown"},
                        {"type": "mrkdwn", "text": "*Priority*\ncritical"},
                        {"type": "mrkdwn", "text": "<x>"},
                        {"type": "mrkdwn",
                         "text": "*Consecutive failures*\n3"},
                        {"type": "mrkdwn", "text": "*Occurrences*\n3"},
                        {"type": "mrkdwn", "text": "*Last error*\n"
                         "status: got 503, expected 2xx"},
                        {"type": "mrkdwn", "text": "*Failover*\n"
                         "checkout traffic moved to paypal"}]},
                    {"type": "actions", "elements": [{
                        "type": "button",
                        "text": {"type": "plain_text",
                                 "text": "Open in the dashboard"},
                        "url": "https://outpost.example/i/stripe"}]},
                    {"type": "context", "elements": [{
                        "type": "mrkdwn", "text": "<x>"}]}]}]})
        raw = json.loads(slack[0]["body"])["attachments"][0]["blocks"]
        self.assertRegex(raw[2]["fields"][2]["text"],
                         r"^\*Response time\*\n[0-9.]+ ms$")
        self.assertRegex(raw[4]["elements"][0]["text"],
                         r"^outpost · <!date\^\d+\^\{date_short_pretty\} "
                         r"\{time_secs\}\|\d+>$")
        self.assertEqual(resolved["attachments"][0]["color"], "#2eb886")
        self.assertEqual(resolved["attachments"][0]["blocks"][0]["text"]
                         ["text"], "[RESOLVED] stripe recovered")
        self.assertRegex(resolved["text"],
                         r"^stripe recovered: \d+ bad checks in ")

        # --- PagerDuty: trigger, then resolve, one dedup key.
        trig, res = self.bodies("/pagerduty/")
        trig = blank(trig)
        self.assertEqual(trig, {
            "routing_key": PD_KEY, "event_action": "trigger",
            "dedup_key": "outpost/stripe/health",
            "payload": {
                "summary": OPEN_MSG, "source": "<x>",
                "severity": "critical", "timestamp": "<x>",
                "component": "stripe", "group": "http", "class": "health",
                "custom_details": {
                    "status": "down", "priority": "critical",
                    "error": "status: got 503, expected 2xx",
                    "failover_active": "paypal", "action": "open",
                    "condition": "health", "tier": "enterprise",
                    "provider": "stripe", "response_ms": "<x>",
                    "status_code": 503, "consecutive_failures": 3,
                    "occurrences": 3,
                    "failover": "checkout traffic moved to paypal"}},
            "client": "outpost",
            "client_url": "https://outpost.example/i/stripe",
            "links": [{"href": "https://outpost.example/i/stripe",
                       "text": "outpost dashboard"},
                      {"href": "https://status.stripe.example",
                       "text": "stripe status page"}]})
        self.assertEqual(self.bodies("/pagerduty/")[0]["payload"]["source"],
                         "outpost-test")
        self.assertEqual(res, {"routing_key": PD_KEY,
                               "event_action": "resolve",
                               "dedup_key": "outpost/stripe/health"})

        # --- The generic webhook: the versioned schema, signed.
        import hashlib
        import hmac
        hook = self.received("/hooks/generic")
        for q in hook:
            sig = hmac.new(b"hmac-secret-1", q["body"].encode(),
                           hashlib.sha256).hexdigest()
            self.assertEqual(q["headers"]["x-outpost-signature"],
                             "sha256=" + sig)
            self.assertEqual(q["headers"]["x-team"], "payments")
        g_open, g_res = [json.loads(q["body"]) for q in hook]
        self.assertEqual(g_open["schema"], "outpost.event/1")
        self.assertEqual(g_open["text"], OPEN_MSG)
        self.assertEqual(g_open["event"]["kind"], "alert")
        self.assertEqual(g_open["event"]["dedup_key"],
                         "outpost/stripe/health")
        self.assertEqual(g_open["event"]["fields"]["action"], "open")
        self.assertEqual(g_open["event"]["measurement"]["fields"]
                         ["status_code"], 503)
        self.assertEqual(g_res["event"]["kind"], "resolve")
        self.assertNotIn("dashboard_url", g_open)

        # --- Discord: an embed coloured by severity, as an integer.
        d_open = blank(self.bodies("/discord/")[0])
        self.assertEqual(d_open, {
            "content": OPEN_MSG, "username": "outpost",
            "allowed_mentions": {"parse": []},
            "embeds": [{
                "title": "stripe: open", "description": OPEN_MSG,
                "color": 0xd00000,
                "fields": [
                    {"name": "Status", "value": "down", "inline": True},
                    {"name": "Priority", "value": "critical",
                     "inline": True},
                    {"name": "Response time", "value": "<x>",
                     "inline": True},
                    {"name": "Occurrences", "value": "3", "inline": True},
                    {"name": "Last error",
                     "value": "status: got 503, expected 2xx",
                     "inline": False},
                    {"name": "Failover",
                     "value": "checkout traffic moved to paypal",
                     "inline": False}],
                "timestamp": "<x>"}]})
        self.assertEqual(self.received("/discord/")[0]["status"], 204)

        # --- Alertmanager's webhook message: firing, then resolved.
        a_open, a_res = self.bodies("/hooks/am")
        labels = {"alertname": "health", "category": "http",
                  "failover_group": "checkout", "instance": "<host>",
                  "integration": "stripe", "provider": "stripe",
                  "tier": "enterprise", "severity": "critical",
                  "dedup_key": "outpost/stripe/health"}
        for m in (a_open, a_res):
            m["commonLabels"]["instance"] = "<host>"
            m["alerts"][0]["labels"]["instance"] = "<host>"
        fp = hashlib.sha256(b"outpost/stripe/health").hexdigest()[:16]
        self.assertEqual(blank(a_open), {
            "version": "4", "groupKey": '{}:{alertname="health"}',
            "truncatedAlerts": 0, "status": "firing", "receiver": "am",
            "groupLabels": {"alertname": "health"},
            "commonLabels": labels,
            "commonAnnotations": {
                "summary": OPEN_MSG, "description": OPEN_MSG,
                "failover": "checkout traffic moved to paypal"},
            "externalURL": "",
            "alerts": [{
                "status": "firing", "labels": labels,
                "annotations": {
                    "summary": OPEN_MSG, "description": OPEN_MSG,
                    "failover": "checkout traffic moved to paypal"},
                "startsAt": "<x>", "endsAt": "<x>", "generatorURL": "",
                "fingerprint": fp}]})
        self.assertEqual(a_open["alerts"][0]["endsAt"],
                         "0001-01-01T00:00:00Z")
        self.assertEqual(a_res["status"], "resolved")
        self.assertEqual(a_res["alerts"][0]["fingerprint"], fp)
        self.assertEqual(a_res["alerts"][0]["startsAt"],
                         a_open["alerts"][0]["startsAt"])
        self.assertRegex(a_res["alerts"][0]["endsAt"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

        # No secret in the log.
        for secret in ("slacksecrettoken", PD_KEY, "hmac-secret-1",
                       "discordtoken"):
            self.assertNotIn(secret, err)

    def test_template_fields_and_mistakes_at_t(self):
        self.outputs("""
slack "ops" { webhook_url = "%(u)s%(slack)s"
              template = "{{{severity}}} {integration}: {reason} {nope}" }
""")
        p = self.cli("-t")
        self.assertEqual(p.returncode, 1, p.stderr)
        # At the line of the option at fault, not the section's.
        self.assertRegex(p.stderr, r"90-notify\.conf:3: slack \"ops\": "
                         r"template: unknown field \{nope\}")
        self.outputs("""
webhook "x" { url = "%(u)s/hooks/x" headers = {"Bad Header"} }
""")
        p = self.cli("-t")
        self.assertEqual(p.returncode, 1)
        self.assertIn('90-notify.conf:2: webhook "x": headers:', p.stderr)
        self.outputs("""
pagerduty "x" { routing_key = "two words" base_url = "%(u)s/pagerduty" }
""")
        p = self.cli("-t")
        self.assertEqual(p.returncode, 1)
        self.assertIn("routing_key: contains a blank", p.stderr)
        self.assertNotIn("two words", p.stderr)
        self.outputs("""
pagerduty "x" { routing_key = "%(pd)s" base_url = "%(u)s/pagerduty"
                status_pages = {"https://status.stripe.example"} }
""")
        p = self.cli("-t")
        self.assertEqual(p.returncode, 1)
        self.assertIn('status_pages: "https://status.stripe.example" is not '
                      'integration=URL', p.stderr)
        self.outputs("""
slack "ops" { webhook_url = "%(u)s%(slack)s" rate_limit = "lots" }
""")
        p = self.cli("-t")
        self.assertEqual(p.returncode, 1)
        self.assertIn("rate_limit:", p.stderr)

        # A good template renders its fields; braces doubled are literal.
        self.outputs("""
slack "ops" { webhook_url = "%(u)s%(slack)s"
              template = "{{{severity}}} {integration} is {status} ({priority}, {occurrences}x): {error} / {failover}" }
""")
        self.assertEqual(self.cli("-t").returncode, 0)
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the alert", lambda: self.received("/slack/"))
        self.stop()
        self.assertEqual(
            self.bodies("/slack/")[0]["text"],
            "{critical} stripe is down (critical, 3x): status: got 503, "
            "expected 2xx / checkout traffic moved to paypal")


class TestNotifyTest(NotifyBase):
    def test_test_notify_says_whether_the_service_accepted(self):
        self.outputs("""
slack "ops" { webhook_url = "%(u)s%(slack)s" events = {"resolve"} }
slack "gone" { webhook_url = "%(u)s/slack/services/T0/B0/revoked" }
pagerduty "oncall" { routing_key = "%(pd)s" base_url = "%(u)s/pagerduty"
                     timeout = "1s" }
jsonl "records" { path = "-" }
""")
        p = self.cli("--test-notify", "ops")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("slack:ops: the test message was accepted", p.stderr)
        body = self.bodies("/slack/")[0]
        self.assertRegex(body["text"], r"^\[TEST\] outpost test notification "
                         r"from \S+ to slack:ops: no action needed")
        self.assertEqual(body["attachments"][0]["blocks"][0]["text"]["text"],
                         "[TEST] outpost test notification")

        p = self.cli("--test-notify", "slack:gone")
        self.assertEqual(p.returncode, 1)
        self.assertIn("the test message was refused", p.stderr)
        self.assertIn("no_service", p.stderr)
        self.assertNotIn("revoked", p.stderr)
        self.assertEqual(self.cli("--dead-letters", "gone").stdout, "")

        self.api.fault("/pagerduty/v2/enqueue", status=503)
        p = self.cli("--test-notify", "oncall")
        self.assertEqual(p.returncode, 1)
        self.assertIn("not accepted in time", p.stderr)
        self.api.clear()
        p = self.cli("--test-notify", "oncall")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.bodies("/pagerduty/")[0]["payload"]["severity"],
                         "info")

        p = self.cli("--test-notify", "records")
        self.assertEqual(p.returncode, 1)
        self.assertIn("jsonl:records is not a notifier", p.stderr)
        p = self.cli("--test-notify", "nope")
        self.assertEqual(p.returncode, 1)
        self.assertIn('no output "nope"', p.stderr)


class DeliveryTest(NotifyBase):
    def test_5xx_is_retried(self):
        self.outputs("""
slack "ops" { webhook_url = "%(u)s%(slack)s" retry_initial = "50ms"
              retry_max = "100ms" }
""")
        self.plan("/slack/", after=0, status=503, count=2)
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the accepted message", lambda: self.received("/slack/"))
        time.sleep(0.5)
        rc, err = self.stop()
        self.assertEqual(rc, 0, err)
        reqs = self.received("/slack/", False)
        self.assertEqual([q["status"] for q in reqs], [503, 503, 200])
        self.assertEqual(reqs[0]["body"], reqs[2]["body"])
        self.assertIn("not accepted, retrying: HTTP 503", err)

    def test_429_waits_for_retry_after(self):
        self.outputs("""
webhook "hook" { url = "%(u)s/hooks/x" retry_initial = "10ms"
                 retry_max = "50ms" }
""")
        self.plan("/hooks/x", after=0, status=429, count=1, retry_after=2)
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the accepted message", lambda: self.received("/hooks/x"))
        self.stop()
        reqs = self.received("/hooks/x", False)
        self.assertEqual([q["status"] for q in reqs], [429, 200])
        self.assertGreater(reqs[1]["time"] - reqs[0]["time"], 1.9)

    def test_discord_429_waits_for_the_body_retry_after(self):
        self.outputs("""
webhook "discord" { url = "%(u)s/discord/api/webhooks/1/tok"
                    format = "discord" retry_initial = "10ms"
                    retry_max = "50ms" }
""")
        self.plan("/discord/", after=0, status=429, count=1, retry_after=1)
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the accepted message", lambda: self.received("/discord/"))
        self.stop()
        reqs = self.received("/discord/", False)
        self.assertEqual([q["status"] for q in reqs], [429, 204])
        # retry_after 1.5 s, from the body
        self.assertGreater(reqs[1]["time"] - reqs[0]["time"], 1.4)

    def test_slack_invalid_payload_is_dead_lettered_once(self):
        self.outputs("""
slack "ops" { webhook_url = "%(u)s%(slack)s" }
""")
        self.plan("/slack/", after=0, status=400, count=1)
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the refusal", lambda: self.received("/slack/", False))
        time.sleep(1.5)
        rc, err = self.stop()
        self.assertEqual(rc, 0, err)
        self.assertEqual([q["status"] for q in
                          self.received("/slack/", False)], [400])
        dead = [json.loads(line) for line in
                self.cli("--dead-letters", "ops").stdout.splitlines()]
        self.assertEqual([d["reason"] for d in dead],
                         ["HTTP 400: invalid_payload"])
        self.assertIn("message refused: HTTP 400: invalid_payload", err)
        self.assertNotIn("slacksecrettoken", err)

    def test_pagerduty_429_and_5xx_are_retried(self):
        self.outputs("""
pagerduty "oncall" { routing_key = "%(pd)s" base_url = "%(u)s/pagerduty"
                     retry_initial = "50ms" retry_max = "100ms" }
""")
        self.plan("/pagerduty/", after=0, status=429, count=1, retry_after=1)
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the trigger", lambda: self.received("/pagerduty/"))
        self.plan("/pagerduty/", after=0, status=502, count=2)
        self.api.clear()
        self.wait("the resolve", lambda: len(
            self.received("/pagerduty/")) == 2)
        time.sleep(0.5)
        rc, err = self.stop()
        self.assertEqual(rc, 0, err)
        reqs = self.received("/pagerduty/", False)
        self.assertEqual([q["status"] for q in reqs],
                         [429, 202, 502, 502, 202])
        # Retry-After: 1 honoured
        self.assertGreater(reqs[1]["time"] - reqs[0]["time"], 0.9)
        acts = [json.loads(q["body"])["event_action"] for q in reqs]
        self.assertEqual(acts, ["trigger", "trigger", "resolve", "resolve",
                                "resolve"])
        self.assertEqual(self.cli("--dead-letters", "oncall").stdout, "")

    def test_4xx_is_dead_lettered_without_the_secret(self):
        self.outputs("""
slack "ops" { webhook_url = "%(u)s/slack/services/T0/B0/revoked-secret" }
pagerduty "oncall" { routing_key = "%(pd)s" base_url = "%(u)s/pagerduty"
                     events = {"alert", "resolve", "escalate"} }
""")
        self.plan("/pagerduty/", after=0, status=400, count=1)
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the refusals", lambda: self.received("/slack/", False)
                  and self.received("/pagerduty/", False))
        time.sleep(1.5)
        rc, err = self.stop()
        self.assertEqual(rc, 0, err)
        # Tried once each: a 4xx is not retried.
        self.assertEqual([q["status"] for q in
                          self.received("/slack/", False)], [404])
        self.assertEqual([q["status"] for q in
                          self.received("/pagerduty/", False)], [400])
        p = self.cli("--dead-letters", "ops")
        self.assertEqual(p.returncode, 0, p.stderr)
        dead = [json.loads(line) for line in p.stdout.splitlines()]
        self.assertEqual(len(dead), 1)
        self.assertEqual(dead[0]["reason"], "HTTP 404: no_service")
        self.assertEqual(dead[0]["record"]["dedup_key"],
                         "outpost/stripe/health")
        self.assertNotIn("revoked-secret", p.stdout + err)
        dead = [json.loads(line) for line in
                self.cli("--dead-letters", "oncall").stdout.splitlines()]
        self.assertEqual(len(dead), 1)
        self.assertIn("HTTP 400", dead[0]["reason"])
        self.assertNotIn(PD_KEY, err)


class BurstTest(NotifyBase):
    checks = "".join(
        'http "svc%d" { url = "%%(u)s/status/200" }\n' % i
        for i in range(8))

    def test_failure_mid_burst_sends_nothing_twice(self):
        rec = self.w.file("records.jsonl")
        self.outputs("""
webhook "hook" { url = "%(u)s/hooks/x" retry_initial = "300ms"
                 retry_max = "300ms" flush_interval = "3s" }
jsonl "records" { path = "RECORDS" flush_interval = "20ms" }
""".replace("RECORDS", rec))
        # The receiver is down until all 8 alerts wait in one queue...
        self.api.fault("/hooks/x", status=503)
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("8 alerts", lambda: sum(
            1 for r in read_jsonl(rec) if r.get("kind") == "alert") == 8)
        # ...then takes 3 of the batch, fails the 4th, takes the rest.
        self.plan("/hooks/x", after=3, status=503, count=1)
        self.api.clear("/hooks/x")
        self.wait("8 accepted", lambda: len(self.received("/hooks/x")) >= 8)
        time.sleep(1.0)
        self.stop()
        self.assertEqual([q["status"] for q in
                          self.received("/hooks/x", False)],
                         [200, 200, 200, 503, 200, 200, 200, 200, 200])
        keys = [json.loads(q["body"])["event"]["dedup_key"]
                for q in self.received("/hooks/x")]
        self.assertEqual(sorted(keys), sorted(
            "outpost/svc%d/health" % i for i in range(8)))

    def test_over_the_rate_limit_one_summary(self):
        self.outputs("""
slack "ops" { webhook_url = "%(u)s%(slack)s" rate_limit = "2/1m"
              flush_interval = "3s" }
webhook "hook" { url = "%(u)s/hooks/x" rate_limit = "2/1m"
                 flush_interval = "3s" summary_max = 3 }
""")
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the summaries", lambda: len(self.received("/slack/")) == 2
                  and len(self.received("/hooks/x")) == 2)
        time.sleep(1.5)
        rc, err = self.stop()
        # 8 alerts, room for 2 messages a minute: one alert, then one
        # summary of the 7 others; nothing more.
        slack = self.bodies("/slack/")
        self.assertEqual(len(slack), 2, slack)
        self.assertRegex(slack[0]["attachments"][0]["blocks"][0]["text"]
                         ["text"], r"^\[ERROR\] svc\d is down$")
        self.assertRegex(slack[1]["text"],
                         r"^7 notifications over the rate limit \(2/1m\), "
                         r"grouped: 7 alerts, 0 resolves: svc\d down, ")
        self.assertEqual(slack[1]["attachments"][0]["blocks"][0]["text"]
                         ["text"], "[SUMMARY] rate limit reached")
        hook = self.bodies("/hooks/x")
        self.assertEqual(len(hook), 2, hook)
        self.assertEqual(hook[1]["schema"], "outpost.summary/1")
        self.assertEqual(hook[1]["count"], 7)
        self.assertEqual(len(hook[1]["events"]), 3)
        keys = [hook[0]["event"]["dedup_key"]] + hook[1]["dedup_keys"]
        self.assertEqual(sorted(keys), sorted(
            "outpost/svc%d/health" % i for i in range(8)))
        self.assertIn("7 events sent as one summary", err)

    def test_restart_with_spilled_notifications_sends_each_once(self):
        self.outputs("""
webhook "hook" { url = "%(u)s/hooks/x" retry_initial = "50ms"
                 retry_max = "100ms" spill_after = "0s" }
""")
        self.api.fault("/hooks/x", status=503)
        self.start()
        time.sleep(0.5)
        self.go_down()
        spill = os.path.join(self.w.state, "queue", "webhook.hook")
        self.wait("the spill", lambda: os.path.isdir(spill)
                  and os.listdir(spill))
        time.sleep(1.0)
        self.stop(signal.SIGKILL)
        self.assertEqual(self.received("/hooks/x", False), [])
        self.api.clear("/hooks/x")
        self.start()
        self.wait("8 alerts", lambda: len(self.received("/hooks/x")) >= 8)
        time.sleep(1.0)
        self.stop()
        keys = [json.loads(q["body"])["event"]["dedup_key"]
                for q in self.received("/hooks/x")]
        self.assertEqual(sorted(keys), sorted(
            "outpost/svc%d/health" % i for i in range(8)))


class EscalationTest(NotifyBase):
    policy = """critical = {"ops"} high = {"ops"}
                            critical_escalate = {"oncall"}
                            critical_escalate_after = "1500ms" """

    def test_escalation_reaches_pagerduty_after_the_delay(self):
        self.outputs("""
slack "ops" { webhook_url = "%(u)s%(slack)s" }
pagerduty "oncall" { routing_key = "%(pd)s" base_url = "%(u)s/pagerduty" }
""")
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the alert in Slack", lambda: self.received("/slack/"))
        self.wait("the escalation", lambda: self.received("/pagerduty/"))
        # escalated 1.5 s after the alert went out (ticks are 1 s apart)
        self.assertGreater(self.received("/pagerduty/")[0]["time"]
                           - self.received("/slack/")[0]["time"], 1.4)
        self.api.clear()
        self.wait("the resolve in both", lambda: len(
            self.received("/pagerduty/")) == 2 and len(
            self.received("/slack/")) == 2)
        self.stop()
        trig, res = self.bodies("/pagerduty/")
        self.assertEqual(trig["event_action"], "trigger")
        self.assertEqual(trig["dedup_key"], "outpost/stripe/health")
        self.assertEqual(trig["payload"]["custom_details"]["action"],
                         "escalate")
        self.assertRegex(trig["payload"]["summary"],
                         r"^stripe: critical alert unacknowledged for ")
        self.assertEqual(res["event_action"], "resolve")
        self.assertEqual(len(self.bodies("/slack/")), 2)


if __name__ == "__main__":
    unittest.main()

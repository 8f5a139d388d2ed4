"""A notifier's fallback end to end: Slack (fakeapi) answers 503 for
longer than fallback_after, and the alert reaches the fallback, an email
output, at a real SMTP receiver, marked with the channel that failed;
once Slack answers again it gets the alert it missed (the fallback is
"also", never "instead") and the next event goes to Slack only. Nothing
is sent twice to either. And -t: a fallback that names no output, a
non-notifier, itself, a cycle, or one set on a non-notifier, each at the
option's line."""
import email
import email.policy
import os
import re
import signal
import time
import unittest

from test_notify_channels import OPEN_MSG, SLACK_PATH
from test_notify_email import EmailBase


class FallbackTest(EmailBase):
    policy = """critical = {"ops"} high = {"ops"}"""

    def setUp(self):
        super().setUp()
        self.w.write_dropin("90-notify.conf", """
slack "ops" { webhook_url = "%s%s" retry_initial = "100ms"
              retry_max = "300ms"
              fallback = "mail" fallback_after = "1500ms" }
email "mail" { smtp_url = "%s" from = "outpost@example.com"
               to = {"oncall@example.com"} }
""" % (self.u, SLACK_PATH, self.smtp.url))

    def test_slack_down_longer_than_fallback_after_then_back(self):
        self.api.fault(SLACK_PATH, status=503)
        self.start()
        time.sleep(0.5)
        t0 = time.time()
        self.go_down()
        self.wait("the fallback's mail", lambda: self.smtp.messages())
        took = time.time() - t0
        # the alert (after 3 checks 100 ms apart) then 1.5 s of failures
        self.assertGreater(took, 1.5)
        time.sleep(1)
        self.assertEqual(len(self.smtp.messages()), 1)
        self.assertEqual(self.received("/slack/"), [])
        msg = email.message_from_string(self.smtp.messages()[0]["data"],
                                        policy=email.policy.default)
        self.assertEqual(str(msg["Subject"]), "[CRITICAL] stripe is down "
                         "(via fallback: slack:ops is failing)")
        self.assertEqual(msg["X-Outpost-Dedup-Key"], "outpost/stripe/health")
        text = msg.get_body(("plain",)).get_content()
        self.assertTrue(text.startswith(
            "[via fallback: slack:ops is failing] " + OPEN_MSG), text)

        # Slack answers again: it gets the alert it missed, once.
        self.api.clear(SLACK_PATH)
        self.wait("the alert in Slack", lambda: self.received("/slack/"))
        # The next event (the resolve) goes to Slack only.
        self.api.clear("/status/200")
        self.wait("the resolve in Slack",
                  lambda: len(self.received("/slack/")) == 2)
        time.sleep(1)
        rc, err = self.stop()
        self.assertEqual(rc, 0, err)
        bodies = self.bodies("/slack/")
        self.assertEqual([b["text"] for b in bodies][0], OPEN_MSG)
        self.assertIn("stripe", bodies[1]["text"])
        self.assertEqual(len(self.received("/slack/")), 2)
        self.assertEqual(len(self.smtp.messages()), 1)
        self.assertIn("events also go to the fallback output email:mail",
                      err)
        self.assertIn("events no longer go to the fallback", err)

    def test_restart_during_the_failure_copies_nothing_twice(self):
        self.w.write_dropin("90-notify.conf", """
slack "ops" { webhook_url = "%s%s" retry_initial = "100ms"
              retry_max = "300ms" spill_after = "0s"
              fallback = "mail" fallback_after = "1500ms" }
email "mail" { smtp_url = "%s" from = "outpost@example.com"
               to = {"oncall@example.com"} }
""" % (self.u, SLACK_PATH, self.smtp.url))
        self.api.fault(SLACK_PATH, status=503)
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the fallback's mail", lambda: self.smtp.messages())
        saved = os.path.join(self.w.state, "slack", "ops", "fallback-copied")
        self.assertTrue(os.path.exists(saved))
        time.sleep(1)
        self.stop(signal.SIGKILL)
        # Slack still failing: after fallback_after again, the spilled
        # alert is not mailed a second time.
        self.start()
        time.sleep(4)
        self.assertEqual(len(self.smtp.messages()), 1)
        self.api.clear(SLACK_PATH)
        self.wait("the alert in Slack", lambda: self.received("/slack/"))
        self.wait("the key forgotten", lambda: not os.path.exists(saved))
        rc, err = self.stop()
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(self.received("/slack/")), 1)
        self.assertEqual(len(self.smtp.messages()), 1)

    def test_short_failure_does_not_reach_the_fallback(self):
        # 503 twice, well inside fallback_after: Slack only.
        self.plan("/slack/", after=0, status=503, count=2)
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the alert in Slack", lambda: self.received("/slack/"))
        time.sleep(2)
        self.stop()
        self.assertEqual(len(self.received("/slack/")), 1)
        self.assertEqual(self.smtp.messages(), [])


class FallbackCheckTest(EmailBase):
    def check(self, text, want):
        self.w.write_dropin("90-notify.conf", text % {
            "u": self.u, "slack": SLACK_PATH, "smtp": self.smtp.url})
        p = self.cli("-t")
        self.assertNotEqual(p.returncode, 0, text)
        # the option's own line
        line = [i + 1 for i, l in enumerate(text.split("\n"))
                if "fallback =" in l][0]
        self.assertIn("90-notify.conf:%d: " % line, p.stderr)
        self.assertIn(want, p.stderr)

    def test_mistakes_at_t(self):
        mail = ('email "mail" { smtp_url = "%(smtp)s" '
                'from = "o@example.com" to = {"a@example.com"} }\n')
        slack = 'slack "ops" { webhook_url = "%(u)s%(slack)s"\n'
        self.check(slack + '  fallback = "nosuch" }\n',
                   "no output instance \"nosuch\"")
        self.check(slack + '  fallback = "ops" }\n',
                   "an output cannot be its own fallback")
        self.check(slack + '  fallback = "rec" }\n'
                   'jsonl "rec" { path = "/tmp/x.jsonl" }\n',
                   'jsonl "rec" is not a notifier')
        self.check('jsonl "rec" { path = "/tmp/x.jsonl"\n'
                   '  fallback = "mail" }\n' + mail,
                   "only a notifier")
        self.check(slack + '  fallback = "mail" }\n'
                   'email "mail" { smtp_url = "%(smtp)s" '
                   'from = "o@example.com" to = {"a@example.com"} '
                   'fallback = "ops" }\n',
                   "fallbacks go round in a cycle back to it")


if __name__ == "__main__":
    unittest.main()

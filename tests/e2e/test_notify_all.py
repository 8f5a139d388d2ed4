"""Every channel at once, end to end: fakeapi makes stripe go down and
one Slack message, one email (at a real SMTP receiver), one SMS and one
PagerDuty trigger arrive; it recovers and the resolves arrive, one each.
And escalation by severity: a high alert goes to email and Slack, and
to SMS only once high_escalate_after has passed with nobody
acknowledging it; acknowledged through the HTTP API before the delay,
PagerDuty gets "acknowledge" with the alert's dedup_key, Slack one line,
and no SMS comes (plugins/alert/tests/test_alert_channels.c tests the
same in-process, through the alert filter's control)."""
import email
import email.policy
import json
import os
import time
import unittest
import urllib.parse

from apiclient import Api, free_port
from test_notify_channels import OPEN_MSG, PD_KEY, SLACK_PATH
from test_notify_email import EmailBase

SID = "AC00000000000000000000000000000000"
TWILIO = "/twilio/2010-04-01/Accounts/%s/Messages.json" % SID


class AllBase(EmailBase):
    def setUp(self):
        super().setUp()
        os.environ["TWILIO_SID"] = SID
        os.environ["TWILIO_TOKEN"] = "outpost_twilio_token"
        self.w.write_dropin("90-notify.conf", """
slack "ops" { webhook_url = "%(u)s%(slack)s" }
email "mail" { smtp_url = "%(smtp)s" from = "outpost@example.com"
               to = {"oncall@example.com"} }
sms "phone" { account_sid_env = "TWILIO_SID" auth_token_env = "TWILIO_TOKEN"
              from = "+15550000000" to = {"+15551111111"}
              base_url = "%(u)s/twilio" }
pagerduty "pd" { routing_key = "%(pd)s" base_url = "%(u)s/pagerduty" }
""" % {"u": self.u, "slack": SLACK_PATH, "smtp": self.smtp.url,
       "pd": PD_KEY})

    def texts(self):
        return [urllib.parse.parse_qs(q["body"])["Body"][0]
                for q in self.received(TWILIO)]

    def subjects(self):
        return [str(email.message_from_string(
            m["data"], policy=email.policy.default)["Subject"])
            for m in self.smtp.messages()]


class AllChannelsTest(AllBase):
    def test_one_message_per_channel_then_one_resolve_each(self):
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the four alerts", lambda: self.received("/slack/")
                  and self.smtp.messages() and self.received(TWILIO)
                  and self.received("/pagerduty/"))
        time.sleep(1)
        self.assertEqual([b["text"] for b in self.bodies("/slack/")],
                         [OPEN_MSG])
        self.assertEqual(self.subjects(), ["[CRITICAL] stripe is down"])
        self.assertEqual(self.texts(), [OPEN_MSG])
        self.assertEqual([b["event_action"]
                          for b in self.bodies("/pagerduty/")], ["trigger"])
        self.api.clear()
        self.wait("the four resolves", lambda: len(
            self.received("/slack/")) == 2 and len(
            self.smtp.messages()) == 2 and len(
            self.received(TWILIO)) == 2 and len(
            self.received("/pagerduty/")) == 2)
        time.sleep(1)
        rc, err = self.stop()
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(self.bodies("/slack/")), 2)
        self.assertEqual(self.subjects(), ["[CRITICAL] stripe is down",
                                           "[RESOLVED] stripe recovered"])
        self.assertEqual(len(self.texts()), 2)
        self.assertIn("stripe", self.texts()[1])
        pd = self.bodies("/pagerduty/")
        self.assertEqual([b["event_action"] for b in pd],
                         ["trigger", "resolve"])
        self.assertEqual({b["dedup_key"] for b in pd},
                         {"outpost/stripe/health"})


class TestNotifyEveryChannelTest(AllBase):
    def test_test_notify_each_channel(self):
        with open(os.path.join(self.w.confd, "90-notify.conf"), "a") as f:
            f.write("""
webhook "hook" { url = "%(u)s/hooks/generic" }
webhook "discord" { url = "%(u)s/discord/api/webhooks/1/tok"
                    format = "discord" }
webhook "am" { url = "%(u)s/hooks/am" format = "alertmanager" }
""" % {"u": self.u})
        for name in ("ops", "mail", "phone", "pd", "hook", "discord", "am"):
            p = self.cli("--test-notify", name)
            self.assertEqual(p.returncode, 0, name + ": " + p.stderr)
            self.assertIn(": the test message was accepted", p.stderr)
        self.assertTrue(self.subjects()[0].startswith(
            "[TEST] outpost test notification"), self.subjects())
        self.assertTrue(self.texts()[0].startswith(
            "[TEST] outpost test notification"), self.texts())
        self.assertEqual(self.bodies("/pagerduty/")[0]["event_action"],
                         "trigger")
        self.assertIn("[TEST]", json.dumps(self.bodies("/hooks/generic")))
        self.assertIn("[TEST]", json.dumps(self.bodies("/discord/")))
        self.assertIn("[TEST]", json.dumps(self.bodies("/hooks/am")))
        # a channel whose service refuses says so, exit 1
        self.smtp.plan(550, 1)
        p = self.cli("--test-notify", "mail")
        self.assertEqual(p.returncode, 1)
        self.assertIn("refused", p.stderr)
        self.assertIn("SMTP 550", p.stderr)


class EscalationToSMSTest(AllBase):
    # no tier: stripe's alert is high
    checks = """
http "stripe" { url = "%(u)s/status/200" }
"""
    policy = """high = {"mail", "ops"} high_escalate = {"phone"}
                            high_escalate_after = "2s" """

    def test_sms_only_after_the_delay_unacknowledged(self):
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the alert in Slack and email", lambda: self.received(
            "/slack/") and self.smtp.messages())
        self.assertEqual(self.received(TWILIO), [])
        self.assertEqual(self.received("/pagerduty/"), [])
        self.wait("the SMS", lambda: self.received(TWILIO))
        sms = self.received(TWILIO)
        slack = self.received("/slack/")
        # 2 s after the alert went out (the filter ticks once a second)
        self.assertGreater(sms[0]["time"] - slack[0]["time"], 1.9)
        self.assertRegex(self.texts()[0], r"^stripe: high alert "
                         r"unacknowledged for \ds, escalating to phone\. ")
        time.sleep(1.5)
        self.assertEqual(len(self.received(TWILIO)), 1)
        self.assertEqual(self.subjects(), ["[ERROR] stripe is down"])
        self.assertEqual(len(self.received("/slack/")), 1)
        # the resolve goes to all three that were told
        self.api.clear()
        self.wait("the resolves", lambda: len(self.received(TWILIO)) == 2
                  and len(self.smtp.messages()) == 2
                  and len(self.received("/slack/")) == 2)
        rc, err = self.stop()
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.received("/pagerduty/"), [])



class AckThroughTheApiTest(AllBase):
    checks = EscalationToSMSTest.checks
    policy = """high = {"mail", "ops", "pd"} high_escalate = {"phone"}
                            high_escalate_after = "3s" """

    def test_acknowledged_before_the_delay_no_sms(self):
        token = self.w.file("api.token")
        with open(token, "w") as f:
            f.write("t0ken-notify\n")
        port = free_port()
        self.conf = self.w.write_main(
            'api { listen = "127.0.0.1:%d" token_file = "%s" }\n'
            % (port, token), interval="100ms", timeout="1s")
        api = Api(port, token="t0ken-notify")
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the alert in Slack, email and PagerDuty", lambda:
                  self.received("/slack/") and self.smtp.messages()
                  and self.received("/pagerduty/"))
        status, _, body = api.post(
            "/api/v1/alerts/outpost%2Fstripe%2Fhealth/acknowledge",
            body={"by": "ann"})
        self.assertEqual(status, 200, body)
        self.wait("the acknowledge in PagerDuty", lambda: len(
            self.received("/pagerduty/")) == 2)
        self.wait("the line in Slack", lambda: len(
            self.received("/slack/")) == 2)
        time.sleep(4)           # past high_escalate_after
        self.assertEqual(self.received(TWILIO), [])
        self.api.clear()
        self.wait("the resolves", lambda: len(self.received(
            "/pagerduty/")) == 3 and len(self.smtp.messages()) == 2)
        rc, err = self.stop()
        self.assertEqual(rc, 0, err)
        trig, ack, res = self.bodies("/pagerduty/")
        self.assertEqual(ack, {"routing_key": PD_KEY,
                               "event_action": "acknowledge",
                               "dedup_key": "outpost/stripe/health"})
        self.assertEqual([trig["event_action"], res["event_action"]],
                         ["trigger", "resolve"])
        self.assertEqual(self.bodies("/slack/")[1],
                         {"text": "stripe: health alert acknowledged by ann"})
        # email sends nothing for an acknowledgement; no SMS ever
        self.assertEqual(len(self.smtp.messages()), 2)
        self.assertEqual(self.received(TWILIO), [])


if __name__ == "__main__":
    unittest.main()

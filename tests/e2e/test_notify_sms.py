"""The sms notifier end to end against fakeapi's Twilio Messages API
(tests/fakeapi/vendor_twilio.c): the exact form fields and basic auth of
each recipient's request, texts cut to max_segments (GSM-7 and UCS-2),
a 400 21211 dead-lettered while the other recipient still gets the
alert, a 429 retried after its Retry-After, and a failure for recipient
2 that never sends recipient 1 the same alert twice. The segment
counter itself: plugins/sms/tests/test_sms_segments.c."""
import base64
import json
import os
import re
import time
import unittest
import urllib.parse

from test_notify_channels import OPEN_MSG, NotifyBase

SID = "AC00000000000000000000000000000000"
TOKEN = "outpost_twilio_token"
PATH = "/twilio/2010-04-01/Accounts/%s/Messages.json" % SID
R1, R2 = "+15551111111", "+15552222222"


class SMSBase(NotifyBase):
    def setUp(self):
        super().setUp()
        os.environ["TWILIO_SID"] = SID
        os.environ["TWILIO_TOKEN"] = TOKEN

    def sms_out(self, name="oncall", to=(R1, R2), extra=""):
        return """
sms "%s" { provider = "twilio" account_sid_env = "TWILIO_SID"
           auth_token_env = "TWILIO_TOKEN" from = "+15550000000"
           to = {%s} base_url = "%s/twilio" %s }
""" % (name, ", ".join('"%s"' % t for t in to), self.u, extra)

    def forms(self, accepted=True):
        out = []
        for q in self.received(PATH, accepted):
            f = urllib.parse.parse_qs(q["body"], keep_blank_values=True,
                                      strict_parsing=True)
            out.append(({k: v[0] for k, v in f.items()}, q))
        return out


class SMSTest(SMSBase):
    def test_alert_and_resolve_one_request_per_recipient(self):
        self.w.write_dropin("90-notify.conf", self.sms_out())
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the alert to both", lambda: len(self.forms()) >= 2)
        self.api.clear("/status/200")
        self.wait("the resolve to both", lambda: len(self.forms()) >= 4)
        time.sleep(0.5)
        rc, err = self.stop()
        self.assertEqual(rc, 0, err)
        forms = self.forms()
        self.assertEqual(len(forms), 4)
        auth = "Basic " + base64.b64encode(
            ("%s:%s" % (SID, TOKEN)).encode()).decode()
        for f, q in forms:
            self.assertEqual(q["method"], "POST")
            self.assertEqual(q["headers"]["authorization"], auth)
            self.assertEqual(q["headers"]["content-type"],
                             "application/x-www-form-urlencoded")
        self.assertEqual([f for f, _ in forms[:2]], [
            {"To": R1, "From": "+15550000000", "Body": OPEN_MSG},
            {"To": R2, "From": "+15550000000", "Body": OPEN_MSG}])
        self.assertEqual([f["To"] for f, _ in forms[2:]], [R1, R2])
        self.assertIn("stripe", forms[2][0]["Body"])
        self.assertNotIn(TOKEN, err)

    def test_text_cut_to_segments_gsm7_and_ucs2(self):
        self.w.write_dropin("90-notify.conf",
                            self.sms_out("one", (R1,),
                                         'template = "{message} {message}"')
                            + self.sms_out("two", ("+15553333333",),
                                           'template = "{message} {message}'
                                           ' {message}" max_segments = 2')
                            + self.sms_out("ucs", ("+15554444444",),
                                           'template = "⚠ {message}"')
                            + self.sms_out("link", ("+15555555555",),
                                           'template = "{message} {message}"'
                                           ' dashboard_url = "https://outpost'
                                           '.example/i/{integration}"'))
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("four messages", lambda: len(self.forms()) >= 4)
        self.stop()
        body = {f["To"]: f["Body"] for f, _ in self.forms()}
        both = OPEN_MSG + " " + OPEN_MSG
        # GSM-7: 157 characters and "...", one segment of 160
        self.assertEqual(body[R1], both[:157] + "...")
        # two segments: 2 x 153
        self.assertEqual(body["+15553333333"],
                         (both + " " + OPEN_MSG)[:303] + "...")
        # "⚠" is not GSM: UCS-2, 70 units in one segment
        self.assertEqual(body["+15554444444"],
                         ("⚠ " + OPEN_MSG)[:67] + "...")
        # the link is kept whole, the line cut before it: 124 + 4 + 32
        self.assertEqual(body["+15555555555"], both[:124] + "... "
                         "https://outpost.example/i/stripe")

    def test_400_dead_lettered_other_recipient_still_told(self):
        self.w.write_dropin("90-notify.conf",
                            self.sms_out(to=("+15005550001", R2),
                                         extra='events = {"alert"}'))
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("both tried", lambda: len(self.forms(False)) >= 2)
        time.sleep(1.5)
        rc, err = self.stop()
        self.assertEqual(rc, 0, err)
        forms = self.forms(False)
        self.assertEqual([(f["To"], q["status"]) for f, q in forms],
                         [("+15005550001", 400), (R2, 201)])
        p = self.cli("--dead-letters", "oncall")
        self.assertEqual(p.returncode, 0, p.stderr)
        dead = [json.loads(line) for line in p.stdout.splitlines()]
        self.assertEqual(len(dead), 1)
        self.assertIn("to +15005550001: HTTP 400", dead[0]["reason"])
        self.assertIn('"code":21211', dead[0]["reason"])
        self.assertEqual(dead[0]["record"]["dedup_key"],
                         "outpost/stripe/health")
        self.assertNotIn(TOKEN, p.stdout + err)

    def test_429_for_recipient_2_retried_recipient_1_told_once(self):
        self.w.write_dropin("90-notify.conf",
                            self.sms_out(extra='events = {"alert"}'))
        self.plan(PATH, after=1, status=429, count=1, retry_after=1)
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the retry", lambda: len(self.forms(False)) >= 3)
        time.sleep(1.0)
        self.stop()
        forms = self.forms(False)
        self.assertEqual([(f["To"], q["status"]) for f, q in forms],
                         [(R1, 201), (R2, 429), (R2, 201)])
        # Retry-After: 1 honoured
        self.assertGreater(forms[2][1]["time"] - forms[1][1]["time"], 0.9)

    def test_messaging_service_sid_instead_of_from(self):
        mg = "MG0123456789abcdef0123456789abcdef"
        self.w.write_dropin("90-notify.conf", self.sms_out(
            "one", (R1,)).replace('from = "+15550000000"',
                                  'messaging_service_sid = "%s"' % mg))
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the alert", lambda: len(self.forms()) >= 1)
        time.sleep(0.3)
        self.stop()
        (form, q), = self.forms()
        # the exact form body, in this order
        self.assertEqual(q["body"], "To=%2B15551111111&MessagingServiceSid="
                         + mg + "&Body=" + urllib.parse.quote(OPEN_MSG,
                                                              safe=""))
        self.assertEqual(form, {"To": R1, "MessagingServiceSid": mg,
                                "Body": OPEN_MSG})

    def test_check_catches_mistakes(self):
        self.w.write_dropin("90-notify.conf",
                            self.sms_out(to=("5551111111",)))
        p = self.cli("-t")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('to: "5551111111" is not an E.164 number', p.stderr)
        # both senders, neither, a bad service SID; to missing
        both = self.sms_out().replace(
            'from = "+15550000000"', 'from = "+15550000000" '
            'messaging_service_sid = "MG0123456789abcdef0123456789abcdef"')
        for text, want in [
                (both, "from: set one of from and messaging_service_sid, "
                       "not both"),
                (self.sms_out().replace('from = "+15550000000"', ''),
                 "not neither"),
                (self.sms_out().replace('from = "+15550000000"',
                                        'messaging_service_sid = "MG1"'),
                 'messaging_service_sid: "MG1" is not MG and 32 hex'),
                (self.sms_out().replace('to = {"+15551111111", '
                                        '"+15552222222"}', ''),
                 "missing required option 'to' in sms \"oncall\"")]:
            self.w.write_dropin("90-notify.conf", text)
            p = self.cli("-t")
            self.assertNotEqual(p.returncode, 0, text)
            self.assertRegex(p.stderr, r"90-notify\.conf:\d+: .*"
                             + re.escape(want))


if __name__ == "__main__":
    unittest.main()

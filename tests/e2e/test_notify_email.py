"""The email notifier end to end: fakeapi makes stripe go down, the real
daemon's alert filter opens an alert, and a real SMTP receiver
(tests/servers/smtp_sink.py, aiosmtpd) stores what reached it. The tests
assert the exact message (envelope, headers, the MIME parts and their
text, the RFC 2047 subject), SMTP AUTH, the retry of a 451, the dead
letter of a 550 (tried once), and no duplicate after a restart with
spilled notifications."""
import email
import email.header
import email.policy
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

from harness import wait_for
from test_notify_channels import OPEN_MSG, NotifyBase

SINK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                    "servers", "smtp_sink.py")
# aiosmtpd is the Debian package: run it with Debian's python even when
# the suite runs under another one.
PY = "/usr/bin/python3"


class SMTPSink:
    def __init__(self, tls=False, smtps=False):
        self.tmp = tempfile.TemporaryDirectory(prefix="outpost-smtp-")
        self.dir = self.tmp.name
        args = []
        if tls:
            # a certificate for 127.0.0.1, made now: nothing downloads
            self.cert = os.path.join(self.dir, "cert.pem")
            key = os.path.join(self.dir, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                            "-nodes", "-keyout", key, "-out", self.cert,
                            "-days", "1", "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1"],
                           check=True, capture_output=True)
            args = ["--tls-cert", self.cert, "--tls-key", key]
            if smtps:
                args.append("--smtps")
        self.proc = subprocess.Popen([PY, SINK, self.dir, *args],
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        self.port = int(line.split()[1])
        self.url = "%s://127.0.0.1:%d" % ("smtps" if smtps else "smtp",
                                          self.port)

    def plan(self, code, count):
        with open(os.path.join(self.dir, "plan"), "w") as f:
            f.write("%d %d" % (code, count))

    def answers(self):
        try:
            with open(os.path.join(self.dir, "answers")) as f:
                return f.read().split()
        except OSError:
            return []

    def messages(self):
        out = []
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".json") and name[0].isdigit():
                with open(os.path.join(self.dir, name)) as f:
                    out.append(json.load(f))
        return out

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.tmp.cleanup()


class EmailBase(NotifyBase):
    def setUp(self):
        super().setUp()
        self.smtp = SMTPSink()
        os.environ["SMTP_USER"] = "smtp-user"
        os.environ["SMTP_PASSWORD"] = "smtp-pass"

    def tearDown(self):
        super().tearDown()
        self.smtp.stop()

    def email_out(self, extra=""):
        self.w.write_dropin("90-notify.conf", """
email "ops" { smtp_url = "%s" from = "outpost@example.com"
              to = {"oncall@example.com", "sre@example.com"}
              cc = {"lead@example.com"}
              username_env = "SMTP_USER" password_env = "SMTP_PASSWORD"
              dashboard_url = "https://outpost.example/i/{integration}"
              %s }
""" % (self.smtp.url, extra))


def parts(msg):
    return [(p.get_content_type(), p.get_content())
            for p in msg.iter_parts()]


class EmailTest(EmailBase):
    def test_alert_and_resolve_exact_messages(self):
        self.email_out('subject_prefix = "[prod ✓] "')
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the alert mail", lambda: self.smtp.messages())
        self.api.clear()
        self.wait("the resolve mail", lambda: len(self.smtp.messages()) == 2)
        rc, err = self.stop()
        self.assertEqual(rc, 0, err)
        alert, resolve = self.smtp.messages()
        self.assertEqual(alert["mail_from"], "outpost@example.com")
        self.assertEqual(alert["rcpt_tos"], ["oncall@example.com",
                                             "sre@example.com",
                                             "lead@example.com"])
        self.assertEqual(alert["auth"], "smtp-user")
        raw = alert["data"]
        # The subject is not ASCII: RFC 2047 encoded words, UTF-8 "B".
        self.assertRegex(raw, r"\nSubject: =\?UTF-8\?B\?[A-Za-z0-9+/=]+\?="
                         r"(\r?\n =\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=)*\r?\n")
        msg = email.message_from_string(raw, policy=email.policy.default)
        names = [k for k in msg.keys()]
        self.assertEqual(names, ["Date", "Message-ID", "From", "To", "Cc",
                                 "Subject", "X-Outpost-Dedup-Key",
                                 "MIME-Version", "Content-Type"])
        self.assertEqual(str(msg["Subject"]),
                         "[prod ✓] [CRITICAL] stripe is down")
        self.assertEqual(msg["From"], "outpost@example.com")
        self.assertEqual(msg["To"], "oncall@example.com, sre@example.com")
        self.assertEqual(msg["Cc"], "lead@example.com")
        self.assertEqual(msg["X-Outpost-Dedup-Key"], "outpost/stripe/health")
        self.assertRegex(msg["Date"], r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), "
                         r"\d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000$")
        self.assertIsNotNone(msg["Date"].datetime)
        self.assertRegex(msg["Message-ID"],
                         r"^<outpost\.\d+\.[0-9a-f]{16}@example\.com>$")
        self.assertNotEqual(msg["Message-ID"],
                            email.message_from_string(
                                resolve["data"],
                                policy=email.policy.default)["Message-ID"])
        self.assertEqual(msg.get_content_type(), "multipart/alternative")
        (t1, text), (t2, html) = parts(msg)
        self.assertEqual((t1, t2), ("text/plain", "text/html"))
        for p in msg.iter_parts():
            self.assertEqual(p.get_content_charset(), "utf-8")
        # canonical text is CRLF-ended lines (RFC 2046)
        self.assertTrue(text.endswith("\r\n"))
        text = text.replace("\r\n", "\n")
        text = re.sub(r"Response time \(ms\): [\d.]+",
                      "Response time (ms): <x>", text)
        text = re.sub(r"Time: \S+", "Time: <x>", text)
        self.assertEqual(text, (
            OPEN_MSG + "\n\n"
            "Integration: stripe\n"
            "Status: down\n"
            "Priority: critical\n"
            "Response time (ms): <x>\n"
            "Consecutive failures: 3\n"
            "Occurrences: 3\n"
            "Last error: status: got 503, expected 2xx\n"
            "Failover: checkout traffic moved to paypal\n"
            "Time: <x>\n\n"
            "https://outpost.example/i/stripe\n\n"
            "-- \noutpost\n"))
        self.assertIn("<p>" + OPEN_MSG + "</p>", html)
        self.assertIn('<tr><th align="left">Status</th><td>down</td></tr>',
                      html)
        self.assertIn('<a href="https://outpost.example/i/stripe">', html)
        res = email.message_from_string(resolve["data"],
                                        policy=email.policy.default)
        self.assertEqual(str(res["Subject"]),
                         "[prod ✓] [RESOLVED] stripe recovered")
        self.assertNotIn("smtp-pass", err)

    def test_451_is_retried_550_is_dead_lettered(self):
        self.email_out('retry_initial = "50ms" retry_max = "200ms"')
        self.smtp.plan(451, 2)
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the alert after two 451", lambda: self.smtp.messages())
        self.assertEqual(self.smtp.answers()[:3], ["451", "451", "250"])
        self.assertEqual(len(self.smtp.messages()), 1)
        self.smtp.plan(550, 1)
        self.api.clear()
        self.wait("the refused resolve", lambda: "550" in
                  self.smtp.answers())
        time.sleep(1.0)
        rc, err = self.stop()
        self.assertEqual(rc, 0, err)
        # the 550 was tried once, not retried
        self.assertEqual(self.smtp.answers(), ["451", "451", "250", "550"])
        self.assertEqual(len(self.smtp.messages()), 1)
        p = self.cli("--dead-letters", "ops")
        self.assertEqual(p.returncode, 0, p.stderr)
        dead = [json.loads(line) for line in p.stdout.splitlines()]
        self.assertEqual(len(dead), 1)
        self.assertTrue(dead[0]["reason"].startswith("SMTP 550"),
                        dead[0]["reason"])
        self.assertEqual(dead[0]["record"]["kind"], "resolve")
        self.assertNotIn("smtp-pass", p.stdout + err)

    def test_restart_with_spilled_mail_sends_each_once(self):
        self.email_out('retry_initial = "50ms" retry_max = "100ms" '
                       'spill_after = "0s"')
        self.smtp.plan(451, 1000000)
        self.start()
        time.sleep(0.5)
        self.go_down()
        spill = os.path.join(self.w.state, "queue", "email.ops")
        self.wait("the spill", lambda: os.path.isdir(spill)
                  and os.listdir(spill))
        time.sleep(1.0)
        self.stop(signal.SIGKILL)
        self.assertEqual(self.smtp.messages(), [])
        self.smtp.plan(451, 0)
        self.start()
        self.wait("the alert", lambda: self.smtp.messages())
        time.sleep(1.5)
        self.stop()
        subjects = [email.message_from_string(m["data"])["Subject"]
                    for m in self.smtp.messages()]
        self.assertEqual(subjects, ["[CRITICAL] stripe is down"])

    def test_starttls_required_and_checked(self):
        self.smtp.stop()
        self.smtp = SMTPSink(tls=True)
        self.email_out('use_ssl = "all" ca_file = "%s"' % self.smtp.cert)
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the alert mail", lambda: self.smtp.messages())
        self.stop()
        m = self.smtp.messages()[0]
        self.assertTrue(m["tls"])
        self.assertEqual(m["auth"], "smtp-user")

    def test_smtps_tls_from_the_start(self):
        self.smtp.stop()
        self.smtp = SMTPSink(tls=True, smtps=True)
        self.email_out('ca_file = "%s"' % self.smtp.cert)
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the alert mail", lambda: self.smtp.messages())
        rc, err = self.stop()
        self.assertEqual(rc, 0, err)
        m = self.smtp.messages()[0]
        self.assertEqual(m["auth"], "smtp-user")
        self.assertIn("Subject: [CRITICAL] stripe is down", m["data"])

    def test_starttls_required_but_not_offered_is_retried(self):
        self.email_out('use_ssl = "all"')
        self.start()
        time.sleep(0.5)
        self.go_down()
        time.sleep(2.0)
        rc, err = self.stop()
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.smtp.messages(), [])
        self.assertIn("not accepted, retrying", err)
        self.assertEqual(self.cli("--dead-letters", "ops").stdout, "")

    def test_check_catches_mistakes(self):
        self.w.write_dropin("90-notify.conf", """
email "ops" { smtp_url = "http://x" from = "outpost@example.com"
              to = {"a@example.com"} }
""")
        p = self.cli("-t")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("smtp_url: not an smtp:// or smtps:// URL", p.stderr)
        self.w.write_dropin("90-notify.conf", """
email "ops" { smtp_url = "smtp://x" from = "outpost@example.com"
              to = {"not an address"} }
""")
        p = self.cli("-t")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('to: "not an address" is not an address', p.stderr)


class DigestTest(EmailBase):
    checks = "".join('http "svc%d" { url = "%%(u)s/status/200" }\n' % i
                     for i in range(5))

    def digest_out(self, extra=""):
        self.email_out('digest = true flush_interval = "3s" ' + extra)

    def lines(self, m):
        msg = email.message_from_string(m["data"],
                                        policy=email.policy.default)
        text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
        return str(msg["Subject"]), text.split("\n\n")[0].split("\n")

    def check_digest(self, m):
        subject, lines = self.lines(m)
        self.assertEqual(subject, "[DIGEST] 5 notifications: 5 alerts, "
                         "0 resolves, 0 escalations (worst: error)")
        self.assertRegex(lines[0], r"^5 notifications since \S+Z:$")
        self.assertEqual(len(lines), 6)
        got = sorted(re.sub(r"^\S+Z ", "", l) for l in lines[1:])
        self.assertEqual(got, [
            "[ERROR] svc%d is down: svc%d is down: 3 failed checks in a "
            "row (status: got 503, expected 2xx)" % (i, i)
            for i in range(5)])

    def test_five_alerts_one_mail_listing_five(self):
        self.digest_out()
        t0 = time.time()
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the digest", lambda: self.smtp.messages())
        # the interval opened with the first event the channel was given
        # (the health filter's first state change, at the start): nothing
        # was sent before 3 s
        self.assertGreater(time.time() - t0, 3.0)
        time.sleep(1.0)
        self.assertEqual(len(self.smtp.messages()), 1)
        self.check_digest(self.smtp.messages()[0])
        self.api.clear()
        self.wait("the resolves' digest",
                  lambda: len(self.smtp.messages()) == 2)
        rc, err = self.stop()
        self.assertEqual(rc, 0, err)
        subject, lines = self.lines(self.smtp.messages()[1])
        self.assertEqual(subject, "[DIGEST] 5 notifications: 0 alerts, "
                         "5 resolves, 0 escalations (worst: info)")
        self.assertEqual(len(lines), 6)

    def test_digest_not_accepted_survives_a_restart_sent_once(self):
        self.digest_out('retry_initial = "50ms" retry_max = "100ms" '
                        'spill_after = "0s"')
        self.smtp.plan(451, 1000000)
        self.start()
        time.sleep(0.5)
        self.go_down()
        self.wait("the digest refused", lambda: "451" in
                  self.smtp.answers())
        spill = os.path.join(self.w.state, "queue", "email.ops")
        self.wait("the spill", lambda: os.path.isdir(spill)
                  and os.listdir(spill))
        time.sleep(0.5)
        self.stop(signal.SIGKILL)
        self.assertEqual(self.smtp.messages(), [])
        self.smtp.plan(451, 0)
        self.api.clear()
        self.api.fault("/status/200", status=503)   # stays down: no resolve
        self.start()
        self.wait("the digest", lambda: self.smtp.messages())
        time.sleep(1.5)
        self.stop()
        self.assertEqual(len(self.smtp.messages()), 1)
        self.check_digest(self.smtp.messages()[0])


if __name__ == "__main__":
    unittest.main()

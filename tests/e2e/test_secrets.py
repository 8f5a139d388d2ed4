"""Secrets never leave the process: a vendor that echoes the request's
credentials in its error body (tests/fakeapi's body=echo fault), a key
sent in a query string, a password in a status_page URL - none of them may
reach the log (stderr), the jsonl records, or the events the filters
raise. And a server's CR/LF cannot forge a line in a text log."""
import base64
import os
import re
import unittest

from harness import (FakeAPITest, PLUGIN_DIR, read_jsonl, run_once,
                     start_daemon, stop_daemon, wait_for)

STRIPE_KEY = "sk_live_OutpostSecret4242"
GEMINI_KEY = "AIzaOutpost/Secret+Key=="     # escaped in the query string
URL_PASSWORD = "pw-Status-Secret-77"
ADYEN_KEY = "AQEoutpost-file-secret-9090"


class SecretsTest(FakeAPITest):
    def conf(self, text, log_format="json", interval="100ms"):
        body = ('interval = "%s"\ntimeout = "2s"\nplugin_dir = "%s"\n'
                'conf_dir = "%s"\nstate_dir = "%s"\nlog_format = "%s"\n'
                'log_level = "debug"\n' % (interval, PLUGIN_DIR, self.w.confd,
                                           self.w.state, log_format))
        path = self.w.file("outpost.conf")
        with open(path, "w") as f:
            f.write(body)
        self.w.write_dropin("10-in.conf", text)
        self.w.write_dropin("50-filters.conf",
                            'health "default" { }\n'
                            'circuit_breaker "default" { failure_threshold '
                            '= 3 open_for = "200ms" }\n'
                            'alert "default" { consecutive_failures = 2 }\n')
        self.w.write_dropin("90-out.conf",
                            'jsonl "out" { path = "%s" flush_interval = '
                            '"20ms" }\n' % self.out)
        return path

    def base(self, vendor):
        return "%s/%s" % (self.api.url, vendor)

    def assert_nowhere(self, secrets, stderr):
        with open(self.out) as f:
            jsonl = f.read()
        for s in secrets:
            self.assertNotIn(s, stderr)
            self.assertNotIn(s, jsonl)

    def test_echoed_credentials_reach_no_log_record_or_event(self):
        self.api.fault("/stripe/v1/balance", status=401, body="echo")
        self.api.fault("/adyen/v3/me", status=401, body="echo")
        key_file = self.w.file("adyen.key")
        with open(key_file, "w") as f:
            f.write(ADYEN_KEY + "\n")
        conf = self.conf(
            'payments "stripe" { provider = "stripe" base_url = "%s" '
            'secret_env = "T_STRIPE" }\n'
            'payments "adyen" { provider = "adyen" base_url = "%s" '
            'secret_file = "%s" }\n'
            % (self.base("stripe"), self.base("adyen"), key_file))
        env = dict(os.environ, T_STRIPE=STRIPE_KEY)
        proc = start_daemon(conf, env)
        try:
            def kinds():
                return {(r.get("integration"), r.get("kind"))
                        for r in read_jsonl(self.out)
                        if r["type"] == "event"}
            self.assertTrue(wait_for(lambda: {
                ("stripe", "state_change"), ("stripe", "alert"),
                ("stripe", "circuit"), ("adyen", "alert")} <= kinds()),
                kinds())
        finally:
            _, err = stop_daemon(proc)
        recs = read_jsonl(self.out)
        errors = [r["fields"]["error"] for r in recs
                  if r["type"] == "measurement"
                  and r["tags"]["integration"] == "stripe"]
        # the vendor's words are kept, the key is not
        self.assertIn("Invalid API Key provided: Authorization: Bearer "
                      "[redacted]", errors[0])
        events = [r for r in recs if r["type"] == "event"]
        self.assertTrue(any("[redacted]" in e["message"] for e in events))
        self.assertIn("[redacted]", err)
        self.assert_nowhere([STRIPE_KEY, ADYEN_KEY], err)

    def test_key_in_query_string_is_scrubbed(self):
        self.api.fault("/gemini/v1beta/models", status=401, body="echo")
        text = ('ai "gemini" { provider = "gemini" base_url = "%s" '
                'secret = "%s" key_in_query = true }\n'
                % (self.base("gemini"), GEMINI_KEY))
        conf = self.conf(text)
        rc, err = run_once(conf)
        self.assertEqual(rc, 0, err)
        f = [r for r in read_jsonl(self.out)
             if r["type"] == "measurement"][0]["fields"]
        self.assertIn("(query key=[redacted])", f["error"])
        self.assert_nowhere([GEMINI_KEY, "AIzaOutpost%2FSecret%2BKey%3D%3D"],
                            err)

    def test_password_in_a_status_page_url_is_scrubbed(self):
        page = "http://outpost:%s@127.0.0.1:%d/nowhere/summary.json" % (
            URL_PASSWORD, self.api.port)
        conf = self.conf('payments "stripe" { provider = "stripe" '
                         'base_url = "%s" secret = "sk_test_outpost" '
                         'status_page = "%s" }\n'
                         % (self.base("stripe"), page))
        rc, err = run_once(conf)
        self.assertEqual(rc, 0, err)
        # the page's failure is reported, with the URL, without the password
        self.assertIn("outpost:[redacted]@127.0.0.1", err)
        self.assert_nowhere([URL_PASSWORD], err)

    def test_http_conditions_quoting_credentials_are_scrubbed(self):
        # /echo returns the request's headers; a json_path condition that
        # fails quotes the value it found: the Authorization header
        # (Bearer, or Basic of the URL's user:password)
        bearer = "tok-Http-Bearer-5150"
        text = ('http "bearer" { url = "%s/echo" bearer = "%s" '
                'json_path = "headers.Authorization" json_equals = "x" }\n'
                'http "basic" { url = "http://ops:%s@127.0.0.1:%d/echo" '
                'json_path = "headers.Authorization" json_equals = "x" }\n'
                % (self.api.url, bearer, URL_PASSWORD, self.api.port))
        rc, err = run_once(self.conf(text))
        self.assertEqual(rc, 0, err)
        f = {r["tags"]["integration"]: r["fields"]
             for r in read_jsonl(self.out) if r["type"] == "measurement"}
        self.assertEqual(f["bearer"]["error"], "condition: json_path "
                         "headers.Authorization is Bearer [redacted], "
                         "expected x")
        self.assertEqual(f["basic"]["error"], "condition: json_path "
                         "headers.Authorization is Basic [redacted], "
                         "expected x")
        # base64("ops:<password>") is what went over the wire
        b64 = base64.b64encode(("ops:" + URL_PASSWORD).encode()).decode()
        self.assert_nowhere([bearer, URL_PASSWORD, b64], err)

    def test_crlf_from_a_server_cannot_forge_a_text_log_line(self):
        self.api.fault("/stripe/v1/balance", status=401, body="crlf")
        conf = self.conf('payments "stripe" { provider = "stripe" '
                         'base_url = "%s" secret = "sk_test_outpost" }\n'
                         % self.base("stripe"), log_format="text")
        rc, err = run_once(conf)
        self.assertEqual(rc, 0, err)
        stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")
        lines = err.splitlines()
        self.assertTrue(lines)
        for line in lines:
            if line.startswith("==") or not line:   # sanitizer chatter
                continue
            self.assertRegex(line, stamp)
            self.assertNotIn("\r", line)
            self.assertNotIn("\x07", line)
            self.assertFalse(line.startswith("2026-01-01T00:00:00.000Z"),
                             line)
        self.assertIn("denied\\r\\n2026-01-01T00:00:00.000Z error core "
                      "forged: injected line\\x07", err)


if __name__ == "__main__":
    unittest.main()

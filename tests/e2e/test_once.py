"""fakeapi + outpostd --once + jsonl: the exact records of one run."""
import socket
import unittest

from harness import FakeAPI, Workdir, read_jsonl, run_once


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class OnceTest(unittest.TestCase):
    def setUp(self):
        self.api = FakeAPI()
        self.w = Workdir()

    def tearDown(self):
        self.api.stop()
        self.w.cleanup()

    def test_exact_records(self):
        out = self.w.file("records.jsonl")
        conf = self.w.write_main()
        self.w.write_dropin("10-http.conf", """
http "crm"    { url = "%(u)s/health" category = "crm" tier = "enterprise"
                tags = {"team=sales"} }
http "broken" { url = "%(u)s/status/503" }
http "custom" { url = "%(u)s/status/404" expect_status = {404} }
http "nobody" { url = "http://127.0.0.1:%(p)d/" }
""" % {"u": self.api.url, "p": closed_port()})
        self.w.write_dropin("90-out.conf", 'jsonl "out" { path = "%s" }\n'
                            % out)
        rc, err = run_once(conf)
        self.assertEqual(rc, 0, err)
        # A failing check is logged once, with its reason.
        self.assertIn('"integration":"broken","message":"check failed: '
                      'status: got 503, expected 2xx"', err)
        recs = {r["tags"]["integration"]: r for r in read_jsonl(out)}
        self.assertEqual(sorted(recs), ["broken", "crm", "custom", "nobody"])
        for r in recs.values():
            self.assertEqual(r["type"], "measurement")
            self.assertEqual(r["name"], "http")
            self.assertGreaterEqual(r["fields"]["response_ms"], 0)
            self.assertLess(r["fields"]["response_ms"], 5000)
            self.assertIn("instance", r["tags"])
            # Timings and sizes vary; tests/e2e/test_http.py checks them.
            for k in ("response_ms", "dns_ms", "connect_ms", "tls_ms",
                      "ttfb_ms", "transfer_ms", "bytes", "redirects",
                      "connections"):
                r["fields"].pop(k, None)
            del r["tags"]["instance"]

        self.assertEqual(recs["crm"]["tags"], {
            "integration": "crm", "category": "crm", "provider": "crm",
            "tier": "enterprise", "team": "sales"})
        self.assertEqual(recs["crm"]["fields"],
                         {"success": True, "status_code": 200})
        self.assertEqual(recs["broken"]["tags"], {
            "integration": "broken", "category": "http",
            "provider": "broken"})
        self.assertEqual(recs["broken"]["fields"], {
            "success": False, "status_code": 503,
            "error": "status: got 503, expected 2xx"})
        self.assertEqual(recs["custom"]["fields"],
                         {"success": True, "status_code": 404})
        self.assertFalse(recs["nobody"]["fields"]["success"])
        self.assertTrue(recs["nobody"]["fields"]["error"]
                        .startswith("connect: "),
                        recs["nobody"]["fields"]["error"])

    def test_timeout_is_a_failed_check(self):
        out = self.w.file("records.jsonl")
        conf = self.w.write_main(timeout="500ms")
        self.w.write_dropin("10-http.conf",
                            'http "slow" { url = "%s/delay/3000" }\n'
                            'http "fast" { url = "%s/health" }\n'
                            % (self.api.url, self.api.url))
        self.w.write_dropin("90-out.conf", 'jsonl "out" { path = "%s" }\n'
                            % out)
        rc, err = run_once(conf)
        self.assertEqual(rc, 0, err)
        recs = {r["tags"]["integration"]: r for r in read_jsonl(out)}
        self.assertFalse(recs["slow"]["fields"]["success"])
        self.assertTrue(recs["slow"]["fields"]["error"].startswith("timeout"),
                        recs["slow"]["fields"]["error"])
        self.assertTrue(recs["fast"]["fields"]["success"])

    def test_hung_server_is_cancelled_at_the_deadline(self):
        self.api.fault("/health", hang=1)
        out = self.w.file("records.jsonl")
        conf = self.w.write_main(timeout="400ms")
        self.w.write_dropin("10-http.conf",
                            'http "hung" { url = "%s/health" }\n'
                            % self.api.url)
        self.w.write_dropin("90-out.conf", 'jsonl "out" { path = "%s" }\n'
                            % out)
        rc, err = run_once(conf)
        self.assertEqual(rc, 0, err)
        [rec] = read_jsonl(out)
        self.assertFalse(rec["fields"]["success"])
        self.assertTrue(rec["fields"]["error"].startswith("timeout"))

    def test_output_that_cannot_deliver_fails_once(self):
        conf = self.w.write_main(timeout="1s")
        self.w.write_dropin("10-http.conf",
                            'http "crm" { url = "%s/health" }\n'
                            % self.api.url)
        self.w.write_dropin("90-out.conf",
                            'jsonl "out" { path = "%s/missing/dir/x.jsonl" '
                            'retry_initial = "10ms" retry_max = "50ms" }\n'
                            % self.w.path)
        rc, err = run_once(conf)
        self.assertEqual(rc, 1, err)


if __name__ == "__main__":
    unittest.main()

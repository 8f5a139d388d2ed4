"""Loose ends of the trust work: what a real start says about the config,
and what an operator's mistake must not print."""
import subprocess
import time
import unittest

from harness import (OUTPOSTD, FakeAPITest, Workdir, log_lines, run_once,
                     start_daemon, stop_daemon)

# A provider-ignored option: valid, but -t warns, and so must a start.
DB = ('databases "cache" {\n  provider = "redis"\n'
      '  host = "127.0.0.1"\n  port = 1\n  brokers = "k:9092"\n}\n'
      'jsonl "out" { path = "%s" }\n')
WARNING = ('10-db.conf:5: warning: databases "cache": brokers: ignored by '
           'provider redis (it is for kafka)')


class StartWarnings(unittest.TestCase):
    def setUp(self):
        self.w = Workdir()
        self.conf = self.w.write_main()
        self.w.write_dropin("10-db.conf", DB % self.w.file("out.jsonl"))

    def tearDown(self):
        self.w.cleanup()

    def warnings(self, stderr):
        return [l for l in log_lines(stderr)
                if l.get("level") == "warn" and WARNING in l.get("message", "")]

    def test_once_logs_config_warnings(self):
        rc, err = run_once(self.conf)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(self.warnings(err)), 1, err)

    def test_daemon_start_logs_config_warnings(self):
        proc = start_daemon(self.conf)
        # Signals are the agent's once it is up: give it time to start.
        time.sleep(2)
        self.assertIsNone(proc.poll())
        rc, err = stop_daemon(proc)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(self.warnings(err)), 1, err)


class NoSecretQuotedBack(unittest.TestCase):
    def setUp(self):
        self.w = Workdir()

    def tearDown(self):
        self.w.cleanup()

    def test_header_without_colon_is_not_quoted(self):
        """A header that lost its ':' is not known as a secret, so the error
        names its place, not its text."""
        conf = self.w.write_main()
        self.w.write_dropin("10-h.conf",
                            'http "x" {\n  url = "http://127.0.0.1:1/"\n'
                            '  headers = {"Accept: */*",\n'
                            '             "Authorization Bearer '
                            'sk_live_QUOTEDBACK"}\n}\n')
        p = subprocess.run([OUTPOSTD, "-t", "-C", conf], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn('headers: entry 2 is not "Name: value"', p.stderr)
        self.assertNotIn("sk_live_QUOTEDBACK", p.stderr)
        self.assertNotIn("Bearer", p.stderr)


class HostileBody(FakeAPITest):
    def test_regex_reads_a_bounded_prefix(self):
        """A 1 MiB body against a pattern glibc's regexec needs 3 to 12 s
        for over 1 MiB (0.2 s over 64 KiB): the check reads only
        max_match_bytes of it, so the run, and the other check, are not
        held up, and the reason says how much was read."""
        self.api.fault("/huge", body="huge")
        text = ('http "hostile" {\n  url = "%s/huge"\n'
                '  body_regex = "[a-z]{1,255}x"\n}\n'
                'http "fine" { url = "%s/health" }\n'
                % (self.api.url, self.api.url))
        start = time.monotonic()
        recs = self.run_measurements(text, timeout="30s")
        took = time.monotonic() - start
        by = {r["tags"]["integration"]: r for r in recs}
        self.assertTrue(by["fine"]["fields"]["success"], by["fine"])
        f = by["hostile"]["fields"]
        self.assertFalse(f["success"], f)
        self.assertIn('body_regex "[a-z]{1,255}x" did not match the first '
                      '65536 bytes (max_match_bytes) of 1048576', f["error"])
        self.assertLess(took, 2.0)

    def test_costly_regex_is_given_up(self):
        """A pattern that backtracks without end on the body is given up
        once its budget of work is spent: the check fails at once and
        says the pattern, not the vendor, is at fault."""
        self.api.fault("/huge", body="huge")
        pat = "a(a{0,255}){3}[xyz]"
        text = ('http "costly" {\n  url = "%s/huge"\n'
                '  body_regex = "%s"\n}\n'
                'http "fine" { url = "%s/health" }\n'
                % (self.api.url, pat, self.api.url))
        start = time.monotonic()
        recs = self.run_measurements(text, timeout="30s")
        took = time.monotonic() - start
        by = {r["tags"]["integration"]: r for r in recs}
        self.assertTrue(by["fine"]["fields"]["success"], by["fine"])
        f = by["costly"]["fields"]
        self.assertFalse(f["success"], f)
        self.assertEqual(f["error"], 'condition: body_regex "%s" is too '
                         'costly to match (match limit)' % pat)
        self.assertLess(took, 2.0)


if __name__ == "__main__":
    unittest.main()

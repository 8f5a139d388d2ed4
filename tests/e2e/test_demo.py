"""The demo's config (conf.d/demo/) and its event printer
(scripts/demo_events.py): one run against tests/fakeapi writes the events
file, and each event becomes one line "time integration what happened"."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

from apiclient import free_port
from harness import FakeAPI, run_once

SOURCE = os.environ.get("OUTPOST_SOURCE_DIR", os.path.join(
    os.path.dirname(__file__), "..", ".."))


class DemoTest(unittest.TestCase):
    def test_events_print_one_readable_line_each(self):
        with FakeAPI() as api, \
                tempfile.TemporaryDirectory(prefix="outpost-demo-") as d:
            api.fault("/health", status=503)
            env = dict(os.environ, FAKEAPI_URL=api.url, OUTPOST_DEMO_DIR=d,
                       OUTPOST_DEMO_API="127.0.0.1:%d" % free_port())
            rc, err = run_once(os.path.join(SOURCE, "conf.d", "demo",
                                            "outpost.conf"), env=env)
            self.assertEqual(rc, 0, err)
            events = os.path.join(d, "events.jsonl")
            self.assertTrue(os.path.exists(os.path.join(
                d, "measurements.jsonl")))
            with open(events) as f:
                p = subprocess.run([sys.executable, os.path.join(
                    SOURCE, "scripts", "demo_events.py")], stdin=f,
                    capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            lines = p.stdout.splitlines()
            self.assertIn("crm      down (was unknown): status: got 503, "
                          "expected 200", [l[9:] for l in lines])
            self.assertIn("search   healthy (was unknown)",
                          [l[9:] for l in lines])
            for line in lines:
                self.assertRegex(line, r"^\d\d:\d\d:\d\d \S+ +\S")


if __name__ == "__main__":
    unittest.main()

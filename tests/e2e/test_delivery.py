"""An output that fails for a while, a SIGKILL with records spilled, and a
SIGHUP reload: every record arrives, once, in order per integration. An
output that refuses some records for good: they land in its dead letters,
`outpostd --dead-letters` prints them, `--requeue` puts them back and the
next run delivers them."""
import glob
import json
import os
import signal
import subprocess
import time
import unittest

from harness import (OUTPOSTD, PLUGIN_DIR, TEST_PLUGIN_DIR, FakeAPI, Workdir,
                     read_jsonl, run_once, start_daemon, stop_daemon,
                     wait_for)


def key(r):
    return (r["tags"]["integration"], r["ts_ns"])


class DeliveryTest(unittest.TestCase):
    def setUp(self):
        self.api = FakeAPI()
        self.w = Workdir()
        self.good = self.w.file("good.jsonl")
        self.late_dir = self.w.file("late")        # missing at first
        self.late = os.path.join(self.late_dir, "late.jsonl")
        self.conf = self.w.write_main(interval="100ms", timeout="1s")
        self.w.write_dropin("10-http.conf", """
http "a" { url = "%(u)s/health" }
http "b" { url = "%(u)s/status/500" }
http "c" { url = "%(u)s/health" interval = "150ms" }
""" % {"u": self.api.url})
        self.w.write_dropin("90-out.conf", """
jsonl "good" { path = "%s" flush_interval = "50ms" }
jsonl "late" { path = "%s" flush_interval = "50ms" batch_size = 7
               retry_initial = "20ms" retry_max = "100ms"
               spill_after = "0s" }
""" % (self.good, self.late))

    def tearDown(self):
        self.api.stop()
        self.w.cleanup()

    def assert_same_records(self, good, late):
        self.assertGreater(len(good), 10)
        self.assertEqual(len(set(map(key, late))), len(late),
                         "a record was delivered twice")
        by_integration = {}
        for r in late:
            by_integration.setdefault(r["tags"]["integration"],
                                      []).append(r["ts_ns"])
        for integ, ts in by_integration.items():
            self.assertEqual(ts, sorted(ts), "order lost for " + integ)
        self.assertEqual(sorted(map(key, good)), sorted(map(key, late)))

    def test_output_fails_then_recovers(self):
        d = start_daemon(self.conf)
        time.sleep(1.5)                 # "late" cannot open its file
        os.makedirs(self.late_dir)      # the backend comes back
        time.sleep(1.0)
        rc, err = stop_daemon(d)
        self.assertEqual(rc, 0, err)
        self.assert_same_records(read_jsonl(self.good), read_jsonl(self.late))
        self.assertIn("recovered", err)

    def test_sigkill_loses_nothing_spilled(self):
        d = start_daemon(self.conf)
        spill = os.path.join(self.w.state, "queue", "jsonl.late")
        self.assertTrue(wait_for(lambda: glob.glob(spill + "/*"), 10))
        time.sleep(1.5)
        good_before_kill = read_jsonl(self.good)
        stop_daemon(d, signal.SIGKILL)
        self.assertTrue(glob.glob(spill + "/*"))

        os.makedirs(self.late_dir)
        rc, err = run_once(self.conf)   # restart: replay, then one run
        self.assertEqual(rc, 0, err)
        late = read_jsonl(self.late)
        late_keys = set(map(key, late))
        missing = [k for k in map(key, good_before_kill)
                   if k not in late_keys]
        self.assertEqual(missing, [])
        self.assertEqual(len(late_keys), len(late), "duplicates")

    def test_sighup_reload_keeps_queued_records(self):
        d = start_daemon(self.conf)
        time.sleep(1.0)
        self.w.write_dropin("20-more.conf",
                            'http "d" { url = "%s/health" }\n' % self.api.url)
        d.send_signal(signal.SIGHUP)
        time.sleep(0.8)
        # A broken config on reload keeps the running one.
        self.w.write_dropin("30-bad.conf", 'http "e" { urll = "x" }\n')
        d.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        os.makedirs(self.late_dir)
        time.sleep(1.0)
        rc, err = stop_daemon(d)
        self.assertEqual(rc, 0, err)
        good, late = read_jsonl(self.good), read_jsonl(self.late)
        self.assert_same_records(good, late)
        self.assertIn("d", {r["tags"]["integration"] for r in good})
        self.assertIn("keeping the running config", err)
        self.assertIn("30-bad.conf:1", err)


class DeadLetterTest(unittest.TestCase):
    """pickyout (tests/plugins) refuses integration "b"; jsonl gets all."""

    def setUp(self):
        self.api = FakeAPI()
        self.w = Workdir()
        plugins = self.w.file("plugins")
        os.makedirs(plugins)
        for d in (PLUGIN_DIR, TEST_PLUGIN_DIR):
            for f in glob.glob(os.path.join(d, "*.so")):
                name = os.path.join(plugins, os.path.basename(f))
                if "badabi" not in f and not os.path.exists(name):
                    os.symlink(f, name)
        self.conf = self.w.write_main(plugin_dir=plugins, timeout="2s")
        self.picked = self.w.file("picked.jsonl")
        self.w.write_dropin("10-http.conf", """
http "a" { url = "%(u)s/health" }
http "b" { url = "%(u)s/health" }
""" % {"u": self.api.url})
        self.write_out('{"b"}')

    def write_out(self, reject):
        self.w.write_dropin("90-out.conf", """
pickyout "out" { path = "%s" reject = %s }
""" % (self.picked, reject))

    def tearDown(self):
        self.api.stop()
        self.w.cleanup()

    def cli(self, *args):
        env = dict(os.environ, OUTPOST_PLUGIN_DIR=self.w.file("plugins"))
        return subprocess.run([OUTPOSTD, "-C", self.conf, *args],
                              capture_output=True, text=True, timeout=30,
                              env=env)

    def test_poison_records_dead_letters_print_and_requeue(self):
        rc, err = run_once(self.conf)
        # Not everything was delivered: --once says so.
        self.assertEqual(rc, 1, err)
        self.assertIn("rejected 1 of 2 records for good", err)
        picked = read_jsonl(self.picked)
        self.assertEqual([r["tags"]["integration"] for r in picked], ["a"])

        p = self.cli("--dead-letters", "out")
        self.assertEqual(p.returncode, 0, p.stderr)
        dead = [json.loads(line) for line in p.stdout.splitlines()]
        self.assertEqual(len(dead), 1)
        self.assertEqual(dead[0]["reason"], "integration is refused here")
        self.assertEqual(dead[0]["record"]["tags"]["integration"], "b")
        self.assertRegex(dead[0]["time"], r"^\d{4}-\d\d-\d\dT")
        # plugin:instance names it too; an unknown name is an error.
        self.assertEqual(self.cli("--dead-letters", "pickyout:out").stdout,
                         p.stdout)
        q = self.cli("--dead-letters", "nope")
        self.assertEqual(q.returncode, 1)
        self.assertIn('no output "nope"', q.stderr)

        p = self.cli("--requeue", "out")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("1 dead letters of pickyout:out queued again",
                      p.stderr)
        self.assertEqual(self.cli("--dead-letters", "out").stdout, "")

        # The next run takes b again: the requeued record arrives first.
        self.write_out("{}")
        rc, err = run_once(self.conf)
        self.assertEqual(rc, 0, err)
        picked = read_jsonl(self.picked)
        self.assertEqual(picked[1]["ts_ns"], dead[0]["record"]["ts_ns"])
        self.assertEqual(picked[1]["tags"]["integration"], "b")
        self.assertEqual(sorted(r["tags"]["integration"]
                                for r in picked[2:]), ["a", "b"])
        self.assertIn("1 dead letters from", err)

    def test_describe_shows_the_plugins_defaults(self):
        p = self.cli("--describe", "pickyout")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"flush_interval\s+duration, default 50ms")
        self.assertRegex(p.stdout, r"timeout\s+duration")
        self.assertRegex(p.stdout, r"dead_letter_limit_mb\s+integer")


if __name__ == "__main__":
    unittest.main()

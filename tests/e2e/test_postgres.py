"""The postgres output in a running outpostd against private PostgreSQL
servers this file starts (so it can stop them): a stream of 10,000
measurements through a server stopped and started again mid-stream, and
through a daemon killed with SIGKILL while the server is down; a wrong
password and an unreachable host. Every record must be in
integration_health_log exactly once; the pgburst test input
(tests/plugins/pgburst.c) numbers them by their time."""
import glob
import os
import signal
import subprocess
import time
import unittest

from apiclient import Api, free_port
from harness import (OUTPOSTD, PLUGIN_DIR, TEST_PLUGIN_DIR, Workdir, log_lines,
                     start_daemon, stop_daemon, wait_for)
from servers_private import PrivatePostgres

BASE_US = 1796644800000000          # 2026-12-07T12:00:00Z
TOTAL = 10000


def plugin_dir(w):
    d = w.file("plugins")
    os.makedirs(d)
    for src in (PLUGIN_DIR, TEST_PLUGIN_DIR):
        for f in glob.glob(os.path.join(src, "*.so")):
            name = os.path.join(d, os.path.basename(f))
            if "badabi" not in f and not os.path.exists(name):
                os.symlink(f, name)
    return d


class PostgresStream(unittest.TestCase):
    def setUp(self):
        self.pg = PrivatePostgres()
        self.addCleanup(self.pg.close)
        self.w = Workdir()
        self.addCleanup(self.w.cleanup)
        self.plugins = plugin_dir(self.w)
        self.done = self.w.file("burst.done")

    def configure(self, burst=True, per_run=250, spill_after="100ms"):
        self.port = free_port()
        conf = self.w.write_main('api { listen = "127.0.0.1:%d" }\n'
                                 % self.port, interval="50ms", timeout="5s",
                                 plugin_dir=self.plugins)
        if burst:
            self.w.write_dropin("10-burst.conf", 'pgburst "burst" { '
                                'per_run = %d total = %d done_file = "%s" }\n'
                                % (per_run, TOTAL, self.done))
        else:
            self.w.write_dropin("10-burst.conf", "")
        self.w.write_dropin("90-pg.conf", 'postgres "history" { '
                            'conninfo_env = "OUTPOST_PG_URL" '
                            'batch_size = 1000 flush_interval = "20ms" '
                            'retry_initial = "50ms" retry_max = "300ms" '
                            'spill_after = "%s" timeout = "3s" '
                            'connect_timeout = "1s" }\n' % spill_after)
        return conf

    def env(self):
        e = dict(os.environ)
        e["OUTPOST_PG_URL"] = self.pg.url()
        return e

    def output_counter(self, name):
        """A counter of the postgres output from the agent's /metrics."""
        try:
            st, _, body = Api(self.port).req("GET", "/metrics", timeout=5)
        except OSError:
            return -1
        if st != 200:
            return -1
        for line in body.splitlines():
            if line.startswith(name + "{") and "postgres" in line:
                return int(float(line.rsplit(" ", 1)[1]))
        return 0

    def count(self):
        try:
            return int(self.pg.psql("SELECT count(*) FROM "
                                    "integration_health_log").strip())
        except Exception:
            return -1

    def assert_every_record_once(self):
        rows = self.pg.psql(
            "SELECT count(*), count(DISTINCT ts), "
            "min((extract(epoch FROM ts) * 1000000)::bigint), "
            "max((extract(epoch FROM ts) * 1000000)::bigint) "
            "FROM integration_health_log").strip()
        self.assertEqual(rows, "%d|%d|%d|%d" % (TOTAL, TOTAL, BASE_US,
                                                BASE_US + TOTAL - 1))
        # and each one under the integration it was made for
        self.assertEqual(self.pg.psql(
            "SELECT count(*) FROM integration_health_log WHERE integration "
            "<> 'burst-' || (((extract(epoch FROM ts) * 1000000)::bigint "
            "- %d) %% 10)" % BASE_US).strip(), "0")

    def test_server_stopped_mid_stream(self):
        # Retried from memory: the outage is shorter than spill_after.
        conf = self.configure(per_run=100, spill_after="60s")
        d = start_daemon(conf, env=self.env())
        try:
            self.assertTrue(wait_for(lambda: self.count() >= 2000,
                                     timeout=60), self.count())
            self.pg.stop()
            time.sleep(1.5)             # the stream goes on meanwhile
            self.pg.start()
            self.assertTrue(wait_for(lambda: self.count() >= TOTAL,
                                     timeout=90), self.count())
        finally:
            rc, err = stop_daemon(d)
        self.assertEqual(rc, 0, err)
        self.assert_every_record_once()
        errors = [l for l in log_lines(err) if l.get("level") == "error"
                  and l.get("component") == "postgres"]
        self.assertTrue(errors, "the outage was not logged")
        self.assertIn('postgres "history"', errors[0]["message"])

    def test_killed_while_server_down_replays_spill(self):
        # 250 a run, every 50 ms: the input is done in about 2 s.
        conf = self.configure(per_run=250)
        d = start_daemon(conf, env=self.env())
        self.assertTrue(wait_for(lambda: self.count() >= 1000, timeout=60),
                        self.count())
        self.pg.stop()
        # The input finishes its 10,000 while the server is down; they
        # wait on disk (spill_after 100ms).
        self.assertTrue(wait_for(lambda: os.path.exists(self.done),
                                 timeout=60))
        # Kill only once every record is in the table or on disk (the
        # queue spills what it holds in memory, in-flight batch included,
        # and puts every later record behind it), however loaded the
        # machine is: records only in memory die with the process.
        self.assertTrue(wait_for(
            lambda: self.output_counter("outpost_output_delivered_total")
            + self.output_counter("outpost_output_spilled_total") >= TOTAL,
            timeout=60))
        d.send_signal(signal.SIGKILL)
        d.communicate(timeout=30)
        before = None
        self.pg.start()
        before = self.count()
        self.assertLess(before, TOTAL)
        # Restarted without the input: only what it kept is written.
        conf = self.configure(burst=False)
        d = start_daemon(conf, env=self.env())
        try:
            self.assertTrue(wait_for(lambda: self.count() >= TOTAL,
                                     timeout=90), self.count())
            time.sleep(0.5)
        finally:
            rc, err = stop_daemon(d)
        self.assertEqual(rc, 0, err)
        self.assert_every_record_once()


class PostgresRefused(unittest.TestCase):
    """A server that refuses us and one that is not there: a clear error
    naming the output, never the conninfo or its password, and the
    records stay queued."""

    PASSWORD = "right-Pa55"

    @classmethod
    def setUpClass(cls):
        cls.pg = PrivatePostgres(password=cls.PASSWORD)
        cls.addClassCleanup(cls.pg.close)

    def setUp(self):
        self.w = Workdir()
        self.addCleanup(self.w.cleanup)
        self.plugins = plugin_dir(self.w)

    def run_with(self, url, secret):
        conf = self.w.write_main(interval="50ms", timeout="2s",
                                 plugin_dir=self.plugins)
        self.w.write_dropin("10-burst.conf", 'pgburst "burst" { per_run = 5 '
                            'total = 5 }\n')
        self.w.write_dropin("90-pg.conf", 'postgres "history" { '
                            'conninfo_env = "OUTPOST_PG_URL" '
                            'flush_interval = "20ms" retry_initial = "50ms" '
                            'retry_max = "100ms" connect_timeout = "1s" '
                            'timeout = "2s" }\n')
        e = dict(os.environ)
        e["OUTPOST_PG_URL"] = url
        d = start_daemon(conf, env=e)
        time.sleep(2)
        rc, err = stop_daemon(d)
        self.assertNotIn(secret, err)
        self.assertNotIn(url, err)
        errors = [l["message"] for l in log_lines(err)
                  if l.get("level") == "error"
                  and l.get("component") == "postgres"]
        self.assertTrue(errors, err)
        self.assertIn('postgres "history"', errors[0])
        self.assertIn("records stay queued", errors[0])
        return errors[0], err

    def test_wrong_password(self):
        msg, err = self.run_with(self.pg.url("wrong-Secret-77"),
                                 "wrong-Secret-77")
        self.assertIn("auth", msg)
        self.assertIn("password authentication failed", msg)
        # nothing reached the database; the records were kept (spilled at
        # exit, not dropped)
        self.assertEqual(self.pg.psql(
            "SELECT count(*) FROM pg_class WHERE relname = "
            "'integration_health_log'").strip(), "0")
        self.assertNotIn('"dropped"', err)

    def test_config_check_refuses_a_bad_conninfo(self):
        conf = self.w.write_main(plugin_dir=self.plugins)
        self.w.write_dropin("90-pg.conf", 'postgres "history" { '
                            'conninfo = "nonsense-Secret-9" }\n')
        p = subprocess.run([OUTPOSTD, "-t", "-C", conf], capture_output=True,
                           text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('90-pg.conf:1: postgres "history": conninfo is not a '
                      'valid libpq connection string or URI', p.stderr)
        self.assertNotIn("nonsense-Secret-9", p.stderr)

    def test_unreachable_host(self):
        s = __import__("socket").socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()                       # nothing listens there now
        url = "postgresql://postgres:hidden-Pw-42@127.0.0.1:%d/x" % port
        msg, _ = self.run_with(url, "hidden-Pw-42")
        self.assertIn("connect", msg)


if __name__ == "__main__":
    unittest.main()

"""The databases input against real servers: the suite's PostgreSQL, Redis
and Kafka (librdkafka's mock cluster), plus throwaway ones this file starts
itself (a PostgreSQL replica, a Redis with a password) so they can be
stopped. Each provider healthy, each failure reason, and an outage and
recovery watched by a running daemon."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import (OUTPOSTD, Workdir, read_jsonl, run_once, start_daemon,
                     stop_daemon)

# PostgreSQL refuses to run as root.
AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def load_servers():
    env = {}
    with open(os.environ["OUTPOST_TEST_SERVERS"]) as f:
        for line in f:
            if "=" in line:
                k, v = line.strip().split("=", 1)
                env[k] = v
    return env


S = load_servers()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(pred, timeout, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def last_fields(path):
    """The fields of the last complete record in a jsonl file, or {}."""
    try:
        with open(path) as f:
            lines = [ln for ln in f.read().split("\n") if ln.strip()]
        return json.loads(lines[-1])["fields"] if lines else {}
    except (OSError, ValueError):
        return {}


class Probe(unittest.TestCase):
    """A work directory with one jsonl output; run once or as a daemon."""

    def setUp(self):
        self.w = Workdir()
        self.addCleanup(self.w.cleanup)
        self.out = self.w.file("records.jsonl")

    def configure(self, sections, interval="30s", timeout="5s"):
        conf = self.w.write_main(interval=interval, timeout=timeout)
        self.w.write_dropin("40-databases.conf", sections)
        self.w.write_dropin("90-out.conf", 'jsonl "out" { path = "%s" '
                            'flush_interval = "50ms" }\n' % self.out)
        if os.path.exists(self.out):
            os.remove(self.out)
        return conf

    def once(self, sections, timeout="5s", env=None):
        """outpostd --once; the fields of each integration's record."""
        rc, self.stderr = run_once(self.configure(sections, timeout=timeout),
                                   env=env)
        self.assertEqual(rc, 0, self.stderr)
        recs = read_jsonl(self.out)
        for r in recs:
            self.assertEqual(r["name"], "databases")
        return {r["tags"]["integration"]: r["fields"] for r in recs}

    def outage(self, section, stop, start, timeout="1s"):
        """A daemon probes every 200 ms; once it reports healthy the server
        is stop()ped, once it reports that, start()ed again, and it must
        report healthy again. Returns the fields of the first failure."""
        conf = self.configure(section, interval="200ms", timeout=timeout)
        def up():
            return last_fields(self.out).get("success") is True

        def down():
            return last_fields(self.out).get("success") is False

        d = start_daemon(conf)
        try:
            self.assertTrue(wait_until(up, 10), "never healthy")
            stop()
            self.assertTrue(wait_until(down, 10),
                            "the outage was not reported")
            failure = last_fields(self.out)
            start()
            self.assertTrue(wait_until(up, 15), "no recovery reported")
        finally:
            rc, err = stop_daemon(d)
        self.assertEqual(rc, 0, err)
        return failure

    def assert_step_times(self, f, steps):
        for step in steps:
            self.assertGreaterEqual(f[step], 0, step)
            self.assertLessEqual(f[step], f["response_ms"], step)

    def assert_failed(self, f, reason, error_start=None):
        self.assertIs(f["success"], False, f)
        self.assertEqual(f["reason"], reason, f)
        self.assertTrue(f["error"].startswith(
            error_start or reason + ": "), f)


# --- PostgreSQL ----------------------------------------------------------


def pg_section(name, conninfo=S["PG_URL"], extra=""):
    return ('databases "%s" { provider = "postgres" conninfo = "%s" %s }\n'
            % (name, conninfo, extra))


class PostgresTest(Probe):
    def test_healthy(self):
        env = dict(os.environ, ORDERS_DB_URL=S["PG_URL"])
        f = self.once('databases "orders-db" { provider = "postgres" '
                      'conninfo_env = "ORDERS_DB_URL" }\n',
                      env=env)["orders-db"]
        self.assertIs(f["success"], True, f)
        self.assertNotIn("error", f)
        self.assert_step_times(f, ["connect_ms", "ping_ms"])
        major = os.path.basename(os.path.dirname(S["PG_BIN"]))
        self.assertTrue(f["server_version"].startswith(major + "."), f)
        self.assertEqual(f["server_version_num"] // 10000, int(major))
        self.assertIs(f["in_recovery"], False)
        self.assertNotIn("replication_lag_s", f)

    def test_query_and_expect(self):
        recs = self.once(
            pg_section("good", extra='query = "SELECT count(*) FROM '
                       'pg_database WHERE datname = \'postgres\'" '
                       'expect = "1"')
            + pg_section("wrong", extra='query = "SELECT current_user" '
                         'expect = "orders"')
            + pg_section("broken", extra='query = "SELECT * FROM nowhere"'))
        good = recs["good"]
        self.assertIs(good["success"], True, good)
        self.assertEqual(good["query_rows"], 1)
        self.assert_step_times(good, ["connect_ms", "ping_ms", "query_ms"])
        self.assert_failed(recs["wrong"], "query")
        self.assertEqual(recs["wrong"]["error"],
                         'query: got "postgres", expected "orders"')
        self.assert_failed(recs["broken"], "query")
        self.assertIn('"nowhere" does not exist', recs["broken"]["error"])

    def test_bad_database_user_and_address(self):
        base = "postgresql://%s@127.0.0.1:%s/%s"
        recs = self.once(
            pg_section("no-db", base % ("postgres", S["PG_PORT"], "nope"))
            + pg_section("no-user", base % ("intruder", S["PG_PORT"],
                                            "postgres"))
            + pg_section("no-server", base % ("postgres", free_port(),
                                              "postgres")))
        self.assert_failed(recs["no-db"], "auth")
        self.assertIn('database "nope" does not exist',
                      recs["no-db"]["error"])
        self.assert_failed(recs["no-user"], "auth")
        self.assertIn('role "intruder" does not exist',
                      recs["no-user"]["error"])
        self.assert_failed(recs["no-server"], "connect")
        self.assertIn("Connection refused", recs["no-server"]["error"])

    def test_slow_query_fails_by_its_own_timeout(self):
        f = self.once(pg_section("slow", extra='query = "SELECT '
                                 'pg_sleep(3)"'), timeout="1s")["slow"]
        self.assert_failed(f, "timeout")
        self.assertIn("no answer to the query", f["error"])
        self.assertIn("connect_ms", f)      # the steps before still count
        self.assertLess(f["response_ms"], 1000)

    def test_empty_conninfo_is_credentials_missing(self):
        section = ('databases "orders-db" { provider = "postgres" '
                   'conninfo_env = "ORDERS_DB_URL" }\n')
        f = self.once(section, env=dict(os.environ,
                                        ORDERS_DB_URL=""))["orders-db"]
        self.assertIs(f["success"], False)
        self.assertEqual(f["reason"], "credentials missing")
        self.assertEqual(f["status_hint"], "unknown")
        # Unset altogether, it is a config error (the core's rule).
        env = dict(os.environ)
        env.pop("ORDERS_DB_URL", None)
        rc, err = run_once(self.configure(section), env=env)
        self.assertNotEqual(rc, 0)
        self.assertIn("ORDERS_DB_URL", err)


class PostgresReplicaTest(Probe):
    """A streaming replica of the suite's server, ours to stop."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="outpost-pg-replica-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, ignore_errors=True)
        os.chmod(cls.dir, 0o755)
        if AS_POSTGRES:
            shutil.chown(cls.dir, "postgres", "postgres")
        cls.data = os.path.join(cls.dir, "data")
        cls.port = free_port()
        subprocess.run(AS_POSTGRES + [
            os.path.join(S["PG_BIN"], "pg_basebackup"), "-D", cls.data, "-R",
            "-h", "127.0.0.1", "-p", S["PG_PORT"], "-U", "postgres",
            "-X", "stream", "-c", "fast", "--no-sync"],
            check=True, capture_output=True, timeout=60)
        cls.start()
        cls.url = "postgresql://postgres@127.0.0.1:%d/postgres" % cls.port

    @classmethod
    def pg_ctl(cls, *args):
        subprocess.run(AS_POSTGRES + [os.path.join(S["PG_BIN"], "pg_ctl"),
                                      "-D", cls.data, "-w", "-t", "30",
                                      *args],
                       check=True, capture_output=True, timeout=60)

    @classmethod
    def start(cls):
        cls.pg_ctl("-l", os.path.join(cls.dir, "server.log"), "-o",
                   "-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off"
                   % (cls.port, cls.dir), "start")

    @classmethod
    def stop(cls):
        cls.pg_ctl("-m", "immediate", "stop")

    @classmethod
    def tearDownClass(cls):
        try:
            cls.stop()
        except subprocess.CalledProcessError:
            pass                        # already stopped

    def test_replica_reports_recovery_and_lag(self):
        # The lag is known once the new replica has reached the primary
        # and replayed something; until then the field is left out.
        end = time.time() + 30
        while True:
            f = self.once(pg_section("replica", self.url))["replica"]
            if "replication_lag_s" in f or time.time() > end:
                break
            time.sleep(0.5)
        self.assertIs(f["success"], True, f)
        self.assertIs(f["in_recovery"], True)
        self.assertGreaterEqual(f["replication_lag_s"], 0)
        self.assertLess(f["replication_lag_s"], 60)

    def test_outage_and_recovery(self):
        down = self.outage(pg_section("replica", self.url),
                           self.stop, self.start)
        self.assert_failed(down, "connect")


# --- Redis ---------------------------------------------------------------


class RedisTest(Probe):
    """The suite's Redis, and our own with a password, ours to stop."""
    PASSWORD = "s3cret-Pass"

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="outpost-redis-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, ignore_errors=True)
        cls.port = free_port()
        cls.proc = None
        cls.start()

    @classmethod
    def start(cls):
        cls.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(cls.port),
             "--dir", cls.dir, "--save", "", "--appendonly", "no",
             "--requirepass", cls.PASSWORD, "--logfile",
             os.path.join(cls.dir, "redis.log")])

        def ready():
            try:
                socket.create_connection(("127.0.0.1", cls.port), 0.2).close()
                return True
            except OSError:
                return False
        if not wait_until(ready, 10):
            raise RuntimeError("redis-server did not start")

    @classmethod
    def stop(cls):
        if cls.proc and cls.proc.poll() is None:
            cls.proc.kill()
            cls.proc.wait(10)

    @classmethod
    def tearDownClass(cls):
        cls.stop()

    def section(self, name, extra):
        return ('databases "%s" { provider = "redis" host = "127.0.0.1" '
                'port = %d %s }\n' % (name, self.port, extra))

    def test_healthy(self):
        f = self.once('databases "cache" { provider = "redis" url = "%s" }\n'
                      % S["REDIS_URL"])["cache"]
        self.assertIs(f["success"], True, f)
        self.assertNotIn("error", f)
        self.assert_step_times(f, ["connect_ms", "ping_ms"])
        self.assertEqual(f["role"], "master")
        self.assertGreaterEqual(f["connected_clients"], 1)
        self.assertGreater(f["used_memory"], 0)
        self.assertGreaterEqual(f["rejected_connections"], 0)
        self.assertRegex(f["server_version"], r"^\d+\.\d+")

    def test_password(self):
        env = dict(os.environ, CACHE_PASSWORD=self.PASSWORD, EMPTY="")
        url = "redis://:%s@127.0.0.1:%d/1" % (self.PASSWORD, self.port)
        recs = self.once(
            self.section("right", 'password_env = "CACHE_PASSWORD"')
            + 'databases "by-url" { provider = "redis" url = "%s" }\n' % url
            + self.section("wrong", 'password = "guess"')
            + self.section("none", "")
            + self.section("empty", 'password_env = "EMPTY"'), env=env)
        self.assertIs(recs["right"]["success"], True, recs["right"])
        self.assertIs(recs["by-url"]["success"], True, recs["by-url"])
        self.assert_failed(recs["wrong"], "auth")
        self.assert_failed(recs["none"], "auth")
        self.assertIn("NOAUTH", recs["none"]["error"])
        self.assertEqual(recs["empty"]["reason"], "credentials missing")
        self.assertEqual(recs["empty"]["status_hint"], "unknown")
        with open(self.out) as f:
            self.assertNotIn(self.PASSWORD, f.read() + self.stderr)

    def test_outage_and_recovery(self):
        down = self.outage(self.section("cache", 'password = "%s"'
                                        % self.PASSWORD),
                           self.stop, self.start)
        self.assert_failed(down, "connect")
        self.assertIn("Connection refused", down["error"])


# --- Kafka ---------------------------------------------------------------


def kcat(*args, stdin=None):
    subprocess.run(["kcat", "-b", S["KAFKA_BROKERS"], *args], input=stdin,
                   check=True, capture_output=True, text=True, timeout=30)


class KafkaTest(Probe):
    def section(self, name, extra=""):
        return ('databases "%s" { provider = "kafka" brokers = "%s" %s }\n'
                % (name, S["KAFKA_BROKERS"], extra))

    def test_healthy(self):
        f = self.once(self.section("bus"))["bus"]
        self.assertIs(f["success"], True, f)
        self.assertNotIn("error", f)
        self.assert_step_times(f, ["metadata_ms"])
        self.assertEqual(f["brokers_up"], 3)
        self.assertEqual(f["brokers_known"], 3)
        self.assertGreaterEqual(f["topics"], 3)          # the suite's topics
        self.assertGreaterEqual(f["partitions"], 11)
        self.assertEqual(f["offline_partitions"], 0)
        self.assertEqual(f["under_replicated_partitions"], 0)
        self.assertNotIn("status_hint", f)

    def test_consumer_group_lag(self):
        topic, group = "dbtest-lag-%d" % os.getpid(), "dbtest-group"
        # One key: every message in one partition. The group reads all 10
        # and commits; 5 more arrive after it, unread.
        kcat("-P", "-t", topic, "-k", "k", stdin="m\n" * 10)
        kcat("-G", group, "-X", "auto.offset.reset=earliest", "-e", "-q",
             topic)
        kcat("-P", "-t", topic, "-k", "k", stdin="m\n" * 5)
        recs = self.once(
            self.section("lag", 'topic = "%s" group = "%s"' % (topic, group))
            + self.section("no-topic", 'topic = "no-such-topic" group = "%s"'
                           % group))
        f = recs["lag"]
        self.assertIs(f["success"], True, f)
        self.assertEqual(f["consumer_lag"], 5)
        self.assertEqual(f["consumer_lag_max"], 5)
        self.assertGreaterEqual(f["uncommitted_partitions"], 0)
        self.assert_step_times(f, ["metadata_ms", "offsets_ms"])
        self.assert_failed(recs["no-topic"], "query")
        self.assertEqual(recs["no-topic"]["error"],
                         "query: topic no-such-topic not found")

    def test_outage_and_recovery(self):
        with open(S["KAFKA_PID_FILE"]) as f:
            pid = int(f.read())
        # Whatever happens, the suite's brokers come back up.
        self.addCleanup(os.kill, pid, signal.SIGUSR2)
        down = self.outage(self.section("bus"),
                           lambda: os.kill(pid, signal.SIGUSR1),
                           lambda: os.kill(pid, signal.SIGUSR2))
        self.assertIs(down["success"], False)
        self.assertIn(down["reason"], ("connect", "timeout"), down)
        self.assertLess(down["response_ms"], 1000)


class SilentServerTest(Probe):
    def test_every_provider_times_out_by_itself(self):
        # Connections are accepted (by the kernel's backlog) and never
        # answered: each probe must fail by its own deadline, naming it.
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        self.addCleanup(silent.close)
        port = silent.getsockname()[1]
        recs = self.once(
            pg_section("pg", "postgresql://postgres@127.0.0.1:%d/postgres"
                       % port)
            + 'databases "redis" { port = %d }\n' % port
            + 'databases "kafka" { brokers = "127.0.0.1:%d" }\n' % port,
            timeout="500ms")
        self.assertEqual(sorted(recs), ["kafka", "pg", "redis"])
        for name, f in recs.items():
            self.assert_failed(f, "timeout")
            # Ours, not the core's "no result after 500 ms".
            self.assertNotIn("no result", f["error"], name)
            self.assertGreater(f["response_ms"], 300, name)
            self.assertLess(f["response_ms"], 520, name)
        self.assertTrue(recs["pg"]["error"].startswith(
            "timeout: no connection after"), recs["pg"])
        self.assertTrue(recs["redis"]["error"].startswith(
            "timeout: no answer to PING"), recs["redis"])
        self.assertTrue(recs["kafka"]["error"].startswith(
            "timeout: no metadata after"), recs["kafka"])


class ConfigTest(Probe):
    def test_unknown_provider_is_refused(self):
        # Refused when the config is read (so `outpostd -t` says it too),
        # with the file and line, and nothing runs.
        conf = self.configure('databases "mysql-main" { provider = "mysql" }'
                              '\n')
        rc, err = run_once(conf)
        self.assertNotEqual(rc, 0)
        self.assertIn('40-databases.conf:1: option \'provider\' in databases '
                      '"mysql-main": "mysql" is not one of postgres, redis, '
                      'kafka', err)
        self.assertEqual(read_jsonl(self.out), [])

    def test_unusable_redis_url_is_refused(self):
        conf = self.configure(
            'databases "tls" { provider = "redis" '
            'url = "rediss://127.0.0.1:6380" }\n'
            'databases "typo" { provider = "redis"\n'
            '  url = "http://:hunter2@127.0.0.1:6379" }\n')
        p = subprocess.run([OUTPOSTD, "-t", "-C", conf], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn('40-databases.conf:1: databases "tls": url: rediss:// '
                      '(TLS) needs hiredis 1.0 or later', p.stderr)
        self.assertIn('40-databases.conf:3: databases "typo": url is not '
                      'redis://[[username]:password@]host[:port][/db]',
                      p.stderr)
        self.assertNotIn("hunter2", p.stderr)    # never the password

    def test_options_only_the_config_can_fix_are_refused_at_load(self):
        conf = self.configure(
            'databases "pg1" { provider = "postgres"\n'
            '  conninfo = "host=x password hunter2 y" }\n'
            'databases "pg2" { provider = "postgres" conninfo = "host=x"\n'
            '  expect = "1" }\n'
            'databases "k1" { provider = "kafka" brokers = "x:9092"\n'
            '  topic = "t" }\n'
            'databases "k2" { provider = "kafka" brokers = "x:9092"\n'
            '  properties = {"nokey"} }\n'
            'databases "k3" { provider = "kafka" brokers = "x:9092"\n'
            '  properties = {"no.such.prop=hunter2"} }\n'
            'databases "ok" { provider = "kafka" brokers = "x:9092"\n'
            '  properties = {"security.protocol=SASL_SSL"} }\n'
            'databases "pg3" { provider = "postgres" }\n'
            'databases "k4" { provider = "kafka" }\n')
        p = subprocess.run([OUTPOSTD, "-t", "-C", conf], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        # Each at the line of the option named (else the section's).
        for line, msg in (
                (2, 'databases "pg1": conninfo is not a valid libpq '
                    'connection string or URI'),
                (4, 'databases "pg2": expect needs a query whose value it '
                    'checks'),
                (5, 'databases "k1": consumer lag needs both topic and '
                    'group'),
                (8, 'databases "k2": properties: "key=value" expected'),
                (10, 'databases "k3": properties: librdkafka rejects '
                     'property no.such.prop'),
                (13, 'databases "pg3": provider postgres needs conninfo'),
                (14, 'databases "k4": provider kafka needs brokers')):
            self.assertIn("40-databases.conf:%d: %s" % (line, msg), p.stderr)
        self.assertNotIn('"ok"', p.stderr)
        self.assertNotIn("hunter2", p.stderr)


if __name__ == "__main__":
    unittest.main()

"""The redis output against real redis-servers (the suite's, and private
ones the tests stop and restart): the current-state hash, the stream with
its ids and cap, pub/sub, the circuit and failover keys from a real run
and their expiry once the agent stops, AUTH, errors that keep records
queued, a Redis restart and a SIGKILL mid-stream (every record once), a
WRONGTYPE key that dead-letters only its integration's records, and the
reader in docs/plugins/redis.md."""
import json
import os
import re
import subprocess
import sys
import threading
import time
import unittest

try:
    import redis
except ImportError:
    # Debian's python3-redis (scripts/deps.sh) when the interpreter
    # running the suite is not Debian's own.
    sys.path.append("/usr/lib/python3/dist-packages")
    import redis

from harness import (OUTPOSTD, FakeAPI, Workdir, log_lines, read_jsonl,
                     run_once, wait_for)
from servers_private import PrivateRedis

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def shared_redis_port():
    with open(os.environ["OUTPOST_TEST_SERVERS"]) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            if k == "REDIS_PORT":
                return int(v)
    raise RuntimeError("no REDIS_PORT in the servers file")


def xlen(r):
    """The stream's length; 0 while Redis is down or loading."""
    try:
        return r.xlen("outpost:events")
    except redis.exceptions.RedisError:
        return 0


def stream_id(rec):
    """The id the output gives a record (plugins/redis/redis.c)."""
    ns = rec["ts_ns"]
    if rec["type"] == "event":
        parts = [rec["dedup_key"], rec["kind"]]
    else:
        parts = [rec["tags"]["integration"], rec["name"]]
    h = 14695981039346656037
    for p in parts:
        for b in p.encode() + b"\0":
            h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return "%d-%d" % (ns // 1000000,
                      ((ns % 1000000) << 40) | (h & ((1 << 40) - 1)))


class RedisOutputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api = FakeAPI()
        # Keep its standard output read: thousands of checks must not
        # fill the pipe and stall it.
        threading.Thread(target=cls.api.proc.stdout.read,
                         daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.api.stop()

    def setUp(self):
        self.api.clear()
        self.w = Workdir()
        self.jsonl = self.w.file("records.jsonl")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.close()
        self.w.cleanup()

    def private(self, **kw):
        s = PrivateRedis(**kw)
        self.servers.append(s)
        return s

    def config(self, inputs, output, interval="30s", decisions=None):
        conf = self.w.write_main(interval=interval, timeout="1s")
        self.w.write_dropin("10-in.conf", inputs % {"u": self.api.url})
        self.w.write_dropin("50-decisions.conf",
                            decisions or 'health "default" { }\n')
        self.w.write_dropin("90-out.conf", output + (
            'jsonl "copy" { path = "%s" flush_interval = "20ms" }\n'
            % self.jsonl))
        return conf

    def stream(self, r):
        def text(x):
            return x.decode() if isinstance(x, bytes) else x
        return [(text(i), {text(k): text(v) for k, v in f.items()})
                for i, f in r.xrange("outpost:events")]

    def assert_stream(self, r, recs):
        """The stream holds each of recs once and nothing else."""
        entries = self.stream(r)
        ids = [i for i, _ in entries]
        self.assertEqual(len(ids), len(set(ids)), "an id twice")

        def rkey(x):
            return (x["type"], x["name"], x["tags"].get("integration"),
                    x["ts_ns"])

        def ekey(f):
            return (f["type"], f["name"], f.get("tags.integration"),
                    int(f["ts_ns"]))
        seen = {}
        for i, f in entries:
            seen.setdefault(ekey(f), []).append(i)
        twice = {k: v for k, v in seen.items() if len(v) > 1}
        self.assertEqual(twice, {}, "records in the stream twice: %r" % twice)
        missing = set(map(rkey, recs)) - set(seen)
        extra = set(seen) - set(map(rkey, recs))
        self.assertEqual((sorted(missing)[:5], sorted(extra)[:5]), ([], []))
        self.assertEqual(len(entries), len(recs))
        # Most records have their own id; one stamped before the stream's
        # last entry got the next id after it, in that millisecond.
        own = {rkey(x): stream_id(x) for x in recs}
        ms = {rkey(x): x["ts_ns"] // 10**6 for x in recs}
        for i, f in entries:
            if i != own[ekey(f)]:
                self.assertGreaterEqual(int(i.split("-")[0]), ms[ekey(f)])
        return entries

    # --- state, stream, channel -----------------------------------------

    def test_current_state_stream_and_channel(self):
        port = shared_redis_port()
        r = redis.Redis(port=port, db=12)
        r.flushdb()
        sub = r.pubsub()
        sub.subscribe("outpost:events")
        sub.get_message(timeout=1)          # the subscribe confirmation
        conf = self.config(
            'http "pay" { url = "%(u)s/health" tags = {"team=core"} }\n'
            'http "ship" { url = "%(u)s/status/500" }\n',
            'redis "live" { url = "redis://127.0.0.1:%d/12" publish = "all" '
            'state_ttl = "90s" }\n' % port)
        rc, err = run_once(conf)
        self.assertEqual(rc, 0, err)
        recs = read_jsonl(self.jsonl)
        by = {x["tags"]["integration"]: x for x in recs
              if x["type"] == "measurement"}
        self.assertEqual(sorted(by), ["pay", "ship"])

        pay = {k.decode(): v.decode()
               for k, v in r.hgetall("outpost:integration:pay").items()}
        f = by["pay"]["fields"]
        self.assertEqual(pay["integration"], "pay")
        self.assertEqual(pay["check"], "http")
        self.assertEqual(pay["provider"], "pay")
        self.assertEqual(pay["category"], "http")
        self.assertEqual(pay["success"], "true")
        self.assertEqual(pay["status"], "healthy")
        self.assertEqual(pay["status_code"], "200")
        self.assertEqual(float(pay["response_ms"]), f["response_ms"])
        self.assertEqual(float(pay["health_score"]), f["health_score"])
        self.assertEqual(int(pay["checked_at"]), by["pay"]["ts_ns"] // 10**6)
        self.assertNotIn("error", pay)
        ttl = r.pttl("outpost:integration:pay")
        self.assertTrue(85000 < ttl <= 90000, ttl)
        ship = {k.decode(): v.decode()
                for k, v in r.hgetall("outpost:integration:ship").items()}
        self.assertEqual(ship["success"], "false")
        self.assertEqual(ship["status_code"], "500")
        self.assertEqual(ship["error"], by["ship"]["fields"]["error"])

        e = [f for _, f in self.assert_stream(r, recs)
             if f["ts_ns"] == str(by["pay"]["ts_ns"])][0]
        self.assertEqual(e["type"], "measurement")
        self.assertEqual(e["name"], "http")
        self.assertEqual(int(e["ts_ns"]), by["pay"]["ts_ns"])
        self.assertEqual(e["tags.integration"], "pay")
        self.assertEqual(e["tags.team"], "core")
        self.assertEqual(e["fields.success"], "true")
        self.assertEqual(e["fields.status"], "healthy")

        got = []
        while True:
            m = sub.get_message(timeout=1)
            if m is None:
                break
            if m["type"] == "message":
                got.append(json.loads(m["data"]))
        sub.close()
        self.assertEqual(sorted(x["ts_ns"] for x in got),
                         sorted(x["ts_ns"] for x in recs))
        self.assertEqual({x["tags"]["integration"] for x in got},
                         {"pay", "ship"})

        # A second run replaces the state: the error is gone, the stream
        # grows by the new records only.
        self.api.fault("/status/500", status=200)
        rc, err = run_once(conf)
        self.assertEqual(rc, 0, err)
        ship = r.hgetall("outpost:integration:ship")
        self.assertEqual(ship[b"success"], b"true")
        self.assertNotIn(b"error", ship)
        self.assert_stream(r, read_jsonl(self.jsonl))

    def test_stream_is_capped(self):
        s = self.private(extra=["--stream-node-max-entries", "4"])
        conf = self.config(
            'http "pay" { url = "%(u)s/health" }\n',
            'redis "live" { url = "%s" stream_maxlen = 10 '
            'flush_interval = "10ms" }\n' % s.url, interval="20ms")
        d = self.start_logging_to_file(conf)
        r = redis.Redis(port=s.port)
        try:
            self.assertTrue(wait_for(lambda: len(read_jsonl(self.jsonl)) > 40,
                                     30))
        finally:
            rc = self.stop(d)
        self.assertEqual(rc, 0, self.log()[-3000:])
        recs = read_jsonl(self.jsonl)
        n = r.xlen("outpost:events")
        self.assertTrue(10 <= n <= 14, n)
        ids = [i for i, _ in self.stream(r)]
        self.assertEqual(ids, [stream_id(x) for x in recs[-n:]])

    # --- circuit and failover ---------------------------------------------

    def test_circuit_and_failover_keys_then_expiry(self):
        s = self.private()
        conf = self.config("""
http "stripe" { url = "%(u)s/status/200" failover_group = "checkout"
                priority = 1 }
http "paypal" { url = "%(u)s/health" failover_group = "checkout"
                priority = 2 }
""", 'redis "live" { url = "%s/2" state_ttl = "1500ms" }\n' % s.url,
            interval="100ms", decisions="""
health "default"          { }
circuit_breaker "default" { failure_threshold = 5 open_for = "30s" }
failover "default"        { failback_after = 3 }
""")
        r = redis.Redis(port=s.port, db=2, decode_responses=True)
        d = self.start_logging_to_file(conf)
        try:
            self.assertTrue(wait_for(lambda: r.hget(
                "outpost:failover:checkout", "active") == "stripe", 20))
            self.api.fault("/status/200", status=503)
            self.assertTrue(wait_for(lambda: r.hget(
                "outpost:failover:checkout", "active") == "paypal", 20))
            self.assertTrue(wait_for(lambda: r.hget(
                "outpost:circuit:stripe", "state") == "open", 20))
            fo = r.hgetall("outpost:failover:checkout")
            circuit = r.hgetall("outpost:circuit:stripe")
            fo_ttl = r.pttl("outpost:failover:checkout")
            circuit_ttl = r.pttl("outpost:circuit:stripe")
        finally:
            rc = self.stop(d)
        self.assertEqual(rc, 0, self.log()[-3000:])
        recs = read_jsonl(self.jsonl)
        move = [x for x in recs if x["type"] == "event"
                and x["kind"] == "failover"
                and x["fields"]["active"] == "paypal"][0]
        self.assertEqual(fo["previous"], "stripe")
        self.assertEqual(fo["reason"], move["fields"]["reason"])
        self.assertEqual(fo["change"], "switch")
        self.assertEqual(int(fo["since"]), move["ts_ns"] // 10**6)
        self.assertEqual(json.loads(fo["weights"]),
                         {"paypal": 1.0, "stripe": 0.0})
        opened = [x for x in recs if x["type"] == "event"
                  and x["kind"] == "circuit" and x["fields"]["to"] == "open"]
        self.assertEqual(len(opened), 1)
        self.assertEqual(circuit["from"], "closed")
        self.assertEqual(circuit["reason"], opened[0]["message"])
        self.assertEqual(int(circuit["since"]), opened[0]["ts_ns"] // 10**6)
        self.assertIn("open_until", circuit)
        self.assertTrue(0 < fo_ttl <= 1500, fo_ttl)
        self.assertTrue(0 < circuit_ttl <= 1500, circuit_ttl)
        self.assertEqual(r.hget("outpost:integration:stripe", "circuit"),
                         "open")
        self.assertEqual(r.hget("outpost:integration:stripe",
                                "failover_active"), "paypal")
        # The agent is gone: its state expires instead of lying.
        keys = ["outpost:failover:checkout", "outpost:circuit:stripe",
                "outpost:integration:stripe", "outpost:integration:paypal"]
        self.assertTrue(all(r.exists(k) for k in keys))
        self.assertTrue(wait_for(lambda: not any(r.exists(k) for k in keys),
                                 5))
        self.assertGreater(r.xlen("outpost:events"), 0)   # history stays

    # --- AUTH and errors ----------------------------------------------------

    def test_auth_with_password_and_acl_user(self):
        s = self.private(extra=["--requirepass", "top-Secret"])
        admin = redis.Redis(port=s.port, password="top-Secret")
        admin.execute_command("ACL", "SETUSER", "agent", "on", ">agent-Pw",
                              "~outpost:*", "&outpost:*", "+@all")
        for db, url in ((4, "redis://:top-Secret@127.0.0.1:%d/4" % s.port),
                        (5, "redis://agent:agent-Pw@127.0.0.1:%d/5"
                         % s.port)):
            conf = self.config('http "pay" { url = "%(u)s/health" }\n',
                               'redis "live" { url = "%s" }\n' % url)
            if os.path.exists(self.jsonl):
                os.remove(self.jsonl)
            rc, err = run_once(conf)
            self.assertEqual(rc, 0, err)
            self.assertNotIn("Secret", err)
            self.assertNotIn("agent-Pw", err)
            r = redis.Redis(port=s.port, db=db, password="top-Secret")
            self.assertEqual(r.hget("outpost:integration:pay", "success"),
                             b"true")
            self.assert_stream(r, read_jsonl(self.jsonl))

    def output_errors(self, err):
        return [x for x in log_lines(err) if x.get("component") == "redis"
                and x.get("level") == "error"]

    def test_wrong_password_then_right_one_delivers_the_queued(self):
        s = self.private(extra=["--requirepass", "top-Secret"])
        out = ('redis "live" { url = "redis://:wrong-Pass@127.0.0.1:%d" '
               'retry_initial = "50ms" retry_max = "100ms" }\n' % s.port)
        conf = self.config('http "pay" { url = "%(u)s/health" }\n', out)
        rc, err = run_once(conf, timeout=120)
        errors = self.output_errors(err)
        self.assertTrue(errors, err)
        self.assertEqual(errors[0]["integration"], "live")
        self.assertRegex(errors[0]["message"], r"127\.0\.0\.1:%d: auth: AUTH: "
                         r"WRONGPASS" % s.port)
        self.assertNotIn("wrong-Pass", err)
        self.assertNotIn("Secret", err)
        # Fixed: the first run's record was kept and goes out now.
        self.w.write_dropin("90-out.conf", out.replace(
            "wrong-Pass", "top-Secret") + 'jsonl "copy" { path = "%s" }\n'
            % self.jsonl)
        rc, err = run_once(conf)
        self.assertEqual(rc, 0, err)
        r = redis.Redis(port=s.port, password="top-Secret")
        recs = read_jsonl(self.jsonl)
        self.assertEqual(len([x for x in recs
                              if x["type"] == "measurement"]), 2)
        self.assert_stream(r, recs)

    def test_unreachable_host_names_the_output(self):
        s = self.private()
        port = s.port
        s.close()                           # nothing listens there now
        conf = self.config('http "pay" { url = "%(u)s/health" }\n',
                           'redis "live" { url = "redis://u:pw-Xy@127.0.0.1'
                           ':%d" connect_timeout = "300ms" }\n' % port)
        rc, err = run_once(conf, timeout=120)
        errors = self.output_errors(err)
        self.assertTrue(errors, err)
        self.assertEqual(errors[0]["integration"], "live")
        self.assertIn("127.0.0.1:%d: connect:" % port, errors[0]["message"])
        self.assertIn("records stay queued", errors[0]["message"])
        self.assertNotIn("pw-Xy", err)
        spill = os.path.join(self.w.state, "queue", "redis.live")
        self.assertTrue(os.listdir(spill), "the record was not kept")

    def test_wrongtype_dead_letters_only_its_records(self):
        s = self.private()
        r = redis.Redis(port=s.port, decode_responses=True)
        r.set("outpost:integration:ship", "not a hash")
        conf = self.config(
            'http "pay" { url = "%(u)s/health" }\n'
            'http "ship" { url = "%(u)s/health" }\n',
            'redis "live" { url = "%s" }\n' % s.url)
        for _ in range(2):
            rc, err = run_once(conf)
        recs = read_jsonl(self.jsonl)
        ship = [x for x in recs if x["type"] == "measurement"
                and x["tags"]["integration"] == "ship"]
        self.assertEqual(len(ship), 2)
        self.assertEqual(r.get("outpost:integration:ship"), "not a hash")
        self.assertEqual(r.pttl("outpost:integration:ship"), -1)  # untouched
        self.assertEqual(r.hget("outpost:integration:pay", "success"), "true")
        self.assert_stream(r, [x for x in recs if x not in ship])
        p = subprocess.run([OUTPOSTD, "-C", conf, "--dead-letters", "live"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        dead = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
        self.assertEqual(len(dead), 2, p.stdout)
        self.assertIn("WRONGTYPE", json.dumps(dead))
        self.assertIn(str(ship[0]["ts_ns"]), p.stdout)
        self.assertIn(str(ship[1]["ts_ns"]), p.stdout)

    # --- restarts -----------------------------------------------------------

    def flood(self, s, n_inputs=10):
        """Inputs that check fakeapi every 5ms, and the redis output."""
        inputs = "".join('http "i%02d" { url = "%%(u)s/health" }\n' % k
                         for k in range(n_inputs))
        return self.config(inputs, (
            'redis "live" { url = "%s" stream_maxlen = 0 '
            'retry_initial = "20ms" retry_max = "200ms" spill_after = "0s" '
            'timeout = "2s" }\n' % s.url), interval="5ms",
            decisions='health "default" { }\n')

    def start_logging_to_file(self, conf):
        """The daemon, its log in a file: thousands of checks log more than
        a pipe holds while nobody reads it."""
        log = open(self.w.file("outpostd.log"), "w")
        self.addCleanup(log.close)
        return subprocess.Popen([OUTPOSTD, "-f", "-C", conf],
                                stdout=subprocess.DEVNULL, stderr=log)

    def stop(self, d):
        d.terminate()
        return d.wait(60)

    def log(self):
        with open(self.w.file("outpostd.log")) as f:
            return f.read()

    def test_redis_restart_mid_stream_every_record_once(self):
        s = self.private(durable=True)
        r = redis.Redis(port=s.port, decode_responses=True)
        conf = self.flood(s)
        d = self.start_logging_to_file(conf)
        try:
            self.assertTrue(wait_for(lambda: xlen(r) > 3000,
                                     120))
            s.stop()
            time.sleep(1.0)
            s.start()
            self.assertTrue(wait_for(lambda: xlen(r)
                                     >= 10000, 180))
        finally:
            rc = self.stop(d)
        self.assertEqual(rc, 0, self.log()[-3000:])
        self.assertIn("again", self.log())      # it reconnected
        # What was still queued at the stop was kept on disk: a restart
        # delivers it.
        rc, err = run_once(conf, timeout=120)
        self.assertEqual(rc, 0, err[-3000:])
        recs = read_jsonl(self.jsonl)
        self.assertGreaterEqual(len(recs), 10000)
        self.assert_stream(r, recs)

    def test_sigkill_with_redis_down_then_restart(self):
        s = self.private(durable=True)
        r = redis.Redis(port=s.port, decode_responses=True)
        conf = self.flood(s, n_inputs=4)
        d = self.start_logging_to_file(conf)
        try:
            self.assertTrue(wait_for(lambda: xlen(r) > 500,
                                     120))
            s.stop()
            time.sleep(1.5)                     # spilled while down
        finally:
            d.kill()
            d.wait(10)
        seen = read_jsonl(self.jsonl)
        s.start()
        rc, err = run_once(conf, timeout=120)   # replays what was spilled
        self.assertEqual(rc, 0, err)
        recs = read_jsonl(self.jsonl)
        self.assertGreater(len(recs), len(seen))
        ids = [i for i, _ in self.stream(r)]
        self.assertEqual(len(ids), len(set(ids)), "a record twice")
        # Everything the copy saw before the kill reached Redis once.
        stream_keys = {(f["tags.integration"], int(f["ts_ns"]))
                       for _, f in self.stream(r)}
        lost = [x for x in seen if (x["tags"]["integration"], x["ts_ns"])
                not in stream_keys]
        self.assertEqual(lost, [])
        self.assertEqual(len(stream_keys), len(ids))

    # --- the documented reader ----------------------------------------------

    def test_documented_reader(self):
        with open(os.path.join(ROOT, "docs", "plugins", "redis.md")) as f:
            doc = f.read()
        code = re.search(r"```python\n(.*?)```", doc, re.S).group(1)
        s = self.private()
        path = self.w.file("reader.py")
        with open(path, "w") as f:
            f.write(code)
        conf = self.config("""
http "stripe" { url = "%(u)s/status/200" failover_group = "checkout"
                priority = 1 }
http "paypal" { url = "%(u)s/health" failover_group = "checkout"
                priority = 2 }
""", 'redis "live" { url = "%s/3" }\n' % s.url, interval="100ms",
            decisions="""
health "default"          { }
circuit_breaker "default" { failure_threshold = 3 open_for = "30s" }
failover "default"        { }
""")
        env = dict(os.environ, REDIS_URL="%s/3" % s.url, GROUP="checkout")
        python = ("/usr/bin/python3" if os.path.exists("/usr/bin/python3")
                  else sys.executable)  # the one python3-redis is for
        reader = subprocess.Popen([python, "-u", path], env=env,
                                  stdout=subprocess.PIPE, text=True)
        lines = []
        t = threading.Thread(target=lambda: lines.extend(reader.stdout))
        t.start()
        d = self.start_logging_to_file(conf)
        try:
            self.assertTrue(wait_for(
                lambda: "checkout -> stripe\n" in lines, 20), lines)
            self.api.fault("/status/200", status=503)
            self.assertTrue(wait_for(
                lambda: "checkout -> paypal\n" in lines, 20), lines)
        finally:
            self.stop(d)
            reader.terminate()
            reader.wait(10)
            t.join(10)
            reader.stdout.close()

    def test_config_check_refuses_unusable_urls(self):
        conf = self.config('http "pay" { url = "%(u)s/health" }\n',
                           'redis "tls" { url = "rediss://:pw-Q@h:6380" }\n'
                           'redis "typo" { url = "http://:pw-Q@h" }\n')
        p = subprocess.run([OUTPOSTD, "-t", "-C", conf], capture_output=True,
                           text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('90-out.conf:1: redis "tls": url: rediss:// (TLS) '
                      'needs hiredis 1.0 or later', p.stderr)
        self.assertIn('90-out.conf:2: redis "typo": url is not '
                      'redis://[[username]:password@]host[:port][/db]',
                      p.stderr)
        self.assertNotIn("pw-Q", p.stderr)


if __name__ == "__main__":
    unittest.main()

"""The kafka output against a Kafka-protocol broker (librdkafka's mock
cluster, tests/servers/kafka_mock): the messages a consumer reads (keys,
values, headers, order per integration) with tests/servers/kafka_consume
and kcat; a batch that partly fails resends only what was not
acknowledged; records the broker refuses for good go to the dead letters;
an outage mid-stream and a SIGKILL lose nothing; an unreachable cluster
and a refused login (tests/servers/kafka_sasl_deny.py) are named in the
log while the records stay queued; -t catches a bad
librdkafka property; format = "influx" writes line protocol."""
import glob
import json
import os
import re
import signal
import subprocess
import time
import unittest
import uuid

from harness import (BUILD, OUTPOSTD, PLUGIN_DIR, TEST_PLUGIN_DIR, FakeAPI,
                     Workdir, read_jsonl, run_once, start_daemon, stop_daemon,
                     wait_for)
from servers_private import start_private_kafka_mock

with open(os.environ["OUTPOST_TEST_SERVERS"]) as f:
    S = dict(line.strip().split("=", 1) for line in f if "=" in line)

CONSUME = os.path.join(BUILD, "kafka_consume")
SASL_DENY = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "servers", "kafka_sasl_deny.py")


def consume(brokers, topic):
    """Every message of topic, as kafka_consume prints them."""
    p = subprocess.run([CONSUME, brokers, topic, "20000"],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError(p.stderr)
    return [json.loads(line) for line in p.stdout.splitlines()]


def rkey(r):
    """A record's identity."""
    return (r["tags"]["integration"], r["name"], r["ts_ns"])


def unique_topic():
    return "t-" + uuid.uuid4().hex[:12]


class KafkaBase(unittest.TestCase):
    def setUp(self):
        self.w = Workdir()
        # The build's plugins and the test input kgen in one folder.
        self.plugins = self.w.file("plugins")
        os.makedirs(self.plugins)
        for d in (PLUGIN_DIR, TEST_PLUGIN_DIR):
            for f in glob.glob(os.path.join(d, "*.so")):
                if not f.endswith("badabi.so"):
                    os.symlink(f, os.path.join(self.plugins,
                                               os.path.basename(f)))
        self.ref = self.w.file("ref.jsonl")
        self.mtopic, self.etopic = unique_topic(), unique_topic()

    def tearDown(self):
        self.w.cleanup()

    def configure(self, inputs, kafka="", brokers=None, interval="30s",
                  timeout="5s"):
        """inputs, a jsonl output (the reference) and kafka "pipeline"."""
        conf = self.w.write_main(interval=interval, timeout=timeout,
                                 plugin_dir=self.plugins)
        self.w.write_dropin("10-in.conf", inputs)
        self.w.write_dropin("90-out.conf", """
jsonl "ref" { path = "%s" flush_interval = "50ms" }
kafka "pipeline" {
  brokers = "%s"
  measurements_topic = "%s"
  events_topic = "%s"
  flush_interval = "50ms"
  %s
}
""" % (self.ref, brokers or S["KAFKA_BROKERS"], self.mtopic, self.etopic,
            kafka))
        return conf

    def assert_in_order(self, msgs, ref, exactly_once):
        """Every reference measurement was consumed, each integration's in
        order (a resent record may repeat, right after what it follows
        when not exactly_once)."""
        got = {}
        for m in msgs:
            v = json.loads(m["value"])
            self.assertEqual(m["key"], v["tags"]["integration"])
            got.setdefault(m["key"], []).append(v["fields"]["seq"])
        want = {}
        for r in ref:
            if r["type"] == "measurement":
                want.setdefault(r["tags"]["integration"], []).append(
                    r["fields"]["seq"])
        self.assertEqual(sorted(got), sorted(want))
        for integ, seqs in want.items():
            if exactly_once:
                self.assertEqual(got[integ], seqs, integ)
                continue
            # At least once: dropping repeats gives the reference, and a
            # repeat only ever goes back to resend a run of records.
            first = []
            for s in got[integ]:
                if s not in first:
                    first.append(s)
            self.assertEqual(first, seqs, integ)
            self.assertTrue(all(s in first for s in got[integ]))


class KafkaTest(KafkaBase):

    # --- what a consumer reads ---------------------------------------------

    def test_messages_as_documented(self):
        api = FakeAPI()
        self.addCleanup(api.stop)
        api.fault("/health", status=503)
        # Small batches: the output reuses each kind's header sets from
        # one write to the next, and every message must still carry its
        # own kind's.
        conf = self.configure("""
kgen "alpha" { count = 30 }
kgen "beta"  { count = 20 }
http "crm"   { url = "%s/health" }
health "default" { }
""" % api.url, kafka="batch_size = 3")
        rc, err = run_once(conf)
        self.assertEqual(rc, 0, err)
        ref = read_jsonl(self.ref)
        ms = consume(S["KAFKA_BROKERS"], self.mtopic)
        es = consume(S["KAFKA_BROKERS"], self.etopic)
        self.assertEqual(len(ms), 51)
        self.assertGreaterEqual(len(es), 1)
        for m, kind in [(m, "measurement") for m in ms] + \
                       [(e, "event") for e in es]:
            self.assertEqual(m["headers"], {"outpost-type": kind,
                                            "outpost-schema": "1"})
            v = json.loads(m["value"])
            self.assertEqual(v.pop("schema"), 1)
            self.assertEqual(v["type"], kind)
            self.assertEqual(m["key"], v["tags"]["integration"])
            # The value is the record as jsonl writes it, and nothing else.
            self.assertIn(v, ref)
        # Each integration on one partition, in the order it was made.
        for integ in ("alpha", "beta"):
            mine = [m for m in ms if m["key"] == integ]
            self.assertEqual(len({m["partition"] for m in mine}), 1)
            self.assertEqual([json.loads(m["value"]) for m in mine],
                             [dict(r, schema=1) for r in ref
                              if r["type"] == "measurement"
                              and r["tags"]["integration"] == integ])
        ev = json.loads(es[0]["value"])
        self.assertEqual((ev["kind"], ev["integration"]),
                         ("state_change", "crm"))
        # kcat reads the same messages, headers and all.
        p = subprocess.run(["kcat", "-C", "-b", S["KAFKA_BROKERS"], "-t",
                            self.mtopic, "-e", "-q", "-f", "%k\t%h\t%s\n"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 51)
        for line in lines:
            k, h, s = line.split("\t")
            self.assertEqual(h, "outpost-type=measurement,outpost-schema=1")
            self.assertEqual(json.loads(s)["tags"]["integration"], k)

    def test_influx_lines_parse(self):
        conf = self.configure('kgen "alpha" { count = 5 }\n'
                              'kgen "b, =eta" { count = 5 }\n',
                              kafka='format = "influx"')
        rc, err = run_once(conf)
        self.assertEqual(rc, 0, err)
        ref = {(r["tags"]["integration"], r["ts_ns"]): r
               for r in read_jsonl(self.ref)}
        ms = consume(S["KAFKA_BROKERS"], self.mtopic)
        self.assertEqual(len(ms), 10)
        line = re.compile(
            r'^(?P<m>(?:[^ ,\\]|\\.)+)(?P<tags>(?:,(?:[^ ,=\\]|\\.)+='
            r'(?:[^ ,=\\]|\\.)+)*) (?P<fields>(?:[^ ,=\\]|\\.)+=(?:"(?:[^"\\]'
            r'|\\.)*"|[-0-9.e+]+i?|true|false)(?:,(?:[^ ,=\\]|\\.)+=(?:"(?:'
            r'[^"\\]|\\.)*"|[-0-9.e+]+i?|true|false))*) (?P<ts>-?\d+)$')
        unescape = lambda s: re.sub(r"\\(.)", r"\1", s)
        for m in ms:
            self.assertEqual(m["headers"], {"outpost-type": "measurement",
                                            "outpost-schema": "1"})
            x = line.match(m["value"])
            self.assertIsNotNone(x, m["value"])
            tags = dict(
                (unescape(k), unescape(v)) for k, v in re.findall(
                    r",((?:[^ ,=\\]|\\.)+)=((?:[^ ,=\\]|\\.)+)",
                    x.group("tags")))
            r = ref[(tags["integration"], int(x.group("ts")))]
            self.assertEqual(x.group("m"), "kgen")
            self.assertEqual(tags, r["tags"])
            self.assertEqual(m["key"], r["tags"]["integration"])
            self.assertIn("seq=%di" % r["fields"]["seq"], x.group("fields"))

    def test_full_local_queue_is_served_not_lost(self):
        # librdkafka holds 10 messages at most: produce() answers
        # QUEUE_FULL most of the time; the output serves reports and goes
        # on, within the same write.
        conf = self.configure('kgen "alpha" { count = 300 }\n',
                              kafka='rdkafka = {"queue.buffering.max.'
                                    'messages=10"}')
        rc, err = run_once(conf)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("acknowledged", err)
        ms = consume(S["KAFKA_BROKERS"], self.mtopic)
        self.assert_in_order(ms, read_jsonl(self.ref), exactly_once=True)

    # --- -t and an unreachable cluster -------------------------------------

    def test_bad_property_is_refused_at_its_line(self):
        conf = self.w.write_main(plugin_dir=self.plugins)
        self.w.write_dropin("90-kafka.conf", """kafka "ok" { brokers = "x:9092"
  rdkafka = {"linger.ms=20"} }
kafka "bogus" { brokers = "x:9092"
  rdkafka = {"bogus.prop=1"} password = "hunter2" }
kafka "idem" { brokers = "x:9092" rdkafka = {"enable.idempotence=false"} }
""")
        p = subprocess.run([OUTPOSTD, "-t", "-C", conf], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        # At the line of the option at fault.
        self.assertIn('90-kafka.conf:4: kafka "bogus": rdkafka: librdkafka '
                      'rejects property bogus.prop', p.stderr)
        self.assertIn('90-kafka.conf:5: kafka "idem": rdkafka: '
                      'enable.idempotence is set by the kafka output',
                      p.stderr)
        self.assertNotIn('"ok"', p.stderr)
        self.assertNotIn("hunter2", p.stderr)

    def test_unreachable_cluster_is_named_and_records_stay_queued(self):
        conf = self.configure('kgen "alpha" { count = 20 interval = "200ms" }'
                              '\n', brokers="127.0.0.1:1", timeout="1s",
                              kafka='spill_after = "0s" password = "hunter2"')
        d = start_daemon(conf)
        spill = os.path.join(self.w.state, "queue", "kafka.pipeline")
        time.sleep(3)                   # a few writes of 1 s fail
        rc, err = stop_daemon(d)
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r'"component":"kafka","operation":"write",'
                         r'"integration":"pipeline".*0 of \d+ records acknowledged by brokers '
                         r'127.0.0.1:1')
        self.assertNotIn("hunter2", err)
        # Kept: spilled to disk, nothing dropped or dead-lettered.
        self.assertTrue(glob.glob(spill + "/*"))
        # The queue's closing account says none was dropped.
        self.assertIn("0 dropped in all since start", err)
        self.assertNotRegex(err, r"[1-9]\d* (records )?dropped")
        p = subprocess.run([OUTPOSTD, "-C", conf, "--dead-letters",
                            "pipeline"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.stdout.strip(), "")


    def test_wrong_password_is_named_and_records_stay_queued(self):
        # A listener that refuses every SASL login, as a broker does a
        # wrong password (librdkafka's mock cluster has no SASL).
        deny = subprocess.Popen(["python3", SASL_DENY],
                                stdout=subprocess.PIPE, text=True)
        self.addCleanup(deny.stdout.close)
        self.addCleanup(deny.wait)
        self.addCleanup(deny.terminate)
        port = deny.stdout.readline().split()[1]
        conf = self.configure(
            'kgen "alpha" { count = 20 interval = "200ms" }\n',
            brokers="127.0.0.1:" + port, timeout="1s", kafka="""
  spill_after = "0s" username = "outpost" password = "hunter2"
  rdkafka = {"security.protocol=sasl_plaintext", "sasl.mechanisms=PLAIN"}""")
        d = start_daemon(conf)
        spill = os.path.join(self.w.state, "queue", "kafka.pipeline")
        time.sleep(3)                   # a few writes of 1 s fail
        rc, err = stop_daemon(d)
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r'"component":"kafka","operation":"write",'
                         r'"integration":"pipeline".*0 of \d+ records '
                         r'acknowledged by brokers 127.0.0.1:%s; .*the '
                         r'cluster refuses the login \(check username, '
                         r'password and the SASL settings in rdkafka\): '
                         r'.*Invalid username or password' % port)
        # Every failed write says why, not only the first.
        failed = [l for l in err.splitlines() if "acknowledged" in l]
        self.assertGreaterEqual(len(failed), 2, err)
        for l in failed:
            self.assertIn("Invalid username or password", l)
        self.assertNotIn("hunter2", err)
        self.assertTrue(glob.glob(spill + "/*"))
        self.assertIn("0 dropped in all since start", err)
        p = subprocess.run([OUTPOSTD, "-C", conf, "--dead-letters",
                            "pipeline"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.stdout.strip(), "")


class KafkaPrivateTest(KafkaBase):
    """Tests that break the cluster: each on its own mock cluster."""

    def start_mock(self, brokers=1, partitions=1):
        mock = start_private_kafka_mock(brokers, (
            "%s:%d" % (self.mtopic, partitions),
            "%s:%d" % (self.etopic, partitions)))
        self.addCleanup(mock.stop)
        return mock

    def test_partial_failure_resends_only_the_unacknowledged(self):
        mock = self.start_mock()
        # Small produce requests, several in flight: the third one fails
        # with an error librdkafka does not retry by itself.
        conf = self.configure('kgen "alpha" { count = 50 }\n',
                              brokers=mock.bootstrap, kafka="""
  rdkafka = {"batch.num.messages=10", "linger.ms=50"}
  retry_initial = "20ms" """)
        mock.command("produce-errors 0 0 29")   # TOPIC_AUTHORIZATION_FAILED
        rc, err = run_once(conf)
        self.assertEqual(rc, 0, err)
        ms = consume(mock.bootstrap, self.mtopic)
        seqs = [json.loads(m["value"])["fields"]["seq"] for m in ms]
        m = re.search(r"(\d+) of 50 records acknowledged", err)
        self.assertIsNotNone(m, err)
        acked = int(m.group(1))
        self.assertEqual(acked, 20, err)
        # The acknowledged prefix once, then the rest, once.
        self.assertEqual(seqs, list(range(50)))
        self.assertIn("Broker: Topic authorization failed", err)

    def dead_letters(self, conf):
        p = subprocess.run([OUTPOSTD, "-C", conf, "--dead-letters",
                            "pipeline"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_too_large_record_is_dead_lettered_and_the_rest_goes_on(self):
        mock = self.start_mock(partitions=2)
        conf = self.configure(
            'kgen "alpha" { count = 30 pad_bytes = 2000000 pad_every = 7 }\n',
            brokers=mock.bootstrap)
        rc, err = run_once(conf)
        self.assertEqual(rc, 1, err)    # --once: not all delivered
        self.assertIn("backend rejected 5 of 30 records for good (first: "
                      "Broker: Message size too large)", err)
        seqs = [json.loads(m["value"])["fields"]["seq"]
                for m in consume(mock.bootstrap, self.mtopic)]
        self.assertEqual(seqs, [s for s in range(30) if s % 7])
        dead = self.dead_letters(conf)
        self.assertEqual(dead.count("too large"), 5, dead)

    def test_unknown_topic_is_dead_lettered(self):
        mock = self.start_mock()
        self.mtopic = "no-such-topic"
        mock.command("topic-error no-such-topic 3")
        conf = self.configure('kgen "alpha" { count = 3 }\n',
                              brokers=mock.bootstrap, kafka="""
  rdkafka = {"topic.metadata.propagation.max.ms=500"}""")
        rc, err = run_once(conf)
        self.assertEqual(rc, 1, err)
        self.assertIn("backend rejected 3 of 3 records for good", err)
        dead = self.dead_letters(conf)
        self.assertEqual(len([l for l in dead.splitlines() if "kgen" in l]),
                         3, dead)

    STREAM = """
kgen "a" { count = 50 limit = 2500 interval = "100ms" }
kgen "b" { count = 50 limit = 2500 interval = "100ms" }
kgen "c" { count = 50 limit = 2500 interval = "100ms" }
kgen "d" { count = 50 limit = 2500 interval = "100ms" }
"""
    STREAM_KAFKA = """
  timeout = "1s" retry_initial = "50ms" retry_max = "500ms"
  spill_after = "1s" batch_size = 1000"""

    def stream(self, outage):
        """10,000 measurements of 4 integrations, 2,000 a second; with
        outage the cluster goes down after 1.5 s and comes back 2 s
        later. Returns what the consumer reads and the reference."""
        mock = self.start_mock(partitions=4)
        conf = self.configure(self.STREAM, brokers=mock.bootstrap,
                              kafka=self.STREAM_KAFKA)
        d = start_daemon(conf)
        if outage:
            time.sleep(1.5)
            mock.down()
            time.sleep(2)
            mock.up()
        done = lambda: len(consume(mock.bootstrap, self.mtopic)) >= 10000
        self.assertTrue(wait_for(done, 90, 0.5))
        rc, err = stop_daemon(d)
        self.assertEqual(rc, 0, err)
        ref = read_jsonl(self.ref)
        self.assertEqual(len(ref), 10000)
        if outage:
            self.assertIn("records acknowledged", err)
        return consume(mock.bootstrap, self.mtopic), ref

    def test_stream_exactly_once_while_the_cluster_stays_up(self):
        msgs, ref = self.stream(outage=False)
        self.assertEqual(len(msgs), 10000)
        self.assert_in_order(msgs, ref, exactly_once=True)

    def test_stream_through_an_outage_at_least_once_in_order(self):
        msgs, ref = self.stream(outage=True)
        self.assert_in_order(msgs, ref, exactly_once=False)

    def test_sigkill_with_the_cluster_down_loses_nothing(self):
        mock = self.start_mock(partitions=4)
        conf = self.configure("""
kgen "a" { count = 50 interval = "100ms" }
kgen "b" { count = 50 interval = "100ms" }
""", brokers=mock.bootstrap, kafka="""
  timeout = "1s" retry_initial = "50ms" retry_max = "200ms"
  spill_after = "0s" """)
        d = start_daemon(conf)
        time.sleep(1)
        mock.down()
        spill = os.path.join(self.w.state, "queue", "kafka.pipeline")
        self.assertTrue(wait_for(lambda: glob.glob(spill + "/*"), 20))
        time.sleep(1.5)
        before_kill = read_jsonl(self.ref)
        stop_daemon(d, signal.SIGKILL)
        mock.up()
        rc, err = run_once(conf)        # restart: replay, then one run
        self.assertEqual(rc, 0, err)
        got = {}
        for m in consume(mock.bootstrap, self.mtopic):
            v = json.loads(m["value"])
            got.setdefault(m["key"], []).append(v["ts_ns"])
        for integ in ("a", "b"):
            ts = [r["ts_ns"] for r in before_kill
                  if r["tags"]["integration"] == integ]
            self.assertGreater(len(ts), 100)
            seen = set(got[integ])
            self.assertEqual([t for t in ts if t not in seen], [], integ)
            first = []
            for t in got[integ]:
                if not first or t > first[-1]:
                    first.append(t)
            self.assertEqual(first, sorted(set(got[integ])),
                             "order lost for " + integ)
        # Same counts: what the reference has, Kafka has (distinct).
        ref_keys = {(r["tags"]["integration"], r["ts_ns"])
                    for r in read_jsonl(self.ref)}
        kafka_keys = {(k, t) for k, ts in got.items() for t in ts}
        self.assertLessEqual(ref_keys, kafka_keys)

if __name__ == "__main__":
    unittest.main()

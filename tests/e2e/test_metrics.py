"""GET /metrics against a running outpostd checking tests/fakeapi: the
exposition passes `promtool check metrics`, every family has HELP and TYPE
and is documented in docs/metrics.md with its type, the values match what
fakeapi makes of each integration (healthy, degraded, down), a real
Prometheus server scrapes it and answers integration_up with the same
values while it loads packaging/prometheus/outpost-rules.yml; the rules
pass `promtool check rules` and their unit tests (`promtool test rules`:
the "down for 5 m" rule without waiting 5 minutes); every metric the
Grafana dashboard queries exists; with require_token the scrape needs the
token."""
import json
import math
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from harness import FakeAPI, Workdir, start_daemon, stop_daemon, wait_for

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
RULES = os.path.join(ROOT, "packaging", "prometheus", "outpost-rules.yml")
RULES_TEST = os.path.join(ROOT, "packaging", "prometheus",
                          "outpost-rules.test.yml")
DASHBOARD = os.path.join(ROOT, "packaging", "grafana",
                         "outpost-dashboard.json")
DOC = os.path.join(ROOT, "docs", "metrics.md")
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, headers=None, timeout=10):
    """(status, body text); HTTP errors are answers too."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}}."""
    fams, cur = {}, None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            cur = fams.setdefault(name, {"samples": []})
            cur["help"] = help_
        elif line.startswith("# TYPE "):
            name, _, type_ = line[7:].partition(" ")
            fams.setdefault(name, {"samples": []})["type"] = type_
        elif line and not line.startswith("#"):
            m = SAMPLE.match(line)
            assert m, "not a sample line: %r" % line
            name, labels = m.group(1), dict(LABEL.findall(m.group(3) or ""))
            fam = re.sub(r"_(bucket|sum|count)$", "", name)
            if fam not in fams:
                fam = name
            fams[fam]["samples"].append((name, labels, float(m.group(4))))
    return fams


def value(fams, name, **labels):
    """The one sample of name whose labels include labels."""
    fam = re.sub(r"_(bucket|sum|count)$", "", name)
    found = [v for n, l, v in fams.get(fam, fams.get(name, {}))
             .get("samples", []) if n == name
             and all(l.get(k) == str(x) for k, x in labels.items())]
    if len(found) != 1:
        raise AssertionError("%s%r: %d samples" % (name, labels, len(found)))
    return found[0]


class MetricsTest(unittest.TestCase):
    """One agent for the class: three http integrations that fakeapi keeps
    healthy (/health), degraded (/delay/400 against degraded_latency =
    200ms) and down (/status/503), every second."""

    @classmethod
    def setUpClass(cls):
        cls.api = FakeAPI()
        cls.w = Workdir()
        cls.port = free_port()
        cls.base = "http://127.0.0.1:%d" % cls.port
        conf = cls.w.write_main(
            'api { listen = "127.0.0.1:%d" }\n' % cls.port,
            interval="1s", timeout="3s")
        u = cls.api.url
        cls.w.write_dropin("10-in.conf", (
            'http "good" { url = "%s/health" category = "crm" '
            'tier = "enterprise" }\n'
            'http "slow" { url = "%s/delay/400" category = "ai" '
            'provider = "openai" }\n'
            'http "broken" { url = "%s/status/503" category = "crm" '
            'tier = "basic" }\n') % (u, u, u))
        cls.w.write_dropin("50-decide.conf", (
            'health "default" { degraded_latency = "200ms" }\n'
            'circuit_breaker "default" { }\n'
            'sla "default" { }\n'
            'alert "default" { consecutive_failures = 2 }\n'))
        cls.w.write_dropin("90-out.conf", 'jsonl "out" { path = "%s" }\n'
                           % cls.w.file("records.jsonl"))
        cls.proc = start_daemon(conf)

        def ready():
            try:
                st, body = http_get(cls.base + "/metrics", timeout=2)
            except OSError:
                return False
            if st != 200:
                return False
            f = parse(body)
            up = {l["integration"] for _, l, _ in
                  f["integration_up"]["samples"]}
            alerts = value(f, "alerts_total", severity="error") + value(
                f, "alerts_total", severity="critical") + value(
                f, "alerts_total", severity="warning")
            checks = min(v for n, _, v in
                         f["integration_checks_total"]["samples"])
            return (up == {"good", "slow", "broken"} and alerts >= 1
                    and checks >= 2)
        if not wait_for(ready, timeout=30, step=0.2):
            rc, err = stop_daemon(cls.proc)
            cls.api.stop()
            cls.w.cleanup()
            raise AssertionError("no metrics for the three integrations:\n"
                                 + err[-3000:])

    @classmethod
    def tearDownClass(cls):
        rc, err = stop_daemon(cls.proc)
        cls.api.stop()
        cls.w.cleanup()
        if rc != 0:
            raise AssertionError("outpostd exited %d:\n%s" % (rc, err))

    def scrape(self, query=""):
        st, body = http_get(self.base + "/metrics" + query)
        self.assertEqual(st, 200, body)
        return body

    # --- the exposition --------------------------------------------------

    def test_promtool_check_metrics(self):
        body = self.scrape("?phases=all")
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=body,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout.strip() + p.stderr.strip(), "",
                         "promtool's lint complains")

    def test_content_type(self):
        req = urllib.request.Request(self.base + "/metrics")
        with urllib.request.urlopen(req, timeout=10) as r:
            self.assertEqual(r.headers["Content-Type"],
                             "text/plain; version=0.0.4; charset=utf-8")

    def test_every_family_has_help_type_and_a_doc_row(self):
        fams = parse(self.scrape())
        with open(DOC) as f:
            doc = f.read()
        rows = dict(re.findall(r"^\| `([a-z_:]+)` \| (\w+) \|", doc, re.M))
        for name, fam in fams.items():
            self.assertIn("help", fam, name)
            self.assertIn("type", fam, name)
            self.assertIn(name, rows, "%s is not in docs/metrics.md" % name)
            self.assertEqual(rows[name], fam["type"], name)
        for name in rows:
            self.assertIn(name, fams, "docs/metrics.md lists %s, /metrics "
                          "does not have it" % name)

    def test_integration_values(self):
        f = parse(self.scrape())
        self.assertEqual(value(f, "integration_up", integration="good",
                               category="crm", tier="enterprise"), 1.0)
        self.assertEqual(value(f, "integration_up", integration="slow",
                               category="ai", provider="openai"), 0.5)
        self.assertEqual(value(f, "integration_up", integration="broken",
                               tier="basic"), 0.0)
        self.assertEqual(value(f, "integration_health_score",
                               integration="good"), 1.0)
        self.assertEqual(value(f, "integration_health_score",
                               integration="broken"), 0.0)
        self.assertEqual(value(f, "integration_error_rate",
                               integration="good"), 0.0)
        self.assertEqual(value(f, "integration_error_rate",
                               integration="broken"), 1.0)
        self.assertEqual(value(f, "integration_uptime_ratio",
                               integration="good", window="24h"), 1.0)
        self.assertEqual(value(f, "integration_uptime_ratio",
                               integration="broken", window="24h"), 0.0)
        self.assertEqual(value(f, "integration_sla_target_ratio",
                               integration="good"), 0.999)
        self.assertEqual(value(f, "integration_sla_target_ratio",
                               integration="broken"), 0.99)
        self.assertEqual(value(f, "integration_sla_compliant",
                               integration="good"), 1.0)
        self.assertEqual(value(f, "integration_sla_compliant",
                               integration="broken"), 0.0)
        self.assertEqual(value(f, "integration_circuit_state",
                               integration="good"), 0.0)
        budget = value(f, "integration_error_budget_remaining",
                       integration="good")
        self.assertEqual(budget, 1.0)
        # Every check of "broken" failed, none of "good".
        checks = value(f, "integration_checks_total", integration="broken")
        self.assertGreaterEqual(checks, 2)
        self.assertEqual(value(f, "integration_check_failures_total",
                               integration="broken"), checks)
        self.assertEqual(value(f, "integration_check_failures_total",
                               integration="good"), 0)
        self.assertEqual(value(f, "alerts_active", severity="info"), 0)

    def test_phases_query(self):
        f = parse(self.scrape())
        phases = {l["phase"] for _, l, _ in
                  f["integration_response_time_seconds"]["samples"]}
        self.assertEqual(phases, {"total"})
        f = parse(self.scrape("?phases=total,ttfb"))
        phases = {l["phase"] for _, l, _ in
                  f["integration_response_time_seconds"]["samples"]}
        self.assertEqual(phases, {"total", "ttfb"})
        st, body = http_get(self.base + "/metrics?phases=total,latency")
        self.assertEqual(st, 400)
        self.assertIn('"latency" is not a phase', json.loads(body)["error"])

    def test_response_time_histogram(self):
        f = parse(self.scrape("?phases=all"))
        fam = f["integration_response_time_seconds"]
        self.assertEqual(fam["type"], "histogram")
        phases = {l["phase"] for _, l, _ in fam["samples"]
                  if l["integration"] == "slow"}
        self.assertEqual(phases, {"total", "dns", "connect", "tls", "ttfb",
                                  "transfer"})
        n = value(f, "integration_response_time_seconds_count",
                  integration="slow", phase="total")
        self.assertGreaterEqual(n, 1)
        # /delay/400: every check of "slow" is in (0.25, 0.5]; its ttfb
        # (the server's 400 ms) too.
        for phase in ("total", "ttfb"):
            c = value(f, "integration_response_time_seconds_count",
                      integration="slow", phase=phase)
            self.assertEqual(value(f, "integration_response_time_seconds_"
                                   "bucket", integration="slow",
                                   phase=phase, le="0.25"), 0, phase)
            self.assertEqual(value(f, "integration_response_time_seconds_"
                                   "bucket", integration="slow",
                                   phase=phase, le="0.5"), c, phase)
            self.assertEqual(value(f, "integration_response_time_seconds_"
                                   "bucket", integration="slow",
                                   phase=phase, le="+Inf"), c, phase)
            s = value(f, "integration_response_time_seconds_sum",
                      integration="slow", phase=phase)
            self.assertTrue(0.4 * c <= s <= 0.5 * c, (phase, s, c))
        # Buckets are cumulative.
        for integ in ("good", "slow", "broken"):
            prev = -1
            for n_, l, v in fam["samples"]:
                if (n_.endswith("_bucket") and l["integration"] == integ
                        and l["phase"] == "total"):
                    self.assertGreaterEqual(v, prev)
                    prev = v

    def test_agent_metrics(self):
        f = parse(self.scrape())
        self.assertGreaterEqual(value(f, "outpost_checks_total"), 3)
        self.assertGreater(value(f, "outpost_check_lateness_seconds_count"),
                           0)
        self.assertEqual(value(f, "outpost_check_lateness_seconds_bucket",
                               le="+Inf"),
                         value(f, "outpost_check_lateness_seconds_count"))
        out = dict(plugin="jsonl", output="out")
        self.assertGreater(value(f, "outpost_output_delivered_total", **out),
                           0)
        self.assertGreater(value(f, "outpost_output_write_seconds_count",
                                 **out), 0)
        for name in ("outpost_output_dropped_total",
                     "outpost_output_dead_lettered_total",
                     "outpost_output_spilled_bytes_total"):
            self.assertEqual(value(f, name, **out), 0, name)
        insts = {(l["plugin"], l["instance"]) for _, l, _ in
                 f["outpost_plugin_errors_total"]["samples"]}
        self.assertIn(("http", "broken"), insts)
        self.assertIn(("alert", "default"), insts)
        self.assertEqual(value(f, "outpost_plugin_errors_total",
                               plugin="jsonl", instance="out"), 0)

    # --- a real Prometheus ------------------------------------------------

    def test_prometheus_scrapes_and_loads_the_rules(self):
        tmp = tempfile.mkdtemp(prefix="outpost-prom-")
        try:
            port = free_port()
            conf = os.path.join(tmp, "prometheus.yml")
            with open(conf, "w") as f:
                f.write("global:\n  scrape_interval: 1s\n"
                        "  evaluation_interval: 1s\n"
                        "rule_files:\n  - %s\n"
                        "scrape_configs:\n"
                        "  - job_name: outpost\n"
                        "    params:\n"
                        "      phases: [all]\n"
                        "    static_configs:\n"
                        "      - targets: ['127.0.0.1:%d']\n"
                        % (RULES, self.port))
            prom = subprocess.Popen(
                [PROMETHEUS, "--config.file=" + conf,
                 "--storage.tsdb.path=" + os.path.join(tmp, "data"),
                 "--web.listen-address=127.0.0.1:%d" % port],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                text=True)
            try:
                self.prometheus_checks(port)
            except Exception:
                prom.terminate()
                _, err = prom.communicate(timeout=30)
                print(err[-3000:])
                raise
            prom.terminate()
            prom.communicate(timeout=30)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def prometheus_checks(self, port):
        base = "http://127.0.0.1:%d" % port

        def query(q):
            st, body = http_get(base + "/api/v1/query?query="
                                + urllib.parse.quote(q))
            if st != 200:
                return None
            return json.loads(body)["data"]["result"]

        def three():
            try:
                r = query("integration_up")
            except OSError:
                return False
            return r is not None and len(r) == 3
        self.assertTrue(wait_for(three, timeout=60, step=0.5),
                        "Prometheus has no integration_up for the three")
        got = {r["metric"]["integration"]: float(r["value"][1])
               for r in query("integration_up")}
        self.assertEqual(got, {"good": 1.0, "slow": 0.5, "broken": 0.0})
        for r in query("integration_up"):
            self.assertEqual(r["metric"]["job"], "outpost")
        up = query('up{job="outpost"}')
        self.assertEqual([float(r["value"][1]) for r in up], [1.0])
        q = query('integration_response_time_seconds_count'
                  '{integration="slow",phase="ttfb"}')
        self.assertEqual(len(q), 1)
        # The rules: loaded, and IntegrationDown pending for "broken" only
        # (it fires after 5 minutes; promtool test rules checks that).
        st, body = http_get(base + "/api/v1/rules")
        self.assertEqual(st, 200)
        groups = {g["name"]: g for g in json.loads(body)["data"]["groups"]}
        self.assertEqual(set(groups), {"outpost-integrations",
                                       "outpost-agent"})
        for g in groups.values():
            for r in g["rules"]:
                self.assertEqual(r["health"], "ok", r)

        def pending():
            st, body = http_get(base + "/api/v1/alerts")
            alerts = json.loads(body)["data"]["alerts"]
            return {(a["labels"]["alertname"],
                     a["labels"].get("integration"), a["state"])
                    for a in alerts}
        self.assertTrue(wait_for(
            lambda: ("IntegrationDown", "broken", "pending") in pending(),
            timeout=30, step=0.5), pending())
        self.assertNotIn(("IntegrationDown", "good", "pending"), pending())
        self.assertIn(("IntegrationDegraded", "slow", "pending"), pending())

    # --- rules and dashboard -----------------------------------------------

    def test_promtool_check_rules(self):
        p = subprocess.run([PROMTOOL, "check", "rules", RULES],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("SUCCESS", p.stdout)

    def test_promtool_test_rules(self):
        p = subprocess.run([PROMTOOL, "test", "rules", RULES_TEST],
                           capture_output=True, text=True, timeout=60,
                           cwd=os.path.dirname(RULES_TEST))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("SUCCESS", p.stdout)

    def test_dashboard_queries_existing_metrics(self):
        with open(DASHBOARD) as f:
            dash = json.load(f)
        fams = parse(self.scrape())
        known = set(fams)
        for name, fam in fams.items():
            if fam["type"] == "histogram":
                known |= {name + "_bucket", name + "_sum", name + "_count"}
        with open(RULES) as f:
            known |= set(re.findall(r"record: (\S+)", f.read()))
        exprs = [t["expr"] for p in dash["panels"]
                 for t in p.get("targets") or []]
        self.assertGreater(len(exprs), 20)
        words = set()
        for e in exprs:
            e = re.sub(r'"[^"]*"', '""', e)       # label values
            words |= set(re.findall(r"[a-z_]+:[a-z_0-9:]+|[a-z_]+_[a-z_]+",
                                    e))
        promql = {"histogram_quantile", "group_left", "label_values",
                  "sum", "rate", "increase", "count", "vector", "sort"}
        for w in sorted(words - promql):
            if w.startswith(("integration", "outpost_", "failover_",
                             "alerts_")):
                self.assertIn(w, known, "the dashboard queries " + w)


class MetricsTokenTest(unittest.TestCase):
    """api { require_token = true }: /metrics needs the bearer token."""

    def test_scrape_needs_the_token(self):
        w = Workdir()
        try:
            port = free_port()
            with open(w.file("token"), "w") as f:
                f.write("s3cret-metrics-token\n")
            conf = w.write_main(
                'api { listen = "127.0.0.1:%d" require_token = true '
                'token_file = "%s" }\n' % (port, w.file("token")),
                interval="1s")
            w.write_dropin("90-out.conf", 'jsonl "out" { path = "%s" }\n'
                           % w.file("records.jsonl"))
            proc = start_daemon(conf)
            url = "http://127.0.0.1:%d/metrics" % port

            def up():
                try:
                    return http_get(url, timeout=2)[0] == 401
                except OSError:
                    return False
            ok = wait_for(up, timeout=20, step=0.1)
            st_bad, _ = http_get(url, {"Authorization": "Bearer nope"})
            st_ok, body = http_get(
                url, {"Authorization": "Bearer s3cret-metrics-token"})
            rc, err = stop_daemon(proc)
            self.assertTrue(ok, err)
            self.assertEqual(st_bad, 401)
            self.assertEqual(st_ok, 200)
            self.assertIn("# TYPE outpost_checks_total counter", body)
            self.assertNotIn("s3cret", body + err)
            self.assertEqual(rc, 0, err)
        finally:
            w.cleanup()


if __name__ == "__main__":
    unittest.main()

"""The `http` input end to end: outpostd --once against fakeapi (plain and
TLS, with certificates made here by the openssl CLI) and a small origin
server of the test's own (redirects, JSON arrays, a forward proxy).

Each test writes a few `http` sections, runs the daemon once and reads the
measurements the jsonl output wrote: every condition passing and failing,
every failure reason, phase timings, redirects, auth, connection reuse."""
import http.server
import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (OUTPOSTD, PLUGIN_DIR, TEST_PLUGIN_DIR, FakeAPI, Workdir,
                     read_jsonl, run_once, start_daemon, stop_daemon,
                     wait_for)

PHASES = ("dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "transfer_ms")


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_open(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def process_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


class Certs:
    """A test CA, a server certificate it signed (20 days left), one it
    signed that expired yesterday, and a self-signed one."""

    def __init__(self, d):
        self.dir = d
        j = lambda n: os.path.join(d, n)
        self.ca, self.ca_key = j("ca.pem"), j("ca.key")
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                "365", "-subj", "/CN=outpost test CA", "-keyout",
                self.ca_key, "-out", self.ca)
        with open(j("san.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        self.good = self._signed("good", "20")
        self.expired = self._signed("expired", "-1")
        self.selfsigned = (j("self.pem"), j("self.key"))
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                "30", "-subj", "/CN=127.0.0.1", "-addext",
                "subjectAltName=IP:127.0.0.1", "-keyout",
                self.selfsigned[1], "-out", self.selfsigned[0])

    def _signed(self, name, days):
        j = lambda n: os.path.join(self.dir, n)
        key, csr, pem = j(name + ".key"), j(name + ".csr"), j(name + ".pem")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj",
                "/CN=127.0.0.1", "-keyout", key, "-out", csr)
        openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey",
                self.ca_key, "-set_serial", str(abs(hash(name)) % 100000),
                "-days", days, "-extfile", j("san.ext"), "-out", pem)
        return pem, key


class Origin(http.server.BaseHTTPRequestHandler):
    """/r/<n>: n redirects, then fakeapi's /health; /json: an array body;
    anything else (a proxied absolute URL too): {"path": <request path>}."""
    target = None
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _send(self, code, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/r/"):
            n = int(self.path[3:])
            loc = "/r/%d" % (n - 1) if n > 1 else self.target + "/health"
            self._send(302, {"to": loc}, [("Location", loc)])
        elif self.path == "/json":
            self._send(200, {"data": [{"id": "abc", "n": 3}], "ok": True})
        elif self.path == "/ratelimited":
            self._send(429, {"error": "slow down"}, [
                ("Retry-After", "7"),
                ("x-ratelimit-remaining-requests", "0"),
                ("anthropic-ratelimit-tokens-remaining", "1234"),
                ("ratelimit-reset", "6m0s")])
        elif self.path == "/unauthorized":
            self._send(401, {"error": "bad key"})
        else:
            self._send(200, {"path": self.path})


class HttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="outpost-http-")
        cls.certs = Certs(cls.tmp.name)
        cls.api = FakeAPI()
        cls.tls = FakeAPI("--tls-cert", cls.certs.good[0],
                          "--tls-key", cls.certs.good[1])
        cls.expired = FakeAPI("--tls-cert", cls.certs.expired[0],
                              "--tls-key", cls.certs.expired[1])
        cls.selfsigned = FakeAPI("--tls-cert", cls.certs.selfsigned[0],
                                 "--tls-key", cls.certs.selfsigned[1])
        Origin.target = cls.api.url
        cls.origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
        threading.Thread(target=cls.origin.serve_forever,
                         daemon=True).start()
        cls.origin_url = "http://127.0.0.1:%d" % cls.origin.server_port

    @classmethod
    def tearDownClass(cls):
        cls.origin.shutdown()
        cls.origin.server_close()
        for s in (cls.api, cls.tls, cls.expired, cls.selfsigned):
            s.stop()
        cls.tmp.cleanup()

    def setUp(self):
        self.w = Workdir()

    def tearDown(self):
        self.api.clear()
        self.w.cleanup()

    def https(self, server):
        return "https://127.0.0.1:%d" % server.port

    def run_checks(self, sections, timeout="3s", env=None, plugin_dir=None):
        """Runs the sections once; returns {integration: fields}."""
        out = self.w.file("records.jsonl")
        conf = self.w.write_main(timeout=timeout,
                                 plugin_dir=plugin_dir or self.plugins())
        self.w.write_dropin("10-http.conf", sections)
        self.w.write_dropin("90-out.conf", 'jsonl "out" { path = "%s" }\n'
                            % out)
        rc, self.stderr = run_once(conf, env=env)
        self.assertEqual(rc, 0, self.stderr)
        return {r["tags"]["integration"]: r["fields"]
                for r in read_jsonl(out)}

    def plugins(self):
        """A plugin folder with http, jsonl and the hooks test input."""
        d = os.path.join(self.w.path, "plugins")
        if not os.path.isdir(d):
            os.makedirs(d)
            for src in (os.path.join(PLUGIN_DIR, "http.so"),
                        os.path.join(PLUGIN_DIR, "jsonl.so"),
                        os.path.join(TEST_PLUGIN_DIR, "hctest.so")):
                os.symlink(os.path.abspath(src),
                           os.path.join(d, os.path.basename(src)))
        return d

    def assertPass(self, f):
        self.assertTrue(f["success"], f.get("error"))
        self.assertNotIn("error", f)

    def assertError(self, f, text):
        self.assertFalse(f["success"], f)
        self.assertEqual(f["error"][:len(text)], text, f["error"])

    # --- status ---------------------------------------------------------

    def test_expect_status(self):
        u = self.api.url
        r = self.run_checks("""
http "ok"      { url = "%(u)s/health" }
http "default" { url = "%(u)s/status/503" }
http "listed"  { url = "%(u)s/status/404" expect_status = {404} }
http "notin"   { url = "%(u)s/status/503" expect_status = {200, 204} }
http "one"     { url = "%(u)s/health" expect_status = {204} }
""" % {"u": u})
        self.assertPass(r["ok"])
        self.assertEqual(r["ok"]["status_code"], 200)
        self.assertEqual(r["default"]["error"], "status: got 503, expected 2xx")
        self.assertPass(r["listed"])
        self.assertEqual(r["listed"]["status_code"], 404)
        self.assertEqual(r["notin"]["error"],
                         "status: got 503, expected one of 200, 204")
        self.assertEqual(r["one"]["error"], "status: got 200, expected 204")

    # --- body conditions -----------------------------------------------

    def test_body_contains_and_regex(self):
        u = self.api.url
        r = self.run_checks(r"""
http "contains"    { url = "%(u)s/health" body_contains = "ok" }
http "notcontains" { url = "%(u)s/health" body_contains = "down" }
http "regex"       { url = "%(u)s/health" body_regex = "\"status\": *\"o[k]\"" }
http "noregex"     { url = "%(u)s/health" body_regex = "^down$" }
""" % {"u": u})
        self.assertPass(r["contains"])
        self.assertEqual(r["notcontains"]["error"],
                         'condition: body_contains "down" not found')
        self.assertPass(r["regex"])
        self.assertEqual(r["noregex"]["error"],
                         'condition: body_regex "^down$" did not match')

    def test_json_path(self):
        u, o = self.api.url, self.origin_url
        r = self.run_checks("""
http "equal"    { url = "%(u)s/health" json_path = "status" json_equals = "ok" }
http "exists"   { url = "%(u)s/health" json_path = "status" }
http "differs"  { url = "%(u)s/health" json_path = "status" json_equals = "down" }
http "missing"  { url = "%(u)s/health" json_path = "data[0].id" }
http "index"    { url = "%(o)s/json" json_path = "data[0].id" json_equals = "abc" }
http "number"   { url = "%(o)s/json" json_path = "data[0].n" json_equals = "3" }
http "bool"     { url = "%(o)s/json" json_path = "ok" json_equals = "true" }
http "outrange" { url = "%(o)s/json" json_path = "data[5].id" }
""" % {"u": u, "o": o})
        for name in ("equal", "exists", "index", "number", "bool"):
            self.assertPass(r[name])
        self.assertEqual(r["differs"]["error"],
                         'condition: json_path status is ok, expected down')
        self.assertEqual(r["missing"]["error"],
                         "condition: json_path data[0].id not found")
        self.assertEqual(r["outrange"]["error"],
                         "condition: json_path data[5].id not found")

    def test_json_path_on_a_body_that_is_not_json(self):
        self.api.fault("/health", body="badjson")
        r = self.run_checks('http "bad" { url = "%s/health" '
                            'json_path = "status" }\n' % self.api.url)
        self.assertError(r["bad"], "condition: json_path status: body is "
                                   "not JSON")

    def test_json_path_on_a_body_over_max_body(self):
        # /health answers {"status":"ok",...}: cut at 5 bytes, it is too
        # large - not "not JSON"
        r = self.run_checks('http "big" { url = "%s/health" max_body = 5 '
                            'json_path = "status" }\n'
                            'http "fits" { url = "%s/health" max_body = 4096 '
                            'json_path = "status" }\n'
                            % (self.api.url, self.api.url))
        self.assertError(r["big"], "condition: json_path status: response "
                                   "body over max_body (5 bytes)")
        self.assertPass(r["fits"])

    def test_expect_header(self):
        u = self.api.url
        r = self.run_checks("""
http "present" { url = "%(u)s/health" expect_header = {"content-type"} }
http "equal"   { url = "%(u)s/health"
                 expect_header = {"Content-Type: application/json"} }
http "absent"  { url = "%(u)s/health" expect_header = {"X-Missing"} }
http "differs" { url = "%(u)s/health" expect_header = {"Content-Type: text/plain"} }
""" % {"u": u})
        self.assertPass(r["present"])
        self.assertPass(r["equal"])
        self.assertEqual(r["absent"]["error"],
                         "condition: header X-Missing missing")
        self.assertEqual(r["differs"]["error"],
                         'condition: header Content-Type is '
                         '"application/json", expected "text/plain"')

    def test_max_response(self):
        u = self.api.url
        r = self.run_checks("""
http "fast" { url = "%(u)s/health" max_response = "1s" }
http "slow" { url = "%(u)s/delay/300" max_response = "100ms" }
""" % {"u": u})
        self.assertPass(r["fast"])
        self.assertError(r["slow"], "condition: max_response 100 ms: took ")
        self.assertGreaterEqual(r["slow"]["response_ms"], 300)

    def test_invalid_conditions_are_refused(self):
        """Found when the config is read (so by `outpostd -t`), each with
        its file and line; with any of them nothing runs."""
        u = self.api.url
        out = self.w.file("records.jsonl")
        conf = self.w.write_main(plugin_dir=self.plugins())
        self.w.write_dropin("10-http.conf", """
http "badre"   { url = "%(u)s/health" body_regex = "(" }
http "badpath" { url = "%(u)s/health" json_path = "a..b" }
http "badca"   { url = "%(u)s/health" ca_file = "/nonexistent/ca.pem" }
http "notpem"  { url = "%(u)s/health" ca_file = "%(key)s" }
http "ftp"     { url = "ftp://127.0.0.1/" }
http "nourl"   { url = "not a url" }
http "header"  { url = "%(u)s/health" headers = {"NoColon"} }
http "fine"    { url = "%(u)s/health" }
""" % {"u": u, "key": self.certs.ca_key})
        self.w.write_dropin("90-out.conf", 'jsonl "out" { path = "%s" }\n'
                            % out)
        p = subprocess.run([OUTPOSTD, "-t", "-C", conf], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        for line, msg in (
                (2, 'option \'body_regex\' in http "badre": regex:'),
                (3, 'http "badpath": json_path: cannot read "a..b"'),
                (4, 'http "badca": ca_file: cannot read /nonexistent/ca.pem'),
                (5, 'http "notpem": ca_file: %s holds no PEM certificate'
                    % self.certs.ca_key),
                (6, 'http "ftp": url: the scheme must be http:// or '
                    'https://'),
                (7, 'http "nourl": url: not a URL'),
                (8, 'http "header": headers: entry 1 is not "Name: '
                    'value"')):
            self.assertIn("10-http.conf:%d: %s" % (line, msg), p.stderr)
        self.assertNotIn('"fine"', p.stderr)
        rc, err = run_once(conf)
        self.assertEqual(rc, 1)
        self.assertEqual(read_jsonl(out), [])

    # --- failure reasons -----------------------------------------------

    def test_failure_reasons(self):
        u = self.api.url
        r = self.run_checks("""
http "dns"     { url = "http://no-such-host.invalid/" }
http "connect" { url = "http://127.0.0.1:%(closed)d/" }
http "timeout" { url = "%(u)s/delay/3000" }
http "status"  { url = "%(u)s/status/500" }
http "cond"    { url = "%(u)s/health" body_contains = "nope" }
""" % {"u": u, "closed": closed_port()}, timeout="700ms")
        self.assertError(r["dns"], "dns: ")
        self.assertError(r["connect"], "connect: ")
        self.assertError(r["timeout"], "timeout: ")
        self.assertError(r["status"], "status: got 500")
        self.assertError(r["cond"], "condition: body_contains")
        # A timeout is curl's own (the check's time), not the scheduler's.
        self.assertLess(r["timeout"]["response_ms"], 1000)
        self.assertGreaterEqual(r["timeout"]["response_ms"], 650)
        self.assertNotIn("status_code", r["dns"])

    def test_dropped_connection(self):
        self.api.fault("/drop", drop=1)
        r = self.run_checks('http "drop" { url = "%s/drop" }\n'
                            % self.api.url)
        self.assertError(r["drop"], "transfer: ")

    # --- TLS --------------------------------------------------------------

    def test_tls(self):
        good, ca = self.https(self.tls), self.certs.ca
        r = self.run_checks("""
http "system"    { url = "%(good)s/health" }
http "ca"        { url = "%(good)s/health" ca_file = "%(ca)s" }
http "self"      { url = "%(self)s/health" }
http "insecure"  { url = "%(self)s/health" insecure = true }
http "certdays"  { url = "%(good)s/health" ca_file = "%(ca)s" min_cert_days = 10 }
http "certshort" { url = "%(good)s/health" ca_file = "%(ca)s" min_cert_days = 30 }
http "expired"   { url = "%(exp)s/health" ca_file = "%(ca)s" min_cert_days = 1 }
http "expiredk"  { url = "%(exp)s/health" insecure = true min_cert_days = 1 }
http "plain"     { url = "%(plain)s/health" min_cert_days = 1 }
http "wrongca"   { url = "%(good)s/health" ca_file = "%(selfpem)s" }
http "selfca"    { url = "%(self)s/health" ca_file = "%(selfpem)s" }
http "wrongcak"  { url = "%(good)s/health" ca_file = "%(selfpem)s"
                   reuse_connections = true }
""" % {"good": good, "ca": ca, "self": self.https(self.selfsigned),
       "exp": self.https(self.expired), "plain": self.api.url,
       "selfpem": self.certs.selfsigned[0]})
        # Our test CA is not the system's: without ca_file it fails.
        self.assertError(r["system"], "tls: ")
        self.assertPass(r["ca"])
        self.assertAlmostEqual(r["ca"]["cert_expiry_days"], 20, delta=0.1)
        self.assertGreater(r["ca"]["tls_ms"], 0)
        self.assertError(r["self"], "tls: ")
        self.assertIn("self-signed", r["self"]["error"])
        self.assertPass(r["insecure"])
        self.assertPass(r["certdays"])
        self.assertError(r["certshort"], "condition: min_cert_days 30: "
                                         "certificate expires in 20.0 days")
        self.assertError(r["expired"], "tls: ")
        self.assertIn("expired", r["expired"]["error"])
        self.assertError(r["expiredk"], "condition: min_cert_days 1: "
                                        "certificate expires in -")
        self.assertLess(r["expiredk"]["cert_expiry_days"], 0)
        self.assertError(r["plain"], "condition: min_cert_days 1: no "
                                     "certificate")
        self.assertNotIn("cert_expiry_days", r["plain"])
        # A ca_file is the only trust a check has, shared store (a new
        # connection per check) or not (reuse_connections).
        self.assertError(r["wrongca"], "tls: ")
        self.assertError(r["wrongcak"], "tls: ")
        self.assertPass(r["selfca"])

    # --- timings, redirects, bytes ---------------------------------------

    def test_phase_timings_add_up(self):
        r = self.run_checks("""
http "plain" { url = "%(u)s/delay/200" }
http "tls"   { url = "%(t)s/delay/100" ca_file = "%(ca)s" }
http "fail"  { url = "%(t)s/health" }
""" % {"u": self.api.url, "t": self.https(self.tls), "ca": self.certs.ca})
        for name, f in r.items():
            for p in PHASES:
                self.assertGreaterEqual(f[p], 0, (name, p))
            self.assertAlmostEqual(sum(f[p] for p in PHASES),
                                   f["response_ms"], delta=0.05, msg=name)
        self.assertEqual(r["plain"]["tls_ms"], 0)
        self.assertGreaterEqual(r["plain"]["ttfb_ms"], 195)
        self.assertGreater(r["tls"]["tls_ms"], 0)
        self.assertGreaterEqual(r["tls"]["ttfb_ms"], 95)
        self.assertGreater(r["fail"]["tls_ms"], 0)      # where it failed
        self.assertEqual(r["fail"]["ttfb_ms"], 0)
        self.assertEqual(r["plain"]["bytes"], len('{"delay_ms":200}'))

    def test_redirects(self):
        o = self.origin_url
        r = self.run_checks("""
http "follow" { url = "%(o)s/r/2" follow_redirects = true
                body_contains = "ok" }
http "stay"   { url = "%(o)s/r/2" }
http "limit"  { url = "%(o)s/r/3" follow_redirects = true max_redirects = 1 }
""" % {"o": o})
        self.assertPass(r["follow"])
        self.assertEqual(r["follow"]["redirects"], 2)
        self.assertEqual(r["follow"]["status_code"], 200)
        self.assertEqual(r["stay"]["error"], "status: got 302, expected 2xx")
        self.assertEqual(r["stay"]["redirects"], 0)
        self.assertError(r["limit"], "transfer: ")

    # --- request options -------------------------------------------------

    def test_auth_method_headers_body(self):
        u = self.api.url
        env = dict(os.environ, HTTP_TEST_PASSWORD="pass",
                   HTTP_TEST_TOKEN="s3cret-token")
        r = self.run_checks("""
http "basic"  { url = "%(u)s/echo" username = "user"
                password_env = "HTTP_TEST_PASSWORD"
                json_path = "headers.Authorization"
                json_equals = "Basic dXNlcjpwYXNz" }
http "bearer" { url = "%(u)s/echo" bearer_env = "HTTP_TEST_TOKEN"
                json_path = "headers.Authorization"
                json_equals = "Bearer s3cret-token" }
http "post"   { url = "%(u)s/echo" method = "POST" body = "hello"
                headers = {"Content-Type: text/plain", "X-Team: sales"}
                json_path = "body" json_equals = "hello" }
http "hdr"    { url = "%(u)s/echo" headers = {"X-Team: sales"}
                json_path = "headers.X-Team" json_equals = "sales" }
http "method" { url = "%(u)s/echo" method = "PUT"
                json_path = "method" json_equals = "PUT" }
http "agent"  { url = "%(u)s/echo" user_agent = "probe/9"
                json_path = "headers.User-Agent" json_equals = "probe/9" }
http "head"   { url = "%(u)s/health" method = "HEAD" }
""" % {"u": u}, env=env)
        for name, f in r.items():
            self.assertPass(f)
        self.assertEqual(r["head"]["bytes"], 0)
        self.assertNotIn("s3cret-token", self.stderr)

    def test_proxy_and_ip_version(self):
        r = self.run_checks("""
http "proxied" { url = "http://api.example.invalid/v1/x"
                 proxy = "%(o)s" json_path = "path"
                 json_equals = "http://api.example.invalid/v1/x" }
http "v4"      { url = "http://localhost:%(p)d/health" ip_version = "ipv4" }
http "v6"      { url = "http://127.0.0.1:%(p)d/health" ip_version = "ipv6" }
""" % {"o": self.origin_url, "p": self.api.port})
        self.assertPass(r["proxied"])
        self.assertPass(r["v4"])
        self.assertFalse(r["v6"]["success"])    # an IPv4 literal over IPv6

    # --- connections -----------------------------------------------------

    def collect_for(self, sections, seconds):
        out = self.w.file("records.jsonl")
        conf = self.w.write_main(interval="200ms", timeout="1s",
                                 plugin_dir=self.plugins())
        self.w.write_dropin("10-http.conf", sections)
        self.w.write_dropin("90-out.conf", 'jsonl "out" { path = "%s" }\n'
                            % out)
        p = start_daemon(conf)
        try:
            wait_for(lambda: len(read_jsonl(out)) >= 10, timeout=seconds)
        finally:
            rc, err = stop_daemon(p)
        self.assertEqual(rc, 0, err)
        by = {}
        for r in read_jsonl(out):
            # A check the agent itself was too late to judge (a loaded
            # machine) says so and is no verdict on the server: not ours
            # to assert on here.
            if r["fields"].get("reason") == "agent overloaded":
                continue
            by.setdefault(r["tags"]["integration"], []).append(r["fields"])
        return by

    def test_reuse_connections(self):
        u, t, ca = self.api.url, self.https(self.tls), self.certs.ca
        by = self.collect_for("""
http "fresh"   { url = "%(u)s/health" }
http "reuse"   { url = "%(u)s/health" reuse_connections = true }
http "reusetls" { url = "%(t)s/health" ca_file = "%(ca)s"
                  reuse_connections = true }
""" % {"u": u, "t": t, "ca": ca}, 10)
        for name in ("fresh", "reuse", "reusetls"):
            self.assertGreaterEqual(len(by[name]), 3, name)
            for f in by[name]:
                self.assertPass(f)
        self.assertEqual({f["connections"] for f in by["fresh"]}, {1})
        # The first check connects; the later ones reuse that connection.
        self.assertEqual(by["reuse"][0]["connections"], 1)
        self.assertEqual({f["connections"] for f in by["reuse"][1:]}, {0})
        later = by["reusetls"][1:]
        self.assertEqual({f["connections"] for f in later}, {0})
        self.assertEqual({f["tls_ms"] for f in later}, {0})
        # The certificate is still reported on a reused connection.
        for f in later:
            self.assertAlmostEqual(f["cert_expiry_days"], 20, delta=0.1)


    def test_reused_connection_closed_by_the_server(self):
        """A keep-alive connection the server drops while it is idle: the
        next check connects again and passes, and the dead socket does not
        keep the agent busy in the meantime."""
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(16)
        stop = threading.Event()

        def serve(conn):
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                             b"Content-Type: text/plain\r\n\r\nok")
                time.sleep(0.05)        # idle, then the server hangs up

        def accept():
            srv.settimeout(0.2)
            while not stop.is_set():
                try:
                    conn, _ = srv.accept()
                except socket.timeout:
                    continue
                threading.Thread(target=serve, args=(conn,),
                                 daemon=True).start()

        t = threading.Thread(target=accept, daemon=True)
        t.start()
        out = self.w.file("records.jsonl")
        conf = self.w.write_main(interval="300ms", timeout="1s",
                                 plugin_dir=self.plugins())
        self.w.write_dropin("10-http.conf", """
http "dropped" { url = "http://127.0.0.1:%d/" reuse_connections = true }
""" % srv.getsockname()[1])
        self.w.write_dropin("90-out.conf", 'jsonl "out" { path = "%s" }\n'
                            % out)
        p = start_daemon(conf)
        try:
            self.assertTrue(wait_for(lambda: len(read_jsonl(out)) >= 2))
            cpu0 = process_cpu_seconds(p.pid)
            time.sleep(2)
            busy = process_cpu_seconds(p.pid) - cpu0
        finally:
            rc, err = stop_daemon(p)
            stop.set()
            t.join()
            srv.close()
        self.assertEqual(rc, 0, err)
        fields = [r["fields"] for r in read_jsonl(out)]
        self.assertGreaterEqual(len(fields), 6)
        for f in fields:
            self.assertPass(f)
            self.assertEqual(f["connections"], 1)
        # Checking every 300 ms costs milliseconds, not a spinning core.
        self.assertLess(busy, 0.5)

    def test_new_connection_makes_a_full_tls_handshake(self):
        """A check with a new connection per run never resumes a TLS
        session, though the server offers tickets: tls_ms stays comparable
        and a replaced certificate is seen at the next check."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self.certs.good)
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(16)
        srv.settimeout(0.2)
        reused, stop = [], threading.Event()

        def serve():
            while not stop.is_set():
                try:
                    raw, _ = srv.accept()
                except socket.timeout:
                    continue
                try:
                    with ctx.wrap_socket(raw, server_side=True) as conn:
                        conn.recv(4096)
                        reused.append(conn.session_reused)
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2"
                                     b"\r\nConnection: close\r\n\r\nok")
                except (ssl.SSLError, OSError):
                    pass

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        try:
            by = self.collect_for("""
http "fresh" { url = "https://127.0.0.1:%d/" ca_file = "%s" }
""" % (srv.getsockname()[1], self.certs.ca), 10)
        finally:
            stop.set()
            t.join()
            srv.close()
        self.assertGreaterEqual(len(by["fresh"]), 3)
        for f in by["fresh"]:
            self.assertPass(f)
            self.assertEqual(f["connections"], 1)
            self.assertGreater(f["tls_ms"], 0)
            self.assertAlmostEqual(f["cert_expiry_days"], 20, delta=0.1)
        self.assertGreaterEqual(len(reused), 3)
        self.assertNotIn(True, reused)

    def test_reused_checks_share_one_http2_connection(self):
        """Reused checks that start together wait for the connection being
        opened to an HTTP/2 server and multiplex on it, instead of each
        opening its own (nghttpd, Debian's nghttp2-server)."""
        www = os.path.join(self.w.path, "www")
        os.makedirs(www)
        with open(os.path.join(www, "health"), "w") as f:
            f.write("ok\n")
        port = closed_port()
        server = subprocess.Popen(
            ["nghttpd", "-a", "127.0.0.1", "-d", www, str(port),
             self.certs.good[1], self.certs.good[0]],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.assertTrue(wait_for(lambda: port_open(port), timeout=10))
            sections = "".join(
                'http "h%d" { url = "https://127.0.0.1:%d/health" '
                'ca_file = "%s" reuse_connections = true }\n'
                % (i, port, self.certs.ca) for i in range(12))
            r = self.run_checks(sections)
        finally:
            server.terminate()
            server.wait(timeout=10)
        self.assertEqual(len(r), 12)
        for f in r.values():
            self.assertPass(f)
        self.assertEqual(sum(f["connections"] for f in r.values()), 1)

    # --- the engine's hooks (tests/plugins/hctest.c) ---------------------

    def test_hooks_chain_a_token_request(self):
        r = self.run_checks("""
hctest "oauth"  { url = "%(u)s/echo" scenario = "chain" }
hctest "broken" { url = "%(u)s/no-such-token-route" scenario = "chain" }
""" % {"u": self.api.url})
        f = r["oauth"]
        self.assertPass(f)
        self.assertEqual(f["steps"], 2)
        self.assertGreater(f["token_ms"], 0)
        self.assertGreaterEqual(f["response_ms"], f["token_ms"] - 0.5)
        self.assertAlmostEqual(sum(f[p] for p in PHASES), f["response_ms"],
                               delta=0.05)
        self.assertEqual(f["connections"], 2)
        # A failed first step ends the check with its own error.
        self.assertEqual(r["broken"]["error"],
                         "status: got 404, expected 2xx")
        self.assertNotIn("steps", r["broken"])

    def test_hooks_skip_without_credentials(self):
        r = self.run_checks('hctest "nokey" { url = "%s/health" '
                            'scenario = "skip" }\n' % self.api.url)
        f = r["nokey"]
        self.assertEqual(f["status_hint"], "unknown")
        self.assertEqual(f["reason"], "credentials missing")
        self.assertNotIn("success", f)
        self.assertNotIn("response_ms", f)

    def test_hooks_classify_api(self):
        o, u = self.origin_url, self.api.url
        r = self.run_checks("""
hctest "limited" { url = "%(o)s/ratelimited" scenario = "api" }
hctest "badkey"  { url = "%(o)s/unauthorized" scenario = "api" }
hctest "vendor"  { url = "%(u)s/status/502" scenario = "api" }
hctest "fine"    { url = "%(u)s/health" scenario = "api" }
hctest "network" { url = "http://127.0.0.1:%(c)d/" scenario = "api" }
""" % {"o": o, "u": u, "c": closed_port()})
        f = r["limited"]
        self.assertTrue(f["success"])
        self.assertEqual((f["status_hint"], f["reason"]),
                         ("degraded", "rate_limited"))
        self.assertEqual(f["retry_after"], 7)
        self.assertEqual(f["ratelimit_remaining_requests"], 0)
        self.assertEqual(f["ratelimit_tokens_remaining"], 1234)
        self.assertNotIn("ratelimit_reset", f)      # not a number
        self.assertEqual(f["status_code"], 429)
        f = r["badkey"]
        self.assertFalse(f["success"])
        self.assertEqual((f["status_hint"], f["reason"]),
                         ("down", "credentials"))
        self.assertEqual((r["vendor"]["status_hint"], r["vendor"]["reason"]),
                         ("down", "vendor"))
        self.assertPass(r["fine"])
        self.assertNotIn("status_hint", r["fine"])
        self.assertEqual(r["network"]["reason"], "network")


if __name__ == "__main__":
    unittest.main()

"""The dashboard (GET /dashboard) in a real headless chromium, driven over
the DevTools protocol (cdp.py), against the real daemon checking
tests/fakeapi: the page lists every configured integration, shows one
down without a reload when fakeapi takes it down (through the event
stream), acknowledges and silences an alert through its buttons, shows
the failover group and the SLA table, fits a phone, loads nothing from
outside 127.0.0.1 and logs no error. With require_token on, it asks for
the token first and works once given it.

Screenshots go to <build>/test-artifacts/dashboard-*.png.

Chromium starts slowly on a loaded machine: one browser and one daemon
per test class, generous timeouts."""
import base64
import hashlib
import json
import os
import re
import signal
import socket
import struct
import subprocess
import time
import unittest
import urllib.error
import urllib.request
import zlib

import cdp
from harness import BUILD, OUTPOSTD, FakeAPI, Workdir, wait_for

TOKEN = "dashboard-test-token-0123456789"
SECRET = "sk_test_outpost"              # stripe's key: must never show
INTERVAL = 1.0                          # seconds between checks
ARTIFACTS = os.path.join(BUILD, "test-artifacts")
NAMES = ["stripe", "paypal-web", "crm", "search", "mailer"]

# The cards on the page: [[name, status], ...]
JS_CARDS = ("Array.from(document.querySelectorAll('.card[data-name]'))"
            ".map(c => [c.dataset.name, c.dataset.status])")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def js_str(s):
    return json.dumps(s)


def png_info(data):
    """(width, height, distinct scanlines) of a PNG, by reading its
    chunks: a blank or broken screenshot has very few distinct lines."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    w = h = channels = None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            channels = {2: 3, 6: 4, 0: 1, 4: 2}[ctype]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = 1 + w * channels
    lines = {raw[i * stride + 1:(i + 1) * stride] for i in range(h)}
    return w, h, len(lines)


class Dashboard(unittest.TestCase):
    """The daemon, fakeapi and a browser for the class; require_token is
    the api section's option, inputs() the integrations."""
    require_token = False
    names = NAMES
    interval = INTERVAL

    @classmethod
    def inputs(cls, u):
        return """
payments "stripe" { secret = "%(s)s" base_url = "%(u)s/stripe"
                    status_page = "%(u)s/api/v2/summary.json"
                    tier = "enterprise" failover_group = "checkout"
                    priority = 1 }
http "paypal-web" { url = "%(u)s/health" category = "payments"
                    failover_group = "checkout" priority = 2 }
http "crm"        { url = "%(u)s/status/200" category = "internal"
                    tier = "professional" }
http "search"     { url = "%(u)s/echo" category = "internal" }
http "mailer"     { url = "%(u)s/status/204" category = "messaging"
                    expect_status = {204} }
""" % {"u": u, "s": SECRET}

    @classmethod
    def setUpClass(cls):
        os.makedirs(ARTIFACTS, exist_ok=True)
        cls.fake = FakeAPI()
        cls.w = Workdir()
        cls.port = free_port()
        cls.base = "http://127.0.0.1:%d" % cls.port
        token_file = cls.w.file("api.token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        u = cls.fake.url
        cls.conf = cls.w.write_main(
            interval="%gs" % cls.interval, timeout="2s",
            text='api { listen = "127.0.0.1:%d" token_file = "%s" '
                 'require_token = %s }\n'
                 % (cls.port, token_file, str(cls.require_token).lower()))
        cls.w.write_dropin("10-in.conf", cls.inputs(u))
        cls.w.write_dropin("50-decisions.conf", """
health "default"          { }
circuit_breaker "default" { failure_threshold = 3 open_for = "3s" }
sla "default"             { }
failover "default"        { }
alert "default"           { consecutive_failures = 2 repeat_interval = "1h" }
""")
        cls.w.write_dropin("90-out.conf", 'jsonl "out" { path = "%s" }\n'
                           % cls.w.file("records.jsonl"))
        # The log goes to a file: a pipe nobody reads while the browser
        # works would fill and stop the agent's loop at its next line.
        cls.log = open(cls.w.file("outpostd.log"), "w+")
        cls.daemon = subprocess.Popen([OUTPOSTD, "-f", "-C", cls.conf],
                                      stdout=subprocess.DEVNULL,
                                      stderr=cls.log)
        try:
            ok = wait_for(lambda: cls.listed() >= set(cls.names),
                          timeout=120, step=0.5)
            if not ok:
                raise RuntimeError("the API never listed every integration")
            cls.browser = cdp.Browser()
        except BaseException:
            cls.stop_all()
            raise

    @classmethod
    def stop_all(cls):
        if getattr(cls, "browser", None):
            cls.browser.close()
        cls.daemon.send_signal(signal.SIGTERM)
        rc = cls.daemon.wait(timeout=60)
        cls.log.seek(0)
        err = cls.log.read()
        cls.log.close()
        cls.fake.stop()
        cls.w.cleanup()
        return rc, err

    @classmethod
    def tearDownClass(cls):
        rc, err = cls.stop_all()
        assert rc == 0, err[-3000:]
        # The token and the vendor's key never reach the log either.
        assert TOKEN not in err and SECRET not in err

    @classmethod
    def listed(cls):
        """The names /api/v1/integrations lists now."""
        status, text, _ = cls.get("/api/v1/integrations", auth=True)
        if status != 200:
            return set()
        return {i["name"] for i in json.loads(text)["integrations"]}

    @classmethod
    def get(cls, path, auth=False, method="GET", body=None, headers=None):
        """(status, body text, headers) of a request to the API."""
        h = dict(headers or {})
        if auth:
            h["Authorization"] = "Bearer " + TOKEN
        if body is not None:
            h["Content-Type"] = "application/json"
            body = json.dumps(body).encode()
        req = urllib.request.Request(cls.base + path, data=body,
                                     method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode(), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), e.headers
        except OSError:
            return 0, "", {}

    def api_json(self, path):
        status, text, _ = self.get(path, auth=True)
        self.assertEqual(status, 200, text)
        return json.loads(text)

    def setUp(self):
        self.page = self.browser.new_page()

    def tearDown(self):
        try:
            self.browser.call("Target.closeTarget",
                              {"targetId": self.page.target})
        except cdp.CDPError:
            pass

    # --- what every test checks at its end ---------------------------------

    def assert_local_only(self):
        """Every request the page made went to the agent itself."""
        urls = self.page.requested_urls()
        self.assertTrue(urls)
        for u in urls:
            self.assertTrue(u.startswith(self.base + "/")
                            or u.startswith("data:"), u)

    def assert_clean_console(self, allow=()):
        errs = [e for e in self.page.console_errors()
                if not any(re.search(a, e) for a in allow)]
        self.assertEqual(errs, [])

    def assert_no_secret(self):
        html = self.page.evaluate("document.documentElement.outerHTML")
        self.assertNotIn(SECRET, html)
        self.assertNotIn(TOKEN, html)
        for u in self.page.requested_urls():
            self.assertNotIn(TOKEN, u)

    def cards(self):
        return dict(self.page.evaluate(JS_CARDS) or [])

    def wait_cards(self, timeout=60):
        """Until the page has a card, with a known status, for each
        integration."""
        def ready():
            c = self.cards()
            return all(c.get(n) not in (None, "unknown") for n in self.names)
        self.assertTrue(wait_for(ready, timeout=timeout, step=0.2),
                        "cards: %r" % self.cards())

    def screenshot(self, name, width, height, mobile):
        self.page.viewport(width, height, mobile=mobile)
        time.sleep(0.5)                 # let the layout settle
        path = os.path.join(ARTIFACTS, "dashboard-%s.png" % name)
        data = self.page.screenshot(path)
        w, h, lines = png_info(data)
        self.assertEqual((w, h), (width, height))
        self.assertGreater(len(data), 10000, path)
        self.assertGreater(lines, 40, "%s looks blank" % path)
        return path


class OpenDashboardTest(Dashboard):
    """Reads open (the default); acknowledging still needs the token."""

    def test_headers(self):
        """The page is served whole, with its type, its policy (whose
        hashes are those of its inline script and style), its ETag."""
        status, text, h = self.get("/dashboard")
        self.assertEqual(status, 200)
        self.assertEqual(h["Content-Type"], "text/html; charset=utf-8")
        self.assertEqual(h["Cache-Control"], "no-cache")
        self.assertEqual(h["X-Content-Type-Options"], "nosniff")
        csp = h["Content-Security-Policy"]
        self.assertIn("default-src 'none'", csp)
        self.assertIn("connect-src 'self'", csp)
        self.assertNotRegex(csp, r"unsafe-inline|unsafe-eval|https?:|\*")
        raw = text.encode()
        for tag, directive in (("script", "script-src"),
                               ("style", "style-src")):
            self.assertEqual(raw.count(b"<%s>" % tag.encode()), 1)
            body = raw.split(b"<%s>" % tag.encode())[1] \
                .split(b"</%s>" % tag.encode())[0]
            digest = base64.b64encode(hashlib.sha256(body).digest())
            self.assertIn("%s 'sha256-%s'" % (directive, digest.decode()),
                          csp)
        # Nothing in the page names another host.
        self.assertNotRegex(text, r"(src|href)=\"(https?:)?//")
        etag = h["ETag"]
        self.assertRegex(etag, r'^"[0-9a-f]{32}"$')
        status, text, h2 = self.get("/dashboard",
                                    headers={"If-None-Match": etag})
        self.assertEqual((status, text), (304, ""))
        self.assertEqual(h2["ETag"], etag)
        status, _, _ = self.get("/dashboard",
                                headers={"If-None-Match": '"other"'})
        self.assertEqual(status, 200)

    def test_live(self):
        page = self.page
        page.viewport(1280, 800)
        page.navigate(self.base + "/dashboard")
        self.wait_cards()
        self.assertEqual(set(self.cards()), set(NAMES))
        # Grouped by category, each card in its own category's section.
        cats = page.evaluate(
            "Object.fromEntries(Array.from(document.querySelectorAll("
            "'.category')).map(s => [s.dataset.category, Array.from("
            "s.querySelectorAll('.card')).map(c => c.dataset.name)]))")
        self.assertEqual(sorted(cats["internal"]), ["crm", "search"])
        self.assertEqual(sorted(cats["payments"]), ["paypal-web", "stripe"])
        self.assertEqual(cats["messaging"], ["mailer"])
        self.assertEqual(page.evaluate(
            "document.getElementById('overall').dataset.status"), "healthy")
        # The stripe card's figures, from the API.
        stripe = page.evaluate(
            "(() => { const c = document.querySelector("
            "'.card[data-name=\"stripe\"]'); return {"
            "ms: c.querySelector('.ms').textContent,"
            "succ: c.querySelector('.succ').textContent,"
            "circ: c.querySelector('.circ').textContent,"
            "vendor: c.querySelector('.vendor').textContent,"
            "sub: c.querySelector('.sub').textContent }; })()")
        self.assertRegex(stripe["ms"], r"^\d+(\.\d)? ms$")
        self.assertEqual(stripe["circ"], "closed")
        self.assertIn("enterprise", stripe["sub"])
        self.assertTrue(stripe["vendor"].startswith("none"), stripe)
        page.wait_js("document.querySelector('.card[data-name=\"stripe\"] "
                     "polyline').getAttribute('points').length > 0")

        navs = page.main_frame_navigations()
        page.evaluate("window.__probe = 42")

        # fakeapi takes stripe down: the page follows without a reload,
        # within a second of the API saying so.
        self.fake.fault("/stripe/v1/balance", status=503)
        api_down = page_down = None
        end = time.time() + 20 * INTERVAL
        while time.time() < end and page_down is None:
            if api_down is None:
                one = self.api_json("/api/v1/integrations/stripe")
                if one["integration"]["status"] == "down":
                    api_down = time.time()
            if self.cards().get("stripe") == "down":
                page_down = time.time()
            time.sleep(0.05)
        self.assertIsNotNone(page_down, "the page never showed stripe down")
        if api_down is not None:
            lag = page_down - api_down
            print("dashboard: stripe down on the page %.2f s after the API"
                  % lag)
            self.assertLess(lag, 1.5)
        self.assertEqual(page.main_frame_navigations(), navs)
        self.assertEqual(page.evaluate("window.__probe"), 42)
        self.assertEqual(page.evaluate(
            "document.getElementById('overall').dataset.status"), "down")
        page.wait_js("document.querySelector('.card[data-name=\"stripe\"] "
                     ".err').textContent.includes('503')", timeout=10)

        # The alert: acknowledge it through the page's button. The first
        # click meets the token prompt (a change needs the token); once
        # given, the button does it.
        sel = ".alert[data-integration=\"stripe\"]"
        page.wait_js("!!document.querySelector(%s)" % js_str(sel),
                     timeout=20 * INTERVAL)
        page.evaluate("document.querySelector(%s).querySelector('.ack')"
                      ".click()" % js_str(sel))
        page.wait_js("!document.getElementById('login').hidden")
        page.evaluate("document.getElementById('token').value = %s;"
                      "document.getElementById('login-form').requestSubmit()"
                      % js_str(TOKEN))
        page.wait_js("!!document.querySelector(%s + ' .ack:not(:disabled)')"
                     % js_str(sel))
        page.evaluate("document.querySelector(%s + ' .ack').click()"
                      % js_str(sel))

        def acked():
            for a in self.alerts():
                if a.get("integration") == "stripe" \
                        and a.get("status") == "acknowledged":
                    return True
            return False
        self.assertTrue(wait_for(acked, timeout=10), self.alerts())
        page.wait_js("document.querySelector(%s).dataset.status == "
                     "'acknowledged'" % js_str(sel), timeout=10)

        # Silence: the API lists a silence for stripe.
        page.evaluate("document.querySelector(%s + ' .silence').click()"
                      % js_str(sel))
        self.assertTrue(wait_for(lambda: "stripe" in json.dumps(
            self.api_json("/api/v1/silences")), timeout=10),
            self.api_json("/api/v1/silences"))

        # The failover group and the SLA table.
        page.wait_js("!!document.querySelector('.group[data-group="
                     "\"checkout\"] tr[data-name=\"paypal-web\"]')")
        rows = page.evaluate("Array.from(document.querySelectorAll("
                             "'#sla-rows tr[data-name]')).map(r => "
                             "r.dataset.name)")
        self.assertEqual(sorted(rows), sorted(NAMES))
        self.assertEqual(page.main_frame_navigations(), navs)

        self.screenshot("desktop", 1280, 800, mobile=False)
        # The whole page: a viewport as tall as the page, so that no card
        # is off screen (their content is not painted there).
        height = page.evaluate("document.documentElement.scrollHeight")
        page.viewport(1280, height)
        time.sleep(0.5)
        data = page.screenshot(os.path.join(ARTIFACTS,
                                            "dashboard-desktop-full.png"))
        self.assertGreater(png_info(data)[1], 800)
        # A phone: one column, nothing wider than the screen.
        page.viewport(390, 844, mobile=True)
        page.wait_js("getComputedStyle(document.querySelector('.grid'))"
                     ".gridTemplateColumns.split(' ').length == 1")
        self.assertEqual(page.evaluate("window.innerWidth"), 390)
        self.assertLessEqual(page.evaluate(
            "document.documentElement.scrollWidth"), 390)
        # The phone's own rules: the four counts on one line.
        self.assertEqual(page.evaluate(
            "new Set(Array.from(document.querySelectorAll('.count'))"
            ".map(c => c.offsetTop)).size"), 1)
        self.screenshot("phone", 390, 844, mobile=True)

        # Recovery shows too (after the breaker's open_for, when it opened
        # while the page was being looked at).
        self.fake.clear("/stripe/v1/balance")
        page.wait_js("document.querySelector('.card[data-name=\"stripe\"]')"
                     ".dataset.status == 'healthy'", timeout=30 * INTERVAL)
        self.assertEqual(page.main_frame_navigations(), navs)

        self.assert_local_only()
        self.assert_no_secret()
        # The one refused acknowledge (before the token) is the only
        # failed request; nothing else may log an error.
        self.assert_clean_console(allow=[r"status of 401"])

    def alerts(self):
        body = self.api_json("/api/v1/alerts")
        return body if isinstance(body, list) else body.get("alerts", [])


class TokenDashboardTest(Dashboard):
    """require_token: the page itself is served, then asks for the token;
    a wrong one is refused, the right one shows everything, live."""
    require_token = True

    def test_token(self):
        page = self.page
        status, _, _ = self.get("/api/v1/integrations")
        self.assertEqual(status, 401)
        status, _, _ = self.get("/dashboard")
        self.assertEqual(status, 200)

        page.viewport(1280, 800)
        page.navigate(self.base + "/dashboard")
        page.wait_js("!document.getElementById('login').hidden")
        self.assertTrue(page.evaluate(
            "document.getElementById('main').hidden"))
        self.assertEqual(self.cards(), {})
        self.screenshot("login", 1280, 800, mobile=False)

        page.evaluate("document.getElementById('token').value = 'wrong';"
                      "document.getElementById('login-form').requestSubmit()")
        page.wait_js("document.getElementById('login-msg').textContent"
                     ".includes('refused')")
        self.assertEqual(self.cards(), {})

        page.evaluate("document.getElementById('token').value = %s;"
                      "document.getElementById('login-form').requestSubmit()"
                      % js_str(TOKEN))
        self.wait_cards()
        self.assertEqual(page.evaluate(
            "sessionStorage.getItem('outpost.token')"), TOKEN)
        navs = page.main_frame_navigations()

        # Live with the token: the stream carries it too.
        self.fake.fault("/status/200", status=500)
        page.wait_js("document.querySelector('.card[data-name=\"crm\"]')"
                     ".dataset.status == 'down'", timeout=20 * INTERVAL)
        self.assertEqual(page.main_frame_navigations(), navs)
        self.fake.clear("/status/200")

        self.assert_local_only()
        self.assert_no_secret()
        self.assert_clean_console(allow=[r"status of 401"])


class ManyDashboardTest(Dashboard):
    """1,001 integrations in 10 categories: the page shows them all, and
    one going down still shows within a second of the API, without a
    reload; sparklines are fetched for the cards on screen only. The
    thousand are checked every 20 s (50 checks a second: the suite runs
    other tests beside this one), the one that goes down every second."""
    COUNT = 1000
    interval = 20.0
    names = ["victim"] + ["svc-%04d" % i for i in range(COUNT)]

    @classmethod
    def inputs(cls, u):
        lines = ['http "victim" { url = "%s/status/200" category = "cat-0" '
                 'interval = "1s" }' % u]
        for i in range(cls.COUNT):
            lines.append('http "svc-%04d" { url = "%s/health" category = '
                         '"cat-%d" }' % (i, u, i % 10))
        return "\n".join(lines) + "\n"

    def test_many(self):
        page = self.page
        page.viewport(1280, 800)
        t0 = time.time()
        page.navigate(self.base + "/dashboard")
        page.wait_js("document.querySelectorAll('.card[data-name]').length"
                     " == %d" % len(self.names), timeout=60)
        shown = time.time() - t0
        print("dashboard: %d cards shown %.2f s after the navigation"
              % (len(self.names), shown))
        self.wait_cards(timeout=60)
        self.assertEqual(page.evaluate(
            "document.querySelectorAll('.category').length"), 10)
        navs = page.main_frame_navigations()

        self.fake.fault("/status/200", status=503)
        api_down = page_down = None
        end = time.time() + 20
        while time.time() < end and page_down is None:
            if api_down is None and self.api_json(
                    "/api/v1/integrations/victim")["integration"][
                    "status"] == "down":
                api_down = time.time()
            if page.evaluate("document.querySelector('.card[data-name="
                             "\"victim\"]').dataset.status") == "down":
                page_down = time.time()
            time.sleep(0.05)
        self.assertIsNotNone(page_down, "the page never showed victim down")
        self.assertIsNotNone(api_down)
        print("dashboard: victim down on the page %.2f s after the API "
              "(%d cards)" % (page_down - api_down, len(self.names)))
        self.assertLess(page_down - api_down, 1.5)
        self.assertEqual(page.main_frame_navigations(), navs)
        self.assertEqual(page.evaluate(
            "document.getElementById('overall').dataset.status"), "down")

        # Only the cards near the screen asked for their last hour.
        histories = [u for u in page.requested_urls()
                     if "?period=1h" in u]
        print("dashboard: %d sparklines fetched of %d cards"
              % (len(histories), len(self.names)))
        self.assertGreater(len(histories), 0)
        self.assertLess(len(histories), 100)
        self.screenshot("many", 1280, 800, mobile=False)
        self.fake.clear("/status/200")
        self.assert_local_only()
        self.assert_clean_console()


if __name__ == "__main__":
    unittest.main()

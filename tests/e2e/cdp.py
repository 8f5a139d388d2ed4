"""A small Chrome DevTools Protocol driver for the end-to-end tests: starts
Debian's headless chromium on a temporary profile, attaches to one page
over the browser's websocket (python3-websocket) and lets a test call
protocol methods, evaluate JavaScript and wait for events.

    with Browser() as b:
        page = b.new_page()
        page.navigate("http://127.0.0.1:8003/dashboard")
        page.evaluate("document.title")
        page.screenshot("/tmp/shot.png")

One websocket carries everything: the page's session is attached with
flatten=true, so its commands and events carry a sessionId. A reader
thread takes every message off the socket; answers wake the caller that
waits for them, events are appended to the session's list, which a test
reads (events()) or waits on (wait_event()). Nothing here loads anything
from outside the machine: the browser runs with its background network
features off, and the tests check the Network domain's requests.
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

try:
    import websocket
except ImportError:     # Debian's python3-websocket, under another python
    import sys
    sys.path.append("/usr/lib/python3/dist-packages")
    import websocket

CHROMIUM = os.environ.get("OUTPOST_CHROMIUM", "chromium")

# Every flag that keeps chromium from phoning home or needing a desktop.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--no-default-browser-check",
    "--disable-default-apps", "--disable-extensions",
    "--disable-domain-reliability", "--disable-client-side-phishing-detection",
    "--metrics-recording-only", "--mute-audio", "--password-store=basic",
    "--use-mock-keychain", "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
]


class CDPError(Exception):
    """A protocol method answered with an error, or the browser went away."""


class Browser:
    """One chromium process and the websocket to its browser target."""

    def __init__(self, start_timeout=90):
        self.profile = tempfile.mkdtemp(prefix="outpost-chromium-")
        self.log = open(os.path.join(self.profile, "chromium.log"), "w+")
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, "--user-data-dir=" + self.profile,
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        try:
            port, path = self._active_port(start_timeout)
            self.ws = websocket.create_connection(
                "ws://127.0.0.1:%d%s" % (port, path), timeout=None,
                suppress_origin=True)
        except BaseException:
            self._kill()
            raise
        self.lock = threading.Condition()
        self.next_id = 0
        self.answers = {}               # id -> message
        self.sessions = {}              # sessionId -> Page
        self.closed = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _active_port(self, timeout):
        """Chromium writes DevToolsActivePort (port, then the browser
        target's path) into the profile once it listens."""
        f = os.path.join(self.profile, "DevToolsActivePort")
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("chromium exited %d: %s"
                                   % (self.proc.returncode, self.output()))
            try:
                with open(f) as fp:
                    lines = fp.read().split("\n")
                if len(lines) >= 2 and lines[0] and lines[1]:
                    return int(lines[0]), lines[1]
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("chromium did not listen within %ds: %s"
                           % (timeout, self.output()))

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    def _read(self):
        while True:
            try:
                msg = json.loads(self.ws.recv())
            except Exception:           # socket closed: wake every waiter
                with self.lock:
                    self.closed = True
                    self.lock.notify_all()
                return
            with self.lock:
                if "id" in msg:
                    self.answers[msg["id"]] = msg
                else:
                    page = self.sessions.get(msg.get("sessionId"))
                    if page is not None:
                        page.log.append(msg)
                self.lock.notify_all()

    def call(self, method, params=None, session=None, timeout=60):
        """Send one command and wait for its answer; its result, or
        CDPError with the protocol's message."""
        with self.lock:
            self.next_id += 1
            mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        end = time.time() + timeout
        with self.lock:
            while mid not in self.answers:
                left = end - time.time()
                if self.closed or left <= 0:
                    raise CDPError("%s: %s" % (
                        method, "browser gone" if self.closed else
                        "no answer in %ss" % timeout))
                self.lock.wait(left)
            ans = self.answers.pop(mid)
        if "error" in ans:
            raise CDPError("%s: %s" % (method, ans["error"].get("message")))
        return ans.get("result", {})

    def new_page(self, url="about:blank"):
        """A new tab, attached; its Page, Runtime, Network and Log domains
        enabled so that their events are recorded from the start."""
        target = self.call("Target.createTarget", {"url": url})["targetId"]
        sid = self.call("Target.attachToTarget",
                        {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, sid, target)
        with self.lock:
            self.sessions[sid] = page
        for domain in ("Page", "Runtime", "Network", "Log"):
            page.call(domain + ".enable")
        return page

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def close(self):
        try:
            self.call("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.ws.close()
        except Exception:
            pass
        self._kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Page:
    """One attached tab. log holds every event of its session, in order."""

    def __init__(self, browser, session, target):
        self.b = browser
        self.session = session
        self.target = target
        self.log = []

    def call(self, method, params=None, timeout=60):
        return self.b.call(method, params, self.session, timeout)

    def events(self, method):
        with self.b.lock:
            return [m["params"] for m in self.log if m["method"] == method]

    def wait_event(self, method, pred=lambda p: True, timeout=60, start=0):
        """The first event `method` at or after log index start for which
        pred holds; CDPError when none comes within timeout."""
        end = time.time() + timeout
        with self.b.lock:
            i = start
            while True:
                while i < len(self.log):
                    m = self.log[i]
                    i += 1
                    if m["method"] == method and pred(m["params"]):
                        return m["params"]
                left = end - time.time()
                if self.b.closed or left <= 0:
                    raise CDPError("no %s within %ss" % (method, timeout))
                self.b.lock.wait(left)

    def mark(self):
        """The log's length now, for wait_event(start=...)."""
        with self.b.lock:
            return len(self.log)

    def navigate(self, url, timeout=60):
        start = self.mark()
        res = self.call("Page.navigate", {"url": url}, timeout=timeout)
        if res.get("errorText"):
            raise CDPError("navigate %s: %s" % (url, res["errorText"]))
        self.wait_event("Page.loadEventFired", timeout=timeout, start=start)

    def main_frame_navigations(self):
        """How many times the top frame navigated (a reload counts)."""
        return len([p for p in self.events("Page.frameNavigated")
                    if not p["frame"].get("parentId")])

    def evaluate(self, expr, timeout=60):
        """expr's value (JSON-able), awaiting a promise; CDPError with the
        exception's text when it throws."""
        res = self.call("Runtime.evaluate", {
            "expression": expr, "returnByValue": True,
            "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            raise CDPError("evaluate %r: %s" % (expr[:80], d.get(
                "exception", {}).get("description", d.get("text"))))
        return res["result"].get("value")

    def wait_js(self, expr, timeout=60, step=0.1):
        """Poll expr until it is truthy; its value, or CDPError."""
        end = time.time() + timeout
        last = None
        while time.time() < end:
            last = self.evaluate(expr)
            if last:
                return last
            time.sleep(step)
        raise CDPError("%r still %r after %ss" % (expr[:120], last, timeout))

    def viewport(self, width, height, mobile=False, scale=1):
        self.call("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": scale,
            "mobile": mobile})

    def screenshot(self, path, full_page=False):
        """A PNG of the viewport (or the whole page) into path; its bytes."""
        params = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params["captureBeyondViewport"] = True
            params["clip"] = {"x": 0, "y": 0, "width": size["width"],
                              "height": size["height"], "scale": 1}
        data = base64.b64decode(
            self.call("Page.captureScreenshot", params)["data"])
        with open(path, "wb") as f:
            f.write(data)
        return data

    def console_errors(self):
        """Uncaught exceptions, console.error calls and error log entries
        (as text), in the order they came."""
        out = []
        with self.b.lock:
            for m in self.log:
                p = m["params"]
                if m["method"] == "Runtime.exceptionThrown":
                    d = p["exceptionDetails"]
                    out.append("exception: " + d.get("exception", {}).get(
                        "description", d.get("text", "")))
                elif m["method"] == "Log.entryAdded" \
                        and p["entry"]["level"] == "error":
                    e = p["entry"]
                    out.append("log %s: %s %s" % (e.get("source"),
                                                  e.get("text"),
                                                  e.get("url", "")))
                elif m["method"] == "Runtime.consoleAPICalled" \
                        and p["type"] in ("error", "assert"):
                    out.append("console.%s: %s" % (p["type"], " ".join(
                        str(a.get("value", a.get("description", "")))
                        for a in p["args"])))
        return out

    def requested_urls(self):
        return [p["request"]["url"]
                for p in self.events("Network.requestWillBeSent")]

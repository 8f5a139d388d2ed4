"""Helpers for outpost's end-to-end tests: start tests/fakeapi and outpostd
from the build tree on free loopback ports, write configs into a temporary
directory, read the JSON lines the jsonl output wrote."""
import json
import os
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

BUILD = os.environ.get("OUTPOST_BUILD_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..", "build"))
OUTPOSTD = os.path.join(BUILD, "outpostd")
FAKEAPI = os.path.join(BUILD, "fakeapi")
PLUGIN_DIR = os.path.join(BUILD, "plugins")
TEST_PLUGIN_DIR = os.environ.get("OUTPOST_TEST_PLUGIN_DIR",
                                 os.path.join(BUILD, "test-plugins"))


class FakeAPI:
    """tests/fakeapi on a free port; faults set through its admin API."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([FAKEAPI, *args], stdout=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            raise RuntimeError("fakeapi did not start: %r" % line)
        self.port = int(line[1])
        self.url = "http://127.0.0.1:%d" % self.port

    def admin(self, method, path):
        req = urllib.request.Request(self.url + "/_admin/" + path,
                                     method=method)
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.read()

    def fault(self, path, **kw):
        q = "&".join("%s=%s" % (k, v) for k, v in kw.items())
        self.admin("POST", "fault?path=%s&%s" % (path, q))

    def clear(self, path=None):
        if path:
            self.admin("DELETE", "fault?path=" + path)
        else:
            self.admin("DELETE", "faults")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Workdir:
    """A temporary directory holding outpost.conf, conf.d/ and state/."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="outpost-e2e-")
        self.path = self.tmp.name
        self.confd = os.path.join(self.path, "conf.d")
        self.state = os.path.join(self.path, "state")
        os.makedirs(self.confd)

    def file(self, name):
        return os.path.join(self.path, name)

    def write_main(self, text="", interval="30s", timeout="5s",
                   plugin_dir=PLUGIN_DIR):
        body = ('interval = "%s"\ntimeout = "%s"\nplugin_dir = "%s"\n'
                'conf_dir = "%s"\nstate_dir = "%s"\nlog_format = "json"\n'
                'log_level = "info"\n' % (interval, timeout, plugin_dir,
                                          self.confd, self.state)) + text
        # The API listens on 127.0.0.1:8003 by default: tests run side by
        # side, so one that does not ask for the API gets none.
        if "api {" not in text and "api{" not in text:
            body += "api { enabled = false }\n"
        with open(self.file("outpost.conf"), "w") as f:
            f.write(body)
        return self.file("outpost.conf")

    def write_dropin(self, name, text):
        with open(os.path.join(self.confd, name), "w") as f:
            f.write(text)

    def cleanup(self):
        self.tmp.cleanup()


def run_once(conf, timeout=60, env=None):
    """outpostd --once; returns (exit status, stderr text)."""
    p = subprocess.run([OUTPOSTD, "--once", "-C", conf], capture_output=True,
                       text=True, timeout=timeout, env=env)
    return p.returncode, p.stderr


def start_daemon(conf, env=None):
    return subprocess.Popen([OUTPOSTD, "-f", "-C", conf],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env)


def stop_daemon(proc, sig=signal.SIGTERM, timeout=30):
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def wait_for(pred, timeout=20, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def log_lines(stderr_text):
    out = []
    for line in stderr_text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


class FakeAPITest(unittest.TestCase):
    """One fakeapi per test class, its faults, counters and Statuspage reset
    before each test; a work folder per test whose configs feed a jsonl
    output at self.out, behind the health filter."""

    @classmethod
    def setUpClass(cls):
        cls.api = FakeAPI()

    @classmethod
    def tearDownClass(cls):
        cls.api.stop()

    def setUp(self):
        self.api.clear()
        self.api.admin("DELETE", "stats")
        self.api.admin("DELETE", "statuspage")
        self.w = Workdir()
        self.out = self.w.file("records.jsonl")

    def tearDown(self):
        self.w.cleanup()

    def stats(self):
        return json.loads(self.api.admin("GET", "stats"))

    def write(self, text, interval="30s", timeout="5s"):
        """outpost.conf and drop-ins: text, the health filter, the output."""
        conf = self.w.write_main(interval=interval, timeout=timeout)
        self.w.write_dropin("10-in.conf", text)
        self.w.write_dropin("50-health.conf", 'health "default" { }\n')
        self.w.write_dropin("90-out.conf",
                            'jsonl "out" { path = "%s" }\n' % self.out)
        return conf

    def run_measurements(self, text, env=None, timeout="5s"):
        """outpostd --once on text; this run's measurement records."""
        conf = self.write(text, timeout=timeout)
        if os.path.exists(self.out):
            os.remove(self.out)     # only this run's records
        e = dict(os.environ)
        e.update(env or {})
        rc, err = run_once(conf, env=e)
        self.assertEqual(rc, 0, err)
        return [r for r in read_jsonl(self.out)
                if r["type"] == "measurement"]


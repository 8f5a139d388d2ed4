"""examples/plugins/: the three out-of-tree plugins build with their own
Makefiles against this tree's SDK (include/, found through the uninstalled
pkg-config file <build>/pkgconfig/outpost-plugin-uninstalled.pc), install
with `make install`, and work in the daemon: the input checks a port, the
filter tags the records, the output appends them to its file. The package
test (tests/packages/run.sh) does the same against the installed
outpost-dev."""
import os
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import BUILD, OUTPOSTD, Workdir, read_jsonl, run_once

SOURCE = os.environ.get("OUTPOST_SOURCE_DIR", os.path.join(
    os.path.dirname(__file__), "..", ".."))
EXAMPLES = os.path.join(SOURCE, "examples", "plugins")
KINDS = {"input": "tcpport", "filter": "tagger", "output": "appendfile"}


def build_examples(top, env):
    """Copies each example to top/<kind>, builds it (warnings are errors)
    and installs it into top/plugins; returns that folder."""
    plugins = os.path.join(top, "plugins")
    for kind in KINDS:
        d = os.path.join(top, kind)
        shutil.copytree(os.path.join(EXAMPLES, kind), d)
        for target in ([], ["install", "PLUGINDIR=" + plugins]):
            p = subprocess.run(["make", "-C", d, "CFLAGS=-O2 -g -Werror"]
                               + target, capture_output=True, text=True,
                               env=env, timeout=120)
            if p.returncode != 0:
                raise AssertionError("make %s in examples/plugins/%s:\n%s%s"
                                     % (" ".join(target), kind, p.stdout,
                                        p.stderr))
    return plugins


class ExamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.top = tempfile.mkdtemp(prefix="outpost-examples-")
        env = dict(os.environ)
        env["PKG_CONFIG_PATH"] = os.path.join(BUILD, "pkgconfig")
        cls.plugins = build_examples(cls.top, env)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.top)

    def setUp(self):
        self.w = Workdir()
        self.out = self.w.file("records.jsonl")
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.open_port = self.listener.getsockname()[1]
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.closed_port = s.getsockname()[1]   # bound, never listening
        self.addCleanup(s.close)

    def tearDown(self):
        self.listener.close()
        self.w.cleanup()

    def config(self, tagger='set = {"team=ops", "env=test"}'):
        conf = self.w.write_main(plugin_dir=self.plugins)
        self.w.write_dropin("10-in.conf",
                            'tcpport "up" { host = "127.0.0.1" port = %d }\n'
                            'tcpport "closed" { host = "127.0.0.1" port = %d '
                            'timeout = "2s" }\n'
                            % (self.open_port, self.closed_port))
        self.w.write_dropin("50-tag.conf", 'tagger "t" { %s }\n' % tagger)
        self.w.write_dropin("90-out.conf",
                            'appendfile "a" { path = "%s" }\n' % self.out)
        return conf

    def test_listed_and_described(self):
        p = subprocess.run([OUTPOSTD, "--list-plugins", "-C", self.config()],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(sorted(l.split()[0] for l in p.stdout.splitlines()),
                         sorted(KINDS.values()))
        p = subprocess.run([OUTPOSTD, "--describe", "appendfile", "-C",
                            self.config()], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("path", p.stdout)
        self.assertIn("batch_size", p.stdout)

    def test_a_run_checks_tags_and_writes(self):
        conf = self.config()
        p = subprocess.run([OUTPOSTD, "-t", "-C", conf], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        rc, err = run_once(conf)
        self.assertEqual(rc, 0, err)
        recs = {r["tags"]["integration"]: r for r in read_jsonl(self.out)}
        self.assertEqual(sorted(recs), ["closed", "up"], err)
        up, closed = recs["up"], recs["closed"]
        self.assertEqual(up["name"], "tcpport")
        self.assertIs(up["fields"]["success"], True)
        self.assertGreaterEqual(up["fields"]["response_ms"], 0)
        self.assertIs(closed["fields"]["success"], False)
        self.assertIn("connect 127.0.0.1:%d" % self.closed_port,
                      closed["fields"]["error"])
        for r in (up, closed):
            self.assertEqual(r["tags"]["team"], "ops")
            self.assertEqual(r["tags"]["env"], "test")
            self.assertNotIn("slow", r["tags"])

        # slow_ms: a check slower than 0.000001 ms is tagged slow.
        os.remove(self.out)
        rc, err = run_once(self.config('slow_ms = 0.000001'))
        self.assertEqual(rc, 0, err)
        self.assertEqual([r["tags"].get("slow") for r in read_jsonl(self.out)
                          if r["tags"]["integration"] == "up"], ["true"])

    def test_a_bad_tag_is_refused_at_its_line(self):
        conf = self.config('set = {"team=ops", "oops"}')
        p = subprocess.run([OUTPOSTD, "-t", "-C", conf], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("50-tag.conf:1:", p.stderr)
        self.assertIn('"oops" is not key=value', p.stderr)


if __name__ == "__main__":
    unittest.main()

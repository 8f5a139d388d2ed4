"""outpostd's command line: --version, --list-plugins, --describe, -t, and
the refusal of a plugin built for another ABI version."""
import os
import shutil
import subprocess
import unittest

from harness import OUTPOSTD, PLUGIN_DIR, TEST_PLUGIN_DIR, Workdir


def run(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([OUTPOSTD, *args], capture_output=True, text=True,
                          timeout=30, env=e)


class CliTest(unittest.TestCase):
    def setUp(self):
        self.w = Workdir()

    def tearDown(self):
        self.w.cleanup()

    def test_version(self):
        p = run("--version")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^outpostd \S+ \(plugin ABI 1\.2\)")

    def test_list_plugins(self):
        p = run("--list-plugins")
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = {line.split()[0]: line.split()[1]
                for line in p.stdout.splitlines()}
        self.assertEqual(rows.get("http"), "input")
        self.assertEqual(rows.get("jsonl"), "output")

    def test_describe(self):
        p = run("--describe", "http")
        self.assertEqual(p.returncode, 0, p.stderr)
        for word in ("url", "expect_status", "interval", "timeout", "tags"):
            self.assertIn(word, p.stdout)
        p = run("--describe", "nosuch")
        self.assertEqual(p.returncode, 1)
        self.assertIn("nosuch", p.stderr)

    def test_t_accepts_a_good_config(self):
        conf = self.w.write_main()
        self.w.write_dropin("a.conf", 'http "x" { url = "http://h/" }\n')
        p = run("-t", "-C", conf)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_t_reports_every_problem_with_file_and_line(self):
        conf = self.w.write_main()
        a = os.path.join(self.w.confd, "10-a.conf")
        b = os.path.join(self.w.confd, "20-b.conf")
        self.w.write_dropin("10-a.conf",
                            'http "x" {\n  url = "http://h/"\n'
                            '  urll = "y"\n}\n'
                            'htp "y" { url = "z" }\n')
        self.w.write_dropin("20-b.conf",
                            'http "x" { url = "http://h/" }\n'
                            'http "z" { url = "http://h/"\n'
                            '  interval = "5 parsecs" }\n')
        p = run("-t", "-C", conf, env={"NOPE": ""})
        self.assertEqual(p.returncode, 1)
        err = p.stderr
        self.assertIn("%s:3: unknown option 'urll'" % a, err)
        self.assertIn("%s:5: unknown plugin 'htp'" % a, err)
        self.assertIn("%s:1: duplicate instance http \"x\"" % b, err)
        self.assertIn("%s:3: " % b, err)
        self.assertIn("invalid duration \"5 parsecs\"", err)

    def test_t_runs_plugin_validation(self):
        conf = self.w.write_main(
            '\nalert "a" {\n  severity_rules = {"status=down:urgent"}\n}\n')
        p = run("-t", "-C", conf)
        self.assertEqual(p.returncode, 1)
        self.assertIn('%s:9: alert "a": severity rule "status=down:urgent"'
                      % conf, p.stderr)

    def test_t_missing_secret_env(self):
        conf = self.w.write_main(
            'jsonl "o" { path = "-" }\n'
            'http "x" { url = "http://h/" }\n')
        p = run("-t", "-C", conf)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = run("-t", "-C", self.w.file("missing.conf"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("missing.conf", p.stderr)

    def test_wrong_abi_plugin_is_refused(self):
        plugdir = self.w.file("plugins")
        os.makedirs(plugdir)
        for f in ("http.so", "jsonl.so"):
            shutil.copy(os.path.join(PLUGIN_DIR, f), plugdir)
        shutil.copy(os.path.join(TEST_PLUGIN_DIR, "badabi.so"), plugdir)
        conf = self.w.write_main(plugin_dir=plugdir)
        p = run("-t", "-C", conf)
        self.assertEqual(p.returncode, 1)
        self.assertIn("badabi", p.stderr)
        self.assertIn("ABI version 99", p.stderr)
        self.assertIn("this outpostd has ABI version 1.2", p.stderr)


if __name__ == "__main__":
    unittest.main()

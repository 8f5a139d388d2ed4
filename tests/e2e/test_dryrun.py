"""outpostd --test (the dry run), --sample-config, --describe global and
--list-plugins with -C."""
import hashlib
import os
import re
import shutil
import subprocess
import unittest
import urllib.parse

from harness import OUTPOSTD, PLUGIN_DIR, FakeAPI, Workdir, run_once


# An option's line in --describe: its name, then its type.
TYPED = (r"^  (\w+) +(?:string|integer|float|boolean|duration|list|secret"
         r"|one of)")


def run(*args):
    return subprocess.run([OUTPOSTD, *args], capture_output=True, text=True,
                          timeout=60)


def snapshot(top):
    """Every file and folder under top, with the bytes of each file."""
    out = {}
    for d, dirs, files in os.walk(top):
        for name in dirs:
            out[os.path.relpath(os.path.join(d, name), top)] = "dir"
        for name in files:
            path = os.path.join(d, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, top)] = \
                    hashlib.sha256(f.read()).hexdigest()
    return out


def plugins():
    p = run("--list-plugins")
    return [line.split()[0] for line in p.stdout.splitlines()]


class DryRunTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api = FakeAPI()

    @classmethod
    def tearDownClass(cls):
        cls.api.stop()

    def setUp(self):
        self.api.clear()
        self.api.admin("DELETE", "statuspage")
        self.w = Workdir()
        self.out = self.w.file("records.jsonl")
        self.conf = self.w.write_main()
        self.w.write_dropin("10-in.conf", """
http "crm"    { url = "%(u)s/health" }
http "broken" { url = "%(u)s/status/503" }
http "search" { url = "%(u)s/health" }
""" % {"u": self.api.url})
        self.w.write_dropin("50-decide.conf",
                            'health "default" { }\n'
                            'circuit_breaker "default" { }\n'
                            'alert "default" { consecutive_failures = 1 }\n')
        self.w.write_dropin("90-out.conf",
                            'jsonl "out" { path = "%s" }\n' % self.out)

    def tearDown(self):
        self.w.cleanup()

    def lines(self, stdout):
        """integration -> the rest of its line."""
        rows = {}
        for line in stdout.splitlines()[:-1]:
            name, rest = line.split(None, 1)
            rows[name] = rest
        return rows

    def test_one_line_per_check_and_failure_exit(self):
        p = run("--test", "-C", self.conf)
        self.assertEqual(p.returncode, 1, p.stderr)
        rows = self.lines(p.stdout)
        self.assertEqual(sorted(rows), ["broken", "crm", "search"])
        self.assertRegex(rows["crm"], r"^healthy +\d+ ms$")
        self.assertRegex(rows["broken"],
                         r"^down +\d+ ms  status: got 503, expected 2xx$")
        self.assertEqual(p.stdout.splitlines()[-1], "3 checks, 1 failed")

    def test_writes_no_output_and_leaves_state_dir_alone(self):
        # A real run first, so that the filters have state to save.
        rc, err = run_once(self.conf)
        self.assertEqual(rc, 0, err)
        self.assertTrue(os.path.exists(self.out))
        os.remove(self.out)
        before = snapshot(self.w.state)
        self.assertTrue(any(k.startswith("health/") for k in before), before)
        p = run("--test", "-C", self.conf)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertFalse(os.path.exists(self.out))
        self.assertEqual(snapshot(self.w.state), before)

    def test_filter_picks_inputs_by_name(self):
        p = run("--test", "-C", self.conf, "--filter", "[cs]*")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(sorted(self.lines(p.stdout)), ["crm", "search"])
        self.assertEqual(p.stdout.splitlines()[-1], "2 checks, 0 failed")
        p = run("--test", "-C", self.conf, "--filter", "nothing*")
        self.assertEqual(p.returncode, 1)
        self.assertIn('no input in %s matches "nothing*"' % self.conf,
                      p.stderr)
        p = run("--filter", "x", "-C", self.conf)
        self.assertEqual(p.returncode, 2)

    def test_vendor_verdict(self):
        self.api.admin("POST", "statuspage?" + urllib.parse.urlencode(
            {"indicator": "major", "component": "API",
             "status": "major_outage"}))
        summary = self.api.url + "/api/v2/summary.json"
        self.w.write_dropin("10-in.conf",
                            'payments "stripe" { secret = "sk_test_outpost" '
                            'base_url = "%s/stripe" status_page = "%s" }\n'
                            'statuspage "vendor" { url = "%s" }\n'
                            % (self.api.url, summary, summary))
        p = run("--test", "-C", self.conf)
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = self.lines(p.stdout)
        self.assertRegex(rows["stripe"], r"^healthy +\d+ ms  vendor: major "
                         r"\(Partial System Outage\)$")
        self.assertRegex(rows["vendor"], r"^down +\d+ ms  vendor: major "
                         r"\(Partial System Outage\)$")


class SampleConfigTest(unittest.TestCase):
    def setUp(self):
        self.w = Workdir()

    def tearDown(self):
        self.w.cleanup()

    def test_every_plugin_sample_passes_t(self):
        names = plugins()
        self.assertIn("http", names)
        conf = self.w.write_main()
        for name in names:
            with self.subTest(plugin=name):
                p = run("--sample-config", name)
                self.assertEqual(p.returncode, 0, p.stderr)
                described = run("--describe", name).stdout
                for opt in re.findall(TYPED, described, re.M):
                    self.assertRegex(p.stdout, r"\n  (# )?%s = " % opt)
                for f in os.listdir(self.w.confd):
                    os.remove(os.path.join(self.w.confd, f))
                self.w.write_dropin(name + ".conf", p.stdout)
                t = run("-t", "-C", conf)
                self.assertEqual(t.returncode, 0, p.stdout + t.stderr)

    def test_required_option_is_set_and_marked(self):
        p = run("--sample-config", "http")
        self.assertIn("(required)\n  url = ", p.stdout)
        self.assertIn('\n  # method = "GET"\n', p.stdout)
        self.assertIn("options every input has", p.stdout)
        p = run("--sample-config", "nosuch")
        self.assertEqual(p.returncode, 1)

    def test_describe_global(self):
        for name in ("global", "outpost.conf"):
            p = run("--describe", name)
            self.assertEqual(p.returncode, 0, p.stderr)
            for opt in ("interval", "timeout", "plugin_dir", "conf_dir",
                        "state_dir", "log_level", "log_format", "listen",
                        "token_file"):
                self.assertRegex(p.stdout, r"\n  %s " % opt)
            self.assertIn("api {", p.stdout)

    def test_list_plugins_honours_the_configs_plugin_dir(self):
        plugdir = self.w.file("plugins")
        os.makedirs(plugdir)
        shutil.copy(os.path.join(PLUGIN_DIR, "jsonl.so"), plugdir)
        conf = self.w.write_main(plugin_dir=plugdir)
        p = run("-C", conf, "--list-plugins")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([l.split()[0] for l in p.stdout.splitlines()],
                         ["jsonl"])
        p = run("-C", conf, "--describe", "http")
        self.assertEqual(p.returncode, 1)
        self.assertIn(plugdir, p.stderr)
        p = run("-C", self.w.file("missing.conf"), "--list-plugins")
        self.assertEqual(p.returncode, 1)
        self.assertIn("missing.conf", p.stderr)


if __name__ == "__main__":
    unittest.main()

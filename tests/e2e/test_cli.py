"""outpostd's command line: --version, --list-plugins, --describe, -t, and
the refusal of a plugin built for another ABI version."""
import os
import shutil
import signal
import subprocess
import time
import unittest

from harness import (OUTPOSTD, PLUGIN_DIR, TEST_PLUGIN_DIR, Workdir,
                     log_lines, start_daemon, stop_daemon, wait_for)


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
        self.assertRegex(p.stdout, r"^outpostd \S+ \(plugin ABI 1\.3\)")

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
        """And lists each instance: its interval and where its records go."""
        conf = self.w.write_main()
        a = os.path.join(self.w.confd, "a.conf")
        self.w.write_dropin("a.conf",
                            'http "x" { url = "http://h/" interval = "1m"\n'
                            '  tags = {"team=pay"} }\n'
                            'jsonl "pay" { path = "-" match = {"team=pa*"} }\n'
                            'jsonl "ops" { path = "-" match = {"team=ops"} }\n'
                            'jsonl "ev" { path = "-" match = {"kind=event"} '
                            '}\n')
        p = run("-t", "-C", conf)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('%s:1: http "x": input every 1m -> jsonl "pay", jsonl '
                      '"ev" (when kind=event)\n' % a, p.stderr)
        self.assertIn('%s:5: jsonl "ev": output of records matching '
                      'kind=event\n' % a, p.stderr)
        self.assertTrue(p.stderr.endswith("configuration is valid\n"),
                        p.stderr)

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
        self.assertIn("%s:3: unknown option 'urll' in http \"x\"; did you "
                      "mean 'url'?" % a, err)
        self.assertIn("%s:5: unknown plugin 'htp'" % a, err)
        self.assertIn("did you mean 'http'?", err)
        self.assertIn("%s:1: duplicate instance http \"x\"" % b, err)
        self.assertIn("%s:3: " % b, err)
        self.assertIn("invalid duration \"5 parsecs\"", err)

    def test_t_runs_plugin_validation(self):
        conf = self.w.write_main(
            '\nalert "a" {\n  severity_rules = {"status=down:urgent"}\n}\n'
            'alert "b" { severity_rules = {"integration=%s:low"} }\n'
            % ("*x" * 17))
        p = run("-t", "-C", conf)
        self.assertEqual(p.returncode, 1)
        self.assertIn('%s:9: alert "a": severity rule "status=down:urgent"'
                      % conf, p.stderr)
        # Globs are bounded before fnmatch ever sees them.
        self.assertIn("%s:12: alert \"b\": \"integration=*x*x" % conf,
                      p.stderr)
        self.assertIn("glob more than 16 '*'", p.stderr)

    def test_t_checks_names_of_outputs(self):
        """An escalation policy naming an output that does not exist is an
        error at its line."""
        conf = self.w.write_main()
        d = self.w.write_dropin("10-a.conf",
                                'jsonl "out" { path = "-" }\n'
                                'alert "a" {\n  critical = {"out"}\n'
                                '  high_escalate = {"jsonl:out", "pagerduty"}\n'
                                '}\n')
        p = run("-t", "-C", conf)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(
            '10-a.conf:4: option \'high_escalate\' in alert "a": no output '
            'instance "pagerduty" in the config', p.stderr)
        self.assertEqual(p.stderr.count("no output instance"), 1, p.stderr)

    def test_t_warns_of_options_the_provider_ignores(self):
        conf = self.w.write_main()
        self.w.write_dropin("10-db.conf",
                            'databases "cache" {\n  provider = "redis"\n'
                            '  host = "127.0.0.1"\n  brokers = "k:9092"\n}\n'
                            'payments "stripe" {\n  secret = "sk"\n'
                            '  client_id = "x"\n}\n')
        p = run("-t", "-C", conf)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('10-db.conf:4: warning: databases "cache": brokers: '
                      'ignored by provider redis (it is for kafka)', p.stderr)
        self.assertIn('10-db.conf:8: warning: payments "stripe": client_id: '
                      'ignored by provider stripe', p.stderr)
        self.assertIn("configuration is valid", p.stderr)

    def test_t_missing_secret_env(self):
        conf = self.w.write_main(
            'jsonl "o" { path = "-" }\n'
            'http "x" { url = "http://h/" }\n')
        p = run("-t", "-C", conf)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = run("-t", "-C", self.w.file("missing.conf"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("missing.conf", p.stderr)

    def test_t_survives_a_hostile_config(self):
        """A regex that overflowed regcomp's stack and a FIFO that hung the
        read are both refused at their place, in one run."""
        conf = self.w.write_main()
        deep = "(" * 30000 + "a" + ")" * 30000
        self.w.write_dropin("10-re.conf",
                            'http "x" { url = "http://h/"\n'
                            '  body_regex = "%s" }\n' % deep)
        os.mkfifo(os.path.join(self.w.confd, "20-fifo.conf"))
        ca = self.w.file("ca.fifo")
        os.mkfifo(ca)
        self.w.write_dropin("30-ca.conf",
                            'http "y" { url = "https://h/"\n'
                            '  ca_file = "%s" }\n' % ca)
        p = run("-t", "-C", conf)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn('30-ca.conf:2: http "y": ca_file: cannot read %s: not '
                      'a regular file' % ca, p.stderr)
        self.assertIn('10-re.conf:2: option \'body_regex\' in http "x": '
                      'regex: longer than 1024 bytes', p.stderr)
        self.assertIn("20-fifo.conf: cannot read config file: not a regular "
                      "file", p.stderr)

    def test_hostile_reload_is_refused_and_sigterm_served(self):
        """A reload that met the crashing regex and the FIFO was fatal or
        hung (and SIGTERM was ignored after it): now it is refused, the
        running config stays, and SIGTERM stops the agent."""
        out = self.w.file("out.jsonl")
        conf = self.w.write_main(interval="200ms")
        self.w.write_dropin("10-a.conf",
                            'http "x" { url = "http://127.0.0.1:9/" }\n'
                            'jsonl "out" { path = "%s" }\n' % out)
        d = start_daemon(conf)
        try:
            self.assertTrue(wait_for(lambda: os.path.exists(out), 10))
            self.w.write_dropin("20-re.conf",
                                'http "y" { url = "http://h/"\n'
                                '  body_regex = "%s" }\n'
                                % ("(" * 30000 + "a" + ")" * 30000))
            os.mkfifo(os.path.join(self.w.confd, "30-fifo.conf"))
            d.send_signal(signal.SIGHUP)
            time.sleep(1.0)
            self.assertIsNone(d.poll(), "the agent died on a bad reload")
            size = os.path.getsize(out)
            self.assertTrue(wait_for(lambda: os.path.getsize(out) > size, 10),
                            "the running config stopped working")
            rc, err = stop_daemon(d, timeout=20)
        finally:
            if d.poll() is None:
                d.kill()
                d.wait()
        self.assertEqual(rc, 0, err)
        msgs = " ".join(l.get("message", "") for l in log_lines(err))
        self.assertIn("keeping the running config", msgs)
        self.assertIn("20-re.conf:2", msgs)
        self.assertIn("30-fifo.conf: cannot read config file: not a regular "
                      "file", msgs)

    def test_wrong_abi_plugin_is_refused(self):
        plugdir = self.w.file("plugins")
        os.makedirs(plugdir)
        for f in ("http.so", "jsonl.so"):
            shutil.copy(os.path.join(PLUGIN_DIR, f), plugdir)
        shutil.copy(os.path.join(TEST_PLUGIN_DIR, "badabi.so"), plugdir)
        os.mkfifo(os.path.join(plugdir, "fifo.so"))    # never opened
        conf = self.w.write_main(plugin_dir=plugdir)
        p = run("-t", "-C", conf)
        self.assertEqual(p.returncode, 1)
        self.assertIn("fifo.so: cannot load plugin: not a regular file",
                      p.stderr)
        self.assertIn("badabi", p.stderr)
        self.assertIn("ABI version 99", p.stderr)
        self.assertIn("this outpostd has ABI version 1.3", p.stderr)


if __name__ == "__main__":
    unittest.main()

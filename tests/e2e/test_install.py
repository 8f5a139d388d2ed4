"""`cmake --install --prefix P`: the plugins land under P and the installed
outpostd finds them there without being told (no plugin_dir, no
OUTPOST_PLUGIN_DIR)."""
import os
import subprocess
import tempfile
import unittest

from harness import BUILD


class InstallTest(unittest.TestCase):
    def test_installed_daemon_finds_its_plugins(self):
        with tempfile.TemporaryDirectory(prefix="outpost-install-") as top:
            prefix = os.path.join(top, "prefix")
            p = subprocess.run(["cmake", "--install", BUILD, "--prefix",
                                prefix], capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            daemon = os.path.join(prefix, "sbin", "outpostd")
            sos = [os.path.join(d, f) for d, _, files in os.walk(prefix)
                   for f in files if f.endswith(".so")]
            self.assertIn("http.so", [os.path.basename(f) for f in sos])
            for f in sos:
                self.assertTrue(f.startswith(prefix + "/"), f)

            env = {k: v for k, v in os.environ.items()
                   if k != "OUTPOST_PLUGIN_DIR"}
            p = subprocess.run([daemon, "--list-plugins"], capture_output=True,
                               text=True, timeout=30, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            names = [line.split()[0] for line in p.stdout.splitlines()]
            self.assertEqual(sorted(names),
                             sorted(os.path.basename(f)[:-3] for f in sos))
            p = subprocess.run([daemon, "--describe", "nosuch"],
                               capture_output=True, text=True, timeout=30,
                               env=env)
            self.assertIn("in %s/" % os.path.realpath(prefix), p.stderr)

            # A config without plugin_dir validates against them.
            conf = os.path.join(top, "outpost.conf")
            os.makedirs(os.path.join(top, "conf.d"))
            with open(conf, "w") as f:
                f.write('conf_dir = "%s"\nstate_dir = "%s"\n'
                        'http "x" { url = "http://127.0.0.1/" }\n'
                        % (os.path.join(top, "conf.d"),
                           os.path.join(top, "state")))
            p = subprocess.run([daemon, "-t", "-C", conf],
                               capture_output=True, text=True, timeout=30,
                               env=env)
            self.assertEqual(p.returncode, 0, p.stderr)


if __name__ == "__main__":
    unittest.main()

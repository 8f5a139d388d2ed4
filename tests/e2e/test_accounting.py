"""Every record is accounted for when the state_dir fails: a full disk, a
read-only one, and the disk coming back. What the checks produced (all of
it reaches a healthy output) equals what the failing output delivered,
plus what stays queued on disk, plus what the log says was dropped.

state_dir is a 1 MB tmpfs mounted for the test (the suite runs as root);
without the right to mount, the test is skipped and says why."""
import os
import re
import subprocess
import time
import unittest

from harness import (FakeAPI, Workdir, log_lines, read_jsonl, start_daemon,
                     stop_daemon)


def key(r):
    return (r["tags"]["integration"], r["ts_ns"])


def mount_tmpfs(path, size="1m"):
    os.makedirs(path, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size,
                        "tmpfs", path], capture_output=True, text=True)
    return p.returncode == 0, p.stderr.strip()


def umount(path):
    subprocess.run(["umount", "-l", path], capture_output=True)


def fill(path, leave):
    """Fills the filesystem of path until about `leave` bytes are free."""
    st = os.statvfs(path)
    free = st.f_bavail * st.f_frsize
    with open(os.path.join(path, "filler"), "wb") as f:
        try:
            f.write(b"\0" * max(0, free - leave))
        except OSError:
            pass


class AccountingTest(unittest.TestCase):
    def setUp(self):
        self.api = FakeAPI()
        self.w = Workdir()
        ok, why = mount_tmpfs(self.w.state)
        if not ok:
            self.api.stop()
            self.w.cleanup()
            self.skipTest("cannot mount a 1 MB tmpfs for state_dir (%s): "
                          "this test needs root" % why)
        self.good = self.w.file("good.jsonl")
        self.late_dir = self.w.file("late")         # missing at first
        self.late = os.path.join(self.late_dir, "late.jsonl")
        self.conf = self.w.write_main(interval="20ms", timeout="1s")
        self.w.write_dropin("10-http.conf", """
http "a" { url = "%(u)s/health" }
http "b" { url = "%(u)s/status/500" }
http "c" { url = "%(u)s/health" interval = "30ms" }
""" % {"u": self.api.url})
        self.w.write_dropin("90-out.conf", """
jsonl "good" { path = "%s" flush_interval = "50ms" }
jsonl "late" { path = "%s" flush_interval = "50ms" batch_size = 50
               queue_limit = 30 retry_initial = "20ms" retry_max = "100ms"
               spill_after = "0s" }
""" % (self.good, self.late))

    def tearDown(self):
        umount(self.w.state)
        self.api.stop()
        self.w.cleanup()

    def books(self, err):
        """(dropped, queued) of the "late" output from its closing line."""
        for line in log_lines(err):
            m = re.search(r"(\d+) records stay queued on disk; (\d+) "
                          r"dropped in all", line.get("message", ""))
            if m and line.get("integration") == "jsonl.late":
                return int(m.group(2)), int(m.group(1))
        self.fail("no closing account for jsonl.late in the log:\n" + err)

    def check_books(self, err, queued_expected=None):
        good, late = read_jsonl(self.good), read_jsonl(self.late)
        dropped, queued = self.books(err)
        self.assertGreater(len(good), 100)
        self.assertEqual(len(set(map(key, late))), len(late), "duplicates")
        self.assertTrue(set(map(key, late)) <= set(map(key, good)))
        self.assertEqual(len(good), len(late) + queued + dropped,
                         "produced %d, delivered %d, queued %d, dropped %d"
                         % (len(good), len(late), queued, dropped))
        if queued_expected is not None:
            self.assertEqual(queued, queued_expected)
        return len(late), queued, dropped

    def test_disk_full_then_back(self):
        fill(self.w.state, 96 << 10)
        d = start_daemon(self.conf)
        time.sleep(4.0)                 # spills, then the disk is full
        os.unlink(os.path.join(self.w.state, "filler"))
        time.sleep(1.0)                 # the disk is back: spilling again
        os.makedirs(self.late_dir)      # the backend is back
        time.sleep(2.5)
        rc, err = stop_daemon(d)
        self.assertEqual(rc, 0, err)
        delivered, queued, dropped = self.check_books(err)
        self.assertGreater(dropped, 0, "the disk never filled up")
        self.assertGreater(delivered, 0)

    def test_disk_full_at_stop(self):
        fill(self.w.state, 64 << 10)
        d = start_daemon(self.conf)
        time.sleep(3.0)                 # full, and the backend still down
        rc, err = stop_daemon(d)
        self.assertEqual(rc, 0, err)
        _, queued, dropped = self.check_books(err)
        self.assertGreater(queued, 0)
        self.assertGreater(dropped, 0)

    def test_read_only_state_dir(self):
        subprocess.run(["mount", "-o", "remount,ro", self.w.state],
                       check=True)
        d = start_daemon(self.conf)
        time.sleep(2.0)
        rc, err = stop_daemon(d)        # the backend never came back
        self.assertEqual(rc, 0, err)
        _, queued, dropped = self.check_books(err, queued_expected=0)
        self.assertGreater(dropped, 0)


if __name__ == "__main__":
    unittest.main()

"""Servers a test owns: started on a free port in a directory of their own,
for tests that stop, restart or reconfigure them (the suite's shared
servers serve every test running in parallel and must stay up). Each
output keeps its own helpers here, in its own section."""
import os
import shutil
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


# --- Redis ---------------------------------------------------------------


class PrivateRedis:
    """redis-server on a free port. durable: every write is fsynced to an
    append-only file, so a stop and a start lose nothing that was
    acknowledged. extra: more redis-server arguments ("--requirepass",
    "pw"...). stop() and start() keep the port and the data."""

    def __init__(self, durable=False, extra=()):
        self.dir = tempfile.mkdtemp(prefix="outpost-private-redis-")
        self.port = free_port()
        self.args = ["redis-server", "--bind", "127.0.0.1",
                     "--port", str(self.port), "--dir", self.dir,
                     "--save", "", "--logfile",
                     os.path.join(self.dir, "redis.log")]
        if durable:
            self.args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            self.args += ["--appendonly", "no"]
        self.args += list(extra)
        self.proc = None
        self.start()

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL)

        def ready():
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         0.2).close()
                return True
            except OSError:
                return False
        if not _wait(ready, 10):
            raise RuntimeError("redis-server did not start")
        # Accepting connections is not ready: the append-only file may
        # still be loading.
        time.sleep(0.2)

    def stop(self):
        """SIGTERM: redis-server fsyncs and exits."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

"""Private servers for end-to-end tests that stop a server mid-stream:
the suite's shared servers serve tests running beside them, so a test that
takes its backend away starts its own on a free port. One section per
server; each keeps to its own functions."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

from harness import BUILD

# PostgreSQL refuses to run as root.
AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- PostgreSQL ------------------------------------------------------------

def _pg_bin():
    return max((d for d in os.listdir("/usr/lib/postgresql")),
               key=lambda v: [int(x) for x in v.split(".")])


class PrivatePostgres:
    """initdb in a temp dir and a server on a free loopback port, ours to
    stop and start again (same data, same port). With password, the
    superuser `postgres` needs it (scram-sha-256) over TCP."""

    def __init__(self, password=None):
        self.bin = os.path.join("/usr/lib/postgresql", _pg_bin(), "bin")
        self.dir = tempfile.mkdtemp(prefix="outpost-pg-private-")
        os.chmod(self.dir, 0o755)
        if AS_POSTGRES:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        args = ["-D", self.data, "-U", "postgres", "-E", "UTF8",
                "--no-locale", "--no-sync"]
        if password:
            pwfile = os.path.join(self.dir, "pw")
            with open(pwfile, "w") as f:
                f.write(password + "\n")
            if AS_POSTGRES:
                shutil.chown(pwfile, "postgres", "postgres")
            args += ["--pwfile", pwfile, "--auth-host=scram-sha-256",
                     "--auth-local=trust"]
        else:
            args += ["-A", "trust"]
        subprocess.run(AS_POSTGRES + [os.path.join(self.bin, "initdb")]
                       + args, check=True, capture_output=True, timeout=120)
        self.start()

    def url(self, password=None, db="postgres"):
        auth = "postgres:%s@" % password if password else "postgres@"
        return "postgresql://%s127.0.0.1:%d/%s" % (auth, self.port, db)

    def _ctl(self, *args):
        subprocess.run(AS_POSTGRES + [os.path.join(self.bin, "pg_ctl"),
                                      "-D", self.data, "-w", "-t", "60",
                                      *args],
                       check=True, capture_output=True, timeout=90)

    def start(self):
        self._ctl("-l", os.path.join(self.dir, "server.log"), "-o",
                  "-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off"
                  % (self.port, self.dir),
                  "start")

    def stop(self, mode="immediate"):
        self._ctl("-m", mode, "stop")

    def psql(self, sql):
        """The rows of sql, unaligned, '|' between columns."""
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v",
                            "ON_ERROR_STOP=1", "-h", self.dir, "-p",
                            str(self.port), "-U", "postgres", "-d",
                            "postgres", "-c", sql],
                           check=True, capture_output=True, text=True,
                           timeout=60)
        return p.stdout

    def close(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass                        # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)


# --- Kafka ---------------------------------------------------------------


class PrivateKafkaMock:
    """tests/servers/kafka_mock: librdkafka's mock cluster, driven through
    its stdin commands (down, up, produce-errors CODE..., topic NAME N)."""

    def __init__(self, brokers=1, topics=()):
        self.proc = subprocess.Popen(
            [os.path.join(BUILD, "kafka_mock"), str(brokers), *topics],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "BOOTSTRAP":
            self.proc.kill()
            raise RuntimeError("kafka_mock did not start: %r" % line)
        self.bootstrap = line[1]

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if answer != "OK":
            raise RuntimeError("kafka_mock: %r -> %r" % (line, answer))

    def down(self):
        self.command("down")

    def up(self):
        self.command("up")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc.stdin.close()
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_private_kafka_mock(brokers=1, topics=()):
    """A private Kafka-protocol broker; topics are "name:partitions"."""
    return PrivateKafkaMock(brokers, topics)


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

"""Servers a test starts for itself, on free loopback ports, because it
stops or breaks them mid-stream (the suite's shared ones serve tests
running in parallel). One function (or class) per server kind."""
import os
import subprocess

from harness import BUILD


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

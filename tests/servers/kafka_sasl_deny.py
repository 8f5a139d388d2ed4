"""kafka_sasl_deny - a Kafka-protocol listener that refuses every SASL
login, as a broker does on a wrong password: librdkafka's mock cluster
(kafka_mock) has no SASL at all.

    python3 kafka_sasl_deny.py        prints "PORT <n>" once listening

It speaks just enough of the protocol for a client set to
security.protocol=sasl_plaintext: ApiVersions (v3 is answered
UNSUPPORTED_VERSION, so the client falls back to v0, as with an old
broker), SaslHandshake v1 (offers PLAIN) and SaslAuthenticate v0, which
fails with SASL_AUTHENTICATION_FAILED (58) and the message a Kafka broker
gives. Any other request closes the connection. Until SIGTERM."""
import socket
import socketserver
import struct
import sys

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
UNSUPPORTED_VERSION, SASL_AUTHENTICATION_FAILED = 35, 58
WHY = b"Authentication failed: Invalid username or password"


def kstr(b):
    return struct.pack(">h", len(b)) + b


def api_versions_v0(error):
    apis = [(API_VERSIONS, 0, 0), (SASL_HANDSHAKE, 0, 1),
            (SASL_AUTHENTICATE, 0, 0)]
    return struct.pack(">hi", error, len(apis)) + b"".join(
        struct.pack(">hhh", *a) for a in apis)


class Conn(socketserver.BaseRequestHandler):
    def read(self, n):
        b = b""
        while len(b) < n:
            chunk = self.request.recv(n - len(b))
            if not chunk:
                raise EOFError
            b += chunk
        return b

    def handle(self):
        try:
            while True:
                size, = struct.unpack(">i", self.read(4))
                req = self.read(size)
                key, version, corr = struct.unpack(">hhi", req[:8])
                if key == API_VERSIONS:
                    body = api_versions_v0(UNSUPPORTED_VERSION if version > 0
                                           else 0)
                elif key == SASL_HANDSHAKE:
                    body = struct.pack(">hi", 0, 1) + kstr(b"PLAIN")
                elif key == SASL_AUTHENTICATE:
                    body = (struct.pack(">h", SASL_AUTHENTICATION_FAILED)
                            + kstr(WHY) + struct.pack(">i", 0))
                else:
                    return
                out = struct.pack(">i", corr) + body
                self.request.sendall(struct.pack(">i", len(out)) + out)
        except (EOFError, ConnectionError):
            return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    srv = Server(("127.0.0.1", 0), Conn)
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

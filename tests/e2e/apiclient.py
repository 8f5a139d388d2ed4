"""A small client for outpostd's HTTP API in tests: plain requests that
return (status, headers, body) whatever the status, a server-sent-events
reader, and a free loopback port to listen on."""
import http.client
import json
import socket
import ssl
import time


def free_port():
    """A loopback port nothing listens on now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """Requests to one listener; body is parsed JSON when it is JSON."""

    def __init__(self, port, token=None, tls=False):
        self.port = port
        self.token = token
        self.tls = tls

    def conn(self, timeout=10):
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection("127.0.0.1", self.port,
                                               timeout=timeout, context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)

    def req(self, method, path, body=None, token=None, headers=None,
            timeout=10):
        """token: None uses self.token, "" sends none."""
        h = dict(headers or {})
        tok = self.token if token is None else token
        if tok:
            h["Authorization"] = "Bearer " + tok
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        c = self.conn(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            raw = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            status = r.status
        finally:
            c.close()
        if raw and hdrs.get("content-type", "").startswith(
                "application/json"):
            return status, hdrs, json.loads(raw)
        return status, hdrs, raw.decode("utf-8", "replace")

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, body=body, **kw)

    def ok(self, path):
        """GET path, asserting 200; the JSON body."""
        status, _, body = self.get(path)
        if status != 200:
            raise AssertionError("GET %s: %d %r" % (path, status, body))
        return body


class Stream:
    """GET /api/v1/stream on a raw socket; events() parses what came."""

    def __init__(self, port, last_event_id=None, query=""):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        head = "GET /api/v1/stream%s HTTP/1.1\r\nHost: x\r\n" % query
        if last_event_id is not None:
            head += "Last-Event-ID: %s\r\n" % last_event_id
        self.sock.sendall((head + "\r\n").encode())
        self.buf = b""
        self.headers = None
        self.pending = []

    def _fill(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.time()))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        if not data:
            raise ConnectionError("stream closed")
        self.buf += data
        return True

    def _parse(self):
        if self.headers is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            self.headers = self.buf[:end].decode()
            self.buf = self.buf[end + 4:]
        # Chunked transfer: strip the chunk framing into a text body.
        text = b""
        while True:
            line_end = self.buf.find(b"\r\n")
            if line_end < 0:
                break
            size = int(self.buf[:line_end].split(b";")[0] or b"0", 16)
            if len(self.buf) < line_end + 2 + size + 2:
                break
            text += self.buf[line_end + 2:line_end + 2 + size]
            self.buf = self.buf[line_end + 2 + size + 2:]
        self.body = getattr(self, "body", b"") + text
        while b"\n\n" in self.body:
            block, self.body = self.body.split(b"\n\n", 1)
            ev = {}
            for line in block.decode().split("\n"):
                if line.startswith(":") or ":" not in line:
                    continue
                k, v = line.split(":", 1)
                ev[k] = v[1:] if v.startswith(" ") else v
            if "data" in ev:
                ev["json"] = json.loads(ev["data"])
                self.pending.append(ev)

    def events(self, n=1, timeout=10, pred=None):
        """The next n events (that pred accepts), or fewer at timeout."""
        out = []
        deadline = time.time() + timeout
        while len(out) < n:
            while self.pending and len(out) < n:
                ev = self.pending.pop(0)
                if pred is None or pred(ev):
                    out.append(ev)
            if len(out) >= n or time.time() >= deadline:
                break
            if self._fill(deadline):
                self._parse()
        return out

    def close(self):
        self.sock.close()

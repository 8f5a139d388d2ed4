#!/usr/bin/python3
"""A small SMTP receiver for the email notifier's tests (aiosmtpd).

    smtp_sink.py DIR [--tls-cert CERT --tls-key KEY [--smtps]]

Listens on 127.0.0.1 on a free port and prints "PORT <n>" once ready.
Every message accepted is stored as DIR/<seq>.json: {"mail_from",
"rcpt_tos", "auth" (the AUTH user, or null), "tls" (STARTTLS used),
"data" (the message as received)}. AUTH PLAIN/LOGIN accepts the user
"smtp-user" with the password "smtp-pass" and refuses anything else
(535). Faults: when DIR/plan holds "CODE COUNT" (e.g. "451 2"), the next
COUNT messages are answered CODE at DATA instead of being stored (COUNT
decreases in the file; every answer is counted in DIR/answers as one
line per DATA). Run with /usr/bin/python3: aiosmtpd is the Debian
package python3-aiosmtpd.
"""
import json
import os
import signal
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = b"smtp-user", b"smtp-pass"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login == USER and auth_data.password == PASSWORD)
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


class Sink:
    def __init__(self, path):
        self.path = path
        self.seq = 0

    def planned(self):
        plan = os.path.join(self.path, "plan")
        try:
            with open(plan) as f:
                code, count = f.read().split()
        except (OSError, ValueError):
            return None
        if int(count) <= 0:
            return None
        with open(plan, "w") as f:
            f.write("%s %d" % (code, int(count) - 1))
        return code

    async def handle_DATA(self, server, session, envelope):
        code = self.planned()
        with open(os.path.join(self.path, "answers"), "a") as f:
            f.write((code or "250") + "\n")
        if code:
            return "%s planned fault" % code
        self.seq += 1
        rec = {"mail_from": envelope.mail_from,
               "rcpt_tos": envelope.rcpt_tos,
               "auth": (session.auth_data.login.decode()
                        if session.authenticated else None),
               "tls": session.ssl is not None,
               "data": envelope.content.decode("utf-8", "replace")}
        tmp = os.path.join(self.path, ".%d.tmp" % self.seq)
        with open(tmp, "w") as f:
            json.dump(rec, f)
        os.rename(tmp, os.path.join(self.path, "%06d.json" % self.seq))
        return "250 OK queued"


def main():
    path = sys.argv[1]
    kw = {}
    if "--tls-cert" in sys.argv:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(sys.argv[sys.argv.index("--tls-cert") + 1],
                            sys.argv[sys.argv.index("--tls-key") + 1])
        # --smtps: TLS from the first byte (smtps://), else STARTTLS
        kw["ssl_context" if "--smtps" in sys.argv else "tls_context"] = ctx
    with socket.socket() as s:          # a free port (aiosmtpd needs one)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = Controller(Sink(path), hostname="127.0.0.1", port=port,
                   authenticator=authenticator, auth_require_tls=False,
                   **kw)
    c.start()
    print("PORT %d" % port, flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        signal.pause()
    finally:
        c.stop()


if __name__ == "__main__":
    main()

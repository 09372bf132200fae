"""A webhook receiver on 127.0.0.1 for the notification tests: it records every request
(headers and raw body) and answers with the status codes it is given, in turn."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    def __init__(self, codes: list[int]) -> None:
        self.codes, self.requests = list(codes), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                code = receiver.codes.pop(0) if len(receiver.codes) > 1 else receiver.codes[0]
                self.send_response(code)
                if 300 <= code < 400:
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/evolab?src=test"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    """The team fixtures' users, hashed fast: no test here signs in with a password."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def receiver(settings):
    """Answers 200; set `.codes` for others. The test allows private addresses (loopback)."""
    settings.EVOLAB_WEBHOOK_ALLOW_PRIVATE = True
    settings.EVOLAB_NOTIFY_BACKOFF_SECONDS = 0.01
    r = Receiver([200])
    yield r
    r.server.shutdown()
    r.server.server_close()

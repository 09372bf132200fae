"""One webhook POST: to an address ssrf.check resolved and checked (never a fresh lookup),
no redirects followed (a 3xx is a failed attempt), at most MAX_RESPONSE bytes of the answer
read, and the whole exchange cut off after `timeout` seconds."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading

from .ssrf import Target

MAX_RESPONSE = 64 * 1024


class SendFailed(Exception):
    """No usable answer: the message is logged as the attempt's error."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message[:250])
        self.status_code = status_code


def _pinned(target: Target, address: str, timeout: float) -> http.client.HTTPConnection:
    """A connection to `address` that speaks to `target.host`: its Host header, and over
    TLS its server name and certificate check."""

    class Pinned(http.client.HTTPSConnection if target.scheme == "https" else
                 http.client.HTTPConnection):  # fmt: skip
        def connect(self):
            self.sock = socket.create_connection((address, self.port), self.timeout)
            if target.scheme == "https":
                self.sock = self._context.wrap_socket(self.sock, server_hostname=target.host)

    if target.scheme == "https":
        return Pinned(target.host, target.port, timeout=timeout,
                      context=ssl.create_default_context())  # fmt: skip
    return Pinned(target.host, target.port, timeout=timeout)


def post(target: Target, body: bytes, headers: dict, timeout: float) -> int:
    """POST `body`; the status code (2xx: delivered). SendFailed on anything else."""
    errors = []
    for address in target.addresses:
        conn = _pinned(target, address, timeout)
        try:
            conn.connect()
        except OSError as exc:
            errors.append(f"{address}: {exc}")
            conn.close()
            continue
        return _exchange(conn, target, body, headers, timeout)
    raise SendFailed("could not connect: " + "; ".join(errors)[:250])


def _exchange(conn, target: Target, body: bytes, headers: dict, timeout: float) -> int:
    # A watchdog ends a slow answer: the socket's timeout bounds each read, not their sum.
    late = threading.Event()
    cut = threading.Timer(timeout, _shut, (conn, late))
    cut.start()
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(MAX_RESPONSE)
        code = response.status
    except (OSError, http.client.HTTPException) as exc:
        if late.is_set() or isinstance(exc, TimeoutError):
            raise SendFailed(f"no answer within {timeout:g} s") from None
        raise SendFailed(f"{type(exc).__name__}: {exc}") from None
    finally:
        cut.cancel()
        conn.close()
    if 300 <= code < 400:
        raise SendFailed(f"HTTP {code}: redirects are not followed", code)
    return code


def _shut(conn, late: threading.Event) -> None:
    late.set()
    try:
        conn.sock.shutdown(socket.SHUT_RDWR)
    except (AttributeError, OSError):
        pass

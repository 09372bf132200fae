"""The websocket Origin check compares scheme, host and port with the site's own origin or
CSRF_TRUSTED_ORIGINS (the integration tests drive it through a real server)."""

import pytest

from evolab.ws_origin import origin_allowed


def _scope(origin, host="127.0.0.1:8000", scheme="ws", forwarded=None):
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if forwarded:
        headers.append((b"x-forwarded-proto", forwarded.encode()))
    return {"type": "websocket", "scheme": scheme, "headers": headers}


@pytest.mark.parametrize(
    "origin",
    [None, "null", "http://127.0.0.1:9", "https://127.0.0.1:8000", "ftp://127.0.0.1:8000",
     "http://127.0.0.1", "http://evil.example:8000", "http://127.0.0.1:8000/x",
     "http://user@127.0.0.1:8000", "http://127.0.0.1:99999"],
)  # fmt: skip
def test_foreign_origins_are_refused(origin):
    assert not origin_allowed(_scope(origin))


def test_the_sites_own_origin_and_trusted_ones_are_accepted(settings):
    assert origin_allowed(_scope("http://127.0.0.1:8000"))
    assert origin_allowed(_scope("http://localhost", host="localhost:80"))
    assert origin_allowed(_scope("https://localhost", host="localhost", scheme="wss"))
    assert not origin_allowed(_scope("http://127.0.0.1:8000", host="evil.example:8000"))
    settings.CSRF_TRUSTED_ORIGINS = ["https://evolab.example.org"]
    settings.ALLOWED_HOSTS = ["evolab.example.org"]
    assert origin_allowed(_scope("https://evolab.example.org", host="evolab.example.org"))
    assert not origin_allowed(_scope("http://evolab.example.org:443", host="evolab.example.org"))

"""The websocket Origin check: scheme, host and port must be the site's own origin or one
listed in CSRF_TRUSTED_ORIGINS (cross-site websocket hijacking). Channels' own validator
compares the host name only, so `http://127.0.0.1:9` or `ftp://127.0.0.1` passed."""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _normal(origin: str) -> str | None:
    """scheme://host:port with the default port made explicit, or None if malformed."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    port = port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}:{port}"


def _own_origin(scope: dict) -> str | None:
    host = _header(scope, b"host")
    if not host:
        return None
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    secure = scope.get("scheme") == "wss"
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        secure = secure or _header(scope, b"x-forwarded-proto") == "https"
    return _normal(f"{'https' if secure else 'http'}://{host}")


def origin_allowed(scope: dict) -> bool:
    """An allowed Origin; or none at all from a client that signs in with an API token
    (ws_auth.py: no browser can put a token header on a websocket, so no page can hijack
    one). A missing Origin with a session cookie is refused."""
    origin = _header(scope, b"origin")
    if origin is None and _header(scope, b"authorization") is not None:
        return True
    normal = _normal(origin) if origin else None
    if normal is None:
        return False
    trusted = {_normal(o) for o in settings.CSRF_TRUSTED_ORIGINS}
    return normal == _own_origin(scope) or normal in trusted


class StrictOriginValidator:
    """ASGI middleware: a websocket whose Origin is not allowed is refused at the handshake."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            denier = WebsocketDenier()
            return await denier(scope, receive, send)
        return await self.application(scope, receive, send)

"""API tokens on websockets, for scripts and the Python client: `Authorization: Token <key>`
in the handshake's headers (never in the URL, where it would land in access logs).

A valid token signs the socket in as its user, with the same per-team checks as a browser
session (consumers.py); a wrong or revoked one refuses the handshake and counts as a failed
sign-in from the client's address, as over HTTP: while that address is locked
(accounts/throttle.py) every token handshake from it is refused, the right token too.
Browsers cannot set this header on a websocket, so a socket that carries a token may come
without an Origin (ws_origin.py); one that sends an Origin must still send an allowed one."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier

from evolab.accounts import throttle
from evolab.accounts.services import user_for_token

KEYWORD = b"token"


def token_in(scope: dict) -> str | None:
    """The key of an `Authorization: Token <key>` header, or None."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            parts = value.split()
            if len(parts) == 2 and parts[0].lower() == KEYWORD:
                return parts[1].decode("latin-1")
            return ""  # an Authorization header that is not a token: refused
    return None


class TokenAuthMiddleware:
    """Inside the session middleware: a token, when sent, decides who the socket is."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        key = token_in(scope) if scope["type"] == "websocket" else None
        if key is not None:
            found = await database_sync_to_async(_sign_in)(key, _Peer(scope))
            if found is None:
                return await WebsocketDenier()(scope, receive, send)
            user, token = found
            scope = {**scope, "user": user, "api_token": token.pk}
        return await self.application(scope, receive, send)


class _Peer:
    """What the sign-in throttle reads of a request: the client's address."""

    def __init__(self, scope: dict) -> None:
        client = scope.get("client") or ("",)
        self.META = {"REMOTE_ADDR": client[0] or ""}


def _sign_in(key: str, peer: _Peer):
    """(user, token) for a valid key from an address that is not locked, else None."""
    if throttle.locked(peer):
        return None
    found = user_for_token(key) if key else None
    if found is None:
        throttle.record_failure(peer)
    return found

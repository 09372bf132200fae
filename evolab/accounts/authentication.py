"""`Authorization: Token <key>` for scripts, checked against the hashed per-user tokens."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from . import throttle
from .services import user_for_token


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """DRF's header parsing, EvoLab's token store (several named, revocable, hashed keys).

    A wrong or revoked token counts as a failed sign-in of the client's address
    (accounts/throttle.py); while that address is locked, a request with a token is a 429
    and no token is looked up. Requests without a token header are not affected."""

    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        wait = throttle.locked(request)
        if wait:
            raise exceptions.Throttled(wait, detail=throttle.message(wait))
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            throttle.record_failure(request)
            raise

    def authenticate_credentials(self, key: str):
        found = user_for_token(key)
        if found is None:
            # Never echo the key: error messages end up in logs and browser consoles.
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return found


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "evolab.accounts.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'API token from your settings page, sent as "Token <key>".',
        }

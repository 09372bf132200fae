"""`Authorization: Token <key>` for scripts, checked against the hashed per-user tokens."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .services import user_for_token


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """DRF's header parsing, EvoLab's token store (several named, revocable, hashed keys)."""

    keyword = "Token"

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

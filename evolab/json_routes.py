"""The JSON routes outside /api/ (the pages' data: snapshot.json, analytics.json,
individuals/<n>.json, lineage.json) answer in JSON whatever happens: a logged-out client a 401
(not a redirect to the login page's HTML), an unknown or another team's id a 404
(api_contract.not_found), like the API does."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.http import HttpRequest, JsonResponse


def wants_json(request: HttpRequest) -> bool:
    """An API route, or a page's JSON route: errors there are JSON objects with a message."""
    return request.path.startswith("/api/") or request.path.endswith(".json")


def not_logged_in() -> JsonResponse:
    response = JsonResponse(
        {"detail": "Log in first.", "login_url": settings.LOGIN_URL}, status=401
    )
    response["WWW-Authenticate"] = 'Session realm="EvoLab"'  # a 401 names its scheme
    return response


def json_login_required(view):
    """login_required for a JSON route: 401 JSON to a logged-out client."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return not_logged_in()
        return view(request, *args, **kwargs)

    return wrapped

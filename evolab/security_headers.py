"""A Content-Security-Policy on every response (Django 5.2 has no CSP middleware of its own).

EvoLab's pages load ES modules and stylesheets from /static/ only: no inline script, no
onclick="…" handler, no style="…" attribute, no <style> block (styles set from JavaScript go
through the CSSOM, `node.style.x = …`, which the policy allows). The JSON that pages read is
in <script type="application/json"> blocks, which are data, never run. So the policy is strict:

    default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;
    connect-src 'self' ws://HOST wss://HOST; object-src 'none'; base-uri 'self';
    form-action 'self'; frame-ancestors 'none'

(`data:` images: the favicon and the SVG icons of the vendored libraries; HOST: the site's
own host and port, for the live pages' websockets.)

One relaxation, for a template that is not ours: the Django REST framework's browsable API
(the HTML views of /api/…, rendered by its BrowsableAPIRenderer) has style="…" attributes and
a <style> block in its templates, so those pages also allow inline *styles* ('unsafe-inline'
in style-src; the page is unstyled without). Inline script stays refused there too: DRF runs
its scripts from files. The Django admin and Swagger UI (/api/docs/, drf-spectacular-sidecar's
files, its start-up script from /api/docs/?script: SpectacularSwaggerSplitView) need no
relaxation; the browser tests visit them and fail on any reported violation.

Other headers come from Django: X-Content-Type-Options: nosniff, Referrer-Policy: same-origin
and Cross-Origin-Opener-Policy: same-origin (SecurityMiddleware's defaults) and
X-Frame-Options: DENY (XFrameOptionsMiddleware); tests/unit/web/test_security_headers.py
checks that they are there.
"""

from __future__ import annotations

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin
from rest_framework.renderers import BrowsableAPIRenderer

HEADER = "Content-Security-Policy"


def policy(request: HttpRequest, inline_styles: bool = False) -> str:
    try:
        host = request.get_host()
    except DisallowedHost:  # a 400 for a host not in ALLOWED_HOSTS: no websocket to allow
        host = ""
    sockets = f" ws://{host} wss://{host}" if host else ""
    styles = "'self' 'unsafe-inline'" if inline_styles else "'self'"
    return (
        "default-src 'self'; script-src 'self'; "
        f"style-src {styles}; img-src 'self' data:; connect-src 'self'{sockets}; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Adds the policy to every response that has none (static files included). A
    MiddlewareMixin, so it runs in the ASGI server's event loop as well as in sync tests."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if HEADER not in response:
            renderer = getattr(response, "accepted_renderer", None)  # DRF's responses
            browsable = isinstance(renderer, BrowsableAPIRenderer)
            response[HEADER] = policy(request, inline_styles=browsable)
        return response

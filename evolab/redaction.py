"""No server file path in a message shown to users.

Messages built from an exception's text (a child that failed to train, an API error) can
carry the server's paths: "FileNotFoundError: [Errno 2] No such file or directory:
'/srv/evolab/var/media/experiments/3/7-ab12.safetensors'". `redact_paths` rewrites them
before they are stored for pages or sent to a client: a path under a configured folder by the
setting's name (EVOLAB_DATA_DIR/cifar-10-batches-py, MEDIA_ROOT/experiments/3/…), any other
absolute path by its last part (…/python3.11/site-packages/torch/x.py becomes …/x.py). The
logs keep the full text (log.exception where the error is caught).

Used where such messages leave the server: a failed child's reason (experiments/leases.py),
the API's error bodies (`exception_handler`, REST_FRAMEWORK["EXCEPTION_HANDLER"]) and the run
controls' messages on pages (experiments/views.py).
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from django.conf import settings

# Absolute paths under the usual top-level folders of a server or a container (a URL path
# such as /api/docs/ or /experiments/3/ starts elsewhere and is left alone).
_TOPS = "home|root|tmp|var|usr|opt|srv|data|mnt|media|work|app|etc|run|proc|private|Users"
_PART = r"[^\s/'\"`:;,()\[\]{}<>]"
_ABSOLUTE = re.compile(rf"(?<![\w.:/~-])/(?:{_TOPS})(?:/{_PART}*)+")


def _roots() -> list[tuple[str, str]]:
    """(folder, what to show instead), longest first so the most specific name wins."""
    named = [
        (settings.EVOLAB_DATA_DIR, "EVOLAB_DATA_DIR"),
        (settings.MEDIA_ROOT, "MEDIA_ROOT"),
        (settings.VAR_DIR, "var"),
        (settings.BASE_DIR, "."),
        (Path(sys.prefix), "…"),
        (Path(tempfile.gettempdir()), "…"),
    ]
    roots = [(str(Path(folder)), name) for folder, name in named if str(folder) not in ("", "/")]
    return sorted(roots, key=lambda pair: len(pair[0]), reverse=True)


def redact_paths(text: str) -> str:
    if "/" not in text:
        return text
    for folder, name in _roots():
        text = re.sub(rf"{re.escape(folder)}(?=/|\b|$)", name, text)
    return _ABSOLUTE.sub(lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


def _redacted(data):
    from rest_framework.exceptions import ErrorDetail  # here: workers import this module too

    if isinstance(data, ErrorDetail):
        return ErrorDetail(redact_paths(data), code=data.code)
    if isinstance(data, str):
        return redact_paths(data)
    if isinstance(data, dict):
        return {key: _redacted(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_redacted(value) for value in data]
    return data


def exception_handler(exc, context):
    """DRF's handler, with server paths taken out of the error body."""
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = _redacted(response.data)
    return response

"""The HTTP session: token auth, one request per route of `routes.ROUTES`, and errors.

Whatever goes wrong (the server refused, the network failed) surfaces as one `EvoLabError`
carrying the HTTP status and the server's own message, never as a traceback of HTTP
internals."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from evolab import __version__

from .config import load_login
from .routes import ROUTES

DEFAULT_TIMEOUT = 30.0
MAX_PAGE = 1000


class EvoLabError(Exception):
    """The server refused a request (`status` is its HTTP status), or could not be reached
    or was not configured (`status` is None). `message` is what the server said."""

    def __init__(self, status: int | None, message: str, body: Any = None) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message
        self.body = body


class NotConfigured(EvoLabError):
    """No server URL, or a malformed one: a usage error, before any request."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


def resolve(url: str | None, token: str | None) -> tuple[str, str | None]:
    """The server and token: the arguments, else EVOLAB_URL / EVOLAB_TOKEN, else the CLI's
    stored login. A stored token is only sent to the server it was stored for."""
    stored = load_login()
    url = url or os.environ.get("EVOLAB_URL") or stored.get("url")
    if not url:
        raise NotConfigured("No EvoLab server: pass url=, set EVOLAB_URL or run `evolab login`.")
    url = url.rstrip("/")
    if not re.match(r"^https?://", url):
        raise NotConfigured(f"The server URL must start with http:// or https://: {url}")
    if token is None:
        token = os.environ.get("EVOLAB_TOKEN")
    if token is None and stored.get("url", "").rstrip("/") == url:
        token = stored.get("token")
    return url, token or None


def error_message(response: requests.Response) -> tuple[str, Any]:
    """The server's message in words: DRF's {"detail": ...}, or its field errors."""
    try:
        body = response.json()
    except ValueError:
        text = re.sub(r"<[^>]+>", " ", response.text or "")
        text = " ".join(text.split())[:200]
        return text or f"HTTP {response.status_code} {response.reason or ''}".strip(), None
    return _flatten(body) or f"HTTP {response.status_code}", body


def _flatten(body: Any, prefix: str = "") -> str:
    if isinstance(body, dict):
        if set(body) == {"detail"} and not prefix:
            return _flatten(body["detail"])
        parts = []
        for key, value in body.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            text = _flatten(value, name)
            parts.append(text if isinstance(value, dict) else f"{name}: {text}")
        return "; ".join(parts)
    if isinstance(body, list):
        return " ".join(_flatten(item, prefix) for item in body)
    return str(body)


class Session:
    """A `requests` session signed in with `Authorization: Token <key>`."""

    def __init__(self, url: str, token: str | None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url, self.token, self.timeout = url, token, timeout
        self.http = requests.Session()
        self.http.headers["User-Agent"] = f"evolab-client/{__version__}"
        if token:
            self.http.headers["Authorization"] = f"Token {token}"

    def request(
        self,
        route: str,
        id: int | None = None,
        params: dict | None = None,
        json: Any = None,
        files: dict | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """One call of `ROUTES[route]`; a non-2xx answer raises EvoLabError."""
        spec = ROUTES[route]
        path = spec.path.format(id=int(id)) if "{id}" in spec.path else spec.path
        params = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self.http.request(
                spec.method,
                self.url + path,
                params=params,
                json=json,
                files=files,
                stream=stream,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise EvoLabError(None, f"Cannot reach {self.url}: {_reason(exc)}") from None
        if response.status_code >= 400:
            message, body = error_message(response)
            response.close()
            raise EvoLabError(response.status_code, message, body)
        return response

    def call(self, route: str, id: int | None = None, **kwargs) -> Any:
        """The JSON answer of one call."""
        response = self.request(route, id, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise EvoLabError(
                response.status_code, f"The server sent no JSON for {route}"
            ) from None

    def pages(self, route: str, id: int | None = None, params: dict | None = None,
              limit: int | None = None) -> Iterator[dict]:  # fmt: skip
        """Every item of a paginated list (`limit`: at most that many)."""
        offset = 0
        while limit is None or offset < limit:
            size = MAX_PAGE if limit is None else min(MAX_PAGE, limit - offset)
            page = self.call(route, id, params={**(params or {}), "limit": size, "offset": offset})
            yield from page["results"]
            offset += len(page["results"])
            if not page["results"] or offset >= page["count"]:
                return

    def download(self, route: str, id: int, params: dict, path: str | Path | None) -> Path:
        """Stream an attachment to `path` (a file, or a directory for the server's file
        name; None: the server's file name in the current directory)."""
        response = self.request(route, id, params=params, stream=True)
        name = _filename(response) or f"{route.split('.')[0]}-{id}.{params.get('format', 'bin')}"
        target = Path(path) if path is not None else Path(name)
        if target.is_dir():
            target = target / name
        tmp = target.with_name(target.name + ".part")
        try:
            with response, open(tmp, "wb") as f:
                for chunk in response.iter_content(1 << 16):
                    f.write(chunk)
            os.replace(tmp, target)
        except requests.RequestException as exc:
            tmp.unlink(missing_ok=True)
            raise EvoLabError(None, f"Download interrupted: {_reason(exc)}") from None
        return target


def _filename(response: requests.Response) -> str | None:
    found = re.search(r'filename="?([^";]+)"?', response.headers.get("Content-Disposition", ""))
    return Path(found.group(1)).name if found else None


def _reason(exc: Exception) -> str:
    """A short reason for a network failure (urllib3's messages nest several layers)."""
    text = str(exc)
    for pattern in (r"\[Errno -?\d+\] ([^'\")\]]+)", r"(Read timed out)", r"(Connection refused)"):
        found = re.search(pattern, text)
        if found:
            return found.group(1).strip()
    return type(exc).__name__

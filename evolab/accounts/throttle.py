"""Sign-in throttle: too many failures lock a username, or a client address, for a while.

EVOLAB_LOGIN_FAILURE_LIMIT wrong passwords for one username (default 5), or
EVOLAB_LOGIN_ADDRESS_FAILURE_LIMIT failures from one client address (default 20; wrong API
tokens count here too, over HTTP and in websocket handshakes), within
EVOLAB_LOGIN_FAILURE_WINDOW seconds (default 300) lock it for that many seconds. While
locked, the sign-in forms (/accounts/login/ and /admin/login/) answer "Too many failed
sign-ins; try again in N minutes" *before* authenticating: the
password is not checked, so the right one does not get in either; the API answers 429.

Counters are in Django's cache (settings.CACHES: Redis when REDIS_URL is set, so every web
process shares them). Failures are counted from Django's `user_login_failed` signal, which
`authenticate()` sends for every refused password; a successful sign-in clears its
username's count. Should the cache be unreachable, sign-ins go on unthrottled (and say so in
the log): a broken cache must not lock everybody out.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import unicodedata

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpRequest

log = logging.getLogger(__name__)
PREFIX = "evolab.signin"


def message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"Too many failed sign-ins; try again in {minutes} minute{'s' if minutes > 1 else ''}."


def _key(kind: str, value: str) -> str:
    return f"{PREFIX}:{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


def _subjects(request: HttpRequest | None, username: str | None) -> list[tuple[str, int]]:
    """(counter key, limit) for the username and the client address a failure counts for."""
    subjects = []
    if username:
        # "Mia" and "mia " are one subject: a change of case is no new set of tries.
        name = unicodedata.normalize("NFKC", username).strip().casefold()
        subjects.append((_key("user", name), settings.EVOLAB_LOGIN_FAILURE_LIMIT))
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    if address and settings.EVOLAB_LOGIN_ADDRESS_FAILURE_LIMIT > 0:
        subjects.append((_key("address", address), settings.EVOLAB_LOGIN_ADDRESS_FAILURE_LIMIT))
    return subjects


def locked(request: HttpRequest | None, username: str | None = None) -> int:
    """Seconds until the username or the request's address may try again; 0 when free."""
    keys = [f"{key}:locked" for key, _ in _subjects(request, username)]
    if not keys:
        return 0
    try:
        until = max(cache.get_many(keys).values(), default=0)
    except Exception as exc:  # the cache is down: go on unthrottled, loudly
        log.warning("sign-in throttle off: the cache is unreachable (%s)", type(exc).__name__)
        return 0
    return max(0, math.ceil(until - time.time()))


def record_failure(request: HttpRequest | None, username: str | None = None) -> None:
    window = settings.EVOLAB_LOGIN_FAILURE_WINDOW
    try:
        for key, limit in _subjects(request, username):
            # add() starts a window's count (atomic in Redis); incr() keeps its expiry.
            count = 1 if cache.add(key, 1, window) else _incr(key, window)
            if count >= limit:
                cache.set(f"{key}:locked", time.time() + window, window)
                cache.delete(key)
    except Exception as exc:
        log.warning("sign-in throttle off: the cache is unreachable (%s)", type(exc).__name__)


def _incr(key: str, window: int) -> int:
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr(): a new window
        cache.add(key, 1, window)
        return 1


def clear_username(username: str) -> None:
    try:
        cache.delete_many([key for key, _ in _subjects(None, username)])
    except Exception as exc:
        log.warning("sign-in throttle: the cache is unreachable (%s)", type(exc).__name__)


@receiver(user_login_failed, dispatch_uid="evolab.accounts.throttle.failed")
def _count_failed_sign_in(sender, credentials, request=None, **kwargs) -> None:
    record_failure(request, credentials.get("username"))


@receiver(user_logged_in, dispatch_uid="evolab.accounts.throttle.signed_in")
def _clear_on_sign_in(sender, request, user, **kwargs) -> None:
    clear_username(user.get_username())

"""The webhook signature: HMAC-SHA256 of "<timestamp>.<body>" with the subscription's secret.

The receiver recomputes it from the X-EvoLab-Timestamp header and the raw body, compares in
constant time, and refuses a timestamp older than a few minutes (a replayed request).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE = "X-EvoLab-Signature"
TIMESTAMP = "X-EvoLab-Timestamp"
EVENT = "X-EvoLab-Event"
DELIVERY = "X-EvoLab-Delivery"
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str, now: float,
           tolerance: int = 300) -> bool:  # fmt: skip
    """What a receiver does (the README shows the same in five lines)."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), header)


def headers(secret: str, timestamp: int, body: bytes, event: str, delivery: int) -> dict:
    return {
        "Content-Type": "application/json",
        "User-Agent": "EvoLab-Webhook/1",
        EVENT: event,
        DELIVERY: str(delivery),
        TIMESTAMP: str(timestamp),
        SIGNATURE: signature(secret, timestamp, body),
    }

"""Where a webhook may point: http(s) to public addresses only, unless the site allows
private ones (EVOLAB_WEBHOOK_ALLOW_PRIVATE, settings.py).

A URL is checked when it is saved and again at every delivery: its host is resolved, every
address it resolves to must be public, and the delivery connects to one of the addresses
checked (webhooks.py), so a name that resolves elsewhere later (DNS rebinding) reaches no
private address.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL = 500
DEFAULT_PORTS = {"http": 80, "https": 443}


class AddressRefused(ValueError):
    """A URL a webhook may not use; the message says why, for the person who entered it."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written (the Host header, TLS server name)
    port: int
    path: str  # path and query
    addresses: tuple[str, ...]  # resolved and checked, in the resolver's order


def parse(url: str) -> tuple[str, str, int, str]:
    """scheme, host, port, path of a webhook URL, or AddressRefused saying what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise AddressRefused("Enter the webhook's URL.")
    url = url.strip()
    if len(url) > MAX_URL:
        raise AddressRefused(f"At most {MAX_URL} characters.")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise AddressRefused("A URL has no spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AddressRefused(f"Not a URL: {exc}.") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise AddressRefused("Use an http:// or https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("Leave user names and passwords out of the URL: the signature "
                             "proves the sender.")  # fmt: skip
    host = parts.hostname
    if not host:
        raise AddressRefused("The URL names no host.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port or DEFAULT_PORTS[parts.scheme], path


def why_not_public(address: str) -> str | None:
    """None for a public address; else what kind it is, in words."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("private", ip.is_private),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return kind
    return None if ip.is_global else "not public"


def resolve(host: str, port: int) -> tuple[str, ...]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise AddressRefused(f"{host} could not be resolved ({exc}).") from None
    addresses = tuple(dict.fromkeys(info[4][0] for info in found))
    if not addresses:
        raise AddressRefused(f"{host} resolves to no address.")
    return addresses


def check(url: str, allow_private: bool) -> Target:
    """The URL's target with its checked addresses, or AddressRefused. With allow_private,
    any address the name resolves to is taken."""
    scheme, host, port, path = parse(url)
    addresses = resolve(host, port)
    if not allow_private:
        for address in addresses:
            kind = why_not_public(address)
            if kind:
                shown = host if host == address else f"{host} resolves to {address}, which"
                raise AddressRefused(
                    f"{shown} is a {kind} address: webhooks go to public addresses only "
                    "(a site admin can allow private ones: EVOLAB_WEBHOOK_ALLOW_PRIVATE)."
                )
    return Target(scheme, host, port, path, addresses)

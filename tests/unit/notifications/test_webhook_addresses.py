"""SSRF: with EVOLAB_WEBHOOK_ALLOW_PRIVATE off, a webhook may not point at loopback, private,
link-local or other non-public addresses, named directly or through a host name; refused when
saved (a message that says why) and again at each delivery (DNS can change since), where
the request goes to the address that was checked."""

from __future__ import annotations

import socket

import pytest

from evolab.notifications import services as subscriptions
from evolab.notifications.models import Attempt, Delivery, DeliveryState
from evolab.taskqueue import send_notify

from .test_webhook_delivery import running_run

REFUSED = [
    ("http://127.0.0.1:8000/hook", "127.0.0.1 is a loopback address"),
    ("http://10.20.30.40/hook", "10.20.30.40 is a private address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://[::1]:8080/", "::1 is a loopback address"),
    ("http://[::ffff:127.0.0.1]/", "is a loopback address"),
    ("http://0.0.0.0/", "is a private address"),
    ("http://localhost:9000/", "localhost resolves to"),
    ("https://LOCALHOST/x", "localhost resolves to 127.0.0.1"),
    ("ftp://93.184.216.34/x", "Use an http:// or https:// URL."),
    ("http://user:pw@93.184.216.34/", "Leave user names and passwords out of the URL"),
    ("http://no-such-host.invalid/", "could not be resolved"),
]


@pytest.mark.parametrize("url,message", REFUSED)
def test_non_public_targets_are_refused_when_saved(team, admin, settings, url, message):
    settings.EVOLAB_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(subscriptions.Refused) as refused:
        subscriptions.create_webhook(team, admin, url, ["finished"])
    assert refused.value.field == "url" and message in str(refused.value)
    assert not subscriptions.team_webhooks(team).exists()


def test_a_public_address_is_accepted(team, admin, settings):
    settings.EVOLAB_WEBHOOK_ALLOW_PRIVATE = False
    sub, secret = subscriptions.create_webhook(team, admin, "https://93.184.216.34/h", ["failed"])
    assert sub.url == "https://93.184.216.34/h" and secret.startswith("whsec_") and len(secret) > 40


@pytest.mark.django_db
def test_an_address_that_turned_private_is_refused_at_delivery(
    eager, team, admin, member, receiver, settings
):
    sub, _ = subscriptions.create_webhook(team, admin, receiver.url, ["finished"])  # allowed
    settings.EVOLAB_WEBHOOK_ALLOW_PRIVATE = False  # then the site forbids private addresses
    send_notify(running_run(team, member).pk, "finished", "", {})
    (attempt,) = Attempt.objects.filter(delivery__subscription=sub)
    assert attempt.error.startswith("refused: 127.0.0.1 is a loopback address")
    assert attempt.retry_in is None  # not retried: no attempt can succeed
    assert Delivery.objects.get(subscription=sub).state == DeliveryState.FAILED
    assert receiver.requests == []


@pytest.mark.django_db
def test_a_name_rebound_to_loopback_is_refused_and_a_checked_one_is_connected_to(
    eager, team, admin, member, receiver, settings, monkeypatch
):
    """The delivery resolves again, checks, and connects to what it checked (Host: the name)."""
    real = socket.getaddrinfo
    answers = {"hooks.lab.test": "93.184.216.34"}

    def fake(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    settings.EVOLAB_WEBHOOK_ALLOW_PRIVATE = False
    port = receiver.server.server_port
    sub, _ = subscriptions.create_webhook(
        team, admin, f"http://hooks.lab.test:{port}/", ["finished"]
    )
    answers["hooks.lab.test"] = "127.0.0.1"  # DNS rebinding after the save
    exp = running_run(team, member)
    send_notify(exp.pk, "finished", "", {})
    (attempt,) = Attempt.objects.filter(delivery__subscription=sub)
    assert "hooks.lab.test resolves to 127.0.0.1, which is a loopback address" in attempt.error
    assert receiver.requests == []
    settings.EVOLAB_WEBHOOK_ALLOW_PRIVATE = True  # allowed: the checked address is used
    send_notify(exp.pk, "stopped", "", {})  # (sub does not want it: nothing)
    sub.events = ["finished", "stopped"]
    sub.save()
    send_notify(exp.pk, "stopped", "", {})
    ((headers, _),) = receiver.requests
    assert headers["Host"] == f"hooks.lab.test:{port}"


@pytest.mark.django_db
def test_an_https_webhook_speaks_tls_to_the_checked_address(eager, team, admin, member, receiver):
    """The pinned connection wraps the socket in TLS for the URL's name: the plain-HTTP
    receiver cannot answer that handshake, so the attempt fails with an SSL error."""
    url = f"https://localhost:{receiver.server.server_port}/"
    sub, _ = subscriptions.create_webhook(team, admin, url, ["finished"])
    send_notify(running_run(team, member).pk, "finished", "", {})
    tries = Attempt.objects.filter(delivery__subscription=sub)
    assert tries and all("SSL" in t.error for t in tries), [t.error for t in tries]
    assert receiver.requests == []  # no plain-text request was sent

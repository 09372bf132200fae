"""Webhooks end to end in one process (Celery eager, SQLite): a run's status change or birth
queues the notice, a task signs and POSTs it to a receiver on 127.0.0.1 (allowed by the
admin setting), failures are retried with a doubling backoff and logged attempt by attempt."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time

import pytest
from django.db import transaction
from django.utils import timezone

from evolab.experiments import events, services, settling
from evolab.experiments.models import Experiment, Status
from evolab.notifications import services as subscriptions
from evolab.notifications.models import Attempt, Delivery, DeliveryState


def running_run(team, member, **counters) -> Experiment:
    """A run whose budget is spent with nothing in training: the next settle finishes it."""
    config = {"population": 2, "max_individuals": 2, "target_accuracy": 0.75}
    exp = services.create_experiment(team, member, "digits-night", config)
    fields = {"status": Status.RUNNING, "started": timezone.now(), "individuals_created": 2,
              "individuals_trained": 2, "best_val_accuracy": 0.93, **counters}  # fmt: skip
    Experiment.objects.filter(pk=exp.pk).update(**fields)
    return exp


def verified(secret: str, headers: dict, body: bytes) -> dict:
    """The README's receiver recipe: recompute, compare in constant time, check the age."""
    ts = headers["X-EvoLab-Timestamp"]
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest("sha256=" + mac, headers["X-EvoLab-Signature"])
    assert abs(time.time() - int(ts)) < 300
    return json.loads(body)


@pytest.mark.django_db
def test_a_finished_run_posts_a_signed_webhook(
    eager, team, admin, member, receiver, django_capture_on_commit_callbacks
):
    sub, secret = subscriptions.create_webhook(team, admin, receiver.url, ["finished"])
    exp = running_run(team, member)
    with django_capture_on_commit_callbacks(execute=True):
        assert settling.settle(exp.pk) == Status.FINISHED
    ((headers, body),) = receiver.requests
    data = verified(secret, headers, body)
    assert headers["X-EvoLab-Event"] == "finished"
    assert data["event"] == "finished" and data["delivery"] == int(headers["X-EvoLab-Delivery"])
    assert data["run"]["id"] == exp.pk and data["run"]["name"] == "digits-night"
    assert data["run"]["status"] == "finished" and data["run"]["best_val_accuracy"] == 0.93
    assert data["run"]["team"] == {"id": team.pk, "name": team.name}
    assert data["run"]["url"].endswith(f"/experiments/{exp.pk}/")
    assert data["detail"]["reason"] == "individuals" and "finished" in data["summary"]
    (attempt,) = Attempt.objects.filter(delivery__subscription=sub)
    assert (attempt.number, attempt.ok, attempt.status_code, attempt.retry_in) == (
        1,
        True,
        200,
        None,
    )
    assert secret.encode() not in body and secret not in str(headers)


@pytest.mark.django_db
def test_a_failing_receiver_is_tried_again_with_a_doubling_backoff(
    eager, team, admin, member, receiver, django_capture_on_commit_callbacks
):
    receiver.codes = [500, 503, 200]
    sub, secret = subscriptions.create_webhook(team, admin, receiver.url, ["stopped"])
    exp = services.create_experiment(team, member, "stop-me", {"population": 2})
    with django_capture_on_commit_callbacks(execute=True):
        services.control(exp.pk, "stop")  # queued -> stopped at once
    assert len(receiver.requests) == 3
    bodies = {verified(secret, h, b)["delivery"] for h, b in receiver.requests}
    assert len(bodies) == 1  # the same delivery each time, signed anew
    tries = Attempt.objects.filter(delivery__subscription=sub).order_by("number")
    rows = [(t.number, t.ok, t.status_code, t.error, t.retry_in) for t in tries]
    assert rows == [(1, False, 500, "HTTP 500", 0.01), (2, False, 503, "HTTP 503", 0.02),
                    (3, True, 200, "", None)]  # fmt: skip
    assert Delivery.objects.get(subscription=sub).state == DeliveryState.DELIVERED


@pytest.mark.django_db
def test_redirects_are_not_followed_and_the_last_attempt_gives_up(
    eager, team, admin, member, receiver, settings, django_capture_on_commit_callbacks
):
    settings.EVOLAB_NOTIFY_ATTEMPTS = 2
    receiver.codes = [302]  # to the cloud's metadata address
    sub, _ = subscriptions.create_webhook(team, admin, receiver.url, ["finished"])
    with django_capture_on_commit_callbacks(execute=True):
        settling.settle(running_run(team, member).pk)
    assert len(receiver.requests) == 2
    tries = Attempt.objects.filter(delivery__subscription=sub).order_by("number")
    assert [(t.status_code, t.retry_in) for t in tries] == [(302, 0.01), (302, None)]
    assert all("redirects are not followed" in t.error for t in tries)
    assert Delivery.objects.get(subscription=sub).state == DeliveryState.FAILED


@pytest.mark.django_db
def test_a_silent_receiver_is_cut_off_at_the_timeout(
    eager, team, admin, member, receiver, settings
):
    settings.EVOLAB_WEBHOOK_TIMEOUT = 0.3
    settings.EVOLAB_NOTIFY_ATTEMPTS = 1
    silent = socket.create_server(("127.0.0.1", 0))  # accepts connections, never answers
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
    sub, _ = subscriptions.create_webhook(team, admin, url, ["finished"])
    exp = running_run(team, member)
    from evolab.taskqueue import send_notify

    started = time.monotonic()
    send_notify(exp.pk, "finished", "", {"reason": "individuals"})
    assert time.monotonic() - started < 3
    (attempt,) = Attempt.objects.filter(delivery__subscription=sub)
    assert attempt.error == "no answer within 0.3 s" and not attempt.ok
    silent.close()


@pytest.mark.django_db
def test_plateaus_and_the_target_are_notified_once_each(
    eager, team, admin, member, receiver, django_capture_on_commit_callbacks
):
    sub, secret = subscriptions.create_webhook(
        team, admin, receiver.url, ["target_reached", "no_improvement"], n=15
    )
    patient, _ = subscriptions.create_webhook(team, admin, receiver.url, ["no_improvement"], n=50)
    exp = running_run(team, member, individuals_trained=30, best_changed_at=10,
                      best_val_accuracy=0.8)  # fmt: skip

    def birth(**counters):
        Experiment.objects.filter(pk=exp.pk).update(**counters)
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            events.emit(exp.pk, events.BIRTH, {"id": 1, "val_accuracy": 0.8})

    birth()
    birth(individuals_trained=31)  # the same plateau: nothing new
    got = sorted((verified(secret, h, b)["event"], verified(secret, h, b)["detail"].get("since"))
                 for h, b in receiver.requests)  # fmt: skip
    assert got == [("no_improvement", 10), ("target_reached", None)]
    birth(individuals_trained=40, best_changed_at=32)  # the best rose at 32: 8 since
    assert len(receiver.requests) == 2
    birth(individuals_trained=47)  # 15 without a rise again
    assert len(receiver.requests) == 3
    assert Delivery.objects.filter(subscription=sub, event="no_improvement").count() == 2
    assert not Delivery.objects.filter(subscription=patient).exists()  # N = 50 not reached

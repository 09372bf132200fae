"""The worker side of a notice: fan an event out to the subscriptions that want it (one
Delivery each, never two), and make one attempt of a delivery, saying when to try again.

Both run in Celery tasks (workers/notify.py), never in a web request or a training step:
those only queue them (triggers.py). A retry is a new task with a countdown, so no worker
sleeps between attempts: waits double from EVOLAB_NOTIFY_BACKOFF_SECONDS, for at most
EVOLAB_NOTIFY_ATTEMPTS attempts.
"""

from __future__ import annotations

import json
import logging
import time

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from evolab.accounts.models import Membership
from evolab.experiments.models import Experiment

from . import messages, signing, ssrf, webhooks
from .models import Attempt, Channel, Delivery, DeliveryState, Event, Subscription

log = logging.getLogger(__name__)


def backoff(number: int) -> float:
    """Seconds to wait after failed attempt `number` (1, 2, ...): base, 2 x base, 4 x base..."""
    return settings.EVOLAB_NOTIFY_BACKOFF_SECONDS * 2 ** (number - 1)


def wants(sub: Subscription, exp: Experiment, event: str, detail: dict) -> bool:
    if not sub.active or event not in sub.events or sub.team_id != exp.team_id:
        return False
    if sub.channel == Channel.EMAIL:
        if sub.mine_only and exp.creator_id != sub.user_id:
            return False
        if not Membership.objects.filter(user_id=sub.user_id, team_id=exp.team_id).exists():
            return False  # left the team: hears nothing of its runs (checked again at send)
    if event == Event.NO_IMPROVEMENT:
        return detail["trained"] - detail["since"] >= sub.no_improvement_individuals
    return True


def fan_out(experiment_id: int, event: str, key: str, detail: dict) -> list[int]:
    """A Delivery for each subscription of the run's team that wants this event and has not
    had it (the unique constraint decides, also between two workers); their ids."""
    exp = Experiment.objects.select_related("team").filter(pk=experiment_id).first()
    if exp is None:
        return []
    body = messages.payload(exp, event, detail)
    created = []
    for sub in Subscription.objects.filter(team_id=exp.team_id, active=True):
        if not wants(sub, exp, event, detail):
            continue
        try:
            with transaction.atomic():
                row = Delivery.objects.create(
                    subscription=sub, experiment=exp, event=event, key=key, payload=body
                )
        except IntegrityError:
            continue  # notified already
        created.append(row.pk)
    return created


def attempt(delivery_id: int) -> float | None:
    """One attempt of a pending delivery, logged; seconds until the next, or None."""
    row = Delivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if row is None or row.state != DeliveryState.PENDING:
        return None
    number = row.attempts + 1
    # Taken by one worker only (a redelivered task finds the count moved on).
    taken = Delivery.objects.filter(pk=row.pk, state=DeliveryState.PENDING, attempts=row.attempts)
    if not taken.update(attempts=number):
        return None
    started = time.monotonic()
    code, error, final = None, "", False
    try:
        code = _send(row)
    except ssrf.AddressRefused as exc:
        error, final = f"refused: {exc}", True
    except Undeliverable as exc:
        error, final = str(exc), True
    except webhooks.SendFailed as exc:
        error, code = str(exc), exc.status_code
    except Exception as exc:  # SMTP and the like: retried
        error = f"{type(exc).__name__}: {exc}"
    ok = not error and (code is None or 200 <= code < 300)
    if not ok and not error:
        error = f"HTTP {code}"
    last = ok or final or number >= settings.EVOLAB_NOTIFY_ATTEMPTS
    retry_in = None if last else backoff(number)
    Attempt.objects.create(
        delivery=row, number=number, ok=ok, status_code=code, error=error[:300],
        seconds=round(time.monotonic() - started, 3), retry_in=retry_in,
    )  # fmt: skip
    state = DeliveryState.DELIVERED if ok else DeliveryState.PENDING
    if not ok and last:
        state = DeliveryState.FAILED
    Delivery.objects.filter(pk=row.pk).update(state=state)
    if not ok:
        log.info("delivery %s attempt %s: %s", row.pk, number, error)
    return retry_in


class Undeliverable(Exception):
    """No attempt can succeed (the user left the team, has no address): not retried."""


def _send(row: Delivery) -> int | None:
    sub = row.subscription
    body = {**row.payload, "delivery": row.pk}
    if sub.channel == Channel.WEBHOOK:
        target = ssrf.check(sub.url, settings.EVOLAB_WEBHOOK_ALLOW_PRIVATE)
        raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        headers = signing.headers(sub.secret, int(time.time()), raw, row.event, row.pk)
        return webhooks.post(target, raw, headers, settings.EVOLAB_WEBHOOK_TIMEOUT)
    user = sub.user
    if user is None or not user.is_active:
        raise Undeliverable("the account is gone or inactive")
    if not Membership.objects.filter(user=user, team_id=sub.team_id).exists():
        raise Undeliverable("no longer in the team")
    if not user.email:
        raise Undeliverable("the account has no e-mail address")
    subject, text = messages.email(body)
    send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [user.email])
    return None

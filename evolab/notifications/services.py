"""Subscriptions: the only code that creates, changes or deletes them. Pages and the API
call these; a refused value raises Refused naming the field, changing nothing."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from evolab.accounts.models import Team

from . import signing, ssrf
from .models import EVENTS, Attempt, Channel, Subscription

MAX_PER_TEAM = 25  # webhooks of a team
MAX_PER_USER = 25  # e-mail subscriptions of a user
MAX_N = 1_000_000


class Refused(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def clean_events(events) -> list[str]:
    if not isinstance(events, list | tuple) or not events:
        raise Refused("events", "Choose at least one event.")
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise Refused(
            "events", f"Unknown event {str(unknown[0])[:40]!r}: one of {', '.join(EVENTS)}."
        )
    return [e for e in EVENTS if e in events]  # in their order, each once


def clean_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise Refused("no_improvement_individuals", f"A whole number from 1 to {MAX_N}.")
    return n


def clean_url(url: str) -> str:
    """A URL a webhook may use now (resolved and checked: ssrf.check), or Refused."""
    try:
        ssrf.check(url, settings.EVOLAB_WEBHOOK_ALLOW_PRIVATE)
    except ssrf.AddressRefused as exc:
        raise Refused("url", str(exc)) from None
    return url.strip()


def team_webhooks(team: Team) -> QuerySet[Subscription]:
    return Subscription.objects.filter(team=team, channel=Channel.WEBHOOK)


def create_webhook(team: Team, creator, url: str, events, n: int = 100,
                   active: bool = True) -> tuple[Subscription, str]:  # fmt: skip
    """A team webhook and its secret (shown once: the caller hands it to the admin)."""
    fields = {
        "url": clean_url(url),
        "events": clean_events(events),
        "no_improvement_individuals": clean_n(n),
    }
    if team_webhooks(team).count() >= MAX_PER_TEAM:
        raise Refused("url", f"A team has at most {MAX_PER_TEAM} webhooks: delete one first.")
    secret = signing.new_secret()
    sub = Subscription.objects.create(
        team=team, channel=Channel.WEBHOOK, secret=secret, active=bool(active),
        created_by=creator, **fields,
    )  # fmt: skip
    return sub, secret


def update_webhook(sub: Subscription, changes: dict) -> Subscription:
    cleaners = {"url": clean_url, "events": clean_events, "no_improvement_individuals": clean_n,
                "active": bool}  # fmt: skip
    for name, value in changes.items():
        setattr(sub, name, cleaners[name](value))
    if changes:
        sub.save(update_fields=list(changes))
    return sub


def email_subscriptions(user) -> QuerySet[Subscription]:
    return Subscription.objects.filter(user=user, channel=Channel.EMAIL).select_related("team")


def create_email(user, team: Team, events, n: int = 100, mine_only: bool = False) -> Subscription:
    """E-mails to `user` on the runs of `team` (the caller checked that they are in it)."""
    events, n = clean_events(events), clean_n(n)
    if email_subscriptions(user).count() >= MAX_PER_USER:
        raise Refused("events", f"At most {MAX_PER_USER} e-mail subscriptions: delete one first.")
    return Subscription.objects.create(
        team=team, user=user, channel=Channel.EMAIL, events=events,
        no_improvement_individuals=n, mine_only=bool(mine_only), created_by=user,
    )  # fmt: skip


def delivery_log(subscriptions: QuerySet[Subscription], limit: int = 50) -> QuerySet[Attempt]:
    """The latest attempts of these subscriptions' deliveries, newest first."""
    return (
        Attempt.objects.filter(delivery__subscription__in=subscriptions)
        .select_related("delivery__subscription", "delivery__experiment")
        .order_by("-at", "-pk")[:limit]
    )

"""Who hears of which run events (Subscription), and each notice sent (Delivery, with its
attempts): the delivery log team admins read."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from evolab.accounts.models import Team
from evolab.experiments.models import Experiment


class Event(models.TextChoices):
    FINISHED = "finished", "Run finished"
    FAILED = "failed", "Run failed"
    STOPPED = "stopped", "Run stopped"
    TARGET_REACHED = "target_reached", "Target accuracy reached"
    NO_IMPROVEMENT = "no_improvement", "No improvement for N individuals"


EVENTS = [e.value for e in Event]
STATUS_EVENTS = (Event.FINISHED, Event.FAILED, Event.STOPPED)  # a run's resting status
PROGRESS_EVENTS = (Event.TARGET_REACHED, Event.NO_IMPROVEMENT)  # read after a birth


class Channel(models.TextChoices):
    WEBHOOK = "webhook"  # a team's: a URL, signed with the subscription's secret
    EMAIL = "email"  # a user's: to their address


class Subscription(models.Model):
    """A team's webhook (user empty) or a user's e-mails, on the runs of one team."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="subscriptions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notification_subscriptions",
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    url = models.CharField(max_length=500, blank=True)
    secret = models.CharField(max_length=80, blank=True)  # signs the body: must be kept plain
    events = models.JSONField(default=list)  # Event values
    no_improvement_individuals = models.PositiveIntegerField(default=100)  # the N
    mine_only = models.BooleanField(default=False)  # e-mail: only the runs the user created
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-pk"]
        indexes = [models.Index(fields=["team", "active"])]

    def __str__(self) -> str:
        return f"{self.channel} of {self.team}: {', '.join(self.events)}"


class DeliveryState(models.TextChoices):
    PENDING = "pending"  # an attempt is queued
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt failed, or the address was refused


class Delivery(models.Model):
    """One notice of one event of one run to one subscription: at most one each (`key`
    tells plateaus apart: the individual count at which the best last rose)."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=20, choices=Event.choices)
    key = models.CharField(max_length=40, blank=True)
    payload = models.JSONField(default=dict)  # the same body on every attempt
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "experiment", "event", "key"], name="one_notice_each"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} of run {self.experiment_id} to {self.subscription_id}"


class Attempt(models.Model):
    """One try of a delivery: when, the HTTP status (webhooks) or the error, and the wait
    before the next try (None: none follows)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="tries")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    seconds = models.FloatField(default=0.0)
    retry_in = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"

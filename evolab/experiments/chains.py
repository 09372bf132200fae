"""The W asynchronous step chains of a run, kept alive through any broker or worker fault.

Each chain is a row (experiment, slot) with a token; the step task for it carries the token as
its Celery task id. A step only runs if it still holds its chain's token, so duplicates and
redeliveries are harmless. The reconciler (a periodic task) replaces chains whose message was
lost: Redis restarted or emptied, or a worker killed outright (its unacked message would only
come back after the broker's visibility timeout).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from evolab.taskqueue import send_step

from .models import Chain, ChainState, Experiment, Status
from .settling import needs_workers, settle

log = logging.getLogger(__name__)
QUEUE_GRACE_SECONDS = 10  # a message younger than this may still be on its way to Redis


def queue(experiment_id: int, slots: Iterable[int], countdown: float = 0) -> None:
    """(Re)start chains: a fresh token per slot, the task sent after commit."""
    now = timezone.now()
    with transaction.atomic():
        for slot in slots:
            token = str(uuid.uuid4())
            fields = {"token": token, "state": ChainState.QUEUED, "beat": now, "queued_at": now}
            # One UPDATE for the common case, a chain that goes on (update_or_create reads first).
            if not Chain.objects.filter(experiment_id=experiment_id, slot=slot).update(**fields):
                Chain.objects.create(experiment_id=experiment_id, slot=slot, **fields)
            transaction.on_commit(
                lambda slot=slot, token=token: send_step(experiment_id, slot, token, countdown)
            )


def begin(experiment_id: int, slot: int, token: str) -> bool:
    """Take the chain for this message; False if the token is stale or a live worker has it."""
    stale = timezone.now() - timedelta(seconds=settings.EVOLAB_LEASE_SECONDS)
    return bool(
        Chain.objects.filter(experiment_id=experiment_id, slot=slot, token=token)
        .filter(Q(state=ChainState.QUEUED) | Q(state=ChainState.RUNNING, beat__lt=stale))
        .update(state=ChainState.RUNNING, beat=timezone.now())
    )


def beat(experiment_id: int, slot: int, token: str) -> None:
    Chain.objects.filter(experiment_id=experiment_id, slot=slot, token=token).update(
        beat=timezone.now()
    )


def end(experiment_id: int, slot: int, token: str) -> None:
    Chain.objects.filter(experiment_id=experiment_id, slot=slot, token=token).delete()


def trim(experiment_id: int, workers: int) -> None:
    """Fewer workers: chains beyond the new count end (their next message finds no row)."""
    Chain.objects.filter(experiment_id=experiment_id, slot__gte=workers).delete()


def reconcile(broker_has: Callable[[str], bool]) -> list[tuple[int, int]]:
    """Queue every chain a running experiment is missing; returns (experiment, slot) pairs."""
    now = timezone.now()
    dead_before = now - timedelta(seconds=settings.EVOLAB_LEASE_SECONDS)
    lost_before = now - timedelta(seconds=QUEUE_GRACE_SECONDS)
    replaced = []
    for exp in Experiment.objects.filter(
        status__in=[Status.RUNNING, Status.PAUSING, Status.STOPPING]
    ):
        workers = exp.cfg.workers
        trim(exp.pk, workers)
        if exp.status != Status.RUNNING or not needs_workers(exp):
            settle(exp.pk)  # e.g. a pause whose last in-flight worker died
            continue
        chains = {c.slot: c for c in exp.chains.all()}
        missing = [
            slot
            for slot in range(workers)
            if (c := chains.get(slot)) is None
            or (c.state == ChainState.RUNNING and c.beat < dead_before)
            or (
                c.state == ChainState.QUEUED
                and c.queued_at < lost_before
                and not broker_has(str(c.token))
            )
        ]
        if missing:
            log.warning("experiment %s: re-queueing lost chains %s", exp.pk, missing)
            queue(exp.pk, missing)
            replaced += [(exp.pk, slot) for slot in missing]
    return replaced


def broker_has_message(token: str) -> bool:
    """Is a task with this id waiting in, or held unacked from, the Redis broker?"""
    import redis

    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
    needle = token.encode()
    queued = client.lrange(f"{prefix}{settings.CELERY_TASK_DEFAULT_QUEUE}", 0, -1)
    unacked = client.hvals(f"{prefix}unacked")
    return any(needle in message for message in [*queued, *unacked])

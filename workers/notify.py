"""Celery tasks of notifications: the fan-out of a run event and one attempt of a delivery
(evolab.notifications.delivery does both). A failed attempt queues the next with its backoff
as a countdown: no worker waits in between."""

from __future__ import annotations

from evolab.notifications import delivery
from evolab.taskqueue import DELIVER, NOTIFY, app, send_delivery


@app.task(name=NOTIFY, acks_late=True, ignore_result=True)
def notify(experiment_id: int, event: str, key: str, detail: dict) -> int:
    ids = delivery.fan_out(experiment_id, event, key, detail)
    for delivery_id in ids:
        send_delivery(delivery_id)
    return len(ids)


@app.task(name=DELIVER, acks_late=True, ignore_result=True)
def deliver(delivery_id: int) -> float | None:
    wait = delivery.attempt(delivery_id)
    if wait is not None:
        send_delivery(delivery_id, countdown=wait)
    return wait

"""The Celery app, and the only way the web side queues work: by task name.

`evolab` never imports `workers` (tests/unit/test_import_contract.py): the workers import the
engine and the services, and register the tasks named here (`workers/tasks.py`). The same
app object serves both sides; `celery -A workers.celery worker` loads it with the tasks.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evolab.settings")

STEP = "evolab.step"
EVALUATE_FINAL = "evolab.evaluate_final"
RECONCILE = "evolab.reconcile"
INDEX_DATASET = "evolab.index_dataset"
NOTIFY = "evolab.notify"
DELIVER = "evolab.deliver"

app = Celery("evolab", include=["workers.tasks", "workers.notify"])
app.config_from_object("django.conf:settings", namespace="CELERY")


def _beat_schedule() -> dict:
    from django.conf import settings

    return {
        "reconcile": {
            "task": RECONCILE,
            "schedule": settings.EVOLAB_RECONCILE_SECONDS,
            "options": {"expires": 30},
        }
    }


app.conf.beat_schedule = _beat_schedule()


def _signature(name: str, args: tuple):
    """A task by name: sent to the broker; or, with the app eager (the in-process tests), run
    in place, its module loaded from the app's `include` list."""
    if app.conf.task_always_eager:
        app.loader.import_default_modules()
    return app.signature(name, args=args)


def send_step(experiment_id: int, slot: int, token: str, countdown: float = 0) -> None:
    """Queue one step of chain `slot`; its Celery task id is the chain's token."""
    _signature(STEP, (experiment_id, slot, token)).apply_async(
        task_id=token, countdown=countdown or None
    )


def send_final_evaluation(experiment_id: int) -> None:
    _signature(EVALUATE_FINAL, (experiment_id,)).apply_async()


def send_index_dataset(dataset_id: int) -> None:
    """Check, decode and store an uploaded team dataset (evolab.experiments.uploads)."""
    _signature(INDEX_DATASET, (dataset_id,)).apply_async()


def send_notify(experiment_id: int, event: str, key: str, detail: dict) -> None:
    """Fan a run event out to the subscriptions that want it (evolab.notifications)."""
    _signature(NOTIFY, (experiment_id, event, key, detail)).apply_async()


def send_delivery(delivery_id: int, countdown: float = 0) -> None:
    """One attempt of a notice; a retry comes with its backoff as the countdown."""
    _signature(DELIVER, (delivery_id,)).apply_async(countdown=countdown or None)

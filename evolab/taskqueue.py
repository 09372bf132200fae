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

app = Celery("evolab", include=["workers.tasks"])
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


def send_step(experiment_id: int, slot: int, token: str, countdown: float = 0) -> None:
    """Queue one step of chain `slot`; its Celery task id is the chain's token."""
    # A signature by name: sent to the broker, or run in place where the task is registered
    # and the app is eager (the in-process tests).
    step = app.signature(STEP, args=(experiment_id, slot, token))
    step.apply_async(task_id=token, countdown=countdown or None)


def send_final_evaluation(experiment_id: int) -> None:
    app.signature(EVALUATE_FINAL, args=(experiment_id,)).apply_async()

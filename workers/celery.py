"""The Celery app: broker and task settings come from Django settings (CELERY_*)."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evolab.settings")

app = Celery("evolab", include=["workers.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.beat_schedule = {
    "reconcile": {
        "task": "evolab.reconcile",
        "schedule": float(os.environ.get("EVOLAB_RECONCILE_SECONDS", "5")),
        "options": {"expires": 30},
    }
}


@worker_process_init.connect
def _one_thread_per_process(**_kwargs) -> None:
    """Workers share the CPU: one torch thread each unless told otherwise (DESIGN.md)."""
    import torch

    torch.set_num_threads(int(os.environ.get("EVOLAB_TORCH_THREADS", "1")))

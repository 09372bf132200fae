"""The Celery worker's entry point (`celery -A workers.celery worker`): the app of
`evolab.taskqueue`, with this package's tasks registered."""

import signal

from celery.signals import (
    beat_embedded_init,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
)

from evolab.launcher_watch import die_with_launcher, die_with_parent
from evolab.taskqueue import app

__all__ = ["app"]


@worker_process_init.connect
def _one_thread_per_process(**_kwargs) -> None:
    """Workers share the CPU: one torch thread each unless EVOLAB_TORCH_THREADS says."""
    import torch
    from django.conf import settings

    torch.set_num_threads(settings.EVOLAB_TORCH_THREADS)


@worker_process_init.connect
@beat_embedded_init.connect
def _die_with_the_worker(**_kwargs) -> None:
    """A pool process, and the beat a worker runs in a process of its own (--beat), end
    when their Celery parent does, even one killed with SIGKILL."""
    die_with_parent(signal.SIGKILL)


@worker_process_init.connect
def _report_this_process(**_kwargs) -> None:
    """The workers page lists every pool process, idle ones too (workers/process_beat.py)."""
    from django.conf import settings

    from workers import process_beat
    from workers.child import device

    process_beat.start(device(settings))


@worker_process_shutdown.connect
def _say_this_process_is_gone(**_kwargs) -> None:
    from workers import process_beat

    process_beat.stop()


@worker_init.connect
def _die_with_the_launcher(**_kwargs) -> None:
    """Started by `make run` or `gpuworkers`: a cold shutdown when the launcher is gone."""
    die_with_launcher(signal.SIGQUIT)

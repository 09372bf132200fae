"""The Celery worker's entry point (`celery -A workers.celery worker`): the app of
`evolab.taskqueue`, with this package's tasks registered."""

from celery.signals import worker_process_init

from evolab.taskqueue import app

__all__ = ["app"]


@worker_process_init.connect
def _one_thread_per_process(**_kwargs) -> None:
    """Workers share the CPU: one torch thread each unless EVOLAB_TORCH_THREADS says."""
    import torch
    from django.conf import settings

    torch.set_num_threads(settings.EVOLAB_TORCH_THREADS)

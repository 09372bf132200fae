"""`python manage.py gpuworkers`: the Celery workers of one machine, one process per device.

- GPUs: one worker process per visible GPU (CUDA_VISIBLE_DEVICES pinned to it), or several
  per GPU with --per-gpu N (small children leave a GPU mostly idle);
- no GPU: one process per core, one torch thread each (--cpu-processes to override).
Every process consumes the deployment's step queue (EVOLAB_QUEUE) and keeps its dataset on
its device across children. Ctrl-C / SIGTERM stops all of them (honcho).
"""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workers.launch import visible_gpus, worker_commands


class Command(BaseCommand):
    help = "Start one Celery worker process per visible GPU (or per CPU core without one)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--per-gpu",
            type=int,
            default=int(os.environ.get("EVOLAB_WORKERS_PER_GPU", "1")),
            help="worker processes per GPU (default 1; env EVOLAB_WORKERS_PER_GPU)",
        )
        parser.add_argument(
            "--cpu-processes",
            type=int,
            default=os.cpu_count() or 1,
            help="processes on a machine without GPU (default: one per core)",
        )
        parser.add_argument("--queue", default=settings.CELERY_TASK_DEFAULT_QUEUE)
        parser.add_argument(
            "--beat",
            action="store_true",
            help="also run the periodic reconciler (once per deployment)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="print the processes it would start, and exit"
        )

    def handle(self, *args, per_gpu, cpu_processes, queue, beat, dry_run, **options):
        if per_gpu < 1 or cpu_processes < 1:
            raise CommandError("--per-gpu and --cpu-processes must be at least 1")
        procs = worker_commands(visible_gpus(), per_gpu, cpu_processes, queue, beat)
        for name, cmd, env in procs:
            pinned = " ".join(f"{k}={v!s}" for k, v in env.items())
            self.stdout.write(f"{name}: {pinned} {cmd}")
        if dry_run:
            return
        from honcho.manager import Manager

        manager = Manager()
        for name, cmd, env in procs:
            manager.add_process(name, cmd, env={**os.environ, **env})
        manager.loop()
        sys.exit(manager.returncode)

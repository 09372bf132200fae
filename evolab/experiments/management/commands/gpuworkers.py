"""`python manage.py gpuworkers`: the Celery workers of one machine, one process per device.

- GPUs: several worker processes per visible GPU (CUDA_VISIBLE_DEVICES pinned to it): small
  children leave a GPU mostly idle. Under MPS (started here when the driver ships it) their
  kernels run side by side: 8 per GPU by default, measured 2.7-2.8x the children of one
  (bench/RESULTS-gpu.md). Without MPS processes only time-slice the GPU: 1 by default;
- no GPU: one process per core, one torch thread each (--cpu-processes to override).
Every process consumes the deployment's step queue (EVOLAB_QUEUE) and keeps its dataset on
its device across children. Ctrl-C / SIGTERM stops all of them (honcho); if this command is
killed outright they stop themselves (evolab/launcher_watch.py).
"""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from evolab.launcher_watch import launched_env
from evolab.worker_launch import (
    default_per_gpu,
    mps_control,
    start_mps,
    stop_mps,
    visible_gpus,
    worker_commands,
)


class Command(BaseCommand):
    help = "Start one Celery worker process per visible GPU (or per CPU core without one)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--per-gpu",
            default=settings.EVOLAB_WORKERS_PER_GPU,
            help="worker processes per GPU: a number, or auto (8 under MPS, else 1; "
            "env EVOLAB_WORKERS_PER_GPU)",
        )
        parser.add_argument(
            "--mps",
            choices=["auto", "on", "off"],
            default=settings.EVOLAB_MPS,
            help="run the GPU's processes under MPS: auto = when the driver ships "
            "nvidia-cuda-mps-control (env EVOLAB_MPS)",
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

    def handle(self, *args, per_gpu, mps, cpu_processes, queue, beat, dry_run, **options):
        if per_gpu != "auto" and (not per_gpu.isdigit() or int(per_gpu) < 1):
            raise CommandError(
                f"--per-gpu must be a whole number of at least 1 or auto, not {per_gpu!r}"
            )
        if cpu_processes < 1:
            raise CommandError("--cpu-processes must be at least 1")
        gpus = visible_gpus()
        if mps == "on" and gpus and mps_control() is None:
            raise CommandError(
                "--mps on: nvidia-cuda-mps-control is not on the PATH (it comes with the "
                "NVIDIA driver); use --mps auto or off"
            )
        use_mps = bool(gpus) and mps != "off" and mps_control() is not None
        per_gpu = default_per_gpu(use_mps) if per_gpu == "auto" else int(per_gpu)
        use_mps = use_mps and per_gpu > 1  # one process per GPU gains nothing from it
        procs = worker_commands(gpus, per_gpu, cpu_processes, queue, beat)
        if gpus:
            self.stdout.write(
                f"{len(gpus)} GPU(s), {per_gpu} worker process(es) each, "
                f"MPS {'on' if use_mps else 'off'}"
            )
        for name, cmd, env in procs:
            pinned = " ".join(f"{k}={v!s}" for k, v in env.items())
            self.stdout.write(f"{name}: {pinned} {cmd}")
        if dry_run:
            return
        mps_state = start_mps() if use_mps else None
        if use_mps and mps_state is None:
            self.stderr.write("MPS did not start: the processes will time-slice the GPU")
        from honcho.manager import Manager

        manager = Manager()
        for name, cmd, env in procs:
            manager.add_process(name, cmd, env={**os.environ, **launched_env(), **env})
        try:
            manager.loop()
        finally:
            if mps_state == "started":  # a daemon someone else runs is left alone
                stop_mps()
        sys.exit(manager.returncode)

"""Which Celery worker processes a machine runs: one per visible GPU, or per CPU core.

Shared by `manage.py gpuworkers` (deployments) and `make run` (evolab.launch).
"""

from __future__ import annotations

import os
import sys


def visible_gpus() -> list[str]:
    """GPU ids this machine offers (respects an outer CUDA_VISIBLE_DEVICES)."""
    outer = os.environ.get("CUDA_VISIBLE_DEVICES")
    if outer is not None:
        return [g.strip() for g in outer.split(",") if g.strip() and g.strip() != "-1"]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except Exception:  # a broken driver must not stop a CPU worker from starting
        return []


def worker_commands(
    gpus: list[str], per_gpu: int, cpu_processes: int, queue: str, beat: bool
) -> list[tuple[str, str, dict[str, str]]]:
    """(name, command line, extra environment) for each worker process to start."""
    base = (
        f"{sys.executable} -m celery -A workers.celery worker -Q {queue} "
        "--loglevel INFO --without-gossip --without-mingle"
    )
    procs = []
    if gpus:
        threads = str(max(1, (os.cpu_count() or 1) // (len(gpus) * per_gpu)))
        for gpu in gpus:
            for j in range(per_gpu):
                name = f"gpu{gpu}-{j}"
                procs.append(
                    (
                        name,
                        f"{base} -c 1 -n {name}@%h",
                        {
                            "CUDA_VISIBLE_DEVICES": gpu,
                            "EVOLAB_DEVICE": "cuda",
                            "EVOLAB_TORCH_THREADS": threads,
                        },
                    )
                )
    else:
        procs.append(
            (
                "cpu",
                f"{base} -c {cpu_processes} -n cpu@%h",
                {"CUDA_VISIBLE_DEVICES": "", "EVOLAB_DEVICE": "cpu", "EVOLAB_TORCH_THREADS": "1"},
            )
        )
    if beat:
        procs[0] = (procs[0][0], procs[0][1] + " --beat", procs[0][2])
    return procs

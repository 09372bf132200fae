"""Which Celery worker processes a machine runs: one per visible GPU, or per CPU core.

Shared by `manage.py gpuworkers` (deployments) and `make run` (evolab.launch); it imports
no Django and no torch at import time, so both launchers can plan before anything loads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

# Worker processes per GPU, measured (bench/gpu.py, bench/RESULTS-gpu.md; H100, mid-run
# children of 300 steps): without MPS the processes time-slice the GPU and 2-8 of them train
# 1.02-1.21x the children of one; under MPS their kernels run side by side: 8 train 2.7-2.8x,
# 16 no more. So: 8 per GPU when MPS is there, else 1.
PER_GPU_WITH_MPS = 8
PER_GPU_WITHOUT_MPS = 1
MPS_CONTROL = "nvidia-cuda-mps-control"


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


def mps_control() -> str | None:
    """The MPS control program, if this machine's driver ships it."""
    return shutil.which(MPS_CONTROL)


def default_per_gpu(mps: bool) -> int:
    return PER_GPU_WITH_MPS if mps else PER_GPU_WITHOUT_MPS


def start_mps() -> str | None:
    """Start the MPS control daemon: "started", "running" (one was up already) or None
    (no MPS: the workers still run, time-sliced). Never raises."""
    control = mps_control()
    if control is None:
        return None
    try:
        # A daemon that is up answers a query; `-d` would fail beside it.
        probe = subprocess.run(
            [control], input="get_server_list\n", capture_output=True, text=True, timeout=30
        )
        if probe.returncode == 0:
            return "running"
        started = subprocess.run([control, "-d"], capture_output=True, text=True, timeout=30)
        return "started" if started.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def stop_mps() -> None:
    control = mps_control()
    if control is not None:
        try:
            subprocess.run([control], input="quit\n", capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            pass

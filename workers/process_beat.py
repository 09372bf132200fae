"""Each Celery pool process reports what it is and what it does, every BEAT_SECONDS and soon
after it starts or ends a child (evolab/experiments/processes.py keeps the reports).

A record: host, pid, the Celery node, the queues it consumes, the device (CPU cores or the
GPU's name), resident memory (and the GPU memory torch holds), the child in training
(experiment, individual, number; its progress is the child's own lease heartbeat), children
trained, and children per hour over the last hour. The step task tells `ACTIVITY` when a
child starts and ends; a daemon thread does the reporting, so a step never waits on it.
"""

from __future__ import annotations

import logging
import os
import resource
import socket
import threading
import time
from collections import deque

import torch

from evolab.experiments import processes
from evolab.taskqueue import app

BEAT_SECONDS = 3.0
MIN_GAP_SECONDS = 1.0  # a process that starts children faster reports no more often
RATE_WINDOW_SECONDS = 3600.0

log = logging.getLogger(__name__)


class Activity:
    """What this process does now; written by the step task, read by the reporting thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Event()
        self.started = time.time()
        self.node = ""
        self.child: dict | None = None
        self.done = 0
        self.finished: deque[float] = deque()  # monotonic times of the last hour's children

    def training(self, experiment_id: int, individual_id: int, number: int, node: str) -> None:
        with self.lock:
            self.node = node or self.node
            self.child = {"experiment": experiment_id, "individual": individual_id,
                          "number": number}  # fmt: skip
        self.changed.set()

    def idle(self, trained: bool = False) -> None:
        with self.lock:
            self.child = None
            if trained:
                self.done += 1
                self.finished.append(time.monotonic())
        self.changed.set()

    def per_hour(self, now: float) -> float:
        """Children per hour over the last hour (over the process's life while younger)."""
        while self.finished and self.finished[0] < now - RATE_WINDOW_SECONDS:
            self.finished.popleft()
        span = min(RATE_WINDOW_SECONDS, max(time.time() - self.started, 1.0))
        return len(self.finished) * 3600.0 / span

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "node": self.node,
                "child": self.child,
                "children_done": self.done,
                "children_per_hour": round(self.per_hour(time.monotonic()), 1),
                "started": self.started,
            }


ACTIVITY = Activity()
STOP = threading.Event()


def name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def rss_bytes() -> int:
    """Resident memory now (Linux), else the peak the kernel reports."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def describe_device(device: torch.device) -> dict:
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return {"device_kind": "cuda", "device": torch.cuda.get_device_name(index)}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"device_kind": device.type, "device": f"CPU, {cores} cores", "cores": cores}


def queues() -> list[str]:
    """The Celery queues this process takes tasks from (the worker's -Q, else the default
    queue): a pool process inherits its worker's selection."""
    return sorted(app.amqp.queues.consume_from)


def record(device: torch.device, about_device: dict, activity: Activity = ACTIVITY) -> dict:
    gpu = None
    if device.type == "cuda" and torch.cuda.is_initialized():
        gpu = torch.cuda.memory_reserved(device)
    return {
        "name": name(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "threads": torch.get_num_threads(),
        "queues": queues(),
        **about_device,
        "rss_bytes": rss_bytes(),
        "gpu_bytes": gpu,
        **activity.snapshot(),
    }


def report_forever(device: torch.device, activity: Activity = ACTIVITY) -> None:
    about_device = describe_device(device)
    while not STOP.is_set():
        try:
            processes.report(record(device, about_device, activity))
        except Exception as exc:  # Redis away for a moment: the next beat tries again
            log.debug("process report failed: %s", exc)
        time.sleep(MIN_GAP_SECONDS)
        activity.changed.wait(BEAT_SECONDS - MIN_GAP_SECONDS)
        activity.changed.clear()


def start(device: torch.device) -> threading.Thread:
    thread = threading.Thread(
        target=report_forever, args=(device,), name="process-beat", daemon=True
    )
    thread.start()
    return thread


def stop() -> None:
    STOP.set()
    try:
        processes.forget(name())
    except Exception as exc:
        log.debug("process forget failed: %s", exc)

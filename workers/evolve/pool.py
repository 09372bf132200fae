"""Asynchronous worker processes (docs/ALGORITHM.md §1: asynchronous workers, §8).

Each spawned worker loads the dataset once (without its test split), then trains the
children the main process hands it with the one trainer (`workers.trainer.train_one`, as
the Celery task does); weights travel as safetensors bytes, not pickles.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
import traceback
from dataclasses import dataclass, field

import torch
from safetensors.torch import load as load_weights

from evolab.datasets import Dataset, load_dataset
from evolab.environment import TrainingOptions
from evolab.evolution.dna import DNA
from evolab.evolution.step import TrainedChild
from workers.trainer import ChildTask, train_one
from workers.training import pick_device

RESULT_POLL_S = 1.0


@dataclass
class Task:
    """What a worker needs to train one child; weights travel as safetensors bytes."""

    ticket: int
    child: ChildTask
    parent_weights: bytes | None


@dataclass
class Outcome:
    ticket: int
    child: TrainedChild
    trained_s: float  # wall time in the worker, loading the parent's weights included
    pid: int


@dataclass
class WorkerFailure:
    ticket: int
    error: str


@dataclass(frozen=True)
class WorkerSetup:
    dataset: str
    data_dir: str | None
    seed: int
    threads: int
    options: TrainingOptions
    val_size: int | None = field(default=None, kw_only=True)


def worker_main(setup: WorkerSetup, tasks: mp.Queue, results: mp.Queue) -> None:
    """One asynchronous worker: load the data once, then train children until told to stop."""
    torch.set_num_threads(setup.threads)
    torch.set_flush_denormal(True)  # denormals make tiny CPU convs crawl
    device = pick_device(setup.options.device)
    try:
        # Workers never see the test split: fitness is validation only (§5, §8).
        data = load_dataset(setup.dataset, setup.data_dir, setup.seed, setup.val_size)
        data = data.without_test()
        data = data.to(device)
        _warm_up(data, device, setup.options)
    except Exception:
        results.put(WorkerFailure(-1, traceback.format_exc()))
        return
    while (task := tasks.get()) is not None:
        try:
            results.put(_train_task(task, data, device, setup.options))
        except Exception:  # report, let the main process decide; never hang it
            results.put(WorkerFailure(task.ticket, traceback.format_exc()))


def _warm_up(data: Dataset, device: torch.device, options: TrainingOptions) -> None:
    """Pay the one-off costs (lazy imports, allocator) before the first child, so that
    its trained_s is comparable with the others'."""
    train_one(ChildTask(DNA.initial().to_json(), 2, 2, 0), None, data, device, None, options)


def _train_task(
    task: Task, data: Dataset, device: torch.device, options: TrainingOptions
) -> Outcome:
    started = time.monotonic()
    parent_state = load_weights(task.parent_weights) if task.parent_weights else None
    child = train_one(task.child, parent_state, data, device, None, options)
    assert child is not None  # no Progress here: nothing stops it
    return Outcome(task.ticket, child, time.monotonic() - started, os.getpid())


class WorkerPool:
    """W spawned processes sharing one task queue; the caller keeps at most W in flight,
    so each step is planned only when a worker is free to take it."""

    def __init__(self, setup: WorkerSetup, count: int) -> None:
        # spawn: no forked copies of the main process's torch/OpenMP state.
        ctx = mp.get_context("spawn")
        self.tasks: mp.Queue = ctx.Queue()
        self.results: mp.Queue = ctx.Queue()
        self.processes = [
            ctx.Process(target=worker_main, args=(setup, self.tasks, self.results), daemon=True)
            for _ in range(count)
        ]
        for process in self.processes:
            process.start()
        self.in_flight = 0

    @property
    def free(self) -> int:
        return len(self.processes) - self.in_flight

    def submit(self, task: Task) -> None:
        self.tasks.put(task)
        self.in_flight += 1

    def next_result(self) -> Outcome:
        while True:
            try:
                message = self.results.get(timeout=RESULT_POLL_S)
            except queue.Empty:
                self._check_alive()
                continue
            self.in_flight -= 1
            if isinstance(message, WorkerFailure):
                what = "starting a worker" if message.ticket < 0 else f"training #{message.ticket}"
                raise RuntimeError(f"{what} failed:\n{message.error}")
            return message

    def _check_alive(self) -> None:
        for process in self.processes:
            if not process.is_alive():
                raise RuntimeError(f"worker process {process.pid} died (exit {process.exitcode})")

    def close(self) -> None:
        for _ in self.processes:
            self.tasks.put(None)
        deadline = time.monotonic() + 10
        for process in self.processes:
            process.join(timeout=max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)

"""A worker process's loop, run in this process: it never holds the test split."""

from __future__ import annotations

import queue

import torch

from evolab.environment import TrainingOptions
from evolab.evolution.dna import DNA
from workers.evolve import pool
from workers.evolve.pool import Outcome, Task, WorkerFailure, WorkerSetup
from workers.trainer import ChildTask


def _setup(dataset: str = "digits") -> WorkerSetup:
    # Keep this process's thread count: worker_main sets it globally.
    return WorkerSetup(dataset, None, 1, torch.get_num_threads(), TrainingOptions(device="cpu"))


def test_a_worker_trains_children_with_the_one_trainer_on_data_without_the_test_split(
    monkeypatch,
):
    seen = []
    real = pool.train_one

    def spy(task, parent_state, data, *args, **kwargs):
        seen.append(len(data.test_x))
        return real(task, parent_state, data, *args, **kwargs)

    monkeypatch.setattr(pool, "train_one", spy)
    tasks, results = queue.Queue(), queue.Queue()
    tasks.put(Task(7, ChildTask(DNA.initial().to_json(), 5, 50, 0), None))
    tasks.put(None)
    pool.worker_main(_setup(), tasks, results)
    outcome = results.get_nowait()
    assert isinstance(outcome, Outcome) and outcome.ticket == 7
    assert 0.0 <= outcome.child.val_accuracy <= 1.0 and outcome.child.weights
    assert seen and set(seen) == {0}


def test_a_worker_reports_a_failing_child_instead_of_dying():
    tasks, results = queue.Queue(), queue.Queue()
    tasks.put(Task(3, ChildTask({"schema": 99}, 5, 50, 0), None))
    tasks.put(None)
    pool.worker_main(_setup(), tasks, results)
    failure = results.get_nowait()
    assert isinstance(failure, WorkerFailure) and failure.ticket == 3
    assert "DNAError" in failure.error


def test_a_worker_that_cannot_load_its_data_says_why():
    tasks, results = queue.Queue(), queue.Queue()
    pool.worker_main(_setup("cifar10"), tasks, results)
    failure = results.get_nowait()
    assert failure.ticket == -1 and "DatasetError" in failure.error

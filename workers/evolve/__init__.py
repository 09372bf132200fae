"""Headless runner: the paper's loop in one command, no web, broker or database.

    python -m workers.evolve --dataset digits --population 20 --steps 300 --out run.json

The main process owns the population (`evolab.evolution.memory_store.MemoryStore`) and
plans every step with the web app's engine (`evolab.evolution.step.plan_child`); W worker
processes train children asynchronously with the web workers' trainer
(`workers.trainer.train_one`; docs/ALGORITHM.md §1: asynchronous workers, not sequential
ones). Whenever a worker is free the main process plans a step against the population as it
is at that moment and hands the child over; when a child comes back it joins the population
alive. The test split is touched once, at the end, for the best individual by validation and
the top-k ensemble (docs/ALGORITHM.md §6).
"""

from workers.evolve.config import RunConfig, parse_args
from workers.evolve.runner import main, measure_test_accuracy, run

__all__ = [
    "RunConfig",
    "main",
    "measure_test_accuracy",
    "parse_args",
    "run",
]

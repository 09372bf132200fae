"""Headless runner: the paper's loop in one command, no web, broker or database.

    python -m workers.evolve --dataset digits --population 20 --steps 300 --out run.json

The main process owns the population and plans every step (selection, kill, parent,
mutation); W worker processes train children asynchronously (PAPER.md §1: asynchronous
workers, not sequential ones, §8). Whenever a worker is free the main process plans a
step against the population as it is at that moment and hands the child over; when a
child comes back it joins the population alive. The test split is touched once, at the
end, for the best individual by validation and the top-k ensemble (PAPER.md §6).
"""

from workers.evolve.config import RunConfig, parse_args
from workers.evolve.population import ChildPlan, Individual, Population
from workers.evolve.runner import main, measure_test_accuracy, run

__all__ = [
    "ChildPlan",
    "Individual",
    "Population",
    "RunConfig",
    "main",
    "measure_test_accuracy",
    "parse_args",
    "run",
]

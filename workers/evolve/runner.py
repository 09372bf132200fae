"""The run: dispatch steps to free workers until the budget is spent, then report.

The test split is touched once, at the end, for the best individual by validation and
the top-k ensemble (PAPER.md §6).
"""

from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_weights
from tqdm import tqdm

from evolab.evolution.dna import DNA
from evolab.evolution.network import build_network
from workers.datasets import Dataset, DatasetError, load_dataset
from workers.evolve.config import RunConfig, cpu_cores, parse_args
from workers.evolve.pool import Task, WorkerPool, WorkerSetup
from workers.evolve.population import ChildPlan, Individual, Population
from workers.training import majority_vote, pick_device, predict

# --------------------------------------------------------------------------- the run


def curve_point(t_s: float, individuals: int, best_val: float) -> dict[str, float]:
    """One point of the run's curve: best validation accuracy so far against time."""
    return {"t_s": round(t_s, 3), "individuals": individuals, "best_val_accuracy": best_val}


@dataclass
class _Run:
    """The main process's side of the loop: plan a step whenever a worker is free,
    collect children as they come back, until the budget is spent."""

    config: RunConfig
    population: Population
    pool: WorkerPool
    started: float
    bar: tqdm
    seeds: random.Random
    curve: list[dict[str, float]] = field(default_factory=list)
    pending: dict[int, ChildPlan] = field(default_factory=dict)
    conceived: int = 0
    best: float = -1.0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def exhausted(self) -> bool:
        """[choice] Budgets of PAPER.md §1: individuals, wall time, target validation."""
        c = self.config
        if c.individuals is not None and self.conceived >= c.individuals:
            return True
        if c.time_budget is not None and self.elapsed() >= c.time_budget:
            return True
        return c.target_accuracy is not None and self.best >= c.target_accuracy

    def next_plan(self) -> ChildPlan | None:
        if self.conceived < self.config.population:
            return self.population.initial_child()
        if len(self.population.individuals) < self.config.population:
            return None  # evolution starts once the whole initial population is alive
        return self.population.plan_child(self.elapsed())

    def dispatch(self) -> None:
        while self.pool.free and not self.exhausted():
            plan = self.next_plan()
            if plan is None:
                return
            self.pending[self.conceived] = plan
            seed = self.seeds.getrandbits(62)
            task = Task(self.conceived, plan.dna.to_json(), plan.parent_weights,
                        self.config.steps, seed)  # fmt: skip
            self.pool.submit(task)
            self.conceived += 1

    def receive(self) -> None:
        outcome = self.pool.next_result()
        now = self.elapsed()
        plan = self.pending.pop(outcome.ticket)
        child = self.population.add(plan, outcome, self.config.steps, now)
        if child.val_accuracy > self.best:
            self.best = child.val_accuracy
            self.curve.append(curve_point(now, len(self.population.individuals), self.best))
        self.bar.update(1)
        self.bar.set_postfix(best=f"{self.best:.4f}", alive=len(self.population.alive),
                             refresh=False)  # fmt: skip

    def loop(self) -> None:
        while True:
            self.dispatch()
            if not self.pool.in_flight:
                return  # budget spent and every child in flight has come back
            self.receive()


def run(config: RunConfig) -> dict[str, Any]:
    """Evolve until the budget is spent; return the JSON-able run report."""
    started = time.monotonic()
    data = load_dataset(config.dataset, config.data_dir, config.seed)
    population = Population(config, data.in_shape, random.Random(config.seed))
    setup = WorkerSetup(
        config.dataset, config.data_dir, config.seed, config.device,
        threads=max(1, cpu_cores() // config.workers), batch_size=config.batch_size,
    )  # fmt: skip
    pool = WorkerPool(setup, config.workers)
    bar = tqdm(total=config.individuals, unit="child", disable=config.quiet, dynamic_ncols=True)
    state = _Run(config, population, pool, started, bar, random.Random(config.seed * 7919 + 1))
    try:
        state.loop()
    finally:
        bar.close()
        pool.close()
    report = _report(config, population, data, state.curve, state.elapsed())
    if config.out:
        Path(config.out).write_text(json.dumps(report, indent=1))
    return report


def measure_test_accuracy(
    population: Population, data: Dataset, k: int, device: torch.device
) -> dict[str, Any]:
    """The only use of the test split: the best individual by validation and the
    majority vote of the top-k (PAPER.md §6), once, at the end."""
    ranked = [i for i in population.ranked()[:k] if i.id in population.weights]
    test_x, test_y = data.test_x.to(device), data.test_y.to(device)
    logits = [predict(_rebuild(i, population, data, device), test_x, data) for i in ranked]
    single = (logits[0].argmax(dim=1) == test_y).float().mean().item()
    ensemble = (majority_vote(logits) == test_y).float().mean().item()
    return {
        "id": ranked[0].id,
        "val_accuracy": ranked[0].val_accuracy,
        "test_accuracy": single,
        "ensemble": {"k": len(ranked), "ids": [i.id for i in ranked], "test_accuracy": ensemble},
    }


def _rebuild(
    individual: Individual, population: Population, data: Dataset, device: torch.device
) -> torch.nn.Module:
    model = build_network(DNA.from_json(individual.dna), data.in_shape, data.num_classes)
    model.load_state_dict(load_weights(population.weights[individual.id]))
    return model.to(device)


def _report(
    config: RunConfig, population: Population, data: Dataset, curve: list, wall: float
) -> dict[str, Any]:
    best = population.best
    device = pick_device(config.device)
    tested = measure_test_accuracy(population, data, config.ensemble_k, device) if best else None
    if curve:
        curve.append(curve_point(wall, len(population.individuals), curve[-1]["best_val_accuracy"]))
    trained = len(population.individuals)
    return {
        "config": asdict(config),
        "individuals": [i.to_json() for i in population.individuals],
        "best": tested,
        "curve": curve,
        "mutation_counts": population.mutation_counts,
        "totals": {
            "individuals": trained,
            "wall_s": round(wall, 3),
            "children_per_min": round(60 * trained / wall, 2) if wall > 0 else 0.0,
            "train_images_per_s": round(trained * config.steps * config.batch_size / wall, 1),
            "flops": sum(i.flops for i in population.individuals),
            "diverged": sum(i.diverged for i in population.individuals),
        },
    }


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        report = run(config)
    except DatasetError as exc:  # a missing or malformed dataset: say what is expected
        print(f"error: {exc}", file=sys.stderr)
        return 2
    best = report["best"]
    if best is not None and not config.quiet:
        print(
            f"best #{best['id']}: val {best['val_accuracy']:.4f}, "
            f"test {best['test_accuracy']:.4f}, "
            f"ensemble(k={best['ensemble']['k']}) test {best['ensemble']['test_accuracy']:.4f}; "
            f"{report['totals']['individuals']} individuals in {report['totals']['wall_s']:.0f} s",
            file=sys.stderr,
        )
    return 0

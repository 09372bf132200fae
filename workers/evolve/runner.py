"""The run: dispatch steps to free workers until the budget is spent, then report.

The population lives in an `evolab.evolution.memory_store.MemoryStore`, which plans each
step with the same engine as the web app (evolab.evolution.step.plan_child); the workers
train with the same trainer. The test split is touched once, at the end, for the best
individual by validation and the top-k ensemble (docs/ALGORITHM.md §6).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_weights
from tqdm import tqdm

from evolab.datasets import Dataset, DatasetError, load_dataset
from evolab.evolution.dna import DNA
from evolab.evolution.memory_store import DONE, WAIT, Member, MemoryClaim, MemoryStore
from evolab.evolution.network import build_network
from evolab.evolution.step import child_seed
from workers.evolve.config import RunConfig, cpu_cores, parse_args
from workers.evolve.pool import Task, WorkerPool, WorkerSetup
from workers.trainer import ChildTask
from workers.training import majority_vote, pick_device, predict


def curve_point(t_s: float, individuals: int, best_val: float) -> dict[str, float]:
    """One point of the run's curve: best validation accuracy so far against time."""
    return {"t_s": round(t_s, 3), "individuals": individuals, "best_val_accuracy": best_val}


@dataclass
class _Run:
    """The main process's side of the loop: claim a step whenever a worker is free,
    commit children as they come back, until the budget is spent and nothing is in flight."""

    config: RunConfig
    store: MemoryStore
    pool: WorkerPool
    bar: tqdm
    curve: list[dict[str, float]] = field(default_factory=list)
    pending: dict[int, MemoryClaim] = field(default_factory=dict)
    best: float = -1.0

    def dispatch(self) -> None:
        while self.pool.free:
            claim = self.store.claim()
            if claim in (WAIT, DONE):
                return
            self.pending[claim.number] = claim
            child = ChildTask(
                claim.plan.dna.to_json(),
                self.config.steps,
                self.config.batch_size,
                child_seed(self.config.seed, claim.number),
            )
            self.pool.submit(Task(claim.number, child, claim.parent_weights))  # fmt: skip

    def receive(self) -> None:
        outcome = self.pool.next_result()
        member = self.store.commit(self.pending.pop(outcome.ticket), outcome.child)
        if member.val_accuracy > self.best:
            self.best = member.val_accuracy
            now = self.store.elapsed()
            self.curve.append(curve_point(now, len(self.store.individuals), self.best))
        self.bar.update(1)
        self.bar.set_postfix(best=f"{self.best:.4f}", alive=len(self.store.alive),
                             refresh=False)  # fmt: skip

    def loop(self) -> None:
        while True:
            self.dispatch()
            if not self.pool.in_flight:
                return  # budget spent and every child in flight has come back
            self.receive()


def run(config: RunConfig) -> dict[str, Any]:
    """Evolve until the budget is spent; return the JSON-able run report."""
    options = config.training
    data = load_dataset(config.dataset, config.data_dir, config.seed, config.val_size)
    store = MemoryStore(config.evolution, options.max_child_memory_mb)
    threads = max(1, cpu_cores() // config.workers)
    setup = WorkerSetup(config.dataset, config.data_dir, config.seed, threads, options,
                        val_size=config.val_size)  # fmt: skip
    pool = WorkerPool(setup, config.workers)
    bar = tqdm(total=config.individuals, unit="child", disable=config.quiet, dynamic_ncols=True)
    state = _Run(config, store, pool, bar)
    try:
        state.loop()
    finally:
        bar.close()
        pool.close()
    report = _report(config, store, data, state.curve, store.elapsed())
    if config.out:
        Path(config.out).write_text(json.dumps(report, indent=1))
    return report


def measure_test_accuracy(
    store: MemoryStore, data: Dataset, k: int, device: torch.device
) -> dict[str, Any]:
    """The only use of the test split: the best individual by validation and the
    majority vote of the top-k (docs/ALGORITHM.md §6), once, at the end."""
    ranked = [m for m in store.ranked()[:k] if m.id in store.weights]
    test_x, test_y = data.test_x.to(device), data.test_y.to(device)
    logits = [predict(_rebuild(m, store, data, device), test_x, data) for m in ranked]
    single = (logits[0].argmax(dim=1) == test_y).float().mean().item()
    ensemble = (majority_vote(logits) == test_y).float().mean().item()
    return {
        "id": ranked[0].id,
        "val_accuracy": ranked[0].val_accuracy,
        "test_accuracy": single,
        "ensemble": {"k": len(ranked), "ids": [m.id for m in ranked], "test_accuracy": ensemble},
    }


def _rebuild(
    member: Member, store: MemoryStore, data: Dataset, device: torch.device
) -> torch.nn.Module:
    model = build_network(DNA.from_json(member.dna), data.in_shape, data.num_classes)
    model.load_state_dict(load_weights(store.weights[member.id]))
    return model.to(device)


def _report(
    config: RunConfig, store: MemoryStore, data: Dataset, curve: list, wall: float
) -> dict[str, Any]:
    device = pick_device(config.device)
    tested = measure_test_accuracy(store, data, config.ensemble_k, device) if store.best else None
    trained = len(store.individuals)
    if curve:
        curve.append(curve_point(wall, trained, curve[-1]["best_val_accuracy"]))
    members = [store.individuals[n] for n in sorted(store.individuals)]
    return {
        "config": asdict(config),
        "dataset_split": data.split,  # sizes, seed, sha256 of the files: as the web app keeps it
        "individuals": [m.to_json() for m in members],
        "best": tested,
        "curve": curve,
        "mutation_counts": store.mutation_counts,
        "totals": {
            "individuals": trained,
            "wall_s": round(wall, 3),
            "children_per_min": round(60 * trained / wall, 2) if wall > 0 else 0.0,
            "train_images_per_s": round(trained * config.steps * config.batch_size / wall, 1),
            "flops": sum(m.flops for m in members),
            "diverged": sum(m.diverged for m in members),
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

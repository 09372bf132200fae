"""The runner's population bookkeeping, without worker processes."""

from __future__ import annotations

import random

import torch
from safetensors.torch import save

from evolab.evolution.network import build_network
from workers.datasets import load_dataset
from workers.evolve import Population, RunConfig, runner
from workers.evolve.pool import Outcome


def _outcome(plan, accuracy: float) -> Outcome:
    net = build_network(plan.dna, (1, 8, 8), 10)
    weights = save({k: v.contiguous() for k, v in net.state_dict().items()})
    return Outcome(0, weights, accuracy, False, 0.1, 0.1, 0.1, 1, 1, 0)


def _population(selection: str, size: int = 4, k: int = 2) -> Population:
    config = RunConfig(population=size, selection=selection, ensemble_k=k, steps=10)
    pop = Population(config, (1, 8, 8), random.Random(0))
    for i in range(size):
        plan = pop.initial_child()
        pop.add(plan, _outcome(plan, 0.1 * (i + 1)), 10, now=float(i))
    return pop


def test_aging_may_pick_the_oldest_as_parent_before_it_dies():
    pop = _population("aging", size=2)
    pop.config.sample_size = 50  # nearly certain to sample both, so the best (#1) breeds
    pop.alive[0].val_accuracy = 0.9  # the oldest is the best
    child = pop.plan_child(now=5.0)
    assert child.parent == 0 and child.parent_weights is not None
    assert 0 not in pop.alive and pop.individuals[0].died_s == 5.0


def test_weights_are_kept_only_for_the_living_and_the_top_k():
    pop = _population("tournament", size=4, k=1)
    for step in range(12):
        plan = pop.plan_child(now=10.0 + step)
        pop.add(plan, _outcome(plan, 0.05), 10, now=10.5 + step)
    best = pop.best
    assert set(pop.weights) == set(pop.alive) | {best.id}
    assert len(pop.alive) == 4


def test_a_diverged_child_has_fitness_zero():
    pop = _population("tournament")
    plan = pop.plan_child(now=1.0)
    outcome = _outcome(plan, 0.77)
    outcome.diverged = True
    assert pop.add(plan, outcome, 10, now=2.0).val_accuracy == 0.0


def test_only_the_top_k_by_validation_see_the_test_split(monkeypatch):
    pop = _population("tournament", size=4, k=2)
    data = load_dataset("digits", None, seed=1)
    seen = []
    real = runner.predict

    def spy(model, x, data_, chunk=1000):
        seen.append(x.data_ptr())
        return real(model, x, data_, chunk)

    monkeypatch.setattr(runner, "predict", spy)
    result = runner.measure_test_accuracy(pop, data, 2, torch.device("cpu"))
    assert result["id"] == 3 and result["ensemble"]["ids"] == [3, 2]
    assert seen == [data.test_x.data_ptr()] * 2

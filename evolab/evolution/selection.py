"""Who dies and who breeds: tournament (docs/ALGORITHM.md §1), aging (2019) and random search.

These functions only plan a step from a snapshot of the alive individuals; the caller
(the experiments service) applies the plan under its own locks. The caller has already
created the initial population of P individuals.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple


class Candidate(NamedTuple):  # a tuple: the coordinator builds P of them per step
    id: Hashable
    val_accuracy: float
    born: int  # birth order: smaller is older


@dataclass
class Plan:
    kill: list[Hashable] = field(default_factory=list)
    parent: Hashable | None = None
    fresh: bool = False  # random search: the child is a new random DNA, no parent


def _fitness(c: Candidate) -> tuple[float, int]:
    """Higher is better. NaN accuracy (a diverged child) is the worst; on equal accuracy
    the younger wins, so the older dies [choice: docs/ALGORITHM.md §1 is silent on ties]."""
    acc = c.val_accuracy
    return (-math.inf if acc is None or math.isnan(acc) else acc, c.born)


def _check_population(population: int) -> None:
    if isinstance(population, bool) or not isinstance(population, int) or population < 1:
        raise ValueError(f"population must be a positive integer, not {population!r}")


def plan_tournament(alive: Sequence[Candidate], population: int, rng: random.Random) -> Plan:
    """Two distinct individuals; at or above P the worse dies; the better is the parent."""
    _check_population(population)
    if len(alive) < 2:
        raise ValueError(f"a tournament needs at least 2 alive individuals, got {len(alive)}")
    a, b = rng.sample(alive if isinstance(alive, Sequence) else list(alive), 2)
    better, worse = (a, b) if _fitness(a) > _fitness(b) else (b, a)
    kill = [worse.id] if len(alive) >= population else []
    return Plan(kill=kill, parent=better.id)


def plan_aging(
    alive: Sequence[Candidate], population: int, rng: random.Random, sample_size: int = 25
) -> Plan:
    """Regularized evolution (2019): best of S drawn with replacement breeds; oldest dies.

    The oldest may be the parent itself: the caller copies its DNA before killing it.
    """
    _check_population(population)
    if not alive:
        raise ValueError("aging selection needs at least 1 alive individual")
    if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size < 1:
        raise ValueError(f"sample_size must be a positive integer, not {sample_size!r}")
    sample = rng.choices(list(alive), k=sample_size)
    parent = max(sample, key=_fitness)
    kill = [min(alive, key=lambda c: c.born).id] if len(alive) >= population else []
    return Plan(kill=kill, parent=parent.id)


def plan_random(alive: Sequence[Candidate], population: int, rng: random.Random) -> Plan:
    """Random-search control: a fresh random child; at or above P the worst dies."""
    _check_population(population)
    kill = [min(alive, key=_fitness).id] if alive and len(alive) >= population else []
    return Plan(kill=kill, parent=None, fresh=True)


SCHEMES: dict[str, Callable[..., Plan]] = {
    "tournament": plan_tournament,
    "aging": plan_aging,
    "random": plan_random,
}


def plan_step(
    scheme: str,
    alive: Sequence[Candidate],
    population: int,
    rng: random.Random,
    sample_size: int = 25,
) -> Plan:
    """Dispatch by scheme name; only "aging" uses sample_size."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown selection scheme {scheme!r}; expected one of {sorted(SCHEMES)}")
    if scheme == "aging":
        return plan_aging(alive, population, rng, sample_size)
    return SCHEMES[scheme](alive, population, rng)

"""The population in memory: the headless runner's store, and the paper's loop in one function.

Optuna's samplers never know whether trials live in memory or in a database; here the step
(`step.plan_child`) never knows either. `MemoryStore` and the web app's database store
(`evolab.experiments.store.DatabaseStore`) offer the same three calls, `claim`, `commit` and
`fail`, and `evolve` below is the whole loop for one worker over either of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from .config import EvolutionConfig
from .dna import DNA
from .mutations import MUTATIONS
from .selection import Candidate
from .step import (
    DEFAULT_MAX_CHILD_MEMORY_MB,
    ChildPlan,
    PopulationView,
    TrainedChild,
    budget_spent,
    child_limits,
    initial_plan,
    is_new_best,
    lineage_steps,
    plan_child,
    rank_key,
    step_rng,
)

WAIT = "wait"  # nothing to do right now (the candidates are still training): try again shortly
DONE = "done"  # the run is not running or its budget is spent


class Store(Protocol):
    """Where a population lives. A claim selects, kills and conceives under the store's
    own guarantees (here: one process; in the database: row locks and leases)."""

    def claim(self) -> Any: ...  # a claim, WAIT or DONE

    def commit(self, claim: Any, child: TrainedChild) -> Any: ...

    def fail(self, claim: Any, reason: str) -> None: ...


def evolve(store: Store, train: Callable[[Any], TrainedChild]) -> None:
    """The paper's loop with one worker: conceive (select, kill the worse, copy and mutate
    the better), train, put back; until the budget is spent."""
    while (claim := store.claim()) != DONE:
        if claim == WAIT:  # with one worker nothing is in training: a store's bug
            raise RuntimeError("one worker, and its store asks it to wait")
        try:
            child = train(claim)
        except Exception as exc:
            store.fail(claim, f"{type(exc).__name__}: {exc}")
            continue
        store.commit(claim, child)


@dataclass
class Member:
    """One individual of a headless run (the keys of the runner's JSON report)."""

    id: int  # its number: birth (conception) order
    parent: int | None
    mutation: str | None
    mutation_description: str
    val_accuracy: float
    flops: int
    params: int
    steps: int
    dna: dict
    born_s: float
    died_s: float | None
    trained_s: float
    diverged: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MemoryClaim:
    plan: ChildPlan
    parent_weights: bytes | None  # safetensors of the parent, None = fresh weights
    lineage_steps: int  # steps trained by its ancestors
    conceived_s: float

    @property
    def number(self) -> int:
        return self.plan.number


@dataclass
class MemoryStore:
    """Every individual, who is alive, who is in training, and the weights still needed
    (the living, and the best `ensemble_k` for the final test)."""

    config: EvolutionConfig
    max_child_memory_mb: int = DEFAULT_MAX_CHILD_MEMORY_MB
    clock: Callable[[], float] = time.monotonic
    individuals: dict[int, Member] = field(default_factory=dict)
    alive: dict[int, Member] = field(default_factory=dict)
    training: dict[int, MemoryClaim] = field(default_factory=dict)
    weights: dict[int, bytes] = field(default_factory=dict)
    mutation_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MUTATIONS, 0))
    created: int = 0
    failed: int = 0
    trained: int = 0
    total_flops: float = 0.0
    best_val: float | None = None
    best_changed_at: int = 0
    boost_remaining: int = 0

    def __post_init__(self) -> None:
        self.started = self.clock()
        self.limits = child_limits(self.config, self.max_child_memory_mb)

    def elapsed(self) -> float:
        return self.clock() - self.started

    def view(self) -> PopulationView:
        alive = [
            Candidate(m.id, m.val_accuracy, m.id)
            for m in sorted(self.alive.values(), key=lambda m: m.id)
        ]
        return PopulationView(alive, len(self.training), self.created, self.trained,
                              self.best_changed_at, self.boost_remaining)  # fmt: skip

    def budget_spent(self) -> str | None:
        return budget_spent(
            self.config, self.created, self.elapsed(), self.total_flops, self.best_val,
            self.failed,
        )  # fmt: skip

    def claim(self) -> MemoryClaim | str:
        if self.budget_spent():
            return DONE
        if self.created < self.config.population:
            plan = initial_plan(self.created, self.boost_remaining, self.best_changed_at)
        else:
            rng = step_rng(self.config.seed, self.created)
            plan = plan_child(self.view(), rng, self.config, self._dna_of, self.limits)
            if plan is None:
                return WAIT
        now = self.elapsed()
        for victim in plan.kill:  # after planning: under aging the oldest may be the parent
            self.alive.pop(victim).died_s = round(now, 3)
        parent = self.individuals[plan.parent] if plan.parent is not None else None
        claim = MemoryClaim(
            plan,
            self.weights.get(plan.parent) if plan.inherits else None,
            parent.steps if parent else 0,
            now,
        )
        self.boost_remaining, self.best_changed_at = plan.boost_remaining, plan.best_changed_at
        for record in plan.records:
            self.mutation_counts[record.name] += 1
        self.created += 1
        self.training[plan.number] = claim
        self._drop_unneeded_weights()
        return claim

    def _dna_of(self, number: int) -> DNA:
        return DNA.from_json(self.individuals[number].dna)

    def commit(self, claim: MemoryClaim, child: TrainedChild) -> Member:
        """The child joins the living; a diverged child has fitness 0 (the trainer's)."""
        plan = self.training.pop(claim.number)
        member = Member(
            id=plan.plan.number,
            parent=plan.plan.parent,
            mutation=plan.plan.mutation or None,
            mutation_description=plan.plan.description,
            val_accuracy=child.val_accuracy,
            flops=int(child.flops),
            params=child.params,
            steps=lineage_steps(claim.lineage_steps, child.steps),
            dna=plan.plan.dna.to_json(),
            born_s=round(claim.conceived_s, 3),
            died_s=None,
            trained_s=round(child.train_seconds, 3),
            diverged=child.diverged,
        )
        self.individuals[member.id] = self.alive[member.id] = member
        self.weights[member.id] = child.weights
        self.trained += 1
        self.total_flops += child.flops
        if self.best_val is None or child.val_accuracy > self.best_val:
            self.best_changed_at = self.trained
        if is_new_best(child.val_accuracy, self.best_val):
            self.best_val = child.val_accuracy
        self._drop_unneeded_weights()
        return member

    def fail(self, claim: MemoryClaim, reason: str) -> None:
        if self.training.pop(claim.number, None) is not None:
            self.failed += 1

    def ranked(self) -> list[Member]:
        """Best first (step.rank_key: on a tie the younger)."""
        return sorted(self.individuals.values(), key=lambda m: rank_key(m.val_accuracy, m.id))

    @property
    def best(self) -> Member | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def _drop_unneeded_weights(self) -> None:
        keep = set(self.alive) | {m.id for m in self.ranked()[: self.config.ensemble_k]}
        for number in [n for n in self.weights if n not in keep]:
            del self.weights[number]

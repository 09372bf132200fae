"""The population the main process owns, and one step of the paper's loop (PAPER.md §1)."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from evolab.evolution.dna import DNA
from evolab.evolution.mutations import MUTATIONS, mutate, random_dna
from evolab.evolution.selection import Candidate, plan_step
from workers.evolve.config import RunConfig
from workers.evolve.pool import Outcome

INITIAL_LEARNING_RATE = 0.1  # PAPER.md §1 [paper]


@dataclass
class Individual:
    id: int
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


@dataclass
class ChildPlan:
    """A child conceived by one step: its DNA, where its weights come from, its lineage."""

    dna: DNA
    parent: int | None
    mutation: str | None
    description: str
    parent_weights: bytes | None
    lineage_steps: int


@dataclass
class Population:
    """The population the main process owns: every individual ever, who is alive, and
    the weights still needed (the living, and the best few for the final report)."""

    config: RunConfig
    in_shape: tuple[int, int, int]
    rng: random.Random
    individuals: list[Individual] = field(default_factory=list)
    alive: dict[int, Individual] = field(default_factory=dict)
    weights: dict[int, bytes] = field(default_factory=dict)
    mutation_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MUTATIONS, 0))

    def initial_child(self) -> ChildPlan:
        """An initial individual: the trivial DNA at lr 0.1, trained like any child
        (PAPER.md §1)."""
        dna = DNA.initial(learning_rate=INITIAL_LEARNING_RATE)
        return ChildPlan(dna, None, None, "initial population", None, 0)

    def plan_child(self, now: float) -> ChildPlan | None:
        """One step (PAPER.md §1): select, kill, and conceive a child; None when fewer
        than two individuals are alive to compare."""
        if len(self.alive) < 2:
            return None
        for _ in range(len(self.alive) + 1):
            candidates = [Candidate(i.id, i.val_accuracy, i.id) for i in self.alive.values()]
            plan = plan_step(
                self.config.selection, candidates, self.config.population, self.rng,
                sample_size=self.config.aging_sample_size,
            )  # fmt: skip
            # Conceive before killing: under aging the oldest may be the parent itself.
            child = None
            if plan.fresh:
                child = self._random_child()
            elif plan.parent is not None:
                child = self._mutated_child(self.alive[plan.parent])
            for victim in plan.kill:
                self._kill(victim, now)
            if child is not None:
                return child
        return None

    def _kill(self, victim: int, now: float) -> None:
        individual = self.alive.pop(victim)
        individual.died_s = now
        self._drop_unneeded_weights()

    def _mutated_child(self, parent: Individual) -> ChildPlan:
        mutated = mutate(
            DNA.from_json(parent.dna), self.rng, count=self.config.mutations_per_child,
            in_shape=self.in_shape,
        )  # fmt: skip
        for name in mutated.names:
            self.mutation_counts[name] += 1
        # RESET-WEIGHTS re-initialises everything (PAPER.md §4); otherwise inherit by id.
        inherits = not mutated.reset_weights
        return ChildPlan(
            dna=mutated.dna,
            parent=parent.id,
            mutation="+".join(mutated.names),
            description=mutated.description,
            parent_weights=self.weights[parent.id] if inherits else None,
            lineage_steps=parent.steps if inherits else 0,
        )

    def _random_child(self) -> ChildPlan:
        """Random-search control (PAPER.md §1 [choice]): a fresh mutation chain from the
        initial DNA, trained from scratch. [choice] chain length uniform in
        [1, 2 x generations so far], so its mean tracks an evolved lineage's depth."""
        generations = len(self.individuals) // self.config.population
        length = self.rng.randint(1, max(1, 2 * generations))
        dna = random_dna(self.rng, length, in_shape=self.in_shape)
        return ChildPlan(dna, None, None, f"random search: chain of {length} mutations", None, 0)

    def add(self, plan: ChildPlan, outcome: Outcome, steps: int, now: float) -> Individual:
        """The child joins alive, with the next birth-order id; a diverged child has
        fitness 0 (PAPER.md §5)."""
        child = Individual(
            id=len(self.individuals),
            parent=plan.parent,
            mutation=plan.mutation,
            mutation_description=plan.description,
            val_accuracy=0.0 if outcome.diverged else outcome.val_accuracy,
            flops=outcome.flops,
            params=outcome.params,
            steps=plan.lineage_steps + steps,
            dna=plan.dna.to_json(),
            born_s=round(now, 3),
            died_s=None,
            trained_s=round(outcome.trained_s, 3),
            diverged=outcome.diverged,
        )
        self.individuals.append(child)
        self.alive[child.id] = child
        self.weights[child.id] = outcome.weights
        self._drop_unneeded_weights()
        return child

    def ranked(self) -> list[Individual]:
        """Best first by validation accuracy. [choice] On a tie the younger ranks first,
        as in evolab.evolution.selection: it carries more training along its lineage."""
        return sorted(self.individuals, key=lambda i: (-i.val_accuracy, -i.id))

    def _drop_unneeded_weights(self) -> None:
        keep = set(self.alive) | {i.id for i in self.ranked()[: self.config.ensemble_k]}
        for ident in [i for i in self.weights if i not in keep]:
            del self.weights[ident]

    @property
    def best(self) -> Individual | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None

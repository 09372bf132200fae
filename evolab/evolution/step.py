"""One step of the paper's loop, written once for every store (docs/ALGORITHM.md §1).

A step reads a view of the population, plans who dies, who breeds and the child's DNA
(`plan_child`), and leaves applying the plan to its store: the headless runner's memory
(`memory_store.MemoryStore`) or the web app's database (`evolab.experiments.claims`). Both
call the same functions here, so one config and seed give the same individuals in both
(with one worker: W asynchronous workers interleave differently).

Plain Python: no torch, Django or Celery.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from .config import EvolutionConfig
from .dna import DNA, Limits
from .mutations import MutationRecord, mutate, random_dna
from .selection import Candidate, Plan, plan_step

ESCAPE_MUTATIONS = 5  # escape (a): k mutations per child for one generation (docs/ALGORITHM.md)
DEFAULT_MAX_CHILD_MEMORY_MB = 8192  # EVOLAB_MAX_CHILD_MEMORY_MB's default


@dataclass(frozen=True)
class PopulationView:
    """What a step reads of its population, at one moment."""

    alive: Sequence[Candidate]  # in birth order (number ascending): the draws depend on it
    training: int  # children in training: the set-point P counts them (alive + training)
    created: int  # children conceived so far: the next child's number
    trained: int  # children trained so far
    best_changed_at: int = 0  # `trained` when the best validation accuracy last rose
    boost_remaining: int = 0  # children left to take the escape's extra mutations


@dataclass(frozen=True)
class ChildPlan:
    """A step's decision: who dies, who breeds, the child's DNA and the boost state after it."""

    number: int
    kill: tuple[Hashable, ...]
    parent: Hashable | None  # None: initial population or random search (fresh weights)
    dna: DNA
    mutation: str = ""  # the label: the (last) mutation's name; "" = none
    description: str = ""
    records: tuple[MutationRecord, ...] = ()
    reset_weights: bool = False  # RESET-WEIGHTS: nothing is inherited
    boost_remaining: int = 0
    best_changed_at: int = 0
    plateau: bool = False  # this step started a boost (the run's fields change)
    boosted: bool = False  # this child took the boost's extra mutations

    @property
    def inherits(self) -> bool:
        return self.parent is not None and not self.reset_weights


@dataclass(frozen=True)
class TrainedChild:
    """What training one child gives back (the one trainer, `workers.trainer`)."""

    val_accuracy: float
    flops: float
    params: int
    steps: int  # the child's own steps
    train_seconds: float  # training + validation: the part of a step that is the paper's work
    weights: bytes  # safetensors (evolab.evolution.checkpoint)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase of the step
    diverged: bool = False
    loss_curve: tuple[tuple[int, float], ...] = ()  # (step, mean training loss), <= 100


def step_rng(seed: int, number: int, salt: str = "") -> random.Random:
    """The randomness of the step that conceives child `number`: a function of the run's seed
    and the child's number only, so a run replays from its seed whatever store it lives in.
    `salt` separates concurrent drafts of W > 1 web workers (which may not replay anyway)."""
    return random.Random(f"{seed}:{number}{':' + salt if salt else ''}")


def child_seed(seed: int, number: int) -> int:
    """The torch seed of child `number`: its fresh weights and its batches."""
    return seed * 100003 + number


def child_limits(config: EvolutionConfig, max_child_memory_mb: int) -> Limits:
    """Genome limits for this run: the memory cap is for its batch size."""
    return Limits(max_memory_bytes=max_child_memory_mb * 2**20, memory_batch=config.batch_size)


def initial_plan(number: int, boost_remaining: int = 0, best_changed_at: int = 0) -> ChildPlan:
    """An individual of the initial population: the trivial DNA (one linear layer), lr 0.1.
    The run's boost state goes through unchanged (pass it in: a plan carries it)."""
    return ChildPlan(number=number, kill=(), parent=None, dna=DNA.initial(),
                     boost_remaining=boost_remaining, best_changed_at=best_changed_at)  # fmt: skip


def individuals_limit(config: EvolutionConfig, failed: int) -> int | None:
    """How many individuals the run may conceive: its budget, plus one for each child that
    failed, up to P of them (docs/ALGORITHM.md §1.5). A failed child's place is conceived
    again, so a run ends at its set-point; the cap ends a run whose every child fails."""
    if config.max_individuals is None:
        return None
    return config.max_individuals + min(failed, config.population)


def budget_spent(
    config: EvolutionConfig,
    created: int,
    elapsed_s: float,
    total_flops: float,
    best: float | None,
    failed: int = 0,
) -> str | None:
    """Which budget stops new children, or None. An individual counts once conceived,
    unless it failed (`individuals_limit`)."""
    limit = individuals_limit(config, failed)
    if limit is not None and created >= limit:
        return "individuals"
    if config.max_seconds and elapsed_s >= config.max_seconds:
        return "time"
    if config.max_flops and total_flops >= config.max_flops:
        return "flops"
    if config.target_accuracy and (best or 0) >= config.target_accuracy:
        return "target accuracy"
    return None


def rank_key(val_accuracy: float | None, number: int) -> tuple[float, int]:
    """Sort key, best first: higher validation accuracy, then on a tie the younger (it
    carries more training along its lineage, and it is who wins a tied tournament)."""
    acc = val_accuracy
    return (math.inf if acc is None or math.isnan(acc) else -acc, -number)


def is_new_best(val_accuracy: float, best: float | None) -> bool:
    """The best-so-far moves to a child at least as good (younger wins ties, as in rank_key);
    only a strict rise counts as progress for the plateau escape."""
    return best is None or val_accuracy >= best


def lineage_steps(parent_steps: int, own_steps: int) -> int:
    """Steps trained along the whole lineage: the parent's count goes on, after RESET-WEIGHTS
    too (the lineage's compute was spent; only its weights were dropped)."""
    return parent_steps + own_steps


def plan_child(
    view: PopulationView,
    rng: random.Random,
    config: EvolutionConfig,
    dna_of: Callable[[Hashable], DNA],
    limits: Limits | None = None,
) -> ChildPlan | None:
    """Select, kill and conceive (docs/ALGORITHM.md §1); None while the population is full
    but too few are alive to select from (wait for the children in training). Below the
    set-point with too few alive, the step still refills: §1.1.

    `dna_of(parent)` is the store's read of the parent's genome; what it raises, this raises.
    Nothing is changed: the store applies the plan.
    """
    room = max(1, config.population - view.training)  # the kill keeps alive + training at P
    if len(view.alive) >= (2 if config.selection == "tournament" else 1):
        plan = plan_step(config.selection, view.alive, room, rng, config.aging_sample_size)
    elif len(view.alive) + view.training >= config.population:
        return None  # a full population, too few alive to select from: wait for the training
    elif config.selection == "random":
        plan = Plan(fresh=True)
    elif view.alive:  # below P with one alive (children failed): it breeds, no one dies
        plan = Plan(parent=view.alive[0].id)
    else:  # below P with no one alive: the population restarts from the initial DNA
        return initial_plan(view.created, view.boost_remaining, view.best_changed_at)
    base = {"number": view.created, "kill": tuple(plan.kill)}
    base |= {"boost_remaining": view.boost_remaining, "best_changed_at": view.best_changed_at}
    if plan.fresh:
        length = random_chain_length(rng, view.created, config.population)
        dna = random_dna(rng, length, in_shape=config.in_shape, limits=limits)
        return ChildPlan(
            parent=None, dna=dna, description=f"random search: chain of {length} mutations", **base
        )
    count, boost = _mutation_count(view, config)
    mutated = mutate(dna_of(plan.parent), rng, count=count, in_shape=config.in_shape, limits=limits)
    base |= boost
    return ChildPlan(
        parent=plan.parent,
        dna=mutated.dna,
        mutation=mutated.records[-1].name,
        description=mutated.description,
        records=tuple(mutated.records),
        reset_weights=mutated.reset_weights,
        **base,
    )


def random_chain_length(rng: random.Random, created: int, population: int) -> int:
    """Random-search control: a chain of 1 to 2 x (generations so far) mutations from the
    initial DNA, so that its mean tracks an evolved lineage's depth [choice]."""
    generations = created // population
    return rng.randint(1, max(1, 2 * generations))


def _mutation_count(view: PopulationView, config: EvolutionConfig) -> tuple[int, dict]:
    """Mutations for this child and the boost state after it. Escape (a): after
    `plateau_individuals` children without a better best, the next P children take
    ESCAPE_MUTATIONS each; then the plateau is measured again."""
    boost, changed = view.boost_remaining, view.best_changed_at
    plateau = bool(config.plateau_individuals) and (
        view.trained - changed >= config.plateau_individuals
    )
    if plateau:
        boost, changed = config.population, view.trained
    state = {"plateau": plateau, "best_changed_at": changed}
    if boost > 0:
        return ESCAPE_MUTATIONS, state | {"boost_remaining": boost - 1, "boosted": True}
    return config.mutations_per_child, state | {"boost_remaining": boost}

"""Warm starts: a new run's initial population seeded from another run of the same team.

A run may start from a source run's alive individuals, or from its best k (validation
accuracy, the younger first on a tie: retention.RANKING), instead of only trivial ones. The
seeds go in as imported seeds do (imports.add_seed): training rows of the initial
population, retrained from their weights like any initial individual, the rest of the P
filled with trivial individuals (docs/ALGORITHM.md §1.2a). Their weights are copied into
files of the new run, so deleting the source later breaks nothing; each seed records the
run and individual number it came from, which its lineage shows.

The source is looked up within the new run's team only: another team's run and a run that
does not exist are the same SourceNotFound (a 404). A source still running is allowed: its
alive individuals at the moment they are read (one that dies and loses its weights while
they are copied is left out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage

from evolab.accounts.models import Team
from evolab.api_contract import MAX_INT
from evolab.evolution.config import EvolutionConfig
from evolab.evolution.dna import DNA, DNAError
from evolab.evolution.step import child_limits

from .imports import KNOWN_CLASSES, add_seed
from .models import Experiment, Individual, State, TeamDataset
from .retention import RANKING

MODES = ("alive", "best")
KEYS = ("experiment", "individuals", "k")


class SourceNotFound(LookupError):
    """No such run in the new run's team (another team's run included): a 404."""


class WarmStartError(ValueError):
    """A source that cannot seed this run; the message says why (a 400)."""


@dataclass(frozen=True)
class StartFrom:
    """What a new run starts from: run `experiment`'s alive individuals, or its best `k`."""

    experiment: int
    individuals: str = "alive"
    k: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "individuals": self.individuals, "k": self.k}


def seed_origin(ind: Individual) -> dict[str, int] | None:
    """Where a seed came from, as the API and the lineage show it; None for the rest."""
    if ind.seeded_from_run is None:
        return None
    return {"experiment": ind.seeded_from_run, "number": ind.seeded_from_number}


def parse(data: Any, most: int) -> StartFrom:
    """The API's `start_from` object, or WarmStartError naming what is wrong: unknown keys,
    a run id, "alive" or "best", and k (1 to `most`) with "best" only."""
    if not isinstance(data, dict):
        raise WarmStartError('Expected an object: {"experiment": <id>, "individuals": ...}.')
    unknown = sorted(str(key)[:40] for key in data if key not in KEYS)
    if unknown:
        raise WarmStartError(
            f"Unknown keys: {', '.join(unknown[:5])} (allowed: {', '.join(KEYS)})."
        )
    experiment, mode, k = data.get("experiment"), data.get("individuals", "alive"), data.get("k")
    if not _whole(experiment) or not 1 <= experiment <= MAX_INT:
        raise WarmStartError("experiment: the id of a run of your team.")
    if mode not in MODES:
        raise WarmStartError('individuals: "alive" or "best".')
    if mode == "alive" and k is not None:
        raise WarmStartError('k is for "individuals": "best" (all the alive are taken).')
    if mode == "best" and (not _whole(k) or not 1 <= k <= most):
        raise WarmStartError(f'k: with "best", a whole number from 1 to {most}.')
    return StartFrom(experiment, mode, k)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Seeds:
    """The source run and the individuals picked from it, checked against the new config."""

    source: Experiment
    start_from: StartFrom
    rows: list[Individual]


def pick(team: Team, config: EvolutionConfig, start_from: StartFrom) -> Seeds:
    """The seeds for a run of `team` with `config`, or SourceNotFound / WarmStartError;
    reads only (nothing is created before every check passed)."""
    source = Experiment.objects.filter(team=team, pk=start_from.experiment).first()
    if source is None:
        raise SourceNotFound(f"No run {start_from.experiment} in this team.")
    check_compatible(source, team, config)
    kept = source.individuals.exclude(weights="")
    if start_from.individuals == "alive":
        rows = list(kept.filter(state=State.ALIVE).order_by("number"))
        what = "alive individuals"
    else:
        if start_from.k > config.population:
            raise WarmStartError(f"k: at most this run's population ({config.population}).")
        ranked = kept.filter(state__in=(State.ALIVE, State.DEAD), val_accuracy__isnull=False)
        rows = list(ranked.order_by(*RANKING)[: start_from.k])
        what = "trained individuals with their weights kept"
    if not rows:
        raise WarmStartError(f"Run {source.pk} has no {what} to start from.")
    if len(rows) > config.population:
        raise WarmStartError(
            f"Run {source.pk} has {len(rows)} alive individuals, more than this run's "
            f"population ({config.population}): raise the population or take the best "
            f"{config.population}."
        )
    limits = child_limits(config, settings.EVOLAB_MAX_CHILD_MEMORY_MB)
    for row in rows:  # the new run's limits (its batch size sets the memory a child needs)
        try:
            DNA.from_json(row.dna, limits=limits, in_shape=config.in_shape)
        except DNAError as exc:
            raise WarmStartError(
                f"Individual #{row.number} of run {source.pk} does not fit this run: {exc}"
            ) from None
    return Seeds(source, start_from, rows)


def check_compatible(source: Experiment, team: Team, config: EvolutionConfig) -> None:
    """The seeds' networks must take this run's images and give its classes: the same
    input shape and class count (the same dataset, or e.g. MNIST and KMNIST)."""
    theirs, ours = source.cfg, config
    if theirs.dataset == ours.dataset:
        return
    if theirs.in_shape != ours.in_shape:
        raise WarmStartError(
            f"Run {source.pk} is on {theirs.dataset[:60]} ({_shape(theirs.in_shape)} images) "
            f"and this run on {ours.dataset[:60]} ({_shape(ours.in_shape)}): its networks "
            "take another input shape."
        )
    their_classes, our_classes = class_count(theirs, team), class_count(ours, team)
    if their_classes is None or their_classes != our_classes:
        raise WarmStartError(
            f"Run {source.pk} is on {theirs.dataset[:60]} ({their_classes or 'unknown'} "
            f"classes) and this run on {ours.dataset[:60]} ({our_classes or 'unknown'}): "
            "the class counts must match."
        )


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def class_count(config: EvolutionConfig, team: Team) -> int | None:
    """The classes of a run's dataset, from names and headers only; None if unknown."""
    name = config.dataset
    if name in KNOWN_CLASSES:
        return KNOWN_CLASSES[name]
    if config.dataset_kind == "upload":
        found = TeamDataset.objects.filter(team=team, pk=int(name.split(":", 1)[1])).first()
        return found.classes if found and found.classes else None
    from evolab.datasets import DatasetError, describe  # noqa: PLC0415

    try:
        return describe(name, settings.EVOLAB_DATA_DIR).num_classes
    except DatasetError:
        return None


def seed(exp: Experiment, seeds: Seeds) -> int:
    """Copy the seeds into `exp` (queued, not started: inside its creating transaction).
    Returns how many went in. If anything raises, the files copied so far are deleted (the
    caller's transaction takes the rows with it)."""
    copied: list[str] = []
    try:
        for row in seeds.rows:
            try:
                with default_storage.open(row.weights, "rb") as fh:
                    data = fh.read()
            except FileNotFoundError:
                continue  # died and released since it was read (a source still running)
            dna = DNA.from_json(row.dna)
            description = f"seeded from run #{seeds.source.pk}, individual #{row.number}"
            ind = add_seed(exp.pk, dna, data, description, (seeds.source.pk, row.number))
            copied.append(ind.weights)
        if not copied:
            raise WarmStartError(f"Run {seeds.source.pk}'s individuals lost their weights.")
        record = seeds.start_from.to_json() | {"seeds": len(copied)}
        Experiment.objects.filter(pk=exp.pk).update(start_from=record)
    except BaseException:
        for name in copied:
            default_storage.delete(name)
        raise
    return len(copied)

"""Run control: the only code that creates experiments or changes their status.

Views, API views and tasks call these; queueing happens with `transaction.on_commit` so a
worker never sees a row that is not committed yet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from evolab.accounts.models import Team
from evolab.evolution.step import ESCAPE_MUTATIONS

from . import actions, chains, evaluation, events, seed_files, uploads, warmstart
from .config import ConfigError, ExperimentConfig, validate_config
from .models import TRANSITIONS, Experiment, Individual, Status, TransitionError
from .settling import settle


def create_experiment(
    team: Team,
    creator,
    name: str,
    config: dict[str, Any] | ExperimentConfig,
    start: bool = False,
    start_from: warmstart.StartFrom | None = None,
    cloned_from: Experiment | None = None,
    seeds: Sequence[seed_files.SeedFile] = (),
) -> Experiment:
    """Validate and store a new run (raises ConfigError, changing nothing, on bad input).
    `start_from`: a warm start from another run of `team` (warmstart.SourceNotFound or
    WarmStartError, changing nothing, when it cannot be); `cloned_from`, a run of the same
    team, when it is a clone with changes; `seeds`, imported DNA files checked against this
    config (seed_files.check), which join the initial population before it starts."""
    if not isinstance(config, ExperimentConfig):
        config = validate_config(config, settings.EVOLAB_LIMITS)
    uploads.check_for_team(team, config.dataset)  # an upload of this team, and ready
    split = dataset_split(config)
    name = (name or "").strip()
    if not name:
        raise ValueError("Give the experiment a name.")
    if start_from and seeds:
        raise ValueError("Start from a run or from DNA files, not both.")
    picked = warmstart.pick(team, config, start_from) if start_from else None
    with transaction.atomic():
        exp = Experiment.objects.create(
            team=team,
            creator=creator,
            name=name[:200],
            config=config.to_json(),
            dataset_split=split,
            cloned_from=cloned_from if cloned_from and cloned_from.team_id == team.pk else None,
        )
        if picked:
            warmstart.seed(exp, picked)
        if seeds:
            seed_files.store(exp.pk, seeds, creator)
        if start:
            control(exp.pk, "start")
    exp.refresh_from_db()
    return exp


def check_dataset(name: str, val_size: int | None = None) -> None:
    """A run on files that are not there would fail in every worker: refuse it up front.
    Cheap (names and headers), so the form checks it too."""
    from evolab.datasets import DatasetError, check_available  # noqa: PLC0415

    try:
        check_available(name, settings.EVOLAB_DATA_DIR, val_size)
    except DatasetError as exc:
        raise ConfigError({"dataset": [str(exc)]}) from None


def dataset_split(config: ExperimentConfig) -> dict:
    """The split a run records (sizes, seed, val_size, sha256 of the source files); raises
    ConfigError naming the expected files when they are not there."""
    from evolab.datasets import DatasetError, split_record  # noqa: PLC0415

    try:
        return split_record(config.dataset, settings.EVOLAB_DATA_DIR, config.seed, config.val_size)
    except DatasetError as exc:
        raise ConfigError({"dataset": [str(exc)]}) from None


def control(experiment_id: int, action: str) -> Experiment:
    """Apply start/pause/resume/stop; raises TransitionError with a message if not allowed."""
    if action not in TRANSITIONS:
        raise TransitionError(f"Unknown action {action[:40]!r}.")
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().get(pk=experiment_id)
        actions.check(exp, action)
        target = exp.next_status(action)
        if exp.status == Status.STOPPED:  # resumed: a stopped run's test numbers are old
            exp.ended = exp.test_accuracy = exp.ensemble_test_accuracy = None
        exp.status = target
        if action == "start":
            exp.started = timezone.now()
        if target in (Status.STOPPED,):
            exp.ended = timezone.now()
        exp.save(
            update_fields=["status", "started", "ended", "test_accuracy", "ensemble_test_accuracy"]
        )
        events.emit(exp.pk, events.STATUS, events.status(exp))
        if target == Status.RUNNING:
            workers = exp.cfg.workers
            chains.queue(experiment_id, range(workers))
    if target in (Status.PAUSING, Status.STOPPING):
        settle(experiment_id)
    exp.refresh_from_db()
    return exp


# A clone's number, or the "(clone)" of older clones, at the end of a name.
_CLONE_SUFFIX = re.compile(r"(?:\s\((?:clone|[0-9]{1,3})\))+$")


def clone_name(source: Experiment) -> str:
    """ "<name> (2)", or the next number free in the team; a clone of "X (2)" or of
    "X (clone)" is "X (3)" or "X (2)", never "X (2) (2)"."""
    base = (_CLONE_SUFFIX.sub("", source.name).strip() or source.name)[:190]
    taken = set(
        Experiment.objects.filter(team_id=source.team_id, name__startswith=f"{base} (").values_list(
            "name", flat=True
        )
    )
    number = 2
    while f"{base} ({number})" in taken:
        number += 1
    return f"{base} ({number})"


def evaluate(experiment_id: int) -> Experiment:
    """Measure a stopped run's best and ensemble on the test split now, with the task that
    measures a finished run's (evolab.experiments.evaluation); TransitionError if it cannot."""
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().get(pk=experiment_id)
        actions.check(exp, "evaluate")
        evaluation.queue(exp)
        events.emit(exp.pk, events.STATUS, events.status(exp))
    return exp


def clone(experiment_id: int, creator, name: str | None = None) -> Experiment:
    """A new queued run with the same config, named `name` or clone_name's."""
    source = Experiment.objects.get(pk=experiment_id)
    try:  # the files as they are now; a clone of a run whose files are gone records none
        split = dataset_split(source.cfg)
    except ConfigError:
        split = None
    with transaction.atomic():
        exp = Experiment.objects.create(
            team=source.team,
            creator=creator,
            name=name or clone_name(source),
            config=dict(source.config),
            cloned_from=source,
            dataset_split=split,
        )
    return exp


def set_workers(experiment_id: int, workers: int) -> Experiment:
    """Change the number of parallel step chains of a run, also while it runs."""
    clean = validate_config({"workers": workers}, settings.EVOLAB_LIMITS).workers
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().get(pk=experiment_id)
        actions.check(exp, "workers")
        before = exp.cfg.workers
        exp.config = {**exp.config, "workers": clean}
        exp.save(update_fields=["config"])
        events.emit(exp.pk, events.STATUS, events.status(exp))
        if exp.status == Status.RUNNING and clean > before:
            chains.queue(experiment_id, range(before, clean))
        chains.trim(experiment_id, clean)  # fewer: those chains end at their next step
    exp.refresh_from_db()
    return exp


def boost_mutations(experiment_id: int, children: int) -> Experiment:
    """Escape knob (a), ALGORITHM.md §3: 5 mutations per child for the next `children` children."""
    if isinstance(children, bool) or not isinstance(children, int) or not 0 <= children <= 100_000:
        raise ValueError("children must be a whole number between 0 and 100000")
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().get(pk=experiment_id)
        actions.check(exp, "escape")
        exp.boost_remaining = children
        exp.save(update_fields=["boost_remaining"])
        escape = f"{ESCAPE_MUTATIONS} mutations for {children} children"
        events.emit(exp.pk, events.STATUS, events.status(exp, escape=escape))
    return exp


def reset_all_weights(experiment_id: int) -> int:
    """Escape knob (b), docs/ALGORITHM.md §3: every living individual's weights are reset at once.

    [choice] The reset takes effect in their children: a child of a reset individual starts
    from fresh weights (like RESET-WEIGHTS), since the living individuals' accuracies were
    measured with the old weights and stay as they are. Returns how many were reset.
    """
    with transaction.atomic():
        actions.check(Experiment.objects.select_for_update().get(pk=experiment_id), "escape")
        count = (
            Individual.objects.filter(experiment_id=experiment_id)
            .alive()
            .update(weights_reset=True)
        )
        escape = f"weights of {count} living individuals reset"
        exp = Experiment.objects.get(pk=experiment_id)
        events.emit(experiment_id, events.STATUS, events.status(exp, escape=escape))
    return count


def pin(individual_id: int, pinned: bool) -> None:
    """A pinned individual's weights are kept whatever the retention rule says."""
    Individual.objects.filter(pk=individual_id).update(pinned=pinned)

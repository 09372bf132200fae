"""Deleting a run: its row, individuals, events, chains and tags, then its stored files.

[choice] A run that is running, pausing or stopping is refused (TransitionError: the API's
409): its workers hold children in training whose commits would write weights for a run
that no longer exists. Stop it first; a queued, paused or ended run has none. The check and
the delete are one transaction under the run's row lock, so a start cannot slip between.

Rows go with a few statements whatever the population (Django's cascade would load every
individual to clear their parent links); the files go after the commit, so a delete that
fails leaves the run whole. Every file under the run's folder goes (experiments/<id>/: the
weights of the living, the dead kept by EVOLAB_KEEP_ALL_WEIGHTS, pinned and imported ones,
the downloads' cached exports, and orphans of a worker that died before its commit).
"""

from __future__ import annotations

import logging

from django.core.files.storage import default_storage
from django.db import connection, transaction

from .models import ACTIVE, Experiment, Individual, TransitionError
from .storage import derived_names

log = logging.getLogger(__name__)


def delete_experiment(experiment_id: int) -> int:
    """Delete the run and its files; returns how many files were removed."""
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().get(pk=experiment_id)
        if exp.status in ACTIVE:
            raise TransitionError(
                f"Stop the run before deleting it (it is {exp.status}): its workers are "
                "still training children."
            )
        names = list(
            Individual.objects.filter(experiment_id=exp.pk)
            .exclude(weights="")
            .values_list("weights", flat=True)
        )
        Experiment.objects.filter(pk=exp.pk).update(best=None)
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {Individual._meta.db_table} WHERE experiment_id = %s", [exp.pk]
            )
        exp.delete()  # events, chains and tags (fast deletes), clones' cloned_from set null
    return remove_files(experiment_id, names)


def remove_files(experiment_id: int, names: list[str]) -> int:
    """The named weights with their exports, then whatever else is in the run's folder."""
    removed = 0
    for name in names:
        for path in (name, *derived_names(name)):
            removed += _delete(path)
    return removed + _empty_folder(f"experiments/{experiment_id}")


def _empty_folder(folder: str) -> int:
    try:
        dirs, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    removed = sum(_delete(f"{folder}/{name}") for name in files)
    removed += sum(_empty_folder(f"{folder}/{name}") for name in dirs)
    _delete(folder)  # the folder itself on a file system (S3 has none)
    return removed


def _delete(path: str) -> int:
    """1 if a file was there and is gone; a file that cannot go is logged, not raised: the
    run's rows are gone already and its other files should go too."""
    try:
        if not default_storage.exists(path):
            return 0
        default_storage.delete(path)
    except OSError:
        log.warning("could not delete %s", path, exc_info=True)
        return 0
    return 1

"""Team datasets: the only code that stores, indexes, renames or deletes an upload, and the
check that a run's `upload:<id>` belongs to its team.

An upload is written under a name made here (`<data dir>/.uploads/<id>/upload.archive`), its
sha256 kept; a worker indexes it (`index`, the task `evolab.index_dataset`): the archive is
checked and decoded by `evolab.datasets.uploads` into `data.npz`, then removed. A refused
archive leaves the row failed with the reason, and no file. Another team's dataset is the
same as one that does not exist: listed nowhere, refused in a config with the message of an
unknown dataset, 404 in the API.

[choice] Deleting a dataset that a run still uses (queued, running, pausing, paused,
stopping) is refused: its workers would fail; finished runs keep their split record
(sizes, fingerprint) after the files are gone.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from evolab.accounts.models import Team
from evolab.datasets import DatasetError
from evolab.datasets import uploads as files
from evolab.taskqueue import send_index_dataset

from .config import UNKNOWN_DATASET, ConfigError
from .models import DatasetState, Experiment, Status, TeamDataset

log = logging.getLogger(__name__)
ARCHIVE = "upload.archive"
NAME_CHARS = 100
ACTIVE = (Status.QUEUED, Status.RUNNING, Status.PAUSING, Status.PAUSED, Status.STOPPING)


class UploadRefused(ValueError):
    """A request about an upload that cannot be done; the message is for the user, `field`
    the form field it is about."""

    def __init__(self, message: str, field: str = "name") -> None:
        super().__init__(message)
        self.field = field


def limits() -> files.Limits:
    return files.Limits(
        max_bytes=settings.EVOLAB_UPLOAD_MAX_MB << 20,
        max_images=settings.EVOLAB_UPLOAD_MAX_IMAGES,
        max_pixels=settings.EVOLAB_UPLOAD_MAX_PIXELS,
        max_ratio=settings.EVOLAB_UPLOAD_MAX_RATIO,
        seconds=settings.EVOLAB_UPLOAD_INDEX_SECONDS,
    )


def folder(dataset_id: int) -> Path:
    return files.folder(settings.EVOLAB_DATA_DIR, dataset_id)


def for_teams(teams: QuerySet[Team]) -> QuerySet[TeamDataset]:
    return TeamDataset.objects.filter(team__in=teams)


def clean_name(team: Team, name, exclude: int | None = None) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise UploadRefused("Give the dataset a name.")
    if len(name) > NAME_CHARS or not name.isprintable():
        raise UploadRefused(f"A name of at most {NAME_CHARS} printable characters.")
    taken = TeamDataset.objects.filter(team=team, name=name).exclude(pk=exclude)
    if taken.exists():
        raise UploadRefused("Your team already has a dataset of that name.")
    return name


def create_upload(team: Team, user, name: str, upload) -> TeamDataset:
    """Store an uploaded file (a Django UploadedFile) and queue its indexing."""
    name = clean_name(team, name)
    cap = settings.EVOLAB_UPLOAD_MAX_MB << 20
    if upload is None:
        raise UploadRefused(
            "Choose an archive to upload (a .zip, or a .tar[.gz] of IDX/CIFAR files).", "file"
        )
    too_large = f"The file is larger than the limit ({settings.EVOLAB_UPLOAD_MAX_MB} MB)."
    if upload.size > cap:
        raise UploadRefused(too_large, "file")
    with transaction.atomic():
        ds = TeamDataset.objects.create(team=team, created_by=user, name=name)
        where = folder(ds.pk)
        where.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        try:
            with open(where / ARCHIVE, "wb") as out:
                for chunk in upload.chunks():
                    size += len(chunk)
                    if size > cap:
                        raise UploadRefused(too_large, "file")
                    digest.update(chunk)
                    out.write(chunk)
        except BaseException:
            shutil.rmtree(where, ignore_errors=True)
            raise
        ds.archive_sha256, ds.archive_bytes = digest.hexdigest(), size
        ds.save(update_fields=["archive_sha256", "archive_bytes"])
        transaction.on_commit(lambda: send_index_dataset(ds.pk))
    return ds


def _update(dataset_id: int, **fields) -> None:
    TeamDataset.objects.filter(pk=dataset_id).update(**fields)


def index(dataset_id: int) -> str:
    """Check, decode and store one upload (the worker's task); returns the final state."""
    ds = TeamDataset.objects.filter(pk=dataset_id).first()
    if ds is None or ds.state == DatasetState.READY:
        return "gone" if ds is None else ds.state
    where = folder(ds.pk)
    archive = where / ARCHIVE
    if not archive.is_file():
        return fail(dataset_id, "The uploaded file is gone; upload it again.")
    _update(dataset_id, state=DatasetState.INDEXING, progress=0, message="")
    shown = [0]

    def progress(fraction: float) -> None:
        percent = min(99, int(fraction * 100))
        if percent >= shown[0] + 5:  # a write every 5% at most
            shown[0] = percent
            _update(dataset_id, progress=percent)

    try:
        summary = files.index_archive(archive, where, limits(), progress)
    except DatasetError as exc:
        return fail(dataset_id, str(exc))
    except MemoryError:
        return fail(dataset_id, "The archive needs more memory than this server has.")
    archive.unlink(missing_ok=True)
    if not TeamDataset.objects.filter(pk=dataset_id).exists():  # deleted meanwhile
        shutil.rmtree(where, ignore_errors=True)
        return "gone"
    _update(
        dataset_id,
        state=DatasetState.READY,
        progress=100,
        kind=summary.kind,
        images=summary.images,
        classes=summary.classes,
        fingerprint=summary.fingerprint,
        message="",
    )
    return DatasetState.READY


def fail(dataset_id: int, message: str) -> str:
    """Mark an upload failed with `message`, removing every file it had."""
    shutil.rmtree(folder(dataset_id), ignore_errors=True)
    _update(dataset_id, state=DatasetState.FAILED, message=message[:300])
    return DatasetState.FAILED


def rename(ds: TeamDataset, name: str) -> TeamDataset:
    ds.name = clean_name(ds.team, name, exclude=ds.pk)
    ds.save(update_fields=["name"])
    return ds


def runs_using(ds: TeamDataset) -> QuerySet[Experiment]:
    return Experiment.objects.filter(team_id=ds.team_id, config__dataset=ds.config_name)


def delete(ds: TeamDataset) -> None:
    """Remove the row and its files; refused while a run on it may still train."""
    active = runs_using(ds).filter(status__in=ACTIVE)
    if active.exists():
        names = ", ".join(repr(e.name[:40]) for e in active[:3])
        raise UploadRefused(f"Runs still use this dataset ({names}): stop them first.")
    pk = ds.pk
    ds.delete()
    shutil.rmtree(folder(pk), ignore_errors=True)


def check_for_team(team: Team | None, name: str) -> None:
    """ConfigError unless `upload:<id>` is a ready dataset of `team` (other names pass).
    Another team's dataset gets the message of an unknown one."""
    dataset_id = files.parse_name(name)
    if dataset_id is None:
        return
    ds = TeamDataset.objects.filter(pk=dataset_id, team=team).first() if team else None
    if ds is None:
        raise ConfigError({"dataset": [UNKNOWN_DATASET]})
    if ds.state != DatasetState.READY:
        state = f"{ds.state}: {ds.message}" if ds.message else ds.state
        raise ConfigError({"dataset": [f"Dataset {ds.name[:40]!r} is not ready ({state})."]})

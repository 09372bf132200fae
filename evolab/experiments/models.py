"""Experiments, the individuals of their population, and their append-only event log.

Models own their invariants (status transitions); `services` and `steps` own side effects.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from evolab.accounts.models import Team

from .config import ExperimentConfig


class Status(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSING = "pausing"
    PAUSED = "paused"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FINISHED = "finished"
    FAILED = "failed"


# Which control is allowed from which status; anything else is refused with a message.
TRANSITIONS: dict[str, dict[str, str]] = {
    "start": {Status.QUEUED: Status.RUNNING},
    "pause": {Status.RUNNING: Status.PAUSING},
    "resume": {
        Status.PAUSED: Status.RUNNING,
        Status.PAUSING: Status.RUNNING,
        Status.STOPPED: Status.RUNNING,  # a stopped run can go on (evaluated or not)
    },
    "stop": {
        Status.QUEUED: Status.STOPPED,
        Status.RUNNING: Status.STOPPING,
        Status.PAUSING: Status.STOPPING,
        Status.PAUSED: Status.STOPPED,
    },
}
ACTIVE = (Status.RUNNING, Status.PAUSING, Status.STOPPING)
TERMINAL = (Status.STOPPED, Status.FINISHED, Status.FAILED)


class TransitionError(ValueError):
    pass


class ExperimentQuerySet(models.QuerySet):
    def for_teams(self, teams) -> ExperimentQuerySet:
        return self.filter(team__in=teams)

    def active(self) -> ExperimentQuerySet:
        return self.filter(status__in=ACTIVE)


class Experiment(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="experiments")
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=200)
    config = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    failure_reason = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    ended = models.DateTimeField(null=True, blank=True)
    cloned_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL)
    # The split at creation: sizes, seed, val_size and a sha256 of the dataset's source files
    # (evolab.datasets.split_record), so a run shows which data it used. None before 0006.
    dataset_split = models.JSONField(null=True, blank=True)
    # Running totals, kept by the step commit so pages never aggregate the whole population.
    last_seq = models.BigIntegerField(default=0)
    individuals_created = models.IntegerField(default=0)
    individuals_trained = models.IntegerField(default=0)
    # Children marked failed (leases.fail_individual, under this row's lock): a drafted kill
    # is applied only while it is unchanged, and failed children are refilled (ALGORITHM §1.5).
    individuals_failed = models.IntegerField(default=0)
    total_flops = models.FloatField(default=0.0)  # ~9e19 in the paper: beyond int64
    weights_bytes = models.BigIntegerField(default=0)  # stored weights now (retention gauge)
    best = models.ForeignKey(
        "Individual", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    best_val_accuracy = models.FloatField(null=True, blank=True)
    best_changed_at = models.IntegerField(default=0)  # individuals_trained when best last rose
    boost_remaining = models.IntegerField(default=0)  # children left with k mutations (escape a)
    test_accuracy = models.FloatField(null=True, blank=True)
    ensemble_test_accuracy = models.FloatField(null=True, blank=True)
    # A warm start (evolab.experiments.warmstart): {"experiment", "individuals", "k", "seeds"}.
    start_from = models.JSONField(null=True, blank=True)
    # Set while the final test evaluation (a finished run's, or a stopped run's on request)
    # is queued or running; cleared by the task (evolab.experiments.evaluation).
    evaluating_since = models.DateTimeField(null=True, blank=True)
    # Run management (evolab.experiments.editing): Markdown notes, hidden from the list when
    # archived; tags are ExperimentTag rows.
    notes = models.TextField(blank=True)
    archived = models.BooleanField(default=False)

    objects = ExperimentQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        # The list's default page: a team's unarchived runs, newest first. None on the
        # columns every step updates (individuals_trained, best_val_accuracy, ...): they
        # would slow each step's update, and a team's runs sort in memory in a millisecond.
        indexes = [
            models.Index(fields=["team", "archived", "-created", "-id"], name="experiment_list")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def cfg(self) -> ExperimentConfig:
        return ExperimentConfig(**self.config)

    def next_status(self, action: str) -> str:
        """The status `action` leads to from here, or TransitionError saying why not."""
        target = TRANSITIONS[action].get(self.status)
        if target is None:
            raise TransitionError(f"Cannot {action} an experiment that is {self.status}.")
        return target

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    def elapsed_seconds(self) -> float:
        if not self.started:
            return 0.0
        return ((self.ended or timezone.now()) - self.started).total_seconds()


class ExperimentTag(models.Model):
    """One short label of a run (evolab.experiments.editing.clean_tags says which)."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="tag_rows")
    name = models.CharField(max_length=32)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="one_tag_per_run"),
        ]
        indexes = [models.Index(fields=["name", "experiment"], name="runs_by_tag")]

    def __str__(self) -> str:
        return self.name


class State(models.TextChoices):
    TRAINING = "training"
    ALIVE = "alive"
    DEAD = "dead"
    FAILED = "failed"


class IndividualQuerySet(models.QuerySet):
    def alive(self) -> IndividualQuerySet:
        return self.filter(state=State.ALIVE)

    def training(self) -> IndividualQuerySet:
        return self.filter(state=State.TRAINING)

    def lease_expired(self) -> IndividualQuerySet:
        return self.training().filter(lease_expires__lt=timezone.now())


class Individual(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="individuals")
    number = models.IntegerField()  # birth order within the experiment (the paper's "id")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    dna = models.JSONField()
    mutation = models.CharField(
        max_length=40, blank=True
    )  # docs/ALGORITHM.md §3 name; "" = initial
    mutation_description = models.TextField(blank=True)
    mutation_records = models.JSONField(default=list)
    reset_weights = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=State.choices, default=State.TRAINING)
    val_accuracy = models.FloatField(null=True, blank=True)
    test_accuracy = models.FloatField(null=True, blank=True)
    flops = models.FloatField(default=0.0)
    params = models.BigIntegerField(default=0)
    steps = models.BigIntegerField(default=0)  # steps trained along its whole lineage
    born = models.DateTimeField(default=timezone.now)
    trained = models.DateTimeField(null=True, blank=True)
    died = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    train_seconds = models.FloatField(null=True, blank=True)
    timings = models.JSONField(default=dict)  # seconds per phase of its step (bench, UI)
    weights = models.CharField(max_length=300, blank=True)  # storage name of the safetensors
    weights_size = models.BigIntegerField(default=0)
    pinned = models.BooleanField(default=False)
    # Escape knob (b), docs/ALGORITHM.md §3: its next child starts from fresh weights.
    weights_reset = models.BooleanField(default=False)
    # A warm start's seed: the run and individual number it was copied from (plain numbers,
    # so the record outlives the source run).
    seeded_from_run = models.IntegerField(null=True, blank=True)
    seeded_from_number = models.IntegerField(null=True, blank=True)
    # Lease with fencing token: only the holder of the current token may commit the child.
    lease_token = models.UUIDField(null=True, blank=True)
    lease_expires = models.DateTimeField(null=True, blank=True)
    attempts = models.IntegerField(default=0)
    failure_reason = models.TextField(blank=True)
    progress_step = models.IntegerField(default=0)
    progress_loss = models.FloatField(null=True, blank=True)
    # [[step, mean training loss], ...], at most 100 pairs (workers/loss_curve.py), written
    # by its commit; [] for a child that has not finished training, or one stored before 0009.
    loss_curve = models.JSONField(default=list, blank=True)

    objects = IndividualQuerySet.as_manager()

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "number"], name="one_number_per_birth")
        ]
        indexes = [models.Index(fields=["experiment", "state"])]

    def __str__(self) -> str:
        return f"#{self.number} of {self.experiment_id}"


class Event(models.Model):
    """Append-only log: the source of truth for live views and for replay after reconnect."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="events")
    seq = models.BigIntegerField()
    kind = models.CharField(max_length=20)
    data = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "seq"], name="one_event_per_seq")
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.seq} of {self.experiment_id}"

    def to_message(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "data": self.data}


class ChainState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"


class Chain(models.Model):
    """One of the W asynchronous workers of a run (docs/ALGORITHM.md §1): a chain of step tasks.

    The row is the truth about whether the chain is alive; its token fences the broker
    message, so a redelivered or duplicated message for an old token does nothing, and the
    reconciler can replace a chain whose message was lost (Redis emptied, worker killed).
    """

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="chains")
    slot = models.IntegerField()
    token = models.UUIDField()
    state = models.CharField(max_length=10, choices=ChainState.choices)
    beat = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "slot"], name="one_chain_per_slot")
        ]

    def __str__(self) -> str:
        return f"chain {self.slot} of {self.experiment_id}"


class DatasetState(models.TextChoices):
    UPLOADED = "uploaded"  # stored, waiting for a worker to index it
    INDEXING = "indexing"
    READY = "ready"
    FAILED = "failed"  # `message` says why; its files are removed


class TeamDataset(models.Model):
    """A dataset a team member uploaded: only that team lists it and runs on it, as
    `upload:<id>` (evolab.experiments.uploads; the files: evolab.datasets.uploads)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="datasets")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, blank=True)  # folder, idx or cifar, once indexed
    state = models.CharField(
        max_length=10, choices=DatasetState.choices, default=DatasetState.UPLOADED
    )
    progress = models.PositiveSmallIntegerField(default=0)  # indexing, 0-100
    message = models.CharField(max_length=300, blank=True)
    archive_sha256 = models.CharField(max_length=64, blank=True)  # the uploaded file
    archive_bytes = models.BigIntegerField(default=0)
    # sha256 of the stored, normalised data: the same a run on it records in dataset_split.
    fingerprint = models.CharField(max_length=80, blank=True)
    images = models.IntegerField(default=0)
    classes = models.IntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="team_dataset_name_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.config_name})"

    @property
    def config_name(self) -> str:
        return f"upload:{self.pk}"

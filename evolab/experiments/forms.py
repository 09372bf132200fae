"""The "New experiment" form: the same validation as the API (`config.validate_config`)."""

from __future__ import annotations

from django import forms
from django.conf import settings

from evolab.datasets import Entry, list_datasets

from . import uploads
from .config import SELECTIONS, ConfigError, ExperimentConfig, validate_config
from .services import check_dataset

DEFAULTS = ExperimentConfig()


def dataset_label(entry: Entry) -> str:
    """One option of the dataset picker: its sizes when ready, else why it cannot be used."""
    if entry.state != "ready":
        return f"{entry.name} — {entry.state}: {entry.reason}"
    shape = "×".join(map(str, entry.shape))
    return (
        f"{entry.name} — {entry.train:,} / {entry.val:,} / {entry.test:,} "
        f"(train / validation / test), {shape}, {entry.num_classes} classes"
    )


class DatasetSelect(forms.Select):
    """A select whose options for datasets that are not ready are shown, but disabled."""

    unavailable: frozenset[str] = frozenset()

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if value in self.unavailable:
            option["attrs"]["disabled"] = True
        return option


class ExperimentForm(forms.Form):
    name = forms.CharField(max_length=200)
    team = forms.ChoiceField(required=False)
    # A text value with a picker: the config validator names an unknown dataset itself.
    dataset = forms.CharField(
        initial=DEFAULTS.dataset,
        widget=DatasetSelect,
        help_text="Files go under EVOLAB_DATA_DIR (README, Datasets); image folders are "
        "listed as folder:<name>. Greyed out: not installed, with what it needs.",
    )
    population = forms.IntegerField(initial=DEFAULTS.population, help_text="PAPER: 1000")
    workers = forms.IntegerField(initial=DEFAULTS.workers, label="Parallel workers")
    steps_per_child = forms.IntegerField(
        initial=DEFAULTS.steps_per_child, label="Training steps per child"
    )
    max_individuals = forms.IntegerField(
        initial=DEFAULTS.max_individuals, label="Maximum number of individuals"
    )
    selection = forms.ChoiceField(choices=[(s, s) for s in SELECTIONS], initial="tournament")
    seed = forms.IntegerField(
        initial=DEFAULTS.seed,
        help_text="With 1 parallel worker the same seed replays the same run; with more, "
        "workers finish in different orders and runs differ.",
    )
    max_seconds = forms.IntegerField(required=False, label="Wall-time budget (s)")
    target_accuracy = forms.FloatField(required=False, label="Stop at validation accuracy")
    val_size = forms.IntegerField(
        required=False,
        label="Validation images",
        help_text="Held out of the training set of MNIST-format and CIFAR sets "
        "(empty: 5,000). Digits and folders hold out fixed fractions.",
    )

    CONFIG_FIELDS = (
        "dataset",
        "population",
        "workers",
        "steps_per_child",
        "max_individuals",
        "selection",
        "seed",
        "max_seconds",
        "target_accuracy",
        "val_size",
    )

    def __init__(self, *args, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.teams = {str(t.pk): t for t in teams}
        self.fields["team"].choices = [(pk, t.name) for pk, t in self.teams.items()]
        if len(self.teams) <= 1:
            self.fields["team"].widget = forms.HiddenInput()
        entries = list_datasets(settings.EVOLAB_DATA_DIR)
        picker = self.fields["dataset"].widget
        picker.choices = [(e.name, dataset_label(e)) for e in entries]
        picker.unavailable = frozenset(e.name for e in entries if e.state != "ready")
        # The uploads of the teams a run can be created in (uploads.check_for_team).
        mine = uploads.for_teams(teams).order_by("name") if teams else ()
        picker.choices += [(d.config_name, f"{d.name} (upload, {d.team.name}: {d.state})")
                           for d in mine]  # fmt: skip
        picker.unavailable |= {d.config_name for d in mine if d.state != "ready"}

    def clean_team(self):
        value = self.cleaned_data.get("team") or (next(iter(self.teams)) if self.teams else "")
        if value not in self.teams:
            raise forms.ValidationError("Choose one of your teams.")
        return self.teams[value]

    def clean(self):
        data = super().clean()
        raw = {k: data[k] for k in self.CONFIG_FIELDS if data.get(k) is not None}
        try:
            data["config"] = validate_config(raw, settings.EVOLAB_LIMITS)
            uploads.check_for_team(data.get("team"), data["config"].dataset)
            # The files must be there (named if not), val_size must fit the training set.
            check_dataset(data["config"].dataset, data["config"].val_size)
        except ConfigError as exc:
            for field, messages in exc.errors.items():
                self.add_error(field if field in self.fields else None, messages)
        return data
